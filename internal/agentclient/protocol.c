/*
 * agentclient/protocol: validation of everything an agent sends back. Anything outside
 * the contract is a protocol error; nothing but an explicit "success" counts as applied.
 */
#include "agentclient/protocol.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

int agentproto_valid_task_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > AGENT_TASK_ID_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

int agentproto_valid_idem_key(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > AGENT_IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

int agentproto_dispatch_body(int64_t version, char *buf, size_t len)
{
	int n =
	    snprintf(buf, len, "{\"type\":\"apply_config\",\"version\":%lld}", (long long)version);

	return (n < 0 || (size_t)n >= len) ? -1 : n;
}

void agentproto_clean_text(const char *src, size_t srclen, char *dst, size_t dstlen)
{
	size_t n = 0;

	if (!dstlen)
		return;
	for (size_t i = 0; i < srclen && n + 1 < dstlen && n < AGENT_TEXT_MAX; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[n++] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
	}
	dst[n] = '\0';
}

/* "HTTP 503: <error text>" using the body's "error" field when there is one. */
/* Agent answers are flat objects; anything nested deeper is not ours to parse. */
#define AGENT_JSON_DEPTH_MAX 4

static cJSON *parse_answer(const char *body, size_t len)
{
	if (len == 0 || json_too_deep(body, len, AGENT_JSON_DEPTH_MAX))
		return NULL;
	return cJSON_ParseWithLength(body, len);
}

static void describe_http_error(const char *what, long status, const char *body, size_t len,
                                char *err, size_t errlen)
{
	char text[AGENT_TEXT_MAX + 1] = "";
	cJSON *doc = parse_answer(body, len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");

	if (cJSON_IsString(e))
		agentproto_clean_text(e->valuestring, strlen(e->valuestring), text, sizeof(text));
	else if (len)
		agentproto_clean_text(body, len > 80 ? 80 : len, text, sizeof(text));
	snprintf(err, errlen, "%s: HTTP %ld: %s", what, status, *text ? text : "empty body");
	cJSON_Delete(doc);
}

static enum agent_result http_class(long status)
{
	return (status == 429 || status >= 500) ? AGENT_E_TRANSIENT : AGENT_E_PERMANENT;
}

enum agent_result agentproto_parse_dispatch(long http_status, const char *body, size_t len,
                                            char *task_id, size_t task_id_len, char *err,
                                            size_t errlen)
{
	enum agent_result rc = AGENT_E_PERMANENT;
	const cJSON *id;
	cJSON *doc;

	if (http_status != 200 && http_status != 202) {
		describe_http_error("agent dispatch", http_status, body, len, err, errlen);
		return http_class(http_status);
	}
	doc = parse_answer(body, len);
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "agent dispatch: invalid JSON");
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(doc, "task_id");
	if (!cJSON_IsString(id) || !agentproto_valid_task_id(id->valuestring) ||
	    strlen(id->valuestring) >= task_id_len) {
		snprintf(err, errlen, "agent dispatch: missing or invalid task_id");
		goto out;
	}
	str_copy(task_id, id->valuestring, task_id_len);
	rc = AGENT_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

enum agent_result agentproto_parse_status(long http_status, const char *body, size_t len,
                                          const char *task_id, enum agent_task_state *state,
                                          char *err, size_t errlen)
{
	static const char *const names[] = {"queued", "running", "success", "failed"};
	enum agent_result rc = AGENT_E_PERMANENT;
	const cJSON *st, *id, *le;
	cJSON *doc;

	if (http_status == 404) {
		snprintf(err, errlen, "agent status: task %s unknown to the agent (HTTP 404)",
		         task_id);
		return AGENT_E_PERMANENT;
	}
	if (http_status != 200) {
		describe_http_error("agent status", http_status, body, len, err, errlen);
		return http_class(http_status);
	}
	doc = parse_answer(body, len);
	if (!cJSON_IsObject(doc)) {
		snprintf(err, errlen, "agent status: invalid JSON");
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(doc, "task_id");
	if (cJSON_IsString(id) && strcmp(id->valuestring, task_id) != 0) {
		snprintf(err, errlen, "agent status: answer names another task");
		goto out;
	}
	st = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (!cJSON_IsString(st)) {
		snprintf(err, errlen, "agent status: missing status");
		goto out;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(st->valuestring, names[i]) == 0) {
			*state = (enum agent_task_state)i;
			rc = AGENT_OK;
		}
	}
	if (rc != AGENT_OK) {
		char text[64];

		agentproto_clean_text(st->valuestring, strlen(st->valuestring), text, sizeof(text));
		snprintf(err, errlen, "agent status: unknown status \"%s\"", text);
		goto out;
	}
	if (*state == AGENT_TASK_FAILED) {
		char text[AGENT_TEXT_MAX + 1] = "";

		le = cJSON_GetObjectItemCaseSensitive(doc, "last_error");
		if (cJSON_IsString(le))
			agentproto_clean_text(le->valuestring, strlen(le->valuestring), text,
			                      sizeof(text));
		snprintf(err, errlen, "agent failed: %s", *text ? text : "no error text");
	}
out:
	cJSON_Delete(doc);
	return rc;
}
