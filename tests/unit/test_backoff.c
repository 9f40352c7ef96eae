/* Unit tests of internal/core/backoff: every policy's range per try, and its docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/backoff.h"

/* Every wait of try n lies in [lo, hi]; over many draws both ends are approached. */
static void check_range(const struct backoff *b, int n, int64_t lo, int64_t hi)
{
	unsigned int seed = 7;
	int64_t min = INT64_MAX, max = 0;

	for (int i = 0; i < 2000; i++) {
		int64_t d = backoff_ms(b, n, &seed);

		assert_true(d >= lo && d <= hi);
		min = d < min ? d : min;
		max = d > max ? d : max;
	}
	/* Jittered draws spread over the range; an unjittered policy is exact. */
	assert_true(min - lo <= (hi - lo) / 10);
	assert_true(hi - max <= (hi - lo) / 10);
}

static void test_agent(void **state)
{
	(void)state;
	check_range(&backoff_agent, 1, 125, 250);
	check_range(&backoff_agent, 2, 250, 500);
	check_range(&backoff_agent, 6, 4000, 8000);
	check_range(&backoff_agent, 7, 4000, 8000); /* capped at 8 s */
	check_range(&backoff_agent, 20, 4000, 8000);
}

static void test_webhook(void **state)
{
	(void)state;
	check_range(&backoff_webhook, 1, 500, 1000);
	check_range(&backoff_webhook, 4, 4000, 8000);
	check_range(&backoff_webhook, 30, 150000, 300000); /* capped at 5 min */
	check_range(&backoff_webhook, 1000, 150000, 300000);
}

static void test_db_has_no_jitter(void **state)
{
	(void)state;
	assert_int_equal(backoff_ms(&backoff_db, 1, NULL), 250);
	assert_int_equal(backoff_ms(&backoff_db, 2, NULL), 500);
	assert_int_equal(backoff_ms(&backoff_db, 5, NULL), 4000);
	assert_int_equal(backoff_ms(&backoff_db, 6, NULL), 5000);
	assert_int_equal(backoff_ms(&backoff_db, 1000000, NULL), 5000);
}

static void test_tx(void **state)
{
	(void)state;
	check_range(&backoff_tx, 1, 5, 20);
	check_range(&backoff_tx, 2, 10, 40);
	check_range(&backoff_tx, 5, 80, 320);
	check_range(&backoff_tx, 9, 80, 320);
}

/* The settings table and the README quote the _DOC strings: they must say the numbers. */
static void test_docs_match_numbers(void **state)
{
	char buf[128];

	(void)state;
	backoff_describe(&backoff_agent, buf, sizeof(buf));
	assert_string_equal(buf, BACKOFF_AGENT_DOC);
	backoff_describe(&backoff_webhook, buf, sizeof(buf));
	assert_string_equal(buf, BACKOFF_WEBHOOK_DOC);
	backoff_describe(&backoff_db, buf, sizeof(buf));
	assert_string_equal(buf, BACKOFF_DB_DOC);
	backoff_describe(&backoff_tx, buf, sizeof(buf));
	assert_string_equal(buf, BACKOFF_TX_DOC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agent),
	    cmocka_unit_test(test_webhook),
	    cmocka_unit_test(test_db_has_no_jitter),
	    cmocka_unit_test(test_tx),
	    cmocka_unit_test(test_docs_match_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
