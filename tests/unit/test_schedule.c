/*
 * Unit tests of schedule: each catch-up policy after an outage (the issue's @every 5s
 * stopped for 30 s, a daily schedule across daylight saving), the bounds on long outages,
 * working through the answer one fire time at a time, and refusals.
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
#include "schedule/schedule.h"

#define N(a)   (sizeof(a) / sizeof((a)[0]))
#define SEC_MS INT64_C(1000)
#define MIN_MS (60 * SEC_MS)

static void due(const char *spec, const char *zone, int64_t cursor, int64_t now, int64_t grace,
                enum schedule_catch_up policy, int limit, struct schedule_due *out)
{
	struct cron c = parse(spec);
	char err[SCHEDULE_ERR_MAX];

	*out = (struct schedule_due)SCHEDULE_DUE_INIT;
	if (schedule_due(&c, zone, at("2025-01-01T00:00:00Z"), cursor, now, grace, policy, limit,
	                 out, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
}

/* run must be want[] (offsets in seconds from base). */
static void expect_run(const struct schedule_due *d, int64_t base, const int64_t *want, size_t n)
{
	if (d->nrun != n)
		fail_msg("%zu to run, want %zu", d->nrun, n);
	for (size_t i = 0; i < n; i++)
		if (d->run[i] != base + want[i] * SEC_MS)
			fail_msg("run[%zu] = %+lld s, want %+lld s", i,
			         (long long)((d->run[i] - base) / SEC_MS), (long long)want[i]);
}

#define RUN(d, base, ...)                                                                          \
	do {                                                                                       \
		static const int64_t want_[] = {__VA_ARGS__};                                      \
		expect_run(d, base, want_, N(want_));                                              \
	} while (0)

/*
 * The test: @every 5s, every controller stopped for 30 s. The cursor is the tick
 * at +5 s; at +37 s the ticks +10 to +35 are due, +35 on time (grace 3 s), five missed.
 */
static void test_policies(void **state)
{
	int64_t base = at("2025-01-01T00:00:00Z"), cursor = base + 5 * SEC_MS;
	int64_t now = base + 37 * SEC_MS, grace = 3 * SEC_MS;
	struct schedule_due d;

	(void)state;
	due("@every 5s", "UTC", cursor, now, grace, SCHEDULE_SKIP, 0, &d);
	RUN(&d, base, 35);
	assert_true(d.replayed == 0 && d.missed == 5 && d.dropped == 5 && !d.missed_more);
	assert_int_equal(d.cursor, base + 35 * SEC_MS);
	schedule_due_release(&d);

	due("@every 5s", "UTC", cursor, now, grace, SCHEDULE_REPLAY_LIMITED, 2, &d);
	RUN(&d, base, 25, 30, 35);
	assert_true(d.replayed == 2 && d.missed == 5 && d.dropped == 3);
	assert_int_equal(d.cursor, base + 35 * SEC_MS);
	schedule_due_release(&d);

	due("@every 5s", "UTC", cursor, now, grace, SCHEDULE_REPLAY_ALL, 0, &d);
	RUN(&d, base, 10, 15, 20, 25, 30, 35);
	assert_true(d.replayed == 5 && d.missed == 5 && d.dropped == 0);
	schedule_due_release(&d);

	/* A limit above what was missed replays them all. */
	due("@every 5s", "UTC", cursor, now, grace, SCHEDULE_REPLAY_LIMITED, 1000, &d);
	RUN(&d, base, 10, 15, 20, 25, 30, 35);
	schedule_due_release(&d);
}

static void test_on_time(void **state)
{
	int64_t base = at("2025-01-01T00:00:00Z"), cursor = base + 5 * SEC_MS;
	struct schedule_due d;

	(void)state;
	/* The ordinary tick, found 500 ms late: on time under every policy. */
	due("@every 5s", "UTC", cursor, base + 10500, 3 * SEC_MS, SCHEDULE_SKIP, 0, &d);
	RUN(&d, base, 10);
	assert_true(d.missed == 0 && d.dropped == 0 && d.cursor == base + 10 * SEC_MS);
	schedule_due_release(&d);
	/* Nothing due yet: the cursor stays. */
	due("@every 5s", "UTC", cursor, base + 9 * SEC_MS, 0, SCHEDULE_REPLAY_ALL, 0, &d);
	assert_true(d.nrun == 0 && d.run == NULL && d.cursor == cursor && d.missed == 0);
	schedule_due_release(&d);
	/* A cursor ahead of now (a clock that stepped back) owes nothing. */
	due("@every 5s", "UTC", cursor, cursor - SEC_MS, 0, SCHEDULE_REPLAY_ALL, 0, &d);
	assert_true(d.nrun == 0 && d.cursor == cursor);
	schedule_due_release(&d);
	/* Exactly at the grace: still on time; a millisecond later, missed. */
	due("@every 5s", "UTC", cursor, base + 13 * SEC_MS, 3 * SEC_MS, SCHEDULE_SKIP, 0, &d);
	assert_true(d.nrun == 1 && d.missed == 0);
	schedule_due_release(&d);
	due("@every 5s", "UTC", cursor, base + 13001, 3 * SEC_MS, SCHEDULE_SKIP, 0, &d);
	assert_true(d.nrun == 0 && d.missed == 1 && d.cursor == base + 10 * SEC_MS);
	schedule_due_release(&d);
}

/* A nightly schedule at 02:30 Berlin, down from Saturday to Tuesday across March's change. */
static void test_calendar_dst(void **state)
{
	int64_t cursor = at("2025-03-29T01:30:00Z"), now = at("2025-04-01T12:00:00Z");
	struct schedule_due d;

	(void)state;
	due("30 2 * * *", "Europe/Berlin", cursor, now, MIN_MS, SCHEDULE_REPLAY_ALL, 0, &d);
	assert_int_equal(d.nrun, 3);
	assert_int_equal(d.run[0], at("2025-03-30T01:00:00Z")); /* 03:00 CEST, the skipped hour */
	assert_int_equal(d.run[1], at("2025-03-31T00:30:00Z"));
	assert_int_equal(d.run[2], at("2025-04-01T00:30:00Z"));
	assert_true(d.replayed == 3 && d.missed == 3 && d.cursor == d.run[2]);
	schedule_due_release(&d);
	due("30 2 * * *", "Europe/Berlin", cursor, now, MIN_MS, SCHEDULE_SKIP, 0, &d);
	assert_true(d.nrun == 0 && d.dropped == 3 && d.cursor == at("2025-04-01T00:30:00Z"));
	schedule_due_release(&d);
}

/*
 * Working through run one fire time at a time, the cursor stored after each: every call
 * hands back the rest of the first answer.
 */
static void test_one_at_a_time(void **state)
{
	int64_t cursor = at("2025-01-01T00:00:00Z"), now = at("2025-01-01T10:20:00Z");
	struct schedule_due first, next;

	(void)state;
	due("0 * * * *", "UTC", cursor, now, MIN_MS, SCHEDULE_REPLAY_LIMITED, 4, &first);
	assert_true(first.nrun == 4 && first.missed == 10 && first.dropped == 6);
	for (size_t i = 0; i < first.nrun; i++) {
		due("0 * * * *", "UTC", first.run[i], now, MIN_MS, SCHEDULE_REPLAY_LIMITED, 4,
		    &next);
		assert_int_equal(next.nrun, first.nrun - i - 1);
		for (size_t j = 0; j < next.nrun; j++)
			assert_int_equal(next.run[j], first.run[i + 1 + j]);
		assert_int_equal(next.dropped, 0);
		schedule_due_release(&next);
	}
	schedule_due_release(&first);
}

/* A year down: counting stops at SCHEDULE_COUNT_MAX, the tail is still right. */
static void test_long_outage(void **state)
{
	int64_t cursor = at("2024-01-01T00:00:00Z"), now = at("2025-01-01T00:00:30Z");
	struct schedule_due d;

	(void)state;
	due("* * * * *", "UTC", cursor, now, MIN_MS, SCHEDULE_REPLAY_LIMITED, 3, &d);
	assert_int_equal(d.nrun, 4);
	assert_int_equal(d.run[0], at("2024-12-31T23:57:00Z"));
	assert_int_equal(d.run[2], at("2024-12-31T23:59:00Z"));
	assert_int_equal(d.run[3], at("2025-01-01T00:00:00Z")); /* on time */
	assert_true(d.replayed == 3 && d.missed_more && d.missed == SCHEDULE_COUNT_MAX);
	assert_int_equal(d.cursor, at("2025-01-01T00:00:00Z"));
	schedule_due_release(&d);
	/* replay_all keeps the most recent SCHEDULE_RUN_MAX, the on-time one included. */
	due("* * * * *", "UTC", at("2024-12-29T00:00:00Z"), now, MIN_MS, SCHEDULE_REPLAY_ALL, 0,
	    &d);
	assert_int_equal(d.nrun, SCHEDULE_RUN_MAX);
	assert_int_equal(d.replayed, SCHEDULE_RUN_MAX - 1);
	assert_int_equal(d.missed, 3 * 1440 - 1);
	assert_int_equal(d.dropped, 3 * 1440 - SCHEDULE_RUN_MAX);
	assert_int_equal(d.run[0], at("2024-12-31T07:21:00Z"));
	schedule_due_release(&d);
	/* @every counts exactly, however many. */
	due("@every 1s", "UTC", at("2025-01-01T00:00:00Z"), at("2025-01-03T00:00:00Z"), 0,
	    SCHEDULE_SKIP, 0, &d);
	assert_true(d.missed == 2 * 86400 - 1 && !d.missed_more && d.nrun == 1);
	assert_int_equal(d.cursor, at("2025-01-03T00:00:00Z"));
	schedule_due_release(&d);
}

static void test_errors(void **state)
{
	struct cron c = parse("@daily");
	struct schedule_due d = SCHEDULE_DUE_INIT;
	char err[SCHEDULE_ERR_MAX];

	(void)state;
	assert_int_equal(
	    schedule_due(&c, "UTC", 0, 0, 1, 0, SCHEDULE_REPLAY_LIMITED, 0, &d, err, sizeof(err)),
	    CMDB_EINVAL);
	assert_string_equal(err, "replay_limit must be 1 to 1000");
	assert_int_equal(schedule_due(&c, "UTC", 0, 0, 1, 0, SCHEDULE_REPLAY_LIMITED, 1001, &d, err,
	                              sizeof(err)),
	                 CMDB_EINVAL);
	assert_int_equal(
	    schedule_due(&c, "UTC", 0, 0, 1, -1, SCHEDULE_SKIP, 0, &d, err, sizeof(err)),
	    CMDB_EINVAL);
	assert_string_equal(err, "grace out of range (0 to 1h)");
	assert_int_equal(
	    schedule_due(&c, "UTC", 0, -1, 1, 0, SCHEDULE_SKIP, 0, &d, err, sizeof(err)),
	    CMDB_EINVAL);
	assert_int_equal(schedule_due(&c, "UTC", 0, 0, TZ_TIME_MAX + 1, 0, SCHEDULE_SKIP, 0, &d,
	                              err, sizeof(err)),
	                 CMDB_EINVAL);
	assert_int_equal(
	    schedule_due(&c, "Moon/Base", 0, 0, 1000, 0, SCHEDULE_SKIP, 0, &d, err, sizeof(err)),
	    CMDB_EINVAL);
	assert_string_equal(err, "unknown time zone \"Moon/Base\": use an IANA name such as "
	                         "Europe/Berlin or UTC");
	assert_null(d.run);
	assert_string_equal(schedule_catch_up_name(SCHEDULE_REPLAY_LIMITED), "replay_limited");
	assert_int_equal(schedule_catch_up_parse("skip"), SCHEDULE_SKIP);
	assert_int_equal(schedule_catch_up_parse("replay_all"), SCHEDULE_REPLAY_ALL);
	assert_int_equal(schedule_catch_up_parse("replay"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policies),     cmocka_unit_test(test_on_time),
	    cmocka_unit_test(test_calendar_dst), cmocka_unit_test(test_one_at_a_time),
	    cmocka_unit_test(test_long_outage),  cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
