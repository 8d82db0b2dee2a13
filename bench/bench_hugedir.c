/*
 * A directory whose registries get huge pages, for the capacity scenario's
 * second pass.  Debian leaves /dev/shm on 4 KiB pages (tmpfs huge=never and
 * shmem_enabled "never"), so the harness, when it runs as root, mounts its
 * own tmpfs with huge=within_size in a private mount namespace: nobody else
 * sees it, and it vanishes with the harness however it exits.  Its mount
 * point is a directory of the shared /tmp, though, which only an unmount
 * and rmdir remove: the path is kept for the interrupted harness.
 */
#include "bench_hugedir.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* The mount point while mounted, else empty. */
static char mounted[64];

/* The reason in why, with errno's text when err is set. */
static int why_fail(char *why, size_t len, const char *what, const char *arg, int err)
{
	snprintf(why, len, "%s%s%s%s", what, arg, err ? ": " : "", err ? strerror(err) : "");
	return -1;
}

/* "[deny]" or "[force]" override every mount's huge= option. */
static bool shmem_policy_denies(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof buf, f))
		buf[0] = 0;
	fclose(f);
	return strstr(buf, "[deny]") != NULL;
}

int bench_huge_dir_open(char *dir, size_t len, char *why, size_t whylen)
{
	if (geteuid() != 0)
		return why_fail(why, whylen,
		                "not root, so the harness cannot mount a tmpfs with "
		                "huge=within_size (mount one and point STREAMREG_DIR at it)",
		                "", 0);
	if (shmem_policy_denies())
		return why_fail(why, whylen,
		                "/sys/kernel/mm/transparent_hugepage/shmem_enabled is [deny]: no "
		                "tmpfs gets huge pages",
		                "", 0);
	if (unshare(CLONE_NEWNS) != 0)
		return why_fail(why, whylen, "unshare(CLONE_NEWNS)", "", errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return why_fail(why, whylen, "making / private in the new namespace", "", errno);
	/* The pid names the run the mount point belongs to. */
	if (snprintf(mounted, sizeof mounted, "/tmp/srbench-huge-%d-XXXXXX", (int)getpid()) >=
	        (int)sizeof mounted ||
	    !mkdtemp(mounted)) {
		int e = errno;
		mounted[0] = 0;
		return why_fail(why, whylen, "mkdtemp /tmp/srbench-huge-*", "", e);
	}
	/* size= is a limit, not a reservation: the largest pass needs ~4 GiB. */
	if (mount("srbench-huge", mounted, "tmpfs", MS_NOSUID | MS_NODEV,
	          "huge=within_size,size=50%,mode=0700") != 0) {
		int e = errno;
		rmdir(mounted);
		why_fail(why, whylen, "mount -t tmpfs -o huge=within_size on ", mounted, e);
		mounted[0] = 0;
		return -1;
	}
	if (snprintf(dir, len, "%s", mounted) >= (int)len) {
		bench_huge_dir_close();
		return why_fail(why, whylen, "the mount point's path is too long", "", 0);
	}
	return 0;
}

void bench_huge_dir_close(void)
{
	if (!mounted[0])
		return;
	umount2(mounted, MNT_DETACH);
	rmdir(mounted);
	mounted[0] = 0;
}
