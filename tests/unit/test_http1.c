/* Unit tests of agentclient/http1: the framing of every answer an agent can send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agentclient/http1.h"

#define MAX (64 * 1024)

static int parse(const char *s, int eof, struct http1_answer *a)
{
	return http1_parse(s, strlen(s), eof, MAX, a);
}

/* The decoded body of a DONE answer, NUL-terminated (static buffer). */
static const char *body_of(const char *s, const struct http1_answer *a)
{
	static char out[1024];
	size_t n = http1_dechunk(s, a, out);

	out[n] = '\0';
	return out;
}

static void test_content_length(void **state)
{
	const char *s = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
	                "Content-Length: 15\r\n\r\n{\"task_id\":\"t\"}";
	struct http1_answer a;

	(void)state;
	assert_int_equal(parse(s, 0, &a), HTTP1_DONE);
	assert_int_equal(a.status, 202);
	assert_int_equal(a.keep_alive, 1);
	assert_int_equal(a.end, strlen(s));
	assert_string_equal(body_of(s, &a), "{\"task_id\":\"t\"}");
}

static void test_every_prefix_needs_more(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct http1_answer a;

	(void)state;
	for (size_t n = 0; n < strlen(s); n++)
		assert_int_equal(http1_parse(s, n, 0, MAX, &a), HTTP1_MORE);
	/* The same prefixes at the connection's end are broken answers. */
	for (size_t n = 1; n < strlen(s); n++)
		assert_int_equal(http1_parse(s, n, 1, MAX, &a), HTTP1_BAD);
}

static void test_chunked(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                "4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\nX-Trailer: y\r\n\r\n";
	struct http1_answer a;

	(void)state;
	assert_int_equal(parse(s, 0, &a), HTTP1_DONE);
	assert_int_equal(a.chunked, 1);
	assert_int_equal(a.body_len, 7);
	assert_int_equal(a.end, strlen(s));
	assert_string_equal(body_of(s, &a), "{\"a\":1}");
	for (size_t n = 0; n < strlen(s); n++)
		assert_int_equal(http1_parse(s, n, 0, MAX, &a), HTTP1_MORE);
}

static void test_bare_lf_and_interim(void **state)
{
	const char *s = "HTTP/1.1 100 Continue\n\nHTTP/1.1 404 Not Found\nContent-Length: 0\n\n";
	struct http1_answer a;

	(void)state;
	assert_int_equal(parse(s, 0, &a), HTTP1_DONE);
	assert_int_equal(a.status, 404);
	assert_int_equal(a.body_len, 0);
}

static void test_connection_rules(void **state)
{
	struct http1_answer a;

	(void)state;
	assert_int_equal(
	    parse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", 0, &a),
	    HTTP1_DONE);
	assert_int_equal(a.keep_alive, 0);
	assert_int_equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0, &a), HTTP1_DONE);
	assert_int_equal(a.keep_alive, 0);
	assert_int_equal(
	    parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0, &a),
	    HTTP1_DONE);
	assert_int_equal(a.keep_alive, 1);
	/* No length: the body is what came before the connection closed. */
	assert_int_equal(parse("HTTP/1.1 500 Oops\r\n\r\n<html>", 0, &a), HTTP1_MORE);
	assert_int_equal(parse("HTTP/1.1 500 Oops\r\n\r\n<html>", 1, &a), HTTP1_DONE);
	assert_int_equal(a.keep_alive, 0);
	assert_int_equal(a.body_len, 6);
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", 0, &a), HTTP1_DONE);
}

static void test_retry_after(void **state)
{
	struct http1_answer a;

	(void)state;
	assert_int_equal(
	    parse("HTTP/1.1 429 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", 0, &a),
	    HTTP1_DONE);
	assert_int_equal(a.retry_after_s, 7);
	assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n"
	                       "Content-Length: 0\r\n\r\n",
	                       0, &a),
	                 HTTP1_DONE);
	assert_int_equal(a.retry_after_s, 0);
}

static void test_refuses_bad_framing(void **state)
{
	static const char *const bad[] = {
	    "SSH-2.0-OpenSSH_9.2\r\n\r\n",
	    "HTTP/2 200\r\n\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
	    "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	};
	struct http1_answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], 0, &a), HTTP1_BAD);
		assert_true(a.why[0] != '\0');
	}
}

static void test_limits(void **state)
{
	struct http1_answer a;
	size_t n = HTTP1_HEAD_MAX + 64;
	char *big = malloc(n + 1);

	(void)state;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\n", 0, &a),
	                 HTTP1_BIG);
	assert_int_equal(
	    parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 0, &a),
	    HTTP1_BIG);
	assert_non_null(big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', n - 20);
	big[n] = '\0';
	assert_int_equal(parse(big, 0, &a), HTTP1_BAD);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_length),
	    cmocka_unit_test(test_every_prefix_needs_more),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_bare_lf_and_interim),
	    cmocka_unit_test(test_connection_rules),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_refuses_bad_framing),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
