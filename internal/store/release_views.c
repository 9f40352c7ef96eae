/*
 * store/release_views: reading releases and their nodes for the API and the runner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/releases.h"
#include "store/store_internal.h"

#define RELEASE_COLS                                                                               \
	"id, version, status, batch_size, batch_count, total_nodes, success_nodes,"                \
	" failed_nodes, batch_plan, pause_after, paused_through, paused_reason, max_failures,"     \
	" max_failure_percent, failure_allowance, not_before, expires_at, idempotency_token,"      \
	" owner, created_by, updated_by, created_at, updated_at, started_at, finished_at,"         \
	" error_msg, rollback_of,"                                                                 \
	" (SELECT b.id FROM release_tasks b WHERE b.rollback_of = t.id) AS rolled_back_by,"        \
	" rollback_reason, auto_rollback, approval_required, approval_reason, approved_by,"        \
	" approved_at, rejected_by, rejected_at, approval_comment, selector, group_by,"            \
	" pause_between_groups"

static const struct store_col release_cols[] = {
    STORE_COL(COL_I64, struct release, id),
    STORE_COL(COL_I64, struct release, version),
    STORE_COL(COL_RELEASE_STATUS, struct release, status),
    STORE_COL(COL_INT, struct release, batch_size),
    STORE_COL(COL_INT, struct release, batch_count),
    STORE_COL(COL_INT, struct release, total_nodes),
    STORE_COL(COL_INT, struct release, success_nodes),
    STORE_COL(COL_INT, struct release, failed_nodes),
    STORE_COL(COL_STR, struct release, batch_plan),
    STORE_COL(COL_STR, struct release, pause_after),
    STORE_COL(COL_INT, struct release, paused_through),
    STORE_COL(COL_STR, struct release, paused_reason),
    STORE_COL(COL_INT_OR_UNSET, struct release, max_failures),
    STORE_COL(COL_INT_OR_UNSET, struct release, max_failure_percent),
    STORE_COL(COL_INT, struct release, failure_allowance),
    STORE_COL(COL_TIME, struct release, not_before),
    STORE_COL(COL_TIME, struct release, expires_at),
    STORE_COL(COL_STR, struct release, idem_token),
    STORE_COL(COL_STR, struct release, owner),
    STORE_COL(COL_STR, struct release, created_by),
    STORE_COL(COL_STR, struct release, updated_by),
    STORE_COL(COL_TIME, struct release, created_at),
    STORE_COL(COL_TIME, struct release, updated_at),
    STORE_COL(COL_TIME, struct release, started_at),
    STORE_COL(COL_TIME, struct release, finished_at),
    STORE_COL(COL_STR, struct release, error_msg),
    STORE_COL(COL_I64, struct release, rollback_of),
    STORE_COL(COL_I64, struct release, rolled_back_by),
    STORE_COL(COL_STR, struct release, rollback_reason),
    STORE_COL(COL_INT, struct release, auto_rollback),
    STORE_COL(COL_INT, struct release, approval_required),
    STORE_COL(COL_STR, struct release, approval_reason),
    STORE_COL(COL_STR, struct release, approved_by),
    STORE_COL(COL_TIME, struct release, approved_at),
    STORE_COL(COL_STR, struct release, rejected_by),
    STORE_COL(COL_TIME, struct release, rejected_at),
    STORE_COL(COL_STR, struct release, approval_comment),
    STORE_COL(COL_STR, struct release, selector),
    STORE_COL(COL_STR, struct release, group_by),
    STORE_COL(COL_INT, struct release, pause_between_groups),
};

#define NRELEASE_COLS (sizeof(release_cols) / sizeof(release_cols[0]))

/* Rows of a release are inserted in the order of its batches, so id order is that order. */
#define RELEASE_NODE_SELECT                                                                        \
	"SELECT r.id, r.node_id, n.hostname, r.node_ip, r.agent_port, r.batch,"                    \
	" r.status, r.task_id, r.started_at, r.finished_at, r.error_msg, r.version,"               \
	" r.previous_version"                                                                      \
	" FROM release_task_nodes r JOIN nodes n ON n.id = r.node_id"

static const struct store_col release_node_cols[] = {
    STORE_COL(COL_I64, struct release_node, id),
    STORE_COL(COL_I64, struct release_node, node_id),
    STORE_COL(COL_STR, struct release_node, hostname),
    STORE_COL(COL_STR, struct release_node, node_ip),
    STORE_COL(COL_INT, struct release_node, agent_port),
    STORE_COL(COL_INT, struct release_node, batch),
    STORE_COL(COL_NODE_STATUS, struct release_node, status),
    STORE_COL(COL_STR, struct release_node, task_id),
    STORE_COL(COL_TIME, struct release_node, started_at),
    STORE_COL(COL_TIME, struct release_node, finished_at),
    STORE_COL(COL_STR, struct release_node, error_msg),
    STORE_COL(COL_I64, struct release_node, version),
    STORE_COL(COL_I64, struct release_node, previous_version),
};

#define NRELEASE_NODE_COLS (sizeof(release_node_cols) / sizeof(release_node_cols[0]))

int store_release_get(struct db_conn *c, int64_t id, struct release *out, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	int rc;

	rc = db_query(c, "SELECT " RELEASE_COLS " FROM release_tasks t WHERE id = ?", &arg, 1,
	              &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0) {
		snprintf(err, errlen, "release %lld not found", (long long)id);
		rc = CMDB_ENOTFOUND;
	} else {
		memset(out, 0, sizeof(*out));
		store_map_row(&rows, 0, release_cols, NRELEASE_COLS, out);
	}
	db_rows_free(&rows);
	return rc;
}

int store_release_list(struct db_conn *c, int status, int limit, struct release **out, size_t *n,
                       char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[2];
	int rc;

	*out = NULL;
	*n = 0;
	if (status >= 0) {
		args[0] = DB_STR(release_status_name((enum release_status)status));
		args[1] = DB_I64(limit);
		rc = db_query(c,
		              "SELECT " RELEASE_COLS " FROM release_tasks t WHERE status = ?"
		              " ORDER BY seq DESC LIMIT ?",
		              args, 2, &rows, err, errlen);
	} else {
		args[0] = DB_I64(limit);
		rc = db_query(
		    c, "SELECT " RELEASE_COLS " FROM release_tasks t ORDER BY seq DESC LIMIT ?",
		    args, 1, &rows, err, errlen);
	}
	if (rc)
		return rc;
	rc = store_map_rows(&rows, release_cols, NRELEASE_COLS, sizeof(**out), (void **)out, n);
	db_rows_free(&rows);
	return rc;
}

int store_release_nodes(struct db_conn *c, int64_t release_id, int status,
                        struct release_node **out, size_t *n, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[2] = {DB_I64(release_id)};
	int rc;

	*out = NULL;
	*n = 0;
	if (status >= 0) {
		args[1] = DB_STR(node_status_name((enum node_status)status));
		rc = db_query(c,
		              RELEASE_NODE_SELECT " WHERE r.release_task_id = ? AND r.status = ?"
		                                  " ORDER BY r.batch, r.id",
		              args, 2, &rows, err, errlen);
	} else {
		rc = db_query(
		    c, RELEASE_NODE_SELECT " WHERE r.release_task_id = ? ORDER BY r.batch, r.id",
		    args, 1, &rows, err, errlen);
	}
	if (rc)
		return rc;
	rc = store_map_rows(&rows, release_node_cols, NRELEASE_NODE_COLS, sizeof(**out),
	                    (void **)out, n);
	db_rows_free(&rows);
	return rc;
}

int store_release_batch_counts(struct db_conn *c, int64_t release_id, struct batch_counts **out,
                               size_t *n, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(release_id);
	struct batch_counts *b = NULL;
	size_t nb = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = db_query(c,
	              "SELECT batch, status, COUNT(*) FROM release_task_nodes"
	              " WHERE release_task_id = ? GROUP BY batch, status ORDER BY batch",
	              &arg, 1, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows && !(b = calloc(rows.nrows, sizeof(*b)))) {
		db_rows_free(&rows);
		return CMDB_ENOMEM;
	}
	for (size_t i = 0; i < rows.nrows; i++) {
		int batch = (int)db_cell_i64(&rows, i, 0);
		int st = node_status_parse(db_cell(&rows, i, 1));
		int count = (int)db_cell_i64(&rows, i, 2);

		if (nb == 0 || b[nb - 1].batch != batch)
			b[nb++].batch = batch;
		if (st >= 0)
			b[nb - 1].count[st] = count;
		b[nb - 1].total += count;
	}
	db_rows_free(&rows);
	*out = b;
	*n = nb;
	return 0;
}

static const struct store_col group_cols[] = {
    STORE_COL(COL_STR, struct release_group, value),
    STORE_COL(COL_INT, struct release_group, has_value),
    STORE_COL(COL_INT, struct release_group, first_batch),
    STORE_COL(COL_INT, struct release_group, batches),
    STORE_COL(COL_INT, struct release_group, nodes),
};

int store_release_groups(struct db_conn *c, int64_t release_id, struct release_group **out,
                         size_t *n, char *err, size_t errlen)
{
	struct db_arg arg = DB_I64(release_id);

	return store_query_rows(c,
	                        "SELECT value, value IS NOT NULL, first_batch, batch_count,"
	                        " node_count FROM release_groups WHERE release_task_id = ?"
	                        " ORDER BY position",
	                        &arg, 1, group_cols, sizeof(group_cols) / sizeof(group_cols[0]),
	                        sizeof(**out), (void **)out, n, err, errlen);
}

int store_group_of(const struct release_group *groups, size_t n, int batch)
{
	size_t lo = 0, hi = n;

	/* Groups hold consecutive batches, in order: a binary search by first batch. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (groups[mid].first_batch + groups[mid].batches <= batch)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && groups[lo].first_batch <= batch ? (int)lo : -1;
}

static const struct store_col left_out_cols[] = {
    STORE_COL(COL_I64, struct left_out_node, node_id),
    STORE_COL(COL_STR, struct left_out_node, hostname),
    STORE_COL(COL_STR, struct left_out_node, node_ip),
    STORE_COL(COL_INT, struct left_out_node, agent_port),
    STORE_COL(COL_STR, struct left_out_node, reason),
};

int store_release_left_out(struct db_conn *c, int64_t release_id, struct left_out_node **out,
                           size_t *n, char *err, size_t errlen)
{
	struct db_arg arg = DB_I64(release_id);

	return store_query_rows(c,
	                        "SELECT l.node_id, n.hostname, l.node_ip, l.agent_port, l.reason"
	                        " FROM release_left_out l JOIN nodes n ON n.id = l.node_id"
	                        " WHERE l.release_task_id = ? ORDER BY l.node_id",
	                        &arg, 1, left_out_cols,
	                        sizeof(left_out_cols) / sizeof(left_out_cols[0]), sizeof(**out),
	                        (void **)out, n, err, errlen);
}
