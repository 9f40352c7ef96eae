/*
 * Unit tests of window: one period and recurring windows (the Tuesday to Thursday
 * in Berlin, across both daylight-saving changes), overlapping occurrences, @every, and
 * the rule with freezes and maintenance windows together.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/instants.h"

#include "core/core.h"
#include "window/window.h"

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define MIN_MS  INT64_C(60000)
#define HOUR_MS (60 * MIN_MS)

static struct window period(const char *name, enum window_kind kind, const char *start,
                            const char *end)
{
	struct window w = {.name = name, .kind = kind, .start = at(start), .end = at(end)};

	return w;
}

static struct window every(const char *name, enum window_kind kind, const char *spec,
                           const char *zone, int64_t duration_ms)
{
	struct window w = {.name = name,
	                   .kind = kind,
	                   .recurring = 1,
	                   .timezone = zone,
	                   .duration_ms = duration_ms,
	                   .anchor = at("2025-01-01T12:00:00Z")};

	w.cron = parse(spec);
	return w;
}

/* NULL for WINDOW_NONE. */
static void expect_state(const struct window *w, const char *when, int open, const char *opens,
                         const char *closes)
{
	char err[WINDOW_ERR_MAX];
	struct window_state s;

	if (window_state_at(w, at(when), &s, err, sizeof(err)))
		fail_msg("%s at %s: %s", w->name, when, err);
	if (s.open != open || s.opens != (opens ? at(opens) : WINDOW_NONE) ||
	    s.closes != (closes ? at(closes) : WINDOW_NONE))
		fail_msg("%s at %s: open %d opens %lld closes %lld; want %d %s %s", w->name, when,
		         s.open, (long long)s.opens, (long long)s.closes, open,
		         opens ? opens : "none", closes ? closes : "none");
}

static void test_one_period(void **state)
{
	struct window w = period("holidays", WINDOW_FREEZE, "2025-12-20T00:00:00+01:00",
	                         "2026-01-05T00:00:00+01:00");

	(void)state;
	expect_state(&w, "2025-12-01T00:00:00Z", 0, "2025-12-19T23:00:00Z", "2026-01-04T23:00:00Z");
	expect_state(&w, "2025-12-19T23:00:00Z", 1, NULL, "2026-01-04T23:00:00Z");
	expect_state(&w, "2026-01-04T22:59:59.999Z", 1, NULL, "2026-01-04T23:00:00Z");
	expect_state(&w, "2026-01-04T23:00:00Z", 0, NULL, NULL);
	expect_state(&w, "2027-01-01T00:00:00Z", 0, NULL, NULL);
}

/* The issue: production changes only Tuesday to Thursday 02:00-05:00 Berlin time. */
static void test_recurring(void **state)
{
	struct window w =
	    every("prod", WINDOW_MAINTENANCE, "0 2 * * tue-thu", "Europe/Berlin", 3 * HOUR_MS);

	(void)state;
	/* Monday 2025-01-13: closed until Tuesday 02:00 CET (01:00Z). */
	expect_state(&w, "2025-01-13T12:00:00Z", 0, "2025-01-14T01:00:00Z", "2025-01-14T04:00:00Z");
	expect_state(&w, "2025-01-14T01:00:00Z", 1, "2025-01-15T01:00:00Z", "2025-01-14T04:00:00Z");
	expect_state(&w, "2025-01-14T03:59:59.999Z", 1, "2025-01-15T01:00:00Z",
	             "2025-01-14T04:00:00Z");
	expect_state(&w, "2025-01-14T04:00:00Z", 0, "2025-01-15T01:00:00Z", "2025-01-15T04:00:00Z");
	/* Thursday's closing: next is the Tuesday after. */
	expect_state(&w, "2025-01-16T04:00:00Z", 0, "2025-01-21T01:00:00Z", "2025-01-21T04:00:00Z");
	/* Summer: 02:00 CEST is 00:00Z. */
	expect_state(&w, "2025-07-01T00:30:00Z", 1, "2025-07-02T00:00:00Z", "2025-07-01T03:00:00Z");
}

/*
 * Windows that start in the hours daylight saving skips or repeats. The duration is time
 * that passes, not a wall-clock end: 1h from 03:00 CEST is 04:00 CEST.
 */
static void test_recurring_dst(void **state)
{
	struct window skipped =
	    every("night", WINDOW_MAINTENANCE, "30 2 * * *", "Europe/Berlin", HOUR_MS);
	struct window hourly =
	    every("hourly", WINDOW_MAINTENANCE, "0 * * * *", "Europe/Berlin", 30 * MIN_MS);

	(void)state;
	/* 2025-03-30: 02:30 does not exist; the window opens at 03:00 CEST. */
	expect_state(&skipped, "2025-03-30T00:00:00Z", 0, "2025-03-30T01:00:00Z",
	             "2025-03-30T02:00:00Z");
	expect_state(&skipped, "2025-03-30T01:30:00Z", 1, "2025-03-31T00:30:00Z",
	             "2025-03-30T02:00:00Z");
	/* The last millisecond: the period's first fire time is exactly its duration back. */
	expect_state(&skipped, "2025-03-30T01:59:59.999Z", 1, "2025-03-31T00:30:00Z",
	             "2025-03-30T02:00:00Z");
	expect_state(&skipped, "2025-03-30T02:00:00Z", 0, "2025-03-31T00:30:00Z",
	             "2025-03-31T01:30:00Z");
	/* 2025-10-26: 02:30 comes twice; the window opens at the first (CEST) only. */
	expect_state(&skipped, "2025-10-26T00:00:00Z", 0, "2025-10-26T00:30:00Z",
	             "2025-10-26T01:30:00Z");
	expect_state(&skipped, "2025-10-26T01:30:00Z", 0, "2025-10-27T01:30:00Z",
	             "2025-10-27T02:30:00Z");
	/* A wildcard window opens in both passes of the repeated hour. */
	expect_state(&hourly, "2025-10-26T00:45:00Z", 0, "2025-10-26T01:00:00Z",
	             "2025-10-26T01:30:00Z");
	expect_state(&hourly, "2025-10-26T01:10:00Z", 1, "2025-10-26T02:00:00Z",
	             "2025-10-26T01:30:00Z");
	/* And loses the skipped one: after 01:00 CET (00:00Z) comes 03:00 CEST (01:00Z). */
	expect_state(&hourly, "2025-03-30T00:40:00Z", 0, "2025-03-30T01:00:00Z",
	             "2025-03-30T01:30:00Z");
}

static void test_overlaps(void **state)
{
	struct window joined = every("joined", WINDOW_FREEZE, "0 8,9 * * *", "UTC", 90 * MIN_MS);
	struct window touching = every("touch", WINDOW_FREEZE, "0 8,9 * * *", "UTC", HOUR_MS);
	struct window endless = every("endless", WINDOW_FREEZE, "0 * * * *", "UTC", 90 * MIN_MS);
	struct window tick = every("tick", WINDOW_MAINTENANCE, "@every 10m", "UTC", 5 * MIN_MS);
	struct window always = every("always", WINDOW_MAINTENANCE, "@every 5m", "UTC", 5 * MIN_MS);

	(void)state;
	expect_state(&joined, "2025-01-02T08:15:00Z", 1, "2025-01-03T08:00:00Z",
	             "2025-01-02T10:30:00Z");
	expect_state(&joined, "2025-01-02T07:00:00Z", 0, "2025-01-02T08:00:00Z",
	             "2025-01-02T10:30:00Z");
	expect_state(&touching, "2025-01-02T08:15:00Z", 1, "2025-01-03T08:00:00Z",
	             "2025-01-02T10:00:00Z");
	/* Each occurrence starts before the last ends: no end within WINDOW_SCAN_MAX. */
	expect_state(&endless, "2025-01-02T08:15:00Z", 1, NULL, NULL);
	/* @every from its anchor, 2025-01-01T12:00Z. */
	expect_state(&tick, "2025-01-01T12:03:00Z", 1, "2025-01-01T12:10:00Z",
	             "2025-01-01T12:05:00Z");
	expect_state(&tick, "2025-01-01T12:07:00Z", 0, "2025-01-01T12:10:00Z",
	             "2025-01-01T12:15:00Z");
	expect_state(&tick, "2025-01-01T11:51:00Z", 1, "2025-01-01T12:00:00Z",
	             "2025-01-01T11:55:00Z");
	expect_state(&always, "2025-06-01T00:00:00Z", 1, NULL, NULL);
}

static void expect_rule(const struct window *ws, size_t n, const char *when, const char *name,
                        const char *until)
{
	char err[WINDOW_ERR_MAX];
	struct window_block b;

	if (window_rule(ws, n, at(when), &b, err, sizeof(err)))
		fail_msg("rule at %s: %s", when, err);
	if ((name == NULL) != (b.window == NULL) || (name && strcmp(b.window->name, name) != 0))
		fail_msg("rule at %s: blocked by %s, want %s", when,
		         b.window ? b.window->name : "nothing", name ? name : "nothing");
	if (b.until != (until ? at(until) : WINDOW_NONE))
		fail_msg("rule at %s: until %lld, want %s", when, (long long)b.until,
		         until ? until : "none");
}

static void test_rule(void **state)
{
	struct window ws[] = {
	    every("night", WINDOW_MAINTENANCE, "0 2 * * *", "UTC", 3 * HOUR_MS),
	    every("early", WINDOW_MAINTENANCE, "0 1 * * *", "UTC", 30 * MIN_MS),
	    period("change-freeze", WINDOW_FREEZE, "2025-01-02T02:00:00Z", "2025-01-02T03:00:00Z"),
	    period("long-freeze", WINDOW_FREEZE, "2025-01-02T02:30:00Z", "2025-01-02T06:00:00Z"),
	};

	(void)state;
	/* No window applies: allowed now. */
	expect_rule(ws, 0, "2025-01-02T12:00:00Z", NULL, "2025-01-02T12:00:00Z");
	/* Only maintenance: allowed inside, blocked outside until the next opening. */
	expect_rule(ws, 1, "2025-01-02T02:10:00Z", NULL, "2025-01-02T02:10:00Z");
	expect_rule(ws, 1, "2025-01-02T12:00:00Z", "night", "2025-01-03T02:00:00Z");
	/* Two maintenance windows: the one that opens first names it. */
	expect_rule(ws, 2, "2025-01-02T12:00:00Z", "early", "2025-01-03T01:00:00Z");
	expect_rule(ws, 2, "2025-01-02T01:10:00Z", NULL, "2025-01-02T01:10:00Z");
	/* A freeze inside the maintenance window wins, until it ends. */
	expect_rule(ws, 3, "2025-01-02T02:10:00Z", "change-freeze", "2025-01-02T03:00:00Z");
	/* Overlapping freezes: the one that ends last; then the maintenance window is over. */
	expect_rule(ws, 4, "2025-01-02T02:45:00Z", "long-freeze", "2025-01-03T01:00:00Z");
	/* Closed maintenance, a freeze when it opens: until the freeze ends. */
	expect_rule(ws + 2, 2, "2025-01-02T01:00:00Z", NULL, "2025-01-02T01:00:00Z");
	expect_rule((struct window[]){ws[0], ws[2]}, 2, "2025-01-02T01:00:00Z", "night",
	            "2025-01-02T03:00:00Z");
}

static void test_rule_never(void **state)
{
	struct window ended[] = {
	    period("last-year", WINDOW_MAINTENANCE, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
	};
	struct window endless[] = {
	    every("weekly", WINDOW_MAINTENANCE, "0 2 * * sun", "UTC", HOUR_MS),
	    every("forever", WINDOW_FREEZE, "* * * * *", "UTC", 2 * HOUR_MS),
	};
	struct window crossing[WINDOW_RULE_ROUNDS];

	(void)state;
	/* An ended one-period maintenance window still applies: blocked, no end known. */
	expect_rule(ended, 1, "2025-01-02T12:00:00Z", "last-year", NULL);
	expect_rule(endless, 2, "2025-01-02T12:00:00Z", "forever", NULL);
	expect_rule(endless, 1, "2025-01-02T12:00:00Z", "weekly", "2025-01-05T02:00:00Z");
	/* More freezes end to end than the rule follows: not known. */
	for (int i = 0; i < WINDOW_RULE_ROUNDS; i++) {
		int64_t start = at("2025-01-01T00:00:00Z") + i * HOUR_MS;

		crossing[i] = (struct window){.name = "step",
		                              .kind = WINDOW_FREEZE,
		                              .start = start + (i ? -HOUR_MS / 2 : 0),
		                              .end = start + HOUR_MS};
	}
	expect_rule(crossing, WINDOW_RULE_ROUNDS, "2025-01-01T00:10:00Z", "step", NULL);
	expect_rule(crossing, WINDOW_RULE_ROUNDS - 1, "2025-01-01T00:10:00Z", "step",
	            "2025-01-03T15:00:00Z");
}

static void test_errors(void **state)
{
	struct window bad_zone = every("z", WINDOW_FREEZE, "0 2 * * *", "Mars/Olympus", HOUR_MS);
	struct window backwards =
	    period("b", WINDOW_FREEZE, "2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z");
	struct window no_time = every("d", WINDOW_FREEZE, "0 2 * * *", "UTC", 0);
	struct window ok =
	    period("ok", WINDOW_MAINTENANCE, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z");
	struct window_state s;
	struct window_block b;
	char err[WINDOW_ERR_MAX];

	(void)state;
	assert_int_equal(window_state_at(&bad_zone, 0, &s, err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(err, "unknown time zone \"Mars/Olympus\": use an IANA name such as "
	                         "Europe/Berlin or UTC");
	assert_int_equal(window_state_at(&backwards, 0, &s, err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(err, "window \"b\": start must come before end, 1970 to 9999");
	assert_int_equal(window_state_at(&no_time, 0, &s, err, sizeof(err)), CMDB_EINVAL);
	assert_string_equal(err, "window \"d\": duration out of range");
	assert_int_equal(window_state_at(&ok, -1, &s, err, sizeof(err)), CMDB_EINVAL);
	assert_int_equal(window_rule((struct window[]){ok, bad_zone}, 2, 0, &b, err, sizeof(err)),
	                 CMDB_EINVAL);
	assert_string_equal(window_kind_name(WINDOW_FREEZE), "freeze");
	assert_string_equal(window_kind_name(WINDOW_MAINTENANCE), "maintenance");
	assert_int_equal(window_kind_parse("freeze"), WINDOW_FREEZE);
	assert_int_equal(window_kind_parse("maintenance"), WINDOW_MAINTENANCE);
	assert_int_equal(window_kind_parse("Freeze"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_period),    cmocka_unit_test(test_recurring),
	    cmocka_unit_test(test_recurring_dst), cmocka_unit_test(test_overlaps),
	    cmocka_unit_test(test_rule),          cmocka_unit_test(test_rule_never),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
