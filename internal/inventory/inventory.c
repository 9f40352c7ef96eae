/*
 * inventory: the import body item by item, and what both readers share: the report,
 * which keeps the errors of the smallest indexes, and the check that no address is there
 * twice. Ansible's JSON is read in ansible.c.
 */
#include "inventory/inventory.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "inventory/inventory_internal.h"

int inventory_request_fail(struct inventory_report *r, int malformed, const char *fmt, ...)
{
	va_list ap;

	r->malformed = malformed;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return CMDB_EINVAL;
}

static int cmp_error(const void *a, const void *b)
{
	const struct inventory_item_error *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

int inventory_report_item(struct inventory_report *r, size_t index, const char *fmt, ...)
{
	size_t slot = r->nerrors;
	va_list ap;

	r->nbad++;
	if (slot == INVENTORY_ERRORS_MAX) {
		/* Full: the new one takes the place of the largest index, if it is smaller. */
		slot = 0;
		for (size_t i = 1; i < INVENTORY_ERRORS_MAX; i++)
			if (r->errors[i].index > r->errors[slot].index)
				slot = i;
		if (r->errors[slot].index < index)
			return CMDB_EINVAL;
	} else {
		r->nerrors++;
	}
	r->errors[slot].index = index;
	va_start(ap, fmt);
	vsnprintf(r->errors[slot].msg, sizeof(r->errors[slot].msg), fmt, ap);
	va_end(ap);
	qsort(r->errors, r->nerrors, sizeof(r->errors[0]), cmp_error);
	return CMDB_EINVAL;
}

void inventory_free(struct inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++)
		labels_free(&inv->nodes[i].labels);
	free(inv->nodes);
	inv->nodes = NULL;
	inv->n = 0;
}

struct address {
	const char *ip;
	int port;
	size_t index;
};

static int cmp_address(const void *a, const void *b)
{
	const struct address *x = a, *y = b;
	int c = strcmp(x->ip, y->ip);

	if (c == 0)
		c = (x->port > y->port) - (x->port < y->port);
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Later items at the address of an earlier one are refused, naming the first. */
static int check_addresses(const struct inventory *inv, const int *bad, int ansible,
                           struct inventory_report *r)
{
	struct address *a = calloc(inv->n ? inv->n : 1, sizeof(*a));
	size_t n = 0, first;

	if (!a)
		return CMDB_ENOMEM;
	for (size_t i = 0; i < inv->n; i++)
		if (!bad || !bad[i])
			a[n++] = (struct address){inv->nodes[i].ip, inv->nodes[i].agent_port, i};
	qsort(a, n, sizeof(*a), cmp_address);
	first = a[0].index; /* of the run of one address: sorted by index within it */
	for (size_t i = 1; i < n; i++) {
		const struct inventory_node *x = &inv->nodes[a[i].index];
		char h1[LABELS_SHOWN_MAX + 4], h2[LABELS_SHOWN_MAX + 4];

		if (strcmp(a[i].ip, a[i - 1].ip) || a[i].port != a[i - 1].port) {
			first = a[i].index;
			continue;
		}
		if (!ansible) {
			inventory_report_item(r, a[i].index,
			                    "ip %s and agent_port %d are those of item %zu already",
			                    x->ip, x->agent_port, first);
			continue;
		}
		labels_shown(x->hostname, sizeof(x->hostname), h1, sizeof(h1));
		labels_shown(inv->nodes[first].hostname, sizeof(x->hostname), h2, sizeof(h2));
		inventory_report_item(r, a[i].index,
		                    "host \"%s\": ip %s and agent_port %d are those of host \"%s\""
		                    " already",
		                    h1, x->ip, x->agent_port, h2);
	}
	free(a);
	return 0;
}

int inventory_check_addresses(const struct inventory *inv, struct inventory_report *r)
{
	int rc = inv->n ? check_addresses(inv, NULL, 0, r) : 0;

	return rc ? rc : r->nbad ? CMDB_EINVAL : 0;
}

int inventory_finish(struct inventory *inv, const int *bad, int ansible, struct inventory_report *r)
{
	int rc = check_addresses(inv, bad, ansible, r);

	qsort(r->errors, r->nerrors, sizeof(r->errors[0]), cmp_error);
	if (rc == 0 && r->nbad)
		rc = inventory_request_fail(r, 0, "%zu of %zu %s invalid", r->nbad, inv->n,
		                            ansible ? "hosts are" : "nodes are");
	if (rc)
		inventory_free(inv);
	return rc;
}

/* The item's member name, or NULL when it is one of ours and given once. */
static const char *odd_member(const cJSON *item)
{
	static const char *const fields[] = {"hostname", "ip", "agent_port", "status", "labels"};

	for (const cJSON *m = item->child; m; m = m->next) {
		size_t f = 0;

		while (f < sizeof(fields) / sizeof(fields[0]) && strcmp(fields[f], m->string))
			f++;
		if (f == sizeof(fields) / sizeof(fields[0]))
			return m->string;
		for (const cJSON *o = item->child; o != m; o = o->next)
			if (strcmp(o->string, m->string) == 0)
				return m->string;
	}
	return NULL;
}

/* A member that must be a string: 1 absent, 0 present, -1 of another type. */
static int get_string(const cJSON *item, const char *name, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);

	if (!v)
		return 1;
	if (!cJSON_IsString(v))
		return -1;
	*out = v->valuestring;
	return 0;
}

/* The optional members: agent_port, status, labels. */
static int read_options(const cJSON *item, size_t i, struct inventory_node *n,
                        struct inventory_report *r)
{
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(item, "agent_port");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(item, "labels");
	char err[LABELS_ERR_MAX];
	const char *status;
	int rc;

	n->agent_port = INVENTORY_DEFAULT_PORT;
	if (port) {
		double d = cJSON_IsNumber(port) ? port->valuedouble : 0;

		if (!isfinite(d) || d != floor(d) || d < 1 || d > 65535)
			return inventory_report_item(r, i,
			                           "agent_port must be an integer from 1 to 65535");
		n->agent_port = (int)d;
	}
	n->status = -1;
	if ((rc = get_string(item, "status", &status)) < 0 ||
	    (rc == 0 && (n->status = node_health_parse(status)) < 0))
		return inventory_report_item(r, i, "status must be \"online\" or \"offline\"");
	n->has_labels = labels != NULL;
	if (labels && (rc = labels_from_json(labels, &n->labels, err, sizeof(err))))
		return rc == CMDB_ENOMEM ? rc : inventory_report_item(r, i, "%s", err);
	return 0;
}

/* One item of "nodes", by the rules of POST /api/v1/nodes, and labels. */
static int read_item(const cJSON *item, size_t i, struct inventory_node *n,
                     struct inventory_report *r)
{
	const char *hostname = NULL, *ip = NULL, *odd;
	char shown[LABELS_SHOWN_MAX + 4];
	int rc;

	if (!cJSON_IsObject(item))
		return inventory_report_item(r, i, "must be a JSON object");
	if ((odd = odd_member(item))) {
		labels_shown(odd, strlen(odd), shown, sizeof(shown));
		return inventory_report_item(r, i, "unknown or repeated field \"%s\"", shown);
	}
	rc = get_string(item, "hostname", &hostname);
	if (rc)
		return inventory_report_item(r, i, "hostname %s",
		                           rc > 0 ? "is required" : "must be a string");
	if (!hostname_valid(hostname)) {
		labels_shown(hostname, strlen(hostname), shown, sizeof(shown));
		return inventory_report_item(r, i, "hostname \"%s\" is not an RFC 1123 host name",
		                           shown);
	}
	str_copy(n->hostname, hostname, sizeof(n->hostname));
	rc = get_string(item, "ip", &ip);
	if (rc)
		return inventory_report_item(r, i, "ip %s",
		                           rc > 0 ? "is required" : "must be a string");
	if (ip_canonical(ip, n->ip, sizeof(n->ip))) {
		labels_shown(ip, strlen(ip), shown, sizeof(shown));
		return inventory_report_item(r, i, "ip \"%s\" is not an IPv4 or IPv6 address", shown);
	}
	return read_options(item, i, n, r);
}

/* "mode": absent (create), "create" or "upsert". */
static int read_mode(const cJSON *body, enum inventory_mode *mode, struct inventory_report *r)
{
	const char *s;
	int rc = get_string(body, "mode", &s);

	*mode = INVENTORY_CREATE;
	if (rc < 0)
		return inventory_request_fail(r, 1, "mode must be a string");
	if (rc == 0 && strcmp(s, "upsert") == 0)
		*mode = INVENTORY_UPSERT;
	else if (rc == 0 && strcmp(s, "create") != 0)
		return inventory_request_fail(r, 0, "mode must be \"create\" or \"upsert\"");
	return 0;
}

int inventory_parse_import(const cJSON *body, struct inventory *out, struct inventory_report *r)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(body, "nodes"), *item;
	int *bad = NULL, rc;
	size_t count = 0;

	memset(r, 0, sizeof(*r));
	*out = (struct inventory)INVENTORY_INIT;
	if (!cJSON_IsObject(body))
		return inventory_request_fail(r, 1, "the body must be a JSON object");
	for (const cJSON *m = body->child; m; m = m->next) {
		char name[LABELS_SHOWN_MAX + 4];

		if (strcmp(m->string, "nodes") && strcmp(m->string, "mode")) {
			labels_shown(m->string, strlen(m->string), name, sizeof(name));
			return inventory_request_fail(r, 1, "unknown field \"%s\"", name);
		}
	}
	if ((rc = read_mode(body, &out->mode, r)))
		return rc;
	if (!nodes)
		return inventory_request_fail(r, 0, "nodes is required: an array of 1 to %d nodes",
		                              INVENTORY_NODES_MAX);
	if (!cJSON_IsArray(nodes))
		return inventory_request_fail(r, 1, "nodes must be an array");
	for (item = nodes->child; item && count <= INVENTORY_NODES_MAX; item = item->next)
		count++;
	if (count == 0 || count > INVENTORY_NODES_MAX)
		return inventory_request_fail(r, 0, "nodes must hold 1 to %d nodes",
		                              INVENTORY_NODES_MAX);
	out->nodes = calloc(count, sizeof(*out->nodes));
	bad = calloc(count, sizeof(*bad));
	if (!out->nodes || !bad) {
		free(bad);
		free(out->nodes);
		out->nodes = NULL;
		return CMDB_ENOMEM;
	}
	out->n = count;
	item = nodes->child;
	for (size_t i = 0; i < count; i++, item = item->next) {
		rc = read_item(item, i, &out->nodes[i], r);
		if (rc == CMDB_ENOMEM)
			break;
		bad[i] = rc != 0;
	}
	rc = rc == CMDB_ENOMEM ? rc : inventory_finish(out, bad, 0, r);
	if (rc == CMDB_ENOMEM)
		inventory_free(out);
	free(bad);
	return rc;
}
