/*
 * notify: the delivery thread and the pure parts it is made of (masking, payload,
 * signature, back-off). One notification at a time: a webhook is a low-rate channel,
 * and a slow receiver must hold up nothing but its own queue.
 */
#include "notify/notify.h"

#include <curl/curl.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/backoff.h"
#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"

/* A notification is held this much longer than an attempt may take. */
#define LEASE_MARGIN_S 10
/* When nothing is due, look again after this. */
#define IDLE_MS  500
#define TEXT_MAX 600

struct notifier {
	const struct config *cfg;
	char owner[STORE_OWNER_LEN];
	char shown_url[512]; /* masked, for logs */
	struct db_conn conn;
	CURL *curl;
	pthread_t thread;
	int started;
	atomic_int stop;
	unsigned int seed;
	int db_failures; /* failed connects in a row */
};

size_t notify_mask_url(const char *url, char *out, size_t len)
{
	const char *scheme = strstr(url, "://"), *host, *at, *end, *query;
	char buf[2048];
	int n;

	if (!scheme) {
		n = snprintf(out, len, "***");
		return (size_t)n;
	}
	host = scheme + 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	query = strpbrk(end, "?#");
	n = snprintf(buf, sizeof(buf), "%.*s%s%.*s%.*s%s", (int)(host - url), url, at ? "***@" : "",
	             (int)(end - (at ? at + 1 : host)), at ? at + 1 : host,
	             (int)((query ? query : end + strlen(end)) - end), end, query ? "?***" : "");
	str_copy(out, buf, len);
	return n < 0 ? 0 : (size_t)n;
}

void notify_signature(const char *secret, const char *body, size_t len, char out[72])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[32];
	unsigned int maclen = 0;

	memcpy(out, "sha256=", 7);
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac,
	          &maclen) ||
	    maclen != 32) {
		out[7] = '\0';
		return;
	}
	for (int i = 0; i < 32; i++) {
		out[7 + i * 2] = hex[mac[i] >> 4];
		out[8 + i * 2] = hex[mac[i] & 15];
	}
	out[71] = '\0';
}

/* Milliseconds between two RFC 3339 times of the release; 0 when either is missing. */
static int64_t duration_ms(const char *from, const char *to)
{
	int64_t a, b;

	if (!from[0] || !to[0] || rfc3339_to_ms(from, &a) || rfc3339_to_ms(to, &b) || b < a)
		return 0;
	return b - a;
}

/* The one line a chat webhook shows. */
static void one_line(const struct notification *n, char *out, size_t len)
{
	const struct release *r = &n->release;
	char err[200] = "";

	if (n->first_error[0])
		snprintf(err, sizeof(err), "; first error: %.180s", n->first_error);
	if (strcmp(n->event, "release.awaiting_approval") == 0)
		snprintf(
		    out, len,
		    "cmdb: release %lld (version %lld, %d nodes) by %s awaits approval: %.200s",
		    (long long)r->id, (long long)r->version, r->total_nodes,
		    r->created_by[0] ? r->created_by : "unknown", r->approval_reason);
	else if (strcmp(n->event, "release.paused") == 0)
		snprintf(out, len,
		         "cmdb: release %lld (version %lld) paused: %.200s; %d of %d nodes done",
		         (long long)r->id, (long long)r->version,
		         r->paused_reason[0] ? r->paused_reason : "by an operator",
		         r->success_nodes + r->failed_nodes, r->total_nodes);
	else
		snprintf(
		    out, len,
		    "cmdb: release %lld (version %lld) %s: %d of %d nodes succeeded, %d failed,"
		    " %d skipped%s",
		    (long long)r->id, (long long)r->version, n->status, r->success_nodes,
		    r->total_nodes, r->failed_nodes, n->skipped_nodes, err);
}

int notify_payload(const struct notification *n, int64_t now_ms, char *out, size_t len)
{
	const struct release *r = &n->release;
	cJSON *o = cJSON_CreateObject();
	char text[TEXT_MAX], first[STORE_ERROR_LEN], sent[40], db[32];
	char *body;
	int rc = -1;

	if (!o)
		return -1;
	one_line(n, text, sizeof(text));
	str_copy(first, n->first_error, sizeof(first));
	format_db_time(now_ms, db, sizeof(db));
	if (db_time_to_rfc3339(db, sent, sizeof(sent)))
		sent[0] = '\0';
	cJSON_AddStringToObject(o, "delivery_id", n->delivery_id);
	cJSON_AddStringToObject(o, "event", n->event);
	cJSON_AddNumberToObject(o, "release_id", (double)r->id);
	cJSON_AddNumberToObject(o, "version", (double)r->version);
	cJSON_AddStringToObject(o, "status", n->status);
	cJSON_AddNumberToObject(o, "total_nodes", r->total_nodes);
	cJSON_AddNumberToObject(o, "success_nodes", r->success_nodes);
	cJSON_AddNumberToObject(o, "failed_nodes", r->failed_nodes);
	cJSON_AddNumberToObject(o, "skipped_nodes", n->skipped_nodes);
	if (first[0])
		cJSON_AddStringToObject(o, "first_error", first);
	else
		cJSON_AddNullToObject(o, "first_error");
	cJSON_AddNumberToObject(
	    o, "duration_ms",
	    (double)duration_ms(r->started_at[0] ? r->started_at : r->created_at, r->finished_at));
	if (r->created_by[0])
		cJSON_AddStringToObject(o, "created_by", r->created_by);
	else
		cJSON_AddNullToObject(o, "created_by");
	if (r->rollback_of)
		cJSON_AddNumberToObject(o, "rollback_of", (double)r->rollback_of);
	cJSON_AddStringToObject(o, "created_at", n->created_at);
	cJSON_AddStringToObject(o, "sent_at", sent);
	cJSON_AddStringToObject(o, "text", text);
	body = cJSON_PrintUnformatted(o);
	if (body && strlen(body) < len && strlen(body) <= NOTIFY_BODY_MAX) {
		memcpy(out, body, strlen(body) + 1);
		rc = (int)strlen(body);
	}
	cJSON_free(body);
	cJSON_Delete(o);
	return rc;
}

/* Gives up a transfer as soon as the controller stops. */
static int progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct notifier *n = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&n->stop) ? 1 : 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr, (void)arg;
	return size * nmemb;
}

/* One POST. 0 when the receiver answered 2xx; otherwise why in detail. */
static int post(struct notifier *nt, const struct notification *n, const char *body, size_t len,
                char *detail, size_t dlen)
{
	struct curl_slist *h = NULL;
	char hdr[160], sig[72];
	long status = 0;
	CURLcode code;

	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "User-Agent: cmdb-release");
	snprintf(hdr, sizeof(hdr), "X-Cmdb-Delivery: %s", n->delivery_id);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof(hdr), "X-Cmdb-Event: %s", n->event);
	h = curl_slist_append(h, hdr);
	if (nt->cfg->webhook_secret[0]) {
		notify_signature(nt->cfg->webhook_secret, body, len, sig);
		snprintf(hdr, sizeof(hdr), "X-Cmdb-Signature: %s", sig);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_reset(nt->curl);
	curl_easy_setopt(nt->curl, CURLOPT_URL, nt->cfg->webhook_url);
	curl_easy_setopt(nt->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(nt->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(nt->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(nt->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(nt->curl, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(nt->curl, CURLOPT_TIMEOUT, (long)nt->cfg->webhook_timeout_s);
	curl_easy_setopt(nt->curl, CURLOPT_CONNECTTIMEOUT, (long)nt->cfg->webhook_timeout_s);
	curl_easy_setopt(nt->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(nt->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(nt->curl, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(nt->curl, CURLOPT_XFERINFODATA, nt);
	code = curl_easy_perform(nt->curl);
	curl_slist_free_all(h);
	if (code != CURLE_OK) {
		snprintf(detail, dlen, "%s",
		         code == CURLE_OPERATION_TIMEDOUT ? "timed out (RELEASE_WEBHOOK_TIMEOUT)"
		                                          : curl_easy_strerror(code));
		return -1;
	}
	curl_easy_getinfo(nt->curl, CURLINFO_RESPONSE_CODE, &status);
	snprintf(detail, dlen, "HTTP %ld", status);
	return status >= 200 && status < 300 ? 0 : -1;
}

/* Posts n once and records the outcome. */
static void deliver(struct notifier *nt, struct notification *n)
{
	char body[NOTIFY_BODY_MAX + 1], detail[256], err[512];
	enum notification_outcome outcome;
	int64_t retry_in = 0;
	int len = notify_payload(n, now_wall_ms(), body, sizeof(body));

	if (len < 0) {
		snprintf(detail, sizeof(detail), "the payload could not be built");
		outcome = NOTIFY_GAVE_UP;
	} else if (post(nt, n, body, (size_t)len, detail, sizeof(detail)) == 0) {
		outcome = NOTIFY_DELIVERED;
	} else if (atomic_load(&nt->stop)) {
		/* Abandoned by the shutdown: it goes out after the restart, with the same id. */
		snprintf(detail, sizeof(detail), "abandoned: the controller is stopping");
		outcome = NOTIFY_RETRY;
	} else if (n->attempts >= nt->cfg->webhook_retries) {
		outcome = NOTIFY_GAVE_UP;
	} else {
		outcome = NOTIFY_RETRY;
		retry_in = backoff_ms(&backoff_webhook, n->attempts + 1, &nt->seed);
	}
	metrics_webhook(outcome == NOTIFY_DELIVERED, outcome == NOTIFY_GAVE_UP);
	if (outcome == NOTIFY_DELIVERED)
		log_rel(LOG_INFO, "notify", n->release_id, 0,
		        "release %lld: %s %s delivered to %s (%s)", (long long)n->release_id,
		        n->event, n->delivery_id, nt->shown_url, detail);
	else
		log_rel(LOG_WARN, "notify", n->release_id, 0,
		        "release %lld: %s %s to %s failed, attempt %d: %s; %s",
		        (long long)n->release_id, n->event, n->delivery_id, nt->shown_url,
		        n->attempts + 1, detail,
		        outcome == NOTIFY_GAVE_UP ? "giving up (RELEASE_WEBHOOK_RETRIES)"
		                                  : "will retry");
	if (store_notification_done(&nt->conn, n, nt->owner, outcome, retry_in, detail, err,
	                            sizeof(err)))
		log_warn("notify", "recording delivery %s: %s", n->delivery_id, err);
}

static void sleep_ms(struct notifier *nt, int ms)
{
	for (int slept = 0; slept < ms && !atomic_load(&nt->stop); slept += 50) {
		struct timespec ts = {0, 50 * 1000000L};

		nanosleep(&ts, NULL);
	}
}

static int db_ready(struct notifier *nt)
{
	char err[512];

	if (nt->conn.mysql && !nt->conn.broken &&
	    (!db_check_due(&nt->conn, now_mono_ms()) || db_check(&nt->conn, err, sizeof(err)) == 0))
		return 1;
	db_close(&nt->conn);
	if (db_connect(&nt->conn, &nt->cfg->db, err, sizeof(err)) == 0) {
		nt->db_failures = 0;
		return 1;
	}
	nt->db_failures++;
	return 0;
}

static void *loop(void *arg)
{
	struct notifier *nt = arg;
	struct notification *n = malloc(sizeof(*n));
	char err[512];

	if (!n) {
		log_error("notify", "out of memory; no webhook notifications");
		return NULL;
	}
	log_info("notify", "webhook notifications to %s (timeout %d s, %d retries%s)",
	         nt->shown_url, nt->cfg->webhook_timeout_s, nt->cfg->webhook_retries,
	         nt->cfg->webhook_secret[0] ? ", signed" : "");
	while (!atomic_load(&nt->stop)) {
		int rc;

		if (!db_ready(nt)) {
			sleep_ms(nt, (int)backoff_ms(&backoff_db, nt->db_failures, NULL));
			continue;
		}
		rc = store_notification_claim(&nt->conn, nt->owner,
		                              nt->cfg->webhook_timeout_s + LEASE_MARGIN_S, n, err,
		                              sizeof(err));
		if (rc == CMDB_ENOTFOUND) {
			sleep_ms(nt, IDLE_MS);
		} else if (rc) {
			log_warn("notify", "taking a notification: %s", err);
			nt->conn.broken = 1;
		} else {
			deliver(nt, n);
		}
	}
	free(n);
	return NULL;
}

struct notifier *notify_new(const struct config *cfg, char *err, size_t errlen)
{
	struct notifier *nt = calloc(1, sizeof(*nt));
	char host[64] = "host";
	unsigned int salt = 0;

	if (!nt || !(nt->curl = curl_easy_init())) {
		free(nt);
		snprintf(err, errlen, "notify: cannot set up libcurl");
		return NULL;
	}
	nt->cfg = cfg;
	gethostname(host, sizeof(host) - 1);
	if (getrandom(&salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		salt = (unsigned int)now_wall_ms();
	snprintf(nt->owner, sizeof(nt->owner), "%.60s:%d:%08x", host, (int)getpid(), salt);
	nt->seed = salt;
	notify_mask_url(cfg->webhook_url, nt->shown_url, sizeof(nt->shown_url));
	atomic_init(&nt->stop, 0);
	return nt;
}

int notify_start(struct notifier *nt)
{
	if (pthread_create(&nt->thread, NULL, loop, nt) != 0)
		return -1;
	nt->started = 1;
	return 0;
}

void notify_stop(struct notifier *nt)
{
	if (!nt || !nt->started)
		return;
	atomic_store(&nt->stop, 1);
	pthread_join(nt->thread, NULL);
	nt->started = 0;
}

void notify_free(struct notifier *nt)
{
	if (!nt)
		return;
	notify_stop(nt);
	db_close(&nt->conn);
	curl_easy_cleanup(nt->curl);
	free(nt);
}
