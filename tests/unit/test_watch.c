/* Unit tests of the pure parts of `cmdb watch` (internal/watch): parsing and drawing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/strbuf.h"
#include "state/state.h"
#include "watch/watch.h"

/* A summary view as GET /api/v1/releases/7?view=summary answers it (trimmed). */
static const char summary[] =
    "{\"id\":7,\"version\":12,\"status\":\"running\",\"batch_count\":3,\"total_nodes\":5,"
    "\"success_nodes\":2,\"failed_nodes\":1,\"failure_allowance\":1,\"error_msg\":null,"
    "\"paused_reason\":null,\"waiting_for\":null,\"started_at\":\"2026-12-01T10:00:00.000Z\","
    "\"finished_at\":null,\"batches\":["
    "{\"batch\":1,\"status\":\"success\",\"total\":1,\"pending\":0,\"running\":0,\"success\":1,"
    "\"failed\":0,\"skipped\":0},"
    "{\"batch\":2,\"status\":\"failed\",\"total\":2,\"pending\":0,\"running\":0,\"success\":1,"
    "\"failed\":1,\"skipped\":0},"
    "{\"batch\":3,\"status\":\"running\",\"total\":2,\"pending\":1,\"running\":1,\"success\":0,"
    "\"failed\":0,\"skipped\":0}]}";

static void test_parse(void **state)
{
	struct watch_view v;
	char err[128];

	(void)state;
	assert_int_equal(watch_parse(summary, &v, err, sizeof(err)), 0);
	assert_int_equal(v.id, 7);
	assert_int_equal(v.version, 12);
	assert_int_equal(v.status, RELEASE_RUNNING);
	assert_int_equal(v.total, 5);
	assert_int_equal(v.success, 2);
	assert_int_equal(v.failed, 1);
	assert_int_equal(v.allowance, 1);
	assert_int_equal(v.nbatches, 3);
	assert_int_equal(v.batches[1].status, NODE_FAILED);
	assert_int_equal(v.batches[2].count[NODE_PENDING], 1);
	assert_int_equal(v.batches[2].count[NODE_RUNNING], 1);
	assert_string_equal(v.error, "");
	watch_view_free(&v);

	assert_int_equal(watch_parse("<html>", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
	assert_int_equal(watch_parse("{\"error\":\"no such resource\"}", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a release"));
	assert_int_equal(watch_parse("{\"id\":1,\"status\":\"sleeping\"}", &v, err, sizeof(err)),
	                 -1);
}

static void test_first_failure(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(
	    watch_first_failure(
	        "{\"batches\":[{\"batch\":1,\"nodes\":[{\"node_id\":3,\"status\":\"success\"}]},"
	        "{\"batch\":2,\"nodes\":[{\"node_id\":9,\"hostname\":\"web-9\",\"node_ip\":\"10.0."
	        "0.9\","
	        "\"agent_port\":8443,\"status\":\"failed\",\"error_msg\":\"apply failed: disk "
	        "full\"},"
	        "{\"node_id\":10,\"status\":\"failed\",\"error_msg\":\"second\"}]}]}",
	        out, sizeof(out)),
	    0);
	assert_string_equal(out, "batch 2 node 9 web-9 10.0.0.9:8443: apply failed: disk full");
	assert_int_equal(watch_first_failure("{\"batches\":[{\"batch\":1,\"nodes\":[{\"node_id\":4,"
	                                     "\"hostname\":\"db-4\",\"node_ip\":\"fd00::4\","
	                                     "\"agent_port\":9443,\"status\":\"failed\"}]}]}",
	                                     out, sizeof(out)),
	                 0);
	assert_string_equal(out, "batch 1 node 4 db-4 [fd00::4]:9443: failed");
	assert_int_equal(watch_first_failure("{\"batches\":[]}", out, sizeof(out)), -1);
	assert_int_equal(watch_first_failure("not json", out, sizeof(out)), -1);
}

/* The line of out that starts with prefix, or NULL; copied into line. */
static const char *line_of(const char *out, const char *prefix, char *line, size_t len)
{
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			size_t n = strcspn(p, "\n");

			snprintf(line, len, "%.*s", (int)n, p);
			return line;
		}
	}
	return NULL;
}

static void test_render(void **state)
{
	struct watch_view v;
	struct strbuf out = STRBUF_INIT;
	char err[128], line[256], want[256];

	(void)state;
	assert_int_equal(watch_parse(summary, &v, err, sizeof(err)), 0);
	watch_render(&v, "batch 2 node 9 web-9 10.0.0.9:8443: disk full", 100, 0, &out);
	assert_non_null(line_of(out.buf, "release 7 running:", line, sizeof(line)));
	assert_string_equal(line, "release 7 running: version 12, 2 of 5 nodes succeeded, 1 failed"
	                          " (1 tolerated)");
	/* 30 cells at 100 columns: one status fills them all. */
	snprintf(want, sizeof(want), "batch 1   success  [%s] 1 success of 1",
	         "##############################");
	assert_non_null(line_of(out.buf, "batch 1 ", line, sizeof(line)));
	assert_string_equal(line, want);
	/* Shares in the order success, failed, ..., pending; 30 cells in all. */
	assert_non_null(line_of(out.buf, "batch 2 ", line, sizeof(line)));
	assert_string_equal(line, "batch 2   failed   [###############xxxxxxxxxxxxxxx] 1 success,"
	                          " 1 failed of 2");
	assert_non_null(line_of(out.buf, "batch 3 ", line, sizeof(line)));
	assert_string_equal(line, "batch 3   running  [>>>>>>>>>>>>>>>...............] 1 running,"
	                          " 1 pending of 2");
	assert_non_null(line_of(out.buf, "first error: ", line, sizeof(line)));
	assert_null(strchr(out.buf, '\033'));

	/* Colours wrap each run of one status. */
	strbuf_reset(&out);
	watch_render(&v, "", 100, 1, &out);
	assert_non_null(strstr(out.buf, "\033[32m#"));
	assert_non_null(strstr(out.buf, "\033[31mx"));
	assert_null(strstr(out.buf, "first error"));

	/* A narrow terminal: no line is longer than it. */
	strbuf_reset(&out);
	watch_render(&v,
	             "batch 2 node 9 web-9 10.0.0.9:8443: a very long error that goes on and on",
	             40, 0, &out);
	for (const char *p = out.buf; *p; p += strcspn(p, "\n") + 1)
		assert_true(strcspn(p, "\n") < 40);
	strbuf_free(&out);
	watch_view_free(&v);
}

static void test_render_folds_many_batches(void **state)
{
	struct watch_view v = {.id = 3, .version = 1, .status = RELEASE_RUNNING, .total = 40};
	struct strbuf out = STRBUF_INIT;
	char line[256];
	size_t lines = 0;

	(void)state;
	v.nbatches = 20;
	v.batches = calloc(v.nbatches, sizeof(*v.batches));
	assert_non_null(v.batches);
	for (size_t i = 0; i < v.nbatches; i++) {
		v.batches[i].batch = (int)i + 1;
		v.batches[i].total = 2;
		if (i < 15) {
			v.batches[i].status = NODE_SUCCESS;
			v.batches[i].count[NODE_SUCCESS] = 2;
		} else {
			v.batches[i].status = NODE_PENDING;
			v.batches[i].count[NODE_PENDING] = 2;
		}
	}
	watch_render(&v, NULL, 80, 0, &out);
	assert_non_null(line_of(out.buf, "batches 1-8 ended", line, sizeof(line)));
	assert_null(line_of(out.buf, "batch 8 ", line, sizeof(line)));
	assert_non_null(line_of(out.buf, "batch 9 ", line, sizeof(line)));
	assert_non_null(line_of(out.buf, "batch 20 ", line, sizeof(line)));
	for (const char *p = out.buf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 1 + 1 + 12); /* head, the fold, a screenful of bars */
	strbuf_free(&out);
	watch_view_free(&v);
}

static void test_head_and_exit_codes(void **state)
{
	struct watch_view v = {.id = 5, .version = 2, .status = RELEASE_PAUSED, .total = 4};
	struct strbuf out = STRBUF_INIT;

	(void)state;
	snprintf(v.paused_reason, sizeof(v.paused_reason), "paused after batch 1 (pause_after)");
	watch_head(&v, &out);
	assert_string_equal(out.buf, "release 5 paused: version 2, 0 of 4 nodes succeeded; paused"
	                             " after batch 1 (pause_after)");
	strbuf_free(&out);
	assert_int_equal(watch_exit_code(RELEASE_SUCCESS), WATCH_EXIT_SUCCESS);
	assert_int_equal(watch_exit_code(RELEASE_FAILED), WATCH_EXIT_FAILED);
	assert_int_equal(watch_exit_code(RELEASE_PARTIAL), WATCH_EXIT_PARTIAL);
	assert_int_equal(watch_exit_code(RELEASE_CANCELLED), WATCH_EXIT_CANCELLED);
	assert_int_equal(watch_exit_code(RELEASE_EXPIRED), WATCH_EXIT_NOT_RUN);
	assert_int_equal(watch_exit_code(RELEASE_REJECTED), WATCH_EXIT_NOT_RUN);
	/* Every status the table calls terminal has an exit code; no other does. */
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++)
		assert_int_equal(watch_exit_code(s) >= 0,
		                 release_is_terminal((enum release_status)s));
}

/*
 * A two-batch summary view of release 7 in status, finished or not; each batch as
 * "pending running success failed skipped" counts, with the status the API gives it.
 */
static void two_batches(struct watch_view *v, const char *status, int finished, const char *error,
                        const char *b1, const char *st1, const char *b2, const char *st2)
{
	char body[2048], err[128];
	int c[2][5];

	assert_int_equal(
	    sscanf(b1, "%d %d %d %d %d", &c[0][0], &c[0][1], &c[0][2], &c[0][3], &c[0][4]), 5);
	assert_int_equal(
	    sscanf(b2, "%d %d %d %d %d", &c[1][0], &c[1][1], &c[1][2], &c[1][3], &c[1][4]), 5);
	snprintf(body, sizeof(body),
	         "{\"id\":7,\"version\":12,\"status\":\"%s\",\"total_nodes\":4,"
	         "\"success_nodes\":%d,\"failed_nodes\":%d,\"error_msg\":%s%s%s,"
	         "\"finished_at\":%s,\"batches\":["
	         "{\"batch\":1,\"status\":\"%s\",\"total\":2,\"pending\":%d,\"running\":%d,"
	         "\"success\":%d,\"failed\":%d,\"skipped\":%d},"
	         "{\"batch\":2,\"status\":\"%s\",\"total\":2,\"pending\":%d,\"running\":%d,"
	         "\"success\":%d,\"failed\":%d,\"skipped\":%d}]}",
	         status, c[0][2] + c[1][2], c[0][3] + c[1][3], error ? "\"" : "",
	         error ? error : "null", error ? "\"" : "",
	         finished ? "\"2026-12-01T10:01:00.000Z\"" : "null", st1, c[0][0], c[0][1], c[0][2],
	         c[0][3], c[0][4], st2, c[1][0], c[1][1], c[1][2], c[1][3], c[1][4]);
	assert_int_equal(watch_parse(body, v, err, sizeof(err)), 0);
}

/* Plain mode: things are told in the order they happened, and the release's end is last. */
static void test_changes_in_order(void **state)
{
	struct watch_view a, b;
	struct strbuf out = STRBUF_INIT;

	(void)state;
	two_batches(&a, "running", 0, NULL, "0 2 0 0 0", "running", "2 0 0 0 0", "pending");
	watch_changes(NULL, &a, "", 0, &out);
	assert_string_equal(out.buf, "release 7 running: version 12, 0 of 4 nodes succeeded\n"
	                             "batch 1 of 2 started: 2 nodes\n");
	watch_view_free(&a);

	/* Issue 21: the last batch's line came after "release 7 success". */
	strbuf_reset(&out);
	two_batches(&a, "running", 0, NULL, "0 0 2 0 0", "success", "0 2 0 0 0", "running");
	two_batches(&b, "success", 1, NULL, "0 0 2 0 0", "success", "0 0 2 0 0", "success");
	watch_changes(&a, &b, "", 0, &out);
	assert_string_equal(out.buf, "batch 2 of 2 success: 2 success of 2\n"
	                             "release 7 success: version 12, 4 of 4 nodes succeeded\n"
	                             "release 7 success\n");
	watch_view_free(&a);
	watch_view_free(&b);

	/* Halted with a call in flight: failed at once, ended only when that call ends. */
	strbuf_reset(&out);
	two_batches(&a, "running", 0, NULL, "0 2 0 0 0", "running", "2 0 0 0 0", "pending");
	two_batches(&b, "failed", 0, "release failed: batch 1 node 5", "0 1 0 1 0", "failed",
	            "0 0 0 0 2", "skipped");
	watch_changes(&a, &b, "batch 1 node 5 web-5 10.0.0.5:8443: disk full", 0, &out);
	assert_string_equal(out.buf,
	                    "batch 2 of 2 skipped: 2 skipped of 2\n"
	                    "release 7 failed: version 12, 0 of 4 nodes succeeded, 1 failed,"
	                    " 2 skipped\n"
	                    "first error: batch 1 node 5 web-5 10.0.0.5:8443: disk full\n");
	watch_view_free(&a);
	strbuf_reset(&out);
	two_batches(&a, "failed", 1, "release failed: batch 1 node 5", "0 0 1 1 0", "failed",
	            "0 0 0 0 2", "skipped");
	watch_changes(&b, &a, "batch 1 node 5 web-5 10.0.0.5:8443: disk full", 1, &out);
	assert_string_equal(out.buf, "batch 1 of 2 failed: 1 success, 1 failed of 2\n"
	                             "release 7 failed: release failed: batch 1 node 5\n");
	watch_view_free(&a);
	watch_view_free(&b);

	/* A rollback's node skipped when it was made: batch 2 begins when its other node does. */
	strbuf_reset(&out);
	two_batches(&a, "running", 0, NULL, "0 2 0 0 0", "running", "1 0 0 0 1", "pending");
	watch_changes(NULL, &a, "", 0, &out);
	assert_string_equal(out.buf, "release 7 running: version 12, 0 of 4 nodes succeeded,"
	                             " 1 skipped\n"
	                             "batch 1 of 2 started: 2 nodes\n");
	strbuf_reset(&out);
	two_batches(&b, "running", 0, NULL, "0 0 2 0 0", "success", "0 1 0 0 1", "running");
	watch_changes(&a, &b, "", 0, &out);
	assert_string_equal(out.buf, "batch 1 of 2 success: 2 success of 2\n"
	                             "batch 2 of 2 started: 2 nodes\n");
	watch_view_free(&a);
	strbuf_reset(&out);
	two_batches(&a, "success", 1, NULL, "0 0 2 0 0", "success", "0 0 1 0 1", "success");
	watch_changes(&b, &a, "", 0, &out);
	assert_string_equal(out.buf, "batch 2 of 2 success: 1 success, 1 skipped of 2\n"
	                             "release 7 success: version 12, 3 of 4 nodes succeeded,"
	                             " 1 skipped\n"
	                             "release 7 success\n");
	watch_view_free(&a);
	watch_view_free(&b);
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_first_failure),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_render_folds_many_batches),
	    cmocka_unit_test(test_head_and_exit_codes),
	    cmocka_unit_test(test_changes_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
