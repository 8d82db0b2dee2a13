#include "viewers.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "st_log.h"

#define HOLDER_MASK 0xffffull
#define NONCE_MASK  ((1ull << VIEWERS_NONCE_BITS) - 1)

struct viewer_slot {
	_Atomic uint64_t word;
	_Atomic uint64_t last_seen_ns;
	/* Written by the claimer before it publishes the word, read only by
	 * those who saw the published word, so plain bytes suffice. */
	uuid_t channel;
	/* Who asked (viewers_claim()'s client), written like channel. */
	uint64_t client;
	/* Set by the first request that carries the token: the player plays. */
	_Atomic uint32_t confirmed;
	char pad[64 - 3 * sizeof(uint64_t) - sizeof(uuid_t) - sizeof(uint32_t)];
};
_Static_assert(sizeof(struct viewer_slot) == 64, "one cache line per viewer");

struct viewer_table {
	uint32_t capacity;
	size_t bytes;
	_Atomic uint32_t next;                     /* claim hint */
	_Atomic uint32_t gen[VIEWERS_MAX_WORKERS]; /* per worker index */
	struct viewer_slot slots[] __attribute__((aligned(64)));
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t word_make(uint64_t nonce, uint32_t holder)
{
	return ((nonce & NONCE_MASK) << 16) | (holder & HOLDER_MASK);
}

static uint64_t word_nonce(uint64_t w)
{
	return w >> 16;
}

static uint32_t word_holder(uint64_t w)
{
	return (uint32_t)(w & HOLDER_MASK);
}

static uint64_t random_nonce(void)
{
	/* Tokens only need to be unpredictable enough not to collide; the
	 * kernel's generator never blocks after boot. */
	uint64_t v = 0;
	while (v == 0) {
		if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
			v = now_ns() * 0x9e3779b97f4a7c15ull;
		v &= NONCE_MASK;
	}
	return v;
}

size_t viewers_size(uint32_t capacity)
{
	if (capacity == 0 || capacity > (1u << 24))
		return 0;
	return sizeof(struct viewer_table) + (size_t)capacity * sizeof(struct viewer_slot);
}

struct viewer_table *viewers_init(void *mem, size_t bytes, uint32_t capacity)
{
	size_t need = viewers_size(capacity);
	if (need == 0 || bytes < need || ((uintptr_t)mem & 63) != 0) {
		errno = EINVAL;
		return NULL;
	}
	struct viewer_table *vt = mem; /* zero-filled: every slot free, generation 0 */
	vt->capacity = capacity;
	vt->bytes = 0; /* not ours to unmap */
	return vt;
}

struct viewer_table *viewers_create(uint32_t capacity)
{
	size_t bytes = viewers_size(capacity);
	if (bytes == 0) {
		errno = EINVAL;
		return NULL;
	}
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct viewer_table *vt = viewers_init(m, bytes, capacity);
	vt->bytes = bytes;
	return vt;
}

void viewers_destroy(struct viewer_table *vt)
{
	if (vt && vt->bytes)
		munmap(vt, vt->bytes);
}

uint32_t viewers_capacity(const struct viewer_table *vt)
{
	return vt->capacity;
}

uint32_t viewers_holder(const struct viewer_table *vt, unsigned idx)
{
	uint32_t g =
	    atomic_load_explicit(&((struct viewer_table *)vt)->gen[idx], memory_order_acquire);
	return ((idx + 1) << 8) | (g & 0xff);
}

void viewers_worker_died(struct viewer_table *vt, unsigned idx)
{
	atomic_fetch_add_explicit(&vt->gen[idx], 1, memory_order_acq_rel);
}

static bool holder_alive(struct viewer_table *vt, uint32_t holder)
{
	unsigned idx = (holder >> 8) - 1;
	if ((holder >> 8) == 0 || idx >= VIEWERS_MAX_WORKERS)
		return false;
	return viewers_holder(vt, idx) == holder;
}

static int take_lease(sr_registry *reg, const uuid_t channel)
{
	return reg ? sr_session_add_client(reg, channel) : 0;
}

static void drop_lease(sr_registry *reg, const uuid_t channel)
{
	if (!reg)
		return;
	int rc = sr_session_remove_client(reg, channel);
	if (rc < 0 && rc != -ENOENT)
		st_debug("remove_client: %s", sr_strerror(rc));
}

/* Fill a slot we moved to "claiming" and publish it with nonce. */
static enum viewer_result publish(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                  uint32_t i, const uuid_t channel, uint64_t client, bool confirmed,
                                  uint64_t nonce, int *err)
{
	struct viewer_slot *s = &vt->slots[i];
	memcpy(s->channel, channel, sizeof(uuid_t));
	s->client = client;
	atomic_store_explicit(&s->confirmed, confirmed, memory_order_relaxed);
	atomic_store_explicit(&s->last_seen_ns, now_ns(), memory_order_relaxed);
	int rc = take_lease(reg, channel);
	if (rc < 0) {
		*err = rc;
		atomic_store_explicit(&s->word, 0, memory_order_release);
		return VIEWER_ERROR;
	}
	/* Release order publishes the channel bytes with the word. */
	atomic_store_explicit(&s->word, word_make(nonce, holder), memory_order_release);
	return VIEWER_COUNTED;
}

/* Move free slot i to "claiming" by holder and publish a new viewer in it. */
static enum viewer_result claim_slot(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                     uint32_t i, const uuid_t channel, uint64_t client,
                                     uint32_t *slot, uint64_t *nonce, int *err)
{
	uint64_t expect = 0;
	if (atomic_load_explicit(&vt->slots[i].word, memory_order_relaxed) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&vt->slots[i].word, &expect,
	                                             word_make(0, holder), memory_order_acq_rel,
	                                             memory_order_relaxed))
		return VIEWER_UNKNOWN;
	uint64_t n = random_nonce();
	enum viewer_result r = publish(vt, reg, holder, i, channel, client, false, n, err);
	if (r == VIEWER_COUNTED) {
		*slot = i;
		*nonce = n;
	}
	return r;
}

/* The client's window: where its viewers of any channel are placed first,
 * so that its unconfirmed ones are found without scanning the table. */
static uint32_t window_start(const struct viewer_table *vt, uint64_t client)
{
	uint64_t h = client * 0x9e3779b97f4a7c15ull;
	return (uint32_t)((h >> 32) % vt->capacity);
}

uint64_t viewers_client_hash(const struct sockaddr *sa, const char *ua)
{
	const void *addr = NULL;
	size_t n = 0;
	if (sa && sa->sa_family == AF_INET) {
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		n = sizeof(struct in_addr);
	} else if (sa && sa->sa_family == AF_INET6) {
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		n = sizeof(struct in6_addr);
	}
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p = addr;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	for (; ua && *ua; ua++)
		h = (h ^ (unsigned char)*ua) * 0x100000001b3ull;
	return h ? h : 1;
}

enum viewer_result viewers_claim(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                 const uuid_t channel, uint64_t client, uint32_t *slot,
                                 uint64_t *nonce, int *err)
{
	uint32_t free_slot = UINT32_MAX;
	if (client) {
		uint32_t start = window_start(vt, client);
		uint32_t span = vt->capacity < VIEWERS_WINDOW ? vt->capacity : VIEWERS_WINDOW;
		unsigned pending = 0;
		uint32_t newest = 0;
		uint64_t newest_seen = 0;
		for (uint32_t k = 0; k < span; k++) {
			uint32_t i = (start + k) % vt->capacity;
			struct viewer_slot *s = &vt->slots[i];
			uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
			if (w == 0) {
				if (free_slot == UINT32_MAX)
					free_slot = i;
				continue;
			}
			if (word_nonce(w) == 0 || s->client != client ||
			    atomic_load_explicit(&s->confirmed, memory_order_relaxed) ||
			    memcmp(s->channel, channel, sizeof(uuid_t)) != 0)
				continue;
			uint64_t seen =
			    atomic_load_explicit(&s->last_seen_ns, memory_order_relaxed);
			if (pending++ == 0 || seen > newest_seen) {
				newest = i;
				newest_seen = seen;
			}
		}
		if (pending >= VIEWERS_PENDING_MAX) {
			/* The same client fetching master.m3u8 again and again
			 * without playing: hand out a token it already has. */
			uint64_t w =
			    atomic_load_explicit(&vt->slots[newest].word, memory_order_acquire);
			enum viewer_result r = viewers_renew_pending(vt, reg, holder, channel,
			                                             newest, word_nonce(w), err);
			if (r == VIEWER_RENEWED || r == VIEWER_COUNTED) {
				*slot = newest;
				*nonce = word_nonce(w);
				return r == VIEWER_COUNTED ? VIEWER_COUNTED : VIEWER_REUSED;
			}
		}
		if (free_slot != UINT32_MAX) {
			enum viewer_result r = claim_slot(vt, reg, holder, free_slot, channel,
			                                  client, slot, nonce, err);
			if (r != VIEWER_UNKNOWN)
				return r;
		}
	}
	uint32_t start = atomic_fetch_add_explicit(&vt->next, 1, memory_order_relaxed);
	for (uint32_t k = 0; k < vt->capacity; k++) {
		uint32_t i = (start + k) % vt->capacity;
		enum viewer_result r =
		    claim_slot(vt, reg, holder, i, channel, client, slot, nonce, err);
		if (r == VIEWER_UNKNOWN)
			continue;
		if (r == VIEWER_COUNTED)
			atomic_store_explicit(&vt->next, i + 1, memory_order_relaxed);
		return r;
	}
	return VIEWER_FULL;
}

static enum viewer_result renew(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                const uuid_t channel, uint32_t slot, uint64_t nonce, bool confirm,
                                int *err)
{
	if (slot >= vt->capacity || nonce == 0 || nonce > NONCE_MASK)
		return VIEWER_UNKNOWN;
	struct viewer_slot *s = &vt->slots[slot];
	uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
	for (;;) {
		if (w == 0) {
			/* Expired (or never existed here): revive the same token so
			 * a player that paused longer than the timeout counts again. */
			if (!atomic_compare_exchange_strong_explicit(
			        &s->word, &w, word_make(0, holder), memory_order_acq_rel,
			        memory_order_acquire))
				continue;
			return publish(vt, reg, holder, slot, channel, 0, confirm, nonce, err);
		}
		if (word_nonce(w) != nonce)
			return VIEWER_UNKNOWN; /* slot reused by another viewer, or mid-claim */
		if (memcmp(s->channel, channel, sizeof(uuid_t)) != 0)
			return VIEWER_MISMATCH;
		atomic_store_explicit(&s->last_seen_ns, now_ns(), memory_order_relaxed);
		if (confirm && !atomic_load_explicit(&s->confirmed, memory_order_relaxed))
			atomic_store_explicit(&s->confirmed, 1, memory_order_relaxed);
		uint32_t h = word_holder(w);
		if (h == holder || holder_alive(vt, h))
			return VIEWER_RENEWED;
		/* Its holder died and the master already recovered its leases:
		 * adopt it.  Losing the race means someone else adopted or
		 * expired it; look again. */
		if (!atomic_compare_exchange_strong_explicit(&s->word, &w, word_make(nonce, holder),
		                                             memory_order_acq_rel,
		                                             memory_order_acquire))
			continue;
		int rc = take_lease(reg, channel);
		if (rc < 0) {
			*err = rc;
			return VIEWER_ERROR; /* stays ours; the sweep drops it */
		}
		return VIEWER_COUNTED;
	}
}

enum viewer_result viewers_renew(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                 const uuid_t channel, uint32_t slot, uint64_t nonce, int *err)
{
	return renew(vt, reg, holder, channel, slot, nonce, true, err);
}

enum viewer_result viewers_renew_pending(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                         const uuid_t channel, uint32_t slot, uint64_t nonce,
                                         int *err)
{
	return renew(vt, reg, holder, channel, slot, nonce, false, err);
}

void viewers_touch(struct viewer_table *vt, uint32_t slot, uint64_t nonce)
{
	if (slot >= vt->capacity)
		return;
	struct viewer_slot *s = &vt->slots[slot];
	uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
	if (w != 0 && word_nonce(w) == nonce)
		atomic_store_explicit(&s->last_seen_ns, now_ns(), memory_order_relaxed);
}

void viewers_release(struct viewer_table *vt, sr_registry *reg, uint32_t holder, uint32_t slot,
                     uint64_t nonce)
{
	if (slot >= vt->capacity)
		return;
	struct viewer_slot *s = &vt->slots[slot];
	uint64_t w = word_make(nonce, holder);
	uuid_t ch = {0};
	memcpy(ch, s->channel, sizeof ch);
	if (atomic_compare_exchange_strong_explicit(&s->word, &w, 0, memory_order_acq_rel,
	                                            memory_order_relaxed))
		drop_lease(reg, ch);
}

unsigned viewers_sweep(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                       uint64_t timeout_ns)
{
	unsigned expired = 0;
	uint64_t now = now_ns();
	for (uint32_t i = 0; i < vt->capacity; i++) {
		struct viewer_slot *s = &vt->slots[i];
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		if (w == 0)
			continue;
		uint32_t h = word_holder(w);
		bool mine = h == holder;
		if (!mine && holder_alive(vt, h))
			continue;
		if (word_nonce(w) == 0) {
			/* A claim in progress: ours is another thread's business;
			 * a dead holder's never completes. */
			if (!mine)
				atomic_compare_exchange_strong_explicit(
				    &s->word, &w, 0, memory_order_acq_rel, memory_order_relaxed);
			continue;
		}
		uint64_t seen = atomic_load_explicit(&s->last_seen_ns, memory_order_relaxed);
		if (seen + timeout_ns > now)
			continue;
		uuid_t ch = {0};
		memcpy(ch, s->channel, sizeof ch);
		if (!atomic_compare_exchange_strong_explicit(&s->word, &w, 0, memory_order_acq_rel,
		                                             memory_order_relaxed))
			continue;
		/* An orphan's lease went with its dead holder. */
		if (mine)
			drop_lease(reg, ch);
		expired++;
	}
	return expired;
}

unsigned viewers_release_all(struct viewer_table *vt, sr_registry *reg, uint32_t holder)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < vt->capacity; i++) {
		struct viewer_slot *s = &vt->slots[i];
		uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
		if (w == 0 || word_holder(w) != holder || word_nonce(w) == 0)
			continue;
		uuid_t ch = {0};
		memcpy(ch, s->channel, sizeof ch);
		if (atomic_compare_exchange_strong_explicit(&s->word, &w, 0, memory_order_acq_rel,
		                                            memory_order_relaxed)) {
			drop_lease(reg, ch);
			n++;
		}
	}
	return n;
}

unsigned viewers_count(const struct viewer_table *vt, const uuid_t channel_or_null)
{
	unsigned n = 0;
	struct viewer_table *t = (struct viewer_table *)vt;
	for (uint32_t i = 0; i < t->capacity; i++) {
		uint64_t w = atomic_load_explicit(&t->slots[i].word, memory_order_acquire);
		if (w == 0 || word_nonce(w) == 0)
			continue;
		if (channel_or_null &&
		    memcmp(t->slots[i].channel, channel_or_null, sizeof(uuid_t)) != 0)
			continue;
		n++;
	}
	return n;
}
