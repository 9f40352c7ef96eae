/*
 * store/idempotency: Idempotency-Key rows for POST /api/v1/releases and /api/v1/nodes.
 * The key row is inserted in the same transaction as the resource it makes, so a request
 * that fails leaves no key behind, and a concurrent request with the same key waits on
 * the row's unique key until the first one commits, then replays its answer.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

/* Keys are kept for at least 24 hours; older than this, a new key's insert removes them. */
#define KEEP_HOURS 48
/* Expired keys removed per insert: a bound on the work one request does. */
#define PURGE_MAX 20

int store_idem_claim(struct db_conn *c, const char *scope, const struct store_idem *idem,
                     int64_t *resource_id, char *err, size_t errlen)
{
	struct db_arg args[4] = {DB_STR(idem->principal), DB_STR(scope), DB_STR(idem->key),
	                         DB_STR(idem->body_sha256)};
	struct db_rows rows = DB_ROWS_INIT;
	struct db_arg purge[2] = {DB_I64(KEEP_HOURS), DB_I64(PURGE_MAX)};
	int rc;

	rc = db_exec(c,
	             "DELETE FROM idempotency_keys"
	             " WHERE created_at < UTC_TIMESTAMP(3) - INTERVAL ? HOUR LIMIT ?",
	             purge, 2, NULL, NULL, err, errlen);
	if (rc)
		return rc;
	rc = db_exec(c,
	             "INSERT INTO idempotency_keys (principal, scope, idem_key, body_sha256,"
	             " resource_id, created_at) VALUES (?, ?, ?, ?, 0, UTC_TIMESTAMP(3))",
	             args, 4, NULL, NULL, err, errlen);
	if (rc != CMDB_ECONFLICT)
		return rc;
	rc = db_query(c,
	              "SELECT body_sha256, resource_id FROM idempotency_keys"
	              " WHERE principal = ? AND scope = ? AND idem_key = ? LOCK IN SHARE MODE",
	              args, 3, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows == 0) {
		snprintf(err, errlen, "Idempotency-Key %s: in use, retry", idem->key);
		rc = CMDB_ECONFLICT;
	} else if (strcmp(db_cell(&rows, 0, 0) ? db_cell(&rows, 0, 0) : "", idem->body_sha256)) {
		snprintf(err, errlen,
		         "Idempotency-Key %s was used by %s for a request with another body; use a"
		         " new key for a new request",
		         idem->key, idem->principal);
		rc = CMDB_EMISMATCH;
	} else {
		*resource_id = db_cell_i64(&rows, 0, 1);
		rc = 1;
	}
	db_rows_free(&rows);
	return rc;
}

int store_idem_bind(struct db_conn *c, const char *scope, const struct store_idem *idem,
                    int64_t resource_id, char *err, size_t errlen)
{
	struct db_arg args[4] = {DB_I64(resource_id), DB_STR(idem->principal), DB_STR(scope),
	                         DB_STR(idem->key)};

	return db_exec(c,
	               "UPDATE idempotency_keys SET resource_id = ?"
	               " WHERE principal = ? AND scope = ? AND idem_key = ?",
	               args, 4, NULL, NULL, err, errlen);
}
