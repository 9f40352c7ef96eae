/*
 * store_internal: what the store's files share; not for other modules. Rows are mapped
 * to structs by a table of columns, one table per struct, next to its SELECT list.
 */
#ifndef CMDB_STORE_INTERNAL_H
#define CMDB_STORE_INTERNAL_H

#include <stddef.h>

#include "core/strbuf.h"
#include "db/db.h"
#include "state/state.h"
#include "store/common.h"
#include "store/events.h"

/*
 * Status names go into SQL as bound arguments, from the state table (core's table for a
 * node's health), never as literals; statements this store builds write them from the
 * same tables.
 */
#define STORE_ARG_RELEASE(s) DB_STR(release_status_name(s))
#define STORE_ARG_NODE(s)    DB_STR(node_status_name(s))
#define STORE_ARG_HEALTH(h)  DB_STR(node_health_name(h))

enum store_col_kind {
	COL_I64,            /* int64_t; NULL is 0 */
	COL_INT,            /* int; NULL is 0 */
	COL_INT_OR_UNSET,   /* int; NULL is -1 (a limit that was not given) */
	COL_STR,            /* char[size]; NULL is "" */
	COL_TIME,           /* char[STORE_TIME_LEN] as RFC 3339; NULL is "" */
	COL_RELEASE_STATUS, /* enum release_status; unknown is pending */
	COL_NODE_STATUS,    /* enum node_status; unknown is pending */
	COL_HEALTH,         /* enum node_health; anything but offline is online */
};

/* One column of a SELECT, in order, and where it goes in the struct. */
struct store_col {
	enum store_col_kind kind;
	size_t offset;
	size_t size;
};

#define STORE_COL(kind, type, field)                                                               \
	{                                                                                          \
		kind, offsetof(type, field), sizeof(((type *)0)->field)                            \
	}

/* Fills the fields of out the column table names from row `row` of r; others stay. */
void store_map_row(const struct db_rows *r, size_t row, const struct store_col *cols, size_t ncols,
                   void *out);
/*
 * Maps every row into a malloc'd array of elem_size structs (*out, *n; NULL and 0 for no
 * rows). The caller frees *out. 0 or CMDB_ENOMEM.
 */
int store_map_rows(const struct db_rows *r, const struct store_col *cols, size_t ncols,
                   size_t elem_size, void **out, size_t *n);

/* Copies a DATETIME cell as RFC 3339 into a STORE_TIME_LEN buffer ("" for NULL). */
void store_copy_time(const struct db_rows *r, size_t row, size_t col, char *buf);

/* Appends "?,?,...,?" (n placeholders) to sb. */
void store_add_placeholders(struct strbuf *sb, size_t n);

/*
 * Idempotency-Key bookkeeping inside the caller's open transaction. store_idem_claim
 * records the key (scope "releases" or "nodes") before the write: 0 when it is new,
 * 1 with *resource_id set when the principal used it before with the same body,
 * CMDB_EMISMATCH when with another body. store_idem_bind names the resource the new key
 * made, before the commit.
 */
int store_idem_claim(struct db_conn *c, const char *scope, const struct store_idem *idem,
                     int64_t *resource_id, char *err, size_t errlen);
int store_idem_bind(struct db_conn *c, const char *scope, const struct store_idem *idem,
                    int64_t resource_id, char *err, size_t errlen);

/*
 * A transaction runs again from its start, up to STORE_TX_TRIES times in all, when it is
 * known to have changed nothing: it lost a race with another (CMDB_ERETRY: a deadlock, a
 * lock wait timeout, a Galera certification failure; the server rolled it back whole),
 * or its connection was lost before its COMMIT was sent (CMDB_EDBDOWN, not c->unsure: it
 * runs on a new connection, on another node when its own is unusable). A transaction
 * whose COMMIT was lost (c->unsure: it may have committed) runs again only when running
 * it twice does what running it once does (STORE_RETRY_IDEMPOTENT): a create that
 * carries its Idempotency-Key finds the key and replays, a second rollback request or
 * alert finds the first, a PATCH sets the same values. A few jittered milliseconds pass
 * between tries. store_tx_again says whether to try again, and counts and logs it.
 */
#define STORE_TX_TRIES 4
int store_tx_again(struct db_conn *c, int rc, int attempt, int idempotent, const char *err);
#define STORE_RETRY_IF(c, rc, err, idempotent, call)                                               \
	do {                                                                                       \
		for (int try_ = 0;; try_++) {                                                      \
			(rc) = (call);                                                             \
			if (try_ + 1 >= STORE_TX_TRIES ||                                          \
			    !store_tx_again((c), (rc), try_, (idempotent), (err)))                 \
				break;                                                             \
		}                                                                                  \
	} while (0)
#define STORE_RETRY(c, rc, err, call)            STORE_RETRY_IF(c, rc, err, 0, call)
#define STORE_RETRY_IDEMPOTENT(c, rc, err, call) STORE_RETRY_IF(c, rc, err, 1, call)

/*
 * Gives the new release id its place in the order releases were committed in
 * (release_tasks.seq, migration 0007): a release waits for every unfinished release of a
 * lower seq that shares a node with it. Call it last before the COMMIT: the counter row
 * stays locked (on Galera: certified against every other creator) until then.
 */
int store_release_order(struct db_conn *c, int64_t id, char *err, size_t errlen);

/* ---- the timeline and the outbox (events.c), inside the caller's transaction ---- */

/* Appends n events of release_id by actor, stamped at_ms (0: now), in multi-row INSERTs. */
int store_add_events(struct db_conn *c, int64_t release_id, const char *actor, int64_t at_ms,
                     const struct store_event *ev, size_t n, char *err, size_t errlen);
/* Appends one event with a formatted detail (fmt may be NULL). */
int store_add_event(struct db_conn *c, int64_t release_id, int64_t node_id, const char *type,
                    const char *actor, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
/*
 * Queues a webhook notification of release_id ("release.finished", "release.paused",
 * "release.awaiting_approval") in the outbox; nothing when notifications are off.
 */
int store_notify(struct db_conn *c, int64_t release_id, const char *event,
                 enum release_status status, char *err, size_t errlen);
/* The release has ended (finished_at is being set): its "finished" event and notification. */
int store_release_finished(struct db_conn *c, int64_t release_id, const char *actor,
                           enum release_status status, char *err, size_t errlen);

/* One row of release_task_nodes to insert. */
struct store_new_node {
	int64_t node_id;
	const char *ip;
	int agent_port;
	int batch;
	enum node_status status; /* pending, or skipped with error_msg (finished now) */
	int64_t version;
	int64_t previous_version; /* 0: none */
	const char *error_msg;    /* may be NULL */
};

/* Inserts rows of release_id in multi-row INSERTs, in the caller's transaction. */
int store_insert_nodes(struct db_conn *c, int64_t release_id, const struct store_new_node *rows,
                       size_t n, char *err, size_t errlen);

/* 16 random hex digits: a release's idempotency_token. 0, or -1 without randomness. */
int store_make_token(char out[17]);

/*
 * Locks release id's row (SELECT ... FOR UPDATE) for the rest of the caller's
 * transaction: its status, and how many of its nodes are running. CMDB_ENOTFOUND.
 */
int store_release_lock_row(struct db_conn *c, int64_t id, enum release_status *status,
                           int64_t *running, char *err, size_t errlen);

/* Skips release id's pending nodes with why, in the caller's transaction. */
int store_skip_pending(struct db_conn *c, int64_t id, const char *why, char *err, size_t errlen);

/*
 * Creates or finds the rollback release of id inside the caller's transaction (see
 * store_release_rollback). unfinished: allow it while id has not ended (a halt creating
 * its own rollback, an alert that cancels it first). *rollback_id: the release;
 * *existing = 1 when it was there before.
 */
int store_rollback_in_tx(struct db_conn *c, int64_t id, const char *principal, const char *reason,
                         int unfinished, int64_t *rollback_id, int *existing, char *err,
                         size_t errlen);

/*
 * An operator's action inside the caller's transaction (see store_release_act); the
 * alert handler cancels with it before it rolls back.
 */
int store_act_in_tx(struct db_conn *c, int64_t id, enum release_event ev, const char *principal,
                    const char *comment, enum release_status *from, int *changed, char *err,
                    size_t errlen);

#endif
