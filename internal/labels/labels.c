/*
 * labels: Kubernetes' key and value rules, checked by hand (no regex), a sorted array of
 * labels each held in one allocation ("key\0value\0"), and the JSON forms.
 */
#include "labels/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define SHOWN_MAX LABELS_SHOWN_MAX

static const char NAME_RULE[] = "must start and end with a letter or digit, with only letters,"
                                " digits, '-', '_' and '.' between";

void labels_shown(const char *s, size_t n, char *out, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return;
	for (; i < n && s[i] && i < SHOWN_MAX && i + 1 < len; i++)
		out[i] = (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') ? '?' : s[i];
	out[i] = '\0';
	if (i < n && s[i] && i + 4 <= len)
		memcpy(out + i, "...", 4);
}

/* A whole string as it may appear in a message. */
static void shown(const char *s, char *out, size_t len)
{
	labels_shown(s, strlen(s), out, len);
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The name form shared by key names and values: alnum ends, [-_.A-Za-z0-9] between. */
static int name_form(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* A DNS-1123 subdomain: dot-separated parts of [a-z0-9-], each with [a-z0-9] ends. */
static int subdomain_form(const char *s, size_t n)
{
	size_t part = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (part == 0 || !is_lower_alnum(s[i - 1]))
				return 0;
			part = 0;
		} else if (is_lower_alnum(s[i]) || (s[i] == '-' && part > 0)) {
			part++;
		} else {
			return 0;
		}
	}
	return 1;
}

static int key_fail(const char *key, const char *rule, char *err, size_t errlen)
{
	char k[SHOWN_MAX + 4];

	shown(key, k, sizeof(k));
	snprintf(err, errlen, "label key \"%s\": %s", k, rule);
	return CMDB_EINVAL;
}

int labels_check_key(const char *key, char *err, size_t errlen)
{
	const char *slash = strchr(key, '/'), *name = slash ? slash + 1 : key;
	size_t plen = slash ? (size_t)(slash - key) : 0, nlen = strlen(name);

	if (!*key)
		return key_fail(key, "must not be empty", err, errlen);
	if (slash && strchr(name, '/'))
		return key_fail(key, "may hold one '/' at most, between a prefix and a name", err,
		                errlen);
	if (slash && plen == 0)
		return key_fail(key, "the prefix before '/' must not be empty", err, errlen);
	if (plen > LABEL_PREFIX_MAX)
		return key_fail(key, "the prefix before '/' must be at most 253 characters", err,
		                errlen);
	if (slash && !subdomain_form(key, plen))
		return key_fail(key,
		                "the prefix before '/' must be a DNS subdomain: lowercase letters,"
		                " digits, '-' and '.', each part between dots starting and ending"
		                " with a letter or digit",
		                err, errlen);
	if (nlen == 0)
		return key_fail(key, "the name must not be empty", err, errlen);
	if (nlen > LABEL_NAME_MAX)
		return key_fail(key, "the name must be at most 63 characters", err, errlen);
	if (!name_form(name, nlen)) {
		char rule[sizeof(NAME_RULE) + 16];

		snprintf(rule, sizeof(rule), "the name %s", NAME_RULE);
		return key_fail(key, rule, err, errlen);
	}
	return 0;
}

int labels_check_value(const char *key, const char *value, char *err, size_t errlen)
{
	size_t n = strlen(value);
	char k[SHOWN_MAX + 4], v[SHOWN_MAX + 4];

	if (n == 0 || (n <= LABEL_VALUE_MAX && name_form(value, n)))
		return 0;
	shown(key, k, sizeof(k));
	shown(value, v, sizeof(v));
	if (n > LABEL_VALUE_MAX)
		snprintf(err, errlen, "label \"%s\": value \"%s\" must be at most 63 characters", k,
		         v);
	else
		snprintf(err, errlen, "label \"%s\": value \"%s\" must be empty, or %s", k, v,
		         NAME_RULE);
	return CMDB_EINVAL;
}

void labels_free(struct labels *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free((void *)ls->items[i].key);
	free(ls->items);
	ls->items = NULL;
	ls->n = 0;
	ls->alloc = 0;
}

/* Index of key, or -(insertion point) - 1 when absent. */
static long find(const struct labels *ls, const char *key)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ls->items[mid].key, key);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

const char *labels_get(const struct labels *ls, const char *key)
{
	long at = find(ls, key);

	return at >= 0 ? ls->items[at].value : NULL;
}

/* One allocation "key\0value\0", described by l. 0 or CMDB_ENOMEM. */
static int make_label(struct label *l, const char *key, const char *value)
{
	size_t kn = strlen(key), vn = strlen(value);
	char *block = malloc(kn + vn + 2);

	if (!block)
		return CMDB_ENOMEM;
	memcpy(block, key, kn + 1);
	memcpy(block + kn + 1, value, vn + 1);
	l->key = block;
	l->value = block + kn + 1;
	return 0;
}

/* Room for one more label; alloc grows 4, 8, ... up to LABELS_MAX. */
static int reserve(struct labels *ls)
{
	size_t cap = ls->alloc ? ls->alloc * 2 : 4;
	struct label *p;

	if (ls->n < ls->alloc)
		return 0;
	if (cap > LABELS_MAX)
		cap = LABELS_MAX;
	p = realloc(ls->items, cap * sizeof(*p));
	if (!p)
		return CMDB_ENOMEM;
	ls->items = p;
	ls->alloc = cap;
	return 0;
}

static int too_many(char *err, size_t errlen)
{
	snprintf(err, errlen, "a node has at most %d labels", LABELS_MAX);
	return CMDB_EINVAL;
}

int labels_set(struct labels *ls, const char *key, const char *value, char *err, size_t errlen)
{
	struct label l;
	long at;
	int rc;

	if ((rc = labels_check_key(key, err, errlen)) ||
	    (rc = labels_check_value(key, value, err, errlen)))
		return rc;
	at = find(ls, key);
	if (at < 0 && ls->n >= LABELS_MAX)
		return too_many(err, errlen);
	if ((at < 0 && reserve(ls)) || make_label(&l, key, value)) {
		snprintf(err, errlen, "out of memory");
		return CMDB_ENOMEM;
	}
	if (at >= 0) {
		free((void *)ls->items[at].key);
		ls->items[at] = l;
		return 0;
	}
	at = -at - 1;
	memmove(&ls->items[at + 1], &ls->items[at], (ls->n - (size_t)at) * sizeof(l));
	ls->items[at] = l;
	ls->n++;
	return 0;
}

int labels_remove(struct labels *ls, const char *key)
{
	long at = find(ls, key);

	if (at < 0)
		return 0;
	free((void *)ls->items[at].key);
	memmove(&ls->items[at], &ls->items[at + 1],
	        (ls->n - (size_t)at - 1) * sizeof(ls->items[0]));
	ls->n--;
	return 1;
}

int labels_equal(const struct labels *a, const struct labels *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->items[i].key, b->items[i].key) ||
		    strcmp(a->items[i].value, b->items[i].value))
			return 0;
	return 1;
}

int labels_copy(struct labels *dst, const struct labels *src)
{
	labels_free(dst);
	if (src->n == 0)
		return 0;
	dst->items = calloc(src->n, sizeof(*dst->items));
	if (!dst->items)
		return CMDB_ENOMEM;
	dst->alloc = src->n;
	for (; dst->n < src->n; dst->n++) {
		if (make_label(&dst->items[dst->n], src->items[dst->n].key,
		               src->items[dst->n].value)) {
			labels_free(dst);
			return CMDB_ENOMEM;
		}
	}
	return 0;
}

/* A message about one member of a labels object, naming its key. */
static int member_fail(const cJSON *m, const char *want, char *err, size_t errlen)
{
	char k[SHOWN_MAX + 4];

	shown(m->string, k, sizeof(k));
	snprintf(err, errlen, "label \"%s\": %s", k, want);
	return CMDB_EINVAL;
}

int labels_from_json(const cJSON *obj, struct labels *out, char *err, size_t errlen)
{
	int rc = 0;

	labels_free(out);
	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "labels must be a JSON object of string to string");
		return CMDB_EINVAL;
	}
	for (const cJSON *m = obj->child; m && rc == 0; m = m->next) {
		if (!cJSON_IsString(m))
			rc = member_fail(m, "the value must be a string", err, errlen);
		else if (labels_get(out, m->string))
			rc = member_fail(m, "given twice", err, errlen);
		else
			rc = labels_set(out, m->string, m->valuestring, err, errlen);
	}
	if (rc)
		labels_free(out);
	return rc;
}

cJSON *labels_to_json(const struct labels *ls)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < ls->n; i++) {
		cJSON *v = cJSON_CreateString(ls->items[i].value);

		if (!v || !cJSON_AddItemToObject(o, ls->items[i].key, v)) {
			cJSON_Delete(v);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

/* The patch's members are checked first, so that the order of its keys does not matter. */
static int check_patch(const cJSON *patch, char *err, size_t errlen)
{
	int members = 0, rc;

	for (const cJSON *m = patch->child; m; m = m->next) {
		if (++members > 2 * LABELS_MAX) {
			snprintf(err, errlen, "a labels patch names at most %d keys",
			         2 * LABELS_MAX);
			return CMDB_EINVAL;
		}
		if (!cJSON_IsString(m) && !cJSON_IsNull(m))
			return member_fail(m, "must be a string, or null to remove it", err,
			                   errlen);
		if ((rc = labels_check_key(m->string, err, errlen)) ||
		    (cJSON_IsString(m) &&
		     (rc = labels_check_value(m->string, m->valuestring, err, errlen))))
			return rc;
		for (const cJSON *o = patch->child; o != m; o = o->next)
			if (strcmp(o->string, m->string) == 0)
				return member_fail(m, "given twice", err, errlen);
	}
	return 0;
}

int labels_merge_patch(struct labels *ls, const cJSON *patch, char *err, size_t errlen)
{
	struct labels next = LABELS_INIT;
	int rc;

	if (!cJSON_IsObject(patch)) {
		snprintf(err, errlen,
		         "labels must be a JSON object: a string sets a label,"
		         " null removes it");
		return CMDB_EINVAL;
	}
	if ((rc = check_patch(patch, err, errlen)))
		return rc;
	if ((rc = labels_copy(&next, ls))) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	/* Removals first: a patch that removes one label and adds another fits a full set. */
	for (const cJSON *m = patch->child; m; m = m->next)
		if (cJSON_IsNull(m))
			labels_remove(&next, m->string);
	for (const cJSON *m = patch->child; m && rc == 0; m = m->next)
		if (cJSON_IsString(m))
			rc = labels_set(&next, m->string, m->valuestring, err, errlen);
	if (rc) {
		labels_free(&next);
		return rc;
	}
	labels_free(ls);
	*ls = next;
	return 0;
}
