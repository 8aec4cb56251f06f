// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/cert.h — the certificate profiles of docs/FORMATS.md, one builder per row, and the
 * id-sc-pe-issuance extension.
 *
 * Every builder: serial = 16 random bytes (positive), notBefore = now - 60 s (clock skew),
 * notAfter = notBefore + days, SKI from the public key, AKI from the issuer's SKI, signed with
 * the issuer key's default digest (sc_alg_default_digest). *out is the caller's (X509_free).
 * Names must be 1..64 bytes; device IDs PrintableString characters (SC_ERR_USAGE otherwise).
 */
#ifndef SELFCERT_CERT_H
#define SELFCERT_CERT_H

#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>

/* CN=<name> Root, self-signed; CA (critical); keyCertSign, cRLSign (critical); SKI. */
sc_err sc_cert_mfr_root(EVP_PKEY *key, const char *name, int days, X509 **out) SC_MUST_USE;

/* O=<name>, CN=<name> Device Issuing CA; CA pathlen 1; keyCertSign, cRLSign; SKI; AKI. */
sc_err sc_cert_mfr_ca(EVP_PKEY *pub, const char *name, int days, X509 *root, EVP_PKEY *root_key,
    X509 **out) SC_MUST_USE;

/*
 * The device CA (the CSK): serialNumber=<deviceId>, O=<manufacturer>, CN=<deviceId> Device CA;
 * CA pathlen 0 (critical); keyCertSign, cRLSign (critical; cRLSign since issue 14); nameConstraints (critical); SKI; AKI. The
 * manufacturer name is the O of ca. The name constraints have two forms (docs/FORMATS.md,
 * docs/INTEROP.md §2):
 *   SC_DEVICE_CA_V1  permitted directoryName serialNumber=<deviceId> (before 2026-12): OpenSSL
 *                    enforces it; Go refuses every leaf under it (unhandled critical extension),
 *                    webpki too (it implements no directoryName constraint).
 *   SC_DEVICE_CA_V2  permitted dNSName <deviceId as a lowercase label>.selfcert.invalid
 *                    (sc_cert_device_dns_name), which OpenSSL, GnuTLS, Go and rustls-webpki all
 *                    enforce; every leaf then carries that name as its first subjectAltName.
 * sc_cert_device_ca makes V2 when the device ID is a DNS label (1..63 letters, digits and '-',
 * not at either end), V1 otherwise.
 */
enum sc_device_ca_form { SC_DEVICE_CA_NONE = 0, SC_DEVICE_CA_V1 = 1, SC_DEVICE_CA_V2 = 2 };

sc_err sc_cert_device_ca(EVP_PKEY *csk_pub, const char *device_id, int days, X509 *ca,
    EVP_PKEY *ca_key, X509 **out) SC_MUST_USE;

/* As sc_cert_device_ca with the form chosen: SC_ERR_USAGE for V2 with a non-label device ID. */
sc_err sc_cert_device_ca_form(EVP_PKEY *csk_pub, const char *device_id, int days, X509 *ca,
    EVP_PKEY *ca_key, enum sc_device_ca_form form, X509 **out) SC_MUST_USE;

/* The suffix of every device DNS name, and the longest such name (label + '.' + suffix). */
#define SC_DEVICE_DNS_SUFFIX "selfcert.invalid"
#define SC_DEVICE_DNS_MAX (63 + 1 + sizeof(SC_DEVICE_DNS_SUFFIX) - 1)

/*
 * The device's DNS name, "<deviceId lowercased>.selfcert.invalid", into out (NUL-terminated;
 * out_len > SC_DEVICE_DNS_MAX suffices). SC_ERR_NOT_FOUND if the ID is not a DNS label (it
 * then has no DNS name), SC_ERR_OVERSIZE if out is too small. Device IDs that differ only in
 * case share one DNS name: DNS compares names without case.
 */
sc_err sc_cert_device_dns_name(const char *device_id, char *out, size_t out_len) SC_MUST_USE;

/*
 * Which form devca's name constraints have for device_id: V1, V2 (exactly the rows above:
 * critical, one permitted subtree, nothing excluded, no minimum/maximum), or NONE for anything
 * else (absent, other names, other criticality). Never fails.
 */
enum sc_device_ca_form sc_cert_device_ca_form_of(X509 *devca, const char *device_id);

/*
 * The device key-exchange certificate (the KEK): serialNumber=<deviceId>, O=<manufacturer>,
 * CN=<deviceId> Key Exchange; not CA; keyEncipherment (RSA) or keyAgreement (EC); SKI; AKI.
 * SC_ERR_ALGORITHM for an Ed25519 key.
 */
sc_err sc_cert_device_kex(EVP_PKEY *kek_pub, const char *device_id, int days, X509 *ca,
    EVP_PKEY *ca_key, X509 **out) SC_MUST_USE;

/* O=<networkId>, CN=<networkId> Network Root, self-signed; CA (critical); keyCertSign, cRLSign; SKI. */
sc_err sc_cert_net_root(EVP_PKEY *key, const char *network_id, int days, X509 **out) SC_MUST_USE;

/*
 * O=<networkId>, CN=<networkId> Profile Signer; not CA; digitalSignature;
 * EKU id-sc-kp-profileSigning; SKI; AKI.
 */
sc_err sc_cert_profile_signer(EVP_PKEY *pub, const char *network_id, int days, X509 *root,
    EVP_PKEY *root_key, X509 **out) SC_MUST_USE;

/*
 * The self-issued leaf, exactly as docs/FORMATS.md: subject serialNumber=<deviceId>,
 * O=<networkId>, CN=<userId or deviceId>; issuer = csk_cert's subject; validity = the
 * profile's, exactly; serial 16 random bytes; basicConstraints CA:FALSE (critical); keyUsage
 * (critical) from the profile (default digitalSignature); EKU from the profile; SAN the
 * profile's, led by the device's DNS name when csk_cert is a V2 device CA (a profile dNSName
 * outside that name's subtree is SC_ERR_EXTENSION: every stack would refuse the leaf); SKI;
 * AKI; id-sc-pe-issuance (non-critical) with the profile's ID, digest and network ID, the key's
 * origin and issuance_counter. Signed by csk with the profile's certDigest (pure for Ed25519).
 * The profile must be signed or decoded (it needs its digest). Does not check the profile;
 * callers run sc_profile_check first, but a leaf for another device than csk_cert's
 * (SC_ERR_DEVICE_MISMATCH) or for a key the profile does not name (SC_ERR_KEY_MISMATCH) is
 * refused here too. X509_get0_pubkey(*out) is leaf_pub's key.
 */
sc_err sc_cert_issue_leaf(const struct sc_profile *p, EVP_PKEY *leaf_pub, X509 *csk_cert,
    EVP_PKEY *csk, uint64_t issuance_counter, X509 **out) SC_MUST_USE;

/* The decoded id-sc-pe-issuance extension. */
struct sc_issuance {
	uint8_t profile_id[SC_PROFILE_ID_LEN];
	uint8_t profile_digest[SC_PROFILE_DIGEST_LEN];
	char network_id[SC_NETWORK_ID_MAX + 1];
	enum sc_key_origin origin;
	uint64_t counter;
};

/*
 * Find and strictly decode the issuance extension. SC_ERR_NOT_FOUND if absent,
 * SC_ERR_BINDING if it is critical or appears twice, SC_ERR_MALFORMED if it does not decode
 * strictly (DER, sizes, known keyOrigin).
 */
sc_err sc_issuance_get(X509 *cert, struct sc_issuance *out) SC_MUST_USE;

/*
 * The subject's serialNumber attribute (the device ID) into out (NUL-terminated).
 * SC_ERR_NOT_FOUND if absent, SC_ERR_OVERSIZE if it does not fit.
 */
sc_err sc_cert_device_id(X509 *cert, char *out, size_t out_len) SC_MUST_USE;

#endif
