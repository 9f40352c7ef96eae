/*
 * store/release_claim: which controller drives a release. A claim is a conditional
 * UPDATE: one affected row means this controller owns the release for its lease; zero
 * means another one was faster (or the release changed), and the next candidate is tried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/release_run.h"
#include "store/store_internal.h"

/* Candidates per kind and scan. */
#define CANDIDATES 8

/*
 * A pending release may start: its time has come, it has not expired, nobody holds it.
 * One parameter: RELEASE_PENDING's name.
 */
#define STARTABLE                                                                                  \
	"status = ? AND (not_before IS NULL OR not_before <= UTC_TIMESTAMP(3))"                    \
	" AND (expires_at IS NULL OR expires_at > UTC_TIMESTAMP(3) OR started_at IS NOT NULL)"     \
	" AND (owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < UTC_TIMESTAMP(3))"

/*
 * A started release needs a driver: it is not finished and its owner is gone (lease
 * expired, or handed back). A paused one only while a call it started is unresolved.
 * Four parameters: ORPHAN_ARGS.
 */
#define ORPHANED                                                                                   \
	"finished_at IS NULL AND status IN (?, ?, ?, ?)"                                           \
	" AND (owner IS NULL OR lease_expires_at IS NULL OR lease_expires_at < UTC_TIMESTAMP(3))"

/* Which releases may be orphaned: those a controller drives, or follows to their end. */
#define ORPHAN_ARGS                                                                                \
	STORE_ARG_RELEASE(RELEASE_RUNNING), STORE_ARG_RELEASE(RELEASE_PAUSED),                     \
	    STORE_ARG_RELEASE(RELEASE_FAILED), STORE_ARG_RELEASE(RELEASE_CANCELLED)

/*
 * A release waits while an earlier unfinished release shares one of its nodes, so a node
 * is never in two running releases. Earlier releases only ever finish, and later ones
 * get higher seqs (store_release_order: seq is commit order, on one server and on
 * Galera): once a release may start, it stays so, and the claim need not re-check.
 */
#define NOT_BLOCKED                                                                                \
	" AND NOT EXISTS (SELECT 1 FROM release_tasks e JOIN release_task_nodes en"                \
	" ON en.release_task_id = e.id JOIN release_task_nodes tn ON tn.release_task_id = t.id"    \
	" AND tn.node_id = en.node_id WHERE e.finished_at IS NULL AND e.seq < t.seq)"

/* Who held the release before a takeover, for the timeline ("" when nobody). */
static int previous_owner(struct db_conn *c, int64_t id, char *buf, size_t len, char *err,
                          size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	int rc = db_query(c, "SELECT owner FROM release_tasks WHERE id = ?", &arg, 1, &rows, err,
	                  errlen);

	buf[0] = '\0';
	if (rc == 0 && rows.nrows && db_cell(&rows, 0, 0))
		str_copy(buf, db_cell(&rows, 0, 0), len);
	db_rows_free(&rows);
	return rc;
}

static int try_claim(struct db_conn *c, int64_t id, int takeover, const char *owner, int lease_s,
                     int *took_over, char *err, size_t errlen)
{
	char before[STORE_OWNER_LEN] = "", actor[STORE_OWNER_LEN + 16];
	enum release_status to =
	    (enum release_status)release_next(RELEASE_PENDING, RELEASE_EV_CLAIM);
	struct db_arg take[7] = {DB_STR(owner), DB_I64(lease_s), DB_I64(id), ORPHAN_ARGS};
	struct db_arg claim[5] = {STORE_ARG_RELEASE(to), DB_STR(owner), DB_I64(lease_s), DB_I64(id),
	                          STORE_ARG_RELEASE(RELEASE_PENDING)};
	struct db_arg skip[4] = {STORE_ARG_NODE(NODE_SKIPPED), DB_I64(id),
	                         STORE_ARG_NODE(NODE_PENDING), STORE_ARG_HEALTH(NODE_ONLINE)};
	uint64_t affected = 0;
	int rc;

	snprintf(actor, sizeof(actor), "controller:%s", owner);
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	if (takeover)
		rc = previous_owner(c, id, before, sizeof(before), err, errlen);
	if (rc == 0 && takeover)
		rc = db_exec(c,
		             "UPDATE release_tasks SET owner = ?,"
		             " lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
		             " WHERE id = ? AND " ORPHANED,
		             take, 7, &affected, NULL, err, errlen);
	else if (rc == 0)
		rc = db_exec(c,
		             "UPDATE release_tasks SET status = ?, owner = ?,"
		             " lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
		             " started_at = COALESCE(started_at, UTC_TIMESTAMP(3)),"
		             " paused_reason = NULL WHERE id = ? AND " STARTABLE,
		             claim, 5, &affected, NULL, err, errlen);
	if (rc == 0 && affected != 1)
		rc = CMDB_ECONFLICT;
	/*
	 * Starting or resuming: every node not dispatched yet is checked again. It cannot have
	 * gone (nodes are never deleted) but it may have gone offline.
	 */
	if (rc == 0 && !takeover)
		rc = db_exec(c,
		             "UPDATE release_task_nodes r JOIN nodes n ON n.id = r.node_id"
		             " SET r.status = ?, r.finished_at = UTC_TIMESTAMP(3),"
		             " r.error_msg = 'node offline since the release was created'"
		             " WHERE r.release_task_id = ? AND r.status = ? AND n.status <> ?",
		             skip, 4, NULL, NULL, err, errlen);
	/* A release its owner handed back (SIGTERM, pause) is claimed, not taken over. */
	*took_over = takeover && before[0];
	if (rc == 0)
		rc = *took_over
		         ? store_add_event(c, id, 0, "lease_taken_over", actor, err, errlen,
		                           "from %s to %s", before, owner)
		         : store_add_event(c, id, 0, "claimed", actor, err, errlen, "by %s", owner);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc)
		db_rollback(c);
	return rc;
}

int store_release_claim(struct db_conn *c, const char *owner, int lease_s, int64_t *id,
                        int *took_over, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[9] = {
	    STORE_ARG_RELEASE(RELEASE_PENDING), DB_I64(CANDIDATES),           ORPHAN_ARGS,
	    STORE_ARG_RELEASE(RELEASE_PAUSED),  STORE_ARG_NODE(NODE_RUNNING), DB_I64(CANDIDATES)};
	int rc;

	/* Pending work first, oldest first; then releases whose driver went away. */
	rc = db_query(c,
	              "(SELECT id, 0 AS takeover FROM release_tasks t WHERE " STARTABLE NOT_BLOCKED
	              "  ORDER BY seq LIMIT ?)"
	              " UNION ALL"
	              " (SELECT id, 1 FROM release_tasks t WHERE " ORPHANED
	              "  AND (status <> ? OR EXISTS (SELECT 1 FROM release_task_nodes n"
	              "  WHERE n.release_task_id = t.id AND n.status = ?))"
	              "  ORDER BY seq LIMIT ?)",
	              args, 9, &rows, err, errlen);
	if (rc)
		return rc;
	rc = CMDB_ENOTFOUND;
	for (size_t i = 0; i < rows.nrows && rc == CMDB_ENOTFOUND; i++) {
		int64_t cand = db_cell_i64(&rows, i, 0);

		rc = try_claim(c, cand, db_cell_i64(&rows, i, 1) != 0, owner, lease_s, took_over,
		               err, errlen);
		if (rc == 0)
			*id = cand;
		else if (rc == CMDB_ECONFLICT || rc == CMDB_ERETRY)
			rc = CMDB_ENOTFOUND; /* another controller won (on Galera: at COMMIT) */
	}
	db_rows_free(&rows);
	return rc;
}

int store_release_unlease(struct db_conn *c, int64_t release_id, const char *owner, char *err,
                          size_t errlen)
{
	struct db_arg args[2] = {DB_I64(release_id), DB_STR(owner)};

	return db_exec(c,
	               "UPDATE release_tasks SET owner = NULL, lease_expires_at = NULL"
	               " WHERE id = ? AND owner = ? AND finished_at IS NULL",
	               args, 2, NULL, NULL, err, errlen);
}
