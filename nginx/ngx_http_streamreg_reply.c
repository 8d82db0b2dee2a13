/*
 * Answers: headers every reply carries, one-line text errors like
 * streamreg-server's, bodies from memory, and files through nginx's own
 * static path (the header, range and not-modified filters, sendfile).
 */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cors.h"

ngx_int_t sr_ngx_add_header(ngx_http_request_t *r, const char *key, const char *value)
{
	ngx_table_elt_t *h = ngx_list_push(&r->headers_out.headers);
	if (h == NULL)
		return NGX_ERROR;
	h->hash = 1;
	h->key.data = (u_char *)key;
	h->key.len = strlen(key);
	h->value.data = (u_char *)value;
	h->value.len = strlen(value);
	return NGX_OK;
}

ngx_int_t sr_ngx_common_headers(ngx_http_request_t *r)
{
	/* Worker indexes are small: one static string each. */
	static char names[64][4];
	const char *idx = "?";
	if (ngx_worker < 64) {
		if (names[ngx_worker][0] == '\0')
			snprintf(names[ngx_worker], sizeof names[0], "%u", (unsigned)ngx_worker);
		idx = names[ngx_worker];
	}
	if (sr_ngx_add_header(r, "Access-Control-Allow-Origin", "*") != NGX_OK ||
	    sr_ngx_add_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE) != NGX_OK)
		return NGX_ERROR;
	return sr_ngx_add_header(r, "X-Streamreg-Worker", idx);
}

static void set_content_type(ngx_http_request_t *r, const char *ctype)
{
	r->headers_out.content_type.data = (u_char *)ctype;
	r->headers_out.content_type.len = strlen(ctype);
	r->headers_out.content_type_len = r->headers_out.content_type.len;
	r->headers_out.content_type_lowcase = NULL;
}

static ngx_int_t send_memory(ngx_http_request_t *r, ngx_uint_t status, const char *ctype,
                             const char *body, size_t len)
{
	r->headers_out.status = status;
	r->headers_out.content_length_n = (off_t)len;
	set_content_type(r, ctype);
	ngx_int_t rc = ngx_http_send_header(r);
	if (rc == NGX_ERROR || rc > NGX_OK || r->header_only)
		return rc;
	ngx_buf_t *b = ngx_calloc_buf(r->pool);
	if (b == NULL)
		return NGX_ERROR;
	if (len) {
		b->start = ngx_pnalloc(r->pool, len);
		if (b->start == NULL)
			return NGX_ERROR;
		ngx_memcpy(b->start, body, len);
		b->pos = b->start;
		b->last = b->end = b->start + len;
		b->memory = 1;
	}
	b->last_buf = (r == r->main) ? 1 : 0;
	b->last_in_chain = 1;
	ngx_chain_t out = {b, NULL};
	return ngx_http_output_filter(r, &out);
}

ngx_int_t sr_ngx_reply_error(ngx_http_request_t *r, ngx_uint_t status, const char *why,
                             unsigned retry_after)
{
	static const struct {
		ngx_uint_t status;
		const char *text;
	} reasons[] = {{400, "Bad Request"},
	               {404, "Not Found"},
	               {405, "Method Not Allowed"},
	               {500, "Internal Server Error"},
	               {503, "Service Unavailable"}};
	const char *reason = "Error";
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].status == status)
			reason = reasons[i].text;
	char body[SR_ERROR_MAX + 256];
	int n = snprintf(body, sizeof body, "%u %s: %s\n", (unsigned)status, reason, why);
	if (n < 0)
		return NGX_ERROR;
	size_t len = (size_t)n < sizeof body ? (size_t)n : sizeof body - 1;
	ngx_http_clear_content_length(r);
	ngx_http_clear_accept_ranges(r);
	ngx_http_clear_last_modified(r);
	ngx_http_clear_etag(r);
	if (sr_ngx_common_headers(r) != NGX_OK ||
	    sr_ngx_add_header(r, "Cache-Control", "no-store") != NGX_OK)
		return NGX_ERROR;
	if (status == NGX_HTTP_NOT_ALLOWED && sr_ngx_add_header(r, "Allow", CORS_METHODS) != NGX_OK)
		return NGX_ERROR;
	if (retry_after) {
		char *v = ngx_pnalloc(r->pool, 16);
		if (v == NULL)
			return NGX_ERROR;
		snprintf(v, 16, "%u", retry_after);
		if (sr_ngx_add_header(r, "Retry-After", v) != NGX_OK)
			return NGX_ERROR;
	}
	return send_memory(r, status, "text/plain; charset=utf-8", body, len);
}

ngx_int_t sr_ngx_reply_body(ngx_http_request_t *r, const char *ctype, const char *cache,
                            const char *body, size_t len)
{
	if (sr_ngx_common_headers(r) != NGX_OK || sr_ngx_add_header(r, "Cache-Control", cache))
		return NGX_ERROR;
	return send_memory(r, NGX_HTTP_OK, ctype, body, len);
}

ngx_int_t sr_ngx_reply_file(ngx_http_request_t *r, int fd, const struct stat *st, const char *ctype,
                            const char *cache)
{
	ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
	if (cln == NULL) {
		close(fd);
		return NGX_ERROR;
	}
	/* From here the pool closes the file, whatever happens. */
	cln->handler = ngx_pool_cleanup_file;
	ngx_pool_cleanup_file_t *clnf = cln->data;
	clnf->fd = fd;
	clnf->name = r->uri.data;
	clnf->log = r->pool->log;

	if (sr_ngx_common_headers(r) != NGX_OK ||
	    sr_ngx_add_header(r, "Cache-Control", cache) != NGX_OK)
		return NGX_ERROR;
	r->headers_out.status = NGX_HTTP_OK;
	r->headers_out.content_length_n = st->st_size;
	r->headers_out.last_modified_time = st->st_mtime;
	set_content_type(r, ctype);
	if (ngx_http_set_etag(r) != NGX_OK)
		return NGX_ERROR;
	r->allow_ranges = 1;
	ngx_int_t rc = ngx_http_send_header(r);
	if (rc == NGX_ERROR || rc > NGX_OK || r->header_only)
		return rc;

	ngx_buf_t *b = ngx_calloc_buf(r->pool);
	if (b == NULL)
		return NGX_ERROR;
	b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
	if (b->file == NULL)
		return NGX_ERROR;
	b->file_pos = 0;
	b->file_last = st->st_size;
	b->in_file = b->file_last ? 1 : 0;
	b->last_buf = (r == r->main) ? 1 : 0;
	b->last_in_chain = 1;
	b->sync = b->file_last ? 0 : 1;
	b->file->fd = fd;
	b->file->name = r->uri;
	b->file->log = r->connection->log;
	b->file->directio = 0;
	ngx_chain_t out = {b, NULL};
	return ngx_http_output_filter(r, &out);
}

/* A request header's value, NUL-terminated in the request pool, or NULL. */
static const char *header_in(ngx_http_request_t *r, const char *name)
{
	size_t n = strlen(name);
	ngx_list_part_t *part = &r->headers_in.headers.part;
	for (; part; part = part->next) {
		ngx_table_elt_t *h = part->elts;
		for (ngx_uint_t i = 0; i < part->nelts; i++) {
			if (h[i].key.len != n ||
			    ngx_strncasecmp(h[i].key.data, (u_char *)name, n) != 0)
				continue;
			char *v = ngx_pnalloc(r->pool, h[i].value.len + 1);
			if (v == NULL)
				return NULL;
			ngx_memcpy(v, h[i].value.data, h[i].value.len);
			v[h[i].value.len] = '\0';
			return v;
		}
	}
	return NULL;
}

/* 204 to OPTIONS, as streamreg-server: a CORS preflight gets the methods
 * and the headers it asked for; a plain OPTIONS gets Allow. */
static ngx_int_t reply_options(ngx_http_request_t *r)
{
	const char *method = header_in(r, "Access-Control-Request-Method");
	const char *headers = header_in(r, "Access-Control-Request-Headers");
	if (headers && !cors_header_list_ok(headers))
		return sr_ngx_reply_error(r, NGX_HTTP_BAD_REQUEST,
		                          "malformed Access-Control-Request-Headers", 0);
	if (sr_ngx_common_headers(r) != NGX_OK ||
	    sr_ngx_add_header(r, "Cache-Control", "no-store") != NGX_OK ||
	    sr_ngx_add_header(r, "Allow", CORS_METHODS) != NGX_OK)
		return NGX_ERROR;
	if (method) {
		/* The real request may follow from any origin, with whatever
		 * headers it announced; caches must key on them. */
		if (sr_ngx_add_header(r, "Access-Control-Allow-Methods", CORS_METHODS) != NGX_OK ||
		    (headers && *headers &&
		     sr_ngx_add_header(r, "Access-Control-Allow-Headers", headers) != NGX_OK) ||
		    sr_ngx_add_header(r, "Access-Control-Max-Age", CORS_MAX_AGE) != NGX_OK ||
		    sr_ngx_add_header(r, "Vary", CORS_VARY) != NGX_OK)
			return NGX_ERROR;
	}
	r->headers_out.status = NGX_HTTP_NO_CONTENT;
	r->header_only = 1;
	return ngx_http_send_header(r);
}

bool sr_ngx_method_answered(ngx_http_request_t *r, ngx_int_t *rc)
{
	if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD | NGX_HTTP_OPTIONS))) {
		/* Refused before any body is read; closing the connection keeps
		 * a slow body from holding it. */
		r->keepalive = 0;
		*rc = sr_ngx_reply_error(r, NGX_HTTP_NOT_ALLOWED, "only GET, HEAD and OPTIONS", 0);
		return true;
	}
	*rc = ngx_http_discard_request_body(r);
	if (*rc != NGX_OK)
		return true;
	if (r->method == NGX_HTTP_OPTIONS) {
		*rc = reply_options(r);
		return true;
	}
	return false;
}
