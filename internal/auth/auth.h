/*
 * auth: who asks. Two kinds of principal, both with roles (auth/roles.h) and maybe a scope:
 *   - a bearer token listed in CMDB_API_TOKENS_FILE as "name:sha256hex[:roles[:scope]]",
 *     shown as "token:<name>" (no roles written: a writer, as before roles existed);
 *   - a client certificate verified against CMDB_CLIENT_CA, shown as "cert:<CN>", with the
 *     roles of its "cert:<CN>:roles[:scope]" line in the same file, or a writer without one.
 * Tokens are stored only as SHA-256 hashes and compared in constant time. What each role
 * may do is the router's table (api/v1/router.c); this module only names the principal.
 */
#ifndef CMDB_AUTH_H
#define CMDB_AUTH_H

#include <stddef.h>

#include "auth/roles.h"

#define AUTH_PRINCIPAL_MAX 128

/* The lines of a token file: tokens and certificate lines. */
struct auth {
	struct auth_entry *entries;
	size_t n;       /* entries used */
	size_t alloc;   /* entries allocated */
	size_t ntokens; /* of them, bearer tokens */
	size_t ncerts;  /* of them, certificate lines */
};

#define AUTH_INIT                                                                                  \
	{                                                                                          \
		NULL, 0, 0, 0, 0                                                                   \
	}

/*
 * Loads a token file (auth_parse_line per line). Refuses a file that group or others may
 * read or write, a malformed line (err: "CMDB_API_TOKENS_FILE line N: why", never a
 * hash), a token name, certificate CN or token given twice, and a file with no line.
 * On failure a is empty.
 */
int auth_load_tokens(struct auth *a, const char *path, char *err, size_t errlen);
void auth_free(struct auth *a);

/* Who asks: a name, the roles as granted (auth/roles.h), the scope ("" for none). */
struct auth_principal {
	char name[AUTH_PRINCIPAL_MAX]; /* "token:<name>", "cert:<CN>", "local"; "" for nobody */
	unsigned roles;
	char scope[AUTH_SCOPE_MAX];
};

enum auth_verdict {
	AUTH_ANONYMOUS = 0, /* no credentials presented */
	AUTH_KNOWN,         /* a known token: p is filled */
	AUTH_INVALID,       /* credentials presented but wrong */
};

/* Judges an Authorization header value (NULL when absent): "Bearer <token>". */
enum auth_verdict auth_check_bearer(const struct auth *a, const char *header,
                                    struct auth_principal *p);

/*
 * The principal of a verified client certificate, named "cert:<CN>" by
 * auth_cert_principal: its roles and scope from its cert:<CN> line. Returns 1 when a line
 * names it, 0 when none does (then it is a writer without a scope, as before roles).
 */
int auth_check_cert(const struct auth *a, const char *principal, struct auth_principal *p);

/*
 * The principal of a verified client certificate from its subject as OpenSSL's
 * X509_NAME_oneline writes it ("/C=../CN=operator/..."): "cert:<CN>", or "cert:<subject>"
 * without a CN.
 * Characters outside [A-Za-z0-9._@:=/ -] are replaced by '?'.
 */
void auth_cert_principal(const char *subject, char *principal, size_t len);

#endif
