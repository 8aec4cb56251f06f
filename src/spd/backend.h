/*
 * backend.h — the SP's key backend seam (selfcert-spd internal): everything the SP does with a
 * private key, with the secret its store is sealed under, or with its monotonic counter goes
 * through one table of functions. backend_soft.c is the only backend today (keys as PKCS#8 in
 * OpenSSL's secure heap, DIR/root.key, DIR/counter); a TPM backend (docs: TPM-SP §4) would hold
 * TPM blobs behind the same opaque key handle.
 *
 * Who calls what: the handlers (req_*.c) and the store (store.c) only; none of them runs an
 * EVP_PKEY private operation itself. Public halves (key_public) are for comparisons, sizes and
 * certificate building. key_for_lib is the one way out, for the two libselfcert calls that
 * still take a private EVP_PKEY (below).
 *
 * Failures are sc_fail codes with a detail that never holds key material. Every function that
 * makes an object hands it to the caller: keys go back through key_free, buffers as said.
 */
#ifndef SPD_BACKEND_H
#define SPD_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>

#define SPD_SECRET_LEN 32            /* the store's sealing secret (HKDF input, store.c) */

/* One private key held by a backend. Opaque: soft keeps PKCS#8, a TPM would keep blobs. */
struct spd_key;

/* SIGN's modes, as the handlers checked them (req_keys.c). */
enum spd_sign_mode {
	SPD_SIGN_MESSAGE,   /* the key's own scheme over the message (hash-then-sign, or Ed25519) */
	SPD_SIGN_DIGEST,    /* a caller's digest: PKCS#1 v1.5 for RSA, ECDSA for EC */
	SPD_SIGN_PSS,       /* a caller's digest, RSA-PSS with MGF1(md) and salt_len */
};

struct spd_backend {
	const char *name;            /* "soft" */

	/* ---- keys ---- */

	/* A new key of alg, made inside the backend (KEYGEN, ISSUE of a generated key). */
	sc_err (*key_create)(const struct spd_backend *be, enum sc_alg alg, struct spd_key **out)
	    SC_MUST_USE;
	/*
	 * A key that came from outside, in clear (embodiment 2: the KEK unwrapped it). The backend
	 * takes its own reference; the caller still frees its own.
	 */
	sc_err (*key_import)(const struct spd_backend *be, EVP_PKEY *supplied, struct spd_key **out)
	    SC_MUST_USE;
	/*
	 * A key from its stored form (key_blob's bytes, authenticated by the store): exactly one key
	 * of algorithm alg, else SC_ERR_STORE_DAMAGED "store: <what>: …".
	 */
	sc_err (*key_load)(const struct spd_backend *be, enum sc_alg alg, const uint8_t *blob,
	    size_t len, const char *what, struct spd_key **out) SC_MUST_USE;
	/* Its stored form, borrowed from the key (secret: the store seals it, nobody else reads it). */
	void (*key_blob)(const struct spd_key *k, const uint8_t **blob, size_t *len);
	/* Its algorithm, and its public half (borrowed: compare, size, put in certificates only). */
	enum sc_alg (*key_alg)(const struct spd_key *k);
	EVP_PKEY *(*key_public)(const struct spd_key *k);
	/*
	 * The key for libselfcert calls that sign or decrypt with an EVP_PKEY themselves:
	 * sc_cert_issue_leaf* with the CSK and sc_profile_unwrap_key with the KEK. Soft: the key.
	 * A TPM backend: a provider-backed EVP_PKEY, or NULL (the caller fails SC_ERR_ALGORITHM)
	 * until those calls take the backend's sign and decrypt/derive (TPM-SP §4.1). Borrowed.
	 */
	EVP_PKEY *(*key_for_lib)(const struct spd_key *k);
	/* Wipe and free (NULL: nothing). */
	void (*key_free)(struct spd_key *k);

	/* ---- private operations ---- */

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
	    uint32_t salt_len, const uint8_t *in, size_t in_len, uint8_t **sig, size_t *sig_len)
	    SC_MUST_USE;
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
	sc_err (*derive)(const struct spd_key *k, EVP_PKEY *peer, uint8_t **secret, size_t *len)
	    SC_MUST_USE;

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
	sc_err (*counter_read)(const struct spd_backend *be, const char *dir, uint64_t *value)
	    SC_MUST_USE;
	sc_err (*counter_increment)(const struct spd_backend *be, const char *dir, uint64_t from)
	    SC_MUST_USE;
};

/* Today's behaviour: PKCS#8 in the secure heap, DIR/root.key, DIR/counter (backend_soft.c). */
extern const struct spd_backend spd_backend_soft;

#endif
