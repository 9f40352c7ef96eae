/*
 * runner: the state machine of one claimed release, as steps that the executor's event
 * loop calls for many releases at once (docs/architecture.md, "A release's life"). Batches run
 * strictly in order; inside the current batch pending nodes are dispatched concurrently and then
 * polled until their agents report an end. What the release may do next comes from the
 * state table (state/state.h): only a running release dispatches new nodes; a paused,
 * failed or cancelled one follows the calls it already started to their real end.
 *
 * Every change is gathered in memory and written by release_run_flush in one transaction that
 * first checks this controller still owns the release and that its status is the one
 * the runner believes; a pause or cancel by an operator therefore wins over any write
 * the runner had not made yet, and a node's dispatch intent is on disk before its
 * request is sent.
 */
#ifndef CMDB_RUNNER_H
#define CMDB_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "agentclient/agentclient.h"
#include "config/config.h"
#include "db/db.h"
#include "state/state.h"

struct run;

/*
 * Loads release id, which the caller has just claimed for owner, from its rows. The
 * runner reads its settings (RELEASE_LEASE_SECONDS, RELEASE_POLL_*, RELEASE_NODE_*) from
 * cfg, and keeps cfg and owner (both must outlive it). Returns 0 with *out set (free with
 * release_run_free), or a negative code with err set.
 */
int release_run_load(struct db_conn *c, const struct config *cfg, const char *owner, int64_t id,
                     struct run **out, char *err, size_t errlen);

/* Abandons the calls still in flight (they are resumed from the rows) and frees r. */
void release_run_free(struct run *r, struct agentclient *ac);

int64_t release_run_id(const struct run *r);

/*
 * Decides what r does next: a plan pause at a batch boundary, the end of the release, or
 * handing a drained paused release back. Then marks up to room pending nodes of the
 * current batch as dispatching (their intents are written by the next release_run_flush).
 * Returns how many call slots those nodes, and ones intended earlier but not yet sent,
 * need.
 */
size_t release_run_plan(struct run *r, size_t room);

/* 1 when r has something it must write now (or its lease needs renewing). */
int release_run_flush_due(const struct run *r, int64_t now_ms);
/* The monotonic ms at which r will next have something to write, if nothing happens. */
int64_t release_run_next_write(const struct run *r);

enum run_flush_result {
	RUN_FLUSHED = 0, /* written; r goes on (or release_run_gone(r) says it is over) */
	RUN_RETRY,       /* an operator changed the release first (r adjusted), or the write lost a
	                    race with another transaction: write again */
	RUN_LOST,        /* another controller owns it, or it finished: drop r */
	RUN_DB_DOWN,     /* the database failed; nothing was written, r keeps its changes */
};

/* Writes what r gathered in one transaction. err is set for RUN_LOST and RUN_DB_DOWN. */
enum run_flush_result release_run_flush(struct run *r, struct db_conn *c, char *err, size_t errlen);

/*
 * Starts r's due calls (dispatches of written intents, polls, retries) while the
 * client has fewer than cap calls in flight. Nothing starts while r has unwritten
 * intents or an unwritten change of status. Returns ms until r next needs a call.
 */
int64_t release_run_start_calls(struct run *r, struct agentclient *ac, size_t cap, int64_t now_ms);

/* Takes a completed call (started by some run; call->user finds it). */
void release_run_complete(struct agent_call *call);

/*
 * Tells r the status its release has in the database, read outside a round (the
 * executor's periodic control check). r adjusts: a pause or cancel stops new
 * dispatches at once; a resume makes r hand the release back to be claimed again.
 */
void release_run_observe(struct run *r, enum release_status status, int64_t now_ms);

/* When r last had its status confirmed by the database (monotonic ms). */
int64_t release_run_last_seen(const struct run *r);

/* 1 once r is over for this controller: finished, handed back, or lost. */
int release_run_gone(const struct run *r);

/* r's release is no longer ours (another controller owns it, or it finished): r is gone. */
void release_run_lose(struct run *r);

/* Stops r for a shutdown: abandons its calls, writes what it gathered, hands it back. */
void release_run_stop(struct run *r, struct agentclient *ac, struct db_conn *c);

/* For the executor's log line when r is gone: its status, counts and SQL statements. */
struct release_run_summary {
	enum release_status status;
	int finished; /* terminal and written as finished (not handed back or lost) */
	size_t nodes, success, failed;
	uint64_t statements;
	uint64_t prepared;  /* of those, prepared on the server (the rest came from its cache) */
	int64_t claimed_ms; /* monotonic ms of its claim */
};
void release_run_summary(const struct run *r, struct release_run_summary *out);

/*
 * Charges r with the statements c ran since `since` on its behalf (its claim and load,
 * its share of reads, its rounds), and how many of them had to be prepared.
 */
void release_run_charge(struct run *r, const struct db_conn *c, struct db_tally since);

/* "cmdb-<token>-r<release>-n<node>": stable per (release, node), unique across databases. */
void release_idem_key(const char *token, int64_t release_id, int64_t node_id, char *buf,
                      size_t len);

#endif
