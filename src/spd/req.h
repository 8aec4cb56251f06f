// SPDX-License-Identifier: Apache-2.0
/*
 * req.h — what the SP's request handlers share (selfcert-spd internal): the handler type the
 * dispatch table holds, the handlers by trust phase (req_factory.c, req_issue.c, req_keys.c),
 * and the few state helpers they all use (state.c).
 */
#ifndef SPD_REQ_H
#define SPD_REQ_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include "buf.h"
#include "spd.h"

/*
 * A handler reads its body from req (positioned after version and type), writes its answer
 * body into ans (already holding version and answer type) and returns SC_OK, or fails with
 * sc_fail and leaves the state as it found it. Each one decodes its whole body first with its
 * request's decoder (sp_msg.h: exactly, or malformed / trailing-data) and writes its answer with
 * that answer's encoder, so the layout is the host's, byte for byte.
 */
typedef sc_err (*spd_handler)(struct spd *spd, struct sc_buf *req, struct sc_buf *ans);

/* Factory (req_factory.c): dead after LOCK, except INFO. */
sc_err spd_h_info(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
/* The key backend and, for a TPM, what chip it is (any state, like INFO; revision 1.2). */
sc_err spd_h_backend(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_keygen(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_install_cert(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_install_anchor(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_set_limits(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_lock(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
/* Issuance (req_issue.c). */
sc_err spd_h_challenge(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
/* Operator-gated issuance, TPM only (req_issue.c, revision 1.4, issue #12). */
sc_err spd_h_gate_challenge(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_gate_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_renew(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE; /* #17 */
sc_err spd_h_batch_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
/* A request proof for the provisioning server, signed with the CSK (req_issue.c). */
sc_err spd_h_proof(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
/* The device CA's own empty CRL, signed with the CSK (req_issue.c; revision 1.3). */
sc_err spd_h_crl(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
/* Leaf-key use (req_keys.c). */
sc_err spd_h_keys(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_sign(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_delete(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_decrypt(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;
sc_err spd_h_derive(struct spd *spd, struct sc_buf *req, struct sc_buf *ans) SC_MUST_USE;

/* ---- state.c ---- */

/* The slot holding handle (and its index in *idx if idx is not NULL), or NULL. */
struct spd_slot *spd_find_slot(struct spd_state *st, uint32_t handle, size_t *idx);

/* Seal the state into the SP's store (spd_store_commit); SC_ERR_INTERNAL without a store. */
sc_err spd_commit(struct spd *spd) SC_MUST_USE;

#endif
