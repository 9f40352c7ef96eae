/*
 * agentclient/loop: the event loop. One epoll set holds libcurl's sockets (connects and
 * handshakes, driven by curl_multi_socket_action) and the connections that are ours to
 * read and write; agentclient_wait works through both and fails the calls that time out.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agentclient/agentclient_internal.h"
#include "core/core.h"

/* The longest agentclient_wait works on libcurl's sockets before it looks for answers again. */
#define WAIT_SLICE_MS 5

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

int agentclient_loop_init(struct agentclient *ac, char *err, size_t errlen)
{
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
		return -1;
	}
	curl_multi_setopt(ac->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ac->multi, CURLMOPT_SOCKETDATA, ac);
	curl_multi_setopt(ac->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(ac->multi, CURLMOPT_TIMERDATA, ac);
	return 0;
}

void agentclient_wakeup(struct agentclient *ac)
{
	uint64_t one = 1;

	if (write(ac->wakefd, &one, sizeof(one)) < 0)
		return; /* the counter is full: a wakeup is pending anyway */
}

void agentclient_watch(struct agentclient *ac, struct agent_call *call, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag_call(call)};

	if (call->watched) {
		epoll_ctl(ac->epfd, EPOLL_CTL_MOD, call->fd, &ev);
	} else if (epoll_ctl(ac->epfd, EPOLL_CTL_ADD, call->fd, &ev) == 0 ||
	           (errno == EEXIST && epoll_ctl(ac->epfd, EPOLL_CTL_MOD, call->fd, &ev) == 0)) {
		call->watched = 1;
	}
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
		agentclient_fail(ac, call, CURLE_OPERATION_TIMEDOUT,
		                 call->phase != PH_CONNECTING || agentclient_tcp_connected(call),
		                 "");
	}
	ac->next_deadline = next;
}

static size_t take_done(struct agentclient *ac, struct agent_call **done, size_t max)
{
	size_t n = 0;

	while (n < max && ac->done.head) {
		struct agent_call *call = ac->done.head;

		agentclient_list_take(ac, call);
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
	agentclient_collect_connects(ac);
	return 0;
}

/* When this round of agentclient_wait ends at the latest, given its deadline. */
static int64_t wake_at(const struct agentclient *ac, int64_t deadline)
{
	int64_t until = deadline;

	if (ac->timer_at >= 0 && ac->timer_at < until)
		until = ac->timer_at;
	if (ac->next_deadline < until)
		until = ac->next_deadline;
	/* Connects wait for a slot: wake when the oldest one being set up turns slow. */
	if ((ac->cq.head || ac->ahead.head) && ac->slots.head &&
	    ac->slots.head->connect_at + CONNECT_SLOW_MS < until)
		until = ac->slots.head->connect_at + CONNECT_SLOW_MS;
	return until;
}

/* The events on our own connections (and the wakeup); 1 when woken. */
static int call_events(struct agentclient *ac, const struct epoll_event *ev, int n)
{
	int woken = 0;

	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64, drained;

		if (tag & 1) {
			agentclient_call_event(
			    ac, (struct agent_call *)(uintptr_t)(tag & ~(uint64_t)1));
		} else if ((int)(tag >> 1) == ac->wakefd) {
			if (read(ac->wakefd, &drained, sizeof(drained)) < 0)
				drained = 0;
			woken = 1;
		}
	}
	return woken;
}

/* The events on libcurl's sockets, for at most WAIT_SLICE_MS; -1 on a libcurl failure. */
static int curl_events(struct agentclient *ac, const struct epoll_event *ev, int n)
{
	int64_t slice_end = now_mono_ms() + WAIT_SLICE_MS;
	int running = 0;

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
		agentclient_collect_connects(ac);
		if (now_mono_ms() >= slice_end)
			break;
	}
	return 0;
}

int agentclient_wait(struct agentclient *ac, int timeout_ms, struct agent_call **done, size_t max)
{
	int64_t deadline = now_mono_ms() + timeout_ms;
	struct epoll_event ev[256];
	size_t ndone = 0;

	for (;;) {
		int64_t now = now_mono_ms(), until;
		int n;

		agentclient_slow_connects(ac, now);
		agentclient_pump(ac);
		if (curl_timer(ac, now))
			return -1;
		expire(ac, now);
		ndone += take_done(ac, done + ndone, max - ndone);
		if (ndone > 0 || now >= deadline)
			break;
		until = wake_at(ac, deadline);
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
		if (call_events(ac, ev, n))
			deadline = 0; /* woken: return to the caller now */
		if (curl_events(ac, ev, n))
			return -1;
		ndone += take_done(ac, done + ndone, max - ndone);
		if (ndone > 0 || deadline == 0)
			break;
	}
	return (int)ndone;
}
