// SPDX-License-Identifier: Apache-2.0
/*
 * p11_mech.h — the token's mechanisms (mech.c): one table saying, for each, its key type, its
 * operation, how the SP is asked and the key sizes; and the uses a key must allow for each.
 */
#ifndef SC_P11_MECH_H
#define SC_P11_MECH_H

#include <stddef.h>
#include <selfcert/alg.h>
#include "p11.h"

/* What a private key may do (from its certificate's key usage); each mechanism needs one. */
#define P11_USE_SIGN 0x1
#define P11_USE_DECRYPT 0x2
#define P11_USE_DERIVE 0x4

enum p11_mkind { P11_M_ECDSA, P11_M_RSA_PKCS, P11_M_PSS, P11_M_EDDSA, P11_M_OAEP, P11_M_ECDH };

struct p11_mech {
	CK_MECHANISM_TYPE type;
	CK_KEY_TYPE key_type;
	CK_FLAGS op; /* CKF_SIGN, CKF_DECRYPT or CKF_DERIVE */
	enum p11_mkind kind;
	enum sc_digest hash; /* the module hashes the data; NONE: raw input */
	CK_ULONG min_bits, max_bits;
};

/* The table's entry for type (static storage), or NULL if the token does not offer it. */
const struct p11_mech *p11_mech_find(CK_MECHANISM_TYPE type);
/* C_GetMechanismList's answer, with the size query: CKR_ARGUMENTS_BAD, CKR_BUFFER_TOO_SMALL. */
CK_RV p11_mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
/* C_GetMechanismInfo's answer: CKR_ARGUMENTS_BAD, CKR_MECHANISM_INVALID. */
CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
/* The mechanisms a private key may be used with (CKA_ALLOWED_MECHANISMS): at most cap. */
size_t p11_mechs_for_key(CK_KEY_TYPE kt, unsigned use, CK_MECHANISM_TYPE *out, size_t cap);

#endif
