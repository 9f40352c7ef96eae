/*
 * db: prepared statements over MariaDB Connector/C, result sets copied into plain
 * strings, error classification, transactions and a connection pool.
 */
#include "db/db.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics/metrics.h"

#define CELL_BUF_MIN 64
#define CELL_BUF_MAX 65536

int db_global_init(void)
{
	return mysql_library_init(0, NULL, NULL) ? CMDB_ERR : 0;
}

void db_global_cleanup(void)
{
	mysql_library_end();
}

static int is_connection_error(unsigned int code)
{
	switch (code) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_COMMANDS_OUT_OF_SYNC:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case ER_QUERY_INTERRUPTED:
		return 1;
	default:
		return 0;
	}
}

/* Maps a connector error to our codes and marks the connection broken when it is. */
static int classify(struct db_conn *c, unsigned int code, const char *msg, char *err, size_t errlen)
{
	if (err)
		snprintf(err, errlen, "database: %s (%u)", msg, code);
	metrics_db_error(code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT);
	if (is_connection_error(code)) {
		c->broken = 1;
		return CMDB_EDBDOWN;
	}
	if (code == ER_DUP_ENTRY)
		return CMDB_ECONFLICT;
	/* The server rolled the transaction back (or must): the connection is fine. */
	if (code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT)
		return CMDB_ERETRY;
	return CMDB_ERR;
}

static int conn_error(struct db_conn *c, char *err, size_t errlen)
{
	return classify(c, mysql_errno(c->mysql), mysql_error(c->mysql), err, errlen);
}

static int stmt_error(struct db_conn *c, MYSQL_STMT *st, char *err, size_t errlen)
{
	return classify(c, mysql_stmt_errno(st), mysql_stmt_error(st), err, errlen);
}

int db_connect(struct db_conn *c, const struct db_config *cfg, char *err, size_t errlen)
{
	unsigned int connect_timeout = 5, rw_timeout = 60;
	my_bool reconnect = 0;

	c->broken = 0;
	c->mysql = mysql_init(NULL);
	if (!c->mysql) {
		snprintf(err, errlen, "database: out of memory");
		return CMDB_ENOMEM;
	}
	mysql_options(c->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(c->mysql, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(c->mysql, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(c->mysql, MYSQL_OPT_RECONNECT, &reconnect);
	mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(c->mysql, MYSQL_INIT_COMMAND,
	              "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,"
	              "NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
	              "NO_ENGINE_SUBSTITUTION'");
	if (!mysql_real_connect(c->mysql, cfg->socket ? NULL : cfg->host, cfg->user, cfg->password,
	                        cfg->name, cfg->port, cfg->socket, CLIENT_FOUND_ROWS)) {
		unsigned int code = mysql_errno(c->mysql);
		int rc;

		snprintf(err, errlen, "database: connect %s: %s (%u)",
		         cfg->socket ? cfg->socket : cfg->host, mysql_error(c->mysql), code);
		rc = (code >= 2000 && code < 3000) || is_connection_error(code) ? CMDB_EDBDOWN
		                                                                : CMDB_ERR;
		mysql_close(c->mysql);
		c->mysql = NULL;
		return rc;
	}
	return 0;
}

void db_close(struct db_conn *c)
{
	if (c->mysql)
		mysql_close(c->mysql);
	c->mysql = NULL;
}

/* Prepares sql on a new statement handle and binds args. */
static MYSQL_STMT *prepare(struct db_conn *c, const char *sql, const struct db_arg *args,
                           size_t nargs, MYSQL_BIND *binds, unsigned long *lens, int *rc, char *err,
                           size_t errlen)
{
	MYSQL_STMT *st = mysql_stmt_init(c->mysql);

	c->statements++;
	if (!st) {
		*rc = conn_error(c, err, errlen);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)))
		goto fail;
	if (mysql_stmt_param_count(st) != nargs) {
		snprintf(err, errlen, "database: statement wants %lu arguments, got %zu",
		         mysql_stmt_param_count(st), nargs);
		*rc = CMDB_ERR;
		mysql_stmt_close(st);
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
	*rc = stmt_error(c, st, err, errlen);
	mysql_stmt_close(st);
	return NULL;
}

/* Large enough for every statement we write; checked by prepare(). */
#define MAX_ARGS 4096

static int alloc_binds(size_t nargs, MYSQL_BIND **binds, unsigned long **lens, char *err,
                       size_t errlen)
{
	if (nargs > MAX_ARGS) {
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

int db_exec(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
            uint64_t *affected, uint64_t *insert_id, char *err, size_t errlen)
{
	MYSQL_BIND *binds;
	unsigned long *lens;
	MYSQL_STMT *st;
	int rc = alloc_binds(nargs, &binds, &lens, err, errlen);

	if (rc)
		return rc;
	st = prepare(c, sql, args, nargs, binds, lens, &rc, err, errlen);
	if (st) {
		if (affected)
			*affected = mysql_stmt_affected_rows(st);
		if (insert_id)
			*insert_id = mysql_stmt_insert_id(st);
		mysql_stmt_close(st);
		rc = 0;
	}
	free(binds);
	free(lens);
	return rc;
}

static int fetch_rows(struct db_conn *c, MYSQL_STMT *st, struct db_rows *out, char *err,
                      size_t errlen)
{
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	size_t ncols, cap = 0;
	MYSQL_BIND *rb = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL;
	char **bufs = NULL;
	int rc = CMDB_ERR, f;

	if (!meta) {
		snprintf(err, errlen, "database: statement returned no result set");
		return CMDB_ERR;
	}
	ncols = mysql_num_fields(meta);
	rb = calloc(ncols, sizeof(*rb));
	lens = calloc(ncols, sizeof(*lens));
	nulls = calloc(ncols, sizeof(*nulls));
	bufs = calloc(ncols, sizeof(*bufs));
	if (!rb || !lens || !nulls || !bufs)
		goto oom;
	for (size_t i = 0; i < ncols; i++) {
		MYSQL_FIELD *fd = mysql_fetch_field_direct(meta, (unsigned int)i);
		size_t n = fd->length < CELL_BUF_MIN ? CELL_BUF_MIN : fd->length;

		if (n > CELL_BUF_MAX)
			n = CELL_BUF_MAX;
		bufs[i] = malloc(n + 1);
		if (!bufs[i])
			goto oom;
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].buffer = bufs[i];
		rb[i].buffer_length = n;
		rb[i].length = &lens[i];
		rb[i].is_null = &nulls[i];
	}
	if (mysql_stmt_bind_result(st, rb) || mysql_stmt_store_result(st)) {
		rc = stmt_error(c, st, err, errlen);
		goto out;
	}
	out->ncols = ncols;
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		char **cells;

		if (out->nrows == cap) {
			cap = cap ? cap * 2 : 16;
			cells = realloc(out->cells, cap * ncols * sizeof(*cells));
			if (!cells)
				goto oom;
			out->cells = cells;
		}
		cells = out->cells + out->nrows * ncols;
		out->nrows++;
		for (size_t i = 0; i < ncols; i++)
			cells[i] = NULL;
		for (size_t i = 0; i < ncols; i++) {
			if (nulls[i])
				continue;
			cells[i] = malloc(lens[i] + 1);
			if (!cells[i])
				goto oom;
			if (lens[i] <= rb[i].buffer_length) {
				memcpy(cells[i], bufs[i], lens[i]);
			} else {
				MYSQL_BIND one = {0};

				one.buffer_type = MYSQL_TYPE_STRING;
				one.buffer = cells[i];
				one.buffer_length = lens[i];
				if (mysql_stmt_fetch_column(st, &one, (unsigned int)i, 0)) {
					rc = stmt_error(c, st, err, errlen);
					goto out;
				}
			}
			cells[i][lens[i]] = '\0';
		}
	}
	if (f != MYSQL_NO_DATA) {
		rc = stmt_error(c, st, err, errlen);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "database: out of memory");
	rc = CMDB_ENOMEM;
out:
	if (bufs)
		for (size_t i = 0; i < ncols; i++)
			free(bufs[i]);
	free(bufs);
	free(rb);
	free(lens);
	free(nulls);
	mysql_free_result(meta);
	return rc;
}

int db_query(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
             struct db_rows *out, char *err, size_t errlen)
{
	MYSQL_BIND *binds;
	unsigned long *lens;
	MYSQL_STMT *st;
	int rc = alloc_binds(nargs, &binds, &lens, err, errlen);

	if (rc)
		return rc;
	st = prepare(c, sql, args, nargs, binds, lens, &rc, err, errlen);
	if (st) {
		rc = fetch_rows(c, st, out, err, errlen);
		mysql_stmt_close(st);
		if (rc)
			db_rows_release(out);
	}
	free(binds);
	free(lens);
	return rc;
}

void db_rows_release(struct db_rows *rows)
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

int db_exec_raw(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
	c->statements++;
	if (mysql_real_query(c->mysql, sql, strlen(sql)))
		return conn_error(c, err, errlen);
	/* Statements run here return no rows; drain anything the server sent. */
	do {
		MYSQL_RES *res = mysql_store_result(c->mysql);

		if (res)
			mysql_free_result(res);
	} while (mysql_next_result(c->mysql) == 0);
	return 0;
}

int db_begin(struct db_conn *c, char *err, size_t errlen)
{
	return db_exec_raw(c, "START TRANSACTION", err, errlen);
}

int db_commit(struct db_conn *c, char *err, size_t errlen)
{
	c->statements++;
	if (mysql_commit(c->mysql))
		return conn_error(c, err, errlen);
	return 0;
}

void db_rollback(struct db_conn *c)
{
	if (c->mysql && !c->broken && mysql_rollback(c->mysql))
		c->broken = 1;
}

/* ---- pool ---- */

#define POOL_MAX_IDLE      32
#define POOL_PING_AFTER_MS 5000

struct db_pool {
	pthread_mutex_t lock;
	const struct db_config *cfg;
	struct db_conn *idle[POOL_MAX_IDLE];
	size_t nidle;
};

struct db_pool *db_pool_new(const struct db_config *cfg)
{
	struct db_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->cfg = cfg;
	return p;
}

void db_pool_free(struct db_pool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->nidle; i++) {
		db_close(pool->idle[i]);
		free(pool->idle[i]);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

struct db_conn *db_pool_acquire(struct db_pool *pool, int *code, char *err, size_t errlen)
{
	struct db_conn *c = NULL;

	pthread_mutex_lock(&pool->lock);
	if (pool->nidle)
		c = pool->idle[--pool->nidle];
	pthread_mutex_unlock(&pool->lock);
	if (c && now_mono_ms() - c->idle_since > POOL_PING_AFTER_MS && mysql_ping(c->mysql)) {
		db_close(c);
		free(c);
		c = NULL;
	}
	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c) {
		*code = CMDB_ENOMEM;
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	*code = db_connect(c, pool->cfg, err, errlen);
	if (*code) {
		free(c);
		return NULL;
	}
	return c;
}

void db_pool_put(struct db_pool *pool, struct db_conn *c)
{
	if (!c)
		return;
	if (!c->broken) {
		c->idle_since = now_mono_ms();
		pthread_mutex_lock(&pool->lock);
		if (pool->nidle < POOL_MAX_IDLE) {
			pool->idle[pool->nidle++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&pool->lock);
	}
	if (c) {
		db_close(c);
		free(c);
	}
}
