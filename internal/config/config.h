/*
 * config: every setting of `cmdb` comes from the environment (never argv, so secrets
 * stay out of /proc/<pid>/cmdline). Each setting is one row of a table in config.c
 * (name, default, range, parser, one line of doc), from which config_load reads and
 * validates everything up front, config_check_unknown warns about typos, and
 * config_write_markdown prints the README's table. A missing or malformed value is an
 * error naming the variable.
 */
#ifndef CMDB_CONFIG_H
#define CMDB_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "db/db.h"

struct config {
	char listen[64];           /* CMDB_LISTEN "ip:port" */
	int api_threads;           /* CMDB_API_THREADS */
	int header_timeout_s;      /* CMDB_API_HEADER_TIMEOUT */
	int body_timeout_s;        /* CMDB_API_BODY_TIMEOUT */
	int keepalive_timeout_s;   /* CMDB_API_KEEPALIVE_TIMEOUT */
	int max_conn_per_client;   /* CMDB_API_MAX_CONN_PER_CLIENT */
	char health_listen[64];    /* CMDB_HEALTH_LISTEN "ip:port", or "" */
	int proxy_protocol;        /* CMDB_API_PROXY_PROTOCOL */
	char migrations_dir[1024]; /* CMDB_MIGRATIONS_DIR */
	int log_level;             /* CMDB_LOG_LEVEL as an enum log_level (core/log.h) */
	int log_format;            /* CMDB_LOG_FORMAT as an enum log_format */

	/* API transport and identity (all optional; see README "Security"). */
	char tls_cert[1024];    /* CMDB_TLS_CERT: serve HTTPS with this certificate (chain) */
	char tls_key[1024];     /* CMDB_TLS_KEY: its unencrypted key; required with the cert */
	char client_ca[1024];   /* CMDB_CLIENT_CA: verify client certificates; needs TLS */
	char tokens_file[1024]; /* CMDB_API_TOKENS_FILE: bearer tokens, mode 600 */
	int reads_require_auth; /* CMDB_READS_REQUIRE_AUTH: /api/v1 reads need a principal */
	int auth_required;      /* derived: a token file or a client CA is configured */

	/* CMDB_DB_*: the strings of db point into the buffers below */
	struct db_config db;
	char db_host[2048]; /* one host[:port] or a comma-separated list (Galera) */
	int db_port;
	char db_user[128];
	char db_password[256];
	char db_name[128];
	char db_socket[1024];

	int executor_enabled;     /* RELEASE_EXECUTOR_ENABLED, 0 or 1 */
	int executor_interval_s;  /* RELEASE_EXECUTOR_INTERVAL */
	int max_inflight;         /* RELEASE_MAX_INFLIGHT */
	int max_active;           /* RELEASE_MAX_ACTIVE, releases driven at once */
	int poll_interval_ms;     /* RELEASE_POLL_INTERVAL_MS, shortest poll delay */
	int poll_max_ms;          /* RELEASE_POLL_MAX_MS, longest poll delay */
	int lease_s;              /* RELEASE_LEASE_SECONDS */
	int node_retries;         /* RELEASE_NODE_RETRIES, transient agent errors */
	int node_timeout_s;       /* RELEASE_NODE_TIMEOUT, one node's task at most */
	int auto_rollback;        /* RELEASE_AUTO_ROLLBACK: default of a release's auto_rollback */
	int approval_min_nodes;   /* RELEASE_APPROVAL_MIN_NODES; 0: no such rule */
	int approval_min_percent; /* RELEASE_APPROVAL_MIN_PERCENT; 0: no such rule */

	char watch_url[1024];     /* CMDB_URL: the API `cmdb watch` reads */
	char watch_token[512];    /* CMDB_TOKEN: the bearer token it sends */
	char watch_cacert[1024];  /* CMDB_CACERT: the CA of an https CMDB_URL */
	char webhook_url[1024];   /* RELEASE_WEBHOOK_URL; "" is off */
	char webhook_secret[256]; /* RELEASE_WEBHOOK_SECRET: HMAC key of X-Cmdb-Signature */
	int webhook_timeout_s;    /* RELEASE_WEBHOOK_TIMEOUT */
	int webhook_retries;      /* RELEASE_WEBHOOK_RETRIES */

	char agent_ca_file[1024];    /* AGENT_CA_FILE */
	char agent_cert_file[1024];  /* AGENT_CERT_FILE */
	char agent_key_file[1024];   /* AGENT_KEY_FILE */
	int agent_connect_timeout_s; /* AGENT_CONNECT_TIMEOUT */
	int agent_request_timeout_s; /* AGENT_REQUEST_TIMEOUT */
};

/* Looks a variable up; NULL when unset. getenv() in production, a table in tests. */
typedef const char *(*config_getenv_fn)(const char *name);

/*
 * Fills cfg from the environment. need_agent: the agent TLS files must be set and
 * readable (when the executor will run). Returns 0, or CMDB_EINVAL with err naming
 * the variable and what is wrong with it (never the value of a secret).
 */
int config_load(struct config *cfg, config_getenv_fn get, int need_agent, char *err, size_t errlen);

/*
 * Calls warn(name) for each "NAME=VALUE" entry of env (NULL-terminated, like environ)
 * whose NAME starts with CMDB_, RELEASE_ or AGENT_ but is no setting of ours: a typo
 * such as RELEASE_POLL_INTERVAL would otherwise be ignored without a word. Only the
 * name is passed on, never the value. Returns how many there were.
 */
int config_check_unknown(char *const *env, void (*warn)(const char *name));

/* How a setting's value is held in struct config. */
enum config_kind {
	CONFIG_STR,  /* copied into a char buffer */
	CONFIG_INT,  /* an int within [min, max] */
	CONFIG_FLAG, /* an int, exactly 0 or 1 */
	CONFIG_ENUM, /* an int: the index of one of its choices, 0 to max */
};

/* One row of the settings table, for tools and tests that walk every setting. */
struct config_setting_info {
	const char *name;
	enum config_kind kind;
	size_t off, size; /* the field in struct config */
	int min, max;     /* the range of a loaded int (not CONFIG_STR) */
};

/* How many settings there are, and row i of the table (0, or -1 past the end). */
size_t config_setting_count(void);
int config_setting_info(size_t i, struct config_setting_info *out);

/* Writes the settings table as Markdown (the README's "Configuration" table). */
void config_write_markdown(FILE *out);

#endif
