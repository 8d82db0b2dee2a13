/*
 * Where a channel's HLS output lives: OUTPUT_DIR/<channel-uuid>, the uuid in
 * lower-case canonical form.  The reaper creates it, the server serves from
 * it and the registry records it as the session path; this is the one place
 * the rule is written.
 */
#ifndef ST_CHANDIR_H
#define ST_CHANDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <uuid/uuid.h>

/** Length of a channel directory's name (a canonical UUID). */
#define ST_CHAN_NAME_LEN 36

/**
 * Longest OUTPUT_DIR whose channel directories still fit a session's path
 * (SR_PATH_MAX, 255, in streamreg.h): the reaper and the server refuse a
 * longer --output-dir alike, so one they share works in both.
 */
#define ST_OUTPUT_DIR_MAX (255 - 1 - ST_CHAN_NAME_LEN)

/**
 * Write OUTPUT_DIR/<uuid> into out.  0, or -ENAMETOOLONG if it does not fit
 * in len (out then holds an empty string).
 */
int st_chan_dir(char *out, size_t len, const char *output_dir, const uuid_t id);

/** The directory name of a channel alone (len must be at least 37). */
void st_chan_name(char *out, const uuid_t id);

/** Whether name is a channel directory name: a lower-case canonical UUID. */
bool st_chan_name_valid(const char *name);

#endif
