#include "setup_checks.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: become user (when root can), then do what a start does. */
static int probe_as(int outfd, const char *user)
{
	if (user && geteuid() == 0) {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			return ESRCH;
		if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(pw->pw_uid) < 0)
			return errno;
	}
	char name[64];
	snprintf(name, sizeof name, ".streamreg-probe-%ld", (long)getpid());
	if (mkdirat(outfd, name, 0755) < 0)
		return errno;
	int dfd = openat(outfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = 0;
	if (dfd < 0) {
		e = errno;
	} else {
		int fd = openat(dfd, "probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1)
			e = errno ? errno : EIO;
		if (fd >= 0)
			close(fd);
		unlinkat(dfd, "probe", 0);
		close(dfd);
	}
	if (unlinkat(outfd, name, AT_REMOVEDIR) < 0 && !e)
		e = errno;
	return e;
}

int rp_probe_outdir(int outfd, const char *outdir, const char *user, char *err, size_t errlen)
{
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, errlen, "--output-dir %s: cannot fork the probe: %s", outdir,
		         strerror(e));
		return -e;
	}
	if (pid == 0)
		_exit(probe_as(outfd, user));
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	int e = WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
	if (e == 0)
		return 0;
	char who[96];
	if (user)
		snprintf(who, sizeof who, "user %s", user);
	else
		snprintf(who, sizeof who, "uid %ld", (long)geteuid());
	snprintf(err, errlen, "--output-dir %s: the transcoders (%s) cannot create files there: %s",
	         outdir, who, e == ESRCH ? "no such user" : strerror(e));
	return -e;
}

int rp_check_capacity(sr_registry *reg, const char *name, size_t channels, char *err, size_t errlen)
{
	sr_registry_stats st;
	if (sr_registry_stats_get(reg, &st) != 0 || channels <= st.capacity)
		return 0;
	snprintf(err, errlen,
	         "the lineup lists %zu channels but registry %s holds at most %u sessions: "
	         "recreate it with --capacity %zu or more (streamreg destroy %s), or shorten "
	         "the lineup",
	         channels, name, st.capacity, channels, name);
	return -ENOSPC;
}
