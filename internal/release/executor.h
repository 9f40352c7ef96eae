/*
 * executor: one thread, one event loop, many releases (the RunLoop of
 * docs/B0-01-03-DELIVERY.md). Every
 * RELEASE_EXECUTOR_INTERVAL seconds it expires releases that missed their expires_at
 * and claims work with conditional UPDATEs (one affected row means it is ours): pending
 * releases that may start, and releases whose owner went away. It drives up to
 * RELEASE_MAX_ACTIVE of them at once, stepping each one's runner, sharing one libcurl
 * multi handle and RELEASE_MAX_INFLIGHT calls among them, and reads their status from
 * the database often enough to obey a pause or cancel within a second. The executor owns
 * its database connection (only this file opens it) and never formats HTTP.
 */
#ifndef CMDB_EXECUTOR_H
#define CMDB_EXECUTOR_H

#include <stddef.h>

#include "config/config.h"

struct release_executor;

/* Sets up the agent client (agentclient_new reads and checks the TLS files now). */
struct release_executor *release_executor_new(const struct config *cfg, char *err, size_t errlen);
void release_executor_free(struct release_executor *ex);

/*
 * One turn of the loop (the RunOnce of docs/B0-01-03-DELIVERY.md): scans for work when due, writes
 * and starts what every release it drives needs, and waits for agent answers until the next
 * deadline (at most a quarter of a second). Returns how many releases it drives.
 */
int release_executor_run_once(struct release_executor *ex);

/* Starts the loop thread (the RunLoop: run_once until stopped). Returns 0 or -1. */
int release_executor_start(struct release_executor *ex);
/*
 * Asks the loop to stop, hands every release it drives back (calls in flight are
 * abandoned and resumed from the rows by the next owner), and joins the thread.
 */
void release_executor_stop(struct release_executor *ex);

/* Makes the loop read the agent certificates again (SIGHUP); thread-safe. */
void release_executor_reload(struct release_executor *ex);

/* Makes the loop scan for work now instead of at its next interval; thread-safe. */
void release_executor_wake(struct release_executor *ex);

#endif
