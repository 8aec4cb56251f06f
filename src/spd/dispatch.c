// SPDX-License-Identifier: Apache-2.0
/*
 * dispatch.c — the SP's one dispatch table and its gate (docs/PROTOCOL.md). Every request is
 * checked for version, type and state before its handler (req_*.c) runs; every failure becomes
 * one error answer and one log line here. Handlers decode their bodies strictly, change nothing
 * when they fail, and commit the sealed store before they answer a change.
 */
#include <stdio.h>
#include <selfcert/sp.h>
#include "log.h"
#include "req.h"
#include "sp_msg.h"
#include "sp_wire.h"

#define S_EMPTY (1u << SC_SP_STATE_EMPTY)
#define S_FACTORY (1u << SC_SP_STATE_FACTORY)
#define S_LOCKED (1u << SC_SP_STATE_LOCKED)
#define S_ANY (S_EMPTY | S_FACTORY | S_LOCKED)

#define F_FACTORY 0x1 /* a personalization request: refused with "locked" after lock */

/* The SP's whole surface: nothing outside this table can be asked of it. */
static const struct spd_dispatch_entry {
	uint8_t type;
	unsigned states; /* S_* bits in which the request is permitted */
	unsigned flags;
	spd_handler handler;
	unsigned rev; /* the protocol revision 1.x that added it (docs/PROTOCOL.md section 2) */
} spd_dispatch_table[] = {
	{ SC_SP_INFO, S_ANY, 0, spd_h_info, 0 },
	{ SC_SP_KEYGEN, S_EMPTY | S_FACTORY, F_FACTORY, spd_h_keygen, 0 },
	{ SC_SP_INSTALL_CERT, S_FACTORY, F_FACTORY, spd_h_install_cert, 0 },
	{ SC_SP_INSTALL_ANCHOR, S_EMPTY | S_FACTORY, F_FACTORY, spd_h_install_anchor, 0 },
	{ SC_SP_SET_LIMITS, S_EMPTY | S_FACTORY, F_FACTORY, spd_h_set_limits, 0 },
	{ SC_SP_LOCK, S_FACTORY, F_FACTORY, spd_h_lock, 0 },
	{ SC_SP_CHALLENGE, S_LOCKED, 0, spd_h_challenge, 0 },
	{ SC_SP_ISSUE, S_LOCKED, 0, spd_h_issue, 0 },
	{ SC_SP_KEYS, S_LOCKED, 0, spd_h_keys, 0 },
	{ SC_SP_SIGN, S_LOCKED, 0, spd_h_sign, 0 },
	{ SC_SP_DELETE, S_LOCKED, 0, spd_h_delete, 0 },
	{ SC_SP_DECRYPT, S_LOCKED, 0, spd_h_decrypt, 0 },
	{ SC_SP_DERIVE, S_LOCKED, 0, spd_h_derive, 0 },
	{ SC_SP_PROOF, S_LOCKED, 0, spd_h_proof, 1 },
	{ SC_SP_BACKEND, S_ANY, 0, spd_h_backend, 2 },
	{ SC_SP_GATE_CHALLENGE, S_LOCKED, 0, spd_h_gate_challenge, 4 },
	{ SC_SP_GATE_ISSUE, S_LOCKED, 0, spd_h_gate_issue, 4 },
	{ SC_SP_CRL, S_LOCKED, 0, spd_h_crl, 3 },
	{ SC_SP_RENEW, S_LOCKED, 0, spd_h_renew, 5 },
	{ SC_SP_BATCH_ISSUE, S_LOCKED, 0, spd_h_batch_issue, 5 },
};

sc_err spd_dispatch(struct spd *spd, const uint8_t *msg, size_t len, struct sc_buf *answer)
{
	const struct spd_dispatch_entry *e = NULL;
	struct sc_buf req;
	sc_err r = SC_ERR_INTERNAL;
	uint8_t type = 0;
	size_t i;

	sc_err_clear();
	sc_buf_init_reader(&req, msg, len);
	sc_buf_init_writer(answer, 0, 0);
	if ((r = sp_req_hdr_get(&req, &type)) != SC_OK)
		goto out;
	for (i = 0; i < sizeof(spd_dispatch_table) / sizeof(spd_dispatch_table[0]); i++)
		if (spd_dispatch_table[i].type == type &&
		    !(spd->emulate && spd_dispatch_table[i].rev > spd->emulate_rev))
			e = &spd_dispatch_table[i];
	if (e == NULL) {
		r = sc_fail(SC_ERR_UNKNOWN_REQUEST, "message type 0x%02x", type);
		goto out;
	}
	if (!(e->states & (1u << spd->st.state))) {
		if ((e->flags & F_FACTORY) && spd->st.state == SC_SP_STATE_LOCKED)
			r = sc_fail(SC_ERR_LOCKED, "%s: the SP is locked", sc_wire_msg_name(type));
		else
			r = sc_fail(SC_ERR_STATE, "%s: not permitted in state %s",
			    sc_wire_msg_name(type), sc_sp_state_name(spd->st.state));
		goto out;
	}
	sc_wire_begin(answer, (uint8_t)(type | SC_SP_ANSWER), 0);
	if ((r = e->handler(spd, &req, answer)) != SC_OK)
		goto out;
	if ((r = sc_buf_done(answer, "answer")) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK) {
		char detail[SC_WIRE_MAX_DETAIL + 1];

		/* Copy first: building the answer may itself call sc_fail. */
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		sc_buf_free(answer);
		/* Only out of memory can stop this; an empty answer makes the caller hang up. */
		if (sc_wire_error_answer(answer, r, detail) != SC_OK)
			sc_buf_free(answer);
		sc_fail(r, "%s", detail);
	}
	/* log.c escapes the detail: it may quote bytes the client sent. */
	if (spd->log)
		sc_log("uid %lu: %s: %s%s%s", spd->peer_uid,
		    e != NULL ? sc_wire_msg_name(type) : "-", r == SC_OK ? "ok" : sc_err_name(r),
		    r == SC_OK ? "" : ": ", r == SC_OK ? "" : sc_err_detail());
	return r;
}
