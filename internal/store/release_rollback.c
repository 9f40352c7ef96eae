/*
 * store/release_rollback: the rollback release of a release. It takes every node the
 * release dispatched, in the release's own order and batch plan, and gives each node its
 * own previous_version back. The release row stays locked while this runs, and the
 * UNIQUE key on rollback_of holds the rest: one rollback per release, however many
 * operators, alerts or halts ask for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/release_actions.h"
#include "store/store_internal.h"

/* The original release as a rollback needs it. */
struct original {
	enum release_status status;
	int64_t rollback_of;
	int64_t existing; /* its rollback release, if any */
	int batch_size;   /* 0 when it had a "batches" plan */
	char batch_plan[PLAN_TEXT_MAX];
	char group_by[LABEL_KEY_MAX + 1]; /* "" when not grouped */
	struct release_group *groups;     /* its groups, in order (ngroups) */
	size_t ngroups;
};

/* A dispatched node of the original, and what its rollback does with it. */
struct touched {
	int64_t node_id;
	int64_t version;          /* what the original applied */
	int64_t previous_version; /* what it ran before: the rollback's target; 0 none */
	enum node_status status;  /* running, success or failed in the original */
	int64_t config_version;   /* what the node runs now, as far as we know */
	char ip[STORE_IP_LEN];
	int agent_port;
	char hostname[STORE_HOSTNAME_LEN];
	int batch; /* in the original: where its group comes from */
};

static const struct store_col touched_cols[] = {
    STORE_COL(COL_I64, struct touched, node_id),
    STORE_COL(COL_I64, struct touched, version),
    STORE_COL(COL_I64, struct touched, previous_version),
    STORE_COL(COL_NODE_STATUS, struct touched, status),
    STORE_COL(COL_I64, struct touched, config_version),
    STORE_COL(COL_STR, struct touched, ip),
    STORE_COL(COL_INT, struct touched, agent_port),
    STORE_COL(COL_STR, struct touched, hostname),
    STORE_COL(COL_INT, struct touched, batch),
};

#define NTOUCHED_COLS (sizeof(touched_cols) / sizeof(touched_cols[0]))

static int load_original(struct db_conn *c, int64_t id, struct original *o, char *err,
                         size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	int64_t running;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = store_release_lock_row(c, id, &o->status, &running, err, errlen);
	if (rc)
		return rc;
	rc = db_query(c,
	              "SELECT o.rollback_of, o.batch_size, o.batch_plan,"
	              " (SELECT b.id FROM release_tasks b WHERE b.rollback_of = o.id), o.group_by"
	              " FROM release_tasks o WHERE o.id = ?",
	              &arg, 1, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows) {
		o->rollback_of = db_cell_i64(&rows, 0, 0);
		o->batch_size = (int)db_cell_i64(&rows, 0, 1);
		str_copy(o->batch_plan, db_cell(&rows, 0, 2) ? db_cell(&rows, 0, 2) : "",
		         sizeof(o->batch_plan));
		o->existing = db_cell_i64(&rows, 0, 3);
		str_copy(o->group_by, db_cell(&rows, 0, 4) ? db_cell(&rows, 0, 4) : "",
		         sizeof(o->group_by));
	}
	db_rows_free(&rows);
	return o->group_by[0] ? store_release_groups(c, id, &o->groups, &o->ngroups, err, errlen)
	                      : 0;
}

/* Why the rollback may not be made at all; 0 when it may. */
static int refuse(int64_t id, const struct original *o, int unfinished, char *err, size_t errlen)
{
	if (o->rollback_of) {
		snprintf(
		    err, errlen,
		    "release %lld is the rollback of release %lld; a rollback is not rolled back"
		    " (create a new release with the version you want)",
		    (long long)id, (long long)o->rollback_of);
		return CMDB_ESTATE;
	}
	switch (release_rollback_rule(o->status)) {
	case ROLLBACK_NOT_YET:
		if (unfinished)
			return 0;
		snprintf(err, errlen,
		         "cannot roll back release %lld: it is %s; cancel it first"
		         " (POST /api/v1/releases/%lld/cancel) or wait until it ends",
		         (long long)id, release_status_name(o->status), (long long)id);
		return CMDB_ESTATE;
	case ROLLBACK_NOTHING:
		snprintf(
		    err, errlen,
		    "release %lld is %s: it dispatched nothing, so there is nothing to roll back",
		    (long long)id, release_status_name(o->status));
		return CMDB_EINVAL;
	case ROLLBACK_ALLOWED:
		break;
	}
	return 0;
}

/*
 * What the rollback does with one node: 0 with its row filled as pending, or the row
 * skipped with why. A failed apply may have left the node anywhere, so a failed (or
 * unfinished) node gets its previous version again; a node the release left on its
 * previous version has nothing to undo.
 */
static void plan_node(const struct touched *t, struct store_new_node *row, char *why, size_t len)
{
	*row = (struct store_new_node){
	    .node_id = t->node_id,
	    .ip = t->ip,
	    .agent_port = t->agent_port,
	    .status = NODE_PENDING,
	    .version = t->previous_version ? t->previous_version : t->version,
	    .previous_version = t->config_version,
	};
	if (!t->previous_version) {
		snprintf(why, len, "no previous version: the node ran no known version before");
		row->status = NODE_SKIPPED;
	} else if (t->status == NODE_SUCCESS && t->version == t->previous_version) {
		snprintf(why, len, "already runs version %lld: the release did not change it",
		         (long long)t->previous_version);
		row->status = NODE_SKIPPED;
	}
	row->error_msg = row->status == NODE_SKIPPED ? why : NULL;
}

/* The version most targeted nodes return to: the rollback release's headline version. */
static int64_t headline_version(const struct store_new_node *rows, size_t n)
{
	int64_t best = 0;
	size_t best_count = 0;

	for (size_t i = 0; i < n; i++) {
		size_t count = 0;

		if (rows[i].status != NODE_PENDING)
			continue;
		for (size_t j = 0; j < n; j++)
			count +=
			    rows[j].status == NODE_PENDING && rows[j].version == rows[i].version;
		if (count > best_count) {
			best = rows[i].version;
			best_count = count;
		}
		if (best_count * 2 > n)
			break;
	}
	return best;
}

/*
 * Cuts the rows into batches by the original's plan, in their order; a grouped original's
 * rows group by group, each in the group it had there (*groups, *ngroups for the
 * rollback), so that no batch of the rollback holds two zones either.
 */
static int cut_rows(const struct original *o, const struct touched *t, struct store_new_node *rows,
                    size_t n, int *batches, struct release_group **groups, size_t *ngroups,
                    char *err, size_t errlen)
{
	struct plan_grouped g = PLAN_GROUPED_INIT;
	struct plan_step steps[PLAN_STEPS_MAX];
	struct store_new_node *ordered = NULL;
	const char **values = NULL;
	size_t nsteps = 0;
	int *sizes = NULL, rc = CMDB_ENOMEM;

	if (plan_steps_parse(o->batch_plan, steps, &nsteps)) {
		snprintf(err, errlen, "the original's batch plan \"%.100s\" is malformed",
		         o->batch_plan);
		return CMDB_ERR;
	}
	if (!o->ngroups) {
		if (!(sizes = calloc(n, sizeof(*sizes))))
			return CMDB_ENOMEM;
		*batches = plan_cut(steps, nsteps, (int)n, sizes);
		for (int b = 0, at = 0; b < *batches; at += sizes[b++])
			for (int i = 0; i < sizes[b]; i++)
				rows[at + i].batch = b + 1;
		free(sizes);
		return 0;
	}
	values = calloc(n, sizeof(*values));
	ordered = calloc(n, sizeof(*ordered));
	for (size_t i = 0; values && ordered && i < n; i++) {
		int k = store_group_of(o->groups, o->ngroups, t[i].batch);

		values[i] = k >= 0 && o->groups[k].has_value ? o->groups[k].value : NULL;
	}
	if (values && ordered)
		rc = plan_cut_groups(steps, nsteps, values, (int)n, &g);
	if (rc == 0)
		rc = store_groups_from_plan(&g, groups);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			ordered[i] = rows[g.order[i]];
			ordered[i].batch = g.node_batch[g.order[i]];
		}
		memcpy(rows, ordered, n * sizeof(*rows));
		*batches = g.nbatches;
		*ngroups = (size_t)g.ngroups;
	}
	plan_grouped_free(&g);
	free(values);
	free(ordered);
	return rc;
}

static int insert_rollback(struct db_conn *c, int64_t id, const struct original *o, int64_t version,
                           int batches, size_t n, const char *principal, const char *reason,
                           uint64_t *new_id, char *err, size_t errlen)
{
	struct db_arg args[11];
	char token[17];
	int rc;

	if (store_make_token(token)) {
		snprintf(err, errlen, "no randomness for the idempotency token");
		return CMDB_ERR;
	}
	args[0] = DB_I64(version);
	args[1] = STORE_ARG_RELEASE(RELEASE_PENDING);
	args[2] = o->batch_size > 0 ? DB_I64(o->batch_size) : DB_NULL;
	args[3] = DB_I64(batches);
	args[4] = DB_I64((int64_t)n);
	args[5] = DB_STR(token);
	args[6] = DB_STR(principal);
	args[7] = DB_STR(o->batch_plan);
	args[8] = DB_I64(id);
	args[9] = DB_STR(reason);
	args[10] = o->group_by[0] ? DB_STR(o->group_by) : DB_NULL;
	/* Fail-fast, no pauses, no schedule, no approval: it undoes, it does not roll out. */
	rc = db_exec(c,
	             "INSERT INTO release_tasks (version, status, batch_size, batch_count,"
	             " total_nodes, idempotency_token, created_at, created_by, batch_plan,"
	             " failure_allowance, rollback_of, rollback_reason, group_by) VALUES (?, ?,"
	             " ?, ?, ?, ?, UTC_TIMESTAMP(3), ?, ?, 0, ?, LEFT(?, 300), ?)",
	             args, 11, NULL, new_id, err, errlen);
	return rc ? rc : store_release_order(c, (int64_t)*new_id, err, errlen);
}

/* Explains a rollback with nothing to do from the reasons of its skipped rows. */
static void nothing_to_do(int64_t id, const struct store_new_node *rows, size_t n, char *err,
                          size_t errlen)
{
	size_t none = 0, same = 0;

	for (size_t i = 0; i < n; i++) {
		if (strncmp(rows[i].error_msg, "no previous", 11) == 0)
			none++;
		else
			same++;
	}
	snprintf(err, errlen,
	         "nothing to roll back in release %lld: %zu of its dispatched nodes had no"
	         " previous version, %zu already run theirs",
	         (long long)id, none, same);
}

/* Every node release id dispatched, in its order; where each is and what it runs now. */
static int load_touched(struct db_conn *c, int64_t id, struct touched **t, size_t *n, char *err,
                        size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg args[4] = {DB_I64(id), STORE_ARG_NODE(NODE_RUNNING),
	                         STORE_ARG_NODE(NODE_SUCCESS), STORE_ARG_NODE(NODE_FAILED)};
	int rc = db_query(c,
	                  "SELECT r.node_id, r.version, r.previous_version, r.status,"
	                  " n.config_version, n.ip, n.agent_port, n.hostname, r.batch"
	                  " FROM release_task_nodes r JOIN nodes n ON n.id = r.node_id"
	                  " WHERE r.release_task_id = ? AND r.status IN (?, ?, ?)"
	                  " ORDER BY r.batch, r.id",
	                  args, 4, &rows, err, errlen);

	if (rc == 0)
		rc = store_map_rows(&rows, touched_cols, NTOUCHED_COLS, sizeof(**t), (void **)t, n);
	db_rows_free(&rows);
	return rc;
}

int store_rollback_in_tx(struct db_conn *c, int64_t id, const char *principal, const char *reason,
                         int unfinished, int64_t *rollback_id, int *existing, char *err,
                         size_t errlen)
{
	struct touched *t = NULL;
	struct store_new_node *out = NULL;
	char(*why)[STORE_REASON_LEN] = NULL;
	struct release_group *groups = NULL;
	struct original o;
	size_t n = 0, targets = 0, ngroups = 0;
	uint64_t new_id = 0;
	int batches = 0, rc;

	*rollback_id = 0;
	*existing = 0;
	rc = load_original(c, id, &o, err, errlen);
	if (rc == 0 && o.existing) {
		*rollback_id = o.existing;
		*existing = 1;
		goto out;
	}
	if (rc == 0)
		rc = refuse(id, &o, unfinished, err, errlen);
	if (rc)
		goto out;
	rc = load_touched(c, id, &t, &n, err, errlen);
	if (rc)
		goto out;
	if (n == 0) {
		snprintf(err, errlen,
		         "release %lld dispatched nothing: there is nothing to roll back",
		         (long long)id);
		rc = CMDB_EINVAL;
		goto out;
	}
	out = calloc(n, sizeof(*out));
	why = calloc(n, sizeof(*why));
	if (!out || !why) {
		rc = CMDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		plan_node(&t[i], &out[i], why[i], sizeof(why[i]));
		targets += out[i].status == NODE_PENDING;
	}
	if (targets == 0) {
		nothing_to_do(id, out, n, err, errlen);
		rc = CMDB_EINVAL;
		goto out;
	}
	rc = cut_rows(&o, t, out, n, &batches, &groups, &ngroups, err, errlen);
	if (rc == 0)
		rc = insert_rollback(c, id, &o, headline_version(out, n), batches, n, principal,
		                     reason, &new_id, err, errlen);
	if (rc == 0)
		rc = store_insert_nodes(c, (int64_t)new_id, out, n, err, errlen);
	if (rc == 0 && ngroups)
		rc = store_insert_groups(c, (int64_t)new_id, groups, ngroups, err, errlen);
	if (rc == 0)
		rc = store_add_event(c, (int64_t)new_id, 0, "created", principal, err, errlen,
		                     "rollback of release %lld (%s): %zu nodes to roll back, %zu"
		                     " skipped",
		                     (long long)id, reason, targets, n - targets);
	if (rc == 0)
		rc = store_add_event(c, id, 0, "rollback_created", principal, err, errlen,
		                     "release %lld", (long long)new_id);
	if (rc == 0)
		*rollback_id = (int64_t)new_id;
out:
	free(t);
	free(out);
	free(why);
	free(groups);
	free(o.groups);
	return rc;
}

static int release_rollback_once(struct db_conn *c, int64_t id, const char *principal,
                                 const char *reason, struct release *out, int *existing, char *err,
                                 size_t errlen)
{
	int64_t rid = 0;
	int rc;

	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = store_rollback_in_tx(c, id, principal, reason, 0, &rid, existing, err, errlen);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc) {
		db_rollback(c);
		return rc;
	}
	return store_release_get(c, rid, out, err, errlen);
}

int store_release_rollback(struct db_conn *c, int64_t id, const char *principal, const char *reason,
                           struct release *out, int *existing, char *err, size_t errlen)
{
	int rc;

	/* A second run finds the rollback release the first one made. */
	STORE_RETRY_IDEMPOTENT(
	    c, rc, err,
	    release_rollback_once(c, id, principal, reason, out, existing, err, errlen));
	return rc;
}
