/* Unit tests of the pure parts of notifications (internal/notify) and of the metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "metrics/metrics.h"
#include "notify/notify.h"

static void test_mask_url(void **state)
{
	char out[256];

	(void)state;
	notify_mask_url("https://user:pw@hooks.example:8443/x/y?token=abc#f", out, sizeof(out));
	assert_string_equal(out, "https://***@hooks.example:8443/x/y?***");
	notify_mask_url("http://127.0.0.1:9000/hook", out, sizeof(out));
	assert_string_equal(out, "http://127.0.0.1:9000/hook");
	notify_mask_url("https://hooks.example?key=1", out, sizeof(out));
	assert_string_equal(out, "https://hooks.example?***");
	notify_mask_url("not a url", out, sizeof(out));
	assert_string_equal(out, "***");
	/* Cut short, never past the buffer, and never the credentials. */
	notify_mask_url("https://user:secret@h/p", out, 12);
	assert_string_equal(out, "https://***");
}

/* The HMAC-SHA256 test vector of RFC 4231, test case 2. */
static void test_signature(void **state)
{
	char sig[72];

	(void)state;
	notify_signature("Jefe", "what do ya want for nothing?", 28, sig);
	assert_string_equal(
	    sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void fill(struct notification *n)
{
	memset(n, 0, sizeof(*n));
	strcpy(n->delivery_id, "0123456789abcdef0123456789abcdef");
	strcpy(n->event, "release.finished");
	strcpy(n->status, "failed");
	strcpy(n->created_at, "2026-12-01T10:00:00.000Z");
	n->release_id = n->release.id = 7;
	n->release.version = 42;
	n->release.total_nodes = 6;
	n->release.success_nodes = 3;
	n->release.failed_nodes = 1;
	n->skipped_nodes = 2;
	strcpy(n->release.created_by, "token:alice");
	strcpy(n->release.started_at, "2026-12-01T10:00:01.000Z");
	strcpy(n->release.finished_at, "2026-12-01T10:00:03.500Z");
}

static void test_payload(void **state)
{
	static struct notification n;
	char body[NOTIFY_BODY_MAX + 1];
	cJSON *doc;
	int len;

	(void)state;
	fill(&n);
	memset(n.first_error, 'e', sizeof(n.first_error) - 1); /* as long as it gets, and more */
	n.first_error[sizeof(n.first_error) - 1] = '\0';
	len = notify_payload(&n, 1796119200000LL, body, sizeof(body));
	assert_true(len > 0 && len <= NOTIFY_BODY_MAX);
	doc = cJSON_Parse(body);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(doc, "delivery_id")->valuestring, n.delivery_id);
	assert_int_equal(cJSON_GetObjectItem(doc, "release_id")->valueint, 7);
	assert_int_equal(cJSON_GetObjectItem(doc, "skipped_nodes")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(doc, "duration_ms")->valueint, 2500);
	assert_string_equal(cJSON_GetObjectItem(doc, "created_by")->valuestring, "token:alice");
	assert_null(strchr(cJSON_GetObjectItem(doc, "text")->valuestring, '\n'));
	assert_non_null(strstr(cJSON_GetObjectItem(doc, "text")->valuestring,
	                       "cmdb: release 7 (version 42) failed: 3 of 6 nodes succeeded"));
	cJSON_Delete(doc);
	/* Too small a buffer: no payload rather than a cut one. */
	assert_int_equal(notify_payload(&n, 0, body, 100), -1);
}

static void test_failure_classes(void **state)
{
	(void)state;
	assert_int_equal(metrics_failure_class("agent failed: simulated apply failure"),
	                 OUTCOME_AGENT_FAILED);
	assert_int_equal(metrics_failure_class("tls: server certificate not trusted (x)"),
	                 OUTCOME_TLS);
	assert_int_equal(metrics_failure_class("connect 127.0.1.7:9443: connection refused"),
	                 OUTCOME_UNREACHABLE);
	assert_int_equal(metrics_failure_class("connect 127.0.1.7:9443: timed out"),
	                 OUTCOME_TIMEOUT);
	assert_int_equal(metrics_failure_class("timeout: the task did not finish within 5 s"),
	                 OUTCOME_TIMEOUT);
	assert_int_equal(metrics_failure_class("agent dispatch: HTTP 503: busy (after 3 retries)"),
	                 OUTCOME_UNREACHABLE);
	assert_int_equal(metrics_failure_class("agent status: invalid JSON"), OUTCOME_PROTOCOL);
	assert_int_equal(metrics_failure_class(NULL), OUTCOME_PROTOCOL);
}

static void test_metrics_exposition(void **state)
{
	struct strbuf out = STRBUF_INIT;
	struct metrics_db_view db = {.ok = 1, .nstatus = 2, .by_status = {3, 1}};

	(void)state;
	metrics_node_outcome(OUTCOME_SUCCESS, 5);
	metrics_agent_call(CALL_POLL, CALL_OK, 30000); /* 30 ms */
	metrics_set_route_name(0, "GET /metrics");
	metrics_api_request(0, 200, 1500);
	metrics_api_request(0, 299, 1500); /* a status not in the list counts as "other" */
	metrics_write(&out, &db);
	assert_false(out.failed);
	assert_non_null(strstr(out.buf, "# TYPE cmdb_node_outcomes_total counter\n"));
	assert_non_null(strstr(out.buf, "cmdb_node_outcomes_total{class=\"success\"} 5\n"));
	assert_non_null(strstr(out.buf, "cmdb_releases{status=\"pending\"} 3\n"));
	/* Buckets are cumulative: 30 ms is in 0.05 and every bucket above it. */
	assert_non_null(strstr(
	    out.buf, "cmdb_agent_request_duration_seconds_bucket{kind=\"poll\",le=\"0.025\"} 0\n"));
	assert_non_null(strstr(
	    out.buf, "cmdb_agent_request_duration_seconds_bucket{kind=\"poll\",le=\"0.05\"} 1\n"));
	assert_non_null(strstr(
	    out.buf, "cmdb_agent_request_duration_seconds_bucket{kind=\"poll\",le=\"+Inf\"} 1\n"));
	assert_non_null(
	    strstr(out.buf, "cmdb_agent_request_duration_seconds_count{kind=\"poll\"} 1\n"));
	assert_non_null(
	    strstr(out.buf, "cmdb_api_requests_total{route=\"GET /metrics\",code=\"other\"} 1\n"));
	strbuf_free(&out);
}

static void test_log_json_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(log_json_escape("a\"b\\c\nd\x01\xc3\xa9", out, sizeof(out)), 28);
	assert_string_equal(out, "a\\\"b\\\\c\\nd\\u0001\\u00c3\\u00a9");
	/* Cut short when it does not fit, but always terminated. */
	assert_int_equal(log_json_escape("\"\"\"\"", out, 5), 8);
	assert_int_equal(strlen(out), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mask_url),        cmocka_unit_test(test_signature),
	    cmocka_unit_test(test_payload),
	    cmocka_unit_test(test_failure_classes), cmocka_unit_test(test_metrics_exposition),
	    cmocka_unit_test(test_log_json_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
