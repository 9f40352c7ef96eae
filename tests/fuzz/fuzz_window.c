/*
 * fuzz_window: libFuzzer harness for internal/window and internal/schedule. The bytes
 * pick up to four windows (kind, one period or a spec from a table, duration, zone), an
 * instant, and a schedule's cursor, now, grace and policy. A window's state agrees with
 * itself at the instants it names (open just before it closes, closed at it, and so on);
 * the rule allows exactly when the windows' states say so, and its `until` is the first
 * instant it allows; a schedule's answer is what enumerating every fire time gives.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "schedule/schedule.h"
#include "window/window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define SEC_MS  INT64_C(1000)
#define HOUR_MS (3600 * SEC_MS)
#define DAY_MS  (24 * HOUR_MS)

static const char *const specs[] = {
    "0 2 * * *",  "30 2 * * *", "0 * * * *",    "*/15 * * * *", "0 2 * * tue-thu", "0 8,9 * * *",
    "* * * * *",  "@every 10m", "@every 7s",    "@every 1h",    "0 0 * * sun",     "*/30 2 * * *",
    "0 0 29 2 *", "@daily",     "45 1-3 * * *", "0 3 * * *",
};
static const int64_t durations[] = {SEC_MS,        30 * SEC_MS, 300 * SEC_MS,  600 * SEC_MS,
                                    1800 * SEC_MS, HOUR_MS,     5400 * SEC_MS, 3 * HOUR_MS,
                                    DAY_MS,        8 * DAY_MS};
static const char *const zones[] = {
    "UTC",          "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
    "Pacific/Apia", "Asia/Kolkata"};
/* Midnight UTC: 2025-03-29, 2025-10-25, 2025-03-08, 2011-12-29, 2028-02-28. */
static const int64_t days[] = {INT64_C(1743206400000), INT64_C(1761350400000),
                               INT64_C(1741392000000), INT64_C(1325116800000),
                               INT64_C(1835308800000)};
static const int64_t graces[] = {0, SEC_MS, 5 * SEC_MS, 60 * SEC_MS, HOUR_MS};

struct reader {
	const uint8_t *p;
	size_t n;
};

/* The next byte, or 0 once the input is used up. */
static unsigned byte(struct reader *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

/* Seconds below limit, from three bytes. */
static int64_t seconds(struct reader *r, int64_t limit)
{
	uint32_t v = byte(r) << 16;

	v |= byte(r) << 8;
	v |= byte(r);
	return (int64_t)(v % (uint32_t)limit) * SEC_MS;
}

static void read_window(struct reader *r, int64_t base, struct window *w)
{
	unsigned b = byte(r);
	struct cron_error e;

	memset(w, 0, sizeof(*w));
	w->name = "w";
	w->kind = b & 1 ? WINDOW_FREEZE : WINDOW_MAINTENANCE;
	w->recurring = (b & 2) != 0;
	if (!w->recurring) {
		w->start = base + seconds(r, 3 * 86400);
		w->end = w->start + SEC_MS + seconds(r, 4 * 86400);
		return;
	}
	assert(cron_parse(specs[byte(r) % N(specs)], &w->cron, &e) == 0);
	w->duration_ms = durations[byte(r) % N(durations)];
	w->timezone = zones[(b >> 2) % N(zones)];
	w->anchor = base + seconds(r, 86400);
}

static int open_at(const struct window *w, int64_t t)
{
	struct window_state s;
	char err[WINDOW_ERR_MAX];

	assert(window_state_at(w, t, &s, err, sizeof(err)) == 0);
	return s.open;
}

static void check_state(const struct window *w, int64_t t)
{
	struct window_state s;
	char err[WINDOW_ERR_MAX];

	assert(window_state_at(w, t, &s, err, sizeof(err)) == 0);
	if (s.closes != WINDOW_NONE) {
		assert(s.closes > t && (s.open || s.opens != WINDOW_NONE));
		assert(open_at(w, s.closes - 1) && !open_at(w, s.closes));
	}
	if (s.opens != WINDOW_NONE) {
		assert(s.opens > t && open_at(w, s.opens) && !open_at(w, s.opens - 1));
		assert(s.closes == WINDOW_NONE ||
		       (s.open ? s.opens > s.closes : s.closes > s.opens));
	}
}

/* What the rule says at t, from each window's state. */
static int allowed(const struct window *ws, size_t n, int64_t t)
{
	int any = 0, open = 0;

	for (size_t i = 0; i < n; i++) {
		int o = open_at(&ws[i], t);

		if (ws[i].kind == WINDOW_FREEZE && o)
			return 0;
		if (ws[i].kind == WINDOW_MAINTENANCE) {
			any = 1;
			open |= o;
		}
	}
	return !any || open;
}

static void check_rule(const struct window *ws, size_t n, int64_t t)
{
	struct window_block b, later;
	char err[WINDOW_ERR_MAX];

	assert(window_rule(ws, n, t, &b, err, sizeof(err)) == 0);
	assert((b.window == NULL) == allowed(ws, n, t));
	if (!b.window) {
		assert(b.until == t);
		return;
	}
	assert(b.window >= ws && b.window < ws + n);
	assert(b.window->kind == WINDOW_FREEZE ? open_at(b.window, t) : !open_at(b.window, t));
	if (b.until == WINDOW_NONE)
		return;
	assert(b.until > t && allowed(ws, n, b.until) && !allowed(ws, n, b.until - 1));
	assert(window_rule(ws, n, b.until - 1, &later, err, sizeof(err)) == 0 && later.window);
	assert(later.until == b.until);
}

/* schedule_due against every fire time in (cursor, now], worked out by hand. */
static void check_schedule(struct reader *r, int64_t base)
{
	static int64_t fires[40000];
	enum schedule_catch_up policy = (enum schedule_catch_up)(byte(r) % 3);
	int limit = 1 + (int)(byte(r) % 8) * 142;
	const char *zone = zones[byte(r) % N(zones)];
	int64_t grace = graces[byte(r) % N(graces)], cursor = base + seconds(r, 3 * 86400);
	int64_t now = cursor + seconds(r, 2 * 86400), late_end = now - grace - 1, f;
	size_t n = 0, nlate = 0, keep, first;
	struct schedule_due d = SCHEDULE_DUE_INIT;
	struct cron_error e;
	struct cron_iter it;
	char err[SCHEDULE_ERR_MAX];
	struct tz *z;
	struct cron c;

	assert(cron_parse(specs[byte(r) % N(specs)], &c, &e) == 0);
	assert(tz_open(zone, &z, err, sizeof(err)) == 0);
	cron_iter_init(&it, &c, z, base, cursor);
	while (cron_iter_next(&it, &f) == 0 && f <= now) {
		assert(n < N(fires));
		nlate += f <= late_end;
		fires[n++] = f;
	}
	tz_free(z);
	assert(schedule_due(&c, zone, base, cursor, now, grace, policy, limit, &d, err,
	                    sizeof(err)) == 0);
	keep = policy == SCHEDULE_SKIP             ? 0
	       : policy == SCHEDULE_REPLAY_LIMITED ? (size_t)limit
	                                           : SCHEDULE_REPLAY_MAX;
	keep = keep < nlate ? keep : nlate;
	/* The kept late ones and every on-time one, the most recent SCHEDULE_RUN_MAX. */
	first = nlate - keep;
	if (n - first > SCHEDULE_RUN_MAX)
		first = n - SCHEDULE_RUN_MAX;
	assert(d.nrun == n - first && !d.missed_more);
	assert(!d.nrun || memcmp(d.run, fires + first, d.nrun * sizeof(*fires)) == 0);
	assert(d.replayed == (nlate > first ? nlate - first : 0));
	assert(d.missed == (int64_t)nlate && d.dropped == (int64_t)first);
	assert(d.cursor == (n ? fires[n - 1] : cursor));
	schedule_due_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = {data, size};
	struct window ws[4];
	int64_t base = days[byte(&r) % N(days)], t;
	size_t n = 1 + byte(&r) % N(ws);

	for (size_t i = 0; i < n; i++)
		read_window(&r, base, &ws[i]);
	t = base + seconds(&r, 3 * 86400);
	for (size_t i = 0; i < n; i++)
		check_state(&ws[i], t);
	check_rule(ws, n, t);
	check_schedule(&r, base);
	return 0;
}
