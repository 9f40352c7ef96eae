/*
 * agentclient/tls: the client's TLS identity. The certificate, its chain and the key are
 * read and checked once (at start and on agentclient_reload), and installed into each
 * new connection's SSL_CTX instead of libcurl reading the files every time.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "agentclient/agentclient_internal.h"
#include "core/core.h"

CURLcode agentclient_ssl_ctx_setup(CURL *curl, void *sslctx, void *arg)
{
	struct agentclient *ac = arg;
	SSL_CTX *ctx = sslctx;

	(void)curl;
	/*
	 * Hundreds of connections sit idle between polls: let OpenSSL free each one's read
	 * and write buffers (some 34 KB) while it has nothing to do.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* The chain is the one agentclient_identity_load settled on; see complete_chain(). */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	if (SSL_CTX_use_certificate(ctx, ac->id.cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, ac->id.key) != 1)
		return CURLE_SSL_CERTPROBLEM;
	for (int i = 0; i < sk_X509_num(ac->id.chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(ac->id.chain, i)) != 1)
			return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

void agentclient_identity_free(struct agentclient_identity *id)
{
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	EVP_PKEY_free(id->key);
	memset(id, 0, sizeof(*id));
}

/*
 * When AGENT_CERT_FILE holds no chain after the certificate: the intermediates between
 * it and its self-signed root in AGENT_CA_FILE, found once here. OpenSSL would otherwise
 * build the chain again in every handshake (a verification of our own certificate) and
 * send the root too, which the agent already trusts and would decode for nothing.
 */
static void complete_chain(const struct agentclient_config *cfg, struct agentclient_identity *id)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	STACK_OF(X509) * built;

	if (store && xs && X509_STORE_load_file(store, cfg->ca_file) == 1 &&
	    X509_STORE_CTX_init(xs, store, id->cert, NULL) == 1) {
		/* As OpenSSL's own chain building: whatever the lookup found, valid or not. */
		(void)X509_verify_cert(xs);
		built = X509_STORE_CTX_get0_chain(xs);
		for (int i = 1; i < sk_X509_num(built); i++) {
			X509 *x = sk_X509_value(built, i);

			if (X509_self_signed(x, 0) != 1 && X509_up_ref(x) == 1 &&
			    !sk_X509_push(id->chain, x))
				X509_free(x);
		}
	}
	ERR_clear_error();
	X509_STORE_CTX_free(xs);
	X509_STORE_free(store);
}

int agentclient_identity_load(const struct agentclient_config *cfg, struct agentclient_identity *id,
                              char *err, size_t errlen)
{
	FILE *f = fopen(cfg->cert_file, "r");
	X509 *extra;

	memset(id, 0, sizeof(*id));
	if (!f || !(id->cert = PEM_read_X509(f, NULL, NULL, NULL))) {
		snprintf(err, errlen, "AGENT_CERT_FILE: no PEM certificate in %s", cfg->cert_file);
		goto fail;
	}
	id->chain = sk_X509_new_null();
	while (id->chain && (extra = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(id->chain, extra);
	ERR_clear_error(); /* the loop ends on "no start line" */
	fclose(f);
	if (id->chain && sk_X509_num(id->chain) == 0)
		complete_chain(cfg, id);
	f = fopen(cfg->key_file, "r");
	if (!f || !(id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		snprintf(err, errlen, "AGENT_KEY_FILE: no unencrypted PEM private key in %s",
		         cfg->key_file);
		goto fail;
	}
	fclose(f);
	f = NULL;
	if (X509_check_private_key(id->cert, id->key) != 1) {
		snprintf(err, errlen,
		         "AGENT_KEY_FILE does not match the certificate in AGENT_CERT_FILE");
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	if (f)
		fclose(f);
	agentclient_identity_free(id);
	return -1;
}

/* 1 when path holds at least one PEM certificate. */
static int readable_ca(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	int ok = x != NULL;

	X509_free(x);
	if (f)
		fclose(f);
	ERR_clear_error();
	return ok;
}

int agentclient_reload(struct agentclient *ac, char *err, size_t errlen)
{
	struct agentclient_identity id;

	if (!readable_ca(ac->cfg.ca_file)) {
		snprintf(err, errlen, "AGENT_CA_FILE: no PEM certificate in %s", ac->cfg.ca_file);
		return -1;
	}
	if (agentclient_identity_load(&ac->cfg, &id, err, errlen))
		return -1;
	agentclient_identity_free(&ac->id);
	ac->id = id;
	ac->reloaded_at = now_mono_ms();
	return 0;
}
