/*
 * fuzz_selector: libFuzzer harness for internal/selector: any text. A refusal has a
 * position inside the text and a printable message; an accepted selector holds only
 * valid keys and sorted, distinct, valid values, prints a canonical form that parses back
 * to the same form and the same matches, and gives SQL whose text depends only on its
 * shape, with one parameter per placeholder.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "selector/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *msg)
{
	assert(*msg);
	for (; *msg; msg++)
		assert(*msg >= 0x20 && *msg <= 0x7e);
}

static void check_tree(const struct selector *s)
{
	char err[LABELS_ERR_MAX];

	assert(s->n <= SELECTOR_REQS_MAX);
	for (size_t i = 0; i < s->n; i++) {
		const struct selector_req *r = &s->reqs[i];

		assert(labels_check_key(r->key, err, sizeof(err)) == 0);
		assert(i == 0 || strcmp(s->reqs[i - 1].key, r->key) <= 0);
		assert((r->op == SELECTOR_EXISTS || r->op == SELECTOR_NOT_EXISTS) ==
		       (r->nvalues == 0));
		if (r->op != SELECTOR_IN && r->op != SELECTOR_NOTIN)
			assert(r->nvalues <= 1);
		for (size_t j = 0; j < r->nvalues; j++) {
			assert(labels_check_value(r->key, r->values[j], err, sizeof(err)) == 0);
			assert(j == 0 || strcmp(r->values[j - 1], r->values[j]) < 0);
		}
	}
}

/* Label sets made of the selector's own keys, so that the requirements meet them. */
static void check_matches(const struct selector *a, const struct selector *b)
{
	struct labels sets[3] = {LABELS_INIT, LABELS_INIT, LABELS_INIT};
	char err[LABELS_ERR_MAX];

	for (size_t i = 0; i < a->n; i++) {
		const struct selector_req *r = &a->reqs[i];

		labels_set(&sets[1], r->key, r->nvalues ? r->values[0] : "", err, sizeof(err));
		labels_set(&sets[2], r->key, r->nvalues ? r->values[r->nvalues - 1] : "x", err,
		           sizeof(err));
		if (i % 2)
			labels_set(&sets[2], r->key, "12", err, sizeof(err));
	}
	for (int k = 0; k < 3; k++) {
		assert(selector_match(a, &sets[k]) == selector_match(b, &sets[k]));
		labels_free(&sets[k]);
	}
}

/* The same selector with every key "k" and every value "v": SQL of the same text. */
static void check_sql(const struct selector *s)
{
	struct selector_req reqs[SELECTOR_REQS_MAX];
	struct selector shape = {reqs, s->n};
	struct selector_sql q = SELECTOR_SQL_INIT, q2 = SELECTOR_SQL_INIT;
	char **vals = calloc(SELECTOR_TEXT_MAX, sizeof(*vals));
	size_t at = 0, marks = 0;

	assert(vals);
	for (size_t i = 0; i < s->n; i++) {
		reqs[i] = s->reqs[i];
		reqs[i].key = (char *)"k";
		reqs[i].values = vals + at;
		for (size_t j = 0; j < s->reqs[i].nvalues; j++)
			vals[at++] = (char *)"v";
	}
	assert(selector_sql(s, "n.id", &q) == 0);
	assert(selector_sql(&shape, "n.id", &q2) == 0);
	assert(strcmp(q.text.buf, q2.text.buf) == 0);
	for (const char *c = q.text.buf; *c; c++)
		marks += *c == '?';
	assert(marks == q.nparams);
	selector_sql_free(&q);
	selector_sql_free(&q2);
	free(vals);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf out = STRBUF_INIT, again = STRBUF_INIT;
	struct selector *s = NULL, *s2 = NULL;
	struct selector_error e;
	char *text = malloc(size + 1);
	int rc;

	assert(text);
	memcpy(text, data, size);
	text[size] = '\0';
	rc = selector_parse(text, &s, &e);
	if (rc) {
		assert(rc == CMDB_EINVAL && !s);
		assert(e.position <= strlen(text) + 1);
		check_printable(e.msg);
		assert(strlen(e.msg) + 1 < sizeof(e.msg));
		/* selector.c counts bytes as characters: what precedes an error is ASCII. */
		for (size_t i = 0; e.position && i + 1 < e.position; i++)
			assert((unsigned char)text[i] < 0x80);
		free(text);
		return 0;
	}
	check_tree(s);
	assert(selector_format(s, &out) == 0);
	assert(selector_parse(out.buf, &s2, &e) == 0);
	assert(selector_format(s2, &again) == 0);
	assert(strcmp(out.buf, again.buf) == 0);
	check_matches(s, s2);
	check_sql(s);
	selector_free(s);
	selector_free(s2);
	strbuf_free(&out);
	strbuf_free(&again);
	free(text);
	return 0;
}
