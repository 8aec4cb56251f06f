// SPDX-License-Identifier: Apache-2.0
/*
 * json.h — the provisioning API's request-body parsers: the body as one JSON object of known
 * keys (size, media type and depth bounded first), string fields, and certificates given as PEM
 * or base64 DER. Every failure is an sc_err naming the field (apierr.h's PROVD_ERR_* for the
 * JSON and encoding refusals); the caller turns it into the answer.
 */
#ifndef SC_PROVD_JSON_H
#define SC_PROVD_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include "api.h"
#include "certcache.h"

struct provd_request;

/* req19: 1 if s's n bytes are all base64 characters (A-Z a-z 0-9 + / =), 0 if not. */
int provd_b64_clean(const char *s, size_t n);

/* The deepest nesting of [ and { in a JSON text (strings skipped), without parsing it. */
int provd_json_depth(const uint8_t *p, size_t n);

/*
 * The request's body as one JSON object whose keys are all in `allowed` (NULL-terminated):
 * PROVD_ERR_BODY_TOO_LARGE over PROVD_MAX_BODY, PROVD_ERR_MEDIA_TYPE unless the Content-Type is
 * application/json (any case, parameters allowed), PROVD_ERR_JSON_TOO_DEEP past
 * PROVD_JSON_MAX_DEPTH (checked before jansson, which has no limit of its own),
 * PROVD_ERR_MALFORMED_JSON, PROVD_ERR_UNKNOWN_FIELD. *out is the caller's (json_decref).
 */
sc_err provd_json_body(const struct provd_request *req, const char *const *allowed,
    json_t **out) SC_MUST_USE;

/*
 * A string field of 1..max bytes. Absent: *out = NULL and SC_OK unless required
 * (PROVD_ERR_MISSING_FIELD). PROVD_ERR_WRONG_TYPE, PROVD_ERR_BAD_VALUE (length). *out borrows
 * from obj; out_len may be NULL.
 */
sc_err provd_json_string(json_t *obj, const char *name, int required, size_t max, const char **out,
    size_t *out_len) SC_MUST_USE;

/*
 * A certificate field: a string, or (multi) an array of 1..PROVD_MAX_CHAIN strings; at least one
 * certificate, at most PROVD_MAX_CHAIN (multi) or 1. Each string is provd_certs_from_text's.
 * *out is the caller's (sk_X509_pop_free).
 */
sc_err provd_json_certs(struct provd_certcache *cache, json_t *obj, const char *name, int multi,
    STACK_OF(X509) **out) SC_MUST_USE;

/*
 * Certificates from one string: nothing but PEM CERTIFICATE blocks and whitespace, or the
 * base64 of one DER certificate; each strict DER (certcache.h parses, and may remember it).
 * Pushed onto sk, at most max in all (PROVD_ERR_BAD_VALUE past that). PROVD_ERR_BAD_DER,
 * PROVD_ERR_BAD_BASE64, naming field; SC_ERR_NOMEM.
 */
sc_err provd_certs_from_text(struct provd_certcache *cache, const char *field, const char *s,
    size_t len, STACK_OF(X509) *sk, int max) SC_MUST_USE;

/*
 * Issue 17: a certificate field's DER as received, before (or instead of) parsing it. A pinned
 * device's request is recognised by the SHA-256 of these bytes (h_enroll.c) and needs no X509;
 * any other is parsed from them (provd_ders_x509) with exactly provd_json_certs's errors.
 */
struct provd_der {
	uint8_t *der; /* OPENSSL_malloc'd, provd_ders_clear frees */
	size_t len;
	int block; /* its PEM block's number (1..), 0: the string was base64 DER */
};
struct provd_ders {
	const char *field; /* borrowed: the field's name, for the errors */
	int n;
	struct provd_der item[PROVD_MAX_CHAIN + 1]; /* one past the limit: see provd_ders_settle */
};

/*
 * provd_json_certs without the parse: the field's presence, type and encodings (JSON, PEM
 * blocks, base64) and the certificate count, each refused with provd_json_certs's error; the
 * DER is not looked at. d is the caller's to clear (provd_ders_clear), also on error.
 */
sc_err provd_json_ders(json_t *obj, const char *name, int multi, struct provd_ders *d) SC_MUST_USE;

/* d's certificates parsed in order (certcache.h), the first failure's PROVD_ERR_BAD_DER. */
sc_err provd_ders_x509(struct provd_certcache *cache, const struct provd_ders *d,
    STACK_OF(X509) **out) SC_MUST_USE;

/*
 * The error provd_json_certs would have given for a field whose provd_json_ders failed with r
 * (or, r SC_OK, that a later check failed with): it parsed each certificate before reading the
 * next, so a certificate of d that does not parse is the error; else r.
 */
sc_err provd_ders_settle(struct provd_certcache *cache, const struct provd_ders *d, sc_err r);

/*
 * #17 (first9): provd_certs_from_text's text forms read into d without the parse (at most max
 * certificates, 1..PROVD_MAX_CHAIN), refused as provd_json_ders refuses; parse with
 * provd_ders_x509. d is the caller's to clear (provd_ders_clear), also on error.
 */
sc_err provd_ders_from_text(struct provd_ders *d, const char *field, const char *s, size_t len,
    int max) SC_MUST_USE;

void provd_ders_clear(struct provd_ders *d);

/*
 * req19: d's certificates as PEM text, byte for byte what PEM_write_bio(bio, "CERTIFICATE", "",
 * der, len) writes for each in turn (a BEGIN line, the base64 in lines of 64, an END line, each
 * ending in '\n'), made in one buffer without a BIO. *out NUL-terminated, OPENSSL_free.
 */
sc_err provd_ders_pem(const struct provd_ders *d, char **out) SC_MUST_USE;

#endif
