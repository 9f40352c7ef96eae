/*
 * cache: a small array-based LRU; lookups compare keys linearly, which for a few dozen
 * entries costs less than the hash it would replace.
 */
#include "api/v1/cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define KEY_MAX 96

struct entry {
	char key[KEY_MAX];
	char *body;
	size_t len;
	uint64_t used;         /* tick of the last hit, for LRU */
	int64_t expires_ms;    /* monotonic ms after which it is stale; 0: never */
	int64_t refreshing_ms; /* when a caller was told to render it again; 0: none */
};

/* A caller told to refresh an entry that has not put it back by then is replaced. */
#define REFRESH_MAX_MS 5000

struct api_cache {
	pthread_mutex_t lock;
	struct entry *entries;
	size_t max_entries;
	size_t max_bytes;
	size_t bytes;
	uint64_t tick;
};

struct api_cache *api_cache_new(size_t max_entries, size_t max_bytes)
{
	struct api_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->entries = calloc(max_entries, sizeof(*c->entries));
	if (!c->entries) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	return c;
}

void api_cache_free(struct api_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->max_entries; i++)
		free(cache->entries[i].body);
	pthread_mutex_destroy(&cache->lock);
	free(cache->entries);
	free(cache);
}

static struct entry *find(struct api_cache *c, const char *key)
{
	for (size_t i = 0; i < c->max_entries; i++)
		if (c->entries[i].body && strcmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	return NULL;
}

static void drop(struct api_cache *c, struct entry *e)
{
	c->bytes -= e->len;
	free(e->body);
	e->body = NULL;
	e->len = 0;
}

int api_cache_get(struct api_cache *cache, const char *key, char **body, size_t *len)
{
	int64_t now = now_mono_ms();
	struct entry *e;
	int hit = 0;

	pthread_mutex_lock(&cache->lock);
	e = find(cache, key);
	/*
	 * Stale: one caller (the first, or the next after one that never came back) misses
	 * and renders it again; the others are served the stale body meanwhile, so a crowd of
	 * readers never renders the same answer at once.
	 */
	if (e && e->expires_ms && now >= e->expires_ms &&
	    (!e->refreshing_ms || now - e->refreshing_ms >= REFRESH_MAX_MS)) {
		e->refreshing_ms = now;
		e = NULL;
	}
	if (e && (*body = malloc(e->len)) != NULL) {
		memcpy(*body, e->body, e->len);
		*len = e->len;
		e->used = ++cache->tick;
		hit = 1;
	}
	pthread_mutex_unlock(&cache->lock);
	return hit;
}

/* The empty slot, or NULL when all are taken. */
static struct entry *free_slot(struct api_cache *c)
{
	for (size_t i = 0; i < c->max_entries; i++)
		if (!c->entries[i].body)
			return &c->entries[i];
	return NULL;
}

static void evict_lru(struct api_cache *c)
{
	struct entry *victim = NULL;

	for (size_t i = 0; i < c->max_entries; i++) {
		struct entry *x = &c->entries[i];

		if (x->body && (!victim || x->used < victim->used))
			victim = x;
	}
	if (victim)
		drop(c, victim);
}

void api_cache_put(struct api_cache *cache, const char *key, const char *body, size_t len,
                   int64_t ttl_ms)
{
	struct entry *e;
	char *copy;

	/* A body above a quarter of the budget would evict too much to be worth it. */
	if (len > cache->max_bytes / 4 || strlen(key) >= KEY_MAX)
		return;
	copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, body, len);
	pthread_mutex_lock(&cache->lock);
	e = find(cache, key);
	if (e)
		drop(cache, e);
	while (cache->bytes + len > cache->max_bytes || !free_slot(cache))
		evict_lru(cache);
	e = free_slot(cache);
	str_copy(e->key, key, sizeof(e->key));
	e->body = copy;
	e->len = len;
	e->used = ++cache->tick;
	e->expires_ms = ttl_ms > 0 ? now_mono_ms() + ttl_ms : 0;
	e->refreshing_ms = 0;
	cache->bytes += len;
	pthread_mutex_unlock(&cache->lock);
}

void api_cache_drop_prefix(struct api_cache *cache, const char *prefix)
{
	size_t n = strlen(prefix);

	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->max_entries; i++)
		if (cache->entries[i].body && strncmp(cache->entries[i].key, prefix, n) == 0)
			drop(cache, &cache->entries[i]);
	pthread_mutex_unlock(&cache->lock);
}
