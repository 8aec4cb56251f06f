// SPDX-License-Identifier: Apache-2.0
/*
 * test_fast_x509.c — the certificate decoder without OpenSSL 3.0's key decoder (fast/x509.h):
 * the same X509 as d2i_X509 for CA and leaf certificates of every algorithm (P-256, P-384, RSA
 * taken; Ed25519 left to d2i_X509), and sc_cert_from_der's same answer with the shortcut on and
 * off for truncated, trailing, oversize, wrong-type, BER, v1 and compressed-point inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include "fast/fast.h"
#include "fast/x509.h"
#include "file.h"
#include "pem.h"
#include "text.h"

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key, signed by ikey as issuer (NULL: self-signed), as DER. */
static int make_cert(EVP_PKEY *key, EVP_PKEY *ikey, X509 *issuer, int ca, long version,
    uint8_t **der)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int len;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, version), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234567), 1);
	n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	                     (const unsigned char *)"net-1", -1, -1, 0),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_ASC,
	                     (const unsigned char *)(ca ? "DEV-CA" : "DEV-A"), -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	/* GeneralizedTime after 2049 for notAfter: both time forms go through. */
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)2600000000));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (version == X509_VERSION_3) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints,
		    ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE");
		add_ext(x, issuer ? issuer : x, NID_key_usage,
		    ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
		add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
		if (issuer != NULL)
			add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
		if (ca)
			add_ext(x, issuer ? issuer : x, NID_name_constraints,
			    "critical,permitted;DNS:.dev-a.selfcert.invalid");
		else
			add_ext(x, issuer ? issuer : x, NID_subject_alt_name,
			    "DNS:a.dev-a.selfcert.invalid");
	}
	assert_true(X509_sign(x, ikey,
	                EVP_PKEY_get_base_id(ikey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	*der = NULL;
	len = i2d_X509(x, der);
	assert_true(len > 0);
	X509_free(x);
	return len;
}

static X509 *plain_parse(const uint8_t *der, int len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);

	assert_non_null(x);
	assert_ptr_equal(p, der + len);
	return x;
}

/* What a caller of either parse can observe: the same. */
static void assert_same(X509 *a, X509 *b, EVP_PKEY *issuer_key)
{
	uint8_t *da = NULL, *db = NULL;
	int la = i2d_X509(a, &da), lb = i2d_X509(b, &db);

	assert_true(la > 0);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, (size_t)la);
	assert_int_equal(X509_cmp(a, b), 0);
	assert_non_null(X509_get0_pubkey(a));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)), 1);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(a)),
	    EVP_PKEY_get_base_id(X509_get0_pubkey(b)));
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(a)),
	    EVP_PKEY_get_bits(X509_get0_pubkey(b)));
	assert_int_equal(X509_verify(a, issuer_key), 1);
	assert_int_equal(X509_verify(b, issuer_key), 1);
	assert_int_equal(X509_check_ca(a), X509_check_ca(b));
	assert_int_equal(X509_get_extension_flags(a), X509_get_extension_flags(b));
	assert_int_equal(X509_get_key_usage(a), X509_get_key_usage(b));
	assert_int_equal(X509_get_pathlen(a), X509_get_pathlen(b));
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(a), X509_get_issuer_name(b)), 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(a), X509_get0_notAfter(b)), 0);
	OPENSSL_free(da);
	OPENSSL_free(db);
}

/* Path validation of leaf under root through ca, both certificates from one parse. */
static int path_ok(X509 *root, X509 *ca, X509 *leaf)
{
	X509_STORE *s = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int ok;

	assert_non_null(s);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(s, root), 1);
	assert_true(sk_X509_push(untrusted, ca) > 0);
	assert_int_equal(X509_STORE_CTX_init(ctx, s, leaf, untrusted), 1);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_message("path: %s\n",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(s);
	sk_X509_free(untrusted);
	return ok;
}

static void test_equivalence(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_RSA2048,
		SC_ALG_ED25519 };
	int was = sc_fast_enabled();
	(void)state;

	sc_fast_set(1);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *rk = NULL, *ck = NULL, *lk = NULL;
		X509 *root_p, *ca_p, *leaf_p, *root_f = NULL, *ca_f = NULL, *leaf_f = NULL;
		uint8_t *rd, *cd, *ld;
		int rl, cl, ll, taken = algs[i] != SC_ALG_ED25519;

		assert_int_equal(sc_alg_keygen(algs[i], &rk), SC_OK);
		assert_int_equal(sc_alg_keygen(algs[i], &ck), SC_OK);
		assert_int_equal(sc_alg_keygen(algs[i], &lk), SC_OK);
		rl = make_cert(rk, rk, NULL, 1, X509_VERSION_3, &rd);
		root_p = plain_parse(rd, rl);
		cl = make_cert(ck, rk, root_p, 1, X509_VERSION_3, &cd);
		ca_p = plain_parse(cd, cl);
		ll = make_cert(lk, ck, ca_p, 0, X509_VERSION_3, &ld);
		leaf_p = plain_parse(ld, ll);

		assert_int_equal(sc_fast_cert_from_der(rd, (size_t)rl, &root_f), SC_OK);
		assert_int_equal(sc_fast_cert_from_der(cd, (size_t)cl, &ca_f), SC_OK);
		assert_int_equal(sc_fast_cert_from_der(ld, (size_t)ll, &leaf_f), SC_OK);
		if (!taken) {
			/* Ed25519 is d2i_X509's; sc_cert_from_der still parses it. */
			assert_null(root_f);
			assert_null(ca_f);
			assert_null(leaf_f);
			assert_int_equal(sc_cert_from_der(ld, (size_t)ll, &leaf_f), SC_OK);
			assert_same(leaf_f, leaf_p, ck);
		} else {
			assert_non_null(root_f);
			assert_non_null(ca_f);
			assert_non_null(leaf_f);
			assert_same(root_f, root_p, rk);
			assert_same(ca_f, ca_p, rk);
			assert_same(leaf_f, leaf_p, ck);
			/* The key is decoded as OpenSSL would and verifies what it signed. */
			assert_int_equal(X509_verify(leaf_p, X509_get0_pubkey(ca_f)), 1);
			assert_int_equal(X509_verify(ca_p, X509_get0_pubkey(root_f)), 1);
		}
		assert_int_equal(path_ok(root_p, ca_p, leaf_p), 1);
		if (taken) {
			/* Off unless the program turns it on (the SP, the CLI, the agent). */
			X509 *off = NULL;

			sc_fast_x509_set(0);
			assert_int_equal(sc_fast_cert_from_der(ld, (size_t)ll, &off), SC_OK);
			assert_null(off);
			sc_fast_x509_set(1);
		}
		if (taken)
			assert_int_equal(path_ok(root_f, ca_f, leaf_f), 1);
		X509_free(root_p);
		X509_free(ca_p);
		X509_free(leaf_p);
		X509_free(root_f);
		X509_free(ca_f);
		X509_free(leaf_f);
		OPENSSL_free(rd);
		OPENSSL_free(cd);
		OPENSSL_free(ld);
		EVP_PKEY_free(rk);
		EVP_PKEY_free(ck);
		EVP_PKEY_free(lk);
	}
	sc_fast_set(was);
}

/* sc_cert_from_der's code for der with the shortcut on, asserted equal to the plain path's. */
static sc_err both_ways(const uint8_t *der, size_t len)
{
	int was = sc_fast_enabled();
	X509 *a = NULL, *b = NULL;
	sc_err ra, rb;

	sc_fast_set(1);
	ra = sc_cert_from_der(der, len, &a);
	sc_fast_set(0);
	rb = sc_cert_from_der(der, len, &b);
	sc_fast_set(was);
	assert_int_equal(ra, rb);
	assert_true((a == NULL) == (b == NULL));
	if (a != NULL) {
		assert_int_equal(X509_cmp(a, b), 0);
		assert_int_equal(X509_get_extension_flags(a), X509_get_extension_flags(b));
		assert_int_equal(X509_get_key_usage(a), X509_get_key_usage(b));
		assert_int_equal(X509_check_ca(a), X509_check_ca(b));
	}
	X509_free(a);
	X509_free(b);
	return ra;
}

static void test_hostile(void **state)
{
	EVP_PKEY *k = NULL, *k2 = NULL;
	uint8_t *der, *buf, *spki = NULL, *v1 = NULL;
	X509 *x = NULL;
	int len, n, v1_len, was = sc_fast_enabled();
	(void)state;

	/* The shortcut on, as test_equivalence does: the clang reference build (SC_SHORTCUTS=OFF)
	 * starts with it off. */
	sc_fast_set(1);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	len = make_cert(k, k, NULL, 1, X509_VERSION_3, &der);
	assert_int_equal(both_ways(der, (size_t)len), SC_OK);

	/* Truncated anywhere: malformed, the shortcut takes none of them. */
	for (int cut = 0; cut < len; cut += cut < 16 ? 1 : 37) {
		assert_int_equal(sc_fast_cert_from_der(der, (size_t)cut, &x), SC_OK);
		assert_null(x);
		if (cut > 0)
			assert_int_equal(both_ways(der, (size_t)cut), SC_ERR_MALFORMED);
	}
	/* A byte after it: trailing. */
	assert_non_null(buf = OPENSSL_malloc((size_t)len + 1));
	memcpy(buf, der, (size_t)len);
	buf[len] = 0;
	assert_int_equal(sc_fast_cert_from_der(buf, (size_t)len + 1, &x), SC_OK);
	assert_null(x);
	assert_int_equal(both_ways(buf, (size_t)len + 1), SC_ERR_TRAILING);
	/* Oversize: refused before any parse. */
	assert_int_equal(sc_cert_from_der(der, SC_FILE_MAX + 1, &x), SC_ERR_OVERSIZE);
	assert_int_equal(sc_fast_cert_from_der(der, (size_t)1 << 31, &x), SC_OK);
	assert_null(x);
	/* Wrong type: a SubjectPublicKeyInfo, and the certificate behind another outer tag. */
	n = i2d_PUBKEY(k, &spki);
	assert_int_equal(sc_fast_cert_from_der(spki, (size_t)n, &x), SC_OK);
	assert_null(x);
	assert_int_equal(both_ways(spki, (size_t)n), SC_ERR_MALFORMED);
	memcpy(buf, der, (size_t)len);
	buf[0] = 0x31; /* SET */
	assert_int_equal(sc_fast_cert_from_der(buf, (size_t)len, &x), SC_OK);
	assert_null(x);
	assert_int_equal(both_ways(buf, (size_t)len), SC_ERR_MALFORMED);
	/* A changed signature byte still parses (both ways) and no longer verifies. */
	memcpy(buf, der, (size_t)len);
	buf[len - 1] ^= 1;
	assert_int_equal(both_ways(buf, (size_t)len), SC_OK);
	assert_int_equal(sc_fast_cert_from_der(buf, (size_t)len, &x), SC_OK);
	assert_non_null(x);
	assert_int_equal(X509_verify(x, k), 0);
	X509_free(x);
	x = NULL;
	ERR_clear_error();
	/* A v1 certificate (no version field, no extensions): d2i_X509's, same answer. */
	v1_len = make_cert(k, k, NULL, 1, X509_VERSION_1, &v1);
	assert_int_equal(sc_fast_cert_from_der(v1, (size_t)v1_len, &x), SC_OK);
	assert_null(x);
	assert_int_equal(both_ways(v1, (size_t)v1_len), SC_OK);
	OPENSSL_free(v1);
	/* A key with a compressed point: left to d2i_X509. */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k2), SC_OK);
	assert_int_equal(EVP_PKEY_set_utf8_string_param(k2, "point-format", "compressed"), 1);
	v1_len = make_cert(k2, k, NULL, 0, X509_VERSION_3, &v1);
	assert_int_equal(sc_fast_cert_from_der(v1, (size_t)v1_len, &x), SC_OK);
	assert_null(x);
	assert_int_equal(both_ways(v1, (size_t)v1_len), SC_OK);
	OPENSSL_free(v1);
	/* An extension whose value does not decode (keyUsage holding a NULL): whatever d2i_X509
	 * makes of it, the shortcut makes the same (both_ways compares them). */
	{
		X509 *bad = X509_new();
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		uint8_t *bd = NULL;
		int bl;

		assert_non_null(bad);
		assert_non_null(os);
		assert_int_equal(ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2),
		    1);
		assert_int_equal(X509_set_version(bad, X509_VERSION_3), 1);
		assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(bad), 7), 1);
		assert_non_null(X509_gmtime_adj(X509_getm_notBefore(bad), 0));
		assert_non_null(X509_gmtime_adj(X509_getm_notAfter(bad), 3600));
		assert_int_equal(X509_set_pubkey(bad, k), 1);
		{
			X509_EXTENSION *e = X509_EXTENSION_create_by_NID(NULL, NID_key_usage, 1,
			    os);
			assert_int_equal(X509_add_ext(bad, e, -1), 1);
			X509_EXTENSION_free(e);
		}
		assert_true(X509_sign(bad, k, EVP_sha256()) > 0);
		bl = i2d_X509(bad, &bd);
		assert_true(bl > 0);
		(void)both_ways(bd, (size_t)bl);
		OPENSSL_free(bd);
		ASN1_OCTET_STRING_free(os);
		X509_free(bad);
	}
	/* BER: the outer length in a long form it does not need; taken apart, then refused. */
	assert_true(len < 0xffff && der[1] == 0x82);
	OPENSSL_free(buf);
	assert_non_null(buf = OPENSSL_malloc((size_t)len + 1));
	buf[0] = 0x30;
	buf[1] = 0x83;
	buf[2] = 0;
	memcpy(buf + 3, der + 2, (size_t)len - 2);
	assert_int_equal(both_ways(buf, (size_t)len + 1), SC_ERR_MALFORMED);
	OPENSSL_free(buf);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	sc_fast_set(was);
}

/*
 * sc_fast_cert_peek (issue 17, prof8): the validity and key of P-256, P-384, RSA and Ed25519
 * certificates as the X509 reads them, valid_now as X509_cmp_time decides it; and truncated,
 * trailing, oversize and wrong-type inputs refused with SC_ERR_MALFORMED.
 */
static void test_peek(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_RSA2048,
		SC_ALG_ED25519 };
	EVP_PKEY *k = NULL, *got = NULL;
	uint8_t *der = NULL, *buf, *spki = NULL;
	int64_t nb, na;
	int len, n, valid;
	time_t now = time(NULL);
	(void)state;

	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		X509 *x;
		time_t t;

		assert_int_equal(sc_alg_keygen(algs[a], &k), SC_OK);
		len = make_cert(k, k, NULL, 1, X509_VERSION_3, &der);
		x = plain_parse(der, len);
		assert_int_equal(sc_fast_cert_peek(der, (size_t)len, now, &valid, &nb, &na, &got),
		    SC_OK);
		assert_int_equal(valid, 1);
		assert_non_null(got);
		assert_int_equal(EVP_PKEY_eq(got, X509_get0_pubkey(x)), 1);
		assert_true(nb >= (int64_t)now - 61 && nb <= (int64_t)time(NULL));
		assert_int_equal(na, 2600000000);
		EVP_PKEY_free(got);
		got = NULL;
		/* Before notBefore, after notAfter, and without the key. */
		t = (time_t)nb - 10;
		assert_int_equal(sc_fast_cert_peek(der, (size_t)len, t, &valid, &nb, &na, NULL),
		    SC_OK);
		assert_int_equal(valid, 0);
		assert_int_equal(X509_cmp_time(X509_get0_notBefore(x), &t) < 0, 0);
		assert_int_equal(sc_fast_cert_peek(der, (size_t)len, (time_t)2600000001, &valid,
		                     &nb, &na, NULL),
		    SC_OK);
		assert_int_equal(valid, 0);
		X509_free(x);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
		k = NULL;
	}
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	len = make_cert(k, k, NULL, 1, X509_VERSION_3, &der);
	/* Truncated anywhere. */
	for (int cut = 0; cut < len; cut += cut < 16 ? 1 : 37)
		assert_int_equal(sc_fast_cert_peek(der, (size_t)cut, now, &valid, &nb, &na, &got),
		    SC_ERR_MALFORMED);
	assert_null(got);
	/* A byte after it. */
	assert_non_null(buf = OPENSSL_malloc((size_t)len + 1));
	memcpy(buf, der, (size_t)len);
	buf[len] = 0;
	assert_int_equal(sc_fast_cert_peek(buf, (size_t)len + 1, now, &valid, &nb, &na, &got),
	    SC_ERR_MALFORMED);
	/* Oversize. */
	assert_int_equal(sc_fast_cert_peek(der, (size_t)65537, now, &valid, &nb, &na, &got),
	    SC_ERR_MALFORMED);
	/* Wrong type: a SubjectPublicKeyInfo; the certificate behind a SET tag. */
	n = i2d_PUBKEY(k, &spki);
	assert_int_equal(sc_fast_cert_peek(spki, (size_t)n, now, &valid, &nb, &na, &got),
	    SC_ERR_MALFORMED);
	buf[0] = 0x31;
	assert_int_equal(sc_fast_cert_peek(buf, (size_t)len, now, &valid, &nb, &na, &got),
	    SC_ERR_MALFORMED);
	assert_null(got);
	assert_int_equal(valid, 0);
	OPENSSL_free(buf);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/*
 * sc_fast_ecdsa_sha256_verify (prof8): with the legacy EC keys the peek builds (P-256, P-384),
 * the same verdict as EVP_DigestVerify over SHA-256 for a good, a changed, a truncated and a
 * non-DER signature; provider keys, RSA keys and shortcuts off are left to EVP_DigestVerify.
 */
static void test_ecdsa_verify(void **state)
{
	static const enum sc_alg algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_RSA2048 };
	static const uint8_t msg[] = "selfcert request proof";
	int was = sc_fast_enabled();
	(void)state;

	sc_fast_set(1);
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		EVP_PKEY *k = NULL, *legacy = NULL;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		uint8_t *der = NULL, sig[600];
		size_t sig_len = sizeof(sig);
		int64_t nb, na;
		int len, valid, done, ok;

		assert_non_null(md);
		assert_int_equal(sc_alg_keygen(algs[a], &k), SC_OK);
		len = make_cert(k, k, NULL, 1, X509_VERSION_3, &der);
		assert_int_equal(sc_fast_cert_peek(der, (size_t)len, time(NULL), &valid, &nb, &na,
		                     &legacy),
		    SC_OK);
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &sig_len, msg, sizeof(msg)), 1);
		/* The key generated by the provider: never taken. */
		sc_fast_ecdsa_sha256_verify(k, msg, sizeof(msg), sig, sig_len, &done, &ok);
		assert_int_equal(done, 0);
		for (int c = 0; c < 4; c++) {
			uint8_t s2[600];
			size_t l2 = sig_len;
			int want;
			EVP_MD_CTX *v = EVP_MD_CTX_new();

			memcpy(s2, sig, sig_len);
			if (c == 1)
				s2[sig_len - 1] ^= 1; /* a changed value */
			if (c == 2)
				l2 = sig_len - 1; /* truncated */
			/*
			 * Not a SEQUENCE (ECDSA: 0x30 becomes a SET's 0x31); for RSA a changed value
			 * (enroll15: it was set to 0x31, the same signature when an RSA one began
			 * with it: 1 run in 256 failed).
			 */
			if (c == 3)
				s2[0] ^= 0x01;
			assert_non_null(v);
			want = EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, legacy) == 1 &&
			    EVP_DigestVerify(v, s2, l2, msg, sizeof(msg)) == 1;
			ERR_clear_error();
			EVP_MD_CTX_free(v);
			assert_int_equal(want, c == 0);
			sc_fast_ecdsa_sha256_verify(legacy, msg, sizeof(msg), s2, l2, &done, &ok);
			assert_int_equal(done, algs[a] != SC_ALG_RSA2048);
			if (done)
				assert_int_equal(ok, want);
		}
		sc_fast_set(0);
		sc_fast_ecdsa_sha256_verify(legacy, msg, sizeof(msg), sig, sig_len, &done, &ok);
		assert_int_equal(done, 0);
		sc_fast_set(1);
		EVP_MD_CTX_free(md);
		OPENSSL_free(der);
		EVP_PKEY_free(legacy);
		EVP_PKEY_free(k);
	}
	sc_fast_set(was);
}

/* One time of type with text txt; both X509_cmp_time and sc_fast_cmp_time at now. */
static void cmp_time_case(int type, const char *txt, time_t now)
{
	ASN1_TIME *t = ASN1_STRING_type_new(type);
	int want;

	assert_non_null(t);
	assert_int_equal(ASN1_STRING_set(t, txt, (int)strlen(txt)), 1);
	want = X509_cmp_time(t, &now);
	ERR_clear_error();
	if (sc_fast_cmp_time(t, now) != want)
		fail_msg("type %d \"%s\" at %lld: X509_cmp_time %d, sc_fast_cmp_time %d", type, txt,
		    (long long)now, want, sc_fast_cmp_time(t, now));
	ERR_clear_error();
	ASN1_STRING_free(t);
}

/*
 * sc_fast_cmp_time (enroll15): X509_cmp_time's answer (-1, 1, 0) for every time form: valid
 * UTCTime and GeneralizedTime at now, one second either side and far off; the calendar's edges
 * (leap days, year ends, 1950/2049 for UTCTime, years 0000 and 9999); malformed texts (a month
 * 13, a 31 April, a 29 February of 2100, 24 h, 60 min or s, a letter, no Z, a fraction, an
 * offset, each length but the right one, an empty string) and a time of another type; now at
 * the edges X509_time_adj can write and past them. Then random times and nows, both paths.
 */
static void test_cmp_time(void **state)
{
	static const char *const utc[] = { "700101000000Z", "991231235959Z", "000101000000Z",
		"491231235959Z", "500101000000Z", "000229120000Z", "240229000000Z", "380119031407Z",
		"380119031408Z", "260101120000Z" };
	static const char *const gen[] = { "19700101000000Z", "20991231235959Z", "00000101000000Z",
		"99991231235959Z", "16000229000000Z", "20000229235959Z", "20491231235959Z",
		"20500101000000Z", "19491231235959Z", "25000101000000Z" };
	static const char *const bad_utc[] = { "701301000000Z", "700431000000Z", "010229000000Z",
		"700101240000Z", "700101006000Z", "700101000060Z", "70010100000aZ", "7001010000000",
		"7001010000Z", "70010100000Z", "7001010000000Z", "700101000000+0100", "",
		"700100000000Z", "700001000000Z", " 70101000000Z", "700101000000z" };
	static const char *const bad_gen[] = { "21000229000000Z", "19701301000000Z",
		"19700101000000.5Z", "1970010100000Z", "197001010000000Z", "19700101000000+0000",
		"1970010100000Z0", "1970010100000-Z", "19700132000000Z", "19700101240000Z" };
	static const time_t nows[] = { 0, 1, -1, 86399, 951825600, 1700000000, 2147483647,
		(time_t)2147483648LL, (time_t)-62167219200LL, (time_t)-62167219201LL,
		(time_t)253402300799LL, (time_t)253402300800LL, (time_t)4102444800LL,
		(time_t)-2208988800LL };
	int was = sc_fast_enabled();
	(void)state;

	sc_fast_set(1);
	for (size_t i = 0; i < sizeof(utc) / sizeof(utc[0]); i++)
		for (size_t n = 0; n < sizeof(nows) / sizeof(nows[0]); n++) {
			cmp_time_case(V_ASN1_UTCTIME, utc[i], nows[n]);
			cmp_time_case(V_ASN1_GENERALIZEDTIME, utc[i], nows[n]);
		}
	for (size_t i = 0; i < sizeof(gen) / sizeof(gen[0]); i++)
		for (size_t n = 0; n < sizeof(nows) / sizeof(nows[0]); n++) {
			cmp_time_case(V_ASN1_GENERALIZEDTIME, gen[i], nows[n]);
			cmp_time_case(V_ASN1_UTCTIME, gen[i], nows[n]);
			cmp_time_case(V_ASN1_OCTET_STRING, gen[i], nows[n]);
		}
	for (size_t i = 0; i < sizeof(bad_utc) / sizeof(bad_utc[0]); i++)
		cmp_time_case(V_ASN1_UTCTIME, bad_utc[i], 1700000000);
	for (size_t i = 0; i < sizeof(bad_gen) / sizeof(bad_gen[0]); i++)
		cmp_time_case(V_ASN1_GENERALIZEDTIME, bad_gen[i], 1700000000);
	/* Each valid time at itself and one second either side: the <= edge. */
	for (size_t i = 0; i < sizeof(gen) / sizeof(gen[0]); i++) {
		ASN1_TIME *t = ASN1_TIME_new();
		time_t at = 0;
		struct tm tm;

		assert_non_null(t);
		assert_int_equal(ASN1_TIME_set_string(t, gen[i]), 1);
		assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
		at = timegm(&tm);
		for (int d = -1; d <= 1; d++) {
			cmp_time_case(V_ASN1_GENERALIZEDTIME, gen[i], at + d);
			/* Outside 0000..9999 X509_time_adj cannot write now: 0. */
			int want = at + d < (time_t)-62167219200LL ||
			        at + d > (time_t)253402300799LL
			    ? 0
			    : d >= 0 ? -1
			             : 1;

			if (sc_fast_cmp_time(t, at + d) != want)
				fail_msg("\"%s\" at its own time %+d: %d", gen[i], d,
				    sc_fast_cmp_time(t, at + d));
		}
		ASN1_TIME_free(t);
	}
	/* Random times of both forms (valid or not by the calendar) at random nows. */
	srand(17);
	for (int i = 0; i < 20000; i++) {
		char txt[32];
		int gen_form = rand() % 2, y = gen_form ? rand() % 10000 : rand() % 100;
		time_t now = (time_t)((int64_t)(rand() % 4000 - 1000) * 86400 * 365 / 4 +
		    rand() % 86400);

		snprintf(txt, sizeof(txt),
		    gen_form ? "%04d%02d%02d%02d%02d%02dZ" : "%02d%02d%02d%02d%02d%02dZ", y,
		    rand() % 14, rand() % 33, rand() % 25, rand() % 61, rand() % 61);
		cmp_time_case(gen_form ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME, txt, now);
		if (i % 4 == 0) {
			ASN1_TIME *t = ASN1_STRING_type_new(
			    gen_form ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME);
			struct tm tm;

			/* Where it reads, at its own time and one second either side. */
			assert_non_null(t);
			assert_int_equal(ASN1_STRING_set(t, txt, (int)strlen(txt)), 1);
			if (ASN1_TIME_to_tm(t, &tm) == 1)
				for (int d = -1; d <= 1; d++)
					cmp_time_case(ASN1_STRING_type(t), txt, timegm(&tm) + d);
			ERR_clear_error();
			ASN1_STRING_free(t);
		}
	}
	/* Shortcuts off: X509_cmp_time itself. */
	sc_fast_set(0);
	cmp_time_case(V_ASN1_UTCTIME, "700101000000Z", 0);
	cmp_time_case(V_ASN1_UTCTIME, "701301000000Z", 0);
	sc_fast_set(was);
}

/* One peek without the key, shortcuts on (the memo) and off (no memo, X509_cmp_time): equal. */
static void peek_both(const uint8_t *der, size_t len, time_t now)
{
	int64_t nb, na, nb0, na0;
	int valid = -1, valid0 = -1;
	sc_err r, r0;

	sc_fast_set(1);
	r = sc_fast_cert_peek(der, len, now, &valid, &nb, &na, NULL);
	sc_fast_set(0);
	r0 = sc_fast_cert_peek(der, len, now, &valid0, &nb0, &na0, NULL);
	sc_fast_set(1);
	sc_err_clear();
	if (r != r0 || valid != valid0 || nb != nb0 || na != na0)
		fail_msg("peek at %lld: memo %d %d %lld %lld, plain %d %d %lld %lld",
		    (long long)now, r, valid, (long long)nb, (long long)na, r0, valid0,
		    (long long)nb0, (long long)na0);
	/* Both read the seconds with enroll15's conversion: hold them to timegm's as well. */
	if (r == SC_OK) {
		const uint8_t *p = der;
		X509 *x = d2i_X509(NULL, &p, (long)len);
		time_t tnb = 0, tna = 0;

		/* (a time timegm's reader refuses, before 1970 say, is not compared) */
		if (x != NULL && sc_asn1_time_to_time_t(X509_get0_notBefore(x), &tnb) == SC_OK &&
		    sc_asn1_time_to_time_t(X509_get0_notAfter(x), &tna) == SC_OK &&
		    ((int64_t)tnb != nb || (int64_t)tna != na))
			fail_msg("peek's times %lld %lld, timegm's %lld %lld", (long long)nb,
			    (long long)na, (long long)tnb, (long long)tna);
		X509_free(x);
		sc_err_clear();
	}
}

/* der with the 15 bytes of its notAfter's text (at off) replaced by txt. */
static uint8_t *patched(const uint8_t *der, int len, size_t off, const char *txt)
{
	uint8_t *c = OPENSSL_memdup(der, (size_t)len);

	assert_non_null(c);
	memcpy(c + off, txt, 15);
	return c;
}

/*
 * sc_fast_cert_peek's memo (enroll15): certificates peeked again without their key give what a
 * fresh decode gives (shortcuts off: no memo) at every now around their times, through a
 * sequence that hits, misses and replaces the memo's two entries (A B A C A B); a certificate of
 * the same length differing only in notAfter's text is not taken for another (a later year; a
 * month 13, which no longer reads; a fraction, which reads but is not RFC 5280's form); a
 * truncated copy of a remembered one is still refused; a peek for the key is never from the
 * memo.
 */
static void test_peek_memo(void **state)
{
	EVP_PKEY *k[3] = { NULL, NULL, NULL }, *got = NULL;
	uint8_t *der[3] = { NULL, NULL, NULL }, *v[3];
	int len[3], valid, was = sc_fast_enabled();
	static const int seq[] = { 0, 1, 0, 2, 0, 1, 1, 2 };
	const unsigned char *na_txt;
	uint8_t *at;
	int64_t nb, na;
	size_t off;
	X509 *x;
	(void)state;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(sc_alg_keygen(i == 1 ? SC_ALG_P384 : SC_ALG_P256, &k[i]), SC_OK);
		len[i] = make_cert(k[i], k[i], NULL, 1, X509_VERSION_3, &der[i]);
	}
	sc_fast_set(1);
	for (size_t s = 0; s < sizeof(seq) / sizeof(seq[0]); s++) {
		int i = seq[s];

		assert_int_equal(sc_fast_cert_peek(der[i], (size_t)len[i], time(NULL), &valid, &nb,
		                     &na, NULL),
		    SC_OK);
		for (int64_t d = -1; d <= 1; d++) {
			peek_both(der[i], (size_t)len[i], (time_t)(nb + d));
			peek_both(der[i], (size_t)len[i], (time_t)(na + d));
		}
	}
	/* The same length, another notAfter text. */
	x = plain_parse(der[0], len[0]);
	na_txt = ASN1_STRING_get0_data(X509_get0_notAfter(x));
	assert_int_equal(ASN1_STRING_length(X509_get0_notAfter(x)), 15);
	assert_non_null(at = memmem(der[0], (size_t)len[0], na_txt, 15));
	off = (size_t)(at - der[0]);
	v[0] = patched(der[0], len[0], off, "20530101000000Z");
	v[1] = patched(der[0], len[0], off, "20531301000000Z");
	v[2] = patched(der[0], len[0], off, "2053010100.000Z");
	for (int i = 0; i < 3; i++) {
		peek_both(der[0], (size_t)len[0], time(NULL));
		peek_both(v[i], (size_t)len[0], time(NULL));
		peek_both(v[i], (size_t)len[0], (time_t)2600000000);
		peek_both(v[i], (size_t)len[0], (time_t)2650000000);
	}
	assert_int_equal(sc_fast_cert_peek(v[0], (size_t)len[0], time(NULL), &valid, &nb, &na,
	                     NULL),
	    SC_OK);
	assert_int_equal(na, 2619302400); /* 2053-01-01 */
	/* Truncated after its whole self was remembered; the key never from the memo. */
	assert_int_equal(sc_fast_cert_peek(der[0], (size_t)len[0] - 1, time(NULL), &valid, &nb, &na,
	                     NULL),
	    SC_ERR_MALFORMED);
	assert_int_equal(valid, 0);
	assert_int_equal(sc_fast_cert_peek(der[0], (size_t)len[0], time(NULL), &valid, &nb, &na,
	                     &got),
	    SC_OK);
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_eq(got, k[0]), 1);
	EVP_PKEY_free(got);
	for (int i = 0; i < 3; i++) {
		OPENSSL_free(v[i]);
		OPENSSL_free(der[i]);
		EVP_PKEY_free(k[i]);
	}
	X509_free(x);
	sc_fast_set(was);
}

/* sc_fast_sha256_memo's digest is EVP_Digest's of exactly these bytes. */
static void sha_both(const uint8_t *b, size_t len)
{
	uint8_t want[32], got[32];
	unsigned wl = 0;

	assert_int_equal(EVP_Digest(b, len, want, &wl, EVP_sha256(), NULL), 1);
	assert_int_equal(wl, 32);
	memset(got, 0, sizeof(got));
	assert_int_equal(sc_fast_sha256_memo(b, len, got), 1);
	assert_memory_equal(got, want, 32);
}

/*
 * enroll15b: the memo of the last two inputs answers by the whole bytes: the same bytes again,
 * another input of the same length (one byte changed, the last one, the first one), a prefix
 * (truncated) and a longer input with the same start (trailing bytes), three inputs in turn
 * (each evicting), an input over 2 KiB (never remembered) and the empty one; with the
 * shortcuts on and off.
 */
static void test_sha256_memo(void **state)
{
	static const int seq[] = { 0, 1, 0, 2, 0, 1, 1, 2, 2, 0 };
	uint8_t a[3][700], big[2049], v[701];
	int was = sc_fast_enabled();
	(void)state;

	for (int i = 0; i < 3; i++)
		for (size_t j = 0; j < sizeof(a[i]); j++)
			a[i][j] = (uint8_t)(j * 7 + (size_t)i);
	memset(big, 0x5a, sizeof(big));
	for (int on = 1; on >= 0; on--) {
		sc_fast_set(on);
		for (size_t s = 0; s < sizeof(seq) / sizeof(seq[0]); s++) {
			int i = seq[s];

			sha_both(a[i], sizeof(a[i]));
			memcpy(v, a[i], sizeof(a[i]));
			v[350] ^= 1;
			sha_both(v, sizeof(a[i]));
			sha_both(a[i], sizeof(a[i]));
			v[350] ^= 1;
			v[sizeof(a[i]) - 1] ^= 0x80;
			sha_both(v, sizeof(a[i]));
			v[sizeof(a[i]) - 1] ^= 0x80;
			v[0] ^= 0xff;
			sha_both(v, sizeof(a[i]));
			sha_both(a[i], sizeof(a[i]) - 1); /* truncated */
			v[0] ^= 0xff;
			v[sizeof(a[i])] = 0;
			sha_both(v, sizeof(a[i]) + 1); /* a trailing byte */
			sha_both(a[i], sizeof(a[i]));
		}
		sha_both(big, sizeof(big));
		big[2048] ^= 1;
		sha_both(big, sizeof(big));
		sha_both(big, 2048);
		big[2047] ^= 1;
		sha_both(big, 2048);
		sha_both(big, 0);
		sha_both(big, 2048);
	}
	sc_fast_set(was);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equivalence),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_ecdsa_verify),
		cmocka_unit_test(test_cmp_time),
		cmocka_unit_test(test_peek_memo),
		cmocka_unit_test(test_sha256_memo),
	};
	sc_fast_x509_set(1); /* as selfcert-provd does */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
