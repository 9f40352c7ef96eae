/*
 * store/release_create: a new release (release_create.c): the nodes cut into batches by its
 * plan, the approval policy, and the dry run that writes nothing.
 */
#ifndef CMDB_STORE_RELEASE_CREATE_H
#define CMDB_STORE_RELEASE_CREATE_H

#include "plan/plan.h"
#include "store/releases.h"

/* When a new release must wait for a second principal's approval (RELEASE_APPROVAL_*). */
struct approval_policy {
	int min_nodes;   /* more nodes than this need approval; 0: no such rule */
	int min_percent; /* more than this percentage of the online nodes; 0: no such rule */
};

/* What an operator asks for with POST /api/v1/releases. */
struct release_request {
	int64_t version;
	const struct release_plan *plan;
	const int64_t
	    *node_ids; /* in the order given: batch 1 takes the first; n == 0: all online */
	size_t n;
	const struct selector *sel; /* instead of node_ids: the online nodes it matches */
	const char *selector_text;  /* sel as given, kept with the release */
	const char *group_by;       /* a label key: the nodes are cut group by group; NULL: not */
	int pause_between_groups;   /* pause (group_done) after each group but the last */
	int auto_rollback;          /* a failure creates its rollback release at once */
	int require_approval;       /* asked for explicitly */
	struct approval_policy policy;
	struct store_idem idem;
};

/*
 * Creates a release: checks that each node exists and is online (CMDB_EINVAL naming the
 * node otherwise, or when there is no node at all, or when pause_after names a batch the
 * cut does not have), or takes the online nodes the selector matches in id order (none:
 * CMDB_EINVAL saying so; the offline matches are recorded as left out), cuts the nodes
 * into batches by the plan (group by group with group_by), records each node's current
 * config version as its previous_version, and writes it all in one transaction.
 * It is pending, or awaiting_approval when asked or when the policy says so. An
 * Idempotency-Key already used by the principal answers the release it made
 * (*replayed = 1) or CMDB_EMISMATCH.
 */
int store_release_create(struct db_conn *c, const struct release_request *rq, struct release *out,
                         int *replayed, char *err, size_t errlen);

/* A node as a dry run lists it. */
struct preview_node {
	int64_t id;
	char hostname[STORE_HOSTNAME_LEN];
	char ip[STORE_IP_LEN];
	int agent_port;
	int batch;
};

/* What store_release_create would write; nothing is written. */
struct release_preview {
	int total;
	int batch_count;
	int *sizes;                 /* batch_count entries */
	struct preview_node *nodes; /* total entries, in batch order */
	size_t n;
	struct preview_node *left_out; /* offline nodes it leaves out: of the fleet, or matches */
	size_t nleft;
	struct release_group *groups; /* with group_by, in the order they run */
	size_t ngroups;
	int allowance;
	int64_t waiting_for; /* an unfinished release that shares a node; 0 when none */
	int approval_required;
	char approval_reason[STORE_REASON_LEN];
};

/* The dry run of store_release_create: same checks, same cut, no write. */
int store_release_preview(struct db_conn *c, const struct release_request *rq,
                          struct release_preview *out, char *err, size_t errlen);
void store_release_preview_free(struct release_preview *p);

#endif
