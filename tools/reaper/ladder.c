#include "ladder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIN_HEIGHT 16
#define MAX_HEIGHT 4320
#define MIN_KBPS   16
#define MAX_KBPS   100000

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
		va_end(ap);
	}
	return -EINVAL;
}

/* Digits only, no sign, no overflow past limit. */
static int parse_uint(const char *s, size_t n, unsigned long limit, unsigned long *out)
{
	unsigned long v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > limit)
			return -1;
	}
	*out = v;
	return 0;
}

static int parse_entry(const char *s, size_t n, unsigned idx, sr_quality *q, char *err,
                       size_t errlen)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return fail(err, errlen,
		            "ladder entry %u \"%.*s\": expected LEVEL:BITRATE such as "
		            "480p:1400k",
		            idx, (int)n, s);
	size_t ln = (size_t)(colon - s), bn = n - ln - 1;
	const char *b = colon + 1;
	unsigned long h, kbps;
	if (ln < 2 || s[ln - 1] != 'p' || parse_uint(s, ln - 1, MAX_HEIGHT, &h) != 0 ||
	    h < MIN_HEIGHT)
		return fail(err, errlen,
		            "ladder entry %u \"%.*s\": level must be a height from %d to %d "
		            "followed by 'p', such as 480p",
		            idx, (int)n, s, MIN_HEIGHT, MAX_HEIGHT);
	if (h % 2)
		return fail(err, errlen,
		            "ladder entry %u \"%.*s\": height must be even (4:2:0 video)", idx,
		            (int)n, s);
	if (ln > SR_LEVEL_MAX)
		return fail(err, errlen, "ladder entry %u: level name too long", idx);
	unsigned long mult = 0;
	if (bn >= 2 && (b[bn - 1] == 'k' || b[bn - 1] == 'K'))
		mult = 1;
	else if (bn >= 2 && (b[bn - 1] == 'M' || b[bn - 1] == 'm'))
		mult = 1000;
	if (!mult || parse_uint(b, bn - 1, MAX_KBPS, &kbps) != 0 || kbps * mult < MIN_KBPS ||
	    kbps * mult > MAX_KBPS)
		return fail(err, errlen,
		            "ladder entry %u \"%.*s\": bitrate must be %dk to %dk, written like "
		            "1400k or 3M",
		            idx, (int)n, s, MIN_KBPS, MAX_KBPS);
	memset(q, 0, sizeof *q);
	char level[SR_LEVEL_MAX + 1];
	memcpy(level, s, ln);
	level[ln] = '\0';
	memcpy(q->level, level, ln + 1);
	q->bitrate_kbps = (uint32_t)(kbps * mult);
	q->height = (uint32_t)h;
	/* nearest even width to a 16:9 frame: 480p gives 854, 240p gives 426 */
	q->width = (uint32_t)(2 * ((h * 8 + 4) / 9));
	snprintf(q->codec, sizeof q->codec, "h264");
	snprintf(q->segment_path, sizeof q->segment_path, "%s/seg_%%05d.ts", level);
	snprintf(q->playlist_path, sizeof q->playlist_path, "%s/index.m3u8", level);
	return 0;
}

int rp_ladder_parse(const char *spec, struct rp_ladder *out, char *err, size_t errlen)
{
	struct rp_ladder l;
	memset(&l, 0, sizeof l);
	if (!spec || !*spec)
		return fail(err, errlen, "empty ladder: give at least one LEVEL:BITRATE");
	const char *p = spec;
	unsigned idx = 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		idx++;
		if (n == 0)
			return fail(err, errlen, "ladder entry %u is empty", idx);
		if (l.n == SR_MAX_QUALITIES)
			return fail(err, errlen, "ladder has more than %d entries",
			            SR_MAX_QUALITIES);
		int rc = parse_entry(p, n, idx, &l.q[l.n], err, errlen);
		if (rc)
			return rc;
		for (size_t i = 0; i < l.n; i++)
			if (strcmp(l.q[i].level, l.q[l.n].level) == 0)
				return fail(err, errlen, "ladder entry %u repeats level %s", idx,
				            l.q[i].level);
		l.n++;
		if (!end)
			break;
		p = end + 1;
	}
	*out = l;
	return 0;
}
