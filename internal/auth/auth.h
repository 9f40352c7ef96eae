/*
 * auth: who may change things through the API. Two kinds of principal:
 *   - a bearer token listed in CMDB_API_TOKENS_FILE ("name:sha256hex[:role]" lines,
 *     role "writer" (default) or "reader"), shown as "token:<name>";
 *   - a client certificate verified against CMDB_CLIENT_CA, shown as "cert:<CN>",
 *     which may write.
 * Reads are open; every write needs a principal that may write. Tokens are stored
 * only as SHA-256 hashes and compared in constant time.
 */
#ifndef CMDB_AUTH_H
#define CMDB_AUTH_H

#include <stddef.h>

#define AUTH_PRINCIPAL_MAX 128

struct auth_token;

struct auth {
	struct auth_token *tokens;
	size_t ntokens;
};

#define AUTH_INIT                                                                                  \
	{                                                                                          \
		NULL, 0                                                                            \
	}

/*
 * Loads a token file. Refuses a file that group or others may read or write, a
 * malformed line (err names the line, never echoes a hash), or a name given twice.
 */
int auth_load_tokens(struct auth *a, const char *path, char *err, size_t errlen);
void auth_free(struct auth *a);

enum auth_verdict {
	AUTH_ANONYMOUS = 0, /* no credentials presented */
	AUTH_READER,        /* a valid token that may only read */
	AUTH_WRITER,        /* a principal that may write */
	AUTH_INVALID,       /* credentials presented but wrong */
};

/*
 * Judges an Authorization header value (NULL when absent): "Bearer <token>".
 * On AUTH_READER/AUTH_WRITER principal receives "token:<name>".
 */
enum auth_verdict auth_check_bearer(const struct auth *a, const char *header, char *principal,
                                    size_t len);

/*
 * The principal of a verified client certificate from its subject as civetweb
 * reports it ("/C=../CN=operator/..."): "cert:<CN>", or "cert:<subject>" without a CN.
 * Characters outside [A-Za-z0-9._@:=/ -] are replaced by '?'.
 */
void auth_cert_principal(const char *subject, char *principal, size_t len);

#endif
