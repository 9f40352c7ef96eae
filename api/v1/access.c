/*
 * access: the principal of a request (certificate, token or "local"), the check of its
 * roles against the route's permission, the 403 that names the missing role, and whoami.
 */
#include "api/v1/access.h"

#include <string.h>

#include "api/v1/front/wire.h"
#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"

/*
 * AUTH_KNOWN with the principal of req filled (a certificate always is known), or
 * AUTH_INVALID / AUTH_ANONYMOUS for a bearer token.
 */
static enum auth_verdict identify(struct api_request *req)
{
	struct api_ctx *ctx = req->ctx;
	struct auth_principal p = {.name = ""};
	const char *cert = mg_get_header(req->conn, WIRE_PRINCIPAL_HEADER);
	enum auth_verdict v = AUTH_KNOWN;

	pthread_rwlock_rdlock(&ctx->auth_lock);
	/*
	 * The front names only a certificate that verified against CMDB_CLIENT_CA, and
	 * drops the header from what a client sends (api/v1/front/wire.c).
	 */
	if (cert && *cert)
		auth_check_cert(ctx->auth, cert, &p);
	else
		v = auth_check_bearer(ctx->auth, mg_get_header(req->conn, "Authorization"), &p);
	pthread_rwlock_unlock(&ctx->auth_lock);
	if (v == AUTH_KNOWN) {
		str_copy(req->principal, p.name, sizeof(req->principal));
		req->roles = p.roles;
		str_copy(req->scope, p.scope, sizeof(req->scope));
	}
	return v;
}

static void forbid(struct api_request *req, unsigned need, const char *route)
{
	const char *role = auth_role_name(need);
	char has[AUTH_ROLES_TEXT_MAX];
	cJSON *doc = cJSON_CreateObject();
	char msg[512];

	auth_roles_format(req->roles, has, sizeof(has));
	snprintf(msg, sizeof(msg), "%s may not %s: that needs the %s role (it has %s)",
	         req->principal, route, role ? role : "admin", has);
	log_warn("api", "forbidden_role: %s", msg);
	metrics_api_forbidden(FORBIDDEN_ROLE);
	cJSON_AddStringToObject(doc, "error", msg);
	cJSON_AddStringToObject(doc, "code", "forbidden_role");
	cJSON_AddStringToObject(doc, "role", role ? role : "admin");
	api_send_json(req->conn, 403, doc);
	cJSON_Delete(doc);
}

int api_access_check(struct api_request *req, unsigned need,
                     const char *route)
{
	const struct config *cfg = req->ctx->cfg;
	enum auth_verdict v;

	if (!cfg->auth_required) {
		str_copy(req->principal, "local", sizeof(req->principal));
		req->roles = AUTH_ADMIN;
		return 0;
	}
	v = identify(req);
	if (v == AUTH_INVALID) {
		api_send_unauthorized(req->conn, "invalid credentials: the bearer token is not"
		                                 " known");
		return 401;
	}
	if (v == AUTH_ANONYMOUS) {
		if (need == AUTH_READER && !cfg->reads_require_auth)
			return 0;
		api_send_unauthorized(req->conn, "authentication required: send"
		                                 " \"Authorization: Bearer <token>\" or a client"
		                                 " certificate");
		return 401;
	}
	if (!auth_roles_allow(req->roles, need)) {
		forbid(req, need, route);
		return 403;
	}
	return 0;
}

/* Adds name: [the role names of roles], in enum order. */
static void add_roles(cJSON *doc, const char *name, unsigned roles)
{
	cJSON *list = cJSON_AddArrayToObject(doc, name);

	for (unsigned i = 0; i < AUTH_ROLE_COUNT; i++)
		if (roles & (1u << i))
			cJSON_AddItemToArray(list, cJSON_CreateString(auth_role_name(1u << i)));
}

void api_whoami(struct api_request *req)
{
	cJSON *doc = cJSON_CreateObject();

	api_json_add_optional(doc, "principal", req->principal);
	add_roles(doc, "roles", req->roles);
	add_roles(doc, "grants", auth_roles_grant(req->roles));
	api_json_add_optional(doc, "scope", req->scope);
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
}

void api_access_log(const struct config *cfg, const struct auth *auth)
{
	if (cfg->client_ca[0])
		log_warn("serve",
		         "a verified client certificate without a cert:<CN> line in"
		         " CMDB_API_TOKENS_FILE is a writer (operator, approver, inventory), as"
		         " before roles; %zu certificate line%s give%s roles (docs/security.md)",
		         auth->ncerts, auth->ncerts == 1 ? "" : "s", auth->ncerts == 1 ? "s" : "");
	if (cfg->reads_require_auth)
		log_info("serve", "CMDB_READS_REQUIRE_AUTH=1: every /api/v1 read needs a principal;"
		                  " /metrics, the health probes and the console's files stay open");
}
