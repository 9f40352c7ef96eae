/*
 * selector: Kubernetes' label selector ("env=prod,role in (web,api),!draining"), parsed
 * into a small tree, matched against a label set, printed in canonical form, and turned
 * into a SQL condition with bound parameters for the store. Pure: no I/O, no globals.
 */
#ifndef CMDB_SELECTOR_H
#define CMDB_SELECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "labels/labels.h"

#define SELECTOR_TEXT_MAX 4096 /* bytes of selector text */
#define SELECTOR_REQS_MAX 32   /* requirements; each is one subquery in SQL */
#define SELECTOR_ERR_MAX  352  /* "position N: " and a labels.h message */

/*
 * The operators, as Kubernetes has them. Matching is Kubernetes' too: != and notin also
 * match a node without the key; > and < match a node whose value is a decimal integer
 * (digits only: label values hold no sign) of at most 2^63 - 1 above or below the one
 * given.
 */
enum selector_op {
	SELECTOR_EXISTS,     /* k */
	SELECTOR_NOT_EXISTS, /* !k */
	SELECTOR_EQ,         /* k=v */
	SELECTOR_DEQ,        /* k==v, the same as k=v (printed as given) */
	SELECTOR_NE,         /* k!=v */
	SELECTOR_IN,         /* k in (a,b) */
	SELECTOR_NOTIN,      /* k notin (a,b) */
	SELECTOR_GT,         /* k>5 */
	SELECTOR_LT,         /* k<5 */
};

/*
 * One requirement. values are valid label values, sorted (strcmp) and distinct: none for
 * the (not) exists operators, one for =, ==, !=, > and <, one or more for in and notin
 * ("in ()" is the one value "").
 */
struct selector_req {
	enum selector_op op;
	char *key; /* a valid label key */
	char **values;
	size_t nvalues;
	int64_t number; /* > and <: the value as a number */
};

/*
 * A parsed selector: every requirement must hold. Requirements are sorted by key, those
 * of one key in the order given (Kubernetes sorts by key too). No requirement: matches
 * every node. Everything in it is owned by it.
 */
struct selector {
	struct selector_req *reqs;
	size_t n;
};

struct selector_error {
	size_t position;            /* 1-based character where it went wrong; 0: the text */
	char msg[SELECTOR_ERR_MAX]; /* "position 7: expected ',' or the end, found '='" */
};

/*
 * Parses text (Kubernetes' grammar and lexer, docs/labels.md): requirements separated by
 * commas; whitespace (space, tab, CR, LF) around tokens; an identifier runs until
 * whitespace or one of = ! ( ) , > <; keys and values are checked by labels.h's rules.
 * Returns 0 with *out set (free it with selector_free); CMDB_EINVAL with e filled;
 * CMDB_ENOMEM.
 */
int selector_parse(const char *text, struct selector **out, struct selector_error *e);

void selector_free(struct selector *s);

/* 1 when every requirement holds for ls. Allocates nothing; reads ls->items and ls->n. */
int selector_match(const struct selector *s, const struct labels *ls);

/*
 * Appends the canonical form to out: Kubernetes' String(): requirements as sorted,
 * joined by ",", no spaces but around in and notin, set values sorted and joined by ","
 * ("x in (a,b),y!=c,!z"). Parsing it gives the same selector. 0, or CMDB_ENOMEM.
 */
int selector_format(const struct selector *s, struct strbuf *out);

/*
 * SQL for the store: a condition over a table node_labels(node_id, k, v) (k and v in a
 * binary collation such as ascii_bin, so that they compare as bytes, as labels do), to
 * put after WHERE or AND in a query whose node id is node_id_column ("n.id"; letters,
 * digits, '_' and one '.' only). Each requirement becomes one subquery on alias nl:
 *
 *   k, k=v, k==v, k in (a,b)  EXISTS (SELECT 1 FROM node_labels nl
 *                               WHERE nl.node_id = n.id AND nl.k = ? [AND nl.v IN (?, ?)])
 *   !k, k!=v, k notin (a,b)   NOT EXISTS (the same subquery)
 *   k>5, k<5                  EXISTS (... AND nl.k = ? AND nl.v REGEXP '^[0-9]+$' AND
 *                               CAST(nl.v AS DECIMAL(65,0)) <= 9223372036854775807 AND
 *                               CAST(nl.v AS DECIMAL(65,0)) > CAST(? AS SIGNED))
 *
 * joined by " AND "; "TRUE" for no requirement. No key or value is ever in the text: the
 * text depends only on the operators and the number of values, and params holds, in the
 * order of the placeholders, pointers to the selector's own strings (valid while it
 * lives). Matches exactly what selector_match does on valid label sets.
 */
struct selector_sql {
	struct strbuf text;
	const char **params;
	size_t nparams;
};

#define SELECTOR_SQL_INIT                                                                          \
	{                                                                                          \
		STRBUF_INIT, NULL, 0                                                               \
	}

/* Builds out (SELECTOR_SQL_INIT). 0; CMDB_EINVAL for a bad node_id_column; CMDB_ENOMEM. */
int selector_sql(const struct selector *s, const char *node_id_column, struct selector_sql *out);

void selector_sql_free(struct selector_sql *q);

#endif
