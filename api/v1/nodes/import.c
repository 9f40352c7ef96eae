/*
 * nodes import: POST /api/v1/nodes/import, an inventory of up to 10,000 nodes in one
 * transaction ({"nodes": [...], "mode": "create" | "upsert"}), read by internal/inventory
 * and written by the store. The only route whose body may exceed API_BODY_MAX
 * (API_IMPORT_BODY_MAX). A refusal lists every bad item by index (the first 100).
 */
#include <stdlib.h>
#include <string.h>

#include "api/v1/router.h"
#include "core/core.h"
#include "core/log.h"
#include "inventory/inventory.h"
#include "store/store.h"

/* 400 (the body's shape) or 422 (items, or the request, break a rule), with the items. */
static void send_report(struct mg_connection *conn, const struct inventory_report *r)
{
	cJSON *doc = cJSON_CreateObject(), *items;

	cJSON_AddStringToObject(doc, "error", r->msg);
	if (r->nbad) {
		cJSON_AddNumberToObject(doc, "bad", (double)r->nbad);
		items = cJSON_AddArrayToObject(doc, "items");
		for (size_t i = 0; i < r->nerrors; i++) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddNumberToObject(o, "index", (double)r->errors[i].index);
			cJSON_AddStringToObject(o, "error", r->errors[i].msg);
			cJSON_AddItemToArray(items, o);
		}
	}
	api_send_json(conn, r->malformed ? 400 : 422, doc);
	cJSON_Delete(doc);
}

/* What the import did: the counts, and each item's node and change in request order. */
static void send_result(struct mg_connection *conn, int status,
                        const struct node_import_result *res)
{
	cJSON *doc = cJSON_CreateObject(), *ids, *changes;

	cJSON_AddNumberToObject(doc, "import_id", (double)res->import_id);
	cJSON_AddStringToObject(doc, "mode", res->mode == INVENTORY_UPSERT ? "upsert" : "create");
	cJSON_AddNumberToObject(doc, "created", res->created);
	cJSON_AddNumberToObject(doc, "updated", res->updated);
	cJSON_AddNumberToObject(doc, "unchanged", res->unchanged);
	ids = cJSON_AddArrayToObject(doc, "ids");
	changes = cJSON_AddArrayToObject(doc, "changes");
	for (size_t i = 0; i < res->n; i++) {
		cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)res->ids[i]));
		cJSON_AddItemToArray(changes,
		                     cJSON_CreateString(res->changes[i] == 'c'   ? "created"
		                                        : res->changes[i] == 'u' ? "updated"
		                                                                 : "unchanged"));
	}
	api_send_json(conn, status, doc);
	cJSON_Delete(doc);
}

void api_nodes_import(struct api_request *req)
{
	struct mg_connection *conn = req->conn;
	char key[API_IDEM_KEY_MAX + 1], digest[65], err[512];
	struct store_idem idem = {.principal = req->principal, .body_sha256 = digest};
	struct inventory inv = INVENTORY_INIT;
	struct node_import_result res = {0};
	struct inventory_report *r = NULL; /* some 52 KB: not on a worker's stack */
	struct db_conn *db;
	int has_key, replayed = 0, rc;
	cJSON *body = NULL;

	if ((has_key = api_idempotency_key(conn, key)) < 0 ||
	    api_read_json_max(conn, API_IMPORT_BODY_MAX, &body))
		return;
	if (!(r = calloc(1, sizeof(*r))) || (has_key && api_body_digest(body, digest))) {
		api_send_error(conn, 500, "out of memory");
		goto out;
	}
	rc = inventory_parse_import(body, &inv, r);
	if (rc) {
		if (rc == CMDB_ENOMEM)
			api_send_error(conn, 500, "out of memory");
		else
			send_report(conn, r);
		goto out;
	}
	idem.key = has_key ? key : NULL;
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = store_node_import(db, &inv, &idem, &res, &replayed, r, err, sizeof(err));
	api_db_put(req, db);
	if (rc == CMDB_EINVAL && r->nbad) {
		send_report(conn, r);
	} else if (rc) {
		api_send_store_error(conn, rc, err);
	} else {
		if (!replayed)
			log_info("api",
			         "import %lld by %s (%s): %zu nodes, %d created, %d updated, %d"
			         " unchanged",
			         (long long)res.import_id, req->principal,
			         res.mode == INVENTORY_UPSERT ? "upsert" : "create", res.n,
			         res.created, res.updated, res.unchanged);
		send_result(conn, replayed ? 200 : 201, &res);
	}
out:
	store_node_import_free(&res);
	inventory_free(&inv);
	free(r);
	cJSON_Delete(body);
}
