#include "json_escape.h"

#include <string.h>

/* The length of the valid UTF-8 sequence at p that ends by end, or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
	size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (c < 0xc2 || c > 0xf4 || (size_t)(end - p) < need)
		return 0;
	/* The second byte's range is what rules out overlong forms (E0, F0),
	 * surrogates (ED) and code points past U+10FFFF (F4). */
	unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

void sr__json_string(sr__json_sink *put, void *ctx, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strnlen(s, max);
	put(ctx, "\"", 1);
	while (p < end) {
		/* Runs of plain printable ASCII go out in one call: a sink may
		 * be a FILE or a growing buffer, costly per byte. */
		const unsigned char *run = p;
		while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			put(ctx, (const char *)run, (size_t)(p - run));
		if (p >= end)
			break;
		unsigned char c = *p;
		size_t n;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(ctx, e, 2);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			/* DEL may stand raw in JSON, but it is invisible where
			 * these documents are read: terminals and logs. */
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
			put(ctx, e, 6);
			p++;
		} else if ((n = utf8_seq(p, end)) != 0) {
			put(ctx, (const char *)p, n);
			p += n;
		} else {
			/* One replacement per byte: the reader can count what
			 * was lost, and no valid byte after it is swallowed. */
			put(ctx, "\\ufffd", 6);
			p++;
		}
	}
	put(ctx, "\"", 1);
}
