/*
 * inventory: the nodes of an import, read from our import body ({"nodes": [...], "mode"})
 * or from the JSON of `ansible-inventory --list`, each checked by the node rules and the
 * label rules (labels.h), with an error per bad item. Pure: no I/O, no globals.
 */
#ifndef CMDB_INVENTORY_H
#define CMDB_INVENTORY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "labels/labels.h"

#define INVENTORY_NODES_MAX    10000 /* nodes of one import request */
#define INVENTORY_ERRORS_MAX   100   /* item errors a report keeps */
#define INVENTORY_ERR_MAX      512   /* one message, with its terminator */
#define INVENTORY_DEFAULT_PORT 8443  /* agent_port when not given, as POST /api/v1/nodes */

/* upsert: a known (ip, agent_port) is updated; create: it is refused. */
enum inventory_mode { INVENTORY_CREATE, INVENTORY_UPSERT };

struct inventory_node {
	char hostname[254]; /* RFC 1123 */
	char ip[46];        /* canonical IPv4 or IPv6 */
	int agent_port;
	int status;     /* enum node_health; -1 when not given (the store decides) */
	int has_labels; /* labels was given; 0: none given (the store decides) */
	struct labels labels;
};

/* The nodes of an import, in the order read; no (ip, agent_port) twice. */
struct inventory {
	struct inventory_node *nodes;
	size_t n;
	enum inventory_mode mode;
};

#define INVENTORY_INIT                                                                             \
	{                                                                                          \
		NULL, 0, INVENTORY_CREATE                                                          \
	}

struct inventory_item_error {
	size_t index; /* 0-based, in the request's "nodes" (Ansible: in the order of hosts read) */
	char msg[INVENTORY_ERR_MAX];
};

/*
 * Why a request was refused: either the request as a whole (msg; malformed when its JSON
 * has the wrong shape, the API's 400, rather than breaking a rule, its 422), or items:
 * nbad of them, the first INVENTORY_ERRORS_MAX in errors, by ascending index. About
 * 52 KB: allocate it rather than put it on a thread's stack.
 */
struct inventory_report {
	int malformed;
	char msg[INVENTORY_ERR_MAX];
	size_t nbad;
	size_t nerrors;
	struct inventory_item_error errors[INVENTORY_ERRORS_MAX];
};

void inventory_free(struct inventory *inv);

/*
 * Counts a bad item in r, as the readers do, and for a check made after them (the
 * store's: an address already registered). The report keeps the messages of the smallest
 * indexes, in index order; r->msg is the caller's to fill. Returns CMDB_EINVAL.
 */
int inventory_report_item(struct inventory_report *r, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Refuses every item at the address (ip, agent_port) of an earlier one, naming it ("ip
 * ... and agent_port ... are those of item 3 already"): the readers' last check, for
 * inventories joined from pieces read alone. 0, CMDB_EINVAL (r->nbad) or CMDB_ENOMEM.
 */
int inventory_check_addresses(const struct inventory *inv, struct inventory_report *r);

/*
 * POST /api/v1/nodes/import: {"nodes": [{"hostname", "ip", "agent_port"?, "status"?,
 * "labels"?}, ...], "mode"?: "create" (the default) | "upsert"}, 1 to
 * INVENTORY_NODES_MAX nodes, each by the rules of POST /api/v1/nodes plus labels. Every
 * item is checked, also after a bad one. 0 with out filled (inventory_free it);
 * CMDB_EINVAL with r filled and out empty; CMDB_ENOMEM.
 */
int inventory_parse_import(const cJSON *body, struct inventory *out, struct inventory_report *r);

/*
 * What inventory_from_ansible makes of hosts: the agent port of every node, and the host
 * variables that become labels of the same key (e.g. zone and env for --label-vars
 * zone,env): a string as it is, a whole number in decimal, a boolean as true or false.
 */
struct inventory_ansible {
	int agent_port;
	const char *const *label_vars;
	size_t nlabel_vars;
};

/*
 * The JSON of `ansible-inventory --list`: every host (in "hosts" of a group or in
 * _meta.hostvars) becomes a node named by its inventory name, at its ansible_host (an
 * IPv4 or IPv6 address), else at its name when that is an IPv4 address. Every group it
 * is in, directly or through "children" at any depth, becomes a label group/<name> with
 * an empty value, except all (every host is in it) and ungrouped (it means no group).
 * The host variables are read from _meta.hostvars, where ansible-inventory (without
 * --export) has already merged the group variables. The nodes have no status given and
 * has_labels set; mode is create. Returns as inventory_parse_import does, an item error
 * naming the host ("host \"web-1\": ..."); there is no limit on the number of hosts.
 */
int inventory_from_ansible(const cJSON *doc, const struct inventory_ansible *opt,
                           struct inventory *out, struct inventory_report *r);

#endif
