/*
 * server: the API's parts put together: the front (listener, TLS, deadlines) in front of
 * two civetweb contexts on loopback (every request; the probes and /metrics), and JSON
 * answers for the errors civetweb itself detects.
 */
#include "api/v1/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <civetweb.h>

#include "api/v1/front/front.h"
#include "api/v1/router.h"
#include "core/log.h"

/*
 * Workers of the probes and /metrics: the last free one only liveness may take, the one
 * before only CMDB_HEALTH_LISTEN's probes (api/v1/front/client.c, dispatch).
 */
#define OPS_WORKERS 4

struct api_server {
	struct mg_context *api_mg, *ops_mg; /* civetweb: every request, and the probes */
	struct front_tls *tls;              /* NULL without CMDB_TLS_CERT */
	struct front *front;
	const struct config *cfg;
	struct api_ctx *api;
};

static int log_civetweb(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_warn("http", "%s", message);
	return 1;
}

/* civetweb's own errors (bad request line, oversized headers) also answer JSON. */
static int http_error(struct mg_connection *conn, int status, const char *msg)
{
	api_send_error(conn, status, "%s", msg && *msg ? msg : "bad request");
	return 0;
}

int api_server_global_init(void)
{
	/* HTTPS is the front's (api/v1/front/tls.c): civetweb only ever sees loopback. */
	mg_init_library(0);
	return 0;
}

void api_server_global_cleanup(void)
{
	mg_exit_library();
}

/*
 * A civetweb context with the router on 127.0.0.1 and a port of the kernel's choosing;
 * *port tells which. Its only client is the front, which sends whole requests at once
 * and keeps one connection per worker open: so a long keep-alive and a short deadline.
 */
static struct mg_context *start_civetweb(struct api_ctx *api, int threads, int *port)
{
	char nthreads[16];
	const char *options[] = {"listening_ports", "127.0.0.1:0", "num_threads", nthreads,
	                         "request_timeout_ms", "10000", "enable_keep_alive", "yes",
	                         "keep_alive_timeout_ms", "3600000", "tcp_nodelay", "1",
	                         /* the front allows 16 KiB of head and adds its own lines */
	                         "max_request_size", "32768", NULL};
	struct mg_server_port sp;
	struct mg_callbacks cb;
	struct mg_context *mg;

	snprintf(nthreads, sizeof(nthreads), "%d", threads);
	memset(&cb, 0, sizeof(cb));
	cb.log_message = log_civetweb;
	cb.http_error = http_error;
	mg = mg_start(&cb, NULL, options);
	if (!mg || mg_get_server_ports(mg, 1, &sp) != 1) {
		log_error("serve", "cannot start the API's workers on 127.0.0.1");
		if (mg)
			mg_stop(mg);
		return NULL;
	}
	*port = sp.port;
	api_router_install(mg, api);
	return mg;
}

/* 32 hex digits from the kernel's random source: the front's key (api_ctx.front_key). */
static int make_key(char key[33])
{
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(key + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	if (!srv)
		return;
	/* Requests being answered finish first: the front waits for their workers. */
	front_stop(srv->front);
	if (srv->api_mg)
		mg_stop(srv->api_mg);
	if (srv->ops_mg)
		mg_stop(srv->ops_mg);
	front_tls_free(srv->tls);
	if (srv->api)
		srv->api->front = NULL;
	free(srv);
}

static int start_front(struct api_server *srv, int api_port, int ops_port)
{
	const struct config *cfg = srv->cfg;
	struct front_config fc = {
	    .listen = cfg->listen,
	    .health_listen = cfg->health_listen,
	    .proxy_protocol = cfg->proxy_protocol,
	    .header_timeout_s = cfg->header_timeout_s,
	    .body_timeout_s = cfg->body_timeout_s,
	    .keepalive_timeout_s = cfg->keepalive_timeout_s,
	    .max_conn_per_client = cfg->max_conn_per_client,
	    .body_max = API_BODY_MAX,
	    .big_body_path = "/api/v1/nodes/import",
	    .big_body_max = API_IMPORT_BODY_MAX,
	    .key = srv->api->front_key,
	    .tls = srv->tls,
	    .api = {.port = api_port, .workers = cfg->api_threads},
	    .ops = {.port = ops_port, .workers = OPS_WORKERS},
	};
	char err[1200];

	if (cfg->tls_cert[0]) {
		/* With tokens too, a client may come without a certificate. */
		srv->tls = front_tls_new(cfg->tls_cert, cfg->tls_key, cfg->client_ca,
		                         cfg->tokens_file[0] != '\0', err, sizeof(err));
		if (!srv->tls) {
			log_error("serve", "%s", err);
			return -1;
		}
		fc.tls = srv->tls;
	}
	srv->front = front_start(&fc, err, sizeof(err));
	if (!srv->front) {
		log_error("serve", "%s", err);
		return -1;
	}
	return 0;
}

struct api_server *api_server_start(const struct config *cfg, struct api_ctx *api)
{
	struct api_server *srv = calloc(1, sizeof(*srv));
	int api_port = 0, ops_port = 0;

	if (!srv)
		return NULL;
	srv->cfg = cfg;
	srv->api = api;
	if (make_key(api->front_key)) {
		log_error("serve", "cannot read random bytes for the API's key");
		goto fail;
	}
	srv->api_mg = start_civetweb(api, cfg->api_threads, &api_port);
	srv->ops_mg = srv->api_mg ? start_civetweb(api, OPS_WORKERS, &ops_port) : NULL;
	if (!srv->ops_mg || start_front(srv, api_port, ops_port))
		goto fail;
	api->front = srv->front;
	return srv;
fail:
	api_server_stop(srv);
	return NULL;
}

int api_server_max_fds(const struct config *cfg)
{
	/* A client's socket, and two for each worker's connection to the front. */
	return FRONT_CONN_MAX + 2 * (cfg->api_threads + OPS_WORKERS) + 16;
}

int api_server_reload(struct api_server *srv, char *err, size_t errlen)
{
	/* The next handshakes use the new files; connections already open keep theirs. */
	return srv->tls ? front_tls_reload(srv->tls, err, errlen) : 0;
}

void api_server_log_security(const struct config *cfg, const struct auth *auth)
{
	char how[512];

	if (!cfg->tls_cert[0] && !cfg->auth_required) {
		log_warn("serve",
		         "API on plain HTTP at %s without authentication: allowed only"
		         " on loopback; any local user can create releases",
		         cfg->listen);
		return;
	}
	snprintf(how, sizeof(how), "%s%s%s%s%s", cfg->tls_cert[0] ? "HTTPS" : "plain HTTP",
	         cfg->client_ca[0] ? ", client certificates verified against CMDB_CLIENT_CA" : "",
	         auth->ntokens ? ", bearer tokens from CMDB_API_TOKENS_FILE" : "",
	         !cfg->auth_required       ? ""
	         : cfg->reads_require_auth ? "; reads and writes need a principal"
	                                   : "; reads open, writes need a principal",
	         cfg->auth_required ? "" : "; no authentication (loopback only)");
	log_info("serve", "API on %s://%s: %s (%zu tokens)", cfg->tls_cert[0] ? "https" : "http",
	         cfg->listen, how, auth->ntokens);
}
