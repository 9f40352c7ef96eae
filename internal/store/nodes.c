/*
 * store/nodes: the nodes table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_internal.h"

#define NODE_COLS                                                                                  \
	"id, hostname, ip, agent_port, status, created_at, updated_at, created_by, updated_by"

static void row_to_node(const struct db_rows *r, size_t i, struct node *n)
{
	memset(n, 0, sizeof(*n));
	n->id = db_cell_i64(r, i, 0);
	store_copy_cell(r, i, 1, n->hostname, sizeof(n->hostname));
	store_copy_cell(r, i, 2, n->ip, sizeof(n->ip));
	n->agent_port = (int)db_cell_i64(r, i, 3);
	n->status =
	    node_health_parse(db_cell(r, i, 4)) == NODE_OFFLINE ? NODE_OFFLINE : NODE_ONLINE;
	store_copy_time(r, i, 5, n->created_at);
	store_copy_time(r, i, 6, n->updated_at);
	store_copy_cell(r, i, 7, n->created_by, sizeof(n->created_by));
	store_copy_cell(r, i, 8, n->updated_by, sizeof(n->updated_by));
}

int store_node_create(struct db_conn *c, const char *hostname, const char *ip, int agent_port,
                      enum node_health status, const char *principal, struct node *out, char *err,
                      size_t errlen)
{
	struct db_arg args[5] = {DB_STR(hostname), DB_STR(ip), DB_I64(agent_port),
	                         DB_STR(node_health_name(status)), DB_STR(principal)};
	uint64_t id = 0;
	int rc;

	rc = db_exec(c,
	             "INSERT INTO nodes (hostname, ip, agent_port, status, created_at, updated_at,"
	             " created_by) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), ?)",
	             args, 5, NULL, &id, err, errlen);
	if (rc == CMDB_ECONFLICT) {
		snprintf(err, errlen, "a node with ip %s and agent_port %d already exists", ip,
		         agent_port);
		return rc;
	}
	if (rc)
		return rc;
	return store_node_get(c, (int64_t)id, out, err, errlen);
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
		row_to_node(&rows, 0, out);
	}
	db_rows_release(&rows);
	return rc;
}

int store_node_list(struct db_conn *c, struct node **out, size_t *n, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	int rc;

	*out = NULL;
	*n = 0;
	rc =
	    db_query(c, "SELECT " NODE_COLS " FROM nodes ORDER BY id", NULL, 0, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows) {
		*out = calloc(rows.nrows, sizeof(**out));
		if (!*out) {
			db_rows_release(&rows);
			return CMDB_ENOMEM;
		}
	}
	for (size_t i = 0; i < rows.nrows; i++)
		row_to_node(&rows, i, &(*out)[i]);
	*n = rows.nrows;
	db_rows_release(&rows);
	return 0;
}

int store_node_set_status(struct db_conn *c, int64_t id, enum node_health status,
                          const char *principal, struct node *out, char *err, size_t errlen)
{
	struct db_arg args[3] = {DB_STR(node_health_name(status)), DB_STR(principal), DB_I64(id)};
	int rc;

	rc = db_exec(c,
	             "UPDATE nodes SET status = ?, updated_at = UTC_TIMESTAMP(3), updated_by = ?"
	             " WHERE id = ?",
	             args, 3, NULL, NULL, err, errlen);
	if (rc)
		return rc;
	return store_node_get(c, id, out, err, errlen);
}
