/*
 * plan: batch cuts, failure allowance, schedule checks and the stored text forms.
 */
#include "plan/plan.h"

#include <stdio.h>
#include <string.h>

#include "core/core.h"

/* 9999-12-31T23:59:59.999Z, the last instant a DATETIME(3) holds. */
#define TIME_MAX_MS 253402300799999LL

void plan_init(struct release_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->max_failures = -1;
	p->max_failure_percent = -1;
}

int plan_step_size(struct plan_step step, int total)
{
	int64_t n;

	if (!step.percent)
		return step.value;
	n = (int64_t)step.value * total / 100;
	return n < 1 ? 1 : (int)n;
}

int plan_cut(const struct plan_step *steps, size_t nsteps, int total, int *sizes)
{
	int batches = 0, left = total;

	for (size_t i = 0; left > 0 && nsteps > 0; i += i + 1 < nsteps) {
		int size = plan_step_size(steps[i], total);

		if (size < 1)
			size = 1;
		if (size > left)
			size = left;
		sizes[batches++] = size;
		left -= size;
	}
	return batches;
}

int plan_allowance(int max_failures, int max_failure_percent, int total)
{
	if (max_failures >= 0)
		return max_failures;
	if (max_failure_percent >= 0)
		return (int)((int64_t)max_failure_percent * total / 100);
	return 0;
}

int plan_exceeds(int failed, int allowance)
{
	return failed > allowance;
}

int plan_pauses_after(const struct release_plan *p, int batch)
{
	for (size_t i = 0; i < p->npauses; i++)
		if (p->pause_after[i] == batch)
			return 1;
	return 0;
}

int plan_check_pauses(const struct release_plan *p, int batch_count, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->npauses; i++) {
		int b = p->pause_after[i];

		if (b > batch_count) {
			snprintf(err, errlen,
			         "pause_after names batch %d, but the release has %d batch%s", b,
			         batch_count, batch_count == 1 ? "" : "es");
			return -1;
		}
		if (b == batch_count) {
			snprintf(
			    err, errlen,
			    "pause_after names batch %d, the last one: nothing follows it to pause"
			    " before",
			    b);
			return -1;
		}
	}
	return 0;
}

/* "2026-11-24T10:00:00.000Z" for a message. */
static void show_time(int64_t ms, char *buf, size_t len)
{
	char db[32];

	format_db_time(ms, db, sizeof(db));
	if (db_time_to_rfc3339(db, buf, len))
		snprintf(buf, len, "%lld ms", (long long)ms);
}

int plan_check_schedule(const struct release_plan *p, int64_t now_ms, char *err, size_t errlen)
{
	char a[40], b[40];

	if (p->not_before_ms > TIME_MAX_MS || p->expires_at_ms > TIME_MAX_MS) {
		snprintf(err, errlen, "%s is after 9999-12-31T23:59:59.999Z",
		         p->not_before_ms > TIME_MAX_MS ? "not_before" : "expires_at");
		return -1;
	}
	if (p->not_before_ms && p->not_before_ms < now_ms) {
		show_time(p->not_before_ms, a, sizeof(a));
		snprintf(err, errlen, "not_before %s is in the past", a);
		return -1;
	}
	if (p->expires_at_ms && p->expires_at_ms <= now_ms) {
		show_time(p->expires_at_ms, a, sizeof(a));
		snprintf(err, errlen, "expires_at %s is in the past", a);
		return -1;
	}
	if (p->not_before_ms && p->expires_at_ms && p->expires_at_ms <= p->not_before_ms) {
		show_time(p->expires_at_ms, a, sizeof(a));
		show_time(p->not_before_ms, b, sizeof(b));
		snprintf(err, errlen, "expires_at %s must be later than not_before %s", a, b);
		return -1;
	}
	return 0;
}

/* Appends "value" or "value%" (after a comma unless first); -1 when it does not fit. */
static int put_item(char *buf, size_t len, size_t *at, int first, int value, int percent)
{
	int w =
	    snprintf(buf + *at, len - *at, "%s%d%s", first ? "" : ",", value, percent ? "%" : "");

	if (w < 0 || (size_t)w >= len - *at)
		return -1;
	*at += (size_t)w;
	return 0;
}

int plan_steps_format(const struct plan_step *steps, size_t n, char *buf, size_t len)
{
	size_t at = 0;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (put_item(buf, len, &at, i == 0, steps[i].value, steps[i].percent))
			return -1;
	return 0;
}

int plan_pauses_format(const int *pauses, size_t n, char *buf, size_t len)
{
	size_t at = 0;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (put_item(buf, len, &at, i == 0, pauses[i], 0))
			return -1;
	return 0;
}

/*
 * Reads one item of a comma list at *p: digits, then '%' if allowed. Values run from 1
 * to max. Advances *p past the item and its comma.
 */
static int get_item(const char **p, int max, int allow_percent, int *value, int *percent)
{
	int64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	*percent = 0;
	if (allow_percent && *s == '%') {
		*percent = 1;
		s++;
		if (v > 100)
			return -1;
	}
	if (v < 1 || (*s != ',' && *s != '\0'))
		return -1;
	if (*s == ',' && s[1] == '\0')
		return -1;
	*value = (int)v;
	*p = *s == ',' ? s + 1 : s;
	return 0;
}

int plan_steps_parse(const char *text, struct plan_step *steps, size_t *n)
{
	const char *p = text;

	*n = 0;
	if (!text || !*text)
		return -1;
	while (*p) {
		if (*n == PLAN_STEPS_MAX ||
		    get_item(&p, 1000000, 1, &steps[*n].value, &steps[*n].percent))
			return -1;
		(*n)++;
	}
	return 0;
}

int plan_pauses_parse(const char *text, int *pauses, size_t *n)
{
	const char *p = text;
	int percent;

	*n = 0;
	if (!text)
		return -1;
	while (*p) {
		if (*n == PLAN_PAUSES_MAX || get_item(&p, 1000000, 0, &pauses[*n], &percent) ||
		    (*n > 0 && pauses[*n] <= pauses[*n - 1]))
			return -1;
		(*n)++;
	}
	return 0;
}
