/*
 * db/pool: idle connections shared by the API's threads, opened lazily and checked before
 * they are handed out again.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "db/db.h"

#define POOL_MAX_IDLE      32
#define POOL_PING_AFTER_MS 5000

struct db_pool {
	pthread_mutex_t lock;
	const struct db_config *cfg;
	struct db_conn *idle[POOL_MAX_IDLE];
	size_t nidle;
};

struct db_pool *db_pool_new(const struct db_config *cfg)
{
	struct db_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->cfg = cfg;
	return p;
}

void db_pool_free(struct db_pool *pool)
{
	if (!pool)
		return;
	for (size_t i = 0; i < pool->nidle; i++) {
		db_close(pool->idle[i]);
		free(pool->idle[i]);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* 1 when an idle connection must be checked before it is handed out. */
static int needs_check(const struct db_conn *c, int64_t now)
{
	return now - c->idle_since > POOL_PING_AFTER_MS || db_check_due(c, now);
}

struct db_conn *db_pool_acquire(struct db_pool *pool, int *code, char *err, size_t errlen)
{
	struct db_conn *c;

	for (;;) {
		char why[256];

		c = NULL;
		pthread_mutex_lock(&pool->lock);
		if (pool->nidle)
			c = pool->idle[--pool->nidle];
		pthread_mutex_unlock(&pool->lock);
		if (!c)
			break;
		if (!needs_check(c, now_mono_ms()) || db_check(c, why, sizeof(why)) == 0)
			return c;
		db_close(c);
		free(c);
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		*code = CMDB_ENOMEM;
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	*code = db_connect(c, pool->cfg, err, errlen);
	if (*code) {
		free(c);
		return NULL;
	}
	return c;
}

void db_pool_put(struct db_pool *pool, struct db_conn *c)
{
	if (!c)
		return;
	if (!c->broken) {
		c->idle_since = now_mono_ms();
		pthread_mutex_lock(&pool->lock);
		if (pool->nidle < POOL_MAX_IDLE) {
			pool->idle[pool->nidle++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&pool->lock);
	}
	if (c) {
		db_close(c);
		free(c);
	}
}
