/*
 * executor: the event loop around the store's claims and the runner's steps.
 */
#include "release/executor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "agentclient/agentclient.h"
#include "core/backoff.h"
#include "core/core.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "release/decide.h"
#include "release/runner.h"
#include "store/store.h"

/*
 * How often the status of every release this controller drives is read when no write
 * has confirmed it: a pause or cancel that reached another controller's API is seen
 * within this (a write of the runner sees it at once).
 */
#define CONTROL_MS 250
/* Completed calls taken per wait. */
#define DONE_MAX 256
/* Releases expired per scan. */
#define EXPIRE_MAX 64

struct release_executor {
	const struct config *cfg;
	struct agentclient *ac;
	struct db_conn conn; /* the executor's own connection: opened here and nowhere else */
	char owner[STORE_OWNER_LEN];
	struct run **runs; /* the releases driven now, at most cfg->max_active */
	size_t nruns;
	size_t *got;   /* per release: call slots it took this turn (plan_all) */
	size_t rotate; /* where the next turn starts handing out call slots */
	int64_t next_scan;
	int64_t next_control;
	int64_t db_retry_at;
	int db_failures; /* database failures in a row */
	atomic_int stop;
	atomic_int scan_now;
	atomic_int reload; /* SIGHUP: read the agent certificates again */
	pthread_t thread;
	int started;
};

struct release_executor *release_executor_new(const struct config *cfg, char *err, size_t errlen)
{
	struct agentclient_config acfg = {
	    .ca_file = cfg->agent_ca_file,
	    .cert_file = cfg->agent_cert_file,
	    .key_file = cfg->agent_key_file,
	    .connect_timeout_s = cfg->agent_connect_timeout_s,
	    .request_timeout_s = cfg->agent_request_timeout_s,
	};
	struct release_executor *ex = calloc(1, sizeof(*ex));
	char host[64] = "host";
	unsigned int salt = 0;

	if (!ex || !(ex->runs = calloc((size_t)cfg->max_active, sizeof(*ex->runs))) ||
	    !(ex->got = calloc((size_t)cfg->max_active, sizeof(*ex->got)))) {
		if (ex)
			free(ex->runs);
		free(ex);
		snprintf(err, errlen, "executor: out of memory");
		return NULL;
	}
	ex->cfg = cfg;
	ex->conn.keep_stmts = 1; /* its rounds run the same statements again and again */
	ex->ac = agentclient_new(&acfg, err, errlen);
	if (!ex->ac) {
		free(ex->runs);
		free(ex->got);
		free(ex);
		return NULL;
	}
	gethostname(host, sizeof(host) - 1);
	if (getrandom(&salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		salt = (unsigned int)now_wall_ms();
	snprintf(ex->owner, sizeof(ex->owner), "%.60s:%d:%08x", host, (int)getpid(), salt);
	atomic_init(&ex->stop, 0);
	atomic_init(&ex->scan_now, 1);
	atomic_init(&ex->reload, 0);
	return ex;
}

void release_executor_free(struct release_executor *ex)
{
	if (!ex)
		return;
	for (size_t i = 0; i < ex->nruns; i++)
		release_run_free(ex->runs[i], ex->ac);
	db_close(&ex->conn);
	agentclient_free(ex->ac);
	free(ex->runs);
	free(ex->got);
	free(ex);
}

void release_executor_wake(struct release_executor *ex)
{
	atomic_store(&ex->scan_now, 1);
	agentclient_wakeup(ex->ac);
}

/*
 * Notes a database failure: nothing touches the database again before the back-off. A
 * transaction that lost a race (CMDB_ERETRY) is no failure of the database: the work is
 * simply done again on the next turn.
 */
static void db_failed(struct release_executor *ex, const char *what, int rc, const char *err)
{
	if (rc == CMDB_ERETRY) {
		log_info("executor", "%s lost a race (%s); again on the next turn", what, err);
		return;
	}
	int64_t wait = backoff_ms(&backoff_db, ++ex->db_failures, NULL);

	ex->db_retry_at = now_mono_ms() + wait;
	/* The first of a run of failures and then every 30th, not every retry. */
	if (ex->db_failures % 30 == 1)
		log_warn("executor", "%s failed (%s); retrying in %lld ms", what, err,
		         (long long)wait);
	if (ex->conn.mysql && !ex->conn.broken)
		ex->conn.broken = 1; /* reconnect: the session's state is unknown after an error */
}

/*
 * 1 when the connection may be used now, reconnecting after a back-off. A connection on
 * a node that has since been found unusable, or a Galera connection not checked for a
 * second, is checked first; a failed check moves to another node at once.
 */
static int db_ready(struct release_executor *ex)
{
	char err[512];
	int rc;

	if (ex->conn.mysql && !ex->conn.broken) {
		if (!db_check_due(&ex->conn, now_mono_ms()) ||
		    db_check(&ex->conn, err, sizeof(err)) == 0)
			return 1;
		log_warn("executor", "%s; connecting again", err);
		ex->db_retry_at = 0;
	}
	if (now_mono_ms() < ex->db_retry_at)
		return 0;
	db_close(&ex->conn);
	if ((rc = db_connect(&ex->conn, &ex->cfg->db, err, sizeof(err)))) {
		db_failed(ex, "connecting to the database", rc, err);
		return 0;
	}
	if (ex->db_failures)
		log_info("executor", "database connection re-established after %d failures",
		         ex->db_failures);
	ex->db_failures = 0;
	return 1;
}

/*
 * Loads a claimed release into the loop, charged with what ran since `since` (its claim
 * and its load); -1 (after handing it back) when it cannot.
 */
static int add_run(struct release_executor *ex, int64_t id, struct db_tally since)
{
	struct run *r = NULL;
	char err[512];
	int rc = release_run_load(&ex->conn, ex->cfg, ex->owner, id, &r, err, sizeof(err));

	if (rc) {
		/* Rows this controller cannot drive: give the release up for another try later. */
		log_rel(LOG_ERROR, "executor", id, 0, "release %lld: cannot load it: %s",
		        (long long)id, err);
		if ((rc = store_release_unlease(&ex->conn, id, ex->owner, err, sizeof(err))))
			db_failed(ex, "handing back a release", rc, err);
		return -1;
	}
	release_run_charge(r, &ex->conn, since);
	ex->runs[ex->nruns++] = r;
	return 0;
}

/* Expires releases that missed their expires_at, then claims work while there is room. */
static void scan(struct release_executor *ex)
{
	int64_t expired[EXPIRE_MAX];
	size_t nexpired = 0;
	char err[512];
	int rc;

	rc = store_release_expire(&ex->conn, ex->owner, expired, EXPIRE_MAX, &nexpired, err,
	                          sizeof(err));
	if (rc) {
		db_failed(ex, "expiring releases", rc, err);
		return;
	}
	for (size_t i = 0; i < nexpired; i++)
		log_rel(LOG_INFO, "executor", expired[i], 0,
		        "release %lld expired: not started before its expires_at",
		        (long long)expired[i]);
	while (ex->nruns < (size_t)ex->cfg->max_active && !atomic_load(&ex->stop)) {
		struct db_tally since = db_tally(&ex->conn);
		int64_t id = 0;
		int took_over = 0;

		rc = store_release_claim(&ex->conn, ex->owner, ex->cfg->lease_s, &id, &took_over,
		                         err, sizeof(err));
		if (rc == CMDB_ENOTFOUND)
			break;
		if (rc) {
			db_failed(ex, "claiming a release", rc, err);
			return;
		}
		if (took_over)
			log_rel(LOG_INFO, "executor", id, 0,
			        "took over release %lld (its owner's lease expired)",
			        (long long)id);
		else
			log_rel(LOG_INFO, "executor", id, 0, "claimed release %lld", (long long)id);
		if (took_over)
			metrics_lease_takeover();
		/* The claim would find the same release again: leave it to the next scan. */
		if (add_run(ex, id, since))
			break;
	}
}

/* Releases whose status is read in one query. */
#define CONTROL_CHUNK 64

/* Reads the status of the releases no write has confirmed lately, and tells their runs. */
static void control(struct release_executor *ex, int64_t now)
{
	struct release_control ctl[CONTROL_CHUNK];
	struct run *runs[CONTROL_CHUNK];
	int64_t ids[CONTROL_CHUNK];
	char err[512];

	for (size_t i = 0; i < ex->nruns;) {
		struct db_tally since = db_tally(&ex->conn);
		size_t n = 0;

		for (; i < ex->nruns && n < CONTROL_CHUNK; i++) {
			struct run *r = ex->runs[i];

			if (!release_run_gone(r) && now - release_run_last_seen(r) >= CONTROL_MS) {
				runs[n] = r;
				ids[n++] = release_run_id(r);
			}
		}
		if (n == 0)
			continue;
		int rc = store_release_control(&ex->conn, ex->owner, ids, n, ctl, err, sizeof(err));

		if (rc) {
			db_failed(ex, "reading release status", rc, err);
			return;
		}
		for (size_t k = 0; k < n; k++) {
			release_run_charge(runs[k], &ex->conn, since);
			if (ctl[k].owned) {
				release_run_observe(runs[k], ctl[k].status, now);
				continue;
			}
			log_rel(LOG_WARN, "executor", ids[k], 0,
			        "release %lld: no longer ours (lease lost); leaving it",
			        (long long)ids[k]);
			release_run_lose(runs[k]);
		}
	}
}

/*
 * Hands out the free call slots: first an equal share per release, then what is left to
 * whoever can use it. A release's plan also decides its pauses, halts and end.
 */
static size_t plan_one(void *arg, size_t i, size_t room)
{
	struct release_executor *ex = arg;

	return release_run_plan(ex->runs[i], room);
}

static void plan_all(struct release_executor *ex)
{
	size_t cap = (size_t)ex->cfg->max_inflight, inflight = agentclient_inflight(ex->ac);

	release_share_slots(inflight < cap ? cap - inflight : 0, ex->nruns, ex->rotate, ex->got,
	                    plan_one, ex);
	ex->rotate = ex->nruns ? (ex->rotate + 1) % ex->nruns : 0;
}

/* Writes what each release gathered; stops at the first database failure. */
static void flush_all(struct release_executor *ex, int64_t now)
{
	char err[512];

	for (size_t i = 0; i < ex->nruns; i++) {
		struct run *r = ex->runs[i];
		enum run_flush_result rc;

		if (!release_run_flush_due(r, now))
			continue;
		rc = release_run_flush(r, &ex->conn, err, sizeof(err));
		if (rc == RUN_DB_DOWN) {
			db_failed(ex, "writing release state", CMDB_EDBDOWN, err);
			return;
		}
		if (rc == RUN_LOST)
			log_warn("executor", "%s", err);
	}
}

/* Logs and frees the releases that are over for this controller. */
static void reap(struct release_executor *ex, int64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < ex->nruns; i++) {
		struct run *r = ex->runs[i];
		struct release_run_summary s;

		if (!release_run_gone(r)) {
			ex->runs[k++] = r;
			continue;
		}
		release_run_summary(r, &s);
		/* A release that ends may let one that shares its nodes start: look now. */
		if (s.finished) {
			atomic_store(&ex->scan_now, 1);
			metrics_release_duration(now - s.claimed_ms);
		}
		if (s.finished)
			log_rel(
			    LOG_INFO, "executor", release_run_id(r), 0,
			    "release %lld finished: %s (%zu success, %zu failed, %zu nodes) in %lld"
			    " ms, %llu SQL statements (%llu prepared)",
			    (long long)release_run_id(r), release_status_name(s.status), s.success,
			    s.failed, s.nodes, (long long)(now - s.claimed_ms),
			    (unsigned long long)s.statements, (unsigned long long)s.prepared);
		else if (s.status == RELEASE_PENDING)
			atomic_store(&ex->scan_now, 1); /* resumed: claim it again at once */
		release_run_free(r, ex->ac);
	}
	ex->nruns = k;
}

/* SIGHUP: the agent certificates again, in this thread, which alone uses the client. */
static void reload_identity(struct release_executor *ex)
{
	char err[512];

	if (agentclient_reload(ex->ac, err, sizeof(err)))
		log_error("executor",
		          "reload refused, the old agent certificates stay in force: %s", err);
	else
		log_info("executor", "agent certificates reloaded (AGENT_CERT_FILE, AGENT_KEY_FILE,"
		                     " AGENT_CA_FILE); new connections use them");
}

void release_executor_reload(struct release_executor *ex)
{
	atomic_store(&ex->reload, 1);
	agentclient_wakeup(ex->ac);
}

int release_executor_run_once(struct release_executor *ex)
{
	struct agent_call *done[DONE_MAX];
	int64_t now = now_mono_ms(), wait = CONTROL_MS;
	int db = db_ready(ex), n;

	metrics_executor_alive();
	if (atomic_exchange(&ex->reload, 0))
		reload_identity(ex);
	if (db && (now >= ex->next_scan || atomic_exchange(&ex->scan_now, 0))) {
		ex->next_scan = now + (int64_t)ex->cfg->executor_interval_s * 1000;
		scan(ex);
	}
	if (db_ready(ex) && now >= ex->next_control) {
		ex->next_control = now + CONTROL_MS;
		control(ex, now);
	}
	plan_all(ex);
	if (db_ready(ex))
		flush_all(ex, now_mono_ms());
	reap(ex, now_mono_ms());
	metrics_set_active((int64_t)ex->nruns, (int64_t)agentclient_inflight(ex->ac));
	{
		struct agentclient_stats st;

		agentclient_stats(ex->ac, &st);
		metrics_set_agent_connections(st.opened, st.ahead, st.ahead_unused, st.slow);
	}
	now = now_mono_ms();
	for (size_t i = 0; i < ex->nruns; i++) {
		int64_t due = release_run_start_calls(ex->runs[i], ex->ac,
		                                      (size_t)ex->cfg->max_inflight, now);
		int64_t write = release_run_next_write(ex->runs[i]) - now;

		if (due < wait)
			wait = due;
		if (write < wait)
			wait = write;
	}
	if (ex->next_control - now < wait)
		wait = ex->next_control - now;
	if (ex->db_retry_at > now && ex->db_retry_at - now < wait && ex->conn.broken)
		wait = ex->db_retry_at - now;
	if (wait < 1)
		wait = 1;
	n = agentclient_wait(ex->ac, (int)wait, done, DONE_MAX);
	for (int i = 0; i < n; i++)
		release_run_complete(done[i]);
	return (int)ex->nruns;
}

static void *loop(void *arg)
{
	struct release_executor *ex = arg;

	log_info("executor", "loop started (owner %s, scan every %d s, up to %d releases at once)",
	         ex->owner, ex->cfg->executor_interval_s, ex->cfg->max_active);
	while (!atomic_load(&ex->stop))
		release_executor_run_once(ex);
	/* Hand every release back so that another controller (or our restart) resumes it. */
	for (size_t i = 0; i < ex->nruns; i++) {
		if (db_ready(ex))
			release_run_stop(ex->runs[i], ex->ac, &ex->conn);
		release_run_free(ex->runs[i], ex->ac);
	}
	ex->nruns = 0;
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
	atomic_store(&ex->stop, 1);
	agentclient_wakeup(ex->ac);
	pthread_join(ex->thread, NULL);
	ex->started = 0;
}
