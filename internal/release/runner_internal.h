/*
 * runner_internal: what the three files of the runner share, and nothing else includes
 * (but decide.c, for the batch decisions over its nodes, and the runner's unit tests).
 * runner.c owns a run's life, its plan and its node bookkeeping; runner_write.c its
 * writes; runner_calls.c its agent calls.
 */
#ifndef CMDB_RUNNER_INTERNAL_H
#define CMDB_RUNNER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "agentclient/agentclient.h"
#include "plan/plan.h"
#include "release/decide.h"
#include "release/poll.h"
#include "release/runner.h"
#include "store/store.h"

struct rnode {
	struct run *run;
	int64_t rtn_id;
	int64_t node_id;
	int64_t version; /* what this node applies (a rollback gives each its own) */
	int batch;
	enum node_status status;
	int has_task;
	int inflight;
	int64_t dispatched_at; /* monotonic ms the dispatch that created the task was sent */
	int dispatch_seen;     /* this runner sent that dispatch: dispatched_at is exact */
	int64_t next_poll;     /* monotonic ms */
	int64_t answered_at;   /* monotonic ms of the answer next_poll was planned from */
	int64_t started_wall;  /* wall ms of the intent (started_at), for the node deadline */
	int64_t not_before;    /* monotonic ms; no call before this (retry back-off) */
	int64_t call_started;  /* monotonic ms the call in flight was started */
	int attempts;          /* transient failures of the current call in a row */
	int ahead;             /* a connection was opened ahead for it (once at most) */
	char hostname[STORE_HOSTNAME_LEN];
	char error[512];
	struct agent_call call; /* ip, port and task_id live here */
};

struct run {
	const struct config *cfg; /* RELEASE_* settings */
	const char *owner;        /* this controller's lease owner id */
	int64_t id;
	int64_t version;
	int64_t rollback_of; /* the release this one rolls back; 0 none */
	char token[17];
	/*
	 * What the decisions (decide.h) know: the status the database last confirmed, the
	 * change of status decided but not written yet (v.event; the status it leads to is
	 * release_effective(&v)), the runner's phase, and the nodes counted by status.
	 */
	struct release_view v;
	char event_msg[STORE_ERROR_LEN];
	char skip_msg[STORE_ERROR_LEN];
	int event_batch;     /* RELEASE_EV_PLAN_PAUSE: the batch it pauses after */
	struct rnode *nodes; /* in batch order, then the order the operator gave */
	size_t n;
	size_t first; /* nodes before this index are all terminal */
	int pauses[PLAN_PAUSES_MAX];
	size_t npauses;
	int paused_through; /* highest batch at which it already paused (either kind) */
	/*
	 * pause_between_groups: its groups (store_release_groups), and the last batch of each
	 * but the last group, ascending: where it pauses with reason group_done.
	 */
	char group_by[LABEL_KEY_MAX + 1];
	struct release_group *groups;
	size_t ngroups;
	int *group_ends;
	size_t ngroup_ends;
	struct node_change *changes;
	size_t nchanges;
	int64_t *refused; /* room for the store to name intents its dispatch check refused */
	struct store_event *notes; /* timeline events to write with the next round */
	size_t nnotes, notes_cap;
	int last_batch_started; /* the highest batch this runner recorded as started */
	char batch_note[64];
	size_t nintents;         /* intents among the changes */
	int64_t last_write;      /* monotonic ms of the last committed round */
	int64_t first_unwritten; /* monotonic ms of the oldest change or note not written */
	size_t calls;            /* its agent calls in flight */
	int64_t last_seen;       /* monotonic ms the status was last confirmed */
	int64_t claimed_ms;
	struct poll_estimate est; /* what this release's applies have taken */
	uint64_t statements;
	uint64_t prepared; /* of the statements, those not taken from the connection's cache */
	unsigned int seed; /* for retry jitter */
};

/* Node bookkeeping (runner.c): each keeps r->v.count and the unwritten changes exact. */
void release_run_set_status(struct run *r, struct rnode *x, enum node_status to);
/* Gathers a node change for the next write; task_id and error_msg must live until then. */
void release_run_add_change(struct run *r, struct rnode *x, enum node_status to,
                            const char *task_id, const char *error_msg);
/* Gathers a timeline event for the next write; detail must live until then. */
void release_run_add_note(struct run *r, int64_t node_id, const char *type, const char *detail);
/* Fails x with why, and halts the release when that exceeds its allowance. */
void release_run_fail_node(struct run *r, struct rnode *x, const char *why);
/* Closes the connections opened ahead for pending nodes: they may not be used now. */
void release_run_close_ahead(struct run *r);
/* Adopts a status the database reports, and what it means for r's gathered state. */
void release_run_adopt(struct run *r, enum release_status status);

#endif
