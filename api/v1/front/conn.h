/*
 * front/conn: what the front's event loop (front.c: listeners, deadlines), its client
 * connections (client.c) and its pools (pool.c: the kept connections to civetweb's
 * workers) share.
 * Everything here runs on the front's one thread; only struct pool's published load is
 * read by others.
 */
#ifndef CMDB_API_FRONT_CONN_H
#define CMDB_API_FRONT_CONN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "api/v1/front/front.h"
#include "api/v1/front/wire.h"
#include "auth/auth.h"
#include "core/strbuf.h"
#include "guard/guard.h"

/* An answer waits in a client's buffer up to this many bytes; civetweb waits beyond. */
#define FRONT_OUT_MAX (64 * 1024)

/* What epoll reports on: the first member of each, so data.ptr finds the whole. */
enum fd_kind { FD_LISTENER, FD_CLIENT, FD_UPSTREAM, FD_WAKE };

struct watched {
	enum fd_kind kind;
	int fd;          /* -1 when closed */
	uint32_t events; /* what epoll watches for now */
};

struct listener {
	struct watched w;
	const char *setting; /* CMDB_LISTEN or CMDB_HEALTH_LISTEN, for messages */
	int health;          /* serves only the probes and /metrics */
	int proxy;           /* each connection starts with a PROXY protocol line */
	struct front_tls *tls;
};

enum client_state {
	CL_PROXY,     /* reading the PROXY protocol line */
	CL_HANDSHAKE, /* TLS handshake */
	CL_HEAD,      /* reading a request line and headers */
	CL_BODY,      /* reading the body of a request whose head is in */
	CL_QUEUED,    /* a complete request waits for a worker */
	CL_ANSWER,    /* a worker answers; the answer goes out through out */
	CL_IDLE,      /* keep-alive: waiting for the next request */
	CL_LINGER,    /* closing: our side is shut, what still comes is dropped */
};

struct pool;
struct upstream;

struct client {
	struct watched w;
	struct guard_timer timer;
	struct front *f;
	struct listener *lst;
	enum client_state state;
	int dead; /* closed; freed at the end of the loop's turn */
	struct guard_addr addr;
	int counted; /* counted in the per-address table */
	SSL *ssl;
	uint32_t tls_want; /* EPOLLIN / EPOLLOUT the last TLS call waits for */
	char principal[AUTH_PRINCIPAL_MAX];

	char *in; /* the request (and what follows it) */
	size_t in_len, in_cap;
	struct wire_request req;
	struct strbuf up_head; /* the request's head as civetweb gets it */
	int reserve;           /* the pool's workers it must leave free for others */
	int big_body;          /* its body is above body_max: counted in big_bodies */
	int retried;           /* sent again once on a new connection to civetweb */
	struct pool *pool;
	int64_t queued_at;
	struct client *qnext; /* in its pool's queue */

	char *out; /* FRONT_OUT_MAX bytes while answering */
	size_t out_len, out_off;
	int answer_done; /* the whole answer is in out */
	int close_after; /* close once it is out */
	struct upstream *up;

	struct client *prev, *next; /* every connection of the front */
};

enum upstream_state { UP_DOWN, UP_CONNECTING, UP_IDLE, UP_SEND, UP_HEAD, UP_BODY };

struct upstream {
	struct watched w;
	struct pool *pool;
	enum upstream_state state;
	struct client *cl; /* the request it carries */
	size_t sent;       /* bytes of the request's head and body sent */
	char *head;        /* the answer's head as it arrives (WIRE_HEAD_MAX) */
	size_t head_len;
	struct wire_answer ans;
	int64_t body_left; /* -1: until civetweb closes */
	int answered;      /* a byte of the answer came */
	int reused;        /* it carried a request before */
};

struct pool {
	struct front *f;
	struct upstream *ups;
	int n, port;
	int busy, waiting;
	int kicking, kick_again;
	struct client *qhead, *qtail;
	/* The load as other threads read it (front_load). */
	atomic_int pub_busy, pub_waiting;
	atomic_llong pub_oldest; /* when the first waiting request came in; 0: none */
};

struct front {
	struct front_config cfg;
	int ep;
	struct watched wake; /* an eventfd: front_stop */
	struct listener main, health;
	struct pool api, ops;
	struct guard_table *addrs;
	struct guard_timers timers;
	struct client *clients, *dead;
	int nclients;
	int big_bodies; /* requests with a body above body_max being read or answered */
	int64_t now;
	int64_t accept_again; /* out of descriptors: listeners resume then */
	int64_t fds_warned;   /* when that was last logged */
	atomic_int stopping;
	pthread_t thread;
};

/* front.c */
void front_watch(struct front *f, struct watched *w, uint32_t events);

/* client.c */
/* Takes an accepted connection: its per-address count, its header deadline. */
void front_client_admit(struct front *f, struct listener *l, int fd, const struct sockaddr_in *sa);
void front_client_event(struct client *c, uint32_t events);
/* c's deadline passed: counts it when it was too slow, and closes it. */
void front_client_expire(struct client *c);
/* New bytes in c->out (or the end of its answer): writes what the client takes. */
void front_client_flush(struct client *c);
/* Answers c with the front's own JSON error and closes it afterwards. */
void front_client_error(struct client *c, int status, const char *why);
void front_client_close(struct client *c);

/* pool.c */
int pool_init(struct front *f, struct pool *p, const struct front_pool_config *pc);
void pool_release(struct pool *p);
/* c's request is complete: it waits its turn for a worker. */
void pool_enqueue(struct pool *p, struct client *c);
/* c closes: out of the queue, or away from the worker answering it. */
void pool_forget(struct client *c);
void pool_upstream_event(struct upstream *u, uint32_t events);
/* c's buffer has room again: read more of its answer. */
void pool_client_drained(struct client *c);
/* Stores the load for front_load. */
void pool_publish(struct pool *p);

#endif
