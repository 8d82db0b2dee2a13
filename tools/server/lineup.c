#include "lineup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <streamreg.h>

/* A lineup larger than this is not a lineup; refuse before reading it. */
#define LINEUP_FILE_MAX (4u << 20)

static int fail(char *err, size_t errlen, const char *origin, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *origin, unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	if (line)
		snprintf(err, errlen, "%s:%u: %s", origin, line, msg);
	else
		snprintf(err, errlen, "%s: %s", origin, msg);
	return -1;
}

static int cmp_channel(const void *a, const void *b)
{
	const struct lineup_channel *x = a, *y = b;
	return memcmp(x->id, y->id, sizeof(uuid_t));
}

/* Playlist order, by the line of each channel's #EXTINF. */
static int cmp_line(const void *a, const void *b, void *arg)
{
	const struct lineup_channel *ch = arg;
	size_t x = ch[*(const size_t *)a].line, y = ch[*(const size_t *)b].line;
	return x < y ? -1 : x > y;
}

/* Value of attr="..." inside an #EXTINF line, into out; 0 if found. */
static int attr_value(const char *line, const char *attr, char *out, size_t outlen)
{
	size_t alen = strlen(attr);
	for (const char *p = line; (p = strstr(p, attr)) != NULL; p++) {
		bool boundary = p == line || p[-1] == ' ' || p[-1] == '\t';
		if (!boundary || p[alen] != '=' || p[alen + 1] != '"')
			continue;
		const char *v = p + alen + 2;
		const char *end = strchr(v, '"');
		if (!end || (size_t)(end - v) >= outlen)
			return -1;
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
		return 0;
	}
	return -1;
}

/* The display name after the last top-level comma, else tvg-name. */
static void display_name(const char *line, char *out, size_t outlen)
{
	bool quoted = false;
	const char *comma = NULL;
	for (const char *p = line; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ',' && !quoted)
			comma = p;
	}
	out[0] = '\0';
	if (comma && comma[1])
		snprintf(out, outlen, "%s", comma + 1);
	else if (attr_value(line, "tvg-name", out, outlen) < 0)
		out[0] = '\0';
}

int lineup_parse(const char *text, const char *origin, struct lineup *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	char *copy = strdup(text);
	struct lineup_channel *ch = calloc(LINEUP_MAX_CHANNELS, sizeof *ch);
	if (!copy || !ch) {
		free(copy);
		free(ch);
		return fail(err, errlen, origin, 0, "out of memory");
	}
	size_t n = 0;
	unsigned lineno = 0, extinf_line = 0;
	bool header = false, pending = false;
	int rc = 0;
	char *save = NULL;
	for (char *line = copy; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		size_t len = strlen(line);
		while (len &&
		       (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (lineno == 1 && (unsigned char)line[0] == 0xEF &&
		    (unsigned char)line[1] == 0xBB && (unsigned char)line[2] == 0xBF)
			line += 3;
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line)
			continue;
		if (!header) {
			if (strncmp(line, "#EXTM3U", 7) != 0) {
				rc = fail(err, errlen, origin, lineno,
				          "the lineup must start with #EXTM3U");
				break;
			}
			header = true;
			continue;
		}
		if (strncmp(line, "#EXTINF:", 8) == 0) {
			if (pending) {
				rc = fail(err, errlen, origin, extinf_line,
				          "#EXTINF without an input URL after it");
				break;
			}
			char idtext[64];
			if (attr_value(line, "tvg-id", idtext, sizeof idtext) < 0) {
				rc = fail(err, errlen, origin, lineno,
				          "#EXTINF without tvg-id=\"<uuid>\"");
				break;
			}
			if (n == LINEUP_MAX_CHANNELS) {
				rc = fail(err, errlen, origin, lineno, "more than %d channels",
				          LINEUP_MAX_CHANNELS);
				break;
			}
			if (sr_uuid_parse(idtext, ch[n].id) < 0) {
				rc = fail(err, errlen, origin, lineno,
				          "tvg-id \"%s\" is not a UUID", idtext);
				break;
			}
			display_name(line, ch[n].name, sizeof ch[n].name);
			ch[n].line = lineno;
			pending = true;
			extinf_line = lineno;
			continue;
		}
		if (line[0] == '#')
			continue; /* other directives (#EXTGRP, #EXTVLCOPT...) */
		if (!pending) {
			rc = fail(err, errlen, origin, lineno,
			          "input URL without an #EXTINF line before it");
			break;
		}
		if (line[0] == '-') {
			rc = fail(err, errlen, origin, lineno, "input may not start with '-'");
			break;
		}
		pending = false;
		n++;
	}
	if (rc == 0 && !header)
		rc = fail(err, errlen, origin, 0, "empty lineup (no #EXTM3U)");
	if (rc == 0 && pending)
		rc =
		    fail(err, errlen, origin, extinf_line, "#EXTINF without an input URL after it");
	free(copy);
	size_t *order = NULL;
	if (rc == 0) {
		order = malloc((n ? n : 1) * sizeof *order);
		if (!order)
			rc = fail(err, errlen, origin, 0, "out of memory");
	}
	if (rc == 0) {
		qsort(ch, n, sizeof *ch, cmp_channel);
		for (size_t i = 1; i < n; i++) {
			if (memcmp(ch[i - 1].id, ch[i].id, sizeof(uuid_t)) == 0) {
				char t[SR_UUID_STR_LEN + 1];
				sr_uuid_format(ch[i].id, t);
				rc = fail(err, errlen, origin, (unsigned)ch[i].line,
				          "channel %s appears twice", t);
				break;
			}
		}
	}
	if (rc) {
		free(ch);
		free(order);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof *order, cmp_line, ch);
	out->n = n;
	out->channels = ch;
	out->order = order;
	return 0;
}

int lineup_load(const char *path, struct lineup *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return fail(err, errlen, path, 0, "%s", strerror(errno));
	char *buf = malloc(LINEUP_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return fail(err, errlen, path, 0, "out of memory");
	}
	size_t len = fread(buf, 1, LINEUP_FILE_MAX + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad || len > LINEUP_FILE_MAX) {
		free(buf);
		return fail(err, errlen, path, 0, bad ? "read error" : "file too large");
	}
	if (memchr(buf, '\0', len)) {
		free(buf);
		return fail(err, errlen, path, 0, "binary file (NUL byte)");
	}
	buf[len] = '\0';
	int rc = lineup_parse(buf, path, out, err, errlen);
	free(buf);
	return rc;
}

void lineup_free(struct lineup *l)
{
	free(l->channels);
	free(l->order);
	l->channels = NULL;
	l->order = NULL;
	l->n = 0;
}

const struct lineup_channel *lineup_find(const struct lineup *l, const uuid_t id)
{
	struct lineup_channel key = {0};
	memcpy(key.id, id, sizeof(uuid_t));
	return bsearch(&key, l->channels, l->n, sizeof key, cmp_channel);
}
