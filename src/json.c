/* JSON rendering for debugging endpoints and the CLI.  No library: the
 * output is small, flat and written in one place. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_internal.h"

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s, or 0.  Strict (RFC 3629): no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static size_t utf8_len_bounded(const unsigned char *p, const unsigned char *end)
{
	unsigned char tmp[4] = {0};
	memcpy(tmp, p, (size_t)(end - p));
	size_t n = utf8_len(tmp);
	return n <= (size_t)(end - p) ? n : 0;
}

/* Error messages come from ffmpeg's stderr: any bytes.  Invalid UTF-8
 * becomes U+FFFD so the document always parses. */
/* max bounds the read: the info may come from a caller with any bytes. */
static void put_str(struct buf *b, const char *s, size_t max)
{
	put(b, "\"", 1);
	const unsigned char *end = (const unsigned char *)s + strnlen(s, max);
	for (const unsigned char *p = (const unsigned char *)s; p < end;) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(b, e, 2);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			putf(b, "\\u%04x", c);
			p++;
		} else {
			size_t n = (size_t)(end - p) >= 4 ? utf8_len(p) : utf8_len_bounded(p, end);
			if (n == 0) {
				put(b, "\\ufffd", 6);
				p++;
			} else {
				put(b, (const char *)p, n);
				p += n;
			}
		}
	}
	put(b, "\"", 1);
}

static void put_info(struct buf *b, const sr_session_info *in)
{
	char id[SR_UUID_STR_LEN + 1];
	sr_uuid_format(in->channel_id, id);
	put(b, "{\"channel_id\":", 14);
	put_str(b, id, sizeof(id));
	putf(b, ",\"state\":\"%s\",\"clients\":%" PRIu32 ",\"idle_ms\":%" PRIu64,
	     sr_state_name(in->state), in->clients, in->idle_ms);
	putf(b, ",\"error_count\":%" PRIu32 ",\"last_error\":", in->error_count);
	put_str(b, in->last_error, sizeof(in->last_error));
	putf(b, ",\"last_error_wall_ns\":%" PRId64 ",\"pid\":%d,\"pid_start\":%" PRIu64,
	     in->last_error_wall_ns, (int)in->pid, in->pid_start);
	putf(b, ",\"restart_count\":%" PRIu32 ",\"slot\":%" PRIu32 ",\"generation\":%" PRIu32,
	     in->restart_count, in->slot, in->generation);
	putf(b, ",\"created_wall_ns\":%" PRId64 ",\"started_wall_ns\":%" PRId64,
	     in->created_wall_ns, in->started_wall_ns);
	put(b, ",\"transitions\":{", 16);
	for (int st = 0; st < SR_STATE_COUNT; st++)
		putf(b, "%s\"%s\":%" PRIu64, st ? "," : "", sr_state_name((sr_state)st),
		     in->transitions[st]);
	putf(b, "},\"restarts_total\":%" PRIu64 ",\"start_timeouts_total\":%" PRIu64,
	     in->restarts_total, in->start_timeouts_total);
	putf(b, ",\"last_state_change_wall_ns\":%" PRId64 ",\"last_failure_wall_ns\":%" PRId64,
	     in->last_state_change_wall_ns, in->last_failure_wall_ns);
	putf(b, ",\"start_latency_ns\":%" PRIu64, in->start_latency_ns);
	putf(b, ",\"created_mono_ns\":%" PRIu64 ",\"started_mono_ns\":%" PRIu64,
	     in->created_mono_ns, in->started_mono_ns);
	putf(b, ",\"last_access_mono_ns\":%" PRIu64 ",\"n_qualities\":%" PRIu32,
	     in->last_access_mono_ns, in->n_qualities);
	putf(b, ",\"last_access_wall_ns\":%" PRId64 ",\"output_dir\":", in->last_access_wall_ns);
	put_str(b, in->output_dir, sizeof(in->output_dir));
	put(b, ",\"segment_path\":", 16);
	put_str(b, in->segment_path, sizeof(in->segment_path));
	put(b, ",\"qualities\":[", 14);
	for (uint32_t i = 0; i < in->n_qualities && i < SR_MAX_QUALITIES; i++) {
		const sr_quality *q = &in->qualities[i];
		put(b, i ? ",{\"level\":" : "{\"level\":", i ? 10 : 9);
		put_str(b, q->level, sizeof(q->level));
		putf(b, ",\"bitrate_kbps\":%" PRIu32 ",\"resolution\":\"%" PRIu32 "x%" PRIu32 "\"",
		     q->bitrate_kbps, q->width, q->height);
		putf(b, ",\"width\":%" PRIu32 ",\"height\":%" PRIu32, q->width, q->height);
		put(b, ",\"codec\":", 9);
		put_str(b, q->codec, sizeof(q->codec));
		put(b, ",\"segment_path\":", 16);
		put_str(b, q->segment_path, sizeof(q->segment_path));
		put(b, ",\"playlist_path\":", 17);
		put_str(b, q->playlist_path, sizeof(q->playlist_path));
		put(b, "}", 1);
	}
	put(b, "]}", 2);
}

static int finish(struct buf *b, char **out)
{
	if (b->oom || !b->p) {
		free(b->p);
		return sr__fail(-ENOMEM, "out of memory rendering JSON");
	}
	*out = b->p;
	return 0;
}

int sr_session_info_json(const sr_session_info *info, char **out)
{
	if (!info || !out)
		return sr__fail(-EINVAL, "info or output is NULL");
	struct buf b = {0};
	put_info(&b, info);
	return finish(&b, out);
}

static int json_cb(const sr_session_info *info, void *ctx)
{
	struct buf *b = ctx;
	if (b->len > 1)
		put(b, ",", 1);
	put_info(b, info);
	return 0;
}

int sr_registry_json(sr_registry *reg, char **out)
{
	SR_CHECK_REG(reg);
	if (!out)
		return sr__fail(-EINVAL, "output is NULL");
	struct buf b = {0};
	put(&b, "[", 1);
	int rc = sr_session_foreach(reg, json_cb, &b);
	if (rc) {
		free(b.p);
		return rc;
	}
	put(&b, "]", 1);
	return finish(&b, out);
}
