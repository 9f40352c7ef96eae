/*
 * store/nodes: the inventory of nodes: register, read and change one (nodes.c), list them
 * by filters and pages (node_list.c), their labels (node_labels.c), and import many in
 * one transaction (node_import.c).
 */
#ifndef CMDB_STORE_NODES_H
#define CMDB_STORE_NODES_H

#include <cjson/cJSON.h>

#include "inventory/inventory.h"
#include "labels/labels.h"
#include "selector/selector.h"
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
	struct labels labels; /* owned: store_node_release frees it */
};

/* Frees what n owns (its labels); n may then be filled again. */
void store_node_release(struct node *n);

/* A node to register, as POST /api/v1/nodes gives it. */
struct node_new {
	const char *hostname;
	const char *ip; /* canonical form */
	int agent_port;
	enum node_health status;
	const struct labels *labels; /* NULL: none */
};

/*
 * Inserts a node and its labels for idem->principal. CMDB_ECONFLICT when ip+agent_port is
 * registered. With a key already used by the principal: *replayed = 1 and out is the node
 * it made (the same body), or CMDB_EMISMATCH (another body). out: release it.
 */
int store_node_create(struct db_conn *c, const struct node_new *nn, const struct store_idem *idem,
                      struct node *out, int *replayed, char *err, size_t errlen);
/* One node with its labels; out: release it. */
int store_node_get(struct db_conn *c, int64_t id, struct node *out, char *err, size_t errlen);

/* Which nodes GET /api/v1/nodes lists; every condition given must hold. */
struct node_filter {
	int by_version;  /* 0: any; 1: config_version = version; -1: config_version <> version */
	int64_t version; /* (a node that ran nothing yet is "not version") */
	int status;      /* enum node_health, or -1: either */
	const struct selector *sel; /* NULL: any labels (an empty selector is the same) */
	int64_t after;              /* paging: only ids above this; 0: from the first */
	int limit;                  /* paging: at most this many; 0: every node, no paging */
	int count;                  /* paging: count the nodes of every page too (total) */
};

/* Nodes in id order, each with its labels. */
struct node_page {
	struct node *nodes;
	size_t n;
	int more;      /* with a limit: nodes the filter selects follow the last one */
	int64_t total; /* with a limit and count: how many the filter selects in all pages */
};

int store_node_list(struct db_conn *c, const struct node_filter *f, struct node_page *out,
                    char *err, size_t errlen);
void store_node_page_free(struct node_page *p);

/* What PATCH /api/v1/nodes/{id} changes; NULL or -1 fields stay as they are. */
struct node_patch {
	int status; /* enum node_health, or -1 */
	const char *hostname;
	const char *ip;      /* canonical form */
	int agent_port;      /* 0: unchanged */
	const cJSON *labels; /* an RFC 7386 merge patch of the labels (labels.h); NULL: none */
};

/*
 * Applies a patch as principal, in one transaction; CMDB_ENOTFOUND for an unknown id,
 * CMDB_ECONFLICT when the new ip and agent_port belong to another node, CMDB_EINVAL when
 * the patched labels break a rule (err names it; nothing changes). out: the row
 * afterwards; release it.
 */
int store_node_update(struct db_conn *c, int64_t id, const struct node_patch *p,
                      const char *principal, struct node *out, char *err, size_t errlen);

/* What an import did: per item, in request order, its node and what became of it. */
struct node_import_result {
	int64_t import_id; /* the node_imports row */
	enum inventory_mode mode;
	int created, updated, unchanged;
	size_t n;
	int64_t *ids;  /* n entries */
	char *changes; /* n entries: 'c' created, 'u' updated, 'n' unchanged */
};

void store_node_import_free(struct node_import_result *res);

/*
 * POST /api/v1/nodes/import: the nodes of inv (parsed and checked by inventory.h) in one
 * transaction, found by (ip, agent_port). upsert: a known node takes the item's hostname,
 * its status when given and its labels when given (the set replaced whole); the others
 * are created (online when no status is given). create: a known address is an item error.
 * An item that changes nothing is unchanged and not written. CMDB_EINVAL with the item
 * errors in r (r->nbad) and nothing written. An Idempotency-Key already used by the
 * principal answers what that import did (*replayed = 1) or CMDB_EMISMATCH.
 */
int store_node_import(struct db_conn *c, const struct inventory *inv, const struct store_idem *idem,
                      struct node_import_result *out, int *replayed, struct inventory_report *r,
                      char *err, size_t errlen);

#endif
