/*
 * store/alerts: Alertmanager's alerts as POST /api/v1/alerts receives them (alerts.c): each
 * recorded once, and a firing alert that names a release rolls it back.
 */
#ifndef CMDB_STORE_ALERTS_H
#define CMDB_STORE_ALERTS_H

#include "store/common.h"

struct alert_input {
	const char *fingerprint;
	const char *starts_at;     /* as Alertmanager sent it: part of the alert's identity */
	int firing;                /* 0: resolved */
	const char *alertname;     /* may be NULL */
	const char *release_label; /* the release_id label as sent; NULL when absent */
};

/* What the controller did about one alert. */
struct alert_result {
	int duplicate;               /* delivered before: nothing new was done */
	int64_t release_id;          /* the release its label names; 0: none or not a number */
	int64_t rollback_release_id; /* the rollback it caused (or found); 0: none */
	char outcome[STORE_REASON_LEN];
};

/*
 * Records one alert as principal and acts on it, in one transaction: a firing alert
 * whose release_id names a release rolls that release back (a release still running,
 * paused or pending is cancelled first, in the same transaction); the same alert
 * (fingerprint, startsAt, status) delivered again changes nothing but its delivery count.
 */
int store_alert_receive(struct db_conn *c, const struct alert_input *a, const char *principal,
                        struct alert_result *out, char *err, size_t errlen);

#endif
