/*
 * render: releases as JSON. Times are RFC 3339 or null; lists given by the operator are
 * shown as given (batch_plan as [1, 5, "20%"]), and what the controller derived from
 * them next to them (batch_sizes, failure_allowance).
 */
#include "api/v1/releases/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/http.h"
#include "core/core.h"
#include "plan/plan.h"
#include "state/state.h"

/* [1, 5, "20%", 50] from the stored "1,5,20%,50"; null when the text is malformed. */
static cJSON *steps_json(const struct plan_step *steps, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		char pct[16];

		if (steps[i].percent) {
			snprintf(pct, sizeof(pct), "%d%%", steps[i].value);
			cJSON_AddItemToArray(arr, cJSON_CreateString(pct));
		} else {
			cJSON_AddItemToArray(arr, cJSON_CreateNumber(steps[i].value));
		}
	}
	return arr;
}

static cJSON *ints_json(const int *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i]));
	return arr;
}

static void add_limit(cJSON *o, const char *name, int v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

/*
 * The batch sizes a plan of steps gives total nodes: cut over the whole release, or group
 * by group (each group's nodes cut alone, batch numbers running on).
 */
static cJSON *sizes_json(const struct plan_step *steps, size_t nsteps, int total,
                         const struct release_group *groups, size_t ngroups)
{
	int *sizes = total > 0 ? calloc((size_t)total, sizeof(int)) : NULL;
	int nb = 0;
	cJSON *arr;

	if (!sizes)
		return cJSON_CreateNull();
	if (!ngroups)
		nb = plan_cut(steps, nsteps, total, sizes);
	for (size_t g = 0; g < ngroups; g++)
		if (groups[g].nodes > 0 && nb + groups[g].nodes <= total)
			nb += plan_cut(steps, nsteps, groups[g].nodes, sizes + nb);
	arr = ints_json(sizes, (size_t)nb);
	free(sizes);
	return arr;
}

/* The plan's fields, as the release holds them; with x, the sizes of its batches. */
static void add_plan(cJSON *o, const struct release *r, const struct release_extras *x)
{
	struct plan_step steps[PLAN_STEPS_MAX];
	int pauses[PLAN_PAUSES_MAX];
	size_t nsteps = 0, npauses = 0;
	int steps_ok = plan_steps_parse(r->batch_plan, steps, &nsteps) == 0;

	cJSON_AddItemToObject(o, "batch_plan",
	                      steps_ok ? steps_json(steps, nsteps) : cJSON_CreateNull());
	if (r->pause_after[0] && plan_pauses_parse(r->pause_after, pauses, &npauses) == 0)
		cJSON_AddItemToObject(o, "pause_after", ints_json(pauses, npauses));
	else
		cJSON_AddNullToObject(o, "pause_after");
	if (x)
		cJSON_AddItemToObject(
		    o, "batch_sizes",
		    steps_ok ? sizes_json(steps, nsteps, r->total_nodes, x->groups, x->ngroups)
		             : cJSON_CreateNull());
}

/* A group's value: the label's value, or null for the nodes without the label. */
static cJSON *group_value(const struct release_group *g)
{
	return g->has_value ? cJSON_CreateString(g->value) : cJSON_CreateNull();
}

/* "groups": each group in the order it runs, with its batches; null when not grouped. */
static cJSON *groups_json(const struct release_group *groups, size_t n, int grouped)
{
	cJSON *arr;

	if (!grouped)
		return cJSON_CreateNull();
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToObject(o, "group", group_value(&groups[i]));
		cJSON_AddNumberToObject(o, "first_batch", groups[i].first_batch);
		cJSON_AddNumberToObject(o, "batches", groups[i].batches);
		cJSON_AddNumberToObject(o, "nodes", groups[i].nodes);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Adds batch's "group" to o when the release has groups. */
static void add_batch_group(cJSON *o, int batch, const struct release_group *groups, size_t n)
{
	int k = n ? store_group_of(groups, n, batch) : -1;

	if (n)
		cJSON_AddItemToObject(o, "group",
		                      k >= 0 ? group_value(&groups[k]) : cJSON_CreateNull());
}

/* How a release picked its nodes: its selector, its groups, their pauses. */
static void add_targeting(cJSON *o, const char *selector, const char *group_by,
                          int pause_between_groups)
{
	api_json_add_optional(o, "selector", selector);
	api_json_add_optional(o, "group_by", group_by);
	cJSON_AddBoolToObject(o, "pause_between_groups", pause_between_groups);
}

/* A reference to another row: its id, or null for 0. */
static void add_id(cJSON *o, const char *name, int64_t id)
{
	if (id > 0)
		cJSON_AddNumberToObject(o, name, (double)id);
	else
		cJSON_AddNullToObject(o, name);
}

/*
 * What an operator may do to the release now, from the state table (an action that
 * would change nothing, such as pausing a paused release, is left out): the console's
 * buttons. The API still decides; approving one's own release, for one, is refused.
 */
static void add_actions(cJSON *o, const struct release *r)
{
	static const enum release_event ops[] = {RELEASE_EV_PAUSE, RELEASE_EV_RESUME,
	                                         RELEASE_EV_CANCEL, RELEASE_EV_APPROVE,
	                                         RELEASE_EV_REJECT};
	cJSON *arr = cJSON_AddArrayToObject(o, "actions");

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int to = release_next(r->status, ops[i]);

		if (to >= 0 && to != (int)r->status)
			cJSON_AddItemToArray(arr, cJSON_CreateString(release_event_name(ops[i])));
	}
	if (!r->rollback_of && !r->rolled_back_by &&
	    release_rollback_rule(r->status) == ROLLBACK_ALLOWED)
		cJSON_AddItemToArray(arr, cJSON_CreateString("rollback"));
}

cJSON *render_release(const struct release *r, const struct release_extras *x)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddNumberToObject(o, "version", (double)r->version);
	cJSON_AddStringToObject(o, "status", release_status_name(r->status));
	if (r->batch_size > 0)
		cJSON_AddNumberToObject(o, "batch_size", r->batch_size);
	else
		cJSON_AddNullToObject(o, "batch_size");
	cJSON_AddNumberToObject(o, "batch_count", r->batch_count);
	add_plan(o, r, x);
	cJSON_AddNumberToObject(o, "total_nodes", r->total_nodes);
	cJSON_AddNumberToObject(o, "success_nodes", r->success_nodes);
	cJSON_AddNumberToObject(o, "failed_nodes", r->failed_nodes);
	add_limit(o, "max_failures", r->max_failures);
	add_limit(o, "max_failure_percent", r->max_failure_percent);
	cJSON_AddNumberToObject(o, "failure_allowance", r->failure_allowance);
	api_json_add_optional(o, "not_before", r->not_before);
	api_json_add_optional(o, "expires_at", r->expires_at);
	api_json_add_optional(o, "paused_reason", r->paused_reason);
	api_json_add_optional(o, "created_at", r->created_at);
	api_json_add_optional(o, "started_at", r->started_at);
	api_json_add_optional(o, "finished_at", r->finished_at);
	api_json_add_optional(o, "error_msg", r->error_msg);
	api_json_add_optional(o, "created_by", r->created_by);
	api_json_add_optional(o, "updated_by", r->updated_by);
	api_json_add_optional(o, "updated_at", r->updated_at);
	cJSON_AddBoolToObject(o, "auto_rollback", r->auto_rollback);
	add_id(o, "rollback_of", r->rollback_of);
	add_id(o, "rolled_back_by", r->rolled_back_by);
	api_json_add_optional(o, "rollback_reason", r->rollback_reason);
	cJSON_AddBoolToObject(o, "approval_required", r->approval_required);
	api_json_add_optional(o, "approval_reason", r->approval_reason);
	api_json_add_optional(o, "approved_by", r->approved_by);
	api_json_add_optional(o, "approved_at", r->approved_at);
	api_json_add_optional(o, "rejected_by", r->rejected_by);
	api_json_add_optional(o, "rejected_at", r->rejected_at);
	api_json_add_optional(o, "approval_comment", r->approval_comment);
	add_targeting(o, r->selector, r->group_by, r->pause_between_groups);
	if (x) {
		cJSON *left = cJSON_CreateArray();

		cJSON_AddItemToObject(o, "groups",
		                      groups_json(x->groups, x->ngroups, r->group_by[0] != '\0'));
		for (size_t i = 0; i < x->nleft; i++) {
			const struct left_out_node *l = &x->left_out[i];
			cJSON *n = cJSON_CreateObject();

			cJSON_AddNumberToObject(n, "node_id", (double)l->node_id);
			cJSON_AddStringToObject(n, "hostname", l->hostname);
			cJSON_AddStringToObject(n, "node_ip", l->node_ip);
			cJSON_AddNumberToObject(n, "agent_port", l->agent_port);
			cJSON_AddStringToObject(n, "reason", l->reason);
			cJSON_AddItemToArray(left, n);
		}
		cJSON_AddItemToObject(o, "left_out", left);
	}
	add_actions(o, r);
	return o;
}

static cJSON *node_json(const struct release_node *n)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "node_id", (double)n->node_id);
	cJSON_AddStringToObject(o, "hostname", n->hostname);
	cJSON_AddStringToObject(o, "node_ip", n->node_ip);
	cJSON_AddNumberToObject(o, "agent_port", n->agent_port);
	cJSON_AddStringToObject(o, "status", node_status_name(n->status));
	api_json_add_optional(o, "task_id", n->task_id);
	api_json_add_optional(o, "started_at", n->started_at);
	api_json_add_optional(o, "finished_at", n->finished_at);
	api_json_add_optional(o, "error_msg", n->error_msg);
	cJSON_AddNumberToObject(o, "version", (double)n->version);
	add_id(o, "previous_version", n->previous_version);
	return o;
}

/* The counts of batch in all (in batch order; the search starts at *at and moves it on). */
static const struct batch_counts *counts_of(int batch, const struct batch_counts *all, size_t nall,
                                            size_t *at)
{
	while (*at < nall && all[*at].batch < batch)
		(*at)++;
	return *at < nall && all[*at].batch == batch ? &all[*at] : NULL;
}

cJSON *render_batches(const struct release_node *nodes, size_t n, const struct batch_counts *all,
                      size_t nall, enum release_status release, const struct release_group *groups,
                      size_t ngroups)
{
	cJSON *arr = cJSON_CreateArray();
	size_t at = 0;

	for (size_t i = 0; i < n;) {
		int count[NODE_STATUS_COUNT] = {0};
		const struct batch_counts *whole = counts_of(nodes[i].batch, all, nall, &at);
		cJSON *b = cJSON_CreateObject(), *list;
		size_t j = i;

		cJSON_AddNumberToObject(b, "batch", nodes[i].batch);
		add_batch_group(b, nodes[i].batch, groups, ngroups);
		list = cJSON_CreateArray();
		for (; j < n && nodes[j].batch == nodes[i].batch; j++) {
			count[nodes[j].status]++;
			cJSON_AddItemToArray(list, node_json(&nodes[j]));
		}
		cJSON_AddStringToObject(
		    b, "status",
		    node_status_name(batch_status(whole ? whole->count : count, release)));
		cJSON_AddItemToObject(b, "nodes", list);
		cJSON_AddItemToArray(arr, b);
		i = j;
	}
	return arr;
}

cJSON *render_summary(const struct batch_counts *b, size_t n, enum release_status release,
                      const struct release_group *groups, size_t ngroups)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "batch", b[i].batch);
		add_batch_group(o, b[i].batch, groups, ngroups);
		cJSON_AddStringToObject(o, "status",
		                        node_status_name(batch_status(b[i].count, release)));
		cJSON_AddNumberToObject(o, "total", b[i].total);
		for (int s = 0; s < NODE_STATUS_COUNT; s++)
			cJSON_AddNumberToObject(o, node_status_name((enum node_status)s),
			                        b[i].count[s]);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *preview_node_json(const struct preview_node *x, const char *reason)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "node_id", (double)x->id);
	cJSON_AddStringToObject(o, "hostname", x->hostname);
	cJSON_AddStringToObject(o, "node_ip", x->ip);
	cJSON_AddNumberToObject(o, "agent_port", x->agent_port);
	if (reason)
		cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char db[32], rfc[40];

	if (!ms) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	format_db_time(ms, db, sizeof(db));
	if (db_time_to_rfc3339(db, rfc, sizeof(rfc)) == 0)
		cJSON_AddStringToObject(o, name, rfc);
	else
		cJSON_AddNullToObject(o, name);
}

cJSON *render_preview(const struct release_request *rq, const struct release_preview *pv)
{
	const struct release_plan *plan = rq->plan;
	cJSON *o = cJSON_CreateObject(), *batches = cJSON_CreateArray(), *left;

	cJSON_AddTrueToObject(o, "dry_run");
	cJSON_AddNumberToObject(o, "version", (double)rq->version);
	cJSON_AddNumberToObject(o, "total_nodes", pv->total);
	cJSON_AddNumberToObject(o, "batch_count", pv->batch_count);
	if (plan->batch_size > 0)
		cJSON_AddNumberToObject(o, "batch_size", plan->batch_size);
	else
		cJSON_AddNullToObject(o, "batch_size");
	cJSON_AddItemToObject(o, "batch_plan", steps_json(plan->steps, plan->nsteps));
	cJSON_AddItemToObject(o, "batch_sizes", ints_json(pv->sizes, (size_t)pv->batch_count));
	if (plan->npauses)
		cJSON_AddItemToObject(o, "pause_after",
		                      ints_json(plan->pause_after, plan->npauses));
	else
		cJSON_AddNullToObject(o, "pause_after");
	add_limit(o, "max_failures", plan->max_failures);
	add_limit(o, "max_failure_percent", plan->max_failure_percent);
	cJSON_AddNumberToObject(o, "failure_allowance", pv->allowance);
	add_time(o, "not_before", plan->not_before_ms);
	add_time(o, "expires_at", plan->expires_at_ms);
	add_id(o, "waiting_for", pv->waiting_for);
	cJSON_AddBoolToObject(o, "auto_rollback", rq->auto_rollback);
	cJSON_AddBoolToObject(o, "approval_required", pv->approval_required);
	api_json_add_optional(o, "approval_reason", pv->approval_reason);
	add_targeting(o, rq->sel ? rq->selector_text : "", rq->group_by ? rq->group_by : "",
	              rq->pause_between_groups);
	if (rq->sel)
		cJSON_AddNumberToObject(o, "matched", (double)(pv->n + pv->nleft));
	cJSON_AddItemToObject(o, "groups",
	                      groups_json(pv->groups, pv->ngroups, rq->group_by != NULL));
	for (size_t i = 0; i < pv->n;) {
		cJSON *b = cJSON_CreateObject(), *list = cJSON_CreateArray();
		size_t j = i;

		cJSON_AddNumberToObject(b, "batch", pv->nodes[i].batch);
		add_batch_group(b, pv->nodes[i].batch, pv->groups, pv->ngroups);
		for (; j < pv->n && pv->nodes[j].batch == pv->nodes[i].batch; j++)
			cJSON_AddItemToArray(list, preview_node_json(&pv->nodes[j], NULL));
		cJSON_AddItemToObject(b, "nodes", list);
		cJSON_AddItemToArray(batches, b);
		i = j;
	}
	cJSON_AddItemToObject(o, "batches", batches);
	left = cJSON_AddArrayToObject(o, "left_out");
	for (size_t i = 0; i < pv->nleft; i++)
		cJSON_AddItemToArray(left, preview_node_json(&pv->left_out[i], "offline"));
	return o;
}
