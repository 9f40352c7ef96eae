/*
 * nodes handler: POST /api/v1/nodes, GET /api/v1/nodes, GET and PATCH /api/v1/nodes/{id}.
 * PATCH takes {"status": "online"|"offline"}: how an operator takes a node out of
 * future releases without deleting its history.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/router.h"
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
	return o;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
static int valid_hostname(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Accepts an IPv4 or IPv6 literal and writes its canonical form. */
static int canonical_ip(const char *s, char *out, size_t len)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, s, addr) == 1)
		return inet_ntop(AF_INET, addr, out, (socklen_t)len) ? 0 : -1;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return inet_ntop(AF_INET6, addr, out, (socklen_t)len) ? 0 : -1;
	return -1;
}

/* Reads an optional "status" field; 1 absent, 0 ok, -1 answered. */
static int read_health(struct mg_connection *conn, const cJSON *body, enum node_health *out)
{
	const char *s = NULL;
	int rc = api_json_string(conn, body, "status", 16, &s), h;

	if (rc != 0)
		return rc;
	h = node_health_parse(s);
	if (h < 0) {
		api_send_error(conn, 422, "status must be \"online\" or \"offline\"");
		return -1;
	}
	*out = (enum node_health)h;
	return 0;
}

void api_nodes_create(struct api_request *req)
{
	static const char *const fields[] = { "hostname", "ip", "agent_port", "status", NULL };
	struct mg_connection *conn = req->conn;
	const char *hostname = NULL, *ip = NULL;
	enum node_health health = NODE_ONLINE;
	char canon[STORE_IP_LEN], err[512];
	int64_t port = 8443;
	struct db_conn *db;
	struct node n;
	cJSON *body;
	int rc;

	if (api_read_json(conn, &body))
		return;
	if (api_json_only(conn, body, fields))
		goto out;
	rc = api_json_string(conn, body, "hostname", 253, &hostname);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		api_send_error(conn, 422, "hostname is required");
		goto out;
	}
	rc = api_json_string(conn, body, "ip", 64, &ip);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		api_send_error(conn, 422, "ip is required");
		goto out;
	}
	if (api_json_int(conn, body, "agent_port", 1, 65535, &port) < 0 ||
	    read_health(conn, body, &health) < 0)
		goto out;
	if (!valid_hostname(hostname)) {
		api_send_error(conn, 422, "hostname must be an RFC 1123 host name");
		goto out;
	}
	if (canonical_ip(ip, canon, sizeof(canon))) {
		api_send_error(conn, 422, "ip must be an IPv4 or IPv6 address");
		goto out;
	}
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = store_node_create(db, hostname, canon, (int)port, health, &n, err, sizeof(err));
	api_db_release(req, db);
	if (rc) {
		api_send_store_error(conn, rc, err);
	} else {
		cJSON *doc = node_json(&n);

		api_send_json(conn, 201, doc);
		cJSON_Delete(doc);
	}
out:
	cJSON_Delete(body);
}

void api_nodes_list(struct api_request *req)
{
	struct node *nodes = NULL;
	char err[512];
	size_t n = 0;
	struct db_conn *db = api_db_acquire(req);
	cJSON *doc, *arr;
	int rc;

	if (!db)
		return;
	rc = store_node_list(db, &nodes, &n, err, sizeof(err));
	api_db_release(req, db);
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
	static const char *const fields[] = { "status", NULL };
	enum node_health health = NODE_ONLINE;
	cJSON *body = NULL, *doc;
	struct db_conn *db;
	struct node n;
	char err[512];
	int rc;

	if (patch) {
		if (api_read_json(req->conn, &body))
			return;
		if (api_json_only(req->conn, body, fields) ||
		    (rc = read_health(req->conn, body, &health)) < 0)
			goto out;
		if (rc == 1) {
			api_send_error(req->conn, 422, "status is required");
			goto out;
		}
	}
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = patch ? store_node_set_status(db, req->id, health, &n, err, sizeof(err))
		   : store_node_get(db, req->id, &n, err, sizeof(err));
	api_db_release(req, db);
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
