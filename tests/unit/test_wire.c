/* Unit tests of api/v1/front/wire: request heads, what civetweb gets, answers, PROXY v1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/v1/front/wire.h"

#define BODY_MAX (1024 * 1024)

static int parse(const char *s, struct wire_request *r)
{
	return wire_request_parse(s, strlen(s), BODY_MAX, r);
}

/* The status a request head is refused with, 0 when it is accepted, -1 for MORE. */
static int refusal(const char *s)
{
	struct wire_request r;
	int rc = parse(s, &r);

	return rc == WIRE_BAD ? r.status : rc == WIRE_DONE ? 0 : -1;
}

/* The one route with a larger body limit is matched on method and path, query aside. */
static void test_request_is(void **state)
{
	static const struct {
		const char *head;
		int is;
	} cases[] = {
	    {"POST /api/v1/nodes/import HTTP/1.1\r\nHost: x\r\n\r\n", 1},
	    {"POST /api/v1/nodes/import?dry_run=1 HTTP/1.1\r\nHost: x\r\n\r\n", 1},
	    {"\r\nPOST /api/v1/nodes/import HTTP/1.1\r\nHost: x\r\n\r\n", 1},
	    {"PUT /api/v1/nodes/import HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	    {"POST /api/v1/nodes/importx HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	    {"POST /api/v1/nodes/impor HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	    {"POST /api/v1/nodes HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	    {"POST /api/v1/nodes/import/ HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	    {"POSTS /api/v1/nodes/import HTTP/1.1\r\nHost: x\r\n\r\n", 0},
	};
	struct wire_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].head, &r), WIRE_DONE);
		assert_int_equal(wire_request_is(cases[i].head, &r, "POST", "/api/v1/nodes/import"),
		                 cases[i].is);
	}
}

static void test_request_complete(void **state)
{
	struct wire_request r;
	const char *s = "POST /api/v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n"
	                "Expect: 100-continue\r\n\r\n{\"hostname\":\"a\"}";

	(void)state;
	assert_int_equal(parse(s, &r), WIRE_DONE);
	assert_int_equal(r.head_len, strlen(s) - 16);
	assert_int_equal(r.content_length, 16);
	assert_int_equal(r.method_len, 4);
	assert_int_equal(r.target_len, strlen("/api/v1/nodes"));
	assert_memory_equal(s + r.target_off, "/api/v1/nodes", r.target_len);
	assert_true(r.keep_alive);
	assert_true(r.expect_continue);
	assert_false(r.http10);
	assert_false(r.head_method);
}

static void test_request_keep_alive(void **state)
{
	struct wire_request r;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r), WIRE_DONE);
	assert_false(r.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n", &r),
	                 WIRE_DONE);
	assert_false(r.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &r), WIRE_DONE);
	assert_false(r.keep_alive);
	assert_true(r.http10);
	assert_int_equal(parse("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", &r), WIRE_DONE);
	assert_true(r.keep_alive);
	assert_int_equal(parse("HEAD /health/live HTTP/1.1\r\n\r\n", &r), WIRE_DONE);
	assert_true(r.head_method);
	/* Empty lines before the request line are skipped. */
	assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n", &r), WIRE_DONE);
	assert_int_equal(r.line_off, 4);
}

static void test_request_more(void **state)
{
	(void)state;
	assert_int_equal(refusal(""), -1);
	assert_int_equal(refusal("GE"), -1);
	assert_int_equal(refusal("GET /api/v1/nodes HTTP/1.1\r"), -1);
	assert_int_equal(refusal("GET /api/v1/nodes HTTP/1.1\r\n"), -1);
	assert_int_equal(refusal("GET /api/v1/nodes HTTP/1.1\r\nX-Trickle: 1\r\n"), -1);
	assert_int_equal(refusal("\r"), -1);
}

static void test_request_refused(void **state)
{
	char *big;

	(void)state;
	/* Garbage is refused as soon as its first bytes arrive, not at the deadline. */
	assert_int_equal(refusal("\x16\x03\x01\x02\x00\x01"), 400);
	assert_int_equal(refusal("GET / HTTP/1.1\n\n"), 400);
	assert_int_equal(refusal("GET  / HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(refusal("GET http://x/ HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(refusal("GET / HTTP/2.0\r\n\r\n"), 505);
	assert_int_equal(refusal("GET / HTTQ/1.1\r\n\r\n"), 400);
	assert_int_equal(refusal("G(T / HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(refusal("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
	assert_int_equal(refusal("GET / HTTP/1.1\r\nName : v\r\n\r\n"), 400);
	assert_int_equal(refusal("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), 400);
	assert_int_equal(refusal("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), 400);
	assert_int_equal(refusal("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), 400);
	/* Lengths: digits only, never two different ones, never with Transfer-Encoding. */
	assert_int_equal(refusal("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n"), 400);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"), 400);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
	                 400);
	assert_int_equal(
	    refusal("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"), 400);
	assert_int_equal(
	    refusal("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n"), 0);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 411);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n"), 413);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n"), 0);
	assert_int_equal(refusal("POST / HTTP/1.1\r\nExpect: magic\r\n\r\n"), 417);
	/* Sizes: the head, the request line alone, the number of fields. */
	big = malloc(WIRE_HEAD_MAX + 64);
	assert_non_null(big);
	snprintf(big, WIRE_HEAD_MAX + 64, "GET / HTTP/1.1\r\nX-Junk: ");
	memset(big + strlen(big), 'a', WIRE_HEAD_MAX);
	big[WIRE_HEAD_MAX + 20] = '\0';
	assert_int_equal(refusal(big), 431);
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', WIRE_HEAD_MAX);
	big[WIRE_HEAD_MAX + 5] = '\0';
	assert_int_equal(refusal(big), 414);
	free(big);
	{
		struct strbuf many = STRBUF_INIT;

		strbuf_adds(&many, "GET / HTTP/1.1\r\n");
		for (int i = 0; i <= WIRE_HEADERS_MAX; i++)
			strbuf_adds(&many, "A: b\r\n");
		strbuf_adds(&many, "\r\n");
		assert_int_equal(refusal(many.buf), 431);
		strbuf_free(&many);
	}
}

static void test_request_upstream(void **state)
{
	struct wire_request r;
	struct strbuf out = STRBUF_INIT;
	const char *s = "POST /api/v1/releases?x=1 HTTP/1.0\r\nHost: cmdb\r\n"
	                "Connection: keep-alive, X-Foo\r\nKeep-Alive: timeout=5\r\n"
	                "Content-Length:  2 \r\nExpect: 100-continue\r\nX-Cmdb-Front: forged\r\n"
	                "x-cmdb-principal: cert:admin\r\nAuthorization: Bearer t\r\n"
	                "Upgrade: websocket\r\nAccept:\t*/*\t\r\n\r\n{}";

	(void)state;
	assert_int_equal(parse(s, &r), WIRE_DONE);
	wire_request_upstream(s, &r, "k3y", "", &out);
	assert_false(out.failed);
	assert_string_equal(out.buf, "POST /api/v1/releases?x=1 HTTP/1.1\r\nHost: cmdb\r\n"
	                             "Authorization: Bearer t\r\nAccept: */*\r\n"
	                             "Content-Length: 2\r\nX-Cmdb-Front: k3y\r\n\r\n");
	strbuf_reset(&out);
	assert_int_equal(parse("GET /api/v1/nodes HTTP/1.1\r\n\r\n", &r), WIRE_DONE);
	wire_request_upstream("GET /api/v1/nodes HTTP/1.1\r\n\r\n", &r, "k", "cert:ops", &out);
	assert_string_equal(out.buf, "GET /api/v1/nodes HTTP/1.1\r\nX-Cmdb-Front: k\r\n"
	                             "X-Cmdb-Principal: cert:ops\r\n\r\n");
	strbuf_free(&out);
}

static void test_answer(void **state)
{
	struct wire_answer a;
	struct strbuf out = STRBUF_INIT;
	const char *s = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
	                "Content-Length: 12\r\nConnection: keep-alive\r\nKeep-Alive: x\r\n\r\n";

	(void)state;
	assert_int_equal(wire_answer_parse(s, strlen(s) - 4, &a), WIRE_MORE);
	assert_int_equal(wire_answer_parse(s, strlen(s), &a), WIRE_DONE);
	assert_int_equal(a.head_len, strlen(s));
	assert_int_equal(a.status, 201);
	assert_int_equal(a.content_length, 12);
	assert_false(a.close);
	assert_int_equal(wire_answer_body(&a, 0), 12);
	assert_int_equal(wire_answer_body(&a, 1), 0);
	wire_answer_head(s, &a, 0, &out);
	assert_string_equal(out.buf, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
	                             "Content-Length: 12\r\nConnection: close\r\n\r\n");
	strbuf_free(&out);

	s = "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n";
	assert_int_equal(wire_answer_parse(s, strlen(s), &a), WIRE_DONE);
	assert_true(a.close);
	assert_int_equal(wire_answer_body(&a, 0), -1);
	s = "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n";
	assert_int_equal(wire_answer_parse(s, strlen(s), &a), WIRE_DONE);
	assert_int_equal(wire_answer_body(&a, 0), 0);
	s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	assert_int_equal(wire_answer_parse(s, strlen(s), &a), WIRE_DONE);
	assert_true(a.chunked);
	assert_int_equal(wire_answer_parse("HTTP/1.1 2x0 OK\r\n\r\n", 19, &a), WIRE_BAD);
	assert_int_equal(wire_answer_parse("SSH-2.0\r\n\r\n", 11, &a), WIRE_BAD);
	/* A bare line feed in the status line would smuggle a header past the rewrite. */
	s = "HTTP/1.1 200 OK\nConnection: keep-alive\r\n\r\n";
	assert_int_equal(wire_answer_parse(s, strlen(s), &a), WIRE_BAD);
	s = "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n";
	assert_int_equal(wire_answer_parse(s, strlen(s), &a), WIRE_BAD);
}

static void test_error(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	wire_error(408, "request \"headers\" not in time", &out);
	assert_string_equal(out.buf,
	                    "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
	                    "Content-Length: 44\r\nCache-Control: no-store\r\nConnection: close"
	                    "\r\n\r\n{\"error\":\"request \\\"headers\\\" not in time\"}\n");
	strbuf_free(&out);
}

static void test_proxy(void **state)
{
	struct guard_addr src, want;
	size_t used = 0;
	int known = -1;
	const char *s = "PROXY TCP4 127.0.8.7 127.0.0.1 51234 8443\r\nGET";

	(void)state;
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_DONE);
	assert_int_equal(used, strlen(s) - 3);
	assert_int_equal(known, 1);
	assert_int_equal(guard_addr_parse("127.0.8.7", 9, &want), 0);
	assert_memory_equal(&src, &want, sizeof(src));
	s = "PROXY TCP6 2001:db8::1 ::1 443 8443\r\n";
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_DONE);
	assert_int_equal(guard_addr_parse("2001:db8::1", 11, &want), 0);
	assert_memory_equal(&src, &want, sizeof(src));
	s = "PROXY UNKNOWN\r\n";
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_DONE);
	assert_int_equal(known, 0);
	assert_int_equal(wire_proxy_parse("PROX", 4, &used, &src, &known), WIRE_MORE);
	assert_int_equal(wire_proxy_parse("PROXY TCP4 1.2.3.4", 18, &used, &src, &known),
	                 WIRE_MORE);
	assert_int_equal(wire_proxy_parse("GET / HTTP/1.1\r\n", 16, &used, &src, &known), WIRE_BAD);
	s = "PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n";
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_BAD);
	s = "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n";
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_BAD);
	s = "PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n";
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_BAD);
	s = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n";
	assert_int_equal(wire_proxy_parse(s, strlen(s), &used, &src, &known), WIRE_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_complete),
	    cmocka_unit_test(test_request_is),
	    cmocka_unit_test(test_request_keep_alive),
	    cmocka_unit_test(test_request_more),
	    cmocka_unit_test(test_request_refused),
	    cmocka_unit_test(test_request_upstream),
	    cmocka_unit_test(test_answer),
	    cmocka_unit_test(test_error),
	    cmocka_unit_test(test_proxy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
