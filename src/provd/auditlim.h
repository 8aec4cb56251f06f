// SPDX-License-Identifier: Apache-2.0
/*
 * auditlim.h — Session 19 (flood19): provd's device-ca-changed audit rows bounded per chain.
 * A refused request showing a device CA or KEK other than the device's pin (h_enroll.c
 * profile_pin, recover_pin, and the recovery write's own refusal) is answered 409
 * device-ca-changed every time, but its audit row (one durable registry write, which an
 * unauthenticated client holding only a device's public certificates can cause) is written at
 * most once per (device ID, device CA shown, KEK shown) per PROVD_AUDITLIM_WINDOW_S in this
 * process: each distinct chain shown for a device gets its own row per window, so a decoy
 * refusal cannot hide a later, different one. The rows not written are counted
 * (selfcert_provd_audit_suppressed_total). docs/THREAT-MODEL.md "Session 19 (flood19)".
 *
 * The key: SHA-256 over a per-process random key and the three fields (computed only on a
 * refusal), so bucket collisions cannot be chosen from outside; PROVD_AUDITLIM_BUCKETS buckets
 * of PROVD_AUDITLIM_WAYS entries, an entry the key's full digest and its row's time. A newcomer
 * takes a free or expired entry (the oldest expired); a bucket full of live entries does not
 * evict: the row is written (audit before quietness) and counted
 * (selfcert_provd_audit_limiter_full_total). A window is held only once its row was written:
 * provd_auditlim_undo gives it back when the write failed. Thread-safe (one mutex). Times:
 * monotonic seconds (provd_auditlim_now, -1 when the clock fails: then always written); the
 * caller passes them, so the unit tests move time.
 */
#ifndef SC_PROVD_AUDITLIM_H
#define SC_PROVD_AUDITLIM_H

#include <stdint.h>
#include <selfcert/err.h>

#define PROVD_AUDITLIM_WINDOW_S 60 /* one device-ca-changed row per chain shown per 60 s */
#define PROVD_AUDITLIM_BUCKETS 256 /* buckets of ... */
#define PROVD_AUDITLIM_WAYS 8      /* ... 8 entries: 2048 chains remembered (~80 KiB) */

struct provd_auditlim;

/* One refusal's key (provd_auditlim_key); ok 0: not computed (always written). */
struct provd_auditlim_key {
	uint8_t h[32];
	int ok;
};

sc_err provd_auditlim_new(struct provd_auditlim **out) SC_MUST_USE;
void provd_auditlim_free(struct provd_auditlim *l);

/* CLOCK_MONOTONIC, in seconds; -1 if the clock failed. */
int64_t provd_auditlim_now(void);

/*
 * The key of a refusal: the device ID, the device CA's and the KEK's SHA-256 (hex) as the
 * request showed them ("" for one it did not show). l NULL or a hash failure: k->ok 0.
 */
void provd_auditlim_key(const struct provd_auditlim *l, const char *device_id,
    const char *ca_sha256, const char *kek_sha256, struct provd_auditlim_key *k);

/*
 * 1: write this row (the window is held from now; provd_auditlim_undo if the write failed);
 * 0: this key's row was written less than PROVD_AUDITLIM_WINDOW_S ago, not written, counted
 * suppressed. Always 1 for l NULL, k->ok 0, now < 0, or a bucket full of live entries (counted
 * full, nothing held).
 */
int provd_auditlim_take(struct provd_auditlim *l, const struct provd_auditlim_key *k, int64_t now);

/* The row provd_auditlim_take(l, k, now) answered 1 for was not written: the window given back. */
void provd_auditlim_undo(struct provd_auditlim *l, const struct provd_auditlim_key *k, int64_t now);

/* The rows not written since start; the rows written as their bucket was full (0 for NULL). */
uint64_t provd_auditlim_suppressed(struct provd_auditlim *l);
uint64_t provd_auditlim_full(struct provd_auditlim *l);

/* Test seam: every key in bucket 0 (a collision forced without searching for one). */
void provd_auditlim_test_one_bucket(struct provd_auditlim *l);

#endif
