/*
 * nodes handler: POST /api/v1/nodes, GET /api/v1/nodes (?config_version=,
 * ?config_version_not=), GET and PATCH /api/v1/nodes/{id}. PATCH takes "status"
 * ("online"|"offline": how an operator takes a node out of releases without deleting
 * its history), "hostname", "ip" and "agent_port" (a node that moved).
 */
#include <stdlib.h>
#include <string.h>

#include "api/v1/router.h"
#include "api/v1/validate.h"
#include "core/core.h"
#include "store/store.h"

static cJSON *node_json(const struct node *n)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)n->id);
	cJSON_AddStringToObject(o, "hostname", n->hostname);
	cJSON_AddStringToObject(o, "ip", n->ip);
	cJSON_AddNumberToObject(o, "agent_port", n->agent_port);
	cJSON_AddStringToObject(o, "status", node_health_name(n->status));
	cJSON_AddStringToObject(o, "created_at", n->created_at);
	cJSON_AddStringToObject(o, "updated_at", n->updated_at);
	api_json_add_optional(o, "created_by", n->created_by);
	api_json_add_optional(o, "updated_by", n->updated_by);
	if (n->config_version)
		cJSON_AddNumberToObject(o, "config_version", (double)n->config_version);
	else
		cJSON_AddNullToObject(o, "config_version");
	api_json_add_optional(o, "config_applied_at", n->config_applied_at);
	if (n->config_release_id)
		cJSON_AddNumberToObject(o, "config_release_id", (double)n->config_release_id);
	else
		cJSON_AddNullToObject(o, "config_release_id");
	return o;
}

void api_nodes_create(struct api_request *req)
{
	struct mg_connection *conn = req->conn;
	char key[API_IDEM_KEY_MAX + 1], digest[65], err[512];
	struct store_idem idem = {.principal = req->principal, .body_sha256 = digest};
	int has_key, replayed = 0, rc;
	struct node_input in;
	struct api_error e;
	struct db_conn *db;
	struct node n;
	cJSON *body;

	if ((has_key = api_idempotency_key(conn, key)) < 0 || api_read_json(conn, &body))
		return;
	if (api_parse_node_create(body, &in, &e)) {
		api_send_error(conn, e.status, "%s", e.msg);
		goto out;
	}
	if (has_key && api_body_digest(body, digest)) {
		api_send_error(conn, 500, "out of memory");
		goto out;
	}
	idem.key = has_key ? key : NULL;
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = store_node_create(db, in.hostname, in.ip, in.agent_port, in.status, &idem, &n,
	                       &replayed, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(conn, rc, err);
	} else {
		cJSON *doc = node_json(&n);

		api_send_json(conn, replayed ? 200 : 201, doc);
		cJSON_Delete(doc);
	}
out:
	cJSON_Delete(body);
}

/* Reads ?config_version= or ?config_version_not=; 0, or -1 after answering 400. */
static int read_filter(struct api_request *req, struct node_filter *f)
{
	char v[32], not_v[32];
	int has = api_query_param(req->query, "config_version", v, sizeof(v));
	int has_not = api_query_param(req->query, "config_version_not", not_v, sizeof(not_v));

	memset(f, 0, sizeof(*f));
	if (has < 0 || has_not < 0 || (has == 1 && has_not == 1)) {
		api_send_error(req->conn, 400,
		               "give config_version or config_version_not (a version), not both");
		return -1;
	}
	if ((has == 1 && parse_int64(v, 1, INT64_MAX, &f->version)) ||
	    (has_not == 1 && parse_int64(not_v, 1, INT64_MAX, &f->version))) {
		api_send_error(req->conn, 400, "%s must be a positive integer (a config version)",
		               has == 1 ? "config_version" : "config_version_not");
		return -1;
	}
	f->by_version = has == 1 ? 1 : has_not == 1 ? -1 : 0;
	return 0;
}

void api_nodes_list(struct api_request *req)
{
	struct node *nodes = NULL;
	struct node_filter f;
	char err[512];
	size_t n = 0;
	struct db_conn *db;
	cJSON *doc, *arr;
	int rc;

	if (read_filter(req, &f))
		return;
	db = api_db_acquire(req);
	if (!db)
		return;
	rc = store_node_list(db, &f, &nodes, &n, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "nodes");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, node_json(&nodes[i]));
	cJSON_AddNumberToObject(doc, "count", (double)n);
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
	free(nodes);
}

static void get_or_patch(struct api_request *req, int patch)
{
	struct node_patch_input in;
	struct node_patch p = {0};
	cJSON *body = NULL, *doc;
	struct api_error e;
	struct db_conn *db;
	struct node n;
	char err[512];
	int rc;

	if (patch) {
		if (api_read_json(req->conn, &body))
			return;
		if (api_parse_node_patch(body, &in, &e)) {
			api_send_error(req->conn, e.status, "%s", e.msg);
			goto out;
		}
		p = (struct node_patch){.status = in.status,
		                        .hostname = in.hostname,
		                        .ip = in.ip[0] ? in.ip : NULL,
		                        .agent_port = in.agent_port};
	}
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = patch ? store_node_update(db, req->id, &p, req->principal, &n, err, sizeof(err))
	           : store_node_get(db, req->id, &n, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		goto out;
	}
	doc = node_json(&n);
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
out:
	cJSON_Delete(body);
}

void api_nodes_get(struct api_request *req)
{
	get_or_patch(req, 0);
}

void api_nodes_patch(struct api_request *req)
{
	get_or_patch(req, 1);
}
