/*
 * decide: what a runner decides about its release, as pure functions of what it knows
 * (no I/O, no clock, no agent client): which batch is current, whether a failure halts
 * the release, how it ends, what a pause or cancel seen in the database changes, when
 * the next write is due, whether a failed call is retried, and the runner's own hold on
 * the release (driving it, ending it, handing it back, gone) as a transition table. The
 * runner applies the decisions; tests/unit/test_decide.c checks them case by case. A new
 * rule (a wait between batches, a window that closes) is a new case here and a test.
 */
#ifndef CMDB_DECIDE_H
#define CMDB_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"

/*
 * The runner's hold on its release, beside the release's status. Only DRIVING plans
 * and dispatches; ENDING, HANDING_BACK and STOPPING wait for their write; the last three
 * are gone: the runner is over for this controller.
 */
enum run_phase {
	RUN_DRIVING = 0,  /* plans, dispatches and follows its calls */
	RUN_ENDING,       /* every node ended: the next write finishes the release */
	RUN_HANDING_BACK, /* paused and drained, or resumed: the next write gives it back */
	RUN_STOPPING,     /* the controller shuts down: the next write gives it back */
	RUN_FINISHED,     /* gone: written as finished */
	RUN_HANDED_BACK,  /* gone: owner and lease cleared, another claim resumes it */
	RUN_LEASE_LOST,   /* gone: another controller owns it, or it finished elsewhere */
	RUN_ABANDONED,    /* gone: the last write failed; its lease runs out by itself */
	RUN_PHASE_COUNT
};

enum run_phase_event {
	RUN_EV_END = 0,      /* no node is pending or running any more */
	RUN_EV_HAND_BACK,    /* paused with nothing in flight */
	RUN_EV_STOP,         /* the controller shuts down */
	RUN_EV_UNDO_END,     /* the end was moot: the operator's change came first */
	RUN_EV_SEEN_RESUMED, /* the database says pending: resumed while it was drained */
	RUN_EV_SEEN_OTHER,   /* the database says another status than pending */
	RUN_EV_WRITTEN,      /* a write committed */
	RUN_EV_LOSE,         /* the write or a status read says it is no longer ours */
	RUN_EV_ABANDON,      /* the stop's write failed */
	RUN_PHASE_EVENT_COUNT
};

/* The phase after ev in phase (the table in decide.c); a gone phase never changes. */
enum run_phase release_phase_next(enum run_phase phase, enum run_phase_event ev);
/* 1 for the three gone phases. */
int release_phase_gone(enum run_phase phase);
/* "driving", "ending", ...: for logs and tests. */
const char *release_phase_name(enum run_phase phase);

/* What the decisions know of a release: the runner keeps exactly this, nothing copied. */
struct release_view {
	enum release_status status; /* as the database last confirmed it */
	int event;                  /* enum release_event decided but not written yet, or -1 */
	enum run_phase phase;
	size_t count[NODE_STATUS_COUNT]; /* its nodes by status, as the runner sees them */
	int allowance;                   /* failed nodes tolerated */
};

/* The status the release has once its unwritten event is written. */
enum release_status release_effective(const struct release_view *v);

struct rnode; /* release/runner_internal.h */

/*
 * The current batch: moves *first past the nodes that ended (nodes before it are all
 * terminal) and returns the end of the batch of nodes[*first], or n when all ended.
 * nodes are in batch order.
 */
size_t release_current_batch(const struct rnode *nodes, size_t n, size_t *first);
/*
 * 1 when some node of the current batch was ever dispatched (is not pending or
 * skipped): nodes[first, end) as release_current_batch returned them, and the nodes of
 * the same batch before first, which ended.
 */
int release_batch_started(const struct rnode *nodes, size_t first, size_t end);

/* Where the release stands between its batches, for release_decide_step. */
struct release_boundary {
	int started;   /* some node of the current batch was dispatched already */
	int due_pause; /* a pause_after batch behind the current one not paused at yet, or 0 */
	/*
	 * pause_between_groups: the last batch of a group (not the last group) behind the
	 * current one, not paused at yet, or 0. The same batch numbers as due_pause, and the
	 * same paused_through: a release pauses once at a batch, for either reason.
	 */
	int due_group;
};

enum release_step {
	STEP_WAIT = 0,    /* nothing to decide: not driving, or a change waits for its write */
	STEP_END,         /* no node is pending or running: the release ends */
	STEP_HAND_BACK,   /* paused and nothing in flight: give it back */
	STEP_PLAN_PAUSE,  /* a pause_after batch is behind the current one: pause there */
	STEP_GROUP_PAUSE, /* a group ended behind the current batch: pause (group_done) */
	STEP_DISPATCH,    /* dispatch the current batch's pending nodes */
};

/*
 * What the runner does next, in this order of precedence. Between batches, a due pause
 * comes before the next dispatch; when both kinds are due, the later batch's wins (the
 * earlier one is behind it), and a group's end wins a tie: it says more.
 */
enum release_step release_decide_step(const struct release_view *v,
                                      const struct release_boundary *b);

/*
 * How the release ends once no node is pending or running: RELEASE_EV_SUCCEED,
 * RELEASE_EV_END_PARTIAL (some failed within the allowance), RELEASE_EV_HALT (nothing
 * could be dispatched: every node was skipped, *nothing_applied set), or -1 when its
 * effective status is an end already (cancelled, failed) and only the finish is written.
 */
int release_decide_end(const struct release_view *v, int *nothing_applied);

/* 1 when the failures counted in v exceed the allowance and the release may halt now. */
int release_decide_halt(const struct release_view *v);

/* What the runner changes when the database says the release is `seen` (not v->status). */
struct release_adopt {
	int drop_event;   /* the decided event is moot: the operator's change came first */
	int drop_intents; /* seen does not dispatch: unwritten intents are taken back */
	int skip_pending; /* seen skipped the pending nodes in its own transaction */
	enum run_phase phase;
};
struct release_adopt release_decide_adopt(const struct release_view *v, enum release_status seen);

/*
 * The highest batch of pauses[0..n) (ascending) that lies below batch and above
 * paused_through (the last one the release paused at), or 0: the plan pause due before
 * batch starts. The same for the last batches of groups (pause_between_groups).
 */
int release_due_pause(const int *pauses, size_t n, int paused_through, int batch);

/* What decides when the runner writes next (monotonic ms throughout). */
struct release_write_view {
	int urgent;              /* a change of status or of phase waits: write at once */
	size_t intents;          /* unwritten dispatch intents */
	size_t unwritten;        /* unwritten node changes and timeline events, intents included */
	size_t calls;            /* its agent calls in flight */
	int64_t last_write;      /* the last committed write */
	int64_t first_unwritten; /* the oldest unwritten change or event */
	int lease_s;             /* RELEASE_LEASE_SECONDS: renewed every third of it */
};

/*
 * Task ids and successes wait at most this long to be written (intents and changes of
 * status go at once): one transaction per interval however many agents answered in it.
 * The wait starts at the oldest unwritten change, not at the last write, so that the
 * first success of a batch does not cost a write of its own just before the batch ends
 * and the next one's intents are written with the rest of its successes.
 */
#define RELEASE_FLUSH_MS 100
/*
 * While a release has calls in flight, its intents are written at most this often: a
 * batch larger than RELEASE_MAX_INFLIGHT gets its slots back one answer at a time, and a
 * write per freed slot (a commit each, on the thread that drives every connection) kept
 * the handshakes of a 10,000-node release waiting. With nothing in flight they go at once.
 */
#define RELEASE_INTENT_GATHER_MS 50

/* The monotonic ms at which the next write is due if nothing else happens. */
int64_t release_next_write(const struct release_write_view *w);

/*
 * The wait before retrying a call that failed (transient: refused, reset, timeout, 429,
 * 5xx) after `attempts` retries of RELEASE_NODE_RETRIES=`retries`, honouring the agent's
 * Retry-After up to a minute; -1 when it is not retried (permanent, or out of retries).
 */
int64_t release_decide_retry(int transient, int attempts, int retries, int64_t retry_after_s,
                             unsigned int *seed);

/*
 * Hands out room free call slots to n releases (the executor's turn): an equal share
 * each first, starting at release `rotate` so that none is always first, then what is
 * left to whoever can use it. plan(ctx, i, room) lets release i plan with up to room
 * slots and returns how many it needs in all (asked again with a larger room, it answers
 * its whole need, not the increase). got[i] is what each took in the first round.
 * Returns the slots used.
 */
size_t release_share_slots(size_t room, size_t n, size_t rotate, size_t *got,
                           size_t (*plan)(void *ctx, size_t i, size_t room), void *ctx);

#endif
