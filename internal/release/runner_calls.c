/*
 * runner_calls: a runner's agent calls. It starts the dispatches whose intents are on
 * disk and the polls that are due, opens connections ahead of the next batch, retries
 * transient errors with back-off, plans each task's next poll (poll.h), and takes each
 * call's answer: a task id, an end, or a failure.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "release/runner_internal.h"

/* What release_run_start_calls answers when nothing is due. */
#define IDLE_MS 1000

void release_idem_key(const char *token, int64_t release_id, int64_t node_id, char *buf, size_t len)
{
	snprintf(buf, len, "cmdb-%s-r%lld-n%lld", token, (long long)release_id, (long long)node_id);
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
		release_run_fail_node(r, x, x->call.error);
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
	release_run_fail_node(r, x, why);
	return 1;
}

/*
 * Opens TLS connections ahead of their requests, sending nothing on them, so that the
 * handshakes run while there is nothing else to do: those of the nodes whose intents are
 * being written, and, once every node of the current batch has its task, those of the
 * next batch's first nodes (as many as may be in flight) from POLL_AHEAD_MS before this
 * batch is expected to end. None while the release does not dispatch, and none for a
 * batch a pause comes before (pause_after, or a group's end with pause_between_groups). Each node
 * gets one such try: one that fails is left to its request, which reports why. Returns when it
 * wants to run again (monotonic ms).
 */
static int64_t preconnect(struct run *r, struct agentclient *ac, size_t cap, size_t end,
                          int64_t now_ms)
{
	size_t opened = 0;
	int64_t last_dispatch = 0, at;
	int all_tasks = 1;

	if (r->v.phase != RUN_DRIVING || r->v.event >= 0 ||
	    !release_dispatches(release_effective(&r->v)))
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
	if (!all_tasks || end == r->n || r->nodes[end].ahead ||
	    release_due_pause(r->pauses, r->npauses, r->paused_through, r->nodes[end].batch) ||
	    release_due_pause(r->group_ends, r->ngroup_ends, r->paused_through,
	                      r->nodes[end].batch))
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

int64_t release_run_start_calls(struct run *r, struct agentclient *ac, size_t cap, int64_t now_ms)
{
	size_t end = release_current_batch(r->nodes, r->n, &r->first);
	int64_t next = now_ms + IDLE_MS, ahead = preconnect(r, ac, cap, end, now_ms);

	if (ahead < next)
		next = ahead;
	/*
	 * Nothing is sent while a change of status is not yet on disk, and no dispatch while
	 * an intent is not: the polls of the nodes that have their tasks go on meanwhile.
	 */
	if (r->v.event >= 0 || (r->v.phase != RUN_DRIVING && r->v.phase != RUN_ENDING))
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
	int64_t delay = release_decide_retry(c->result == AGENT_E_TRANSIENT, x->attempts,
	                                     r->cfg->node_retries, c->retry_after_s, &r->seed);

	if (delay < 0)
		return 0;
	x->attempts++;
	str_copy(x->error, c->error, sizeof(x->error));
	release_run_add_note(r, x->node_id, "node_retried", x->error);
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

/* A call failed: retried, or the node fails with why (and how many retries it had). */
static void call_failed(struct run *r, struct rnode *x)
{
	char why[640];

	if (schedule_retry(r, x))
		return;
	if (x->attempts)
		snprintf(why, sizeof(why), "%s (after %d %s)", x->call.error, x->attempts,
		         x->attempts == 1 ? "retry" : "retries");
	release_run_fail_node(r, x, x->attempts ? why : x->call.error);
}

/* The agent answered a poll: the task ended (success or failure) or it goes on. */
static void polled(struct run *r, struct rnode *x)
{
	switch (x->call.state) {
	case AGENT_TASK_SUCCESS:
		learn(r, x);
		release_run_set_status(r, x, NODE_SUCCESS);
		metrics_node_outcome(OUTCOME_SUCCESS, 1);
		metrics_node_duration(now_mono_ms() - x->dispatched_at);
		release_run_add_change(r, x, NODE_SUCCESS, NULL, NULL);
		agent_call_free(&x->call); /* its TLS state is not needed any more */
		break;
	case AGENT_TASK_FAILED:
		learn(r, x);
		release_run_fail_node(r, x, x->call.error);
		break;
	default:
		plan_poll(r, x, now_mono_ms());
		break;
	}
}

void release_run_complete(struct agent_call *call)
{
	struct rnode *x = call->user;
	struct run *r = x->run;

	x->inflight = 0;
	r->calls--;
	metrics_agent_call(call->op == AGENT_DISPATCH ? CALL_DISPATCH : CALL_POLL,
	                   call->result == AGENT_OK            ? CALL_OK
	                   : call->result == AGENT_E_TRANSIENT ? CALL_TRANSIENT
	                                                       : CALL_PERMANENT,
	                   (now_mono_ms() - x->call_started) * 1000);
	if (call->result != AGENT_OK) {
		call_failed(r, x);
		return;
	}
	x->attempts = 0;
	x->error[0] = '\0';
	if (call->op != AGENT_DISPATCH) {
		polled(r, x);
		return;
	}
	/*
	 * The apply began when the request reached the agent, not when it waited for a
	 * connection: the poll schedule learns from this, and a first batch's handshakes
	 * would otherwise make its applies look up to their length longer.
	 */
	if (call->sent_at)
		x->dispatched_at = call->sent_at;
	x->has_task = 1;
	release_run_add_change(r, x, NODE_RUNNING, call->task_id, NULL);
	plan_poll(r, x, now_mono_ms());
}
