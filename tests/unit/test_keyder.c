// SPDX-License-Identifier: Apache-2.0
/*
 * test_keyder.c — the SP's private-key DER (src/spd/keyder.c): the hand-written PKCS#8 shortcut
 * against the plain OpenSSL path, byte for byte, and the strict reader.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include "fast/fast.h"
#include "spd.h"

static int fast_default;

/*
 * ISSUE writes a leaf key's PKCS#8 itself (spd_leaf_key_der's shortcut): byte for byte what
 * spd_key_der (EVP_PKEY2PKCS8) writes, for many keys of each kind, a P-256 scalar with a
 * leading zero byte among them (padding), and RSA through the fallback. With the shortcuts off
 * spd_leaf_key_der is the plain path itself; both read back to the same key.
 */
static void same_pkcs8(EVP_PKEY *k)
{
	uint8_t *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;

	EVP_PKEY *back = NULL;

	assert_int_equal(spd_key_der(k, &a, &al), SC_OK);
	sc_fast_set(1);
	assert_int_equal(spd_leaf_key_der(k, &b, &bl), SC_OK);
	assert_int_equal(bl, al);
	assert_memory_equal(b, a, al);
	spd_key_der_free(b, bl);
	sc_fast_set(0);
	assert_int_equal(spd_leaf_key_der(k, &b, &bl), SC_OK);
	sc_fast_set(fast_default);
	assert_int_equal(bl, al);
	assert_memory_equal(b, a, al);
	assert_int_equal(spd_key_from_der(b, bl, sc_alg_of_key(k), &back, "test"), SC_OK);
	assert_int_equal(EVP_PKEY_eq(back, k), 1);
	EVP_PKEY_free(back);
	spd_key_der_free(a, al);
	spd_key_der_free(b, bl);
}

static void test_leaf_key_der(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519 };
	EVP_PKEY *k = NULL;
	BIGNUM *priv = NULL;
	int found = 0;

	(void)state;
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++)
		for (int i = 0; i < 32; i++) {
			assert_int_equal(sc_alg_keygen(algs[a], &k), SC_OK);
			same_pkcs8(k);
			EVP_PKEY_free(k);
		}
	/* A scalar shorter than the order: about 1 key in 256; 4096 tries miss it once in 10^7. */
	for (int i = 0; i < 4096 && !found; i++) {
		assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
		assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv));
		if (BN_num_bytes(priv) < 32) {
			found = 1;
			same_pkcs8(k);
		}
		BN_clear_free(priv);
		priv = NULL;
		EVP_PKEY_free(k);
	}
	assert_true(found);
	assert_int_equal(sc_alg_keygen(SC_ALG_RSA2048, &k), SC_OK);
	same_pkcs8(k);
	EVP_PKEY_free(k);
}

/* The reader takes exactly one PKCS#8 of the stated algorithm, and says so otherwise. */
static void test_key_from_der_refusals(void **state)
{
	EVP_PKEY *k = NULL, *back = NULL;
	uint8_t *der = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(spd_key_der(k, &der, &len), SC_OK);
	assert_int_equal(spd_key_from_der(der, len, SC_ALG_P384, &back, "leaf key"),
	    SC_ERR_STORE_DAMAGED);
	assert_string_equal(sc_err_detail(), "store: leaf key: not a p384 key");
	assert_null(back);
	assert_int_equal(spd_key_from_der(der, len - 1, SC_ALG_P256, &back, "CSK"),
	    SC_ERR_STORE_DAMAGED);
	assert_string_equal(sc_err_detail(), "store: CSK: not a PKCS#8 key");
	assert_null(back);
	spd_key_der_free(der, len);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_key_der),
		cmocka_unit_test(test_key_from_der_refusals),
	};

	fast_default = sc_fast_enabled();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
