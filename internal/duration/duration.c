/*
 * duration: a left-to-right scan of number-unit parts with the unit order enforced, sums
 * checked against the caller's maximum before they can overflow; and the printer.
 */
#include "duration/duration.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static const struct {
	char unit;
	int64_t ms;
} units[] = {{'h', DURATION_HOUR_MS}, {'m', DURATION_MINUTE_MS}, {'s', DURATION_SECOND_MS}};

#define NUNITS (sizeof(units) / sizeof(units[0]))

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return CMDB_EINVAL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The index of unit c in units[], or -1. */
static int unit_index(char c)
{
	for (size_t i = 0; i < NUNITS; i++)
		if (units[i].unit == c)
			return (int)i;
	return -1;
}

/* Why the byte at s[i] cannot be a unit. */
static int bad_unit(const char *s, size_t i, char *err, size_t errlen)
{
	unsigned char c = (unsigned char)s[i];

	if (c == '\0')
		return fail(err, errlen, "a number needs a unit at position %zu: h, m or s", i + 1);
	if (c == '.' || c == ',')
		return fail(err, errlen,
		            "no fractions (position %zu): write whole units, e.g. 1h30m for 1.5h",
		            i + 1);
	if ((c == 'm' && s[i + 1] == 's') || ((c == 'u' || c == 'n') && s[i + 1] == 's') ||
	    c == 0xc2)
		return fail(err, errlen, "no unit below a second (position %zu): use h, m or s",
		            i + 1);
	if (c >= 0x21 && c <= 0x7e && c != '\'')
		return fail(err, errlen, "unknown unit '%c' at position %zu: use h, m or s", c,
		            i + 1);
	return fail(err, errlen, "unexpected byte 0x%02x at position %zu", c, i + 1);
}

int duration_parse(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out_ms, char *err,
                   size_t errlen)
{
	char limit[DURATION_TEXT_MAX];
	int64_t total = 0;
	size_t i = 0;
	int next_unit = 0; /* units[] before this one are used up */

	if (!*s)
		return fail(err, errlen, "empty: give a number and a unit, e.g. 30s, 10m or 2h");
	while (s[i]) {
		size_t start = i;
		int64_t n = 0;
		int u;

		if (!is_digit(s[i])) {
			if (s[i] == '-' || s[i] == '+')
				return fail(err, errlen, "no sign (position %zu)", i + 1);
			if (s[i] == ' ' || s[i] == '\t')
				return fail(err, errlen, "no spaces (position %zu)", i + 1);
			return fail(err, errlen, "expected a number at position %zu", i + 1);
		}
		for (; is_digit(s[i]); i++) {
			if (i - start == DURATION_DIGITS)
				return fail(err, errlen, "more than %d digits at position %zu",
				            DURATION_DIGITS, start + 1);
			n = n * 10 + (s[i] - '0');
		}
		u = unit_index(s[i]);
		if (u < 0 || (s[i] == 'm' && s[i + 1] == 's'))
			return bad_unit(s, i, err, errlen);
		if (u < next_unit)
			return fail(err, errlen,
			            "unit '%c' at position %zu: the units go h, m, s, each once",
			            s[i], i + 1);
		next_unit = u + 1;
		i++;
		/* total <= max_ms: the difference cannot overflow, nor the product after. */
		if (n > (max_ms - total) / units[u].ms) {
			duration_format(max_ms, limit, sizeof(limit));
			return fail(err, errlen, "longer than %s", limit);
		}
		total += n * units[u].ms;
	}
	if (total < min_ms) {
		duration_format(min_ms, limit, sizeof(limit));
		return fail(err, errlen, "shorter than %s", limit);
	}
	*out_ms = total;
	return 0;
}

void duration_format(int64_t ms, char *buf, size_t len)
{
	size_t at = 0;
	int64_t left = ms < 0 ? 0 : ms / DURATION_SECOND_MS * DURATION_SECOND_MS;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (left == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < NUNITS && at < len; i++) {
		int64_t n = left / units[i].ms;
		int w;

		if (n == 0)
			continue;
		left -= n * units[i].ms;
		w = snprintf(buf + at, len - at, "%lld%c", (long long)n, units[i].unit);
		if (w < 0)
			return;
		at += (size_t)w;
	}
}
