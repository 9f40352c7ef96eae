/*
 * fuzz_api_body: libFuzzer harness for the request-body rules (api/v1/validate.c). The
 * bytes are a request body as civetweb hands it over; every parser must either accept
 * it with values inside the documented ranges or refuse it with a safe message.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The message goes back to the client verbatim, so it must be short printable text. */
static void check_error(const struct api_error *e)
{
	size_t n = strnlen(e->msg, sizeof(e->msg));

	assert(e->status == 400 || e->status == 422 || e->status == 500);
	assert(n > 0 && n < sizeof(e->msg));
	for (size_t i = 0; i < n; i++)
		assert(e->msg[i] >= 0x20 && e->msg[i] <= 0x7e);
}

/* A parse that failed leaves e as it was only if it forgot to fill it. */
static void reset_error(struct api_error *e)
{
	e->status = -1;
	memset(e->msg, 'X', sizeof(e->msg));
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void check_node_create(const cJSON *doc)
{
	struct node_input in;
	struct api_error e;

	reset_error(&e);
	if (api_parse_node_create(doc, &in, &e)) {
		check_error(&e);
		api_node_input_free(&in);
		return;
	}
	assert(in.hostname && strlen(in.hostname) >= 1 && strlen(in.hostname) <= 253);
	for (const char *p = in.hostname; *p; p++)
		assert((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '-' || *p == '.');
	assert(strnlen(in.ip, sizeof(in.ip)) > 0 && strnlen(in.ip, sizeof(in.ip)) < sizeof(in.ip));
	assert(in.agent_port >= 1 && in.agent_port <= 65535);
	assert(in.status == NODE_ONLINE || in.status == NODE_OFFLINE);
	assert(in.labels.n <= LABELS_MAX);
	for (size_t i = 0; i < in.labels.n; i++) {
		char err[LABELS_ERR_MAX];

		assert(labels_check_key(in.labels.items[i].key, err, sizeof(err)) == 0);
		assert(labels_check_value(in.labels.items[i].key, in.labels.items[i].value, err,
		                          sizeof(err)) == 0);
	}
	api_node_input_free(&in);
}

static void check_node_patch(const cJSON *doc)
{
	struct node_patch_input in;
	struct api_error e;

	reset_error(&e);
	if (api_parse_node_patch(doc, &in, &e)) {
		check_error(&e);
		return;
	}
	assert(in.status == -1 || in.status == NODE_ONLINE || in.status == NODE_OFFLINE);
	assert(!in.hostname || (strlen(in.hostname) >= 1 && strlen(in.hostname) <= 253));
	assert(strnlen(in.ip, sizeof(in.ip)) < sizeof(in.ip));
	assert(in.agent_port >= 0 && in.agent_port <= 65535);
	/* Something to change, always; labels a merge patch that applies to an empty set. */
	assert(in.status >= 0 || in.hostname || in.ip[0] || in.agent_port || in.labels);
	assert(!in.labels || cJSON_IsObject(in.labels));
}

static void check_decision(const cJSON *doc)
{
	const char *comment = (const char *)1;
	struct api_error e;

	reset_error(&e);
	if (api_parse_decision(doc, &comment, &e)) {
		check_error(&e);
		return;
	}
	assert(!comment || strlen(comment) <= API_COMMENT_MAX);
}

static void check_alerts(const cJSON *doc)
{
	struct alert_entry *a = (struct alert_entry *)1;
	struct api_error e;
	size_t n = 99;

	reset_error(&e);
	if (api_parse_alerts(doc, &a, &n, &e)) {
		check_error(&e);
		assert(a == NULL && n == 0);
		return;
	}
	assert(n <= API_ALERTS_MAX);
	for (size_t i = 0; i < n; i++) {
		int64_t ms;

		assert(strcmp(a[i].status, "firing") == 0 || strcmp(a[i].status, "resolved") == 0);
		assert(strlen(a[i].fingerprint) >= 1 && strlen(a[i].fingerprint) <= 128);
		assert(rfc3339_to_ms(a[i].starts_at, &ms) == 0);
		assert(!a[i].release_label || strlen(a[i].release_label) <= 64);
		assert(!a[i].alertname || strlen(a[i].alertname) <= 255);
	}
	free(a);
}

static void check_release_create(const cJSON *doc)
{
	struct release_input in;
	struct api_error e;
	int64_t *sorted;

	reset_error(&e);
	/* A fixed "now" (2026-11-22T04:19:32Z), so that a crash reproduces. */
	if (api_parse_release_create(doc, 1795321172000LL, &in, &e)) {
		check_error(&e);
		/* The failure path must have freed the ids and the selector already. */
		assert(in.node_ids == NULL && in.n == 0 && in.sel == NULL);
		return;
	}
	/* A selector, never with node_ids, never empty; pause_between_groups needs group_by. */
	assert(!in.sel || (in.n == 0 && in.sel->n >= 1 && in.selector_text));
	assert(!in.pause_between_groups || in.group_by);
	if (in.group_by) {
		char err[LABELS_ERR_MAX];

		assert(labels_check_key(in.group_by, err, sizeof(err)) == 0);
	}
	assert(in.version >= 1 && in.version <= 9007199254740991LL);
	assert(in.plan.nsteps >= 1 && in.plan.nsteps <= PLAN_STEPS_MAX);
	for (size_t i = 0; i < in.plan.nsteps; i++)
		assert(in.plan.steps[i].percent
		           ? in.plan.steps[i].value >= 1 && in.plan.steps[i].value <= 100
		           : in.plan.steps[i].value >= 1 &&
		                 in.plan.steps[i].value <= API_BATCH_SIZE_MAX);
	assert(in.plan.batch_size == 0 ||
	       (in.plan.nsteps == 1 && in.plan.batch_size == in.plan.steps[0].value));
	assert(in.plan.npauses <= PLAN_PAUSES_MAX);
	for (size_t i = 0; i < in.plan.npauses; i++)
		assert(in.plan.pause_after[i] >= 1 &&
		       (i == 0 || in.plan.pause_after[i] > in.plan.pause_after[i - 1]));
	assert(in.plan.max_failures >= -1 && in.plan.max_failures <= PLAN_FAILURES_MAX);
	assert(in.plan.max_failure_percent >= -1 && in.plan.max_failure_percent <= 100);
	assert(in.plan.max_failures < 0 || in.plan.max_failure_percent < 0);
	assert(in.plan.not_before_ms == 0 || in.plan.not_before_ms >= 1795321172000LL);
	assert(in.plan.expires_at_ms == 0 || in.plan.expires_at_ms > 1795321172000LL);
	assert(!in.plan.not_before_ms || !in.plan.expires_at_ms ||
	       in.plan.expires_at_ms > in.plan.not_before_ms);
	assert((in.node_ids == NULL) == (in.n == 0));
	assert(in.n <= API_NODE_IDS_MAX);
	assert(in.auto_rollback >= -1 && in.auto_rollback <= 1);
	assert(in.require_approval == 0 || in.require_approval == 1);
	if (in.n) {
		sorted = malloc(in.n * sizeof(*sorted));
		assert(sorted);
		memcpy(sorted, in.node_ids, in.n * sizeof(*sorted));
		qsort(sorted, in.n, sizeof(*sorted), cmp_id);
		for (size_t i = 0; i < in.n; i++) {
			assert(sorted[i] >= 1);
			assert(i == 0 || sorted[i] != sorted[i - 1]);
		}
		free(sorted);
	}
	api_release_input_free(&in);
	assert(in.node_ids == NULL && in.n == 0 && in.sel == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_error e;
	cJSON *doc = (cJSON *)1;

	reset_error(&e);
	if (api_parse_object((const char *)data, size, &doc, &e)) {
		check_error(&e);
		assert(doc == NULL);
		return 0;
	}
	assert(cJSON_IsObject(doc));
	check_node_create(doc);
	check_node_patch(doc);
	check_release_create(doc);
	check_decision(doc);
	check_alerts(doc);
	cJSON_Delete(doc);
	return 0;
}
