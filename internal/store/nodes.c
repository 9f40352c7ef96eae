/*
 * store/nodes: the nodes table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/nodes.h"
#include "store/store_internal.h"

#define NODE_COLS                                                                                  \
	"id, hostname, ip, agent_port, status, created_at, updated_at, created_by, updated_by,"    \
	" config_version, config_release_id, config_applied_at"

static const struct store_col node_cols[] = {
    STORE_COL(COL_I64, struct node, id),
    STORE_COL(COL_STR, struct node, hostname),
    STORE_COL(COL_STR, struct node, ip),
    STORE_COL(COL_INT, struct node, agent_port),
    STORE_COL(COL_HEALTH, struct node, status),
    STORE_COL(COL_TIME, struct node, created_at),
    STORE_COL(COL_TIME, struct node, updated_at),
    STORE_COL(COL_STR, struct node, created_by),
    STORE_COL(COL_STR, struct node, updated_by),
    STORE_COL(COL_I64, struct node, config_version),
    STORE_COL(COL_I64, struct node, config_release_id),
    STORE_COL(COL_TIME, struct node, config_applied_at),
};

#define NNODE_COLS (sizeof(node_cols) / sizeof(node_cols[0]))

static int node_create_once(struct db_conn *c, const char *hostname, const char *ip, int agent_port,
                            enum node_health status, const struct store_idem *idem,
                            struct node *out, int *replayed, char *err, size_t errlen)
{
	struct db_arg args[5] = {DB_STR(hostname), DB_STR(ip), DB_I64(agent_port),
	                         DB_STR(node_health_name(status)), DB_STR(idem->principal)};
	uint64_t id = 0;
	int64_t seen = 0;
	int rc;

	*replayed = 0;
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	if (idem->key) {
		rc = store_idem_claim(c, "nodes", idem, &seen, err, errlen);
		if (rc == 1) {
			db_rollback(c);
			*replayed = 1;
			return store_node_get(c, seen, out, err, errlen);
		}
		if (rc)
			goto out;
	}
	rc = db_exec(c,
	             "INSERT INTO nodes (hostname, ip, agent_port, status, created_at, updated_at,"
	             " created_by) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), ?)",
	             args, 5, NULL, &id, err, errlen);
	if (rc == CMDB_ECONFLICT)
		snprintf(err, errlen, "a node with ip %s and agent_port %d already exists", ip,
		         agent_port);
	if (rc == 0 && idem->key)
		rc = store_idem_bind(c, "nodes", idem, (int64_t)id, err, errlen);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc == 0)
		return store_node_get(c, (int64_t)id, out, err, errlen);
out:
	db_rollback(c);
	return rc;
}

int store_node_get(struct db_conn *c, int64_t id, struct node *out, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	int rc;

	rc = db_query(c, "SELECT " NODE_COLS " FROM nodes WHERE id = ?", &arg, 1, &rows, err,
	              errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0) {
		snprintf(err, errlen, "node %lld not found", (long long)id);
		rc = CMDB_ENOTFOUND;
	} else {
		memset(out, 0, sizeof(*out));
		store_map_row(&rows, 0, node_cols, NNODE_COLS, out);
	}
	db_rows_free(&rows);
	return rc;
}

int store_node_list(struct db_conn *c, const struct node_filter *f, struct node **out, size_t *n,
                    char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(f ? f->version : 0);
	int rc;

	*out = NULL;
	*n = 0;
	if (f && f->by_version > 0)
		rc = db_query(
		    c, "SELECT " NODE_COLS " FROM nodes WHERE config_version = ? ORDER BY id", &arg,
		    1, &rows, err, errlen);
	else if (f && f->by_version < 0)
		rc = db_query(c,
		              "SELECT " NODE_COLS " FROM nodes WHERE NOT config_version <=> ?"
		              " ORDER BY id",
		              &arg, 1, &rows, err, errlen);
	else
		rc = db_query(c, "SELECT " NODE_COLS " FROM nodes ORDER BY id", NULL, 0, &rows, err,
		              errlen);
	if (rc)
		return rc;
	rc = store_map_rows(&rows, node_cols, NNODE_COLS, sizeof(**out), (void **)out, n);
	db_rows_free(&rows);
	return rc;
}

static int node_update_once(struct db_conn *c, int64_t id, const struct node_patch *p,
                            const char *principal, struct node *out, char *err, size_t errlen)
{
	struct db_arg args[6];
	uint64_t matched = 0;
	int rc;

	/* COALESCE keeps what the patch does not name; NULL binds "unchanged". */
	args[0] = p->status >= 0 ? DB_STR(node_health_name((enum node_health)p->status)) : DB_NULL;
	args[1] = DB_STR_OR_NULL(p->hostname);
	args[2] = DB_STR_OR_NULL(p->ip);
	args[3] = p->agent_port > 0 ? DB_I64(p->agent_port) : DB_NULL;
	args[4] = DB_STR(principal);
	args[5] = DB_I64(id);
	rc = db_exec(
	    c,
	    "UPDATE nodes SET status = COALESCE(?, status), hostname = COALESCE(?, hostname),"
	    " ip = COALESCE(?, ip), agent_port = COALESCE(?, agent_port),"
	    " updated_at = UTC_TIMESTAMP(3), updated_by = ? WHERE id = ?",
	    args, 6, &matched, NULL, err, errlen);
	if (rc == CMDB_ECONFLICT) {
		snprintf(err, errlen, "another node already has that ip and agent_port");
		return rc;
	}
	if (rc)
		return rc;
	if (matched == 0) {
		snprintf(err, errlen, "node %lld not found", (long long)id);
		return CMDB_ENOTFOUND;
	}
	return store_node_get(c, id, out, err, errlen);
}

int store_node_create(struct db_conn *c, const char *hostname, const char *ip, int agent_port,
                      enum node_health status, const struct store_idem *idem, struct node *out,
                      int *replayed, char *err, size_t errlen)
{
	int rc;

	/* With its key, a create whose COMMIT was lost finds the key and replays. */
	STORE_RETRY_IF(c, rc, err, idem->key != NULL,
	               node_create_once(c, hostname, ip, agent_port, status, idem, out, replayed,
	                                err, errlen));
	return rc;
}

int store_node_update(struct db_conn *c, int64_t id, const struct node_patch *p,
                      const char *principal, struct node *out, char *err, size_t errlen)
{
	int rc;

	/* It sets values, not increments: twice is once. */
	STORE_RETRY_IDEMPOTENT(c, rc, err, node_update_once(c, id, p, principal, out, err, errlen));
	return rc;
}
