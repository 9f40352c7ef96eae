/*
 * router: one civetweb handler for every path; it splits /api/v1/<collection>[/<id>],
 * validates the id, and calls the collection's handler. The probes, /metrics and the
 * console (/ and /ui/<file>) are exact paths or prefixes. Anything else is a JSON 404.
 */
#include "api/v1/router.h"

#include <stdio.h>
#include <string.h>

#include "api/v1/console.h"
#include "core/core.h"
#include "metrics/metrics.h"
#include "store/store.h"

#define PREFIX "/api/v1/"

struct route {
	const char *path;       /* an exact path (probes, metrics), or NULL for /api/v1/... */
	const char *collection; /* /api/v1/<collection> */
	int with_id;            /* /api/v1/<collection>/{id} rather than /api/v1/<collection> */
	const char *action;     /* /api/v1/<collection>/{id}/<action>; NULL for none */
	const char *method;
	void (*handle)(struct api_request *req);
};

static const struct route routes[] = {
    {"/", NULL, 0, NULL, "GET", api_console_index},
    {"/ui/", NULL, 0, NULL, "GET", api_console_file},
    {"/healthz", NULL, 0, NULL, "GET", api_health_live},
    {"/readyz", NULL, 0, NULL, "GET", api_health_ready},
    {"/health/live", NULL, 0, NULL, "GET", api_health_live},
    {"/health/ready", NULL, 0, NULL, "GET", api_health_ready},
    {"/metrics", NULL, 0, NULL, "GET", api_metrics},
    {NULL, "nodes", 0, NULL, "GET", api_nodes_list},
    {NULL, "nodes", 0, NULL, "POST", api_nodes_create},
    {NULL, "nodes", 0, "import", "POST", api_nodes_import},
    {NULL, "nodes", 1, NULL, "GET", api_nodes_get},
    {NULL, "nodes", 1, NULL, "PATCH", api_nodes_patch},
    {NULL, "releases", 0, NULL, "GET", api_releases_list},
    {NULL, "releases", 0, NULL, "POST", api_releases_create},
    {NULL, "releases", 1, NULL, "GET", api_releases_get},
    {NULL, "releases", 1, "events", "GET", api_releases_events},
    {NULL, "releases", 1, "pause", "POST", api_releases_pause},
    {NULL, "releases", 1, "resume", "POST", api_releases_resume},
    {NULL, "releases", 1, "cancel", "POST", api_releases_cancel},
    {NULL, "releases", 1, "approve", "POST", api_releases_approve},
    {NULL, "releases", 1, "reject", "POST", api_releases_reject},
    {NULL, "releases", 1, "rollback", "POST", api_releases_rollback},
    {NULL, "alerts", 0, NULL, "POST", api_alerts_receive},
};

#define NROUTES        (sizeof(routes) / sizeof(routes[0]))
#define ROUTE_OTHER    NROUTES /* unknown paths and methods, for the metrics */
#define ROUTE_NAME_MAX 80

/* A path of more than "/" that ends in a slash is a prefix: the rest is req->action. */
static int is_prefix(const struct route *r)
{
	size_t n = r->path ? strlen(r->path) : 0;

	return n > 1 && r->path[n - 1] == '/';
}

/* "GET /api/v1/releases/{id}/pause": the route's template, as OpenAPI writes it. */
static void route_name(const struct route *r, char *buf, size_t len)
{
	if (r->path)
		snprintf(buf, len, "%s %s%s", r->method, r->path, is_prefix(r) ? "{file}" : "");
	else
		snprintf(buf, len, "%s " PREFIX "%s%s%s%s", r->method, r->collection,
		         r->with_id ? "/{id}" : "", r->action ? "/" : "",
		         r->action ? r->action : "");
}

void api_router_write_routes(FILE *out)
{
	char name[ROUTE_NAME_MAX];

	for (size_t i = 0; i < NROUTES; i++) {
		route_name(&routes[i], name, sizeof(name));
		fprintf(out, "%s\n", name);
	}
}

/*
 * Runs the matching route of an exact path (path != NULL) or of /api/v1/<collection>;
 * 404 for an unknown path, 405 naming the allowed methods. *which: the route that ran.
 */
static void dispatch(struct api_request *req, const char *path, const char *collection, size_t clen,
                     size_t *which)
{
	char allow[64] = "";
	size_t alen = 0;

	*which = ROUTE_OTHER;
	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *r = &routes[i];

		if (path ? !r->path || (is_prefix(r) ? strncmp(r->path, path, strlen(r->path)) != 0
		                                     : strcmp(r->path, path) != 0)
		         : r->path || strlen(r->collection) != clen ||
		               strncmp(r->collection, collection, clen) ||
		               r->with_id != (req->id != 0) || !r->action != !req->action ||
		               (r->action && strcmp(r->action, req->action) != 0))
			continue;
		if (strcmp(r->method, req->method) == 0) {
			*which = i;
			if (is_prefix(r))
				req->action = path + strlen(r->path);
			r->handle(req);
			return;
		}
		alen += (size_t)snprintf(allow + alen, sizeof(allow) - alen, "%s%s",
		                         alen ? ", " : "", r->method);
	}
	if (!alen)
		api_send_error(req->conn, 404, "no such resource");
	else
		api_send_not_allowed(req->conn, allow);
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
	struct api_ctx *ctx = req->ctx;
	enum auth_verdict v;

	if (!ctx->cfg->auth_required) {
		str_copy(req->principal, "local", sizeof(req->principal));
		return 0;
	}
	if (ri->client_cert) {
		/* civetweb only reports a certificate that verified against CMDB_CLIENT_CA. */
		auth_cert_principal(ri->client_cert->subject, req->principal,
		                    sizeof(req->principal));
		return 0;
	}
	pthread_rwlock_rdlock(&req->ctx->auth_lock);
	v = auth_check_bearer(ctx->auth, mg_get_header(req->conn, "Authorization"), req->principal,
	                      sizeof(req->principal));
	pthread_rwlock_unlock(&req->ctx->auth_lock);
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

/* 1 when a route of the collection takes action with no id (POST /api/v1/nodes/import). */
static int collection_action(const char *collection, size_t clen, const char *action)
{
	for (size_t i = 0; i < NROUTES; i++)
		if (routes[i].collection && !routes[i].with_id && routes[i].action &&
		    strlen(routes[i].collection) == clen &&
		    strncmp(routes[i].collection, collection, clen) == 0 &&
		    strcmp(routes[i].action, action) == 0)
			return 1;
	return 0;
}

/*
 * Splits /api/v1/<collection>[/<id>[/<action>]] into req and checks the id; 0 with
 * *collection and *clen set, or -1 after answering 404.
 */
static int parse_path(struct api_request *req, const char *path, const char **collection,
                      size_t *clen)
{
	const char *rest, *slash, *action;
	size_t idlen;
	char id[24];

	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0 || strstr(path, "/.") || strstr(path, "//"))
		goto not_found;
	rest = path + strlen(PREFIX);
	slash = strchr(rest, '/');
	*collection = rest;
	*clen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (slash && slash[1] != '\0') {
		/* {id} and, for an action, one more segment: /api/v1/releases/7/pause */
		action = strchr(slash + 1, '/');
		idlen = action ? (size_t)(action - slash - 1) : strlen(slash + 1);
		if (idlen < sizeof(id)) {
			memcpy(id, slash + 1, idlen);
			id[idlen] = '\0';
		}
		if (!action && collection_action(*collection, *clen, slash + 1)) {
			req->action =
			    slash + 1; /* /api/v1/nodes/import: an action of the collection */
			return 0;
		}
		if (idlen >= sizeof(id) || parse_int64(id, 1, INT64_MAX, &req->id) != 0) {
			api_send_error(req->conn, 404,
			               "no such resource: ids are positive integers");
			return -1;
		}
		if (action) {
			req->action = action + 1;
			if (!*req->action || strchr(req->action, '/'))
				goto not_found;
		}
	}
	return 0;
not_found:
	api_send_error(req->conn, 404, "no such resource");
	return -1;
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
	const char *collection = NULL;
	int64_t start = now_mono_us();
	size_t which = ROUTE_OTHER, clen = 0;
	int status;

	api_reset_status();
	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0) {
		dispatch(&req, path, NULL, 0, &which);
	} else if (parse_path(&req, path, &collection, &clen) == 0 && authenticate(&req, ri) == 0) {
		dispatch(&req, NULL, collection, clen, &which);
	}
	status = api_last_status();
	metrics_api_request(which, status, now_mono_us() - start);
	return status ? status : 200;
}

void api_router_install(struct mg_context *mg, struct api_ctx *ctx)
{
	static char names[NROUTES + 1][ROUTE_NAME_MAX];

	for (size_t i = 0; i < NROUTES; i++) {
		route_name(&routes[i], names[i], sizeof(names[i]));
		metrics_set_route_name(i, names[i]);
	}
	str_copy(names[ROUTE_OTHER], "other", sizeof(names[ROUTE_OTHER]));
	metrics_set_route_name(ROUTE_OTHER, names[ROUTE_OTHER]);
	mg_set_request_handler(mg, "/", route, ctx);
}
