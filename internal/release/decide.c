/*
 * decide: the runner's decisions as pure functions, and the table of its phases.
 */
#include "release/decide.h"

#include "core/backoff.h"
#include "plan/plan.h"
#include "release/runner_internal.h"

/* A row per phase, a column per event; an event a phase does not name leaves it as it is. */
static const enum run_phase phase_table[RUN_PHASE_COUNT][RUN_PHASE_EVENT_COUNT] = {
    [RUN_DRIVING] =
        {
            [RUN_EV_END] = RUN_ENDING,
            [RUN_EV_HAND_BACK] = RUN_HANDING_BACK,
            [RUN_EV_STOP] = RUN_STOPPING,
            [RUN_EV_UNDO_END] = RUN_DRIVING,
            [RUN_EV_SEEN_RESUMED] = RUN_HANDING_BACK,
            [RUN_EV_SEEN_OTHER] = RUN_DRIVING,
            [RUN_EV_WRITTEN] = RUN_DRIVING,
            [RUN_EV_LOSE] = RUN_LEASE_LOST,
            [RUN_EV_ABANDON] = RUN_ABANDONED,
        },
    [RUN_ENDING] =
        {
            [RUN_EV_END] = RUN_ENDING,
            [RUN_EV_HAND_BACK] = RUN_ENDING,
            /* An end that is decided is written as finished, not handed back. */
            [RUN_EV_STOP] = RUN_ENDING,
            [RUN_EV_UNDO_END] = RUN_DRIVING,
            /* Resumed before the end was written: whoever claims it next ends it. */
            [RUN_EV_SEEN_RESUMED] = RUN_HANDING_BACK,
            [RUN_EV_SEEN_OTHER] = RUN_ENDING,
            [RUN_EV_WRITTEN] = RUN_FINISHED,
            [RUN_EV_LOSE] = RUN_LEASE_LOST,
            [RUN_EV_ABANDON] = RUN_ABANDONED,
        },
    [RUN_HANDING_BACK] =
        {
            [RUN_EV_END] = RUN_HANDING_BACK,
            [RUN_EV_HAND_BACK] = RUN_HANDING_BACK,
            [RUN_EV_STOP] = RUN_STOPPING,
            [RUN_EV_UNDO_END] = RUN_HANDING_BACK,
            [RUN_EV_SEEN_RESUMED] = RUN_HANDING_BACK,
            /* Cancelled (or failed) while handed back: it is driven to its end instead. */
            [RUN_EV_SEEN_OTHER] = RUN_DRIVING,
            [RUN_EV_WRITTEN] = RUN_HANDED_BACK,
            [RUN_EV_LOSE] = RUN_LEASE_LOST,
            [RUN_EV_ABANDON] = RUN_ABANDONED,
        },
    [RUN_STOPPING] =
        {
            [RUN_EV_END] = RUN_STOPPING,
            [RUN_EV_HAND_BACK] = RUN_STOPPING,
            [RUN_EV_STOP] = RUN_STOPPING,
            [RUN_EV_UNDO_END] = RUN_STOPPING,
            [RUN_EV_SEEN_RESUMED] = RUN_STOPPING,
            [RUN_EV_SEEN_OTHER] = RUN_STOPPING,
            [RUN_EV_WRITTEN] = RUN_HANDED_BACK,
            [RUN_EV_LOSE] = RUN_LEASE_LOST,
            [RUN_EV_ABANDON] = RUN_ABANDONED,
        },
};

static const char *const phase_names[RUN_PHASE_COUNT] = {
    [RUN_DRIVING] = "driving",           [RUN_ENDING] = "ending",
    [RUN_HANDING_BACK] = "handing_back", [RUN_STOPPING] = "stopping",
    [RUN_FINISHED] = "finished",         [RUN_HANDED_BACK] = "handed_back",
    [RUN_LEASE_LOST] = "lease_lost",     [RUN_ABANDONED] = "abandoned",
};

int release_phase_gone(enum run_phase phase)
{
	return phase >= RUN_FINISHED;
}

enum run_phase release_phase_next(enum run_phase phase, enum run_phase_event ev)
{
	if ((unsigned)phase >= RUN_PHASE_COUNT || (unsigned)ev >= RUN_PHASE_EVENT_COUNT ||
	    release_phase_gone(phase))
		return phase;
	return phase_table[phase][ev];
}

const char *release_phase_name(enum run_phase phase)
{
	return (unsigned)phase < RUN_PHASE_COUNT ? phase_names[phase] : "unknown";
}

enum release_status release_effective(const struct release_view *v)
{
	int to = v->event >= 0 ? release_next(v->status, (enum release_event)v->event) : -1;

	return to >= 0 ? (enum release_status)to : v->status;
}

static int terminal(enum node_status s)
{
	return s == NODE_SUCCESS || s == NODE_FAILED || s == NODE_SKIPPED;
}

size_t release_current_batch(const struct rnode *nodes, size_t n, size_t *first)
{
	size_t end;

	while (*first < n && terminal(nodes[*first].status))
		(*first)++;
	for (end = *first; end < n && nodes[end].batch == nodes[*first].batch; end++)
		;
	return end;
}

int release_batch_started(const struct rnode *nodes, size_t first, size_t end)
{
	size_t begin = first;

	/* The batch's nodes before first ended; those that ran make it started too. */
	while (begin > 0 && first < end && nodes[begin - 1].batch == nodes[first].batch)
		begin--;
	for (size_t i = begin; i < end; i++)
		if (nodes[i].status != NODE_PENDING && nodes[i].status != NODE_SKIPPED)
			return 1;
	return 0;
}

enum release_step release_decide_step(const struct release_view *v,
                                      const struct release_boundary *b)
{
	enum release_status eff = release_effective(v);

	if (v->phase != RUN_DRIVING)
		return STEP_WAIT;
	if (v->count[NODE_RUNNING] == 0 && v->count[NODE_PENDING] == 0)
		return STEP_END;
	if (v->count[NODE_RUNNING] == 0 && eff == RELEASE_PAUSED && v->event < 0)
		return STEP_HAND_BACK;
	if (!release_dispatches(eff) || v->event >= 0)
		return STEP_WAIT;
	if (!b->started && (b->due_pause || b->due_group))
		return b->due_group >= b->due_pause ? STEP_GROUP_PAUSE : STEP_PLAN_PAUSE;
	return STEP_DISPATCH;
}

int release_decide_end(const struct release_view *v, int *nothing_applied)
{
	size_t applied = v->count[NODE_SUCCESS] + v->count[NODE_FAILED];

	*nothing_applied = 0;
	if (release_next(release_effective(v), RELEASE_EV_SUCCEED) < 0)
		return -1;
	if (applied == 0 && v->count[NODE_SKIPPED] > 0) {
		*nothing_applied = 1;
		return RELEASE_EV_HALT;
	}
	return v->count[NODE_FAILED] ? RELEASE_EV_END_PARTIAL : RELEASE_EV_SUCCEED;
}

int release_decide_halt(const struct release_view *v)
{
	return plan_exceeds((int)v->count[NODE_FAILED], v->allowance) &&
	       release_next(release_effective(v), RELEASE_EV_HALT) >= 0;
}

struct release_adopt release_decide_adopt(const struct release_view *v, enum release_status seen)
{
	struct release_adopt a = {0};
	enum run_phase phase = v->phase;

	a.drop_event = v->event >= 0 && release_next(seen, (enum release_event)v->event) < 0;
	if (a.drop_event)
		phase = release_phase_next(phase, RUN_EV_UNDO_END);
	a.drop_intents = !release_dispatches(seen);
	a.skip_pending = seen == RELEASE_CANCELLED || seen == RELEASE_FAILED;
	/*
	 * Resumed while it was still drained: hand it back now (calls in flight are abandoned
	 * and resumed from the rows) so that it is claimed again, node checks and all.
	 */
	a.phase = release_phase_next(phase, seen == RELEASE_PENDING ? RUN_EV_SEEN_RESUMED
	                                                            : RUN_EV_SEEN_OTHER);
	return a;
}

int release_due_pause(const int *pauses, size_t n, int paused_through, int batch)
{
	size_t lo = 0, hi = n;

	/* The first entry at or above batch; the one before it is the highest below. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pauses[mid] < batch)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && pauses[lo - 1] > paused_through ? pauses[lo - 1] : 0;
}

int64_t release_next_write(const struct release_write_view *w)
{
	int64_t at = w->last_write + (int64_t)w->lease_s * 1000 / 3;

	if (w->urgent || (w->intents && !w->calls))
		return w->last_write;
	if (w->intents && w->last_write + RELEASE_INTENT_GATHER_MS < at)
		at = w->last_write + RELEASE_INTENT_GATHER_MS;
	if (w->unwritten && w->first_unwritten + RELEASE_FLUSH_MS < at)
		at = w->first_unwritten + RELEASE_FLUSH_MS;
	return at;
}

size_t release_share_slots(size_t room, size_t n, size_t rotate, size_t *got,
                           size_t (*plan)(void *ctx, size_t i, size_t room), void *ctx)
{
	size_t share = n ? room / n : 0, used = 0;

	if (share == 0 && room)
		share = 1;
	for (size_t k = 0; k < n; k++) {
		size_t i = (rotate + k) % n;

		got[i] = plan(ctx, i, used < room ? share : 0);
		used += got[i];
	}
	for (size_t k = 0; k < n && used < room; k++) {
		size_t i = (rotate + k) % n, more;

		more = plan(ctx, i, got[i] + room - used);
		used += more > got[i] ? more - got[i] : 0;
	}
	return used;
}

int64_t release_decide_retry(int transient, int attempts, int retries, int64_t retry_after_s,
                             unsigned int *seed)
{
	int64_t delay;

	if (!transient || attempts >= retries)
		return -1;
	delay = backoff_ms(&backoff_agent, attempts + 1, seed);
	if (retry_after_s * 1000 > delay)
		delay = retry_after_s * 1000 > BACKOFF_RETRY_AFTER_MAX_MS
		            ? BACKOFF_RETRY_AFTER_MAX_MS
		            : retry_after_s * 1000;
	return delay;
}
