/*
 * store/events: the audit timeline (release_events, append only) and the outbox of
 * webhook notifications. Both are written by the store's own transactions, next to the
 * change they record; nothing here opens a transaction of its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store/events.h"
#include "store/store_internal.h"

/* Rows per multi-row INSERT: 7 parameters each, within DB_MAX_ARGS (db.h). */
#define EVENT_CHUNK 500
_Static_assert(EVENT_CHUNK * 7 <= DB_MAX_ARGS, "a chunk's parameters fit one statement");

/*
 * A notification's state (notifications.state) after each outcome of an attempt; one
 * still to deliver is in notify_state[NOTIFY_RETRY].
 */
static const char *const notify_state[] = {
    [NOTIFY_DELIVERED] = "delivered",
    [NOTIFY_RETRY] = "pending",
    [NOTIFY_GAVE_UP] = "failed",
};

/* Written once at start-up, before any thread: see store_set_notifications. */
static int notifications_on;

void store_set_notifications(int on)
{
	notifications_on = on;
}

int store_add_events(struct db_conn *c, int64_t release_id, const char *actor, int64_t at_ms,
                     const struct store_event *ev, size_t n, char *err, size_t errlen)
{
	struct db_arg take[2] = {DB_I64((int64_t)n), DB_I64(release_id)};
	struct db_arg *args;
	struct strbuf sql = STRBUF_INIT;
	char at[STORE_TIME_LEN];
	uint64_t last = 0, found = 0;
	int64_t seq;
	int rc;

	if (n == 0)
		return 0;
	/*
	 * The events' numbers: the release row's counter, in this transaction, so events are
	 * numbered in commit order (the row is locked, or on Galera certified, until then).
	 */
	rc = db_exec(c,
	             "UPDATE release_tasks SET last_event = LAST_INSERT_ID(last_event + ?)"
	             " WHERE id = ?",
	             take, 2, &found, &last, err, errlen);
	if (rc)
		return rc;
	if (found != 1) {
		snprintf(err, errlen, "release %lld: no such release for its timeline",
		         (long long)release_id);
		return CMDB_ERR;
	}
	seq = (int64_t)last - (int64_t)n;
	args = calloc(EVENT_CHUNK * 7, sizeof(*args));
	if (!args)
		return CMDB_ENOMEM;
	format_db_time(at_ms ? at_ms : now_wall_ms(), at, sizeof(at));
	for (size_t done = 0; done < n && rc == 0; done += EVENT_CHUNK) {
		size_t k = n - done < EVENT_CHUNK ? n - done : EVENT_CHUNK;

		strbuf_free(&sql);
		strbuf_adds(&sql,
		            "INSERT INTO release_events (release_id, seq, node_id, at, type, actor,"
		            " detail) VALUES ");
		for (size_t i = 0; i < k; i++) {
			const struct store_event *e = &ev[done + i];
			struct db_arg *a = &args[i * 7];

			strbuf_adds(&sql, i ? ",(?, ?, ?, ?, ?, LEFT(?, 160), LEFT(?, 1024))"
			                    : "(?, ?, ?, ?, ?, LEFT(?, 160), LEFT(?, 1024))");
			a[0] = DB_I64(release_id);
			a[1] = DB_I64(++seq);
			a[2] = e->node_id ? DB_I64(e->node_id) : DB_NULL;
			a[3] = DB_STR(at);
			a[4] = DB_STR(e->type);
			a[5] = DB_STR(actor);
			a[6] = e->detail && e->detail[0] ? DB_STR(e->detail) : DB_NULL;
		}
		rc = sql.failed ? CMDB_ENOMEM
		                : db_exec(c, sql.buf, args, k * 7, NULL, NULL, err, errlen);
	}
	strbuf_free(&sql);
	free(args);
	return rc;
}

int store_add_event(struct db_conn *c, int64_t release_id, int64_t node_id, const char *type,
                    const char *actor, char *err, size_t errlen, const char *fmt, ...)
{
	char detail[STORE_ERROR_LEN];
	struct store_event ev = {.node_id = node_id, .type = type, .detail = detail};
	va_list ap;

	detail[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	return store_add_events(c, release_id, actor, 0, &ev, 1, err, errlen);
}

int store_notify(struct db_conn *c, int64_t release_id, const char *event,
                 enum release_status status, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	char id[33];
	struct db_arg args[4];

	if (!notifications_on)
		return 0;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "no randomness for a delivery id");
		return CMDB_ERR;
	}
	for (int i = 0; i < 16; i++) {
		id[i * 2] = hex[raw[i] >> 4];
		id[i * 2 + 1] = hex[raw[i] & 15];
	}
	id[32] = '\0';
	args[0] = DB_STR(id);
	args[1] = DB_I64(release_id);
	args[2] = DB_STR(event);
	args[3] = DB_STR(release_status_name(status));
	return db_exec(c,
	               "INSERT INTO notifications (delivery_id, release_id, event, status,"
	               " created_at, next_attempt_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3),"
	               " UTC_TIMESTAMP(3))",
	               args, 4, NULL, NULL, err, errlen);
}

int store_release_finished(struct db_conn *c, int64_t release_id, const char *actor,
                           enum release_status status, char *err, size_t errlen)
{
	int rc = store_add_event(c, release_id, 0, "finished", actor, err, errlen, "%s",
	                         release_status_name(status));

	if (rc == 0)
		rc = store_notify(c, release_id, "release.finished", status, err, errlen);
	return rc;
}

/* An event's id in the API is its number within the release. */
#define EVENT_COLS "seq, release_id, node_id, at, type, actor, detail"

static const struct store_col event_cols[] = {
    STORE_COL(COL_I64, struct timeline_event, id),
    STORE_COL(COL_I64, struct timeline_event, release_id),
    STORE_COL(COL_I64, struct timeline_event, node_id),
    STORE_COL(COL_TIME, struct timeline_event, at),
    STORE_COL(COL_STR, struct timeline_event, type),
    STORE_COL(COL_STR, struct timeline_event, actor),
    STORE_COL(COL_STR, struct timeline_event, detail),
};

#define NEVENT_COLS (sizeof(event_cols) / sizeof(event_cols[0]))

int store_release_events(struct db_conn *c, int64_t release_id, int64_t after, int limit,
                         struct timeline_event **out, size_t *n, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[3] = {DB_I64(release_id), DB_I64(after), DB_I64(limit)};
	struct release r;
	int rc;

	*out = NULL;
	*n = 0;
	rc = store_release_get(c, release_id, &r, err, errlen);
	if (rc)
		return rc;
	rc = db_query(c,
	              "SELECT " EVENT_COLS " FROM release_events WHERE release_id = ? AND seq > ?"
	              " ORDER BY seq LIMIT ?",
	              args, 3, &rows, err, errlen);
	if (rc)
		return rc;
	rc = store_map_rows(&rows, event_cols, NEVENT_COLS, sizeof(**out), (void **)out, n);
	db_rows_free(&rows);
	return rc;
}

int store_metrics_view(struct db_conn *c, int node_timeout_s, struct metrics_db_view *v, char *err,
                       size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[2] = {STORE_ARG_RELEASE(RELEASE_RUNNING), DB_I64(node_timeout_s)};
	struct db_arg due = DB_STR(notify_state[NOTIFY_RETRY]);
	int rc;

	memset(v, 0, sizeof(*v));
	v->nstatus = RELEASE_STATUS_COUNT;
	rc = db_query(c, "SELECT status, COUNT(*) FROM release_tasks GROUP BY status", NULL, 0,
	              &rows, err, errlen);
	for (size_t i = 0; rc == 0 && i < rows.nrows; i++) {
		int st = release_status_parse(db_cell(&rows, i, 0));

		if (st >= 0 && (size_t)st < sizeof(v->by_status) / sizeof(v->by_status[0]))
			v->by_status[st] = db_cell_i64(&rows, i, 1);
	}
	db_rows_free(&rows);
	if (rc == 0)
		rc = db_query(c,
		              "SELECT COUNT(*) FROM release_tasks WHERE status = ?"
		              " AND finished_at IS NULL AND started_at < UTC_TIMESTAMP(3)"
		              " - INTERVAL (batch_count * ?) SECOND",
		              args, 2, &rows, err, errlen);
	if (rc == 0 && rows.nrows)
		v->past_deadline = db_cell_i64(&rows, 0, 0);
	db_rows_free(&rows);
	if (rc == 0)
		rc = db_query(c, "SELECT COUNT(*) FROM notifications WHERE state = ?", &due, 1,
		              &rows, err, errlen);
	if (rc == 0 && rows.nrows)
		v->pending_notifications = db_cell_i64(&rows, 0, 0);
	db_rows_free(&rows);
	v->ok = rc == 0;
	return rc;
}

/*
 * A due notification nobody holds: not delivered, not given up, its lease (if any) over.
 * One parameter: notify_state[NOTIFY_RETRY].
 */
#define NOTIFICATION_DUE                                                                           \
	"state = ? AND next_attempt_at <= UTC_TIMESTAMP(3)"                                        \
	" AND (owner IS NULL OR lease_expires_at < UTC_TIMESTAMP(3))"

#define NOTIFICATION_COLS "id, delivery_id, release_id, event, status, attempts, created_at"

static const struct store_col notification_cols[] = {
    STORE_COL(COL_I64, struct notification, id),
    STORE_COL(COL_STR, struct notification, delivery_id),
    STORE_COL(COL_I64, struct notification, release_id),
    STORE_COL(COL_STR, struct notification, event),
    STORE_COL(COL_STR, struct notification, status),
    STORE_COL(COL_INT, struct notification, attempts),
    STORE_COL(COL_TIME, struct notification, created_at),
};

#define NNOTIFICATION_COLS (sizeof(notification_cols) / sizeof(notification_cols[0]))

/* What the payload says besides the release row: skipped nodes and the first error. */
static int load_release_facts(struct db_conn *c, struct notification *n, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[3] = {STORE_ARG_NODE(NODE_SKIPPED), STORE_ARG_NODE(NODE_FAILED),
	                         DB_I64(n->release_id)};
	int rc = store_release_get(c, n->release_id, &n->release, err, errlen);

	if (rc == 0)
		rc = db_query(c,
		              "SELECT SUM(status = ?), (SELECT error_msg FROM release_task_nodes"
		              " f WHERE f.release_task_id = r.release_task_id AND f.status = ?"
		              " ORDER BY f.finished_at, f.id LIMIT 1) FROM release_task_nodes r"
		              " WHERE r.release_task_id = ? GROUP BY r.release_task_id",
		              args, 3, &rows, err, errlen);
	if (rc == 0 && rows.nrows) {
		n->skipped_nodes = (int)db_cell_i64(&rows, 0, 0);
		str_copy(n->first_error,
		         n->release.error_msg[0] ? n->release.error_msg
		         : db_cell(&rows, 0, 1)  ? db_cell(&rows, 0, 1)
		                                 : "",
		         sizeof(n->first_error));
	}
	db_rows_free(&rows);
	return rc;
}

int store_notification_claim(struct db_conn *c, const char *owner, int lease_s,
                             struct notification *out, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg due = DB_STR(notify_state[NOTIFY_RETRY]);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_query(c,
	              "SELECT " NOTIFICATION_COLS " FROM notifications WHERE " NOTIFICATION_DUE
	              " ORDER BY id LIMIT 8",
	              &due, 1, &rows, err, errlen);
	if (rc)
		return rc;
	rc = CMDB_ENOTFOUND;
	for (size_t i = 0; i < rows.nrows && rc == CMDB_ENOTFOUND; i++) {
		struct db_arg args[4] = {DB_STR(owner), DB_I64(lease_s),
		                         DB_I64(db_cell_i64(&rows, i, 0)), due};
		uint64_t moved = 0;

		rc = db_exec(
		    c,
		    "UPDATE notifications SET owner = ?, lease_expires_at = UTC_TIMESTAMP(3)"
		    " + INTERVAL ? SECOND WHERE id = ? AND " NOTIFICATION_DUE,
		    args, 4, &moved, NULL, err, errlen);
		if (rc == 0 && moved == 1)
			store_map_row(&rows, i, notification_cols, NNOTIFICATION_COLS, out);
		else if (rc == 0)
			rc = CMDB_ENOTFOUND; /* another controller took it first */
	}
	db_rows_free(&rows);
	if (rc == 0)
		rc = load_release_facts(c, out, err, errlen);
	return rc;
}

int store_notification_done(struct db_conn *c, const struct notification *n, const char *owner,
                            enum notification_outcome outcome, int64_t retry_in_ms,
                            const char *detail, char *err, size_t errlen)
{
	char actor[STORE_OWNER_LEN + 16];
	struct db_arg args[6];
	uint64_t moved = 0;
	int rc;

	args[0] = DB_STR(notify_state[outcome]);
	args[1] = DB_I64(outcome == NOTIFY_DELIVERED);
	args[2] = DB_I64(retry_in_ms);
	args[3] = outcome == NOTIFY_DELIVERED ? DB_NULL : DB_STR(detail);
	args[4] = DB_I64(n->id);
	args[5] = DB_STR(owner);
	snprintf(actor, sizeof(actor), "controller:%s", owner);
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = db_exec(c,
	             "UPDATE notifications SET state = ?, attempts = attempts + 1,"
	             " delivered_at = IF(? = 1, UTC_TIMESTAMP(3), NULL),"
	             " next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL (? * 1000) MICROSECOND,"
	             " last_error = LEFT(?, 300), owner = NULL, lease_expires_at = NULL"
	             " WHERE id = ? AND owner = ?",
	             args, 6, &moved, NULL, err, errlen);
	if (rc == 0 && moved == 1)
		rc = store_add_event(c, n->release_id, 0,
		                     outcome == NOTIFY_DELIVERED ? "notified" : "notify_failed",
		                     actor, err, errlen, "%s %s, attempt %d: %s", n->event,
		                     n->delivery_id, n->attempts + 1, detail);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc)
		db_rollback(c);
	return rc;
}
