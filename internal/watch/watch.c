/*
 * watch: `cmdb watch` (see watch.h). The drawing and parsing come first and are pure;
 * watch_run at the end is the loop that reads the API with libcurl.
 */
#include "watch/watch.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "apiclient/apiclient.h"
#include "core/core.h"
#include "state/state.h"

/* Bars drawn at most; a release with more batches folds finished ones. */
#define MAX_BAR_LINES 12
/* The API unreachable this long in a row ends the watch. */
#define GIVE_UP_MS 60000
/* A body larger than this is not a release summary. */
#define MAX_BODY (8u * 1024 * 1024)

/* ---- parsing ---- */

static long num(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(it) ? (long)it->valuedouble : 0;
}

static void text(const cJSON *o, const char *name, char *out, size_t len)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	str_copy(out, cJSON_IsString(it) ? it->valuestring : "", len);
}

int watch_parse(const char *body, struct watch_view *v, char *err, size_t errlen)
{
	cJSON *doc = cJSON_Parse(body);
	const cJSON *st, *batches, *b;
	char status[32];
	size_t i = 0;

	memset(v, 0, sizeof(*v));
	if (!doc) {
		snprintf(err, errlen, "the API answered something that is not JSON");
		return -1;
	}
	text(doc, "status", status, sizeof(status));
	st = cJSON_GetObjectItemCaseSensitive(doc, "id");
	v->status = release_status_parse(status);
	if (!cJSON_IsNumber(st) || v->status < 0) {
		snprintf(err, errlen, "the API answered JSON that is not a release");
		cJSON_Delete(doc);
		return -1;
	}
	v->id = (int64_t)st->valuedouble;
	v->version = num(doc, "version");
	v->total = num(doc, "total_nodes");
	v->success = num(doc, "success_nodes");
	v->failed = num(doc, "failed_nodes");
	v->allowance = num(doc, "failure_allowance");
	v->batch_count = (int)num(doc, "batch_count");
	v->waiting_for = num(doc, "waiting_for");
	text(doc, "error_msg", v->error, sizeof(v->error));
	text(doc, "paused_reason", v->paused_reason, sizeof(v->paused_reason));
	text(doc, "started_at", v->started_at, sizeof(v->started_at));
	text(doc, "finished_at", v->finished_at, sizeof(v->finished_at));
	batches = cJSON_GetObjectItemCaseSensitive(doc, "batches");
	if (cJSON_IsArray(batches) && cJSON_GetArraySize(batches) > 0) {
		v->batches = calloc((size_t)cJSON_GetArraySize(batches), sizeof(*v->batches));
		if (!v->batches) {
			snprintf(err, errlen, "out of memory");
			cJSON_Delete(doc);
			return -1;
		}
		cJSON_ArrayForEach(b, batches)
		{
			struct watch_batch *w = &v->batches[i++];

			text(b, "status", status, sizeof(status));
			w->batch = (int)num(b, "batch");
			w->status = node_status_parse(status);
			w->total = num(b, "total");
			/* The summary counts each status under its name. */
			for (int s = 0; s < NODE_STATUS_COUNT; s++)
				w->count[s] = (int)num(b, node_status_name((enum node_status)s));
		}
		v->nbatches = i;
	}
	cJSON_Delete(doc);
	return 0;
}

void watch_view_free(struct watch_view *v)
{
	free(v->batches);
	v->batches = NULL;
	v->nbatches = 0;
}

int watch_first_failure(const char *body, char *out, size_t len)
{
	cJSON *doc = cJSON_Parse(body);
	const cJSON *b, *n;
	int rc = -1;

	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(doc, "batches"))
	{
		cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(b, "nodes"))
		{
			char st[16], host[256], ip[64], msg[512];

			text(n, "status", st, sizeof(st));
			if (node_status_parse(st) != NODE_FAILED)
				continue;
			text(n, "hostname", host, sizeof(host));
			text(n, "node_ip", ip, sizeof(ip));
			text(n, "error_msg", msg, sizeof(msg));
			/* An IPv6 address is bracketed before its port. */
			snprintf(out, len,
			         strchr(ip, ':') ? "batch %ld node %ld %s [%s]:%ld: %s"
			                         : "batch %ld node %ld %s %s:%ld: %s",
			         num(b, "batch"), num(n, "node_id"), host, ip, num(n, "agent_port"),
			         msg[0] ? msg : "failed");
			rc = 0;
			goto out;
		}
	}
out:
	cJSON_Delete(doc);
	return rc;
}

/* ---- drawing ---- */

int watch_exit_code(int status)
{
	switch (status) {
	case RELEASE_SUCCESS:
		return WATCH_EXIT_SUCCESS;
	case RELEASE_FAILED:
		return WATCH_EXIT_FAILED;
	case RELEASE_PARTIAL:
		return WATCH_EXIT_PARTIAL;
	case RELEASE_CANCELLED:
		return WATCH_EXIT_CANCELLED;
	case RELEASE_EXPIRED:
	case RELEASE_REJECTED:
		return WATCH_EXIT_NOT_RUN;
	default:
		return -1;
	}
}

static long skipped_of(const struct watch_view *v)
{
	long n = 0;

	for (size_t i = 0; i < v->nbatches; i++)
		n += v->batches[i].count[NODE_SKIPPED];
	return n;
}

void watch_head(const struct watch_view *v, struct strbuf *out)
{
	long skipped = skipped_of(v);

	strbuf_addf(out, "release %lld %s: version %lld, %ld of %ld nodes succeeded",
	            (long long)v->id, release_status_name((enum release_status)v->status),
	            (long long)v->version, v->success, v->total);
	if (v->failed)
		strbuf_addf(out, ", %ld failed", v->failed);
	if (v->allowance)
		strbuf_addf(out, " (%ld tolerated)", v->allowance);
	if (skipped)
		strbuf_addf(out, ", %ld skipped", skipped);
	if (v->status == RELEASE_PAUSED && v->paused_reason[0])
		strbuf_addf(out, "; %s", v->paused_reason);
	if (v->status == RELEASE_PENDING && v->waiting_for)
		strbuf_addf(out, "; waits for release %lld", (long long)v->waiting_for);
}

/* The order of the statuses in a bar and in its counts: what ended first, pending last. */
static const enum node_status bar_order[] = {NODE_SUCCESS, NODE_FAILED, NODE_SKIPPED, NODE_RUNNING,
                                             NODE_PENDING};
#define NBAR_ORDER (sizeof(bar_order) / sizeof(bar_order[0]))
_Static_assert(NBAR_ORDER == NODE_STATUS_COUNT,
               "a node status added to state.h needs its place here");

/* A status's colour (SGR) and its character in a bar. */
static const struct {
	const char *sgr;
	char ch;
} look[NODE_STATUS_COUNT] = {
    [NODE_PENDING] = {"2", '.'}, [NODE_RUNNING] = {"34", '>'}, [NODE_SUCCESS] = {"32", '#'},
    [NODE_FAILED] = {"31", 'x'}, [NODE_SKIPPED] = {"90", '-'},
};

static void bar(const struct watch_batch *b, int width, int color, struct strbuf *out)
{
	int cells[NODE_STATUS_COUNT] = {0}, used = 0, biggest = NODE_PENDING;

	/* Each status gets its share, at least one cell when it has a node. */
	for (size_t i = 0; i < NBAR_ORDER; i++) {
		enum node_status s = bar_order[i];

		if (!b->count[s] || b->total <= 0)
			continue;
		cells[s] = (int)(b->count[s] * (long)width / b->total);
		if (cells[s] == 0)
			cells[s] = 1;
		used += cells[s];
		if (cells[s] > cells[biggest])
			biggest = (int)s;
	}
	if (used == 0) {
		cells[NODE_PENDING] = width;
		used = width;
		biggest = NODE_PENDING;
	}
	cells[biggest] += width - used;
	strbuf_add(out, "[", 1);
	for (size_t i = 0; i < NBAR_ORDER; i++) {
		enum node_status s = bar_order[i];

		if (cells[s] <= 0)
			continue;
		if (color)
			strbuf_addf(out, "\033[%sm", look[s].sgr);
		for (int k = 0; k < cells[s]; k++)
			strbuf_add(out, &look[s].ch, 1);
		if (color)
			strbuf_adds(out, "\033[0m");
	}
	strbuf_add(out, "]", 1);
}

static void counts(const struct watch_batch *b, struct strbuf *out)
{
	int first = 1;

	for (size_t i = 0; i < NBAR_ORDER; i++) {
		if (!b->count[bar_order[i]])
			continue;
		strbuf_addf(out, "%s%d %s", first ? "" : ", ", b->count[bar_order[i]],
		            node_status_name(bar_order[i]));
		first = 0;
	}
	strbuf_addf(out, "%s of %ld", first ? "none" : "", b->total);
}

/* Appends line cut to width - 1 visible characters (it has no escapes), and "\n". */
static void add_line(struct strbuf *out, const char *line, int width)
{
	size_t n = strlen(line), max = width > 1 ? (size_t)width - 1 : 1;

	strbuf_add(out, line, n < max ? n : max);
	strbuf_add(out, "\n", 1);
}

void watch_render(const struct watch_view *v, const char *first_error, int width, int color,
                  struct strbuf *out)
{
	struct strbuf line = STRBUF_INIT;
	size_t from = 0, shown;
	/* A bar line is "batch N   status   [bar] counts": 22 columns besides the bar. */
	int barw = width - 60 < 30 ? width - 60 : 30;

	if (barw < 10)
		barw = width - 32 < 10 ? (width - 32 > 4 ? width - 32 : 4) : 10;

	watch_head(v, &line);
	add_line(out, line.buf, width);
	/* Fold the finished batches at the start when there are more than a screenful. */
	while (v->nbatches - from > MAX_BAR_LINES && batch_ended(v->batches[from].count, v->status))
		from++;
	if (from > 0) {
		strbuf_reset(&line);
		strbuf_addf(&line, "batches 1-%d ended", v->batches[from - 1].batch);
		add_line(out, line.buf, width);
	}
	shown = v->nbatches - from < MAX_BAR_LINES ? v->nbatches - from : MAX_BAR_LINES;
	for (size_t i = from; i < from + shown; i++) {
		const struct watch_batch *b = &v->batches[i];

		strbuf_addf(out, "batch %-3d %-8s ", b->batch,
		            b->status >= 0 ? node_status_name((enum node_status)b->status) : "?");
		bar(b, barw, color, out);
		strbuf_reset(&line);
		counts(b, &line);
		strbuf_add(out, " ", 1);
		add_line(out, line.buf, width - barw - 22);
	}
	if (from + shown < v->nbatches)
		strbuf_addf(out, "... %zu more batches\n", v->nbatches - from - shown);
	if (first_error && first_error[0]) {
		strbuf_reset(&line);
		strbuf_addf(&line, "first error: %s", first_error);
		add_line(out, line.buf, width);
	} else if (v->error[0]) {
		strbuf_reset(&line);
		strbuf_addf(&line, "error: %s", v->error);
		add_line(out, line.buf, width);
	}
	strbuf_free(&line);
}

void watch_changes(const struct watch_view *was, const struct watch_view *v,
                   const char *first_error, int error_shown, struct strbuf *out)
{
	/* Batches that ended first, then the status, then batches that began: as it happened. */
	for (size_t i = 0; i < v->nbatches; i++) {
		const struct watch_batch *b = &v->batches[i];
		int ended = batch_ended(b->count, v->status);
		int was_ended =
		    was && i < was->nbatches && batch_ended(was->batches[i].count, was->status);

		if (ended && !was_ended) {
			strbuf_addf(out, "batch %d of %zu %s: ", b->batch, v->nbatches,
			            b->status >= 0 ? node_status_name((enum node_status)b->status)
			                           : "?");
			counts(b, out);
			strbuf_add(out, "\n", 1);
		}
	}
	if (!was || was->status != v->status) {
		watch_head(v, out);
		strbuf_add(out, "\n", 1);
	}
	for (size_t i = 0; i < v->nbatches; i++) {
		const struct watch_batch *b = &v->batches[i];
		int ended = batch_ended(b->count, v->status);
		int started = b->status != NODE_PENDING;
		int was_started =
		    was && i < was->nbatches && was->batches[i].status != NODE_PENDING;

		if (started && !was_started && !ended)
			strbuf_addf(out, "batch %d of %zu started: %ld node%s\n", b->batch,
			            v->nbatches, b->total, b->total == 1 ? "" : "s");
	}
	if (first_error && first_error[0] && !error_shown)
		strbuf_addf(out, "first error: %s\n", first_error);
	/* Every call in flight followed to its end (finished_at): the counts above are final. */
	if (v->finished_at[0] && watch_exit_code(v->status) >= 0) {
		strbuf_addf(out, "release %lld %s", (long long)v->id,
		            release_status_name((enum release_status)v->status));
		if (v->error[0])
			strbuf_addf(out, ": %s", v->error);
		strbuf_add(out, "\n", 1);
	}
}

/* ---- reading the API ---- */

static int term_width(FILE *out)
{
	struct winsize ws;

	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* The API's client for one watch (apiclient.h). */
static int session_open(struct apiclient *s, const struct watch_opts *o)
{
	struct apiclient_opts ao = {.url = o->url,
	                            .token = o->token,
	                            .cacert = o->cacert,
	                            .user_agent = "cmdb-watch",
	                            .timeout_s = 10,
	                            .max_answer = MAX_BODY};
	char err[256];

	if (apiclient_open(s, &ao, err, sizeof(err))) {
		fprintf(stderr, "cmdb watch: %s\n", err);
		return -1;
	}
	return 0;
}

/* A terminal: back over the block drawn last (*drawn lines), then draw v over it. */
static void draw(const struct watch_opts *o, const struct watch_view *v, const char *first_error,
                 int *drawn)
{
	struct strbuf block = STRBUF_INIT;

	watch_render(v, first_error, term_width(o->out), o->color, &block);
	if (*drawn)
		fprintf(o->out, "\033[%dA\r\033[J", *drawn);
	fputs(block.buf, o->out);
	fflush(o->out);
	*drawn = 0;
	for (size_t i = 0; i < block.len; i++)
		*drawn += block.buf[i] == '\n';
	strbuf_free(&block);
}

/* A pipe: one line per change since was (NULL: the first reading). */
static void print_changes(const struct watch_opts *o, const struct watch_view *was,
                          const struct watch_view *v, const char *first_error, int *error_shown)
{
	struct strbuf lines = STRBUF_INIT;

	watch_changes(was, v, first_error, *error_shown, &lines);
	fputs(lines.buf, o->out);
	fflush(o->out);
	strbuf_free(&lines);
	*error_shown = first_error[0] != '\0';
}

int watch_run(const struct watch_opts *o)
{
	char path[128], err[1024], first_error[1024] = "";
	struct watch_view was = {0}, v = {0};
	struct apiclient s = {0};
	struct apiclient_body b = {0};
	int have = 0, drawn = 0, error_shown = 0, rc = WATCH_EXIT_UNKNOWN, warned = 0;
	int64_t failing_since = 0;
	long failed_seen = 0;

	if (session_open(&s, o)) {
		apiclient_close(&s);
		return WATCH_EXIT_UNKNOWN;
	}
	for (;;) {
		long status;

		snprintf(path, sizeof(path), "/api/v1/releases/%lld?view=summary",
		         (long long)o->id);
		status = apiclient_get(&s, path, &b, err, sizeof(err));
		if (status == 404 || status == 401 || status == 403 || status == 400) {
			apiclient_error(&b, status, err, sizeof(err));
			fprintf(stderr, "cmdb watch: release %lld: %s\n", (long long)o->id, err);
			break;
		}
		if (status != 200) {
			if (status)
				apiclient_error(&b, status, err, sizeof(err));
			if (!failing_since)
				failing_since = now_mono_ms();
			if (now_mono_ms() - failing_since > GIVE_UP_MS) {
				fprintf(stderr, "cmdb watch: giving up: %s (for %d s)\n", err,
				        GIVE_UP_MS / 1000);
				break;
			}
			if (!warned) {
				fprintf(stderr, "cmdb watch: %s; trying again\n", err);
				warned = 1;
			}
			sleep_for_ms(o->interval);
			continue;
		}
		failing_since = 0;
		warned = 0;
		if (watch_parse(b.buf, &v, err, sizeof(err)) != 0) {
			fprintf(stderr, "cmdb watch: %s\n", err);
			break;
		}
		/* The first failed node, once, when the count says there is one. */
		if (v.failed > failed_seen && !first_error[0]) {
			snprintf(path, sizeof(path), "/api/v1/releases/%lld?node_status=%s",
			         (long long)o->id, node_status_name(NODE_FAILED));
			if (apiclient_get(&s, path, &b, err, sizeof(err)) == 200 &&
			    watch_first_failure(b.buf, first_error, sizeof(first_error)) == 0)
				failed_seen = v.failed;
		}
		if (o->tty)
			draw(o, &v, first_error, &drawn);
		else
			print_changes(o, have ? &was : NULL, &v, first_error, &error_shown);
		/*
		 * Terminal, and every call in flight followed to its end (finished_at), so the
		 * counts printed last are the final ones.
		 */
		rc = v.finished_at[0] ? watch_exit_code(v.status) : -1;
		if (rc >= 0)
			break;
		rc = WATCH_EXIT_UNKNOWN;
		watch_view_free(&was);
		was = v;
		memset(&v, 0, sizeof(v));
		have = 1;
		sleep_for_ms(o->interval);
	}
	watch_view_free(&was);
	watch_view_free(&v);
	apiclient_body_free(&b);
	apiclient_close(&s);
	return rc;
}
