// SPDX-License-Identifier: Apache-2.0
/*
 * backend.h — the SP's key backend seam (selfcert-spd internal): everything the SP does with a
 * private key, with the secret its store is sealed under, or with its monotonic counter goes
 * through one table of functions. backend_soft.c is the only backend today (keys as PKCS#8 in
 * OpenSSL's secure heap, DIR/root.key, DIR/counter); a TPM backend (docs: TPM-SP §4) would hold
 * TPM blobs behind the same opaque key handle.
 *
 * Who calls what: the handlers (req_*.c) and the store (store.c) only; none of them runs an
 * EVP_PKEY private operation itself, and no private EVP_PKEY crosses this table in either
 * direction: only public halves (key_public: comparisons, sizes, the leaf's SPKI) come out, and
 * a key from outside (embodiment 2) comes in still wrapped, through unwrap_supplied.
 *
 * Why issue_leaf and unwrap_supplied are whole operations of the backend, and not a signer
 * callback inside libselfcert: the certificate is built by cert.c's build_cert, whose fast path
 * (fast/spki.h, the signature cache) and byte-for-byte test against the plain path sit on
 * OpenSSL's X509_sign_ctx; OpenSSL 3.0 has no "set an external signature" API, so a callback
 * means a hand-made TBS/signature assembly in the library and a second certificate path to keep
 * equal to the first. The soft backend thus calls today's library functions unchanged (same
 * speed, same bytes), and a TPM backend implements the same two operations as TPM-SP §4.1 says:
 * sc_cert_issue_leaf's TBS, a TPM2_Sign of its digest, SEQUENCE{TBS, algId, sig}, re-parse and
 * verify; RecipientInfo parsing around TPM2_RSA_Decrypt / ECDH_ZGen, then TPM2_Import. When the
 * library grows a signer callback, only the backends change, not this table nor its callers.
 *
 * Failures are sc_fail codes with a detail that never holds key material. Every function that
 * makes an object hands it to the caller: keys go back through key_free, buffers as said.
 */
#ifndef SPD_BACKEND_H
#define SPD_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#define SPD_SECRET_LEN 32 /* the store's sealing secret (HKDF input, store.c) */

/* One private key held by a backend. Opaque: soft keeps PKCS#8, a TPM would keep blobs. */
struct spd_key;

/* SIGN's modes, as the handlers checked them (req_keys.c). */
enum spd_sign_mode {
	SPD_SIGN_MESSAGE, /* the key's own scheme over the message (hash-then-sign, or Ed25519) */
	SPD_SIGN_DIGEST,  /* a caller's digest: PKCS#1 v1.5 for RSA, ECDSA for EC */
	SPD_SIGN_PSS,     /* a caller's digest, RSA-PSS with MGF1(md) and salt_len */
};

struct spd_backend {
	const char *name; /* "soft" */

	/* ---- keys ---- */

	/*
	 * A new key of alg, made inside the backend (KEYGEN, ISSUE of a generated key), for the
	 * uses ku (OpenSSL KU_* bits of its certificate: a TPM makes them object attributes, sign
	 * and/or decrypt, so the chip enforces them; soft ignores them). An algorithm the backend
	 * cannot hold is SC_ERR_ALGORITHM with a detail naming the backend.
	 */
	sc_err (*key_create)(const struct spd_backend *be, enum sc_alg alg, unsigned ku,
	    struct spd_key **out) SC_MUST_USE;
	/*
	 * A key from its stored form (key_blob's bytes, authenticated by the store): exactly one key
	 * of algorithm alg, else SC_ERR_STORE_DAMAGED "store: <what>: …".
	 */
	sc_err (*key_load)(const struct spd_backend *be, enum sc_alg alg, const uint8_t *blob,
	    size_t len, const char *what, struct spd_key **out) SC_MUST_USE;
	/* Its stored form, borrowed from the key (secret: the store seals it, nobody else reads it). */
	void (*key_blob)(const struct spd_key *k, const uint8_t **blob, size_t *len);
	/*
	 * Its algorithm, and its public half (borrowed: compare, size, put in certificates only;
	 * never a private operation. Soft hands out its own EVP_PKEY here, to spare ISSUE a public
	 * copy; a TPM backend returns a public-only key).
	 */
	enum sc_alg (*key_alg)(const struct spd_key *k);
	EVP_PKEY *(*key_public)(const struct spd_key *k);
	/* Wipe and free (NULL: nothing). */
	void (*key_free)(struct spd_key *k);

	/* ---- private operations ---- */

	/*
	 * ISSUE's certificate: the leaf certificate for profile p (checked by the caller) with
	 * public key leaf_pub, serial the issuance counter, issued under csk_cert and signed by csk.
	 * The same certificate, checks and errors as sc_cert_issue_leaf; like sc_fast_issue_leaf,
	 * X509_get0_pubkey(*cert) may be NULL (use its DER, or leaf_pub). *cert is the caller's,
	 * and so is *der (OPENSSL_free): the certificate's DER when the backend has it at hand
	 * (soft: the TBS encoded once, issue 17), else NULL and the caller encodes *cert.
	 * A backend may give the DER alone and leave *cert NULL (soft, issue 17: no X509 of the
	 * leaf is built at all); it then sets *ku, the leaf's key usage as X509_get_key_usage
	 * would read it, which is all the SP reads from an issued leaf's X509.
	 * A backend that cannot sign with csk's algorithm fails SC_ERR_ALGORITHM.
	 */
	sc_err (*issue_leaf)(const struct spd_key *csk, const struct sc_profile *p,
	    EVP_PKEY *leaf_pub, X509 *csk_cert, uint64_t serial, X509 **cert, uint8_t **der,
	    size_t *der_len, unsigned *ku) SC_MUST_USE;
	/*
	 * Optional (NULL: issue_leaf with key_public(leaf)): the same for a leaf key this backend
	 * holds, so it can use what it already knows of the key (soft: the public point it wrote
	 * into the key's PKCS#8 is not encoded again for the SPKI; issue 17). Same bytes.
	 */
	sc_err (*issue_leaf_key)(const struct spd_key *csk, const struct sc_profile *p,
	    const struct spd_key *leaf, X509 *csk_cert, uint64_t serial, X509 **cert, uint8_t **der,
	    size_t *der_len, unsigned *ku) SC_MUST_USE;
	/*
	 * Embodiment 2: open p's supplied key (CMS, tbsProfile.key.supplied.encryptedKey) with the
	 * KEK kek (kek_cert its certificate) and take the key in as a new key of this backend, as
	 * sc_profile_unwrap_key checks it (same errors: SC_ERR_KEY_DECRYPT, SC_ERR_KEY_MISMATCH,
	 * SC_ERR_ALGORITHM, SC_ERR_USAGE). The plaintext never leaves the backend. *out as key_create.
	 */
	sc_err (*unwrap_supplied)(const struct spd_backend *be, const struct spd_key *kek,
	    const struct sc_profile *p, X509 *kek_cert, struct spd_key **out) SC_MUST_USE;

	/*
	 * Proof of possession at KEYGEN: a PKCS#10 request with an empty subject, signed by k with
	 * its default digest. *der is the caller's (OPENSSL_free).
	 */
	sc_err (*csr)(const struct spd_key *k, uint8_t **der, size_t *der_len) SC_MUST_USE;
	/*
	 * Sign in with mode and md (the handler checked the input length, the salt bound and that
	 * the mode fits the key). *sig is the caller's (OPENSSL_free).
	 */
	sc_err (*sign)(const struct spd_key *k, enum spd_sign_mode mode, const EVP_MD *md,
	    uint32_t salt_len, const uint8_t *in, size_t in_len, uint8_t **sig,
	    size_t *sig_len) SC_MUST_USE;
	/*
	 * RSA-OAEP (md, MGF1 mgf1, label) of in into out, whose capacity *out_len is at least the
	 * modulus size; *out_len becomes the plaintext's length. Every way a block can fail to
	 * decrypt is one SC_ERR_KEY_DECRYPT, with no detail that could serve as a padding oracle.
	 */
	sc_err (*decrypt_oaep)(const struct spd_key *k, const EVP_MD *md, const EVP_MD *mgf1,
	    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out,
	    size_t *out_len) SC_MUST_USE;
	/*
	 * ECDH with peer (a public key on k's curve, already decoded): the shared x-coordinate in
	 * *secret (the caller's: OPENSSL_clear_free(*secret, *len)). A peer the backend rejects is
	 * SC_ERR_MALFORMED.
	 */
	sc_err (*derive)(const struct spd_key *k, EVP_PKEY *peer, uint8_t **secret,
	    size_t *len) SC_MUST_USE;

	/* ---- the store folder's sealing secret and monotonic counter ---- */

	/*
	 * A new device: make the secret the store is sealed under and keep it sealed in dir (soft:
	 * DIR/root.key, 0400, never overwritten), and hand it out to derive the store key from.
	 */
	sc_err (*secret_create)(const struct spd_backend *be, const char *dir,
	    uint8_t secret[SPD_SECRET_LEN]) SC_MUST_USE;
	/* The same secret back; missing or malformed is SC_ERR_STORE_DAMAGED. Caller wipes it. */
	sc_err (*secret_unseal)(const struct spd_backend *be, const char *dir,
	    uint8_t secret[SPD_SECRET_LEN]) SC_MUST_USE;
	/* The counter: start at 0 (a new device), read it, move it from `from` to from + 1. */
	sc_err (*counter_create)(const struct spd_backend *be, const char *dir) SC_MUST_USE;
	sc_err (*counter_read)(const struct spd_backend *be, const char *dir,
	    uint64_t *value) SC_MUST_USE;
	sc_err (*counter_increment)(const struct spd_backend *be, const char *dir,
	    uint64_t from) SC_MUST_USE;
	/*
	 * Optional, both or neither (NULL: counter_increment is used): a counter the store keeps
	 * open from its open to its close, dir_fd being the store's folder (open for the same time).
	 * counter_keep opens it into *fd when its form allows an increment in place (soft: the
	 * two-slot file), else leaves *fd at -1 (soft: an 8-byte counter from an older version).
	 * counter_increment_kept moves it from `from` to from + 1: in place through *fd, or, *fd
	 * being -1, by replacing it (in the in-place form) and then keeping it. A failed increment
	 * leaves *fd as it was or -1; the caller closes a kept *fd.
	 */
	sc_err (*counter_keep)(const struct spd_backend *be, const char *dir, int dir_fd,
	    int *fd) SC_MUST_USE;
	sc_err (*counter_increment_kept)(const struct spd_backend *be, const char *dir, int dir_fd,
	    int *fd, uint64_t from) SC_MUST_USE;
};

/* Today's behaviour: PKCS#8 in the secure heap, DIR/root.key, DIR/counter (backend_soft.c). */
extern const struct spd_backend spd_backend_soft;

/*
 * The TPM 2.0 backend (backend_tpm.c, docs/TPM.md): keys are TPM objects under an owner-hierarchy
 * storage key, DIR/root.tpm a TPM-sealed secret, the counter an NV counter. It needs one TPM
 * connection per process, opened by spd_tpm_open before the sandbox (only a descriptor is used
 * afterwards); without it every function fails SC_ERR_TPM.
 */
extern const struct spd_backend spd_backend_tpm;

/*
 * Connect to the TPM named by tcti (NULL: $TPM2TOOLS_TCTI, $TSS2_TCTI, then device:/dev/tpmrm0):
 * "device[:PATH]" or "swtpm:path=SOCKET" / "swtpm:host=H,port=N" (tpm2-tools' strings; anything
 * else is SC_ERR_USAGE). Also starts the TPM if needed, flushes transient objects and sessions a
 * dead client left, makes the storage key and the salted session. SC_ERR_TPM on failure.
 */
sc_err spd_tpm_open(const char *tcti) SC_MUST_USE;
void spd_tpm_close(void);
/*
 * For stock-tool inspection (selfcert-spd --tpm-export): k's TPM2B_PUBLIC and TPM2B_PRIVATE as
 * DIR/NAME.pub and DIR/NAME.priv, tpm2-tools' file formats (tpm2_load -u/-r). The private blob
 * is wrapped under this TPM's storage key and useless without it and the key's auth value,
 * which is not exported. New files only (SC_ERR_EXISTS).
 */
sc_err spd_tpm_key_export(const struct spd_key *k, const char *dir, const char *name) SC_MUST_USE;

/*
 * Operator gating (tpm_gate.c, docs/TPM.md "Operator-gated CSK", issue #12). TPM backend only.
 * spd_tpm_gate_init (`--init --operator-gated --gate-key PEM`) writes DIR/tpm.gate, the
 * network's gate key (a PEM public key or certificate: P-256, P-384, RSA-2048..4096; new file
 * only); spd_tpm_gate_load reads it at start (absent: not gated) and spd_tpm_gate_key hands it
 * out (borrowed, NULL when absent). spd_tpm_csk_create_gated makes KEYGEN's CSK with the policy
 * PolicyOR(PolicySigned(gate key), PolicySigned(a throw-away factory key that signs its CSR once)).
 * spd_tpm_gate_open starts the one outstanding gated challenge (a policy session; an older one
 * is flushed): its nonceTPM and the CSK's TPM Name (34 bytes) out. spd_tpm_gate_issue_leaf
 * builds sc_gate_tbs, runs PolicySigned with the operator's authorization and TPM2_Sign in that
 * session, which dies with the attempt; SC_ERR_GATE when the TPM refuses, SC_ERR_CHALLENGE when
 * no gated challenge is open. *cert as issue_leaf.
 */
sc_err spd_tpm_gate_init(const char *dir, const char *gate_pem) SC_MUST_USE;
sc_err spd_tpm_gate_load(const char *dir) SC_MUST_USE;
EVP_PKEY *spd_tpm_gate_key(void);
/* Free the gate key read at start (spd_tpm_close does it). */
void spd_tpm_gate_forget(void);
int spd_tpm_key_gated(const struct spd_key *k);
sc_err spd_tpm_csk_create_gated(enum sc_alg alg, struct spd_key **out) SC_MUST_USE;
sc_err spd_tpm_gate_open(const struct spd_key *csk, uint8_t nonce[32],
    uint8_t name[34]) SC_MUST_USE;
/* 1: nonce is the outstanding gated challenge. */
int spd_tpm_gate_pending(const uint8_t *nonce, size_t len);
void spd_tpm_gate_close(void);
sc_err spd_tpm_gate_issue_leaf(const struct spd_key *csk, const struct sc_profile *p,
    EVP_PKEY *leaf_pub, X509 *csk_cert, uint64_t counter, const uint8_t *auth, size_t auth_len,
    X509 **cert) SC_MUST_USE;

/* The TCTI spd_tpm_open would use for NULL (borrowed). */
const char *spd_tpm_default_tcti(void);

/* The backend the store in dir was made by: tpm if DIR/root.tpm exists, else soft. */
const struct spd_backend *spd_backend_of(const char *dir);

/* The backend new states start with (spd_state_init): the open store's, soft until one is. */
extern const struct spd_backend *spd_backend_active;

#endif
