// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_key.h — the TPM backend's keys and private operations (tpm_key.c), and what they borrow
 * from its connection (backend_tpm.c). selfcert-spd internal; the table is backend.h's.
 */
#ifndef SPD_TPM_KEY_H
#define SPD_TPM_KEY_H

#include <tss2/tss2_esys.h>
#include "backend.h"

#define BLOB_VERSION 1
#define AUTH_LEN 32

/*
 * One TPM key: its blobs under the storage key, and a random auth value. An operator-gated CSK
 * (tpm_gate.c) has userWithAuth clear and a policy instead; its auth field then holds the factory
 * branch's policy digest (the key has no usable auth value), and factory, at KEYGEN only, the
 * throw-away key that authorizes the CSR's one signature.
 */
struct spd_key {
	enum sc_alg alg;
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TPM2B_AUTH auth;   /* random, sealed in the store with the blobs */
	EVP_PKEY *pkey;    /* the public half only */
	EVP_PKEY *factory; /* gated CSK at KEYGEN: the factory branch's private key, else NULL */
	uint8_t blob[1 + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_AUTH)];
	size_t blob_len;
};

/* The connection (backend_tpm.c): NULL / ESYS_TR_NONE until spd_tpm_open. */
ESYS_CONTEXT *spd_tpm_esys(void);
ESYS_TR spd_tpm_srk(void);
/* The salted session, set to encrypt enc (TPMA_SESSION_ENCRYPT/DECRYPT) for the next command. */
ESYS_TR spd_tpm_session(TPMA_SESSION enc);
/* SC_ERR_TPM "what: <Tss2_RC_Decode(rc)>". */
sc_err spd_tpm_fail(TSS2_RC rc, const char *what);

/* Load k under the storage key (its auth set) / flush a loaded handle (NONE: nothing). */
sc_err spd_tpm_load(const struct spd_key *k, ESYS_TR *h);
void spd_tpm_flush(ESYS_TR h);
/* An X.509 signature BIT STRING set to sig (OpenSSL 3.0 has no setter). */
sc_err spd_tpm_set_bits(const ASN1_BIT_STRING *cbs, const uint8_t *sig, size_t sig_len);
/*
 * The TPM's signature sig put into x (its signatureAlgorithm set already), then the whole
 * certificate encoded, parsed again and verified under csk: *cert the parsed one (the caller's),
 * so nothing the TPM signed wrongly is ever committed. x stays the caller's.
 */
sc_err spd_tpm_cert_finish(X509 *x, const struct spd_key *csk, const uint8_t *sig, size_t sig_len,
    X509 **cert) SC_MUST_USE;
/*
 * TPM2_Sign of a digest with k: in the salted session with k's auth value (sess ESYS_TR_NONE),
 * or in the policy session sess (a gated CSK, tpm_gate.c; the TPM flushes it). DER ECDSA or
 * PKCS#1 v1.5 bytes in *sig (OPENSSL_free).
 */
sc_err spd_tpm_sign_digest(const struct spd_key *k, ESYS_TR sess, TPM2_ALG_ID scheme,
    const EVP_MD *md, const uint8_t *dg, size_t dg_len, uint8_t **sig, size_t *sig_len);
TPM2_ALG_ID spd_tpm_hash_alg(const EVP_MD *md);

/* The public half and the stored form of a key whose blobs were just set (Create, Import). */
sc_err spd_tpm_key_finish(struct spd_key *k);
/* tpm_gate.c: a gated CSK's one factory signature (the CSR at KEYGEN), then never again. */
sc_err spd_tpm_gate_factory_sign(const struct spd_key *k, TPM2_ALG_ID scheme, const EVP_MD *md,
    const uint8_t *dg, size_t dg_len, uint8_t **sig, size_t *sig_len);
/* tpm_gate.c: a gated key's policy branches as DIR/NAME.policy-gate and .policy-factory. */
sc_err spd_tpm_gate_export(const struct spd_key *k, const char *dir, const char *name);

sc_err spd_tpm_key_create(const struct spd_backend *be, enum sc_alg alg, unsigned ku,
    struct spd_key **out);
sc_err spd_tpm_key_load(const struct spd_backend *be, enum sc_alg alg, const uint8_t *blob,
    size_t len, const char *what, struct spd_key **out);
void spd_tpm_key_blob(const struct spd_key *k, const uint8_t **blob, size_t *len);
enum sc_alg spd_tpm_key_alg(const struct spd_key *k);
EVP_PKEY *spd_tpm_key_public(const struct spd_key *k);
void spd_tpm_key_free(struct spd_key *k);
sc_err spd_tpm_issue_leaf(const struct spd_key *csk, const struct sc_profile *p, EVP_PKEY *leaf_pub,
    X509 *csk_cert, uint64_t serial, X509 **cert, uint8_t **der, size_t *der_len, unsigned *ku);
sc_err spd_tpm_unwrap_supplied(const struct spd_backend *be, const struct spd_key *kek,
    const struct sc_profile *p, X509 *kek_cert, struct spd_key **out);
/* A clear key (embodiment 2, after the KEK step) into the TPM: *out as key_create. */
sc_err spd_tpm_key_import(EVP_PKEY *priv, unsigned ku, struct spd_key **out);
sc_err spd_tpm_csr(const struct spd_key *k, uint8_t **der, size_t *der_len);
sc_err spd_tpm_sign(const struct spd_key *k, enum spd_sign_mode mode, const EVP_MD *md,
    uint32_t salt_len, const uint8_t *in, size_t in_len, uint8_t **sig, size_t *sig_len);
sc_err spd_tpm_decrypt_oaep(const struct spd_key *k, const EVP_MD *md, const EVP_MD *mgf1,
    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t *out_len);
sc_err spd_tpm_derive(const struct spd_key *k, EVP_PKEY *peer, uint8_t **secret, size_t *len);

#endif
