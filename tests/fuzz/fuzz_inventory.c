/*
 * fuzz_inventory: libFuzzer harness for internal/inventory: any bytes as JSON, read both
 * as an import body and as ansible-inventory's JSON. Accepted nodes have a valid host
 * name, a canonical address given once, a port in range and a valid label set; a refusal
 * leaves nothing allocated and reports printable messages, at most 100, by index.
 */
#include <assert.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "inventory/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable, and not cut to fit its buffer. */
static void check_printable(const char *msg)
{
	assert(*msg && strlen(msg) + 1 < INVENTORY_ERR_MAX);
	for (; *msg; msg++)
		assert(*msg >= 0x20 && *msg <= 0x7e);
}

static void check_result(int rc, const struct inventory *inv, const struct inventory_report *r)
{
	char ip[46], err[LABELS_ERR_MAX];

	if (rc) {
		assert(rc == CMDB_EINVAL && !inv->nodes && inv->n == 0);
		check_printable(r->msg);
		assert(r->nerrors ==
		       (r->nbad < INVENTORY_ERRORS_MAX ? r->nbad : INVENTORY_ERRORS_MAX));
		for (size_t i = 0; i < r->nerrors; i++) {
			check_printable(r->errors[i].msg);
			assert(i == 0 || r->errors[i - 1].index < r->errors[i].index);
		}
		return;
	}
	for (size_t i = 0; i < inv->n; i++) {
		const struct inventory_node *n = &inv->nodes[i];

		assert(hostname_valid(n->hostname));
		assert(ip_canonical(n->ip, ip, sizeof(ip)) == 0 && strcmp(ip, n->ip) == 0);
		assert(n->agent_port >= 1 && n->agent_port <= 65535);
		assert(n->status >= -1 && n->status < NODE_HEALTH_COUNT);
		assert(n->labels.n <= LABELS_MAX);
		for (size_t k = 0; k < n->labels.n; k++)
			assert(labels_check_value(n->labels.items[k].key, n->labels.items[k].value,
			                          err, sizeof(err)) == 0 &&
			       labels_check_key(n->labels.items[k].key, err, sizeof(err)) == 0);
		for (size_t j = 0; j < i && inv->n < 300; j++)
			assert(strcmp(inv->nodes[j].ip, n->ip) ||
			       inv->nodes[j].agent_port != n->agent_port);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const vars[] = {"zone", "env", "rack"};
	struct inventory_ansible opt = {8443, vars, 3};
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report *r = malloc(sizeof(*r));
	cJSON *doc;

	assert(r);
	if (!json_too_deep((const char *)data, size, 16)) {
		doc = cJSON_ParseWithLength((const char *)data, size);
		check_result(inventory_parse_import(doc, &inv, r), &inv, r);
		assert(!doc || inv.n <= INVENTORY_NODES_MAX);
		inventory_free(&inv);
		check_result(inventory_from_ansible(doc, &opt, &inv, r), &inv, r);
		inventory_free(&inv);
		cJSON_Delete(doc);
	}
	free(r);
	return 0;
}
