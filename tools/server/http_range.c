#include "http_range.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

/* Digits are bounded so that a value can never overflow: 18 digits are
 * far beyond any file the server sends. */
#define MAX_DIGITS 18

static bool ows(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
	while (ows(*p))
		p++;
	return p;
}

/* Parse 1..MAX_DIGITS digits; NULL if there are none or too many. */
static const char *number(const char *p, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;
	while (*p >= '0' && *p <= '9') {
		if (++n > MAX_DIGITS)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (n == 0)
		return NULL;
	*out = v;
	return p;
}

enum range_kind range_select(const char *hdr, uint64_t size, uint64_t *first, uint64_t *len)
{
	if (!hdr || size == 0)
		return RANGE_FULL;
	const char *p = skip_ows(hdr);
	if (strncasecmp(p, "bytes", 5) != 0)
		return RANGE_FULL; /* another unit: not ours to interpret */
	p = skip_ows(p + 5);
	if (*p != '=')
		return RANGE_FULL;
	p = skip_ows(p + 1);
	uint64_t a = 0, b = 0;
	bool suffix = false, open_end = false;
	if (*p == '-') {
		suffix = true;
		p = number(p + 1, &b);
	} else {
		p = number(p, &a);
		if (!p || *p != '-')
			return RANGE_FULL;
		p++;
		if (*p >= '0' && *p <= '9')
			p = number(p, &b);
		else
			open_end = true;
	}
	if (!p)
		return RANGE_FULL;
	p = skip_ows(p);
	if (*p != '\0')
		return RANGE_FULL; /* several ranges, or garbage after one */
	if (suffix) {
		if (b == 0)
			return RANGE_UNSATISFIABLE;
		*len = b < size ? b : size;
		*first = size - *len;
		return RANGE_PARTIAL;
	}
	if (!open_end && b < a)
		return RANGE_FULL; /* invalid range-spec (§14.1.1): ignored */
	if (a >= size)
		return RANGE_UNSATISFIABLE;
	uint64_t last = open_end || b >= size ? size - 1 : b;
	*first = a;
	*len = last - a + 1;
	return RANGE_PARTIAL;
}
