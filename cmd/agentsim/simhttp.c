/*
 * simhttp: agentsim's civetweb contexts and the per-connection certificate choice: each
 * TLS handshake presents the certificate of the node at the address the client
 * connected to. Requests are answered by simreply.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "simhttp_internal.h"

/* Node addresses one civetweb context listens on, and the worker threads it adds. */
#define ADDRS_PER_CONTEXT   500
#define MIN_CONTEXT_THREADS 16

/*
 * The node at the address of this thread's last TLS handshake. civetweb runs a
 * connection's handshake and then its init_connection callback on the same worker
 * thread, which moves the node into the connection's conn_data; the handler compares
 * it with the Host header.
 */
static _Thread_local const struct simnode *handshake_node;

static int log_civetweb(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_warn("agentsim", "civetweb: %s", message);
	return 1;
}

/*
 * SSL_CTX_set_client_hello_cb callback, the first step of every handshake, resumed ones
 * included: the address the client connected to is the node. An address that is no
 * node fails the handshake.
 */
static int pick_node(SSL *ssl, int *alert, void *arg)
{
	const struct simhttp *h = arg;
	const struct simnode *node;
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	char ip[INET_ADDRSTRLEN], addr[SIMNODE_ADDR_MAX];
	int fd = SSL_get_fd(ssl);

	handshake_node = NULL;
	*alert = SSL_AD_INTERNAL_ERROR;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&local, &len) != 0 ||
	    len != sizeof(local) || local.sin_family != AF_INET ||
	    !inet_ntop(AF_INET, &local.sin_addr, ip, sizeof(ip)))
		return SSL_CLIENT_HELLO_ERROR;
	snprintf(addr, sizeof(addr), "%s:%u", ip, (unsigned)ntohs(local.sin_port));
	node = simnode_table_find(h->cfg.nodes, addr);
	if (!node) {
		log_warn("agentsim", "TLS handshake on %s, which is no node: refused", addr);
		return SSL_CLIENT_HELLO_ERROR;
	}
	handshake_node = node;
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * SSL_CTX_set_cert_cb callback, run before a certificate is chosen in every handshake
 * that sends one (a resumed TLS 1.2 session sends none): present the node's own.
 */
static int select_certificate(SSL *ssl, void *arg)
{
	const struct simhttp *h = arg;

	if (!handshake_node || simcert_use(h->cfg.certs, handshake_node, ssl) < 0) {
		log_warn("agentsim", "cannot install the certificate of %s",
		         handshake_node ? handshake_node->addr : "an unknown node");
		return 0;
	}
	return 1;
}

/*
 * civetweb init_ssl callback. Returning 0 lets civetweb finish the SSL_CTX as usual
 * (ssl_protocol_version, session id, client certificates verified against ssl_ca_file)
 * except that, with no ssl_certificate option, it loads no certificate: each handshake
 * finds its node in pick_node and presents that node's in select_certificate. The TLS
 * 1.2 floor is also set here so that it does not hang on how civetweb maps
 * ssl_protocol_version.
 */
static int init_tls(void *ssl_ctx, void *user_data)
{
	SSL_CTX *ctx = ssl_ctx;

	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	SSL_CTX_set_client_hello_cb(ctx, pick_node, user_data);
	SSL_CTX_set_cert_cb(ctx, select_certificate, user_data);
	/*
	 * What a handshake costs here is CPU the controller under test does not get, as the
	 * agents share its machine. One session ticket, not OpenSSL's two, and a stateful one
	 * (kept in civetweb's session cache, ssl_cache_timeout): OpenSSL 3.0 builds each
	 * stateless ticket by encoding the session and decoding it again, client certificate
	 * included, which was a fifth of agentsim's CPU. A controller resumes either way.
	 * And only the node's certificate is sent, not a chain built from ssl_ca_file in
	 * every handshake: the controller has the fleet CA already.
	 */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	return 0;
}

/* civetweb init_connection callback: see handshake_node. */
static int bind_connection(const struct mg_connection *conn, void **conn_data)
{
	(void)conn;
	*conn_data = (void *)handshake_node;
	handshake_node = NULL;
	return 0;
}

/* "IP:PORTs,IP:PORTs,..." for the nodes of context k of n; NULL when out of memory. */
static char *listening_ports(const struct simnode_table *nodes, size_t k, size_t n)
{
	const size_t each = SIMNODE_ADDR_MAX + 2; /* "s," */
	const size_t cap = (nodes->count / n + 1) * each + 1;
	char *ports = malloc(cap);
	size_t i, len = 0;

	if (!ports)
		return NULL;
	ports[0] = '\0';
	for (i = k; i < nodes->count; i += n)
		len += (size_t)snprintf(ports + len, cap - len, "%s%ss", len ? "," : "",
		                        nodes->nodes[i].addr);
	return ports;
}

/* Starts h's context k on ports; civetweb copies every option and callback. */
static int start_context(struct simhttp *h, size_t k, const char *ports, const char *cafile,
                         const char *threads, char *err, size_t errlen)
{
	char etext[256] = "";
	unsigned ecode = 0;
	struct mg_error_data edata = {&ecode, etext, sizeof(etext)};
	struct mg_callbacks callbacks;
	struct mg_init_data init;
	/*
	 * No ssl_certificate: see init_tls. keep_alive_timeout_ms stays short because
	 * civetweb parks a worker thread on each idle keep-alive connection;
	 * request_timeout_ms outlasts a controller's timeouts.
	 */
	const char *options[] = {
	    "listening_ports",
	    ports,
	    "ssl_ca_file",
	    cafile,
	    "ssl_verify_peer",
	    "yes",
	    "ssl_default_verify_paths",
	    "no",
	    "ssl_protocol_version",
	    "4",
	    "tcp_nodelay",
	    "1",
	    "num_threads",
	    threads,
	    "enable_keep_alive",
	    "yes",
	    "keep_alive_timeout_ms",
	    "500",
	    "request_timeout_ms",
	    "70000",
	    "ssl_cache_timeout",
	    "300",
	    NULL,
	};

	memset(&callbacks, 0, sizeof(callbacks));
	callbacks.begin_request = simhttp_handle;
	callbacks.log_message = log_civetweb;
	callbacks.init_ssl = init_tls;
	callbacks.init_connection = bind_connection;
	init.callbacks = &callbacks;
	init.user_data = h;
	init.configuration_options = options;
	h->mg[k] = mg_start2(&init, &edata);
	if (!h->mg[k]) {
		snprintf(err, errlen, "cannot listen on %zu addresses: %s", h->cfg.nodes->count,
		         etext[0] ? etext : "unknown civetweb error");
		return -1;
	}
	return 0;
}

/*
 * Starts the contexts, one per ADDRS_PER_CONTEXT node addresses, with node i in context
 * i % nmg. civetweb's master thread polls every listening socket of its context for
 * each connection it accepts: one context of 10,000 addresses spent half of agentsim's
 * CPU in poll(), where a real agent listens on one socket. Consecutive nodes (a batch)
 * land in different contexts, so the worker threads are shared out evenly.
 */
static int start_listener(struct simhttp *h, char *err, size_t errlen)
{
	char cafile[4096], threads[16];
	size_t k, n = (h->cfg.nodes->count + ADDRS_PER_CONTEXT - 1) / ADDRS_PER_CONTEXT;
	unsigned each;

	if (n == 0)
		n = 1;
	snprintf(cafile, sizeof(cafile), "%s/ca.pem", h->cfg.certs_dir);
	if (access(cafile, R_OK) != 0) {
		snprintf(err, errlen, "cannot read %s: %s (run certs/gen.sh)", cafile,
		         strerror(errno));
		return -1;
	}
	h->mg = calloc(n, sizeof(*h->mg));
	if (!h->mg) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->nmg = n;
	/* An even share, and some room for a batch that does not divide evenly. */
	each = (unsigned)((h->cfg.threads + n - 1) / n) + (n > 1 ? MIN_CONTEXT_THREADS : 0);
	snprintf(threads, sizeof(threads), "%u", each);
	for (k = 0; k < n; k++) {
		char *ports = listening_ports(h->cfg.nodes, k, n);
		int rc;

		if (!ports) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rc = start_context(h, k, ports, cafile, threads, err, errlen);
		free(ports);
		if (rc < 0)
			return -1;
	}
	log_info("agentsim",
	         "listening on %zu addresses, one certificate each (%zu contexts of %s threads)",
	         h->cfg.nodes->count, n, threads);
	return 0;
}

int simhttp_start(const struct simhttp_config *cfg, struct simhttp **out, char *err, size_t errlen)
{
	struct simhttp *h = calloc(1, sizeof(*h));
	pthread_condattr_t attr;

	*out = NULL;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->cfg = *cfg;
	h->posts = calloc(cfg->nodes->count ? cfg->nodes->count : 1, sizeof(*h->posts));
	if (!h->posts) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&h->hang_lock, NULL);
	pthread_mutex_init(&h->cpu_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->hang_cond, &attr);
	pthread_condattr_destroy(&attr);
	if (start_listener(h, err, errlen) < 0) {
		simhttp_stop(h);
		return -1;
	}
	*out = h;
	return 0;
}

void simhttp_stop(struct simhttp *h)
{
	if (!h)
		return;
	/* Hung handlers hold worker threads that mg_stop() joins, so release them first. */
	pthread_mutex_lock(&h->hang_lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->hang_cond);
	pthread_mutex_unlock(&h->hang_lock);
	for (size_t k = 0; k < h->nmg; k++)
		if (h->mg[k])
			mg_stop(h->mg[k]);
	free(h->mg);
	h->mg = NULL;
	pthread_cond_destroy(&h->hang_cond);
	pthread_mutex_destroy(&h->hang_lock);
	pthread_mutex_destroy(&h->cpu_lock);
	free(h->posts);
	free(h);
}
