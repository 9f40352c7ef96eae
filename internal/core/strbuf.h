/*
 * strbuf: a growable, always terminated string, in the manner of Git's strbuf.h. Used to
 * build SQL whose length depends on the data (one placeholder per node). An allocation
 * failure is sticky: every later add does nothing and `failed` stays set, so a builder
 * checks once, at the end, instead of after every add.
 */
#ifndef CMDB_STRBUF_H
#define CMDB_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;    /* "" until something is added; never NULL */
	size_t len;   /* bytes used, without the terminator */
	size_t alloc; /* bytes allocated; 0 while buf points at the shared "" */
	int failed;   /* an allocation failed; the content is incomplete */
};

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		strbuf_empty, 0, 0, 0                                                              \
	}

extern char strbuf_empty[1];

/* Appends n bytes of text. */
void strbuf_add(struct strbuf *sb, const char *text, size_t n);
/* Appends a terminated string. */
void strbuf_adds(struct strbuf *sb, const char *text);
/* Appends printf-style. */
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for at least extra more bytes (an optimisation; adds grow as needed). */
void strbuf_grow(struct strbuf *sb, size_t extra);
/* Empties sb and keeps its allocation, for building the next string in it. */
void strbuf_reset(struct strbuf *sb);
/* Frees the buffer and makes sb empty again (STRBUF_INIT). */
void strbuf_free(struct strbuf *sb);

#endif
