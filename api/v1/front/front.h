/*
 * front: the API's listener. One thread with epoll holds every client connection: it
 * does the TLS handshake, reads a request's headers and body against deadlines, caps
 * the connections of each client address, keeps idle keep-alive connections, and hands
 * only complete requests to civetweb's workers, over connections on loopback that it
 * keeps open to them. A client that is too slow is disconnected and counted
 * (cmdb_api_slow_clients_total); a worker is never held by a client's pace.
 */
#ifndef CMDB_API_FRONT_H
#define CMDB_API_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "api/v1/front/tls.h"

/* Requests with a body above body_max (big_body_path's) held at once. */
#define FRONT_BIG_BODIES 2

/* Connections the front holds at most; beyond it an idle one makes room, or none comes in. */
#define FRONT_CONN_MAX 8192

/*
 * A pool of civetweb workers, reached on 127.0.0.1:port; the front opens one kept
 * connection per worker.
 */
struct front_pool_config {
	int port;
	int workers;
};

struct front_config {
	const char *listen;        /* CMDB_LISTEN, IPv4:port */
	const char *health_listen; /* CMDB_HEALTH_LISTEN, or "" */
	int proxy_protocol;        /* CMDB_API_PROXY_PROTOCOL: CMDB_LISTEN's first line */
	int header_timeout_s;      /* CMDB_API_HEADER_TIMEOUT */
	int body_timeout_s;        /* CMDB_API_BODY_TIMEOUT (also a stalled answer) */
	int keepalive_timeout_s;   /* CMDB_API_KEEPALIVE_TIMEOUT */
	int max_conn_per_client;   /* CMDB_API_MAX_CONN_PER_CLIENT */
	int64_t body_max;          /* larger bodies are refused with 413 */
	/*
	 * POST to this path may send up to big_body_max (or NULL): at most
	 * FRONT_BIG_BODIES of them are held at once, the next are told 503 and to retry,
	 * so that clients that have not yet proved who they are cannot make the front
	 * hold more than that much memory for them.
	 */
	const char *big_body_path;
	int64_t big_body_max;
	const char *key;              /* proves to civetweb that a request came through us */
	struct front_tls *tls;        /* HTTPS on CMDB_LISTEN; NULL: plain HTTP */
	struct front_pool_config api; /* every request but the probes */
	/*
	 * /health/..., /healthz, /readyz, /metrics; at least 3 workers: the last free one
	 * only for liveness, the one before only for CMDB_HEALTH_LISTEN's probes.
	 */
	struct front_pool_config ops;
};

struct front;

/*
 * Listens on fc->listen (and fc->health_listen) and starts the thread. fc's strings
 * and tls must outlive the front. NULL with err naming the setting that failed.
 */
struct front *front_start(const struct front_config *fc, char *err, size_t errlen);
/*
 * Stops listening, lets requests being answered finish (at most 5 s), closes every
 * connection and frees f. NULL is a no-op.
 */
void front_stop(struct front *f);

/* The API pool's load, for /health/ready. */
struct front_load {
	int busy;    /* workers answering a request */
	int workers; /* CMDB_API_THREADS */
	int waiting; /* complete requests waiting for a worker */
	int64_t longest_wait_ms;
};

/* Any thread. */
void front_load(const struct front *f, struct front_load *out);

#endif
