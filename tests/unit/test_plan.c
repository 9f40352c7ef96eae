/*
 * Unit tests of plan (batch cuts, zone-by-zone cuts, allowance, pauses, schedule) and
 * RFC 3339 input.
 */
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

/* Cuts values (NULL: no label) with steps written as "1,5,20%,50". */
static void cut_groups(const char *steps_text, const char *const *values, int total,
                       struct plan_grouped *g)
{
	struct plan_step steps[PLAN_STEPS_MAX];
	size_t nsteps;

	assert_int_equal(plan_steps_parse(steps_text, steps, &nsteps), 0);
	assert_int_equal(plan_cut_groups(steps, nsteps, values, total, g), 0);
}

static void expect_ints(const int *got, int n, const int *want, int nwant)
{
	assert_int_equal(n, nwant);
	for (int i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
}

/* Zones in the order of their first node, the unlabelled last, batches never mixed. */
static void test_groups(void **state)
{
	static const char *const zones[] = {"a", "b", "a", "c", "b", NULL, "a"};
	static const int order[] = {0, 2, 6, 1, 4, 3, 5};
	static const int sizes[] = {2, 1, 2, 1, 1};
	static const int batch_group[] = {0, 0, 1, 2, 3};
	static const int node_batch[] = {1, 3, 1, 4, 3, 5, 2};
	struct plan_grouped g = PLAN_GROUPED_INIT;

	(void)state;
	cut_groups("2", zones, 7, &g);
	expect_ints(g.order, 7, order, 7);
	expect_ints(g.sizes, g.nbatches, sizes, 5);
	expect_ints(g.batch_group, g.nbatches, batch_group, 5);
	expect_ints(g.node_batch, 7, node_batch, 7);
	assert_int_equal(g.ngroups, 4);
	assert_string_equal(g.groups[0].value, "a");
	assert_int_equal(g.groups[0].nodes, 3);
	assert_int_equal(g.groups[0].first_batch, 1);
	assert_int_equal(g.groups[0].batches, 2);
	assert_string_equal(g.groups[1].value, "b");
	assert_int_equal(g.groups[1].first_batch, 3);
	assert_string_equal(g.groups[2].value, "c");
	assert_null(g.groups[3].value);
	assert_int_equal(g.groups[3].nodes, 1);
	assert_int_equal(g.groups[3].first_batch, 5);
	plan_grouped_free(&g);
	assert_null(g.order);
}

/* Percentages are of the group's size, and the steps start again in each group. */
static void test_groups_percent(void **state)
{
	static const char *const zones[] = {"a", "a", "a", "a", "a", "b", "b", "b"};
	static const int sizes[] = {1, 2, 2, 1, 1, 1};
	static const char *const small[] = {"x", "y", "x", "y", "y", "x", "y"};
	static const int small_sizes[] = {3, 4}; /* batch_size 10: one batch per group */
	static const char *const empty[] = {"", NULL, "", "e"};
	static const int empty_order[] = {0, 2, 3, 1};
	struct plan_grouped g = PLAN_GROUPED_INIT;

	(void)state;
	cut_groups("1,50%", zones, 8, &g); /* 50% of 5 is 2, of 3 is 1 */
	expect_ints(g.sizes, g.nbatches, sizes, 6);
	plan_grouped_free(&g);
	cut_groups("10", small, 7, &g);
	expect_ints(g.sizes, g.nbatches, small_sizes, 2);
	plan_grouped_free(&g);
	cut_groups("1", empty, 4, &g); /* "" is a value, not the missing label */
	assert_int_equal(g.ngroups, 3);
	assert_string_equal(g.groups[0].value, "");
	assert_null(g.groups[2].value);
	expect_ints(g.order, 4, empty_order, 4);
	plan_grouped_free(&g);
}

/* One group, or no node labelled: the same cut as plan_cut, in the order given. */
static void test_groups_one(void **state)
{
	static const char *const texts[] = {"1,5,20%,50", "30%", "3", "100%", "2,50%"};
	const char *same[100], *none[100];
	struct plan_step steps[PLAN_STEPS_MAX];
	int sizes[100];

	(void)state;
	for (int i = 0; i < 100; i++) {
		same[i] = "zone-a";
		none[i] = NULL;
	}
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		for (int total = 1; total <= 100; total += 33) {
			struct plan_grouped g = PLAN_GROUPED_INIT, h = PLAN_GROUPED_INIT;
			size_t nsteps;
			int n;

			assert_int_equal(plan_steps_parse(texts[t], steps, &nsteps), 0);
			n = plan_cut(steps, nsteps, total, sizes);
			cut_groups(texts[t], same, total, &g);
			cut_groups(texts[t], none, total, &h);
			expect_ints(g.sizes, g.nbatches, sizes, n);
			expect_ints(h.sizes, h.nbatches, sizes, n);
			assert_int_equal(g.ngroups, 1);
			assert_int_equal(h.ngroups, 1);
			assert_null(h.groups[0].value);
			for (int i = 0; i < total; i++)
				assert_int_equal(g.order[i], i);
			plan_grouped_free(&g);
			plan_grouped_free(&h);
		}
	}
}

/* Random zones: the invariants hold for every cut. */
static void test_groups_invariants(void **state)
{
	static const char *const pool[] = {"a", "b", "c", "d", "e", "f", NULL};
	static const char *const texts[] = {"1", "1,5,20%,50", "7%", "3,40%", "1000"};
	const char *values[MAX_NODES];
	struct plan_step steps[PLAN_STEPS_MAX];
	unsigned seed = 22;

	(void)state;
	for (int round = 0; round < 200; round++) {
		struct plan_grouped g = PLAN_GROUPED_INIT;
		int total = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % MAX_NODES;
		int kinds = 1 + (int)(seed >> 8) % 7, seen[MAX_NODES] = {0}, at = 0,
		    prev_first = -1;
		const char *text = texts[round % 5];
		size_t nsteps;

		for (int i = 0; i < total; i++)
			values[i] =
			    pool[((seed = seed * 1103515245u + 12345u) >> 16) % (unsigned)kinds];
		assert_int_equal(plan_steps_parse(text, steps, &nsteps), 0);
		cut_groups(text, values, total, &g);
		for (int grp = 0; grp < g.ngroups; grp++) {
			struct plan_group *x = &g.groups[grp];
			int sizes[MAX_NODES], n = plan_cut(steps, nsteps, x->nodes, sizes);

			/* The group's batches are plan_cut's of its size, one after another. */
			expect_ints(g.sizes + x->first_batch - 1, x->batches, sizes, n);
			for (int i = 0; i < x->nodes; i++, at++) {
				int k = g.order[at];

				assert_false(seen[k]);
				seen[k] = 1;
				assert_true(k >= 0 && k < total);
				assert_true(
				    values[k] == x->value ||
				    (values[k] && x->value && strcmp(values[k], x->value) == 0));
				/* Node order within a group, batch numbers ascending. */
				if (i > 0) {
					assert_true(k > g.order[at - 1]);
					assert_true(g.node_batch[k] >=
					            g.node_batch[g.order[at - 1]]);
				}
				assert_int_equal(g.batch_group[g.node_batch[k] - 1], grp);
			}
			/* Groups in the order of their first node, the unlabelled last. */
			if (x->value)
				assert_true(g.order[at - x->nodes] > prev_first);
			prev_first = g.order[at - x->nodes];
			if (grp + 1 < g.ngroups)
				assert_non_null(x->value);
		}
		assert_int_equal(at, total);
		plan_grouped_free(&g);
	}
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
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_groups_percent),
	    cmocka_unit_test(test_groups_one),
	    cmocka_unit_test(test_groups_invariants),
	    cmocka_unit_test(test_rfc3339_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
