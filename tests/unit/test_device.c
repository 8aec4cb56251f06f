// SPDX-License-Identifier: Apache-2.0
/*
 * test_device.c — sc_device_verify (device.c): a device's CA and KEK certificates judged under
 * the manufacturer root, each refusal with its code, its detail and the input it blames, with
 * and without a shared store and a signature cache (which must not change a verdict).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <selfcert/alg.h>
#include <selfcert/cache.h>
#include <selfcert/device.h>
#include <selfcert/err.h>

#include "testworld.h"

struct fixture {
	struct sc_test_world w, other; /* other: another manufacturer's root and CA */
	EVP_PKEY *ca2_key, *key;       /* a second manufacturer CA under w's root; a spare key */
	X509 *ca2;
	struct sc_sig_cache *sigs;
	X509_STORE *store;
};

static int setup(void **state)
{
	static struct fixture f;
	struct sc_test_world_opts o = { .mfr = "Other" };

	memset(&f, 0, sizeof(f));
	assert_int_equal(sc_test_world_make(NULL, &f.w), SC_OK);
	assert_int_equal(sc_test_world_make(&o, &f.other), SC_OK);
	assert_int_equal(sc_test_world_mfr_ca(&f.w, "Second", &f.ca2_key, &f.ca2), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &f.key), SC_OK);
	assert_int_equal(sc_sig_cache_new(64, &f.sigs), SC_OK);
	assert_non_null(f.store = X509_STORE_new());
	assert_true(X509_STORE_add_cert(f.store, f.w.mfr_root));
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	X509_STORE_free(f->store);
	sc_sig_cache_free(f->sigs);
	X509_free(f->ca2);
	EVP_PKEY_free(f->ca2_key);
	EVP_PKEY_free(f->key);
	sc_test_world_free(&f->other);
	sc_test_world_free(&f->w);
	return 0;
}

/*
 * One verdict, three ways (a store per call; the caller's store; the caller's store and a
 * signature cache, twice so the second asks a filled cache): the same code, detail and part.
 */
static void expect(const struct fixture *f, X509 *root, X509 *const *chain, int n, X509 *kek,
    sc_err want, enum sc_device_part want_part, const char *want_detail, const char *want_id)
{
	struct sc_device_trust t[4] = {
		{ root, NULL, NULL },
		{ root, root == f->w.mfr_root ? f->store : NULL, NULL },
		{ root, root == f->w.mfr_root ? f->store : NULL, f->sigs },
		{ root, root == f->w.mfr_root ? f->store : NULL, f->sigs },
	};
	STACK_OF(X509) *sk = sk_X509_new_null();
	char id[SC_DEVICE_ID_MAX + 1], first[512] = "";
	enum sc_device_part part = SC_DEVICE_PART_NONE;

	assert_non_null(sk);
	for (int i = 0; i < n; i++)
		assert_true(sk_X509_push(sk, chain[i]) > 0);
	for (size_t i = 0; i < 4; i++) {
		memset(id, 'x', sizeof(id));
		assert_int_equal(sc_device_verify(&t[i], sk, kek, id, &part), want);
		assert_int_equal(part, want_part);
		assert_string_equal(id, want_id);
		assert_int_equal(ERR_peek_error(), 0);
		if (want == SC_OK)
			continue;
		if (want_detail != NULL && strstr(sc_err_detail(), want_detail) == NULL)
			fail_msg("detail '%s', expected '%s'", sc_err_detail(), want_detail);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", sc_err_detail());
		else
			assert_string_equal(sc_err_detail(), first);
	}
	sk_X509_free(sk);
}

static void test_genuine(void **state)
{
	struct fixture *f = *state;
	X509 *chain[] = { f->w.device_ca, f->w.mfr_ca };
	X509 *with_root[] = { f->w.device_ca, f->w.mfr_ca, f->w.mfr_root };

	expect(f, f->w.mfr_root, chain, 2, f->w.kek_cert, SC_OK, SC_DEVICE_PART_NONE, NULL,
	    SC_TEST_DEV);
	/* The root in the chain too, as a device may send it: still the same verdict. */
	expect(f, f->w.mfr_root, with_root, 3, f->w.kek_cert, SC_OK, SC_DEVICE_PART_NONE, NULL,
	    SC_TEST_DEV);
}

/* The device CA's form, before any path validation: the chain is blamed, no ID or its ID. */
static void test_not_device_ca(void **state)
{
	struct fixture *f = *state;
	X509 *mfr_first[] = { f->w.mfr_ca };
	X509 *no_pathlen = NULL, *no_nc = NULL, *no_ku = NULL;
	struct sc_test_cert c = { .serial_number = SC_TEST_DEV,
		.o = SC_TEST_MFR,
		.cn = "dev CA",
		.pub = f->key,
		.issuer = f->w.mfr_ca,
		.issuer_key = f->w.mfr_ca_key };

	expect(f, f->w.mfr_root, mfr_first, 1, f->w.kek_cert, SC_ERR_NOT_DEVICE_CA,
	    SC_DEVICE_PART_CHAIN, "the first certificate is not a device CA", "");
	c.bc = "critical,CA:TRUE";
	c.ku = "critical,keyCertSign";
	c.nc_serial = SC_TEST_DEV;
	assert_int_equal(sc_test_cert_make(&c, &no_pathlen), SC_OK);
	expect(f, f->w.mfr_root, (X509 *[]){ no_pathlen, f->w.mfr_ca }, 2, f->w.kek_cert,
	    SC_ERR_NOT_DEVICE_CA, SC_DEVICE_PART_CHAIN,
	    "the device CA for " SC_TEST_DEV " is not limited to pathlen 0", SC_TEST_DEV);
	c.bc = "critical,CA:TRUE,pathlen:0";
	c.nc_serial = NULL;
	assert_int_equal(sc_test_cert_make(&c, &no_nc), SC_OK);
	expect(f, f->w.mfr_root, (X509 *[]){ no_nc, f->w.mfr_ca }, 2, f->w.kek_cert,
	    SC_ERR_NOT_DEVICE_CA, SC_DEVICE_PART_CHAIN, "lacks critical name constraints",
	    SC_TEST_DEV);
	c.ku = "critical,digitalSignature";
	c.nc_serial = SC_TEST_DEV;
	assert_int_equal(sc_test_cert_make(&c, &no_ku), SC_OK);
	expect(f, f->w.mfr_root, (X509 *[]){ no_ku, f->w.mfr_ca }, 2, f->w.kek_cert,
	    SC_ERR_NOT_DEVICE_CA, SC_DEVICE_PART_CHAIN, "not a device CA", "");
	X509_free(no_pathlen);
	X509_free(no_nc);
	X509_free(no_ku);
}

/* Path validation of the device CA: the chain is blamed, with OpenSSL's reason. */
static void test_device_ca_path(void **state)
{
	struct fixture *f = *state;
	X509 *alone[] = { f->w.device_ca };
	X509 *chain[] = { f->w.device_ca, f->w.mfr_ca };
	X509 *foreign[] = { f->other.device_ca, f->other.mfr_ca };

	expect(f, f->w.mfr_root, alone, 1, f->w.kek_cert, SC_ERR_CHAIN, SC_DEVICE_PART_CHAIN,
	    "the device CA does not chain to the manufacturer root: unable to get local issuer "
	    "certificate (depth 0)",
	    SC_TEST_DEV);
	expect(f, f->other.mfr_root, chain, 2, f->w.kek_cert, SC_ERR_CHAIN, SC_DEVICE_PART_CHAIN,
	    "the device CA does not chain to the manufacturer root", SC_TEST_DEV);
	expect(f, f->w.mfr_root, foreign, 2, f->other.kek_cert, SC_ERR_CHAIN, SC_DEVICE_PART_CHAIN,
	    "the device CA does not chain", SC_TEST_DEV);
}

/* The KEK: another device's, a CA, not chaining, or from another manufacturer CA. */
static void test_kek(void **state)
{
	struct fixture *f = *state;
	X509 *chain[] = { f->w.device_ca, f->w.mfr_ca };
	X509 *both_cas[] = { f->w.device_ca, f->w.mfr_ca, f->ca2 };
	X509 *other_dev = NULL, *by_ca2 = NULL;
	struct sc_test_world w2 = f->w;

	assert_int_equal(sc_test_world_kek(&f->w, f->key, "SN-0002", &other_dev), SC_OK);
	expect(f, f->w.mfr_root, chain, 2, other_dev, SC_ERR_KEK_MISMATCH, SC_DEVICE_PART_KEK,
	    "the KEK certificate is not device " SC_TEST_DEV "'s (subject serialNumber differs)",
	    SC_TEST_DEV);
	expect(f, f->w.mfr_root, chain, 2, f->w.device_ca, SC_ERR_KEK_MISMATCH, SC_DEVICE_PART_KEK,
	    "is a CA certificate, not a key-exchange certificate", SC_TEST_DEV);
	/* By a second manufacturer CA of the same root: not chaining without it, and with it in
	 * the chain, chaining but from another issuer than the device CA's. */
	w2.mfr_ca = f->ca2;
	w2.mfr_ca_key = f->ca2_key;
	assert_int_equal(sc_test_world_kek(&w2, f->key, SC_TEST_DEV, &by_ca2), SC_OK);
	expect(f, f->w.mfr_root, chain, 2, by_ca2, SC_ERR_CHAIN, SC_DEVICE_PART_KEK,
	    "the KEK certificate does not chain to the manufacturer root: unable to get local "
	    "issuer certificate (depth 0)",
	    SC_TEST_DEV);
	expect(f, f->w.mfr_root, both_cas, 3, by_ca2, SC_ERR_KEK_MISMATCH, SC_DEVICE_PART_KEK,
	    "the KEK certificate was issued by another CA than the device CA", SC_TEST_DEV);
	X509_free(other_dev);
	X509_free(by_ca2);
}

/*
 * dur11 review: kek NULL judges the device CA's half only (provd's carried chain): the same
 * form and path refusals, nothing about a KEK.
 */
static void test_no_kek(void **state)
{
	struct fixture *f = *state;
	X509 *chain[] = { f->w.device_ca, f->w.mfr_ca };
	X509 *alone[] = { f->w.device_ca };
	X509 *no_nc = NULL;
	struct sc_test_cert c = { .serial_number = SC_TEST_DEV,
		.o = SC_TEST_MFR,
		.cn = "dev CA",
		.pub = f->key,
		.issuer = f->w.mfr_ca,
		.issuer_key = f->w.mfr_ca_key,
		.bc = "critical,CA:TRUE,pathlen:0",
		.ku = "critical,keyCertSign" };

	expect(f, f->w.mfr_root, chain, 2, NULL, SC_OK, SC_DEVICE_PART_NONE, NULL, SC_TEST_DEV);
	assert_int_equal(sc_test_cert_make(&c, &no_nc), SC_OK);
	expect(f, f->w.mfr_root, (X509 *[]){ no_nc, f->w.mfr_ca }, 2, NULL, SC_ERR_NOT_DEVICE_CA,
	    SC_DEVICE_PART_CHAIN,
	    "the device CA for " SC_TEST_DEV " lacks critical name constraints", SC_TEST_DEV);
	expect(f, f->w.mfr_root, alone, 1, NULL, SC_ERR_CHAIN, SC_DEVICE_PART_CHAIN,
	    "the device CA does not chain to the manufacturer root: unable to get local issuer "
	    "certificate (depth 0)",
	    SC_TEST_DEV);
	X509_free(no_nc);
}

static void test_usage(void **state)
{
	struct fixture *f = *state;
	struct sc_device_trust t = { f->w.mfr_root, NULL, NULL }, none = { NULL, NULL, NULL };
	STACK_OF(X509) *empty = sk_X509_new_null(), *one = sk_X509_new_null();
	enum sc_device_part part = SC_DEVICE_PART_CHAIN;
	char id[SC_DEVICE_ID_MAX + 1];

	assert_non_null(empty);
	assert_true(sk_X509_push(one, f->w.device_ca) > 0);
	assert_int_equal(sc_device_verify(&t, empty, f->w.kek_cert, id, &part), SC_ERR_USAGE);
	assert_int_equal(part, SC_DEVICE_PART_NONE);
	assert_int_equal(sc_device_verify(&t, NULL, f->w.kek_cert, id, &part), SC_ERR_USAGE);
	assert_int_equal(sc_device_verify(&none, one, f->w.kek_cert, id, &part), SC_ERR_USAGE);
	assert_int_equal(sc_device_verify(NULL, one, f->w.kek_cert, id, &part), SC_ERR_USAGE);
	assert_string_equal(id, "");
	assert_string_equal(sc_err_name(SC_ERR_KEK_MISMATCH), "kek-mismatch");
	assert_int_equal(sc_err_exit_code(SC_ERR_KEK_MISMATCH), 1);
	sk_X509_free(empty);
	sk_X509_free(one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine),
		cmocka_unit_test(test_not_device_ca),
		cmocka_unit_test(test_device_ca_path),
		cmocka_unit_test(test_kek),
		cmocka_unit_test(test_no_kek),
		cmocka_unit_test(test_usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
