/*
 * core: the error codes shared by every module, the node inventory vocabulary, and small
 * helpers for time and bounded strings. Release and node statuses come from
 * state/state.h (included here), node health names from the table in core.c.
 */
#ifndef CMDB_CORE_H
#define CMDB_CORE_H

#include <stddef.h>
#include <stdint.h>

/* The release and node status vocabulary and its transitions. */
#include "state/state.h"

/* Return codes: 0 is success, every failure is negative. */
enum cmdb_err {
	CMDB_OK = 0,
	CMDB_ERR = -1,       /* unexpected failure; the err buffer says what */
	CMDB_ENOTFOUND = -2, /* the row or object does not exist */
	CMDB_EINVAL = -3,    /* well-formed input that breaks a rule (HTTP 422) */
	CMDB_ECONFLICT = -4, /* a uniqueness rule or a concurrent change won */
	CMDB_EDBDOWN = -5,   /* the database connection is lost or refused (HTTP 503) */
	CMDB_ENOMEM = -6,
	CMDB_ESTATE = -7,     /* the object is not in the state the change needs (HTTP 409) */
	CMDB_EMISMATCH = -8,  /* an idempotency key reused with another request (HTTP 409) */
	CMDB_EFORBIDDEN = -9, /* this principal may not do it (HTTP 403), e.g. approve its own */
	CMDB_ERETRY = -10,    /* the transaction lost a race (deadlock, lock wait): run it again */
};

enum node_health { NODE_ONLINE = 0, NODE_OFFLINE, NODE_HEALTH_COUNT };

/* Names as stored and sent; the parse function returns -1 for an unknown name. */
const char *node_health_name(enum node_health h);
int node_health_parse(const char *name);

/* Milliseconds of CLOCK_MONOTONIC, for deadlines and intervals. */
int64_t now_mono_ms(void);
/* Microseconds of CLOCK_MONOTONIC, for durations that the metrics measure. */
int64_t now_mono_us(void);
/* Sleeps ms milliseconds (a signal may end it early). */
void sleep_for_ms(int64_t ms);
/* Milliseconds since the epoch (CLOCK_REALTIME), for timestamps that are stored. */
int64_t now_wall_ms(void);

/*
 * Formats epoch milliseconds as a MariaDB DATETIME(3) literal "YYYY-MM-DD HH:MM:SS.mmm"
 * in UTC. buf must hold 24 bytes.
 */
void format_db_time(int64_t wall_ms, char *buf, size_t len);
/*
 * Turns a DATETIME(3) value as MariaDB returns it ("2026-11-22 04:39:32.123") into
 * RFC 3339 UTC ("2026-11-22T04:39:32.123Z"). Returns 0, or -1 if src is malformed.
 */
int db_time_to_rfc3339(const char *src, char *buf, size_t len);

/*
 * Parses an RFC 3339 date-time ("2026-11-22T04:39:32.123Z", "2026-11-22T06:39:32+02:00";
 * any fraction, truncated to milliseconds) into epoch ms. Strict: every field in range,
 * no leap second, nothing after the offset. Returns 0, or -1 if s is malformed.
 */
int rfc3339_to_ms(const char *s, int64_t *out);

/*
 * 1 when the JSON text nests arrays/objects deeper than max (brackets inside strings
 * do not count). A cheap scan to run before a recursive parser: cJSON recurses once
 * per level, and a server thread's stack is small.
 */
int json_too_deep(const char *text, size_t len, int max);

/* Bounded copy that always terminates dst; returns strlen(src) (truncation if >= len). */
size_t str_copy(char *dst, const char *src, size_t len);

/*
 * Strict decimal parse of a whole string into [min, max]. Returns 0, or -1 on empty
 * input, trailing characters, overflow or a value out of range.
 */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * 1 when s is an RFC 1123 host name: at most 253 characters, dot-separated labels of
 * 1 to 63 letters, digits and inner hyphens.
 */
int hostname_valid(const char *s);

/* Writes the canonical form of an IPv4 or IPv6 literal s to out; 0, or -1 when it is not. */
int ip_canonical(const char *s, char *out, size_t len);

#endif
