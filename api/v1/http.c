/*
 * http: JSON responses and strict request readers shared by the v1 handlers.
 */
#include "api/v1/http.h"

#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/validate.h"
#include "core/core.h"
#include "core/log.h"

/* Every answer goes out here: JSON, its length, no caching, and one optional header. */
/* The status of the answer the current thread sent last (each request runs on one thread). */
static __thread int last_status;

void api_reset_status(void)
{
	last_status = 0;
}

void api_note_status(int status)
{
	last_status = status;
}

int api_last_status(void)
{
	return last_status;
}

static void send_typed(struct mg_connection *conn, int status, const char *ctype, const char *body,
                       size_t len, const char *extra_name, const char *extra_value)
{
	char clen[32];

	last_status = status;
	snprintf(clen, sizeof(clen), "%zu", len);
	mg_response_header_start(conn, status);
	mg_response_header_add(conn, "Content-Type", ctype, -1);
	mg_response_header_add(conn, "Content-Length", clen, -1);
	mg_response_header_add(conn, "Cache-Control", "no-store", -1);
	if (extra_name)
		mg_response_header_add(conn, extra_name, extra_value, -1);
	mg_response_header_send(conn);
	mg_write(conn, body, len);
}

static void send_response(struct mg_connection *conn, int status, const char *body, size_t len,
                          const char *extra_name, const char *extra_value)
{
	send_typed(conn, status, "application/json", body, len, extra_name, extra_value);
}

int api_accepts_gzip(struct mg_connection *conn)
{
	const char *h = mg_get_header(conn, "Accept-Encoding");

	/* Each coding is a token, maybe with ";q=..."; "gzip;q=0" refuses it. */
	while (h && *h) {
		size_t n;

		h += strspn(h, " \t,");
		n = strcspn(h, ",");
		if (n >= 4 && strncasecmp(h, "gzip", 4) == 0 &&
		    (n == 4 || h[4] == ';' || h[4] == ' ')) {
			const char *q = memchr(h, '=', n);

			return !q || strtod(q + 1, NULL) > 0;
		}
		h += n;
	}
	return 0;
}

void api_send_negotiated(struct mg_connection *conn, int status, const char *body, size_t len,
                         int gzip)
{
	char clen[32];

	last_status = status;
	snprintf(clen, sizeof(clen), "%zu", len);
	mg_response_header_start(conn, status);
	mg_response_header_add(conn, "Content-Type", "application/json", -1);
	mg_response_header_add(conn, "Content-Length", clen, -1);
	mg_response_header_add(conn, "Cache-Control", "no-store", -1);
	mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
	if (gzip)
		mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
	mg_response_header_send(conn);
	mg_write(conn, body, len);
}

void api_send_text(struct mg_connection *conn, int status, const char *ctype, const char *body,
                   size_t len)
{
	send_typed(conn, status, ctype, body, len, NULL, NULL);
}

void api_send_body(struct mg_connection *conn, int status, const char *body, size_t len)
{
	send_response(conn, status, body, len, NULL, NULL);
}

void api_json_add_optional(cJSON *obj, const char *name, const char *value)
{
	if (*value)
		cJSON_AddStringToObject(obj, name, value);
	else
		cJSON_AddNullToObject(obj, name);
}

void api_send_json(struct mg_connection *conn, int status, const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);

	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}";

		api_send_body(conn, 500, oom, sizeof(oom) - 1);
		return;
	}
	api_send_body(conn, status, text, strlen(text));
	cJSON_free(text);
}

/* {"error": msg} and, when code is not NULL, "code": code. */
static void send_error_doc(struct mg_connection *conn, int status, const char *code,
                           const char *fmt, va_list ap)
{
	char msg[1024];
	cJSON *doc = cJSON_CreateObject();

	vsnprintf(msg, sizeof(msg), fmt, ap);
	cJSON_AddStringToObject(doc, "error", msg);
	if (code)
		cJSON_AddStringToObject(doc, "code", code);
	api_send_json(conn, status, doc);
	cJSON_Delete(doc);
}

void api_send_error(struct mg_connection *conn, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_error_doc(conn, status, NULL, fmt, ap);
	va_end(ap);
}

void api_send_error_code(struct mg_connection *conn, int status, const char *code, const char *fmt,
                         ...)
{
	va_list ap;

	va_start(ap, fmt);
	send_error_doc(conn, status, code, fmt, ap);
	va_end(ap);
}

/* An error answer with one extra header. */
static void send_error_with(struct mg_connection *conn, int status, const char *name,
                            const char *value, const char *msg)
{
	cJSON *doc = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(doc, "error", msg);
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (!text) {
		api_send_error(conn, 500, "out of memory");
		return;
	}
	send_response(conn, status, text, strlen(text), name, value);
	cJSON_free(text);
}
void api_send_unauthorized(struct mg_connection *conn, const char *msg)
{
	send_error_with(conn, 401, "WWW-Authenticate", "Bearer realm=\"cmdb\"", msg);
}

void api_send_not_allowed(struct mg_connection *conn, const char *allow)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "method not allowed; use %s", allow);
	send_error_with(conn, 405, "Allow", allow, msg);
}

int api_read_optional_json(struct mg_connection *conn, cJSON **doc)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);

	*doc = NULL;
	if (ri->content_length <= 0 && !mg_get_header(conn, "Transfer-Encoding"))
		return 0;
	return api_read_json(conn, doc);
}

int api_read_json(struct mg_connection *conn, cJSON **doc)
{
	return api_read_json_max(conn, API_BODY_MAX, doc);
}

int api_read_json_max(struct mg_connection *conn, size_t max, cJSON **doc)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *ctype = mg_get_header(conn, "Content-Type");
	size_t len = 0, cap = 4096;
	struct api_error e;
	char *buf;
	int n, rc;

	*doc = NULL;
	if (ri->content_length > (long long)max) {
		api_send_error(conn, 413, "request body larger than %zu bytes", max);
		return -1;
	}
	if (ctype && strncasecmp(ctype, "application/json", 16) != 0) {
		api_send_error(conn, 415,
		               "Content-Type must be application/json"
		               " (curl: -H 'Content-Type: application/json')");
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		api_send_error(conn, 500, "out of memory");
		return -1;
	}
	while ((n = mg_read(conn, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len > max) {
			free(buf);
			api_send_error(conn, 413, "request body larger than %zu bytes", max);
			return -1;
		}
		if (len == cap) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				free(buf);
				api_send_error(conn, 500, "out of memory");
				return -1;
			}
			buf = grown;
			cap *= 2;
		}
	}
	if (n < 0) {
		free(buf);
		api_send_error(conn, 400, "request body could not be read");
		return -1;
	}
	rc = api_parse_object(buf, len, doc, &e);
	free(buf);
	if (rc)
		api_send_error(conn, e.status, "%s", e.msg);
	return rc;
}

void api_send_store_error(struct mg_connection *conn, int code, const char *err)
{
	switch (code) {
	case CMDB_ENOTFOUND:
		api_send_error(conn, 404, "%s", err);
		break;
	case CMDB_ECONFLICT:
	case CMDB_ESTATE:
		api_send_error(conn, 409, "%s", err);
		break;
	case CMDB_EMISMATCH:
		api_send_error_code(conn, 409, "idempotency_payload_mismatch", "%s", err);
		break;
	case CMDB_EINVAL:
		api_send_error(conn, 422, "%s", err);
		break;
	case CMDB_EFORBIDDEN:
		api_send_error(conn, 403, "%s", err);
		break;
	case CMDB_EDBDOWN:
		log_warn("api", "%s", err);
		api_send_error(conn, 503, "database unavailable; retry later");
		break;
	case CMDB_ERETRY:
		log_warn("api", "%s (tried again, and lost every time)", err);
		api_send_error(conn, 503, "the database was busy with conflicting changes; retry");
		break;
	default:
		log_error("api", "%s", err);
		api_send_error(conn, 500, "internal error; see the server log");
		break;
	}
}

struct db_conn *api_db_acquire(struct api_request *req)
{
	char err[512];
	int code = 0;
	struct db_conn *c = db_pool_acquire(req->ctx->pool, &code, err, sizeof(err));

	if (!c)
		api_send_store_error(req->conn, code == CMDB_ENOMEM ? CMDB_ERR : CMDB_EDBDOWN, err);
	return c;
}

void api_db_put(struct api_request *req, struct db_conn *c)
{
	db_pool_put(req->ctx->pool, c);
}

int api_query_param(const char *query, const char *name, char *buf, size_t len)
{
	int n;

	if (!query)
		return 0;
	n = mg_get_var(query, strlen(query), name, buf, len);
	if (n == -1)
		return 0;
	if (n < 0)
		return -1;
	return 1;
}

int api_idempotency_key(struct mg_connection *conn, char *key)
{
	const char *v = mg_get_header(conn, "Idempotency-Key");
	size_t n;

	if (!v)
		return 0;
	n = strlen(v);
	for (size_t i = 0; i < n && n <= API_IDEM_KEY_MAX; i++) {
		if (v[i] < 0x21 || v[i] > 0x7e) {
			n = 0;
			break;
		}
	}
	if (n == 0 || n > API_IDEM_KEY_MAX) {
		api_send_error(conn, 400,
		               "Idempotency-Key must be 1 to %d printable ASCII characters"
		               " without spaces",
		               API_IDEM_KEY_MAX);
		return -1;
	}
	memcpy(key, v, n + 1);
	return 1;
}

int api_body_digest(const cJSON *doc, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char hash[SHA256_DIGEST_LENGTH];
	char *text = cJSON_PrintUnformatted(doc);

	if (!text)
		return -1;
	SHA256((const unsigned char *)text, strlen(text), hash);
	cJSON_free(text);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[hash[i] >> 4];
		out[2 * i + 1] = hex[hash[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

int api_query_flag(struct api_request *req, const char *name)
{
	char v[8];
	int rc = api_query_param(req->query, name, v, sizeof(v));

	if (rc == 0 || (rc == 1 && (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)))
		return 0;
	if (rc == 1 && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0))
		return 1;
	api_send_error(req->conn, 400, "%s must be 1, true, 0 or false", name);
	return -1;
}

int api_reload_tokens(struct api_ctx *ctx, const char *path, char *err, size_t errlen)
{
	struct auth fresh = AUTH_INIT, old;

	if (auth_load_tokens(&fresh, path, err, errlen))
		return -1;
	pthread_rwlock_wrlock(&ctx->auth_lock);
	old = *ctx->auth;
	*ctx->auth = fresh;
	pthread_rwlock_unlock(&ctx->auth_lock);
	auth_free(&old);
	return 0;
}

void api_work_ready(const struct api_ctx *ctx)
{
	if (ctx->work_ready)
		ctx->work_ready(ctx->work_ready_arg);
}
