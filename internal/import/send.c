/*
 * send: import_run, the half of `cmdb import` that talks to the API: the file read and
 * checked whole, then one POST /api/v1/nodes/import per piece of INVENTORY_NODES_MAX
 * nodes, each with an Idempotency-Key of its own so that a piece whose answer was lost
 * (no answer, 502, 503, 504) is sent again without being applied twice.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "apiclient/apiclient.h"
#include "core/core.h"
#include "import/import.h"

/* The largest file read; an inventory of 100,000 hosts is some 30 MB of JSON. */
#define FILE_MAX (1024u * 1024 * 1024)
/* Tries of one piece whose answer did not come, 1 s doubling between them. */
#define TRIES 5

/* The whole file in *text (terminated); 0, or -1 with err set. */
static int read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n;
	char *buf = NULL, *grown;

	*text = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open it", path);
		return -1;
	}
	*len = 0;
	for (;;) {
		if (!(grown = realloc(buf, cap + 1)))
			break;
		buf = grown;
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
		if (*len < cap || cap >= FILE_MAX)
			break;
		cap *= 2;
	}
	if (!grown || ferror(f) || (*len == cap && !feof(f))) {
		snprintf(err, errlen, "%s: %s", path,
		         !grown      ? "out of memory"
		         : ferror(f) ? "cannot read it"
		                     : "larger than 1 GiB");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[*len] = '\0';
	*text = buf;
	return 0;
}

/* A key no other import uses: "cmdb-import-<16 hex digits>-<piece>". */
static int make_key(char *buf, size_t len, size_t piece)
{
	unsigned char raw[8];
	char hex[17];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	snprintf(buf, len, "cmdb-import-%s-%zu", hex, piece);
	return 0;
}

/* What was done so far, for the last line. */
struct tally {
	size_t pieces, sent_pieces, nodes;
	int created, updated, unchanged;
};

/*
 * Sends nodes [from, from + n): 0 when written (printed), -1 when refused or failed
 * (printed to o->err).
 */
static int send_piece(const struct import_opts *o, struct apiclient *c, const struct inventory *inv,
                      size_t from, size_t n, size_t piece, struct tally *t)
{
	struct apiclient_body b = {0};
	struct import_answer ans;
	char key[64], err[1024];
	char *body = import_body(inv, from, n, inv->mode);
	long status = 0;
	int rc = -1;

	if (!body || make_key(key, sizeof(key), piece)) {
		fprintf(o->err, "cmdb import: %s\n",
		        body ? "no randomness for a key" : "out of memory");
		free(body);
		return -1;
	}
	for (int try = 0; try < TRIES; try++) {
		if (try)
			sleep_for_ms(1000LL << (try - 1));
		status = apiclient_post(c, "/api/v1/nodes/import", body, strlen(body), key, &b, err,
		                        sizeof(err));
		if (status && status != 502 && status != 503 && status != 504)
			break;
		if (status)
			apiclient_error(&b, status, err, sizeof(err));
		fprintf(o->err, "cmdb import: request %zu: %s; %s\n", piece + 1, err,
		        try + 1 < TRIES ? "sending it again (same Idempotency-Key)" : "giving up");
	}
	if (status == 200 || status == 201) {
		rc = import_parse_answer(b.buf, n, &ans, err, sizeof(err));
		if (rc == 0) {
			import_print_changes(o->out, inv, from, &ans);
			t->created += ans.created;
			t->updated += ans.updated;
			t->unchanged += ans.unchanged;
			t->nodes += n;
			t->sent_pieces++;
			import_answer_free(&ans);
		} else {
			fprintf(o->err, "cmdb import: request %zu: %s\n", piece + 1, err);
		}
	} else if (status) {
		apiclient_error(&b, status, err, sizeof(err));
		fprintf(o->err,
		        "cmdb import: request %zu (nodes %zu to %zu) refused, nothing of it"
		        " written: %s\n",
		        piece + 1, from, from + n - 1, err);
		if (status == 422)
			import_print_refusal(o->err, inv, from, b.buf);
	}
	apiclient_body_free(&b);
	free(body);
	return rc;
}

static int send_all(const struct import_opts *o, const struct inventory *inv)
{
	struct apiclient_opts ao = {.url = o->url,
	                            .token = o->token,
	                            .cacert = o->cacert,
	                            .user_agent = "cmdb-import",
	                            .timeout_s = 600,
	                            .max_answer = 64u * 1024 * 1024};
	struct tally t = {0};
	struct apiclient c;
	char err[256];
	int rc = 0;

	t.pieces = (inv->n + INVENTORY_NODES_MAX - 1) / INVENTORY_NODES_MAX;
	if (apiclient_open(&c, &ao, err, sizeof(err))) {
		fprintf(o->err, "cmdb import: %s\n", err);
		apiclient_close(&c);
		return IMPORT_EXIT_REFUSED;
	}
	for (size_t at = 0, piece = 0; at < inv->n && rc == 0; at += INVENTORY_NODES_MAX, piece++)
		rc = send_piece(o, &c, inv, at,
		                inv->n - at < INVENTORY_NODES_MAX ? inv->n - at
		                                                  : INVENTORY_NODES_MAX,
		                piece, &t);
	apiclient_close(&c);
	fprintf(rc ? o->err : o->out,
	        "%s%zu of %zu nodes in %zu of %zu request%s (%s): %d created, %d updated, %d"
	        " unchanged\n",
	        rc ? "cmdb import: stopped; written: " : "imported ", t.nodes, inv->n,
	        t.sent_pieces, t.pieces, t.pieces == 1 ? "" : "s",
	        inv->mode == INVENTORY_UPSERT ? "upsert" : "create", t.created, t.updated,
	        t.unchanged);
	return rc ? IMPORT_EXIT_REFUSED : IMPORT_EXIT_OK;
}

int import_run(const struct import_opts *o)
{
	struct inventory inv = INVENTORY_INIT;
	struct inventory_report *r = calloc(1, sizeof(*r)); /* some 52 KB */
	char err[1200], *text = NULL;
	int ansible = 0, rc = IMPORT_EXIT_USAGE;
	size_t len = 0;

	if (!r) {
		fprintf(o->err, "cmdb import: out of memory\n");
		return IMPORT_EXIT_REFUSED;
	}
	if (read_file(o->args->file, &text, &len, err, sizeof(err))) {
		fprintf(o->err, "cmdb import: %s\n", err);
		goto out;
	}
	rc = import_read(text, len, o->args, &inv, &ansible, r);
	if (rc == CMDB_EINVAL) {
		fprintf(o->err, "cmdb import: %s: nothing was sent: ", o->args->file);
		import_print_report(o->err, &inv, r);
		rc = IMPORT_EXIT_REFUSED;
	} else if (rc) {
		fprintf(o->err, "cmdb import: out of memory\n");
		rc = IMPORT_EXIT_REFUSED;
	} else if (inv.n == 0) {
		fprintf(o->err, "cmdb import: %s holds no node\n", o->args->file);
		rc = IMPORT_EXIT_REFUSED;
	} else {
		fprintf(o->out, "%s: %zu nodes (%s)\n", o->args->file, inv.n,
		        ansible ? "ansible-inventory --list" : "cmdb import JSON");
		rc = send_all(o, &inv);
	}
out:
	inventory_free(&inv);
	free(text);
	free(r);
	return rc;
}
