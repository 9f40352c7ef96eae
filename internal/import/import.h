/*
 * import: `cmdb import FILE`, an inventory sent to POST /api/v1/nodes/import as a client
 * does (CMDB_URL, CMDB_TOKEN, CMDB_CACERT, as `cmdb watch`). The file is our import JSON
 * ({"nodes": [...], "mode"}, of any size) or the JSON of `ansible-inventory --list`
 * (inventory.h says how its hosts become nodes). All of it is checked before anything is
 * sent; then it goes in requests of at most INVENTORY_NODES_MAX nodes, each one
 * transaction of its own, and what changed is printed. Arguments, the file, the request
 * bodies and the answers are read and written by pure functions (import.c, tested in
 * tests/unit/test_import.c); import_run (send.c) is the part that talks to the API.
 */
#ifndef CMDB_IMPORT_H
#define CMDB_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "inventory/inventory.h"

/* Exit codes of `cmdb import`. */
enum {
	IMPORT_EXIT_OK = 0,      /* every node was written (or was so already) */
	IMPORT_EXIT_REFUSED = 1, /* the file, or a request, was refused; or the API failed */
	IMPORT_EXIT_USAGE = 2,   /* bad arguments or settings, or the file cannot be read */
};

#define IMPORT_LABEL_VARS_MAX 32

/* The arguments after "import". */
struct import_args {
	const char *file;
	int agent_port; /* --port: the agent port of every Ansible host (default 8443) */
	/* --label-vars zone,env: Ansible host variables that become labels */
	char label_vars_text[1024];
	const char *label_vars[IMPORT_LABEL_VARS_MAX];
	size_t nlabel_vars;
	int mode; /* --mode: an enum inventory_mode, or -1: as the file says (Ansible: create) */
};

/*
 * Reads [--port N] [--label-vars a,b] [--mode create|upsert] FILE (argc, argv: what
 * follows "import"; a->file points into argv). 0, or -1 with err saying what is wrong.
 */
int import_parse_args(int argc, char *const *argv, struct import_args *a, char *err, size_t errlen);

/*
 * Reads the file's text (len bytes) into inv: our format when its top-level object has
 * "nodes" (cut into pieces of INVENTORY_NODES_MAX for inventory_parse_import, every piece
 * checked, and no address twice in the whole file), else Ansible's. --mode, when given,
 * replaces the file's. 0; CMDB_EINVAL with r filled (indexes are of the whole file);
 * CMDB_ENOMEM. *ansible says which format it was.
 */
int import_read(const char *text, size_t len, const struct import_args *a, struct inventory *inv,
                int *ansible, struct inventory_report *r);

/* The request body of nodes [from, from + n) of inv with mode; malloc'd, NULL: no memory. */
char *import_body(const struct inventory *inv, size_t from, size_t n, enum inventory_mode mode);

/* What an answer of POST /api/v1/nodes/import says was done to each item. */
struct import_answer {
	int created, updated, unchanged;
	size_t n;
	int64_t *ids;
	char *changes; /* 'c', 'u' or 'n' per item */
};

/* Reads a 200/201 answer for a request of n items. 0, or -1 with err set. */
int import_parse_answer(const char *body, size_t n, struct import_answer *a, char *err,
                        size_t errlen);
void import_answer_free(struct import_answer *a);

/*
 * Prints one line per node an answer created or updated, nodes [from, ...) of inv:
 * "created web-1 10.0.0.1:8443 (node 7)".
 */
void import_print_changes(FILE *out, const struct inventory *inv, size_t from,
                          const struct import_answer *a);

/*
 * Prints the items of a refusal (r, or a 422 answer's "items" with indexes from `from`)
 * as "item 3 (web-3): <why>", at most the first INVENTORY_ERRORS_MAX.
 */
void import_print_report(FILE *out, const struct inventory *inv, const struct inventory_report *r);
/* The same for a 422 answer of a request whose first item is node `from` of inv. */
void import_print_refusal(FILE *out, const struct inventory *inv, size_t from, const char *body);

struct import_opts {
	const char *url;    /* CMDB_URL */
	const char *token;  /* CMDB_TOKEN */
	const char *cacert; /* CMDB_CACERT */
	const struct import_args *args;
	FILE *out, *err;
};

/* Reads, checks, sends and prints; returns the exit code (IMPORT_EXIT_*). */
int import_run(const struct import_opts *o);

#endif
