// SPDX-License-Identifier: Apache-2.0
/*
 * mech.c — the token's mechanisms: the one table every list, info answer, allowed-mechanisms
 * attribute and operation check reads. How each mechanism becomes an SP request is ops.c's.
 */
#include "p11_mech.h"

#define P11_EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

/* Every mechanism of the token; each is refused for a key whose certificate does not allow it. */
static const struct p11_mech mechs[] = {
	{ CKM_ECDSA, CKK_EC, CKF_SIGN, P11_M_ECDSA, SC_DIGEST_NONE, 256, 384 },
	{ CKM_ECDSA_SHA256, CKK_EC, CKF_SIGN, P11_M_ECDSA, SC_DIGEST_SHA256, 256, 384 },
	{ CKM_ECDSA_SHA384, CKK_EC, CKF_SIGN, P11_M_ECDSA, SC_DIGEST_SHA384, 256, 384 },
	{ CKM_ECDSA_SHA512, CKK_EC, CKF_SIGN, P11_M_ECDSA, SC_DIGEST_SHA512, 256, 384 },
	{ CKM_RSA_PKCS, CKK_RSA, CKF_SIGN, P11_M_RSA_PKCS, SC_DIGEST_NONE, 2048, 4096 },
	{ CKM_SHA256_RSA_PKCS, CKK_RSA, CKF_SIGN, P11_M_RSA_PKCS, SC_DIGEST_SHA256, 2048, 4096 },
	{ CKM_SHA384_RSA_PKCS, CKK_RSA, CKF_SIGN, P11_M_RSA_PKCS, SC_DIGEST_SHA384, 2048, 4096 },
	{ CKM_SHA512_RSA_PKCS, CKK_RSA, CKF_SIGN, P11_M_RSA_PKCS, SC_DIGEST_SHA512, 2048, 4096 },
	{ CKM_RSA_PKCS_PSS, CKK_RSA, CKF_SIGN, P11_M_PSS, SC_DIGEST_NONE, 2048, 4096 },
	{ CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, CKF_SIGN, P11_M_PSS, SC_DIGEST_SHA256, 2048, 4096 },
	{ CKM_SHA384_RSA_PKCS_PSS, CKK_RSA, CKF_SIGN, P11_M_PSS, SC_DIGEST_SHA384, 2048, 4096 },
	{ CKM_SHA512_RSA_PKCS_PSS, CKK_RSA, CKF_SIGN, P11_M_PSS, SC_DIGEST_SHA512, 2048, 4096 },
	{ CKM_EDDSA, CKK_EC_EDWARDS, CKF_SIGN, P11_M_EDDSA, SC_DIGEST_NONE, 255, 255 },
	{ CKM_RSA_PKCS_OAEP, CKK_RSA, CKF_DECRYPT, P11_M_OAEP, SC_DIGEST_NONE, 2048, 4096 },
	{ CKM_ECDH1_DERIVE, CKK_EC, CKF_DERIVE, P11_M_ECDH, SC_DIGEST_NONE, 256, 384 },
};
#define N_MECHS (sizeof(mechs) / sizeof(mechs[0]))

const struct p11_mech *p11_mech_find(CK_MECHANISM_TYPE type)
{
	size_t i;

	for (i = 0; i < N_MECHS; i++)
		if (mechs[i].type == type)
			return &mechs[i];
	return NULL;
}

CK_RV p11_mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	size_t i;

	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	if (list == NULL) {
		*count = N_MECHS;
		return CKR_OK;
	}
	if (*count < N_MECHS) {
		*count = N_MECHS;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (i = 0; i < N_MECHS; i++)
		list[i] = mechs[i].type;
	*count = N_MECHS;
	return CKR_OK;
}

CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	const struct p11_mech *m = p11_mech_find(type);

	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	if (m == NULL)
		return CKR_MECHANISM_INVALID;
	info->ulMinKeySize = m->min_bits;
	info->ulMaxKeySize = m->max_bits;
	/* The private-key operation happens in the SP; only hashing is done here. */
	info->flags = CKF_HW | m->op | (m->key_type == CKK_EC ? P11_EC_FLAGS : 0);
	return CKR_OK;
}

size_t p11_mechs_for_key(CK_KEY_TYPE kt, unsigned use, CK_MECHANISM_TYPE *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < N_MECHS && n < cap; i++) {
		unsigned need = mechs[i].op == CKF_SIGN ? P11_USE_SIGN
		    : mechs[i].op == CKF_DECRYPT        ? P11_USE_DECRYPT
		                                        : P11_USE_DERIVE;

		if (mechs[i].key_type == kt && (use & need))
			out[n++] = mechs[i].type;
	}
	return n;
}
