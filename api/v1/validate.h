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
	int batch_size;
	int64_t *node_ids; /* malloc'd, NULL when absent (every online node) */
	size_t n;
};

/* POST /api/v1/releases: {"version","batch_size","node_ids"?}; free with _release. */
int api_parse_release_create(const cJSON *body, struct release_input *out, struct api_error *e);
void api_release_input_release(struct release_input *in);

#endif
