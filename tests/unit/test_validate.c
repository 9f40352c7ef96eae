/* Unit tests of api/v1/validate: every request body rule, status and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/v1/validate.h"

/* Parses text as a body; returns the status a client would get (0 when accepted). */
static int release_status_of(const char *text, struct release_input *in, struct api_error *e)
{
	cJSON *doc = NULL;
	int rc = api_parse_object(text, strlen(text), &doc, e);

	if (rc == 0)
		rc = api_parse_release_create(doc, in, e);
	cJSON_Delete(doc);
	return rc ? e->status : 0;
}

static int node_status_of(const char *text, struct api_error *e)
{
	struct node_input in;
	cJSON *doc = NULL;
	int rc = api_parse_object(text, strlen(text), &doc, e);

	if (rc == 0)
		rc = api_parse_node_create(doc, &in, e);
	cJSON_Delete(doc);
	return rc ? e->status : 0;
}

static void test_release_accepts_valid_bodies(void **state)
{
	struct release_input in;
	struct api_error e;

	(void)state;
	assert_int_equal(release_status_of("{\"version\":42,\"batch_size\":2}", &in, &e), 0);
	assert_int_equal(in.version, 42);
	assert_int_equal(in.batch_size, 2);
	assert_null(in.node_ids);
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"node_ids\":[3,1,2]}", &in, &e), 0);
	assert_int_equal(in.n, 3);
	assert_int_equal(in.node_ids[0], 3); /* order as given; the store sorts */
	api_release_input_release(&in);
	assert_int_equal(
	    release_status_of("{\"version\":9007199254740991,\"batch_size\":1}", &in, &e), 0);
}

static void test_release_rejects_with_the_right_status(void **state)
{
	static const struct {
		const char *body;
		int status;
		const char *msg;
	} cases[] = {
	    {"", 400, "request body is empty; a JSON object is required"},
	    {"{\"version\":1,", 400, "request body is not valid JSON"},
	    {"[1,2]", 400, "request body must be a JSON object"},
	    {"{\"version\":\"7\",\"batch_size\":1}", 400, "version must be an integer"},
	    {"{\"version\":1.5,\"batch_size\":1}", 400, "version must be an integer"},
	    {"{\"version\":0,\"batch_size\":1}", 422, NULL},
	    {"{\"version\":-3,\"batch_size\":1}", 422, NULL},
	    {"{\"version\":1e300,\"batch_size\":1}", 422, NULL},
	    {"{\"version\":9007199254740993,\"batch_size\":1}", 422, NULL},
	    {"{\"batch_size\":1}", 422, "version is required (a positive integer)"},
	    {"{\"version\":1}", 422, "batch_size is required (a positive integer)"},
	    {"{\"version\":1,\"batch_size\":10001}", 422, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"node_ids\":[]}", 422, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"node_ids\":\"1,2\"}", 400, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"node_ids\":[1,\"2\"]}", 400,
	     "node_ids[1] must be an integer"},
	    {"{\"version\":1,\"batch_size\":1,\"node_ids\":[1,0]}", 422,
	     "node_ids[1] must be a positive node id"},
	    {"{\"version\":1,\"batch_size\":1,\"node_ids\":[4,2,4]}", 422,
	     "node_ids lists node 4 twice"},
	    {"{\"version\":1,\"batch_size\":1,\"batchsize\":2}", 400,
	     "unknown field \"batchsize\""},
	    {"{\"version\":1,\"version\":2,\"batch_size\":1}", 400,
	     "member \"version\" given twice"},
	    {"{\"version\":1,\"batch_size\":1,\"x\":[[[[[[[[[1]]]]]]]]]}", 400,
	     "JSON nested deeper than 8 levels"},
	    {"{\"version\":\"1; DROP TABLE nodes\",\"batch_size\":1}", 400, NULL},
	};
	struct release_input in;
	struct api_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got;

		memset(&in, 0, sizeof(in));
		got = release_status_of(cases[i].body, &in, &e);

		if (got != cases[i].status)
			fail_msg("case %zu (%s): status %d, want %d (%s)", i, cases[i].body, got,
			         cases[i].status, e.msg);
		if (cases[i].msg)
			assert_string_equal(e.msg, cases[i].msg);
		assert_null(in.node_ids);
	}
}

static void test_too_many_members_is_refused_fast(void **state)
{
	size_t cap = 40 * 2000 + 16, len = 0;
	char *body = malloc(cap);
	struct release_input in;
	struct api_error e;

	(void)state;
	len += (size_t)snprintf(body + len, cap - len, "{");
	for (int i = 0; i < 2000; i++)
		len += (size_t)snprintf(body + len, cap - len, "%s\"k%d\":1", i ? "," : "", i);
	snprintf(body + len, cap - len, "}");
	assert_int_equal(release_status_of(body, &in, &e), 400);
	assert_string_equal(e.msg, "JSON object with more than 32 members");
	free(body);
}

static void test_node_rules(void **state)
{
	struct api_error e;
	struct node_input in;
	cJSON *doc = NULL;
	const char *ok = "{\"hostname\":\"web-01.example\",\"ip\":\"::FFFF:10.0.0.1\"}";

	(void)state;
	assert_int_equal(api_parse_object(ok, strlen(ok), &doc, &e), 0);
	assert_int_equal(api_parse_node_create(doc, &in, &e), 0);
	assert_string_equal(in.ip, "::ffff:10.0.0.1");
	assert_int_equal(in.agent_port, 8443);
	assert_int_equal(in.status, NODE_ONLINE);
	cJSON_Delete(doc);
	assert_int_equal(node_status_of("{\"hostname\":\"a\",\"ip\":\"10.0.0.256\"}", &e), 422);
	assert_int_equal(node_status_of("{\"hostname\":\"-a\",\"ip\":\"10.0.0.1\"}", &e), 422);
	assert_int_equal(node_status_of("{\"hostname\":\"a b\",\"ip\":\"10.0.0.1\"}", &e), 422);
	assert_int_equal(node_status_of("{\"hostname\":\"../etc\",\"ip\":\"10.0.0.1\"}", &e), 422);
	assert_int_equal(
	    node_status_of("{\"hostname\":\"a\",\"ip\":\"1.2.3.4\",\"agent_port\":0}", &e), 422);
	assert_int_equal(
	    node_status_of("{\"hostname\":\"a\",\"ip\":\"1.2.3.4\",\"status\":\"gone\"}", &e), 422);
	assert_int_equal(node_status_of("{\"hostname\":7,\"ip\":\"1.2.3.4\"}", &e), 400);
	assert_int_equal(node_status_of("{\"ip\":\"1.2.3.4\"}", &e), 422);
	assert_string_equal(e.msg, "hostname is required (an RFC 1123 host name)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_accepts_valid_bodies),
	    cmocka_unit_test(test_release_rejects_with_the_right_status),
	    cmocka_unit_test(test_too_many_members_is_refused_fast),
	    cmocka_unit_test(test_node_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
