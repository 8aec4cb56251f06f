// SPDX-License-Identifier: Apache-2.0
/*
 * store.h — the SP's sealed store: the whole state in one AES-256-GCM file under a key derived
 * from the device's root key, committed atomically, protected against rollback by a monotonic
 * counter kept in a separate file (docs/PROTOCOL.md, "Sealed store").
 *
 * DIR/root.key  32 random bytes, 0400: the emulated hardware-unique key
 * DIR/counter   the emulated monotonic counter, 4112 bytes: two 16-byte slots, slot 0 at offset 0
 *               and slot 1 at 4096 (zeros between), each u64 BE value | the first 8 bytes of
 *               SHA-256("selfcert-spd counter slot" | value), value v in slot v % 2; the counter
 *               is the larger valid slot (two valid ones differ by 1). A commit writes the next
 *               slot in place and fsyncs it; sp init, the roll-forward at open and the first
 *               commit on an older form replace the whole file. Older versions' form, still
 *               read: 8 bytes, big-endian u64 (replaced by the first commit).
 * DIR/store     "SCST" | u8 version | u64 counter | nonce[12] | ciphertext | tag[16]
 *
 * root.key and counter are the soft key backend's (backend.h, backend_soft.c): the store reaches
 * its sealing secret and its counter only through the backend the folder was made by.
 */
#ifndef SPD_STORE_H
#define SPD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include "backend.h"
#include "file.h"
#include "spd.h"

#define SPD_STORE_MAGIC "SCST"
#define SPD_STORE_VERSION 1
#define SPD_STORE_RENEWAL_TAG 0x52 /* "R": the optional renewal table after the slots (#17) */
#define SPD_STORE_HDR_LEN (4 + 1 + 8 + 12) /* magic, version, counter, nonce: the AAD */
#define SPD_STORE_TAG_LEN 16
#define SPD_STORE_MAX (8u << 20)        /* 256 RSA-4096 keys with certificates fit */
#define SPD_ROOT_KEY_LEN SPD_SECRET_LEN /* root.key: the soft backend's sealing secret */

/*
 * Fail points (failpoint.h; builds with SC_FAILPOINTS only, which cmake/faults.cmake turns on for
 * every build type but Release, RelWithDebInfo and MinSizeRel). The variable is read once, when
 * the first store is opened or created:
 *
 *   SELFCERT_SPD_FAILPOINT=<name>:<nth>[:exit|:error]    or    SELFCERT_SPD_FAILPOINT=trace
 *
 * Names, in the order one commit passes them (each point sits just BEFORE its step):
 *   store-open store-write store-fsync store-rename store-dirsync      the sealed store
 *   counter-write counter-fsync                    the counter's next slot, in place
 *   commit-done                                    everything durable, nothing answered yet
 * store-write is passed once per write (the header, then pieces of at most 64 KiB). Where the
 * counter file is replaced whole (create, open's roll-forward, the first commit on an 8-byte
 * counter or one the store could not keep open) it passes counter-open counter-write
 * counter-fsync counter-rename counter-dirsync instead.
 * On the nth pass (counting from 1, per name, over the process's life): `exit` (the default)
 * ends the process at once with _exit(SPD_FAILPOINT_EXIT), like a crash; `error` makes that step
 * fail with SC_ERR_IO and the commit return it. `trace` prints every pass to stderr as
 * "selfcert-spd: fail point <name> #<n>" and injects nothing. An unknown name or a malformed
 * value makes open and create fail with SC_ERR_USAGE.
 */
#define SPD_FAILPOINT_ENV "SELFCERT_SPD_FAILPOINT"
#define SPD_FAILPOINT_EXIT 70 /* EX_SOFTWARE: told apart from any real exit */

struct spd_store; /* an open store: paths, derived key (secure heap), counters */

/*
 * `selfcert sp init`: create DIR (0700) if missing and in it root.key (0400), an empty state
 * for device_id sealed as `store` with counter 0, and `counter` = 0. SC_ERR_EXISTS if DIR
 * already holds a root key or store (never overwrites a device), SC_ERR_USAGE for an invalid
 * device ID, SC_ERR_IO otherwise.
 */
sc_err spd_store_create(const char *dir, const char *device_id) SC_MUST_USE;
/* The same with the key backend be (the soft one above); the folder then records it. */
sc_err spd_store_create_with(const char *dir, const char *device_id,
    const struct spd_backend *be) SC_MUST_USE;

/*
 * Open DIR and unseal the state into *st (initialised here; the caller clears it with
 * spd_state_clear). Counter file c, store header counter s: s == c is the normal case;
 * s == c + 1 means a crash between the store's rename and the counter's update, so the counter
 * is rolled forward; s < c is SC_ERR_ROLLBACK; anything else (s > c + 1, a missing or
 * malformed counter, bad magic or version, truncation, a failed tag, a plaintext that does not
 * decode exactly) is SC_ERR_STORE_DAMAGED with a detail. Nothing is ever "repaired" into an
 * empty device. *out is the caller's (spd_store_close).
 * On success, temp files left by interrupted commits (`store.tmp-*`, `counter.tmp-*`) are
 * removed, so the caller must hold the folder's lock (selfcert-spd's flock): another process's
 * commit in progress would otherwise lose its temp file. The soft backend's counter file, when
 * in its two-slot form, is then kept open until spd_store_close (backend.h's counter_keep).
 */
sc_err spd_store_open(const char *dir, struct spd_store **out, struct spd_state *st) SC_MUST_USE;

/*
 * Seal st with counter + 1 and make it durable: temp file (O_EXCL|O_NOFOLLOW, 0600), fsync,
 * rename over `store`, fsync DIR, then the counter: its next slot written in place and fsynced
 * through the file the store keeps open (soft backend; replaced whole the same way as the store
 * when it is not kept: an older 8-byte counter), or the backend's increment. On failure the caller
 * must treat the change as not made (the store on disk is the old or, at worst, the new state,
 * both of which open); the next commit seals with the same counter + 1 again.
 */
sc_err spd_store_commit(struct spd_store *store, const struct spd_state *st) SC_MUST_USE;

/* The counter of the last successful commit (for tests and INFO). */
uint64_t spd_store_counter(const struct spd_store *store);

void spd_store_close(struct spd_store *store);

/*
 * The fail points of an atomic replace (file.h), for the two files a commit writes: passed as
 * sc_file_replace's step hook with ctx pointing at which file it is. store.c writes the store;
 * backend_soft.c writes the counter file through it (a replace passes all five counter-*
 * points; a slot written in place passes counter-write and counter-fsync). Returns the point's result (SC_ERR_IO in error mode).
 */
enum spd_store_file { SPD_STORE_FILE_STORE, SPD_STORE_FILE_COUNTER };
sc_err spd_store_step(void *ctx, enum sc_file_step step) SC_MUST_USE;

/*
 * The plaintext codec, exposed for tests: serialize into a secret writer / parse exactly
 * (SC_ERR_STORE_DAMAGED on any inconsistency; *st initialised here).
 */
sc_err spd_state_serialize(const struct spd_state *st, struct sc_buf *out) SC_MUST_USE;
sc_err spd_state_parse(const uint8_t *p, size_t len, struct spd_state *st) SC_MUST_USE;

/* The store's and the counter file's big-endian 64-bit numbers (docs/PROTOCOL.md §6). */
void spd_be64_put(uint8_t p[8], uint64_t v);
uint64_t spd_be64_get(const uint8_t p[8]);

#endif
