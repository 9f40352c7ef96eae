/*
 * agentclient/io: a call's request and its answer. They go over the call's connection
 * with curl_easy_send/curl_easy_recv, framed by agentclient/http1. libcurl cannot reuse a
 * connection it opened without a request, and a request sent only to warm one up would
 * reach the agent early, so the HTTP/1.1 of the contract is spoken here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "agentclient/agentclient_internal.h"
#include "agentclient/http1.h"
#include "core/core.h"

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

void agentclient_answer_reset(struct agent_call *call)
{
	free(call->body);
	call->body = NULL;
	call->body_len = 0;
	call->buf_len = 0;
}

void agentclient_arm_deadline(struct agentclient *ac, struct agent_call *call)
{
	call->deadline = now_mono_ms() + (int64_t)ac->cfg.request_timeout_s * 1000;
	if (call->deadline < ac->next_deadline)
		ac->next_deadline = call->deadline;
}

void agentclient_fail(struct agentclient *ac, struct agent_call *call, int code, int connected,
                      const char *detail)
{
	long os_errno = 0;

	if (call->easy)
		curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno);
	call->http_status = 0;
	call->result = agentclient_describe_failure(code, (int)os_errno, connected, detail,
	                                            call->ip, call->port, ac->cfg.request_timeout_s,
	                                            call->error, sizeof(call->error));
	agentclient_conn_close(ac, call);
	agentclient_complete(ac, call);
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
	agentclient_conn_close(ac, call);
	agentclient_cq_put(ac, call);
	agentclient_pump(ac);
	return 1;
}

/* A whole answer is in: judge it as the contract says. */
static void answered(struct agentclient *ac, struct agent_call *call, const struct http1_answer *a)
{
	const char *body;

	call->body = malloc(a->body_len + 1);
	if (!call->body) {
		agentclient_fail(ac, call, CURLE_OUT_OF_MEMORY, 1, "out of memory");
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
		agentclient_conn_close(ac, call);
	} else {
		call->phase = PH_IDLE;
		agentclient_watch(ac, call, EPOLLIN);
	}
	agentclient_complete(ac, call);
}

/* The answer is longer than the contract allows: the call fails, the connection goes. */
static void too_big(struct agentclient *ac, struct agent_call *call)
{
	snprintf(call->error, sizeof(call->error), "agent %s:%d: response larger than %d bytes",
	         call->ip, call->port, AGENT_BODY_MAX);
	call->result = AGENT_E_PERMANENT;
	agentclient_conn_close(ac, call);
	agentclient_complete(ac, call);
}

/*
 * Appends the n bytes read into ac->rbuf to the call's answer; -1 when its buffer would
 * grow past twice what the contract allows, or cannot grow.
 */
static int answer_append(struct agentclient *ac, struct agent_call *call, size_t n)
{
	if (call->buf_len + n > call->buf_cap) {
		size_t cap = call->buf_cap ? call->buf_cap : 1024;
		char *grown;

		while (cap < call->buf_len + n)
			cap *= 2;
		grown =
		    cap <= 2 * (AGENT_BODY_MAX + HTTP1_HEAD_MAX) ? realloc(call->buf, cap) : NULL;
		if (!grown)
			return -1;
		call->buf = grown;
		call->buf_cap = cap;
	}
	memcpy(call->buf + call->buf_len, ac->rbuf, n);
	call->buf_len += n;
	return 0;
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
				agentclient_fail(ac, call, CURLE_RECV_ERROR, 1, call->errbuf);
			return;
		}
		if (n > 0) {
			if (answer_append(ac, call, n)) {
				too_big(ac, call);
				return;
			}
		} else if (call->buf_len == 0) {
			if (!resend(ac, call))
				agentclient_fail(ac, call, CURLE_GOT_NOTHING, 1,
				                 "Empty reply from server");
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
			agentclient_fail(ac, call,
			                 eof ? CURLE_PARTIAL_FILE : CURLE_WEIRD_SERVER_REPLY, 1,
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
			agentclient_watch(ac, call, EPOLLIN | EPOLLOUT);
			return;
		}
		if (rc != CURLE_OK) {
			if (!resend(ac, call))
				agentclient_fail(ac, call, CURLE_SEND_ERROR, 1, call->errbuf);
			return;
		}
		call->req_off += n;
	}
	call->sent_at = now_mono_ms();
	call->phase = PH_RECEIVING;
	agentclient_watch(ac, call, EPOLLIN);
}

void agentclient_begin_request(struct agentclient *ac, struct agent_call *call)
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
	if (call->listed == LIST_AHEAD) /* it was waiting to be opened ahead: open it now */
		agentclient_list_take(ac, call);
	if (call->listed != LIST_NONE || build_request(call) != 0) {
		snprintf(call->error, sizeof(call->error), "agentclient: cannot start request");
		return -1;
	}
	call->error[0] = '\0';
	call->http_status = 0;
	call->retry_after_s = 0;
	call->sent_at = 0;
	agentclient_answer_reset(call);
	if (call->phase == PH_IDLE && !agentclient_conn_alive(call))
		agentclient_conn_close(ac, call);
	call->fresh = call->phase == PH_NONE || call->phase == PH_CONNECTING;
	call->ac = ac;
	call->unused = 0;
	agentclient_arm_deadline(ac, call);
	agentclient_list_put(ac, call, LIST_BUSY);
	ac->inflight++;
	if (call->phase == PH_NONE) {
		agentclient_cq_put(ac, call);
		agentclient_pump(ac);
	} else if (call->phase == PH_IDLE) {
		agentclient_begin_request(ac, call);
	}
	return 0;
}

/* An idle connection became readable: the agent closed it (or sent what nobody asked). */
static void idle_event(struct agentclient *ac, struct agent_call *call)
{
	size_t n = 0;
	CURLcode rc = curl_easy_recv(call->easy, ac->rbuf, sizeof(ac->rbuf), &n);

	if (rc != CURLE_AGAIN) {
		ac->stats.idle_closed++;
		agentclient_conn_close(ac, call);
	}
}

void agentclient_call_event(struct agentclient *ac, struct agent_call *call)
{
	if (call->phase != PH_NONE && !agentclient_conn_alive(call)) {
		/* libcurl closed it as dead meanwhile. */
		call->watched = 0;
		if (!agentclient_requested(call))
			agentclient_conn_close(ac, call);
		else if (!resend(ac, call))
			agentclient_fail(ac, call, CURLE_RECV_ERROR, 1, "connection closed");
		return;
	}
	if (call->phase == PH_SENDING)
		send_request(ac, call);
	else if (call->phase == PH_RECEIVING)
		receive(ac, call);
	else if (call->phase == PH_IDLE)
		idle_event(ac, call);
}
