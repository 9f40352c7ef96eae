/*
 * validate: every rule a request body must pass, as pure functions over bytes and
 * cJSON (no civetweb), so they are unit-tested and fuzzed directly. A failure fills
 * struct api_error with the HTTP status (400 malformed or wrong type, 422 well-formed
 * but invalid) and the message the client gets.
 */
#ifndef CMDB_API_VALIDATE_H
#define CMDB_API_VALIDATE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "plan/plan.h"

#define API_JSON_DEPTH_MAX     8
#define API_OBJECT_MEMBERS_MAX 32
#define API_NODE_IDS_MAX       10000
#define API_BATCH_SIZE_MAX     10000

struct api_error {
	int status;
	char msg[256];
};

/*
 * Parses buf as one JSON object: not empty, valid JSON, an object, nested at most
 * API_JSON_DEPTH_MAX levels, objects of at most API_OBJECT_MEMBERS_MAX members, no
 * member name twice. *doc is the caller's (cJSON_Delete).
 */
int api_parse_object(const char *buf, size_t len, cJSON **doc, struct api_error *e);

struct node_input {
	const char *hostname; /* points into the cJSON document */
	char ip[46];          /* canonical form */
	int agent_port;
	enum node_health status;
};

/* POST /api/v1/nodes: {"hostname","ip","agent_port"?,"status"?}. */
int api_parse_node_create(const cJSON *body, struct node_input *out, struct api_error *e);
/* PATCH /api/v1/nodes/{id}: {"status"}. */
int api_parse_node_patch(const cJSON *body, enum node_health *out, struct api_error *e);

struct release_input {
	int64_t version;
	struct release_plan plan; /* batches, pauses, allowance, schedule */
	int64_t *node_ids; /* malloc'd, in the order given; NULL when absent (every online node) */
	size_t n;
};

/*
 * POST /api/v1/releases: {"version", "batch_size" | "batches", "node_ids"?, "pause_after"?,
 * "max_failures" | "max_failure_percent"?, "not_before"?, "expires_at"?}. Times are
 * checked against now_ms (epoch ms). What needs the node count (a pause_after batch that
 * exists) is the store's to check. Free with api_release_input_release.
 */
int api_parse_release_create(const cJSON *body, int64_t now_ms, struct release_input *out,
                             struct api_error *e);
void api_release_input_release(struct release_input *in);

#endif
