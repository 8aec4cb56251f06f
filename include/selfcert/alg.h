// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/alg.h — the key algorithms and digests selfcert speaks, by number and by name.
 *
 * The numbers are those of the ASN.1 module (KeyAlgorithm, CertDigest in docs/FORMATS.md) and of
 * the SP protocol; the names are those of the command line.
 */
#ifndef SELFCERT_ALG_H
#define SELFCERT_ALG_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <selfcert/err.h>

enum sc_alg {
	SC_ALG_NONE = 0,
	SC_ALG_RSA2048 = 1,
	SC_ALG_RSA3072 = 2,
	SC_ALG_RSA4096 = 3,
	SC_ALG_P256 = 4,
	SC_ALG_P384 = 5,
	SC_ALG_ED25519 = 6,
};
#define SC_ALG_MAX SC_ALG_ED25519

enum sc_digest {
	SC_DIGEST_NONE = 0, /* Ed25519: the signature scheme hashes itself */
	SC_DIGEST_SHA256 = 1,
	SC_DIGEST_SHA384 = 2,
	SC_DIGEST_SHA512 = 3,
};

/* "rsa2048" … "ed25519"; NULL for SC_ALG_NONE or an unknown value. */
const char *sc_alg_name(enum sc_alg alg);

/* Parse a command-line name. SC_ERR_ALGORITHM (detail names it) if unknown. */
sc_err sc_alg_from_name(const char *name, enum sc_alg *out) SC_MUST_USE;

/* 1 if alg is one of the six, else 0. */
int sc_alg_valid(int alg);

/* 1 if alg is RSA (any size), else 0. */
int sc_alg_is_rsa(enum sc_alg alg);

/*
 * Generate a fresh key pair. *out is the caller's (EVP_PKEY_free). Only SC_ALG_* values above;
 * SC_ERR_ALGORITHM otherwise.
 */
sc_err sc_alg_keygen(enum sc_alg alg, EVP_PKEY **out) SC_MUST_USE;

/*
 * Which of our algorithms a key is (RSA by exact modulus size 2048/3072/4096; EC by curve
 * P-256/P-384; Ed25519). SC_ALG_NONE for anything else (RSA-1024, secp256k1, X25519, …).
 */
enum sc_alg sc_alg_of_key(const EVP_PKEY *key);

/* "sha256" … ; NULL for SC_DIGEST_NONE or unknown. */
const char *sc_digest_name(enum sc_digest d);
sc_err sc_digest_from_name(const char *name, enum sc_digest *out) SC_MUST_USE;

/* The OpenSSL digest (borrowed), or NULL for SC_DIGEST_NONE/unknown. */
const EVP_MD *sc_digest_md(enum sc_digest d);

/*
 * The digest a key signs certificates and profiles with by default: SHA-384 for P-384,
 * SC_DIGEST_NONE for Ed25519, SHA-256 otherwise.
 */
enum sc_digest sc_alg_default_digest(enum sc_alg alg);

/*
 * The digest to pass to EVP_DigestSignInit for key with wanted digest d: NULL for Ed25519
 * (whatever d), else sc_digest_md(d) (or the key's default when d is SC_DIGEST_NONE).
 */
const EVP_MD *sc_sign_md(const EVP_PKEY *key, enum sc_digest d);

#endif
