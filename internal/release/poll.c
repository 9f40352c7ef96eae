/*
 * poll: the poll schedule shared by the runner and the benchmark's floor driver.
 */
#include "release/poll.h"

int release_poll_learn(struct poll_estimate *e, int64_t duration_ms)
{
	int shorter;

	if (duration_ms < 0)
		return 0;
	shorter = !e->ended || duration_ms < e->shortest_ms;
	if (shorter)
		e->shortest_ms = duration_ms;
	e->ended++;
	return shorter;
}

/*
 * A first poll's offset for a task when nothing is learned yet: one of POLL_PHASES steps
 * of min_ms / POLL_PHASES, picked by a hash of salt. The tasks of a batch then reach
 * their ends at different points of the min_ms grid, so the earliest noticed end is
 * within one step of the shortest apply instead of up to min_ms after it.
 */
static int64_t phase_ms(uint64_t salt, int min_ms)
{
	uint64_t h = salt * 0x9E3779B97F4A7C15ULL;

	return (int64_t)((h >> 32) % POLL_PHASES) * min_ms / POLL_PHASES;
}

int64_t release_poll_margin_ms(int64_t shortest_ms)
{
	int64_t m = shortest_ms / 20;

	return m < POLL_MARGIN_MIN_MS ? POLL_MARGIN_MIN_MS : m;
}

int release_poll_delay_ms(int64_t elapsed_ms, const struct poll_estimate *e, int min_ms, int max_ms,
                          uint64_t salt)
{
	int64_t d = elapsed_ms / 10;

	if (d < min_ms)
		d = min_ms;
	if (e && e->ended) {
		/*
		 * Not before the shortest apply and a margin: nobody has been quicker, and the
		 * margin covers the jitter between agents that take the same time. But the wait
		 * is taken in equal steps of about POLL_KEEPALIVE_MS (the wait over it, rounded,
		 * so at most one and a half times it), so that the node's connection is still
		 * open when the answer is due and the last step lands on that point; those polls
		 * also notice an apply that ends sooner.
		 */
		int64_t first =
		    e->shortest_ms + release_poll_margin_ms(e->shortest_ms) - elapsed_ms;

		if (first > POLL_KEEPALIVE_MS) {
			int64_t steps = (first + POLL_KEEPALIVE_MS / 2) / POLL_KEEPALIVE_MS;

			first = (first + steps - 1) / steps;
		}
		if (first > d)
			d = first;
	} else if (elapsed_ms < min_ms) {
		d += phase_ms(salt, min_ms);
	}
	if (d > max_ms)
		d = max_ms;
	return (int)d;
}

int64_t release_poll_ahead_at(const struct poll_estimate *e, int64_t last_dispatch_ms)
{
	if (!e || !e->ended || e->shortest_ms <= POLL_AHEAD_MS)
		return last_dispatch_ms;
	return last_dispatch_ms + e->shortest_ms - POLL_AHEAD_MS;
}
