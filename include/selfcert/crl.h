// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/crl.h — the device CA's own CRL (docs/FORMATS.md "Device CA CRL", issue 14): an empty,
 * short-lived CRL the SP signs with its CSK (SP request CRL, docs/PROTOCOL.md 0x19) so that a
 * relying party checking every level of the chain (nginx ssl_crl: CRL_CHECK|CRL_CHECK_ALL) finds
 * a CRL for the leaf's issuer. It revokes nothing: a leaf is cut off by the network's list and
 * short lifetimes, a device by the manufacturer's CRL; a device whose CRL is missing or expired
 * is refused by such relying parties, and provd drops a revoked device's CRL from GET /v1/crls.
 * So its lifetime sets no revocation latency (a device that stops renewing is refused once its
 * short leaf expires): the agent asks for SC_CRL_MAX_LIFETIME and resends only when the
 * server's copy would lapse while a certificate of the device is in use (session 14, crl14).
 */
#ifndef SELFCERT_CRL_H
#define SELFCERT_CRL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

#define SC_CRL_MIN_LIFETIME 3600u             /* nextUpdate - now: at least one hour */
#define SC_CRL_MAX_LIFETIME (30u * 86400u)    /* ... and at most 30 days */
#define SC_CRL_DEFAULT_LIFETIME (7u * 86400u) /* selfcert device crl's default */
/*
 * thisUpdate is the SP's clock less this: a relying party whose clock is a little behind the
 * device's would otherwise refuse a fresh CRL as "not yet valid" and with it the device.
 */
#define SC_CRL_BACKDATE 300
#define SC_CRL_MAX_DER 4096 /* a device CA CRL: no entries, two extensions, one signature */

/*
 * Sign tbs (len bytes) with the device CA's key and md (NULL: the key's own scheme, Ed25519):
 * *sig as X.509 wants it (DER ECDSA-Sig-Value, PKCS#1 v1.5, raw Ed25519), the caller's
 * (OPENSSL_free). The SP passes its key backend's SIGN here, so a TPM-held CSK signs too.
 */
typedef sc_err (*sc_crl_signer)(void *ctx, const EVP_MD *md, const uint8_t *tbs, size_t len,
    uint8_t **sig, size_t *sig_len);

/*
 * Make the device CA CRL of ca (the CSK certificate; it must carry a subjectKeyIdentifier,
 * else SC_ERR_EXTENSION, and keyUsage cRLSign, else SC_ERR_KEY_USAGE: a device CA certified
 * before issue 14 has none, and OpenSSL refuses CRLs from such an issuer): v2, issuer = ca's subject, thisUpdate = now - SC_CRL_BACKDATE,
 * nextUpdate = now + lifetime (SC_CRL_MIN_LIFETIME..SC_CRL_MAX_LIFETIME, else SC_ERR_VALIDITY),
 * authorityKeyIdentifier = ca's SKI, cRLNumber = number (1..2^63-1, else SC_ERR_USAGE), no
 * entries; signed through sign and then checked as sc_crl_device_check does (a signer that
 * signed with another key: SC_ERR_SIGNATURE). *der (at most SC_CRL_MAX_DER bytes) is the
 * caller's (OPENSSL_free).
 */
sc_err sc_crl_device_make(X509 *ca, uint64_t number, int64_t now, uint32_t lifetime,
    sc_crl_signer sign, void *ctx, uint8_t **der, size_t *der_len) SC_MUST_USE;

/*
 * Check a device CA CRL against its device CA certificate, field by field, each failure naming
 * `what` and the field: ca's keyUsage has cRLSign (SC_ERR_KEY_USAGE), version 2 and issuer = ca's subject (SC_ERR_MALFORMED), no entries
 * (SC_ERR_MALFORMED), exactly the two extensions, non-critical, AKI = ca's SKI
 * (SC_ERR_EXTENSION), the signature under ca's key (SC_ERR_SIGNATURE), nextUpdate present and
 * nextUpdate - thisUpdate at most SC_CRL_MAX_LIFETIME + SC_CRL_BACKDATE (SC_ERR_VALIDITY), and,
 * when now >= 0, thisUpdate <= now + SC_CRL_BACKDATE (SC_ERR_VALIDITY) and now < nextUpdate
 * (SC_ERR_STALE). *number gets the cRLNumber (may be NULL), *next_update nextUpdate (may be NULL).
 */
sc_err sc_crl_device_check(X509_CRL *crl, X509 *ca, int64_t now, const char *what, uint64_t *number,
    int64_t *next_update) SC_MUST_USE;

/*
 * Decode a device CA CRL: DER, at most SC_CRL_MAX_DER bytes (SC_ERR_OVERSIZE), strictly (must
 * re-encode to the same bytes: SC_ERR_MALFORMED; bytes after it: SC_ERR_TRAILING), then
 * sc_crl_device_check. *out is the caller's (X509_CRL_free).
 */
sc_err sc_crl_device_decode(const uint8_t *der, size_t len, X509 *ca, int64_t now, const char *what,
    X509_CRL **out) SC_MUST_USE;

struct sc_sp;
/*
 * Ask the SP for its device CA CRL (sc_sp_crl) and check it against the SP's own CSK certificate
 * (sc_sp_info) at the host's clock: what the CLI and the agent hand on. *der is the caller's
 * (OPENSSL_free); *next_update its nextUpdate (may be NULL). SC_ERR_UNKNOWN_REQUEST from an SP
 * older than revision 1.3; SC_ERR_STATE before lock.
 */
sc_err sc_crl_device_fetch(struct sc_sp *sp, uint32_t lifetime, uint8_t **der, size_t *der_len,
    int64_t *next_update) SC_MUST_USE;

#endif
