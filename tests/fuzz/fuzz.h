// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz.h — what the fuzz targets share (tests/fuzz): one fixed, deterministic test hierarchy
 * built with the library's own builders, a fixed store root key, the sealed-store format of
 * docs/PROTOCOL.md §6 (to seal fuzzer-made plaintexts), temporary folders, and the libFuzzer
 * entry points that replay.c drives without libFuzzer.
 *
 * Every key here is derived from a constant label (SHA-256 of "selfcert-fuzz:<label>"): these
 * are test constants, known to anyone who reads this file, so that a committed corpus (made by
 * make_corpus.c) chains to, and is encrypted to, exactly the hierarchy that each target
 * rebuilds at start. No private key is ever written to the corpus.
 */
#ifndef SC_FUZZ_H
#define SC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#define FZ_DEVICE_ID "FUZZ-0001"
#define FZ_NETWORK_ID "fuzz.example"
#define FZ_MFR_NAME "Fuzz Devices"

/*
 * Fixed times, so that a corpus made today replays the same way in twenty years:
 * every fixture certificate is valid [FZ_CERT_NOT_BEFORE, FZ_CERT_NOT_AFTER]; the targets that
 * take a clock use FZ_NOW. (The SP's dispatch reads the real clock; corpus profiles stay valid
 * until FZ_PROFILE_NOT_AFTER.)
 */
#define FZ_CERT_NOT_BEFORE ((time_t)1767225600)   /* 2026-01-01T00:00:00Z */
#define FZ_CERT_NOT_AFTER ((time_t)2398377600)    /* 2046-01-01T00:00:00Z */
#define FZ_NOW ((time_t)1798761600)               /* 2027-01-01T00:00:00Z */
#define FZ_LEAF_NOT_BEFORE ((time_t)1780272000)   /* 2026-06-01T00:00:00Z */
#define FZ_LEAF_NOT_AFTER ((time_t)2364681600)    /* 2044-12-08T00:00:00Z */
#define FZ_PROFILE_NOT_AFTER ((time_t)2366841600) /* 2045-01-02T00:00:00Z */

/* The sealed store's counter file holds this in the store target. */
#define FZ_STORE_COUNTER 5
/* The store target's first byte: bit 0 set means "the rest is a plaintext state to seal". */
#define FZ_STORE_MODE_PLAINTEXT 0x01

/* Stop the process (a finding) when an invariant of the code under test does not hold. */
#define FZ_ASSERT(cond, ...)                                                              \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, \
			    __LINE__, #cond);                                             \
			fprintf(stderr, __VA_ARGS__);                                     \
			fprintf(stderr, "\n");                                            \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* The one test hierarchy (docs: README.md's picture), all borrowed from the fixture. */
struct fz_fixture {
	EVP_PKEY *mfr_root_key, *mfr_ca_key, *csk, *kek, *net_root_key, *signer_key;
	X509 *mfr_root, *mfr_ca, *csk_cert, *kek_cert, *net_root, *signer;
	EVP_PKEY *supplied; /* P-256: the server-generated key of supplied-key profiles */
	EVP_PKEY *leaf_p256, *leaf_p384, *leaf_ed25519; /* fixed leaf keys for issuing in targets */
	STACK_OF(X509) *chain; /* device CA, manufacturer CA: what `verify --chain` holds */
};

/* The fixture, built on first use; aborts if the library cannot build it (a broken build). */
const struct fz_fixture *fz_fixture(void);

/* A deterministic key for label: SC_ALG_P256, SC_ALG_P384 or SC_ALG_ED25519. Caller's. */
EVP_PKEY *fz_key(const char *label, enum sc_alg alg);

/* The store target's fixed 32-byte root key (the emulated hardware-unique key). */
void fz_store_root_key(uint8_t out[32]);

/*
 * Seal a plaintext exactly as docs/PROTOCOL.md §6 says (an independent implementation of the
 * documented format): "SCST" | 1 | u64 counter | nonce | AES-256-GCM(pt) | tag, key =
 * HKDF-SHA256(root, "selfcert-store-v1", "selfcert sealed store AES-256-GCM key"). The nonce
 * is fixed (a test: one key, reproducible output). *out is the caller's (free).
 */
int fz_seal(const uint8_t root[32], uint64_t counter, const uint8_t *pt, size_t pt_len,
    uint8_t **out, size_t *out_len);

/*
 * The store target's plaintext inputs carry no private key: where the sealed state holds a
 * PKCS#8 key, a seed holds the 8-byte text FZ_KEY_MARKER followed by a digit 1..FZ_N_KEYS (as a
 * u32-length string, like the key it stands for), and the target puts the fixture key back
 * before sealing. Keys 1..4: CSK, KEK, P-256 leaf, Ed25519 leaf.
 */
#define FZ_KEY_MARKER "FZKEY-0"
#define FZ_N_KEYS 4
/* Markers → keys. *out is the caller's (free); 0 on success. */
int fz_expand_keys(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);
/* Keys → markers, for make_corpus.c; returns how many were replaced, -1 on error. */
int fz_mark_keys(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);

/* A fresh private folder (tmpfs /dev/shm when there is one: commits fsync), removed at exit. */
const char *fz_tmpdir(const char *tag);

/* Write a whole file (O_TRUNC, mode); 0 on success. */
int fz_write_file(const char *path, const void *data, size_t len, int mode);

/*
 * A supplied-key profile's encryptedKey for `key`, encrypted to the fixture's KEK: content
 * cipher `cipher` (AES-256-GCM makes AuthEnvelopedData, a CBC cipher EnvelopedData), ECDH
 * recipient with the X9.63 SHA-256 KDF. n_recipients > 1 adds the KEK again (a bad envelope).
 * The caller frees it. For make_corpus.c.
 */
CMS_ContentInfo *fz_wrap(const uint8_t *plain, size_t plain_len, const EVP_CIPHER *cipher,
    int n_recipients);

/*
 * Called first by every target. With FUZZ_LAST_INPUT=PATH in the environment, the input is
 * written to PATH before it runs: for runs without ASan (-handle_abrt=0, glibc malloc checking),
 * where heap corruption inside libcrypto aborts the process before libFuzzer can save the input.
 */
void fz_input_begin(const uint8_t *data, size_t size);

/*
 * A target calls fz_success() when an input went all the way through (a profile that checks, an
 * ISSUE that issues, a store that opens, a chain that verifies, a key that unwraps). replay.c
 * fails a corpus in which no input did: seeds gone stale (an OID or a format changed) would
 * otherwise replay "clean" while testing only the first refusal.
 */
void fz_success(void);
unsigned long fz_successes(void);

/* With FUZZ_TRACE=1 in the environment, one line per input on stderr saying how far it got. */
void fz_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* libFuzzer's entry points, which each target defines and replay.c calls. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
