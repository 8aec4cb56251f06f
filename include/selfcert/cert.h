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
 * CA pathlen 0 (critical); keyCertSign (critical); nameConstraints (critical) permitting only
 * directoryName serialNumber=<deviceId>; SKI; AKI. The manufacturer name is the O of ca.
 */
sc_err sc_cert_device_ca(EVP_PKEY *csk_pub, const char *device_id, int days, X509 *ca,
    EVP_PKEY *ca_key, X509 **out) SC_MUST_USE;

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
 * (critical) from the profile (default digitalSignature); EKU and SAN from the profile; SKI;
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
