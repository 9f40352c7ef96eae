/*
 * store: every SQL statement of the controller lives here, behind functions that
 * speak in nodes and releases. All statements are prepared with bound parameters.
 * Functions take a connection and a caller-owned err buffer and return 0 or a
 * negative enum cmdb_err code; CMDB_EINVAL errors are meant for the API client.
 *
 * Files: nodes.c (the inventory), release_views.c (reads), release_create.c (create and
 * dry run), release_claim.c (claims), release_round.c (the runner's writes),
 * release_control.c (operator actions, expiry, status reads), release_rollback.c
 * (rollback releases), alerts.c (Alertmanager's alerts), idempotency.c, rows.c.
 * Every write to a release's status or its nodes locks the release row first.
 */
#ifndef CMDB_STORE_H
#define CMDB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"
#include "metrics/metrics.h"
#include "plan/plan.h"
#include "state/state.h"

#define STORE_TIME_LEN     32 /* RFC 3339 UTC with milliseconds, "" when NULL */
#define STORE_ERROR_LEN    1025
#define STORE_HOSTNAME_LEN 254
#define STORE_IP_LEN       46
#define STORE_OWNER_LEN    129
#define STORE_REASON_LEN   301

struct node {
	int64_t id;
	char hostname[STORE_HOSTNAME_LEN];
	char ip[STORE_IP_LEN];
	int agent_port;
	enum node_health status;
	char created_at[STORE_TIME_LEN];
	char updated_at[STORE_TIME_LEN];
	char created_by[STORE_OWNER_LEN]; /* "" when unknown (rows from before 0003) */
	char updated_by[STORE_OWNER_LEN];
	int64_t config_version;    /* of the last release that succeeded on it; 0: none yet */
	int64_t config_release_id; /* that release; 0: none */
	char config_applied_at[STORE_TIME_LEN];
};

struct release {
	int64_t id;
	int64_t version;
	enum release_status status;
	int batch_size; /* 0 when it was made with a "batches" plan */
	int batch_count;
	int total_nodes;
	int success_nodes;
	int failed_nodes;
	char batch_plan[PLAN_TEXT_MAX];  /* "1,5,20%,50" */
	char pause_after[PLAN_TEXT_MAX]; /* "1,3", "" when none */
	int paused_through;              /* highest pause_after batch it paused at */
	char paused_reason[STORE_REASON_LEN];
	int max_failures;        /* -1 when not given */
	int max_failure_percent; /* -1 when not given */
	int failure_allowance;
	char not_before[STORE_TIME_LEN];
	char expires_at[STORE_TIME_LEN];
	char idem_token[17];
	char owner[STORE_OWNER_LEN];
	char created_by[STORE_OWNER_LEN];
	char updated_by[STORE_OWNER_LEN];
	char created_at[STORE_TIME_LEN];
	char updated_at[STORE_TIME_LEN];
	char started_at[STORE_TIME_LEN];
	char finished_at[STORE_TIME_LEN];
	char error_msg[STORE_ERROR_LEN];
	int64_t rollback_of;    /* the release this one rolls back; 0: it is no rollback */
	int64_t rolled_back_by; /* the rollback release of this one; 0: none */
	char rollback_reason[STORE_REASON_LEN];
	int auto_rollback; /* a failure creates the rollback release at once */
	int approval_required;
	char approval_reason[STORE_REASON_LEN];
	char approved_by[STORE_OWNER_LEN];
	char approved_at[STORE_TIME_LEN];
	char rejected_by[STORE_OWNER_LEN];
	char rejected_at[STORE_TIME_LEN];
	char approval_comment[STORE_ERROR_LEN];
};

struct release_node {
	int64_t id; /* release_task_nodes.id */
	int64_t node_id;
	char hostname[STORE_HOSTNAME_LEN];
	char node_ip[STORE_IP_LEN];
	int agent_port;
	int batch;
	enum node_status status;
	char task_id[65];
	char started_at[STORE_TIME_LEN];
	char finished_at[STORE_TIME_LEN];
	char error_msg[STORE_ERROR_LEN];
	int64_t version;          /* what this node applies */
	int64_t previous_version; /* what it ran before (at creation, then at dispatch); 0: none */
};

/* A write with an Idempotency-Key: who sent it, the key, and the body's SHA-256. */
struct store_idem {
	const char *principal;
	const char *key; /* NULL: the request has no key */
	const char *body_sha256;
};

/* ---- nodes ---- */

/*
 * Inserts a node for idem->principal. CMDB_ECONFLICT when ip+agent_port is registered.
 * With a key already used by the principal: *replayed = 1 and out is the node it made
 * (the same body), or CMDB_EMISMATCH (another body).
 */
int store_node_create(struct db_conn *c, const char *hostname, const char *ip, int agent_port,
                      enum node_health status, const struct store_idem *idem, struct node *out,
                      int *replayed, char *err, size_t errlen);
int store_node_get(struct db_conn *c, int64_t id, struct node *out, char *err, size_t errlen);

/* Which nodes GET /api/v1/nodes lists: every one, or by the config version they run. */
struct node_filter {
	int by_version;  /* 0: all; 1: config_version = version; -1: config_version <> version */
	int64_t version; /* (a node that ran nothing yet is "not version") */
};

/* The nodes the filter selects, ordered by id; *out is malloc'd, the caller frees it. */
int store_node_list(struct db_conn *c, const struct node_filter *f, struct node **out, size_t *n,
                    char *err, size_t errlen);

/* What PATCH /api/v1/nodes/{id} changes; NULL or -1 fields stay as they are. */
struct node_patch {
	int status; /* enum node_health, or -1 */
	const char *hostname;
	const char *ip; /* canonical form */
	int agent_port; /* 0: unchanged */
};

/*
 * Applies a patch as principal; CMDB_ENOTFOUND for an unknown id, CMDB_ECONFLICT when the
 * new ip and agent_port belong to another node. out: the row afterwards.
 */
int store_node_update(struct db_conn *c, int64_t id, const struct node_patch *p,
                      const char *principal, struct node *out, char *err, size_t errlen);

/* ---- releases: API side ---- */

/* When a new release must wait for a second principal's approval (RELEASE_APPROVAL_*). */
struct approval_policy {
	int min_nodes;   /* more nodes than this need approval; 0: no such rule */
	int min_percent; /* more than this percentage of the online nodes; 0: no such rule */
};

/* What an operator asks for with POST /api/v1/releases. */
struct release_request {
	int64_t version;
	const struct release_plan *plan;
	const int64_t
	    *node_ids; /* in the order given: batch 1 takes the first; n == 0: all online */
	size_t n;
	int auto_rollback;    /* a failure creates its rollback release at once */
	int require_approval; /* asked for explicitly */
	struct approval_policy policy;
	struct store_idem idem;
};

/*
 * Creates a release: checks that each node exists and is online (CMDB_EINVAL naming the
 * node otherwise, or when there is no node at all, or when pause_after names a batch the
 * cut does not have), cuts the nodes into batches by the plan, records each node's
 * current config version as its previous_version, and writes it all in one transaction.
 * It is pending, or awaiting_approval when asked or when the policy says so. An
 * Idempotency-Key already used by the principal answers the release it made
 * (*replayed = 1) or CMDB_EMISMATCH.
 */
int store_release_create(struct db_conn *c, const struct release_request *rq, struct release *out,
                         int *replayed, char *err, size_t errlen);

/* A node as a dry run lists it. */
struct preview_node {
	int64_t id;
	char hostname[STORE_HOSTNAME_LEN];
	char ip[STORE_IP_LEN];
	int agent_port;
	int batch;
};

/* What store_release_create would write; nothing is written. */
struct release_preview {
	int total;
	int batch_count;
	int *sizes;                 /* batch_count entries */
	struct preview_node *nodes; /* total entries, in batch order */
	size_t n;
	struct preview_node
	    *left_out; /* offline nodes a release to "every online node" leaves out */
	size_t nleft;
	int allowance;
	int64_t waiting_for; /* an unfinished release that shares a node; 0 when none */
	int approval_required;
	char approval_reason[STORE_REASON_LEN];
};

/* The dry run of store_release_create: same checks, same cut, no write. */
int store_release_preview(struct db_conn *c, const struct release_request *rq,
                          struct release_preview *out, char *err, size_t errlen);
void store_release_preview_free(struct release_preview *p);

int store_release_get(struct db_conn *c, int64_t id, struct release *out, char *err, size_t errlen);
/* Newest first; status < 0 means any. *out is malloc'd, the caller frees it. */
int store_release_list(struct db_conn *c, int status, int limit, struct release **out, size_t *n,
                       char *err, size_t errlen);
/*
 * The release's nodes ordered by batch then position, only those in status when
 * status >= 0 (an enum node_status); *out malloc'd, caller frees.
 */
int store_release_nodes(struct db_conn *c, int64_t release_id, int status,
                        struct release_node **out, size_t *n, char *err, size_t errlen);

/* How many nodes of one batch are in each status. */
struct batch_counts {
	int batch;
	int count[NODE_STATUS_COUNT];
	int total;
};

/* Per-batch counts in batch order, read from an index; *out malloc'd, caller frees. */
int store_release_batch_counts(struct db_conn *c, int64_t release_id, struct batch_counts **out,
                               size_t *n, char *err, size_t errlen);

/*
 * The lowest unfinished release created before id that shares a node with it: id may
 * not start before that one ends. *waiting = 0 when there is none.
 */
int store_release_waiting_for(struct db_conn *c, int64_t id, int64_t *waiting, char *err,
                              size_t errlen);

/*
 * An operator's action (RELEASE_EV_PAUSE, _RESUME, _CANCEL, _APPROVE or _REJECT) as
 * principal, checked against the state table under the release's row lock. A cancel or
 * a reject skips every pending node ("release cancelled by <principal>") and, with
 * nothing in flight, finishes the release. An approval must come from another principal
 * than the creator (CMDB_EFORBIDDEN). comment (approve, reject; may be NULL) is kept with
 * the decision. CMDB_ESTATE when the table refuses it: err says why and out->status is
 * the current status. *changed = 0 when the release already was in the target status.
 * out: the release afterwards.
 */
int store_release_act(struct db_conn *c, int64_t id, enum release_event ev, const char *principal,
                      const char *comment, struct release *out, int *changed, char *err,
                      size_t errlen);

/* ---- rollback ---- */

/*
 * Creates the rollback release of release id as principal (reason: why, for the record),
 * or finds the one it already has (*existing = 1). It targets every node the release
 * dispatched and gives each its own previous_version, in the original's order and batch
 * plan; nodes with no previous version, or whose release left them on it, are rows
 * skipped with that reason. CMDB_ESTATE when id is itself a rollback or has not ended;
 * CMDB_EINVAL when it dispatched nothing or no node has anything to roll back (err
 * says why); CMDB_ENOTFOUND. out: the rollback release.
 */
int store_release_rollback(struct db_conn *c, int64_t id, const char *principal, const char *reason,
                           struct release *out, int *existing, char *err, size_t errlen);

/* ---- alerts (POST /api/v1/alerts, Alertmanager's webhook) ---- */

struct alert_input {
	const char *fingerprint;
	const char *starts_at;     /* as Alertmanager sent it: part of the alert's identity */
	int firing;                /* 0: resolved */
	const char *alertname;     /* may be NULL */
	const char *release_label; /* the release_id label as sent; NULL when absent */
};

/* What the controller did about one alert. */
struct alert_result {
	int duplicate;               /* delivered before: nothing new was done */
	int64_t release_id;          /* the release its label names; 0: none or not a number */
	int64_t rollback_release_id; /* the rollback it caused (or found); 0: none */
	char outcome[STORE_REASON_LEN];
};

/*
 * Records one alert as principal and acts on it, in one transaction: a firing alert
 * whose release_id names a release rolls that release back (a release still running,
 * paused or pending is cancelled first, in the same transaction); the same alert
 * (fingerprint, startsAt, status) delivered again changes nothing but its delivery count.
 */
int store_alert_receive(struct db_conn *c, const struct alert_input *a, const char *principal,
                        struct alert_result *out, char *err, size_t errlen);

/* ---- the timeline ---- */

/* One event to append: node_id 0 for an event of the release itself. */
struct store_event {
	int64_t node_id;
	const char *type;   /* "created", "node_failed", ... (docs/operations.md lists them) */
	const char *detail; /* may be NULL */
};

/* One event of a release's timeline (release_events). */
struct timeline_event {
	int64_t id; /* its number within the release: 1, 2, ... in commit order, no gaps */
	int64_t release_id;
	int64_t node_id; /* 0: the release itself */
	char at[STORE_TIME_LEN];
	char type[33];
	char actor[161];
	char detail[STORE_ERROR_LEN];
};

/*
 * The events of release id numbered above after, oldest first, at most limit; *out
 * malloc'd (caller frees). CMDB_ENOTFOUND for an unknown release.
 */
int store_release_events(struct db_conn *c, int64_t release_id, int64_t after, int limit,
                         struct timeline_event **out, size_t *n, char *err, size_t errlen);

/*
 * What GET /metrics reads from the database: releases by status, running releases past
 * batch_count * node_timeout_s, notifications not delivered yet. v->ok says it worked.
 */
int store_metrics_view(struct db_conn *c, int node_timeout_s, struct metrics_db_view *v, char *err,
                       size_t errlen);

/*
 * Whether state changes also queue webhook notifications (RELEASE_WEBHOOK_URL is set).
 * Set once at start-up, before any thread uses the store.
 */
void store_set_notifications(int on);

/* ---- webhook notifications (the outbox) ---- */

/* A notification to deliver, and what its payload needs. */
struct notification {
	int64_t id;
	char delivery_id[33];
	int64_t release_id;
	char event[33];  /* "release.finished", "release.paused", "release.awaiting_approval" */
	char status[33]; /* the release's status it reports */
	int attempts;    /* made before this one */
	char created_at[STORE_TIME_LEN];
	struct release release; /* as it is now */
	int skipped_nodes;
	char first_error[STORE_ERROR_LEN]; /* the release's error_msg, or its first failed node's */
};

/*
 * Takes the oldest due notification for owner for lease_s seconds (a conditional UPDATE:
 * several controllers never send the same one at once). CMDB_ENOTFOUND: none is due.
 */
int store_notification_claim(struct db_conn *c, const char *owner, int lease_s,
                             struct notification *out, char *err, size_t errlen);

enum notification_outcome { NOTIFY_DELIVERED, NOTIFY_RETRY, NOTIFY_GAVE_UP };

/*
 * Records an attempt (and the event "notified" or "notify_failed" with detail) in one
 * transaction; NOTIFY_RETRY makes it due again in retry_in_ms.
 */
int store_notification_done(struct db_conn *c, const struct notification *n, const char *owner,
                            enum notification_outcome outcome, int64_t retry_in_ms,
                            const char *detail, char *err, size_t errlen);

/* ---- releases: executor side ---- */

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
