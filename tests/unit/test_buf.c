// SPDX-License-Identifier: Apache-2.0
/*
 * test_buf.c — the bounded buffers under the SP protocol and the sealed store: round trips of
 * every type, truncation at every byte, trailing bytes, oversize strings and hostile lengths,
 * embedded NULs, the writer's hard cap, sticky failure and growth.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

#define TEXT_MAX 64

/* One message of every type, as a decoder would read it. */
static void put_sample(struct sc_buf *b)
{
	static const uint8_t raw[3] = { 0xde, 0xad, 0x00 };
	static const uint8_t blob[5] = { 0, 1, 2, 0, 255 };

	sc_buf_put_u8(b, 0xa5);
	sc_buf_put_u16(b, 0xbeef);
	sc_buf_put_u32(b, 0x01020304);
	sc_buf_put_u64(b, 0x1122334455667788ULL);
	sc_buf_put_bytes(b, raw, sizeof(raw));
	sc_buf_put_string(b, blob, sizeof(blob));
	sc_buf_put_string(b, NULL, 0);
	sc_buf_put_cstring(b, "device-0001");
	sc_buf_put_cstring(b, "");
}

/* Decode put_sample's message; returns sc_buf_done and checks every value when it succeeds. */
static sc_err get_sample(const uint8_t *data, size_t len)
{
	struct sc_buf rd;
	const uint8_t *raw, *blob, *empty;
	size_t blob_len, empty_len;
	char text[TEXT_MAX + 1], none[TEXT_MAX + 1];
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	sc_err r;

	sc_buf_init_reader(&rd, data, len);
	u8 = sc_buf_get_u8(&rd);
	u16 = sc_buf_get_u16(&rd);
	u32 = sc_buf_get_u32(&rd);
	u64 = sc_buf_get_u64(&rd);
	raw = sc_buf_get_bytes(&rd, 3);
	sc_buf_get_string(&rd, &blob, &blob_len, 16);
	sc_buf_get_string(&rd, &empty, &empty_len, 16);
	sc_buf_get_cstring(&rd, text, TEXT_MAX);
	sc_buf_get_cstring(&rd, none, TEXT_MAX);
	r = sc_buf_done(&rd, "sample");
	if (r != SC_OK)
		return r;
	assert_int_equal(u8, 0xa5);
	assert_int_equal(u16, 0xbeef);
	assert_int_equal(u32, 0x01020304);
	assert_true(u64 == 0x1122334455667788ULL);
	assert_non_null(raw);
	assert_memory_equal(raw, "\xde\xad\x00", 3);
	assert_int_equal(blob_len, 5);
	assert_memory_equal(blob, "\x00\x01\x02\x00\xff", 5);
	assert_int_equal(empty_len, 0);
	assert_string_equal(text, "device-0001");
	assert_string_equal(none, "");
	return SC_OK;
}

static void test_round_trip(void **state)
{
	struct sc_buf w;
	static const uint8_t want[] = {
		0xa5,
		0xbe,
		0xef,
		0x01,
		0x02,
		0x03,
		0x04,
		0x11,
		0x22,
		0x33,
		0x44,
		0x55,
		0x66,
		0x77,
		0x88,
		0xde,
		0xad,
		0x00,
		0,
		0,
		0,
		5,
		0,
		1,
		2,
		0,
		255,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		11,
		'd',
		'e',
		'v',
		'i',
		'c',
		'e',
		'-',
		'0',
		'0',
		'0',
		'1',
		0,
		0,
		0,
		0,
	};

	(void)state;
	sc_buf_init_writer(&w, 1024, 0);
	put_sample(&w);
	assert_int_equal(sc_buf_done(&w, "sample"), SC_OK);
	/* Big-endian, u32 length prefixes, exactly these bytes. */
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.data, want, sizeof(want));
	assert_int_equal(get_sample(w.data, w.len), SC_OK);
	sc_buf_free(&w);
	sc_buf_free(&w); /* twice is safe */
	assert_null(w.data);
}

static void test_extremes_round_trip(void **state)
{
	struct sc_buf w, rd;

	(void)state;
	sc_buf_init_writer(&w, 64, 0);
	sc_buf_put_u8(&w, 0);
	sc_buf_put_u8(&w, UINT8_MAX);
	sc_buf_put_u16(&w, 0);
	sc_buf_put_u16(&w, UINT16_MAX);
	sc_buf_put_u32(&w, 0);
	sc_buf_put_u32(&w, UINT32_MAX);
	sc_buf_put_u64(&w, 0);
	sc_buf_put_u64(&w, UINT64_MAX);
	sc_buf_put_u64(&w, 1ULL << 63);
	assert_int_equal(sc_buf_done(&w, "extremes"), SC_OK);

	sc_buf_init_reader(&rd, w.data, w.len);
	assert_int_equal(sc_buf_get_u8(&rd), 0);
	assert_int_equal(sc_buf_get_u8(&rd), UINT8_MAX);
	assert_int_equal(sc_buf_get_u16(&rd), 0);
	assert_int_equal(sc_buf_get_u16(&rd), UINT16_MAX);
	assert_int_equal(sc_buf_get_u32(&rd), 0);
	assert_int_equal(sc_buf_get_u32(&rd), UINT32_MAX);
	assert_true(sc_buf_get_u64(&rd) == 0);
	assert_true(sc_buf_get_u64(&rd) == UINT64_MAX);
	assert_true(sc_buf_get_u64(&rd) == 1ULL << 63);
	assert_int_equal(sc_buf_done(&rd, "extremes"), SC_OK);
	sc_buf_free(&rd); /* a reader: nothing to free, no crash */
	sc_buf_free(&w);
}

/* Every proper prefix of a valid message is malformed, never a success or a crash. */
static void test_truncation_at_every_byte(void **state)
{
	struct sc_buf w;

	(void)state;
	sc_buf_init_writer(&w, 1024, 0);
	put_sample(&w);
	assert_int_equal(sc_buf_done(&w, "sample"), SC_OK);
	for (size_t n = 0; n < w.len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past the end. */
		uint8_t *cut = malloc(n ? n : 1);

		assert_non_null(cut);
		memcpy(cut, w.data, n);
		sc_err_clear();
		if (get_sample(cut, n) != SC_ERR_MALFORMED)
			fail_msg("prefix of %zu of %zu bytes: not malformed", n, w.len);
		assert_non_null(strstr(sc_err_detail(), "sample"));
		free(cut);
	}
	sc_buf_free(&w);
}

static void test_trailing_bytes(void **state)
{
	struct sc_buf w;

	(void)state;
	for (size_t extra = 1; extra <= 3; extra++) {
		sc_buf_init_writer(&w, 1024, 0);
		put_sample(&w);
		for (size_t i = 0; i < extra; i++)
			sc_buf_put_u8(&w, 0);
		assert_int_equal(sc_buf_done(&w, "sample"), SC_OK);
		sc_err_clear();
		assert_int_equal(get_sample(w.data, w.len), SC_ERR_TRAILING);
		assert_non_null(strstr(sc_err_detail(), "sample"));
		sc_buf_free(&w);
	}
	sc_err_clear();
	{
		static const uint8_t one[1] = { 7 };
		struct sc_buf rd;

		/* Nothing read at all: the whole input is trailing. */
		sc_buf_init_reader(&rd, one, sizeof(one));
		assert_int_equal(sc_buf_done(&rd, "empty body"), SC_ERR_TRAILING);
		assert_string_equal(sc_err_detail(), "empty body: 1 trailing bytes");
		/* An empty reader read as empty is fine. */
		sc_buf_init_reader(&rd, one, 0);
		assert_int_equal(sc_buf_done(&rd, "empty body"), SC_OK);
	}
}

static void test_string_over_max(void **state)
{
	static const uint8_t msg[] = { 0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	struct sc_buf rd;
	const uint8_t *p = (const uint8_t *)"x";
	size_t n = 99;
	char text[5];

	(void)state;
	/* Exactly max is fine. */
	sc_buf_init_reader(&rd, msg, sizeof(msg));
	sc_buf_get_string(&rd, &p, &n, 5);
	assert_int_equal(sc_buf_done(&rd, "s"), SC_OK);
	assert_int_equal(n, 5);
	/* One over fails, outputs cleared, and nothing is consumed past the length. */
	sc_buf_init_reader(&rd, msg, sizeof(msg));
	sc_buf_get_string(&rd, &p, &n, 4);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);
	/* Likewise for text, into a buffer of max+1. */
	sc_buf_init_reader(&rd, msg, sizeof(msg));
	memset(text, 'q', sizeof(text));
	sc_buf_get_cstring(&rd, text, sizeof(text) - 1);
	assert_string_equal(text, "");
	assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);
	/* max 0 accepts only the empty string. */
	sc_buf_init_reader(&rd, msg, sizeof(msg));
	sc_buf_get_string(&rd, &p, &n, 0);
	assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);
}

static void test_cstring_embedded_nul(void **state)
{
	static const uint8_t mid[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const uint8_t end[] = { 0, 0, 0, 3, 'a', 'b', 0 };
	static const uint8_t start[] = { 0, 0, 0, 1, 0 };
	const uint8_t *const cases[] = { mid, end, start };
	const size_t lens[] = { sizeof(mid), sizeof(end), sizeof(start) };
	struct sc_buf rd;
	char out[TEXT_MAX + 1];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		sc_buf_init_reader(&rd, cases[i], lens[i]);
		sc_buf_get_cstring(&rd, out, TEXT_MAX);
		assert_string_equal(out, "");
		assert_int_equal(sc_buf_done(&rd, "text"), SC_ERR_MALFORMED);
	}
	/* As raw strings the same bytes are fine: the NUL rule is for text only. */
	sc_buf_init_reader(&rd, mid, sizeof(mid));
	{
		const uint8_t *p;
		size_t n;
		sc_buf_get_string(&rd, &p, &n, TEXT_MAX);
		assert_int_equal(n, 3);
	}
	assert_int_equal(sc_buf_done(&rd, "text"), SC_OK);
}

/* A hostile length near 2^32 neither wraps the bounds check nor allocates (a reader never does). */
static void test_huge_length_prefix(void **state)
{
	static const uint8_t lens[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd' },
		{ 0xff, 0xff, 0xff, 0xfc, 'a', 'b', 'c', 'd' },
		{ 0x80, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd' },
		{ 0x00, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd' }, /* one more than there is */
	};
	struct sc_buf rd;
	const uint8_t *p;
	size_t n;
	char text[TEXT_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		sc_buf_init_reader(&rd, lens[i], sizeof(lens[i]));
		sc_buf_get_string(&rd, &p, &n, SIZE_MAX); /* no limit from the caller */
		assert_null(p);
		assert_int_equal(n, 0);
		assert_int_equal(rd.off, 4); /* only the length was consumed */
		assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);

		sc_buf_init_reader(&rd, lens[i], sizeof(lens[i]));
		sc_buf_get_cstring(&rd, text, TEXT_MAX);
		assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);
	}
	/* get_bytes with a size_t that would wrap off + n. */
	sc_buf_init_reader(&rd, lens[0], sizeof(lens[0]));
	assert_int_equal(sc_buf_get_u8(&rd), 0xff);
	assert_null(sc_buf_get_bytes(&rd, SIZE_MAX));
	assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);
}

/* After the first failure every read gives zero/NULL, even where bytes remain. */
static void test_reader_failure_is_sticky(void **state)
{
	static const uint8_t msg[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct sc_buf rd;
	const uint8_t *p;
	size_t n;

	(void)state;
	sc_buf_init_reader(&rd, msg, sizeof(msg));
	assert_null(sc_buf_get_bytes(&rd, sizeof(msg) + 1));
	assert_int_equal(sc_buf_get_u8(&rd), 0);
	assert_int_equal(sc_buf_get_u16(&rd), 0);
	assert_int_equal(sc_buf_get_u32(&rd), 0);
	assert_true(sc_buf_get_u64(&rd) == 0);
	assert_null(sc_buf_get_bytes(&rd, 0));
	sc_buf_get_string(&rd, &p, &n, 100);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(rd.off, 0);
	assert_int_equal(sc_buf_done(&rd, "s"), SC_ERR_MALFORMED);
	/* Zero-length reads at the very end are fine. */
	sc_buf_init_reader(&rd, msg, sizeof(msg));
	assert_non_null(sc_buf_get_bytes(&rd, sizeof(msg)));
	assert_non_null(sc_buf_get_bytes(&rd, 0));
	assert_int_equal(sc_buf_done(&rd, "s"), SC_OK);
}

static void test_writer_hard_cap(void **state)
{
	struct sc_buf w;
	uint8_t block[100];

	(void)state;
	memset(block, 0x5a, sizeof(block));
	/* Exactly at the cap is fine. */
	sc_buf_init_writer(&w, 300, 0);
	sc_buf_put_bytes(&w, block, 100);
	sc_buf_put_bytes(&w, block, 100);
	sc_buf_put_bytes(&w, block, 100);
	assert_int_equal(w.len, 300);
	assert_int_equal(sc_buf_done(&w, "capped"), SC_OK);
	/* One byte more fails, sticks, and nothing more is appended. */
	sc_buf_put_u8(&w, 1);
	assert_int_equal(w.len, 300);
	sc_err_clear();
	assert_int_equal(sc_buf_done(&w, "capped"), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "capped: over 300 bytes");
	sc_buf_put_bytes(&w, block, 0);
	sc_buf_put_u8(&w, 1);
	assert_int_equal(w.len, 300);
	assert_int_equal(sc_buf_done(&w, "capped"), SC_ERR_OVERSIZE);
	sc_buf_free(&w);

	/* A length prefix that fits but a body that does not: the whole put fails. */
	sc_buf_init_writer(&w, 10, 0);
	sc_buf_put_string(&w, block, 7);
	assert_int_equal(sc_buf_done(&w, "capped"), SC_ERR_OVERSIZE);
	sc_buf_free(&w);

	/* A size that would wrap len + n is refused, not wrapped. */
	sc_buf_init_writer(&w, 1000, 0);
	sc_buf_put_u8(&w, 1);
	sc_buf_put_bytes(&w, block, SIZE_MAX);
	assert_int_equal(w.len, 1);
	assert_int_equal(sc_buf_done(&w, "capped"), SC_ERR_OVERSIZE);
	sc_buf_free(&w);

	/* A cap of zero refuses everything. */
	sc_buf_init_writer(&w, 0, 0);
	sc_buf_put_u8(&w, 1);
	assert_int_equal(sc_buf_done(&w, "none"), SC_ERR_OVERSIZE);
	sc_buf_free(&w);

	/* Writers never write into a reader's borrowed bytes. */
	{
		uint8_t mine[4] = { 9, 9, 9, 9 };
		struct sc_buf rd;

		sc_buf_init_reader(&rd, mine, sizeof(mine));
		sc_buf_put_u32(&rd, 0);
		assert_memory_equal(mine, "\x09\x09\x09\x09", 4);
		assert_int_equal(sc_buf_done(&rd, "reader"), SC_ERR_MALFORMED);
	}
}

/* Growth (plain and secret) keeps every byte written before it, across many reallocations. */
static void test_growth_copies(void **state)
{
	enum { TOTAL = 70000 };

	(void)state;
	for (int secret = 0; secret <= 1; secret++) {
		struct sc_buf w, rd;
		size_t last_cap = 0, grew = 0;

		sc_buf_init_writer(&w, TOTAL, secret);
		for (size_t i = 0; i < TOTAL; i++) {
			sc_buf_put_u8(&w, (uint8_t)(i * 7 + (i >> 8)));
			if (w.cap != last_cap) {
				grew++;
				last_cap = w.cap;
			}
			assert_true(w.cap >= w.len && w.cap <= TOTAL);
		}
		assert_true(grew >= 8);
		assert_int_equal(w.len, TOTAL);
		assert_int_equal(sc_buf_done(&w, "grown"), SC_OK);
		sc_buf_init_reader(&rd, w.data, w.len);
		for (size_t i = 0; i < TOTAL; i++)
			if (sc_buf_get_u8(&rd) != (uint8_t)(i * 7 + (i >> 8)))
				fail_msg("byte %zu lost in growth (secret %d)", i, secret);
		assert_int_equal(sc_buf_done(&rd, "grown"), SC_OK);
		sc_buf_free(&w);
	}
	/* A large single put that skips several doublings. */
	{
		struct sc_buf w;
		uint8_t *big = malloc(50000);

		assert_non_null(big);
		for (size_t i = 0; i < 50000; i++)
			big[i] = (uint8_t)(i ^ (i >> 9));
		sc_buf_init_writer(&w, 65536, 1);
		sc_buf_put_u8(&w, 0x42);
		sc_buf_put_string(&w, big, 50000);
		assert_int_equal(sc_buf_done(&w, "big"), SC_OK);
		assert_int_equal(w.len, 1 + 4 + 50000);
		assert_int_equal(w.data[0], 0x42);
		assert_memory_equal(w.data + 5, big, 50000);
		sc_buf_free(&w);
		free(big);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_extremes_round_trip),
		cmocka_unit_test(test_truncation_at_every_byte),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_string_over_max),
		cmocka_unit_test(test_cstring_embedded_nul),
		cmocka_unit_test(test_huge_length_prefix),
		cmocka_unit_test(test_reader_failure_is_sticky),
		cmocka_unit_test(test_writer_hard_cap),
		cmocka_unit_test(test_growth_copies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
