/*
 * store/rows: result rows into structs, by column tables (store_internal.h), and whether
 * (and when) a transaction that failed runs again.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backoff.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "store/store_internal.h"

void store_copy_time(const struct db_rows *r, size_t row, size_t col, char *buf)
{
	const char *v = db_cell(r, row, col);

	if (!v || db_time_to_rfc3339(v, buf, STORE_TIME_LEN))
		buf[0] = '\0';
}

void store_map_row(const struct db_rows *r, size_t row, const struct store_col *cols, size_t ncols,
                   void *out)
{
	char *base = out;

	for (size_t i = 0; i < ncols; i++) {
		const char *v = db_cell(r, row, i);
		void *field = base + cols[i].offset;
		int st;

		switch (cols[i].kind) {
		case COL_I64:
			*(int64_t *)field = db_cell_i64(r, row, i);
			break;
		case COL_INT:
			*(int *)field = (int)db_cell_i64(r, row, i);
			break;
		case COL_INT_OR_UNSET:
			*(int *)field = v ? (int)db_cell_i64(r, row, i) : -1;
			break;
		case COL_STR:
			str_copy(field, v ? v : "", cols[i].size);
			break;
		case COL_TIME:
			store_copy_time(r, row, i, field);
			break;
		case COL_RELEASE_STATUS:
			st = release_status_parse(v);
			*(enum release_status *)field =
			    st < 0 ? RELEASE_PENDING : (enum release_status)st;
			break;
		case COL_NODE_STATUS:
			st = node_status_parse(v);
			*(enum node_status *)field = st < 0 ? NODE_PENDING : (enum node_status)st;
			break;
		case COL_HEALTH:
			*(enum node_health *)field =
			    node_health_parse(v) == NODE_OFFLINE ? NODE_OFFLINE : NODE_ONLINE;
			break;
		}
	}
}

int store_map_rows(const struct db_rows *r, const struct store_col *cols, size_t ncols,
                   size_t elem_size, void **out, size_t *n)
{
	char *arr = NULL;

	*out = NULL;
	*n = 0;
	if (r->nrows == 0)
		return 0;
	arr = calloc(r->nrows, elem_size);
	if (!arr)
		return CMDB_ENOMEM;
	for (size_t i = 0; i < r->nrows; i++) {
		memset(arr + i * elem_size, 0, elem_size);
		store_map_row(r, i, cols, ncols, arr + i * elem_size);
	}
	*out = arr;
	*n = r->nrows;
	return 0;
}

int store_query_rows(struct db_conn *c, const char *sql, const struct db_arg *args, size_t nargs,
                     const struct store_col *cols, size_t ncols, size_t elem_size, void **out,
                     size_t *n, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	int rc = db_query(c, sql, args, nargs, &rows, err, errlen);

	*out = NULL;
	*n = 0;
	if (rc == 0)
		rc = store_map_rows(&rows, cols, ncols, elem_size, out, n);
	db_rows_free(&rows);
	return rc;
}

int store_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int store_insert_rows(struct db_conn *c, const char *head, const char *row, size_t per, size_t n,
                      void (*fill)(const void *ctx, size_t i, struct db_arg *args), const void *ctx,
                      char *err, size_t errlen)
{
	size_t chunk = DB_MAX_ARGS / per < 1000 ? DB_MAX_ARGS / per : 1000;
	struct db_arg *args = calloc(chunk * per, sizeof(*args));
	struct strbuf sql = STRBUF_INIT;
	int rc = args ? 0 : CMDB_ENOMEM;

	for (size_t at = 0; at < n && rc == 0; at += chunk) {
		size_t k = n - at < chunk ? n - at : chunk;

		strbuf_reset(&sql);
		strbuf_adds(&sql, head);
		for (size_t i = 0; i < k; i++) {
			if (i)
				strbuf_add(&sql, ",", 1);
			strbuf_adds(&sql, row);
			fill(ctx, at + i, &args[i * per]);
		}
		rc = sql.failed ? CMDB_ENOMEM
		                : db_exec(c, sql.buf, args, k * per, NULL, NULL, err, errlen);
	}
	strbuf_free(&sql);
	free(args);
	return rc;
}

void store_add_placeholders(struct strbuf *sb, size_t n)
{
	strbuf_grow(sb, 2 * n);
	for (size_t i = 0; i < n; i++)
		strbuf_add(sb, i ? ",?" : "?", i ? 2 : 1);
}

int store_tx_again(struct db_conn *c, int rc, int attempt, int idempotent, const char *err)
{
	static __thread unsigned int seed;
	char why[512];
	int unsure = c->unsure;
	long ms;

	if (rc != CMDB_ERETRY && (rc != CMDB_EDBDOWN || (unsure && !idempotent) || c->in_tx))
		return 0;
	if (!seed)
		seed =
		    (unsigned int)now_mono_ms() ^ (unsigned int)(uintptr_t)&seed; /* per thread */
	ms = (long)backoff_ms(&backoff_tx, attempt + 1, &seed);
	sleep_for_ms(ms);
	if (rc == CMDB_EDBDOWN && db_reconnect(c, why, sizeof(why))) {
		log_warn("store", "%s; reconnecting: %s", err, why);
		return 0;
	}
	metrics_db_tx_retry();
	log_info("store", "%s; running the transaction again (try %d of %d)%s", err, attempt + 2,
	         STORE_TX_TRIES,
	         unsure ? "; its COMMIT may have gone through, and running it again is safe" : "");
	return 1;
}
