/*
 * inventory_internal: what inventory.c (the import body) and ansible.c (Ansible's JSON)
 * share: the report and the last check, that no address is there twice.
 */
#ifndef CMDB_INVENTORY_INTERNAL_H
#define CMDB_INVENTORY_INTERNAL_H

#include "inventory/inventory.h"

/* Fills the request-level message; returns CMDB_EINVAL. */
int inventory_request_fail(struct inventory_report *r, int malformed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Ends a read: refuses an address (ip, agent_port) given twice (the later items, naming
 * the first: "item 3" or, for Ansible, "host \"web-1\""), sorts the errors and, when any
 * item is bad (bad[i] set by the reader), frees inv and fills r->msg. Returns 0,
 * CMDB_EINVAL or CMDB_ENOMEM.
 */
int inventory_finish(struct inventory *inv, const int *bad, int ansible,
                     struct inventory_report *r);

#endif
