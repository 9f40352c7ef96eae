/*
 * slowclient: the clients of tests/integration/test_slow_clients.sh and of `make bench`'s
 * slow-clients section, over plain HTTP on loopback. `hostile` keeps connections that
 * starve a thread-per-connection server; `probe` is the well-behaved client that times it.
 *   slowclient hostile --to IP:PORT --from IP --addresses N --per-address K --seconds S
 *                      [--mode mix|half|trickle|idle|body|mute|slowread] [--reopen 1|0]
 *                      [--trickle-s T] [--path P]
 *     N*K connections from N consecutive source addresses starting at --from. mix: a
 *     third half-open after the request line (half), a third sending one header line
 *     every T s (5) and never ending the headers (trickle), a third idle after one
 *     complete request (idle: keep-alive). body: a POST whose body never comes; mute:
 *     nothing at all; slowread: a GET whose answer it never reads, with a 4 KiB receive
 *     buffer (a server's close cannot be seen behind the unread answer: it counts as
 *     open). Each is opened again as soon as the server closes it (--reopen 0: not).
 *     Stops after S s and prints "hostile opened=.. closed_by_server=.. half=..
 *     trickle=.. idle=.. body=.. mute=.. connect_failed=.. open=.." (open: at the end).
 *   slowclient probe --to IP:PORT --from IP --count C [--timeout-s T] [--interval-ms I]
 *                    --path P [--path P2]
 *     For each path, C requests one after the other (I ms apart), each on a new
 *     connection, and prints "probe PATH n=.. ok=.. p50_ms=.. p99_ms=.. max_ms=..
 *     failed=..": ok is a 200 within T s (10); p99 counts a failure as T s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATHS_MAX 8

enum mode { HALF = 0, TRICKLE, IDLE, BODY, MUTE, SLOWREAD, NMODES, MIX = NMODES };

static const char *const mode_names[] = {"half", "trickle",  "idle", "body",
                                         "mute", "slowread", "mix"};

struct opts {
	struct sockaddr_in to;
	struct in_addr from;
	int addresses, per_address, seconds, trickle_s, count, timeout_s, interval_ms, reopen;
	enum mode mode;
	const char *paths[PATHS_MAX];
	int npaths;
};

struct slot {
	int fd;
	enum mode mode;
	struct in_addr src;
	int64_t next_ms; /* trickle: the next header line; a failed connect: the retry */
	int sent;        /* the request (or its first line) went out */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	int port;

	if (!colon || (size_t)(colon - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1 || parse_int(colon + 1, 1, 65535, &port))
		return -1;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int parse_mode(const char *v, enum mode *m)
{
	for (int i = 0; i <= MIX; i++)
		if (strcmp(v, mode_names[i]) == 0) {
			*m = (enum mode)i;
			return 0;
		}
	return -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	o->trickle_s = 5;
	o->timeout_s = 10;
	o->reopen = 1;
	o->mode = MIX;
	o->addresses = o->per_address = 1;
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = !v;

		if (bad)
			;
		else if (strcmp(k, "--to") == 0)
			bad = parse_addr(v, &o->to);
		else if (strcmp(k, "--from") == 0)
			bad = inet_pton(AF_INET, v, &o->from) != 1;
		else if (strcmp(k, "--addresses") == 0)
			bad = parse_int(v, 1, 250, &o->addresses);
		else if (strcmp(k, "--per-address") == 0)
			bad = parse_int(v, 1, 10000, &o->per_address);
		else if (strcmp(k, "--seconds") == 0)
			bad = parse_int(v, 1, 86400, &o->seconds);
		else if (strcmp(k, "--trickle-s") == 0)
			bad = parse_int(v, 1, 3600, &o->trickle_s);
		else if (strcmp(k, "--count") == 0)
			bad = parse_int(v, 1, 100000, &o->count);
		else if (strcmp(k, "--timeout-s") == 0)
			bad = parse_int(v, 1, 3600, &o->timeout_s);
		else if (strcmp(k, "--interval-ms") == 0)
			bad = parse_int(v, 0, 600000, &o->interval_ms);
		else if (strcmp(k, "--reopen") == 0)
			bad = parse_int(v, 0, 1, &o->reopen);
		else if (strcmp(k, "--mode") == 0)
			bad = parse_mode(v, &o->mode);
		else if (strcmp(k, "--path") == 0 && o->npaths < PATHS_MAX && v[0] == '/')
			o->paths[o->npaths++] = v;
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "slowclient: bad option %s %s\n", k, v ? v : "");
			return -1;
		}
	}
	if (!o->to.sin_port || !o->from.s_addr) {
		fprintf(stderr, "slowclient: --to and --from are required\n");
		return -1;
	}
	if (!o->npaths)
		o->paths[o->npaths++] = "/api/v1/nodes";
	return 0;
}

/* A non-blocking socket from src to o->to, connecting; -1 when even that fails. */
static int open_from(const struct opts *o, struct in_addr src, int nonblock)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = src};
	int one = 1, small = 4096,
	    fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Before connect: the window the server sees stays small. */
	if (o->mode == SLOWREAD)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    (connect(fd, (const struct sockaddr *)&o->to, sizeof(o->to)) != 0 &&
	     errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when the socket's connect failed (refused, unreachable), not when it was closed. */
static int connect_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return 1;
	return err == ECONNREFUSED || err == ETIMEDOUT || err == EHOSTUNREACH || err == ENETUNREACH;
}

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void slot_open(const struct opts *o, int ep, struct slot *s, int64_t now, long *opened,
                      long *failed)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = s};

	s->sent = 0;
	s->fd = open_from(o, s->src, 1);
	if (s->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->next_ms = now + 10;
		(*failed)++;
		return;
	}
	(*opened)++;
	s->next_ms = 0;
}

/* The connection is up: send what its mode sends first. */
static void slot_start(const struct opts *o, int ep, struct slot *s, int64_t now)
{
	char req[512];
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = s};

	if (s->mode == IDLE || s->mode == SLOWREAD)
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: cmdb\r\n\r\n", o->paths[0]);
	else if (s->mode == BODY)
		snprintf(req, sizeof(req),
		         "POST %s HTTP/1.1\r\nHost: cmdb\r\nContent-Type: application/json\r\n"
		         "Content-Length: 100\r\n\r\n{\"hostname\":",
		         o->paths[0]);
	else if (s->mode == MUTE)
		req[0] = '\0';
	else
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n", o->paths[0]);
	send_all(s->fd, req);
	s->sent = 1;
	s->next_ms = s->mode == TRICKLE ? now + o->trickle_s * 1000LL : 0;
	if (s->mode == SLOWREAD)
		ev.events = 0; /* the answer is never read */
	epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static int cmd_hostile(const struct opts *o)
{
	int n = o->addresses * o->per_address, ep = epoll_create1(0);
	struct slot *slots = calloc((size_t)n, sizeof(*slots));
	struct epoll_event evs[256];
	long opened = 0, failed = 0, closed[NMODES] = {0}, open = 0;
	int64_t end = now_ms() + o->seconds * 1000LL;
	char buf[4096];

	if (!slots || ep < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		slots[i].mode = o->mode == MIX ? (enum mode)(i % 3) : o->mode;
		slots[i].src.s_addr = htonl(ntohl(o->from.s_addr) + (uint32_t)(i % o->addresses));
		slot_open(o, ep, &slots[i], now_ms(), &opened, &failed);
	}
	for (int64_t now = now_ms(); now < end; now = now_ms()) {
		int64_t wake = end;
		int k;

		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[i];

			if (s->fd < 0 && s->next_ms && s->next_ms <= now)
				slot_open(o, ep, s, now, &opened, &failed);
			else if (s->fd >= 0 && s->sent && s->next_ms && s->next_ms <= now) {
				send_all(s->fd, "X-Trickle: 1\r\n");
				s->next_ms = now + o->trickle_s * 1000LL;
			}
			if (s->next_ms && s->next_ms < wake)
				wake = s->next_ms;
		}
		k = epoll_wait(ep, evs, 256, (int)(wake > now ? wake - now : 0));
		for (int i = 0; i < k; i++) {
			struct slot *s = evs[i].data.ptr;
			int gone = (evs[i].events & (EPOLLERR | EPOLLHUP)) != 0;

			if (!gone && (evs[i].events & EPOLLIN)) {
				ssize_t r = recv(s->fd, buf, sizeof(buf), 0);

				gone = r == 0 || (r < 0 && errno != EAGAIN);
			}
			if (gone) {
				/* Accepted and then closed, or never connected at all? */
				int refused = !s->sent && connect_error(s->fd);

				if (refused)
					failed++;
				else
					closed[s->mode]++;
				close(s->fd);
				s->fd = -1;
				/* Again at once (a refused connect after 10 ms), or never. */
				s->next_ms = !o->reopen ? 0 : refused ? now_ms() + 10 : now_ms();
			} else if (!s->sent && (evs[i].events & EPOLLOUT)) {
				slot_start(o, ep, s, now_ms());
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (slots[i].fd >= 0) {
			open++;
			close(slots[i].fd);
		}
	printf("hostile opened=%ld closed_by_server=%ld half=%ld trickle=%ld idle=%ld body=%ld"
	       " mute=%ld connect_failed=%ld open=%ld\n",
	       opened, closed[HALF] + closed[TRICKLE] + closed[IDLE] + closed[BODY] + closed[MUTE],
	       closed[HALF], closed[TRICKLE], closed[IDLE], closed[BODY], closed[MUTE], failed,
	       open);
	free(slots);
	close(ep);
	return 0;
}

/* One GET on a new connection; its status, or 0 when it failed or took too long. */
static int probe_once(const struct opts *o, const char *path, int64_t *us)
{
	char req[512], buf[16384];
	int64_t start = now_us(), deadline = start + o->timeout_s * 1000000LL;
	size_t got = 0;
	int status = 0, fd = open_from(o, o->from, 1);
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: cmdb\r\nConnection: close\r\n\r\n",
	         path);
	if (fd < 0)
		goto out;
	if (poll(&p, 1, o->timeout_s * 1000) != 1 || (p.revents & (POLLERR | POLLHUP)))
		goto out;
	send_all(fd, req);
	p.events = POLLIN;
	for (;;) {
		int64_t left = deadline - now_us();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) != 1)
			goto out;
		r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(buf) - 1)
			got = 16; /* keep the status line, drop the rest of a long body */
	}
	buf[got] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) == 0 && got > 12)
		status = (int)strtol(buf + 9, NULL, 10);
out:
	*us = now_us() - start;
	if (fd >= 0)
		close(fd);
	return status;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_probe(const struct opts *o)
{
	int64_t *lat = calloc((size_t)o->count, sizeof(*lat));

	if (!lat)
		return 1;
	for (int p = 0; p < o->npaths; p++) {
		int ok = 0;

		for (int i = 0; i < o->count; i++) {
			if (i && o->interval_ms)
				usleep((useconds_t)o->interval_ms * 1000);
			if (probe_once(o, o->paths[p], &lat[i]) == 200)
				ok++;
			else
				lat[i] = o->timeout_s * 1000000LL;
		}
		qsort(lat, (size_t)o->count, sizeof(*lat), cmp64);
		printf("probe %s n=%d ok=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f failed=%d\n",
		       o->paths[p], o->count, ok, lat[o->count / 2] / 1000.0,
		       lat[(o->count * 99 + 99) / 100 - 1] / 1000.0, lat[o->count - 1] / 1000.0,
		       o->count - ok);
		fflush(stdout);
	}
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct rlimit rl;

	if (argc < 2 || parse_opts(argc, argv, &o)) {
		fprintf(stderr, "usage: slowclient hostile|probe --to IP:PORT --from IP ...\n");
		return 2;
	}
	/* Thousands of connections need as many descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strcmp(argv[1], "hostile") == 0 && o.seconds)
		return cmd_hostile(&o);
	if (strcmp(argv[1], "probe") == 0 && o.count)
		return cmd_probe(&o);
	fprintf(stderr, "slowclient: hostile needs --seconds, probe needs --count\n");
	return 2;
}
