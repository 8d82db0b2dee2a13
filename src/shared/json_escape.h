/*
 * JSON string literals: the one escaper behind the library's documents
 * (sr_session_info_json, sr_registry_json) and the tools' (/channels of the
 * server and the nginx module, streamreg top --json).  The text comes from
 * ffmpeg's stderr, lineups, paths and command names: any bytes.  The rule
 * (RFC 8259): '"' and '\' escaped, U+0000..U+001F and DEL as \u00XX, valid
 * UTF-8 (RFC 3629) copied, every byte outside it \ufffd, so a document
 * always parses.
 *
 * Not public API: compiled into libstreamreg and, from this same source,
 * into srtools, which cannot reach the library's hidden internals.
 */
#ifndef SR_JSON_ESCAPE_H
#define SR_JSON_ESCAPE_H

#include <stddef.h>

/* Hidden in every link: libstreamreg must export only its sr_ API, and the
 * nginx module, which links srtools into a shared object, nothing of it. */
#define SR_JSON_HIDDEN __attribute__((visibility("hidden")))

/** Where escaped text goes: append the n bytes at p. */
typedef void sr__json_sink(void *ctx, const char *p, size_t n);

/**
 * Write s as a quoted JSON string to put(ctx, ...).  At most max bytes of s
 * are read, fewer if a NUL comes first: fixed-size fields need not be
 * terminated.  A UTF-8 sequence cut by max is invalid, so it becomes \ufffd.
 */
SR_JSON_HIDDEN void sr__json_string(sr__json_sink *put, void *ctx, const char *s, size_t max);

#endif
