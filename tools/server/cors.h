/*
 * What streamreg-server and the nginx module answer browsers alike: the
 * methods, the CORS headers of every answer and of a preflight, and which
 * Access-Control-Request-Headers lists are echoed back.
 */
#ifndef SRV_CORS_H
#define SRV_CORS_H

/* Methods served (Allow, Access-Control-Allow-Methods). */
#define CORS_METHODS "GET, HEAD, OPTIONS"
/* Headers a cross-origin script may read. */
#define CORS_EXPOSE "Content-Length, Content-Range, X-Streamreg-Worker"
/* Browsers cache a preflight for at most this long (Chromium's cap). */
#define CORS_MAX_AGE "7200"
/* A preflight's answer depends on these request headers. */
#define CORS_VARY "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
/* Longest Access-Control-Request-Headers echoed back. */
#define CORS_MAX_HEADERS_LIST 1024

/* Whether a header list is made of field-name tokens (RFC 9110 §5.1)
 * separated by commas and spaces, and short enough to echo. */
int cors_header_list_ok(const char *s);

#endif
