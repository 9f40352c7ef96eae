/*
 * cron: when something recurs, in the five fields of cron(8) with cronie's semantics, its
 * @ shortcuts, and robfig/cron's "@every <duration>" (docs/windows.md). cron.c parses
 * (pure); next.c computes fire times in an IANA time zone with cronie's daylight-saving
 * rules, through tz.h (ICU).
 */
#ifndef CMDB_CRON_H
#define CMDB_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "duration/duration.h"
#include "tz/tz.h"

#define CRON_TEXT_MAX  256 /* bytes of a spec */
#define CRON_ERR_MAX   192 /* a message always fits a buffer of this size */
#define CRON_EVERY_MAX (366 * 24 * DURATION_HOUR_MS) /* @every: 1s to 366 days */
/* 400 Gregorian years, the calendar's cycle: a walk looks no further for a fire time. */
#define CRON_HORIZON (INT64_C(146097) * 24 * DURATION_HOUR_MS)

enum cron_field { CRON_NO_FIELD = 0, CRON_MINUTE, CRON_HOUR, CRON_DOM, CRON_MONTH, CRON_DOW };

/* cronie's flags: which fields were written starting with '*' (entry.c, load_entry). */
#define CRON_MIN_STAR  0x01
#define CRON_HOUR_STAR 0x02
#define CRON_DOM_STAR  0x04
#define CRON_DOW_STAR  0x08

/*
 * A parsed spec, a plain value (nothing to free). For a calendar spec every set is
 * non-empty; bit n stands for value n: minutes 0-59, hours 0-23, doms 1-31, months 1-12,
 * dows 0-6 (0 is Sunday; cron's 7 is folded into 0). A day matches when its month is in
 * months and: with CRON_DOM_STAR or CRON_DOW_STAR set, its day is in doms AND its weekday
 * in dows; with neither, in doms OR in dows. every_ms is 0, except for @every, where it is
 * the interval and the sets are empty.
 */
struct cron {
	uint64_t minutes;
	uint32_t hours;
	uint32_t doms;
	uint16_t months;
	uint8_t dows;
	uint8_t flags;
	int64_t every_ms;
};

struct cron_error {
	enum cron_field field;  /* the field at fault; CRON_NO_FIELD: the spec as a whole */
	size_t position;        /* 1-based byte where it went wrong; 0: the spec as a whole */
	char msg[CRON_ERR_MAX]; /* "position 9 (day-of-month): 32 is out of range 1-31" */
};

/*
 * Parses text: blanks (spaces, tabs) around and between the fields, then either
 *
 * - five fields: minute (0-59), hour (0-23), day-of-month (1-31), month (1-12 or jan-dec),
 *   day-of-week (0-7, 0 and 7 Sunday, or sun-sat). A field is a comma-separated list of
 *   `*`, `*`/step, n, a-b or a-b/step; a step counts from the start of its range (1-30/5
 *   is 1,6,11,16,21,26) and need not divide it; names are case-insensitive, allowed where
 *   numbers are except in steps. As cronie: a-0 in day-of-week runs to Sunday (fri-sun).
 *   Unlike cronie, which accepts them silently: a range that runs backwards, a spec whose
 *   day-of-month and month never meet (30 feb) and cronie's random `~` are errors;
 * - @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly: cronie's fields
 *   and flags for them ("0 0 1 1 *" and so on), lowercase as in cronie;
 * - @every <duration>: duration.h's syntax, 1s to 366 days, a fixed interval (below).
 *
 * Returns 0 with *out set, CMDB_EINVAL with e filled. No allocation, no globals.
 */
int cron_parse(const char *text, struct cron *out, struct cron_error *e);

/* "minute", "hour", "day-of-month", "month", "day-of-week"; "" for CRON_NO_FIELD. */
const char *cron_field_name(enum cron_field f);

/*
 * 1 when the minute of wall time wall_ms (epoch ms of a clock read as UTC; seconds are
 * ignored) is one c names; 0 for @every, which names no wall time.
 */
int cron_match_wall(const struct cron *c, int64_t wall_ms);

/*
 * Fire times. A calendar spec fires at the wall-clock minutes it names in zone z, with
 * cronie's rules where the clock jumps (cron.c, its main loop; docs/windows.md):
 *
 * - clocks go forward (Berlin, last Sunday of March, 02:00 -> 03:00): a spec with a
 *   fixed minute and hour (neither field starting with '*') whose time was skipped fires
 *   once, at the jump (03:00 CEST); any other spec (`*` or `*`/n in the minute or hour)
 *   loses the skipped times. A jump under 5 minutes catches up every spec, one of 3 hours
 *   or more none (cronie: "small" and "large" time changes).
 * - clocks go back (Berlin, last Sunday of October, 03:00 -> 02:00): the fixed-time
 *   spec fires in the first pass only (02:30 CEST, not 02:30 CET); the others fire in
 *   both. A step back of more than 181 minutes repeats everything.
 *
 * @every d fires at anchor + k * d for every integer k: a fixed interval that ignores the
 * zone, like robfig/cron's ConstantDelaySchedule but anchored (the caller's anchor: the
 * window's or schedule's creation), so every controller computes the same instants.
 *
 * An iterator walks fire times in order; a few time zone look-ups per rule change crossed,
 * the rest is arithmetic (no minute-by-minute scan). Bound: days are visited one at a
 * time only within months the spec names, for at most CRON_HORIZON. A valid spec fires
 * at least once in any 40 years of the calendar (30 feb is refused; 29 feb on a Sunday
 * may wait 40), but daylight saving can take every time it names: `*`/4 0 2 9 `*`/7
 * (midnight of 2 September when a Sunday) in America/Santiago, whose clocks skip that
 * hour on the first Sunday from 2 September, never fires; with the same rules for 400
 * years, it never will. Measured (CPU time): about 10 us to open a zone and find a fire
 * time, 0.03 us for each next one, 0.2 ms for the 40-year wait in Europe/Berlin, 4 ms to
 * find there is none.
 */
struct cron_iter {
	const struct cron *c;
	struct tz *z;
	int64_t anchor;
	int64_t after; /* the next fire time is > after */
	/* The offset segment being walked (next.c). */
	int64_t seg_at, seg_start, seg_end, seg_off, seg_before, seg_floor;
	int seg_valid;
	int owns_zone; /* cron_iter_open's */
};

/*
 * Starts at after (the first fire time is > after; an after before TZ_TIME_MIN counts as
 * just before it) in zone z, which the caller opened and keeps open while it iterates.
 * after at most TZ_TIME_MAX; for @every, anchor within [TZ_TIME_MIN, TZ_TIME_MAX].
 */
void cron_iter_init(struct cron_iter *it, const struct cron *c, struct tz *z, int64_t anchor,
                    int64_t after);

/*
 * cron_iter_init with the zone given by name (as tz_open takes), which the iterator opens
 * and cron_iter_close closes. Checks after (at most TZ_TIME_MAX) and, for @every, anchor
 * (within [TZ_TIME_MIN, TZ_TIME_MAX]). 0; CMDB_EINVAL (unknown zone, an instant out of
 * range) with err; CMDB_ENOMEM; CMDB_ERR.
 */
int cron_iter_open(struct cron_iter *it, const struct cron *c, const char *zone, int64_t anchor,
                   int64_t after, char *err, size_t errlen);

/* Closes the zone cron_iter_open opened (nothing for cron_iter_init's). */
void cron_iter_close(struct cron_iter *it);

/* Starts again at after (the next fire time is > after), in the same zone. */
void cron_iter_seek(struct cron_iter *it, int64_t after);

/*
 * The next fire time in *out: 0; CMDB_ENOTFOUND when there is none within CRON_HORIZON or
 * before TZ_TIME_MAX; CMDB_ERR (ICU).
 */
int cron_iter_next(struct cron_iter *it, int64_t *out);

/*
 * The first n fire times after after in zone (a name, as tz_open takes), in out[];
 * *got says how many (fewer when cron_iter_next finds no more). Errors as cron_iter_open's, and
 * CMDB_ERR when ICU fails on the way.
 */
int cron_next_n(const struct cron *c, const char *zone, int64_t anchor, int64_t after, size_t n,
                int64_t *out, size_t *got, char *err, size_t errlen);

#endif
