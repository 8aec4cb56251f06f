// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/batch.h — one signature for many devices (#17, docs/FORMATS.md "Batch profiles"): the
 * server signs a Merkle root over many devices' profile bodies once; each device receives its
 * body, its inclusion path and the signed root (a BatchedProfile), and its SP checks the path and
 * the one signature, then everything an ordinary profile gets (sc_profile_check).
 */
#ifndef SELFCERT_BATCH_H
#define SELFCERT_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#define SC_BATCH_MAX_PATH 16 /* log2(SC_BATCH_MAX_SIZE) */
#define SC_BATCH_HASH_LEN 32 /* SHA-256 */
/* A BatchedProfile: a SignedProfile's bytes plus a path and the root's few fields. */
#define SC_BATCH_MAX_DER (SC_PROFILE_MAX_DER + 1024)

/*
 * Sign n (1..SC_BATCH_MAX_SIZE) unsigned profiles (sc_profile_create) as one batch: each gets
 * its place ([7]: a fresh random batch ID, its index), the Merkle tree over their DER bodies is
 * built (leaf SHA-256(0x00 || tbsProfile), node SHA-256(0x01 || left || right), missing leaves
 * of the last level SHA-256(0x02)), and its root is signed once by signer_key (algorithms as
 * sc_profile_sign's, no PSS). ders[i] / lens[i] (OPENSSL_free each) is device i's
 * BatchedProfile. bodies are changed but stay the caller's: [7] set, and on success each is
 * signed, equal to what sc_batch_decode makes of ders[i] (the root's signature and
 * certificates, the digest of ders[i]), so a server may keep it instead of decoding its own
 * answer (provd, #17). SC_ERR_USAGE (also for a body already signed), _NOMEM, _INTERNAL; on
 * failure no ders[i] is left (bodies may be left signed).
 */
sc_err sc_batch_sign(struct sc_profile **bodies, size_t n, EVP_PKEY *signer_key, X509 *signer_cert,
    uint8_t **ders, size_t *lens) SC_MUST_USE;

/*
 * Strict decode of a BatchedProfile: at most SC_BATCH_MAX_DER bytes (SC_ERR_OVERSIZE), DER
 * only (SC_ERR_MALFORMED "not DER"), nothing after it (SC_ERR_TRAILING); tbsBatchRoot's
 * contentType id-sc-ct-batchRoot (SC_ERR_CONTENT_TYPE), batchId 16 bytes, size
 * 1..SC_BATCH_MAX_SIZE, root and every path entry 32 bytes, certificates 1..4; the body every
 * check of sc_profile_decode plus [7] present with the root's batch ID and an index below size
 * (SC_ERR_MALFORMED naming the field); the path exactly ceil(log2(size)) entries and leading
 * from the body to the root (SC_ERR_BATCH_PATH). The signature is not checked here:
 * sc_profile_check / sc_profile_verify_signature check it over tbsBatchRoot. The profile's
 * digest is the SHA-256 of these bytes. *out is the caller's (sc_profile_free).
 */
sc_err sc_batch_decode(const uint8_t *der, size_t der_len, struct sc_profile **out) SC_MUST_USE;

#endif
