#include "st_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Decimal digits only, bounded, no overflow; leading zeros are refused so
 * that one number has one spelling (a run's directory name). */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > ST_RUN_NAME_MAX || (len > 1 && s[0] == '0'))
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool key_is(const char *k, size_t klen, const char *lit)
{
	return klen == strlen(lit) && memcmp(k, lit, klen) == 0;
}

int st_run_parse(const char *text, size_t len, struct st_run *out)
{
	struct st_run r = {0};
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		const char *line = text + i;
		size_t l = end - i;
		i = end + 1;
		if (l == 0)
			continue;
		const char *sp = memchr(line, ' ', l);
		if (!sp || sp == line)
			return -EINVAL;
		size_t klen = (size_t)(sp - line);
		const char *v = sp + 1;
		size_t vlen = l - klen - 1;
		uint64_t n;
		uint64_t *dst = NULL;
		unsigned *small = NULL;
		if (key_is(line, klen, "run"))
			dst = &r.id;
		else if (key_is(line, klen, "start"))
			dst = &r.start;
		else if (key_is(line, klen, "discontinuity"))
			dst = &r.disc;
		else if (key_is(line, klen, "previous"))
			dst = &r.prev;
		else if (key_is(line, klen, "previous-start"))
			dst = &r.prev_start;
		else if (key_is(line, klen, "target"))
			small = &r.target;
		else if (key_is(line, klen, "window"))
			small = &r.window;
		else
			continue; /* a later writer's key */
		if (!parse_u64(v, vlen, &n))
			return -EINVAL;
		if (dst)
			*dst = n;
		else if (n > 100000)
			return -EINVAL;
		else
			*small = (unsigned)n;
	}
	if (r.id == 0)
		return -EINVAL;
	*out = r;
	return 0;
}

int st_run_format(const struct st_run *r, char *buf, size_t len)
{
	int n =
	    snprintf(buf, len,
	             "run %" PRIu64 "\nstart %" PRIu64 "\ndiscontinuity %" PRIu64
	             "\nprevious %" PRIu64 "\nprevious-start %" PRIu64 "\ntarget %u\nwindow %u\n",
	             r->id, r->start, r->disc, r->prev, r->prev_start, r->target, r->window);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

bool st_run_name_parse(const char *name, size_t len, uint64_t *id)
{
	uint64_t v;
	if (!parse_u64(name, len, &v) || v == 0)
		return false;
	*id = v;
	return true;
}

void st_run_name(uint64_t id, char *out)
{
	snprintf(out, ST_RUN_NAME_MAX + 1, "%" PRIu64, id);
}

uint64_t st_run_of_segment(const char *file)
{
	const char *dash = strchr(file, '-');
	if (!dash)
		return 0;
	const char *p = dash + 1;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != '.')
		return 0;
	uint64_t id;
	return st_run_name_parse(file, (size_t)(dash - file), &id) ? id : 0;
}
