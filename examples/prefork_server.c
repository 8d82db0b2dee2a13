/*
 * A minimal pre-fork TCP server on libstreamreg: the master creates the
 * registry and forks 4 workers that share one listening socket; a client
 * connects and sends "WATCH <uuid>", the worker that accepts it counts one
 * viewer for as long as the connection stays open, and the first request for
 * a channel starts it.  The master plays the reaper: it owns the registry,
 * moves requested channels to active, and when a worker dies (kill -9) it
 * replaces it and runs recovery, so the counts always match the survivors.
 *
 * Protocol, one line each way:
 *   WATCH <uuid>  ->  OK <uuid> <state> viewers=<n> worker=<pid>
 *   COUNT <uuid>  ->  COUNT <uuid> <n>
 * Run: ./example-prefork-server NAME [PORT]   (PORT 0, the default: any free one)
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <streamreg.h>

#define WORKERS   4
#define MAX_CONNS 256
/* How long a first request waits for its channel to become active. */
#define START_WAIT_MS 20000

static sr_registry *reg;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "%s: %s (%s)\n", what, sr_strerror(rc), sr_errdetail());
	exit(1);
}

/* ---- worker ------------------------------------------------------------ */

struct conn {
	int fd;
	size_t len;
	char buf[128];
	bool counted;       /* holds a viewer on ref */
	sr_session_ref ref; /* resolved once per connection */
};

static void reply(struct conn *c, const char *text)
{
	size_t n = strlen(text);
	if (write(c->fd, text, n) != (ssize_t)n)
		fprintf(stderr, "worker %d: short reply\n", (int)getpid());
}

static void watch(struct conn *c, const char *arg)
{
	uuid_t id = {0};
	char line[160];
	if (c->counted || sr_uuid_parse(arg, id) < 0) {
		reply(c, "ERR bad request\n");
		return;
	}
	/* One lookup for the whole request; everything else goes by reference. */
	int rc = sr_session_find_or_insert(reg, id, NULL, &c->ref);
	int viewers = rc < 0 ? rc : sr_ref_add_client(reg, c->ref);
	if (viewers < 0) {
		snprintf(line, sizeof line, "ERR %s\n", sr_err_name(viewers));
		reply(c, line);
		return;
	}
	c->counted = true;
	sr_state st = SR_STATE_IDLE;
	rc = sr_ref_transition(reg, c->ref, SR_STATE_IDLE, SR_STATE_STARTING, &st);
	if (rc == 0)
		st = SR_STATE_STARTING;
	else if (rc != -SR_ESTATE)
		st = SR_STATE_FAILED;
	/* Start on first request: sleep until the master moves it (bounded). */
	if (st == SR_STATE_STARTING &&
	    sr_ref_wait_state(reg, c->ref, SR_STATE_STARTING, START_WAIT_MS, &st) < 0)
		st = SR_STATE_FAILED;
	snprintf(line, sizeof line, "OK %s %s viewers=%d worker=%d\n", arg, sr_state_name(st),
	         viewers, (int)getpid());
	reply(c, line);
}

static void count(struct conn *c, const char *arg)
{
	uuid_t id = {0};
	sr_session_ref ref;
	uint32_t n = 0;
	char line[96];
	if (sr_uuid_parse(arg, id) < 0 || sr_session_resolve(reg, id, &ref) < 0 ||
	    sr_ref_get_clients(reg, ref, &n) < 0)
		n = 0;
	snprintf(line, sizeof line, "COUNT %s %u\n", arg, n);
	reply(c, line);
}

static void handle_line(struct conn *c, char *line)
{
	if (strncmp(line, "WATCH ", 6) == 0)
		watch(c, line + 6);
	else if (strncmp(line, "COUNT ", 6) == 0)
		count(c, line + 6);
	else
		reply(c, "ERR unknown command\n");
}

/* 0 to keep the connection, -1 to close it. */
static int on_readable(struct conn *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	if (n <= 0)
		return n < 0 && errno == EINTR ? 0 : -1;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	char *nl;
	while ((nl = strchr(c->buf, '\n')) != NULL) {
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		handle_line(c, c->buf);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len + 1);
	}
	return c->len == sizeof c->buf - 1 ? -1 : 0; /* a line too long: drop it */
}

static void drop(struct conn *c)
{
	if (c->counted && sr_ref_remove_client(reg, c->ref) < 0)
		fprintf(stderr, "worker %d: remove viewer: %s\n", (int)getpid(), sr_errdetail());
	close(c->fd);
	c->fd = -1;
	c->counted = false;
}

static int worker(int lfd)
{
	static struct conn conns[MAX_CONNS];
	struct pollfd pfd[MAX_CONNS + 1];
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	for (;;) {
		int n = 0;
		pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < MAX_CONNS; i++)
			pfd[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		if (pfd[0].revents & POLLIN) {
			/* Every worker wakes; the ones that lose the accept get EAGAIN. */
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			for (int i = 0; fd >= 0 && i < MAX_CONNS; i++) {
				if (conns[i].fd < 0) {
					conns[i] = (struct conn){.fd = fd};
					fd = -1;
				}
			}
			if (fd >= 0)
				close(fd); /* full */
		}
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0 &&
			    (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    on_readable(&conns[i]) < 0)
				drop(&conns[i]);
	}
}

/* ---- master ------------------------------------------------------------ */

static pid_t spawn(int lfd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(worker(lfd)); /* the inherited handle serves the worker */
	if (pid < 0)
		perror("fork");
	return pid;
}

/* The master's reaper duty: channels asked to start become active. */
static int start_requested(const sr_session_brief *b, void *ctx)
{
	(void)ctx;
	if (b->state == SR_STATE_STARTING) {
		sr_session_ref ref = {b->slot, b->generation};
		if (sr_ref_transition(reg, ref, SR_STATE_STARTING, SR_STATE_ACTIVE, NULL) == 0)
			printf("master: channel slot %u is active\n", b->slot);
	}
	return 0;
}

static void replace_dead_workers(pid_t *pids, int lfd)
{
	int status;
	pid_t dead;
	while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
		/* Its viewers already left every count; recovery frees its slot. */
		sr_recovery_report rep;
		int rc = sr_registry_recover(reg, &rep);
		printf("master: worker %d died (%s %d); recovery: %s, %u processes reclaimed, "
		       "%llu viewers released\n",
		       (int)dead, WIFSIGNALED(status) ? "signal" : "exit",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		       rc < 0 ? sr_err_name(rc) : "ok", rep.procs_reclaimed,
		       (unsigned long long)rep.leases_released);
		for (int i = 0; i < WORKERS; i++)
			if (pids[i] == dead && !stop)
				pids[i] = spawn(lfd);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s REGISTRY-NAME [PORT]\n", argv[0]);
		return 2;
	}
	int port = argc > 2 ? atoi(argv[2]) : 0;
	int rc = sr_registry_create(argv[1], NULL, &reg);
	if (rc < 0)
		die("create", rc);
	if ((rc = sr_registry_claim_owner(reg, "example-prefork-server", NULL)) < 0)
		die("claim owner", rc);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		perror("listen");
		sr_registry_close(reg);
		sr_registry_unlink(argv[1]);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	pid_t pids[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		pids[i] = spawn(lfd);
	printf("listening on 127.0.0.1:%d with %d workers\n", ntohs(a.sin_port), WORKERS);
	fflush(stdout);

	uint32_t seen = sr_registry_doorbell(reg);
	while (!stop) {
		/* Woken by every start request; the timeout also reaps workers. */
		sr_registry_wait(reg, &seen, 200);
		sr_session_scan(reg, start_requested, NULL);
		sr_registry_owner_heartbeat(reg);
		replace_dead_workers(pids, lfd);
		fflush(stdout);
	}
	for (int i = 0; i < WORKERS; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	sr_registry_close(reg);
	sr_registry_unlink(argv[1]);
	printf("master: stopped, registry removed\n");
	return 0;
}
