/*
 * store/release_round: the runner's writes. One round is one transaction: first the
 * guarded lease renewal (which locks the release row), then the node changes grouped by
 * kind as `UPDATE ... SET x = CASE id WHEN ? THEN ? ... END`, then the release row's
 * counters and status. A round costs a handful of statements however many nodes moved.
 * Status names come from the state table: written into the text of the statements built
 * here (the same text every round, so the executor keeps them prepared), bound elsewhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/release_run.h"
#include "store/store_internal.h"

/* Rows per grouped UPDATE: 3 parameters each and 3 more, within DB_MAX_ARGS (db.h). */
#define GROUP_CHUNK 1000
_Static_assert(GROUP_CHUNK * 3 + 3 <= DB_MAX_ARGS, "a chunk's parameters fit one statement");

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

/*
 * What a kind writes: the status it moves a node to (NODE_STATUS_COUNT: none, a task id is
 * recorded while running) and the column its values go to (a failure: apply_failure).
 */
static const struct {
	enum node_status to;
	const char *column;
} kind_write[KIND_COUNT] = {
    [KIND_INTENT] = {NODE_RUNNING, "r.started_at"},
    [KIND_TASK_ID] = {NODE_STATUS_COUNT, "r.task_id"},
    [KIND_SUCCESS] = {NODE_SUCCESS, "r.finished_at"},
    [KIND_FAILED] = {NODE_FAILED, NULL},
};

/*
 * Right before a node is dispatched it is checked again (issue 9, "validate before every
 * dispatch"): it is online, at the address the release was made for, and, for a
 * rollback, no release later (in commit order, seq) than the rolled-back one has changed
 * it since. A format: the name of NODE_ONLINE; and two parameters: the release's
 * rollback_of, twice (0 for an ordinary release).
 */
#define DISPATCH_CHECK                                                                             \
	"n.status = '%s' AND n.ip = r.node_ip AND n.agent_port = r.agent_port"                     \
	" AND (? = 0 OR n.config_release_id IS NULL"                                               \
	" OR (SELECT w.seq FROM release_tasks w WHERE w.id = n.config_release_id)"                 \
	" <= (SELECT o.seq FROM release_tasks o WHERE o.id = ?))"

/* Appends " AND r.status IN ('a', 'b')" for the statuses ev may leave. */
static void add_guard(struct strbuf *sql, enum node_event ev)
{
	enum node_status from[NODE_STATUS_COUNT];
	size_t n = node_from(ev, from);

	strbuf_adds(sql, " AND r.status IN (");
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sql, "%s'%s'", i ? ", " : "", node_status_name(from[i]));
	strbuf_adds(sql, ")");
}

/*
 * One grouped UPDATE for up to GROUP_CHUNK changes of the same kind:
 *   UPDATE release_task_nodes r SET [r.status = <to>,] <column> = CASE r.id WHEN ? THEN ?
 *   ... END
 *   WHERE r.release_task_id = ? AND r.status IN (<from>) AND r.id IN (?, ...)
 * Intents join the node and apply only where dispatching it is still right (see
 * DISPATCH_CHECK); the rows it leaves pending are the refused ones.
 */
static int group_update(struct db_conn *c, int64_t release_id, enum change_kind kind,
                        const struct node_change **ch, size_t n, const char *const *values,
                        int64_t rollback_of, uint64_t *moved, char *err, size_t errlen)
{
	struct db_arg *args = calloc(n * 3 + 3, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	size_t k = 0;
	int rc = CMDB_ENOMEM;

	if (!args)
		return rc;
	strbuf_grow(&sql, 256 + n * 22);
	strbuf_adds(&sql, kind == KIND_INTENT
	                      ? "UPDATE release_task_nodes r JOIN nodes n ON n.id = r.node_id SET"
	                        " r.previous_version = n.config_version, "
	                      : "UPDATE release_task_nodes r SET ");
	if (kind_write[kind].to != NODE_STATUS_COUNT)
		strbuf_addf(&sql, "r.status = '%s', ", node_status_name(kind_write[kind].to));
	strbuf_addf(&sql, "%s = CASE r.id", kind_write[kind].column);
	for (size_t i = 0; i < n; i++) {
		strbuf_adds(&sql, " WHEN ? THEN ?");
		args[k++] = DB_I64(ch[i]->rtn_id);
		args[k++] = DB_STR(values[i]);
	}
	strbuf_adds(&sql, " END WHERE r.release_task_id = ?");
	args[k++] = DB_I64(release_id);
	add_guard(&sql, kind_event[kind]);
	if (kind == KIND_INTENT) {
		strbuf_addf(&sql, " AND " DISPATCH_CHECK, node_health_name(NODE_ONLINE));
		args[k++] = DB_I64(rollback_of);
		args[k++] = DB_I64(rollback_of);
	}
	strbuf_adds(&sql, " AND r.id IN (");
	store_add_placeholders(&sql, n);
	strbuf_adds(&sql, ")");
	for (size_t i = 0; i < n; i++)
		args[k++] = DB_I64(ch[i]->rtn_id);
	if (!sql.failed)
		rc = db_exec(c, sql.buf, args, k, moved, NULL, err, errlen);
	strbuf_free(&sql);
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
	strbuf_addf(&sql,
	            "UPDATE release_task_nodes r SET r.status = '%s', r.finished_at = ?,"
	            " r.error_msg = LEFT(?, 1024), r.started_at = COALESCE(r.started_at, ?),"
	            " r.task_id = COALESCE(r.task_id, ?) WHERE r.id = ?",
	            node_status_name(kind_write[KIND_FAILED].to));
	add_guard(&sql, NODE_EV_FAIL);
	if (!sql.failed)
		rc = db_exec(c, sql.buf, args, 5, moved, NULL, err, errlen);
	strbuf_free(&sql);
	return rc;
}

/*
 * Finishes a statement that ends in "r.release_task_id = ? ... r.id IN (" for a chunk of
 * changes: appends the placeholders and returns its arguments (release_id, then the row
 * ids; the caller frees them), or NULL when out of memory.
 */
static struct db_arg *chunk_args(struct strbuf *sql, int64_t release_id,
                                 const struct node_change **ch, size_t n)
{
	struct db_arg *args = calloc(n + 1, sizeof(*args));

	store_add_placeholders(sql, n);
	strbuf_adds(sql, ")");
	if (!args || sql->failed) {
		free(args);
		return NULL;
	}
	args[0] = DB_I64(release_id);
	for (size_t i = 0; i < n; i++)
		args[i + 1] = DB_I64(ch[i]->rtn_id);
	return args;
}

/* Why the dispatch check refused a node, from its row and the node as it is now. */
static void refusal(const struct db_rows *rows, size_t i, int64_t rollback_of, char *why,
                    size_t len)
{
	const char *health = db_cell(rows, i, 3), *ip = db_cell(rows, i, 4);
	int64_t port = db_cell_i64(rows, i, 5), changed_by = db_cell_i64(rows, i, 6);

	if (node_health_parse(health) != NODE_ONLINE)
		snprintf(why, len, "node offline since the release was created; not contacted");
	else if (!ip || strcmp(ip, db_cell(rows, i, 1)) != 0 || port != db_cell_i64(rows, i, 2))
		snprintf(why, len,
		         "node moved to %.64s:%lld since the release was created (was %.64s:%lld);"
		         " not contacted",
		         ip ? ip : "?", (long long)port, db_cell(rows, i, 1),
		         (long long)db_cell_i64(rows, i, 2));
	else if (rollback_of && db_cell_i64(rows, i, 9) == 1)
		snprintf(why, len,
		         "node changed since by release %lld (now version %lld); rolling back"
		         " would undo that release, so it is not contacted",
		         (long long)changed_by, (long long)db_cell_i64(rows, i, 7));
	else
		snprintf(why, len, "node not dispatchable; not contacted");
}

/*
 * The intents of a chunk that the dispatch check left pending: each becomes skipped with
 * its reason (not a failure) and goes to round->refused, so the runner never sends it.
 */
static int refuse_intents(struct db_conn *c, int64_t release_id, const char *actor,
                          struct release_round *round, const struct node_change **ch, size_t n,
                          const char *at, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct strbuf sql = STRBUF_INIT;
	struct db_arg *args;
	int rc = CMDB_ENOMEM;

	strbuf_addf(&sql,
	            "SELECT r.id, r.node_ip, r.agent_port, n.status, n.ip, n.agent_port,"
	            " n.config_release_id, n.config_version, r.node_id, w.seq > o.seq"
	            " FROM release_task_nodes r JOIN nodes n ON n.id = r.node_id"
	            " JOIN release_tasks t ON t.id = r.release_task_id"
	            " LEFT JOIN release_tasks o ON o.id = t.rollback_of"
	            " LEFT JOIN release_tasks w ON w.id = n.config_release_id"
	            " WHERE r.release_task_id = ? AND r.status = '%s' AND r.id IN (",
	            node_status_name(NODE_PENDING));
	args = chunk_args(&sql, release_id, ch, n);
	if (!args)
		goto out;
	rc = db_query(c, sql.buf, args, n + 1, &rows, err, errlen);
	for (size_t i = 0; rc == 0 && i < rows.nrows; i++) {
		char why[STORE_ERROR_LEN];
		struct db_arg skip[5];

		refusal(&rows, i, round->rollback_of, why, sizeof(why));
		skip[0] = STORE_ARG_NODE(NODE_SKIPPED);
		skip[1] = DB_STR(at);
		skip[2] = DB_STR(why);
		skip[3] = DB_I64(db_cell_i64(&rows, i, 0));
		skip[4] = STORE_ARG_NODE(NODE_PENDING);
		rc = db_exec(c,
		             "UPDATE release_task_nodes SET status = ?, finished_at = ?,"
		             " error_msg = LEFT(?, 1024) WHERE id = ? AND status = ?",
		             skip, 5, NULL, NULL, err, errlen);
		if (rc == 0)
			rc = store_add_event(c, release_id, db_cell_i64(&rows, i, 8),
			                     "node_skipped", actor, err, errlen, "%s", why);
		if (rc == 0 && round->refused)
			round->refused[round->nrefused++] = db_cell_i64(&rows, i, 0);
	}
out:
	db_rows_free(&rows);
	strbuf_free(&sql);
	free(args);
	return rc;
}

/*
 * The nodes that succeeded in this chunk now run their version: nodes.config_version is
 * set in the same transaction that marks them success.
 */
static int record_versions(struct db_conn *c, int64_t release_id, const struct node_change **ch,
                           size_t n, char *err, size_t errlen)
{
	struct strbuf sql = STRBUF_INIT;
	struct db_arg *args;
	int rc = CMDB_ENOMEM;

	strbuf_addf(&sql,
	            "UPDATE nodes n JOIN release_task_nodes r ON r.node_id = n.id"
	            " SET n.config_version = r.version, n.config_applied_at = r.finished_at,"
	            " n.config_release_id = r.release_task_id"
	            " WHERE r.release_task_id = ? AND r.status = '%s' AND r.id IN (",
	            node_status_name(NODE_SUCCESS));
	args = chunk_args(&sql, release_id, ch, n);
	if (args)
		rc = db_exec(c, sql.buf, args, n + 1, NULL, NULL, err, errlen);
	strbuf_free(&sql);
	free(args);
	return rc;
}

/* Applies the changes of one kind in chunks; *moved_total: rows that changed. */
static int apply_kind(struct db_conn *c, int64_t release_id, enum change_kind kind,
                      const struct node_change **ch, char (*times)[STORE_TIME_LEN], size_t n,
                      const char *actor, struct release_round *round, uint64_t *moved_total,
                      char *err, size_t errlen)
{
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
		rc = group_update(c, release_id, kind, ch + at, k, values + at, round->rollback_of,
		                  &moved, err, errlen);
		*moved_total += moved;
		if (rc == 0 && kind == KIND_SUCCESS && moved)
			rc = record_versions(c, release_id, ch + at, k, err, errlen);
		if (rc == 0 && kind == KIND_INTENT && moved < k)
			rc = refuse_intents(c, release_id, actor, round, ch + at, k, times[at], err,
			                    errlen);
	}
	free(values);
	return rc;
}

/* Writes the node changes of a round, in state order; counts successes and failures. */
static int apply_changes(struct db_conn *c, int64_t release_id, const char *actor,
                         struct release_round *round, int64_t *ok, int64_t *failed, char *err,
                         size_t errlen)
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
		rc = apply_kind(c, release_id, (enum change_kind)kind, byk, times, k, actor, round,
		                &moved, err, errlen);
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
	db_rows_free(&rows);
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
		strbuf_free(&sql);
		return 0; /* nothing to change: the lease renewal said it all */
	}
	if (!sql.failed)
		rc = db_exec(c, sql.buf, args, k, NULL, NULL, err, errlen);
	strbuf_free(&sql);
	return rc;
}

/* 1 when rtn_id is among the intents the dispatch check refused. */
static int was_refused(const struct release_round *round, int64_t rtn_id)
{
	for (size_t i = 0; i < round->nrefused; i++)
		if (round->refused[i] == rtn_id)
			return 1;
	return 0;
}

/*
 * The round on the timeline: each node that was dispatched, succeeded or failed, what
 * the runner adds, and the release's own change (refusals are recorded as they happen).
 */
static int record_round(struct db_conn *c, int64_t release_id, const char *actor,
                        const struct release_round *round, char *err, size_t errlen)
{
	size_t max = round->nchanges + round->nevents + 2, n = 0;
	struct store_event *ev = calloc(max, sizeof(*ev));
	int rc = CMDB_ENOMEM, to;

	if (!ev)
		return rc;
	for (size_t i = 0; i < round->nchanges; i++) {
		const struct node_change *ch = &round->changes[i];
		enum change_kind kind = kind_of(ch);

		if (kind == KIND_TASK_ID || (kind == KIND_INTENT && was_refused(round, ch->rtn_id)))
			continue;
		ev[n++] = (struct store_event){
		    .node_id = ch->node_id,
		    .type = kind == KIND_INTENT    ? "node_dispatched"
		            : kind == KIND_SUCCESS ? "node_succeeded"
		                                   : "node_failed",
		    .detail = kind == KIND_FAILED ? ch->error_msg : NULL,
		};
	}
	for (size_t i = 0; i < round->nevents; i++)
		ev[n++] = round->events[i];
	if (round->event == RELEASE_EV_HALT)
		ev[n++] = (struct store_event){.type = "halted", .detail = round->event_msg};
	else if (round->event == RELEASE_EV_PLAN_PAUSE)
		ev[n++] = (struct store_event){.type = "paused", .detail = round->event_msg};
	rc = n ? store_add_events(c, release_id, actor, round->at_ms, ev, n, err, errlen) : 0;
	if (rc == 0 && round->event == RELEASE_EV_PLAN_PAUSE)
		rc = store_notify(c, release_id, "release.paused", RELEASE_PAUSED, err, errlen);
	to = round->event >= 0 ? release_next(round->expect, (enum release_event)round->event)
	                       : (int)round->expect;
	if (rc == 0 && round->finish && to >= 0)
		rc = store_release_finished(c, release_id, actor, (enum release_status)to, err,
		                            errlen);
	free(ev);
	return rc;
}

/*
 * A halted release with auto_rollback gets its rollback release in the same transaction,
 * so that no crash can come between the two. When there is nothing to roll back, its
 * error_msg says so instead.
 */
static int auto_rollback(struct db_conn *c, int64_t id, const char *owner,
                         struct release_round *round, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	char who[STORE_OWNER_LEN + 16], reason[STORE_REASON_LEN], why[STORE_ERROR_LEN];
	int wanted, existing = 0, rc;

	rc = db_query(c, "SELECT auto_rollback FROM release_tasks WHERE id = ?", &arg, 1, &rows,
	              err, errlen);
	if (rc)
		return rc;
	wanted = rows.nrows && db_cell_i64(&rows, 0, 0) == 1;
	db_rows_free(&rows);
	if (!wanted)
		return 0;
	snprintf(who, sizeof(who), "controller:%s", owner);
	snprintf(reason, sizeof(reason), "automatic: release %lld failed (auto_rollback)",
	         (long long)id);
	rc = store_rollback_in_tx(c, id, who, reason, 1, &round->rollback_id, &existing, why,
	                          sizeof(why));
	if (rc == CMDB_EINVAL || rc == CMDB_ESTATE) {
		struct db_arg note[2] = {DB_STR(why), DB_I64(id)};

		round->rollback_id = 0;
		return db_exec(
		    c,
		    "UPDATE release_tasks SET error_msg ="
		    " LEFT(CONCAT(COALESCE(error_msg, ''), '; no automatic rollback: ', ?),"
		    " 1024) WHERE id = ?",
		    note, 2, NULL, NULL, err, errlen);
	}
	if (rc)
		snprintf(err, errlen, "%s", why);
	return rc;
}

int store_release_apply(struct db_conn *c, int64_t release_id, const char *owner, int lease_s,
                        struct release_round *round, enum release_status *actual, char *err,
                        size_t errlen)
{
	char actor[STORE_OWNER_LEN + 16];
	int64_t ok = 0, failed = 0;
	int rc;

	round->nrefused = 0;
	round->rollback_id = 0;
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	/* Ownership and status first: this locks the release row for the rest of the round. */
	rc = renew(c, release_id, owner, lease_s, round->expect, actual, err, errlen);
	if (rc)
		goto out;
	snprintf(actor, sizeof(actor), "controller:%s", owner);
	rc = apply_changes(c, release_id, actor, round, &ok, &failed, err, errlen);
	if (rc)
		goto out;
	if (round->event == RELEASE_EV_HALT) {
		char at[STORE_TIME_LEN];
		struct db_arg skip[5];

		format_db_time(round->at_ms, at, sizeof(at));
		skip[0] = STORE_ARG_NODE(NODE_SKIPPED);
		skip[1] = DB_STR(at);
		skip[2] = DB_STR_OR_NULL(round->skip_msg);
		skip[3] = DB_I64(release_id);
		skip[4] = STORE_ARG_NODE(NODE_PENDING);
		rc = db_exec(c,
		             "UPDATE release_task_nodes SET status = ?, finished_at = ?,"
		             " error_msg = LEFT(?, 1024) WHERE release_task_id = ? AND status = ?",
		             skip, 5, NULL, NULL, err, errlen);
		if (rc)
			goto out;
	}
	rc = release_update(c, release_id, round, ok, failed, err, errlen);
	if (rc == 0 && round->event == RELEASE_EV_HALT && !round->rollback_of)
		rc = auto_rollback(c, release_id, owner, round, err, errlen);
	if (rc == 0)
		rc = record_round(c, release_id, actor, round, err, errlen);
	if (rc)
		goto out;
	rc = db_commit(c, err, errlen);
	if (rc == 0)
		return 0;
out:
	round->nrefused = 0;
	round->rollback_id = 0;
	db_rollback(c);
	return rc;
}
