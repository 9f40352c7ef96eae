/*
 * core: status vocabulary, clocks and string helpers shared by every module.
 */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const release_names[RELEASE_STATUS_COUNT] = {
    [RELEASE_PENDING] = "pending",
    [RELEASE_RUNNING] = "running",
    [RELEASE_SUCCESS] = "success",
    [RELEASE_FAILED] = "failed",
};

static const char *const node_names[NODE_STATUS_COUNT] = {
    [NODE_PENDING] = "pending", [NODE_RUNNING] = "running", [NODE_SUCCESS] = "success",
    [NODE_FAILED] = "failed",   [NODE_SKIPPED] = "skipped",
};

static const char *const health_names[NODE_HEALTH_COUNT] = {
    [NODE_ONLINE] = "online",
    [NODE_OFFLINE] = "offline",
};

static int lookup(const char *const *table, int count, const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < count; i++)
		if (strcmp(table[i], name) == 0)
			return i;
	return -1;
}

const char *release_status_name(enum release_status s)
{
	return (unsigned)s < RELEASE_STATUS_COUNT ? release_names[s] : "unknown";
}

int release_status_parse(const char *name)
{
	return lookup(release_names, RELEASE_STATUS_COUNT, name);
}

const char *node_status_name(enum node_status s)
{
	return (unsigned)s < NODE_STATUS_COUNT ? node_names[s] : "unknown";
}

int node_status_parse(const char *name)
{
	return lookup(node_names, NODE_STATUS_COUNT, name);
}

const char *node_health_name(enum node_health h)
{
	return (unsigned)h < NODE_HEALTH_COUNT ? health_names[h] : "unknown";
}

int node_health_parse(const char *name)
{
	return lookup(health_names, NODE_HEALTH_COUNT, name);
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t now_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

void format_db_time(int64_t wall_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03d", (int)(wall_ms % 1000));
}

int db_time_to_rfc3339(const char *src, char *buf, size_t len)
{
	size_t n = strlen(src);
	int w;

	/* "YYYY-MM-DD HH:MM:SS" optionally followed by ".f..." */
	if (n < 19 || src[10] != ' ' || src[4] != '-' || src[13] != ':')
		return -1;
	w = snprintf(buf, len, "%.10sT%sZ", src, src + 11);
	return (w < 0 || (size_t)w >= len) ? -1 : 0;
}

int rfc3339_to_ms(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int ms = 0, n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	if (s[n] == '.' && sscanf(s + n + 1, "%3d", &ms) != 1)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

int json_too_deep(const char *text, size_t len, int max)
{
	int depth = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > max)
				return 1;
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return 0;
}

size_t str_copy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len) {
		size_t c = n < len - 1 ? n : len - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	/* strtoll would skip any white space and take a '+'; a strict number starts here. */
	if (!s || !((*s >= '0' && *s <= '9') || *s == '-'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
