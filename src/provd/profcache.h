// SPDX-License-Identifier: Apache-2.0
/*
 * profcache.h — the profiles this server signed lately, kept decoded until their device returns
 * its certificate, keyed by the SHA-256 of their DER (which is the profile's own digest). A
 * certificate request then checks the leaf against the very object the profile request built and
 * signed, instead of decoding the registry's copy again (on OpenSSL 3.0 that decode, which
 * parses the signer's certificate, costs as much as a signature verification).
 *
 * A hit needs the registry's DER to hash to the key, so it stands for exactly those bytes; the
 * library builds p->info the same way for a built and a decoded profile (profile.c parse_tbs and
 * set_signed_info). Only device-generated profiles are kept: a server-generated one is never
 * held longer than its request. Bounded: the oldest put goes first (a profile is looked up about
 * once, when its certificate comes back, so a hit does not renew it); a miss only costs the
 * decode. Entries are reference-counted, so a worker may use one while another evicts it.
 */
#ifndef SC_PROVD_PROFCACHE_H
#define SC_PROVD_PROFCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/* Profiles (~5 KiB each) awaiting their certificate: several times the devices in flight with
 * 32 clients. */
#define PROVD_PROFCACHE_DEFAULT 128
#define PROVD_PROFCACHE_MAX 100000

struct provd_profcache;

sc_err provd_profcache_new(size_t max, struct provd_profcache **out) SC_MUST_USE;
void provd_profcache_free(struct provd_profcache *c);

/*
 * Keep p (signed, device-generated; refused otherwise with SC_ERR_USAGE) under its digest. On
 * SC_OK the cache owns p; on failure p is still the caller's.
 */
sc_err provd_profcache_put(struct provd_profcache *c, struct sc_profile *p) SC_MUST_USE;

struct provd_profref; /* one use of a kept profile */

/*
 * The profile whose DER is der[0..len), if kept: *out is borrowed until
 * provd_profcache_release(c, *ref). SC_ERR_NOT_FOUND otherwise (c may be NULL: always not found).
 */
sc_err provd_profcache_get(struct provd_profcache *c, const uint8_t *der, size_t len,
    const struct sc_profile **out, struct provd_profref **ref) SC_MUST_USE;
/*
 * enroll15: provd_profcache_get by the profile's digest (SC_PROFILE_DIGEST_LEN bytes: the SHA-256
 * of its DER, sc_profile_info.digest of a signed profile), for a caller that kept it since the
 * profile was signed instead of hashing the DER again: the same entry as provd_profcache_get of
 * that DER.
 */
sc_err provd_profcache_get_digest(struct provd_profcache *c, const uint8_t *digest,
    const struct sc_profile **out, struct provd_profref **ref) SC_MUST_USE;
/* ref may be NULL. */
void provd_profcache_release(struct provd_profcache *c, struct provd_profref *ref);

void provd_profcache_counts(struct provd_profcache *c, uint64_t *hits, uint64_t *misses,
    size_t *entries);

#endif
