// SPDX-License-Identifier: Apache-2.0
/*
 * test_sp_msg.c — the SP message codec (sp_msg.c) on its own: every request and answer round
 * trips; every proper prefix is refused, as is a trailing byte, each with its side's code and
 * detail; every bounded field one byte over its limit, texts with a NUL, wrong versions and
 * answer types; and the committed fuzz corpus is byte for byte what the encoders write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <selfcert/profile.h>
#include "buf.h"
#include "sp_msg.h"
#include "sp_wire.h"

/* The codec's ID limit is the library's, for both kinds of ID. */
_Static_assert(SP_MSG_ID_MAX == SC_DEVICE_ID_MAX, "device ID limit");
_Static_assert(SP_MSG_ID_MAX == SC_NETWORK_ID_MAX, "network ID limit");

/* Room for bodies over SC_SP_MAX_MSG: the decoders' bounds are tested, not the writer's. */
#define BIG (2 * SC_SP_MAX_MSG)

static uint8_t blob[BIG]; /* field contents: a pattern, so a copy in the wrong place shows */

static int setup(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7 + 1);
	return 0;
}

static void writer(struct sc_buf *b)
{
	sc_buf_init_writer(b, BIG, 0);
}

/* The error a decoder gives, with its detail. */
static void expect(sc_err r, sc_err want, const char *detail)
{
	if (r != want)
		fail_msg("got %s (%s), expected %s (%s)", sc_err_name(r), sc_err_detail(),
		    sc_err_name(want), detail);
	assert_string_equal(sc_err_detail(), detail);
}

/* ---- one table: a good body and its decoder, per request and answer ---- */

static const char text64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const uint8_t chal[SC_SP_CHALLENGE_LEN] = { 0xc0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 0xff };

static void put_info_req(struct sc_buf *b)
{
	sp_info_req_put(b);
}
static sc_err get_info_req(struct sc_buf *b)
{
	return sp_info_req_get(b);
}

static void fill_info(struct sp_info *in)
{
	memset(in, 0, sizeof(*in));
	in->state = SC_SP_STATE_LOCKED;
	snprintf(in->device_id, sizeof(in->device_id), "%s", text64);
	in->issuance_counter = 0x0102030405060708ull;
	in->n_keys = 3;
	in->max_keys = 256;
	in->max_leaf_days = 36500;
	in->csk_cert = blob;
	in->csk_cert_len = SC_WIRE_MAX_CERT;
	in->kek_cert = NULL;
	in->kek_cert_len = 0;
	in->n_networks = SC_SP_MAX_ANCHORS;
	for (uint32_t i = 0; i < in->n_networks; i++)
		snprintf(in->networks[i], sizeof(in->networks[i]), "net%u.example", (unsigned)i);
}

static void put_info_ans(struct sc_buf *b)
{
	struct sp_info in;

	fill_info(&in);
	sp_info_ans_put(b, &in);
}

static sc_err get_info_ans(struct sc_buf *b)
{
	struct sp_info want, got;
	sc_err r;

	if ((r = sp_info_ans_get(b, &got)) != SC_OK)
		return r;
	fill_info(&want);
	assert_int_equal(got.state, want.state);
	assert_string_equal(got.device_id, want.device_id);
	assert_true(got.issuance_counter == want.issuance_counter);
	assert_int_equal(got.n_keys, want.n_keys);
	assert_int_equal(got.max_keys, want.max_keys);
	assert_int_equal(got.max_leaf_days, want.max_leaf_days);
	assert_int_equal(got.csk_cert_len, SC_WIRE_MAX_CERT);
	assert_memory_equal(got.csk_cert, blob, SC_WIRE_MAX_CERT);
	assert_null(got.kek_cert);
	assert_int_equal(got.kek_cert_len, 0);
	assert_int_equal(got.n_networks, want.n_networks);
	for (uint32_t i = 0; i < want.n_networks; i++)
		assert_string_equal(got.networks[i], want.networks[i]);
	return SC_OK;
}

static void put_keygen_req(struct sc_buf *b)
{
	sp_keygen_req_put(b, SC_SP_ROLE_KEK, SC_ALG_P384);
}

static sc_err get_keygen_req(struct sc_buf *b)
{
	uint8_t role, alg;
	sc_err r;

	if ((r = sp_keygen_req_get(b, &role, &alg)) == SC_OK) {
		assert_int_equal(role, SC_SP_ROLE_KEK);
		assert_int_equal(alg, SC_ALG_P384);
	}
	return r;
}

static void put_keygen_ans(struct sc_buf *b)
{
	sp_keygen_ans_put(b, blob, 300);
}

static sc_err get_keygen_ans(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	sc_err r;

	if ((r = sp_keygen_ans_get(b, &p, &n)) == SC_OK) {
		assert_int_equal(n, 300);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_icert_req(struct sc_buf *b)
{
	sp_install_cert_req_put(b, SC_SP_ROLE_CSK, blob, SC_WIRE_MAX_CERT);
}

static sc_err get_icert_req(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	uint8_t role;
	sc_err r;

	if ((r = sp_install_cert_req_get(b, &role, &p, &n)) == SC_OK) {
		assert_int_equal(role, SC_SP_ROLE_CSK);
		assert_int_equal(n, SC_WIRE_MAX_CERT);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_icert_ans(struct sc_buf *b)
{
	sp_install_cert_ans_put(b);
}
static sc_err get_icert_ans(struct sc_buf *b)
{
	return sp_install_cert_ans_get(b);
}

static void put_anchor_req(struct sc_buf *b)
{
	sp_install_anchor_req_put(b, text64, blob, 500);
}

static sc_err get_anchor_req(struct sc_buf *b)
{
	char net[SP_MSG_ID_MAX + 1];
	const uint8_t *p;
	size_t n;
	sc_err r;

	if ((r = sp_install_anchor_req_get(b, net, &p, &n)) == SC_OK) {
		assert_string_equal(net, text64);
		assert_int_equal(n, 500);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_anchor_ans(struct sc_buf *b)
{
	sp_install_anchor_ans_put(b);
}
static sc_err get_anchor_ans(struct sc_buf *b)
{
	return sp_install_anchor_ans_get(b);
}

static void put_limits_req(struct sc_buf *b)
{
	sp_set_limits_req_put(b, 36500, 0xfffffffe);
}

static sc_err get_limits_req(struct sc_buf *b)
{
	uint32_t days, keys;
	sc_err r;

	if ((r = sp_set_limits_req_get(b, &days, &keys)) == SC_OK) {
		assert_int_equal(days, 36500);
		assert_int_equal(keys, 0xfffffffe);
	}
	return r;
}

static void put_limits_ans(struct sc_buf *b)
{
	sp_set_limits_ans_put(b);
}
static sc_err get_limits_ans(struct sc_buf *b)
{
	return sp_set_limits_ans_get(b);
}
static void put_lock_req(struct sc_buf *b)
{
	sp_lock_req_put(b);
}
static sc_err get_lock_req(struct sc_buf *b)
{
	return sp_lock_req_get(b);
}
static void put_lock_ans(struct sc_buf *b)
{
	sp_lock_ans_put(b);
}
static sc_err get_lock_ans(struct sc_buf *b)
{
	return sp_lock_ans_get(b);
}
static void put_chal_req(struct sc_buf *b)
{
	sp_challenge_req_put(b);
}
static sc_err get_chal_req(struct sc_buf *b)
{
	return sp_challenge_req_get(b);
}
static void put_chal_ans(struct sc_buf *b)
{
	sp_challenge_ans_put(b, chal);
}

static sc_err get_chal_ans(struct sc_buf *b)
{
	uint8_t out[SC_SP_CHALLENGE_LEN];
	sc_err r;

	memset(out, 0xee, sizeof(out));
	if ((r = sp_challenge_ans_get(b, out)) == SC_OK)
		assert_memory_equal(out, chal, sizeof(out));
	else /* nothing half-copied */
		for (size_t i = 0; i < sizeof(out); i++)
			assert_int_equal(out[i], 0xee);
	return r;
}

/* The profile's bound is the message: its own limit is the profile decoder's. */
#define PROFILE_LEN (SC_SP_MAX_MSG - 2 - 4)

static void put_issue_req(struct sc_buf *b)
{
	sp_issue_req_put(b, blob, PROFILE_LEN);
}

static sc_err get_issue_req(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	sc_err r;

	if ((r = sp_issue_req_get(b, &p, &n)) == SC_OK) {
		assert_int_equal(n, PROFILE_LEN);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_issue_ans(struct sc_buf *b)
{
	sp_issue_ans_put(b, 0x80000001u, blob, 900);
}

static sc_err get_issue_ans(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	uint32_t h;
	sc_err r;

	if ((r = sp_issue_ans_get(b, &h, &p, &n)) == SC_OK) {
		assert_int_equal(h, 0x80000001u);
		assert_int_equal(n, 900);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_keys_req(struct sc_buf *b)
{
	sp_keys_req_put(b, 0xdeadbeef);
}

static sc_err get_keys_req(struct sc_buf *b)
{
	uint32_t after;
	sc_err r;

	if ((r = sp_keys_req_get(b, &after)) == SC_OK)
		assert_int_equal(after, 0xdeadbeef);
	return r;
}

/* A page as the SP writes it: the entries first, then the head, then the entries' bytes. */
static void put_keys_ans(struct sc_buf *b)
{
	struct sc_buf page;

	sc_buf_init_writer(&page, SC_SP_MAX_MSG, 0);
	sp_keys_ans_put_key(&page, 5, SC_ALG_P256, blob, 400);
	sp_keys_ans_put_key(&page, 9, SC_ALG_ED25519, blob + 1, SC_WIRE_MAX_CERT);
	assert_int_equal(page.len, SP_KEYS_ANS_KEY(400) + SP_KEYS_ANS_KEY(SC_WIRE_MAX_CERT));
	sp_keys_ans_put_head(b, 1, 2);
	sc_buf_put_bytes(b, page.data, page.len);
	sc_buf_free(&page);
}

/* The host's reading of the same: head, entries, done. */
static sc_err get_keys_ans(struct sc_buf *b)
{
	static const uint32_t handles[2] = { 5, 9 };
	static const uint8_t algs[2] = { SC_ALG_P256, SC_ALG_ED25519 };
	static const size_t lens[2] = { 400, SC_WIRE_MAX_CERT };
	const uint8_t *p;
	size_t n;
	uint32_t count, h, i;
	uint8_t more, alg;
	sc_err r;

	if ((r = sp_keys_ans_get_head(b, SC_SP_MAX_KEYS_LIMIT, &more, &count)) != SC_OK)
		return r;
	assert_int_equal(more, 1);
	assert_int_equal(count, 2);
	for (i = 0; i < count; i++) {
		if ((r = sp_keys_ans_get_key(b, &h, &alg, &p, &n)) != SC_OK)
			return r;
		assert_int_equal(h, handles[i]);
		assert_int_equal(alg, algs[i]);
		assert_int_equal(n, lens[i]);
		assert_memory_equal(p, blob + i, n);
	}
	return sp_keys_ans_done(b);
}

static const struct sp_sign_req sign_msg = { .handle = 7,
	.mode = SC_SP_SIGN_MESSAGE,
	.digest = SC_DIGEST_SHA384,
	.input = blob,
	.input_len = SC_SP_MAX_SIGN_INPUT };
static const struct sp_sign_req sign_pss = { .handle = 8,
	.mode = SC_SP_SIGN_PSS,
	.digest = SC_DIGEST_SHA256,
	.input = blob,
	.input_len = 32,
	.salt_len = 0x01020304 };

static sc_err get_sign_like(struct sc_buf *b, const struct sp_sign_req *want)
{
	struct sp_sign_req got;
	sc_err r;

	if ((r = sp_sign_req_get(b, &got)) == SC_OK) {
		assert_int_equal(got.handle, want->handle);
		assert_int_equal(got.mode, want->mode);
		assert_int_equal(got.digest, want->digest);
		assert_int_equal(got.input_len, want->input_len);
		assert_memory_equal(got.input, want->input, got.input_len);
		assert_int_equal(got.salt_len, want->salt_len);
	}
	return r;
}

static void put_sign_req(struct sc_buf *b)
{
	sp_sign_req_put(b, &sign_msg);
}
static sc_err get_sign_req(struct sc_buf *b)
{
	return get_sign_like(b, &sign_msg);
}
static void put_pss_req(struct sc_buf *b)
{
	sp_sign_req_put(b, &sign_pss);
}
static sc_err get_pss_req(struct sc_buf *b)
{
	return get_sign_like(b, &sign_pss);
}

static void put_sign_ans(struct sc_buf *b)
{
	sp_sign_ans_put(b, blob, SP_MSG_MAX_SIGNATURE);
}

static sc_err get_sign_ans(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	sc_err r;

	if ((r = sp_sign_ans_get(b, SC_SP_SIGN_DIGEST, &p, &n)) == SC_OK) {
		assert_int_equal(n, SP_MSG_MAX_SIGNATURE);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_delete_req(struct sc_buf *b)
{
	sp_delete_req_put(b, 42);
}

static sc_err get_delete_req(struct sc_buf *b)
{
	uint32_t h;
	sc_err r;

	if ((r = sp_delete_req_get(b, &h)) == SC_OK)
		assert_int_equal(h, 42);
	return r;
}

static void put_delete_ans(struct sc_buf *b)
{
	sp_delete_ans_put(b);
}
static sc_err get_delete_ans(struct sc_buf *b)
{
	return sp_delete_ans_get(b);
}

static const struct sp_decrypt_req decrypt_req = { .handle = 11,
	.scheme = SC_SP_DECRYPT_OAEP,
	.hash = SC_DIGEST_SHA512,
	.mgf1_hash = SC_SP_OAEP_SHA1,
	.label = blob + 3,
	.label_len = SC_SP_MAX_OAEP_LABEL,
	.ciphertext = blob + 5,
	.ciphertext_len = SC_SP_MAX_CIPHERTEXT };

static void put_decrypt_req(struct sc_buf *b)
{
	sp_decrypt_req_put(b, &decrypt_req);
}

static sc_err get_decrypt_req(struct sc_buf *b)
{
	struct sp_decrypt_req got;
	sc_err r;

	if ((r = sp_decrypt_req_get(b, &got)) == SC_OK) {
		assert_int_equal(got.handle, 11);
		assert_int_equal(got.scheme, SC_SP_DECRYPT_OAEP);
		assert_int_equal(got.hash, SC_DIGEST_SHA512);
		assert_int_equal(got.mgf1_hash, SC_SP_OAEP_SHA1);
		assert_int_equal(got.label_len, SC_SP_MAX_OAEP_LABEL);
		assert_memory_equal(got.label, blob + 3, got.label_len);
		assert_int_equal(got.ciphertext_len, SC_SP_MAX_CIPHERTEXT);
		assert_memory_equal(got.ciphertext, blob + 5, got.ciphertext_len);
	}
	return r;
}

static void put_decrypt_ans(struct sc_buf *b)
{
	sp_decrypt_ans_put(b, blob, SC_SP_MAX_CIPHERTEXT);
	assert_int_equal(b->secret, 1);
}

static sc_err get_decrypt_ans(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	sc_err r;

	if ((r = sp_decrypt_ans_get(b, &p, &n)) == SC_OK) {
		assert_int_equal(n, SC_SP_MAX_CIPHERTEXT);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_derive_req(struct sc_buf *b)
{
	sp_derive_req_put(b, 12, blob, SC_SP_MAX_EC_POINT);
}

static sc_err get_derive_req(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	uint32_t h;
	sc_err r;

	if ((r = sp_derive_req_get(b, &h, &p, &n)) == SC_OK) {
		assert_int_equal(h, 12);
		assert_int_equal(n, SC_SP_MAX_EC_POINT);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static void put_derive_ans(struct sc_buf *b)
{
	sp_derive_ans_put(b, blob, SP_MSG_MAX_SECRET);
	assert_int_equal(b->secret, 1);
}

static sc_err get_derive_ans(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;
	sc_err r;

	if ((r = sp_derive_ans_get(b, &p, &n)) == SC_OK) {
		assert_int_equal(n, SP_MSG_MAX_SECRET);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

/* PROOF: a 64-byte network ID, the longest there is, and the longest signature. */
static const char proof_net[] = "n123456789012345678901234567890123456789012345678901234567890123";

static void put_proof_req(struct sc_buf *b)
{
	sp_proof_req_put(b, blob, proof_net, blob + 100);
}

static sc_err get_proof_req(struct sc_buf *b)
{
	const uint8_t *ch, *dg;
	char net[SP_MSG_ID_MAX + 1];
	sc_err r;

	if ((r = sp_proof_req_get(b, &ch, net, &dg)) == SC_OK) {
		assert_memory_equal(ch, blob, SC_SP_CHALLENGE_LEN);
		assert_string_equal(net, proof_net);
		assert_memory_equal(dg, blob + 100, SP_MSG_DIGEST_LEN);
	}
	return r;
}

static void put_proof_ans(struct sc_buf *b)
{
	sp_proof_ans_put(b, 0x0102030405060708ull, blob, SP_MSG_MAX_SIGNATURE);
}

static sc_err get_proof_ans(struct sc_buf *b)
{
	const uint8_t *p;
	uint64_t t;
	size_t n;
	sc_err r;

	if ((r = sp_proof_ans_get(b, &t, &p, &n)) == SC_OK) {
		assert_true(t == 0x0102030405060708ull);
		assert_int_equal(n, SP_MSG_MAX_SIGNATURE);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

/* BACKEND (revision 1.2): every text at its longest. */
/* CRL (revision 1.3): a lifetime; the CRL at its largest. Any u32 decodes: bounds are the SP's. */
static void put_crl_req(struct sc_buf *b)
{
	sp_crl_req_put(b, 0xfffffffeu);
}

static sc_err get_crl_req(struct sc_buf *b)
{
	uint32_t lifetime = 0;
	sc_err r;

	if ((r = sp_crl_req_get(b, &lifetime)) == SC_OK)
		assert_int_equal(lifetime, 0xfffffffeu);
	return r;
}

static void put_crl_ans(struct sc_buf *b)
{
	sp_crl_ans_put(b, blob, SP_MSG_MAX_CRL);
}

static sc_err get_crl_ans(struct sc_buf *b)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	sc_err r;

	if ((r = sp_crl_ans_get(b, &p, &n)) == SC_OK) {
		assert_int_equal(n, SP_MSG_MAX_CRL);
		assert_memory_equal(p, blob, n);
	}
	return r;
}

static const struct sc_sp_backend be_full = {
	.name = "tpm-0123456789ab",
	.manufacturer = "m123456789012345678901234567890123456789012345678901234567890123",
	.vendor = "v123456789012345678901234567890123456789012345678901234567890123",
	.firmware = "f123456789012345678901234567890123456789012345678901234567890123",
};

static void put_backend_req(struct sc_buf *b)
{
	sp_backend_req_put(b);
}

static sc_err get_backend_req(struct sc_buf *b)
{
	return sp_backend_req_get(b);
}

static void put_backend_ans(struct sc_buf *b)
{
	sp_backend_ans_put(b, &be_full);
}

static sc_err get_backend_ans(struct sc_buf *b)
{
	struct sc_sp_backend d;
	sc_err r;

	if ((r = sp_backend_ans_get(b, &d)) == SC_OK)
		assert_memory_equal(&d, &be_full, sizeof(d));
	return r;
}

/* GATE_CHALLENGE / GATE_ISSUE (revision 1.4, issue #12): every string at its longest. */
static void put_gchal_req(struct sc_buf *b)
{
	sp_gate_challenge_req_put(b, SC_ALG_RSA3072, 0x8001u);
}

static sc_err get_gchal_req(struct sc_buf *b)
{
	uint8_t alg;
	uint32_t ku;
	sc_err r;

	if ((r = sp_gate_challenge_req_get(b, &alg, &ku)) == SC_OK) {
		assert_int_equal(alg, SC_ALG_RSA3072);
		assert_int_equal(ku, 0x8001u);
	}
	return r;
}

static void put_gchal_ans(struct sc_buf *b)
{
	sp_gate_challenge_ans_put(b, chal, 0x0102030405060708ull, blob + 7, blob + 50,
	    SP_MSG_MAX_SPKI);
}

static sc_err get_gchal_ans(struct sc_buf *b)
{
	const uint8_t *n, *name, *spki;
	uint64_t c;
	size_t len;
	sc_err r;

	if ((r = sp_gate_challenge_ans_get(b, &n, &c, &name, &spki, &len)) == SC_OK) {
		assert_memory_equal(n, chal, sizeof(chal));
		assert_true(c == 0x0102030405060708ull);
		assert_memory_equal(name, blob + 7, SP_MSG_GATE_NAME_LEN);
		assert_int_equal(len, SP_MSG_MAX_SPKI);
		assert_memory_equal(spki, blob + 50, len);
	}
	return r;
}

static void put_gissue_req(struct sc_buf *b)
{
	sp_gate_issue_req_put(b, blob, 1000, blob + 3, SP_MSG_MAX_GATE_AUTH);
}

static sc_err get_gissue_req(struct sc_buf *b)
{
	const uint8_t *p, *a;
	size_t n, an;
	sc_err r;

	if ((r = sp_gate_issue_req_get(b, &p, &n, &a, &an)) == SC_OK) {
		assert_int_equal(n, 1000);
		assert_memory_equal(p, blob, n);
		assert_int_equal(an, SP_MSG_MAX_GATE_AUTH);
		assert_memory_equal(a, blob + 3, an);
	}
	return r;
}

static const struct mcase {
	uint8_t type;
	int answer; /* 0: the SP decodes it; 1: the host does */
	void (*put)(struct sc_buf *);
	sc_err (*get)(struct sc_buf *); /* checks every field against put's on SC_OK */
} cases[] = {
	{ SC_SP_INFO, 0, put_info_req, get_info_req },
	{ SC_SP_INFO, 1, put_info_ans, get_info_ans },
	{ SC_SP_KEYGEN, 0, put_keygen_req, get_keygen_req },
	{ SC_SP_KEYGEN, 1, put_keygen_ans, get_keygen_ans },
	{ SC_SP_INSTALL_CERT, 0, put_icert_req, get_icert_req },
	{ SC_SP_INSTALL_CERT, 1, put_icert_ans, get_icert_ans },
	{ SC_SP_INSTALL_ANCHOR, 0, put_anchor_req, get_anchor_req },
	{ SC_SP_INSTALL_ANCHOR, 1, put_anchor_ans, get_anchor_ans },
	{ SC_SP_SET_LIMITS, 0, put_limits_req, get_limits_req },
	{ SC_SP_SET_LIMITS, 1, put_limits_ans, get_limits_ans },
	{ SC_SP_LOCK, 0, put_lock_req, get_lock_req },
	{ SC_SP_LOCK, 1, put_lock_ans, get_lock_ans },
	{ SC_SP_CHALLENGE, 0, put_chal_req, get_chal_req },
	{ SC_SP_CHALLENGE, 1, put_chal_ans, get_chal_ans },
	{ SC_SP_ISSUE, 0, put_issue_req, get_issue_req },
	{ SC_SP_ISSUE, 1, put_issue_ans, get_issue_ans },
	{ SC_SP_KEYS, 0, put_keys_req, get_keys_req },
	{ SC_SP_KEYS, 1, put_keys_ans, get_keys_ans },
	{ SC_SP_SIGN, 0, put_sign_req, get_sign_req },
	{ SC_SP_SIGN, 0, put_pss_req, get_pss_req },
	{ SC_SP_SIGN, 1, put_sign_ans, get_sign_ans },
	{ SC_SP_DELETE, 0, put_delete_req, get_delete_req },
	{ SC_SP_DELETE, 1, put_delete_ans, get_delete_ans },
	{ SC_SP_DECRYPT, 0, put_decrypt_req, get_decrypt_req },
	{ SC_SP_DECRYPT, 1, put_decrypt_ans, get_decrypt_ans },
	{ SC_SP_DERIVE, 0, put_derive_req, get_derive_req },
	{ SC_SP_DERIVE, 1, put_derive_ans, get_derive_ans },
	{ SC_SP_PROOF, 0, put_proof_req, get_proof_req },
	{ SC_SP_PROOF, 1, put_proof_ans, get_proof_ans },
	{ SC_SP_BACKEND, 0, put_backend_req, get_backend_req },
	{ SC_SP_BACKEND, 1, put_backend_ans, get_backend_ans },
	{ SC_SP_GATE_CHALLENGE, 0, put_gchal_req, get_gchal_req },
	{ SC_SP_GATE_CHALLENGE, 1, put_gchal_ans, get_gchal_ans },
	{ SC_SP_GATE_ISSUE, 0, put_gissue_req, get_gissue_req },
	{ SC_SP_CRL, 0, put_crl_req, get_crl_req },
	{ SC_SP_CRL, 1, put_crl_ans, get_crl_ans },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* The body a case's encoder writes, in a writer the caller frees. */
static void body_of(const struct mcase *c, struct sc_buf *b)
{
	writer(b);
	c->put(b);
	assert_int_equal(sc_buf_done(b, "body"), SC_OK);
}

/* What each side says about a body cut short or a field over its limit. */
static void expect_cut(uint8_t type, int answer, sc_err r)
{
	char d[128];
	const char *name = sp_msg_name(type);

	if (answer) {
		snprintf(d, sizeof(d), "%s answer: %s: truncated or field out of range", name,
		    name);
		expect(r, SC_ERR_PEER, d);
	} else {
		snprintf(d, sizeof(d), "%s: truncated or field out of range", name);
		expect(r, SC_ERR_MALFORMED, d);
	}
}

static void expect_trailing(const struct mcase *c, sc_err r, size_t n)
{
	char d[128];
	const char *name = sp_msg_name(c->type);

	if (c->answer) {
		snprintf(d, sizeof(d), "%s answer: %s: %zu trailing bytes", name, name, n);
		expect(r, SC_ERR_PEER, d);
	} else {
		snprintf(d, sizeof(d), "%s: %zu trailing bytes", name, n);
		expect(r, SC_ERR_TRAILING, d);
	}
}

static void test_round_trips(void **state)
{
	struct sc_buf b, rd;
	size_t i;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		body_of(&cases[i], &b);
		sc_buf_init_reader(&rd, b.data, b.len);
		if (cases[i].get(&rd) != SC_OK)
			fail_msg("%s %s: %s", sp_msg_name(cases[i].type),
			    cases[i].answer ? "answer" : "request", sc_err_detail());
		assert_int_equal(rd.off, b.len);
		sc_buf_free(&b);
	}
}

/* Every proper prefix of every body: the same error as any short body on that side. */
static void test_truncation(void **state)
{
	struct sc_buf b, rd;
	size_t i, cut, step;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		body_of(&cases[i], &b);
		/* Every byte of the fixed fields; inside long strings, every 97th. */
		for (cut = 0; cut < b.len; cut += step) {
			sc_buf_init_reader(&rd, b.data, cut);
			expect_cut(cases[i].type, cases[i].answer, cases[i].get(&rd));
			step = cut < 64 || b.len - cut < 64 ? 1 : 97;
		}
		sc_buf_free(&b);
	}
}

static void test_trailing(void **state)
{
	struct sc_buf b, rd;
	size_t i, extra;

	(void)state;
	for (i = 0; i < N_CASES; i++) {
		for (extra = 1; extra <= 2; extra++) {
			body_of(&cases[i], &b);
			sc_buf_put_bytes(&b, "\0\0", extra);
			sc_buf_init_reader(&rd, b.data, b.len);
			expect_trailing(&cases[i], cases[i].get(&rd), extra);
			sc_buf_free(&b);
		}
	}
}

/* ---- oversize: every bounded field one byte over, each refused on its side ---- */

static sc_err decode(struct sc_buf *b, sc_err (*get)(struct sc_buf *))
{
	struct sc_buf rd;
	sc_err r;

	assert_int_equal(sc_buf_done(b, "body"), SC_OK);
	sc_buf_init_reader(&rd, b->data, b->len);
	r = get(&rd);
	sc_buf_free(b);
	return r;
}

static sc_err raw_info_ans(struct sc_buf *b)
{
	struct sp_info in;

	return sp_info_ans_get(b, &in);
}

static sc_err raw_sign_req(struct sc_buf *b)
{
	struct sp_sign_req s;

	return sp_sign_req_get(b, &s);
}

static sc_err raw_pss_ans(struct sc_buf *b)
{
	const uint8_t *p;
	size_t n;

	return sp_sign_ans_get(b, SC_SP_SIGN_PSS, &p, &n);
}

static sc_err raw_decrypt_req(struct sc_buf *b)
{
	struct sp_decrypt_req d;

	return sp_decrypt_req_get(b, &d);
}

static void test_oversize_requests(void **state)
{
	struct sp_sign_req s = sign_msg;
	struct sp_decrypt_req d = decrypt_req;
	char net65[SP_MSG_ID_MAX + 2];
	struct sc_buf b;

	(void)state;
	memset(net65, 'n', sizeof(net65) - 1);
	net65[sizeof(net65) - 1] = '\0';
	writer(&b);
	sp_install_cert_req_put(&b, SC_SP_ROLE_CSK, blob, SC_WIRE_MAX_CERT + 1);
	expect_cut(SC_SP_INSTALL_CERT, 0, decode(&b, get_icert_req));
	writer(&b);
	sp_install_anchor_req_put(&b, net65, blob, 10);
	expect_cut(SC_SP_INSTALL_ANCHOR, 0, decode(&b, get_anchor_req));
	writer(&b);
	sp_install_anchor_req_put(&b, "net", blob, SC_WIRE_MAX_CERT + 1);
	expect_cut(SC_SP_INSTALL_ANCHOR, 0, decode(&b, get_anchor_req));
	/* No profile outgrows a message; the decoder does not take the length's word for it. */
	writer(&b);
	sp_issue_req_put(&b, blob, SC_SP_MAX_MSG + 1);
	expect_cut(SC_SP_ISSUE, 0, decode(&b, get_issue_req));
	writer(&b);
	s.input_len = SC_SP_MAX_SIGN_INPUT + 1;
	sp_sign_req_put(&b, &s);
	expect_cut(SC_SP_SIGN, 0, decode(&b, raw_sign_req));
	writer(&b);
	d.label_len = SC_SP_MAX_OAEP_LABEL + 1;
	sp_decrypt_req_put(&b, &d);
	expect_cut(SC_SP_DECRYPT, 0, decode(&b, raw_decrypt_req));
	writer(&b);
	d = decrypt_req;
	d.ciphertext_len = SC_SP_MAX_CIPHERTEXT + 1;
	sp_decrypt_req_put(&b, &d);
	expect_cut(SC_SP_DECRYPT, 0, decode(&b, raw_decrypt_req));
	writer(&b);
	sp_derive_req_put(&b, 1, blob, SC_SP_MAX_EC_POINT + 1);
	expect_cut(SC_SP_DERIVE, 0, decode(&b, get_derive_req));
	/* PROOF: a network ID of 65 bytes. */
	writer(&b);
	sp_proof_req_put(&b, blob,
	    "n1234567890123456789012345678901234567890123456789012345678901234", blob);
	expect_cut(SC_SP_PROOF, 0, decode(&b, get_proof_req));
	/* GATE_ISSUE: an authorization one byte over its limit; an empty one (its own detail). */
	writer(&b);
	sp_gate_issue_req_put(&b, blob, 10, blob, SP_MSG_MAX_GATE_AUTH + 1);
	expect_cut(SC_SP_GATE_ISSUE, 0, decode(&b, get_gissue_req));
	writer(&b);
	sp_gate_issue_req_put(&b, blob, 10, blob, 0);
	expect(decode(&b, get_gissue_req), SC_ERR_MALFORMED, "gate-issue: empty authorization");
}

static void test_oversize_answers(void **state)
{
	struct sp_info in;
	struct sc_buf b;

	(void)state;
	fill_info(&in);
	memset(in.device_id, 'd', sizeof(in.device_id)); /* 65 bytes: one over */
	writer(&b);
	sc_buf_put_u8(&b, SC_SP_STATE_LOCKED);
	sc_buf_put_string(&b, in.device_id, SP_MSG_ID_MAX + 1);
	expect_cut(SC_SP_INFO, 1, decode(&b, raw_info_ans));
	fill_info(&in);
	in.kek_cert = blob;
	in.kek_cert_len = SC_WIRE_MAX_CERT + 1;
	writer(&b);
	sp_info_ans_put(&b, &in);
	expect_cut(SC_SP_INFO, 1, decode(&b, raw_info_ans));
	/* Nine networks: refused as soon as the count is read, before any network is. */
	fill_info(&in);
	in.n_networks = 0;
	writer(&b);
	sp_info_ans_put(&b, &in);
	b.len -= 4;
	sc_buf_put_u32(&b, SC_SP_MAX_ANCHORS + 1);
	expect(decode(&b, raw_info_ans), SC_ERR_PEER, "info answer: 9 networks");
	/* The encoder will not write them either: the writer fails. */
	fill_info(&in);
	in.n_networks = SC_SP_MAX_ANCHORS + 1;
	writer(&b);
	sp_info_ans_put(&b, &in);
	assert_int_equal(sc_buf_done(&b, "info"), SC_ERR_OVERSIZE);
	sc_buf_free(&b);
	/* An unknown state, but only once the rest decoded. */
	fill_info(&in);
	in.state = SC_SP_STATE_LOCKED + 1;
	writer(&b);
	sp_info_ans_put(&b, &in);
	expect(decode(&b, raw_info_ans), SC_ERR_PEER, "info answer: unknown state 3");

	writer(&b);
	sp_keygen_ans_put(&b, blob, SC_WIRE_MAX_CERT + 1);
	expect_cut(SC_SP_KEYGEN, 1, decode(&b, get_keygen_ans));
	writer(&b);
	sp_issue_ans_put(&b, 1, blob, SC_WIRE_MAX_CERT + 1);
	expect_cut(SC_SP_ISSUE, 1, decode(&b, get_issue_ans));
	writer(&b);
	sp_sign_ans_put(&b, blob, SP_MSG_MAX_SIGNATURE + 1);
	expect_cut(SC_SP_SIGN, 1, decode(&b, get_sign_ans));
	/* PSS's bound is the largest modulus. */
	writer(&b);
	sp_sign_ans_put(&b, blob, SC_SP_MAX_CIPHERTEXT);
	assert_int_equal(decode(&b, raw_pss_ans), SC_OK);
	writer(&b);
	sp_sign_ans_put(&b, blob, SC_SP_MAX_CIPHERTEXT + 1);
	expect_cut(SC_SP_SIGN, 1, decode(&b, raw_pss_ans));
	writer(&b);
	sp_decrypt_ans_put(&b, blob, SC_SP_MAX_CIPHERTEXT + 1);
	expect_cut(SC_SP_DECRYPT, 1, decode(&b, get_decrypt_ans));
	writer(&b);
	sp_derive_ans_put(&b, blob, SP_MSG_MAX_SECRET + 1);
	expect_cut(SC_SP_DERIVE, 1, decode(&b, get_derive_ans));
	writer(&b);
	sp_proof_ans_put(&b, 1, blob, SP_MSG_MAX_SIGNATURE + 1);
	expect_cut(SC_SP_PROOF, 1, decode(&b, get_proof_ans));
	/* GATE_CHALLENGE: a leaf key one byte over; a csk_name of the wrong length (35, then 33). */
	writer(&b);
	sp_gate_challenge_ans_put(&b, chal, 1, blob, blob, SP_MSG_MAX_SPKI + 1);
	expect_cut(SC_SP_GATE_CHALLENGE, 1, decode(&b, get_gchal_ans));
	writer(&b);
	sc_buf_put_bytes(&b, chal, sizeof(chal));
	sc_buf_put_u64(&b, 1);
	sc_buf_put_string(&b, blob, SP_MSG_GATE_NAME_LEN + 1);
	sc_buf_put_string(&b, blob, 0);
	expect_cut(SC_SP_GATE_CHALLENGE, 1, decode(&b, get_gchal_ans));
	writer(&b);
	sc_buf_put_bytes(&b, chal, sizeof(chal));
	sc_buf_put_u64(&b, 1);
	sc_buf_put_string(&b, blob, SP_MSG_GATE_NAME_LEN - 1);
	sc_buf_put_string(&b, blob, 0);
	expect(decode(&b, get_gchal_ans), SC_ERR_PEER,
	    "gate-challenge answer: csk_name is not 34 bytes");
	/* CRL: one byte over SP_MSG_MAX_CRL. */
	writer(&b);
	sp_crl_ans_put(&b, blob, SP_MSG_MAX_CRL + 1);
	expect_cut(SC_SP_CRL, 1, decode(&b, get_crl_ans));
	/* BACKEND: each text one byte over its limit (name 17, the TPM's fields 65). */
	for (int f = 0; f < 4; f++) {
		struct sc_sp_backend d = be_full;
		char *field[] = { d.name, d.manufacturer, d.vendor, d.firmware };
		size_t max = f == 0 ? SC_SP_BACKEND_NAME_MAX : SC_SP_BACKEND_TEXT_MAX;

		writer(&b);
		for (int g = 0; g < 4; g++) {
			if (g != f) {
				sc_buf_put_cstring(&b, field[g]);
				continue;
			}
			sc_buf_put_u32(&b, (uint32_t)(max + 1));
			sc_buf_put_bytes(&b,
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			    max + 1);
		}
		expect_cut(SC_SP_BACKEND, 1, decode(&b, get_backend_ans));
	}
}

static sc_err ans_hdr(uint8_t version, uint8_t type, uint8_t req_type);

/* BACKEND's own checks beyond its layout: a name, and printable ASCII only, in every field. */
static void test_backend_answer(void **state)
{
	static const char *const bad[] = { "a\x1b[2Jb", "tab\there", "del\x7f", "hi\x80" };
	struct sc_sp_backend in, out;
	struct sc_buf b, rd;
	size_t i;
	int f;

	(void)state;
	/* soft: a name and three empty texts. */
	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "soft");
	writer(&b);
	sp_backend_ans_put(&b, &in);
	assert_int_equal(b.len, 4 * 4 + 4);
	sc_buf_init_reader(&rd, b.data, b.len);
	assert_int_equal(sp_backend_ans_get(&rd, &out), SC_OK);
	assert_string_equal(out.name, "soft");
	assert_string_equal(out.manufacturer, "");
	sc_buf_free(&b);
	/* No name. */
	memset(&in, 0, sizeof(in));
	writer(&b);
	sp_backend_ans_put(&b, &in);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_backend_ans_get(&rd, &out), SC_ERR_PEER,
	    "backend answer: empty name or unprintable byte");
	assert_string_equal(out.name, "");
	sc_buf_free(&b);
	/* A control or non-ASCII byte in any field. */
	for (f = 0; f < 4; f++)
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *field[] = { in.name, in.manufacturer, in.vendor, in.firmware };

			in = be_full;
			snprintf(field[f], f == 0 ? sizeof(in.name) : sizeof(in.vendor), "%s",
			    bad[i]);
			writer(&b);
			sp_backend_ans_put(&b, &in);
			sc_buf_init_reader(&rd, b.data, b.len);
			expect(sp_backend_ans_get(&rd, &out), SC_ERR_PEER,
			    "backend answer: empty name or unprintable byte");
			assert_string_equal(out.manufacturer, "");
			sc_buf_free(&b);
		}
	/* A NUL inside a text is refused by the text reader itself. */
	writer(&b);
	sc_buf_put_string(&b, "tp\0m", 4);
	sc_buf_put_cstring(&b, "");
	sc_buf_put_cstring(&b, "");
	sc_buf_put_cstring(&b, "");
	expect_cut(SC_SP_BACKEND, 1, decode(&b, get_backend_ans));
	/* The answer to another request, or INFO's answer under BACKEND's type: wrong type. */
	assert_int_equal(ans_hdr(SC_SP_PROTO_VERSION, SC_SP_INFO | SC_SP_ANSWER, SC_SP_BACKEND),
	    SC_ERR_PEER);
	assert_int_equal(ans_hdr(SC_SP_PROTO_VERSION, SC_SP_BACKEND | SC_SP_ANSWER, SC_SP_BACKEND),
	    SC_OK);
}

/* What an answer must hold beyond its layout: something to use. */
static void test_empty_answers(void **state)
{
	const uint8_t *p;
	struct sc_buf b, rd;
	uint32_t h;
	size_t n;

	(void)state;
	writer(&b);
	sp_issue_ans_put(&b, 0, blob, 10);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_issue_ans_get(&rd, &h, &p, &n), SC_ERR_PEER,
	    "issue answer: no handle or no certificate");
	sc_buf_free(&b);
	writer(&b);
	sp_issue_ans_put(&b, 1, NULL, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_issue_ans_get(&rd, &h, &p, &n), SC_ERR_PEER,
	    "issue answer: no handle or no certificate");
	sc_buf_free(&b);
	writer(&b);
	sp_sign_ans_put(&b, NULL, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_sign_ans_get(&rd, SC_SP_SIGN_MESSAGE, &p, &n), SC_ERR_PEER,
	    "sign answer: empty signature");
	sc_buf_free(&b);
	writer(&b);
	sp_derive_ans_put(&b, NULL, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_derive_ans_get(&rd, &p, &n), SC_ERR_PEER, "derive answer: empty secret");
	sc_buf_free(&b);
	writer(&b);
	sp_crl_ans_put(&b, NULL, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_crl_ans_get(&rd, &p, &n), SC_ERR_PEER, "crl answer: empty CRL");
	sc_buf_free(&b);
	writer(&b);
	sp_proof_ans_put(&b, 1, NULL, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	{
		uint64_t t;
		expect(sp_proof_ans_get(&rd, &t, &p, &n), SC_ERR_PEER,
		    "proof answer: empty signature");
	}
	sc_buf_free(&b);
	/* An empty plaintext is a plaintext (OAEP may carry nothing). */
	writer(&b);
	sp_decrypt_ans_put(&b, NULL, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	assert_int_equal(sp_decrypt_ans_get(&rd, &p, &n), SC_OK);
	assert_int_equal(n, 0);
	sc_buf_free(&b);
}

/* KEYS pages: the head's own checks, and an entry cut short. */
static void test_keys_pages(void **state)
{
	static const struct {
		uint8_t more;
		uint32_t n, max;
	} bad[] = {
		{ 2, 1, 256 },   /* more is a flag */
		{ 1, 0, 256 },   /* "more" with nothing in it would have the host ask forever */
		{ 0, 257, 256 }, /* more than the host has room for */
		{ 0, 11, 10 },
	};
	struct sc_buf b, rd;
	const uint8_t *p;
	uint32_t n, h;
	uint8_t more, alg;
	size_t i, len;
	char d[96];

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		writer(&b);
		sp_keys_ans_put_head(&b, bad[i].more, bad[i].n);
		sc_buf_init_reader(&rd, b.data, b.len);
		snprintf(d, sizeof(d), "keys answer: bad page (more %u, count %u)", bad[i].more,
		    (unsigned)bad[i].n);
		expect(sp_keys_ans_get_head(&rd, bad[i].max, &more, &n), SC_ERR_PEER, d);
		sc_buf_free(&b);
	}
	/* The last page: no more, possibly no keys. */
	writer(&b);
	sp_keys_ans_put_head(&b, 0, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	assert_int_equal(sp_keys_ans_get_head(&rd, 0, &more, &n), SC_OK);
	assert_int_equal(sp_keys_ans_done(&rd), SC_OK);
	sc_buf_free(&b);
	/* An entry whose certificate is over the limit, and one cut inside. */
	writer(&b);
	sp_keys_ans_put_key(&b, 1, SC_ALG_P256, blob, SC_WIRE_MAX_CERT + 1);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect_cut(SC_SP_KEYS, 1, sp_keys_ans_get_key(&rd, &h, &alg, &p, &len));
	sc_buf_free(&b);
	writer(&b);
	sp_keys_ans_put_key(&b, 1, SC_ALG_P256, blob, 100);
	sc_buf_init_reader(&rd, b.data, b.len - 1);
	expect_cut(SC_SP_KEYS, 1, sp_keys_ans_get_key(&rd, &h, &alg, &p, &len));
	sc_buf_free(&b);
}

/* ---- wrong content: a NUL in a text ---- */

static void test_text_with_nul(void **state)
{
	struct sp_info in;
	struct sc_buf b;
	char detail[SC_WIRE_MAX_DETAIL + 1];
	struct sc_buf rd;
	int32_t code;

	(void)state;
	writer(&b);
	sc_buf_put_string(&b, "net\0x", 5);
	sc_buf_put_string(&b, blob, 10);
	expect_cut(SC_SP_INSTALL_ANCHOR, 0, decode(&b, get_anchor_req));
	fill_info(&in);
	writer(&b);
	sp_info_ans_put(&b, &in);
	/* The device ID starts after the state and its length: put a NUL in its middle. */
	b.data[1 + 4 + 10] = '\0';
	expect_cut(SC_SP_INFO, 1, decode(&b, raw_info_ans));
	writer(&b);
	sc_buf_put_u32(&b, (uint32_t)SC_ERR_LOCKED);
	sc_buf_put_string(&b, "a\0b", 3);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_error_ans_get(&rd, &code, detail), SC_ERR_PEER,
	    "SP error answer: error answer: truncated or field out of range");
	sc_buf_free(&b);
}

/* ---- headers and error answers ---- */

static void test_request_header(void **state)
{
	static const uint8_t one[] = { SC_SP_PROTO_VERSION };
	static const uint8_t v2[] = { 2, SC_SP_INFO };
	static const uint8_t ok[] = { SC_SP_PROTO_VERSION, 0x7e, 9 };
	struct sc_buf b, rd;
	uint8_t type = 0;

	(void)state;
	sc_buf_init_reader(&rd, one, sizeof(one));
	expect(sp_req_hdr_get(&rd, &type), SC_ERR_MALFORMED,
	    "message of 1 bytes: no version and type");
	sc_buf_init_reader(&rd, v2, sizeof(v2));
	expect(sp_req_hdr_get(&rd, &type), SC_ERR_MALFORMED,
	    "protocol version 2, this SP speaks 1");
	/* Any type: which ones exist is the dispatch table's to say. The body is left unread. */
	sc_buf_init_reader(&rd, ok, sizeof(ok));
	assert_int_equal(sp_req_hdr_get(&rd, &type), SC_OK);
	assert_int_equal(type, 0x7e);
	assert_int_equal(rd.off, 2);
	/* sc_wire_begin is this header in a capped writer. */
	sc_wire_begin(&b, SC_SP_DERIVE, 0);
	assert_int_equal(b.len, 2);
	assert_int_equal(b.data[0], SC_SP_PROTO_VERSION);
	assert_int_equal(b.data[1], SC_SP_DERIVE);
	sc_buf_free(&b);
}

static sc_err ans_hdr(uint8_t version, uint8_t type, uint8_t req_type)
{
	uint8_t m[2] = { version, type };
	struct sc_buf rd;

	sc_buf_init_reader(&rd, m, sizeof(m));
	return sp_ans_hdr_get(&rd, req_type);
}

/* Every answer type to every request: only its own is taken. */
static void test_answer_types(void **state)
{
	static const uint8_t types[] = { SC_SP_INFO, SC_SP_KEYGEN, SC_SP_INSTALL_CERT,
		SC_SP_INSTALL_ANCHOR, SC_SP_SET_LIMITS, SC_SP_LOCK, SC_SP_CHALLENGE, SC_SP_ISSUE,
		SC_SP_KEYS, SC_SP_SIGN, SC_SP_DELETE, SC_SP_DECRYPT, SC_SP_DERIVE, SC_SP_PROOF,
		SC_SP_BACKEND };
	size_t i, j;
	char d[96];

	(void)state;
	for (i = 0; i < sizeof(types); i++) {
		for (j = 0; j < sizeof(types); j++) {
			uint8_t at = types[j] | SC_SP_ANSWER;

			if (i == j) {
				assert_int_equal(ans_hdr(SC_SP_PROTO_VERSION, at, types[i]), SC_OK);
				continue;
			}
			snprintf(d, sizeof(d), "answer type 0x%02x to %s, expected 0x%02x", at,
			    sp_msg_name(types[i]), types[i] | SC_SP_ANSWER);
			expect(ans_hdr(SC_SP_PROTO_VERSION, at, types[i]), SC_ERR_PEER, d);
		}
		/* The request echoed back, without the answer bit. */
		snprintf(d, sizeof(d), "answer type 0x%02x to %s, expected 0x%02x", types[i],
		    sp_msg_name(types[i]), types[i] | SC_SP_ANSWER);
		expect(ans_hdr(SC_SP_PROTO_VERSION, types[i], types[i]), SC_ERR_PEER, d);
		expect(ans_hdr(2, types[i] | SC_SP_ANSWER, types[i]), SC_ERR_PEER,
		    "answer has protocol version 2, expected 1");
	}
}

/* An error answer as the SP writes it (sc_wire_error_answer), read by the host. */
static sc_err error_answer(sc_err code, const char *detail)
{
	struct sc_buf b, rd;
	sc_err r;

	assert_int_equal(sc_wire_error_answer(&b, code, detail), SC_OK);
	sc_buf_init_reader(&rd, b.data, b.len);
	r = sp_ans_hdr_get(&rd, SC_SP_ISSUE);
	sc_buf_free(&b);
	return r;
}

static void test_error_answers(void **state)
{
	char big[SC_WIRE_MAX_DETAIL + 50], want[64];
	struct sc_buf b, rd;
	int32_t code;
	char detail[SC_WIRE_MAX_DETAIL + 1];

	(void)state;
	expect(error_answer(SC_ERR_REPLAY, "profile ID 7 used"), SC_ERR_REPLAY,
	    "profile ID 7 used");
	expect(error_answer(SC_ERR_STORE_FULL, NULL), SC_ERR_STORE_FULL, "");
	/* A "failure" with code 0 (or above) goes out as internal, never as success. */
	expect(error_answer(SC_OK, "oops"), SC_ERR_INTERNAL, "oops");
	expect(error_answer(7, "oops"), SC_ERR_INTERNAL, "oops");
	/* The detail is cut at its limit on the way out. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(error_answer(SC_ERR_KEY_USAGE, big), SC_ERR_KEY_USAGE);
	assert_int_equal(strlen(sc_err_detail()), SC_WIRE_MAX_DETAIL);
	/* Control characters never reach the terminal. */
	expect(error_answer(SC_ERR_DENIED, "a\nb\033[2Jc\x7f"), SC_ERR_DENIED, "a?b?[2Jc?");
	/* Codes the host does not know are the SP breaking protocol. */
	writer(&b);
	sp_hdr_put(&b, SC_SP_ERROR);
	sc_buf_put_u32(&b, 0);
	sc_buf_put_string(&b, "fine?", 5);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_ans_hdr_get(&rd, SC_SP_LOCK), SC_ERR_PEER, "SP error answer with code 0");
	sc_buf_free(&b);
	writer(&b);
	sp_hdr_put(&b, SC_SP_ERROR);
	sc_buf_put_u32(&b, (uint32_t)(SC_ERR_LAST - 1));
	sc_buf_put_string(&b, "x", 1);
	sc_buf_init_reader(&rd, b.data, b.len);
	snprintf(want, sizeof(want), "SP error answer with code %d", SC_ERR_LAST - 1);
	expect(sp_ans_hdr_get(&rd, SC_SP_LOCK), SC_ERR_PEER, want);
	sc_buf_free(&b);
	/* The error answer's own layout: every cut, a trailing byte, a detail too long. */
	writer(&b);
	sp_error_ans_put(&b, SC_ERR_LOCKED, "locked for good");
	for (size_t cut = 0; cut < b.len; cut++) {
		sc_buf_init_reader(&rd, b.data, cut);
		expect(sp_error_ans_get(&rd, &code, detail), SC_ERR_PEER,
		    "SP error answer: error answer: truncated or field out of range");
	}
	sc_buf_init_reader(&rd, b.data, b.len);
	assert_int_equal(sp_error_ans_get(&rd, &code, detail), SC_OK);
	assert_int_equal(code, SC_ERR_LOCKED);
	assert_string_equal(detail, "locked for good");
	sc_buf_put_u8(&b, 0);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_error_ans_get(&rd, &code, detail), SC_ERR_PEER,
	    "SP error answer: error answer: 1 trailing bytes");
	sc_buf_free(&b);
	writer(&b);
	sc_buf_put_u32(&b, (uint32_t)SC_ERR_LOCKED);
	sc_buf_put_string(&b, big, SC_WIRE_MAX_DETAIL + 1);
	sc_buf_init_reader(&rd, b.data, b.len);
	expect(sp_error_ans_get(&rd, &code, detail), SC_ERR_PEER,
	    "SP error answer: error answer: truncated or field out of range");
	sc_buf_free(&b);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sp_msg_name(SC_SP_INSTALL_ANCHOR), "install-anchor");
	assert_string_equal(sp_msg_name(SC_SP_ERROR), "error");
	assert_string_equal(sp_msg_name(0x7e), "unknown");
	assert_string_equal(sc_wire_msg_name(SC_SP_DERIVE), sp_msg_name(SC_SP_DERIVE));
	assert_string_equal(sp_msg_name(SC_SP_PROOF), "proof");
	assert_string_equal(sp_msg_name(SC_SP_BACKEND), "backend");
	assert_string_equal(sp_msg_name(SC_SP_GATE_CHALLENGE), "gate-challenge");
	assert_string_equal(sp_msg_name(SC_SP_GATE_ISSUE), "gate-issue");
	assert_string_equal(sp_msg_name(SC_SP_CRL), "crl");
	assert_string_equal(sc_sp_tpm_vendor_name("INTC"), "Intel");
	assert_string_equal(sc_sp_tpm_vendor_name("IBM"), "IBM");
	assert_null(sc_sp_tpm_vendor_name("XXXX"));
	assert_null(sc_sp_tpm_vendor_name(NULL));
}

/* The bytes a proof signs, pinned: the context first (never a DER SEQUENCE), then the fields. */
static void test_proof_tbs(void **state)
{
	static const char ctx[] = "selfcert request proof v1";
	struct sc_buf b;
	size_t off = 0;

	(void)state;
	writer(&b);
	sp_proof_tbs_put(&b, blob, "DEV-1", "net", blob + 100, 0x1122334455667788ull);
	assert_int_equal(sc_buf_done(&b, "tbs"), SC_OK);
	assert_int_equal(b.len, 25 + 32 + 4 + 5 + 4 + 3 + 32 + 8);
	assert_memory_equal(b.data, ctx, 25);
	assert_int_not_equal(b.data[0], 0x30);
	off = 25;
	assert_memory_equal(b.data + off, blob, 32);
	off += 32;
	assert_memory_equal(b.data + off, "\0\0\0\5DEV-1\0\0\0\3net", 4 + 5 + 4 + 3);
	off += 16;
	assert_memory_equal(b.data + off, blob + 100, 32);
	off += 32;
	assert_memory_equal(b.data + off, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	sc_buf_free(&b);
}

/* ---- the committed fuzz corpus is what the encoders write ---- */

/* Decode one request body and write it again with the same encoder. */
static sc_err reencode(uint8_t type, struct sc_buf *rd, struct sc_buf *out)
{
	char net[SP_MSG_ID_MAX + 1];
	struct sp_sign_req s;
	struct sp_decrypt_req d;
	const uint8_t *p;
	size_t n;
	uint32_t u, v;
	uint8_t x, y;
	sc_err r;

	sc_wire_begin(out, type, 0);
	switch (type) {
	case SC_SP_INFO:
		if ((r = sp_info_req_get(rd)) == SC_OK)
			sp_info_req_put(out);
		return r;
	case SC_SP_KEYGEN:
		if ((r = sp_keygen_req_get(rd, &x, &y)) == SC_OK)
			sp_keygen_req_put(out, x, y);
		return r;
	case SC_SP_INSTALL_CERT:
		if ((r = sp_install_cert_req_get(rd, &x, &p, &n)) == SC_OK)
			sp_install_cert_req_put(out, x, p, n);
		return r;
	case SC_SP_INSTALL_ANCHOR:
		if ((r = sp_install_anchor_req_get(rd, net, &p, &n)) == SC_OK)
			sp_install_anchor_req_put(out, net, p, n);
		return r;
	case SC_SP_SET_LIMITS:
		if ((r = sp_set_limits_req_get(rd, &u, &v)) == SC_OK)
			sp_set_limits_req_put(out, u, v);
		return r;
	case SC_SP_LOCK:
		if ((r = sp_lock_req_get(rd)) == SC_OK)
			sp_lock_req_put(out);
		return r;
	case SC_SP_CHALLENGE:
		if ((r = sp_challenge_req_get(rd)) == SC_OK)
			sp_challenge_req_put(out);
		return r;
	case SC_SP_ISSUE:
	case SC_SP_RENEW: /* the same body as ISSUE (sp_client.c issue_as) */
		if ((r = sp_issue_req_get(rd, &p, &n)) == SC_OK)
			sp_issue_req_put(out, p, n);
		return r;
	case SC_SP_KEYS:
		if ((r = sp_keys_req_get(rd, &u)) == SC_OK)
			sp_keys_req_put(out, u);
		return r;
	case SC_SP_SIGN:
		if ((r = sp_sign_req_get(rd, &s)) == SC_OK)
			sp_sign_req_put(out, &s);
		return r;
	case SC_SP_DELETE:
		if ((r = sp_delete_req_get(rd, &u)) == SC_OK)
			sp_delete_req_put(out, u);
		return r;
	case SC_SP_DECRYPT:
		if ((r = sp_decrypt_req_get(rd, &d)) == SC_OK)
			sp_decrypt_req_put(out, &d);
		return r;
	case SC_SP_DERIVE:
		if ((r = sp_derive_req_get(rd, &u, &p, &n)) == SC_OK)
			sp_derive_req_put(out, u, p, n);
		return r;
	case SC_SP_PROOF: {
		const uint8_t *dg;

		if ((r = sp_proof_req_get(rd, &p, net, &dg)) == SC_OK)
			sp_proof_req_put(out, p, net, dg);
		return r;
	}
	case SC_SP_BACKEND:
		if ((r = sp_backend_req_get(rd)) == SC_OK)
			sp_backend_req_put(out);
		return r;
	case SC_SP_GATE_CHALLENGE:
		if ((r = sp_gate_challenge_req_get(rd, &x, &u)) == SC_OK)
			sp_gate_challenge_req_put(out, x, u);
		return r;
	case SC_SP_GATE_ISSUE: {
		const uint8_t *a;
		size_t an;

		if ((r = sp_gate_issue_req_get(rd, &p, &n, &a, &an)) == SC_OK)
			sp_gate_issue_req_put(out, p, n, a, an);
		return r;
	}
	case SC_SP_CRL:
		if ((r = sp_crl_req_get(rd, &u)) == SC_OK)
			sp_crl_req_put(out, u);
		return r;
	default: return sc_fail(SC_ERR_UNKNOWN_REQUEST, "type 0x%02x", type);
	}
}

static void test_corpus(void **state)
{
	char dir[4096], path[4096 + 512];
	const char *slash;
	struct dirent *e;
	DIR *dp;
	int seen = 0;

	(void)state;
	/* tests/unit/ -> tests/fuzz/corpus/dispatch/, from this file's own path. */
	if ((slash = strrchr(__FILE__, '/')) == NULL || __FILE__[0] != '/')
		skip();
	snprintf(dir, sizeof(dir), "%.*s/../fuzz/corpus/dispatch", (int)(slash - __FILE__),
	    __FILE__);
	if ((dp = opendir(dir)) == NULL)
		skip();
	while ((e = readdir(dp)) != NULL) {
		static uint8_t m[SC_SP_MAX_MSG + 1];
		struct sc_buf rd, out;
		uint8_t type;
		size_t len;
		FILE *f;

		/* Regression inputs are whatever once broke something: not the encoders' work. */
		if (e->d_name[0] == '.' || strncmp(e->d_name, "regress-", 8) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_non_null(f = fopen(path, "rb"));
		len = fread(m, 1, sizeof(m), f);
		fclose(f);
		assert_true(len <= SC_SP_MAX_MSG);
		sc_buf_init_reader(&rd, m, len);
		if (strcmp(e->d_name, "version-2") == 0) {
			assert_int_equal(sp_req_hdr_get(&rd, &type), SC_ERR_MALFORMED);
			continue;
		}
		assert_int_equal(sp_req_hdr_get(&rd, &type), SC_OK);
		if (reencode(type, &rd, &out) != SC_OK) {
			/* unknown-type: the header alone, as sc_wire_begin writes it. */
			assert_string_equal(e->d_name, "unknown-type");
			assert_int_equal(len, 2);
			sc_buf_free(&out);
			continue;
		}
		assert_int_equal(sc_buf_done(&out, e->d_name), SC_OK);
		if (out.len != len || memcmp(out.data, m, len) != 0)
			fail_msg("%s: the encoder writes other bytes", e->d_name);
		sc_buf_free(&out);
		seen++;
	}
	closedir(dp);
	assert_true(seen >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_oversize_requests),
		cmocka_unit_test(test_oversize_answers),
		cmocka_unit_test(test_empty_answers),
		cmocka_unit_test(test_backend_answer),
		cmocka_unit_test(test_keys_pages),
		cmocka_unit_test(test_text_with_nul),
		cmocka_unit_test(test_request_header),
		cmocka_unit_test(test_answer_types),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_proof_tbs),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
