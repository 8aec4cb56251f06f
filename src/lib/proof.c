// SPDX-License-Identifier: Apache-2.0
/*
 * proof.c — request proofs (selfcert/proof.h): the digest of what a profile request asks, the
 * bytes the SP signs (one layout, sp_msg.c's, for the SP and the server alike) and the check of
 * its signature with the device CA's key.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/proof.h>
#include "buf.h"
#include "fast/fast.h"
#include "fast/x509.h"
#include "sp_msg.h"

#define REQUEST_CONTEXT "selfcert profile request v1"

static void put_cert(struct sc_buf *b, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	if (n <= 0) {
		b->failed = 1;
		return;
	}
	sc_buf_put_string(b, der, (size_t)n);
	OPENSSL_free(der);
}

/* The digest's bytes after the chain and KEK: the alg field as sent and server_keygen. */
static sc_err request_digest_end(struct sc_buf *b, const char *alg, int server_keygen,
    uint8_t out[SC_PROOF_DIGEST_LEN])
{
	unsigned md_len = 0;
	sc_err r;

	sc_buf_put_cstring(b, alg != NULL ? alg : "");
	sc_buf_put_u8(b, server_keygen ? 1 : 0);
	if ((r = sc_buf_done(b, "request digest")) != SC_OK)
		return r;
	if (!EVP_Digest(b->data, b->len, out, &md_len, sc_fast_sha256(), NULL) ||
	    md_len != SC_PROOF_DIGEST_LEN)
		return sc_fail_ossl(SC_ERR_INTERNAL, "request digest");
	return SC_OK;
}

sc_err sc_proof_request_digest(STACK_OF(X509) *chain, X509 *kex, const char *alg, int server_keygen,
    uint8_t out[SC_PROOF_DIGEST_LEN])
{
	struct sc_buf b;
	sc_err r;
	int i;

	memset(out, 0, SC_PROOF_DIGEST_LEN);
	if (chain == NULL || sk_X509_num(chain) < 1 || kex == NULL)
		return sc_fail(SC_ERR_USAGE, "request digest: no chain or no KEK certificate");
	sc_buf_init_writer(&b, (size_t)1 << 20, 0);
	sc_buf_put_bytes(&b, REQUEST_CONTEXT, sizeof(REQUEST_CONTEXT) - 1);
	sc_buf_put_u32(&b, (uint32_t)sk_X509_num(chain));
	for (i = 0; i < sk_X509_num(chain); i++)
		put_cert(&b, sk_X509_value(chain, i));
	put_cert(&b, kex);
	r = request_digest_end(&b, alg, server_keygen, out);
	sc_buf_free(&b);
	return r;
}

sc_err sc_proof_request_digest_der(const uint8_t *const *chain, const size_t *chain_len,
    size_t n_chain, const uint8_t *kex, size_t kex_len, const char *alg, int server_keygen,
    uint8_t out[SC_PROOF_DIGEST_LEN])
{
	struct sc_buf b;
	sc_err r;

	memset(out, 0, SC_PROOF_DIGEST_LEN);
	if (chain == NULL || n_chain < 1 || n_chain > UINT32_MAX || kex == NULL)
		return sc_fail(SC_ERR_USAGE, "request digest: no chain or no KEK certificate");
	sc_buf_init_writer(&b, (size_t)1 << 20, 0);
	sc_buf_put_bytes(&b, REQUEST_CONTEXT, sizeof(REQUEST_CONTEXT) - 1);
	sc_buf_put_u32(&b, (uint32_t)n_chain);
	for (size_t i = 0; i < n_chain; i++)
		sc_buf_put_string(&b, chain[i], chain_len[i]);
	sc_buf_put_string(&b, kex, kex_len);
	r = request_digest_end(&b, alg, server_keygen, out);
	sc_buf_free(&b);
	return r;
}

sc_err sc_proof_tbs(const struct sc_proof *p, uint8_t **tbs, size_t *len)
{
	struct sc_buf b;
	sc_err r;

	*tbs = NULL;
	*len = 0;
	sc_buf_init_writer(&b, 1024, 0);
	sp_proof_tbs_put(&b, p->challenge, p->device_id, p->network_id, p->request_digest, p->time);
	if ((r = sc_buf_done(&b, "request proof")) != SC_OK) {
		sc_buf_free(&b);
		return r;
	}
	if ((*tbs = OPENSSL_memdup(b.data, b.len)) == NULL) {
		sc_buf_free(&b);
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	}
	*len = b.len;
	sc_buf_free(&b);
	return SC_OK;
}

sc_err sc_proof_verify(const struct sc_proof *p, const uint8_t *sig, size_t sig_len, EVP_PKEY *pub)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *tbs = NULL;
	size_t tbs_len = 0;
	sc_err r;
	int ok = 0, done = 0;

	if ((r = sc_proof_tbs(p, &tbs, &tbs_len)) != SC_OK)
		return r;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* As the SP signs: SHA-256 for RSA and EC whatever the curve, nothing for Ed25519. A
	 * legacy EC key (selfcert-provd's, fast/x509.h) skips the provider export, same verdict. */
	sc_fast_ecdsa_sha256_verify(pub, tbs, tbs_len, sig, sig_len, &done, &ok);
	if (!done)
		ok = EVP_DigestVerifyInit(ctx, NULL, sc_sign_md(pub, SC_DIGEST_SHA256), NULL,
		         pub) == 1 &&
		    EVP_DigestVerify(ctx, sig, sig_len, tbs, tbs_len) == 1;
	ERR_clear_error();
	if (!ok) {
		r = sc_fail(SC_ERR_BAD_PROOF,
		    "the proof's signature does not verify with device %s's CA key", p->device_id);
		goto out;
	}
	r = SC_OK;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(tbs);
	return r;
}
