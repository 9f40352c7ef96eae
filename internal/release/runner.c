/*
 * runner: one release's state machine, stepped by the executor. This file owns a run's
 * life (load, free, what the executor reads of it), its plan (what it does next, from
 * decide.h) and its node bookkeeping; runner_write.c writes what it gathers and
 * runner_calls.c makes its agent calls. A node's intent ("running", no task yet) is
 * committed before its dispatch is sent, so a crash never loses a dispatch: the next
 * owner re-sends it with the same Idempotency-Key and the agent answers with the
 * original task instead of applying twice.
 */
#include "release/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "release/runner_internal.h"

int64_t release_run_id(const struct run *r)
{
	return r->id;
}

int64_t release_run_last_seen(const struct run *r)
{
	return r->last_seen;
}

int release_run_gone(const struct run *r)
{
	return release_phase_gone(r->v.phase);
}

void release_run_charge(struct run *r, const struct db_conn *c, struct db_tally since)
{
	r->statements += c->statements - since.statements;
	r->prepared += c->prepares - since.prepares;
}

void release_run_set_status(struct run *r, struct rnode *x, enum node_status to)
{
	r->v.count[x->status]--;
	r->v.count[to]++;
	x->status = to;
	if (to == NODE_SKIPPED)
		metrics_node_outcome(OUTCOME_SKIPPED, 1);
}

/* Before a change or note is added: the first one since the last write starts the wait. */
static void mark_unwritten(struct run *r)
{
	if (!r->nchanges && !r->nnotes)
		r->first_unwritten = now_mono_ms();
}

void release_run_add_change(struct run *r, struct rnode *x, enum node_status to,
                            const char *task_id, const char *error_msg)
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

void release_run_add_note(struct run *r, int64_t node_id, const char *type, const char *detail)
{
	if (r->nnotes == r->notes_cap)
		return; /* a node retries at most once between rounds; more is dropped */
	mark_unwritten(r);
	r->notes[r->nnotes++] = (struct store_event){node_id, type, detail};
}

/*
 * The release stopped dispatching (paused, cancelled, failed), so the connections opened
 * ahead for its pending nodes may not be used before it goes on, if ever.
 */
void release_run_close_ahead(struct run *r)
{
	for (size_t i = r->first; i < r->n; i++)
		if (r->nodes[i].status == NODE_PENDING && agent_call_connected(&r->nodes[i].call))
			agent_call_free(&r->nodes[i].call);
}

/* The pending nodes can never be dispatched any more (the API or a halt skipped them). */
static void skip_pending(struct run *r)
{
	release_run_close_ahead(r);
	for (size_t i = r->first; i < r->n; i++)
		if (r->nodes[i].status == NODE_PENDING)
			release_run_set_status(r, &r->nodes[i], NODE_SKIPPED);
}

/* Decides the halt when failed nodes exceed the allowance (in memory; written next). */
static void halt_if_over(struct run *r, struct rnode *x, const char *why)
{
	char allowance[96] = "";

	if (!release_decide_halt(&r->v))
		return;
	if (r->v.allowance > 0)
		snprintf(allowance, sizeof(allowance),
		         "; %zu failed nodes exceed the allowance of %d", r->v.count[NODE_FAILED],
		         r->v.allowance);
	snprintf(r->event_msg, sizeof(r->event_msg), "batch %d, node %lld (%s %s:%d): %.700s%s",
	         x->batch, (long long)x->node_id, x->hostname, x->call.ip, x->call.port, why,
	         allowance);
	snprintf(r->skip_msg, sizeof(r->skip_msg),
	         "release failed: batch %d node %lld (%s): %.700s", x->batch, (long long)x->node_id,
	         x->hostname, why);
	r->v.event = RELEASE_EV_HALT;
	skip_pending(r);
}

void release_run_fail_node(struct run *r, struct rnode *x, const char *why)
{
	str_copy(x->error, why, sizeof(x->error));
	release_run_set_status(r, x, NODE_FAILED);
	metrics_node_outcome(metrics_failure_class(why), 1);
	metrics_node_duration(now_mono_ms() - x->dispatched_at);
	agent_call_free(&x->call); /* its TLS state is not needed any more */
	release_run_add_change(r, x, NODE_FAILED, x->has_task ? x->call.task_id : NULL, x->error);
	log_rel(LOG_WARN, "runner", r->id, x->node_id, "release %lld: node %lld (%s) failed: %s",
	        (long long)r->id, (long long)x->node_id, x->call.ip, why);
	halt_if_over(r, x, why);
}

/*
 * pause_between_groups: the groups, and the batches after which the release pauses (the
 * end of each group but the last).
 */
static int load_groups(struct run *r, struct db_conn *c, char *err, size_t errlen)
{
	int rc = store_release_groups(c, r->id, &r->groups, &r->ngroups, err, errlen);

	if (rc || r->ngroups < 2)
		return rc;
	r->group_ends = calloc(r->ngroups - 1, sizeof(*r->group_ends));
	if (!r->group_ends)
		return CMDB_ENOMEM;
	for (size_t i = 0; i + 1 < r->ngroups; i++)
		r->group_ends[r->ngroup_ends++] =
		    r->groups[i].first_batch + r->groups[i].batches - 1;
	return 0;
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
		r->v.count[x->status]++;
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

int release_run_load(struct db_conn *c, const struct config *cfg, const char *owner, int64_t id,
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
	r->v.event = -1;
	r->v.phase = RUN_DRIVING;
	r->seed = (unsigned int)now_wall_ms() ^ (unsigned int)id;
	r->claimed_ms = r->last_write = r->last_seen = now_mono_ms();
	rc = store_release_get(c, id, &rel, err, errlen);
	if (rc == 0 && plan_pauses_parse(rel.pause_after, r->pauses, &r->npauses)) {
		snprintf(err, errlen,
		         "release %lld: pause_after \"%.100s\" in the database is malformed",
		         (long long)id, rel.pause_after);
		rc = CMDB_ERR;
	}
	if (rc == 0 && rel.pause_between_groups)
		rc = load_groups(r, c, err, errlen);
	if (rc == 0)
		rc = store_release_nodes(c, id, -1, &rows, &n, err, errlen);
	if (rc == 0)
		rc = load_nodes(r, rows, n);
	free(rows);
	if (rc) {
		release_run_free(r, NULL);
		return rc;
	}
	r->version = rel.version;
	r->rollback_of = rel.rollback_of;
	str_copy(r->group_by, rel.group_by, sizeof(r->group_by));
	str_copy(r->token, rel.idem_token, sizeof(r->token));
	r->v.status = rel.status;
	r->v.allowance = rel.failure_allowance;
	r->paused_through = rel.paused_through;
	/* A cancel or halt skipped the pending nodes in the same transaction. */
	log_rel(LOG_INFO, "runner", id, 0, "release %lld: driving %zu nodes (version %lld, %s)",
	        (long long)id, n, (long long)r->version, release_status_name(r->v.status));
	*out = r;
	return 0;
}

void release_run_free(struct run *r, struct agentclient *ac)
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
	free(r->groups);
	free(r->group_ends);
	free(r);
}

/* How the release ends: the event to write with the finish (decide.h). */
static void finish(struct run *r)
{
	int nothing_applied, ev = release_decide_end(&r->v, &nothing_applied);

	if (ev >= 0)
		r->v.event = ev;
	if (nothing_applied) {
		/* Every node was skipped before its turn: nothing was applied at all. */
		snprintf(r->event_msg, sizeof(r->event_msg),
		         "no node was dispatched: all %zu nodes were skipped (offline, moved"
		         " or changed since the release was created; see each node)",
		         r->n);
		r->skip_msg[0] = '\0';
	}
	r->v.phase = release_phase_next(r->v.phase, RUN_EV_END);
}

/* Pauses the release by its plan after batch `pause`; event_msg says why. */
static void plan_pause(struct run *r, int pause)
{
	r->v.event = RELEASE_EV_PLAN_PAUSE;
	r->event_batch = pause;
	release_run_close_ahead(r);
	if (r->v.count[NODE_RUNNING] == 0)
		r->v.phase = release_phase_next(r->v.phase, RUN_EV_HAND_BACK);
}

/* "zone=a", or "no zone" for the last group, of the nodes without the label. */
static void group_name(const struct run *r, int k, char *buf, size_t len)
{
	const struct release_group *g = k >= 0 ? &r->groups[k] : NULL;

	if (g && g->has_value)
		snprintf(buf, len, "%s=%s", r->group_by, g->value);
	else
		snprintf(buf, len, "no %s label", r->group_by);
}

/* Pauses the release after batch `end`, the last of a group (pause_between_groups). */
static void group_pause(struct run *r, int end)
{
	int k = store_group_of(r->groups, r->ngroups, end);
	char done[LABEL_KEY_MAX + LABEL_VALUE_MAX + 16], next[sizeof(done)];

	group_name(r, k, done, sizeof(done));
	group_name(r, k >= 0 && (size_t)k + 1 < r->ngroups ? k + 1 : -1, next, sizeof(next));
	snprintf(r->event_msg, sizeof(r->event_msg),
	         "paused after batch %d, the last of group %s; group %s is next (group_done)", end,
	         done, next);
	plan_pause(r, end);
}

/*
 * Marks up to room pending nodes of the batch at [r->first, end) as dispatching; started:
 * some node of it was dispatched already. Returns how many call slots those nodes, and
 * ones intended earlier but not yet sent, need.
 */
static size_t dispatch(struct run *r, size_t end, size_t room, int started)
{
	size_t planned = 0;

	if (room && !started && r->nodes[r->first].batch > r->last_batch_started) {
		r->last_batch_started = r->nodes[r->first].batch;
		snprintf(r->batch_note, sizeof(r->batch_note), "batch %d of %d: %zu nodes",
		         r->last_batch_started, r->nodes[r->n - 1].batch, end - r->first);
		release_run_add_note(r, 0, "batch_started", r->batch_note);
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
		release_run_set_status(r, x, NODE_RUNNING);
		x->started_wall = now_wall_ms();
		release_run_add_change(r, x, NODE_RUNNING, NULL, NULL);
		planned++;
	}
	return planned;
}

size_t release_run_plan(struct run *r, size_t room)
{
	struct release_boundary b = {0};
	size_t end = release_current_batch(r->nodes, r->n, &r->first);

	if (r->first < r->n) {
		b.started = release_batch_started(r->nodes, r->first, end);
		b.due_pause = release_due_pause(r->pauses, r->npauses, r->paused_through,
		                                r->nodes[r->first].batch);
		b.due_group = release_due_pause(r->group_ends, r->ngroup_ends, r->paused_through,
		                                r->nodes[r->first].batch);
	}
	switch (release_decide_step(&r->v, &b)) {
	case STEP_END:
		finish(r);
		return 0;
	case STEP_HAND_BACK:
		r->v.phase = release_phase_next(r->v.phase, RUN_EV_HAND_BACK);
		return 0;
	case STEP_PLAN_PAUSE:
		snprintf(r->event_msg, sizeof(r->event_msg), "paused after batch %d (pause_after)",
		         b.due_pause);
		plan_pause(r, b.due_pause);
		return 0;
	case STEP_GROUP_PAUSE:
		group_pause(r, b.due_group);
		return 0;
	case STEP_DISPATCH:
		return dispatch(r, end, room, b.started);
	case STEP_WAIT:
		break;
	}
	return 0;
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
					release_run_set_status(r, &r->nodes[j], NODE_PENDING);
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

void release_run_adopt(struct run *r, enum release_status status)
{
	struct release_adopt a = release_decide_adopt(&r->v, status);

	if (a.drop_event)
		r->v.event = -1;
	if (a.drop_intents) {
		drop_intents(r);
		release_run_close_ahead(r);
	}
	if (a.skip_pending)
		skip_pending(r); /* the same transaction that set the status skipped them */
	if (status != r->v.status)
		log_rel(LOG_INFO, "runner", r->id, 0, "release %lld: now %s (was %s)",
		        (long long)r->id, release_status_name(status),
		        release_status_name(r->v.status));
	r->v.status = status;
	r->v.phase = a.phase;
}

void release_run_observe(struct run *r, enum release_status status, int64_t now_ms)
{
	r->last_seen = now_ms;
	if (status != r->v.status)
		release_run_adopt(r, status);
}

void release_run_lose(struct run *r)
{
	r->v.phase = release_phase_next(r->v.phase, RUN_EV_LOSE);
}

void release_run_summary(const struct run *r, struct release_run_summary *out)
{
	out->status = r->v.status;
	out->finished = r->v.phase == RUN_FINISHED;
	out->nodes = r->n;
	out->success = r->v.count[NODE_SUCCESS];
	out->failed = r->v.count[NODE_FAILED];
	out->statements = r->statements;
	out->prepared = r->prepared;
	out->claimed_ms = r->claimed_ms;
}
