/*
 * store/releases: a release and its nodes as the store hands them out, and the reads the
 * API makes of them (release_views.c; store_release_waiting_for in release_control.c).
 */
#ifndef CMDB_STORE_RELEASES_H
#define CMDB_STORE_RELEASES_H

#include "labels/labels.h"
#include "plan/plan.h"
#include "selector/selector.h"
#include "state/state.h"
#include "store/common.h"

struct release {
	int64_t id;
	int64_t version;
	enum release_status status;
	int batch_size; /* 0 when it was made with a "batches" plan */
	int batch_count;
	int total_nodes;
	int success_nodes;
	int failed_nodes;
	char batch_plan[PLAN_TEXT_MAX];  /* "1,5,20%,50" */
	char pause_after[PLAN_TEXT_MAX]; /* "1,3", "" when none */
	int paused_through;              /* highest pause_after batch it paused at */
	char paused_reason[STORE_REASON_LEN];
	int max_failures;        /* -1 when not given */
	int max_failure_percent; /* -1 when not given */
	int failure_allowance;
	char not_before[STORE_TIME_LEN];
	char expires_at[STORE_TIME_LEN];
	char idem_token[17];
	char owner[STORE_OWNER_LEN];
	char created_by[STORE_OWNER_LEN];
	char updated_by[STORE_OWNER_LEN];
	char created_at[STORE_TIME_LEN];
	char updated_at[STORE_TIME_LEN];
	char started_at[STORE_TIME_LEN];
	char finished_at[STORE_TIME_LEN];
	char error_msg[STORE_ERROR_LEN];
	int64_t rollback_of;    /* the release this one rolls back; 0: it is no rollback */
	int64_t rolled_back_by; /* the rollback release of this one; 0: none */
	char rollback_reason[STORE_REASON_LEN];
	int auto_rollback; /* a failure creates the rollback release at once */
	int approval_required;
	char approval_reason[STORE_REASON_LEN];
	char approved_by[STORE_OWNER_LEN];
	char approved_at[STORE_TIME_LEN];
	char rejected_by[STORE_OWNER_LEN];
	char rejected_at[STORE_TIME_LEN];
	char approval_comment[STORE_ERROR_LEN];
	char selector[SELECTOR_TEXT_MAX + 1]; /* the text it was made from; "" when none */
	char group_by[LABEL_KEY_MAX + 1];     /* the label key of its groups; "" when none */
	int pause_between_groups;             /* it pauses (group_done) after each group */
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
	int64_t version;          /* what this node applies */
	int64_t previous_version; /* what it ran before (at creation, then at dispatch); 0: none */
};

int store_release_get(struct db_conn *c, int64_t id, struct release *out, char *err, size_t errlen);
/* Newest first; status < 0 means any. *out is malloc'd, the caller frees it. */
int store_release_list(struct db_conn *c, int status, int limit, struct release **out, size_t *n,
                       char *err, size_t errlen);
/*
 * The release's nodes ordered by batch then position, only those in status when
 * status >= 0 (an enum node_status); *out malloc'd, caller frees.
 */
int store_release_nodes(struct db_conn *c, int64_t release_id, int status,
                        struct release_node **out, size_t *n, char *err, size_t errlen);

/* A group of a release cut by group_by: its value of the label, and its batches. */
struct release_group {
	int has_value; /* 0: the nodes without the label (always the last group) */
	char value[LABEL_VALUE_MAX + 1];
	int first_batch; /* 1-based */
	int batches;
	int nodes;
};

/*
 * The groups of a release in the order they run; none (*n = 0) when it was not made with
 * group_by. *out malloc'd, caller frees.
 */
int store_release_groups(struct db_conn *c, int64_t release_id, struct release_group **out,
                         size_t *n, char *err, size_t errlen);

/* The index in groups of the group that holds batch (1-based), or -1. */
int store_group_of(const struct release_group *groups, size_t n, int batch);

/* A node a release left out, and why ("offline"). */
struct left_out_node {
	int64_t node_id;
	char hostname[STORE_HOSTNAME_LEN];
	char node_ip[STORE_IP_LEN];
	int agent_port;
	char reason[33];
};

/*
 * The matches of a release's selector it left out at its creation, by node id; none for
 * a release without a selector. *out malloc'd, caller frees.
 */
int store_release_left_out(struct db_conn *c, int64_t release_id, struct left_out_node **out,
                           size_t *n, char *err, size_t errlen);

/* How many nodes of one batch are in each status. */
struct batch_counts {
	int batch;
	int count[NODE_STATUS_COUNT];
	int total;
};

/* Per-batch counts in batch order, read from an index; *out malloc'd, caller frees. */
int store_release_batch_counts(struct db_conn *c, int64_t release_id, struct batch_counts **out,
                               size_t *n, char *err, size_t errlen);

/*
 * The lowest unfinished release created before id that shares a node with it: id may
 * not start before that one ends. *waiting = 0 when there is none.
 */
int store_release_waiting_for(struct db_conn *c, int64_t id, int64_t *waiting, char *err,
                              size_t errlen);

#endif
