/* Unit tests of guard: per-address connection counts and the deadline lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "guard/guard.h"

static struct guard_addr v4(const char *text)
{
	struct guard_addr a;

	assert_int_equal(guard_addr_parse(text, strlen(text), &a), 0);
	return a;
}

static void test_addr_parse(void **state)
{
	struct guard_addr a, b;
	struct in_addr in;

	(void)state;
	a = v4("127.0.8.1");
	inet_pton(AF_INET, "127.0.8.1", &in);
	guard_addr_v4(&b, in.s_addr);
	assert_memory_equal(&a, &b, sizeof(a));
	/* The same address written as IPv4-mapped IPv6 is the same client. */
	b = v4("::ffff:127.0.8.1");
	assert_memory_equal(&a, &b, sizeof(a));
	b = v4("2001:db8::1");
	assert_memory_not_equal(&a, &b, sizeof(a));
	assert_int_equal(guard_addr_parse("127.0.8", 7, &a), -1);
	assert_int_equal(guard_addr_parse("", 0, &a), -1);
	assert_int_equal(guard_addr_parse("10.0.0.1 ", 9, &a), -1);
	/* Only len bytes count: "10.0.0.1" out of "10.0.0.12". */
	assert_int_equal(guard_addr_parse("10.0.0.12", 8, &a), 0);
	b = v4("10.0.0.1");
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_cap_per_address(void **state)
{
	struct guard_table *t = guard_table_new();
	struct guard_addr a = v4("127.0.8.1"), b = v4("127.0.8.2");

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 3; i++)
		assert_int_equal(guard_acquire(t, &a, 3), 0);
	assert_int_equal(guard_acquire(t, &a, 3), -1);
	assert_int_equal(guard_count(t, &a), 3);
	/* Another address has its own count. */
	assert_int_equal(guard_acquire(t, &b, 3), 0);
	assert_int_equal(guard_addresses(t), 2);
	guard_release(t, &a);
	assert_int_equal(guard_count(t, &a), 2);
	assert_int_equal(guard_acquire(t, &a, 3), 0);
	for (int i = 0; i < 3; i++)
		guard_release(t, &a);
	guard_release(t, &b);
	assert_int_equal(guard_count(t, &a), 0);
	assert_int_equal(guard_addresses(t), 0);
	/* Releasing what was never acquired changes nothing. */
	guard_release(t, &a);
	assert_int_equal(guard_addresses(t), 0);
	guard_table_free(t);
}

/* Many addresses, acquired and released in a shuffled order, against plain arrays. */
static void test_many_addresses(void **state)
{
	enum { N = 3000, OPS = 200000 };
	struct guard_table *t = guard_table_new();
	static int model[N];
	static struct guard_addr addrs[N];
	size_t live = 0;

	(void)state;
	srand(7);
	for (int i = 0; i < N; i++) {
		uint32_t ip = htonl(0x0a000000u + (uint32_t)i * 7919u);

		guard_addr_v4(&addrs[i], ip);
	}
	for (int op = 0; op < OPS; op++) {
		int i = rand() % N;

		if (rand() % 2) {
			int rc = guard_acquire(t, &addrs[i], 4);

			assert_int_equal(rc, model[i] < 4 ? 0 : -1);
			if (rc == 0 && model[i]++ == 0)
				live++;
		} else if (model[i]) {
			guard_release(t, &addrs[i]);
			if (--model[i] == 0)
				live--;
		}
		if (op % 1000 == 0)
			for (int k = 0; k < N; k++)
				assert_int_equal(guard_count(t, &addrs[k]), model[k]);
	}
	assert_int_equal(guard_addresses(t), live);
	for (int k = 0; k < N; k++)
		while (model[k]--)
			guard_release(t, &addrs[k]);
	assert_int_equal(guard_addresses(t), 0);
	guard_table_free(t);
}

static void test_timers_order(void **state)
{
	static const int64_t limits[GUARD_PHASES] = {5000, 10000, 2000, 10000};
	struct guard_timers ts;
	struct guard_timer a = GUARD_TIMER_INIT, b = GUARD_TIMER_INIT, c = GUARD_TIMER_INIT;

	(void)state;
	guard_timers_init(&ts, limits);
	assert_null(guard_timer_next(&ts));
	guard_timer_set(&ts, &a, GUARD_HEADER, 1000); /* 6000 */
	guard_timer_set(&ts, &b, GUARD_HEADER, 1500); /* 6500 */
	guard_timer_set(&ts, &c, GUARD_IDLE, 3000);   /* 5000: the earliest of all */
	assert_ptr_equal(guard_timer_next(&ts), &c);
	assert_int_equal(c.deadline, 5000);
	assert_ptr_equal(guard_timer_first(&ts, GUARD_HEADER), &a);
	/* c leaves for a phase without a deadline: a is next. */
	guard_timer_set(&ts, &c, GUARD_NONE, 3100);
	assert_ptr_equal(guard_timer_next(&ts), &a);
	assert_null(guard_timer_first(&ts, GUARD_IDLE));
	/* Setting a again moves it behind b, with a later deadline. */
	guard_timer_set(&ts, &a, GUARD_HEADER, 2000);
	assert_ptr_equal(guard_timer_first(&ts, GUARD_HEADER), &b);
	assert_int_equal(a.deadline, 7000);
	/* a moves to another phase; b is the only header timer left. */
	guard_timer_set(&ts, &a, GUARD_BODY, 2500);
	assert_ptr_equal(guard_timer_first(&ts, GUARD_HEADER), &b);
	assert_null(b.next);
	assert_ptr_equal(guard_timer_next(&ts), &b);
	guard_timer_set(&ts, &b, GUARD_NONE, 2600);
	assert_ptr_equal(guard_timer_next(&ts), &a);
	assert_int_equal(a.deadline, 12500);
	guard_timer_set(&ts, &a, GUARD_NONE, 2700);
	assert_null(guard_timer_next(&ts));
	/* Clearing a cleared timer is harmless. */
	guard_timer_set(&ts, &a, GUARD_NONE, 2800);
	assert_null(guard_timer_next(&ts));
}

/* The middle of a list leaves it and the rest keeps its order. */
static void test_timers_middle(void **state)
{
	static const int64_t limits[GUARD_PHASES] = {100, 100, 100, 100};
	struct guard_timers ts;
	struct guard_timer t[5];

	(void)state;
	guard_timers_init(&ts, limits);
	for (int i = 0; i < 5; i++) {
		struct guard_timer z = GUARD_TIMER_INIT;

		t[i] = z;
		guard_timer_set(&ts, &t[i], GUARD_SEND, i);
	}
	guard_timer_set(&ts, &t[2], GUARD_NONE, 10);
	guard_timer_set(&ts, &t[4], GUARD_NONE, 10);
	guard_timer_set(&ts, &t[0], GUARD_SEND, 10);
	{
		static const int want[] = {1, 3, 0};
		struct guard_timer *p = guard_timer_first(&ts, GUARD_SEND);

		for (int i = 0; i < 3; i++, p = p->next)
			assert_ptr_equal(p, &t[want[i]]);
		assert_null(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_parse),     cmocka_unit_test(test_cap_per_address),
	    cmocka_unit_test(test_many_addresses), cmocka_unit_test(test_timers_order),
	    cmocka_unit_test(test_timers_middle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
