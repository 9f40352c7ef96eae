/*
 * cache: rendered JSON bodies of finished releases. A finished release never changes
 * (history is kept, nothing rewrites it), so its answer can be served from memory; the
 * one thing that can still come is its rollback release (rolled_back_by), which is why
 * an entry may carry a time to live. Bodies are kept once, compressed once (gzip), and
 * handed out by reference, so a crowd of readers copies nothing. Bounded by entry count
 * and bytes; least recently used goes first. Thread-safe.
 */
#ifndef CMDB_API_CACHE_H
#define CMDB_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct api_cache;

/* One cached answer: immutable, shared, freed when the last reference goes. */
struct api_blob;

/* max_bytes bounds the sum of cached bodies (plain and compressed). */
struct api_cache *api_cache_new(size_t max_entries, size_t max_bytes);
void api_cache_free(struct api_cache *cache);

/*
 * The answer cached under key, with a reference the caller drops with api_blob_unref;
 * NULL on a miss. Once an entry's time to live has passed, one caller gets a miss (it is
 * to render the answer and put it again) while the others still get the stale answer,
 * until that put or for at most 5 s.
 */
struct api_blob *api_cache_get(struct api_cache *cache, const char *key);

/* The body as sent: gzip 1 asks for the compressed form (NULL when there is none). */
const char *api_blob_body(const struct api_blob *b, int gzip, size_t *len);
void api_blob_unref(struct api_blob *b);

/*
 * Stores a copy of body under key (replacing an older one), with its gzip form when that
 * is smaller, fresh for ttl_ms milliseconds or for good when ttl_ms is 0. A body over a
 * quarter of the budget is not kept.
 */
void api_cache_put(struct api_cache *cache, const char *key, const char *body, size_t len,
                   int64_t ttl_ms);

/* Drops every entry whose key starts with prefix. */
void api_cache_drop_prefix(struct api_cache *cache, const char *prefix);

/*
 * Compresses in[0..len) as a gzip stream into a malloc'd buffer (*out, *outlen; the
 * caller frees it). 0, or -1 when out of memory or zlib fails.
 */
int api_gzip(const char *in, size_t len, char **out, size_t *outlen);

#endif
