/*
 * Numbers and durations given on a command line, read strictly and the same
 * way by every tool: plain decimal digits only (no sign, no blank, no hex,
 * no exponent), so " 5", "+5", "-1", "5s", "1e3" and "0x10" are all refused.
 */
#ifndef ST_NUM_H
#define ST_NUM_H

#include <stdint.h>

/**
 * A whole number in [min, max].  0, -EINVAL for malformed text or -ERANGE
 * for a number outside the range.
 */
int st_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/**
 * Seconds with an optional decimal fraction ("30", "0.5", "1.250"), into
 * milliseconds in [min_ms, max_ms]; digits past the millisecond round to the
 * nearest.  0, -EINVAL or -ERANGE.
 */
int st_parse_seconds_ms(const char *text, uint64_t min_ms, uint64_t max_ms, uint64_t *out);

/** Permission bits in octal ("0640", "600"), at most 0777.  0 or -EINVAL. */
int st_parse_mode(const char *text, unsigned *out);

#endif
