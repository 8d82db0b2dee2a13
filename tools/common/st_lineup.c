#include "st_lineup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_file.h"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
		va_end(ap);
	}
	return code;
}

int st_uuid_canonical(const char *text, size_t len)
{
	if (len != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		char c = text[i];
		bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
		if (dash ? c != '-'
		         : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		             (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Network protocols a live channel can come from.  Everything else ffmpeg
 * knows (concat:, subfile:, pipe:, data:, crypto:, ...) could read local
 * files or descriptors in ways the operator did not mean, so it is refused. */
static const char *const url_schemes[] = {"http://",  "https://", "rtsp://", "rtsps://", "rtmp://",
                                          "rtmps://", "udp://",   "rtp://",  "srt://"};

enum st_input_kind st_input_classify(const char *input, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	size_t len = strlen(input);
	if (len == 0) {
		*why = "empty input";
		return ST_INPUT_BAD;
	}
	if (len > ST_INPUT_MAX) {
		*why = "input longer than 2047 characters";
		return ST_INPUT_BAD;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)input[i];
		if (c < 0x20 || c == 0x7f) {
			*why = "control character in input";
			return ST_INPUT_BAD;
		}
	}
	if (input[0] == '-') {
		*why = "input begins with '-' and would be read by ffmpeg as an option";
		return ST_INPUT_BAD;
	}
	if (has_prefix(input, "lavfi:")) {
		if (input[6] == '\0') {
			*why = "empty lavfi graph";
			return ST_INPUT_BAD;
		}
		return ST_INPUT_LAVFI;
	}
	if (input[0] == '/')
		return ST_INPUT_FILE;
	if (has_prefix(input, "file:")) {
		if (input[5] != '/') {
			*why = "file input must be an absolute path";
			return ST_INPUT_BAD;
		}
		return ST_INPUT_FILE;
	}
	for (size_t i = 0; i < sizeof url_schemes / sizeof url_schemes[0]; i++) {
		size_t pl = strlen(url_schemes[i]);
		if (strncasecmp(input, url_schemes[i], pl) == 0) {
			if (input[pl] == '\0') {
				*why = "URL without a host";
				return ST_INPUT_BAD;
			}
			return ST_INPUT_URL;
		}
	}
	*why = "unsupported input (allowed: http(s), rtsp(s), rtmp(s), udp, rtp, srt URLs, "
	       "absolute file paths, lavfi:GRAPH)";
	return ST_INPUT_BAD;
}

/* Sources that synthesise frames or samples and never open anything. */
static const char *const lavfi_generators[] = {
    "allrgb",     "allyuv",        "anoisesrc", "anullsrc",    "cellauto",   "color",
    "colorchart", "colorspectrum", "gradients", "haldclutsrc", "life",       "mandelbrot",
    "nullsrc",    "pal100bars",    "pal75bars", "rgbtestsrc",  "sierpinski", "sine",
    "smptebars",  "smptehdbars",   "testsrc",   "testsrc2",    "yuvtestsrc", "zoneplate",
};

static bool lavfi_generator(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof lavfi_generators / sizeof lavfi_generators[0]; i++)
		if (strlen(lavfi_generators[i]) == n && memcmp(lavfi_generators[i], name, n) == 0)
			return true;
	return false;
}

/* Skip "[label]" link labels; false if one is not closed. */
static bool skip_labels(const char **p, const char *end)
{
	while (*p < end && **p == '[') {
		const char *close = memchr(*p, ']', (size_t)(end - *p));
		if (!close)
			return false;
		*p = close + 1;
	}
	return true;
}

/* One filter of a chain: [in]name[@id][=key=value:key=value][out]. */
static int lavfi_filter_allowed(const char *p, const char *end, const char **why)
{
	if (!skip_labels(&p, end)) {
		*why = "unclosed '[' label in lavfi graph";
		return -1;
	}
	const char *name = p;
	while (p < end && *p != '=' && *p != '[' && *p != '@')
		p++;
	if (!lavfi_generator(name, (size_t)(p - name))) {
		*why = "lavfi graph uses a filter that is not a generator source (allowed: "
		       "testsrc, testsrc2, smptebars, color, sine, anullsrc, ...; "
		       "--lavfi-any lifts this)";
		return -1;
	}
	if (p < end && *p == '@')
		while (p < end && *p != '=' && *p != '[')
			p++;
	if (p < end && *p == '=') {
		/* Options as key=value only: a positional first option is a file
		 * name for some generators (life=/etc/passwd). */
		p++;
		while (p < end && *p != '[') {
			const char *k = p;
			while (p < end && *p != '=' && *p != ':' && *p != '[')
				p++;
			size_t kn = (size_t)(p - k);
			if (p >= end || *p != '=' || kn == 0) {
				*why = "lavfi generator options must be key=value";
				return -1;
			}
			if ((kn == 1 && *k == 'f') || (kn == 8 && memcmp(k, "filename", 8) == 0) ||
			    (kn == 4 && memcmp(k, "file", 4) == 0)) {
				*why = "lavfi generator options may not name a file";
				return -1;
			}
			while (p < end && *p != ':' && *p != '[')
				p++;
			if (p < end && *p == ':')
				p++;
		}
	}
	if (!skip_labels(&p, end) || p != end) {
		*why = "unexpected text after a lavfi filter's output label";
		return -1;
	}
	return 0;
}

int st_lavfi_allowed(const char *graph, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	/* Quotes and backslashes would hide ',' and ';' from the split below. */
	if (strpbrk(graph, "'\\\"")) {
		*why = "quotes and backslashes are not allowed in lavfi graphs";
		return -1;
	}
	const char *p = graph;
	for (;;) {
		size_t n = strcspn(p, ",;");
		if (n == 0) {
			*why = "empty filter in lavfi graph";
			return -1;
		}
		if (lavfi_filter_allowed(p, p + n, why) < 0)
			return -1;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

struct attrs {
	char id[64];
	size_t id_len;
	bool has_id;
	char tvg_name[ST_NAME_MAX + 1];
	char name[ST_NAME_MAX + 1];
};

static void copy_cut(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* "#EXTINF:<duration> key="value" ...,Display name" */
static int parse_extinf(const char *s, size_t n, unsigned lineno, struct attrs *a, char *err,
                        size_t errlen)
{
	size_t i = strlen("#EXTINF:");
	memset(a, 0, sizeof *a);
	if (i < n && s[i] == '-')
		i++;
	size_t d0 = i;
	while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
		i++;
	if (i == d0)
		return fail(err, errlen, -EINVAL, "line %u: #EXTINF needs a duration such as -1",
		            lineno);
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= n)
			return fail(err, errlen, -EINVAL,
			            "line %u: #EXTINF has no ',' before the channel name", lineno);
		if (s[i] == ',')
			break;
		size_t k0 = i;
		while (i < n && (s[i] == '-' || s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
		                 (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			i++;
		size_t klen = i - k0;
		if (klen == 0 || i >= n || s[i] != '=')
			return fail(err, errlen, -EINVAL,
			            "line %u, column %zu: expected attribute key=\"value\"", lineno,
			            k0 + 1);
		i++;
		if (i >= n || s[i] != '"')
			return fail(err, errlen, -EINVAL,
			            "line %u, column %zu: attribute value must be in double quotes",
			            lineno, i + 1);
		size_t v0 = ++i;
		while (i < n && s[i] != '"')
			i++;
		if (i >= n)
			return fail(err, errlen, -EINVAL, "line %u: unterminated attribute value",
			            lineno);
		size_t vlen = i - v0;
		i++;
		if (klen == 6 && strncmp(s + k0, "tvg-id", 6) == 0) {
			if (a->has_id)
				return fail(err, errlen, -EINVAL, "line %u: tvg-id given twice",
				            lineno);
			a->has_id = true;
			a->id_len = vlen;
			copy_cut(a->id, sizeof a->id, s + v0, vlen);
		} else if (klen == 8 && strncmp(s + k0, "tvg-name", 8) == 0) {
			copy_cut(a->tvg_name, sizeof a->tvg_name, s + v0, vlen);
		}
	}
	i++; /* the comma */
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	copy_cut(a->name, sizeof a->name, s + i, n - i);
	if (!a->has_id)
		return fail(err, errlen, -EINVAL,
		            "line %u: #EXTINF without tvg-id=\"<uuid>\" (the channel id)", lineno);
	if (!st_uuid_canonical(a->id, a->id_len))
		return fail(err, errlen, -EINVAL,
		            "line %u: tvg-id \"%.40s\" is not a UUID such as "
		            "\"0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a\"",
		            lineno, a->id);
	return 0;
}

static int cmp_channel(const void *a, const void *b)
{
	const struct st_channel *x = a, *y = b;
	return uuid_compare(x->id, y->id);
}

/* bsearch's key is the bare id; the order is cmp_channel's. */
static int cmp_id_channel(const void *key, const void *elem)
{
	const struct st_channel *c = elem;
	return uuid_compare(key, c->id);
}

void st_lineup_free(struct st_lineup *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->ch[i].input);
	free(l->ch);
	free(l->order);
	l->ch = NULL;
	l->order = NULL;
	l->n = 0;
}

static int add_channel(struct st_lineup *l, size_t *cap, const struct attrs *a, unsigned line,
                       const char *input, size_t ilen, enum st_input_kind kind)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct st_channel *nc = realloc(l->ch, ncap * sizeof *nc);
		if (!nc)
			return -ENOMEM;
		l->ch = nc;
		*cap = ncap;
	}
	struct st_channel *c = &l->ch[l->n];
	memset(c, 0, sizeof *c);
	c->input = strndup(input, ilen);
	if (!c->input)
		return -ENOMEM;
	if (uuid_parse(a->id, c->id) != 0) {
		free(c->input);
		return -EINVAL;
	}
	uuid_unparse_lower(c->id, c->id_str);
	const char *name = a->name[0] ? a->name : a->tvg_name[0] ? a->tvg_name : c->id_str;
	copy_cut(c->name, sizeof c->name, name, strlen(name));
	c->kind = kind;
	c->line = line;
	l->n++;
	return 0;
}

/* Playlist order, by the line of each channel's #EXTINF. */
static int cmp_line(const void *a, const void *b, void *arg)
{
	const struct st_channel *ch = arg;
	unsigned x = ch[*(const size_t *)a].line, y = ch[*(const size_t *)b].line;
	return x < y ? -1 : x > y;
}

int st_lineup_parse(const char *buf, size_t len, unsigned flags, struct st_lineup *out, char *err,
                    size_t errlen)
{
	struct st_lineup l = {0};
	size_t cap = 0;
	struct attrs a;
	unsigned pending = 0; /* line of an #EXTINF still waiting for its input */
	bool header = false;
	unsigned lineno = 0;
	size_t pos = 0;
	int rc = 0;

	if (!buf && len)
		return fail(err, errlen, -EINVAL, "no lineup buffer");
	if (len > ST_LINEUP_MAX_BYTES)
		return fail(err, errlen, -EFBIG, "lineup larger than %u bytes",
		            ST_LINEUP_MAX_BYTES);
	while (pos < len) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
			s += 3;
			n -= 3;
		}
		if (n > ST_LINE_MAX) {
			rc = fail(err, errlen, -EINVAL, "line %u: longer than %u characters",
			          lineno, ST_LINE_MAX);
			goto out;
		}
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				rc = fail(err, errlen, -EINVAL,
				          "line %u, column %zu: control character 0x%02x", lineno,
				          i + 1, c);
				goto out;
			}
		}
		if (n == 0)
			continue;
		if (!header) {
			if (n < 7 || memcmp(s, "#EXTM3U", 7) != 0 ||
			    (n > 7 && s[7] != ' ' && s[7] != '\t')) {
				rc = fail(err, errlen, -EINVAL,
				          "line %u: an M3U lineup must begin with #EXTM3U", lineno);
				goto out;
			}
			header = true;
			continue;
		}
		if (n >= 8 && memcmp(s, "#EXTINF:", 8) == 0) {
			if (pending) {
				rc = fail(err, errlen, -EINVAL,
				          "line %u: #EXTINF on line %u has no input line", lineno,
				          pending);
				goto out;
			}
			rc = parse_extinf(s, n, lineno, &a, err, errlen);
			if (rc)
				goto out;
			pending = lineno;
			continue;
		}
		if (s[0] == '#')
			continue; /* comments and directives such as #EXTVLCOPT */
		if (!pending) {
			rc = fail(err, errlen, -EINVAL,
			          "line %u: input without a preceding #EXTINF line", lineno);
			goto out;
		}
		char input[ST_INPUT_MAX + 1];
		if (n > ST_INPUT_MAX) {
			rc = fail(err, errlen, -EINVAL, "line %u: input longer than %u characters",
			          lineno, ST_INPUT_MAX);
			goto out;
		}
		memcpy(input, s, n);
		input[n] = '\0';
		const char *why;
		enum st_input_kind kind = st_input_classify(input, &why);
		if (kind == ST_INPUT_BAD) {
			rc = fail(err, errlen, -EINVAL, "line %u: %s", lineno, why);
			goto out;
		}
		if (kind == ST_INPUT_LAVFI && !(flags & ST_LINEUP_LAVFI_ANY) &&
		    st_lavfi_allowed(input + 6, &why) < 0) {
			rc = fail(err, errlen, -EINVAL, "line %u: %s", lineno, why);
			goto out;
		}
		if (l.n >= ST_LINEUP_MAX_CHANNELS) {
			rc = fail(err, errlen, -EINVAL, "line %u: more than %u channels", lineno,
			          ST_LINEUP_MAX_CHANNELS);
			goto out;
		}
		rc = add_channel(&l, &cap, &a, pending, input, n, kind);
		if (rc) {
			fail(err, errlen, rc, "line %u: out of memory", lineno);
			goto out;
		}
		pending = 0;
	}
	if (!header) {
		rc = fail(err, errlen, -EINVAL, "line 1: empty lineup (expected #EXTM3U)");
		goto out;
	}
	if (pending) {
		rc = fail(err, errlen, -EINVAL, "line %u: #EXTINF has no input line", pending);
		goto out;
	}
	if (l.n == 0) {
		rc = fail(err, errlen, -EINVAL, "line %u: the lineup lists no channel", lineno);
		goto out;
	}
	qsort(l.ch, l.n, sizeof *l.ch, cmp_channel);
	for (size_t i = 1; i < l.n; i++) {
		if (uuid_compare(l.ch[i - 1].id, l.ch[i].id) == 0) {
			unsigned a1 = l.ch[i - 1].line, a2 = l.ch[i].line;
			rc =
			    fail(err, errlen, -EINVAL, "line %u: tvg-id %s already used on line %u",
			         a1 > a2 ? a1 : a2, l.ch[i].id_str, a1 > a2 ? a2 : a1);
			goto out;
		}
	}
	l.order = malloc((l.n ? l.n : 1) * sizeof *l.order);
	if (!l.order) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		l.order[i] = i;
	qsort_r(l.order, l.n, sizeof *l.order, cmp_line, l.ch);
out:
	if (rc) {
		st_lineup_free(&l);
		return rc;
	}
	*out = l;
	return 0;
}

int st_lineup_load(const char *path, unsigned flags, struct st_lineup *out, char *err,
                   size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer, and the caller's event loop with it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, -EINVAL, "%s: not a regular file", path);
	}
	if (st.st_size > (off_t)ST_LINEUP_MAX_BYTES) {
		close(fd);
		return fail(err, errlen, -EFBIG, "%s: larger than %u bytes", path,
		            ST_LINEUP_MAX_BYTES);
	}
	size_t len;
	char *buf = st_read_fd(fd, ST_LINEUP_MAX_BYTES, &len);
	int e = errno;
	close(fd);
	if (!buf) {
		if (e == EFBIG)
			return fail(err, errlen, -EFBIG, "%s: larger than %u bytes", path,
			            ST_LINEUP_MAX_BYTES);
		return fail(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	char msg[512];
	int rc = st_lineup_parse(buf, len, flags, out, msg, sizeof msg);
	free(buf);
	if (rc)
		return fail(err, errlen, rc, "%s: %s", path, msg);
	return 0;
}

const struct st_channel *st_lineup_find(const struct st_lineup *l, const uuid_t id)
{
	return l->n ? bsearch(id, l->ch, l->n, sizeof *l->ch, cmp_id_channel) : NULL;
}
