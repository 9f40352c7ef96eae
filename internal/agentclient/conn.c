/*
 * agentclient/conn: a call's connection. Each call owns a libcurl CONNECT_ONLY handle:
 * libcurl resolves nothing (the address is an IP), connects, and does the TLS handshake
 * with our identity and the fleet CA. At most CONNECT_MAX connects are set up at a time
 * (the connect slots); requests waiting for one go before connections opened ahead.
 *
 * The handle stays in the multi handle for the connection's life: removing it closes the
 * connection (and libcurl never hands a CONNECT_ONLY connection to another transfer).
 */
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "agentclient/agentclient_internal.h"
#include "core/core.h"

int agentclient_conn_alive(struct agent_call *call)
{
	curl_socket_t s = CURL_SOCKET_BAD;

	return call->fd >= 0 &&
	       curl_easy_getinfo(call->easy, CURLINFO_ACTIVESOCKET, &s) == CURLE_OK &&
	       s == call->fd;
}

void agentclient_cq_put(struct agentclient *ac, struct agent_call *call)
{
	agentclient_link_put(&ac->cq, call, LINK_CONNECT);
	call->phase = PH_QUEUED;
	call->deadline = INT64_MAX;
}

static void cq_take(struct agentclient *ac, struct agent_call *call)
{
	agentclient_link_take(&ac->cq, call, LINK_CONNECT);
	call->phase = PH_NONE;
}

/* The call's connect gives up its slot: it is set up, gone, or slow. */
static void slot_free(struct agentclient *ac, struct agent_call *call)
{
	if (!call->slot)
		return;
	agentclient_link_take(&ac->slots, call, LINK_CONNECT);
	call->slot = 0;
	ac->connecting--;
}

void agentclient_slow_connects(struct agentclient *ac, int64_t now)
{
	struct agent_call *call;

	while ((call = ac->slots.head) && now - call->connect_at >= CONNECT_SLOW_MS) {
		slot_free(ac, call);
		ac->stats.slow++;
	}
}

void agentclient_conn_close(struct agentclient *ac, struct agent_call *call)
{
	if (call->watched && agentclient_conn_alive(call))
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

/* The handle's options: a CONNECT_ONLY transfer to the node, verified both ways. */
static void set_options(struct agentclient *ac, struct agent_call *call, CURL *e)
{
	const struct agentclient_config *cfg = &ac->cfg;
	char url[128];

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
	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, agentclient_ssl_ctx_setup);
	curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, ac);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
}

/* Starts connecting: the handle goes into the multi handle as a CONNECT_ONLY transfer. */
static int conn_open(struct agentclient *ac, struct agent_call *call)
{
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
	set_options(ac, call, e);
	if (curl_multi_add_handle(ac->multi, e) != CURLM_OK)
		return -1;
	call->phase = PH_CONNECTING;
	call->connect_at = now_mono_ms();
	call->slot = 1;
	agentclient_link_put(&ac->slots, call, LINK_CONNECT);
	ac->connecting++;
	ac->stats.opened++;
	return 0;
}

void agentclient_pump(struct agentclient *ac)
{
	while (ac->connecting < CONNECT_MAX && (ac->cq.head || ac->ahead.head)) {
		struct agent_call *call = ac->cq.head;

		if (call) {
			cq_take(ac, call);
			agentclient_arm_deadline(ac, call);
			if (conn_open(ac, call) != 0) {
				agentclient_fail(ac, call, CURLE_FAILED_INIT, 0,
				                 "cannot start a connection");
				continue;
			}
		} else {
			call = ac->ahead.head;
			agentclient_list_take(ac, call);
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
	agentclient_list_put(ac, call, LIST_AHEAD);
	agentclient_pump(ac);
}

int agentclient_tcp_connected(struct agent_call *call)
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
		/* Opened ahead, it simply closes: its request will report what goes wrong. */
		if (agentclient_requested(call))
			agentclient_fail(ac, call, code, agentclient_tcp_connected(call),
			                 call->errbuf);
		else
			agentclient_conn_close(ac, call);
		return;
	}
	slot_free(ac, call); /* set up */
	call->fd = (int)s;
	call->phase = PH_IDLE;
	agentclient_watch(ac, call, EPOLLIN);
	if (!call->watched) {
		if (agentclient_requested(call))
			agentclient_fail(ac, call, CURLE_OUT_OF_MEMORY, 1,
			                 "cannot watch the connection");
		else
			agentclient_conn_close(ac, call);
		return;
	}
	if (agentclient_requested(call))
		agentclient_begin_request(ac, call);
}

void agentclient_collect_connects(struct agentclient *ac)
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
