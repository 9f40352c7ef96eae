/*
 * simcert: one small server certificate per simulated node, minted in process at
 * startup, so each address presents what a real agent would (its own IP as the only
 * name) instead of one certificate naming the whole fleet, whose size distorts the
 * controller's handshake cost.
 */
#ifndef CMDB_SIMCERT_H
#define CMDB_SIMCERT_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "simnode.h"

struct simcert;

/*
 * Mints a certificate for every node in nodes, all sharing one fresh EC P-256 key.
 * certs_dir holds ca.pem and ca.key (the fleet CA) and, when a node asks for
 * cert=otherca, other-ca.pem and other-ca.key; certs/gen.sh writes them all. By the
 * node's cert kind:
 *   good       fleet CA, SAN IP:<node ip>, valid from an hour ago for 30 days
 *   otherca    like good, but signed by the unrelated CA
 *   wrongname  fleet CA, SAN DNS:wrong.invalid only
 *   expired    fleet CA, SAN IP:<node ip>, valid from 30 days ago until yesterday
 * Every leaf has a random 128-bit serial and extendedKeyUsage serverAuth. Returns the
 * set (free with simcert_free), or NULL with a message in err. nodes is only read here.
 */
struct simcert *simcert_mint(const char *certs_dir, const struct simnode_table *nodes, char *err,
                             size_t errlen);

/*
 * Makes ssl present node's certificate and the shared key; safe from any thread, for
 * an SSL_CTX_set_cert_cb callback. node must come from the table given to the mint.
 * Returns 0, or -1 when OpenSSL refuses (the handshake should then fail).
 */
int simcert_use(const struct simcert *c, const struct simnode *node, SSL *ssl);

/* Frees c and every certificate it holds. NULL is allowed. */
void simcert_free(struct simcert *c);

#endif
