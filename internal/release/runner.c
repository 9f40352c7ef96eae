/*
 * runner: one release's state machine. Each turn of the loop writes the pending state
 * changes in one transaction (which also renews the lease), starts agent calls for
 * the current batch, and waits for completions. A node's intent ("running", no task
 * yet) is committed before its dispatch is sent, so a crash never loses a dispatch:
 * the next owner re-sends it with the same Idempotency-Key and the agent answers
 * with the original task instead of applying twice.
 */
#include "release/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"
#include "release/poll.h"
#include "store/store.h"

#define WAIT_MAX_MS 1000
/* Retry back-off of transient agent errors: 250 ms doubling up to 8 s, with jitter. */
#define RETRY_BASE_MS 250
#define RETRY_MAX_MS  8000
/* A Retry-After from an agent is honoured up to this. */
#define RETRY_AFTER_MAX_MS 60000
/*
 * Task ids and successes are written at most this often (failures and intents at
 * once): one transaction per interval however many agents answered in it.
 */
#define FLUSH_MS        100
#define DB_RETRY_MIN_MS 250
#define DB_RETRY_MAX_MS 5000

struct rnode {
	int64_t rtn_id;
	int64_t node_id;
	int batch;
	enum node_status status;
	int has_task;
	int inflight;
	int64_t dispatched_at; /* monotonic ms of the dispatch that created the task */
	int64_t next_poll;     /* monotonic ms */
	int64_t started_wall;  /* wall ms of the intent (started_at), for the node deadline */
	int64_t not_before;    /* monotonic ms; no call before this (retry back-off) */
	int attempts;          /* transient failures of the current call in a row */
	char hostname[STORE_HOSTNAME_LEN];
	char error[512];
	struct agent_call call; /* ip, port and task_id live here */
};

struct run {
	struct db_conn *conn;
	struct agentclient *ac;
	const struct runner_config *cfg;
	int64_t id;
	int64_t version;
	char token[17];
	struct rnode *nodes;
	size_t n;
	int failed; /* the release has failed (in memory; fail_pending until written) */
	int fail_pending;
	size_t intents_pending; /* nodes marked running in memory, not yet on disk */
	char fail_msg[STORE_ERROR_LEN];
	struct node_change *changes;
	size_t nchanges;
	int64_t last_write;  /* monotonic ms of the last committed round */
	int64_t db_retry_at; /* monotonic ms; while the database is away */
	int db_backoff_ms;
	unsigned int seed; /* for retry jitter */
};

void release_idem_key(const char *token, int64_t release_id, int64_t node_id, char *buf, size_t len)
{
	snprintf(buf, len, "cmdb-%s-r%lld-n%lld", token, (long long)release_id, (long long)node_id);
}

static void add_change(struct run *r, struct rnode *x, enum node_status to, const char *task_id,
                       const char *error_msg)
{
	/*
	 * Between two committed rounds a node gathers at most three changes (intent, task
	 * id, end), and nothing new starts while changes are unwritten; the buffer holds
	 * 3 per node, so this guard only protects against a broken invariant.
	 */
	if (r->nchanges == 3 * r->n) {
		log_error("runner", "release %lld: change buffer full", (long long)r->id);
		return;
	}
	r->changes[r->nchanges++] = (struct node_change){
	    .rtn_id = x->rtn_id,
	    .to = to,
	    .at_ms = now_wall_ms(),
	    .task_id = task_id,
	    .error_msg = error_msg,
	};
}

static void fail_node(struct run *r, struct rnode *x, const char *why)
{
	str_copy(x->error, why, sizeof(x->error));
	x->status = NODE_FAILED;
	agent_call_release(&x->call); /* its TLS state is not needed any more */
	add_change(r, x, NODE_FAILED, x->has_task ? x->call.task_id : NULL, x->error);
	log_warn("runner", "release %lld: node %lld (%s) failed: %s", (long long)r->id,
	         (long long)x->node_id, x->call.ip, why);
	if (r->failed)
		return;
	r->failed = 1;
	r->fail_pending = 1;
	snprintf(r->fail_msg, sizeof(r->fail_msg), "batch %d, node %lld (%s %s:%d): %s", x->batch,
	         (long long)x->node_id, x->hostname, x->call.ip, x->call.port, why);
	for (size_t i = 0; i < r->n; i++)
		if (r->nodes[i].status == NODE_PENDING)
			r->nodes[i].status = NODE_SKIPPED;
}

/* Writes what is buffered. 0, CMDB_ECONFLICT (lease lost) or a database error. */
static int flush(struct run *r, int finish, enum release_status final_status)
{
	struct release_round round = {
	    .changes = r->changes,
	    .nchanges = r->nchanges,
	    .fail_msg = r->fail_pending ? r->fail_msg : NULL,
	    .finish = finish,
	    .final_status = final_status,
	    .at_ms = now_wall_ms(),
	};
	char err[512];
	int rc;

	if (r->conn->broken || !r->conn->mysql) {
		if (now_mono_ms() < r->db_retry_at)
			return CMDB_EDBDOWN;
		db_close(r->conn);
		rc = db_connect(r->conn, r->cfg->db, err, sizeof(err));
		if (rc)
			goto down;
		log_info("runner", "release %lld: database connection re-established",
		         (long long)r->id);
	}
	rc = store_release_apply(r->conn, r->id, r->cfg->owner, r->cfg->lease_s, &round, err,
	                         sizeof(err));
	if (rc == 0) {
		r->nchanges = 0;
		r->fail_pending = 0;
		r->intents_pending = 0;
		r->last_write = now_mono_ms();
		r->db_backoff_ms = 0;
		return 0;
	}
	if (rc == CMDB_ECONFLICT) {
		log_warn("runner", "%s", err);
		return rc;
	}
down:
	r->db_backoff_ms = r->db_backoff_ms ? r->db_backoff_ms * 2 : DB_RETRY_MIN_MS;
	if (r->db_backoff_ms > DB_RETRY_MAX_MS)
		r->db_backoff_ms = DB_RETRY_MAX_MS;
	r->db_retry_at = now_mono_ms() + r->db_backoff_ms;
	log_warn("runner", "release %lld: cannot write state (%s); retrying in %d ms",
	         (long long)r->id, err, r->db_backoff_ms);
	return rc;
}

static int load(struct run *r, char *err, size_t errlen)
{
	struct release rel;
	struct release_node *rows = NULL;
	size_t n = 0;
	int rc;

	rc = store_release_get(r->conn, r->id, &rel, err, errlen);
	if (rc)
		return rc;
	rc = store_release_nodes(r->conn, r->id, -1, &rows, &n, err, errlen);
	if (rc)
		return rc;
	r->version = rel.version;
	str_copy(r->token, rel.idem_token, sizeof(r->token));
	r->failed = rel.status == RELEASE_FAILED;
	r->nodes = calloc(n ? n : 1, sizeof(*r->nodes));
	r->changes = calloc(n ? 3 * n : 1, sizeof(*r->changes));
	if (!r->nodes || !r->changes) {
		free(rows);
		return CMDB_ENOMEM;
	}
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		struct rnode *x = &r->nodes[i];

		x->rtn_id = rows[i].id;
		x->node_id = rows[i].node_id;
		x->batch = rows[i].batch;
		x->status = rows[i].status;
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
	free(rows);
	return 0;
}

/* Index range [*begin, *end) of the first batch that still has unfinished nodes. */
static int current_batch(const struct run *r, size_t *begin, size_t *end)
{
	size_t i = 0;

	while (i < r->n && r->nodes[i].status != NODE_PENDING && r->nodes[i].status != NODE_RUNNING)
		i++;
	if (i == r->n)
		return 0;
	*begin = i;
	while (i < r->n && r->nodes[i].batch == r->nodes[*begin].batch)
		i++;
	*end = i;
	return 1;
}

static void start_call(struct run *r, struct rnode *x, enum agent_op op)
{
	x->call.op = op;
	if (op == AGENT_DISPATCH) {
		x->dispatched_at = now_mono_ms();
		x->call.version = r->version;
		release_idem_key(r->token, r->id, x->node_id, x->call.idem_key,
		                 sizeof(x->call.idem_key));
	}
	if (agentclient_start(r->ac, &x->call) != 0) {
		fail_node(r, x, x->call.error);
		return;
	}
	x->inflight = 1;
}

/* Marks the next pending nodes of the batch as dispatching (written before sending). */
static void plan_dispatches(struct run *r, size_t begin, size_t end, size_t room)
{
	for (size_t i = begin; i < end && room > 0; i++) {
		struct rnode *x = &r->nodes[i];

		if (x->status == NODE_RUNNING && !x->has_task && !x->inflight) {
			room--; /* already intended (resumed): sent below */
		} else if (x->status == NODE_PENDING) {
			x->status = NODE_RUNNING;
			x->started_wall = now_wall_ms();
			add_change(r, x, NODE_RUNNING, NULL, NULL);
			r->intents_pending++;
			room--;
		}
	}
}

/* Starts dispatches for intended nodes and polls that are due; returns ms to next poll. */
/* A node running past RELEASE_NODE_TIMEOUT fails; 1 if it did. */
static int past_deadline(struct run *r, struct rnode *x)
{
	char why[128];

	if (!x->started_wall ||
	    now_wall_ms() - x->started_wall <= (int64_t)r->cfg->node_timeout_s * 1000)
		return 0;
	snprintf(why, sizeof(why),
	         "timeout: the task did not finish within %d s"
	         " (RELEASE_NODE_TIMEOUT)",
	         r->cfg->node_timeout_s);
	fail_node(r, x, why);
	return 1;
}

/* Starts dispatches for intended nodes and polls that are due; returns ms to wait. */
static int start_calls(struct run *r, size_t begin, size_t end, int64_t now)
{
	size_t cap = (size_t)r->cfg->max_inflight;
	int64_t next = now + WAIT_MAX_MS;

	for (size_t i = begin; i < end; i++) {
		struct rnode *x = &r->nodes[i];
		int64_t due = x->has_task ? x->next_poll : x->not_before;

		if (x->status != NODE_RUNNING || x->inflight || past_deadline(r, x))
			continue;
		if (!x->has_task && r->failed) {
			/* The release failed: no dispatch is sent any more, not even a retry. */
			char why[640];

			snprintf(why, sizeof(why), "%s; not sent again because the release failed",
			         x->error[0] ? x->error
			                     : "dispatch outcome unknown: interrupted before the"
			                       " agent answered");
			fail_node(r, x, why);
		} else if (due > now) {
			if (due < next)
				next = due;
		} else if (agentclient_inflight(r->ac) < cap) {
			start_call(r, x, x->has_task ? AGENT_QUERY : AGENT_DISPATCH);
		}
	}
	return (int)(next - now);
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

	if (c->result != AGENT_E_TRANSIENT || x->attempts >= r->cfg->node_retries ||
	    (c->op == AGENT_DISPATCH && r->failed))
		return 0;
	x->attempts++;
	delay = (int64_t)RETRY_BASE_MS << (x->attempts - 1);
	if (delay > RETRY_MAX_MS)
		delay = RETRY_MAX_MS;
	delay = delay / 2 + rand_r(&r->seed) % (delay / 2 + 1);
	if (c->retry_after_s * 1000 > delay)
		delay = c->retry_after_s * 1000 > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS
		                                                     : c->retry_after_s * 1000;
	str_copy(x->error, c->error, sizeof(x->error));
	x->not_before = now_mono_ms() + delay;
	x->next_poll = x->not_before;
	log_info("runner", "release %lld: node %lld: %s; retry %d of %d in %lld ms",
	         (long long)r->id, (long long)x->node_id, c->error, x->attempts,
	         r->cfg->node_retries, (long long)delay);
	return 1;
}

static void schedule_poll(const struct run *r, struct rnode *x)
{
	int64_t now = now_mono_ms();

	x->next_poll = now + release_poll_delay_ms(now - x->dispatched_at, r->cfg->poll_interval_ms,
	                                           r->cfg->poll_max_ms);
}

static void on_complete(struct run *r, struct rnode *x)
{
	struct agent_call *c = &x->call;

	x->inflight = 0;
	if (c->result != AGENT_OK) {
		char why[640];

		if (schedule_retry(r, x))
			return;
		if (x->attempts)
			snprintf(why, sizeof(why), "%s (after %d %s)", c->error, x->attempts,
			         x->attempts == 1 ? "retry" : "retries");
		fail_node(r, x, x->attempts ? why : c->error);
		return;
	}
	x->attempts = 0;
	x->error[0] = '\0';
	if (c->op == AGENT_DISPATCH) {
		x->has_task = 1;
		add_change(r, x, NODE_RUNNING, c->task_id, NULL);
		schedule_poll(r, x);
		return;
	}
	switch (c->state) {
	case AGENT_TASK_SUCCESS:
		x->status = NODE_SUCCESS;
		add_change(r, x, NODE_SUCCESS, NULL, NULL);
		agent_call_release(&x->call); /* its TLS state is not needed any more */
		break;
	case AGENT_TASK_FAILED:
		fail_node(r, x, c->error);
		break;
	default:
		schedule_poll(r, x);
		break;
	}
}

/* Hands the release back so another controller (or our restart) resumes it at once. */
static void stop_run(struct run *r)
{
	char err[256];

	for (size_t i = 0; i < r->n; i++)
		if (r->nodes[i].inflight)
			agentclient_abort(r->ac, &r->nodes[i].call);
	if (flush(r, 0, RELEASE_RUNNING) == 0 &&
	    store_release_unlease(r->conn, r->id, r->cfg->owner, err, sizeof(err)) == 0)
		log_info("runner", "release %lld: stopped, lease handed back", (long long)r->id);
}

static int drive(struct run *r, const atomic_int *stop)
{
	struct agent_call *done[256];

	for (;;) {
		size_t begin = 0, end = 0, running = 0;
		int64_t now = now_mono_ms();
		int have, wait_ms, rc, n;

		if (atomic_load(stop)) {
			stop_run(r);
			return RUNNER_STOPPED;
		}
		for (size_t i = 0; i < r->n; i++)
			running += r->nodes[i].status == NODE_RUNNING;
		have = current_batch(r, &begin, &end);
		if (!have || (r->failed && running == 0)) {
			rc = flush(r, 1, r->failed ? RELEASE_FAILED : RELEASE_SUCCESS);
			if (rc == 0)
				return RUNNER_FINISHED;
			if (rc == CMDB_ECONFLICT)
				return RUNNER_LEASE_LOST;
			agentclient_wait(r->ac, r->db_backoff_ms, done, 0);
			continue;
		}
		if (!r->failed && !r->conn->broken)
			plan_dispatches(r, begin, end,
			                (size_t)r->cfg->max_inflight - agentclient_inflight(r->ac));
		if (r->intents_pending || r->fail_pending ||
		    (r->nchanges && now - r->last_write >= FLUSH_MS) ||
		    now - r->last_write >= r->cfg->lease_s * 1000 / 3) {
			rc = flush(r, 0, RELEASE_RUNNING);
			if (rc == CMDB_ECONFLICT) {
				log_warn("runner", "release %lld: lease lost; leaving it",
				         (long long)r->id);
				for (size_t i = 0; i < r->n; i++)
					if (r->nodes[i].inflight)
						agentclient_abort(r->ac, &r->nodes[i].call);
				return RUNNER_LEASE_LOST;
			}
		}
		/* Nothing is sent while intents or a failure are not yet on disk. */
		if (r->intents_pending || r->fail_pending) {
			wait_ms = r->db_backoff_ms;
		} else {
			wait_ms = start_calls(r, begin, end, now_mono_ms());
			if (r->nchanges && r->last_write + FLUSH_MS - now < wait_ms)
				wait_ms = (int)(r->last_write + FLUSH_MS - now);
		}
		if (wait_ms < 1)
			wait_ms = 1;
		n = agentclient_wait(r->ac, wait_ms > WAIT_MAX_MS ? WAIT_MAX_MS : wait_ms, done,
		                     sizeof(done) / sizeof(done[0]));
		for (int i = 0; i < n; i++)
			on_complete(r, done[i]->user);
	}
}

int release_runner_run(struct db_conn *conn, struct agentclient *ac,
                       const struct runner_config *cfg, int64_t release_id, const atomic_int *stop,
                       char *err, size_t errlen)
{
	struct run r = {.conn = conn,
	                .ac = ac,
	                .cfg = cfg,
	                .id = release_id,
	                .seed = (unsigned int)now_wall_ms() ^ (unsigned int)release_id};
	int rc;

	rc = load(&r, err, errlen);
	if (rc == 0) {
		r.last_write = now_mono_ms();
		log_info("runner", "release %lld: driving %zu nodes (version %lld)",
		         (long long)release_id, r.n, (long long)r.version);
		rc = drive(&r, stop);
	}
	for (size_t i = 0; i < r.n; i++)
		agent_call_release(&r.nodes[i].call);
	free(r.nodes);
	free(r.changes);
	return rc;
}
