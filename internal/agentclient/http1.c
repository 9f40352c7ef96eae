/*
 * agentclient/http1: answer framing. Lines may end in CRLF or a bare LF, as most clients
 * accept; everything else that is not HTTP/1.x framing is refused with a reason.
 */
#include "agentclient/http1.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The end of the line that starts at p (just past its LF), or NULL if it has none yet. */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	return lf ? lf + 1 : NULL;
}

/* The length of the line [p, next) without its CRLF or LF. */
static size_t line_len(const char *p, const char *next)
{
	size_t n = (size_t)(next - p) - 1;

	return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

static int bad(struct http1_answer *a, const char *why)
{
	snprintf(a->why, sizeof(a->why), "%s", why);
	return HTTP1_BAD;
}

/* 1 when the comma-separated list [v, v+n) holds token (any case). */
static int has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);

	for (size_t i = 0; i < n;) {
		size_t j = i, k;

		while (j < n && v[j] != ',')
			j++;
		k = j;
		while (i < k && (v[i] == ' ' || v[i] == '\t'))
			i++;
		while (k > i && (v[k - 1] == ' ' || v[k - 1] == '\t'))
			k--;
		if (k - i == tl && strncasecmp(v + i, token, tl) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

/* Digits only, no sign, at most 18 of them: the value, or -1. */
static long long digits(const char *v, size_t n)
{
	long long x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/*
 * Walks a chunked body at [p, end): HTTP1_MORE, HTTP1_BAD, HTTP1_BIG, or HTTP1_DONE with
 * *decoded and *taken (bytes of the encoding, trailers included) set. Copies the data to
 * out when out is not NULL.
 */
static int walk_chunks(const char *p, const char *end, size_t body_max, char *out, size_t *decoded,
                       size_t *taken, struct http1_answer *a)
{
	const char *start = p;
	size_t total = 0;

	for (;;) {
		const char *next = line_end(p, end);
		uint64_t size = 0;
		size_t i, n;

		if (!next)
			return (size_t)(end - p) > 64 ? bad(a, "chunk size line too long")
			                              : HTTP1_MORE;
		n = line_len(p, next);
		for (i = 0; i < n && isxdigit((unsigned char)p[i]); i++) {
			if (size > (uint64_t)body_max)
				return HTTP1_BIG;
			size =
			    size * 16 + (uint64_t)(isdigit((unsigned char)p[i])
			                               ? p[i] - '0'
			                               : tolower((unsigned char)p[i]) - 'a' + 10);
		}
		if (i == 0 || (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
			return bad(a, "malformed chunk size");
		p = next;
		if (size == 0)
			break;
		if (size > (uint64_t)(body_max - total))
			return HTTP1_BIG;
		if ((size_t)(end - p) < size + 1)
			return HTTP1_MORE;
		if (out)
			memcpy(out + total, p, size);
		total += size;
		p += size;
		if (*p == '\r') {
			if (end - p < 2)
				return HTTP1_MORE;
			p++;
		}
		if (*p != '\n')
			return bad(a, "chunk data not followed by a line end");
		p++;
	}
	/* Trailer fields, then an empty line. */
	for (;;) {
		const char *next = line_end(p, end);

		if (!next)
			return (size_t)(end - start) > body_max + HTTP1_HEAD_MAX
			           ? bad(a, "chunk trailers too long")
			           : HTTP1_MORE;
		if (line_len(p, next) == 0) {
			p = next;
			break;
		}
		p = next;
	}
	*decoded = total;
	*taken = (size_t)(p - start);
	return HTTP1_DONE;
}

/* Parses one header block at buf; sets a's fields and *head_end. */
static int parse_head(const char *buf, const char *end, struct http1_answer *a,
                      const char **head_end, long long *content_length)
{
	const char *p = buf, *next = line_end(p, end);
	int minor, cl_seen = 0, close_tok = 0, keep_tok = 0;
	size_t n;

	if (!next)
		return (size_t)(end - p) > HTTP1_HEAD_MAX ? bad(a, "status line too long")
		                                          : HTTP1_MORE;
	n = line_len(p, next);
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7]) ||
	    p[8] != ' ' || !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]) || (n > 12 && p[12] != ' '))
		return bad(a, "not an HTTP/1.x status line");
	minor = p[7] - '0';
	a->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (a->status < 100)
		return bad(a, "status code below 100");
	a->chunked = 0;
	a->retry_after_s = 0;
	*content_length = -1;
	for (p = next;; p = next) {
		const char *colon, *v, *ve;

		next = line_end(p, end);
		if (!next)
			return (size_t)(end - buf) > HTTP1_HEAD_MAX ? bad(a, "headers too long")
			                                            : HTTP1_MORE;
		if ((size_t)(next - buf) > HTTP1_HEAD_MAX)
			return bad(a, "headers too long");
		n = line_len(p, next);
		if (n == 0)
			break;
		colon = memchr(p, ':', n);
		if (!colon || colon == p || p[0] == ' ' || p[0] == '\t')
			return bad(a, "malformed header line");
		for (v = colon + 1, ve = p + n; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
#define IS(name)                                                                                   \
	((size_t)(colon - p) == sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0)
		if (IS("Content-Length")) {
			long long x = digits(v, (size_t)(ve - v));

			if (x < 0 || (cl_seen && x != *content_length))
				return bad(a, "invalid Content-Length");
			*content_length = x;
			cl_seen = 1;
		} else if (IS("Transfer-Encoding")) {
			/* Only "chunked" alone: the contract's bodies are never compressed. */
			if ((size_t)(ve - v) != strlen("chunked") ||
			    strncasecmp(v, "chunked", strlen("chunked")) != 0)
				return bad(a, "unsupported Transfer-Encoding");
			a->chunked = 1;
		} else if (IS("Connection")) {
			close_tok |= has_token(v, (size_t)(ve - v), "close");
			keep_tok |= has_token(v, (size_t)(ve - v), "keep-alive");
		} else if (IS("Retry-After")) {
			long long x = digits(v, (size_t)(ve - v));

			a->retry_after_s = x > 0 && x < 86400 ? (long)x : 0;
		}
#undef IS
	}
	if (a->chunked && cl_seen)
		return bad(a, "both Content-Length and chunked");
	a->keep_alive = minor >= 1 ? !close_tok : keep_tok && !close_tok;
	*head_end = next;
	return HTTP1_DONE;
}

int http1_parse(const char *buf, size_t len, int eof, size_t body_max, struct http1_answer *a)
{
	const char *p = buf, *end = buf + len, *body;
	long long cl;
	int rc;

	memset(a, 0, sizeof(*a));
	for (;;) {
		rc = parse_head(p, end, a, &body, &cl);
		if (rc != HTTP1_DONE)
			return rc == HTTP1_MORE && eof
			           ? bad(a, "the answer ended inside its headers")
			           : rc;
		/* 1xx answers are interim (101 would switch protocols: not ours). */
		if (a->status >= 200 || a->status == 101)
			break;
		p = body;
	}
	if (a->status == 101)
		return bad(a, "unexpected 101 Switching Protocols");
	a->body_off = (size_t)(body - buf);
	if (a->status == 204 || a->status == 304) {
		a->body_len = 0;
		a->end = a->body_off;
		return HTTP1_DONE;
	}
	if (a->chunked) {
		size_t decoded = 0, taken = 0;

		rc = walk_chunks(body, end, body_max, NULL, &decoded, &taken, a);
		if (rc == HTTP1_MORE && eof)
			return bad(a, "the answer ended inside its chunked body");
		if (rc != HTTP1_DONE)
			return rc;
		a->body_len = decoded;
		a->end = a->body_off + taken;
		return HTTP1_DONE;
	}
	if (cl >= 0) {
		if ((unsigned long long)cl > body_max)
			return HTTP1_BIG;
		if ((size_t)(end - body) < (size_t)cl)
			return eof ? bad(a, "the answer ended before its Content-Length")
			           : HTTP1_MORE;
		a->body_len = (size_t)cl;
		a->end = a->body_off + (size_t)cl;
		return HTTP1_DONE;
	}
	/* No length: the body runs to the end of the connection. */
	a->keep_alive = 0;
	if ((size_t)(end - body) > body_max)
		return HTTP1_BIG;
	if (!eof)
		return HTTP1_MORE;
	a->body_len = (size_t)(end - body);
	a->end = len;
	return HTTP1_DONE;
}

size_t http1_dechunk(const char *buf, const struct http1_answer *a, char *out)
{
	struct http1_answer scratch = *a;
	size_t decoded = 0, taken = 0;

	if (!a->chunked) {
		memcpy(out, buf + a->body_off, a->body_len);
		return a->body_len;
	}
	if (walk_chunks(buf + a->body_off, buf + a->end, a->body_len, out, &decoded, &taken,
	                &scratch) != HTTP1_DONE)
		return 0;
	return decoded;
}
