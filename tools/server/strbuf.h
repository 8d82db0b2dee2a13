/* A growable string that remembers an allocation failure, so builders can
 * append without checking every call and test once at the end. */
#ifndef SRV_STRBUF_H
#define SRV_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void strbuf_put(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included. */
void strbuf_json_string(struct strbuf *b, const char *s);
/* s with HTML's special characters escaped. */
void strbuf_html(struct strbuf *b, const char *s);
/* The buffer (caller frees), or NULL after an allocation failure. */
char *strbuf_take(struct strbuf *b, size_t *len);

#endif
