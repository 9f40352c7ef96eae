/* Unit tests of core/strbuf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/strbuf.h"

static void test_empty_is_a_string(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.len, 0);
	strbuf_free(&sb); /* releasing an unused buffer is fine */
	assert_string_equal(sb.buf, "");
}

static void test_adds_and_grows(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	strbuf_adds(&sb, "UPDATE t SET x = CASE id");
	for (int i = 0; i < 1000; i++)
		strbuf_adds(&sb, " WHEN ? THEN ?");
	strbuf_addf(&sb, " END WHERE id IN (%d)", 42);
	assert_false(sb.failed);
	assert_int_equal(sb.len, strlen(sb.buf));
	assert_int_equal(sb.len, 24 + 1000 * 14 + 21);
	assert_true(sb.alloc > sb.len);
	assert_string_equal(sb.buf + sb.len - 21, " END WHERE id IN (42)");
	strbuf_free(&sb);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
}

static void test_add_bytes(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	strbuf_add(&sb, "abcdef", 3);
	strbuf_add(&sb, "", 0);
	strbuf_addf(&sb, "%s-%05d", "x", 7);
	assert_string_equal(sb.buf, "abcx-00007");
	strbuf_free(&sb);
}

static void test_reset_keeps_nothing_of_the_old_text(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	strbuf_reset(&sb); /* never writes the shared empty string */
	assert_string_equal(sb.buf, "");
	strbuf_adds(&sb, "first line");
	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	strbuf_adds(&sb, "two");
	assert_string_equal(sb.buf, "two");
	strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_is_a_string),
	    cmocka_unit_test(test_adds_and_grows),
	    cmocka_unit_test(test_add_bytes),
	    cmocka_unit_test(test_reset_keeps_nothing_of_the_old_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
