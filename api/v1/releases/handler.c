/*
 * releases handler: POST /api/v1/releases creates a pending release; GET
 * /api/v1/releases lists them newest first; GET /api/v1/releases/{id} shows one with
 * its nodes grouped by batch. The executor, not this handler, makes releases move.
 */
#include <stdlib.h>
#include <string.h>

#include "api/v1/cache.h"
#include "api/v1/router.h"
#include "api/v1/validate.h"
#include "core/core.h"
#include "store/store.h"

#define LIST_DEFAULT 50
#define LIST_MAX     1000

static cJSON *release_json(const struct release *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddNumberToObject(o, "version", (double)r->version);
	cJSON_AddStringToObject(o, "status", release_status_name(r->status));
	cJSON_AddNumberToObject(o, "batch_size", r->batch_size);
	cJSON_AddNumberToObject(o, "batch_count", r->batch_count);
	cJSON_AddNumberToObject(o, "total_nodes", r->total_nodes);
	cJSON_AddNumberToObject(o, "success_nodes", r->success_nodes);
	cJSON_AddNumberToObject(o, "failed_nodes", r->failed_nodes);
	api_json_add_optional(o, "created_at", r->created_at);
	api_json_add_optional(o, "started_at", r->started_at);
	api_json_add_optional(o, "finished_at", r->finished_at);
	api_json_add_optional(o, "error_msg", r->error_msg);
	api_json_add_optional(o, "created_by", r->created_by);
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
	return o;
}

/*
 * A batch's status from its nodes: failed if any failed; pending, success or skipped
 * when all nodes are; running otherwise (some work started, not all finished).
 */
static const char *batch_status(const int count[NODE_STATUS_COUNT], int total)
{
	if (count[NODE_FAILED])
		return "failed";
	if (count[NODE_PENDING] == total)
		return "pending";
	if (count[NODE_SUCCESS] == total)
		return "success";
	if (count[NODE_SKIPPED] == total)
		return "skipped";
	return "running";
}

static cJSON *batches_json(const struct release_node *nodes, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n;) {
		int count[NODE_STATUS_COUNT] = {0};
		cJSON *b = cJSON_CreateObject(), *list;
		size_t j = i;

		cJSON_AddNumberToObject(b, "batch", nodes[i].batch);
		list = cJSON_CreateArray();
		for (; j < n && nodes[j].batch == nodes[i].batch; j++) {
			count[nodes[j].status]++;
			cJSON_AddItemToArray(list, node_json(&nodes[j]));
		}
		cJSON_AddStringToObject(b, "status", batch_status(count, (int)(j - i)));
		cJSON_AddItemToObject(b, "nodes", list);
		cJSON_AddItemToArray(arr, b);
		i = j;
	}
	return arr;
}

/* ?view=summary: per batch its status and how many nodes are in each status. */
static cJSON *summary_json(const struct batch_counts *b, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "batch", b[i].batch);
		cJSON_AddStringToObject(o, "status", batch_status(b[i].count, b[i].total));
		cJSON_AddNumberToObject(o, "total", b[i].total);
		for (int s = 0; s < NODE_STATUS_COUNT; s++)
			cJSON_AddNumberToObject(o, node_status_name((enum node_status)s),
			                        b[i].count[s]);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

void api_releases_create(struct api_request *req)
{
	struct mg_connection *conn = req->conn;
	struct release_input in = {0};
	struct api_error e;
	struct db_conn *db;
	struct release r;
	char err[512];
	cJSON *body;
	int rc;

	if (api_read_json(conn, &body))
		return;
	if (api_parse_release_create(body, &in, &e)) {
		api_send_error(conn, e.status, "%s", e.msg);
		goto out;
	}
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = store_release_create(db, in.version, in.batch_size, in.node_ids, in.n, req->principal,
	                          &r, err, sizeof(err));
	api_db_release(req, db);
	if (rc) {
		api_send_store_error(conn, rc, err);
	} else {
		cJSON *doc = release_json(&r);

		api_send_json(conn, 201, doc);
		cJSON_Delete(doc);
	}
out:
	api_release_input_release(&in);
	cJSON_Delete(body);
}

void api_releases_list(struct api_request *req)
{
	char status[32], limit_s[32], err[512];
	struct release *rels = NULL;
	int64_t limit = LIST_DEFAULT;
	int st = -1, rc;
	size_t n = 0;
	struct db_conn *db;
	cJSON *doc, *arr;

	rc = api_query_param(req->query, "status", status, sizeof(status));
	if (rc < 0 || (rc == 1 && (st = release_status_parse(status)) < 0)) {
		api_send_error(req->conn, 400,
		               "status must be pending, running, success or failed");
		return;
	}
	rc = api_query_param(req->query, "limit", limit_s, sizeof(limit_s));
	if (rc < 0 || (rc == 1 && parse_int64(limit_s, 1, LIST_MAX, &limit))) {
		api_send_error(req->conn, 400, "limit must be an integer from 1 to %d", LIST_MAX);
		return;
	}
	db = api_db_acquire(req);
	if (!db)
		return;
	rc = store_release_list(db, st, (int)limit, &rels, &n, err, sizeof(err));
	api_db_release(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "releases");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, release_json(&rels[i]));
	cJSON_AddNumberToObject(doc, "count", (double)n);
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
	free(rels);
}

/* Reads ?view= and ?node_status=; 0, or -1 after answering 400. */
static int read_view(struct api_request *req, int *summary, int *node_status)
{
	char view[16], status[16];
	int rc;

	*summary = 0;
	*node_status = -1;
	rc = api_query_param(req->query, "view", view, sizeof(view));
	if (rc < 0 || (rc == 1 && strcmp(view, "full") != 0 && strcmp(view, "summary") != 0)) {
		api_send_error(req->conn, 400, "view must be full or summary");
		return -1;
	}
	*summary = rc == 1 && strcmp(view, "summary") == 0;
	rc = api_query_param(req->query, "node_status", status, sizeof(status));
	if (rc < 0 || (rc == 1 && (*node_status = node_status_parse(status)) < 0)) {
		api_send_error(req->conn, 400,
		               "node_status must be pending, running, success,"
		               " failed or skipped");
		return -1;
	}
	if (*summary && *node_status >= 0) {
		api_send_error(req->conn, 400,
		               "node_status filters the full view; the summary"
		               " already counts every status");
		return -1;
	}
	return 0;
}

/*
 * Reads what the view needs and renders it. A finished release never changes, so its
 * rendering goes to the cache; *cacheable says so.
 */
static int render(struct api_request *req, struct db_conn *db, int summary, int node_status,
                  char **text, int *cacheable, char *err, size_t errlen)
{
	struct release_node *nodes = NULL;
	struct batch_counts *counts = NULL;
	struct release r;
	size_t n = 0;
	cJSON *doc;
	int rc;

	rc = store_release_get(db, req->id, &r, err, errlen);
	if (rc == 0)
		rc = summary
		         ? store_release_batch_counts(db, req->id, &counts, &n, err, errlen)
		         : store_release_nodes(db, req->id, node_status, &nodes, &n, err, errlen);
	if (rc)
		return rc;
	doc = release_json(&r);
	cJSON_AddItemToObject(doc, "batches",
	                      summary ? summary_json(counts, n) : batches_json(nodes, n));
	*text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	free(nodes);
	free(counts);
	*cacheable = r.finished_at[0] != '\0';
	if (!*text) {
		snprintf(err, errlen, "out of memory rendering release %lld", (long long)req->id);
		return CMDB_ENOMEM;
	}
	return 0;
}

void api_releases_get(struct api_request *req)
{
	int summary, node_status, cacheable = 0, rc;
	char key[64], err[512];
	char *text = NULL;
	struct db_conn *db;
	size_t len;

	if (read_view(req, &summary, &node_status))
		return;
	snprintf(key, sizeof(key), "%lld/%d/%d", (long long)req->id, summary, node_status);
	if (api_cache_get(req->ctx->cache, key, &text, &len)) {
		api_send_body(req->conn, 200, text, len);
		free(text);
		return;
	}
	db = api_db_acquire(req);
	if (!db)
		return;
	rc = render(req, db, summary, node_status, &text, &cacheable, err, sizeof(err));
	api_db_release(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	len = strlen(text);
	api_send_body(req->conn, 200, text, len);
	if (cacheable)
		api_cache_put(req->ctx->cache, key, text, len);
	cJSON_free(text);
}
