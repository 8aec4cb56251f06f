// SPDX-License-Identifier: Apache-2.0
/*
 * spki.c — a leaf's SubjectPublicKeyInfo copied from the key's encoded public key instead of
 * OpenSSL 3.0's encoder-then-decoder (spki.h). The plain path is X509_set_pubkey in cert.c.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "fast/fast.h"
#include "fast/spki.h"

#define SPKI_KEY_MAX 133 /* an uncompressed P-521 point; P-384 is 97 bytes */

/* sc_fast_spki_known_set's hint: one key's point, for the thread that set it. */
static _Thread_local struct {
	const EVP_PKEY *pub;
	uint8_t point[SPKI_KEY_MAX];
	size_t len;
} known;

/* An uncompressed point's length on the curves the SP makes keys on; 0 for any other curve. */
static size_t point_len(int nid)
{
	switch (nid) {
	case NID_X9_62_prime256v1: return 65;
	case NID_secp384r1: return 97;
	case NID_secp521r1: return 133;
	default: return 0;
	}
}

void sc_fast_spki_known_set(const EVP_PKEY *pub, const uint8_t *point, size_t len)
{
	sc_fast_spki_known_clear();
	if (pub == NULL || point == NULL || len < 1 || len > sizeof(known.point) ||
	    point[0] != POINT_CONVERSION_UNCOMPRESSED)
		return;
	memcpy(known.point, point, len);
	known.len = len;
	known.pub = pub;
}

void sc_fast_spki_known_clear(void)
{
	known.pub = NULL;
	known.len = 0;
}

sc_err sc_fast_spki_set(X509 *x, EVP_PKEY *pub, int *done)
{
	sc_err r = SC_ERR_INTERNAL;
	uint8_t key[SPKI_KEY_MAX], *penc = NULL;
	char group[64], enc[32];
	size_t len = 0;
	ASN1_OBJECT *alg;
	void *pval = NULL;
	int ptype = V_ASN1_UNDEF, nid;

	*done = 0;
	if (!sc_fast_enabled())
		return SC_OK;
	/* Anything but what i2d_PUBKEY writes for our keys goes the plain way (*done = 0). */
	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_EC:
		/* A named curve and an uncompressed point only. */
		if (!EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
		        sizeof(group), NULL) ||
		    (nid = OBJ_sn2nid(group)) == NID_undef ||
		    (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_EC_ENCODING, enc,
		         sizeof(enc), NULL) &&
		        strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0)) {
			ERR_clear_error();
			return SC_OK;
		}
		if (known.pub == pub && known.len > 0 && known.len == point_len(nid)) {
			/*
			 * The point the SP wrote into this key's PKCS#8 (sc_fast_spki_known_set), if
			 * it is as long as an uncompressed point of the key's curve; else the key's own.
			 */
			memcpy(key, known.point, known.len);
			len = known.len;
		} else if (!EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
		               key, sizeof(key), &len) ||
		    len < 1 || key[0] != POINT_CONVERSION_UNCOMPRESSED) {
			ERR_clear_error();
			return SC_OK;
		}
		alg = OBJ_nid2obj(NID_X9_62_id_ecPublicKey);
		pval = OBJ_nid2obj(nid);
		ptype = V_ASN1_OBJECT;
		break;
	case EVP_PKEY_ED25519:
		len = sizeof(key);
		if (!EVP_PKEY_get_raw_public_key(pub, key, &len)) {
			ERR_clear_error();
			return SC_OK;
		}
		alg = OBJ_nid2obj(NID_ED25519);
		break;
	default: return SC_OK;
	}
	if ((penc = OPENSSL_memdup(key, len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "subjectPublicKeyInfo");
		goto out;
	}
	/* On success the SPKI owns penc; the OIDs are OpenSSL's static ones. */
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg, ptype, pval, penc, (int)len)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "subjectPublicKeyInfo");
		goto out;
	}
	penc = NULL;
	*done = 1;
	r = SC_OK;
out:
	OPENSSL_free(penc);
	return r;
}
