#include "web_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hls_files.h"

/* Where the npm package puts what the page needs (same layout installed). */
static const struct {
	const char *name;
	const char *rel;
} vendor[] = {
    {"hls.min.js", "node_modules/hls.js/dist/hls.min.js"},
    {"hls.js-LICENSE.txt", "node_modules/hls.js/LICENSE"},
};

static const struct {
	const char *ext;
	const char *ctype;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

static const char *type_of(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		size_t m = strlen(types[i].ext);
		if (n > m && strcmp(name + n - m, types[i].ext) == 0)
			return types[i].ctype;
	}
	return NULL;
}

static int has_page(const char *root)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s/page/index.html", root) >= (int)sizeof p)
		return 0;
	return access(p, R_OK) == 0;
}

/* The directory as an absolute path without "..", for the log line. */
static int keep(const char *dir, char *out, size_t len)
{
	char real[PATH_MAX];
	const char *p = realpath(dir, real) ? real : dir;
	return snprintf(out, len, "%s", p) < (int)len ? 0 : -ENAMETOOLONG;
}

int web_root_find(const char *configured, char *out, size_t len)
{
	if (configured)
		return has_page(configured) ? keep(configured, out, len) : -ENOENT;
	/* An installed server finds its files relative to itself, so a
	 * relocated prefix (cmake --install --prefix) works too. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char cand[PATH_MAX];
			if (snprintf(cand, sizeof cand, "%s/%s", exe, SRV_WEB_REL_TO_BINDIR) <
			        (int)sizeof cand &&
			    has_page(cand))
				return keep(cand, out, len);
		}
	}
	if (has_page(SRV_WEB_SOURCE_DIR))
		return keep(SRV_WEB_SOURCE_DIR, out, len);
	return -ENOENT;
}

int web_open(const char *root, const char *name, off_t *size, const char **ctype)
{
	char rel[PATH_MAX];
	const char *path = NULL;
	for (size_t i = 0; i < sizeof vendor / sizeof vendor[0]; i++)
		if (strcmp(name, vendor[i].name) == 0)
			path = vendor[i].rel;
	if (!path) {
		if (snprintf(rel, sizeof rel, "page/%s", name) >= (int)sizeof rel)
			return -ENOENT;
		path = rel;
	}
	*ctype = type_of(name);
	if (!*ctype)
		return -ENOENT;
	return hls_open_beneath(root, path, size);
}
