/*
 * floor: the benchmark's lower bound for a release. It makes the same agent requests as
 * the controller (batches in order, dispatches capped in flight, polls on the runner's
 * schedule) with the same libcurl-multi client, but without a database, so
 * wall(release) / wall(floor) is what the controller's bookkeeping costs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agentclient/agentclient.h"
#include "core/core.h"
#include "release/poll.h"

#define EXIT_USAGE  2
#define WAIT_MAX_MS 1000
#define DONE_MAX    256
/* certs/gen.sh names 127.0.1.1 .. 127.0.250.250 at most in this scheme. */
#define NODES_MAX (250 * 250)

static const char usage_text[] =
    "usage: floor --certs DIR --nodes N --batch B --inflight C --port P --version V\n"
    "             --poll-min-ms M --poll-max-ms X\n"
    "\n"
    "Dispatches version V to nodes 0..N-1 (node i at 127.0.(1+i/250).(1+i%250):P),\n"
    "B nodes per batch, batches in order, at most C requests in flight, and polls each\n"
    "task on the controller's schedule until it succeeds. No database. Prints\n"
    "\"floor: N nodes, B per batch, wall_ms=W requests=R cpu_ms=U maxrss_kib=M\n"
    "connections=C ahead=A ahead_unused=X\" (U and M are this process's CPU time and peak\n"
    "RSS; C the TLS connections it opened, A of them ahead of their batch, X of those\n"
    "closed unused); exits 1 on any failure.\n";

struct options {
	const char *certs_dir;
	int64_t nodes;
	int64_t batch;
	int64_t inflight;
	int64_t port;
	int64_t version;
	int64_t poll_min_ms;
	int64_t poll_max_ms;
};

enum fnode_state { F_TO_DISPATCH = 0, F_IN_FLIGHT, F_WAITING, F_DONE };

struct fnode {
	enum fnode_state state;
	int64_t dispatched_at; /* monotonic ms when the dispatch was sent */
	int64_t next_poll;     /* monotonic ms */
	int64_t answered_at;   /* monotonic ms of the answer next_poll was planned from */
	struct agent_call call;
};

struct floor_run {
	const struct options *opt;
	struct agentclient *ac;
	struct fnode *nodes;
	int64_t requests;
	struct poll_estimate est; /* as the runner learns it */
};

/* Returns 0 to run, 1 when --help was printed, -1 after a usage message. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"certs", required_argument, NULL, 'c'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"port", required_argument, NULL, 'p'},
	    {"version", required_argument, NULL, 'v'},
	    {"poll-min-ms", required_argument, NULL, 'm'},
	    {"poll-max-ms", required_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int64_t *target = NULL;
	int64_t min = 1, max = 0;
	int c, idx = 0;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		switch (c) {
		case 'c':
			o->certs_dir = optarg;
			continue;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		case 'n':
			target = &o->nodes;
			max = NODES_MAX;
			break;
		case 'b':
			target = &o->batch;
			max = NODES_MAX;
			break;
		case 'i':
			target = &o->inflight;
			max = 100000;
			break;
		case 'p':
			target = &o->port;
			max = 65535;
			break;
		case 'v':
			target = &o->version;
			max = INT64_MAX;
			break;
		case 'm':
			target = &o->poll_min_ms;
			max = 600000;
			break;
		case 'x':
			target = &o->poll_max_ms;
			max = 600000;
			break;
		default:
			fprintf(stderr, "floor: unknown option or missing value\n%s", usage_text);
			return -1;
		}
		if (parse_int64(optarg, min, max, target) != 0) {
			fprintf(stderr,
			        "floor: --%s: expected an integer in [%" PRId64 ", %" PRId64
			        "], got '%s'\n",
			        longopts[idx].name, min, max, optarg);
			return -1;
		}
	}
	if (optind != argc || !o->certs_dir || !o->nodes || !o->batch || !o->inflight || !o->port ||
	    !o->version || !o->poll_min_ms || !o->poll_max_ms) {
		fprintf(stderr, "floor: every option is required\n%s", usage_text);
		return -1;
	}
	if (o->poll_min_ms > o->poll_max_ms) {
		fprintf(stderr, "floor: --poll-min-ms must not exceed --poll-max-ms\n");
		return -1;
	}
	return 0;
}

static void init_node(struct floor_run *f, int64_t i)
{
	struct fnode *x = &f->nodes[i];

	x->call.op = AGENT_DISPATCH;
	snprintf(x->call.ip, sizeof(x->call.ip), "127.0.%d.%d", (int)(1 + i / 250),
	         (int)(1 + i % 250));
	x->call.port = (int)f->opt->port;
	x->call.version = f->opt->version;
	snprintf(x->call.idem_key, sizeof(x->call.idem_key), "floor-%" PRId64 "-n%" PRId64,
	         f->opt->version, i);
	x->call.user = x;
}

static int start(struct floor_run *f, struct fnode *x, enum agent_op op, int64_t now)
{
	x->call.op = op;
	if (agentclient_start(f->ac, &x->call) != 0) {
		fprintf(stderr, "floor: %s: %s\n", x->call.ip, x->call.error);
		return -1;
	}
	if (op == AGENT_DISPATCH)
		x->dispatched_at = now;
	x->state = F_IN_FLIGHT;
	f->requests++;
	return 0;
}

/*
 * Starts what is due in [begin, end) while there is room under the cap; sets *wait_ms to
 * the time until the next poll falls due. Returns -1 when a request cannot be started.
 */
static int start_due(struct floor_run *f, int64_t begin, int64_t end, int *wait_ms)
{
	size_t cap = (size_t)f->opt->inflight;
	int64_t now = now_mono_ms();
	int64_t next = now + WAIT_MAX_MS;

	for (int64_t i = begin; i < end; i++) {
		struct fnode *x = &f->nodes[i];
		int room = agentclient_inflight(f->ac) < cap;

		if (x->state == F_TO_DISPATCH && room) {
			if (start(f, x, AGENT_DISPATCH, now))
				return -1;
		} else if (x->state == F_WAITING && x->next_poll <= now && room) {
			if (start(f, x, AGENT_QUERY, now))
				return -1;
		} else if (x->state == F_WAITING && x->next_poll < next) {
			next = x->next_poll;
		}
	}
	*wait_ms = next > now ? (int)(next - now) : 1;
	return 0;
}

/* Plans x's next poll from its answer at monotonic ms from, as the runner does. */
static void plan_poll(struct floor_run *f, struct fnode *x, int64_t from)
{
	x->answered_at = from;
	x->next_poll =
	    from + release_poll_delay_ms(from - x->dispatched_at, &f->est, (int)f->opt->poll_min_ms,
	                                 (int)f->opt->poll_max_ms, (uint64_t)(x - f->nodes) + 1);
}

/* Takes one answer; returns 1 when the node is done, 0 to poll again, -1 on failure. */
static int on_answer(struct floor_run *f, struct fnode *x)
{
	struct agent_call *c = &x->call;
	int64_t now = now_mono_ms();

	if (c->result != AGENT_OK) {
		fprintf(stderr, "floor: %s: %s\n", c->ip, c->error);
		return -1;
	}
	if (c->op == AGENT_QUERY && c->state == AGENT_TASK_SUCCESS) {
		/* As the runner does: a first or shorter end plans the waiting polls again. */
		if (release_poll_learn(&f->est, (c->sent_at ? c->sent_at : now) - x->dispatched_at))
			for (int64_t i = 0; i < f->opt->nodes; i++)
				if (f->nodes[i].state == F_WAITING)
					plan_poll(f, &f->nodes[i], f->nodes[i].answered_at);
		x->state = F_DONE;
		agent_call_free(c); /* as the runner does: its connection is not needed */
		return 1;
	}
	if (c->op == AGENT_QUERY && c->state == AGENT_TASK_FAILED) {
		fprintf(stderr, "floor: %s: %s\n", c->ip, c->error);
		return -1;
	}
	if (c->op == AGENT_DISPATCH && c->sent_at)
		x->dispatched_at = c->sent_at; /* as the runner does: when it reached the agent */
	x->state = F_WAITING;
	plan_poll(f, x, now);
	return 0;
}

/*
 * As the runner does: once every node of the batch has its task, the connections of the
 * next batch's first nodes (as many as may be in flight) are opened, nothing sent on
 * them, from POLL_AHEAD_MS before the batch is expected to end; *wait_ms is cut to that.
 */
static void preconnect(struct floor_run *f, int64_t begin, int64_t end, int64_t next_end, int *done,
                       int *wait_ms)
{
	int64_t last = 0, at, now = now_mono_ms();

	if (*done)
		return;
	for (int64_t i = begin; i < end; i++) {
		const struct fnode *x = &f->nodes[i];

		if (x->state == F_TO_DISPATCH ||
		    (x->state == F_IN_FLIGHT && x->call.op == AGENT_DISPATCH))
			return;
		if (x->dispatched_at > last)
			last = x->dispatched_at;
	}
	at = release_poll_ahead_at(&f->est, last);
	if (at > now) {
		if (at - now < *wait_ms)
			*wait_ms = (int)(at - now);
		return;
	}
	if (next_end - end > f->opt->inflight)
		next_end = end + f->opt->inflight;
	for (int64_t i = end; i < next_end; i++)
		agentclient_preconnect(f->ac, &f->nodes[i].call);
	*done = 1;
}

static int run_batch(struct floor_run *f, int64_t begin, int64_t end, int64_t next_end)
{
	struct agent_call *done[DONE_MAX];
	int64_t left = end - begin;
	int warmed = 0;

	while (left > 0) {
		int wait_ms, n;

		if (start_due(f, begin, end, &wait_ms))
			return -1;
		preconnect(f, begin, end, next_end, &warmed, &wait_ms);
		n = agentclient_wait(f->ac, wait_ms, done, DONE_MAX);
		if (n < 0) {
			fprintf(stderr, "floor: libcurl multi failure\n");
			return -1;
		}
		for (int i = 0; i < n; i++) {
			int rc = on_answer(f, done[i]->user);

			if (rc < 0)
				return -1;
			left -= rc;
		}
	}
	return 0;
}

static int run(const struct options *opt)
{
	char ca[4096], cert[4096], key[4096], err[256];
	struct agentclient_config cfg = {
	    .ca_file = ca,
	    .cert_file = cert,
	    .key_file = key,
	    .connect_timeout_s = 15,
	    .request_timeout_s = 60,
	};
	struct floor_run f = {.opt = opt};
	struct agentclient_stats st;
	struct rusage ru;
	int64_t t0, wall_ms, cpu_ms;
	int rc = -1;

	snprintf(ca, sizeof(ca), "%s/ca.pem", opt->certs_dir);
	snprintf(cert, sizeof(cert), "%s/client.crt", opt->certs_dir);
	snprintf(key, sizeof(key), "%s/client.key", opt->certs_dir);
	f.nodes = calloc((size_t)opt->nodes, sizeof(*f.nodes));
	if (!f.nodes) {
		fprintf(stderr, "floor: out of memory\n");
		goto out;
	}
	f.ac = agentclient_new(&cfg, err, sizeof(err));
	if (!f.ac) {
		fprintf(stderr, "floor: %s\n", err);
		goto out;
	}
	for (int64_t i = 0; i < opt->nodes; i++)
		init_node(&f, i);

	t0 = now_mono_ms();
	for (int64_t b = 0; b < opt->nodes; b += opt->batch) {
		int64_t end = b + opt->batch < opt->nodes ? b + opt->batch : opt->nodes;
		int64_t next_end = end + opt->batch < opt->nodes ? end + opt->batch : opt->nodes;

		if (run_batch(&f, b, end, next_end))
			goto out;
	}
	wall_ms = now_mono_ms() - t0;
	/* CPU and peak RSS show what the agent client alone costs beside the controller. */
	getrusage(RUSAGE_SELF, &ru);
	cpu_ms = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	agentclient_stats(f.ac, &st);
	printf("floor: %" PRId64 " nodes, %" PRId64 " per batch, wall_ms=%" PRId64
	       " requests=%" PRId64 " cpu_ms=%" PRId64 " maxrss_kib=%ld connections=%" PRIu64
	       " ahead=%" PRIu64 " ahead_unused=%" PRIu64 " idle_closed=%" PRIu64 " resent=%" PRIu64
	       " slow=%" PRIu64 "\n",
	       opt->nodes, opt->batch, wall_ms, f.requests, cpu_ms, ru.ru_maxrss, st.opened,
	       st.ahead, st.ahead_unused, st.idle_closed, st.resent, st.slow);
	rc = 0;
out:
	/* Calls still in flight after a failure are abandoned before their handles go. */
	if (f.nodes) {
		for (int64_t i = 0; i < opt->nodes; i++) {
			if (f.ac && f.nodes[i].state == F_IN_FLIGHT)
				agentclient_abort(f.ac, &f.nodes[i].call);
			agent_call_free(&f.nodes[i].call);
		}
	}
	agentclient_free(f.ac);
	free(f.nodes);
	return rc;
}

int main(int argc, char **argv)
{
	struct options opt;
	int rc = parse_options(argc, argv, &opt);

	if (rc > 0)
		return 0;
	if (rc < 0)
		return EXIT_USAGE;
	return run(&opt) == 0 ? 0 : 1;
}
