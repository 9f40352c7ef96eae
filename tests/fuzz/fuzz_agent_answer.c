/*
 * fuzz_agent_answer: libFuzzer harness for the agent-answer rules
 * (internal/agentclient/protocol.c). The first byte picks the HTTP status, the rest is
 * the body as it arrived (not NUL-terminated). Whatever the agent sends, the verdict
 * must be consistent and the error text safe to store and log. The same bytes are also
 * framed (after the first byte) as a whole HTTP answer (internal/agentclient/http1.c),
 * at the connection's end and before it.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agentclient/http1.h"
#include "agentclient/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The same sizes the agent client uses (struct agent_call, internal/agentclient/agentclient.h). */
#define TASK_ID_LEN (AGENT_TASK_ID_MAX + 1)
#define ERR_LEN     512
/* Longest error the parsers write: a fixed prefix plus AGENT_TEXT_MAX cleaned bytes. */
#define ERR_TEXT_MAX (AGENT_TEXT_MAX + 80)

/* 0 stands for "no HTTP answer at all"; odd codes check the classification. */
static const long statuses[] = {200, 202, 404, 409, 429, 500, 503, 0,
                                201, 204, 301, 400, 401, 403, 502, 599};

static void check_err(const char *err, size_t errlen)
{
	size_t n = strnlen(err, errlen);

	assert(n > 0 && n < errlen && n <= ERR_TEXT_MAX);
	for (size_t i = 0; i < n; i++)
		assert(err[i] >= 0x20 && err[i] <= 0x7e);
}

static void check_class(long status, enum agent_result rc)
{
	if (status == 429 || status >= 500)
		assert(rc == AGENT_E_TRANSIENT);
	else if (status != 200 && status != 202)
		assert(rc == AGENT_E_PERMANENT);
}

static void check_dispatch(long status, const char *body, size_t len)
{
	char task_id[TASK_ID_LEN], err[ERR_LEN];
	enum agent_result rc;

	memset(task_id, 'X', sizeof(task_id));
	memset(err, 'X', sizeof(err));
	rc = agentproto_parse_dispatch(status, body, len, task_id, sizeof(task_id), err,
	                               sizeof(err));
	assert(rc == AGENT_OK || rc == AGENT_E_TRANSIENT || rc == AGENT_E_PERMANENT);
	if (rc == AGENT_OK) {
		assert(status == 200 || status == 202);
		assert(strnlen(task_id, sizeof(task_id)) < sizeof(task_id));
		assert(agentproto_valid_task_id(task_id));
		return;
	}
	if (status == 200 || status == 202)
		assert(rc == AGENT_E_PERMANENT);
	check_class(status, rc);
	check_err(err, sizeof(err));
}

static void check_status(long status, const char *body, size_t len)
{
	enum agent_task_state state = (enum agent_task_state) - 1;
	char err[ERR_LEN];
	enum agent_result rc;

	memset(err, 'X', sizeof(err));
	err[0] = '\0';
	rc = agentproto_parse_status(status, body, len, "t-1", &state, err, sizeof(err));
	assert(rc == AGENT_OK || rc == AGENT_E_TRANSIENT || rc == AGENT_E_PERMANENT);
	if (rc != AGENT_OK) {
		assert(state == (enum agent_task_state) - 1);
		if (status == 404 || status == 200)
			assert(rc == AGENT_E_PERMANENT);
		else
			check_class(status, rc);
		check_err(err, sizeof(err));
		return;
	}
	assert(status == 200);
	assert(state >= AGENT_TASK_QUEUED && state <= AGENT_TASK_FAILED);
	/* Only a failed task carries text; it is cleaned agent text behind a fixed prefix. */
	if (state == AGENT_TASK_FAILED) {
		assert(strncmp(err, "agent failed: ", 14) == 0);
		check_err(err, sizeof(err));
	} else {
		assert(err[0] == '\0');
	}
}

static void check_framing(const char *buf, size_t len, int eof)
{
	static char body[AGENT_BODY_MAX];
	struct http1_answer a;
	int rc = http1_parse(buf, len, eof, AGENT_BODY_MAX, &a);

	assert(rc == HTTP1_MORE || rc == HTTP1_DONE || rc == HTTP1_BAD || rc == HTTP1_BIG);
	if (rc == HTTP1_MORE)
		assert(!eof);
	if (rc == HTTP1_BAD)
		assert(a.why[0] != '\0' && strnlen(a.why, sizeof(a.why)) < sizeof(a.why));
	if (rc != HTTP1_DONE)
		return;
	assert(a.status >= 200 && a.status <= 999);
	assert(a.body_off <= a.end && a.end <= len && a.body_len <= AGENT_BODY_MAX);
	assert(http1_dechunk(buf, &a, body) == a.body_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long status;

	if (size == 0)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	check_dispatch(status, (const char *)data + 1, size - 1);
	check_status(status, (const char *)data + 1, size - 1);
	check_framing((const char *)data + 1, size - 1, 0);
	check_framing((const char *)data + 1, size - 1, 1);
	return 0;
}
