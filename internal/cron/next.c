/*
 * next: fire times. The time line is cut where the zone's offset changes; inside a piece
 * the wall clock is the instant plus a constant, so the next matching wall minute is
 * calendar arithmetic (next_wall). At each change cronie's rules for a jump apply.
 */
#include "cron/cron.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

#define MINUTE_MS INT64_C(60000)
#define DAY_MIN   1440

/*
 * cronie's main loop (cron.c) classifies a jump of its minute clock: forward by under 5
 * minutes ("small": every job catches up), by up to 3 hours ("medium": jobs with a fixed
 * minute and hour catch up), more ("large": none); back by up to 181 minutes ("negative":
 * only wildcard jobs run again), more (everything runs again).
 */
#define JUMP_SMALL_MS  (5 * MINUTE_MS)
#define JUMP_MEDIUM_MS (180 * MINUTE_MS)
#define STEP_BACK_MS   (181 * MINUTE_MS)

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* cronie's MIN_STAR or HR_STAR: a "wildcard" job, which does not catch up or repeat. */
static int wildcard(const struct cron *c)
{
	return (c->flags & (CRON_MIN_STAR | CRON_HOUR_STAR)) != 0;
}

static int day_matches(const struct cron *c, const struct tz_civil *d)
{
	int dom = c->doms >> d->day & 1, dow = c->dows >> d->weekday & 1;

	if (!(c->months >> d->month & 1))
		return 0;
	/* cron.c, find_jobs: "the dom/dow situation is odd" */
	if (c->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		return dom && dow;
	return dom || dow;
}

int cron_match_wall(const struct cron *c, int64_t wall_ms)
{
	struct tz_civil w;

	if (c->every_ms)
		return 0;
	tz_civil_from_ms(wall_ms, &w);
	return day_matches(c, &w) && (c->hours >> w.hour & 1) && (c->minutes >> w.minute & 1);
}

/* The lowest set bit of bits at or above from (< 64), or -1. */
static int next_bit(uint64_t bits, int from)
{
	bits >>= from;
	return bits ? from + __builtin_ctzll(bits) : -1;
}

/*
 * The first wall minute in [lo, hi) that c names, in *out: 1; 0 when none. Months not
 * named are skipped whole, other days one at a time, hours and minutes by bit scans.
 */
static int next_wall(const struct cron *c, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t m = -floor_div(-lo, MINUTE_MS);
	int64_t day = floor_div(m, DAY_MIN);
	int mod = (int)(m - day * DAY_MIN);
	struct tz_civil d;

	tz_civil_from_days(day, &d);
	for (;;) {
		int h, min;

		if ((day * DAY_MIN + mod) * MINUTE_MS >= hi)
			return 0;
		if (!(c->months >> d.month & 1)) {
			day += tz_month_days(d.year, d.month) - d.day + 1;
			mod = 0;
			tz_civil_from_days(day, &d);
			continue;
		}
		h = mod < DAY_MIN && day_matches(c, &d) ? next_bit(c->hours, mod / 60) : -1;
		if (h < 0) {
			tz_civil_from_days(++day, &d);
			mod = 0;
			continue;
		}
		min = next_bit(c->minutes, h == mod / 60 ? mod % 60 : 0);
		if (min < 0) {
			mod = (h + 1) * 60;
			continue;
		}
		m = day * DAY_MIN + h * 60 + min;
		if (m * MINUTE_MS >= hi)
			return 0;
		*out = m * MINUTE_MS;
		return 1;
	}
}

void cron_iter_init(struct cron_iter *it, const struct cron *c, struct tz *z, int64_t anchor,
                    int64_t after)
{
	it->c = c;
	it->z = z;
	it->anchor = anchor;
	it->owns_zone = 0;
	cron_iter_seek(it, after);
}

void cron_iter_seek(struct cron_iter *it, int64_t after)
{
	it->after = after < TZ_TIME_MIN - 1 ? TZ_TIME_MIN - 1 : after;
	it->seg_valid = 0;
}

int cron_iter_open(struct cron_iter *it, const struct cron *c, const char *zone, int64_t anchor,
                   int64_t after, char *err, size_t errlen)
{
	struct tz *z = NULL;
	int rc;

	if (after > TZ_TIME_MAX ||
	    (c->every_ms && (anchor < TZ_TIME_MIN || anchor > TZ_TIME_MAX))) {
		if (errlen)
			snprintf(err, errlen, "instant out of range (1970 to 9999)");
		return CMDB_EINVAL;
	}
	rc = tz_open(zone, &z, err, errlen);
	if (rc)
		return rc;
	cron_iter_init(it, c, z, anchor, after);
	it->owns_zone = 1;
	return 0;
}

void cron_iter_close(struct cron_iter *it)
{
	if (it->owns_zone)
		tz_free(it->z);
	it->z = NULL;
	it->owns_zone = 0;
}

/*
 * Loads the piece of constant offset that holds instant at: its offset, where it starts
 * and ends, the offset before its start, and for a job that does not repeat, the wall
 * time before which it does not fire (the first pass of a step back by at most
 * STEP_BACK_MS had those minutes).
 */
static int load_segment(struct cron_iter *it, int64_t at)
{
	int rc;

	it->seg_valid = 0;
	it->seg_at = at;
	if (tz_offset(it->z, at, &it->seg_off))
		return CMDB_ERR;
	rc = tz_next_transition(it->z, at, &it->seg_end);
	if (rc < 0)
		return CMDB_ERR;
	if (rc == 0 || it->seg_end > TZ_TIME_MAX)
		it->seg_end = TZ_TIME_MAX + 1;
	rc = tz_prev_transition(it->z, at, &it->seg_start);
	if (rc < 0 || (rc == 1 && tz_offset(it->z, it->seg_start - 1, &it->seg_before)))
		return CMDB_ERR;
	if (rc == 0) {
		it->seg_start = INT64_MIN;
		it->seg_before = it->seg_off;
	}
	it->seg_floor = INT64_MIN;
	if (!wildcard(it->c) && it->seg_before > it->seg_off &&
	    it->seg_before - it->seg_off <= STEP_BACK_MS)
		it->seg_floor = it->seg_start + it->seg_before;
	it->seg_valid = 1;
	return 0;
}

/*
 * 1 when c fires at the start of the loaded piece for the wall minutes the jump into it
 * skipped, [start + before, start + offset).
 */
static int catches_up(const struct cron_iter *it)
{
	int64_t jump = it->seg_off - it->seg_before, w;

	if (jump <= 0 || jump >= JUMP_MEDIUM_MS || (jump >= JUMP_SMALL_MS && wildcard(it->c)))
		return 0;
	return next_wall(it->c, it->seg_start + it->seg_before, it->seg_start + it->seg_off, &w);
}

static int every_next(struct cron_iter *it, int64_t *out)
{
	int64_t every = it->c->every_ms;
	int64_t k = floor_div(it->after - it->anchor, every) + 1;
	int64_t fire = it->anchor + k * every;

	if (fire > TZ_TIME_MAX)
		return CMDB_ENOTFOUND;
	it->after = fire;
	*out = fire;
	return 0;
}

int cron_iter_next(struct cron_iter *it, int64_t *out)
{
	const struct cron *c = it->c;
	int64_t at = it->after + 1, horizon = TZ_TIME_MAX, fire, w;

	if (c->every_ms)
		return every_next(it, out);
	if (it->after < TZ_TIME_MAX - CRON_HORIZON)
		horizon = it->after + CRON_HORIZON;
	if (at > horizon)
		return CMDB_ENOTFOUND;
	if ((!it->seg_valid || at < it->seg_at || at >= it->seg_end) && load_segment(it, at))
		return CMDB_ERR;
	for (;;) {
		int64_t lo = at + it->seg_off;
		int64_t end = it->seg_end <= horizon ? it->seg_end : horizon + 1;

		if (at == it->seg_start && catches_up(it)) {
			fire = at;
			break;
		}
		if (lo < it->seg_floor)
			lo = it->seg_floor;
		if (next_wall(c, lo, end + it->seg_off, &w)) {
			fire = w - it->seg_off;
			break;
		}
		if (it->seg_end > horizon)
			return CMDB_ENOTFOUND;
		at = it->seg_end;
		if (load_segment(it, at))
			return CMDB_ERR;
	}
	it->after = fire;
	*out = fire;
	return 0;
}

int cron_next_n(const struct cron *c, const char *zone, int64_t anchor, int64_t after, size_t n,
                int64_t *out, size_t *got, char *err, size_t errlen)
{
	struct cron_iter it;
	int rc;

	*got = 0;
	rc = cron_iter_open(&it, c, zone, anchor, after, err, errlen);
	if (rc)
		return rc;
	while (*got < n && (rc = cron_iter_next(&it, &out[*got])) == 0)
		(*got)++;
	cron_iter_close(&it);
	if (rc == CMDB_ENOTFOUND)
		return 0;
	if (rc && errlen)
		snprintf(err, errlen, "time zone \"%s\": ICU failed", zone);
	return rc;
}
