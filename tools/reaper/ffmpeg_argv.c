#include "ffmpeg_argv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_lineup.h"

static int push(struct rp_argv *a, const char *s)
{
	if (a->argc + 2 > a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		char **nv = realloc(a->argv, ncap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		a->argv = nv;
		a->cap = ncap;
	}
	char *dup = strdup(s);
	if (!dup)
		return -ENOMEM;
	a->argv[a->argc++] = dup;
	a->argv[a->argc] = NULL;
	return 0;
}

static int pushf(struct rp_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pushf(struct rp_argv *a, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -EINVAL;
	return push(a, buf);
}

void rp_argv_free(struct rp_argv *a)
{
	if (!a || !a->argv)
		return;
	for (size_t i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	memset(a, 0, sizeof *a);
}

/* Whether s can be shown as it is in a shell-like line. */
static bool plain_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_./:=,+%@", *s)))
			return false;
	return true;
}

char *rp_argv_join(const struct rp_argv *a)
{
	/* Quoted as a shell would need it, so a URL with spaces or a graph
	 * with ';' reads as one argument, not as more options. */
	size_t len = 1;
	for (size_t i = 0; i < a->argc; i++)
		len += 4 * strlen(a->argv[i]) + 3;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < a->argc; i++) {
		if (i)
			*p++ = ' ';
		const char *w = a->argv[i];
		if (plain_word(w)) {
			size_t n = strlen(w);
			memcpy(p, w, n);
			p += n;
			continue;
		}
		*p++ = '\'';
		for (; *w; w++) {
			if (*w == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *w;
			}
		}
		*p++ = '\'';
	}
	*p = '\0';
	return s;
}

/* A lavfi graph with a second output label carries its own audio. */
static bool lavfi_has_audio(const char *graph)
{
	return strstr(graph, "[out1]") != NULL;
}

static int build_filter(const struct rp_encode *enc, const struct rp_ladder *lad, char *buf,
                        size_t len)
{
	size_t off = 0;
	int n;
#define APPEND(...)                                                                                \
	do {                                                                                       \
		n = snprintf(buf + off, len - off, __VA_ARGS__);                                   \
		if (n < 0 || (size_t)n >= len - off)                                               \
			return -EINVAL;                                                            \
		off += (size_t)n;                                                                  \
	} while (0)
	if (lad->n == 1) {
		APPEND("[0:v]fps=%u,scale=%u:%u[v0]", enc->fps, lad->q[0].width, lad->q[0].height);
		return 0;
	}
	APPEND("[0:v]split=%zu", lad->n);
	for (size_t i = 0; i < lad->n; i++)
		APPEND("[s%zu]", i);
	for (size_t i = 0; i < lad->n; i++)
		APPEND(";[s%zu]fps=%u,scale=%u:%u[v%zu]", i, enc->fps, lad->q[i].width,
		       lad->q[i].height, i);
#undef APPEND
	return 0;
}

static int build(const struct rp_encode *enc, const char *input, enum st_input_kind kind,
                 const struct rp_ladder *lad, struct rp_argv *a)
{
	char buf[1024];
	const char *audio_map = "0:a:0";
	int rc = 0;
#define P(s)                                                                                       \
	do {                                                                                       \
		if ((rc = push(a, (s))) != 0)                                                      \
			return rc;                                                                 \
	} while (0)
#define PF(...)                                                                                    \
	do {                                                                                       \
		if ((rc = pushf(a, __VA_ARGS__)) != 0)                                             \
			return rc;                                                                 \
	} while (0)
	P(enc->ffmpeg);
	P("-hide_banner");
	P("-nostdin");
	P("-nostats");
	P("-loglevel");
	P("warning");
	switch (kind) {
	case ST_INPUT_LAVFI:
		/* test sources run as fast as the CPU allows without -re */
		P("-re");
		P("-f");
		P("lavfi");
		P("-i");
		P(input + strlen("lavfi:"));
		if (!lavfi_has_audio(input)) {
			P("-re");
			P("-f");
			P("lavfi");
			P("-i");
			P("anullsrc=r=48000:cl=stereo");
			audio_map = "1:a:0";
		}
		break;
	case ST_INPUT_FILE:
		/* a file becomes a live channel: real time, looped forever */
		P("-stream_loop");
		P("-1");
		P("-re");
		P("-i");
		P(input);
		break;
	case ST_INPUT_URL:
		P("-i");
		P(input);
		break;
	default:
		return -EINVAL;
	}
	if ((rc = build_filter(enc, lad, buf, sizeof buf)) != 0)
		return rc;
	P("-filter_complex");
	P(buf);
	for (size_t i = 0; i < lad->n; i++) {
		P("-map");
		PF("[v%zu]", i);
	}
	for (size_t i = 0; i < lad->n; i++) {
		P("-map");
		P(audio_map);
	}
	P("-c:v");
	P("libx264");
	P("-preset");
	P("ultrafast");
	/* no lookahead, no frame-thread delay: the first segment is out as
	 * soon as its media is */
	P("-tune");
	P("zerolatency");
	P("-pix_fmt");
	P("yuv420p");
	/* one keyframe per segment, at fixed places, so every segment stands
	 * alone; the first one after RP_FIRST_SEGMENT_MS, so that the short
	 * first segment (-hls_init_time) can be cut there */
	P("-g");
	PF("%u", enc->fps * enc->hls_time);
	P("-keyint_min");
	PF("%u", enc->fps * enc->hls_time);
	P("-sc_threshold");
	P("0");
	P("-force_key_frames");
	PF("expr:gte(t,n_forced*%u+%u.%03u)", enc->hls_time, RP_FIRST_SEGMENT_MS / 1000,
	   RP_FIRST_SEGMENT_MS % 1000);
	for (size_t i = 0; i < lad->n; i++) {
		PF("-b:v:%zu", i);
		PF("%uk", lad->q[i].bitrate_kbps);
		PF("-maxrate:v:%zu", i);
		PF("%uk", lad->q[i].bitrate_kbps);
		PF("-bufsize:v:%zu", i);
		PF("%uk", 2 * lad->q[i].bitrate_kbps);
	}
	P("-c:a");
	P("aac");
	P("-b:a");
	PF("%uk", enc->audio_kbps);
	P("-f");
	P("hls");
	P("-hls_time");
	PF("%u", enc->hls_time);
	P("-hls_init_time");
	PF("%u.%03u", RP_FIRST_SEGMENT_MS / 1000, RP_FIRST_SEGMENT_MS % 1000);
	P("-hls_list_size");
	PF("%u", enc->list_size);
	/* numbering continues the previous run (docs/server.md, Restarts) */
	P("-start_number");
	PF("%llu", (unsigned long long)enc->start);
	/* omit_endlist: a transcoder that stops does not end the channel; the
	 * next run continues it */
	P("-hls_flags");
	P("delete_segments+independent_segments+omit_endlist");
	P("-hls_segment_type");
	P("mpegts");
	P("-master_pl_name");
	P(RP_MASTER_PLAYLIST);
	size_t off = 0;
	for (size_t i = 0; i < lad->n; i++) {
		int n = snprintf(buf + off, sizeof buf - off, "%sv:%zu,a:%zu,name:%s", i ? " " : "",
		                 i, i, lad->q[i].level);
		if (n < 0 || (size_t)n >= sizeof buf - off)
			return -EINVAL;
		off += (size_t)n;
	}
	P("-var_stream_map");
	P(buf);
	P("-hls_segment_filename");
	PF("%%v/%llu-%%05d.ts", (unsigned long long)enc->run_id);
	P("%v/index.m3u8");
#undef P
#undef PF
	return 0;
}

int rp_ffmpeg_argv(const struct rp_encode *enc, const char *input, const struct rp_ladder *lad,
                   struct rp_argv *out, char *err, size_t errlen)
{
	const char *why = NULL;
	memset(out, 0, sizeof *out);
	if (!enc || !enc->ffmpeg || enc->ffmpeg[0] != '/') {
		snprintf(err, errlen, "ffmpeg must be given as an absolute path");
		return -EINVAL;
	}
	if (enc->run_id == 0 || enc->hls_time == 0 || enc->fps == 0 || enc->list_size == 0 ||
	    enc->audio_kbps == 0 || enc->hls_time > 60 || enc->fps > 120) {
		snprintf(err, errlen, "bad encoder settings (hls_time %u, fps %u, list size %u)",
		         enc->hls_time, enc->fps, enc->list_size);
		return -EINVAL;
	}
	if (!lad || lad->n == 0 || lad->n > SR_MAX_QUALITIES) {
		snprintf(err, errlen, "empty ladder");
		return -EINVAL;
	}
	/* checked again here, not only in the lineup parser: this is the last
	 * place before exec where an option-like input could slip through */
	enum st_input_kind kind = input ? st_input_classify(input, &why) : ST_INPUT_BAD;
	if (kind == ST_INPUT_BAD) {
		snprintf(err, errlen, "input refused: %s", why ? why : "no input");
		return -EINVAL;
	}
	int rc = build(enc, input, kind, lad, out);
	if (rc) {
		rp_argv_free(out);
		snprintf(err, errlen, "%s", rc == -ENOMEM ? "out of memory" : "argument too long");
	}
	return rc;
}
