// SPDX-License-Identifier: Apache-2.0
/*
 * buf.c — bounded, fail-sticky byte buffers (see buf.h). Every size computation is checked
 * against the cap before it is used, so a hostile length can never wrap or over-allocate.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "buf.h"

void sc_buf_init_writer(struct sc_buf *b, size_t max, int secret)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->owned = 1;
	b->secret = secret;
}

void sc_buf_init_reader(struct sc_buf *b, const uint8_t *data, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->data = (uint8_t *)data; /* never written through for a reader */
	b->len = len;
}

void sc_buf_free(struct sc_buf *b)
{
	if (b->owned && b->data != NULL) {
		if (b->secret)
			OPENSSL_cleanse(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = b->off = 0;
}

static uint8_t *reserve(struct sc_buf *b, size_t n)
{
	size_t need, ncap;
	uint8_t *p;

	if (b->failed || !b->owned)
		goto fail;
	if (n > b->max || b->len > b->max - n)
		goto fail;
	need = b->len + n;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap = ncap > b->max / 2 ? b->max : ncap * 2;
		p = malloc(ncap);
		if (p == NULL)
			goto fail;
		if (b->len)
			memcpy(p, b->data, b->len);
		if (b->data != NULL) {
			if (b->secret)
				OPENSSL_cleanse(b->data, b->cap);
			free(b->data);
		}
		b->data = p;
		b->cap = ncap;
	}
	p = b->data + b->len;
	b->len += n;
	return p;
fail:
	b->failed = 1;
	return NULL;
}

void sc_buf_put_bytes(struct sc_buf *b, const void *src, size_t n)
{
	uint8_t *p = reserve(b, n);
	if (p != NULL && n > 0)
		memcpy(p, src, n);
}

void sc_buf_put_u8(struct sc_buf *b, uint8_t v)
{
	sc_buf_put_bytes(b, &v, 1);
}

void sc_buf_put_u16(struct sc_buf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	sc_buf_put_bytes(b, t, sizeof(t));
}

void sc_buf_put_u32(struct sc_buf *b, uint32_t v)
{
	uint8_t t[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	sc_buf_put_bytes(b, t, sizeof(t));
}

void sc_buf_put_u64(struct sc_buf *b, uint64_t v)
{
	sc_buf_put_u32(b, (uint32_t)(v >> 32));
	sc_buf_put_u32(b, (uint32_t)v);
}

void sc_buf_put_string(struct sc_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->failed = 1;
		return;
	}
	sc_buf_put_u32(b, (uint32_t)n);
	sc_buf_put_bytes(b, p, n);
}

void sc_buf_put_cstring(struct sc_buf *b, const char *s)
{
	sc_buf_put_string(b, s, s ? strlen(s) : 0);
}

const uint8_t *sc_buf_get_bytes(struct sc_buf *b, size_t n)
{
	const uint8_t *p;

	if (b->failed || n > b->len - b->off) {
		b->failed = 1;
		return NULL;
	}
	p = b->data + b->off;
	b->off += n;
	return p;
}

uint8_t sc_buf_get_u8(struct sc_buf *b)
{
	const uint8_t *p = sc_buf_get_bytes(b, 1);
	return p ? p[0] : 0;
}

uint16_t sc_buf_get_u16(struct sc_buf *b)
{
	const uint8_t *p = sc_buf_get_bytes(b, 2);
	return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t sc_buf_get_u32(struct sc_buf *b)
{
	const uint8_t *p = sc_buf_get_bytes(b, 4);
	return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
	         : 0;
}

uint64_t sc_buf_get_u64(struct sc_buf *b)
{
	uint64_t hi = sc_buf_get_u32(b);
	return (hi << 32) | sc_buf_get_u32(b);
}

void sc_buf_get_string(struct sc_buf *b, const uint8_t **p, size_t *n, size_t max)
{
	uint32_t len = sc_buf_get_u32(b);

	*p = NULL;
	*n = 0;
	if (b->failed)
		return;
	if (len > max) {
		b->failed = 1;
		return;
	}
	*p = sc_buf_get_bytes(b, len);
	if (*p != NULL)
		*n = len;
}

void sc_buf_get_cstring(struct sc_buf *b, char *out, size_t max)
{
	const uint8_t *p;
	size_t n;

	out[0] = '\0';
	sc_buf_get_string(b, &p, &n, max);
	if (b->failed)
		return;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		b->failed = 1;
		return;
	}
	if (n > 0)
		memcpy(out, p, n);
	out[n] = '\0';
}

sc_err sc_buf_done(struct sc_buf *b, const char *what)
{
	if (b->owned) {
		if (b->failed)
			return sc_fail(SC_ERR_OVERSIZE, "%s: over %zu bytes", what, b->max);
		return SC_OK;
	}
	if (b->failed)
		return sc_fail(SC_ERR_MALFORMED, "%s: truncated or field out of range", what);
	if (b->off != b->len)
		return sc_fail(SC_ERR_TRAILING, "%s: %zu trailing bytes", what, b->len - b->off);
	return SC_OK;
}
