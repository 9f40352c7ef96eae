/*
 * simhttp_internal: what the two files of simhttp share: the server's state, and the
 * request handler that simhttp.c registers with civetweb (simreply.c).
 */
#ifndef CMDB_SIMHTTP_INTERNAL_H
#define CMDB_SIMHTTP_INTERNAL_H

#include <civetweb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "simhttp.h"

struct simhttp {
	struct simhttp_config cfg;
	pthread_mutex_t hang_lock;
	pthread_cond_t hang_cond;
	bool stopping;
	struct mg_context **mg; /* nmg contexts; node i is served by context i % nmg */
	size_t nmg;
	atomic_uint *posts;       /* POSTs seen per node index, for "flaky=N" */
	pthread_mutex_t cpu_lock; /* --request-cpu-ms: requests take turns, like one thread */
};

/*
 * civetweb begin_request callback: answers one request as the agent's contract says,
 * for the node the connection belongs to, bent by that node's fault. Returns 1 (handled).
 */
int simhttp_handle(struct mg_connection *conn);

#endif
