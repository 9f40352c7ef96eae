/*
 * store/releases: release_tasks and release_task_nodes, for the API (create, read)
 * and for the executor (claim, apply a round of changes under the lease).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store/store.h"
#include "store/store_internal.h"

#define RELEASE_COLS                                                                               \
	"id, version, status, batch_size, batch_count, total_nodes, success_nodes,"                \
	" failed_nodes, idempotency_token, owner, created_at, started_at, finished_at,"            \
	" error_msg, created_by"

/* Rows of a release are inserted in node order, so id order is node order. */
#define RELEASE_NODE_SELECT                                                                        \
	"SELECT r.id, r.node_id, n.hostname, r.node_ip, r.agent_port, r.batch,"                    \
	" r.status, r.task_id, r.started_at, r.finished_at, r.error_msg"                           \
	" FROM release_task_nodes r JOIN nodes n ON n.id = r.node_id"

/* Rows per multi-row INSERT; 5 parameters each stays far below the 65,535 limit. */
#define INSERT_CHUNK 500
/* Ids per IN (...) lookup. */
#define LOOKUP_CHUNK 1000

/*
 * Appends text to a statement being built in buf (cap bytes, *len used). Returns -1,
 * leaving buf terminated, when it does not fit: a builder sized wrong fails cleanly.
 */
static int sql_append(char *buf, size_t cap, size_t *len, const char *text)
{
	size_t n = strlen(text);

	if (*len + n >= cap)
		return -1;
	memcpy(buf + *len, text, n + 1);
	*len += n;
	return 0;
}

void store_copy_cell(const struct db_rows *r, size_t row, size_t col, char *buf, size_t len)
{
	const char *v = db_cell(r, row, col);

	str_copy(buf, v ? v : "", len);
}

void store_copy_time(const struct db_rows *r, size_t row, size_t col, char *buf)
{
	const char *v = db_cell(r, row, col);

	if (!v || db_time_to_rfc3339(v, buf, STORE_TIME_LEN))
		buf[0] = '\0';
}

static void row_to_release(const struct db_rows *r, size_t i, struct release *x)
{
	int st = release_status_parse(db_cell(r, i, 2));

	memset(x, 0, sizeof(*x));
	x->id = db_cell_i64(r, i, 0);
	x->version = db_cell_i64(r, i, 1);
	x->status = st < 0 ? RELEASE_PENDING : (enum release_status)st;
	x->batch_size = (int)db_cell_i64(r, i, 3);
	x->batch_count = (int)db_cell_i64(r, i, 4);
	x->total_nodes = (int)db_cell_i64(r, i, 5);
	x->success_nodes = (int)db_cell_i64(r, i, 6);
	x->failed_nodes = (int)db_cell_i64(r, i, 7);
	store_copy_cell(r, i, 8, x->idem_token, sizeof(x->idem_token));
	store_copy_cell(r, i, 9, x->owner, sizeof(x->owner));
	store_copy_time(r, i, 10, x->created_at);
	store_copy_time(r, i, 11, x->started_at);
	store_copy_time(r, i, 12, x->finished_at);
	store_copy_cell(r, i, 13, x->error_msg, sizeof(x->error_msg));
	store_copy_cell(r, i, 14, x->created_by, sizeof(x->created_by));
}

int store_release_get(struct db_conn *c, int64_t id, struct release *out, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	int rc;

	rc = db_query(c, "SELECT " RELEASE_COLS " FROM release_tasks WHERE id = ?", &arg, 1, &rows,
	              err, errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0) {
		snprintf(err, errlen, "release %lld not found", (long long)id);
		rc = CMDB_ENOTFOUND;
	} else {
		row_to_release(&rows, 0, out);
	}
	db_rows_release(&rows);
	return rc;
}

int store_release_list(struct db_conn *c, int status, int limit, struct release **out, size_t *n,
                       char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[2];
	size_t nargs = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (status >= 0) {
		args[nargs++] = DB_STR(release_status_name((enum release_status)status));
		args[nargs++] = DB_I64(limit);
		rc = db_query(c,
		              "SELECT " RELEASE_COLS " FROM release_tasks WHERE status = ?"
		              " ORDER BY id DESC LIMIT ?",
		              args, nargs, &rows, err, errlen);
	} else {
		args[nargs++] = DB_I64(limit);
		rc = db_query(c,
		              "SELECT " RELEASE_COLS " FROM release_tasks ORDER BY id DESC LIMIT ?",
		              args, nargs, &rows, err, errlen);
	}
	if (rc)
		return rc;
	if (rows.nrows && !(*out = calloc(rows.nrows, sizeof(**out)))) {
		db_rows_release(&rows);
		return CMDB_ENOMEM;
	}
	for (size_t i = 0; i < rows.nrows; i++)
		row_to_release(&rows, i, &(*out)[i]);
	*n = rows.nrows;
	db_rows_release(&rows);
	return 0;
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
	if (rows.nrows && !(*out = calloc(rows.nrows, sizeof(**out)))) {
		db_rows_release(&rows);
		return CMDB_ENOMEM;
	}
	for (size_t i = 0; i < rows.nrows; i++) {
		struct release_node *x = &(*out)[i];
		int st = node_status_parse(db_cell(&rows, i, 6));

		x->id = db_cell_i64(&rows, i, 0);
		x->node_id = db_cell_i64(&rows, i, 1);
		store_copy_cell(&rows, i, 2, x->hostname, sizeof(x->hostname));
		store_copy_cell(&rows, i, 3, x->node_ip, sizeof(x->node_ip));
		x->agent_port = (int)db_cell_i64(&rows, i, 4);
		x->batch = (int)db_cell_i64(&rows, i, 5);
		x->status = st < 0 ? NODE_PENDING : (enum node_status)st;
		store_copy_cell(&rows, i, 7, x->task_id, sizeof(x->task_id));
		store_copy_time(&rows, i, 8, x->started_at);
		store_copy_time(&rows, i, 9, x->finished_at);
		store_copy_cell(&rows, i, 10, x->error_msg, sizeof(x->error_msg));
	}
	*n = rows.nrows;
	db_rows_release(&rows);
	return 0;
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
		db_rows_release(&rows);
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
	db_rows_release(&rows);
	*out = b;
	*n = nb;
	return 0;
}

/* ---- create ---- */

struct target {
	int64_t id;
	char ip[STORE_IP_LEN];
	int port;
	int online;
	char hostname[STORE_HOSTNAME_LEN];
};

static int cmp_target(const void *a, const void *b)
{
	const struct target *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static void rows_to_targets(const struct db_rows *rows, struct target *t, size_t *nt)
{
	for (size_t i = 0; i < rows->nrows; i++, (*nt)++) {
		t[*nt].id = db_cell_i64(rows, i, 0);
		store_copy_cell(rows, i, 1, t[*nt].ip, sizeof(t[*nt].ip));
		t[*nt].port = (int)db_cell_i64(rows, i, 2);
		t[*nt].online = node_health_parse(db_cell(rows, i, 3)) == NODE_ONLINE;
		store_copy_cell(rows, i, 4, t[*nt].hostname, sizeof(t[*nt].hostname));
	}
}

/*
 * Loads the nodes a release goes to, locked against a concurrent status change until
 * the transaction ends, and checks that each requested one exists and is online.
 */
static int load_targets(struct db_conn *c, const int64_t *ids, size_t n, struct target **out,
                        size_t *nout, char *err, size_t errlen)
{
	static const char cols[] = "SELECT id, ip, agent_port, status, hostname FROM nodes";
	struct db_rows rows = DB_ROWS_INIT;
	struct target *t = NULL;
	struct db_arg *args = NULL;
	char *sql = NULL;
	size_t nt = 0;
	int rc;

	if (n == 0) {
		rc = db_query(c,
		              "SELECT id, ip, agent_port, status, hostname FROM nodes"
		              " WHERE status = 'online' ORDER BY id LOCK IN SHARE MODE",
		              NULL, 0, &rows, err, errlen);
		if (rc)
			return rc;
		if (rows.nrows == 0) {
			snprintf(err, errlen, "no online nodes to release to");
			rc = CMDB_EINVAL;
			goto out;
		}
		if (!(t = calloc(rows.nrows, sizeof(*t)))) {
			rc = CMDB_ENOMEM;
			goto out;
		}
		rows_to_targets(&rows, t, &nt);
		goto done;
	}
	t = calloc(n, sizeof(*t));
	args = calloc(LOOKUP_CHUNK, sizeof(*args));
	sql = malloc(sizeof(cols) + 64 + LOOKUP_CHUNK * 2);
	if (!t || !args || !sql) {
		rc = CMDB_ENOMEM;
		goto out;
	}
	for (size_t at = 0; at < n; at += LOOKUP_CHUNK) {
		size_t k = n - at < LOOKUP_CHUNK ? n - at : LOOKUP_CHUNK;

		size_t cap = sizeof(cols) + 64 + LOOKUP_CHUNK * 2, len = 0;
		int fits = sql_append(sql, cap, &len, cols) == 0 &&
		           sql_append(sql, cap, &len, " WHERE id IN (") == 0;

		for (size_t i = 0; i < k && fits; i++)
			fits = sql_append(sql, cap, &len, i ? ",?" : "?") == 0;
		if (!fits || sql_append(sql, cap, &len, ") LOCK IN SHARE MODE")) {
			snprintf(err, errlen, "store: node lookup statement too long");
			rc = CMDB_ERR;
			goto out;
		}
		for (size_t i = 0; i < k; i++)
			args[i] = DB_I64(ids[at + i]);
		rc = db_query(c, sql, args, k, &rows, err, errlen);
		if (rc)
			goto out;
		rows_to_targets(&rows, t, &nt);
		db_rows_release(&rows);
	}
	qsort(t, nt, sizeof(*t), cmp_target);
	for (size_t i = 0; i < n; i++) {
		struct target key = {.id = ids[i]};
		struct target *hit = bsearch(&key, t, nt, sizeof(*t), cmp_target);

		if (!hit) {
			snprintf(err, errlen, "node %lld does not exist", (long long)ids[i]);
			rc = CMDB_EINVAL;
			goto out;
		}
		if (!hit->online) {
			snprintf(err, errlen, "node %lld (%s) is offline", (long long)hit->id,
			         hit->hostname);
			rc = CMDB_EINVAL;
			goto out;
		}
	}
done:
	*out = t;
	*nout = nt;
	t = NULL;
	rc = 0;
out:
	db_rows_release(&rows);
	free(t);
	free(args);
	free(sql);
	return rc;
}

static int insert_release_nodes(struct db_conn *c, int64_t release_id, int batch_size,
                                const struct target *t, size_t n, char *err, size_t errlen)
{
	static const char head[] = "INSERT INTO release_task_nodes"
	                           " (release_task_id, node_id, node_ip, agent_port, batch, status)"
	                           " VALUES ";
	static const char row[] = ",(?, ?, ?, ?, ?, 'pending')";
	size_t sqlcap = sizeof(head) + INSERT_CHUNK * sizeof(row);
	struct db_arg *args = calloc(INSERT_CHUNK * 5, sizeof(*args));
	char *sql = malloc(sqlcap);
	int rc = 0;

	if (!args || !sql) {
		rc = CMDB_ENOMEM;
		goto out;
	}
	for (size_t at = 0; at < n && rc == 0; at += INSERT_CHUNK) {
		size_t k = n - at < INSERT_CHUNK ? n - at : INSERT_CHUNK, len = 0;
		int fits = sql_append(sql, sqlcap, &len, head) == 0;

		for (size_t i = 0; i < k; i++) {
			const struct target *x = &t[at + i];

			fits = fits && sql_append(sql, sqlcap, &len, i ? row : row + 1) == 0;
			args[i * 5 + 0] = DB_I64(release_id);
			args[i * 5 + 1] = DB_I64(x->id);
			args[i * 5 + 2] = DB_STR(x->ip);
			args[i * 5 + 3] = DB_I64(x->port);
			args[i * 5 + 4] = DB_I64((int64_t)((at + i) / (size_t)batch_size) + 1);
		}
		if (!fits) {
			snprintf(err, errlen, "store: insert statement too long");
			rc = CMDB_ERR;
			break;
		}
		rc = db_exec(c, sql, args, k * 5, NULL, NULL, err, errlen);
	}
out:
	free(args);
	free(sql);
	return rc;
}

static int make_token(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[8];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (int i = 0; i < 8; i++) {
		out[i * 2] = hex[raw[i] >> 4];
		out[i * 2 + 1] = hex[raw[i] & 15];
	}
	out[16] = '\0';
	return 0;
}

int store_release_create(struct db_conn *c, int64_t version, int batch_size,
                         const int64_t *node_ids, size_t n, const char *principal,
                         struct release *out, char *err, size_t errlen)
{
	struct target *t = NULL;
	size_t nt = 0;
	uint64_t id = 0;
	char token[17];
	int rc;

	if (make_token(token)) {
		snprintf(err, errlen, "no randomness for the idempotency token");
		return CMDB_ERR;
	}
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = load_targets(c, node_ids, n, &t, &nt, err, errlen);
	if (rc)
		goto out;
	{
		int64_t batches = ((int64_t)nt + batch_size - 1) / batch_size;
		struct db_arg args[6] = {DB_I64(version), DB_I64(batch_size), DB_I64(batches),
		                         DB_I64(nt),      DB_STR(token),      DB_STR(principal)};

		rc = db_exec(c,
		             "INSERT INTO release_tasks (version, status, batch_size, batch_count,"
		             " total_nodes, idempotency_token, created_at, created_by)"
		             " VALUES (?, 'pending', ?, ?, ?, ?, UTC_TIMESTAMP(3), ?)",
		             args, 6, NULL, &id, err, errlen);
	}
	if (rc)
		goto out;
	rc = insert_release_nodes(c, (int64_t)id, batch_size, t, nt, err, errlen);
	if (rc)
		goto out;
	rc = db_commit(c, err, errlen);
	if (rc)
		goto out;
	free(t);
	return store_release_get(c, (int64_t)id, out, err, errlen);
out:
	db_rollback(c);
	free(t);
	return rc;
}

/* ---- executor side ---- */

static int try_claim(struct db_conn *c, const char *sql, int64_t id, const char *owner, int lease_s,
                     char *err, size_t errlen)
{
	struct db_arg args[3] = {DB_STR(owner), DB_I64(lease_s), DB_I64(id)};
	uint64_t affected = 0;
	int rc = db_exec(c, sql, args, 3, &affected, NULL, err, errlen);

	if (rc)
		return rc;
	return affected == 1 ? 0 : CMDB_ECONFLICT;
}

int store_release_claim(struct db_conn *c, const char *owner, int lease_s, int64_t *id, char *err,
                        size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	int rc;

	/* Pending work first, oldest first; then releases whose driver went away. */
	rc = db_query(c,
	              "(SELECT id, 0 AS takeover FROM release_tasks WHERE status = 'pending'"
	              "  ORDER BY id LIMIT 8)"
	              " UNION ALL"
	              " (SELECT id, 1 FROM release_tasks WHERE status IN ('running', 'failed')"
	              "  AND finished_at IS NULL AND lease_expires_at < UTC_TIMESTAMP(3)"
	              "  ORDER BY id LIMIT 8)",
	              NULL, 0, &rows, err, errlen);
	if (rc)
		return rc;
	rc = CMDB_ENOTFOUND;
	for (size_t i = 0; i < rows.nrows && rc == CMDB_ENOTFOUND; i++) {
		int64_t cand = db_cell_i64(&rows, i, 0);
		int takeover = db_cell_i64(&rows, i, 1) != 0;

		rc =
		    try_claim(c,
		              takeover ? "UPDATE release_tasks SET owner = ?,"
		                         " lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
		                         " WHERE id = ? AND status IN ('running', 'failed')"
		                         " AND finished_at IS NULL"
		                         " AND lease_expires_at < UTC_TIMESTAMP(3)"
		                       : "UPDATE release_tasks SET status = 'running', owner = ?,"
		                         " lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND,"
		                         " started_at = UTC_TIMESTAMP(3)"
		                         " WHERE id = ? AND status = 'pending'",
		              cand, owner, lease_s, err, errlen);
		if (rc == 0)
			*id = cand;
		else if (rc == CMDB_ECONFLICT)
			rc = CMDB_ENOTFOUND; /* another controller won; try the next */
	}
	db_rows_release(&rows);
	return rc;
}

/* Rows per grouped UPDATE: 3 parameters each, far below the 65,535 limit. */
#define GROUP_CHUNK 1000

/*
 * One grouped UPDATE for up to GROUP_CHUNK changes of the same kind:
 *   UPDATE release_task_nodes SET <set> = CASE id WHEN ? THEN ? ... END
 *   WHERE release_task_id = ? AND status = '<from>' AND id IN (?, ...)
 * so a round costs one statement per kind, not one per node.
 */
static int group_update(struct db_conn *c, int64_t release_id, const char *set, const char *from,
                        const struct node_change **ch, size_t n, const char *const *values,
                        uint64_t *moved, char *err, size_t errlen)
{
	size_t cap = 256 + strlen(set) + n * 22, len = 0;
	struct db_arg *args = calloc(n * 3 + 1, sizeof(*args));
	char *sql = malloc(cap);
	size_t k = 0;
	int rc = CMDB_ENOMEM, fits;

	if (!args || !sql)
		goto out;
	fits = sql_append(sql, cap, &len, "UPDATE release_task_nodes SET ") == 0 &&
	       sql_append(sql, cap, &len, set) == 0 &&
	       sql_append(sql, cap, &len, " = CASE id") == 0;
	for (size_t i = 0; i < n; i++) {
		fits = fits && sql_append(sql, cap, &len, " WHEN ? THEN ?") == 0;
		args[k++] = DB_I64(ch[i]->rtn_id);
		args[k++] = DB_STR(values[i]);
	}
	fits = fits &&
	       sql_append(sql, cap, &len, " END WHERE release_task_id = ? AND status = '") == 0 &&
	       sql_append(sql, cap, &len, from) == 0 &&
	       sql_append(sql, cap, &len, "' AND id IN (") == 0;
	args[k++] = DB_I64(release_id);
	for (size_t i = 0; i < n; i++) {
		fits = fits && sql_append(sql, cap, &len, i ? ",?" : "?") == 0;
		args[k++] = DB_I64(ch[i]->rtn_id);
	}
	if (!fits || sql_append(sql, cap, &len, ")")) {
		snprintf(err, errlen, "store: grouped update too long");
		rc = CMDB_ERR;
		goto out;
	}
	rc = db_exec(c, sql, args, k, moved, NULL, err, errlen);
out:
	free(args);
	free(sql);
	return rc;
}

enum change_kind { KIND_INTENT, KIND_TASK_ID, KIND_SUCCESS, KIND_FAILED, KIND_COUNT };

static enum change_kind kind_of(const struct node_change *ch)
{
	switch (ch->to) {
	case NODE_RUNNING:
		return ch->task_id ? KIND_TASK_ID : KIND_INTENT;
	case NODE_SUCCESS:
		return KIND_SUCCESS;
	default:
		return KIND_FAILED;
	}
}

/* A failure is rare and carries its own message: one statement per failed node. */
static int apply_failure(struct db_conn *c, const struct node_change *ch, uint64_t *moved,
                         char *err, size_t errlen)
{
	char at[STORE_TIME_LEN];
	struct db_arg args[5];

	format_db_time(ch->at_ms, at, sizeof(at));
	args[0] = DB_STR(at);
	args[1] = DB_STR(ch->error_msg ? ch->error_msg : "failed");
	args[2] = DB_STR(at);
	args[3] = DB_STR_OR_NULL(ch->task_id);
	args[4] = DB_I64(ch->rtn_id);
	return db_exec(c,
	               "UPDATE release_task_nodes SET status = 'failed', finished_at = ?,"
	               " error_msg = LEFT(?, 1024), started_at = COALESCE(started_at, ?),"
	               " task_id = COALESCE(task_id, ?)"
	               " WHERE id = ? AND status IN ('pending', 'running')",
	               args, 5, moved, NULL, err, errlen);
}

/*
 * Applies the changes of one kind in chunks. Intents, task ids and successes are
 * grouped; *moved_total is the number of rows that changed state.
 */
static int apply_kind(struct db_conn *c, int64_t release_id, enum change_kind kind,
                      const struct node_change **ch, char (*times)[STORE_TIME_LEN], size_t n,
                      uint64_t *moved_total, char *err, size_t errlen)
{
	static const char *const set[] = {
	    [KIND_INTENT] = "status = 'running', started_at",
	    [KIND_TASK_ID] = "task_id",
	    [KIND_SUCCESS] = "status = 'success', finished_at",
	};
	const char **values = calloc(n ? n : 1, sizeof(*values));
	uint64_t moved = 0;
	int rc = 0;

	if (!values)
		return CMDB_ENOMEM;
	*moved_total = 0;
	for (size_t i = 0; i < n; i++) {
		format_db_time(ch[i]->at_ms, times[i], STORE_TIME_LEN);
		values[i] = kind == KIND_TASK_ID ? ch[i]->task_id : times[i];
	}
	for (size_t at = 0; at < n && rc == 0; at += GROUP_CHUNK) {
		size_t k = n - at < GROUP_CHUNK ? n - at : GROUP_CHUNK;

		if (kind == KIND_FAILED) {
			for (size_t i = 0; i < k && rc == 0; i++) {
				rc = apply_failure(c, ch[at + i], &moved, err, errlen);
				*moved_total += moved;
			}
			continue;
		}
		rc = group_update(c, release_id, set[kind],
		                  kind == KIND_INTENT ? "pending" : "running", ch + at, k,
		                  values + at, &moved, err, errlen);
		*moved_total += moved;
	}
	free(values);
	return rc;
}

/* Writes the node changes of a round, in state order; counts successes and failures. */
static int apply_changes(struct db_conn *c, int64_t release_id, const struct release_round *round,
                         int64_t *ok, int64_t *failed, char *err, size_t errlen)
{
	size_t n = round->nchanges;
	const struct node_change **byk = calloc(n ? n : 1, sizeof(*byk));
	char(*times)[STORE_TIME_LEN] = calloc(n ? n : 1, sizeof(*times));
	int rc = 0;

	if (!byk || !times) {
		rc = CMDB_ENOMEM;
		goto out;
	}
	for (int kind = 0; kind < KIND_COUNT && rc == 0; kind++) {
		size_t k = 0;
		uint64_t moved = 0;

		for (size_t i = 0; i < n; i++)
			if (kind_of(&round->changes[i]) == (enum change_kind)kind)
				byk[k++] = &round->changes[i];
		if (k == 0)
			continue;
		rc = apply_kind(c, release_id, (enum change_kind)kind, byk, times, k, &moved, err,
		                errlen);
		if (kind == KIND_SUCCESS)
			*ok += (int64_t)moved;
		else if (kind == KIND_FAILED)
			*failed += (int64_t)moved;
	}
out:
	free(byk);
	free(times);
	return rc;
}

int store_release_apply(struct db_conn *c, int64_t release_id, const char *owner, int lease_s,
                        const struct release_round *round, char *err, size_t errlen)
{
	int64_t ok = 0, failed = 0;
	char at[STORE_TIME_LEN];
	uint64_t moved = 0;
	int rc;

	format_db_time(round->at_ms, at, sizeof(at));
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	{
		/* Ownership first: it locks the release row for the rest of the round. */
		struct db_arg args[3] = {DB_I64(lease_s), DB_I64(release_id), DB_STR(owner)};

		rc = db_exec(c,
		             "UPDATE release_tasks"
		             " SET lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
		             " WHERE id = ? AND owner = ? AND finished_at IS NULL",
		             args, 3, &moved, NULL, err, errlen);
		if (rc)
			goto out;
		if (moved != 1) {
			snprintf(err, errlen, "release %lld: lease lost: %s no longer owns it",
			         (long long)release_id, owner);
			rc = CMDB_ECONFLICT;
			goto out;
		}
	}
	rc = apply_changes(c, release_id, round, &ok, &failed, err, errlen);
	if (rc)
		goto out;
	if (round->fail_msg) {
		struct db_arg skip[2] = {DB_STR(at), DB_I64(release_id)};
		struct db_arg fail[2] = {DB_STR(round->fail_msg), DB_I64(release_id)};

		rc = db_exec(c,
		             "UPDATE release_task_nodes SET status = 'skipped', finished_at = ?"
		             " WHERE release_task_id = ? AND status = 'pending'",
		             skip, 2, NULL, NULL, err, errlen);
		if (rc)
			goto out;
		rc = db_exec(c,
		             "UPDATE release_tasks SET status = 'failed', error_msg = LEFT(?, 1024)"
		             " WHERE id = ? AND status = 'running'",
		             fail, 2, NULL, NULL, err, errlen);
		if (rc)
			goto out;
	}
	if (round->finish) {
		/* Counters move with the rows they count; the final status comes with them. */
		struct db_arg args[5] = {DB_I64(ok), DB_I64(failed),
		                         DB_STR(release_status_name(round->final_status)),
		                         DB_STR(at), DB_I64(release_id)};

		rc = db_exec(c,
		             "UPDATE release_tasks SET success_nodes = success_nodes + ?,"
		             " failed_nodes = failed_nodes + ?, status = ?, finished_at = ?,"
		             " lease_expires_at = NULL WHERE id = ?",
		             args, 5, NULL, NULL, err, errlen);
	} else if (ok || failed) {
		struct db_arg args[3] = {DB_I64(ok), DB_I64(failed), DB_I64(release_id)};

		rc = db_exec(c,
		             "UPDATE release_tasks SET success_nodes = success_nodes + ?,"
		             " failed_nodes = failed_nodes + ? WHERE id = ?",
		             args, 3, NULL, NULL, err, errlen);
	}
	if (rc)
		goto out;
	rc = db_commit(c, err, errlen);
	if (rc == 0)
		return 0;
out:
	db_rollback(c);
	return rc;
}

int store_release_unlease(struct db_conn *c, int64_t release_id, const char *owner, char *err,
                          size_t errlen)
{
	struct db_arg args[2] = {DB_I64(release_id), DB_STR(owner)};

	return db_exec(
	    c,
	    "UPDATE release_tasks SET lease_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND"
	    " WHERE id = ? AND owner = ? AND finished_at IS NULL",
	    args, 2, NULL, NULL, err, errlen);
}
