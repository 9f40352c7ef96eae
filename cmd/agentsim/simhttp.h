/*
 * simhttp: the HTTPS side of agentsim. One civetweb context per certificate kind serves
 * every node address that presents that certificate; each request is routed to its node
 * by the Host header and answered as AGENT_PROTOCOL.md says, bent by the node's fault.
 */
#ifndef CMDB_SIMHTTP_H
#define CMDB_SIMHTTP_H

#include <stddef.h>

#include "simnode.h"
#include "simtask.h"

struct simhttp_config {
	const char *certs_dir;             /* holds ca.pem and the agent*.pem files */
	unsigned threads;                  /* worker threads per context */
	const struct simnode_table *nodes; /* borrowed; must outlive the server */
	struct simtask_store *tasks;       /* borrowed; must outlive the server */
};

struct simhttp;

/*
 * Starts listening on every node address; mg_init_library(MG_FEATURES_TLS) must have
 * succeeded first. Returns 0 and the server in *out, or -1 with a message in err (an
 * address in use, an unreadable certificate) after stopping whatever had started.
 */
int simhttp_start(const struct simhttp_config *cfg, struct simhttp **out, char *err,
		  size_t errlen);

/* Wakes hung handlers, stops every context and frees h. NULL is allowed. */
void simhttp_stop(struct simhttp *h);

#endif
