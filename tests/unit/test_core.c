/* Unit tests of core, config, migrate_split and the agent error wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>

#include "agentclient/agentclient.h"
#include "config/config.h"
#include "core/log.h"
#include "core/core.h"
#include "db/migrate.h"
#include "release/runner.h"

static void test_parse_int64(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(parse_int64("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_int64("0", 1, 100, &v), -1);
	assert_int_equal(parse_int64("101", 1, 100, &v), -1);
	assert_int_equal(parse_int64("4x", 1, 100, &v), -1);
	assert_int_equal(parse_int64("", 1, 100, &v), -1);
	assert_int_equal(parse_int64(" 4", 1, 100, &v), -1);
	assert_int_equal(parse_int64("+4", 1, 100, &v), -1);
	assert_int_equal(parse_int64("\t4", 1, 100, &v), -1); /* found by fuzz_core */
	assert_int_equal(parse_int64("\n4", 1, 100, &v), -1);
	assert_int_equal(parse_int64("-4", -10, 100, &v), 0);
	assert_int_equal(parse_int64("99999999999999999999", 1, INT64_MAX, &v), -1);
	assert_int_equal(parse_int64(NULL, 1, 100, &v), -1);
}

static int too_deep(const char *text, int max)
{
	return json_too_deep(text, strlen(text), max);
}

static void test_json_too_deep(void **state)
{
	(void)state;
	assert_false(too_deep("{\"a\":[1,{\"b\":2}]}", 3));
	assert_true(too_deep("{\"a\":[1,{\"b\":[]}]}", 3));
	/* brackets inside strings, and escaped quotes, do not count */
	assert_false(too_deep("{\"a\":\"[[[[\\\"[[[\"}", 1));
	assert_true(too_deep("[[[[[[[[[", 8));
	/* a trailing backslash must not read past the end */
	assert_false(too_deep("\"\\", 1));
}

static void test_status_names_round_trip(void **state)
{
	(void)state;
	for (int s = 0; s < NODE_STATUS_COUNT; s++)
		assert_int_equal(node_status_parse(node_status_name((enum node_status)s)), s);
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++)
		assert_int_equal(release_status_parse(release_status_name((enum release_status)s)),
		                 s);
	assert_int_equal(node_status_parse("SKIPPED"), -1);
	assert_int_equal(release_status_parse("done"), -1);
	assert_string_equal(node_health_name(NODE_OFFLINE), "offline");
}

static void test_times(void **state)
{
	char buf[32];

	(void)state;
	format_db_time(1795321172123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-22 04:19:32.123");
	assert_int_equal(db_time_to_rfc3339("2026-11-22 04:19:32.123", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-11-22T04:19:32.123Z");
	assert_int_equal(db_time_to_rfc3339("2026-11-22", buf, sizeof(buf)), -1);
}

static const char *const *fake_env;

static const char *lookup(const char *name)
{
	for (size_t i = 0; fake_env[i]; i += 2)
		if (strcmp(fake_env[i], name) == 0)
			return fake_env[i + 1];
	return NULL;
}

static int load(const char *const *env, struct config *cfg, char *err)
{
	fake_env = env;
	return config_load(cfg, lookup, 1, err, 256);
}

static void test_config_defaults(void **state)
{
	static const char *const env[] = {NULL};
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(env, &cfg, err), 0);
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_int_equal(cfg.executor_enabled, 0);
	assert_int_equal(cfg.executor_interval_s, 2);
	assert_int_equal(cfg.agent_connect_timeout_s, 15);
	assert_int_equal(cfg.agent_request_timeout_s, 60);
	assert_int_equal(cfg.max_inflight, 256);
	assert_int_equal(cfg.db.nhosts, 1);
	assert_string_equal(cfg.db.hosts[0].name, "127.0.0.1");
	assert_int_equal(cfg.db.hosts[0].port, 3306);
	assert_null(cfg.db.socket);
}

static void test_db_host_lists(void **state)
{
	static const char *const galera[] = {"CMDB_DB_HOST", " db1:3307, db2 ,[::1]:3309,[fe80::1]",
	                                     "CMDB_DB_PORT", "3400", NULL};
	static const char *const bad[] = {
	    "a,,b",   "a:0", "a:65536",           "a:33x", "::1", "[::1",    "[]:5",
	    "[::1]x", "a b", "a,b,c,d,e,f,g,h,i", "",      "a:",  "user@db", NULL,
	};
	struct db_host h[DB_MAX_HOSTS];
	struct config cfg;
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(load(galera, &cfg, err), 0);
	assert_int_equal(cfg.db.nhosts, 4);
	assert_string_equal(cfg.db.hosts[0].name, "db1");
	assert_int_equal(cfg.db.hosts[0].port, 3307);
	assert_string_equal(cfg.db.hosts[1].name, "db2");
	assert_int_equal(cfg.db.hosts[1].port, 3400); /* CMDB_DB_PORT for a host without one */
	assert_string_equal(cfg.db.hosts[2].name, "::1");
	assert_int_equal(cfg.db.hosts[2].port, 3309);
	assert_string_equal(cfg.db.hosts[3].name, "fe80::1");
	assert_int_equal(cfg.db.hosts[3].port, 3400);
	assert_int_equal(db_parse_hosts("a,b,c,d,e,f,g,h", 1, h, &n, err, sizeof(err)), 0);
	assert_int_equal(n, DB_MAX_HOSTS);
	for (size_t i = 0; bad[i]; i++) {
		const char *env[] = {"CMDB_DB_HOST", bad[i], NULL};

		assert_int_equal(db_parse_hosts(bad[i], 3306, h, &n, err, sizeof(err)),
		                 CMDB_EINVAL);
		assert_true(strlen(err) > 0);
		assert_int_equal(load(env, &cfg, err), CMDB_EINVAL);
		assert_non_null(strstr(err, "CMDB_DB_HOST"));
	}
}

static void test_config_errors_name_the_variable(void **state)
{
	static const char *const bad_exec[] = {"RELEASE_EXECUTOR_ENABLED", "yes", NULL};
	static const char *const bad_port[] = {"CMDB_DB_PORT", "70000", NULL};
	static const char *const bad_listen[] = {"CMDB_LISTEN", "localhost", NULL};
	static const char *const bad_interval[] = {"RELEASE_EXECUTOR_INTERVAL", "2s", NULL};
	static const char *const no_certs[] = {"RELEASE_EXECUTOR_ENABLED", "1", NULL};
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(bad_exec, &cfg, err), CMDB_EINVAL);
	assert_non_null(strstr(err, "RELEASE_EXECUTOR_ENABLED"));
	assert_int_equal(load(bad_port, &cfg, err), CMDB_EINVAL);
	assert_non_null(strstr(err, "CMDB_DB_PORT"));
	assert_int_equal(load(bad_listen, &cfg, err), CMDB_EINVAL);
	assert_non_null(strstr(err, "CMDB_LISTEN"));
	assert_int_equal(load(bad_interval, &cfg, err), CMDB_EINVAL);
	assert_non_null(strstr(err, "RELEASE_EXECUTOR_INTERVAL"));
	assert_int_equal(load(no_certs, &cfg, err), CMDB_EINVAL);
	assert_non_null(strstr(err, "AGENT_CA_FILE"));
}

static int warned;
static char last_warned[64];

static void note_unknown(const char *name)
{
	warned++;
	snprintf(last_warned, sizeof(last_warned), "%s", name);
}

static void test_config_unknown_names(void **state)
{
	char *env[] = {"PATH=/bin",
	               "RELEASE_POLL_INTERVAL=50",
	               "CMDB_DB_PASSWORD=s3cret",
	               "AGENT_CA_FILE=/x",
	               "ACCEPTANCE_AGENT_PORT=1",
	               "CMDB_LOG_LEVEL=debug",
	               NULL};

	(void)state;
	warned = 0;
	assert_int_equal(config_check_unknown(env, note_unknown), 1);
	assert_int_equal(warned, 1);
	assert_string_equal(last_warned, "RELEASE_POLL_INTERVAL"); /* the name, no value */
}

/* Every name config_load() asks for, as "NAME=x" entries of a fake environment. */
static char asked[64][48];
static char *asked_env[65];
static size_t nasked;

static const char *record(const char *name)
{
	if (nasked < 64) {
		snprintf(asked[nasked], sizeof(asked[nasked]), "%s=x", name);
		asked_env[nasked] = asked[nasked];
		nasked++;
	}
	return NULL;
}

/* The list of known settings cannot drift from what config_load() reads. */
static void test_config_knows_every_setting_it_reads(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	nasked = 0;
	assert_int_equal(config_load(&cfg, record, 0, err, sizeof(err)), 0);
	assert_true(nasked > 20);
	asked_env[nasked] = NULL;
	warned = 0;
	assert_int_equal(config_check_unknown(asked_env, note_unknown), 0);
}

static void test_config_log_level_and_markdown(void **state)
{
	static const char *const debug[] = {"CMDB_LOG_LEVEL", "warn", NULL};
	static const char *const bad[] = {"CMDB_LOG_LEVEL", "trace", NULL};
	struct config cfg;
	char err[256], *doc = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load(debug, &cfg, err), 0);
	assert_int_equal(cfg.log_level, LOG_WARN);
	assert_int_equal(load(bad, &cfg, err), CMDB_EINVAL);
	assert_string_equal(err,
	                    "CMDB_LOG_LEVEL: want one of debug, info, warn, error; got \"trace\"");
	f = open_memstream(&doc, &len);
	assert_non_null(f);
	config_write_markdown(f);
	fclose(f);
	/* One row per setting, with its default, its range, and '|' escaped for Markdown. */
	assert_non_null(strstr(doc, "| `RELEASE_MAX_INFLIGHT` | `256` | 1 to 10000 |"));
	assert_non_null(strstr(doc, "| `AGENT_CA_FILE` | unset | path |"));
	assert_non_null(strstr(doc, "`reader\\|operator\\|approver"));
	free(doc);
}

static int collect(const char *stmt, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 512 - n, "[%s]", stmt);
	return 0;
}

static void test_migrate_split(void **state)
{
	char out[512] = "";

	(void)state;
	assert_int_equal(migrate_split("-- comment;\nCREATE TABLE a (\n  x INT\n);\n\n"
	                               "  -- another\nINSERT INTO a VALUES (1);\nSELECT 1",
	                               collect, out),
	                 0);
	assert_string_equal(out,
	                    "[CREATE TABLE a (\nx INT\n)][INSERT INTO a VALUES (1)][SELECT 1]");
	out[0] = '\0'; /* a lone ";" is no statement (found by fuzz_core) */
	assert_int_equal(migrate_split(";\nSELECT 2;\n", collect, out), 0);
	assert_string_equal(out, "[SELECT 2]");
}

static void test_agent_failure_wording(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(agentclient_describe_failure(CURLE_COULDNT_CONNECT, ECONNREFUSED, 0, "",
	                                              "127.0.1.7", 9443, 60, out, sizeof(out)),
	                 AGENT_E_TRANSIENT);
	assert_string_equal(out, "connect 127.0.1.7:9443: connection refused");
	assert_int_equal(agentclient_describe_failure(CURLE_PEER_FAILED_VERIFICATION, 0, 1,
	                                              "SSL certificate problem", "10.0.0.1", 8443,
	                                              60, out, sizeof(out)),
	                 AGENT_E_PERMANENT);
	assert_non_null(strstr(out, "tls: server certificate not trusted"));
	assert_int_equal(agentclient_describe_failure(CURLE_OPERATION_TIMEDOUT, 0, 1, "",
	                                              "10.0.0.1", 8443, 60, out, sizeof(out)),
	                 AGENT_E_TRANSIENT);
	assert_string_equal(out, "timeout: agent 10.0.0.1:8443 gave no answer within 60 s");
	agentclient_describe_failure(CURLE_OPERATION_TIMEDOUT, 0, 0, "", "10.0.0.1", 8443, 60, out,
	                             sizeof(out));
	assert_string_equal(out, "connect 10.0.0.1:8443: timed out");
}

static void test_idempotency_key_is_stable_and_valid(void **state)
{
	char a[129], b[129], c[129];

	(void)state;
	release_idem_key("0123456789abcdef", 7, 42, a, sizeof(a));
	release_idem_key("0123456789abcdef", 7, 42, b, sizeof(b));
	release_idem_key("0123456789abcdef", 7, 43, c, sizeof(c));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_true(agentproto_valid_idem_key(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_int64),
	    cmocka_unit_test(test_json_too_deep),
	    cmocka_unit_test(test_status_names_round_trip),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_db_host_lists),
	    cmocka_unit_test(test_config_errors_name_the_variable),
	    cmocka_unit_test(test_config_unknown_names),
	    cmocka_unit_test(test_config_knows_every_setting_it_reads),
	    cmocka_unit_test(test_config_log_level_and_markdown),
	    cmocka_unit_test(test_migrate_split),
	    cmocka_unit_test(test_agent_failure_wording),
	    cmocka_unit_test(test_idempotency_key_is_stable_and_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
