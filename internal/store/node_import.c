/*
 * store/node_import: POST /api/v1/nodes/import: up to 10,000 nodes in one transaction.
 * The known ones are found by their address (ip, agent_port) and locked; what each item
 * does is decided in memory (create, update, or nothing), then written a chunk of rows
 * per statement, and recorded in node_imports so that its Idempotency-Key replays it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/nodes.h"
#include "store/store_internal.h"

/* Nodes per grouped UPDATE (5 parameters each). */
#define WRITE_CHUNK 800
_Static_assert(WRITE_CHUNK * 5 + 2 <= DB_MAX_ARGS, "a chunk's parameters fit one statement");

/* A registered node at the address of an item. */
struct known {
	char ip[STORE_IP_LEN];
	int port;
	int64_t id;
	char hostname[STORE_HOSTNAME_LEN];
	enum node_health status;
};

static const struct store_col known_cols[] = {
    STORE_COL(COL_STR, struct known, ip),        STORE_COL(COL_INT, struct known, port),
    STORE_COL(COL_I64, struct known, id),        STORE_COL(COL_STR, struct known, hostname),
    STORE_COL(COL_HEALTH, struct known, status),
};

#define NKNOWN_COLS (sizeof(known_cols) / sizeof(known_cols[0]))

/* One import in the making: the items' fate, and the rows already known. */
struct job {
	const struct inventory *inv;
	struct known *known; /* sorted by address */
	size_t nknown;
	const struct known **match; /* per item: its registered node, or NULL */
	char *change;               /* per item: 'c', 'u' or 'n' */
	int64_t *ids;               /* per item: its node */
};

static int cmp_known(const void *a, const void *b)
{
	const struct known *x = a, *y = b;
	int c = strcmp(x->ip, y->ip);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

/* Appends the registered nodes at the ips of items [at, at + k) to j->known. */
static int find_chunk(struct db_conn *c, struct job *j, size_t at, size_t k, int lock,
                      struct db_arg *args, char *err, size_t errlen)
{
	struct strbuf sql = STRBUF_INIT;
	struct db_rows rows = DB_ROWS_INIT;
	struct known *grown;
	int rc;

	strbuf_adds(&sql, "SELECT ip, agent_port, id, hostname, status FROM nodes WHERE ip IN (");
	store_add_placeholders(&sql, k);
	strbuf_adds(&sql, lock ? ") FOR UPDATE" : ")");
	for (size_t i = 0; i < k; i++)
		args[i] = DB_STR(j->inv->nodes[at + i].ip);
	rc = sql.failed ? CMDB_ENOMEM : db_query(c, sql.buf, args, k, &rows, err, errlen);
	strbuf_free(&sql);
	if (rc)
		return rc;
	grown =
	    rows.nrows ? realloc(j->known, (j->nknown + rows.nrows) * sizeof(*grown)) : j->known;
	if (rows.nrows && !grown) {
		db_rows_free(&rows);
		return CMDB_ENOMEM;
	}
	j->known = grown;
	for (size_t i = 0; i < rows.nrows; i++) {
		memset(&j->known[j->nknown], 0, sizeof(*grown));
		store_map_row(&rows, i, known_cols, NKNOWN_COLS, &j->known[j->nknown++]);
	}
	db_rows_free(&rows);
	return 0;
}

/*
 * Finds the registered node of every item (lock: and locks it for the rest of the
 * transaction), in j->match; items without one have NULL.
 */
static int find_known(struct db_conn *c, struct job *j, int lock, char *err, size_t errlen)
{
	struct db_arg *args = calloc(STORE_LOOKUP_CHUNK, sizeof(*args));
	size_t n = j->inv->n;
	int rc = args ? 0 : CMDB_ENOMEM;

	free(j->known);
	j->known = NULL;
	j->nknown = 0;
	for (size_t at = 0; at < n && rc == 0; at += STORE_LOOKUP_CHUNK)
		rc = find_chunk(c, j, at, n - at < STORE_LOOKUP_CHUNK ? n - at : STORE_LOOKUP_CHUNK,
		                lock, args, err, errlen);
	free(args);
	if (rc)
		return rc;
	if (j->nknown)
		qsort(j->known, j->nknown, sizeof(*j->known), cmp_known);
	for (size_t i = 0; i < n; i++) {
		struct known key = {.port = j->inv->nodes[i].agent_port};

		str_copy(key.ip, j->inv->nodes[i].ip, sizeof(key.ip));
		j->match[i] = j->nknown
		                  ? bsearch(&key, j->known, j->nknown, sizeof(*j->known), cmp_known)
		                  : NULL;
	}
	return 0;
}

/* Create mode: every item at a registered address is an error; CMDB_EINVAL when any. */
static int refuse_known(const struct job *j, struct inventory_report *r)
{
	for (size_t i = 0; i < j->inv->n; i++) {
		const struct inventory_node *x = &j->inv->nodes[i];

		if (j->match[i])
			inventory_report_item(r, i,
			                      "ip %s and agent_port %d are those of node %lld (%s)"
			                      " already; use \"mode\": \"upsert\" to update it",
			                      x->ip, x->agent_port, (long long)j->match[i]->id,
			                      j->match[i]->hostname);
	}
	if (r->nbad == 0)
		return 0;
	snprintf(r->msg, sizeof(r->msg),
	         "%zu of %zu nodes are registered already (mode create); nothing was written",
	         r->nbad, j->inv->n);
	return CMDB_EINVAL;
}

/* Whether each known item changes its node: 'u' or 'n' (labels read for the comparison). */
static int decide_updates(struct db_conn *c, struct job *j, char *err, size_t errlen)
{
	int64_t *ids = calloc(j->nknown ? j->nknown : 1, sizeof(*ids));
	struct labels *sets = calloc(j->nknown ? j->nknown : 1, sizeof(*sets));
	int rc = ids && sets ? 0 : CMDB_ENOMEM;

	/* Ids ascending for the read: j->known is sorted by address, not by id. */
	for (size_t i = 0; rc == 0 && i < j->nknown; i++)
		ids[i] = j->known[i].id;
	if (rc == 0 && j->nknown) {
		qsort(ids, j->nknown, sizeof(*ids), store_cmp_i64);
		rc = store_labels_read(c, ids, j->nknown, sets, err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < j->inv->n; i++) {
		const struct inventory_node *x = &j->inv->nodes[i];
		const struct known *k = j->match[i];
		const int64_t *at;

		if (!k)
			continue;
		j->ids[i] = k->id;
		at = bsearch(&k->id, ids, j->nknown, sizeof(*ids), store_cmp_i64);
		j->change[i] = strcmp(x->hostname, k->hostname) != 0 ||
		                       (x->status >= 0 && x->status != (int)k->status) ||
		                       (x->has_labels && !labels_equal(&x->labels, &sets[at - ids]))
		                   ? 'u'
		                   : 'n';
	}
	for (size_t i = 0; sets && i < j->nknown; i++)
		labels_free(&sets[i]);
	free(ids);
	free(sets);
	return rc;
}

/* One grouped UPDATE of the updated items in [*at, ...): hostname and status by id. */
static int update_chunk(struct db_conn *c, const struct job *j, size_t *at, const char *principal,
                        struct db_arg *args, char *err, size_t errlen)
{
	struct strbuf host = STRBUF_INIT, status = STRBUF_INIT, in = STRBUF_INIT, sql = STRBUF_INIT;
	size_t k = 0, nargs = 0, *pick = calloc(WRITE_CHUNK, sizeof(*pick));
	int rc;

	if (!pick)
		return CMDB_ENOMEM;
	for (; *at < j->inv->n && k < WRITE_CHUNK; (*at)++)
		if (j->change[*at] == 'u')
			pick[k++] = *at;
	for (size_t i = 0; i < k; i++) {
		const struct inventory_node *x = &j->inv->nodes[pick[i]];

		strbuf_adds(&host, " WHEN ? THEN ?");
		args[nargs++] = DB_I64(j->ids[pick[i]]);
		args[nargs++] = DB_STR(x->hostname);
	}
	for (size_t i = 0; i < k; i++) {
		const struct inventory_node *x = &j->inv->nodes[pick[i]];
		int st = x->status >= 0 ? x->status : (int)j->match[pick[i]]->status;

		strbuf_adds(&status, " WHEN ? THEN ?");
		args[nargs++] = DB_I64(j->ids[pick[i]]);
		args[nargs++] = STORE_ARG_HEALTH((enum node_health)st);
	}
	args[nargs++] = DB_STR(principal);
	for (size_t i = 0; i < k; i++)
		args[nargs++] = DB_I64(j->ids[pick[i]]);
	store_add_placeholders(&in, k);
	strbuf_addf(&sql,
	            "UPDATE nodes SET hostname = CASE id%s END, status = CASE id%s END,"
	            " updated_at = UTC_TIMESTAMP(3), updated_by = ? WHERE id IN (%s)",
	            host.buf, status.buf, in.buf);
	rc = !k ? 0
	     : sql.failed || host.failed || status.failed || in.failed
	         ? CMDB_ENOMEM
	         : db_exec(c, sql.buf, args, nargs, NULL, NULL, err, errlen);
	strbuf_free(&host);
	strbuf_free(&status);
	strbuf_free(&in);
	strbuf_free(&sql);
	free(pick);
	return rc;
}

/* The labels of the items (of change ch) that gave them, in place of their nodes' sets. */
static int write_labels(struct db_conn *c, const struct job *j, char ch, int replace, char *err,
                        size_t errlen)
{
	int64_t *ids = calloc(j->inv->n, sizeof(*ids));
	const struct labels **sets = calloc(j->inv->n, sizeof(*sets));
	size_t k = 0;
	int rc = ids && sets ? 0 : CMDB_ENOMEM;

	for (size_t i = 0; rc == 0 && i < j->inv->n; i++) {
		if (j->change[i] != ch || !j->inv->nodes[i].has_labels)
			continue;
		ids[k] = j->ids[i];
		sets[k++] = &j->inv->nodes[i].labels;
	}
	if (rc == 0 && replace)
		rc = store_labels_delete(c, ids, k, err, errlen);
	if (rc == 0)
		rc = store_labels_insert(c, ids, sets, k, err, errlen);
	free(ids);
	free(sets);
	return rc;
}

/* What fill_new writes: the items that have no node yet ('c'), by their index. */
struct new_rows {
	const struct job *j;
	const size_t *pick;
	const char *principal;
};

static void fill_new(const void *ctx, size_t i, struct db_arg *a)
{
	const struct new_rows *r = ctx;
	const struct inventory_node *x = &r->j->inv->nodes[r->pick[i]];

	a[0] = DB_STR(x->hostname);
	a[1] = DB_STR(x->ip);
	a[2] = DB_I64(x->agent_port);
	a[3] = STORE_ARG_HEALTH(x->status >= 0 ? (enum node_health)x->status : NODE_ONLINE);
	a[4] = DB_STR(r->principal);
}

/* Inserts the items that have no node yet, a chunk of rows per statement. */
static int insert_new(struct db_conn *c, const struct job *j, const char *principal, char *err,
                      size_t errlen)
{
	size_t *pick = calloc(j->inv->n ? j->inv->n : 1, sizeof(*pick)), k = 0;
	int rc;

	if (!pick)
		return CMDB_ENOMEM;
	for (size_t i = 0; i < j->inv->n; i++)
		if (j->change[i] == 'c')
			pick[k++] = i;
	rc = store_insert_rows(c,
	                       "INSERT INTO nodes (hostname, ip, agent_port, status, created_at,"
	                       " updated_at, created_by) VALUES ",
	                       "(?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), ?)", 5, k, fill_new,
	                       &(struct new_rows){j, pick, principal}, err, errlen);
	free(pick);
	return rc;
}

/* The record of the import, its items as "<id><change>" joined by commas. */
static int record(struct db_conn *c, const struct job *j, const struct node_import_result *res,
                  const char *principal, uint64_t *id, char *err, size_t errlen)
{
	struct strbuf items = STRBUF_INIT;
	struct db_arg args[7];
	int rc;

	strbuf_grow(&items, j->inv->n * 12);
	for (size_t i = 0; i < j->inv->n; i++)
		strbuf_addf(&items, "%s%lld%c", i ? "," : "", (long long)j->ids[i], j->change[i]);
	args[0] = DB_STR(res->mode == INVENTORY_UPSERT ? "upsert" : "create");
	args[1] = DB_I64((int64_t)j->inv->n);
	args[2] = DB_I64(res->created);
	args[3] = DB_I64(res->updated);
	args[4] = DB_I64(res->unchanged);
	args[5] = DB_STR(items.buf);
	args[6] = DB_STR(principal);
	rc = items.failed ? CMDB_ENOMEM
	                  : db_exec(c,
	                            "INSERT INTO node_imports (mode, total, created, updated,"
	                            " unchanged, items, created_by, created_at)"
	                            " VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))",
	                            args, 7, NULL, id, err, errlen);
	strbuf_free(&items);
	return rc;
}

/* Reads import id (a replay): its counts, and its items back into ids and changes. */
static int load_import(struct db_conn *c, int64_t id, struct node_import_result *out, char *err,
                       size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	const char *p;
	size_t total;
	int rc;

	rc = db_query(c,
	              "SELECT mode, total, created, updated, unchanged, items FROM node_imports"
	              " WHERE id = ?",
	              &arg, 1, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0 || !db_cell(&rows, 0, 5) || db_cell_i64(&rows, 0, 1) <= 0) {
		snprintf(err, errlen, "import %lld is not recorded", (long long)id);
		db_rows_free(&rows);
		return CMDB_ERR;
	}
	total = (size_t)db_cell_i64(&rows, 0, 1);
	out->import_id = id;
	out->mode =
	    strcmp(db_cell(&rows, 0, 0), "upsert") == 0 ? INVENTORY_UPSERT : INVENTORY_CREATE;
	out->created = (int)db_cell_i64(&rows, 0, 2);
	out->updated = (int)db_cell_i64(&rows, 0, 3);
	out->unchanged = (int)db_cell_i64(&rows, 0, 4);
	out->ids = calloc(total, sizeof(*out->ids));
	out->changes = calloc(total, 1);
	rc = out->ids && out->changes ? 0 : CMDB_ENOMEM;
	for (p = db_cell(&rows, 0, 5); rc == 0 && out->n < total; out->n++) {
		char *end;
		long long v = strtoll(p, &end, 10);

		if (end == p || v <= 0 || !strchr("cun", *end) || !*end ||
		    (end[1] != ',' && end[1] != '\0')) {
			snprintf(err, errlen, "import %lld: its items are malformed",
			         (long long)id);
			rc = CMDB_ERR;
			break;
		}
		out->ids[out->n] = v;
		out->changes[out->n] = *end;
		p = end[1] ? end + 2 : end + 1;
	}
	db_rows_free(&rows);
	return rc;
}

/* Everything an import writes, once it is known what each item does. */
static int write_all(struct db_conn *c, struct job *j, const char *principal, char *err,
                     size_t errlen)
{
	struct db_arg *args = calloc(WRITE_CHUNK * 5 + 2, sizeof(*args));
	int rc = args ? 0 : CMDB_ENOMEM;

	for (size_t at = 0; rc == 0 && at < j->inv->n;)
		rc = update_chunk(c, j, &at, principal, args, err, errlen);
	if (rc == 0)
		rc = write_labels(c, j, 'u', 1, err, errlen);
	if (rc == 0)
		rc = insert_new(c, j, principal, err, errlen);
	/* The new rows' ids, by their addresses (ids need not be consecutive on Galera). */
	if (rc == 0)
		rc = find_known(c, j, 0, err, errlen);
	for (size_t i = 0; rc == 0 && i < j->inv->n; i++) {
		if (j->change[i] != 'c')
			continue;
		if (!j->match[i]) {
			snprintf(err, errlen, "item %zu was inserted but is not found", i);
			rc = CMDB_ERR;
		} else {
			j->ids[i] = j->match[i]->id;
		}
	}
	if (rc == 0)
		rc = write_labels(c, j, 'c', 0, err, errlen);
	free(args);
	return rc;
}

static void job_free(struct job *j)
{
	free(j->known);
	free(j->match);
	free(j->change);
	free(j->ids);
}

static int import_once(struct db_conn *c, const struct inventory *inv,
                       const struct store_idem *idem, struct node_import_result *out, int *replayed,
                       struct inventory_report *r, char *err, size_t errlen)
{
	struct job j = {.inv = inv};
	int64_t seen = 0;
	uint64_t id = 0;
	int rc;

	store_node_import_free(out);
	*replayed = 0;
	memset(r, 0, sizeof(*r));
	j.match = calloc(inv->n ? inv->n : 1, sizeof(*j.match));
	j.change = calloc(inv->n ? inv->n : 1, 1);
	j.ids = calloc(inv->n ? inv->n : 1, sizeof(*j.ids));
	if (!j.match || !j.change || !j.ids) {
		job_free(&j);
		return CMDB_ENOMEM;
	}
	rc = db_begin(c, err, errlen);
	if (rc)
		goto out;
	if (idem->key) {
		rc = store_idem_claim(c, "imports", idem, &seen, err, errlen);
		if (rc == 1) {
			db_rollback(c);
			*replayed = 1;
			rc = load_import(c, seen, out, err, errlen);
			goto out;
		}
		if (rc)
			goto fail;
	}
	rc = find_known(c, &j, 1, err, errlen);
	if (rc == 0 && inv->mode == INVENTORY_CREATE)
		rc = refuse_known(&j, r);
	for (size_t i = 0; i < inv->n; i++)
		j.change[i] = 'c';
	if (rc == 0)
		rc = decide_updates(c, &j, err, errlen);
	out->mode = inv->mode;
	for (size_t i = 0; i < inv->n; i++) {
		out->created += j.change[i] == 'c';
		out->updated += j.change[i] == 'u';
		out->unchanged += j.change[i] == 'n';
	}
	if (rc == 0)
		rc = write_all(c, &j, idem->principal, err, errlen);
	if (rc == 0)
		rc = record(c, &j, out, idem->principal, &id, err, errlen);
	if (rc == 0 && idem->key)
		rc = store_idem_bind(c, "imports", idem, (int64_t)id, err, errlen);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc)
		goto fail;
	out->import_id = (int64_t)id;
	out->n = inv->n;
	out->ids = j.ids;
	out->changes = j.change;
	j.ids = NULL;
	j.change = NULL;
	goto out;
fail:
	db_rollback(c);
out:
	if (rc)
		store_node_import_free(out);
	job_free(&j);
	return rc;
}

void store_node_import_free(struct node_import_result *res)
{
	free(res->ids);
	free(res->changes);
	memset(res, 0, sizeof(*res));
}

int store_node_import(struct db_conn *c, const struct inventory *inv, const struct store_idem *idem,
                      struct node_import_result *out, int *replayed, struct inventory_report *r,
                      char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	/* With its key, an import whose COMMIT was lost finds the key and replays. */
	STORE_RETRY_IF(c, rc, err, idem->key != NULL,
	               import_once(c, inv, idem, out, replayed, r, err, errlen));
	return rc;
}
