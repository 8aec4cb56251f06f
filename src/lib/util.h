/*
 * util.h — files, PEM, times and durations for libselfcert's programs (internal).
 *
 * Every reader takes a size cap; every writer is atomic (temp file in the same folder, fsync,
 * rename, fsync of the folder) so a crash leaves the old file or the new one. Key files are
 * written 0600 with O_EXCL|O_NOFOLLOW and never overwritten.
 */
#ifndef SC_UTIL_H
#define SC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

#define SC_FILE_MAX (1 << 20)          /* the largest file any command reads: 1 MiB */

/* Read a whole regular file of at most max bytes (O_NOFOLLOW not used: certs may be links).
 * *data is the caller's (OPENSSL_free). SC_ERR_IO / SC_ERR_OVERSIZE, detail names the path. */
sc_err sc_file_read(const char *path, size_t max, uint8_t **data, size_t *len) SC_MUST_USE;

/* Atomically replace path with data, mode for a new file. */
sc_err sc_file_write_atomic(const char *path, const void *data, size_t len, int mode) SC_MUST_USE;

/* Create path exclusively (O_EXCL|O_NOFOLLOW, mode), write, fsync. SC_ERR_EXISTS if it exists. */
sc_err sc_file_write_new(const char *path, const void *data, size_t len, int mode) SC_MUST_USE;

/* fsync the folder that holds path (after a rename). */
sc_err sc_fsync_dir_of(const char *path) SC_MUST_USE;

/* Wipe and free a buffer from sc_file_read that held a secret. */
void sc_free_secret(void *p, size_t len);

/* PEM/DER loading: certificate (PEM or DER), all certificates of a PEM file (at least one),
 * a private key (PEM PKCS#8), a public key. Caller owns results. */
sc_err sc_load_cert(const char *path, X509 **out) SC_MUST_USE;
sc_err sc_load_certs(const char *path, STACK_OF(X509) **out) SC_MUST_USE;
/* A private-key file; programs open keys through sc_key_open (keyopen.h). */
sc_err sc_load_key(const char *path, EVP_PKEY **out) SC_MUST_USE;

/* Write PEM: a certificate (or several) atomically 0644; a private key as PKCS#8 0600, new
 * file only. */
sc_err sc_write_cert(const char *path, X509 *cert) SC_MUST_USE;
sc_err sc_write_certs(const char *path, X509 *const *certs, size_t n) SC_MUST_USE;
sc_err sc_write_key(const char *path, EVP_PKEY *key) SC_MUST_USE;

/* DER encodings; *der is the caller's (OPENSSL_free). */
sc_err sc_cert_to_der(X509 *cert, uint8_t **der, size_t *len) SC_MUST_USE;
/* Strict: no trailing bytes, must re-encode identically. */
sc_err sc_cert_from_der(const uint8_t *der, size_t len, X509 **out) SC_MUST_USE;

/* "90s" "15m" "12h" "30d" "1y" (365 d) → seconds; at most 100 years. SC_ERR_USAGE. */
sc_err sc_parse_duration(const char *s, int64_t *seconds) SC_MUST_USE;
/* RFC 3339 "2027-01-31T00:00:00Z" (Z or ±hh:mm offset, optional fraction ignored). SC_ERR_USAGE. */
sc_err sc_parse_time(const char *s, time_t *out) SC_MUST_USE;
/* time → "2027-01-31T00:00:00Z" into out (at least 21 bytes). */
void sc_format_time(time_t t, char *out, size_t out_len);
/* ASN1_TIME → time_t. SC_ERR_MALFORMED if it is not a valid time. */
sc_err sc_asn1_time_to_time_t(const ASN1_TIME *t, time_t *out) SC_MUST_USE;

/* Lower-case hex of n bytes into out (2n+1). */
void sc_hex(const uint8_t *p, size_t n, char *out);
/* Parse hex (even length, ≤ max bytes). SC_ERR_USAGE. */
sc_err sc_unhex(const char *s, uint8_t *out, size_t max, size_t *n) SC_MUST_USE;

#endif
