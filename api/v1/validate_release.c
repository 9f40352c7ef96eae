/*
 * validate_release: the body of POST /api/v1/releases: the version, the batch plan, the
 * nodes (named, or a label selector, or every online one), groups, pauses, the failure
 * allowance, the schedule and the options. The shared field readers are validate.c's.
 */
#include "api/v1/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/validate_internal.h"

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int get_node_ids(const cJSON *body, struct release_input *out, struct api_error *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "node_ids"), *it;
	int64_t *sorted = NULL;
	size_t count, k = 0;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return validate_fail(e, 400, "node_ids must be an array of node ids");
	count = (size_t)cJSON_GetArraySize(arr);
	if (count == 0)
		return validate_fail(e, 422,
		                     "node_ids is empty: name at least one node, or leave it out"
		                     " to release to every online node");
	if (count > API_NODE_IDS_MAX)
		return validate_fail(e, 422, "node_ids has %zu entries; at most %d", count,
		                     API_NODE_IDS_MAX);
	out->node_ids = calloc(count, sizeof(*out->node_ids));
	sorted = calloc(count, sizeof(*sorted));
	if (!out->node_ids || !sorted) {
		free(sorted);
		return validate_fail(e, 500, "out of memory");
	}
	cJSON_ArrayForEach(it, arr)
	{
		double d = it->valuedouble;

		if (!cJSON_IsNumber(it) || !isfinite(d) || d != floor(d)) {
			validate_fail(e, 400, "node_ids[%zu] must be an integer", k);
			goto bad;
		}
		if (d < 1 || d > (double)JSON_INT_MAX) {
			validate_fail(e, 422, "node_ids[%zu] must be a positive node id", k);
			goto bad;
		}
		out->node_ids[k] = sorted[k] = (int64_t)d;
		k++;
	}
	qsort(sorted, k, sizeof(*sorted), cmp_id);
	for (size_t i = 1; i < k; i++) {
		if (sorted[i] == sorted[i - 1]) {
			validate_fail(e, 422, "node_ids lists node %lld twice",
			              (long long)sorted[i]);
			goto bad;
		}
	}
	free(sorted);
	out->n = k;
	return 0;
bad:
	free(sorted);
	return -1;
}

/* Reads "batches": node counts and "N%" strings, at least one, at most PLAN_STEPS_MAX. */
static int get_batches(const cJSON *body, struct release_plan *plan, struct api_error *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "batches"), *it;
	size_t k = 0;

	if (!arr)
		return 1;
	if (!cJSON_IsArray(arr))
		return validate_fail(
		    e, 400,
		    "batches must be an array of node counts and percentages such as"
		    " [1, 5, \"20%%\"]");
	if (cJSON_GetArraySize(arr) == 0)
		return validate_fail(e, 422, "batches is empty: give at least one batch size");
	if (cJSON_GetArraySize(arr) > PLAN_STEPS_MAX)
		return validate_fail(e, 422, "batches has more than %d entries", PLAN_STEPS_MAX);
	cJSON_ArrayForEach(it, arr)
	{
		struct plan_step *st = &plan->steps[k];

		if (cJSON_IsNumber(it)) {
			double d = it->valuedouble;

			if (!isfinite(d) || d != floor(d))
				return validate_fail(
				    e, 400, "batches[%zu] must be an integer or a percentage", k);
			if (d < 1 || d > API_BATCH_SIZE_MAX)
				return validate_fail(e, 422,
				                     "batches[%zu] must be from 1 to %d nodes", k,
				                     API_BATCH_SIZE_MAX);
			*st = (struct plan_step){(int)d, 0};
		} else if (cJSON_IsString(it)) {
			const char *v = it->valuestring;
			size_t n = strlen(v);
			char digits[4];
			int64_t pct;

			if (n < 2 || n > 4 || v[n - 1] != '%')
				return validate_fail(
				    e, 422,
				    "batches[%zu] must be a node count or a percentage such as"
				    " \"20%%\"",
				    k);
			memcpy(digits, v, n - 1);
			digits[n - 1] = '\0';
			if (parse_int64(digits, 1, 100, &pct) || digits[0] == '0')
				return validate_fail(
				    e, 422,
				    "batches[%zu] must be a percentage from \"1%%\" to"
				    " \"100%%\"",
				    k);
			*st = (struct plan_step){(int)pct, 1};
		} else {
			return validate_fail(e, 400,
			                     "batches[%zu] must be an integer or a percentage", k);
		}
		k++;
	}
	plan->nsteps = k;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Reads "pause_after": distinct batch numbers, sorted here. */
static int get_pauses(const cJSON *body, struct release_plan *plan, struct api_error *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "pause_after"), *it;
	size_t k = 0;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr))
		return validate_fail(e, 400, "pause_after must be an array of batch numbers");
	if (cJSON_GetArraySize(arr) == 0)
		return validate_fail(
		    e, 422, "pause_after is empty: name at least one batch, or leave it out");
	if (cJSON_GetArraySize(arr) > PLAN_PAUSES_MAX)
		return validate_fail(e, 422, "pause_after has more than %d entries",
		                     PLAN_PAUSES_MAX);
	cJSON_ArrayForEach(it, arr)
	{
		double d = it->valuedouble;

		if (!cJSON_IsNumber(it) || !isfinite(d) || d != floor(d))
			return validate_fail(e, 400, "pause_after[%zu] must be an integer", k);
		if (d < 1 || d > API_NODE_IDS_MAX)
			return validate_fail(e, 422,
			                     "pause_after[%zu] must be a batch number from 1 to %d",
			                     k, API_NODE_IDS_MAX);
		plan->pause_after[k++] = (int)d;
	}
	qsort(plan->pause_after, k, sizeof(int), cmp_int);
	for (size_t i = 1; i < k; i++)
		if (plan->pause_after[i] == plan->pause_after[i - 1])
			return validate_fail(e, 422, "pause_after names batch %d twice",
			                     plan->pause_after[i]);
	plan->npauses = k;
	return 0;
}

/* Reads an RFC 3339 time into *ms; 1 when absent. */
static int get_time(const cJSON *body, const char *name, int64_t *ms, struct api_error *e)
{
	const char *v = NULL;
	int rc = validate_string(body, name, 64, &v, e);

	if (rc != 0)
		return rc;
	if (rfc3339_to_ms(v, ms) || *ms <= 0)
		return validate_fail(
		    e, 422, "%s must be an RFC 3339 time such as 2026-11-24T10:00:00Z", name);
	return 0;
}

/* The plan fields: batches or batch_size, pause_after, the allowance, the schedule. */
static int get_plan(const cJSON *body, int64_t now_ms, struct release_plan *p, struct api_error *e)
{
	int64_t v = 0;
	char err[200];
	int rc;

	if (validate_one_of(body, "batch_size", "batches", e) ||
	    validate_one_of(body, "max_failures", "max_failure_percent", e))
		return -1;
	rc = validate_int(body, "batch_size", 1, API_BATCH_SIZE_MAX, &v, e);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		p->batch_size = (int)v;
		p->steps[0] = (struct plan_step){(int)v, 0};
		p->nsteps = 1;
	} else if ((rc = get_batches(body, p, e)) != 0) {
		return rc < 0 ? -1
		              : validate_fail(
		                    e, 422,
		                    "batch_size or batches is required (a node count, or a list of"
		                    " counts and percentages)");
	}
	if (get_pauses(body, p, e))
		return -1;
	if ((rc = validate_int(body, "max_failures", 0, PLAN_FAILURES_MAX, &v, e)) < 0)
		return -1;
	if (rc == 0)
		p->max_failures = (int)v;
	if ((rc = validate_int(body, "max_failure_percent", 0, 100, &v, e)) < 0)
		return -1;
	if (rc == 0)
		p->max_failure_percent = (int)v;
	if (get_time(body, "not_before", &p->not_before_ms, e) < 0 ||
	    get_time(body, "expires_at", &p->expires_at_ms, e) < 0)
		return -1;
	if (plan_check_schedule(p, now_ms, err, sizeof(err)))
		return validate_fail(e, 422, "%s", err);
	return 0;
}

/*
 * "selector" instead of node_ids: Kubernetes' syntax (selector.h), refused with the
 * position and what was expected there; an empty one would select every node, which a
 * release says by leaving both out.
 */
static int get_selector(const cJSON *body, struct release_input *out, struct api_error *e)
{
	struct selector_error se;
	const char *text = NULL;
	int rc;

	if (validate_one_of(body, "node_ids", "selector", e))
		return -1;
	rc = validate_string(body, "selector", SELECTOR_TEXT_MAX, &text, e);
	if (rc)
		return rc < 0 ? -1 : 0;
	rc = selector_parse(text, &out->sel, &se);
	if (rc == CMDB_ENOMEM)
		return validate_fail(e, 500, "out of memory");
	if (rc)
		return validate_fail(e, 422, "selector: %s", se.msg);
	if (out->sel->n == 0)
		return validate_fail(
		    e, 422,
		    "selector is empty: it would select every node; leave it out to"
		    " release to every online node");
	out->selector_text = text;
	return 0;
}

/* "group_by" (a label key) and "pause_between_groups" (which needs it). */
static int get_groups(const cJSON *body, struct release_input *out, struct api_error *e)
{
	char err[LABELS_ERR_MAX];
	int rc = validate_string(body, "group_by", LABEL_KEY_MAX + 64, &out->group_by, e);

	if (rc < 0)
		return -1;
	if (rc == 0 && labels_check_key(out->group_by, err, sizeof(err)))
		return validate_fail(e, 422, "group_by: %s", err);
	if (validate_bool(body, "pause_between_groups", &out->pause_between_groups, e) < 0)
		return -1;
	if (out->pause_between_groups && !out->group_by)
		return validate_fail(
		    e, 422,
		    "pause_between_groups needs group_by: the label key whose values"
		    " are the groups");
	return 0;
}

int api_parse_release_create(const cJSON *body, int64_t now_ms, struct release_input *out,
                             struct api_error *e)
{
	static const char *const fields[] = {"version",
	                                     "batch_size",
	                                     "batches",
	                                     "node_ids",
	                                     "selector",
	                                     "group_by",
	                                     "pause_between_groups",
	                                     "pause_after",
	                                     "max_failures",
	                                     "max_failure_percent",
	                                     "not_before",
	                                     "expires_at",
	                                     "auto_rollback",
	                                     "require_approval",
	                                     NULL};

	memset(out, 0, sizeof(*out));
	plan_init(&out->plan);
	out->auto_rollback = -1;
	if (validate_only(body, fields, e) ||
	    validate_require(validate_int(body, "version", 1, INT64_MAX, &out->version, e),
	                     "version", "a positive integer", e) ||
	    get_plan(body, now_ms, &out->plan, e) || get_selector(body, out, e) ||
	    get_node_ids(body, out, e) || get_groups(body, out, e) ||
	    validate_bool(body, "auto_rollback", &out->auto_rollback, e) < 0 ||
	    validate_bool(body, "require_approval", &out->require_approval, e) < 0) {
		api_release_input_free(out);
		return -1;
	}
	return 0;
}

void api_release_input_free(struct release_input *in)
{
	free(in->node_ids);
	in->node_ids = NULL;
	in->n = 0;
	selector_free(in->sel);
	in->sel = NULL;
}
