/*
 * validate: request body rules. Numbers must be whole and within range (at most 2^53,
 * what a JSON number holds exactly); strings have length limits and character rules;
 * unknown members are refused so that a typo is not silently ignored.
 */
#include "api/v1/validate.h"

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
	if (!hostname_valid(out->hostname))
		return fail(e, 422, "hostname must be an RFC 1123 host name");
	if (ip_canonical(ip, out->ip, sizeof(out->ip)))
		return fail(e, 422, "ip must be an IPv4 or IPv6 address");
	out->agent_port = (int)port;
	return 0;
}

int api_parse_node_patch(const cJSON *body, struct node_patch_input *out, struct api_error *e)
{
	static const char *const fields[] = {"status", "hostname", "ip", "agent_port", NULL};
	enum node_health health = NODE_ONLINE;
	const char *ip = NULL;
	int64_t port = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->status = -1;
	if (only(body, fields, e))
		return -1;
	if (!body->child)
		return fail(e, 422, "nothing to change: give status, hostname, ip or agent_port");
	if ((rc = get_health(body, &health, e)) < 0)
		return -1;
	if (rc == 0)
		out->status = (int)health;
	if ((rc = get_string(body, "hostname", 253, &out->hostname, e)) < 0)
		return -1;
	if (rc == 0 && !hostname_valid(out->hostname))
		return fail(e, 422, "hostname must be an RFC 1123 host name");
	if ((rc = get_string(body, "ip", 64, &ip, e)) < 0)
		return -1;
	if (rc == 0 && ip_canonical(ip, out->ip, sizeof(out->ip)))
		return fail(e, 422, "ip must be an IPv4 or IPv6 address");
	if (get_int(body, "agent_port", 1, 65535, &port, e) < 0)
		return -1;
	out->agent_port = (int)port;
	return 0;
}

/* 1 absent, 0 present and a boolean, -1 otherwise (e filled). */
static int get_bool(const cJSON *obj, const char *name, int *out, struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!v)
		return 1;
	if (!cJSON_IsBool(v))
		return fail(e, 400, "%s must be true or false", name);
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
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

/* Reads "batches": node counts and "N%" strings, at least one, at most PLAN_STEPS_MAX. */
static int get_batches(const cJSON *body, struct release_plan *plan, struct api_error *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "batches"), *it;
	size_t k = 0;

	if (!arr)
		return 1;
	if (!cJSON_IsArray(arr))
		return fail(e, 400,
		            "batches must be an array of node counts and percentages such as"
		            " [1, 5, \"20%%\"]");
	if (cJSON_GetArraySize(arr) == 0)
		return fail(e, 422, "batches is empty: give at least one batch size");
	if (cJSON_GetArraySize(arr) > PLAN_STEPS_MAX)
		return fail(e, 422, "batches has more than %d entries", PLAN_STEPS_MAX);
	cJSON_ArrayForEach(it, arr)
	{
		struct plan_step *st = &plan->steps[k];

		if (cJSON_IsNumber(it)) {
			double d = it->valuedouble;

			if (!isfinite(d) || d != floor(d))
				return fail(e, 400,
				            "batches[%zu] must be an integer or a percentage", k);
			if (d < 1 || d > API_BATCH_SIZE_MAX)
				return fail(e, 422, "batches[%zu] must be from 1 to %d nodes", k,
				            API_BATCH_SIZE_MAX);
			*st = (struct plan_step){(int)d, 0};
		} else if (cJSON_IsString(it)) {
			const char *v = it->valuestring;
			size_t n = strlen(v);
			char digits[4];
			int64_t pct;

			if (n < 2 || n > 4 || v[n - 1] != '%')
				return fail(
				    e, 422,
				    "batches[%zu] must be a node count or a percentage such as"
				    " \"20%%\"",
				    k);
			memcpy(digits, v, n - 1);
			digits[n - 1] = '\0';
			if (parse_int64(digits, 1, 100, &pct) || digits[0] == '0')
				return fail(e, 422,
				            "batches[%zu] must be a percentage from \"1%%\" to"
				            " \"100%%\"",
				            k);
			*st = (struct plan_step){(int)pct, 1};
		} else {
			return fail(e, 400, "batches[%zu] must be an integer or a percentage", k);
		}
		k++;
	}
	plan->nsteps = k;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Reads "pause_after": distinct batch numbers, sorted here. */
static int get_pauses(const cJSON *body, struct release_plan *plan, struct api_error *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "pause_after"), *it;
	size_t k = 0;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return fail(e, 400, "pause_after must be an array of batch numbers");
	if (cJSON_GetArraySize(arr) == 0)
		return fail(e, 422,
		            "pause_after is empty: name at least one batch, or leave it out");
	if (cJSON_GetArraySize(arr) > PLAN_PAUSES_MAX)
		return fail(e, 422, "pause_after has more than %d entries", PLAN_PAUSES_MAX);
	cJSON_ArrayForEach(it, arr)
	{
		double d = it->valuedouble;

		if (!cJSON_IsNumber(it) || !isfinite(d) || d != floor(d))
			return fail(e, 400, "pause_after[%zu] must be an integer", k);
		if (d < 1 || d > API_NODE_IDS_MAX)
			return fail(e, 422, "pause_after[%zu] must be a batch number from 1 to %d",
			            k, API_NODE_IDS_MAX);
		plan->pause_after[k++] = (int)d;
	}
	qsort(plan->pause_after, k, sizeof(int), cmp_int);
	for (size_t i = 1; i < k; i++)
		if (plan->pause_after[i] == plan->pause_after[i - 1])
			return fail(e, 422, "pause_after names batch %d twice",
			            plan->pause_after[i]);
	plan->npauses = k;
	return 0;
}

/* Reads an RFC 3339 time into *ms; 1 when absent. */
static int get_time(const cJSON *body, const char *name, int64_t *ms, struct api_error *e)
{
	const char *v = NULL;
	int rc = get_string(body, name, 64, &v, e);

	if (rc != 0)
		return rc;
	if (rfc3339_to_ms(v, ms) || *ms <= 0)
		return fail(e, 422, "%s must be an RFC 3339 time such as 2026-11-24T10:00:00Z",
		            name);
	return 0;
}

/* Exactly one of two members may be given: 422 naming both when both are. */
static int one_of(const cJSON *body, const char *a, const char *b, struct api_error *e)
{
	if (cJSON_GetObjectItemCaseSensitive(body, a) && cJSON_GetObjectItemCaseSensitive(body, b))
		return fail(e, 422, "give %s or %s, not both", a, b);
	return 0;
}

/* The plan fields: batches or batch_size, pause_after, the allowance, the schedule. */
static int get_plan(const cJSON *body, int64_t now_ms, struct release_plan *p, struct api_error *e)
{
	int64_t v = 0;
	char err[200];
	int rc;

	if (one_of(body, "batch_size", "batches", e) ||
	    one_of(body, "max_failures", "max_failure_percent", e))
		return -1;
	rc = get_int(body, "batch_size", 1, API_BATCH_SIZE_MAX, &v, e);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		p->batch_size = (int)v;
		p->steps[0] = (struct plan_step){(int)v, 0};
		p->nsteps = 1;
	} else if ((rc = get_batches(body, p, e)) != 0) {
		return rc < 0 ? -1
		              : fail(e, 422,
		                     "batch_size or batches is required (a node count, or a list of"
		                     " counts and percentages)");
	}
	if (get_pauses(body, p, e))
		return -1;
	if ((rc = get_int(body, "max_failures", 0, PLAN_FAILURES_MAX, &v, e)) < 0)
		return -1;
	if (rc == 0)
		p->max_failures = (int)v;
	if ((rc = get_int(body, "max_failure_percent", 0, 100, &v, e)) < 0)
		return -1;
	if (rc == 0)
		p->max_failure_percent = (int)v;
	if (get_time(body, "not_before", &p->not_before_ms, e) < 0 ||
	    get_time(body, "expires_at", &p->expires_at_ms, e) < 0)
		return -1;
	if (plan_check_schedule(p, now_ms, err, sizeof(err)))
		return fail(e, 422, "%s", err);
	return 0;
}

int api_parse_release_create(const cJSON *body, int64_t now_ms, struct release_input *out,
                             struct api_error *e)
{
	static const char *const fields[] = {"version",
	                                     "batch_size",
	                                     "batches",
	                                     "node_ids",
	                                     "pause_after",
	                                     "max_failures",
	                                     "max_failure_percent",
	                                     "not_before",
	                                     "expires_at",
	                                     "auto_rollback",
	                                     "require_approval",
	                                     NULL};

	memset(out, 0, sizeof(*out));
	plan_init(&out->plan);
	out->auto_rollback = -1;
	if (only(body, fields, e) ||
	    require(get_int(body, "version", 1, INT64_MAX, &out->version, e), "version",
	            "a positive integer", e) ||
	    get_plan(body, now_ms, &out->plan, e) || get_node_ids(body, out, e) ||
	    get_bool(body, "auto_rollback", &out->auto_rollback, e) < 0 ||
	    get_bool(body, "require_approval", &out->require_approval, e) < 0) {
		api_release_input_free(out);
		return -1;
	}
	return 0;
}

void api_release_input_free(struct release_input *in)
{
	free(in->node_ids);
	in->node_ids = NULL;
	in->n = 0;
}

int api_parse_decision(const cJSON *body, const char **comment, struct api_error *e)
{
	static const char *const fields[] = {"comment", NULL};

	*comment = NULL;
	if (!body)
		return 0;
	if (only(body, fields, e) || get_string(body, "comment", API_COMMENT_MAX, comment, e) < 0)
		return -1;
	return 0;
}

/* A label's value: NULL when absent, -1 when not a string. */
static int get_label(const cJSON *labels, const char *name, size_t maxlen, const char **out,
                     size_t i, struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, name);

	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return fail(e, 400, "alerts[%zu].labels.%s must be a string", i, name);
	if (strlen(v->valuestring) > maxlen)
		return fail(e, 400, "alerts[%zu].labels.%s is longer than %zu characters", i, name,
		            maxlen);
	*out = v->valuestring;
	return 0;
}

/* Printable ASCII without spaces: what a fingerprint can be and still be shown safely. */
static int printable_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (*s <= 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

static int parse_alert(const cJSON *a, size_t i, struct alert_entry *out, struct api_error *e)
{
	const cJSON *status, *labels, *fp, *starts, *v;
	int64_t ms;

	if (!cJSON_IsObject(a))
		return fail(e, 400, "alerts[%zu] must be an object", i);
	status = cJSON_GetObjectItemCaseSensitive(a, "status");
	labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
	fp = cJSON_GetObjectItemCaseSensitive(a, "fingerprint");
	starts = cJSON_GetObjectItemCaseSensitive(a, "startsAt");
	if (!cJSON_IsString(status) || (strcmp(status->valuestring, "firing") != 0 &&
	                                strcmp(status->valuestring, "resolved") != 0))
		return fail(e, 400, "alerts[%zu].status must be \"firing\" or \"resolved\"", i);
	if (!cJSON_IsObject(labels))
		return fail(e, 400, "alerts[%zu].labels must be an object of strings", i);
	for (v = labels->child; v; v = v->next)
		if (!cJSON_IsString(v))
			return fail(e, 400, "alerts[%zu].labels must be an object of strings", i);
	if (!cJSON_IsString(fp) || !printable_token(fp->valuestring, 128))
		return fail(e, 400, "alerts[%zu].fingerprint must be 1 to 128 printable characters",
		            i);
	if (!cJSON_IsString(starts) || strlen(starts->valuestring) > 64 ||
	    rfc3339_to_ms(starts->valuestring, &ms))
		return fail(e, 400, "alerts[%zu].startsAt must be an RFC 3339 time", i);
	out->status = status->valuestring;
	out->fingerprint = fp->valuestring;
	out->starts_at = starts->valuestring;
	if (get_label(labels, "alertname", 255, &out->alertname, i, e) ||
	    get_label(labels, "release_id", 64, &out->release_label, i, e))
		return -1;
	return 0;
}

int api_parse_alerts(const cJSON *body, struct alert_entry **out, size_t *n, struct api_error *e)
{
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(body, "version");
	const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(body, "alerts"), *a;
	size_t count, i = 0;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsString(version) || strcmp(version->valuestring, "4") != 0)
		return fail(e, 400,
		            "version must be \"4\": this is Alertmanager's webhook payload,"
		            " version 4");
	if (!cJSON_IsArray(alerts))
		return fail(e, 400, "alerts must be an array of alerts");
	count = (size_t)cJSON_GetArraySize(alerts);
	if (count > API_ALERTS_MAX)
		return fail(e, 400, "alerts has %zu entries; at most %d per request", count,
		            API_ALERTS_MAX);
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return fail(e, 500, "out of memory");
	cJSON_ArrayForEach(a, alerts)
	{
		if (parse_alert(a, i, &(*out)[i], e)) {
			free(*out);
			*out = NULL;
			return -1;
		}
		i++;
	}
	*n = i;
	return 0;
}
