/* Creating, validating, attaching and detaching the shared segment. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_internal.h"

void sr_create_options_init(sr_create_options *opt)
{
	if (!opt)
		return;
	opt->capacity = 1024;
	opt->max_procs = 128;
	opt->leases_per_proc = 1024;
	opt->mode = 0600;
}

/* Open a registry file as shm_open() would (O_CLOEXEC, O_NOFOLLOW), in the
 * registry directory. */
static int open_file(const char *path, int flags, mode_t mode)
{
	return open(path, flags | O_CLOEXEC | O_NOFOLLOW, mode);
}

static int init_lock(struct sr_header *h)
{
	int rc = sr__lock_init(&h->lock);
	return rc ? sr__fail(-rc, "cannot initialise the writer lock") : 0;
}

static void init_segment(struct sr_registry *r, const struct sr_geometry *g, mode_t mode)
{
	struct sr_header *h = r->hdr;
	h->version = SR_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->fingerprint = sr__fingerprint();
	h->capacity = g->capacity;
	h->max_procs = g->max_procs;
	h->leases_per_proc = g->leases_per_proc;
	h->index_size = g->index_size;
	h->segment_size = g->segment_size;
	h->off_hot = g->off_hot;
	h->off_cold = g->off_cold;
	h->off_index0 = g->off_index0;
	h->off_index1 = g->off_index1;
	h->off_free = g->off_free;
	h->off_procs = g->off_procs;
	h->off_stats = g->off_stats;
	h->off_cold_tail = g->off_cold_tail;
	h->proc_stride = g->proc_stride;
	h->creator_pid = getpid();
	h->creator_uid = geteuid();
	h->birth_id = r->birth_id;
	h->created_wall_ns = sr__now_wall_ns();
	h->created_mono_ns = sr_now_mono_ns();
	h->mode = mode;
	/* Slots pop from the top: push in reverse so slot 0 is used first. */
	for (uint32_t i = 0; i < g->capacity; i++)
		r->free_stack[i] = g->capacity - 1 - i;
	h->free_top = g->capacity;
	h->checksum = sr__header_checksum(h);
}

int sr_registry_create(const char *name, const sr_create_options *opt, sr_registry **out)
{
	int rc = sr_name_valid(name);
	if (rc)
		return rc;
	if (!out)
		return sr__fail(-EINVAL, "output handle pointer is NULL");
	*out = NULL;
	sr_create_options o;
	sr_create_options_init(&o);
	if (opt)
		o = *opt;
	if (o.mode & ~07777u)
		return sr__fail(-EINVAL, "mode %o is not a permission mode", (unsigned)o.mode);
	struct sr_geometry g = {0};
	if ((rc = sr__geometry(o.capacity, o.max_procs, o.leases_per_proc, &g)))
		return rc;

	struct sr_registry *r = calloc(1, sizeof(*r));
	if (!r)
		return sr__fail(-ENOMEM, "out of memory");
	if (getrandom(&r->birth_id, sizeof(r->birth_id), 0) != sizeof(r->birth_id))
		r->birth_id = (uint64_t)sr__now_wall_ns() ^ ((uint64_t)getpid() << 32);
	char dir[SR_DIR_MAX + 1], final[SR_PATH_BUF], tmp[SR_PATH_BUF + 40];
	if ((rc = sr__dir(dir, sizeof(dir)))) {
		free(r);
		return rc;
	}
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	if (access(final, F_OK) == 0) {
		free(r);
		return sr__fail(-EEXIST, "cannot create %s: it exists", final);
	}
	/* Built under a private name and linked into place complete, so no
	 * attacher ever sees a half-initialised registry under its name.  Names
	 * hold no '.', so the private one never collides with a registry. */
	snprintf(tmp, sizeof(tmp), "%s/.srtmp-%s-%d-%08x", dir, name, (int)getpid(),
	         (unsigned)(r->birth_id & 0xffffffffu));
	int fd = open_file(tmp, O_RDWR | O_CREAT | O_EXCL, o.mode & 0777);
	if (fd < 0) {
		rc = -errno;
		free(r);
		return sr__fail(rc, "cannot create %s: %s", tmp, strerror(-rc));
	}
	/* The umask must not weaken or widen what the caller asked for. */
	struct stat st;
	if (fchmod(fd, o.mode) != 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		rc = sr__fail(rc, "cannot set mode of %s", tmp);
		goto fail;
	}
	/* Sized first: a tmpfs mounted huge=within_size gives a huge page only
	 * to a range inside the file's size, and fallocate alone grows the size
	 * after allocating. */
	if (ftruncate(fd, (off_t)g.segment_size) != 0) {
		rc = -errno;
		rc = sr__fail(rc, "cannot size %s to %llu bytes: %s", tmp,
		              (unsigned long long)g.segment_size, strerror(-rc));
		goto fail;
	}
	/* Reserve every page now: a full tmpfs later would be a SIGBUS. */
	rc = posix_fallocate(fd, 0, (off_t)g.segment_size);
	if (rc) {
		rc = sr__fail(-rc, "cannot reserve %llu bytes in %s for capacity %u: %s",
		              (unsigned long long)g.segment_size, dir, g.capacity, strerror(rc));
		goto fail;
	}
	void *base = mmap(NULL, g.segment_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		rc = sr__fail(rc, "cannot map the segment");
		goto fail;
	}
	close(fd);
	fd = -1;
	sr__advise_huge(base, g.segment_size);
	r->base = base;
	r->size = g.segment_size;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	memcpy(r->name, name, strnlen(name, SR_NAME_MAX) + 1);
	sr__bind_geometry(r, &g);
	if ((rc = init_lock(r->hdr))) {
		munmap(base, g.segment_size);
		goto fail;
	}
	init_segment(r, &g, o.mode);
	atomic_thread_fence(memory_order_release);
	memcpy(r->hdr->magic, SR_MAGIC, 8); /* NOLINT(bugprone-not-null-terminated-result) */
	/* link() fails with EEXIST if the name was taken meanwhile: O_EXCL's
	 * guarantee, kept across the two steps. */
	if (link(tmp, final) != 0) {
		rc = -errno;
		munmap(base, g.segment_size);
		rc = rc == -EEXIST ? sr__fail(rc, "cannot create %s: it exists", final)
		                   : sr__fail(rc, "cannot create %s: %s", final, strerror(-rc));
		goto fail;
	}
	unlink(tmp);
	pthread_mutex_init(&r->claim_lock, NULL);
	sr__live_init(r);
	pthread_mutex_init(&r->walk_lock, NULL);
	atomic_init(&r->proc_idx, -1);
	sr__register_handle(r);
	*out = r;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(r);
	return rc;
}

static int validate_header(const struct sr_header *h, off_t file_size, struct sr_geometry *g)
{
	if (memcmp(h->magic, SR_MAGIC, 8) != 0)
		return sr__fail(-SR_EBADMAGIC,
		                "bad magic: the segment is not a streamreg registry");
	if (h->version != SR_LAYOUT_VERSION)
		return sr__fail(-SR_EVERSION,
		                "layout version %u, this library reads version %u; the registry "
		                "holds soft state only: stop its users, unlink it and create it "
		                "again",
		                h->version, SR_LAYOUT_VERSION);
	if (h->header_size != sizeof(*h) || h->fingerprint != sr__fingerprint())
		return sr__fail(
		    -SR_ELAYOUT, "layout fingerprint %016llx differs from this build's %016llx",
		    (unsigned long long)h->fingerprint, (unsigned long long)sr__fingerprint());
	if (h->checksum != sr__header_checksum(h))
		return sr__fail(-SR_ECORRUPT, "header checksum mismatch");
	int rc = sr__geometry(h->capacity, h->max_procs, h->leases_per_proc, g);
	if (rc)
		return sr__fail(-SR_ECORRUPT, "header geometry invalid: %s", sr_errdetail());
	if (g->leases_per_proc != h->leases_per_proc || g->index_size != h->index_size ||
	    g->segment_size != h->segment_size || g->off_hot != h->off_hot ||
	    g->off_cold != h->off_cold || g->off_index0 != h->off_index0 ||
	    g->off_index1 != h->off_index1 || g->off_free != h->off_free ||
	    g->off_procs != h->off_procs || g->off_stats != h->off_stats ||
	    g->off_cold_tail != h->off_cold_tail || g->proc_stride != h->proc_stride)
		return sr__fail(-SR_ECORRUPT, "header offsets disagree with its capacity");
	if ((uint64_t)file_size < g->segment_size)
		return sr__fail(-SR_ETRUNCATED, "segment is %lld bytes, its header says %llu",
		                (long long)file_size, (unsigned long long)g->segment_size);
	if ((uint64_t)file_size > g->segment_size)
		return sr__fail(-SR_ECORRUPT, "segment is %lld bytes, its header says %llu",
		                (long long)file_size, (unsigned long long)g->segment_size);
	return 0;
}

int sr_registry_attach(const char *name, unsigned flags, sr_registry **out)
{
	int rc = sr_name_valid(name);
	if (rc)
		return rc;
	if (!out)
		return sr__fail(-EINVAL, "output handle pointer is NULL");
	*out = NULL;
	if (flags & ~(unsigned)(SR_ATTACH_READONLY | SR_ATTACH_ANY_OWNER))
		return sr__fail(-EINVAL, "unknown attach flags 0x%x", flags);
	bool ro = flags & SR_ATTACH_READONLY;
	char path[SR_PATH_BUF];
	if ((rc = sr_registry_path(name, path, sizeof(path))))
		return rc;
	int fd = open_file(path, ro ? O_RDONLY : O_RDWR, 0);
	if (fd < 0) {
		rc = -errno;
		return sr__fail(rc, "cannot open %s: %s", path, strerror(-rc));
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		rc = sr__fail(rc, "cannot stat %s", path);
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sr__fail(-SR_ECORRUPT, "%s is not a regular file", path);
	}
	if (!ro && !(flags & SR_ATTACH_ANY_OWNER) && st.st_uid != geteuid()) {
		close(fd);
		return sr__fail(-SR_EOWNER, "%s belongs to uid %u, not %u", path,
		                (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if ((size_t)st.st_size < sizeof(struct sr_header)) {
		close(fd);
		return sr__fail(-SR_ETRUNCATED, "segment is %lld bytes, shorter than a header",
		                (long long)st.st_size);
	}
	/* Validate the header from a private copy before mapping the rest. */
	struct sr_header h;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		close(fd);
		return sr__fail(-SR_ETRUNCATED, "cannot read the header");
	}
	struct sr_geometry g = {0};
	if ((rc = validate_header(&h, st.st_size, &g))) {
		close(fd);
		return rc;
	}
	void *base =
	    mmap(NULL, g.segment_size, ro ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		int e = errno;
		return sr__fail(-e, "cannot map the segment");
	}
	sr__advise_huge(base, g.segment_size);
	struct sr_registry *r = calloc(1, sizeof(*r));
	if (!r) {
		munmap(base, g.segment_size);
		return sr__fail(-ENOMEM, "out of memory");
	}
	r->base = base;
	r->size = g.segment_size;
	r->readonly = ro;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->birth_id = h.birth_id;
	memcpy(r->name, name, strnlen(name, SR_NAME_MAX) + 1);
	sr__bind_geometry(r, &g);
	pthread_mutex_init(&r->claim_lock, NULL);
	sr__live_init(r);
	pthread_mutex_init(&r->walk_lock, NULL);
	atomic_init(&r->proc_idx, -1);
	sr__register_handle(r);
	if (!ro)
		sr_registry_recover(r, NULL);
	*out = r;
	return 0;
}

void sr_registry_close(sr_registry *reg)
{
	if (!reg)
		return;
	sr__unregister_handle(reg);
	if (!reg->readonly) {
		sr__owner_release_handle(reg);
		sr__proc_release_own(reg);
	}
	munmap(reg->base, reg->size);
	pthread_mutex_destroy(&reg->claim_lock);
	sr__live_free(reg);
	pthread_mutex_destroy(&reg->walk_lock);
	free(atomic_load_explicit(&reg->walk_buf, memory_order_relaxed));
	free(reg);
}

int sr_registry_unlink(const char *name)
{
	int rc = sr_name_valid(name);
	if (rc)
		return rc;
	char path[SR_PATH_BUF];
	if ((rc = sr_registry_path(name, path, sizeof(path))))
		return rc;
	if (unlink(path) != 0) {
		rc = -errno;
		return sr__fail(rc, "cannot remove %s: %s", path, strerror(-rc));
	}
	return 0;
}

bool sr_registry_readonly(const sr_registry *reg)
{
	return reg && reg->readonly;
}

int sr_registry_replaced(sr_registry *reg)
{
	SR_CHECK_REG(reg);
	char path[SR_PATH_BUF];
	int rc = sr_registry_path(reg->name, path, sizeof(path));
	if (rc)
		return rc;
	int fd = open_file(path, O_RDONLY, 0);
	if (fd < 0) {
		int e = errno;
		return e == ENOENT ? 1 : sr__fail(-e, "cannot open %s", path);
	}
	struct stat st;
	rc = fstat(fd, &st) == 0 ? 0 : -errno;
	close(fd);
	if (rc != 0)
		return sr__fail(rc, "cannot stat %s", path);
	return st.st_dev != reg->dev || st.st_ino != reg->ino;
}
