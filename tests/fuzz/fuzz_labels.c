/*
 * fuzz_labels: libFuzzer harness for internal/labels: any bytes, as a key and a value,
 * and as JSON. An accepted key or value has the form labels.h states; a set read from
 * JSON is sorted, distinct, at most 64 labels, and reads back the same from its JSON;
 * a merge patch either fails and changes nothing, or sets what it names with a string,
 * removes what it names with null and keeps every other label.
 */
#include <assert.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "labels/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* A message that is there and was not cut to fit its buffer. */
static int whole(const char *msg, size_t size)
{
	return *msg && strlen(msg) + 1 < size;
}

/* What an accepted key or value must look like, checked the plain way. */
static void check_strings(const char *s)
{
	char err[LABELS_ERR_MAX];
	const char *slash = strchr(s, '/'), *name = slash ? slash + 1 : s;

	if (labels_check_key(s, err, sizeof(err)) == 0) {
		assert(strlen(name) >= 1 && strlen(name) <= LABEL_NAME_MAX);
		assert(!slash || (slash > s && (size_t)(slash - s) <= LABEL_PREFIX_MAX));
		for (const char *c = name; *c; c++)
			assert(name_char(*c));
		for (const char *c = s; c < (slash ? slash : s); c++)
			assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
			       *c == '.');
	} else {
		assert(whole(err, sizeof(err)));
	}
	if (labels_check_value("k", s, err, sizeof(err)) == 0) {
		assert(strlen(s) <= LABEL_VALUE_MAX);
		for (const char *c = s; *c; c++)
			assert(name_char(*c));
	}
	/* The longest messages: a bad value under a long bad key. */
	if (labels_check_value(s, s, err, sizeof(err)))
		assert(whole(err, sizeof(err)));
}

static void check_set(const struct labels *ls)
{
	char err[LABELS_ERR_MAX];

	assert(ls->n <= LABELS_MAX);
	for (size_t i = 0; i < ls->n; i++) {
		assert(labels_check_key(ls->items[i].key, err, sizeof(err)) == 0);
		assert(labels_check_value(ls->items[i].key, ls->items[i].value, err, sizeof(err)) ==
		       0);
		assert(i == 0 || strcmp(ls->items[i - 1].key, ls->items[i].key) < 0);
		assert(labels_get(ls, ls->items[i].key) == ls->items[i].value);
	}
}

static void check_read(const cJSON *doc)
{
	struct labels ls = LABELS_INIT, back = LABELS_INIT;
	char err[LABELS_ERR_MAX];
	cJSON *json;

	if (labels_from_json(doc, &ls, err, sizeof(err))) {
		assert(ls.n == 0 && *err);
		return;
	}
	check_set(&ls);
	json = labels_to_json(&ls);
	assert(json && labels_from_json(json, &back, err, sizeof(err)) == 0);
	assert(labels_equal(&ls, &back));
	cJSON_Delete(json);
	labels_free(&ls);
	labels_free(&back);
}

static void check_patch(const cJSON *patch)
{
	static const char *const keys[] = {"env", "zone", "example.com/role"};
	struct labels ls = LABELS_INIT, before = LABELS_INIT;
	char err[LABELS_ERR_MAX];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert(labels_set(&ls, keys[i], "a", err, sizeof(err)) == 0);
	assert(labels_copy(&before, &ls) == 0);
	if (labels_merge_patch(&ls, patch, err, sizeof(err))) {
		assert(labels_equal(&ls, &before) && *err);
	} else {
		check_set(&ls);
		for (const cJSON *m = patch->child; m; m = m->next) {
			const char *v = labels_get(&ls, m->string);

			assert(cJSON_IsNull(m) ? !v : v && strcmp(v, m->valuestring) == 0);
		}
		for (size_t i = 0; i < before.n; i++)
			if (!cJSON_GetObjectItemCaseSensitive(patch, before.items[i].key))
				assert(strcmp(labels_get(&ls, before.items[i].key), "a") == 0);
	}
	labels_free(&ls);
	labels_free(&before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	cJSON *doc;

	assert(s);
	memcpy(s, data, size);
	s[size] = '\0';
	check_strings(s);
	if (!json_too_deep((const char *)data, size, 8)) {
		doc = cJSON_ParseWithLength((const char *)data, size);
		check_read(doc);
		if (cJSON_IsObject(doc))
			check_patch(doc);
		cJSON_Delete(doc);
	}
	free(s);
	return 0;
}
