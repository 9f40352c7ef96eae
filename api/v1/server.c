/*
 * server: civetweb options, the one-file PEM civetweb wants for HTTPS, and JSON
 * answers for the errors civetweb itself detects.
 */
#include "api/v1/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "api/v1/router.h"
#include "core/log.h"

struct api_server {
	struct mg_context *mg; /* NULL after a reload that could not listen again */
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

/* Appends the bytes of path to out; 0 or -1. */
static int copy_file(const char *path, FILE *out)
{
	char buf[4096];
	size_t n;
	FILE *in = fopen(path, "rb");

	if (!in)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			break;
	n = (size_t)ferror(in);
	fclose(in);
	return n ? -1 : 0;
}

/*
 * civetweb wants the certificate and its key in one PEM file. Writes both into a new
 * private directory; the caller removes it (remove_pem) as soon as civetweb has read it.
 */
static int make_pem(const struct config *cfg, char *dir, size_t dlen, char *pem, size_t plen)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;
	int rc;

	snprintf(dir, dlen, "%s/cmdb-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(pem, plen, "%s/api.pem", dir);
	f = fopen(pem, "wx");
	if (!f) {
		rmdir(dir);
		return -1;
	}
	rc = copy_file(cfg->tls_cert, f) || fputc('\n', f) == EOF || copy_file(cfg->tls_key, f);
	if (fclose(f) != 0)
		rc = -1;
	return rc ? -1 : 0;
}

static void remove_pem(const char *dir, const char *pem)
{
	unlink(pem);
	rmdir(dir);
}

int api_server_global_init(const struct config *cfg)
{
	if (!cfg->tls_cert[0]) {
		mg_init_library(0);
		return 0;
	}
	if (!(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS)) {
		log_error("serve", "civetweb could not load OpenSSL for CMDB_TLS_CERT");
		return -1;
	}
	return 0;
}

void api_server_global_cleanup(void)
{
	mg_exit_library();
}

void api_server_stop(struct api_server *srv)
{
	if (!srv)
		return;
	if (srv->mg)
		mg_stop(srv->mg);
	free(srv);
}

static struct mg_context *start_civetweb(const struct config *cfg, struct api_ctx *api);

struct api_server *api_server_start(const struct config *cfg, struct api_ctx *api)
{
	struct mg_context *mg = start_civetweb(cfg, api);
	struct api_server *srv;

	if (!mg)
		return NULL;
	srv = malloc(sizeof(*srv));
	if (!srv) {
		mg_stop(mg);
		return NULL;
	}
	srv->mg = mg;
	srv->cfg = cfg;
	srv->api = api;
	return srv;
}

/* The certificate and key load and match, and the client CA holds a certificate. */
static int check_tls_files(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int ok = ctx && SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) == 1 &&
	         SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) == 1 &&
	         SSL_CTX_check_private_key(ctx) == 1 &&
	         (!cfg->client_ca[0] || SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL));

	SSL_CTX_free(ctx);
	ERR_clear_error();
	if (!ok)
		snprintf(
		    err, errlen,
		    "CMDB_TLS_CERT / CMDB_TLS_KEY / CMDB_CLIENT_CA: the files do not load, or the"
		    " key does not match the certificate");
	return ok ? 0 : -1;
}

int api_server_reload(struct api_server *srv, char *err, size_t errlen)
{
	struct mg_context *mg;

	if (!srv->cfg->tls_cert[0])
		return 0;
	if (check_tls_files(srv->cfg, err, errlen))
		return -1;
	/* civetweb reads its certificate once: a new listener takes the new one. */
	mg_stop(srv->mg);
	mg = start_civetweb(srv->cfg, srv->api);
	if (!mg) {
		snprintf(err, errlen, "the API could not listen again on %s", srv->cfg->listen);
		srv->mg = NULL;
		return -2;
	}
	srv->mg = mg;
	return 0;
}

static struct mg_context *start_civetweb(const struct config *cfg, struct api_ctx *api)
{
	char threads[16], ports[80], dir[1100] = "", pem[1200] = "";
	const char *options[32];
	struct mg_callbacks cb;
	struct mg_context *mg;
	int n = 0, tls = cfg->tls_cert[0] != '\0';

	snprintf(threads, sizeof(threads), "%d", cfg->api_threads);
	snprintf(ports, sizeof(ports), "%s%s", cfg->listen, tls ? "s" : "");
	options[n++] = "listening_ports";
	options[n++] = ports;
	options[n++] = "num_threads";
	options[n++] = threads;
	options[n++] = "request_timeout_ms";
	options[n++] = "30000";
	options[n++] = "enable_keep_alive";
	options[n++] = "yes";
	options[n++] = "keep_alive_timeout_ms";
	options[n++] = "30000";
	options[n++] = "tcp_nodelay";
	options[n++] = "1";
	options[n++] = "max_request_size";
	options[n++] = "16384";
	if (tls) {
		if (make_pem(cfg, dir, sizeof(dir), pem, sizeof(pem))) {
			log_error("serve", "cannot prepare the TLS certificate (CMDB_TLS_CERT,"
			                   " CMDB_TLS_KEY)");
			return NULL;
		}
		options[n++] = "ssl_certificate";
		options[n++] = pem;
		options[n++] = "ssl_protocol_version";
		options[n++] = "4"; /* TLS 1.2 and newer */
		options[n++] = "ssl_default_verify_paths";
		options[n++] = "no"; /* only CMDB_CLIENT_CA vouches for a client */
		if (cfg->client_ca[0]) {
			options[n++] = "ssl_ca_file";
			options[n++] = cfg->client_ca;
			options[n++] = "ssl_verify_peer";
			/* With tokens too, a client may come without a certificate. */
			options[n++] = cfg->tokens_file[0] ? "optional" : "yes";
		}
	}
	options[n] = NULL;
	memset(&cb, 0, sizeof(cb));
	cb.log_message = log_civetweb;
	cb.http_error = http_error;
	mg = mg_start(&cb, NULL, options);
	if (tls)
		remove_pem(dir, pem);
	if (!mg) {
		log_error("serve", "cannot listen on %s (CMDB_LISTEN)", cfg->listen);
		return NULL;
	}
	api_router_install(mg, api);
	return mg;
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
