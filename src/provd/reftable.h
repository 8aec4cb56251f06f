// SPDX-License-Identifier: Apache-2.0
/*
 * reftable.h — the bounded table of references by profile ID that leafrefs.h (renewal
 * profiles' first certificates, renew7) and firstrefs.h (a pinned device's profile request,
 * ref10) each keep: one entry per slot (a hash of the ID; the newest put wins), one mutex,
 * entries reference-counted so that a worker may use one while another replaces or removes it.
 * Every entry begins with a struct provd_refhead; the table frees an entry through the callback
 * it was made with, when its last user lets go.
 */
#ifndef SC_PROVD_REFTABLE_H
#define SC_PROVD_REFTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/* The first member of every entry. */
struct provd_refhead {
	uint8_t id[SC_PROFILE_ID_LEN];
	int uses; /* guarded by the table's lock */
};

struct provd_reftable;

/* max slots (at least 1); free_entry frees an entry no table or worker holds any more. */
sc_err provd_reftable_new(size_t max, void (*free_entry)(struct provd_refhead *),
    struct provd_reftable **out) SC_MUST_USE;
void provd_reftable_free(struct provd_reftable *t);

/* The entry for this ID, or NULL (t may be NULL); not counted. Release it. */
struct provd_refhead *provd_reftable_get(struct provd_reftable *t,
    const uint8_t id[SC_PROFILE_ID_LEN]);
/* Whether this ID has an entry now (t may be NULL). */
int provd_reftable_has(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN]);
void provd_reftable_release(struct provd_reftable *t, struct provd_refhead *e);

/* Keep e (its id set) in its slot; the table owns it from here. t must not be NULL. */
void provd_reftable_put(struct provd_reftable *t, struct provd_refhead *e);
/* Forget this ID's entry, if any. */
void provd_reftable_drop(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN]);

/* One lookup as its caller counts it: a hit or a miss. */
void provd_reftable_note(struct provd_reftable *t, int hit);
void provd_reftable_counts(struct provd_reftable *t, uint64_t *hits, uint64_t *misses,
    size_t *entries);

#endif
