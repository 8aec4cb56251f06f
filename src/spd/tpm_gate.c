// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_gate.c — the operator-gated CSK (issue #12, docs/TPM.md "Operator-gated CSK"): a CSK whose
 * only authorization is a TPM policy, PolicyOR of two PolicySigned branches: the network's gate
 * key (fixed at `sp init --operator-gated`), and a throw-away factory key that signs the CSR at
 * KEYGEN and is then forgotten. The chip itself refuses any CSK signature the operator did not
 * sign for that exact command (cpHash) in that exact session (nonceTPM = the gated challenge).
 */
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <selfcert/gate.h>
#include "file.h"
#include "tpm_key.h"

#define CC_POLICY_SIGNED 0x00000160u
#define CC_POLICY_OR 0x00000171u

/* The one outstanding gated challenge: its policy session and nonceTPM (one at a time). */
static ESYS_TR g_sess = ESYS_TR_NONE;
static uint8_t g_nonce[SC_GATE_NONCE_LEN];
/* The network's gate key (DIR/tpm.gate, read at start), or NULL: not gated. */
static EVP_PKEY *g_gate;

int spd_tpm_key_gated(const struct spd_key *k)
{
	TPMA_OBJECT a;

	if (k == NULL)
		return 0;
	a = k->pub.publicArea.objectAttributes;
	return !(a & TPMA_OBJECT_USERWITHAUTH) && (a & TPMA_OBJECT_ADMINWITHPOLICY) &&
	    k->pub.publicArea.authPolicy.size == 32;
}

EVP_PKEY *spd_tpm_gate_key(void)
{
	return g_gate;
}

void spd_tpm_gate_forget(void)
{
	EVP_PKEY_free(g_gate);
	g_gate = NULL;
}

/* A PEM public key or certificate: the gate key, RSA or EC P-256/P-384 (what TPMs verify). */
static sc_err gate_key_read(const char *path, EVP_PKEY **out)
{
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	sc_err r = SC_ERR_INTERNAL;
	int id, bits;

	*out = NULL;
	if ((b = BIO_new_file(path, "r")) == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_IO, "%s: cannot open", path);
		goto out;
	}
	if ((k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) == NULL) {
		ERR_clear_error();
		(void)BIO_reset(b);
		if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
		    (k = X509_get_pubkey(x)) == NULL) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_MALFORMED,
			    "%s: not a PEM public key or certificate (the gate key)", path);
			goto out;
		}
	}
	id = EVP_PKEY_get_base_id(k);
	bits = EVP_PKEY_get_bits(k);
	if (!(id == EVP_PKEY_EC && (bits == 256 || bits == 384)) &&
	    !(id == EVP_PKEY_RSA && bits >= 2048 && bits <= 4096)) {
		r = sc_fail(SC_ERR_ALGORITHM,
		    "%s: the gate key must be P-256, P-384 or RSA-2048..4096", path);
		goto out;
	}
	*out = k;
	k = NULL;
	r = SC_OK;
out:
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(b);
	return r;
}

sc_err spd_tpm_gate_init(const char *dir, const char *gate_path)
{
	char path[4096];
	EVP_PKEY *k = NULL;
	unsigned char *pem = NULL;
	BIO *m = NULL;
	long n;
	sc_err r;

	if ((r = gate_key_read(gate_path, &k)) != SC_OK)
		return r;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		r = sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/tpm.gate", dir) >= (int)sizeof(path)) {
		r = sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
		goto out;
	}
	if ((m = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(m, k) != 1 ||
	    (n = BIO_get_mem_data(m, (char **)&pem)) <= 0) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "tpm.gate");
		goto out;
	}
	r = sc_file_write_new(path, pem, (size_t)n, 0644);
out:
	BIO_free(m);
	EVP_PKEY_free(k);
	return r;
}

sc_err spd_tpm_gate_load(const char *dir)
{
	char path[4096];

	EVP_PKEY_free(g_gate);
	g_gate = NULL;
	if (snprintf(path, sizeof(path), "%s/tpm.gate", dir) >= (int)sizeof(path))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
	if (access(path, F_OK) != 0)
		return SC_OK;
	return gate_key_read(path, &g_gate);
}

/* How LoadExternal sees a public key: sign-only, no scheme, SHA-256 names. */
static sc_err external_public(EVP_PKEY *k, TPM2B_PUBLIC *out)
{
	TPMT_PUBLIC *t = &out->publicArea;
	BIGNUM *n = NULL;
	unsigned char *enc = NULL;
	size_t enc_len, fl;
	sc_err r = SC_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	t->nameAlg = TPM2_ALG_SHA256;
	t->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		int bits = EVP_PKEY_get_bits(k);
		t->type = TPM2_ALG_RSA;
		t->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		t->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
		t->unique.rsa.size = (UINT16)(bits / 8);
		if (bits % 8 != 0 || bits / 8 > (int)sizeof(t->unique.rsa.buffer) ||
		    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
		    BN_bn2binpad(n, t->unique.rsa.buffer, bits / 8) != bits / 8) {
			r = sc_fail_ossl(SC_ERR_ALGORITHM, "gate: an RSA key the TPM cannot take");
			goto out;
		}
	} else {
		fl = EVP_PKEY_get_bits(k) == 256 ? 32 : 48;
		t->type = TPM2_ALG_ECC;
		t->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		t->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		t->parameters.eccDetail.curveID = fl == 32 ? TPM2_ECC_NIST_P256
		                                           : TPM2_ECC_NIST_P384;
		enc_len = EVP_PKEY_get1_encoded_public_key(k, &enc);
		if (enc_len != 1 + 2 * fl || enc[0] != 0x04) {
			r = sc_fail_ossl(SC_ERR_ALGORITHM, "gate: an EC key the TPM cannot take");
			goto out;
		}
		t->unique.ecc.x.size = t->unique.ecc.y.size = (UINT16)fl;
		memcpy(t->unique.ecc.x.buffer, enc + 1, fl);
		memcpy(t->unique.ecc.y.buffer, enc + 1 + fl, fl);
	}
	r = SC_OK;
out:
	BN_free(n);
	OPENSSL_free(enc);
	return r;
}

/* Name = nameAlg (SHA-256) ‖ SHA-256(TPMT_PUBLIC), as the TPM computes it. */
static sc_err name_of(const TPMT_PUBLIC *t, uint8_t name[34])
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t off = 0;
	unsigned n = 0;

	if (Tss2_MU_TPMT_PUBLIC_Marshal(t, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return sc_fail(SC_ERR_INTERNAL, "gate: encoding a public area");
	name[0] = 0x00;
	name[1] = 0x0b;
	if (EVP_Digest(buf, off, name + 2, &n, EVP_sha256(), NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "gate: Name");
	return SC_OK;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* PolicySigned(k, SC_GATE_POLICY_REF) from an empty policy: H(H(0³² ‖ CC ‖ Name) ‖ ref). */
static sc_err branch_of(EVP_PKEY *k, uint8_t out[32])
{
	TPM2B_PUBLIC pub;
	uint8_t b[32 + 4 + 34], t[32 + sizeof(SC_GATE_POLICY_REF) - 1];
	unsigned n = 0;
	sc_err r;

	if ((r = external_public(k, &pub)) != SC_OK)
		return r;
	memset(b, 0, 32);
	put32(b + 32, CC_POLICY_SIGNED);
	if ((r = name_of(&pub.publicArea, b + 36)) != SC_OK)
		return r;
	if (EVP_Digest(b, sizeof(b), t, &n, EVP_sha256(), NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "gate: policy digest");
	memcpy(t + 32, SC_GATE_POLICY_REF, sizeof(SC_GATE_POLICY_REF) - 1);
	if (EVP_Digest(t, sizeof(t), out, &n, EVP_sha256(), NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "gate: policy digest");
	return SC_OK;
}

/* PolicyOR(a, b) from an empty policy: H(0³² ‖ CC_PolicyOR ‖ a ‖ b). */
static sc_err or_of(const uint8_t a[32], const uint8_t b[32], uint8_t out[32])
{
	uint8_t buf[32 + 4 + 64];
	unsigned n = 0;

	memset(buf, 0, 32);
	put32(buf + 32, CC_POLICY_OR);
	memcpy(buf + 36, a, 32);
	memcpy(buf + 68, b, 32);
	if (EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha256(), NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "gate: policy digest");
	return SC_OK;
}

sc_err spd_tpm_csk_create_gated(enum sc_alg alg, struct spd_key **out)
{
	TPM2B_PUBLIC tmpl = { 0 };
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	const TPM2B_DATA empty_data = { 0 };
	const TPML_PCR_SELECTION no_pcrs = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	TPMT_PUBLIC *t = &tmpl.publicArea;
	struct spd_key *k = NULL;
	uint8_t bg[32], bf[32];
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;

	*out = NULL;
	if (g_gate == NULL)
		return sc_fail(SC_ERR_GATE, "keygen: the store has no gate key (DIR/tpm.gate)");
	if (alg != SC_ALG_P256 && alg != SC_ALG_P384 && alg != SC_ALG_RSA2048 &&
	    alg != SC_ALG_RSA3072)
		return sc_fail(SC_ERR_ALGORITHM,
		    "the tpm backend cannot hold this CSK (P-256, P-384, RSA-2048, RSA-3072 only)");
	if (spd_tpm_esys() == NULL)
		return sc_fail(SC_ERR_TPM, "no TPM connection");
	if ((k = OPENSSL_secure_zalloc(sizeof(*k))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key");
	k->alg = alg;
	/* The factory branch's key lives only in this process, until the CSR is signed. */
	if ((k->factory = EVP_EC_gen("P-256")) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "gate: the factory key");
		goto out;
	}
	if ((r = branch_of(g_gate, bg)) != SC_OK || (r = branch_of(k->factory, bf)) != SC_OK)
		goto out;
	/* The blob's auth field keeps the factory branch: PolicyOR needs both digests. */
	k->auth.size = AUTH_LEN;
	memcpy(k->auth.buffer, bf, 32);
	memset(t, 0, sizeof(*t));
	t->nameAlg = TPM2_ALG_SHA256;
	t->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_NODA |
	    TPMA_OBJECT_SIGN_ENCRYPT;
	t->authPolicy.size = 32;
	if ((r = or_of(bg, bf, t->authPolicy.buffer)) != SC_OK)
		goto out;
	if (sc_alg_is_rsa(alg)) {
		t->type = TPM2_ALG_RSA;
		t->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		t->parameters.rsaDetail.keyBits = alg == SC_ALG_RSA2048 ? 2048 : 3072;
	} else {
		t->type = TPM2_ALG_ECC;
		t->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		t->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		t->parameters.eccDetail.curveID = alg == SC_ALG_P256 ? TPM2_ECC_NIST_P256
		                                                     : TPM2_ECC_NIST_P384;
	}
	rc = Esys_Create(spd_tpm_esys(), spd_tpm_srk(), spd_tpm_session(TPMA_SESSION_DECRYPT),
	    ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &empty_data, &no_pcrs, &priv, &pub, NULL,
	    NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: creating the gated CSK");
		goto out;
	}
	k->pub = *pub;
	k->priv = *priv;
	if ((r = spd_tpm_key_finish(k)) != SC_OK)
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

/* An authorization's bytes (DER ECDSA or PKCS#1 v1.5 over SHA-256) as TPMT_SIGNATURE. */
static sc_err tpm_signature(EVP_PKEY *signer, const uint8_t *auth, size_t auth_len,
    TPMT_SIGNATURE *out)
{
	const unsigned char *q = auth;
	ECDSA_SIG *es = NULL;
	unsigned char *re = NULL;
	const BIGNUM *br, *bs;
	int fl, n;
	sc_err r = SC_ERR_INTERNAL;

	memset(out, 0, sizeof(*out));
	if (auth_len == 0 || auth_len > SC_GATE_AUTH_MAX) {
		r = sc_fail(SC_ERR_GATE, "authorization: %zu bytes (1..%d)", auth_len,
		    SC_GATE_AUTH_MAX);
		goto out;
	}
	if (EVP_PKEY_get_base_id(signer) == EVP_PKEY_RSA) {
		if ((int)auth_len != EVP_PKEY_get_size(signer) ||
		    auth_len > sizeof(out->signature.rsassa.sig.buffer)) {
			r = sc_fail(SC_ERR_GATE,
			    "authorization: not an RSA signature of the gate key's size");
			goto out;
		}
		out->sigAlg = TPM2_ALG_RSASSA;
		out->signature.rsassa.hash = TPM2_ALG_SHA256;
		out->signature.rsassa.sig.size = (UINT16)auth_len;
		memcpy(out->signature.rsassa.sig.buffer, auth, auth_len);
		r = SC_OK;
		goto out;
	}
	fl = (EVP_PKEY_get_bits(signer) + 7) / 8;
	if ((es = d2i_ECDSA_SIG(NULL, &q, (long)auth_len)) == NULL || q != auth + auth_len ||
	    (n = i2d_ECDSA_SIG(es, &re)) != (int)auth_len || memcmp(re, auth, auth_len) != 0) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_GATE, "authorization: not a DER ECDSA-Sig-Value");
		goto out;
	}
	ECDSA_SIG_get0(es, &br, &bs);
	out->sigAlg = TPM2_ALG_ECDSA;
	out->signature.ecdsa.hash = TPM2_ALG_SHA256;
	out->signature.ecdsa.signatureR.size = out->signature.ecdsa.signatureS.size = (UINT16)fl;
	if (BN_bn2binpad(br, out->signature.ecdsa.signatureR.buffer, fl) != fl ||
	    BN_bn2binpad(bs, out->signature.ecdsa.signatureS.buffer, fl) != fl) {
		r = sc_fail(SC_ERR_GATE,
		    "authorization: r or s is larger than the gate key's curve");
		goto out;
	}
	r = SC_OK;
out:
	ECDSA_SIG_free(es);
	OPENSSL_free(re);
	return r;
}

/*
 * The policy for one CSK signature, in session sess (nonce its nonceTPM): PolicySigned by
 * signer over (nonce, cpHash, ref), then PolicyOR of the gate and factory branches.
 */
static sc_err policy_run(const struct spd_key *k, ESYS_TR sess, EVP_PKEY *signer,
    const uint8_t nonce[SC_GATE_NONCE_LEN], const uint8_t cphash[32], const uint8_t *auth,
    size_t auth_len)
{
	TPM2B_PUBLIC pub;
	TPMT_SIGNATURE sig;
	TPM2B_NONCE n = { .size = SC_GATE_NONCE_LEN };
	TPM2B_DIGEST cp = { .size = 32 };
	TPM2B_NONCE ref = { .size = sizeof(SC_GATE_POLICY_REF) - 1 };
	TPML_DIGEST list = { .count = 2 };
	TPM2B_TIMEOUT *timeout = NULL;
	TPMT_TK_AUTH *ticket = NULL;
	ESYS_TR h = ESYS_TR_NONE;
	uint8_t bg[32];
	sc_err r;
	TSS2_RC rc;

	if ((r = tpm_signature(signer, auth, auth_len, &sig)) != SC_OK ||
	    (r = external_public(signer, &pub)) != SC_OK || (r = branch_of(g_gate, bg)) != SC_OK)
		return r;
	memcpy(n.buffer, nonce, SC_GATE_NONCE_LEN);
	memcpy(cp.buffer, cphash, 32);
	memcpy(ref.buffer, SC_GATE_POLICY_REF, ref.size);
	if ((rc = Esys_LoadExternal(spd_tpm_esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
	         &pub, ESYS_TR_RH_NULL, &h)) != TSS2_RC_SUCCESS)
		return spd_tpm_fail(rc, "tpm: loading the gate key");
	rc = Esys_PolicySigned(spd_tpm_esys(), h, sess, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &n, &cp, &ref, 0, &sig, &timeout, &ticket);
	spd_tpm_flush(h);
	Esys_Free(timeout);
	Esys_Free(ticket);
	if (rc != TSS2_RC_SUCCESS)
		return sc_fail(SC_ERR_GATE, "the TPM refused the authorization (PolicySigned): %s",
		    Tss2_RC_Decode(rc));
	list.digests[0].size = list.digests[1].size = 32;
	memcpy(list.digests[0].buffer, bg, 32);
	memcpy(list.digests[1].buffer, k->auth.buffer, 32);
	if ((rc = Esys_PolicyOR(spd_tpm_esys(), sess, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	         &list)) != TSS2_RC_SUCCESS)
		return sc_fail(SC_ERR_GATE,
		    "the CSK's policy is not this gate key's (DIR/tpm.gate replaced?): %s",
		    Tss2_RC_Decode(rc));
	return SC_OK;
}

static sc_err session_start(ESYS_TR *sess, uint8_t nonce[SC_GATE_NONCE_LEN])
{
	const TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
	TPM2B_NONCE *nt = NULL;
	TSS2_RC rc;

	*sess = ESYS_TR_NONE;
	if (spd_tpm_esys() == NULL)
		return sc_fail(SC_ERR_TPM, "no TPM connection");
	if ((rc = Esys_StartAuthSession(spd_tpm_esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	         ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256, sess)) !=
	    TSS2_RC_SUCCESS)
		return spd_tpm_fail(rc, "tpm: starting a policy session");
	if ((rc = Esys_TRSess_GetNonceTPM(spd_tpm_esys(), *sess, &nt)) != TSS2_RC_SUCCESS ||
	    nt->size != SC_GATE_NONCE_LEN) {
		Esys_Free(nt);
		spd_tpm_flush(*sess);
		*sess = ESYS_TR_NONE;
		return sc_fail(SC_ERR_TPM, "tpm: the policy session's nonce is not %d bytes",
		    SC_GATE_NONCE_LEN);
	}
	memcpy(nonce, nt->buffer, SC_GATE_NONCE_LEN);
	Esys_Free(nt);
	return SC_OK;
}

/* Policy, then TPM2_Sign of dg in that session; the session is gone afterwards either way. */
static sc_err gated_sign(const struct spd_key *k, ESYS_TR sess, EVP_PKEY *signer,
    const uint8_t nonce[SC_GATE_NONCE_LEN], const uint8_t cphash[32], const uint8_t *auth,
    size_t auth_len, TPM2_ALG_ID scheme, const EVP_MD *md, const uint8_t *dg, size_t dg_len,
    uint8_t **sig, size_t *sig_len)
{
	sc_err r;

	if ((r = policy_run(k, sess, signer, nonce, cphash, auth, auth_len)) == SC_OK &&
	    (r = spd_tpm_sign_digest(k, sess, scheme, md, dg, dg_len, sig, sig_len)) != SC_OK)
		r = sc_fail(SC_ERR_GATE, "the TPM refused the CSK signature: %s", sc_err_detail());
	spd_tpm_flush(sess);
	return r;
}

sc_err spd_tpm_gate_factory_sign(const struct spd_key *k, TPM2_ALG_ID scheme, const EVP_MD *md,
    const uint8_t *dg, size_t dg_len, uint8_t **sig, size_t *sig_len)
{
	struct spd_key *mk = (struct spd_key *)k; /* the factory key is forgotten after one use */
	uint8_t nonce[SC_GATE_NONCE_LEN], name[34], cp[32], msg[SC_GATE_SIGNED_LEN], *a = NULL;
	size_t a_len = 0;
	EVP_MD_CTX *m = NULL;
	ESYS_TR sess = ESYS_TR_NONE;
	sc_err r = SC_ERR_INTERNAL;

	*sig = NULL;
	*sig_len = 0;
	if (k->factory == NULL) {
		r = sc_fail(SC_ERR_GATE,
		    "the CSK is operator-gated: it signs only what the "
		    "operator authorized (GATE_ISSUE)");
		goto out;
	}
	if ((r = name_of(&k->pub.publicArea, name)) != SC_OK ||
	    (r = sc_gate_cphash(name, sizeof(name), k->pkey, md, dg, dg_len, cp)) != SC_OK ||
	    (r = session_start(&sess, nonce)) != SC_OK)
		goto out;
	sc_gate_signed_bytes(nonce, cp, msg);
	if ((m = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, k->factory, NULL) != 1 ||
	    EVP_DigestSign(m, NULL, &a_len, msg, sizeof(msg)) != 1 ||
	    (a = OPENSSL_malloc(a_len)) == NULL ||
	    EVP_DigestSign(m, a, &a_len, msg, sizeof(msg)) != 1) {
		spd_tpm_flush(sess);
		r = sc_fail_ossl(SC_ERR_INTERNAL, "gate: the factory authorization");
		goto out;
	}
	r = gated_sign(k, sess, k->factory, nonce, cp, a, a_len, scheme, md, dg, dg_len, sig,
	    sig_len);
out:
	/* One signature, success or not: the factory branch is dead from here on. */
	EVP_PKEY_free(mk->factory);
	mk->factory = NULL;
	EVP_MD_CTX_free(m);
	OPENSSL_free(a);
	return r;
}

/* The CSK's policy names g_gate (a replaced DIR/tpm.gate would only fail at TPM2_Sign). */
static sc_err policy_names_gate(const struct spd_key *k)
{
	uint8_t bg[32], d[32];
	sc_err r;

	if (g_gate == NULL)
		return sc_fail(SC_ERR_GATE, "the store's gate key (DIR/tpm.gate) is missing");
	if ((r = branch_of(g_gate, bg)) != SC_OK || (r = or_of(bg, k->auth.buffer, d)) != SC_OK)
		return r;
	if (CRYPTO_memcmp(d, k->pub.publicArea.authPolicy.buffer, 32) != 0)
		return sc_fail(SC_ERR_GATE,
		    "DIR/tpm.gate is not the gate key this CSK's TPM policy names");
	return SC_OK;
}

void spd_tpm_gate_close(void)
{
	if (g_sess != ESYS_TR_NONE && spd_tpm_esys() != NULL)
		spd_tpm_flush(g_sess);
	g_sess = ESYS_TR_NONE;
	OPENSSL_cleanse(g_nonce, sizeof(g_nonce));
}

sc_err spd_tpm_gate_open(const struct spd_key *csk, uint8_t nonce[SC_GATE_NONCE_LEN],
    uint8_t name[34])
{
	sc_err r;

	if (!spd_tpm_key_gated(csk))
		return sc_fail(SC_ERR_GATE, "this SP's CSK is not operator-gated");
	spd_tpm_gate_close();
	if ((r = policy_names_gate(csk)) != SC_OK ||
	    (r = name_of(&csk->pub.publicArea, name)) != SC_OK ||
	    (r = session_start(&g_sess, g_nonce)) != SC_OK)
		return r;
	memcpy(nonce, g_nonce, SC_GATE_NONCE_LEN);
	return SC_OK;
}

int spd_tpm_gate_pending(const uint8_t *nonce, size_t len)
{
	return g_sess != ESYS_TR_NONE && len == SC_GATE_NONCE_LEN &&
	    CRYPTO_memcmp(nonce, g_nonce, len) == 0;
}

sc_err spd_tpm_gate_issue_leaf(const struct spd_key *csk, const struct sc_profile *p,
    EVP_PKEY *leaf_pub, X509 *csk_cert, uint64_t counter, const uint8_t *auth, size_t auth_len,
    X509 **cert)
{
	const EVP_MD *md = NULL;
	X509 *x = NULL;
	uint8_t *tbs = NULL, *sig = NULL, dg[EVP_MAX_MD_SIZE], name[34], cp[32];
	size_t tbs_len = 0, sig_len = 0;
	unsigned dg_len = 0;
	ESYS_TR sess = g_sess;
	sc_err r = SC_ERR_INTERNAL;

	*cert = NULL;
	if (!spd_tpm_key_gated(csk) || g_gate == NULL) {
		r = sc_fail(SC_ERR_GATE, "this SP's CSK is not operator-gated");
		goto out;
	}
	if (sess == ESYS_TR_NONE) {
		r = sc_fail(SC_ERR_CHALLENGE, "issue: no gated challenge is outstanding");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(csk_cert), csk->pkey) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_USAGE, "issuer key does not match the issuer certificate");
		goto out;
	}
	/* The exact bytes the operator's server built: the same builder (gate.h). */
	if ((r = sc_gate_tbs(p, leaf_pub, csk_cert, counter, g_nonce, &md, &tbs, &tbs_len, &x)) !=
	    SC_OK)
		goto out;
	if (EVP_Digest(tbs, tbs_len, dg, &dg_len, md, NULL) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "issue: TBS digest");
		goto out;
	}
	if ((r = name_of(&csk->pub.publicArea, name)) != SC_OK ||
	    (r = sc_gate_cphash(name, sizeof(name), csk->pkey, md, dg, dg_len, cp)) != SC_OK)
		goto out;
	/* Single use whatever happens: the session dies with this attempt. */
	g_sess = ESYS_TR_NONE;
	r = gated_sign(csk, sess, g_gate, g_nonce, cp, auth, auth_len,
	    sc_alg_is_rsa(csk->alg) ? TPM2_ALG_RSASSA : TPM2_ALG_ECDSA, md, dg, dg_len, &sig,
	    &sig_len);
	OPENSSL_cleanse(g_nonce, sizeof(g_nonce));
	if (r != SC_OK)
		goto out;
	r = spd_tpm_cert_finish(x, csk, sig, sig_len, cert);
out:
	X509_free(x);
	OPENSSL_free(tbs);
	OPENSSL_free(sig);
	return r;
}

sc_err spd_tpm_gate_export(const struct spd_key *k, const char *dir, const char *name)
{
	char path[4096];
	uint8_t bg[32];
	sc_err r;

	if (!spd_tpm_key_gated(k))
		return SC_OK;
	if (g_gate == NULL)
		return sc_fail(SC_ERR_GATE, "the store's gate key (DIR/tpm.gate) is missing");
	if ((r = branch_of(g_gate, bg)) != SC_OK)
		return r;
	if (snprintf(path, sizeof(path), "%s/%s.policy-gate", dir, name) >= (int)sizeof(path))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
	if ((r = sc_file_write_new(path, bg, 32, 0644)) != SC_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%s.policy-factory", dir, name);
	return sc_file_write_new(path, k->auth.buffer, 32, 0644);
}
