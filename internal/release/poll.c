/*
 * poll: the poll schedule shared by the runner and the benchmark's floor driver.
 */
#include "release/poll.h"

void release_poll_learn(struct poll_estimate *e, int64_t duration_ms)
{
	if (duration_ms < 0)
		return;
	if (!e->ended || duration_ms < e->shortest_ms)
		e->shortest_ms = duration_ms;
	e->ended++;
}

int release_poll_delay_ms(int64_t elapsed_ms, const struct poll_estimate *e, int min_ms, int max_ms)
{
	int64_t d = elapsed_ms / 10;

	if (d < min_ms)
		d = min_ms;
	if (e && e->ended) {
		/*
		 * Not before 90% of the shortest apply: nobody has been quicker. But the wait
		 * is taken in steps of at most POLL_KEEPALIVE_MS, so that the node's connection
		 * is still open when the answer is due.
		 */
		int64_t first = e->shortest_ms * 9 / 10 - elapsed_ms;

		if (first > POLL_KEEPALIVE_MS)
			first = POLL_KEEPALIVE_MS;
		if (first > d)
			d = first;
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
