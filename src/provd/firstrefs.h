// SPDX-License-Identifier: Apache-2.0
/*
 * firstrefs.h — #17 (ref10): what a pinned device's profile request knew, left for that
 * profile's first certificate (h_enroll.c cert_first) so that it need not read the profile row
 * and the pin again. Made only after the profile's row was committed, on the pinned path (the
 * request's chain is the device's pin under this root), for an ordinary or (renew13) renewal
 * device-generated profile kept in the profile cache (a renewal profile's: for its window's first
 * certificate; its later ones are judged against the reference that one leaves, leafrefs.h). Keyed by profile ID. An entry is no verdict: the certificate is
 * still judged (sc_leaf_first_judge) and recorded by the registry's transaction, which refuses
 * an unknown or consumed profile, another device's, a revoked device. docs/THREAT-MODEL.md
 * "Session 10 (ref10)".
 *
 * A bounded table (reftable.h: sets of 16 ways; an expired entry's way is taken first, then the
 * oldest put's), thread-safe, entries reference-counted (a worker may use one while another
 * replaces or removes it).
 */
#ifndef SC_PROVD_FIRSTREFS_H
#define SC_PROVD_FIRSTREFS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include <selfcert/oid.h>

#include "json.h"
#include "reftable.h"

struct provd_firstrefs;

#define PROVD_FIRSTREF_CHAIN_MAX 4 /* PROVD_MAX_CHAIN */

/* Immutable once put (but head.uses). */
struct provd_firstref {
	struct provd_refhead head; /* first: the table's; head.id the profile ID */
	char profile_id[2 * SC_PROFILE_ID_LEN + 1];
	char device_id[SC_DEVICE_ID_MAX + 1]; /* the row's device */
	int64_t profile_not_after;            /* the row's profileNotAfter */
	/*
	 * enroll15: the SHA-256 of the profile's DER as the row holds it, as its signing computed
	 * it (sc_profile_info.digest): the kept profile's key (provd_profcache_get_digest), found
	 * without hashing the DER again. The DER itself is not kept.
	 */
	uint8_t digest[SC_PROFILE_DIGEST_LEN];
	struct provd_ders chain_der; /* the chain as the row holds it (device CA first) */
	STACK_OF(X509) *chain;       /* parsed, the pin's path under this root; NULL: below */
	/*
	 * schema14: a pin with this build's strict chain verdict, an ordinary profile: the chain
	 * is not parsed (chain NULL); its certificates' validity as the profile request's peeks
	 * read it, the device CA's key, and the verdict, for sc_leaf_first_judge_der.
	 */
	EVP_PKEY *ca_key;
	int64_t not_before[PROVD_FIRSTREF_CHAIN_MAX], not_after[PROVD_FIRSTREF_CHAIN_MAX];
	uint32_t verdict;
};

sc_err provd_firstrefs_new(size_t max, struct provd_firstrefs **out) SC_MUST_USE;
void provd_firstrefs_free(struct provd_firstrefs *c);

/* The entry for this profile ID, or NULL (c may be NULL). Release it with
 * provd_firstref_release. Not counted: provd_firstrefs_note says whether it was used. */
struct provd_firstref *provd_firstrefs_get(struct provd_firstrefs *c,
    const uint8_t id[SC_PROFILE_ID_LEN]);
void provd_firstref_release(struct provd_firstrefs *c, struct provd_firstref *e);

/* Keep e (calloc'd, filled) for its profile: the table owns it from here, on failure
 * too. */
void provd_firstrefs_put(struct provd_firstrefs *c, struct provd_firstref *e);

/* Forget this profile ID's entry, if any (its certificate was recorded: the profile consumed). */
void provd_firstrefs_drop(struct provd_firstrefs *c, const uint8_t id[SC_PROFILE_ID_LEN]);

/* Frees an entry no table holds. */
void provd_firstref_free(struct provd_firstref *e);

/* One registration that looked: hit when the entry was used (the row and pin not read), a miss
 * when there was none or it could not be used (expired, its profile no longer kept). */
void provd_firstrefs_note(struct provd_firstrefs *c, int hit);

/* provd_firstrefs_note's hits and misses; entries now. */
void provd_firstrefs_counts(struct provd_firstrefs *c, uint64_t *hits, uint64_t *misses,
    size_t *entries);

#endif
