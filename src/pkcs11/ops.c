// SPDX-License-Identifier: Apache-2.0
/*
 * ops.c — how each mechanism of the token (mech.c) becomes one SP request over the session's
 * connection (session.c): hashing (for the CKM_SHA*_ forms), DigestInfo parsing (CKM_RSA_PKCS),
 * parameter checks (PSS, OAEP, ECDH), and the SP's answers in PKCS#11's formats (raw r|s).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "p11_ops.h"

#define P11_RAW_HASH_MAX 64    /* CKM_ECDSA / CKM_RSA_PKCS_PSS input: one digest */
#define P11_DIGESTINFO_MAX 128 /* CKM_RSA_PKCS input: a SHA-2 DigestInfo is at most 83 */
#define P11_ED25519_SIG 64

/* A CKM_SHA* hash mechanism as our digest; SC_DIGEST_NONE if it is not one of the three. */
static enum sc_digest digest_of_mech(CK_MECHANISM_TYPE h)
{
	switch (h) {
	case CKM_SHA256: return SC_DIGEST_SHA256;
	case CKM_SHA384: return SC_DIGEST_SHA384;
	case CKM_SHA512: return SC_DIGEST_SHA512;
	default: return SC_DIGEST_NONE;
	}
}

static CK_RV no_params(const CK_MECHANISM *m)
{
	return m->pParameter == NULL && m->ulParameterLen == 0 ? CKR_OK
	                                                       : CKR_MECHANISM_PARAM_INVALID;
}

/* The checks every private-key operation starts with. */
static CK_RV key_for(const struct p11_mech *mech, CK_FLAGS op, const struct p11_object *key,
    unsigned use)
{
	if (mech == NULL || mech->op != op)
		return CKR_MECHANISM_INVALID;
	if (key->klass != CKO_PRIVATE_KEY)
		return key->klass == CKO_CERTIFICATE ? CKR_KEY_HANDLE_INVALID
		                                     : CKR_KEY_TYPE_INCONSISTENT;
	if (key->key_type != mech->key_type)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!(key->use & use))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	return CKR_OK;
}

CK_RV p11_sign_init(struct p11_op *op, const CK_MECHANISM *m, const struct p11_object *key)
{
	const struct p11_mech *mech = p11_mech_find(m->mechanism);
	CK_RV rv;

	if ((rv = key_for(mech, CKF_SIGN, key, P11_USE_SIGN)) != CKR_OK)
		return rv;
	memset(op, 0, sizeof(*op));
	if (mech->kind == P11_M_PSS) {
		CK_RSA_PKCS_PSS_PARAMS pss;
		enum sc_digest d;
		CK_ULONG want_mgf;
		int max_salt;

		if (m->pParameter == NULL || m->ulParameterLen != sizeof(pss))
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(&pss, m->pParameter, sizeof(pss));
		d = digest_of_mech(pss.hashAlg);
		/* The hashed forms name their hash twice; they must agree (v2.40 §2.1.15). */
		if (d == SC_DIGEST_NONE || (mech->hash != SC_DIGEST_NONE && d != mech->hash))
			return CKR_MECHANISM_PARAM_INVALID;
		/* The SP runs MGF1 with the signature's own hash, as TLS and X.509 do. */
		want_mgf = d == SC_DIGEST_SHA256 ? CKG_MGF1_SHA256
		    : d == SC_DIGEST_SHA384      ? CKG_MGF1_SHA384
		                                 : CKG_MGF1_SHA512;
		max_salt = (int)key->key_bytes - EVP_MD_get_size(sc_digest_md(d)) - 2;
		if (pss.mgf != want_mgf || max_salt < 0 || pss.sLen > (CK_ULONG)max_salt)
			return CKR_MECHANISM_PARAM_INVALID;
		op->pss_digest = d;
		op->salt_len = (uint32_t)pss.sLen;
	} else if ((rv = no_params(m)) != CKR_OK) {
		/* EdDSA too: only pure Ed25519 without a context (no CK_EDDSA_PARAMS in v2.40). */
		return rv;
	}
	op->mech = mech;
	op->sp_handle = key->sp_handle;
	op->alg = key->alg;
	op->key_bytes = key->key_bytes;
	if (mech->hash != SC_DIGEST_NONE) {
		if ((op->md = EVP_MD_CTX_new()) == NULL)
			return CKR_HOST_MEMORY;
		if (EVP_DigestInit_ex(op->md, sc_digest_md(mech->hash), NULL) != 1) {
			p11_op_end(op);
			return CKR_FUNCTION_FAILED;
		}
	} else {
		op->max = mech->kind == P11_M_EDDSA ? SC_SP_MAX_SIGN_INPUT
		    : mech->kind == P11_M_RSA_PKCS  ? P11_DIGESTINFO_MAX
		                                    : P11_RAW_HASH_MAX;
	}
	op->active = 1;
	return CKR_OK;
}

/* OAEP's and MGF1's hashes as the SP's codes (docs/PROTOCOL.md 0x15); -1 if not ours. */
static int oaep_code(CK_MECHANISM_TYPE hash)
{
	switch (hash) {
	case CKM_SHA_1: return SC_SP_OAEP_SHA1;
	case CKM_SHA256: return SC_DIGEST_SHA256;
	case CKM_SHA384: return SC_DIGEST_SHA384;
	case CKM_SHA512: return SC_DIGEST_SHA512;
	default: return -1;
	}
}

static int mgf1_code(CK_RSA_PKCS_MGF_TYPE mgf)
{
	switch (mgf) {
	case CKG_MGF1_SHA1: return SC_SP_OAEP_SHA1;
	case CKG_MGF1_SHA256: return SC_DIGEST_SHA256;
	case CKG_MGF1_SHA384: return SC_DIGEST_SHA384;
	case CKG_MGF1_SHA512: return SC_DIGEST_SHA512;
	default: return -1;
	}
}

static size_t code_size(int code)
{
	return code == SC_SP_OAEP_SHA1
	    ? 20
	    : (size_t)EVP_MD_get_size(sc_digest_md((enum sc_digest)code));
}

CK_RV p11_decrypt_init(struct p11_op *op, const CK_MECHANISM *m, const struct p11_object *key)
{
	const struct p11_mech *mech = p11_mech_find(m->mechanism);
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_RV rv;

	if ((rv = key_for(mech, CKF_DECRYPT, key, P11_USE_DECRYPT)) != CKR_OK)
		return rv;
	memset(op, 0, sizeof(*op));
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(oaep))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&oaep, m->pParameter, sizeof(oaep));
	op->oaep_md = oaep_code(oaep.hashAlg);
	op->mgf1_md = mgf1_code(oaep.mgf);
	if (op->oaep_md < 0 || op->mgf1_md < 0)
		return CKR_MECHANISM_PARAM_INVALID;
	/* A label, or none (some callers leave source 0 with no data). */
	if (oaep.source == CKZ_DATA_SPECIFIED) {
		if (oaep.ulSourceDataLen > SC_SP_MAX_OAEP_LABEL ||
		    (oaep.ulSourceDataLen > 0 && oaep.pSourceData == NULL))
			return CKR_MECHANISM_PARAM_INVALID;
	} else if (oaep.source != 0 || oaep.ulSourceDataLen != 0) {
		return CKR_MECHANISM_PARAM_INVALID;
	}
	if (2 * code_size(op->oaep_md) + 2 >= key->key_bytes)
		return CKR_MECHANISM_PARAM_INVALID;
	if (oaep.ulSourceDataLen > 0) {
		if ((op->label = OPENSSL_memdup(oaep.pSourceData, oaep.ulSourceDataLen)) == NULL)
			return CKR_HOST_MEMORY;
		op->label_len = oaep.ulSourceDataLen;
	}
	op->mech = mech;
	op->sp_handle = key->sp_handle;
	op->alg = key->alg;
	op->key_bytes = key->key_bytes;
	op->max = key->key_bytes;
	op->active = 1;
	return CKR_OK;
}

CK_RV p11_op_update(struct p11_op *op, const uint8_t *data, size_t len)
{
	uint8_t *n;

	if (len == 0)
		return CKR_OK;
	if (op->md != NULL)
		return EVP_DigestUpdate(op->md, data, len) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
	if (len > op->max - op->len)
		return op->mech->op == CKF_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE
		                                   : CKR_DATA_LEN_RANGE;
	/* Sized for the mechanism's bound at once: nothing is ever reallocated with data in it. */
	if (op->buf == NULL) {
		if ((n = OPENSSL_malloc(op->max)) == NULL)
			return CKR_HOST_MEMORY;
		op->buf = n;
	}
	memcpy(op->buf + op->len, data, len);
	op->len += len;
	return CKR_OK;
}

size_t p11_op_out_len(const struct p11_op *op)
{
	switch (op->mech->kind) {
	case P11_M_ECDSA: return 2 * op->key_bytes;
	case P11_M_EDDSA: return P11_ED25519_SIG;
	case P11_M_OAEP:
		return op->result != NULL ? op->result_len
		                          : op->key_bytes - 2 * code_size(op->oaep_md) - 2;
	default: return op->key_bytes;
	}
}

/* The raw input of CKM_ECDSA: a digest, whose length names it for the SP. */
static enum sc_digest digest_of_len(size_t len)
{
	switch (len) {
	case 32: return SC_DIGEST_SHA256;
	case 48: return SC_DIGEST_SHA384;
	case 64: return SC_DIGEST_SHA512;
	default: return SC_DIGEST_NONE;
	}
}

/*
 * CKM_RSA_PKCS input must be a DER DigestInfo (RFC 8017 9.2) of SHA-256/384/512 with NULL
 * parameters: the SP signs DigestInfos, not arbitrary blocks. Decoded with OpenSSL's X509_SIG
 * (the same ASN.1), strictly: re-encoding gives the same bytes.
 */
static CK_RV parse_digest_info(const uint8_t *in, size_t len, enum sc_digest *d, const uint8_t **dg,
    size_t *dg_len)
{
	const unsigned char *p = in;
	const X509_ALGOR *alg = NULL;
	const ASN1_OCTET_STRING *os = NULL;
	const ASN1_OBJECT *oid = NULL;
	unsigned char *re = NULL;
	X509_SIG *sig;
	int ptype = V_ASN1_UNDEF, relen;
	CK_RV rv;

	if ((sig = d2i_X509_SIG(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return CKR_DATA_INVALID;
	}
	relen = i2d_X509_SIG(sig, &re);
	if ((size_t)(p - in) != len || relen < 0 || (size_t)relen != len ||
	    memcmp(re, in, len) != 0) {
		rv = CKR_DATA_INVALID; /* not DER, or trailing bytes */
		goto out;
	}
	X509_SIG_get0(sig, &alg, &os);
	X509_ALGOR_get0(&oid, &ptype, NULL, alg);
	if (ptype != V_ASN1_NULL) {
		rv = CKR_DATA_INVALID;
		goto out;
	}
	switch (OBJ_obj2nid(oid)) {
	case NID_sha256: *d = SC_DIGEST_SHA256; break;
	case NID_sha384: *d = SC_DIGEST_SHA384; break;
	case NID_sha512: *d = SC_DIGEST_SHA512; break;
	default:
		rv = CKR_DATA_INVALID; /* a hash the SP does not sign */
		goto out;
	}
	if ((size_t)ASN1_STRING_length(os) != (size_t)EVP_MD_get_size(sc_digest_md(*d))) {
		rv = CKR_DATA_INVALID;
		goto out;
	}
	/* Points into `in`: the digest is the DigestInfo's last bytes. */
	*dg_len = (size_t)ASN1_STRING_length(os);
	*dg = in + len - *dg_len;
	rv = CKR_OK;
out:
	OPENSSL_free(re);
	X509_SIG_free(sig);
	return rv;
}

/* DER ECDSA-Sig-Value → r | s, each `field` bytes (PKCS#11's format). */
static CK_RV ecdsa_raw(const uint8_t *der, size_t len, size_t field, uint8_t **out)
{
	const unsigned char *p = der;
	const BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	CK_RV rv;

	*out = NULL;
	/* The SP's answer: anything but one exact ECDSA-Sig-Value for this curve is its fault. */
	if (sig == NULL || (size_t)(p - der) != len) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_num_bytes(r) > (int)field || BN_num_bytes(s) > (int)field) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if ((*out = OPENSSL_malloc(2 * field)) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	BN_bn2binpad(r, *out, (int)field);
	BN_bn2binpad(s, *out + field, (int)field);
	rv = CKR_OK;
out:
	ERR_clear_error();
	ECDSA_SIG_free(sig);
	return rv;
}

CK_RV p11_sign_finish(struct p11_op *op, struct p11_session *s, uint8_t **out, size_t *out_len)
{
	uint8_t dg[EVP_MAX_MD_SIZE], *sig = NULL;
	const uint8_t *in = dg;
	size_t in_len = 0, sig_len = 0;
	enum sc_digest d = op->mech->hash;
	struct sc_sp *sp = NULL;
	unsigned int dl = 0;
	sc_err r;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	if (op->md != NULL) {
		if (EVP_DigestFinal_ex(op->md, dg, &dl) != 1)
			return CKR_FUNCTION_FAILED;
		in_len = dl;
	} else if (op->mech->kind == P11_M_RSA_PKCS) {
		if ((rv = parse_digest_info(op->buf, op->len, &d, &in, &in_len)) != CKR_OK)
			return rv;
	} else if (op->mech->kind == P11_M_ECDSA) {
		if ((d = digest_of_len(op->len)) == SC_DIGEST_NONE)
			return CKR_DATA_LEN_RANGE;
		in = op->buf;
		in_len = op->len;
	} else if (op->mech->kind == P11_M_PSS) {
		d = op->pss_digest;
		if (op->len != (size_t)EVP_MD_get_size(sc_digest_md(d)))
			return CKR_DATA_LEN_RANGE;
		in = op->buf;
		in_len = op->len;
	} else {
		in = op->buf != NULL ? op->buf : dg; /* an empty message is a message */
		in_len = op->len;
	}
	if (op->mech->kind == P11_M_PSS && op->md != NULL)
		d = op->pss_digest;

	if ((r = p11_session_sp(s, &sp)) != SC_OK)
		return p11_rv_from_sc(r);
	if (op->mech->kind == P11_M_PSS)
		r = sc_sp_sign_pss(sp, op->sp_handle, d, in, in_len, op->salt_len, &sig, &sig_len);
	else if (op->mech->kind == P11_M_EDDSA)
		r = sc_sp_sign(sp, op->sp_handle, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, in, in_len,
		    &sig, &sig_len);
	else
		r = sc_sp_sign(sp, op->sp_handle, SC_SP_SIGN_DIGEST, d, in, in_len, &sig, &sig_len);
	p11_session_sp_done(s, r);
	OPENSSL_cleanse(dg, sizeof(dg));
	if (r != SC_OK)
		return p11_rv_from_sc(r);
	if (op->mech->kind == P11_M_ECDSA) {
		rv = ecdsa_raw(sig, sig_len, op->key_bytes, out);
		OPENSSL_free(sig);
		if (rv != CKR_OK)
			return rv;
		*out_len = 2 * op->key_bytes;
		return CKR_OK;
	}
	/* RSA: exactly the modulus size; Ed25519: 64 bytes. Anything else is the SP's fault. */
	if (sig_len != p11_op_out_len(op)) {
		OPENSSL_free(sig);
		return CKR_DEVICE_ERROR;
	}
	*out = sig;
	*out_len = sig_len;
	return CKR_OK;
}

CK_RV p11_decrypt_finish(struct p11_op *op, struct p11_session *s)
{
	struct sc_sp *sp = NULL;
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	sc_err r;

	if (op->result != NULL)
		return CKR_OK;
	if (op->len != op->key_bytes)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if ((r = p11_session_sp(s, &sp)) != SC_OK)
		return p11_rv_from_sc(r);
	r = sc_sp_decrypt_oaep(sp, op->sp_handle, op->oaep_md, op->mgf1_md, op->label,
	    op->label_len, op->buf, op->len, &pt, &pt_len);
	p11_session_sp_done(s, r);
	if (r != SC_OK)
		return p11_rv_from_sc(r);
	op->result = pt;
	op->result_len = pt_len;
	return CKR_OK;
}

CK_RV p11_derive(const CK_MECHANISM *m, const struct p11_object *key, struct p11_session *s,
    uint8_t **secret, size_t *secret_len)
{
	const struct p11_mech *mech = p11_mech_find(m->mechanism);
	CK_ECDH1_DERIVE_PARAMS ecdh;
	ASN1_OCTET_STRING *os = NULL;
	const uint8_t *point;
	size_t point_len, raw_len;
	struct sc_sp *sp = NULL;
	sc_err r;
	CK_RV rv;

	*secret = NULL;
	*secret_len = 0;
	if ((rv = key_for(mech, CKF_DERIVE, key, P11_USE_DERIVE)) != CKR_OK)
		return rv;
	if (m->pParameter == NULL || m->ulParameterLen != sizeof(ecdh))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&ecdh, m->pParameter, sizeof(ecdh));
	/* CKD_NULL only: the caller gets Z and applies its own KDF. */
	if (ecdh.kdf != CKD_NULL || ecdh.ulSharedDataLen != 0 || ecdh.pSharedData != NULL ||
	    ecdh.pPublicData == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	raw_len = 1 + 2 * key->key_bytes;
	point = ecdh.pPublicData;
	point_len = ecdh.ulPublicDataLen;
	/* The raw point, or the same in a DER OCTET STRING (both are in use); lengths differ. */
	if (point_len != raw_len) {
		const unsigned char *p = ecdh.pPublicData;

		if (point_len > SC_SP_MAX_EC_POINT + 2 ||
		    (os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)point_len)) == NULL ||
		    (size_t)(p - ecdh.pPublicData) != point_len ||
		    (size_t)ASN1_STRING_length(os) != raw_len) {
			ERR_clear_error();
			ASN1_OCTET_STRING_free(os);
			return CKR_MECHANISM_PARAM_INVALID;
		}
		point = ASN1_STRING_get0_data(os);
		point_len = raw_len;
	}
	if ((r = p11_session_sp(s, &sp)) != SC_OK) {
		ASN1_OCTET_STRING_free(os);
		return p11_rv_from_sc(r);
	}
	r = sc_sp_derive_ecdh(sp, key->sp_handle, point, point_len, secret, secret_len);
	p11_session_sp_done(s, r);
	ASN1_OCTET_STRING_free(os);
	/* The SP refuses a point off the curve: the caller's parameter. */
	if (r == SC_ERR_MALFORMED)
		return CKR_MECHANISM_PARAM_INVALID;
	return p11_rv_from_sc(r);
}
