/*
 * A session record whose every field encodes one counter n, for torn-read
 * tests.  One update round n is three calls, in this order:
 *   set_qualities(n): 1 + n % 8 variants, level "L<n>", bitrate n, width n,
 *                     height n + i, codec "c<n>", paths ".../<n>/<i>..."
 *   set_paths(n):     output_dir "/out/<n>", segment_path "/out/<n>/seg.ts"
 *   record_error(n):  last_error "err <n>", and error_count becomes n
 * so a snapshot, being one instant, has q - 1 <= e <= p <= q.
 */
#ifndef COUNTER_RECORD_H
#define COUNTER_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <streamreg.h>

/** Write round n (error_count must be n - 1 before). */
int cr_write_round(sr_registry *reg, const uuid_t id, uint64_t n);

/** The counter each part encodes, or -1 if that part is not whole. */
long long cr_qualities_value(const sr_session_info *s);
long long cr_paths_value(const sr_session_info *s);
long long cr_error_value(const sr_session_info *s);

/** 1 if the snapshot is whole and from one instant; else 0 and a description in why. */
int cr_check(const sr_session_info *s, char *why, size_t len);

#endif
