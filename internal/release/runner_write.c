/*
 * runner_write: a runner's writes. Everything a runner gathers (node changes, a change
 * of status, its phase's end, timeline events) goes to the database in one transaction
 * (store_release_apply) that first checks this controller still owns the release and
 * that its status is the one the runner believes; so an operator's pause or cancel wins
 * over any write the runner had not made yet.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "release/runner_internal.h"

int64_t release_run_next_write(const struct run *r)
{
	struct release_write_view w = {
	    .urgent = r->v.event >= 0 || (r->v.phase != RUN_DRIVING && !release_run_gone(r)),
	    .intents = r->nintents,
	    .unwritten = r->nchanges + r->nnotes,
	    .calls = r->calls,
	    .last_write = r->last_write,
	    .first_unwritten = r->first_unwritten,
	    .lease_s = r->cfg->lease_s,
	};

	return release_next_write(&w);
}

int release_run_flush_due(const struct run *r, int64_t now_ms)
{
	return !release_run_gone(r) && now_ms >= release_run_next_write(r);
}

/*
 * Intents the store refused at dispatch (node offline, moved, or changed since): those
 * nodes were written skipped and are never sent.
 */
static void skip_refused(struct run *r, const int64_t *ids, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		for (size_t i = r->first; i < r->n; i++) {
			struct rnode *x = &r->nodes[i];

			if (x->rtn_id != ids[k] || x->status != NODE_RUNNING || x->has_task)
				continue;
			release_run_set_status(r, x, NODE_SKIPPED);
			x->started_wall = 0;
			agent_call_free(&x->call); /* a connection opened ahead, if any */
			log_rel(LOG_INFO, "runner", r->id, x->node_id,
			        "release %lld: node %lld (%s) skipped at dispatch: it is"
			        " offline, moved, or changed since",
			        (long long)r->id, (long long)x->node_id, x->call.ip);
			break;
		}
	}
}

/* After a committed write: what it changed in memory, and the log lines it deserves. */
static void written(struct run *r, const struct release_round *round)
{
	enum run_phase was = r->v.phase;

	r->last_write = r->last_seen = now_mono_ms();
	skip_refused(r, round->refused, round->nrefused);
	if (round->rollback_id)
		log_rel(LOG_INFO, "runner", r->id, 0,
		        "release %lld: rollback release %lld created (auto_rollback)",
		        (long long)r->id, (long long)round->rollback_id);
	if (r->v.event == RELEASE_EV_PLAN_PAUSE)
		r->paused_through = r->event_batch;
	r->v.status = release_effective(&r->v);
	if (r->v.event >= 0)
		log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: %s%s%s", (long long)r->id,
		        release_status_name(r->v.status), r->event_msg[0] ? ": " : "",
		        r->v.event == RELEASE_EV_HALT || r->v.event == RELEASE_EV_PLAN_PAUSE
		            ? r->event_msg
		            : "");
	r->v.event = -1;
	r->event_msg[0] = r->skip_msg[0] = '\0';
	r->nchanges = r->nintents = r->nnotes = 0;
	r->v.phase = release_phase_next(was, RUN_EV_WRITTEN);
	if (was == RUN_STOPPING)
		log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: stopped, lease handed back",
		        (long long)r->id);
	else if (was == RUN_HANDING_BACK)
		log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: %s, lease handed back",
		        (long long)r->id, release_status_name(r->v.status));
}

enum run_flush_result release_run_flush(struct run *r, struct db_conn *c, char *err, size_t errlen)
{
	enum release_status actual = r->v.status;
	enum run_phase phase = r->v.phase;
	struct release_round round = {
	    .rollback_of = r->rollback_of,
	    .expect = r->v.status,
	    .changes = r->changes,
	    .nchanges = r->nchanges,
	    .event = r->v.event,
	    .event_msg = r->event_msg,
	    .skip_msg = r->skip_msg[0] ? r->skip_msg : NULL,
	    .paused_through = r->event_batch,
	    .finish = phase == RUN_ENDING,
	    .handback = phase == RUN_HANDING_BACK || phase == RUN_STOPPING,
	    .at_ms = now_wall_ms(),
	    .refused = r->refused,
	    .events = r->notes,
	    .nevents = r->nnotes,
	};
	struct db_tally since = db_tally(c);
	int rc;

	rc = store_release_apply(c, r->id, r->owner, r->cfg->lease_s, &round, &actual, err, errlen);
	release_run_charge(r, c, since);
	if (rc == CMDB_ESTATE) {
		release_run_adopt(r, actual);
		r->last_seen = now_mono_ms();
		return RUN_RETRY;
	}
	if (rc == CMDB_ECONFLICT) {
		release_run_lose(r);
		return RUN_LOST;
	}
	if (rc == CMDB_ERETRY) {
		/* Rolled back whole after losing a race (a deadlock, a certification failure). */
		metrics_db_tx_retry();
		log_rel(LOG_INFO, "runner", r->id, 0,
		        "release %lld: %s; running the transaction again", (long long)r->id, err);
		return RUN_RETRY;
	}
	if (rc)
		return RUN_DB_DOWN;
	written(r, &round);
	return RUN_FLUSHED;
}

void release_run_stop(struct run *r, struct agentclient *ac, struct db_conn *c)
{
	char err[256];

	if (release_run_gone(r))
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->nodes[i].inflight) {
			agentclient_abort(ac, &r->nodes[i].call);
			r->nodes[i].inflight = 0;
			r->calls--;
		}
	}
	/* A release whose end is decided is written as finished, not handed back. */
	r->v.phase = release_phase_next(r->v.phase, RUN_EV_STOP);
	/* One more try if an operator's change came first; after that the lease runs out. */
	for (int tries = 0; tries < 2 && !release_run_gone(r); tries++) {
		enum run_flush_result rc = release_run_flush(r, c, err, sizeof(err));

		if (rc == RUN_RETRY) {
			r->v.phase = release_phase_next(r->v.phase, RUN_EV_STOP);
			continue;
		}
		if (rc != RUN_FLUSHED)
			log_rel(LOG_WARN, "runner", r->id, 0,
			        "release %lld: could not hand the lease back (%s); it"
			        " expires by itself",
			        (long long)r->id, err);
		break;
	}
	r->v.phase = release_phase_next(r->v.phase, RUN_EV_ABANDON);
}
