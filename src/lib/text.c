// SPDX-License-Identifier: Apache-2.0
/*
 * text.c — text forms shared by the programs (text.h): the strict base64 of the server's API
 * and the agent (decoded in one pass here, encoded by OpenSSL's EVP_EncodeBlock), RFC 3339 times,
 * durations, hex.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "text.h"

/*
 * Each alphabet character's value plus one; 0 for every other byte (b64der16: one look-up a
 * character in one pass that checks and decodes, instead of a branchy check and then
 * EVP_DecodeBlock's own pass: a first enrollment's certificates are ~3 000 base64 characters).
 */
/* clang-format off */
static const uint8_t b64_plus1[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
	['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
	['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
	['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};
/* clang-format on */
/* What the four look-ups' "plus one" adds to a group's 24 bits (a sum: 64 takes 7 bits). */
#define B64_BIAS ((1u << 18) + (1u << 12) + (1u << 6) + 1u)

/* The index of the first character of s[0..n) outside the alphabet (n if none). */
static size_t b64_first_bad(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && b64_plus1[(unsigned char)s[i]] != 0)
		i++;
	return i;
}

sc_err sc_base64_decode(const char *s, size_t len, size_t max_len, uint8_t **out, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t pad = 0, n, full, i, o = 0;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	if (len == 0 || len % 4 != 0)
		return sc_fail(SC_ERR_MALFORMED,
		    "base64: length %zu is not a positive multiple of 4", len);
	/* Bounded as when EVP_DecodeBlock (an int) decoded it. */
	if (len > max_len || len > (size_t)(1u << 30))
		return sc_fail(SC_ERR_OVERSIZE, "base64: %zu characters", len);
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	n = len / 4 * 3;
	if ((buf = OPENSSL_malloc(n + 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "base64");
	/* Every group but a padded last one: four characters, three bytes. */
	full = pad != 0 ? len - 4 : len;
	for (i = 0; i < full; i += 4) {
		uint32_t a = b64_plus1[u[i]], b = b64_plus1[u[i + 1]], c = b64_plus1[u[i + 2]],
		         d = b64_plus1[u[i + 3]], v;

		if (a == 0 || b == 0 || c == 0 || d == 0)
			goto bad_char;
		v = (a << 18) + (b << 12) + (c << 6) + d - B64_BIAS;
		buf[o] = (uint8_t)(v >> 16);
		buf[o + 1] = (uint8_t)(v >> 8);
		buf[o + 2] = (uint8_t)v;
		o += 3;
	}
	if (pad != 0) {
		uint32_t a = b64_plus1[u[i]], b = b64_plus1[u[i + 1]],
		         c = pad == 1 ? b64_plus1[u[i + 2]] : 1, v;

		if (a == 0 || b == 0 || c == 0)
			goto bad_char;
		v = (a << 18) + (b << 12) + (c << 6) + 1u - B64_BIAS;
		/* Canonical: the bits the padding hides must be zero. */
		if ((pad == 2 && (v & 0xffff00) != (v & 0xff0000)) || (v & 0xff) != 0) {
			OPENSSL_free(buf);
			return sc_fail(SC_ERR_MALFORMED,
			    "base64: non-zero bits before the padding");
		}
		buf[o++] = (uint8_t)(v >> 16);
		if (pad == 1)
			buf[o++] = (uint8_t)(v >> 8);
	}
	*out = buf;
	*out_len = o;
	return SC_OK;
bad_char:
	OPENSSL_free(buf);
	return sc_fail(SC_ERR_MALFORMED, "base64: character %zu is not in the alphabet",
	    b64_first_bad(s, len - pad));
}

char *sc_base64_encode(const uint8_t *p, size_t n)
{
	char *out;

	if (n > SC_BASE64_ENCODE_MAX || (out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

sc_err sc_parse_duration(const char *s, int64_t *seconds)
{
	char *end = NULL;
	long long v;
	int64_t unit;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || end[0] == '\0' || end[1] != '\0')
		goto bad;
	switch (end[0]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'y': unit = 365LL * 86400; break;
	default: goto bad;
	}
	if (v <= 0 || v > 100LL * 365 * 86400 / unit)
		return sc_fail(SC_ERR_USAGE, "duration '%s': must be positive and at most 100y", s);
	*seconds = v * unit;
	return SC_OK;
bad:
	return sc_fail(SC_ERR_USAGE,
	    "duration '%s': expected a number and s, m, h, d or y (e.g. 30d)", s ? s : "");
}

/* The n decimal digits at s as a number, or -1 if any is not a digit (stops at the NUL). */
static int fixed_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/*
 * A fixed-width parser rather than strptime, which skips spaces, takes one-digit fields and
 * two-digit years, and lets timegm turn 2027-02-30 into March 2. Leap seconds (:60) are
 * refused: nothing we issue needs them.
 */
sc_err sc_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int year, mon, mday, hour, min, sec, oh, om;
	long off = 0;

	_Static_assert(sizeof(time_t) >= 8, "years up to 9999 need a 64-bit time_t");
	memset(&tm, 0, sizeof(tm));
	if (s == NULL)
		goto bad;
	/* YYYY-MM-DDTHH:MM:SS, every field exactly as wide as that; each check stops at a NUL. */
	if ((year = fixed_digits(s, 4)) < 0 || s[4] != '-' || (mon = fixed_digits(s + 5, 2)) < 0 ||
	    s[7] != '-' || (mday = fixed_digits(s + 8, 2)) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    (hour = fixed_digits(s + 11, 2)) < 0 || s[13] != ':' ||
	    (min = fixed_digits(s + 14, 2)) < 0 || s[16] != ':' ||
	    (sec = fixed_digits(s + 17, 2)) < 0)
		goto bad;
	if (mon < 1 || mon > 12 || mday < 1 || mday > days_in_month(year, mon) || hour > 23 ||
	    min > 59 || sec > 59)
		goto bad;
	p = s + 19;
	if (*p == '.') { /* fractions of a second are allowed and ignored */
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if ((oh = fixed_digits(p + 1, 2)) < 0 || p[3] != ':' ||
		    (om = fixed_digits(p + 4, 2)) < 0 || oh > 23 || om > 59)
			goto bad;
		off = oh * 3600L + om * 60L;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	/* Every field is in range, so timegm cannot fail (its -1 is then 1969-12-31T23:59:59Z). */
	*out = timegm(&tm) - off;
	return SC_OK;
bad:
	return sc_fail(SC_ERR_USAGE, "time '%s': expected RFC 3339, e.g. 2027-01-31T00:00:00Z",
	    s ? s : "");
}

void sc_format_time(time_t t, char *out, size_t out_len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, out_len, "?");
}

sc_err sc_asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return sc_fail(SC_ERR_MALFORMED, "not a valid time");
	*out = timegm(&tm);
	return SC_OK;
}

void sc_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

sc_err sc_unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len % 2 != 0 || len / 2 > max)
		return sc_fail(SC_ERR_USAGE,
		    "hex '%.40s': expected an even number of hex digits, "
		    "at most %zu bytes",
		    s ? s : "", max);
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return sc_fail(SC_ERR_USAGE, "hex '%.40s': not a hex digit at %zu", s,
			    2 * i);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return SC_OK;
}
