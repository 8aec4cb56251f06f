/*
 * text.h — text encodings shared by the programs (internal): the one strict base64 that the
 * provisioning server and the agent both read, so the two cannot drift.
 */
#ifndef SC_TEXT_H
#define SC_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

/*
 * Strict, canonical base64 (RFC 4648 §4, padded, no whitespace, no line breaks): the length is a
 * positive multiple of 4, every character is in the alphabet, '=' only as the last one or two,
 * and the bits the padding hides are zero, so each byte string has exactly one accepted text.
 * len is the text's length (s need not be terminated); at most max_len characters.
 * *out (OPENSSL_free) and *out_len on success. SC_ERR_MALFORMED or SC_ERR_OVERSIZE (detail
 * "base64: …"), SC_ERR_NOMEM.
 */
sc_err sc_base64_decode(const char *s, size_t len, size_t max_len, uint8_t **out,
    size_t *out_len) SC_MUST_USE;

/* Padded base64 of n bytes (n at most SC_BASE64_ENCODE_MAX), NUL-terminated; free() it. NULL if
 * n is too large or memory is short. */
#define SC_BASE64_ENCODE_MAX (1u << 24)
char *sc_base64_encode(const uint8_t *p, size_t n);

#endif
