/*
 * Unit tests of selector: Kubernetes' own cases (k8s.io/apimachinery pkg/labels/
 * selector_test.go, restated as table rows), our error positions and messages, matching,
 * the canonical form and the SQL condition with its parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "selector/selector.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Parses text, which must be valid, and compares its canonical form with want. */
static void expect_canonical(const char *text, const char *want)
{
	struct selector_error e;
	struct strbuf out = STRBUF_INIT, again = STRBUF_INIT;
	struct selector *s = NULL, *s2 = NULL;

	if (selector_parse(text, &s, &e))
		fail_msg("\"%s\" refused: %s", text, e.msg);
	assert_int_equal(selector_format(s, &out), 0);
	if (strcmp(out.buf, want) != 0)
		fail_msg("\"%s\" printed \"%s\", want \"%s\"", text, out.buf, want);
	/* The canonical form parses to itself. */
	assert_int_equal(selector_parse(out.buf, &s2, &e), 0);
	assert_int_equal(selector_format(s2, &again), 0);
	assert_string_equal(again.buf, out.buf);
	strbuf_free(&out);
	strbuf_free(&again);
	selector_free(s);
	selector_free(s2);
}

/* Parses text, which must be refused at position pos with message msg (NULL: any). */
static void expect_error(const char *text, size_t pos, const char *msg)
{
	struct selector_error e;
	struct selector *s = NULL;

	if (selector_parse(text, &s, &e) != CMDB_EINVAL)
		fail_msg("\"%s\" accepted", text);
	assert_null(s);
	if (e.position != pos)
		fail_msg("\"%s\": position %zu (%s), want %zu", text, e.position, e.msg, pos);
	if (msg && strcmp(e.msg, msg) != 0)
		fail_msg("\"%s\": \"%s\", want \"%s\"", text, e.msg, msg);
}

/* TestSelectorParse: the canonical form is the text without its spaces. */
static void test_kubernetes_parse(void **state)
{
	static const char *const good[] = {
	    "x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5",
	};
	static const char *const bad[] = {"x=a||y=b", "x==a==b", "!x=a", "x<a"};
	struct selector_error e;
	struct selector *s;

	(void)state;
	for (size_t i = 0; i < N(good); i++) {
		char want[64];
		size_t n = 0;

		for (const char *c = good[i]; *c; c++)
			if (*c != ' ')
				want[n++] = *c;
		want[n] = '\0';
		expect_canonical(good[i], want);
	}
	for (size_t i = 0; i < N(bad); i++) {
		s = NULL;
		assert_int_equal(selector_parse(bad[i], &s, &e), CMDB_EINVAL);
		assert_null(s);
	}
	/* TestDeterministicParse. */
	expect_canonical("x=a,a=x", "a=x,x=a");
	expect_canonical("a=x,x=a", "a=x,x=a");
}

/*
 * TestSetSelectorParser: every valid row with its canonical form (Kubernetes' String()
 * of the expected requirements), then the rows Kubernetes refuses.
 */
static void test_kubernetes_set_parser(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"", ""},
	    {"\rx", "x"},
	    {"this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"},
	    {"this-is-another-dns.domain.com/key-with-dash in (so,what)",
	     "this-is-another-dns.domain.com/key-with-dash in (so,what)"},
	    {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
	     "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"},
	    {"foo  in\t (abc)", "foo in (abc)"},
	    {"x notin\n (abc)", "x notin (abc)"},
	    {"x  notin\t\t\t(abc,def)", "x notin (abc,def)"},
	    {"x in (abc,def)", "x in (abc,def)"},
	    {"x in (abc,)", "x in (,abc)"},
	    {"x in (abc,abc)", "x in (abc)"},
	    {"x in ()", "x in ()"},
	    {"x in (a,,)", "x in (,a)"},
	    {"x in (a,,,)", "x in (,a)"},
	    {"x in (a,,,,,,)", "x in (,a)"},
	    {"x in (a,,a,,a,,a,,)", "x in (,a)"},
	    {"x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"},
	    {"x,y in (a)", "x,y in (a)"},
	    {"x=a", "x=a"},
	    {"x>1", "x>1"},
	    {"x<7", "x<7"},
	    {"x=a,y!=b", "x=a,y!=b"},
	    {"x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"},
	    {"x notin ( )", "x notin ()"},
	    {"x notin (, a)", "x notin (,a)"},
	    {"a ", "a"},
	    {"a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"},
	};
	static const char *const bad[] = {
	    "x=a||y=b",
	    "x,,y",
	    ",x,y",
	    "x nott in (y)",
	    "a in (xyz),",
	    "a in (xyz)b notin ()",
	    "a in (xyz abc)",
	    "a notin(",
	    "a (",
	    "(",
	};
	struct selector_error e;
	struct selector *s;

	(void)state;
	for (size_t i = 0; i < N(good); i++)
		expect_canonical(good[i].in, good[i].out);
	for (size_t i = 0; i < N(bad); i++) {
		s = NULL;
		if (selector_parse(bad[i], &s, &e) != CMDB_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_null(s);
	}
}

/* TestToString, and the selectors of TestMatchesNothing: parsed and printed back. */
static void test_kubernetes_to_string(void **state)
{
	static const char *const same[] = {
	    "x in (abc,def),y notin (jkl),z",
	    "x notin (abc,def),y!=jkl,!z",
	    "x notin (abc),y in (jkl,mno),z notin ()",
	    "x=abc,y==jkl,z!=a,z",
	    "x>2,y<8,z",
	    "a,!a",
	    "a=b,a!=b",
	    "a in (b),a notin (b)",
	};

	(void)state;
	for (size_t i = 0; i < N(same); i++)
		expect_canonical(same[i], same[i]);
	/* docs/labels.md's examples. */
	expect_canonical("in in (in)", "in in (in)");
	expect_canonical("role in (web, api, web),env=prod", "env=prod,role in (api,web)");
	expect_canonical("a in(b)", "a in (b)");
	/* Requirements of one key keep their order; keys are sorted. */
	expect_canonical("z,b!=1,z!=a,a", "a,b!=1,z,z!=a");
}

/*
 * TestRequirementConstructor, the rows a selector can express: > and < want one whole
 * number; keys and values follow the label rules.
 */
static void test_kubernetes_requirements(void **state)
{
	char text[300];

	(void)state;
	expect_canonical("x11>1", "x11>1");
	expect_canonical("x12<6", "x12<6");
	expect_error("x13>", 5, NULL);
	expect_error("x14>bar", 5, NULL);
	expect_error("x15<bar", 5, NULL);
	memset(text, 'a', 254);
	text[254] = '\0';
	expect_error(text, 1, NULL); /* a key of 254 characters */
	memcpy(text, "x16=", 4);
	expect_error(text, 5, NULL); /* a value of 250 */
	/* TestLexer: characters that are not special are part of an identifier. */
	expect_error("~", 1, NULL);
	expect_error("||", 1, NULL);
}

/* A label set from JSON, e.g. {"x":"y"}. */
static void load(const char *json, struct labels *ls)
{
	char err[LABELS_ERR_MAX];
	cJSON *doc = cJSON_Parse(json);

	assert_non_null(doc);
	if (labels_from_json(doc, ls, err, sizeof(err)))
		fail_msg("%s: %s", json, err);
	cJSON_Delete(doc);
}

struct match_case {
	const char *selector, *labels;
	int match;
};

static void expect_matches(const struct match_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct labels ls = LABELS_INIT;
		struct selector_error e;
		struct selector *s;

		if (selector_parse(c[i].selector, &s, &e))
			fail_msg("\"%s\" refused: %s", c[i].selector, e.msg);
		load(c[i].labels, &ls);
		if (selector_match(s, &ls) != c[i].match)
			fail_msg("\"%s\" on %s: want %d", c[i].selector, c[i].labels, c[i].match);
		selector_free(s);
		labels_free(&ls);
	}
}

/* TestSelectorMatches and TestRequirementSelectorMatching. */
static void test_kubernetes_matches(void **state)
{
	static const struct match_case cases[] = {
	    {"", "{\"x\":\"y\"}", 1},
	    {"x=y", "{\"x\":\"y\"}", 1},
	    {"x=y,z=w", "{\"x\":\"y\",\"z\":\"w\"}", 1},
	    {"x!=y,z!=w", "{\"x\":\"z\",\"z\":\"a\"}", 1},
	    {"notin=in", "{\"notin\":\"in\"}", 1},
	    {"x", "{\"x\":\"z\"}", 1},
	    {"!x", "{\"y\":\"z\"}", 1},
	    {"x>1", "{\"x\":\"2\"}", 1},
	    {"x<1", "{\"x\":\"0\"}", 1},
	    {"x=z", "{}", 0},
	    {"x=y", "{\"x\":\"z\"}", 0},
	    {"x=y,z=w", "{\"x\":\"w\",\"z\":\"w\"}", 0},
	    {"x!=y,z!=w", "{\"x\":\"z\",\"z\":\"w\"}", 0},
	    {"x", "{\"y\":\"z\"}", 0},
	    {"!x", "{\"x\":\"z\"}", 0},
	    {"x>1", "{\"x\":\"0\"}", 0},
	    {"x<1", "{\"x\":\"2\"}", 0},
	    {"foo=bar", "{\"foo\":\"bar\",\"baz\":\"blah\"}", 1},
	    {"baz=blah", "{\"foo\":\"bar\",\"baz\":\"blah\"}", 1},
	    {"foo=bar,baz=blah", "{\"foo\":\"bar\",\"baz\":\"blah\"}", 1},
	    {"foo=blah", "{\"foo\":\"bar\",\"baz\":\"blah\"}", 0},
	    {"baz=bar", "{\"foo\":\"bar\",\"baz\":\"blah\"}", 0},
	    {"foo=bar,foobar=bar,baz=blah", "{\"foo\":\"bar\",\"baz\":\"blah\"}", 0},
	    {"x in (foo),y notin (alpha)", "{\"x\":\"foo\",\"y\":\"baz\"}", 1},
	    {"x in (foo),y in (alpha)", "{\"x\":\"foo\",\"y\":\"baz\"}", 0},
	    {"x notin (),y", "{\"y\":\"\"}", 1},
	    {"!x,y", "{\"y\":\"\"}", 1},
	    {"x notin (),!y", "{\"y\":\"\"}", 0},
	    {"x in ()", "{\"y\":\"baz\"}", 0},
	    {"z>1", "{\"z\":\"2\"}", 1},
	    {"z>1", "{\"z\":\"v2\"}", 0},
	};

	(void)state;
	expect_matches(cases, N(cases));
}

/* Our rows: the operators on nodes with and without the key, and the numbers. */
static void test_matches(void **state)
{
	static const struct match_case cases[] = {
	    {"env!=prod", "{}", 1}, /* != and notin match a node without the key */
	    {"env notin (prod,dev)", "{}", 1},
	    {"env notin (prod,dev)", "{\"env\":\"dev\"}", 0},
	    {"env notin (prod,dev)", "{\"env\":\"qa\"}", 1},
	    {"env in (prod,dev)", "{}", 0},
	    {"env in (prod,dev)", "{\"env\":\"prod\"}", 1},
	    {"env==prod", "{\"env\":\"prod\"}", 1},
	    {"env=", "{\"env\":\"\"}", 1},
	    {"env=", "{}", 0},
	    {"env in (,a)", "{\"env\":\"\"}", 1},
	    {"Env=prod", "{\"env\":\"prod\"}", 0}, /* keys are case-sensitive */
	    {"env=Prod", "{\"env\":\"prod\"}", 0},
	    {"env=prod,zone in (a,b),!draining", "{\"env\":\"prod\",\"zone\":\"b\"}", 1},
	    {"env=prod,zone in (a,b),!draining",
	     "{\"env\":\"prod\",\"zone\":\"b\",\"draining\":\"\"}", 0},
	    {"n>9", "{\"n\":\"10\"}", 1}, /* numbers, not text: "10" > "9" */
	    {"n<10", "{\"n\":\"9\"}", 1},
	    {"n>7", "{\"n\":\"007\"}", 0},
	    {"n>006", "{\"n\":\"7\"}", 1},
	    {"n<1", "{\"n\":\"\"}", 0},
	    {"n<1", "{}", 0},
	    {"n>0", "{\"n\":\"9223372036854775807\"}", 1},
	    {"n>0", "{\"n\":\"9223372036854775808\"}", 0}, /* not an int64: never matches */
	    {"n<9223372036854775807", "{\"n\":\"9223372036854775806\"}", 1},
	    {"n>1", "{\"n\":\"1e3\"}", 0},
	};

	(void)state;
	expect_matches(cases, N(cases));
}

/* Every refusal says where and what was expected there. */
static void test_errors(void **state)
{
	static const struct {
		const char *text;
		size_t pos;
		const char *msg;
	} cases[] = {
	    {"x==a==b", 5, "position 5: expected ',' or the end, found '=='"},
	    {"!x=a", 3, "position 3: expected ',' or the end, found '='"},
	    {"x<a", 3,
	     "position 3: expected a whole number from 0 to 9223372036854775807 after '>' or"
	     " '<', found 'a'"},
	    {"x>", 3,
	     "position 3: expected a whole number from 0 to 9223372036854775807 after '>' or"
	     " '<', found the end"},
	    {"x>99999999999999999999", 3,
	     "position 3: expected a whole number from 0 to 9223372036854775807 after '>' or"
	     " '<', found '99999999999999999999'"},
	    {"x>-1", 3,
	     "position 3: label \"x\": value \"-1\" must be empty, or must start and end with a"
	     " letter or digit, with only letters, digits, '-', '_' and '.' between"},
	    {"x,,y", 3, "position 3: expected a label key or '!' after ',', found ','"},
	    {",x,y", 1, "position 1: expected a label key, '!' or the end, found ','"},
	    {"x nott in (y)", 3,
	     "position 3: expected '=', '==', '!=', 'in', 'notin', '>', '<', ',' or the end, found"
	     " 'nott'"},
	    {"a in (xyz),", 12,
	     "position 12: expected a label key or '!' after ',', found the end"},
	    {"a in (xyz)b notin ()", 11, "position 11: expected ',' or the end, found 'b'"},
	    {"a in (xyz abc)", 11, "position 11: expected ',' or ')', found 'abc'"},
	    {"a notin(", 9, "position 9: expected a value, ',' or ')', found the end"},
	    {"a in (x,=)", 9, "position 9: expected a value, ',' or ')', found '='"},
	    {"a in (x", 8, "position 8: expected ',' or ')', found the end"},
	    {"a (", 3,
	     "position 3: expected '=', '==', '!=', 'in', 'notin', '>', '<', ',' or the end, found"
	     " '('"},
	    {"(", 1, "position 1: expected a label key, '!' or the end, found '('"},
	    {"zone in a", 9, "position 9: expected '(', found 'a'"},
	    {"x=(", 3, "position 3: expected a value, found '('"},
	    {"x!==a", 4, "position 4: expected a value, found '='"}, /* "!=" then "=" */
	    {"!", 2, "position 2: expected a label key, found the end"},
	    {"!!x", 2, "position 2: expected a label key, found '!'"},
	    {"x=a,  !  ", 10, "position 10: expected a label key, found the end"},
	    {"env=prod,Zone-=a", 10,
	     "position 10: label key \"Zone-\": the name must start and end with a letter or"
	     " digit, with only letters, digits, '-', '_' and '.' between"},
	    {"zone in (a, b c)", 15, "position 15: expected ',' or ')', found 'c'"},
	    {"zone in (a, \"b\")", 13,
	     "position 13: label \"zone\": value \"?b?\" must be empty, or must start and end with"
	     " a letter or digit, with only letters, digits, '-', '_' and '.' between"},
	    {"k\xc3\xa9y=1", 1,
	     "position 1: label key \"k??y\": the name must start and end with a letter or digit,"
	     " with only letters, digits, '-', '_' and '.' between"},
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		expect_error(cases[i].text, cases[i].pos, cases[i].msg);
}

/* 32 requirements "kNN in(<63 x>,<n y>)"; returns the length. */
static size_t in_list(char *text, size_t len, int n)
{
	size_t at = 0;

	for (int i = 0; i < SELECTOR_REQS_MAX; i++)
		at += (size_t)snprintf(text + at, len - at, "%sk%02d in(%063d,%0*d)", i ? "," : "",
		                       i, 0, n, 1);
	return at;
}

static void test_limits(void **state)
{
	char text[SELECTOR_TEXT_MAX + 2];
	struct strbuf out = STRBUF_INIT;
	struct selector_error e;
	struct selector *s;
	size_t at = 0;

	(void)state;
	for (int i = 0; i < SELECTOR_REQS_MAX; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%sk%02d", i ? "," : "", i);
	expect_canonical(text, text);
	snprintf(text + at, sizeof(text) - at, ",k99");
	expect_error(text, at + 2, "position 129: a selector holds at most 32 requirements");
	memset(text, ' ', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	expect_error(text, 0, "a selector is at most 4096 characters long");
	text[SELECTOR_TEXT_MAX] = '\0';
	expect_canonical(text, "");
	/* "k in(v)" prints a space more: the canonical form must fit the limit too. */
	assert_int_equal(in_list(text, sizeof(text), 54), SELECTOR_TEXT_MAX - 33);
	assert_int_equal(selector_parse(text, &s, &e), 0);
	assert_int_equal(selector_format(s, &out), 0);
	assert_int_equal(out.len, SELECTOR_TEXT_MAX - 1);
	selector_free(s);
	strbuf_free(&out);
	assert_int_equal(in_list(text, sizeof(text), 55), SELECTOR_TEXT_MAX - 1);
	expect_error(text, 0, "a selector is at most 4096 characters long");
}

/* Builds the SQL of text on n.id; compares it and its parameters. */
static void expect_sql(const char *text, const char *want, const char *const *params,
                       size_t nparams)
{
	struct selector_sql q = SELECTOR_SQL_INIT;
	struct selector_error e;
	struct selector *s;

	assert_int_equal(selector_parse(text, &s, &e), 0);
	assert_int_equal(selector_sql(s, "n.id", &q), 0);
	if (strcmp(q.text.buf, want) != 0)
		fail_msg("\"%s\":\n%s\nwant\n%s", text, q.text.buf, want);
	assert_int_equal(q.nparams, nparams);
	for (size_t i = 0; i < nparams; i++)
		assert_string_equal(q.params[i], params[i]);
	selector_sql_free(&q);
	selector_free(s);
}

#define SUB "EXISTS (SELECT 1 FROM node_labels nl WHERE nl.node_id = n.id AND nl.k = ?"

static void test_sql(void **state)
{
	static const char *const p_env[] = {"env"};
	static const char *const p_env_prod[] = {"env", "prod"};
	static const char *const p_env_dev_prod[] = {"env", "dev", "prod"};
	static const char *const p_n_5[] = {"n", "5"};
	static const char *const p_two[] = {"env", "prod", "zone", "", "a"};

	(void)state;
	expect_sql("", "TRUE", NULL, 0);
	expect_sql("env", SUB ")", p_env, 1);
	expect_sql("!env", "NOT " SUB ")", p_env, 1);
	expect_sql("env=prod", SUB " AND nl.v = ?)", p_env_prod, 2);
	expect_sql("env==prod", SUB " AND nl.v = ?)", p_env_prod, 2);
	expect_sql("env in (prod)", SUB " AND nl.v = ?)", p_env_prod, 2);
	expect_sql("env!=prod", "NOT " SUB " AND nl.v = ?)", p_env_prod, 2);
	expect_sql("env in (prod, dev)", SUB " AND nl.v IN (?, ?))", p_env_dev_prod, 3);
	expect_sql("env notin (prod,dev,prod)", "NOT " SUB " AND nl.v IN (?, ?))", p_env_dev_prod,
	           3);
	expect_sql("n>5",
	           SUB " AND nl.v REGEXP '^[0-9]+$' AND CAST(nl.v AS DECIMAL(65,0)) <="
	               " 9223372036854775807 AND CAST(nl.v AS DECIMAL(65,0)) > CAST(? AS SIGNED))",
	           p_n_5, 2);
	expect_sql("n<5",
	           SUB " AND nl.v REGEXP '^[0-9]+$' AND CAST(nl.v AS DECIMAL(65,0)) <="
	               " 9223372036854775807 AND CAST(nl.v AS DECIMAL(65,0)) < CAST(? AS SIGNED))",
	           p_n_5, 2);
	expect_sql("zone in (,a),env=prod", SUB " AND nl.v = ?) AND " SUB " AND nl.v IN (?, ?))",
	           p_two, 5);
}

/* Builds the SQL of text on column; returns its text (caller frees) or NULL when refused. */
static char *sql_text(const char *text, const char *column)
{
	struct selector_sql q = SELECTOR_SQL_INIT;
	struct selector_error e;
	struct selector *s;
	char *out = NULL;
	int rc;

	assert_int_equal(selector_parse(text, &s, &e), 0);
	rc = selector_sql(s, column, &q);
	if (rc == 0)
		out = strdup(q.text.buf);
	else
		assert_int_equal(rc, CMDB_EINVAL);
	selector_sql_free(&q);
	selector_free(s);
	return out;
}

/*
 * No key or value reaches the text: selectors of the same shape give the same text,
 * whatever their strings. The column is the one name the caller writes; anything but an
 * identifier is refused.
 */
static void test_sql_has_no_values(void **state)
{
	static const char *const bad_columns[] = {
	    "", "n.id; DROP TABLE nodes", "a.b.c", "1a", "n.", ".id", "n.1d", "n id", "n.id)"};
	char *a = sql_text("a=b,c in (d,e),!f,g>1", "n.id");
	char *b = sql_text("drop.table/x=y1,in in (q,w),!select,zz>99", "n.id");
	char *c = sql_text("a", "nodes_2.node_id");

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	assert_non_null(strstr(c, "nl.node_id = nodes_2.node_id AND"));
	for (size_t i = 0; i < N(bad_columns); i++)
		assert_null(sql_text("a", bad_columns[i]));
	free(a);
	free(b);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kubernetes_parse),
	    cmocka_unit_test(test_kubernetes_set_parser),
	    cmocka_unit_test(test_kubernetes_to_string),
	    cmocka_unit_test(test_kubernetes_requirements),
	    cmocka_unit_test(test_kubernetes_matches),
	    cmocka_unit_test(test_matches),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_sql),
	    cmocka_unit_test(test_sql_has_no_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
