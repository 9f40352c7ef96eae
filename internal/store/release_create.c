/*
 * store/release_create: a new release, or the dry run of one. Both resolve the target
 * nodes, cut them into batches by the plan in the order the operator gave, and check
 * what needs the count of nodes; the create then writes the release and its nodes in one
 * transaction. Nodes are read without locks: one that goes offline or moves meanwhile
 * is caught by the check before its dispatch (store/release_round.c), and a create never
 * holds up an operator's PATCH or a runner's round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store/release_create.h"
#include "store/store_internal.h"

/* A resolved request: its nodes and batches (release_targets.c), and the approval. */
struct cut {
	struct store_cut c;
	int allowance;
	int approval; /* needs approval before it may start */
	char approval_reason[STORE_REASON_LEN];
};

static void cut_free(struct cut *cut)
{
	store_cut_free(&cut->c);
	memset(cut, 0, sizeof(*cut));
}

/*
 * Whether the release must wait for approval, and why: asked for, or more nodes than the
 * policy lets through without a second pair of eyes.
 */
static int decide_approval(struct db_conn *c, const struct release_request *rq, struct cut *cut,
                           char *err, size_t errlen)
{
	const struct approval_policy *pol = &rq->policy;
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg online_arg = STORE_ARG_HEALTH(NODE_ONLINE);
	int64_t online;
	int rc;

	cut->approval = 0;
	cut->approval_reason[0] = '\0';
	if (rq->require_approval) {
		cut->approval = 1;
		snprintf(cut->approval_reason, sizeof(cut->approval_reason),
		         "require_approval was set");
		return 0;
	}
	if (pol->min_nodes > 0 && cut->c.n > (size_t)pol->min_nodes) {
		cut->approval = 1;
		snprintf(cut->approval_reason, sizeof(cut->approval_reason),
		         "%zu nodes, more than RELEASE_APPROVAL_MIN_NODES=%d", cut->c.n,
		         pol->min_nodes);
		return 0;
	}
	if (pol->min_percent <= 0)
		return 0;
	rc = db_query(c, "SELECT COUNT(*) FROM nodes WHERE status = ?", &online_arg, 1, &rows, err,
	              errlen);
	if (rc)
		return rc;
	online = rows.nrows ? db_cell_i64(&rows, 0, 0) : 0;
	db_rows_free(&rows);
	if (online > 0 && (int64_t)cut->c.n * 100 > (int64_t)pol->min_percent * online) {
		cut->approval = 1;
		snprintf(cut->approval_reason, sizeof(cut->approval_reason),
		         "%zu of %lld online nodes, more than RELEASE_APPROVAL_MIN_PERCENT=%d%%",
		         cut->c.n, (long long)online, pol->min_percent);
	}
	return 0;
}

/* Resolves the request's nodes and cuts them into batches; nothing is written. */
static int resolve(struct db_conn *c, const struct release_request *rq, struct cut *cut, char *err,
                   size_t errlen)
{
	const struct release_plan *p = rq->plan;
	int rc;

	memset(cut, 0, sizeof(*cut));
	rc = store_cut_targets(c, rq, &cut->c, err, errlen);
	if (rc)
		return rc;
	if (plan_check_pauses(p, cut->c.batches, err, errlen)) {
		rc = CMDB_EINVAL;
		goto fail;
	}
	cut->allowance = plan_allowance(p->max_failures, p->max_failure_percent, (int)cut->c.n);
	rc = decide_approval(c, rq, cut, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	cut_free(cut);
	return rc;
}

/* What fill_node writes: a release's rows. */
struct node_rows {
	int64_t release_id;
	const struct store_new_node *rows;
};

static void fill_node(const void *ctx, size_t i, struct db_arg *a)
{
	const struct node_rows *r = ctx;
	const struct store_new_node *x = &r->rows[i];

	a[0] = DB_I64(r->release_id);
	a[1] = DB_I64(x->node_id);
	a[2] = DB_STR(x->ip);
	a[3] = DB_I64(x->agent_port);
	a[4] = DB_I64(x->batch);
	a[5] = DB_STR(node_status_name(x->status));
	a[6] = DB_I64(x->version);
	a[7] = x->previous_version ? DB_I64(x->previous_version) : DB_NULL;
	a[8] = DB_STR_OR_NULL(x->error_msg);
}

int store_insert_nodes(struct db_conn *c, int64_t release_id, const struct store_new_node *rows,
                       size_t n, char *err, size_t errlen)
{
	struct node_rows r = {release_id, rows};
	int rc, skipped = 0;

	rc = store_insert_rows(c,
	                       "INSERT INTO release_task_nodes (release_task_id, node_id, node_ip,"
	                       " agent_port, batch, status, version, previous_version, error_msg)"
	                       " VALUES ",
	                       "(?, ?, ?, ?, ?, ?, ?, ?, ?)", 9, n, fill_node, &r, err, errlen);
	for (size_t i = 0; i < n; i++)
		skipped |= rows[i].status == NODE_SKIPPED;
	if (rc == 0 && skipped) {
		struct db_arg skip[2] = {DB_I64(release_id), STORE_ARG_NODE(NODE_SKIPPED)};

		rc = db_exec(c,
		             "UPDATE release_task_nodes SET finished_at = UTC_TIMESTAMP(3)"
		             " WHERE release_task_id = ? AND status = ? AND finished_at IS NULL",
		             skip, 2, NULL, NULL, err, errlen);
	}
	return rc;
}

/* The cut's nodes as rows to insert: pending, each to apply version. */
static int insert_cut(struct db_conn *c, int64_t release_id, int64_t version, const struct cut *cut,
                      char *err, size_t errlen)
{
	struct store_new_node *rows = calloc(cut->c.n ? cut->c.n : 1, sizeof(*rows));
	int rc;

	if (!rows)
		return CMDB_ENOMEM;
	for (size_t i = 0; i < cut->c.n; i++) {
		const struct store_target *x = &cut->c.t[i];

		rows[i] = (struct store_new_node){
		    .node_id = x->p.id,
		    .ip = x->p.ip,
		    .agent_port = x->p.agent_port,
		    .batch = x->p.batch,
		    .status = NODE_PENDING,
		    .version = version,
		    .previous_version = x->config_version,
		};
	}
	rc = store_insert_nodes(c, release_id, rows, cut->c.n, err, errlen);
	free(rows);
	return rc;
}

/* What fill_left writes: the matches of a selector a release leaves out (offline). */
struct left_rows {
	int64_t release_id;
	const struct store_target *left;
};

static void fill_left(const void *ctx, size_t i, struct db_arg *a)
{
	const struct left_rows *r = ctx;
	const struct store_target *x = &r->left[i];

	a[0] = DB_I64(r->release_id);
	a[1] = DB_I64(x->p.id);
	a[2] = DB_STR(x->p.ip);
	a[3] = DB_I64(x->p.agent_port);
	a[4] = STORE_ARG_HEALTH(x->health);
}

/* The matches of a selector that the release leaves out, at their address then. */
static int insert_left_out(struct db_conn *c, int64_t release_id, const struct store_cut *cut,
                           char *err, size_t errlen)
{
	struct left_rows r = {release_id, cut->left};

	return store_insert_rows(c,
	                         "INSERT INTO release_left_out (release_task_id, node_id, node_ip,"
	                         " agent_port, reason) VALUES ",
	                         "(?, ?, ?, ?, ?)", 5, cut->nleft, fill_left, &r, err, errlen);
}

int store_make_token(char out[17])
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

/* A time of the plan as a DATETIME literal, or SQL NULL when not given. */
static struct db_arg time_arg(int64_t ms, char *buf)
{
	if (!ms)
		return DB_NULL;
	format_db_time(ms, buf, STORE_TIME_LEN);
	return DB_STR(buf);
}

static int insert_release(struct db_conn *c, const struct release_request *rq,
                          const struct cut *cut, uint64_t *id, char *err, size_t errlen)
{
	const struct release_plan *p = rq->plan;
	char token[17], steps[PLAN_TEXT_MAX], pauses[PLAN_TEXT_MAX];
	char nb[STORE_TIME_LEN], ea[STORE_TIME_LEN];
	struct db_arg args[20];

	if (store_make_token(token)) {
		snprintf(err, errlen, "no randomness for the idempotency token");
		return CMDB_ERR;
	}
	if (plan_steps_format(p->steps, p->nsteps, steps, sizeof(steps)) ||
	    plan_pauses_format(p->pause_after, p->npauses, pauses, sizeof(pauses))) {
		snprintf(err, errlen, "the plan is too long to store");
		return CMDB_EINVAL;
	}
	args[0] = DB_I64(rq->version);
	args[1] = p->batch_size > 0 ? DB_I64(p->batch_size) : DB_NULL;
	args[2] = DB_I64(cut->c.batches);
	args[3] = DB_I64((int64_t)cut->c.n);
	args[4] = DB_STR(token);
	args[5] = DB_STR(rq->idem.principal);
	args[6] = DB_STR(steps);
	args[7] = DB_STR(pauses);
	args[8] = p->max_failures >= 0 ? DB_I64(p->max_failures) : DB_NULL;
	args[9] = p->max_failure_percent >= 0 ? DB_I64(p->max_failure_percent) : DB_NULL;
	args[10] = DB_I64(cut->allowance);
	args[11] = time_arg(p->not_before_ms, nb);
	args[12] = time_arg(p->expires_at_ms, ea);
	args[13] = DB_STR(
	    release_status_name(cut->approval ? RELEASE_AWAITING_APPROVAL : RELEASE_PENDING));
	args[14] = DB_I64(rq->auto_rollback ? 1 : 0);
	args[15] = DB_I64(cut->approval);
	args[16] = cut->approval ? DB_STR(cut->approval_reason) : DB_NULL;
	args[17] = rq->sel ? DB_STR(rq->selector_text) : DB_NULL;
	args[18] = DB_STR_OR_NULL(rq->group_by);
	args[19] = DB_I64(rq->pause_between_groups ? 1 : 0);
	return db_exec(c,
	               "INSERT INTO release_tasks (version, batch_size, batch_count,"
	               " total_nodes, idempotency_token, created_at, created_by, batch_plan,"
	               " pause_after, max_failures, max_failure_percent, failure_allowance,"
	               " not_before, expires_at, status, auto_rollback, approval_required,"
	               " approval_reason, selector, group_by, pause_between_groups) VALUES"
	               " (?, ?, ?, ?, ?, UTC_TIMESTAMP(3), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
	               " ?, ?)",
	               args, 20, NULL, id, err, errlen);
}

/* The timeline's first event, and the approval it awaits (with its notification). */
static int record_created(struct db_conn *c, int64_t id, const struct release_request *rq,
                          const struct cut *cut, char *err, size_t errlen)
{
	int rc = store_add_event(c, id, 0, "created", rq->idem.principal, err, errlen,
	                         "version %lld, %zu nodes in %d batches%s%.200s",
	                         (long long)rq->version, cut->c.n, cut->c.batches,
	                         rq->sel ? ", selector " : "", rq->sel ? rq->selector_text : "");

	if (rc == 0 && cut->approval)
		rc = store_add_event(c, id, 0, "awaiting_approval", rq->idem.principal, err, errlen,
		                     "%s", cut->approval_reason);
	if (rc == 0 && cut->approval)
		rc = store_notify(c, id, "release.awaiting_approval", RELEASE_AWAITING_APPROVAL,
		                  err, errlen);
	return rc;
}

int store_release_order(struct db_conn *c, int64_t id, char *err, size_t errlen)
{
	struct db_arg arg = DB_I64(id);
	uint64_t seq = 0, found = 0;
	int rc = db_exec(c,
	                 "UPDATE release_order SET last_seq = LAST_INSERT_ID(last_seq + 1)"
	                 " WHERE id = 1",
	                 NULL, 0, &found, &seq, err, errlen);

	if (rc == 0 && found != 1) {
		snprintf(err, errlen, "release_order has no row: is the schema up to date?");
		return CMDB_ERR;
	}
	if (rc == 0) {
		struct db_arg args[2] = {DB_I64((int64_t)seq), arg};

		rc = db_exec(c, "UPDATE release_tasks SET seq = ? WHERE id = ?", args, 2, NULL,
		             NULL, err, errlen);
	}
	return rc;
}

static int release_create_once(struct db_conn *c, const struct release_request *rq,
                               struct release *out, int *replayed, char *err, size_t errlen)
{
	struct cut cut = {0};
	int64_t seen = 0;
	uint64_t id = 0;
	int rc;

	*replayed = 0;
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	if (rq->idem.key) {
		rc = store_idem_claim(c, "releases", &rq->idem, &seen, err, errlen);
		if (rc == 1) {
			db_rollback(c);
			*replayed = 1;
			return store_release_get(c, seen, out, err, errlen);
		}
		if (rc)
			goto out;
	}
	rc = resolve(c, rq, &cut, err, errlen);
	if (rc == 0)
		rc = insert_release(c, rq, &cut, &id, err, errlen);
	if (rc == 0)
		rc = insert_cut(c, (int64_t)id, rq->version, &cut, err, errlen);
	if (rc == 0 && cut.c.ngroups)
		rc = store_insert_groups(c, (int64_t)id, cut.c.groups, cut.c.ngroups, err, errlen);
	if (rc == 0 && rq->sel)
		rc = insert_left_out(c, (int64_t)id, &cut.c, err, errlen);
	if (rc == 0)
		rc = record_created(c, (int64_t)id, rq, &cut, err, errlen);
	if (rc == 0 && rq->idem.key)
		rc = store_idem_bind(c, "releases", &rq->idem, (int64_t)id, err, errlen);
	/* Last: the counter's row is held from here to the COMMIT. */
	if (rc == 0)
		rc = store_release_order(c, (int64_t)id, err, errlen);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	cut_free(&cut);
	if (rc == 0)
		return store_release_get(c, (int64_t)id, out, err, errlen);
out:
	db_rollback(c);
	cut_free(&cut);
	return rc;
}

/* The earliest (by seq) unfinished release that has one of the cut's nodes, or 0. */
static int preview_waiting(struct db_conn *c, const struct cut *cut, int64_t *waiting, char *err,
                           size_t errlen)
{
	struct db_arg *args = calloc(STORE_LOOKUP_CHUNK, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	int64_t first = 0;
	int rc = 0;

	*waiting = 0;
	if (!args)
		return CMDB_ENOMEM;
	for (size_t at = 0; at < cut->c.n && rc == 0; at += STORE_LOOKUP_CHUNK) {
		size_t k = cut->c.n - at < STORE_LOOKUP_CHUNK ? cut->c.n - at : STORE_LOOKUP_CHUNK;
		struct db_rows rows = DB_ROWS_INIT;
		int64_t seq;

		strbuf_free(&sql);
		strbuf_adds(&sql,
		            "SELECT t.id, t.seq FROM release_tasks t JOIN release_task_nodes rn"
		            " ON rn.release_task_id = t.id WHERE t.finished_at IS NULL"
		            " AND rn.node_id IN (");
		store_add_placeholders(&sql, k);
		strbuf_adds(&sql, ") ORDER BY t.seq LIMIT 1");
		for (size_t i = 0; i < k; i++)
			args[i] = DB_I64(cut->c.t[at + i].p.id);
		rc = sql.failed ? CMDB_ENOMEM : db_query(c, sql.buf, args, k, &rows, err, errlen);
		if (rc == 0 && rows.nrows && (seq = db_cell_i64(&rows, 0, 1)) > 0 &&
		    (first == 0 || seq < first)) {
			first = seq;
			*waiting = db_cell_i64(&rows, 0, 0);
		}
		db_rows_free(&rows);
	}
	strbuf_free(&sql);
	free(args);
	return rc;
}

int store_release_preview(struct db_conn *c, const struct release_request *rq,
                          struct release_preview *out, char *err, size_t errlen)
{
	struct cut cut = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = resolve(c, rq, &cut, err, errlen);
	if (rc == 0)
		rc = preview_waiting(c, &cut, &out->waiting_for, err, errlen);
	db_rollback(c); /* nothing was written: one snapshot for every read, and no locks */
	if (rc)
		goto fail;
	out->nodes = calloc(cut.c.n ? cut.c.n : 1, sizeof(*out->nodes));
	out->left_out = calloc(cut.c.nleft ? cut.c.nleft : 1, sizeof(*out->left_out));
	if (!out->nodes || !out->left_out) {
		rc = CMDB_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cut.c.n; i++)
		out->nodes[i] = cut.c.t[i].p;
	for (size_t i = 0; i < cut.c.nleft; i++)
		out->left_out[i] = cut.c.left[i].p;
	out->n = cut.c.n;
	out->nleft = cut.c.nleft;
	out->total = (int)cut.c.n;
	out->batch_count = cut.c.batches;
	out->allowance = cut.allowance;
	out->approval_required = cut.approval;
	str_copy(out->approval_reason, cut.approval_reason, sizeof(out->approval_reason));
	out->sizes = cut.c.sizes;
	out->groups = cut.c.groups;
	out->ngroups = cut.c.ngroups;
	cut.c.sizes = NULL;
	cut.c.groups = NULL;
	cut_free(&cut);
	return 0;
fail:
	cut_free(&cut);
	store_release_preview_free(out);
	return rc;
}

void store_release_preview_free(struct release_preview *p)
{
	free(p->sizes);
	free(p->nodes);
	free(p->left_out);
	free(p->groups);
	memset(p, 0, sizeof(*p));
}

int store_release_create(struct db_conn *c, const struct release_request *rq, struct release *out,
                         int *replayed, char *err, size_t errlen)
{
	int rc;

	/* With its key, a create whose COMMIT was lost finds the key and replays. */
	STORE_RETRY_IF(c, rc, err, rq->idem.key != NULL,
	               release_create_once(c, rq, out, replayed, err, errlen));
	return rc;
}
