/*
 * runner: the state machine of one claimed release (seed 003, "batch advance").
 * Batches run strictly in order; inside the current batch every pending node is
 * dispatched concurrently (up to max_inflight) and then polled until terminal. The
 * first node failure fails the release at once: nothing more is dispatched, every
 * node not yet dispatched is skipped, and nodes already in flight are followed to
 * their own end. All state lives in the database, so a release can be resumed by
 * any controller from the rows alone.
 */
#ifndef CMDB_RUNNER_H
#define CMDB_RUNNER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "agentclient/agentclient.h"
#include "db/db.h"

struct runner_config {
	const char *owner; /* this controller's lease owner id */
	int lease_s;
	int max_inflight;           /* concurrent agent calls */
	int poll_interval_ms;       /* first poll after a dispatch */
	int poll_max_ms;            /* poll back-off ceiling */
	int node_retries;           /* retries of a transient agent error before the node fails */
	int node_timeout_s;         /* a node's task must end this long after its dispatch */
	const struct db_config *db; /* to reconnect after a lost connection */
};

enum runner_outcome {
	RUNNER_FINISHED = 0, /* the release reached success or failed */
	RUNNER_STOPPED,      /* *stop was set; the lease was handed back */
	RUNNER_LEASE_LOST,   /* another controller owns it now; we touched nothing more */
};

/*
 * Drives release_id, which the caller has claimed for cfg->owner, until an outcome.
 * Returns an enum runner_outcome, or a negative code with err set when the release
 * could not even be loaded.
 */
int release_runner_run(struct db_conn *conn, struct agentclient *ac,
                       const struct runner_config *cfg, int64_t release_id, const atomic_int *stop,
                       char *err, size_t errlen);

/* "cmdb-<token>-r<release>-n<node>": stable per (release, node), unique across databases. */
void release_idem_key(const char *token, int64_t release_id, int64_t node_id, char *buf,
                      size_t len);

#endif
