/*
 * health: the probes a supervisor asks (GET /health/live: the process answers;
 * GET /health/ready: it can do its work) and GET /metrics in the Prometheus text format.
 * /healthz and /readyz are the old names of the two probes.
 */
#include <stdio.h>
#include <string.h>

#include "api/v1/front/front.h"
#include "api/v1/router.h"
#include "core/core.h"
#include "db/migrate.h"
#include "metrics/metrics.h"
#include "store/store.h"

/* The executor loop turns at least every quarter second; this long without one is dead. */
#define EXECUTOR_STALE_MS 5000
/* Every API worker busy and a request waiting this long: the API is exhausted. */
#define API_EXHAUSTED_MS 1000

void api_health_live(struct api_request *req)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "status", "ok");
	api_send_json(req->conn, 200, doc);
	cJSON_Delete(doc);
}

/*
 * The database answers (on Galera: a usable node does) and its schema is the one this
 * binary was built for; node is the one it answered on.
 */
static const char *check_database(struct api_ctx *ctx, char *node, size_t nodelen, char *why,
                                  size_t len)
{
	char err[256];
	int code = 0;
	int64_t applied = 0;
	struct db_conn *c = db_pool_acquire(ctx->pool, &code, err, sizeof(err));
	const char *state = "up";

	node[0] = '\0';
	if (c && db_check(c, err, sizeof(err)) != 0) {
		db_pool_put(ctx->pool, c);
		c = db_pool_acquire(ctx->pool, &code, err, sizeof(err));
	}
	if (c)
		db_node_name(c, node, nodelen);
	if (!c || c->broken) {
		snprintf(why, len, "database unreachable: %s", err);
		state = "down";
	} else if (ctx->schema_expected && (migrate_applied(c, &applied, err, sizeof(err)) ||
	                                    applied < ctx->schema_expected)) {
		snprintf(why, len,
		         "schema at migration %lld, this build needs %lld: run cmdb migrate",
		         (long long)applied, (long long)ctx->schema_expected);
		state = "behind";
	}
	db_pool_put(ctx->pool, c);
	return state;
}

/*
 * The API pool's load into *l; 1 when every API worker is busy and a request has waited
 * API_EXHAUSTED_MS for one (why says so when it is still empty).
 */
static int check_workers(const struct api_ctx *ctx, struct front_load *l, char *why, size_t len)
{
	int exhausted;

	memset(l, 0, sizeof(*l));
	if (ctx->front)
		front_load(ctx->front, l);
	exhausted = l->workers && l->busy >= l->workers && l->longest_wait_ms >= API_EXHAUSTED_MS;
	if (exhausted && !why[0])
		snprintf(why, len,
		         "all %d API workers are busy and %d requests wait, the longest for %lld ms"
		         " (CMDB_API_THREADS)",
		         l->workers, l->waiting, (long long)l->longest_wait_ms);
	return exhausted;
}

static void add_workers(cJSON *doc, const struct front_load *l, int exhausted)
{
	cJSON *w = cJSON_AddObjectToObject(doc, "api_workers");

	cJSON_AddStringToObject(doc, "api", exhausted ? "exhausted" : "ok");
	cJSON_AddNumberToObject(w, "busy", l->busy);
	cJSON_AddNumberToObject(w, "total", l->workers);
	cJSON_AddNumberToObject(w, "waiting", l->waiting);
	cJSON_AddNumberToObject(w, "longest_wait_ms", (double)l->longest_wait_ms);
}

void api_health_ready(struct api_request *req)
{
	struct api_ctx *ctx = req->ctx;
	cJSON *doc = cJSON_CreateObject();
	char why[320] = "", node[DB_HOST_NAMES + 16];
	const char *db = check_database(ctx, node, sizeof(node), why, sizeof(why)),
	           *executor = "off";
	int64_t turn = metrics_executor_last_turn();
	int ready = db[0] == 'u', exhausted;
	struct front_load load;

	if (ctx->cfg->executor_enabled) {
		executor = turn && now_mono_ms() - turn < EXECUTOR_STALE_MS ? "running" : "stalled";
		if (executor[0] == 's') {
			ready = 0;
			if (!why[0])
				snprintf(why, sizeof(why),
				         "the executor loop has not turned for %d s",
				         EXECUTOR_STALE_MS / 1000);
		}
	}
	exhausted = check_workers(ctx, &load, why, sizeof(why));
	if (exhausted)
		ready = 0;
	cJSON_AddStringToObject(doc, "status", ready ? "ok" : "unavailable");
	cJSON_AddStringToObject(doc, "database", db);
	if (node[0])
		cJSON_AddStringToObject(doc, "database_node", node);
	cJSON_AddStringToObject(doc, "executor", executor);
	add_workers(doc, &load, exhausted);
	if (why[0])
		cJSON_AddStringToObject(doc, "reason", why);
	api_send_json(req->conn, ready ? 200 : 503, doc);
	cJSON_Delete(doc);
}

void api_metrics(struct api_request *req)
{
	struct strbuf out = STRBUF_INIT;
	struct metrics_db_view db = {0};
	char err[256];
	int code = 0;
	struct db_conn *c = db_pool_acquire(req->ctx->pool, &code, err, sizeof(err));

	/* Without the database the process's own metrics are still worth a scrape. */
	if (c)
		store_metrics_view(c, req->ctx->cfg->node_timeout_s, &db, err, sizeof(err));
	db_pool_put(req->ctx->pool, c);
	metrics_write(&out, &db);
	if (out.failed) {
		api_send_error(req->conn, 500, "out of memory");
	} else {
		api_send_text(req->conn, 200, "text/plain; version=0.0.4; charset=utf-8", out.buf,
		              out.len);
	}
	strbuf_free(&out);
}
