/*
 * ssl_compat: a tiny shared library named libssl.so that civetweb loads at run time.
 * Debian 12's libcivetweb 1.15 is built for the OpenSSL 1.1 API and resolves
 * SSL_get_peer_certificate with dlsym; OpenSSL 3 only has SSL_get1_peer_certificate
 * (upstream civetweb issue 1334). Everything else resolves through our dependency on
 * libssl.so.3. See docs/architecture.md, "TLS and civetweb".
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

X509 *SSL_get_peer_certificate(const SSL *ssl);

/* Same contract as in OpenSSL 1.1: the caller owns (and frees) the returned reference. */
X509 *SSL_get_peer_certificate(const SSL *ssl)
{
	return SSL_get1_peer_certificate(ssl);
}
