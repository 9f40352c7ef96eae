/*
 * validate: request body rules. Numbers must be whole and within range (at most 2^53,
 * what a JSON number holds exactly); strings have length limits and character rules;
 * unknown members are refused so that a typo is not silently ignored.
 */
#include "api/v1/validate.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_INT_MAX 9007199254740991LL /* 2^53 - 1 */

static int fail(struct api_error *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct api_error *e, int status, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A member name safe to echo back: printable ASCII, quotes replaced, at most 40 chars. */
static void shown_name(const char *name, char *out, size_t len)
{
	str_copy(out, name, len < 41 ? len : 41);
	for (char *p = out; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			*p = '?';
}

static int check_tree(const cJSON *item, int depth, struct api_error *e)
{
	const cJSON *a, *b;

	if (depth > API_JSON_DEPTH_MAX)
		return fail(e, 400, "JSON nested deeper than %d levels", API_JSON_DEPTH_MAX);
	if (cJSON_IsObject(item)) {
		int members = 0;

		/* Bounds the pairwise name check below: our objects have a handful of fields. */
		for (a = item->child; a; a = a->next)
			if (++members > API_OBJECT_MEMBERS_MAX)
				return fail(e, 400, "JSON object with more than %d members",
				            API_OBJECT_MEMBERS_MAX);
		for (a = item->child; a; a = a->next) {
			for (b = a->next; b; b = b->next) {
				if (strcmp(a->string, b->string) == 0) {
					char name[41];

					shown_name(a->string, name, sizeof(name));
					return fail(e, 400, "member \"%s\" given twice", name);
				}
			}
		}
	}
	for (a = item->child; a; a = a->next)
		if (check_tree(a, depth + 1, e))
			return -1;
	return 0;
}

int api_parse_object(const char *buf, size_t len, cJSON **doc, struct api_error *e)
{
	*doc = NULL;
	if (len == 0)
		return fail(e, 400, "request body is empty; a JSON object is required");
	if (json_too_deep(buf, len, API_JSON_DEPTH_MAX))
		return fail(e, 400, "JSON nested deeper than %d levels", API_JSON_DEPTH_MAX);
	*doc = cJSON_ParseWithLength(buf, len);
	if (!*doc)
		return fail(e, 400, "request body is not valid JSON");
	if (!cJSON_IsObject(*doc)) {
		fail(e, 400, "request body must be a JSON object");
		goto bad;
	}
	if (check_tree(*doc, 1, e))
		goto bad;
	return 0;
bad:
	cJSON_Delete(*doc);
	*doc = NULL;
	return -1;
}

static int only(const cJSON *obj, const char *const *allowed, struct api_error *e)
{
	for (const cJSON *m = obj->child; m; m = m->next) {
		size_t i = 0;

		while (allowed[i] && strcmp(allowed[i], m->string) != 0)
			i++;
		if (!allowed[i]) {
			char name[41];

			shown_name(m->string, name, sizeof(name));
			return fail(e, 400, "unknown field \"%s\"", name);
		}
	}
	return 0;
}

/* 1 absent, 0 present and valid, -1 invalid (e filled). */
static int get_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out,
                   struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	double d;

	if (!v)
		return 1;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble != floor(v->valuedouble))
		return fail(e, 400, "%s must be an integer", name);
	d = v->valuedouble;
	if (max > JSON_INT_MAX)
		max = JSON_INT_MAX;
	if (d < (double)min || d > (double)max)
		return fail(e, 422, "%s must be from %lld to %lld", name, (long long)min,
		            (long long)max);
	*out = (int64_t)d;
	return 0;
}

static int get_string(const cJSON *obj, const char *name, size_t maxlen, const char **out,
                      struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!v)
		return 1;
	if (!cJSON_IsString(v))
		return fail(e, 400, "%s must be a string", name);
	if (strlen(v->valuestring) > maxlen)
		return fail(e, 422, "%s is longer than %zu characters", name, maxlen);
	*out = v->valuestring;
	return 0;
}

static int require(int rc, const char *name, const char *what, struct api_error *e)
{
	if (rc == 1)
		return fail(e, 422, "%s is required (%s)", name, what);
	return rc;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
static int valid_hostname(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Accepts an IPv4 or IPv6 literal and writes its canonical form. */
static int canonical_ip(const char *s, char *out, size_t len)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, s, addr) == 1)
		return inet_ntop(AF_INET, addr, out, (socklen_t)len) ? 0 : -1;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return inet_ntop(AF_INET6, addr, out, (socklen_t)len) ? 0 : -1;
	return -1;
}

/* Optional "status": online|offline. */
static int get_health(const cJSON *body, enum node_health *out, struct api_error *e)
{
	const char *s = NULL;
	int rc = get_string(body, "status", 16, &s, e), h;

	if (rc != 0)
		return rc;
	h = node_health_parse(s);
	if (h < 0)
		return fail(e, 422, "status must be \"online\" or \"offline\"");
	*out = (enum node_health)h;
	return 0;
}

int api_parse_node_create(const cJSON *body, struct node_input *out, struct api_error *e)
{
	static const char *const fields[] = {"hostname", "ip", "agent_port", "status", NULL};
	const char *ip = NULL;
	int64_t port = 8443;

	memset(out, 0, sizeof(*out));
	out->status = NODE_ONLINE;
	if (only(body, fields, e) ||
	    require(get_string(body, "hostname", 253, &out->hostname, e), "hostname",
	            "an RFC 1123 host name", e) ||
	    require(get_string(body, "ip", 64, &ip, e), "ip", "an IPv4 or IPv6 address", e) ||
	    get_int(body, "agent_port", 1, 65535, &port, e) < 0 ||
	    get_health(body, &out->status, e) < 0)
		return -1;
	if (!valid_hostname(out->hostname))
		return fail(e, 422, "hostname must be an RFC 1123 host name");
	if (canonical_ip(ip, out->ip, sizeof(out->ip)))
		return fail(e, 422, "ip must be an IPv4 or IPv6 address");
	out->agent_port = (int)port;
	return 0;
}

int api_parse_node_patch(const cJSON *body, enum node_health *out, struct api_error *e)
{
	static const char *const fields[] = {"status", NULL};

	if (only(body, fields, e))
		return -1;
	return require(get_health(body, out, e), "status", "\"online\" or \"offline\"", e);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int get_node_ids(const cJSON *body, struct release_input *out, struct api_error *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "node_ids"), *it;
	int64_t *sorted = NULL;
	size_t count, k = 0;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return fail(e, 400, "node_ids must be an array of node ids");
	count = (size_t)cJSON_GetArraySize(arr);
	if (count == 0)
		return fail(e, 422,
		            "node_ids is empty: name at least one node, or leave it out"
		            " to release to every online node");
	if (count > API_NODE_IDS_MAX)
		return fail(e, 422, "node_ids has %zu entries; at most %d", count,
		            API_NODE_IDS_MAX);
	out->node_ids = calloc(count, sizeof(*out->node_ids));
	sorted = calloc(count, sizeof(*sorted));
	if (!out->node_ids || !sorted) {
		free(sorted);
		return fail(e, 500, "out of memory");
	}
	cJSON_ArrayForEach(it, arr)
	{
		double d = it->valuedouble;

		if (!cJSON_IsNumber(it) || !isfinite(d) || d != floor(d)) {
			fail(e, 400, "node_ids[%zu] must be an integer", k);
			goto bad;
		}
		if (d < 1 || d > (double)JSON_INT_MAX) {
			fail(e, 422, "node_ids[%zu] must be a positive node id", k);
			goto bad;
		}
		out->node_ids[k] = sorted[k] = (int64_t)d;
		k++;
	}
	qsort(sorted, k, sizeof(*sorted), cmp_id);
	for (size_t i = 1; i < k; i++) {
		if (sorted[i] == sorted[i - 1]) {
			fail(e, 422, "node_ids lists node %lld twice", (long long)sorted[i]);
			goto bad;
		}
	}
	free(sorted);
	out->n = k;
	return 0;
bad:
	free(sorted);
	return -1;
}

int api_parse_release_create(const cJSON *body, struct release_input *out, struct api_error *e)
{
	static const char *const fields[] = {"version", "batch_size", "node_ids", NULL};
	int64_t batch = 0;

	memset(out, 0, sizeof(*out));
	if (only(body, fields, e) ||
	    require(get_int(body, "version", 1, INT64_MAX, &out->version, e), "version",
	            "a positive integer", e) ||
	    require(get_int(body, "batch_size", 1, API_BATCH_SIZE_MAX, &batch, e), "batch_size",
	            "a positive integer", e) ||
	    get_node_ids(body, out, e)) {
		api_release_input_release(out);
		return -1;
	}
	out->batch_size = (int)batch;
	return 0;
}

void api_release_input_release(struct release_input *in)
{
	free(in->node_ids);
	in->node_ids = NULL;
	in->n = 0;
}
