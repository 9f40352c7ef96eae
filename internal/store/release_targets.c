/*
 * store/release_targets: the nodes a new release goes to and its batches. The nodes are
 * those named (in the order given, each online), every online node, or the online nodes
 * a label selector matches (by id; the offline matches are left out); with group_by each
 * node's value of that label comes with it, and the plan is cut group by group
 * (plan_cut_groups). Shared by the create and its dry run (release_create.c); a rollback
 * of a grouped release writes its groups here too (release_rollback.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/release_create.h"
#include "store/store_internal.h"

/* The target columns, with the value of the group_by label (NULL without it, or none). */
#define TARGET_SELECT                                                                              \
	"SELECT n.id, n.hostname, n.ip, n.agent_port, n.status, n.config_version, g.v"             \
	" FROM nodes n LEFT JOIN node_labels g ON g.node_id = n.id AND g.k = ?"

static const struct store_col target_cols[] = {
    STORE_COL(COL_I64, struct store_target, p.id),
    STORE_COL(COL_STR, struct store_target, p.hostname),
    STORE_COL(COL_STR, struct store_target, p.ip),
    STORE_COL(COL_INT, struct store_target, p.agent_port),
    STORE_COL(COL_HEALTH, struct store_target, health),
    STORE_COL(COL_I64, struct store_target, config_version),
    STORE_COL(COL_STR, struct store_target, group),
};

#define NTARGET_COLS (sizeof(target_cols) / sizeof(target_cols[0]))

void store_cut_free(struct store_cut *cut)
{
	free(cut->t);
	free(cut->left);
	free(cut->sizes);
	free(cut->groups);
	memset(cut, 0, sizeof(*cut));
}

static int cmp_target(const void *a, const void *b)
{
	const struct store_target *x = a, *y = b;

	return (x->p.id > y->p.id) - (x->p.id < y->p.id);
}

/* Appends the rows of sql (with args; args[0] is the group key) to *t, growing it. */
static int append_targets(struct db_conn *c, const char *sql, const struct db_arg *args,
                          size_t nargs, struct store_target **t, size_t *nt, char *err,
                          size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct store_target *grown;
	int rc = db_query(c, sql, args, nargs, &rows, err, errlen);

	if (rc)
		return rc;
	grown = rows.nrows ? realloc(*t, (*nt + rows.nrows) * sizeof(**t)) : *t;
	if (rows.nrows && !grown) {
		db_rows_free(&rows);
		return CMDB_ENOMEM;
	}
	*t = grown;
	for (size_t i = 0; i < rows.nrows; i++) {
		struct store_target *x = &(*t)[(*nt)++];

		memset(x, 0, sizeof(*x));
		store_map_row(&rows, i, target_cols, NTARGET_COLS, x);
		x->has_group = db_cell(&rows, i, NTARGET_COLS - 1) != NULL;
	}
	db_rows_free(&rows);
	return 0;
}

/* The named nodes in the order given, each checked to exist and be online. */
static int load_named(struct db_conn *c, const int64_t *ids, size_t n, const char *group_by,
                      struct store_target **out, char *err, size_t errlen)
{
	struct store_target *found = NULL, *t = calloc(n, sizeof(*t));
	struct db_arg *args = calloc(STORE_LOOKUP_CHUNK + 1, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	size_t nfound = 0;
	int rc = CMDB_ENOMEM;

	if (!t || !args)
		goto out;
	for (size_t at = 0; at < n; at += STORE_LOOKUP_CHUNK) {
		size_t k = n - at < STORE_LOOKUP_CHUNK ? n - at : STORE_LOOKUP_CHUNK;

		strbuf_reset(&sql);
		strbuf_adds(&sql, TARGET_SELECT " WHERE n.id IN (");
		store_add_placeholders(&sql, k);
		strbuf_adds(&sql, ")");
		if (sql.failed) {
			rc = CMDB_ENOMEM;
			goto out;
		}
		args[0] = DB_STR(group_by);
		for (size_t i = 0; i < k; i++)
			args[i + 1] = DB_I64(ids[at + i]);
		rc = append_targets(c, sql.buf, args, k + 1, &found, &nfound, err, errlen);
		if (rc)
			goto out;
	}
	if (nfound)
		qsort(found, nfound, sizeof(*found), cmp_target);
	for (size_t i = 0; i < n; i++) {
		struct store_target key = {.p.id = ids[i]};
		struct store_target *hit =
		    nfound ? bsearch(&key, found, nfound, sizeof(*found), cmp_target) : NULL;

		if (!hit) {
			snprintf(err, errlen, "node %lld does not exist", (long long)ids[i]);
			rc = CMDB_EINVAL;
			goto out;
		}
		if (hit->health != NODE_ONLINE) {
			snprintf(err, errlen, "node %lld (%s) is offline", (long long)hit->p.id,
			         hit->p.hostname);
			rc = CMDB_EINVAL;
			goto out;
		}
		t[i] = *hit;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	strbuf_free(&sql);
	free(found);
	free(args);
	free(t);
	return rc;
}

/*
 * Every node, or those the selector matches, by id: the online ones are the targets, the
 * offline ones go to cut->left.
 */
static int load_matching(struct db_conn *c, const struct release_request *rq, struct store_cut *cut,
                         char *err, size_t errlen)
{
	static const struct selector every = {NULL, 0};
	struct selector_sql q = SELECTOR_SQL_INIT;
	struct strbuf sql = STRBUF_INIT;
	struct store_target *all = NULL;
	struct db_arg *args = NULL;
	size_t nall = 0;
	int rc;

	rc = selector_sql(rq->sel ? rq->sel : &every, "n.id", &q);
	if (rc == 0 && !(args = calloc(q.nparams + 1, sizeof(*args))))
		rc = CMDB_ENOMEM;
	if (rc)
		goto out;
	strbuf_addf(&sql, TARGET_SELECT " WHERE %s ORDER BY n.id", q.text.buf);
	args[0] = DB_STR(rq->group_by ? rq->group_by : "");
	for (size_t i = 0; i < q.nparams; i++)
		args[i + 1] = DB_STR(q.params[i]);
	rc = sql.failed ? CMDB_ENOMEM
	                : append_targets(c, sql.buf, args, q.nparams + 1, &all, &nall, err, errlen);
	if (rc)
		goto out;
	cut->t = calloc(nall ? nall : 1, sizeof(*cut->t));
	cut->left = calloc(nall ? nall : 1, sizeof(*cut->left));
	if (!cut->t || !cut->left) {
		rc = CMDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nall; i++) {
		if (all[i].health == NODE_ONLINE)
			cut->t[cut->n++] = all[i];
		else
			cut->left[cut->nleft++] = all[i];
	}
	if (cut->n == 0 && rq->sel && cut->nleft == 0)
		snprintf(err, errlen, "no node matches the selector \"%.200s\"",
		         rq->selector_text ? rq->selector_text : "");
	else if (cut->n == 0 && rq->sel)
		snprintf(err, errlen,
		         "no online node matches the selector \"%.200s\": the %zu node%s it matches"
		         " %s offline",
		         rq->selector_text ? rq->selector_text : "", cut->nleft,
		         cut->nleft == 1 ? "" : "s", cut->nleft == 1 ? "is" : "are");
	else if (cut->n == 0)
		snprintf(err, errlen, "no online nodes to release to");
	rc = cut->n ? 0 : CMDB_EINVAL;
out:
	selector_sql_free(&q);
	strbuf_free(&sql);
	free(args);
	free(all);
	return rc;
}

/* Sets the batch of each node in release order: sizes[b] nodes in batch b + 1. */
static void number_batches(struct store_cut *cut)
{
	for (int b = 0, at = 0; b < cut->batches; at += cut->sizes[b++])
		for (int i = 0; i < cut->sizes[b]; i++)
			cut->t[at + i].p.batch = b + 1;
}

int store_groups_from_plan(const struct plan_grouped *g, struct release_group **out)
{
	*out = calloc(g->ngroups ? (size_t)g->ngroups : 1, sizeof(**out));
	if (!*out)
		return CMDB_ENOMEM;
	for (int i = 0; i < g->ngroups; i++) {
		struct release_group *x = &(*out)[i];

		x->has_value = g->groups[i].value != NULL;
		str_copy(x->value, g->groups[i].value ? g->groups[i].value : "", sizeof(x->value));
		x->first_batch = g->groups[i].first_batch;
		x->batches = g->groups[i].batches;
		x->nodes = g->groups[i].nodes;
	}
	return 0;
}

/* Cuts the targets group by group, putting them in the order the groups run. */
static int cut_grouped(const struct release_plan *p, struct store_cut *cut)
{
	struct plan_grouped g = PLAN_GROUPED_INIT;
	const char **values = calloc(cut->n, sizeof(*values));
	struct store_target *ordered = calloc(cut->n, sizeof(*ordered));
	int rc = values && ordered ? 0 : CMDB_ENOMEM;

	for (size_t i = 0; rc == 0 && i < cut->n; i++)
		values[i] = cut->t[i].has_group ? cut->t[i].group : NULL;
	if (rc == 0)
		rc = plan_cut_groups(p->steps, p->nsteps, values, (int)cut->n, &g);
	if (rc == 0)
		rc = store_groups_from_plan(&g, &cut->groups);
	if (rc == 0) {
		for (size_t i = 0; i < cut->n; i++)
			ordered[i] = cut->t[g.order[i]];
		memcpy(cut->sizes, g.sizes, (size_t)g.nbatches * sizeof(*g.sizes));
		cut->batches = g.nbatches;
		cut->ngroups = (size_t)g.ngroups;
		free(cut->t);
		cut->t = ordered;
		ordered = NULL;
		number_batches(cut);
	}
	plan_grouped_free(&g);
	free(values);
	free(ordered);
	return rc;
}

int store_cut_targets(struct db_conn *c, const struct release_request *rq, struct store_cut *cut,
                      char *err, size_t errlen)
{
	const struct release_plan *p = rq->plan;
	int rc;

	memset(cut, 0, sizeof(*cut));
	if (rq->n) {
		rc = load_named(c, rq->node_ids, rq->n, rq->group_by ? rq->group_by : "", &cut->t,
		                err, errlen);
		cut->n = rc ? 0 : rq->n;
	} else {
		rc = load_matching(c, rq, cut, err, errlen);
	}
	if (rc == 0 && !(cut->sizes = calloc(cut->n, sizeof(*cut->sizes))))
		rc = CMDB_ENOMEM;
	if (rc == 0 && rq->group_by) {
		rc = cut_grouped(p, cut);
	} else if (rc == 0) {
		cut->batches = plan_cut(p->steps, p->nsteps, (int)cut->n, cut->sizes);
		number_batches(cut);
	}
	if (rc)
		store_cut_free(cut);
	return rc;
}

/* What fill_group writes: a release's groups. */
struct group_rows {
	int64_t release_id;
	const struct release_group *g;
};

static void fill_group(const void *ctx, size_t i, struct db_arg *a)
{
	const struct group_rows *r = ctx;
	const struct release_group *x = &r->g[i];

	a[0] = DB_I64(r->release_id);
	a[1] = DB_I64((int64_t)i + 1);
	a[2] = x->has_value ? DB_STR(x->value) : DB_NULL;
	a[3] = DB_I64(x->first_batch);
	a[4] = DB_I64(x->batches);
	a[5] = DB_I64(x->nodes);
}

int store_insert_groups(struct db_conn *c, int64_t release_id, const struct release_group *g,
                        size_t n, char *err, size_t errlen)
{
	struct group_rows r = {release_id, g};

	return store_insert_rows(c,
	                         "INSERT INTO release_groups (release_task_id, position, value,"
	                         " first_batch, batch_count, node_count) VALUES ",
	                         "(?, ?, ?, ?, ?, ?)", 6, n, fill_group, &r, err, errlen);
}
