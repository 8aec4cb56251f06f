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

#endif
