/*
 * db/conn: connections and which Galera node they go to (round robin past unusable nodes,
 * checks of the node's state), and the classification of connector errors.
 */
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"
#include "db/db.h"
#include "db/db_internal.h"
#include "metrics/metrics.h"

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
	 * answers ("provider status: Not connected to Primary Component"), and db_settle() then
	 * finds the node unusable.
	 */
	if (code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT ||
	    code == ER_ERROR_DURING_COMMIT)
		return CMDB_ERETRY;
	return CMDB_ERR;
}

/* A statement on a connection that a failed reconnect left closed. */
int db_closed(struct db_conn *c, char *err, size_t errlen)
{
	c->broken = 1;
	snprintf(err, errlen, "database: the connection is closed");
	return CMDB_EDBDOWN;
}

int db_conn_error(struct db_conn *c, char *err, size_t errlen)
{
	return classify(c, mysql_errno(c->mysql), mysql_error(c->mysql), err, errlen);
}

int db_stmt_error(struct db_conn *c, MYSQL_STMT *st, char *err, size_t errlen)
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
		*rc = db_conn_error(c, err, errlen);
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
int db_settle(struct db_conn *c, int rc, char *err, size_t errlen)
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
			return db_conn_error(c, err, errlen);
		return 0;
	}
	if (node_usable(c, err, errlen)) {
		c->broken = 1;
		return CMDB_EDBDOWN;
	}
	return 0;
}

void db_close(struct db_conn *c)
{
	db_stmts_drop(c); /* first: the statements belong to the connection and go with it */
	if (c->mysql)
		mysql_close(c->mysql);
	c->mysql = NULL;
}
