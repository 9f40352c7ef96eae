/*
 * db: MariaDB connections and the only way the rest of the code runs SQL: prepared
 * statements with bound parameters. Functions return 0 or an enum cmdb_err code (core.h)
 * and say why in a caller-owned err buffer (never the password).
 *
 * A lost connection is CMDB_EDBDOWN and marks the connection broken (the connector's
 * auto-reconnect stays off). Only what is known to have changed nothing runs again on a
 * new connection: a read outside a transaction (db_query, once), and a transaction that
 * failed before its COMMIT was sent (the store's STORE_RETRY).
 *
 * CMDB_DB_HOST may list the nodes of a MariaDB Galera cluster. A connection is used only on
 * a node that says it is usable (wsrep_ready, Synced, in the primary component; a server
 * that is no Galera node is); otherwise the next node is tried, round robin, and new
 * connections follow the move.
 */
#ifndef CMDB_DB_H
#define CMDB_DB_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#define DB_MAX_HOSTS  8
#define DB_HOST_NAMES 256

struct db_host {
	char name[DB_HOST_NAMES]; /* a name or an address, IPv6 without its brackets */
	unsigned int port;
};

struct db_config {
	struct db_host hosts[DB_MAX_HOSTS]; /* tried in turn; used when socket is NULL */
	size_t nhosts;
	const char *user;
	const char *password;
	const char *name;
	const char *socket; /* optional unix socket path */
};

/*
 * Statements a connection with keep_stmts set keeps prepared, by their text (the least
 * recently used goes): the executor's, whose rounds run the same few texts again and again.
 * Each counts against the server's max_prepared_stmt_count, shared by all its clients.
 */
#define DB_STMT_CACHE 32

/* At most this many arguments per statement; db_exec and db_query refuse more. */
#define DB_MAX_ARGS 4096

/* A kept statement (internal/db's): its text (owned; NULL: a free slot), hash, last use. */
struct db_cached_stmt {
	char *sql;
	size_t len;
	uint64_t hash;
	MYSQL_STMT *stmt;
	uint64_t last_use;
};

/*
 * One connection: zeroed, then db_connect; db_close when done. Its owner sets keep_stmts,
 * reads the fields up to prepares and may set broken (to have it replaced); the rest is
 * internal/db's.
 */
struct db_conn {
	MYSQL *mysql;        /* NULL: closed (a failed reconnect) */
	int keep_stmts;      /* keep statements prepared (DB_STMT_CACHE); survives reconnects */
	int broken;          /* unusable: to be closed or connected again */
	int in_tx;           /* between db_begin and db_commit or db_rollback */
	int unsure;          /* the last failure may have committed: nothing may simply run again */
	uint64_t statements; /* statements sent on this connection, for cost accounting */
	uint64_t prepares;   /* of those, prepared on the server (not kept from before) */

	const struct db_config *cfg; /* what db_connect was given, for a reconnect */
	int galera;                  /* the server is a Galera node */
	size_t node;                 /* which of cfg->hosts */
	unsigned int epoch;          /* the node's failure count when this connection was checked */
	int64_t checked_at;          /* monotonic ms of the last check that the node is usable */
	int64_t idle_since;          /* monotonic ms when the pool got it back */
	uint64_t cache_clock;        /* for the cache's least recently used */
	struct db_cached_stmt cache[DB_STMT_CACHE]; /* emptied by db_close */
};

/* A connection's counts at one moment: what a piece of work ran is the difference after it. */
struct db_tally {
	uint64_t statements;
	uint64_t prepares;
};

static inline struct db_tally db_tally(const struct db_conn *c)
{
	return (struct db_tally){c->statements, c->prepares};
}

/* Call once before any thread starts, and db_global_cleanup once at exit. */
int db_global_init(void);
void db_global_cleanup(void);

/*
 * Parses CMDB_DB_HOST: one to DB_MAX_HOSTS comma-separated entries, each "host",
 * "host:port", "[ipv6]" or "[ipv6]:port"; a missing port is default_port. Returns 0, or
 * CMDB_EINVAL with err saying which entry is wrong. Pure: no MariaDB call.
 */
int db_parse_hosts(const char *list, unsigned int default_port, struct db_host *hosts, size_t *n,
                   char *err, size_t errlen);

/*
 * Opens c (zeroed, or closed) on the node new connections use, else on the next usable
 * one in list order (a move, counted and logged). The session: utf8mb4, UTC, strict SQL
 * mode, bounded timeouts, affected rows counted as rows MATCHED (a guarded UPDATE that
 * rewrites the same value still reports its row), and on Galera causal reads
 * (wsrep_sync_wait = 1). CMDB_EDBDOWN when no node can be used. cfg must outlive c.
 */
int db_connect(struct db_conn *c, const struct db_config *cfg, char *err, size_t errlen);
/* Closes c and the statements it keeps; c may then be connected again. */
void db_close(struct db_conn *c);
/* db_close, then db_connect with the same cfg. */
int db_reconnect(struct db_conn *c, char *err, size_t errlen);
/*
 * Checks that c may still be used: its node was not found unusable since, and it answers
 * (a Galera node: still Synced in the primary component). 0, or CMDB_EDBDOWN with c broken.
 */
int db_check(struct db_conn *c, char *err, size_t errlen);
/*
 * 1 when c is to be checked before its next use (now: monotonic ms): its node failed
 * another connection since, or it is on Galera and its last check is a second old.
 */
int db_check_due(const struct db_conn *c, int64_t now);
/* "host:port" (or the socket) of the node c is on. */
void db_node_name(const struct db_conn *c, char *buf, size_t len);

enum db_arg_type { DB_ARG_I64, DB_ARG_STR, DB_ARG_NULL };

/* A bound parameter; the string is the caller's and only read during the call. */
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

/*
 * Runs one statement with args bound to its placeholders; affected and insert_id may be
 * NULL. Returns 0, CMDB_ECONFLICT on a duplicate key, CMDB_EDBDOWN when the connection or
 * its node was lost (c->broken set; outside a transaction also c->unsure: the write may
 * have been done), CMDB_ERETRY when the transaction lost a race (a deadlock, a lock wait
 * timeout, a Galera certification failure: it was rolled back whole and may run again),
 * CMDB_ENOMEM, CMDB_ERR otherwise.
 */
int db_exec(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
            uint64_t *affected, uint64_t *insert_id, char *err, size_t errlen);

/* A result set as strings; a NULL cell is a NULL pointer. Owned; db_rows_free frees it. */
struct db_rows {
	size_t nrows;
	size_t ncols;
	char **cells; /* nrows * ncols, row-major */
};

#define DB_ROWS_INIT                                                                               \
	{                                                                                          \
		0, 0, NULL                                                                         \
	}

/*
 * Runs a query like db_exec and stores every row in out (DB_ROWS_INIT before; left empty
 * on an error). Outside a transaction, a query whose connection was lost runs once more,
 * on a new connection.
 */
int db_query(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
             struct db_rows *out, char *err, size_t errlen);

/* Frees the cells; rows is DB_ROWS_INIT again. */
void db_rows_free(struct db_rows *rows);

static inline const char *db_cell(const struct db_rows *r, size_t row, size_t col)
{
	return r->cells[row * r->ncols + col];
}

/* Integer value of a cell; 0 for NULL or a malformed value (columns are typed). */
int64_t db_cell_i64(const struct db_rows *r, size_t row, size_t col);

/*
 * Transactions; return codes as db_exec. A COMMIT lost on the way sets c->unsure unless
 * the server is known to have refused it. db_rollback marks c broken when it fails.
 */
int db_begin(struct db_conn *c, char *err, size_t errlen);
int db_commit(struct db_conn *c, char *err, size_t errlen);
void db_rollback(struct db_conn *c);

/* Runs a statement without parameters: only for our own fixed SQL (migrations, DDL). */
int db_exec_raw(struct db_conn *c, const char *sql, char *err, size_t errlen);

/* Connections shared by threads, opened lazily; a bounded number are kept idle. */
struct db_pool;

/* NULL when out of memory. cfg must outlive the pool. */
struct db_pool *db_pool_new(const struct db_config *cfg);
/* Closes the idle connections; those handed out must have been put back. */
void db_pool_free(struct db_pool *pool);
/*
 * Hands out a connection, idle or new; the caller gives it back with db_pool_put. An idle
 * one is checked (db_check) when it was idle for more than a few seconds or db_check_due
 * says so: a database restart or a node leaving the cluster costs no request. NULL with
 * *code (CMDB_EDBDOWN, CMDB_ENOMEM or CMDB_ERR) and err when none can be had.
 */
struct db_conn *db_pool_acquire(struct db_pool *pool, int *code, char *err, size_t errlen);
/* Takes c back (NULL is fine); a broken one, or one too many, is closed and freed. */
void db_pool_put(struct db_pool *pool, struct db_conn *c);

#endif
