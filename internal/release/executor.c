/*
 * executor: the ticker loop around store_release_claim and release_runner_run.
 */
#include "release/executor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agentclient/agentclient.h"
#include "core/core.h"
#include "core/log.h"
#include "release/runner.h"
#include "store/store.h"

struct release_executor {
	const struct config *cfg;
	struct agentclient *ac;
	struct db_conn conn;
	struct runner_config rc;
	char owner[STORE_OWNER_LEN];
	atomic_int stop;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

struct release_executor *release_executor_new(const struct config *cfg, char *err, size_t errlen)
{
	struct agentclient_config acfg = {
	    .ca_file = cfg->agent_ca_file,
	    .cert_file = cfg->agent_cert_file,
	    .key_file = cfg->agent_key_file,
	    .connect_timeout_s = cfg->agent_connect_timeout_s,
	    .request_timeout_s = cfg->agent_request_timeout_s,
	    .max_connections = cfg->max_inflight + 16,
	};
	struct release_executor *ex = calloc(1, sizeof(*ex));
	char host[64] = "host";
	unsigned int salt = 0;

	if (!ex) {
		snprintf(err, errlen, "executor: out of memory");
		return NULL;
	}
	ex->cfg = cfg;
	ex->ac = agentclient_new(&acfg, err, errlen);
	if (!ex->ac) {
		free(ex);
		return NULL;
	}
	gethostname(host, sizeof(host) - 1);
	if (getrandom(&salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		salt = (unsigned int)now_wall_ms();
	snprintf(ex->owner, sizeof(ex->owner), "%.60s:%d:%08x", host, (int)getpid(), salt);
	ex->rc = (struct runner_config){
	    .owner = ex->owner,
	    .lease_s = cfg->lease_s,
	    .max_inflight = cfg->max_inflight,
	    .poll_interval_ms = cfg->poll_interval_ms,
	    .poll_max_ms = cfg->poll_max_ms,
	    .node_retries = cfg->node_retries,
	    .node_timeout_s = cfg->node_timeout_s,
	    .db = &cfg->db,
	};
	atomic_init(&ex->stop, 0);
	pthread_mutex_init(&ex->lock, NULL);
	pthread_cond_init(&ex->wake, NULL);
	return ex;
}

void release_executor_free(struct release_executor *ex)
{
	if (!ex)
		return;
	db_close(&ex->conn);
	agentclient_free(ex->ac);
	pthread_mutex_destroy(&ex->lock);
	pthread_cond_destroy(&ex->wake);
	free(ex);
}

static int ensure_conn(struct release_executor *ex, char *err, size_t errlen)
{
	if (ex->conn.mysql && !ex->conn.broken)
		return 0;
	db_close(&ex->conn);
	return db_connect(&ex->conn, &ex->cfg->db, err, errlen);
}

int release_executor_run_once(struct release_executor *ex, char *err, size_t errlen)
{
	int driven = 0;

	while (!atomic_load(&ex->stop)) {
		int64_t id = 0, started;
		uint64_t statements;
		int rc = ensure_conn(ex, err, errlen);

		started = now_mono_ms();
		statements = ex->conn.statements;
		if (rc == 0)
			rc = store_release_claim(&ex->conn, ex->owner, ex->cfg->lease_s, &id, err,
			                         errlen);
		if (rc == CMDB_ENOTFOUND)
			break;
		if (rc)
			return rc;
		log_info("executor", "claimed release %lld", (long long)id);
		rc = release_runner_run(&ex->conn, ex->ac, &ex->rc, id, &ex->stop, err, errlen);
		if (rc < 0)
			return rc;
		driven++;
		if (rc == RUNNER_FINISHED) {
			int64_t wall = now_mono_ms() - started;
			struct release rel;

			/* Cost of this release: every statement from its claim to its end. */
			statements = ex->conn.statements - statements;
			if (store_release_get(&ex->conn, id, &rel, err, errlen) == 0)
				log_info(
				    "executor",
				    "release %lld finished: %s (%d success, %d failed, %d nodes)"
				    " in %lld ms, %llu SQL statements",
				    (long long)id, release_status_name(rel.status),
				    rel.success_nodes, rel.failed_nodes, rel.total_nodes,
				    (long long)wall, (unsigned long long)statements);
		}
	}
	return driven;
}

static void *loop(void *arg)
{
	struct release_executor *ex = arg;
	int failures = 0;

	log_info("executor", "loop started (owner %s, every %d s)", ex->owner,
	         ex->cfg->executor_interval_s);
	while (!atomic_load(&ex->stop)) {
		char err[512];
		struct timespec until;
		int rc = release_executor_run_once(ex, err, sizeof(err));

		if (rc < 0) {
			/* Log the first of a run of failures and then every 30th, not every tick.
			 */
			if (failures++ % 30 == 0)
				log_warn("executor", "scan failed: %s", err);
		} else if (failures) {
			log_info("executor", "scan works again after %d failures", failures);
			failures = 0;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ex->cfg->executor_interval_s;
		pthread_mutex_lock(&ex->lock);
		while (!atomic_load(&ex->stop) &&
		       pthread_cond_timedwait(&ex->wake, &ex->lock, &until) == 0)
			;
		pthread_mutex_unlock(&ex->lock);
	}
	log_info("executor", "loop stopped");
	return NULL;
}

int release_executor_start(struct release_executor *ex)
{
	if (pthread_create(&ex->thread, NULL, loop, ex) != 0)
		return -1;
	ex->started = 1;
	return 0;
}

void release_executor_stop(struct release_executor *ex)
{
	if (!ex->started)
		return;
	pthread_mutex_lock(&ex->lock);
	atomic_store(&ex->stop, 1);
	pthread_cond_broadcast(&ex->wake);
	pthread_mutex_unlock(&ex->lock);
	agentclient_wakeup(ex->ac);
	pthread_join(ex->thread, NULL);
	ex->started = 0;
}
