/*
 * server: the API's listener. The front (api/v1/front) takes every connection on
 * CMDB_LISTEN (and CMDB_HEALTH_LISTEN), with HTTPS and client certificates, deadlines
 * and per-address caps, and hands complete requests to civetweb's workers on loopback,
 * where the router answers them; civetweb's own errors answer JSON like ours.
 */
#ifndef CMDB_API_SERVER_H
#define CMDB_API_SERVER_H

#include "api/v1/http.h"
#include "config/config.h"

/* The running listener (civetweb's context). */
struct api_server;

/* Initialises civetweb once per process. 0 or -1. */
int api_server_global_init(void);
void api_server_global_cleanup(void);

/*
 * Starts listening on cfg->listen with every route installed; api must outlive the
 * server, which sets api->front_key and api->front. Returns NULL after logging why
 * (cannot listen, TLS files unusable).
 */
struct api_server *api_server_start(const struct config *cfg, struct api_ctx *api);
/*
 * SIGHUP: with HTTPS, loads the certificate, key and client CA files again; new
 * connections get them, open ones and releases are not touched. 0; -1 when the files
 * are bad (err says why; the old ones stay in force).
 */
int api_server_reload(struct api_server *srv, char *err, size_t errlen);

/* The descriptors the API may hold at once: its clients' connections and its workers'. */
int api_server_max_fds(const struct config *cfg);

/* Stops serving: requests being answered finish first (at most 5 s); NULL is a no-op. */
void api_server_stop(struct api_server *srv);

/* One log line that tells the operator how the API is protected. */
void api_server_log_security(const struct config *cfg, const struct auth *auth);

#endif
