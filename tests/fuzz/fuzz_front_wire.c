/*
 * fuzz_front_wire: libFuzzer harness for what the API's front reads from clients and
 * from civetweb (api/v1/front/wire.c). The bytes are judged as a request head, as an
 * answer head and as a PROXY line. The property that matters most: a request the front
 * accepts, rebuilt for civetweb, parses back to the same framing (no smuggling), with
 * the front's key once and no principal a client sent.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "api/v1/front/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_MAX (1024 * 1024)
#define KEY      "0123456789abcdef0123456789abcdef"

/* How many lines of head (a terminated head of len bytes) start with name + ':'. */
static int count_header(const char *head, size_t len, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (size_t i = 0; i + n + 2 < len; i++)
		if (head[i] == '\n' && strncasecmp(head + i + 1, name, n) == 0 &&
		    head[i + 1 + n] == ':')
			count++;
	return count;
}

static void check_request(const char *buf, size_t size)
{
	struct wire_request r, back;
	struct strbuf up = STRBUF_INIT;
	int rc = wire_request_parse(buf, size, BODY_MAX, &r);

	if (rc == WIRE_BAD) {
		assert(r.status == 400 || r.status == 411 || r.status == 413 || r.status == 414 ||
		       r.status == 417 || r.status == 431 || r.status == 505);
		assert(r.why && r.why[0]);
		return;
	}
	if (rc != WIRE_DONE)
		return;
	assert(r.head_len <= size && r.head_len <= WIRE_HEAD_MAX);
	assert(r.target_off + r.target_len <= r.head_len && buf[r.target_off] == '/');
	assert(r.content_length >= 0 && r.content_length <= BODY_MAX);
	wire_request_upstream(buf, &r, KEY, "", &up);
	assert(!up.failed);
	/* civetweb reads exactly the head the front meant, and the same body length. */
	rc = wire_request_parse(up.buf, up.len, BODY_MAX, &back);
	if (rc == WIRE_BAD && back.status == 431 && r.fields > WIRE_HEADERS_MAX - 3) {
		/* More than a client may send, within what civetweb takes (64). */
		assert(back.fields <= WIRE_HEADERS_MAX + 1 && r.fields + 3 <= 64);
		strbuf_free(&up);
		return;
	}
	assert(rc == WIRE_DONE);
	assert(back.fields <= r.fields + 2);
	assert(back.head_len == up.len);
	assert(back.content_length == r.content_length);
	assert(back.target_len == r.target_len);
	assert(memcmp(up.buf + back.target_off, buf + r.target_off, r.target_len) == 0);
	assert(!back.http10 && back.keep_alive && !back.expect_continue);
	assert(count_header(up.buf, up.len, WIRE_KEY_HEADER) == 1);
	assert(count_header(up.buf, up.len, WIRE_PRINCIPAL_HEADER) == 0);
	strbuf_free(&up);
}

static void check_answer(const char *buf, size_t size)
{
	struct wire_answer a, back;
	struct strbuf out = STRBUF_INIT;

	if (wire_answer_parse(buf, size, &a) != WIRE_DONE)
		return;
	assert(a.head_len <= size && a.status >= 100 && a.status <= 599);
	wire_answer_head(buf, &a, 1, &out);
	assert(!out.failed);
	assert(wire_answer_parse(out.buf, out.len, &back) == WIRE_DONE);
	assert(back.head_len == out.len && back.status == a.status);
	assert(back.content_length == a.content_length && back.chunked == a.chunked);
	assert(count_header(out.buf, out.len, "Connection") == 1);
	strbuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct guard_addr src;
	size_t used = 0;
	int known = 0;

	check_request(buf, size);
	check_answer(buf, size);
	if (wire_proxy_parse(buf, size, &used, &src, &known) == WIRE_DONE)
		assert(used >= 8 && used <= size && used <= 107);
	return 0;
}
