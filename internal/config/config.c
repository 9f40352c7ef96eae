/*
 * config: reads and validates the environment into struct config.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static int get_int(config_getenv_fn get, const char *name, int def, int min, int max, int *out,
                   char *err, size_t errlen)
{
	const char *v = get(name);
	int64_t n;

	if (!v) {
		*out = def;
		return 0;
	}
	if (parse_int64(v, min, max, &n)) {
		snprintf(err, errlen, "%s: want an integer from %d to %d, got \"%.64s\"", name, min,
		         max, v);
		return CMDB_EINVAL;
	}
	*out = (int)n;
	return 0;
}

static int get_str(config_getenv_fn get, const char *name, const char *def, char *buf, size_t len,
                   char *err, size_t errlen)
{
	const char *v = get(name);

	if (!v)
		v = def;
	if (str_copy(buf, v, len) >= len) {
		snprintf(err, errlen, "%s: longer than %zu characters", name, len - 1);
		return CMDB_EINVAL;
	}
	return 0;
}

/* 1 when "ip:port" names a 127.0.0.0/8 address. */
static int is_loopback(const char *listen)
{
	return strncmp(listen, "127.", 4) == 0;
}

/* The API's transport and identity settings, and the rule that ties them together. */
static int load_api_security(struct config *cfg, config_getenv_fn get, char *err, size_t errlen)
{
	int rc;

	if ((rc = get_str(get, "CMDB_TLS_CERT", "", cfg->tls_cert, sizeof(cfg->tls_cert), err,
	                  errlen)) ||
	    (rc = get_str(get, "CMDB_TLS_KEY", "", cfg->tls_key, sizeof(cfg->tls_key), err,
	                  errlen)) ||
	    (rc = get_str(get, "CMDB_CLIENT_CA", "", cfg->client_ca, sizeof(cfg->client_ca), err,
	                  errlen)) ||
	    (rc = get_str(get, "CMDB_API_TOKENS_FILE", "", cfg->tokens_file,
	                  sizeof(cfg->tokens_file), err, errlen)))
		return rc;
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
	if ((cfg->tls_cert[0] && access(cfg->tls_cert, R_OK) != 0) ||
	    (cfg->tls_key[0] && access(cfg->tls_key, R_OK) != 0) ||
	    (cfg->client_ca[0] && access(cfg->client_ca, R_OK) != 0)) {
		snprintf(err, errlen, "%s: cannot read the file",
		         cfg->tls_cert[0] && access(cfg->tls_cert, R_OK) ? "CMDB_TLS_CERT"
		         : cfg->tls_key[0] && access(cfg->tls_key, R_OK) ? "CMDB_TLS_KEY"
		                                                         : "CMDB_CLIENT_CA");
		return CMDB_EINVAL;
	}
	cfg->auth_required = cfg->tokens_file[0] || cfg->client_ca[0];
	if (!cfg->auth_required && !is_loopback(cfg->listen)) {
		snprintf(err, errlen,
		         "CMDB_LISTEN: %s is not a loopback address, and without"
		         " CMDB_API_TOKENS_FILE or CMDB_CLIENT_CA anyone who reaches it"
		         " could push configuration to the fleet; refusing to start",
		         cfg->listen);
		return CMDB_EINVAL;
	}
	return 0;
}

/* Requires an IPv4 literal and a port: the API must never bind by accident. */
static int check_listen(const char *v, char *err, size_t errlen)
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
	snprintf(err, errlen, "CMDB_LISTEN: want IPv4:port such as 127.0.0.1:8080, got \"%.64s\"",
	         v);
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

/* Every variable config_load() reads, and CMDB_LOG_LEVEL (read by cmd/cmdb). */
static const char *const settings[] = {
    "AGENT_CA_FILE",
    "AGENT_CERT_FILE",
    "AGENT_CONNECT_TIMEOUT",
    "AGENT_KEY_FILE",
    "AGENT_REQUEST_TIMEOUT",
    "CMDB_API_THREADS",
    "CMDB_API_TOKENS_FILE",
    "CMDB_CLIENT_CA",
    "CMDB_DB_HOST",
    "CMDB_DB_NAME",
    "CMDB_DB_PASSWORD",
    "CMDB_DB_PORT",
    "CMDB_DB_SOCKET",
    "CMDB_DB_USER",
    "CMDB_LISTEN",
    "CMDB_LOG_LEVEL",
    "CMDB_MIGRATIONS_DIR",
    "CMDB_TLS_CERT",
    "CMDB_TLS_KEY",
    "RELEASE_EXECUTOR_ENABLED",
    "RELEASE_EXECUTOR_INTERVAL",
    "RELEASE_LEASE_SECONDS",
    "RELEASE_MAX_ACTIVE",
    "RELEASE_MAX_INFLIGHT",
    "RELEASE_NODE_RETRIES",
    "RELEASE_NODE_TIMEOUT",
    "RELEASE_POLL_INTERVAL_MS",
    "RELEASE_POLL_MAX_MS",
};

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
		for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
			if (strlen(settings[i]) == n && strncmp(settings[i], *env, n) == 0)
				break;
		if (i < sizeof(settings) / sizeof(settings[0]))
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

int config_load(struct config *cfg, config_getenv_fn get, int need_agent, char *err, size_t errlen)
{
	const char *exec = get("RELEASE_EXECUTOR_ENABLED");
	int port = 0, rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((rc = get_str(get, "CMDB_LISTEN", "127.0.0.1:8080", cfg->listen, sizeof(cfg->listen),
	                  err, errlen)) ||
	    (rc = check_listen(cfg->listen, err, errlen)) ||
	    (rc = get_int(get, "CMDB_API_THREADS", 16, 1, 512, &cfg->api_threads, err, errlen)) ||
	    (rc = get_str(get, "CMDB_MIGRATIONS_DIR", "migrations", cfg->migrations_dir,
	                  sizeof(cfg->migrations_dir), err, errlen)) ||
	    (rc = get_str(get, "CMDB_DB_HOST", "127.0.0.1", cfg->db_host, sizeof(cfg->db_host), err,
	                  errlen)) ||
	    (rc = get_int(get, "CMDB_DB_PORT", 3306, 1, 65535, &port, err, errlen)) ||
	    (rc = get_str(get, "CMDB_DB_USER", "cmdb", cfg->db_user, sizeof(cfg->db_user), err,
	                  errlen)) ||
	    (rc = get_str(get, "CMDB_DB_PASSWORD", "", cfg->db_password, sizeof(cfg->db_password),
	                  err, errlen)) ||
	    (rc = get_str(get, "CMDB_DB_NAME", "cmdb", cfg->db_name, sizeof(cfg->db_name), err,
	                  errlen)) ||
	    (rc = get_str(get, "CMDB_DB_SOCKET", "", cfg->db_socket, sizeof(cfg->db_socket), err,
	                  errlen)))
		return rc;
	if (exec && strcmp(exec, "0") != 0 && strcmp(exec, "1") != 0) {
		snprintf(err, errlen, "RELEASE_EXECUTOR_ENABLED: want 0 or 1, got \"%.64s\"", exec);
		return CMDB_EINVAL;
	}
	cfg->executor_enabled = exec && strcmp(exec, "1") == 0;
	if ((rc = get_int(get, "RELEASE_EXECUTOR_INTERVAL", 2, 1, 3600, &cfg->executor_interval_s,
	                  err, errlen)) ||
	    (rc = get_int(get, "RELEASE_MAX_INFLIGHT", 256, 1, 10000, &cfg->max_inflight, err,
	                  errlen)) ||
	    (rc = get_int(get, "RELEASE_POLL_INTERVAL_MS", 20, 1, 60000, &cfg->poll_interval_ms,
	                  err, errlen)) ||
	    (rc = get_int(get, "RELEASE_POLL_MAX_MS", 2000, 10, 600000, &cfg->poll_max_ms, err,
	                  errlen)) ||
	    (rc = get_int(get, "RELEASE_LEASE_SECONDS", 30, 5, 3600, &cfg->lease_s, err, errlen)) ||
	    (rc = get_int(get, "RELEASE_MAX_ACTIVE", 16, 1, 1000, &cfg->max_active, err, errlen)) ||
	    (rc =
	         get_int(get, "RELEASE_NODE_RETRIES", 3, 0, 20, &cfg->node_retries, err, errlen)) ||
	    (rc = get_int(get, "RELEASE_NODE_TIMEOUT", 600, 1, 86400, &cfg->node_timeout_s, err,
	                  errlen)) ||
	    (rc = get_str(get, "AGENT_CA_FILE", "", cfg->agent_ca_file, sizeof(cfg->agent_ca_file),
	                  err, errlen)) ||
	    (rc = get_str(get, "AGENT_CERT_FILE", "", cfg->agent_cert_file,
	                  sizeof(cfg->agent_cert_file), err, errlen)) ||
	    (rc = get_str(get, "AGENT_KEY_FILE", "", cfg->agent_key_file,
	                  sizeof(cfg->agent_key_file), err, errlen)) ||
	    (rc = get_int(get, "AGENT_CONNECT_TIMEOUT", 15, 1, 600, &cfg->agent_connect_timeout_s,
	                  err, errlen)) ||
	    (rc = get_int(get, "AGENT_REQUEST_TIMEOUT", 60, 1, 3600, &cfg->agent_request_timeout_s,
	                  err, errlen)))
		return rc;
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
	if ((rc = load_api_security(cfg, get, err, errlen)))
		return rc;
	cfg->db.host = cfg->db_host;
	cfg->db.port = (unsigned int)port;
	cfg->db.user = cfg->db_user;
	cfg->db.password = cfg->db_password;
	cfg->db.name = cfg->db_name;
	cfg->db.socket = cfg->db_socket[0] ? cfg->db_socket : NULL;
	return 0;
}
