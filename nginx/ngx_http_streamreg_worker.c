/*
 * What each nginx worker keeps: its registry handle, its holder id in the
 * shared viewer table, and a periodic tick that expires viewers, adopts the
 * viewers of dead workers, reattaches a replaced registry and reopens a
 * replaced output directory.
 *
 * nginx's master runs no module code when a worker dies, so the workers
 * watch each other: every worker claims a holder slot (pid and start time)
 * in the shared zone, and any worker's tick that finds a slot whose process
 * is gone first recovers the registry (the dead leases vanish), then bumps
 * the slot's generation in the viewer table: the dead worker's viewers
 * become orphans that their next request adopts.  Recovering before
 * bumping keeps the count from ever going above the real viewers.
 */
/* nginx headers first: they set _GNU_SOURCE and friends. */
#include "ngx_http_streamreg.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Holder slot word: 0 free, pid << 1 owned, (pid << 1) | 1 being reclaimed by pid. */
struct holder_slot {
	_Atomic uint64_t word;
	_Atomic uint64_t start; /* owner's start time, 0 until written */
};

struct shared {
	struct holder_slot holders[VIEWERS_MAX_WORKERS];
};

#define VT_OFFSET ((sizeof(struct shared) + 63) & ~(size_t)63)

static struct {
	ngx_http_streamreg_main_conf_t *mcf;
	ngx_cycle_t *cycle;
	sr_registry *reg;
	char why[SR_ERROR_MAX + 128];
	struct shared *sh;
	struct viewer_table *vt;
	int holder_idx; /* -1: none */
	uint32_t holder;
	ngx_event_t tick;
} wk = {.holder_idx = -1};

sr_registry *sr_ngx_registry(const char **why)
{
	*why = wk.why;
	return wk.reg;
}

struct viewer_table *sr_ngx_viewers(uint32_t *holder)
{
	*holder = wk.holder;
	return wk.holder_idx >= 0 ? wk.vt : NULL;
}

/* ---- the shared zone ------------------------------------------------------- */

static size_t zone_payload(ngx_uint_t max_viewers)
{
	return VT_OFFSET + viewers_size((uint32_t)max_viewers);
}

static ngx_int_t zone_init(ngx_shm_zone_t *zone, void *data)
{
	ngx_http_streamreg_main_conf_t *mcf = zone->data;
	if (data) {
		/* A reload with the same size: keep the table, so the tokens
		 * of every player stay valid across it. */
		zone->data = data;
		return NGX_OK;
	}
	ngx_slab_pool_t *shpool = (ngx_slab_pool_t *)zone->shm.addr;
	size_t bytes = zone_payload(mcf->max_viewers);
	/* Larger than a page: the slab allocator returns whole pages, so
	 * the table is page-aligned. */
	void *mem = ngx_slab_calloc(shpool, bytes);
	if (mem == NULL)
		return NGX_ERROR;
	if (viewers_init((char *)mem + VT_OFFSET, bytes - VT_OFFSET, (uint32_t)mcf->max_viewers) ==
	    NULL)
		return NGX_ERROR;
	zone->data = mem;
	return NGX_OK;
}

ngx_shm_zone_t *sr_ngx_zone_add(ngx_conf_t *cf, ngx_http_streamreg_main_conf_t *mcf)
{
	static ngx_str_t name = ngx_string("streamreg_viewers");
	size_t payload = zone_payload(mcf->max_viewers);
	/* Room for the slab pool's header and page descriptors. */
	size_t size = ngx_align(payload + payload / 16 + 16 * ngx_pagesize, ngx_pagesize);
	ngx_shm_zone_t *zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_streamreg_module);
	if (zone == NULL)
		return NULL;
	zone->init = zone_init;
	zone->data = mcf;
	return zone;
}

/* ---- holders ----------------------------------------------------------------- */

static bool holder_dead(uint64_t word, uint64_t start)
{
	pid_t pid = (pid_t)(word >> 1);
	/* A reclaim in progress carries the reclaimer's pid, not the start
	 * time that goes with it; so does a claim before it wrote start. */
	if (start == 0 || (word & 1))
		return kill(pid, 0) < 0 && errno == ESRCH;
	return sr_pid_start_time(pid) != start;
}

/* Free the slots of workers that died (kill -9, crash) without exit_process. */
static void reclaim_dead_holders(void)
{
	uint64_t me = (uint64_t)getpid() << 1;
	for (int i = 0; i < VIEWERS_MAX_WORKERS; i++) {
		struct holder_slot *h = &wk.sh->holders[i];
		uint64_t w = atomic_load_explicit(&h->word, memory_order_acquire);
		if (w == 0 || w == me)
			continue;
		uint64_t start = atomic_load_explicit(&h->start, memory_order_acquire);
		if (!holder_dead(w, start))
			continue;
		if (!atomic_compare_exchange_strong(&h->word, &w, me | 1))
			continue; /* another worker is on it */
		if (wk.reg) {
			sr_recovery_report rep = {0};
			sr_registry_recover(wk.reg, &rep);
			ngx_log_error(NGX_LOG_NOTICE, wk.cycle->log, 0,
			              "streamreg: worker pid %P is gone: %uL viewer lease(s) "
			              "released, its viewers move to the next worker they ask",
			              (ngx_pid_t)(w >> 1), (uint64_t)rep.leases_released);
		}
		viewers_worker_died(wk.vt, (unsigned)i);
		atomic_store_explicit(&h->start, 0, memory_order_relaxed);
		atomic_store_explicit(&h->word, 0, memory_order_release);
	}
}

static void claim_holder(void)
{
	uint64_t me = (uint64_t)getpid() << 1;
	for (int i = 0; i < VIEWERS_MAX_WORKERS; i++) {
		struct holder_slot *h = &wk.sh->holders[i];
		uint64_t expect = 0;
		if (!atomic_compare_exchange_strong(&h->word, &expect, me))
			continue;
		atomic_store_explicit(&h->start, sr_pid_start_time(getpid()), memory_order_release);
		wk.holder_idx = i;
		wk.holder = viewers_holder(wk.vt, (unsigned)i);
		return;
	}
	ngx_log_error(NGX_LOG_ERR, wk.cycle->log, 0,
	              "streamreg: no free holder slot (%d worker processes at most): viewers of "
	              "this worker are served but not counted",
	              VIEWERS_MAX_WORKERS);
}

/* ---- registry -------------------------------------------------------------- */

static void try_attach(void)
{
	char name[SR_NAME_MAX + 1];
	ngx_cpystrn((u_char *)name, wk.mcf->registry.data, wk.mcf->registry.len + 1);
	int rc = sr_registry_attach(name, 0, &wk.reg);
	if (rc == 0) {
		if (wk.why[0])
			ngx_log_error(NGX_LOG_NOTICE, wk.cycle->log, 0,
			              "streamreg: registry \"%s\" attached again", name);
		wk.why[0] = '\0';
		return;
	}
	wk.reg = NULL;
	char why[sizeof wk.why];
	snprintf(why, sizeof why, "registry \"%s\" unavailable: %s (%s)", name, sr_strerror(rc),
	         sr_errdetail());
	/* Once per distinct reason: the tick retries every second. */
	if (strcmp(why, wk.why) != 0)
		ngx_log_error(NGX_LOG_ERR, wk.cycle->log, 0, "streamreg: %s", why);
	memcpy(wk.why, why, sizeof why);
}

static void check_replaced(void)
{
	int rc = sr_registry_replaced(wk.reg);
	if (rc <= 0)
		return;
	/* The viewers this worker counts were counted in the old registry:
	 * release them there; their next request revives them in the new one. */
	unsigned n = wk.holder_idx >= 0 ? viewers_release_all(wk.vt, wk.reg, wk.holder) : 0;
	sr_registry_close(wk.reg);
	wk.reg = NULL;
	snprintf(wk.why, sizeof wk.why, "registry \"%.*s\" was removed or replaced",
	         (int)wk.mcf->registry.len, (const char *)wk.mcf->registry.data);
	ngx_log_error(NGX_LOG_ERR, wk.cycle->log, 0,
	              "streamreg: %s; %u viewer(s) released, attaching again", wk.why, n);
}

/* The reaper may recreate its output directory; follow it. */
static void check_dirs(void)
{
	ngx_http_streamreg_loc_conf_t **locs = wk.mcf->hls_locs.elts;
	for (ngx_uint_t i = 0; i < wk.mcf->hls_locs.nelts; i++) {
		ngx_http_streamreg_loc_conf_t *l = locs[i];
		struct stat st;
		if (stat((char *)l->hls_dir.data, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (st.st_dev == l->dir_dev && st.st_ino == l->dir_ino && l->dir_fd >= 0)
			continue;
		int fd = open((char *)l->hls_dir.data, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ngx_log_error(NGX_LOG_NOTICE, wk.cycle->log, 0,
		              "streamreg: directory \"%V\" was replaced, reopened", &l->hls_dir);
		if (l->dir_fd >= 0)
			close(l->dir_fd);
		l->dir_fd = fd;
		l->dir_dev = st.st_dev;
		l->dir_ino = st.st_ino;
	}
}

static ngx_msec_t tick_period(void)
{
	ngx_msec_t p = wk.mcf->viewer_timeout / 10;
	return p < 100 ? 100 : p > 1000 ? 1000 : p;
}

static void tick(ngx_event_t *ev)
{
	if (wk.reg)
		check_replaced();
	if (!wk.reg)
		try_attach();
	reclaim_dead_holders();
	if (wk.holder_idx >= 0)
		viewers_sweep(wk.vt, wk.reg, wk.holder,
		              (uint64_t)wk.mcf->viewer_timeout * 1000000ull);
	check_dirs();
	if (!ngx_exiting)
		ngx_add_timer(ev, tick_period());
}

ngx_int_t sr_ngx_worker_start(ngx_cycle_t *cycle)
{
	ngx_http_streamreg_main_conf_t *mcf =
	    ngx_http_cycle_get_module_main_conf(cycle, ngx_http_streamreg_module);
	if (mcf == NULL || mcf->registry.data == NULL || mcf->zone == NULL)
		return NGX_OK;
	wk.mcf = mcf;
	wk.cycle = cycle;
	wk.sh = mcf->zone->data;
	wk.vt = (struct viewer_table *)((char *)wk.sh + VT_OFFSET);
	try_attach();
	reclaim_dead_holders();
	claim_holder();
	wk.tick.handler = tick;
	wk.tick.log = cycle->log;
	wk.tick.data = &wk;
	/* A pending tick must not keep a gracefully stopping worker alive. */
	wk.tick.cancelable = 1;
	ngx_add_timer(&wk.tick, tick_period());
	return NGX_OK;
}

void sr_ngx_worker_stop(ngx_cycle_t *cycle)
{
	(void)cycle;
	if (wk.mcf == NULL)
		return;
	if (wk.holder_idx >= 0) {
		unsigned n = viewers_release_all(wk.vt, wk.reg, wk.holder);
		if (n)
			ngx_log_error(NGX_LOG_INFO, wk.cycle->log, 0,
			              "streamreg: %u viewer(s) released at exit", n);
		viewers_worker_died(wk.vt, (unsigned)wk.holder_idx);
		struct holder_slot *h = &wk.sh->holders[wk.holder_idx];
		atomic_store_explicit(&h->start, 0, memory_order_relaxed);
		atomic_store_explicit(&h->word, 0, memory_order_release);
		wk.holder_idx = -1;
	}
	sr_registry_close(wk.reg);
	wk.reg = NULL;
	wk.mcf = NULL;
}
