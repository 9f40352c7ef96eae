/*
 * store/nodes: the inventory of nodes (nodes.c): register, read, list and change them.
 */
#ifndef CMDB_STORE_NODES_H
#define CMDB_STORE_NODES_H

#include "state/state.h"
#include "store/common.h"

struct node {
	int64_t id;
	char hostname[STORE_HOSTNAME_LEN];
	char ip[STORE_IP_LEN];
	int agent_port;
	enum node_health status;
	char created_at[STORE_TIME_LEN];
	char updated_at[STORE_TIME_LEN];
	char created_by[STORE_OWNER_LEN]; /* "" when unknown (rows from before 0003) */
	char updated_by[STORE_OWNER_LEN];
	int64_t config_version;    /* of the last release that succeeded on it; 0: none yet */
	int64_t config_release_id; /* that release; 0: none */
	char config_applied_at[STORE_TIME_LEN];
};

/*
 * Inserts a node for idem->principal. CMDB_ECONFLICT when ip+agent_port is registered.
 * With a key already used by the principal: *replayed = 1 and out is the node it made
 * (the same body), or CMDB_EMISMATCH (another body).
 */
int store_node_create(struct db_conn *c, const char *hostname, const char *ip, int agent_port,
                      enum node_health status, const struct store_idem *idem, struct node *out,
                      int *replayed, char *err, size_t errlen);
int store_node_get(struct db_conn *c, int64_t id, struct node *out, char *err, size_t errlen);

/* Which nodes GET /api/v1/nodes lists: every one, or by the config version they run. */
struct node_filter {
	int by_version;  /* 0: all; 1: config_version = version; -1: config_version <> version */
	int64_t version; /* (a node that ran nothing yet is "not version") */
};

/* The nodes the filter selects, ordered by id; *out is malloc'd, the caller frees it. */
int store_node_list(struct db_conn *c, const struct node_filter *f, struct node **out, size_t *n,
                    char *err, size_t errlen);

/* What PATCH /api/v1/nodes/{id} changes; NULL or -1 fields stay as they are. */
struct node_patch {
	int status; /* enum node_health, or -1 */
	const char *hostname;
	const char *ip; /* canonical form */
	int agent_port; /* 0: unchanged */
};

/*
 * Applies a patch as principal; CMDB_ENOTFOUND for an unknown id, CMDB_ECONFLICT when the
 * new ip and agent_port belong to another node. out: the row afterwards.
 */
int store_node_update(struct db_conn *c, int64_t id, const struct node_patch *p,
                      const char *principal, struct node *out, char *err, size_t errlen);

#endif
