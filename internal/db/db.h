/*
 * db: MariaDB connections and the only way the rest of the code runs SQL: prepared
 * statements with bound parameters (db_exec, db_query). A small pool hands one
 * connection to each API worker; the executor owns its own. A lost connection is
 * reported as CMDB_EDBDOWN and the connection is thrown away, never silently
 * re-established inside a statement (the connector's auto-reconnect stays off).
 */
#ifndef CMDB_DB_H
#define CMDB_DB_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

struct db_config {
	const char *host; /* used when socket is NULL */
	unsigned int port;
	const char *user;
	const char *password;
	const char *name;
	const char *socket; /* optional unix socket path */
};

struct db_conn {
	MYSQL *mysql;
	int broken;          /* set when an error showed the connection is unusable */
	int64_t idle_since;  /* monotonic ms when the pool got it back */
	uint64_t statements; /* statements sent on this connection, for cost accounting */
};

enum db_arg_type { DB_ARG_I64, DB_ARG_STR, DB_ARG_NULL };

struct db_arg {
	enum db_arg_type type;
	int64_t i;
	const char *s;
};

#define DB_I64(v) ((struct db_arg){.type = DB_ARG_I64, .i = (int64_t)(v)})
#define DB_STR(v) ((struct db_arg){.type = DB_ARG_STR, .s = (v)})
#define DB_NULL   ((struct db_arg){.type = DB_ARG_NULL})
/* A string argument that becomes SQL NULL when v is NULL. */
#define DB_STR_OR_NULL(v) ((v) ? DB_STR(v) : DB_NULL)

/* Rows of a result set as strings; a NULL cell is a NULL pointer. */
struct db_rows {
	size_t nrows;
	size_t ncols;
	char **cells; /* nrows * ncols, row-major; owned, freed by db_rows_release */
};

#define DB_ROWS_INIT                                                                               \
	{                                                                                          \
		0, 0, NULL                                                                         \
	}

/* Call once before any thread starts, and db_global_cleanup once at exit. */
int db_global_init(void);
void db_global_cleanup(void);

/*
 * Opens a connection: utf8mb4, UTC session time zone, strict SQL mode, no
 * auto-reconnect, bounded connect/read/write timeouts. Affected-row counts are
 * rows MATCHED (CLIENT_FOUND_ROWS), so a guarded UPDATE that rewrites the same value
 * (a lease renewed twice in one millisecond) still reports its row. Returns 0, CMDB_EDBDOWN when
 * the server cannot be reached, CMDB_ERR otherwise; err says why (never the password).
 */
int db_connect(struct db_conn *c, const struct db_config *cfg, char *err, size_t errlen);
void db_close(struct db_conn *c);

/*
 * Runs one prepared statement. affected and insert_id may be NULL.
 * Returns 0, CMDB_ECONFLICT on a duplicate key, CMDB_EDBDOWN when the connection was
 * lost (c->broken is then set), CMDB_ERR otherwise.
 */
int db_exec(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
            uint64_t *affected, uint64_t *insert_id, char *err, size_t errlen);

/* Runs a prepared query and stores every row in out (which must be DB_ROWS_INIT). */
int db_query(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
             struct db_rows *out, char *err, size_t errlen);

void db_rows_release(struct db_rows *rows);

static inline const char *db_cell(const struct db_rows *r, size_t row, size_t col)
{
	return r->cells[row * r->ncols + col];
}

/* Integer value of a cell; 0 for NULL or a malformed value (columns are typed). */
int64_t db_cell_i64(const struct db_rows *r, size_t row, size_t col);

/* Transactions; same return codes as db_exec. */
int db_begin(struct db_conn *c, char *err, size_t errlen);
int db_commit(struct db_conn *c, char *err, size_t errlen);
void db_rollback(struct db_conn *c);

/* Runs a statement without parameters: only for our own fixed SQL (migrations, DDL). */
int db_exec_raw(struct db_conn *c, const char *sql, char *err, size_t errlen);

/* A pool of connections shared by threads; connections are opened lazily. */
struct db_pool;

struct db_pool *db_pool_new(const struct db_config *cfg);
void db_pool_free(struct db_pool *pool);
/*
 * Hands out a connected connection, opening one if none is idle. A connection idle for
 * more than a few seconds is pinged first, so a database restart costs no request. Returns NULL
 * with err set (and *code = CMDB_EDBDOWN or CMDB_ERR) when none can be had.
 */
struct db_conn *db_pool_acquire(struct db_pool *pool, int *code, char *err, size_t errlen);
/* Returns a connection; a broken one is closed instead of kept. */
void db_pool_put(struct db_pool *pool, struct db_conn *c);

#endif
