// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/sp.h — talking to the secure processor (selfcert-spd) over its Unix socket.
 *
 * The wire protocol is docs/PROTOCOL.md: each message is a 4-byte big-endian length followed by
 * that many bytes, [u8 version = 1][u8 type][body]; integers big-endian, strings as u32 length +
 * bytes; a body must be consumed exactly. An answer has type (request | 0x80), or SC_SP_ERROR
 * with [u32 code as int32][string detail]. Each client function below sends one request, waits
 * for the one answer, checks its type and decodes it strictly; an SP error comes back as its
 * sc_err with the SP's detail (sc_err_detail). Functions that own results say so.
 *
 * One connection is one client; it is not thread-safe (open one per thread).
 */
#ifndef SELFCERT_SP_H
#define SELFCERT_SP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>

#define SC_SP_PROTO_VERSION 1
#define SC_SP_MAX_MSG 65536 /* hard limit on one message (after the length prefix) */
#define SC_SP_CHALLENGE_LEN 32
#define SC_SP_MAX_KEYS_LIMIT 256 /* no SP holds more leaf keys than this */
#define SC_SP_DEFAULT_MAX_KEYS 64
#define SC_SP_MAX_ANCHORS 8
#define SC_SP_MAX_SIGN_INPUT 32768 /* largest message SIGN accepts */

enum sc_sp_msg {
	SC_SP_INFO = 0x01,
	SC_SP_KEYGEN = 0x02,         /* factory: generate the CSK or KEK inside */
	SC_SP_INSTALL_CERT = 0x03,   /* factory: the CSK's or KEK's certificate */
	SC_SP_INSTALL_ANCHOR = 0x04, /* factory: a network root, bound to its network ID */
	SC_SP_SET_LIMITS = 0x05,     /* factory: maximum leaf lifetime, number of key slots */
	SC_SP_LOCK = 0x06,           /* factory → locked, for good */
	SC_SP_CHALLENGE = 0x10,
	SC_SP_ISSUE = 0x11,
	SC_SP_KEYS = 0x12,
	SC_SP_SIGN = 0x13,
	SC_SP_DELETE = 0x14,
	SC_SP_DECRYPT = 0x15, /* leaf key: RSA-OAEP decryption (keyEncipherment/dataEncipherment) */
	SC_SP_DERIVE = 0x16,  /* leaf key: ECDH with a peer's point (keyAgreement) */
	SC_SP_PROOF = 0x17,   /* CSK: a request proof for the provisioning server (0x17 is new in
	                         protocol revision 1.1; an older SP answers unknown-request) */
	SC_SP_BACKEND = 0x18, /* where the keys live: soft, or a TPM and what it is (new in 1.2) */
	/* Operator-gated issuance on a TPM SP (revision 1.4, issue #12, docs/PROTOCOL.md): */
	SC_SP_GATE_CHALLENGE = 0x1A, /* a policy session's nonce, the counter, CSK Name, leaf key */
	SC_SP_GATE_ISSUE = 0x1B, /* ISSUE with the operator's authorization beside the profile */
	SC_SP_CRL = 0x19,   /* CSK: the device CA's own (empty) CRL (new in 1.3; selfcert/crl.h) */
	SC_SP_RENEW = 0x1C, /* the next certificate of a renewal profile (#17, new in 1.5); the
	                         body and answer are ISSUE's */
	SC_SP_BATCH_ISSUE = 0x1D, /* ISSUE for a BatchedProfile (#17, 1.5; selfcert/batch.h) */
	SC_SP_ERROR = 0x7f,
	SC_SP_ANSWER = 0x80, /* OR-ed into the request type */
};

enum sc_sp_state {
	SC_SP_STATE_EMPTY = 0,   /* initialised with a device ID; no keys */
	SC_SP_STATE_FACTORY = 1, /* keys generated; certificates and anchors being installed */
	SC_SP_STATE_LOCKED = 2,  /* serving the network; factory requests refused forever */
};

enum sc_sp_role {
	SC_SP_ROLE_CSK = 1,
	SC_SP_ROLE_KEK = 2,
};

enum sc_sp_sign_mode {
	SC_SP_SIGN_MESSAGE =
	    1, /* input is the message; the SP hashes it (or signs it pure, Ed25519) */
	SC_SP_SIGN_DIGEST = 2, /* input is the digest (length of `digest`); not for Ed25519 */
	SC_SP_SIGN_PSS = 3,    /* input is the digest; RSA-PSS, MGF1 with the same digest, a salt
	                             length of its own (sc_sp_sign_pss); RSA only */
};

/* "empty", "factory", "locked"; "unknown" otherwise. */
const char *sc_sp_state_name(int state);

struct sc_sp; /* one connection */

/* Connect to the SP's socket. SC_ERR_IO (detail: path and errno) if it cannot. */
sc_err sc_sp_connect(const char *socket_path, struct sc_sp **out) SC_MUST_USE;
void sc_sp_close(struct sc_sp *sp);

struct sc_sp_info {
	enum sc_sp_state state;
	char device_id[65];
	uint64_t issuance_counter;
	uint32_t n_keys, max_keys;
	uint32_t max_leaf_days; /* 0: no limit beyond the CSK certificate */
	X509 *csk_cert;         /* NULL until installed; owned, freed by sc_sp_info_clear */
	X509 *kek_cert;         /* likewise */
	size_t n_networks;
	char networks[SC_SP_MAX_ANCHORS][65];
};
sc_err sc_sp_info(struct sc_sp *sp, struct sc_sp_info *out) SC_MUST_USE;
void sc_sp_info_clear(struct sc_sp_info *info);

#define SC_SP_BACKEND_NAME_MAX 16 /* "soft", "tpm" */
#define SC_SP_BACKEND_TEXT_MAX 64 /* each TPM field */
/*
 * The SP's key backend (docs/PROTOCOL.md 0x18), in any state: its name and, for a TPM, the
 * chip's manufacturer (its 4-character vendor ID, e.g. "IBM", "INTC"), vendor string and
 * firmware version ("8217.4131.22.13104") as the store recorded them at `sp init`; empty when
 * not recorded (or not a TPM). All printable ASCII (the decoder refuses anything else:
 * SC_ERR_PEER). An SP older than protocol revision 1.2 answers SC_ERR_UNKNOWN_REQUEST.
 */
struct sc_sp_backend {
	char name[SC_SP_BACKEND_NAME_MAX + 1];
	char manufacturer[SC_SP_BACKEND_TEXT_MAX + 1];
	char vendor[SC_SP_BACKEND_TEXT_MAX + 1];
	char firmware[SC_SP_BACKEND_TEXT_MAX + 1];
};
sc_err sc_sp_backend(struct sc_sp *sp, struct sc_sp_backend *out) SC_MUST_USE;
/* "Intel" for "INTC" and so on (TCG's vendor ID registry, the common ones); NULL if unknown. */
const char *sc_sp_tpm_vendor_name(const char *id);

/*
 * Factory: the SP generates the role's key pair inside and answers with a PKCS#10 request
 * signed by the new key (proof of possession; subject empty). *csr is the caller's.
 * A KEK must be RSA or EC.
 */
sc_err sc_sp_keygen(struct sc_sp *sp, enum sc_sp_role role, enum sc_alg alg,
    X509_REQ **csr) SC_MUST_USE;

/* Factory: install the certificate for the role's key; its public key must be that key. */
sc_err sc_sp_install_cert(struct sc_sp *sp, enum sc_sp_role role, X509 *cert) SC_MUST_USE;

/* Factory: install a network anchor bound to network_id (one anchor per network ID). */
sc_err sc_sp_install_anchor(struct sc_sp *sp, const char *network_id, X509 *root) SC_MUST_USE;

/* Factory: maximum leaf lifetime in days (0: none) and number of key slots (1..256). */
sc_err sc_sp_set_limits(struct sc_sp *sp, uint32_t max_leaf_days, uint32_t max_keys) SC_MUST_USE;

/* Factory: lock for good. Needs the CSK and KEK certificates and at least one anchor. */
sc_err sc_sp_lock(struct sc_sp *sp) SC_MUST_USE;

/* A fresh single-use challenge (SC_SP_CHALLENGE_LEN bytes). */
sc_err sc_sp_challenge(struct sc_sp *sp, uint8_t out[SC_SP_CHALLENGE_LEN]) SC_MUST_USE;

/*
 * A request proof (docs/PROTOCOL.md 0x17): the SP signs, with its CSK, the proof context
 * SC_PROOF_CONTEXT, the challenge (which must be outstanding: SC_ERR_CHALLENGE; one proof per
 * challenge), its own device ID, network_id (one of its anchors: SC_ERR_NETWORK), the host's
 * SHA-256 request_digest (SC_PROOF_DIGEST_LEN) and the SP's clock, *time. The signed bytes are
 * selfcert/proof.h's sc_proof_tbs. *sig is the caller's (OPENSSL_free). An SP older than protocol
 * revision 1.1 answers SC_ERR_UNKNOWN_REQUEST: the host then asks without a proof.
 */
sc_err sc_sp_proof(struct sc_sp *sp, const uint8_t challenge[SC_SP_CHALLENGE_LEN],
    const char *network_id, const uint8_t request_digest[32], uint64_t *time, uint8_t **sig,
    size_t *sig_len) SC_MUST_USE;

/*
 * The device CA's CRL (docs/PROTOCOL.md 0x19, revision 1.3): the SP signs with its CSK an empty
 * CRL valid for lifetime seconds (SC_CRL_MIN_LIFETIME..SC_CRL_MAX_LIFETIME, else the SP's
 * SC_ERR_VALIDITY), its number and times from the SP. *der (DER, at most SC_CRL_MAX_DER bytes)
 * is the caller's (OPENSSL_free); the caller checks it against the CSK certificate
 * (sc_crl_device_decode). An SP older than revision 1.3 answers SC_ERR_UNKNOWN_REQUEST.
 */
sc_err sc_sp_crl(struct sc_sp *sp, uint32_t lifetime, uint8_t **der, size_t *der_len) SC_MUST_USE;

/*
 * Issue: the SP verifies the DER profile, generates or unwraps the key, issues and commits.
 * *handle is the new key's handle; *cert the certificate (the caller's).
 */
sc_err sc_sp_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len, uint32_t *handle,
    X509 **cert) SC_MUST_USE;

struct sc_gate_challenge;
/*
 * Operator-gated issuance (revision 1.4; selfcert/gate.h). GATE_CHALLENGE: the SP opens its one
 * outstanding gated challenge (a TPM policy session; an older one dies) and, for alg != NONE,
 * makes the pending leaf key of alg with the uses ku (KU_* bits) that the next GATE_ISSUE of a
 * device-generated profile takes; out->leaf_pub is then the caller's (EVP_PKEY_free), else NULL.
 * SC_ERR_GATE on an SP that is not gated; SC_ERR_UNKNOWN_REQUEST before revision 1.4.
 * GATE_ISSUE: ISSUE's checks and answer, with the operator's authorization (1..SC_GATE_AUTH_MAX
 * bytes, sc_gate_authorize) checked by the TPM itself.
 */
sc_err sc_sp_gate_challenge(struct sc_sp *sp, enum sc_alg alg, uint32_t ku,
    struct sc_gate_challenge *out) SC_MUST_USE;
sc_err sc_sp_gate_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    const uint8_t *auth, size_t auth_len, uint32_t *handle, X509 **cert) SC_MUST_USE;
/*
 * Issue, for a caller that does not need an X509 (issue 17): as sc_sp_issue, but *cert_der is
 * the certificate's DER as the SP sent it (the caller's: OPENSSL_free), checked only to be one
 * DER SEQUENCE of exactly *cert_len <= SC_WIRE_MAX_CERT bytes (SC_ERR_PEER otherwise; the key
 * was issued then, and sc_sp_keys shows it). It skips OpenSSL 3.0's certificate decode, which
 * costs more than the SP's ISSUE itself.
 */
sc_err sc_sp_issue_der(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, uint8_t **cert_der, size_t *cert_len) SC_MUST_USE;
/*
 * Renew (#17, revision 1.5): ISSUE for a renewal profile (TBSProfile [6]). The SP issues the
 * profile's next certificate if its cadence allows (SC_ERR_RENEWAL_EARLY) and its count is not
 * spent (SC_ERR_RENEWAL_SPENT), counting in its sealed store. An SP before 1.5 answers
 * SC_ERR_UNKNOWN_REQUEST, which is how a host learns it must ask for ordinary profiles.
 */
sc_err sc_sp_renew(struct sc_sp *sp, const uint8_t *profile, size_t profile_len, uint32_t *handle,
    X509 **cert) SC_MUST_USE;
/*
 * Batch issue (#17, revision 1.5): ISSUE for a BatchedProfile (selfcert/batch.h). The SP checks
 * the inclusion path (SC_ERR_BATCH_PATH) and the root's one signature, then everything ISSUE
 * checks (a spent batch leaf: SC_ERR_REPLAY). An SP before 1.5 answers SC_ERR_UNKNOWN_REQUEST.
 */
sc_err sc_sp_batch_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, X509 **cert) SC_MUST_USE;
/* sc_sp_renew and sc_sp_batch_issue with the DER only, as sc_sp_issue_der (issue 17). */
sc_err sc_sp_renew_der(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, uint8_t **cert_der, size_t *cert_len) SC_MUST_USE;
sc_err sc_sp_batch_issue_der(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, uint8_t **cert_der, size_t *cert_len) SC_MUST_USE;

struct sc_sp_key {
	uint32_t handle;
	enum sc_alg alg;
	X509 *cert;
};
/* All leaf keys, in handle order. *keys is the caller's: sc_sp_keys_free(keys, n). */
sc_err sc_sp_keys(struct sc_sp *sp, struct sc_sp_key **keys, size_t *n) SC_MUST_USE;
void sc_sp_keys_free(struct sc_sp_key *keys, size_t n);

/*
 * Sign with a leaf key. MESSAGE: input is the message (<= SC_SP_MAX_SIGN_INPUT), hashed with
 * `digest` (ignored for Ed25519). DIGEST: input is a digest of `digest`'s length (RSA, ECDSA).
 * The signature is what `openssl dgst -<digest> -sign` writes: DER ECDSA-Sig-Value, PKCS#1 v1.5
 * for RSA, 64 raw bytes for Ed25519. *sig is the caller's (OPENSSL_free).
 * SC_ERR_KEY_USAGE if the key's certificate lacks digitalSignature/nonRepudiation.
 */
sc_err sc_sp_sign(struct sc_sp *sp, uint32_t handle, enum sc_sp_sign_mode mode,
    enum sc_digest digest, const uint8_t *input, size_t input_len, uint8_t **sig,
    size_t *sig_len) SC_MUST_USE;

/* Delete a leaf key and its certificate, durably. */
sc_err sc_sp_delete(struct sc_sp *sp, uint32_t handle) SC_MUST_USE;

/*
 * Low level, for tests and fuzzers: send one raw message body (version, type and body bytes
 * as given, the length prefix added) and receive one raw answer. *answer is the caller's.
 */
sc_err sc_sp_raw(struct sc_sp *sp, const uint8_t *msg, size_t msg_len, uint8_t **answer,
    size_t *answer_len) SC_MUST_USE;

/*
 * Leaf-key use beyond SIGN (docs/PROTOCOL.md 0x13 mode 3, 0x15, 0x16), for the PKCS#11 module.
 * Each is refused unless the key's certificate allows it (SC_ERR_KEY_USAGE), and only ever for
 * leaf keys: the CSK and KEK are out of reach.
 */
#define SC_SP_OAEP_SHA1 4        /* DECRYPT's hash codes: SC_DIGEST_SHA256..512, or this */
#define SC_SP_MAX_OAEP_LABEL 256 /* largest OAEP label DECRYPT accepts */
#define SC_SP_MAX_CIPHERTEXT 512 /* an RSA-4096 block */
#define SC_SP_MAX_EC_POINT 97    /* an uncompressed P-384 point */

enum sc_sp_decrypt_scheme {
	SC_SP_DECRYPT_OAEP = 1, /* RSAES-OAEP (RFC 8017 7.1) */
};

/*
 * RSA-PSS over a digest the host computed: `digest` (SC_DIGEST_SHA256..512; NONE means SHA-256)
 * names the hash of input and of MGF1; salt_len bytes of salt (at most the modulus size minus
 * the digest size minus 2). *sig (the modulus size) is the caller's (OPENSSL_free).
 * SC_ERR_ALGORITHM for a key that is not RSA, SC_ERR_KEY_USAGE as sc_sp_sign, SC_ERR_USAGE for
 * an input of the wrong size or a salt too long.
 */
sc_err sc_sp_sign_pss(struct sc_sp *sp, uint32_t handle, enum sc_digest digest,
    const uint8_t *input, size_t input_len, uint32_t salt_len, uint8_t **sig,
    size_t *sig_len) SC_MUST_USE;

/*
 * RSA-OAEP decryption with a leaf key. oaep_md and mgf1_md: SC_DIGEST_SHA256..512 or
 * SC_SP_OAEP_SHA1; label may be NULL when label_len is 0 (at most SC_SP_MAX_OAEP_LABEL bytes);
 * in is exactly one block (the modulus size). *out is the caller's: a secret, free it with
 * OPENSSL_clear_free(*out, *out_len). SC_ERR_ALGORITHM (not RSA, unknown hash),
 * SC_ERR_KEY_USAGE (neither keyEncipherment nor dataEncipherment), SC_ERR_USAGE (block size),
 * SC_ERR_KEY_DECRYPT (the block does not decrypt: one code for every padding failure).
 */
sc_err sc_sp_decrypt_oaep(struct sc_sp *sp, uint32_t handle, int oaep_md, int mgf1_md,
    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t **out,
    size_t *out_len) SC_MUST_USE;

/*
 * ECDH with a leaf key (P-256, P-384) and a peer's uncompressed point (0x04 | X | Y, 65 or 97
 * bytes, on the key's curve). *secret is the shared x-coordinate (32 or 48 bytes), a secret:
 * OPENSSL_clear_free(*secret, *secret_len). SC_ERR_ALGORITHM (not EC), SC_ERR_KEY_USAGE (no
 * keyAgreement), SC_ERR_MALFORMED (the point is not an uncompressed point of the curve).
 */
sc_err sc_sp_derive_ecdh(struct sc_sp *sp, uint32_t handle, const uint8_t *point, size_t point_len,
    uint8_t **secret, size_t *secret_len) SC_MUST_USE;

#endif
