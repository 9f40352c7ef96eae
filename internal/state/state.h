/*
 * state: the release and node state machines as data. Every status name that is stored
 * or sent comes from here, and so does every rule about which change is allowed: the API
 * answers 409 from this table, the store derives its guarded UPDATEs from it, and the
 * runner asks it what a release may still do. A batch's status is derived here too, from
 * its nodes' and its release's. docs/architecture.md draws the same table.
 */
#ifndef CMDB_STATE_H
#define CMDB_STATE_H

#include <stddef.h>
#include <stdio.h>

enum release_status {
	RELEASE_PENDING = 0,       /* waiting to be claimed (or resumed, not yet claimed again) */
	RELEASE_RUNNING,           /* a controller dispatches its batches */
	RELEASE_PAUSED,            /* nothing new is dispatched until an operator resumes it */
	RELEASE_SUCCESS,           /* every batch ran, no node failed */
	RELEASE_FAILED,            /* halted: a failure exceeded the allowance */
	RELEASE_PARTIAL,           /* every batch ran, failures within the allowance */
	RELEASE_CANCELLED,         /* an operator stopped it */
	RELEASE_EXPIRED,           /* not started before its expires_at */
	RELEASE_AWAITING_APPROVAL, /* needs a second principal's approval before it may start */
	RELEASE_REJECTED,          /* an approver turned it down */
	RELEASE_STATUS_COUNT
};

/* What can happen to a release: operator actions first, then the controller's. */
enum release_event {
	RELEASE_EV_PAUSE = 0,   /* operator: POST .../pause */
	RELEASE_EV_RESUME,      /* operator: POST .../resume */
	RELEASE_EV_CANCEL,      /* operator: POST .../cancel */
	RELEASE_EV_APPROVE,     /* operator (not the creator): POST .../approve */
	RELEASE_EV_REJECT,      /* operator: POST .../reject */
	RELEASE_EV_CLAIM,       /* a controller takes it up */
	RELEASE_EV_PLAN_PAUSE,  /* the plan's pause_after reached */
	RELEASE_EV_HALT,        /* a node failure exceeded the allowance */
	RELEASE_EV_SUCCEED,     /* every batch ran, no node failed */
	RELEASE_EV_END_PARTIAL, /* every batch ran, some nodes failed within the allowance */
	RELEASE_EV_EXPIRE,      /* expires_at passed before it started */
	RELEASE_EVENT_COUNT
};

enum node_status {
	NODE_PENDING = 0, /* not dispatched */
	NODE_RUNNING,     /* dispatch intended or sent; the agent's task not yet ended */
	NODE_SUCCESS,
	NODE_FAILED,
	NODE_SKIPPED, /* never dispatched; error_msg says why */
	NODE_STATUS_COUNT
};

enum node_event {
	NODE_EV_DISPATCH = 0, /* intent written before the first request is sent */
	NODE_EV_SUCCEED,      /* the agent reported success */
	NODE_EV_FAIL,         /* the agent reported failure, or the call failed for good */
	NODE_EV_SKIP,         /* the release will never dispatch it */
	NODE_EVENT_COUNT
};

/* Names as stored and sent; the parse functions return -1 for an unknown name. */
const char *release_status_name(enum release_status s);
int release_status_parse(const char *name);
const char *release_event_name(enum release_event ev);
const char *node_status_name(enum node_status s);
int node_status_parse(const char *name);

/*
 * The status a release moves to when ev happens in status from, or -1 when the table
 * has no such transition. A transition to the same status (pausing a paused release)
 * is allowed and changes nothing.
 */
int release_next(enum release_status from, enum release_event ev);

/*
 * The statuses ev moves a release from (release_next allows it), in the order of enum
 * release_status, into from[RELEASE_STATUS_COUNT]; returns how many. The store guards its
 * writes with them (expiry).
 */
size_t release_from(enum release_event ev, enum release_status *from);

/* Properties of a status, from the same table. */
int release_is_terminal(enum release_status s); /* nothing will ever change its status */
int release_dispatches(enum release_status s);  /* new nodes may be dispatched */

/* What POST /api/v1/releases/{id}/rollback may do in a status. */
enum release_rollback {
	ROLLBACK_NOT_YET = 0, /* it has not ended: 409 (cancel it first, or wait) */
	ROLLBACK_ALLOWED,     /* ended after dispatching: its dispatched nodes are rolled back */
	ROLLBACK_NOTHING,     /* ended without ever dispatching (expired, rejected): 422 */
};
enum release_rollback release_rollback_rule(enum release_status s);

/* Writes "pending, running, paused, ..." (every status, in table order) for messages. */
void release_status_list(char *buf, size_t len);
/* Writes "pending, running, success, failed, skipped" (every node status, in order). */
void node_status_list(char *buf, size_t len);

/*
 * Explains a refused transition for a client, naming the current status and the ones
 * that would allow ev: "cannot resume release 7: it is running; only a paused release
 * can be resumed". Returns the length snprintf would write.
 */
int release_refusal(long long id, enum release_status from, enum release_event ev, char *buf,
                    size_t len);

/*
 * Writes the release table as Markdown: a row per status that some event leaves, a column
 * per event, then one row of the statuses no event leaves (`cmdb states`; the table in
 * docs/architecture.md is this output, which tests/integration/test_docs.sh checks).
 */
void release_write_table(FILE *out);

/* Node transitions: the status after ev, or -1. */
int node_next(enum node_status from, enum node_event ev);
/*
 * The statuses ev may leave, in order, into from[NODE_STATUS_COUNT]; returns how many.
 * The store guards its UPDATEs with them, so a write applies only where the table allows.
 */
size_t node_from(enum node_event ev, enum node_status *from);

/*
 * A batch's status, from how many of its nodes are in each status (count, indexed by
 * enum node_status; a batch has at least one node) and from its release's status. Every
 * batch status shown (the release's JSON, its summary view, the console, `cmdb watch`)
 * comes from here:
 *   failed   a node failed, even while others still run;
 *   success  the batch has ended (batch_ended) and a node succeeded: skipped nodes are no
 *            failures, as for the release;
 *   skipped  the batch has ended and no node was applied;
 *   running  not ended, and a node runs or one succeeded (it began; its pending nodes wait
 *            for their turn, or for a paused release to be resumed);
 *   pending  not ended, and nothing was dispatched yet (some nodes may be skipped).
 * So a batch that has ended is never running, and a batch of an ended release never pending.
 */
enum node_status batch_status(const int count[NODE_STATUS_COUNT], enum release_status release);

/*
 * Whether nothing in the batch will change any more: no node runs, and no pending node will
 * ever be dispatched (there is none, or the release has ended).
 */
int batch_ended(const int count[NODE_STATUS_COUNT], enum release_status release);

#endif
