/*
 * The module's directives and hooks.  Configuration is checked here, in the
 * master (so "nginx -t" refuses a bad value with its file and line); the
 * registry is attached in each worker (ngx_http_streamreg_worker.c).
 */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *create_main_conf(ngx_conf_t *cf);
static char *init_main_conf(ngx_conf_t *cf, void *conf);
static void *create_loc_conf(ngx_conf_t *cf);
static char *merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t postconfiguration(ngx_conf_t *cf);
static char *set_registry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *set_hls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *set_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *set_lineup(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t init_process(ngx_cycle_t *cycle);
static void exit_process(ngx_cycle_t *cycle);

static ngx_conf_num_bounds_t max_viewers_bounds = {ngx_conf_check_num_bounds, 1, 1 << 24};

static ngx_command_t commands[] = {
    {ngx_string("streamreg_registry"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_registry,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {ngx_string("streamreg_lineup"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_lineup,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {ngx_string("streamreg_max_viewers"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_num_slot, NGX_HTTP_MAIN_CONF_OFFSET,
     offsetof(ngx_http_streamreg_main_conf_t, max_viewers), &max_viewers_bounds},
    {ngx_string("streamreg_viewer_timeout"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_MAIN_CONF_OFFSET,
     offsetof(ngx_http_streamreg_main_conf_t, viewer_timeout), NULL},
    {ngx_string("streamreg_hls"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, set_hls,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("streamreg_start_timeout"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
     ngx_conf_set_msec_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_streamreg_loc_conf_t, start_timeout), NULL},
    {ngx_string("streamreg_status"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, set_status,
     NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    ngx_null_command};

static ngx_http_module_t module_ctx = {
    NULL,              /* preconfiguration */
    postconfiguration, /* postconfiguration */
    create_main_conf,  /* create main configuration */
    init_main_conf,    /* init main configuration */
    NULL,              /* create server configuration */
    NULL,              /* merge server configuration */
    create_loc_conf,   /* create location configuration */
    merge_loc_conf     /* merge location configuration */
};

ngx_module_t ngx_http_streamreg_module = {NGX_MODULE_V1,
                                          &module_ctx,
                                          commands,
                                          NGX_HTTP_MODULE,
                                          NULL,         /* init master */
                                          NULL,         /* init module */
                                          init_process, /* init process */
                                          NULL,         /* init thread */
                                          NULL,         /* exit thread */
                                          exit_process, /* exit process */
                                          NULL,         /* exit master */
                                          NGX_MODULE_V1_PADDING};

static void *create_main_conf(ngx_conf_t *cf)
{
	ngx_http_streamreg_main_conf_t *mcf = ngx_pcalloc(cf->pool, sizeof *mcf);
	if (mcf == NULL)
		return NULL;
	mcf->max_viewers = NGX_CONF_UNSET_UINT;
	mcf->viewer_timeout = NGX_CONF_UNSET_MSEC;
	if (ngx_array_init(&mcf->hls_locs, cf->pool, 4, sizeof(ngx_http_streamreg_loc_conf_t *)) !=
	    NGX_OK)
		return NULL;
	return mcf;
}

static char *init_main_conf(ngx_conf_t *cf, void *conf)
{
	ngx_http_streamreg_main_conf_t *mcf = conf;
	(void)cf;
	/* The defaults of streamreg-server (docs/server.md). */
	ngx_conf_init_uint_value(mcf->max_viewers, 16384);
	ngx_conf_init_msec_value(mcf->viewer_timeout, 10000);
	return NGX_CONF_OK;
}

static void *create_loc_conf(ngx_conf_t *cf)
{
	ngx_http_streamreg_loc_conf_t *lcf = ngx_pcalloc(cf->pool, sizeof *lcf);
	if (lcf == NULL)
		return NULL;
	lcf->start_timeout = NGX_CONF_UNSET_MSEC;
	lcf->status = NGX_CONF_UNSET_UINT;
	lcf->dir_fd = -1;
	return lcf;
}

static char *merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
	ngx_http_streamreg_loc_conf_t *prev = parent, *conf = child;
	(void)cf;
	ngx_conf_merge_msec_value(conf->start_timeout, prev->start_timeout, 15000);
	ngx_conf_merge_uint_value(conf->status, prev->status, SR_NGX_STATUS_OFF);
	return NGX_CONF_OK;
}

static void remember_user(ngx_conf_t *cf, const char *directive)
{
	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_conf_get_module_main_conf(cf, ngx_http_streamreg_module);
	if (mcf->user_directive)
		return;
	mcf->user_directive = directive;
	mcf->user_file = cf->conf_file->file.name;
	mcf->user_line = cf->conf_file->line;
}

static char *set_registry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_streamreg_main_conf_t *mcf = conf;
	ngx_str_t *value = cf->args->elts;
	(void)cmd;
	if (mcf->registry.data)
		return "is duplicate";
	char name[SR_NAME_MAX + 1] = "";
	if (value[1].len <= SR_NAME_MAX)
		ngx_cpystrn((u_char *)name, value[1].data, value[1].len + 1);
	if (value[1].len == 0 || value[1].len > SR_NAME_MAX || sr_name_valid(name) < 0) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		                   "invalid registry name \"%V\": 1 to %d characters from "
		                   "[A-Za-z0-9_-]",
		                   &value[1], SR_NAME_MAX);
		return NGX_CONF_ERROR;
	}
	/* The registry must be there when nginx starts (the reaper creates
	 * it): a typo is caught by "nginx -t", not by 503s at run time.  A
	 * read-only attach validates it without counting this process. */
	sr_registry *reg = NULL;
	int rc = sr_registry_attach(name, SR_ATTACH_READONLY, &reg);
	if (rc < 0) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		                   "streamreg registry \"%s\" cannot be attached: %s (%s); "
		                   "start streamreg-reaper with --create, or run "
		                   "\"streamreg create %s\"",
		                   name, sr_strerror(rc), sr_errdetail(), name);
		return NGX_CONF_ERROR;
	}
	sr_registry_close(reg);
	mcf->registry = value[1];
	return NGX_CONF_OK;
}

static void free_lineup(void *data)
{
	st_lineup_free(data);
}

static char *set_lineup(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_streamreg_main_conf_t *mcf = conf;
	ngx_str_t *value = cf->args->elts;
	(void)cmd;
	if (mcf->lineup)
		return "is duplicate";
	ngx_str_t path = value[1];
	if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK)
		return NGX_CONF_ERROR;
	ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, sizeof(struct st_lineup));
	if (cln == NULL)
		return NGX_CONF_ERROR;
	struct st_lineup *l = cln->data;
	ngx_memzero(l, sizeof *l);
	cln->handler = free_lineup;
	/* Only the ids and names are used here; whatever inputs the reaper
	 * was allowed to run, the lineup must not be refused for them. */
	char err[512];
	if (st_lineup_load((char *)path.data, ST_LINEUP_LAVFI_ANY, l, err, sizeof err) < 0) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "streamreg_lineup refused: %s", err);
		return NGX_CONF_ERROR;
	}
	mcf->lineup = l;
	return NGX_CONF_OK;
}

static void close_dir_fd(void *data)
{
	ngx_http_streamreg_loc_conf_t *lcf = data;
	if (lcf->dir_fd >= 0)
		close(lcf->dir_fd);
	lcf->dir_fd = -1;
}

static char *set_hls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_streamreg_loc_conf_t *lcf = conf;
	ngx_str_t *value = cf->args->elts;
	(void)cmd;
	if (lcf->hls_dir.data)
		return "is duplicate";
	ngx_str_t dir = value[1];
	if (ngx_conf_full_name(cf->cycle, &dir, 0) != NGX_OK)
		return NGX_CONF_ERROR;
	while (dir.len > 1 && dir.data[dir.len - 1] == '/')
		dir.len--;
	dir.data[dir.len] = '\0';
	int fd = open((char *)dir.data, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
		                   "streamreg_hls directory \"%V\" cannot be opened (the reaper's "
		                   "--output-dir must exist)",
		                   &dir);
		if (fd >= 0)
			close(fd);
		return NGX_CONF_ERROR;
	}
	ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
	if (cln == NULL) {
		close(fd);
		return NGX_CONF_ERROR;
	}
	lcf->hls_dir = dir;
	lcf->dir_fd = fd;
	lcf->dir_dev = st.st_dev;
	lcf->dir_ino = st.st_ino;
	cln->handler = close_dir_fd;
	cln->data = lcf;

	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_conf_get_module_main_conf(cf, ngx_http_streamreg_module);
	ngx_http_streamreg_loc_conf_t **slot = ngx_array_push(&mcf->hls_locs);
	if (slot == NULL)
		return NGX_CONF_ERROR;
	*slot = lcf;
	remember_user(cf, "streamreg_hls");
	ngx_http_core_loc_conf_t *clcf =
	    ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
	clcf->handler = sr_ngx_hls_handler;
	return NGX_CONF_OK;
}

static char *set_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
	ngx_http_streamreg_loc_conf_t *lcf = conf;
	ngx_str_t *value = cf->args->elts;
	(void)cmd;
	if (lcf->status != NGX_CONF_UNSET_UINT)
		return "is duplicate";
	if (ngx_strcmp(value[1].data, "json") == 0) {
		lcf->status = SR_NGX_STATUS_JSON;
	} else if (ngx_strcmp(value[1].data, "prometheus") == 0) {
		lcf->status = SR_NGX_STATUS_PROMETHEUS;
	} else {
		ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
		                   "invalid value \"%V\" of \"streamreg_status\": use json or "
		                   "prometheus",
		                   &value[1]);
		return NGX_CONF_ERROR;
	}
	remember_user(cf, "streamreg_status");
	ngx_http_core_loc_conf_t *clcf =
	    ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
	clcf->handler = sr_ngx_status_handler;
	return NGX_CONF_OK;
}

/* After the whole http block: directives may come in any order in it. */
static ngx_int_t postconfiguration(ngx_conf_t *cf)
{
	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_conf_get_module_main_conf(cf, ngx_http_streamreg_module);
	if (mcf->registry.data == NULL) {
		if (mcf->user_directive == NULL)
			return NGX_OK;
		ngx_log_error(
		    NGX_LOG_EMERG, cf->log, 0,
		    "\"%s\" in %V:%ui needs \"streamreg_registry NAME;\" in the http block",
		    mcf->user_directive, &mcf->user_file, mcf->user_line);
		return NGX_ERROR;
	}
	mcf->zone = sr_ngx_zone_add(cf, mcf);
	return mcf->zone ? NGX_OK : NGX_ERROR;
}

static ngx_int_t init_process(ngx_cycle_t *cycle)
{
	return sr_ngx_worker_start(cycle);
}

static void exit_process(ngx_cycle_t *cycle)
{
	sr_ngx_worker_stop(cycle);
}
