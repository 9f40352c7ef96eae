/*
 * hookd: a webhook receiver for the tests (tests/integration/test_operations.sh). It
 * listens on 127.0.0.1:PORT, keeps every POST (body in DIR/body-N.json, one line per
 * request in DIR/requests.log) and answers as DIR/mode says at that moment:
 *   ok       200
 *   fail=K   500 for the next K requests, then 200 (K counts down in the file)
 *   hang     no answer for 30 s (the sender's timeout must end it)
 * Usage: hookd PORT DIR. Prints "hookd ready" when listening; SIGTERM stops it.
 */
#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *dir;
static int count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Reads DIR/mode and, for fail=K, writes K-1 back. Returns 200, 500 or 0 (hang). */
static int next_answer(void)
{
	char path[1024], mode[64] = "ok";
	FILE *f;
	int k, status = 200;

	snprintf(path, sizeof(path), "%s/mode", dir);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			strcpy(mode, "ok");
		fclose(f);
	}
	mode[strcspn(mode, "\r\n")] = '\0';
	if (strcmp(mode, "hang") == 0)
		return 0;
	if (sscanf(mode, "fail=%d", &k) == 1 && k > 0) {
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "fail=%d\n", k - 1);
			fclose(f);
		}
		status = 500;
	}
	return status;
}

static int handle(struct mg_connection *conn, void *arg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *sig = mg_get_header(conn, "X-Cmdb-Signature");
	const char *id = mg_get_header(conn, "X-Cmdb-Delivery");
	const char *event = mg_get_header(conn, "X-Cmdb-Event");
	/* On the heap: civetweb's worker threads have small stacks. */
	const size_t cap = 65536;
	char *body = malloc(cap), path[1024];
	int n = 0, r, status, seq;
	FILE *f;

	(void)arg;
	if (!body)
		return 500;
	while (n < (int)cap && (r = mg_read(conn, body + n, cap - (size_t)n)) > 0)
		n += r;
	pthread_mutex_lock(&lock);
	seq = ++count;
	status = next_answer();
	snprintf(path, sizeof(path), "%s/body-%d.json", dir, seq);
	f = fopen(path, "w");
	if (f) {
		fwrite(body, 1, (size_t)n, f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/requests.log", dir);
	f = fopen(path, "a");
	if (f) {
		fprintf(f, "%d method=%s delivery=%s event=%s signature=%s answer=%d bytes=%d\n",
		        seq, ri->request_method, id ? id : "-", event ? event : "-",
		        sig ? sig : "-", status, n);
		fclose(f);
	}
	pthread_mutex_unlock(&lock);
	free(body);
	if (status == 0) {
		sleep(30);
		status = 200;
	}
	mg_printf(conn,
	          "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
	          "Connection: close\r\n\r\nok",
	          status, status == 200 ? "OK" : "Internal Server Error");
	return status;
}

int main(int argc, char **argv)
{
	char port[32];
	const char *options[] = {"listening_ports", port, "num_threads", "8", NULL};
	struct mg_context *mg;
	sigset_t sigs;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: hookd PORT DIR\n");
		return 2;
	}
	snprintf(port, sizeof(port), "127.0.0.1:%s", argv[1]);
	dir = argv[2];
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	mg_init_library(0);
	mg = mg_start(NULL, NULL, options);
	if (!mg) {
		fprintf(stderr, "hookd: cannot listen on %s\n", port);
		return 1;
	}
	mg_set_request_handler(mg, "/", handle, NULL);
	printf("hookd ready\n");
	fflush(stdout);
	sigwait(&sigs, &sig);
	mg_stop(mg);
	mg_exit_library();
	return 0;
}
