/*
 * simcert: mints the per-node server certificates with the OpenSSL 3 API. Every leaf
 * shares one EC P-256 key, so minting costs one ECDSA signature per node (4,000 nodes
 * in about half a second) and no openssl process; clients see only the certificate.
 */
#include "simcert.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_S       3600L
#define SERIAL_BYTES 16

struct simcert {
	EVP_PKEY *key; /* the one leaf key */
	X509 **leaves; /* by node index */
	size_t count;
};

/* A CA that signs leaves: the fleet CA or the unrelated one. */
struct issuer {
	X509 *cert;
	EVP_PKEY *key;
};

/* Appends OpenSSL's reason for the last failure to err, after what. */
static void ossl_error(char *err, size_t errlen, const char *what)
{
	char reason[256];
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	else
		snprintf(reason, sizeof(reason), "unknown OpenSSL error");
	snprintf(err, errlen, "%s: %s", what, reason);
	ERR_clear_error();
}

/* Opens DIR/NAME.EXT for reading, or fails with a message naming the file. */
static FILE *open_pem(const char *dir, const char *name, const char *ext, char *err, size_t errlen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "r");
	if (!f)
		snprintf(err, errlen, "cannot open %s: %s (run certs/gen.sh)", path,
		         strerror(errno));
	return f;
}

/* Loads DIR/NAME.pem and DIR/NAME.key into ca; on failure ca holds nothing. */
static int issuer_load(struct issuer *ca, const char *dir, const char *name, char *err,
                       size_t errlen)
{
	char what[128];
	FILE *f = NULL;
	int rc = -1;

	f = open_pem(dir, name, "pem", err, errlen);
	if (!f)
		goto out;
	ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
	if (!ca->cert) {
		snprintf(what, sizeof(what), "no certificate in %s.pem", name);
		ossl_error(err, errlen, what);
		goto out;
	}
	fclose(f);
	f = open_pem(dir, name, "key", err, errlen);
	if (!f)
		goto out;
	ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!ca->key) {
		snprintf(what, sizeof(what), "no private key in %s.key", name);
		ossl_error(err, errlen, what);
		goto out;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		snprintf(what, sizeof(what), "%s.key does not match %s.pem", name, name);
		ossl_error(err, errlen, what);
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc < 0) {
		X509_free(ca->cert);
		ca->cert = NULL;
		EVP_PKEY_free(ca->key);
		ca->key = NULL;
	}
	return rc;
}

static void issuer_free(struct issuer *ca)
{
	X509_free(ca->cert);
	ca->cert = NULL;
	EVP_PKEY_free(ca->key);
	ca->key = NULL;
}

/* A positive random serial; RFC 5280 allows up to 20 octets, gen.sh uses 16. */
static int set_serial(X509 *x)
{
	unsigned char raw[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		goto out;
	raw[0] &= 0x7f;
	raw[0] |= 0x40; /* a full 16 octets, never a leading zero */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/*
 * Signs a leaf for node with ca. The extensions are those of gen.sh's agent
 * certificates, so only the names and dates differ from what agentsim served before.
 */
static X509 *mint_leaf(const struct issuer *ca, EVP_PKEY *key, const struct simnode *node,
                       time_t now)
{
	const bool wrongname = node->cert == SIMNODE_CERT_WRONGNAME;
	const bool expired = node->cert == SIMNODE_CERT_EXPIRED;
	char san[sizeof("IP:") + sizeof(node->ip)];
	X509V3_CTX ctx;
	X509 *x = X509_new();

	if (!x)
		return NULL;
	if (wrongname)
		snprintf(san, sizeof(san), "DNS:wrong.invalid");
	else
		snprintf(san, sizeof(san), "IP:%s", node->ip);
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) < 0 ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), expired ? -30 : 0, expired ? 0 : -HOUR_S,
	                      &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), expired ? -1 : 30, 0, &now) ||
	    X509_NAME_add_entry_by_txt(
	        X509_get_subject_name(x), "CN", MBSTRING_ASC,
	        (const unsigned char *)(wrongname ? "wrong.invalid" : node->ip), -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid") < 0 ||
	    add_ext(x, &ctx, NID_subject_alt_name, san) < 0)
		goto fail;
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/*
 * The shared leaf key, made through the deprecated EC_KEY API on purpose: OpenSSL 3.0's
 * X509_set_pubkey() runs a provider-native key through an encoder and a decoder on
 * every call, which cost 75% of minting (1.6 s for 4,000 leaves); a legacy key takes
 * the direct path. Returns NULL on failure.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static EVP_PKEY *leaf_key_new(void)
{
	EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
	EVP_PKEY *key = EVP_PKEY_new();

	if (!ec || !key || EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
		EC_KEY_free(ec);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}
#pragma GCC diagnostic pop

static bool wants_otherca(const struct simnode_table *nodes)
{
	size_t i;

	for (i = 0; i < nodes->count; i++) {
		if (nodes->nodes[i].cert == SIMNODE_CERT_OTHERCA)
			return true;
	}
	return false;
}

struct simcert *simcert_mint(const char *certs_dir, const struct simnode_table *nodes, char *err,
                             size_t errlen)
{
	struct issuer fleet = {NULL, NULL}, other = {NULL, NULL};
	const struct issuer *ca;
	struct simcert *c = calloc(1, sizeof(*c));
	char what[64];
	time_t now = time(NULL);
	size_t i;
	int rc = -1;

	if (!c || !(c->leaves = calloc(nodes->count ? nodes->count : 1, sizeof(*c->leaves)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	c->count = nodes->count;
	if (issuer_load(&fleet, certs_dir, "ca", err, errlen) < 0)
		goto out;
	/* Only a nodes file with cert=otherca needs the second CA's files. */
	if (wants_otherca(nodes) && issuer_load(&other, certs_dir, "other-ca", err, errlen) < 0)
		goto out;
	c->key = leaf_key_new();
	if (!c->key) {
		ossl_error(err, errlen, "cannot generate the agents' EC key");
		goto out;
	}
	for (i = 0; i < nodes->count; i++) {
		ca = nodes->nodes[i].cert == SIMNODE_CERT_OTHERCA ? &other : &fleet;
		c->leaves[i] = mint_leaf(ca, c->key, &nodes->nodes[i], now);
		if (!c->leaves[i]) {
			snprintf(what, sizeof(what), "cannot mint a certificate for %s",
			         nodes->nodes[i].addr);
			ossl_error(err, errlen, what);
			goto out;
		}
	}
	rc = 0;
out:
	issuer_free(&fleet);
	issuer_free(&other);
	if (rc < 0) {
		simcert_free(c);
		c = NULL;
	}
	return c;
}

int simcert_use(const struct simcert *c, const struct simnode *node, SSL *ssl)
{
	if (node->index >= c->count)
		return -1;
	/* ssl takes its own references; override replaces what it inherited from the ctx. */
	return SSL_use_cert_and_key(ssl, c->leaves[node->index], c->key, NULL, 1) == 1 ? 0 : -1;
}

void simcert_free(struct simcert *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; c->leaves && i < c->count; i++)
		X509_free(c->leaves[i]);
	free(c->leaves);
	EVP_PKEY_free(c->key);
	free(c);
}
