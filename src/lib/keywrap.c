// SPDX-License-Identifier: Apache-2.0
/*
 * keywrap.c — both halves of the server-generated embodiment (docs/DESIGN §4, embodiment 2):
 * the provisioning server encrypts the key pair it made to the device's KEK certificate
 * (sc_keywrap_encrypt, for sc_profile_create), and the SP decrypts and checks it
 * (sc_profile_unwrap_key). Kept together so that what one side writes, the other accepts.
 */
#include <string.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include "profile_internal.h"

#define UNWRAP_PLAINTEXT_MAX 16384 /* a PKCS#8 RSA-4096 key is about 2.4 KB */

/* ---- the server: wrap ---- */

/*
 * CMS-encrypt the PKCS#8 DER of key to kek_cert: AuthEnvelopedData with AES-256-GCM;
 * KeyTransRecipientInfo with RSAES-OAEP (SHA-256, MGF1-SHA-256) for an RSA KEK, or
 * KeyAgreeRecipientInfo with ECDH (X9.63 KDF with SHA-256) for an EC KEK.
 */
sc_err sc_keywrap_encrypt(EVP_PKEY *key, X509 *kek_cert, CMS_ContentInfo **out)
{
	sc_err r = SC_ERR_INTERNAL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	int der_len = 0, kek_type;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *kek_pub = X509_get0_pubkey(kek_cert);

	if (kek_pub == NULL) {
		r = sc_fail_ossl(SC_ERR_USAGE, "kek_cert: no usable public key");
		goto out;
	}
	kek_type = EVP_PKEY_get_base_id(kek_pub);
	if (kek_type != EVP_PKEY_RSA && kek_type != EVP_PKEY_EC) {
		/* OpenSSL 3.0 CMS has no X25519 recipients. */
		r = sc_fail(SC_ERR_ALGORITHM, "kek_cert: the key-exchange key must be RSA or EC");
		goto out;
	}
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL) {
		r = sc_fail_ossl(SC_ERR_USAGE, "supplied_key: no private key to encrypt");
		goto out;
	}
	if ((der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 ||
	    (in = BIO_new_mem_buf(der, der_len)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "supplied_key: PKCS#8 encoding");
		goto out;
	}
	/* CMS_PARTIAL: add the recipient ourselves, to set its padding before encrypting. */
	if ((cms = CMS_encrypt(NULL, in, EVP_aes_256_gcm(), CMS_PARTIAL | CMS_BINARY)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "CMS AuthEnvelopedData");
		goto out;
	}
	ri = CMS_add1_recipient_cert(cms, kek_cert, kek_type == EVP_PKEY_RSA ? CMS_KEY_PARAM : 0);
	if (ri == NULL || (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "CMS recipient for kek_cert");
		goto out;
	}
	if (kek_type == EVP_PKEY_RSA) {
		/* Never PKCS#1 v1.5 key transport: the SP refuses it (Bleichenbacher). */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "RSAES-OAEP parameters");
			goto out;
		}
	} else if (EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
		/* OpenSSL would default to the SHA-1 KDF (dhSinglePass-stdDH-sha1kdf-scheme). */
		r = sc_fail_ossl(SC_ERR_INTERNAL, "ECDH KDF digest");
		goto out;
	}
	if (!CMS_final(cms, in, NULL, CMS_BINARY)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "CMS encryption of the supplied key");
		goto out;
	}
	*out = cms;
	cms = NULL;
	r = SC_OK;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)der_len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

/* ---- the SP: unwrap ---- */

/*
 * The key wrap under an ECDH recipient: AES key wrap without padding (RFC 3394) only; we
 * produce id-aes256-wrap. OpenSSL 3.0's AES key wrap with padding (RFC 5649) writes past its
 * output buffer when an unwrap fails (found by tests/fuzz, target unwrap), so no other wrap
 * reaches OpenSSL.
 */
static sc_err kari_wrap_ok(CMS_RecipientInfo *ri)
{
	X509_ALGOR *alg = NULL, *wrap = NULL;
	ASN1_OCTET_STRING *ukm = NULL;
	const unsigned char *q;
	int nid = NID_undef;

	if (!CMS_RecipientInfo_kari_get0_alg(ri, &alg, &ukm) || alg == NULL ||
	    alg->parameter == NULL || alg->parameter->type != V_ASN1_SEQUENCE)
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: KeyAgreeRecipientInfo names no key wrap algorithm");
	q = alg->parameter->value.sequence->data;
	if ((wrap = d2i_X509_ALGOR(NULL, &q, alg->parameter->value.sequence->length)) != NULL)
		nid = OBJ_obj2nid(wrap->algorithm);
	X509_ALGOR_free(wrap);
	ERR_clear_error();
	if (nid != NID_id_aes128_wrap && nid != NID_id_aes192_wrap && nid != NID_id_aes256_wrap)
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: key wrap %s not allowed "
		    "(AES key wrap without padding only)",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
	return SC_OK;
}

/* What we accept of a CMS envelope before trying the KEK on it. */
static sc_err envelope_ok(CMS_ContentInfo *cms, int *type_nid)
{
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_RecipientInfo *ri;
	X509_ALGOR *alg = NULL;

	*type_nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (*type_nid != NID_id_smime_ct_authEnvelopedData && *type_nid != NID_pkcs7_enveloped)
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: not AuthEnvelopedData or EnvelopedData");
	ris = CMS_get0_RecipientInfos(cms);
	if (sk_CMS_RecipientInfo_num(ris) != 1)
		return sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: %d recipients, must be 1",
		    sk_CMS_RecipientInfo_num(ris));
	ri = sk_CMS_RecipientInfo_value(ris, 0);
	switch (CMS_RecipientInfo_type(ri)) {
	case CMS_RECIPINFO_TRANS:
		/* No PKCS#1 v1.5 key transport: it is an RSA decryption oracle. */
		if (!CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) || alg == NULL ||
		    OBJ_obj2nid(alg->algorithm) != NID_rsaesOaep)
			return sc_fail(SC_ERR_KEY_DECRYPT,
			    "encryptedKey: KeyTransRecipientInfo must use RSAES-OAEP");
		return SC_OK;
	case CMS_RECIPINFO_AGREE: return kari_wrap_ok(ri);
	default:
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: recipient is neither KeyTrans (RSA) nor KeyAgree (ECDH)");
	}
}

sc_err sc_profile_unwrap_key(const struct sc_profile *p, EVP_PKEY *kek_key, X509 *kek_cert,
    EVP_PKEY **out)
{
	sc_err r = SC_ERR_INTERNAL;
	unsigned char *cms_der = NULL, buf[1024];
	const unsigned char *q;
	int cms_len, type_nid, cipher_nid, n;
	CMS_ContentInfo *cms = NULL;
	BIO *cont = NULL, *plain = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	BUF_MEM *pm = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;

	if (out == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_unwrap_key: missing argument");
	*out = NULL;
	if (p == NULL || kek_key == NULL || kek_cert == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_unwrap_key: missing argument");
	if (p->sp->tbsProfile->key->type != SC_KEY_SPEC_SUPPLIED || p->info.supplied_pub == NULL)
		return sc_fail(SC_ERR_USAGE, "the profile asks the device to generate its key");

	/*
	 * Re-decode the envelope on its own: d2i_CMS_ContentInfo wires up the library context
	 * of every RecipientInfo, which an envelope decoded inside our template lacks.
	 */
	cms_len = i2d_CMS_ContentInfo(p->sp->tbsProfile->key->value.supplied->encryptedKey,
	    &cms_der);
	q = cms_der;
	if (cms_len <= 0 || (cms = d2i_CMS_ContentInfo(NULL, &q, cms_len)) == NULL) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: CMS does not decode");
		goto out;
	}
	if ((r = envelope_ok(cms, &type_nid)) != SC_OK)
		goto out;
	if (!CMS_decrypt_set1_pkey_and_peer(cms, kek_key, kek_cert, NULL)) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: not for this key-exchange key");
		goto out;
	}
	/* Decrypt by hand (as CMS_decrypt does) to see the content cipher before trusting it. */
	if ((cont = CMS_dataInit(cms, NULL)) == NULL || BIO_method_type(cont) != BIO_TYPE_CIPHER ||
	    BIO_get_cipher_ctx(cont, &cctx) <= 0 || cctx == NULL) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: does not decrypt");
		goto out;
	}
	cipher_nid = EVP_CIPHER_CTX_get_nid(cctx);
	if (!(type_nid == NID_id_smime_ct_authEnvelopedData && cipher_nid == NID_aes_256_gcm) &&
	    !(type_nid == NID_pkcs7_enveloped && cipher_nid == NID_aes_256_cbc)) {
		r = sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: content encryption %s not allowed "
		    "(AES-256-GCM or AES-256-CBC only)",
		    OBJ_nid2sn(cipher_nid));
		goto out;
	}
	/* Secure-heap memory BIO: cleared when freed. */
	if ((plain = BIO_new(BIO_s_secmem())) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "encryptedKey: plaintext buffer");
		goto out;
	}
	for (;;) {
		n = BIO_read(cont, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (BIO_write(plain, buf, n) != n) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "encryptedKey: plaintext buffer");
			goto out;
		}
		BIO_get_mem_ptr(plain, &pm);
		if (pm->length > UNWRAP_PLAINTEXT_MAX) {
			r = sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: plaintext over %d bytes",
			    UNWRAP_PLAINTEXT_MAX);
			goto out;
		}
	}
	/* For GCM this is where the tag is checked; for CBC the padding. */
	if (n < 0 || BIO_get_cipher_status(cont) <= 0) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: does not decrypt with this key");
		goto out;
	}
	BIO_get_mem_ptr(plain, &pm);
	q = (const unsigned char *)pm->data;
	if (pm->length == 0 || pm->length > UNWRAP_PLAINTEXT_MAX ||
	    (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)pm->length)) == NULL ||
	    q != (const unsigned char *)pm->data + pm->length ||
	    (key = EVP_PKCS82PKEY(p8)) == NULL) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: plaintext is not one PKCS#8 key");
		goto out;
	}
	if (EVP_PKEY_eq(key, p->info.supplied_pub) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_KEY_MISMATCH,
		    "encryptedKey: the key is not tbsProfile.key.supplied.publicKey");
		goto out;
	}
	if (sc_alg_of_key(key) == SC_ALG_NONE) {
		r = sc_fail(SC_ERR_ALGORITHM,
		    "encryptedKey: not RSA-2048/3072/4096, P-256, P-384 "
		    "or Ed25519");
		goto out;
	}
	*out = key;
	key = NULL;
	r = SC_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(plain);
	BIO_free_all(cont);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(cms_der);
	return r;
}
