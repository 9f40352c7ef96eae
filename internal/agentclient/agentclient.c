/*
 * agentclient: the engine of agent calls. Each call owns a libcurl CONNECT_ONLY handle:
 * libcurl resolves nothing (the address is an IP), connects, and does the TLS handshake
 * with our identity and the fleet CA; the request and the answer then go over it with
 * curl_easy_send/curl_easy_recv, framed by agentclient/http1. libcurl cannot reuse a
 * connection it opened without a request, and a request sent only to warm one up would
 * reach the agent early, so the HTTP/1.1 of the contract is spoken here.
 *
 * The handle stays in the multi handle for the connection's life: removing it closes the
 * connection (and libcurl never hands a CONNECT_ONLY connection to another transfer).
 */
#include "agentclient/agentclient.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agentclient/http1.h"
#include "core/core.h"

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

/* The longest agentclient_wait works on libcurl's sockets before it looks for answers again. */
#define WAIT_SLICE_MS 5

/* Which links of a call a list uses (agent_call.prev/next). */
enum { LINK_LIST = 0, LINK_CONNECT = 1 };

struct call_list {
	struct agent_call *head, *tail;
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
	 * ssl_ctx_setup() installs these instead.
	 */
	X509 *cert;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
	/*
	 * libcurl caches the CA store of AGENT_CA_FILE (CURLOPT_CA_CACHE_TIMEOUT, a day by
	 * default). After a reload (this monotonic ms; 0: none) each connection allows a
	 * store at most as old as the reload: the first one reads the new file, the rest
	 * reuse it.
	 */
	int64_t reloaded_at;
};

static CURLcode ssl_ctx_setup(CURL *curl, void *sslctx, void *arg)
{
	struct agentclient *ac = arg;
	SSL_CTX *ctx = sslctx;

	(void)curl;
	/*
	 * Hundreds of connections sit idle between polls: let OpenSSL free each one's read
	 * and write buffers (some 34 KB) while it has nothing to do.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* The chain is the one load_identity settled on; see complete_chain(). */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if (SSL_CTX_use_certificate(ctx, ac->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, ac->key) != 1)
		return CURLE_SSL_CERTPROBLEM;
	for (int i = 0; i < sk_X509_num(ac->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ac->chain, i)) != 1)
			return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* The client certificate, its chain and key, as loaded from the files. */
struct identity {
	X509 *cert;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
};

static void identity_free(struct identity *id)
{
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	EVP_PKEY_free(id->key);
	memset(id, 0, sizeof(*id));
}

/*
 * When AGENT_CERT_FILE holds no chain after the certificate: the intermediates between
 * it and its self-signed root in AGENT_CA_FILE, found once here. OpenSSL would otherwise
 * build the chain again in every handshake (a verification of our own certificate) and
 * send the root too, which the agent already trusts and would decode for nothing.
 */
static void complete_chain(const struct agentclient_config *cfg, struct identity *id)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	STACK_OF(X509) * built;

	if (store && xs && X509_STORE_load_file(store, cfg->ca_file) == 1 &&
	    X509_STORE_CTX_init(xs, store, id->cert, NULL) == 1) {
		/* As OpenSSL's own chain building: whatever the lookup found, valid or not. */
		(void)X509_verify_cert(xs);
		built = X509_STORE_CTX_get0_chain(xs);
		for (int i = 1; i < sk_X509_num(built); i++) {
			X509 *x = sk_X509_value(built, i);

			if (X509_self_signed(x, 0) != 1 && X509_up_ref(x) == 1 &&
			    !sk_X509_push(id->chain, x))
				X509_free(x);
		}
	}
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
}

/*
 * Reads the client certificate (plus any chain after it, or else the one complete_chain
 * finds) and the key; checks they match.
 */
static int load_identity(const struct agentclient_config *cfg, struct identity *id, char *err,
                         size_t errlen)
{
	FILE *f = fopen(cfg->cert_file, "r");
	X509 *extra;

	memset(id, 0, sizeof(*id));
	if (!f || !(id->cert = PEM_read_X509(f, NULL, NULL, NULL))) {
		snprintf(err, errlen, "AGENT_CERT_FILE: no PEM certificate in %s", cfg->cert_file);
		goto fail;
	}
	id->chain = sk_X509_new_null();
	while (id->chain && (extra = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(id->chain, extra);
	ERR_clear_error(); /* the loop ends on "no start line" */
	fclose(f);
	if (id->chain && sk_X509_num(id->chain) == 0)
		complete_chain(cfg, id);
	f = fopen(cfg->key_file, "r");
	if (!f || !(id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		snprintf(err, errlen, "AGENT_KEY_FILE: no unencrypted PEM private key in %s",
		         cfg->key_file);
		goto fail;
	}
	fclose(f);
	f = NULL;
	if (X509_check_private_key(id->cert, id->key) != 1) {
		snprintf(err, errlen,
		         "AGENT_KEY_FILE does not match the certificate in AGENT_CERT_FILE");
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	if (f)
		fclose(f);
	identity_free(id);
	return -1;
}

/* 1 when path holds at least one PEM certificate. */
static int readable_ca(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	int ok = x != NULL;

	X509_free(x);
	if (f)
		fclose(f);
	ERR_clear_error();
	return ok;
}

int agentclient_reload(struct agentclient *ac, char *err, size_t errlen)
{
	struct identity id;

	if (!readable_ca(ac->cfg.ca_file)) {
		snprintf(err, errlen, "AGENT_CA_FILE: no PEM certificate in %s", ac->cfg.ca_file);
		return -1;
	}
	if (load_identity(&ac->cfg, &id, err, errlen))
		return -1;
	X509_free(ac->cert);
	sk_X509_pop_free(ac->chain, X509_free);
	EVP_PKEY_free(ac->key);
	ac->cert = id.cert;
	ac->chain = id.chain;
	ac->key = id.key;
	ac->reloaded_at = now_mono_ms();
	return 0;
}

/* epoll data: a libcurl socket is its fd shifted left; a call is its address with bit 0 set. */
static uint64_t tag_fd(int fd)
{
	return (uint64_t)fd << 1;
}

static uint64_t tag_call(struct agent_call *call)
{
	return (uint64_t)(uintptr_t)call | 1;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what libcurl waits on, or forget it. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *socketp)
{
	struct agentclient *ac = arg;
	struct epoll_event ev = {0};

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(ac->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(ac->multi, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.u64 = tag_fd(s);
	if (socketp) {
		epoll_ctl(ac->epfd, EPOLL_CTL_MOD, s, &ev);
	} else if (epoll_ctl(ac->epfd, EPOLL_CTL_ADD, s, &ev) == 0) {
		/* Any non-NULL pointer: "this socket is in the epoll set". */
		curl_multi_assign(ac->multi, s, ac);
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants a call timeout_ms from now (-1: none). */
static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct agentclient *ac = arg;

	(void)multi;
	ac->timer_at = timeout_ms < 0 ? -1 : now_mono_ms() + timeout_ms;
	return 0;
}

struct agentclient *agentclient_new(const struct agentclient_config *cfg, char *err, size_t errlen)
{
	struct agentclient *ac;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "agentclient: libcurl initialisation failed");
		return NULL;
	}
	ac = calloc(1, sizeof(*ac));
	if (!ac) {
		snprintf(err, errlen, "agentclient: out of memory");
		return NULL;
	}
	ac->cfg = *cfg;
	ac->epfd = ac->wakefd = -1;
	ac->multi = curl_multi_init();
	if (!ac->multi) {
		free(ac);
		snprintf(err, errlen, "agentclient: curl_multi_init failed");
		return NULL;
	}
	ac->share = curl_share_init();
	if (!ac->share || curl_share_setopt(ac->share, CURLSHOPT_SHARE,
	                                    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		snprintf(err, errlen, "agentclient: curl_share_init failed");
		agentclient_free(ac);
		return NULL;
	}
	/*
	 * No CURLMOPT_MAXCONNECTS: its default grows with the handles added (four times
	 * their number), and every connection here belongs to a handle that stays added, so
	 * libcurl never closes one of them to make room.
	 */
	ac->timer_at = -1;
	ac->next_deadline = INT64_MAX;
	ac->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ac->epfd >= 0)
		ac->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ac->wakefd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag_fd(ac->wakefd)};

		if (epoll_ctl(ac->epfd, EPOLL_CTL_ADD, ac->wakefd, &ev) != 0) {
			close(ac->wakefd);
			ac->wakefd = -1;
		}
	}
	if (ac->wakefd < 0) {
		snprintf(err, errlen, "agentclient: cannot set up epoll: %s", strerror(errno));
		agentclient_free(ac);
		return NULL;
	}
	curl_multi_setopt(ac->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ac->multi, CURLMOPT_SOCKETDATA, ac);
	curl_multi_setopt(ac->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(ac->multi, CURLMOPT_TIMERDATA, ac);
	{
		struct identity id;

		if (load_identity(&ac->cfg, &id, err, errlen)) {
			agentclient_free(ac);
			return NULL;
		}
		ac->cert = id.cert;
		ac->chain = id.chain;
		ac->key = id.key;
	}
	return ac;
}

void agentclient_free(struct agentclient *ac)
{
	if (!ac)
		return;
	curl_multi_cleanup(ac->multi);
	if (ac->share)
		curl_share_cleanup(ac->share);
	if (ac->wakefd >= 0)
		close(ac->wakefd);
	if (ac->epfd >= 0)
		close(ac->epfd);
	X509_free(ac->cert);
	sk_X509_pop_free(ac->chain, X509_free);
	EVP_PKEY_free(ac->key);
	free(ac);
	curl_global_cleanup();
}

void agentclient_wakeup(struct agentclient *ac)
{
	uint64_t one = 1;

	if (write(ac->wakefd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a wakeup is pending anyway */
}

size_t agentclient_inflight(const struct agentclient *ac)
{
	return ac->inflight;
}

static struct call_list *list_of(struct agentclient *ac, int which)
{
	return which == LIST_BUSY ? &ac->busy : which == LIST_DONE ? &ac->done : &ac->ahead;
}

static void link_put(struct call_list *l, struct agent_call *call, int k)
{
	call->prev[k] = l->tail;
	call->next[k] = NULL;
	if (l->tail)
		l->tail->next[k] = call;
	else
		l->head = call;
	l->tail = call;
}

static void link_take(struct call_list *l, struct agent_call *call, int k)
{
	if (call->prev[k])
		call->prev[k]->next[k] = call->next[k];
	else
		l->head = call->next[k];
	if (call->next[k])
		call->next[k]->prev[k] = call->prev[k];
	else
		l->tail = call->prev[k];
	call->prev[k] = call->next[k] = NULL;
}

static void list_put(struct agentclient *ac, struct agent_call *call, int which)
{
	link_put(list_of(ac, which), call, LINK_LIST);
	call->listed = which;
}

static void list_take(struct agentclient *ac, struct agent_call *call)
{
	if (call->listed == LIST_NONE)
		return;
	link_take(list_of(ac, call->listed), call, LINK_LIST);
	if (call->listed == LIST_BUSY)
		ac->inflight--;
	call->listed = LIST_NONE;
}

/* A request is started and not yet completed. */
static int requested(const struct agent_call *call)
{
	return call->listed == LIST_BUSY;
}

/* The request is over (its results are set): agentclient_wait returns it next. */
static void complete(struct agentclient *ac, struct agent_call *call)
{
	list_take(ac, call);
	list_put(ac, call, LIST_DONE);
}

/*
 * 1 while libcurl still has the call's connection: it closes one it finds dead (the
 * agent's FIN) when it next opens another, and the socket number may then be reused.
 */
static int conn_alive(struct agent_call *call)
{
	curl_socket_t s = CURL_SOCKET_BAD;

	return call->fd >= 0 &&
	       curl_easy_getinfo(call->easy, CURLINFO_ACTIVESOCKET, &s) == CURLE_OK &&
	       s == call->fd;
}

/* Its AGENT_REQUEST_TIMEOUT runs from now. */
static void arm_deadline(struct agentclient *ac, struct agent_call *call)
{
	call->deadline = now_mono_ms() + (int64_t)ac->cfg.request_timeout_s * 1000;
	if (call->deadline < ac->next_deadline)
		ac->next_deadline = call->deadline;
}

/* The request waits for a connect slot; its time runs from when its connect starts. */
static void cq_put(struct agentclient *ac, struct agent_call *call)
{
	link_put(&ac->cq, call, LINK_CONNECT);
	call->phase = PH_QUEUED;
	call->deadline = INT64_MAX;
}

static void cq_take(struct agentclient *ac, struct agent_call *call)
{
	link_take(&ac->cq, call, LINK_CONNECT);
	call->phase = PH_NONE;
}

/* The call's connect gives up its slot: it is set up, gone, or slow. */
static void slot_free(struct agentclient *ac, struct agent_call *call)
{
	if (!call->slot)
		return;
	link_take(&ac->slots, call, LINK_CONNECT);
	call->slot = 0;
	ac->connecting--;
}

/* Connects set up for CONNECT_SLOW_MS give up their slots. */
static void slow_connects(struct agentclient *ac, int64_t now)
{
	struct agent_call *call;

	while ((call = ac->slots.head) && now - call->connect_at >= CONNECT_SLOW_MS) {
		slot_free(ac, call);
		ac->stats.slow++;
	}
}

/* Closes the call's connection (if any); the handle is kept for the next one. */
static void conn_close(struct agentclient *ac, struct agent_call *call)
{
	if (call->watched && conn_alive(call))
		epoll_ctl(ac->epfd, EPOLL_CTL_DEL, call->fd, NULL);
	call->watched = 0;
	call->fd = -1;
	if (call->phase == PH_QUEUED)
		cq_take(ac, call);
	slot_free(ac, call);
	if (call->phase != PH_NONE && call->easy)
		curl_multi_remove_handle(ac->multi, call->easy);
	if (call->phase != PH_NONE && call->unused)
		ac->stats.ahead_unused++;
	call->unused = 0;
	call->phase = PH_NONE;
}

/* Starts connecting: the handle goes into the multi handle as a CONNECT_ONLY transfer. */
static int conn_open(struct agentclient *ac, struct agent_call *call)
{
	const struct agentclient_config *cfg = &ac->cfg;
	char url[128];
	CURL *e = call->easy;

	if (!e) {
		e = curl_easy_init();
		if (!e)
			return -1;
		call->easy = e;
	} else {
		curl_easy_reset(e);
	}
	call->fd = -1;
	call->watched = 0;
	call->errbuf[0] = '\0';
	/* IPv6 literals go in brackets. */
	snprintf(url, sizeof(url), strchr(call->ip, ':') ? "https://[%s]:%d/" : "https://%s:%d/",
	         call->ip, call->port);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)cfg->connect_timeout_s);
	/* A connection lives as long as its node is driven; we close it, not its age. */
	curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 86400L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	if (ac->reloaded_at) {
		int64_t since = (now_mono_ms() - ac->reloaded_at) / 1000;

		curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT,
		                 (long)(since < 1       ? 1
		                        : since > 86400 ? 86400
		                                        : since));
	}
	curl_easy_setopt(e, CURLOPT_SHARE, ac->share);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_setup);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, ac);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	if (curl_multi_add_handle(ac->multi, e) != CURLM_OK)
		return -1;
	call->phase = PH_CONNECTING;
	call->connect_at = now_mono_ms();
	call->slot = 1;
	link_put(&ac->slots, call, LINK_CONNECT);
	ac->connecting++;
	ac->stats.opened++;
	return 0;
}

static void answer_reset(struct agent_call *call)
{
	free(call->body);
	call->body = NULL;
	call->body_len = 0;
	call->buf_len = 0;
}

void agent_call_free(struct agent_call *call)
{
	struct agentclient *ac = call->ac;

	if (ac) {
		list_take(ac, call);
		conn_close(ac, call);
	}
	if (call->easy)
		curl_easy_cleanup(call->easy);
	call->easy = NULL;
	call->ac = NULL;
	answer_reset(call);
	free(call->buf);
	call->buf = NULL;
	call->buf_cap = 0;
}

void agentclient_abort(struct agentclient *ac, struct agent_call *call)
{
	if (call->listed == LIST_NONE)
		return;
	list_take(ac, call);
	/* An answer may still be on its way: the connection cannot carry another request. */
	conn_close(ac, call);
}

int agent_call_connected(const struct agent_call *call)
{
	return call->phase != PH_NONE || call->listed == LIST_AHEAD;
}

/* The call fails with code's wording; its connection goes. */
static void fail(struct agentclient *ac, struct agent_call *call, int code, int connected,
                 const char *detail)
{
	long os_errno = 0;

	if (call->easy)
		curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno);
	call->http_status = 0;
	call->result = agentclient_describe_failure(code, (int)os_errno, connected, detail,
	                                            call->ip, call->port, ac->cfg.request_timeout_s,
	                                            call->error, sizeof(call->error));
	conn_close(ac, call);
	complete(ac, call);
}

/* Starts the connections that wait while slots are free: requests first, then ahead. */
static void pump(struct agentclient *ac)
{
	while (ac->connecting < CONNECT_MAX && (ac->cq.head || ac->ahead.head)) {
		struct agent_call *call = ac->cq.head;

		if (call) {
			cq_take(ac, call);
			arm_deadline(ac, call);
			if (conn_open(ac, call) != 0) {
				fail(ac, call, CURLE_FAILED_INIT, 0, "cannot start a connection");
				continue;
			}
		} else {
			call = ac->ahead.head;
			list_take(ac, call);
			if (conn_open(ac, call) != 0)
				continue; /* its request will open one, and say what goes wrong */
			call->unused = 1;
			ac->stats.ahead++;
		}
	}
}

void agentclient_preconnect(struct agentclient *ac, struct agent_call *call)
{
	if (call->phase != PH_NONE || call->listed != LIST_NONE)
		return;
	call->ac = ac;
	list_put(ac, call, LIST_AHEAD);
	pump(ac);
}

void agentclient_stats(const struct agentclient *ac, struct agentclient_stats *out)
{
	*out = ac->stats;
}

/* Writes the request line and headers of the contract (and the dispatch body). */
static int build_request(struct agent_call *call)
{
	char host[64], body[96], key[AGENT_IDEM_KEY_MAX + 32] = "";
	int n;

	snprintf(host, sizeof(host), strchr(call->ip, ':') ? "[%s]:%d" : "%s:%d", call->ip,
	         call->port);
	if (call->op == AGENT_QUERY) {
		n = snprintf(call->req, sizeof(call->req),
		             "GET /api/v1/tasks/%s HTTP/1.1\r\nHost: %s\r\n"
		             "Accept: application/json\r\n\r\n",
		             call->task_id, host);
	} else {
		int blen = agentproto_dispatch_body(call->version, body, sizeof(body));

		if (blen < 0)
			return -1;
		if (call->idem_key[0])
			snprintf(key, sizeof(key), "Idempotency-Key: %s\r\n", call->idem_key);
		n = snprintf(call->req, sizeof(call->req),
		             "POST /api/v1/tasks HTTP/1.1\r\nHost: %s\r\n"
		             "Accept: application/json\r\nContent-Type: application/json\r\n"
		             "%sContent-Length: %d\r\n\r\n%s",
		             host, key, blen, body);
	}
	if (n < 0 || (size_t)n >= sizeof(call->req))
		return -1;
	call->req_len = (size_t)n;
	call->req_off = 0;
	return 0;
}

static void watch(struct agentclient *ac, struct agent_call *call, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag_call(call)};

	if (call->watched) {
		epoll_ctl(ac->epfd, EPOLL_CTL_MOD, call->fd, &ev);
	} else if (epoll_ctl(ac->epfd, EPOLL_CTL_ADD, call->fd, &ev) == 0 ||
	           (errno == EEXIST && epoll_ctl(ac->epfd, EPOLL_CTL_MOD, call->fd, &ev) == 0)) {
		call->watched = 1;
	}
}

/*
 * The connection failed before any byte of the answer came. If it had been open before
 * this request, the agent most likely closed it as idle just then: the request goes out
 * once more on a new connection (a dispatch carries its Idempotency-Key). 1 if it did.
 */
static int resend(struct agentclient *ac, struct agent_call *call)
{
	if (call->fresh || call->buf_len > 0)
		return 0;
	call->fresh = 1; /* once: the new connection is fresh */
	ac->stats.resent++;
	conn_close(ac, call);
	cq_put(ac, call);
	pump(ac);
	return 1;
}

/* A whole answer is in: judge it as the contract says. */
static void answered(struct agentclient *ac, struct agent_call *call, const struct http1_answer *a)
{
	const char *body;

	call->body = malloc(a->body_len + 1);
	if (!call->body) {
		fail(ac, call, CURLE_OUT_OF_MEMORY, 1, "out of memory");
		return;
	}
	call->body_len = http1_dechunk(call->buf, a, call->body);
	call->body[call->body_len] = '\0';
	body = call->body;
	call->http_status = a->status;
	call->retry_after_s = a->retry_after_s < 3600 ? a->retry_after_s : 0;
	if (call->op == AGENT_DISPATCH)
		call->result = agentproto_parse_dispatch(call->http_status, body, call->body_len,
		                                         call->task_id, sizeof(call->task_id),
		                                         call->error, sizeof(call->error));
	else
		call->result =
		    agentproto_parse_status(call->http_status, body, call->body_len, call->task_id,
		                            &call->state, call->error, sizeof(call->error));
	/* Bytes after the answer were never asked for: that connection is not trusted. */
	if (!a->keep_alive || a->end != call->buf_len) {
		conn_close(ac, call);
	} else {
		call->phase = PH_IDLE;
		watch(ac, call, EPOLLIN);
	}
	complete(ac, call);
}

/* The answer is longer than the contract allows: the call fails, the connection goes. */
static void too_big(struct agentclient *ac, struct agent_call *call)
{
	snprintf(call->error, sizeof(call->error), "agent %s:%d: response larger than %d bytes",
	         call->ip, call->port, AGENT_BODY_MAX);
	call->result = AGENT_E_PERMANENT;
	conn_close(ac, call);
	complete(ac, call);
}

/* Reads what the connection has; completes the call once the answer is whole. */
static void receive(struct agentclient *ac, struct agent_call *call)
{
	for (;;) {
		struct http1_answer a;
		size_t n = 0;
		CURLcode rc = curl_easy_recv(call->easy, ac->rbuf, sizeof(ac->rbuf), &n);
		int eof = rc == CURLE_OK && n == 0, prc;

		if (rc == CURLE_AGAIN)
			return;
		if (rc != CURLE_OK) {
			if (!resend(ac, call))
				fail(ac, call, CURLE_RECV_ERROR, 1, call->errbuf);
			return;
		}
		if (n > 0) {
			if (call->buf_len + n > call->buf_cap) {
				size_t cap = call->buf_cap ? call->buf_cap : 1024;
				char *grown;

				while (cap < call->buf_len + n)
					cap *= 2;
				grown = cap <= 2 * (AGENT_BODY_MAX + HTTP1_HEAD_MAX)
				            ? realloc(call->buf, cap)
				            : NULL;
				if (!grown) {
					too_big(ac, call);
					return;
				}
				call->buf = grown;
				call->buf_cap = cap;
			}
			memcpy(call->buf + call->buf_len, ac->rbuf, n);
			call->buf_len += n;
		} else if (call->buf_len == 0) {
			if (!resend(ac, call))
				fail(ac, call, CURLE_GOT_NOTHING, 1, "Empty reply from server");
			return;
		}
		prc = http1_parse(call->buf, call->buf_len, eof, AGENT_BODY_MAX, &a);
		if (prc == HTTP1_DONE) {
			answered(ac, call, &a);
			return;
		}
		if (prc == HTTP1_BIG) {
			call->http_status = a.status;
			too_big(ac, call);
			return;
		}
		if (prc == HTTP1_BAD) {
			fail(ac, call, eof ? CURLE_PARTIAL_FILE : CURLE_WEIRD_SERVER_REPLY, 1,
			     a.why);
			return;
		}
		if (eof) /* cannot happen: parse judges every answer at EOF */
			return;
	}
}

/* Writes what is left of the request; then waits for the answer. */
static void send_request(struct agentclient *ac, struct agent_call *call)
{
	while (call->req_off < call->req_len) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(call->easy, call->req + call->req_off,
		                             call->req_len - call->req_off, &n);

		if (rc == CURLE_AGAIN) {
			watch(ac, call, EPOLLIN | EPOLLOUT);
			return;
		}
		if (rc != CURLE_OK) {
			if (!resend(ac, call))
				fail(ac, call, CURLE_SEND_ERROR, 1, call->errbuf);
			return;
		}
		call->req_off += n;
	}
	call->sent_at = now_mono_ms();
	call->phase = PH_RECEIVING;
	watch(ac, call, EPOLLIN);
}

/* The request can go: the connection is up (new, or kept from before). */
static void begin_request(struct agentclient *ac, struct agent_call *call)
{
	call->phase = PH_SENDING;
	call->req_off = 0;
	send_request(ac, call);
}

int agentclient_start(struct agentclient *ac, struct agent_call *call)
{
	if (call->op == AGENT_QUERY && !agentproto_valid_task_id(call->task_id)) {
		snprintf(call->error, sizeof(call->error), "agentclient: invalid task id");
		return -1;
	}
	if (call->op == AGENT_DISPATCH && call->idem_key[0] &&
	    !agentproto_valid_idem_key(call->idem_key)) {
		snprintf(call->error, sizeof(call->error), "agentclient: invalid idempotency key");
		return -1;
	}
	if (call->listed == LIST_AHEAD)
		list_take(ac, call); /* it was waiting to be opened ahead: open it now */
	if (call->listed != LIST_NONE || build_request(call) != 0) {
		snprintf(call->error, sizeof(call->error), "agentclient: cannot start request");
		return -1;
	}
	call->error[0] = '\0';
	call->http_status = 0;
	call->retry_after_s = 0;
	call->sent_at = 0;
	answer_reset(call);
	if (call->phase == PH_IDLE && !conn_alive(call))
		conn_close(ac, call);
	call->fresh = call->phase == PH_NONE || call->phase == PH_CONNECTING;
	call->ac = ac;
	call->unused = 0;
	arm_deadline(ac, call);
	list_put(ac, call, LIST_BUSY);
	ac->inflight++;
	if (call->phase == PH_NONE) {
		cq_put(ac, call);
		pump(ac);
	} else if (call->phase == PH_IDLE) {
		begin_request(ac, call);
	}
	return 0;
}

enum agent_result agentclient_describe_failure(int code, int os_errno, int connected,
                                               const char *curl_detail, const char *ip, int port,
                                               int timeout_s, char *out, size_t outlen)
{
	char detail[256];

	agentproto_clean_text(curl_detail ? curl_detail : "", curl_detail ? strlen(curl_detail) : 0,
	                      detail, sizeof(detail));
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST: {
		char why[128];

		str_copy(why, os_errno ? strerror(os_errno) : "cannot connect", sizeof(why));
		for (char *p = why; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(out, outlen, "connect %s:%d: %s", ip, port, why);
		return AGENT_E_TRANSIENT;
	}
	case CURLE_OPERATION_TIMEDOUT:
		if (!connected)
			snprintf(out, outlen, "connect %s:%d: timed out", ip, port);
		else
			snprintf(out, outlen, "timeout: agent %s:%d gave no answer within %d s", ip,
			         port, timeout_s);
		return AGENT_E_TRANSIENT;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(out, outlen, "tls: server certificate not trusted (%s:%d): %s", ip, port,
		         detail);
		return AGENT_E_PERMANENT;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(out, outlen, "tls: handshake with %s:%d failed: %s", ip, port, detail);
		return AGENT_E_PERMANENT;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
		snprintf(out, outlen, "tls: local certificate setup: %s", detail);
		return AGENT_E_PERMANENT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		snprintf(out, outlen, "agent %s:%d closed the connection: %s", ip, port, detail);
		return AGENT_E_TRANSIENT;
	default:
		snprintf(out, outlen, "agent %s:%d: %s: %s", ip, port,
		         curl_easy_strerror((CURLcode)code), detail);
		return AGENT_E_PERMANENT;
	}
}

/* 1 once the TCP connect of the call's connection has completed. */
static int tcp_connected(struct agent_call *call)
{
	curl_off_t connect_us = 0;

	curl_easy_getinfo(call->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
	return connect_us > 0;
}

/* libcurl finished a connect: the connection is up, or the call fails with its reason. */
static void connected(struct agentclient *ac, struct agent_call *call, CURLcode code)
{
	curl_socket_t s = CURL_SOCKET_BAD;

	if (code == CURLE_OK &&
	    (curl_easy_getinfo(call->easy, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
	     s == CURL_SOCKET_BAD))
		code = CURLE_COULDNT_CONNECT;
	if (code != CURLE_OK) {
		if (requested(call))
			fail(ac, call, code, tcp_connected(call), call->errbuf);
		else
			conn_close(ac, call); /* opened ahead: its request will report it */
		return;
	}
	slot_free(ac, call); /* set up */
	call->fd = (int)s;
	call->phase = PH_IDLE;
	watch(ac, call, EPOLLIN);
	if (!call->watched) {
		if (requested(call))
			fail(ac, call, CURLE_OUT_OF_MEMORY, 1, "cannot watch the connection");
		else
			conn_close(ac, call);
		return;
	}
	if (requested(call))
		begin_request(ac, call);
}

/* Takes the connects libcurl has finished. */
static void collect_connects(struct agentclient *ac)
{
	int left = 0;
	CURLMsg *msg;

	while ((msg = curl_multi_info_read(ac->multi, &left)) != NULL) {
		struct agent_call *call = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		if (call && call->phase == PH_CONNECTING)
			connected(ac, call, msg->data.result);
	}
}

/* An idle connection became readable: the agent closed it (or sent what nobody asked). */
static void idle_event(struct agentclient *ac, struct agent_call *call)
{
	size_t n = 0;
	CURLcode rc = curl_easy_recv(call->easy, ac->rbuf, sizeof(ac->rbuf), &n);

	if (rc != CURLE_AGAIN) {
		ac->stats.idle_closed++;
		conn_close(ac, call);
	}
}

static void call_event(struct agentclient *ac, struct agent_call *call)
{
	if (call->phase != PH_NONE && !conn_alive(call)) {
		/* libcurl closed it as dead meanwhile. */
		call->watched = 0;
		if (!requested(call))
			conn_close(ac, call);
		else if (!resend(ac, call))
			fail(ac, call, CURLE_RECV_ERROR, 1, "connection closed");
		return;
	}
	if (call->phase == PH_SENDING)
		send_request(ac, call);
	else if (call->phase == PH_RECEIVING)
		receive(ac, call);
	else if (call->phase == PH_IDLE)
		idle_event(ac, call);
}

/* Fails the calls whose AGENT_REQUEST_TIMEOUT ran out; keeps next_deadline. */
static void expire(struct agentclient *ac, int64_t now)
{
	int64_t next = INT64_MAX;

	if (now < ac->next_deadline)
		return;
	for (struct agent_call *call = ac->busy.head, *after; call; call = after) {
		after = call->next[LINK_LIST];
		if (call->deadline > now) {
			if (call->deadline < next)
				next = call->deadline;
			continue;
		}
		fail(ac, call, CURLE_OPERATION_TIMEDOUT,
		     call->phase != PH_CONNECTING || tcp_connected(call), "");
	}
	ac->next_deadline = next;
}

static size_t take_done(struct agentclient *ac, struct agent_call **done, size_t max)
{
	size_t n = 0;

	while (n < max && ac->done.head) {
		struct agent_call *call = ac->done.head;

		list_take(ac, call);
		done[n++] = call;
	}
	return n;
}

/* Lets libcurl act on its timer if it is due. */
static int curl_timer(struct agentclient *ac, int64_t now)
{
	int running = 0;

	if (ac->timer_at < 0 || now < ac->timer_at)
		return 0;
	ac->timer_at = -1;
	if (curl_multi_socket_action(ac->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
		return -1;
	collect_connects(ac);
	return 0;
}

int agentclient_wait(struct agentclient *ac, int timeout_ms, struct agent_call **done, size_t max)
{
	int64_t deadline = now_mono_ms() + timeout_ms, slice_end;
	struct epoll_event ev[256];
	size_t ndone = 0;
	int running = 0;

	for (;;) {
		int64_t now = now_mono_ms(), until = deadline;
		int n;

		slow_connects(ac, now);
		pump(ac);
		if (curl_timer(ac, now))
			return -1;
		expire(ac, now);
		ndone += take_done(ac, done + ndone, max - ndone);
		if (ndone > 0 || now >= deadline)
			break;
		if (ac->timer_at >= 0 && ac->timer_at < until)
			until = ac->timer_at;
		if (ac->next_deadline < until)
			until = ac->next_deadline;
		/* Connects wait for a slot: wake when the oldest one being set up turns slow. */
		if ((ac->cq.head || ac->ahead.head) && ac->slots.head &&
		    ac->slots.head->connect_at + CONNECT_SLOW_MS < until)
			until = ac->slots.head->connect_at + CONNECT_SLOW_MS;
		n = epoll_wait(ac->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])),
		               until > now ? (int)(until - now) : 0);
		if (n < 0 && errno != EINTR)
			return -1;
		/*
		 * Answers first: they are cheap, and one left unread while handshakes are
		 * worked through would keep its node waiting, and its connection idle past
		 * the agent's keep-alive. Then libcurl's sockets (connects and handshakes, a
		 * millisecond or two of CPU a step, hundreds at once when a batch is opened
		 * ahead) for at most WAIT_SLICE_MS: the rest waits for the next round of
		 * epoll_wait, which reports them again.
		 */
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64, drained;

			if (tag & 1) {
				call_event(ac,
				           (struct agent_call *)(uintptr_t)(tag & ~(uint64_t)1));
			} else if ((int)(tag >> 1) == ac->wakefd) {
				if (read(ac->wakefd, &drained, sizeof(drained)) < 0)
					drained = 0;
				deadline = 0; /* woken: return to the caller now */
			}
		}
		slice_end = now_mono_ms() + WAIT_SLICE_MS;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			int fd = (int)(tag >> 1);
			int flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			            (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			            (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

			if ((tag & 1) || fd == ac->wakefd)
				continue;
			if (curl_multi_socket_action(ac->multi, fd, flags, &running) != CURLM_OK)
				return -1;
			collect_connects(ac);
			if (now_mono_ms() >= slice_end)
				break;
		}
		ndone += take_done(ac, done + ndone, max - ndone);
		if (ndone > 0 || deadline == 0)
			break;
	}
	return (int)ndone;
}
