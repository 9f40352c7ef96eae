/*
 * auth: the token file (its lines are roles.c's to parse) and the two ways a request
 * names its principal.
 */
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

#define ENTRIES_MAX 10000

/* Room for one more entry; the old array is wiped before it is freed. 0 or -1. */
static int grow(struct auth *a)
{
	struct auth_entry *bigger;
	size_t want = a->alloc ? a->alloc * 2 : 16;

	if (a->n < a->alloc)
		return 0;
	bigger = calloc(want, sizeof(*bigger));
	if (!bigger)
		return -1;
	if (a->entries) {
		memcpy(bigger, a->entries, a->n * sizeof(*bigger));
		OPENSSL_cleanse(a->entries, a->n * sizeof(*bigger));
		free(a->entries);
	}
	a->entries = bigger;
	a->alloc = want;
	return 0;
}

/* The line before e that e repeats (name, CN or token), or 0; *what says which. */
static int repeats(const struct auth *a, const struct auth_entry *e, const char **what)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct auth_entry *o = &a->entries[i];

		if (o->kind != e->kind)
			continue;
		if (strcmp(o->name, e->name) == 0) {
			*what = e->kind == AUTH_LINE_CERT ? "certificate" : "name";
			return 1;
		}
		if (e->kind == AUTH_LINE_TOKEN && memcmp(o->hash, e->hash, sizeof(e->hash)) == 0) {
			*what = "token (the same hash)";
			return 1;
		}
	}
	return 0;
}

/* Reads the lines of f into a; 0, or -1 with err naming the line. */
static int read_lines(struct auth *a, FILE *f, char *err, size_t errlen)
{
	char line[AUTH_LINE_MAX + 2], why[AUTH_WHY_MAX];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		const char *what;

		lineno++;
		if (n > AUTH_LINE_MAX) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE line %d: longer than %d",
			         lineno, AUTH_LINE_MAX);
			return -1;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (a->n == ENTRIES_MAX) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE: more than %d lines",
			         ENTRIES_MAX);
			return -1;
		}
		if (grow(a)) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE: out of memory");
			return -1;
		}
		if (auth_parse_line(line, &a->entries[a->n], why, sizeof(why))) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE line %d: %s", lineno, why);
			return -1;
		}
		if (a->entries[a->n].kind == AUTH_LINE_BLANK)
			continue;
		if (repeats(a, &a->entries[a->n], &what)) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE line %d: %s %s given twice",
			         lineno, what, a->entries[a->n].name);
			return -1;
		}
		if (a->entries[a->n].kind == AUTH_LINE_TOKEN)
			a->ntokens++;
		else
			a->ncerts++;
		a->n++;
	}
	return 0;
}

int auth_load_tokens(struct auth *a, const char *path, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	int rc = -1;

	*a = (struct auth)AUTH_INIT;
	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st) != 0) {
		snprintf(err, errlen, "CMDB_API_TOKENS_FILE: cannot read %s", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
		         "CMDB_API_TOKENS_FILE: %s is readable or writable by group or others;"
		         " chmod 600 it",
		         path);
		goto out;
	}
	if (read_lines(a, f, err, errlen))
		goto out;
	if (a->n == 0) {
		snprintf(err, errlen, "CMDB_API_TOKENS_FILE: %s holds no token", path);
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc)
		auth_free(a);
	return rc;
}

void auth_free(struct auth *a)
{
	/* Slots past the last entry may hold a line that was refused. */
	if (a->entries)
		OPENSSL_cleanse(a->entries, sizeof(*a->entries) * a->alloc);
	free(a->entries);
	*a = (struct auth)AUTH_INIT;
}

static void fill(struct auth_principal *p, const char *kind, const struct auth_entry *e)
{
	snprintf(p->name, sizeof(p->name), "%s:%s", kind, e->name);
	p->roles = e->roles;
	str_copy(p->scope, e->scope, sizeof(p->scope));
}

enum auth_verdict auth_check_bearer(const struct auth *a, const char *header,
                                    struct auth_principal *p)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const struct auth_entry *hit = NULL;
	const char *token;
	size_t n;

	if (!header)
		return AUTH_ANONYMOUS;
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return AUTH_INVALID;
	token = header + 7;
	n = strlen(token);
	if (n == 0 || n > 1024)
		return AUTH_INVALID;
	SHA256((const unsigned char *)token, n, hash);
	/* Look at every entry so the time taken does not depend on which one matched. */
	for (size_t i = 0; i < a->n; i++)
		if (CRYPTO_memcmp(hash, a->entries[i].hash, sizeof(hash)) == 0 &&
		    a->entries[i].kind == AUTH_LINE_TOKEN)
			hit = &a->entries[i];
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!hit)
		return AUTH_INVALID;
	fill(p, "token", hit);
	return AUTH_KNOWN;
}

int auth_check_cert(const struct auth *a, const char *principal, struct auth_principal *p)
{
	str_copy(p->name, principal, sizeof(p->name));
	for (size_t i = 0; i < a->n; i++) {
		const struct auth_entry *e = &a->entries[i];

		if (e->kind == AUTH_LINE_CERT && strcmp(p->name + 5, e->name) == 0) {
			fill(p, "cert", e);
			return 1;
		}
	}
	p->roles = AUTH_WRITER;
	p->scope[0] = '\0';
	return 0;
}

void auth_cert_principal(const char *subject, char *principal, size_t len)
{
	const char *cn = subject ? strstr(subject, "CN=") : NULL;
	char value[AUTH_PRINCIPAL_MAX];
	size_t n;

	if (!subject)
		subject = "";
	if (cn) {
		cn += 3;
		n = strcspn(cn, "/,");
	} else {
		cn = subject;
		n = strlen(subject);
	}
	if (n >= sizeof(value) - 6)
		n = sizeof(value) - 6 - 1;
	memcpy(value, cn, n);
	value[n] = '\0';
	for (char *p = value; *p; p++)
		if (!strchr(
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@:=/ -",
		        *p))
			*p = '?';
	snprintf(principal, len, "cert:%s", value);
}
