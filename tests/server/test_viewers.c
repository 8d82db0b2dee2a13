/*
 * The viewer table against a real registry: a viewer counts once whichever
 * worker serves it, expires after the timeout, is revived by its token, and
 * is adopted exactly once when the worker holding its lease dies.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <streamreg.h>

#include "viewers.h"

struct fx {
	char name[SR_NAME_MAX + 1];
	sr_registry *reg;
	struct viewer_table *vt;
	uuid_t ch, other;
};

static int setup(void **state)
{
	static unsigned counter;
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->name, sizeof f->name, "srvtest_%d_%u", (int)getpid(), counter++);
	sr_create_options o;
	sr_create_options_init(&o);
	o.capacity = 16;
	if (sr_registry_create(f->name, &o, &f->reg) < 0)
		return -1;
	f->vt = viewers_create(8);
	uuid_generate(f->ch);
	uuid_generate(f->other);
	if (!f->vt || sr_session_insert(f->reg, f->ch, NULL) < 0 ||
	    sr_session_insert(f->reg, f->other, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sr_registry_close(f->reg);
	sr_registry_unlink(f->name);
	viewers_destroy(f->vt);
	free(f);
	return 0;
}

static uint32_t clients(struct fx *f, const uuid_t id)
{
	uint32_t n = 0;
	assert_int_equal(sr_session_get_clients(f->reg, id, &n), 0);
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void test_claim_renew_expire_revive(void **state)
{
	struct fx *f = *state;
	uint32_t a = viewers_holder(f->vt, 0), b = viewers_holder(f->vt, 1);
	uint32_t slot;
	uint64_t nonce;
	int err = 0;
	assert_int_equal(viewers_claim(f->vt, f->reg, a, f->ch, 0, &slot, &nonce, &err),
	                 VIEWER_COUNTED);
	assert_int_equal(clients(f, f->ch), 1);
	/* The same viewer through another worker: renewed, not counted again. */
	assert_int_equal(viewers_renew(f->vt, f->reg, b, f->ch, slot, nonce, &err), VIEWER_RENEWED);
	assert_int_equal(viewers_renew(f->vt, f->reg, a, f->ch, slot, nonce, &err), VIEWER_RENEWED);
	assert_int_equal(clients(f, f->ch), 1);
	assert_int_equal(viewers_count(f->vt, f->ch), 1);
	/* Wrong channel, wrong nonce. */
	assert_int_equal(viewers_renew(f->vt, f->reg, b, f->other, slot, nonce, &err),
	                 VIEWER_MISMATCH);
	assert_int_equal(viewers_renew(f->vt, f->reg, b, f->ch, slot, nonce ^ 1, &err),
	                 VIEWER_UNKNOWN);
	assert_int_equal(viewers_renew(f->vt, f->reg, b, f->ch, 99, nonce, &err), VIEWER_UNKNOWN);
	/* Only the holder expires its viewer, and only once it is idle. */
	assert_int_equal(viewers_sweep(f->vt, f->reg, b, 1), 0);
	assert_int_equal(viewers_sweep(f->vt, f->reg, a, 60ull * 1000000000ull), 0);
	sleep_ms(30);
	assert_int_equal(viewers_sweep(f->vt, f->reg, a, 20ull * 1000000ull), 1);
	assert_int_equal(clients(f, f->ch), 0);
	assert_int_equal(viewers_count(f->vt, NULL), 0);
	/* The player comes back with its token: counted again, by the worker
	 * that saw it. */
	assert_int_equal(viewers_renew(f->vt, f->reg, b, f->ch, slot, nonce, &err), VIEWER_COUNTED);
	assert_int_equal(clients(f, f->ch), 1);
	viewers_release(f->vt, f->reg, b, slot, nonce);
	assert_int_equal(clients(f, f->ch), 0);
}

static void test_full_table(void **state)
{
	struct fx *f = *state;
	uint32_t a = viewers_holder(f->vt, 0);
	uint32_t slot;
	uint64_t nonce;
	int err = 0;
	for (unsigned i = 0; i < viewers_capacity(f->vt); i++)
		assert_int_equal(viewers_claim(f->vt, f->reg, a, f->other, 0, &slot, &nonce, &err),
		                 VIEWER_COUNTED);
	assert_int_equal(viewers_claim(f->vt, f->reg, a, f->other, 0, &slot, &nonce, &err),
	                 VIEWER_FULL);
	assert_int_equal(clients(f, f->other), viewers_capacity(f->vt));
	assert_int_equal(viewers_release_all(f->vt, f->reg, a), viewers_capacity(f->vt));
	assert_int_equal(clients(f, f->other), 0);
}

/* A client refetching master.m3u8 without playing gets one of its own
 * unconfirmed viewers back once it has VIEWERS_PENDING_MAX of them; players
 * that play (confirm their token) each count, even with the same client. */
static void test_client_refetch(void **state)
{
	struct fx *f = *state;
	uint32_t a = viewers_holder(f->vt, 0), b = viewers_holder(f->vt, 1);
	uint32_t slot, slots[VIEWERS_PENDING_MAX];
	uint64_t nonce, nonces[VIEWERS_PENDING_MAX];
	int err = 0;
	const uint64_t k = 0x1234, k2 = 0x9876;
	for (unsigned i = 0; i < VIEWERS_PENDING_MAX; i++) {
		assert_int_equal(
		    viewers_claim(f->vt, f->reg, a, f->ch, k, &slots[i], &nonces[i], &err),
		    VIEWER_COUNTED);
		for (unsigned j = 0; j < i; j++)
			assert_true(slots[j] != slots[i]);
	}
	for (unsigned n = 0; n < 50; n++) {
		/* Any worker: the reuse is found in the shared table. */
		assert_int_equal(
		    viewers_claim(f->vt, f->reg, n % 2 ? a : b, f->ch, k, &slot, &nonce, &err),
		    VIEWER_REUSED);
		bool known = false;
		for (unsigned i = 0; i < VIEWERS_PENDING_MAX; i++)
			known |= slot == slots[i] && nonce == nonces[i];
		assert_true(known);
	}
	assert_int_equal(clients(f, f->ch), VIEWERS_PENDING_MAX);
	assert_int_equal(viewers_count(f->vt, f->ch), VIEWERS_PENDING_MAX);
	/* One of them plays: the client may have another unconfirmed viewer. */
	assert_int_equal(viewers_renew(f->vt, f->reg, b, f->ch, slots[0], nonces[0], &err),
	                 VIEWER_RENEWED);
	assert_int_equal(viewers_claim(f->vt, f->reg, a, f->ch, k, &slot, &nonce, &err),
	                 VIEWER_COUNTED);
	assert_int_equal(viewers_claim(f->vt, f->reg, a, f->ch, k, &slot, &nonce, &err),
	                 VIEWER_REUSED);
	/* Other clients and other channels are other viewers. */
	assert_int_equal(viewers_claim(f->vt, f->reg, a, f->ch, k2, &slot, &nonce, &err),
	                 VIEWER_COUNTED);
	assert_int_equal(viewers_claim(f->vt, f->reg, a, f->other, k, &slot, &nonce, &err),
	                 VIEWER_COUNTED);
	assert_int_equal(clients(f, f->ch), VIEWERS_PENDING_MAX + 2);
	/* A cookie's renewal keeps a viewer unconfirmed. */
	assert_int_equal(viewers_renew_pending(f->vt, f->reg, a, f->other, slot, nonce, &err),
	                 VIEWER_RENEWED);
	assert_int_equal(viewers_release_all(f->vt, f->reg, a), VIEWERS_PENDING_MAX + 3);
}

/* A worker (holder index 1) that claims a viewer and dies with it. */
static pid_t spawn_holder(struct fx *f, int fd)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		sr_registry *reg;
		if (sr_registry_attach(f->name, 0, &reg) < 0)
			_exit(10);
		uint32_t slot;
		uint64_t nonce;
		int err = 0;
		if (viewers_claim(f->vt, reg, viewers_holder(f->vt, 1), f->ch, 0, &slot, &nonce,
		                  &err) != VIEWER_COUNTED)
			_exit(11);
		uint64_t tok[2] = {slot, nonce};
		if (write(fd, tok, sizeof tok) != (ssize_t)sizeof tok)
			_exit(12);
		_exit(0); /* no release: the lease dies with the process */
	}
	return pid;
}

/* The client identity both servers fold refetches by: the address without
 * its port (a player opens new connections), IPv4 and IPv6, and the
 * User-Agent; a socket without an IP address is the same as none. */
static void test_client_hash_address_only(void **state)
{
	(void)state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1000)};
	struct sockaddr_in b = a;
	inet_pton(AF_INET, "192.0.2.7", &a.sin_addr);
	inet_pton(AF_INET, "192.0.2.7", &b.sin_addr);
	b.sin_port = htons(2000);
	const struct sockaddr *sa = (const struct sockaddr *)(const void *)&a;
	const struct sockaddr *sb = (const struct sockaddr *)(const void *)&b;
	assert_int_equal(viewers_client_hash(sa, "vlc"), viewers_client_hash(sb, "vlc"));
	assert_int_not_equal(viewers_client_hash(sa, "vlc"), viewers_client_hash(sa, "mpv"));
	inet_pton(AF_INET, "192.0.2.8", &b.sin_addr);
	assert_int_not_equal(viewers_client_hash(sa, "vlc"), viewers_client_hash(sb, "vlc"));

	struct sockaddr_in6 c = {.sin6_family = AF_INET6, .sin6_port = htons(1)};
	struct sockaddr_in6 d = c;
	inet_pton(AF_INET6, "2001:db8::1", &c.sin6_addr);
	inet_pton(AF_INET6, "2001:db8::1", &d.sin6_addr);
	d.sin6_port = htons(2);
	const struct sockaddr *sc = (const struct sockaddr *)(const void *)&c;
	const struct sockaddr *sd = (const struct sockaddr *)(const void *)&d;
	assert_int_equal(viewers_client_hash(sc, NULL), viewers_client_hash(sd, NULL));
	assert_int_not_equal(viewers_client_hash(sc, NULL), viewers_client_hash(NULL, NULL));

	struct sockaddr_un u = {.sun_family = AF_UNIX, .sun_path = "/x"};
	const struct sockaddr *su = (const struct sockaddr *)(const void *)&u;
	assert_int_equal(viewers_client_hash(su, "ua"), viewers_client_hash(NULL, "ua"));
	assert_int_not_equal(viewers_client_hash(NULL, NULL), 0);
}

static void test_adopt_after_holder_death(void **state)
{
	struct fx *f = *state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = spawn_holder(f, p[1]);
	assert_true(pid > 0);
	uint64_t tok[2];
	assert_int_equal(read(p[0], tok, sizeof tok), (ssize_t)sizeof tok);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
	/* What the master does after reaping: recover, then bump. */
	sr_recovery_report rep;
	assert_int_equal(sr_registry_recover(f->reg, &rep), 0);
	assert_int_equal(clients(f, f->ch), 0);
	viewers_worker_died(f->vt, 1);

	/* Many workers see the orphan's next requests at once: one adopts. */
	enum { N = 6 };
	pid_t kids[N];
	int gate[2], res[2];
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(pipe(res), 0);
	fflush(NULL);
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			close(gate[1]);
			sr_registry *reg;
			if (sr_registry_attach(f->name, 0, &reg) < 0)
				_exit(10);
			char c;
			if (read(gate[0], &c, 1) != 0)
				_exit(11);
			int err = 0;
			enum viewer_result r =
			    viewers_renew(f->vt, reg, viewers_holder(f->vt, 2 + (unsigned)i), f->ch,
			                  (uint32_t)tok[0], tok[1], &err);
			char out = (char)r;
			if (write(res[1], &out, 1) != 1)
				_exit(12);
			/* Stay alive (holding any lease) until the parent counted. */
			pause();
			_exit(0);
		}
	}
	close(gate[0]);
	close(gate[1]); /* EOF releases them together */
	uint32_t n = 0;
	for (int tries = 0; tries < 200; tries++) {
		sleep_ms(10);
		n = clients(f, f->ch);
		if (n >= 1 && tries > 20)
			break;
	}
	assert_int_equal(n, 1);
	int adopted = 0, renewed = 0;
	for (int i = 0; i < N; i++) {
		char r;
		assert_int_equal(read(res[0], &r, 1), 1);
		adopted += r == VIEWER_COUNTED;
		renewed += r == VIEWER_RENEWED;
	}
	assert_int_equal(adopted, 1);
	assert_int_equal(renewed, N - 1);
	close(res[0]);
	close(res[1]);
	for (int i = 0; i < N; i++) {
		kill(kids[i], SIGTERM);
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		/* pause() ends with SIGTERM's default action: killed. */
		assert_true(WIFSIGNALED(st));
	}
	assert_int_equal(viewers_count(f->vt, f->ch), 1);
	/* The adopter died too; nobody holds it: recover, then an idle orphan
	 * is freed by any worker's sweep, without touching the count. */
	assert_int_equal(sr_registry_recover(f->reg, NULL), 0);
	for (int i = 0; i < N; i++)
		viewers_worker_died(f->vt, 2 + (unsigned)i);
	assert_int_equal(clients(f, f->ch), 0);
	sleep_ms(5);
	assert_int_equal(viewers_sweep(f->vt, f->reg, viewers_holder(f->vt, 0), 1000000ull), 1);
	assert_int_equal(viewers_count(f->vt, NULL), 0);
	assert_int_equal(clients(f, f->ch), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_claim_renew_expire_revive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_refetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adopt_after_holder_death, setup, teardown),
	    cmocka_unit_test(test_client_hash_address_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
