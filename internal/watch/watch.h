/*
 * watch: `cmdb watch <release id>`, a live view of one release in the terminal, read from
 * the API (CMDB_URL) like any client: its summary view (GET /api/v1/releases/{id}
 * ?view=summary) twice a second, and its first failed node once one failed. On a
 * terminal it redraws a progress bar per batch in place; otherwise it prints a plain
 * line per change (status, a batch ending, the first error), for logs and CI. The exit
 * code says how the release ended (WATCH_EXIT_*). Parsing and drawing are pure functions
 * of the API's JSON, tested on their own (tests/unit/test_watch.c).
 */
#ifndef CMDB_WATCH_H
#define CMDB_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/strbuf.h"
#include "state/state.h"

/* Exit codes: how the release ended, or why it could not be followed. */
enum {
	WATCH_EXIT_SUCCESS = 0,
	WATCH_EXIT_FAILED = 1,
	WATCH_EXIT_USAGE = 2,     /* bad arguments or settings (like every cmdb command) */
	WATCH_EXIT_PARTIAL = 3,   /* every batch ran, failures within the allowance */
	WATCH_EXIT_CANCELLED = 4, /* cancelled */
	WATCH_EXIT_NOT_RUN = 5,   /* expired or rejected: it never ran */
	WATCH_EXIT_UNKNOWN = 6,   /* not found, refused (401/403), or the API unreachable */
};

struct watch_batch {
	int batch;
	int status; /* enum node_status, as the API derived it (batch_status, state.h) */
	long total;
	int count[NODE_STATUS_COUNT]; /* nodes in each status, indexed by enum node_status */
};

struct watch_view {
	int64_t id, version;
	int status; /* enum release_status */
	long total, success, failed, allowance;
	int batch_count;
	struct watch_batch *batches;
	size_t nbatches;
	int64_t waiting_for;
	char error[512];
	char paused_reason[256];
	char started_at[40], finished_at[40];
};

/* Reads a summary view; 0, or -1 with err set (not JSON, or not a release). */
int watch_parse(const char *body, struct watch_view *v, char *err, size_t errlen);
void watch_view_free(struct watch_view *v);

/*
 * The first failed node of a full view filtered by node_status=failed, as one line
 * ("node 7 web-7 127.0.0.1:9443: <error>"); 0, or -1 when there is none.
 */
int watch_first_failure(const char *body, char *out, size_t len);

/*
 * The terminal block: a head line, a bar per batch (at most a screenful: finished
 * batches at the start are folded into one line), the first error. width is the
 * terminal's; color adds ANSI colours to the bars' characters. Every line ends in "\n".
 */
void watch_render(const struct watch_view *v, const char *first_error, int width, int color,
                  struct strbuf *out);

/* The plain head line ("release 5 running: 4 of 6 nodes done, 1 failed, ..."). */
void watch_head(const struct watch_view *v, struct strbuf *out);

/*
 * Plain mode (not a terminal): a line for each change from was (NULL at first) to v, in
 * the order things happen: batches that ended, the release's new status, batches that
 * began, the first error (unless error_shown), and, once the release has finished
 * (finished_at: nothing in flight any more), its end ("release 5 success"), always last.
 */
void watch_changes(const struct watch_view *was, const struct watch_view *v,
                   const char *first_error, int error_shown, struct strbuf *out);

/* The exit code of a release in this status; -1 while it is not terminal. */
int watch_exit_code(int status);

struct watch_opts {
	const char *url;    /* base URL of the API, e.g. http://127.0.0.1:8080 */
	const char *token;  /* bearer token, or NULL */
	const char *cacert; /* CA file for an https URL, or NULL for the system's */
	int64_t id;
	int tty;      /* redraw in place; otherwise plain lines */
	int color;    /* colour the bars (a TTY without NO_COLOR) */
	int interval; /* ms between reads */
	FILE *out;
};

/* Follows the release until it ends; returns its exit code (WATCH_EXIT_*). */
int watch_run(const struct watch_opts *o);

#endif
