/*
 * front/client: the life of a client connection: admission (per-address cap), PROXY
 * line, TLS handshake, request head and body against their deadlines, the wait for a
 * worker, the answer going out, keep-alive, closing. front.c runs the loop that calls
 * it; pool.c talks to civetweb.
 */
#include "api/v1/front/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "core/log.h"
#include "metrics/metrics.h"

#define IO_AGAIN (-2)
/* A request buffer starts this big; an idle connection larger than it gives it back. */
#define IN_MIN 4096

/* The paths of the probes and the metrics; *light: the liveness probe. */
static int ops_path(const char *target, size_t len, int *light)
{
	static const struct {
		const char *path;
		int light;
	} paths[] = {{"/health/live", 1},
	             {"/healthz", 1},
	             {"/health/ready", 0},
	             {"/readyz", 0},
	             {"/metrics", 0}};
	size_t plen = 0;

	while (plen < len && target[plen] != '?')
		plen++;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strlen(paths[i].path) == plen && memcmp(paths[i].path, target, plen) == 0) {
			*light = paths[i].light;
			return 1;
		}
	return 0;
}

/* What the client's connection waits for in its state. */
static void client_interest(struct client *c)
{
	uint32_t ev = 0;

	switch (c->state) {
	case CL_PROXY:
	case CL_HANDSHAKE:
	case CL_HEAD:
	case CL_BODY:
	case CL_IDLE:
	case CL_LINGER:
		ev = EPOLLIN;
		break;
	case CL_QUEUED:
	case CL_ANSWER:
		break;
	}
	if (c->out_off < c->out_len)
		ev |= EPOLLOUT;
	/* TLS may need to write to read on, or read to write on: then only that. */
	if (c->tls_want && !(ev & c->tls_want))
		ev = c->tls_want;
	front_watch(c->f, &c->w, ev);
}

/* A recv or send that returned n: bytes, 0 at the end of the stream, -1, or IO_AGAIN. */
static ssize_t sock_result(ssize_t n)
{
	return n >= 0 ? n : errno == EAGAIN || errno == EINTR ? IO_AGAIN : -1;
}

/* The same for an SSL_read or SSL_write; c->tls_want says what it waits for. */
static ssize_t tls_result(struct client *c, int n)
{
	int e;

	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->tls_want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
		return IO_AGAIN;
	}
	ERR_clear_error();
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static ssize_t client_read(struct client *c, char *buf, size_t len)
{
	c->tls_want = 0;
	if (!c->ssl)
		return sock_result(recv(c->w.fd, buf, len, 0));
	return tls_result(c, SSL_read(c->ssl, buf, (int)len));
}

static ssize_t client_write(struct client *c, const char *buf, size_t len)
{
	c->tls_want = 0;
	if (!c->ssl)
		return sock_result(send(c->w.fd, buf, len, MSG_NOSIGNAL));
	return tls_result(c, SSL_write(c->ssl, buf, (int)len));
}

static void set_timer(struct client *c, enum guard_phase p)
{
	guard_timer_set(&c->f->timers, &c->timer, p, c->f->now);
}

/* A body above body_max: only big_body_path's, and so many at once; 1 when refused. */
static int take_big_body(struct client *c)
{
	struct front *f = c->f;

	if (!f->cfg.big_body_path ||
	    !wire_request_is(c->in, &c->req, "POST", f->cfg.big_body_path)) {
		front_client_error(c, 413, "request body too large");
		return 1;
	}
	if (f->big_bodies >= FRONT_BIG_BODIES) {
		front_client_error(c, 503,
		                   "another large request body is being received; retry in a"
		                   " few seconds");
		return 1;
	}
	f->big_bodies++;
	c->big_body = 1;
	return 0;
}

static void drop_big_body(struct client *c)
{
	if (c->big_body) {
		c->f->big_bodies--;
		c->big_body = 0;
	}
}

void front_client_close(struct client *c)
{
	struct front *f = c->f;

	if (c->dead)
		return;
	drop_big_body(c);
	pool_forget(c);
	set_timer(c, GUARD_NONE);
	if (c->counted)
		guard_release(f->addrs, &c->addr);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->w.fd);
	c->w.fd = -1;
	c->dead = 1;
	if (c->prev)
		c->prev->next = c->next;
	else
		f->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = f->dead;
	f->dead = c;
	f->nclients--;
}

/* Shuts our side and drops what the client still sends, so that it reads our answer. */
static void linger(struct client *c)
{
	if (c->f->stopping) {
		front_client_close(c);
		return;
	}
	if (c->ssl)
		SSL_shutdown(c->ssl);
	ERR_clear_error();
	shutdown(c->w.fd, SHUT_WR);
	c->state = CL_LINGER;
	set_timer(c, GUARD_LINGER);
	client_interest(c);
}

static int out_room(struct client *c)
{
	if (!c->out && !(c->out = malloc(FRONT_OUT_MAX)))
		return 0;
	return 1;
}

void front_client_error(struct client *c, int status, const char *why)
{
	struct strbuf msg = STRBUF_INIT;

	wire_error(status, why, &msg);
	if (msg.failed || !out_room(c) || msg.len > FRONT_OUT_MAX) {
		strbuf_free(&msg);
		front_client_close(c);
		return;
	}
	memcpy(c->out, msg.buf, msg.len);
	c->out_off = 0;
	c->out_len = msg.len;
	strbuf_free(&msg);
	c->state = CL_ANSWER;
	c->answer_done = 1;
	c->close_after = 1;
	set_timer(c, GUARD_NONE);
	front_client_flush(c);
}

static void client_readable(struct client *c);
static int request_progress(struct client *c);

/* The answer is out: the next request, or the end of the connection. */
static void next_request(struct client *c)
{
	size_t used = c->req.head_len + (size_t)c->req.content_length;

	if (c->close_after || c->f->stopping || used > c->in_len) {
		linger(c);
		return;
	}
	drop_big_body(c);
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	c->answer_done = c->retried = 0;
	c->out_off = c->out_len = 0;
	free(c->out);
	c->out = NULL;
	strbuf_free(&c->up_head);
	if (!c->in_len && c->in_cap > IN_MIN) {
		/* Idle connections keep no buffers. */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	c->state = c->in_len ? CL_HEAD : CL_IDLE;
	set_timer(c, c->in_len ? GUARD_HEADER : GUARD_IDLE);
	client_interest(c);
	if (c->in_len && request_progress(c))
		return;
	/* TLS may hold decrypted bytes that epoll cannot see: read them now. */
	if (c->state == CL_HEAD || c->state == CL_IDLE)
		client_readable(c);
}

void front_client_flush(struct client *c)
{
	int progress = 0;

	while (c->out_off < c->out_len) {
		ssize_t n = client_write(c, c->out + c->out_off, c->out_len - c->out_off);

		if (n == IO_AGAIN)
			break;
		if (n <= 0) {
			front_client_close(c);
			return;
		}
		c->out_off += (size_t)n;
		progress = 1;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	client_interest(c);
	if (c->state != CL_ANSWER)
		return; /* a 100 Continue: the body's deadline runs on */
	if (!c->out_len)
		set_timer(c, GUARD_NONE);
	else if (progress || c->timer.phase != GUARD_SEND)
		/* A client that takes nothing of its answer for CMDB_API_BODY_TIMEOUT is cut. */
		set_timer(c, GUARD_SEND);
	if (c->up)
		pool_client_drained(c);
	else if (c->answer_done && c->out_len == 0)
		next_request(c);
}

/* The request is complete: on to a worker of the right pool. */
static void dispatch(struct client *c)
{
	struct front *f = c->f;
	int light = 0, ops = ops_path(c->in + c->req.target_off, c->req.target_len, &light);

	if (c->lst->health && !ops) {
		front_client_error(c, 404,
		                   "CMDB_HEALTH_LISTEN serves only /health/live, /health/ready"
		                   " and /metrics");
		return;
	}
	c->pool = ops ? &f->ops : &f->api;
	/*
	 * The ops workers a probe must leave free: liveness takes the last one; on
	 * CMDB_LISTEN, where anyone may send probes, one more stays for CMDB_HEALTH_LISTEN.
	 */
	c->reserve = ops ? !light + (!c->lst->health && f->cfg.health_listen[0]) : 0;
	strbuf_reset(&c->up_head);
	wire_request_upstream(c->in, &c->req, f->cfg.key, c->principal, &c->up_head);
	if (c->up_head.failed) {
		front_client_close(c);
		return;
	}
	c->state = CL_QUEUED;
	c->tls_want = 0; /* nothing is read or written until the answer comes */
	set_timer(c, GUARD_NONE);
	client_interest(c);
	pool_enqueue(c->pool, c);
}

/* The largest body any route may send; request_progress holds each to its own. */
static int64_t body_limit(const struct front_config *fc)
{
	return fc->big_body_path && fc->big_body_max > fc->body_max ? fc->big_body_max
	                                                            : fc->body_max;
}

/*
 * Judges what has arrived of the request. 1 when the request left the reading states
 * (queued, refused, closed), 0 to read on.
 */
static int request_progress(struct client *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	int rc;

	if (c->state == CL_HEAD) {
		rc = wire_request_parse(c->in, c->in_len, body_limit(&c->f->cfg), &c->req);
		if (rc == WIRE_MORE)
			return 0;
		if (rc == WIRE_BAD) {
			front_client_error(c, c->req.status, c->req.why);
			return 1;
		}
		if (c->req.content_length > c->f->cfg.body_max && take_big_body(c))
			return 1;
		c->state = CL_BODY;
		set_timer(c, GUARD_BODY);
		if (c->req.expect_continue && c->in_len == c->req.head_len &&
		    c->req.content_length > 0 && out_room(c)) {
			memcpy(c->out, cont, sizeof(cont) - 1);
			c->out_off = 0;
			c->out_len = sizeof(cont) - 1;
			front_client_flush(c);
			if (c->dead)
				return 1;
		}
	}
	if (c->state != CL_BODY || c->in_len < c->req.head_len + (size_t)c->req.content_length)
		return 0;
	dispatch(c);
	return 1;
}

/* Grows c->in towards what its state may hold; the room left to read into. */
static size_t in_room(struct client *c)
{
	size_t limit = WIRE_HEAD_MAX, cap;
	char *bigger;

	if (c->state == CL_BODY)
		limit = c->req.head_len + (size_t)c->req.content_length;
	if (c->in_len >= limit)
		return 0;
	if (c->in_cap - c->in_len < IN_MIN / 2 && c->in_cap < limit) {
		cap = c->in_cap ? c->in_cap * 2 : IN_MIN;
		if (cap > limit)
			cap = limit;
		bigger = realloc(c->in, cap);
		if (!bigger)
			return 0;
		c->in = bigger;
		c->in_cap = cap;
	}
	return (c->in_cap < limit ? c->in_cap : limit) - c->in_len;
}

/* The PROXY line, peeked at so that not a byte of what follows it is taken. */
static void read_proxy(struct client *c)
{
	struct front *f = c->f;
	struct guard_addr src;
	char buf[128];
	size_t used = 0;
	int known = 0, rc;
	ssize_t n = recv(c->w.fd, buf, sizeof(buf), MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	rc = n <= 0 ? WIRE_BAD : wire_proxy_parse(buf, (size_t)n, &used, &src, &known);
	if (rc == WIRE_MORE)
		return;
	if (rc == WIRE_BAD || recv(c->w.fd, buf, used, 0) != (ssize_t)used) {
		front_client_close(c);
		return;
	}
	if (known)
		c->addr = src; /* "PROXY UNKNOWN": the proxy's own address stands */
	if (guard_acquire(f->addrs, &c->addr, f->cfg.max_conn_per_client)) {
		metrics_api_slow_client(SLOW_CONN_LIMIT);
		front_client_close(c);
		return;
	}
	c->counted = 1;
	c->state = c->lst->tls ? CL_HANDSHAKE : CL_HEAD;
	client_interest(c);
}

static void handshake(struct client *c)
{
	int rc;

	c->tls_want = 0;
	rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		front_tls_principal(c->ssl, c->principal, sizeof(c->principal));
		c->state = CL_HEAD;
	} else if (tls_result(c, rc) != IO_AGAIN) {
		/* A client without a valid certificate, or no TLS at all. */
		front_client_close(c);
		return;
	}
	client_interest(c);
}

/* Drops what a closing client still sends; the end of its stream closes it. */
static void drain_linger(struct client *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = client_read(c, buf, sizeof(buf))) > 0)
		;
	if (n != IO_AGAIN)
		front_client_close(c);
}

static void client_readable(struct client *c)
{
	for (int turns = 0; turns < 16 && !c->dead; turns++) {
		size_t room;
		ssize_t n;

		if (c->state == CL_PROXY) {
			read_proxy(c);
			return;
		}
		if (c->state == CL_HANDSHAKE) {
			handshake(c);
			if (c->dead || c->state == CL_HANDSHAKE)
				return;
		}
		if (c->state == CL_LINGER) {
			drain_linger(c);
			return;
		}
		if (c->state != CL_HEAD && c->state != CL_BODY && c->state != CL_IDLE)
			return;
		room = in_room(c);
		if (!room) {
			front_client_close(c);
			return;
		}
		n = client_read(c, c->in + c->in_len, room);
		if (n == IO_AGAIN)
			break;
		if (n <= 0) {
			front_client_close(c);
			return;
		}
		c->in_len += (size_t)n;
		if (c->state == CL_IDLE) {
			/* The first byte of a new request: its headers have their own deadline. */
			c->state = CL_HEAD;
			set_timer(c, GUARD_HEADER);
		}
		if (request_progress(c))
			return;
	}
	if (!c->dead)
		client_interest(c);
}

void front_client_event(struct client *c, uint32_t events)
{
	if (c->dead)
		return;
	/* Gone both ways (or reset): it can read no answer. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		front_client_close(c);
		return;
	}
	if (c->out_off < c->out_len)
		front_client_flush(c);
	if (!c->dead && (events & (EPOLLIN | EPOLLOUT)))
		client_readable(c);
}

/* A last word for a client cut at a deadline, if its socket takes it at once. */
static void say_timeout(struct client *c, const char *why)
{
	struct strbuf msg = STRBUF_INIT;

	if (c->state != CL_HEAD && c->state != CL_BODY)
		return;
	wire_error(408, why, &msg);
	if (!msg.failed)
		(void)client_write(c, msg.buf, msg.len);
	strbuf_free(&msg);
}

void front_client_expire(struct client *c)
{
	switch (c->timer.phase) {
	case GUARD_HEADER:
		metrics_api_slow_client(SLOW_HEADER);
		say_timeout(c, "the request headers did not arrive in time"
		               " (CMDB_API_HEADER_TIMEOUT)");
		log_debug("front", "closed a client whose request headers did not arrive in time");
		break;
	case GUARD_BODY:
		metrics_api_slow_client(SLOW_BODY);
		say_timeout(c, "the request body did not arrive in time (CMDB_API_BODY_TIMEOUT)");
		log_debug("front", "closed a client whose request body did not arrive in time");
		break;
	case GUARD_SEND:
		metrics_api_slow_client(SLOW_RESPONSE);
		log_debug("front", "closed a client that did not read its answer in time");
		/* A reset: the kernel drops the megabytes it still holds for it at once. */
		setsockopt(c->w.fd, SOL_SOCKET, SO_LINGER, &(struct linger){1, 0},
		           sizeof(struct linger));
		break;
	default:
		break;
	}
	front_client_close(c);
}

/* At FRONT_CONN_MAX: the connection idle the longest makes room. 0 when one did. */
static int make_room(struct front *f)
{
	struct guard_timer *t = guard_timer_first(&f->timers, GUARD_IDLE);

	if (!t)
		return -1;
	front_client_close((struct client *)(void *)((char *)t - offsetof(struct client, timer)));
	return 0;
}

void front_client_admit(struct front *f, struct listener *l, int fd, const struct sockaddr_in *sa)
{
	struct client *c;
	int one = 1;

	if (f->nclients >= FRONT_CONN_MAX && make_room(f)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->w.kind = FD_CLIENT;
	c->w.fd = fd;
	c->w.events = UINT32_MAX;
	c->timer.phase = GUARD_NONE;
	c->f = f;
	c->lst = l;
	c->up_head = (struct strbuf)STRBUF_INIT;
	guard_addr_v4(&c->addr, sa->sin_addr.s_addr);
	c->next = f->clients;
	if (f->clients)
		f->clients->prev = c;
	f->clients = c;
	f->nclients++;
	/* The header deadline runs from here: PROXY line and TLS handshake included. */
	set_timer(c, GUARD_HEADER);
	if (l->tls && !(c->ssl = front_tls_session(l->tls, fd))) {
		front_client_close(c);
		return;
	}
	if (l->proxy) {
		c->state = CL_PROXY;
	} else if (guard_acquire(f->addrs, &c->addr, f->cfg.max_conn_per_client)) {
		metrics_api_slow_client(SLOW_CONN_LIMIT);
		front_client_close(c);
		return;
	} else {
		c->counted = 1;
		c->state = l->tls ? CL_HANDSHAKE : CL_HEAD;
	}
	client_interest(c);
}
