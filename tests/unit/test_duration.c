/*
 * Unit tests of duration: what it accepts and what Go's time.ParseDuration makes of the
 * same text, every refusal with its message, the caller's bounds, and printing back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "duration/duration.h"

#define N(a)  (sizeof(a) / sizeof((a)[0]))
#define DAY   (24 * DURATION_HOUR_MS)
#define YEARS (INT64_C(1000) * 366 * DAY)

static void expect_ms(const char *text, int64_t want)
{
	char err[DURATION_ERR_MAX];
	int64_t got = -1;

	if (duration_parse(text, 0, INT64_MAX, &got, err, sizeof(err)))
		fail_msg("\"%s\" refused: %s", text, err);
	if (got != want)
		fail_msg("\"%s\" = %lld ms, want %lld", text, (long long)got, (long long)want);
}

static void expect_error(const char *text, int64_t min, int64_t max, const char *msg)
{
	char err[DURATION_ERR_MAX];
	int64_t got = 42;

	if (duration_parse(text, min, max, &got, err, sizeof(err)) != CMDB_EINVAL)
		fail_msg("\"%s\" accepted", text);
	assert_int_equal(got, 42);
	if (strcmp(err, msg) != 0)
		fail_msg("\"%s\": \"%s\", want \"%s\"", text, err, msg);
}

/* The examples and compound forms, with Go's values for the same text. */
static void test_accepted(void **state)
{
	(void)state;
	expect_ms("30s", 30000);
	expect_ms("10m", 600000);
	expect_ms("2h", 7200000);
	expect_ms("90m", 5400000);
	expect_ms("3h", 10800000);
	expect_ms("1h30m", 5400000);
	expect_ms("1h30m15s", 5415000);
	expect_ms("2h15s", 7215000);
	expect_ms("1m1s", 61000);
	expect_ms("0045s", 45000);
	expect_ms("0s", 0);
	expect_ms("24h", DAY);
	expect_ms("999999999999s", INT64_C(999999999999000));
	expect_ms("000000000000001s", 1000);
}

static void test_refused(void **state)
{
	(void)state;
	expect_error("", 0, DAY, "empty: give a number and a unit, e.g. 30s, 10m or 2h");
	expect_error("30", 0, DAY, "a number needs a unit at position 3: h, m or s");
	expect_error("1h30", 0, DAY, "a number needs a unit at position 5: h, m or s");
	expect_error("2d", 0, DAY, "unknown unit 'd' at position 2: use h, m or s");
	expect_error("2H", 0, DAY, "unknown unit 'H' at position 2: use h, m or s");
	expect_error("1.5h", 0, DAY,
	             "no fractions (position 2): write whole units, e.g. 1h30m for 1.5h");
	expect_error("500ms", 0, DAY, "no unit below a second (position 4): use h, m or s");
	expect_error("5us", 0, DAY, "no unit below a second (position 2): use h, m or s");
	expect_error("5\xc2\xb5s", 0, DAY, "no unit below a second (position 2): use h, m or s");
	expect_error("30m1h", 0, DAY, "unit 'h' at position 5: the units go h, m, s, each once");
	expect_error("1m1m", 0, DAY, "unit 'm' at position 4: the units go h, m, s, each once");
	expect_error("-5m", 0, DAY, "no sign (position 1)");
	expect_error("+5m", 0, DAY, "no sign (position 1)");
	expect_error(" 5m", 0, DAY, "no spaces (position 1)");
	expect_error("5m ", 0, DAY, "no spaces (position 3)");
	expect_error("h", 0, DAY, "expected a number at position 1");
	expect_error("1hm", 0, DAY, "expected a number at position 3");
	expect_error("5\x01", 0, DAY, "unexpected byte 0x01 at position 2");
	expect_error("1234567890123456s", 0, YEARS, "more than 15 digits at position 1");
}

/* Issue 26: at most 24 h. A window: at least a second. */
static void test_bounds(void **state)
{
	char err[DURATION_ERR_MAX];
	int64_t ms;

	(void)state;
	assert_int_equal(duration_parse("24h", 0, DAY, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, DAY);
	expect_error("24h1s", 0, DAY, "longer than 24h");
	expect_error("1441m", 0, DAY, "longer than 24h");
	expect_error("25h", 0, DAY, "longer than 24h");
	expect_error("0s", 1000, DAY, "shorter than 1s");
	expect_error("59s", 60000, DAY, "shorter than 1m");
	expect_error("1h1s", 0, 90 * DURATION_MINUTE_MS / 30, "longer than 3m");
	/* Fifteen digits to each unit cannot overflow, even under the largest maximum. */
	expect_error("999999999999999h", 0, INT64_MAX, "longer than 2562047788015h12m55s");
	expect_error("2562047788015h12m56s", 0, INT64_MAX, "longer than 2562047788015h12m55s");
	assert_int_equal(
	    duration_parse("2562047788015h12m55s", 0, INT64_MAX, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, INT64_MAX / 1000 * 1000);
	assert_int_equal(duration_parse("999999999999h999999999999m999999999999s", 0, INT64_MAX,
	                                &ms, err, sizeof(err)),
	                 0);
	assert_int_equal(ms, INT64_C(999999999999) * 3661000);
	expect_error("999999999999h999999999999m999999999999s", 0, INT64_C(999999999999) * 3660999,
	             "longer than 1016944166665h38m59s");
	/* A message cut to a small buffer is still terminated. */
	assert_int_equal(duration_parse("25h", 0, DAY, &ms, err, 8), CMDB_EINVAL);
	assert_string_equal(err, "longer ");
}

static void test_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
	    {0, "0s"},
	    {999, "0s"},
	    {1000, "1s"},
	    {59000, "59s"},
	    {60000, "1m"},
	    {5400000, "1h30m"},
	    {7215000, "2h15s"},
	    {86400000, "24h"},
	    {5415999, "1h30m15s"},
	    {-5, "0s"},
	    {INT64_MAX, "2562047788015h12m55s"},
	};
	char buf[DURATION_TEXT_MAX], err[DURATION_ERR_MAX];
	int64_t back;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		duration_format(cases[i].ms, buf, sizeof(buf));
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%lld: \"%s\", want \"%s\"", (long long)cases[i].ms, buf,
			         cases[i].text);
		/* What it prints parses back to the whole seconds it printed. */
		if (cases[i].ms >= 0 && cases[i].ms < YEARS) {
			assert_int_equal(duration_parse(buf, 0, YEARS, &back, err, sizeof(err)), 0);
			assert_int_equal(back, cases[i].ms / 1000 * 1000);
		}
	}
	duration_format(5400000, buf, 4);
	assert_string_equal(buf, "1h3");
	duration_format(5400000, buf, 3);
	assert_string_equal(buf, "1h");
	duration_format(5400000, buf, 2);
	assert_string_equal(buf, "1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
