// SPDX-License-Identifier: Apache-2.0
/*
 * profile_key.c — the one "the issued key matches the profile" test (profile_key.h), shared by
 * issuance (cert.c) and verification (verify.c) so that the two cannot drift apart.
 */
#include <openssl/err.h>
#include <openssl/evp.h>

#include <selfcert/alg.h>

#include "profile_key.h"

sc_err sc_profile_key_fits(const struct sc_profile_info *info, const EVP_PKEY *key, sc_err code,
    const char *not_supplied, const char *not_of_alg)
{
	const char *alg;

	if (info->origin == SC_KEY_SERVER_SUPPLIED) {
		/* EVP_PKEY_eq may queue an error for keys of different types: it is an answer. */
		if (info->supplied_pub == NULL || EVP_PKEY_eq(key, info->supplied_pub) != 1) {
			ERR_clear_error();
			return sc_fail(code, "%s", not_supplied);
		}
		return SC_OK;
	}
	if (sc_alg_of_key(key) != info->alg) {
		alg = sc_alg_name(info->alg);
		return sc_fail(code, "%s %s", not_of_alg, alg != NULL ? alg : "(none)");
	}
	return SC_OK;
}
