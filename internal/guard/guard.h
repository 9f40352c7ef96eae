/*
 * guard: the bookkeeping that keeps slow or greedy clients from holding a server: how
 * many connections each client address has open, and which connection's deadline comes
 * next. Pure (no sockets, no clock): api/v1/front applies it to the API's connections.
 */
#ifndef CMDB_GUARD_H
#define CMDB_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* A client address: IPv4 as an IPv4-mapped IPv6 address, so one table holds both. */
struct guard_addr {
	uint8_t b[16];
};

/* The address of an IPv4 in network byte order (struct in_addr's s_addr). */
void guard_addr_v4(struct guard_addr *a, uint32_t s_addr);
/* Parses a literal IPv4 or IPv6 address of len bytes; 0, or -1 when it is none. */
int guard_addr_parse(const char *text, size_t len, struct guard_addr *a);

/* Open connections per address; addresses with none take no room. */
struct guard_table;

struct guard_table *guard_table_new(void);
void guard_table_free(struct guard_table *t);
/*
 * Counts one more connection of a when it has fewer than cap open: 0. -1 when it has cap
 * already (nothing counted); -2 when out of memory (nothing counted).
 */
int guard_acquire(struct guard_table *t, const struct guard_addr *a, int cap);
/* Counts one connection of a less; it must have been acquired. */
void guard_release(struct guard_table *t, const struct guard_addr *a);
/* The connections a has open. */
int guard_count(const struct guard_table *t, const struct guard_addr *a);
/* How many addresses have a connection open. */
size_t guard_addresses(const struct guard_table *t);

/*
 * Deadlines. Every connection is in at most one phase with a time limit; all
 * connections of a phase share its limit, so a list in the order they entered it is
 * also in the order of their deadlines, and the next deadline is always at a list's
 * head: setting, clearing and finding the next are O(1) however many connections wait.
 */
enum guard_phase {
	GUARD_HEADER = 0, /* the request line and headers (and the TLS handshake) */
	GUARD_BODY,       /* the request body, once the headers are in */
	GUARD_IDLE,       /* keep-alive: nothing of a next request yet */
	GUARD_SEND,       /* the client takes none of its answer */
	GUARD_LINGER,     /* closing: what the client still sends is read and dropped */
	GUARD_PHASES,
	GUARD_NONE = GUARD_PHASES /* no deadline (its request is being answered) */
};

/* Embedded in a connection; zeroed (GUARD_TIMER_INIT) before its first guard_timer_set. */
struct guard_timer {
	struct guard_timer *prev, *next;
	int64_t deadline;
	enum guard_phase phase;
};

#define GUARD_TIMER_INIT                                                                           \
	{                                                                                          \
		NULL, NULL, 0, GUARD_NONE                                                          \
	}

struct guard_timers {
	int64_t limit_ms[GUARD_PHASES];
	struct guard_timer *head[GUARD_PHASES], *tail[GUARD_PHASES];
};

/* Empty lists with the limit of each phase in milliseconds. */
void guard_timers_init(struct guard_timers *ts, const int64_t limit_ms[GUARD_PHASES]);
/*
 * Puts tm in phase p with the deadline now + the phase's limit; GUARD_NONE clears it.
 * now must never go back from one call to the next (a monotonic clock).
 */
void guard_timer_set(struct guard_timers *ts, struct guard_timer *tm, enum guard_phase p,
                     int64_t now);
/* The timer whose deadline is the earliest of all phases, or NULL when none is set. */
struct guard_timer *guard_timer_next(const struct guard_timers *ts);
/* The earliest timer of phase p, or NULL. */
struct guard_timer *guard_timer_first(const struct guard_timers *ts, enum guard_phase p);

#endif
