// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/proof.h — request proofs: a device's SP signs, with its CSK, that a profile request
 * is its own (docs/PROTOCOL.md 0x17, docs/API.md "proof"), so the provisioning server counts
 * only the device's own requests against its budget. The host computes the request digest, the
 * SP signs (sc_sp_proof, sp.h), the server rebuilds the signed bytes and checks them here.
 */
#ifndef SELFCERT_PROOF_H
#define SELFCERT_PROOF_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>

#define SC_PROOF_DIGEST_LEN 32 /* the request digest: SHA-256 */
#define SC_PROOF_MAX_SIG 1024  /* a CSK signature: RSA-4096 is 512 bytes */

/* What a proof binds, as the server reads it from the request (all fields required). */
struct sc_proof {
	uint8_t challenge[SC_SP_CHALLENGE_LEN];
	char device_id[SC_DEVICE_ID_MAX + 1];
	char network_id[SC_NETWORK_ID_MAX + 1];
	uint8_t request_digest[SC_PROOF_DIGEST_LEN];
	uint64_t time; /* the SP's clock, seconds since 1970 */
};

/*
 * The request digest of a POST /v1/profiles body: SHA-256 over "selfcert profile request v1"
 * (27 bytes), then [u32 n][n x string DER] for the chain in order, [string DER] for the KEK
 * certificate, [text alg] (the field as sent, "" when absent) and [u8 server_keygen] (0 when
 * absent); strings are u32 big-endian length then bytes. Every field the server acts on but the
 * challenge, which the proof binds on its own. SC_ERR_USAGE for an empty chain or no KEK.
 */
sc_err sc_proof_request_digest(STACK_OF(X509) *chain, X509 *kex, const char *alg, int server_keygen,
    uint8_t out[SC_PROOF_DIGEST_LEN]) SC_MUST_USE;

/*
 * The same digest from the certificates' DER as received (chain[0..n_chain), then the KEK's):
 * equal to sc_proof_request_digest's for certificates that parse strictly (their i2d_X509 is
 * those bytes), with no X509 needed (issue 17: selfcert-provd's pinned profile request).
 * SC_ERR_USAGE for an empty chain or no KEK; SC_ERR_NOMEM.
 */
sc_err sc_proof_request_digest_der(const uint8_t *const *chain, const size_t *chain_len,
    size_t n_chain, const uint8_t *kex, size_t kex_len, const char *alg, int server_keygen,
    uint8_t out[SC_PROOF_DIGEST_LEN]) SC_MUST_USE;

/*
 * The bytes the SP signed (sp_msg.h's sp_proof_tbs_put: a context that never begins a DER
 * SEQUENCE, then the fields). *tbs is the caller's (OPENSSL_free).
 */
sc_err sc_proof_tbs(const struct sc_proof *p, uint8_t **tbs, size_t *len) SC_MUST_USE;

/*
 * Verify sig over sc_proof_tbs(p) with pub (the device CA certificate's key): RSA PKCS#1 v1.5 and
 * ECDSA over SHA-256, Ed25519 pure (as the SP signs). SC_ERR_BAD_PROOF if it does not verify,
 * SC_ERR_NOMEM. Says nothing about freshness or the fields' meaning: the caller's.
 */
sc_err sc_proof_verify(const struct sc_proof *p, const uint8_t *sig, size_t sig_len,
    EVP_PKEY *pub) SC_MUST_USE;

#endif
