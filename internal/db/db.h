/*
 * db: MariaDB connections and the only way the rest of the code runs SQL: prepared
 * statements with bound parameters (db_exec, db_query). A small pool hands one
 * connection to each API worker; the executor owns its own. A lost connection is
 * reported as CMDB_EDBDOWN and the connection is thrown away (the connector's
 * auto-reconnect stays off). Only what is known not to have changed anything runs again
 * on a new connection: a read outside a transaction (db_query does it once), and a
 * transaction that failed before its COMMIT was sent (the store's STORE_RETRY).
 *
 * The server may be one of several: CMDB_DB_HOST lists the nodes of a MariaDB Galera
 * cluster. A connection is only used on a node that says it is usable (wsrep_ready,
 * Synced, in the primary component; any server that is not a Galera node is); otherwise
 * the next node of the list is tried, round robin, and new connections follow the move.
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
 * Statements a connection may keep prepared, by their text, when it asks to (keep_stmts):
 * the executor's, whose rounds run the same few statements each time (one text per
 * number of rows grouped), where preparing them again cost a round trip and a parse each
 * on the thread that also drives the agents. Other connections close each statement
 * after use, so a controller holds at most this many of the server's
 * max_prepared_stmt_count (shared by all its clients) beyond one per connection.
 */
#define DB_STMT_CACHE 32

struct db_cached_stmt {
	char *sql;         /* owned copy of the text; NULL: free slot */
	size_t len;        /* strlen(sql) */
	uint64_t hash;     /* of the text, compared before the text itself */
	MYSQL_STMT *stmt;  /* prepared on the connection it belongs to */
	uint64_t last_use; /* for eviction: the least recently used goes */
};

struct db_conn {
	MYSQL *mysql;
	int keep_stmts;                             /* set by the owner; survives reconnects */
	struct db_cached_stmt cache[DB_STMT_CACHE]; /* emptied by db_close */
	uint64_t cache_clock;
	const struct db_config *cfg; /* what db_connect was given, for a reconnect */
	int broken;                  /* set when an error showed the connection is unusable */
	int in_tx;                   /* between db_begin and db_commit or db_rollback */
	int unsure;          /* the last failure may have committed: a COMMIT or a write outside a
	                        transaction lost its connection; nothing may simply run again */
	int galera;          /* the server is a Galera node */
	size_t node;         /* which of cfg->hosts */
	unsigned int epoch;  /* the node's failure count when this connection was checked */
	int64_t checked_at;  /* monotonic ms of the last check that the node is usable */
	int64_t idle_since;  /* monotonic ms when the pool got it back */
	uint64_t statements; /* statements sent on this connection, for cost accounting */
	uint64_t prepares;   /* of those, prepared on the server (not taken from the cache) */
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
	char **cells; /* nrows * ncols, row-major; owned, freed by db_rows_free */
};

#define DB_ROWS_INIT                                                                               \
	{                                                                                          \
		0, 0, NULL                                                                         \
	}

/* Call once before any thread starts, and db_global_cleanup once at exit. */
int db_global_init(void);
void db_global_cleanup(void);

/*
 * Parses CMDB_DB_HOST: one to DB_MAX_HOSTS comma-separated entries, each "host",
 * "host:port", "[ipv6]" or "[ipv6]:port"; a missing port is default_port. Returns 0, or
 * CMDB_EINVAL with err saying which entry is wrong.
 */
int db_parse_hosts(const char *list, unsigned int default_port, struct db_host *hosts, size_t *n,
                   char *err, size_t errlen);

/*
 * Opens a connection: utf8mb4, UTC session time zone, strict SQL mode, no
 * auto-reconnect, bounded connect/read/write timeouts. Affected-row counts are
 * rows MATCHED (CLIENT_FOUND_ROWS), so a guarded UPDATE that rewrites the same value
 * (a lease renewed twice in one millisecond) still reports its row. With several hosts,
 * the node new connections use is tried first, then the others in list order; a node that
 * refuses or is not usable is passed over (and counted and logged as a move). On a Galera
 * node reads are causal (wsrep_sync_wait = 1): a client sees what any controller
 * committed before its request. Returns 0, CMDB_EDBDOWN when no node can be used,
 * CMDB_ERR otherwise; err says why (never the password). cfg must outlive c.
 */
int db_connect(struct db_conn *c, const struct db_config *cfg, char *err, size_t errlen);
void db_close(struct db_conn *c);
/* Closes c and connects it again, to the node new connections use. */
int db_reconnect(struct db_conn *c, char *err, size_t errlen);
/*
 * Checks that c may still be used: its node has not been found unusable since, and it
 * answers (a Galera node: is still Synced in the primary component). Returns 0, or
 * CMDB_EDBDOWN with c broken.
 */
int db_check(struct db_conn *c, char *err, size_t errlen);
/*
 * 1 when a long-lived connection should be checked before its next use: its node failed
 * another connection since its last check, or it is on Galera and that check is a second
 * old. now is monotonic ms.
 */
int db_check_due(const struct db_conn *c, int64_t now);
/* "host:port" (or the socket) of the node c is on. */
void db_node_name(const struct db_conn *c, char *buf, size_t len);

/*
 * Runs one prepared statement. affected and insert_id may be NULL.
 * Returns 0, CMDB_ECONFLICT on a duplicate key, CMDB_EDBDOWN when the connection was
 * lost or its node is not usable (c->broken is then set), CMDB_ERETRY when the
 * transaction lost a race (a deadlock, a lock wait timeout, a Galera certification
 * failure: it was rolled back whole and may run again), CMDB_ERR otherwise.
 */
int db_exec(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
            uint64_t *affected, uint64_t *insert_id, char *err, size_t errlen);

/*
 * Runs a prepared query and stores every row in out (which must be DB_ROWS_INIT). Outside
 * a transaction, a query whose connection was lost runs once more on a new one.
 */
int db_query(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
             struct db_rows *out, char *err, size_t errlen);

void db_rows_free(struct db_rows *rows);

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
 * Hands out a connected connection, opening one if none is idle. An idle connection is
 * checked first (db_check) when it was idle for more than a few seconds, when its node was
 * found unusable meanwhile, or, on Galera, when its last check is a second old: a database
 * restart or a node leaving the cluster costs no request. Returns NULL with err set (and
 * *code = CMDB_EDBDOWN or CMDB_ERR) when none can be had.
 */
struct db_conn *db_pool_acquire(struct db_pool *pool, int *code, char *err, size_t errlen);
/* Returns a connection; a broken one is closed instead of kept. */
void db_pool_put(struct db_pool *pool, struct db_conn *c);

#endif
