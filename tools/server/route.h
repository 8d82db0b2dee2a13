/*
 * Request paths of the server, parsed strictly and without touching the
 * disk.  Everything a file handler later joins to the output directory comes
 * out of here as a single checked name component, so a path that parses
 * cannot leave the channel's directory.
 */
#ifndef SRV_ROUTE_H
#define SRV_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

/* Longest variant directory or file name accepted in a request path. */
#define ROUTE_NAME_MAX 63
/* Viewer token: 6 hex digits of slot, 12 of nonce. */
#define ROUTE_TOKEN_LEN 18

enum route_kind {
	ROUTE_INDEX,    /* GET /            a small HTML page listing the channels */
	ROUTE_CHANNELS, /* GET /channels    lineup and live state as JSON */
	ROUTE_MASTER,   /* GET /channels/{uuid}/master.m3u8 */
	ROUTE_FILE,     /* GET /channels/{uuid}[/v/{token}]/{variant}/{file} */
	ROUTE_SESSIONS, /* GET /api/sessions */
	ROUTE_METRICS,  /* GET /metrics */
	ROUTE_HEALTH,   /* GET /healthz     liveness of the worker that answers */
	ROUTE_STATIC,   /* GET /static/{name}  a file of the player page (name in file) */
};

enum route_file_type {
	ROUTE_FILE_PLAYLIST, /* .m3u8 */
	ROUTE_FILE_TS,       /* .ts */
	ROUTE_FILE_M4S,      /* .m4s (fMP4 media segment) */
	ROUTE_FILE_MP4,      /* .mp4 (fMP4 init segment) */
};

struct route {
	enum route_kind kind;
	uuid_t channel;
	bool has_token;
	uint32_t token_slot;
	uint64_t token_nonce;
	char variant[ROUTE_NAME_MAX + 1];
	char file[ROUTE_NAME_MAX + 1];
	enum route_file_type file_type;
};

/*
 * Parse an already percent-decoded request path (what libmicrohttpd passes to
 * the handler, without the query string).  Returns 0 and fills *out, or an
 * HTTP status: 400 for a malformed path (bad UUID, "." or ".." components,
 * empty components, characters outside [A-Za-z0-9._-], bad token), 404 for a
 * well-formed path that names nothing.  *why gets a short static reason for
 * the error body.
 */
int route_parse(const char *path, struct route *out, const char **why);

/*
 * Percent-decode s in place (libmicrohttpd's unescape callback) and return
 * the new length.  An encoded NUL becomes byte 0x01 instead of ending the
 * string, so "seg%00.ts" reaches route_parse() whole and is refused (400)
 * rather than silently truncated.
 */
size_t route_unescape(char *s);

/* Content type of a file the server serves. */
const char *route_content_type(enum route_file_type t);

/* Parse a token's text (a cookie's value); 0, or -1 if malformed. */
int route_parse_token(const char *text, uint32_t *slot, uint64_t *nonce);

/* Write the token text of (slot, nonce) into out (ROUTE_TOKEN_LEN + 1 bytes). */
void route_format_token(uint32_t slot, uint64_t nonce, char *out);

#endif
