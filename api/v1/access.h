/*
 * access: who asks, and whether the route lets them. The router calls api_access_check
 * with the permission its table declares for the route (api/v1/router.c), so handlers
 * never check roles; GET /api/v1/whoami tells a client who it is. A principal's scope is
 * named and shown but not yet enforced: store/scope.h says how it will be.
 */
#ifndef CMDB_API_ACCESS_H
#define CMDB_API_ACCESS_H

#include <civetweb.h>

#include "api/v1/http.h"

/*
 * Names the principal of req (a verified client certificate, a bearer token, or "local"
 * when the API runs without authentication; "" for nobody) and holds it against need: a
 * role bit of auth/roles.h, AUTH_READER for a read (which anyone may do unless
 * CMDB_READS_REQUIRE_AUTH=1). route names the route ("POST /api/v1/releases") for the
 * log. Returns 0 to go on; otherwise the answer has been sent: 401 without or with
 * unknown credentials where a principal is needed, or 403 {"code": "forbidden_role",
 * "role": <the role needed>}, logged at warn with the principal and the route and counted
 * in cmdb_api_forbidden_total{reason="forbidden_role"}.
 */
int api_access_check(struct api_request *req, unsigned need,
                     const char *route);

/* GET /api/v1/whoami: {"principal", "roles", "grants", "scope"}; null principal: nobody. */
void api_whoami(struct api_request *req);

/*
 * Start-up: warns what a verified certificate without a cert: line may do (a writer),
 * and says when reads need a principal.
 */
void api_access_log(const struct config *cfg, const struct auth *auth);

#endif
