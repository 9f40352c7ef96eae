/*
 * store: every SQL statement of the controller lives here, behind functions that
 * speak in nodes and releases. All statements are prepared with bound parameters.
 * Functions take a connection and a caller-owned err buffer and return 0 or a
 * negative enum cmdb_err code; CMDB_EINVAL errors are meant for the API client.
 */
#ifndef CMDB_STORE_H
#define CMDB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

#define STORE_TIME_LEN     32 /* RFC 3339 UTC with milliseconds, "" when NULL */
#define STORE_ERROR_LEN    1025
#define STORE_HOSTNAME_LEN 254
#define STORE_IP_LEN       46
#define STORE_OWNER_LEN    129

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
};

struct release {
	int64_t id;
	int64_t version;
	enum release_status status;
	int batch_size;
	int batch_count;
	int total_nodes;
	int success_nodes;
	int failed_nodes;
	char idem_token[17];
	char owner[STORE_OWNER_LEN];
	char created_by[STORE_OWNER_LEN];
	char created_at[STORE_TIME_LEN];
	char started_at[STORE_TIME_LEN];
	char finished_at[STORE_TIME_LEN];
	char error_msg[STORE_ERROR_LEN];
};

struct release_node {
	int64_t id; /* release_task_nodes.id */
	int64_t node_id;
	char hostname[STORE_HOSTNAME_LEN];
	char node_ip[STORE_IP_LEN];
	int agent_port;
	int batch;
	enum node_status status;
	char task_id[65];
	char started_at[STORE_TIME_LEN];
	char finished_at[STORE_TIME_LEN];
	char error_msg[STORE_ERROR_LEN];
};

/* ---- nodes ---- */

/* Inserts a node for principal. CMDB_ECONFLICT when ip+agent_port is already registered. */
int store_node_create(struct db_conn *c, const char *hostname, const char *ip, int agent_port,
                      enum node_health status, const char *principal, struct node *out, char *err,
                      size_t errlen);
int store_node_get(struct db_conn *c, int64_t id, struct node *out, char *err, size_t errlen);
/* All nodes ordered by id; *out is malloc'd, the caller frees it. */
int store_node_list(struct db_conn *c, struct node **out, size_t *n, char *err, size_t errlen);
/* Sets online/offline as principal; CMDB_ENOTFOUND for an unknown id. out: the new row. */
int store_node_set_status(struct db_conn *c, int64_t id, enum node_health status,
                          const char *principal, struct node *out, char *err, size_t errlen);

/* ---- releases: API side ---- */

/*
 * Creates a pending release of version to node_ids (n of them, distinct), or to every
 * online node when n is 0, ordered by node id and cut into batches of batch_size.
 * CMDB_EINVAL with err naming the node when one is unknown or offline, or when the
 * selection is empty. principal is recorded as created_by. All or nothing: one
 * transaction.
 */
int store_release_create(struct db_conn *c, int64_t version, int batch_size,
                         const int64_t *node_ids, size_t n, const char *principal,
                         struct release *out, char *err, size_t errlen);
int store_release_get(struct db_conn *c, int64_t id, struct release *out, char *err, size_t errlen);
/* Newest first; status < 0 means any. *out is malloc'd, the caller frees it. */
int store_release_list(struct db_conn *c, int status, int limit, struct release **out, size_t *n,
                       char *err, size_t errlen);
/*
 * The release's nodes ordered by batch then node id, only those in status when
 * status >= 0 (an enum node_status); *out malloc'd, caller frees.
 */
int store_release_nodes(struct db_conn *c, int64_t release_id, int status,
                        struct release_node **out, size_t *n, char *err, size_t errlen);

/* How many nodes of one batch are in each status. */
struct batch_counts {
	int batch;
	int count[NODE_STATUS_COUNT];
	int total;
};

/* Per-batch counts in batch order, read from an index; *out malloc'd, caller frees. */
int store_release_batch_counts(struct db_conn *c, int64_t release_id, struct batch_counts **out,
                               size_t *n, char *err, size_t errlen);

/* ---- releases: executor side ---- */

/*
 * Claims one release for owner: the oldest pending one (UPDATE ... WHERE id=? AND
 * status='pending'), else one whose owner's lease expired before it finished. On
 * success *id is set and the lease runs for lease_s seconds. CMDB_ENOTFOUND: nothing
 * to do (or another controller won every race).
 */
int store_release_claim(struct db_conn *c, const char *owner, int lease_s, int64_t *id, char *err,
                        size_t errlen);

/* One state change of one node, stamped with the time it happened. */
struct node_change {
	int64_t rtn_id;
	enum node_status to;   /* NODE_RUNNING with task_id set only records the task id */
	int64_t at_ms;         /* wall-clock ms, for started_at / finished_at */
	const char *task_id;   /* optional */
	const char *error_msg; /* NODE_FAILED */
};

/* What one round of the runner writes, in one transaction. */
struct release_round {
	const struct node_change *changes;
	size_t nchanges;
	const char *fail_msg; /* non-NULL: the release fails now; pending nodes are skipped */
	int finish;           /* non-zero: the release is over: status, finished_at, lease off */
	enum release_status final_status; /* with finish */
	int64_t at_ms;
};

/*
 * Applies a round if owner still holds the release, renewing the lease for lease_s.
 * Each change applies only from its expected prior state, and success_nodes /
 * failed_nodes move by exactly the rows that changed, in the same transaction.
 * CMDB_ECONFLICT: the lease is no longer ours; nothing was written.
 */
int store_release_apply(struct db_conn *c, int64_t release_id, const char *owner, int lease_s,
                        const struct release_round *round, char *err, size_t errlen);

/* Ends owner's lease now so that any controller may resume the release at once. */
int store_release_unlease(struct db_conn *c, int64_t release_id, const char *owner, char *err,
                          size_t errlen);

#endif
