/*
 * The ffmpeg command line for one channel.  It is an argv handed to execv,
 * never a shell string, and it names only relative output paths: ffmpeg runs
 * inside the channel directory, so a path swapped for a symlink after the
 * reaper created it cannot redirect the output.
 */
#ifndef RP_FFMPEG_ARGV_H
#define RP_FFMPEG_ARGV_H

#include <stddef.h>
#include <stdint.h>

#include "ladder.h"

/** The master playlist ffmpeg writes in the channel directory. */
#define RP_MASTER_PLAYLIST "master.m3u8"

struct rp_encode {
	const char *ffmpeg;  /* absolute path of the binary */
	unsigned hls_time;   /* segment duration, seconds */
	unsigned list_size;  /* segments kept in each playlist */
	unsigned fps;        /* output frame rate; keyframe interval is fps * hls_time */
	unsigned audio_kbps; /* AAC bitrate per variant */
	uint64_t run_id;     /* prefix of the segment names (tools/common/st_run.h) */
	uint64_t start;      /* media sequence number of the first segment */
};

/** Length of a run's first segment, ms: a player gets its first playlist
 * after this much media instead of a whole segment duration. */
#define RP_FIRST_SEGMENT_MS 500

/** A NULL-terminated argv whose strings it owns. */
struct rp_argv {
	char **argv;
	size_t argc;
	size_t cap;
};

/**
 * Build the argv for input, which must pass st_input_classify().  Returns 0,
 * -EINVAL with a message in err, or -ENOMEM.
 */
int rp_ffmpeg_argv(const struct rp_encode *enc, const char *input, const struct rp_ladder *lad,
                   struct rp_argv *out, char *err, size_t errlen);

void rp_argv_free(struct rp_argv *a);

/**
 * The argv for a log line, each argument that is not a plain word in single
 * quotes as a shell would need (never run by one); malloc'd.
 */
char *rp_argv_join(const struct rp_argv *a);

#endif
