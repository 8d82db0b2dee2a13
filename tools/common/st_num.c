#include "st_num.h"

#include <errno.h>
#include <stdbool.h>

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

int st_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!text || !digit(*text))
		return -EINVAL;
	uint64_t v = 0;
	bool over = false;
	for (const char *p = text; *p; p++) {
		if (!digit(*p))
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (over || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int st_parse_seconds_ms(const char *text, uint64_t min_ms, uint64_t max_ms, uint64_t *out)
{
	if (!text || !digit(*text))
		return -EINVAL;
	const char *p = text;
	uint64_t whole = 0;
	bool over = false;
	for (; digit(*p); p++) {
		if (whole > 1000000000000ull)
			over = true;
		else
			whole = whole * 10 + (uint64_t)(*p - '0');
	}
	uint64_t frac_ms = 0;
	if (*p == '.') {
		p++;
		if (!digit(*p))
			return -EINVAL; /* "5." */
		uint64_t scale = 100;
		bool round_up = false;
		for (int i = 0; digit(*p); p++, i++) {
			if (i < 3) {
				frac_ms += scale * (uint64_t)(*p - '0');
				scale /= 10;
			} else if (i == 3) {
				round_up = *p >= '5';
			}
		}
		frac_ms += round_up;
	}
	if (*p)
		return -EINVAL;
	if (over)
		return -ERANGE;
	uint64_t ms = whole * 1000 + frac_ms;
	if (ms < min_ms || ms > max_ms)
		return -ERANGE;
	*out = ms;
	return 0;
}

int st_parse_mode(const char *text, unsigned *out)
{
	if (!text || !*text)
		return -EINVAL;
	unsigned v = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		v = v * 8 + (unsigned)(*p - '0');
		if (v > 0777)
			return -EINVAL;
	}
	*out = v;
	return 0;
}
