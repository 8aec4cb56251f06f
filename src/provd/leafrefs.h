// SPDX-License-Identifier: Apache-2.0
/*
 * leafrefs.h — renewal profiles whose first certificate passed the full check, each kept as the
 * reference its later certificates are judged against (fast/leaf_ref.h, issue 17): within one
 * batch request always, across requests while the entry stays. Keyed by profile ID.
 *
 * A bounded table (reftable.h: sets of 16 ways; an expired reference's way is taken first, then
 * by the window policy: a spent reference, a stale one, a waiting one that ends last, one in use
 * that ends soonest), thread-safe, entries reference-counted so that a worker may judge against
 * one while another replaces it. An entry is a verdict's template, never a verdict: every
 * certificate is still judged, byte for byte and by its signature, and anything the template
 * cannot judge goes through the full check.
 */
#ifndef SC_PROVD_LEAFREFS_H
#define SC_PROVD_LEAFREFS_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#include "fast/leaf_ref.h"
#include "reftable.h"

/* ~2.5 KiB each: the renewal profiles of several thousand devices registering at once. */
#define PROVD_LEAFREFS_DEFAULT 8192
#define PROVD_LEAFREFS_MIN 16 /* --leaf-refs */
#define PROVD_LEAFREFS_MAX 1000000

struct provd_leafrefs;

struct provd_leafref {
	struct provd_refhead head; /* first: the table's; expires: window_end + the allowance */
	struct sc_leaf_ref *ref;
	int64_t profile_not_after; /* the registry's profileNotAfter (cert_in_time) */
	int64_t window_end;        /* late15: the profile's last certificate's notAfter */
	/*
	 * late15: 1 once a certificate of the profile is known recorded (the registry's row said
	 * consumed when the reference was made, or this process recorded one since): the full
	 * path's cert_in_time then passes whatever the time. Read and set with __atomic (workers
	 * share the entry); never goes back to 0.
	 */
	int recorded;
	char profile_id[2 * SC_PROFILE_ID_LEN + 1];
};

sc_err provd_leafrefs_new(size_t max, struct provd_leafrefs **out) SC_MUST_USE;
void provd_leafrefs_free(struct provd_leafrefs *c);

/* The entry for this profile ID, or NULL (c may be NULL). Release it with provd_leafref_release. */
struct provd_leafref *provd_leafrefs_get(struct provd_leafrefs *c,
    const uint8_t id[SC_PROFILE_ID_LEN]);
void provd_leafref_release(struct provd_leafrefs *c, struct provd_leafref *e);

/* Whether this profile ID has an entry now, not counted as a hit or a miss (c may be NULL). */
int provd_leafrefs_has(struct provd_leafrefs *c, const uint8_t id[SC_PROFILE_ID_LEN]);

/*
 * Keep ref for its profile (the table owns ref from here, on failure too), kept until
 * window_end plus the clock allowance; recorded as in struct provd_leafref. Returns the entry
 * held for the caller (release it with provd_leafref_release; a later provd_leafref_recorded
 * marks it), or NULL (c NULL, out of memory).
 */
struct provd_leafref *provd_leafrefs_put(struct provd_leafrefs *c, struct sc_leaf_ref *ref,
    int64_t profile_not_after, int64_t window_end, int recorded);

/*
 * late15: whether cert_fast may judge with e at now: as the full path's cert_in_time would let
 * its certificates through. Up to profileNotAfter plus the allowance always (the record's
 * transaction still refuses what the registry refuses); past it only once a certificate of the
 * profile is recorded (e->recorded), up to the window's end plus the allowance (the entry's
 * expiry; a certificate later still goes through the full check, which accepts it too).
 */
int provd_leafref_usable(const struct provd_leafref *e, int64_t now);

/* late15: a certificate of e's profile is recorded (its transaction committed). */
void provd_leafref_recorded(struct provd_leafref *e);

/*
 * provd_leafrefs_get's finds (hits) and lookups that found nothing (misses: a profile's first
 * certificate, a certificate of an ordinary profile, or one whose entry was replaced).
 */
void provd_leafrefs_counts(struct provd_leafrefs *c, uint64_t *hits, uint64_t *misses);

/* References replaced while their profile was still in time and still of use (waiting for a
 * batch, or in use: refs14, gaps15): the table too small for the renewals it serves (0 with c
 * NULL). */
uint64_t provd_leafrefs_evictions(struct provd_leafrefs *c);
/* References replaced while in time but done (spent: found late in their life; or stale: never
 * found while their set turned over three times): the table's turnover, not a loss (gaps15). */
uint64_t provd_leafrefs_retired(struct provd_leafrefs *c);

#endif
