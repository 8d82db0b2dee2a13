/*
 * JSON string literals for the tools' documents (/channels, CLI --json).
 * Text shown there comes from lineups and ffmpeg's stderr: any bytes.  The
 * rule is the library's (sr_registry_json): quotes, backslashes and control
 * characters escaped, invalid UTF-8 replaced by U+FFFD, so every document
 * parses.
 */
#ifndef ST_JSON_H
#define ST_JSON_H

#include <stddef.h>

/** Where escaped text goes: append n bytes at p. */
typedef void st_json_sink(void *ctx, const char *p, size_t n);

/** Write s (at most max bytes, stopping at a NUL) as a quoted JSON string. */
void st_json_string(st_json_sink *put, void *ctx, const char *s, size_t max);

/**
 * The number of bytes of the valid UTF-8 sequence at p (strict RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF) that ends
 * before end, or 0 if the bytes there are not one.
 */
size_t st_utf8_seq(const unsigned char *p, const unsigned char *end);

#endif
