/*
 * simtask: the simulated agents' memory of tasks and idempotency keys, and the apply
 * log that tests read to prove what was applied. One mutex guards everything; the work
 * under it is a hash lookup, so 2,000 nodes polling at once do not contend for long.
 */
#ifndef CMDB_SIMTASK_H
#define CMDB_SIMTASK_H

#include <stdint.h>
#include <stdio.h>

#include "simnode.h"

/* The protocol's status values; the names come only from simtask_status_name(). */
enum simtask_status {
	SIMTASK_QUEUED = 0,
	SIMTASK_RUNNING,
	SIMTASK_SUCCESS,
	SIMTASK_FAILED,
	SIMTASK_STATUS_COUNT
};

/* Task ids are "t<node index>-<counter>": at most this long with the terminator. */
#define SIMTASK_ID_MAX 48

enum simtask_outcome {
	SIMTASK_CREATED = 0, /* a new task: the node applies the config */
	SIMTASK_REPLAYED,    /* the key was seen with the same body: the original task */
	SIMTASK_CONFLICT,    /* the key was seen with a different body: nothing happens */
};

struct simtask_store;

/*
 * Creates a store for node_count nodes. applylog, if not NULL, receives the apply and
 * replay lines; the caller keeps ownership and closes it after simtask_store_free().
 * Returns NULL when out of memory.
 */
struct simtask_store *simtask_store_new(size_t node_count, FILE *applylog);

void simtask_store_free(struct simtask_store *s);

/*
 * Handles a dispatch of config version to node with an optional idempotency key (NULL
 * when absent). On SIMTASK_CREATED and SIMTASK_REPLAYED the task id is copied to id
 * (at least SIMTASK_ID_MAX bytes). Writes to the apply log, exactly one line:
 *   apply node=IP:PORT task=ID version=V key=KEY     (KEY is "-" when absent)
 *   replay node=IP:PORT task=ID key=KEY
 * and nothing on a conflict. Returns the outcome, or -1 when out of memory.
 */
int simtask_dispatch(struct simtask_store *s, const struct simnode *node, int64_t version,
                     const char *key, char *id, size_t idlen);

/*
 * Looks up task id on node (a task of another node is unknown here) and sets *created_us
 * to its dispatch time on the simtask_now_us() clock and *version to the version it
 * applies. Returns 0, or -1 when unknown.
 */
int simtask_find(struct simtask_store *s, const struct simnode *node, const char *id,
                 int64_t *created_us, int64_t *version);

/*
 * The status of a task of node that was dispatched age_us ago: queued for the first
 * fifth of the node's delay, running until the delay is over, then success or failed.
 */
enum simtask_status simtask_status_at(const struct simnode *node, int64_t age_us, int64_t version);

const char *simtask_status_name(enum simtask_status st);

/* Microseconds of CLOCK_MONOTONIC. */
int64_t simtask_now_us(void);

#endif
