/*
 * Unit tests of tz: the calendar arithmetic day by day over a thousand years, and ICU's
 * zones: which names are accepted, offsets and transitions where they are known.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/instants.h"

#include "core/core.h"
#include "tz/tz.h"

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define HOUR_MS INT64_C(3600000)

/* Day after day from 1600 to 2600: each date follows the one before, weekdays cycle. */
static void test_civil_days(void **state)
{
	struct tz_civil prev, c;
	int64_t first = tz_days_from_civil(1600, 1, 1), last = tz_days_from_civil(2600, 1, 1);

	(void)state;
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	tz_civil_from_days(first, &prev);
	assert_int_equal(prev.weekday, 6); /* 1600-01-01 was a Saturday */
	for (int64_t d = first + 1; d <= last; d++) {
		tz_civil_from_days(d, &c);
		assert_int_equal(tz_days_from_civil(c.year, c.month, c.day), d);
		assert_int_equal(c.weekday, (prev.weekday + 1) % 7);
		if (c.day == 1) {
			assert_int_equal(prev.day, tz_month_days(prev.year, prev.month));
			assert_int_equal(c.month, prev.month % 12 + 1);
			assert_int_equal(c.year, prev.year + (c.month == 1));
		} else {
			assert_int_equal(c.day, prev.day + 1);
			assert_int_equal(c.month, prev.month);
		}
		prev = c;
	}
	tz_civil_from_days(tz_days_from_civil(2025, 3, 30), &c);
	assert_int_equal(c.weekday, 0);
}

static void test_civil_ms(void **state)
{
	static const int64_t samples[] = {0,         -1,           1,           86399999,
	                                  -86400000, 951782400000, TZ_TIME_MAX, -62135596800000};
	struct tz_civil c;

	(void)state;
	assert_int_equal(tz_month_days(2024, 2), 29);
	assert_int_equal(tz_month_days(2025, 2), 28);
	assert_int_equal(tz_month_days(2000, 2), 29);
	assert_int_equal(tz_month_days(2100, 2), 28);
	assert_int_equal(tz_month_days(2025, 4), 30);
	assert_int_equal(tz_month_days(2025, 12), 31);
	for (size_t i = 0; i < N(samples); i++) {
		tz_civil_from_ms(samples[i], &c);
		assert_int_equal(tz_ms_from_civil(&c), samples[i]);
	}
	tz_civil_from_ms(-1, &c);
	assert_true(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 23 &&
	            c.minute == 59 && c.second == 59 && c.ms == 999 && c.weekday == 3);
	tz_civil_from_ms(TZ_TIME_MAX, &c);
	assert_true(c.year == 9999 && c.month == 12 && c.day == 31 && c.ms == 999);
	tz_civil_from_ms(at("2024-02-29T13:45:30.250Z"), &c);
	assert_true(c.year == 2024 && c.month == 2 && c.day == 29 && c.hour == 13 &&
	            c.minute == 45 && c.second == 30 && c.ms == 250 && c.weekday == 4);
}

static void test_names(void **state)
{
	static const char *const good[] = {"UTC",
	                                   "Europe/Berlin",
	                                   "America/Argentina/Buenos_Aires",
	                                   "US/Pacific",
	                                   "Asia/Calcutta",
	                                   "Etc/GMT+5",
	                                   "Australia/Lord_Howe"};
	static const char *const bad[] = {
	    "europe/berlin",
	    "utc",
	    "Etc/Unknown",
	    "GMT+05:00",
	    "GMT+5",
	    "",
	    "Foo",
	    "Europe/Berlin ",
	    " UTC",
	    "Europe/Berl\xc3\xadn",
	    "Europe/Berlin\n",
	    "Americaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/New_York",
	};
	char err[TZ_ERR_MAX];
	struct tz *z = NULL;

	(void)state;
	for (size_t i = 0; i < N(good); i++) {
		if (tz_check(good[i], err, sizeof(err)))
			fail_msg("\"%s\" refused: %s", good[i], err);
		assert_int_equal(tz_open(good[i], &z, err, sizeof(err)), 0);
		assert_string_equal(tz_name(z), good[i]);
		tz_free(z);
		z = NULL;
	}
	for (size_t i = 0; i < N(bad); i++) {
		if (tz_check(bad[i], err, sizeof(err)) != CMDB_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(tz_open(bad[i], &z, err, sizeof(err)), CMDB_EINVAL);
		assert_null(z);
		assert_memory_equal(err, "unknown time zone \"", 19);
	}
	tz_check("Europe/Berl\"n\\", err, sizeof(err));
	assert_string_equal(err, "unknown time zone \"Europe/Berl?n?\": use an IANA name such as "
	                         "Europe/Berlin or UTC");
	tz_check("Americaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/New_York", err, sizeof(err));
	assert_string_equal(err,
	                    "unknown time zone \"Americaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": "
	                    "use an IANA name such as Europe/Berlin or UTC");
	assert_true(strlen(tz_data_version()) >= 5);
	tz_free(NULL);
}

static void expect_offset(const char *zone, const char *when, int64_t want)
{
	char err[TZ_ERR_MAX];
	struct tz *z;
	int64_t off;

	assert_int_equal(tz_open(zone, &z, err, sizeof(err)), 0);
	assert_int_equal(tz_offset(z, at(when), &off), 0);
	if (off != want)
		fail_msg("%s at %s: offset %lld, want %lld", zone, when, (long long)off,
		         (long long)want);
	tz_free(z);
}

static void test_offsets(void **state)
{
	char err[TZ_ERR_MAX];
	struct tz *z;
	int64_t t;

	(void)state;
	expect_offset("UTC", "2025-07-01T00:00:00Z", 0);
	expect_offset("Europe/Berlin", "2025-01-15T12:00:00Z", HOUR_MS);
	expect_offset("Europe/Berlin", "2025-07-15T12:00:00Z", 2 * HOUR_MS);
	expect_offset("Europe/Berlin", "2025-03-30T00:59:59.999Z", HOUR_MS);
	expect_offset("Europe/Berlin", "2025-03-30T01:00:00Z", 2 * HOUR_MS);
	expect_offset("Asia/Kolkata", "2025-07-15T12:00:00Z", 5 * HOUR_MS + HOUR_MS / 2);
	expect_offset("America/New_York", "2025-01-15T12:00:00Z", -5 * HOUR_MS);
	expect_offset("Australia/Lord_Howe", "2025-01-15T12:00:00Z", 11 * HOUR_MS);
	expect_offset("Australia/Lord_Howe", "2025-07-15T12:00:00Z", 10 * HOUR_MS + HOUR_MS / 2);

	assert_int_equal(tz_open("Europe/Berlin", &z, err, sizeof(err)), 0);
	assert_int_equal(tz_next_transition(z, at("2025-01-01T00:00:00Z"), &t), 1);
	assert_int_equal(t, at("2025-03-30T01:00:00Z"));
	/* Strictly after; at or before. */
	assert_int_equal(tz_next_transition(z, t, &t), 1);
	assert_int_equal(t, at("2025-10-26T01:00:00Z"));
	assert_int_equal(tz_prev_transition(z, t, &t), 1);
	assert_int_equal(t, at("2025-10-26T01:00:00Z"));
	assert_int_equal(tz_prev_transition(z, t - 1, &t), 1);
	assert_int_equal(t, at("2025-03-30T01:00:00Z"));
	/* The rules go on to the end of time. */
	assert_int_equal(tz_next_transition(z, at("9999-06-01T00:00:00Z"), &t), 1);
	tz_free(z);
	assert_int_equal(tz_open("UTC", &z, err, sizeof(err)), 0);
	assert_int_equal(tz_next_transition(z, 0, &t), 0);
	assert_int_equal(tz_prev_transition(z, TZ_TIME_MAX, &t), 0);
	tz_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_civil_days),
	    cmocka_unit_test(test_civil_ms),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
