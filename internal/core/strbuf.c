/*
 * strbuf: growable strings; doubling growth, sticky allocation failure.
 */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char strbuf_empty[1];

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t want = sb->len + extra + 1, cap = sb->alloc ? sb->alloc : 64;
	char *p;

	if (sb->failed || want <= sb->alloc)
		return;
	while (cap < want)
		cap *= 2;
	p = realloc(sb->alloc ? sb->buf : NULL, cap);
	if (!p) {
		sb->failed = 1;
		return;
	}
	if (!sb->alloc)
		p[0] = '\0';
	sb->buf = p;
	sb->alloc = cap;
}

void strbuf_add(struct strbuf *sb, const char *text, size_t n)
{
	strbuf_grow(sb, n);
	if (sb->failed)
		return;
	memcpy(sb->buf + sb->len, text, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *text)
{
	strbuf_add(sb, text, strlen(text));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = 1;
		return;
	}
	strbuf_grow(sb, (size_t)n);
	if (sb->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void strbuf_reset(struct strbuf *sb)
{
	/* The shared "" of an empty strbuf is never written. */
	if (sb->alloc)
		sb->buf[0] = '\0';
	sb->len = 0;
}

void strbuf_free(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sb->buf = strbuf_empty;
	sb->len = sb->alloc = 0;
	sb->failed = 0;
}
