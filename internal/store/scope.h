/*
 * store/scope: which nodes a write would touch that lie outside a principal's scope (a
 * label selector), for a 403 "out_of_scope" that names up to STORE_SCOPE_SHOWN of them.
 *
 * PREPARED, NOT CALLED YET. These read node_labels(node_id, k, v), the table the labels
 * change (issue 22) adds; until it is merged no scope is enforced, and docs/security.md
 * says so. What enforcement will look like, once node_labels exists (issue 23):
 *   - api/v1/access.c has named the principal and checked its role; req->scope holds its
 *     scope ("" for none: nothing to check). The handler parses it (selector_parse) and,
 *     before it writes, inside the write's transaction where it has one, asks:
 *       create and dry run          store_nodes_outside_scope(the nodes it targets)
 *       pause, resume, cancel,      store_release_outside_scope(the release)
 *       approve, reject, rollback
 *       PATCH a node                store_nodes_outside_scope({id}) with the labels as
 *                                   they are, and again with the labels it would set
 *       import                      store_nodes_outside_scope(every node it changes),
 *                                   and each new node's labels by selector_match
 *       alerts                      store_release_outside_scope(each release named)
 *   - any node outside: 403 {"code": "out_of_scope", "scope": "...", "node_ids": [...]},
 *     logged at warn, metrics_api_forbidden(FORBIDDEN_SCOPE); nothing written.
 */
#ifndef CMDB_STORE_SCOPE_H
#define CMDB_STORE_SCOPE_H

#include "selector/selector.h"
#include "store/common.h"

#define STORE_SCOPE_SHOWN 5 /* node ids a refusal names */

/* The nodes outside a scope: the first few by id, and how many there are in all. */
struct store_outside {
	int64_t ids[STORE_SCOPE_SHOWN]; /* ascending */
	size_t n;                       /* of ids used */
	int64_t total;                  /* every node outside; 0: all inside */
};

/*
 * Of the nodes ids[0..n) (any order, no duplicates), those whose labels as they are now
 * do not match sel. An id of no node is not counted: the caller refuses it on its own.
 * 0, or a store error code with err.
 */
int store_nodes_outside_scope(struct db_conn *c, const struct selector *sel, const int64_t *ids,
                              size_t n, struct store_outside *out, char *err, size_t errlen);

/* The same for every node of release release_id. */
int store_release_outside_scope(struct db_conn *c, const struct selector *sel, int64_t release_id,
                                struct store_outside *out, char *err, size_t errlen);

#endif
