// SPDX-License-Identifier: Apache-2.0
/*
 * keyder.c — a private key's PKCS#8 DER, the form the sealed store keeps (spd.h): the plain
 * OpenSSL path (EVP_PKEY2PKCS8, i2d, d2i) and, beside it, the measured shortcut that writes the
 * same bytes for P-256, P-384 and Ed25519 keys, taken only when sc_fast_enabled().
 */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "fast/fast.h"
#include "spd.h"

#define LEAF_DER_MAX 256 /* spd_leaf_key_der: a P-384 PKCS#8 is 185 bytes */
#define ED25519_SEED_LEN 32
#define P256_SCALAR_LEN 32 /* the group order's length in bytes */
#define P384_SCALAR_LEN 48

/* ---- the plain path ---- */

/* PKCS#8 DER of a private key (secret: OPENSSL_clear_free). */
static sc_err key_to_der(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	*len = 0;
	if (p8 == NULL)
		return sc_fail_ossl(SC_ERR_INTERNAL, "PKCS#8 encoding");
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &p);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "PKCS#8 encoding");
	*der = p;
	*len = (size_t)n;
	return SC_OK;
}

/* A secure-heap copy of der (the cached form of a key, spd.h). */
sc_err spd_key_der_copy(const uint8_t *der, size_t len, uint8_t **out)
{
	*out = OPENSSL_secure_malloc(len);
	if (*out == NULL)
		return sc_fail(SC_ERR_NOMEM, "secure heap: %zu bytes for a key", len);
	memcpy(*out, der, len);
	return SC_OK;
}

sc_err spd_key_der(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	uint8_t *tmp = NULL;
	size_t n = 0;
	sc_err r;

	*der = NULL;
	*len = 0;
	if ((r = key_to_der(key, &tmp, &n)) != SC_OK)
		return r;
	r = spd_key_der_copy(tmp, n, der);
	OPENSSL_clear_free(tmp, n);
	if (r == SC_OK)
		*len = n;
	return r;
}

void spd_key_der_free(uint8_t *der, size_t len)
{
	if (der != NULL)
		OPENSSL_secure_clear_free(der, len);
}

sc_err spd_key_from_der(const uint8_t *der, size_t len, enum sc_alg alg, EVP_PKEY **out,
    const char *what)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *key = NULL;

	*out = NULL;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (p8 != NULL && (size_t)(p - der) == len)
		key = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (key == NULL)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: not a PKCS#8 key", what);
	if (sc_alg_of_key(key) != alg) {
		EVP_PKEY_free(key);
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: not a %s key", what,
		    sc_alg_name(alg) ? sc_alg_name(alg) : "known");
	}
	*out = key;
	return SC_OK;
}

/* ---- the shortcut: a leaf key's PKCS#8 without OpenSSL 3.0's encoder ---- */

static size_t der_hdr_len(size_t n)
{
	return n < 0x80 ? 2 : n < 0x100 ? 3 : 4;
}

/* Tag and definite DER length at *p (n < 65536, checked by the callers' fixed sizes). */
static void der_hdr(uint8_t **p, uint8_t tag, size_t n)
{
	*(*p)++ = tag;
	if (n >= 0x100) {
		*(*p)++ = 0x82;
		*(*p)++ = (uint8_t)(n >> 8);
	} else if (n >= 0x80) {
		*(*p)++ = 0x81;
	}
	*(*p)++ = (uint8_t)n;
}

static void der_bytes(uint8_t **p, uint8_t tag, const uint8_t *v, size_t n)
{
	der_hdr(p, tag, n);
	memcpy(*p, v, n);
	*p += n;
}

/*
 * The PKCS#8 PrivateKeyInfo that spd_key_der would make (EVP_PKEY2PKCS8), written directly for
 * P-256, P-384 and Ed25519 keys: the encoder lookup behind EVP_PKEY2PKCS8 cost about as much
 * as the leaf's key generation and signature together. Exactly OpenSSL 3.0's bytes (a unit test
 * compares them): version 0, AlgorithmIdentifier id-ecPublicKey + named curve (or id-Ed25519),
 * and for EC an ECPrivateKey v1 with the scalar padded to the order's length, no parameters
 * and the uncompressed public point; for Ed25519 the 32-byte seed in an OCTET STRING.
 * Other keys, and every key with the shortcuts off: spd_key_der. *der is in the secure heap
 * (spd_key_der_free).
 */
sc_err spd_leaf_key_der(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	return spd_leaf_key_der_point(key, der, len, NULL, 0, NULL);
}

sc_err spd_leaf_key_der_point(EVP_PKEY *key, uint8_t **der, size_t *len, uint8_t *pt, size_t pt_cap,
    size_t *pt_len)
{
	sc_err r = SC_ERR_INTERNAL;
	uint8_t point[SC_SP_MAX_EC_POINT], *buf = NULL, *p;
	const ASN1_OBJECT *alg_oid, *curve_oid = NULL;
	char group[64];
	BIGNUM *priv = NULL;
	size_t point_len = 0, n = 0, alg_len, bits_len = 0, a1_len, ecpk_len = 0, oct_len, body;
	size_t priv_len, total = 0;
	int nid = NID_undef, ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;

	*der = NULL;
	*len = 0;
	if (pt_len != NULL)
		*pt_len = 0;
	if (!sc_fast_enabled())
		return spd_key_der(key, der, len);
	if (!ed) {
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
		    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		        sizeof(group), NULL) ||
		    ((nid = OBJ_sn2nid(group)) != NID_X9_62_prime256v1 && nid != NID_secp384r1) ||
		    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
		        sizeof(point), &point_len) ||
		    point_len < 1 || point[0] != POINT_CONVERSION_UNCOMPRESSED ||
		    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv)) {
			ERR_clear_error();
			BN_clear_free(priv);
			return spd_key_der(key, der, len);
		}
		n = nid == NID_X9_62_prime256v1 ? P256_SCALAR_LEN : P384_SCALAR_LEN;
		if (BN_num_bytes(priv) > (int)n) {
			r = sc_fail(SC_ERR_INTERNAL, "EC private key longer than its group order");
			goto out;
		}
	}
	alg_oid = OBJ_nid2obj(ed ? NID_ED25519 : NID_X9_62_id_ecPublicKey);
	alg_len = der_hdr_len(OBJ_length(alg_oid)) + OBJ_length(alg_oid);
	if (!ed) {
		curve_oid = OBJ_nid2obj(nid);
		alg_len += der_hdr_len(OBJ_length(curve_oid)) + OBJ_length(curve_oid);
		bits_len = der_hdr_len(point_len + 1) + point_len + 1;
		a1_len = der_hdr_len(bits_len) + bits_len;
		ecpk_len = 3 + der_hdr_len(n) + n + a1_len;
		priv_len = der_hdr_len(ecpk_len) + ecpk_len;
	} else {
		priv_len = 2 + ED25519_SEED_LEN; /* OCTET STRING { seed } */
	}
	oct_len = der_hdr_len(priv_len) + priv_len;
	body = 3 + der_hdr_len(alg_len) + alg_len + oct_len;
	total = der_hdr_len(body) + body;
	if (total > LEAF_DER_MAX) {
		r = sc_fail(SC_ERR_INTERNAL, "PKCS#8 of %zu bytes", total);
		goto out;
	}
	if ((buf = OPENSSL_secure_malloc(total)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "secure heap: %zu bytes for a key", total);
		goto out;
	}
	p = buf;
	der_hdr(&p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body);
	*p++ = V_ASN1_INTEGER;
	*p++ = 1;
	*p++ = 0;
	der_hdr(&p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, alg_len);
	der_bytes(&p, V_ASN1_OBJECT, OBJ_get0_data(alg_oid), OBJ_length(alg_oid));
	if (!ed)
		der_bytes(&p, V_ASN1_OBJECT, OBJ_get0_data(curve_oid), OBJ_length(curve_oid));
	der_hdr(&p, V_ASN1_OCTET_STRING, priv_len);
	if (ed) {
		size_t seed = ED25519_SEED_LEN;
		der_hdr(&p, V_ASN1_OCTET_STRING, seed);
		if (!EVP_PKEY_get_raw_private_key(key, p, &seed) || seed != ED25519_SEED_LEN) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "Ed25519 private key");
			goto out;
		}
		p += seed;
	} else {
		der_hdr(&p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, ecpk_len);
		*p++ = V_ASN1_INTEGER;
		*p++ = 1;
		*p++ = 1;
		der_hdr(&p, V_ASN1_OCTET_STRING, n);
		if (BN_bn2binpad(priv, p, (int)n) != (int)n) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "EC private key");
			goto out;
		}
		p += n;
		der_hdr(&p, V_ASN1_CONTEXT_SPECIFIC | V_ASN1_CONSTRUCTED | 1, bits_len);
		der_hdr(&p, V_ASN1_BIT_STRING, point_len + 1);
		*p++ = 0; /* no unused bits */
		memcpy(p, point, point_len);
		p += point_len;
	}
	if ((size_t)(p - buf) != total) {
		r = sc_fail(SC_ERR_INTERNAL, "PKCS#8: %zu bytes written, %zu planned",
		    (size_t)(p - buf), total);
		goto out;
	}
	*der = buf;
	*len = total;
	buf = NULL;
	if (!ed && pt != NULL && pt_len != NULL && point_len <= pt_cap) {
		memcpy(pt, point, point_len);
		*pt_len = point_len;
	}
	r = SC_OK;
out:
	if (buf != NULL)
		OPENSSL_secure_clear_free(buf, total);
	BN_clear_free(priv);
	return r;
}
