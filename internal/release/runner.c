/*
 * runner: one release's state machine, stepped by the executor. A node's intent
 * ("running", no task yet) is committed before its dispatch is sent, so a crash never
 * loses a dispatch: the next owner re-sends it with the same Idempotency-Key and the
 * agent answers with the original task instead of applying twice.
 */
#include "release/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backoff.h"
#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "plan/plan.h"
#include "release/poll.h"
#include "store/store.h"

/*
 * Task ids and successes wait at most this long to be written (intents and changes of
 * status go at once): one transaction per interval however many agents answered in it.
 * The wait starts at the oldest unwritten change, not at the last write, so that the
 * first success of a batch does not cost a write of its own just before the batch ends
 * and the next one's intents are written with the rest of its successes.
 */
#define FLUSH_MS 100
/*
 * While a release has calls in flight, its intents are written at most this often: a
 * batch larger than RELEASE_MAX_INFLIGHT gets its slots back one answer at a time, and a
 * write per freed slot (a commit each, on the thread that drives every connection) kept
 * the handshakes of a 10,000-node release waiting. With nothing in flight they go at once.
 */
#define INTENT_GATHER_MS 50
/* What run_start_calls answers when nothing is due. */
#define IDLE_MS 1000

struct rnode {
	struct run *run;
	int64_t rtn_id;
	int64_t node_id;
	int64_t version; /* what this node applies (a rollback gives each its own) */
	int batch;
	enum node_status status;
	int has_task;
	int inflight;
	int64_t dispatched_at; /* monotonic ms the dispatch that created the task was sent */
	int dispatch_seen;     /* this runner sent that dispatch: dispatched_at is exact */
	int64_t next_poll;     /* monotonic ms */
	int64_t answered_at;   /* monotonic ms of the answer next_poll was planned from */
	int64_t started_wall;  /* wall ms of the intent (started_at), for the node deadline */
	int64_t not_before;    /* monotonic ms; no call before this (retry back-off) */
	int64_t call_started;  /* monotonic ms the call in flight was started */
	int attempts;          /* transient failures of the current call in a row */
	int ahead;             /* a connection was opened ahead for it (once at most) */
	char hostname[STORE_HOSTNAME_LEN];
	char error[512];
	struct agent_call call; /* ip, port and task_id live here */
};

struct run {
	const struct config *cfg; /* RELEASE_* settings */
	const char *owner;        /* this controller's lease owner id */
	int64_t id;
	int64_t version;
	int64_t rollback_of; /* the release this one rolls back; 0 none */
	char token[17];
	/*
	 * The status the database last confirmed. A change this runner decided but has not
	 * written yet is `event`; the status it leads to is effective(r).
	 */
	enum release_status status;
	int event; /* enum release_event, or -1 */
	char event_msg[STORE_ERROR_LEN];
	char skip_msg[STORE_ERROR_LEN];
	int event_batch;     /* RELEASE_EV_PLAN_PAUSE: the batch it pauses after */
	int handback;        /* give the release up with the next write */
	int finish;          /* the release is over; the next write says so */
	int gone;            /* over for this controller */
	int finished;        /* gone because it was written as finished */
	int stopping;        /* the controller shuts down */
	struct rnode *nodes; /* in batch order, then the order the operator gave */
	size_t n;
	size_t first; /* nodes before this index are all terminal */
	size_t count[NODE_STATUS_COUNT];
	int allowance; /* failed nodes tolerated */
	int pauses[PLAN_PAUSES_MAX];
	size_t npauses;
	int paused_through; /* highest pause_after batch at which it already paused */
	struct node_change *changes;
	size_t nchanges;
	int64_t *refused; /* room for the store to name intents its dispatch check refused */
	struct store_event *notes; /* timeline events to write with the next round */
	size_t nnotes, notes_cap;
	int last_batch_started; /* the highest batch this runner recorded as started */
	char batch_note[64];
	size_t nintents;         /* intents among the changes */
	int64_t last_write;      /* monotonic ms of the last committed round */
	int64_t first_unwritten; /* monotonic ms of the oldest change or note not written */
	size_t calls;            /* its agent calls in flight */
	int64_t last_seen;       /* monotonic ms the status was last confirmed */
	int64_t claimed_ms;
	struct poll_estimate est; /* what this release's applies have taken */
	uint64_t statements;
	uint64_t prepared; /* of the statements, those not taken from the connection's cache */
	unsigned int seed; /* for retry jitter */
};

void release_idem_key(const char *token, int64_t release_id, int64_t node_id, char *buf, size_t len)
{
	snprintf(buf, len, "cmdb-%s-r%lld-n%lld", token, (long long)release_id, (long long)node_id);
}

int64_t run_id(const struct run *r)
{
	return r->id;
}

int64_t run_last_seen(const struct run *r)
{
	return r->last_seen;
}

int run_gone(const struct run *r)
{
	return r->gone;
}

void run_charge(struct run *r, const struct db_conn *c, struct db_tally since)
{
	r->statements += c->statements - since.statements;
	r->prepared += c->prepares - since.prepares;
}

static enum release_status effective(const struct run *r)
{
	int to = r->event >= 0 ? release_next(r->status, (enum release_event)r->event) : -1;

	return to >= 0 ? (enum release_status)to : r->status;
}

static void set_status(struct run *r, struct rnode *x, enum node_status to)
{
	r->count[x->status]--;
	r->count[to]++;
	x->status = to;
	if (to == NODE_SKIPPED)
		metrics_node_outcome(OUTCOME_SKIPPED, 1);
}

/* Before a change or note is added: the first one since the last write starts FLUSH_MS. */
static void mark_unwritten(struct run *r)
{
	if (!r->nchanges && !r->nnotes)
		r->first_unwritten = now_mono_ms();
}

static void add_change(struct run *r, struct rnode *x, enum node_status to, const char *task_id,
                       const char *error_msg)
{
	/*
	 * Between two committed rounds a node gathers at most three changes (intent, task
	 * id, end), and no new intent is made while one is unwritten; the buffer holds 3 per
	 * node, so this guard only protects against a broken invariant.
	 */
	if (r->nchanges == 3 * r->n) {
		log_rel(LOG_ERROR, "runner", r->id, 0, "release %lld: change buffer full",
		        (long long)r->id);
		return;
	}
	mark_unwritten(r);
	r->changes[r->nchanges++] = (struct node_change){
	    .rtn_id = x->rtn_id,
	    .node_id = x->node_id,
	    .to = to,
	    .at_ms = now_wall_ms(),
	    .task_id = task_id,
	    .error_msg = error_msg,
	};
	r->nintents += to == NODE_RUNNING && !task_id;
}

/* Adds an event for the next round; detail must live until that round is written. */
static void add_note(struct run *r, int64_t node_id, const char *type, const char *detail)
{
	if (r->nnotes == r->notes_cap)
		return; /* a node retries at most once between rounds; more is dropped */
	mark_unwritten(r);
	r->notes[r->nnotes++] = (struct store_event){node_id, type, detail};
}

/*
 * Closes the connections opened ahead for pending nodes: the release stopped dispatching
 * (paused, cancelled, failed), so they may not be used before it goes on, if ever.
 */
static void close_ahead(struct run *r)
{
	for (size_t i = r->first; i < r->n; i++)
		if (r->nodes[i].status == NODE_PENDING && agent_call_connected(&r->nodes[i].call))
			agent_call_free(&r->nodes[i].call);
}

/* The pending nodes can never be dispatched any more (the API or a halt skipped them). */
static void skip_pending(struct run *r)
{
	close_ahead(r);
	for (size_t i = r->first; i < r->n; i++)
		if (r->nodes[i].status == NODE_PENDING)
			set_status(r, &r->nodes[i], NODE_SKIPPED);
}

/*
 * Takes back intents that are not on disk: the database refused the status they needed
 * (an operator paused or cancelled first), so those nodes were never dispatched.
 */
static void drop_intents(struct run *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->nchanges; i++) {
		struct node_change *ch = &r->changes[i];

		if (ch->to == NODE_RUNNING && !ch->task_id) {
			for (size_t j = r->first; j < r->n; j++) {
				if (r->nodes[j].rtn_id == ch->rtn_id) {
					set_status(r, &r->nodes[j], NODE_PENDING);
					r->nodes[j].started_wall = 0;
					break;
				}
			}
			continue;
		}
		r->changes[k++] = *ch;
	}
	r->nchanges = k;
	r->nintents = 0;
	/* Their batch did not start after all. */
	k = 0;
	for (size_t i = 0; i < r->nnotes; i++)
		if (strcmp(r->notes[i].type, "batch_started") != 0)
			r->notes[k++] = r->notes[i];
	if (k != r->nnotes)
		r->last_batch_started--;
	r->nnotes = k;
}

/* Decides the halt when failed nodes exceed the allowance (in memory; written next). */
static void halt_if_over(struct run *r, struct rnode *x, const char *why)
{
	enum release_status eff = effective(r);
	char allowance[96] = "";

	if (!plan_exceeds((int)r->count[NODE_FAILED], r->allowance) ||
	    release_next(eff, RELEASE_EV_HALT) < 0)
		return;
	if (r->allowance > 0)
		snprintf(allowance, sizeof(allowance),
		         "; %zu failed nodes exceed the allowance of %d", r->count[NODE_FAILED],
		         r->allowance);
	snprintf(r->event_msg, sizeof(r->event_msg), "batch %d, node %lld (%s %s:%d): %.700s%s",
	         x->batch, (long long)x->node_id, x->hostname, x->call.ip, x->call.port, why,
	         allowance);
	snprintf(r->skip_msg, sizeof(r->skip_msg),
	         "release failed: batch %d node %lld (%s): %.700s", x->batch, (long long)x->node_id,
	         x->hostname, why);
	r->event = RELEASE_EV_HALT;
	skip_pending(r);
}

static void fail_node(struct run *r, struct rnode *x, const char *why)
{
	str_copy(x->error, why, sizeof(x->error));
	set_status(r, x, NODE_FAILED);
	metrics_node_outcome(metrics_failure_class(why), 1);
	metrics_node_duration(now_mono_ms() - x->dispatched_at);
	agent_call_free(&x->call); /* its TLS state is not needed any more */
	add_change(r, x, NODE_FAILED, x->has_task ? x->call.task_id : NULL, x->error);
	log_rel(LOG_WARN, "runner", r->id, x->node_id, "release %lld: node %lld (%s) failed: %s",
	        (long long)r->id, (long long)x->node_id, x->call.ip, why);
	halt_if_over(r, x, why);
}

/* Fills the per-node state from the rows, and the counters the loop keeps. */
static int load_nodes(struct run *r, struct release_node *rows, size_t n)
{
	r->nodes = calloc(n ? n : 1, sizeof(*r->nodes));
	r->changes = calloc(n ? 3 * n : 1, sizeof(*r->changes));
	r->refused = calloc(n ? n : 1, sizeof(*r->refused));
	r->notes_cap = n + 2;
	r->notes = calloc(r->notes_cap, sizeof(*r->notes));
	if (!r->nodes || !r->changes || !r->refused || !r->notes)
		return CMDB_ENOMEM;
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		struct rnode *x = &r->nodes[i];

		x->run = r;
		x->rtn_id = rows[i].id;
		x->node_id = rows[i].node_id;
		x->version = rows[i].version;
		x->batch = rows[i].batch;
		x->status = rows[i].status;
		r->count[x->status]++;
		x->has_task = rows[i].task_id[0] != '\0';
		x->dispatched_at = now_mono_ms(); /* unknown after a resume: count from now */
		if (rows[i].started_at[0] && rfc3339_to_ms(rows[i].started_at, &x->started_wall))
			x->started_wall = now_wall_ms();
		str_copy(x->hostname, rows[i].hostname, sizeof(x->hostname));
		str_copy(x->call.ip, rows[i].node_ip, sizeof(x->call.ip));
		x->call.port = rows[i].agent_port;
		str_copy(x->call.task_id, rows[i].task_id, sizeof(x->call.task_id));
		x->call.user = x;
	}
	return 0;
}

int run_load(struct db_conn *c, const struct config *cfg, const char *owner, int64_t id,
             struct run **out, char *err, size_t errlen)
{
	struct release_node *rows = NULL;
	struct run *r = calloc(1, sizeof(*r));
	struct release rel;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (!r)
		return CMDB_ENOMEM;
	r->cfg = cfg;
	r->owner = owner;
	r->id = id;
	r->event = -1;
	r->seed = (unsigned int)now_wall_ms() ^ (unsigned int)id;
	r->claimed_ms = r->last_write = r->last_seen = now_mono_ms();
	rc = store_release_get(c, id, &rel, err, errlen);
	if (rc == 0 && plan_pauses_parse(rel.pause_after, r->pauses, &r->npauses)) {
		snprintf(err, errlen,
		         "release %lld: pause_after \"%.100s\" in the database is malformed",
		         (long long)id, rel.pause_after);
		rc = CMDB_ERR;
	}
	if (rc == 0)
		rc = store_release_nodes(c, id, -1, &rows, &n, err, errlen);
	if (rc == 0)
		rc = load_nodes(r, rows, n);
	free(rows);
	if (rc) {
		run_free(r, NULL);
		return rc;
	}
	r->version = rel.version;
	r->rollback_of = rel.rollback_of;
	str_copy(r->token, rel.idem_token, sizeof(r->token));
	r->status = rel.status;
	r->allowance = rel.failure_allowance;
	r->paused_through = rel.paused_through;
	/* A cancel or halt skipped the pending nodes in the same transaction. */
	log_rel(LOG_INFO, "runner", id, 0, "release %lld: driving %zu nodes (version %lld, %s)",
	        (long long)id, n, (long long)r->version, release_status_name(r->status));
	*out = r;
	return 0;
}

void run_free(struct run *r, struct agentclient *ac)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->nodes[i].inflight && ac)
			agentclient_abort(ac, &r->nodes[i].call);
		agent_call_free(&r->nodes[i].call);
	}
	free(r->nodes);
	free(r->changes);
	free(r->refused);
	free(r->notes);
	free(r);
}

/* Moves r->first past terminal nodes; returns the end of the current batch (or r->n). */
static size_t current_batch(struct run *r)
{
	size_t end;

	while (r->first < r->n && (r->nodes[r->first].status == NODE_SUCCESS ||
	                           r->nodes[r->first].status == NODE_FAILED ||
	                           r->nodes[r->first].status == NODE_SKIPPED))
		r->first++;
	for (end = r->first; end < r->n && r->nodes[end].batch == r->nodes[r->first].batch; end++)
		;
	return end;
}

/* 1 when some node of the batch at [begin, end) was ever dispatched. */
static int batch_started(const struct run *r, size_t begin, size_t end)
{
	for (size_t i = begin; i < end; i++)
		if (r->nodes[i].status != NODE_PENDING && r->nodes[i].status != NODE_SKIPPED)
			return 1;
	return 0;
}

/* The highest pause_after batch below batch that the release has not paused at yet. */
static int due_pause(const struct run *r, int batch)
{
	int due = 0;

	for (size_t i = 0; i < r->npauses; i++)
		if (r->pauses[i] > r->paused_through && r->pauses[i] < batch)
			due = r->pauses[i];
	return due;
}

/* The end of the release: every node is terminal and nothing is in flight. */
static void decide_end(struct run *r)
{
	enum release_status eff = effective(r);

	if (release_next(eff, RELEASE_EV_SUCCEED) >= 0) {
		size_t applied = r->count[NODE_SUCCESS] + r->count[NODE_FAILED];

		if (applied == 0 && r->count[NODE_SKIPPED] > 0) {
			/* Every node was skipped before its turn: nothing was applied at all. */
			snprintf(
			    r->event_msg, sizeof(r->event_msg),
			    "no node was dispatched: all %zu nodes were skipped (offline, moved"
			    " or changed since the release was created; see each node)",
			    r->n);
			r->skip_msg[0] = '\0';
			r->event = RELEASE_EV_HALT;
		} else {
			r->event =
			    r->count[NODE_FAILED] ? RELEASE_EV_END_PARTIAL : RELEASE_EV_SUCCEED;
		}
	}
	r->finish = 1;
}

size_t run_plan(struct run *r, size_t room)
{
	enum release_status eff = effective(r);
	size_t end, planned = 0;
	int pause;

	if (r->gone || r->finish || r->handback)
		return 0;
	end = current_batch(r);
	if (r->count[NODE_RUNNING] == 0 && r->count[NODE_PENDING] == 0) {
		decide_end(r);
		return 0;
	}
	if (r->count[NODE_RUNNING] == 0 && eff == RELEASE_PAUSED && r->event < 0) {
		r->handback = 1; /* drained: whoever resumes it claims it again */
		return 0;
	}
	if (!release_dispatches(eff) || r->event >= 0)
		return 0;
	if (!batch_started(r, r->first, end) && (pause = due_pause(r, r->nodes[r->first].batch))) {
		r->event = RELEASE_EV_PLAN_PAUSE;
		r->event_batch = pause;
		snprintf(r->event_msg, sizeof(r->event_msg), "paused after batch %d (pause_after)",
		         pause);
		close_ahead(r);
		if (r->count[NODE_RUNNING] == 0)
			r->handback = 1;
		return 0;
	}
	if (room && r->nodes[r->first].batch > r->last_batch_started &&
	    !batch_started(r, r->first, end)) {
		r->last_batch_started = r->nodes[r->first].batch;
		snprintf(r->batch_note, sizeof(r->batch_note), "batch %d of %d: %zu nodes",
		         r->last_batch_started, r->nodes[r->n - 1].batch, end - r->first);
		add_note(r, 0, "batch_started", r->batch_note);
	}
	for (size_t i = r->first; i < end && planned < room; i++) {
		struct rnode *x = &r->nodes[i];

		if (x->status == NODE_RUNNING && !x->has_task && !x->inflight) {
			planned++; /* intended already (resumed, or its write is pending): needs a
			              slot */
			continue;
		}
		if (x->status != NODE_PENDING)
			continue;
		set_status(r, x, NODE_RUNNING);
		x->started_wall = now_wall_ms();
		add_change(r, x, NODE_RUNNING, NULL, NULL);
		planned++;
	}
	return planned;
}

int64_t run_next_write(const struct run *r)
{
	int64_t at = r->last_write + (int64_t)r->cfg->lease_s * 1000 / 3;

	if (r->event >= 0 || r->finish || r->handback || (r->nintents && !r->calls))
		return r->last_write;
	if (r->nintents && r->last_write + INTENT_GATHER_MS < at)
		at = r->last_write + INTENT_GATHER_MS;
	if ((r->nchanges || r->nnotes) && r->first_unwritten + FLUSH_MS < at)
		at = r->first_unwritten + FLUSH_MS;
	return at;
}

int run_flush_due(const struct run *r, int64_t now_ms)
{
	return !r->gone && now_ms >= run_next_write(r);
}

/* Adopts a status the database reports and what it means for r's gathered state. */
static void adopt(struct run *r, enum release_status status)
{
	if (r->event >= 0 && release_next(status, (enum release_event)r->event) < 0) {
		/* The operator's change came first and makes ours moot (a halt of a cancel). */
		r->event = -1;
		r->finish = 0;
	}
	if (!release_dispatches(status)) {
		drop_intents(r);
		close_ahead(r);
	}
	if (status == RELEASE_CANCELLED || status == RELEASE_FAILED)
		skip_pending(r); /* the same transaction that set the status skipped them */
	if (status != r->status)
		log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: now %s (was %s)",
		        (long long)r->id, release_status_name(status),
		        release_status_name(r->status));
	r->status = status;
	/*
	 * Resumed while we still drained it: hand it back now (calls in flight are abandoned
	 * and resumed from the rows) so that it is claimed again, node checks and all.
	 */
	r->handback = status == RELEASE_PENDING;
}

void run_observe(struct run *r, enum release_status status, int64_t now_ms)
{
	r->last_seen = now_ms;
	if (status != r->status)
		adopt(r, status);
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
			set_status(r, x, NODE_SKIPPED);
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

enum run_flush_result run_flush(struct run *r, struct db_conn *c, char *err, size_t errlen)
{
	enum release_status actual = r->status;
	struct release_round round = {
	    .rollback_of = r->rollback_of,
	    .expect = r->status,
	    .changes = r->changes,
	    .nchanges = r->nchanges,
	    .event = r->event,
	    .event_msg = r->event_msg,
	    .skip_msg = r->skip_msg[0] ? r->skip_msg : NULL,
	    .paused_through = r->event_batch,
	    .finish = r->finish,
	    .handback = r->handback,
	    .at_ms = now_wall_ms(),
	    .refused = r->refused,
	    .events = r->notes,
	    .nevents = r->nnotes,
	};
	struct db_tally since = db_tally(c);
	int rc;

	rc = store_release_apply(c, r->id, r->owner, r->cfg->lease_s, &round, &actual, err, errlen);
	run_charge(r, c, since);
	if (rc == CMDB_ESTATE) {
		adopt(r, actual);
		r->last_seen = now_mono_ms();
		return RUN_RETRY;
	}
	if (rc == CMDB_ECONFLICT) {
		r->gone = 1;
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
	r->last_write = r->last_seen = now_mono_ms();
	skip_refused(r, round.refused, round.nrefused);
	if (round.rollback_id)
		log_rel(LOG_INFO, "runner", r->id, 0,
		        "release %lld: rollback release %lld created (auto_rollback)",
		        (long long)r->id, (long long)round.rollback_id);
	if (r->event == RELEASE_EV_PLAN_PAUSE)
		r->paused_through = r->event_batch;
	r->status = effective(r);
	if (r->event >= 0)
		log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: %s%s%s", (long long)r->id,
		        release_status_name(r->status), r->event_msg[0] ? ": " : "",
		        r->event == RELEASE_EV_HALT || r->event == RELEASE_EV_PLAN_PAUSE
		            ? r->event_msg
		            : "");
	r->event = -1;
	r->event_msg[0] = r->skip_msg[0] = '\0';
	r->nchanges = r->nintents = r->nnotes = 0;
	if (r->finish || r->handback) {
		r->gone = 1;
		r->finished = r->finish;
		if (r->handback && r->stopping)
			log_rel(LOG_INFO, "runner", r->id, 0,
			        "release %lld: stopped, lease handed back", (long long)r->id);
		else if (r->handback)
			log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: %s, lease handed back",
			        (long long)r->id, release_status_name(r->status));
	}
	return RUN_FLUSHED;
}

static void start_call(struct run *r, struct agentclient *ac, struct rnode *x, enum agent_op op)
{
	x->call.op = op;
	if (op == AGENT_DISPATCH) {
		x->dispatched_at = now_mono_ms();
		x->dispatch_seen = 1;
		x->call.version = x->version;
		release_idem_key(r->token, r->id, x->node_id, x->call.idem_key,
		                 sizeof(x->call.idem_key));
	}
	x->call_started = now_mono_ms();
	if (agentclient_start(ac, &x->call) != 0) {
		fail_node(r, x, x->call.error);
		return;
	}
	x->inflight = 1;
	r->calls++;
}

/* A node running past RELEASE_NODE_TIMEOUT fails; 1 if it did. */
static int past_deadline(struct run *r, struct rnode *x)
{
	char why[128];

	if (!x->started_wall ||
	    now_wall_ms() - x->started_wall <= (int64_t)r->cfg->node_timeout_s * 1000)
		return 0;
	snprintf(why, sizeof(why),
	         "timeout: the task did not finish within %d s (RELEASE_NODE_TIMEOUT)",
	         r->cfg->node_timeout_s);
	fail_node(r, x, why);
	return 1;
}

/*
 * Opens TLS connections ahead of their requests, sending nothing on them, so that the
 * handshakes run while there is nothing else to do: those of the nodes whose intents are
 * being written, and, once every node of the current batch has its task, those of the
 * next batch's first nodes (as many as may be in flight) from POLL_AHEAD_MS before this
 * batch is expected to end. None while the release does not dispatch, and none for a
 * batch a pause_after comes before. Each node gets one such try: one that fails is left
 * to its request, which reports why. Returns when it wants to run again (monotonic ms).
 */
static int64_t preconnect(struct run *r, struct agentclient *ac, size_t cap, size_t end,
                          int64_t now_ms)
{
	size_t opened = 0;
	int64_t last_dispatch = 0, at;
	int all_tasks = 1;

	if (r->gone || r->handback || r->finish || r->event >= 0 ||
	    !release_dispatches(effective(r)))
		return INT64_MAX;
	for (size_t i = r->first; i < end; i++) {
		struct rnode *x = &r->nodes[i];

		if (x->status == NODE_PENDING || (x->status == NODE_RUNNING && !x->has_task))
			all_tasks = 0;
		if (x->dispatched_at > last_dispatch)
			last_dispatch = x->dispatched_at;
		if (x->status == NODE_RUNNING && !x->has_task && !x->inflight && !x->ahead &&
		    !x->attempts) {
			x->ahead = 1;
			agentclient_preconnect(ac, &x->call);
		}
	}
	if (!all_tasks || end == r->n || r->nodes[end].ahead || due_pause(r, r->nodes[end].batch))
		return INT64_MAX;
	at = release_poll_ahead_at(&r->est, last_dispatch);
	if (at > now_ms)
		return at;
	for (size_t i = end; i < r->n && r->nodes[i].batch == r->nodes[end].batch && opened < cap;
	     i++) {
		struct rnode *x = &r->nodes[i];

		if (x->status != NODE_PENDING)
			continue;
		if (!x->ahead) {
			x->ahead = 1;
			agentclient_preconnect(ac, &x->call);
		}
		opened++;
	}
	return INT64_MAX;
}

int64_t run_start_calls(struct run *r, struct agentclient *ac, size_t cap, int64_t now_ms)
{
	size_t end = current_batch(r);
	int64_t next = now_ms + IDLE_MS, ahead = preconnect(r, ac, cap, end, now_ms);

	if (ahead < next)
		next = ahead;
	/*
	 * Nothing is sent while a change of status is not yet on disk, and no dispatch while
	 * an intent is not: the polls of the nodes that have their tasks go on meanwhile.
	 */
	if (r->gone || r->event >= 0 || r->handback)
		return next - now_ms;
	/*
	 * Only the current batch has running nodes. Whatever the release's status, a node
	 * whose intent is written is followed to its end: a dispatch that was never answered
	 * is sent again with the same key, which is not a new dispatch.
	 */
	for (size_t i = r->first; i < end; i++) {
		struct rnode *x = &r->nodes[i];
		int64_t due = x->has_task ? x->next_poll : x->not_before;

		if (x->status != NODE_RUNNING || x->inflight || (r->nintents && !x->has_task) ||
		    past_deadline(r, x))
			continue;
		if (due > now_ms) {
			if (due < next)
				next = due;
		} else if (agentclient_inflight(ac) < cap) {
			start_call(r, ac, x, x->has_task ? AGENT_QUERY : AGENT_DISPATCH);
		} else {
			next = now_ms; /* due, but no room: as soon as a call completes */
		}
	}
	return next - now_ms;
}

/*
 * A transient error (refused, reset, timeout, 429, 5xx) is retried with capped
 * exponential back-off and jitter, honouring Retry-After; 1 if a retry is scheduled.
 * A dispatch is retried with the same Idempotency-Key, so a retry never applies twice.
 */
static int schedule_retry(struct run *r, struct rnode *x)
{
	const struct agent_call *c = &x->call;
	int64_t delay;

	if (c->result != AGENT_E_TRANSIENT || x->attempts >= r->cfg->node_retries)
		return 0;
	x->attempts++;
	delay = backoff_ms(&backoff_agent, x->attempts, &r->seed);
	if (c->retry_after_s * 1000 > delay)
		delay = c->retry_after_s * 1000 > BACKOFF_RETRY_AFTER_MAX_MS
		            ? BACKOFF_RETRY_AFTER_MAX_MS
		            : c->retry_after_s * 1000;
	str_copy(x->error, c->error, sizeof(x->error));
	add_note(r, x->node_id, "node_retried", x->error);
	x->not_before = now_mono_ms() + delay;
	x->next_poll = x->not_before;
	log_rel(LOG_INFO, "runner", r->id, x->node_id,
	        "release %lld: node %lld: %s; retry %d of %d in %lld ms", (long long)r->id,
	        (long long)x->node_id, c->error, x->attempts, r->cfg->node_retries,
	        (long long)delay);
	return 1;
}

/* Plans x's next poll from its answer at monotonic ms from. */
static void plan_poll(const struct run *r, struct rnode *x, int64_t from)
{
	x->answered_at = from;
	x->next_poll =
	    from + release_poll_delay_ms(from - x->dispatched_at, &r->est, r->cfg->poll_interval_ms,
	                                 r->cfg->poll_max_ms, (uint64_t)x->node_id);
}

static void schedule_poll(const struct run *r, struct rnode *x)
{
	plan_poll(r, x, now_mono_ms());
}

/*
 * An apply ended: how long it took teaches the poll schedule of the nodes after it. It
 * had ended when the poll that says so was sent, so the poll's own round trip, long on
 * a loaded machine, is not counted. The first end, or a shorter one, also plans again
 * the polls of the batch's tasks that were planned without it, each from its last
 * answer, so none comes sooner than the floor after that answer: a first batch's last
 * tasks otherwise wait on the age-based grid for up to the floor past their end.
 */
static void learn(struct run *r, const struct rnode *x)
{
	int64_t at = x->call.sent_at ? x->call.sent_at : now_mono_ms();

	if (!x->dispatch_seen || !release_poll_learn(&r->est, at - x->dispatched_at))
		return;
	for (size_t i = r->first; i < r->n && r->nodes[i].batch <= x->batch; i++) {
		struct rnode *y = &r->nodes[i];

		if (y->status == NODE_RUNNING && y->has_task && !y->inflight && !y->attempts &&
		    y->answered_at)
			plan_poll(r, y, y->answered_at);
	}
}

void run_complete(struct agent_call *call)
{
	struct rnode *x = call->user;
	struct run *r = x->run;
	char why[640];

	x->inflight = 0;
	r->calls--;
	metrics_agent_call(call->op == AGENT_DISPATCH ? CALL_DISPATCH : CALL_POLL,
	                   call->result == AGENT_OK            ? CALL_OK
	                   : call->result == AGENT_E_TRANSIENT ? CALL_TRANSIENT
	                                                       : CALL_PERMANENT,
	                   (now_mono_ms() - x->call_started) * 1000);
	if (call->result != AGENT_OK) {
		if (schedule_retry(r, x))
			return;
		if (x->attempts)
			snprintf(why, sizeof(why), "%s (after %d %s)", call->error, x->attempts,
			         x->attempts == 1 ? "retry" : "retries");
		fail_node(r, x, x->attempts ? why : call->error);
		return;
	}
	x->attempts = 0;
	x->error[0] = '\0';
	if (call->op == AGENT_DISPATCH) {
		/*
		 * The apply began when the request reached the agent, not when it waited for
		 * a connection: the poll schedule learns from this, and a first batch's
		 * handshakes would otherwise make its applies look up to their length longer.
		 */
		if (call->sent_at)
			x->dispatched_at = call->sent_at;
		x->has_task = 1;
		add_change(r, x, NODE_RUNNING, call->task_id, NULL);
		schedule_poll(r, x);
		return;
	}
	switch (call->state) {
	case AGENT_TASK_SUCCESS:
		learn(r, x);
		set_status(r, x, NODE_SUCCESS);
		metrics_node_outcome(OUTCOME_SUCCESS, 1);
		metrics_node_duration(now_mono_ms() - x->dispatched_at);
		add_change(r, x, NODE_SUCCESS, NULL, NULL);
		agent_call_free(&x->call); /* its TLS state is not needed any more */
		break;
	case AGENT_TASK_FAILED:
		learn(r, x);
		fail_node(r, x, call->error);
		break;
	default:
		schedule_poll(r, x);
		break;
	}
}

void run_lose(struct run *r)
{
	r->gone = 1;
}

void run_stop(struct run *r, struct agentclient *ac, struct db_conn *c)
{
	char err[256];

	if (r->gone)
		return;
	for (size_t i = 0; i < r->n; i++) {
		if (r->nodes[i].inflight) {
			agentclient_abort(ac, &r->nodes[i].call);
			r->nodes[i].inflight = 0;
			r->calls--;
		}
	}
	/* A release whose end is decided is written as finished, not handed back. */
	r->handback = !r->finish;
	r->stopping = 1;
	/* One more try if an operator's change came first; after that the lease runs out. */
	for (int tries = 0; tries < 2 && !r->gone; tries++) {
		enum run_flush_result rc = run_flush(r, c, err, sizeof(err));

		if (rc == RUN_RETRY) {
			r->handback = !r->finish;
			continue;
		}
		if (rc != RUN_FLUSHED)
			log_rel(LOG_WARN, "runner", r->id, 0,
			        "release %lld: could not hand the lease back (%s); it"
			        " expires by itself",
			        (long long)r->id, err);
		break;
	}
	r->gone = 1;
}

void run_summary(const struct run *r, struct run_summary *out)
{
	out->status = r->status;
	out->finished = r->finished;
	out->nodes = r->n;
	out->success = r->count[NODE_SUCCESS];
	out->failed = r->count[NODE_FAILED];
	out->statements = r->statements;
	out->prepared = r->prepared;
	out->claimed_ms = r->claimed_ms;
}
