/*
 * selector: a lexer with one token of lookahead and a recursive-descent parser that
 * follow k8s.io/apimachinery/pkg/labels/selector.go rule for rule, with positions in the
 * errors; matching by binary search; the canonical form and the SQL condition.
 */
#include "selector/selector.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

enum tok { T_END, T_IDENT, T_NOT, T_EQ, T_DEQ, T_NE, T_GT, T_LT, T_OPEN, T_CLOSE, T_COMMA };

struct token {
	enum tok type;
	size_t at;  /* byte offset of its first character */
	size_t len; /* bytes */
};

/* How each operator is printed between the key and the values ("!" and ")" aside). */
static const char *const op_text[] = {
    [SELECTOR_EXISTS] = "",        [SELECTOR_NOT_EXISTS] = "", [SELECTOR_EQ] = "=",
    [SELECTOR_DEQ] = "==",         [SELECTOR_NE] = "!=",       [SELECTOR_IN] = " in (",
    [SELECTOR_NOTIN] = " notin (", [SELECTOR_GT] = ">",        [SELECTOR_LT] = "<",
};

struct parser {
	const char *s;
	size_t at; /* the next byte to lex */
	struct selector *sel;
	struct selector_error *e;
	char **vals; /* the value list being read */
	size_t nvals, valloc;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_special(char c)
{
	return c && strchr("=!(),><", c) != NULL;
}

/* The token at p->at, after whitespace; p->at does not move (see take). */
static void peek(const struct parser *p, struct token *t)
{
	static const char singles[] = "=!(),><";
	static const enum tok single_tok[] = {T_EQ, T_NOT, T_OPEN, T_CLOSE, T_COMMA, T_GT, T_LT};
	const char *s = p->s;
	size_t i = p->at;

	while (is_space(s[i]))
		i++;
	t->at = i;
	t->len = 1;
	if (!s[i]) {
		t->type = T_END;
		t->len = 0;
	} else if ((s[i] == '!' || s[i] == '=') && s[i + 1] == '=') {
		/* The longest operator wins, as in Kubernetes' scanSpecialSymbol. */
		t->type = s[i] == '!' ? T_NE : T_DEQ;
		t->len = 2;
	} else if (is_special(s[i])) {
		t->type = single_tok[strchr(singles, s[i]) - singles];
	} else {
		t->type = T_IDENT;
		while (s[i + t->len] && !is_space(s[i + t->len]) && !is_special(s[i + t->len]))
			t->len++;
	}
}

static void take(struct parser *p, const struct token *t)
{
	p->at = t->at + t->len;
}

static int is_word(const struct parser *p, const struct token *t, const char *word)
{
	return t->type == T_IDENT && t->len == strlen(word) &&
	       memcmp(p->s + t->at, word, t->len) == 0;
}

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Fills the error for byte offset at. Everything before it was read as valid keys,
 * values and operators, which are ASCII: the byte offset is the character offset.
 */
static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
	char what[SELECTOR_ERR_MAX];
	size_t pos = at + 1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p->e->position = pos;
	snprintf(p->e->msg, sizeof(p->e->msg), "position %zu: %.320s", pos, what);
	return CMDB_EINVAL;
}

/* "expected X, found Y" at token t. */
static int expected(struct parser *p, const struct token *t, const char *what)
{
	char found[LABELS_SHOWN_MAX + 4];

	if (t->type == T_END)
		return fail(p, t->at, "expected %s, found the end", what);
	labels_shown(p->s + t->at, t->len, found, sizeof(found));
	return fail(p, t->at, "expected %s, found '%s'", what, found);
}

static char *token_text(const struct parser *p, const struct token *t)
{
	return strndup(p->s + t->at, t->len);
}

/* Adds a value of the list being read; NULL text: the empty value. */
static int add_value(struct parser *p, const struct token *t)
{
	char **grown;

	if (p->nvals == p->valloc) {
		size_t cap = p->valloc ? p->valloc * 2 : 4;

		grown = realloc(p->vals, cap * sizeof(*grown));
		if (!grown)
			return CMDB_ENOMEM;
		p->vals = grown;
		p->valloc = cap;
	}
	p->vals[p->nvals] = t ? token_text(p, t) : strdup("");
	if (!p->vals[p->nvals])
		return CMDB_ENOMEM;
	p->nvals++;
	return 0;
}

/* A value token: the text, checked as the value of key. */
static int value_token(struct parser *p, const char *key, const struct token *t)
{
	char err[LABELS_ERR_MAX];
	int rc = add_value(p, t);

	if (rc)
		return rc;
	if (labels_check_value(key, p->vals[p->nvals - 1], err, sizeof(err)))
		return fail(p, t->at, "%s", err);
	return 0;
}

/*
 * The list after '(' up to and including ')': values separated by commas, any of them
 * empty ("(a,,b)" holds a, "" and b; "()" is the one value "").
 */
static int parse_set(struct parser *p, const char *key)
{
	struct token t;
	int rc;

	peek(p, &t);
	if (t.type != T_OPEN)
		return expected(p, &t, "'('");
	take(p, &t);
	peek(p, &t);
	if (t.type == T_CLOSE) {
		take(p, &t);
		return add_value(p, NULL);
	}
	for (;;) {
		peek(p, &t);
		take(p, &t);
		if (t.type == T_IDENT) {
			if ((rc = value_token(p, key, &t)))
				return rc;
			peek(p, &t);
			if (t.type == T_CLOSE)
				break;
			if (t.type != T_COMMA)
				return expected(p, &t, "',' or ')'");
		} else if (t.type == T_COMMA) {
			if (p->nvals == 0 && (rc = add_value(p, NULL)))
				return rc;
			peek(p, &t);
			if ((t.type == T_CLOSE || t.type == T_COMMA) && (rc = add_value(p, NULL)))
				return rc;
			if (t.type == T_CLOSE)
				break;
		} else {
			return expected(p, &t, "a value, ',' or ')'");
		}
	}
	take(p, &t);
	return 0;
}

/* The value after =, ==, !=, > or <: empty when a ',' or the end follows. */
static int parse_exact(struct parser *p, const char *key, enum selector_op op, int64_t *number)
{
	struct token t;
	int rc;

	peek(p, &t);
	if (t.type == T_END || t.type == T_COMMA)
		rc = add_value(p, NULL);
	else if (t.type == T_IDENT)
		rc = value_token(p, key, &t);
	else
		return expected(p, &t, "a value");
	if (rc)
		return rc;
	if ((op == SELECTOR_GT || op == SELECTOR_LT) &&
	    (strspn(p->vals[0], "0123456789") != strlen(p->vals[0]) ||
	     parse_int64(p->vals[0], 0, INT64_MAX, number)))
		return expected(p, &t,
		                "a whole number from 0 to 9223372036854775807 after '>' or '<'");
	if (t.type == T_IDENT)
		take(p, &t);
	return 0;
}

static int parse_operator(struct parser *p, enum selector_op *op)
{
	static const struct {
		enum tok type;
		const char *word;
		enum selector_op op;
	} ops[] = {
	    {T_EQ, NULL, SELECTOR_EQ},          {T_DEQ, NULL, SELECTOR_DEQ},
	    {T_NE, NULL, SELECTOR_NE},          {T_GT, NULL, SELECTOR_GT},
	    {T_LT, NULL, SELECTOR_LT},          {T_IDENT, "in", SELECTOR_IN},
	    {T_IDENT, "notin", SELECTOR_NOTIN},
	};
	struct token t;

	peek(p, &t);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (t.type == ops[i].type && (!ops[i].word || is_word(p, &t, ops[i].word))) {
			take(p, &t);
			*op = ops[i].op;
			return 0;
		}
	}
	return expected(p, &t, "'=', '==', '!=', 'in', 'notin', '>', '<', ',' or the end");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Moves the values read into r, sorted and without repeats. */
static void keep_values(struct parser *p, struct selector_req *r)
{
	size_t n = 0;

	qsort(p->vals, p->nvals, sizeof(*p->vals), cmp_str);
	for (size_t i = 0; i < p->nvals; i++) {
		if (n > 0 && strcmp(p->vals[n - 1], p->vals[i]) == 0)
			free(p->vals[i]);
		else
			p->vals[n++] = p->vals[i];
	}
	r->values = p->vals;
	r->nvalues = n;
	p->vals = NULL;
	p->nvals = p->valloc = 0;
}

/* One requirement: [!] key [operator values]. */
static int parse_requirement(struct parser *p)
{
	struct selector_req *r = &p->sel->reqs[p->sel->n];
	char err[LABELS_ERR_MAX];
	struct token t;
	int negated, rc;

	peek(p, &t);
	negated = t.type == T_NOT;
	if (negated) {
		take(p, &t);
		peek(p, &t);
	}
	if (t.type != T_IDENT)
		return expected(p, &t, "a label key");
	if (p->sel->n == SELECTOR_REQS_MAX)
		return fail(p, t.at, "a selector holds at most %d requirements", SELECTOR_REQS_MAX);
	if (labels_check_key((r->key = token_text(p, &t)) ? r->key : "", err, sizeof(err)))
		return r->key ? fail(p, t.at, "%s", err) : CMDB_ENOMEM;
	p->sel->n++;
	take(p, &t);
	peek(p, &t);
	r->op = negated ? SELECTOR_NOT_EXISTS : SELECTOR_EXISTS;
	/* After !key, whatever is not ',' or the end is the caller's error. */
	if (negated || t.type == T_END || t.type == T_COMMA)
		return 0;
	if ((rc = parse_operator(p, &r->op)))
		return rc;
	if (r->op == SELECTOR_IN || r->op == SELECTOR_NOTIN)
		rc = parse_set(p, r->key);
	else
		rc = parse_exact(p, r->key, r->op, &r->number);
	if (rc == 0)
		keep_values(p, r);
	return rc;
}

static int parse_all(struct parser *p)
{
	struct token t;
	int rc;

	peek(p, &t);
	if (t.type == T_END)
		return 0;
	if (t.type != T_IDENT && t.type != T_NOT)
		return expected(p, &t, "a label key, '!' or the end");
	for (;;) {
		if ((rc = parse_requirement(p)))
			return rc;
		peek(p, &t);
		if (t.type == T_END)
			return 0;
		if (t.type != T_COMMA)
			return expected(p, &t, "',' or the end");
		take(p, &t);
		peek(p, &t);
		if (t.type != T_IDENT && t.type != T_NOT)
			return expected(p, &t, "a label key or '!' after ','");
	}
}

/* Stable: requirements of one key keep the order given. n is at most SELECTOR_REQS_MAX. */
static void sort_by_key(struct selector *s)
{
	for (size_t i = 1; i < s->n; i++) {
		struct selector_req r = s->reqs[i];
		size_t j = i;

		for (; j > 0 && strcmp(s->reqs[j - 1].key, r.key) > 0; j--)
			s->reqs[j] = s->reqs[j - 1];
		s->reqs[j] = r;
	}
}

static int too_long(struct selector_error *e)
{
	snprintf(e->msg, sizeof(e->msg), "a selector is at most %d characters long",
	         SELECTOR_TEXT_MAX);
	return CMDB_EINVAL;
}

/* The length of selector_format's text ("k in(v)" prints one space more than given). */
static size_t canonical_length(const struct selector *s)
{
	size_t n = s->n ? s->n - 1 : 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct selector_req *r = &s->reqs[i];

		n += strlen(r->key) + strlen(op_text[r->op]) + (r->nvalues ? r->nvalues - 1 : 0);
		n +=
		    r->op == SELECTOR_NOT_EXISTS || r->op == SELECTOR_IN || r->op == SELECTOR_NOTIN;
		for (size_t j = 0; j < r->nvalues; j++)
			n += strlen(r->values[j]);
	}
	return n;
}

int selector_parse(const char *text, struct selector **out, struct selector_error *e)
{
	struct parser p = {.s = text, .e = e};
	int rc = CMDB_ENOMEM;

	*out = NULL;
	e->position = 0;
	e->msg[0] = '\0';
	if (strlen(text) > SELECTOR_TEXT_MAX)
		return too_long(e);
	p.sel = calloc(1, sizeof(*p.sel));
	if (p.sel)
		p.sel->reqs = calloc(SELECTOR_REQS_MAX, sizeof(*p.sel->reqs));
	if (p.sel && p.sel->reqs)
		rc = parse_all(&p);
	for (size_t i = 0; i < p.nvals; i++)
		free(p.vals[i]);
	free(p.vals);
	if (rc == CMDB_ENOMEM)
		snprintf(e->msg, sizeof(e->msg), "out of memory");
	if (rc) {
		selector_free(p.sel);
		return rc;
	}
	if (canonical_length(p.sel) > SELECTOR_TEXT_MAX) {
		selector_free(p.sel);
		return too_long(e);
	}
	sort_by_key(p.sel);
	*out = p.sel;
	return 0;
}

void selector_free(struct selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->reqs && i < SELECTOR_REQS_MAX; i++) {
		for (size_t j = 0; j < s->reqs[i].nvalues; j++)
			free(s->reqs[i].values[j]);
		free(s->reqs[i].values);
		free(s->reqs[i].key);
	}
	free(s->reqs);
	free(s);
}

static int has_value(const struct selector_req *r, const char *v)
{
	size_t lo = 0, hi = r->nvalues;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->values[mid], v);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* > and <: a node's value counts when it is digits only and at most INT64_MAX. */
static int compare_number(const struct selector_req *r, const char *v)
{
	int64_t n = 0;

	if (!*v)
		return 0;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (INT64_MAX - (*v - '0')) / 10)
			return 0;
		n = n * 10 + (*v - '0');
	}
	return r->op == SELECTOR_GT ? n > r->number : n < r->number;
}

static int req_match(const struct selector_req *r, const struct labels *ls)
{
	const char *v = labels_get(ls, r->key);

	switch (r->op) {
	case SELECTOR_EXISTS:
		return v != NULL;
	case SELECTOR_NOT_EXISTS:
		return v == NULL;
	case SELECTOR_EQ:
	case SELECTOR_DEQ:
	case SELECTOR_IN:
		return v && has_value(r, v);
	case SELECTOR_NE:
	case SELECTOR_NOTIN:
		return !v || !has_value(r, v);
	case SELECTOR_GT:
	case SELECTOR_LT:
		return v && compare_number(r, v);
	}
	return 0;
}

int selector_match(const struct selector *s, const struct labels *ls)
{
	for (size_t i = 0; i < s->n; i++)
		if (!req_match(&s->reqs[i], ls))
			return 0;
	return 1;
}

int selector_format(const struct selector *s, struct strbuf *out)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct selector_req *r = &s->reqs[i];

		if (i)
			strbuf_adds(out, ",");
		if (r->op == SELECTOR_NOT_EXISTS)
			strbuf_adds(out, "!");
		strbuf_adds(out, r->key);
		strbuf_adds(out, op_text[r->op]);
		for (size_t j = 0; j < r->nvalues; j++) {
			if (j)
				strbuf_adds(out, ",");
			strbuf_adds(out, r->values[j]);
		}
		if (r->op == SELECTOR_IN || r->op == SELECTOR_NOTIN)
			strbuf_adds(out, ")");
	}
	return out->failed ? CMDB_ENOMEM : 0;
}

/* A column reference: an identifier, or two joined by one '.'. */
static int valid_column(const char *c)
{
	size_t n = strlen(c), dots = 0;

	if (n == 0 || n > 64 || c[0] == '.' || c[n - 1] == '.' || (c[0] >= '0' && c[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i] == '.') {
			if (++dots > 1 || (c[i + 1] >= '0' && c[i + 1] <= '9'))
				return 0;
		} else if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= 'A' && c[i] <= 'Z') ||
		             (c[i] >= '0' && c[i] <= '9') || c[i] == '_')) {
			return 0;
		}
	}
	return 1;
}

static void add_param(struct selector_sql *q, const char *value)
{
	q->params[q->nparams++] = value;
}

/* One requirement's subquery; its placeholders' values go to q->params in order. */
static void req_sql(const struct selector_req *r, const char *col, struct selector_sql *q)
{
	int negative =
	    r->op == SELECTOR_NOT_EXISTS || r->op == SELECTOR_NE || r->op == SELECTOR_NOTIN;
	struct strbuf *t = &q->text;

	strbuf_addf(t, "%sEXISTS (SELECT 1 FROM node_labels nl WHERE nl.node_id = %s AND nl.k = ?",
	            negative ? "NOT " : "", col);
	add_param(q, r->key);
	if (r->op == SELECTOR_GT || r->op == SELECTOR_LT) {
		strbuf_addf(t,
		            " AND nl.v REGEXP '^[0-9]+$'"
		            " AND CAST(nl.v AS DECIMAL(65,0)) <= 9223372036854775807"
		            " AND CAST(nl.v AS DECIMAL(65,0)) %c CAST(? AS SIGNED)",
		            r->op == SELECTOR_GT ? '>' : '<');
		add_param(q, r->values[0]);
	} else if (r->nvalues == 1) {
		strbuf_adds(t, " AND nl.v = ?");
		add_param(q, r->values[0]);
	} else if (r->nvalues > 1) {
		strbuf_adds(t, " AND nl.v IN (");
		for (size_t j = 0; j < r->nvalues; j++) {
			strbuf_adds(t, j ? ", ?" : "?");
			add_param(q, r->values[j]);
		}
		strbuf_adds(t, ")");
	}
	strbuf_adds(t, ")");
}

int selector_sql(const struct selector *s, const char *node_id_column, struct selector_sql *out)
{
	size_t n = 0;

	if (!valid_column(node_id_column))
		return CMDB_EINVAL;
	for (size_t i = 0; i < s->n; i++)
		n += 1 + s->reqs[i].nvalues;
	out->params = calloc(n ? n : 1, sizeof(*out->params));
	if (!out->params)
		return CMDB_ENOMEM;
	if (s->n == 0)
		strbuf_adds(&out->text, "TRUE");
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			strbuf_adds(&out->text, " AND ");
		req_sql(&s->reqs[i], node_id_column, out);
	}
	if (out->text.failed) {
		selector_sql_free(out);
		return CMDB_ENOMEM;
	}
	return 0;
}

void selector_sql_free(struct selector_sql *q)
{
	strbuf_free(&q->text);
	free(q->params);
	q->params = NULL;
	q->nparams = 0;
}
