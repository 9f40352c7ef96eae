/*
 * plan: batch cuts, failure allowance, schedule checks and the stored text forms.
 */
#include "plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
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

/* A node and its group value, sorted by value (NULL last) and then by position. */
struct keyed {
	const char *value;
	int index;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = (x->value == NULL) - (y->value == NULL);

	if (c == 0 && x->value)
		c = strcmp(x->value, y->value);
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int cmp_index(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static int same_value(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Gives each node its group (gid) and fills out->groups in running order. The distinct
 * values are found by sorting; each group is then placed by its first node, the group
 * of NULL by total, after all.
 */
static int find_groups(const char *const *values, int total, int *gid, struct plan_grouped *out)
{
	struct keyed *k = calloc((size_t)total, sizeof(*k));
	struct keyed *first = calloc((size_t)total, sizeof(*first)); /* per group */
	int n = 0, rc = CMDB_ENOMEM;

	out->groups = calloc((size_t)total, sizeof(*out->groups));
	if (!k || !first || !out->groups)
		goto out;
	for (int i = 0; i < total; i++)
		k[i] = (struct keyed){values[i], i};
	qsort(k, (size_t)total, sizeof(*k), cmp_keyed);
	for (int i = 0; i < total; i++)
		if (i == 0 || !same_value(k[i].value, k[i - 1].value))
			first[n++] = (struct keyed){k[i].value, k[i].value ? k[i].index : total};
	/* Within one value k is in node order: its first entry is the group's first node. */
	qsort(first, (size_t)n, sizeof(*first), cmp_index);
	for (int g = 0; g < n; g++)
		out->groups[g].value = first[g].value;
	for (int i = 0, g = 0; i < total; i++) {
		if (i == 0 || !same_value(k[i].value, k[i - 1].value)) {
			struct keyed key = {NULL, k[i].value ? k[i].index : total};

			g = (int)((struct keyed *)bsearch(&key, first, (size_t)n, sizeof(*first),
			                                  cmp_index) -
			          first);
		}
		gid[k[i].index] = g;
		out->groups[g].nodes++;
	}
	out->ngroups = n;
	rc = 0;
out:
	free(k);
	free(first);
	return rc;
}

int plan_cut_groups(const struct plan_step *steps, size_t nsteps, const char *const *values,
                    int total, struct plan_grouped *out)
{
	size_t cap = total > 0 ? (size_t)total : 1;
	int *gid = NULL, *next = NULL, rc = CMDB_ENOMEM;

	memset(out, 0, sizeof(*out));
	if (nsteps == 0 || total < 0)
		return CMDB_EINVAL;
	out->total = total;
	out->order = calloc(cap, sizeof(int));
	out->node_batch = calloc(cap, sizeof(int));
	out->sizes = calloc(cap, sizeof(int));
	out->batch_group = calloc(cap, sizeof(int));
	gid = calloc(cap, sizeof(int));
	next = calloc(cap, sizeof(int)); /* per group: where its next node goes in order */
	if (!out->order || !out->node_batch || !out->sizes || !out->batch_group || !gid || !next ||
	    (total > 0 && find_groups(values, total, gid, out)))
		goto out;
	for (int g = 0, at = 0; g < out->ngroups; at += out->groups[g++].nodes) {
		struct plan_group *grp = &out->groups[g];

		next[g] = at;
		grp->first_batch = out->nbatches + 1;
		grp->batches = plan_cut(steps, nsteps, grp->nodes, out->sizes + out->nbatches);
		for (int b = 0; b < grp->batches; b++)
			out->batch_group[out->nbatches + b] = g;
		out->nbatches += grp->batches;
	}
	for (int k = 0; k < total; k++)
		out->order[next[gid[k]]++] = k;
	for (int b = 0, at = 0; b < out->nbatches; at += out->sizes[b++])
		for (int i = 0; i < out->sizes[b]; i++)
			out->node_batch[out->order[at + i]] = b + 1;
	rc = 0;
out:
	free(gid);
	free(next);
	if (rc)
		plan_grouped_free(out);
	return rc;
}

void plan_grouped_free(struct plan_grouped *g)
{
	free(g->order);
	free(g->node_batch);
	free(g->sizes);
	free(g->batch_group);
	free(g->groups);
	memset(g, 0, sizeof(*g));
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
