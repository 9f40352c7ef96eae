/*
 * fuzz_cron: libFuzzer harness for internal/cron. Byte 0 picks a time zone, byte 1 a day
 * near a daylight-saving change (or a leap day), bytes 2-4 a second within three days of
 * it (or the millisecond before); the rest is the spec. A refusal names a field and a
 * position inside the text with a printable message. An accepted spec has its sets in
 * range and cronie's star flags as the text has them, and fires, over the next day,
 * exactly when cronie's main loop replayed minute by minute (tests/tools/cronie_loop.h)
 * runs it; @every on its lattice.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "cron/cron.h"
#include "tests/tools/cronie_loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN_MS  CRONIE_MINUTE_MS
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
#define SPAN    (28 * 60 + 1) /* minutes replayed: 4 h before the instant, a day after */

static const char *const zones[] = {
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Antarctica/Troll",
    "Pacific/Apia",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Havana",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Europe/London",
};

/* Midnight UTC of days near changes: Berlin, New York, Santiago, Lord Howe, Samoa. */
static const int64_t days[] = {
    INT64_C(1743206400000), /* 2025-03-29 */
    INT64_C(1761350400000), /* 2025-10-25 */
    INT64_C(1711756800000), /* 2024-03-30 */
    INT64_C(1729900800000), /* 2024-10-26 */
    INT64_C(1741392000000), /* 2025-03-08 */
    INT64_C(1761955200000), /* 2025-11-01 */
    INT64_C(1743811200000), /* 2025-04-05 */
    INT64_C(1757116800000), /* 2025-09-06 */
    INT64_C(1759536000000), /* 2025-10-04 */
    INT64_C(1325116800000), /* 2011-12-29 */
    INT64_C(1835308800000), /* 2028-02-28 */
    INT64_C(1735689600000), /* 2025-01-01 */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check_refusal(const char *text, const struct cron_error *e)
{
	size_t len = strlen(text);

	assert(e->field >= CRON_NO_FIELD && e->field <= CRON_DOW);
	assert(e->position <= len + 1);
	assert(e->position || e->field == CRON_NO_FIELD);
	assert(e->msg[0] && strlen(e->msg) + 1 < sizeof(e->msg));
	for (const char *c = e->msg; *c; c++)
		assert(*c >= 0x20 && *c <= 0x7e);
	if (len > CRON_TEXT_MAX)
		assert(e->position == 0);
}

/* The sets in their ranges, and each star flag set exactly when its field starts with '*'. */
static void check_spec(const char *text, const struct cron *c)
{
	static const uint8_t flag[] = {CRON_MIN_STAR, CRON_HOUR_STAR, CRON_DOM_STAR, 0,
	                               CRON_DOW_STAR};
	const char *s = text;

	while (*s == ' ' || *s == '\t')
		s++;
	if (c->every_ms) {
		assert(c->every_ms >= 1000 && c->every_ms <= CRON_EVERY_MAX);
		assert(c->every_ms % 1000 == 0 && !c->minutes && !c->hours && !c->flags);
		return;
	}
	assert(c->minutes && c->minutes >> 60 == 0 && c->hours && c->hours >> 24 == 0);
	assert(c->doms && (c->doms & 1) == 0 && c->months && (c->months & 0xe001) == 0);
	assert(c->dows && c->dows >> 7 == 0 && (c->flags & ~0x0f) == 0);
	if (*s == '@')
		return;
	for (size_t f = 0; f < 5; f++) {
		assert(*s);
		assert(((c->flags & flag[f]) != 0) == (*s == '*' && flag[f]));
		while (*s && *s != ' ' && *s != '\t')
			s++;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	assert(!*s);
}

static void check_every(const struct cron *c, struct tz *z, int64_t anchor, int64_t t)
{
	struct cron_iter it;
	int64_t f, g;

	cron_iter_init(&it, c, z, anchor, t);
	assert(cron_iter_next(&it, &f) == 0 && cron_iter_next(&it, &g) == 0);
	assert(f > t && f - c->every_ms <= t && (f - anchor) % c->every_ms == 0);
	assert(g == f + c->every_ms);
}

/* Our fire times over the next day are cronie's. */
static void check_fires(const struct cron *c, struct tz *z, int64_t t)
{
	int64_t start = (t - 4 * HOUR_MS) / MIN_MS * MIN_MS, end = start + (SPAN - 1) * MIN_MS;
	int64_t clock[SPAN], want[SPAN], f, prev = t, three[3];
	size_t nwant, i = 0, got;
	struct cron_iter it;
	char err[CRON_ERR_MAX];

	assert(cronie_clock(z, start, SPAN, clock) == 0);
	nwant = cronie_loop(c, clock, SPAN, start, t, want, SPAN);
	cron_iter_init(&it, c, z, 0, t);
	for (; cron_iter_next(&it, &f) == 0 && f <= end; i++) {
		assert(f > prev);
		assert(i < nwant && f == want[i]);
		prev = f;
	}
	assert(i == nwant);
	/* cron_next_n gives what the iterator gives (fewer only when there is no more). */
	assert(cron_next_n(c, tz_name(z), 0, t, 3, three, &got, err, sizeof(err)) == 0);
	cron_iter_init(&it, c, z, 0, t);
	for (i = 0; i < got; i++)
		assert(cron_iter_next(&it, &f) == 0 && f == three[i]);
	assert(got == 3 || cron_iter_next(&it, &f) == CMDB_ENOTFOUND);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cron_error e;
	struct tz *z = NULL;
	struct cron c;
	char *text, err[TZ_ERR_MAX];
	int64_t t;

	if (size < 5)
		return 0;
	text = malloc(size - 5 + 1);
	assert(text);
	memcpy(text, data + 5, size - 5);
	text[size - 5] = '\0';
	if (cron_parse(text, &c, &e)) {
		check_refusal(text, &e);
		free(text);
		return 0;
	}
	check_spec(text, &c);
	/* An odd last byte: a millisecond before the second, where transitions fall. */
	t = days[data[1] % N(days)] - (data[4] & 1) +
	    (int64_t)(((uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4]) % 259200) * 1000;
	assert(tz_open(zones[data[0] % N(zones)], &z, err, sizeof(err)) == 0);
	if (c.every_ms)
		check_every(&c, z, days[data[0] % N(days)] + data[4] * 1000, t);
	else
		check_fires(&c, z, t);
	tz_free(z);
	free(text);
	return 0;
}
