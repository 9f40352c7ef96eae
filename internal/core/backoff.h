/*
 * backoff: how long to wait before trying again, for every retry loop of the controller
 * (an agent's transient error, a webhook delivery, the database gone, a transaction that
 * lost a race). Each policy's numbers live here once; the settings table and the docs
 * quote them through the _DOC strings, which a unit test checks against the numbers.
 */
#ifndef CMDB_BACKOFF_H
#define CMDB_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Try n (1 for the first retry) waits base_ms * 2^(n-1), at most max_ms, then jitter: a
 * uniform draw from [d - d * jitter_pct / 100, d]. 0 waits exactly d; 50 ("equal
 * jitter") keeps at least half of d, so the waits still grow while clients that failed
 * together spread out.
 */
struct backoff {
	int64_t base_ms;
	int64_t max_ms;
	int jitter_pct; /* 0 to 100 */
};

/* A transient agent error (refused, reset, timeout, 429, 5xx): RELEASE_NODE_RETRIES. */
#define BACKOFF_AGENT_DOC "250 ms doubling to 8 s, with jitter"
extern const struct backoff backoff_agent;
/* A Retry-After from an agent is honoured up to this. */
#define BACKOFF_RETRY_AFTER_MAX_MS 60000

/* A failed webhook delivery: RELEASE_WEBHOOK_RETRIES. */
#define BACKOFF_WEBHOOK_DOC "1 s doubling to 5 min, with jitter"
extern const struct backoff backoff_webhook;

/* Reconnecting to a database that failed (the executor, the notifier). */
#define BACKOFF_DB_DOC "250 ms doubling to 5 s"
extern const struct backoff backoff_db;

/*
 * A transaction that lost a race (deadlock, lock wait, a Galera certification failure)
 * before it runs again: long enough for the winner to commit, short enough for a client.
 */
#define BACKOFF_TX_DOC "5 to 20 ms doubling to 80 to 320 ms"
extern const struct backoff backoff_tx;

/*
 * The wait before try n (n >= 1) of policy b; seed is the caller's rand_r state (NULL is
 * allowed for a policy without jitter).
 */
int64_t backoff_ms(const struct backoff *b, int n, unsigned int *seed);

/*
 * Writes how b grows in the words of the _DOC strings ("250 ms doubling to 8 s, with
 * jitter"), so a test can hold the docs to the numbers.
 */
void backoff_describe(const struct backoff *b, char *buf, size_t len);

#endif
