/* Path confinement: hostile channel names and symlinks never lead the
 * reaper outside the output directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "paths.h"
#include "st_chandir.h"

#define ID "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a"

struct fx {
	char root[64]; /* holds out/ and victim/ */
	char out[128];
	char victim[128];
	int outfd;
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	*state = f;
	snprintf(f->root, sizeof f->root, "/tmp/rp_paths_XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	snprintf(f->out, sizeof f->out, "%s/out", f->root);
	snprintf(f->victim, sizeof f->victim, "%s/victim", f->root);
	if (mkdir(f->victim, 0755) < 0)
		return -1;
	char p[256];
	snprintf(p, sizeof p, "%s/precious", f->victim);
	write_file(p, "keep me");
	char err[256];
	f->outfd = rp_outdir_open(f->out, true, err, sizeof err);
	if (f->outfd < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[256];
	close(f->outfd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void assert_victim_intact(struct fx *f)
{
	char p[256];
	snprintf(p, sizeof p, "%s/precious", f->victim);
	assert_true(exists(p));
}

static void test_names(void **state)
{
	(void)state;
	assert_true(st_chan_name_valid(ID));
	const char *bad[] = {"",
	                     ".",
	                     "..",
	                     "../../../../etc/passwd",
	                     "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a/..",
	                     "0b0e5d1c/4c1f-4d8e-9a3e-2f5b8c7d6e1a1234",
	                     "0B0E5D1C-4C1F-4D8E-9A3E-2F5B8C7D6E1A",
	                     "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1",
	                     "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1aa",
	                     "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1.",
	                     "0b0e5d1c44c1f-4d8e-9a3e-2f5b8c7d6e1a",
	                     "............................/......."};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(st_chan_name_valid(bad[i]));
	assert_false(st_chan_name_valid(NULL));
}

static void test_hostile_names_refused(void **state)
{
	struct fx *f = *state;
	struct rp_ladder l;
	char err[128];
	assert_int_equal(rp_ladder_parse("90p:100k", &l, err, sizeof err), 0);
	assert_int_equal(rp_chan_dir_remove(f->outfd, "../victim"), -EINVAL);
	assert_int_equal(rp_chan_dir_remove(f->outfd, ".."), -EINVAL);
	assert_int_equal(rp_chan_dir_create(f->outfd, "../victim", &l), -EINVAL);
	assert_int_equal(rp_chan_dir_open(f->outfd, "/etc"), -EINVAL);
	assert_victim_intact(f);
}

static void test_create_remove(void **state)
{
	struct fx *f = *state;
	struct rp_ladder l;
	char err[128], p[256];
	assert_int_equal(rp_ladder_parse("90p:100k,72p:60k", &l, err, sizeof err), 0);
	int fd = rp_chan_dir_create(f->outfd, ID, &l);
	assert_true(fd >= 0);
	assert_int_equal(rp_chan_ready(fd, &l), 0);
	/* what ffmpeg writes, in the order it writes it */
	snprintf(p, sizeof p, "%s/%s/master.m3u8", f->out, ID);
	write_file(p, "#EXTM3U\n");
	snprintf(p, sizeof p, "%s/%s/90p/index.m3u8", f->out, ID);
	write_file(p, "#EXTM3U\n#EXTINF:1.0,\nseg_00000.ts\n");
	assert_int_equal(rp_chan_ready(fd, &l), 0);
	snprintf(p, sizeof p, "%s/%s/72p/index.m3u8", f->out, ID);
	write_file(p, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n");
	assert_int_equal(rp_chan_ready(fd, &l), 0); /* no complete segment yet */
	write_file(p, "#EXTM3U\n#EXTINF:1.0,\nseg_00000.ts\n");
	assert_int_equal(rp_chan_ready(fd, &l), 1);
	snprintf(p, sizeof p, "%s/%s/72p/seg_00000.ts", f->out, ID);
	write_file(p, "x");
	close(fd);
	/* creating again starts from an empty directory */
	fd = rp_chan_dir_create(f->outfd, ID, &l);
	assert_true(fd >= 0);
	assert_false(exists(p));
	close(fd);
	assert_int_equal(rp_chan_dir_remove(f->outfd, ID), 0);
	snprintf(p, sizeof p, "%s/%s", f->out, ID);
	assert_false(exists(p));
	assert_int_equal(rp_chan_dir_remove(f->outfd, ID), 0); /* absent is fine */
}

static void test_symlinks_not_followed(void **state)
{
	struct fx *f = *state;
	struct rp_ladder l;
	char err[128], p[256], q[256];
	assert_int_equal(rp_ladder_parse("90p:100k", &l, err, sizeof err), 0);

	/* the channel directory itself is a symlink to the victim */
	snprintf(p, sizeof p, "%s/%s", f->out, ID);
	assert_int_equal(symlink(f->victim, p), 0);
	int r0 = rp_chan_dir_open(f->outfd, ID);
	assert_true(r0 == -ELOOP || r0 == -ENOTDIR);
	assert_int_equal(rp_chan_dir_remove(f->outfd, ID), 0);
	assert_false(exists(p)); /* the link is gone ... */
	assert_victim_intact(f); /* ... and its target untouched */

	/* links inside the channel directory: to a directory, to a file */
	int fd = rp_chan_dir_create(f->outfd, ID, &l);
	assert_true(fd >= 0);
	snprintf(p, sizeof p, "%s/%s/90p/evil", f->out, ID);
	assert_int_equal(symlink(f->victim, p), 0);
	snprintf(p, sizeof p, "%s/%s/master.m3u8", f->out, ID);
	snprintf(q, sizeof q, "%s/precious", f->victim);
	assert_int_equal(symlink(q, p), 0);
	/* a playlist that is a symlink is not read as ready */
	assert_true(rp_chan_ready(fd, &l) < 0);
	/* a variant directory that is a symlink is not entered either */
	snprintf(p, sizeof p, "%s/%s/90p", f->out, ID);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(symlink(f->victim, p), 0);
	snprintf(p, sizeof p, "%s/%s/master.m3u8", f->out, ID);
	unlink(p);
	write_file(p, "#EXTM3U\n");
	int r = rp_chan_ready(fd, &l);
	assert_true(r == -ELOOP || r == -ENOTDIR);
	close(fd);
	assert_int_equal(rp_chan_dir_remove(f->outfd, ID), 0);
	snprintf(p, sizeof p, "%s/%s", f->out, ID);
	assert_false(exists(p));
	assert_victim_intact(f);

	/* create replaces a symlink planted where the channel goes */
	assert_int_equal(symlink(f->victim, p), 0);
	fd = rp_chan_dir_create(f->outfd, ID, &l);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	close(fd);
	assert_victim_intact(f);
	snprintf(q, sizeof q, "%s/90p", f->victim);
	assert_false(exists(q)); /* the variant dir was not made in the victim */
}

static bool keep_one(const char *name, void *ctx)
{
	return strcmp(name, (const char *)ctx) == 0;
}

static void test_sweep(void **state)
{
	struct fx *f = *state;
	char p[256];
	const char *ids[] = {"11111111-1111-4111-8111-111111111111",
	                     "22222222-2222-4222-8222-222222222222",
	                     "33333333-3333-4333-8333-333333333333"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", f->out, ids[i]);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof p, "%s/%s", f->out, ids[2]);
	rmdir(p);
	assert_int_equal(symlink(f->victim, p), 0); /* a leftover link */
	snprintf(p, sizeof p, "%s/README", f->out);
	write_file(p, "not a channel");
	snprintf(p, sizeof p, "%s/notes", f->out);
	assert_int_equal(mkdir(p, 0755), 0);
	int n = rp_outdir_sweep(f->outfd, keep_one, NULL, (void *)ids[0]);
	assert_int_equal(n, 2);
	snprintf(p, sizeof p, "%s/%s", f->out, ids[0]);
	assert_true(exists(p));
	snprintf(p, sizeof p, "%s/%s", f->out, ids[1]);
	assert_false(exists(p));
	snprintf(p, sizeof p, "%s/%s", f->out, ids[2]);
	assert_false(exists(p));
	snprintf(p, sizeof p, "%s/README", f->out);
	assert_true(exists(p)); /* not channel-named: left alone */
	snprintf(p, sizeof p, "%s/notes", f->out);
	assert_true(exists(p));
	assert_victim_intact(f);
}

static void test_outdir_errors(void **state)
{
	(void)state;
	char err[256] = "";
	assert_true(rp_outdir_open("/nonexistent/dir/x", false, err, sizeof err) == -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/dir/x"));
	assert_true(rp_outdir_open("/etc/passwd", false, err, sizeof err) == -ENOTDIR);
	assert_true(rp_outdir_open("", false, err, sizeof err) == -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_hostile_names_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlinks_not_followed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	    cmocka_unit_test(test_outdir_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
