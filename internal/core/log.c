/*
 * log: formats a whole record into one buffer and writes it with a single write(2),
 * so lines from concurrent threads never interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define MSG_MAX_BYTES  2048

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_set_format(enum log_format f)
{
	format = f;
}

size_t log_json_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[7];
		size_t k = 0;

		if (ch == '"' || ch == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)ch;
		} else if (ch == '\n' || ch == '\t' || ch == '\r') {
			esc[k++] = '\\';
			esc[k++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
		} else if (ch < 0x20 || ch >= 0x7f) {
			/* Control and non-ASCII bytes as \u00XX: the line stays valid JSON. */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			k = 6;
		} else {
			esc[k++] = (char)ch;
		}
		if (n + k < len)
			memcpy(out + n, esc, k);
		n += k;
	}
	if (len)
		out[n < len ? n : len - 1] = '\0';
	return n;
}

/* Appends to line at *n what snprintf would, never past cap. */
static void add(char *line, size_t *n, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(char *line, size_t *n, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= cap)
		return;
	va_start(ap, fmt);
	w = vsnprintf(line + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (w > 0)
		*n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

static void vlog(enum log_level level, const char *component, int64_t release_id, int64_t node_id,
                 const char *fmt, va_list ap)
{
	char line[LINE_MAX_BYTES], msg[MSG_MAX_BYTES], esc[MSG_MAX_BYTES * 2], stamp[40];
	struct timespec ts;
	struct tm tm;
	size_t n = 0, cap = sizeof(line) - 1;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (format == LOG_JSON) {
		log_json_escape(msg, esc, sizeof(esc));
		add(line, &n, cap, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"module\":\"%s\"",
		    stamp, ts.tv_nsec / 1000000L, level_names[level], component);
		if (release_id)
			add(line, &n, cap, ",\"release_id\":%lld", (long long)release_id);
		if (node_id)
			add(line, &n, cap, ",\"node_id\":%lld", (long long)node_id);
		add(line, &n, cap, ",\"msg\":\"%s\"}", esc);
		/* A line cut short would not be JSON: end it properly whatever it held. */
		if (n >= cap - 1)
			n = (size_t)snprintf(line, cap,
			                     "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\","
			                     "\"module\":\"%s\",\"msg\":\"(record too long)\"}",
			                     stamp, ts.tv_nsec / 1000000L, level_names[level],
			                     component);
	} else {
		add(line, &n, cap, "%s.%03ldZ %s %s: %s", stamp, ts.tv_nsec / 1000000L,
		    level_names[level], component, msg);
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_rel(enum log_level level, const char *component, int64_t release_id, int64_t node_id,
             const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, component, release_id, node_id, fmt, ap);
	va_end(ap);
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, component, 0, 0, fmt, ap);
	va_end(ap);
}
