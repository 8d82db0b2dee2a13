/* STREAMREG_DIR: registries in another directory, found the same way by
 * create, attach, unlink and sr_registry_path; bad values refused; and on a
 * tmpfs mounted with huge=within_size, 2 MiB pages reported. */
#include "support/srt.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/dev/shm/srt-regdir-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv(SR_DIR_ENV, dir, 1);
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	unsetenv(SR_DIR_ENV);
	rmdir(dir);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void test_registry_in_dir(void **state)
{
	(void)state;
	char name[SR_NAME_MAX + 1], path[SR_DIR_MAX + SR_NAME_MAX + 2], want[256], shm[256];
	srt_unique_name(name);
	snprintf(want, sizeof want, "%s/%s", dir, name);
	snprintf(shm, sizeof shm, "/dev/shm/%s", name);

	assert_int_equal(sr_registry_path(name, path, sizeof path), 0);
	assert_string_equal(path, want);
	sr_registry *rw = NULL, *ro = NULL;
	assert_int_equal(sr_registry_create(name, NULL, &rw), 0);
	assert_true(exists(want));
	assert_false(exists(shm));
	uuid_t id;
	srt_uuid(id);
	assert_int_equal(sr_session_insert(rw, id, "/srv/a"), 0);
	assert_int_equal(sr_registry_attach(name, SR_ATTACH_READONLY, &ro), 0);
	assert_int_equal(sr_session_find(ro, id, NULL), 0);
	assert_int_equal(sr_registry_replaced(ro), 0);
	size_t ps = 0;
	assert_int_equal(sr_registry_page_size(ro, &ps), 0);
	assert_true(ps >= 4096 && (ps & (ps - 1)) == 0);
	assert_int_equal(sr_registry_create(name, NULL, &(sr_registry *){NULL}), -EEXIST);

	/* Another directory is another namespace of names. */
	unsetenv(SR_DIR_ENV);
	assert_int_equal(sr_registry_attach(name, SR_ATTACH_READONLY, &(sr_registry *){NULL}),
	                 -ENOENT);
	setenv(SR_DIR_ENV, dir, 1);

	sr_registry_close(ro);
	sr_registry_close(rw);
	assert_int_equal(sr_registry_unlink(name), 0);
	assert_false(exists(want));
	/* No private build file left behind. */
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
}

static void test_trailing_slash_and_default(void **state)
{
	(void)state;
	char path[SR_DIR_MAX + SR_NAME_MAX + 2], want[128];
	snprintf(want, sizeof want, "%s/x", dir);
	char slashed[80];
	snprintf(slashed, sizeof slashed, "%s//", dir);
	setenv(SR_DIR_ENV, slashed, 1);
	assert_int_equal(sr_registry_path("x", path, sizeof path), 0);
	assert_string_equal(path, want);
	setenv(SR_DIR_ENV, "", 1);
	assert_int_equal(sr_registry_path("x", path, sizeof path), 0);
	assert_string_equal(path, SR_DIR_DEFAULT "/x");
	setenv(SR_DIR_ENV, dir, 1);
}

static void test_bad_dirs(void **state)
{
	(void)state;
	char path[SR_DIR_MAX + SR_NAME_MAX + 2], longdir[SR_DIR_MAX + 8];
	sr_registry *r = NULL;

	setenv(SR_DIR_ENV, "relative/dir", 1);
	assert_int_equal(sr_registry_path("x", path, sizeof path), -EINVAL);
	assert_non_null(strstr(sr_errdetail(), SR_DIR_ENV));
	assert_int_equal(sr_registry_create("x", NULL, &r), -EINVAL);
	assert_int_equal(sr_registry_attach("x", 0, &r), -EINVAL);
	assert_int_equal(sr_registry_unlink("x"), -EINVAL);

	memset(longdir, 'a', sizeof longdir - 1);
	longdir[0] = '/';
	longdir[sizeof longdir - 1] = '\0';
	setenv(SR_DIR_ENV, longdir, 1);
	assert_int_equal(sr_registry_path("x", path, sizeof path), -ENAMETOOLONG);

	setenv(SR_DIR_ENV, "/nonexistent-srt-dir", 1);
	assert_int_equal(sr_registry_create("x", NULL, &r), -ENOENT);
	assert_null(r);

	setenv(SR_DIR_ENV, dir, 1);
	assert_int_equal(sr_registry_path("x", path, 4), -ENAMETOOLONG);
	assert_int_equal(sr_registry_path("a/b", path, sizeof path), -EINVAL);
}

/* In a private mount namespace: a tmpfs with huge=within_size, where a
 * registry larger than a huge page must be mapped with huge pages. */
static int huge_child(void *arg)
{
	(void)arg;
	char mnt[] = "/tmp/srt-huge-XXXXXX";
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return 77;
	if (!mkdtemp(mnt))
		return 77;
	if (mount("srt-huge", mnt, "tmpfs", 0, "huge=within_size,size=256m") != 0) {
		rmdir(mnt);
		return 77;
	}
	setenv(SR_DIR_ENV, mnt, 1);
	sr_create_options o;
	sr_create_options_init(&o);
	o.capacity = 16384;
	sr_registry *r = NULL;
	int rc = sr_registry_create("hugetest", &o, &r) == 0 ? 0 : 1;
	size_t ps = 0;
	if (rc == 0 && (sr_registry_page_size(r, &ps) != 0 || ps != (size_t)2 << 20))
		rc = 2;
	sr_registry_close(r);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	return rc;
}

static void test_huge_pages(void **state)
{
	(void)state;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	char policy[128] = "";
	if (f) {
		if (!fgets(policy, sizeof policy, f))
			policy[0] = 0;
		fclose(f);
	}
	if (geteuid() != 0 || !f || strstr(policy, "[deny]")) {
		printf("skipped: needs root and a kernel with shmem THP (policy '%s')\n", policy);
		skip();
	}
	pid_t pid = srt_spawn(huge_child, NULL);
	assert_true(pid > 0);
	int rc = srt_wait(pid);
	if (rc == 77) {
		printf("skipped: cannot mount a private tmpfs here\n");
		skip();
	}
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_in_dir),
	    cmocka_unit_test(test_trailing_slash_and_default),
	    cmocka_unit_test(test_bad_dirs),
	    cmocka_unit_test(test_huge_pages),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
