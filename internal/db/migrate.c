/*
 * migrate: reads the migration directory, sorts by number, and runs what is new.
 * Each file's statements run one by one (MariaDB DDL is not transactional); the
 * version is recorded only after the whole file succeeded.
 */
#include "db/migrate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/log.h"

#define MAX_MIGRATIONS 1000
#define MAX_FILE_BYTES (1024 * 1024)

struct migration {
	int64_t version;
	char name[256];
};

static int cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Accepts "NNNN_something.sql" with at least one digit; fills version. */
static int parse_name(const char *name, int64_t *version)
{
	char digits[20];
	size_t n = strspn(name, "0123456789"), len = strlen(name);

	if (n == 0 || n >= sizeof(digits) || name[n] != '_' || len < 5 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return -1;
	memcpy(digits, name, n);
	digits[n] = '\0';
	return parse_int64(digits, 1, INT64_MAX, version);
}

int migrate_split(const char *text, int (*fn)(const char *stmt, void *arg), void *arg)
{
	size_t cap = strlen(text) + 1, len = 0;
	char *stmt = malloc(cap);
	const char *p = text;
	int rc = 0;

	if (!stmt)
		return CMDB_ENOMEM;
	while (*p && rc == 0) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *s = p;
		size_t k = n;

		while (k && (*s == ' ' || *s == '\t')) {
			s++;
			k--;
		}
		while (k && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\r'))
			k--;
		if (k >= 2 && s[0] == '-' && s[1] == '-') {
			/* comment line */
		} else if (k) {
			memcpy(stmt + len, s, k);
			len += k;
			stmt[len++] = '\n';
			if (s[k - 1] == ';') {
				len -= 2; /* drop ";\n" */
				stmt[len] = '\0';
				if (len) /* a lone ";" ends nothing */
					rc = fn(stmt, arg);
				len = 0;
			}
		}
		p = eol ? eol + 1 : p + n;
	}
	if (rc == 0 && len) {
		stmt[--len] = '\0'; /* the '\n' appended after the last line */
		rc = fn(stmt, arg);
	}
	free(stmt);
	return rc;
}

struct run_ctx {
	struct db_conn *conn;
	const char *file;
	char *err;
	size_t errlen;
	int count;
};

static int run_stmt(const char *stmt, void *arg)
{
	struct run_ctx *ctx = arg;
	char dberr[512];
	int rc;

	ctx->count++;
	rc = db_exec_raw(ctx->conn, stmt, dberr, sizeof(dberr));
	if (rc)
		snprintf(ctx->err, ctx->errlen, "migration %s, statement %d: %s", ctx->file,
		         ctx->count, dberr);
	return rc;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (!f) {
		snprintf(err, errlen, "migration %s: cannot open", path);
		return NULL;
	}
	buf = malloc(MAX_FILE_BYTES + 1);
	if (buf) {
		n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
		if (n > MAX_FILE_BYTES) {
			snprintf(err, errlen, "migration %s: larger than 1 MiB", path);
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

static int list_migrations(const char *dir, struct migration **out, size_t *count, char *err,
                           size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct migration *list;
	size_t n = 0;

	if (!d) {
		snprintf(err, errlen, "migrations directory %s: cannot open", dir);
		return CMDB_ERR;
	}
	list = calloc(MAX_MIGRATIONS, sizeof(*list));
	if (!list) {
		closedir(d);
		return CMDB_ENOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t v;

		if (parse_name(de->d_name, &v))
			continue;
		if (n == MAX_MIGRATIONS || strlen(de->d_name) >= sizeof(list[n].name)) {
			snprintf(err, errlen, "migrations directory %s: too many or long names",
			         dir);
			free(list);
			closedir(d);
			return CMDB_ERR;
		}
		list[n].version = v;
		str_copy(list[n].name, de->d_name, sizeof(list[n].name));
		n++;
	}
	closedir(d);
	qsort(list, n, sizeof(*list), cmp_migration);
	for (size_t i = 1; i < n; i++) {
		if (list[i].version == list[i - 1].version) {
			snprintf(err, errlen, "migrations %s and %s share a number",
			         list[i - 1].name, list[i].name);
			free(list);
			return CMDB_ERR;
		}
	}
	*out = list;
	*count = n;
	return 0;
}

int migrate_apply(struct db_conn *c, const char *dir, int *applied, char *err, size_t errlen)
{
	struct migration *list = NULL;
	size_t n = 0;
	int rc;

	*applied = 0;
	rc = db_exec_raw(c,
	                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                 " version BIGINT NOT NULL PRIMARY KEY,"
	                 " name VARCHAR(255) NOT NULL,"
	                 " applied_at DATETIME(3) NOT NULL"
	                 ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
	                 err, errlen);
	if (rc)
		return rc;
	rc = list_migrations(dir, &list, &n, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct db_rows rows = DB_ROWS_INIT;
		struct db_arg arg = DB_I64(list[i].version);
		struct run_ctx ctx = {c, list[i].name, err, errlen, 0};
		struct db_arg ins[2] = {DB_I64(list[i].version), DB_STR(list[i].name)};
		char path[4096];
		char *text;
		int seen;

		rc = db_query(c, "SELECT 1 FROM schema_migrations WHERE version = ?", &arg, 1,
		              &rows, err, errlen);
		if (rc)
			goto out;
		seen = rows.nrows > 0;
		db_rows_free(&rows);
		if (seen)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, list[i].name);
		text = read_file(path, err, errlen);
		if (!text) {
			rc = CMDB_ERR;
			goto out;
		}
		rc = migrate_split(text, run_stmt, &ctx);
		free(text);
		if (rc)
			goto out;
		rc = db_exec(c,
		             "INSERT INTO schema_migrations (version, name, applied_at)"
		             " VALUES (?, ?, UTC_TIMESTAMP(3))",
		             ins, 2, NULL, NULL, err, errlen);
		if (rc)
			goto out;
		log_info("migrate", "applied %s (%d statements)", list[i].name, ctx.count);
		(*applied)++;
	}
	rc = 0;
out:
	free(list);
	return rc;
}

int migrate_latest(const char *dir, int64_t *version, char *err, size_t errlen)
{
	struct migration *list = NULL;
	size_t n = 0;
	int rc = list_migrations(dir, &list, &n, err, errlen);

	*version = rc == 0 && n ? list[n - 1].version : 0;
	free(list);
	return rc;
}

int migrate_applied(struct db_conn *c, int64_t *version, char *err, size_t errlen)
{
	struct db_rows rows = DB_ROWS_INIT;
	int rc = db_query(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0,
	                  &rows, err, errlen);

	*version = rc == 0 && rows.nrows ? db_cell_i64(&rows, 0, 0) : 0;
	db_rows_free(&rows);
	return rc;
}
