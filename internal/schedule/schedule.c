/*
 * schedule: the fire times owed between the cursor and now, walked with cron.h's
 * iterator into rings that keep the most recent; a bounded count of the rest, and for a
 * long outage a second walk over a widening tail instead of the whole gap.
 */
#include "schedule/schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const char *const policy_names[] = {[SCHEDULE_SKIP] = "skip",
                                           [SCHEDULE_REPLAY_LIMITED] = "replay_limited",
                                           [SCHEDULE_REPLAY_ALL] = "replay_all"};

const char *schedule_catch_up_name(enum schedule_catch_up p)
{
	return p >= SCHEDULE_SKIP && p <= SCHEDULE_REPLAY_ALL ? policy_names[p] : "";
}

int schedule_catch_up_parse(const char *name)
{
	for (int p = SCHEDULE_SKIP; p <= SCHEDULE_REPLAY_ALL; p++)
		if (strcmp(name, policy_names[p]) == 0)
			return p;
	return -1;
}

/* The last cap values pushed, and how many were. */
struct ring {
	int64_t *v;
	size_t cap, n, head;
	int64_t pushed;
};

static void push(struct ring *r, int64_t x)
{
	r->pushed++;
	if (!r->cap)
		return;
	r->v[r->head] = x;
	r->head = (r->head + 1) % r->cap;
	if (r->n < r->cap)
		r->n++;
}

/* The i-th oldest value kept. */
static int64_t ring_at(const struct ring *r, size_t i)
{
	return r->v[(r->head + r->cap - r->n + i) % r->cap];
}

/*
 * Pushes the fire times in (from, to] into r, at most limit of them: 1 when it reached to,
 * 0 when it stopped at the limit; CMDB_ERR.
 */
static int walk(struct cron_iter *it, int64_t from, int64_t to, int64_t limit, struct ring *r)
{
	int64_t f;

	cron_iter_seek(it, from);
	for (int64_t i = 0; i < limit; i++) {
		int rc = cron_iter_next(it, &f);

		if (rc == CMDB_ENOTFOUND || (rc == 0 && f > to))
			return 1;
		if (rc)
			return CMDB_ERR;
		push(r, f);
	}
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/*
 * The missed fire times, (cursor, late]: counted into out, the most recent r->cap kept.
 * @every counts by division and walks only what it keeps. A calendar spec walks from the
 * cursor up to SCHEDULE_COUNT_MAX; past that, tails of the gap that double in length
 * until one holds what r keeps.
 */
static int missed(struct cron_iter *it, int64_t cursor, int64_t late, struct ring *r,
                  struct schedule_due *out)
{
	const struct cron *c = it->c;
	int64_t want = (int64_t)(r->cap ? r->cap : 1), width = 3600000, from, anchor = it->anchor;
	int rc;

	if (c->every_ms) {
		int64_t k0 = floor_div(cursor - anchor, c->every_ms) + 1;
		int64_t k1 = floor_div(late - anchor, c->every_ms);

		out->missed = k1 >= k0 ? k1 - k0 + 1 : 0;
		from = anchor + (k1 - want) * c->every_ms;
		return walk(it, from > cursor ? from : cursor, late, want, r) < 0 ? CMDB_ERR : 0;
	}
	rc = walk(it, cursor, late, SCHEDULE_COUNT_MAX, r);
	if (rc < 0)
		return CMDB_ERR;
	out->missed = r->pushed;
	if (rc == 1)
		return 0;
	out->missed_more = 1;
	do {
		from = late - width > cursor ? late - width : cursor;
		r->n = r->head = 0;
		r->pushed = 0;
		/* Four counts' worth: a tail this wide cannot hold more than a spec fires. */
		if (walk(it, from, late, 4 * SCHEDULE_COUNT_MAX, r) < 0)
			return CMDB_ERR;
		width *= 2;
	} while (r->pushed < want && from > cursor);
	return 0;
}

static int check(int64_t cursor, int64_t now, int64_t grace_ms, enum schedule_catch_up policy,
                 int limit, char *err, size_t errlen)
{
	const char *what = NULL;

	if (cursor < TZ_TIME_MIN || cursor > TZ_TIME_MAX || now < TZ_TIME_MIN || now > TZ_TIME_MAX)
		what = "instant out of range (1970 to 9999)";
	else if (grace_ms < 0 || grace_ms > SCHEDULE_GRACE_MAX)
		what = "grace out of range (0 to 1h)";
	else if (policy < SCHEDULE_SKIP || policy > SCHEDULE_REPLAY_ALL)
		what = "unknown catch-up policy";
	else if (policy == SCHEDULE_REPLAY_LIMITED && (limit < 1 || limit > SCHEDULE_REPLAY_MAX))
		what = "replay_limit must be 1 to 1000";
	if (what && errlen)
		snprintf(err, errlen, "%s", what);
	return what ? CMDB_EINVAL : 0;
}

/* run: the kept missed ones, then the on-time ones, the most recent SCHEDULE_RUN_MAX. */
static int hand_over(const struct ring *late, const struct ring *due, struct schedule_due *out)
{
	size_t n = late->n + due->n, skip = n > SCHEDULE_RUN_MAX ? n - SCHEDULE_RUN_MAX : 0;

	out->run = n - skip ? calloc(n - skip, sizeof(*out->run)) : NULL;
	if (n - skip && !out->run)
		return CMDB_ENOMEM;
	for (size_t i = skip; i < n; i++)
		out->run[out->nrun++] = i < late->n ? ring_at(late, i) : ring_at(due, i - late->n);
	out->replayed = late->n > skip ? late->n - skip : 0;
	out->dropped = out->missed + due->pushed - (int64_t)out->nrun;
	if (due->n)
		out->cursor = ring_at(due, due->n - 1);
	else if (late->n)
		out->cursor = ring_at(late, late->n - 1);
	return 0;
}

int schedule_due(const struct cron *c, const char *zone, int64_t anchor, int64_t cursor,
                 int64_t now, int64_t grace_ms, enum schedule_catch_up policy, int replay_limit,
                 struct schedule_due *out, char *err, size_t errlen)
{
	struct ring late = {NULL, 0, 0, 0, 0}, due = {NULL, SCHEDULE_RUN_MAX, 0, 0, 0};
	int64_t late_end = now - grace_ms - 1; /* the last instant a due fire time is late */
	size_t keep =
	    policy == SCHEDULE_SKIP
	        ? 0
	        : (policy == SCHEDULE_REPLAY_LIMITED ? (size_t)replay_limit : SCHEDULE_REPLAY_MAX);
	struct cron_iter it;
	int rc = check(cursor, now, grace_ms, policy, replay_limit, err, errlen);

	if (rc)
		return rc;
	out->cursor = cursor;
	if (cursor >= now)
		return 0;
	rc = cron_iter_open(&it, c, zone, anchor, cursor, err, errlen);
	if (rc)
		return rc;
	/* The skip policy keeps one all the same: the latest, for the cursor. */
	late.cap = keep ? keep : 1;
	late.v = calloc(late.cap, sizeof(*late.v));
	due.v = calloc(due.cap, sizeof(*due.v));
	rc = CMDB_ENOMEM;
	if (!late.v || !due.v)
		goto out;
	rc = late_end > cursor ? missed(&it, cursor, late_end, &late, out) : 0;
	if (rc == 0 && walk(&it, late_end > cursor ? late_end : cursor, now, INT64_MAX, &due) < 0)
		rc = CMDB_ERR;
	if (rc) {
		if (errlen)
			snprintf(err, errlen, "time zone \"%s\": ICU failed", zone);
		goto out;
	}
	if (!keep && late.n) {
		out->cursor = ring_at(&late, 0);
		late.n = 0;
	}
	rc = hand_over(&late, &due, out);
out:
	free(late.v);
	free(due.v);
	cron_iter_close(&it);
	return rc;
}

void schedule_due_release(struct schedule_due *d)
{
	free(d->run);
	d->run = NULL;
	d->nrun = 0;
}
