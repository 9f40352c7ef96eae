/*
 * cmdb: the release controller. `cmdb migrate` brings the schema up to date;
 * `cmdb serve` serves the HTTP API and, with RELEASE_EXECUTOR_ENABLED=1, runs the
 * release executor. Configuration comes from the environment only (see README).
 * This file only wires modules together.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/access.h"
#include "api/v1/cache.h"
#include "api/v1/console.h"
#include "api/v1/router.h"
#include "api/v1/server.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/core.h"
#include "core/log.h"
#include "core/service.h"
#include "db/db.h"
#include "db/migrate.h"
#include "import/import.h"
#include "notify/notify.h"
#include "release/executor.h"
#include "store/store.h"
#include "watch/watch.h"

#define EXIT_CONFIG 2
/* Rendered finished releases kept in memory: a 2,000-node release is about 500 KiB. */
#define API_CACHE_ENTRIES 64
#define API_CACHE_BYTES   (16u * 1024 * 1024)

static const char usage[] =
    "usage: cmdb serve | migrate | watch <release id> | import [options] FILE | settings |\n"
    "            routes | states | help\n"
    "  serve     serve the API; run the release executor when RELEASE_EXECUTOR_ENABLED=1\n"
    "  watch     follow a release of the API at CMDB_URL until it ends: progress bars on a\n"
    "            terminal, plain lines otherwise; exit 0 success, 1 failed, 3 partial,\n"
    "            4 cancelled, 5 expired or rejected, 6 not found or unreachable\n"
    "  import    send an inventory to the API at CMDB_URL: our import JSON, or the JSON of\n"
    "            `ansible-inventory --list`; --port N (Ansible hosts' agent port),\n"
    "            --label-vars zone,env (host variables that become labels), --mode\n"
    "            create|upsert; at most 10,000 nodes a request; exit 0 written,\n"
    "            1 refused or failed, 2 usage\n"
    "  migrate   apply new migrations/NNNN_*.sql files to the database\n"
    "  settings  print every setting (environment variable) as a Markdown table\n"
    "  routes    print every route the API answers, one \"METHOD /path\" per line\n"
    "  states    print the release state machine (status x event) as a Markdown table\n"
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

	/* Typos first: a misspelt variable may be why the rest is wrong. */
	config_check_unknown(environ, warn_unknown);
	if (config_load(cfg, env, need_agent, err, sizeof(err))) {
		log_error("config", "%s", err);
		return -1;
	}
	log_set_level((enum log_level)cfg->log_level);
	log_set_format((enum log_format)cfg->log_format);
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

/*
 * Each agent call in flight holds a socket, and so does each API connection; raise
 * the soft open-file limit to what the configuration needs (up to the hard limit).
 */
static void raise_fd_limit(const struct config *cfg)
{
	rlim_t want = (rlim_t)cfg->max_inflight * 2 + (rlim_t)api_server_max_fds(cfg) + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
		log_warn("serve",
		         "open-file limit %llu is below the %llu that RELEASE_MAX_INFLIGHT"
		         " and the API's connections need; raise the hard limit (ulimit -Hn)",
		         (unsigned long long)rl.rlim_max, (unsigned long long)want);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("serve", "cannot raise the open-file limit to %llu",
		         (unsigned long long)want);
}

/*
 * SIGHUP: the tokens file, the API's certificate and the agents' client certificate are
 * read again. Each part that does not load is refused with a log line and keeps its old
 * files in force; releases in flight go on throughout.
 */
static void wake_executor(void *arg)
{
	release_executor_wake(arg);
}

static void reload(const struct config *cfg, struct api_ctx *api, struct api_server *srv,
                   struct release_executor *ex)
{
	char err[1200];
	int rc;

	service_notify("RELOADING=1");
	log_info("serve", "SIGHUP received; reloading the tokens and certificates");
	if (cfg->tokens_file[0]) {
		if (api_reload_tokens(api, cfg->tokens_file, err, sizeof(err)))
			log_error("serve", "reload refused, the old tokens stay in force: %s", err);
		else
			log_info("serve", "tokens reloaded from CMDB_API_TOKENS_FILE (%zu tokens)",
			         api->auth->ntokens);
	}
	rc = api_server_reload(srv, err, sizeof(err));
	if (rc == -1)
		log_error("serve", "reload refused, the old API certificate stays in force: %s",
		          err);
	else if (rc)
		log_error("serve", "%s", err);
	else if (cfg->tls_cert[0])
		log_info("serve", "API certificate reloaded (CMDB_TLS_CERT, CMDB_TLS_KEY)");
	if (ex)
		release_executor_reload(ex);
	service_notify("READY=1");
}

/* What `cmdb serve` runs; serve_stop frees whatever of it was started. */
struct serve {
	struct config cfg;
	struct auth auth;
	struct api_ctx api;
	struct api_server *srv;
	struct release_executor *ex;
	struct notifier *nt;
	int libs; /* the client libraries were initialised: 1 MariaDB's, 2 civetweb's too */
};

/* The libraries, the API's context and its database pool: what serving reads needs. */
static int serve_init(struct serve *s)
{
	struct db_conn probe = {0};
	char err[1024];

	if (s->cfg.tokens_file[0] &&
	    auth_load_tokens(&s->auth, s->cfg.tokens_file, err, sizeof(err))) {
		log_error("config", "%s", err);
		return EXIT_CONFIG;
	}
	raise_fd_limit(&s->cfg);
	if (db_global_init()) {
		log_error("serve", "cannot initialise the MariaDB client library");
		return 1;
	}
	s->libs = 1;
	if (api_server_global_init())
		return 1;
	s->libs = 2;
	s->api.auth = &s->auth;
	s->api.cfg = &s->cfg;
	if (migrate_latest(s->cfg.migrations_dir, &s->api.schema_expected, err, sizeof(err))) {
		log_warn("serve",
		         "%s; /health/ready will not compare the schema (CMDB_MIGRATIONS_DIR)",
		         err);
		s->api.schema_expected = 0;
	}
	if (db_connect(&probe, &s->cfg.db, err, sizeof(err)))
		log_warn("serve", "%s; the API answers 503 until it is reachable", err);
	db_close(&probe);
	s->api.pool = db_pool_new(&s->cfg.db);
	s->api.cache = api_cache_new(API_CACHE_ENTRIES, API_CACHE_BYTES);
	return s->api.pool && s->api.cache ? 0 : 1;
}

/* The executor and the notifier (when configured), the console and the API's server. */
static int serve_start(struct serve *s)
{
	char err[1024];

	if (s->cfg.executor_enabled && !(s->ex = release_executor_new(&s->cfg, err, sizeof(err)))) {
		log_error("serve", "%s", err);
		return 1;
	}
	if (s->cfg.webhook_url[0]) {
		store_set_notifications(1);
		s->nt = notify_new(&s->cfg, err, sizeof(err));
		if (!s->nt || notify_start(s->nt)) {
			log_error("serve", "%s", s->nt ? "cannot start the notifier thread" : err);
			return 1;
		}
	}
	if (s->ex) {
		s->api.work_ready = wake_executor;
		s->api.work_ready_arg = s->ex;
	}
	if (api_console_init()) {
		log_error("serve", "out of memory preparing the web console");
		return 1;
	}
	if (!(s->srv = api_server_start(&s->cfg, &s->api)))
		return 1;
	api_server_log_security(&s->cfg, &s->auth);
	api_access_log(&s->cfg, &s->auth);
	if (!s->ex) {
		log_info("serve", "release executor OFF (RELEASE_EXECUTOR_ENABLED=0): releases"
		                  " stay pending until an executor runs");
		return 0;
	}
	if (release_executor_start(s->ex)) {
		log_error("serve", "cannot start the executor thread");
		return 1;
	}
	log_info("serve",
	         "release executor ON (RELEASE_EXECUTOR_ENABLED=1): scan every %d s,"
	         " up to %d agent calls in flight",
	         s->cfg.executor_interval_s, s->cfg.max_inflight);
	return 0;
}

static void serve_stop(struct serve *s)
{
	if (s->ex)
		release_executor_stop(s->ex);
	notify_free(s->nt);
	api_server_stop(s->srv);
	api_console_cleanup();
	release_executor_free(s->ex);
	db_pool_free(s->api.pool);
	api_cache_free(s->api.cache);
	auth_free(&s->auth);
	pthread_rwlock_destroy(&s->api.auth_lock);
	if (s->libs >= 2)
		api_server_global_cleanup();
	if (s->libs >= 1)
		db_global_cleanup();
}

static int cmd_serve(void)
{
	static struct serve s = {.auth = AUTH_INIT};
	sigset_t sigs;
	int sig = 0, rc;

	if (load_config(&s.cfg, 1))
		return EXIT_CONFIG;
	/* Every thread inherits this mask; only sigwait() below receives the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_rwlock_init(&s.api.auth_lock, NULL);
	rc = serve_init(&s);
	if (rc == 0)
		rc = serve_start(&s);
	if (rc == 0) {
		service_notify("READY=1");
		while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
			reload(&s.cfg, &s.api, s.srv, s.ex);
		log_info("serve", "%s received; stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
		service_notify("STOPPING=1");
	}
	serve_stop(&s);
	if (rc == 0)
		log_info("serve", "stopped");
	return rc;
}

/* cmdb watch <id>: reads the API as a client does; no database, no agents. */
static int cmd_watch(const char *arg)
{
	static struct config cfg;
	struct watch_opts o = {0};
	const char *term = getenv("TERM");

	if (parse_int64(arg, 1, INT64_MAX, &o.id)) {
		fprintf(stderr, "cmdb watch: \"%.40s\" is not a release id (a positive integer)\n",
		        arg);
		return WATCH_EXIT_USAGE;
	}
	if (load_config(&cfg, 0))
		return WATCH_EXIT_USAGE;
	o.url = cfg.watch_url;
	o.token = cfg.watch_token;
	o.cacert = cfg.watch_cacert;
	o.out = stdout;
	o.tty = isatty(STDOUT_FILENO);
	/* https://no-color.org: NO_COLOR set to anything turns colours off. */
	o.color = o.tty && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
	o.interval = o.tty ? 500 : 1000;
	return watch_run(&o);
}

/* cmdb import [options] FILE: a client of the API too (internal/import). */
static int cmd_import(int argc, char **argv)
{
	static struct config cfg;
	static struct import_args args;
	struct import_opts o = {0};
	char err[256];

	if (import_parse_args(argc, argv, &args, err, sizeof(err))) {
		fprintf(stderr, "cmdb import: %s\n", err);
		return IMPORT_EXIT_USAGE;
	}
	if (load_config(&cfg, 0))
		return IMPORT_EXIT_USAGE;
	o = (struct import_opts){cfg.watch_url, cfg.watch_token, cfg.watch_cacert,
	                         &args,         stdout,          stderr};
	return import_run(&o);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "watch") == 0)
		return cmd_watch(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve();
	if (argc == 2 && strcmp(argv[1], "migrate") == 0)
		return cmd_migrate();
	if (argc == 2 && strcmp(argv[1], "settings") == 0) {
		config_write_markdown(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "states") == 0) {
		release_write_table(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "routes") == 0) {
		api_router_write_routes(stdout);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return EXIT_CONFIG;
}
