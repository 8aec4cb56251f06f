// SPDX-License-Identifier: Apache-2.0
/*
 * profile_key.h — does a leaf key fit the profile that authorizes it (internal). One test for
 * the SP before it signs (cert.c) and for the relying party after (verify.c), each in its words.
 */
#ifndef SC_PROFILE_KEY_H
#define SC_PROFILE_KEY_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/*
 * A supplied key (serverSupplied) must be the profile's publicKey itself; a generated one
 * (deviceGenerated) must be of the profile's algorithm. SC_OK if key fits; otherwise
 * sc_fail(code, not_supplied), or sc_fail(code, "<not_of_alg> <algorithm name>"): each caller
 * keeps its own error code and wording. OpenSSL's error queue is left empty.
 */
sc_err sc_profile_key_fits(const struct sc_profile_info *info, const EVP_PKEY *key, sc_err code,
    const char *not_supplied, const char *not_of_alg) SC_MUST_USE;

/*
 * The leaf the profile dictates for leaf_pub under the device CA csk_cert, with the given
 * issuance counter: what sc_cert_issue_leaf would build, through the same code, but unsigned
 * (its signature algorithm and value are empty) and with a fresh random serial. *out is the
 * caller's (X509_free). Errors as sc_cert_issue_leaf's (a key that does not fit the profile:
 * SC_ERR_KEY_MISMATCH; another device: SC_ERR_DEVICE_MISMATCH).
 */
sc_err sc_cert_expected_leaf(const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert,
    uint64_t issuance_counter, X509 **out) SC_MUST_USE;
/*
 * The same for certificate `index` of a renewal profile (#17); SC_ERR_RENEWAL_SPENT past it.
 * For comparison in DER only: a P-256/P-384/Ed25519 key's SPKI is written as i2d_PUBKEY would
 * (fast/spki.h), so X509_get0_pubkey(*out) is NULL for those keys (sc_fast_enabled() 1); its
 * serial is a constant (01 00 … 00), not a random one: the callers compare all but the serial.
 */
sc_err sc_cert_expected_leaf_at(const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert,
    uint64_t issuance_counter, uint32_t index, X509 **out) SC_MUST_USE;

/*
 * The subjectAltName a profile dictates for a leaf under the device CA csk_cert: the profile's
 * (*use = info->san, *owned NULL) under a form 1 device CA; under form 2 the device's DNS name
 * first, then the profile's names (SC_ERR_EXTENSION for a dNSName outside the device's
 * subtree). *use may be NULL (no SAN); *owned, when set, is the caller's (GENERAL_NAMES_free)
 * and is what *use points at. One rule for the SP's builder (cert.c) and verify.c.
 */
sc_err sc_cert_leaf_san(const struct sc_profile_info *info, X509 *csk_cert, GENERAL_NAMES **owned,
    const GENERAL_NAMES **use) SC_MUST_USE;

/* sc_cert_leaf_san for a device CA whose form (enum sc_device_ca_form) the caller knows. */
sc_err sc_cert_leaf_san_as(const struct sc_profile_info *info, int form, GENERAL_NAMES **owned,
    const GENERAL_NAMES **use) SC_MUST_USE;

#endif
