/*
 * validate: request body rules. Numbers must be whole and within range (at most 2^53,
 * what a JSON number holds exactly); strings have length limits and character rules;
 * unknown members are refused so that a typo is not silently ignored.
 */
#include "api/v1/validate.h"
#include "api/v1/validate_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int validate_fail(struct api_error *e, int status, const char *fmt, ...)
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
		return validate_fail(e, 400, "JSON nested deeper than %d levels",
		                     API_JSON_DEPTH_MAX);
	if (cJSON_IsObject(item)) {
		int members = 0;

		/* Bounds the pairwise name check below: our objects have a handful of fields. */
		for (a = item->child; a; a = a->next)
			if (++members > API_OBJECT_MEMBERS_MAX)
				return validate_fail(e, 400,
				                     "JSON object with more than %d members",
				                     API_OBJECT_MEMBERS_MAX);
		for (a = item->child; a; a = a->next) {
			for (b = a->next; b; b = b->next) {
				if (strcmp(a->string, b->string) == 0) {
					char name[41];

					shown_name(a->string, name, sizeof(name));
					return validate_fail(e, 400, "member \"%s\" given twice",
					                     name);
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
		return validate_fail(e, 400, "request body is empty; a JSON object is required");
	if (json_too_deep(buf, len, API_JSON_DEPTH_MAX))
		return validate_fail(e, 400, "JSON nested deeper than %d levels",
		                     API_JSON_DEPTH_MAX);
	*doc = cJSON_ParseWithLength(buf, len);
	if (!*doc)
		return validate_fail(e, 400, "request body is not valid JSON");
	if (!cJSON_IsObject(*doc)) {
		validate_fail(e, 400, "request body must be a JSON object");
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

int validate_only(const cJSON *obj, const char *const *allowed, struct api_error *e)
{
	for (const cJSON *m = obj->child; m; m = m->next) {
		size_t i = 0;

		while (allowed[i] && strcmp(allowed[i], m->string) != 0)
			i++;
		if (!allowed[i]) {
			char name[41];

			shown_name(m->string, name, sizeof(name));
			return validate_fail(e, 400, "unknown field \"%s\"", name);
		}
	}
	return 0;
}

/* 1 absent, 0 present and valid, -1 invalid (e filled). */
int validate_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out,
                 struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	double d;

	if (!v)
		return 1;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble != floor(v->valuedouble))
		return validate_fail(e, 400, "%s must be an integer", name);
	d = v->valuedouble;
	if (max > JSON_INT_MAX)
		max = JSON_INT_MAX;
	if (d < (double)min || d > (double)max)
		return validate_fail(e, 422, "%s must be from %lld to %lld", name, (long long)min,
		                     (long long)max);
	*out = (int64_t)d;
	return 0;
}

int validate_string(const cJSON *obj, const char *name, size_t maxlen, const char **out,
                    struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!v)
		return 1;
	if (!cJSON_IsString(v))
		return validate_fail(e, 400, "%s must be a string", name);
	if (strlen(v->valuestring) > maxlen)
		return validate_fail(e, 422, "%s is longer than %zu characters", name, maxlen);
	*out = v->valuestring;
	return 0;
}

int validate_require(int rc, const char *name, const char *what, struct api_error *e)
{
	if (rc == 1)
		return validate_fail(e, 422, "%s is required (%s)", name, what);
	return rc;
}

/* Optional "status": online|offline. */
static int get_health(const cJSON *body, enum node_health *out, struct api_error *e)
{
	const char *s = NULL;
	int rc = validate_string(body, "status", 16, &s, e), h;

	if (rc != 0)
		return rc;
	h = node_health_parse(s);
	if (h < 0)
		return validate_fail(e, 422, "status must be \"online\" or \"offline\"");
	*out = (enum node_health)h;
	return 0;
}

/* Optional "labels" of a new node: an object of string to string, by the label rules. */
static int get_labels(const cJSON *body, struct labels *out, struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "labels");
	char err[LABELS_ERR_MAX];
	int rc;

	if (!v)
		return 0;
	if (!cJSON_IsObject(v))
		return validate_fail(e, 400, "labels must be an object of label keys to values");
	rc = labels_from_json(v, out, err, sizeof(err));
	if (rc)
		return validate_fail(e, rc == CMDB_ENOMEM ? 500 : 422, "%s", err);
	return 0;
}

int api_parse_node_create(const cJSON *body, struct node_input *out, struct api_error *e)
{
	static const char *const fields[] = {"hostname", "ip",     "agent_port",
	                                     "status",   "labels", NULL};
	const char *ip = NULL;
	int64_t port = 8443;

	memset(out, 0, sizeof(*out));
	out->status = NODE_ONLINE;
	if (validate_only(body, fields, e) ||
	    validate_require(validate_string(body, "hostname", 253, &out->hostname, e), "hostname",
	                     "an RFC 1123 host name", e) ||
	    validate_require(validate_string(body, "ip", 64, &ip, e), "ip",
	                     "an IPv4 or IPv6 address", e) ||
	    validate_int(body, "agent_port", 1, 65535, &port, e) < 0 ||
	    get_health(body, &out->status, e) < 0)
		return -1;
	if (!hostname_valid(out->hostname))
		return validate_fail(e, 422, "hostname must be an RFC 1123 host name");
	if (ip_canonical(ip, out->ip, sizeof(out->ip)))
		return validate_fail(e, 422, "ip must be an IPv4 or IPv6 address");
	out->agent_port = (int)port;
	return get_labels(body, &out->labels, e);
}

void api_node_input_free(struct node_input *in)
{
	labels_free(&in->labels);
}

/*
 * Optional "labels" of a PATCH: a merge patch. Its keys, values and member types are
 * checked by applying it to an empty set; what it does to the node's own set (the
 * count of 64) is for the store to find.
 */
static int get_label_patch(const cJSON *body, const cJSON **out, struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "labels");
	struct labels scratch = LABELS_INIT;
	char err[LABELS_ERR_MAX];
	int rc;

	if (!v)
		return 0;
	if (!cJSON_IsObject(v))
		return validate_fail(
		    e, 400,
		    "labels must be an object: a key with a string sets that label, a"
		    " key with null removes it");
	rc = labels_merge_patch(&scratch, v, err, sizeof(err));
	labels_free(&scratch);
	if (rc)
		return validate_fail(e, rc == CMDB_ENOMEM ? 500 : 422, "%s", err);
	*out = v;
	return 0;
}

int api_parse_node_patch(const cJSON *body, struct node_patch_input *out, struct api_error *e)
{
	static const char *const fields[] = {"status",     "hostname", "ip",
	                                     "agent_port", "labels",   NULL};
	enum node_health health = NODE_ONLINE;
	const char *ip = NULL;
	int64_t port = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->status = -1;
	if (validate_only(body, fields, e))
		return -1;
	if (!body->child)
		return validate_fail(e, 422,
		                     "nothing to change: give status, hostname, ip, agent_port or"
		                     " labels");
	if ((rc = get_health(body, &health, e)) < 0)
		return -1;
	if (rc == 0)
		out->status = (int)health;
	if ((rc = validate_string(body, "hostname", 253, &out->hostname, e)) < 0)
		return -1;
	if (rc == 0 && !hostname_valid(out->hostname))
		return validate_fail(e, 422, "hostname must be an RFC 1123 host name");
	if ((rc = validate_string(body, "ip", 64, &ip, e)) < 0)
		return -1;
	if (rc == 0 && ip_canonical(ip, out->ip, sizeof(out->ip)))
		return validate_fail(e, 422, "ip must be an IPv4 or IPv6 address");
	if (validate_int(body, "agent_port", 1, 65535, &port, e) < 0)
		return -1;
	out->agent_port = (int)port;
	return get_label_patch(body, &out->labels, e);
}

/* 1 absent, 0 present and a boolean, -1 otherwise (e filled). */
int validate_bool(const cJSON *obj, const char *name, int *out, struct api_error *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!v)
		return 1;
	if (!cJSON_IsBool(v))
		return validate_fail(e, 400, "%s must be true or false", name);
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
}

/* Exactly one of two members may be given: 422 naming both when both are. */
int validate_one_of(const cJSON *body, const char *a, const char *b, struct api_error *e)
{
	if (cJSON_GetObjectItemCaseSensitive(body, a) && cJSON_GetObjectItemCaseSensitive(body, b))
		return validate_fail(e, 422, "give %s or %s, not both", a, b);
	return 0;
}

int api_parse_decision(const cJSON *body, const char **comment, struct api_error *e)
{
	static const char *const fields[] = {"comment", NULL};

	*comment = NULL;
	if (!body)
		return 0;
	if (validate_only(body, fields, e) ||
	    validate_string(body, "comment", API_COMMENT_MAX, comment, e) < 0)
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
		return validate_fail(e, 400, "alerts[%zu].labels.%s must be a string", i, name);
	if (strlen(v->valuestring) > maxlen)
		return validate_fail(e, 400, "alerts[%zu].labels.%s is longer than %zu characters",
		                     i, name, maxlen);
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
		return validate_fail(e, 400, "alerts[%zu] must be an object", i);
	status = cJSON_GetObjectItemCaseSensitive(a, "status");
	labels = cJSON_GetObjectItemCaseSensitive(a, "labels");
	fp = cJSON_GetObjectItemCaseSensitive(a, "fingerprint");
	starts = cJSON_GetObjectItemCaseSensitive(a, "startsAt");
	if (!cJSON_IsString(status) || (strcmp(status->valuestring, "firing") != 0 &&
	                                strcmp(status->valuestring, "resolved") != 0))
		return validate_fail(e, 400,
		                     "alerts[%zu].status must be \"firing\" or \"resolved\"", i);
	if (!cJSON_IsObject(labels))
		return validate_fail(e, 400, "alerts[%zu].labels must be an object of strings", i);
	for (v = labels->child; v; v = v->next)
		if (!cJSON_IsString(v))
			return validate_fail(e, 400,
			                     "alerts[%zu].labels must be an object of strings", i);
	if (!cJSON_IsString(fp) || !printable_token(fp->valuestring, 128))
		return validate_fail(
		    e, 400, "alerts[%zu].fingerprint must be 1 to 128 printable characters", i);
	if (!cJSON_IsString(starts) || strlen(starts->valuestring) > 64 ||
	    rfc3339_to_ms(starts->valuestring, &ms))
		return validate_fail(e, 400, "alerts[%zu].startsAt must be an RFC 3339 time", i);
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
		return validate_fail(
		    e, 400,
		    "version must be \"4\": this is Alertmanager's webhook payload,"
		    " version 4");
	if (!cJSON_IsArray(alerts))
		return validate_fail(e, 400, "alerts must be an array of alerts");
	count = (size_t)cJSON_GetArraySize(alerts);
	if (count > API_ALERTS_MAX)
		return validate_fail(e, 400, "alerts has %zu entries; at most %d per request",
		                     count, API_ALERTS_MAX);
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return validate_fail(e, 500, "out of memory");
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
