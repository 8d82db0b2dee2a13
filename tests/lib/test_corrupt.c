/*
 * Damaged segments: the bytes of /dev/shm/<name> are rewritten behind the
 * library's back.  Attaching must refuse with the documented code, and what
 * gets through must not crash a reader.  Links the static library for the
 * internal header layout (sr_internal.h).
 */
#include "support/srt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sr_internal.h"

static void seg_path(const struct srt_fx *fx, char *path)
{
	srt_shm_path(fx->name, path, PATH_MAX);
}

static void poke(const struct srt_fx *fx, off_t off, const void *bytes, size_t n)
{
	char path[PATH_MAX];

	seg_path(fx, path);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

static void peek(const struct srt_fx *fx, off_t off, void *bytes, size_t n)
{
	char path[PATH_MAX];

	seg_path(fx, path);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

static off_t seg_size(const struct srt_fx *fx)
{
	char path[PATH_MAX];
	struct stat st;

	seg_path(fx, path);
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void resize(const struct srt_fx *fx, off_t len)
{
	char path[PATH_MAX];

	seg_path(fx, path);
	assert_int_equal(truncate(path, len), 0);
}

/* Attach read-write and read-only; both must give want. */
static void expect_attach(const struct srt_fx *fx, int want, const char *what)
{
	sr_registry *h = NULL;

	int rc = sr_registry_attach(fx->name, 0, &h);
	if (rc != want)
		fail_msg("%s: attach = %d (%s: %s), want %d (%s)", what, rc, sr_strerror(rc),
		         sr_errdetail(), want, sr_strerror(want));
	sr_registry_close(h);
	h = NULL;
	rc = sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h);
	if (rc != want)
		fail_msg("%s: read-only attach = %d (%s: %s), want %d (%s)", what, rc,
		         sr_strerror(rc), sr_errdetail(), want, sr_strerror(want));
	sr_registry_close(h);
	assert_true(strlen(sr_errdetail()) > 0);
}

static void test_wrong_magic(void **state)
{
	struct srt_fx *fx = *state;

	for (off_t off = 0; off < 8; off++) {
		unsigned char b;
		peek(fx, off, &b, 1);
		b ^= 0x20;
		poke(fx, off, &b, 1);
		expect_attach(fx, -SR_EBADMAGIC, "one magic byte changed");
		b ^= 0x20;
		poke(fx, off, &b, 1);
	}
	expect_attach(fx, 0, "magic restored");
	poke(fx, 0, "\0\0\0\0\0\0\0\0", 8);
	expect_attach(fx, -SR_EBADMAGIC, "magic zeroed");
}

static void test_wrong_version(void **state)
{
	struct srt_fx *fx = *state;
	uint32_t v;

	peek(fx, 8, &v, sizeof(v));
	assert_int_equal(v, SR_LAYOUT_VERSION);
	static const uint32_t others[] = {0, SR_LAYOUT_VERSION + 1, 0x01000000u, UINT32_MAX};
	for (size_t i = 0; i < SRT_ARRAY_LEN(others); i++) {
		poke(fx, 8, &others[i], sizeof(others[i]));
		expect_attach(fx, -SR_EVERSION, "layout version changed");
	}
	poke(fx, 8, &v, sizeof(v));
	expect_attach(fx, 0, "version restored");
}

static void test_truncated(void **state)
{
	struct srt_fx *fx = *state;
	off_t full = seg_size(fx);

	resize(fx, full / 2);
	expect_attach(fx, -SR_ETRUNCATED, "truncated to half");
	resize(fx, full - 1);
	expect_attach(fx, -SR_ETRUNCATED, "one byte short");
	resize(fx, (off_t)sizeof(struct sr_header) - 1);
	expect_attach(fx, -SR_ETRUNCATED, "shorter than the header struct");
	resize(fx, 10);
	expect_attach(fx, -SR_ETRUNCATED, "truncated to 10 bytes");
}

static void test_empty_file(void **state)
{
	struct srt_fx *fx = *state;

	resize(fx, 0);
	expect_attach(fx, -SR_ETRUNCATED, "empty file");
}

static void test_extended(void **state)
{
	struct srt_fx *fx = *state;
	sr_registry *h = NULL;

	resize(fx, seg_size(fx) + 4096);
	int rc = sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h);
	assert_true(rc < 0);
	assert_true(rc == -SR_ECORRUPT || rc == -SR_ETRUNCATED);
}

static void test_random_file(void **state)
{
	struct srt_fx *fx = *state;
	off_t len = seg_size(fx);
	unsigned char *junk = malloc((size_t)len);
	sr_registry *h = NULL;

	assert_non_null(junk);
	srand(1234);
	for (int round = 0; round < 5; round++) {
		for (off_t i = 0; i < len; i++)
			junk[i] = (unsigned char)rand();
		poke(fx, 0, junk, (size_t)len);
		assert_true(sr_registry_attach(fx->name, 0, &h) < 0);
		assert_true(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h) < 0);
	}
	/* Random bytes behind a valid magic: still refused. */
	poke(fx, 0, SR_MAGIC, 8);
	assert_true(sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h) < 0);
	free(junk);
}

/* Every single byte of the checksummed header, flipped on its own. */
static void test_flipped_header_bytes(void **state)
{
	struct srt_fx *fx = *state;
	const off_t end = (off_t)offsetof(struct sr_header, checksum) + 8;
	char what[64];

	for (off_t off = 8; off < end; off++) {
		unsigned char b, f;
		peek(fx, off, &b, 1);
		f = b ^ 0x01;
		poke(fx, off, &f, 1);
		sr_registry *h = NULL;
		int rc = sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h);
		sr_registry_close(h);
		snprintf(what, sizeof(what), "byte %lld flipped", (long long)off);
		if (off < 12) {
			if (rc != -SR_EVERSION)
				fail_msg("%s: %d (%s), want -SR_EVERSION", what, rc,
				         sr_strerror(rc));
		} else if (rc != -SR_ECORRUPT && rc != -SR_ELAYOUT) {
			fail_msg("%s: %d (%s), want -SR_ECORRUPT or -SR_ELAYOUT", what, rc,
			         sr_strerror(rc));
		}
		poke(fx, off, &b, 1);
	}
	expect_attach(fx, 0, "all bytes restored");
}

/* A forger who also fixes the checksum: the geometry itself must be checked. */
static void rewrite_header(struct srt_fx *fx, void (*edit)(struct sr_header *h))
{
	struct sr_header h;

	peek(fx, 0, &h, sizeof(h));
	edit(&h);
	h.checksum = sr__header_checksum(&h);
	poke(fx, 0, &h, offsetof(struct sr_header, checksum) + 8);
}

static void grow_capacity(struct sr_header *h)
{
	h->capacity = h->capacity * 64;
}
static void huge_capacity(struct sr_header *h)
{
	h->capacity = UINT32_MAX;
}
static void zero_capacity(struct sr_header *h)
{
	h->capacity = 0;
}
static void hot_outside(struct sr_header *h)
{
	h->off_hot = h->segment_size + 4096;
}
static void cold_overlaps(struct sr_header *h)
{
	h->off_cold = h->off_hot;
}
static void bigger_size(struct sr_header *h)
{
	h->segment_size *= 2;
}
static void more_procs(struct sr_header *h)
{
	h->max_procs = SR_PROCS_MAX + 1;
}
static void odd_leases(struct sr_header *h)
{
	h->leases_per_proc = 3;
}
static void index_small(struct sr_header *h)
{
	h->index_size = 1;
}
static void stride_small(struct sr_header *h)
{
	h->proc_stride = 8;
}

static void test_forged_geometry(void **state)
{
	struct srt_fx *fx = *state;
	static void (*const edits[])(struct sr_header *) = {
	    grow_capacity, huge_capacity, zero_capacity, hot_outside, cold_overlaps,
	    bigger_size,   more_procs,    odd_leases,    index_small, stride_small,
	};
	struct sr_header orig;

	peek(fx, 0, &orig, sizeof(orig));
	for (size_t i = 0; i < SRT_ARRAY_LEN(edits); i++) {
		rewrite_header(fx, edits[i]);
		sr_registry *h = NULL;
		int rc = sr_registry_attach(fx->name, SR_ATTACH_READONLY, &h);
		sr_registry_close(h);
		if (rc != -SR_ECORRUPT && rc != -SR_ETRUNCATED)
			fail_msg("forged geometry %zu: attach = %d (%s), want -SR_ECORRUPT", i, rc,
			         sr_strerror(rc));
		poke(fx, 0, &orig, offsetof(struct sr_header, checksum) + 8);
	}
	expect_attach(fx, 0, "header restored");
}

static void test_not_a_regular_file(void **state)
{
	char name[SR_NAME_MAX + 1], path[PATH_MAX];
	sr_registry *h = NULL;

	(void)state;
	srt_unique_name(name);
	srt_shm_path(name, path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	int rc_ro = sr_registry_attach(name, SR_ATTACH_READONLY, &h);
	int rc_rw = sr_registry_attach(name, 0, &h);
	rmdir(path);
	assert_true(rc_ro < 0);
	assert_true(rc_rw < 0);

	/* A symlink planted under the name is not followed. */
	struct srt_fx target;
	assert_int_equal(srt_create(&target, 2, 0, 0), 0);
	char tpath[PATH_MAX];
	srt_shm_path(target.name, tpath, sizeof(tpath));
	assert_int_equal(symlink(tpath, path), 0);
	rc_ro = sr_registry_attach(name, SR_ATTACH_READONLY, &h);
	unlink(path);
	sr_registry_close(target.reg);
	srt_cleanup_names();
	assert_true(rc_ro < 0);
}

/* Read paths that must survive whatever an attached segment holds. */
static int count_cb(const sr_session_info *info, void *ctx)
{
	(void)info;
	(*(int *)ctx)++;
	return 0;
}

static void read_everything(sr_registry *h, struct srt_json_batch *jb)
{
	uuid_t ids[8];
	size_t n = 0;
	sr_registry_stats st;
	sr_session_info info;
	char *json = NULL;
	int calls = 0;

	assert_true(sr_registry_verify(h) >= 0);
	assert_int_equal(sr_registry_stats_get(h, &st), 0);
	int rc = sr_session_list(h, ids, 8, &n);
	if (rc == 0) {
		for (size_t i = 0; i < n && i < 8; i++) {
			if (sr_session_snapshot(h, ids[i], &info) == 0) {
				assert_non_null(
				    memchr(info.last_error, '\0', sizeof(info.last_error)));
				assert_non_null(
				    memchr(info.output_dir, '\0', sizeof(info.output_dir)));
				assert_true(info.n_qualities <= SR_MAX_QUALITIES);
				assert_true(info.state < SR_STATE_COUNT);
			}
		}
	}
	(void)sr_session_foreach(h, count_cb, &calls);
	if (sr_registry_json(h, &json) == 0) {
		srt_json_batch_add(jb, json);
		free(json);
	}
}

static void populate(sr_registry *reg, uuid_t *ids, int n)
{
	sr_quality q = {.level = "720p", .bitrate_kbps = 1, .codec = "h264"};

	for (int i = 0; i < n; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(reg, ids[i], "/srv/x"), 0);
		assert_int_equal(sr_session_record_error(reg, ids[i], "err"), 0);
		assert_int_equal(sr_session_set_qualities(reg, ids[i], &q, 1), 0);
		assert_int_equal(sr_session_add_client(reg, ids[i]), 0);
	}
}

/*
 * The brief's fuzz loop: random bytes at random offsets of the header
 * region.  Attach either refuses or succeeds; when it succeeds, readers and
 * a writer must neither crash nor hang.
 */
static void test_fuzz_header(void **state)
{
	(void)state;
	unsigned seed = (unsigned)getpid();
	int refused = 0, accepted = 0;
	struct srt_json_batch jb = {0};

	for (int iter = 0; iter < 200; iter++) {
		struct srt_fx fx;
		uuid_t ids[3];
		assert_int_equal(srt_create(&fx, 4, 2, 4), 0);
		populate(fx.reg, ids, 3);
		sr_registry_close(fx.reg);
		int writes = 1 + rand_r(&seed) % 8;
		for (int w = 0; w < writes; w++) {
			unsigned char junk[8];
			size_t len = 1 + (size_t)rand_r(&seed) % sizeof(junk);
			for (size_t k = 0; k < len; k++)
				junk[k] = (unsigned char)rand_r(&seed);
			/* Half the rounds aim at the checksummed part, half anywhere in it. */
			size_t span = iter % 2 ? sizeof(struct sr_header)
			                       : offsetof(struct sr_header, checksum) + 8;
			off_t off = (off_t)((size_t)rand_r(&seed) % (span - len));
			poke(&fx, off, junk, len);
		}
		sr_registry *ro = NULL, *rw = NULL;
		int rc = sr_registry_attach(fx.name, SR_ATTACH_READONLY, &ro);
		if (rc < 0) {
			refused++;
			assert_true(rc <= -SR_EBADMAGIC && rc > -SR_ELAST);
		} else {
			accepted++;
			read_everything(ro, &jb);
			sr_registry_close(ro);
			rc = sr_registry_attach(fx.name, 0, &rw);
			if (rc == 0) {
				read_everything(rw, &jb);
				uuid_t extra;
				srt_uuid(extra);
				/* Allowed outcomes only: done, or a clear refusal. */
				rc = sr_session_insert(rw, extra, NULL);
				assert_true(rc == 0 || rc == -SR_EFULL || rc == -SR_ECORRUPT ||
				            rc == -ETIMEDOUT);
				(void)sr_session_add_client(rw, ids[0]);
				(void)sr_registry_recover(rw, NULL);
				read_everything(rw, &jb);
				sr_registry_close(rw);
			}
		}
		sr_registry_unlink(fx.name);
	}
	print_message("fuzz header: %d refused, %d accepted\n", refused, accepted);
	assert_true(refused > 0);
	assert_true(srt_json_batch_valid(&jb));
	srt_cleanup_names();
}

/* Garbage in the records themselves (past the header), under a valid header. */
static void test_fuzz_body(void **state)
{
	(void)state;
	unsigned seed = (unsigned)getpid() * 7u;
	struct srt_json_batch jb = {0};

	for (int iter = 0; iter < 100; iter++) {
		struct srt_fx fx;
		uuid_t ids[3];
		assert_int_equal(srt_create(&fx, 4, 2, 4), 0);
		populate(fx.reg, ids, 3);
		uint64_t body = fx.reg->hdr->segment_size;
		off_t start = (off_t)fx.reg->hdr->off_hot;
		sr_registry_close(fx.reg);
		int writes = 1 + rand_r(&seed) % 64;
		for (int w = 0; w < writes; w++) {
			unsigned char junk[16];
			size_t len = 1 + (size_t)rand_r(&seed) % sizeof(junk);
			for (size_t k = 0; k < len; k++)
				junk[k] = (unsigned char)rand_r(&seed);
			off_t off = start + (off_t)((uint64_t)rand_r(&seed) %
			                            (body - (uint64_t)start - len));
			poke(&fx, off, junk, len);
		}
		sr_registry *ro = NULL, *rw = NULL;
		assert_int_equal(sr_registry_attach(fx.name, SR_ATTACH_READONLY, &ro), 0);
		read_everything(ro, &jb);
		sr_registry_close(ro);
		assert_int_equal(sr_registry_attach(fx.name, 0, &rw), 0);
		read_everything(rw, &jb);
		for (int i = 0; i < 3; i++) {
			(void)sr_session_add_client(rw, ids[i]);
			(void)sr_session_remove_client(rw, ids[i]);
			(void)sr_session_record_error(rw, ids[i], "again");
			(void)sr_session_set_state(rw, ids[i], SR_STATE_STARTING, NULL);
			(void)sr_session_delete(rw, ids[i]);
		}
		uuid_t extra;
		srt_uuid(extra);
		(void)sr_session_insert(rw, extra, NULL);
		(void)sr_registry_recover(rw, NULL);
		read_everything(rw, &jb);
		sr_registry_close(rw);
		sr_registry_unlink(fx.name);
	}
	assert_true(srt_json_batch_valid(&jb));
	srt_cleanup_names();
}

/* One byte of a slot's packed record, pos bytes into its string stream. */
static void poke_stream_byte(sr_registry *r, uint32_t slot, size_t pos, uint8_t v)
{
	size_t byte = SR_COLD_FIXED * 8 + pos;
	_Atomic uint64_t *w = sr__cold_word(r, slot, byte / 8);
	uint64_t x = atomic_load(w);
	memcpy((unsigned char *)&x + byte % 8, &v, 1);
	atomic_store(w, x);
}

struct seen {
	uint32_t calls, bad_slot;
	bool saw_bad;
};

static int seen_cb(const sr_session_info *i, void *ctx)
{
	struct seen *s = ctx;
	s->calls++;
	s->saw_bad |= i->slot == s->bad_slot;
	assert_non_null(memchr(i->output_dir, '\0', sizeof(i->output_dir)));
	assert_non_null(memchr(i->last_error, '\0', sizeof(i->last_error)));
	return 0;
}

/*
 * The lengths of a packed record come from shared memory.  One past its
 * field's maximum (or a variant count past SR_MAX_QUALITIES) makes reads of
 * that session fail with SR_ECORRUPT and walks leave it out; without the
 * bounds checks the offsets summed from them would run past the slot.
 */
static void test_garbled_packed_lengths(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[3];
	sr_session_info info;
	populate(fx->reg, ids, 3);
	assert_int_equal(sr_session_snapshot(fx->reg, ids[0], &info), 0);
	uint32_t s = info.slot;
	/* populate's record: "/srv/x", no segment path, "err", then variant 0,
	 * whose four string lengths are the last bytes of its 16-byte part. */
	size_t q0 = strlen("/srv/x") + strlen("err");
	_Atomic uint64_t *fixed = sr__cold_word(fx->reg, s, 5);
	const uint64_t good = atomic_load(fixed);
	const struct {
		const char *what;
		int shift; /* in the fixed word, or -1: pos in the stream */
		size_t pos;
		uint8_t value;
	} pokes[] = {
	    {"variant count 200", 32, 0, 200},
	    {"variant count one past the maximum", 32, 0, SR_MAX_QUALITIES + 1},
	    {"level length 200", -1, q0 + 12, 200},
	    {"level length one past the maximum", -1, q0 + 12, SR_LEVEL_MAX + 1},
	    {"codec length 255", -1, q0 + 13, 255},
	    {"playlist length one past the maximum", -1, q0 + 15, SR_VARIANT_PATH_MAX + 1},
	};
	for (size_t k = 0; k < sizeof(pokes) / sizeof(pokes[0]); k++) {
		unsigned char saved[SR_COLD_WORDS * 8];
		for (size_t i = 0; i < SR_COLD_WORDS; i++) {
			uint64_t x = atomic_load(sr__cold_word(fx->reg, s, i));
			memcpy(saved + i * 8, &x, 8);
		}
		if (pokes[k].shift >= 0)
			atomic_store(fixed, (good & ~(0xffull << pokes[k].shift)) |
			                        (uint64_t)pokes[k].value << pokes[k].shift);
		else
			poke_stream_byte(fx->reg, s, pokes[k].pos, pokes[k].value);
		print_message("poke: %s\n", pokes[k].what);

		assert_int_equal(sr_session_snapshot(fx->reg, ids[0], &info), -SR_ECORRUPT);
		assert_non_null(strstr(sr_errdetail(), "past its maximum"));
		sr_quality q[SR_MAX_QUALITIES];
		size_t n = 0;
		assert_int_equal(sr_session_get_qualities(fx->reg, ids[0], q, SR_MAX_QUALITIES, &n),
		                 -SR_ECORRUPT);
		assert_int_equal(sr_session_record_error(fx->reg, ids[0], "x"), -SR_ECORRUPT);
		struct seen seen = {0, s, false};
		assert_int_equal(sr_session_foreach(fx->reg, seen_cb, &seen), 0);
		assert_int_equal(seen.calls, 2);
		assert_false(seen.saw_bad);
		char *json = NULL;
		assert_int_equal(sr_registry_json(fx->reg, &json), 0);
		assert_true(srt_json_valid(json));
		free(json);
		assert_int_equal(sr_registry_verify(fx->reg), 1);
		/* The others are untouched. */
		assert_int_equal(sr_session_snapshot(fx->reg, ids[1], &info), 0);

		for (size_t i = 0; i < SR_COLD_WORDS; i++) {
			uint64_t x;
			memcpy(&x, saved + i * 8, 8);
			atomic_store(sr__cold_word(fx->reg, s, i), x);
		}
		assert_int_equal(sr_session_snapshot(fx->reg, ids[0], &info), 0);
		assert_string_equal(info.qualities[0].level, "720p");
		assert_int_equal(sr_registry_verify(fx->reg), 0);
	}

	/* Every top-level length at its maximum is in range: the reader gets
	 * whatever bytes follow, but bounded and terminated. */
	atomic_store(fixed, (good & 0xffffffffffull) | 0xffffff0000000000ull);
	int rc = sr_session_snapshot(fx->reg, ids[0], &info);
	assert_true(rc == 0 || rc == -SR_ECORRUPT);
	if (rc == 0) {
		assert_true(strlen(info.output_dir) <= SR_PATH_MAX);
		assert_true(strlen(info.segment_path) <= SR_PATH_MAX);
		assert_true(strlen(info.last_error) <= SR_ERROR_MAX);
	}
	/* A corrupt session can still be deleted, which frees its slot. */
	atomic_store(fixed, good | 0xffull << 32);
	assert_int_equal(sr_session_delete(fx->reg, ids[0]), 0);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
}

/* A record that fills its head and reaches into its tail: eight variants,
 * every string near its maximum, lengths that depend on v. */
static void write_long(sr_registry *r, const uuid_t id, unsigned v)
{
	sr_quality q[SR_MAX_QUALITIES];
	char path[SR_PATH_MAX + 1];
	memset(q, 0, sizeof(q));
	for (unsigned k = 0; k < SR_MAX_QUALITIES; k++) {
		memset(q[k].level, 'a' + (int)k, SR_LEVEL_MAX - (v + k) % 4);
		memset(q[k].codec, 'c', SR_CODEC_MAX - v % 3);
		memset(q[k].segment_path, 's', SR_VARIANT_PATH_MAX - (v + k) % 9);
		memset(q[k].playlist_path, 'p', SR_VARIANT_PATH_MAX - v % 5);
		q[k].bitrate_kbps = v * 100 + k;
	}
	assert_int_equal(sr_session_set_qualities(r, id, q, SR_MAX_QUALITIES), 0);
	memset(path, 'd', SR_PATH_MAX - v % 7);
	path[SR_PATH_MAX - v % 7] = '\0';
	assert_int_equal(sr_session_set_paths(r, id, path, path), 0);
}

/* Every word of slot's record (sequence, head, tail) into w. */
static void record_words(sr_registry *r, uint32_t slot, uint64_t *w)
{
	w[0] = atomic_load(&r->cold[slot].seq);
	for (size_t i = 0; i < SR_COLD_WORDS; i++)
		w[1 + i] = atomic_load(sr__cold_word(r, slot, i));
}

/* ctx: the srt_json_batch the info's JSON goes into. */
static int json_info_ok(const sr_session_info *in, void *ctx)
{
	char *json = NULL;
	assert_non_null(memchr(in->output_dir, '\0', sizeof(in->output_dir)));
	assert_non_null(memchr(in->segment_path, '\0', sizeof(in->segment_path)));
	assert_non_null(memchr(in->last_error, '\0', sizeof(in->last_error)));
	assert_true(in->n_qualities <= SR_MAX_QUALITIES);
	for (unsigned i = 0; i < SR_MAX_QUALITIES; i++) {
		assert_non_null(
		    memchr(in->qualities[i].level, '\0', sizeof(in->qualities[i].level)));
		assert_non_null(
		    memchr(in->qualities[i].codec, '\0', sizeof(in->qualities[i].codec)));
		assert_non_null(memchr(in->qualities[i].segment_path, '\0',
		                       sizeof(in->qualities[i].segment_path)));
		assert_non_null(memchr(in->qualities[i].playlist_path, '\0',
		                       sizeof(in->qualities[i].playlist_path)));
	}
	assert_int_equal(sr_session_info_json(in, &json), 0);
	srt_json_batch_add(ctx, json);
	free(json);
	return 0;
}

/*
 * Hostile bytes in one long record (lengths, variant parts and strings on
 * both sides of the head/tail boundary, NULs): readers of it stay bounded
 * and terminated, and every writer (set_*, record_error, recover, delete)
 * works inside that record only: the records of the other sessions, head
 * and tail, keep every word.  Capacity 3: the walk's bitmap is one partial
 * word and the record under attack is in the last slot.
 */
static void test_hostile_long_record_writers(void **state)
{
	(void)state;
	struct srt_fx fx;
	unsigned seed = (unsigned)getpid() * 13u;
	uuid_t ids[3];
	uint64_t keep[3][1 + SR_COLD_WORDS], now[1 + SR_COLD_WORDS];
	struct srt_json_batch jb = {0};
	assert_int_equal(srt_create(&fx, 3, 2, 4), 0);
	sr_registry *r = fx.reg;
	for (int i = 0; i < 3; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(r, ids[i], NULL), 0);
		write_long(r, ids[i], (unsigned)i);
	}
	uint32_t slot[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(sr__resolve(r, ids[i], &slot[i], &(uint32_t){0}), 0);
	assert_int_equal(slot[2], 2);
	const uuid_t *victim = &ids[2];
	unsigned corrupt = 0;
	for (int iter = 0; iter < 400; iter++) {
		write_long(r, *victim, (unsigned)iter);
		for (int i = 0; i < 3; i++)
			record_words(r, slot[i], keep[i]);
		/* Bytes near the boundary (the head is 15 words), the length
		 * word and anywhere in the record. */
		for (int n = 1 + rand_r(&seed) % 6; n > 0; n--) {
			size_t byte;
			switch (rand_r(&seed) % 3) {
			case 0:
				byte = SR_COLD_HEAD_WORDS * 8 - 16 + (size_t)(rand_r(&seed) % 32);
				break;
			case 1:
				byte = 5 * 8 + 4 + (size_t)(rand_r(&seed) % 4);
				break;
			default:
				byte = (size_t)rand_r(&seed) % (SR_COLD_WORDS * 8);
			}
			static const uint8_t vals[] = {0, 0xff, 0x80, 0x7f, 1, 8, 9, 16, 127, 128};
			uint8_t v = rand_r(&seed) % 2 ? vals[rand_r(&seed) % sizeof(vals)]
			                              : (uint8_t)rand_r(&seed);
			_Atomic uint64_t *w = sr__cold_word(r, slot[2], byte / 8);
			uint64_t x = atomic_load(w);
			memcpy((unsigned char *)&x + byte % 8, &v, 1);
			atomic_store(w, x);
		}
		sr_session_info info;
		int rc = sr_session_snapshot(r, *victim, &info);
		assert_true(rc == 0 || rc == -SR_ECORRUPT);
		if (rc == 0)
			json_info_ok(&info, &jb);
		else
			corrupt++;
		assert_int_equal(sr_session_foreach(r, json_info_ok, &jb), 0);
		char *text = NULL;
		assert_int_equal(sr_registry_json(r, &text), 0);
		srt_json_batch_add(&jb, text);
		free(text);
		assert_int_equal(sr_registry_prometheus(r, &text), 0);
		free(text);
		int bad = sr_registry_verify(r);
		assert_true(bad == 0 || bad == 1);
		/* The writers: refused on a corrupt record, else they rewrite it. */
		int w1 = sr_session_record_error(r, *victim, "hostile");
		int w2 = sr_session_set_pid(r, *victim, 1, 2);
		assert_true(w1 == rc && w2 == rc);
		assert_int_equal(sr_registry_recover(r, NULL), 0);
		if (rc == 0) {
			write_long(r, *victim, (unsigned)iter + 1);
			assert_int_equal(sr_session_snapshot(r, *victim, &info), 0);
			assert_string_equal(info.last_error, "hostile");
			assert_int_equal(info.pid, 1);
			assert_int_equal(sr_registry_verify(r), 0);
		}
		for (int i = 0; i < 2; i++) {
			record_words(r, slot[i], now);
			assert_memory_equal(now, keep[i], sizeof(now));
		}
		/* A refused record is put back by hand, so the next round
		 * starts from a sound one. */
		for (size_t i = 0; rc != 0 && i < SR_COLD_WORDS; i++)
			atomic_store(sr__cold_word(r, slot[2], i), keep[2][1 + i]);
	}
	print_message("%u of 400 garbled records were refused as corrupt\n", corrupt);
	assert_true(corrupt > 0);
	assert_true(srt_json_batch_valid(&jb));
	assert_int_equal(sr_session_delete(r, *victim), 0);
	assert_int_equal(sr_registry_verify(r), 0);
	for (int i = 0; i < 2; i++) {
		record_words(r, slot[i], now);
		assert_memory_equal(now, keep[i], sizeof(now));
	}
	sr_registry_close(r);
	sr_registry_unlink(fx.name);
	srt_cleanup_names();
}

static int count_info(const sr_session_info *in, void *ctx)
{
	(void)in;
	(*(unsigned *)ctx)++;
	return 0;
}

static int count_brief(const sr_session_brief *b, void *ctx)
{
	(void)b;
	(*(unsigned *)ctx)++;
	return 0;
}

/*
 * Every cell of both index arrays garbage: all ones, slot + 2 at and past
 * capacity + 2 under every tag, slot bits 0 and 1 under a tag (slot + 2
 * wrapping below zero), random words.  Lookups only miss (no hang, no slot
 * outside the table), walks do not use the index, verify counts every
 * session it cannot find, and the next insert, finding no free cell,
 * rebuilds the index from the hot records, after which every session is
 * found again.
 */
static void test_hostile_index_entries(void **state)
{
	(void)state;
	unsigned seed = (unsigned)getpid() * 31u;
	for (int pattern = 0; pattern < 6; pattern++) {
		struct srt_fx fx;
		uuid_t ids[6];
		assert_int_equal(srt_create(&fx, 6, 2, 4), 0);
		sr_registry *r = fx.reg;
		for (int i = 0; i < 5; i++) {
			srt_uuid(ids[i]);
			assert_int_equal(sr_session_insert(r, ids[i], NULL), 0);
		}
		for (int a = 0; a < 2; a++) {
			for (uint32_t i = 0; i < r->index_size; i++) {
				uint32_t tag = (uint32_t)rand_r(&seed) % 128u << SR_IX_SLOT_BITS, e;
				switch (pattern) {
				case 0:
					e = UINT32_MAX;
					break;
				case 1:
					e = tag | (r->capacity + 2);
					break;
				case 2:
					e = tag | (r->capacity + 2 + i);
					break;
				case 3:
					e = tag | (i % 2); /* slot + 2 of 0 or 1: a wrapped slot */
					break;
				case 4:
					e = SR_IX_SLOT_MASK;
					break;
				default:
					e = (uint32_t)rand_r(&seed) << 1 ^ (uint32_t)rand_r(&seed);
				}
				/* Empty and tombstone cells would end or skip probes
				 * honestly; this is about garbage. */
				if (e <= SR_IX_TOMB)
					e = UINT32_MAX;
				atomic_store(&r->index[a][i], e);
			}
		}
		for (int i = 0; i < 5; i++) {
			int rc = sr_session_find(r, ids[i], NULL);
			/* Random words may name the right slot by chance. */
			assert_true(rc == -ENOENT || (pattern == 5 && rc == 0));
		}
		unsigned walked = 0, scanned = 0;
		assert_int_equal(sr_session_foreach(r, count_info, &walked), 0);
		assert_int_equal(sr_session_scan(r, count_brief, &scanned), 0);
		assert_int_equal(walked, 5);
		assert_int_equal(scanned, 5);
		int bad = sr_registry_verify(r);
		assert_true(bad > 0 || pattern == 5);
		assert_true(bad <= 5);
		srt_uuid(ids[5]);
		assert_int_equal(sr_session_insert(r, ids[5], NULL), 0);
		for (int i = 0; i < 6; i++)
			assert_int_equal(sr_session_find(r, ids[i], NULL), 0);
		assert_int_equal(sr_registry_verify(r), 0);
		sr_registry_close(r);
		sr_registry_unlink(fx.name);
	}
	srt_cleanup_names();
}

/* A record corrupted on purpose is reported by verify and sanitised for readers. */
static void test_verify_finds_bad_records(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[3];
	sr_session_info info;

	populate(fx->reg, ids, 3);
	assert_int_equal(sr_registry_verify(fx->reg), 0);
	uint32_t s0, s1;
	assert_int_equal(sr_session_snapshot(fx->reg, ids[0], &info), 0);
	s0 = info.slot;
	assert_int_equal(sr_session_snapshot(fx->reg, ids[1], &info), 0);
	s1 = info.slot;

	/* A NUL inside a packed string, which no writer puts there. */
	poke_stream_byte(fx->reg, s0, 2, 0);
	assert_int_equal(sr_registry_verify(fx->reg), 1);
	int rc = sr_session_snapshot(fx->reg, ids[0], &info);
	if (rc == 0)
		assert_non_null(memchr(info.output_dir, '\0', sizeof(info.output_dir)));
	char *json = NULL;
	assert_int_equal(sr_registry_json(fx->reg, &json), 0);
	assert_true(srt_json_valid(json));
	free(json);

	/* An impossible state in another. */
	uint64_t sw = atomic_load(&fx->reg->hot[s1].state);
	atomic_store(&fx->reg->hot[s1].state, (sw & ~0xffull) | 0x40);
	assert_int_equal(sr_registry_verify(fx->reg), 2);
	sr_state st;
	rc = sr_session_get_state(fx->reg, ids[1], &st);
	assert_true(rc < 0 || st < SR_STATE_COUNT);
	sr_registry_stats stats;
	assert_int_equal(sr_registry_stats_get(fx->reg, &stats), 0);
	assert_true(stats.sessions <= 3);
}

/* ---- Garbled writer-lock bytes -------------------------------------------
 * The lock sits in the unchecksummed part of the header.  Whatever its words
 * hold, a read-write attach and a write must never abort or hang: a lock no
 * live thread can hold is repaired (counted in locks_repaired), one a live
 * thread may hold is refused with a clear error. */

/* glibc's kind bits (nptl pthreadP.h): priority inherit, priority protect. */
#define KIND_PI 32
#define KIND_PP 64

enum lock_field { LF_KIND, LF_WORD, LF_OWNER };

struct garble {
	const char *what;
	enum lock_field field;
	int value;
	bool self;       /* the value is the attacher's own pid (its main thread id) */
	bool refused;    /* a live thread may hold it: the write is refused */
	bool idle_owner; /* the lock word names the idle process as well */
};

struct garble_arg {
	char name[SR_NAME_MAX + 1];
	const struct garble *g;
	off_t off;
};

static off_t lock_field_off(enum lock_field f)
{
	pthread_mutex_t m;
	const char *base = (const char *)&m;
	const char *p = f == LF_KIND   ? (const char *)&m.__data.__kind
	                : f == LF_WORD ? (const char *)&m.__data.__lock
	                               : (const char *)&m.__data.__owner;
	return (off_t)(offsetof(struct sr_header, lock) + (size_t)(p - base));
}

/* In a child, so an abort shows as a signal instead of killing the runner. */
static int garbled_attach(void *p)
{
	struct garble_arg *a = p;
	if (a->g->self) {
		struct srt_fx fx;
		memcpy(fx.name, a->name, sizeof(fx.name));
		int me = (int)getpid();
		poke(&fx, a->off, &me, sizeof(me));
	}
	sr_registry *rw = NULL;
	if (sr_registry_attach(a->name, 0, &rw) != 0)
		return 10;
	uuid_t id;
	srt_uuid(id);
	int rc = sr_session_insert(rw, id, NULL);
	if (a->g->refused) {
		if (rc != -SR_ECORRUPT || !strstr(sr_errdetail(), "garbled"))
			return 11;
	} else if (rc != 0) {
		return 12;
	} else if (sr_session_delete(rw, id) != 0 || sr_session_insert(rw, id, NULL) != 0) {
		return 13; /* the repaired lock works on and on */
	}
	sr_registry_recover(rw, NULL);
	sr_registry_close(rw);
	return 0;
}

static int idle_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void test_garbled_lock(void **state)
{
	(void)state;
	pthread_mutex_t probe;
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&probe, &at);
	pthread_mutexattr_destroy(&at);
	int kind = probe.__data.__kind;
	pthread_mutex_destroy(&probe);
	/* A pid that no longer exists: a child that exited and was reaped. */
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	/* A live process forked before any of these registries exists, so it
	 * maps none of them: naming it as the holder is garbage too. */
	pid_t idle = srt_spawn(idle_forever, NULL);
	assert_true(idle > 0);
	const struct garble cases[] = {
	    {.what = "kind with the priority-protect bit",
	     .field = LF_KIND,
	     .value = kind | KIND_PP},
	    {.what = "priority-protect kind, ceiling bits set",
	     .field = LF_KIND,
	     .value = (int)0xfff80000u | 0x40},
	    {.what = "priority-inherit kind", .field = LF_KIND, .value = kind | KIND_PI},
	    {.what = "plain private kind", .field = LF_KIND, .value = 0},
	    {.what = "random kind", .field = LF_KIND, .value = (int)0xdeadbeefu},
	    {.what = "recursive, not robust",
	     .field = LF_KIND,
	     .value = PTHREAD_MUTEX_RECURSIVE_NP},
	    {.what = "owner thread that never existed", .field = LF_WORD, .value = 0x3ffffff0},
	    {.what = "owner of a reaped process", .field = LF_WORD, .value = (int)gone},
	    {.what = "owner a live process that does not map the registry",
	     .field = LF_WORD,
	     .value = (int)idle},
	    {.what = "garbled kind, owner a live process that does not map the registry",
	     .field = LF_KIND,
	     .value = (int)0xdeadbeefu,
	     .idle_owner = true},
	    {.what = "waiters flag, no owner", .field = LF_WORD, .value = (int)0x80000000u},
	    {.what = "the attacher's own thread id", .field = LF_WORD, .value = 0, .self = true},
	    {.what = "owner word says not recoverable", .field = LF_OWNER, .value = 0x7ffffffe},
	    {.what = "garbled kind while a live thread holds it",
	     .field = LF_KIND,
	     .value = (int)0xdeadbeefu,
	     .self = false,
	     .refused = true},
	};
	for (size_t i = 0; i < SRT_ARRAY_LEN(cases); i++) {
		const struct garble *g = &cases[i];
		struct srt_fx fx;
		uuid_t ids[2];
		assert_int_equal(srt_create(&fx, 4, 4, 4), 0);
		populate(fx.reg, ids, 2);
		sr_registry_stats before;
		assert_int_equal(sr_registry_stats_get(fx.reg, &before), 0);
		struct garble_arg a = {.g = g, .off = lock_field_off(g->field)};
		memcpy(a.name, fx.name, sizeof(a.name));
		poke(&fx, a.off, &g->value, sizeof(g->value));
		if (g->idle_owner) {
			int who = (int)idle;
			poke(&fx, lock_field_off(LF_WORD), &who, sizeof(who));
		}
		if (g->refused) {
			/* This live process (the test runner) named as the holder. */
			int me = (int)getpid();
			poke(&fx, lock_field_off(LF_WORD), &me, sizeof(me));
		}
		fflush(NULL);
		pid_t pid = srt_spawn(garbled_attach, &a);
		int code = srt_wait(pid);
		if (code != 0)
			fail_msg("%s: attacher exited with %d (134 = abort)", g->what, code);
		if (!g->refused) {
			sr_registry_stats after;
			assert_int_equal(sr_registry_stats_get(fx.reg, &after), 0);
			if (after.locks_repaired <= before.locks_repaired)
				fail_msg("%s: no repair counted", g->what);
			/* And this process's own handle writes through it too. */
			uuid_t extra;
			srt_uuid(extra);
			assert_int_equal(sr_session_insert(fx.reg, extra, NULL), 0);
		}
		assert_int_equal(sr_registry_verify(fx.reg), 0);
		sr_registry_close(fx.reg);
		sr_registry_unlink(fx.name);
	}
	kill(idle, SIGKILL);
	assert_int_equal(srt_wait(idle), 128 + SIGKILL);
	srt_cleanup_names();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_wrong_magic, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_version, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_empty_file, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_extended, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_random_file, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_flipped_header_bytes, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_geometry, srt_setup_small, srt_teardown),
	    cmocka_unit_test(test_not_a_regular_file),
	    cmocka_unit_test(test_fuzz_header),
	    cmocka_unit_test(test_garbled_lock),
	    cmocka_unit_test(test_fuzz_body),
	    cmocka_unit_test_setup_teardown(test_garbled_packed_lengths, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_verify_finds_bad_records, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test(test_hostile_long_record_writers),
	    cmocka_unit_test(test_hostile_index_entries),
	};
	/* SRT_FILTER=test_fuzz_header runs one test, e.g. in a loop of 200. */
	if (getenv("SRT_FILTER"))
		cmocka_set_test_filter(getenv("SRT_FILTER"));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_kill_children();
	srt_cleanup_names();
	return rc;
}
