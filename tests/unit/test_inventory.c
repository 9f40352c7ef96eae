/*
 * Unit tests of inventory: the import body (every refusal, per item, the first 100 by
 * index) and Ansible's inventory JSON, from tests/fixtures/inventory/ansible.json, which
 * Debian's ansible-core made of ansible.ini beside it, and from hand-made documents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "inventory/inventory.h"

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define FIXTURE "tests/fixtures/inventory/ansible.json"

static cJSON *parse(const char *json)
{
	cJSON *doc = cJSON_Parse(json);

	if (!doc)
		fail_msg("not JSON: %s", json);
	return doc;
}

static int import(const char *json, struct inventory *inv, struct inventory_report *r)
{
	cJSON *doc = parse(json);
	int rc = inventory_parse_import(doc, inv, r);

	cJSON_Delete(doc);
	return rc;
}

static void expect_labels(const struct labels *ls, const char *want)
{
	cJSON *o = labels_to_json(ls);
	char *text = cJSON_PrintUnformatted(o);

	assert_string_equal(text, want);
	cJSON_free(text);
	cJSON_Delete(o);
}

static void test_import(void **state)
{
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;

	(void)state;
	assert_int_equal(import("{\"mode\": \"upsert\", \"nodes\": ["
	                        "{\"hostname\": \"web-1\", \"ip\": \"10.0.0.1\"},"
	                        "{\"hostname\": \"web-2\", \"ip\": \"::FFFF:10.0.0.2\","
	                        " \"agent_port\": 9443, \"status\": \"offline\","
	                        " \"labels\": {\"zone\": \"a\", \"env\": \"prod\"}},"
	                        "{\"hostname\": \"web-1\", \"ip\": \"10.0.0.1\", \"agent_port\": 1,"
	                        " \"labels\": {}}]}",
	                        &inv, &r),
	                 0);
	assert_int_equal(inv.mode, INVENTORY_UPSERT);
	assert_int_equal(inv.n, 3);
	assert_string_equal(inv.nodes[0].hostname, "web-1");
	assert_string_equal(inv.nodes[0].ip, "10.0.0.1");
	assert_int_equal(inv.nodes[0].agent_port, INVENTORY_DEFAULT_PORT);
	assert_int_equal(inv.nodes[0].status, -1);
	assert_int_equal(inv.nodes[0].has_labels, 0);
	assert_string_equal(inv.nodes[1].ip, "::ffff:10.0.0.2");
	assert_int_equal(inv.nodes[1].agent_port, 9443);
	assert_int_equal(inv.nodes[1].status, NODE_OFFLINE);
	assert_int_equal(inv.nodes[1].has_labels, 1);
	expect_labels(&inv.nodes[1].labels, "{\"env\":\"prod\",\"zone\":\"a\"}");
	assert_int_equal(inv.nodes[2].has_labels, 1);
	assert_int_equal(inv.nodes[2].labels.n, 0);
	inventory_free(&inv);
	assert_int_equal(
	    import("{\"nodes\": [{\"hostname\": \"a\", \"ip\": \"1.2.3.4\"}]}", &inv, &r), 0);
	assert_int_equal(inv.mode, INVENTORY_CREATE); /* the default */
	inventory_free(&inv);
}

/* Every bad item is named by index with its reason; nothing is kept. */
static void test_import_items(void **state)
{
	static const struct {
		const char *item, *msg;
	} cases[] = {
	    {"[]", "must be a JSON object"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.1\", \"role\": \"web\"}",
	     "unknown or repeated field \"role\""},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.2\", \"ip\": \"1.1.1.3\"}",
	     "unknown or repeated field \"ip\""},
	    {"{\"ip\": \"1.1.1.4\"}", "hostname is required"},
	    {"{\"hostname\": 5, \"ip\": \"1.1.1.5\"}", "hostname must be a string"},
	    {"{\"hostname\": \"web_1\", \"ip\": \"1.1.1.6\"}",
	     "hostname \"web_1\" is not an RFC 1123 host name"},
	    {"{\"hostname\": \"a\"}", "ip is required"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1\"}",
	     "ip \"1.1.1\" is not an IPv4 or IPv6 address"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.7\", \"agent_port\": 0}",
	     "agent_port must be an integer from 1 to 65535"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.8\", \"agent_port\": 65536}",
	     "agent_port must be an integer from 1 to 65535"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.9\", \"agent_port\": 80.5}",
	     "agent_port must be an integer from 1 to 65535"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.10\", \"agent_port\": \"80\"}",
	     "agent_port must be an integer from 1 to 65535"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.11\", \"status\": \"up\"}",
	     "status must be \"online\" or \"offline\""},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.12\", \"labels\": {\"zone\": \"a b\"}}",
	     "label \"zone\": value \"a b\" must be empty, or must start and end with a letter or"
	     " digit, with only letters, digits, '-', '_' and '.' between"},
	    {"{\"hostname\": \"a\", \"ip\": \"1.1.1.13\", \"labels\": [\"zone\"]}",
	     "labels must be a JSON object of string to string"},
	    {"{\"hostname\": \"b\", \"ip\": \"10.0.0.1\", \"agent_port\": 8443}",
	     "ip 10.0.0.1 and agent_port 8443 are those of item 0 already"},
	};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;
	char body[8192];
	size_t at = 0;

	(void)state;
	at += (size_t)snprintf(body, sizeof(body),
	                       "{\"nodes\": [{\"hostname\": \"a\", \"ip\": \"10.0.0.1\"}");
	for (size_t i = 0; i < N(cases); i++)
		at += (size_t)snprintf(body + at, sizeof(body) - at, ", %s", cases[i].item);
	snprintf(body + at, sizeof(body) - at, "]}");
	assert_int_equal(import(body, &inv, &r), CMDB_EINVAL);
	assert_null(inv.nodes);
	assert_int_equal(inv.n, 0);
	assert_int_equal(r.malformed, 0);
	assert_int_equal(r.nbad, N(cases));
	assert_int_equal(r.nerrors, N(cases));
	snprintf(body, sizeof(body), "%zu of %zu nodes are invalid", N(cases), N(cases) + 1);
	assert_string_equal(r.msg, body);
	for (size_t i = 0; i < N(cases); i++) {
		assert_int_equal(r.errors[i].index, i + 1);
		assert_string_equal(r.errors[i].msg, cases[i].msg);
	}
}

/* More than 100 bad items: the report keeps the 100 of the smallest indexes. */
static void test_import_first_100(void **state)
{
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;
	char *body = malloc(20000);
	size_t at = 0;

	(void)state;
	assert_non_null(body);
	/* Items 0..120 share one address (found last); 121..149 have a bad name (first). */
	at += (size_t)snprintf(body, 20000, "{\"nodes\": [");
	for (int i = 0; i < 150; i++)
		at += (size_t)snprintf(body + at, 20000 - at,
		                       "%s{\"hostname\": \"%s\", \"ip\": \"10.0.0.%d\"}",
		                       i ? "," : "", i <= 120 ? "h" : "-h", i <= 120 ? 1 : i);
	snprintf(body + at, 20000 - at, "]}");
	assert_int_equal(import(body, &inv, &r), CMDB_EINVAL);
	assert_int_equal(r.nbad, 149);
	assert_int_equal(r.nerrors, INVENTORY_ERRORS_MAX);
	for (size_t i = 0; i < INVENTORY_ERRORS_MAX; i++) {
		assert_int_equal(r.errors[i].index, i + 1);
		assert_string_equal(r.errors[i].msg,
		                    "ip 10.0.0.1 and agent_port 8443 are those of item 0 already");
	}
	assert_string_equal(r.msg, "149 of 150 nodes are invalid");
	free(body);
}

static void test_import_request(void **state)
{
	static const struct {
		const char *body;
		int malformed;
		const char *msg;
	} cases[] = {
	    {"[]", 1, "the body must be a JSON object"},
	    {"{\"nodes\": [], \"force\": true}", 1, "unknown field \"force\""},
	    {"{\"nodes\": [], \"mode\": 1}", 1, "mode must be a string"},
	    {"{\"nodes\": [], \"mode\": \"replace\"}", 0, "mode must be \"create\" or \"upsert\""},
	    {"{\"mode\": \"create\"}", 0, "nodes is required: an array of 1 to 10000 nodes"},
	    {"{\"nodes\": {}}", 1, "nodes must be an array"},
	    {"{\"nodes\": []}", 0, "nodes must hold 1 to 10000 nodes"},
	};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;
	char *big = malloc(INVENTORY_NODES_MAX * 3 + 32);
	size_t at = 0;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		assert_int_equal(import(cases[i].body, &inv, &r), CMDB_EINVAL);
		assert_int_equal(r.malformed, cases[i].malformed);
		assert_string_equal(r.msg, cases[i].msg);
		assert_int_equal(r.nbad, 0);
		assert_null(inv.nodes);
	}
	assert_non_null(big);
	at += (size_t)snprintf(big, 16, "{\"nodes\": [");
	for (int i = 0; i <= INVENTORY_NODES_MAX; i++)
		at += (size_t)snprintf(big + at, 4, "%s{}", i ? "," : "");
	memcpy(big + at, "]}", 3);
	assert_int_equal(import(big, &inv, &r), CMDB_EINVAL);
	assert_string_equal(r.msg, "nodes must hold 1 to 10000 nodes");
	free(big);
}

static char *read_fixture(void)
{
	FILE *f = fopen(FIXTURE, "r");
	char *text = malloc(65536);
	size_t n;

	if (!f)
		fail_msg("%s: run the tests from the top of the tree", FIXTURE);
	assert_non_null(text);
	n = fread(text, 1, 65535, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static int from_ansible(const char *json, const struct inventory_ansible *opt,
                        struct inventory *inv, struct inventory_report *r)
{
	cJSON *doc = parse(json);
	int rc = inventory_from_ansible(doc, opt, inv, r);

	cJSON_Delete(doc);
	return rc;
}

/* The real output of ansible-inventory: nested groups become labels, variables too. */
static void test_ansible_fixture(void **state)
{
	static const char *const vars[] = {"zone", "env", "rack", "enabled"};
	static const struct {
		const char *hostname, *ip, *labels;
	} want[] = {
	    {"web-a1.example.com", "10.1.0.11",
	     "{\"env\":\"prod\",\"group/canary\":\"\",\"group/frontend\":\"\",\"group/prod\":\"\","
	     "\"group/webservers\":\"\",\"zone\":\"a\"}"},
	    {"db-b1.example.com", "10.2.0.21",
	     "{\"env\":\"prod\",\"group/backend\":\"\",\"group/dbservers\":\"\",\"group/"
	     "prod\":\"\","
	     "\"zone\":\"b\"}"},
	    {"10.3.0.21", "10.3.0.21",
	     "{\"env\":\"prod\",\"group/backend\":\"\",\"group/dbservers\":\"\",\"group/"
	     "prod\":\"\","
	     "\"zone\":\"c\"}"},
	    {"stage-1.example.com", "192.168.50.1",
	     "{\"enabled\":\"true\",\"env\":\"staging\",\"group/staging\":\"\",\"rack\":\"12\"}"},
	    {"lonely.example.com", "10.9.0.1", "{}"},
	    {"web-a2.example.com", "10.1.0.12",
	     "{\"env\":\"prod\",\"group/frontend\":\"\",\"group/prod\":\"\","
	     "\"group/webservers\":\"\",\"zone\":\"a\"}"},
	    {"web-b1.example.com", "10.2.0.11",
	     "{\"env\":\"prod\",\"group/frontend\":\"\",\"group/prod\":\"\","
	     "\"group/webservers\":\"\",\"zone\":\"b\"}"},
	};
	struct inventory_ansible opt = {9443, vars, N(vars)};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;
	char *text = read_fixture();

	(void)state;
	if (from_ansible(text, &opt, &inv, &r))
		fail_msg("%s; first: %s", r.msg, r.nerrors ? r.errors[0].msg : "");
	assert_int_equal(inv.n, N(want));
	for (size_t i = 0; i < N(want); i++) {
		assert_string_equal(inv.nodes[i].hostname, want[i].hostname);
		assert_string_equal(inv.nodes[i].ip, want[i].ip);
		assert_int_equal(inv.nodes[i].agent_port, 9443);
		assert_int_equal(inv.nodes[i].status, -1);
		assert_int_equal(inv.nodes[i].has_labels, 1);
		expect_labels(&inv.nodes[i].labels, want[i].labels);
	}
	inventory_free(&inv);
	free(text);
}

/* Hand-made documents: a cycle of children ends; hosts only in hostvars count. */
static void test_ansible_shapes(void **state)
{
	struct inventory_ansible opt = {8443, NULL, 0};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;

	(void)state;
	assert_int_equal(from_ansible("{\"a\": {\"hosts\": [\"10.0.0.1\"], \"children\": [\"b\"]},"
	                              " \"b\": {\"children\": [\"a\", \"gone\"]},"
	                              " \"_meta\": {\"hostvars\": {\"10.0.0.2\": {}}}}",
	                              &opt, &inv, &r),
	                 0);
	assert_int_equal(inv.n, 2);
	expect_labels(&inv.nodes[0].labels, "{\"group/a\":\"\",\"group/b\":\"\"}");
	assert_string_equal(inv.nodes[1].hostname, "10.0.0.2");
	assert_int_equal(inv.nodes[1].labels.n, 0);
	inventory_free(&inv);
	assert_int_equal(from_ansible("{}", &opt, &inv, &r), 0);
	assert_int_equal(inv.n, 0);
	inventory_free(&inv);
}

static void test_ansible_hosts_refused(void **state)
{
	static const char *const vars[] = {"zone", "meta"};
	static const char *const want[] = {
	    "host \"web-3\": group \"_private\" cannot be a label: label key \"group/_private\":"
	    " the name must start and end with a letter or digit, with only letters, digits, '-',"
	    " '_' and '.' between",
	    "host \"db-1\": ansible_host \"db.example.com\" is not an IPv4 or IPv6 address",
	    "host \"db-2\": ansible_host must be a string",
	    "host \"web_1\": the name is not an RFC 1123 host name",
	    "host \"web-2\": no ansible_host, and the name is not an IPv4 address",
	    "host \"web-4\": variable meta must be a string, a whole number or a boolean to be a"
	    " label",
	    "host \"web-5\": label \"zone\": value \"a b\" must be empty, or must start and end"
	    " with a letter or digit, with only letters, digits, '-', '_' and '.' between",
	    "host \"web-6\": ip 10.0.0.1 and agent_port 8443 are those of host \"web-0\" already",
	    "host \"web-7\": its hostvars must be an object",
	};
	struct inventory_ansible opt = {8443, vars, N(vars)};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;

	(void)state;
	assert_int_equal(
	    from_ansible("{\"_meta\": {\"hostvars\": {"
	                 "\"web-0\": {\"ansible_host\": \"10.0.0.1\"},"
	                 "\"db-1\": {\"ansible_host\": \"db.example.com\"},"
	                 "\"db-2\": {\"ansible_host\": 10},"
	                 "\"web_1\": {\"ansible_host\": \"10.0.0.9\"},"
	                 "\"web-2\": {},"
	                 "\"web-3\": {\"ansible_host\": \"10.0.0.3\"},"
	                 "\"web-4\": {\"ansible_host\": \"10.0.0.4\", \"meta\": {\"a\": 1}},"
	                 "\"web-5\": {\"ansible_host\": \"10.0.0.5\", \"zone\": \"a b\"},"
	                 "\"web-6\": {\"ansible_host\": \"10.0.0.1\"},"
	                 "\"web-7\": [1]}},"
	                 " \"_private\": {\"hosts\": [\"web-3\"]}}",
	                 &opt, &inv, &r),
	    CMDB_EINVAL);
	assert_null(inv.nodes);
	assert_string_equal(r.msg, "9 of 10 hosts are invalid");
	assert_int_equal(r.nerrors, N(want));
	for (size_t i = 0; i < N(want); i++)
		assert_string_equal(r.errors[i].msg, want[i]);
	/* web-3 was seen first in _private's hosts: index 0; web-0 is 1. */
	assert_int_equal(r.errors[0].index, 0);
	assert_int_equal(r.errors[1].index, 2);
}

static void test_ansible_refused(void **state)
{
	static const char *const bad_var[] = {"Zone-"};
	static const struct {
		const char *doc;
		const char *msg;
	} cases[] = {
	    {"[]", "not the JSON of ansible-inventory --list: not an object"},
	    {"{\"web\": []}",
	     "not the JSON of ansible-inventory --list: group \"web\" is not an object"},
	    {"{\"web\": {\"hosts\": \"a\"}}",
	     "not the JSON of ansible-inventory --list: group \"web\" has hosts or children that"
	     " are not lists of names"},
	    {"{\"web\": {\"children\": [1]}}",
	     "not the JSON of ansible-inventory --list: group \"web\" has hosts or children that"
	     " are not lists of names"},
	    {"{\"_meta\": []}",
	     "not the JSON of ansible-inventory --list: _meta and its hostvars must be objects"},
	    {"{\"web\": {}, \"web\": {}}",
	     "not the JSON of ansible-inventory --list: group \"web\" is given twice"},
	};
	struct inventory_ansible opt = {8443, NULL, 0};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report r;
	char doc[64 * 40 + 64];
	size_t at = 0;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		assert_int_equal(from_ansible(cases[i].doc, &opt, &inv, &r), CMDB_EINVAL);
		assert_int_equal(r.malformed, 1);
		assert_string_equal(r.msg, cases[i].msg);
	}
	opt.agent_port = 0;
	assert_int_equal(from_ansible("{}", &opt, &inv, &r), CMDB_EINVAL);
	assert_string_equal(r.msg, "the agent port must be from 1 to 65535");
	opt = (struct inventory_ansible){8443, bad_var, 1};
	assert_int_equal(from_ansible("{}", &opt, &inv, &r), CMDB_EINVAL);
	assert_string_equal(r.msg, "label variables: label key \"Zone-\": the name must start and"
	                           " end with a letter or digit, with only letters, digits, '-',"
	                           " '_' and '.' between");
	/* A host in 65 groups has too many labels. */
	opt = (struct inventory_ansible){8443, NULL, 0};
	at += (size_t)snprintf(doc, sizeof(doc), "{");
	for (int g = 0; g <= LABELS_MAX; g++)
		at += (size_t)snprintf(doc + at, sizeof(doc) - at,
		                       "%s\"g%d\": {\"hosts\": [\"10.0.0.1\"]}", g ? "," : "", g);
	snprintf(doc + at, sizeof(doc) - at, "}");
	assert_int_equal(from_ansible(doc, &opt, &inv, &r), CMDB_EINVAL);
	assert_int_equal(r.nbad, 1);
	assert_non_null(strstr(r.errors[0].msg, "a node has at most 64 labels"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_import),
	    cmocka_unit_test(test_import_items),
	    cmocka_unit_test(test_import_first_100),
	    cmocka_unit_test(test_import_request),
	    cmocka_unit_test(test_ansible_fixture),
	    cmocka_unit_test(test_ansible_shapes),
	    cmocka_unit_test(test_ansible_hosts_refused),
	    cmocka_unit_test(test_ansible_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
