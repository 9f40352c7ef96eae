/*
 * schedule: what a recurring release owes after time passed: the fire times between the
 * stored cursor (the last fire time handled) and now, late ones treated by the schedule's
 * catch-up policy, and the preview of the next fire times (docs/windows.md). Pure but for
 * the time zone look-ups of cron.h.
 */
#ifndef CMDB_SCHEDULE_H
#define CMDB_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "cron/cron.h"

#define SCHEDULE_REPLAY_MAX 1000   /* replay_limit's maximum, and replay_all's bound */
#define SCHEDULE_RUN_MAX    1000   /* fire times one call hands back */
#define SCHEDULE_COUNT_MAX  100000 /* missed fire times counted one by one */
#define SCHEDULE_PREVIEW    5      /* fire times the API shows: cron_next_n */
#define SCHEDULE_GRACE_MAX  (3600 * INT64_C(1000)) /* the longest grace_ms */
#define SCHEDULE_ERR_MAX    TZ_ERR_MAX

enum schedule_catch_up { SCHEDULE_SKIP = 0, SCHEDULE_REPLAY_LIMITED, SCHEDULE_REPLAY_ALL };

/* "skip", "replay_limited", "replay_all"; the parse function returns -1 for another name. */
const char *schedule_catch_up_name(enum schedule_catch_up p);
int schedule_catch_up_parse(const char *name);

/*
 * The fire times due at now: those in (cursor, now]. A due fire time is on time when
 * now - fire <= grace_ms (the caller's polling slack, at most
 * SCHEDULE_GRACE_MAX); older ones were missed, and the
 * policy says which of those still run:
 * - skip: none;
 * - replay_limited: the most recent replay_limit (1 to SCHEDULE_REPLAY_MAX);
 * - replay_all: all of them, up to the most recent SCHEDULE_REPLAY_MAX.
 *
 * run lists what to create releases for, oldest first: the replayed missed ones (the
 * first `replayed`), then the on-time ones, at most SCHEDULE_RUN_MAX (the most recent).
 * Everything not in run is dropped and counted. Every dropped fire time is older than
 * every one in run, so a caller that works through run one at a time may store each as
 * the cursor once handled and call again: the answer stays consistent. `cursor` is the
 * latest due fire time (the old cursor when none is due): the cursor once run is handled.
 *
 * missed counts the missed fire times exactly up to SCHEDULE_COUNT_MAX (for @every
 * always exactly); beyond, missed_more is set and missed is a lower bound, as is dropped.
 * A cursor at or after now owes nothing. A new schedule's cursor is its creation time.
 */
struct schedule_due {
	int64_t *run; /* owned: schedule_due_release */
	size_t nrun;
	size_t replayed;
	int64_t missed;
	int missed_more;
	int64_t dropped;
	int64_t cursor;
};

#define SCHEDULE_DUE_INIT                                                                          \
	{                                                                                          \
		NULL, 0, 0, 0, 0, 0, 0                                                             \
	}

/*
 * Fills *out (SCHEDULE_DUE_INIT) for spec c in zone at now. anchor is @every's (the
 * schedule's creation). cursor and now in [TZ_TIME_MIN, TZ_TIME_MAX]. 0; CMDB_EINVAL
 * (unknown zone, bad limit, an instant out of range) with err; CMDB_ENOMEM; CMDB_ERR.
 */
int schedule_due(const struct cron *c, const char *zone, int64_t anchor, int64_t cursor,
                 int64_t now, int64_t grace_ms, enum schedule_catch_up policy, int replay_limit,
                 struct schedule_due *out, char *err, size_t errlen);

void schedule_due_release(struct schedule_due *d);

#endif
