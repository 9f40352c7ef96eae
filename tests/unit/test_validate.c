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

/* 2026-11-22T04:19:32Z: the "now" of these tests. */
#define NOW_MS 1795321172000LL

/* Parses text as a body; returns the status a client would get (0 when accepted). */
static int release_status_of(const char *text, struct release_input *in, struct api_error *e)
{
	cJSON *doc = NULL;
	int rc = api_parse_object(text, strlen(text), &doc, e);

	if (rc == 0)
		rc = api_parse_release_create(doc, NOW_MS, in, e);
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
	assert_int_equal(in.plan.batch_size, 2);
	assert_int_equal(in.plan.nsteps, 1);
	assert_int_equal(in.plan.steps[0].value, 2);
	assert_int_equal(in.plan.max_failures, -1);
	assert_null(in.node_ids);
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"node_ids\":[3,1,2]}", &in, &e), 0);
	assert_int_equal(in.n, 3);
	assert_int_equal(in.node_ids[0], 3); /* order as given; the store sorts */
	api_release_input_free(&in);
	assert_int_equal(
	    release_status_of("{\"version\":9007199254740991,\"batch_size\":1}", &in, &e), 0);
}

/* A table of cases: long because every refusal of a release body is a row of it. */
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
	    {"{\"version\":1}", 422,
	     "batch_size or batches is required (a node count, or a list of counts and"
	     " percentages)"},
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
	    /* The plan fields. */
	    {"{\"version\":1,\"batch_size\":1,\"batches\":[1]}", 422,
	     "give batch_size or batches, not both"},
	    {"{\"version\":1,\"batches\":[]}", 422,
	     "batches is empty: give at least one batch size"},
	    {"{\"version\":1,\"batches\":3}", 400, NULL},
	    {"{\"version\":1,\"batches\":[0]}", 422, "batches[0] must be from 1 to 10000 nodes"},
	    {"{\"version\":1,\"batches\":[1,-1]}", 422, NULL},
	    {"{\"version\":1,\"batches\":[1.5]}", 400, NULL},
	    {"{\"version\":1,\"batches\":[\"0%\"]}", 422,
	     "batches[0] must be a percentage from \"1%\" to \"100%\""},
	    {"{\"version\":1,\"batches\":[\"101%\"]}", 422, NULL},
	    {"{\"version\":1,\"batches\":[\"05%\"]}", 422, NULL},
	    {"{\"version\":1,\"batches\":[\"20\"]}", 422, NULL},
	    {"{\"version\":1,\"batches\":[\"%\"]}", 422, NULL},
	    {"{\"version\":1,\"batches\":[\"-5%\"]}", 422, NULL},
	    {"{\"version\":1,\"batches\":[null]}", 400, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"pause_after\":[]}", 422, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"pause_after\":[0]}", 422, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"pause_after\":[2,1,2]}", 422,
	     "pause_after names batch 2 twice"},
	    {"{\"version\":1,\"batch_size\":1,\"pause_after\":{}}", 400, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"max_failures\":-1}", 422, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"max_failure_percent\":101}", 422, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"max_failures\":1,\"max_failure_percent\":1}", 422,
	     "give max_failures or max_failure_percent, not both"},
	    {"{\"version\":1,\"batch_size\":1,\"not_before\":\"soon\"}", 422,
	     "not_before must be an RFC 3339 time such as 2026-11-24T10:00:00Z"},
	    {"{\"version\":1,\"batch_size\":1,\"not_before\":5}", 400, NULL},
	    {"{\"version\":1,\"batch_size\":1,\"not_before\":\"2026-11-22T04:19:31Z\"}", 422,
	     "not_before 2026-11-22T04:19:31.000Z is in the past"},
	    {"{\"version\":1,\"batch_size\":1,\"expires_at\":\"2026-11-22T05:00:00Z\","
	     "\"not_before\":\"2026-11-22T06:00:00+01:00\"}",
	     422, NULL},
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

static void test_release_plan_fields(void **state)
{
	struct release_input in;
	struct api_error e;

	(void)state;
	assert_int_equal(
	    release_status_of("{\"version\":3,\"batches\":[1,\"20%\",50],\"pause_after\":[3,1],"
	                      "\"max_failure_percent\":10,\"node_ids\":[5,4],"
	                      "\"not_before\":\"2026-11-22T05:00:00Z\","
	                      "\"expires_at\":\"2026-11-22T08:00:00+02:00\"}",
	                      &in, &e),
	    0);
	assert_int_equal(in.plan.batch_size, 0);
	assert_int_equal(in.plan.nsteps, 3);
	assert_true(in.plan.steps[1].percent);
	assert_int_equal(in.plan.steps[1].value, 20);
	assert_int_equal(in.plan.steps[2].value, 50);
	assert_int_equal(in.plan.npauses, 2);
	assert_int_equal(in.plan.pause_after[0], 1); /* sorted */
	assert_int_equal(in.plan.pause_after[1], 3);
	assert_int_equal(in.plan.max_failures, -1);
	assert_int_equal(in.plan.max_failure_percent, 10);
	assert_int_equal(in.plan.not_before_ms, NOW_MS + 40 * 60 * 1000 + 28000);
	assert_int_equal(in.plan.expires_at_ms, in.plan.not_before_ms + 3600 * 1000);
	assert_int_equal(in.node_ids[0], 5);
	api_release_input_free(&in);
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
	assert_string_equal(e.msg, "JSON object with more than 128 members");
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

static int patch_status_of(const char *text, struct node_patch_input *in, struct api_error *e)
{
	cJSON *doc = NULL;
	int rc = api_parse_object(text, strlen(text), &doc, e);

	if (rc == 0)
		rc = api_parse_node_patch(doc, in, e);
	cJSON_Delete(doc);
	return rc ? e->status : 0;
}

static void test_node_patch_rules(void **state)
{
	struct node_patch_input in;
	struct api_error e;

	(void)state;
	assert_int_equal(patch_status_of("{\"status\":\"offline\"}", &in, &e), 0);
	assert_int_equal(in.status, NODE_OFFLINE);
	assert_null(in.hostname);
	assert_string_equal(in.ip, "");
	assert_int_equal(in.agent_port, 0);
	assert_int_equal(patch_status_of("{\"ip\":\"10.0.0.07\",\"agent_port\":9443}", &in, &e),
	                 422); /* a leading zero is not an IPv4 literal */
	assert_int_equal(patch_status_of("{\"ip\":\"10.0.0.7\",\"agent_port\":9443}", &in, &e), 0);
	assert_int_equal(in.status, -1);
	assert_string_equal(in.ip, "10.0.0.7");
	assert_int_equal(in.agent_port, 9443);
	assert_int_equal(patch_status_of("{}", &in, &e), 422);
	assert_string_equal(e.msg, "nothing to change: give status, hostname, ip, agent_port or"
	                           " labels");
	assert_int_equal(patch_status_of("{\"agent_port\":70000}", &in, &e), 422);
	assert_int_equal(patch_status_of("{\"hostname\":\"a_b\"}", &in, &e), 422);
	assert_int_equal(patch_status_of("{\"config_version\":3}", &in, &e), 400);
}

static void test_release_safety_fields(void **state)
{
	struct release_input in;
	struct api_error e;

	(void)state;
	assert_int_equal(release_status_of("{\"version\":1,\"batch_size\":1}", &in, &e), 0);
	assert_int_equal(in.auto_rollback, -1); /* not given: the server's default decides */
	assert_int_equal(in.require_approval, 0);
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"auto_rollback\":false,"
	                      "\"require_approval\":true}",
	                      &in, &e),
	    0);
	assert_int_equal(in.auto_rollback, 0);
	assert_int_equal(in.require_approval, 1);
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"auto_rollback\":1}", &in, &e),
	    400);
	assert_string_equal(e.msg, "auto_rollback must be true or false");
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"require_approval\":\"yes\"}", &in,
	                      &e),
	    400);
}

static int alerts_status_of(const char *text, struct alert_entry **a, size_t *n,
                            struct api_error *e)
{
	cJSON *doc = NULL;
	int rc = api_parse_object(text, strlen(text), &doc, e);

	*a = NULL;
	*n = 0;
	if (rc == 0)
		rc = api_parse_alerts(doc, a, n, e);
	/* The entries point into the document: check them before it goes. */
	if (rc == 0 && *n)
		assert_non_null((*a)[0].fingerprint);
	cJSON_Delete(doc);
	return rc ? e->status : 0;
}

/* Alertmanager's webhook body (version 4), as its documentation shows it. */
#define AM_ALERT(status, labels, fp, starts)                                                       \
	"{\"status\":\"" status "\",\"labels\":" labels                                            \
	",\"annotations\":{},\"startsAt\":\"" starts                                               \
	"\",\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"http://"                        \
	"p\",\"fingerprint\":\"" fp "\"}"
#define AM_BODY(alerts)                                                                            \
	"{\"version\":\"4\",\"groupKey\":\"g\",\"truncatedAlerts\":0,\"status\":\"firing\","       \
	"\"receiver\":\"cmdb\",\"groupLabels\":{},\"commonLabels\":{},\"commonAnnotations\":{},"   \
	"\"externalURL\":\"http://am\",\"alerts\":[" alerts "]}"

static void test_alert_payloads(void **state)
{
	struct alert_entry *a;
	struct api_error e;
	size_t n;

	(void)state;
	assert_int_equal(
	    alerts_status_of(
	        AM_BODY(AM_ALERT(
	            "firing", "{\"alertname\":\"X\",\"release_id\":\"7\"}", "abc123",
	            "2026-11-30T10:00:00.123456789Z") "," AM_ALERT("resolved", "{}", "def",
	                                                           "2026-11-30T10:00:00Z")),
	        &a, &n, &e),
	    0);
	assert_int_equal(n, 2);
	free(a);
	assert_int_equal(alerts_status_of(AM_BODY(""), &a, &n, &e), 0);
	assert_int_equal(n, 0);
	free(a);
	assert_int_equal(alerts_status_of("{\"version\":\"3\",\"alerts\":[]}", &a, &n, &e), 400);
	assert_int_equal(alerts_status_of("{\"version\":\"4\"}", &a, &n, &e), 400);
	assert_string_equal(e.msg, "alerts must be an array of alerts");
	assert_int_equal(
	    alerts_status_of(AM_BODY(AM_ALERT("pending", "{}", "f", "2026-11-30T10:00:00Z")), &a,
	                     &n, &e),
	    400);
	assert_int_equal(alerts_status_of(AM_BODY(AM_ALERT("firing", "{\"release_id\":7}", "f",
	                                                   "2026-11-30T10:00:00Z")),
	                                  &a, &n, &e),
	                 400);
	assert_string_equal(e.msg, "alerts[0].labels must be an object of strings");
	assert_int_equal(
	    alerts_status_of(AM_BODY(AM_ALERT("firing", "{}", "a b", "2026-11-30T10:00:00Z")), &a,
	                     &n, &e),
	    400);
	assert_int_equal(
	    alerts_status_of(AM_BODY(AM_ALERT("firing", "{}", "f", "yesterday")), &a, &n, &e), 400);
	assert_int_equal(alerts_status_of(AM_BODY("7"), &a, &n, &e), 400);
	assert_null(a);
}

static void test_decision(void **state)
{
	const char *comment = NULL;
	struct api_error e;
	cJSON *doc = cJSON_Parse("{\"comment\":\"ok\"}");

	(void)state;
	assert_int_equal(api_parse_decision(NULL, &comment, &e), 0);
	assert_null(comment);
	assert_int_equal(api_parse_decision(doc, &comment, &e), 0);
	assert_string_equal(comment, "ok");
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"reason\":\"ok\"}");
	assert_int_equal(api_parse_decision(doc, &comment, &e), -1);
	assert_int_equal(e.status, 400);
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"comment\":5}");
	assert_int_equal(api_parse_decision(doc, &comment, &e), -1);
	cJSON_Delete(doc);
}

/* Labels on POST and PATCH: the label rules' refusals are 422 naming key and rule. */
static void test_node_labels(void **state)
{
	struct node_patch_input pin;
	struct node_input in;
	struct api_error e;
	cJSON *doc = NULL;
	const char *ok = "{\"hostname\":\"a\",\"ip\":\"10.0.0.1\",\"labels\":{\"zone\":\"a\","
	                 "\"example.com/role\":\"\"}}";

	(void)state;
	assert_int_equal(api_parse_object(ok, strlen(ok), &doc, &e), 0);
	assert_int_equal(api_parse_node_create(doc, &in, &e), 0);
	assert_int_equal(in.labels.n, 2);
	assert_string_equal(labels_get(&in.labels, "zone"), "a");
	assert_string_equal(labels_get(&in.labels, "example.com/role"), "");
	api_node_input_free(&in);
	cJSON_Delete(doc);
	assert_int_equal(
	    node_status_of("{\"hostname\":\"a\",\"ip\":\"10.0.0.1\",\"labels\":{\"-z\":\"a\"}}",
	                   &e),
	    422);
	assert_string_equal(e.msg, "label key \"-z\": the name must start and end with a letter or"
	                           " digit, with only letters, digits, '-', '_' and '.' between");
	assert_int_equal(
	    node_status_of("{\"hostname\":\"a\",\"ip\":\"10.0.0.1\",\"labels\":{\"z\":1}}", &e),
	    422);
	assert_int_equal(
	    node_status_of("{\"hostname\":\"a\",\"ip\":\"10.0.0.1\",\"labels\":[\"z\"]}", &e), 400);
	/* A merge patch: strings and nulls, checked; it is the store's to apply. */
	assert_int_equal(patch_status_of("{\"labels\":{\"zone\":\"b\",\"gone\":null}}", &pin, &e),
	                 0);
	assert_non_null(pin.labels); /* into the document, which the helper has freed */
	assert_int_equal(pin.status, -1);
	assert_int_equal(patch_status_of("{\"labels\":{}}", &pin, &e), 0);
	assert_int_equal(patch_status_of("{\"labels\":{\"zone\":\"b c\"}}", &pin, &e), 422);
	assert_int_equal(patch_status_of("{\"labels\":{\"zone\":[]}}", &pin, &e), 422);
	assert_int_equal(patch_status_of("{\"labels\":\"zone=b\"}", &pin, &e), 400);
}

/* selector, group_by and pause_between_groups of a new release. */
static void test_release_selector_fields(void **state)
{
	struct release_input in;
	struct api_error e;

	(void)state;
	assert_int_equal(release_status_of("{\"version\":1,\"batch_size\":1,\"selector\":"
	                                   "\"env=prod,role in (web,api)\",\"group_by\":\"zone\","
	                                   "\"pause_between_groups\":true}",
	                                   &in, &e),
	                 0);
	assert_non_null(in.sel);
	assert_int_equal(in.sel->n, 2);
	assert_string_equal(in.sel->reqs[0].key, "env");
	assert_string_equal(in.sel->reqs[1].values[1], "web");
	/* The texts point into the document, which the helper has freed: set, no more. */
	assert_non_null(in.selector_text);
	assert_non_null(in.group_by);
	assert_int_equal(in.pause_between_groups, 1);
	assert_null(in.node_ids);
	api_release_input_free(&in);
	assert_null(in.sel);
	assert_int_equal(release_status_of("{\"version\":1,\"batch_size\":1,\"selector\":\"a\","
	                                   "\"node_ids\":[1]}",
	                                   &in, &e),
	                 422);
	assert_string_equal(e.msg, "give node_ids or selector, not both");
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"selector\":\"\"}", &in, &e), 422);
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"selector\":\"x==a==b\"}", &in, &e),
	    422);
	assert_string_equal(e.msg, "selector: position 5: expected ',' or the end, found '=='");
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"selector\":7}", &in, &e), 400);
	assert_int_equal(
	    release_status_of("{\"version\":1,\"batch_size\":1,\"group_by\":\"a/b/c\"}", &in, &e),
	    422);
	assert_int_equal(release_status_of("{\"version\":1,\"batch_size\":1,"
	                                   "\"pause_between_groups\":true}",
	                                   &in, &e),
	                 422);
	assert_int_equal(release_status_of("{\"version\":1,\"batch_size\":1,"
	                                   "\"pause_between_groups\":1,\"group_by\":\"z\"}",
	                                   &in, &e),
	                 400);
	/* A release without them is as it was: no selector, no groups. */
	assert_int_equal(release_status_of("{\"version\":1,\"batch_size\":1}", &in, &e), 0);
	assert_null(in.sel);
	assert_null(in.group_by);
	assert_int_equal(in.pause_between_groups, 0);
	api_release_input_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_accepts_valid_bodies),
	    cmocka_unit_test(test_release_rejects_with_the_right_status),
	    cmocka_unit_test(test_release_plan_fields),
	    cmocka_unit_test(test_too_many_members_is_refused_fast),
	    cmocka_unit_test(test_node_rules),
	    cmocka_unit_test(test_node_patch_rules),
	    cmocka_unit_test(test_release_safety_fields),
	    cmocka_unit_test(test_alert_payloads),
	    cmocka_unit_test(test_decision),
	    cmocka_unit_test(test_node_labels),
	    cmocka_unit_test(test_release_selector_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
