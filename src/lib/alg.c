// SPDX-License-Identifier: Apache-2.0
/*
 * alg.c — the six key algorithms and three digests: names, key generation, classification.
 * Nothing below RSA-2048 is ever generated or accepted as one of ours.
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <selfcert/alg.h>

static const char *const alg_names[] = {
	[SC_ALG_RSA2048] = "rsa2048",
	[SC_ALG_RSA3072] = "rsa3072",
	[SC_ALG_RSA4096] = "rsa4096",
	[SC_ALG_P256] = "p256",
	[SC_ALG_P384] = "p384",
	[SC_ALG_ED25519] = "ed25519",
};

static const char *const digest_names[] = {
	[SC_DIGEST_SHA256] = "sha256",
	[SC_DIGEST_SHA384] = "sha384",
	[SC_DIGEST_SHA512] = "sha512",
};

int sc_alg_valid(int alg)
{
	return alg >= SC_ALG_RSA2048 && alg <= SC_ALG_MAX;
}

int sc_alg_is_rsa(enum sc_alg alg)
{
	return alg == SC_ALG_RSA2048 || alg == SC_ALG_RSA3072 || alg == SC_ALG_RSA4096;
}

const char *sc_alg_name(enum sc_alg alg)
{
	return sc_alg_valid((int)alg) ? alg_names[alg] : NULL;
}

sc_err sc_alg_from_name(const char *name, enum sc_alg *out)
{
	for (int a = SC_ALG_RSA2048; name != NULL && a <= SC_ALG_MAX; a++) {
		if (strcmp(name, alg_names[a]) == 0) {
			*out = (enum sc_alg)a;
			return SC_OK;
		}
	}
	return sc_fail(SC_ERR_ALGORITHM,
	    "unknown algorithm '%s' (rsa2048 rsa3072 rsa4096 p256 p384 ed25519)", name ? name : "");
}

sc_err sc_alg_keygen(enum sc_alg alg, EVP_PKEY **out)
{
	EVP_PKEY *key = NULL;

	*out = NULL;
	switch (alg) {
	case SC_ALG_RSA2048: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
	case SC_ALG_RSA3072: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072); break;
	case SC_ALG_RSA4096: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096); break;
	case SC_ALG_P256: key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
	case SC_ALG_P384: key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
	case SC_ALG_ED25519: key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
	default:
		return sc_fail(SC_ERR_ALGORITHM, "key algorithm %d is not one of the six",
		    (int)alg);
	}
	if (key == NULL)
		return sc_fail_ossl(SC_ERR_INTERNAL, "key generation failed");
	*out = key;
	return SC_OK;
}

enum sc_alg sc_alg_of_key(const EVP_PKEY *key)
{
	char group[32];
	size_t glen = 0;

	if (key == NULL)
		return SC_ALG_NONE;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		switch (EVP_PKEY_get_bits(key)) {
		case 2048: return SC_ALG_RSA2048;
		case 3072: return SC_ALG_RSA3072;
		case 4096: return SC_ALG_RSA4096;
		default: return SC_ALG_NONE;
		}
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		        sizeof(group), &glen))
			return SC_ALG_NONE;
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
			return SC_ALG_P256;
		if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
			return SC_ALG_P384;
		return SC_ALG_NONE;
	case EVP_PKEY_ED25519: return SC_ALG_ED25519;
	default: return SC_ALG_NONE;
	}
}

const char *sc_digest_name(enum sc_digest d)
{
	return (d >= SC_DIGEST_SHA256 && d <= SC_DIGEST_SHA512) ? digest_names[d] : NULL;
}

sc_err sc_digest_from_name(const char *name, enum sc_digest *out)
{
	for (int d = SC_DIGEST_SHA256; name != NULL && d <= SC_DIGEST_SHA512; d++) {
		if (strcmp(name, digest_names[d]) == 0) {
			*out = (enum sc_digest)d;
			return SC_OK;
		}
	}
	return sc_fail(SC_ERR_USAGE, "unknown digest '%s' (sha256 sha384 sha512)",
	    name ? name : "");
}

const EVP_MD *sc_digest_md(enum sc_digest d)
{
	switch (d) {
	case SC_DIGEST_SHA256: return EVP_sha256();
	case SC_DIGEST_SHA384: return EVP_sha384();
	case SC_DIGEST_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

enum sc_digest sc_alg_default_digest(enum sc_alg alg)
{
	switch (alg) {
	case SC_ALG_P384: return SC_DIGEST_SHA384;
	case SC_ALG_ED25519: return SC_DIGEST_NONE;
	default: return SC_DIGEST_SHA256;
	}
}

const EVP_MD *sc_sign_md(const EVP_PKEY *key, enum sc_digest d)
{
	enum sc_alg alg = sc_alg_of_key(key);

	if (alg == SC_ALG_ED25519 || EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
		return NULL;
	if (d == SC_DIGEST_NONE)
		d = sc_alg_default_digest(alg);
	return sc_digest_md(d);
}
