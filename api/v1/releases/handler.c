/*
 * releases handler: POST /api/v1/releases creates a pending release (or, with
 * ?dry_run=1, shows what it would create); GET lists them newest first or shows one
 * with its nodes grouped by batch; POST /api/v1/releases/{id}/pause|resume|cancel|
 * approve|reject are the operator's controls, and .../rollback creates the release that
 * undoes one. The executor, not this handler, makes releases move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/cache.h"
#include "api/v1/releases/render.h"
#include "api/v1/router.h"
#include "api/v1/validate.h"
#include "core/core.h"
#include "core/log.h"
#include "store/store.h"

#define LIST_DEFAULT 50
#define LIST_MAX     1000
/*
 * A finished release that may still be rolled back gets rolled_back_by when that
 * happens, maybe through another controller's API: its cached answer lives this long.
 */
#define CACHE_OPEN_TTL_MS 1000

/* What one release shows besides its row: its groups and left-out matches (none read). */
struct extras {
	struct release_group *groups;
	size_t ngroups;
	struct left_out_node *left;
	size_t nleft;
};

static int load_extras(struct db_conn *db, const struct release *r, struct extras *x, char *err,
                       size_t errlen)
{
	int rc = 0;

	memset(x, 0, sizeof(*x));
	if (r->group_by[0])
		rc = store_release_groups(db, r->id, &x->groups, &x->ngroups, err, errlen);
	if (rc == 0 && r->selector[0])
		rc = store_release_left_out(db, r->id, &x->left, &x->nleft, err, errlen);
	return rc;
}

static void extras_free(struct extras *x)
{
	free(x->groups);
	free(x->left);
	memset(x, 0, sizeof(*x));
}

static struct release_extras extras_view(const struct extras *x)
{
	return (struct release_extras){x->groups, x->ngroups, x->left, x->nleft};
}

/* The answer for one release: its fields, and which release it waits for if pending. */
static void send_release(struct api_request *req, struct db_conn *db, int status,
                         const struct release *r)
{
	struct release_extras view;
	struct extras x;
	int64_t waiting = 0;
	char err[512];
	cJSON *doc;

	if (load_extras(db, r, &x, err, sizeof(err))) {
		api_send_store_error(req->conn, CMDB_ERR, err);
		extras_free(&x);
		return;
	}
	view = extras_view(&x);
	doc = render_release(r, &view);
	extras_free(&x);

	if (r->status == RELEASE_PENDING &&
	    store_release_waiting_for(db, r->id, &waiting, err, sizeof(err)))
		log_warn("api", "release %lld: waiting_for unknown: %s", (long long)r->id, err);
	if (waiting)
		cJSON_AddNumberToObject(doc, "waiting_for", (double)waiting);
	else
		cJSON_AddNullToObject(doc, "waiting_for");
	api_send_json(req->conn, status, doc);
	cJSON_Delete(doc);
}

/* POST with ?dry_run=1: every check and the whole plan, and nothing written. */
static void preview(struct api_request *req, struct db_conn *db, const struct release_request *rq)
{
	struct release_preview pv;
	char err[512];
	int rc = store_release_preview(db, rq, &pv, err, sizeof(err));
	cJSON *doc;

	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	doc = render_preview(rq, &pv);
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
	store_release_preview_free(&pv);
}

void api_releases_create(struct api_request *req)
{
	struct mg_connection *conn = req->conn;
	char key[API_IDEM_KEY_MAX + 1], digest[65], err[512];
	struct release_input in = {0};
	struct release_request rq;
	struct db_conn *db = NULL;
	int dry_run, has_key, replayed = 0, rc;
	struct api_error e;
	struct release r;
	cJSON *body;

	if ((dry_run = api_query_flag(req, "dry_run")) < 0 ||
	    (has_key = api_idempotency_key(conn, key)) < 0 || api_read_json(conn, &body))
		return;
	if (api_parse_release_create(body, now_wall_ms(), &in, &e)) {
		api_send_error(conn, e.status, "%s", e.msg);
		goto out;
	}
	if (has_key && api_body_digest(body, digest)) {
		api_send_error(conn, 500, "out of memory");
		goto out;
	}
	rq = (struct release_request){
	    .version = in.version,
	    .plan = &in.plan,
	    .node_ids = in.node_ids,
	    .n = in.n,
	    .sel = in.sel,
	    .selector_text = in.selector_text,
	    .group_by = in.group_by,
	    .pause_between_groups = in.pause_between_groups,
	    .auto_rollback =
	        in.auto_rollback >= 0 ? in.auto_rollback : req->ctx->cfg->auto_rollback,
	    .require_approval = in.require_approval,
	    .policy = {.min_nodes = req->ctx->cfg->approval_min_nodes,
	               .min_percent = req->ctx->cfg->approval_min_percent},
	    /* A dry run writes nothing, its key included. */
	    .idem = {.principal = req->principal,
	             .key = has_key && !dry_run ? key : NULL,
	             .body_sha256 = digest},
	};
	db = api_db_acquire(req);
	if (!db)
		goto out;
	if (dry_run) {
		preview(req, db, &rq);
		goto out;
	}
	rc = store_release_create(db, &rq, &r, &replayed, err, sizeof(err));
	if (rc) {
		api_send_store_error(conn, rc, err);
		goto out;
	}
	if (!replayed && r.status == RELEASE_PENDING)
		api_work_ready(req->ctx);
	if (!replayed)
		log_info(
		    "api", "release %lld created by %s: version %lld, %d node%s in %d batch%s%s",
		    (long long)r.id, req->principal, (long long)r.version, r.total_nodes,
		    r.total_nodes == 1 ? "" : "s", r.batch_count, r.batch_count == 1 ? "" : "es",
		    r.approval_required ? ", awaiting approval" : "");
	send_release(req, db, replayed ? 200 : 201, &r);
out:
	if (db)
		api_db_put(req, db);
	api_release_input_free(&in);
	cJSON_Delete(body);
}

void api_releases_list(struct api_request *req)
{
	char status[32], limit_s[32], err[512];
	struct release *rels = NULL;
	int64_t limit = LIST_DEFAULT;
	int st = -1, rc;
	size_t n = 0;
	struct db_conn *db;
	cJSON *doc, *arr;

	rc = api_query_param(req->query, "status", status, sizeof(status));
	if (rc < 0 || (rc == 1 && (st = release_status_parse(status)) < 0)) {
		char list[256];

		release_status_list(list, sizeof(list));
		api_send_error(req->conn, 400, "status must be one of %s", list);
		return;
	}
	rc = api_query_param(req->query, "limit", limit_s, sizeof(limit_s));
	if (rc < 0 || (rc == 1 && parse_int64(limit_s, 1, LIST_MAX, &limit))) {
		api_send_error(req->conn, 400, "limit must be an integer from 1 to %d", LIST_MAX);
		return;
	}
	db = api_db_acquire(req);
	if (!db)
		return;
	rc = store_release_list(db, st, (int)limit, &rels, &n, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	doc = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(doc, "releases");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, render_release(&rels[i], NULL));
	cJSON_AddNumberToObject(doc, "count", (double)n);
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
	free(rels);
}

/* Reads ?view= and ?node_status=; 0, or -1 after answering 400. */
static int read_view(struct api_request *req, int *summary, int *node_status)
{
	char view[16], status[16];
	int rc;

	*summary = 0;
	*node_status = -1;
	rc = api_query_param(req->query, "view", view, sizeof(view));
	if (rc < 0 || (rc == 1 && strcmp(view, "full") != 0 && strcmp(view, "summary") != 0)) {
		api_send_error(req->conn, 400, "view must be full or summary");
		return -1;
	}
	*summary = rc == 1 && strcmp(view, "summary") == 0;
	rc = api_query_param(req->query, "node_status", status, sizeof(status));
	if (rc < 0 || (rc == 1 && (*node_status = node_status_parse(status)) < 0)) {
		char list[128];

		node_status_list(list, sizeof(list));
		api_send_error(req->conn, 400, "node_status must be one of %s", list);
		return -1;
	}
	if (*summary && *node_status >= 0) {
		api_send_error(req->conn, 400,
		               "node_status filters the full view; the summary"
		               " already counts every status");
		return -1;
	}
	return 0;
}

/*
 * Reads what the view needs and renders it. A finished release never changes, so its
 * rendering goes to the cache; *cacheable says so.
 */
static int render(struct api_request *req, struct db_conn *db, int summary, int node_status,
                  char **text, int *cacheable, int64_t *ttl_ms, char *err, size_t errlen)
{
	struct release_node *nodes = NULL;
	struct batch_counts *counts = NULL;
	struct release_extras view;
	struct extras x = {0};
	int64_t waiting = 0;
	struct release r;
	size_t n = 0, ncounts = 0;
	cJSON *doc;
	int rc;

	rc = store_release_get(db, req->id, &r, err, errlen);
	if (rc == 0 && r.status == RELEASE_PENDING)
		rc = store_release_waiting_for(db, req->id, &waiting, err, errlen);
	/* The summary, and a batch's status when only some of its nodes are listed. */
	if (rc == 0 && (summary || node_status >= 0))
		rc = store_release_batch_counts(db, req->id, &counts, &ncounts, err, errlen);
	if (rc == 0 && !summary)
		rc = store_release_nodes(db, req->id, node_status, &nodes, &n, err, errlen);
	if (rc == 0)
		rc = load_extras(db, &r, &x, err, errlen);
	if (rc) {
		free(counts);
		free(nodes);
		extras_free(&x);
		return rc;
	}
	view = extras_view(&x);
	doc = render_release(&r, &view);
	if (waiting)
		cJSON_AddNumberToObject(doc, "waiting_for", (double)waiting);
	else
		cJSON_AddNullToObject(doc, "waiting_for");
	cJSON_AddItemToObject(
	    doc, "batches",
	    summary ? render_summary(counts, ncounts, r.status, x.groups, x.ngroups)
	            : render_batches(nodes, n, counts, ncounts, r.status, x.groups, x.ngroups));
	*text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	free(nodes);
	free(counts);
	extras_free(&x);
	*cacheable = r.finished_at[0] != '\0';
	/* Sealed for good once it has its rollback, is one, or never dispatched anything. */
	*ttl_ms = r.rolled_back_by || r.rollback_of ||
	                  release_rollback_rule(r.status) != ROLLBACK_ALLOWED ||
	                  r.success_nodes + r.failed_nodes == 0
	              ? 0
	              : CACHE_OPEN_TTL_MS;
	if (!*text) {
		snprintf(err, errlen, "out of memory rendering release %lld", (long long)req->id);
		return CMDB_ENOMEM;
	}
	return 0;
}

/* A body at least this long is worth compressing for a client that takes gzip. */
#define GZIP_MIN_BYTES 16384

/* A cached answer, compressed when the client takes it and it has that form. */
static void send_blob(struct api_request *req, const struct api_blob *blob)
{
	int gzip = api_accepts_gzip(req->conn);
	size_t len;
	const char *body = api_blob_body(blob, gzip, &len);

	if (!body) {
		gzip = 0;
		body = api_blob_body(blob, 0, &len);
	}
	api_send_negotiated(req->conn, 200, body, len, gzip);
}

/* A fresh answer; a long one is compressed on the way for a client that takes gzip. */
static void send_text(struct api_request *req, const char *text, size_t len)
{
	char *gz = NULL;
	size_t gzlen = 0;

	if (len >= GZIP_MIN_BYTES && api_accepts_gzip(req->conn) &&
	    api_gzip(text, len, &gz, &gzlen) == 0 && gzlen < len) {
		api_send_negotiated(req->conn, 200, gz, gzlen, 1);
	} else {
		api_send_negotiated(req->conn, 200, text, len, 0);
	}
	free(gz);
}

void api_releases_get(struct api_request *req)
{
	int summary, node_status, cacheable = 0, rc;
	int64_t ttl_ms = 0;
	struct api_blob *blob = NULL;
	char key[64], err[512];
	char *text = NULL;
	struct db_conn *db;
	size_t len;

	if (read_view(req, &summary, &node_status))
		return;
	snprintf(key, sizeof(key), "%lld/%d/%d", (long long)req->id, summary, node_status);
	blob = api_cache_get(req->ctx->cache, key);
	if (blob) {
		send_blob(req, blob);
		api_blob_unref(blob);
		return;
	}
	db = api_db_acquire(req);
	if (!db)
		return;
	rc = render(req, db, summary, node_status, &text, &cacheable, &ttl_ms, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	len = strlen(text);
	if (cacheable) {
		api_cache_put(req->ctx->cache, key, text, len, ttl_ms);
		blob = api_cache_get(req->ctx->cache, key);
	}
	if (blob) {
		send_blob(req, blob);
		api_blob_unref(blob);
	} else {
		send_text(req, text, len);
	}
	cJSON_free(text);
}

/*
 * An action's body is optional; when sent it must be an empty JSON object, so that a
 * field a later version may take is not silently ignored now. 0, or -1 after answering.
 */
static int read_empty_body(struct api_request *req)
{
	cJSON *body = NULL;

	if (api_read_optional_json(req->conn, &body))
		return -1;
	if (body && body->child) {
		api_send_error(req->conn, 400, "this action takes no fields; send no body or {}");
		cJSON_Delete(body);
		return -1;
	}
	cJSON_Delete(body);
	return 0;
}

/* The 409 of a refused transition: the error, a code to tell it apart, the current status. */
static void send_refusal(struct api_request *req, const char *err, enum release_status status)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "error", err);
	cJSON_AddStringToObject(doc, "code", "invalid_transition");
	cJSON_AddStringToObject(doc, "status", release_status_name(status));
	api_send_json(req->conn, 409, doc);
	cJSON_Delete(doc);
}

/*
 * POST /api/v1/releases/{id}/<action>: one transition of the state table, or 409.
 * Approve and reject take an optional {"comment": "..."}; the others no fields.
 */
static void act(struct api_request *req, enum release_event ev)
{
	const char *comment = NULL;
	struct db_conn *db = NULL;
	cJSON *body = NULL;
	struct api_error e;
	struct release r;
	int changed = 0, rc;
	char err[512];

	if (ev == RELEASE_EV_APPROVE || ev == RELEASE_EV_REJECT) {
		if (api_read_optional_json(req->conn, &body))
			return;
		if (api_parse_decision(body, &comment, &e)) {
			api_send_error(req->conn, e.status, "%s", e.msg);
			goto out;
		}
	} else if (read_empty_body(req)) {
		return;
	}
	db = api_db_acquire(req);
	if (!db)
		goto out;
	rc = store_release_act(db, req->id, ev, req->principal, comment, &r, &changed, err,
	                       sizeof(err));
	if (rc == CMDB_ESTATE) {
		send_refusal(req, err, r.status);
	} else if (rc) {
		api_send_store_error(req->conn, rc, err);
	} else {
		if (changed && r.status == RELEASE_PENDING)
			api_work_ready(req->ctx); /* resumed or approved: claimable now */
		log_info("api", "release %lld: %s by %s%s", (long long)req->id,
		         release_event_name(ev), req->principal,
		         changed ? "" : " (no change: already so)");
		send_release(req, db, 200, &r);
	}
out:
	if (db)
		api_db_put(req, db);
	cJSON_Delete(body);
}

void api_releases_pause(struct api_request *req)
{
	act(req, RELEASE_EV_PAUSE);
}

void api_releases_resume(struct api_request *req)
{
	act(req, RELEASE_EV_RESUME);
}

void api_releases_cancel(struct api_request *req)
{
	act(req, RELEASE_EV_CANCEL);
}

void api_releases_approve(struct api_request *req)
{
	act(req, RELEASE_EV_APPROVE);
}

void api_releases_reject(struct api_request *req)
{
	act(req, RELEASE_EV_REJECT);
}

/*
 * POST /api/v1/releases/{id}/rollback: 201 with the new rollback release, 200 with the
 * one it already has; 409 when it has not ended or is itself a rollback, 422 when there
 * is nothing to roll back.
 */
void api_releases_rollback(struct api_request *req)
{
	char reason[STORE_REASON_LEN], err[512];
	struct db_conn *db;
	struct release r, orig;
	int existing = 0, rc;

	if (read_empty_body(req))
		return;
	db = api_db_acquire(req);
	if (!db)
		return;
	snprintf(reason, sizeof(reason), "requested by %s", req->principal);
	rc = store_release_rollback(db, req->id, req->principal, reason, &r, &existing, err,
	                            sizeof(err));
	if (rc == CMDB_ESTATE) {
		char why[512];

		if (store_release_get(db, req->id, &orig, why, sizeof(why)) == 0)
			send_refusal(req, err, orig.status);
		else
			api_send_error(req->conn, 409, "%s", err);
	} else if (rc) {
		api_send_store_error(req->conn, rc, err);
	} else {
		char prefix[32];

		if (!existing) {
			log_info("api", "release %lld: rollback release %lld created by %s",
			         (long long)req->id, (long long)r.id, req->principal);
			api_work_ready(req->ctx);
		}
		/* Its cached answers lack rolled_back_by now. */
		snprintf(prefix, sizeof(prefix), "%lld/", (long long)req->id);
		api_cache_drop_prefix(req->ctx->cache, prefix);
		send_release(req, db, existing ? 200 : 201, &r);
	}
	api_db_put(req, db);
}

#define EVENTS_DEFAULT 100
#define EVENTS_MAX     1000

/*
 * GET /api/v1/releases/{id}/events?after=<event id>&limit=: the timeline in order. A
 * client tails it by passing back next_after.
 */
void api_releases_events(struct api_request *req)
{
	char after_s[32], limit_s[32], err[512];
	int64_t after = 0, limit = EVENTS_DEFAULT;
	struct timeline_event *ev = NULL;
	struct db_conn *db;
	cJSON *doc, *arr;
	size_t n = 0;
	int rc;

	rc = api_query_param(req->query, "after", after_s, sizeof(after_s));
	if (rc < 0 || (rc == 1 && parse_int64(after_s, 0, INT64_MAX, &after))) {
		api_send_error(req->conn, 400, "after must be an event id (an integer, 0 or more)");
		return;
	}
	rc = api_query_param(req->query, "limit", limit_s, sizeof(limit_s));
	if (rc < 0 || (rc == 1 && parse_int64(limit_s, 1, EVENTS_MAX, &limit))) {
		api_send_error(req->conn, 400, "limit must be an integer from 1 to %d", EVENTS_MAX);
		return;
	}
	db = api_db_acquire(req);
	if (!db)
		return;
	rc = store_release_events(db, req->id, after, (int)limit, &ev, &n, err, sizeof(err));
	api_db_put(req, db);
	if (rc) {
		api_send_store_error(req->conn, rc, err);
		return;
	}
	doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "release_id", (double)req->id);
	arr = cJSON_AddArrayToObject(doc, "events");
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "id", (double)ev[i].id);
		cJSON_AddStringToObject(o, "at", ev[i].at);
		cJSON_AddStringToObject(o, "type", ev[i].type);
		if (ev[i].node_id)
			cJSON_AddNumberToObject(o, "node_id", (double)ev[i].node_id);
		else
			cJSON_AddNullToObject(o, "node_id");
		cJSON_AddStringToObject(o, "actor", ev[i].actor);
		api_json_add_optional(o, "detail", ev[i].detail);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(doc, "next_after", (double)(n ? ev[n - 1].id : after));
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
	free(ev);
}
