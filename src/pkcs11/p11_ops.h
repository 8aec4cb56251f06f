// SPDX-License-Identifier: Apache-2.0
/*
 * p11_ops.h — how each mechanism becomes one SP request (ops.c): parameter and key checks,
 * hashing for the CKM_SHA*_ forms, and the SP's answers in PKCS#11's formats.
 */
#ifndef SC_P11_OPS_H
#define SC_P11_OPS_H

#include <stddef.h>
#include <stdint.h>
#include "p11.h"
#include "p11_mech.h"
#include "p11_objects.h"
#include "p11_session.h"

/*
 * Start signing/decrypting with private key `key`. Checks the mechanism against the key's type
 * (CKR_KEY_TYPE_INCONSISTENT), its use (CKR_KEY_FUNCTION_NOT_PERMITTED) and its parameters
 * (CKR_MECHANISM_PARAM_INVALID); CKR_MECHANISM_INVALID for a mechanism that is not ours or not
 * of this operation. On failure the caller ends op (p11_op_end).
 */
CK_RV p11_sign_init(struct p11_op *op, const CK_MECHANISM *m, const struct p11_object *key);
CK_RV p11_decrypt_init(struct p11_op *op, const CK_MECHANISM *m, const struct p11_object *key);
/* Feed data: hashed, or gathered up to the mechanism's bound (CKR_DATA_LEN_RANGE). */
CK_RV p11_op_update(struct p11_op *op, const uint8_t *data, size_t len);
/* The size of the result: the signature, or the largest plaintext. */
size_t p11_op_out_len(const struct p11_op *op);

/* Finish: the SP signs/decrypts the gathered input; *out is the caller's (OPENSSL_clear_free). */
CK_RV p11_sign_finish(struct p11_op *op, struct p11_session *s, uint8_t **out, size_t *out_len);
/* The plaintext is kept in op->result (across CKR_BUFFER_TOO_SMALL) until p11_op_end. */
CK_RV p11_decrypt_finish(struct p11_op *op, struct p11_session *s);

/*
 * ECDH1_DERIVE: check the mechanism's parameters and the key, ask the SP. *secret is the
 * caller's (OPENSSL_clear_free).
 */
CK_RV p11_derive(const CK_MECHANISM *m, const struct p11_object *key, struct p11_session *s,
    uint8_t **secret, size_t *secret_len);

#endif
