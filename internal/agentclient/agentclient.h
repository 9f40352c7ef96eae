/*
 * agentclient: talks to node agents over HTTPS with mutual TLS, many calls at once
 * through one libcurl multi handle. The server certificate is verified against the
 * fleet CA and the node's IP; the client certificate is always sent. Connections are
 * kept alive between a node's dispatch and its polls.
 *
 * Asynchronous use: fill a struct agent_call, agentclient_start() it, and collect it
 * from agentclient_wait() when it completes. agentclient_dispatch/_query are the
 * blocking one-call forms (the seed's Dispatch and Query).
 */
#ifndef CMDB_AGENTCLIENT_H
#define CMDB_AGENTCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "agentclient/protocol.h"

struct agentclient_config {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	int connect_timeout_s; /* 15 in the seed */
	int request_timeout_s; /* 60 in the seed */
	int max_connections;   /* connection cache size; at least the in-flight cap */
};

enum agent_op { AGENT_DISPATCH, AGENT_QUERY };

struct agent_call {
	/* Set by the caller before agentclient_start(). */
	enum agent_op op;
	char ip[46];
	int port;
	int64_t version;                       /* AGENT_DISPATCH */
	char idem_key[AGENT_IDEM_KEY_MAX + 1]; /* AGENT_DISPATCH; empty: none sent */
	char task_id[AGENT_TASK_ID_MAX + 1];   /* AGENT_QUERY input, AGENT_DISPATCH output */
	void *user;                            /* caller's cookie, untouched */

	/* Results, valid once the call came back from agentclient_wait(). */
	enum agent_result result;
	enum agent_task_state state; /* AGENT_QUERY with AGENT_OK */
	long http_status;            /* 0 when no HTTP answer arrived */
	long retry_after_s;          /* the agent's Retry-After (429/503), 0 when none */
	char error[512];             /* what went wrong, or "agent failed: ..." */

	/* Private to agentclient. */
	void *easy;
	void *headers;
	char *body;
	size_t body_len;
	int too_big;
	char errbuf[256];
	char post[96];
};

struct agentclient;

/* Returns NULL with err set when libcurl cannot be set up. */
struct agentclient *agentclient_new(const struct agentclient_config *cfg, char *err, size_t errlen);
/* Aborts what is in flight; calls still started are not returned. */
void agentclient_free(struct agentclient *ac);

/*
 * Reads AGENT_CERT_FILE, AGENT_KEY_FILE and AGENT_CA_FILE again (SIGHUP): connections
 * made from now on use them; calls in flight go on. A file that does not load changes
 * nothing: -1 with err saying which. Call it from the thread that drives ac.
 */
int agentclient_reload(struct agentclient *ac, char *err, size_t errlen);

/*
 * Starts a call; it stays owned by the caller and must not move or be freed until
 * agentclient_wait() returned it. Returns 0, or -1 (call->error says why) without
 * starting it.
 */
int agentclient_start(struct agentclient *ac, struct agent_call *call);

/*
 * Drives transfers for at most timeout_ms (returns sooner once something completed or
 * on agentclient_wakeup; with nothing in flight it simply waits) and stores up to max completed
 * calls in done. Returns how many, or -1 on an internal libcurl failure.
 */
int agentclient_wait(struct agentclient *ac, int timeout_ms, struct agent_call **done, size_t max);

size_t agentclient_inflight(const struct agentclient *ac);

/* Makes a concurrent or the next agentclient_wait() return early; thread-safe. */
void agentclient_wakeup(struct agentclient *ac);

/* Abandons a started call that has not completed; it will not be returned. */
void agentclient_abort(struct agentclient *ac, struct agent_call *call);

/* Releases the per-call libcurl state kept for reuse; call when done with the call. */
void agent_call_release(struct agent_call *call);

/* Blocking forms: return AGENT_OK or an error class with err filled. */
enum agent_result agentclient_dispatch(struct agentclient *ac, const char *ip, int port,
                                       int64_t version, const char *idem_key, char *task_id,
                                       size_t task_id_len, char *err, size_t errlen);
enum agent_result agentclient_query(struct agentclient *ac, const char *ip, int port,
                                    const char *task_id, enum agent_task_state *state, char *err,
                                    size_t errlen);

/*
 * Turns a libcurl failure into our error_msg wording, e.g.
 * "connect 127.0.1.7:9443: connection refused" or "tls: server certificate not trusted".
 * Exposed for unit tests; code is a CURLcode.
 */
enum agent_result agentclient_describe_failure(int code, int os_errno, int connected,
                                               const char *curl_detail, const char *ip, int port,
                                               int timeout_s, char *out, size_t outlen);

#endif
