/*
 * router: maps /api/v1/... paths and the health probes to handlers. Handlers get a
 * parsed struct api_request; they call the store and answer JSON, never the agents.
 */
#ifndef CMDB_API_ROUTER_H
#define CMDB_API_ROUTER_H

#include <civetweb.h>
#include <stdio.h>

#include "api/v1/http.h"

/* Registers every route on mg; ctx must outlive the server. */
void api_router_install(struct mg_context *mg, struct api_ctx *ctx);

/* Writes one "METHOD /path/{id}" line per route, as api/openapi.yaml names them. */
void api_router_write_routes(FILE *out);

/* The probes and the metrics (api/v1/health.c). */
void api_health_live(struct api_request *req);
void api_health_ready(struct api_request *req);
void api_metrics(struct api_request *req);

/* Handlers, one module per collection (api/v1/nodes, api/v1/releases, api/v1/alerts). */
void api_nodes_list(struct api_request *req);
void api_nodes_create(struct api_request *req);
void api_nodes_get(struct api_request *req);
void api_nodes_patch(struct api_request *req);
void api_nodes_import(struct api_request *req);
void api_releases_list(struct api_request *req);
void api_releases_create(struct api_request *req);
void api_releases_get(struct api_request *req);
void api_releases_events(struct api_request *req);
void api_releases_pause(struct api_request *req);
void api_releases_resume(struct api_request *req);
void api_releases_cancel(struct api_request *req);
void api_releases_approve(struct api_request *req);
void api_releases_reject(struct api_request *req);
void api_releases_rollback(struct api_request *req);
void api_alerts_receive(struct api_request *req);

#endif
