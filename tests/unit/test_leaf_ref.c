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
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/cache.h>
#include <selfcert/cert.h>
#include <selfcert/device.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "fast/fast.h"
#include "fast/leaf_ref.h"
#include "fast/spki.h"
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
static STACK_OF(X509) *chain;
static time_t now;
/* judge9: an ordinary profile, its first leaf, the chain as provd holds it (legacy keys). */
static struct sc_profile *prof1;
static X509 *first;
static uint8_t *first_der;
static size_t first_len;
static STACK_OF(X509) *fchain;
static const char *nets[2];

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

/* The full check of p's certificate d registered at t, at the time cert_verify judges it
 * (late15: t clamped into the certificate's own validity, sc_profile_leaf_judged_at). */
static sc_err full_check_of(struct sc_profile *p, const uint8_t *d, size_t len, time_t t)
{
	const unsigned char *q = d;
	X509 *x = d2i_X509(NULL, &q, (long)len);
	struct sc_verify_opts o;
	struct sc_profile_info info;
	time_t nb = 0, na = 0;
	sc_err r;

	if (x == NULL)
		return SC_ERR_MALFORMED;
	opts_at(&o, 0);
	o.profile = p;
	sc_profile_get_info(p, &info);
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(x), &nb) == SC_OK &&
	    sc_asn1_time_to_time_t(X509_get0_notAfter(x), &na) == SC_OK)
		o.at = sc_profile_leaf_judged_at(&info, nb, na, t);
	sc_err_clear();
	r = sc_verify_chain(x, &o, NULL);
	X509_free(x);
	return r;
}

static sc_err full_check(const uint8_t *d, size_t len)
{
	return full_check_of(prof, d, len, now);
}

/* judge9: a first certificate of profile p (counter 7) under ca. */
static X509 *first_leaf(struct sc_profile *p, X509 *ca, EVP_PKEY *ca_key)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(p, key, ca, ca_key, 7, &x), SC_OK);
	EVP_PKEY_free(key);
	return x;
}

/* x as selfcert-provd's certificate cache holds it: parsed by sc_fast_cert_from_der. */
static X509 *legacy(X509 *x)
{
	uint8_t *d = NULL;
	size_t len = 0;
	X509 *y = NULL;

	to_der(x, &d, &len);
	assert_int_equal(sc_fast_cert_from_der(d, len, &y), SC_OK);
	assert_non_null(y);
	OPENSSL_free(d);
	return y;
}

static int group_setup(void **state)
{
	struct sc_profile_params pp;

	(void)state;
	/* The references are provd's: they are made from certificates its cache parsed with the
	 * shortcut, which the clang reference build (SC_SHORTCUTS=OFF) starts with off. */
	sc_fast_set(1);
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
	/* judge9 */
	sc_test_profile_params(&world, &pp);
	pp.not_before = now - 30;
	pp.not_after = pp.not_before + 2 * CAD;
	assert_int_equal(sc_profile_create(&pp, &prof1), SC_OK);
	assert_int_equal(sc_profile_sign(prof1, world.signer_key, world.signer, NULL, 0), SC_OK);
	first = first_leaf(prof1, world.device_ca, world.csk);
	to_der(first, &first_der, &first_len);
	sc_fast_x509_set(1);
	fchain = sk_X509_new_null();
	assert_non_null(fchain);
	for (int i = 0; i < sk_X509_num(chain); i++)
		assert_true(sk_X509_push(fchain, legacy(sk_X509_value(chain, i))) > 0);
	nets[0] = world.network_id;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	X509_free(first);
	OPENSSL_free(first_der);
	sk_X509_pop_free(fchain, X509_free);
	sc_profile_free(prof1);
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
	/*
	 * late15: a sibling registered after its end (and after the device's chain's) is judged
	 * at its last second, as the full check judges it: both accept it (the chain covered its
	 * period; test_late_uncovered: one it did not).
	 */
	assert_int_equal(sc_leaf_ref_judge(ref, der[0], der_len[0], now + 3 * CAD, &f), 1);
	assert_int_equal(f.index, 0);
	assert_int_equal(full_check_of(prof, der[0], der_len[0], now + 3 * CAD), SC_OK);
	assert_int_equal(sc_leaf_ref_judge(ref, der[1], der_len[1], now + 3650L * 86400, &f), 1);
	assert_int_equal(f.index, 1);
	assert_int_equal(full_check_of(prof, der[1], der_len[1], now + 3650L * 86400), SC_OK);
	sc_leaf_ref_free(ref);
}

/*
 * late15: a renewal profile whose window outlasts the device CA (the SP and provd refuse to
 * make one; here made by hand). Each certificate is judged at its registration time clamped
 * into its own validity, and the device's chain must be valid then: period 0 (it starts a
 * cadence before the device CA ends) is accepted early, at its notBefore, and refused late, at
 * its last second; period 1 (it starts as the device CA ends) never. The reference's judge and
 * the full check agree each time.
 */
static void test_late_uncovered(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;
	struct sc_leaf_fast f;
	X509 *x[2];
	uint8_t *d[2];
	size_t len[2];
	time_t ca_na = 0;

	(void)state;
	assert_int_equal(sc_asn1_time_to_time_t(X509_get0_notAfter(world.device_ca), &ca_na),
	    SC_OK);
	sc_test_profile_params(&world, &pp);
	pp.not_before = ca_na - CAD;
	pp.not_after = pp.not_before + 2 * CAD;
	pp.renewal_count = 2;
	pp.renewal_cadence = CAD;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	for (uint32_t i = 0; i < 2; i++) {
		EVP_PKEY *key = NULL;

		assert_int_equal(sc_profile_set_renewal_index(p, i), SC_OK);
		assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
		assert_int_equal(sc_cert_issue_leaf(p, key, world.device_ca, world.csk, 1 + i,
		                     &x[i]),
		    SC_OK);
		EVP_PKEY_free(key);
		to_der(x[i], &d[i], &len[i]);
	}
	/* The reference from period 0, registered early: judged at its notBefore. */
	opts_at(&o, 0);
	o.profile = p;
	o.at = pp.not_before;
	assert_int_equal(sc_verify_chain(x[0], &o, NULL), SC_OK);
	assert_int_equal(sc_leaf_ref_new(x[0], d[0], len[0], &o, &ref), SC_OK);
	assert_int_equal(full_check_of(p, d[0], len[0], now), SC_OK);
	assert_int_equal(sc_leaf_ref_judge(ref, d[0], len[0], now, &f), 1);
	/* Period 0 late: its last second is past the device CA's end. */
	assert_int_equal(sc_leaf_ref_judge(ref, d[0], len[0], ca_na + 3 * CAD, &f), 0);
	assert_int_equal(full_check_of(p, d[0], len[0], ca_na + 3 * CAD), SC_ERR_CHAIN);
	assert_non_null(strstr(sc_err_detail(), "expired"));
	/* Period 1 early, in time and late: the device CA ended as it started. */
	assert_int_equal(sc_leaf_ref_judge(ref, d[1], len[1], now, &f), 0);
	assert_int_equal(full_check_of(p, d[1], len[1], now), SC_ERR_CHAIN);
	assert_int_equal(sc_leaf_ref_judge(ref, d[1], len[1], ca_na + CAD, &f), 0);
	assert_int_equal(full_check_of(p, d[1], len[1], ca_na + CAD), SC_ERR_CHAIN);
	assert_int_equal(sc_leaf_ref_judge(ref, d[1], len[1], ca_na + 9 * CAD, &f), 0);
	assert_int_equal(full_check_of(p, d[1], len[1], ca_na + 9 * CAD), SC_ERR_CHAIN);
	sc_leaf_ref_free(ref);
	for (int i = 0; i < 2; i++) {
		X509_free(x[i]);
		OPENSSL_free(d[i]);
	}
	sc_profile_free(p);
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
	/* late15: a reference made past its leaf's end judges it at its last second. */
	opts_at(&o, 0);
	o.at = now + 3 * CAD;
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_OK);
	sc_leaf_ref_free(ref);
}

/*
 * fleet12: the reference's check of its own leaf takes the leaf's signature from the signature
 * cache the path validation filled, for exactly those bytes under the device CA's key; any
 * other bytes, or another issuer, are not in it, and siblings are still verified one by one.
 */
static void test_ref_sig_cache(void **state)
{
	struct sc_sig_cache *c = NULL;
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;
	struct sc_leaf_fast f;
	EVP_PKEY *other = NULL;
	const unsigned char *p;
	uint8_t *d = NULL;
	size_t len = 0;
	X509 *x;

	(void)state;
	assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
	/* Nothing verified yet: nothing known. */
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], sk_X509_value(chain, 0)), 0);
	assert_int_equal(sc_sig_cache_has(NULL, der[0], der_len[0], sk_X509_value(chain, 0)), 0);
	opts_at(&o, 0);
	o.sig_cache = c;
	assert_int_equal(sc_verify_chain(leaf[0], &o, NULL), SC_OK);
	/* The leaf's signature under the device CA's key, verified: known, for those bytes only. */
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], sk_X509_value(chain, 0)), 1);
	assert_int_equal(sc_sig_cache_has(c, der[1], der_len[1], sk_X509_value(chain, 0)), 0);
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0] - 1, sk_X509_value(chain, 0)), 0);
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], world.mfr_root), 0);
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], NULL), 0);
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_OK);
	for (uint32_t i = 0; i < COUNT; i++)
		assert_int_equal(sc_leaf_ref_judge(ref, der[i], der_len[i], now, &f), 1);
	/* A sibling's bytes signed by another key: its signature is still verified. */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
	resigned(leaf[1], other, &d, &len);
	refused(ref, d, len, SC_ERR_CHAIN, "signature failure");
	sc_leaf_ref_free(ref);
	ref = NULL;
	/* The reference's own leaf with a bad signature, beside a cache holding the good one:
	 * other bytes, so its own check verifies it and refuses the template. */
	OPENSSL_free(d);
	resigned(leaf[0], other, &d, &len);
	assert_int_equal(sc_sig_cache_has(c, d, len, sk_X509_value(chain, 0)), 0);
	p = d;
	x = d2i_X509(NULL, &p, (long)len);
	assert_non_null(x);
	assert_int_equal(sc_leaf_ref_new(x, d, len, &o, &ref), SC_ERR_USAGE);
	assert_null(ref);
	assert_non_null(strstr(sc_err_detail(), "does not reproduce its own leaf"));
	X509_free(x);
	OPENSSL_free(d);
	EVP_PKEY_free(other);
	sc_sig_cache_free(c);
}

/* fleet12: a device CA parsed as provd's certificate cache parses it (a legacy EC key): the
 * siblings' signatures are verified with the ECDSA primitive, with the same verdicts. */
static void test_ref_legacy_key(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;
	struct sc_leaf_fast f;
	EVP_PKEY *other = NULL;
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	opts_at(&o, 0);
	o.chain = fchain;
	assert_int_equal(sc_verify_chain(leaf[0], &o, NULL), SC_OK);
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_OK);
	for (uint32_t i = 0; i < COUNT; i++) {
		assert_int_equal(sc_leaf_ref_judge(ref, der[i], der_len[i], now, &f), 1);
		assert_int_equal(f.index, i);
	}
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
	resigned(leaf[2], other, &d, &len);
	assert_int_equal(sc_leaf_ref_judge(ref, d, len, now, &f), 0);
	OPENSSL_free(d);
	/* The signature's last byte changed (a value ECDSA refuses, or a non-DER signature). */
	d = OPENSSL_memdup(der[3], der_len[3]);
	assert_non_null(d);
	d[der_len[3] - 1] ^= 0x01;
	assert_int_equal(sc_leaf_ref_judge(ref, d, der_len[3], now, &f), 0);
	OPENSSL_free(d);
	EVP_PKEY_free(other);
	sc_leaf_ref_free(ref);
}

/* Session 12's review of fleet12: a leaf's DER with its signature BIT STRING's value v (vlen). */
static void rebuild_sig(const uint8_t *d, size_t len, const uint8_t *v, size_t vlen, uint8_t **out,
    size_t *out_len)
{
	/* d: 30 82 hi lo | TBS | alg | 03 L 00 sig (L < 128) */
	size_t tbs_len, alg_len, body, off = 4;
	uint8_t *o;

	assert_true(d[0] == 0x30 && d[1] == 0x82);
	assert_true(d[4] == 0x30 && d[5] == 0x82);
	tbs_len = 4 + ((size_t)d[6] << 8 | d[7]);
	assert_true(d[off + tbs_len] == 0x30 && d[off + tbs_len + 1] < 0x80);
	alg_len = 2 + d[off + tbs_len + 1];
	assert_true(vlen + 1 < 0x80);
	body = tbs_len + alg_len + 2 + 1 + vlen;
	o = OPENSSL_malloc(4 + body);
	assert_non_null(o);
	o[0] = 0x30;
	o[1] = 0x82;
	o[2] = (uint8_t)(body >> 8);
	o[3] = (uint8_t)body;
	memcpy(o + 4, d + 4, tbs_len + alg_len);
	o[4 + tbs_len + alg_len] = 0x03;
	o[5 + tbs_len + alg_len] = (uint8_t)(vlen + 1);
	o[6 + tbs_len + alg_len] = 0x00;
	memcpy(o + 7 + tbs_len + alg_len, v, vlen);
	*out = o;
	*out_len = 4 + body;
	(void)len;
}

/* A sibling's ECDSA-Sig-Value with a trailing byte or a long-form length is refused; the same
 * value re-encoded in DER is accepted (the primitive path, as the EVP one). */
static void test_rv_nonder_sig(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;
	struct sc_leaf_fast f;
	const uint8_t *s;
	uint8_t v[160], *d = NULL;
	size_t slen, tbs_len, alg_len;

	(void)state;
	opts_at(&o, 0);
	o.chain = fchain;
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_OK);
	tbs_len = 4 + ((size_t)der[3][6] << 8 | der[3][7]);
	alg_len = 2 + der[3][4 + tbs_len + 1];
	s = der[3] + 4 + tbs_len + alg_len;
	assert_true(s[0] == 0x03);
	slen = s[1] - 1u;
	s += 3;
	/* The same value rebuilt is accepted. */
	rebuild_sig(der[3], der_len[3], s, slen, &d, &slen);
	assert_int_equal(sc_leaf_ref_judge(ref, d, slen, now, &f), 1);
	OPENSSL_free(d);
	slen = der[3][4 + tbs_len + alg_len + 1] - 1u;
	/* A byte after the ECDSA-Sig-Value. */
	memcpy(v, s, slen);
	v[slen] = 0x00;
	rebuild_sig(der[3], der_len[3], v, slen + 1, &d, &tbs_len);
	assert_int_equal(sc_leaf_ref_judge(ref, d, tbs_len, now, &f), 0);
	OPENSSL_free(d);
	/* The SEQUENCE's length in long form (BER). */
	v[0] = 0x30;
	v[1] = 0x81;
	memcpy(v + 2, s + 1, slen - 1);
	rebuild_sig(der[3], der_len[3], v, slen + 1, &d, &tbs_len);
	assert_int_equal(sc_leaf_ref_judge(ref, d, tbs_len, now, &f), 0);
	OPENSSL_free(d);
	sc_leaf_ref_free(ref);
}

/* Session 12's review: the cache holds der[0] under the real device CA; a chain whose device
 * CA has the same name but another key must not take the cached answer. */
static void test_rv_other_ca_key(void **state)
{
	struct sc_sig_cache *c = NULL;
	struct sc_verify_opts o;
	struct sc_leaf_ref *ref = NULL;
	EVP_PKEY *other = NULL;
	STACK_OF(X509) *ch;
	X509 *fake;

	(void)state;
	assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
	opts_at(&o, 0);
	o.sig_cache = c;
	assert_int_equal(sc_verify_chain(leaf[0], &o, NULL), SC_OK);
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], sk_X509_value(chain, 0)), 1);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
	fake = X509_dup(sk_X509_value(chain, 0));
	assert_non_null(fake);
	assert_true(X509_set_pubkey(fake, other) == 1);
	assert_true(X509_sign(fake, other, EVP_sha256()) > 0);
	ch = sk_X509_dup(chain);
	assert_non_null(ch);
	(void)sk_X509_set(ch, 0, fake);
	o.chain = ch;
	assert_int_equal(sc_sig_cache_has(c, der[0], der_len[0], fake), 0);
	assert_int_equal(sc_leaf_ref_new(leaf[0], der[0], der_len[0], &o, &ref), SC_ERR_USAGE);
	assert_null(ref);
	sk_X509_free(ch);
	X509_free(fake);
	EVP_PKEY_free(other);
	sc_sig_cache_free(c);
}

/* ---- judge9: a device's first certificate (sc_leaf_first_judge) ---- */

static void first_opts(struct sc_verify_opts *o, STACK_OF(X509) *ch, struct sc_profile *p,
    time_t at)
{
	memset(o, 0, sizeof(*o));
	o->mfr_root = world.mfr_root;
	o->chain = ch;
	o->allowed_networks = nets;
	o->profile = p;
	o->net_root = world.net_root;
	o->at = at;
	o->profile_trusted = 1;
}

/* The full check with the same options (provd's cert_verify for a kept profile). */
static sc_err first_full(const uint8_t *d, size_t len, STACK_OF(X509) *ch, struct sc_profile *p,
    time_t at)
{
	const unsigned char *q = d;
	X509 *x = d2i_X509(NULL, &q, (long)len);
	struct sc_verify_opts o;
	sc_err r;

	if (x == NULL)
		return SC_ERR_MALFORMED;
	first_opts(&o, ch, p, at);
	r = sc_verify_chain(x, &o, NULL);
	X509_free(x);
	return r;
}

/* Not judged; the full check refuses it with want (detail containing detail). */
static void first_refused(const uint8_t *d, size_t len, STACK_OF(X509) *ch, struct sc_profile *p,
    time_t at, sc_err want, const char *detail)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;

	first_opts(&o, ch, p, at);
	assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 0);
	assert_int_equal(first_full(d, len, ch, p, at), want);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", sc_err_detail(), detail);
}

static void test_first_judged(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(first), NULL);
	char *sh = BN_bn2hex(bn);
	uint8_t md[32];
	const char *two[3] = { world.network_id, "other", NULL };

	(void)state;
	first_opts(&o, fchain, prof1, now);
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &f), 1);
	assert_int_equal(sc_leaf_first_judge_last_form(), 1); /* judge12: in DER alone */
	assert_int_equal(first_full(first_der, first_len, fchain, prof1, now), SC_OK);
	assert_int_equal(f.renewal, 0);
	assert_int_equal(f.index, 0);
	assert_int_equal(f.counter, 7);
	assert_int_equal(f.not_before, now - 30);
	assert_int_equal(f.not_after, now - 30 + 2 * CAD);
	EVP_Digest(first_der, first_len, md, NULL, EVP_sha256(), NULL);
	assert_memory_equal(f.fpr, md, 32);
	for (char *c = sh; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
	assert_string_equal(f.serial, sh);
	OPENSSL_free(sh);
	BN_free(bn);
	/* Not for: a profile not kept, two allowed networks, shortcuts off. renew13: a renewal
	 * profile's certificate is judged (test_leaf_ref_renew). */
	o.profile_trusted = 0;
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &f), 0);
	first_opts(&o, fchain, prof1, now);
	o.allowed_networks = two;
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &f), 0);
	first_opts(&o, fchain, prof1, now);
	sc_fast_set(0);
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &f), 0);
	sc_fast_set(1);
	first_opts(&o, fchain, prof, now);
	assert_int_equal(sc_leaf_first_judge(der[0], der_len[0], &o, &f), 1);
	assert_int_equal(f.renewal, 1);
	/* Outside the leaf's time: not judged; the full check names it. */
	first_refused(first_der, first_len, fchain, prof1, now + 2 * CAD, SC_ERR_CHAIN,
	    "certificate has expired (depth 0)");
}

/* A copy of first with edit applied, re-signed by the device CA's key. */
static void first_edited(void (*edit)(X509 *), uint8_t **d, size_t *len)
{
	X509 *y = X509_dup(first);

	assert_non_null(y);
	edit(y);
	assert_true(X509_sign(y, world.csk, EVP_sha256()) > 0);
	to_der(y, d, len);
	X509_free(y);
}

static void edit_validity(X509 *x)
{
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), now - 30 + 2 * CAD + 1));
}

static void edit_key(X509 *x)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_true(X509_set_pubkey(x, k) == 1);
	EVP_PKEY_free(k);
}

static void edit_san(X509 *x)
{
	GENERAL_NAMES *g = GENERAL_NAMES_new();
	GENERAL_NAME *n = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	assert_true(g != NULL && n != NULL && s != NULL);
	assert_true(ASN1_STRING_set(s, "x.example", -1) == 1);
	GENERAL_NAME_set0_value(n, GEN_DNS, s);
	assert_true(sk_GENERAL_NAME_push(g, n) > 0);
	assert_true(X509_add1_ext_i2d(x, NID_subject_alt_name, g, 0, X509V3_ADD_REPLACE) == 1);
	GENERAL_NAMES_free(g);
}

static void edit_serial(X509 *x)
{
	static const uint8_t big[21] = { 0x01 };
	BIGNUM *bn = BN_bin2bn(big, sizeof(big), NULL);

	assert_non_null(bn);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
}

static void edit_ext(X509 *x)
{
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	assert_non_null(s);
	assert_true(ASN1_STRING_set(s, "added", -1) == 1);
	assert_true(X509_add1_ext_i2d(x, NID_netscape_comment, s, 0, X509V3_ADD_APPEND) == 1);
	ASN1_IA5STRING_free(s);
}

static void test_first_hostile(void **state)
{
	struct sc_test_cert spec;
	EVP_PKEY *other = NULL;
	X509 *other_ca = NULL, *short_ca = NULL, *x;
	STACK_OF(X509) *ch;
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &other), SC_OK);
	/* Signed by another key. */
	resigned(first, other, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_CHAIN, "signature failure (depth 0)");
	OPENSSL_free(d);
	/* A field not the profile's, signed by the device CA itself. */
	first_edited(edit_validity, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING, "validity.notAfter");
	OPENSSL_free(d);
	first_edited(edit_key, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING, "subjectKeyIdentifier");
	OPENSSL_free(d);
	first_edited(edit_san, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING, "subjectAltName");
	OPENSSL_free(d);
	first_edited(edit_ext, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING, "extensions");
	OPENSSL_free(d);
	/* A serial of 21 octets: a form the judge does not take; the full check decides. */
	first_edited(edit_serial, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_OK, NULL);
	OPENSSL_free(d);
	/* Another issuer: a second genuine device CA of the same device. */
	assert_int_equal(sc_test_world_device_ca(&world, other, world.device_id, &other_ca), SC_OK);
	x = first_leaf(prof1, other_ca, other);
	to_der(x, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_CHAIN, NULL);
	OPENSSL_free(d);
	X509_free(x);
	/* The device CA expired at the time judged (the leaf still valid then). */
	memset(&spec, 0, sizeof(spec));
	spec.serial_number = world.device_id;
	spec.pub = other;
	spec.issuer = world.mfr_ca;
	spec.issuer_key = world.mfr_ca_key;
	spec.not_before = now - 60;
	spec.not_after = now + 60;
	spec.bc = "critical,CA:TRUE,pathlen:0";
	spec.ku = "critical,keyCertSign,cRLSign";
	spec.nc_serial = world.device_id;
	assert_int_equal(sc_test_cert_make(&spec, &short_ca), SC_OK);
	x = first_leaf(prof1, short_ca, other);
	to_der(x, &d, &len);
	ch = sk_X509_new_null();
	assert_non_null(ch);
	assert_true(sk_X509_push(ch, legacy(short_ca)) > 0);
	for (int i = 1; i < sk_X509_num(fchain); i++) {
		assert_true(X509_up_ref(sk_X509_value(fchain, i)) == 1);
		assert_true(sk_X509_push(ch, sk_X509_value(fchain, i)) > 0);
	}
	{
		struct sc_verify_opts o;
		struct sc_leaf_fast f;

		first_opts(&o, ch, prof1, now);
		assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 1);
	}
	first_refused(d, len, ch, prof1, now + 120, SC_ERR_CHAIN,
	    "certificate has expired (depth 1)");
	sk_X509_pop_free(ch, X509_free);
	OPENSSL_free(d);
	X509_free(x);
	X509_free(short_ca);
	X509_free(other_ca);
	EVP_PKEY_free(other);
}

/* A profile whose keyUsage has keyCertSign: the builder makes the leaf, path validation and
 * the binding refuse it, and the judge does not take it. */
static void test_first_ca_profile(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	X509 *x;
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	sc_test_profile_params(&world, &pp);
	pp.not_before = now - 30;
	pp.not_after = pp.not_before + 2 * CAD;
	pp.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	x = first_leaf(p, world.device_ca, world.csk);
	to_der(x, &d, &len);
	first_refused(d, len, fchain, p, now, SC_ERR_CHAIN, NULL);
	OPENSSL_free(d);
	X509_free(x);
	sc_profile_free(p);
}

static void test_first_every_byte(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	uint8_t *d = OPENSSL_memdup(first_der, first_len);
	size_t accepted = 0;

	(void)state;
	assert_non_null(d);
	first_opts(&o, fchain, prof1, now);
	for (size_t i = 0; i < first_len; i++) {
		d[i] ^= 0x01;
		if (sc_leaf_first_judge(d, first_len, &o, &f)) {
			accepted++;
			fail_msg("byte %zu: judged (full check: %d)", i,
			    (int)first_full(d, first_len, fchain, prof1, now));
		}
		d[i] ^= 0x01;
	}
	assert_int_equal(sc_leaf_first_judge(d, first_len - 1, &o, &f), 0);
	d = OPENSSL_realloc(d, first_len + 1);
	assert_non_null(d);
	d[first_len] = 0;
	assert_int_equal(sc_leaf_first_judge(d, first_len + 1, &o, &f), 0);
	assert_int_equal(accepted, 0);
	OPENSSL_free(d);
}

/* ---- ref10: the judge beside the full path on chains session 9 did not test ---- */

/* x with extension nid set to value (openssl.cnf syntax), replacing any, re-signed by key. */
static void set_ext(X509 *x, X509 *issuer, int nid, const char *value, EVP_PKEY *key)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int i;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	assert_true(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
}

/* A signed ordinary profile for the world's device, with these subjectAltNames (or none). */
static struct sc_profile *profile_with(const char *const *san)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;

	sc_test_profile_params(&world, &pp);
	pp.not_before = now - 30;
	pp.not_after = pp.not_before + 2 * CAD;
	pp.san = san;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	return p;
}

/* The chain [device CA, manufacturer CA] as provd's certificate cache holds it. */
static STACK_OF(X509) *chain_of(X509 *dca, X509 *mca)
{
	STACK_OF(X509) *ch = sk_X509_new_null();

	assert_non_null(ch);
	assert_true(sk_X509_push(ch, legacy(dca)) > 0);
	assert_true(sk_X509_push(ch, legacy(mca)) > 0);
	return ch;
}

/* schema14: ch as sc_leaf_first_judge_der takes it (its DER, each one's validity and the device
 * CA's key as sc_fast_cert_peek reads them, as provd's profile request does), verdict v. */
static void cd_of(STACK_OF(X509) *ch, uint32_t v, struct sc_first_chain_der *cd, uint8_t **ders)
{
	memset(cd, 0, sizeof(*cd));
	cd->n = sk_X509_num(ch);
	assert_true(cd->n >= 1 && cd->n <= SC_FIRST_CHAIN_MAX);
	for (int i = 0; i < cd->n; i++) {
		int len, valid = 0;

		ders[i] = NULL;
		assert_true((len = i2d_X509(sk_X509_value(ch, i), &ders[i])) > 0);
		cd->der[i] = ders[i];
		cd->len[i] = (size_t)len;
		assert_int_equal(sc_fast_cert_peek(ders[i], (size_t)len, now, &valid,
		                     &cd->not_before[i], &cd->not_after[i],
		                     i == 0 ? &cd->ca_key : NULL),
		    SC_OK);
	}
	cd->verdict = v;
}

static void cd_free(struct sc_first_chain_der *cd, uint8_t **ders)
{
	for (int i = 0; i < cd->n; i++)
		OPENSSL_free(ders[i]);
	EVP_PKEY_free(cd->ca_key);
}

/*
 * schema14: the DER judge beside the X509 one for leaf d under ch, with the verdict every pin
 * writer would record for ch (sc_chain_verdict): it never takes what the X509 judge does not,
 * and when it takes a leaf its verdict (*out) is the X509 judge's, byte for byte. Its answer.
 */
static int der_beside(const uint8_t *d, size_t len, STACK_OF(X509) *ch, struct sc_profile *p,
    time_t at)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast a, b;
	struct sc_first_chain_der cd;
	uint8_t *ders[SC_FIRST_CHAIN_MAX];
	int x, y;

	first_opts(&o, ch, p, at);
	x = sc_leaf_first_judge(d, len, &o, &a);
	cd_of(ch, sc_chain_verdict(ch, world.mfr_root, NULL), &cd, ders);
	o.chain = NULL; /* not read */
	y = sc_leaf_first_judge_der(d, len, &o, &cd, &b);
	if (y) {
		assert_int_equal(x, 1);
		assert_memory_equal(&a, &b, sizeof(a));
	}
	cd_free(&cd, ders);
	return y;
}

/* p's first leaf under dca (key k), judged (want_judged) beside the full check (want, detail);
 * the judge's last form check (sc_leaf_first_judge_last_form). */
static int first_beside_full(struct sc_profile *p, X509 *dca, EVP_PKEY *k, X509 *mca,
    int want_judged, sc_err want, const char *detail)
{
	X509 *x = first_leaf(p, dca, k);
	STACK_OF(X509) *ch = chain_of(dca, mca);
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	uint8_t *d = NULL;
	size_t len = 0;
	int form;

	to_der(x, &d, &len);
	if (want_judged) {
		first_opts(&o, ch, p, now);
		if (sc_leaf_first_judge(d, len, &o, &f) != 1)
			fail_msg("not judged (form %d), full check %d",
			    sc_leaf_first_judge_last_form(), (int)first_full(d, len, ch, p, now));
		assert_int_equal(first_full(d, len, ch, p, now), SC_OK);
	} else
		first_refused(d, len, ch, p, now, want, detail);
	/* schema14: the DER judge takes exactly the X509 judge's form-1 acceptances here (every
	 * chain judged in these tests is strict, one path, of a known or no constraint form). */
	form = sc_leaf_first_judge_last_form();
	assert_int_equal(der_beside(d, len, ch, p, now), want_judged && form == 1);
	OPENSSL_free(d);
	sk_X509_pop_free(ch, X509_free);
	X509_free(x);
	return form;
}

/* A profile's subjectAltName outside the device CA's name constraints: the full path refuses
 * it (chain, permitted subtree violation), the judge does not take it; inside, both accept. */
static void test_first_name_constraints(void **state)
{
	static const char *const out_san[] = { "dns:x.example", NULL };
	static const char *const in_san[] = { "dns:a.allowed.example", NULL };
	struct sc_profile *p_out = profile_with(out_san), *p_in = profile_with(in_san);
	EVP_PKEY *k = NULL;
	X509 *dca = NULL;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	set_ext(dca, world.mfr_ca, NID_name_constraints, "critical,permitted;DNS:allowed.example",
	    world.mfr_ca_key);
	first_beside_full(p_out, dca, k, world.mfr_ca, 0, SC_ERR_CHAIN,
	    "permitted subtree violation (depth 0)");
	/* judge12: constraints not of the device CA's known forms: decided on the builder's X509. */
	assert_int_equal(first_beside_full(p_in, dca, k, world.mfr_ca, 1, SC_OK, NULL), 2);
	X509_free(dca);
	EVP_PKEY_free(k);
	sc_profile_free(p_out);
	sc_profile_free(p_in);
}

/* A manufacturer CA of pathLen 0 above the device CA: the device's pin validated the device CA
 * as the target (pathLen counted nothing below it); with a leaf below, the full path refuses
 * (chain, path length constraint exceeded) and so must the judge. */
static void test_first_mfr_pathlen0(void **state)
{
	struct sc_test_world w2 = world;
	EVP_PKEY *mk = NULL, *k = NULL;
	X509 *mca = NULL, *dca = NULL;

	(void)state;
	assert_int_equal(sc_test_world_mfr_ca(&world, "PathZero", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_basic_constraints, "critical,CA:TRUE,pathlen:0",
	    world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	first_beside_full(prof1, dca, k, mca, 0, SC_ERR_CHAIN,
	    "path length constraint exceeded (depth 2)");
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(mk);
}

/* gaps15: x's validity [nb, na], re-signed by key. */
static void set_validity(X509 *x, time_t nb, time_t na, EVP_PKEY *key)
{
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), na));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
}

/* gaps15: a manufacturer CA valid [nb, na] above a new device CA: the pin's verdict (time-free)
 * is this build's, so the DER judge's time check is what decides; both judges beside the full
 * check (want_judged; else refused SC_ERR_CHAIN with detail). The judges' form. */
static int mfr_ca_valid(time_t nb, time_t na, int want_judged, const char *detail)
{
	struct sc_test_world w2 = world;
	EVP_PKEY *mk = NULL, *k = NULL;
	X509 *mca = NULL, *dca = NULL;
	STACK_OF(X509) *ch;
	int form;

	assert_int_equal(sc_test_world_mfr_ca(&world, "Dated", &mk, &mca), SC_OK);
	set_validity(mca, nb, na, world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	ch = chain_of(dca, mca);
	assert_int_equal(sc_chain_verdict(ch, world.mfr_root, NULL), sc_chain_rules());
	sk_X509_pop_free(ch, X509_free);
	form = first_beside_full(prof1, dca, k, mca, want_judged, SC_ERR_CHAIN, detail);
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(mk);
	return form;
}

/* gaps15: the world's chain under the same root valid [nb, na] (re-signed, same key and
 * name): a pin's verdict under it is this build's (time-free); the X509 judge and the DER judge
 * both decline the first certificate and the full check refuses it, SC_ERR_CHAIN, detail. */
static void root_valid_refused(time_t nb, time_t na, const char *detail)
{
	X509 *root = X509_dup(world.mfr_root), *x;
	const unsigned char *q = first_der;
	struct sc_first_chain_der cd;
	uint8_t *ders[SC_FIRST_CHAIN_MAX];
	struct sc_verify_opts o;
	struct sc_leaf_fast f;

	assert_non_null(root);
	set_validity(root, nb, na, world.mfr_root_key);
	assert_int_equal(sc_chain_verdict(fchain, root, NULL), sc_chain_rules());
	first_opts(&o, fchain, prof1, now);
	o.mfr_root = root;
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &f), 0);
	cd_of(fchain, sc_chain_verdict(fchain, root, NULL), &cd, ders);
	o.chain = NULL; /* not read */
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &cd, &f), 0);
	/* The same verdict and chain under the world's root: taken (the time was the miss). */
	o.mfr_root = world.mfr_root;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &cd, &f), 1);
	cd_free(&cd, ders);
	o.mfr_root = root;
	o.chain = fchain;
	assert_non_null(x = d2i_X509(NULL, &q, (long)first_len));
	assert_int_equal(sc_verify_chain(x, &o, NULL), SC_ERR_CHAIN);
	if (strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", sc_err_detail(), detail);
	X509_free(x);
	X509_free(root);
}

/*
 * gaps15 (schema14's DER branch): a pinned device whose manufacturer CA or root is expired, or
 * not yet valid, at the first certificate's time. The pin's verdict is time-free (recorded once,
 * NO_CHECK_TIME), so the DER judge checks each certificate's and the root's time itself; it
 * must decline exactly where the X509 judge (X509_verify_cert at that time) does, and the full
 * check then names the refusal as it always did: the same error and detail both ways.
 */
static void test_first_der_ca_times(void **state)
{
	const time_t day = 86400, year = 365 * day;

	(void)state;
	/* The control: the same construction in time is judged by both. */
	assert_int_equal(mfr_ca_valid(now - 10 * day, now + 10 * year, 1, NULL), 1);
	mfr_ca_valid(now - 10 * day, now - day, 0, "certificate has expired (depth 2)");
	mfr_ca_valid(now + day, now + 10 * year, 0, "certificate is not yet valid (depth 2)");
	/* Its notAfter the very second judged: expired for X509_verify_cert, so for the judge. */
	mfr_ca_valid(now - 10 * day, now, 0, "certificate has expired (depth 2)");
	root_valid_refused(now - 10 * year, now - day, "certificate has expired (depth 3)");
	root_valid_refused(now + day, now + 10 * year, "certificate is not yet valid (depth 3)");
	root_valid_refused(now - 10 * year, now, "certificate has expired (depth 3)");
}

/* pin13: x without its extension nid, re-signed by key. */
static void del_ext(X509 *x, int nid, EVP_PKEY *key)
{
	int i;

	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
}

/* pin13: the pin's validation (sc_device_verify, as activation and first contact run it)
 * accepts [dca, mca]; the judge does not take the first leaf; the full path refuses it. */
static void pinned_yet_refused(X509 *dca, EVP_PKEY *k, X509 *mca, const char *detail)
{
	const struct sc_device_trust trust = { world.mfr_root, NULL, NULL };
	STACK_OF(X509) *ch = chain_of(dca, mca);
	enum sc_device_part bad = SC_DEVICE_PART_NONE;
	char id[SC_DEVICE_ID_MAX + 1];

	assert_int_equal(sc_device_verify(&trust, ch, NULL, id, &bad), SC_OK);
	assert_string_equal(id, world.device_id);
	/* schema14: every pin writer records no strict verdict for it (0: the full path). */
	assert_int_equal(sc_chain_verdict(ch, world.mfr_root, NULL), 0);
	sk_X509_pop_free(ch, X509_free);
	first_beside_full(prof1, dca, k, mca, 0, SC_ERR_CHAIN, detail);
}

/*
 * pin13 (THREAT-MODEL.md "Session 13 (pin13)"): a pin does not imply the first judge's chain
 * verdict. The pin's validation is stock X509_verify_cert, not strict, with the device CA as
 * the target; the judge's (first_chain) and the full path's are strict, with a leaf below. Each
 * chain here is one a device can be pinned with (activation or first contact accept it), whose
 * first certificate the full path refuses, word for word, and the judge does not take: the
 * manufacturer CA's pathLen 0 counted with the leaf, a manufacturer CA's or device CA's
 * basicConstraints not critical, a device CA without an authorityKeyIdentifier.
 */
static void test_first_pin_not_strict(void **state)
{
	struct sc_test_world w2 = world;
	EVP_PKEY *mk = NULL, *k = NULL;
	X509 *mca = NULL, *dca = NULL;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	/* The manufacturer CA's pathLen 0 (no strict rule: the count with the leaf below). */
	assert_int_equal(sc_test_world_mfr_ca(&world, "PinZero", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_basic_constraints, "critical,CA:TRUE,pathlen:0",
	    world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	pinned_yet_refused(dca, k, mca, "path length constraint exceeded (depth 2)");
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(mk);
	/* The manufacturer CA's basicConstraints not critical (strict only). */
	assert_int_equal(sc_test_world_mfr_ca(&world, "PinBc", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_basic_constraints, "CA:TRUE", world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	pinned_yet_refused(dca, k, mca,
	    "Basic Constraints of CA cert not marked critical (depth 2)");
	X509_free(dca);
	/* The device CA's basicConstraints not critical, under the world's manufacturer CA. */
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	set_ext(dca, world.mfr_ca, NID_basic_constraints, "CA:TRUE,pathlen:0", world.mfr_ca_key);
	pinned_yet_refused(dca, k, world.mfr_ca,
	    "Basic Constraints of CA cert not marked critical (depth 1)");
	X509_free(dca);
	/* The device CA without an authorityKeyIdentifier (strict: every certificate but the last). */
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	del_ext(dca, NID_authority_key_identifier, world.mfr_ca_key);
	pinned_yet_refused(dca, k, world.mfr_ca, "Missing Authority Key Identifier (depth 1)");
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(mk);
	EVP_PKEY_free(k);
}

/*
 * pin13: the same root as a v1 certificate (no extensions: X509_check_ca 3). The pin's
 * validation lets the last certificate of a path be such a CA; the strict one does not
 * ("invalid CA certificate" at the root's depth), so the judge does not take the world's first
 * certificate under it and the full check refuses it.
 */
static void test_first_pin_v1_root(void **state)
{
	const struct sc_device_trust trust = { NULL, NULL, NULL };
	struct sc_device_trust t = trust;
	enum sc_device_part bad = SC_DEVICE_PART_NONE;
	char id[SC_DEVICE_ID_MAX + 1];
	X509 *root = X509_dup(world.mfr_root), *x;
	const unsigned char *q = first_der;
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	int i;

	(void)state;
	assert_non_null(root);
	while ((i = X509_get_ext_count(root)) > 0)
		X509_EXTENSION_free(X509_delete_ext(root, i - 1));
	assert_true(X509_set_version(root, X509_VERSION_1) == 1);
	assert_true(X509_sign(root, world.mfr_root_key, EVP_sha256()) > 0);
	assert_int_equal(X509_check_ca(root), 3);
	t.mfr_root = root;
	assert_int_equal(sc_device_verify(&t, fchain, NULL, id, &bad), SC_OK);
	/* schema14: no strict verdict under the v1 root; the world's root gives one. */
	assert_int_equal(sc_chain_verdict(fchain, root, NULL), 0);
	assert_int_equal(sc_chain_verdict(fchain, world.mfr_root, NULL), sc_chain_rules());
	first_opts(&o, fchain, prof1, now);
	o.mfr_root = root;
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &f), 0);
	assert_non_null(x = d2i_X509(NULL, &q, (long)first_len));
	assert_int_equal(sc_verify_chain(x, &o, NULL), SC_ERR_CHAIN);
	if (strstr(sc_err_detail(), "invalid CA certificate (depth 3)") == NULL)
		fail_msg("detail \"%s\"", sc_err_detail());
	X509_free(x);
	X509_free(root);
}

/*
 * schema14: sc_chain_verdict, the verdict every pin writer records (registry schema 8): the
 * rules' version for the world's chain, time-free (a device CA already expired, or not valid
 * yet, still has its chain's verdict: validity is judged at each request), 0 for no chain, an
 * empty or oversize one, no root, another root, a chain out of order, a policy extension
 * (first_chain takes none). The rules' encoding: the revision and the running OpenSSL.
 */
static void test_chain_verdict(void **state)
{
	STACK_OF(X509) *ch = NULL, *rev = NULL, *big = NULL;
	struct sc_test_world w2 = world;
	EVP_PKEY *k = NULL, *mk = NULL;
	X509 *dca = NULL, *mca = NULL;
	uint32_t rules = sc_chain_rules();

	(void)state;
	assert_int_not_equal(rules, 0);
	assert_int_equal(sc_chain_rules(), rules); /* one value for the process */
	{ /* the build's identity (schema14's review), as leaf_ref.c names it */
		char id[1024];
		uint8_t md[32];
		int n = snprintf(id, sizeof(id), "selfcert chain rules %u|%s|%s|%s|%s",
		    SC_CHAIN_RULES_REV, OpenSSL_version(OPENSSL_FULL_VERSION_STRING),
		    OpenSSL_version(OPENSSL_BUILT_ON), OpenSSL_version(OPENSSL_PLATFORM),
		    OpenSSL_version(OPENSSL_CFLAGS));

		assert_true(n > 0 && (size_t)n < sizeof(id));
		assert_int_equal(EVP_Digest(id, (size_t)n, md, NULL, EVP_sha256(), NULL), 1);
		uint32_t want = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
		    (uint32_t)md[2] << 8 | md[3];

		assert_int_equal(rules, want != 0 ? want : 1u);
	}
	assert_int_equal(sc_chain_verdict(fchain, world.mfr_root, NULL), rules);
	assert_int_equal(sc_chain_verdict(NULL, world.mfr_root, NULL), 0);
	assert_int_equal(sc_chain_verdict(fchain, NULL, NULL), 0);
	assert_int_equal(sc_chain_verdict(fchain, world.mfr_ca, NULL), 0); /* not the root */
	assert_non_null(ch = sk_X509_new_null());
	assert_int_equal(sc_chain_verdict(ch, world.mfr_root, NULL), 0); /* empty */
	sk_X509_free(ch);
	/* Out of order: the manufacturer CA first. */
	assert_non_null(rev = chain_of(world.mfr_ca, sk_X509_value(fchain, 0)));
	assert_int_equal(sc_chain_verdict(rev, world.mfr_root, NULL), 0);
	sk_X509_pop_free(rev, X509_free);
	/* Oversize: 17 certificates. */
	assert_non_null(big = sk_X509_new_null());
	for (int i = 0; i < 17; i++)
		assert_true(sk_X509_push(big, sk_X509_value(fchain, 0)) > 0);
	assert_int_equal(sc_chain_verdict(big, world.mfr_root, NULL), 0);
	sk_X509_free(big);
	/* Expired a year ago: the same verdict (time is the request's business). */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(dca), -400, 0, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(dca), -365, 0, NULL));
	assert_true(X509_sign(dca, world.mfr_ca_key, EVP_sha256()) > 0);
	assert_non_null(ch = chain_of(dca, world.mfr_ca));
	assert_int_equal(sc_chain_verdict(ch, world.mfr_root, NULL), rules);
	sk_X509_pop_free(ch, X509_free);
	X509_free(dca);
	/* policyConstraints on the manufacturer CA: accepted in full, no verdict (as the judge). */
	assert_int_equal(sc_test_world_mfr_ca(&world, "VerdictPol", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_policy_constraints, "critical,requireExplicitPolicy:0",
	    world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	assert_non_null(ch = chain_of(dca, mca));
	assert_int_equal(sc_chain_verdict(ch, world.mfr_root, NULL), 0);
	sk_X509_pop_free(ch, X509_free);
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(mk);
	EVP_PKEY_free(k);
}

/*
 * schema14: sc_leaf_first_judge_der on the world's first certificate: judged as the X509 judge
 * judges it with the chain's recorded verdict; not with none (0), another build's rules, no
 * key, no chain or more than SC_FIRST_CHAIN_MAX certificates, a chain certificate not valid at
 * the time judged (the verdict is time-free: time is judged here), a leaf not the builder's. A
 * verdict forged in the registry for a non-strict chain is believed: the registry is trusted
 * storage (THREAT-MODEL.md "Session 14 (schema14)"), as a forged pin is.
 */
static void test_first_der_verdict(void **state)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f, g;
	struct sc_first_chain_der cd, c2;
	uint8_t *ders[SC_FIRST_CHAIN_MAX], *bad;
	uint32_t rules = sc_chain_rules();

	(void)state;
	first_opts(&o, fchain, prof1, now);
	assert_int_equal(sc_leaf_first_judge(first_der, first_len, &o, &g), 1);
	cd_of(fchain, sc_chain_verdict(fchain, world.mfr_root, NULL), &cd, ders);
	assert_int_equal(cd.verdict, rules);
	o.chain = NULL;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &cd, &f), 1);
	assert_memory_equal(&f, &g, sizeof(f));
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, NULL, &f), 0);
	c2 = cd;
	c2.verdict = 0;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	c2.verdict = rules + 1; /* another build's */
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	c2 = cd;
	c2.ca_key = NULL;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	c2 = cd;
	c2.n = 0;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	c2.n = SC_FIRST_CHAIN_MAX + 1;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	/* Each certificate's time: the manufacturer CA's, then the device CA's, ended now. */
	c2 = cd;
	c2.not_after[1] = (int64_t)now;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	c2 = cd;
	c2.not_before[0] = (int64_t)now;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	/* A leaf one byte off: not judged. */
	assert_non_null(bad = OPENSSL_memdup(first_der, first_len));
	bad[first_len - 1] ^= 1;
	assert_int_equal(sc_leaf_first_judge_der(bad, first_len, &o, &cd, &f), 0);
	OPENSSL_free(bad);
	/* The device CA's DER not of the shape read (truncated): not judged. */
	c2 = cd;
	c2.len[0] = cd.len[0] - 1;
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	cd_free(&cd, ders);
}

/*
 * gaps15: the chain's DER as the DER judge reads it (the pin's reference: the device CA's for
 * the issuer, the manufacturer CA's for a nameConstraints), each hostile in turn: truncated, a
 * byte after it, another type than a SEQUENCE, oversize (a SEQUENCE of 200,000 bytes), and its
 * length saying more than it holds. Never judged (the full path then decides); the honest chain
 * is, before and after (nothing kept between calls).
 */
static void test_first_der_chain_hostile(void **state)
{
	struct sc_first_chain_der cd, c2;
	uint8_t *ders[SC_FIRST_CHAIN_MAX], *buf, *big;
	struct sc_verify_opts o;
	struct sc_leaf_fast f;

	(void)state;
	first_opts(&o, fchain, prof1, now);
	o.chain = NULL; /* not read */
	cd_of(fchain, sc_chain_verdict(fchain, world.mfr_root, NULL), &cd, ders);
	assert_int_equal(cd.verdict, sc_chain_rules());
	assert_int_equal(cd.n, 2);
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &cd, &f), 1);
	assert_non_null(big = OPENSSL_zalloc(200000));
	big[0] = 0x30;
	big[1] = 0x83;
	big[2] = 0x03;
	big[3] = 0x0d;
	big[4] = 0x3b; /* 200,000 - 5 zero bytes */
	for (int k = 0; k < 2; k++) {
		assert_non_null(buf = OPENSSL_malloc(cd.len[k] + 1));
		memcpy(buf, cd.der[k], cd.len[k]);
		buf[cd.len[k]] = 0;
		c2 = cd;
		c2.len[k] = cd.len[k] - 1; /* truncated */
		assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
		c2 = cd;
		c2.der[k] = buf;
		c2.len[k] = cd.len[k] + 1; /* a byte after it */
		assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
		buf[0] = 0x31; /* a SET, not a SEQUENCE */
		c2.len[k] = cd.len[k];
		assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
		buf[0] = 0x30;
		buf[3]++; /* its length one more than it holds (all certificates here are 2-byte) */
		assert_int_equal(buf[1], 0x82);
		assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
		c2.der[k] = big; /* oversize */
		c2.len[k] = 200000;
		assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
		OPENSSL_free(buf);
	}
	OPENSSL_free(big);
	/* The manufacturer CA's DER as the device CA's (a Name without serialNumber). */
	c2 = cd;
	c2.der[0] = cd.der[1];
	c2.len[0] = cd.len[1];
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &c2, &f), 0);
	assert_int_equal(sc_leaf_first_judge_der(first_der, first_len, &o, &cd, &f), 1);
	cd_free(&cd, ders);
}

/* schema14: a pin's verdict forged in the registry for a chain that is not strict is believed
 * (the registry is trusted storage); its honest verdict, 0, is not. */
static void test_first_der_forged_verdict(void **state)
{
	struct sc_test_world w2 = world;
	EVP_PKEY *mk = NULL, *k = NULL;
	X509 *mca = NULL, *dca = NULL, *x;
	STACK_OF(X509) *ch;
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	struct sc_first_chain_der cd;
	uint8_t *ders[SC_FIRST_CHAIN_MAX], *d = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_mfr_ca(&world, "Forged", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_basic_constraints, "CA:TRUE", world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	x = first_leaf(prof1, dca, k);
	to_der(x, &d, &len);
	ch = chain_of(dca, mca);
	first_opts(&o, ch, prof1, now);
	assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 0);
	cd_of(ch, sc_chain_verdict(ch, world.mfr_root, NULL), &cd, ders);
	assert_int_equal(cd.verdict, 0);
	o.chain = NULL;
	assert_int_equal(sc_leaf_first_judge_der(d, len, &o, &cd, &f), 0);
	cd.verdict = sc_chain_rules(); /* by hand, in the database */
	assert_int_equal(sc_leaf_first_judge_der(d, len, &o, &cd, &f), 1);
	cd_free(&cd, ders);
	OPENSSL_free(d);
	sk_X509_pop_free(ch, X509_free);
	X509_free(x);
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(mk);
	EVP_PKEY_free(k);
}

/*
 * schema14: the device CA's extensions as the DER judge reads them (issuer_from_der), with a
 * verdict forced so that only that reading decides: a second subjectKeyIdentifier, a
 * nameConstraints not critical (even of the V2 encoding), no subjectKeyIdentifier: not judged.
 * x: a first leaf built under dca before dca was altered (and re-signed).
 */
static void der_ca_not_judged(X509 *x, X509 *dca)
{
	STACK_OF(X509) *ch = chain_of(dca, world.mfr_ca);
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	struct sc_first_chain_der cd;
	uint8_t *ders[SC_FIRST_CHAIN_MAX], *d = NULL;
	size_t len = 0;

	to_der(x, &d, &len);
	first_opts(&o, ch, prof1, now);
	o.chain = NULL;
	cd_of(ch, sc_chain_rules(), &cd, ders);
	assert_int_equal(sc_leaf_first_judge_der(d, len, &o, &cd, &f), 0);
	cd_free(&cd, ders);
	OPENSSL_free(d);
	sk_X509_pop_free(ch, X509_free);
}

static void test_first_der_ca_exts(void **state)
{
	EVP_PKEY *k = NULL;
	X509 *dca = NULL, *x;
	X509_EXTENSION *ext;
	int i;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	/* Two SKIDs. */
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	x = first_leaf(prof1, dca, k);
	i = X509_get_ext_by_NID(dca, NID_subject_key_identifier, -1);
	assert_non_null(ext = X509_EXTENSION_dup(X509_get_ext(dca, i)));
	assert_true(X509_add_ext(dca, ext, -1) == 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(dca, world.mfr_ca_key, EVP_sha256()) > 0);
	der_ca_not_judged(x, dca);
	X509_free(x);
	X509_free(dca);
	/* The V2 constraints' encoding, not critical. */
	assert_int_equal(sc_cert_device_ca_form(k, world.device_id, 30, world.mfr_ca,
	                     world.mfr_ca_key, SC_DEVICE_CA_V2, &dca),
	    SC_OK);
	x = first_leaf(prof1, dca, k);
	i = X509_get_ext_by_NID(dca, NID_name_constraints, -1);
	assert_true(X509_EXTENSION_set_critical(X509_get_ext(dca, i), 0) == 1);
	assert_true(X509_sign(dca, world.mfr_ca_key, EVP_sha256()) > 0);
	der_ca_not_judged(x, dca);
	X509_free(x);
	X509_free(dca);
	/* No SKID. */
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	x = first_leaf(prof1, dca, k);
	del_ext(dca, NID_subject_key_identifier, world.mfr_ca_key);
	der_ca_not_judged(x, dca);
	X509_free(x);
	X509_free(dca);
	EVP_PKEY_free(k);
}

/*
 * schema14: the DER issuer's decoder, sc_leaf_issuer_new_der, on hostile parts: truncated,
 * trailing bytes, the wrong type, oversize, a subject without serialNumber, name constraints of
 * no known form, missing arguments; each refused with its error, and the device CA's own parts
 * (and its V2 constraints) taken.
 */
static void test_issuer_der_hostile(void **state)
{
	X509 *ca = sk_X509_value(fchain, 0), *dca = NULL;
	uint8_t *subj = NULL, *big, buf[8192];
	const ASN1_OCTET_STRING *skv;
	struct sc_leaf_issuer *li = (void *)1;
	X509_NAME *cn_only = X509_NAME_new();
	uint8_t *cn_der = NULL;
	EVP_PKEY *k = NULL;
	int sl, kl, cl;

	(void)state;
	assert_true((sl = i2d_X509_NAME(X509_get_subject_name(ca), &subj)) > 0);
	skv = X509_EXTENSION_get_data(
	    X509_get_ext(ca, X509_get_ext_by_NID(ca, NID_subject_key_identifier, -1)));
	kl = ASN1_STRING_length(skv);
	const uint8_t *sk = ASN1_STRING_get0_data(skv);
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, NULL, 0, &li),
	    SC_OK);
	sc_leaf_issuer_free(li);
	/* Missing. */
	assert_int_equal(sc_leaf_issuer_new_der(NULL, 0, sk, (size_t)kl, NULL, 0, &li),
	    SC_ERR_USAGE);
	assert_null(li);
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, NULL, 0, NULL, 0, &li),
	    SC_ERR_USAGE);
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, sk, 0, &li),
	    SC_ERR_USAGE);
	/* The subject: truncated, a byte after it, the wrong type, oversize. */
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl - 1, sk, (size_t)kl, NULL, 0, &li),
	    SC_ERR_MALFORMED);
	assert_string_equal(sc_err_detail(), "device CA subject: not one Name");
	memcpy(buf, subj, (size_t)sl);
	buf[sl] = 0;
	assert_int_equal(sc_leaf_issuer_new_der(buf, (size_t)sl + 1, sk, (size_t)kl, NULL, 0, &li),
	    SC_ERR_MALFORMED);
	assert_int_equal(sc_leaf_issuer_new_der(sk, (size_t)kl, sk, (size_t)kl, NULL, 0, &li),
	    SC_ERR_MALFORMED);
	assert_non_null(big = OPENSSL_zalloc(200000));
	big[0] = 0x30;
	big[1] = 0x83;
	big[2] = 0x03;
	big[3] = 0x0d;
	big[4] = 0x3b; /* a SEQUENCE of 200,000 - 5 zero bytes: no Name */
	assert_int_equal(sc_leaf_issuer_new_der(big, 200000, sk, (size_t)kl, NULL, 0, &li),
	    SC_ERR_MALFORMED);
	OPENSSL_free(big);
	/* A subject without serialNumber: sc_cert_device_id's error. */
	assert_non_null(cn_only);
	assert_true(X509_NAME_add_entry_by_NID(cn_only, NID_commonName, MBSTRING_ASC,
	                (const unsigned char *)"x", -1, -1, 0) == 1);
	assert_true((cl = i2d_X509_NAME(cn_only, &cn_der)) > 0);
	assert_int_equal(sc_leaf_issuer_new_der(cn_der, (size_t)cl, sk, (size_t)kl, NULL, 0, &li),
	    SC_ERR_NOT_FOUND);
	assert_string_equal(sc_err_detail(), "subject has no serialNumber");
	/* The SKID: truncated, a byte after it, the wrong type. */
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl - 1, NULL, 0, &li),
	    SC_ERR_MALFORMED);
	assert_string_equal(sc_err_detail(),
	    "device CA subjectKeyIdentifier: not one OCTET STRING");
	memcpy(buf, sk, (size_t)kl);
	buf[kl] = 0;
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, buf, (size_t)kl + 1, NULL, 0,
	                     &li),
	    SC_ERR_MALFORMED);
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, subj, (size_t)sl, NULL, 0, &li),
	    SC_ERR_MALFORMED);
	/* Name constraints: no known form (an arbitrary DNS subtree; the subject's bytes). */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	set_ext(dca, world.mfr_ca, NID_name_constraints, "critical,permitted;DNS:allowed.example",
	    world.mfr_ca_key);
	{
		const ASN1_OCTET_STRING *nv = X509_EXTENSION_get_data(
		    X509_get_ext(dca, X509_get_ext_by_NID(dca, NID_name_constraints, -1)));

		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl,
		                     ASN1_STRING_get0_data(nv), (size_t)ASN1_STRING_length(nv),
		                     &li),
		    SC_ERR_USAGE);
		assert_string_equal(sc_err_detail(), "device CA nameConstraints: not a known form");
	}
	assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, subj, (size_t)sl,
	                     &li),
	    SC_ERR_USAGE);
	X509_free(dca);
	dca = NULL;
	/* The V2 form as sc_cert_device_ca writes it: taken. */
	assert_int_equal(sc_cert_device_ca_form(k, world.device_id, 30, world.mfr_ca,
	                     world.mfr_ca_key, SC_DEVICE_CA_V2, &dca),
	    SC_OK);
	{
		const ASN1_OCTET_STRING *nv = X509_EXTENSION_get_data(
		    X509_get_ext(dca, X509_get_ext_by_NID(dca, NID_name_constraints, -1)));

		const uint8_t *nd = ASN1_STRING_get0_data(nv);
		size_t nl = (size_t)ASN1_STRING_length(nv);

		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, nd, nl,
		                     &li),
		    SC_OK);
		sc_leaf_issuer_free(li);
		/* gaps15: the known form truncated, a byte after it, oversize: not a known form. */
		assert_true(nl < sizeof(buf));
		memcpy(buf, nd, nl);
		buf[nl] = 0;
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, nd,
		                     nl - 1, &li),
		    SC_ERR_USAGE);
		assert_string_equal(sc_err_detail(), "device CA nameConstraints: not a known form");
		assert_null(li);
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, buf,
		                     nl + 1, &li),
		    SC_ERR_USAGE);
		assert_string_equal(sc_err_detail(), "device CA nameConstraints: not a known form");
		assert_non_null(big = OPENSSL_zalloc(200000));
		memcpy(big, nd, nl);
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, (size_t)kl, big,
		                     200000, &li),
		    SC_ERR_USAGE);
		assert_string_equal(sc_err_detail(), "device CA nameConstraints: not a known form");
		/* gaps15: an oversize SKID (one OCTET STRING of 200,000 - 5 bytes). robust16:
		 * refused, as the X509 issuers refuse it (test_issuer_skid_bound). Its length one
		 * more than it holds: not one OCTET STRING. */
		memset(big, 0, 200000);
		big[0] = 0x04;
		big[1] = 0x83;
		big[2] = 0x03;
		big[3] = 0x0d;
		big[4] = 0x3b;
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, big, 200000, NULL, 0,
		                     &li),
		    SC_ERR_MALFORMED);
		assert_string_equal(sc_err_detail(),
		    "device CA subjectKeyIdentifier: 199995 bytes, over the 64 allowed");
		assert_null(li);
		big[4] = 0x3c;
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, big, 200000, NULL, 0,
		                     &li),
		    SC_ERR_MALFORMED);
		assert_string_equal(sc_err_detail(),
		    "device CA subjectKeyIdentifier: not one OCTET STRING");
		assert_null(li);
		OPENSSL_free(big);
	}
	X509_free(dca);
	EVP_PKEY_free(k);
	OPENSSL_free(cn_der);
	X509_NAME_free(cn_only);
	OPENSSL_free(subj);
}

/* A device CA of the world's device whose subjectKeyIdentifier is n bytes of 0x5a. */
static X509 *dca_with_skid(EVP_PKEY *k, int n)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	uint8_t v[SC_LEAF_ISSUER_SKID_MAX + 1];
	X509 *dca = NULL;

	assert_non_null(os);
	assert_true(n >= 0 && n <= (int)sizeof(v));
	memset(v, 0x5a, sizeof(v));
	assert_true(ASN1_OCTET_STRING_set(os, v, n) == 1);
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &dca), SC_OK);
	assert_true(
	    X509_add1_ext_i2d(dca, NID_subject_key_identifier, os, 0, X509V3_ADD_REPLACE) == 1);
	assert_true(X509_sign(dca, world.mfr_ca_key, EVP_sha256()) > 0);
	ASN1_OCTET_STRING_free(os);
	return dca;
}

/* The SKID's value (the OCTET STRING inside extnValue) of x, as issuer_from_der passes it. */
static void skid_value(X509 *x, const uint8_t **v, size_t *n)
{
	const ASN1_OCTET_STRING *skv = X509_EXTENSION_get_data(
	    X509_get_ext(x, X509_get_ext_by_NID(x, NID_subject_key_identifier, -1)));

	*v = ASN1_STRING_get0_data(skv);
	*n = (size_t)ASN1_STRING_length(skv);
}

/*
 * robust16 (gaps15's note): the device CA's subjectKeyIdentifier is bounded alike on both
 * verifier-side issuers, from its X509 (sc_leaf_issuer_new_public) and from its DER
 * (sc_leaf_issuer_new_der), and not on the SP's (sc_leaf_issuer_new, with the key):
 * 1 and SC_LEAF_ISSUER_SKID_MAX bytes taken; empty, one byte over, truncated, a byte after it
 * and the wrong type (a BIT STRING) refused, each with the same error and detail on both.
 */
static void test_issuer_skid_bound(void **state)
{
	static const struct {
		int n;
		sc_err want;
		const char *detail;
	} cases[] = {
		{ 1, SC_OK, NULL },
		{ 20, SC_OK, NULL },
		{ SC_LEAF_ISSUER_SKID_MAX, SC_OK, NULL },
		{ 0, SC_ERR_MALFORMED, "device CA subjectKeyIdentifier: empty" },
		{ SC_LEAF_ISSUER_SKID_MAX + 1, SC_ERR_MALFORMED,
		    "device CA subjectKeyIdentifier: 65 bytes, over the 64 allowed" },
	};
	X509 *ca = sk_X509_value(fchain, 0);
	uint8_t *subj = NULL, buf[SC_LEAF_ISSUER_SKID_MAX + 8];
	const uint8_t *sk;
	size_t kl;
	EVP_PKEY *k = NULL;
	int sl;

	(void)state;
	_Static_assert(SC_LEAF_ISSUER_SKID_MAX == 64, "the details below say 64");
	assert_true((sl = i2d_X509_NAME(X509_get_subject_name(ca), &subj)) > 0);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *dca = dca_with_skid(k, cases[i].n);
		struct sc_leaf_issuer *li = (void *)1;

		skid_value(dca, &sk, &kl);
		assert_int_equal(sc_leaf_issuer_new_public(dca, &li), cases[i].want);
		if (cases[i].detail != NULL) {
			assert_string_equal(sc_err_detail(), cases[i].detail);
			assert_null(li);
		}
		sc_leaf_issuer_free(li);
		li = (void *)1;
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, kl, NULL, 0, &li),
		    cases[i].want);
		if (cases[i].detail != NULL) {
			assert_string_equal(sc_err_detail(), cases[i].detail);
			assert_null(li);
		}
		sc_leaf_issuer_free(li);
		/* The SP's issuer (with its key) takes any non-empty key ID, as sc_cert_issue_leaf
		 * and the TPM backend do: a factory's device CA issues whatever its SKID. */
		li = NULL;
		if (cases[i].n > 0) {
			assert_int_equal(sc_leaf_issuer_new(dca, k, &li), SC_OK);
			assert_non_null(li);
		}
		sc_leaf_issuer_free(li);
		X509_free(dca);
	}
	/* The DER's own faults at the bound: truncated, a byte after it, the wrong type. */
	{
		X509 *dca = dca_with_skid(k, SC_LEAF_ISSUER_SKID_MAX);
		struct sc_leaf_issuer *li = (void *)1;

		skid_value(dca, &sk, &kl);
		assert_true(kl == SC_LEAF_ISSUER_SKID_MAX + 2 && kl + 1 <= sizeof(buf));
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, sk, kl - 1, NULL, 0, &li),
		    SC_ERR_MALFORMED);
		assert_string_equal(sc_err_detail(),
		    "device CA subjectKeyIdentifier: not one OCTET STRING");
		assert_null(li);
		memcpy(buf, sk, kl);
		buf[kl] = 0x00;
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, buf, kl + 1, NULL, 0,
		                     &li),
		    SC_ERR_MALFORMED);
		assert_string_equal(sc_err_detail(),
		    "device CA subjectKeyIdentifier: not one OCTET STRING");
		buf[0] = 0x03; /* a BIT STRING of the same length */
		assert_int_equal(sc_leaf_issuer_new_der(subj, (size_t)sl, buf, kl, NULL, 0, &li),
		    SC_ERR_MALFORMED);
		assert_string_equal(sc_err_detail(),
		    "device CA subjectKeyIdentifier: not one OCTET STRING");
		assert_null(li);
		X509_free(dca);
	}
	EVP_PKEY_free(k);
	OPENSSL_free(subj);
}

/* A chain with policyConstraints (requireExplicitPolicy) on the manufacturer CA: the judge
 * takes no such chain (THREAT-MODEL.md judge9: not relied on); the full path, which sets no
 * policy flags, accepts it (asserted), so the registration still succeeds, checked in full. */
static void test_first_policy_constraints(void **state)
{
	struct sc_test_world w2 = world;
	EVP_PKEY *mk = NULL, *k = NULL;
	X509 *mca = NULL, *dca = NULL;

	(void)state;
	assert_int_equal(sc_test_world_mfr_ca(&world, "Policy", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_policy_constraints, "critical,requireExplicitPolicy:0",
	    world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	first_beside_full(prof1, dca, k, mca, 0, SC_OK, NULL);
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(mk);
}

/* ---- judge12: the expected TBS in DER, and the judge's form checks from it ---- */

/* A signed ordinary profile for the world's device with these fields (NULL/0: absent). */
static struct sc_profile *profile_shaped(const char *user_id, const char *const *san,
    const char *const *eku, unsigned ku)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;

	sc_test_profile_params(&world, &pp);
	pp.not_before = now - 30;
	pp.not_after = pp.not_before + 2 * CAD;
	pp.user_id = user_id;
	pp.san = san;
	pp.eku = eku;
	pp.key_usage = ku;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	return p;
}

/* A device CA of the world's device under the world's manufacturer CA in name-constraint form
 * 2 (permitted dNSName <id>.selfcert.invalid), key *k (the caller's). */
static X509 *device_ca_v2(EVP_PKEY **k)
{
	char dns[SC_DEVICE_DNS_MAX + 1], nc[SC_DEVICE_DNS_MAX + 32];
	X509 *dca = NULL;

	assert_int_equal(sc_alg_keygen(SC_ALG_P256, k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, *k, world.device_id, &dca), SC_OK);
	assert_int_equal(sc_cert_device_dns_name(world.device_id, dns, sizeof(dns)), SC_OK);
	snprintf(nc, sizeof(nc), "critical,permitted;DNS:%s", dns);
	set_ext(dca, world.mfr_ca, NID_name_constraints, nc, world.mfr_ca_key);
	assert_int_equal(sc_cert_device_ca_form_of(dca, world.device_id), SC_DEVICE_CA_V2);
	return dca;
}

/* The plain builder's TBS (sc_cert_issue_leaf, i2d) equals sc_fast_expected_tbs_der's under a
 * public issuer of the same CA, with the plain leaf's serial and signature algorithm. */
static void tbs_same_as_plain(struct sc_profile *p, X509 *ca, EVP_PKEY *ca_key)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	struct sc_leaf_issuer *li = NULL;
	struct sc_leaf_tbs_shape shape;
	const ASN1_INTEGER *sn;
	unsigned char *plain = NULL, *aid = NULL;
	uint8_t *want = NULL;
	size_t want_len = 0;
	int n, aid_len;

	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(p, key, ca, ca_key, 7, &x), SC_OK);
	assert_true((n = i2d_re_X509_tbs(x, &plain)) > 0);
	sn = X509_get0_serialNumber(x);
	assert_true((aid_len = i2d_X509_ALGOR(X509_get0_tbs_sigalg(x), &aid)) > 0);
	assert_int_equal(sc_leaf_issuer_new_public(ca, &li), SC_OK);
	assert_int_equal(sc_fast_expected_tbs_der(p, key, li, 7, ASN1_STRING_get0_data(sn),
	                     (size_t)ASN1_STRING_length(sn), aid, (size_t)aid_len, &want, &want_len,
	                     &shape),
	    SC_OK);
	assert_int_equal(want_len, (size_t)n);
	assert_memory_equal(want, plain, want_len);
	assert_int_equal(shape.ku, X509_get_key_usage(x));
	/* A public issuer cannot sign. */
	{
		uint8_t *d = NULL;
		size_t len = 0;
		unsigned ku = 0;

		assert_int_equal(sc_fast_issue_leaf_der(p, key, li, 7, &d, &len, &ku),
		    SC_ERR_USAGE);
		assert_null(d);
	}
	OPENSSL_free(want);
	OPENSSL_free(plain);
	OPENSSL_free(aid);
	sc_leaf_issuer_free(li);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_expected_tbs_shapes(void **state)
{
	static const char *const sans[] = { "dns:a.example", "email:a@example.com",
		"uri:https://example.com/x", "ip:192.0.2.1", NULL };
	static const char *const ekus[] = { "clientAuth", "serverAuth", NULL };
	struct sc_profile *ps[5];
	EVP_PKEY *k2 = NULL;
	X509 *v2 = device_ca_v2(&k2);

	(void)state;
	ps[0] = profile_shaped(NULL, NULL, NULL, 0);
	ps[1] = profile_shaped("alice@example.com", sans, NULL, 0);
	ps[2] = profile_shaped(NULL, NULL, ekus, KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
	ps[3] = profile_shaped("u", sans, ekus, KU_DIGITAL_SIGNATURE | KU_DECIPHER_ONLY);
	ps[4] = profile_shaped(NULL, NULL, NULL, KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN);
	for (int fast = 1; fast >= 0; fast--) {
		sc_fast_set(fast);
		for (int i = 0; i < 5; i++) {
			tbs_same_as_plain(ps[i], world.device_ca, world.csk); /* form V1 */
			if (i != 1 && i != 3) /* a dNSName outside the V2 subtree: refused */
				tbs_same_as_plain(ps[i], v2, k2);
		}
	}
	sc_fast_set(1);
	/* Missing arguments; a CA without a serialNumber-bearing subject is no issuer. */
	{
		struct sc_leaf_issuer *li = NULL;
		struct sc_leaf_tbs_shape shape;
		uint8_t *t = (uint8_t *)"x";
		size_t tl = 1;

		assert_int_equal(sc_leaf_issuer_new_public(NULL, &li), SC_ERR_USAGE);
		assert_null(li);
		assert_int_equal(sc_fast_expected_tbs_der(ps[0], k2, NULL, 7, t, 1, t, 1, &t, &tl,
		                     &shape),
		    SC_ERR_USAGE);
		assert_null(t);
		assert_int_equal(tl, 0);
		assert_int_not_equal(sc_leaf_issuer_new_public(world.mfr_root, &li), SC_OK);
		assert_null(li);
	}
	for (int i = 0; i < 5; i++)
		sc_profile_free(ps[i]);
	X509_free(v2);
	EVP_PKEY_free(k2);
}

/* The judge's form checks from the DER builder on each profile shape and both device CA forms,
 * beside the full check; where it does not decide (a dotted CN under a dNSName constraint, a
 * constraint above the device CA), the X509 path's verdict, still equal to the full check's. */
static void test_first_der_forms(void **state)
{
	static const char *const sans[] = { "dns:x.example", "email:a@example.com", NULL };
	static const char *const ekus[] = { "clientAuth", NULL };
	struct sc_test_world w2 = world;
	struct sc_profile *plain = profile_shaped(NULL, NULL, NULL, 0),
	                  *full = profile_shaped("u1", sans, ekus, KU_DIGITAL_SIGNATURE),
	                  *dotted = profile_shaped("alice.example", NULL, NULL, 0),
	                  *empty_ku = NULL;
	EVP_PKEY *k2 = NULL, *k = NULL, *mk = NULL;
	X509 *v2 = device_ca_v2(&k2), *v1 = NULL, *mca = NULL, *dca = NULL;
	char dns[SC_DEVICE_DNS_MAX + 1], in[SC_DEVICE_DNS_MAX + 8];
	const char *in_san[] = { in, NULL };
	struct sc_profile *in_v2;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, k, world.device_id, &v1), SC_OK);
	assert_int_equal(sc_cert_device_ca_form_of(v1, world.device_id), SC_DEVICE_CA_V1);
	assert_int_equal(sc_cert_device_dns_name(world.device_id, dns, sizeof(dns)), SC_OK);
	snprintf(in, sizeof(in), "dns:a.%s", dns);
	in_v2 = profile_shaped(NULL, in_san, ekus, 0);
	/* V1: every shape decided in DER. */
	assert_int_equal(first_beside_full(plain, v1, k, world.mfr_ca, 1, SC_OK, NULL), 1);
	assert_int_equal(first_beside_full(full, v1, k, world.mfr_ca, 1, SC_OK, NULL), 1);
	assert_int_equal(first_beside_full(dotted, v1, k, world.mfr_ca, 1, SC_OK, NULL), 1);
	/* V2: decided in DER but for the dotted CN (OpenSSL reads it as a DNS name): the X509
	 * path's NAME_CONSTRAINTS_check_CN refuses it where the full check, seeing a dNSName in
	 * the subjectAltName, does not read the CN; not judged, accepted in full. */
	assert_int_equal(first_beside_full(plain, v2, k2, world.mfr_ca, 1, SC_OK, NULL), 1);
	assert_int_equal(first_beside_full(in_v2, v2, k2, world.mfr_ca, 1, SC_OK, NULL), 1);
	assert_int_equal(first_beside_full(dotted, v2, k2, world.mfr_ca, 0, SC_OK, NULL), 2);
	/* A keyUsage with keyCertSign: refused by the DER form check, as by the full check. */
	assert_int_equal(first_beside_full((empty_ku = profile_shaped(NULL, NULL, NULL,
	                                        KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN)),
	                     v1, k, world.mfr_ca, 0, SC_ERR_CHAIN, NULL),
	    1);
	/* Name constraints on the manufacturer CA: the X509 path decides, accepting here... */
	assert_int_equal(sc_test_world_mfr_ca(&world, "Constrained", &mk, &mca), SC_OK);
	set_ext(mca, world.mfr_root, NID_name_constraints, "critical,permitted;DNS:example",
	    world.mfr_root_key);
	w2.mfr_ca = mca;
	w2.mfr_ca_key = mk;
	assert_int_equal(sc_test_world_device_ca(&w2, k, world.device_id, &dca), SC_OK);
	assert_int_equal(first_beside_full(plain, dca, k, mca, 1, SC_OK, NULL), 2);
	/* ... and refusing a subjectAltName outside them, as the full check does. */
	assert_int_equal(first_beside_full(in_v2, dca, k, mca, 0, SC_ERR_CHAIN,
	                     "permitted subtree violation (depth 0)"),
	    2);
	X509_free(dca);
	X509_free(mca);
	EVP_PKEY_free(mk);
	X509_free(v1);
	X509_free(v2);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	sc_profile_free(plain);
	sc_profile_free(full);
	sc_profile_free(dotted);
	sc_profile_free(in_v2);
	sc_profile_free(empty_ku);
}

/* first's TBS with [at, at+n) replaced by rep (m bytes), its length re-encoded, signed by the
 * device CA's key: a leaf the device CA signed but the builder did not write. */
static void tbs_spliced(size_t at, size_t n, const uint8_t *rep, size_t m, uint8_t **out,
    size_t *out_len)
{
	unsigned char *tbs = NULL, *body, *sig = NULL, *aid = NULL, *cert, *w;
	int tl = i2d_re_X509_tbs(first, &tbs), al;
	size_t hl = tbs[1] & 0x80 ? 2 + (size_t)(tbs[1] & 0x7f) : 2, blen, siglen = 0, nl, cl;
	EVP_MD_CTX *m_ = EVP_MD_CTX_new();

	assert_true(tl > 0 && at >= hl && at + n <= (size_t)tl);
	blen = (size_t)tl - hl - n + m;
	assert_true(blen >= 0x100 && blen < 0x10000);
	nl = 4 + blen;
	body = OPENSSL_malloc(nl);
	assert_non_null(body);
	body[0] = 0x30;
	body[1] = 0x82;
	body[2] = (uint8_t)(blen >> 8);
	body[3] = (uint8_t)blen;
	memcpy(body + 4, tbs + hl, at - hl);
	memcpy(body + 4 + at - hl, rep, m);
	memcpy(body + 4 + at - hl + m, tbs + at + n, (size_t)tl - at - n);
	assert_true((al = i2d_X509_ALGOR(X509_get0_tbs_sigalg(first), &aid)) > 0);
	assert_true(EVP_DigestSignInit(m_, NULL, EVP_sha256(), NULL, world.csk) == 1);
	assert_true(EVP_DigestSign(m_, NULL, &siglen, body, nl) == 1);
	sig = OPENSSL_malloc(siglen);
	assert_true(EVP_DigestSign(m_, sig, &siglen, body, nl) == 1);
	cl = nl + (size_t)al + 3 + siglen;
	cert = OPENSSL_malloc(cl + 4);
	w = cert;
	*w++ = 0x30;
	*w++ = 0x82;
	*w++ = (uint8_t)(cl >> 8);
	*w++ = (uint8_t)cl;
	memcpy(w, body, nl);
	w += nl;
	memcpy(w, aid, (size_t)al);
	w += al;
	*w++ = 0x03;
	*w++ = (uint8_t)(siglen + 1);
	*w++ = 0;
	memcpy(w, sig, siglen);
	*out = cert;
	*out_len = cl + 4;
	EVP_MD_CTX_free(m_);
	OPENSSL_free(tbs);
	OPENSSL_free(body);
	OPENSSL_free(sig);
	OPENSSL_free(aid);
}

/* Not judged, or judged only where the full check accepts. */
static void judged_only_if_full(const uint8_t *d, size_t len, const char *what, size_t i)
{
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	sc_err full;

	first_opts(&o, fchain, prof1, now);
	if (sc_leaf_first_judge(d, len, &o, &f) &&
	    (full = first_full(d, len, fchain, prof1, now)) != SC_OK)
		fail_msg("%s %zu: judged, the full check says %d", what, i, (int)full);
}

/*
 * Every byte of first's TBS changed in turn, the leaf re-signed by the device CA (so the
 * signature holds and only the comparison with the builder's TBS stands between): judged only
 * where the full check accepts (a serial byte: another valid serial). The serial's forms the
 * builder does not write (negative, zero, not minimal, 21 octets with a leading zero): the
 * judge's serial check. Another AKID: not judged.
 */
static void test_first_der_resigned(void **state)
{
	unsigned char *tbs = NULL;
	int tl = i2d_re_X509_tbs(first, &tbs);
	const ASN1_INTEGER *sn = X509_get0_serialNumber(first);
	size_t sn_at, sn_len = (size_t)ASN1_STRING_length(sn), judged = 0, len;
	uint8_t b, *d, rep[24];
	struct sc_verify_opts o;
	struct sc_leaf_fast f;

	(void)state;
	assert_true(tl > 0);
	first_opts(&o, fchain, prof1, now);
	/* The serial's TLV: after the TBS header (4 bytes) and the version (5). */
	sn_at = 4 + 5;
	assert_int_equal(tbs[sn_at], 0x02);
	assert_int_equal(tbs[sn_at + 1], sn_len);
	for (size_t i = 4; i < (size_t)tl; i++) {
		b = tbs[i] ^ 0x01;
		tbs_spliced(i, 1, &b, 1, &d, &len);
		if (sc_leaf_first_judge(d, len, &o, &f)) {
			judged++;
			/* a serial byte, or the issuance counter's (the TBS's last byte): the
			 * leaf's own values, which the full check reads from it too */
			if (!(i >= sn_at + 2 && i < sn_at + 2 + sn_len) && i != (size_t)tl - 1)
				fail_msg("TBS byte %zu of %d judged", i, tl);
		}
		judged_only_if_full(d, len, "TBS byte", i);
		OPENSSL_free(d);
	}
	assert_true(judged > 0); /* some serial bytes */
	/* The serial unchanged: judged (the splice itself is faithful). */
	tbs_spliced(sn_at, 2 + sn_len, tbs + sn_at, 2 + sn_len, &d, &len);
	assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 1);
	OPENSSL_free(d);
	/* Negative; zero; a non-minimal leading zero: not judged. 21 octets (a leading zero, 20
	 * that need it): judged only as the full check says. */
	{
		static const uint8_t neg[] = { 0x02, 0x10, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
			12, 13, 14, 15 };
		static const uint8_t zero[] = { 0x02, 0x01, 0x00 };
		static const uint8_t pad[] = { 0x02, 0x11, 0x00, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9,
			10, 11, 12, 13, 14, 15 };
		const uint8_t *forms[3] = { neg, zero, pad };
		size_t lens[3] = { sizeof(neg), sizeof(zero), sizeof(pad) };

		for (int i = 0; i < 3; i++) {
			tbs_spliced(sn_at, 2 + sn_len, forms[i], lens[i], &d, &len);
			assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 0);
			OPENSSL_free(d);
		}
		rep[0] = 0x02;
		rep[1] = 21;
		rep[2] = 0x00;
		memset(rep + 3, 0xa5, 20);
		tbs_spliced(sn_at, 2 + sn_len, rep, 23, &d, &len);
		judged_only_if_full(d, len, "serial of 21 octets", 21);
		OPENSSL_free(d);
		/* 20 octets, positive and minimal: a valid serial, judged like the full check. */
		rep[1] = 20;
		rep[2] = 0x25;
		tbs_spliced(sn_at, 2 + sn_len, rep, 22, &d, &len);
		assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 1);
		assert_int_equal(first_full(d, len, fchain, prof1, now), SC_OK);
		OPENSSL_free(d);
	}
	OPENSSL_free(tbs);
}

/* Another AKID (the manufacturer CA's key ID), and an extra extension, each re-signed. */
static void edit_akid(X509 *x)
{
	set_ext(x, world.mfr_ca, NID_authority_key_identifier, "keyid:always", world.csk);
}

static void edit_extra(X509 *x)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, "extra");

	assert_non_null(e);
	assert_true(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

static void test_first_der_exts(void **state)
{
	uint8_t *d = NULL;
	size_t len = 0;

	(void)state;
	first_edited(edit_akid, &d, &len);
	judged_only_if_full(d, len, "akid", 0);
	{
		struct sc_verify_opts o;
		struct sc_leaf_fast f;

		first_opts(&o, fchain, prof1, now);
		assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 0);
	}
	OPENSSL_free(d);
	first_edited(edit_extra, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING, "extensions");
	OPENSSL_free(d);
}

/* ref10: the leaf's device read from its DER (a gate before the pin's vouch), every form. */
static void test_leaf_device_is(void **state)
{
	char shorter[SC_DEVICE_ID_MAX + 1];
	uint8_t *d = OPENSSL_malloc(first_len + 1);

	(void)state;
	assert_non_null(d);
	memcpy(d, first_der, first_len);
	assert_int_equal(sc_leaf_device_is(first_der, first_len, world.device_id), 1);
	assert_int_equal(sc_leaf_device_is(first_der, first_len, "DEV-OTHER"), 0);
	snprintf(shorter, sizeof(shorter), "%s", world.device_id);
	shorter[strlen(shorter) - 1] = '\0';
	assert_int_equal(sc_leaf_device_is(first_der, first_len, shorter), 0);
	assert_int_equal(sc_leaf_device_is(first_der, first_len, NULL), 0);
	assert_int_equal(sc_leaf_device_is(first_der, first_len - 1, world.device_id), 0);
	d[first_len] = 0;
	assert_int_equal(sc_leaf_device_is(d, first_len + 1, world.device_id), 0);
	assert_int_equal(sc_leaf_device_is(d, 0, world.device_id), 0);
	/* A renewal profile's leaf names the device too; a wrong outer type is no certificate. */
	assert_int_equal(sc_leaf_device_is(der[0], der_len[0], world.device_id), 1);
	d[0] = 0x31; /* a SET, not a SEQUENCE */
	assert_int_equal(sc_leaf_device_is(d, first_len, world.device_id), 0);
	OPENSSL_free(d);
}

/* ---- judge11: the leaf's key read from its SPKI's BIT STRING, not a whole-leaf decode ---- */

/*
 * first_der with its TBS's byte at `at` (an offset into first_der inside the TBS) set to v, the
 * TBS signed again by the device CA's key: a certificate the device CA did sign.
 */
static void first_spki_edit(size_t at, uint8_t v, uint8_t **out, size_t *len)
{
	const unsigned char *p = first_der, *tbs;
	long clen = 0, tlen = 0;
	int tag, cls;
	uint8_t *t, sig[80], *q;
	size_t sig_len = sizeof(sig), n;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	static const uint8_t alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04,
		0x03, 0x02 };

	assert_non_null(m);
	assert_true((ASN1_get_object(&p, &clen, &tag, &cls, (long)first_len) & 0x80) == 0);
	tbs = p;
	assert_true((ASN1_get_object(&p, &tlen, &tag, &cls, clen) & 0x80) == 0);
	tlen += (long)(p - tbs);
	assert_true(
	    at >= (size_t)(tbs - first_der) && at < (size_t)(tbs - first_der) + (size_t)tlen);
	t = OPENSSL_memdup(tbs, (size_t)tlen);
	assert_non_null(t);
	t[at - (size_t)(tbs - first_der)] = v;
	assert_true(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, world.csk) == 1);
	assert_true(EVP_DigestSign(m, sig, &sig_len, t, (size_t)tlen) == 1);
	EVP_MD_CTX_free(m);
	/* SEQUENCE { tbs, alg, BIT STRING { 0, sig } }, every length < 64 KiB. */
	n = (size_t)tlen + sizeof(alg) + 3 + sig_len;
	*out = q = OPENSSL_malloc(4 + n);
	assert_non_null(q);
	*q++ = 0x30;
	*q++ = 0x82;
	*q++ = (uint8_t)(n >> 8);
	*q++ = (uint8_t)n;
	memcpy(q, t, (size_t)tlen);
	q += tlen;
	memcpy(q, alg, sizeof(alg));
	q += sizeof(alg);
	*q++ = 0x03;
	*q++ = (uint8_t)(sig_len + 1);
	*q++ = 0x00;
	memcpy(q, sig, sig_len);
	*len = 4 + n;
	OPENSSL_free(t);
}

static void test_first_spki_bits(void **state)
{
	static const uint8_t head[] = { 0x03, 0x42, 0x00, 0x04 }; /* BIT STRING, 0 unused, point */
	struct sc_verify_opts o;
	struct sc_leaf_fast f;
	size_t at = 0;
	uint8_t *d = NULL;
	size_t len = 0;
	/* X509_verify_cert's word for a leaf whose key does not decode (EXFLAG_INVALID). */
	const char *undecodable = "unspecified certificate verification error (depth 0)";

	(void)state;
	for (at = 0; at + sizeof(head) + 64 <= first_len; at++)
		if (memcmp(first_der + at, head, sizeof(head)) == 0)
			break;
	assert_true(at + sizeof(head) + 64 <= first_len);
	/* The unchanged bytes signed again: still judged (the helper makes what X509_sign does). */
	first_spki_edit(at + 2, 0x00, &d, &len);
	first_opts(&o, fchain, prof1, now);
	assert_int_equal(sc_leaf_first_judge(d, len, &o, &f), 1);
	OPENSSL_free(d);
	/* One unused bit in the key's BIT STRING: OpenSSL's decoder clears it in y, so for an even y
	 * the key decodes (not in the builder's encoding), for an odd one it is off the curve. */
	first_spki_edit(at + 2, 0x01, &d, &len);
	if (first_der[at + 3 + 64] & 1)
		first_refused(d, len, fchain, prof1, now, SC_ERR_CHAIN, undecodable);
	else
		first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING,
		    "subjectPublicKeyInfo: not as the profile encodes it");
	OPENSSL_free(d);
	/* A compressed point's prefix on 64 bytes: no key. */
	first_spki_edit(at + 3, 0x02, &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_CHAIN, undecodable);
	OPENSSL_free(d);
	/* The same point in the hybrid form (06 or 07 as y is even or odd): a key OpenSSL decodes,
	 * but not the builder's encoding of it. */
	first_spki_edit(at + 3, (uint8_t)(0x06 | (first_der[at + 3 + 64] & 1)), &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_BINDING,
	    "subjectPublicKeyInfo: not as the profile encodes it");
	OPENSSL_free(d);
	/* A point off the curve (its y's last byte changed). */
	first_spki_edit(at + 3 + 64, (uint8_t)(first_der[at + 3 + 64] ^ 0x01), &d, &len);
	first_refused(d, len, fchain, prof1, now, SC_ERR_CHAIN, undecodable);
	OPENSSL_free(d);
}

/*
 * Session 12's review: a V1-form device CA whose permitted serialNumber is a NumericString.
 * sc_cert_device_ca_form_of calls it V1 (the same text), but path validation compares canonical
 * forms, in which a NumericString keeps its tag: every leaf is refused ("permitted subtree
 * violation"), and the judge must not take it: it falls back to the X509 path (form 2), which
 * refuses it.
 */
static void test_first_v1_numeric(void **state)
{
	struct sc_test_world w2 = world;
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	EVP_PKEY *k = NULL;
	X509 *dca = NULL;
	NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
	GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
	X509_NAME *dn = X509_NAME_new();
	int i;

	(void)state;
	assert_non_null(nc);
	assert_non_null(st);
	assert_non_null(dn);
	strcpy(w2.device_id, "12345");
	sc_test_profile_params(&w2, &pp);
	pp.not_before = now - 30;
	pp.not_after = pp.not_before + 2 * CAD;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&w2, k, w2.device_id, &dca), SC_OK);
	assert_non_null(nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null());
	assert_true(X509_NAME_add_entry_by_NID(dn, NID_serialNumber, V_ASN1_NUMERICSTRING,
	    (const unsigned char *)"12345", -1, -1, 0));
	GENERAL_NAME_set0_value(st->base, GEN_DIRNAME, dn);
	assert_true(sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st) > 0);
	while ((i = X509_get_ext_by_NID(dca, NID_name_constraints, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(dca, i));
	assert_true(X509_add1_ext_i2d(dca, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) == 1);
	assert_true(X509_sign(dca, world.mfr_ca_key, EVP_sha256()) > 0);
	NAME_CONSTRAINTS_free(nc);
	assert_int_equal(sc_cert_device_ca_form_of(dca, w2.device_id), SC_DEVICE_CA_V1);
	assert_int_equal(first_beside_full(p, dca, k, world.mfr_ca, 0, SC_ERR_CHAIN,
	                     "permitted subtree violation (depth 0)"),
	    2);
	X509_free(dca);
	EVP_PKEY_free(k);
	sc_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siblings),
		cmocka_unit_test(test_other_key_and_ca),
		cmocka_unit_test(test_past_count_and_time),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_not_covered),
		cmocka_unit_test(test_late_uncovered),
		cmocka_unit_test(test_ref_sig_cache),
		cmocka_unit_test(test_ref_legacy_key),
		cmocka_unit_test(test_rv_nonder_sig),
		cmocka_unit_test(test_rv_other_ca_key),
		cmocka_unit_test(test_first_judged),
		cmocka_unit_test(test_first_hostile),
		cmocka_unit_test(test_first_ca_profile),
		cmocka_unit_test(test_first_every_byte),
		cmocka_unit_test(test_first_spki_bits),
		cmocka_unit_test(test_first_name_constraints),
		cmocka_unit_test(test_first_mfr_pathlen0),
		cmocka_unit_test(test_first_pin_not_strict),
		cmocka_unit_test(test_first_pin_v1_root),
		cmocka_unit_test(test_first_der_ca_times),
		cmocka_unit_test(test_chain_verdict),
		cmocka_unit_test(test_first_der_verdict),
		cmocka_unit_test(test_first_der_forged_verdict),
		cmocka_unit_test(test_first_der_chain_hostile),
		cmocka_unit_test(test_issuer_der_hostile),
		cmocka_unit_test(test_issuer_skid_bound),
		cmocka_unit_test(test_first_der_ca_exts),
		cmocka_unit_test(test_first_policy_constraints),
		cmocka_unit_test(test_leaf_device_is),
		cmocka_unit_test(test_expected_tbs_shapes),
		cmocka_unit_test(test_first_der_forms),
		cmocka_unit_test(test_first_der_resigned),
		cmocka_unit_test(test_first_der_exts),
		cmocka_unit_test(test_first_v1_numeric),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
