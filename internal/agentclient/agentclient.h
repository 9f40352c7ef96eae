/*
 * agentclient: talks to node agents over HTTPS with mutual TLS, many calls at once.
 * libcurl sets up each node's TCP and TLS connection (the server certificate verified
 * against the fleet CA and the node's IP, the client certificate always sent); the
 * requests and answers of the agent contract go over it as HTTP/1.1 (agentclient/http1).
 * A node's connection is kept between its dispatch and its polls, and can be opened
 * before its batch starts (agentclient_preconnect) without sending it anything.
 *
 * Use: fill a struct agent_call, agentclient_start() it, and collect it from
 * agentclient_wait() when it completes. One thread drives a client (every function but
 * agentclient_wakeup); the calls are the caller's memory, the client only links them.
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
	int connect_timeout_s; /* AGENT_CONNECT_TIMEOUT */
	int request_timeout_s; /* AGENT_REQUEST_TIMEOUT */
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
	int64_t sent_at;             /* monotonic ms the request's last byte went out; 0: never */
	char error[512];             /* what went wrong, or "agent failed: ..." */

	/* Private to agentclient (agentclient_internal.h). */
	void *ac;           /* the client that holds this call's connection */
	void *easy;         /* libcurl's CONNECT_ONLY handle of the node's TLS connection */
	int phase;          /* of the connection and the request on it */
	int fd;             /* the connection's socket once connected, else -1 */
	int watched;        /* fd is in the client's epoll set */
	int fresh;          /* the connection was opened for the request in progress */
	int listed;         /* on a list of the client's: started, completed, or to open ahead */
	int unused;         /* the connection was opened ahead and has carried no request yet */
	int slot;           /* its connect holds one of the slots (see CONNECT_SLOW_MS) */
	int64_t connect_at; /* monotonic ms its connect started */
	int64_t deadline;
	/* Links: [0] on that list, [1] waiting for a connect slot or holding one. */
	struct agent_call *prev[2], *next[2];
	char *buf; /* the answer as it arrives */
	size_t buf_len, buf_cap;
	char *body; /* its body, once complete */
	size_t body_len;
	char req[640];
	size_t req_len, req_off;
	char errbuf[256];
};

struct agentclient;

/*
 * Makes a client: libcurl's multi handle, an epoll set, and the identity of cfg (read and
 * checked once). The caller frees it with agentclient_free. NULL with err set when one of
 * them cannot be set up (err names the file that does not load).
 */
struct agentclient *agentclient_new(const struct agentclient_config *cfg, char *err, size_t errlen);
/* Aborts what is in flight; calls still started are not returned. Free the calls first. */
void agentclient_free(struct agentclient *ac);

/*
 * Reads AGENT_CERT_FILE, AGENT_KEY_FILE and AGENT_CA_FILE again (SIGHUP): connections
 * made from now on use them; calls in flight go on. A file that does not load changes
 * nothing: -1 with err saying which.
 */
int agentclient_reload(struct agentclient *ac, char *err, size_t errlen);

/*
 * Starts a call; it stays owned by the caller and must not move or be freed until
 * agent_call_free() (it holds the node's connection). Returns 0, or -1 (call->error
 * says why) without starting it. A call that has a connection (from its previous request
 * or agentclient_preconnect) sends at once; one whose kept connection turns out closed
 * by the agent goes out once more on a new one.
 */
int agentclient_start(struct agentclient *ac, struct agent_call *call);

/*
 * Drives transfers for at most timeout_ms (returns sooner once something completed or
 * on agentclient_wakeup; with nothing in flight it simply waits) and stores up to max
 * completed calls in done (the caller's own calls, results set). Returns how many, or -1
 * on an internal libcurl failure.
 */
int agentclient_wait(struct agentclient *ac, int timeout_ms, struct agent_call **done, size_t max);

/* Makes a concurrent or the next agentclient_wait() return early; thread-safe. */
void agentclient_wakeup(struct agentclient *ac);

/* Abandons a started call that has not completed; it will not be returned. */
void agentclient_abort(struct agentclient *ac, struct agent_call *call);

/*
 * Opens the TLS connection of a call that is not started (ip and port set), as soon as
 * a connect slot is free, and sends nothing on it; a later agentclient_start() uses it.
 * Does nothing if the call has a connection or one is on its way. A connection that
 * fails or is closed by the agent is simply gone: the request opens its own and
 * reports what goes wrong then.
 */
void agentclient_preconnect(struct agentclient *ac, struct agent_call *call);

/* 1 while the call has a connection open, on its way, or waiting to be opened ahead. */
int agent_call_connected(const struct agent_call *call);

/*
 * Closes the call's connection and frees its state (a call still in flight is abandoned);
 * call it when done with the call, and before agentclient_free.
 */
void agent_call_free(struct agent_call *call);

/* Calls started and not yet completed. */
size_t agentclient_inflight(const struct agentclient *ac);

/* Connections this client opened, since it was made. */
struct agentclient_stats {
	uint64_t opened;       /* all, ahead or for a request */
	uint64_t ahead;        /* by agentclient_preconnect */
	uint64_t ahead_unused; /* of those, closed before they carried a request */
	uint64_t idle_closed;  /* closed by the agent while idle */
	uint64_t resent;       /* requests sent again after their kept connection closed */
	uint64_t slow;         /* connects still being set up after CONNECT_SLOW_MS (1 s) */
};

void agentclient_stats(const struct agentclient *ac, struct agentclient_stats *out);

/*
 * Turns a libcurl failure into our error_msg wording, e.g.
 * "connect 127.0.1.7:9443: connection refused" or "tls: server certificate not trusted".
 * Exposed for unit tests; code is a CURLcode.
 */
enum agent_result agentclient_describe_failure(int code, int os_errno, int connected,
                                               const char *curl_detail, const char *ip, int port,
                                               int timeout_s, char *out, size_t outlen);

#endif
