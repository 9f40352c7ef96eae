/*
 * db/stmt: prepared statements with bound parameters (db_exec, db_query), the statements
 * a connection keeps prepared by their text (DB_STMT_CACHE), and result sets as strings.
 */
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "db/db.h"
#include "db/db_internal.h"

#define CELL_BUF_MIN 64
#define CELL_BUF_MAX 65536

static void drop_cached(struct db_cached_stmt *e)
{
	mysql_stmt_close(e->stmt);
	free(e->sql);
	*e = (struct db_cached_stmt){0};
}

void db_stmts_drop(struct db_conn *c)
{
	for (size_t i = 0; i < DB_STMT_CACHE; i++)
		if (c->cache[i].sql)
			drop_cached(&c->cache[i]);
}

/* FNV-1a: the texts of one kind differ only in how many rows they group, deep inside. */
static uint64_t text_hash(const char *s, size_t *len)
{
	uint64_t h = 14695981039346656037ULL;
	const char *p = s;

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	*len = (size_t)(p - s);
	return h;
}

/*
 * The prepared statement for sql: from the cache, or prepared now and cached (evicting
 * the least recently used). NULL with *rc set when it cannot be prepared.
 */
static MYSQL_STMT *statement(struct db_conn *c, const char *sql, int *rc, char *err, size_t errlen)
{
	struct db_cached_stmt *slot = &c->cache[0];
	uint64_t hash = 0;
	size_t len;
	MYSQL_STMT *st;
	char *copy;

	if (c->keep_stmts)
		hash = text_hash(sql, &len);
	else
		len = strlen(sql);
	for (size_t i = 0; c->keep_stmts && i < DB_STMT_CACHE; i++) {
		struct db_cached_stmt *e = &c->cache[i];

		if (e->sql && e->hash == hash && e->len == len && memcmp(e->sql, sql, len) == 0) {
			e->last_use = ++c->cache_clock;
			return e->stmt;
		}
		if (slot->sql && (!e->sql || e->last_use < slot->last_use))
			slot = e;
	}
	if (c->keep_stmts && slot->sql)
		drop_cached(slot); /* before the new one, which may need its place on the server */
	for (int again = 1;; again = 0) {
		st = mysql_stmt_init(c->mysql);
		if (!st) {
			*rc = db_conn_error(c, err, errlen);
			return NULL;
		}
		c->prepares++;
		if (mysql_stmt_prepare(st, sql, len) == 0)
			break;
		/*
		 * The server's max_prepared_stmt_count is shared by every client: when it is
		 * reached, a connection that keeps statements gives them up and tries once more.
		 */
		if (again && c->keep_stmts &&
		    mysql_stmt_errno(st) == ER_MAX_PREPARED_STMT_COUNT_REACHED) {
			mysql_stmt_close(st);
			db_stmts_drop(c);
			continue;
		}
		*rc = db_stmt_error(c, st, err, errlen);
		mysql_stmt_close(st);
		return NULL;
	}
	if (!c->keep_stmts || !(copy = strdup(sql))) /* not cached: finish() closes it */
		return st;
	*slot = (struct db_cached_stmt){
	    .sql = copy, .len = len, .hash = hash, .stmt = st, .last_use = ++c->cache_clock};
	return st;
}

/* The cache entry of st, or NULL when st is not cached. */
static struct db_cached_stmt *cached(struct db_conn *c, MYSQL_STMT *st)
{
	for (size_t i = 0; c->keep_stmts && i < DB_STMT_CACHE; i++)
		if (c->cache[i].sql && c->cache[i].stmt == st)
			return &c->cache[i];
	return NULL;
}

/*
 * Done with st: a cached statement is kept for the next use (its result set freed), or,
 * after a failure (failed), closed with it, as its state on the server is not known.
 */
static void finish(struct db_conn *c, MYSQL_STMT *st, int failed)
{
	struct db_cached_stmt *e = cached(c, st);

	if (!e)
		mysql_stmt_close(st);
	else if (failed || mysql_stmt_free_result(st))
		drop_cached(e);
}

/* Prepares sql (or takes it from the cache), binds args and executes it. */
static MYSQL_STMT *prepare(struct db_conn *c, const char *sql, const struct db_arg *args,
                           size_t nargs, MYSQL_BIND *binds, unsigned long *lens, int *rc, char *err,
                           size_t errlen)
{
	MYSQL_STMT *st;

	if (!c->mysql) {
		*rc = db_closed(c, err, errlen);
		return NULL;
	}
	c->statements++;
	st = statement(c, sql, rc, err, errlen);
	if (!st)
		return NULL;
	if (mysql_stmt_param_count(st) != nargs) {
		snprintf(err, errlen, "database: statement wants %lu arguments, got %zu",
		         mysql_stmt_param_count(st), nargs);
		*rc = CMDB_ERR;
		finish(c, st, 1);
		return NULL;
	}
	memset(binds, 0, sizeof(*binds) * nargs);
	for (size_t i = 0; i < nargs; i++) {
		switch (args[i].type) {
		case DB_ARG_I64:
			binds[i].buffer_type = MYSQL_TYPE_LONGLONG;
			binds[i].buffer = (void *)&args[i].i;
			break;
		case DB_ARG_STR:
			lens[i] = strlen(args[i].s);
			binds[i].buffer_type = MYSQL_TYPE_STRING;
			binds[i].buffer = (void *)args[i].s;
			binds[i].buffer_length = lens[i];
			binds[i].length = &lens[i];
			break;
		case DB_ARG_NULL:
			binds[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	if (nargs && mysql_stmt_bind_param(st, binds))
		goto fail;
	if (mysql_stmt_execute(st))
		goto fail;
	return st;
fail:
	*rc = db_stmt_error(c, st, err, errlen);
	finish(c, st, 1);
	return NULL;
}

static int alloc_binds(size_t nargs, MYSQL_BIND **binds, unsigned long **lens, char *err,
                       size_t errlen)
{
	if (nargs > DB_MAX_ARGS) {
		snprintf(err, errlen, "database: too many arguments (%zu)", nargs);
		return CMDB_ERR;
	}
	*binds = calloc(nargs ? nargs : 1, sizeof(**binds));
	*lens = calloc(nargs ? nargs : 1, sizeof(**lens));
	if (!*binds || !*lens) {
		free(*binds);
		free(*lens);
		snprintf(err, errlen, "database: out of memory");
		return CMDB_ENOMEM;
	}
	return 0;
}

/*
 * Runs sql with args: the executed statement, for finish(), or NULL with *rc set. The
 * parameters are read by the execution only: their buffers go right after it.
 */
static MYSQL_STMT *execute(struct db_conn *c, const char *sql, const struct db_arg *args,
                           size_t nargs, int *rc, char *err, size_t errlen)
{
	MYSQL_BIND *binds;
	unsigned long *lens;
	MYSQL_STMT *st;

	*rc = alloc_binds(nargs, &binds, &lens, err, errlen);
	if (*rc)
		return NULL;
	st = prepare(c, sql, args, nargs, binds, lens, rc, err, errlen);
	free(binds);
	free(lens);
	return st;
}

int db_exec(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
            uint64_t *affected, uint64_t *insert_id, char *err, size_t errlen)
{
	int rc = 0;
	MYSQL_STMT *st = execute(c, sql, args, nargs, &rc, err, errlen);

	if (!st)
		rc = db_settle(c, rc, err, errlen);
	/* Outside a transaction the write may have been done before the connection went. */
	if (!st && rc == CMDB_EDBDOWN && !c->in_tx)
		c->unsure = 1;
	if (st) {
		if (affected)
			*affected = mysql_stmt_affected_rows(st);
		if (insert_id)
			*insert_id = mysql_stmt_insert_id(st);
		finish(c, st, 0);
		rc = 0;
	}
	return rc;
}

/* Where one row of a result set is fetched to: a buffer per column, sized by its metadata. */
struct row_buf {
	size_t ncols;
	MYSQL_BIND *rb;
	unsigned long *lens;
	my_bool *nulls;
	char **bufs;
};

static void row_buf_free(struct row_buf *b)
{
	if (b->bufs)
		for (size_t i = 0; i < b->ncols; i++)
			free(b->bufs[i]);
	free(b->bufs);
	free(b->rb);
	free(b->lens);
	free(b->nulls);
}

/* 0, or CMDB_ENOMEM; row_buf_free releases what was made either way. */
static int row_buf_init(struct row_buf *b, MYSQL_RES *meta)
{
	b->ncols = mysql_num_fields(meta);
	b->rb = calloc(b->ncols, sizeof(*b->rb));
	b->lens = calloc(b->ncols, sizeof(*b->lens));
	b->nulls = calloc(b->ncols, sizeof(*b->nulls));
	b->bufs = calloc(b->ncols, sizeof(*b->bufs));
	if (!b->rb || !b->lens || !b->nulls || !b->bufs)
		return CMDB_ENOMEM;
	for (size_t i = 0; i < b->ncols; i++) {
		MYSQL_FIELD *fd = mysql_fetch_field_direct(meta, (unsigned int)i);
		size_t n = fd->length < CELL_BUF_MIN ? CELL_BUF_MIN : fd->length;

		if (n > CELL_BUF_MAX)
			n = CELL_BUF_MAX;
		b->bufs[i] = malloc(n + 1);
		if (!b->bufs[i])
			return CMDB_ENOMEM;
		b->rb[i].buffer_type = MYSQL_TYPE_STRING;
		b->rb[i].buffer = b->bufs[i];
		b->rb[i].buffer_length = n;
		b->rb[i].length = &b->lens[i];
		b->rb[i].is_null = &b->nulls[i];
	}
	return 0;
}

/*
 * Appends the row just fetched into b to out (cap: its room, in rows). A cell longer than
 * its buffer is fetched again whole. Cells not copied yet stay NULL, for db_rows_free.
 */
static int copy_row(struct db_conn *c, MYSQL_STMT *st, const struct row_buf *b, struct db_rows *out,
                    size_t *cap, char *err, size_t errlen)
{
	size_t ncols = b->ncols;
	char **cells;

	if (out->nrows == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		cells = realloc(out->cells, *cap * ncols * sizeof(*cells));
		if (!cells)
			return CMDB_ENOMEM;
		out->cells = cells;
	}
	cells = out->cells + out->nrows * ncols;
	out->nrows++;
	for (size_t i = 0; i < ncols; i++)
		cells[i] = NULL;
	for (size_t i = 0; i < ncols; i++) {
		if (b->nulls[i])
			continue;
		cells[i] = malloc(b->lens[i] + 1);
		if (!cells[i])
			return CMDB_ENOMEM;
		if (b->lens[i] <= b->rb[i].buffer_length) {
			memcpy(cells[i], b->bufs[i], b->lens[i]);
		} else {
			MYSQL_BIND one = {0};

			one.buffer_type = MYSQL_TYPE_STRING;
			one.buffer = cells[i];
			one.buffer_length = b->lens[i];
			if (mysql_stmt_fetch_column(st, &one, (unsigned int)i, 0))
				return db_stmt_error(c, st, err, errlen);
		}
		cells[i][b->lens[i]] = '\0';
	}
	return 0;
}

/* Stores every row of st's result set in out (see db_query). */
static int fetch_rows(struct db_conn *c, MYSQL_STMT *st, struct db_rows *out, char *err,
                      size_t errlen)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	struct row_buf b = {0};
	size_t cap = 0;
	int rc, f;

	if (!meta) {
		snprintf(err, errlen, "database: statement returned no result set");
		return CMDB_ERR;
	}
	rc = row_buf_init(&b, meta);
	if (rc)
		goto out;
	if (mysql_stmt_bind_result(st, b.rb) || mysql_stmt_store_result(st)) {
		rc = db_stmt_error(c, st, err, errlen);
		goto out;
	}
	out->ncols = b.ncols;
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		rc = copy_row(c, st, &b, out, &cap, err, errlen);
		if (rc)
			goto out;
	}
	if (f != MYSQL_NO_DATA)
		rc = db_stmt_error(c, st, err, errlen);
out:
	if (rc == CMDB_ENOMEM)
		snprintf(err, errlen, "database: out of memory");
	row_buf_free(&b);
	mysql_free_result(meta);
	return rc;
}

int db_query(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
             struct db_rows *out, char *err, size_t errlen)
{
	int rc = 0;

	for (int again = !c->in_tx && c->cfg;; again = 0) {
		MYSQL_STMT *st = execute(c, sql, args, nargs, &rc, err, errlen);

		if (st) {
			rc = fetch_rows(c, st, out, err, errlen);
			finish(c, st, rc != 0);
			if (rc)
				db_rows_free(out);
		}
		rc = db_settle(c, rc, err, errlen);
		/* A read changed nothing: on a lost connection, it runs once more elsewhere. */
		if (rc != CMDB_EDBDOWN || !again || db_reconnect(c, err, errlen))
			break;
	}
	return rc;
}

void db_rows_free(struct db_rows *rows)
{
	for (size_t i = 0; i < rows->nrows * rows->ncols; i++)
		free(rows->cells[i]);
	free(rows->cells);
	rows->cells = NULL;
	rows->nrows = 0;
	rows->ncols = 0;
}

int64_t db_cell_i64(const struct db_rows *r, size_t row, size_t col)
{
	int64_t v;

	if (parse_int64(db_cell(r, row, col), INT64_MIN, INT64_MAX, &v))
		return 0;
	return v;
}
