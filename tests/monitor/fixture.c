/*
 * Populates a registry through the library, driven line by line on stdin, so
 * a test can hold viewers (client counts live only as long as the process
 * that added them) and destroy or recreate the registry at chosen moments.
 * Each command gets one reply line: "ok" or "err <code> <message>".
 *
 *   create NAME MODE CAPACITY    attach NAME    close    unlink NAME
 *   add UUID    delete UUID    state UUID STATE    clients UUID N
 *   error UUID MESSAGE...    variants UUID LEVEL[,LEVEL...]
 *   pid UUID PID    restarts UUID N    owner INFO    quit
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamreg.h"

static sr_registry *reg;

/* Shortest chain of allowed transitions from the current state to `to`. */
static int walk_to_state(const uuid_t id, sr_state to)
{
	sr_state cur;
	int rc = sr_session_get_state(reg, id, &cur);
	if (rc < 0 || cur == to)
		return rc;
	sr_state prev[SR_STATE_COUNT];
	int seen[SR_STATE_COUNT] = {0};
	sr_state queue[SR_STATE_COUNT];
	int head = 0, tail = 0;
	queue[tail++] = cur;
	seen[cur] = 1;
	while (head < tail && !seen[to]) {
		sr_state s = queue[head++];
		for (int n = 0; n < SR_STATE_COUNT; n++) {
			if (!seen[n] && sr_can_transition(s, (sr_state)n)) {
				seen[n] = 1;
				prev[n] = s;
				queue[tail++] = (sr_state)n;
			}
		}
	}
	if (!seen[to])
		return -SR_EBADTRANS;
	sr_state path[SR_STATE_COUNT];
	int len = 0;
	for (sr_state s = to; s != cur; s = prev[s])
		path[len++] = s;
	for (int i = len - 1; i >= 0; i--) {
		rc = sr_session_set_state(reg, id, path[i], NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int set_variants(const uuid_t id, char *list)
{
	sr_quality q[SR_MAX_QUALITIES];
	size_t n = 0;
	memset(q, 0, sizeof q);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == SR_MAX_QUALITIES)
			return -E2BIG;
		snprintf(q[n].level, sizeof q[n].level, "%s", tok);
		snprintf(q[n].codec, sizeof q[n].codec, "h264");
		q[n].bitrate_kbps = 500u * (unsigned)(n + 1);
		q[n].width = 640;
		q[n].height = 360;
		snprintf(q[n].playlist_path, sizeof q[n].playlist_path, "%s/index.m3u8", tok);
		snprintf(q[n].segment_path, sizeof q[n].segment_path, "%s/seg_%%05d.ts", tok);
		n++;
	}
	return sr_session_set_qualities(reg, id, q, n);
}

static long number(const char *s)
{
	return s != NULL ? strtol(s, NULL, 0) : 0;
}

static int run(char *line)
{
	char *save = NULL;
	char *cmd = strtok_r(line, " \t\n", &save);
	char *a1 = strtok_r(NULL, " \t\n", &save);
	char *rest = strtok_r(NULL, "\n", &save);
	if (cmd == NULL)
		return 0;
	if (strcmp(cmd, "create") == 0) {
		char *a3 = NULL;
		char *a2 = rest != NULL ? strtok_r(rest, " \t", &a3) : NULL;
		sr_create_options opt;
		sr_create_options_init(&opt);
		opt.mode = (mode_t)number(a2);
		if (a3 != NULL && *a3 != '\0')
			opt.capacity = (uint32_t)number(a3);
		return sr_registry_create(a1, &opt, &reg);
	}
	if (strcmp(cmd, "attach") == 0)
		return sr_registry_attach(a1, 0, &reg);
	if (strcmp(cmd, "close") == 0) {
		sr_registry_close(reg);
		reg = NULL;
		return 0;
	}
	if (strcmp(cmd, "unlink") == 0)
		return sr_registry_unlink(a1);
	if (strcmp(cmd, "owner") == 0 && reg != NULL)
		return sr_registry_claim_owner(reg, a1, NULL);
	if (reg == NULL || a1 == NULL)
		return -EINVAL;
	uuid_t id = {0};
	int rc = sr_uuid_parse(a1, id);
	if (rc < 0)
		return rc;
	if (strcmp(cmd, "add") == 0)
		return sr_session_insert(reg, id, rest);
	if (strcmp(cmd, "delete") == 0)
		return sr_session_delete(reg, id);
	if (strcmp(cmd, "state") == 0) {
		sr_state to;
		rc = sr_state_parse(rest != NULL ? rest : "", &to);
		return rc < 0 ? rc : walk_to_state(id, to);
	}
	if (strcmp(cmd, "clients") == 0) {
		for (long i = 0; i < number(rest) && rc == 0; i++)
			rc = sr_session_add_client(reg, id);
		return rc;
	}
	if (strcmp(cmd, "error") == 0)
		return sr_session_record_error(reg, id, rest != NULL ? rest : "");
	if (strcmp(cmd, "variants") == 0)
		return rest != NULL ? set_variants(id, rest) : -EINVAL;
	if (strcmp(cmd, "pid") == 0)
		return sr_session_set_pid(reg, id, (pid_t)number(rest),
		                          sr_pid_start_time((pid_t)number(rest)));
	if (strcmp(cmd, "restarts") == 0)
		return sr_session_set_restarts(reg, id, (uint32_t)number(rest));
	return -ENOSYS;
}

int main(void)
{
	char line[1024];
	while (fgets(line, sizeof line, stdin) != NULL) {
		if (strncmp(line, "quit", 4) == 0)
			break;
		int rc = run(line);
		if (rc < 0)
			printf("err %d %s: %s\n", rc, sr_strerror(rc), sr_errdetail());
		else
			printf("ok\n");
		fflush(stdout);
	}
	sr_registry_close(reg);
	return 0;
}
