// SPDX-License-Identifier: Apache-2.0
/*
 * test_renewal.c — renewal profiles (#17): TBSProfile [6] round trip and hostile encodings, the
 * pure renewal rule (count, cadence, skipped periods), and RENEW (0x1C) against an in-process SP
 * over a real sealed store: several certificates from one profile, early and spent refusals,
 * state surviving a restart, each certificate accepted by the relying party's binding check.
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
#include <unistd.h>
#include <sys/wait.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "pem.h"
#include "profile_internal.h"
#include "sp_msg.h"
#include "testsp.h"
#include "testutil.h"
#include "testworld.h"

#define CAD 3600 /* one hour's cadence */

static struct sc_test_world world;
static struct sc_test_sp tsp;

static int group_setup(void **state)
{
	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &world), SC_OK);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_test_world_free(&world);
	return 0;
}

/* An SP whose device CA began a day ago, so that a renewal window may have begun already. */
static int setup(void **state)
{
	struct sc_test_world w = world; /* plain data: a copy with another device notBefore */

	(void)state;
	w.device_not_before = time(NULL) - 86400;
	assert_int_equal(sc_test_sp_open(&tsp, NULL, world.device_id), SC_OK);
	assert_int_equal(sc_test_sp_personalize(&tsp, &w, SC_ALG_P256, SC_ALG_P256, 0, 64, 1),
	    SC_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sc_test_sp_close(&tsp);
	return 0;
}

/* A renewal profile of count certificates of 2 cadences each, whose window began `ago` s ago. */
static void renewal_params(struct sc_profile_params *pp, uint32_t count, time_t ago)
{
	time_t now = time(NULL);

	sc_test_profile_params(&world, pp);
	pp->not_before = now - ago;
	pp->not_after = pp->not_before + 2 * CAD;
	pp->profile_not_after = now + 3600;
	pp->renewal_count = count;
	pp->renewal_cadence = CAD;
}

static void test_round_trip(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	struct sc_profile_info in;
	uint8_t *der = NULL;
	size_t len;

	(void)state;
	renewal_params(&pp, 24, 0);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	sc_profile_get_info(p, &in);
	assert_int_equal(in.renewal_count, 24);
	assert_int_equal(in.renewal_cadence, CAD);
	assert_int_equal(sc_profile_window_end(&in), pp.not_after + 23 * CAD);
	/* leaf_index, leaf_validity's inverse: each period's notBefore names it, nothing else does. */
	{
		uint32_t i = 99;
		time_t nb, na;

		sc_profile_leaf_validity(&in, 23, &nb, &na);
		assert_int_equal(sc_profile_leaf_index(&in, nb, &i), 1);
		assert_int_equal(i, 23);
		assert_int_equal(sc_profile_leaf_index(&in, in.not_before, &i), 1);
		assert_int_equal(i, 0);
		assert_int_equal(sc_profile_leaf_index(&in, in.not_before + CAD + 1, &i), 0);
		assert_int_equal(sc_profile_leaf_index(&in, in.not_before - CAD, &i), 0);
		assert_int_equal(sc_profile_leaf_index(&in, in.not_before + 24 * CAD, &i), 0);
	}
	/* Index bounds: certificate 23 exists, 24 does not. */
	assert_int_equal(sc_profile_set_renewal_index(p, 23), SC_OK);
	assert_int_equal(sc_profile_set_renewal_index(p, 24), SC_ERR_RENEWAL_SPENT);
	sc_profile_free(p);
	OPENSSL_free(der);

	/* An ordinary profile has no [6], and no index past 0. */
	sc_test_profile_params(&world, &pp);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	sc_profile_get_info(p, &in);
	assert_int_equal(in.renewal_count, 0);
	assert_int_equal(sc_profile_set_renewal_index(p, 1), SC_ERR_USAGE);
	sc_profile_free(p);
	OPENSSL_free(der);
}

/* Build and sign a renewal profile with raw [6] values, bypassing create's bounds. */
static void make_raw(int64_t count, int64_t cadence, uint8_t **der, size_t *len)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;

	renewal_params(&pp, 4, 0);
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_true(ASN1_INTEGER_set_int64(p->sp->tbsProfile->renewal->count, count));
	assert_true(ASN1_INTEGER_set_int64(p->sp->tbsProfile->renewal->cadence, cadence));
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	assert_int_equal(sc_profile_encode(p, der, len), SC_OK);
	sc_profile_free(p);
}

static void expect_decode(const uint8_t *der, size_t len, sc_err want, const char *detail)
{
	struct sc_profile *p = NULL;

	assert_int_equal(sc_profile_decode(der, len, &p), want);
	assert_null(p);
	if (detail != NULL)
		assert_non_null(strstr(sc_err_detail(), detail));
}

/* The offset of the [6] field's tag: A6 followed by its length and a SEQUENCE. */
static size_t find_renewal(const uint8_t *der, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		if (der[i] == 0xA6 && der[i + 2] == 0x30 && der[i + 1] == (uint8_t)(der[i + 3] + 2))
			return i;
	fail_msg("no [6] renewal in the profile");
	return 0;
}

/* One long-form DER length at b[o] (81 n or 82 hi lo) made two less, in place; its header. */
static size_t two_less(uint8_t *b, size_t o)
{
	size_t n = b[o + 1] & 0x7f, l = 0;

	assert_true(b[o] == 0x30 && (b[o + 1] == 0x81 || b[o + 1] == 0x82));
	for (size_t i = 0; i < n; i++)
		l = l << 8 | b[o + 2 + i];
	l -= 2;
	assert_true(l >= 0x80); /* the same form */
	for (size_t i = n; i-- > 0; l >>= 8)
		b[o + 2 + i] = (uint8_t)l;
	return 2 + n;
}

/*
 * der with [6] at `at` implicitly tagged: its SEQUENCE header (30 n) dropped, the tag `tag`
 * holding the two INTEGERs, the two enclosing lengths (SignedProfile's, tbsProfile's) two
 * less: refused by the decoder.
 */
static void implicit_six(const uint8_t *der, size_t len, size_t at, uint8_t tag)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	assert_true(der[at + 2] == 0x30 && der[at + 1] == der[at + 3] + 2);
	memcpy(b, der, at);
	b[at] = tag;
	b[at + 1] = der[at + 3];
	memcpy(b + at + 2, der + at + 4, len - at - 4);
	two_less(b, two_less(b, 0));
	expect_decode(b, len - 2, SC_ERR_MALFORMED, NULL);
	/* Sound framing: SignedProfile and its tbsProfile parse as SEQUENCEs of anything, to the
	 * byte, so the refusal is the [6]'s own. */
	{
		const unsigned char *q = b, *t;
		ASN1_SEQUENCE_ANY *outer = d2i_ASN1_SEQUENCE_ANY(NULL, &q, (long)len - 2), *tbs;
		ASN1_TYPE *first;

		assert_non_null(outer);
		assert_ptr_equal(q, b + len - 2);
		first = sk_ASN1_TYPE_value(outer, 0);
		assert_int_equal(ASN1_TYPE_get(first), V_ASN1_SEQUENCE);
		t = q = first->value.sequence->data;
		tbs = d2i_ASN1_SEQUENCE_ANY(NULL, &q, first->value.sequence->length);
		assert_non_null(tbs);
		assert_ptr_equal(q, t + first->value.sequence->length);
		sk_ASN1_TYPE_pop_free(tbs, ASN1_TYPE_free);
		sk_ASN1_TYPE_pop_free(outer, ASN1_TYPE_free);
	}
	free(b);
}

static void test_hostile(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	uint8_t *der = NULL, *big;
	size_t len, at;

	(void)state;
	/* Each bound of each field. */
	make_raw(1, CAD, &der, &len);
	expect_decode(der, len, SC_ERR_MALFORMED, "tbsProfile.renewal.count: 1, must be 2..1024");
	OPENSSL_free(der);
	make_raw(SC_RENEWAL_COUNT_MAX + 1, CAD, &der, &len);
	expect_decode(der, len, SC_ERR_MALFORMED, "tbsProfile.renewal.count");
	OPENSSL_free(der);
	make_raw(-5, CAD, &der, &len);
	expect_decode(der, len, SC_ERR_MALFORMED, "tbsProfile.renewal.count");
	OPENSSL_free(der);
	make_raw(4, SC_RENEWAL_CADENCE_MIN - 1, &der, &len);
	expect_decode(der, len, SC_ERR_MALFORMED, "tbsProfile.renewal.cadence: 0, must be 1..");
	OPENSSL_free(der);
	make_raw(4, (int64_t)1 << 40, &der, &len);
	expect_decode(der, len, SC_ERR_MALFORMED, "tbsProfile.renewal.cadence");
	OPENSSL_free(der);

	/* Wrong type: [6] wrapping a SET, and a count that is an ENUMERATED. */
	make_raw(4, CAD, &der, &len);
	at = find_renewal(der, len);
	der[at + 2] = 0x31;
	expect_decode(der, len, SC_ERR_MALFORMED, NULL);
	der[at + 2] = 0x30;
	der[at + 4] = 0x0A;
	expect_decode(der, len, SC_ERR_MALFORMED, NULL);
	der[at + 4] = 0x02;
	/* An unknown tag [8]; a primitive [6] around the SEQUENCE. */
	der[at] = 0xA8;
	expect_decode(der, len, SC_ERR_MALFORMED, NULL);
	der[at] = 0x86;
	expect_decode(der, len, SC_ERR_MALFORMED, NULL);
	der[at] = 0xA6;
	/* audit17 item 10: [6] implicitly tagged, the SEQUENCE's header gone: constructed
	 * (A6 n 02 ..) and primitive (86 n 02 ..). [6] is EXPLICIT (FORMATS.md). */
	implicit_six(der, len, at, 0xA6);
	implicit_six(der, len, at, 0x86);
	/* Truncated, trailing, oversize. */
	expect_decode(der, len - 1, SC_ERR_MALFORMED, NULL);
	expect_decode(der, at + 3, SC_ERR_MALFORMED, NULL);
	big = malloc(SC_PROFILE_MAX_DER + 1);
	assert_non_null(big);
	memset(big, 0, SC_PROFILE_MAX_DER + 1);
	memcpy(big, der, len);
	expect_decode(big, len + 1, SC_ERR_TRAILING, NULL);
	expect_decode(big, SC_PROFILE_MAX_DER + 1, SC_ERR_OVERSIZE, NULL);
	free(big);
	/* Intact, it decodes. */
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	sc_profile_free(p);
	OPENSSL_free(der);

	/* The producer refuses a challenge on a renewal profile. */
	renewal_params(&pp, 4, 0);
	pp.challenge = (const uint8_t *)"0123456789abcdef";
	pp.challenge_len = 16;
	assert_int_equal(sc_profile_create(&pp, &p), SC_ERR_USAGE);
	assert_non_null(strstr(sc_err_detail(), "renewal"));
}

enum ren_change { RC_NONE, RC_CHALLENGE, RC_CADENCE, RC_WINDOW };

/*
 * A renewal profile (4 certificates of 2 cadences each, from now) changed past what the producer
 * allows, signed by the world's signer, encoded and decoded, then judged by sc_profile_check as
 * the world's device's SP (its device CA ends SC_TEST_DAYS after the world was made).
 */
static sc_err check_renewal(enum ren_change c)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL, *d = NULL;
	struct sc_anchor anchor = { .network_id = world.network_id, .cert = world.net_root };
	struct sc_profile_policy pol;
	uint8_t *der = NULL;
	size_t len;
	sc_err r;

	renewal_params(&pp, 4, 0);
	pp.profile_not_after = time(NULL) + 3600;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	switch (c) {
	case RC_NONE: break;
	case RC_CHALLENGE:
		assert_non_null(p->sp->tbsProfile->challenge = ASN1_OCTET_STRING_new());
		assert_true(ASN1_OCTET_STRING_set(p->sp->tbsProfile->challenge,
		    (const unsigned char *)"0123456789abcdef", 16));
		break;
	case RC_CADENCE: /* one second longer than a certificate's 2 cadences */
		assert_true(
		    ASN1_INTEGER_set_int64(p->sp->tbsProfile->renewal->cadence, 2 * CAD + 1));
		break;
	case RC_WINDOW: /* certificates inside the device CA, the last of 1024 well past it */
		assert_true(ASN1_INTEGER_set_int64(p->sp->tbsProfile->renewal->count, 1024));
		assert_true(ASN1_INTEGER_set_int64(p->sp->tbsProfile->renewal->cadence,
		    (int64_t)SC_TEST_DAYS * 86400 / 512));
		assert_true(ASN1_TIME_set(p->sp->tbsProfile->validity->notAfter,
		    pp.not_before + (time_t)SC_TEST_DAYS * 86400 / 256));
		break;
	}
	assert_int_equal(sc_profile_sign(p, world.signer_key, world.signer, NULL, 0), SC_OK);
	assert_int_equal(sc_profile_encode(p, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &d), SC_OK);
	memset(&pol, 0, sizeof(pol));
	pol.device_id = world.device_id;
	pol.anchors = &anchor;
	pol.n_anchors = 1;
	pol.now = time(NULL);
	pol.csk_cert = world.device_ca;
	pol.csk_alg = SC_ALG_P256;
	r = sc_profile_check(d, &pol);
	sc_profile_free(d);
	sc_profile_free(p);
	OPENSSL_free(der);
	return r;
}

/*
 * audit17 item 3: the device's own checks of a renewal profile (profile_check.c check_validity),
 * which the producer never lets a profile break: a challenge on a renewal profile, a cadence
 * longer than one certificate (gaps between certificates), a window whose last certificate
 * ends after the device CA although the first ends inside it.
 */
static void test_check_renewal(void **state)
{
	(void)state;
	assert_int_equal(check_renewal(RC_NONE), SC_OK);
	assert_int_equal(check_renewal(RC_CHALLENGE), SC_ERR_CHALLENGE);
	assert_string_equal(sc_err_detail(), "renewal: a renewal profile carries no challenge");
	assert_int_equal(check_renewal(RC_CADENCE), SC_ERR_VALIDITY);
	assert_string_equal(sc_err_detail(),
	    "renewal.cadence: 7201 s is longer than a certificate's 7200 s");
	assert_int_equal(check_renewal(RC_WINDOW), SC_ERR_VALIDITY);
	assert_string_equal(sc_err_detail(),
	    "validity.notAfter is after the device CA certificate's notAfter");
}

static void test_rule(void **state)
{
	struct sc_profile_info in;
	uint32_t i = 99;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.not_before = 1000000;
	in.not_after = in.not_before + 2 * CAD;
	in.renewal_count = 4;
	in.renewal_cadence = CAD;
	/* The first certificate may be made before the window opens. */
	assert_int_equal(sc_profile_renewal_next(&in, 0, in.not_before - 50, &i), SC_OK);
	assert_int_equal(i, 0);
	/* One cadence ahead is allowed, two are early. */
	assert_int_equal(sc_profile_renewal_next(&in, 1, in.not_before, &i), SC_OK);
	assert_int_equal(i, 1);
	assert_int_equal(sc_profile_renewal_next(&in, 2, in.not_before + CAD - 1, &i),
	    SC_ERR_RENEWAL_EARLY);
	assert_non_null(strstr(sc_err_detail(), "certificate 3 of 4 is due from"));
	assert_int_equal(sc_profile_renewal_next(&in, 2, in.not_before + CAD, &i), SC_OK);
	assert_int_equal(i, 2);
	/* A device away for periods skips them. */
	assert_int_equal(sc_profile_renewal_next(&in, 0, in.not_before + 3 * CAD + 5, &i), SC_OK);
	assert_int_equal(i, 3);
	/* Past the count, by issuing or by time. */
	assert_int_equal(sc_profile_renewal_next(&in, 4, in.not_before + 3 * CAD, &i),
	    SC_ERR_RENEWAL_SPENT);
	assert_int_equal(sc_profile_renewal_next(&in, 0, in.not_before + 4 * CAD, &i),
	    SC_ERR_RENEWAL_SPENT);
	in.renewal_count = 0;
	assert_int_equal(sc_profile_renewal_next(&in, 0, in.not_before, &i), SC_ERR_USAGE);
}

/* RENEW (or ISSUE) with a profile; on success the certificate. */
static sc_err call_issue(uint8_t type, const uint8_t *der, size_t len, X509 **cert)
{
	struct sc_buf b;
	struct sc_test_answer a;
	const uint8_t *c;
	uint32_t h;
	size_t n;
	sc_err r;

	*cert = NULL;
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_issue_req_put(&b, der, len);
	r = sc_test_sp_call(&tsp, type, b.data, b.len, &a);
	sc_buf_free(&b);
	if (r == SC_OK) {
		assert_int_equal(sp_issue_ans_get(&a.rd, &h, &c, &n), SC_OK);
		assert_int_equal(sc_cert_from_der(c, n, cert), SC_OK);
	} else {
		sc_fail(r, "%s", a.detail);
	}
	sc_test_answer_free(&a);
	return r;
}

/* The certificate is the profile's number `index`, and a relying party binds it to it. */
static void check_cert(X509 *cert, const uint8_t *der, size_t len, time_t nb, uint32_t index)
{
	struct sc_profile *p = NULL;
	struct sc_verify_opts o;
	STACK_OF(X509) *chain = sc_test_world_chain(&world);
	STACK_OF(X509) *c2 = sk_X509_new_null();

	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), nb + (time_t)index * CAD),
	    0);
	assert_non_null(chain);
	assert_non_null(c2);
	assert_true(sk_X509_push(c2, tsp.csk_cert));
	assert_true(sk_X509_push(c2, world.mfr_ca));
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	memset(&o, 0, sizeof(o));
	o.mfr_root = world.mfr_root;
	o.chain = c2;
	o.profile = p;
	o.net_root = world.net_root;
	/* A later certificate is checked once it is valid; the test world began a minute ago. */
	o.at = nb + (time_t)index * CAD > time(NULL) ? nb + (time_t)index * CAD + 1 : 0;
	if (sc_verify_chain(cert, &o, NULL) != SC_OK)
		fail_msg("verify: %s", sc_err_detail());
	sc_profile_free(p);
	sk_X509_free(chain);
	sk_X509_free(c2);
}

static void test_sp_renew(void **state)
{
	struct sc_profile_params pp;
	struct sc_issuance iss[3];
	uint8_t *der = NULL, *der3 = NULL;
	size_t len, len3;
	X509 *c[3] = { NULL, NULL, NULL }, *x = NULL;

	(void)state;
	/* Four certificates; the window opened a cadence and a half ago: period 1 is current. */
	renewal_params(&pp, 4, CAD + CAD / 2);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der, &len), SC_OK);
	/* Each door takes only its kind. */
	assert_int_equal(call_issue(SC_SP_ISSUE, der, len, &x), SC_ERR_USAGE);
	assert_non_null(strstr(sc_err_detail(), "use RENEW"));

	/* Period 0 was missed: the first certificate is number 1, the next number 2 (one cadence
	 * ahead), and number 3 is early. */
	assert_int_equal(call_issue(SC_SP_RENEW, der, len, &c[0]), SC_OK);
	check_cert(c[0], der, len, pp.not_before, 1);
	assert_int_equal(call_issue(SC_SP_RENEW, der, len, &c[1]), SC_OK);
	check_cert(c[1], der, len, pp.not_before, 2);
	assert_int_equal(call_issue(SC_SP_RENEW, der, len, &x), SC_ERR_RENEWAL_EARLY);
	assert_non_null(strstr(sc_err_detail(), "certificate 4 of 4 is due from"));

	/* The count survives a restart: still early, not a fresh profile. */
	assert_int_equal(sc_test_sp_restart(&tsp), SC_OK);
	assert_int_equal(call_issue(SC_SP_RENEW, der, len, &x), SC_ERR_RENEWAL_EARLY);

	/* Each its own counter, one profile digest. */
	assert_int_equal(sc_issuance_get(c[0], &iss[0]), SC_OK);
	assert_int_equal(sc_issuance_get(c[1], &iss[1]), SC_OK);
	assert_int_equal(iss[1].counter, iss[0].counter + 1);
	assert_memory_equal(iss[0].profile_digest, iss[1].profile_digest, SC_PROFILE_DIGEST_LEN);

	/* A profile of three whose window opened two cadences ago: its last certificate spends
	 * it, and it stays spent across a restart (the replay cache has it). */
	renewal_params(&pp, 3, 2 * CAD + 10);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der3, &len3), SC_OK);
	assert_int_equal(call_issue(SC_SP_RENEW, der3, len3, &c[2]), SC_OK);
	check_cert(c[2], der3, len3, pp.not_before, 2);
	assert_int_equal(call_issue(SC_SP_RENEW, der3, len3, &x), SC_ERR_RENEWAL_SPENT);
	assert_int_equal(sc_test_sp_restart(&tsp), SC_OK);
	assert_int_equal(call_issue(SC_SP_RENEW, der3, len3, &x), SC_ERR_RENEWAL_SPENT);
	assert_int_equal(sc_issuance_get(c[2], &iss[2]), SC_OK);
	assert_int_equal(iss[2].counter, iss[1].counter + 1);

	/* An ordinary profile through RENEW is refused; through ISSUE it is served as before. */
	OPENSSL_free(der);
	sc_test_profile_params(&world, &pp);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der, &len), SC_OK);
	assert_int_equal(call_issue(SC_SP_RENEW, der, len, &x), SC_ERR_USAGE);
	assert_int_equal(call_issue(SC_SP_ISSUE, der, len, &x), SC_OK);
	X509_free(x);

	for (int i = 0; i < 3; i++)
		X509_free(c[i]);
	OPENSSL_free(der);
	OPENSSL_free(der3);
}

/* Sixteen live renewal profiles (SPD_RENEWAL_MAX), each having issued its certificate 1 (the
 * window opened a cadence and a half ago); profile i's profileNotAfter is now + 3600 + i, so
 * profile 0 is the oldest. */
#define LIVE 16
static void renew_sixteen(uint8_t *der[LIVE + 1], size_t len[LIVE + 1], time_t nb[LIVE + 1])
{
	struct sc_profile_params pp;
	X509 *x = NULL;

	for (int i = 0; i <= LIVE; i++) {
		renewal_params(&pp, 4, CAD + CAD / 2);
		pp.profile_not_after += i;
		nb[i] = pp.not_before; /* each its own: the clock may tick between them */
		assert_int_equal(sc_test_profile_make(&world, &pp, &der[i], &len[i]), SC_OK);
		if (i == LIVE)
			break;
		assert_int_equal(call_issue(SC_SP_RENEW, der[i], len[i], &x), SC_OK);
		X509_free(x);
	}
}

/*
 * audit17 item 1: a 17th renewal profile retires the live one with the earliest profileNotAfter
 * into the replay cache (req_issue.c renew_count): re-presented, the retired profile is
 * renewal-spent, before and after a restart; the others stay live.
 */
static void test_sp_renew_retire(void **state)
{
	uint8_t *der[LIVE + 1];
	size_t len[LIVE + 1];
	time_t nb[LIVE + 1];
	X509 *x = NULL;

	(void)state;
	renew_sixteen(der, len, nb);
	/* The 17th: its certificate 1, and profile 0 retired. */
	assert_int_equal(call_issue(SC_SP_RENEW, der[LIVE], len[LIVE], &x), SC_OK);
	check_cert(x, der[LIVE], len[LIVE], nb[LIVE], 1);
	X509_free(x);
	assert_int_equal(call_issue(SC_SP_RENEW, der[0], len[0], &x), SC_ERR_RENEWAL_SPENT);
	assert_string_equal(sc_err_detail(),
	    "renewal: this profile has issued its certificates or was retired "
	    "(profile: this profile ID was already used)");
	/* Profile 1 is live: its certificate 2 (one cadence ahead). */
	assert_int_equal(call_issue(SC_SP_RENEW, der[1], len[1], &x), SC_OK);
	check_cert(x, der[1], len[1], nb[1], 2);
	X509_free(x);
	assert_int_equal(sc_test_sp_restart(&tsp), SC_OK);
	assert_int_equal(call_issue(SC_SP_RENEW, der[0], len[0], &x), SC_ERR_RENEWAL_SPENT);
	assert_non_null(strstr(sc_err_detail(), "was retired"));
	/* The 17th kept its count across the restart: certificate 2 now, then early. */
	assert_int_equal(call_issue(SC_SP_RENEW, der[LIVE], len[LIVE], &x), SC_OK);
	check_cert(x, der[LIVE], len[LIVE], nb[LIVE], 2);
	X509_free(x);
	assert_int_equal(call_issue(SC_SP_RENEW, der[LIVE], len[LIVE], &x), SC_ERR_RENEWAL_EARLY);
	for (int i = 0; i <= LIVE; i++)
		OPENSSL_free(der[i]);
}

#ifdef SC_FAILPOINTS
/*
 * The child of test_sp_renew_commit_fails: the SP's fail points are read once per process, when
 * its first store is opened, so this runs in a process that has opened none. Returns 0 when all
 * held; else prints what failed.
 */
#define FP_RENAME_NTH 25 /* the 17th RENEW's store-rename: create 1, personalize 8, 16 RENEWs */
static int renew_commit_fails_child(void)
{
	struct sc_test_world w = world;
	char want[96];
	uint8_t *der[LIVE + 1];
	size_t len[LIVE + 1];
	time_t nb[LIVE + 1];
	X509 *x = NULL;
	sc_err r;
	int bad = 0;

	snprintf(want, sizeof(want), "store-rename:%d:error", FP_RENAME_NTH);
	if (setenv("SELFCERT_SPD_FAILPOINT", want, 1) != 0)
		return 1;
	w.device_not_before = time(NULL) - 86400;
	if (sc_test_sp_open(&tsp, NULL, world.device_id) != SC_OK ||
	    sc_test_sp_personalize(&tsp, &w, SC_ALG_P256, SC_ALG_P256, 0, 64, 1) != SC_OK) {
		fprintf(stderr, "child: SP: %s\n", sc_err_detail());
		return 1;
	}
	renew_sixteen(der, len, nb);
	/* The 17th RENEW's commit fails: it would have retired profile 0. */
	r = call_issue(SC_SP_RENEW, der[LIVE], len[LIVE], &x);
	snprintf(want, sizeof(want), "fail point store-rename #%d: injected error", FP_RENAME_NTH);
	if (r != SC_ERR_IO || strstr(sc_err_detail(), want) == NULL) {
		fprintf(stderr, "child: 17th RENEW: %s, %s\n", sc_err_name(r), sc_err_detail());
		bad = 1;
	}
	X509_free(x);
	x = NULL;
	/* The table is as before: profile 0 is live with one certificate issued, so the next is
	 * certificate 2 (not a fresh profile's certificate 1, not renewal-spent). */
	r = call_issue(SC_SP_RENEW, der[0], len[0], &x);
	if (r != SC_OK || ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), nb[0] + 2 * CAD) != 0) {
		fprintf(stderr, "child: profile 0 after the failed commit: %s, %s\n",
		    sc_err_name(r), r == SC_OK ? "not certificate 2" : sc_err_detail());
		bad = 1;
	}
	X509_free(x);
	x = NULL;
	/* The 17th, tried again, is a fresh profile: its certificate 1, and profile 0 (still the
	 * earliest profileNotAfter) retired now. */
	r = call_issue(SC_SP_RENEW, der[LIVE], len[LIVE], &x);
	if (r != SC_OK || ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), nb[LIVE] + CAD) != 0) {
		fprintf(stderr, "child: 17th again: %s, %s\n", sc_err_name(r),
		    r == SC_OK ? "not certificate 1" : sc_err_detail());
		bad = 1;
	}
	X509_free(x);
	x = NULL;
	if (call_issue(SC_SP_RENEW, der[0], len[0], &x) != SC_ERR_RENEWAL_SPENT) {
		fprintf(stderr, "child: profile 0 not retired\n");
		bad = 1;
	}
	X509_free(x);
	for (int i = 0; i <= LIVE; i++)
		OPENSSL_free(der[i]);
	sc_test_sp_close(&tsp);
	return bad;
}

/*
 * audit17 item 1: a RENEW whose commit fails takes back its change to the renewal table (the
 * retirement of the oldest entry included), as ISSUE takes back its replay-cache entry. The
 * store's fail point (store.h) fails the 17th RENEW's rename in a child process.
 */
static void test_sp_renew_commit_fails(void **state)
{
	pid_t pid;
	int status = 0;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(renew_commit_fails_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}
#endif

/* The relying party's binding: a certificate shifted by a period not in the profile fails. */
static void test_binding_periods(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	struct sc_profile_info in;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t *der = NULL;
	size_t len;
	X509 *leaf = NULL;

	(void)state;
	assert_non_null(k);
	renewal_params(&pp, 3, 0);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	sc_profile_get_info(p, &in);
	/* Certificate 3 of a profile of 3 does not exist. */
	assert_int_equal(sc_profile_set_renewal_index(p, 3), SC_ERR_RENEWAL_SPENT);
	assert_int_equal(sc_profile_set_renewal_index(p, 2), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(p, k, world.device_ca, world.csk, 7, &leaf), SC_OK);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf), in.not_before + 2 * CAD),
	    0);
	X509_free(leaf);
	sc_profile_free(p);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/*
 * late15: the instant a registration judges a certificate at (sc_profile_leaf_judged_at): a
 * renewal profile's, for every period, its notBefore when it comes early, now inside its
 * validity, its last second when it comes late; an ordinary profile's, now. And the binding
 * that makes the instant safe, for every period: the leaf made for period i verifies at its
 * judged instant however late it comes, and the same leaf with its notBefore (or notAfter)
 * moved a second, signed by the device CA itself, is refused by name.
 */
static void test_judged_at(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	struct sc_profile_info in, ord;
	struct sc_verify_opts o;
	STACK_OF(X509) *chain = sc_test_world_chain(&world);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	const uint32_t count = 5;
	uint8_t *der = NULL;
	size_t len;
	time_t now = time(NULL);

	(void)state;
	assert_non_null(chain);
	assert_non_null(k);
	renewal_params(&pp, count, 30);
	assert_int_equal(sc_test_profile_make(&world, &pp, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	sc_profile_get_info(p, &in);
	memset(&o, 0, sizeof(o));
	o.mfr_root = world.mfr_root;
	o.chain = chain;
	o.profile = p;
	o.net_root = world.net_root;
	for (uint32_t i = 0; i < count; i++) {
		time_t nb, na, t[] = { 0, 1, 2, 3 };
		X509 *leaf = NULL, *moved;

		sc_profile_leaf_validity(&in, i, &nb, &na);
		assert_int_equal(sc_profile_leaf_judged_at(&in, nb, na, nb - 1), nb);
		assert_int_equal(sc_profile_leaf_judged_at(&in, nb, na, nb - 86400), nb);
		assert_int_equal(sc_profile_leaf_judged_at(&in, nb, na, nb), nb);
		assert_int_equal(sc_profile_leaf_judged_at(&in, nb, na, na - 1), na - 1);
		assert_int_equal(sc_profile_leaf_judged_at(&in, nb, na, na), na - 1);
		assert_int_equal(sc_profile_leaf_judged_at(&in, nb, na, na + 3650L * 86400),
		    na - 1);
		assert_int_equal(sc_profile_set_renewal_index(p, i), SC_OK);
		assert_int_equal(sc_cert_issue_leaf(p, k, world.device_ca, world.csk, 1 + i, &leaf),
		    SC_OK);
		/* Registered early, in time, at its end, a year late: accepted each time. */
		t[0] = nb - CAD;
		t[1] = nb + 1;
		t[2] = na;
		t[3] = na + 366L * 86400;
		for (size_t j = 0; j < 4; j++) {
			o.at = sc_profile_leaf_judged_at(&in, nb, na, t[j]);
			if (sc_verify_chain(leaf, &o, NULL) != SC_OK)
				fail_msg("period %u at %zu: %s", i, j, sc_err_detail());
		}
		/* Off the schedule by a second, either end: binding, judged late too. */
		for (int end = 0; end < 2; end++) {
			assert_non_null(moved = X509_dup(leaf));
			assert_non_null(ASN1_TIME_set(end == 0 ? X509_getm_notBefore(moved)
			                                       : X509_getm_notAfter(moved),
			    end == 0 ? nb + 1 : na + 1));
			assert_true(X509_sign(moved, world.csk, EVP_sha256()) > 0);
			o.at = sc_profile_leaf_judged_at(&in, end == 0 ? nb + 1 : nb,
			    end == 0 ? na : na + 1, na + 86400);
			assert_int_equal(sc_verify_chain(moved, &o, NULL), SC_ERR_BINDING);
			assert_non_null(strstr(sc_err_detail(),
			    end == 0 ? "none of the renewal profile's 5 periods"
			             : "validity.notAfter differs from the profile's"));
			X509_free(moved);
		}
		X509_free(leaf);
	}
	/* An ordinary profile's certificate: now, whatever its validity. */
	ord = in;
	ord.renewal_count = 0;
	assert_int_equal(sc_profile_leaf_judged_at(&ord, now + 10, now + 20, now), now);
	assert_int_equal(sc_profile_leaf_judged_at(&ord, now - 20, now - 10, now), now);
	sc_profile_free(p);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	sk_X509_free(chain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef SC_FAILPOINTS
		/* First: its child must be a process that has opened no store. */
		cmocka_unit_test(test_sp_renew_commit_fails),
#endif
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_check_renewal),
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_binding_periods),
		cmocka_unit_test(test_judged_at),
		cmocka_unit_test_setup_teardown(test_sp_renew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sp_renew_retire, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
