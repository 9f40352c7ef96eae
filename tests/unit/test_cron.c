/*
 * Unit tests of cron: the parser against cronie's grammar (every field, name form, step
 * and refusal), fire times in UTC and in zones with daylight saving, and, as an oracle,
 * cronie's own main loop replayed minute by minute over the same instants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/instants.h"

#include "core/core.h"
#include "cron/cron.h"
#include "tests/tools/cronie_loop.h"

#define N(a)      (sizeof(a) / sizeof((a)[0]))
#define MIN_MS    INT64_C(60000)
#define HOUR_MS   (60 * MIN_MS)
#define DAY_MS    (24 * HOUR_MS)
#define BIT(n)    (UINT64_C(1) << (n))
#define MAX_FIRES 8192

/* ms as "2025-03-30T01:00:00Z", for messages. */
static const char *iso(int64_t ms, char *buf, size_t len)
{
	struct tz_civil c;

	tz_civil_from_ms(ms, &c);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
	         c.minute, c.second);
	return buf;
}

/* Bits from a list of values ended by -1. */
static uint64_t bits(int first, ...)
{
	uint64_t b = 0;
	va_list ap;

	va_start(ap, first);
	for (int v = first; v >= 0; v = va_arg(ap, int))
		b |= BIT(v);
	va_end(ap);
	return b;
}

static uint64_t range(int lo, int hi)
{
	uint64_t b = 0;

	for (int v = lo; v <= hi; v++)
		b |= BIT(v);
	return b;
}

static void expect_sets(const char *text, uint64_t min, uint64_t hour, uint64_t dom, uint64_t month,
                        uint64_t dow, unsigned flags)
{
	struct cron c = parse(text);

	if (c.minutes != min || c.hours != hour || c.doms != dom || c.months != month ||
	    c.dows != dow || c.flags != flags || c.every_ms)
		fail_msg("\"%s\": %llx %llx %llx %llx %llx flags %x", text,
		         (unsigned long long)c.minutes, (unsigned long long)c.hours,
		         (unsigned long long)c.doms, (unsigned long long)c.months,
		         (unsigned long long)c.dows, c.flags);
}

#define ALL_MIN   range(0, 59)
#define ALL_HOUR  range(0, 23)
#define ALL_DOM   range(1, 31)
#define ALL_MONTH range(1, 12)
#define ALL_DOW   range(0, 6)
#define STARS     (CRON_MIN_STAR | CRON_HOUR_STAR | CRON_DOM_STAR | CRON_DOW_STAR)

static void test_parse_fields(void **state)
{
	(void)state;
	expect_sets("* * * * *", ALL_MIN, ALL_HOUR, ALL_DOM, ALL_MONTH, ALL_DOW, STARS);
	expect_sets("*/15 * * * *", bits(0, 15, 30, 45, -1), ALL_HOUR, ALL_DOM, ALL_MONTH, ALL_DOW,
	            STARS);
	/* Steps count from the start of the range and need not divide it. */
	expect_sets("1-30/5 0 1 1 0", bits(1, 6, 11, 16, 21, 26, -1), BIT(0), BIT(1), BIT(1),
	            BIT(0), 0);
	expect_sets("*/7 */5 */10 */5 */3", bits(0, 7, 14, 21, 28, 35, 42, 49, 56, -1),
	            bits(0, 5, 10, 15, 20, -1), bits(1, 11, 21, 31, -1), bits(1, 6, 11, -1),
	            bits(0, 3, 6, -1), STARS);
	/* A step larger than its range keeps the start (cronie warns, and accepts). */
	expect_sets("*/90 5-10/60 * * *", BIT(0), BIT(5), ALL_DOM, ALL_MONTH, ALL_DOW,
	            CRON_MIN_STAR | CRON_DOM_STAR | CRON_DOW_STAR);
	expect_sets("0,30 8-17 1,15,31 * *", bits(0, 30, -1), range(8, 17), bits(1, 15, 31, -1),
	            ALL_MONTH, ALL_DOW, CRON_DOW_STAR);
	/* '*' inside a list: the flag follows the first character only, as in cronie. */
	expect_sets("5,* 1 *,3 * 1,*", ALL_MIN, BIT(1), ALL_DOM, ALL_MONTH, ALL_DOW, CRON_DOM_STAR);
	/* Leading zeros, tabs and blanks around the fields. */
	expect_sets(" \t05\t\t007  *  * *\t", BIT(5), BIT(7), ALL_DOM, ALL_MONTH, ALL_DOW,
	            CRON_DOM_STAR | CRON_DOW_STAR);
	expect_sets("59 23 31 12 7", BIT(59), BIT(23), BIT(31), BIT(12), BIT(0), 0);
}

/* Every month and day name, in every case; 0 and 7 both Sunday; a-0 runs to Sunday. */
static void test_parse_names(void **state)
{
	static const char *const months[] = {"jan", "FEB", "Mar", "aPr", "may", "jun",
	                                     "jul", "aug", "sep", "oct", "nov", "dEC"};
	static const char *const days[] = {"sun", "MON", "Tue", "wed", "thu", "fri", "SAT"};
	char text[64];

	(void)state;
	for (int m = 0; m < 12; m++) {
		snprintf(text, sizeof(text), "0 0 1 %s *", months[m]);
		expect_sets(text, BIT(0), BIT(0), BIT(1), BIT(m + 1), ALL_DOW, CRON_DOW_STAR);
	}
	for (int d = 0; d < 7; d++) {
		snprintf(text, sizeof(text), "0 0 * * %s", days[d]);
		expect_sets(text, BIT(0), BIT(0), ALL_DOM, ALL_MONTH, BIT(d), CRON_DOM_STAR);
		snprintf(text, sizeof(text), "0 0 * * %d", d);
		expect_sets(text, BIT(0), BIT(0), ALL_DOM, ALL_MONTH, BIT(d), CRON_DOM_STAR);
	}
	expect_sets("0 0 * * 7", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, BIT(0), CRON_DOM_STAR);
	expect_sets("0 0 * * 0,7", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, BIT(0), CRON_DOM_STAR);
	expect_sets("0 0 * * 5-7", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, bits(0, 5, 6, -1),
	            CRON_DOM_STAR);
	expect_sets("0 0 * * fri-sun", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, bits(0, 5, 6, -1),
	            CRON_DOM_STAR);
	expect_sets("0 0 * * 6-0", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, bits(0, 6, -1),
	            CRON_DOM_STAR);
	expect_sets("0 0 * * mon-fri", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, range(1, 5),
	            CRON_DOM_STAR);
	expect_sets("0 0 * * sun-sat/2", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, bits(0, 2, 4, 6, -1),
	            CRON_DOM_STAR);
	expect_sets("0 0 * jan-mar,Oct-DEC/2 *", BIT(0), BIT(0), ALL_DOM, bits(1, 2, 3, 10, 12, -1),
	            ALL_DOW, CRON_DOM_STAR | CRON_DOW_STAR);
	expect_sets("0 0 * 2-feb *", BIT(0), BIT(0), ALL_DOM, BIT(2), ALL_DOW,
	            CRON_DOM_STAR | CRON_DOW_STAR);
}

static void test_parse_shortcuts(void **state)
{
	struct cron c;

	(void)state;
	/* cronie's load_entry: the fields and the one flag each sets. */
	expect_sets("@yearly", BIT(0), BIT(0), BIT(1), BIT(1), ALL_DOW, CRON_DOW_STAR);
	expect_sets("@annually", BIT(0), BIT(0), BIT(1), BIT(1), ALL_DOW, CRON_DOW_STAR);
	expect_sets("@monthly", BIT(0), BIT(0), BIT(1), ALL_MONTH, ALL_DOW, CRON_DOW_STAR);
	expect_sets("@weekly", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, BIT(0), CRON_DOM_STAR);
	expect_sets("@daily", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, ALL_DOW, 0);
	expect_sets("@midnight", BIT(0), BIT(0), ALL_DOM, ALL_MONTH, ALL_DOW, 0);
	expect_sets(" @hourly\t", BIT(0), ALL_HOUR, ALL_DOM, ALL_MONTH, ALL_DOW, CRON_HOUR_STAR);
	c = parse("@every 5s");
	assert_int_equal(c.every_ms, 5000);
	assert_true(c.minutes == 0 && c.hours == 0 && c.doms == 0 && c.dows == 0);
	assert_int_equal(parse("@every\t1h30m ").every_ms, 5400000);
	assert_int_equal(parse("@every 8784h").every_ms, CRON_EVERY_MAX);
}

static void expect_error(const char *text, enum cron_field field, size_t pos, const char *msg)
{
	struct cron_error e;
	struct cron c;

	memset(&c, 0x5a, sizeof(c));
	if (cron_parse(text, &c, &e) != CMDB_EINVAL)
		fail_msg("\"%s\" accepted", text);
	if (e.field != field || e.position != pos || strcmp(e.msg, msg) != 0)
		fail_msg("\"%s\": %s at %zu, \"%s\"; want %s at %zu, \"%s\"", text,
		         cron_field_name(e.field), e.position, e.msg, cron_field_name(field), pos,
		         msg);
	/* Nothing is written on error. */
	assert_int_equal(c.flags, 0x5a);
}

/* Refusals inside a field: values, names, ranges, steps, and what cron does not have. */
static void test_parse_errors(void **state)
{
	(void)state;
	expect_error("60 * * * *", CRON_MINUTE, 1, "position 1 (minute): 60 is out of range 0-59");
	expect_error("* 24 * * *", CRON_HOUR, 3, "position 3 (hour): 24 is out of range 0-23");
	expect_error("* * 0 * *", CRON_DOM, 5, "position 5 (day-of-month): 0 is out of range 1-31");
	expect_error("* * 32 * *", CRON_DOM, 5,
	             "position 5 (day-of-month): 32 is out of range 1-31");
	expect_error("* * * 13 *", CRON_MONTH, 7, "position 7 (month): 13 is out of range 1-12");
	expect_error("* * * 0 *", CRON_MONTH, 7, "position 7 (month): 0 is out of range 1-12");
	expect_error("* * * * 8", CRON_DOW, 9, "position 9 (day-of-week): 8 is out of range 0-7");
	expect_error("0 0 * * 1,99999999999", CRON_DOW, 11,
	             "position 11 (day-of-week): 99999999999 is out of range 0-7");
	expect_error("* * * january *", CRON_MONTH, 7,
	             "position 7 (month): 'january' is neither 1-12 nor a month name (jan-dec)");
	expect_error("* * * * monday", CRON_DOW, 9,
	             "position 9 (day-of-week): 'monday' is neither 0-7 nor a day name (sun-sat)");
	expect_error("* * * * jan", CRON_DOW, 9,
	             "position 9 (day-of-week): 'jan' is neither 0-7 nor a day name (sun-sat)");
	expect_error("mon * * * *", CRON_MINUTE, 1, "position 1 (minute): 'mon' is not a number");
	expect_error("1a * * * *", CRON_MINUTE, 1, "position 1 (minute): '1a' is not a number");
	expect_error("5/10 * * * *", CRON_MINUTE, 2,
	             "position 2 (minute): a step needs a range: write 5-59/n or */n");
	expect_error("*/0 * * * *", CRON_MINUTE, 3, "position 3 (minute): a step of 0");
	expect_error("*/ * * * *", CRON_MINUTE, 3,
	             "position 3 (minute): expected a step (a number), found a blank");
	expect_error("0 */jan * * *", CRON_HOUR, 5,
	             "position 5 (hour): expected a step (a number), found 'j'");
	expect_error("0 0 * */2x *", CRON_MONTH, 9,
	             "position 9 (month): a step is a number, no name");
	expect_error("*/1234567890 * * * *", CRON_MINUTE, 3,
	             "position 3 (minute): a step of more than 9 digits");
	expect_error("30-10 * * * *", CRON_MINUTE, 1,
	             "position 1 (minute): the range 30-10 runs backwards");
	expect_error("0 5-0 * * *", CRON_HOUR, 3,
	             "position 3 (hour): the range 5-0 runs backwards");
	expect_error("0 0 * dec-jan *", CRON_MONTH, 7,
	             "position 7 (month): the range 12-1 runs backwards");
	expect_error("0 0 * * sat-mon", CRON_DOW, 9,
	             "position 9 (day-of-week): the range 6-1 runs backwards");
	expect_error("*-5 * * * *", CRON_MINUTE, 2,
	             "position 2 (minute): expected ',', a blank or the end, found '-'");
	expect_error("1,,2 * * * *", CRON_MINUTE, 3,
	             "position 3 (minute): expected a number, found ','");
	expect_error("1, * * * *", CRON_MINUTE, 3,
	             "position 3 (minute): expected a number, found a blank");
	expect_error("0 0 * * 1-", CRON_DOW, 11,
	             "position 11 (day-of-week): expected a number or a name, found the end");
	expect_error("~ * * * *", CRON_MINUTE, 1,
	             "position 1 (minute): random values (~) are not supported: a schedule must "
	             "be the same on every controller");
	expect_error("0 1~5 * * *", CRON_HOUR, 4,
	             "position 4 (hour): random values (~) are not supported: a schedule must "
	             "be the same on every controller");
	expect_error("0 0 L * *", CRON_DOM, 5, "position 5 (day-of-month): 'L' is not a number");
	expect_error("0 0 ? * *", CRON_DOM, 5,
	             "position 5 (day-of-month): expected a number, found '?'");
	expect_error("0 0 * * 5#3", CRON_DOW, 10,
	             "position 10 (day-of-week): expected ',', a blank or the end, found '#'");
	expect_error(
	    "0 0 1 * *\n", CRON_DOW, 10,
	    "position 10 (day-of-week): expected ',', a blank or the end, found byte 0x0a");
}

/* Refusals of the spec as a whole: fields missing or extra, days that never come, @ forms. */
static void test_parse_errors_whole(void **state)
{
	char longer[CRON_TEXT_MAX + 2];

	(void)state;
	expect_error("* * * *", CRON_DOW, 8,
	             "position 8 (day-of-week): missing: a spec has five fields (minute hour "
	             "day-of-month month day-of-week)");
	expect_error("0 12", CRON_DOM, 5,
	             "position 5 (day-of-month): missing: a spec has five fields (minute hour "
	             "day-of-month month day-of-week)");
	expect_error("* * * * * /bin/true", CRON_NO_FIELD, 11,
	             "position 11: a sixth field: a spec has five fields and no command");
	expect_error("", CRON_NO_FIELD, 0,
	             "empty: give five fields (minute hour day-of-month month day-of-week), "
	             "@daily or @every <duration>");
	expect_error(" \t ", CRON_NO_FIELD, 0,
	             "empty: give five fields (minute hour day-of-month month day-of-week), "
	             "@daily or @every <duration>");
	/* Day-of-month and month that never meet; with the weekday in play they do. */
	expect_error("0 0 30 2 *", CRON_DOM, 5,
	             "position 5 (day-of-month): no day given exists in the months given");
	expect_error("0 0  31 apr,jun,sep,nov */2", CRON_DOM, 6,
	             "position 6 (day-of-month): no day given exists in the months given");
	parse("0 0 30 2 mon");
	parse("0 0 29 2 *");
	parse("0 0 31 2,3 *");
	/* The shortcuts. */
	expect_error("@reboot", CRON_NO_FIELD, 1, "position 1: @reboot is not a time");
	expect_error("@Daily", CRON_NO_FIELD, 1,
	             "position 1: unknown shortcut: use @yearly, @monthly, @weekly, @daily, "
	             "@hourly or @every <duration>");
	expect_error("@", CRON_NO_FIELD, 1,
	             "position 1: unknown shortcut: use @yearly, @monthly, @weekly, @daily, "
	             "@hourly or @every <duration>");
	expect_error("@daily x", CRON_NO_FIELD, 8, "position 8: nothing may follow @daily");
	expect_error("@every", CRON_NO_FIELD, 7,
	             "position 7: expected a blank and a duration after @every, found the end");
	expect_error("@every5s", CRON_NO_FIELD, 1,
	             "position 1: unknown shortcut: use @yearly, @monthly, @weekly, @daily, "
	             "@hourly or @every <duration>");
	expect_error("@every 0s", CRON_NO_FIELD, 8, "position 8: @every: shorter than 1s");
	expect_error("@every 8784h1s", CRON_NO_FIELD, 8, "position 8: @every: longer than 8784h");
	expect_error("@every 5 s", CRON_NO_FIELD, 10,
	             "position 10: nothing may follow @every's duration");
	expect_error("@every 1.5h", CRON_NO_FIELD, 8,
	             "position 8: @every: no fractions (position 2): write whole units, e.g. "
	             "1h30m for 1.5h");
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	expect_error(longer, CRON_NO_FIELD, 0, "longer than 256 characters");
}

/* Expects the fire times after `after` in zone to be want[] (RFC 3339), in order. */
static void expect_fires(const char *spec, const char *zone, const char *after,
                         const char *const *want, size_t n)
{
	struct cron c = parse(spec);
	int64_t got[16];
	size_t ngot;
	char err[CRON_ERR_MAX], a[32], b[32];

	assert_true(n <= N(got));
	if (cron_next_n(&c, zone, at("2020-01-01T00:00:00Z"), at(after), n, got, &ngot, err,
	                sizeof(err)))
		fail_msg("\"%s\" in %s: %s", spec, zone, err);
	assert_int_equal(ngot, n);
	for (size_t i = 0; i < n; i++)
		if (got[i] != at(want[i]))
			fail_msg("\"%s\" in %s after %s: fire %zu is %s, want %s", spec, zone,
			         after, i, iso(got[i], a, sizeof(a)),
			         iso(at(want[i]), b, sizeof(b)));
}

#define FIRES(spec, zone, after, ...)                                                              \
	do {                                                                                       \
		static const char *const want_[] = {__VA_ARGS__};                                  \
		expect_fires(spec, zone, after, want_, N(want_));                                  \
	} while (0)

static void test_next_utc(void **state)
{
	(void)state;
	/* Fire times are strictly after the instant given. */
	FIRES("0 12 * * *", "UTC", "2025-01-01T12:00:00Z", "2025-01-02T12:00:00Z");
	FIRES("0 12 * * *", "UTC", "2025-01-01T11:59:59.999Z", "2025-01-01T12:00:00Z");
	FIRES("*/7 * * * *", "UTC", "2025-01-01T10:50:00Z", "2025-01-01T10:56:00Z",
	      "2025-01-01T11:00:00Z", "2025-01-01T11:07:00Z");
	FIRES("1-30/5 6 * * *", "UTC", "2025-01-01T06:20:00Z", "2025-01-01T06:21:00Z",
	      "2025-01-01T06:26:00Z", "2025-01-02T06:01:00Z");
	/* Leap days: every four years, and not in 2100. */
	FIRES("0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z",
	      "2032-02-29T00:00:00Z");
	FIRES("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z");
	/* Day 31 skips the short months. */
	FIRES("0 0 31 * *", "UTC", "2025-01-31T00:00:00Z", "2025-03-31T00:00:00Z",
	      "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-31T00:00:00Z",
	      "2025-10-31T00:00:00Z");
	FIRES("0 0 30 * *", "UTC", "2024-01-30T00:00:00Z", "2024-03-30T00:00:00Z");
	/* Both day fields restricted: either matches (2025-01-01 is a Wednesday). */
	FIRES("0 0 1-7 * mon", "UTC", "2024-12-31T12:00:00Z", "2025-01-01T00:00:00Z",
	      "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z",
	      "2025-01-05T00:00:00Z", "2025-01-06T00:00:00Z", "2025-01-07T00:00:00Z",
	      "2025-01-13T00:00:00Z");
	FIRES("0 0 13 * fri", "UTC", "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z",
	      "2025-01-10T00:00:00Z", "2025-01-13T00:00:00Z", "2025-01-17T00:00:00Z");
	/* One of them starting with '*' makes it AND: Mondays among the odd days. */
	FIRES("0 0 */2 * mon", "UTC", "2025-01-01T00:00:00Z", "2025-01-13T00:00:00Z",
	      "2025-01-27T00:00:00Z", "2025-02-03T00:00:00Z");
	FIRES("0 0 1-7 * */7", "UTC", "2025-01-01T00:00:00Z", "2025-01-05T00:00:00Z",
	      "2025-02-02T00:00:00Z");
	/* Feb 29 on a Sunday: the AND at its rarest, 40 years across 2100. */
	FIRES("0 0 29 2 */7", "UTC", "2089-01-01T00:00:00Z", "2128-02-29T00:00:00Z",
	      "2156-02-29T00:00:00Z");
	FIRES("0 0 29 2 */7", "UTC", "2061-01-01T00:00:00Z", "2088-02-29T00:00:00Z");
	FIRES("0 12 * feb sun", "UTC", "2025-01-01T00:00:00Z", "2025-02-02T12:00:00Z");
	FIRES("15 10 * * 7", "UTC", "2025-01-01T00:00:00Z", "2025-01-05T10:15:00Z");
	/* The shortcuts. */
	FIRES("@hourly", "UTC", "2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z");
	FIRES("@daily", "UTC", "2025-01-01T10:00:00Z", "2025-01-02T00:00:00Z");
	FIRES("@weekly", "UTC", "2025-01-01T10:00:00Z", "2025-01-05T00:00:00Z",
	      "2025-01-12T00:00:00Z");
	FIRES("@monthly", "UTC", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z");
	FIRES("@yearly", "UTC", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
	/* @every counts from the anchor (2020-01-01T00:00:00Z here), not from the instant. */
	FIRES("@every 7s", "UTC", "2020-01-01T00:00:20Z", "2020-01-01T00:00:21Z",
	      "2020-01-01T00:00:28Z");
	FIRES("@every 90m", "Europe/Berlin", "2025-03-30T00:10:00Z", "2025-03-30T01:30:00Z",
	      "2025-03-30T03:00:00Z");
	/* Before the anchor too: the anchor is one of the instants. */
	FIRES("@every 1h", "UTC", "2019-12-31T22:30:00Z", "2019-12-31T23:00:00Z",
	      "2020-01-01T00:00:00Z");
	/* Half-hour and quarter-hour offsets; no daylight saving. */
	FIRES("0 9 * * *", "Asia/Kolkata", "2025-01-01T00:00:00Z", "2025-01-01T03:30:00Z");
	FIRES("0 9 * * *", "Asia/Kathmandu", "2025-01-01T00:00:00Z", "2025-01-01T03:15:00Z");
	FIRES("0 0 1 1 *", "Asia/Tokyo", "2025-06-01T00:00:00Z", "2025-12-31T15:00:00Z");
}

/*
 * Europe/Berlin, 2025-03-30: at 01:00Z the clocks go from 02:00 CET to 03:00 CEST. A spec
 * with a fixed minute and hour in the skipped hour fires once, at 03:00 CEST (cronie
 * catches up "fixed-time jobs"); a wildcard one loses the skipped times.
 */
static void test_dst_berlin_march(void **state)
{
	(void)state;
	FIRES("30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", "2025-03-30T01:00:00Z",
	      "2025-03-31T00:30:00Z");
	FIRES("0 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", "2025-03-30T01:00:00Z",
	      "2025-03-31T00:00:00Z");
	/* 02:00, 02:30 and 03:00 all come due at 03:00 CEST: one fire time. */
	FIRES("0,30 2,3 * * *", "Europe/Berlin", "2025-03-30T00:00:00Z", "2025-03-30T01:00:00Z",
	      "2025-03-30T01:30:00Z", "2025-03-31T00:00:00Z");
	FIRES("0 3 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", "2025-03-30T01:00:00Z",
	      "2025-03-31T01:00:00Z");
	/* Starting right at the jump (a window's "now - duration" may land there). */
	FIRES("30 2 * * *", "Europe/Berlin", "2025-03-30T00:59:59.999Z", "2025-03-30T01:00:00Z");
	FIRES("0 2 * * *", "America/New_York", "2025-03-09T06:59:59.999Z", "2025-03-09T07:00:00Z");
	FIRES("0 1 * * *", "Europe/Berlin", "2025-03-29T12:00:00Z", "2025-03-30T00:00:00Z",
	      "2025-03-30T23:00:00Z");
	FIRES("30 * * * *", "Europe/Berlin", "2025-03-30T00:00:00Z", "2025-03-30T00:30:00Z",
	      "2025-03-30T01:30:00Z", "2025-03-30T02:30:00Z");
	FIRES("@hourly", "Europe/Berlin", "2025-03-29T23:30:00Z", "2025-03-30T00:00:00Z",
	      "2025-03-30T01:00:00Z", "2025-03-30T02:00:00Z");
	FIRES("*/15 2 * * *", "Europe/Berlin", "2025-03-29T23:00:00Z", "2025-03-31T00:00:00Z",
	      "2025-03-31T00:15:00Z");
	/* 2024: the last Sunday of March is the 31st. */
	FIRES("30 2 * * *", "Europe/Berlin", "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z",
	      "2024-04-01T00:30:00Z");
	FIRES("30 2 31 3 *", "Europe/Berlin", "2024-01-01T00:00:00Z", "2024-03-31T01:00:00Z",
	      "2025-03-31T00:30:00Z");
	FIRES("*/30 2 31 3 *", "Europe/Berlin", "2024-01-01T00:00:00Z", "2025-03-31T00:00:00Z");
}

/*
 * Europe/Berlin, 2025-10-26: at 01:00Z the clocks go from 03:00 CEST back to 02:00 CET.
 * A fixed-time spec fires in the first pass only; a wildcard one in both.
 */
static void test_dst_berlin_october(void **state)
{
	(void)state;
	FIRES("30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", "2025-10-26T00:30:00Z",
	      "2025-10-27T01:30:00Z");
	FIRES("0 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", "2025-10-26T00:00:00Z",
	      "2025-10-27T01:00:00Z");
	/* From inside the repeated hour (02:10 CET): the first pass had it. */
	FIRES("30 2 * * *", "Europe/Berlin", "2025-10-26T01:10:00Z", "2025-10-27T01:30:00Z");
	FIRES("0 3 * * *", "Europe/Berlin", "2025-10-25T12:00:00Z", "2025-10-26T02:00:00Z",
	      "2025-10-27T02:00:00Z");
	FIRES("30 * * * *", "Europe/Berlin", "2025-10-26T00:00:00Z", "2025-10-26T00:30:00Z",
	      "2025-10-26T01:30:00Z", "2025-10-26T02:30:00Z");
	FIRES("*/30 2 * * *", "Europe/Berlin", "2025-10-25T23:00:00Z", "2025-10-26T00:00:00Z",
	      "2025-10-26T00:30:00Z", "2025-10-26T01:00:00Z", "2025-10-26T01:30:00Z",
	      "2025-10-27T01:00:00Z");
	FIRES("45 * * * *", "Europe/Berlin", "2025-10-26T01:10:00Z", "2025-10-26T01:45:00Z");
	FIRES("@daily", "Europe/Berlin", "2025-10-25T12:00:00Z", "2025-10-25T22:00:00Z",
	      "2025-10-26T23:00:00Z");
	/* 2024: the 27th. */
	FIRES("30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00Z", "2024-10-27T00:30:00Z",
	      "2024-10-28T01:30:00Z");
}

/* Our fire times against cronie_loop's over [t - days, t + days] in zone. */
static void compare_with_cronie(const char *zone, const char *around, int days)
{
	static const char *const specs[] = {
	    "30 2 * * *",     "0 2 * * *",       "0 3 * * *",       "0,30 2,3 * * *",
	    "*/15 * * * *",   "30 * * * *",      "* 2 * * *",       "15 1-3 * * *",
	    "0 0 * * *",      "59 23 * * *",     "*/20 0-3 * * *",  "@hourly",
	    "* * * * *",      "1-59/2 2 * * *",  "30 0,1,23 * * *", "0 0 * * sun",
	    "45 1 * * 0,6",   "0-10 0 * * *",    "@daily",          "5 2,3 * * sun",
	    "20 0-4/2 * * *", "10,40 1-5 * * *", "*/30 * * * 0",    "0 12 6,7,9 4,9 *",
	    "*/4 0 2 9 */7",
	};
	int64_t start = at(around) - days * DAY_MS, n = 2 * days * 24 * 60 + 1;
	int64_t *clock = calloc((size_t)n, sizeof(*clock)), *want = calloc(MAX_FIRES, 8);
	int64_t from = start + 4 * HOUR_MS, end = start + (n - 1) * MIN_MS, f;
	char err[TZ_ERR_MAX], a[32], b[32];
	struct tz *z = NULL;

	assert_non_null(clock);
	assert_non_null(want);
	if (tz_open(zone, &z, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(cronie_clock(z, start, (size_t)n, clock), 0);
	for (size_t s = 0; s < N(specs); s++) {
		struct cron c = parse(specs[s]);
		size_t nwant = cronie_loop(&c, clock, (size_t)n, start, from, want, MAX_FIRES),
		       i = 0;
		struct cron_iter it;

		cron_iter_init(&it, &c, z, 0, from);
		for (; cron_iter_next(&it, &f) == 0 && f <= end; i++)
			if (i >= nwant || f != want[i])
				fail_msg("%s around %s, \"%s\": fire %zu is %s, cronie's %s", zone,
				         around, specs[s], i, iso(f, a, sizeof(a)),
				         i < nwant ? iso(want[i], b, sizeof(b)) : "none");
		if (i != nwant)
			fail_msg("%s around %s, \"%s\": %zu fire times, cronie %zu (next %s)", zone,
			         around, specs[s], i, nwant, iso(want[i], b, sizeof(b)));
	}
	tz_free(z);
	free(clock);
	free(want);
}

static void test_cronie_oracle(void **state)
{
	(void)state;
	compare_with_cronie("Europe/Berlin", "2025-03-30T01:00:00Z", 2);
	compare_with_cronie("Europe/Berlin", "2025-10-26T01:00:00Z", 2);
	compare_with_cronie("Europe/Berlin", "2024-03-31T01:00:00Z", 1);
	compare_with_cronie("Europe/Berlin", "2024-10-27T01:00:00Z", 1);
	compare_with_cronie("America/New_York", "2025-03-09T07:00:00Z", 1);
	compare_with_cronie("America/New_York", "2025-11-02T06:00:00Z", 1);
	/* Midnight transitions: the day itself starts at 01:00, or 23:00 comes twice. */
	compare_with_cronie("America/Santiago", "2025-04-06T03:00:00Z", 1);
	compare_with_cronie("America/Santiago", "2025-09-07T04:00:00Z", 1);
	/* Half an hour of daylight saving. */
	compare_with_cronie("Australia/Lord_Howe", "2025-04-05T15:00:00Z", 1);
	compare_with_cronie("Australia/Lord_Howe", "2025-10-04T15:30:00Z", 1);
	/* Two hours of it. */
	compare_with_cronie("Antarctica/Troll", "2025-03-30T01:00:00Z", 1);
	compare_with_cronie("Antarctica/Troll", "2025-10-26T01:00:00Z", 1);
	/* A whole day skipped, 2011-12-30: a "large" jump, nothing catches up. */
	compare_with_cronie("Pacific/Apia", "2011-12-30T10:00:00Z", 2);
	compare_with_cronie("Asia/Kolkata", "2025-01-01T00:00:00Z", 1);
}

/*
 * Daylight saving may take every time a spec names: Santiago's clocks skip from 00:00 to
 * 01:00 on the first Sunday from 2 September, so a 2 September that is a Sunday never
 * has a midnight hour. Nothing within CRON_HORIZON, found without walking to 9999.
 */
static void test_never_fires(void **state)
{
	struct cron c = parse("*/4 0 2 9 */7");
	char err[CRON_ERR_MAX];
	int64_t out[2];
	size_t got = 9;

	(void)state;
	assert_int_equal(cron_next_n(&c, "America/Santiago", 0, at("2025-01-01T00:00:00Z"), 2, out,
	                             &got, err, sizeof(err)),
	                 0);
	assert_int_equal(got, 0);
	FIRES("*/4 0 2 9 */7", "UTC", "2025-01-01T00:00:00Z", "2029-09-02T00:00:00Z",
	      "2029-09-02T00:04:00Z");
	compare_with_cronie("America/Santiago", "2029-09-02T04:00:00Z", 1);
}

/* Samoa skipped 2011-12-30: cronie runs nothing of it, and neither do we. */
static void test_dst_large_jump(void **state)
{
	(void)state;
	FIRES("0 12 * * *", "Pacific/Apia", "2011-12-29T00:00:00Z", "2011-12-29T22:00:00Z",
	      "2011-12-30T22:00:00Z");
	FIRES("0 12 30 12 *", "Pacific/Apia", "2011-12-01T00:00:00Z", "2012-12-29T22:00:00Z");
}

static void test_zone_errors(void **state)
{
	struct cron c = parse("0 0 * * *"), every;
	char err[CRON_ERR_MAX];
	int64_t out[2];
	size_t got = 9;

	(void)state;
	assert_int_equal(cron_next_n(&c, "Europe/Berln", 0, 0, 2, out, &got, err, sizeof(err)),
	                 CMDB_EINVAL);
	assert_string_equal(err, "unknown time zone \"Europe/Berln\": use an IANA name such as "
	                         "Europe/Berlin or UTC");
	assert_int_equal(got, 0);
	/* The anchor counts for @every only. */
	assert_int_equal(cron_next_n(&c, "UTC", -1, 0, 2, out, &got, err, sizeof(err)), 0);
	every = parse("@every 1h");
	assert_int_equal(cron_next_n(&every, "UTC", -1, 0, 2, out, &got, err, sizeof(err)),
	                 CMDB_EINVAL);
	assert_string_equal(err, "instant out of range (1970 to 9999)");
	assert_int_equal(cron_next_n(&c, "UTC", 0, TZ_TIME_MAX + 1, 2, out, &got, err, sizeof(err)),
	                 CMDB_EINVAL);
	/* The end of time: fewer than asked. */
	assert_int_equal(
	    cron_next_n(&c, "UTC", 0, at("9999-12-30T12:00:00Z"), 2, out, &got, err, sizeof(err)),
	    0);
	assert_int_equal(got, 1);
	assert_int_equal(out[0], at("9999-12-31T00:00:00Z"));
	c = parse("@every 1h");
	assert_int_equal(
	    cron_next_n(&c, "UTC", 0, at("9999-12-31T22:30:00Z"), 2, out, &got, err, sizeof(err)),
	    0);
	assert_int_equal(got, 1);
	assert_int_equal(out[0], at("9999-12-31T23:00:00Z"));
	/* Before 1970 counts as just before it. */
	c = parse("0 0 1 1 *");
	assert_int_equal(cron_next_n(&c, "UTC", 0, -DAY_MS, 1, out, &got, err, sizeof(err)), 0);
	assert_int_equal(out[0], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_fields),       cmocka_unit_test(test_parse_names),
	    cmocka_unit_test(test_parse_shortcuts),    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_parse_errors_whole), cmocka_unit_test(test_next_utc),
	    cmocka_unit_test(test_dst_berlin_march),   cmocka_unit_test(test_dst_berlin_october),
	    cmocka_unit_test(test_cronie_oracle),      cmocka_unit_test(test_dst_large_jump),
	    cmocka_unit_test(test_never_fires),        cmocka_unit_test(test_zone_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
