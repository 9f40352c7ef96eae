/*
 * cache: a small array-based LRU; lookups compare keys linearly, which for a few dozen
 * entries costs less than the hash it would replace. Entries point at refcounted blobs,
 * so an answer being sent survives its eviction.
 */
#include "api/v1/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/core.h"

#define KEY_MAX 96
/* A caller told to refresh an entry that has not put it back by then is replaced. */
#define REFRESH_MAX_MS 5000

struct api_blob {
	atomic_int refs;
	size_t len, gzlen; /* gzlen 0: no compressed form */
	char *gz;
	char body[]; /* len bytes, then a terminator */
};

struct entry {
	char key[KEY_MAX];
	struct api_blob *blob; /* NULL: a free slot */
	uint64_t used;         /* tick of the last hit, for LRU */
	int64_t expires_ms;    /* monotonic ms after which it is stale; 0: never */
	int64_t refreshing_ms; /* when a caller was told to render it again; 0: none */
};

struct api_cache {
	pthread_mutex_t lock;
	struct entry *entries;
	size_t max_entries;
	size_t max_bytes;
	size_t bytes;
	uint64_t tick;
};

static size_t blob_bytes(const struct api_blob *b)
{
	return b->len + b->gzlen;
}

void api_blob_unref(struct api_blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
		free(b->gz);
		free(b);
	}
}

const char *api_blob_body(const struct api_blob *b, int gzip, size_t *len)
{
	if (gzip) {
		*len = b->gzlen;
		return b->gzlen ? b->gz : NULL;
	}
	*len = b->len;
	return b->body;
}

int api_gzip(const char *in, size_t len, char **out, size_t *outlen)
{
	z_stream z;
	uLong cap;
	char *buf;
	int rc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer around the deflate stream. Level 1: JSON this
	 * repetitive shrinks nearly as much as at 6, in a quarter of the time. */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&z, (uLong)len);
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

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
		api_blob_unref(cache->entries[i].blob);
	pthread_mutex_destroy(&cache->lock);
	free(cache->entries);
	free(cache);
}

static struct entry *find(struct api_cache *c, const char *key)
{
	for (size_t i = 0; i < c->max_entries; i++)
		if (c->entries[i].blob && strcmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	return NULL;
}

static void drop(struct api_cache *c, struct entry *e)
{
	c->bytes -= blob_bytes(e->blob);
	api_blob_unref(e->blob);
	e->blob = NULL;
}

struct api_blob *api_cache_get(struct api_cache *cache, const char *key)
{
	int64_t now = now_mono_ms();
	struct api_blob *b = NULL;
	struct entry *e;

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
	if (e) {
		b = e->blob;
		atomic_fetch_add(&b->refs, 1);
		e->used = ++cache->tick;
	}
	pthread_mutex_unlock(&cache->lock);
	return b;
}

/* The empty slot, or NULL when all are taken. */
static struct entry *free_slot(struct api_cache *c)
{
	for (size_t i = 0; i < c->max_entries; i++)
		if (!c->entries[i].blob)
			return &c->entries[i];
	return NULL;
}

static void evict_lru(struct api_cache *c)
{
	struct entry *victim = NULL;

	for (size_t i = 0; i < c->max_entries; i++) {
		struct entry *x = &c->entries[i];

		if (x->blob && (!victim || x->used < victim->used))
			victim = x;
	}
	if (victim)
		drop(c, victim);
}

/* A blob of body and, when it is smaller, its gzip form. */
static struct api_blob *make_blob(const char *body, size_t len)
{
	struct api_blob *b = malloc(sizeof(*b) + len + 1);

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	memcpy(b->body, body, len);
	b->body[len] = '\0';
	b->gz = NULL;
	b->gzlen = 0;
	if (api_gzip(body, len, &b->gz, &b->gzlen) || b->gzlen >= len) {
		free(b->gz);
		b->gz = NULL;
		b->gzlen = 0;
	}
	return b;
}

void api_cache_put(struct api_cache *cache, const char *key, const char *body, size_t len,
                   int64_t ttl_ms)
{
	struct api_blob *b;
	struct entry *e;

	/* A body above a quarter of the budget would evict too much to be worth it. */
	if (len > cache->max_bytes / 4 || strlen(key) >= KEY_MAX)
		return;
	b = make_blob(body, len);
	if (!b)
		return;
	pthread_mutex_lock(&cache->lock);
	e = find(cache, key);
	if (e)
		drop(cache, e);
	while (cache->bytes + blob_bytes(b) > cache->max_bytes || !free_slot(cache))
		evict_lru(cache);
	e = free_slot(cache);
	str_copy(e->key, key, sizeof(e->key));
	e->blob = b;
	e->used = ++cache->tick;
	e->expires_ms = ttl_ms > 0 ? now_mono_ms() + ttl_ms : 0;
	e->refreshing_ms = 0;
	cache->bytes += blob_bytes(b);
	pthread_mutex_unlock(&cache->lock);
}

void api_cache_drop_prefix(struct api_cache *cache, const char *prefix)
{
	size_t n = strlen(prefix);

	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->max_entries; i++)
		if (cache->entries[i].blob && strncmp(cache->entries[i].key, prefix, n) == 0)
			drop(cache, &cache->entries[i]);
	pthread_mutex_unlock(&cache->lock);
}
