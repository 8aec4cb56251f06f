// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_key.c — the TPM backend's keys and private operations (backend.h): each key is a TPM
 * object under the storage key, kept as its blobs and a random auth value; every use loads it,
 * runs one command on the chip and flushes it (at most storage key + CSK + one more loaded).
 */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "file.h"
#include "profile_key.h"
#include "tpm_key.h"

static const char *alg_label(enum sc_alg alg)
{
	switch (alg) {
	case SC_ALG_RSA2048: return "RSA-2048";
	case SC_ALG_RSA3072: return "RSA-3072";
	case SC_ALG_RSA4096: return "RSA-4096";
	case SC_ALG_P256: return "P-256";
	case SC_ALG_P384: return "P-384";
	case SC_ALG_ED25519: return "Ed25519";
	default: return "this algorithm";
	}
}

/* What TPM 2.0 chips (and swtpm 0.7) hold: P-256, P-384, RSA-2048, RSA-3072. */
static sc_err alg_supported(enum sc_alg alg)
{
	if (alg == SC_ALG_P256 || alg == SC_ALG_P384 || alg == SC_ALG_RSA2048 ||
	    alg == SC_ALG_RSA3072)
		return SC_OK;
	return sc_fail(SC_ERR_ALGORITHM,
	    "the tpm backend cannot hold %s keys (P-256, P-384, RSA-2048, RSA-3072 only)",
	    alg_label(alg));
}

void spd_tpm_key_free(struct spd_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	EVP_PKEY_free(k->factory);
	OPENSSL_secure_clear_free(k, sizeof(*k));
}

/* The public half as an OpenSSL key, from the TPM's public area (checked against alg). */
static sc_err public_of(const TPMT_PUBLIC *t, enum sc_alg alg, EVP_PKEY **out)
{
	sc_err r = SC_ERR_INTERNAL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t point[1 + 2 * 48];
	int rsa = sc_alg_is_rsa(alg);

	*out = NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "key");
		goto out;
	}
	if (rsa) {
		unsigned bits = alg == SC_ALG_RSA2048 ? 2048 : 3072;
		if (t->type != TPM2_ALG_RSA || t->parameters.rsaDetail.keyBits != bits ||
		    t->unique.rsa.size != bits / 8 ||
		    (t->parameters.rsaDetail.exponent != 0 &&
		        t->parameters.rsaDetail.exponent != 65537)) {
			r = sc_fail(SC_ERR_MALFORMED, "not a %s TPM key", alg_label(alg));
			goto out;
		}
		n = BN_bin2bn(t->unique.rsa.buffer, t->unique.rsa.size, NULL);
		e = BN_new();
		if (n == NULL || e == NULL || BN_set_word(e, 65537) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1) {
			r = sc_fail_ossl(SC_ERR_NOMEM, "key");
			goto out;
		}
	} else {
		size_t fl = alg == SC_ALG_P256 ? 32 : 48;
		TPM2_ECC_CURVE curve = alg == SC_ALG_P256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
		const TPMS_ECC_POINT *q = &t->unique.ecc;
		if (alg != SC_ALG_P256 && alg != SC_ALG_P384) {
			r = sc_fail(SC_ERR_ALGORITHM, "not a TPM algorithm");
			goto out;
		}
		if (t->type != TPM2_ALG_ECC || t->parameters.eccDetail.curveID != curve ||
		    q->x.size > fl || q->y.size > fl) {
			r = sc_fail(SC_ERR_MALFORMED, "not a %s TPM key", alg_label(alg));
			goto out;
		}
		memset(point, 0, sizeof(point));
		point[0] = 0x04;
		memcpy(point + 1 + fl - q->x.size, q->x.buffer, q->x.size);
		memcpy(point + 1 + 2 * fl - q->y.size, q->y.buffer, q->y.size);
		if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		        alg == SC_ALG_P256 ? "P-256" : "P-384", 0) != 1 ||
		    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
		        1 + 2 * fl) != 1) {
			r = sc_fail_ossl(SC_ERR_NOMEM, "key");
			goto out;
		}
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, "the TPM key's public part does not decode");
		goto out;
	}
	r = SC_OK;
out:
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* version | TPM2B_PUBLIC | TPM2B_PRIVATE | TPM2B_AUTH: the bytes the store seals. */
static sc_err encode_blob(struct spd_key *k)
{
	size_t off = 1;

	k->blob[0] = BLOB_VERSION;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&k->pub, k->blob, sizeof(k->blob), &off) !=
	        TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&k->priv, k->blob, sizeof(k->blob), &off) !=
	        TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_AUTH_Marshal(&k->auth, k->blob, sizeof(k->blob), &off) != TSS2_RC_SUCCESS)
		return sc_fail(SC_ERR_INTERNAL, "tpm: encoding a key blob");
	k->blob_len = off;
	return SC_OK;
}

sc_err spd_tpm_key_finish(struct spd_key *k)
{
	sc_err r;

	if ((r = public_of(&k->pub.publicArea, k->alg, &k->pkey)) != SC_OK)
		return r;
	return encode_blob(k);
}

/* The object's uses from the certificate's KU_* bits (0: sign), beside base attributes. */
static TPMA_OBJECT uses_of(unsigned ku)
{
	TPMA_OBJECT a = 0;

	if (ku == 0 ||
	    (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
		a |= TPMA_OBJECT_SIGN_ENCRYPT;
	if (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | KU_KEY_AGREEMENT))
		a |= TPMA_OBJECT_DECRYPT;
	return a;
}

/* A public area for alg: unrestricted, any scheme, attributes a. */
static void template_of(enum sc_alg alg, TPMA_OBJECT a, TPMT_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->nameAlg = TPM2_ALG_SHA256;
	t->objectAttributes = a;
	if (sc_alg_is_rsa(alg)) {
		t->type = TPM2_ALG_RSA;
		t->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		t->parameters.rsaDetail.keyBits = alg == SC_ALG_RSA2048 ? 2048 : 3072;
	} else {
		t->type = TPM2_ALG_ECC;
		t->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		t->parameters.eccDetail.curveID = alg == SC_ALG_P256 ? TPM2_ECC_NIST_P256
		                                                     : TPM2_ECC_NIST_P384;
		t->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
}

/* big-endian bytes of a key's BIGNUM parameter, left-padded to len */
static int bn_param(const EVP_PKEY *k, const char *name, uint8_t *out, size_t len)
{
	BIGNUM *bn = NULL;
	int ok = EVP_PKEY_get_bn_param(k, name, &bn) == 1 &&
	    BN_bn2binpad(bn, out, (int)len) == (int)len;

	BN_clear_free(bn);
	return ok;
}

/*
 * TPM2_Import with an inner wrapper and no outer one (TPM 2.0 Part 1, 23.3.2.3): the key's
 * TPM2B_SENSITIVE with innerIntegrity = SHA-256(sensitive || Name), AES-128-CFB (IV 0) under a
 * fresh key that travels as TPM2_Import's first parameter, encrypted by the salted session, so
 * the clear key never crosses the bus. fixedTPM/fixedParent stay clear (Import needs that) and
 * the authPolicy empty, so the object can never be duplicated (Duplicate needs a policy).
 */
sc_err spd_tpm_key_import(EVP_PKEY *priv, unsigned ku, struct spd_key **out)
{
	const TPMT_SYM_DEF_OBJECT sym = { .algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB };
	const TPM2B_ENCRYPTED_SECRET no_seed = { 0 };
	TPM2B_SENSITIVE sens;
	TPM2B_DATA enc_key = { .size = 16 };
	TPM2B_PRIVATE dup = { 0 };
	TPM2B_PRIVATE *outp = NULL;
	uint8_t buf[sizeof(TPM2B_SENSITIVE) + 2 + 64], name[2 + 32], tpub[sizeof(TPMT_PUBLIC)];
	size_t off = 0, tpub_len = 0, sens_len;
	unsigned char *enc = NULL;
	size_t enc_len, fl;
	struct spd_key *k = NULL;
	EVP_CIPHER_CTX *c = NULL;
	EVP_MD_CTX *m = NULL;
	enum sc_alg alg = sc_alg_of_key(priv);
	unsigned hl = 0;
	int n = 0, n2 = 0;
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;

	*out = NULL;
	memset(&sens, 0, sizeof(sens));
	if ((r = alg_supported(alg)) != SC_OK)
		return r;
	if (spd_tpm_esys() == NULL)
		return sc_fail(SC_ERR_TPM, "no TPM connection");
	if ((k = OPENSSL_secure_zalloc(sizeof(*k))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key");
	k->alg = alg;
	k->auth.size = AUTH_LEN;
	template_of(alg, TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | uses_of(ku),
	    &k->pub.publicArea);
	sens.sensitiveArea.authValue = k->auth;
	sens.sensitiveArea.seedValue.size = 32;
	if (RAND_priv_bytes(k->auth.buffer, AUTH_LEN) != 1 ||
	    RAND_priv_bytes(sens.sensitiveArea.seedValue.buffer, 32) != 1 ||
	    RAND_priv_bytes(enc_key.buffer, enc_key.size) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "RAND_priv_bytes");
		goto out;
	}
	sens.sensitiveArea.authValue = k->auth;
	if (sc_alg_is_rsa(alg)) {
		TPM2B_PUBLIC_KEY_RSA *nn = &k->pub.publicArea.unique.rsa;
		fl = k->pub.publicArea.parameters.rsaDetail.keyBits / 8;
		sens.sensitiveArea.sensitiveType = TPM2_ALG_RSA;
		nn->size = (UINT16)fl;
		sens.sensitiveArea.sensitive.rsa.size = (UINT16)(fl / 2);
		if (!bn_param(priv, OSSL_PKEY_PARAM_RSA_N, nn->buffer, fl) ||
		    !bn_param(priv, OSSL_PKEY_PARAM_RSA_FACTOR1,
		        sens.sensitiveArea.sensitive.rsa.buffer, fl / 2)) {
			r = sc_fail_ossl(SC_ERR_ALGORITHM, "import: not an RSA key the TPM takes");
			goto out;
		}
	} else {
		TPMS_ECC_POINT *q = &k->pub.publicArea.unique.ecc;
		fl = alg == SC_ALG_P256 ? 32 : 48;
		sens.sensitiveArea.sensitiveType = TPM2_ALG_ECC;
		enc_len = EVP_PKEY_get1_encoded_public_key(priv, &enc);
		if (enc_len != 1 + 2 * fl || enc[0] != 0x04 ||
		    !bn_param(priv, OSSL_PKEY_PARAM_PRIV_KEY,
		        sens.sensitiveArea.sensitive.ecc.buffer, fl)) {
			r = sc_fail_ossl(SC_ERR_ALGORITHM, "import: not an EC key the TPM takes");
			goto out;
		}
		sens.sensitiveArea.sensitive.ecc.size = (UINT16)fl;
		q->x.size = q->y.size = (UINT16)fl;
		memcpy(q->x.buffer, enc + 1, fl);
		memcpy(q->y.buffer, enc + 1 + fl, fl);
	}
	/* Name = nameAlg || SHA-256(TPMT_PUBLIC) */
	if (Tss2_MU_TPMT_PUBLIC_Marshal(&k->pub.publicArea, tpub, sizeof(tpub), &tpub_len) !=
	    TSS2_RC_SUCCESS) {
		r = sc_fail(SC_ERR_INTERNAL, "import: encoding the public area");
		goto out;
	}
	name[0] = 0x00;
	name[1] = 0x0b;
	if (EVP_Digest(tpub, tpub_len, name + 2, &hl, EVP_sha256(), NULL) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "import: Name");
		goto out;
	}
	/* buf = TPM2B_DIGEST(innerIntegrity) || TPM2B_SENSITIVE */
	off = 2 + 32;
	if (Tss2_MU_TPM2B_SENSITIVE_Marshal(&sens, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS) {
		r = sc_fail(SC_ERR_INTERNAL, "import: encoding the sensitive area");
		goto out;
	}
	sens_len = off - 34;
	buf[0] = 0;
	buf[1] = 32;
	if ((m = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(m, buf + 34, sens_len) != 1 ||
	    EVP_DigestUpdate(m, name, sizeof(name)) != 1 ||
	    EVP_DigestFinal_ex(m, buf + 2, &hl) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "import: inner integrity");
		goto out;
	}
	if (off > sizeof(dup.buffer) || (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(c, EVP_aes_128_cfb(), NULL, enc_key.buffer, NULL) != 1 ||
	    EVP_EncryptUpdate(c, dup.buffer, &n, buf, (int)off) != 1 ||
	    EVP_EncryptFinal_ex(c, dup.buffer + n, &n2) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "import: inner wrap");
		goto out;
	}
	dup.size = (UINT16)(n + n2);
	rc = Esys_Import(spd_tpm_esys(), spd_tpm_srk(), spd_tpm_session(TPMA_SESSION_DECRYPT),
	    ESYS_TR_NONE, ESYS_TR_NONE, &enc_key, &k->pub, &dup, &no_seed, &sym, &outp);
	if (rc != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: importing the supplied key");
		goto out;
	}
	k->priv = *outp;
	if ((r = public_of(&k->pub.publicArea, alg, &k->pkey)) != SC_OK ||
	    (r = encode_blob(k)) != SC_OK)
		goto out;
	*out = k;
	k = NULL;
	r = SC_OK;
out:
	OPENSSL_cleanse(&sens, sizeof(sens));
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(&enc_key, sizeof(enc_key));
	OPENSSL_cleanse(&dup, sizeof(dup));
	OPENSSL_free(enc);
	EVP_CIPHER_CTX_free(c);
	EVP_MD_CTX_free(m);
	Esys_Free(outp);
	spd_tpm_key_free(k);
	return r;
}

sc_err spd_tpm_key_create(const struct spd_backend *be, enum sc_alg alg, unsigned ku,
    struct spd_key **out)
{
	TPM2B_PUBLIC tmpl = { 0 };
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA empty_data = { 0 };
	const TPML_PCR_SELECTION no_pcrs = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	TPMT_PUBLIC *t = &tmpl.publicArea;
	struct spd_key *k = NULL;
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;

	(void)be;
	*out = NULL;
	if ((r = alg_supported(alg)) != SC_OK)
		return r;
	if (spd_tpm_esys() == NULL)
		return sc_fail(SC_ERR_TPM, "no TPM connection");
	/* Made inside, never to leave: no duplication (fixedParent), no policy, no DA lockout.
	 * The certificate's uses become the chip's: sign and/or decrypt (ECDH, OAEP). */
	template_of(alg,
	    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	        TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | uses_of(ku),
	    t);
	if ((k = OPENSSL_secure_zalloc(sizeof(*k))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "key");
		goto out;
	}
	k->alg = alg;
	k->auth.size = AUTH_LEN;
	if (RAND_priv_bytes(k->auth.buffer, AUTH_LEN) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "RAND_priv_bytes");
		goto out;
	}
	sens.sensitive.userAuth = k->auth;
	/* The auth value travels encrypted (the session's decrypt attribute). */
	rc = Esys_Create(spd_tpm_esys(), spd_tpm_srk(), spd_tpm_session(TPMA_SESSION_DECRYPT),
	    ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &empty_data, &no_pcrs, &priv, &pub, NULL,
	    NULL, NULL);
	OPENSSL_cleanse(&sens, sizeof(sens));
	if (rc != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: creating a key");
		goto out;
	}
	k->pub = *pub;
	k->priv = *priv;
	if ((r = public_of(&k->pub.publicArea, alg, &k->pkey)) != SC_OK ||
	    (r = encode_blob(k)) != SC_OK)
		goto out;
	*out = k;
	k = NULL;
	r = SC_OK;
out:
	Esys_Free(priv);
	Esys_Free(pub);
	spd_tpm_key_free(k);
	return r;
}

sc_err spd_tpm_key_load(const struct spd_backend *be, enum sc_alg alg, const uint8_t *blob,
    size_t len, const char *what, struct spd_key **out)
{
	const TPMA_OBJECT must = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_USERWITHAUTH;
	struct spd_key *k = NULL;
	size_t off = 1;
	sc_err r = SC_ERR_INTERNAL;
	TPMA_OBJECT a;

	(void)be;
	*out = NULL;
	if ((r = alg_supported(alg)) != SC_OK)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: %s", what, sc_err_detail());
	if ((k = OPENSSL_secure_zalloc(sizeof(*k))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key");
	k->alg = alg;
	if (len < 1 || len > sizeof(k->blob) || blob[0] != BLOB_VERSION ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, len, &off, &k->pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, len, &off, &k->priv) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_AUTH_Unmarshal(blob, len, &off, &k->auth) != TSS2_RC_SUCCESS ||
	    off != len || k->auth.size != AUTH_LEN) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: not a TPM key blob", what);
		goto out;
	}
	a = k->pub.publicArea.objectAttributes;
	/* Made inside (must, and sensitiveDataOrigin), or imported (embodiment 2): never both. */
	if ((a & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)) == 0 &&
	    !(a & TPMA_OBJECT_SENSITIVEDATAORIGIN) && k->pub.publicArea.authPolicy.size == 0)
		a |= TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
	/* An operator-gated CSK (tpm_gate.c): policy only, so userWithAuth is clear. */
	if (spd_tpm_key_gated(k))
		a |= TPMA_OBJECT_USERWITHAUTH;
	if ((a & must) != must || (a & TPMA_OBJECT_RESTRICTED) ||
	    !(a & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT)) ||
	    k->pub.publicArea.nameAlg != TPM2_ALG_SHA256) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: TPM key attributes 0x%08x", what,
		    (unsigned)a);
		goto out;
	}
	if ((r = public_of(&k->pub.publicArea, alg, &k->pkey)) != SC_OK) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: %s", what, sc_err_detail());
		goto out;
	}
	memcpy(k->blob, blob, len);
	k->blob_len = len;
	*out = k;
	k = NULL;
	r = SC_OK;
out:
	spd_tpm_key_free(k);
	return r;
}

void spd_tpm_key_blob(const struct spd_key *k, const uint8_t **blob, size_t *len)
{
	*blob = k->blob;
	*len = k->blob_len;
}

enum sc_alg spd_tpm_key_alg(const struct spd_key *k)
{
	return k->alg;
}

EVP_PKEY *spd_tpm_key_public(const struct spd_key *k)
{
	return k->pkey;
}

/* Load k under the storage key, with its auth value set; the caller flushes *h. */
sc_err spd_tpm_load(const struct spd_key *k, ESYS_TR *h)
{
	TSS2_RC rc;

	*h = ESYS_TR_NONE;
	if (spd_tpm_esys() == NULL)
		return sc_fail(SC_ERR_TPM, "no TPM connection");
	rc = Esys_Load(spd_tpm_esys(), spd_tpm_srk(), spd_tpm_session(0), ESYS_TR_NONE,
	    ESYS_TR_NONE, &k->priv, &k->pub, h);
	if (rc != TSS2_RC_SUCCESS) {
		*h = ESYS_TR_NONE;
		return spd_tpm_fail(rc, "tpm: loading a key (another TPM, or a cleared one?)");
	}
	(void)Esys_TR_SetAuth(spd_tpm_esys(), *h, &k->auth);
	return SC_OK;
}

void spd_tpm_flush(ESYS_TR h)
{
	if (h != ESYS_TR_NONE)
		(void)Esys_FlushContext(spd_tpm_esys(), h);
}

TPM2_ALG_ID spd_tpm_hash_alg(const EVP_MD *md)
{
	switch (md != NULL ? EVP_MD_get_type(md) : NID_undef) {
	case NID_sha1: return TPM2_ALG_SHA1;
	case NID_sha256: return TPM2_ALG_SHA256;
	case NID_sha384: return TPM2_ALG_SHA384;
	case NID_sha512: return TPM2_ALG_SHA512;
	default: return TPM2_ALG_NULL;
	}
}

/*
 * TPM2_Sign of a digest: scheme RSASSA, RSAPSS or ECDSA; the signature as X.509 wants it (RSA
 * bytes, or a DER ECDSA-Sig-Value). *sig is the caller's (OPENSSL_free).
 */
sc_err spd_tpm_sign_digest(const struct spd_key *k, ESYS_TR sess, TPM2_ALG_ID scheme,
    const EVP_MD *md, const uint8_t *dg, size_t dg_len, uint8_t **sig, size_t *sig_len)
{
	TPMT_SIG_SCHEME s = { .scheme = scheme };
	const TPMT_TK_HASHCHECK ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPM2B_DIGEST digest = { 0 };
	TPMT_SIGNATURE *out = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *p = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;
	int n;

	*sig = NULL;
	*sig_len = 0;
	s.details.any.hashAlg = spd_tpm_hash_alg(md);
	if (s.details.any.hashAlg == TPM2_ALG_NULL || dg_len != (size_t)EVP_MD_get_size(md) ||
	    dg_len > sizeof(digest.buffer))
		return sc_fail(SC_ERR_ALGORITHM,
		    "sign: the tpm backend signs SHA-1/2 digests only");
	digest.size = (UINT16)dg_len;
	memcpy(digest.buffer, dg, dg_len);
	if ((r = spd_tpm_load(k, &h)) != SC_OK)
		return r;
	rc = Esys_Sign(spd_tpm_esys(), h, sess != ESYS_TR_NONE ? sess : spd_tpm_session(0),
	    ESYS_TR_NONE, ESYS_TR_NONE, &digest, &s, &ticket, &out);
	spd_tpm_flush(h);
	if (rc != TSS2_RC_SUCCESS)
		return spd_tpm_fail(rc, "tpm: signing");
	if (scheme == TPM2_ALG_ECDSA) {
		es = ECDSA_SIG_new();
		br = BN_bin2bn(out->signature.ecdsa.signatureR.buffer,
		    out->signature.ecdsa.signatureR.size, NULL);
		bs = BN_bin2bn(out->signature.ecdsa.signatureS.buffer,
		    out->signature.ecdsa.signatureS.size, NULL);
		if (es == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(es, br, bs) != 1) {
			BN_free(br);
			BN_free(bs);
			r = sc_fail_ossl(SC_ERR_NOMEM, "sign: ECDSA signature");
			goto out;
		}
		if ((n = i2d_ECDSA_SIG(es, &p)) <= 0) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "sign: ECDSA signature");
			goto out;
		}
		*sig = p;
		*sig_len = (size_t)n;
	} else {
		const TPM2B_PUBLIC_KEY_RSA *rs = &out->signature.rsassa.sig;
		if ((*sig = OPENSSL_memdup(rs->buffer, rs->size)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "sign");
			goto out;
		}
		*sig_len = rs->size;
	}
	r = SC_OK;
out:
	ECDSA_SIG_free(es);
	Esys_Free(out);
	return r;
}

/*
 * Every signature but a gated issuance's: a gated CSK signs only under a policy (tpm_gate.c),
 * which here means its one factory signature (the CSR at KEYGEN); anything else is refused
 * before the TPM is asked, with the error a host can act on.
 */
static sc_err sign_any(const struct spd_key *k, TPM2_ALG_ID scheme, const EVP_MD *md,
    const uint8_t *dg, size_t dg_len, uint8_t **sig, size_t *sig_len)
{
	if (spd_tpm_key_gated(k))
		return spd_tpm_gate_factory_sign(k, scheme, md, dg, dg_len, sig, sig_len);
	return spd_tpm_sign_digest(k, ESYS_TR_NONE, scheme, md, dg, dg_len, sig, sig_len);
}

static sc_err digest_of(const EVP_MD *md, const uint8_t *in, size_t in_len, uint8_t *dg,
    size_t *dg_len)
{
	unsigned n = 0;

	if (EVP_Digest(in, in_len, dg, &n, md, NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "digest");
	*dg_len = n;
	return SC_OK;
}

sc_err spd_tpm_sign(const struct spd_key *k, enum spd_sign_mode mode, const EVP_MD *md,
    uint32_t salt_len, const uint8_t *in, size_t in_len, uint8_t **sig, size_t *sig_len)
{
	uint8_t dg[EVP_MAX_MD_SIZE];
	size_t dg_len = 0;
	EVP_PKEY_CTX *v = NULL;
	int rsa = sc_alg_is_rsa(k->alg);
	sc_err r;

	*sig = NULL;
	*sig_len = 0;
	if (mode == SPD_SIGN_MESSAGE) {
		if ((r = digest_of(md, in, in_len, dg, &dg_len)) != SC_OK)
			return r;
		return sign_any(k, rsa ? TPM2_ALG_RSASSA : TPM2_ALG_ECDSA, md, dg, dg_len, sig,
		    sig_len);
	}
	if (mode == SPD_SIGN_DIGEST)
		return sign_any(k, rsa ? TPM2_ALG_RSASSA : TPM2_ALG_ECDSA, md, in, in_len, sig,
		    sig_len);
	/* PSS: TPMs salt with the digest's length (TLS 1.3's rule); other salts cannot be made. */
	if (salt_len != (uint32_t)EVP_MD_get_size(md))
		return sc_fail(SC_ERR_ALGORITHM,
		    "sign: the tpm backend makes RSA-PSS with a salt as long as the digest only");
	if ((r = sign_any(k, TPM2_ALG_RSAPSS, md, in, in_len, sig, sig_len)) != SC_OK)
		return r;
	/* Older chips salt with the maximum: that signature would fail TLS 1.3 peers. */
	if ((v = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL || EVP_PKEY_verify_init(v) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(v, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(v, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(v, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	    EVP_PKEY_verify(v, *sig, *sig_len, in, in_len) != 1) {
		ERR_clear_error();
		OPENSSL_free(*sig);
		*sig = NULL;
		*sig_len = 0;
		r = sc_fail(SC_ERR_TPM, "sign: the TPM's RSA-PSS salt is not the digest's length");
	}
	EVP_PKEY_CTX_free(v);
	return r;
}

/* The X.509 signature algorithm for k with md: RSA PKCS#1 v1.5 (NULL parameters) or ECDSA. */
static sc_err set_sigalg(const struct spd_key *k, const EVP_MD *md, X509_ALGOR *a)
{
	int nid = NID_undef;

	if (a == NULL ||
	    OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md),
	        sc_alg_is_rsa(k->alg) ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey) != 1 ||
	    X509_ALGOR_set0(a, OBJ_nid2obj(nid), sc_alg_is_rsa(k->alg) ? V_ASN1_NULL : V_ASN1_UNDEF,
	        NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "signature algorithm");
	return SC_OK;
}

sc_err spd_tpm_set_bits(const ASN1_BIT_STRING *cbs, const uint8_t *sig, size_t sig_len)
{
	ASN1_BIT_STRING *bs = (ASN1_BIT_STRING *)cbs; /* OpenSSL 3.0 has no setter for it */

	if (bs == NULL || ASN1_BIT_STRING_set(bs, (unsigned char *)sig, (int)sig_len) != 1)
		return sc_fail_ossl(SC_ERR_NOMEM, "signature");
	bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	return SC_OK;
}

/*
 * The leaf certificate: libselfcert's unsigned TBS (the same builder and checks as
 * sc_cert_issue_leaf), TPM2_Sign of its digest with the CSK, SEQUENCE{TBS, algId, sig}; then
 * parsed again and verified under the CSK before anything is committed.
 */
sc_err spd_tpm_issue_leaf(const struct spd_key *csk, const struct sc_profile *p, EVP_PKEY *leaf_pub,
    X509 *csk_cert, uint64_t serial, X509 **cert, uint8_t **der, size_t *der_len, unsigned *ku)
{
	struct sc_profile_info info;
	const X509_ALGOR *palg = NULL;
	const EVP_MD *md;
	X509 *x = NULL;
	unsigned char *tbs = NULL;
	uint8_t dg[EVP_MAX_MD_SIZE], *sig = NULL;
	size_t dg_len = 0, sig_len = 0;
	int n;
	sc_err r = SC_ERR_INTERNAL;

	*cert = NULL;
	*ku = 0;     /* *cert is set: the caller reads it there (backend.h) */
	*der = NULL; /* the caller encodes *cert (backend.h) */
	*der_len = 0;
	if (csk == NULL || csk_cert == NULL)
		return sc_fail(SC_ERR_USAGE, "issue: no CSK");
	if (EVP_PKEY_eq(X509_get0_pubkey(csk_cert), csk->pkey) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_USAGE, "issuer key does not match the issuer certificate");
	}
	if ((r = sc_cert_expected_leaf(p, leaf_pub, csk_cert, serial, &x)) != SC_OK)
		return r;
	sc_profile_get_info(p, &info);
	md = sc_sign_md(csk->pkey, info.cert_digest);
	X509_get0_signature(NULL, &palg, x);
	if ((r = set_sigalg(csk, md, (X509_ALGOR *)X509_get0_tbs_sigalg(x))) != SC_OK ||
	    (r = set_sigalg(csk, md, (X509_ALGOR *)palg)) != SC_OK)
		goto out;
	if ((n = i2d_re_X509_tbs(x, &tbs)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "issue: encoding the TBS certificate");
		goto out;
	}
	if ((r = digest_of(md, tbs, (size_t)n, dg, &dg_len)) != SC_OK ||
	    (r = sign_any(csk, sc_alg_is_rsa(csk->alg) ? TPM2_ALG_RSASSA : TPM2_ALG_ECDSA, md, dg,
	         dg_len, &sig, &sig_len)) != SC_OK)
		goto out;
	r = spd_tpm_cert_finish(x, csk, sig, sig_len, cert);
out:
	X509_free(x);
	OPENSSL_free(tbs);
	OPENSSL_free(sig);
	return r;
}

sc_err spd_tpm_cert_finish(X509 *x, const struct spd_key *csk, const uint8_t *sig, size_t sig_len,
    X509 **cert)
{
	const ASN1_BIT_STRING *psig = NULL;
	unsigned char *der = NULL;
	const unsigned char *q;
	X509 *y = NULL;
	int n;
	sc_err r;

	*cert = NULL;
	X509_get0_signature(&psig, NULL, x);
	if ((r = spd_tpm_set_bits(psig, sig, sig_len)) != SC_OK)
		goto out;
	if ((n = i2d_X509(x, &der)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "issue: encoding the certificate");
		goto out;
	}
	q = der;
	if ((y = d2i_X509(NULL, &q, n)) == NULL || q != der + n || X509_verify(y, csk->pkey) != 1) {
		r = sc_fail_ossl(SC_ERR_TPM, "issue: the TPM-signed certificate does not verify");
		goto out;
	}
	*cert = y;
	y = NULL;
	r = SC_OK;
out:
	X509_free(y);
	OPENSSL_free(der);
	return r;
}

sc_err spd_tpm_csr(const struct spd_key *k, uint8_t **der, size_t *der_len)
{
	const ASN1_BIT_STRING *psig = NULL;
	const X509_ALGOR *palg = NULL;
	const EVP_MD *md = sc_sign_md(k->pkey, SC_DIGEST_NONE);
	X509_REQ *req = NULL, *y = NULL;
	unsigned char *tbs = NULL, *p = NULL;
	const unsigned char *q;
	uint8_t dg[EVP_MAX_MD_SIZE], *sig = NULL;
	size_t dg_len = 0, sig_len = 0;
	int n;
	sc_err r = SC_ERR_INTERNAL;

	*der = NULL;
	*der_len = 0;
	if ((req = X509_REQ_new()) == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(req, k->pkey) != 1) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "certificate request");
		goto out;
	}
	X509_REQ_get0_signature(req, &psig, &palg);
	if ((r = set_sigalg(k, md, (X509_ALGOR *)palg)) != SC_OK)
		goto out;
	if ((n = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "certificate request");
		goto out;
	}
	if ((r = digest_of(md, tbs, (size_t)n, dg, &dg_len)) != SC_OK ||
	    (r = sign_any(k, sc_alg_is_rsa(k->alg) ? TPM2_ALG_RSASSA : TPM2_ALG_ECDSA, md, dg,
	         dg_len, &sig, &sig_len)) != SC_OK ||
	    (r = spd_tpm_set_bits(psig, sig, sig_len)) != SC_OK)
		goto out;
	if ((n = i2d_X509_REQ(req, &p)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "certificate request");
		goto out;
	}
	q = p;
	if ((y = d2i_X509_REQ(NULL, &q, n)) == NULL || q != p + n ||
	    X509_REQ_verify(y, k->pkey) != 1) {
		r = sc_fail_ossl(SC_ERR_TPM, "the TPM-signed certificate request does not verify");
		goto out;
	}
	*der = p;
	*der_len = (size_t)n;
	p = NULL;
	r = SC_OK;
out:
	X509_REQ_free(req);
	X509_REQ_free(y);
	OPENSSL_free(tbs);
	OPENSSL_free(p);
	OPENSSL_free(sig);
	return r;
}

sc_err spd_tpm_decrypt_oaep(const struct spd_key *k, const EVP_MD *md, const EVP_MD *mgf1,
    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t *out_len)
{
	TPMT_RSA_DECRYPT scheme = { .scheme = TPM2_ALG_OAEP };
	TPM2B_PUBLIC_KEY_RSA ct = { 0 };
	TPM2B_DATA lab = { 0 };
	TPM2B_PUBLIC_KEY_RSA *msg = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	sc_err r;
	TSS2_RC rc;

	scheme.details.oaep.hashAlg = spd_tpm_hash_alg(md);
	/* The TPM's OAEP uses its hash for MGF1 too, and a label that ends in a NUL byte. */
	if (scheme.details.oaep.hashAlg == TPM2_ALG_NULL || mgf1 == NULL ||
	    EVP_MD_get_type(mgf1) != EVP_MD_get_type(md))
		return sc_fail(SC_ERR_ALGORITHM,
		    "decrypt: the tpm backend does RSA-OAEP with MGF1 of the OAEP hash only");
	if (label_len > 0 && (label[label_len - 1] != 0 || label_len > sizeof(lab.buffer)))
		return sc_fail(SC_ERR_ALGORITHM,
		    "decrypt: the tpm backend takes OAEP labels of at most %zu bytes that end in "
		    "a NUL byte",
		    sizeof(lab.buffer));
	if (in_len > sizeof(ct.buffer))
		return sc_fail(SC_ERR_KEY_DECRYPT, "decrypt: the ciphertext does not decrypt");
	ct.size = (UINT16)in_len;
	memcpy(ct.buffer, in, in_len);
	lab.size = (UINT16)label_len;
	if (label_len > 0)
		memcpy(lab.buffer, label, label_len);
	if ((r = spd_tpm_load(k, &h)) != SC_OK)
		return r;
	rc = Esys_RSA_Decrypt(spd_tpm_esys(), h, spd_tpm_session(TPMA_SESSION_ENCRYPT),
	    ESYS_TR_NONE, ESYS_TR_NONE, &ct, &scheme, &lab, &msg);
	spd_tpm_flush(h);
	/* One answer for every way a block can fail (TPM_RC_FAILURE included): no oracle. */
	if (rc != TSS2_RC_SUCCESS || msg->size > *out_len) {
		Esys_Free(msg);
		*out_len = 0;
		if (rc != TSS2_RC_SUCCESS && (rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
			return spd_tpm_fail(rc, "tpm: decrypting");
		return sc_fail(SC_ERR_KEY_DECRYPT, "decrypt: the ciphertext does not decrypt");
	}
	memcpy(out, msg->buffer, msg->size);
	*out_len = msg->size;
	OPENSSL_cleanse(msg, sizeof(*msg));
	Esys_Free(msg);
	return SC_OK;
}

sc_err spd_tpm_derive(const struct spd_key *k, EVP_PKEY *peer, uint8_t **secret, size_t *len)
{
	TPM2B_ECC_POINT in = { 0 };
	TPM2B_ECC_POINT *z = NULL;
	EVP_PKEY *up = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	unsigned char *enc = NULL;
	size_t enc_len, fl = k->alg == SC_ALG_P256 ? 32 : 48;
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;

	*secret = NULL;
	*len = 0;
	/* The TPM takes x and y: a peer given compressed is asked for its uncompressed form. */
	if ((up = EVP_PKEY_dup(peer)) == NULL ||
	    EVP_PKEY_set_utf8_string_param(up, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	        OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
		ERR_clear_error();
	enc_len = EVP_PKEY_get1_encoded_public_key(up != NULL ? up : peer, &enc);
	if (enc_len != 1 + 2 * fl || enc[0] != 0x04) {
		r = sc_fail(SC_ERR_MALFORMED, "derive: the peer point is not a valid %s public key",
		    alg_label(k->alg));
		goto out;
	}
	in.point.x.size = in.point.y.size = (UINT16)fl;
	memcpy(in.point.x.buffer, enc + 1, fl);
	memcpy(in.point.y.buffer, enc + 1 + fl, fl);
	if ((r = spd_tpm_load(k, &h)) != SC_OK)
		goto out;
	rc = Esys_ECDH_ZGen(spd_tpm_esys(), h, spd_tpm_session(TPMA_SESSION_ENCRYPT), ESYS_TR_NONE,
	    ESYS_TR_NONE, &in, &z);
	spd_tpm_flush(h);
	if (rc != TSS2_RC_SUCCESS) {
		r = (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER
		    ? sc_fail(SC_ERR_MALFORMED,
		          "derive: the peer point is not a valid %s public key", alg_label(k->alg))
		    : spd_tpm_fail(rc, "tpm: ECDH");
		goto out;
	}
	if (z->point.x.size > fl || (*secret = OPENSSL_zalloc(fl)) == NULL) {
		r = sc_fail(SC_ERR_INTERNAL, "derive: ECDH result");
		goto out;
	}
	memcpy(*secret + fl - z->point.x.size, z->point.x.buffer, z->point.x.size);
	*len = fl;
	r = SC_OK;
out:
	if (z != NULL) {
		OPENSSL_cleanse(z, sizeof(*z));
		Esys_Free(z);
	}
	OPENSSL_free(enc);
	EVP_PKEY_free(up);
	return r;
}

sc_err spd_tpm_key_export(const struct spd_key *k, const char *dir, const char *name)
{
	uint8_t buf[sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC)];
	char path[4096];
	size_t off = 0;
	sc_err r;

	if (snprintf(path, sizeof(path), "%s/%s.pub", dir, name) >= (int)sizeof(path))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&k->pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return sc_fail(SC_ERR_INTERNAL, "tpm: encoding %s", name);
	if ((r = sc_file_write_new(path, buf, off, 0644)) != SC_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%s.priv", dir, name);
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(&k->priv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return sc_fail(SC_ERR_INTERNAL, "tpm: encoding %s", name);
	if ((r = sc_file_write_new(path, buf, off, 0600)) != SC_OK)
		return r;
	/* A gated CSK: its two policy branches too, for tpm2_policyor (docs/TPM.md). */
	return spd_tpm_gate_export(k, dir, name);
}
