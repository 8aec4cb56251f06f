// SPDX-License-Identifier: Apache-2.0
/*
 * reftable.h — the bounded table of references by profile ID that leafrefs.h (renewal
 * profiles' first certificates, renew7) and firstrefs.h (a pinned device's profile request,
 * ref10) each keep. Set-associative (refs14): a hash of the ID picks a set of
 * PROVD_REFTABLE_WAYS entries; a put takes a free way, else one whose entry has expired (its
 * `expires` past the put's `now`), else the victim its table's policy names (below); the entry
 * put is never the victim. One mutex; entries reference-counted so that a worker may use one
 * while another replaces or removes it. Every entry begins with a struct provd_refhead; the
 * table frees an entry through the callback it was made with, when its last user lets go.
 * At most provd_reftable_size(max) entries (provd_reftable_new) are kept: never fewer than max.
 */
#ifndef SC_PROVD_REFTABLE_H
#define SC_PROVD_REFTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/* Ways a set (fewer, one set, for a table of fewer entries). */
#define PROVD_REFTABLE_WAYS 16

/* The first member of every entry. */
struct provd_refhead {
	uint8_t id[SC_PROFILE_ID_LEN];
	int64_t expires; /* the owner's, set before the put: past it the entry is a free way */
	int uses;        /* guarded by the table's lock */
};

/*
 * Which live entry of a full set a put replaces.
 * - PROVD_REFTABLE_OLDEST: the one put first. For entries used soon after they are put or
 *   never (firstrefs: a profile answered, its first certificate registered seconds later).
 * - PROVD_REFTABLE_WINDOW: for references used through their profile's window (leafrefs). A
 *   live entry is spent (found by a get since its put, last in the second half of its life: its
 *   window's end batch came, or a batch a day is in its last days), stale (not found since its
 *   put while more than three times the set's ways were put into its set: a device gone, or
 *   served elsewhere), waiting (not found since its put) or in use (found, earlier). The
 *   victim: the spent one that ends soonest; else the stale one put first; else, while waiting
 *   ones hold more than half the set (or none is in use), the waiting one that ends last (ties:
 *   put last); else the one in use that ends soonest. A waiting reference may be waiting for
 *   a batch at its window's end (--batch N >= K), one use whatever its end: keeping the ones
 *   that end soonest frees the set's ways soonest (interval scheduling's greedy), where
 *   evicting the oldest would drop the reference whose batch is next; stale ones and the half
 *   keep references never found from crowding out those in use (--batch 1). PERFORMANCE.md
 *   21.6.
 */
enum provd_reftable_policy { PROVD_REFTABLE_OLDEST, PROVD_REFTABLE_WINDOW };

struct provd_reftable;

/* The entries a table made for max holds: max up to one set's ways, else max rounded up to
 * whole sets (gaps15: never fewer than asked; at most PROVD_REFTABLE_WAYS - 1 more), except
 * within one set of SIZE_MAX, where it is rounded down (no caller asks for that many). */
size_t provd_reftable_size(size_t max);

/* max entries (at least 1; provd_reftable_size); free_entry frees an entry no table or worker
 * holds any more. */
sc_err provd_reftable_new(size_t max, enum provd_reftable_policy policy,
    void (*free_entry)(struct provd_refhead *), struct provd_reftable **out) SC_MUST_USE;
void provd_reftable_free(struct provd_reftable *t);

/* The entry for this ID, or NULL (t may be NULL); not counted. Release it. Expired entries
 * are returned as any other (the caller checks its own times). now: when it was found (the
 * window policy's). */
struct provd_refhead *provd_reftable_get(struct provd_reftable *t,
    const uint8_t id[SC_PROFILE_ID_LEN], int64_t now);
/* Whether this ID has an entry now (t may be NULL); not a get for the policy. */
int provd_reftable_has(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN]);
void provd_reftable_release(struct provd_reftable *t, struct provd_refhead *e);

/* Keep e (its id and expires set) in its set; the table owns it from here; it replaces this
 * ID's entry if there is one. now: what expires is compared with. t must not be NULL. */
void provd_reftable_put(struct provd_reftable *t, struct provd_refhead *e, int64_t now);
/* late15: provd_reftable_put, and e held for the caller as a get holds it (not a get for the
 * policy): release it. */
void provd_reftable_put_held(struct provd_reftable *t, struct provd_refhead *e, int64_t now);
/* Forget this ID's entry, if any. */
void provd_reftable_drop(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN]);

/* One lookup as its caller counts it: a hit or a miss. */
void provd_reftable_note(struct provd_reftable *t, int hit);
void provd_reftable_counts(struct provd_reftable *t, uint64_t *hits, uint64_t *misses,
    size_t *entries);
/* Entries a put replaced while they were live (not expired) and still of use: the oldest
 * policy's, or the window policy's stale, waiting or in-use ones (late15b: stale too; its
 * window has not ended, and a batch at the window's end would still find it): what the
 * table's size lost. */
uint64_t provd_reftable_evictions(struct provd_reftable *t);
/* The window policy's spent entries a put replaced (gaps15; late15b: spent only): its turnover,
 * counted apart from the evictions (a large enough table has them too). Expired ones are not
 * counted. */
uint64_t provd_reftable_retired(struct provd_reftable *t);

#endif
