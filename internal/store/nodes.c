/*
 * store/nodes: one node of the nodes table with its labels: register, read, change.
 * Labels change with the node's other fields in one transaction, and every change
 * records who made it and when (updated_by, updated_at).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/nodes.h"
#include "store/store_internal.h"

const struct store_col store_node_cols[] = {
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

const size_t store_nnode_cols = sizeof(store_node_cols) / sizeof(store_node_cols[0]);

void store_node_release(struct node *n)
{
	labels_free(&n->labels);
}

static int node_create_once(struct db_conn *c, const struct node_new *nn,
                            const struct store_idem *idem, struct node *out, int *replayed,
                            char *err, size_t errlen)
{
	struct db_arg args[5] = {DB_STR(nn->hostname), DB_STR(nn->ip), DB_I64(nn->agent_port),
	                         DB_STR(node_health_name(nn->status)), DB_STR(idem->principal)};
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
		snprintf(err, errlen, "a node with ip %s and agent_port %d already exists", nn->ip,
		         nn->agent_port);
	if (rc == 0 && nn->labels) {
		int64_t nid = (int64_t)id;

		rc = store_labels_insert(c, &nid, &nn->labels, 1, err, errlen);
	}
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

	memset(out, 0, sizeof(*out));
	rc = db_query(
	    c, "SELECT " STORE_NODE_COLS ", " STORE_LABELS_COL " FROM nodes n WHERE n.id = ?", &arg,
	    1, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0) {
		snprintf(err, errlen, "node %lld not found", (long long)id);
		rc = CMDB_ENOTFOUND;
	} else {
		store_map_row(&rows, 0, store_node_cols, store_nnode_cols, out);
		rc = store_labels_parse(db_cell(&rows, 0, store_nnode_cols), id, &out->labels, err,
		                        errlen);
	}
	db_rows_free(&rows);
	return rc;
}

/*
 * The node's labels with the merge patch applied, written in place of the old set: the
 * row is locked first, so two patches of one node apply one after the other.
 */
static int patch_labels(struct db_conn *c, int64_t id, const cJSON *patch, char *err, size_t errlen)
{
	struct labels ls = LABELS_INIT;
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg arg = DB_I64(id);
	const struct labels *set = &ls;
	int rc;

	rc = db_query(c, "SELECT id FROM nodes WHERE id = ? FOR UPDATE", &arg, 1, &rows, err,
	              errlen);
	if (rc == 0 && rows.nrows == 0) {
		snprintf(err, errlen, "node %lld not found", (long long)id);
		rc = CMDB_ENOTFOUND;
	}
	db_rows_free(&rows);
	if (rc == 0)
		rc = store_labels_read(c, &id, 1, &ls, err, errlen);
	if (rc == 0)
		rc = labels_merge_patch(&ls, patch, err, errlen);
	if (rc == 0)
		rc = store_labels_delete(c, &id, 1, err, errlen);
	if (rc == 0)
		rc = store_labels_insert(c, &id, &set, 1, err, errlen);
	labels_free(&ls);
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
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	if (p->labels)
		rc = patch_labels(c, id, p->labels, err, errlen);
	if (rc == 0)
		rc = db_exec(c,
		             "UPDATE nodes SET status = COALESCE(?, status), hostname = "
		             "COALESCE(?, hostname),"
		             " ip = COALESCE(?, ip), agent_port = COALESCE(?, agent_port),"
		             " updated_at = UTC_TIMESTAMP(3), updated_by = ? WHERE id = ?",
		             args, 6, &matched, NULL, err, errlen);
	if (rc == CMDB_ECONFLICT)
		snprintf(err, errlen, "another node already has that ip and agent_port");
	if (rc == 0 && matched == 0) {
		snprintf(err, errlen, "node %lld not found", (long long)id);
		rc = CMDB_ENOTFOUND;
	}
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc) {
		db_rollback(c);
		return rc;
	}
	return store_node_get(c, id, out, err, errlen);
}

int store_node_create(struct db_conn *c, const struct node_new *nn, const struct store_idem *idem,
                      struct node *out, int *replayed, char *err, size_t errlen)
{
	int rc;

	/* With its key, a create whose COMMIT was lost finds the key and replays. */
	STORE_RETRY_IF(c, rc, err, idem->key != NULL,
	               node_create_once(c, nn, idem, out, replayed, err, errlen));
	return rc;
}

int store_node_update(struct db_conn *c, int64_t id, const struct node_patch *p,
                      const char *principal, struct node *out, char *err, size_t errlen)
{
	int rc;

	/* It sets values, and a merge patch twice is the patch once: twice is once. */
	STORE_RETRY_IDEMPOTENT(c, rc, err, node_update_once(c, id, p, principal, out, err, errlen));
	return rc;
}
