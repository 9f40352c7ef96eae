/*
 * agentclient: the client object and a call's lifecycle. agentclient_new sets up libcurl's
 * multi handle, the TLS session share, the event loop (loop.c) and the identity (tls.c);
 * the lists here hold the calls in flight, completed, and waiting to be connected ahead.
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agentclient/agentclient_internal.h"

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
	if (agentclient_loop_init(ac, err, errlen) ||
	    agentclient_identity_load(&ac->cfg, &ac->id, err, errlen)) {
		agentclient_free(ac);
		return NULL;
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
	agentclient_identity_free(&ac->id);
	free(ac);
	curl_global_cleanup();
}

size_t agentclient_inflight(const struct agentclient *ac)
{
	return ac->inflight;
}

void agentclient_stats(const struct agentclient *ac, struct agentclient_stats *out)
{
	*out = ac->stats;
}

static struct call_list *list_of(struct agentclient *ac, int which)
{
	return which == LIST_BUSY ? &ac->busy : which == LIST_DONE ? &ac->done : &ac->ahead;
}

void agentclient_link_put(struct call_list *l, struct agent_call *call, int k)
{
	call->prev[k] = l->tail;
	call->next[k] = NULL;
	if (l->tail)
		l->tail->next[k] = call;
	else
		l->head = call;
	l->tail = call;
}

void agentclient_link_take(struct call_list *l, struct agent_call *call, int k)
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

void agentclient_list_put(struct agentclient *ac, struct agent_call *call, int which)
{
	agentclient_link_put(list_of(ac, which), call, LINK_LIST);
	call->listed = which;
}

void agentclient_list_take(struct agentclient *ac, struct agent_call *call)
{
	if (call->listed == LIST_NONE)
		return;
	agentclient_link_take(list_of(ac, call->listed), call, LINK_LIST);
	if (call->listed == LIST_BUSY)
		ac->inflight--;
	call->listed = LIST_NONE;
}

void agentclient_complete(struct agentclient *ac, struct agent_call *call)
{
	agentclient_list_take(ac, call);
	agentclient_list_put(ac, call, LIST_DONE);
}

void agent_call_free(struct agent_call *call)
{
	struct agentclient *ac = call->ac;

	if (ac) {
		agentclient_list_take(ac, call);
		agentclient_conn_close(ac, call);
	}
	if (call->easy)
		curl_easy_cleanup(call->easy);
	call->easy = NULL;
	call->ac = NULL;
	agentclient_answer_reset(call);
	free(call->buf);
	call->buf = NULL;
	call->buf_cap = 0;
}

void agentclient_abort(struct agentclient *ac, struct agent_call *call)
{
	if (call->listed == LIST_NONE)
		return;
	agentclient_list_take(ac, call);
	/* An answer may still be on its way: the connection cannot carry another request. */
	agentclient_conn_close(ac, call);
}

int agent_call_connected(const struct agent_call *call)
{
	return call->phase != PH_NONE || call->listed == LIST_AHEAD;
}
