/*
 * auth: the token file and the two ways a request names its principal.
 */
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

#define TOKEN_NAME_MAX 64
#define TOKEN_LINE_MAX 512
#define TOKENS_MAX     10000

struct auth_token {
	char name[TOKEN_NAME_MAX + 1];
	unsigned char hash[SHA256_DIGEST_LENGTH];
	int can_write;
};

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Parses "name:hex[:role]" (already stripped of the newline) into t. */
static int parse_line(char *line, struct auth_token *t, const char **why)
{
	char *name = line, *hash = strchr(line, ':'), *role;
	size_t nlen;

	if (!hash) {
		*why = "want name:sha256hex[:role]";
		return -1;
	}
	*hash++ = '\0';
	role = strchr(hash, ':');
	if (role)
		*role++ = '\0';
	nlen = strlen(name);
	if (nlen == 0 || nlen > TOKEN_NAME_MAX ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
	        nlen) {
		*why = "the name must be 1..64 of [A-Za-z0-9._-]";
		return -1;
	}
	if (strlen(hash) != 2 * SHA256_DIGEST_LENGTH) {
		*why = "the hash must be 64 hex digits (sha256sum of the token)";
		return -1;
	}
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		int hi = hex_value(hash[2 * i]), lo = hex_value(hash[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			*why = "the hash must be 64 hex digits (sha256sum of the token)";
			return -1;
		}
		t->hash[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!role || strcmp(role, "writer") == 0) {
		t->can_write = 1;
	} else if (strcmp(role, "reader") == 0) {
		t->can_write = 0;
	} else {
		*why = "the role must be writer or reader";
		return -1;
	}
	str_copy(t->name, name, sizeof(t->name));
	return 0;
}

int auth_load_tokens(struct auth *a, const char *path, char *err, size_t errlen)
{
	char line[TOKEN_LINE_MAX + 2];
	struct stat st;
	FILE *f;
	int lineno = 0, rc = -1;

	a->tokens = NULL;
	a->ntokens = 0;
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
	a->tokens = calloc(TOKENS_MAX, sizeof(*a->tokens));
	if (!a->tokens) {
		snprintf(err, errlen, "CMDB_API_TOKENS_FILE: out of memory");
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		const char *why = NULL;

		lineno++;
		if (n > TOKEN_LINE_MAX) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE line %d: longer than %d",
			         lineno, TOKEN_LINE_MAX);
			goto out;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (a->ntokens == TOKENS_MAX) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE: more than %d tokens",
			         TOKENS_MAX);
			goto out;
		}
		if (parse_line(line, &a->tokens[a->ntokens], &why)) {
			snprintf(err, errlen, "CMDB_API_TOKENS_FILE line %d: %s", lineno, why);
			goto out;
		}
		for (size_t i = 0; i < a->ntokens; i++) {
			if (strcmp(a->tokens[i].name, a->tokens[a->ntokens].name) == 0) {
				snprintf(err, errlen,
				         "CMDB_API_TOKENS_FILE line %d: name %s given twice",
				         lineno, a->tokens[i].name);
				goto out;
			}
		}
		a->ntokens++;
	}
	if (a->ntokens == 0) {
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
	if (a->tokens)
		OPENSSL_cleanse(a->tokens, sizeof(*a->tokens) * a->ntokens);
	free(a->tokens);
	a->tokens = NULL;
	a->ntokens = 0;
}

enum auth_verdict auth_check_bearer(const struct auth *a, const char *header, char *principal,
                                    size_t len)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const struct auth_token *hit = NULL;
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
	for (size_t i = 0; i < a->ntokens; i++)
		if (CRYPTO_memcmp(hash, a->tokens[i].hash, sizeof(hash)) == 0)
			hit = &a->tokens[i];
	OPENSSL_cleanse(hash, sizeof(hash));
	if (!hit)
		return AUTH_INVALID;
	snprintf(principal, len, "token:%s", hit->name);
	return hit->can_write ? AUTH_WRITER : AUTH_READER;
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
