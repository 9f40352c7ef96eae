/* Unit tests of agentclient/protocol: every answer an agent can give is judged right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agentclient/protocol.h"

static enum agent_result dispatch(long status, const char *body, char *task, char *err)
{
	return agentproto_parse_dispatch(status, body, strlen(body), task, 65, err, 256);
}

static enum agent_result status_of(long status, const char *body, enum agent_task_state *st,
                                   char *err)
{
	return agentproto_parse_status(status, body, strlen(body), "t-1", st, err, 256);
}

static void test_dispatch_accepts_202_and_200(void **state)
{
	char task[65], err[256];

	(void)state;
	assert_int_equal(dispatch(202, "{\"task_id\":\"t-1\"}", task, err), AGENT_OK);
	assert_string_equal(task, "t-1");
	assert_int_equal(dispatch(200, "{\"task_id\":\"a.B:c_9-x\"}", task, err), AGENT_OK);
	assert_string_equal(task, "a.B:c_9-x");
}

static void test_dispatch_rejects_bad_answers(void **state)
{
	char task[65], err[256];

	(void)state;
	assert_int_equal(dispatch(202, "<html>", task, err), AGENT_E_PERMANENT);
	assert_string_equal(err, "agent dispatch: invalid JSON");
	assert_int_equal(dispatch(202, "{\"task_id\":\"bad id/../x\"}", task, err),
	                 AGENT_E_PERMANENT);
	assert_string_equal(err, "agent dispatch: missing or invalid task_id");
	assert_int_equal(dispatch(202, "{\"task_id\":7}", task, err), AGENT_E_PERMANENT);
	assert_int_equal(dispatch(202, "", task, err), AGENT_E_PERMANENT);
	assert_int_equal(dispatch(202, "{\"task_id\":\"", task, err), AGENT_E_PERMANENT);
}

static void test_dispatch_http_errors_are_classified(void **state)
{
	char task[65], err[256];

	(void)state;
	assert_int_equal(dispatch(500, "{\"error\":\"disk full\"}", task, err), AGENT_E_TRANSIENT);
	assert_string_equal(err, "agent dispatch: HTTP 500: disk full");
	assert_int_equal(dispatch(429, "", task, err), AGENT_E_TRANSIENT);
	assert_string_equal(err, "agent dispatch: HTTP 429: empty body");
	assert_int_equal(dispatch(409, "{\"error\":\"key reused\"}", task, err), AGENT_E_PERMANENT);
	assert_int_equal(dispatch(400, "plain\ntext", task, err), AGENT_E_PERMANENT);
	assert_string_equal(err, "agent dispatch: HTTP 400: plain?text");
}

static void test_status_states(void **state)
{
	enum agent_task_state st;
	char err[256];

	(void)state;
	assert_int_equal(status_of(200, "{\"task_id\":\"t-1\",\"status\":\"queued\"}", &st, err),
	                 AGENT_OK);
	assert_int_equal(st, AGENT_TASK_QUEUED);
	assert_int_equal(status_of(200, "{\"status\":\"running\"}", &st, err), AGENT_OK);
	assert_int_equal(st, AGENT_TASK_RUNNING);
	assert_int_equal(status_of(200, "{\"status\":\"success\",\"last_error\":\"\"}", &st, err),
	                 AGENT_OK);
	assert_int_equal(st, AGENT_TASK_SUCCESS);
	assert_int_equal(
	    status_of(200, "{\"status\":\"failed\",\"last_error\":\"nginx -t: bad\"}", &st, err),
	    AGENT_OK);
	assert_int_equal(st, AGENT_TASK_FAILED);
	assert_string_equal(err, "agent failed: nginx -t: bad");
}

static void test_status_protocol_errors(void **state)
{
	enum agent_task_state st;
	char err[256];

	(void)state;
	assert_int_equal(status_of(200, "<html>not json", &st, err), AGENT_E_PERMANENT);
	assert_string_equal(err, "agent status: invalid JSON");
	assert_int_equal(status_of(200, "{\"status\":\"exploded\"}", &st, err), AGENT_E_PERMANENT);
	assert_string_equal(err, "agent status: unknown status \"exploded\"");
	assert_int_equal(status_of(200, "{\"status\":\"SUCCESS\"}", &st, err), AGENT_E_PERMANENT);
	assert_int_equal(status_of(200, "{\"task_id\":\"t-2\",\"status\":\"success\"}", &st, err),
	                 AGENT_E_PERMANENT);
	assert_int_equal(status_of(200, "[]", &st, err), AGENT_E_PERMANENT);
	assert_int_equal(status_of(404, "{\"error\":\"unknown task\"}", &st, err),
	                 AGENT_E_PERMANENT);
	assert_string_equal(err, "agent status: task t-1 unknown to the agent (HTTP 404)");
	assert_int_equal(status_of(503, "", &st, err), AGENT_E_TRANSIENT);
}

static void test_validators_and_cleaning(void **state)
{
	char out[16], body[64];
	char longid[70];

	(void)state;
	memset(longid, 'a', 65);
	longid[65] = '\0';
	assert_true(agentproto_valid_task_id("t1-2.3:x_y"));
	assert_false(agentproto_valid_task_id(""));
	assert_false(agentproto_valid_task_id(longid));
	assert_false(agentproto_valid_task_id("a b"));
	assert_true(agentproto_valid_idem_key("cmdb-0123-r1-n2"));
	assert_false(agentproto_valid_idem_key("has space"));
	assert_false(agentproto_valid_idem_key(""));
	agentproto_clean_text("a\x01\xff"
	                      "bcdefghijklmnopqrst",
	                      22, out, sizeof(out));
	assert_string_equal(out, "a??bcdefghijklm");
	assert_int_equal(agentproto_dispatch_body(42, body, sizeof(body)),
	                 (int)strlen("{\"type\":\"apply_config\",\"version\":42}"));
	assert_string_equal(body, "{\"type\":\"apply_config\",\"version\":42}");
	assert_int_equal(agentproto_dispatch_body(42, body, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dispatch_accepts_202_and_200),
	    cmocka_unit_test(test_dispatch_rejects_bad_answers),
	    cmocka_unit_test(test_dispatch_http_errors_are_classified),
	    cmocka_unit_test(test_status_states),
	    cmocka_unit_test(test_status_protocol_errors),
	    cmocka_unit_test(test_validators_and_cleaning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
