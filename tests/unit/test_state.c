/* Unit tests of the release and node state tables (internal/state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state/state.h"

#define P  RELEASE_PENDING
#define R  RELEASE_RUNNING
#define PA RELEASE_PAUSED
#define S  RELEASE_SUCCESS
#define F  RELEASE_FAILED
#define PT RELEASE_PARTIAL
#define C  RELEASE_CANCELLED
#define E  RELEASE_EXPIRED
#define AA RELEASE_AWAITING_APPROVAL
#define RJ RELEASE_REJECTED
#define NO (-1)

/*
 * The state machine of docs/architecture.md, written out in full: for each status (row)
 * and event (column), the status that follows, or NO where the change is refused.
 */
static const int want[RELEASE_STATUS_COUNT][RELEASE_EVENT_COUNT] = {
    /*      pause resume cancel approve reject claim plan halt succeed partial expire */
    [RELEASE_PENDING] = {PA, NO, C, NO, NO, R, NO, NO, NO, NO, E},
    [RELEASE_RUNNING] = {PA, NO, C, NO, NO, NO, PA, F, S, PT, NO},
    [RELEASE_PAUSED] = {PA, P, C, NO, NO, NO, NO, F, S, PT, E},
    [RELEASE_SUCCESS] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [RELEASE_FAILED] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [RELEASE_PARTIAL] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [RELEASE_CANCELLED] = {NO, NO, C, NO, NO, NO, NO, NO, NO, NO, NO},
    [RELEASE_EXPIRED] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO},
    [RELEASE_AWAITING_APPROVAL] = {NO, NO, C, P, RJ, NO, NO, NO, NO, NO, E},
    [RELEASE_REJECTED] = {NO, NO, NO, NO, RJ, NO, NO, NO, NO, NO, NO},
};

static void test_release_transitions(void **state)
{
	(void)state;
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++)
		for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++) {
			int got = release_next((enum release_status)s, (enum release_event)ev);

			if (got != want[s][ev])
				fail_msg("%s + %s: got %d, want %d",
				         release_status_name((enum release_status)s),
				         release_event_name((enum release_event)ev), got,
				         want[s][ev]);
		}
}

/* release_from lists, once each, exactly the statuses the table lets an event leave. */
static void test_release_from(void **state)
{
	enum release_status from[RELEASE_STATUS_COUNT];

	(void)state;
	for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++) {
		size_t n = release_from((enum release_event)ev, from), want_n = 0;

		for (int s = 0; s < RELEASE_STATUS_COUNT; s++) {
			size_t seen = 0;

			for (size_t i = 0; i < n; i++)
				seen += from[i] == (enum release_status)s;
			want_n += want[s][ev] != NO;
			if (seen != (want[s][ev] != NO))
				fail_msg("%s from %s: listed %zu times",
				         release_event_name((enum release_event)ev),
				         release_status_name((enum release_status)s), seen);
		}
		assert_int_equal(n, want_n);
	}
	/* What the store's expiry guards with, in this order. */
	assert_int_equal(release_from(RELEASE_EV_EXPIRE, from), 3);
	assert_int_equal(from[0], P);
	assert_int_equal(from[1], PA);
	assert_int_equal(from[2], AA);
}

/* A terminal status has no way out, and only running dispatches. */
static void test_release_properties(void **state)
{
	(void)state;
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++) {
		int way_out = 0;

		for (int ev = 0; ev < RELEASE_EVENT_COUNT; ev++) {
			int to = release_next((enum release_status)s, (enum release_event)ev);

			way_out |= to >= 0 && to != s;
		}
		assert_int_equal(release_is_terminal((enum release_status)s), !way_out);
		assert_int_equal(release_dispatches((enum release_status)s), s == RELEASE_RUNNING);
	}
	/* Every status is reachable from pending, and every non-terminal one can be cancelled. */
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++)
		if (!release_is_terminal((enum release_status)s))
			assert_int_equal(release_next((enum release_status)s, RELEASE_EV_CANCEL),
			                 RELEASE_CANCELLED);
}

static void test_refusal_names_the_state(void **state)
{
	char buf[256];

	(void)state;
	release_refusal(7, RELEASE_RUNNING, RELEASE_EV_RESUME, buf, sizeof(buf));
	assert_string_equal(buf, "cannot resume release 7: it is running; only a paused release"
	                         " can be resumed");
	release_refusal(8, RELEASE_SUCCESS, RELEASE_EV_CANCEL, buf, sizeof(buf));
	assert_string_equal(buf, "cannot cancel release 8: it is success; only a pending, running,"
	                         " paused or awaiting_approval release can be cancelled");
	release_refusal(10, RELEASE_PENDING, RELEASE_EV_APPROVE, buf, sizeof(buf));
	assert_string_equal(buf, "cannot approve release 10: it is pending; only an"
	                         " awaiting_approval release can be approved");
	release_refusal(9, RELEASE_FAILED, RELEASE_EV_PAUSE, buf, sizeof(buf));
	assert_string_equal(buf, "cannot pause release 9: it is failed; only a pending or running"
	                         " release can be paused");
	/* A short buffer is cut, never overrun. */
	assert_true(release_refusal(9, RELEASE_FAILED, RELEASE_EV_PAUSE, buf, 10) > 10);
	assert_int_equal(strlen(buf), 9);
}

/* Only an ended release can be rolled back; one that never dispatched has nothing to undo. */
static void test_rollback_rule(void **state)
{
	char list[256];

	(void)state;
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++) {
		enum release_rollback rule = release_rollback_rule((enum release_status)s);

		if (!release_is_terminal((enum release_status)s))
			assert_int_equal(rule, ROLLBACK_NOT_YET);
		else
			assert_int_not_equal(rule, ROLLBACK_NOT_YET);
	}
	assert_int_equal(release_rollback_rule(RELEASE_CANCELLED), ROLLBACK_ALLOWED);
	assert_int_equal(release_rollback_rule(RELEASE_EXPIRED), ROLLBACK_NOTHING);
	assert_int_equal(release_rollback_rule(RELEASE_REJECTED), ROLLBACK_NOTHING);
	release_status_list(list, sizeof(list));
	assert_string_equal(list, "pending, running, paused, success, failed, partial, cancelled,"
	                          " expired, awaiting_approval, rejected");
	release_status_list(list, 12);
	assert_string_equal(list, "pending, ru");
	node_status_list(list, sizeof(list));
	assert_string_equal(list, "pending, running, success, failed, skipped");
}

static void test_names_round_trip(void **state)
{
	(void)state;
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++)
		assert_int_equal(release_status_parse(release_status_name((enum release_status)s)),
		                 s);
	for (int s = 0; s < NODE_STATUS_COUNT; s++)
		assert_int_equal(node_status_parse(node_status_name((enum node_status)s)), s);
	assert_int_equal(release_status_parse("done"), -1);
	assert_int_equal(release_status_parse(NULL), -1);
	assert_int_equal(node_status_parse("Pending"), -1);
	assert_string_equal(release_status_name(RELEASE_STATUS_COUNT), "unknown");
}

static void test_node_transitions(void **state)
{
	enum node_status from[NODE_STATUS_COUNT];

	(void)state;
	assert_int_equal(node_next(NODE_PENDING, NODE_EV_DISPATCH), NODE_RUNNING);
	assert_int_equal(node_next(NODE_RUNNING, NODE_EV_SUCCEED), NODE_SUCCESS);
	assert_int_equal(node_next(NODE_RUNNING, NODE_EV_FAIL), NODE_FAILED);
	assert_int_equal(node_next(NODE_PENDING, NODE_EV_SKIP), NODE_SKIPPED);
	/* Nothing leaves a terminal node status, and a dispatched node is never skipped. */
	for (int ev = 0; ev < NODE_EVENT_COUNT; ev++) {
		assert_int_equal(node_next(NODE_SUCCESS, (enum node_event)ev), -1);
		assert_int_equal(node_next(NODE_FAILED, (enum node_event)ev), -1);
		assert_int_equal(node_next(NODE_SKIPPED, (enum node_event)ev), -1);
	}
	assert_int_equal(node_next(NODE_RUNNING, NODE_EV_SKIP), -1);
	assert_int_equal(node_next(NODE_RUNNING, NODE_EV_DISPATCH), -1);
	assert_int_equal(node_from(NODE_EV_FAIL, from), 2);
	assert_int_equal(from[0], NODE_RUNNING);
	assert_int_equal(from[1], NODE_PENDING);
	assert_int_equal(node_from(NODE_EV_SUCCEED, from), 1);
	assert_int_equal(from[0], NODE_RUNNING);
}

/* Calls batch_status with the counts pending, running, success, failed, skipped. */
static int batch_of(int pending, int running, int success, int failed, int skipped,
                    enum release_status release)
{
	const int count[NODE_STATUS_COUNT] = {[NODE_PENDING] = pending,
	                                      [NODE_RUNNING] = running,
	                                      [NODE_SUCCESS] = success,
	                                      [NODE_FAILED] = failed,
	                                      [NODE_SKIPPED] = skipped};

	return (int)batch_status(count, release);
}

/* The cases seen in real releases, each with what an operator expects to read. */
static void test_batch_status_cases(void **state)
{
	(void)state;
	/* The defect of issue 21: a rollback that ended success, 1 success and 1 skipped. */
	assert_int_equal(batch_of(0, 0, 1, 0, 1, S), NODE_SUCCESS);
	/* The same batch ended while its release still runs later batches. */
	assert_int_equal(batch_of(0, 0, 1, 0, 1, R), NODE_SUCCESS);
	assert_int_equal(batch_of(2, 0, 0, 0, 0, R), NODE_PENDING);
	/* A node skipped when the rollback was created: the batch has not begun. */
	assert_int_equal(batch_of(1, 0, 0, 0, 1, R), NODE_PENDING);
	assert_int_equal(batch_of(1, 1, 0, 0, 0, R), NODE_RUNNING);
	/* Between two dispatches, or paused half-way: it began and goes on. */
	assert_int_equal(batch_of(1, 0, 1, 0, 0, R), NODE_RUNNING);
	assert_int_equal(batch_of(1, 0, 1, 0, 0, PA), NODE_RUNNING);
	/* A failure shows at once, also while the rest of the batch still runs. */
	assert_int_equal(batch_of(0, 1, 0, 1, 0, R), NODE_FAILED);
	assert_int_equal(batch_of(0, 1, 0, 1, 0, F), NODE_FAILED);
	/* Halted: the next batch was skipped, or was cut short after a success. */
	assert_int_equal(batch_of(0, 0, 0, 0, 2, F), NODE_SKIPPED);
	assert_int_equal(batch_of(0, 0, 1, 0, 1, C), NODE_SUCCESS);
	/* A call still in flight after a cancel is followed to its end. */
	assert_int_equal(batch_of(0, 1, 1, 0, 0, C), NODE_RUNNING);
	/* Pending nodes of an ended release are never dispatched. */
	assert_int_equal(batch_of(2, 0, 0, 0, 0, RJ), NODE_SKIPPED);
	assert_int_equal(batch_of(1, 0, 1, 0, 0, C), NODE_SUCCESS);
	assert_int_equal(batch_of(2, 0, 0, 0, 0, AA), NODE_PENDING);
}

/*
 * Every combination of 0, 1 or 2 nodes in each status, in every release status, against
 * the contract in state.h, one sentence at a time.
 */
static void test_batch_status_every_combination(void **state)
{
	int c[NODE_STATUS_COUNT];

	(void)state;
	for (int code = 1; code < 243; code++) {
		for (int s = 0, k = code; s < NODE_STATUS_COUNT; s++, k /= 3)
			c[s] = k % 3;
		for (int rs = 0; rs < RELEASE_STATUS_COUNT; rs++) {
			enum release_status release = (enum release_status)rs;
			int terminal = release_is_terminal(release);
			int ended = batch_ended(c, release);
			enum node_status got = batch_status(c, release), expect;

			assert_int_equal(ended, c[NODE_RUNNING] == 0 &&
			                            (c[NODE_PENDING] == 0 || terminal));
			if (c[NODE_FAILED])
				expect = NODE_FAILED;
			else if (ended)
				expect = c[NODE_SUCCESS] ? NODE_SUCCESS : NODE_SKIPPED;
			else if (c[NODE_RUNNING] || c[NODE_SUCCESS])
				expect = NODE_RUNNING;
			else
				expect = NODE_PENDING;
			if (got != expect)
				fail_msg(
				    "%d pending, %d running, %d success, %d failed, %d skipped in"
				    " a %s release: got %s, want %s",
				    c[NODE_PENDING], c[NODE_RUNNING], c[NODE_SUCCESS],
				    c[NODE_FAILED], c[NODE_SKIPPED], release_status_name(release),
				    node_status_name(got), node_status_name(expect));
			/* What the console and `cmdb watch` rely on, stated on its own. */
			assert_false(ended && got == NODE_RUNNING);
			assert_false(terminal && got == NODE_PENDING);
			if (!c[NODE_FAILED] && !c[NODE_SKIPPED] && c[NODE_SUCCESS] && ended)
				assert_int_equal(got, NODE_SUCCESS);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_transitions),
	    cmocka_unit_test(test_release_from),
	    cmocka_unit_test(test_release_properties),
	    cmocka_unit_test(test_refusal_names_the_state),
	    cmocka_unit_test(test_rollback_rule),
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_node_transitions),
	    cmocka_unit_test(test_batch_status_cases),
	    cmocka_unit_test(test_batch_status_every_combination),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
