// SPDX-License-Identifier: Apache-2.0
/*
 * test_leaf_ref.c — the registration shortcut (src/lib/fast/leaf_ref.c, #17 renew7): a renewal
 * profile's later certificates judged against its first. Each is judged beside the full check
 * (sc_verify_chain at the time the registration uses): the siblings pass both; a leaf signed by
 * another key, a leaf of a changed device CA, a period past the count, a certificate outside its
 * time and every single-byte change of a sibling are not accepted by the shortcut, and the full
 * check names the refusal.
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
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "fast/leaf_ref.h"
#include "text.h"
#include "testworld.h"

#define CAD 3600
#define COUNT 4

static struct sc_test_world world;
static struct sc_profile *prof;
static X509 *leaf[COUNT];
static uint8_t *der[COUNT];
static size_t der_len[COUNT];
static STACK_OF(X509) *chain;
static time_t now;

static X509 *issue(uint32_t index, uint64_t counter, X509 *ca, EVP_PKEY *ca_key)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	assert_int_equal(sc_profile_set_renewal_index(prof, index), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(prof, key, ca, ca_key, counter, &x), SC_OK);
	EVP_PKEY_free(key);
	return x;
}

static void to_der(X509 *x, uint8_t **out, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(x, &p);

	assert_true(n > 0);
	*out = p;
	*len = (size_t)n;
}

/* The options the registration path verifies with, at its time for a leaf starting at nb. */
static void opts_at(struct sc_verify_opts *o, time_t nb)
{
	memset(o, 0, sizeof(*o));
	o->mfr_root = world.mfr_root;
	o->chain = chain;
	o->profile = prof;
	o->net_root = world.net_root;
	o->at = nb > now ? nb : now;
}

static sc_err full_check(const uint8_t *d, size_t len)
{
	const unsigned char *p = d;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	struct sc_verify_opts o;
	time_t nb = 0;
	sc_err r;

	if (x == NULL)
		return SC_ERR_MALFORMED;
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(x), &nb) != SC_OK)
		nb = 0;
	opts_at(&o, nb);
	r = sc_verify_chain(x, &o, NULL);
	X509_free(x);
	return r;
}

static int group_setup(void **state)
{
	struct sc_profile_params pp;

	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &world), SC_OK);
	now = time(NULL);
	sc_test_profile_params(&world, &pp);
	pp.not_before = now - 30;
	pp.not_after = pp.not_before + 2 * CAD;
	pp.renewal_count = COUNT;
	pp.renewal_cadence = CAD;
	assert_int_equal(sc_profile_create(&pp, &prof), SC_OK);
	assert_int_equal(sc_profile_sign(prof, world.signer_key, world.signer, NULL, 0), SC_OK);
	chain = sc_test_world_chain(&world);
	assert_non_null(chain);
	for (uint32_t i = 0; i < COUNT; i++) {
		leaf[i] = issue(i, 1 + i, world.device_ca, world.csk);
		to_der(leaf[i], &der[i], &der_len[i]);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < COUNT; i++) {
		X509_free(leaf[i]);
		OPENSSL_free(der[i]);
	}
	sk_X509_free(chain);
	sc_profile_free(prof);
	sc_test_world_free(&world);
	return 0;
}

static struct sc_leaf_ref *make_ref(void)
{
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;

	opts_at(&o, 0);
	assert_int_equal(sc_verify_chain(leaf[0], &o, NULL), SC_OK);
	if (sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref) != SC_OK)
		fail_msg("sc_leaf_ref_new: %s", sc_err_detail());
	return ref;
}

/* Not accepted by the shortcut, and the full check refuses with want. */
static void refused(const struct sc_leaf_ref *ref, const uint8_t *d, size_t len, sc_err want,
    const char *detail)
{
	struct sc_leaf_fast f;

	assert_int_equal(sc_leaf_ref_judge(ref, d, len, now, &f), 0);
	assert_int_equal(full_check(d, len), want);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", sc_err_detail(), detail);
}

static void test_siblings(void **state)
{
	struct sc_leaf_ref *ref = make_ref();
	struct sc_leaf_fast f;
	struct sc_issuance iss;
	uint8_t md[32];

	(void)state;
	assert_int_equal(sc_issuance_get(leaf[0], &iss), SC_OK);
	assert_memory_equal(sc_leaf_ref_profile_id(ref), iss.profile_id, SC_PROFILE_ID_LEN);
	assert_string_equal(sc_leaf_ref_device_id(ref), world.device_id);
	for (uint32_t i = 0; i < COUNT; i++) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf[i]), NULL);
		char *sh = BN_bn2hex(bn);
		uint8_t id[16];

		assert_int_equal(sc_leaf_profile_id(der[i], der_len[i], id), 1);
		assert_memory_equal(id, sc_leaf_ref_profile_id(ref), 16);
		assert_int_equal(sc_leaf_ref_judge(ref, der[i], der_len[i], now, &f), 1);
		assert_int_equal(f.index, i);
		assert_int_equal(f.renewal, 1);
		assert_int_equal(f.counter, 1 + i);
		assert_int_equal(f.not_before, now - 30 + (time_t)i * CAD);
		assert_int_equal(f.not_after, now - 30 + (time_t)i * CAD + 2 * CAD);
		EVP_Digest(der[i], der_len[i], md, NULL, EVP_sha256(), NULL);
		assert_memory_equal(f.fpr, md, 32);
		for (char *c = sh; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
		assert_string_equal(f.serial, sh);
		OPENSSL_free(sh);
		BN_free(bn);
		/* The full check agrees, at the same time. */
		assert_int_equal(full_check(der[i], der_len[i]), SC_OK);
	}
	/* The same certificate twice is judged the same twice: a replay is the registry's to
	 * answer (already-registered), as for the full check. */
	assert_int_equal(sc_leaf_ref_judge(ref, der[1], der_len[1], now, &f), 1);
	sc_leaf_ref_free(ref);
}

/* A copy of x re-signed by key (every other byte the same). */
static void resigned(X509 *x, EVP_PKEY *key, uint8_t **out, size_t *len)
{
	X509 *y = X509_dup(x);

	assert_non_null(y);
	assert_true(X509_sign(y, key, EVP_sha256()) > 0);
	to_der(y, out, len);
	X509_free(y);
}

static void test_other_key_and_ca(void **state)
{
	struct sc_leaf_ref *ref = make_ref();
	EVP_PKEY *other = NULL;
	X509 *other_ca = NULL, *x;
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
	/* The leaf signed by another key: the bytes are a sibling's, the signature is not. */
	resigned(leaf[1], other, &d, &len);
	refused(ref, d, len, SC_ERR_CHAIN, "signature failure");
	OPENSSL_free(d);
	/* A changed device CA (same device, a new key, certified by the manufacturer): its leaf
	 * does not chain through the device CA the profile was asked with. */
	assert_int_equal(sc_test_world_device_ca(&world, other, world.device_id, &other_ca), SC_OK);
	x = issue(1, 2, other_ca, other);
	to_der(x, &d, &len);
	refused(ref, d, len, SC_ERR_CHAIN, NULL);
	OPENSSL_free(d);
	X509_free(x);
	X509_free(other_ca);
	EVP_PKEY_free(other);
	sc_leaf_ref_free(ref);
}

static void test_past_count_and_time(void **state)
{
	struct sc_leaf_ref *ref = make_ref();
	struct sc_leaf_fast f;
	X509 *x = X509_dup(leaf[COUNT - 1]);
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	/* Period COUNT: one cadence after the last, signed by the device CA itself. */
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), now - 30 + (time_t)COUNT * CAD));
	assert_non_null(
	    ASN1_TIME_set(X509_getm_notAfter(x), now - 30 + (time_t)COUNT * CAD + 2 * CAD));
	assert_true(X509_sign(x, world.csk, EVP_sha256()) > 0);
	to_der(x, &d, &len);
	refused(ref, d, len, SC_ERR_BINDING, "none of the renewal profile's 4 periods");
	OPENSSL_free(d);
	X509_free(x);
	/* A sibling judged after its end (and after the device's chain): not by the shortcut. */
	assert_int_equal(sc_leaf_ref_judge(ref, der[0], der_len[0], now + 3 * CAD, &f), 0);
	assert_int_equal(sc_leaf_ref_judge(ref, der[1], der_len[1], now + 3650L * 86400, &f), 0);
	sc_leaf_ref_free(ref);
}

/* Every byte of a sibling changed: never accepted unless the full check accepts it too. */
static void test_every_byte(void **state)
{
	struct sc_leaf_ref *ref = make_ref();
	struct sc_leaf_fast f;
	uint8_t *d = OPENSSL_memdup(der[2], der_len[2]);
	size_t accepted = 0;

	(void)state;
	assert_non_null(d);
	for (size_t i = 0; i < der_len[2]; i++) {
		d[i] ^= 0x01;
		if (sc_leaf_ref_judge(ref, d, der_len[2], now, &f)) {
			accepted++;
			if (full_check(d, der_len[2]) != SC_OK)
				fail_msg(
				    "byte %zu: the shortcut accepts what the full check refuses: %s",
				    i, sc_err_detail());
		}
		d[i] ^= 0x01;
	}
	/* Truncated and with a trailing byte. */
	assert_int_equal(sc_leaf_ref_judge(ref, d, der_len[2] - 1, now, &f), 0);
	d = OPENSSL_realloc(d, der_len[2] + 1);
	assert_non_null(d);
	d[der_len[2]] = 0;
	assert_int_equal(sc_leaf_ref_judge(ref, d, der_len[2] + 1, now, &f), 0);
	assert_int_equal(accepted, 0);
	OPENSSL_free(d);
	sc_leaf_ref_free(ref);
}

static void test_not_covered(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;

	(void)state;
	opts_at(&o, 0);
	o.net_root = NULL;
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_ERR_USAGE);
	assert_null(ref);
	/* A reference must reproduce its own leaf at its time: past the leaf's end it cannot. */
	opts_at(&o, 0);
	o.at = now + 3 * CAD;
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_ERR_USAGE);
	assert_null(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siblings),
		cmocka_unit_test(test_other_key_and_ca),
		cmocka_unit_test(test_past_count_and_time),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_not_covered),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
