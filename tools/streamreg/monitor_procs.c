#include "monitor_procs.h"

#include "monitor_guard.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* /proc/PID/FILE into buf (NUL-terminated); bytes read or -1. */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static void comm_of(pid_t pid, char *buf, size_t len)
{
	if (read_proc(pid, "comm", buf, len) < 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static pid_t parent_of(pid_t pid)
{
	char stat[512];
	if (read_proc(pid, "stat", stat, sizeof stat) < 0)
		return 0;
	/* "pid (comm) state ppid": comm may hold spaces and parentheses */
	const char *p = strrchr(stat, ')');
	long ppid = 0;
	if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

void mon_proc_role(pid_t pid, pid_t owner, char *buf, size_t len)
{
	char comm[32];
	comm_of(pid, comm, sizeof comm);
	/* comm is cut to 15 characters: "streamreg-serve(r)" */
	if (strncmp(comm, "streamreg-serve", 15) == 0) {
		char pc[32];
		comm_of(parent_of(pid), pc, sizeof pc);
		snprintf(buf, len, "%s",
		         strncmp(pc, "streamreg-serve", 15) == 0 ? "server worker"
		                                                 : "server master");
		return;
	}
	if (pid == owner || strncmp(comm, "streamreg-reape", 15) == 0) {
		snprintf(buf, len, "%s", pid == owner ? "reaper" : "reaper (not owner)");
		return;
	}
	if (strcmp(comm, "streamreg") == 0) {
		char cmdline[256];
		ssize_t n = read_proc(pid, "cmdline", cmdline, sizeof cmdline);
		size_t first = n > 0 ? strlen(cmdline) + 1 : 0;
		if (n > 0 && first < (size_t)n && isalpha((unsigned char)cmdline[first])) {
			snprintf(buf, len, "streamreg %.20s", cmdline + first);
			return;
		}
	}
	snprintf(buf, len, "%s", comm);
}

static mon_proc *proc_slot(mon_snapshot *snap, pid_t pid)
{
	for (size_t i = 0; i < snap->nprocs; i++)
		if (snap->procs[i].pid == pid)
			return &snap->procs[i];
	if (snap->nprocs == snap->procs_cap) {
		size_t ncap = snap->procs_cap ? snap->procs_cap * 2 : 16;
		mon_proc *np = realloc(snap->procs, ncap * sizeof *np);
		if (!np)
			return NULL;
		snap->procs = np;
		snap->procs_cap = ncap;
	}
	mon_proc *p = &snap->procs[snap->nprocs++];
	memset(p, 0, sizeof *p);
	p->pid = pid;
	return p;
}

/* Whether /proc/PID/maps has a mapping of device dev, inode ino. */
static bool maps_segment(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		unsigned maj, min;
		unsigned long long inode;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3 &&
		    inode == (unsigned long long)ino && makedev(maj, min) == dev)
			found = true;
		/* a line longer than the buffer: skip its rest */
		while (!strchr(line, '\n') && fgets(line, sizeof line, f))
			;
	}
	fclose(f);
	return found;
}

struct table_ctx {
	mon_snapshot *snap;
	sr_registry *reg;
	bool oom;
	pid_t owner_pid;
};

static int from_table(const sr_proc_info *p, void *arg)
{
	struct table_ctx *t = arg;
	if (!p->alive)
		return 0; /* a dead slot waits for recovery: counted in "reclaimed" */
	mon_proc *m = proc_slot(t->snap, p->pid);
	if (!m) {
		t->oom = true;
		return 1;
	}
	m->in_table = true;
	m->channels = p->channels;
	m->clients = p->clients;
	return 0;
}

static int read_table(void *arg)
{
	struct table_ctx *t = arg;
	(void)sr_registry_procs(t->reg, from_table, t);
	sr_owner_info owner;
	if (sr_registry_get_owner(t->reg, &owner) == 0 && owner.alive)
		t->owner_pid = owner.pid;
	return 0;
}

int mon_procs_take(const char *name, sr_registry *reg, mon_snapshot *snap)
{
	snap->nprocs = 0;
	char path[SR_DIR_MAX + 128];
	struct stat st;
	if (sr_registry_path(name, path, sizeof path) == 0 && stat(path, &st) == 0) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);
			if (*end || pid <= 0 || !maps_segment((pid_t)pid, st.st_dev, st.st_ino))
				continue;
			mon_proc *m = proc_slot(snap, (pid_t)pid);
			if (!m) {
				closedir(d);
				snap->nprocs = 0;
				return -ENOMEM;
			}
			m->mapped = true;
		}
		if (d)
			closedir(d);
	}
	/* the registry is read under the SIGBUS guard: its segment may be
	 * truncated under a read-only mapping at any time */
	struct table_ctx t = {snap, reg, false, 0};
	if (mon_guard_sigbus(read_table, &t) < 0 || t.oom) {
		snap->nprocs = 0;
		return t.oom ? -ENOMEM : -SR_ETRUNCATED;
	}
	pid_t owner_pid = t.owner_pid;
	for (size_t i = 0; i < snap->nprocs; i++)
		mon_proc_role(snap->procs[i].pid, owner_pid, snap->procs[i].role,
		              sizeof snap->procs[i].role);
	return 0;
}
