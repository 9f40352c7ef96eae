/*
 * front/tls: one SSL_CTX at a time, swapped under a lock on reload; sessions already
 * running keep a reference to the context they started with.
 */
#include "api/v1/front/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "auth/auth.h"
#include "core/core.h"

struct front_tls {
	char cert[1024], key[1024], client_ca[1024];
	int cert_optional;
	pthread_mutex_t lock;
	SSL_CTX *ctx;
};

static SSL_CTX *build(const struct front_tls *t, char *err, size_t errlen)
{
	static const unsigned char sid[] = "cmdb-api";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) *names = NULL;
	int ok = ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
	         SSL_CTX_use_certificate_chain_file(ctx, t->cert) == 1 &&
	         SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) == 1 &&
	         SSL_CTX_check_private_key(ctx) == 1 &&
	         SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) == 1;

	if (ok && t->client_ca[0]) {
		/* Only CMDB_CLIENT_CA vouches for a client: not the system's CAs. */
		names = SSL_load_client_CA_file(t->client_ca);
		ok = names && SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) == 1;
		if (ok) {
			SSL_CTX_set_client_CA_list(ctx, names);
			names = NULL;
			SSL_CTX_set_verify(
			    ctx,
			    SSL_VERIFY_PEER |
			        (t->cert_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
			    NULL);
		}
	}
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	if (ok) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
		/* Idle connections give their buffers back: a kept connection costs little. */
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
		                          SSL_MODE_RELEASE_BUFFERS);
	}
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		snprintf(
		    err, errlen,
		    "CMDB_TLS_CERT / CMDB_TLS_KEY / CMDB_CLIENT_CA: the files do not load, or the"
		    " key does not match the certificate");
		return NULL;
	}
	return ctx;
}

struct front_tls *front_tls_new(const char *cert, const char *key, const char *client_ca,
                                int cert_optional, char *err, size_t errlen)
{
	struct front_tls *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	str_copy(t->cert, cert, sizeof(t->cert));
	str_copy(t->key, key, sizeof(t->key));
	str_copy(t->client_ca, client_ca, sizeof(t->client_ca));
	t->cert_optional = cert_optional;
	pthread_mutex_init(&t->lock, NULL);
	t->ctx = build(t, err, errlen);
	if (!t->ctx) {
		front_tls_free(t);
		return NULL;
	}
	return t;
}

int front_tls_reload(struct front_tls *t, char *err, size_t errlen)
{
	SSL_CTX *ctx = build(t, err, errlen), *old;

	if (!ctx)
		return -1;
	pthread_mutex_lock(&t->lock);
	old = t->ctx;
	t->ctx = ctx;
	pthread_mutex_unlock(&t->lock);
	SSL_CTX_free(old);
	return 0;
}

void front_tls_free(struct front_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

SSL *front_tls_session(struct front_tls *t, int fd)
{
	SSL *ssl;

	pthread_mutex_lock(&t->lock);
	ssl = SSL_new(t->ctx);
	pthread_mutex_unlock(&t->lock);
	if (ssl && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ssl = NULL;
	}
	if (ssl)
		SSL_set_accept_state(ssl);
	ERR_clear_error();
	return ssl;
}

void front_tls_principal(SSL *ssl, char *principal, size_t len)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	char subject[512];

	principal[0] = '\0';
	if (peer && SSL_get_verify_result(ssl) == X509_V_OK &&
	    X509_NAME_oneline(X509_get_subject_name(peer), subject, (int)sizeof(subject)))
		auth_cert_principal(subject, principal, len);
	X509_free(peer);
}
