/*
 * alerts handler: POST /api/v1/alerts takes Alertmanager's webhook as Alertmanager sends
 * it. Each firing alert whose labels carry release_id rolls that release back, once:
 * the store records every alert with what it caused, and a delivery seen before does
 * nothing again. The answer lists what was done about each alert.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/v1/cache.h"
#include "api/v1/router.h"
#include "api/v1/validate.h"
#include "core/log.h"
#include "store/store.h"

static cJSON *result_json(const struct alert_entry *a, const struct alert_result *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "fingerprint", a->fingerprint);
	cJSON_AddStringToObject(o, "status", a->status);
	if (r->release_id)
		cJSON_AddNumberToObject(o, "release_id", (double)r->release_id);
	else
		cJSON_AddNullToObject(o, "release_id");
	if (r->rollback_release_id)
		cJSON_AddNumberToObject(o, "rollback_release_id", (double)r->rollback_release_id);
	else
		cJSON_AddNullToObject(o, "rollback_release_id");
	cJSON_AddBoolToObject(o, "duplicate", r->duplicate);
	cJSON_AddStringToObject(o, "outcome", r->outcome);
	return o;
}

void api_alerts_receive(struct api_request *req)
{
	struct alert_entry *alerts = NULL;
	struct db_conn *db = NULL;
	cJSON *body = NULL, *doc = NULL, *list;
	struct api_error e;
	char err[512];
	size_t n = 0;

	if (api_read_json(req->conn, &body))
		return;
	if (api_parse_alerts(body, &alerts, &n, &e)) {
		api_send_error(req->conn, e.status, "%s", e.msg);
		goto out;
	}
	db = api_db_acquire(req);
	if (!db)
		goto out;
	doc = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(doc, "alerts");
	for (size_t i = 0; i < n; i++) {
		const struct alert_input in = {
		    .fingerprint = alerts[i].fingerprint,
		    .starts_at = alerts[i].starts_at,
		    .firing = alerts[i].status[0] == 'f',
		    .alertname = alerts[i].alertname,
		    .release_label = alerts[i].release_label,
		};
		struct alert_result r;
		int rc = store_alert_receive(db, &in, req->principal, &r, err, sizeof(err));

		/*
		 * The alerts before this one are recorded; Alertmanager sends the whole group
		 * again after a 503, and those find their rows.
		 */
		if (rc) {
			api_send_store_error(req->conn, rc, err);
			goto out;
		}
		if (!r.duplicate && r.release_id) {
			char prefix[32];

			log_info("api", "alert %s (fingerprint %s) from %s: %s",
			         in.alertname ? in.alertname : "(no alertname)", in.fingerprint,
			         req->principal, r.outcome);
			/* Its cached answers may lack rolled_back_by or the cancel now. */
			snprintf(prefix, sizeof(prefix), "%lld/", (long long)r.release_id);
			api_cache_drop_prefix(req->ctx->cache, prefix);
			if (r.rollback_release_id)
				api_work_ready(req->ctx);
		}
		cJSON_AddItemToArray(list, result_json(&alerts[i], &r));
	}
	cJSON_AddNumberToObject(doc, "received", (double)n);
	api_send_json(req->conn, 200, doc);
out:
	if (db)
		api_db_put(req, db);
	cJSON_Delete(doc);
	cJSON_Delete(body);
	free(alerts);
}
