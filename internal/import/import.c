/*
 * import: the pure half of `cmdb import` (import.h): its arguments, the file read into one
 * inventory (our format a piece at a time, as the API reads it), the request bodies, and
 * the answers and refusals printed with the nodes they name.
 */
#include "import/import.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int import_parse_args(int argc, char *const *argv, struct import_args *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->agent_port = INVENTORY_DEFAULT_PORT;
	a->mode = -1;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int64_t port;

		if (strcmp(arg, "--port") == 0 && val) {
			if (parse_int64(val, 1, 65535, &port)) {
				snprintf(err, errlen, "--port must be a port from 1 to 65535");
				return -1;
			}
			a->agent_port = (int)port;
		} else if (strcmp(arg, "--label-vars") == 0 && val) {
			if (str_copy(a->label_vars_text, val, sizeof(a->label_vars_text)) >=
			    sizeof(a->label_vars_text)) {
				snprintf(err, errlen, "--label-vars is too long");
				return -1;
			}
			a->nlabel_vars = 0;
			for (char *save = NULL, *p = strtok_r(a->label_vars_text, ",", &save); p;
			     p = strtok_r(NULL, ",", &save)) {
				if (a->nlabel_vars == IMPORT_LABEL_VARS_MAX) {
					snprintf(err, errlen,
					         "--label-vars names more than %d variables",
					         IMPORT_LABEL_VARS_MAX);
					return -1;
				}
				a->label_vars[a->nlabel_vars++] = p;
			}
		} else if (strcmp(arg, "--mode") == 0 && val) {
			if (strcmp(val, "create") && strcmp(val, "upsert")) {
				snprintf(err, errlen, "--mode must be create or upsert");
				return -1;
			}
			a->mode = strcmp(val, "upsert") == 0 ? INVENTORY_UPSERT : INVENTORY_CREATE;
		} else if (arg[0] == '-' && arg[1]) {
			snprintf(err, errlen, "%.40s: unknown option, or it lacks its value", arg);
			return -1;
		} else if (a->file) {
			snprintf(err, errlen, "one file at a time (%.40s, then %.40s)", a->file,
			         arg);
			return -1;
		} else {
			a->file = arg;
			continue;
		}
		i++;
	}
	if (!a->file) {
		snprintf(err, errlen, "which file? cmdb import [options] FILE");
		return -1;
	}
	return 0;
}

/* Adds the item errors of a piece that starts at item `from` to r, at their file index. */
static void merge_report(struct inventory_report *r, const struct inventory_report *piece,
                         size_t from)
{
	for (size_t i = 0; i < piece->nerrors; i++)
		inventory_report_item(r, from + piece->errors[i].index, "%s", piece->errors[i].msg);
	r->nbad += piece->nbad - piece->nerrors; /* those the piece counted and did not keep */
}

/* Appends piece's nodes to inv, which takes over their labels. */
static int append(struct inventory *inv, struct inventory *piece)
{
	struct inventory_node *grown = realloc(inv->nodes, (inv->n + piece->n) * sizeof(*grown));

	if (!grown)
		return CMDB_ENOMEM;
	inv->nodes = grown;
	memcpy(inv->nodes + inv->n, piece->nodes, piece->n * sizeof(*grown));
	inv->n += piece->n;
	inv->mode = piece->mode;
	free(piece->nodes);
	piece->nodes = NULL;
	piece->n = 0;
	return 0;
}

/*
 * Our format, a piece of INVENTORY_NODES_MAX items at a time: each piece is a body of its
 * own, read by inventory_parse_import as the API will read it.
 */
static int read_pieces(cJSON *doc, cJSON *nodes, struct inventory *inv, struct inventory_report *r)
{
	struct inventory_report *part = calloc(1, sizeof(*part));
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(doc, "mode");
	int rc = part ? 0 : CMDB_ENOMEM;

	for (size_t from = 0; rc != CMDB_ENOMEM && nodes->child;) {
		cJSON *body = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(body, "nodes");
		struct inventory piece = INVENTORY_INIT;
		size_t k = 0;
		int prc;

		if (!arr ||
		    (mode && !cJSON_AddItemToObject(body, "mode", cJSON_Duplicate(mode, 1)))) {
			cJSON_Delete(body);
			rc = CMDB_ENOMEM;
			break;
		}
		for (; k < INVENTORY_NODES_MAX && nodes->child; k++)
			cJSON_AddItemToArray(arr, cJSON_DetachItemFromArray(nodes, 0));
		prc = inventory_parse_import(body, &piece, part);
		cJSON_Delete(body);
		if (prc == CMDB_EINVAL && !part->nbad) {
			/* The request as a whole: the same for every piece. */
			*r = *part;
			rc = CMDB_EINVAL;
			break;
		}
		if (prc == CMDB_EINVAL)
			merge_report(r, part, from);
		if (prc == 0 && rc == 0)
			prc = append(inv, &piece);
		inventory_free(&piece);
		if (prc && prc != CMDB_EINVAL)
			rc = prc;
		from += k;
	}
	/* With a bad piece, inv lacks its nodes and the indexes after it are off: skip. */
	if (rc == 0 && r->nbad == 0 && (rc = inventory_check_addresses(inv, r)) == CMDB_EINVAL)
		rc = 0; /* r->nbad says it */
	free(part);
	return rc;
}

/* Our format: the whole body at once when it fits one request, else piece by piece. */
static int read_ours(cJSON *doc, struct inventory *inv, struct inventory_report *r)
{
	cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
	size_t total;
	int rc;

	for (const cJSON *m = doc->child; m; m = m->next)
		if (strcmp(m->string, "nodes") && strcmp(m->string, "mode"))
			return inventory_parse_import(doc, inv, r); /* it names the member */
	if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) <= INVENTORY_NODES_MAX)
		return inventory_parse_import(doc, inv, r);
	total = (size_t)cJSON_GetArraySize(nodes);
	rc = read_pieces(doc, nodes, inv, r);
	if (rc == 0 && r->nbad) {
		snprintf(r->msg, sizeof(r->msg), "%zu of %zu nodes are invalid", r->nbad, total);
		rc = CMDB_EINVAL;
	}
	if (rc)
		inventory_free(inv);
	return rc;
}

int import_read(const char *text, size_t len, const struct import_args *a, struct inventory *inv,
                int *ansible, struct inventory_report *r)
{
	struct inventory_ansible opt = {a->agent_port, a->label_vars, a->nlabel_vars};
	cJSON *doc = cJSON_ParseWithLength(text, len);
	int rc;

	memset(r, 0, sizeof(*r));
	*inv = (struct inventory)INVENTORY_INIT;
	*ansible = 0;
	if (!doc) {
		snprintf(r->msg, sizeof(r->msg), "the file is not JSON");
		r->malformed = 1;
		return CMDB_EINVAL;
	}
	*ansible = !cJSON_IsObject(doc) || !cJSON_GetObjectItemCaseSensitive(doc, "nodes");
	rc = *ansible ? inventory_from_ansible(doc, &opt, inv, r) : read_ours(doc, inv, r);
	if (rc == 0 && a->mode >= 0)
		inv->mode = (enum inventory_mode)a->mode;
	cJSON_Delete(doc);
	return rc;
}

char *import_body(const struct inventory *inv, size_t from, size_t n, enum inventory_mode mode)
{
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "nodes");
	char *text = NULL;
	int ok = arr != NULL;

	for (size_t i = from; ok && i < from + n && i < inv->n; i++) {
		const struct inventory_node *x = &inv->nodes[i];
		cJSON *o = cJSON_CreateObject();

		ok = o && cJSON_AddItemToArray(arr, o) &&
		     cJSON_AddStringToObject(o, "hostname", x->hostname) &&
		     cJSON_AddStringToObject(o, "ip", x->ip) &&
		     cJSON_AddNumberToObject(o, "agent_port", x->agent_port);
		if (ok && x->status >= 0)
			ok =
			    cJSON_AddStringToObject(
			        o, "status", node_health_name((enum node_health)x->status)) != NULL;
		if (ok && x->has_labels)
			ok = cJSON_AddItemToObject(o, "labels", labels_to_json(&x->labels));
	}
	if (ok &&
	    cJSON_AddStringToObject(doc, "mode", mode == INVENTORY_UPSERT ? "upsert" : "create"))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

void import_answer_free(struct import_answer *a)
{
	free(a->ids);
	free(a->changes);
	memset(a, 0, sizeof(*a));
}

int import_parse_answer(const char *body, size_t n, struct import_answer *a, char *err,
                        size_t errlen)
{
	cJSON *doc = cJSON_Parse(body);
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(doc, "ids");
	const cJSON *changes = cJSON_GetObjectItemCaseSensitive(doc, "changes"), *id, *ch;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (!cJSON_IsArray(ids) || !cJSON_IsArray(changes) ||
	    (size_t)cJSON_GetArraySize(ids) != n || (size_t)cJSON_GetArraySize(changes) != n) {
		snprintf(err, errlen, "the API's answer does not list the %zu nodes it was sent",
		         n);
		goto out;
	}
	a->ids = calloc(n ? n : 1, sizeof(*a->ids));
	a->changes = calloc(n ? n : 1, 1);
	if (!a->ids || !a->changes) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (id = ids->child, ch = changes->child; id && ch; id = id->next, ch = ch->next, a->n++) {
		const char *c = cJSON_IsString(ch) ? ch->valuestring : "";

		a->ids[a->n] = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : 0;
		a->changes[a->n] = strcmp(c, "created") == 0     ? 'c'
		                   : strcmp(c, "updated") == 0   ? 'u'
		                   : strcmp(c, "unchanged") == 0 ? 'n'
		                                                 : '?';
		if (a->ids[a->n] <= 0 || a->changes[a->n] == '?') {
			snprintf(err, errlen, "the API's answer for item %zu is malformed", a->n);
			goto out;
		}
		a->created += a->changes[a->n] == 'c';
		a->updated += a->changes[a->n] == 'u';
		a->unchanged += a->changes[a->n] == 'n';
	}
	rc = 0;
out:
	if (rc)
		import_answer_free(a);
	cJSON_Delete(doc);
	return rc;
}

/* "10.0.0.1:8443", or "[::1]:8443". */
static void address(const struct inventory_node *x, char *buf, size_t len)
{
	snprintf(buf, len, strchr(x->ip, ':') ? "[%s]:%d" : "%s:%d", x->ip, x->agent_port);
}

void import_print_changes(FILE *out, const struct inventory *inv, size_t from,
                          const struct import_answer *a)
{
	for (size_t i = 0; i < a->n && from + i < inv->n; i++) {
		const struct inventory_node *x = &inv->nodes[from + i];
		char where[64];

		if (a->changes[i] == 'n')
			continue;
		address(x, where, sizeof(where));
		fprintf(out, "%s %s %s (node %lld)\n", a->changes[i] == 'c' ? "created" : "updated",
		        x->hostname, where, (long long)a->ids[i]);
	}
}

/* "item 3 (web-3 10.0.0.3:8443): why", the node named when the index is one of inv. */
static void print_item(FILE *out, const struct inventory *inv, size_t index, const char *why)
{
	char where[64];

	if (index < inv->n) {
		address(&inv->nodes[index], where, sizeof(where));
		fprintf(out, "item %zu (%s %s): %s\n", index, inv->nodes[index].hostname, where,
		        why);
	} else {
		fprintf(out, "item %zu: %s\n", index, why);
	}
}

void import_print_report(FILE *out, const struct inventory *inv, const struct inventory_report *r)
{
	fprintf(out, "%s\n", r->msg);
	for (size_t i = 0; i < r->nerrors; i++)
		print_item(out, inv, r->errors[i].index, r->errors[i].msg);
	if (r->nbad > r->nerrors)
		fprintf(out, "... and %zu more\n", r->nbad - r->nerrors);
}

void import_print_refusal(FILE *out, const struct inventory *inv, size_t from, const char *body)
{
	cJSON *doc = cJSON_Parse(body);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items"), *it;
	const cJSON *bad = cJSON_GetObjectItemCaseSensitive(doc, "bad");
	size_t shown = 0;

	cJSON_ArrayForEach(it, items)
	{
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(it, "index");
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(it, "error");

		if (!cJSON_IsNumber(index) || index->valuedouble < 0 || !cJSON_IsString(why))
			continue;
		print_item(out, inv, from + (size_t)index->valuedouble, why->valuestring);
		shown++;
	}
	if (cJSON_IsNumber(bad) && bad->valuedouble > (double)shown)
		fprintf(out, "... and %zu more\n", (size_t)bad->valuedouble - shown);
	cJSON_Delete(doc);
}
