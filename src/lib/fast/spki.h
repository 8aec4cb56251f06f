// SPDX-License-Identifier: Apache-2.0
/*
 * spki.h — the leaf's SubjectPublicKeyInfo written without OpenSSL 3.0's encoder (internal).
 *
 * X509_set_pubkey runs the key through OpenSSL 3.0's encoder and then its decoder (~2.3 M
 * instructions for a P-256 key, more than the ECDSA signature of the whole certificate). The SP
 * keeps the leaf key itself and reads its certificate only as DER and for its extensions, so it
 * can take the bytes i2d_PUBKEY would write directly. The plain path stays beside it: with
 * sc_fast_enabled() 0 both functions here do exactly what the plain-OpenSSL code does, and
 * tests/unit/test_cert.c (test_issue_leaf_fast_spki) compares the two byte for byte.
 */
#ifndef SC_FAST_SPKI_H
#define SC_FAST_SPKI_H

#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/*
 * Write pub's SubjectPublicKeyInfo into x, as i2d_PUBKEY would: id-ecPublicKey with the named
 * curve and the uncompressed point (P-256, P-384), or id-Ed25519 with the raw key. x is then left
 * without a decoded key: X509_get0_pubkey(x) returns NULL. *done = 0 (and SC_OK) when pub is of
 * another kind (RSA, explicit parameters, a compressed point) or when sc_fast_enabled() is 0:
 * the caller then sets the key with X509_set_pubkey. SC_ERR_NOMEM / SC_ERR_INTERNAL, x unchanged.
 */
sc_err sc_fast_spki_set(X509 *x, EVP_PKEY *pub, int *done) SC_MUST_USE;

/*
 * The SP's new leaf key's encoded public point, which it has just written into the key's PKCS#8
 * (src/spd/keyder.c), handed to sc_fast_spki_set so the point is not encoded a second time (on
 * P-256 an encoding is a field inversion, ~43 k instructions; issue 17). While set (this
 * thread, until sc_fast_spki_known_clear), sc_fast_spki_set of exactly the EVP_PKEY pub copies
 * point instead of asking pub for it; every other check (curve, encoding form) stays. The
 * caller guarantees that point is pub's own public key, uncompressed (a 0x04 first byte, at most
 * 133 bytes, else it is ignored), and clears it before pub can be freed. Nothing else uses it.
 */
void sc_fast_spki_known_set(const EVP_PKEY *pub, const uint8_t *point, size_t len);
void sc_fast_spki_known_clear(void);

/*
 * The SP's issuance (defined in cert.c beside sc_cert_issue_leaf): the same certificate, the
 * same checks and errors, but a P-256/P-384/Ed25519 leaf's SPKI is written by sc_fast_spki_set,
 * so X509_get0_pubkey(*out) is NULL for those keys: the caller holds leaf_key, and must not hand
 * *out to code that reads its key (parse its DER again for that). The subject is written into
 * the certificate's own name, and (issue 17) the TBS is encoded once: signed, and the
 * certificate's DER assembled from it (*der, *der_len: the caller's, OPENSSL_free; both NULL
 * or both given), where the plain path encodes it again in i2d_X509. With sc_fast_enabled() 0
 * it is sc_cert_issue_leaf and *der is i2d_X509(*out). *out is the caller's (X509_free).
 */
sc_err sc_fast_issue_leaf(const struct sc_profile *p, EVP_PKEY *leaf_key, X509 *csk_cert,
    EVP_PKEY *csk, uint64_t issuance_counter, X509 **out, uint8_t **der,
    size_t *der_len) SC_MUST_USE;

/*
 * A CSK's constant share of every leaf it signs (the issuer Name's DER, the
 * authorityKeyIdentifier's DER, the device ID and name-constraint form of the CSK certificate),
 * made once when the SP first issues under it (issue 17). It holds a reference to csk_cert and
 * csk (so sc_leaf_issuer_is_for's pointer comparison cannot be fooled by a freed and reused
 * object); checks that csk is csk_cert's key. SC_ERR_USAGE (missing, mismatched), SC_ERR_NOMEM,
 * SC_ERR_INTERNAL, or sc_cert_device_id's error (no serialNumber). *out: sc_leaf_issuer_free.
 */
struct sc_leaf_issuer;
sc_err sc_leaf_issuer_new(X509 *csk_cert, EVP_PKEY *csk, struct sc_leaf_issuer **out) SC_MUST_USE;
void sc_leaf_issuer_free(struct sc_leaf_issuer *li);
/* 1 if li was made for exactly these two objects. */
int sc_leaf_issuer_is_for(const struct sc_leaf_issuer *li, X509 *csk_cert, EVP_PKEY *csk);

/*
 * sc_fast_issue_leaf's certificate as DER only (no X509 out), under li's CSK: the same bytes,
 * checks and errors, but the tbsCertificate is assembled from li's cached parts and the
 * per-certificate encodings and signed once, with no X509 of the whole leaf built or encoded.
 * *ku: the leaf's key usage as X509_get_key_usage would read it from the DER. With
 * sc_fast_enabled() 0 it is i2d_X509 of sc_cert_issue_leaf's certificate. *der: OPENSSL_free.
 */
sc_err sc_fast_issue_leaf_der(const struct sc_profile *p, EVP_PKEY *leaf_key,
    const struct sc_leaf_issuer *li, uint64_t issuance_counter, uint8_t **der, size_t *der_len,
    unsigned *ku) SC_MUST_USE;

/*
 * judge12: the verifier's issuer, made from a device CA certificate alone (no key): the issuer
 * Name's DER, the authorityKeyIdentifier as add_aki writes it (the CA's subjectKeyIdentifier;
 * SC_ERR_USAGE without one), the device ID and name-constraint form. It cannot sign
 * (sc_fast_issue_leaf_der refuses it: SC_ERR_USAGE); it serves sc_fast_expected_tbs_der.
 */
sc_err sc_leaf_issuer_new_public(X509 *ca, struct sc_leaf_issuer **out) SC_MUST_USE;

/*
 * robust16: the longest device CA subjectKeyIdentifier a verifier-side leaf issuer takes (bytes
 * of its key ID; RFC 7093's SHA-512 method). sc_leaf_issuer_new_public and _new_der refuse an
 * empty or longer one with SC_ERR_MALFORMED "device CA subjectKeyIdentifier: …" (a miss: the
 * caller's full path decides); the SP's sc_leaf_issuer_new takes any, as sc_cert_issue_leaf does.
 */
#define SC_LEAF_ISSUER_SKID_MAX 64

/*
 * schema14: sc_leaf_issuer_new_public's issuer from the device CA's DER parts, with no X509:
 * subject its subject Name's TLV (the leaf's issuer, byte for byte: what i2d of a parsed
 * certificate's unmodified Name gives back), skid its subjectKeyIdentifier extension's value
 * (the OCTET STRING inside extnValue), nc its nameConstraints extension's value or NULL (no such
 * extension; the caller has checked it is critical). The device ID from the subject's one
 * serialNumber; the name-constraint form only when nc is byte for byte one of the two encodings
 * sc_cert_device_ca writes for that ID (V1 as a PrintableString, V2): anything else is
 * SC_ERR_USAGE (not covered: the caller takes the X509 path). SC_ERR_MALFORMED: a subject that
 * is not exactly one Name, a SKID that is not exactly one OCTET STRING, or one empty or over
 * SC_LEAF_ISSUER_SKID_MAX bytes (as the X509 issuers refuse it); the subject's
 * serialNumber errors as sc_cert_device_id's. Only for sc_fast_expected_tbs_der(_at).
 */
sc_err sc_leaf_issuer_new_der(const uint8_t *subject, size_t subject_len, const uint8_t *skid,
    size_t skid_len, const uint8_t *nc, size_t nc_len, struct sc_leaf_issuer **out) SC_MUST_USE;

/* What the builder put into an expected TBS, for the judge's checks of its form (leaf_ref.c). */
struct sc_leaf_tbs_shape {
	unsigned ku;     /* the keyUsage bits written (KU_*) */
	int san_n;       /* the subjectAltName's names; -1: no subjectAltName */
	int san_dirname; /* 1: a directoryName among them */
	int cn_dotted;   /* 1: the subject's commonName has a '.' */
	int form;        /* the issuer's name-constraint form (enum sc_device_ca_form); V1 only
	                  * when its value is a PrintableString or UTF8String, else NONE */
};

/*
 * The tbsCertificate sc_fast_issue_leaf_der would sign for this profile (its first certificate:
 * index 0), key and counter under li, with the given serial (the INTEGER's contents, 1..21
 * bytes) and signature AlgorithmIdentifier (its TLV) instead of a random serial and the signing
 * context's: the same assembly (leaf_tbs in cert.c), checks and errors, nothing signed. li may
 * be sc_leaf_issuer_new_public's. *tbs: OPENSSL_free. *shape: what the builder wrote.
 */
sc_err sc_fast_expected_tbs_der(const struct sc_profile *p, EVP_PKEY *leaf_pub,
    const struct sc_leaf_issuer *li, uint64_t issuance_counter, const uint8_t *serial,
    size_t serial_len, const uint8_t *aid, size_t aid_len, uint8_t **tbs, size_t *tbs_len,
    struct sc_leaf_tbs_shape *shape) SC_MUST_USE;

/*
 * renew13: the same for certificate `index` of a renewal profile (index 0: the function above):
 * the builder's validity for that period (sc_profile_leaf_validity), SC_ERR_RENEWAL_SPENT for an
 * index at or past the profile's count, as the SP's RENEW and sc_cert_expected_leaf_at.
 */
sc_err sc_fast_expected_tbs_der_at(const struct sc_profile *p, EVP_PKEY *leaf_pub,
    const struct sc_leaf_issuer *li, uint64_t issuance_counter, uint32_t index,
    const uint8_t *serial, size_t serial_len, const uint8_t *aid, size_t aid_len, uint8_t **tbs,
    size_t *tbs_len, struct sc_leaf_tbs_shape *shape) SC_MUST_USE;

#endif
