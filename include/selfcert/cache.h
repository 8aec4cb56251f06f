/*
 * selfcert/cache.h — libselfcert's bounded memories of work already done, for servers and the SP
 * that see the same certificates again and again. Each is a measured shortcut (src/lib/fast/):
 * it changes no answer, only its cost, and a build with SC_SHORTCUTS=OFF leaves it unused.
 */
#ifndef SELFCERT_CACHE_H
#define SELFCERT_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

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

#define SC_SIG_CACHE_MAX (1u << 22)     /* entries */

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

#endif
