/*
 * db: prepared statements over MariaDB Connector/C, result sets copied into plain
 * strings, error classification, transactions and a connection pool.
 */
#include "db/db.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"

#define CELL_BUF_MIN 64
#define CELL_BUF_MAX 65536

/*
 * The process's view of the cluster: the node new connections try first, and per node
 * how often it was found unusable (a connection checked before the last such finding is
 * not trusted again without a check). One configuration per process.
 */
static atomic_uint current_node;
static atomic_uint node_failures[DB_MAX_HOSTS];

/* A Galera node's state is asked again when the last answer is older than this. */
#define GALERA_CHECK_MS 1000

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
	/* A Galera node outside the primary component: "WSREP has not yet prepared node". */
	case ER_UNKNOWN_COM_ERROR:
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
		atomic_fetch_add(&node_failures[c->node], 1);
		return CMDB_EDBDOWN;
	}
	if (code == ER_DUP_ENTRY)
		return CMDB_ECONFLICT;
	/*
	 * The server rolled the transaction back (or must): the connection is fine. A
	 * failure to commit (ER_ERROR_DURING_COMMIT) is one too: the server undid the
	 * transaction; on Galera it is what a node that just left the primary component
	 * answers ("provider status: Not connected to Primary Component"), and settle() then
	 * finds the node unusable.
	 */
	if (code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT ||
	    code == ER_ERROR_DURING_COMMIT)
		return CMDB_ERETRY;
	return CMDB_ERR;
}

/* A statement on a connection that a failed reconnect left closed. */
static int closed(struct db_conn *c, char *err, size_t errlen)
{
	c->broken = 1;
	snprintf(err, errlen, "database: the connection is closed");
	return CMDB_EDBDOWN;
}

static int conn_error(struct db_conn *c, char *err, size_t errlen)
{
	return classify(c, mysql_errno(c->mysql), mysql_error(c->mysql), err, errlen);
}

static int stmt_error(struct db_conn *c, MYSQL_STMT *st, char *err, size_t errlen)
{
	return classify(c, mysql_stmt_errno(st), mysql_stmt_error(st), err, errlen);
}

void db_node_name(const struct db_conn *c, char *buf, size_t len)
{
	const struct db_host *h;

	if (!c->cfg || c->cfg->socket) {
		snprintf(buf, len, "%s", c->cfg && c->cfg->socket ? c->cfg->socket : "?");
		return;
	}
	h = &c->cfg->hosts[c->node];
	snprintf(buf, len, strchr(h->name, ':') ? "[%s]:%u" : "%s:%u", h->name, h->port);
}

/* Opens a connection to node i of cfg (the socket when there is one). */
static int connect_node(struct db_conn *c, const struct db_config *cfg, size_t i, char *err,
                        size_t errlen)
{
	unsigned int connect_timeout = 5, rw_timeout = 60;
	const char *host = cfg->socket ? NULL : cfg->hosts[i].name;
	unsigned int port = cfg->socket ? 0 : cfg->hosts[i].port;
	my_bool reconnect = 0;

	c->mysql = mysql_init(NULL);
	if (!c->mysql) {
		snprintf(err, errlen, "out of memory");
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
	if (!mysql_real_connect(c->mysql, host, cfg->user, cfg->password, cfg->name, port,
	                        cfg->socket, CLIENT_FOUND_ROWS)) {
		unsigned int code = mysql_errno(c->mysql);
		int rc = (code >= 2000 && code < 3000) || is_connection_error(code) ? CMDB_EDBDOWN
		                                                                    : CMDB_ERR;

		snprintf(err, errlen, "%s (%u)", mysql_error(c->mysql), code);
		mysql_close(c->mysql);
		c->mysql = NULL;
		return rc;
	}
	return 0;
}

/* Runs one of our fixed SHOW statements and keeps its result. */
static MYSQL_RES *show(struct db_conn *c, const char *sql, int *rc, char *err, size_t errlen)
{
	MYSQL_RES *res;

	c->statements++;
	if (mysql_real_query(c->mysql, sql, strlen(sql)) || !(res = mysql_store_result(c->mysql))) {
		*rc = conn_error(c, err, errlen);
		return NULL;
	}
	return res;
}

/*
 * What the node says about itself. Galera is known by its provider's name; such a node is
 * usable only when ready, Synced and in the primary component: a joiner, a donor or a node
 * cut off from the others refuses queries or answers them from a state that is behind.
 */
static int node_usable(struct db_conn *c, char *err, size_t errlen)
{
	char ready[16] = "", state[64] = "", cluster[32] = "", provider[64] = "";
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = 0;

	res = show(c,
	           "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_provider_name',"
	           " 'wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_status')",
	           &rc, err, errlen);
	if (!res)
		return rc;
	while ((row = mysql_fetch_row(res)) != NULL) {
		const char *v = row[1] ? row[1] : "";

		if (!row[0])
			continue;
		if (strcasecmp(row[0], "wsrep_provider_name") == 0)
			str_copy(provider, v, sizeof(provider));
		else if (strcasecmp(row[0], "wsrep_ready") == 0)
			str_copy(ready, v, sizeof(ready));
		else if (strcasecmp(row[0], "wsrep_local_state_comment") == 0)
			str_copy(state, v, sizeof(state));
		else if (strcasecmp(row[0], "wsrep_cluster_status") == 0)
			str_copy(cluster, v, sizeof(cluster));
	}
	mysql_free_result(res);
	c->galera = provider[0] != '\0';
	c->checked_at = now_mono_ms();
	if (c->galera && (strcmp(ready, "ON") != 0 || strcmp(state, "Synced") != 0 ||
	                  strcmp(cluster, "Primary") != 0)) {
		snprintf(err, errlen, "Galera node not usable: %s, %s component, wsrep_ready %s",
		         state[0] ? state : "state unknown", cluster[0] ? cluster : "no",
		         ready[0] ? ready : "unknown");
		c->broken = 1;
		atomic_fetch_add(&node_failures[c->node], 1);
		return CMDB_EDBDOWN;
	}
	return 0;
}

/*
 * On Galera, a statement that seems to have lost a race (a deadlock, a lock wait timeout)
 * may instead have lost its node: one that leaves the primary component aborts what
 * waits on it the same way. Asked the node then, such a failure becomes CMDB_EDBDOWN, so
 * it is handled as the connection lost that it is, and nothing runs again on that node.
 */
static int settle(struct db_conn *c, int rc, char *err, size_t errlen)
{
	char why[256];
	size_t n;

	if (rc != CMDB_ERETRY || !c->galera || c->broken || !c->mysql ||
	    node_usable(c, why, sizeof(why)) == 0)
		return rc;
	c->broken = 1;
	n = strlen(err);
	if (n < errlen)
		snprintf(err + n, errlen - n, "; %s", why);
	return CMDB_EDBDOWN;
}

/* Opens node i and checks it; a Galera session is made to read causally. */
static int open_node(struct db_conn *c, const struct db_config *cfg, size_t i, char *err,
                     size_t errlen)
{
	int rc;

	c->node = i;
	c->broken = c->in_tx = c->unsure = c->galera = 0;
	c->epoch = atomic_load(&node_failures[i]);
	rc = connect_node(c, cfg, i, err, errlen);
	if (rc == 0)
		rc = node_usable(c, err, errlen);
	if (rc == 0 && c->galera)
		rc = db_exec_raw(c, "SET SESSION wsrep_sync_wait = 1", err, errlen);
	if (rc)
		db_close(c);
	return rc;
}

/* New connections go to node `to` now; counted and logged once, by whoever moved them. */
static void move_to(const struct db_config *cfg, unsigned int from, unsigned int to,
                    const char *why)
{
	if (!atomic_compare_exchange_strong(&current_node, &from, to))
		return;
	metrics_db_node_switch();
	log_warn("db", "database node %s:%u is not usable (%s); using %s:%u", cfg->hosts[from].name,
	         cfg->hosts[from].port, why, cfg->hosts[to].name, cfg->hosts[to].port);
}

int db_connect(struct db_conn *c, const struct db_config *cfg, char *err, size_t errlen)
{
	size_t n = cfg->socket ? 1 : cfg->nhosts;
	unsigned int first = atomic_load(&current_node);
	char why[256] = "", first_why[256] = "";
	size_t used = 0;
	int rc = CMDB_EDBDOWN, down = 0;

	c->cfg = cfg;
	c->mysql = NULL;
	if (n == 0) {
		snprintf(err, errlen, "database: no host configured");
		return CMDB_ERR;
	}
	if (first >= n)
		first = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % n;
		char name[DB_HOST_NAMES + 16];

		rc = open_node(c, cfg, i, why, sizeof(why));
		if (rc == 0) {
			if (k)
				move_to(cfg, first, (unsigned int)i, first_why);
			return 0;
		}
		if (rc == CMDB_ENOMEM) {
			snprintf(err, errlen, "database: out of memory");
			return rc;
		}
		if (k == 0)
			str_copy(first_why, why, sizeof(first_why));
		down |= rc == CMDB_EDBDOWN;
		c->node = i;
		db_node_name(c, name, sizeof(name));
		/* One node: as before, "connect <host>: why"; several: each, in the order tried. */
		used += (size_t)snprintf(
		    err + (used < errlen ? used : errlen), used < errlen ? errlen - used : 0,
		    "%s%s %s: %s", k ? "; " : "database: ", n > 1 ? "node" : "connect", name, why);
	}
	return down ? CMDB_EDBDOWN : rc;
}

int db_reconnect(struct db_conn *c, char *err, size_t errlen)
{
	db_close(c);
	return db_connect(c, c->cfg, err, errlen);
}

int db_check_due(const struct db_conn *c, int64_t now)
{
	return (c->galera && now - c->checked_at > GALERA_CHECK_MS) ||
	       atomic_load(&node_failures[c->node]) != c->epoch;
}

int db_check(struct db_conn *c, char *err, size_t errlen)
{
	if (!c->mysql || c->broken) {
		snprintf(err, errlen, "database: the connection is closed");
		return CMDB_EDBDOWN;
	}
	if (atomic_load(&node_failures[c->node]) != c->epoch) {
		/* Its node failed another connection since: ask it again. */
		c->epoch = atomic_load(&node_failures[c->node]);
	} else if (!c->galera) {
		c->statements++;
		if (mysql_ping(c->mysql))
			return conn_error(c, err, errlen);
		return 0;
	}
	if (node_usable(c, err, errlen)) {
		c->broken = 1;
		return CMDB_EDBDOWN;
	}
	return 0;
}

static void drop_cached(struct db_cached_stmt *e)
{
	mysql_stmt_close(e->stmt);
	free(e->sql);
	*e = (struct db_cached_stmt){0};
}

static void drop_all_cached(struct db_conn *c)
{
	for (size_t i = 0; i < DB_STMT_CACHE; i++)
		if (c->cache[i].sql)
			drop_cached(&c->cache[i]);
}

void db_close(struct db_conn *c)
{
	drop_all_cached(c); /* first: the statements belong to the connection and go with it */
	if (c->mysql)
		mysql_close(c->mysql);
	c->mysql = NULL;
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
			*rc = conn_error(c, err, errlen);
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
			drop_all_cached(c);
			continue;
		}
		*rc = stmt_error(c, st, err, errlen);
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
		*rc = closed(c, err, errlen);
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
	*rc = stmt_error(c, st, err, errlen);
	finish(c, st, 1);
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
	if (!st)
		rc = settle(c, rc, err, errlen);
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
	for (int again = !c->in_tx && c->cfg;; again = 0) {
		st = prepare(c, sql, args, nargs, binds, lens, &rc, err, errlen);
		if (st) {
			rc = fetch_rows(c, st, out, err, errlen);
			finish(c, st, rc != 0);
			if (rc)
				db_rows_free(out);
		}
		rc = settle(c, rc, err, errlen);
		/* A read changed nothing: on a lost connection, it runs once more elsewhere. */
		if (rc != CMDB_EDBDOWN || !again || db_reconnect(c, err, errlen))
			break;
	}
	free(binds);
	free(lens);
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

int db_exec_raw(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
	if (!c->mysql)
		return closed(c, err, errlen);
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
	int rc = db_exec_raw(c, "START TRANSACTION", err, errlen);

	c->in_tx = rc == 0;
	c->unsure = 0;
	return rc;
}

int db_commit(struct db_conn *c, char *err, size_t errlen)
{
	int rc = 0;

	if (!c->mysql)
		return closed(c, err, errlen);
	c->statements++;
	if (mysql_commit(c->mysql)) {
		unsigned int code = mysql_errno(c->mysql);

		rc = settle(c, conn_error(c, err, errlen), err, errlen);
		/*
		 * Lost while committing (the connection, or on Galera the node's place in the
		 * cluster, so the write set may have reached the others): it may or may not have
		 * been committed. A commit the server refused (ER_ERROR_DURING_COMMIT: on Galera,
		 * the write set was never handed to the cluster) was not.
		 */
		c->unsure = rc == CMDB_EDBDOWN && code != ER_ERROR_DURING_COMMIT;
	}
	c->in_tx = 0;
	return rc;
}

void db_rollback(struct db_conn *c)
{
	if (c->mysql && !c->broken && mysql_rollback(c->mysql))
		c->broken = 1;
	c->in_tx = 0;
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

/* 1 when an idle connection must be checked before it is handed out. */
static int needs_check(const struct db_conn *c, int64_t now)
{
	return now - c->idle_since > POOL_PING_AFTER_MS || db_check_due(c, now);
}

struct db_conn *db_pool_acquire(struct db_pool *pool, int *code, char *err, size_t errlen)
{
	struct db_conn *c;

	for (;;) {
		char why[256];

		c = NULL;
		pthread_mutex_lock(&pool->lock);
		if (pool->nidle)
			c = pool->idle[--pool->nidle];
		pthread_mutex_unlock(&pool->lock);
		if (!c)
			break;
		if (!needs_check(c, now_mono_ms()) || db_check(c, why, sizeof(why)) == 0)
			return c;
		db_close(c);
		free(c);
	}
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
