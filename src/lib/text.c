/*
 * text.c — text encodings shared by the programs (text.h): the strict base64 of the server's
 * API and the agent, on top of OpenSSL's EVP_DecodeBlock/EVP_EncodeBlock.
 */
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "text.h"

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

sc_err sc_base64_decode(const char *s, size_t len, size_t max_len, uint8_t **out,
    size_t *out_len)
{
	size_t pad = 0, n;
	uint8_t *buf;
	int got;

	*out = NULL;
	*out_len = 0;
	if (len == 0 || len % 4 != 0)
		return sc_fail(SC_ERR_MALFORMED, "base64: length %zu is not a positive multiple of 4",
		    len);
	/* EVP_DecodeBlock takes an int. */
	if (len > max_len || len > (size_t)(1u << 30))
		return sc_fail(SC_ERR_OVERSIZE, "base64: %zu characters", len);
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (b64_value((unsigned char)s[i]) < 0)
			return sc_fail(SC_ERR_MALFORMED, "base64: character %zu is not in the alphabet",
			    i);
	/* Canonical: the bits the padding hides must be zero. */
	if (pad == 2 && (b64_value((unsigned char)s[len - 3]) & 0x0f) != 0)
		return sc_fail(SC_ERR_MALFORMED, "base64: non-zero bits before the padding");
	if (pad == 1 && (b64_value((unsigned char)s[len - 2]) & 0x03) != 0)
		return sc_fail(SC_ERR_MALFORMED, "base64: non-zero bits before the padding");
	n = len / 4 * 3;
	if ((buf = OPENSSL_malloc(n + 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "base64");
	got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
	if (got < 0 || (size_t)got != n) {
		OPENSSL_free(buf);
		return sc_fail(SC_ERR_MALFORMED, "base64: does not decode");
	}
	*out = buf;
	*out_len = n - pad;
	return SC_OK;
}

char *sc_base64_encode(const uint8_t *p, size_t n)
{
	char *out;

	if (n > SC_BASE64_ENCODE_MAX || (out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}
