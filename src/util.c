/* Small helpers: names, states, UUIDs, clocks, process identity. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sr_internal.h"

static const char *const state_names[SR_STATE_COUNT] = {"idle", "starting", "active", "stopping",
                                                        "failed"};

const char *sr_state_name(sr_state s)
{
	if ((unsigned)s >= SR_STATE_COUNT)
		return "invalid";
	return state_names[s];
}

int sr_state_parse(const char *name, sr_state *out)
{
	if (!name || !out)
		return sr__fail(-EINVAL, "state name or output is NULL");
	for (unsigned i = 0; i < SR_STATE_COUNT; i++) {
		if (strcasecmp(name, state_names[i]) == 0) {
			*out = (sr_state)i;
			return 0;
		}
	}
	return sr__fail(-EINVAL, "unknown state '%.32s' (idle, starting, active, stopping, failed)",
	                name);
}

bool sr_can_transition(sr_state from, sr_state to)
{
	/* Row: from; bit: to.  The table is the whole state machine. */
	static const unsigned allowed[SR_STATE_COUNT] = {
	    [SR_STATE_IDLE] = 1u << SR_STATE_STARTING,
	    [SR_STATE_STARTING] =
	        1u << SR_STATE_ACTIVE | 1u << SR_STATE_FAILED | 1u << SR_STATE_STOPPING,
	    [SR_STATE_ACTIVE] = 1u << SR_STATE_STOPPING | 1u << SR_STATE_FAILED,
	    [SR_STATE_STOPPING] = 1u << SR_STATE_IDLE | 1u << SR_STATE_FAILED,
	    [SR_STATE_FAILED] =
	        1u << SR_STATE_STARTING | 1u << SR_STATE_STOPPING | 1u << SR_STATE_IDLE,
	};
	if ((unsigned)from >= SR_STATE_COUNT || (unsigned)to >= SR_STATE_COUNT)
		return false;
	return (allowed[from] >> to) & 1u;
}

int sr_name_valid(const char *name)
{
	if (!name || !*name)
		return sr__fail(-EINVAL, "registry name is empty");
	size_t n = strnlen(name, SR_NAME_MAX + 1);
	if (n > SR_NAME_MAX)
		return sr__fail(-ENAMETOOLONG, "registry name longer than %d characters",
		                SR_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isalnum(c) || c == '_' || c == '-'))
			return sr__fail(-EINVAL,
			                "registry name may only hold letters, digits, '_' and '-' "
			                "(found 0x%02x at %zu)",
			                c, i);
	}
	return 0;
}

/* A hex digit's value, or -1: folding ASCII letters to lower case first
 * makes it two range checks. */
static int hex_value(char c)
{
	unsigned u = (unsigned char)c;
	if (u - '0' < 10u)
		return (int)(u - '0');
	u |= 0x20;
	return u - 'a' < 6u ? (int)(u - 'a' + 10) : -1;
}

int sr_uuid_parse(const char *text, uuid_t out)
{
	if (!text || !out)
		return sr__fail(-EINVAL, "UUID text or output is NULL");
	size_t n = strnlen(text, SR_UUID_STR_LEN + 1);
	if (n != SR_UUID_STR_LEN)
		return sr__fail(-EINVAL, "UUID must be %d characters", SR_UUID_STR_LEN);
	/* Checked and decoded in one pass: servers parse the UUID of every
	 * request path, and libuuid's parser after a separate check cost
	 * about 1% of an nginx worker serving playlists.  Hex pairs never
	 * straddle a dash (groups of 8, 4, 4, 4 and 12 digits). */
	unsigned char b[sizeof(uuid_t)];
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return sr__fail(-EINVAL, "malformed UUID at character %zu", i);
			i++;
			continue;
		}
		int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
		if (hi < 0 || lo < 0)
			return sr__fail(-EINVAL, "malformed UUID at character %zu",
			                hi < 0 ? i : i + 1);
		b[k++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	memcpy(out, b, sizeof b);
	return 0;
}

void sr_uuid_format(const uuid_t id, char *out)
{
	uuid_unparse_lower(id, out);
}

/* Keyed by the registry's random birth id, so crafted UUIDs cannot pile up
 * in one probe chain without knowing the key. */
uint64_t sr__hash(const struct sr_registry *r, const uint64_t u[2])
{
	uint64_t x = u[0] ^ (u[1] * 0x9e3779b97f4a7c15ull) ^ r->birth_id;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t sr_now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t sr__now_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* The wall clock at the resolution of the coarse monotonic clock, for
 * display-only times on write paths: a quarter of the cost of a precise read. */
int64_t sr__now_wall_coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Reads /proc/PID/stat: field 3 (state) and 22 (start time).  The command
 * name (field 2) may hold spaces and parentheses, so parse after the last ')'. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	/* p is at field 3; field 22 is 19 spaces further. */
	for (int f = 3; f < 22; f++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

uint64_t sr_pid_start_time(pid_t pid)
{
	char st;
	uint64_t start;
	if (pid <= 0 || read_stat(pid, &st, &start) != 0)
		return 0;
	return start;
}

/* A zombie is dead for us: its viewers are gone even if nobody reaped it. */
bool sr__pid_alive(pid_t pid, uint64_t start_time)
{
	char st;
	uint64_t start;
	if (pid <= 0)
		return false;
	if (read_stat(pid, &st, &start) != 0) {
		if (access("/proc/self/stat", R_OK) == 0)
			return false;
		/* No /proc: fall back to the signal check, which cannot see reuse. */
		return kill(pid, 0) == 0 || errno == EPERM;
	}
	if (st == 'Z' || st == 'X')
		return false;
	return start_time == 0 || start == start_time;
}

int sr__copy_str(char *dst, size_t cap, const char *src, const char *what)
{
	size_t n = strnlen(src, cap);
	if (n >= cap)
		return sr__fail(-ENAMETOOLONG, "%s longer than %zu characters", what, cap - 1);
	memcpy(dst, src, n);
	memset(dst + n, 0, cap - n);
	return 0;
}
