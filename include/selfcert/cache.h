/*
 * selfcert/cache.h — libselfcert's bounded in-memory caches: shortcuts past work already done
 * on the same bytes. Each accepts and refuses exactly what its plain path does, and is not
 * consulted at all when the library's shortcuts are off (the SC_SHORTCUTS build option).
 */
#ifndef SELFCERT_CACHE_H
#define SELFCERT_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/* ---- the verified-signer cache (src/lib/fast/signer_cache.c) ---- */

/*
 * A bounded in-memory cache of profile signer chains, for the SP, which sees the same network
 * signer in every profile. Never persisted. Each entry is keyed by the SHA-256 of the DER
 * certificates field of a profile and holds those certificates decoded once, and, after
 * sc_profile_check accepted them, the SHA-256 of the anchor's DER they chained to and the time
 * window in which that whole path is valid (latest notBefore <= now < earliest notAfter).
 * A later profile with byte-identical certificates is decoded without parsing them again, and
 * checked against the same anchor at a time inside the window without building the chain
 * again; the signer-is-not-a-CA, EKU and keyUsage results are properties of those same bytes.
 * The profile's own signature is always verified. Anything else (another anchor, another byte,
 * a time outside the window) takes the full path, with the same errors as without a cache.
 * With the shortcuts off, a cache is neither read nor filled: every profile takes the full
 * path and the statistics stay as they are.
 * At most max_entries (1..SC_SIGNER_CACHE_MAX); the least recently used entry is evicted.
 * Not thread-safe: one caller at a time (the SP serves one request at a time).
 * Handed to sc_profile_check through struct sc_profile_policy.signer_cache (profile.h).
 */
#define SC_SIGNER_CACHE_MAX 64

/* SC_ERR_USAGE if max_entries is out of range, SC_ERR_NOMEM. *out is the caller's. */
sc_err sc_signer_cache_new(size_t max_entries, struct sc_signer_cache **out) SC_MUST_USE;
void sc_signer_cache_free(struct sc_signer_cache *c);

/* Forget every entry (e.g. when the trust anchors change). c may be NULL. */
void sc_signer_cache_flush(struct sc_signer_cache *c);

struct sc_signer_cache_stats {
	size_t entries;
	unsigned long decode_hits, decode_misses;   /* certificates reused / parsed */
	unsigned long verify_hits, verify_misses;   /* chain checks skipped / done in full */
};
/* c may be NULL (all zero). */
void sc_signer_cache_stats(const struct sc_signer_cache *c, struct sc_signer_cache_stats *out);

/*
 * sc_profile_decode through a signer cache (c may be NULL: plain sc_profile_decode). Accepts and
 * refuses exactly what sc_profile_decode does: on a hit the rest of the profile is decoded and
 * the whole input must still re-encode to the same bytes; anything unusual falls back to
 * sc_profile_decode. A successful decode that misses adds an entry. *out is the caller's.
 */
sc_err sc_profile_decode_cached(const uint8_t *der, size_t der_len, struct sc_signer_cache *c,
    struct sc_profile **out) SC_MUST_USE;

#endif
