/*
 * The lineup: which input each channel transcodes, read from an IPTV M3U
 * playlist.  The parser is a pure function over a buffer so that a fuzzer
 * can drive it with arbitrary bytes.
 */
#ifndef RP_LINEUP_H
#define RP_LINEUP_H

#include <stddef.h>
#include <uuid/uuid.h>

/** Longest display name kept (longer names are cut, not refused). */
#define RP_NAME_MAX 127
/** Longest input URL, path or lavfi graph. */
#define RP_INPUT_MAX 2047
/** Longest line of the playlist. */
#define RP_LINE_MAX 4096
/** Most channels one lineup may list. */
#define RP_LINEUP_MAX_CHANNELS 65536
/** Largest lineup file read. */
#define RP_LINEUP_MAX_BYTES (16u << 20)

/** What kind of source an input is; decides the ffmpeg input options. */
enum rp_input_kind {
	RP_INPUT_BAD = 0, /**< Refused. */
	RP_INPUT_URL,     /**< A live network source (http, rtsp, udp, ...). */
	RP_INPUT_FILE,    /**< An absolute file path, read at real time in a loop. */
	RP_INPUT_LAVFI,   /**< "lavfi:GRAPH", a libavfilter test source. */
};

struct rp_channel {
	uuid_t id;
	char id_str[37];            /* canonical lower-case form */
	char name[RP_NAME_MAX + 1]; /* display name, informative only */
	char *input;                /* owned */
	enum rp_input_kind kind;
	unsigned line; /* line of its #EXTINF */
};

/** Channels sorted by id, so lookups can bisect. */
struct rp_lineup {
	struct rp_channel *ch;
	size_t n;
};

/**
 * Parse an M3U lineup from buf[0..len).  Returns 0 and fills *out (free it
 * with rp_lineup_free), or a negative errno (-EINVAL for a malformed
 * playlist, -ENOMEM) with a message naming the line in err.
 */
int rp_lineup_parse(const char *buf, size_t len, struct rp_lineup *out, char *err, size_t errlen);

/** Read and parse a lineup file (at most RP_LINEUP_MAX_BYTES). */
int rp_lineup_load(const char *path, struct rp_lineup *out, char *err, size_t errlen);

/** Free the channels; accepts a zeroed or already freed lineup. */
void rp_lineup_free(struct rp_lineup *l);

/** The channel with this id, or NULL. */
const struct rp_channel *rp_lineup_find(const struct rp_lineup *l, const uuid_t id);

/**
 * Classify an input.  Returns RP_INPUT_BAD and a reason in why (may be NULL)
 * for anything refused: an option-like input starting with '-', a relative
 * path, an unknown scheme, control characters.
 */
enum rp_input_kind rp_input_classify(const char *input, const char **why);

/** Whether text is a UUID in canonical form (36 characters, hex and dashes). */
int rp_uuid_canonical(const char *text, size_t len);

#endif
