/*
 * Unit tests of the pure half of `cmdb import` (internal/import): its arguments, a file in
 * either format (ours cut into pieces of 10,000 as the API reads it, every piece checked,
 * an address of two pieces refused), the request bodies and the answers.
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
#include "core/strbuf.h"
#include "import/import.h"

#define FIXTURE "tests/fixtures/inventory/ansible.json"

static int args(struct import_args *a, const char *line, char *err, size_t errlen)
{
	static char buf[512]; /* a->file points into argv: it must outlive the call */
	char *argv[16];
	int argc = 0;

	str_copy(buf, line, sizeof(buf));
	for (char *save = NULL, *p = strtok_r(buf, " ", &save); p && argc < 16;
	     p = strtok_r(NULL, " ", &save))
		argv[argc++] = p;
	return import_parse_args(argc, argv, a, err, errlen);
}

static void test_args(void **state)
{
	struct import_args a;
	char err[256];

	(void)state;
	assert_int_equal(args(&a, "inv.json", err, sizeof(err)), 0);
	assert_string_equal(a.file, "inv.json");
	assert_int_equal(a.agent_port, INVENTORY_DEFAULT_PORT);
	assert_int_equal(a.mode, -1);
	assert_int_equal(a.nlabel_vars, 0);
	assert_int_equal(
	    args(&a, "--port 9443 --label-vars zone,env --mode upsert f", err, sizeof(err)), 0);
	assert_int_equal(a.agent_port, 9443);
	assert_int_equal(a.nlabel_vars, 2);
	assert_string_equal(a.label_vars[0], "zone");
	assert_string_equal(a.label_vars[1], "env");
	assert_int_equal(a.mode, INVENTORY_UPSERT);
	assert_string_equal(a.file, "f");
	assert_int_equal(args(&a, "", err, sizeof(err)), -1);
	assert_string_equal(err, "which file? cmdb import [options] FILE");
	assert_int_equal(args(&a, "--port 0 f", err, sizeof(err)), -1);
	assert_int_equal(args(&a, "--port", err, sizeof(err)), -1);
	assert_int_equal(args(&a, "--mode merge f", err, sizeof(err)), -1);
	assert_string_equal(err, "--mode must be create or upsert");
	assert_int_equal(args(&a, "--colour f", err, sizeof(err)), -1);
	assert_int_equal(args(&a, "a b", err, sizeof(err)), -1);
}

/* Our format with n nodes, node k at 10.<k/62500>.<k/250%250>.<k%250+1>, one label. */
static char *ours(size_t n, const char *mode, long dup_of, size_t dup_at)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "{\"mode\":\"%s\",\"nodes\":[", mode);
	for (size_t k = 0; k < n; k++) {
		size_t at = dup_of >= 0 && k == dup_at ? (size_t)dup_of : k;

		strbuf_addf(&sb,
		            "%s{\"hostname\":\"n-%zu\",\"ip\":\"10.%zu.%zu.%zu\",\"labels\":{\"k\":"
		            "\"v%zu\"}}",
		            k ? "," : "", k, at / 62500, at / 250 % 250, at % 250 + 1, k % 3);
	}
	strbuf_adds(&sb, "]}");
	assert_false(sb.failed);
	return sb.buf;
}

static void test_read_ours_in_pieces(void **state)
{
	struct inventory_report *r = calloc(1, sizeof(*r));
	struct import_args a;
	struct inventory inv;
	char err[64], *text;
	int ansible = 1;

	(void)state;
	assert_int_equal(args(&a, "--mode upsert f", err, sizeof(err)), 0);
	/* 25,000 nodes: three pieces read as the API reads them, one inventory in order. */
	text = ours(25000, "create", -1, 0);
	assert_int_equal(import_read(text, strlen(text), &a, &inv, &ansible, r), 0);
	assert_int_equal(ansible, 0);
	assert_int_equal(inv.n, 25000);
	assert_int_equal(inv.mode, INVENTORY_UPSERT); /* --mode over the file's */
	assert_string_equal(inv.nodes[24999].hostname, "n-24999");
	assert_string_equal(inv.nodes[24999].ip, "10.0.99.250");
	assert_string_equal(labels_get(&inv.nodes[10000].labels, "k"), "v1");
	inventory_free(&inv);
	free(text);
	/* An address of piece 1 again in piece 3: refused at its index in the file. */
	text = ours(25000, "create", 17, 21000);
	assert_int_equal(import_read(text, strlen(text), &a, &inv, &ansible, r), CMDB_EINVAL);
	assert_int_equal(r->nbad, 1);
	assert_int_equal(r->errors[0].index, 21000);
	assert_string_equal(r->errors[0].msg,
	                    "ip 10.0.0.18 and agent_port 8443 are those of item 17 already");
	assert_string_equal(r->msg, "1 of 25000 nodes are invalid");
	assert_int_equal(inv.n, 0);
	free(text);
	free(r);
}

static void test_read_bad_items_by_file_index(void **state)
{
	struct inventory_report *r = calloc(1, sizeof(*r));
	struct import_args a;
	struct inventory inv;
	char err[64], *text;
	int ansible;

	(void)state;
	assert_int_equal(args(&a, "f", err, sizeof(err)), 0);
	text = ours(12000, "create", -1, 0);
	/* Break item 3 (piece 1) and item 11000 (piece 2): "n-" names become "-n". */
	memcpy(strstr(text, "\"n-3\"") + 1, "-n", 2);
	memcpy(strstr(text, "\"n-11000\"") + 1, "-n", 2);
	assert_int_equal(import_read(text, strlen(text), &a, &inv, &ansible, r), CMDB_EINVAL);
	assert_int_equal(r->nbad, 2);
	assert_int_equal(r->errors[0].index, 3);
	assert_int_equal(r->errors[1].index, 11000);
	assert_string_equal(r->msg, "2 of 12000 nodes are invalid");
	free(text);
	/* A request-level refusal of a piece is the file's. */
	text = ours(12000, "merge", -1, 0);
	assert_int_equal(import_read(text, strlen(text), &a, &inv, &ansible, r), CMDB_EINVAL);
	assert_int_equal(r->nbad, 0);
	assert_string_equal(r->msg, "mode must be \"create\" or \"upsert\"");
	free(text);
	assert_int_equal(import_read("{\"nodes\":[],\"x\":1}", 18, &a, &inv, &ansible, r),
	                 CMDB_EINVAL);
	assert_int_equal(r->malformed, 1);
	assert_int_equal(import_read("nope", 4, &a, &inv, &ansible, r), CMDB_EINVAL);
	assert_string_equal(r->msg, "the file is not JSON");
	free(r);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 1 << 20);

	assert_non_null(f);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	return buf;
}

static void test_read_ansible_and_bodies(void **state)
{
	struct inventory_report *r = calloc(1, sizeof(*r));
	struct import_args a;
	struct inventory inv, back;
	char err[64], *text, *body;
	int ansible = 0;
	size_t len;
	cJSON *doc;

	(void)state;
	assert_int_equal(args(&a, "--port 9999 --label-vars zone f", err, sizeof(err)), 0);
	text = slurp(FIXTURE, &len);
	assert_int_equal(import_read(text, len, &a, &inv, &ansible, r), 0);
	assert_int_equal(ansible, 1);
	assert_int_equal(inv.n, 7);
	assert_int_equal(inv.mode, INVENTORY_CREATE);
	assert_int_equal(inv.nodes[0].agent_port, 9999);
	/* A body of nodes [2, 5) as the API takes it: read back, the same nodes. */
	body = import_body(&inv, 2, 3, INVENTORY_UPSERT);
	assert_non_null(body);
	doc = cJSON_Parse(body);
	assert_int_equal(inventory_parse_import(doc, &back, r), 0);
	assert_int_equal(back.n, 3);
	assert_int_equal(back.mode, INVENTORY_UPSERT);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(back.nodes[i].hostname, inv.nodes[2 + i].hostname);
		assert_string_equal(back.nodes[i].ip, inv.nodes[2 + i].ip);
		assert_int_equal(back.nodes[i].agent_port, 9999);
		assert_true(labels_equal(&back.nodes[i].labels, &inv.nodes[2 + i].labels));
	}
	cJSON_Delete(doc);
	inventory_free(&back);
	free(body);
	inventory_free(&inv);
	free(text);
	free(r);
}

static void test_answers(void **state)
{
	struct import_answer ans;
	char err[128];

	(void)state;
	assert_int_equal(
	    import_parse_answer("{\"import_id\":3,\"created\":1,\"updated\":1,\"unchanged\":1,"
	                        "\"ids\":[7,8,9],\"changes\":[\"created\",\"updated\","
	                        "\"unchanged\"]}",
	                        3, &ans, err, sizeof(err)),
	    0);
	assert_int_equal(ans.n, 3);
	assert_int_equal(ans.ids[1], 8);
	assert_memory_equal(ans.changes, "cun", 3);
	assert_int_equal(ans.created + ans.updated + ans.unchanged, 3);
	import_answer_free(&ans);
	/* Fewer items than sent, an unknown change, a bad id, no JSON: refused. */
	assert_int_equal(import_parse_answer("{\"ids\":[7],\"changes\":[\"created\"]}", 2, &ans,
	                                     err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "the API's answer does not list the 2 nodes it was sent");
	assert_int_equal(
	    import_parse_answer("{\"ids\":[7],\"changes\":[\"moved\"]}", 1, &ans, err, sizeof(err)),
	    -1);
	assert_int_equal(import_parse_answer("{\"ids\":[0],\"changes\":[\"created\"]}", 1, &ans,
	                                     err, sizeof(err)),
	                 -1);
	assert_int_equal(import_parse_answer("<html>", 1, &ans, err, sizeof(err)), -1);
	assert_null(ans.ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_args),
	    cmocka_unit_test(test_read_ours_in_pieces),
	    cmocka_unit_test(test_read_bad_items_by_file_index),
	    cmocka_unit_test(test_read_ansible_and_bodies),
	    cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
