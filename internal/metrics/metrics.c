/*
 * metrics: fixed arrays of atomic counters; histograms keep a count per bucket (not
 * cumulative; the writer sums them) and their sum in microseconds.
 */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#ifndef CMDB_VERSION
#define CMDB_VERSION "dev"
#endif

#define BUCKETS_MAX 16

struct histogram {
	const double *bounds; /* seconds, ascending; +Inf is implicit */
	size_t nbounds;
	atomic_uint_fast64_t counts[BUCKETS_MAX + 1];
	atomic_uint_fast64_t sum_us;
	atomic_uint_fast64_t count;
};

static const double agent_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double node_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
static const double release_bounds[] = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600};
static const double api_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,   0.25,   0.5,   1,    2.5};

#define NB(a) (sizeof(a) / sizeof(a[0]))
#define HISTOGRAM(b)                                                                               \
	{                                                                                          \
		.bounds = b, .nbounds = NB(b)                                                      \
	}

static const char *const outcome_names[OUTCOME_COUNT] = {
    [OUTCOME_SUCCESS] = "success",         [OUTCOME_AGENT_FAILED] = "agent_failed",
    [OUTCOME_UNREACHABLE] = "unreachable", [OUTCOME_TLS] = "tls",
    [OUTCOME_TIMEOUT] = "timeout",         [OUTCOME_PROTOCOL] = "protocol",
    [OUTCOME_SKIPPED] = "skipped",
};
static const char *const forbidden_names[FORBIDDEN_COUNT] = {
    [FORBIDDEN_ROLE] = "forbidden_role",
    [FORBIDDEN_SCOPE] = "out_of_scope",
};
static const char *const call_names[CALL_KIND_COUNT] = {"dispatch", "poll"};
static const char *const call_result_names[CALL_RESULT_COUNT] = {"ok", "transient", "permanent"};
static const char *const slow_names[SLOW_REASON_COUNT] = {
    [SLOW_HEADER] = "header",
    [SLOW_BODY] = "body",
    [SLOW_RESPONSE] = "response",
    [SLOW_CONN_LIMIT] = "conn_limit",
};

/* The HTTP statuses the API answers; anything else is counted as "other". */
static const int api_codes[] = {200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 422, 500, 503};
#define NCODES NB(api_codes)

static struct {
	atomic_uint_fast64_t outcomes[OUTCOME_COUNT];
	atomic_uint_fast64_t calls[CALL_KIND_COUNT][CALL_RESULT_COUNT];
	struct histogram call_seconds[CALL_KIND_COUNT];
	struct histogram node_seconds;
	struct histogram release_seconds;
	atomic_int_fast64_t active, inflight;
	atomic_uint_fast64_t takeovers;
	atomic_uint_fast64_t db_errors[2];
	atomic_uint_fast64_t db_tx_retries, db_node_switches;
	atomic_uint_fast64_t conn_opened, conn_ahead, conn_ahead_unused, conn_slow;
	atomic_uint_fast64_t webhooks[3]; /* delivered, failed attempt, given up */
	atomic_int_fast64_t executor_turn_ms;
	const char *route_names[METRICS_ROUTES_MAX];
	atomic_uint_fast64_t api[METRICS_ROUTES_MAX][NCODES + 1];
	atomic_uint_fast64_t slow[SLOW_REASON_COUNT];
	struct histogram api_seconds[METRICS_ROUTES_MAX];
	atomic_uint_fast64_t forbidden[FORBIDDEN_COUNT];
} m = {
    .call_seconds = {HISTOGRAM(agent_bounds), HISTOGRAM(agent_bounds)},
    .node_seconds = HISTOGRAM(node_bounds),
    .release_seconds = HISTOGRAM(release_bounds),
};

static void observe(struct histogram *h, int64_t us)
{
	double s = (double)us / 1e6;
	size_t i = 0;

	if (us < 0)
		us = 0;
	while (i < h->nbounds && s > h->bounds[i])
		i++;
	atomic_fetch_add(&h->counts[i], 1);
	atomic_fetch_add(&h->sum_us, (uint_fast64_t)us);
	atomic_fetch_add(&h->count, 1);
}

enum metrics_outcome metrics_failure_class(const char *e)
{
	if (!e)
		return OUTCOME_PROTOCOL;
	if (strncmp(e, "agent failed:", 13) == 0)
		return OUTCOME_AGENT_FAILED;
	if (strncmp(e, "tls:", 4) == 0)
		return OUTCOME_TLS;
	if (strncmp(e, "timeout:", 8) == 0 || strstr(e, ": timed out"))
		return OUTCOME_TIMEOUT;
	if (strncmp(e, "connect ", 8) == 0 || strstr(e, "closed the connection") ||
	    strstr(e, ": HTTP 5") || strstr(e, ": HTTP 429"))
		return OUTCOME_UNREACHABLE;
	return OUTCOME_PROTOCOL;
}

void metrics_node_outcome(enum metrics_outcome o, size_t n)
{
	if ((unsigned)o < OUTCOME_COUNT)
		atomic_fetch_add(&m.outcomes[o], n);
}

void metrics_node_duration(int64_t ms)
{
	observe(&m.node_seconds, ms * 1000);
}

void metrics_agent_call(enum metrics_call kind, enum metrics_call_result r, int64_t us)
{
	if ((unsigned)kind >= CALL_KIND_COUNT || (unsigned)r >= CALL_RESULT_COUNT)
		return;
	atomic_fetch_add(&m.calls[kind][r], 1);
	observe(&m.call_seconds[kind], us);
}

void metrics_release_duration(int64_t ms)
{
	observe(&m.release_seconds, ms * 1000);
}

void metrics_set_active(int64_t releases, int64_t calls_inflight)
{
	atomic_store(&m.active, releases);
	atomic_store(&m.inflight, calls_inflight);
}

void metrics_set_agent_connections(uint64_t opened, uint64_t ahead, uint64_t ahead_unused,
                                   uint64_t slow)
{
	atomic_store(&m.conn_opened, opened);
	atomic_store(&m.conn_ahead, ahead);
	atomic_store(&m.conn_ahead_unused, ahead_unused);
	atomic_store(&m.conn_slow, slow);
}

void metrics_lease_takeover(void)
{
	atomic_fetch_add(&m.takeovers, 1);
}

void metrics_db_error(int retryable)
{
	atomic_fetch_add(&m.db_errors[retryable ? 1 : 0], 1);
}

void metrics_db_tx_retry(void)
{
	atomic_fetch_add(&m.db_tx_retries, 1);
}

void metrics_db_node_switch(void)
{
	atomic_fetch_add(&m.db_node_switches, 1);
}

void metrics_webhook(int delivered, int gave_up)
{
	atomic_fetch_add(&m.webhooks[delivered ? 0 : gave_up ? 2 : 1], 1);
}

void metrics_executor_alive(void)
{
	atomic_store(&m.executor_turn_ms, now_mono_ms());
}

int64_t metrics_executor_last_turn(void)
{
	return atomic_load(&m.executor_turn_ms);
}

void metrics_api_slow_client(enum metrics_slow reason)
{
	if ((unsigned)reason < SLOW_REASON_COUNT)
		atomic_fetch_add(&m.slow[reason], 1);
}

void metrics_set_route_name(size_t route, const char *name)
{
	if (route < METRICS_ROUTES_MAX) {
		m.route_names[route] = name;
		m.api_seconds[route].bounds = api_bounds;
		m.api_seconds[route].nbounds = NB(api_bounds);
	}
}

void metrics_api_request(size_t route, int status, int64_t us)
{
	size_t c = 0;

	if (route >= METRICS_ROUTES_MAX || !m.route_names[route])
		return;
	while (c < NCODES && api_codes[c] != status)
		c++;
	atomic_fetch_add(&m.api[route][c], 1);
	observe(&m.api_seconds[route], us);
}

void metrics_api_forbidden(enum metrics_forbidden reason)
{
	if ((unsigned)reason < FORBIDDEN_COUNT)
		atomic_fetch_add(&m.forbidden[reason], 1);
}

static void header(struct strbuf *o, const char *name, const char *type, const char *help)
{
	strbuf_addf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric of one value and no labels. */
static void single(struct strbuf *o, const char *name, const char *type, const char *help,
                   long long value)
{
	header(o, name, type, help);
	strbuf_addf(o, "%s %lld\n", name, value);
}

/* Writes the _bucket, _sum and _count lines of h; labels is "" or `kind="poll",`. */
static void write_histogram(struct strbuf *o, const char *name, const char *labels,
                            struct histogram *h)
{
	uint_fast64_t cum = 0;
	size_t i;

	for (i = 0; i < h->nbounds; i++) {
		cum += atomic_load(&h->counts[i]);
		strbuf_addf(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, h->bounds[i],
		            (unsigned long long)cum);
	}
	cum += atomic_load(&h->counts[i]);
	strbuf_addf(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
	if (labels[0]) {
		char trimmed[128];
		size_t n = strlen(labels);

		str_copy(trimmed, labels, sizeof(trimmed));
		if (n && n - 1 < sizeof(trimmed))
			trimmed[n - 1] = '\0'; /* the trailing comma */
		strbuf_addf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, trimmed,
		            (double)atomic_load(&h->sum_us) / 1e6, name, trimmed,
		            (unsigned long long)atomic_load(&h->count));
	} else {
		strbuf_addf(o, "%s_sum %.6f\n%s_count %llu\n", name,
		            (double)atomic_load(&h->sum_us) / 1e6, name,
		            (unsigned long long)atomic_load(&h->count));
	}
}

static void write_db(struct strbuf *o, const struct metrics_db_view *db)
{
	if (!db || !db->ok)
		return;
	header(o, "cmdb_releases", "gauge", "Releases in the database by status.");
	for (size_t s = 0; s < db->nstatus; s++)
		strbuf_addf(o, "cmdb_releases{status=\"%s\"} %lld\n",
		            release_status_name((enum release_status)s),
		            (long long)db->by_status[s]);
	single(o, "cmdb_releases_past_deadline", "gauge",
	       "Running releases older than their batches times RELEASE_NODE_TIMEOUT.",
	       (long long)db->past_deadline);
	single(o, "cmdb_webhook_pending", "gauge", "Webhook notifications not delivered yet.",
	       (long long)db->pending_notifications);
}

static void write_api(struct strbuf *o)
{
	header(o, "cmdb_api_requests_total", "counter", "API requests by route and HTTP status.");
	for (size_t r = 0; r < METRICS_ROUTES_MAX; r++) {
		if (!m.route_names[r])
			continue;
		for (size_t c = 0; c <= NCODES; c++) {
			uint_fast64_t v = atomic_load(&m.api[r][c]);
			char code[8];

			if (!v)
				continue;
			if (c < NCODES)
				snprintf(code, sizeof(code), "%d", api_codes[c]);
			else
				snprintf(code, sizeof(code), "other");
			strbuf_addf(o, "cmdb_api_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
			            m.route_names[r], code, (unsigned long long)v);
		}
	}
	header(o, "cmdb_api_forbidden_total", "counter",
	       "API requests refused with 403 because the principal lacks the route's role"
	       " (forbidden_role) or the write reaches outside its scope (out_of_scope).");
	for (int i = 0; i < FORBIDDEN_COUNT; i++)
		strbuf_addf(o, "cmdb_api_forbidden_total{reason=\"%s\"} %llu\n", forbidden_names[i],
		            (unsigned long long)atomic_load(&m.forbidden[i]));
	header(o, "cmdb_api_request_duration_seconds", "histogram",
	       "Time to answer an API request, by route.");
	for (size_t r = 0; r < METRICS_ROUTES_MAX; r++) {
		char labels[128];

		if (!m.route_names[r] || !atomic_load(&m.api_seconds[r].count))
			continue;
		snprintf(labels, sizeof(labels), "route=\"%s\",", m.route_names[r]);
		write_histogram(o, "cmdb_api_request_duration_seconds", labels, &m.api_seconds[r]);
	}
	header(o, "cmdb_api_slow_clients_total", "counter",
	       "API connections cut by the front: reason=\"header\" (request line and headers,"
	       " or the TLS handshake, not in within CMDB_API_HEADER_TIMEOUT), \"body\" (body"
	       " not in within CMDB_API_BODY_TIMEOUT), \"response\" (none of the answer taken"
	       " for CMDB_API_BODY_TIMEOUT), \"conn_limit\" (refused: its address had"
	       " CMDB_API_MAX_CONN_PER_CLIENT connections open).");
	for (int i = 0; i < SLOW_REASON_COUNT; i++)
		strbuf_addf(o, "cmdb_api_slow_clients_total{reason=\"%s\"} %llu\n", slow_names[i],
		            (unsigned long long)atomic_load(&m.slow[i]));
}

void metrics_write(struct strbuf *o, const struct metrics_db_view *db)
{
	static const char *const webhook_names[] = {"delivered", "failed_attempt", "gave_up"};

	header(o, "cmdb_build_info", "gauge", "The running build; always 1.");
	strbuf_addf(o, "cmdb_build_info{version=\"%s\"} 1\n", CMDB_VERSION);
	write_db(o, db);
	header(o, "cmdb_node_outcomes_total", "counter",
	       "Nodes of releases this process drove that ended, by outcome class.");
	for (int i = 0; i < OUTCOME_COUNT; i++)
		strbuf_addf(o, "cmdb_node_outcomes_total{class=\"%s\"} %llu\n", outcome_names[i],
		            (unsigned long long)atomic_load(&m.outcomes[i]));
	header(o, "cmdb_agent_requests_total", "counter", "Agent requests by kind and outcome.");
	for (int k = 0; k < CALL_KIND_COUNT; k++)
		for (int r = 0; r < CALL_RESULT_COUNT; r++)
			strbuf_addf(o,
			            "cmdb_agent_requests_total{kind=\"%s\",outcome=\"%s\"} %llu\n",
			            call_names[k], call_result_names[r],
			            (unsigned long long)atomic_load(&m.calls[k][r]));
	header(o, "cmdb_agent_request_duration_seconds", "histogram",
	       "Time from sending an agent request to its answer.");
	write_histogram(o, "cmdb_agent_request_duration_seconds", "kind=\"dispatch\",",
	                &m.call_seconds[CALL_DISPATCH]);
	write_histogram(o, "cmdb_agent_request_duration_seconds", "kind=\"poll\",",
	                &m.call_seconds[CALL_POLL]);
	header(o, "cmdb_node_duration_seconds", "histogram",
	       "Time from a node's dispatch to its terminal status.");
	write_histogram(o, "cmdb_node_duration_seconds", "", &m.node_seconds);
	header(o, "cmdb_release_duration_seconds", "histogram",
	       "Time from this process's claim of a release to its end.");
	write_histogram(o, "cmdb_release_duration_seconds", "", &m.release_seconds);
	single(o, "cmdb_releases_active", "gauge", "Releases this process drives now.",
	       (long long)atomic_load(&m.active));
	single(o, "cmdb_agent_calls_inflight", "gauge", "Agent requests in flight now.",
	       (long long)atomic_load(&m.inflight));
	header(o, "cmdb_agent_connections_total", "counter",
	       "TLS connections opened to agents; how=\"ahead\": before their batch, nothing"
	       " sent on them until it starts.");
	strbuf_addf(o, "cmdb_agent_connections_total{how=\"request\"} %llu\n",
	            (unsigned long long)(atomic_load(&m.conn_opened) - atomic_load(&m.conn_ahead)));
	strbuf_addf(o, "cmdb_agent_connections_total{how=\"ahead\"} %llu\n",
	            (unsigned long long)atomic_load(&m.conn_ahead));
	single(o, "cmdb_agent_connections_ahead_unused_total", "counter",
	       "Connections opened ahead that closed before carrying a request (the agent"
	       " closed it while it waited, or the release paused, was cancelled or failed).",
	       (long long)atomic_load(&m.conn_ahead_unused));
	single(o, "cmdb_agent_connections_slow_total", "counter",
	       "Connections still being set up (TCP and TLS handshake) after a second; from then"
	       " on they no longer count against the 32 set up at a time.",
	       (long long)atomic_load(&m.conn_slow));
	single(o, "cmdb_lease_takeovers_total", "counter",
	       "Releases this process took over after their owner's lease expired.",
	       (long long)atomic_load(&m.takeovers));
	header(o, "cmdb_db_errors_total", "counter",
	       "Failed database statements; kind=\"retry\": lost a race and ran again.");
	strbuf_addf(o, "cmdb_db_errors_total{kind=\"error\"} %llu\n",
	            (unsigned long long)atomic_load(&m.db_errors[0]));
	strbuf_addf(o, "cmdb_db_errors_total{kind=\"retry\"} %llu\n",
	            (unsigned long long)atomic_load(&m.db_errors[1]));
	single(o, "cmdb_db_tx_retries_total", "counter",
	       "Transactions run again from their start: after losing a race (a deadlock, a"
	       " Galera certification failure) or their connection before COMMIT.",
	       (long long)atomic_load(&m.db_tx_retries));
	single(o, "cmdb_db_node_switches_total", "counter",
	       "Times new database connections moved to another node of CMDB_DB_HOST because"
	       " the one in use was unusable.",
	       (long long)atomic_load(&m.db_node_switches));
	header(o, "cmdb_webhook_deliveries_total", "counter",
	       "Webhook delivery attempts by outcome.");
	for (int i = 0; i < 3; i++)
		strbuf_addf(o, "cmdb_webhook_deliveries_total{outcome=\"%s\"} %llu\n",
		            webhook_names[i], (unsigned long long)atomic_load(&m.webhooks[i]));
	write_api(o);
}
