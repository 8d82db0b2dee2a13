#include "st_hlsjoin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line {
	const char *s;
	size_t len; /* without the line end */
};

/* A media playlist cut into its header lines and its segments (each the
 * tags that precede a URI line, and that line). */
struct playlist {
	struct line *lines;
	size_t nlines;
	size_t hdr_end; /* lines before this index are the header */
	size_t nseg;
	size_t *seg; /* seg[i]: index of segment i's first line; seg[nseg]: past the last URI */
	uint64_t seq;
	unsigned target;
};

static bool starts(const struct line *l, const char *lit)
{
	size_t n = strlen(lit);
	return l->len >= n && memcmp(l->s, lit, n) == 0;
}

static bool is(const struct line *l, const char *lit)
{
	return l->len == strlen(lit) && memcmp(l->s, lit, l->len) == 0;
}

static bool is_uri(const struct line *l)
{
	return l->len > 0 && l->s[0] != '#';
}

/* Tags that belong to the segment after them (RFC 8216 §4.3.2). */
static bool is_segment_tag(const struct line *l)
{
	static const char *const tags[] = {
	    "#EXTINF:",    "#EXT-X-BYTERANGE:", "#EXT-X-PROGRAM-DATE-TIME:", "#EXT-X-KEY:",
	    "#EXT-X-MAP:", "#EXT-X-GAP",        "#EXT-X-BITRATE:",
	};
	if (is(l, "#EXT-X-DISCONTINUITY"))
		return true;
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
		if (starts(l, tags[i]))
			return true;
	return false;
}

static uint64_t number_after(const struct line *l, size_t skip)
{
	uint64_t v = 0;
	for (size_t i = skip; i < l->len && l->s[i] >= '0' && l->s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(l->s[i] - '0');
	return v;
}

static void playlist_free(struct playlist *p)
{
	free(p->lines);
	free(p->seg);
	memset(p, 0, sizeof *p);
}

static int playlist_parse(const char *text, size_t len, struct playlist *p)
{
	memset(p, 0, sizeof *p);
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	p->lines = malloc(cap * sizeof *p->lines);
	p->seg = malloc((cap + 1) * sizeof *p->seg);
	if (!p->lines || !p->seg) {
		playlist_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct line l = {text + i, end - i};
		if (l.len && l.s[l.len - 1] == '\r')
			l.len--;
		p->lines[p->nlines++] = l;
		i = end + 1;
	}
	if (p->nlines == 0 || !starts(&p->lines[0], "#EXTM3U")) {
		playlist_free(p);
		return -EINVAL;
	}
	bool in_header = true;
	size_t seg_first = 0;
	for (size_t i = 0; i < p->nlines; i++) {
		const struct line *l = &p->lines[i];
		if (in_header) {
			if (starts(l, "#EXT-X-MEDIA-SEQUENCE:"))
				p->seq = number_after(l, strlen("#EXT-X-MEDIA-SEQUENCE:"));
			else if (starts(l, "#EXT-X-TARGETDURATION:"))
				p->target =
				    (unsigned)number_after(l, strlen("#EXT-X-TARGETDURATION:"));
			if (!is_uri(l) && !is_segment_tag(l))
				continue;
			in_header = false;
			p->hdr_end = i;
			seg_first = i;
		}
		if (is_uri(l)) {
			p->seg[p->nseg++] = seg_first;
			seg_first = i + 1;
		}
	}
	if (in_header)
		p->hdr_end = p->nlines;
	p->seg[p->nseg] = seg_first;
	return 0;
}

struct out {
	char *buf;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	/* the capacity is computed up front from the inputs */
	if (o->len + n + 1 > o->cap)
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_line(struct out *o, const struct line *l)
{
	put(o, l->s, l->len);
	put(o, "\n", 1);
}

/* "<tag><v>\n" */
static void put_tag(struct out *o, const char *tag, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64 "\n", v);
	put(o, tag, strlen(tag));
	if (n > 0 && (size_t)n < sizeof tmp)
		put(o, tmp, (size_t)n);
}

/* Segment i of p, without the tags the join writes itself. */
static void put_segment(struct out *o, const struct playlist *p, size_t i)
{
	for (size_t k = p->seg[i]; k < p->seg[i + 1]; k++) {
		const struct line *l = &p->lines[k];
		if (l->len == 0 || is(l, "#EXT-X-DISCONTINUITY") || is(l, "#EXT-X-ENDLIST"))
			continue;
		put_line(o, l);
	}
}

static bool header_line_kept(const struct line *l)
{
	return l->len && !starts(l, "#EXTM3U") && !starts(l, "#EXT-X-TARGETDURATION:") &&
	       !starts(l, "#EXT-X-MEDIA-SEQUENCE:") &&
	       !starts(l, "#EXT-X-DISCONTINUITY-SEQUENCE:") && !is(l, "#EXT-X-ENDLIST");
}

char *st_hls_join(const struct st_run *run, const char *cur, size_t cur_len, const char *prev,
                  size_t prev_len, size_t *out_len)
{
	struct playlist c, p = {0};
	int rc = playlist_parse(cur, cur_len, &c);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	bool have_prev = false;
	if (prev && run->prev && playlist_parse(prev, prev_len, &p) == 0)
		have_prev = true;
	/* how many of prev's last segments fill cur's window */
	size_t take = 0;
	if (have_prev && c.seq == run->start && c.nseg < run->window && p.nseg &&
	    p.seq + p.nseg == run->start)
		take = run->window - c.nseg < p.nseg ? run->window - c.nseg : p.nseg;
	uint64_t first_seq = take ? run->start - take : c.seq;
	/* the run of the first segment listed, and whether a tag precedes it */
	uint64_t first_disc, first_start;
	if (take) {
		first_disc = run->disc ? run->disc - 1 : 0;
		first_start = run->prev_start;
	} else {
		first_disc = run->disc;
		first_start = run->start;
	}
	bool tag_first = first_disc > 0 && first_seq == first_start;
	uint64_t disc_seq = first_disc - (tag_first ? 1 : 0);
	unsigned target = c.target;
	if (take && p.target > target)
		target = p.target;
	if (run->target > target)
		target = run->target;

	struct out o = {0};
	o.cap = cur_len + (take ? prev_len : 0) + 256;
	o.buf = malloc(o.cap);
	if (!o.buf) {
		playlist_free(&c);
		playlist_free(&p);
		errno = ENOMEM;
		return NULL;
	}
	put(&o, "#EXTM3U\n", 8);
	for (size_t i = 0; i < c.hdr_end; i++)
		if (header_line_kept(&c.lines[i]))
			put_line(&o, &c.lines[i]);
	put_tag(&o, "#EXT-X-TARGETDURATION:", target);
	put_tag(&o, "#EXT-X-MEDIA-SEQUENCE:", first_seq);
	if (disc_seq)
		put_tag(&o, "#EXT-X-DISCONTINUITY-SEQUENCE:", disc_seq);
	for (size_t i = p.nseg - take; take && i < p.nseg; i++) {
		if (run->disc > 1 && p.seq + i == run->prev_start)
			put(&o, "#EXT-X-DISCONTINUITY\n", 21);
		put_segment(&o, &p, i);
	}
	for (size_t i = 0; i < c.nseg; i++) {
		if (run->disc > 0 && c.seq + i == run->start)
			put(&o, "#EXT-X-DISCONTINUITY\n", 21);
		put_segment(&o, &c, i);
	}
	playlist_free(&c);
	playlist_free(&p);
	o.buf[o.len] = '\0';
	*out_len = o.len;
	return o.buf;
}

int st_hls_media_info(const char *text, size_t len, uint64_t *first, size_t *count)
{
	struct playlist p;
	int rc = playlist_parse(text, len, &p);
	if (rc)
		return rc;
	*first = p.seq;
	*count = p.nseg;
	playlist_free(&p);
	return 0;
}
