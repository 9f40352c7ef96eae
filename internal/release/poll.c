/*
 * poll: the poll schedule shared by the runner and the benchmark's floor driver.
 */
#include "release/poll.h"

int release_poll_delay_ms(int64_t elapsed_ms, int min_ms, int max_ms)
{
	int64_t d = elapsed_ms / 10;

	if (d < min_ms)
		d = min_ms;
	if (d > max_ms)
		d = max_ms;
	return (int)d;
}
