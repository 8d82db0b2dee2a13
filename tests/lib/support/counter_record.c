#include "counter_record.h"

#include <stdio.h>
#include <string.h>

static void quality_for(uint64_t n, int i, sr_quality *q)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->level, sizeof(q->level), "L%llu", (unsigned long long)n);
	q->bitrate_kbps = (uint32_t)n;
	q->width = (uint32_t)n;
	q->height = (uint32_t)n + (uint32_t)i;
	snprintf(q->codec, sizeof(q->codec), "c%llu", (unsigned long long)n);
	snprintf(q->segment_path, sizeof(q->segment_path), "/seg/%llu/%d_%%05d.ts",
	         (unsigned long long)n, i);
	snprintf(q->playlist_path, sizeof(q->playlist_path), "/pl/%llu/%d.m3u8",
	         (unsigned long long)n, i);
}

int cr_write_round(sr_registry *reg, const uuid_t id, uint64_t n)
{
	sr_quality q[SR_MAX_QUALITIES];
	char out[64], seg[64], err[64];
	size_t nq = 1 + n % SR_MAX_QUALITIES;
	int rc;

	for (size_t i = 0; i < nq; i++)
		quality_for(n, (int)i, &q[i]);
	snprintf(out, sizeof(out), "/out/%llu", (unsigned long long)n);
	snprintf(seg, sizeof(seg), "/out/%llu/seg.ts", (unsigned long long)n);
	snprintf(err, sizeof(err), "err %llu", (unsigned long long)n);
	if ((rc = sr_session_set_qualities(reg, id, q, nq)))
		return rc;
	if ((rc = sr_session_set_paths(reg, id, out, seg)))
		return rc;
	return sr_session_record_error(reg, id, err);
}

long long cr_qualities_value(const sr_session_info *s)
{
	if (s->n_qualities < 1 || s->n_qualities > SR_MAX_QUALITIES)
		return -1;
	long long n = (long long)s->qualities[0].bitrate_kbps;
	if ((long long)(1 + n % SR_MAX_QUALITIES) != (long long)s->n_qualities)
		return -1;
	for (uint32_t i = 0; i < s->n_qualities; i++) {
		sr_quality want;
		quality_for((uint64_t)n, (int)i, &want);
		const sr_quality *got = &s->qualities[i];
		if (strcmp(got->level, want.level) || got->bitrate_kbps != want.bitrate_kbps ||
		    got->width != want.width || got->height != want.height ||
		    strcmp(got->codec, want.codec) ||
		    strcmp(got->segment_path, want.segment_path) ||
		    strcmp(got->playlist_path, want.playlist_path))
			return -1;
	}
	return n;
}

long long cr_paths_value(const sr_session_info *s)
{
	unsigned long long a;
	char out[64], seg[64];

	if (sscanf(s->output_dir, "/out/%llu", &a) != 1)
		return -1;
	snprintf(out, sizeof(out), "/out/%llu", a);
	snprintf(seg, sizeof(seg), "/out/%llu/seg.ts", a);
	if (strcmp(out, s->output_dir) || strcmp(seg, s->segment_path))
		return -1;
	return (long long)a;
}

long long cr_error_value(const sr_session_info *s)
{
	unsigned long long e;
	char want[64];

	if (sscanf(s->last_error, "err %llu", &e) != 1 || e != s->error_count)
		return -1;
	snprintf(want, sizeof(want), "err %llu", e);
	return strcmp(want, s->last_error) ? -1 : (long long)e;
}

int cr_check(const sr_session_info *s, char *why, size_t len)
{
	long long q = cr_qualities_value(s), p = cr_paths_value(s), e = cr_error_value(s);

	if (q >= 0 && p >= 0 && e >= 0 && q - 1 <= e && e <= p && p <= q)
		return 1;
	snprintf(why, len,
	         "q=%lld p=%lld e=%lld level=%.16s bitrate=%u nq=%u out=%.40s seg=%.40s "
	         "err=%.40s count=%u",
	         q, p, e, s->qualities[0].level, s->qualities[0].bitrate_kbps, s->n_qualities,
	         s->output_dir, s->segment_path, s->last_error, s->error_count);
	return 0;
}
