/*
 * store/release_run: the executor's side of a release: claims and leases
 * (release_claim.c), expiry and status reads (release_control.c), and the writes of each
 * round of its runner (release_round.c).
 */
#ifndef CMDB_STORE_RELEASE_RUN_H
#define CMDB_STORE_RELEASE_RUN_H

#include "state/state.h"
#include "store/events.h"
#include "store/releases.h"

/*
 * Claims one release for owner, which then runs it for lease_s seconds: the oldest
 * pending one that may start (its not_before passed, its expires_at not, no earlier
 * unfinished release shares a node, no live owner), else one whose owner is gone and
 * that still needs driving. Claiming a pending release skips its pending nodes that are
 * offline now ("node offline since the release was created"). *took_over = 1 when the
 * release had a live owner whose lease had expired. Either is on the timeline.
 * CMDB_ENOTFOUND: nothing to do (or another controller won every race).
 */
int store_release_claim(struct db_conn *c, const char *owner, int lease_s, int64_t *id,
                        int *took_over, char *err, size_t errlen);

/* Gives owner's release up now (owner and lease cleared) so any controller may take it. */
int store_release_unlease(struct db_conn *c, int64_t release_id, const char *owner, char *err,
                          size_t errlen);

/*
 * Expires the releases that were never started and whose expires_at passed: status
 * expired, pending nodes skipped, recorded as done by owner's controller. Their ids go
 * to ids (at most max); *n says how many.
 */
int store_release_expire(struct db_conn *c, const char *owner, int64_t *ids, size_t max, size_t *n,
                         char *err, size_t errlen);

/* A release's status as its driver needs to know it. */
struct release_control {
	int64_t id;
	enum release_status status;
	int owned; /* the asking owner still holds it and it is not finished */
};

/* Reads the status of n releases at once (a missing one reads as not owned). */
int store_release_control(struct db_conn *c, const char *owner, const int64_t *ids, size_t n,
                          struct release_control *out, char *err, size_t errlen);

/* One state change of one node, stamped with the time it happened. */
struct node_change {
	int64_t rtn_id;
	int64_t node_id;       /* for the timeline */
	enum node_status to;   /* NODE_RUNNING with task_id set only records the task id */
	int64_t at_ms;         /* wall-clock ms, for started_at / finished_at */
	const char *task_id;   /* optional */
	const char *error_msg; /* NODE_FAILED */
};

/* What one round of the runner writes, in one transaction. */
struct release_round {
	int64_t rollback_of; /* the release's rollback_of: dispatch checks it is still valid */
	enum release_status expect; /* the round applies only while the release has this status */
	const struct node_change *changes;
	size_t nchanges;
	int event;             /* an enum release_event the runner decided, or -1 */
	const char *event_msg; /* HALT: the release's error_msg; PLAN_PAUSE: its paused_reason */
	const char *skip_msg;  /* HALT: error_msg of the pending nodes it skips (may be NULL) */
	int paused_through;    /* PLAN_PAUSE: the batch it pauses after */
	int finish;            /* the release is over: finished_at set, lease cleared */
	int handback;          /* the runner gives it up: owner and lease cleared */
	int64_t at_ms;
	/* Events the runner adds to those the store derives (batch_started, node_retried). */
	const struct store_event *events;
	size_t nevents;
	/*
	 * Out: intents the dispatch check refused (the node went offline, moved, or, for a
	 * rollback, was changed by a later release): those nodes were written skipped instead.
	 * The caller gives room for every intent of the round.
	 */
	int64_t *refused; /* rtn ids */
	size_t nrefused;
	int64_t rollback_id; /* out: the rollback release a halt created (auto_rollback); 0 */
};

/*
 * Applies a round if owner still holds the release and its status is round->expect,
 * renewing the lease for lease_s. Each node change applies only from the statuses the
 * state table allows, and success_nodes / failed_nodes move by exactly the rows that
 * changed, in the same transaction; a node's success sets its nodes.config_version.
 * Intents (running without a task id) need a status that dispatches, and are checked
 * against the node first (round->refused). A halt of a release with auto_rollback
 * creates its rollback release in the same transaction. Every change goes on the timeline
 * (node_dispatched, node_succeeded, node_failed, node_skipped, halted, paused, finished)
 * with round->events, as controller:<owner>, in the same transaction. Nothing is written
 * when it returns an error: CMDB_ECONFLICT when the lease is no longer ours (or the
 * release finished), CMDB_ESTATE when an operator changed the status first (*actual says
 * to what), CMDB_ERETRY when it lost a race with another transaction.
 */
int store_release_apply(struct db_conn *c, int64_t release_id, const char *owner, int lease_s,
                        struct release_round *round, enum release_status *actual, char *err,
                        size_t errlen);

#endif
