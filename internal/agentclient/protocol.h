/*
 * agentclient/protocol: the agent's wire format (docs/agent-protocol.md) as pure
 * functions: building the dispatch body and judging every answer the agent can give.
 * No I/O here, so each rule is unit-tested directly.
 */
#ifndef CMDB_AGENT_PROTOCOL_H
#define CMDB_AGENT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_TASK_ID_MAX  64
#define AGENT_IDEM_KEY_MAX 128
#define AGENT_BODY_MAX     (64 * 1024)
/* Agent-supplied text kept in error_msg is cut to this many bytes. */
#define AGENT_TEXT_MAX 400

enum agent_task_state {
	AGENT_TASK_QUEUED = 0,
	AGENT_TASK_RUNNING,
	AGENT_TASK_SUCCESS,
	AGENT_TASK_FAILED,
};

/* Outcome classes of one call, so a caller can tell a retry from a verdict. */
enum agent_result {
	AGENT_OK = 0,
	AGENT_E_TRANSIENT = -1, /* refused, reset, timeout, 429, 5xx: may work later */
	AGENT_E_PERMANENT = -2, /* TLS verification, other 4xx, protocol violations */
};

/* 1 when s is 1..64 characters of [A-Za-z0-9._:-]. */
int agentproto_valid_task_id(const char *s);
/* 1 when s is 1..128 printable ASCII characters (0x21..0x7e). */
int agentproto_valid_idem_key(const char *s);

/* Writes {"type":"apply_config","version":N}; returns its length or -1 if it did not fit. */
int agentproto_dispatch_body(int64_t version, char *buf, size_t len);

/*
 * Judges the answer to POST /api/v1/tasks. On AGENT_OK task_id holds the task.
 * Otherwise err says what went wrong, e.g. "agent dispatch: HTTP 500: disk full".
 */
enum agent_result agentproto_parse_dispatch(long http_status, const char *body, size_t len,
                                            char *task_id, size_t task_id_len, char *err,
                                            size_t errlen);

/*
 * Judges the answer to GET /api/v1/tasks/{task_id}. On AGENT_OK *state is set and, for
 * a failed task, err holds "agent failed: <last_error>". Otherwise err says why the
 * answer is unusable ("agent status: invalid JSON", an unknown status, HTTP 404 ...).
 */
enum agent_result agentproto_parse_status(long http_status, const char *body, size_t len,
                                          const char *task_id, enum agent_task_state *state,
                                          char *err, size_t errlen);

/*
 * Copies untrusted text into dst: at most AGENT_TEXT_MAX bytes and dst's size, control
 * characters and non-ASCII bytes replaced by '?', so it is safe to store and log.
 */
void agentproto_clean_text(const char *src, size_t srclen, char *dst, size_t dstlen);

#endif
