// SPDX-License-Identifier: Apache-2.0
/*
 * pem.h — certificates and keys in files, PEM or DER, read as strictly as the wire (internal).
 * Certificate files are replaced atomically (0644); key files are new files only (0600). The
 * programs open private keys through sc_key_open (keyopen.h), not here.
 */
#ifndef SC_PEM_H
#define SC_PEM_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

/*
 * All certificates of a file (at most SC_FILE_MAX bytes): one DER certificate, or every PEM
 * block of it (text around blocks is allowed, RFC 7468), each decoded by sc_cert_from_der. A
 * damaged block, one of another type, or no block at all is SC_ERR_MALFORMED naming the path
 * and the block; SC_ERR_TRAILING / SC_ERR_OVERSIZE from the decode; SC_ERR_IO. *out is the
 * caller's (sk_X509_pop_free), NULL on failure.
 */
sc_err sc_load_certs(const char *path, STACK_OF(X509) **out) SC_MUST_USE;

/* Exactly one certificate (as sc_load_certs); more is SC_ERR_MALFORMED. *out: X509_free. */
sc_err sc_load_cert(const char *path, X509 **out) SC_MUST_USE;

/* PEM: n certificates into path, atomically, 0644. SC_ERR_IO, SC_ERR_NOMEM, SC_ERR_INTERNAL. */
sc_err sc_write_certs(const char *path, X509 *const *certs, size_t n) SC_MUST_USE;
sc_err sc_write_cert(const char *path, X509 *cert) SC_MUST_USE;
/* The same PEM from a certificate's DER (no X509 decoded: issue 17). SC_ERR_OVERSIZE. */
sc_err sc_write_cert_der(const char *path, const uint8_t *der, size_t len) SC_MUST_USE;

/* PEM PKCS#8, unencrypted, into a new file (0600, O_EXCL|O_NOFOLLOW); the PEM text lives only
 * in OpenSSL's secure heap. SC_ERR_EXISTS, SC_ERR_IO. */
sc_err sc_write_key(const char *path, EVP_PKEY *key) SC_MUST_USE;

/* DER of a certificate; *der is the caller's (OPENSSL_free). SC_ERR_INTERNAL. */
sc_err sc_cert_to_der(X509 *cert, uint8_t **der, size_t *len) SC_MUST_USE;

/*
 * Strict DER certificate: at most SC_FILE_MAX bytes (SC_ERR_OVERSIZE), no trailing bytes
 * (SC_ERR_TRAILING), definite minimal lengths all the way down, and it must re-encode to the
 * same bytes (SC_ERR_MALFORMED otherwise). *out: X509_free, NULL on failure.
 */
sc_err sc_cert_from_der(const uint8_t *der, size_t len, X509 **out) SC_MUST_USE;

#endif
