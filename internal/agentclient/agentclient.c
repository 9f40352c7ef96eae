/*
 * agentclient: libcurl multi engine for agent calls. One easy handle per call is kept
 * across reuses of that call; the multi handle's connection cache keeps each node's
 * TLS connection open between its dispatch and its polls.
 */
#include "agentclient/agentclient.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/core.h"

struct agentclient {
	CURLM *multi;
	/*
	 * libcurl's socket interface: it tells us which sockets to watch (epoll) and when
	 * to call it back without one (timer_at), and each event advances only the transfer
	 * it concerns. curl_multi_perform would walk every transfer on every wakeup, which
	 * costs as much as a handshake itself once hundreds of them are in flight.
	 */
	int epfd;
	int wakefd;       /* an eventfd: agentclient_wakeup from another thread */
	int64_t timer_at; /* monotonic ms libcurl wants to be called at; -1: no timer */
	CURLSH *share; /* TLS sessions, so a node seen before resumes instead of a full handshake */
	struct agentclient_config cfg;
	size_t inflight;
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
	 * default). After a reload (this monotonic ms; 0: none) each transfer allows a store
	 * at most as old as the reload: the first one reads the new file, the rest reuse it.
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

static void identity_release(struct identity *id)
{
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	EVP_PKEY_free(id->key);
	memset(id, 0, sizeof(*id));
}

/* Reads the client certificate (plus any chain after it) and the key; checks they match. */
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
	identity_release(id);
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

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct agent_call *call = arg;
	size_t n = size * nmemb;
	char *grown;

	if (call->body_len + n > AGENT_BODY_MAX) {
		call->too_big = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	grown = realloc(call->body, call->body_len + n + 1);
	if (!grown)
		return 0;
	call->body = grown;
	memcpy(call->body + call->body_len, data, n);
	call->body_len += n;
	call->body[call->body_len] = '\0';
	return n;
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
	ev.data.fd = s;
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
	curl_multi_setopt(ac->multi, CURLMOPT_MAXCONNECTS,
	                  (long)(cfg->max_connections > 0 ? cfg->max_connections : 64));
	ac->timer_at = -1;
	ac->wakefd = -1;
	ac->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ac->epfd >= 0)
		ac->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ac->wakefd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = ac->wakefd};

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

void agentclient_abort(struct agentclient *ac, struct agent_call *call)
{
	if (!call->easy)
		return;
	if (curl_multi_remove_handle(ac->multi, call->easy) == CURLM_OK)
		ac->inflight--;
}

size_t agentclient_inflight(const struct agentclient *ac)
{
	return ac->inflight;
}

void agent_call_release(struct agent_call *call)
{
	if (call->easy)
		curl_easy_cleanup(call->easy);
	call->easy = NULL;
	curl_slist_free_all(call->headers);
	call->headers = NULL;
	free(call->body);
	call->body = NULL;
	call->body_len = 0;
}

static int setup_easy(struct agentclient *ac, struct agent_call *call)
{
	const struct agentclient_config *cfg = &ac->cfg;
	char url[256];
	CURL *e = call->easy;

	if (!e) {
		e = curl_easy_init();
		if (!e)
			return -1;
		call->easy = e;
	} else {
		curl_easy_reset(e);
	}
	curl_slist_free_all(call->headers);
	call->headers = NULL;
	free(call->body);
	call->body = NULL;
	call->body_len = 0;
	call->too_big = 0;
	call->errbuf[0] = '\0';
	call->error[0] = '\0';
	call->http_status = 0;
	call->retry_after_s = 0;

	/* IPv6 literals go in brackets; the path is the agent contract's. */
	snprintf(url, sizeof(url),
	         strchr(call->ip, ':') ? "https://[%s]:%d/api/v1/tasks%s%s"
	                               : "https://%s:%d/api/v1/tasks%s%s",
	         call->ip, call->port, call->op == AGENT_QUERY ? "/" : "",
	         call->op == AGENT_QUERY ? call->task_id : "");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)cfg->connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)cfg->request_timeout_s);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	/* Agent answers are a few hundred bytes: a small receive buffer per transfer. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
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
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	call->headers = curl_slist_append(NULL, "Accept: application/json");
	if (call->op == AGENT_DISPATCH) {
		char key[AGENT_IDEM_KEY_MAX + 32];
		int n = agentproto_dispatch_body(call->version, call->post, sizeof(call->post));

		if (n < 0)
			return -1;
		call->headers = curl_slist_append(call->headers, "Content-Type: application/json");
		if (call->idem_key[0]) {
			snprintf(key, sizeof(key), "Idempotency-Key: %s", call->idem_key);
			call->headers = curl_slist_append(call->headers, key);
		}
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->post);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)n);
	}
	if (!call->headers)
		return -1;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	return 0;
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
	if (setup_easy(ac, call) || curl_multi_add_handle(ac->multi, call->easy) != CURLM_OK) {
		snprintf(call->error, sizeof(call->error), "agentclient: cannot start request");
		return -1;
	}
	ac->inflight++;
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

static void finish(struct agentclient *ac, struct agent_call *call, CURLcode code)
{
	CURL *e = call->easy;
	const char *body = call->body ? call->body : "";
	long os_errno = 0;
	curl_off_t connect_us = 0;

	curl_off_t retry_after = 0;

	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &call->http_status);
	curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);
	call->retry_after_s = retry_after > 0 && retry_after < 3600 ? (long)retry_after : 0;
	if (call->too_big) {
		snprintf(call->error, sizeof(call->error),
		         "agent %s:%d: response larger than %d bytes", call->ip, call->port,
		         AGENT_BODY_MAX);
		call->result = AGENT_E_PERMANENT;
	} else if (code != CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
		curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
		call->result = agentclient_describe_failure(
		    code, (int)os_errno, connect_us > 0, call->errbuf, call->ip, call->port,
		    ac->cfg.request_timeout_s, call->error, sizeof(call->error));
	} else if (call->op == AGENT_DISPATCH) {
		call->result = agentproto_parse_dispatch(call->http_status, body, call->body_len,
		                                         call->task_id, sizeof(call->task_id),
		                                         call->error, sizeof(call->error));
	} else {
		call->result =
		    agentproto_parse_status(call->http_status, body, call->body_len, call->task_id,
		                            &call->state, call->error, sizeof(call->error));
	}
}

/* Collects the transfers libcurl has finished; returns how many went into done. */
static size_t collect(struct agentclient *ac, struct agent_call **done, size_t max)
{
	size_t ndone = 0;
	int left = 0;
	CURLMsg *msg;

	while (ndone < max && (msg = curl_multi_info_read(ac->multi, &left)) != NULL) {
		struct agent_call *call = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		finish(ac, call, msg->data.result);
		curl_multi_remove_handle(ac->multi, msg->easy_handle);
		ac->inflight--;
		done[ndone++] = call;
	}
	return ndone;
}

int agentclient_wait(struct agentclient *ac, int timeout_ms, struct agent_call **done, size_t max)
{
	int64_t deadline = now_mono_ms() + timeout_ms;
	struct epoll_event ev[256];
	size_t ndone = 0;
	int running = 0;

	for (;;) {
		int64_t now = now_mono_ms(), until = deadline;
		int n;

		if (ac->timer_at >= 0 && now >= ac->timer_at) {
			ac->timer_at = -1;
			if (curl_multi_socket_action(ac->multi, CURL_SOCKET_TIMEOUT, 0, &running) !=
			    CURLM_OK)
				return -1;
		}
		ndone += collect(ac, done + ndone, max - ndone);
		now = now_mono_ms();
		if (ndone > 0 || now >= deadline)
			break;
		if (ac->timer_at >= 0 && ac->timer_at < until)
			until = ac->timer_at;
		n = epoll_wait(ac->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])),
		               until > now ? (int)(until - now) : 0);
		if (n < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++) {
			int flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			            (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			            (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
			uint64_t drained;

			if (ev[i].data.fd == ac->wakefd) {
				if (read(ac->wakefd, &drained, sizeof(drained)) < 0)
					drained = 0;
				deadline = 0; /* woken: return to the caller now */
				continue;
			}
			if (curl_multi_socket_action(ac->multi, ev[i].data.fd, flags, &running) !=
			    CURLM_OK)
				return -1;
		}
		ndone += collect(ac, done + ndone, max - ndone);
		if (ndone > 0 || deadline == 0)
			break;
	}
	return (int)ndone;
}

static enum agent_result run_one(struct agentclient *ac, struct agent_call *call)
{
	struct agent_call *done[1];

	if (agentclient_start(ac, call))
		return AGENT_E_PERMANENT;
	while (agentclient_wait(ac, 1000, done, 1) == 0)
		;
	return call->result;
}

enum agent_result agentclient_dispatch(struct agentclient *ac, const char *ip, int port,
                                       int64_t version, const char *idem_key, char *task_id,
                                       size_t task_id_len, char *err, size_t errlen)
{
	struct agent_call call = {.op = AGENT_DISPATCH, .port = port, .version = version};
	enum agent_result rc;

	str_copy(call.ip, ip, sizeof(call.ip));
	str_copy(call.idem_key, idem_key ? idem_key : "", sizeof(call.idem_key));
	rc = run_one(ac, &call);
	if (rc == AGENT_OK)
		str_copy(task_id, call.task_id, task_id_len);
	else
		str_copy(err, call.error, errlen);
	agent_call_release(&call);
	return rc;
}

enum agent_result agentclient_query(struct agentclient *ac, const char *ip, int port,
                                    const char *task_id, enum agent_task_state *state, char *err,
                                    size_t errlen)
{
	struct agent_call call = {.op = AGENT_QUERY, .port = port};
	enum agent_result rc;

	str_copy(call.ip, ip, sizeof(call.ip));
	str_copy(call.task_id, task_id, sizeof(call.task_id));
	rc = run_one(ac, &call);
	if (rc == AGENT_OK)
		*state = call.state;
	str_copy(err, call.error, errlen);
	agent_call_release(&call);
	return rc;
}
