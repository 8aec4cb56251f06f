// SPDX-License-Identifier: Apache-2.0
/*
 * test_alg.c — algorithm and digest names, key generation for the six algorithms, which keys
 * are and are not ours (RSA-1024, secp256k1, X25519, P-521, …), and the signing digest choice.
 * Keys are generated once for the file (RSA-4096 takes seconds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>

static EVP_PKEY *keys[SC_ALG_MAX + 1]; /* by enum sc_alg; [0] unused */

static int group_setup(void **state)
{
	(void)state;
	for (int a = SC_ALG_RSA2048; a <= SC_ALG_MAX; a++)
		if (sc_alg_keygen((enum sc_alg)a, &keys[a]) != SC_OK || keys[a] == NULL)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int a = 0; a <= SC_ALG_MAX; a++)
		EVP_PKEY_free(keys[a]);
	return 0;
}

static void test_alg_names(void **state)
{
	static const char *const want[] = { NULL, "rsa2048", "rsa3072", "rsa4096", "p256", "p384",
		"ed25519" };

	(void)state;
	for (int a = SC_ALG_RSA2048; a <= SC_ALG_MAX; a++) {
		enum sc_alg got = SC_ALG_NONE;

		assert_string_equal(sc_alg_name((enum sc_alg)a), want[a]);
		assert_int_equal(sc_alg_from_name(want[a], &got), SC_OK);
		assert_int_equal(got, a);
		assert_true(sc_alg_valid(a));
	}
	assert_null(sc_alg_name(SC_ALG_NONE));
	assert_null(sc_alg_name((enum sc_alg)(SC_ALG_MAX + 1)));
	assert_null(sc_alg_name((enum sc_alg) - 1));
	assert_false(sc_alg_valid(SC_ALG_NONE));
	assert_false(sc_alg_valid(SC_ALG_MAX + 1));
	assert_false(sc_alg_valid(-1));
	assert_false(sc_alg_valid(255));

	assert_true(sc_alg_is_rsa(SC_ALG_RSA2048));
	assert_true(sc_alg_is_rsa(SC_ALG_RSA3072));
	assert_true(sc_alg_is_rsa(SC_ALG_RSA4096));
	assert_false(sc_alg_is_rsa(SC_ALG_P256));
	assert_false(sc_alg_is_rsa(SC_ALG_P384));
	assert_false(sc_alg_is_rsa(SC_ALG_ED25519));
	assert_false(sc_alg_is_rsa(SC_ALG_NONE));
}

static void test_alg_unknown_names(void **state)
{
	static const char *const bad[] = { "", "rsa", "rsa1024", "RSA2048", "P256", "p256 ",
		" p256", "p521", "secp256k1", "x25519", "ed448", "ed25519\n", "rsa20480" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum sc_alg got = SC_ALG_P384; /* untouched on failure */

		sc_err_clear();
		assert_int_equal(sc_alg_from_name(bad[i], &got), SC_ERR_ALGORITHM);
		assert_int_equal(got, SC_ALG_P384);
		/* The detail names what was given and what would be accepted. */
		assert_non_null(strstr(sc_err_detail(), "ed25519"));
		if (bad[i][0] != '\0')
			assert_non_null(strstr(sc_err_detail(), bad[i]));
	}
	{
		enum sc_alg got = SC_ALG_NONE;
		assert_int_equal(sc_alg_from_name(NULL, &got), SC_ERR_ALGORITHM);
	}
}

static void test_keygen_and_classify(void **state)
{
	static const int bits[] = { 0, 2048, 3072, 4096, 256, 384, 256 };

	(void)state;
	for (int a = SC_ALG_RSA2048; a <= SC_ALG_MAX; a++) {
		assert_non_null(keys[a]);
		assert_int_equal(sc_alg_of_key(keys[a]), a);
		assert_int_equal(EVP_PKEY_get_bits(keys[a]), bits[a]);
	}
	assert_int_equal(EVP_PKEY_get_base_id(keys[SC_ALG_RSA2048]), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_base_id(keys[SC_ALG_P256]), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_base_id(keys[SC_ALG_ED25519]), EVP_PKEY_ED25519);
	/* Two generations give two keys. */
	{
		EVP_PKEY *k = NULL;
		assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
		assert_int_not_equal(EVP_PKEY_eq(k, keys[SC_ALG_P256]), 1);
		EVP_PKEY_free(k);
	}
}

static void test_keygen_refuses_others(void **state)
{
	static const int bad[] = { SC_ALG_NONE, SC_ALG_MAX + 1, -1, 255 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EVP_PKEY *k = (EVP_PKEY *)&k; /* must be reset to NULL */

		assert_int_equal(sc_alg_keygen((enum sc_alg)bad[i], &k), SC_ERR_ALGORITHM);
		assert_null(k);
	}
}

/* A key the public-key round trip gives back (what a certificate or CSR would carry). */
static EVP_PKEY *via_spki(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *out;
	int n = i2d_PUBKEY(k, &der);

	assert_true(n > 0);
	p = der;
	out = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	assert_non_null(out);
	return out;
}

static void test_foreign_keys_are_none(void **state)
{
	EVP_PKEY *k;

	(void)state;
	assert_int_equal(sc_alg_of_key(NULL), SC_ALG_NONE);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	/* One bit short of ours is not ours either. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2040);
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "X448");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);

	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	assert_non_null(k);
	assert_int_equal(sc_alg_of_key(k), SC_ALG_NONE);
	EVP_PKEY_free(k);
}

/* Our keys survive the SubjectPublicKeyInfo round trip with the same classification. */
static void test_classify_public_halves(void **state)
{
	(void)state;
	for (int a = SC_ALG_RSA2048; a <= SC_ALG_MAX; a++) {
		EVP_PKEY *pub = via_spki(keys[a]);

		assert_int_equal(sc_alg_of_key(pub), a);
		EVP_PKEY_free(pub);
	}
}

static void test_digests(void **state)
{
	static const char *const want[] = { NULL, "sha256", "sha384", "sha512" };
	static const int size[] = { 0, 32, 48, 64 };

	(void)state;
	for (int d = SC_DIGEST_SHA256; d <= SC_DIGEST_SHA512; d++) {
		enum sc_digest got = SC_DIGEST_NONE;

		assert_string_equal(sc_digest_name((enum sc_digest)d), want[d]);
		assert_int_equal(sc_digest_from_name(want[d], &got), SC_OK);
		assert_int_equal(got, d);
		assert_non_null(sc_digest_md((enum sc_digest)d));
		assert_int_equal(EVP_MD_get_size(sc_digest_md((enum sc_digest)d)), size[d]);
	}
	assert_null(sc_digest_name(SC_DIGEST_NONE));
	assert_null(sc_digest_name((enum sc_digest)4));
	assert_null(sc_digest_md(SC_DIGEST_NONE));
	assert_null(sc_digest_md((enum sc_digest)4));
	{
		static const char *const bad[] = { "", "sha1", "md5", "SHA256", "sha-256",
			"sha3-256" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			enum sc_digest got = SC_DIGEST_SHA512;
			assert_int_equal(sc_digest_from_name(bad[i], &got), SC_ERR_USAGE);
			assert_int_equal(got, SC_DIGEST_SHA512);
			assert_non_null(strstr(sc_err_detail(), bad[i]));
		}
		enum sc_digest got = SC_DIGEST_NONE;
		assert_int_equal(sc_digest_from_name(NULL, &got), SC_ERR_USAGE);
	}

	assert_int_equal(sc_alg_default_digest(SC_ALG_RSA2048), SC_DIGEST_SHA256);
	assert_int_equal(sc_alg_default_digest(SC_ALG_RSA3072), SC_DIGEST_SHA256);
	assert_int_equal(sc_alg_default_digest(SC_ALG_RSA4096), SC_DIGEST_SHA256);
	assert_int_equal(sc_alg_default_digest(SC_ALG_P256), SC_DIGEST_SHA256);
	assert_int_equal(sc_alg_default_digest(SC_ALG_P384), SC_DIGEST_SHA384);
	assert_int_equal(sc_alg_default_digest(SC_ALG_ED25519), SC_DIGEST_NONE);
}

static void test_sign_md(void **state)
{
	(void)state;
	/* Ed25519 signs pure: NULL whatever is asked. */
	for (int d = SC_DIGEST_NONE; d <= SC_DIGEST_SHA512; d++)
		assert_null(sc_sign_md(keys[SC_ALG_ED25519], (enum sc_digest)d));
	/* Others: the asked digest, or the key's default for NONE. */
	assert_ptr_equal(sc_sign_md(keys[SC_ALG_P384], SC_DIGEST_NONE), EVP_sha384());
	assert_ptr_equal(sc_sign_md(keys[SC_ALG_P256], SC_DIGEST_NONE), EVP_sha256());
	assert_ptr_equal(sc_sign_md(keys[SC_ALG_RSA3072], SC_DIGEST_NONE), EVP_sha256());
	assert_ptr_equal(sc_sign_md(keys[SC_ALG_P256], SC_DIGEST_SHA512), EVP_sha512());
	assert_ptr_equal(sc_sign_md(keys[SC_ALG_RSA2048], SC_DIGEST_SHA384), EVP_sha384());
	assert_ptr_equal(sc_sign_md(keys[SC_ALG_P384], SC_DIGEST_SHA256), EVP_sha256());
}

/* What sc_sign_md returns is what OpenSSL needs: every key signs and verifies with it. */
static void test_sign_md_signs(void **state)
{
	static const unsigned char msg[] = "selfcert";

	(void)state;
	for (int a = SC_ALG_RSA2048; a <= SC_ALG_MAX; a++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY *pub = via_spki(keys[a]);
		const EVP_MD *md = sc_sign_md(keys[a], SC_DIGEST_NONE);
		unsigned char sig[1024];
		size_t sig_len = sizeof(sig);

		assert_non_null(ctx);
		assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, keys[a]), 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, msg, sizeof(msg)), 1);
		EVP_MD_CTX_reset(ctx);
		assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub), 1);
		assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, msg, sizeof(msg)), 1);
		if (a == SC_ALG_ED25519)
			assert_int_equal(sig_len, 64);
		EVP_MD_CTX_free(ctx);
		EVP_PKEY_free(pub);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_alg_unknown_names),
		cmocka_unit_test(test_keygen_and_classify),
		cmocka_unit_test(test_keygen_refuses_others),
		cmocka_unit_test(test_foreign_keys_are_none),
		cmocka_unit_test(test_classify_public_halves),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_sign_md),
		cmocka_unit_test(test_sign_md_signs),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
