/*
 * cronie_loop: cronie's main loop (src/cron.c, main and find_jobs) replayed minute by
 * minute, the oracle that tests/unit/test_cron.c and tests/fuzz/fuzz_cron.c hold
 * internal/cron's fire times to. Header-only, for tests.
 */
#ifndef CMDB_TESTS_CRONIE_LOOP_H
#define CMDB_TESTS_CRONIE_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "cron/cron.h"

#define CRONIE_MINUTE_MS INT64_C(60000)

/*
 * The minute clock is local time: clock[i] is the local minute number (wall ms / 60000)
 * at instant start + i minutes. A step of 1 runs every job for the new minute. A jump
 * forward of 2 to 5 runs every job for each minute passed; of 6 to 180 the wildcard jobs
 * for the new minute and the fixed-time ones for each minute passed; more, every job for
 * the new minute only. A step back runs the wildcard jobs for the new minute and keeps the
 * virtual clock until the real one catches up, unless it is more than 180 minutes.
 * Writes the instants where c runs that are after from, at most max, and returns how many.
 */
static inline size_t cronie_loop(const struct cron *c, const int64_t *clock, size_t n,
                                 int64_t start, int64_t from, int64_t *out, size_t max)
{
	int wild = (c->flags & (CRON_MIN_STAR | CRON_HOUR_STAR)) != 0;
	int64_t virt = clock[0];
	size_t nout = 0;

	for (size_t i = 1; i < n; i++) {
		int64_t diff = clock[i] - virt, now = start + (int64_t)i * CRONIE_MINUTE_MS;
		int run = 0;

		if (diff == 1 || diff > 180 || diff < -180) {
			virt = clock[i];
			run = cron_match_wall(c, virt * CRONIE_MINUTE_MS);
		} else if (diff > 0) {
			run = diff > 5 && wild && cron_match_wall(c, clock[i] * CRONIE_MINUTE_MS);
			for (virt++; virt <= clock[i]; virt++)
				run |= (diff <= 5 || !wild) &&
				       cron_match_wall(c, virt * CRONIE_MINUTE_MS);
			virt = clock[i];
		} else {
			run = wild && cron_match_wall(c, clock[i] * CRONIE_MINUTE_MS);
		}
		if (run && now > from && nout < max)
			out[nout++] = now;
	}
	return nout;
}

/*
 * Fills clock[0..n) for zone z from instant start (a whole minute): 0, or -1 when ICU
 * fails.
 */
static inline int cronie_clock(struct tz *z, int64_t start, size_t n, int64_t *clock)
{
	int64_t off;

	for (size_t i = 0; i < n; i++) {
		int64_t t = start + (int64_t)i * CRONIE_MINUTE_MS;

		if (tz_offset(z, t, &off))
			return -1;
		/* Floor division: the wall clock may read before 1970. */
		clock[i] = (t + off) / CRONIE_MINUTE_MS - ((t + off) % CRONIE_MINUTE_MS < 0);
	}
	return 0;
}

#endif
