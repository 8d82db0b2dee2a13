/* streamreg-reaper: setup, then the event loop in reaper.c. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "owner.h"
#include "paths.h"
#include "reaper.h"
#include "setup_checks.h"
#include "st_log.h"

/* Pipes created later must never land on 0-2, where a child's dup2 would
 * clobber them. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

static struct passwd *lookup_user(const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		st_log(LOG_ERR, "--user: no user named \"%s\"", user);
		return NULL;
	}
	if (geteuid() != 0 && pw->pw_uid != geteuid()) {
		st_log(LOG_ERR, "--user %s: only root can switch user", user);
		return NULL;
	}
	return pw;
}

/* A directory the reaper created as root belongs to the transcoders' user,
 * before the probe checks that they can write there. */
static int hand_over_outdir(const char *user, int outfd)
{
	struct passwd *pw = lookup_user(user);
	if (!pw)
		return -1;
	if (geteuid() == 0 && fchown(outfd, pw->pw_uid, pw->pw_gid) < 0) {
		st_log(LOG_ERR, "--user: cannot hand the output directory to %s: %s", user,
		       strerror(errno));
		return -1;
	}
	return 0;
}

static int drop_privileges(const char *user)
{
	struct passwd *pw = lookup_user(user);
	if (!pw)
		return -1;
	if (geteuid() != 0)
		return 0;
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		st_log(LOG_ERR, "--user %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		st_log(LOG_ERR, "--user %s: root could be regained; refusing to run", user);
		return -1;
	}
	st_log(LOG_INFO, "running as %s (uid %d, gid %d)", user, (int)pw->pw_uid, (int)pw->pw_gid);
	return 0;
}

static int setup_fds(struct reaper *r)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	/* blocked before any thread exists, so only the signalfd sees them */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	r->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r->sigfd < 0 || r->evfd < 0 || r->tfd < 0) {
		st_log(LOG_ERR, "signalfd/eventfd/timerfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct rp_config cfg;
	static struct reaper r;
	char err[1024];

	ensure_std_fds();
	int rc = rp_options_parse(argc, argv, &cfg, err, sizeof err);
	if (rc == 1)
		return 0;
	if (rc) {
		fprintf(stderr, "streamreg-reaper: %s\n", err);
		return 2;
	}
	st_log_init("streamreg-reaper", cfg.use_syslog);
	r.cfg = &cfg;
	r.outfd = r.sigfd = r.evfd = r.tfd = -1;
	if (cfg.idle_grace_ms < 3ull * cfg.hls_time * 1000)
		st_log(LOG_WARNING,
		       "--idle-grace %llu ms is under 3 segment durations (%u ms): players poll "
		       "once per segment and may be cut off between polls",
		       (unsigned long long)cfg.idle_grace_ms, 3 * cfg.hls_time * 1000);

	/* static: still reachable, not leaked, when setup fails and main returns */
	static struct st_lineup lineup;
	rc = st_lineup_load(cfg.lineup_path, cfg.lineup_flags, &lineup, err, sizeof err);
	if (rc) {
		st_log(LOG_ERR, "lineup refused: %s", err);
		return 1;
	}
	if (lineup.n > cfg.capacity) {
		if (cfg.capacity_set) {
			st_log(
			    LOG_ERR,
			    "--capacity %u is below the lineup's %zu channels: every channel needs "
			    "a session",
			    cfg.capacity, lineup.n);
			return 1;
		}
		/* only used if this reaper creates the registry */
		cfg.capacity = (uint32_t)lineup.n;
	}
	struct stat st;
	bool created = stat(cfg.output_dir, &st) < 0 && errno == ENOENT;
	r.outfd = rp_outdir_open(cfg.output_dir, true, err, sizeof err);
	if (r.outfd < 0) {
		st_log(LOG_ERR, "--output-dir: %s", err);
		return 1;
	}
	if (!realpath(cfg.output_dir, r.outdir)) {
		st_log(LOG_ERR, "--output-dir %s: %s", cfg.output_dir, strerror(errno));
		return 1;
	}
	/* one reaper per output directory: a second one would fight over the
	 * same transcoders and sweep the first one's directories */
	if (flock(r.outfd, LOCK_EX | LOCK_NB) < 0) {
		st_log(LOG_ERR, "%s is in use by another reaper (%s)", r.outdir,
		       errno == EWOULDBLOCK ? "locked" : strerror(errno));
		return 1;
	}
	if (created && cfg.user && hand_over_outdir(cfg.user, r.outfd) != 0)
		return 1;
	if (cfg.user && !lookup_user(cfg.user))
		return 1;
	if (rp_probe_outdir(r.outfd, r.outdir, cfg.user, err, sizeof err) != 0) {
		st_log(LOG_ERR, "%s", err);
		return 1;
	}
	if (rp_attach(&cfg, &r.reg) != 0)
		return 1;
	if (rp_check_capacity(r.reg, cfg.registry, lineup.n, err, sizeof err) != 0) {
		st_log(LOG_ERR, "%s", err);
		return 1;
	}
	/* before anything is reconciled or started: a second reaper must not
	 * touch the first one's transcoders */
	if (rp_claim_owner(r.reg, cfg.registry, r.outdir) != 0)
		return 1;
	if (setup_fds(&r) != 0)
		return 1;
	if (cfg.user && drop_privileges(cfg.user) != 0)
		return 1;
	if (rp_chans_sync(&r, &lineup) != 0) {
		st_log(LOG_ERR, "out of memory");
		return 1;
	}
	rp_insert_sessions(&r);
	rp_reconcile(&r);
	int status = rp_run(&r);
	for (size_t i = 0; i < r.nch; i++)
		free(r.ch[i].input);
	free(r.ch);
	st_lineup_free(&r.lineup);
	sr_registry_close(r.reg);
	close(r.outfd);
	close(r.sigfd);
	close(r.evfd);
	close(r.tfd);
	return status;
}
