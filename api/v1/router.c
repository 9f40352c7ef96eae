/*
 * router: one civetweb handler for every path; it splits /api/v1/<collection>[/<id>],
 * validates the id, and calls the collection's handler. Anything else is a JSON 404.
 */
#include "api/v1/router.h"

#include <string.h>

#include "core/core.h"
#include "store/store.h"

#define PREFIX "/api/v1/"

struct route {
	const char *collection;
	int with_id;        /* /api/v1/<collection>/{id} rather than /api/v1/<collection> */
	const char *action; /* /api/v1/<collection>/{id}/<action>; NULL for none */
	const char *method;
	void (*handle)(struct api_request *req);
};

static const struct route routes[] = {
    {"nodes", 0, NULL, "GET", api_nodes_list},
    {"nodes", 0, NULL, "POST", api_nodes_create},
    {"nodes", 1, NULL, "GET", api_nodes_get},
    {"nodes", 1, NULL, "PATCH", api_nodes_patch},
    {"releases", 0, NULL, "GET", api_releases_list},
    {"releases", 0, NULL, "POST", api_releases_create},
    {"releases", 1, NULL, "GET", api_releases_get},
    {"releases", 1, "pause", "POST", api_releases_pause},
    {"releases", 1, "resume", "POST", api_releases_resume},
    {"releases", 1, "cancel", "POST", api_releases_cancel},
    {"releases", 1, "approve", "POST", api_releases_approve},
    {"releases", 1, "reject", "POST", api_releases_reject},
    {"releases", 1, "rollback", "POST", api_releases_rollback},
    {"alerts", 0, NULL, "POST", api_alerts_receive},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Runs the matching route; 404 for an unknown path, 405 naming the allowed methods. */
static int dispatch(struct api_request *req, const char *collection, size_t clen)
{
	char allow[64] = "";
	size_t alen = 0;

	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *r = &routes[i];

		if (strlen(r->collection) != clen || strncmp(r->collection, collection, clen) ||
		    r->with_id != (req->id != 0) || !r->action != !req->action ||
		    (r->action && strcmp(r->action, req->action) != 0))
			continue;
		if (strcmp(r->method, req->method) == 0) {
			r->handle(req);
			return 200;
		}
		alen += (size_t)snprintf(allow + alen, sizeof(allow) - alen, "%s%s",
		                         alen ? ", " : "", r->method);
	}
	if (!alen) {
		api_send_error(req->conn, 404, "no such resource");
		return 404;
	}
	api_send_not_allowed(req->conn, allow);
	return 405;
}

/* GET /healthz: the process answers. GET /readyz: and the database answers too. */
static int health(struct mg_connection *conn, struct api_ctx *ctx, int ready)
{
	cJSON *doc = cJSON_CreateObject();
	int status = 200;

	if (ready) {
		char err[256];
		int code = 0;
		struct db_conn *c = db_pool_acquire(ctx->pool, &code, err, sizeof(err));

		if (c && mysql_ping(c->mysql) != 0)
			c->broken = 1;
		if (!c || c->broken)
			status = 503;
		db_pool_put(ctx->pool, c);
		cJSON_AddStringToObject(doc, "database", status == 200 ? "up" : "down");
	}
	cJSON_AddStringToObject(doc, "status", status == 200 ? "ok" : "unavailable");
	api_send_json(conn, status, doc);
	cJSON_Delete(doc);
	return status;
}

static int is_write(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/*
 * Names the principal of the request and enforces the rule: reads are open, writes
 * need a principal that may write. 0 to go on; otherwise the answer (401/403) is sent.
 */
static int authenticate(struct api_request *req, const struct mg_request_info *ri)
{
	const struct api_ctx *ctx = req->ctx;
	enum auth_verdict v;

	if (!ctx->auth_required) {
		str_copy(req->principal, "local", sizeof(req->principal));
		return 0;
	}
	if (ri->client_cert) {
		/* civetweb only reports a certificate that verified against CMDB_CLIENT_CA. */
		auth_cert_principal(ri->client_cert->subject, req->principal,
		                    sizeof(req->principal));
		return 0;
	}
	v = auth_check_bearer(ctx->auth, mg_get_header(req->conn, "Authorization"), req->principal,
	                      sizeof(req->principal));
	if (v == AUTH_INVALID) {
		api_send_unauthorized(req->conn, "invalid credentials: the bearer token is not"
		                                 " known");
		return 401;
	}
	if (!is_write(req->method))
		return 0;
	if (v == AUTH_ANONYMOUS) {
		api_send_unauthorized(req->conn, "authentication required: send"
		                                 " \"Authorization: Bearer <token>\" or a client"
		                                 " certificate");
		return 401;
	}
	if (v == AUTH_READER) {
		api_send_error(req->conn, 403, "%s may read but not change anything",
		               req->principal);
		return 403;
	}
	return 0;
}

static int route(struct mg_connection *conn, void *arg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct api_request req = {
	    .conn = conn, .ctx = arg, .method = ri->request_method, .query = ri->query_string};
	/*
	 * The raw path, not civetweb's cleaned one: "/api/v1/releases/%2e%2e%2fnodes" must
	 * not become "/api/v1/nodes". Anything with dot segments is simply not a resource.
	 */
	const char *path = ri->local_uri_raw ? ri->local_uri_raw : "";
	const char *rest, *slash, *action;
	char id[24];
	size_t clen, idlen;
	int rc;

	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
		if (strcmp(req.method, "GET") != 0) {
			api_send_not_allowed(conn, "GET");
			return 405;
		}
		return health(conn, arg, path[1] == 'r');
	}
	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0 || strstr(path, "/.") || strstr(path, "//"))
		goto not_found;
	rest = path + strlen(PREFIX);
	slash = strchr(rest, '/');
	clen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (slash && slash[1] != '\0') {
		/* {id} and, for an action, one more segment: /api/v1/releases/7/pause */
		action = strchr(slash + 1, '/');
		idlen = action ? (size_t)(action - slash - 1) : strlen(slash + 1);
		if (idlen < sizeof(id)) {
			memcpy(id, slash + 1, idlen);
			id[idlen] = '\0';
		}
		if (idlen >= sizeof(id) || parse_int64(id, 1, INT64_MAX, &req.id) != 0) {
			api_send_error(conn, 404, "no such resource: ids are positive integers");
			return 404;
		}
		if (action) {
			req.action = action + 1;
			if (!*req.action || strchr(req.action, '/'))
				goto not_found;
		}
	}
	rc = authenticate(&req, ri);
	if (rc)
		return rc;
	return dispatch(&req, rest, clen);
not_found:
	api_send_error(conn, 404, "no such resource");
	return 404;
}

void api_router_install(struct mg_context *mg, struct api_ctx *ctx)
{
	mg_set_request_handler(mg, "/", route, ctx);
}
