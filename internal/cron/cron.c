/*
 * cron: the spec parser, rule for rule cronie's get_list/get_range/get_number (src/entry.c,
 * https://github.com/cronie-crond/cronie) over a string instead of a FILE, with positions
 * in the errors; the @ shortcuts as load_entry sets them; @every through duration.h.
 */
#include "cron/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define TOKEN_MAX 16 /* characters of one number or name */

struct field_def {
	const char *name;
	int low, high;
	const char *const *names; /* names[i] is low + i; NULL: numbers only */
	int nnames;
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field_def fields[] = {
    [CRON_NO_FIELD] = {"", 0, 0, NULL, 0},
    [CRON_MINUTE] = {"minute", 0, 59, NULL, 0},
    [CRON_HOUR] = {"hour", 0, 23, NULL, 0},
    [CRON_DOM] = {"day-of-month", 1, 31, NULL, 0},
    [CRON_MONTH] = {"month", 1, 12, month_names, 12},
    /* 7 is Sunday too: bit 7 is folded into bit 0 once the field is read. */
    [CRON_DOW] = {"day-of-week", 0, 7, dow_names, 7},
};

struct parser {
	const char *s;
	size_t at;
	enum cron_field field;
	struct cron_error *e;
};

const char *cron_field_name(enum cron_field f)
{
	return f >= CRON_NO_FIELD && f <= CRON_DOW ? fields[f].name : "";
}

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills the error for byte offset at (the spec is ASCII up to there, or it says so). */
static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
	char what[CRON_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p->e->field = p->field;
	p->e->position = at + 1;
	if (p->field != CRON_NO_FIELD)
		snprintf(p->e->msg, sizeof(p->e->msg), "position %zu (%s): %.150s", at + 1,
		         fields[p->field].name, what);
	else
		snprintf(p->e->msg, sizeof(p->e->msg), "position %zu: %.170s", at + 1, what);
	return CMDB_EINVAL;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* "found 'x'", "found a blank" or "found the end", for the byte at offset at. */
static int unexpected(struct parser *p, size_t at, const char *expected)
{
	unsigned char c = (unsigned char)p->s[at];

	if (c == '\0')
		return fail(p, at, "expected %s, found the end", expected);
	if (is_blank((char)c))
		return fail(p, at, "expected %s, found a blank", expected);
	if (c < 0x21 || c > 0x7e)
		return fail(p, at, "expected %s, found byte 0x%02x", expected, c);
	return fail(p, at, "expected %s, found '%c'", expected, c);
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static void skip_blanks(struct parser *p)
{
	while (is_blank(p->s[p->at]))
		p->at++;
}

/* Reads a run of letters and digits (get_number) into *out: a number or a name. */
static int read_value(struct parser *p, int *out)
{
	const struct field_def *f = &fields[p->field];
	size_t start = p->at, n = 0;
	char tok[TOKEN_MAX + 1];
	int number = 1, v = 0;

	while (is_alnum(p->s[p->at])) {
		if (n == TOKEN_MAX)
			return fail(p, start, "a value of more than %d characters", TOKEN_MAX);
		tok[n] = p->s[p->at++];
		number = number && tok[n] >= '0' && tok[n] <= '9';
		n++;
	}
	tok[n] = '\0';
	if (n == 0)
		return unexpected(p, start, f->names ? "a number or a name" : "a number");
	if (number) {
		for (size_t i = 0; i < n; i++)
			if (v <= f->high)
				v = v * 10 + (tok[i] - '0');
		if (v < f->low || v > f->high)
			return fail(p, start, "%s is out of range %d-%d", tok, f->low, f->high);
		*out = v;
		return 0;
	}
	for (int i = 0; f->names && i < f->nnames; i++) {
		if (n != 3)
			break;
		if (lower(tok[0]) == f->names[i][0] && lower(tok[1]) == f->names[i][1] &&
		    lower(tok[2]) == f->names[i][2]) {
			*out = f->low + i;
			return 0;
		}
	}
	if (f->names == month_names)
		return fail(p, start, "'%s' is neither 1-12 nor a month name (jan-dec)", tok);
	if (f->names == dow_names)
		return fail(p, start, "'%s' is neither 0-7 nor a day name (sun-sat)", tok);
	return fail(p, start, "'%s' is not a number", tok);
}

/* After '/': a step of digits only (get_number without names), 1 or more. */
static int read_step(struct parser *p, int *out)
{
	size_t start = p->at, n = 0;
	int v = 0;

	while (p->s[p->at] >= '0' && p->s[p->at] <= '9') {
		if (++n > 9)
			return fail(p, start, "a step of more than 9 digits");
		v = v * 10 + (p->s[p->at++] - '0');
	}
	if (n == 0)
		return unexpected(p, start, "a step (a number)");
	if (is_alnum(p->s[p->at]))
		return fail(p, start, "a step is a number, no name");
	if (v == 0)
		return fail(p, start, "a step of 0");
	*out = v;
	return 0;
}

/* cronie's `~` (a random value) is refused: every controller must compute the same times. */
static int no_random(struct parser *p)
{
	if (p->s[p->at] != '~')
		return 0;
	return fail(p, p->at,
	            "random values (~) are not supported: a schedule must be the same "
	            "on every controller");
}

/* One element of a list (get_range): *, * /step, n, a-b, a-b/step; sets its bits. */
static int read_range(struct parser *p, uint64_t *bits)
{
	const struct field_def *f = &fields[p->field];
	size_t start = p->at;
	int lo, hi, step = 1;

	if (no_random(p))
		return CMDB_EINVAL;
	if (p->s[p->at] == '*') {
		p->at++;
		lo = f->low;
		hi = f->high;
		if (p->s[p->at] == '/') {
			p->at++;
			if (read_step(p, &step))
				return CMDB_EINVAL;
		}
	} else {
		if (read_value(p, &lo))
			return CMDB_EINVAL;
		hi = lo;
		if (p->s[p->at] == '/')
			return fail(p, p->at, "a step needs a range: write %d-%d/n or */n", lo,
			            f->high);
		if (no_random(p))
			return CMDB_EINVAL;
		if (p->s[p->at] == '-') {
			p->at++;
			if (read_value(p, &hi))
				return CMDB_EINVAL;
			/* cronie: a-0 ends on Sunday as 7 (meant for day-of-week; cronie's code
			 * applies it to every field, where it is surely a mistake). */
			if (lo > hi && hi == 0 && p->field == CRON_DOW)
				hi = 7;
			if (lo > hi)
				return fail(p, start, "the range %d-%d runs backwards", lo, hi);
			if (p->s[p->at] == '/') {
				p->at++;
				if (read_step(p, &step))
					return CMDB_EINVAL;
			}
		}
	}
	if (p->s[p->at] && p->s[p->at] != ',' && !is_blank(p->s[p->at]))
		return unexpected(p, p->at, "',', a blank or the end");
	for (int i = lo; i <= hi; i += step)
		*bits |= UINT64_C(1) << i;
	return 0;
}

/* One field (get_list): ranges separated by commas, up to a blank or the end. */
static int read_field(struct parser *p, enum cron_field field, uint64_t *bits, uint8_t *flags)
{
	static const uint8_t star_flag[] = {[CRON_MINUTE] = CRON_MIN_STAR,
	                                    [CRON_HOUR] = CRON_HOUR_STAR,
	                                    [CRON_DOM] = CRON_DOM_STAR,
	                                    [CRON_MONTH] = 0,
	                                    [CRON_DOW] = CRON_DOW_STAR};

	p->field = field;
	skip_blanks(p);
	if (!p->s[p->at])
		return fail(p, p->at,
		            "missing: a spec has five fields (minute hour "
		            "day-of-month month day-of-week)");
	if (p->s[p->at] == '*')
		*flags |= star_flag[field];
	*bits = 0;
	for (;;) {
		if (read_range(p, bits))
			return CMDB_EINVAL;
		if (p->s[p->at] != ',')
			return 0;
		p->at++;
	}
}

/* The day-of-month and month must meet when the weekday cannot widen the days. */
static int check_days(struct parser *p, const struct cron *c, size_t dom_at)
{
	if (!(c->flags & CRON_DOW_STAR) || (c->flags & CRON_DOM_STAR))
		return 0;
	for (int m = 1; m <= 12; m++)
		for (int d = 1; d <= (m == 2 ? 29 : tz_month_days(2001, m)); d++)
			if ((c->months >> m & 1) && (c->doms >> d & 1))
				return 0;
	p->field = CRON_DOM;
	return fail(p, dom_at, "no day given exists in the months given");
}

static int read_fields(struct parser *p, struct cron *c)
{
	uint64_t bits[CRON_DOW + 1];
	size_t dom_at = 0;

	for (int f = CRON_MINUTE; f <= CRON_DOW; f++) {
		if (f == CRON_DOM) {
			skip_blanks(p);
			dom_at = p->at;
		}
		if (read_field(p, (enum cron_field)f, &bits[f], &c->flags))
			return CMDB_EINVAL;
	}
	skip_blanks(p);
	p->field = CRON_NO_FIELD;
	if (p->s[p->at])
		return fail(p, p->at, "a sixth field: a spec has five fields and no command");
	c->minutes = bits[CRON_MINUTE];
	c->hours = (uint32_t)bits[CRON_HOUR];
	c->doms = (uint32_t)bits[CRON_DOM];
	c->months = (uint16_t)bits[CRON_MONTH];
	/* "make sundays equivalent" */
	c->dows = (uint8_t)((bits[CRON_DOW] | bits[CRON_DOW] >> 7) & 0x7f);
	return check_days(p, c, dom_at);
}

#define ALL(n) ((UINT64_C(1) << (n)) - 1)

/* @every <duration>, the word already read. */
static int read_every(struct parser *p, struct cron *c)
{
	char what[DURATION_ERR_MAX], text[CRON_TEXT_MAX + 1];
	size_t start, n = 0;

	if (!is_blank(p->s[p->at]))
		return unexpected(p, p->at, "a blank and a duration after @every");
	skip_blanks(p);
	start = p->at;
	while (p->s[p->at] && !is_blank(p->s[p->at]))
		text[n++] = p->s[p->at++];
	text[n] = '\0';
	skip_blanks(p);
	if (p->s[p->at])
		return fail(p, p->at, "nothing may follow @every's duration");
	if (duration_parse(text, DURATION_SECOND_MS, CRON_EVERY_MAX, &c->every_ms, what,
	                   sizeof(what)))
		return fail(p, start, "@every: %s", what);
	return 0;
}

/* The @ shortcuts, with the fields and flags cronie's load_entry gives them. */
static int read_shortcut(struct parser *p, struct cron *c)
{
	size_t start = p->at, n = 0;
	char word[12];

	p->at++;
	while (is_alnum(p->s[p->at]) && n + 1 < sizeof(word))
		word[n++] = p->s[p->at++];
	word[n] = '\0';
	if (strcmp(word, "every") == 0)
		return read_every(p, c);
	c->minutes = 1;
	c->hours = 1;
	c->doms = (uint32_t)ALL(32) & ~UINT32_C(1);
	c->months = (uint16_t)(ALL(13) & ~UINT64_C(1));
	c->dows = (uint8_t)ALL(7);
	if (strcmp(word, "yearly") == 0 || strcmp(word, "annually") == 0) {
		c->doms = 1u << 1;
		c->months = 1u << 1;
		c->flags = CRON_DOW_STAR;
	} else if (strcmp(word, "monthly") == 0) {
		c->doms = 1u << 1;
		c->flags = CRON_DOW_STAR;
	} else if (strcmp(word, "weekly") == 0) {
		c->dows = 1;
		c->flags = CRON_DOM_STAR;
	} else if (strcmp(word, "daily") == 0 || strcmp(word, "midnight") == 0) {
		c->flags = 0;
	} else if (strcmp(word, "hourly") == 0) {
		c->hours = (uint32_t)ALL(24);
		c->flags = CRON_HOUR_STAR;
	} else if (strcmp(word, "reboot") == 0) {
		return fail(p, start, "@reboot is not a time");
	} else {
		return fail(p, start,
		            "unknown shortcut: use @yearly, @monthly, @weekly, "
		            "@daily, @hourly or @every <duration>");
	}
	skip_blanks(p);
	if (p->s[p->at])
		return fail(p, p->at, "nothing may follow @%s", word);
	return 0;
}

int cron_parse(const char *text, struct cron *out, struct cron_error *e)
{
	struct parser p = {text, 0, CRON_NO_FIELD, e};
	struct cron c;
	size_t len = strnlen(text, CRON_TEXT_MAX + 1);

	memset(&c, 0, sizeof(c));
	e->field = CRON_NO_FIELD;
	e->position = 0;
	e->msg[0] = '\0';
	if (len > CRON_TEXT_MAX) {
		snprintf(e->msg, sizeof(e->msg), "longer than %d characters", CRON_TEXT_MAX);
		return CMDB_EINVAL;
	}
	skip_blanks(&p);
	if (!text[p.at]) {
		snprintf(e->msg, sizeof(e->msg),
		         "empty: give five fields (minute hour day-of-month month day-of-week), "
		         "@daily or @every <duration>");
		return CMDB_EINVAL;
	}
	if (text[p.at] == '@' ? read_shortcut(&p, &c) : read_fields(&p, &c))
		return CMDB_EINVAL;
	*out = c;
	return 0;
}
