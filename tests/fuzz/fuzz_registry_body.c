/*
 * Target registry_body: a valid header over hostile bytes.  A real registry
 * (sessions, variants, viewers, errors) is built once and copied; the fuzz
 * input then either patches that image or fills its whole body, always
 * after the checksummed part of the header, so attach succeeds and every
 * read-only reader walks the hostile index, records, process table and
 * leases.  Input: byte 0 chooses the mode; mode 0: (offset:u32le, len:u8,
 * bytes) patches; mode 1: the rest of the input repeated over the body.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_segment.h"
#include "sr_internal.h"

static uint8_t *image;
static size_t image_size;
/* Bytes before this are covered by the header checksum. */
static const size_t body_start = offsetof(struct sr_header, doorbell);

/* Records that fill their head and reach into their tail (session 4: every
 * string at its maximum, eight variants), so that patches land on lengths,
 * variant parts and strings on both sides of the head/tail boundary. */
static void long_record(sr_registry *reg, const uuid_t id, unsigned i)
{
	sr_quality q[SR_MAX_QUALITIES];
	char path[SR_PATH_MAX + 1], err[SR_ERROR_MAX + 1];
	size_t nq = i == 4 ? SR_MAX_QUALITIES : 3, cut = i == 4 ? 0 : 40;
	memset(q, 0, sizeof(q));
	for (size_t k = 0; k < nq; k++) {
		memset(q[k].level, 'l', SR_LEVEL_MAX - cut / 8);
		memset(q[k].codec, 'c', SR_CODEC_MAX - cut / 8);
		memset(q[k].segment_path, 's', SR_VARIANT_PATH_MAX - cut);
		memset(q[k].playlist_path, 'p', SR_VARIANT_PATH_MAX - cut);
		q[k].bitrate_kbps = (uint32_t)(1000 * k);
		q[k].width = 1920;
		q[k].height = 1080;
	}
	if (sr_session_set_qualities(reg, id, q, nq) != 0)
		abort();
	memset(path, 'd', sizeof(path) - 1 - cut);
	path[sizeof(path) - 1 - cut] = '\0';
	memset(err, 'e', sizeof(err) - 1 - cut);
	err[sizeof(err) - 1 - cut] = '\0';
	if (sr_session_set_paths(reg, id, path, path) != 0 ||
	    sr_session_record_error(reg, id, err) != 0)
		abort();
}

static void build_image(void)
{
	char name[SR_NAME_MAX + 1];
	snprintf(name, sizeof(name), "srfuzzimg_%d", (int)getpid());
	sr_registry_unlink(name);
	sr_create_options o;
	sr_create_options_init(&o);
	o.capacity = 8;
	o.max_procs = 4;
	o.leases_per_proc = 8;
	sr_registry *reg;
	if (sr_registry_create(name, &o, &reg) != 0)
		abort();
	for (unsigned i = 0; i < 5; i++) {
		uuid_t id = {0};
		id[0] = (unsigned char)(0x10 + i);
		id[15] = (unsigned char)i;
		if (sr_session_insert(reg, id, "/srv/hls/chan") != 0)
			abort();
		sr_quality q[2];
		memset(q, 0, sizeof(q));
		snprintf(q[0].level, sizeof(q[0].level), "360p");
		snprintf(q[1].level, sizeof(q[1].level), "180p");
		snprintf(q[0].codec, sizeof(q[0].codec), "h264");
		snprintf(q[0].playlist_path, sizeof(q[0].playlist_path), "360p/index.m3u8");
		sr_session_set_qualities(reg, id, q, 2);
		sr_session_record_error(reg, id, "ffmpeg exited with status 1");
		if (i >= 3)
			long_record(reg, id, i);
		sr_session_transition(reg, id, SR_STATE_IDLE, SR_STATE_STARTING);
		for (unsigned c = 0; c < i; c++)
			sr_session_add_client(reg, id);
		sr_session_set_pid(reg, id, getpid(), sr_pid_start_time(getpid()));
	}
	/* One deleted session leaves a tombstone in the index. */
	uuid_t gone = {0x99};
	sr_session_insert(reg, gone, NULL);
	sr_session_delete(reg, gone);
	sr_registry_stats st;
	sr_registry_stats_get(reg, &st);
	image_size = st.segment_size;
	image = malloc(image_size);
	char path[SR_NAME_MAX + 16];
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	FILE *f = fopen(path, "rb");
	if (!image || !f || fread(image, 1, image_size, f) != image_size)
		abort();
	fclose(f);
	/* The image keeps this process's slot live with its leases held, so
	 * readers of the image sum real leases. */
	sr_registry_close(reg);
	sr_registry_unlink(name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	build_image();
	return 0;
}

static void apply_patches(uint8_t *seg, const uint8_t *p, size_t n)
{
	size_t span = image_size - body_start;
	while (n >= 5) {
		uint32_t off = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		               (uint32_t)p[3] << 24;
		size_t len = p[4];
		p += 5;
		n -= 5;
		if (len > n)
			len = n;
		size_t at = body_start + off % span;
		if (len > image_size - at)
			len = image_size - at;
		memcpy(seg + at, p, len);
		p += len;
		n -= len;
	}
}

static void fill_body(uint8_t *seg, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	for (size_t at = body_start, i = 0; at < image_size; at++, i = (i + 1) % n)
		seg[at] = p[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t *seg = malloc(image_size);
	if (!seg)
		return 0;
	memcpy(seg, image, image_size);
	if (data[0] & 1)
		fill_body(seg, data + 1, size - 1);
	else
		apply_patches(seg, data + 1, size - 1);
	int wrote = fuzz_shm_write(seg, image_size);
	free(seg);
	if (wrote != 0)
		return 0;
	sr_registry *ro = NULL;
	int rc = sr_registry_attach(fuzz_shm_name(), SR_ATTACH_READONLY, &ro);
	/* The header is the library's own: attach must accept it. */
	FUZZ_REQUIRE(rc == 0);
	uint8_t id[16] = {0x10};
	if (size >= 17)
		memcpy(id, data + 1, 16);
	fuzz_read_everything(ro, id);
	sr_registry_close(ro);
	sr_registry_unlink(fuzz_shm_name());
	return 0;
}
