/*
 * front/tls: the API's HTTPS, done by the front with OpenSSL (civetweb behind it speaks
 * plain HTTP on loopback): the server context from CMDB_TLS_CERT / CMDB_TLS_KEY, client
 * certificates verified against CMDB_CLIENT_CA, and the principal a verified
 * certificate names. A SIGHUP loads the files again into a new context.
 */
#ifndef CMDB_API_FRONT_TLS_H
#define CMDB_API_FRONT_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct front_tls;

/*
 * Loads cert (a chain) and its key, and client_ca when it is not "": clients must then
 * present a certificate it signed, or may come without one when cert_optional. TLS 1.2
 * and newer. NULL with err saying why.
 */
struct front_tls *front_tls_new(const char *cert, const char *key, const char *client_ca,
                                int cert_optional, char *err, size_t errlen);
/* Loads the same files again; new connections get them. 0, or -1 (the old stay). */
int front_tls_reload(struct front_tls *t, char *err, size_t errlen);
void front_tls_free(struct front_tls *t);

/* A server-side session on the accepted socket fd, or NULL. Any thread. */
SSL *front_tls_session(struct front_tls *t, int fd);

/*
 * After the handshake: "cert:<CN>" of the client's certificate when one was presented
 * and verified (auth_cert_principal), else "".
 */
void front_tls_principal(SSL *ssl, char *principal, size_t len);

#endif
