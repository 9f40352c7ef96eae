/*
 * simtask: tasks live in two chained hash tables, one by task id and one by (node,
 * idempotency key); both grow by doubling. Tasks are never forgotten while the process
 * runs, which more than covers the protocol's 24-hour key memory.
 */
#include "simtask.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define INITIAL_BUCKETS 1024

static const char *const status_names[SIMTASK_STATUS_COUNT] = {
    [SIMTASK_QUEUED] = "queued",
    [SIMTASK_RUNNING] = "running",
    [SIMTASK_SUCCESS] = "success",
    [SIMTASK_FAILED] = "failed",
};

struct simtask {
	char id[SIMTASK_ID_MAX];
	size_t node;
	int64_t version;
	int64_t created_us;
	char *key; /* NULL when dispatched without an idempotency key */
	struct simtask *id_next;
	struct simtask *key_next;
};

/* A chained hash table; which link a table uses is fixed by the functions using it. */
struct table {
	struct simtask **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
};

struct simtask_store {
	pthread_mutex_t lock;
	struct table by_id;
	struct table by_key;
	uint64_t *counters; /* next task number, per node */
	size_t node_count;
	FILE *applylog;
};

const char *simtask_status_name(enum simtask_status st)
{
	return st < SIMTASK_STATUS_COUNT ? status_names[st] : NULL;
}

int64_t simtask_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum simtask_status simtask_status_at(const struct simnode *node, int64_t age_us, int64_t version)
{
	if (age_us >= node->delay_us)
		return node->fail || (node->fail_version && node->fail_version == version)
		           ? SIMTASK_FAILED
		           : SIMTASK_SUCCESS;
	if (age_us < node->delay_us / 5)
		return SIMTASK_QUEUED;
	return SIMTASK_RUNNING;
}

static uint64_t hash_bytes(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL; /* FNV-1a */
	}
	return h;
}

static uint64_t hash_id(const char *id)
{
	return hash_bytes(14695981039346656037ULL, id);
}

static uint64_t hash_key(size_t node, const char *key)
{
	return hash_bytes(14695981039346656037ULL ^ ((uint64_t)node * 0x9e3779b97f4a7c15ULL), key);
}

static int table_init(struct table *t)
{
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	t->nbuckets = INITIAL_BUCKETS;
	t->count = 0;
	return t->buckets ? 0 : -1;
}

/* The chain link and hash a task has in by_id (by_key false) or in by_key (true). */
static struct simtask **link_of(struct simtask *task, bool by_key)
{
	return by_key ? &task->key_next : &task->id_next;
}

static uint64_t hash_of(const struct simtask *task, bool by_key)
{
	return by_key ? hash_key(task->node, task->key) : hash_id(task->id);
}

/*
 * Adds task to t, doubling the table first when it is full. Growing is best effort: if
 * the bigger array cannot be allocated the chains just get longer.
 */
static void table_add(struct table *t, struct simtask *task, bool by_key)
{
	size_t i, slot;

	if (t->count >= t->nbuckets) {
		size_t n = t->nbuckets * 2;
		struct simtask **grown = calloc(n, sizeof(*grown));

		if (grown) {
			for (i = 0; i < t->nbuckets; i++) {
				struct simtask *cur = t->buckets[i], *next;

				for (; cur; cur = next) {
					next = *link_of(cur, by_key);
					slot = (size_t)hash_of(cur, by_key) & (n - 1);
					*link_of(cur, by_key) = grown[slot];
					grown[slot] = cur;
				}
			}
			free(t->buckets);
			t->buckets = grown;
			t->nbuckets = n;
		}
	}
	slot = (size_t)hash_of(task, by_key) & (t->nbuckets - 1);
	*link_of(task, by_key) = t->buckets[slot];
	t->buckets[slot] = task;
	t->count++;
}

struct simtask_store *simtask_store_new(size_t node_count, FILE *applylog)
{
	struct simtask_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->node_count = node_count;
	s->applylog = applylog;
	s->counters = calloc(node_count ? node_count : 1, sizeof(*s->counters));
	if (!s->counters || table_init(&s->by_id) < 0 || table_init(&s->by_key) < 0)
		goto fail;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail;
	return s;
fail:
	free(s->by_key.buckets);
	free(s->by_id.buckets);
	free(s->counters);
	free(s);
	return NULL;
}

void simtask_store_free(struct simtask_store *s)
{
	size_t i;

	if (!s)
		return;
	/* Every task is in by_id exactly once; by_key only links to the same objects. */
	for (i = 0; i < s->by_id.nbuckets; i++) {
		struct simtask *cur = s->by_id.buckets[i], *next;

		for (; cur; cur = next) {
			next = cur->id_next;
			free(cur->key);
			free(cur);
		}
	}
	free(s->by_id.buckets);
	free(s->by_key.buckets);
	free(s->counters);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct simtask *find_by_key(struct simtask_store *s, size_t node, const char *key)
{
	struct simtask *cur = s->by_key.buckets[hash_key(node, key) & (s->by_key.nbuckets - 1)];

	for (; cur; cur = cur->key_next) {
		if (cur->node == node && strcmp(cur->key, key) == 0)
			return cur;
	}
	return NULL;
}

/*
 * Wall-clock milliseconds for the apply log's at= field: tests compare it with the moment
 * an API request returned (date +%s%3N), to prove nothing was dispatched after it.
 */
static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes one apply-log line; called with the store locked so lines follow task order. */
static void applylog_line(struct simtask_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void applylog_line(struct simtask_store *s, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (!s->applylog)
		return;
	va_start(ap, fmt);
	w = vfprintf(s->applylog, fmt, ap);
	va_end(ap);
	if (w < 0 || fflush(s->applylog) != 0)
		log_error("agentsim", "cannot write the apply log; test evidence is incomplete");
}

int simtask_dispatch(struct simtask_store *s, const struct simnode *node, int64_t version,
                     const char *key, char *id, size_t idlen)
{
	struct simtask *task;
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	if (key) {
		task = find_by_key(s, node->index, key);
		if (task && task->version != version) {
			rc = SIMTASK_CONFLICT;
			goto out;
		}
		if (task) {
			snprintf(id, idlen, "%s", task->id);
			applylog_line(s, "replay node=%s task=%s at=%lld key=%s\n", node->addr,
			              task->id, wall_ms(), key);
			rc = SIMTASK_REPLAYED;
			goto out;
		}
	}
	task = calloc(1, sizeof(*task));
	if (!task)
		goto out;
	if (key) {
		task->key = strdup(key);
		if (!task->key) {
			free(task);
			goto out;
		}
	}
	task->node = node->index;
	task->version = version;
	task->created_us = simtask_now_us();
	snprintf(task->id, sizeof(task->id), "t%zu-%" PRIu64, node->index,
	         ++s->counters[node->index]);
	table_add(&s->by_id, task, false);
	if (key)
		table_add(&s->by_key, task, true);
	snprintf(id, idlen, "%s", task->id);
	applylog_line(s, "apply node=%s task=%s version=%" PRId64 " at=%lld key=%s\n", node->addr,
	              task->id, version, wall_ms(), key ? key : "-");
	rc = SIMTASK_CREATED;
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int simtask_find(struct simtask_store *s, const struct simnode *node, const char *id,
                 int64_t *created_us, int64_t *version)
{
	struct simtask *cur;
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	cur = s->by_id.buckets[hash_id(id) & (s->by_id.nbuckets - 1)];
	for (; cur; cur = cur->id_next) {
		if (cur->node == node->index && strcmp(cur->id, id) == 0) {
			*created_us = cur->created_us;
			*version = cur->version;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
