/*
 * fuzz_config: libFuzzer harness for config_load (internal/config/config.c). The input
 * is a fake environment of NAME=VALUE lines; a loaded config must hold only values
 * inside the ranges of the settings table, and a refusal must say why.
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

/*
 * Every setting holds a value its table row allows: a terminated string within its
 * buffer, or an int within its range. The ranges come from the table itself, so a new
 * setting is checked without a line here.
 */
static void check_table(const struct config *c)
{
	struct config_setting_info s;

	assert(config_setting_count() > 0);
	for (size_t i = 0; config_setting_info(i, &s) == 0; i++) {
		const char *field = (const char *)c + s.off;

		if (s.kind == CONFIG_STR) {
			check_str(field, s.size);
		} else {
			int v;

			assert(s.size == sizeof(int));
			memcpy(&v, field, sizeof(v));
			assert(v >= s.min && v <= s.max);
		}
	}
}

/* The rules that tie settings together, and what config_load derives from them. */
static void check_config(const struct config *c, int need_agent)
{
	check_table(c);
	assert(strrchr(c->listen, ':'));
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
	assert(c->poll_max_ms >= c->poll_interval_ms);
	if (need_agent && c->executor_enabled)
		assert(c->agent_ca_file[0] && c->agent_cert_file[0] && c->agent_key_file[0]);
	assert(!c->client_ca[0] || c->tls_cert[0]);
	assert(!c->tls_cert[0] == !c->tls_key[0]);
	assert(c->auth_required == (c->tokens_file[0] || c->client_ca[0]));
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
