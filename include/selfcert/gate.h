// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/gate.h — operator-gated issuance on a TPM SP (issue #12, docs/TPM.md "Operator-gated
 * CSK"): the bytes the server and the SP must agree on, built by one library for both sides.
 *
 * A gated CSK signs only inside a TPM policy session whose TPM2_PolicySigned carries the
 * operator's gate key signature over aHash = SHA-256(nonceTPM ‖ expiration ‖ cpHash ‖ policyRef),
 * and cpHash names the exact TPM2_Sign (the CSK's Name, the tbsCertificate digest, the scheme).
 * So the server must build the exact tbsCertificate the SP will sign: sc_gate_tbs is that
 * builder (the SP's own, used by spd too), with a serial both sides derive from the nonce.
 *
 * Ownership: *out / *tbs / *auth are the caller's (X509_free / OPENSSL_free). Failures: the
 * builder's own (SC_ERR_USAGE, SC_ERR_DEVICE_MISMATCH, SC_ERR_KEY_MISMATCH, …), SC_ERR_MALFORMED
 * for a bad Name, SC_ERR_ALGORITHM for a gate key or CSK the TPM cannot verify or sign with.
 */
#ifndef SELFCERT_GATE_H
#define SELFCERT_GATE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#define SC_GATE_NONCE_LEN 32  /* the policy session's nonceTPM = the gated challenge */
#define SC_GATE_SERIAL_LEN 16 /* FORMATS' leaf serial length */
#define SC_GATE_NAME_MAX 50   /* a TPM Name: u16 nameAlg ‖ digest (SHA-256: 34 bytes) */
#define SC_GATE_AUTH_MAX 512  /* an authorization: DER ECDSA or an RSA-4096 PKCS#1 block */
/*
 * PolicySigned's policyRef, fixed: it is hashed into the CSK's authPolicy at KEYGEN, so it
 * cannot carry anything per profile (that is cpHash's job). Without the terminating NUL.
 */
#define SC_GATE_POLICY_REF "selfcert-issue-v1"

/* What a gated challenge (PROTOCOL 0x1A) tells the server. */
struct sc_gate_challenge {
	uint8_t nonce[SC_GATE_NONCE_LEN]; /* the profile's challenge */
	uint64_t counter;                 /* the issuanceCounter the certificate will carry */
	uint8_t csk_name[SC_GATE_NAME_MAX];
	size_t csk_name_len;
	EVP_PKEY *leaf_pub; /* the pending generated key; NULL for a supplied key */
};

/*
 * The leaf serial of a gated issuance: SHA-256("selfcert gate serial" ‖ nonce), first 16
 * bytes, top bit cleared and a zero first byte made 0x01 (positive, 16 bytes, DER-minimal). As
 * unpredictable as a random serial: the nonce is the TPM's, fresh per session.
 */
void sc_gate_serial(const uint8_t nonce[SC_GATE_NONCE_LEN], uint8_t out[SC_GATE_SERIAL_LEN]);

/* The unsigned leaf of sc_cert_expected_leaf with this serial (cert.c; sc_gate_tbs uses it). */
sc_err sc_cert_gated_leaf(const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert,
    uint64_t issuance_counter, const uint8_t serial[SC_GATE_SERIAL_LEN], X509 **out) SC_MUST_USE;

/*
 * The tbsCertificate DER the SP's CSK will sign, *md the digest it signs with: the gated leaf
 * with sc_gate_serial(nonce), both signature algorithm fields set for the CSK's key and the
 * profile's digest (sc_sign_md). *out (optional) the unsigned certificate holding it.
 */
sc_err sc_gate_tbs(const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert, uint64_t counter,
    const uint8_t nonce[SC_GATE_NONCE_LEN], const EVP_MD **md, uint8_t **tbs, size_t *tbs_len,
    X509 **out) SC_MUST_USE;

/*
 * cpHash (SHA-256) of TPM2_Sign(CSK, digest, scheme, null ticket): CC_Sign ‖ Name(CSK) ‖
 * TPM2B_DIGEST ‖ TPMT_SIG_SCHEME{ECDSA|RSASSA, hash(md)} ‖ TPMT_TK_HASHCHECK{HASHCHECK, NULL, 0}.
 */
sc_err sc_gate_cphash(const uint8_t *csk_name, size_t csk_name_len, EVP_PKEY *csk_pub,
    const EVP_MD *md, const uint8_t *digest, size_t digest_len, uint8_t cphash[32]) SC_MUST_USE;

/*
 * The bytes the gate key signs (SHA-256 inside the signature): nonce ‖ 00000000 (no
 * expiration) ‖ cpHash ‖ SC_GATE_POLICY_REF. out holds at least SC_GATE_SIGNED_LEN bytes.
 */
#define SC_GATE_SIGNED_LEN (SC_GATE_NONCE_LEN + 4 + 32 + sizeof(SC_GATE_POLICY_REF) - 1)
void sc_gate_signed_bytes(const uint8_t nonce[SC_GATE_NONCE_LEN], const uint8_t cphash[32],
    uint8_t out[SC_GATE_SIGNED_LEN]);

/*
 * The whole server side: the authorization for the SP of c to sign profile p's leaf (leaf_pub:
 * c->leaf_pub for a generated key, the profile's supplied key otherwise) under csk_cert:
 * sc_gate_tbs, its digest, sc_gate_cphash, then gate_key's signature (ECDSA P-256/P-384 DER, or
 * RSA PKCS#1 v1.5, always over SHA-256). *auth is the caller's (OPENSSL_free).
 */
sc_err sc_gate_authorize(EVP_PKEY *gate_key, const struct sc_gate_challenge *c,
    const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert, uint8_t **auth,
    size_t *auth_len) SC_MUST_USE;

#endif
