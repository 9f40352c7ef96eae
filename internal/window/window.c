/*
 * window: a window's periods from its fire times (cron.h), overlapping occurrences joined;
 * the rule as a walk forward in time from one blocking window's end to the next.
 */
#include "window/window.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static const char *const kind_names[] = {
    [WINDOW_MAINTENANCE] = "maintenance", [WINDOW_FREEZE] = "freeze"};

const char *window_kind_name(enum window_kind k)
{
	return k == WINDOW_FREEZE ? kind_names[WINDOW_FREEZE] : kind_names[WINDOW_MAINTENANCE];
}

int window_kind_parse(const char *name)
{
	for (int k = WINDOW_MAINTENANCE; k <= WINDOW_FREEZE; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

static int bad(const struct window *w, char *err, size_t errlen, const char *what)
{
	if (errlen)
		snprintf(err, errlen, "window \"%.64s\": %s", w->name ? w->name : "", what);
	return CMDB_EINVAL;
}

static int check(const struct window *w, int64_t t, char *err, size_t errlen)
{
	if (t < TZ_TIME_MIN || t > TZ_TIME_MAX)
		return bad(w, err, errlen, "instant out of range (1970 to 9999)");
	if (w->kind != WINDOW_MAINTENANCE && w->kind != WINDOW_FREEZE)
		return bad(w, err, errlen, "unknown kind");
	if (!w->recurring) {
		if (w->start < TZ_TIME_MIN || w->end > TZ_TIME_MAX || w->start >= w->end)
			return bad(w, err, errlen, "start must come before end, 1970 to 9999");
		return 0;
	}
	if (w->duration_ms < 1 || w->duration_ms > WINDOW_DURATION_MAX)
		return bad(w, err, errlen, "duration out of range");
	if (w->cron.every_ms ? w->anchor < TZ_TIME_MIN || w->anchor > TZ_TIME_MAX
	                     : !w->cron.minutes || !w->cron.hours || !w->cron.months)
		return bad(w, err, errlen, "not a parsed cron spec");
	return 0;
}

static void one_period(const struct window *w, int64_t t, struct window_state *out)
{
	out->open = w->start <= t && t < w->end;
	out->opens = t < w->start ? w->start : WINDOW_NONE;
	out->closes = t < w->end ? w->end : WINDOW_NONE;
}

/*
 * it starts at t - duration; from the first fire time f: open when f <= t. Then fire times
 * are followed while each begins before the period so far ends.
 */
static int recurring(const struct window *w, struct cron_iter *it, int64_t t,
                     struct window_state *out)
{
	int64_t f, end;
	int rc;

	if (w->cron.every_ms && w->cron.every_ms <= w->duration_ms) {
		out->open = 1; /* occurrences touch or overlap: one endless period */
		return 0;
	}
	rc = cron_iter_next(it, &f);
	if (rc)
		return rc == CMDB_ENOTFOUND ? 0 : rc;
	out->open = f <= t;
	if (!out->open)
		out->opens = f;
	end = f + w->duration_ms;
	for (int i = 0;; i++) {
		rc = cron_iter_next(it, &f);
		if (rc == CMDB_ENOTFOUND) {
			f = WINDOW_NONE;
			break;
		}
		if (rc)
			return rc;
		if (f > end)
			break;
		if (i == WINDOW_SCAN_MAX)
			return 0;
		end = f + w->duration_ms;
	}
	out->closes = end <= TZ_TIME_MAX ? end : WINDOW_NONE;
	if (out->open)
		out->opens = f;
	return 0;
}

int window_state_at(const struct window *w, int64_t t, struct window_state *out, char *err,
                    size_t errlen)
{
	struct cron_iter it;
	int rc = check(w, t, err, errlen);

	if (rc)
		return rc;
	out->open = 0;
	out->opens = out->closes = WINDOW_NONE;
	if (!w->recurring) {
		one_period(w, t, out);
		return 0;
	}
	rc = cron_iter_open(&it, &w->cron, w->timezone, w->anchor, t - w->duration_ms, err, errlen);
	if (rc)
		return rc;
	rc = recurring(w, &it, t, out);
	if (rc && errlen)
		snprintf(err, errlen, "window \"%.64s\": time zone \"%s\": ICU failed",
		         w->name ? w->name : "", w->timezone);
	cron_iter_close(&it);
	return rc;
}

/* a comes later than b, WINDOW_NONE (never) latest of all. */
static int later(int64_t a, int64_t b)
{
	return b != WINDOW_NONE && (a == WINDOW_NONE || a > b);
}

/*
 * The freezes open at u: *frozen, *thaw (when the last of them closes, WINDOW_NONE: not
 * known) and, on request, the one that closes last in *blocker.
 */
static int freezes(const struct window *ws, size_t n, int64_t u, int *frozen, int64_t *thaw,
                   const struct window **blocker, char *err, size_t errlen)
{
	struct window_state s;

	*frozen = 0;
	*thaw = u;
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (ws[i].kind != WINDOW_FREEZE)
			continue;
		rc = window_state_at(&ws[i], u, &s, err, errlen);
		if (rc)
			return rc;
		if (!s.open)
			continue;
		if (blocker && (!*frozen || later(s.closes, *thaw)))
			*blocker = &ws[i];
		if (!*frozen || later(s.closes, *thaw))
			*thaw = s.closes;
		*frozen = 1;
	}
	return 0;
}

/*
 * The maintenance windows at u: *any, *open, *soon (the earliest next opening,
 * WINDOW_NONE: none known) and, on request, the one that opens first in *blocker.
 */
static int maintenance(const struct window *ws, size_t n, int64_t u, int *any, int *open,
                       int64_t *soon, const struct window **blocker, char *err, size_t errlen)
{
	struct window_state s;

	*any = *open = 0;
	*soon = WINDOW_NONE;
	for (size_t i = 0; i < n && !*open; i++) {
		int rc;

		if (ws[i].kind != WINDOW_MAINTENANCE)
			continue;
		rc = window_state_at(&ws[i], u, &s, err, errlen);
		if (rc)
			return rc;
		if (blocker && (!*any || later(*soon, s.opens)))
			*blocker = &ws[i];
		*any = 1;
		*open = s.open;
		if (later(*soon, s.opens))
			*soon = s.opens;
	}
	return 0;
}

int window_rule(const struct window *ws, size_t n, int64_t t, struct window_block *out, char *err,
                size_t errlen)
{
	const struct window *blocker = NULL;
	int64_t u = t, next;
	int frozen, any, open, rc;

	out->window = NULL;
	out->until = t;
	for (int round = 0; round < WINDOW_RULE_ROUNDS; round++) {
		rc = freezes(ws, n, u, &frozen, &next, round ? NULL : &blocker, err, errlen);
		if (rc)
			return rc;
		if (!frozen) {
			rc = maintenance(ws, n, u, &any, &open, &next, round ? NULL : &blocker, err,
			                 errlen);
			if (rc)
				return rc;
			if (!any || open) {
				if (round)
					out->window = blocker;
				out->until = u;
				return 0;
			}
		}
		if (next == WINDOW_NONE)
			break;
		u = next;
	}
	out->window = blocker;
	out->until = WINDOW_NONE;
	return 0;
}
