/*
 * agentsim: simulates a fleet of node agents (docs/agent-protocol.md) over real mutual TLS,
 * many node addresses from one process, so the controller can be tested end to end.
 * This file only wires things together: nodes file -> task store -> HTTPS server.
 */
#include <civetweb.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/log.h"
#include "simcert.h"
#include "simhttp.h"
#include "simnode.h"
#include "simtask.h"

#define EXIT_USAGE      2
#define DEFAULT_THREADS 64
#define MAX_THREADS     1024

static const char usage_text[] =
    "usage: agentsim --certs DIR --nodes FILE [--log FILE] [--threads N]\n"
    "                [--request-cpu-ms MS]\n"
    "\n"
    "Serves the node agent protocol over mutual TLS on every address in FILE.\n"
    "  --certs DIR    ca.pem and ca.key (and other-ca.pem and other-ca.key for\n"
    "                 cert=otherca) as written by certs/gen.sh; every node gets its own\n"
    "                 certificate, minted at startup\n"
    "  --nodes FILE   one node per line: IP:PORT [behaviour...]; behaviours are\n"
    "                 delay=SECONDS fail failversion=N flaky=N hang 5xx 429 garbage\n"
    "                 badstatus badtaskid\n"
    "                 forget cert=otherca|wrongname|expired\n"
    "  --log FILE     append one line per apply and per replayed key to FILE:\n"
    "                 apply node=IP:PORT task=ID version=N at=EPOCH_MS key=KEY\n"
    "                 replay node=IP:PORT task=ID at=EPOCH_MS key=KEY\n"
    "  --threads N    worker threads (default 64); each hung request holds one until\n"
    "                 shutdown. Every 500 addresses get a civetweb context of their own\n"
    "                 (node i in context i mod contexts), each with an equal share of N\n"
    "                 plus 16 when there are several\n"
    "  --request-cpu-ms MS  each request costs MS of CPU, one request at a time, as\n"
    "                 in a small single-threaded agent (default 0)\n"
    "Prints \"agentsim ready\" when listening; SIGTERM or SIGINT stops it.\n";

struct options {
	const char *certs_dir;
	const char *nodes_file;
	const char *log_file;
	unsigned threads;
	unsigned request_cpu_ms;
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("agentsim: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(see agentsim --help)\n", stderr);
	return -1;
}

/* Returns 0 to run, 1 when --help was printed, -1 after a usage message. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"certs", required_argument, NULL, 'c'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"log", required_argument, NULL, 'l'},
	    {"threads", required_argument, NULL, 't'},
	    {"request-cpu-ms", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long v;
	int c;

	o->threads = DEFAULT_THREADS;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->certs_dir = optarg;
			break;
		case 'n':
			o->nodes_file = optarg;
			break;
		case 'l':
			o->log_file = optarg;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno || v < 1 || v > MAX_THREADS)
				return usage_error("--threads must be 1..1024, got '%s'", optarg);
			o->threads = (unsigned)v;
			break;
		case 'r':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || errno || v < 0 || v > 1000)
				return usage_error("--request-cpu-ms must be 0..1000, got '%s'",
				                   optarg);
			o->request_cpu_ms = (unsigned)v;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			return usage_error("unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->certs_dir)
		return usage_error("%s", "--certs DIR is required");
	if (!o->nodes_file)
		return usage_error("%s", "--nodes FILE is required");
	return 0;
}

/*
 * SIGTERM and SIGINT are blocked in every thread (civetweb's threads inherit the mask
 * from here) and collected by sigwait() in main, so no handler runs in a random thread.
 */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * One listening socket per node plus one per connection: take all the open files the
 * hard limit allows, so that a large simulated fleet is not cut short by a soft 1024.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct options opts = {0};
	struct simnode_table nodes = SIMNODE_TABLE_INIT;
	struct simtask_store *tasks = NULL;
	struct simcert *certs = NULL;
	struct simhttp *http = NULL;
	struct simhttp_config cfg;
	FILE *applylog = NULL;
	char err[512];
	struct timespec t0, t1;
	sigset_t set;
	int sig = 0;
	int rc = EXIT_FAILURE;
	int got;

	got = parse_options(argc, argv, &opts);
	if (got != 0)
		return got > 0 ? EXIT_SUCCESS : EXIT_USAGE;
	if (simnode_table_load(&nodes, opts.nodes_file, err, sizeof(err)) < 0) {
		fprintf(stderr, "agentsim: %s\n", err);
		return EXIT_USAGE;
	}
	if (opts.log_file) {
		applylog = fopen(opts.log_file, "a");
		if (!applylog) {
			fprintf(stderr, "agentsim: cannot open log %s: %s\n", opts.log_file,
			        strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		setvbuf(applylog, NULL, _IOLBF, 0);
	}
	raise_fd_limit();
	if (!(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS)) {
		fprintf(stderr, "agentsim: civetweb could not initialise TLS (is the "
		                "build/tlscompat libssl.so shim reachable?)\n");
		goto out_lib;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	certs = simcert_mint(opts.certs_dir, &nodes, err, sizeof(err));
	if (!certs) {
		fprintf(stderr, "agentsim: %s\n", err);
		goto out_lib;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("agentsim", "minted %zu node certificates in %.0f ms", nodes.count,
	         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	tasks = simtask_store_new(nodes.count, applylog);
	if (!tasks) {
		fprintf(stderr, "agentsim: out of memory\n");
		goto out_lib;
	}
	block_signals(&set);
	cfg.certs_dir = opts.certs_dir;
	cfg.threads = opts.threads;
	cfg.nodes = &nodes;
	cfg.certs = certs;
	cfg.tasks = tasks;
	cfg.request_cpu_ms = opts.request_cpu_ms;
	if (simhttp_start(&cfg, &http, err, sizeof(err)) < 0) {
		fprintf(stderr, "agentsim: %s\n", err);
		goto out_lib;
	}
	log_info("agentsim", "serving %zu nodes", nodes.count);
	fputs("agentsim ready\n", stdout);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	log_info("agentsim", "signal %d: stopping", sig);
	rc = EXIT_SUCCESS;
out_lib:
	simhttp_stop(http);
	simtask_store_free(tasks);
	simcert_free(certs);
	mg_exit_library();
out:
	if (applylog)
		fclose(applylog);
	simnode_table_free(&nodes);
	return rc;
}
