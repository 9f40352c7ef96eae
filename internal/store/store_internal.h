/*
 * store_internal: helpers shared by the store's files; not for other modules.
 */
#ifndef CMDB_STORE_INTERNAL_H
#define CMDB_STORE_INTERNAL_H

#include "db/db.h"

/* Copies a cell (NULL becomes "") into buf. */
void store_copy_cell(const struct db_rows *r, size_t row, size_t col, char *buf, size_t len);
/* Copies a DATETIME cell as RFC 3339 into a STORE_TIME_LEN buffer ("" for NULL). */
void store_copy_time(const struct db_rows *r, size_t row, size_t col, char *buf);

#endif
