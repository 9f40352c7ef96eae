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
#include "labels/labels.h"
#include "plan/plan.h"
#include "selector/selector.h"

#define API_JSON_DEPTH_MAX     8
#define API_OBJECT_MEMBERS_MAX 128 /* a label merge patch: 64 keys removed, 64 set */
#define API_NODE_IDS_MAX       10000
#define API_BATCH_SIZE_MAX     10000

struct api_error {
	int status;
	char msg[512];
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
	struct labels labels; /* owned: api_node_input_free; empty when not given */
};

/*
 * POST /api/v1/nodes: {"hostname","ip","agent_port"?,"status"?,"labels"?}; labels is an
 * object of string to string by the label rules (labels.h): a bad key or value is a 422
 * that names it and the rule. Free with api_node_input_free, also after a refusal.
 */
int api_parse_node_create(const cJSON *body, struct node_input *out, struct api_error *e);
void api_node_input_free(struct node_input *in);
/* PATCH /api/v1/nodes/{id}: any of "status", "hostname", "ip", "agent_port", "labels". */
struct node_patch_input {
	int status;           /* enum node_health, or -1 when not given */
	const char *hostname; /* NULL when not given; points into the document */
	char ip[46];          /* canonical form; "" when not given */
	int agent_port;       /* 0 when not given */
	/*
	 * An RFC 7386 merge patch of the labels (a string sets its key, null removes it), its
	 * keys and values checked; NULL when not given. Points into the document.
	 */
	const cJSON *labels;
};
int api_parse_node_patch(const cJSON *body, struct node_patch_input *out, struct api_error *e);

struct release_input {
	int64_t version;
	struct release_plan plan; /* batches, pauses, allowance, schedule */
	int64_t *node_ids; /* malloc'd, in the order given; NULL when absent (every online node) */
	size_t n;
	struct selector *sel;      /* instead of node_ids; owned; NULL when absent */
	const char *selector_text; /* sel as given (points into the document) */
	const char *group_by;      /* a label key (points into the document); NULL when absent */
	int pause_between_groups;  /* 1 or 0 */
	int auto_rollback;         /* 1 or 0; -1 when not given (RELEASE_AUTO_ROLLBACK decides) */
	int require_approval;      /* 1 or 0 */
};

/*
 * POST /api/v1/releases: {"version", "batch_size" | "batches", "node_ids" | "selector"?,
 * "group_by"?, "pause_between_groups"?, "pause_after"?, "max_failures" |
 * "max_failure_percent"?, "not_before"?, "expires_at"?, "auto_rollback"?,
 * "require_approval"?}. A malformed selector is a 422 with the position and what was
 * expected there; an empty one is refused (it would select every node); group_by is a
 * label key; pause_between_groups needs group_by. Times are checked against now_ms (epoch
 * ms). What needs the node count (a pause_after batch that exists) is the store's to
 * check. Free with api_release_input_free.
 */
int api_parse_release_create(const cJSON *body, int64_t now_ms, struct release_input *out,
                             struct api_error *e);
void api_release_input_free(struct release_input *in);

#define API_COMMENT_MAX 1024

/* POST .../approve and .../reject: {"comment"?}; *comment is NULL when not given. */
int api_parse_decision(const cJSON *body, const char **comment, struct api_error *e);

#define API_ALERTS_MAX 1000

/* One alert of an Alertmanager webhook; the strings point into the document. */
struct alert_entry {
	const char *status; /* "firing" or "resolved" */
	const char *fingerprint;
	const char *starts_at;     /* RFC 3339, as sent */
	const char *alertname;     /* the alertname label, NULL when absent */
	const char *release_label; /* the release_id label, NULL when absent */
};

/*
 * POST /api/v1/alerts: Alertmanager's webhook payload, version "4": {"version": "4",
 * "alerts": [{"status", "labels": {...}, "fingerprint", "startsAt", ...}], ...}. Members
 * Alertmanager adds (groupKey, annotations, ...) are accepted and not used. *out is
 * malloc'd (free it), *n entries.
 */
int api_parse_alerts(const cJSON *body, struct alert_entry **out, size_t *n, struct api_error *e);

#endif
