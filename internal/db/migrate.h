/*
 * migrate: applies migrations/NNNN_name.sql files in order and records each in
 * schema_migrations, so running it again changes nothing.
 */
#ifndef CMDB_MIGRATE_H
#define CMDB_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/*
 * Applies every file in dir named NNNN_*.sql whose NNNN is not yet recorded, in
 * ascending order. *applied receives how many ran. Returns 0 or a negative code
 * with err naming the file and statement that failed.
 */
int migrate_apply(struct db_conn *c, const char *dir, int *applied, char *err, size_t errlen);

/* The highest NNNN of the migration files in dir (0 when there is none). 0 or an error. */
int migrate_latest(const char *dir, int64_t *version, char *err, size_t errlen);

/* The highest migration recorded in the database (0 when none was applied). */
int migrate_applied(struct db_conn *c, int64_t *version, char *err, size_t errlen);

/*
 * Splits SQL text into statements at semicolons that end a line, skipping "--"
 * comment lines. Calls fn for each non-empty statement; stops on its non-zero return.
 * Exposed for unit tests.
 */
int migrate_split(const char *text, int (*fn)(const char *stmt, void *arg), void *arg);

#endif
