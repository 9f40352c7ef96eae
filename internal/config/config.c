/*
 * config: the table of every setting, and the three things made from it: loading
 * (config_load), the unknown-variable warning (config_check_unknown) and the README's
 * table (config_write_markdown). Rules that tie several settings together follow the
 * table in config_load.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/core.h"

struct setting {
	const char *name;
	enum config_kind kind;
	const char *def;            /* default as text; "" is "unset" for CONFIG_STR */
	int min, max;               /* CONFIG_INT */
	const char *const *choices; /* CONFIG_ENUM, NULL-terminated */
	const char *values;         /* CONFIG_STR: what a value looks like, for the docs */
	size_t off, size;           /* the field in struct config; its size for CONFIG_STR */
	int (*check)(const char *name, const char *v, char *err, size_t errlen);
	const char *doc; /* one line of documentation */
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define STR(n, f, d, vals, chk, doc)                                                               \
	{                                                                                          \
		n, CONFIG_STR, d, 0, 0, NULL, vals, FIELD(f), chk, doc                             \
	}
#define INT(n, f, d, lo, hi, doc)                                                                  \
	{                                                                                          \
		n, CONFIG_INT, #d, lo, hi, NULL, NULL, FIELD(f), NULL, doc                         \
	}
#define FLAG(n, f, d, doc)                                                                         \
	{                                                                                          \
		n, CONFIG_FLAG, #d, 0, 1, NULL, NULL, FIELD(f), NULL, doc                          \
	}
#define ENUM(n, f, d, ch, doc)                                                                     \
	{                                                                                          \
		n, CONFIG_ENUM, d, 0, 0, ch, NULL, FIELD(f), NULL, doc                             \
	}

static int check_listen(const char *name, const char *v, char *err, size_t errlen);
static int check_optional_listen(const char *name, const char *v, char *err, size_t errlen);
static int check_url(const char *name, const char *v, char *err, size_t errlen);
static int check_db_hosts(const char *name, const char *v, char *err, size_t errlen);

/* The same order as enum log_level and enum log_format. */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

static const struct setting settings[] = {
    STR("CMDB_LISTEN", listen, "127.0.0.1:8080", "IPv4:port", check_listen, "API address"),
    INT("CMDB_API_THREADS", api_threads, 16, 1, 512,
        "API worker threads; they only ever answer complete requests (the front reads them)"),
    INT("CMDB_API_HEADER_TIMEOUT", header_timeout_s, 5, 1, 300,
        "seconds for a request line and headers (with HTTPS, the handshake too) to arrive;"
        " a slower client is cut (`cmdb_api_slow_clients_total{reason=\"header\"}`)"),
    INT("CMDB_API_BODY_TIMEOUT", body_timeout_s, 10, 1, 600,
        "seconds for a request body to arrive after its headers, and the longest a client may"
        " take none of its answer"),
    INT("CMDB_API_KEEPALIVE_TIMEOUT", keepalive_timeout_s, 10, 1, 3600,
        "seconds an idle keep-alive connection stays open (it holds no worker)"),
    INT("CMDB_API_MAX_CONN_PER_CLIENT", max_conn_per_client, 64, 1, 100000,
        "connections one client address may have open; more are refused at once"),
    STR("CMDB_HEALTH_LISTEN", health_listen, "", "IPv4:port", check_optional_listen,
        "a plain-HTTP listener for `/health/live`, `/health/ready` and `/metrics` only, with"
        " workers of its own; unset: the probes are answered on `CMDB_LISTEN`, also from"
        " workers of their own"),
    FLAG("CMDB_API_PROXY_PROTOCOL", proxy_protocol, 0,
         "1: every connection to `CMDB_LISTEN` starts with a PROXY protocol v1 line (a TLS"
         " pass-through proxy such as deploy/nginx); its client address is the one counted"),
    STR("CMDB_MIGRATIONS_DIR", migrations_dir, "migrations", "path", NULL,
        "where `cmdb migrate` finds `NNNN_*.sql`"),
    ENUM("CMDB_LOG_LEVEL", log_level, "info", log_levels, "records below this level are dropped"),
    ENUM("CMDB_LOG_FORMAT", log_format, "text", log_formats,
         "`json`: one JSON object per line (time, level, module, msg, release_id, node_id)"),
    STR("CMDB_DB_HOST", db_host, "127.0.0.1", "host[:port], comma-separated (up to 8)",
        check_db_hosts,
        "MariaDB server; several: the nodes of a Galera cluster, used one at a time, moving"
        " to the next when one is not usable (docs/reliability.md)"),
    INT("CMDB_DB_PORT", db_port, 3306, 1, 65535, "port of a host listed without one"),
    STR("CMDB_DB_USER", db_user, "cmdb", "name", NULL, "database user"),
    STR("CMDB_DB_PASSWORD", db_password, "", "secret", NULL, "its password; never logged"),
    STR("CMDB_DB_NAME", db_name, "cmdb", "name", NULL, "database"),
    STR("CMDB_DB_SOCKET", db_socket, "", "path", NULL, "unix socket; overrides host and port"),
    FLAG("RELEASE_EXECUTOR_ENABLED", executor_enabled, 0, "1 runs the executor in `cmdb serve`"),
    INT("RELEASE_EXECUTOR_INTERVAL", executor_interval_s, 2, 1, 3600,
        "seconds between scans for new work"),
    INT("RELEASE_MAX_INFLIGHT", max_inflight, 256, 1, 10000, "agent calls in flight at once"),
    INT("RELEASE_MAX_ACTIVE", max_active, 16, 1, 1000,
        "releases one controller drives at once, all sharing `RELEASE_MAX_INFLIGHT`"),
    INT("RELEASE_POLL_INTERVAL_MS", poll_interval_ms, 50, 1, 60000,
        "shortest delay between task-status polls; a poll waits a tenth of the task's age,"
        " at least this, and a first poll not before the shortest apply of the release so far"
        " and 5% (at least 10 ms)..."),
    INT("RELEASE_POLL_MAX_MS", poll_max_ms, 2000, 10, 600000,
        "...and at most this; not below `RELEASE_POLL_INTERVAL_MS`"),
    INT("RELEASE_NODE_RETRIES", node_retries, 3, 0, 20,
        "retries of a transient agent error (refused, reset, timeout, 429, 5xx) before the"
        " node fails; back-off " BACKOFF_AGENT_DOC ", honouring `Retry-After`"),
    INT("RELEASE_NODE_TIMEOUT", node_timeout_s, 600, 1, 86400,
        "seconds a node's task may take from its dispatch before the node fails"),
    INT("RELEASE_LEASE_SECONDS", lease_s, 30, 5, 3600,
        "how long a controller's claim on a running release lasts without renewal"),
    FLAG("RELEASE_AUTO_ROLLBACK", auto_rollback, 0,
         "default of a release's `auto_rollback`: 1 rolls a failed release back at once"),
    INT("RELEASE_APPROVAL_MIN_NODES", approval_min_nodes, 0, 0, 1000000,
        "a release to more nodes than this awaits approval; 0: no such rule"),
    INT("RELEASE_APPROVAL_MIN_PERCENT", approval_min_percent, 0, 0, 100,
        "a release to more than this percentage of the online nodes awaits approval;"
        " 0: no such rule"),
    STR("RELEASE_WEBHOOK_URL", webhook_url, "", "http(s) URL", check_url,
        "where to POST a notification when a release ends, pauses or awaits approval;"
        " unset: none. Credentials and query are masked in logs"),
    STR("RELEASE_WEBHOOK_SECRET", webhook_secret, "", "secret", NULL,
        "signs each notification: `X-Cmdb-Signature: sha256=<HMAC-SHA256 of the body>`"),
    INT("RELEASE_WEBHOOK_TIMEOUT", webhook_timeout_s, 5, 1, 120,
        "seconds a webhook attempt may take"),
    INT("RELEASE_WEBHOOK_RETRIES", webhook_retries, 5, 0, 50,
        "retries of a failed delivery, " BACKOFF_WEBHOOK_DOC),
    STR("AGENT_CA_FILE", agent_ca_file, "", "path", NULL,
        "CA that signs agent server certificates; required with the executor"),
    STR("AGENT_CERT_FILE", agent_cert_file, "", "path", NULL,
        "the controller's client certificate; required with the executor"),
    STR("AGENT_KEY_FILE", agent_key_file, "", "path", NULL, "its key; required with the executor"),
    INT("AGENT_CONNECT_TIMEOUT", agent_connect_timeout_s, 15, 1, 600,
        "seconds to connect to an agent"),
    INT("AGENT_REQUEST_TIMEOUT", agent_request_timeout_s, 60, 1, 3600,
        "seconds for one agent request"),
    STR("CMDB_TLS_CERT", tls_cert, "", "path", NULL,
        "serve the API over HTTPS with this certificate (chain); needs `CMDB_TLS_KEY`"),
    STR("CMDB_TLS_KEY", tls_key, "", "path", NULL, "its unencrypted key"),
    STR("CMDB_CLIENT_CA", client_ca, "", "path", NULL,
        "verify API client certificates against this CA; a verified client is `cert:<CN>`,"
        " with the roles of its `cert:<CN>:roles` line of `CMDB_API_TOKENS_FILE`, or a writer"
        " without one; needs TLS"),
    STR("CMDB_API_TOKENS_FILE", tokens_file, "", "path", NULL,
        "bearer tokens, `name:sha256hex[:roles[:scope]]` per line, roles comma-separated of"
        " `reader|operator|approver|inventory|alerts|admin|writer`, and certificates' roles,"
        " `cert:<CN>:roles[:scope]` (docs/security.md); the file must be mode 600; SIGHUP"
        " reloads it"),
    FLAG("CMDB_READS_REQUIRE_AUTH", reads_require_auth, 0,
         "1: every `/api/v1` read needs a principal, of any role (for an API on a shared"
         " network); `/metrics`, the health probes and the console's files stay open. Needs"
         " `CMDB_API_TOKENS_FILE` or `CMDB_CLIENT_CA`"),
    STR("CMDB_URL", watch_url, "http://127.0.0.1:8080", "http(s) URL", check_url,
        "`cmdb watch` and `cmdb import`: the API they use"),
    STR("CMDB_TOKEN", watch_token, "", "secret", NULL,
        "`cmdb watch` and `cmdb import`: the bearer token they send (`cmdb watch` needs one"
        " with `CMDB_READS_REQUIRE_AUTH=1`, `cmdb import` an inventory role)"),
    STR("CMDB_CACERT", watch_cacert, "", "path", NULL,
        "`cmdb watch` and `cmdb import`: the CA of an https `CMDB_URL`; unset: the system's"
        " CAs"),
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

size_t config_setting_count(void)
{
	return NSETTINGS;
}

int config_setting_info(size_t i, struct config_setting_info *out)
{
	const struct setting *s;

	if (i >= NSETTINGS)
		return -1;
	s = &settings[i];
	*out = (struct config_setting_info){s->name, s->kind, s->off, s->size, s->min, s->max};
	if (s->kind == CONFIG_ENUM)
		for (out->max = 0; s->choices[out->max + 1]; out->max++)
			;
	return 0;
}

static int check_db_hosts(const char *name, const char *v, char *err, size_t errlen)
{
	struct db_host hosts[DB_MAX_HOSTS];
	char why[200];
	size_t n;

	if (db_parse_hosts(v, 3306, hosts, &n, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s (expected host[:port], comma-separated)", name, why);
	return CMDB_EINVAL;
}

/* Requires an IPv4 literal and a port: the API must never bind by accident. */
static int check_listen(const char *name, const char *v, char *err, size_t errlen)
{
	char ip[64];
	const char *colon = strrchr(v, ':');
	struct in_addr a;
	int64_t port;

	if (!colon || (size_t)(colon - v) >= sizeof(ip))
		goto bad;
	memcpy(ip, v, (size_t)(colon - v));
	ip[colon - v] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1 || parse_int64(colon + 1, 1, 65535, &port))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: want IPv4:port such as 127.0.0.1:8080, got \"%.64s\"", name, v);
	return CMDB_EINVAL;
}

/* Like check_listen; "" is allowed (off). */
static int check_optional_listen(const char *name, const char *v, char *err, size_t errlen)
{
	return v[0] ? check_listen(name, v, err, errlen) : 0;
}

/* An http or https URL without spaces; "" is allowed (off). */
static int check_url(const char *name, const char *v, char *err, size_t errlen)
{
	if (!v[0])
		return 0;
	if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
	    strpbrk(v, " \t\r\n") || !v[strncmp(v, "https", 5) == 0 ? 8 : 7]) {
		/* The value may hold credentials: it is not repeated. */
		snprintf(err, errlen, "%s: want an http:// or https:// URL", name);
		return CMDB_EINVAL;
	}
	return 0;
}

/* Parses one setting's value (or its default) into cfg. */
static int load_one(struct config *cfg, const struct setting *s, const char *v, char *err,
                    size_t errlen)
{
	char *field = (char *)cfg + s->off;
	int64_t n;
	int i;

	switch (s->kind) {
	case CONFIG_STR:
		if (str_copy(field, v, s->size) >= s->size) {
			snprintf(err, errlen, "%s: longer than %zu characters", s->name,
			         s->size - 1);
			return CMDB_EINVAL;
		}
		return s->check ? s->check(s->name, field, err, errlen) : 0;
	case CONFIG_INT:
	case CONFIG_FLAG:
		if (parse_int64(v, s->min, s->max, &n)) {
			if (s->kind == CONFIG_FLAG)
				snprintf(err, errlen, "%s: want 0 or 1, got \"%.64s\"", s->name, v);
			else
				snprintf(err, errlen,
				         "%s: want an integer from %d to %d, got \"%.64s\"",
				         s->name, s->min, s->max, v);
			return CMDB_EINVAL;
		}
		*(int *)(void *)field = (int)n;
		return 0;
	case CONFIG_ENUM:
		for (i = 0; s->choices[i]; i++)
			if (strcmp(s->choices[i], v) == 0) {
				*(int *)(void *)field = i;
				return 0;
			}
		snprintf(err, errlen, "%s: want one of", s->name);
		for (i = 0; s->choices[i]; i++) {
			size_t len = strlen(err);
			snprintf(err + len, errlen - len, "%s %s", i ? "," : "", s->choices[i]);
		}
		{
			size_t len = strlen(err);
			snprintf(err + len, errlen - len, "; got \"%.64s\"", v);
		}
		return CMDB_EINVAL;
	}
	return CMDB_EINVAL;
}

static int check_file(const char *name, const char *path, char *err, size_t errlen)
{
	if (!*path) {
		snprintf(err, errlen, "%s: required when RELEASE_EXECUTOR_ENABLED=1", name);
		return CMDB_EINVAL;
	}
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "%s: cannot read %.900s", name, path);
		return CMDB_EINVAL;
	}
	return 0;
}

/* The API's transport and identity settings, and the rules that tie them together. */
static int check_api_security(struct config *cfg, char *err, size_t errlen)
{
	const char *unreadable = NULL;

	if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
		snprintf(err, errlen, "CMDB_TLS_CERT and CMDB_TLS_KEY: set both or neither");
		return CMDB_EINVAL;
	}
	if (cfg->client_ca[0] && !cfg->tls_cert[0]) {
		snprintf(err, errlen,
		         "CMDB_CLIENT_CA: client certificates need TLS;"
		         " set CMDB_TLS_CERT and CMDB_TLS_KEY too");
		return CMDB_EINVAL;
	}
	if (cfg->tls_cert[0] && access(cfg->tls_cert, R_OK) != 0)
		unreadable = "CMDB_TLS_CERT";
	else if (cfg->tls_key[0] && access(cfg->tls_key, R_OK) != 0)
		unreadable = "CMDB_TLS_KEY";
	else if (cfg->client_ca[0] && access(cfg->client_ca, R_OK) != 0)
		unreadable = "CMDB_CLIENT_CA";
	if (unreadable) {
		snprintf(err, errlen, "%s: cannot read the file", unreadable);
		return CMDB_EINVAL;
	}
	if (cfg->health_listen[0] && strcmp(cfg->health_listen, cfg->listen) == 0) {
		snprintf(err, errlen, "CMDB_HEALTH_LISTEN: must not be CMDB_LISTEN (%s)",
		         cfg->listen);
		return CMDB_EINVAL;
	}
	cfg->auth_required = cfg->tokens_file[0] || cfg->client_ca[0];
	if (cfg->reads_require_auth && !cfg->auth_required) {
		snprintf(err, errlen,
		         "CMDB_READS_REQUIRE_AUTH: reads can need a principal only where there are"
		         " principals; set CMDB_API_TOKENS_FILE or CMDB_CLIENT_CA too");
		return CMDB_EINVAL;
	}
	if (!cfg->auth_required && strncmp(cfg->listen, "127.", 4) != 0) {
		snprintf(err, errlen,
		         "CMDB_LISTEN: %s is not a loopback address, and without"
		         " CMDB_API_TOKENS_FILE or CMDB_CLIENT_CA anyone who reaches it"
		         " could push configuration to the fleet; refusing to start",
		         cfg->listen);
		return CMDB_EINVAL;
	}
	return 0;
}

int config_load(struct config *cfg, config_getenv_fn get, int need_agent, char *err, size_t errlen)
{
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NSETTINGS; i++) {
		const char *v = get(settings[i].name);

		if ((rc = load_one(cfg, &settings[i], v ? v : settings[i].def, err, errlen)))
			return rc;
	}
	if (cfg->poll_max_ms < cfg->poll_interval_ms) {
		snprintf(err, errlen,
		         "RELEASE_POLL_MAX_MS: must not be below RELEASE_POLL_INTERVAL_MS");
		return CMDB_EINVAL;
	}
	if (need_agent && cfg->executor_enabled &&
	    ((rc = check_file("AGENT_CA_FILE", cfg->agent_ca_file, err, errlen)) ||
	     (rc = check_file("AGENT_CERT_FILE", cfg->agent_cert_file, err, errlen)) ||
	     (rc = check_file("AGENT_KEY_FILE", cfg->agent_key_file, err, errlen))))
		return rc;
	if ((rc = check_api_security(cfg, err, errlen)))
		return rc;
	/* Checked with the table: it parses. */
	if (db_parse_hosts(cfg->db_host, (unsigned int)cfg->db_port, cfg->db.hosts, &cfg->db.nhosts,
	                   err, errlen))
		return CMDB_EINVAL;
	cfg->db.user = cfg->db_user;
	cfg->db.password = cfg->db_password;
	cfg->db.name = cfg->db_name;
	cfg->db.socket = cfg->db_socket[0] ? cfg->db_socket : NULL;
	return 0;
}

int config_check_unknown(char *const *env, void (*warn)(const char *name))
{
	int unknown = 0;

	for (; env && *env; env++) {
		const char *eq = strchr(*env, '=');
		size_t n = eq ? (size_t)(eq - *env) : strlen(*env), i;
		char name[128];

		if (strncmp(*env, "CMDB_", 5) != 0 && strncmp(*env, "RELEASE_", 8) != 0 &&
		    strncmp(*env, "AGENT_", 6) != 0)
			continue;
		for (i = 0; i < NSETTINGS; i++)
			if (strlen(settings[i].name) == n &&
			    strncmp(settings[i].name, *env, n) == 0)
				break;
		if (i < NSETTINGS)
			continue;
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, *env, n);
		name[n] = '\0';
		warn(name);
		unknown++;
	}
	return unknown;
}

/* Writes s with every '|' escaped, as a Markdown table cell needs. */
static void cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
}

void config_write_markdown(FILE *out)
{
	fputs("| variable | default | values | meaning |\n|---|---|---|---|\n", out);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];

		fprintf(out, "| `%s` | ", s->name);
		if (s->def[0])
			fprintf(out, "`%s`", s->def);
		else
			fputs("unset", out);
		fputs(" | ", out);
		switch (s->kind) {
		case CONFIG_STR:
			cell(out, s->values);
			break;
		case CONFIG_INT:
			fprintf(out, "%d to %d", s->min, s->max);
			break;
		case CONFIG_FLAG:
			fputs("0 or 1", out);
			break;
		case CONFIG_ENUM:
			for (int j = 0; s->choices[j]; j++)
				fprintf(out, "%s`%s`", j ? ", " : "", s->choices[j]);
			break;
		}
		fputs(" | ", out);
		cell(out, s->doc);
		fputs(" |\n", out);
	}
}
