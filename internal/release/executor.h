/*
 * executor: finds work and hands it to the runner (seed 003: RunOnce / RunLoop).
 * Every interval it claims a pending release with a conditional UPDATE (affected
 * rows = 1 means it is ours), or one whose previous owner's lease expired, and
 * drives it to the end. The loop runs on its own thread with its own database
 * connection; it never formats HTTP.
 */
#ifndef CMDB_EXECUTOR_H
#define CMDB_EXECUTOR_H

#include <stddef.h>

#include "config/config.h"

struct release_executor;

/* Sets up the agent client (TLS files are checked by libcurl on first use). */
struct release_executor *release_executor_new(const struct config *cfg, char *err, size_t errlen);
void release_executor_free(struct release_executor *ex);

/*
 * One scan: claims and drives releases until none is left. Returns how many it
 * drove, or a negative code (err set) when the database is unusable.
 */
int release_executor_run_once(struct release_executor *ex, char *err, size_t errlen);

/* Starts the loop thread (RunLoop). Returns 0 or -1. */
int release_executor_start(struct release_executor *ex);
/* Asks the loop to stop, hands back the current release's lease, joins the thread. */
void release_executor_stop(struct release_executor *ex);

#endif
