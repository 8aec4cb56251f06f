// SPDX-License-Identifier: Apache-2.0
/*
 * sp_msg.h — the SP protocol's messages (docs/PROTOCOL.md section 4), each written once: for
 * every request and answer one encoder (_put) and one decoder (_get), used by the host
 * (sp_client.c), selfcert-spd, the fuzz corpus and the test tools alike (internal).
 *
 * Conventions, for every function below:
 * - A body is what follows [u8 version][u8 type]; sp_hdr_put and the two header readers deal
 *   with those two bytes, the rest with bodies only.
 * - Encoders never fail: they append to a writer whose failure is sticky (buf.h), and the caller
 *   checks once with sc_buf_done (SC_ERR_OVERSIZE past the writer's cap). They write what they
 *   are given: a field over its protocol limit is the decoder's to refuse, so the senders check
 *   their own inputs first, with their own words (and tests can still craft oversize fields).
 * - Decoders read a reader positioned at the start of the body and consume it exactly; every
 *   string is bounded by the limit the protocol gives it. Byte strings they return point into
 *   the reader's bytes (valid while those are). Outputs are meaningful only on SC_OK.
 * - Request decoders are the SP's: SC_ERR_MALFORMED ("<request>: truncated or field out of
 *   range") or SC_ERR_TRAILING ("<request>: N trailing bytes"). Answer decoders are the host's:
 *   a bad answer is the SP breaking protocol, so SC_ERR_PEER ("<request> answer: …").
 * - Codes (role, algorithm, mode, digest, scheme, hash) travel as the wire's u8: which values
 *   mean something is the handler's check, each with its own error code (section 4).
 * - Certificates are DER byte strings here, so a firmware SP can link this file and buf.c
 *   and err.c without any X.509 code.
 */
#ifndef SC_SP_MSG_H
#define SC_SP_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/sp.h>
#include "buf.h"

#define SC_WIRE_MAX_DETAIL 255    /* an error answer's detail, like sc_fail's */
#define SC_WIRE_MAX_CERT 16384    /* any certificate carried in a message */
#define SP_MSG_ID_MAX 64          /* a device or network ID: 1..64 bytes of text */
#define SP_MSG_MAX_SIGNATURE 1024 /* a MESSAGE or DIGEST signature (PSS: SC_SP_MAX_CIPHERTEXT) */
#define SP_MSG_MAX_SECRET ((SC_SP_MAX_EC_POINT - 1) / 2) /* DERIVE: one coordinate */

/* "info", "keygen", … "error" for a request (or answer) type; "unknown" otherwise. */
const char *sp_msg_name(int type);

/* ---- header: [u8 version][u8 type] ---- */

void sp_hdr_put(struct sc_buf *b, uint8_t type);
/*
 * The SP reading a request: *type on SC_OK. SC_ERR_MALFORMED if the message is shorter than
 * two bytes or not version SC_SP_PROTO_VERSION. Whether the type exists is the dispatcher's.
 */
sc_err sp_req_hdr_get(struct sc_buf *b, uint8_t *type) SC_MUST_USE;
/*
 * The host reading the answer to a req_type request: SC_OK when it is that request's answer
 * (b then reads its body). An error answer returns the SP's own code with its detail (control
 * characters replaced by '?', for the terminal). SC_ERR_PEER for another version or type, a
 * malformed error answer, or one whose code is not a known error.
 */
sc_err sp_ans_hdr_get(struct sc_buf *b, uint8_t req_type) SC_MUST_USE;

/* ---- ERROR 0x7f: [i32 code][text detail (0..SC_WIRE_MAX_DETAIL)] ---- */

/* code must be an error: any code >= 0 is sent as SC_ERR_INTERNAL. detail may be NULL (empty);
 * it is cut at SC_WIRE_MAX_DETAIL bytes. */
void sp_error_ans_put(struct sc_buf *b, sc_err code, const char *detail);
/* detail gets 0..SC_WIRE_MAX_DETAIL bytes and a NUL. Structure only: the code is not judged. */
sc_err sp_error_ans_get(struct sc_buf *b, int32_t *code,
    char detail[SC_WIRE_MAX_DETAIL + 1]) SC_MUST_USE;

/* ---- INFO 0x01: request empty ---- */

/*
 * Answer: [u8 state][text device_id][u64 issuance_counter][u32 n_keys][u32 max_keys]
 * [u32 max_leaf_days][cert csk][cert kek][u32 n_networks (<= 8)][text network_id x n].
 * The certificates are optional: NULL and 0 when absent.
 */
struct sp_info {
	uint8_t state;
	char device_id[SP_MSG_ID_MAX + 1];
	uint64_t issuance_counter;
	uint32_t n_keys, max_keys, max_leaf_days;
	const uint8_t *csk_cert, *kek_cert;
	size_t csk_cert_len, kek_cert_len;
	uint32_t n_networks;
	char networks[SC_SP_MAX_ANCHORS][SP_MSG_ID_MAX + 1];
};
void sp_info_req_put(struct sc_buf *b);
sc_err sp_info_req_get(struct sc_buf *b) SC_MUST_USE;
/* More than SC_SP_MAX_ANCHORS networks fails the writer (a caller's bug, never sent). */
void sp_info_ans_put(struct sc_buf *b, const struct sp_info *info);
/* Also SC_ERR_PEER for more than SC_SP_MAX_ANCHORS networks or an unknown state. */
sc_err sp_info_ans_get(struct sc_buf *b, struct sp_info *info) SC_MUST_USE;

/* ---- KEYGEN 0x02: [u8 role][u8 alg] -> [string csr (<= SC_WIRE_MAX_CERT)] ---- */

void sp_keygen_req_put(struct sc_buf *b, uint8_t role, uint8_t alg);
sc_err sp_keygen_req_get(struct sc_buf *b, uint8_t *role, uint8_t *alg) SC_MUST_USE;
void sp_keygen_ans_put(struct sc_buf *b, const uint8_t *csr, size_t csr_len);
sc_err sp_keygen_ans_get(struct sc_buf *b, const uint8_t **csr, size_t *csr_len) SC_MUST_USE;

/* ---- INSTALL_CERT 0x03: [u8 role][cert cert] -> empty ---- */

void sp_install_cert_req_put(struct sc_buf *b, uint8_t role, const uint8_t *cert, size_t cert_len);
sc_err sp_install_cert_req_get(struct sc_buf *b, uint8_t *role, const uint8_t **cert,
    size_t *cert_len) SC_MUST_USE;
void sp_install_cert_ans_put(struct sc_buf *b);
sc_err sp_install_cert_ans_get(struct sc_buf *b) SC_MUST_USE;

/* ---- INSTALL_ANCHOR 0x04: [text network_id (0..64)][cert root] -> empty ---- */

/* An empty network ID decodes: refusing it (usage) is the handler's. */
void sp_install_anchor_req_put(struct sc_buf *b, const char *network_id, const uint8_t *cert,
    size_t cert_len);
sc_err sp_install_anchor_req_get(struct sc_buf *b, char network_id[SP_MSG_ID_MAX + 1],
    const uint8_t **cert, size_t *cert_len) SC_MUST_USE;
void sp_install_anchor_ans_put(struct sc_buf *b);
sc_err sp_install_anchor_ans_get(struct sc_buf *b) SC_MUST_USE;

/* ---- SET_LIMITS 0x05: [u32 max_leaf_days][u32 max_keys] -> empty ---- */

void sp_set_limits_req_put(struct sc_buf *b, uint32_t max_leaf_days, uint32_t max_keys);
sc_err sp_set_limits_req_get(struct sc_buf *b, uint32_t *max_leaf_days,
    uint32_t *max_keys) SC_MUST_USE;
void sp_set_limits_ans_put(struct sc_buf *b);
sc_err sp_set_limits_ans_get(struct sc_buf *b) SC_MUST_USE;

/* ---- LOCK 0x06: empty -> empty ---- */

void sp_lock_req_put(struct sc_buf *b);
sc_err sp_lock_req_get(struct sc_buf *b) SC_MUST_USE;
void sp_lock_ans_put(struct sc_buf *b);
sc_err sp_lock_ans_get(struct sc_buf *b) SC_MUST_USE;

/* ---- CHALLENGE 0x10: empty -> [u8[32] challenge], raw ---- */

void sp_challenge_req_put(struct sc_buf *b);
sc_err sp_challenge_req_get(struct sc_buf *b) SC_MUST_USE;
void sp_challenge_ans_put(struct sc_buf *b, const uint8_t challenge[SC_SP_CHALLENGE_LEN]);
/* Copies the challenge out; out is untouched on failure. */
sc_err sp_challenge_ans_get(struct sc_buf *b, uint8_t out[SC_SP_CHALLENGE_LEN]) SC_MUST_USE;

/* ---- GATE_CHALLENGE 0x1A (revision 1.4): [u8 alg (0: none)][u32 ku] -> [u8[32] challenge]
 *      [u64 counter][string csk_name (34)][string leaf_spki (DER, 0..SP_MSG_MAX_SPKI)] ---- */

#define SP_MSG_GATE_NAME_LEN 34 /* a SHA-256 TPM Name */
#define SP_MSG_MAX_SPKI 1024    /* an RSA-4096 SubjectPublicKeyInfo is 550 bytes */
void sp_gate_challenge_req_put(struct sc_buf *b, uint8_t alg, uint32_t ku);
sc_err sp_gate_challenge_req_get(struct sc_buf *b, uint8_t *alg, uint32_t *ku) SC_MUST_USE;
void sp_gate_challenge_ans_put(struct sc_buf *b, const uint8_t nonce[SC_SP_CHALLENGE_LEN],
    uint64_t counter, const uint8_t name[SP_MSG_GATE_NAME_LEN], const uint8_t *spki,
    size_t spki_len);
/* Borrowed pointers into b; SC_ERR_PEER for a Name that is not 34 bytes. */
sc_err sp_gate_challenge_ans_get(struct sc_buf *b, const uint8_t **nonce, uint64_t *counter,
    const uint8_t **name, const uint8_t **spki, size_t *spki_len) SC_MUST_USE;

/* ---- GATE_ISSUE 0x1B (revision 1.4): [string profile][string authorization (1..512)] -> as
 *      ISSUE ---- */

#define SP_MSG_MAX_GATE_AUTH 512
void sp_gate_issue_req_put(struct sc_buf *b, const uint8_t *profile, size_t profile_len,
    const uint8_t *auth, size_t auth_len);
/* SC_ERR_MALFORMED for an empty authorization or one over 512 bytes. */
sc_err sp_gate_issue_req_get(struct sc_buf *b, const uint8_t **profile, size_t *profile_len,
    const uint8_t **auth, size_t *auth_len) SC_MUST_USE;

/* ---- ISSUE 0x11: [string profile] -> [u32 handle][cert cert] ---- */

/* The profile is bounded by the message only: its own limit is the profile decoder's
 * (SC_ERR_OVERSIZE past 16384 bytes), so the SP answers what is wrong with it. */
void sp_issue_req_put(struct sc_buf *b, const uint8_t *profile, size_t profile_len);
sc_err sp_issue_req_get(struct sc_buf *b, const uint8_t **profile, size_t *profile_len) SC_MUST_USE;
void sp_issue_ans_put(struct sc_buf *b, uint32_t handle, const uint8_t *cert, size_t cert_len);
/* Also SC_ERR_PEER for handle 0 or an empty certificate. */
sc_err sp_issue_ans_get(struct sc_buf *b, uint32_t *handle, const uint8_t **cert,
    size_t *cert_len) SC_MUST_USE;

/* ---- KEYS 0x12: [u32 after] -> [u8 more][u32 n] n x {[u32 handle][u8 alg][cert cert]} ---- */

#define SP_KEYS_ANS_HEAD 5                                         /* more and n */
#define SP_KEYS_ANS_KEY(cert_len) (4 + 1 + 4 + (size_t)(cert_len)) /* one entry */

void sp_keys_req_put(struct sc_buf *b, uint32_t after);
sc_err sp_keys_req_get(struct sc_buf *b, uint32_t *after) SC_MUST_USE;
/* The SP writes the entries into a page first (it learns n and more as it goes), then the
 * head into the answer, then the page's bytes. */
void sp_keys_ans_put_head(struct sc_buf *b, uint8_t more, uint32_t n);
void sp_keys_ans_put_key(struct sc_buf *page, uint32_t handle, uint8_t alg, const uint8_t *cert,
    size_t cert_len);
/*
 * The host reads the head, then n entries, then sp_keys_ans_done. The head is SC_ERR_PEER
 * unless more is 0 or 1, n <= max_n (what the caller still has room for), and a page that
 * says more holds a key. An entry's handle, algorithm and certificate are the caller's to judge.
 */
sc_err sp_keys_ans_get_head(struct sc_buf *b, uint32_t max_n, uint8_t *more,
    uint32_t *n) SC_MUST_USE;
sc_err sp_keys_ans_get_key(struct sc_buf *b, uint32_t *handle, uint8_t *alg, const uint8_t **cert,
    size_t *cert_len) SC_MUST_USE;
sc_err sp_keys_ans_done(struct sc_buf *b) SC_MUST_USE;

/* ---- SIGN 0x13: [u32 handle][u8 mode][u8 digest][string input][u32 salt_len: PSS only] ---- */

struct sp_sign_req {
	uint32_t handle;
	uint8_t mode;         /* enum sc_sp_sign_mode */
	uint8_t digest;       /* enum sc_digest */
	const uint8_t *input; /* 0..SC_SP_MAX_SIGN_INPUT bytes */
	size_t input_len;
	uint32_t salt_len; /* on the wire for SC_SP_SIGN_PSS only; 0 otherwise */
};
void sp_sign_req_put(struct sc_buf *b, const struct sp_sign_req *req);
sc_err sp_sign_req_get(struct sc_buf *b, struct sp_sign_req *req) SC_MUST_USE;
/* Answer: [string signature]. */
void sp_sign_ans_put(struct sc_buf *b, const uint8_t *sig, size_t sig_len);
/* mode is the request's: it bounds the signature (SP_MSG_MAX_SIGNATURE, or for PSS the
 * modulus, SC_SP_MAX_CIPHERTEXT). Also SC_ERR_PEER for an empty signature. */
sc_err sp_sign_ans_get(struct sc_buf *b, uint8_t mode, const uint8_t **sig,
    size_t *sig_len) SC_MUST_USE;

/* ---- DELETE 0x14: [u32 handle] -> empty ---- */

void sp_delete_req_put(struct sc_buf *b, uint32_t handle);
sc_err sp_delete_req_get(struct sc_buf *b, uint32_t *handle) SC_MUST_USE;
void sp_delete_ans_put(struct sc_buf *b);
sc_err sp_delete_ans_get(struct sc_buf *b) SC_MUST_USE;

/* ---- DECRYPT 0x15: [u32 handle][u8 scheme][u8 hash][u8 mgf1_hash][string label]
 *      [string ciphertext] -> [string plaintext] ---- */

struct sp_decrypt_req {
	uint32_t handle;
	uint8_t scheme;          /* enum sc_sp_decrypt_scheme */
	uint8_t hash, mgf1_hash; /* SC_DIGEST_SHA256..512 or SC_SP_OAEP_SHA1 */
	const uint8_t *label;    /* 0..SC_SP_MAX_OAEP_LABEL bytes */
	size_t label_len;
	const uint8_t *ciphertext; /* 0..SC_SP_MAX_CIPHERTEXT bytes (one block: the handler's) */
	size_t ciphertext_len;
};
void sp_decrypt_req_put(struct sc_buf *b, const struct sp_decrypt_req *req);
sc_err sp_decrypt_req_get(struct sc_buf *b, struct sp_decrypt_req *req) SC_MUST_USE;
/* The plaintext is a secret: this marks the writer secret (wiped when freed or grown). */
void sp_decrypt_ans_put(struct sc_buf *b, const uint8_t *plain, size_t plain_len);
/* 0..SC_SP_MAX_CIPHERTEXT bytes. */
sc_err sp_decrypt_ans_get(struct sc_buf *b, const uint8_t **plain, size_t *plain_len) SC_MUST_USE;

/* ---- DERIVE 0x16: [u32 handle][string peer (0..SC_SP_MAX_EC_POINT)] -> [string secret] ---- */

void sp_derive_req_put(struct sc_buf *b, uint32_t handle, const uint8_t *point, size_t point_len);
sc_err sp_derive_req_get(struct sc_buf *b, uint32_t *handle, const uint8_t **point,
    size_t *point_len) SC_MUST_USE;
/* The shared secret: this marks the writer secret (wiped when freed or grown). */
void sp_derive_ans_put(struct sc_buf *b, const uint8_t *secret, size_t secret_len);
/* 1..SP_MSG_MAX_SECRET bytes: SC_ERR_PEER for an empty secret. */
sc_err sp_derive_ans_get(struct sc_buf *b, const uint8_t **secret, size_t *secret_len) SC_MUST_USE;

/* ---- PROOF 0x17: [u8[32] challenge][text network_id (0..64)][u8[32] request_digest]
 *      -> [u64 time][string signature (1..SP_MSG_MAX_SIGNATURE)] ---- */

#define SP_MSG_DIGEST_LEN 32 /* a request digest: SHA-256 */

void sp_proof_req_put(struct sc_buf *b, const uint8_t challenge[SC_SP_CHALLENGE_LEN],
    const char *network_id, const uint8_t digest[SP_MSG_DIGEST_LEN]);
/* An empty network ID decodes: refusing it is the handler's. The byte arrays point into b. */
sc_err sp_proof_req_get(struct sc_buf *b, const uint8_t **challenge,
    char network_id[SP_MSG_ID_MAX + 1], const uint8_t **digest) SC_MUST_USE;
void sp_proof_ans_put(struct sc_buf *b, uint64_t time, const uint8_t *sig, size_t sig_len);
/* Also SC_ERR_PEER for an empty signature. */
sc_err sp_proof_ans_get(struct sc_buf *b, uint64_t *time, const uint8_t **sig,
    size_t *sig_len) SC_MUST_USE;

/* ---- BACKEND 0x18 (revision 1.2): request empty -> [text name (1..16)]
 *      [text manufacturer (0..64)][text vendor (0..64)][text firmware (0..64)] ---- */

void sp_backend_req_put(struct sc_buf *b);
sc_err sp_backend_req_get(struct sc_buf *b) SC_MUST_USE;
void sp_backend_ans_put(struct sc_buf *b, const struct sc_sp_backend *be);
/* Also SC_ERR_PEER for an empty name or a byte outside printable ASCII in any field. */
sc_err sp_backend_ans_get(struct sc_buf *b, struct sc_sp_backend *be) SC_MUST_USE;

/* ---- CRL 0x19 (revision 1.3): [u32 lifetime (seconds)] -> [string crl (1..SP_MSG_MAX_CRL)] */

#define SP_MSG_MAX_CRL 4096 /* a device CA CRL's DER (SC_CRL_MAX_DER, selfcert/crl.h) */

void sp_crl_req_put(struct sc_buf *b, uint32_t lifetime);
/* Any u32 decodes: the lifetime's bounds are the handler's (SC_ERR_VALIDITY). */
sc_err sp_crl_req_get(struct sc_buf *b, uint32_t *lifetime) SC_MUST_USE;
void sp_crl_ans_put(struct sc_buf *b, const uint8_t *der, size_t der_len);
/* Also SC_ERR_PEER for an empty CRL. */
sc_err sp_crl_ans_get(struct sc_buf *b, const uint8_t **der, size_t *der_len) SC_MUST_USE;

/*
 * The bytes a request proof signs (docs/PROTOCOL.md 0x17), written by the SP and rebuilt by the
 * server that checks it: "selfcert request proof v1" (25 bytes, no NUL: its first byte 's',
 * 0x73, can never begin a DER SEQUENCE, 0x30, so no TBSCertificate or PKCS#10 request the CSK
 * signs is ever these bytes), then [u8[32] challenge][text device_id][text network_id]
 * [u8[32] request_digest][u64 time].
 */
#define SP_PROOF_CONTEXT "selfcert request proof v1"
void sp_proof_tbs_put(struct sc_buf *b, const uint8_t challenge[SC_SP_CHALLENGE_LEN],
    const char *device_id, const char *network_id, const uint8_t digest[SP_MSG_DIGEST_LEN],
    uint64_t time);

#endif
