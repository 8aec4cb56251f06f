// SPDX-License-Identifier: Apache-2.0
/*
 * test_text.c — the text forms of text.c: strict base64 (truncation, alphabet, padding and the
 * bits it hides, oversize), durations, RFC 3339 times and hex. Every refusal asserts its code
 * and what the detail names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "text.h"

/* ---- base64 ---- */

static void expect_b64(const char *s, size_t max, sc_err want, const char *detail)
{
	uint8_t *out = (uint8_t *)&out;
	size_t n = 99;
	sc_err r;

	sc_err_clear();
	r = sc_base64_decode(s, strlen(s), max, &out, &n);
	if (r != want)
		fail_msg("base64 '%s': %s (%s), expected %s", s, sc_err_name(r), sc_err_detail(),
		    sc_err_name(want));
	if (r != SC_OK) {
		assert_null(out);
		assert_int_equal(n, 0);
		if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
			fail_msg("base64 '%s': detail '%s' lacks '%s'", s, sc_err_detail(), detail);
	} else {
		OPENSSL_free(out);
	}
}

static void test_base64(void **state)
{
	static const struct {
		const char *text, *bytes;
		size_t n;
	} good[] = {
		{ "AA==", "\x00", 1 },
		{ "AAA=", "\x00\x00", 2 },
		{ "AAAA", "\x00\x00\x00", 3 },
		{ "Zm9vYmFy", "foobar", 6 },
		{ "Zm9vYg==", "foob", 4 },
		{ "Zm9vYmE=", "fooba", 5 },
		{ "+/+/", "\xfb\xff\xbf", 3 },
		{ "////", "\xff\xff\xff", 3 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t *out = NULL;
		size_t n = 0;
		char *back;

		if (sc_base64_decode(good[i].text, strlen(good[i].text), 64, &out, &n) != SC_OK)
			fail_msg("'%s' refused: %s", good[i].text, sc_err_detail());
		assert_int_equal(n, good[i].n);
		assert_memory_equal(out, good[i].bytes, n);
		/* One text per byte string: encoding gives the same text back. */
		back = sc_base64_encode(out, n);
		assert_non_null(back);
		assert_string_equal(back, good[i].text);
		free(back);
		OPENSSL_free(out);
	}
	/* Truncation: every length that is not a positive multiple of 4. */
	expect_b64("", 64, SC_ERR_MALFORMED, "length 0");
	expect_b64("Z", 64, SC_ERR_MALFORMED, "length 1");
	expect_b64("Zm", 64, SC_ERR_MALFORMED, "length 2");
	expect_b64("Zm9", 64, SC_ERR_MALFORMED, "length 3");
	expect_b64("Zm9vYmF", 64, SC_ERR_MALFORMED, "length 7");
	expect_b64("Zm9vY", 64, SC_ERR_MALFORMED, "is not a positive multiple of 4");
	/* Bad alphabet: URL-safe letters, whitespace, a NUL, a byte above 0x7f, '=' inside. */
	expect_b64("Zm9-", 64, SC_ERR_MALFORMED, "character 3 is not in the alphabet");
	expect_b64("Zm9_", 64, SC_ERR_MALFORMED, "character 3");
	expect_b64("Zm 9", 64, SC_ERR_MALFORMED, "character 2");
	expect_b64("Zm9v\nYmFy", 64, SC_ERR_MALFORMED, NULL);
	expect_b64("Z\xc3\xa9v", 64, SC_ERR_MALFORMED, "character 1");
	expect_b64("Zm=v", 64, SC_ERR_MALFORMED, "character 2");
	expect_b64("=AAA", 64, SC_ERR_MALFORMED, "character 0");
	expect_b64("A===", 64, SC_ERR_MALFORMED, "character 1");
	expect_b64("====", 64, SC_ERR_MALFORMED, "character 0");
	expect_b64("AA==AA==", 64, SC_ERR_MALFORMED, "character 2");
	{
		uint8_t *out = NULL;
		size_t n = 0;
		assert_int_equal(sc_base64_decode("AA\0A", 4, 64, &out, &n), SC_ERR_MALFORMED);
		assert_non_null(strstr(sc_err_detail(), "character 2"));
	}
	/* Non-canonical: the bits the padding hides must be zero ("AB==" and "AAB=" would decode). */
	expect_b64("AB==", 64, SC_ERR_MALFORMED, "non-zero bits before the padding");
	expect_b64("AP==", 64, SC_ERR_MALFORMED, "non-zero bits before the padding");
	expect_b64("AAB=", 64, SC_ERR_MALFORMED, "non-zero bits before the padding");
	expect_b64("AAD=", 64, SC_ERR_MALFORMED, "non-zero bits before the padding");
	expect_b64("Zm9vYh==", 64, SC_ERR_MALFORMED, "non-zero bits before the padding");
	/* Oversize: at most max characters, exactly max is fine. */
	expect_b64("Zm9vYmFy", 8, SC_OK, NULL);
	expect_b64("Zm9vYmFyZm9v", 8, SC_ERR_OVERSIZE, "base64: 12 characters");
	{
		uint8_t *out = NULL;
		size_t n = 0;
		/* Past what EVP_DecodeBlock's int can take: refused before the text is even read. */
		assert_int_equal(sc_base64_decode("AAAA", (size_t)1 << 31, (size_t)-1, &out, &n),
		    SC_ERR_OVERSIZE);
	}
	/* Encoding: empty input, and the cap. */
	{
		char *e = sc_base64_encode((const uint8_t *)"", 0);
		assert_non_null(e);
		assert_string_equal(e, "");
		free(e);
		assert_null(
		    sc_base64_encode((const uint8_t *)"", (size_t)SC_BASE64_ENCODE_MAX + 1));
	}
}

/*
 * b64der16: the one-pass decoder against the two-pass one it replaced (an alphabet check, the
 * padding's hidden bits, then EVP_DecodeBlock), on random texts near the alphabet: the same
 * verdict, the same detail (the first bad character's index), the same bytes.
 */
static int ref_value(unsigned char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != 0 ? strchr(a, c) : NULL;

	return p != NULL ? (int)(p - a) : -1;
}

static sc_err ref_decode(const char *s, size_t len, uint8_t *out, size_t *out_len, char *why,
    size_t why_len)
{
	size_t pad = 0;
	int got;

	if (len == 0 || len % 4 != 0) {
		snprintf(why, why_len, "length %zu", len);
		return SC_ERR_MALFORMED;
	}
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (ref_value((unsigned char)s[i]) < 0) {
			snprintf(why, why_len, "character %zu is not", i);
			return SC_ERR_MALFORMED;
		}
	if ((pad == 2 && (ref_value((unsigned char)s[len - 3]) & 0x0f) != 0) ||
	    (pad == 1 && (ref_value((unsigned char)s[len - 2]) & 0x03) != 0)) {
		snprintf(why, why_len, "non-zero bits before the padding");
		return SC_ERR_MALFORMED;
	}
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	assert_int_equal(got, (int)(len / 4 * 3));
	*out_len = len / 4 * 3 - pad;
	return SC_OK;
}

static void test_base64_reference(void **state)
{
	static const char pool[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	    "==\n -_.\xc3\x80";
	char s[64], why[64];
	uint8_t ref[64];
	unsigned seed = 17;

	(void)state;
	for (int round = 0; round < 200000; round++) {
		size_t len = 4 * (1 + (size_t)(rand_r(&seed) % 12)) -
		    (size_t)(rand_r(&seed) % 16 == 0),
		       ref_len = 0, n = 99;
		uint8_t *out = NULL;
		sc_err want, got;

		for (size_t i = 0; i < len; i++)
			/* mostly the alphabet, now and then anything else of the pool */
			s[i] =
			    pool[rand_r(&seed) % 8 == 0 ? (size_t)rand_r(&seed) % (sizeof(pool) - 1)
			                                : (size_t)rand_r(&seed) % 64];
		/* a third of them padded, as a real text's end is */
		if (len >= 4 && rand_r(&seed) % 3 == 0)
			s[len - 1] = '=';
		if (len >= 4 && rand_r(&seed) % 3 == 0 && s[len - 1] == '=')
			s[len - 2] = '=';
		sc_err_clear();
		want = ref_decode(s, len, ref, &ref_len, why, sizeof(why));
		got = sc_base64_decode(s, len, 64, &out, &n);
		if (got != want)
			fail_msg("'%.*s': %s, the reference %s (%s)", (int)len, s, sc_err_name(got),
			    sc_err_name(want), why);
		if (got != SC_OK) {
			assert_null(out);
			assert_int_equal(n, 0);
			if (strstr(sc_err_detail(), why) == NULL)
				fail_msg("'%.*s': '%s', the reference's '%s'", (int)len, s,
				    sc_err_detail(), why);
			continue;
		}
		assert_int_equal(n, ref_len);
		assert_memory_equal(out, ref, n);
		OPENSSL_free(out);
	}
}

/* ---- durations ---- */

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = {
		{ "90s", 90 },
		{ "15m", 900 },
		{ "12h", 43200 },
		{ "30d", 2592000 },
		{ "1y", 31536000 },
		{ "1s", 1 },
		{ "100y", 100LL * 365 * 86400 },
		{ "36500d", 100LL * 365 * 86400 },
		{ "3153600000s", 3153600000LL },
		{ "007d", 7 * 86400 },
	};
	static const char *const bad[] = {
		"0d",
		"0s",
		"-1d",
		"+1d",
		"1w",
		"",
		"d",
		"1.5d",
		"101y",
		"36501d",
		"3153600001s",
		"9223372036854775807s",
		"99999999999999999999d",
		"1d ",
		" 1d",
		"1 d",
		"1dd",
		"1D",
		"0x10d",
		"1e3s",
		"d1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t v = 0;
		if (sc_parse_duration(good[i].s, &v) != SC_OK)
			fail_msg("'%s' refused: %s", good[i].s, sc_err_detail());
		assert_true(v == good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = -7;
		sc_err_clear();
		if (sc_parse_duration(bad[i], &v) != SC_ERR_USAGE)
			fail_msg("duration '%s' not refused as usage", bad[i]);
		assert_true(v == -7);
		assert_non_null(strstr(sc_err_detail(), "duration"));
	}
	{
		int64_t v;
		assert_int_equal(sc_parse_duration(NULL, &v), SC_ERR_USAGE);
	}
}

/* ---- RFC 3339 times ---- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *s;
		time_t want;
	} good[] = {
		{ "2027-01-31T00:00:00Z", 1801353600 },
		{ "2027-01-31T00:00:00z", 1801353600 },
		{ "2027-01-31t00:00:00Z", 1801353600 },
		{ "2027-01-31T00:00:00+00:00", 1801353600 },
		{ "2027-01-31T00:00:00-00:00", 1801353600 },
		{ "2027-01-31T02:00:00+02:00", 1801353600 },
		{ "2027-01-30T18:30:00-05:30", 1801353600 },
		{ "2027-01-31T00:00:00.5Z", 1801353600 },
		{ "2027-01-31T00:00:00.123456789Z", 1801353600 },
		{ "2027-01-31T02:00:00.999+02:00", 1801353600 },
		{ "2024-02-29T12:34:56Z", 1709210096 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2000-01-01T00:00:00Z", 946684800 },
		{ "9999-12-31T23:59:59Z", 253402300799LL },
		{ "2027-03-01T00:00:00+23:59", 1803859200 - 23 * 3600 - 59 * 60 },
	};
	static const char *const bad[] = {
		"",
		"2027-01-31",
		"2027-01-31T00:00:00",
		"2027-01-31T00:00:00 Z",
		"2027-01-31 00:00:00Z",
		"2027-01-31T00:00Z",
		"2027-01-31T00:00:00ZZ",
		"2027-01-31T00:00:00Z ",
		" 2027-01-31T00:00:00Z",
		"2027-1-31T00:00:00Z",
		"2027-01-5T00:00:00Z",
		"27-01-31T00:00:00Z",
		"+2027-01-31T00:00:00Z",
		"2027-01-31T0:00:00Z",
		"2027-01-31T00:0:00Z",
		"2027-01-31T00:00:0Z",
		"2027-02-29T00:00:00Z",
		"2027-02-30T00:00:00Z",
		"2100-02-29T00:00:00Z",
		"2027-04-31T00:00:00Z",
		"2027-06-31T00:00:00Z",
		"2027-09-31T00:00:00Z",
		"2027-11-31T00:00:00Z",
		"2027-01-32T00:00:00Z",
		"2027-00-10T00:00:00Z",
		"2027-01-00T00:00:00Z",
		"2027-13-01T00:00:00Z",
		"2027-01-01T24:00:00Z",
		"2027-01-01T23:60:00Z",
		"2027-01-01T23:59:61Z",
		"2027-01-31T00:00:00.Z",
		"2027-01-31T00:00:00+0200",
		"2027-01-31T00:00:00+02",
		"2027-01-31T00:00:00+2:00",
		"2027-01-31T00:00:00+24:00",
		"2027-01-31T00:00:00+02:60",
		"2027-01-31T00:00:00+02:00Z",
		"2027-01-31T00:00:00UTC",
		"2027-01-31T00:00:00GMT",
		"2027\357\274\21501-31T00:00:00Z",
		"2027-01-31T00:00:00\nZ",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		time_t t = 1;
		if (sc_parse_time(good[i].s, &t) != SC_OK)
			fail_msg("'%s' refused: %s", good[i].s, sc_err_detail());
		if (t != good[i].want)
			fail_msg("'%s' gave %lld, expected %lld", good[i].s, (long long)t,
			    (long long)good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t = 77;
		sc_err_clear();
		if (sc_parse_time(bad[i], &t) != SC_ERR_USAGE)
			fail_msg("time '%s' not refused as usage (gave %lld)", bad[i],
			    (long long)t);
		assert_true(t == 77);
		assert_non_null(strstr(sc_err_detail(), "time '"));
	}
	{
		time_t t;
		assert_int_equal(sc_parse_time(NULL, &t), SC_ERR_USAGE);
	}
}

static void test_format_time(void **state)
{
	char out[32];
	time_t t;

	(void)state;
	sc_format_time(1801353600, out, sizeof(out));
	assert_string_equal(out, "2027-01-31T00:00:00Z");
	assert_int_equal(sc_parse_time(out, &t), SC_OK);
	assert_true(t == 1801353600);
	sc_format_time(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	/* Too small a buffer gives "?", never a cut time. */
	sc_format_time(1801353600, out, 10);
	assert_string_equal(out, "?");
	/* ASN.1 times convert to the same instant. */
	{
		ASN1_TIME *a = ASN1_TIME_set(NULL, 1801353600);
		assert_non_null(a);
		assert_int_equal(sc_asn1_time_to_time_t(a, &t), SC_OK);
		assert_true(t == 1801353600);
		ASN1_TIME_free(a);
		assert_int_equal(sc_asn1_time_to_time_t(NULL, &t), SC_ERR_MALFORMED);
	}
}

/* ---- hex ---- */

static void test_hex(void **state)
{
	uint8_t out[8];
	char txt[17];
	size_t n = 99;

	(void)state;
	assert_int_equal(sc_unhex("00ff7fA0", out, sizeof(out), &n), SC_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\x00\xff\x7f\xa0", 4);
	sc_hex(out, n, txt);
	assert_string_equal(txt, "00ff7fa0");
	/* Exactly max bytes is fine, one more is not. */
	assert_int_equal(sc_unhex("0102030405060708", out, 8, &n), SC_OK);
	assert_int_equal(n, 8);
	n = 99;
	assert_int_equal(sc_unhex("010203040506070809", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(n, 99);
	/* Odd length, empty, bad digits anywhere, NULL. */
	assert_int_equal(sc_unhex("abc", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex(NULL, out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("zz", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("0g", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("000 ", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("0x12", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("-1", out, 8, &n), SC_ERR_USAGE);
	assert_int_equal(sc_unhex("12\xff"
	                          "3",
	                     out, 8, &n),
	    SC_ERR_USAGE);
	assert_non_null(strstr(sc_err_detail(), "not a hex digit at 2"));
	assert_int_equal(n, 99);
	sc_hex(out, 0, txt);
	assert_string_equal(txt, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_reference),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
