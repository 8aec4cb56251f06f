// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_json_fast.c — provd's one-pass JSON reader (json_fast.h, judge11) beside jansson's
 * json_loadb(…, JSON_REJECT_DUPLICATES): whatever it takes gives the same tree, key order
 * included (the same compact text), and whatever jansson refuses it does not take (the caller
 * then reports jansson's error, as before). Bodies of provd's form are taken; every other form
 * the header lists is left to jansson.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include "fast/fast.h"
#include "json.h"
#include "json_fast.h"

/* The differential check; returns 1 if the fast reader took it. */
static int same_as_jansson(const uint8_t *p, size_t n)
{
	json_error_t e;
	int depth = -1;
	json_t *f = provd_json_fast_load(p, n, &depth),
	       *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &e);
	int taken = f != NULL;

	/* The nesting it reports is provd_json_depth's count for the same bytes. */
	assert_int_equal(depth, taken ? provd_json_depth(p, n) : 0);

	if (f != NULL) {
		char *a, *b;

		if (j == NULL)
			fail_msg("taken, but jansson refuses it: %s (body %.*s)", e.text, (int)n,
			    (const char *)p);
		a = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
		b = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(a, b);
		assert_true(json_equal(f, j));
		free(a);
		free(b);
	}
	json_decref(f);
	json_decref(j);
	return taken;
}

static int check_text(const char *s)
{
	return same_as_jansson((const uint8_t *)s, strlen(s));
}

/* A profile request's body as the agent sends it: PEM chains with their newlines escaped. */
static char *profile_body(size_t flags)
{
	static const char pem[] =
	    "-----BEGIN CERTIFICATE-----\nMIIB0zCCAXmgAwIBAgIUY2xp/ZW50+"
	    "AAAAAAAAAAAAAAAAAAAAAwCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n";
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:{s:s, s:s, s:s, s:s, s:I, s:s}}",
	    "chain", pem, "kex", pem, "challenge", "00112233445566778899aabbccddeeff", "alg",
	    "p256", "renewal", 0, "batch", 1, "proof", "device_id", "DEV-1", "network_id", "net/1",
	    "challenge", "aa", "request", "bb", "time", (json_int_t)1765000000, "signature",
	    "MEUCIQ==");
	char *s;

	assert_non_null(o);
	s = json_dumps(o, flags);
	assert_non_null(s);
	json_decref(o);
	return s;
}

static void test_taken(void **state)
{
	static const char *const taken[] = {
		"{}",
		"[]",
		" \t\r\n{\"a\":1}\n",
		"{\"a\" : [1, -2, 0, 123456789012345678, -123456789012345678, true,false,null, {}]}",
		"{\"s\":\"x\\n\\\"\\\\\\/\\b\\f\\r\\t y\", \"\":\"\", \"k\":{\"n\":{\"m\":[[]]}}}",
		"[{\"a\":1},{\"a\":2}]", /* the same key in two objects */
		NULL,
	};
	char *b;

	(void)state;
	for (size_t i = 0; taken[i] != NULL; i++)
		if (!check_text(taken[i]))
			fail_msg("not taken: %s", taken[i]);
	b = profile_body(JSON_COMPACT);
	assert_true(check_text(b));
	free(b);
	b = profile_body(JSON_INDENT(2));
	assert_true(check_text(b));
	free(b);
}

static void test_left_to_jansson(void **state)
{
	static const char *const left[] = {
		"",
		"   ",
		"\"str\"",
		"1",
		"null",
		"{\"a\":1,\"a\":2}",         /* duplicate: jansson's error */
		"{\"a\":{\"b\":1,\"b\":1}}", /* … nested */
		"{\"a\":\"\\u0041\"}",       /* \u */
		"{\"a\\u0000b\":1}",         /* NUL in a key */
		"{\"a\":1.5}",               /* real */
		"{\"a\":1e3}",
		"{\"a\":1E3}",
		"{\"a\":01}", /* leading zero */
		"{\"a\":-0}",
		"{\"a\":-}",
		"{\"a\":1234567890123456789}",     /* 19 digits */
		"{\"a\":99999999999999999999999}", /* too big for jansson too */
		"{\"a\":1} x",                     /* trailing */
		"{\"a\":1}{}",
		"{\"a\":1,}", /* trailing comma */
		"[1,]",
		"[,1]",
		"{,}",
		"{\"a\" 1}",
		"{\"a\":tru}",
		"{\"a\":truex}",
		"{\"a\":nul}",
		"{\"a\":\"\xc3\xa9\"}", /* UTF-8: jansson's */
		"{\"a\":\"\xff\"}",     /* not UTF-8 */
		"{\"a\":\"\x01\"}",     /* control character */
		"{\"a\":\"\\x\"}",      /* bad escape */
		"{\"a\":\"abc",         /* unterminated */
		"{\"a\":\"abc\\",
		"{a:1}",
		"{'a':1}",
		"\xef\xbb\xbf{}", /* BOM */
		"{\"a\":[1 2]}",
		"{\"a\":1 \"b\":2}",
		"{\"a\":+1}",
		NULL,
	};

	(void)state;
	for (size_t i = 0; left[i] != NULL; i++)
		if (check_text(left[i]))
			fail_msg("taken: %s", left[i]);
	/* A NUL byte outside a string, and inside one. */
	assert_false(same_as_jansson((const uint8_t *)"{\"a\":1}\0", 8));
	assert_false(same_as_jansson((const uint8_t *)"{\"a\":\"x\0y\"}", 11));
	/* Nested deeper than the reader goes. */
	{
		char deep[2 * (PROVD_JSON_FAST_DEPTH + 1) + 1];
		size_t d = PROVD_JSON_FAST_DEPTH + 1;

		for (size_t i = 0; i < d; i++) {
			deep[i] = '[';
			deep[d + i] = ']';
		}
		deep[2 * d] = '\0';
		assert_false(check_text(deep));
		deep[0] = ' ';
		deep[2 * d - 1] = ' ';
		assert_true(check_text(deep)); /* one level less: taken */
	}
}

/* Every prefix and every one-byte change of a real body: the same verdict as jansson's. */
static void test_every_prefix_and_byte(void **state)
{
	static const uint8_t subst[] = { 0x00, 0x01, '"', '\\', '{', '}', '[', ']', ',', ':', '0',
		'-', 'e', '.', ' ', 'u', 0x7f, 0x80, 0xff };
	char *b = profile_body(JSON_COMPACT);
	size_t n = strlen(b), taken = 0;
	uint8_t *m = malloc(n);

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < n; i++)
		taken += (size_t)same_as_jansson((const uint8_t *)b, i);
	assert_int_equal(taken, 0); /* a strict prefix of an object is never JSON */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(subst); k++) {
			memcpy(m, b, n);
			m[i] = subst[k];
			(void)same_as_jansson(m, n);
		}
	free(m);
	free(b);
}

/* ---- canonical PEM certificates (provd_pem_fast_certs) beside PEM_read_bio ---- */

/* provd_ders_from_text with the shortcuts on and off: the same blocks or the same refusal. */
static void pem_same(const char *s, size_t len, int max)
{
	struct provd_ders a, b;
	sc_err ra, rb;
	char da[300];

	sc_fast_set(0);
	rb = provd_ders_from_text(&b, "chain", s, len, max);
	snprintf(da, sizeof(da), "%s", sc_err_detail());
	sc_fast_set(1);
	ra = provd_ders_from_text(&a, "chain", s, len, max);
	assert_int_equal(ra, rb);
	if (ra != SC_OK)
		assert_string_equal(sc_err_detail(), da);
	assert_int_equal(a.n, b.n);
	for (int i = 0; i < a.n; i++) {
		assert_int_equal(a.item[i].len, b.item[i].len);
		assert_int_equal(a.item[i].block, b.item[i].block);
		assert_memory_equal(a.item[i].der, b.item[i].der, a.item[i].len);
	}
	provd_ders_clear(&a);
	provd_ders_clear(&b);
}

/* n blocks of payloads of the given sizes, as PEM_write_bio writes them. */
static char *pem_text(const size_t *sizes, int n, size_t *len)
{
	BIO *m = BIO_new(BIO_s_mem());
	BUF_MEM *bm;
	char *s;

	assert_non_null(m);
	for (int i = 0; i < n; i++) {
		uint8_t p[1200];

		for (size_t k = 0; k < sizes[i]; k++)
			p[k] = (uint8_t)(k * 7 + (size_t)i * 13 + 1);
		assert_true(PEM_write_bio(m, "CERTIFICATE", "", p, (long)sizes[i]) > 0);
	}
	BIO_get_mem_ptr(m, &bm);
	s = malloc(bm->length + 1);
	assert_non_null(s);
	memcpy(s, bm->data, bm->length);
	s[bm->length] = '\0';
	*len = bm->length;
	BIO_free(m);
	return s;
}

static void test_pem_fast(void **state)
{
	static const size_t two[] = { 467, 530 }, three[] = { 1, 2, 3 };
	static const char subst[] = { '\n', '\r', ' ', '=', '-', 'A', '+', '/', ':', '*', '\0' };
	uint8_t *der[4];
	size_t dl[4], len;
	int n = 0;
	char *s;

	(void)state;
	/* Every payload size around the padding and line cases: taken, the same bytes. */
	for (size_t z = 1; z <= 200; z++) {
		s = pem_text(&z, 1, &len);
		assert_int_equal(provd_pem_fast_certs(s, len, der, dl, 4, &n), 1);
		assert_int_equal(n, 1);
		assert_int_equal(dl[0], z);
		OPENSSL_free(der[0]);
		pem_same(s, len, 3);
		free(s);
	}
	s = pem_text(two, 2, &len);
	assert_int_equal(provd_pem_fast_certs(s, len, der, dl, 4, &n), 1);
	assert_int_equal(n, 2);
	OPENSSL_free(der[0]);
	OPENSSL_free(der[1]);
	/* More blocks than room: not taken (PEM_read_bio counts and refuses). */
	assert_int_equal(provd_pem_fast_certs(s, len, der, dl, 1, &n), 0);
	pem_same(s, len, 1);
	pem_same(s, len, 2);
	/* Every prefix, every one-byte change: the same verdict and bytes as PEM_read_bio's. */
	for (size_t i = 0; i <= len; i++)
		pem_same(s, i, 3);
	for (size_t i = 0; i < len; i++)
		for (size_t k = 0; k < sizeof(subst); k++) {
			char c = s[i];

			s[i] = subst[k];
			pem_same(s, len, 3);
			s[i] = c;
		}
	free(s);
	s = pem_text(three, 3, &len);
	pem_same(s, len, 2); /* three blocks, two allowed: the same refusal */
	pem_same(s, len, 3);
	free(s);
	/* Forms left to PEM_read_bio: CRLF, a header, another name, text around, spaces. */
	{
		static const char *const left[] = {
			"-----BEGIN CERTIFICATE-----\r\nAQID\r\n-----END CERTIFICATE-----\r\n",
			"-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAQID\n"
			"-----END CERTIFICATE-----\n",
			"-----BEGIN X509 CRL-----\nAQID\n-----END X509 CRL-----\n",
			"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----",
			"  -----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
			"-----BEGIN CERTIFICATE-----\nAQI\n-----END CERTIFICATE-----\n",
			"-----BEGIN CERTIFICATE-----\nAQ==\nAQID\n-----END CERTIFICATE-----\n",
			"-----BEGIN CERTIFICATE-----\nA===\n-----END CERTIFICATE-----\n",
			"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
			"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\nx",
			NULL,
		};

		for (size_t i = 0; left[i] != NULL; i++) {
			assert_int_equal(provd_pem_fast_certs(left[i], strlen(left[i]), der, dl, 4,
			                     &n),
			    0);
			pem_same(left[i], strlen(left[i]), 3);
		}
	}
}

/* ---- answers: provd_json_fast_dump beside json_dumps(JSON_COMPACT) ---- */

/* 1 if taken, with exactly json_dumps's bytes and a newline. */
static int dump_same(json_t *j)
{
	size_t len = 0;
	char *f = provd_json_fast_dump(j, &len), *d = json_dumps(j, JSON_COMPACT);

	if (f != NULL) {
		assert_non_null(d);
		assert_int_equal(len, strlen(d) + 1);
		assert_memory_equal(f, d, len - 1);
		assert_int_equal(f[len - 1], '\n');
		assert_int_equal(f[len], '\0');
	}
	free(f);
	free(d);
	json_decref(j);
	return f != NULL;
}

static void test_dump(void **state)
{
	char all[0x60];

	(void)state;
	for (int c = 0x20; c < 0x7f; c++)
		all[c - 0x20] = (char)c;
	all[0x5f] = '\0';
	/* An answer of each kind provd writes. */
	assert_true(dump_same(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
	    "profile_id", "00ff", "profile", "MIIB+/==", "device_id", "DEV-1", "network_id",
	    "net/1", "key_origin", "device", "alg", "p256", "not_before", "2026-12-07T01:00:00Z",
	    "not_after", "2026-12-08T01:00:00Z", "profile_not_after", "2026-12-07T02:00:00Z",
	    "renewal_count", (json_int_t)0, "renewal_cadence", (json_int_t)0)));
	assert_true(dump_same(json_pack("{s:s, s:s}", "error", "malformed-json", "detail",
	    "field \"a\\b\" /x\n\t\r\b\f")));
	assert_true(dump_same(
	    json_pack("{s:s, s:b, s:b, s:n, s:[], s:{}, s:[i, I, I, [{}]]}", "all", all, "t", 1,
	        "f", 0, "z", "e", "o", "a", 0, (json_int_t)INT64_MIN, (json_int_t)INT64_MAX)));
	assert_true(dump_same(json_array()));
	assert_true(dump_same(json_object()));
	/* The same key order as inserted, a replaced key in its place. */
	{
		json_t *o = json_object();

		json_object_set_new(o, "z", json_integer(1));
		json_object_set_new(o, "a", json_integer(2));
		json_object_set_new(o, "z", json_integer(3));
		assert_true(dump_same(o));
	}
	/* Left to json_dumps: a real, DEL, another control, non-ASCII, a bare value. */
	assert_false(dump_same(json_pack("{s:f}", "r", 1.5)));
	assert_false(dump_same(json_pack("{s:s}", "s", "\x7f")));
	assert_false(dump_same(json_pack("{s:s}", "s", "\x01")));
	assert_false(dump_same(json_pack("{s:s}", "s", "\xc3\xa9")));
	assert_false(dump_same(json_pack("{s:s}", "\xc3\xa9", "key")));
	assert_false(dump_same(json_string("bare")));
	assert_false(dump_same(json_integer(1)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_left_to_jansson),
		cmocka_unit_test(test_every_prefix_and_byte),
		cmocka_unit_test(test_pem_fast),
		cmocka_unit_test(test_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
