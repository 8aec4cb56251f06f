// SPDX-License-Identifier: Apache-2.0
/*
 * sp_msg.c — the layout of docs/PROTOCOL.md section 4, written once (sp_msg.h): one encoder and
 * one decoder per request and answer, shared by the host, the SP, the fuzz corpus and the tests.
 * Calls nothing but buf.c and err.c (sc_fail, sc_err_name), so a firmware SP can take it as is.
 */
#include <string.h>
#include "sp_msg.h"

const char *sp_msg_name(int type)
{
	switch (type) {
	case SC_SP_INFO: return "info";
	case SC_SP_KEYGEN: return "keygen";
	case SC_SP_INSTALL_CERT: return "install-cert";
	case SC_SP_INSTALL_ANCHOR: return "install-anchor";
	case SC_SP_SET_LIMITS: return "set-limits";
	case SC_SP_LOCK: return "lock";
	case SC_SP_CHALLENGE: return "challenge";
	case SC_SP_ISSUE: return "issue";
	case SC_SP_KEYS: return "keys";
	case SC_SP_SIGN: return "sign";
	case SC_SP_DELETE: return "delete";
	case SC_SP_DECRYPT: return "decrypt";
	case SC_SP_DERIVE: return "derive";
	case SC_SP_PROOF: return "proof";
	case SC_SP_BACKEND: return "backend";
	case SC_SP_GATE_CHALLENGE: return "gate-challenge";
	case SC_SP_GATE_ISSUE: return "gate-issue";
	case SC_SP_CRL: return "crl";
	case SC_SP_RENEW: return "renew";
	case SC_SP_BATCH_ISSUE: return "batch-issue";
	case SC_SP_ERROR: return "error";
	default: return "unknown";
	}
}

/* A request's body must be consumed exactly; sc_buf_done names what was wrong. */
static sc_err req_done(struct sc_buf *b, const char *what)
{
	return sc_buf_done(b, what);
}

/* An answer that does not decode is the SP breaking protocol, not our caller's input. */
static sc_err ans_done(struct sc_buf *b, const char *what)
{
	if (sc_buf_done(b, what) != SC_OK)
		return sc_fail(SC_ERR_PEER, "%s answer: %s", what, sc_err_detail());
	return SC_OK;
}

/* ---- header ---- */

void sp_hdr_put(struct sc_buf *b, uint8_t type)
{
	sc_buf_put_u8(b, SC_SP_PROTO_VERSION);
	sc_buf_put_u8(b, type);
}

sc_err sp_req_hdr_get(struct sc_buf *b, uint8_t *type)
{
	uint8_t version = sc_buf_get_u8(b);

	*type = sc_buf_get_u8(b);
	if (b->failed)
		return sc_fail(SC_ERR_MALFORMED, "message of %zu bytes: no version and type",
		    b->len);
	if (version != SC_SP_PROTO_VERSION)
		return sc_fail(SC_ERR_MALFORMED, "protocol version %u, this SP speaks %u", version,
		    SC_SP_PROTO_VERSION);
	return SC_OK;
}

sc_err sp_ans_hdr_get(struct sc_buf *b, uint8_t req_type)
{
	char detail[SC_WIRE_MAX_DETAIL + 1];
	uint8_t version, type;
	int32_t code;
	sc_err r;

	version = sc_buf_get_u8(b);
	type = sc_buf_get_u8(b);
	if (version != SC_SP_PROTO_VERSION)
		return sc_fail(SC_ERR_PEER, "answer has protocol version %u, expected %u", version,
		    SC_SP_PROTO_VERSION);
	if (type == SC_SP_ERROR) {
		if ((r = sp_error_ans_get(b, &code, detail)) != SC_OK)
			return r;
		/* Only codes we know: the CLI prints the name and exits by the code's class. */
		if (code >= 0 || strcmp(sc_err_name((sc_err)code), "unknown") == 0)
			return sc_fail(SC_ERR_PEER, "SP error answer with code %d", (int)code);
		/* The detail ends up on the user's terminal as one line: no control characters. */
		for (char *c = detail; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return sc_fail((sc_err)code, "%s", detail);
	}
	if (type != (req_type | SC_SP_ANSWER))
		return sc_fail(SC_ERR_PEER, "answer type 0x%02x to %s, expected 0x%02x", type,
		    sp_msg_name(req_type), req_type | SC_SP_ANSWER);
	return SC_OK;
}

/* ---- ERROR ---- */

void sp_error_ans_put(struct sc_buf *b, sc_err code, const char *detail)
{
	size_t n = detail != NULL ? strnlen(detail, SC_WIRE_MAX_DETAIL) : 0;

	/* An error answer always carries an error: a "failure" with code 0 would read as success. */
	sc_buf_put_u32(b, (uint32_t)(int32_t)(code < 0 ? code : SC_ERR_INTERNAL));
	sc_buf_put_string(b, detail, n);
}

sc_err sp_error_ans_get(struct sc_buf *b, int32_t *code, char detail[SC_WIRE_MAX_DETAIL + 1])
{
	*code = (int32_t)sc_buf_get_u32(b);
	sc_buf_get_cstring(b, detail, SC_WIRE_MAX_DETAIL);
	if (sc_buf_done(b, "error answer") != SC_OK)
		return sc_fail(SC_ERR_PEER, "SP error answer: %s", sc_err_detail());
	return SC_OK;
}

/* ---- bodies with nothing in them ---- */

void sp_info_req_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_info_req_get(struct sc_buf *b)
{
	return req_done(b, "info");
}
void sp_install_cert_ans_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_install_cert_ans_get(struct sc_buf *b)
{
	return ans_done(b, "install-cert");
}
void sp_install_anchor_ans_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_install_anchor_ans_get(struct sc_buf *b)
{
	return ans_done(b, "install-anchor");
}
void sp_set_limits_ans_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_set_limits_ans_get(struct sc_buf *b)
{
	return ans_done(b, "set-limits");
}
void sp_lock_req_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_lock_req_get(struct sc_buf *b)
{
	return req_done(b, "lock");
}
void sp_lock_ans_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_lock_ans_get(struct sc_buf *b)
{
	return ans_done(b, "lock");
}
void sp_challenge_req_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_challenge_req_get(struct sc_buf *b)
{
	return req_done(b, "challenge");
}
void sp_delete_ans_put(struct sc_buf *b)
{
	(void)b;
}
sc_err sp_delete_ans_get(struct sc_buf *b)
{
	return ans_done(b, "delete");
}

/* ---- INFO ---- */

void sp_info_ans_put(struct sc_buf *b, const struct sp_info *info)
{
	uint32_t i;

	if (info->n_networks > SC_SP_MAX_ANCHORS) {
		b->failed = 1;
		return;
	}
	sc_buf_put_u8(b, info->state);
	sc_buf_put_cstring(b, info->device_id);
	sc_buf_put_u64(b, info->issuance_counter);
	sc_buf_put_u32(b, info->n_keys);
	sc_buf_put_u32(b, info->max_keys);
	sc_buf_put_u32(b, info->max_leaf_days);
	sc_buf_put_string(b, info->csk_cert, info->csk_cert_len);
	sc_buf_put_string(b, info->kek_cert, info->kek_cert_len);
	sc_buf_put_u32(b, info->n_networks);
	for (i = 0; i < info->n_networks; i++)
		sc_buf_put_cstring(b, info->networks[i]);
}

sc_err sp_info_ans_get(struct sc_buf *b, struct sp_info *info)
{
	uint32_t i, n;
	sc_err r;

	memset(info, 0, sizeof(*info));
	info->state = sc_buf_get_u8(b);
	sc_buf_get_cstring(b, info->device_id, SP_MSG_ID_MAX);
	info->issuance_counter = sc_buf_get_u64(b);
	info->n_keys = sc_buf_get_u32(b);
	info->max_keys = sc_buf_get_u32(b);
	info->max_leaf_days = sc_buf_get_u32(b);
	sc_buf_get_string(b, &info->csk_cert, &info->csk_cert_len, SC_WIRE_MAX_CERT);
	sc_buf_get_string(b, &info->kek_cert, &info->kek_cert_len, SC_WIRE_MAX_CERT);
	n = sc_buf_get_u32(b);
	if (n > SC_SP_MAX_ANCHORS)
		return sc_fail(SC_ERR_PEER, "info answer: %u networks", (unsigned)n);
	for (i = 0; i < n; i++)
		sc_buf_get_cstring(b, info->networks[i], SP_MSG_ID_MAX);
	info->n_networks = n;
	if ((r = ans_done(b, "info")) != SC_OK)
		return r;
	if (info->state > SC_SP_STATE_LOCKED)
		return sc_fail(SC_ERR_PEER, "info answer: unknown state %d", (int)info->state);
	/* An absent certificate is an empty string: say so with NULL, not a pointer to nothing. */
	if (info->csk_cert_len == 0)
		info->csk_cert = NULL;
	if (info->kek_cert_len == 0)
		info->kek_cert = NULL;
	return SC_OK;
}

/* ---- KEYGEN ---- */

void sp_keygen_req_put(struct sc_buf *b, uint8_t role, uint8_t alg)
{
	sc_buf_put_u8(b, role);
	sc_buf_put_u8(b, alg);
}

sc_err sp_keygen_req_get(struct sc_buf *b, uint8_t *role, uint8_t *alg)
{
	*role = sc_buf_get_u8(b);
	*alg = sc_buf_get_u8(b);
	return req_done(b, "keygen");
}

void sp_keygen_ans_put(struct sc_buf *b, const uint8_t *csr, size_t csr_len)
{
	sc_buf_put_string(b, csr, csr_len);
}

sc_err sp_keygen_ans_get(struct sc_buf *b, const uint8_t **csr, size_t *csr_len)
{
	sc_buf_get_string(b, csr, csr_len, SC_WIRE_MAX_CERT);
	return ans_done(b, "keygen");
}

/* ---- INSTALL_CERT ---- */

void sp_install_cert_req_put(struct sc_buf *b, uint8_t role, const uint8_t *cert, size_t cert_len)
{
	sc_buf_put_u8(b, role);
	sc_buf_put_string(b, cert, cert_len);
}

sc_err sp_install_cert_req_get(struct sc_buf *b, uint8_t *role, const uint8_t **cert,
    size_t *cert_len)
{
	*role = sc_buf_get_u8(b);
	sc_buf_get_string(b, cert, cert_len, SC_WIRE_MAX_CERT);
	return req_done(b, "install-cert");
}

/* ---- INSTALL_ANCHOR ---- */

void sp_install_anchor_req_put(struct sc_buf *b, const char *network_id, const uint8_t *cert,
    size_t cert_len)
{
	sc_buf_put_cstring(b, network_id);
	sc_buf_put_string(b, cert, cert_len);
}

sc_err sp_install_anchor_req_get(struct sc_buf *b, char network_id[SP_MSG_ID_MAX + 1],
    const uint8_t **cert, size_t *cert_len)
{
	sc_buf_get_cstring(b, network_id, SP_MSG_ID_MAX);
	sc_buf_get_string(b, cert, cert_len, SC_WIRE_MAX_CERT);
	return req_done(b, "install-anchor");
}

/* ---- SET_LIMITS ---- */

void sp_set_limits_req_put(struct sc_buf *b, uint32_t max_leaf_days, uint32_t max_keys)
{
	sc_buf_put_u32(b, max_leaf_days);
	sc_buf_put_u32(b, max_keys);
}

sc_err sp_set_limits_req_get(struct sc_buf *b, uint32_t *max_leaf_days, uint32_t *max_keys)
{
	*max_leaf_days = sc_buf_get_u32(b);
	*max_keys = sc_buf_get_u32(b);
	return req_done(b, "set-limits");
}

/* ---- CHALLENGE ---- */

void sp_challenge_ans_put(struct sc_buf *b, const uint8_t challenge[SC_SP_CHALLENGE_LEN])
{
	sc_buf_put_bytes(b, challenge, SC_SP_CHALLENGE_LEN);
}

sc_err sp_challenge_ans_get(struct sc_buf *b, uint8_t out[SC_SP_CHALLENGE_LEN])
{
	const uint8_t *c = sc_buf_get_bytes(b, SC_SP_CHALLENGE_LEN);
	sc_err r;

	if ((r = ans_done(b, "challenge")) != SC_OK)
		return r;
	memcpy(out, c, SC_SP_CHALLENGE_LEN);
	return SC_OK;
}

/* ---- GATE_CHALLENGE ---- */

void sp_gate_challenge_req_put(struct sc_buf *b, uint8_t alg, uint32_t ku)
{
	sc_buf_put_u8(b, alg);
	sc_buf_put_u32(b, ku);
}

sc_err sp_gate_challenge_req_get(struct sc_buf *b, uint8_t *alg, uint32_t *ku)
{
	*alg = sc_buf_get_u8(b);
	*ku = sc_buf_get_u32(b);
	return req_done(b, "gate-challenge");
}

void sp_gate_challenge_ans_put(struct sc_buf *b, const uint8_t nonce[SC_SP_CHALLENGE_LEN],
    uint64_t counter, const uint8_t name[SP_MSG_GATE_NAME_LEN], const uint8_t *spki,
    size_t spki_len)
{
	sc_buf_put_bytes(b, nonce, SC_SP_CHALLENGE_LEN);
	sc_buf_put_u64(b, counter);
	sc_buf_put_string(b, name, SP_MSG_GATE_NAME_LEN);
	sc_buf_put_string(b, spki, spki_len);
}

sc_err sp_gate_challenge_ans_get(struct sc_buf *b, const uint8_t **nonce, uint64_t *counter,
    const uint8_t **name, const uint8_t **spki, size_t *spki_len)
{
	size_t name_len = 0;
	sc_err r;

	*nonce = sc_buf_get_bytes(b, SC_SP_CHALLENGE_LEN);
	*counter = sc_buf_get_u64(b);
	sc_buf_get_string(b, name, &name_len, SP_MSG_GATE_NAME_LEN);
	sc_buf_get_string(b, spki, spki_len, SP_MSG_MAX_SPKI);
	if ((r = ans_done(b, "gate-challenge")) != SC_OK)
		return r;
	if (name_len != SP_MSG_GATE_NAME_LEN)
		return sc_fail(SC_ERR_PEER, "gate-challenge answer: csk_name is not %d bytes",
		    SP_MSG_GATE_NAME_LEN);
	return SC_OK;
}

/* ---- GATE_ISSUE ---- */

void sp_gate_issue_req_put(struct sc_buf *b, const uint8_t *profile, size_t profile_len,
    const uint8_t *auth, size_t auth_len)
{
	sc_buf_put_string(b, profile, profile_len);
	sc_buf_put_string(b, auth, auth_len);
}

sc_err sp_gate_issue_req_get(struct sc_buf *b, const uint8_t **profile, size_t *profile_len,
    const uint8_t **auth, size_t *auth_len)
{
	sc_err r;

	sc_buf_get_string(b, profile, profile_len, SC_SP_MAX_MSG);
	sc_buf_get_string(b, auth, auth_len, SP_MSG_MAX_GATE_AUTH);
	if ((r = req_done(b, "gate-issue")) != SC_OK)
		return r;
	if (*auth_len == 0)
		return sc_fail(SC_ERR_MALFORMED, "gate-issue: empty authorization");
	return SC_OK;
}

/* ---- ISSUE ---- */

void sp_issue_req_put(struct sc_buf *b, const uint8_t *profile, size_t profile_len)
{
	sc_buf_put_string(b, profile, profile_len);
}

sc_err sp_issue_req_get(struct sc_buf *b, const uint8_t **profile, size_t *profile_len)
{
	sc_buf_get_string(b, profile, profile_len, SC_SP_MAX_MSG);
	return req_done(b, "issue");
}

void sp_issue_ans_put(struct sc_buf *b, uint32_t handle, const uint8_t *cert, size_t cert_len)
{
	sc_buf_put_u32(b, handle);
	sc_buf_put_string(b, cert, cert_len);
}

sc_err sp_issue_ans_get(struct sc_buf *b, uint32_t *handle, const uint8_t **cert, size_t *cert_len)
{
	sc_err r;

	*handle = sc_buf_get_u32(b);
	sc_buf_get_string(b, cert, cert_len, SC_WIRE_MAX_CERT);
	if ((r = ans_done(b, "issue")) != SC_OK)
		return r;
	if (*handle == 0 || *cert_len == 0)
		return sc_fail(SC_ERR_PEER, "issue answer: no handle or no certificate");
	return SC_OK;
}

/* ---- KEYS ---- */

void sp_keys_req_put(struct sc_buf *b, uint32_t after)
{
	sc_buf_put_u32(b, after);
}

sc_err sp_keys_req_get(struct sc_buf *b, uint32_t *after)
{
	*after = sc_buf_get_u32(b);
	return req_done(b, "keys");
}

void sp_keys_ans_put_head(struct sc_buf *b, uint8_t more, uint32_t n)
{
	sc_buf_put_u8(b, more);
	sc_buf_put_u32(b, n);
}

void sp_keys_ans_put_key(struct sc_buf *page, uint32_t handle, uint8_t alg, const uint8_t *cert,
    size_t cert_len)
{
	sc_buf_put_u32(page, handle);
	sc_buf_put_u8(page, alg);
	sc_buf_put_string(page, cert, cert_len);
}

sc_err sp_keys_ans_get_head(struct sc_buf *b, uint32_t max_n, uint8_t *more, uint32_t *n)
{
	*more = sc_buf_get_u8(b);
	*n = sc_buf_get_u32(b);
	if (b->failed)
		return ans_done(b, "keys");
	/* A page that says "more" but holds nothing would have the host ask forever. */
	if (*more > 1 || *n > max_n || (*more == 1 && *n == 0))
		return sc_fail(SC_ERR_PEER, "keys answer: bad page (more %u, count %u)", *more,
		    (unsigned)*n);
	return SC_OK;
}

sc_err sp_keys_ans_get_key(struct sc_buf *b, uint32_t *handle, uint8_t *alg, const uint8_t **cert,
    size_t *cert_len)
{
	*handle = sc_buf_get_u32(b);
	*alg = sc_buf_get_u8(b);
	sc_buf_get_string(b, cert, cert_len, SC_WIRE_MAX_CERT);
	if (b->failed)
		return ans_done(b, "keys");
	return SC_OK;
}

sc_err sp_keys_ans_done(struct sc_buf *b)
{
	return ans_done(b, "keys");
}

/* ---- SIGN ---- */

void sp_sign_req_put(struct sc_buf *b, const struct sp_sign_req *req)
{
	sc_buf_put_u32(b, req->handle);
	sc_buf_put_u8(b, req->mode);
	sc_buf_put_u8(b, req->digest);
	sc_buf_put_string(b, req->input, req->input_len);
	if (req->mode == SC_SP_SIGN_PSS)
		sc_buf_put_u32(b, req->salt_len);
}

sc_err sp_sign_req_get(struct sc_buf *b, struct sp_sign_req *req)
{
	memset(req, 0, sizeof(*req));
	req->handle = sc_buf_get_u32(b);
	req->mode = sc_buf_get_u8(b);
	req->digest = sc_buf_get_u8(b);
	sc_buf_get_string(b, &req->input, &req->input_len, SC_SP_MAX_SIGN_INPUT);
	/* Only PSS has a salt length, after the input. */
	if (req->mode == SC_SP_SIGN_PSS)
		req->salt_len = sc_buf_get_u32(b);
	return req_done(b, "sign");
}

void sp_sign_ans_put(struct sc_buf *b, const uint8_t *sig, size_t sig_len)
{
	sc_buf_put_string(b, sig, sig_len);
}

sc_err sp_sign_ans_get(struct sc_buf *b, uint8_t mode, const uint8_t **sig, size_t *sig_len)
{
	sc_err r;

	sc_buf_get_string(b, sig, sig_len,
	    mode == SC_SP_SIGN_PSS ? SC_SP_MAX_CIPHERTEXT : SP_MSG_MAX_SIGNATURE);
	if ((r = ans_done(b, "sign")) != SC_OK)
		return r;
	if (*sig_len == 0)
		return sc_fail(SC_ERR_PEER, "sign answer: empty signature");
	return SC_OK;
}

/* ---- DELETE ---- */

void sp_delete_req_put(struct sc_buf *b, uint32_t handle)
{
	sc_buf_put_u32(b, handle);
}

sc_err sp_delete_req_get(struct sc_buf *b, uint32_t *handle)
{
	*handle = sc_buf_get_u32(b);
	return req_done(b, "delete");
}

/* ---- DECRYPT ---- */

void sp_decrypt_req_put(struct sc_buf *b, const struct sp_decrypt_req *req)
{
	sc_buf_put_u32(b, req->handle);
	sc_buf_put_u8(b, req->scheme);
	sc_buf_put_u8(b, req->hash);
	sc_buf_put_u8(b, req->mgf1_hash);
	sc_buf_put_string(b, req->label, req->label_len);
	sc_buf_put_string(b, req->ciphertext, req->ciphertext_len);
}

sc_err sp_decrypt_req_get(struct sc_buf *b, struct sp_decrypt_req *req)
{
	memset(req, 0, sizeof(*req));
	req->handle = sc_buf_get_u32(b);
	req->scheme = sc_buf_get_u8(b);
	req->hash = sc_buf_get_u8(b);
	req->mgf1_hash = sc_buf_get_u8(b);
	sc_buf_get_string(b, &req->label, &req->label_len, SC_SP_MAX_OAEP_LABEL);
	sc_buf_get_string(b, &req->ciphertext, &req->ciphertext_len, SC_SP_MAX_CIPHERTEXT);
	return req_done(b, "decrypt");
}

void sp_decrypt_ans_put(struct sc_buf *b, const uint8_t *plain, size_t plain_len)
{
	b->secret = 1;
	sc_buf_put_string(b, plain, plain_len);
}

sc_err sp_decrypt_ans_get(struct sc_buf *b, const uint8_t **plain, size_t *plain_len)
{
	sc_buf_get_string(b, plain, plain_len, SC_SP_MAX_CIPHERTEXT);
	return ans_done(b, "decrypt");
}

/* ---- DERIVE ---- */

void sp_derive_req_put(struct sc_buf *b, uint32_t handle, const uint8_t *point, size_t point_len)
{
	sc_buf_put_u32(b, handle);
	sc_buf_put_string(b, point, point_len);
}

sc_err sp_derive_req_get(struct sc_buf *b, uint32_t *handle, const uint8_t **point,
    size_t *point_len)
{
	*handle = sc_buf_get_u32(b);
	sc_buf_get_string(b, point, point_len, SC_SP_MAX_EC_POINT);
	return req_done(b, "derive");
}

void sp_derive_ans_put(struct sc_buf *b, const uint8_t *secret, size_t secret_len)
{
	b->secret = 1;
	sc_buf_put_string(b, secret, secret_len);
}

sc_err sp_derive_ans_get(struct sc_buf *b, const uint8_t **secret, size_t *secret_len)
{
	sc_err r;

	sc_buf_get_string(b, secret, secret_len, SP_MSG_MAX_SECRET);
	if ((r = ans_done(b, "derive")) != SC_OK)
		return r;
	if (*secret_len == 0)
		return sc_fail(SC_ERR_PEER, "derive answer: empty secret");
	return SC_OK;
}

/* ---- PROOF ---- */

void sp_proof_req_put(struct sc_buf *b, const uint8_t challenge[SC_SP_CHALLENGE_LEN],
    const char *network_id, const uint8_t digest[SP_MSG_DIGEST_LEN])
{
	sc_buf_put_bytes(b, challenge, SC_SP_CHALLENGE_LEN);
	sc_buf_put_cstring(b, network_id);
	sc_buf_put_bytes(b, digest, SP_MSG_DIGEST_LEN);
}

sc_err sp_proof_req_get(struct sc_buf *b, const uint8_t **challenge,
    char network_id[SP_MSG_ID_MAX + 1], const uint8_t **digest)
{
	*challenge = sc_buf_get_bytes(b, SC_SP_CHALLENGE_LEN);
	sc_buf_get_cstring(b, network_id, SP_MSG_ID_MAX);
	*digest = sc_buf_get_bytes(b, SP_MSG_DIGEST_LEN);
	return req_done(b, "proof");
}

void sp_proof_ans_put(struct sc_buf *b, uint64_t time, const uint8_t *sig, size_t sig_len)
{
	sc_buf_put_u64(b, time);
	sc_buf_put_string(b, sig, sig_len);
}

sc_err sp_proof_ans_get(struct sc_buf *b, uint64_t *time, const uint8_t **sig, size_t *sig_len)
{
	sc_err r;

	*time = sc_buf_get_u64(b);
	sc_buf_get_string(b, sig, sig_len, SP_MSG_MAX_SIGNATURE);
	if ((r = ans_done(b, "proof")) != SC_OK)
		return r;
	if (*sig_len == 0)
		return sc_fail(SC_ERR_PEER, "proof answer: empty signature");
	return SC_OK;
}

/* ---- BACKEND ---- */

void sp_backend_req_put(struct sc_buf *b)
{
	(void)b;
}

sc_err sp_backend_req_get(struct sc_buf *b)
{
	return req_done(b, "backend");
}

void sp_backend_ans_put(struct sc_buf *b, const struct sc_sp_backend *be)
{
	sc_buf_put_cstring(b, be->name);
	sc_buf_put_cstring(b, be->manufacturer);
	sc_buf_put_cstring(b, be->vendor);
	sc_buf_put_cstring(b, be->firmware);
}

/* What the CLI prints as is: printable ASCII only, so a field cannot move the terminal. */
static int printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

sc_err sp_backend_ans_get(struct sc_buf *b, struct sc_sp_backend *be)
{
	sc_err r;

	memset(be, 0, sizeof(*be));
	sc_buf_get_cstring(b, be->name, SC_SP_BACKEND_NAME_MAX);
	sc_buf_get_cstring(b, be->manufacturer, SC_SP_BACKEND_TEXT_MAX);
	sc_buf_get_cstring(b, be->vendor, SC_SP_BACKEND_TEXT_MAX);
	sc_buf_get_cstring(b, be->firmware, SC_SP_BACKEND_TEXT_MAX);
	if ((r = ans_done(b, "backend")) != SC_OK) {
		memset(be, 0, sizeof(*be));
		return r;
	}
	if (be->name[0] == '\0' || !printable(be->name) || !printable(be->manufacturer) ||
	    !printable(be->vendor) || !printable(be->firmware)) {
		memset(be, 0, sizeof(*be));
		return sc_fail(SC_ERR_PEER, "backend answer: empty name or unprintable byte");
	}
	return SC_OK;
}

/* ---- CRL ---- */

void sp_crl_req_put(struct sc_buf *b, uint32_t lifetime)
{
	sc_buf_put_u32(b, lifetime);
}

sc_err sp_crl_req_get(struct sc_buf *b, uint32_t *lifetime)
{
	*lifetime = sc_buf_get_u32(b);
	return req_done(b, "crl");
}

void sp_crl_ans_put(struct sc_buf *b, const uint8_t *der, size_t der_len)
{
	sc_buf_put_string(b, der, der_len);
}

sc_err sp_crl_ans_get(struct sc_buf *b, const uint8_t **der, size_t *der_len)
{
	sc_err r;

	sc_buf_get_string(b, der, der_len, SP_MSG_MAX_CRL);
	if ((r = ans_done(b, "crl")) != SC_OK)
		return r;
	if (*der_len == 0)
		return sc_fail(SC_ERR_PEER, "crl answer: empty CRL");
	return SC_OK;
}

void sp_proof_tbs_put(struct sc_buf *b, const uint8_t challenge[SC_SP_CHALLENGE_LEN],
    const char *device_id, const char *network_id, const uint8_t digest[SP_MSG_DIGEST_LEN],
    uint64_t time)
{
	sc_buf_put_bytes(b, SP_PROOF_CONTEXT, sizeof(SP_PROOF_CONTEXT) - 1);
	sc_buf_put_bytes(b, challenge, SC_SP_CHALLENGE_LEN);
	sc_buf_put_cstring(b, device_id);
	sc_buf_put_cstring(b, network_id);
	sc_buf_put_bytes(b, digest, SP_MSG_DIGEST_LEN);
	sc_buf_put_u64(b, time);
}
