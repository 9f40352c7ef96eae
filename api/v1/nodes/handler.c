/*
 * nodes handler: POST /api/v1/nodes, GET /api/v1/nodes (?selector=, ?status=,
 * ?config_version=, ?config_version_not=, all of which must hold; pages with ?limit= and
 * ?after=, and the count of all pages with ?total=1), GET and PATCH /api/v1/nodes/{id}. PATCH takes
 * "status" ("online"|"offline": how an operator takes a node out of releases without deleting its
 * history), "hostname", "ip" and "agent_port" (a node that moved), and "labels" as a merge patch.
 * POST /api/v1/nodes/import is nodes/import.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "api/v1/router.h"
#include "api/v1/validate.h"
#include "core/core.h"
#include "store/store.h"

/* Nodes of one page of GET /api/v1/nodes?limit=. */
#define PAGE_MAX 10000

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
	cJSON_AddItemToObject(o, "labels", labels_to_json(&n->labels));
	return o;
}

void api_nodes_create(struct api_request *req)
{
	struct mg_connection *conn = req->conn;
	char key[API_IDEM_KEY_MAX + 1], digest[65], err[512];
	struct store_idem idem = {.principal = req->principal, .body_sha256 = digest};
	int has_key, replayed = 0, rc;
	struct node_input in;
	struct node_new nn;
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
	nn = (struct node_new){.hostname = in.hostname,
	                       .ip = in.ip,
	                       .agent_port = in.agent_port,
	                       .status = in.status,
	                       .labels = &in.labels};
	rc = store_node_create(db, &nn, &idem, &n, &replayed, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(conn, rc, err);
	} else {
		cJSON *doc = node_json(&n);

		api_send_json(conn, replayed ? 200 : 201, doc);
		cJSON_Delete(doc);
		store_node_release(&n);
	}
out:
	api_node_input_free(&in);
	cJSON_Delete(body);
}

/* Reads ?config_version= or ?config_version_not=; 0, or -1 after answering 400. */
static int read_version(struct api_request *req, struct node_filter *f)
{
	char v[32], not_v[32];
	int has = api_query_param(req->query, "config_version", v, sizeof(v));
	int has_not = api_query_param(req->query, "config_version_not", not_v, sizeof(not_v));

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

/* Reads ?status= and the page (?limit=, ?after=, ?total=); 0, or -1 after answering 400. */
static int read_page(struct api_request *req, struct node_filter *f)
{
	char status[16], limit[32], after[32];
	int has_status = api_query_param(req->query, "status", status, sizeof(status));
	int has_limit = api_query_param(req->query, "limit", limit, sizeof(limit));
	int has_after = api_query_param(req->query, "after", after, sizeof(after));
	int64_t v = 0;

	f->status = -1;
	if (has_status < 0 || (has_status == 1 && (f->status = node_health_parse(status)) < 0)) {
		api_send_error(req->conn, 400, "status must be online or offline");
		return -1;
	}
	if (has_limit < 0 || (has_limit == 1 && parse_int64(limit, 1, PAGE_MAX, &v))) {
		api_send_error(req->conn, 400, "limit must be an integer from 1 to %d", PAGE_MAX);
		return -1;
	}
	f->limit = (int)v;
	if (has_after < 0 || (has_after == 1 && parse_int64(after, 0, INT64_MAX, &f->after))) {
		api_send_error(req->conn, 400, "after must be a node id (an integer, 0 or more)");
		return -1;
	}
	if ((f->count = api_query_flag(req, "total")) < 0)
		return -1;
	if ((has_after == 1 || f->count) && has_limit != 1) {
		api_send_error(req->conn, 400,
		               "after and total page with limit: give limit too (1 to %d nodes a"
		               " page)",
		               PAGE_MAX);
		return -1;
	}
	return 0;
}

/*
 * Reads ?selector= into *sel (NULL when absent; the caller frees it); 0, or -1 after
 * answering 400 with the position and what was expected there.
 */
static int read_selector(struct api_request *req, struct selector **sel)
{
	struct selector_error se;
	char *text = malloc(SELECTOR_TEXT_MAX + 1);
	int rc;

	*sel = NULL;
	if (!text) {
		api_send_error(req->conn, 500, "out of memory");
		return -1;
	}
	rc = api_query_param(req->query, "selector", text, SELECTOR_TEXT_MAX + 1);
	if (rc < 0)
		api_send_error(req->conn, 400,
		               "selector must be a label selector of at most %d characters",
		               SELECTOR_TEXT_MAX);
	else if (rc == 1 && (rc = selector_parse(text, sel, &se)) != 0)
		api_send_error(req->conn, rc == CMDB_ENOMEM ? 500 : 400, "selector: %s", se.msg);
	free(text);
	return rc < 0 ? -1 : 0;
}

void api_nodes_list(struct api_request *req)
{
	struct node_filter f = {0};
	struct selector *sel = NULL;
	struct node_page page;
	char err[512];
	struct db_conn *db;
	cJSON *doc, *arr;
	int rc;

	if (read_version(req, &f) || read_page(req, &f) || read_selector(req, &sel))
		return;
	f.sel = sel;
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = store_node_list(db, &f, &page, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		goto out;
	}
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "nodes");
	for (size_t i = 0; i < page.n; i++)
		cJSON_AddItemToArray(arr, node_json(&page.nodes[i]));
	cJSON_AddNumberToObject(doc, "count", (double)page.n);
	if (f.limit && f.count)
		cJSON_AddNumberToObject(doc, "total", (double)page.total);
	if (f.limit) {
		if (page.more)
			cJSON_AddNumberToObject(doc, "next_after",
			                        (double)page.nodes[page.n - 1].id);
		else
			cJSON_AddNullToObject(doc, "next_after");
	}
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
	store_node_page_free(&page);
out:
	selector_free(sel);
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
		                        .agent_port = in.agent_port,
		                        .labels = in.labels};
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
	store_node_release(&n);
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
