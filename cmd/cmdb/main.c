/*
 * cmdb: the release controller. `cmdb migrate` brings the schema up to date;
 * `cmdb serve` serves the HTTP API and, with RELEASE_EXECUTOR_ENABLED=1, runs the
 * release executor. Configuration comes from the environment only (see README).
 * This file only wires modules together.
 */
#include <civetweb.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/cache.h"
#include "api/v1/router.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/core.h"
#include "core/log.h"
#include "db/db.h"
#include "db/migrate.h"
#include "release/executor.h"

#define EXIT_CONFIG 2
/* Rendered finished releases kept in memory: a 2,000-node release is about 500 KiB. */
#define API_CACHE_ENTRIES 64
#define API_CACHE_BYTES   (16u * 1024 * 1024)

static const char usage[] =
    "usage: cmdb serve | migrate | help\n"
    "  serve    serve the API; run the release executor when RELEASE_EXECUTOR_ENABLED=1\n"
    "  migrate  apply new migrations/NNNN_*.sql files to the database\n"
    "Configuration is read from the environment; see README.md.\n";

static const char *env(const char *name)
{
	return getenv(name);
}

extern char **environ;

static void warn_unknown(const char *name)
{
	log_warn("config",
	         "%s is not a setting of cmdb and is ignored (see README,"
	         " Configuration)",
	         name);
}

static int load_config(struct config *cfg, int need_agent)
{
	char err[1200];
	const char *level = getenv("CMDB_LOG_LEVEL");

	if (level && strcmp(level, "debug") == 0)
		log_set_level(LOG_DEBUG);
	config_check_unknown(environ, warn_unknown);
	if (config_load(cfg, env, need_agent, err, sizeof(err))) {
		log_error("config", "%s", err);
		return -1;
	}
	return 0;
}

static int cmd_migrate(void)
{
	static struct config cfg;
	struct db_conn conn = {0};
	char err[1024];
	int applied = 0, rc;

	if (load_config(&cfg, 0))
		return EXIT_CONFIG;
	if (db_global_init()) {
		log_error("migrate", "cannot initialise the MariaDB client library");
		return 1;
	}
	rc = db_connect(&conn, &cfg.db, err, sizeof(err));
	if (rc == 0)
		rc = migrate_apply(&conn, cfg.migrations_dir, &applied, err, sizeof(err));
	db_close(&conn);
	db_global_cleanup();
	if (rc) {
		log_error("migrate", "%s", err);
		return 1;
	}
	log_info("migrate", "schema up to date (%d migration%s applied now)", applied,
	         applied == 1 ? "" : "s");
	return 0;
}

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

static struct mg_context *start_http(const struct config *cfg, struct api_ctx *api)
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
	if (mg)
		api_router_install(mg, api);
	return mg;
}

/* One line that tells the operator how the API is protected. */
static void log_api_security(const struct config *cfg, const struct auth *auth)
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
	         cfg->auth_required ? "; reads open, writes need a principal" : "",
	         cfg->auth_required ? "" : "; no authentication (loopback only)");
	log_info("serve", "API on %s://%s: %s (%zu tokens)", cfg->tls_cert[0] ? "https" : "http",
	         cfg->listen, how, auth->ntokens);
}

/*
 * Each agent call in flight holds a socket, and so does each API connection; raise
 * the soft open-file limit to what the configuration needs (up to the hard limit).
 */
static void raise_fd_limit(const struct config *cfg)
{
	rlim_t want = (rlim_t)cfg->max_inflight * 2 + (rlim_t)cfg->api_threads * 2 + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
		log_warn("serve",
		         "open-file limit %llu is below the %llu that RELEASE_MAX_INFLIGHT"
		         " needs; raise the hard limit (ulimit -Hn)",
		         (unsigned long long)rl.rlim_max, (unsigned long long)want);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("serve", "cannot raise the open-file limit to %llu",
		         (unsigned long long)want);
}

static int cmd_serve(void)
{
	static struct config cfg;
	struct release_executor *ex = NULL;
	struct auth auth = AUTH_INIT;
	struct api_ctx api = {0};
	struct mg_context *mg = NULL;
	struct db_conn probe = {0};
	char err[1024];
	sigset_t sigs;
	int sig = 0, rc = 1;

	if (load_config(&cfg, 1))
		return EXIT_CONFIG;
	/* Every thread inherits this mask; only sigwait() below receives the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cfg.tokens_file[0] && auth_load_tokens(&auth, cfg.tokens_file, err, sizeof(err))) {
		log_error("config", "%s", err);
		return EXIT_CONFIG;
	}
	raise_fd_limit(&cfg);
	if (db_global_init()) {
		log_error("serve", "cannot initialise the MariaDB client library");
		auth_release(&auth);
		return 1;
	}
	if (cfg.tls_cert[0] && !(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS)) {
		log_error("serve", "civetweb could not load OpenSSL for CMDB_TLS_CERT");
		auth_release(&auth);
		return 1;
	} else if (!cfg.tls_cert[0]) {
		mg_init_library(0);
	}
	api.auth = &auth;
	api.auth_required = cfg.auth_required;
	if (db_connect(&probe, &cfg.db, err, sizeof(err)))
		log_warn("serve", "%s; the API answers 503 until it is reachable", err);
	db_close(&probe);
	api.pool = db_pool_new(&cfg.db);
	api.cache = api_cache_new(API_CACHE_ENTRIES, API_CACHE_BYTES);
	if (!api.pool || !api.cache)
		goto out;
	if (cfg.executor_enabled) {
		ex = release_executor_new(&cfg, err, sizeof(err));
		if (!ex) {
			log_error("serve", "%s", err);
			goto out;
		}
	}
	mg = start_http(&cfg, &api);
	if (!mg) {
		log_error("serve", "cannot listen on %s (CMDB_LISTEN)", cfg.listen);
		goto out;
	}
	log_api_security(&cfg, &auth);
	if (ex) {
		if (release_executor_start(ex)) {
			log_error("serve", "cannot start the executor thread");
			goto out;
		}
		log_info("serve",
		         "release executor ON (RELEASE_EXECUTOR_ENABLED=1): scan every %d s,"
		         " up to %d agent calls in flight",
		         cfg.executor_interval_s, cfg.max_inflight);
	} else {
		log_info("serve", "release executor OFF (RELEASE_EXECUTOR_ENABLED=0): releases"
		                  " stay pending until an executor runs");
	}
	sigwait(&sigs, &sig);
	log_info("serve", "%s received; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	if (ex)
		release_executor_stop(ex);
	if (mg)
		mg_stop(mg);
	release_executor_free(ex);
	db_pool_free(api.pool);
	api_cache_free(api.cache);
	auth_release(&auth);
	mg_exit_library();
	db_global_cleanup();
	if (rc == 0)
		log_info("serve", "stopped");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve();
	if (argc == 2 && strcmp(argv[1], "migrate") == 0)
		return cmd_migrate();
	if (argc == 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return EXIT_CONFIG;
}
