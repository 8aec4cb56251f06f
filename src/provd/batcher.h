// SPDX-License-Identifier: Apache-2.0
/*
 * batcher.h — Merkle batch profiles handed out by the server (#17 direction 3, docs/API.md
 * "Batch profiles from the server"): concurrent profile requests whose devices' SPs have
 * BATCH_ISSUE share one signature. Waves are signed one at a time: requests arriving while one
 * is signed form the next (so a slow signer gathers large waves, a fast one adds no wait). The
 * first request of a wave also waits for the requests that have announced themselves
 * (provd_batcher_enter: parsed, still being checked) and not yet arrived, at most
 * PROVD_BATCH_INFLIGHT_MS, and never when none is on its way: a lone request is signed at once.
 * With wait_ms > 0 it waits instead for a fixed window, until max have joined or wait_ms has
 * passed (bigger waves, every request up to wait_ms later). sc_batch_sign signs the wave; each request leaves with its own BatchedProfile.
 * A request waits inside its HTTP worker (libmicrohttpd's thread pool multiplexes connections
 * per thread), so wait_ms holds up that thread's other connections too: keep it to a few ms,
 * and a wave is at most as large as the workers (--threads).
 */
#ifndef SC_PROVD_BATCHER_H
#define SC_PROVD_BATCHER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#define PROVD_BATCH_SIZE_MIN 2
#define PROVD_BATCH_SIZE_MAX 4096     /* devices per wave: far below SC_BATCH_MAX_SIZE */
#define PROVD_BATCH_WAIT_MS_DEFAULT 0 /* no fixed window: group signing and requests in flight */
#define PROVD_BATCH_INFLIGHT_MS 100   /* the most a leader waits for announced requests */
#define PROVD_BATCH_WAIT_MS_MAX 60000

struct provd_batcher;

/*
 * A batcher signing with key and cert (borrowed: they must outlive it), waves of at most max
 * (PROVD_BATCH_SIZE_MIN..MAX) bodies, the first waiting at most wait_ms (0..MAX) for the rest.
 * SC_ERR_USAGE out of range, SC_ERR_NOMEM.
 */
sc_err provd_batcher_new(EVP_PKEY *key, X509 *cert, size_t max, unsigned wait_ms,
    struct provd_batcher **out) SC_MUST_USE;
/* NULL is fine. No request may be inside provd_batcher_sign (the workers are stopped). */
void provd_batcher_free(struct provd_batcher *b);

/*
 * Sign body (unsigned, no challenge, the caller's throughout) in the current wave; announced: the
 * request called provd_batcher_enter (it now counts as arrived, not as on its way). Blocks at
 * most about wait_ms plus the signing of the wave before and of its own. On SC_OK *der / *len (OPENSSL_free) is the
 * device's BatchedProfile and body is signed as sc_batch_decode would make it (batch.h); on
 * failure (SC_ERR_USAGE for a body the batch refuses, SC_ERR_NOMEM, SC_ERR_INTERNAL) every
 * request of the wave fails and nothing is left in *der. *wave_n (may be NULL): the wave's size,
 * the devices that share this signature.
 */
sc_err provd_batcher_sign(struct provd_batcher *b, int announced, struct sc_profile *body,
    uint8_t **der, size_t *len, size_t *wave_n) SC_MUST_USE;

/*
 * 1 if a profile request gets a batch leaf: the server batches (have_batcher), the device asked
 * ("batch": true), and the profile is an ordinary one with a device-generated key, not gated
 * (a renewal profile is refused inside a batch by the SP; a supplied key or a TPM authorization
 * is bound to one profile's own request).
 */
static inline int provd_batch_eligible(int have_batcher, int asked, uint32_t renewal_count,
    int server_keygen, int gated)
{
	return have_batcher && asked && renewal_count == 0 && !server_keygen && !gated;
}

/*
 * A request that will ask provd_batcher_sign announces itself as early as it knows (a wave's
 * leader waits for it), and calls provd_batcher_leave if it then does not sign (refused);
 * provd_batcher_sign(b, 1, …) counts it as arrived. b may be NULL (nothing).
 */
void provd_batcher_enter(struct provd_batcher *b);
void provd_batcher_leave(struct provd_batcher *b);

/* Waves signed and profiles in them, since start (for /metrics and the log). */
void provd_batcher_counts(struct provd_batcher *b, uint64_t *waves, uint64_t *profiles);

#endif
