/* JSON rendering for debugging endpoints and the CLI.  No library: the
 * output is small, flat and written in one place. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/json_escape.h"
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

static void buf_sink(void *ctx, const char *p, size_t n)
{
	put(ctx, p, n);
}

/* Each string bounded by its field's size: sr_session_info_json renders a
 * caller's struct, whose strings may lack their NUL. */
static void put_info(struct buf *b, const sr_session_info *in)
{
	char id[SR_UUID_STR_LEN + 1];
	sr_uuid_format(in->channel_id, id);
	put(b, "{\"channel_id\":", 14);
	sr__json_string(buf_sink, b, id, sizeof(id));
	putf(b, ",\"state\":\"%s\",\"clients\":%" PRIu32 ",\"idle_ms\":%" PRIu64,
	     sr_state_name(in->state), in->clients, in->idle_ms);
	putf(b, ",\"error_count\":%" PRIu32 ",\"last_error\":", in->error_count);
	sr__json_string(buf_sink, b, in->last_error, sizeof(in->last_error));
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
	sr__json_string(buf_sink, b, in->output_dir, sizeof(in->output_dir));
	put(b, ",\"segment_path\":", 16);
	sr__json_string(buf_sink, b, in->segment_path, sizeof(in->segment_path));
	put(b, ",\"qualities\":[", 14);
	for (uint32_t i = 0; i < in->n_qualities && i < SR_MAX_QUALITIES; i++) {
		const sr_quality *q = &in->qualities[i];
		put(b, i ? ",{\"level\":" : "{\"level\":", i ? 10 : 9);
		sr__json_string(buf_sink, b, q->level, sizeof(q->level));
		putf(b, ",\"bitrate_kbps\":%" PRIu32 ",\"resolution\":\"%" PRIu32 "x%" PRIu32 "\"",
		     q->bitrate_kbps, q->width, q->height);
		putf(b, ",\"width\":%" PRIu32 ",\"height\":%" PRIu32, q->width, q->height);
		put(b, ",\"codec\":", 9);
		sr__json_string(buf_sink, b, q->codec, sizeof(q->codec));
		put(b, ",\"segment_path\":", 16);
		sr__json_string(buf_sink, b, q->segment_path, sizeof(q->segment_path));
		put(b, ",\"playlist_path\":", 17);
		sr__json_string(buf_sink, b, q->playlist_path, sizeof(q->playlist_path));
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
