/*
 * Unit tests of labels: Kubernetes' key and value rules (its own cases from
 * apimachinery's pkg/api/validate/content/kube_test.go, restated as data), the set, its
 * JSON forms and the merge patch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "labels/labels.h"

static char *repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_keys_like_kubernetes(void **state)
{
	static const char *const good[] = {
	    "simple",
	    "now-with-dashes",
	    "1-starts-with-num",
	    "1234",
	    "simple/simple",
	    "now-with-dashes/simple",
	    "now-with-dashes/now-with-dashes",
	    "now.with.dots/simple",
	    "now-with.dashes-and.dots/simple",
	    "1-num.2-num/3-num",
	    "1234/5678",
	    "1.2.3.4/5678",
	    "Uppercase_Is_OK_123",
	    "example.com/Uppercase_Is_OK_123",
	    "requests.storage-foo",
	};
	static const char *const bad[] = {
	    "nospecialchars%^=@",
	    "cantendwithadash-",
	    "-cantstartwithadash-",
	    "only/one/slash",
	    "Example.com/abc",
	    "example_com/abc",
	    "example.com/",
	    "/simple",
	    "",
	    "a..b/c",
	    "a-/b",
	    ".a/b",
	    "a b",
	    "k\xc3\xa9y",
	};
	char err[LABELS_ERR_MAX], buf[400];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (labels_check_key(good[i], err, sizeof(err)))
			fail_msg("key \"%s\" refused: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (labels_check_key(bad[i], err, sizeof(err)) != CMDB_EINVAL)
			fail_msg("key \"%s\" accepted", bad[i]);
	/* The limits: a name of 63, a prefix of 253. */
	assert_int_equal(labels_check_key(repeat(buf, 'a', 63), err, sizeof(err)), 0);
	assert_int_equal(labels_check_key(repeat(buf, 'a', 64), err, sizeof(err)), CMDB_EINVAL);
	repeat(buf, 'a', 253);
	buf[253] = '/';
	repeat(buf + 254, 'b', 63);
	assert_int_equal(labels_check_key(buf, err, sizeof(err)), 0);
	repeat(buf, 'a', 254);
	memcpy(buf + 254, "/abc", 5);
	assert_int_equal(labels_check_key(buf, err, sizeof(err)), CMDB_EINVAL);
}

static void test_values_like_kubernetes(void **state)
{
	static const char *const good[] = {
	    "simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "",
	    "a",      "A_b.C-9",
	};
	static const char *const bad[] = {
	    "nospecialchars%^=@",
	    "Tama-nui-te-r\xc4\x81.is.M\xc4\x81ori.sun",
	    "\\backslashes\\are\\bad",
	    "-starts-with-dash",
	    "ends-with-dash-",
	    ".starts.with.dot",
	    "ends.with.dot.",
	    "a b",
	    "_a",
	};
	char err[LABELS_ERR_MAX], buf[80];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (labels_check_value("k", good[i], err, sizeof(err)))
			fail_msg("value \"%s\" refused: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (labels_check_value("k", bad[i], err, sizeof(err)) != CMDB_EINVAL)
			fail_msg("value \"%s\" accepted", bad[i]);
	assert_int_equal(labels_check_value("k", repeat(buf, 'a', 63), err, sizeof(err)), 0);
	assert_int_equal(labels_check_value("k", repeat(buf, 'a', 64), err, sizeof(err)),
	                 CMDB_EINVAL);
}

/* Each message names what is wrong and the rule; what it echoes is safe to print. */
static void test_messages(void **state)
{
	static const struct {
		const char *key, *want;
	} keys[] = {
	    {"", "label key \"\": must not be empty"},
	    {"a/b/c", "label key \"a/b/c\": may hold one '/' at most, between a prefix and a name"},
	    {"/x", "label key \"/x\": the prefix before '/' must not be empty"},
	    {"Example.com/x", "label key \"Example.com/x\": the prefix before '/' must be a DNS"
	                      " subdomain: lowercase letters, digits, '-' and '.', each part"
	                      " between dots starting and ending with a letter or digit"},
	    {"example.com/", "label key \"example.com/\": the name must not be empty"},
	    {"zone-", "label key \"zone-\": the name must start and end with a letter or digit,"
	              " with only letters, digits, '-', '_' and '.' between"},
	    {"a\"b\\c\n", "label key \"a?b?c?\": the name must start and end with a letter or"
	                  " digit, with only letters, digits, '-', '_' and '.' between"},
	};
	char err[LABELS_ERR_MAX], buf[400], want[480];

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_int_equal(labels_check_key(keys[i].key, err, sizeof(err)), CMDB_EINVAL);
		assert_string_equal(err, keys[i].want);
	}
	repeat(buf, 'a', 70);
	assert_int_equal(labels_check_key(buf, err, sizeof(err)), CMDB_EINVAL);
	snprintf(want, sizeof(want),
	         "label key \"%.64s...\": the name must be at most 63"
	         " characters",
	         buf);
	assert_string_equal(err, want);
	repeat(buf, 'a', 254);
	buf[254] = '/';
	buf[255] = 'b';
	buf[256] = '\0';
	assert_int_equal(labels_check_key(buf, err, sizeof(err)), CMDB_EINVAL);
	assert_non_null(strstr(err, "the prefix before '/' must be at most 253 characters"));
	assert_int_equal(labels_check_value("zone", "-a", err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(err, "label \"zone\": value \"-a\" must be empty, or must start and"
	                         " end with a letter or digit, with only letters, digits, '-',"
	                         " '_' and '.' between");
	/* The longest message, a long bad value of a long key, fits whole. */
	repeat(buf, '-', 100);
	repeat(want, '-', 63);
	assert_int_equal(labels_check_value(buf, want, err, sizeof(err)), CMDB_EINVAL);
	assert_non_null(strstr(err, "'_' and '.' between"));
	assert_int_equal(labels_check_value("zone", repeat(buf, 'b', 64), err, sizeof(err)),
	                 CMDB_EINVAL);
	snprintf(want, sizeof(want), "label \"zone\": value \"%s\" must be at most 63 characters",
	         buf);
	assert_string_equal(err, want);
}

static void assert_sorted(const struct labels *ls)
{
	for (size_t i = 1; i < ls->n; i++)
		assert_true(strcmp(ls->items[i - 1].key, ls->items[i].key) < 0);
}

static void test_set(void **state)
{
	struct labels ls = LABELS_INIT, other = LABELS_INIT;
	char err[LABELS_ERR_MAX], key[16];

	(void)state;
	assert_int_equal(labels_set(&ls, "zone", "a", err, sizeof(err)), 0);
	assert_int_equal(labels_set(&ls, "env", "prod", err, sizeof(err)), 0);
	assert_int_equal(labels_set(&ls, "example.com/role", "web", err, sizeof(err)), 0);
	assert_int_equal(labels_set(&ls, "Zone", "", err, sizeof(err)), 0); /* case matters */
	assert_int_equal(ls.n, 4);
	assert_sorted(&ls);
	assert_string_equal(ls.items[0].key, "Zone");
	assert_string_equal(labels_get(&ls, "zone"), "a");
	assert_string_equal(labels_get(&ls, "Zone"), "");
	assert_null(labels_get(&ls, "role"));
	assert_int_equal(labels_set(&ls, "zone", "b", err, sizeof(err)), 0);
	assert_string_equal(labels_get(&ls, "zone"), "b");
	assert_int_equal(ls.n, 4);
	/* Refused: nothing changes. */
	assert_int_equal(labels_set(&ls, "zone", "b b", err, sizeof(err)), CMDB_EINVAL);
	assert_int_equal(labels_set(&ls, "-zone", "b", err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(labels_get(&ls, "zone"), "b");
	assert_int_equal(labels_copy(&other, &ls), 0);
	assert_true(labels_equal(&ls, &other));
	assert_int_equal(labels_remove(&other, "env"), 1);
	assert_int_equal(labels_remove(&other, "env"), 0);
	assert_false(labels_equal(&ls, &other));
	assert_int_equal(labels_set(&other, "env", "dev", err, sizeof(err)), 0);
	assert_false(labels_equal(&ls, &other));
	labels_free(&ls);
	/* 64 labels, not one more; replacing a value of a full set still works. */
	for (int i = 0; i < LABELS_MAX; i++) {
		snprintf(key, sizeof(key), "k%02d", LABELS_MAX - 1 - i);
		assert_int_equal(labels_set(&ls, key, "v", err, sizeof(err)), 0);
	}
	assert_sorted(&ls);
	assert_int_equal(labels_set(&ls, "k64", "v", err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(err, "a node has at most 64 labels");
	assert_int_equal(labels_set(&ls, "k07", "w", err, sizeof(err)), 0);
	assert_int_equal(ls.n, LABELS_MAX);
	assert_int_equal(labels_copy(&other, &ls), 0);
	assert_true(labels_equal(&ls, &other));
	labels_free(&ls);
	labels_free(&other);
	assert_int_equal(labels_copy(&other, &ls), 0); /* an empty copy */
	assert_int_equal(other.n, 0);
	assert_null(other.items);
}

static cJSON *parse(const char *json)
{
	cJSON *doc = cJSON_Parse(json);

	assert_non_null(doc);
	return doc;
}

/* Reads json into ls; returns the code, err holds the message. */
static int from_json(const char *json, struct labels *ls, char *err, size_t errlen)
{
	cJSON *doc = parse(json);
	int rc = labels_from_json(doc, ls, err, errlen);

	cJSON_Delete(doc);
	return rc;
}

static void expect_json(const struct labels *ls, const char *want)
{
	cJSON *o = labels_to_json(ls);
	char *text;

	assert_non_null(o);
	text = cJSON_PrintUnformatted(o);
	assert_string_equal(text, want);
	cJSON_free(text);
	cJSON_Delete(o);
}

static void test_json(void **state)
{
	static const struct {
		const char *json, *err;
	} bad[] = {
	    {"[]", "labels must be a JSON object of string to string"},
	    {"\"env=prod\"", "labels must be a JSON object of string to string"},
	    {"{\"env\": 1}", "label \"env\": the value must be a string"},
	    {"{\"env\": null}", "label \"env\": the value must be a string"},
	    {"{\"env\": \"a\", \"env\": \"b\"}", "label \"env\": given twice"},
	    {"{\"env\": \"prod\", \"Bad Key\": \"x\"}",
	     "label key \"Bad Key\": the name must start and end with a letter or digit, with only"
	     " letters, digits, '-', '_' and '.' between"},
	    {"{\"env\": \"pr od\"}", "label \"env\": value \"pr od\" must be empty, or must start"
	                             " and end with a letter or digit, with only letters, digits,"
	                             " '-', '_' and '.' between"},
	};
	struct labels ls = LABELS_INIT;
	char err[LABELS_ERR_MAX], big[64 * 16 + 32];
	size_t at = 0;

	(void)state;
	assert_int_equal(
	    from_json("{\"zone\":\"a\",\"env\":\"prod\",\"x.io/y\":\"\"}", &ls, err, sizeof(err)),
	    0);
	expect_json(&ls, "{\"env\":\"prod\",\"x.io/y\":\"\",\"zone\":\"a\"}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(from_json(bad[i].json, &ls, err, sizeof(err)), CMDB_EINVAL);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(ls.n, 0); /* out is emptied */
	}
	assert_int_equal(from_json("{}", &ls, err, sizeof(err)), 0);
	expect_json(&ls, "{}");
	/* 65 labels. */
	at += (size_t)snprintf(big + at, sizeof(big) - at, "{");
	for (int i = 0; i <= LABELS_MAX; i++)
		at += (size_t)snprintf(big + at, sizeof(big) - at, "%s\"k%d\":\"v\"", i ? "," : "",
		                       i);
	snprintf(big + at, sizeof(big) - at, "}");
	assert_int_equal(from_json(big, &ls, err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(err, "a node has at most 64 labels");
	labels_free(&ls);
}

/* Applies patch to the set given as JSON; compares the result, or the error, with want. */
static void expect_patch(const char *start, const char *patch, int want_rc, const char *want)
{
	struct labels ls = LABELS_INIT;
	char err[LABELS_ERR_MAX];
	cJSON *doc = parse(patch);

	assert_int_equal(from_json(start, &ls, err, sizeof(err)), 0);
	assert_int_equal(labels_merge_patch(&ls, doc, err, sizeof(err)), want_rc);
	if (want_rc == 0) {
		expect_json(&ls, want);
	} else {
		assert_string_equal(err, want);
		expect_json(&ls, start); /* unchanged */
	}
	cJSON_Delete(doc);
	labels_free(&ls);
}

static void test_merge_patch(void **state)
{
	char full[64 * 16 + 32], patched[64 * 16 + 32];
	size_t at = 0;

	(void)state;
	expect_patch("{\"a\":\"1\",\"b\":\"2\"}", "{\"b\":\"3\",\"c\":\"\"}", 0,
	             "{\"a\":\"1\",\"b\":\"3\",\"c\":\"\"}");
	expect_patch("{\"a\":\"1\",\"b\":\"2\"}", "{\"a\":null}", 0, "{\"b\":\"2\"}");
	expect_patch("{\"a\":\"1\"}", "{\"zz\":null}", 0, "{\"a\":\"1\"}"); /* absent: fine */
	expect_patch("{\"a\":\"1\"}", "{}", 0, "{\"a\":\"1\"}");
	expect_patch("{}", "{\"a\":\"1\",\"a\":null}", CMDB_EINVAL, "label \"a\": given twice");
	expect_patch("{\"a\":\"1\"}", "{\"b\":\"2\",\"a\":5}", CMDB_EINVAL,
	             "label \"a\": must be a string, or null to remove it");
	expect_patch("{\"a\":\"1\"}", "{\"b\":\"2\",\"a\":{}}", CMDB_EINVAL,
	             "label \"a\": must be a string, or null to remove it");
	expect_patch("{\"a\":\"1\"}", "{\"b\":\"2\",\"-a\":null}", CMDB_EINVAL,
	             "label key \"-a\": the name must start and end with a letter or digit, with"
	             " only letters, digits, '-', '_' and '.' between");
	expect_patch("{\"a\":\"1\"}", "{\"b\":\"x y\"}", CMDB_EINVAL,
	             "label \"b\": value \"x y\" must be empty, or must start and end with a letter"
	             " or digit, with only letters, digits, '-', '_' and '.' between");
	expect_patch("{\"a\":\"1\"}", "[\"b\"]", CMDB_EINVAL,
	             "labels must be a JSON object: a string sets a label, null removes it");
	/* A full set: a new key is refused, unless the same patch removes one. */
	at += (size_t)snprintf(full + at, sizeof(full) - at, "{");
	for (int i = 0; i < LABELS_MAX; i++)
		at += (size_t)snprintf(full + at, sizeof(full) - at, "%s\"k%02d\":\"v\"",
		                       i ? "," : "", i);
	snprintf(full + at, sizeof(full) - at, "}");
	expect_patch(full, "{\"new\":\"v\"}", CMDB_EINVAL, "a node has at most 64 labels");
	str_copy(patched, full, sizeof(patched));
	memmove(patched + 1, patched + 11, strlen(patched + 11) + 1); /* without k00 */
	memmove(patched + strlen(patched) - 1, ",\"new\":\"v\"}", 12);
	expect_patch(full, "{\"new\":\"v\",\"k00\":null}", 0, patched);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_like_kubernetes),
	    cmocka_unit_test(test_values_like_kubernetes),
	    cmocka_unit_test(test_messages),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_merge_patch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
