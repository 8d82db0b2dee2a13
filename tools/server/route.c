#include "route.h"

#include <stdio.h>
#include <string.h>

#include <streamreg.h>

/* Path components are split into this fixed array; longer paths are 404. */
#define MAX_PARTS 8

struct part {
	const char *s;
	size_t len;
};

static bool part_is(const struct part *p, const char *lit)
{
	return p->len == strlen(lit) && memcmp(p->s, lit, p->len) == 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* A single safe name component: no separators, no leading dot (which also
 * rules out "." and ".."), bounded length. */
static int check_name(const struct part *p, char *out, const char **why)
{
	if (p->len == 0 || p->len > ROUTE_NAME_MAX) {
		*why = "bad path component length";
		return 400;
	}
	if (p->s[0] == '.') {
		*why = "path component starts with a dot";
		return 400;
	}
	for (size_t i = 0; i < p->len; i++) {
		if (!name_char(p->s[i])) {
			*why = "bad character in path";
			return 400;
		}
	}
	memcpy(out, p->s, p->len);
	out[p->len] = '\0';
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int parse_hex(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -1;
		v = (v << 4) | d;
	}
	*out = v;
	return 0;
}

static int token_of(const char *s, size_t len, uint32_t *slot, uint64_t *nonce)
{
	uint64_t sl, n;
	if (len != ROUTE_TOKEN_LEN || parse_hex(s, 6, &sl) < 0 ||
	    parse_hex(s + 6, ROUTE_TOKEN_LEN - 6, &n) < 0 || n == 0)
		return -1;
	*slot = (uint32_t)sl;
	*nonce = n;
	return 0;
}

int route_parse_token(const char *text, uint32_t *slot, uint64_t *nonce)
{
	return text ? token_of(text, strlen(text), slot, nonce) : -1;
}

static int parse_token(const struct part *p, struct route *r, const char **why)
{
	if (token_of(p->s, p->len, &r->token_slot, &r->token_nonce) < 0) {
		*why = "malformed viewer token";
		return 400;
	}
	r->has_token = true;
	return 0;
}

void route_format_token(uint32_t slot, uint64_t nonce, char *out)
{
	snprintf(out, ROUTE_TOKEN_LEN + 1, "%06x%012llx", slot & 0xffffffu,
	         (unsigned long long)(nonce & 0xffffffffffffull));
}

static int parse_file(const struct part *var, const struct part *file, struct route *r,
                      const char **why)
{
	int rc = check_name(var, r->variant, why);
	if (rc)
		return rc;
	rc = check_name(file, r->file, why);
	if (rc)
		return rc;
	if (ends_with(r->file, ".m3u8"))
		r->file_type = ROUTE_FILE_PLAYLIST;
	else if (ends_with(r->file, ".ts"))
		r->file_type = ROUTE_FILE_TS;
	else if (ends_with(r->file, ".m4s"))
		r->file_type = ROUTE_FILE_M4S;
	else if (ends_with(r->file, ".mp4"))
		r->file_type = ROUTE_FILE_MP4;
	else {
		*why = "not an HLS file";
		return 404;
	}
	r->kind = ROUTE_FILE;
	return 0;
}

static int parse_channel(const struct part *parts, size_t n, struct route *r, const char **why)
{
	char text[SR_UUID_STR_LEN + 1];
	if (parts[1].len != SR_UUID_STR_LEN) {
		*why = "malformed channel id";
		return 400;
	}
	memcpy(text, parts[1].s, SR_UUID_STR_LEN);
	text[SR_UUID_STR_LEN] = '\0';
	if (sr_uuid_parse(text, r->channel) < 0) {
		*why = "malformed channel id";
		return 400;
	}
	if (n == 3 && part_is(&parts[2], "master.m3u8")) {
		r->kind = ROUTE_MASTER;
		return 0;
	}
	if (n == 4)
		return parse_file(&parts[2], &parts[3], r, why);
	if (n == 6 && part_is(&parts[2], "v")) {
		int rc = parse_token(&parts[3], r, why);
		return rc ? rc : parse_file(&parts[4], &parts[5], r, why);
	}
	if (n == 3) {
		/* One name under the channel: reject traversal as such, the rest
		 * names nothing we serve. */
		char tmp[ROUTE_NAME_MAX + 1];
		int rc = check_name(&parts[2], tmp, why);
		if (rc)
			return rc;
	}
	*why = "no such resource";
	return 404;
}

int route_parse(const char *path, struct route *out, const char **why)
{
	struct part parts[MAX_PARTS];
	size_t n = 0;
	memset(out, 0, sizeof *out);
	*why = "";
	if (!path || path[0] != '/') {
		*why = "path must start with /";
		return 400;
	}
	if (strcmp(path, "/") == 0) {
		out->kind = ROUTE_INDEX;
		return 0;
	}
	const char *p = path + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (n == MAX_PARTS) {
			*why = "path too deep";
			return 404;
		}
		parts[n].s = p;
		parts[n].len = len;
		n++;
		/* "." and ".." are refused wherever they appear, even where the
		 * component would be ignored, so no traversal attempt gets a 200. */
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
			*why = "path traversal refused";
			return 400;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	/* A trailing slash is tolerated on the collection, nowhere else. */
	if (n == 2 && part_is(&parts[0], "channels") && parts[1].len == 0)
		n = 1;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].len == 0) {
			*why = "empty path component";
			return 400;
		}
	}
	if (part_is(&parts[0], "channels")) {
		if (n == 1) {
			out->kind = ROUTE_CHANNELS;
			return 0;
		}
		return parse_channel(parts, n, out, why);
	}
	if (n == 2 && part_is(&parts[0], "api") && part_is(&parts[1], "sessions")) {
		out->kind = ROUTE_SESSIONS;
		return 0;
	}
	if (n == 1 && part_is(&parts[0], "metrics")) {
		out->kind = ROUTE_METRICS;
		return 0;
	}
	if (n == 2 && part_is(&parts[0], "static")) {
		int rc = check_name(&parts[1], out->file, why);
		if (rc)
			return rc;
		out->kind = ROUTE_STATIC;
		return 0;
	}
	if (n == 1 && part_is(&parts[0], "healthz")) {
		out->kind = ROUTE_HEALTH;
		return 0;
	}
	*why = "no such resource";
	return 404;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t route_unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
			char c = (char)(hi * 16 + lo);
			if (c == '\0')
				c = '\001';
			*w++ = c;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

const char *route_content_type(enum route_file_type t)
{
	switch (t) {
	case ROUTE_FILE_PLAYLIST:
		return "application/vnd.apple.mpegurl";
	case ROUTE_FILE_TS:
		return "video/mp2t";
	case ROUTE_FILE_M4S:
		return "video/iso.segment";
	case ROUTE_FILE_MP4:
		return "video/mp4";
	}
	return "application/octet-stream";
}
