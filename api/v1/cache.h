/*
 * cache: rendered JSON bodies of finished releases. A finished release never changes
 * (history is kept, nothing rewrites it), so its answer can be served from memory; the
 * one thing that can still come is its rollback release (rolled_back_by), which is why
 * an entry may carry a time to live. Bounded by entry count and bytes; least recently
 * used goes first. Thread-safe.
 */
#ifndef CMDB_API_CACHE_H
#define CMDB_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct api_cache;

/* max_bytes bounds the sum of cached bodies. */
struct api_cache *api_cache_new(size_t max_entries, size_t max_bytes);
void api_cache_free(struct api_cache *cache);

/*
 * Copies the body cached under key into a malloc'd buffer (*body, *len; the caller
 * frees it). Returns 1 on a hit, 0 on a miss. Once an entry's time to live has passed,
 * one caller gets a miss (it is to render the answer and put it again) while the others
 * still get the stale body, until that put or for at most 5 s.
 */
int api_cache_get(struct api_cache *cache, const char *key, char **body, size_t *len);

/*
 * Stores a copy of body under key (replacing an older one), fresh for ttl_ms
 * milliseconds, or for good when ttl_ms is 0; too large a body is skipped.
 */
void api_cache_put(struct api_cache *cache, const char *key, const char *body, size_t len,
                   int64_t ttl_ms);

/* Drops every entry whose key starts with prefix. */
void api_cache_drop_prefix(struct api_cache *cache, const char *prefix);

#endif
