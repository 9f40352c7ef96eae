/*
 * http: what every handler needs to speak JSON over civetweb: reading a bounded
 * body, sending a JSON document or a {"error": "..."} answer, mapping store error
 * codes to HTTP statuses, and strict readers for JSON fields and query parameters.
 */
#ifndef CMDB_API_HTTP_H
#define CMDB_API_HTTP_H

#include <cjson/cJSON.h>
#include <civetweb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "config/config.h"
#include "db/db.h"

#define API_BODY_MAX (1024 * 1024)
/*
 * POST /api/v1/nodes/import's body, raised for this route only: 10,000 nodes of up to
 * 3,200 bytes of JSON each (a node with a dozen labels of 100 characters fits twice).
 */
#define API_IMPORT_BODY_MAX (32 * 1024 * 1024)
/* Idempotency-Key: 1..128 printable ASCII characters, as the agent protocol has it. */
#define API_IDEM_KEY_MAX 128

struct api_cache;
struct front;

struct api_ctx {
	struct db_pool *pool;
	struct api_cache *cache; /* rendered finished releases */
	struct auth *auth;       /* bearer tokens; may hold none; swapped by api_reload_tokens */
	pthread_rwlock_t auth_lock;
	/*
	 * The settings the API reads: auth_required (writes need a principal),
	 * reads_require_auth (reads do too),
	 * RELEASE_AUTO_ROLLBACK and RELEASE_APPROVAL_MIN_* (a new release's defaults and
	 * policy), RELEASE_NODE_TIMEOUT (the metrics' deadline), RELEASE_EXECUTOR_ENABLED
	 * (/health/ready also asks whether its loop turns).
	 */
	const struct config *cfg;
	int64_t schema_expected; /* the newest migration file; 0: unknown (not checked) */
	/*
	 * Set by api_server_start: the key the front sends with every request it hands on
	 * (a request without it did not come through CMDB_LISTEN), and the front itself,
	 * whose load /health/ready reports.
	 */
	char front_key[33];
	const struct front *front;
	/*
	 * Tells this process's executor that a release may be claimable now (created,
	 * resumed, approved), so it claims at once instead of at its next scan. NULL when
	 * the executor is off; the other controllers find the release at their next scan.
	 */
	void (*work_ready)(void *arg);
	void *work_ready_arg;
};

/* Calls ctx->work_ready when there is one. */
void api_work_ready(const struct api_ctx *ctx);

struct api_request {
	struct mg_connection *conn;
	struct api_ctx *ctx;
	const char *method;
	const char *query;                  /* raw query string or NULL */
	int64_t id;                         /* the {id} path segment, 0 when the path has none */
	const char *action;                 /* the segment after {id} ("pause"), or NULL */
	char principal[AUTH_PRINCIPAL_MAX]; /* who asks; "local" without authentication */
	unsigned roles;                     /* its roles as written (auth/roles.h); 0: nobody */
	char scope[AUTH_SCOPE_MAX];         /* its scope, a label selector; "" for none */
};

/* Adds name: value, or name: null when value is "" (our stores' "no value"). */
void api_json_add_optional(cJSON *obj, const char *name, const char *value);

/*
 * Reads the token file again (SIGHUP) and puts it in force for the next request; a file
 * that does not load leaves the old tokens in force. 0, or -1 with err saying why.
 */
int api_reload_tokens(struct api_ctx *ctx, const char *path, char *err, size_t errlen);

/* The HTTP status of the answer this thread sent last; 0 after api_reset_status. */
void api_reset_status(void);
int api_last_status(void);
/* Records the status of an answer a handler sent by itself (the console's files). */
void api_note_status(int status);

/* Sends a body of another content type (the Prometheus text format). */
void api_send_text(struct mg_connection *conn, int status, const char *ctype, const char *body,
                   size_t len);
/* 1 when the client's Accept-Encoding takes gzip. */
int api_accepts_gzip(struct mg_connection *conn);
/*
 * Sends a JSON body that may be gzip-compressed (gzip 1: body is the compressed form),
 * with "Vary: Accept-Encoding".
 */
void api_send_negotiated(struct mg_connection *conn, int status, const char *body, size_t len,
                         int gzip);

/* Sends a ready JSON body. */
void api_send_body(struct mg_connection *conn, int status, const char *body, size_t len);
/* Sends doc (not freed) with status; always "Content-Type: application/json". */
void api_send_json(struct mg_connection *conn, int status, const cJSON *doc);
/* Sends {"error": "<formatted>"} with status. */
void api_send_error(struct mg_connection *conn, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends {"error": "<formatted>", "code": code}: an error a client can tell apart. */
void api_send_error_code(struct mg_connection *conn, int status, const char *code, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
/* 401 with "WWW-Authenticate: Bearer" and a JSON error. */
void api_send_unauthorized(struct mg_connection *conn, const char *msg);
/* 405 with an Allow header. */
void api_send_not_allowed(struct mg_connection *conn, const char *allow);

/*
 * Reads the request body (at most API_BODY_MAX) and parses it with api_parse_object
 * into *doc (caller frees with cJSON_Delete). On failure the error answer (400, 413,
 * 415) has been sent and -1 is returned.
 */
int api_read_json(struct mg_connection *conn, cJSON **doc);
/* The same with another limit than API_BODY_MAX, for the one route that needs it. */
int api_read_json_max(struct mg_connection *conn, size_t max, cJSON **doc);
/* The same for a body that may be left out: 0 with *doc NULL when there is none. */
int api_read_optional_json(struct mg_connection *conn, cJSON **doc);

/*
 * Reads the Idempotency-Key header into key (API_IDEM_KEY_MAX + 1 bytes). Returns 1 when
 * present and valid, 0 when absent, -1 after answering 400 for a malformed key.
 */
int api_idempotency_key(struct mg_connection *conn, char *key);

/*
 * The SHA-256 of a parsed body in one canonical form (members in the order sent, no
 * white space), as 64 hex digits and a terminator: two requests with the same JSON
 * have the same digest. 0, or -1 when out of memory.
 */
int api_body_digest(const cJSON *doc, char out[65]);

/*
 * Reads a yes/no query parameter: 1 for "1" or "true", 0 for "0", "false" or absent;
 * -1 after answering 400 for anything else.
 */
int api_query_flag(struct api_request *req, const char *name);

/*
 * Answers a store/db error code: 404 for CMDB_ENOTFOUND, 409 for CMDB_ECONFLICT and
 * CMDB_ESTATE, 409 with "code": "idempotency_payload_mismatch" for CMDB_EMISMATCH,
 * 422 for CMDB_EINVAL (with err as the message), 403 for CMDB_EFORBIDDEN, 503 when the
 * database is away or a transaction kept losing races (CMDB_ERETRY), 500 otherwise
 * (logged, with a generic message).
 */
void api_send_store_error(struct mg_connection *conn, int code, const char *err);

/* Takes a pooled connection or answers 503 and returns NULL. */
struct db_conn *api_db_acquire(struct api_request *req);
void api_db_put(struct api_request *req, struct db_conn *c);

/*
 * Finds name=value in a raw query string and copies the URL-decoded value.
 * Returns 1 if found, 0 if absent, -1 when the value does not fit or is malformed.
 */
int api_query_param(const char *query, const char *name, char *buf, size_t len);

#endif
