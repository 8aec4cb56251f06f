// SPDX-License-Identifier: Apache-2.0
/*
 * test_leaf_ref_renew.c — renew13 (#17): a renewal profile's window-first certificate judged in
 * DER by sc_leaf_first_judge (the SP's own builder, leaf_tbs, for the leaf's period), and its
 * siblings' reference made from that DER without an X509 of the leaf (sc_leaf_ref_new_der).
 * Each is judged beside the full check (sc_verify_chain with provd's options at the time
 * provd's cert_verify uses: the leaf's notBefore when later than now): every period of the
 * profile passes both; a wrong period, a validity one step off, a period past the count,
 * another device's leaf, a leaf re-signed with another key, trailing data and truncated DER are
 * not judged, and the full check names the refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cache.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "fast/fast.h"
#include "fast/leaf_ref.h"
#include "fast/x509.h"
#include "text.h"
#include "testworld.h"

#define CAD 3600
#define COUNT 4

static struct sc_test_world world;
static struct sc_profile *prof;
static X509 *leaf[COUNT];
static uint8_t *der[COUNT];
static size_t der_len[COUNT];
static STACK_OF(X509) *chain; /* as selfcert-provd's certificate cache holds it */
static time_t now, nb0;
static const char *nets[2];

static void to_der(X509 *x, uint8_t **out, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(x, &p);

	assert_true(n > 0);
	*out = p;
	*len = (size_t)n;
}

static X509 *legacy(X509 *x)
{
	uint8_t *d = NULL;
	size_t len = 0;
	X509 *y = NULL;

	to_der(x, &d, &len);
	assert_int_equal(sc_fast_cert_from_der(d, len, &y), SC_OK);
	OPENSSL_free(d);
	return y;
}

static X509 *issue(struct sc_profile *p, uint32_t index, uint64_t counter, X509 *ca,
    EVP_PKEY *ca_key)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	assert_int_equal(sc_profile_set_renewal_index(p, index), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(p, key, ca, ca_key, counter, &x), SC_OK);
	EVP_PKEY_free(key);
	return x;
}

static struct sc_profile *renewal_profile(const char *device_id)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;

	sc_test_profile_params(&world, &pp);
	if (device_id != NULL)
		pp.device_id = device_id;
	pp.not_before = nb0;
	pp.not_after = nb0 + 2 * CAD;
	pp.renewal_count = COUNT;
	pp.renewal_cadence = CAD;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	return p;
}

static int group_setup(void **state)
{
	STACK_OF(X509) *plain;

	(void)state;
	/* The references are provd's: they are made from certificates its cache parsed with the
	 * shortcut, which the clang reference build (SC_SHORTCUTS=OFF) starts with off. */
	sc_fast_set(1);
	assert_int_equal(sc_test_world_make(NULL, &world), SC_OK);
	now = time(NULL);
	nb0 = now - 30;
	prof = renewal_profile(NULL);
	for (uint32_t i = 0; i < COUNT; i++) {
		leaf[i] = issue(prof, i, 10 + i, world.device_ca, world.csk);
		to_der(leaf[i], &der[i], &der_len[i]);
	}
	sc_fast_x509_set(1);
	plain = sc_test_world_chain(&world);
	assert_non_null(plain);
	chain = sk_X509_new_null();
	assert_non_null(chain);
	for (int i = 0; i < sk_X509_num(plain); i++)
		assert_true(sk_X509_push(chain, legacy(sk_X509_value(plain, i))) > 0);
	sk_X509_free(plain);
	nets[0] = world.network_id;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < COUNT; i++) {
		X509_free(leaf[i]);
		OPENSSL_free(der[i]);
	}
	sk_X509_pop_free(chain, X509_free);
	sc_profile_free(prof);
	sc_test_world_free(&world);
	return 0;
}

/* provd's options for a kept profile (cert_first / cert_verify), judged at now. */
static void opts_of(struct sc_verify_opts *o, struct sc_sig_cache *c)
{
	memset(o, 0, sizeof(*o));
	o->mfr_root = world.mfr_root;
	o->chain = chain;
	o->allowed_networks = nets;
	o->profile = prof;
	o->net_root = world.net_root;
	o->at = now;
	o->profile_trusted = 1;
	o->sig_cache = c;
}

/* The full path: the leaf parsed, validated at its notBefore when that is later (cert_verify). */
static sc_err full(const uint8_t *d, size_t len)
{
	const unsigned char *q = d;
	X509 *x = d2i_X509(NULL, &q, (long)len);
	struct sc_verify_opts o;
	time_t nb = 0;
	sc_err r;

	if (x == NULL)
		return SC_ERR_MALFORMED;
	opts_of(&o, NULL);
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(x), &nb) == SC_OK && nb > now)
		o.at = nb;
	sc_err_clear();
	r = sc_verify_chain(x, &o, NULL);
	X509_free(x);
	return r;
}

/* Not judged; the full check refuses with want, its detail containing detail. */
static void refused(const uint8_t *d, size_t len, sc_err want, const char *detail)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;

	opts_of(&o, NULL);
	assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 0);
	assert_int_equal(full(d, len), want);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", sc_err_detail(), detail);
	sc_err_clear();
}

/* A copy of leaf i with its validity set to [nb, na), re-signed by key. */
static void edited(uint32_t i, time_t nb, time_t na, EVP_PKEY *key, uint8_t **d, size_t *len)
{
	X509 *y = X509_dup(leaf[i]);

	assert_non_null(y);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(y), nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(y), na));
	assert_true(X509_sign(y, key, EVP_sha256()) > 0);
	to_der(y, d, len);
	X509_free(y);
}

/* Every period of the profile is judged in DER, as the full check accepts it. */
static void test_renew_judged(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	uint8_t md[32];

	(void)state;
	opts_of(&o, NULL);
	for (uint32_t i = 0; i < COUNT; i++) {
		assert_int_equal(sc_leaf_first_judge(der[i], der_len[i], &o, &f), 1);
		assert_int_equal(sc_leaf_first_judge_last_form(), 1);
		assert_int_equal(f.renewal, 1);
		assert_int_equal(f.index, i);
		assert_int_equal(f.counter, 10 + i);
		assert_int_equal(f.not_before, nb0 + (time_t)i * CAD);
		assert_int_equal(f.not_after, nb0 + (time_t)i * CAD + 2 * CAD);
		EVP_Digest(der[i], der_len[i], md, NULL, EVP_sha256(), NULL);
		assert_memory_equal(f.fpr, md, 32);
		assert_int_equal(full(der[i], der_len[i]), SC_OK);
	}
}

/* The refusals: each not judged, each the full check's exact error. */
static void test_renew_refused(void **state)
{
	EVP_PKEY *other = NULL, *okey = NULL;
	struct sc_profile *oprof;
	X509 *oca = NULL, *ol;
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	/* Period 1's certificate with a notBefore one second off: no period's. */
	edited(1, nb0 + CAD + 1, nb0 + 3 * CAD + 1, world.csk, &d, &len);
	refused(d, len, SC_ERR_BINDING, "none of the renewal profile's 4 periods");
	OPENSSL_free(d);
	/* Period 1's notBefore with period 0's notAfter (the wrong index for one of its times). */
	edited(1, nb0 + CAD, nb0 + 2 * CAD, world.csk, &d, &len);
	refused(d, len, SC_ERR_BINDING, "validity.notAfter differs from the profile's");
	OPENSSL_free(d);
	/* Period 1's notBefore, its notAfter one step later (validity off by one step). */
	edited(1, nb0 + CAD, nb0 + 4 * CAD, world.csk, &d, &len);
	refused(d, len, SC_ERR_BINDING, "validity.notAfter differs from the profile's");
	OPENSSL_free(d);
	/* Past the count: period COUNT, signed by the device CA itself. */
	edited(COUNT - 1, nb0 + (time_t)COUNT * CAD, nb0 + (time_t)COUNT * CAD + 2 * CAD, world.csk,
	    &d, &len);
	refused(d, len, SC_ERR_BINDING, "none of the renewal profile's 4 periods");
	OPENSSL_free(d);
	/* Re-signed with another key. */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
	edited(0, nb0, nb0 + 2 * CAD, other, &d, &len);
	refused(d, len, SC_ERR_CHAIN, "signature failure");
	OPENSSL_free(d);
	/* Another device's leaf (its own device CA and renewal profile). */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &okey), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, okey, "DEV-OTHER", &oca), SC_OK);
	oprof = renewal_profile("DEV-OTHER");
	ol = issue(oprof, 0, 1, oca, okey);
	to_der(ol, &d, &len);
	refused(d, len, SC_ERR_CHAIN, NULL);
	OPENSSL_free(d);
	X509_free(ol);
	sc_profile_free(oprof);
	X509_free(oca);
	/* Trailing data and truncated DER: never judged (provd's text reader refuses both before
	 * the full check: test_provd_activate). */
	{
		struct sc_verify_opts o;
		struct sc_leaf_fast f;
		uint8_t *t = OPENSSL_malloc(der_len[0] + 1);

		assert_non_null(t);
		memcpy(t, der[0], der_len[0]);
		t[der_len[0]] = 0;
		opts_of(&o, NULL);
		assert_int_equal(sc_leaf_first_judge(t, der_len[0] + 1, &o, &f), 0);
		assert_int_equal(sc_leaf_first_judge(t, der_len[0] - 1, &o, &f), 0);
		assert_int_equal(full(t, der_len[0] - 1), SC_ERR_MALFORMED);
		OPENSSL_free(t);
	}
	EVP_PKEY_free(okey);
	EVP_PKEY_free(other);
}

/* Every byte of a period's certificate changed: never judged unless the full check accepts. */
static void test_renew_every_byte(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	uint8_t *d = OPENSSL_memdup(der[1], der_len[1]);
	size_t judged = 0;

	(void)state;
	assert_non_null(d);
	opts_of(&o, NULL);
	for (size_t i = 0; i < der_len[1]; i++) {
		d[i] ^= 0x01;
		if (sc_leaf_first_judge(d, der_len[1], &o, &f)) {
			judged++;
			if (full(d, der_len[1]) != SC_OK)
				fail_msg("byte %zu: judged, the full check refuses: %s", i,
				    sc_err_detail());
		}
		d[i] ^= 0x01;
	}
	assert_int_equal(judged, 0);
	OPENSSL_free(d);
}

/* The siblings' reference from the first certificate's DER judges as sc_leaf_ref_new's. */
static void test_renew_ref_der(void **state)
{
	struct sc_sig_cache *c = NULL;
	struct sc_verify_opts o;
	struct sc_leaf_ref *a = NULL, *b = NULL;
	struct sc_leaf_fast f, g;
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
	opts_of(&o, c);
	/* The first judge vouches the renewal leaf's signature it verified. */
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], sk_X509_value(chain, 0)), 0);
	assert_int_equal(sc_leaf_first_judge(der[0], der_len[0], &o, &f), 1);
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], sk_X509_value(chain, 0)), 1);
	assert_int_equal(sc_leaf_ref_new_der(der[0], der_len[0], &o, &a), SC_OK);
	/* The X509 way, through the full check's path validation (which fills the cache too). */
	assert_int_equal(sc_verify_chain(leaf[0], &o, NULL), SC_OK);
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &b), SC_OK);
	assert_string_equal(sc_leaf_ref_device_id(a), sc_leaf_ref_device_id(b));
	assert_string_equal(sc_leaf_ref_device_id(a), world.device_id);
	assert_memory_equal(sc_leaf_ref_profile_id(a), sc_leaf_ref_profile_id(b),
	    SC_PROFILE_ID_LEN);
	for (uint32_t i = 0; i < COUNT; i++) {
		assert_int_equal(sc_leaf_ref_judge(a, der[i], der_len[i], now, &f), 1);
		assert_int_equal(sc_leaf_ref_judge(b, der[i], der_len[i], now, &g), 1);
		assert_memory_equal(&f, &g, sizeof(f));
	}
	/* A sibling re-signed with another key: neither reference judges it. */
	{
		EVP_PKEY *other = NULL;

		assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
		edited(2, nb0 + 2 * CAD, nb0 + 4 * CAD, other, &d, &len);
		assert_int_equal(sc_leaf_ref_judge(a, d, len, now, &f), 0);
		assert_int_equal(sc_leaf_ref_judge(b, d, len, now, &f), 0);
		/* Nor is a reference made from it without the cache's word (its signature
		 * verified: bad). */
		o.sig_cache = NULL;
		{
			struct sc_leaf_ref *z = NULL;

			assert_int_equal(sc_leaf_ref_new_der(d, len, &o, &z), SC_ERR_USAGE);
			assert_null(z);
		}
		OPENSSL_free(d);
		EVP_PKEY_free(other);
	}
	/* Without the cache the reference verifies its own leaf, and is made. */
	{
		struct sc_leaf_ref *z = NULL;

		o.sig_cache = NULL;
		assert_int_equal(sc_leaf_ref_new_der(der[1], der_len[1], &o, &z), SC_OK);
		assert_int_equal(sc_leaf_ref_judge(z, der[3], der_len[3], now, &f), 1);
		sc_leaf_ref_free(z);
	}
	/* Forms the DER way does not cover: truncated, trailing data, another device's. */
	{
		struct sc_leaf_ref *z = NULL;
		uint8_t *t = OPENSSL_malloc(der_len[0] + 1);
		struct sc_profile *oprof = renewal_profile("DEV-OTHER");

		assert_non_null(t);
		memcpy(t, der[0], der_len[0]);
		t[der_len[0]] = 0;
		assert_int_equal(sc_leaf_ref_new_der(t, der_len[0] - 1, &o, &z), SC_ERR_USAGE);
		assert_int_equal(sc_leaf_ref_new_der(t, der_len[0] + 1, &o, &z), SC_ERR_USAGE);
		o.profile = oprof;
		assert_int_equal(sc_leaf_ref_new_der(der[0], der_len[0], &o, &z), SC_ERR_USAGE);
		assert_null(z);
		sc_profile_free(oprof);
		OPENSSL_free(t);
		sc_err_clear();
	}
	sc_leaf_ref_free(a);
	sc_leaf_ref_free(b);
	sc_sig_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renew_judged),
		cmocka_unit_test(test_renew_refused),
		cmocka_unit_test(test_renew_every_byte),
		cmocka_unit_test(test_renew_ref_der),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
