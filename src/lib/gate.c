// SPDX-License-Identifier: Apache-2.0
/*
 * gate.c — operator-gated issuance's shared bytes (selfcert/gate.h): the tbsCertificate both the
 * provisioning server and the TPM SP build, TPM2_Sign's cpHash and the gate key's signed bytes.
 * No TSS here: the few TPM structures are fixed big-endian layouts (TPM 2.0 Part 2).
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/gate.h>

#define TPM_CC_SIGN 0x0000015Du
#define TPM_ALG_RSASSA 0x0014u
#define TPM_ALG_ECDSA 0x0018u
#define TPM_ALG_SHA256 0x000Bu
#define TPM_ALG_SHA384 0x000Cu
#define TPM_ALG_SHA512 0x000Du
#define TPM_ST_HASHCHECK 0x8024u
#define TPM_RH_NULL 0x40000007u

void sc_gate_serial(const uint8_t nonce[SC_GATE_NONCE_LEN], uint8_t out[SC_GATE_SERIAL_LEN])
{
	static const char label[] = "selfcert gate serial";
	uint8_t h[32];
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned n = 0;

	/* SHA-256 cannot fail on a working library; a failure leaves a fixed, still valid value. */
	memset(h, 0x5a, sizeof(h));
	if (m == NULL || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(m, label, sizeof(label) - 1) != 1 ||
	    EVP_DigestUpdate(m, nonce, SC_GATE_NONCE_LEN) != 1 || EVP_DigestFinal_ex(m, h, &n) != 1)
		ERR_clear_error();
	EVP_MD_CTX_free(m);
	memcpy(out, h, SC_GATE_SERIAL_LEN);
	out[0] &= 0x7f;
	if (out[0] == 0)
		out[0] = 0x01;
}

static sc_err set_sigalg(EVP_PKEY *csk_pub, const EVP_MD *md, X509_ALGOR *a)
{
	int nid = NID_undef, rsa = EVP_PKEY_get_base_id(csk_pub) == EVP_PKEY_RSA;

	if (a == NULL ||
	    OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md),
	        rsa ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey) != 1 ||
	    X509_ALGOR_set0(a, OBJ_nid2obj(nid), rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "gate: signature algorithm");
	return SC_OK;
}

sc_err sc_gate_tbs(const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert, uint64_t counter,
    const uint8_t nonce[SC_GATE_NONCE_LEN], const EVP_MD **md, uint8_t **tbs, size_t *tbs_len,
    X509 **out)
{
	struct sc_profile_info info;
	const ASN1_BIT_STRING *psig = NULL;
	const X509_ALGOR *palg = NULL;
	uint8_t serial[SC_GATE_SERIAL_LEN];
	EVP_PKEY *csk_pub;
	unsigned char *der = NULL;
	X509 *x = NULL;
	int n, id;
	sc_err r = SC_ERR_INTERNAL;

	*tbs = NULL;
	*tbs_len = 0;
	if (out != NULL)
		*out = NULL;
	if (p == NULL || csk_cert == NULL || nonce == NULL || md == NULL) {
		r = sc_fail(SC_ERR_USAGE, "sc_gate_tbs: missing argument");
		goto out;
	}
	if ((csk_pub = X509_get0_pubkey(csk_cert)) == NULL) {
		r = sc_fail_ossl(SC_ERR_MALFORMED,
		    "gate: the CSK certificate's key does not decode");
		goto out;
	}
	/* What a TPM CSK signs with (docs/TPM.md): ECDSA or RSASSA-PKCS1-v1_5. */
	id = EVP_PKEY_get_base_id(csk_pub);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
		r = sc_fail(SC_ERR_ALGORITHM, "gate: a gated CSK is RSA or EC");
		goto out;
	}
	sc_profile_get_info(p, &info);
	*md = sc_sign_md(csk_pub, info.cert_digest);
	sc_gate_serial(nonce, serial);
	if ((r = sc_cert_gated_leaf(p, leaf_pub, csk_cert, counter, serial, &x)) != SC_OK)
		goto out;
	X509_get0_signature(&psig, &palg, x);
	if ((r = set_sigalg(csk_pub, *md, (X509_ALGOR *)X509_get0_tbs_sigalg(x))) != SC_OK ||
	    (r = set_sigalg(csk_pub, *md, (X509_ALGOR *)palg)) != SC_OK)
		goto out;
	if ((n = i2d_re_X509_tbs(x, &der)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "gate: encoding the TBS certificate");
		goto out;
	}
	*tbs = der;
	*tbs_len = (size_t)n;
	der = NULL;
	if (out != NULL) {
		*out = x;
		x = NULL;
	}
	r = SC_OK;
out:
	X509_free(x);
	OPENSSL_free(der);
	return r;
}

static uint16_t tpm_hash(const EVP_MD *md)
{
	switch (md != NULL ? EVP_MD_get_type(md) : NID_undef) {
	case NID_sha256: return TPM_ALG_SHA256;
	case NID_sha384: return TPM_ALG_SHA384;
	case NID_sha512: return TPM_ALG_SHA512;
	default: return 0;
	}
}

static size_t put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

sc_err sc_gate_cphash(const uint8_t *csk_name, size_t csk_name_len, EVP_PKEY *csk_pub,
    const EVP_MD *md, const uint8_t *digest, size_t digest_len, uint8_t cphash[32])
{
	uint8_t b[4 + SC_GATE_NAME_MAX + 2 + EVP_MAX_MD_SIZE + 4 + 8];
	size_t off = 0;
	uint16_t h = tpm_hash(md);
	unsigned n = 0;

	/* A Name is nameAlg ‖ digest of that algorithm: SHA-256, as every object spd makes. */
	if (csk_name == NULL || csk_name_len != 34 || csk_name[0] != 0 ||
	    csk_name[1] != TPM_ALG_SHA256)
		return sc_fail(SC_ERR_MALFORMED,
		    "gate: csk_name is not a 34-byte SHA-256 TPM Name");
	if (csk_pub == NULL || h == 0 || digest == NULL ||
	    digest_len != (size_t)EVP_MD_get_size(md))
		return sc_fail(SC_ERR_ALGORITHM,
		    "gate: the TPM signs SHA-256/384/512 digests only");
	off += put32(b + off, TPM_CC_SIGN);
	memcpy(b + off, csk_name, csk_name_len);
	off += csk_name_len;
	off += put16(b + off, (uint32_t)digest_len);
	memcpy(b + off, digest, digest_len);
	off += digest_len;
	off += put16(b + off,
	    EVP_PKEY_get_base_id(csk_pub) == EVP_PKEY_RSA ? TPM_ALG_RSASSA : TPM_ALG_ECDSA);
	off += put16(b + off, h);
	off += put16(b + off, TPM_ST_HASHCHECK);
	off += put32(b + off, TPM_RH_NULL);
	off += put16(b + off, 0);
	if (EVP_Digest(b, off, cphash, &n, EVP_sha256(), NULL) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "gate: cpHash");
	return SC_OK;
}

void sc_gate_signed_bytes(const uint8_t nonce[SC_GATE_NONCE_LEN], const uint8_t cphash[32],
    uint8_t out[SC_GATE_SIGNED_LEN])
{
	size_t off = 0;

	memcpy(out, nonce, SC_GATE_NONCE_LEN);
	off += SC_GATE_NONCE_LEN;
	off += put32(out + off, 0); /* expiration 0: none; the nonce already makes it single use */
	memcpy(out + off, cphash, 32);
	off += 32;
	memcpy(out + off, SC_GATE_POLICY_REF, sizeof(SC_GATE_POLICY_REF) - 1);
}

sc_err sc_gate_authorize(EVP_PKEY *gate_key, const struct sc_gate_challenge *c,
    const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert, uint8_t **auth,
    size_t *auth_len)
{
	const EVP_MD *md = NULL;
	uint8_t *tbs = NULL, *sig = NULL, dg[EVP_MAX_MD_SIZE], cp[32], msg[SC_GATE_SIGNED_LEN];
	size_t tbs_len = 0, sig_len = 0;
	unsigned dg_len = 0;
	EVP_MD_CTX *m = NULL;
	int id;
	sc_err r = SC_ERR_INTERNAL;

	*auth = NULL;
	*auth_len = 0;
	if (gate_key == NULL || c == NULL) {
		r = sc_fail(SC_ERR_USAGE, "sc_gate_authorize: missing argument");
		goto out;
	}
	id = EVP_PKEY_get_base_id(gate_key);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
		r = sc_fail(SC_ERR_ALGORITHM,
		    "gate: the gate key is RSA or EC (what a TPM verifies)");
		goto out;
	}
	if ((r = sc_gate_tbs(p, leaf_pub, csk_cert, c->counter, c->nonce, &md, &tbs, &tbs_len,
	         NULL)) != SC_OK)
		goto out;
	if (EVP_Digest(tbs, tbs_len, dg, &dg_len, md, NULL) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "gate: TBS digest");
		goto out;
	}
	if ((r = sc_gate_cphash(c->csk_name, c->csk_name_len, X509_get0_pubkey(csk_cert), md, dg,
	         dg_len, cp)) != SC_OK)
		goto out;
	sc_gate_signed_bytes(c->nonce, cp, msg);
	if ((m = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, gate_key, NULL) != 1 ||
	    EVP_DigestSign(m, NULL, &sig_len, msg, sizeof(msg)) != 1 ||
	    (sig = OPENSSL_malloc(sig_len)) == NULL ||
	    EVP_DigestSign(m, sig, &sig_len, msg, sizeof(msg)) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "gate: signing the authorization");
		goto out;
	}
	if (sig_len > SC_GATE_AUTH_MAX) {
		r = sc_fail(SC_ERR_ALGORITHM, "gate: a %zu-byte authorization", sig_len);
		goto out;
	}
	*auth = sig;
	*auth_len = sig_len;
	sig = NULL;
	r = SC_OK;
out:
	EVP_MD_CTX_free(m);
	OPENSSL_free(sig);
	OPENSSL_free(tbs);
	return r;
}
