/*
 * guard: the per-address counts are an open-addressing hash table (linear probing,
 * deletion by moving entries back, so no tombstones) that grows at half full; the
 * deadlines are one doubly linked list per phase.
 */
#include "guard/guard.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN 64

struct entry {
	struct guard_addr addr;
	int count; /* 0: a free slot */
};

struct guard_table {
	struct entry *slots;
	size_t cap, used; /* cap: a power of two */
};

void guard_addr_v4(struct guard_addr *a, uint32_t s_addr)
{
	memset(a->b, 0, 10);
	a->b[10] = a->b[11] = 0xff;
	memcpy(a->b + 12, &s_addr, 4);
}

int guard_addr_parse(const char *text, size_t len, struct guard_addr *a)
{
	char buf[64];
	struct in_addr v4;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		guard_addr_v4(a, v4.s_addr);
		return 0;
	}
	return inet_pton(AF_INET6, buf, a->b) == 1 ? 0 : -1;
}

/* FNV-1a over the 16 bytes. */
static size_t hash(const struct guard_addr *a)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 16; i++) {
		h ^= a->b[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

struct guard_table *guard_table_new(void)
{
	struct guard_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = calloc(TABLE_MIN, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->cap = TABLE_MIN;
	return t;
}

void guard_table_free(struct guard_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

/* The slot of a, or the free slot where it would go. */
static struct entry *find(const struct guard_table *t, const struct guard_addr *a)
{
	size_t i = hash(a) & (t->cap - 1);

	while (t->slots[i].count && memcmp(&t->slots[i].addr, a, sizeof(*a)) != 0)
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

static int grow(struct guard_table *t)
{
	struct guard_table bigger = {calloc(t->cap * 2, sizeof(struct entry)), t->cap * 2, 0};

	if (!bigger.slots)
		return -1;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].count)
			*find(&bigger, &t->slots[i].addr) = t->slots[i];
	free(t->slots);
	t->slots = bigger.slots;
	t->cap = bigger.cap;
	return 0;
}

int guard_acquire(struct guard_table *t, const struct guard_addr *a, int cap)
{
	struct entry *e = find(t, a);

	if (e->count >= cap)
		return -1;
	if (e->count == 0) {
		if ((t->used + 1) * 2 > t->cap) {
			if (grow(t))
				return -2;
			e = find(t, a);
		}
		e->addr = *a;
		t->used++;
	}
	e->count++;
	return 0;
}

/* Empties slot i and moves back the entries after it that probing would no longer find. */
static void remove_at(struct guard_table *t, size_t i)
{
	size_t mask = t->cap - 1, j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->slots[j].count)
			return;
		home = hash(&t->slots[j].addr) & mask;
		/* j stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j].count = 0;
		i = j;
	}
}

void guard_release(struct guard_table *t, const struct guard_addr *a)
{
	struct entry *e = find(t, a);

	if (!e->count)
		return;
	if (--e->count == 0) {
		remove_at(t, (size_t)(e - t->slots));
		t->used--;
	}
}

int guard_count(const struct guard_table *t, const struct guard_addr *a)
{
	return find(t, a)->count;
}

size_t guard_addresses(const struct guard_table *t)
{
	return t->used;
}

void guard_timers_init(struct guard_timers *ts, const int64_t limit_ms[GUARD_PHASES])
{
	memset(ts, 0, sizeof(*ts));
	memcpy(ts->limit_ms, limit_ms, sizeof(ts->limit_ms));
}

static void unlink_timer(struct guard_timers *ts, struct guard_timer *tm)
{
	if (tm->phase >= GUARD_PHASES)
		return;
	if (tm->prev)
		tm->prev->next = tm->next;
	else
		ts->head[tm->phase] = tm->next;
	if (tm->next)
		tm->next->prev = tm->prev;
	else
		ts->tail[tm->phase] = tm->prev;
	tm->prev = tm->next = NULL;
	tm->phase = GUARD_NONE;
}

void guard_timer_set(struct guard_timers *ts, struct guard_timer *tm, enum guard_phase p,
                     int64_t now)
{
	unlink_timer(ts, tm);
	if (p >= GUARD_PHASES)
		return;
	tm->phase = p;
	tm->deadline = now + ts->limit_ms[p];
	tm->prev = ts->tail[p];
	if (ts->tail[p])
		ts->tail[p]->next = tm;
	else
		ts->head[p] = tm;
	ts->tail[p] = tm;
}

struct guard_timer *guard_timer_first(const struct guard_timers *ts, enum guard_phase p)
{
	return p < GUARD_PHASES ? ts->head[p] : NULL;
}

struct guard_timer *guard_timer_next(const struct guard_timers *ts)
{
	struct guard_timer *best = NULL;

	for (int p = 0; p < GUARD_PHASES; p++)
		if (ts->head[p] && (!best || ts->head[p]->deadline < best->deadline))
			best = ts->head[p];
	return best;
}
