/*
 * front/wire: the HTTP/1.1 the API's front speaks, as pure functions over bytes: a
 * client's request head judged strictly (RFC 9112) and rewritten for civetweb; the head
 * of civetweb's answer, its framing, and its Connection header rewritten for the
 * client; and the PROXY protocol v1 line a TLS pass-through proxy sends first.
 */
#ifndef CMDB_API_FRONT_WIRE_H
#define CMDB_API_FRONT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "guard/guard.h"

/*
 * A request line and headers may take this many bytes, an answer head as many, and a
 * request this many header fields: civetweb takes 64, and the front adds up to three.
 */
#define WIRE_HEAD_MAX    (16 * 1024)
#define WIRE_HEADERS_MAX 60

/* The headers the front sets on every request it hands to civetweb (never a client). */
#define WIRE_KEY_HEADER       "X-Cmdb-Front"
#define WIRE_PRINCIPAL_HEADER "X-Cmdb-Principal"

enum wire_rc {
	WIRE_MORE = 0, /* not complete yet, and nothing wrong so far: read more */
	WIRE_DONE = 1, /* complete */
	WIRE_BAD = -1, /* refused: answer the status and reason given, then close */
};

struct wire_request {
	size_t head_len;   /* DONE: the bytes of the head, empty lines before it included */
	size_t line_off;   /* where the request line starts (after those empty lines) */
	size_t method_len; /* the method starts at line_off */
	size_t target_off, target_len;
	size_t fields;          /* header fields */
	int64_t content_length; /* the body's bytes; 0 without a Content-Length */
	int http10;             /* HTTP/1.0 (else 1.1) */
	int keep_alive;         /* the client keeps the connection after the answer */
	int expect_continue;    /* Expect: 100-continue */
	int head_method;        /* HEAD: the answer has no body */
	int status;             /* BAD: 400, 411, 413, 417, 431 or 505 */
	const char *why;        /* BAD: the reason, for the client */
};

/*
 * Judges buf[0, len) as a request head from its first byte; a body longer than body_max
 * is refused (413). MORE also means that what arrived so far is no garbage: a first line
 * that cannot become a request line is refused at once, not at the header deadline.
 */
int wire_request_parse(const char *buf, size_t len, int64_t body_max, struct wire_request *r);

/*
 * 1 when the request r parsed from buf is `method path`, its query string aside: the
 * front lets one route (POST /api/v1/nodes/import) send a larger body than the rest.
 */
int wire_request_is(const char *buf, const struct wire_request *r, const char *method,
                    const char *path);

/*
 * Appends the head of a DONE request as civetweb gets it: the request line with
 * HTTP/1.1, the client's headers but those of the connection (Connection, Keep-Alive,
 * TE, Transfer-Encoding, Upgrade, Expect, Proxy-Connection) and ours, Content-Length
 * when there is a body, then "X-Cmdb-Front: key" and, when principal is not "",
 * "X-Cmdb-Principal: principal". civetweb keeps its connection from the front open.
 */
void wire_request_upstream(const char *buf, const struct wire_request *r, const char *key,
                           const char *principal, struct strbuf *out);

struct wire_answer {
	size_t head_len; /* DONE: the bytes of the status line and headers */
	int status;
	int64_t content_length; /* -1 without one */
	int chunked;            /* Transfer-Encoding: chunked (the API never sends it) */
	int close;              /* civetweb closes its connection after this answer */
};

/* Judges buf[0, len) as the head of civetweb's answer: MORE, DONE or BAD. */
int wire_answer_parse(const char *buf, size_t len, struct wire_answer *a);

/*
 * The body bytes that follow the head of a: none after HEAD, 1xx, 204 and 304; -1 when
 * the body ends only when civetweb closes the connection.
 */
int64_t wire_answer_body(const struct wire_answer *a, int head_method);

/* Appends the head of a for the client, with "Connection: keep-alive" or "close". */
void wire_answer_head(const char *buf, const struct wire_answer *a, int keep_alive,
                      struct strbuf *out);

/* Appends a whole answer of the front's own: status, {"error": why}, Connection: close. */
void wire_error(int status, const char *why, struct strbuf *out);

/*
 * Judges buf[0, len) as a PROXY protocol v1 line ("PROXY TCP4 <src> <dst> <sport>
 * <dport>\r\n", TCP6 alike, or "PROXY UNKNOWN ...\r\n"). DONE: *used bytes were the line
 * and *known says whether *src holds the client's address (UNKNOWN: keep the
 * connection's own). BAD: not such a line.
 */
int wire_proxy_parse(const char *buf, size_t len, size_t *used, struct guard_addr *src, int *known);

#endif
