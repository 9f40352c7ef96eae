/*
 * agentclient/http1: the HTTP/1.1 framing of one agent answer (RFC 9112), as a pure
 * function over the bytes received so far. The agent client sends its requests over a
 * TLS connection libcurl set up, so that a node's connection can be opened before its
 * batch without sending it anything; this is the half of HTTP it then needs.
 */
#ifndef CMDB_AGENT_HTTP1_H
#define CMDB_AGENT_HTTP1_H

#include <stddef.h>

/* The status line and headers of an answer may take at most this many bytes. */
#define HTTP1_HEAD_MAX (16 * 1024)

enum http1_rc {
	HTTP1_MORE = 0, /* not complete yet: read more */
	HTTP1_DONE = 1, /* a whole answer */
	HTTP1_BAD = -1, /* not HTTP/1.x framing; a->why says what */
	HTTP1_BIG = -2, /* the body is longer than the caller allows */
};

struct http1_answer {
	int status;         /* the final status (interim 1xx answers are skipped) */
	long retry_after_s; /* Retry-After in seconds; 0 when absent or a date */
	int keep_alive;     /* 0: the connection must be closed after this answer */
	int chunked;        /* the body is chunked: decode it with http1_dechunk() */
	size_t body_off;    /* where the body starts in the buffer */
	size_t body_len;    /* DONE: body bytes (decoded length when chunked) */
	size_t end;         /* DONE: the bytes of the buffer this answer took */
	char why[128];      /* HTTP1_BAD: the reason */
};

/*
 * Judges buf[0, len) as an answer from its first byte. eof: the peer closed the
 * connection after these bytes (the end of a body without a length). body_max: the
 * largest body accepted (HTTP1_BIG beyond).
 */
int http1_parse(const char *buf, size_t len, int eof, size_t body_max, struct http1_answer *a);

/*
 * Copies the decoded chunked body of a DONE answer into out (room for a->body_len
 * bytes); returns the bytes written.
 */
size_t http1_dechunk(const char *buf, const struct http1_answer *a, char *out);

#endif
