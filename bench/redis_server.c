/*
 * The harness runs its own redis-server: loopback only, a port nobody uses,
 * no persistence, in a scratch directory, stopped when the harness exits
 * (bench_fork's PR_SET_PDEATHSIG covers a harness that dies without
 * cleaning up).
 */
#include "redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "bench.h"
#include "bench_backend_util.h"
#include "bench_interrupt.h"

static pid_t server_pid;
static int server_port;
static char server_dir[128];

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(int port)
{
	char ports[16];
	snprintf(ports, sizeof ports, "%d", port);
	pid_t pid = bench_fork();
	if (pid != 0)
		return pid;
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	if (chdir(server_dir) != 0)
		_exit(126);
	execlp("redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1", "--save", "",
	       "--appendonly", "no", "--daemonize", "no", (char *)NULL);
	_exit(127);
}

/* Wait until the server answers PING, or it exits, or 5 s pass. */
static int wait_up(pid_t pid, int port, char *err, size_t errlen)
{
	for (int i = 0; i < 500; i++) {
		int status;
		bench_interrupt_point();
		if (waitpid(pid, &status, WNOHANG) == pid) {
			bench_reaped(pid);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
				return bench_fail(err, errlen, "redis-server not found in PATH");
			return bench_fail(err, errlen, "redis-server exited at start (port %d)",
			                  port);
		}
		struct timeval tv = {0, 200000};
		redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
		if (c && !c->err) {
			redisReply *r = redisCommand(c, "PING");
			bool ok = r && r->type == REDIS_REPLY_STATUS;
			if (r)
				freeReplyObject(r);
			redisFree(c);
			if (ok)
				return 0;
		} else if (c) {
			redisFree(c);
		}
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	bench_reaped(pid);
	return bench_fail(err, errlen, "redis-server did not answer within 5 s");
}

int redis_server_port(char *err, size_t errlen)
{
	if (server_pid > 0)
		return server_port;
	if (!server_dir[0] && bench_tmpfs_dir(server_dir, sizeof server_dir, "redis", err, errlen))
		return -1;
	/* Another process may grab the free port between the probe and the bind: retry. */
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = free_port();
		if (port < 0)
			return bench_fail(err, errlen, "no free loopback port: %s",
			                  strerror(errno));
		pid_t pid = spawn(port);
		if (pid < 0)
			return bench_fail(err, errlen, "fork: %s", strerror(errno));
		if (wait_up(pid, port, err, errlen) == 0) {
			server_pid = pid;
			server_port = port;
			return port;
		}
		if (strstr(err, "not found"))
			break;
	}
	bench_rm_dir(server_dir);
	server_dir[0] = 0;
	return -1;
}

void redis_server_stop(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		bool gone = false;
		for (int i = 0; i < 300 && !gone; i++) {
			gone = waitpid(server_pid, NULL, WNOHANG) == server_pid;
			struct timespec ts = {0, 10000000L};
			if (!gone)
				nanosleep(&ts, NULL);
		}
		if (!gone) {
			kill(server_pid, SIGKILL);
			waitpid(server_pid, NULL, 0);
		}
		bench_reaped(server_pid);
		server_pid = 0;
	}
	if (server_dir[0]) {
		bench_rm_dir(server_dir);
		server_dir[0] = 0;
	}
}
