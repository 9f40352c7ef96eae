/*
 * metrics: the process's counters, gauges and histograms, updated with atomics from any
 * thread and written in the Prometheus text exposition format for GET /metrics. Every
 * metric and every label value is fixed here at compile time, so a scrape costs one pass
 * over a few arrays and no label can grow without bound. docs/operations.md explains
 * each one.
 */
#ifndef CMDB_METRICS_H
#define CMDB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

/* How a node of a release ended. */
enum metrics_outcome {
	OUTCOME_SUCCESS = 0,
	OUTCOME_AGENT_FAILED, /* the agent reported its apply failed */
	OUTCOME_UNREACHABLE,  /* refused, reset, closed, 429/5xx after every retry */
	OUTCOME_TLS,          /* certificate or handshake failure */
	OUTCOME_TIMEOUT,      /* no answer in time, or the task outlived RELEASE_NODE_TIMEOUT */
	OUTCOME_PROTOCOL,     /* an answer outside the agent contract */
	OUTCOME_SKIPPED,      /* never dispatched (halted, cancelled, offline, moved, ...) */
	OUTCOME_COUNT
};

/* The class of a node failure from its error_msg, as the agent client words them. */
enum metrics_outcome metrics_failure_class(const char *error_msg);

enum metrics_call { CALL_DISPATCH = 0, CALL_POLL, CALL_KIND_COUNT };
enum metrics_call_result { CALL_OK = 0, CALL_TRANSIENT, CALL_PERMANENT, CALL_RESULT_COUNT };

/* API routes are counted by their index in the router's table; the last is "other". */
#define METRICS_ROUTES_MAX 32

void metrics_node_outcome(enum metrics_outcome o, size_t n);
void metrics_node_duration(int64_t ms); /* dispatch to terminal */
void metrics_agent_call(enum metrics_call kind, enum metrics_call_result r, int64_t us);
void metrics_release_duration(int64_t ms); /* claim to terminal */
void metrics_set_active(int64_t releases, int64_t calls_inflight);
/* The agent client's connection counts so far (agentclient_stats). */
void metrics_set_agent_connections(uint64_t opened, uint64_t ahead, uint64_t ahead_unused,
                                   uint64_t slow);
void metrics_lease_takeover(void);
void metrics_db_error(int retryable); /* a failed statement: 1 when it lost a race */
void metrics_db_tx_retry(void);       /* a transaction runs again from its start */
void metrics_db_node_switch(void);    /* new connections moved to another database node */
void metrics_webhook(int delivered, int gave_up);
void metrics_executor_alive(void); /* the executor loop turned */
/* The monotonic ms of the executor loop's last turn; 0 when it never ran. */
int64_t metrics_executor_last_turn(void);

/* Why the API's front cut a client (cmdb_api_slow_clients_total{reason}). */
enum metrics_slow {
	SLOW_HEADER = 0, /* its request line and headers took longer than CMDB_API_HEADER_TIMEOUT */
	SLOW_BODY,       /* its body took longer than CMDB_API_BODY_TIMEOUT */
	SLOW_RESPONSE,   /* it took none of its answer for CMDB_API_BODY_TIMEOUT */
	SLOW_CONN_LIMIT, /* its address had CMDB_API_MAX_CONN_PER_CLIENT connections open */
	SLOW_REASON_COUNT
};

void metrics_api_slow_client(enum metrics_slow reason);

/* The router names its routes once, before serving: "GET /api/v1/releases/{id}". */
void metrics_set_route_name(size_t route, const char *name);
void metrics_api_request(size_t route, int status, int64_t us);

/* Why the API refused a request with 403: its principal's roles, or its scope. */
enum metrics_forbidden { FORBIDDEN_ROLE = 0, FORBIDDEN_SCOPE, FORBIDDEN_COUNT };
void metrics_api_forbidden(enum metrics_forbidden reason);

/* What the API reads from the database at scrape time, written with the rest. */
struct metrics_db_view {
	int ok;                /* 0: the database did not answer (those lines are left out) */
	int64_t by_status[16]; /* releases per enum release_status */
	size_t nstatus;
	int64_t past_deadline; /* running releases older than batch_count * node timeout */
	int64_t pending_notifications;
};

/* Appends the whole exposition to out. */
void metrics_write(struct strbuf *out, const struct metrics_db_view *db);

#endif
