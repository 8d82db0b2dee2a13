/*
 * The channel lineup, read from the same IPTV M3U playlist the reaper reads
 * (#EXTM3U, then #EXTINF:-1 tvg-id="<uuid>" tvg-name="..",Name and the input
 * URL on the next line).  The server only needs the ids and display names:
 * an unknown channel is a 404 before anything touches the registry.
 */
#ifndef SRV_LINEUP_H
#define SRV_LINEUP_H

#include <stddef.h>
#include <uuid/uuid.h>

#define LINEUP_MAX_CHANNELS 4096
#define LINEUP_NAME_MAX     127

struct lineup_channel {
	uuid_t id;
	char name[LINEUP_NAME_MAX + 1];
	size_t line; /* of its #EXTINF, for messages */
};

struct lineup {
	size_t n;
	struct lineup_channel *channels; /* sorted by id, for lineup_find() */
	size_t *order;                   /* indexes into channels, playlist order */
};

/*
 * Read path into *out.  Returns 0, or -1 with a message naming the line in
 * err (e.g. "lineup.m3u:4: tvg-id is not a UUID").
 */
int lineup_load(const char *path, struct lineup *out, char *err, size_t errlen);

/* Parse an in-memory playlist; `origin` names it in error messages. */
int lineup_parse(const char *text, const char *origin, struct lineup *out, char *err,
                 size_t errlen);

void lineup_free(struct lineup *l);

/* The channel with this id, or NULL. */
const struct lineup_channel *lineup_find(const struct lineup *l, const uuid_t id);

#endif
