/* Unit tests of plan (batch cuts, allowance, pauses, schedule) and RFC 3339 input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "plan/plan.h"

#define MAX_NODES 300

/* Cuts total nodes with steps written as "1,5,20%,50" and compares with want. */
static void expect_cut(const char *steps_text, int total, const int *want, int nwant)
{
	struct plan_step steps[PLAN_STEPS_MAX];
	int sizes[MAX_NODES], n, sum = 0;
	size_t nsteps;

	assert_int_equal(plan_steps_parse(steps_text, steps, &nsteps), 0);
	n = plan_cut(steps, nsteps, total, sizes);
	assert_int_equal(n, nwant);
	for (int i = 0; i < n; i++) {
		assert_int_equal(sizes[i], want[i]);
		sum += sizes[i];
	}
	assert_int_equal(sum, total);
}

/*
 * The cuts Ansible makes for `serial:` lists (PlaybookExecutor._get_serialized_batches
 * with pct_to_int), worked out by running its algorithm on these inventories.
 */
static void test_cut_like_ansible(void **state)
{
	static const int a[] = {1, 5, 2, 2};
	static const int b[] = {1, 5, 20, 50, 24};
	static const int c[] = {2, 2, 2, 1};
	static const int d[] = {1, 1, 1};
	static const int e[] = {2, 12, 11};
	static const int f[] = {9};
	static const int g[] = {3, 3, 3, 1};

	(void)state;
	expect_cut("1,5,20%,50", 10, a, 4);
	expect_cut("1,5,20%,50", 100, b, 5);
	expect_cut("30%", 7, c, 4);
	expect_cut("10%", 3, d, 3); /* 0.3 nodes rounds down to 0, and a batch has at least 1 */
	expect_cut("2,50%", 25, e, 3);
	expect_cut("100%", 9, f, 1);
	expect_cut("3", 10, g, 4);
}

/*
 * Where we differ from Ansible, on purpose: it computes int(29 / 100.0 * 100) = 28 in
 * floating point; the exact value rounded down is 29.
 */
static void test_cut_percent_is_exact(void **state)
{
	static const int want[] = {29, 29, 29, 13};

	(void)state;
	expect_cut("29%", 100, want, 4);
	assert_int_equal(plan_step_size((struct plan_step){1, 1}, 250), 2);
	assert_int_equal(plan_step_size((struct plan_step){1, 1}, 99), 1);
	assert_int_equal(plan_step_size((struct plan_step){7, 0}, 3), 7);
}

static void test_cut_one_node_and_big_steps(void **state)
{
	static const int one[] = {1};
	static const int two[] = {1, 1};

	(void)state;
	expect_cut("50", 1, one, 1);
	expect_cut("1%", 1, one, 1);
	expect_cut("1,1000", 2, two, 2);
}

/* The off-by-one cases of the allowance: failures up to it are tolerated, one more halts. */
static void test_allowance(void **state)
{
	(void)state;
	assert_int_equal(plan_allowance(-1, -1, 100), 0); /* default: fail fast */
	assert_false(plan_exceeds(0, 0));
	assert_true(plan_exceeds(1, 0));
	assert_int_equal(plan_allowance(1, -1, 6), 1);
	assert_false(plan_exceeds(1, 1)); /* max_failures 1: the first failure is tolerated */
	assert_true(plan_exceeds(2, 1));  /* the second halts */
	assert_int_equal(plan_allowance(0, -1, 6), 0);
	/* Percentages of the release's nodes, rounded down. */
	assert_int_equal(plan_allowance(-1, 10, 6), 0);  /* 0.6 */
	assert_int_equal(plan_allowance(-1, 20, 6), 1);  /* 1.2 */
	assert_int_equal(plan_allowance(-1, 33, 3), 0);  /* 0.99 */
	assert_int_equal(plan_allowance(-1, 34, 3), 1);  /* 1.02 */
	assert_int_equal(plan_allowance(-1, 50, 10), 5); /* exactly 5 */
	assert_int_equal(plan_allowance(-1, 100, 7), 7); /* every node may fail */
	assert_int_equal(plan_allowance(-1, 0, 7), 0);
	/* No overflow at the limits. */
	assert_int_equal(plan_allowance(-1, 100, 1000000), 1000000);
	assert_int_equal(plan_allowance(PLAN_FAILURES_MAX, -1, 5), PLAN_FAILURES_MAX);
}

static void test_pauses(void **state)
{
	struct release_plan p;
	char err[200];

	(void)state;
	plan_init(&p);
	p.pause_after[0] = 1;
	p.pause_after[1] = 3;
	p.npauses = 2;
	assert_int_equal(plan_check_pauses(&p, 4, err, sizeof(err)), 0);
	assert_true(plan_pauses_after(&p, 1));
	assert_false(plan_pauses_after(&p, 2));
	assert_true(plan_pauses_after(&p, 3));
	assert_int_equal(plan_check_pauses(&p, 3, err, sizeof(err)), -1);
	assert_string_equal(err, "pause_after names batch 3, the last one: nothing follows it to"
	                         " pause before");
	assert_int_equal(plan_check_pauses(&p, 2, err, sizeof(err)), -1);
	assert_string_equal(err, "pause_after names batch 3, but the release has 2 batches");
	assert_int_equal(plan_check_pauses(&p, 1, err, sizeof(err)), -1);
}

static void test_schedule(void **state)
{
	const int64_t now = 1795321172000LL; /* 2026-11-22T04:19:32Z */
	struct release_plan p;
	char err[200];

	(void)state;
	plan_init(&p);
	assert_int_equal(plan_check_schedule(&p, now, err, sizeof(err)), 0);
	p.not_before_ms = now + 1000;
	p.expires_at_ms = now + 2000;
	assert_int_equal(plan_check_schedule(&p, now, err, sizeof(err)), 0);
	p.expires_at_ms = now + 1000; /* equal to not_before: nothing could ever run */
	assert_int_equal(plan_check_schedule(&p, now, err, sizeof(err)), -1);
	assert_string_equal(err, "expires_at 2026-11-22T04:19:33.000Z must be later than"
	                         " not_before 2026-11-22T04:19:33.000Z");
	p.not_before_ms = now - 1;
	p.expires_at_ms = 0;
	assert_int_equal(plan_check_schedule(&p, now, err, sizeof(err)), -1);
	assert_string_equal(err, "not_before 2026-11-22T04:19:31.999Z is in the past");
	p.not_before_ms = 0;
	p.expires_at_ms = now;
	assert_int_equal(plan_check_schedule(&p, now, err, sizeof(err)), -1);
	assert_string_equal(err, "expires_at 2026-11-22T04:19:32.000Z is in the past");
	p.expires_at_ms = 253402300800000LL; /* 10000-01-01T00:00:00Z */
	assert_int_equal(plan_check_schedule(&p, now, err, sizeof(err)), -1);
}

static void test_text_forms(void **state)
{
	struct plan_step steps[PLAN_STEPS_MAX];
	int pauses[PLAN_PAUSES_MAX];
	char buf[PLAN_TEXT_MAX];
	size_t n;

	(void)state;
	assert_int_equal(plan_steps_parse("1,5,20%,50", steps, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(steps[2].value, 20);
	assert_true(steps[2].percent);
	assert_int_equal(plan_steps_format(steps, n, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1,5,20%,50");
	assert_int_equal(plan_steps_format(steps, n, buf, 5), -1);
	/* What the store reads back is checked like any input. */
	assert_int_equal(plan_steps_parse("", steps, &n), -1);
	assert_int_equal(plan_steps_parse("0", steps, &n), -1);
	assert_int_equal(plan_steps_parse("101%", steps, &n), -1);
	assert_int_equal(plan_steps_parse("0%", steps, &n), -1);
	assert_int_equal(plan_steps_parse("1,", steps, &n), -1);
	assert_int_equal(plan_steps_parse(",1", steps, &n), -1);
	assert_int_equal(plan_steps_parse("1%%", steps, &n), -1);
	assert_int_equal(plan_steps_parse("-1", steps, &n), -1);
	assert_int_equal(plan_steps_parse("99999999999", steps, &n), -1);
	assert_int_equal(plan_pauses_parse("1,3", pauses, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(plan_pauses_parse("", pauses, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(plan_pauses_parse("3,1", pauses, &n), -1); /* ascending only */
	assert_int_equal(plan_pauses_parse("2%", pauses, &n), -1);
	assert_int_equal(plan_pauses_format(pauses, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void expect_time(const char *text, int64_t want)
{
	int64_t ms = -1;

	assert_int_equal(rfc3339_to_ms(text, &ms), 0);
	assert_int_equal(ms, want);
}

static void test_rfc3339_input(void **state)
{
	int64_t ms;

	(void)state;
	expect_time("2026-11-22T04:19:32Z", 1795321172000LL);
	expect_time("2026-11-22T04:19:32.5Z", 1795321172500LL);
	expect_time("2026-11-22T04:19:32.123456789Z", 1795321172123LL);
	expect_time("2026-11-22t04:19:32z", 1795321172000LL);
	expect_time("2026-11-22T06:19:32+02:00", 1795321172000LL);
	expect_time("2026-11-21T23:49:32-04:30", 1795321172000LL);
	expect_time("1970-01-01T00:00:00Z", 0);
	expect_time("2028-02-29T00:00:00Z", 1835395200000LL); /* a leap day */
	expect_time("9999-12-31T23:59:59.999Z", 253402300799999LL);
	assert_int_equal(rfc3339_to_ms("2026-11-22T04:19:32", &ms), -1); /* no offset */
	assert_int_equal(rfc3339_to_ms("2026-11-22 04:19:32Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-13-01T00:00:00Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2027-02-29T00:00:00Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-31T00:00:00Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-22T24:00:00Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-22T23:59:60Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-22T04:19:32.Z", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-22T04:19:32Z ", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-22T04:19:32+0200", &ms), -1);
	assert_int_equal(rfc3339_to_ms("2026-11-22T04:19:32+24:00", &ms), -1);
	assert_int_equal(rfc3339_to_ms("tomorrow", &ms), -1);
	assert_int_equal(rfc3339_to_ms("", &ms), -1);
	assert_int_equal(rfc3339_to_ms(NULL, &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cut_like_ansible),
	    cmocka_unit_test(test_cut_percent_is_exact),
	    cmocka_unit_test(test_cut_one_node_and_big_steps),
	    cmocka_unit_test(test_allowance),
	    cmocka_unit_test(test_pauses),
	    cmocka_unit_test(test_schedule),
	    cmocka_unit_test(test_text_forms),
	    cmocka_unit_test(test_rfc3339_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
