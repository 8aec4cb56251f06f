// SPDX-License-Identifier: Apache-2.0
/*
 * revoked.h — the network's signed list of revoked devices (docs/FORMATS.md "Revocation list"):
 * what provd serves at GET /v1/revoked and relying parties fetch, signed by the network's
 * profile signer, with a sequence number (never goes down) and a next-update time (stale after).
 */
#ifndef SELFCERT_REVOKED_H
#define SELFCERT_REVOKED_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>

#define SC_REVOKED_MAX (4u << 20)                /* the signed list's text: at most 4 MiB */
#define SC_REVOKED_MAX_DEVICES 50000             /* device IDs in one list */
#define SC_REVOKED_CONTEXT "selfcert-revoked-v1" /* signed before the payload (with its NUL) */

struct sc_revoked {
	char network_id[SC_NETWORK_ID_MAX + 1];
	uint64_t sequence;   /* 1..2^53 */
	int64_t this_update; /* Unix seconds */
	int64_t next_update; /* Unix seconds, after this_update */
	size_t n;            /* devices, sorted, distinct */
	char (*devices)[SC_DEVICE_ID_MAX + 1];
};

/*
 * Sign a list: ids (n of them, each a valid device ID; duplicates dropped; at most
 * SC_REVOKED_MAX_DEVICES) with the profile signer (cert, key). *out is the list's JSON text,
 * NUL-terminated (free()). SC_ERR_USAGE for a bad argument, SC_ERR_NOMEM.
 */
sc_err sc_revoked_sign(const char *network_id, uint64_t sequence, int64_t this_update,
    int64_t next_update, const char *const *ids, size_t n, X509 *signer, EVP_PKEY *key,
    char **out) SC_MUST_USE;

/*
 * Decode and check a signed list (len bytes): size (SC_ERR_OVERSIZE), exactly the envelope's and
 * the payload's fields with their types (SC_ERR_MALFORMED; SC_ERR_TRAILING for bytes after the
 * JSON), version 1 (SC_ERR_VERSION), its signer chaining to net_root with the profile-signing
 * EKU (SC_ERR_UNTRUSTED_SIGNER / SC_ERR_SIGNER_EKU) for the list's network, the signature
 * (SC_ERR_SIGNATURE), and now <= next_update (SC_ERR_STALE; now < 0: not checked, for a list
 * held earlier that a fresh one must not be older than). *out (sc_revoked_free) on success.
 * The detail names `what` and the field.
 */
sc_err sc_revoked_decode(const uint8_t *data, size_t len, const char *what, X509 *net_root,
    int64_t now, struct sc_revoked **out) SC_MUST_USE;

/*
 * A fetched list may replace the one held (old, NULL: none) only if it is for the same network
 * and its sequence is not lower (SC_ERR_ROLLBACK: a replayed older list would un-revoke devices),
 * and an equal sequence only with the same devices (SC_ERR_ROLLBACK too).
 */
sc_err sc_revoked_successor(const struct sc_revoked *old,
    const struct sc_revoked *fresh) SC_MUST_USE;

/*
 * The sequence number of the list of n revoked devices whose latest revocation was at max_at
 * (Unix seconds): max_at * 100000 + n, at least 1. Revocation is for good, so both only grow
 * and the number grows with every change, whoever signs (provd, `net revoked sign`), across
 * restarts, without a counter to keep.
 */
uint64_t sc_revoked_sequence(int64_t max_at, size_t n);

/* 1 if device_id is on the list. */
int sc_revoked_has(const struct sc_revoked *l, const char *device_id);
void sc_revoked_free(struct sc_revoked *l);

#endif
