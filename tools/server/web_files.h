/*
 * The player page's files: the page itself (web/page/ in the source tree)
 * and the hls.js build that scripts/setup.sh installs from the npm registry
 * (web/node_modules/hls.js/), with its license.  Served from the installed
 * copy (PREFIX/share/streamreg/web) or from the source tree, both with the
 * same layout, so the server never needs a CDN.
 */
#ifndef SRV_WEB_FILES_H
#define SRV_WEB_FILES_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Pick the web root: `configured` (--web-root) if given, else the installed
 * copy next to the executable (../share/streamreg/web), else the source
 * tree's web/.  Writes it to out and returns 0, or -ENOENT when none has the
 * page (configured: when that directory lacks it).
 */
int web_root_find(const char *configured, char *out, size_t len);

/*
 * Open the static file `name` (one component checked by route_parse()) of
 * the web root read-only, confined beneath it without following symlinks.
 * "hls.min.js" and "hls.js-LICENSE.txt" name the npm package's files; every
 * other name is a file of the page.  Returns an fd, its size and content
 * type, or a negative errno (-ENOENT when it is not there or not a regular
 * file, or its type is not one the server serves).
 */
int web_open(const char *root, const char *name, off_t *size, const char **ctype);

#endif
