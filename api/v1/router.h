/*
 * router: maps /api/v1/... paths and the health probes to handlers. Handlers get a
 * parsed struct api_request; they call the store and answer JSON, never the agents.
 */
#ifndef CMDB_API_ROUTER_H
#define CMDB_API_ROUTER_H

#include <civetweb.h>

#include "api/v1/http.h"

/* Registers every route on mg; ctx must outlive the server. */
void api_router_install(struct mg_context *mg, struct api_ctx *ctx);

/* Handlers, one module each (api/v1/nodes, api/v1/releases). */
void api_nodes_handle(struct api_request *req);
void api_releases_handle(struct api_request *req);

#endif
