// SPDX-License-Identifier: Apache-2.0
/*
 * keygen.h — server key generation (embodiment 2) off the HTTP workers: a few threads of its own
 * and a bounded queue of jobs. An RSA-4096 key takes seconds; made on a worker, eight of them
 * stalled every other request (issue 16 item 7). Jobs beyond what the pool admits are refused at
 * once with PROVD_ERR_BUSY (503 unavailable, Retry-After), never queued without bound.
 */
#ifndef SC_PROVD_KEYGEN_H
#define SC_PROVD_KEYGEN_H

#include <openssl/evp.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>

#define PROVD_KEYGEN_THREADS_DEFAULT 1
#define PROVD_KEYGEN_QUEUE_DEFAULT 4
#define PROVD_KEYGEN_THREADS_MAX 64
#define PROVD_KEYGEN_QUEUE_MAX 1024
/* A request waits this long for its key, then 503: below provd's default idle timeout (30 s), as
 * other connections its HTTP worker accepted wait behind it (main.c, start_keygen). */
#define PROVD_KEYGEN_WAIT_MS 20000
#define PROVD_KEYGEN_RETRY_AFTER 2 /* seconds, the Retry-After of a refusal */

struct provd_keygen;

/*
 * Start threads (1..PROVD_KEYGEN_THREADS_MAX) generating keys, admitting at most `admit` jobs
 * at a time (1..PROVD_KEYGEN_THREADS_MAX + PROVD_KEYGEN_QUEUE_MAX): the ones running and the
 * ones waiting for a thread. SC_ERR_USAGE for a count out of range, SC_ERR_NOMEM /
 * SC_ERR_INTERNAL when a thread cannot start (nothing is left running then).
 */
sc_err provd_keygen_start(unsigned threads, unsigned admit, struct provd_keygen **out) SC_MUST_USE;

/*
 * Generate a key of alg on the pool and wait up to wait_ms for it: *out is the caller's.
 * PROVD_ERR_BUSY when the pool already holds `admit` jobs, when the key is not ready within
 * wait_ms (the job is dropped; its key is freed when it is made) or when the pool is stopping;
 * the error of sc_alg_keygen otherwise. Safe from any number of threads.
 */
sc_err provd_keygen_run(struct provd_keygen *kg, enum sc_alg alg, long wait_ms,
    EVP_PKEY **out) SC_MUST_USE;

/* Jobs admitted and not yet finished or abandoned (for tests and metrics). */
unsigned provd_keygen_pending(struct provd_keygen *kg);

/*
 * Stop: jobs not yet started fail with PROVD_ERR_BUSY, the ones running finish, the threads are
 * joined, and kg is freed once no caller of provd_keygen_run is left inside it. NULL is a no-op.
 */
void provd_keygen_stop(struct provd_keygen *kg);

#endif
