/*
 * simhttp: the HTTPS side of agentsim. civetweb contexts of up to 500 node addresses
 * each serve the nodes; each TLS handshake presents the certificate of the node at the
 * address the client connected to, and each request is answered as docs/agent-protocol.md
 * says for the node the Host header names (which must be that same node), bent by the node's fault.
 */
#ifndef CMDB_SIMHTTP_H
#define CMDB_SIMHTTP_H

#include <stddef.h>

#include "simcert.h"
#include "simnode.h"
#include "simtask.h"

struct simhttp_config {
	const char *certs_dir;             /* holds ca.pem, for client certificates */
	unsigned threads;                  /* civetweb worker threads, shared out to contexts */
	const struct simnode_table *nodes; /* borrowed; must outlive the server */
	const struct simcert *certs;       /* minted for nodes; borrowed, must outlive it */
	struct simtask_store *tasks;       /* borrowed; must outlive the server */
	unsigned request_cpu_ms;           /* CPU each request costs, one request at a time */
};

struct simhttp;

/*
 * Starts listening on every node address; mg_init_library(MG_FEATURES_TLS) must have
 * succeeded first. Returns 0 and the server in *out, or -1 with a message in err (an
 * address in use, an unreadable certificate) after stopping whatever had started.
 */
int simhttp_start(const struct simhttp_config *cfg, struct simhttp **out, char *err, size_t errlen);

/* Wakes hung handlers, stops the context and frees h. NULL is allowed. */
void simhttp_stop(struct simhttp *h);

#endif
