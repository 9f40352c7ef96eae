/*
 * store/alerts: Alertmanager's alerts (POST /api/v1/alerts). Each alert is recorded once
 * per (fingerprint, startsAt, status) with what it caused, in the same transaction as
 * the rollback it causes: a delivery repeated by Alertmanager's retries, or after a
 * restart of either side, finds its row and does nothing again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/alerts.h"
#include "store/store_internal.h"

/* Inserts the alert's row; *duplicate = 1 (and its delivery counted) when it exists. */
static int record(struct db_conn *c, const struct alert_input *a, const char *principal,
                  int64_t *row_id, int *duplicate, char *err, size_t errlen)
{
	struct db_arg args[6] = {
	    DB_STR(a->fingerprint),
	    DB_STR(a->starts_at),
	    DB_STR(a->firing ? "firing" : "resolved"),
	    DB_STR_OR_NULL(a->alertname),
	    DB_STR_OR_NULL(a->release_label),
	    DB_STR(principal),
	};
	struct db_arg key[3] = {args[0], args[1], args[2]};
	uint64_t id = 0;
	int rc;

	*duplicate = 0;
	rc = db_exec(c,
	             "INSERT INTO alerts (fingerprint, starts_at, status, alertname, release_label,"
	             " received_by, outcome, received_at, last_received_at) VALUES (?, ?, ?,"
	             " LEFT(?, 255), LEFT(?, 64), ?, 'received', UTC_TIMESTAMP(3),"
	             " UTC_TIMESTAMP(3))",
	             args, 6, NULL, &id, err, errlen);
	if (rc == 0) {
		*row_id = (int64_t)id;
		return 0;
	}
	if (rc != CMDB_ECONFLICT)
		return rc;
	*duplicate = 1;
	return db_exec(c,
	               "UPDATE alerts SET deliveries = deliveries + 1,"
	               " last_received_at = UTC_TIMESTAMP(3)"
	               " WHERE fingerprint = ? AND starts_at = ? AND status = ?",
	               key, 3, NULL, NULL, err, errlen);
}

/* What was done about it before, for the answer to a repeated delivery. */
static int previous_outcome(struct db_conn *c, const struct alert_input *a,
                            struct alert_result *out, char *err, size_t errlen)
{
	struct db_arg key[3] = {DB_STR(a->fingerprint), DB_STR(a->starts_at),
	                        DB_STR(a->firing ? "firing" : "resolved")};
	struct db_rows rows = DB_ROWS_INIT;
	int rc;

	rc = db_query(c,
	              "SELECT release_id, rollback_release_id, outcome FROM alerts"
	              " WHERE fingerprint = ? AND starts_at = ? AND status = ?",
	              key, 3, &rows, err, errlen);
	if (rc)
		return rc;
	if (rows.nrows) {
		out->release_id = db_cell_i64(&rows, 0, 0);
		out->rollback_release_id = db_cell_i64(&rows, 0, 1);
		snprintf(out->outcome, sizeof(out->outcome), "already received: %.250s",
		         db_cell(&rows, 0, 2) ? db_cell(&rows, 0, 2) : "");
	}
	db_rows_free(&rows);
	return 0;
}

/*
 * A firing alert about release id: stop it if it still runs, then roll it back. Returns
 * 0 with out->outcome saying what happened, including the refusals an alert cannot fix
 * (nothing to roll back, a rollback of a rollback); other errors abort the transaction.
 */
static int act_on(struct db_conn *c, const struct alert_input *a, int64_t id, const char *principal,
                  struct alert_result *out, char *err, size_t errlen)
{
	char reason[STORE_REASON_LEN], why[STORE_ERROR_LEN];
	enum release_status from = RELEASE_PENDING;
	int changed = 0, existing = 0, rc;

	rc = store_act_in_tx(c, id, RELEASE_EV_CANCEL, principal, NULL, &from, &changed, why,
	                     sizeof(why));
	if (rc == CMDB_ENOTFOUND) {
		snprintf(out->outcome, sizeof(out->outcome), "ignored: release %lld does not exist",
		         (long long)id);
		return 0;
	}
	if (rc && rc != CMDB_ESTATE) {
		snprintf(err, errlen, "%s", why);
		return rc; /* ESTATE: it has ended already, which is what a rollback needs */
	}
	snprintf(reason, sizeof(reason), "alert %.100s (fingerprint %.64s)",
	         a->alertname ? a->alertname : "(no alertname)", a->fingerprint);
	rc = store_rollback_in_tx(c, id, principal, reason, 1, &out->rollback_release_id, &existing,
	                          why, sizeof(why));
	if (rc == CMDB_EINVAL || rc == CMDB_ESTATE) {
		snprintf(out->outcome, sizeof(out->outcome), "%s%.250s",
		         changed ? "cancelled; no rollback: " : "no rollback: ", why);
		return 0;
	}
	if (rc) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	snprintf(out->outcome, sizeof(out->outcome), "%s%s release %lld",
	         changed ? "cancelled; " : "",
	         existing ? "already rolled back by" : "rolled back by",
	         (long long)out->rollback_release_id);
	return 0;
}

static int alert_receive_once(struct db_conn *c, const struct alert_input *a, const char *principal,
                              struct alert_result *out, char *err, size_t errlen)
{
	struct db_arg args[4];
	int64_t row = 0, id = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = db_begin(c, err, errlen);
	if (rc)
		return rc;
	rc = record(c, a, principal, &row, &out->duplicate, err, errlen);
	if (rc)
		goto fail;
	if (out->duplicate) {
		rc = previous_outcome(c, a, out, err, errlen);
		if (rc == 0)
			rc = db_commit(c, err, errlen);
		if (rc)
			goto fail;
		return 0;
	}
	if (!a->firing) {
		snprintf(out->outcome, sizeof(out->outcome), "ignored: resolved");
	} else if (!a->release_label) {
		snprintf(out->outcome, sizeof(out->outcome), "ignored: no release_id label");
	} else if (parse_int64(a->release_label, 1, INT64_MAX, &id)) {
		snprintf(out->outcome, sizeof(out->outcome),
		         "ignored: release_id label \"%.40s\" is not a release id",
		         a->release_label);
		id = 0;
	} else {
		rc = act_on(c, a, id, principal, out, err, errlen);
		if (rc)
			goto fail;
	}
	out->release_id = id;
	args[0] = id ? DB_I64(id) : DB_NULL;
	args[1] = out->rollback_release_id ? DB_I64(out->rollback_release_id) : DB_NULL;
	args[2] = DB_STR(out->outcome);
	args[3] = DB_I64(row);
	rc = db_exec(c,
	             "UPDATE alerts SET release_id = ?, rollback_release_id = ?,"
	             " outcome = LEFT(?, 300) WHERE id = ?",
	             args, 4, NULL, NULL, err, errlen);
	if (rc == 0)
		rc = db_commit(c, err, errlen);
	if (rc == 0)
		return 0;
fail:
	db_rollback(c);
	return rc;
}

int store_alert_receive(struct db_conn *c, const struct alert_input *a, const char *principal,
                        struct alert_result *out, char *err, size_t errlen)
{
	int rc;

	/* A second run finds the alert (fingerprint, startsAt, status) the first one kept. */
	STORE_RETRY_IDEMPOTENT(c, rc, err, alert_receive_once(c, a, principal, out, err, errlen));
	return rc;
}
