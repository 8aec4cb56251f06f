// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/cache.h — libselfcert's bounded in-memory memories of work already done on the same
 * bytes, for servers and the SP that see the same certificates again and again. Each is a
 * measured shortcut (src/lib/fast/): it accepts and refuses exactly what its plain path does,
 * changing only the cost, and is neither read nor filled when the library's shortcuts are off
 * (the SC_SHORTCUTS build option).
 */
#ifndef SELFCERT_CACHE_H
#define SELFCERT_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
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
	unsigned long decode_hits, decode_misses; /* certificates reused / parsed */
	unsigned long verify_hits, verify_misses; /* chain checks skipped / done in full */
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

/* ---- signature cache ---- */

/*
 * A bounded, thread-safe memory of certificate signatures already verified: the SHA-256 of the
 * certificate's whole DER with its issuer's SubjectPublicKeyInfo DER. A signature is valid or not
 * whatever the time, so only the signature check is remembered; everything else path validation
 * does (validity at the time of the check, key usage, name constraints, path length, policy) is
 * done every time. Only successes are remembered; one changed byte of either is another key.
 * For a server that sees the same manufacturer CA under every device, and a device CA on both
 * of its requests (selfcert-provd). Full: old entries are replaced (4-way sets, round robin).
 */
struct sc_sig_cache;

#define SC_SIG_CACHE_MAX (1u << 22) /* entries */

/* max: 4..SC_SIG_CACHE_MAX entries (SC_ERR_USAGE otherwise; SC_ERR_NOMEM). */
sc_err sc_sig_cache_new(size_t max, struct sc_sig_cache **out) SC_MUST_USE;
void sc_sig_cache_free(struct sc_sig_cache *c);
void sc_sig_cache_stats(struct sc_sig_cache *c, uint64_t *hits, uint64_t *misses);

/*
 * Make X509_verify_cert(ctx) use c for its signature checks (X509_STORE_CTX_set_verify with a
 * function that does what OpenSSL 3.0's own does, in the same order with the same errors and
 * depths, but asks c before each X509_verify). Call after X509_STORE_CTX_init; c must outlive
 * ctx's use. Not for DANE contexts (X509_STORE_CTX_set0_dane). c NULL, or a build without the
 * shortcuts (SC_SHORTCUTS=OFF): ctx unchanged, and c is neither asked nor filled.
 * SC_ERR_INTERNAL if ctx cannot carry c (its ex_data).
 */
sc_err sc_sig_cache_attach(X509_STORE_CTX *ctx, struct sc_sig_cache *c) SC_MUST_USE;

/*
 * Issue 17 (first9): remember that the signature of the certificate whose DER is
 * subject_der[0..len) verifies under issuer's key WITHOUT verifying it here: the caller vouches
 * that it was verified before, on exactly these bytes and this key (issuer's
 * SubjectPublicKeyInfo), e.g. by path validation in another process whose verdict the caller
 * holds by hash (selfcert-provd: a device's pin, docs/THREAT-MODEL.md "Session 9 (first9)").
 * A wrong vouch makes a forged signature pass, so only for a verdict already proven.
 * subject_der must be exactly one strictly encoded DER Certificate (the key hashes the two DER
 * encodings back to back, which are self-delimiting). c NULL, or the shortcuts off: nothing.
 * Never fails.
 */
void sc_sig_cache_vouch(struct sc_sig_cache *c, const uint8_t *subject_der, size_t len,
    X509 *issuer);

/*
 * Issue 17 (fleet12): 1 if c holds the signature of the certificate whose DER is
 * subject_der[0..len) under issuer's key (SubjectPublicKeyInfo) as verified (or vouched for by
 * sc_sig_cache_vouch): the same key sig_key makes, so only bytes that were verified under that
 * key answer 1. 0 otherwise (not there, evicted, c NULL, the shortcuts off). Counts nothing;
 * never fails.
 */
int sc_sig_cache_has(struct sc_sig_cache *c, const uint8_t *subject_der, size_t len,
    X509 *issuer) SC_MUST_USE;

#endif
