#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_escape.h"

static bool grow(struct strbuf *b, size_t need)
{
	if (b->oom)
		return false;
	if (b->len + need + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + need + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void strbuf_put(struct strbuf *b, const char *s, size_t n)
{
	if (!grow(b, n) || !b->p)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_put(b, s, strlen(s));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n =
	    vsnprintf(small, sizeof small, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		strbuf_put(b, small, (size_t)n);
		return;
	}
	if (!grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt,
	          ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	b->len += (size_t)n;
}

static void strbuf_sink(void *ctx, const char *p, size_t n)
{
	strbuf_put(ctx, p, n);
}

void strbuf_json_string(struct strbuf *b, const char *s)
{
	sr__json_string(strbuf_sink, b, s, (size_t)-1);
}

void strbuf_html(struct strbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			strbuf_puts(b, "&lt;");
			break;
		case '>':
			strbuf_puts(b, "&gt;");
			break;
		case '&':
			strbuf_puts(b, "&amp;");
			break;
		case '"':
			strbuf_puts(b, "&quot;");
			break;
		default:
			strbuf_put(b, s, 1);
		}
	}
}

char *strbuf_take(struct strbuf *b, size_t *len)
{
	if (b->oom) {
		free(b->p);
		b->p = NULL;
		return NULL;
	}
	if (!b->p)
		strbuf_put(b, "", 0);
	if (b->oom)
		return NULL;
	char *p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}
