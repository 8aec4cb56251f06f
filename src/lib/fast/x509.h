// SPDX-License-Identifier: Apache-2.0
/*
 * x509.h — a certificate decoded without OpenSSL 3.0's per-key provider decoder (internal).
 *
 * d2i_X509 on OpenSSL 3.0 builds a provider decoder chain for the SubjectPublicKeyInfo of
 * every certificate it parses (~0.3 ms of its ~0.34 ms for a P-256 certificate here; 3.1+
 * caches that chain, 3.0 does not). selfcert-provd parses three new certificates per first
 * enrollment. This reads the certificate with an ASN1 template of the same shape whose key is
 * left as bytes, builds the key through the EC/RSA key's own DER decoder (no provider decoder
 * chain), and assembles an X509 from the parts. sc_cert_from_der (pem.c) then applies its usual
 * checks to the result, the decisive one being that i2d_X509 of it gives back exactly the input
 * bytes: the same bytes are the same certificate, whichever path parsed them.
 */
#ifndef SC_FAST_X509_H
#define SC_FAST_X509_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

/*
 * Whether sc_cert_from_der takes the shortcut in this process: off unless a program turns it
 * on. selfcert-provd does (provd_api_load), for the certificates of its requests; the SP, the
 * CLI and the agent parse with d2i_X509 alone. Set it before threads start (not synchronized).
 */
void sc_fast_x509_set(int on);

/*
 * der[0..len) as an X509 in *out (the caller's, X509_free), its key decoded: a v3 certificate
 * (no unique IDs) whose key is EC on a named curve (uncompressed point) or RSA, with no byte
 * after it. Anything else, sc_fast_enabled() 0, the shortcut not set on, or any failure: *out
 * NULL and SC_OK, and the
 * caller parses with d2i_X509 (whose errors it reports). Never an error of its own but
 * SC_ERR_NOMEM. Does not check DER minimality or the round trip: the caller does, for both paths.
 */
sc_err sc_fast_cert_from_der(const uint8_t *der, size_t len, X509 **out) SC_MUST_USE;

/*
 * Issue 17: what selfcert-provd needs of a certificate it has verified before (a pinned
 * device's, recognised by the SHA-256 of its DER), read from the DER without building an X509
 * or decoding the names and extensions: the validity (as X509_cmp_time reads it: *valid_now 1
 * if not_before < now < not_after), both times as seconds, and (key non-NULL) the public key,
 * EC P-256/P-384 or RSA through the key type's own decoder, any other through d2i_PUBKEY.
 * The DER must be one Certificate SEQUENCE of the RFC 5280 shape and nothing after it, at most
 * 64 KiB: SC_ERR_MALFORMED (truncated, trailing bytes, wrong type, oversize: the field named),
 * SC_ERR_NOMEM. It checks no signature and no DER minimality: the caller's hash comparison is
 * what makes the bytes trusted. Works whether the shortcuts are on or off. *key: EVP_PKEY_free.
 */
sc_err sc_fast_cert_peek(const uint8_t *der, size_t len, time_t now, int *valid_now,
    int64_t *not_before, int64_t *not_after, EVP_PKEY **key) SC_MUST_USE;

/*
 * enroll15: X509_cmp_time(t, &now)'s answer without its cost (~5.4 k instructions a call on
 * OpenSSL 3.0: it writes now as an ASN1_TIME on the heap, then parses both times back to
 * struct tm to subtract them). The same steps on the same inputs: RFC 5280's form checked as
 * X509_cmp_time checks it (UTCTime of 13 or GeneralizedTime of 15 characters, digits then
 * 'Z'), t read by ASN1_TIME_to_tm (the function ASN1_TIME_diff reads it with: its range
 * checks), now inside the years 0000..9999 that X509_time_adj can write, and the two compared
 * as seconds. -1 if t <= now, 1 if t > now, 0 if t is malformed or now out of range (exactly
 * X509_cmp_time's; test_fast_x509's test_cmp_time compares the two on valid, boundary and
 * malformed times). With sc_fast_enabled() 0: X509_cmp_time itself. Thread-safe.
 */
int sc_fast_cmp_time(const ASN1_TIME *t, time_t now);

/*
 * judge11: a P-256 public key from the contents of a SubjectPublicKeyInfo's BIT STRING (bits:
 * the unused-bits octet, then the point), as sc_fast_cert_peek would decode it from the whole
 * certificate: no unused bits, an uncompressed point on the curve; a legacy EC key
 * (EVP_PKEY_free). NULL for anything else, with no error state left. The caller has checked the
 * AlgorithmIdentifier (id-ecPublicKey, prime256v1).
 */
EVP_PKEY *sc_fast_p256_key(const uint8_t *bits, size_t len);

/*
 * Issue 17 (prof8): sig over SHA-256(msg) verified with pub when pub is a legacy EC key (what
 * sc_fast_cert_from_der and sc_fast_cert_peek build) by ECDSA_verify on the key itself: the
 * function OpenSSL 3.0's ECDSA provider calls under EVP_DigestVerify, without first exporting
 * the key to the provider (~0.09 ms for P-256, most of EVP_DigestVerifyInit). *done 0 (and
 * *ok 0) for any other key or with sc_fast_enabled() 0: the caller verifies with EVP_DigestVerify.
 * *ok 1 if the signature verifies. Never an error of its own.
 */
void sc_fast_ecdsa_sha256_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
    size_t sig_len, int *done, int *ok);

/*
 * Issue 17 (judge11): note on x the SHA-256 of the DER it was parsed from, for the signature
 * cache's key (which hashes that hash with the issuer's key), so that a signature check of x
 * need not encode it again. Internal (not in the public cache.h: the cache's hits rest on the
 * note): the caller has just parsed x from exactly der (sc_cert_from_der's strict round trip),
 * will never modify it, and calls this before x is shared between threads — provd's certificate
 * cache (certcache.c), whose X509s are read-only. The hash is computed here from der. A note that
 * does not match x's encoding can make a miss but never plant a hit: on a miss sig_cache.c
 * checks the bytes it verified against the note before remembering. A hash already noted is
 * kept. The shortcuts off: nothing.
 */
void sc_sig_cache_note_der(X509 *x, const uint8_t *der, size_t len);

#endif
