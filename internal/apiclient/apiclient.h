/*
 * apiclient: the HTTP client of the commands that use the API as any client does
 * (`cmdb watch`, `cmdb import`): libcurl, the API's base URL (CMDB_URL), the bearer token
 * (CMDB_TOKEN) and the CA of an https URL (CMDB_CACERT). Answers are collected whole, up to
 * a limit; an error answer's "error" is what a command prints.
 */
#ifndef CMDB_APICLIENT_H
#define CMDB_APICLIENT_H

#include <curl/curl.h>
#include <stddef.h>

struct apiclient_opts {
	const char *url;        /* base URL, e.g. https://cmdb.example:8443 */
	const char *token;      /* bearer token, or NULL */
	const char *cacert;     /* CA file of an https URL, or NULL for the system's */
	const char *user_agent; /* "cmdb-watch", "cmdb-import" */
	long timeout_s;         /* a whole request, answer included */
	size_t max_answer;      /* bytes of an answer kept at most; more is an error */
};

struct apiclient {
	CURL *curl;
	struct curl_slist *headers;
	char base[1024]; /* the URL without trailing slashes */
	size_t max_answer;
};

/* An answer's body, always terminated ("" when empty); apiclient_body_free frees it. */
struct apiclient_body {
	char *buf;
	size_t len;
	int too_big;
	size_t max;
};

/*
 * Opens a client (libcurl initialised, headers set). 0, or -1 with err set; close it
 * with apiclient_close either way.
 */
int apiclient_open(struct apiclient *c, const struct apiclient_opts *o, char *err, size_t errlen);
void apiclient_close(struct apiclient *c);

/*
 * GET or POST (a JSON body of len bytes, with an Idempotency-Key when key is not NULL)
 * base + path. Returns the HTTP status with *b filled (replacing what it held), or 0 when
 * there was no answer (err says why: refused, timed out, TLS, too large).
 */
long apiclient_get(struct apiclient *c, const char *path, struct apiclient_body *b, char *err,
                   size_t errlen);
long apiclient_post(struct apiclient *c, const char *path, const char *json, size_t len,
                    const char *key, struct apiclient_body *b, char *err, size_t errlen);
void apiclient_body_free(struct apiclient_body *b);

/* "HTTP 422: <the answer's error>", or "HTTP 422" when the answer has none. */
void apiclient_error(const struct apiclient_body *b, long status, char *out, size_t len);

#endif
