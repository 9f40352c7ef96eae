/*
 * Unit tests of internal/release/decide: the runner's decisions, case by case, and the
 * table of its phases. The runner only applies these; a new rule is a new case here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/backoff.h"
#include "release/decide.h"
#include "release/runner_internal.h"

/* A view of a release in status s with nodes counted p(ending) r s f k(skipped). */
static struct release_view view(enum release_status s, size_t p, size_t r, size_t ok, size_t f,
                                size_t k)
{
	struct release_view v = {.status = s, .event = -1, .phase = RUN_DRIVING};

	v.count[NODE_PENDING] = p;
	v.count[NODE_RUNNING] = r;
	v.count[NODE_SUCCESS] = ok;
	v.count[NODE_FAILED] = f;
	v.count[NODE_SKIPPED] = k;
	return v;
}

static void test_phases_gone_absorb(void **state)
{
	(void)state;
	for (int p = 0; p < RUN_PHASE_COUNT; p++) {
		for (int ev = 0; ev < RUN_PHASE_EVENT_COUNT; ev++) {
			enum run_phase to =
			    release_phase_next((enum run_phase)p, (enum run_phase_event)ev);

			if (release_phase_gone((enum run_phase)p))
				assert_int_equal(to, p); /* over is over */
			/* Only a write makes a runner finished or handed back. */
			if (!release_phase_gone((enum run_phase)p) &&
			    (to == RUN_FINISHED || to == RUN_HANDED_BACK))
				assert_int_equal(ev, RUN_EV_WRITTEN);
			if (!release_phase_gone((enum run_phase)p) && ev == RUN_EV_LOSE)
				assert_int_equal(to, RUN_LEASE_LOST);
			if (!release_phase_gone((enum run_phase)p) && ev == RUN_EV_ABANDON)
				assert_int_equal(to, RUN_ABANDONED);
		}
		assert_string_not_equal(release_phase_name((enum run_phase)p), "unknown");
	}
	assert_int_equal(release_phase_gone(RUN_FINISHED), 1);
	assert_int_equal(release_phase_gone(RUN_HANDED_BACK), 1);
	assert_int_equal(release_phase_gone(RUN_LEASE_LOST), 1);
	assert_int_equal(release_phase_gone(RUN_ABANDONED), 1);
	assert_int_equal(release_phase_gone(RUN_STOPPING), 0);
}

static void test_phases_writes(void **state)
{
	(void)state;
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_WRITTEN), RUN_DRIVING);
	assert_int_equal(release_phase_next(RUN_ENDING, RUN_EV_WRITTEN), RUN_FINISHED);
	assert_int_equal(release_phase_next(RUN_HANDING_BACK, RUN_EV_WRITTEN), RUN_HANDED_BACK);
	assert_int_equal(release_phase_next(RUN_STOPPING, RUN_EV_WRITTEN), RUN_HANDED_BACK);
}

static void test_phases_stop(void **state)
{
	(void)state;
	/* A decided end is written as finished, not handed back, even by a shutdown. */
	assert_int_equal(release_phase_next(RUN_ENDING, RUN_EV_STOP), RUN_ENDING);
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_STOP), RUN_STOPPING);
	assert_int_equal(release_phase_next(RUN_HANDING_BACK, RUN_EV_STOP), RUN_STOPPING);
	/* What the database says during a stop does not undo the stop. */
	assert_int_equal(release_phase_next(RUN_STOPPING, RUN_EV_SEEN_RESUMED), RUN_STOPPING);
	assert_int_equal(release_phase_next(RUN_STOPPING, RUN_EV_SEEN_OTHER), RUN_STOPPING);
	/* An end found moot during a stop: undone, then the stop hands it back. */
	assert_int_equal(
	    release_phase_next(release_phase_next(RUN_ENDING, RUN_EV_UNDO_END), RUN_EV_STOP),
	    RUN_STOPPING);
}

static void test_phases_seen(void **state)
{
	(void)state;
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_SEEN_RESUMED), RUN_HANDING_BACK);
	assert_int_equal(release_phase_next(RUN_ENDING, RUN_EV_SEEN_RESUMED), RUN_HANDING_BACK);
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_SEEN_OTHER), RUN_DRIVING);
	assert_int_equal(release_phase_next(RUN_ENDING, RUN_EV_SEEN_OTHER), RUN_ENDING);
	/* Handing back a drained paused release, then it is cancelled: drive it to its end. */
	assert_int_equal(release_phase_next(RUN_HANDING_BACK, RUN_EV_SEEN_OTHER), RUN_DRIVING);
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_END), RUN_ENDING);
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_HAND_BACK), RUN_HANDING_BACK);
	assert_int_equal(release_phase_next(RUN_ENDING, RUN_EV_UNDO_END), RUN_DRIVING);
	assert_int_equal(release_phase_next(RUN_DRIVING, RUN_EV_UNDO_END), RUN_DRIVING);
}

static void test_effective(void **state)
{
	struct release_view v = view(RELEASE_RUNNING, 1, 1, 0, 0, 0);

	(void)state;
	assert_int_equal(release_effective(&v), RELEASE_RUNNING);
	v.event = RELEASE_EV_HALT;
	assert_int_equal(release_effective(&v), RELEASE_FAILED);
	v.event = RELEASE_EV_PLAN_PAUSE;
	assert_int_equal(release_effective(&v), RELEASE_PAUSED);
	v.status = RELEASE_CANCELLED; /* no such transition: the status stands */
	assert_int_equal(release_effective(&v), RELEASE_CANCELLED);
}

/* nodes in batch order: batch[i] and status[i]. */
static struct rnode *nodes(const int *batch, const enum node_status *st, size_t n)
{
	struct rnode *x = calloc(n, sizeof(*x));

	assert_non_null(x);
	for (size_t i = 0; i < n; i++) {
		x[i].batch = batch[i];
		x[i].status = st[i];
	}
	return x;
}

static void test_current_batch(void **state)
{
	const int batch[] = {1, 1, 2, 2, 2, 3};
	const enum node_status st[] = {NODE_SUCCESS, NODE_FAILED,  NODE_SUCCESS,
	                               NODE_RUNNING, NODE_PENDING, NODE_PENDING};
	struct rnode *x = nodes(batch, st, 6);
	size_t first = 0, end;

	(void)state;
	end = release_current_batch(x, 6, &first);
	/* Batch 1 ended: batch 2 is current, from its first node that has not ended. */
	assert_int_equal(first, 3);
	assert_int_equal(end, 5);
	assert_int_equal(release_batch_started(x, first, end), 1);
	assert_int_equal(release_batch_started(x, 5, 6), 0);
	/* The batch ends: the next one is current. */
	x[3].status = NODE_SUCCESS;
	x[4].status = NODE_SKIPPED;
	end = release_current_batch(x, 6, &first);
	assert_int_equal(first, 5);
	assert_int_equal(end, 6);
	/* Every node ended. */
	x[5].status = NODE_SKIPPED;
	end = release_current_batch(x, 6, &first);
	assert_int_equal(first, 6);
	assert_int_equal(end, 6);
	free(x);
}

static void test_batch_started(void **state)
{
	const int batch[] = {1, 2, 2, 2, 3, 3};
	enum node_status st[] = {NODE_SUCCESS, NODE_SUCCESS, NODE_PENDING,
	                         NODE_PENDING, NODE_SKIPPED, NODE_PENDING};
	struct rnode *x = nodes(batch, st, 6);
	size_t first = 0, end;

	(void)state;
	/*
	 * Batch 2's first node ended before its others got a call slot: the batch is under
	 * way although every node from the current one on is pending (a runner that took
	 * the release over must not record its start again, nor pause before it).
	 */
	end = release_current_batch(x, 6, &first);
	assert_int_equal(first, 2);
	assert_int_equal(release_batch_started(x, first, end), 1);
	/* Skipped nodes alone never make a batch started. */
	x[2].status = x[3].status = NODE_SKIPPED;
	end = release_current_batch(x, 6, &first);
	assert_int_equal(first, 5);
	assert_int_equal(release_batch_started(x, first, end), 0);
	/* A batch whose nodes were all skipped so far, then one dispatched: started. */
	x[5].status = NODE_RUNNING;
	assert_int_equal(release_batch_started(x, first, end), 1);
	free(x);
}

static void test_step(void **state)
{
	struct release_boundary b = {0}, pause = {.due_pause = 1};
	struct release_boundary started = {.started = 1, .due_pause = 1};
	struct release_view v;

	(void)state;
	v = view(RELEASE_RUNNING, 3, 0, 2, 0, 0);
	assert_int_equal(release_decide_step(&v, &b), STEP_DISPATCH);
	assert_int_equal(release_decide_step(&v, &pause), STEP_PLAN_PAUSE);
	/* A pause_after applies between batches only, never to a batch under way. */
	assert_int_equal(release_decide_step(&v, &started), STEP_DISPATCH);
	/* A change of status waits for its write before anything else is decided. */
	v.event = RELEASE_EV_HALT;
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	/* ...but the end is decided with it: a halt and the finish go in one write. */
	v = view(RELEASE_RUNNING, 0, 0, 2, 1, 0);
	v.event = RELEASE_EV_HALT;
	assert_int_equal(release_decide_step(&v, &b), STEP_END);
	/* Not driving: nothing. */
	v = view(RELEASE_RUNNING, 3, 0, 0, 0, 0);
	v.phase = RUN_HANDING_BACK;
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	v.phase = RUN_ENDING;
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	/* Paused: hand back once drained, follow the calls in flight until then. */
	v = view(RELEASE_PAUSED, 3, 0, 1, 0, 0);
	assert_int_equal(release_decide_step(&v, &b), STEP_HAND_BACK);
	v = view(RELEASE_PAUSED, 3, 2, 1, 0, 0);
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	/* A plan pause decided, not written: it is handed back with that write instead. */
	v = view(RELEASE_RUNNING, 3, 0, 1, 0, 0);
	v.event = RELEASE_EV_PLAN_PAUSE;
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	/* Cancelled with calls in flight: follow them, dispatch nothing. */
	v = view(RELEASE_CANCELLED, 0, 2, 1, 0, 3);
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	v = view(RELEASE_CANCELLED, 0, 0, 3, 0, 3);
	assert_int_equal(release_decide_step(&v, &b), STEP_END);
	/* Pending (resumed, not claimed yet) dispatches nothing. */
	v = view(RELEASE_PENDING, 3, 0, 0, 0, 0);
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
}

static void test_end(void **state)
{
	struct release_view v;
	int none;

	(void)state;
	v = view(RELEASE_RUNNING, 0, 0, 5, 0, 0);
	assert_int_equal(release_decide_end(&v, &none), RELEASE_EV_SUCCEED);
	assert_int_equal(none, 0);
	v = view(RELEASE_RUNNING, 0, 0, 4, 1, 0);
	assert_int_equal(release_decide_end(&v, &none), RELEASE_EV_END_PARTIAL);
	/* Skipped nodes (offline at their turn) beside successes: a success. */
	v = view(RELEASE_RUNNING, 0, 0, 4, 0, 2);
	assert_int_equal(release_decide_end(&v, &none), RELEASE_EV_SUCCEED);
	/* Every node skipped: nothing was applied at all, which is a failure. */
	v = view(RELEASE_RUNNING, 0, 0, 0, 0, 6);
	assert_int_equal(release_decide_end(&v, &none), RELEASE_EV_HALT);
	assert_int_equal(none, 1);
	/* Calls in flight when it paused completed the last batch: it ends from paused. */
	v = view(RELEASE_PAUSED, 0, 0, 6, 0, 0);
	assert_int_equal(release_decide_end(&v, &none), RELEASE_EV_SUCCEED);
	/* Already an end: only the finish is written. */
	v = view(RELEASE_CANCELLED, 0, 0, 2, 0, 4);
	assert_int_equal(release_decide_end(&v, &none), -1);
	v = view(RELEASE_RUNNING, 0, 0, 2, 1, 3);
	v.event = RELEASE_EV_HALT;
	assert_int_equal(release_decide_end(&v, &none), -1);
	/* No node at all: nothing failed. */
	v = view(RELEASE_RUNNING, 0, 0, 0, 0, 0);
	assert_int_equal(release_decide_end(&v, &none), RELEASE_EV_SUCCEED);
}

static void test_halt(void **state)
{
	struct release_view v;

	(void)state;
	v = view(RELEASE_RUNNING, 3, 1, 0, 1, 0);
	assert_int_equal(release_decide_halt(&v), 1); /* the first failure, no allowance */
	v.allowance = 1;
	assert_int_equal(release_decide_halt(&v), 0);
	v.count[NODE_FAILED] = 2;
	assert_int_equal(release_decide_halt(&v), 1);
	v.status = RELEASE_PAUSED; /* a call in flight when it paused may still fail it */
	assert_int_equal(release_decide_halt(&v), 1);
	v.status = RELEASE_CANCELLED; /* an operator's end stands */
	assert_int_equal(release_decide_halt(&v), 0);
	v.status = RELEASE_RUNNING;
	v.event = RELEASE_EV_HALT; /* halted once, not twice */
	assert_int_equal(release_decide_halt(&v), 0);
}

static void test_adopt(void **state)
{
	struct release_view v;
	struct release_adopt a;

	(void)state;
	/* Paused by an operator: unwritten intents go back, nothing else. */
	v = view(RELEASE_RUNNING, 3, 2, 0, 0, 0);
	a = release_decide_adopt(&v, RELEASE_PAUSED);
	assert_true(a.drop_intents && !a.drop_event && !a.skip_pending);
	assert_int_equal(a.phase, RUN_DRIVING);
	/* Cancelled: the cancel skipped the pending nodes in its own transaction. */
	a = release_decide_adopt(&v, RELEASE_CANCELLED);
	assert_true(a.drop_intents && a.skip_pending);
	/* A halt decided here is moot once the operator cancelled first. */
	v.event = RELEASE_EV_HALT;
	a = release_decide_adopt(&v, RELEASE_CANCELLED);
	assert_true(a.drop_event);
	/* A success decided from running still holds from paused. */
	v = view(RELEASE_RUNNING, 0, 0, 3, 0, 0);
	v.event = RELEASE_EV_SUCCEED;
	v.phase = RUN_ENDING;
	a = release_decide_adopt(&v, RELEASE_PAUSED);
	assert_false(a.drop_event);
	assert_int_equal(a.phase, RUN_ENDING);
	/* ...but not once it was paused and resumed: handed back, the next owner ends it. */
	a = release_decide_adopt(&v, RELEASE_PENDING);
	assert_true(a.drop_event);
	assert_int_equal(a.phase, RUN_HANDING_BACK);
	/* Resumed while draining: hand it back so that it is claimed again. */
	v = view(RELEASE_PAUSED, 3, 1, 0, 0, 0);
	a = release_decide_adopt(&v, RELEASE_PENDING);
	assert_true(a.drop_intents);
	assert_int_equal(a.phase, RUN_HANDING_BACK);
	/* Failed by another path (a halt written elsewhere): pending nodes were skipped. */
	v = view(RELEASE_RUNNING, 3, 1, 0, 0, 0);
	a = release_decide_adopt(&v, RELEASE_FAILED);
	assert_true(a.skip_pending && a.drop_intents);
	/* Running again (claimed after a resume): nothing to take back. */
	v = view(RELEASE_PENDING, 3, 0, 0, 0, 0);
	a = release_decide_adopt(&v, RELEASE_RUNNING);
	assert_false(a.drop_intents || a.skip_pending || a.drop_event);
}

static void test_due_pause(void **state)
{
	const int pauses[] = {1, 3};

	(void)state;
	assert_int_equal(release_due_pause(pauses, 2, 0, 1), 0);
	assert_int_equal(release_due_pause(pauses, 2, 0, 2), 1);
	assert_int_equal(release_due_pause(pauses, 2, 1, 2), 0); /* paused there already */
	assert_int_equal(release_due_pause(pauses, 2, 1, 4), 3);
	/* Resumed after a pause at 1 while batch 4 is next: the pause at 3 still holds. */
	assert_int_equal(release_due_pause(pauses, 2, 0, 4), 3);
	assert_int_equal(release_due_pause(pauses, 2, 3, 4), 0);
	assert_int_equal(release_due_pause(NULL, 0, 0, 9), 0);
}

/*
 * pause_between_groups: the release pauses (group_done) at the end of each group but the
 * last, between batches only, once per group; with a pause_after due as well, the later
 * batch's pause wins, and a group's end wins a tie.
 */
static void test_group_pause(void **state)
{
	/* Groups of batches 1-2, 3, 4-6 and 7: the release pauses after 2, 3 and 6. */
	const int ends[] = {2, 3, 6};
	struct release_boundary b = {0};
	struct release_view v = view(RELEASE_RUNNING, 5, 0, 2, 0, 0);

	(void)state;
	assert_int_equal(release_due_pause(ends, 3, 0, 2), 0); /* inside the first group */
	assert_int_equal(release_due_pause(ends, 3, 0, 3), 2);
	assert_int_equal(release_due_pause(ends, 3, 2, 3), 0); /* resumed: it paused there */
	assert_int_equal(release_due_pause(ends, 3, 2, 4), 3);
	assert_int_equal(release_due_pause(ends, 3, 3, 5), 0); /* a group of three batches */
	assert_int_equal(release_due_pause(ends, 3, 3, 7), 6);
	assert_int_equal(release_due_pause(ends, 3, 6, 8), 0); /* the last group ends it */
	b.due_group = release_due_pause(ends, 3, 0, 3);
	assert_int_equal(release_decide_step(&v, &b), STEP_GROUP_PAUSE);
	/* A group's first batch under way (resumed after the pause): dispatch goes on. */
	b.started = 1;
	assert_int_equal(release_decide_step(&v, &b), STEP_DISPATCH);
	b.started = 0;
	/* A pause_after at the same batch: one pause, group_done. */
	b.due_pause = 2;
	assert_int_equal(release_decide_step(&v, &b), STEP_GROUP_PAUSE);
	/* A pause_after behind a group's end (after 1, group 1-2): the later one. */
	b.due_pause = 1;
	assert_int_equal(release_decide_step(&v, &b), STEP_GROUP_PAUSE);
	b = (struct release_boundary){.due_pause = 3, .due_group = 2};
	assert_int_equal(release_decide_step(&v, &b), STEP_PLAN_PAUSE);
	/* Paused or cancelled: no pause is decided, nothing is dispatched. */
	v = view(RELEASE_PAUSED, 5, 1, 2, 0, 0);
	b = (struct release_boundary){.due_group = 2};
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	v = view(RELEASE_CANCELLED, 0, 1, 2, 0, 5);
	assert_int_equal(release_decide_step(&v, &b), STEP_WAIT);
	/* A halt in a group: every node ended, the end comes before any pause. */
	v = view(RELEASE_FAILED, 0, 0, 2, 1, 4);
	assert_int_equal(release_decide_step(&v, &b), STEP_END);
}

static void test_next_write(void **state)
{
	struct release_write_view w = {
	    .last_write = 10000, .first_unwritten = 10020, .lease_s = 30};

	(void)state;
	/* Nothing to write: the lease is renewed every third of its length. */
	assert_int_equal(release_next_write(&w), 20000);
	/* Task ids and successes: at most RELEASE_FLUSH_MS after the oldest of them. */
	w.unwritten = 4;
	assert_int_equal(release_next_write(&w), 10020 + RELEASE_FLUSH_MS);
	/* Intents with calls in flight: gathered for RELEASE_INTENT_GATHER_MS. */
	w.intents = 2;
	w.calls = 5;
	assert_int_equal(release_next_write(&w), 10000 + RELEASE_INTENT_GATHER_MS);
	/* Intents with nothing in flight, or a change of status: at once. */
	w.calls = 0;
	assert_int_equal(release_next_write(&w), 10000);
	w.intents = 0;
	w.urgent = 1;
	assert_int_equal(release_next_write(&w), 10000);
	/* A short lease comes first. */
	w = (struct release_write_view){
	    .last_write = 0, .first_unwritten = 5000, .unwritten = 1, .lease_s = 5};
	assert_int_equal(release_next_write(&w), 1666);
}

static void test_retry(void **state)
{
	unsigned int seed = 3;

	(void)state;
	assert_int_equal(release_decide_retry(0, 0, 3, 0, &seed), -1); /* permanent */
	assert_int_equal(release_decide_retry(1, 3, 3, 0, &seed), -1); /* out of retries */
	assert_int_equal(release_decide_retry(1, 0, 0, 0, &seed), -1); /* RELEASE_NODE_RETRIES=0 */
	for (int i = 0; i < 100; i++) {
		int64_t d = release_decide_retry(1, 0, 3, 0, &seed);

		assert_true(d >= 125 && d <= 250);
		d = release_decide_retry(1, 2, 3, 0, &seed);
		assert_true(d >= 500 && d <= 1000);
	}
	/* Retry-After is honoured when longer, up to a minute. */
	assert_int_equal(release_decide_retry(1, 0, 3, 3, &seed), 3000);
	assert_int_equal(release_decide_retry(1, 0, 3, 3600, &seed), BACKOFF_RETRY_AFTER_MAX_MS);
}

/* A fake release for release_share_slots: it needs want slots in all. */
struct fake {
	size_t want[4];
	size_t calls;
};

static size_t fake_plan(void *ctx, size_t i, size_t room)
{
	struct fake *f = ctx;

	f->calls++;
	return f->want[i] < room ? f->want[i] : room;
}

static void test_share_slots(void **state)
{
	struct fake f = {{100, 100}, 0};
	size_t got[4];

	(void)state;
	/* Equal shares when every release can use them. */
	assert_int_equal(release_share_slots(10, 2, 0, got, fake_plan, &f), 10);
	assert_int_equal(got[0], 5);
	assert_int_equal(got[1], 5);
	/* What one cannot use goes to the other. */
	f = (struct fake){{1, 100}, 0};
	assert_int_equal(release_share_slots(10, 2, 0, got, fake_plan, &f), 10);
	assert_int_equal(got[0], 1);
	/* Fewer slots than releases: one each in turn, from the rotation's start. */
	f = (struct fake){{5, 5, 5}, 0};
	assert_int_equal(release_share_slots(1, 3, 2, got, fake_plan, &f), 1);
	assert_int_equal(got[2], 1);
	assert_int_equal(got[0], 0);
	assert_int_equal(got[1], 0);
	assert_int_equal(release_share_slots(1, 3, 0, got, fake_plan, &f), 1);
	assert_int_equal(got[0], 1);
	/* Nobody needs anything: nothing is used; no room: every release still plans. */
	f = (struct fake){{0, 0, 0}, 0};
	assert_int_equal(release_share_slots(8, 3, 0, got, fake_plan, &f), 0);
	f = (struct fake){{3, 3, 3}, 0};
	assert_int_equal(release_share_slots(0, 3, 1, got, fake_plan, &f), 0);
	assert_int_equal(f.calls, 3); /* pauses, halts and ends are decided without slots */
	/* No release at all. */
	assert_int_equal(release_share_slots(8, 0, 0, got, fake_plan, &f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_phases_gone_absorb),
	    cmocka_unit_test(test_phases_writes),
	    cmocka_unit_test(test_phases_stop),
	    cmocka_unit_test(test_phases_seen),
	    cmocka_unit_test(test_effective),
	    cmocka_unit_test(test_current_batch),
	    cmocka_unit_test(test_batch_started),
	    cmocka_unit_test(test_step),
	    cmocka_unit_test(test_end),
	    cmocka_unit_test(test_halt),
	    cmocka_unit_test(test_adopt),
	    cmocka_unit_test(test_due_pause),
	    cmocka_unit_test(test_group_pause),
	    cmocka_unit_test(test_next_write),
	    cmocka_unit_test(test_retry),
	    cmocka_unit_test(test_share_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
