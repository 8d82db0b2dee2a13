/*
 * The HLS quality ladder, "720p:2800k,480p:1400k,360p:800k": one variant per
 * entry, 16:9 frames whose height is the level's number.
 */
#ifndef RP_LADDER_H
#define RP_LADDER_H

#include <stddef.h>

#include "streamreg.h"

/** The default ladder: two light variants a 2-core machine encodes live. */
#define RP_LADDER_DEFAULT "360p:800k,180p:250k"

struct rp_ladder {
	sr_quality q[SR_MAX_QUALITIES]; /* level, bitrate, size, codec and paths */
	size_t n;
};

/**
 * Parse spec into *out.  Returns 0, or -EINVAL with a message in err naming
 * the entry at fault.  Each variant's files live in a directory named after
 * its level: "<level>/index.m3u8" and "<level>/seg_%05d.ts", relative to the
 * channel directory.
 */
int rp_ladder_parse(const char *spec, struct rp_ladder *out, char *err, size_t errlen);

#endif
