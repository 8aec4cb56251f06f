// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/profile.h — the operator's signed request (SignedProfile, docs/FORMATS.md).
 *
 * A network's provisioning server builds a profile (sc_profile_create), signs it with its
 * profile-signer key (sc_profile_sign) and sends the DER (sc_profile_encode). The device's SP
 * decodes it strictly (sc_profile_decode), checks it against its own state (sc_profile_check),
 * and for the server-generated embodiment decrypts the supplied key (sc_profile_unwrap_key).
 *
 * Not checked here, because only the SP knows them: the replay cache and the challenge.
 */
#ifndef SELFCERT_PROFILE_H
#define SELFCERT_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/oid.h> /* the OIDs, SC_DEVICE_ID_MAX, KeyUsage names */

#define SC_PROFILE_MAX_DER 16384 /* a DER SignedProfile larger than this is refused */
#define SC_PROFILE_ID_LEN 16
#define SC_PROFILE_DIGEST_LEN 32 /* SHA-256 of the DER SignedProfile */
#define SC_NETWORK_ID_MAX 64
#define SC_USER_ID_MAX 128
#define SC_CHALLENGE_MIN 16
#define SC_CHALLENGE_MAX 64
#define SC_PROFILE_MAX_CERTS 4 /* certificates SEQUENCE SIZE (1..4) */
#define SC_PROFILE_MAX_SAN 16  /* subjectAltName entries we accept */
#define SC_PROFILE_MAX_EKU 8   /* extKeyUsage OIDs we accept */
/* Renewal profiles (#17, TBSProfile [6]): K certificates at a fixed cadence from one profile. */
#define SC_RENEWAL_COUNT_MIN 2          /* one certificate is an ordinary profile */
#define SC_RENEWAL_COUNT_MAX 1024       /* bounds the SP's loop and the window */
#define SC_RENEWAL_CADENCE_MIN 1        /* seconds; the count K, not the cadence, bounds the SP */
#define SC_RENEWAL_CADENCE_MAX 31622400 /* 366 days */
#define SC_BATCH_MAX_SIZE 65536 /* leaves of one batch (#17, selfcert/batch.h): a path of <= 16 */

enum sc_key_origin {
	SC_KEY_DEVICE_GENERATED = 0,
	SC_KEY_SERVER_SUPPLIED = 1,
};

struct sc_profile; /* opaque: a built, signed or decoded profile */

/*
 * What the operator asks for. Strings are NUL-terminated UTF-8 and are copied.
 * device_id is restricted to PrintableString characters (it becomes the X.520 serialNumber
 * attribute): A-Z a-z 0-9 space ' ( ) + , - . / : = ?
 */
struct sc_profile_params {
	const char *network_id;   /* 1..64 bytes */
	const char *device_id;    /* 1..64 bytes, PrintableString charset */
	const char *user_id;      /* NULL: absent; else 1..128 bytes */
	const uint8_t *challenge; /* NULL: absent; else 16..64 bytes */
	size_t challenge_len;
	time_t profile_not_after;     /* the profile is void after this */
	time_t not_before, not_after; /* copied into the certificate */
	enum sc_alg generate_alg;     /* KeySpec.generate, when supplied_key is NULL */
	EVP_PKEY *supplied_key;       /* KeySpec.supplied: the whole key pair the server made.
	                                      Borrowed; its private half is encrypted to kek_cert
	                                      (CMS AuthEnvelopedData, AES-256-GCM) and not kept. */
	X509 *kek_cert;               /* the device's key-exchange certificate; with supplied_key */
	enum sc_digest cert_digest;   /* SC_DIGEST_NONE means sha256 */
	unsigned key_usage;           /* 0: absent (device uses digitalSignature); else KU_* bits
	                                      of <openssl/x509v3.h> */
	const char *const *eku;       /* NULL or NULL-terminated list of OIDs in dotted form or
	                                      OpenSSL short names ("clientAuth"); NULL/empty: absent */
	const char *const *san;       /* NULL or NULL-terminated "dns:NAME", "email:ADDR",
	                                      "uri:URI", "ip:ADDR"; NULL/empty: absent */
	/*
	 * A renewal profile (#17): 0 = an ordinary profile. Else certificate i (0..count-1) has
	 * validity [not_before + i*cadence, not_after + i*cadence]; count 2..1024, cadence
	 * 1..31622400 s, no challenge. Only for devices of SP revision 1.5 or later.
	 */
	uint32_t renewal_count;
	uint32_t renewal_cadence;
};

/*
 * Build an unsigned profile with a fresh random profile ID. Checks every field's size and
 * charset (SC_ERR_USAGE naming the field). *out is the caller's (sc_profile_free).
 */
sc_err sc_profile_create(const struct sc_profile_params *params,
    struct sc_profile **out) SC_MUST_USE;

/*
 * Sign: fills signatureAlgorithm, signature and certificates = signer_cert followed by
 * intermediates (may be NULL; at most 3). RSA signers use PKCS#1 v1.5 with SHA-256 unless
 * rsa_pss is set (RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32); ECDSA uses SHA-256 (P-256) or
 * SHA-384 (P-384); Ed25519 is pure. signer_key must match signer_cert. Nothing is borrowed
 * past the call. Signing twice replaces the previous signature.
 */
sc_err sc_profile_sign(struct sc_profile *p, EVP_PKEY *signer_key, X509 *signer_cert,
    STACK_OF(X509) *intermediates, int rsa_pss) SC_MUST_USE;

/* DER of the SignedProfile. *der is the caller's (OPENSSL_free). SC_ERR_USAGE if unsigned. */
sc_err sc_profile_encode(const struct sc_profile *p, uint8_t **der, size_t *der_len) SC_MUST_USE;

/*
 * Strict decode: DER only (the input must re-encode to the same bytes), no trailing bytes,
 * len <= SC_PROFILE_MAX_DER, every SIZE of the module, contentType == id-sc-ct-profile
 * (SC_ERR_CONTENT_TYPE), version == 1 (SC_ERR_VERSION), KeyAlgorithm/CertDigest values known
 * (SC_ERR_ALGORITHM), SAN entries of the four allowed types (SC_ERR_EXTENSION).
 * Other failures: SC_ERR_OVERSIZE, SC_ERR_TRAILING, SC_ERR_MALFORMED (detail names the field).
 * Signature and meaning are not checked here. *out is the caller's.
 */
sc_err sc_profile_decode(const uint8_t *der, size_t der_len, struct sc_profile **out) SC_MUST_USE;

void sc_profile_free(struct sc_profile *p);

/* The SP's verified-signer cache: <selfcert/cache.h>. */
struct sc_signer_cache;

/* A network trust anchor, bound to the one network ID it may sign profiles for. */
struct sc_anchor {
	const char *network_id;
	X509 *cert; /* borrowed */
};

/* The SP's view, against which sc_profile_check judges a decoded profile. */
struct sc_profile_policy {
	const char *device_id;           /* this device's ID */
	const struct sc_anchor *anchors; /* installed network anchors */
	size_t n_anchors;
	time_t now;                /* host clock: defence in depth only */
	X509 *csk_cert;            /* the device CA certificate: leaf validity must lie within */
	uint32_t max_leaf_seconds; /* 0: no limit beyond the CSK certificate's */
	enum sc_alg csk_alg;       /* to reject a cert digest an Ed25519 CSK cannot honour: none */
	struct sc_signer_cache
	    *signer_cache; /* NULL, or remember verified signer chains (cache.h) */
	/*
	 * Issue 17: csk_form_known 1 says csk_form is what sc_cert_device_ca_form_of(csk_cert,
	 * device_id) returns (an enum sc_device_ca_form, cert.h), so the subjectAltName check
	 * does not decode the CSK certificate's name constraints again; the SP keeps it per CSK
	 * certificate. 0 (as a zeroed policy has it): the check computes it.
	 */
	int csk_form_known;
	int csk_form;
};

/*
 * Every stateless check of docs/DESIGN §4 after decoding, in this order, each failing with its
 * own code and changing nothing:
 *   network ID bound to an anchor          SC_ERR_NETWORK
 *   signer chains to that anchor (certificates in the profile as intermediates, at
 *   policy->now), signer is not a CA      SC_ERR_UNTRUSTED_SIGNER
 *   signer EKU id-sc-kp-profileSigning    SC_ERR_SIGNER_EKU
 *   signature over the DER tbsProfile     SC_ERR_PROFILE_SIGNATURE
 *   deviceId == policy->device_id         SC_ERR_DEVICE_MISMATCH
 *   profileNotAfter >= now                SC_ERR_PROFILE_EXPIRED
 *   validity: notBefore < notAfter, notAfter > now, inside the CSK certificate's validity,
 *   at most max_leaf_seconds long         SC_ERR_VALIDITY
 *   key algorithm allowed (RSA >= 2048; a supplied public key one of the six)  SC_ERR_ALGORITHM
 *   keyUsage within {digitalSignature, nonRepudiation, keyEncipherment (RSA), dataEncipherment
 *   (RSA), keyAgreement (EC)}, never keyCertSign/cRLSign; EKU and SAN bounded  SC_ERR_EXTENSION
 * The detail names the field.
 */
sc_err sc_profile_check(const struct sc_profile *p,
    const struct sc_profile_policy *policy) SC_MUST_USE;

/*
 * The signature part of sc_profile_check alone, against one anchor: the signer chains to
 * anchor at `now` (the profile's other certificates as intermediates), is not a CA, has EKU
 * id-sc-kp-profileSigning, and its key verifies the signature over the DER tbsProfile.
 * SC_ERR_UNTRUSTED_SIGNER, SC_ERR_SIGNER_EKU or SC_ERR_PROFILE_SIGNATURE. For relying parties.
 */
sc_err sc_profile_verify_signature(const struct sc_profile *p, X509 *anchor,
    time_t now) SC_MUST_USE;

/*
 * Prove a signer setup before relying on it: create a throw-away profile for network_id and
 * probe_device_id (a zero challenge, valid 60 s, generate P-256), sign it with signer_key and
 * signer, and check it with sc_profile_verify_signature against anchor now. Returns the first
 * failure's code with its detail (callers add where it happened); nothing is kept. With keys in
 * a token this is where a key that does not sign (wrong object, a public key) shows.
 */
sc_err sc_profile_prove_signer(const char *network_id, const char *probe_device_id,
    EVP_PKEY *signer_key, X509 *signer, X509 *anchor) SC_MUST_USE;

/*
 * The server-generated embodiment: decrypt KeySpec.supplied.encryptedKey with the KEK (CMS
 * AuthEnvelopedData AES-256-GCM or EnvelopedData AES-256-CBC; RSA recipients must use
 * RSAES-OAEP, EC recipients ECDH), parse the PKCS#8 key and require that its public half equals
 * publicKey. SC_ERR_KEY_DECRYPT if it does not decrypt (or is not for this KEK),
 * SC_ERR_KEY_MISMATCH if the key differs, SC_ERR_ALGORITHM if it is not one of the six,
 * SC_ERR_USAGE if the profile asks the device to generate. The plaintext is wiped. *out is the
 * caller's.
 */
sc_err sc_profile_unwrap_key(const struct sc_profile *p, EVP_PKEY *kek_key, X509 *kek_cert,
    EVP_PKEY **out) SC_MUST_USE;

/*
 * A read-only view of a profile's fields, for the SP, `inspect` and `verify`.
 * Pointers borrow from p and live as long as it does.
 */
struct sc_profile_info {
	uint8_t id[SC_PROFILE_ID_LEN];
	char network_id[SC_NETWORK_ID_MAX + 1];
	char device_id[SC_DEVICE_ID_MAX + 1];
	char user_id[SC_USER_ID_MAX + 1]; /* "" when absent */
	int has_user_id;
	uint8_t challenge[SC_CHALLENGE_MAX];
	size_t challenge_len; /* 0 when absent */
	time_t profile_not_after;
	time_t not_before, not_after;
	enum sc_key_origin origin;
	enum sc_alg alg; /* generate: the requested one; supplied: of publicKey
	                                       (SC_ALG_NONE if not one of ours) */
	enum sc_digest cert_digest;
	unsigned key_usage; /* KU_* bits; KU_DIGITAL_SIGNATURE when absent */
	int has_key_usage;
	const EXTENDED_KEY_USAGE *eku;         /* NULL when absent */
	const GENERAL_NAMES *san;              /* NULL when absent */
	const EVP_PKEY *supplied_pub;          /* NULL unless origin == SC_KEY_SERVER_SUPPLIED */
	X509 *signer;                          /* certificates[0]; NULL if unsigned */
	STACK_OF(X509) *certs;                 /* all certificates; NULL if unsigned */
	int signed_;                           /* 1 if signed or decoded */
	uint8_t digest[SC_PROFILE_DIGEST_LEN]; /* SHA-256 of the DER SignedProfile, if signed_ */
	const char *sig_alg;                   /* signatureAlgorithm's short name, if signed_ */
	uint32_t renewal_count;                /* [6]: 0 when absent (one certificate) */
	uint32_t renewal_cadence;              /* seconds, when renewal_count > 0 */
	uint32_t renewal_index; /* which certificate the leaf builder makes (set_renewal_index) */
	int has_batch;          /* [7]: a leaf of a batch (selfcert/batch.h, #17) */
	uint32_t batch_index;   /* its index in the batch */
};

void sc_profile_get_info(const struct sc_profile *p, struct sc_profile_info *out);

/*
 * Renewal profiles (#17). set_renewal_index: the certificate the leaf builders
 * (sc_cert_issue_leaf, sc_cert_expected_leaf) make next from p; SC_ERR_RENEWAL_SPENT when
 * index >= renewal_count, SC_ERR_USAGE for index > 0 on an ordinary profile. leaf_validity:
 * certificate `index`'s validity, i.e. the profile's shifted by index*cadence. leaf_index, its
 * inverse: 1 with *index the certificate whose notBefore is not_before (0 for an ordinary
 * profile, whatever the time), 0 when not_before starts none of the profile's periods.
 * window_end: the last certificate's notAfter (the profile's notAfter for an ordinary one).
 */
sc_err sc_profile_set_renewal_index(struct sc_profile *p, uint32_t index) SC_MUST_USE;
void sc_profile_leaf_validity(const struct sc_profile_info *in, uint32_t index, time_t *not_before,
    time_t *not_after);
int sc_profile_leaf_index(const struct sc_profile_info *in, time_t not_before, uint32_t *index);
time_t sc_profile_window_end(const struct sc_profile_info *in);

/*
 * late15: the instant a certificate of in, valid from not_before to not_after (its own
 * validity, [not_before, not_after) as path validation reads it), is judged at when it is
 * registered at now. A renewal profile's certificate: now clamped into its own validity (its
 * notBefore when it comes early, its last second when it comes late: the SP made it inside its
 * window, so registering it late judges it as it was while valid); an ordinary profile's: now.
 * The caller still binds not_before and not_after to the profile's schedule.
 */
time_t sc_profile_leaf_judged_at(const struct sc_profile_info *in, time_t not_before,
    time_t not_after, time_t now);

/*
 * The SP's renewal rule (#17), given `next` (how many certificates of this profile it has
 * issued) and the clock: the index to issue is max(next, the period now falls in), and may be
 * at most one cadence ahead of now. SC_ERR_RENEWAL_SPENT (index >= count), SC_ERR_RENEWAL_EARLY
 * (detail names the earliest time). Pure: the SP persists `next`.
 */
sc_err sc_profile_renewal_next(const struct sc_profile_info *in, uint32_t next, time_t now,
    uint32_t *index) SC_MUST_USE;

#endif
