/*
 * front/pool: a pool of civetweb's workers, each reached through one connection on
 * loopback that the front keeps open, so that a worker is busy exactly while it
 * answers a complete request. Requests wait their turn here, in order; the ops pool
 * keeps a worker that only the liveness probe may take.
 */
#include "api/v1/front/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"

int pool_init(struct front *f, struct pool *p, const struct front_pool_config *pc)
{
	p->f = f;
	p->port = pc->port;
	p->ups = calloc((size_t)pc->workers, sizeof(*p->ups));
	if (!p->ups)
		return -1;
	p->n = pc->workers;
	for (int i = 0; i < p->n; i++) {
		struct upstream *u = &p->ups[i];

		u->w.kind = FD_UPSTREAM;
		u->w.fd = -1;
		u->pool = p;
		u->head = malloc(WIRE_HEAD_MAX);
		if (!u->head)
			return -1;
	}
	return 0;
}

static void drop(struct upstream *u)
{
	if (u->w.fd >= 0)
		close(u->w.fd);
	u->w.fd = -1;
	u->state = UP_DOWN;
	u->reused = 0;
}

void pool_release(struct pool *p)
{
	for (int i = 0; i < p->n; i++) {
		drop(&p->ups[i]);
		free(p->ups[i].head);
	}
	free(p->ups);
	p->ups = NULL;
	p->n = 0;
}

void pool_publish(struct pool *p)
{
	atomic_store(&p->pub_busy, p->busy);
	atomic_store(&p->pub_waiting, p->waiting);
	atomic_store(&p->pub_oldest, p->qhead ? p->qhead->queued_at : 0);
}

/* A worker for a request that leaves reserve free: a connected one first; or NULL. */
static struct upstream *free_upstream(struct pool *p, int reserve)
{
	struct upstream *down = NULL;
	int nfree = p->n - p->busy;

	if (nfree <= reserve)
		return NULL;
	for (int i = 0; i < p->n; i++) {
		if (p->ups[i].state == UP_IDLE)
			return &p->ups[i];
		if (p->ups[i].state == UP_DOWN && !down)
			down = &p->ups[i];
	}
	return down;
}

static void send_request(struct upstream *u);

/* Opens u's connection to civetweb; 0, or -1. */
static int connect_upstream(struct upstream *u)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)u->pool->port)};
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u->w.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->w.fd < 0)
		return -1;
	u->w.events = UINT32_MAX;
	setsockopt(u->w.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(u->w.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		u->state = UP_IDLE;
		return 0;
	}
	if (errno != EINPROGRESS) {
		drop(u);
		return -1;
	}
	u->state = UP_CONNECTING;
	front_watch(u->pool->f, &u->w, EPOLLOUT);
	return 0;
}

static void start(struct pool *p, struct upstream *u, struct client *c)
{
	u->cl = c;
	c->up = u;
	c->state = CL_ANSWER;
	p->busy++;
	u->sent = u->head_len = 0;
	u->answered = 0;
	if (u->state == UP_DOWN && connect_upstream(u)) {
		log_warn("front", "cannot connect to the API's workers on 127.0.0.1:%d: %s",
		         p->port, strerror(errno));
		u->cl = NULL;
		c->up = NULL;
		p->busy--;
		front_client_error(c, 503, "the API's workers cannot be reached");
		return;
	}
	if (u->state == UP_IDLE) {
		u->state = UP_SEND;
		send_request(u);
	}
}

/* The client whose qnext pointer pp is; NULL for the queue's head pointer. */
static struct client *owner(struct pool *p, struct client **pp)
{
	return pp == &p->qhead
	           ? NULL
	           : (struct client *)(void *)((char *)pp - offsetof(struct client, qnext));
}

/* Takes *pp out of the queue. */
static struct client *unqueue(struct pool *p, struct client **pp)
{
	struct client *c = *pp;

	*pp = c->qnext;
	if (p->qtail == c)
		p->qtail = owner(p, pp);
	c->qnext = NULL;
	p->waiting--;
	return c;
}

/*
 * Hands waiting requests to free workers, in order; a request that may take a reserved
 * worker (a liveness probe) passes those that may not. Not re-entered: a request that
 * fails at once and comes back asks for another turn instead.
 */
static void kick(struct pool *p)
{
	if (p->kicking) {
		p->kick_again = 1;
		return;
	}
	p->kicking = 1;
	do {
		struct client **pp = &p->qhead;

		p->kick_again = 0;
		while (*pp && p->busy < p->n) {
			struct upstream *u = free_upstream(p, (*pp)->reserve);

			if (!u) {
				pp = &(*pp)->qnext;
				continue;
			}
			start(p, u, unqueue(p, pp));
			pp = &p->qhead;
		}
	} while (p->kick_again);
	p->kicking = 0;
	pool_publish(p);
}

void pool_enqueue(struct pool *p, struct client *c)
{
	c->queued_at = p->f->now;
	c->qnext = NULL;
	if (p->qtail)
		p->qtail->qnext = c;
	else
		p->qhead = c;
	p->qtail = c;
	p->waiting++;
	kick(p);
}

/* The request of u is over (answered, or given up): u takes the next one. */
static void finish(struct upstream *u, int keep)
{
	struct pool *p = u->pool;

	if (u->cl)
		u->cl->up = NULL;
	u->cl = NULL;
	p->busy--;
	if (keep && u->w.fd >= 0) {
		u->state = UP_IDLE;
		u->reused = 1;
		front_watch(p->f, &u->w, EPOLLIN);
	} else {
		drop(u);
	}
	kick(p);
}

void pool_forget(struct client *c)
{
	struct pool *p = c->pool;
	struct client **pp;

	if (c->up) {
		/* The worker's answer has nowhere to go: its connection goes with it. */
		finish(c->up, 0);
		return;
	}
	if (c->state != CL_QUEUED || !p)
		return;
	for (pp = &p->qhead; *pp && *pp != c; pp = &(*pp)->qnext)
		;
	if (*pp)
		unqueue(p, pp);
	pool_publish(p);
}

/*
 * The connection failed before a byte of the answer. A kept connection civetweb closed
 * just as the request went out never ran it: it goes once more on a new connection.
 */
static void failed(struct upstream *u)
{
	struct pool *p = u->pool;
	struct client *c = u->cl;
	int again = !u->answered && u->reused && !c->retried, relayed = u->state == UP_BODY;

	c->up = NULL;
	u->cl = NULL;
	p->busy--;
	drop(u);
	if (again) {
		c->retried = 1;
		c->state = CL_QUEUED;
		c->qnext = p->qhead;
		p->qhead = c;
		if (!p->qtail)
			p->qtail = c;
		p->waiting++;
	} else if (!relayed) {
		log_warn("front", "an API worker closed its connection without an answer");
		front_client_error(c, 502,
		                   "the API's worker closed the connection without an answer");
	} else {
		front_client_close(c);
	}
	kick(p);
}

static void send_request(struct upstream *u)
{
	struct client *c = u->cl;
	size_t hlen = c->up_head.len, blen = (size_t)c->req.content_length;

	while (u->sent < hlen + blen) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (u->sent < hlen) {
			iov[n].iov_base = c->up_head.buf + u->sent;
			iov[n++].iov_len = hlen - u->sent;
		}
		if (blen) {
			size_t done = u->sent > hlen ? u->sent - hlen : 0;

			iov[n].iov_base = c->in + c->req.head_len + done;
			iov[n++].iov_len = blen - done;
		}
		w = writev(u->w.fd, iov, n);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			front_watch(u->pool->f, &u->w, EPOLLOUT);
			return;
		}
		if (w <= 0) {
			failed(u);
			return;
		}
		u->sent += (size_t)w;
	}
	u->state = UP_HEAD;
	front_watch(u->pool->f, &u->w, EPOLLIN);
}

/* The answer's head is in: its rewritten head and the first body bytes go to the client. */
static void begin_answer(struct upstream *u)
{
	struct client *c = u->cl;
	struct strbuf head = STRBUF_INIT;
	size_t extra = u->head_len - u->ans.head_len;
	int64_t body = wire_answer_body(&u->ans, c->req.head_method);
	int keep = c->req.keep_alive && body >= 0 && !u->ans.chunked && !c->f->stopping;

	if (u->ans.chunked) {
		log_error("front", "an API worker answered with a chunked body, which the front"
		                   " does not relay");
		failed(u);
		return;
	}
	c->close_after = !keep;
	wire_answer_head(u->head, &u->ans, keep, &head);
	if (head.failed || (!c->out && !(c->out = malloc(FRONT_OUT_MAX))) ||
	    c->out_len + head.len + extra > FRONT_OUT_MAX || (body >= 0 && (int64_t)extra > body)) {
		strbuf_free(&head);
		u->answered = 1;
		failed(u);
		return;
	}
	memcpy(c->out + c->out_len, head.buf, head.len);
	memcpy(c->out + c->out_len + head.len, u->head + u->ans.head_len, extra);
	c->out_len += head.len + extra;
	strbuf_free(&head);
	u->body_left = body < 0 ? -1 : body - (int64_t)extra;
	u->state = UP_BODY;
}

/* Reads what fits of the answer; 1 when the answer ended (u is free again). */
static int read_answer(struct upstream *u)
{
	struct client *c = u->cl;
	char *dst;
	size_t room;
	ssize_t n;

	if (u->state == UP_HEAD) {
		dst = u->head + u->head_len;
		room = WIRE_HEAD_MAX - u->head_len;
	} else {
		if (u->body_left == 0)
			goto done;
		if (c->out_off) {
			/* What the client took makes room at the front of the buffer. */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		dst = c->out + c->out_len;
		room = FRONT_OUT_MAX - c->out_len;
		if (u->body_left > 0 && (int64_t)room > u->body_left)
			room = (size_t)u->body_left;
		if (!room) {
			/* The client has not taken what is there: civetweb waits meanwhile. */
			front_watch(u->pool->f, &u->w, 0);
			return 0;
		}
	}
	n = recv(u->w.fd, dst, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0 && u->state == UP_BODY && u->body_left < 0) {
		u->ans.close = 1;
		goto done;
	}
	if (n <= 0) {
		failed(u);
		return 1;
	}
	u->answered = 1;
	if (u->state == UP_HEAD) {
		int rc;

		u->head_len += (size_t)n;
		rc = wire_answer_parse(u->head, u->head_len, &u->ans);
		if (rc == WIRE_MORE)
			return 0;
		if (rc == WIRE_BAD) {
			log_error("front", "an API worker answered something that is not HTTP/1.1");
			failed(u);
			return 1;
		}
		begin_answer(u);
		if (u->state != UP_BODY)
			return 1;
	} else {
		c->out_len += (size_t)n;
		if (u->body_left > 0)
			u->body_left -= n;
	}
	if (u->body_left != 0)
		return 0;
done:
	c->answer_done = 1;
	finish(u, !u->ans.close);
	front_client_flush(c);
	return 1;
}

static void answer_some(struct upstream *u)
{
	struct client *c = u->cl;

	for (int turns = 0; turns < 8; turns++)
		if (read_answer(u))
			return;
	if (c->out_len > c->out_off)
		front_client_flush(c);
	if (u->cl && u->state == UP_BODY && c->out_len < FRONT_OUT_MAX)
		front_watch(u->pool->f, &u->w, EPOLLIN);
}

void pool_client_drained(struct client *c)
{
	struct upstream *u = c->up;

	/* The event loop reads on when civetweb has more. */
	if (u && u->state == UP_BODY && c->out_len < FRONT_OUT_MAX)
		front_watch(u->pool->f, &u->w, EPOLLIN);
}

/* Is the socket connected now? (an event may be older than the connection) */
static int connected(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int err = 0;
	socklen_t elen = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err)
		return -1;
	return getpeername(fd, (struct sockaddr *)&sa, &len) == 0;
}

void pool_upstream_event(struct upstream *u, uint32_t events)
{
	char b;
	int ok;

	(void)events;
	switch (u->state) {
	case UP_DOWN:
		break;
	case UP_CONNECTING:
		ok = connected(u->w.fd);
		if (ok < 0) {
			failed(u);
		} else if (ok) {
			u->state = UP_SEND;
			send_request(u);
		}
		break;
	case UP_IDLE:
		/* civetweb closed a kept connection (or said something unasked): drop it. */
		if (recv(u->w.fd, &b, 1, MSG_PEEK) < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		drop(u);
		break;
	case UP_SEND:
		send_request(u);
		break;
	case UP_HEAD:
	case UP_BODY:
		answer_some(u);
		break;
	}
}
