/*
 * store/events: a release's timeline, the outbox of webhook notifications and what GET
 * /metrics reads from the database (events.c).
 */
#ifndef CMDB_STORE_EVENTS_H
#define CMDB_STORE_EVENTS_H

#include "metrics/metrics.h"
#include "store/releases.h"

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

#endif
