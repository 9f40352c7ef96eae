/*
 * window: maintenance windows and change freezes as pure functions of time: whether one
 * is open at an instant, when it next opens and closes, and the rule that says whether a
 * node may be changed now given the windows whose selectors match it (docs/windows.md).
 * Selectors are matched by the caller; time zones go through cron.h and tz.h (ICU).
 */
#ifndef CMDB_WINDOW_H
#define CMDB_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "cron/cron.h"

#define WINDOW_DURATION_MAX (366 * 24 * DURATION_HOUR_MS) /* of a recurring window */
#define WINDOW_SCAN_MAX     1000        /* occurrences followed to find where overlaps end */
#define WINDOW_RULE_ROUNDS  64          /* windows crossed to find when the rule allows */
#define WINDOW_NONE         INT64_C(-1) /* an instant that does not exist or is not known */
#define WINDOW_ERR_MAX      TZ_ERR_MAX

enum window_kind { WINDOW_MAINTENANCE = 0, WINDOW_FREEZE };

/* "maintenance", "freeze"; the parse function returns -1 for an unknown name. */
const char *window_kind_name(enum window_kind k);
int window_kind_parse(const char *name);

/*
 * A window, borrowed from the caller (nothing here is freed). Either one period, open in
 * [start, end) (start < end), or recurring: open for duration_ms (1 ms to
 * WINDOW_DURATION_MAX) from each fire time of cron in timezone (a name as tz_open takes),
 * anchor being @every's (the window's creation). Occurrences that overlap or touch make
 * one period: a window is open at t when some fire time f has f <= t < f + duration_ms.
 */
struct window {
	const char *name;
	enum window_kind kind;
	int recurring;
	int64_t start, end; /* one period */
	struct cron cron;   /* recurring */
	const char *timezone;
	int64_t duration_ms;
	int64_t anchor;
};

/*
 * A window at instant t (within [TZ_TIME_MIN, TZ_TIME_MAX]):
 * - open: t is inside a period;
 * - closes: when open, the end of that period; else the end of the next one;
 * - opens: the start of the next period that begins after t (after closes, when open).
 * WINDOW_NONE for a time that does not exist (a one-period window's next opening once it
 * has begun) or is not known: beyond TZ_TIME_MAX, or when WINDOW_SCAN_MAX occurrences
 * overlap without a gap (a window that never closes: "* * * * *" for 2h).
 */
struct window_state {
	int open;
	int64_t opens;
	int64_t closes;
};

/* Fills *out. 0; CMDB_EINVAL (unknown time zone, t out of range) with err; CMDB_ERR. */
int window_state_at(const struct window *w, int64_t t, struct window_state *out, char *err,
                    size_t errlen);

/*
 * The rule for one node at instant t, given the windows whose selectors match it (any
 * order, n may be 0): the node may be changed when no freeze is open and, if there is any
 * maintenance window, one of them is open. Every window given counts, a one-period
 * maintenance window that has ended too (it then blocks until deleted): the caller leaves
 * out the windows that are deleted.
 *
 * out->window is NULL when the rule allows. Otherwise it is the window that blocks now:
 * the open freeze that closes last (one that does not close, first), or when no freeze
 * is open, the maintenance window that opens first (or the first given when none will);
 * out->until is the earliest instant after t at which the rule allows, every window
 * considered (not only the one named), or WINDOW_NONE when no such instant is known
 * within WINDOW_RULE_ROUNDS windows crossed.
 */
struct window_block {
	const struct window *window;
	int64_t until;
};

/* Fills *out. 0; CMDB_EINVAL (a bad window or t) with err; CMDB_ERR. */
int window_rule(const struct window *ws, size_t n, int64_t t, struct window_block *out, char *err,
                size_t errlen);

#endif
