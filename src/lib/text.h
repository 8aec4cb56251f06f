// SPDX-License-Identifier: Apache-2.0
/*
 * text.h — text forms shared by the programs (internal): the one strict base64 that the
 * provisioning server and the agent both read (so the two cannot drift), RFC 3339 times,
 * durations and hex. Every parser takes the whole string and refuses anything around it.
 */
#ifndef SC_TEXT_H
#define SC_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/asn1.h>
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

/* "90s" "15m" "12h" "30d" "1y" (365 d) → seconds; positive, at most 100 years. SC_ERR_USAGE
 * (detail "duration '…': …"); *seconds untouched then. */
sc_err sc_parse_duration(const char *s, int64_t *seconds) SC_MUST_USE;

/* RFC 3339 "2027-01-31T00:00:00Z" (Z or ±hh:mm offset, an optional fraction ignored), every
 * field exactly as wide, no leap seconds. SC_ERR_USAGE (detail "time '…': …"); *out
 * untouched. */
sc_err sc_parse_time(const char *s, time_t *out) SC_MUST_USE;

/* t as "2027-01-31T00:00:00Z" into out (at least 21 bytes); "?" if it does not fit. */
void sc_format_time(time_t t, char *out, size_t out_len);

/* ASN1_TIME → time_t. SC_ERR_MALFORMED if t is NULL or not a valid time. */
sc_err sc_asn1_time_to_time_t(const ASN1_TIME *t, time_t *out) SC_MUST_USE;

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void sc_hex(const uint8_t *p, size_t n, char *out);

/* Hex (either case, even length, 1..max bytes) into out; *n bytes. SC_ERR_USAGE, *n untouched. */
sc_err sc_unhex(const char *s, uint8_t *out, size_t max, size_t *n) SC_MUST_USE;

#endif
