/*
 * store/node_list: GET /api/v1/nodes: the nodes every given filter selects (config
 * version, status, a label selector as selector_sql's EXISTS conditions with bound
 * values), in id order, a page at a time after an id or all at once, with their labels,
 * in one query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/nodes.h"
#include "store/store_internal.h"

/* version, status, after, limit: the arguments besides the selector's. */
#define FIXED_ARGS 4

struct where {
	struct strbuf sql;
	struct db_arg *args;
	size_t nargs;
};

/*
 * Appends " WHERE ..." for f to w (the selector's text and values in q), with the id
 * bound only when with_after: the count of every page leaves it out.
 */
static void add_where(struct where *w, const struct node_filter *f, const struct selector_sql *q,
                      int with_after)
{
	strbuf_adds(&w->sql, " WHERE TRUE");
	if (f->by_version > 0)
		strbuf_adds(&w->sql, " AND n.config_version = ?");
	else if (f->by_version < 0)
		strbuf_adds(&w->sql, " AND NOT n.config_version <=> ?");
	if (f->by_version)
		w->args[w->nargs++] = DB_I64(f->version);
	if (f->status >= 0) {
		strbuf_adds(&w->sql, " AND n.status = ?");
		w->args[w->nargs++] = STORE_ARG_HEALTH((enum node_health)f->status);
	}
	if (with_after && f->after > 0) {
		strbuf_adds(&w->sql, " AND n.id > ?");
		w->args[w->nargs++] = DB_I64(f->after);
	}
	if (q->nparams) {
		strbuf_adds(&w->sql, " AND ");
		strbuf_adds(&w->sql, q->text.buf);
		for (size_t i = 0; i < q->nparams; i++)
			w->args[w->nargs++] = DB_STR(q->params[i]);
	}
}

/* How many nodes f selects in all pages. */
static int count_all(struct db_conn *c, const struct node_filter *f, const struct selector_sql *q,
                     struct db_arg *args, int64_t *total, char *err, size_t errlen)
{
	struct where w = {STRBUF_INIT, args, 0};
	struct db_rows rows = DB_ROWS_INIT;
	int rc;

	strbuf_adds(&w.sql, "SELECT COUNT(*) FROM nodes n");
	add_where(&w, f, q, 0);
	rc = w.sql.failed ? CMDB_ENOMEM : db_query(c, w.sql.buf, args, w.nargs, &rows, err, errlen);
	if (rc == 0)
		*total = rows.nrows ? db_cell_i64(&rows, 0, 0) : 0;
	db_rows_free(&rows);
	strbuf_free(&w.sql);
	return rc;
}

/*
 * The page's rows with their labels (one row more than the limit, to know whether more
 * follow): the page's ids picked first, so that the labels are read for them alone.
 */
static int read_page(struct db_conn *c, const struct node_filter *f, const struct selector_sql *q,
                     struct db_arg *args, struct node_page *out, char *err, size_t errlen)
{
	struct where w = {STRBUF_INIT, args, 0};
	struct db_rows rows = DB_ROWS_INIT;
	int rc;

	strbuf_adds(&w.sql, "SELECT " STORE_NODE_COLS ", " STORE_LABELS_COL " FROM ");
	strbuf_adds(&w.sql, f->limit > 0 ? "(SELECT n.id FROM nodes n" : "nodes n");
	add_where(&w, f, q, 1);
	if (f->limit > 0) {
		strbuf_adds(&w.sql, " ORDER BY n.id LIMIT ?) p JOIN nodes n ON n.id = p.id");
		args[w.nargs++] = DB_I64((int64_t)f->limit + 1);
	}
	strbuf_adds(&w.sql, " ORDER BY n.id");
	rc = w.sql.failed ? CMDB_ENOMEM : db_query(c, w.sql.buf, args, w.nargs, &rows, err, errlen);
	if (rc == 0)
		rc = store_map_rows(&rows, store_node_cols, store_nnode_cols, sizeof(*out->nodes),
		                    (void **)&out->nodes, &out->n);
	for (size_t i = 0; rc == 0 && i < out->n; i++)
		rc = store_labels_parse(db_cell(&rows, i, store_nnode_cols), out->nodes[i].id,
		                        &out->nodes[i].labels, err, errlen);
	if (rc == 0 && f->limit > 0 && out->n > (size_t)f->limit) {
		out->more = 1;
		store_node_release(&out->nodes[f->limit]);
		out->n = (size_t)f->limit;
	}
	db_rows_free(&rows);
	strbuf_free(&w.sql);
	return rc;
}

int store_node_list(struct db_conn *c, const struct node_filter *f, struct node_page *out,
                    char *err, size_t errlen)
{
	static const struct selector none = {NULL, 0};
	struct selector_sql q = SELECTOR_SQL_INIT;
	struct db_arg *args = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = selector_sql(f->sel ? f->sel : &none, "n.id", &q);
	if (rc == 0) {
		args = calloc(q.nparams + FIXED_ARGS, sizeof(*args));
		rc = args ? 0 : CMDB_ENOMEM;
	}
	if (rc == 0 && q.nparams + FIXED_ARGS > DB_MAX_ARGS) {
		snprintf(err, errlen, "the selector has too many values");
		rc = CMDB_EINVAL;
	}
	if (rc == 0)
		rc = read_page(c, f, &q, args, out, err, errlen);
	/* The count reads every match: only when asked, and not when this page holds all. */
	out->total = (int64_t)out->n;
	if (rc == 0 && f->limit > 0 && f->count && (out->more || f->after > 0))
		rc = count_all(c, f, &q, args, &out->total, err, errlen);
	selector_sql_free(&q);
	free(args);
	if (rc)
		store_node_page_free(out);
	return rc;
}

void store_node_page_free(struct node_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		store_node_release(&p->nodes[i]);
	free(p->nodes);
	memset(p, 0, sizeof(*p));
}
