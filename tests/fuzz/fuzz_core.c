/*
 * fuzz_core: libFuzzer harness for the small pure helpers everything else leans on:
 * parse_int64, json_too_deep (the guard in front of cJSON's recursion), the DATETIME
 * <-> RFC 3339 conversions and migrate_split.
 */
#include <assert.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "db/db.h"
#include "db/migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * migrate.o also holds migrate_apply, which calls into internal/db. Linking it would pull in
 * the MariaDB client for nothing, so these stand-ins satisfy the linker and abort if the
 * harness ever reached them.
 */
int db_exec(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
            uint64_t *affected, uint64_t *insert_id, char *err, size_t errlen)
{
	(void)c, (void)sql, (void)args, (void)nargs, (void)affected, (void)insert_id;
	(void)err, (void)errlen;
	abort();
}

int db_query(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
             struct db_rows *out, char *err, size_t errlen)
{
	(void)c, (void)sql, (void)args, (void)nargs, (void)out, (void)err, (void)errlen;
	abort();
}

void db_rows_free(struct db_rows *rows)
{
	(void)rows;
	abort();
}

int db_exec_raw(struct db_conn *c, const char *sql, char *err, size_t errlen)
{
	(void)c, (void)sql, (void)err, (void)errlen;
	abort();
}

int64_t db_cell_i64(const struct db_rows *rows, size_t row, size_t col)
{
	(void)rows, (void)row, (void)col;
	abort();
}

/* 9999-12-31 23:59:59.999 UTC: the last instant a DATETIME(3) column holds. */
#define DATETIME_MAX_MS 253402300799999LL

/* The header promises a strict decimal: an optional '-' and digits, nothing else. */
static void check_parse_int64(const char *s)
{
	int64_t v = 0;
	const char *p = s;

	if (parse_int64(s, INT64_MIN, INT64_MAX, &v) == 0) {
		if (*p == '-')
			p++;
		assert(*p != '\0');
		assert(strspn(p, "0123456789") == strlen(p));
	}
	if (parse_int64(s, 1, 65535, &v) == 0)
		assert(v >= 1 && v <= 65535);
}

static int tree_depth(const cJSON *item)
{
	int deepest = 0;

	if (!cJSON_IsArray(item) && !cJSON_IsObject(item))
		return 0;
	for (const cJSON *c = item->child; c; c = c->next) {
		int d = tree_depth(c);

		if (d > deepest)
			deepest = d;
	}
	return deepest + 1;
}

/* Whatever json_too_deep lets through, cJSON must not find deeper than max. */
static void check_json_depth(const uint8_t *data, size_t size)
{
	for (int max = 1; max <= 8; max *= 2) {
		cJSON *doc;

		if (json_too_deep((const char *)data, size, max))
			continue;
		doc = cJSON_ParseWithLength((const char *)data, size);
		if (doc)
			assert(tree_depth(doc) <= max);
		cJSON_Delete(doc);
	}
}

static void check_times(const char *s, const uint8_t *data, size_t size)
{
	char db[32], rfc[32];
	uint64_t raw = 0;
	int64_t ms, back;

	if (db_time_to_rfc3339(s, rfc, sizeof(rfc)) == 0)
		assert(strnlen(rfc, sizeof(rfc)) < sizeof(rfc));
	(void)rfc3339_to_ms(s, &back);

	/* Round trip of an instant through the form MariaDB returns and the form we send. */
	memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
	ms = (int64_t)(raw % (uint64_t)(DATETIME_MAX_MS + 1));
	format_db_time(ms, db, sizeof(db));
	assert(db_time_to_rfc3339(db, rfc, sizeof(rfc)) == 0);
	assert(rfc3339_to_ms(rfc, &back) == 0);
	assert(back == ms);
}

struct split_ctx {
	size_t textlen;
	size_t total;
};

static int on_stmt(const char *stmt, void *arg)
{
	struct split_ctx *ctx = arg;
	size_t n = strlen(stmt);

	/* migrate.h: fn is called for each non-empty statement only. */
	assert(n > 0);
	ctx->total += n;
	assert(ctx->total <= ctx->textlen);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct split_ctx ctx;
	char *s = malloc(size + 1);

	assert(s);
	memcpy(s, data, size);
	s[size] = '\0';
	check_parse_int64(s);
	check_json_depth(data, size);
	check_times(s, data, size);
	ctx.textlen = strlen(s);
	ctx.total = 0;
	assert(migrate_split(s, on_stmt, &ctx) == 0);
	free(s);
	return 0;
}
