/*
 * The real reaper under chaos: it is started on the chaos registry, SIGKILLed
 * and restarted now and then, and its transcoders are counted from /proc.
 * Each ffmpeg runs with the channel directory as its working directory, so
 * /proc/PID/cwd names the channel it belongs to.  We are the child subreaper,
 * so transcoders a killed reaper leaves behind are ours to see and reap.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos_run.h"

#define REAPER_LOG "reaper.log"

static char outdir_real[PATH_MAX];

int chaos_reaper_start(struct chaos_run *run)
{
	struct chaos_config *cfg = run->cfg;
	if (!outdir_real[0] && !realpath(cfg->output_dir, outdir_real)) {
		fprintf(stderr, "streamreg-chaos: --output-dir %s: %s\n", cfg->output_dir,
		        strerror(errno));
		return -1;
	}
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/%s", outdir_real, REAPER_LOG);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		chaos_violation(run, "fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/* Cheap transcoding: one tiny variant, short segments, and
		 * timings short enough that a 30 s run sees every phase. */
		char *argv[] = {(char *)cfg->reaper_path,
		                "--registry",
		                cfg->name,
		                "--lineup",
		                (char *)cfg->lineup,
		                "--output-dir",
		                outdir_real,
		                "--ladder",
		                "72p:48k",
		                "--hls-time",
		                "1",
		                "--hls-list-size",
		                "3",
		                "--fps",
		                "10",
		                "--audio-bitrate",
		                "16",
		                "--idle-grace",
		                "1.5",
		                "--stop-timeout",
		                "1",
		                "--start-timeout",
		                "8",
		                "--backoff-min",
		                "0.2",
		                "--backoff-max",
		                "1",
		                "--scan-interval",
		                "0.05",
		                NULL};
		execv(argv[0], argv);
		fprintf(stderr, "streamreg-chaos: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	run->reaper = pid;
	return 0;
}

/* The lineup's channel ids, as the reaper will insert them. */
static unsigned lineup_ids(const char *path, uuid_t *ids, unsigned cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[4096];
	unsigned n = 0;
	while (n < cap && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "tvg-id=\"");
		if (!p)
			continue;
		char id[SR_UUID_STR_LEN + 1];
		snprintf(id, sizeof(id), "%s", p + 8);
		if (sr_uuid_parse(id, ids[n]) == 0)
			n++;
	}
	fclose(f);
	return n;
}

int chaos_reaper_channels(struct chaos_run *run)
{
	struct chaos_shared *sh = run->sh;
	sh->n_channels = lineup_ids(run->cfg->lineup, sh->channels, CHAOS_MAX_CHANNELS);
	if (sh->n_channels == 0) {
		fprintf(stderr, "streamreg-chaos: no tvg-id=\"UUID\" channel in %s\n",
		        run->cfg->lineup);
		return -1;
	}
	run->cfg->channels = sh->n_channels;
	/* The reaper inserts the lineup's sessions once it is up. */
	uint64_t end = chaos_now_ns() + 10000000000ull;
	for (;;) {
		unsigned have = 0;
		for (unsigned i = 0; i < sh->n_channels; i++)
			if (sr_session_find(run->reg, sh->channels[i], NULL) == 0)
				have++;
		if (have == sh->n_channels)
			return 0;
		int status;
		if (waitpid(run->reaper, &status, WNOHANG) == run->reaper) {
			run->reaper = 0;
			fprintf(stderr,
			        "streamreg-chaos: the reaper exited at start (status 0x%x); "
			        "see %s/%s\n",
			        status, outdir_real, REAPER_LOG);
			return -1;
		}
		if (chaos_now_ns() > end) {
			fprintf(stderr,
			        "streamreg-chaos: the reaper inserted %u of %u channels "
			        "in 10 s\n",
			        have, sh->n_channels);
			return -1;
		}
		chaos_sleep_ns(10000000);
	}
}

void chaos_reaper_kill_restart(struct chaos_run *run)
{
	if (run->reaper <= 0)
		return;
	kill(run->reaper, SIGKILL);
	int status;
	waitpid(run->reaper, &status, 0);
	run->reaper = 0;
	run->reaper_kills++;
	run->kills++;
	chaos_reaper_start(run);
}

/* Read a small /proc file into buf; its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return r;
}

/* A live transcoder (not a zombie, not already being SIGKILLed) whose
 * working directory is a channel directory: its index in the channel list,
 * CHAOS_MAX_CHANNELS for a directory of no known channel, -1 otherwise. */
static int transcoder_channel(struct chaos_run *run, const char *pid)
{
	char path[300], buf[2048];
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	if (read_small(path, buf, sizeof(buf)) < 0 || strncmp(buf, "ffmpeg", 6) != 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	const char *st = strstr(buf, "\nState:\t");
	if (!st || st[8] == 'Z' || st[8] == 'X')
		return -1;
	const char *pend = strstr(buf, "\nShdPnd:\t");
	if (pend && (strtoull(pend + 9, NULL, 16) & (1ull << (SIGKILL - 1))))
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/cwd", pid);
	char cwd[PATH_MAX];
	ssize_t n = readlink(path, cwd, sizeof(cwd) - 1);
	if (n < 0)
		return -1;
	cwd[n] = '\0';
	size_t ol = strlen(outdir_real);
	if (strncmp(cwd, outdir_real, ol) != 0 || cwd[ol] != '/')
		return -1;
	char id[SR_UUID_STR_LEN + 1];
	snprintf(id, sizeof(id), "%s", cwd + ol + 1);
	uuid_t u = {0};
	if (sr_uuid_parse(id, u) != 0)
		return CHAOS_MAX_CHANNELS;
	for (unsigned i = 0; i < run->sh->n_channels; i++)
		if (uuid_compare(u, run->sh->channels[i]) == 0)
			return (int)i;
	return CHAOS_MAX_CHANNELS;
}

/* Transcoders per channel; returns the number found in all. */
static unsigned count_transcoders(struct chaos_run *run, unsigned *per)
{
	memset(per, 0, (CHAOS_MAX_CHANNELS + 1) * sizeof(*per));
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	unsigned total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		int c = transcoder_channel(run, de->d_name);
		if (c >= 0) {
			per[c]++;
			total++;
		}
	}
	closedir(d);
	return total;
}

static void states(struct chaos_run *run, sr_state *st)
{
	for (unsigned i = 0; i < run->sh->n_channels; i++)
		if (sr_session_get_state(run->reg, run->sh->channels[i], &st[i]) != 0)
			st[i] = SR_STATE_COUNT;
}

/* At most one transcoder per channel, none for an idle one.  The states are
 * read before and after the /proc walk; only a channel idle at both ends
 * is held to "none" (the reaper settles idle only after reaping). */
static void check_transcoders(struct chaos_run *run, const char *when)
{
	sr_state before[CHAOS_MAX_CHANNELS], after[CHAOS_MAX_CHANNELS];
	unsigned per[CHAOS_MAX_CHANNELS + 1];
	states(run, before);
	count_transcoders(run, per);
	states(run, after);
	run->transcoder_checks++;
	for (unsigned i = 0; i < run->sh->n_channels; i++) {
		char id[SR_UUID_STR_LEN + 1];
		sr_uuid_format(run->sh->channels[i], id);
		if (per[i] > run->max_transcoders_seen)
			run->max_transcoders_seen = per[i];
		if (per[i] > 1)
			chaos_violation(run, "%s: %u transcoders run for channel %s", when, per[i],
			                id);
		if (per[i] && before[i] == SR_STATE_IDLE && after[i] == SR_STATE_IDLE)
			chaos_violation(run, "%s: a transcoder runs for idle channel %s", when, id);
	}
	if (per[CHAOS_MAX_CHANNELS])
		chaos_violation(run, "%s: %u transcoders run for channels not in the lineup", when,
		                per[CHAOS_MAX_CHANNELS]);
}

/* Zombie children of the running reaper: one that stays a zombie for 2 s
 * is a transcoder the reaper does not reap. */
static void check_zombies(struct chaos_run *run, uint64_t now)
{
	static struct {
		int pid, ppid;
		uint64_t since;
		bool reported;
	} seen[64];
	char want[32];
	snprintf(want, sizeof(want), "\nPPid:\t%d\n", (int)run->reaper);
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300], buf[2048];
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (read_small(path, buf, sizeof(buf)) < 0 || !strstr(buf, want))
			continue;
		const char *st = strstr(buf, "\nState:\t");
		if (!st || st[8] != 'Z')
			continue;
		int pid = atoi(de->d_name), free_i = -1, i;
		for (i = 0; i < 64; i++) {
			if (seen[i].pid == pid && seen[i].ppid == (int)run->reaper)
				break;
			if (free_i < 0 &&
			    (seen[i].pid == 0 || now - seen[i].since > 60000000000ull))
				free_i = i;
		}
		if (i == 64 && free_i >= 0) {
			seen[free_i].pid = pid;
			seen[free_i].ppid = (int)run->reaper;
			seen[free_i].since = now;
			seen[free_i].reported = false;
		} else if (i < 64 && !seen[i].reported && now - seen[i].since > 2000000000ull) {
			seen[i].reported = true;
			chaos_violation(run,
			                "the reaper (pid %d) left its child %d a zombie for 2 s",
			                (int)run->reaper, pid);
		}
	}
	closedir(d);
}

void chaos_reaper_watch(struct chaos_run *run)
{
	static uint64_t next;
	uint64_t now = chaos_now_ns();
	if (now < next)
		return;
	next = now + 200000000ull;
	check_transcoders(run, "during the run");
	if (run->reaper > 0)
		check_zombies(run, now);
}

static bool all_settled(struct chaos_run *run)
{
	sr_state st[CHAOS_MAX_CHANNELS];
	states(run, st);
	for (unsigned i = 0; i < run->sh->n_channels; i++)
		if (st[i] != SR_STATE_IDLE && st[i] != SR_STATE_FAILED)
			return false;
	unsigned per[CHAOS_MAX_CHANNELS + 1];
	return count_transcoders(run, per) == 0;
}

static void check_leftovers(struct chaos_run *run)
{
	DIR *d = opendir(outdir_real);
	if (!d) {
		chaos_violation(run, "cannot list %s: %s", outdir_real, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, REAPER_LOG))
			chaos_violation(run, "leftover in the output directory: %s", de->d_name);
	closedir(d);
}

/* Live children of ours, or zombies nobody reaped, after everything stopped. */
static void check_orphans(struct chaos_run *run)
{
	DIR *d = opendir("/proc");
	if (!d)
		return;
	char me[32];
	snprintf(me, sizeof(me), "\nPPid:\t%d\n", (int)getpid());
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300], buf[2048];
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if (read_small(path, buf, sizeof(buf)) < 0)
			continue;
		const char *st = strstr(buf, "\nState:\t");
		bool zombie = st && st[8] == 'Z';
		if (strstr(buf, me))
			chaos_violation(run, "process %s (%.*s) is still our child%s", de->d_name,
			                (int)strcspn(buf + 6, "\n"), buf + 6,
			                zombie ? " (zombie)" : "");
	}
	closedir(d);
}

void chaos_reaper_final(struct chaos_run *run)
{
	if (run->reaper > 0 && run->sh->n_channels) {
		/* Nobody watches any more: within the idle grace and the stop
		 * timeout every channel must wind down. */
		uint64_t end = chaos_now_ns() + 20000000000ull;
		while (!all_settled(run) && chaos_now_ns() < end) {
			chaos_reap(run);
			chaos_sleep_ns(50000000);
		}
		if (!all_settled(run)) {
			sr_state st[CHAOS_MAX_CHANNELS];
			states(run, st);
			for (unsigned i = 0; i < run->sh->n_channels; i++)
				chaos_violation(run, "20 s without clients: channel %u is %s", i,
				                sr_state_name(st[i]));
		}
		check_transcoders(run, "after the run");
	}
	if (run->reaper > 0) {
		pid_t pid = run->reaper;
		run->reaper = 0;
		kill(pid, SIGTERM);
		int status = 0;
		if (chaos_wait_child(run, pid, 15000, &status) == -ETIMEDOUT)
			chaos_violation(run, "the reaper did not exit within 15 s of SIGTERM");
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			chaos_violation(run, "the reaper ended with status 0x%x after SIGTERM",
			                status);
	}
	/* Give the kernel a moment to hand us any orphan, then reap them all. */
	chaos_sleep_ns(200000000);
	int status;
	while (waitpid(-1, &status, WNOHANG) > 0)
		run->orphans_reaped++;
	check_orphans(run);
	if (outdir_real[0])
		check_leftovers(run);
}
