/*
 * server: the API's listener. Builds civetweb's options from the configuration
 * (threads, keep-alive, request limits, HTTPS and client certificates), starts it with
 * the router installed, and makes civetweb's own errors answer JSON like ours.
 */
#ifndef CMDB_API_SERVER_H
#define CMDB_API_SERVER_H

#include "api/v1/http.h"
#include "config/config.h"

/* The running listener (civetweb's context). */
struct api_server;

/* Initialises civetweb once per process, with OpenSSL when the API serves HTTPS. 0 or -1. */
int api_server_global_init(const struct config *cfg);
void api_server_global_cleanup(void);

/*
 * Starts listening on cfg->listen with every route installed; api must outlive the
 * server. Returns NULL after logging why (cannot listen, TLS files unusable).
 */
struct api_server *api_server_start(const struct config *cfg, struct api_ctx *api);
/*
 * SIGHUP: with HTTPS, checks the certificate, key and client CA files and, when they
 * load, restarts the listener with them (requests in progress finish first; releases
 * are not touched). 0; -1 when the files are bad (the old listener goes on); -2 when the
 * new listener could not start (the API is down: err says so).
 */
int api_server_reload(struct api_server *srv, char *err, size_t errlen);

/* Stops serving: waits for requests in progress; NULL is a no-op. */
void api_server_stop(struct api_server *srv);

/* One log line that tells the operator how the API is protected. */
void api_server_log_security(const struct config *cfg, const struct auth *auth);

#endif
