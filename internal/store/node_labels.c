/*
 * store/node_labels: the node_labels table (migration 0008): a node's labels read in key
 * order, checked by the label rules as they come out of the database, and written in
 * multi-row statements for the inventory's writes (nodes.c, node_import.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

_Static_assert(STORE_LOOKUP_CHUNK <= DB_MAX_ARGS, "a lookup's ids fit one statement");

/* "SELECT ... WHERE node_id IN (?, ...)" or "DELETE ..." for k ids from at. */
static int in_ids(struct strbuf *sql, struct db_arg *args, const char *head, const char *tail,
                  const int64_t *ids, size_t k)
{
	strbuf_reset(sql);
	strbuf_adds(sql, head);
	store_add_placeholders(sql, k);
	strbuf_adds(sql, tail);
	for (size_t i = 0; i < k; i++)
		args[i] = DB_I64(ids[i]);
	return sql->failed ? CMDB_ENOMEM : 0;
}

/* Puts the rows (node_id, k, v; by node_id, then k) into the sets of ids[0..n). */
static int take_rows(const struct db_rows *rows, const int64_t *ids, size_t n, struct labels *sets,
                     char *err, size_t errlen)
{
	size_t at = 0;

	for (size_t r = 0; r < rows->nrows; r++) {
		int64_t id = db_cell_i64(rows, r, 0);
		const char *k = db_cell(rows, r, 1), *v = db_cell(rows, r, 2);
		char why[LABELS_ERR_MAX];
		int rc;

		while (at < n && ids[at] < id)
			at++;
		if (at == n || ids[at] != id)
			continue;
		rc = labels_set(&sets[at], k ? k : "", v ? v : "", why, sizeof(why));
		if (rc == CMDB_ENOMEM)
			return rc;
		if (rc) {
			snprintf(err, errlen, "node %lld has a label the rules refuse: %s",
			         (long long)id, why);
			return CMDB_ERR;
		}
	}
	return 0;
}

int store_labels_parse(const char *cell, int64_t id, struct labels *ls, char *err, size_t errlen)
{
	char why[LABELS_ERR_MAX] = "", *copy, *end;
	long long len;
	int rc = 0;

	if (!cell)
		return 0;
	len = strtoll(cell, &end, 10);
	if (end == cell || *end != ':' || len < 0 || (size_t)len != strlen(end + 1)) {
		snprintf(err, errlen,
		         "node %lld: its labels were read cut short (is the server's"
		         " group_concat_max_len below 24576?)",
		         (long long)id);
		return CMDB_ERR;
	}
	if (!(copy = strdup(end + 1)))
		return CMDB_ENOMEM;
	for (char *save = NULL, *kv = strtok_r(copy, ",", &save); kv && rc == 0;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq) {
			rc = CMDB_ERR;
			snprintf(why, sizeof(why), "\"%.64s\" is no key=value", kv);
			break;
		}
		*eq = '\0';
		rc = labels_set(ls, kv, eq + 1, why, sizeof(why));
	}
	free(copy);
	if (rc && rc != CMDB_ENOMEM) {
		snprintf(err, errlen, "node %lld has a label the rules refuse: %s", (long long)id,
		         why);
		rc = CMDB_ERR;
	}
	if (rc)
		labels_free(ls);
	return rc;
}

int store_labels_read(struct db_conn *c, const int64_t *ids, size_t n, struct labels *sets,
                      char *err, size_t errlen)
{
	struct db_arg *args = calloc(STORE_LOOKUP_CHUNK, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	int rc = args ? 0 : CMDB_ENOMEM;

	for (size_t at = 0; at < n && rc == 0; at += STORE_LOOKUP_CHUNK) {
		size_t k = n - at < STORE_LOOKUP_CHUNK ? n - at : STORE_LOOKUP_CHUNK;
		struct db_rows rows = DB_ROWS_INIT;

		rc = in_ids(&sql, args, "SELECT node_id, k, v FROM node_labels WHERE node_id IN (",
		            ") ORDER BY node_id, k", ids + at, k);
		if (rc == 0)
			rc = db_query(c, sql.buf, args, k, &rows, err, errlen);
		if (rc == 0)
			rc = take_rows(&rows, ids + at, k, sets + at, err, errlen);
		db_rows_free(&rows);
	}
	strbuf_free(&sql);
	free(args);
	return rc;
}

/* What fill_label writes: every label of some nodes, one row each (pairs: node, label). */
struct label_rows {
	const int64_t *ids;
	const struct labels *const *sets;
	const size_t (*pairs)[2];
};

static void fill_label(const void *ctx, size_t i, struct db_arg *a)
{
	const struct label_rows *r = ctx;
	const struct label *l = &r->sets[r->pairs[i][0]]->items[r->pairs[i][1]];

	a[0] = DB_I64(r->ids[r->pairs[i][0]]);
	a[1] = DB_STR(l->key);
	a[2] = DB_STR(l->value);
}

int store_labels_insert(struct db_conn *c, const int64_t *ids, const struct labels *const *sets,
                        size_t n, char *err, size_t errlen)
{
	size_t total = 0, k = 0;
	size_t(*pairs)[2];
	int rc;

	for (size_t i = 0; i < n; i++)
		total += sets[i] ? sets[i]->n : 0;
	if (total == 0)
		return 0;
	pairs = calloc(total, sizeof(*pairs));
	if (!pairs)
		return CMDB_ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; sets[i] && j < sets[i]->n; j++) {
			pairs[k][0] = i;
			pairs[k++][1] = j;
		}
	rc = store_insert_rows(c, "INSERT INTO node_labels (node_id, k, v) VALUES ", "(?, ?, ?)", 3,
	                       total, fill_label,
	                       &(struct label_rows){ids, sets, (const size_t(*)[2])pairs}, err,
	                       errlen);
	free(pairs);
	return rc;
}

int store_labels_delete(struct db_conn *c, const int64_t *ids, size_t n, char *err, size_t errlen)
{
	struct db_arg *args = calloc(STORE_LOOKUP_CHUNK, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	int rc = args ? 0 : CMDB_ENOMEM;

	for (size_t at = 0; at < n && rc == 0; at += STORE_LOOKUP_CHUNK) {
		size_t k = n - at < STORE_LOOKUP_CHUNK ? n - at : STORE_LOOKUP_CHUNK;

		rc = in_ids(&sql, args, "DELETE FROM node_labels WHERE node_id IN (", ")", ids + at,
		            k);
		if (rc == 0)
			rc = db_exec(c, sql.buf, args, k, NULL, NULL, err, errlen);
	}
	strbuf_free(&sql);
	free(args);
	return rc;
}
