/*
 * front: the event loop and the listeners: accepts connections (client.c takes them
 * from there), waits on every socket and the next deadline, expires connections, and
 * starts and stops the whole. The thread of this loop is the only one that touches a
 * connection.
 */
#include "api/v1/front/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "core/log.h"

#define DRAIN_MS     5000
#define LINGER_MS    2000
#define ACCEPT_BURST 64
#define EVENTS_MAX   256
/* Out of descriptors: stop accepting for this long rather than spin on the listener. */
#define ACCEPT_PAUSE_MS 100

void front_watch(struct front *f, struct watched *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (w->fd < 0 || w->events == events)
		return;
	epoll_ctl(f->ep, w->events == UINT32_MAX ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, w->fd, &ev);
	w->events = events;
}

/* Frees the connections closed during this turn of the loop (events may still name them). */
static void free_dead(struct front *f)
{
	while (f->dead) {
		struct client *c = f->dead;

		f->dead = c->next;
		free(c->in);
		free(c->out);
		strbuf_free(&c->up_head);
		free(c);
	}
}

static void accept_some(struct front *f, struct listener *l)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int fd =
		    accept4(l->w.fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				if (f->now - f->fds_warned >= 60000 || !f->fds_warned) {
					log_warn(
					    "front",
					    "out of descriptors (%s): new API connections wait;"
					    " raise the open-file limit (LimitNOFILE, ulimit -n)",
					    strerror(errno));
					f->fds_warned = f->now;
				}
				f->accept_again = f->now + ACCEPT_PAUSE_MS;
				front_watch(f, &f->main.w, 0);
				front_watch(f, &f->health.w, 0);
			}
			return;
		}
		front_client_admit(f, l, fd, &sa);
	}
}

static int open_listener(struct front *f, struct listener *l, const char *addr, char *err,
                         size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *colon = strrchr(addr, ':');
	char ip[64];
	int one = 1;
	int64_t port;

	l->w.kind = FD_LISTENER;
	l->w.events = UINT32_MAX;
	if (!colon || (size_t)(colon - addr) >= sizeof(ip) ||
	    parse_int64(colon + 1, 1, 65535, &port))
		goto fail;
	memcpy(ip, addr, (size_t)(colon - addr));
	ip[colon - addr] = '\0';
	sa.sin_port = htons((uint16_t)port);
	l->w.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1 || l->w.fd < 0 ||
	    setsockopt(l->w.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l->w.fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(l->w.fd, 1024))
		goto fail;
	front_watch(f, &l->w, EPOLLIN);
	return 0;
fail:
	snprintf(err, errlen, "cannot listen on %s (%s): %s", addr, l->setting, strerror(errno));
	return -1;
}

static void close_listener(struct listener *l)
{
	if (l->w.fd >= 0)
		close(l->w.fd);
	l->w.fd = -1;
}

/* Stopping: nothing new comes in, and connections not being answered go now. */
static void begin_stop(struct front *f)
{
	struct client *c = f->clients, *next;

	close_listener(&f->main);
	close_listener(&f->health);
	for (; c; c = next) {
		next = c->next;
		if (c->state != CL_QUEUED && c->state != CL_ANSWER)
			front_client_close(c);
	}
}

static void handle(struct front *f, struct watched *w, uint32_t events)
{
	uint64_t v;

	switch (w->kind) {
	case FD_LISTENER:
		accept_some(f, (struct listener *)(void *)w);
		break;
	case FD_CLIENT:
		front_client_event((struct client *)(void *)w, events);
		break;
	case FD_UPSTREAM:
		pool_upstream_event((struct upstream *)(void *)w, events);
		break;
	case FD_WAKE:
		if (read(w->fd, &v, sizeof(v)) < 0)
			break;
		begin_stop(f);
		break;
	}
}

/* Waits for the next event or deadline; -1 ms when none. */
static int wait_ms(struct front *f)
{
	struct guard_timer *t = guard_timer_next(&f->timers);
	int64_t until = f->now + 1000;

	if (t && t->deadline < until)
		until = t->deadline;
	if (f->accept_again && f->accept_again < until)
		until = f->accept_again;
	return until > f->now ? (int)(until - f->now) : 0;
}

static void *run(void *arg)
{
	struct front *f = arg;
	struct epoll_event evs[EVENTS_MAX];
	int64_t stop_by = 0;

	for (;;) {
		struct guard_timer *t;
		int n = epoll_wait(f->ep, evs, EVENTS_MAX, wait_ms(f));

		f->now = now_mono_ms();
		for (int i = 0; i < n; i++)
			handle(f, evs[i].data.ptr, evs[i].events);
		while ((t = guard_timer_next(&f->timers)) && t->deadline <= f->now)
			front_client_expire(
			    (struct client *)(void *)((char *)t - offsetof(struct client, timer)));
		if (f->accept_again && f->accept_again <= f->now) {
			f->accept_again = 0;
			front_watch(f, &f->main.w, EPOLLIN);
			front_watch(f, &f->health.w, EPOLLIN);
		}
		free_dead(f);
		if (f->stopping) {
			if (!stop_by)
				stop_by = f->now + DRAIN_MS;
			if (!f->clients || f->now >= stop_by)
				break;
		}
	}
	while (f->clients)
		front_client_close(f->clients);
	free_dead(f);
	return NULL;
}

static int setup(struct front *f, char *err, size_t errlen)
{
	int64_t limits[GUARD_PHASES];

	limits[GUARD_HEADER] = f->cfg.header_timeout_s * 1000LL;
	limits[GUARD_BODY] = f->cfg.body_timeout_s * 1000LL;
	limits[GUARD_IDLE] = f->cfg.keepalive_timeout_s * 1000LL;
	limits[GUARD_SEND] = f->cfg.body_timeout_s * 1000LL;
	limits[GUARD_LINGER] = LINGER_MS;
	guard_timers_init(&f->timers, limits);
	f->main.w.fd = f->health.w.fd = f->wake.fd = -1;
	f->main.setting = "CMDB_LISTEN";
	f->main.proxy = f->cfg.proxy_protocol;
	f->main.tls = f->cfg.tls;
	f->health.setting = "CMDB_HEALTH_LISTEN";
	f->health.health = 1;
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->addrs = guard_table_new();
	if (f->ep < 0 || !f->addrs || pool_init(f, &f->api, &f->cfg.api) ||
	    pool_init(f, &f->ops, &f->cfg.ops)) {
		snprintf(err, errlen, "the API's front: out of memory or descriptors");
		return -1;
	}
	f->wake.kind = FD_WAKE;
	f->wake.events = UINT32_MAX;
	f->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->wake.fd < 0) {
		snprintf(err, errlen, "the API's front: eventfd: %s", strerror(errno));
		return -1;
	}
	front_watch(f, &f->wake, EPOLLIN);
	if (open_listener(f, &f->main, f->cfg.listen, err, errlen) ||
	    (f->cfg.health_listen[0] &&
	     open_listener(f, &f->health, f->cfg.health_listen, err, errlen)))
		return -1;
	return 0;
}

static void destroy(struct front *f)
{
	close_listener(&f->main);
	close_listener(&f->health);
	pool_release(&f->api);
	pool_release(&f->ops);
	if (f->wake.fd >= 0)
		close(f->wake.fd);
	if (f->ep >= 0)
		close(f->ep);
	guard_table_free(f->addrs);
	free(f);
}

struct front *front_start(const struct front_config *fc, char *err, size_t errlen)
{
	struct front *f = calloc(1, sizeof(*f));

	if (!f) {
		snprintf(err, errlen, "the API's front: out of memory");
		return NULL;
	}
	err[0] = '\0';
	f->cfg = *fc;
	f->ep = -1;
	f->now = now_mono_ms();
	if (setup(f, err, errlen) || pthread_create(&f->thread, NULL, run, f)) {
		if (!err[0])
			snprintf(err, errlen, "the API's front: cannot start its thread");
		destroy(f);
		return NULL;
	}
	return f;
}

void front_stop(struct front *f)
{
	uint64_t one = 1;

	if (!f)
		return;
	atomic_store(&f->stopping, 1);
	if (write(f->wake.fd, &one, sizeof(one)) < 0)
		log_warn("front", "cannot wake the front to stop it: %s", strerror(errno));
	pthread_join(f->thread, NULL);
	destroy(f);
}

void front_load(const struct front *f, struct front_load *out)
{
	int64_t oldest = atomic_load(&f->api.pub_oldest);

	out->busy = atomic_load(&f->api.pub_busy);
	out->waiting = atomic_load(&f->api.pub_waiting);
	out->workers = f->api.n;
	out->longest_wait_ms = oldest ? now_mono_ms() - oldest : 0;
}
