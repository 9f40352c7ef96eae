/*
 * poll: when to ask an agent again about a task. Without knowledge the delay grows with
 * the task's age (a tenth of the time since dispatch), between a floor and a ceiling, so
 * that the time between an agent finishing and us noticing stays under the floor or
 * about 10% of the apply time. The nodes of one release apply the same configuration,
 * so once some have finished, the shortest apply seen so far says when the next one
 * will: a task is first asked about at that point plus a small margin, so that one poll
 * usually finds it done and notices it within the margin. The benchmark's floor driver
 * uses the same code.
 *
 * What is learned is when an end was noticed, not when it happened: noticed on a grid of
 * min_ms steps it would be up to min_ms late, and every later batch would wait for that
 * too. So the first polls of the tasks that run before anything is learned are spread
 * over the grid (POLL_PHASES), and the earliest noticed end is close to the real one.
 *
 * The wait is cut into equal steps of about POLL_KEEPALIVE_MS: an agent closes a
 * connection idle for longer than its keep-alive (civetweb's default is 500 ms), and a
 * poll that finds its connection closed pays a new mutual-TLS handshake on both sides,
 * several times what the polls that kept it open cost. Measured on 20 releases of 100 nodes with 1
 * s applies (docs/performance.md): waiting the whole wait in one step made 1.75 connections per
 * node instead of 1.0, 28% more controller CPU and the set 30% slower.
 */
#ifndef CMDB_POLL_H
#define CMDB_POLL_H

#include <stdint.h>

/*
 * The step in which a learned wait leaves a node's connection idle, in ms; a step is at
 * most one and a half times this, under the 500 ms of civetweb's keep-alive.
 */
#define POLL_KEEPALIVE_MS 250

/* The steps over which first polls are spread while nothing is learned (see above). */
#define POLL_PHASES 10

/* The least margin after the shortest apply before a first poll, in ms; else 5% of it. */
#define POLL_MARGIN_MIN_MS 10

/*
 * The next batch's connections are opened at most this long before the current batch is
 * expected to end (its last dispatch plus the shortest apply seen). A connection that
 * has carried no request yet waits for its first one under the agent's request timeout
 * (civetweb's request_timeout_ms, 30 s by default), not under the keep-alive between
 * requests (500 ms), so it may be opened well ahead; an agent that closes it anyway
 * costs the batch that handshake again (cmdb_agent_connections_ahead_unused_total counts
 * those). 400 ms, under the keep-alive, left a batch of 500 half opened ahead: 10,000
 * nodes took the floor 36.5 s, against 31.5 s with this.
 */
#define POLL_AHEAD_MS 1500

/* What a release has learned about its applies; zero-initialised means nothing yet. */
struct poll_estimate {
	int64_t shortest_ms; /* the shortest dispatch-to-end seen; 0: none yet */
	int64_t ended;       /* tasks seen ending */
};

/*
 * Records a task that ended duration_ms after its dispatch. Returns 1 when that is the
 * first end or a shorter one (the polls planned before may come too late), else 0.
 */
int release_poll_learn(struct poll_estimate *e, int64_t duration_ms);

/* The margin a first poll leaves after the shortest apply seen: 5%, at least 10 ms. */
int64_t release_poll_margin_ms(int64_t shortest_ms);

/*
 * Delay before the next poll of a task dispatched elapsed_ms ago: the age-based delay in
 * [min_ms, max_ms], or longer (by at most POLL_KEEPALIVE_MS) while the task is younger
 * than the shortest apply seen (e may be NULL) and its margin, but never past that point
 * or max_ms. While nothing is learned, a first poll (elapsed_ms < min_ms) comes up to
 * min_ms later by one of POLL_PHASES steps chosen by salt (the node, say).
 */
int release_poll_delay_ms(int64_t elapsed_ms, const struct poll_estimate *e, int min_ms, int max_ms,
                          uint64_t salt);

/*
 * When (monotonic ms) the connections of the next batch may be opened, given the
 * monotonic ms of the current batch's last dispatch: POLL_AHEAD_MS before its expected
 * end, or at once while no apply has ended yet.
 */
int64_t release_poll_ahead_at(const struct poll_estimate *e, int64_t last_dispatch_ms);

#endif
