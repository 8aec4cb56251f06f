// SPDX-License-Identifier: Apache-2.0
/*
 * test_backend.c — the SP's key backend seam (src/spd/backend.h) driven through its table with
 * the soft backend: keys made, stored and loaded back, every private operation checked against
 * the public half alone, the sealing secret's round trip and refusals, the counter's steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "backend.h"
#include "fast/fast.h"
#include "fast/spki.h"
#include "spd.h"
#include "store.h"
#include "testutil.h"
#include "testworld.h"

static const struct spd_backend *be = &spd_backend_soft;
static const uint8_t msg[] = "selfcert: what the SP signs";

static struct spd_key *make(enum sc_alg alg)
{
	struct spd_key *k = NULL;

	assert_int_equal(be->key_create(be, alg, 0, &k), SC_OK);
	assert_non_null(k);
	assert_int_equal(be->key_alg(k), alg);
	return k;
}

/* The public half as a relying party would have it: SPKI DER and back, no private part. */
static EVP_PKEY *public_only(const struct spd_key *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int n = i2d_PUBKEY(be->key_public(k), &der);

	assert_true(n > 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, n);
	assert_non_null(pub);
	OPENSSL_free(der);
	return pub;
}

static int verify_message(EVP_PKEY *pub, const EVP_MD *md, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok;

	assert_non_null(m);
	assert_int_equal(EVP_DigestVerifyInit(m, NULL, md, NULL, pub), 1);
	ok = EVP_DigestVerify(m, sig, sig_len, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static int verify_digest(EVP_PKEY *pub, const EVP_MD *md, int pss, uint32_t salt,
    const uint8_t *dgst, size_t dlen, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	int ok;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_verify_init(c), 1);
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c,
		                     pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING),
		    1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(c, md), 1);
	if (pss)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(c, (int)salt), 1);
	ok = EVP_PKEY_verify(c, sig, sig_len, dgst, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

/*
 * Issue 17: P-256 and P-384 keys come from a generation context the backend keeps (one group
 * built per curve, not per key); shortcuts off, from sc_alg_keygen. Either way: each key new
 * (no two public or private halves alike), of the asked curve, a pair, and stored as the same
 * PKCS#8 bytes OpenSSL's own encoder writes for it.
 */
static void test_keygen_context(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_P256 };
	static const char *const groups[] = { "prime256v1", "secp384r1", "prime256v1" };
	unsigned char *spki[4];
	int spki_len[4];

	(void)state;
	for (int fast = 1; fast >= 0; fast--) {
		sc_fast_set(fast);
		for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
			const uint8_t *blob[4];
			size_t blob_len[4];
			struct spd_key *k[4];

			for (int i = 0; i < 4; i++) {
				EVP_PKEY *key;
				EVP_PKEY_CTX *c;
				char group[16];
				uint8_t *plain = NULL;
				size_t plain_len = 0;

				k[i] = make(algs[a]);
				key = be->key_public(k[i]);
				assert_int_equal(EVP_PKEY_get_utf8_string_param(key,
				                     OSSL_PKEY_PARAM_GROUP_NAME, group,
				                     sizeof(group), NULL),
				    1);
				assert_string_equal(group, groups[a]);
				assert_int_equal(EVP_PKEY_get_bits(key),
				    algs[a] == SC_ALG_P256 ? 256 : 384);
				assert_non_null(c = EVP_PKEY_CTX_new(key, NULL));
				assert_int_equal(EVP_PKEY_pairwise_check(c), 1);
				EVP_PKEY_CTX_free(c);
				be->key_blob(k[i], &blob[i], &blob_len[i]);
				assert_int_equal(spd_key_der(key, &plain, &plain_len), SC_OK);
				assert_int_equal(plain_len, blob_len[i]);
				assert_memory_equal(plain, blob[i], plain_len);
				spd_key_der_free(plain, plain_len);
				spki[i] = NULL;
				assert_true((spki_len[i] = i2d_PUBKEY(key, &spki[i])) > 0);
				for (int j = 0; j < i; j++) {
					assert_false(spki_len[j] == spki_len[i] &&
					    memcmp(spki[j], spki[i], (size_t)spki_len[i]) == 0);
					assert_false(blob_len[j] == blob_len[i] &&
					    memcmp(blob[j], blob[i], blob_len[i]) == 0);
				}
			}
			for (int i = 0; i < 4; i++) {
				OPENSSL_free(spki[i]);
				be->key_free(k[i]);
			}
		}
	}
	sc_fast_set(1);
}

/* Create, sign in every mode the key has, verify with the public half only. */
static void test_create_sign_verify(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519,
		SC_ALG_RSA2048 };
	uint8_t dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	(void)state;
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		struct spd_key *k = make(algs[a]);
		EVP_PKEY *pub = public_only(k);
		const EVP_MD *md = sc_sign_md(pub, SC_DIGEST_NONE);
		uint8_t *sig = NULL;
		size_t sig_len = 0;

		assert_int_equal(be->sign(k, SPD_SIGN_MESSAGE, md, 0, msg, sizeof(msg), &sig,
		                     &sig_len),
		    SC_OK);
		assert_true(verify_message(pub, md, sig, sig_len));
		sig[sig_len / 2] ^= 1;
		assert_false(verify_message(pub, md, sig, sig_len));
		OPENSSL_free(sig);
		if (md != NULL) {
			assert_int_equal(EVP_Digest(msg, sizeof(msg), dgst, &dlen, md, NULL), 1);
			assert_int_equal(be->sign(k, SPD_SIGN_DIGEST, md, 0, dgst, dlen, &sig,
			                     &sig_len),
			    SC_OK);
			assert_true(verify_digest(pub, md, 0, 0, dgst, dlen, sig, sig_len));
			OPENSSL_free(sig);
		}
		if (sc_alg_is_rsa(algs[a])) {
			assert_int_equal(be->sign(k, SPD_SIGN_PSS, md, 32, dgst, dlen, &sig,
			                     &sig_len),
			    SC_OK);
			assert_true(verify_digest(pub, md, 1, 32, dgst, dlen, sig, sig_len));
			OPENSSL_free(sig);
		}
		EVP_PKEY_free(pub);
		be->key_free(k);
	}
}

/* The stored form loads back to the same key; the wrong algorithm or bytes are refused. */
static void test_blob_load(void **state)
{
	struct spd_key *k = make(SC_ALG_P256), *back = NULL;
	const uint8_t *blob;
	size_t len;

	(void)state;
	be->key_blob(k, &blob, &len);
	assert_true(len > 0);
	assert_int_equal(be->key_load(be, SC_ALG_P256, blob, len, "leaf key", &back), SC_OK);
	assert_int_equal(EVP_PKEY_eq(be->key_public(k), be->key_public(back)), 1);
	be->key_free(back);
	assert_int_equal(be->key_load(be, SC_ALG_ED25519, blob, len, "leaf key", &back),
	    SC_ERR_STORE_DAMAGED);
	assert_null(back);
	assert_int_equal(be->key_load(be, SC_ALG_P256, blob, len - 1, "CSK", &back),
	    SC_ERR_STORE_DAMAGED);
	assert_string_equal(sc_err_detail(), "store: CSK: not a PKCS#8 key");
	assert_null(back);

	be->key_free(k);
	be->key_free(NULL);
}

/* KEYGEN's proof of possession: a request that verifies under the key's public half. */
static void test_csr(void **state)
{
	struct spd_key *k = make(SC_ALG_P384);
	EVP_PKEY *pub = public_only(k);
	const unsigned char *p;
	X509_REQ *req;
	uint8_t *der = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(be->csr(k, &der, &len), SC_OK);
	p = der;
	assert_non_null(req = d2i_X509_REQ(NULL, &p, (long)len));
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	X509_REQ_free(req);
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	be->key_free(k);
}

/* RSA-OAEP: what the public half encrypts comes back; a wrong label is one opaque refusal. */
static void test_decrypt(void **state)
{
	static const uint8_t secret[] = "a wrapped session key";
	static const uint8_t label[] = "L";
	struct spd_key *k = make(SC_ALG_RSA2048);
	EVP_PKEY *pub = public_only(k);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	uint8_t ct[256], out[256];
	size_t ct_len = sizeof(ct), out_len = sizeof(out);

	(void)state;
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_encrypt_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(c, OPENSSL_memdup(label, 1), 1), 1);
	assert_int_equal(EVP_PKEY_encrypt(c, ct, &ct_len, secret, sizeof(secret)), 1);
	EVP_PKEY_CTX_free(c);

	assert_int_equal(be->decrypt_oaep(k, EVP_sha256(), EVP_sha256(), label, 1, ct, ct_len, out,
	                     &out_len),
	    SC_OK);
	assert_int_equal(out_len, sizeof(secret));
	assert_memory_equal(out, secret, sizeof(secret));
	out_len = sizeof(out);
	assert_int_equal(be->decrypt_oaep(k, EVP_sha256(), EVP_sha256(), NULL, 0, ct, ct_len, out,
	                     &out_len),
	    SC_ERR_KEY_DECRYPT);
	assert_int_equal(out_len, 0);
	EVP_PKEY_free(pub);
	be->key_free(k);
}

/* ECDH: the SP's side equals the peer's side; a peer on another curve is refused. */
static void test_derive(void **state)
{
	struct spd_key *k = make(SC_ALG_P256);
	EVP_PKEY *peer = NULL, *other = NULL, *pub = public_only(k);
	EVP_PKEY_CTX *c;
	uint8_t *mine = NULL, theirs[64];
	size_t mine_len = 0, theirs_len = sizeof(theirs);

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &peer), SC_OK);
	assert_int_equal(be->derive(k, peer, &mine, &mine_len), SC_OK);
	assert_non_null(c = EVP_PKEY_CTX_new(peer, NULL));
	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c, pub), 1);
	assert_int_equal(EVP_PKEY_derive(c, theirs, &theirs_len), 1);
	EVP_PKEY_CTX_free(c);
	assert_int_equal(mine_len, 32);
	assert_int_equal(theirs_len, mine_len);
	assert_memory_equal(mine, theirs, mine_len);
	OPENSSL_clear_free(mine, mine_len);

	assert_int_equal(sc_alg_keygen(SC_ALG_P384, &other), SC_OK);
	assert_int_equal(be->derive(k, other, &mine, &mine_len), SC_ERR_MALFORMED);
	assert_null(mine);
	EVP_PKEY_free(other);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(pub);
	be->key_free(k);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f;

	chmod(path, 0600);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The sealing secret: the same bytes back; never made twice; another device's is refused. */
static void test_secret(void **state)
{
	char base[512], a[600], b[600], path[700], bpath[700];
	uint8_t s1[SPD_SECRET_LEN], s2[SPD_SECRET_LEN];
	struct spd_state *st = calloc(1, sizeof(*st));
	struct spd_store *store = NULL;
	uint8_t *other = NULL;
	size_t other_len = 0;

	(void)state;
	assert_non_null(st);
	snprintf(base, sizeof(base), "%s", sc_test_tmpdir());
	snprintf(a, sizeof(a), "%s/a", base);
	snprintf(b, sizeof(b), "%s/b", base);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(be->secret_create(be, a, s1), SC_OK);
	assert_int_equal(be->secret_unseal(be, a, s2), SC_OK);
	assert_memory_equal(s1, s2, SPD_SECRET_LEN);
	assert_int_equal(be->secret_create(be, a, s2), SC_ERR_EXISTS);
	assert_int_equal(be->secret_unseal(be, a, s2), SC_OK);
	assert_memory_equal(s1, s2, SPD_SECRET_LEN);
	snprintf(path, sizeof(path), "%s/root.key", a);
	write_file(path, s1, SPD_SECRET_LEN - 1);
	assert_int_equal(be->secret_unseal(be, a, s2), SC_ERR_STORE_DAMAGED);
	unlink(path);
	assert_int_equal(be->secret_unseal(be, a, s2), SC_ERR_STORE_DAMAGED);

	/* Two devices: b's store does not open under a's secret. */
	assert_int_equal(spd_store_create(b, "DEV-B"), SC_OK);
	assert_int_equal(spd_store_open(b, &store, st), SC_OK);
	spd_state_clear(st);
	spd_store_close(store);
	store = NULL;
	snprintf(bpath, sizeof(bpath), "%s/root.key", b);
	assert_int_equal(sc_file_read_ex(bpath, 64, SC_FILE_NOFOLLOW, &other, &other_len), SC_OK);
	other[0] ^= 0x80;
	write_file(bpath, other, other_len);
	OPENSSL_clear_free(other, other_len + 1);
	assert_int_equal(spd_store_open(b, &store, st), SC_ERR_STORE_DAMAGED);
	assert_non_null(strstr(sc_err_detail(), "authentication failed"));
	assert_null(store);
	free(st);
	sc_test_rmdir(base);
}

/* The tbsCertificate's bytes inside a certificate's DER (a pointer into der). */
static const uint8_t *tbs_span(const uint8_t *der, size_t len, size_t *tbs_len)
{
	const unsigned char *p = der, *t;
	long n;
	int tag, cls;

	assert_false(ASN1_get_object(&p, &n, &tag, &cls, (long)len) & 0x80);
	t = p;
	assert_false(ASN1_get_object(&p, &n, &tag, &cls, (long)(len - (size_t)(p - der))) & 0x80);
	*tbs_len = (size_t)(p - t) + (size_t)n;
	return t;
}

/* One leaf certificate's DER through the table: issue_leaf_key (key 1) or issue_leaf. */
static uint8_t *issue_one(const struct spd_key *csk, const struct sc_profile *prof,
    const struct spd_key *leaf, X509 *csk_cert, int by_key, size_t *len, unsigned *ku)
{
	X509 *x = NULL;
	uint8_t *der = NULL;

	if (by_key)
		assert_int_equal(be->issue_leaf_key(csk, prof, leaf, csk_cert, 41, &x, &der, len,
		                     ku),
		    SC_OK);
	else
		assert_int_equal(be->issue_leaf(csk, prof, be->key_public(leaf), csk_cert, 41, &x,
		                     &der, len, ku),
		    SC_OK);
	if (der == NULL) {
		int n = i2d_X509(x, &der);

		assert_true(n > 0);
		*len = (size_t)n;
	}
	X509_free(x);
	return der;
}

/*
 * Issue 17: issue_leaf_key hands the point the backend wrote into the new key's PKCS#8 to the
 * SPKI instead of encoding it again, and the DER-only leaf writes its subject Name directly.
 * The certificate must be, byte for byte but its random serial (the ECDSA signature differs),
 * the plain path's (shortcuts off: X509_set_pubkey, X509_NAME, i2d_X509) and issue_leaf's; its
 * SPKI what i2d_PUBKEY writes, its key the leaf's, verifying under the CSK. P-256, P-384 and
 * Ed25519 leaves; subjects with the device ID as CN, a user ID, and a 128-byte multibyte
 * UTF-8 user ID (long-form DER lengths); SHA-256 and SHA-384 leaves alternating under the same
 * CSK (its signing context is kept and copied: the algorithm and signature follow the digest).
 */
static void test_issue_leaf_key(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519 };
	char long_uid[129];
	const char *uids[3] = { NULL, "alice", long_uid };
	struct sc_test_world w;
	struct sc_profile_params pp;
	struct spd_key *csk;
	X509 *csk_cert = NULL;

	(void)state;
	for (int i = 0; i < 64; i++)
		memcpy(long_uid + 2 * i, "\xc3\xa9", 2); /* U+00E9, 128 bytes in all */
	long_uid[128] = '\0';
	assert_int_equal(sc_test_world_make(NULL, &w), SC_OK);
	csk = make(SC_ALG_P256);
	assert_int_equal(sc_test_world_device_ca(&w, be->key_public(csk), w.device_id, &csk_cert),
	    SC_OK);
	for (size_t u = 0; u < 4; u++) {
		for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
			struct sc_profile *prof = NULL;
			struct spd_key *leaf = make(algs[a]);
			EVP_PKEY *pub = be->key_public(leaf);
			uint8_t *d[3], *pder = NULL, *spki = NULL, *got = NULL;
			const uint8_t *t[3], *q;
			size_t l[3], tl[3], pder_len = 0;
			unsigned ku[3];
			X509 *back;
			int spki_len, got_len;

			sc_test_profile_params(&w, &pp);
			pp.generate_alg = algs[a];
			/* The fourth round: SHA-384 leaves, then (next alg) back to SHA-256 and so on,
			 * so the CSK's kept signing context is remade for each change of digest. */
			pp.user_id = uids[u % 3];
			if (u == 3 && a != 1)
				pp.cert_digest = SC_DIGEST_SHA384;
			assert_int_equal(sc_test_profile_make(&w, &pp, &pder, &pder_len), SC_OK);
			assert_int_equal(sc_profile_decode(pder, pder_len, &prof), SC_OK);
			sc_fast_set(1);
			d[0] = issue_one(csk, prof, leaf, csk_cert, 1, &l[0], &ku[0]);
			d[1] = issue_one(csk, prof, leaf, csk_cert, 0, &l[1], &ku[1]);
			sc_fast_set(0);
			d[2] = issue_one(csk, prof, leaf, csk_cert, 1, &l[2], &ku[2]);
			sc_fast_set(1);
			for (int k = 0; k < 3; k++)
				t[k] = tbs_span(d[k], l[k], &tl[k]);
			for (int k = 1; k < 3; k++) {
				/* SEQ hdr, [0]{2}, INTEGER serial (random), then the rest byte for byte */
				assert_int_equal(ku[k], ku[0]);
				assert_int_equal(tl[k], tl[0]);
				assert_int_equal(t[k][9], V_ASN1_INTEGER);
				assert_int_equal(t[k][10], t[0][10]);
				assert_true(11 + (size_t)t[0][10] < tl[0]);
				assert_memory_equal(t[k], t[0], 9);
				assert_memory_equal(t[k] + 11 + t[k][10], t[0] + 11 + t[0][10],
				    tl[0] - 11 - t[0][10]);
			}
			/* Two leaves signed from copies of the CSK's kept context: fresh nonces. */
			{
				const ASN1_BIT_STRING *sg[2];
				const unsigned char *sp;
				ECDSA_SIG *es[2];
				X509 *xx[2];

				for (int k = 0; k < 2; k++) {
					q = d[k];
					assert_non_null(xx[k] = d2i_X509(NULL, &q, (long)l[k]));
					X509_get0_signature(&sg[k], NULL, xx[k]);
					sp = ASN1_STRING_get0_data(sg[k]);
					assert_non_null(es[k] = d2i_ECDSA_SIG(NULL, &sp,
					                    ASN1_STRING_length(sg[k])));
				}
				assert_int_not_equal(BN_cmp(ECDSA_SIG_get0_r(es[0]),
				                         ECDSA_SIG_get0_r(es[1])),
				    0);
				for (int k = 0; k < 2; k++) {
					ECDSA_SIG_free(es[k]);
					X509_free(xx[k]);
				}
			}
			q = d[0];
			assert_non_null(back = d2i_X509(NULL, &q, (long)l[0]));
			assert_ptr_equal(q, d[0] + l[0]);
			assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(back), pub), 1);
			assert_int_equal(X509_verify(back, be->key_public(csk)), 1);
			assert_int_equal(X509_get_signature_nid(back),
			    pp.cert_digest == SC_DIGEST_SHA384 ? NID_ecdsa_with_SHA384
			                                       : NID_ecdsa_with_SHA256);
			assert_true((spki_len = i2d_PUBKEY(pub, &spki)) > 0);
			assert_true(
			    (got_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(back), &got)) > 0);
			assert_int_equal(got_len, spki_len);
			assert_memory_equal(got, spki, (size_t)spki_len);
			OPENSSL_free(spki);
			OPENSSL_free(got);
			X509_free(back);
			for (int k = 0; k < 3; k++)
				OPENSSL_free(d[k]);
			be->key_free(leaf);
			sc_profile_free(prof);
			OPENSSL_free(pder);
		}
	}
	sc_fast_set(1);
	X509_free(csk_cert);
	be->key_free(csk);
	sc_test_world_free(&w);
}

/* sc_fast_spki_set's SPKI of key with the hint set as given: what i2d_PUBKEY writes of key? */
static int spki_is_own(EVP_PKEY *key)
{
	X509 *x = X509_new();
	uint8_t *want = NULL, *got = NULL;
	int done = 0, wl, gl, same;

	assert_non_null(x);
	assert_int_equal(sc_fast_spki_set(x, key, &done), SC_OK);
	assert_int_equal(done, 1);
	wl = i2d_PUBKEY(key, &want);
	gl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
	same = wl > 0 && wl == gl && memcmp(want, got, (size_t)wl) == 0;
	OPENSSL_free(want);
	OPENSSL_free(got);
	X509_free(x);
	return same;
}

/*
 * The hint is used for exactly the key it was set for, only while set, and only if it is an
 * uncompressed point of the key's curve's length: another key, a cleared hint, a compressed,
 * oversize or short point, or one of another curve's length each give the key's own encoding.
 */
static void test_spki_known_hint(void **state)
{
	EVP_PKEY *a = NULL, *b = NULL;
	uint8_t pa[SC_SP_MAX_EC_POINT], pb[SC_SP_MAX_EC_POINT], big[200];
	size_t la = 0, lb = 0;

	(void)state;
	sc_fast_set(1);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &a), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &b), SC_OK);
	assert_int_equal(EVP_PKEY_get_octet_string_param(a, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pa,
	                     sizeof(pa), &la),
	    1);
	assert_int_equal(EVP_PKEY_get_octet_string_param(b, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pb,
	                     sizeof(pb), &lb),
	    1);
	/* Set for a: a's SPKI from the hint is a's; b's is b's own. */
	sc_fast_spki_known_set(a, pa, la);
	assert_true(spki_is_own(a));
	assert_true(spki_is_own(b));
	/* The hint is really what is written for a (b's point given for a shows through). */
	sc_fast_spki_known_set(a, pb, lb);
	assert_false(spki_is_own(a));
	/* Cleared: a's own again. */
	sc_fast_spki_known_clear();
	assert_true(spki_is_own(a));
	/* A compressed point and an oversize one are not taken. */
	pb[0] = 0x02;
	sc_fast_spki_known_set(a, pb, 33);
	assert_true(spki_is_own(a));
	memset(big, 0x04, sizeof(big));
	sc_fast_spki_known_set(a, big, sizeof(big));
	assert_true(spki_is_own(a));
	/* Uncompressed but short (64 bytes), or P-384's length for a P-256 key: the key's own. */
	pb[0] = 0x04;
	memcpy(big, pb, lb);
	sc_fast_spki_known_set(a, pb, lb - 1);
	assert_true(spki_is_own(a));
	memset(big + lb, 0x11, 97 - lb);
	sc_fast_spki_known_set(a, big, 97);
	assert_true(spki_is_own(a));
	sc_fast_spki_known_clear();
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* The counter starts at 0 and only ever moves up by one. */
static void test_counter(void **state)
{
	char dir[512];
	uint64_t v = 99, i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	assert_int_equal(be->counter_read(be, dir, &v), SC_ERR_STORE_DAMAGED);
	assert_int_equal(be->counter_create(be, dir), SC_OK);
	assert_int_equal(be->counter_read(be, dir, &v), SC_OK);
	assert_int_equal(v, 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(be->counter_increment(be, dir, v), SC_OK);
		assert_int_equal(be->counter_read(be, dir, &v), SC_OK);
		assert_int_equal(v, i + 1);
	}
	assert_int_equal(be->counter_increment(be, dir, UINT64_MAX), SC_ERR_STORE_FULL);
	assert_int_equal(be->counter_read(be, dir, &v), SC_OK);
	assert_int_equal(v, 5);
	/* Kept open: incremented in place, read back between steps; not kept: replaced, then kept. */
	{
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;

		assert_true(dfd >= 0);
		assert_int_equal(be->counter_keep(be, dir, dfd, &fd), SC_OK);
		assert_true(fd >= 0);
		for (i = 0; i < 4; i++) {
			assert_int_equal(be->counter_increment_kept(be, dir, dfd, &fd, v), SC_OK);
			assert_int_equal(be->counter_read(be, dir, &v), SC_OK);
			assert_int_equal(v, 6 + i);
		}
		assert_int_equal(be->counter_increment_kept(be, dir, dfd, &fd, UINT64_MAX),
		    SC_ERR_STORE_FULL);
		close(fd);
		fd = -1;
		assert_int_equal(be->counter_increment_kept(be, dir, dfd, &fd, v), SC_OK);
		assert_true(fd >= 0);
		assert_int_equal(be->counter_read(be, dir, &v), SC_OK);
		assert_int_equal(v, 10);
		close(fd);
		close(dfd);
	}
	sc_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_sign_verify),
		cmocka_unit_test(test_keygen_context),
		cmocka_unit_test(test_blob_load),
		cmocka_unit_test(test_csr),
		cmocka_unit_test(test_decrypt),
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_issue_leaf_key),
		cmocka_unit_test(test_spki_known_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
