/*
 * The /channels listing, shared by streamreg-server and the nginx module:
 * the lineup in its order, each channel with its session's live state and
 * the viewers the viewer table holds for it.
 */
#ifndef SRV_CHANNELS_JSON_H
#define SRV_CHANNELS_JSON_H

#include <stddef.h>

#include <streamreg.h>

#include "st_lineup.h"
#include "viewers.h"

/*
 * A malloc'd JSON array (and its length in *len), or NULL when out of
 * memory.  A channel without a session (nobody asked for it yet) is listed
 * idle.  vt may be NULL (viewers 0).
 */
char *channels_json(sr_registry *reg, const struct viewer_table *vt, const struct st_lineup *lineup,
                    size_t *len);

#endif
