/*
 * store/scope: the nodes outside a scope, by the selector's SQL (selector_sql) over
 * node_labels. Not called until node_labels exists; see scope.h.
 */
#include "store/scope.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* Ids per IN (...): with the selector's parameters, within DB_MAX_ARGS (db.h). */
#define SCOPE_CHUNK 1000

/* Adds the rows "node id, total" of one query to out, keeping the smallest ids. */
static void merge(struct store_outside *out, const struct db_rows *rows)
{
	for (size_t r = 0; r < rows->nrows; r++) {
		int64_t id = db_cell_i64(rows, r, 0);
		size_t at = out->n;

		if (r == 0)
			out->total += db_cell_i64(rows, r, 1);
		while (at > 0 && out->ids[at - 1] > id)
			at--;
		if (at == STORE_SCOPE_SHOWN)
			continue;
		if (out->n < STORE_SCOPE_SHOWN)
			out->n++;
		memmove(&out->ids[at + 1], &out->ids[at], (out->n - 1 - at) * sizeof(out->ids[0]));
		out->ids[at] = id;
	}
}

/*
 * Runs "<head> AND NOT (<selector on column>) ORDER BY column LIMIT 5" with the head's
 * arguments first, and merges its rows into out.
 */
static int run(struct db_conn *c, const struct selector *sel, const char *column, const char *head,
               const struct db_arg *hargs, size_t nh, struct store_outside *out, char *err,
               size_t errlen)
{
	struct selector_sql q = SELECTOR_SQL_INIT;
	struct db_rows rows = DB_ROWS_INIT;
	struct strbuf sql = STRBUF_INIT;
	struct db_arg *args = NULL;
	int rc = CMDB_ENOMEM;

	if ((rc = selector_sql(sel, column, &q)))
		goto out;
	rc = CMDB_ENOMEM;
	strbuf_addf(&sql, "%s AND NOT (%s) ORDER BY %s LIMIT %d", head, q.text.buf, column,
	            STORE_SCOPE_SHOWN);
	args = calloc(nh + q.nparams + 1, sizeof(*args));
	if (sql.failed || q.text.failed || !args)
		goto out;
	memcpy(args, hargs, nh * sizeof(*args));
	for (size_t i = 0; i < q.nparams; i++)
		args[nh + i] = DB_STR(q.params[i]);
	rc = db_query(c, sql.buf, args, nh + q.nparams, &rows, err, errlen);
	if (rc == 0)
		merge(out, &rows);
out:
	db_rows_free(&rows);
	strbuf_free(&sql);
	selector_sql_free(&q);
	free(args);
	return rc;
}

int store_nodes_outside_scope(struct db_conn *c, const struct selector *sel, const int64_t *ids,
                              size_t n, struct store_outside *out, char *err, size_t errlen)
{
	struct db_arg *args = calloc(SCOPE_CHUNK, sizeof(*args));
	struct strbuf head = STRBUF_INIT;
	int rc = CMDB_ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!args)
		goto out;
	for (size_t at = 0; at < n; at += SCOPE_CHUNK) {
		size_t k = n - at < SCOPE_CHUNK ? n - at : SCOPE_CHUNK;

		strbuf_reset(&head);
		strbuf_adds(&head, "SELECT n.id, COUNT(*) OVER () FROM nodes n WHERE n.id IN (");
		store_add_placeholders(&head, k);
		strbuf_adds(&head, ")");
		if (head.failed) {
			rc = CMDB_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < k; i++)
			args[i] = DB_I64(ids[at + i]);
		if ((rc = run(c, sel, "n.id", head.buf, args, k, out, err, errlen)))
			goto out;
	}
	rc = 0;
out:
	strbuf_free(&head);
	free(args);
	return rc;
}

int store_release_outside_scope(struct db_conn *c, const struct selector *sel, int64_t release_id,
                                struct store_outside *out, char *err, size_t errlen)
{
	struct db_arg arg = DB_I64(release_id);

	memset(out, 0, sizeof(*out));
	return run(c, sel, "rn.node_id",
	           "SELECT rn.node_id, COUNT(*) OVER () FROM release_task_nodes rn"
	           " WHERE rn.release_task_id = ?",
	           &arg, 1, out, err, errlen);
}
