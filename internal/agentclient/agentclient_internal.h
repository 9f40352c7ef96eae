/*
 * agentclient_internal: what the agent client's files share; not for other modules. The
 * client's struct, the phases of a call's connection, its lists, and the functions one
 * file of the client calls in another (agentclient.c, tls.c, conn.c, io.c, loop.c).
 */
#ifndef CMDB_AGENTCLIENT_INTERNAL_H
#define CMDB_AGENTCLIENT_INTERNAL_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "agentclient/agentclient.h"

/* Where a call's connection and its request are. */
enum phase {
	PH_NONE = 0,   /* no connection */
	PH_QUEUED,     /* a request waits for one of the CONNECT_MAX connect slots */
	PH_CONNECTING, /* libcurl is connecting and handshaking */
	PH_IDLE,       /* connected, nothing asked */
	PH_SENDING,    /* the request is being written */
	PH_RECEIVING,  /* waiting for the whole answer */
};

enum { LIST_NONE = 0, LIST_BUSY, LIST_DONE, LIST_AHEAD };

/*
 * At most this many connections are being set up (TCP and TLS handshake) at a time;
 * requests that need one wait their turn first, connections opened ahead after them.
 * Hundreds of handshakes at once do not finish sooner on a few cores: they contend on
 * OpenSSL 3.0's locks on both sides, and the polls of the batch that is applying (and
 * the agents answering them) wait behind them long enough for the agents' keep-alive
 * to run out. Measured with the floor driver, 10,000 nodes in batches of 500
 * (docs/performance.md): unbounded, 92 s and 18,297 connections; 16 at a time for the
 * connections opened ahead only, 59 s; 32 at a time for all of them, 50-55 s and one
 * connection a node.
 */
#define CONNECT_MAX 32

/*
 * A connection still being set up after this long stops holding its slot (it goes on
 * until AGENT_CONNECT_TIMEOUT): it waits on the network, not on a CPU. Agents that take
 * the TCP connection and never answer the handshake would otherwise hold every slot for
 * the whole connect timeout while healthy nodes of the batch queue behind them. A
 * healthy handshake takes two round trips and a few ms of CPU on each side.
 */
#define CONNECT_SLOW_MS 1000

/* Which links of a call a list uses (agent_call.prev/next). */
enum { LINK_LIST = 0, LINK_CONNECT = 1 };

struct call_list {
	struct agent_call *head, *tail;
};

/* The client certificate, its chain and key, as loaded from the files. */
struct agentclient_identity {
	X509 *cert;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
};

struct agentclient {
	CURLM *multi;
	/*
	 * libcurl's socket interface: it tells us which sockets to watch (epoll) and when
	 * to call it back without one (timer_at), and each event advances only the transfer
	 * it concerns. An epoll entry's data is a libcurl socket (fd << 1) or, once a
	 * connection is ours to read and write, its call ((uintptr_t)call | 1).
	 */
	int epfd;
	int wakefd;       /* an eventfd: agentclient_wakeup from another thread */
	int64_t timer_at; /* monotonic ms libcurl wants to be called at; -1: no timer */
	CURLSH *share; /* TLS sessions, so a node seen before resumes instead of a full handshake */
	struct agentclient_config cfg;
	size_t inflight;        /* calls started and not completed */
	struct call_list busy;  /* those calls */
	struct call_list done;  /* completed, not yet returned by agentclient_wait */
	struct call_list ahead; /* waiting to be connected ahead */
	struct call_list cq;    /* requests waiting for a connect slot */
	struct call_list slots; /* calls in PH_CONNECTING holding a slot, oldest first */
	int connecting;         /* their number (at most CONNECT_MAX) */
	int64_t next_deadline;  /* no call in busy times out before this (monotonic ms) */
	struct agentclient_stats stats;
	char rbuf[16384]; /* what one curl_easy_recv reads */
	/*
	 * The client certificate, its chain and key, parsed once. libcurl would read and
	 * decode the files for every new connection (a third of the CPU of a release);
	 * agentclient_ssl_ctx_setup() installs these instead.
	 */
	struct agentclient_identity id;
	/*
	 * libcurl caches the CA store of AGENT_CA_FILE (CURLOPT_CA_CACHE_TIMEOUT, a day by
	 * default). After a reload (this monotonic ms; 0: none) each connection allows a
	 * store at most as old as the reload: the first one reads the new file, the rest
	 * reuse it.
	 */
	int64_t reloaded_at;
};

/* agentclient.c: the lists of calls. A call is on at most one list per link (LINK_*). */
void agentclient_link_put(struct call_list *l, struct agent_call *call, int k);
void agentclient_link_take(struct call_list *l, struct agent_call *call, int k);
/* Puts the call on the client's list `which` (LIST_BUSY, LIST_DONE, LIST_AHEAD). */
void agentclient_list_put(struct agentclient *ac, struct agent_call *call, int which);
/* Takes the call off its list, if any; a busy call stops counting as in flight. */
void agentclient_list_take(struct agentclient *ac, struct agent_call *call);
/* The request is over (its results are set): agentclient_wait returns it next. */
void agentclient_complete(struct agentclient *ac, struct agent_call *call);

/* A request is started and not yet completed. */
static inline int agentclient_requested(const struct agent_call *call)
{
	return call->listed == LIST_BUSY;
}

/*
 * tls.c: the client identity. agentclient_identity_load reads the client certificate (plus
 * any chain after it, or else the one complete_chain finds) and the key, and checks they
 * match: 0, or -1 with err saying which file and *id empty. The caller frees a loaded one
 * with agentclient_identity_free.
 */
int agentclient_identity_load(const struct agentclient_config *cfg, struct agentclient_identity *id,
                              char *err, size_t errlen);
void agentclient_identity_free(struct agentclient_identity *id);
/* CURLOPT_SSL_CTX_FUNCTION (arg: the client): installs the client's identity. */
CURLcode agentclient_ssl_ctx_setup(CURL *curl, void *sslctx, void *arg);

/* conn.c: connections, the connect slots, and connections opened ahead. */
/*
 * 1 while libcurl still has the call's connection: it closes one it finds dead (the
 * agent's FIN) when it next opens another, and the socket number may then be reused.
 */
int agentclient_conn_alive(struct agent_call *call);
/* Closes the call's connection (if any); the handle is kept for the next one. */
void agentclient_conn_close(struct agentclient *ac, struct agent_call *call);
/* The request waits for a connect slot; its time runs from when its connect starts. */
void agentclient_cq_put(struct agentclient *ac, struct agent_call *call);
/* Starts the connections that wait while slots are free: requests first, then ahead. */
void agentclient_pump(struct agentclient *ac);
/* Connects set up for CONNECT_SLOW_MS give up their slots. */
void agentclient_slow_connects(struct agentclient *ac, int64_t now);
/* 1 once the TCP connect of the call's connection has completed. */
int agentclient_tcp_connected(struct agent_call *call);
/* Takes the connects libcurl has finished. */
void agentclient_collect_connects(struct agentclient *ac);

/* io.c: a call's request and its answer. */
/* Its AGENT_REQUEST_TIMEOUT runs from now. */
void agentclient_arm_deadline(struct agentclient *ac, struct agent_call *call);
/* The call fails with code's wording (a CURLcode); its connection goes. */
void agentclient_fail(struct agentclient *ac, struct agent_call *call, int code, int connected,
                      const char *detail);
/* The request can go: the connection is up (new, or kept from before). */
void agentclient_begin_request(struct agentclient *ac, struct agent_call *call);
/* The call's connection has an event: send, receive, or notice it closed. */
void agentclient_call_event(struct agentclient *ac, struct agent_call *call);
/* Drops the answer of the call's last request (its body is freed, its buffer kept). */
void agentclient_answer_reset(struct agent_call *call);

/* loop.c: the epoll set and libcurl's socket interface. */
/* Sets up epoll, the wakeup eventfd and libcurl's callbacks; 0, or -1 with err set. */
int agentclient_loop_init(struct agentclient *ac, char *err, size_t errlen);
/* Watches the call's connection for events (EPOLLIN, EPOLLOUT); sets call->watched. */
void agentclient_watch(struct agentclient *ac, struct agent_call *call, uint32_t events);

#endif
