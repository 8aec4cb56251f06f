// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_key.h — the TPM backend's keys and private operations (tpm_key.c), and what they borrow
 * from its connection (backend_tpm.c). selfcert-spd internal; the table is backend.h's.
 */
#ifndef SPD_TPM_KEY_H
#define SPD_TPM_KEY_H

#include <tss2/tss2_esys.h>
#include "backend.h"

/* The connection (backend_tpm.c): NULL / ESYS_TR_NONE until spd_tpm_open. */
ESYS_CONTEXT *spd_tpm_esys(void);
ESYS_TR spd_tpm_srk(void);
/* The salted session, set to encrypt enc (TPMA_SESSION_ENCRYPT/DECRYPT) for the next command. */
ESYS_TR spd_tpm_session(TPMA_SESSION enc);
/* SC_ERR_TPM "what: <Tss2_RC_Decode(rc)>". */
sc_err spd_tpm_fail(TSS2_RC rc, const char *what);

sc_err spd_tpm_key_create(const struct spd_backend *be, enum sc_alg alg, unsigned ku,
    struct spd_key **out);
sc_err spd_tpm_key_load(const struct spd_backend *be, enum sc_alg alg, const uint8_t *blob,
    size_t len, const char *what, struct spd_key **out);
void spd_tpm_key_blob(const struct spd_key *k, const uint8_t **blob, size_t *len);
enum sc_alg spd_tpm_key_alg(const struct spd_key *k);
EVP_PKEY *spd_tpm_key_public(const struct spd_key *k);
void spd_tpm_key_free(struct spd_key *k);
sc_err spd_tpm_issue_leaf(const struct spd_key *csk, const struct sc_profile *p, EVP_PKEY *leaf_pub,
    X509 *csk_cert, uint64_t serial, X509 **cert);
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
