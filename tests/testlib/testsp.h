// SPDX-License-Identifier: Apache-2.0
/*
 * testsp.h — an in-process secure processor for tests (sctest_sp, links spd_core): a real
 * sealed store in a folder, opened into a struct spd, requests handed to spd_dispatch directly
 * with no socket, and the factory flow (personalization) done with a test world's manufacturer.
 */
#ifndef SC_TESTSP_H
#define SC_TESTSP_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include "buf.h"
#include "sp_wire.h"
#include "spd.h"
#include "testworld.h"

#define SC_TEST_PATH_MAX 512

struct sc_test_sp {
	char base[SC_TEST_PATH_MAX];    /* the temp folder made by open, removed by close;
	                                      "" when the caller named the folder */
	char dir[SC_TEST_PATH_MAX + 8]; /* the store's folder */
	struct spd *spd;                /* the SP over the open store (owned) */
	X509 *csk_cert, *kek_cert;      /* installed by sc_test_sp_personalize (owned) */
};

/*
 * Create an empty store for device_id and open it. dir NULL: in <a new temp folder>/sp, which
 * close removes; else in dir (created if missing, must not hold a device: SC_ERR_EXISTS), which
 * close leaves in place (e.g. for selfcert-spd to serve afterwards). Errors: spd_store_create's
 * and spd_store_open's; on failure *sp is closed.
 */
sc_err sc_test_sp_open(struct sc_test_sp *sp, const char *dir, const char *device_id) SC_MUST_USE;
/*
 * The same with the TPM key backend on the TPM named by tcti (backend.h's spd_tpm_open): the
 * process's one TPM connection, held until sc_test_sp_close (swtpm serves one at a time).
 */
sc_err sc_test_sp_open_tpm(struct sc_test_sp *sp, const char *dir, const char *device_id,
    const char *tcti) SC_MUST_USE;
/* Clear the state, close the store, forget challenges; remove the temp folder, if any. */
void sc_test_sp_close(struct sc_test_sp *sp);
/* Close and reopen the store: what the SP finds after a restart (challenges forgotten). */
sc_err sc_test_sp_restart(struct sc_test_sp *sp) SC_MUST_USE;

/* One answer, decoded far enough to check it. */
struct sc_test_answer {
	sc_err code;                         /* SC_OK, or the error answer's code */
	char detail[SC_WIRE_MAX_DETAIL + 1]; /* an error answer's detail */
	uint8_t *body;                       /* a success's body after version and type (copy) */
	size_t len;
	struct sc_buf rd; /* a reader over body */
};
void sc_test_answer_free(struct sc_test_answer *a);

/*
 * Send [version][type][body] to spd_dispatch. Returns the answer's code (SC_OK or the error
 * sent), or SC_ERR_PEER when the answer itself breaks the protocol: shorter than two bytes,
 * another version, a type other than type|SC_SP_ANSWER or SC_SP_ERROR, an error without a
 * code below 0 or without a detail, or a code other than spd_dispatch's return. a may be NULL;
 * else the caller frees it (sc_test_answer_free), whatever the result.
 */
sc_err sc_test_sp_call(struct sc_test_sp *sp, uint8_t type, const uint8_t *body, size_t len,
    struct sc_test_answer *a) SC_MUST_USE;

/*
 * The factory flow, as `selfcert mfr personalize` runs it: KEYGEN for the CSK (csk_alg) and
 * the KEK (kek_alg), each request's proof of possession checked and its key certified by w's
 * manufacturer CA (sc_test_world_device_ca / _kek), INSTALL_CERT both, INSTALL_ANCHOR w's
 * network root for w's network, SET_LIMITS, and LOCK unless lock is 0. The certificates go to
 * sp->csk_cert and sp->kek_cert only when the whole flow succeeded. The SP's device ID is the
 * one it was opened with. Errors: the first refused request's code (detail from sc_fail),
 * SC_ERR_PEER for a CSR that does not verify.
 */
sc_err sc_test_sp_personalize(struct sc_test_sp *sp, const struct sc_test_world *w,
    enum sc_alg csk_alg, enum sc_alg kek_alg, uint32_t max_leaf_days, uint32_t max_keys,
    int lock) SC_MUST_USE;

#endif
