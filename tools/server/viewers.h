/*
 * The viewer table: who is watching, shared by the master and all workers.
 *
 * HLS players poll over short requests that may reach any worker, so a
 * viewer cannot be a connection.  A viewer is one fetch of master.m3u8: it
 * gets a slot here and a token that the rewritten master playlist puts into
 * every variant URL (/channels/{id}/v/{token}/{variant}/...), so all later
 * requests of that player carry it, whichever worker serves them.
 *
 * Exactly one process holds the registry lease (sr_session_add_client) of a
 * viewer: the worker that created it.  Other workers only renew last_seen.
 * The holder's sweep expires its viewers whose last request is older than
 * the timeout and calls sr_session_remove_client.  When a worker dies, the
 * master recovers the registry (its leases vanish) and then bumps the
 * worker's generation; the viewer's next request, on any worker, adopts it
 * (a compare-and-swap on the slot word, so one adopter wins) and takes a new
 * lease.  A viewer is therefore counted once, and counted again within one
 * playlist refresh after its holder died.
 *
 * Each slot's state is one 64-bit word, changed only by compare-and-swap:
 *   0                     free
 *   nonce=0, holder=H     being filled by H (a claim in progress)
 *   nonce=N, holder=H     published viewer with token nonce N held by H
 * holder = ((worker index + 1) << 8) | (generation & 0xff).  The table lives
 * in an anonymous MAP_SHARED mapping created by the master before forking.
 */
#ifndef SRV_VIEWERS_H
#define SRV_VIEWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include <streamreg.h>

#define VIEWERS_MAX_WORKERS 255
#define VIEWERS_NONCE_BITS  48
/* Unconfirmed viewers one client may have on one channel (see viewers_claim()). */
#define VIEWERS_PENDING_MAX 4
/* Slots searched for them, from a place that depends on the client. */
#define VIEWERS_WINDOW 64

struct viewer_table;

/* Create the shared table (capacity slots), or NULL with errno. */
struct viewer_table *viewers_create(uint32_t capacity);
/* Bytes a table of capacity slots needs, for a mapping made by someone
 * else (nginx's shared zones); 0 if capacity is out of range. */
size_t viewers_size(uint32_t capacity);
/* Lay a table out in mem: zero-filled, viewers_size(capacity) bytes,
 * 64-byte aligned, shared by every process that will use it.  NULL with
 * errno EINVAL if it does not fit.  Never pass it to viewers_destroy(). */
struct viewer_table *viewers_init(void *mem, size_t bytes, uint32_t capacity);
void viewers_destroy(struct viewer_table *vt);
uint32_t viewers_capacity(const struct viewer_table *vt);

/* Holder id of worker index idx in its current generation. */
uint32_t viewers_holder(const struct viewer_table *vt, unsigned idx);
/* Master: a worker index died (after sr_registry_recover): its viewers
 * become orphans that the next request adopts. */
void viewers_worker_died(struct viewer_table *vt, unsigned idx);

/* What viewers_claim() and viewers_renew() did. */
enum viewer_result {
	VIEWER_RENEWED,  /* known viewer, last_seen updated */
	VIEWER_REUSED,   /* viewers_claim(): the client's own unconfirmed viewer, renewed */
	VIEWER_COUNTED,  /* a lease was taken now (new, adopted or revived) */
	VIEWER_UNKNOWN,  /* token names no viewer and could not be revived */
	VIEWER_MISMATCH, /* token belongs to another channel */
	VIEWER_FULL,     /* no free slot */
	VIEWER_ERROR,    /* the registry refused the lease (*err set) */
};

struct sockaddr;

/*
 * The `client` of viewers_claim(): who asks, as far as a request tells, from
 * the client's IPv4 or IPv6 address (sa, may be NULL; other families count
 * as no address) and its User-Agent (ua, may be NULL); FNV-1a, never 0.
 * Shared by every server so they fold refetches alike.
 */
uint64_t viewers_client_hash(const struct sockaddr *sa, const char *ua);

/*
 * A master.m3u8 request of `client` (a hash of who asks: address and
 * User-Agent; 0 for nobody in particular) for channel.  Normally a new
 * viewer held by `holder`, with the registry lease taken: VIEWER_COUNTED.
 * But a viewer stays *unconfirmed* until a request carries its token, and
 * when the client already has VIEWERS_PENDING_MAX unconfirmed viewers of the
 * channel, it gets the newest of them again (VIEWER_REUSED, or
 * VIEWER_COUNTED if that one had to be adopted): a client refetching the
 * master playlist without ever playing (a load tool, a probe) is a few
 * viewers, not one per request, while players that play, even many behind
 * one address with one User-Agent, each count once.  *slot and *nonce form
 * the token.  reg may be NULL (then no lease is taken: the benchmark's
 * registry-off mode).
 */
enum viewer_result viewers_claim(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                 const uuid_t channel, uint64_t client, uint32_t *slot,
                                 uint64_t *nonce, int *err);

/*
 * A request carrying token (slot, nonce) for channel: renew it (and confirm
 * it: the player plays), adopt it if its holder died, or revive it (same
 * token) if it expired and its slot is free.
 */
enum viewer_result viewers_renew(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                 const uuid_t channel, uint32_t slot, uint64_t nonce, int *err);

/* viewers_renew() for a master.m3u8 request presenting a token (its
 * cookie): renews without confirming, as a playlist or segment would. */
enum viewer_result viewers_renew_pending(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                                         const uuid_t channel, uint32_t slot, uint64_t nonce,
                                         int *err);

/* Mark a viewer seen now, if (slot, nonce) still names it: a viewer
 * whose master.m3u8 request waits for its channel to start is alive. */
void viewers_touch(struct viewer_table *vt, uint32_t slot, uint64_t nonce);

/* Drop a viewer this holder created (a start that failed). */
void viewers_release(struct viewer_table *vt, sr_registry *reg, uint32_t holder, uint32_t slot,
                     uint64_t nonce);

/*
 * Expire this holder's viewers idle for longer than timeout_ns (releasing
 * their leases), and free orphans of dead holders that are idle too or
 * abandoned mid-claim.  Returns the number of viewers expired.
 */
unsigned viewers_sweep(struct viewer_table *vt, sr_registry *reg, uint32_t holder,
                       uint64_t timeout_ns);

/* Release every viewer this holder has (clean worker exit). */
unsigned viewers_release_all(struct viewer_table *vt, sr_registry *reg, uint32_t holder);

/* Published viewers, in total and of one channel (for tests and logs). */
unsigned viewers_count(const struct viewer_table *vt, const uuid_t channel_or_null);

#endif
