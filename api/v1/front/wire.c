/*
 * front/wire: strict parsing keeps the front and civetweb from ever reading one request
 * two ways (request smuggling): every header line must be a token, a colon and clean
 * text, a length is digits and nothing else, and civetweb gets a head rebuilt from the
 * lines that passed.
 */
#include "api/v1/front/wire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define METHOD_MAX 20
#define PROXY_MAX  107 /* the longest v1 line, CRLF included (the spec's own bound) */

static int is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Header field values: visible ASCII, space, tab and obs-text; never a control byte. */
static int is_value_char(unsigned char c)
{
	return c == '\t' || (c >= ' ' && c != 0x7f);
}

static int bad(struct wire_request *r, int status, const char *why)
{
	r->status = status;
	r->why = why;
	return WIRE_BAD;
}

/* The line that starts at *pos and ends before a CRLF at or before end; 0 when none. */
static int next_line(const char *buf, size_t *pos, size_t end, size_t *ls, size_t *le)
{
	const char *crlf;

	if (*pos >= end)
		return 0;
	crlf = memmem(buf + *pos, end - *pos, "\r\n", 2);
	if (!crlf)
		return 0;
	*ls = *pos;
	*le = (size_t)(crlf - buf);
	*pos = *le + 2;
	return 1;
}

/* Splits a header line into its name and its value without the white space around it. */
static int split_header(const char *buf, size_t ls, size_t le, size_t *nlen, size_t *vs, size_t *ve)
{
	size_t i = ls;

	while (i < le && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == ls || i == le || buf[i] != ':')
		return -1;
	*nlen = i - ls;
	for (size_t k = i + 1; k < le; k++)
		if (!is_value_char((unsigned char)buf[k]))
			return -1;
	i++;
	while (i < le && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	*vs = i;
	while (le > i && (buf[le - 1] == ' ' || buf[le - 1] == '\t'))
		le--;
	*ve = le;
	return 0;
}

static int name_is(const char *buf, size_t ls, size_t nlen, const char *name)
{
	return strlen(name) == nlen && strncasecmp(buf + ls, name, nlen) == 0;
}

/* Digits only, at most 18 of them: a length that fits in int64_t. */
static int parse_length(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The comma-separated tokens of a Connection header: sets *close and *keep. */
static void connection_tokens(const char *s, size_t n, int *close_it, int *keep)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		start = i;
		while (i < n && s[i] != ',')
			i++;
		end = i;
		while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
			end--;
		if (end - start == 5 && strncasecmp(s + start, "close", 5) == 0)
			*close_it = 1;
		else if (end - start == 10 && strncasecmp(s + start, "keep-alive", 10) == 0)
			*keep = 1;
	}
}

/* The request line buf[ls, le): method SP origin-form target SP HTTP-version. */
static int request_line(const char *buf, size_t ls, size_t le, struct wire_request *r)
{
	size_t i = ls;

	while (i < le && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == ls || i - ls > METHOD_MAX || i == le || buf[i] != ' ')
		return bad(r, 400, "malformed request line");
	r->method_len = i - ls;
	r->target_off = ++i;
	while (i < le && buf[i] > ' ' && buf[i] < 0x7f)
		i++;
	r->target_len = i - r->target_off;
	if (!r->target_len || buf[r->target_off] != '/' || i == le || buf[i] != ' ')
		return bad(r, 400, "malformed request line: the target must be a path");
	i++;
	if (le - i == 8 && memcmp(buf + i, "HTTP/1.1", 8) == 0)
		r->http10 = 0;
	else if (le - i == 8 && memcmp(buf + i, "HTTP/1.0", 8) == 0)
		r->http10 = 1;
	else if (le - i == 8 && memcmp(buf + i, "HTTP/", 5) == 0)
		return bad(r, 505, "HTTP version not supported: use HTTP/1.1");
	else
		return bad(r, 400, "malformed request line");
	r->head_method = r->method_len == 4 && memcmp(buf + ls, "HEAD", 4) == 0;
	return 0;
}

/* What has arrived of a request line without its CRLF: could it still become one? */
static int partial_line(const char *buf, size_t ls, size_t len, struct wire_request *r)
{
	for (size_t i = ls; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r' && i + 1 == len)
			break;
		if (c < ' ' || c >= 0x7f)
			return bad(r, 400, "malformed request line");
	}
	if (len - ls >= WIRE_HEAD_MAX)
		return bad(r, 414, "request line too long");
	return WIRE_MORE;
}

/* The header lines between *pos and end, each judged; fills r. */
static int header_lines(const char *buf, size_t pos, size_t end, struct wire_request *r)
{
	size_t ls, le, nlen, vs, ve;
	int close_it = 0, keep = 0, have_length = 0;
	int64_t length;

	while (next_line(buf, &pos, end, &ls, &le)) {
		if (++r->fields > WIRE_HEADERS_MAX)
			return bad(r, 431, "too many header fields");
		if (split_header(buf, ls, le, &nlen, &vs, &ve))
			return bad(r, 400, "malformed header field");
		if (name_is(buf, ls, nlen, "Content-Length")) {
			if (parse_length(buf + vs, ve - vs, &length) ||
			    (have_length && length != r->content_length))
				return bad(r, 400, "malformed Content-Length");
			r->content_length = length;
			have_length = 1;
		} else if (name_is(buf, ls, nlen, "Transfer-Encoding")) {
			return bad(r, 411,
			           "send the body with a Content-Length; Transfer-Encoding"
			           " is not accepted");
		} else if (name_is(buf, ls, nlen, "Connection")) {
			connection_tokens(buf + vs, ve - vs, &close_it, &keep);
		} else if (name_is(buf, ls, nlen, "Expect")) {
			if (ve - vs != 12 || strncasecmp(buf + vs, "100-continue", 12) != 0)
				return bad(r, 417, "only Expect: 100-continue is understood");
			r->expect_continue = 1;
		}
	}
	r->keep_alive = r->http10 ? keep && !close_it : !close_it;
	return 0;
}

int wire_request_parse(const char *buf, size_t len, int64_t body_max, struct wire_request *r)
{
	size_t off = 0, pos, ls, le;
	const char *end;

	memset(r, 0, sizeof(*r));
	/* Empty lines before a request line are tolerated (RFC 9112, section 2.2). */
	while (off + 2 <= len && buf[off] == '\r' && buf[off + 1] == '\n' && off < WIRE_HEAD_MAX)
		off += 2;
	r->line_off = off;
	pos = off;
	if (!next_line(buf, &pos, len, &ls, &le))
		return partial_line(buf, off, len, r);
	if (request_line(buf, ls, le, r))
		return WIRE_BAD;
	end = memmem(buf + off, len - off, "\r\n\r\n", 4);
	if (!end || (size_t)(end + 4 - buf) > WIRE_HEAD_MAX) {
		if (len >= WIRE_HEAD_MAX)
			return bad(r, 431, "request header fields too large");
		return WIRE_MORE;
	}
	r->head_len = (size_t)(end + 4 - buf);
	if (header_lines(buf, pos, r->head_len - 2, r))
		return WIRE_BAD;
	if (r->content_length > body_max)
		return bad(r, 413, "request body too large");
	return WIRE_DONE;
}

int wire_request_is(const char *buf, const struct wire_request *r, const char *method,
                    const char *path)
{
	const char *target = buf + r->target_off;
	const char *q = memchr(target, '?', r->target_len);
	size_t plen = q ? (size_t)(q - target) : r->target_len;

	return r->method_len == strlen(method) &&
	       memcmp(buf + r->line_off, method, r->method_len) == 0 && plen == strlen(path) &&
	       memcmp(target, path, plen) == 0;
}

/* Headers of a client's connection with the front: civetweb never sees them. */
static int hop_by_hop(const char *buf, size_t ls, size_t nlen)
{
	static const char *const names[] = {"Connection",         "Keep-Alive",     "TE",
	                                    "Transfer-Encoding",  "Upgrade",        "Expect",
	                                    "Proxy-Connection",   "Content-Length", WIRE_KEY_HEADER,
	                                    WIRE_PRINCIPAL_HEADER};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_is(buf, ls, nlen, names[i]))
			return 1;
	return 0;
}

void wire_request_upstream(const char *buf, const struct wire_request *r, const char *key,
                           const char *principal, struct strbuf *out)
{
	size_t pos = r->target_off + r->target_len, ls, le, nlen, vs, ve;

	strbuf_add(out, buf + r->line_off, r->method_len);
	strbuf_adds(out, " ");
	strbuf_add(out, buf + r->target_off, r->target_len);
	strbuf_adds(out, " HTTP/1.1\r\n");
	next_line(buf, &pos, r->head_len, &ls, &le); /* the rest of the request line */
	while (next_line(buf, &pos, r->head_len, &ls, &le) && le > ls) {
		if (split_header(buf, ls, le, &nlen, &vs, &ve) || hop_by_hop(buf, ls, nlen))
			continue;
		strbuf_add(out, buf + ls, nlen);
		strbuf_adds(out, ": ");
		strbuf_add(out, buf + vs, ve - vs);
		strbuf_adds(out, "\r\n");
	}
	if (r->content_length > 0)
		strbuf_addf(out, "Content-Length: %lld\r\n", (long long)r->content_length);
	strbuf_addf(out, WIRE_KEY_HEADER ": %s\r\n", key);
	if (principal[0])
		strbuf_addf(out, WIRE_PRINCIPAL_HEADER ": %s\r\n", principal);
	strbuf_adds(out, "\r\n");
}

int wire_answer_parse(const char *buf, size_t len, struct wire_answer *a)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	size_t pos = 0, ls, le, nlen, vs, ve;
	int keep = 0;

	memset(a, 0, sizeof(*a));
	a->content_length = -1;
	if (!end)
		return len >= WIRE_HEAD_MAX ? WIRE_BAD : WIRE_MORE;
	a->head_len = (size_t)(end + 4 - buf);
	if (a->head_len > WIRE_HEAD_MAX || !next_line(buf, &pos, a->head_len, &ls, &le) ||
	    le - ls < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' ||
	    buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
		return WIRE_BAD;
	for (size_t i = 12; i < le; i++)
		if (!is_value_char((unsigned char)buf[i]))
			return WIRE_BAD; /* a reason phrase is text, never a line break */
	a->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	a->close = buf[7] == '0';
	while (next_line(buf, &pos, a->head_len - 2, &ls, &le)) {
		if (split_header(buf, ls, le, &nlen, &vs, &ve))
			return WIRE_BAD;
		if (name_is(buf, ls, nlen, "Content-Length")) {
			if (parse_length(buf + vs, ve - vs, &a->content_length))
				return WIRE_BAD;
		} else if (name_is(buf, ls, nlen, "Transfer-Encoding")) {
			a->chunked = 1;
		} else if (name_is(buf, ls, nlen, "Connection")) {
			int close_it = 0;

			connection_tokens(buf + vs, ve - vs, &close_it, &keep);
			a->close |= close_it;
		}
	}
	if (buf[7] == '0' && keep)
		a->close = 0;
	return WIRE_DONE;
}

int64_t wire_answer_body(const struct wire_answer *a, int head_method)
{
	if (head_method || a->status < 200 || a->status == 204 || a->status == 304)
		return 0;
	return a->content_length;
}

void wire_answer_head(const char *buf, const struct wire_answer *a, int keep_alive,
                      struct strbuf *out)
{
	size_t pos = 0, ls = 0, le = 0, nlen, vs, ve;

	if (!next_line(buf, &pos, a->head_len, &ls, &le))
		return;
	strbuf_add(out, buf, le + 2);
	while (next_line(buf, &pos, a->head_len, &ls, &le) && le > ls) {
		if (split_header(buf, ls, le, &nlen, &vs, &ve) == 0 &&
		    (name_is(buf, ls, nlen, "Connection") || name_is(buf, ls, nlen, "Keep-Alive")))
			continue;
		strbuf_add(out, buf + ls, le - ls + 2);
	}
	strbuf_addf(out, "Connection: %s\r\n\r\n", keep_alive ? "keep-alive" : "close");
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

void wire_error(int status, const char *why, struct strbuf *out)
{
	struct strbuf body = STRBUF_INIT;

	strbuf_adds(&body, "{\"error\":\"");
	for (const char *p = why; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_adds(&body, "\\");
		if ((unsigned char)*p >= ' ')
			strbuf_add(&body, p, 1);
	}
	strbuf_adds(&body, "\"}\n");
	strbuf_addf(out,
	            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	            status, reason_phrase(status), body.len);
	strbuf_add(out, body.buf, body.len);
	out->failed |= body.failed;
	strbuf_free(&body);
}

/* The next space-separated field of the line [*i, le); its bounds in *fs, *fe. */
static int field(const char *buf, size_t *i, size_t le, size_t *fs, size_t *fe)
{
	*fs = *i;
	while (*i < le && buf[*i] != ' ')
		(*i)++;
	*fe = *i;
	if (*i < le)
		(*i)++;
	return *fe > *fs;
}

static int port_ok(const char *s, size_t n)
{
	int64_t v;

	return parse_length(s, n, &v) == 0 && n <= 5 && v <= 65535;
}

int wire_proxy_parse(const char *buf, size_t len, size_t *used, struct guard_addr *src, int *known)
{
	const char *crlf = memmem(buf, len < PROXY_MAX ? len : PROXY_MAX, "\r\n", 2);
	size_t le, i = 6, fs[5], fe[5];
	struct guard_addr dst;
	int n = 0;

	if (memcmp(buf, "PROXY ", len < 6 ? len : 6) != 0)
		return WIRE_BAD;
	if (!crlf)
		return len >= PROXY_MAX ? WIRE_BAD : WIRE_MORE;
	le = (size_t)(crlf - buf);
	*used = le + 2;
	*known = 0;
	if (le - i >= 7 && memcmp(buf + i, "UNKNOWN", 7) == 0)
		return WIRE_DONE;
	if (le - i < 5 || (memcmp(buf + i, "TCP4 ", 5) != 0 && memcmp(buf + i, "TCP6 ", 5) != 0))
		return WIRE_BAD;
	i += 5;
	while (n < 5 && field(buf, &i, le, &fs[n], &fe[n]))
		n++;
	if (n != 4 || i != le || guard_addr_parse(buf + fs[0], fe[0] - fs[0], src) ||
	    guard_addr_parse(buf + fs[1], fe[1] - fs[1], &dst) ||
	    !port_ok(buf + fs[2], fe[2] - fs[2]) || !port_ok(buf + fs[3], fe[3] - fs[3]))
		return WIRE_BAD;
	*known = 1;
	return WIRE_DONE;
}
