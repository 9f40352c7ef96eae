/*
 * store/release_control: the operator's actions on a release (pause, resume, cancel),
 * expiry, the executor's status reads, and the one-release-per-node rule. Every write
 * that changes a release's status or its nodes first locks the release row, as the
 * runner's rounds do, so the two never interleave.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/release_actions.h"
#include "store/release_run.h"
#include "store/releases.h"
#include "store/store_internal.h"

int store_release_lock_row(struct db_conn *c, int64_t id, enum release_status *status,
                           int64_t *running, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[2] = {DB_I64(id), STORE_ARG_NODE(NODE_RUNNING)};
	int rc, st;

	rc = db_query(c, "SELECT status FROM release_tasks WHERE id = ? FOR UPDATE", args, 1, &rows,
	              err, errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0) {
		db_rows_free(&rows);
		snprintf(err, errlen, "release %lld not found", (long long)id);
		return CMDB_ENOTFOUND;
	}
	st = release_status_parse(db_cell(&rows, 0, 0));
	db_rows_free(&rows);
	if (st < 0) {
		snprintf(err, errlen, "release %lld: unknown status in the database",
		         (long long)id);
		return CMDB_ERR;
	}
	*status = (enum release_status)st;
	/* Read after the lock: every writer of these rows holds it first. */
	rc = db_query(c,
	              "SELECT COUNT(*) FROM release_task_nodes WHERE release_task_id = ?"
	              " AND status = ?",
	              args, 2, &rows, err, errlen);
	if (rc)
		return rc;
	*running = rows.nrows ? db_cell_i64(&rows, 0, 0) : 0;
	db_rows_free(&rows);
	return 0;
}

int store_skip_pending(struct db_conn *c, int64_t id, const char *why, char *err, size_t errlen)
{
	struct db_arg args[4] = {STORE_ARG_NODE(NODE_SKIPPED), DB_STR(why), DB_I64(id),
	                         STORE_ARG_NODE(NODE_PENDING)};

	return db_exec(c,
	               "UPDATE release_task_nodes SET status = ?,"
	               " error_msg = LEFT(?, 1024), finished_at = UTC_TIMESTAMP(3)"
	               " WHERE release_task_id = ? AND status = ?",
	               args, 4, NULL, NULL, err, errlen);
}

/* Four eyes: the principal that created a release may not approve it. */
static int check_approver(struct db_conn *c, int64_t id, const char *principal, char *err,
                          size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	int rc;

	rc = db_query(c, "SELECT created_by FROM release_tasks WHERE id = ?", &arg, 1, &rows, err,
	              errlen);
	if (rc)
		return rc;
	if (rows.nrows && db_cell(&rows, 0, 0) && strcmp(db_cell(&rows, 0, 0), principal) == 0) {
		snprintf(err, errlen,
		         "%s created release %lld and cannot approve it too: another principal"
		         " must approve (four eyes)",
		         principal, (long long)id);
		rc = CMDB_EFORBIDDEN;
	}
	db_rows_free(&rows);
	return rc;
}

/* Each operator action's UPDATE: the status first, who and which release last. */
#define SET_STATUS "UPDATE release_tasks SET status = ?, "
#define BY_WHOM    " updated_by = ?, updated_at = UTC_TIMESTAMP(3) WHERE id = ?"

/*
 * The UPDATE of release_tasks for an operator's transition to `to` (the state table's).
 * Every statement ends in BY_WHOM: principal and id are its last two arguments.
 */
static int write_action(struct db_conn *c, int64_t id, enum release_event ev,
                        enum release_status to, int64_t running, const char *principal,
                        const char *comment, char *err, size_t errlen)
{
	char why[STORE_OWNER_LEN + 64];
	struct db_arg args[5] = {STORE_ARG_RELEASE(to)};
	const char *sql;
	size_t n = 1;
	int rc = 0;

	switch (ev) {
	case RELEASE_EV_PAUSE:
		snprintf(why, sizeof(why), "paused by %s", principal);
		args[n++] = DB_STR(why);
		sql = SET_STATUS "paused_reason = ?," BY_WHOM;
		break;
	case RELEASE_EV_RESUME:
		sql = SET_STATUS "paused_reason = NULL," BY_WHOM;
		break;
	case RELEASE_EV_APPROVE:
		rc = check_approver(c, id, principal, err, errlen);
		args[n++] = DB_STR(principal);
		args[n++] = DB_STR_OR_NULL(comment);
		sql = SET_STATUS "approved_by = ?, approved_at = UTC_TIMESTAMP(3),"
		                 " approval_comment = LEFT(?, 1024)," BY_WHOM;
		break;
	case RELEASE_EV_REJECT:
		snprintf(why, sizeof(why), "release rejected by %s", principal);
		rc = store_skip_pending(c, id, why, err, errlen);
		args[n++] = DB_STR(principal);
		args[n++] = DB_STR_OR_NULL(comment);
		sql = SET_STATUS
		    "rejected_by = ?, rejected_at = UTC_TIMESTAMP(3),"
		    " approval_comment = LEFT(?, 1024), finished_at = UTC_TIMESTAMP(3)," BY_WHOM;
		break;
	case RELEASE_EV_CANCEL:
		snprintf(why, sizeof(why), "release cancelled by %s", principal);
		rc = store_skip_pending(c, id, why, err, errlen);
		/*
		 * With nothing in flight it is over now. Otherwise whoever drives it (its owner,
		 * or a controller taking it over) follows those calls to their end and then
		 * sets finished_at.
		 */
		sql = running ? SET_STATUS "paused_reason = NULL," BY_WHOM
		              : SET_STATUS "paused_reason = NULL, finished_at = UTC_TIMESTAMP(3),"
		                           " lease_expires_at = NULL," BY_WHOM;
		break;
	default:
		snprintf(err, errlen, "%s is not an operator's action", release_event_name(ev));
		return CMDB_ERR;
	}
	if (rc)
		return rc;
	args[n++] = DB_STR(principal);
	args[n++] = DB_I64(id);
	return db_exec(c, sql, args, n, NULL, NULL, err, errlen);
}

/* The action's event; an end (nothing in flight) or a pause also notifies. */
static int record_action(struct db_conn *c, int64_t id, enum release_event ev,
                         enum release_status to, int64_t running, const char *principal,
                         const char *comment, char *err, size_t errlen)
{
	static const char *const type[RELEASE_EVENT_COUNT] = {
	    [RELEASE_EV_PAUSE] = "paused",     [RELEASE_EV_RESUME] = "resumed",
	    [RELEASE_EV_CANCEL] = "cancelled", [RELEASE_EV_APPROVE] = "approved",
	    [RELEASE_EV_REJECT] = "rejected",
	};
	int rc = store_add_event(c, id, 0, type[ev] ? type[ev] : release_event_name(ev), principal,
	                         err, errlen, comment ? "%s" : NULL, comment);

	if (rc == 0 && release_is_terminal(to) && !running)
		rc = store_release_finished(c, id, principal, to, err, errlen);
	if (rc == 0 && to == RELEASE_PAUSED)
		rc = store_notify(c, id, "release.paused", to, err, errlen);
	return rc;
}

int store_act_in_tx(struct db_conn *c, int64_t id, enum release_event ev, const char *principal,
                    const char *comment, enum release_status *from, int *changed, char *err,
                    size_t errlen)
{
	int64_t running = 0;
	int rc, to;

	*changed = 0;
	rc = store_release_lock_row(c, id, from, &running, err, errlen);
	if (rc)
		return rc;
	to = release_next(*from, ev);
	if (to < 0) {
		release_refusal((long long)id, *from, ev, err, errlen);
		return CMDB_ESTATE;
	}
	if (to == (int)*from)
		return 0;
	rc = write_action(c, id, ev, (enum release_status)to, running, principal, comment, err,
	                  errlen);
	if (rc == 0)
		rc = record_action(c, id, ev, (enum release_status)to, running, principal, comment,
		                   err, errlen);
	if (rc == 0)
		*changed = 1;
	return rc;
}

static int release_act_once(struct db_conn *c, int64_t id, enum release_event ev,
                            const char *principal, const char *comment, struct release *out,
                            int *changed, char *err, size_t errlen)
{
	enum release_status from = RELEASE_PENDING;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = store_act_in_tx(c, id, ev, principal, comment, &from, changed, err, errlen);
	if (rc == CMDB_ESTATE)
		out->status = from;
	if (rc)
		goto out;
	rc = db_commit(c, err, errlen);
	if (rc)
		goto out;
	return store_release_get(c, id, out, err, errlen);
out:
	db_rollback(c);
	return rc;
}

/*
 * The expiry's statements, their statuses those the state table lets expire (as names in
 * the text: the executor keeps them prepared). Built once, on first use, and constant.
 */
static struct strbuf expire_select = STRBUF_INIT, expire_update = STRBUF_INIT;
static pthread_once_t expire_once = PTHREAD_ONCE_INIT;

/* Appends "'a', 'b', ..." for n release statuses. */
static void add_names(struct strbuf *sql, const enum release_status *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sql, "%s'%s'", i ? ", " : "", release_status_name(s[i]));
}

static void build_expire_sql(void)
{
	enum release_status from[RELEASE_STATUS_COUNT];
	size_t n = release_from(RELEASE_EV_EXPIRE, from);

	/* Not started (never claimed) and past its expires_at. */
	strbuf_adds(&expire_select, "SELECT id, expires_at FROM release_tasks WHERE status IN (");
	add_names(&expire_select, from, n);
	strbuf_adds(&expire_select, ") AND started_at IS NULL AND expires_at <= UTC_TIMESTAMP(3)"
	                            " ORDER BY id LIMIT ?");
	/* Guarded again: a claim or an operator may have acted since the SELECT. */
	strbuf_adds(&expire_update, "UPDATE release_tasks SET status = ?, error_msg = ?,"
	                            " finished_at = UTC_TIMESTAMP(3), paused_reason = NULL"
	                            " WHERE id = ? AND status IN (");
	add_names(&expire_update, from, n);
	strbuf_adds(&expire_update, ") AND started_at IS NULL AND expires_at <= UTC_TIMESTAMP(3)");
}

int store_release_expire(struct db_conn *c, const char *owner, int64_t *ids, size_t max, size_t *n,
                         char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64((int64_t)max);
	char actor[STORE_OWNER_LEN + 16];
	int rc;

	*n = 0;
	snprintf(actor, sizeof(actor), "controller:%s", owner);
	pthread_once(&expire_once, build_expire_sql);
	if (expire_select.failed || expire_update.failed) {
		snprintf(err, errlen, "out of memory");
		return CMDB_ENOMEM;
	}
	rc = db_query(c, expire_select.buf, &arg, 1, &rows, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < rows.nrows && rc == 0; i++) {
		int64_t id = db_cell_i64(&rows, i, 0);
		char at[STORE_TIME_LEN], why[STORE_TIME_LEN + 64];
		struct db_arg args[3];
		uint64_t moved = 0;

		store_copy_time(&rows, i, 1, at);
		snprintf(why, sizeof(why), "not started before its expires_at %s", at);
		args[0] = STORE_ARG_RELEASE(RELEASE_EXPIRED);
		args[1] = DB_STR(why);
		args[2] = DB_I64(id);
		rc = db_begin(c, err, errlen);
		if (rc)
			break;
		rc = db_exec(c, expire_update.buf, args, 3, &moved, NULL, err, errlen);
		if (rc == 0 && moved == 1)
			rc = store_skip_pending(c, id, "release expired before it started", err,
			                        errlen);
		/* Its end goes on the timeline, and to the webhook, as every end does. */
		if (rc == 0 && moved == 1)
			rc = store_release_finished(c, id, actor, RELEASE_EXPIRED, err, errlen);
		if (rc == 0)
			rc = db_commit(c, err, errlen);
		if (rc) {
			db_rollback(c);
			break;
		}
		if (moved == 1)
			ids[(*n)++] = id;
	}
	db_rows_free(&rows);
	return rc;
}

int store_release_control(struct db_conn *c, const char *owner, const int64_t *ids, size_t n,
                          struct release_control *out, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct strbuf sql = STRBUF_INIT;
	struct db_arg *args = calloc(n + 1, sizeof(*args));
	int rc = CMDB_ENOMEM;

	if (!args)
		return rc;
	strbuf_adds(&sql, "SELECT id, status, owner <=> ? AND finished_at IS NULL"
	                  " FROM release_tasks WHERE id IN (");
	args[0] = DB_STR(owner);
	for (size_t i = 0; i < n; i++) {
		strbuf_adds(&sql, i ? ",?" : "?");
		args[i + 1] = DB_I64(ids[i]);
	}
	strbuf_adds(&sql, ")");
	if (sql.failed)
		goto out;
	rc = db_query(c, sql.buf, args, n + 1, &rows, err, errlen);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		out[i] =
		    (struct release_control){.id = ids[i], .status = RELEASE_PENDING, .owned = 0};
		for (size_t k = 0; k < rows.nrows; k++) {
			int st = release_status_parse(db_cell(&rows, k, 1));

			if (db_cell_i64(&rows, k, 0) != ids[i] || st < 0)
				continue;
			out[i].status = (enum release_status)st;
			out[i].owned = db_cell_i64(&rows, k, 2) == 1;
		}
	}
out:
	db_rows_free(&rows);
	strbuf_free(&sql);
	free(args);
	return rc;
}

int store_release_waiting_for(struct db_conn *c, int64_t id, int64_t *waiting, char *err,
                              size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[2] = {DB_I64(id), DB_I64(id)};
	int rc;

	*waiting = 0;
	rc = db_query(c,
	              "SELECT e.id FROM release_tasks e WHERE e.finished_at IS NULL"
	              " AND e.seq < (SELECT s.seq FROM release_tasks s WHERE s.id = ?)"
	              " AND EXISTS (SELECT 1 FROM release_task_nodes en"
	              " JOIN release_task_nodes tn ON tn.node_id = en.node_id"
	              " AND tn.release_task_id = ? WHERE en.release_task_id = e.id)"
	              " ORDER BY e.seq LIMIT 1",
	              args, 2, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows)
		*waiting = db_cell_i64(&rows, 0, 0);
	db_rows_free(&rows);
	return 0;
}

int store_release_act(struct db_conn *c, int64_t id, enum release_event ev, const char *principal,
                      const char *comment, struct release *out, int *changed, char *err,
                      size_t errlen)
{
	int rc;

	STORE_RETRY(c, rc, err,
	            release_act_once(c, id, ev, principal, comment, out, changed, err, errlen));
	return rc;
}
