/*
 * store_internal: what the store's files share; not for other modules. Rows are mapped
 * to structs by a table of columns, one table per struct, next to its SELECT list.
 */
#ifndef CMDB_STORE_INTERNAL_H
#define CMDB_STORE_INTERNAL_H

#include <stddef.h>

#include "core/strbuf.h"
#include "db/db.h"
#include "labels/labels.h"
#include "state/state.h"
#include "store/common.h"
#include "store/events.h"
#include "store/release_create.h"

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

/* Runs a query and maps its rows as store_map_rows does (*out NULL and *n 0 on an error). */
int store_query_rows(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
                     const struct store_col *cols, size_t ncols, size_t elem_size, void **out,
                     size_t *n, char *err, size_t errlen);

/* Copies a DATETIME cell as RFC 3339 into a STORE_TIME_LEN buffer ("" for NULL). */
void store_copy_time(const struct db_rows *r, size_t row, size_t col, char *buf);

/* qsort and bsearch order of int64_t values, ascending. */
int store_cmp_i64(const void *a, const void *b);

/*
 * Inserts n rows in multi-row statements of as many rows as DB_MAX_ARGS allows (1,000 at
 * most), in the caller's transaction: head ("INSERT INTO t (a, b, c) VALUES "), then for
 * each row the text row ("(?, ?, UTC_TIMESTAMP(3))") with per placeholders, whose
 * arguments fill(ctx, i, args) sets for row i (strings must live until it returns).
 */
int store_insert_rows(struct db_conn *c, const char *head, const char *row, size_t per, size_t n,
                      void (*fill)(const void *ctx, size_t i, struct db_arg *args), const void *ctx,
                      char *err, size_t errlen);

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

/* ---- nodes (nodes.c, node_list.c, node_labels.c, node_import.c) ---- */

/* A node's columns, from the table aliased n, in the order of store_node_cols. */
#define STORE_NODE_COLS                                                                            \
	"n.id, n.hostname, n.ip, n.agent_port, n.status, n.created_at, n.updated_at,"              \
	" n.created_by, n.updated_by, n.config_version, n.config_release_id, n.config_applied_at"
extern const struct store_col store_node_cols[];
extern const size_t store_nnode_cols;

/*
 * A node's labels as one column of a query of nodes aliased n: "<length>:k=v,k2=v2" in
 * key order (keys and values hold no ',' or '='), NULL when it has none. The length
 * tells a set cut short by group_concat_max_len (1 MiB by default; 64 labels are at most
 * 24 KB) from a whole one. store_labels_parse reads it.
 */
#define STORE_LABELS_COL                                                                           \
	"(SELECT CONCAT(SUM(LENGTH(l.k) + LENGTH(l.v) + 2) - 1, ':',"                              \
	" GROUP_CONCAT(l.k, '=', l.v ORDER BY l.k SEPARATOR ',')) FROM node_labels l"              \
	" WHERE l.node_id = n.id)"
/* Reads a STORE_LABELS_COL cell (NULL: none) of node id into ls (empty before). */
int store_labels_parse(const char *cell, int64_t id, struct labels *ls, char *err, size_t errlen);

/* Ids per IN (...) lookup of nodes and of their labels. */
#define STORE_LOOKUP_CHUNK 1000

/*
 * Reads the labels of the nodes ids (n, ascending and distinct) into sets[i], which are
 * empty before. Each label is checked by the rules as it is read: one that breaks them in
 * the database is CMDB_ERR, naming the node.
 */
int store_labels_read(struct db_conn *c, const int64_t *ids, size_t n, struct labels *sets,
                      char *err, size_t errlen);
/* Inserts the labels of nodes ids[i] (sets[i]; NULL is none), in multi-row INSERTs. */
int store_labels_insert(struct db_conn *c, const int64_t *ids, const struct labels *const *sets,
                        size_t n, char *err, size_t errlen);
/* Deletes every label of the nodes ids (n of them). */
int store_labels_delete(struct db_conn *c, const int64_t *ids, size_t n, char *err, size_t errlen);

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

/* ---- a new release's nodes and batches (release_targets.c) ---- */

/* A node a release goes to, or one its selector matched and it leaves out. */
struct store_target {
	struct preview_node p;
	enum node_health health;
	int64_t config_version; /* 0: none */
	int has_group;          /* it has the group_by label: group is its value */
	char group[LABEL_VALUE_MAX + 1];
};

/* A resolved request: its nodes in release order, batch numbers set, and the cut. */
struct store_cut {
	struct store_target *t;
	size_t n;
	struct store_target *left; /* offline nodes it leaves out (of the fleet, or matches) */
	size_t nleft;
	int *sizes; /* batches entries */
	int batches;
	struct release_group *groups; /* with group_by: ngroups, in the order they run */
	size_t ngroups;
};

/*
 * Resolves rq's nodes (store_release_create says how) and cuts them into batches, group
 * by group with group_by; nothing is written. CMDB_EINVAL naming a node that is missing or
 * offline, or saying that nothing matches. Free with store_cut_free.
 */
int store_cut_targets(struct db_conn *c, const struct release_request *rq, struct store_cut *cut,
                      char *err, size_t errlen);
void store_cut_free(struct store_cut *cut);

/* The groups of a grouped cut as a release keeps them (*out malloc'd, g->ngroups). */
int store_groups_from_plan(const struct plan_grouped *g, struct release_group **out);
/* Inserts release_id's groups, positions 1..n in order, in the caller's transaction. */
int store_insert_groups(struct db_conn *c, int64_t release_id, const struct release_group *g,
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
