/*
 * ansible: the JSON of `ansible-inventory --list` as nodes. Hosts and groups are found by
 * name in sorted arrays; the groups of a host are those on a walk up the parent edges
 * (children reversed) from each group that lists it, each group visited once per host,
 * so a cycle in a hand-made file ends too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/strbuf.h"
#include "inventory/inventory.h"
#include "inventory/inventory_internal.h"

/* A host or group: its name, where it was first seen, its index. */
struct named {
	const char *name;
	size_t seq;
	size_t id;
};

struct edge {
	size_t from, to; /* host -> group it is listed in, or group -> parent group */
};

struct reader {
	const cJSON *hostvars; /* NULL when the file has none */
	struct named *groups;  /* by name */
	const cJSON **group_obj;
	size_t ngroups;
	struct named *hosts; /* by name */
	size_t nhosts;
	const cJSON **vars; /* per host id: its member of _meta.hostvars (the first), or NULL */
	struct edge *parents, *members; /* sorted by from */
	size_t nparents, nmembers;
	size_t *mark, *stack; /* per group: the last host that visited it (+1); the walk */
};

static int cmp_name(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_edge(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->from != y->from)
		return x->from > y->from ? 1 : -1;
	return (x->to > y->to) - (x->to < y->to);
}

/* The id of name in a by-name array, or -1. */
static long find(const struct named *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strcmp(v[lo].name, name) == 0 ? (long)v[lo].id : -1;
}

/* A group's "hosts" or "children": absent, or an array of strings. */
static const cJSON *name_list(const cJSON *group, const char *member)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(group, member);

	if (!list)
		return NULL;
	if (!cJSON_IsArray(list))
		return group; /* wrong: the caller tells */
	for (const cJSON *c = list->child; c; c = c->next)
		if (!cJSON_IsString(c))
			return group;
	return list;
}

/* The file is not what ansible-inventory --list writes: what is wrong, about group name. */
static int bad_file(struct inventory_report *r, const char *name, const char *what)
{
	char shown[LABELS_SHOWN_MAX + 4];

	labels_shown(name, strlen(name), shown, sizeof(shown));
	return inventory_request_fail(
	    r, 1, "not the JSON of ansible-inventory --list: group \"%s\" %s", shown, what);
}

/* Finds the groups (every member but _meta, each an object) and _meta.hostvars. */
static int read_groups(const cJSON *doc, struct reader *rd, struct inventory_report *r)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "_meta");
	size_t n = 0;

	if (meta) {
		rd->hostvars = cJSON_GetObjectItemCaseSensitive(meta, "hostvars");
		if (!cJSON_IsObject(meta) || (rd->hostvars && !cJSON_IsObject(rd->hostvars)))
			return inventory_request_fail(
			    r, 1,
			    "not the JSON of ansible-inventory --list: _meta"
			    " and its hostvars must be objects");
	}
	for (const cJSON *m = doc->child; m; m = m->next)
		n++;
	rd->groups = calloc(n ? n : 1, sizeof(*rd->groups));
	rd->group_obj = calloc(n ? n : 1, sizeof(*rd->group_obj));
	rd->mark = calloc(n ? n : 1, sizeof(*rd->mark));
	rd->stack = calloc(n ? n : 1, sizeof(*rd->stack));
	if (!rd->groups || !rd->group_obj || !rd->mark || !rd->stack)
		return CMDB_ENOMEM;
	for (const cJSON *m = doc->child; m; m = m->next) {
		if (strcmp(m->string, "_meta") == 0)
			continue;
		if (!cJSON_IsObject(m))
			return bad_file(r, m->string, "is not an object");
		if (name_list(m, "hosts") == m || name_list(m, "children") == m)
			return bad_file(r, m->string,
			                "has hosts or children that are not lists of names");
		rd->group_obj[rd->ngroups] = m;
		rd->groups[rd->ngroups] = (struct named){m->string, rd->ngroups, rd->ngroups};
		rd->ngroups++;
	}
	qsort(rd->groups, rd->ngroups, sizeof(*rd->groups), cmp_name);
	for (size_t i = 1; i < rd->ngroups; i++)
		if (strcmp(rd->groups[i].name, rd->groups[i - 1].name) == 0)
			return bad_file(r, rd->groups[i].name, "is given twice");
	return 0;
}

/* Every host name in the order first seen: the groups' hosts, then _meta.hostvars. */
static int read_hosts(struct reader *rd)
{
	size_t n = 0, seq = 0, u = 0;

	for (size_t g = 0; g < rd->ngroups; g++) {
		const cJSON *hosts = name_list(rd->group_obj[g], "hosts");

		for (const cJSON *h = hosts ? hosts->child : NULL; h; h = h->next)
			n++;
	}
	for (const cJSON *h = rd->hostvars ? rd->hostvars->child : NULL; h; h = h->next)
		n++;
	rd->hosts = calloc(n ? n : 1, sizeof(*rd->hosts));
	rd->members = calloc(n ? n : 1, sizeof(*rd->members));
	if (!rd->hosts || !rd->members)
		return CMDB_ENOMEM;
	for (size_t g = 0; g < rd->ngroups; g++) {
		const cJSON *hosts = name_list(rd->group_obj[g], "hosts");

		for (const cJSON *h = hosts ? hosts->child : NULL; h; h = h->next, seq++)
			rd->hosts[seq] = (struct named){h->valuestring, seq, 0};
	}
	for (const cJSON *h = rd->hostvars ? rd->hostvars->child : NULL; h; h = h->next, seq++)
		rd->hosts[seq] = (struct named){h->string, seq, 0};
	/* One entry per name, its first sighting; numbered in that order. */
	qsort(rd->hosts, n, sizeof(*rd->hosts), cmp_name);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(rd->hosts[i].name, rd->hosts[u - 1].name))
			rd->hosts[u++] = rd->hosts[i];
	qsort(rd->hosts, u, sizeof(*rd->hosts), cmp_seq);
	for (size_t i = 0; i < u; i++)
		rd->hosts[i].id = i;
	qsort(rd->hosts, u, sizeof(*rd->hosts), cmp_name);
	rd->nhosts = u;
	/* Each host's variables found once, by a binary search: not one linear lookup per host. */
	rd->vars = calloc(u ? u : 1, sizeof(*rd->vars));
	if (!rd->vars)
		return CMDB_ENOMEM;
	for (const cJSON *h = rd->hostvars ? rd->hostvars->child : NULL; h; h = h->next) {
		long id = find(rd->hosts, rd->nhosts, h->string);

		if (id >= 0 && !rd->vars[id])
			rd->vars[id] = h;
	}
	return 0;
}

/* Host -> group and group -> parent edges, sorted by where they start. */
static int read_edges(struct reader *rd)
{
	size_t n = 0;

	for (size_t g = 0; g < rd->ngroups; g++) {
		const cJSON *hosts = name_list(rd->group_obj[g], "hosts");
		const cJSON *children = name_list(rd->group_obj[g], "children");

		for (const cJSON *h = hosts ? hosts->child : NULL; h; h = h->next)
			rd->members[rd->nmembers++] =
			    (struct edge){(size_t)find(rd->hosts, rd->nhosts, h->valuestring), g};
		for (const cJSON *c = children ? children->child : NULL; c; c = c->next)
			n++;
	}
	rd->parents = calloc(n ? n : 1, sizeof(*rd->parents));
	if (!rd->parents)
		return CMDB_ENOMEM;
	for (size_t g = 0; g < rd->ngroups; g++) {
		const cJSON *children = name_list(rd->group_obj[g], "children");

		/* A child that is not listed itself has no hosts (ansible-inventory leaves out
		 * an empty ungrouped): nothing reaches g through it. */
		for (const cJSON *c = children ? children->child : NULL; c; c = c->next) {
			long child = find(rd->groups, rd->ngroups, c->valuestring);

			if (child >= 0)
				rd->parents[rd->nparents++] = (struct edge){(size_t)child, g};
		}
	}
	qsort(rd->members, rd->nmembers, sizeof(*rd->members), cmp_edge);
	qsort(rd->parents, rd->nparents, sizeof(*rd->parents), cmp_edge);
	return 0;
}

/* The first edge from `from`, in an array sorted by from. */
static size_t first_edge(const struct edge *e, size_t n, size_t from)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e[mid].from < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Labels group/<name> for every group host h is in, at any depth. */
static int group_labels(struct reader *rd, size_t h, struct inventory_node *node,
                        struct inventory_report *r)
{
	struct strbuf key = STRBUF_INIT;
	size_t top = 0;
	int rc = 0;

	for (size_t e = first_edge(rd->members, rd->nmembers, h);
	     e < rd->nmembers && rd->members[e].from == h; e++) {
		if (rd->mark[rd->members[e].to] == h + 1)
			continue;
		rd->mark[rd->members[e].to] = h + 1;
		rd->stack[top++] = rd->members[e].to;
	}
	while (top > 0 && rc == 0) {
		size_t g = rd->stack[--top];
		const char *name = rd->group_obj[g]->string;
		char err[LABELS_ERR_MAX], shown[2][LABELS_SHOWN_MAX + 4];

		for (size_t e = first_edge(rd->parents, rd->nparents, g);
		     e < rd->nparents && rd->parents[e].from == g; e++) {
			if (rd->mark[rd->parents[e].to] != h + 1) {
				rd->mark[rd->parents[e].to] = h + 1;
				rd->stack[top++] = rd->parents[e].to;
			}
		}
		if (strcmp(name, "all") == 0 || strcmp(name, "ungrouped") == 0)
			continue;
		strbuf_reset(&key);
		strbuf_addf(&key, "group/%s", name);
		rc = key.failed ? CMDB_ENOMEM
		                : labels_set(&node->labels, key.buf, "", err, sizeof(err));
		if (rc == CMDB_EINVAL) {
			labels_shown(node->hostname, sizeof(node->hostname), shown[0],
			             sizeof(shown[0]));
			labels_shown(name, strlen(name), shown[1], sizeof(shown[1]));
			inventory_report_item(r, h, "host \"%s\": group \"%s\" cannot be a label: %s",
			                    shown[0], shown[1], err);
		}
	}
	strbuf_free(&key);
	return rc;
}

/* A host variable as a label value: a string, a whole number, a boolean. */
static int var_value(const cJSON *v, char *buf, size_t len, const char **out)
{
	if (cJSON_IsString(v)) {
		*out = v->valuestring;
	} else if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v) ? "true" : "false";
	} else if (cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
	           v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e18) {
		snprintf(buf, len, "%lld", (long long)v->valuedouble);
		*out = buf;
	} else {
		return -1;
	}
	return 0;
}

/* The host variables named in opt, as labels. */
static int var_labels(const cJSON *vars, const struct inventory_ansible *opt, size_t h,
                      struct inventory_node *node, struct inventory_report *r)
{
	char err[LABELS_ERR_MAX], num[32], host[LABELS_SHOWN_MAX + 4];
	int rc;

	labels_shown(node->hostname, sizeof(node->hostname), host, sizeof(host));
	for (size_t i = 0; i < opt->nlabel_vars; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(vars, opt->label_vars[i]);
		const char *value;

		if (!v)
			continue;
		if (var_value(v, num, sizeof(num), &value))
			return inventory_report_item(
			    r, h,
			    "host \"%s\": variable %s must be a string, a whole"
			    " number or a boolean to be a label",
			    host, opt->label_vars[i]);
		rc = labels_set(&node->labels, opt->label_vars[i], value, err, sizeof(err));
		if (rc == CMDB_EINVAL)
			return inventory_report_item(r, h, "host \"%s\": %s", host, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Host h named name: its address, its groups and its variables. */
static int read_host(struct reader *rd, size_t h, const char *name,
                     const struct inventory_ansible *opt, struct inventory_node *node,
                     struct inventory_report *r)
{
	const cJSON *vars = rd->vars[h];
	const cJSON *addr = cJSON_GetObjectItemCaseSensitive(vars, "ansible_host");
	char host[LABELS_SHOWN_MAX + 4], shown[LABELS_SHOWN_MAX + 4];
	int rc;

	labels_shown(name, strlen(name), host, sizeof(host));
	if (vars && !cJSON_IsObject(vars))
		return inventory_report_item(r, h, "host \"%s\": its hostvars must be an object",
		                           host);
	if (!hostname_valid(name))
		return inventory_report_item(
		    r, h, "host \"%s\": the name is not an RFC 1123 host name", host);
	str_copy(node->hostname, name, sizeof(node->hostname));
	node->agent_port = opt->agent_port;
	node->status = -1;
	node->has_labels = 1;
	if (addr && !cJSON_IsString(addr))
		return inventory_report_item(r, h, "host \"%s\": ansible_host must be a string",
		                           host);
	if (addr && ip_canonical(addr->valuestring, node->ip, sizeof(node->ip))) {
		labels_shown(addr->valuestring, strlen(addr->valuestring), shown, sizeof(shown));
		return inventory_report_item(r, h,
		                           "host \"%s\": ansible_host \"%s\" is not an IPv4 or"
		                           " IPv6 address",
		                           host, shown);
	}
	/* hostname_valid holds: the name has no ':' and can only be an IPv4 address. */
	if (!addr && ip_canonical(name, node->ip, sizeof(node->ip)))
		return inventory_report_item(r, h,
		                           "host \"%s\": no ansible_host, and the name is not an"
		                           " IPv4 address",
		                           host);
	if ((rc = group_labels(rd, h, node, r)))
		return rc;
	return var_labels(vars, opt, h, node, r);
}

static void reader_free(struct reader *rd)
{
	free(rd->groups);
	free(rd->group_obj);
	free(rd->hosts);
	free(rd->vars);
	free(rd->members);
	free(rd->parents);
	free(rd->mark);
	free(rd->stack);
}

/* What the options ask: a port, and variable names that are label keys. */
static int check_options(const struct inventory_ansible *opt, struct inventory_report *r)
{
	char err[LABELS_ERR_MAX];

	if (opt->agent_port < 1 || opt->agent_port > 65535)
		return inventory_request_fail(r, 0, "the agent port must be from 1 to 65535");
	for (size_t i = 0; i < opt->nlabel_vars; i++)
		if (labels_check_key(opt->label_vars[i], err, sizeof(err)))
			return inventory_request_fail(r, 0, "label variables: %s", err);
	return 0;
}

int inventory_from_ansible(const cJSON *doc, const struct inventory_ansible *opt,
                           struct inventory *out, struct inventory_report *r)
{
	struct reader rd = {0};
	const char **names = NULL;
	int *bad = NULL, rc;

	memset(r, 0, sizeof(*r));
	*out = (struct inventory)INVENTORY_INIT;
	if ((rc = check_options(opt, r)))
		return rc;
	if (!cJSON_IsObject(doc))
		return inventory_request_fail(r, 1,
		                              "not the JSON of ansible-inventory --list:"
		                              " not an object");
	if ((rc = read_groups(doc, &rd, r)) || (rc = read_hosts(&rd)) || (rc = read_edges(&rd)))
		goto out;
	rc = CMDB_ENOMEM;
	out->nodes = calloc(rd.nhosts ? rd.nhosts : 1, sizeof(*out->nodes));
	names = calloc(rd.nhosts ? rd.nhosts : 1, sizeof(*names));
	bad = calloc(rd.nhosts ? rd.nhosts : 1, sizeof(*bad));
	if (!out->nodes || !names || !bad)
		goto out;
	out->n = rd.nhosts;
	for (size_t i = 0; i < rd.nhosts; i++)
		names[rd.hosts[i].id] = rd.hosts[i].name;
	rc = 0;
	for (size_t h = 0; h < rd.nhosts && rc != CMDB_ENOMEM; h++) {
		rc = read_host(&rd, h, names[h], opt, &out->nodes[h], r);
		bad[h] = rc != 0;
	}
	if (rc != CMDB_ENOMEM)
		rc = inventory_finish(out, bad, 1, r);
out:
	if (rc)
		inventory_free(out);
	free(names);
	free(bad);
	reader_free(&rd);
	return rc;
}
