/*
 * fuzz_config: libFuzzer harness for config_load (internal/config/config.c). The input
 * is a fake environment of NAME=VALUE lines; a loaded config must hold only values
 * inside the ranges config.h documents, and a refusal must say why.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENV_MAX 64

/* One input's environment; config_getenv_fn has no context argument, hence a global. */
static struct {
	char *buf;
	const char *name[ENV_MAX];
	const char *value[ENV_MAX];
	size_t n;
} env;

/* The first line that sets a name wins, like a getenv over a duplicated environ. */
static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < env.n; i++)
		if (strcmp(env.name[i], name) == 0)
			return env.value[i];
	return NULL;
}

/* Splits the bytes at '\n' (a NUL also ends a line) into NAME=VALUE pairs. */
static void env_build(const uint8_t *data, size_t size)
{
	char *p, *end;

	env.n = 0;
	env.buf = malloc(size + 1);
	assert(env.buf);
	memcpy(env.buf, data, size);
	env.buf[size] = '\0';
	end = env.buf + size;
	for (p = env.buf; p < end && env.n < ENV_MAX;) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;

		if (nl)
			*nl = '\0';
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			env.name[env.n] = p;
			env.value[env.n] = eq + 1;
			env.n++;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void check_str(const char *s, size_t cap)
{
	assert(strnlen(s, cap) < cap);
}

static void check_config(const struct config *c, int need_agent)
{
	check_str(c->listen, sizeof(c->listen));
	assert(strrchr(c->listen, ':'));
	assert(c->api_threads >= 1 && c->api_threads <= 512);
	check_str(c->migrations_dir, sizeof(c->migrations_dir));
	check_str(c->db_host, sizeof(c->db_host));
	check_str(c->db_user, sizeof(c->db_user));
	check_str(c->db_password, sizeof(c->db_password));
	check_str(c->db_name, sizeof(c->db_name));
	check_str(c->db_socket, sizeof(c->db_socket));
	assert(c->db.user == c->db_user && c->db.password == c->db_password &&
	       c->db.name == c->db_name);
	assert(c->db.socket == (c->db_socket[0] ? c->db_socket : NULL));
	/* CMDB_DB_HOST parsed into 1 to DB_MAX_HOSTS hosts, each named, each with a port. */
	assert(c->db.nhosts >= 1 && c->db.nhosts <= DB_MAX_HOSTS);
	for (size_t i = 0; i < c->db.nhosts; i++) {
		const struct db_host *h = &c->db.hosts[i];

		assert(h->name[0] && strnlen(h->name, sizeof(h->name)) < sizeof(h->name));
		assert(!strchr(h->name, ',') && !strchr(h->name, '[') && !strchr(h->name, ']'));
		assert(h->port >= 1 && h->port <= 65535);
		assert(strchr(c->db_host, ':') || h->port == (unsigned int)c->db_port);
	}
	assert(c->log_level >= 0 && c->log_level <= 3);
	assert(c->executor_enabled == 0 || c->executor_enabled == 1);
	assert(c->executor_interval_s >= 1 && c->executor_interval_s <= 3600);
	assert(c->max_inflight >= 1 && c->max_inflight <= 10000);
	assert(c->poll_interval_ms >= 1 && c->poll_interval_ms <= 60000);
	assert(c->poll_max_ms >= 10 && c->poll_max_ms <= 600000);
	assert(c->poll_max_ms >= c->poll_interval_ms);
	assert(c->lease_s >= 5 && c->lease_s <= 3600);
	assert(c->node_retries >= 0 && c->node_retries <= 20);
	assert(c->node_timeout_s >= 1 && c->node_timeout_s <= 86400);
	check_str(c->agent_ca_file, sizeof(c->agent_ca_file));
	check_str(c->agent_cert_file, sizeof(c->agent_cert_file));
	check_str(c->agent_key_file, sizeof(c->agent_key_file));
	if (need_agent && c->executor_enabled)
		assert(c->agent_ca_file[0] && c->agent_cert_file[0] && c->agent_key_file[0]);
	assert(c->agent_connect_timeout_s >= 1 && c->agent_connect_timeout_s <= 600);
	assert(c->agent_request_timeout_s >= 1 && c->agent_request_timeout_s <= 3600);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg; /* about 6 KiB: keep it off the fuzzer's stack */
	char err[512];

	env_build(data, size);
	for (int need_agent = 0; need_agent <= 1; need_agent++) {
		int rc;

		err[0] = '\0';
		rc = config_load(&cfg, fake_getenv, need_agent, err, sizeof(err));
		if (rc == 0) {
			check_config(&cfg, need_agent);
		} else {
			assert(rc == CMDB_EINVAL);
			assert(err[0] && strnlen(err, sizeof(err)) < sizeof(err));
		}
	}
	free(env.buf);
	env.buf = NULL;
	return 0;
}
