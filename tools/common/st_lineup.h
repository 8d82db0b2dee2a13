/*
 * The lineup: which input each channel transcodes, read from an IPTV M3U
 * playlist.  The reaper (what to run) and the server (what to list, what is
 * a 404) read it through this one parser, so a file one tool accepts is
 * never refused by the other.  The parser is a pure function over a buffer
 * so that a fuzzer can drive it with arbitrary bytes.
 */
#ifndef ST_LINEUP_H
#define ST_LINEUP_H

#include <stdbool.h>
#include <stddef.h>
#include <uuid/uuid.h>

/** Longest display name kept (longer names are cut, not refused). */
#define ST_NAME_MAX 127
/** Longest input URL, path or lavfi graph. */
#define ST_INPUT_MAX 2047
/** Longest line of the playlist. */
#define ST_LINE_MAX 4096
/** Most channels one lineup may list. */
#define ST_LINEUP_MAX_CHANNELS 65536
/** Largest lineup file read. */
#define ST_LINEUP_MAX_BYTES (16u << 20)

/** What kind of source an input is; decides the ffmpeg input options. */
enum st_input_kind {
	ST_INPUT_BAD = 0, /**< Refused. */
	ST_INPUT_URL,     /**< A live network source (http, rtsp, udp, ...). */
	ST_INPUT_FILE,    /**< An absolute file path, read at real time in a loop. */
	ST_INPUT_LAVFI,   /**< "lavfi:GRAPH", a libavfilter test source. */
};

struct st_channel {
	uuid_t id;
	char id_str[37];            /* canonical lower-case form */
	char name[ST_NAME_MAX + 1]; /* display name, informative only */
	char *input;                /* owned */
	enum st_input_kind kind;
	unsigned line; /* line of its #EXTINF */
};

/** Channels sorted by id, so lookups can bisect. */
struct st_lineup {
	struct st_channel *ch;
	size_t n;
	size_t *order; /* indexes into ch in playlist order, for listings */
};

/**
 * Flags of st_lineup_parse() and st_lineup_load().  By default a lavfi graph
 * may only use generator sources (st_lavfi_allowed()); filters such as
 * movie= or subtitles= read arbitrary files and get around the absolute
 * path and scheme rules.
 */
enum {
	ST_LINEUP_LAVFI_ANY = 1u << 0, /**< Accept any lavfi graph (operator's choice). */
};

/**
 * Exit status of a tool whose lineup is refused at setup: the command line
 * was fine, the configuration it names is not.
 */
#define ST_EXIT_SETUP 1
/** Exit status for a wrong command line. */
#define ST_EXIT_USAGE 2

/**
 * Parse an M3U lineup from buf[0..len).  Returns 0 and fills *out (free it
 * with st_lineup_free), or a negative errno (-EINVAL for a malformed
 * playlist, -ENOMEM) with a message naming the line in err.
 */
int st_lineup_parse(const char *buf, size_t len, unsigned flags, struct st_lineup *out, char *err,
                    size_t errlen);

/**
 * Read and parse a lineup file (at most ST_LINEUP_MAX_BYTES).  Anything but
 * a regular file (a FIFO, a device, a directory) is refused without
 * blocking: the file is opened with O_NONBLOCK and checked before any read.
 */
int st_lineup_load(const char *path, unsigned flags, struct st_lineup *out, char *err,
                   size_t errlen);

/** Free the channels; accepts a zeroed or already freed lineup. */
void st_lineup_free(struct st_lineup *l);

/** The channel with this id, or NULL. */
const struct st_channel *st_lineup_find(const struct st_lineup *l, const uuid_t id);

/**
 * Classify an input.  Returns ST_INPUT_BAD and a reason in why (may be NULL)
 * for anything refused: an option-like input starting with '-', a relative
 * path, an unknown scheme, control characters.
 */
enum st_input_kind st_input_classify(const char *input, const char **why);

/**
 * Whether a lavfi graph (without the "lavfi:" prefix) uses only generator
 * sources (testsrc, testsrc2, smptebars, color, sine, anullsrc, ...), each
 * with key=value options only and no file option.  0 if allowed, else -1
 * with a reason in why (may be NULL).
 */
int st_lavfi_allowed(const char *graph, const char **why);

/** Whether text is a UUID in canonical form (36 characters, hex and dashes). */
int st_uuid_canonical(const char *text, size_t len);

#endif
