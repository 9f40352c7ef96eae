/*
 * router: one civetweb handler for every path; it splits /api/v1/<collection>[/<id>],
 * validates the id, checks the principal against the route's permission (its row of the
 * table below: the only place that says who may do what) and calls the collection's
 * handler. The probes, /metrics and the console (/ and /ui/<file>) are exact paths or
 * prefixes, open to all. Anything else is a JSON 404.
 */
#include "api/v1/router.h"

#include <stdio.h>
#include <string.h>

#include "api/v1/access.h"
#include "api/v1/console.h"
#include "api/v1/front/wire.h"
#include "core/core.h"
#include "core/log.h"
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
	/*
	 * What the principal needs (auth/roles.h): AUTH_READER for a read (anyone, unless
	 * CMDB_READS_REQUIRE_AUTH=1), a role for a write. Ignored for exact paths (open); an
	 * /api/v1 route that leaves it 0 is for admin only (api_router_install warns).
	 */
	unsigned need;
};

static const struct route routes[] = {
    {"/", NULL, 0, NULL, "GET", api_console_index, 0},
    {"/ui/", NULL, 0, NULL, "GET", api_console_file, 0},
    {"/healthz", NULL, 0, NULL, "GET", api_health_live, 0},
    {"/readyz", NULL, 0, NULL, "GET", api_health_ready, 0},
    {"/health/live", NULL, 0, NULL, "GET", api_health_live, 0},
    {"/health/ready", NULL, 0, NULL, "GET", api_health_ready, 0},
    {"/metrics", NULL, 0, NULL, "GET", api_metrics, 0},
    {NULL, "whoami", 0, NULL, "GET", api_whoami, AUTH_READER},
    {NULL, "nodes", 0, NULL, "GET", api_nodes_list, AUTH_READER},
    {NULL, "nodes", 0, NULL, "POST", api_nodes_create, AUTH_INVENTORY},
    {NULL, "nodes", 0, "import", "POST", api_nodes_import, AUTH_INVENTORY},
    {NULL, "nodes", 1, NULL, "GET", api_nodes_get, AUTH_READER},
    {NULL, "nodes", 1, NULL, "PATCH", api_nodes_patch, AUTH_INVENTORY},
    {NULL, "releases", 0, NULL, "GET", api_releases_list, AUTH_READER},
    {NULL, "releases", 0, NULL, "POST", api_releases_create, AUTH_OPERATOR}, /* dry runs too */
    {NULL, "releases", 1, NULL, "GET", api_releases_get, AUTH_READER},
    {NULL, "releases", 1, "events", "GET", api_releases_events, AUTH_READER},
    {NULL, "releases", 1, "pause", "POST", api_releases_pause, AUTH_OPERATOR},
    {NULL, "releases", 1, "resume", "POST", api_releases_resume, AUTH_OPERATOR},
    {NULL, "releases", 1, "cancel", "POST", api_releases_cancel, AUTH_OPERATOR},
    {NULL, "releases", 1, "approve", "POST", api_releases_approve, AUTH_APPROVER},
    {NULL, "releases", 1, "reject", "POST", api_releases_reject, AUTH_APPROVER},
    {NULL, "releases", 1, "rollback", "POST", api_releases_rollback, AUTH_OPERATOR},
    {NULL, "alerts", 0, NULL, "POST", api_alerts_receive, AUTH_ALERTS},
};

#define NROUTES        (sizeof(routes) / sizeof(routes[0]))
#define ROUTE_OTHER    NROUTES /* unknown paths and methods, for the metrics */
#define ROUTE_NAME_MAX 80

/* "GET /api/v1/releases/{id}" per route, and "other": for the metrics and the log. */
static char names[NROUTES + 1][ROUTE_NAME_MAX];

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
 * The route of an exact path (path != NULL) or of /api/v1/<collection> that req asks for,
 * or ROUTE_OTHER after answering 404 for an unknown path or 405 naming the allowed
 * methods. A prefix route gets the rest of the path as req->action.
 */
static size_t find(struct api_request *req, const char *path, const char *collection, size_t clen)
{
	char allow[64] = "";
	size_t alen = 0;

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
			if (is_prefix(r))
				req->action = path + strlen(r->path);
			return i;
		}
		alen += (size_t)snprintf(allow + alen, sizeof(allow) - alen, "%s%s",
		                         alen ? ", " : "", r->method);
	}
	if (!alen)
		api_send_error(req->conn, 404, "no such resource");
	else
		api_send_not_allowed(req->conn, allow);
	return ROUTE_OTHER;
}

/* 1 when the principal of req may use route i (exact paths are open); else answered. */
static int allowed(struct api_request *req, size_t i)
{
	if (routes[i].path)
		return 1;
	return api_access_check(req, routes[i].need ? routes[i].need : AUTH_ADMIN, names[i]) ==
	       0;
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

/*
 * 1 when the request came through the front: civetweb listens on loopback, where any
 * local user could reach it, and only the front knows the key (compared in constant
 * time). Only then is its principal header worth anything.
 */
static int from_front(struct mg_connection *conn, const struct api_ctx *ctx)
{
	const char *key = mg_get_header(conn, WIRE_KEY_HEADER);
	size_t n = sizeof(ctx->front_key) - 1;
	unsigned char diff = 0;

	if (!key || strlen(key) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(key[i] ^ ctx->front_key[i]);
	return diff == 0;
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
	if (!from_front(conn, req.ctx)) {
		/* Whoever this is does not keep the worker: the connection closes after this. */
		mg_disable_connection_keep_alive(conn);
		api_send_error(conn, 403, "the API answers on CMDB_LISTEN, not here");
	} else {
		if (strncmp(path, PREFIX, strlen(PREFIX)) != 0)
			which = find(&req, path, NULL, 0);
		else if (parse_path(&req, path, &collection, &clen) == 0)
			which = find(&req, NULL, collection, clen);
		if (which != ROUTE_OTHER && allowed(&req, which))
			routes[which].handle(&req);
	}
	status = api_last_status();
	metrics_api_request(which, status, now_mono_us() - start);
	return status ? status : 200;
}

void api_router_install(struct mg_context *mg, struct api_ctx *ctx)
{
	for (size_t i = 0; i < NROUTES; i++) {
		route_name(&routes[i], names[i], sizeof(names[i]));
		metrics_set_route_name(i, names[i]);
		if (!routes[i].path && !routes[i].need)
			log_warn("serve",
			         "%s declares no permission in the router's table: only"
			         " admin may use it",
			         names[i]);
	}
	str_copy(names[ROUTE_OTHER], "other", sizeof(names[ROUTE_OTHER]));
	metrics_set_route_name(ROUTE_OTHER, names[ROUTE_OTHER]);
	mg_set_request_handler(mg, "/", route, ctx);
}
