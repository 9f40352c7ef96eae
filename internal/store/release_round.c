/*
 * store/release_round: the runner's writes. One round is one transaction: first the
 * guarded lease renewal (which locks the release row), then the node changes grouped by
 * kind as `UPDATE ... SET x = CASE id WHEN ? THEN ? ... END`, then the release row's
 * counters and status. A round costs a handful of statements however many nodes moved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"

/* Rows per grouped UPDATE: 3 parameters each, far below the 65,535 limit. */
#define GROUP_CHUNK 1000

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

/* The node event of a kind: its guard comes from the state table. */
static const enum node_event kind_event[KIND_COUNT] = {
    [KIND_INTENT] = NODE_EV_DISPATCH,
    [KIND_TASK_ID] = NODE_EV_SUCCEED, /* recorded while running: the same guard */
    [KIND_SUCCESS] = NODE_EV_SUCCEED,
    [KIND_FAILED] = NODE_EV_FAIL,
};

/* Appends " AND status IN ('a', 'b')" for the statuses ev may leave. */
static void add_guard(struct strbuf *sql, enum node_event ev)
{
	enum node_status from[NODE_STATUS_COUNT];
	size_t n = node_from(ev, from);

	strbuf_adds(sql, " AND status IN (");
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sql, "%s'%s'", i ? ", " : "", node_status_name(from[i]));
	strbuf_adds(sql, ")");
}

/*
 * One grouped UPDATE for up to GROUP_CHUNK changes of the same kind:
 *   UPDATE release_task_nodes SET <set> = CASE id WHEN ? THEN ? ... END
 *   WHERE release_task_id = ? AND status IN (<from>) AND id IN (?, ...)
 */
static int group_update(struct db_conn *c, int64_t release_id, enum change_kind kind,
                        const char *set, const struct node_change **ch, size_t n,
                        const char *const *values, uint64_t *moved, char *err, size_t errlen)
{
	struct db_arg *args = calloc(n * 3 + 1, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	size_t k = 0;
	int rc = CMDB_ENOMEM;

	if (!args)
		return rc;
	strbuf_grow(&sql, 128 + n * 22);
	strbuf_addf(&sql, "UPDATE release_task_nodes SET %s = CASE id", set);
	for (size_t i = 0; i < n; i++) {
		strbuf_adds(&sql, " WHEN ? THEN ?");
		args[k++] = DB_I64(ch[i]->rtn_id);
		args[k++] = DB_STR(values[i]);
	}
	strbuf_adds(&sql, " END WHERE release_task_id = ?");
	args[k++] = DB_I64(release_id);
	add_guard(&sql, kind_event[kind]);
	strbuf_adds(&sql, " AND id IN (");
	store_add_placeholders(&sql, n);
	strbuf_adds(&sql, ")");
	for (size_t i = 0; i < n; i++)
		args[k++] = DB_I64(ch[i]->rtn_id);
	if (!sql.failed)
		rc = db_exec(c, sql.buf, args, k, moved, NULL, err, errlen);
	strbuf_release(&sql);
	free(args);
	return rc;
}

/* A failure is rare and carries its own message: one statement per failed node. */
static int apply_failure(struct db_conn *c, const struct node_change *ch, uint64_t *moved,
                         char *err, size_t errlen)
{
	struct strbuf sql = STRBUF_INIT;
	char at[STORE_TIME_LEN];
	struct db_arg args[5];
	int rc = CMDB_ENOMEM;

	format_db_time(ch->at_ms, at, sizeof(at));
	args[0] = DB_STR(at);
	args[1] = DB_STR(ch->error_msg ? ch->error_msg : "failed");
	args[2] = DB_STR(at);
	args[3] = DB_STR_OR_NULL(ch->task_id);
	args[4] = DB_I64(ch->rtn_id);
	strbuf_adds(&sql, "UPDATE release_task_nodes SET status = 'failed', finished_at = ?,"
	                  " error_msg = LEFT(?, 1024), started_at = COALESCE(started_at, ?),"
	                  " task_id = COALESCE(task_id, ?) WHERE id = ?");
	add_guard(&sql, NODE_EV_FAIL);
	if (!sql.failed)
		rc = db_exec(c, sql.buf, args, 5, moved, NULL, err, errlen);
	strbuf_release(&sql);
	return rc;
}

/* Applies the changes of one kind in chunks; *moved_total: rows that changed. */
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
		rc = group_update(c, release_id, kind, set[kind], ch + at, k, values + at, &moved,
		                  err, errlen);
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
		if (kind == KIND_INTENT && !release_dispatches(round->expect)) {
			snprintf(err, errlen, "release %lld: dispatch intents while %s",
			         (long long)release_id, release_status_name(round->expect));
			rc = CMDB_ERR;
			break;
		}
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

/*
 * The lease renewal, guarded by owner and expected status. When it matches nothing, says
 * why: CMDB_ECONFLICT (not ours, or finished) or CMDB_ESTATE with *actual.
 */
static int renew(struct db_conn *c, int64_t id, const char *owner, int lease_s,
                 enum release_status expect, enum release_status *actual, char *err, size_t errlen)
{
	struct db_arg args[4] = {DB_I64(lease_s), DB_I64(id), DB_STR(owner),
	                         DB_STR(release_status_name(expect))};
	struct db_arg who[2] = {DB_STR(owner), DB_I64(id)};
	struct db_rows rows = DB_ROWS_INIT;
	uint64_t moved = 0;
	int rc, st;

	rc = db_exec(
	    c,
	    "UPDATE release_tasks SET lease_expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND"
	    " WHERE id = ? AND owner = ? AND finished_at IS NULL AND status = ?",
	    args, 4, &moved, NULL, err, errlen);
	if (rc || moved == 1)
		return rc;
	rc = db_query(c,
	              "SELECT status, owner <=> ? AND finished_at IS NULL FROM release_tasks"
	              " WHERE id = ?",
	              who, 2, &rows, err, errlen);
	if (rc)
		return rc;
	st = rows.nrows ? release_status_parse(db_cell(&rows, 0, 0)) : -1;
	if (st < 0 || db_cell_i64(&rows, 0, 1) != 1) {
		snprintf(err, errlen, "release %lld: lease lost: %s no longer owns it",
		         (long long)id, owner);
		rc = CMDB_ECONFLICT;
	} else {
		*actual = (enum release_status)st;
		snprintf(err, errlen, "release %lld: is %s, not %s", (long long)id,
		         release_status_name(*actual), release_status_name(expect));
		rc = CMDB_ESTATE;
	}
	db_rows_release(&rows);
	return rc;
}

/* Fills the release's SET list: counters, then what the round's event and end change. */
static int release_update(struct db_conn *c, int64_t id, const struct release_round *round,
                          int64_t ok, int64_t failed, char *err, size_t errlen)
{
	char at[STORE_TIME_LEN];
	struct strbuf sql = STRBUF_INIT;
	struct db_arg args[8];
	size_t k = 0;
	int to = round->event >= 0 ? release_next(round->expect, (enum release_event)round->event)
	                           : (int)round->expect;
	int rc = CMDB_ENOMEM;

	if (to < 0 || (round->finish && !release_is_terminal((enum release_status)to))) {
		snprintf(err, errlen, "release %lld: %s %s is not in the state table",
		         (long long)id, release_status_name(round->expect),
		         round->event >= 0 ? release_event_name((enum release_event)round->event)
		                           : "finish");
		return CMDB_ERR;
	}
	format_db_time(round->at_ms, at, sizeof(at));
	strbuf_adds(&sql, "UPDATE release_tasks SET success_nodes = success_nodes + ?,"
	                  " failed_nodes = failed_nodes + ?");
	args[k++] = DB_I64(ok);
	args[k++] = DB_I64(failed);
	if (to != (int)round->expect) {
		strbuf_adds(&sql, ", status = ?");
		args[k++] = DB_STR(release_status_name((enum release_status)to));
	}
	if (round->event == RELEASE_EV_HALT) {
		strbuf_adds(&sql, ", error_msg = LEFT(?, 1024)");
		args[k++] = DB_STR(round->event_msg);
	} else if (round->event == RELEASE_EV_PLAN_PAUSE) {
		strbuf_adds(&sql, ", paused_reason = LEFT(?, 300), paused_through = ?");
		args[k++] = DB_STR(round->event_msg);
		args[k++] = DB_I64(round->paused_through);
	}
	if (round->finish) {
		strbuf_adds(&sql,
		            ", finished_at = ?, lease_expires_at = NULL, paused_reason = NULL");
		args[k++] = DB_STR(at);
	} else if (round->handback) {
		strbuf_adds(&sql, ", owner = NULL, lease_expires_at = NULL");
	}
	strbuf_adds(&sql, " WHERE id = ?");
	args[k++] = DB_I64(id);
	if (k == 3 && ok == 0 && failed == 0 && !round->handback) {
		strbuf_release(&sql);
		return 0; /* nothing to change: the lease renewal said it all */
	}
	if (!sql.failed)
		rc = db_exec(c, sql.buf, args, k, NULL, NULL, err, errlen);
	strbuf_release(&sql);
	return rc;
}

int store_release_apply(struct db_conn *c, int64_t release_id, const char *owner, int lease_s,
                        const struct release_round *round, enum release_status *actual, char *err,
                        size_t errlen)
{
	int64_t ok = 0, failed = 0;
	int rc;

	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	/* Ownership and status first: this locks the release row for the rest of the round. */
	rc = renew(c, release_id, owner, lease_s, round->expect, actual, err, errlen);
	if (rc)
		goto out;
	rc = apply_changes(c, release_id, round, &ok, &failed, err, errlen);
	if (rc)
		goto out;
	if (round->event == RELEASE_EV_HALT) {
		char at[STORE_TIME_LEN];
		struct db_arg skip[3];

		format_db_time(round->at_ms, at, sizeof(at));
		skip[0] = DB_STR(at);
		skip[1] = DB_STR_OR_NULL(round->skip_msg);
		skip[2] = DB_I64(release_id);
		rc = db_exec(c,
		             "UPDATE release_task_nodes SET status = 'skipped', finished_at = ?,"
		             " error_msg = LEFT(?, 1024)"
		             " WHERE release_task_id = ? AND status = 'pending'",
		             skip, 3, NULL, NULL, err, errlen);
		if (rc)
			goto out;
	}
	rc = release_update(c, release_id, round, ok, failed, err, errlen);
	if (rc)
		goto out;
	rc = db_commit(c, err, errlen);
	if (rc == 0)
		return 0;
out:
	db_rollback(c);
	return rc;
}
