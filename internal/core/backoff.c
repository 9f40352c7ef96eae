/*
 * backoff: the retry policies and the one function that computes a wait from them.
 */
#include "core/backoff.h"

#include <stdio.h>
#include <stdlib.h>

const struct backoff backoff_agent = {250, 8000, 50};
const struct backoff backoff_webhook = {1000, 300000, 50};
const struct backoff backoff_db = {250, 5000, 0};
const struct backoff backoff_tx = {20, 320, 75};

int64_t backoff_ms(const struct backoff *b, int n, unsigned int *seed)
{
	int64_t d = b->base_ms, spread;

	for (int i = 1; i < n && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	spread = d * b->jitter_pct / 100;
	if (spread <= 0)
		return d;
	return d - spread + (int64_t)((unsigned int)rand_r(seed) % (uint64_t)(spread + 1));
}

/* "250 ms", "8 s", "5 min": the largest unit that divides ms exactly. */
static void describe_ms(int64_t ms, char *buf, size_t len)
{
	if (ms >= 60000 && ms % 60000 == 0)
		snprintf(buf, len, "%lld min", (long long)(ms / 60000));
	else if (ms >= 1000 && ms % 1000 == 0)
		snprintf(buf, len, "%lld s", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lld ms", (long long)ms);
}

void backoff_describe(const struct backoff *b, char *buf, size_t len)
{
	char base[32], max[32];
	int64_t low_base = b->base_ms - b->base_ms * b->jitter_pct / 100;
	int64_t low_max = b->max_ms - b->max_ms * b->jitter_pct / 100;

	describe_ms(b->base_ms, base, sizeof(base));
	describe_ms(b->max_ms, max, sizeof(max));
	if (b->jitter_pct == 0)
		snprintf(buf, len, "%s doubling to %s", base, max);
	else if (b->jitter_pct == 50)
		snprintf(buf, len, "%s doubling to %s, with jitter", base, max);
	else
		snprintf(buf, len, "%lld to %s doubling to %lld to %s", (long long)low_base, base,
		         (long long)low_max, max);
}
