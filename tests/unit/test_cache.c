/* Unit tests of api/v1/cache (LRU of rendered bodies) and the poll schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <zlib.h>

#include "api/v1/cache.h"
#include "core/core.h"
#include "release/poll.h"

static int has(struct api_cache *c, const char *key, const char *want)
{
	struct api_blob *b = api_cache_get(c, key);
	const char *body;
	size_t len = 0;
	int hit = b != NULL;

	if (b) {
		body = api_blob_body(b, 0, &len);
		if (want)
			assert_memory_equal(body, want, strlen(want));
		api_blob_unref(b);
	}
	return hit;
}

static void test_cache_hit_miss_replace(void **state)
{
	struct api_cache *c = api_cache_new(4, 1000);

	(void)state;
	assert_false(has(c, "1/0/-1", NULL));
	api_cache_put(c, "1/0/-1", "{\"a\":1}", 7, 0);
	assert_true(has(c, "1/0/-1", "{\"a\":1}"));
	api_cache_put(c, "1/0/-1", "{\"a\":2}", 7, 0);
	assert_true(has(c, "1/0/-1", "{\"a\":2}"));
	assert_false(has(c, "1/1/-1", NULL));
	api_cache_free(c);
}

static void test_cache_evicts_least_recently_used(void **state)
{
	struct api_cache *c = api_cache_new(2, 1000);

	(void)state;
	api_cache_put(c, "a", "1", 1, 0);
	api_cache_put(c, "b", "2", 1, 0);
	assert_true(has(c, "a", "1")); /* a is now more recent than b */
	api_cache_put(c, "c", "3", 1, 0);
	assert_true(has(c, "a", "1"));
	assert_false(has(c, "b", NULL));
	assert_true(has(c, "c", "3"));
	api_cache_free(c);
}

static void test_cache_respects_byte_budget(void **state)
{
	struct api_cache *c = api_cache_new(16, 400);
	char big[101];

	(void)state;
	memset(big, 'x', 100);
	big[100] = '\0';
	api_cache_put(c, "too-big", big, 101, 0); /* over a quarter of the budget: skipped */
	assert_false(has(c, "too-big", NULL));
	for (int i = 0; i < 5; i++) {
		char key[8];

		snprintf(key, sizeof(key), "k%d", i);
		api_cache_put(c, key, big, 100, 0);
	}
	assert_false(has(c, "k0", NULL)); /* 5 x 100 > 400: the oldest went */
	assert_true(has(c, "k4", NULL));
	api_cache_free(c);
}

/* An entry with a time to live goes once it has passed; a prefix drop takes a release's keys. */
static void test_cache_ttl_and_drop(void **state)
{
	struct api_cache *c = api_cache_new(8, 1000);
	int64_t start = now_mono_ms();

	(void)state;
	api_cache_put(c, "7/0/-1", "x", 1, 5);
	api_cache_put(c, "7/1/-1", "y", 1, 0);
	api_cache_put(c, "70/0/-1", "z", 1, 0);
	assert_true(has(c, "7/1/-1", "y"));
	while (has(c, "7/0/-1", NULL) && now_mono_ms() - start < 2000)
		;
	/* Stale: that caller missed, to render it again; the others still get the body. */
	assert_true(now_mono_ms() - start >= 5);
	assert_true(has(c, "7/0/-1", "x"));
	assert_true(has(c, "7/0/-1", "x"));
	api_cache_put(c, "7/0/-1", "x2", 2, 60000); /* the refresher puts it back */
	assert_true(has(c, "7/0/-1", "x2"));
	assert_true(has(c, "7/1/-1", "y")); /* no time to live: still there */
	api_cache_drop_prefix(c, "7/");
	assert_false(has(c, "7/1/-1", NULL));
	assert_true(has(c, "70/0/-1", "z"));
	api_cache_free(c);
}

/* A body is kept compressed too, and decompresses to itself; a reference outlives eviction. */
static void test_cache_gzip_and_references(void **state)
{
	struct api_cache *c = api_cache_new(1, 1 << 20);
	char body[4096], out[4096];
	struct api_blob *b;
	const char *gz;
	size_t gzlen = 0, len;
	z_stream z;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = "{\"node\":1},"[i % 11];
	api_cache_put(c, "k", body, sizeof(body), 0);
	b = api_cache_get(c, "k");
	assert_non_null(b);
	gz = api_blob_body(b, 1, &gzlen);
	assert_non_null(gz);
	assert_true(gzlen < sizeof(body) / 10);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (Bytef *)out;
	z.avail_out = sizeof(out);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, sizeof(body));
	inflateEnd(&z);
	assert_memory_equal(out, body, sizeof(body));
	api_cache_put(c, "other", "x", 1, 0); /* evicts "k": b stays valid */
	assert_memory_equal(api_blob_body(b, 0, &len), body, sizeof(body));
	assert_int_equal(len, sizeof(body));
	api_blob_unref(b);
	/* Too short to shrink: no compressed form. */
	b = api_cache_get(c, "other");
	assert_null(api_blob_body(b, 1, &gzlen));
	api_blob_unref(b);
	api_cache_free(c);
}

static void test_poll_schedule(void **state)
{
	(void)state;
	struct poll_estimate e = {0};
	int seen[10] = {0}, distinct = 0;

	/* Nothing learned: a first poll comes min_ms and one of ten steps of it after. */
	for (uint64_t salt = 1; salt <= 200; salt++) {
		int d = release_poll_delay_ms(0, NULL, 20, 2000, salt);

		assert_true(d >= 20 && d < 40 && d % 2 == 0);
		if (!seen[(d - 20) / 2]++)
			distinct++;
		/* The same node always gets the same step. */
		assert_int_equal(release_poll_delay_ms(3, NULL, 20, 2000, salt), d);
	}
	assert_true(distinct >= 8);
	/* The later polls follow the age-based schedule alone. */
	assert_int_equal(release_poll_delay_ms(150, NULL, 20, 2000, 7), 20);
	assert_int_equal(release_poll_delay_ms(1000, NULL, 20, 2000, 7), 100);
	assert_int_equal(release_poll_delay_ms(600000, NULL, 20, 2000, 7), 2000);
	assert_int_equal(release_poll_delay_ms(50, &e, 50, 2000, 7), 50);
	assert_int_equal(release_poll_learn(&e, 240), 1); /* the first end */
	assert_int_equal(release_poll_learn(&e, 200), 1); /* a shorter one */
	assert_int_equal(release_poll_learn(&e, 260), 0);
	assert_int_equal(e.shortest_ms, 200);
	assert_int_equal(release_poll_margin_ms(200), POLL_MARGIN_MIN_MS);
	assert_int_equal(release_poll_margin_ms(1000), 50);
	/* A fresh dispatch waits for the shortest apply and its margin, whatever the salt. */
	assert_int_equal(release_poll_delay_ms(0, &e, 50, 2000, 7), 210);
	assert_int_equal(release_poll_delay_ms(0, &e, 50, 2000, 8), 210);
	assert_int_equal(release_poll_delay_ms(100, &e, 50, 2000, 7), 110);
	/* Past that point, the age-based schedule and its floor. */
	assert_int_equal(release_poll_delay_ms(180, &e, 50, 2000, 7), 50);
	assert_int_equal(release_poll_delay_ms(1000, &e, 50, 2000, 7), 100);
	/*
	 * A long apply: the wait goes in equal steps of about the keep-alive step, the last
	 * one landing on the apply and its margin (1,050 ms: four steps of 263).
	 */
	assert_int_equal(release_poll_learn(&e, -5), 0); /* ignored */
	e = (struct poll_estimate){0};
	release_poll_learn(&e, 1000);
	assert_int_equal(release_poll_delay_ms(0, &e, 50, 2000, 7), 263);
	assert_int_equal(release_poll_delay_ms(263, &e, 50, 2000, 7), 263);
	assert_int_equal(release_poll_delay_ms(500, &e, 50, 2000, 7), 275);
	/* Never a step of more than one and a half keep-alive steps. */
	assert_int_equal(release_poll_delay_ms(676, &e, 50, 2000, 7), 374);
	assert_int_equal(release_poll_delay_ms(674, &e, 50, 2000, 7), 188);
	assert_int_equal(release_poll_delay_ms(800, &e, 50, 2000, 7), POLL_KEEPALIVE_MS);
	assert_int_equal(release_poll_delay_ms(900, &e, 50, 2000, 7), 150);
	assert_int_equal(release_poll_delay_ms(1100, &e, 50, 2000, 7), 110);
	/* Never past the ceiling. */
	assert_int_equal(release_poll_delay_ms(0, &e, 50, 100, 7), 100);
}

static void test_rfc3339_round_trip(void **state)
{
	char db[32], rfc[32];
	int64_t ms = 0;

	(void)state;
	format_db_time(1795321172123LL, db, sizeof(db));
	assert_int_equal(db_time_to_rfc3339(db, rfc, sizeof(rfc)), 0);
	assert_int_equal(rfc3339_to_ms(rfc, &ms), 0);
	assert_int_equal(ms, 1795321172123LL);
	assert_int_equal(rfc3339_to_ms("yesterday", &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_hit_miss_replace),
	    cmocka_unit_test(test_cache_evicts_least_recently_used),
	    cmocka_unit_test(test_cache_respects_byte_budget),
	    cmocka_unit_test(test_cache_ttl_and_drop),
	    cmocka_unit_test(test_cache_gzip_and_references),
	    cmocka_unit_test(test_poll_schedule),
	    cmocka_unit_test(test_rfc3339_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
