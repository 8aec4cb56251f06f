// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_cms.c — embodiment 2 on the TPM backend: the server's CMS envelope (keywrap.c's format)
 * opened with a TPM-resident KEK. OpenSSL 3.0 cannot run a CMS recipient on a key it does not
 * hold, so the RecipientInfo is parsed here (ASN.1 templates), the KEK step runs on the chip
 * (RSA_Decrypt OAEP or ECDH_ZGen), the rest (X9.63 KDF, AES key unwrap, AES-256-GCM/CBC) in
 * OpenSSL; the key goes into the TPM at once (tpm_key.c) and its clear form, held in the
 * secure heap, is wiped.
 */
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>
#include "profile_internal.h"
#include "tpm_key.h"

#define PLAINTEXT_MAX 16384 /* as keywrap.c: a PKCS#8 RSA-4096 key is about 2.4 KB */
#define CEK_MAX 64

/* ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ANY } */
typedef struct {
	ASN1_OBJECT *type;
	ASN1_TYPE *content;
} SC_CI;
ASN1_SEQUENCE(SC_CI) = {
	ASN1_SIMPLE(SC_CI, type, ASN1_OBJECT),
	ASN1_EXP(SC_CI, content, ASN1_ANY, 0),
} ASN1_SEQUENCE_END(SC_CI)
IMPLEMENT_ASN1_FUNCTIONS(SC_CI)

/* EncryptedContentInfo ::= SEQUENCE { contentType, contentEncryptionAlgorithm, [0] IMPLICIT OCTETS } */
typedef struct {
	ASN1_OBJECT *type;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *content;
} SC_ECI;
ASN1_SEQUENCE(SC_ECI) = {
	ASN1_SIMPLE(SC_ECI, type, ASN1_OBJECT),
	ASN1_SIMPLE(SC_ECI, alg, X509_ALGOR),
	ASN1_IMP_OPT(SC_ECI, content, ASN1_OCTET_STRING, 0),
} ASN1_SEQUENCE_END(SC_ECI)

/* AuthEnvelopedData (RFC 5083) and EnvelopedData (RFC 5652), what we read of them. */
typedef struct {
	ASN1_INTEGER *version;
	STACK_OF(ASN1_TYPE) *originator;
	STACK_OF(ASN1_TYPE) *ris;
	SC_ECI *eci;
	STACK_OF(ASN1_TYPE) *attrs; /* authAttrs / unprotectedAttrs */
	ASN1_OCTET_STRING *mac;     /* AuthEnvelopedData only */
	STACK_OF(ASN1_TYPE) *uattrs;
} SC_ENV;
ASN1_SEQUENCE(SC_AED) = {
	ASN1_SIMPLE(SC_ENV, version, ASN1_INTEGER),
	ASN1_IMP_SEQUENCE_OF_OPT(SC_ENV, originator, ASN1_ANY, 0),
	ASN1_SET_OF(SC_ENV, ris, ASN1_ANY),
	ASN1_SIMPLE(SC_ENV, eci, SC_ECI),
	ASN1_IMP_SET_OF_OPT(SC_ENV, attrs, ASN1_ANY, 1),
	ASN1_SIMPLE(SC_ENV, mac, ASN1_OCTET_STRING),
	ASN1_IMP_SET_OF_OPT(SC_ENV, uattrs, ASN1_ANY, 2),
} ASN1_SEQUENCE_END_name(SC_ENV, SC_AED)
ASN1_SEQUENCE(SC_ED) = {
	ASN1_SIMPLE(SC_ENV, version, ASN1_INTEGER),
	ASN1_IMP_SEQUENCE_OF_OPT(SC_ENV, originator, ASN1_ANY, 0),
	ASN1_SET_OF(SC_ENV, ris, ASN1_ANY),
	ASN1_SIMPLE(SC_ENV, eci, SC_ECI),
	ASN1_IMP_SET_OF_OPT(SC_ENV, attrs, ASN1_ANY, 1),
} ASN1_SEQUENCE_END_name(SC_ENV, SC_ED)

/* KeyTransRecipientInfo ::= SEQUENCE { version, rid, keyEncryptionAlgorithm, encryptedKey } */
typedef struct {
	ASN1_INTEGER *version;
	ASN1_TYPE *rid;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *ek;
} SC_KTRI;
ASN1_SEQUENCE(SC_KTRI) = {
	ASN1_SIMPLE(SC_KTRI, version, ASN1_INTEGER),
	ASN1_SIMPLE(SC_KTRI, rid, ASN1_ANY),
	ASN1_SIMPLE(SC_KTRI, alg, X509_ALGOR),
	ASN1_SIMPLE(SC_KTRI, ek, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(SC_KTRI)
IMPLEMENT_ASN1_FUNCTIONS(SC_KTRI)

/* RecipientEncryptedKey ::= SEQUENCE { rid, encryptedKey } */
typedef struct {
	ASN1_TYPE *rid;
	ASN1_OCTET_STRING *ek;
} SC_REK;
DECLARE_ASN1_ITEM(SC_REK)
ASN1_SEQUENCE(SC_REK) = {
	ASN1_SIMPLE(SC_REK, rid, ASN1_ANY),
	ASN1_SIMPLE(SC_REK, ek, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(SC_REK)
DEFINE_STACK_OF(SC_REK)

/* KeyAgreeRecipientInfo (its [1] IMPLICIT tag read as SEQUENCE): RFC 5652 6.2.2 */
typedef struct {
	ASN1_INTEGER *version;
	ASN1_TYPE *originator; /* [0] EXPLICIT OriginatorIdentifierOrKey, kept whole */
	ASN1_OCTET_STRING *ukm;
	X509_ALGOR *alg;
	STACK_OF(SC_REK) *reks;
} SC_KARI;
ASN1_SEQUENCE(SC_KARI) = {
	ASN1_SIMPLE(SC_KARI, version, ASN1_INTEGER),
	ASN1_EXP(SC_KARI, originator, ASN1_ANY, 0),
	ASN1_EXP_OPT(SC_KARI, ukm, ASN1_OCTET_STRING, 1),
	ASN1_SIMPLE(SC_KARI, alg, X509_ALGOR),
	ASN1_SEQUENCE_OF(SC_KARI, reks, SC_REK),
} ASN1_SEQUENCE_END(SC_KARI)
IMPLEMENT_ASN1_FUNCTIONS(SC_KARI)

/* OriginatorPublicKey (its [1] IMPLICIT tag read as SEQUENCE) */
typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *pub;
} SC_OPK;
ASN1_SEQUENCE(SC_OPK) = {
	ASN1_SIMPLE(SC_OPK, alg, X509_ALGOR),
	ASN1_SIMPLE(SC_OPK, pub, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SC_OPK)
IMPLEMENT_ASN1_FUNCTIONS(SC_OPK)

/* GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 } */
typedef struct {
	ASN1_OCTET_STRING *nonce;
	ASN1_INTEGER *icvlen;
} SC_GCMP;
ASN1_SEQUENCE(SC_GCMP) = {
	ASN1_SIMPLE(SC_GCMP, nonce, ASN1_OCTET_STRING),
	ASN1_OPT(SC_GCMP, icvlen, ASN1_INTEGER),
} ASN1_SEQUENCE_END(SC_GCMP)
IMPLEMENT_ASN1_FUNCTIONS(SC_GCMP)

static sc_err bad(const char *what)
{
	ERR_clear_error();
	return sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: %s", what);
}

/* Decode exactly len bytes of der with it; a DER element that is [n] IMPLICIT becomes SEQUENCE. */
static void *decode_as(const ASN1_ITEM *it, const unsigned char *der, long len, int retag)
{
	unsigned char *copy = NULL;
	const unsigned char *q;
	void *v = NULL;

	if (len < 2 || (copy = OPENSSL_memdup(der, (size_t)len)) == NULL)
		return NULL;
	if (retag)
		copy[0] = 0x30;
	q = copy;
	v = ASN1_item_d2i(NULL, &q, len, it);
	if (v != NULL && q != copy + len) {
		ASN1_item_free(v, it);
		v = NULL;
	}
	OPENSSL_free(copy);
	return v;
}

/* KeyTransRecipientInfo: RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label, on the TPM. */
static sc_err ktri_cek(const struct spd_key *kek, const unsigned char *der, long len, uint8_t *cek,
    size_t *cek_len)
{
	SC_KTRI *k = decode_as(ASN1_ITEM_rptr(SC_KTRI), der, len, 0);
	RSA_OAEP_PARAMS *op = NULL;
	const unsigned char *q;
	X509_ALGOR *mgfhash = NULL;
	sc_err r = SC_ERR_INTERNAL;

	if (k == NULL)
		return bad("KeyTransRecipientInfo does not decode");
	if (OBJ_obj2nid(k->alg->algorithm) != NID_rsaesOaep || k->alg->parameter == NULL ||
	    k->alg->parameter->type != V_ASN1_SEQUENCE) {
		r = bad("KeyTransRecipientInfo must use RSAES-OAEP");
		goto out;
	}
	q = k->alg->parameter->value.sequence->data;
	op = d2i_RSA_OAEP_PARAMS(NULL, &q, k->alg->parameter->value.sequence->length);
	if (op == NULL || op->hashFunc == NULL ||
	    OBJ_obj2nid(op->hashFunc->algorithm) != NID_sha256 || op->maskGenFunc == NULL ||
	    OBJ_obj2nid(op->maskGenFunc->algorithm) != NID_mgf1 ||
	    op->maskGenFunc->parameter == NULL ||
	    op->maskGenFunc->parameter->type != V_ASN1_SEQUENCE || op->pSourceFunc != NULL) {
		r = bad(
		    "RSAES-OAEP must be SHA-256 with MGF1-SHA-256 and no label on this backend");
		goto out;
	}
	q = op->maskGenFunc->parameter->value.sequence->data;
	mgfhash = d2i_X509_ALGOR(NULL, &q, op->maskGenFunc->parameter->value.sequence->length);
	if (mgfhash == NULL || OBJ_obj2nid(mgfhash->algorithm) != NID_sha256) {
		r = bad(
		    "RSAES-OAEP must be SHA-256 with MGF1-SHA-256 and no label on this backend");
		goto out;
	}
	*cek_len = CEK_MAX * 8;
	r = spd_tpm_decrypt_oaep(kek, EVP_sha256(), EVP_sha256(), NULL, 0, k->ek->data,
	    (size_t)k->ek->length, cek, cek_len);
out:
	X509_ALGOR_free(mgfhash);
	RSA_OAEP_PARAMS_free(op);
	SC_KTRI_free(k);
	return r;
}

/* The originator's ephemeral point as a key on the KEK's curve. */
static sc_err peer_key(const struct spd_key *kek, const ASN1_BIT_STRING *pub, EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	char group[32];
	size_t glen = 0;
	sc_err r = SC_OK;

	*out = NULL;
	if (EVP_PKEY_get_utf8_string_param(spd_tpm_key_public(kek), OSSL_PKEY_PARAM_GROUP_NAME,
	        group, sizeof(group), &glen) != 1)
		return bad("the KEK is not an EC key");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub->data,
	    (size_t)pub->length);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
		r = bad("the originator key is not a point on the KEK's curve");
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* KeyAgreeRecipientInfo: ECDH (ZGen on the TPM), X9.63 KDF, AES key unwrap of the CEK. */
static sc_err kari_cek(const struct spd_key *kek, const unsigned char *der, long len, uint8_t *cek,
    size_t *cek_len)
{
	SC_KARI *k = decode_as(ASN1_ITEM_rptr(SC_KARI), der, len, 1);
	SC_OPK *opk = NULL;
	SC_REK *rek;
	X509_ALGOR *wrap = NULL, *kekalg = NULL;
	EVP_PKEY *peer = NULL;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	const EVP_CIPHER *wc = NULL;
	const char *md = NULL;
	unsigned char *si = NULL;
	const unsigned char *q;
	uint8_t *z = NULL, kw[32];
	size_t z_len = 0, kw_len;
	OSSL_PARAM params[4];
	int si_len = 0, n1 = 0, n2 = 0, wnid;
	sc_err r = SC_ERR_INTERNAL;

	if (k == NULL || k->originator == NULL || k->originator->type != V_ASN1_OTHER ||
	    sk_SC_REK_num(k->reks) != 1) {
		r = bad("KeyAgreeRecipientInfo does not decode, or not for one recipient key");
		goto out;
	}
	/* originator [0] { originatorKey [1] IMPLICIT OriginatorPublicKey }: nothing else */
	if (k->originator->value.asn1_string->length < 2 ||
	    k->originator->value.asn1_string->data[0] != 0xa1 ||
	    (opk = decode_as(ASN1_ITEM_rptr(SC_OPK), k->originator->value.asn1_string->data,
	         k->originator->value.asn1_string->length, 1)) == NULL) {
		r = bad("KeyAgreeRecipientInfo: the originator must be an ephemeral public key");
		goto out;
	}
	switch (OBJ_obj2nid(k->alg->algorithm)) {
	case NID_dhSinglePass_stdDH_sha256kdf_scheme: md = "SHA256"; break;
	case NID_dhSinglePass_stdDH_sha384kdf_scheme: md = "SHA384"; break;
	case NID_dhSinglePass_stdDH_sha512kdf_scheme: md = "SHA512"; break;
	default: r = bad("KeyAgreeRecipientInfo: not ECDH with an X9.63 SHA-2 KDF"); goto out;
	}
	if (k->alg->parameter == NULL || k->alg->parameter->type != V_ASN1_SEQUENCE) {
		r = bad("KeyAgreeRecipientInfo names no key wrap algorithm");
		goto out;
	}
	q = k->alg->parameter->value.sequence->data;
	wrap = d2i_X509_ALGOR(NULL, &q, k->alg->parameter->value.sequence->length);
	wnid = wrap != NULL ? OBJ_obj2nid(wrap->algorithm) : NID_undef;
	wc = wnid == NID_id_aes128_wrap  ? EVP_aes_128_wrap()
	    : wnid == NID_id_aes192_wrap ? EVP_aes_192_wrap()
	    : wnid == NID_id_aes256_wrap ? EVP_aes_256_wrap()
	                                 : NULL;
	if (wc == NULL) {
		r = bad("key wrap not allowed (AES key wrap without padding only)");
		goto out;
	}
	kw_len = (size_t)EVP_CIPHER_get_key_length(wc);
	if ((r = peer_key(kek, opk->pub, &peer)) != SC_OK)
		goto out;
	if ((r = spd_tpm_derive(kek, peer, &z, &z_len)) != SC_OK) {
		if (r == SC_ERR_MALFORMED)
			r = bad("the originator key is not a point on the KEK's curve");
		goto out;
	}
	/* ECC-CMS-SharedInfo (RFC 5753): the wrap algorithm without parameters, ukm, key bits. */
	if ((kekalg = X509_ALGOR_new()) == NULL ||
	    X509_ALGOR_set0(kekalg, OBJ_nid2obj(wnid), V_ASN1_UNDEF, NULL) != 1 ||
	    (si_len = CMS_SharedInfo_encode(&si, kekalg, k->ukm, (int)kw_len)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "encryptedKey: ECC-CMS-SharedInfo");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, z_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, si, (size_t)si_len);
	params[3] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kctx, kw, kw_len, params) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "encryptedKey: X9.63 KDF");
		goto out;
	}
	rek = sk_SC_REK_value(k->reks, 0);
	if (rek->ek->length < 24 || (size_t)rek->ek->length > CEK_MAX + 8) {
		r = bad("does not decrypt with this key");
		goto out;
	}
	if ((cctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "encryptedKey");
		goto out;
	}
	EVP_CIPHER_CTX_set_flags(cctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(cctx, wc, NULL, kw, NULL) != 1 ||
	    EVP_DecryptUpdate(cctx, cek, &n1, rek->ek->data, rek->ek->length) != 1 ||
	    EVP_DecryptFinal_ex(cctx, cek + n1, &n2) != 1) {
		r = bad("does not decrypt with this key");
		goto out;
	}
	*cek_len = (size_t)(n1 + n2);
	r = SC_OK;
out:
	OPENSSL_cleanse(kw, sizeof(kw));
	if (z != NULL)
		OPENSSL_clear_free(z, z_len);
	EVP_CIPHER_CTX_free(cctx);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_free(si);
	X509_ALGOR_free(kekalg);
	X509_ALGOR_free(wrap);
	EVP_PKEY_free(peer);
	SC_OPK_free(opk);
	SC_KARI_free(k);
	return r;
}

/*
 * The content: AES-256-GCM (AuthEnvelopedData, tag = mac) or AES-256-CBC (EnvelopedData), into
 * the secure heap. *pt is the caller's (OPENSSL_secure_clear_free(*pt, cap)).
 */
static sc_err open_content(const SC_ENV *env, int gcm, const uint8_t *cek, size_t cek_len,
    uint8_t **pt, size_t *pt_len, size_t *cap)
{
	const SC_ECI *eci = env->eci;
	SC_GCMP *gp = NULL;
	EVP_CIPHER_CTX *c = NULL;
	const unsigned char *q;
	int n1 = 0, n2 = 0, nid = OBJ_obj2nid(eci->alg->algorithm);
	sc_err r = SC_ERR_INTERNAL;

	*pt = NULL;
	*pt_len = *cap = 0;
	if (eci->content == NULL || eci->content->length <= 0 ||
	    eci->content->length > PLAINTEXT_MAX)
		return bad("no encrypted content, or over 16 KiB");
	if (cek_len != 32 || nid != (gcm ? NID_aes_256_gcm : NID_aes_256_cbc) ||
	    eci->alg->parameter == NULL)
		return bad("content encryption not allowed (AES-256-GCM or AES-256-CBC only)");
	if (gcm && (env->attrs != NULL || env->mac == NULL || env->mac->length != 16))
		return bad("AuthEnvelopedData with attributes or without a 16-byte tag");
	*cap = (size_t)eci->content->length + 32;
	if ((*pt = OPENSSL_secure_zalloc(*cap)) == NULL || (c = EVP_CIPHER_CTX_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "encryptedKey: plaintext buffer");
		goto out;
	}
	if (gcm) {
		if (eci->alg->parameter->type != V_ASN1_SEQUENCE) {
			r = bad("GCM parameters missing");
			goto out;
		}
		q = eci->alg->parameter->value.sequence->data;
		gp = d2i_SC_GCMP(NULL, &q, eci->alg->parameter->value.sequence->length);
		if (gp == NULL || gp->nonce->length < 12 || gp->nonce->length > 16 ||
		    (gp->icvlen != NULL && ASN1_INTEGER_get(gp->icvlen) != 16)) {
			r = bad("GCM parameters not a 12..16-byte nonce and a 16-byte tag");
			goto out;
		}
		if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, gp->nonce->length, NULL) != 1 ||
		    EVP_DecryptInit_ex(c, NULL, NULL, cek, gp->nonce->data) != 1 ||
		    EVP_DecryptUpdate(c, *pt, &n1, eci->content->data, eci->content->length) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, env->mac->data) != 1 ||
		    EVP_DecryptFinal_ex(c, *pt + n1, &n2) != 1) {
			r = bad("does not decrypt with this key");
			goto out;
		}
	} else {
		const ASN1_TYPE *iv = eci->alg->parameter;
		if (iv->type != V_ASN1_OCTET_STRING || iv->value.octet_string->length != 16 ||
		    EVP_DecryptInit_ex(c, EVP_aes_256_cbc(), NULL, cek,
		        iv->value.octet_string->data) != 1 ||
		    EVP_DecryptUpdate(c, *pt, &n1, eci->content->data, eci->content->length) != 1 ||
		    EVP_DecryptFinal_ex(c, *pt + n1, &n2) != 1) {
			r = bad("does not decrypt with this key");
			goto out;
		}
	}
	*pt_len = (size_t)(n1 + n2);
	r = SC_OK;
out:
	SC_GCMP_free(gp);
	EVP_CIPHER_CTX_free(c);
	return r;
}

sc_err spd_tpm_unwrap_supplied(const struct spd_backend *be, const struct spd_key *kek,
    const struct sc_profile *p, X509 *kek_cert, struct spd_key **out)
{
	const SC_KEY_SPEC *ks;
	SC_CI *ci = NULL;
	SC_ENV *env = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *der = NULL, *ri_der = NULL;
	const unsigned char *q;
	uint8_t cek[CEK_MAX * 8], *pt = NULL;
	size_t cek_len = 0, pt_len = 0, cap = 0;
	int der_len, ri_len, type = NID_undef;
	sc_err r = SC_ERR_INTERNAL;

	(void)be;
	*out = NULL;
	if (p == NULL || kek == NULL || kek_cert == NULL)
		return sc_fail(SC_ERR_USAGE, "unwrap: missing argument");
	ks = p->sp->tbsProfile->key;
	if (ks->type != SC_KEY_SPEC_SUPPLIED || p->info.supplied_pub == NULL)
		return sc_fail(SC_ERR_USAGE, "the profile asks the device to generate its key");
	if (EVP_PKEY_eq(X509_get0_pubkey(kek_cert), spd_tpm_key_public(kek)) != 1)
		return bad("the KEK certificate is not the KEK's");
	der_len = i2d_CMS_ContentInfo(ks->value.supplied->encryptedKey, &der);
	q = der;
	if (der_len <= 0 || (ci = d2i_SC_CI(NULL, &q, der_len)) == NULL || q != der + der_len ||
	    ci->content->type != V_ASN1_SEQUENCE) {
		r = bad("CMS does not decode");
		goto out;
	}
	type = OBJ_obj2nid(ci->type);
	if (type != NID_id_smime_ct_authEnvelopedData && type != NID_pkcs7_enveloped) {
		r = bad("not AuthEnvelopedData or EnvelopedData");
		goto out;
	}
	env = decode_as(type == NID_pkcs7_enveloped ? ASN1_ITEM_rptr(SC_ED)
	                                            : ASN1_ITEM_rptr(SC_AED),
	    ci->content->value.sequence->data, ci->content->value.sequence->length, 0);
	if (env == NULL || sk_ASN1_TYPE_num(env->ris) != 1) {
		r = bad("the envelope does not decode, or has not exactly 1 recipient");
		goto out;
	}
	if ((ri_len = i2d_ASN1_TYPE(sk_ASN1_TYPE_value(env->ris, 0), &ri_der)) < 2) {
		r = bad("RecipientInfo does not encode");
		goto out;
	}
	/* KeyTransRecipientInfo is a SEQUENCE, KeyAgreeRecipientInfo [1] IMPLICIT. */
	if (ri_der[0] == 0x30 && sc_alg_is_rsa(spd_tpm_key_alg(kek)))
		r = ktri_cek(kek, ri_der, ri_len, cek, &cek_len);
	else if (ri_der[0] == 0xa1 && !sc_alg_is_rsa(spd_tpm_key_alg(kek)))
		r = kari_cek(kek, ri_der, ri_len, cek, &cek_len);
	else
		r = bad("not for this key-exchange key");
	if (r != SC_OK)
		goto out;
	if ((r = open_content(env, type != NID_pkcs7_enveloped, cek, cek_len, &pt, &pt_len,
	         &cap)) != SC_OK)
		goto out;
	q = pt;
	if (pt_len == 0 || (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)pt_len)) == NULL ||
	    q != pt + pt_len || (key = EVP_PKCS82PKEY(p8)) == NULL) {
		r = bad("plaintext is not one PKCS#8 key");
		goto out;
	}
	if (EVP_PKEY_eq(key, p->info.supplied_pub) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_KEY_MISMATCH,
		    "encryptedKey: the key is not tbsProfile.key.supplied.publicKey");
		goto out;
	}
	/* Into the TPM at once; the clear key is freed (and wiped) right below. */
	r = spd_tpm_key_import(key, p->info.key_usage, out);
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pt != NULL)
		OPENSSL_secure_clear_free(pt, cap);
	OPENSSL_free(ri_der);
	if (env != NULL)
		ASN1_item_free((ASN1_VALUE *)env,
		    type == NID_pkcs7_enveloped ? ASN1_ITEM_rptr(SC_ED) : ASN1_ITEM_rptr(SC_AED));
	SC_CI_free(ci);
	OPENSSL_free(der);
	return r;
}
