/*
 * apiclient: libcurl's easy interface over one handle, its headers set once; each request
 * collects its answer into a growing buffer that refuses more than the client's limit.
 */
#include "apiclient/apiclient.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	struct apiclient_body *b = arg;
	size_t add = size * n;
	char *p;

	if (b->len + add > b->max) {
		b->too_big = 1;
		return 0;
	}
	p = realloc(b->buf, b->len + add + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, add);
	b->buf = p;
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

void apiclient_body_free(struct apiclient_body *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

int apiclient_open(struct apiclient *c, const struct apiclient_opts *o, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->base, o->url, sizeof(c->base));
	while (c->base[0] && c->base[strlen(c->base) - 1] == '/')
		c->base[strlen(c->base) - 1] = '\0';
	c->max_answer = o->max_answer;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(c->curl = curl_easy_init())) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	if (o->token && o->token[0]) {
		char auth[1200];

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
		c->headers = curl_slist_append(c->headers, auth);
	}
	c->headers = curl_slist_append(c->headers, "Accept: application/json");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, o->timeout_s);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, o->user_agent);
	if (o->cacert && o->cacert[0])
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, o->cacert);
	return 0;
}

void apiclient_close(struct apiclient *c)
{
	if (!c->curl)
		return;
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(c->curl);
	curl_global_cleanup();
	memset(c, 0, sizeof(*c));
}

/* Runs the request set up on c->curl; the status, or 0 with err set. */
static long perform(struct apiclient *c, const char *path, struct apiclient_body *b, char *err,
                    size_t errlen)
{
	char url[2048], cerr[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	apiclient_body_free(b);
	b->max = c->max_answer;
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(c->curl);
	/* cerr lives on this stack frame only. */
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s",
		         b->too_big ? "the answer is too large"
		         : cerr[0]  ? cerr
		                    : curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (!b->buf && !(b->buf = calloc(1, 1))) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	return status;
}

long apiclient_get(struct apiclient *c, const char *path, struct apiclient_body *b, char *err,
                   size_t errlen)
{
	curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	return perform(c, path, b, err, errlen);
}

long apiclient_post(struct apiclient *c, const char *path, const char *json, size_t len,
                    const char *key, struct apiclient_body *b, char *err, size_t errlen)
{
	struct curl_slist *h = NULL;
	char line[256];
	long status;

	for (struct curl_slist *s = c->headers; s; s = s->next)
		h = curl_slist_append(h, s->data);
	h = curl_slist_append(h, "Content-Type: application/json");
	/* curl sends "Expect: 100-continue" for large bodies; our API answers at once. */
	h = curl_slist_append(h, "Expect:");
	if (key) {
		snprintf(line, sizeof(line), "Idempotency-Key: %s", key);
		h = curl_slist_append(h, line);
	}
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return 0;
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	status = perform(c, path, b, err, errlen);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(h);
	return status;
}

void apiclient_error(const struct apiclient_body *b, long status, char *out, size_t len)
{
	cJSON *doc = cJSON_Parse(b->buf ? b->buf : "");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");

	if (cJSON_IsString(e))
		snprintf(out, len, "HTTP %ld: %s", status, e->valuestring);
	else
		snprintf(out, len, "HTTP %ld", status);
	cJSON_Delete(doc);
}
