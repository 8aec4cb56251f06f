// SPDX-License-Identifier: Apache-2.0
/*
 * test_dispatch.c — the SP's dispatch table against an in-memory SP with a real sealed store in
 * a temporary folder: gating by state, unknown types, versions, truncated and trailing bodies,
 * the factory flow, issuance (generated and supplied keys), signing, replay, challenges, slots,
 * and that a failed commit changes nothing. Requests are written and answers read with sp_msg.c,
 * the host's own codec; only the deliberately broken bodies are spelled out byte by byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/proof.h>
#include <selfcert/crl.h>
#include "backend.h"
#include "fast/fast.h"
#include "spd.h"
#include "pem.h"
#include "sp_msg.h"
#include "sp_wire.h"
#include "store.h"
#include "testsp.h"
#include "testutil.h"
#include "testworld.h"

#define DEV "SN-0001"
#define NET "net.example"

static struct sc_test_sp tsp; /* the in-process SP of each test (tests/testlib) */
static struct spd *spd;       /* tsp.spd */
static const char *dir;       /* tsp.dir, its store */

/* The manufacturer and the network (the test world: Acme, net.example, SN-0001), once. */
static struct sc_test_world world;
static X509 *net_root, *signer; /* world.net_root, world.signer */

/* One answer, decoded far enough to check its type. */
struct answer {
	sc_err code;
	uint8_t *body; /* answer body after version and type (copy) */
	size_t len;
	struct sc_buf rd; /* a reader over body */
};

static void answer_free(struct answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

static sc_err call_raw(const uint8_t *msg, size_t len, uint8_t type, struct answer *a)
{
	struct sc_buf ans;
	struct sc_buf rd;
	sc_err r;

	memset(a, 0, sizeof(*a));
	r = spd_dispatch(spd, msg, len, &ans);
	assert_true(ans.len >= 2);
	assert_int_equal(ans.data[0], SC_SP_PROTO_VERSION);
	if (ans.data[1] == SC_SP_ERROR) {
		char detail[SC_WIRE_MAX_DETAIL + 1];
		int32_t code;

		sc_buf_init_reader(&rd, ans.data + 2, ans.len - 2);
		assert_int_equal(sp_error_ans_get(&rd, &code, detail), SC_OK);
		a->code = (sc_err)code;
		assert_true(a->code < 0);
		assert_true(detail[0] != '\0'); /* every error names what was wrong */
		assert_int_equal(r, a->code);
	} else {
		assert_int_equal(ans.data[1], type | SC_SP_ANSWER);
		assert_int_equal(r, SC_OK);
		a->code = SC_OK;
		a->len = ans.len - 2;
		a->body = malloc(a->len + 1);
		memcpy(a->body, ans.data + 2, a->len);
		sc_buf_init_reader(&a->rd, a->body, a->len);
	}
	sc_buf_free(&ans);
	return a->code;
}

/* Send [1][type][body]; the answer's code. */
static sc_err call(uint8_t type, const uint8_t *body, size_t blen, struct answer *a)
{
	uint8_t *msg = malloc(blen + 2);
	struct answer tmp;
	sc_err r;

	msg[0] = SC_SP_PROTO_VERSION;
	msg[1] = type;
	if (blen)
		memcpy(msg + 2, body, blen);
	r = call_raw(msg, blen + 2, type, a != NULL ? a : &tmp);
	if (a == NULL)
		answer_free(&tmp);
	free(msg);
	return r;
}

static sc_err call_buf(uint8_t type, struct sc_buf *b, struct answer *a)
{
	sc_err r;

	assert_int_equal(sc_buf_done(b, "request"), SC_OK);
	r = call(type, b->data, b->len, a);
	sc_buf_free(b);
	return r;
}

static int group_setup(void **state)
{
	const struct sc_test_world_opts o = { .mfr = "Acme", .network_id = NET, .device_id = DEV };

	(void)state;
	assert_int_equal(sc_test_world_make(&o, &world), SC_OK);
	net_root = world.net_root;
	signer = world.signer;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_test_world_free(&world);
	return 0;
}

/* A fresh empty SP over a new store in a temp folder, started as main starts it. */
static int setup(void **state)
{
	(void)state;
	assert_int_equal(sc_test_sp_open(&tsp, NULL, DEV), SC_OK);
	spd = tsp.spd;
	dir = tsp.dir;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sc_test_sp_close(&tsp);
	spd = NULL;
	dir = NULL;
	return 0;
}

/* Close and reopen the store: what the SP would find after a restart. */
static void restart(void)
{
	assert_int_equal(sc_test_sp_restart(&tsp), SC_OK);
}

/* ---- factory helpers ---- */

static sc_err keygen(uint8_t role, uint8_t alg, X509_REQ **csr)
{
	struct sc_buf b;
	struct answer a;
	sc_err r;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_keygen_req_put(&b, role, alg);
	r = call_buf(SC_SP_KEYGEN, &b, &a);
	if (r == SC_OK) {
		const uint8_t *der;
		const unsigned char *p;
		size_t n;

		assert_int_equal(sp_keygen_ans_get(&a.rd, &der, &n), SC_OK);
		p = der;
		*csr = d2i_X509_REQ(NULL, &p, (long)n);
		assert_non_null(*csr);
		/* Proof of possession: the request verifies under its own key. */
		assert_int_equal(X509_REQ_verify(*csr, X509_REQ_get0_pubkey(*csr)), 1);
	}
	answer_free(&a);
	return r;
}

static sc_err install_cert(uint8_t role, X509 *cert)
{
	struct sc_buf b;
	uint8_t *der;
	size_t n;

	assert_int_equal(sc_cert_to_der(cert, &der, &n), SC_OK);
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_install_cert_req_put(&b, role, der, n);
	OPENSSL_free(der);
	return call_buf(SC_SP_INSTALL_CERT, &b, NULL);
}

static sc_err install_anchor(const char *net, X509 *cert)
{
	struct sc_buf b;
	uint8_t *der;
	size_t n;

	assert_int_equal(sc_cert_to_der(cert, &der, &n), SC_OK);
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_install_anchor_req_put(&b, net, der, n);
	OPENSSL_free(der);
	return call_buf(SC_SP_INSTALL_ANCHOR, &b, NULL);
}

static sc_err set_limits(uint32_t days, uint32_t keys)
{
	struct sc_buf b;

	sc_buf_init_writer(&b, 64, 0);
	sp_set_limits_req_put(&b, days, keys);
	return call_buf(SC_SP_SET_LIMITS, &b, NULL);
}

static X509 *kek_cert; /* of the current test's SP, for supplied keys */

/* The whole factory flow: keys, certificates, anchor, limits, lock. */
/* crl_sign: certify the CSK with cRLSign (since issue 14); 0: as devices certified before. */
static void personalize_ex(enum sc_alg csk_alg, enum sc_alg kek_alg, uint32_t max_keys,
    int crl_sign)
{
	X509_REQ *csr = NULL, *kcsr = NULL;
	X509 *csk_cert = NULL;

	assert_int_equal(keygen(SC_SP_ROLE_CSK, csk_alg, &csr), SC_OK);
	assert_int_equal(spd->st.state, SC_SP_STATE_FACTORY);
	assert_int_equal(keygen(SC_SP_ROLE_KEK, kek_alg, &kcsr), SC_OK);
	assert_int_equal((crl_sign ? sc_test_world_device_ca_crl : sc_test_world_device_ca)(&world,
	                     X509_REQ_get0_pubkey(csr), DEV, &csk_cert),
	    SC_OK);
	X509_free(kek_cert);
	assert_int_equal(sc_test_world_kek(&world, X509_REQ_get0_pubkey(kcsr), DEV, &kek_cert),
	    SC_OK);
	assert_int_equal(install_cert(SC_SP_ROLE_CSK, csk_cert), SC_OK);
	assert_int_equal(install_cert(SC_SP_ROLE_KEK, kek_cert), SC_OK);
	assert_int_equal(install_anchor(NET, net_root), SC_OK);
	assert_int_equal(set_limits(30, max_keys), SC_OK);
	assert_int_equal(call(SC_SP_LOCK, NULL, 0, NULL), SC_OK);
	assert_int_equal(spd->st.state, SC_SP_STATE_LOCKED);
	X509_REQ_free(csr);
	X509_REQ_free(kcsr);
	X509_free(csk_cert);
}

static void personalize(enum sc_alg csk_alg, enum sc_alg kek_alg, uint32_t max_keys)
{
	personalize_ex(csk_alg, kek_alg, max_keys, 0);
}

/* ---- profiles ---- */

struct pspec {
	enum sc_alg alg;
	EVP_PKEY *supplied;
	const uint8_t *challenge;
	size_t challenge_len;
	unsigned key_usage;
	const char *device_id;
	long ttl;       /* profile lifetime from now; negative: already expired */
	long not_after; /* leaf lifetime */
};

static void make_profile(const struct pspec *s, uint8_t **der, size_t *len)
{
	struct sc_profile_params pp;
	time_t now = time(NULL);

	sc_test_profile_params(&world, &pp);
	pp.device_id = s->device_id ? s->device_id : DEV;
	pp.challenge = s->challenge;
	pp.challenge_len = s->challenge_len;
	pp.profile_not_after = now + (s->ttl ? s->ttl : 3600);
	pp.not_before = now;
	pp.not_after = now + (s->not_after ? s->not_after : 86400);
	pp.generate_alg = s->alg ? s->alg : SC_ALG_P256;
	pp.supplied_key = s->supplied;
	pp.kek_cert = s->supplied ? kek_cert : NULL;
	pp.key_usage = s->key_usage;
	assert_int_equal(sc_test_profile_make(&world, &pp, der, len), SC_OK);
}

/* ISSUE; on success *handle and *cert. */
static sc_err issue(const uint8_t *der, size_t len, uint32_t *handle, X509 **cert)
{
	struct sc_buf b;
	struct answer a;
	sc_err r;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_issue_req_put(&b, der, len);
	r = call_buf(SC_SP_ISSUE, &b, &a);
	if (r == SC_OK) {
		const uint8_t *c;
		size_t n;

		assert_int_equal(sp_issue_ans_get(&a.rd, handle, &c, &n), SC_OK);
		assert_int_equal(sc_cert_from_der(c, n, cert), SC_OK);
	}
	answer_free(&a);
	return r;
}

static sc_err issue_spec(const struct pspec *s, uint32_t *handle, X509 **cert)
{
	uint8_t *der;
	size_t len;
	sc_err r;

	make_profile(s, &der, &len);
	r = issue(der, len, handle, cert);
	OPENSSL_free(der);
	return r;
}

static sc_err sign(uint32_t handle, uint8_t mode, uint8_t digest, const uint8_t *in, size_t n,
    uint8_t **sig, size_t *sig_len)
{
	struct sp_sign_req q = { .handle = handle,
		.mode = mode,
		.digest = digest,
		.input = in,
		.input_len = n };
	struct sc_buf b;
	struct answer a;
	sc_err r;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_sign_req_put(&b, &q);
	r = call_buf(SC_SP_SIGN, &b, &a);
	if (r == SC_OK) {
		const uint8_t *s;
		size_t sl;

		assert_int_equal(sp_sign_ans_get(&a.rd, mode, &s, &sl), SC_OK);
		*sig = malloc(sl);
		memcpy(*sig, s, sl);
		*sig_len = sl;
	}
	answer_free(&a);
	return r;
}

/* What `openssl dgst -<md> -verify` does. */
static int verify_msg(X509 *cert, const EVP_MD *md, const uint8_t *msg, size_t n,
    const uint8_t *sig, size_t sl)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(m, NULL, md, NULL, X509_get0_pubkey(cert)) == 1 &&
	    EVP_DigestVerify(m, sig, sl, msg, n) == 1;

	EVP_MD_CTX_free(m);
	return ok;
}

static sc_err delete_key(uint32_t handle)
{
	struct sc_buf b;

	sc_buf_init_writer(&b, 64, 0);
	sp_delete_req_put(&b, handle);
	return call_buf(SC_SP_DELETE, &b, NULL);
}

static sc_err challenge(uint8_t out[SC_SP_CHALLENGE_LEN])
{
	struct answer a;
	sc_err r = call(SC_SP_CHALLENGE, NULL, 0, &a);

	if (r == SC_OK)
		assert_int_equal(sp_challenge_ans_get(&a.rd, out), SC_OK);
	answer_free(&a);
	return r;
}

/* ---- tests ---- */

/* Each request with an empty body, in each state: gating first, then the body. */
static void test_gating(void **state)
{
	static const struct {
		uint8_t type;
		sc_err in[3]; /* empty, factory, locked */
	} cases[] = {
		{ SC_SP_INFO, { SC_OK, SC_OK, SC_OK } },
		{ SC_SP_KEYGEN, { SC_ERR_MALFORMED, SC_ERR_MALFORMED, SC_ERR_LOCKED } },
		{ SC_SP_INSTALL_CERT, { SC_ERR_STATE, SC_ERR_MALFORMED, SC_ERR_LOCKED } },
		{ SC_SP_INSTALL_ANCHOR, { SC_ERR_MALFORMED, SC_ERR_MALFORMED, SC_ERR_LOCKED } },
		{ SC_SP_SET_LIMITS, { SC_ERR_MALFORMED, SC_ERR_MALFORMED, SC_ERR_LOCKED } },
		/* LOCK is permitted in factory but needs certificates: STATE there as well. */
		{ SC_SP_LOCK, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_LOCKED } },
		{ SC_SP_CHALLENGE, { SC_ERR_STATE, SC_ERR_STATE, SC_OK } },
		{ SC_SP_ISSUE, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_KEYS, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_SIGN, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_DELETE, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_DECRYPT, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_DERIVE, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_PROOF, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
		{ SC_SP_BACKEND, { SC_OK, SC_OK, SC_OK } },
		{ SC_SP_CRL, { SC_ERR_STATE, SC_ERR_STATE, SC_ERR_MALFORMED } },
	};
	static const uint8_t unknown[] = { 0x00, 0x07, 0x0f, 0x1f, 0x7e, 0x7f, 0x80, 0x81, 0x91,
		0xff };
	int s;
	size_t i;

	(void)state;
	for (s = SC_SP_STATE_EMPTY; s <= SC_SP_STATE_LOCKED; s++) {
		/* Only gating is under test here, so the state is set directly. */
		spd->st.state = (enum sc_sp_state)s;
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			sc_err r = call(cases[i].type, NULL, 0, NULL);
			if (r != cases[i].in[s])
				fail_msg("type 0x%02x in state %s: %s, expected %s", cases[i].type,
				    sc_sp_state_name(s), sc_err_name(r),
				    sc_err_name(cases[i].in[s]));
		}
		for (i = 0; i < sizeof(unknown); i++)
			assert_int_equal(call(unknown[i], NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		/* An SP of revision 1.0 (--revision 1.0) does not know PROOF, in any state. */
		spd->emulate = 1;
		spd->emulate_rev = 0;
		assert_int_equal(call(SC_SP_PROOF, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_BACKEND, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_CRL, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_GATE_CHALLENGE, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_INFO, NULL, 0, NULL), SC_OK);
		/* Revision 1.1 (--revision 1.1): PROOF as today, BACKEND unknown. */
		spd->emulate_rev = 1;
		assert_int_equal(call(SC_SP_PROOF, NULL, 0, NULL),
		    s == SC_SP_STATE_LOCKED ? SC_ERR_MALFORMED : SC_ERR_STATE);
		assert_int_equal(call(SC_SP_BACKEND, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_CRL, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_INFO, NULL, 0, NULL), SC_OK);
		/* Revision 1.2 (--revision 1.2): BACKEND as today, CRL unknown. */
		spd->emulate_rev = 2;
		assert_int_equal(call(SC_SP_BACKEND, NULL, 0, NULL), SC_OK);
		assert_int_equal(call(SC_SP_CRL, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		/* Revision 1.3 (--revision 1.3): CRL known, the gated requests unknown. */
		spd->emulate_rev = 3;
		assert_int_not_equal(call(SC_SP_CRL, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_GATE_CHALLENGE, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_GATE_ISSUE, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		/* Revision 1.4 (--revision 1.4): the gated requests known, RENEW and BATCH_ISSUE not. */
		spd->emulate_rev = 4;
		assert_int_not_equal(call(SC_SP_GATE_CHALLENGE, NULL, 0, NULL),
		    SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_RENEW, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		assert_int_equal(call(SC_SP_BATCH_ISSUE, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
		spd->emulate = 0;
		assert_int_not_equal(call(SC_SP_GATE_CHALLENGE, NULL, 0, NULL),
		    SC_ERR_UNKNOWN_REQUEST);
		assert_int_not_equal(call(SC_SP_RENEW, NULL, 0, NULL), SC_ERR_UNKNOWN_REQUEST);
	}
}

static void test_version_and_length(void **state)
{
	static const uint8_t versions[] = { 0, 2, 0x81, 0xff };
	struct answer a;
	uint8_t msg[3];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions); i++) {
		msg[0] = versions[i];
		msg[1] = SC_SP_INFO;
		assert_int_equal(call_raw(msg, 2, SC_SP_INFO, &a), SC_ERR_MALFORMED);
		answer_free(&a);
	}
	msg[0] = SC_SP_PROTO_VERSION;
	assert_int_equal(call_raw(msg, 0, 0, &a), SC_ERR_MALFORMED);
	answer_free(&a);
	assert_int_equal(call_raw(msg, 1, 0, &a), SC_ERR_MALFORMED);
	answer_free(&a);
	/* INFO takes no body: one byte more is trailing data. */
	msg[1] = SC_SP_INFO;
	msg[2] = 0;
	assert_int_equal(call_raw(msg, 3, SC_SP_INFO, &a), SC_ERR_TRAILING);
	answer_free(&a);
}

/* Every prefix of a valid body is MALFORMED, one byte more is TRAILING, neither changes state. */
static void check_body(uint8_t type, const uint8_t *body, size_t len)
{
	uint8_t *ext = malloc(len + 1);
	uint64_t counter = spd_store_counter(spd->store);
	size_t i;

	for (i = 0; i < len; i++) {
		sc_err r = call(type, body, i, NULL);
		if (r != SC_ERR_MALFORMED)
			fail_msg("%s with %zu of %zu body bytes: %s", sc_wire_msg_name(type), i,
			    len, sc_err_name(r));
	}
	memcpy(ext, body, len);
	ext[len] = 0xee;
	assert_int_equal(call(type, ext, len + 1, NULL), SC_ERR_TRAILING);
	assert_int_equal(spd_store_counter(spd->store), counter);
	free(ext);
}

static void test_truncated_and_trailing(void **state)
{
	uint8_t keygen_body[2] = { SC_SP_ROLE_CSK, SC_ALG_P256 };
	uint8_t limits[8] = { 0, 0, 0, 30, 0, 0, 0, 8 };
	uint8_t keys_body[4] = { 0 };
	uint8_t del_body[4] = { 0, 0, 0, 9 };
	uint8_t sign_body[4 + 1 + 1 + 4 + 3] = { 0, 0, 0, 9, 1, 1, 0, 0, 0, 3, 'a', 'b', 'c' };
	uint8_t issue_body[4 + 3] = { 0, 0, 0, 3, 0x30, 0x01, 0x00 };
	struct sc_buf b;
	uint8_t *der;
	size_t n;
	X509_REQ *csr = NULL;

	(void)state;
	check_body(SC_SP_KEYGEN, keygen_body, sizeof(keygen_body));
	check_body(SC_SP_SET_LIMITS, limits, sizeof(limits));
	assert_int_equal(sc_cert_to_der(net_root, &der, &n), SC_OK);
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_install_anchor_req_put(&b, NET, der, n);
	check_body(SC_SP_INSTALL_ANCHOR, b.data, b.len);
	sc_buf_free(&b);
	assert_int_equal(keygen(SC_SP_ROLE_CSK, SC_ALG_P256, &csr), SC_OK);
	X509_REQ_free(csr);
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_install_cert_req_put(&b, SC_SP_ROLE_CSK, der, n);
	check_body(SC_SP_INSTALL_CERT, b.data, b.len);
	sc_buf_free(&b);
	OPENSSL_free(der);

	spd->st.state = SC_SP_STATE_LOCKED; /* bodies only: gating is test_gating's */
	check_body(SC_SP_KEYS, keys_body, sizeof(keys_body));
	check_body(SC_SP_DELETE, del_body, sizeof(del_body));
	check_body(SC_SP_SIGN, sign_body, sizeof(sign_body));
	check_body(SC_SP_ISSUE, issue_body, sizeof(issue_body));
	/* audit17 item 10: RENEW and BATCH_ISSUE (#17) carry ISSUE's body, parsed the same way. */
	check_body(SC_SP_RENEW, issue_body, sizeof(issue_body));
	check_body(SC_SP_BATCH_ISSUE, issue_body, sizeof(issue_body));
	/* The full bodies themselves reach their handlers. */
	assert_int_equal(call(SC_SP_DELETE, del_body, sizeof(del_body), NULL), SC_ERR_NO_KEY);
	assert_int_equal(call(SC_SP_SIGN, sign_body, sizeof(sign_body), NULL), SC_ERR_NO_KEY);
	assert_int_equal(call(SC_SP_KEYS, keys_body, sizeof(keys_body), NULL), SC_OK);
	assert_int_not_equal(call(SC_SP_ISSUE, issue_body, sizeof(issue_body), NULL), SC_OK);
	/* Whole, they reach the profile decoders: "30 01 00" is no SignedProfile or
	 * BatchedProfile. */
	assert_int_equal(call(SC_SP_RENEW, issue_body, sizeof(issue_body), NULL), SC_ERR_MALFORMED);
	assert_int_equal(call(SC_SP_BATCH_ISSUE, issue_body, sizeof(issue_body), NULL),
	    SC_ERR_MALFORMED);
	/* A string length beyond the body. */
	sign_body[9] = 0xff;
	assert_int_equal(call(SC_SP_SIGN, sign_body, sizeof(sign_body), NULL), SC_ERR_MALFORMED);
}

static void test_info(void **state)
{
	struct answer a;
	struct sp_info info;

	(void)state;
	assert_int_equal(call(SC_SP_INFO, NULL, 0, &a), SC_OK);
	assert_int_equal(sp_info_ans_get(&a.rd, &info), SC_OK);
	assert_int_equal(info.state, SC_SP_STATE_EMPTY);
	assert_string_equal(info.device_id, DEV);
	assert_true(info.issuance_counter == 0);
	assert_int_equal(info.n_keys, 0);
	assert_int_equal(info.max_keys, SC_SP_DEFAULT_MAX_KEYS);
	assert_int_equal(info.max_leaf_days, 0);
	assert_int_equal(info.csk_cert_len, 0);
	assert_int_equal(info.kek_cert_len, 0);
	assert_int_equal(info.n_networks, 0);
	answer_free(&a);
}

/* BACKEND (revision 1.2): the store's backend by name; a TPM's fields only for a TPM. */
static void test_backend(void **state)
{
	const struct spd_backend *soft = spd->st.be;
	struct spd_backend tpm_named;
	struct sc_sp_backend d;
	struct answer a;
	uint8_t extra = 0;

	(void)state;
	assert_int_equal(call(SC_SP_BACKEND, NULL, 0, &a), SC_OK);
	assert_int_equal(sp_backend_ans_get(&a.rd, &d), SC_OK);
	assert_string_equal(d.name, "soft");
	assert_string_equal(d.manufacturer, "");
	answer_free(&a);
	/* What main.c read from tpm.info: shown only when the store's backend is the TPM. */
	snprintf(spd->backend_desc.manufacturer, sizeof(d.manufacturer), "IBM");
	snprintf(spd->backend_desc.vendor, sizeof(d.vendor), "SW   TPM");
	snprintf(spd->backend_desc.firmware, sizeof(d.firmware), "8217.4131.22.13104");
	assert_int_equal(call(SC_SP_BACKEND, NULL, 0, &a), SC_OK);
	assert_int_equal(sp_backend_ans_get(&a.rd, &d), SC_OK);
	assert_string_equal(d.name, "soft");
	assert_string_equal(d.vendor, "");
	answer_free(&a);
	tpm_named = *soft;
	tpm_named.name = "tpm";
	spd->st.be = &tpm_named;
	assert_int_equal(call(SC_SP_BACKEND, NULL, 0, &a), SC_OK);
	spd->st.be = soft;
	assert_int_equal(sp_backend_ans_get(&a.rd, &d), SC_OK);
	assert_string_equal(d.name, "tpm");
	assert_string_equal(d.manufacturer, "IBM");
	assert_string_equal(d.vendor, "SW   TPM");
	assert_string_equal(d.firmware, "8217.4131.22.13104");
	answer_free(&a);
	memset(&spd->backend_desc, 0, sizeof(spd->backend_desc));
	/* No body: one byte more is trailing data. */
	assert_int_equal(call(SC_SP_BACKEND, &extra, 1, &a), SC_ERR_TRAILING);
	answer_free(&a);
}

static void test_set_limits(void **state)
{
	(void)state;
	assert_int_equal(set_limits(0, 0), SC_ERR_USAGE);
	assert_int_equal(set_limits(0, SC_SP_MAX_KEYS_LIMIT + 1), SC_ERR_USAGE);
	assert_int_equal(set_limits(SPD_MAX_LEAF_DAYS + 1, 4), SC_ERR_USAGE);
	assert_int_equal(spd->st.max_keys, SC_SP_DEFAULT_MAX_KEYS);
	assert_int_equal(set_limits(SPD_MAX_LEAF_DAYS, SC_SP_MAX_KEYS_LIMIT), SC_OK);
	assert_int_equal(set_limits(7, 1), SC_OK);
	restart();
	assert_int_equal(spd->st.max_leaf_days, 7);
	assert_int_equal(spd->st.max_keys, 1);
	/* Setting limits does not leave the empty state. */
	assert_int_equal(spd->st.state, SC_SP_STATE_EMPTY);
}

static void test_factory_flow(void **state)
{
	X509_REQ *csr = NULL, *kcsr = NULL, *x = NULL;
	X509 *csk_cert = NULL, *kek = NULL, *other = NULL;
	char id[16];
	int i;

	(void)state;
	assert_int_equal(keygen(3, SC_ALG_P256, &x), SC_ERR_USAGE);
	assert_int_equal(keygen(SC_SP_ROLE_CSK, 0, &x), SC_ERR_ALGORITHM);
	assert_int_equal(keygen(SC_SP_ROLE_CSK, 7, &x), SC_ERR_ALGORITHM);
	assert_int_equal(keygen(SC_SP_ROLE_KEK, SC_ALG_ED25519, &x), SC_ERR_ALGORITHM);
	assert_int_equal(spd->st.state, SC_SP_STATE_EMPTY);
	assert_int_equal(keygen(SC_SP_ROLE_CSK, SC_ALG_ED25519, &csr), SC_OK);
	assert_int_equal(spd->st.state, SC_SP_STATE_FACTORY);
	/* A certificate for a key the SP does not hold for that role. */
	assert_int_equal(install_cert(SC_SP_ROLE_KEK, net_root), SC_ERR_STATE);
	assert_int_equal(keygen(SC_SP_ROLE_KEK, SC_ALG_P384, &kcsr), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&world, X509_REQ_get0_pubkey(csr), DEV, &csk_cert),
	    SC_OK);
	assert_int_equal(sc_test_world_kek(&world, X509_REQ_get0_pubkey(kcsr), DEV, &kek), SC_OK);
	assert_int_equal(install_cert(SC_SP_ROLE_CSK, kek), SC_ERR_KEY_MISMATCH);
	assert_int_equal(install_cert(SC_SP_ROLE_KEK, csk_cert), SC_ERR_KEY_MISMATCH);
	/* Right key, another device's ID. */
	assert_int_equal(sc_test_world_device_ca(&world, X509_REQ_get0_pubkey(csr), "SN-9999",
	                     &other),
	    SC_OK);
	assert_int_equal(install_cert(SC_SP_ROLE_CSK, other), SC_ERR_DEVICE_MISMATCH);
	X509_free(other);
	assert_int_equal(install_cert(SC_SP_ROLE_CSK, csk_cert), SC_OK);
	assert_int_equal(install_cert(SC_SP_ROLE_KEK, kek), SC_OK);
	/* Once certified, a key is not regenerated. */
	assert_int_equal(keygen(SC_SP_ROLE_CSK, SC_ALG_P256, &x), SC_ERR_EXISTS);
	assert_int_equal(call(SC_SP_LOCK, NULL, 0, NULL), SC_ERR_STATE);
	assert_int_equal(install_anchor(NET, signer), SC_ERR_EXTENSION); /* not a CA */
	assert_int_equal(install_anchor("", net_root), SC_ERR_USAGE);
	assert_int_equal(install_anchor(NET, net_root), SC_OK);
	assert_int_equal(install_anchor(NET, net_root), SC_ERR_EXISTS);
	for (i = 1; i < SC_SP_MAX_ANCHORS; i++) {
		snprintf(id, sizeof(id), "net-%d", i);
		assert_int_equal(install_anchor(id, net_root), SC_OK);
	}
	assert_int_equal(install_anchor("one-too-many", net_root), SC_ERR_OVERSIZE);
	assert_int_equal(call(SC_SP_LOCK, NULL, 0, NULL), SC_OK);
	/* For good, across a restart. */
	restart();
	assert_int_equal(spd->st.state, SC_SP_STATE_LOCKED);
	assert_int_equal(spd->st.n_anchors, SC_SP_MAX_ANCHORS);
	assert_int_equal(keygen(SC_SP_ROLE_CSK, SC_ALG_P256, &x), SC_ERR_LOCKED);
	assert_int_equal(install_anchor("late", net_root), SC_ERR_LOCKED);
	assert_int_equal(set_limits(1, 1), SC_ERR_LOCKED);
	assert_int_equal(call(SC_SP_LOCK, NULL, 0, NULL), SC_ERR_LOCKED);
	X509_REQ_free(csr);
	X509_REQ_free(kcsr);
	X509_free(csk_cert);
	X509_free(kek);
}

static void test_issue_and_sign(void **state)
{
	static const uint8_t msg[] = "the quick brown fox";
	struct pspec s;
	uint8_t *der, *sig, dg[64];
	size_t len, sl;
	unsigned int dl;
	uint32_t h1, h2;
	X509 *c1 = NULL, *c2 = NULL;
	struct sc_issuance iss;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	memset(&s, 0, sizeof(s));
	make_profile(&s, &der, &len);
	assert_int_equal(issue(der, len, &h1, &c1), SC_OK);
	assert_int_equal(h1, 1);
	assert_int_equal(sc_issuance_get(c1, &iss), SC_OK);
	assert_int_equal(iss.counter, 1);
	/* The same profile never twice, not even after a restart. */
	assert_int_equal(issue(der, len, &h2, &c2), SC_ERR_REPLAY);
	restart();
	assert_int_equal(issue(der, len, &h2, &c2), SC_ERR_REPLAY);
	OPENSSL_free(der);

	/* MESSAGE: what `openssl dgst -sha256 -sign` would write. */
	assert_int_equal(sign(h1, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256, msg, sizeof(msg), &sig,
	                     &sl),
	    SC_OK);
	assert_true(verify_msg(c1, EVP_sha256(), msg, sizeof(msg), sig, sl));
	free(sig);
	/* DIGEST: the host hashed; the signature verifies over the message all the same. */
	assert_int_equal(EVP_Digest(msg, sizeof(msg), dg, &dl, EVP_sha384(), NULL), 1);
	assert_int_equal(sign(h1, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA384, dg, dl, &sig, &sl), SC_OK);
	assert_true(verify_msg(c1, EVP_sha384(), msg, sizeof(msg), sig, sl));
	free(sig);
	assert_int_equal(sign(h1, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA256, dg, dl, &sig, &sl),
	    SC_ERR_USAGE);
	assert_int_equal(sign(h1, 9, SC_DIGEST_SHA256, msg, sizeof(msg), &sig, &sl), SC_ERR_USAGE);
	assert_int_equal(sign(h1, SC_SP_SIGN_MESSAGE, 9, msg, sizeof(msg), &sig, &sl),
	    SC_ERR_ALGORITHM);
	assert_int_equal(sign(99, SC_SP_SIGN_MESSAGE, 1, msg, sizeof(msg), &sig, &sl),
	    SC_ERR_NO_KEY);

	/* Ed25519: pure message signatures only. */
	s.alg = SC_ALG_ED25519;
	assert_int_equal(issue_spec(&s, &h2, &c2), SC_OK);
	assert_int_equal(h2, 2);
	assert_int_equal(sign(h2, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, msg, sizeof(msg), &sig, &sl),
	    SC_OK);
	assert_int_equal(sl, 64);
	assert_true(verify_msg(c2, NULL, msg, sizeof(msg), sig, sl));
	free(sig);
	assert_int_equal(sign(h2, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA256, dg, 32, &sig, &sl),
	    SC_ERR_ALGORITHM);
	X509_free(c2);
	c2 = NULL;

	/* RSA: PKCS#1 v1.5 both ways. */
	s.alg = SC_ALG_RSA2048;
	assert_int_equal(issue_spec(&s, &h2, &c2), SC_OK);
	assert_int_equal(EVP_Digest(msg, sizeof(msg), dg, &dl, EVP_sha256(), NULL), 1);
	assert_int_equal(sign(h2, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA256, dg, dl, &sig, &sl), SC_OK);
	assert_true(verify_msg(c2, EVP_sha256(), msg, sizeof(msg), sig, sl));
	free(sig);
	assert_int_equal(sign(h2, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA512, msg, sizeof(msg), &sig,
	                     &sl),
	    SC_OK);
	assert_true(verify_msg(c2, EVP_sha512(), msg, sizeof(msg), sig, sl));
	free(sig);
	X509_free(c2);
	c2 = NULL;

	/* A key whose certificate allows only key agreement may not sign. */
	s.alg = SC_ALG_P256;
	s.key_usage = KU_KEY_AGREEMENT;
	assert_int_equal(issue_spec(&s, &h2, &c2), SC_OK);
	assert_int_equal(sign(h2, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256, msg, sizeof(msg), &sig,
	                     &sl),
	    SC_ERR_KEY_USAGE);
	X509_free(c2);
	c2 = NULL;

	/* DELETE is durable; the handle is gone for good. */
	assert_int_equal(delete_key(h1), SC_OK);
	assert_int_equal(delete_key(h1), SC_ERR_NO_KEY);
	restart();
	assert_int_equal(sign(h1, SC_SP_SIGN_MESSAGE, 1, msg, sizeof(msg), &sig, &sl),
	    SC_ERR_NO_KEY);
	assert_int_equal(spd->st.n_slots, 3);
	assert_int_equal(spd->st.issuance_counter, 4);
	X509_free(c1);
}

/*
 * ISSUE's verified-signer cache: the network signer of every profile is parsed and verified
 * once, and INSTALL_ANCHOR flushes what any earlier SP in this process remembered.
 */
static void issue_n(int n)
{
	struct pspec s;
	uint32_t h;
	X509 *c = NULL;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < n; i++) {
		assert_int_equal(issue_spec(&s, &h, &c), SC_OK);
		X509_free(c);
		c = NULL;
	}
}

static void test_issue_signer_cache(void **state)
{
	struct sc_signer_cache_stats s0, s1;
	int fast = sc_fast_enabled();

	(void)state;
	/* With the shortcuts off an SP has no cache: every profile takes the full path. */
	spd_stop(spd);
	sc_fast_set(0);
	spd_start(spd);
	sc_fast_set(fast);
	assert_null(spd->signer_cache);
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	issue_n(2);
	spd_signer_cache_stats(spd, &s1);
	assert_int_equal(s1.entries + s1.decode_hits + s1.decode_misses + s1.verify_hits +
	        s1.verify_misses,
	    0);
	if (!fast)
		return;

	/* A fresh SP (start-up makes its cache): one full verification, then hits. */
	assert_int_equal(teardown(NULL), 0);
	assert_int_equal(setup(NULL), 0);
	assert_non_null(spd->signer_cache);
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	spd_signer_cache_stats(spd, &s0);
	assert_int_equal(s0.entries, 0);
	issue_n(3);
	spd_signer_cache_stats(spd, &s1);
	assert_int_equal(s1.entries, 1);
	assert_int_equal(s1.decode_misses - s0.decode_misses, 1);
	assert_int_equal(s1.decode_hits - s0.decode_hits, 2);
	assert_int_equal(s1.verify_misses - s0.verify_misses, 1);
	assert_int_equal(s1.verify_hits - s0.verify_hits, 2);

	/* A second SP, same signer and anchor: its own cache, which the first one's cannot serve. */
	assert_int_equal(teardown(NULL), 0);
	assert_int_equal(setup(NULL), 0);
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	spd_signer_cache_stats(spd, &s0);
	assert_int_equal(s0.entries, 0);
	issue_n(1);
	spd_signer_cache_stats(spd, &s1);
	assert_int_equal(s1.verify_misses - s0.verify_misses, 1);
	assert_int_equal(s1.verify_hits - s0.verify_hits, 0);
}

static void test_supplied_key(void **state)
{
	static const uint8_t msg[] = "server-generated";
	struct pspec s;
	EVP_PKEY *k = NULL;
	X509 *c = NULL;
	uint32_t h;
	uint8_t *sig;
	size_t sl;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_RSA2048, 8);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &k), SC_OK);
	memset(&s, 0, sizeof(s));
	s.supplied = k;
	assert_int_equal(issue_spec(&s, &h, &c), SC_OK);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(c), k), 1);
	assert_int_equal(sign(h, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256, msg, sizeof(msg), &sig, &sl),
	    SC_OK);
	assert_true(verify_msg(c, EVP_sha256(), msg, sizeof(msg), sig, sl));
	free(sig);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void test_issue_refusals(void **state)
{
	uint8_t ch[SC_SP_CHALLENGE_LEN], ch2[SC_SP_CHALLENGE_LEN], bogus[SC_SP_CHALLENGE_LEN];
	struct pspec s;
	uint32_t h;
	X509 *c = NULL;
	int i;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 2);
	memset(&s, 0, sizeof(s));
	s.device_id = "SN-0002";
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_DEVICE_MISMATCH);
	s.device_id = NULL;
	s.not_after = 31L * 86400; /* over the 30-day limit */
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_VALIDITY);
	s.not_after = 0;
	s.ttl = -10;
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_PROFILE_EXPIRED);
	s.ttl = 0;

	/* Challenges: single use, and only ones the SP handed out. */
	assert_int_equal(challenge(ch), SC_OK);
	assert_int_equal(challenge(ch2), SC_OK);
	assert_memory_not_equal(ch, ch2, sizeof(ch));
	memset(bogus, 0x42, sizeof(bogus));
	s.challenge = bogus;
	s.challenge_len = sizeof(bogus);
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_CHALLENGE);
	s.challenge = ch;
	assert_int_equal(issue_spec(&s, &h, &c), SC_OK);
	X509_free(c);
	c = NULL;
	assert_int_equal(issue_spec(&s, &h, &c),
	    SC_ERR_CHALLENGE); /* a new profile, used challenge */
	/* Challenges live in memory only: a restart forgets them. */
	restart();
	s.challenge = ch2;
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_CHALLENGE);
	/* The set is bounded: the oldest of 17 is gone. */
	assert_int_equal(challenge(ch), SC_OK);
	for (i = 0; i < SPD_CHALLENGES_MAX; i++)
		assert_int_equal(challenge(ch2), SC_OK);
	s.challenge = ch;
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_CHALLENGE);
	s.challenge = ch2;
	assert_int_equal(issue_spec(&s, &h, &c), SC_OK);
	X509_free(c);
	c = NULL;

	/* Two slots, both used. Nothing about the refusal changes state. */
	s.challenge = NULL;
	s.challenge_len = 0;
	assert_int_equal(spd->st.issuance_counter, 2);
	assert_int_equal(issue_spec(&s, &h, &c), SC_ERR_STORE_FULL);
	assert_int_equal(spd->st.issuance_counter, 2);
	assert_int_equal(spd->st.n_slots, 2);
	assert_int_equal(spd->st.n_replay, 2);
}

static void test_keys_paged(void **state)
{
	struct pspec s;
	uint32_t h, after = 0, total = 0, seen[128];
	X509 *c = NULL;
	int i, pages = 0;
	uint8_t more = 1;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 128);
	memset(&s, 0, sizeof(s));
	/* Enough certificates that one message cannot hold them all. */
	for (i = 0; i < 120; i++) {
		assert_int_equal(issue_spec(&s, &h, &c), SC_OK);
		X509_free(c);
		c = NULL;
	}
	assert_int_equal(delete_key(3), SC_OK);
	while (more) {
		struct sc_buf b;
		struct answer a;
		uint32_t n, j;

		sc_buf_init_writer(&b, 64, 0);
		sp_keys_req_put(&b, after);
		assert_int_equal(call_buf(SC_SP_KEYS, &b, &a), SC_OK);
		assert_int_equal(sp_keys_ans_get_head(&a.rd, 128 - total, &more, &n), SC_OK);
		for (j = 0; j < n; j++) {
			const uint8_t *der;
			size_t len;
			uint8_t alg;

			assert_int_equal(sp_keys_ans_get_key(&a.rd, &seen[total], &alg, &der, &len),
			    SC_OK);
			assert_true(seen[total] > after);
			after = seen[total++];
			assert_int_equal(alg, SC_ALG_P256);
			assert_int_equal(sc_cert_from_der(der, len, &c), SC_OK);
			X509_free(c);
			c = NULL;
		}
		assert_int_equal(sp_keys_ans_done(&a.rd), SC_OK);
		answer_free(&a);
		pages++;
	}
	assert_int_equal(total, 119);
	assert_true(pages >= 2);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[2], 4);
	assert_int_equal(seen[118], 120);
}

/*
 * A commit that fails leaves memory exactly as it was. The failure: a non-empty folder stands
 * where the store file is replaced, so the rename fails (moving the whole folder away no longer
 * does: the SP holds the folder open, issue 17, and its commits follow it).
 */
static void test_failed_commit_changes_nothing(void **state)
{
	char moved[700], store[700], blocker[720];
	FILE *f;
	uint8_t ch[SC_SP_CHALLENGE_LEN];
	struct pspec s;
	uint8_t *der;
	size_t len;
	uint32_t h;
	X509 *c = NULL;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	assert_int_equal(challenge(ch), SC_OK);
	memset(&s, 0, sizeof(s));
	s.challenge = ch;
	s.challenge_len = sizeof(ch);
	make_profile(&s, &der, &len);
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(moved, sizeof(moved), "%s/store.away", dir);
	snprintf(blocker, sizeof(blocker), "%s/x", store);
	assert_int_equal(rename(store, moved), 0);
	assert_int_equal(mkdir(store, 0700), 0);
	assert_non_null(f = fopen(blocker, "w"));
	fclose(f);
	assert_int_equal(issue(der, len, &h, &c), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "rename"));
	assert_int_equal(spd->st.n_slots, 0);
	assert_int_equal(spd->st.issuance_counter, 0);
	assert_int_equal(spd->st.n_replay, 0);
	assert_int_equal(spd->st.next_handle, 1);
	assert_int_equal(spd->n_challenges, 1);
	assert_int_equal(unlink(blocker), 0);
	assert_int_equal(rmdir(store), 0);
	assert_int_equal(rename(moved, store), 0);
	/* Neither replayed nor challenge-spent: the same profile goes through now. */
	assert_int_equal(issue(der, len, &h, &c), SC_OK);
	assert_int_equal(h, 1);
	X509_free(c);
	assert_int_equal(rename(store, moved), 0);
	assert_int_equal(mkdir(store, 0700), 0);
	assert_non_null(f = fopen(blocker, "w"));
	fclose(f);
	assert_int_equal(delete_key(h), SC_ERR_IO);
	assert_int_equal(spd->st.n_slots, 1);
	assert_int_equal(unlink(blocker), 0);
	assert_int_equal(rmdir(store), 0);
	assert_int_equal(rename(moved, store), 0);
	OPENSSL_free(der);
}

static void test_replay_cache(void **state)
{
	struct spd_state *st = calloc(1, sizeof(*st));
	struct spd_replay_undo u;
	uint8_t id[SC_PROFILE_ID_LEN];
	size_t i;

	(void)state;
	spd_state_init(st, DEV);
	for (i = 0; i < SPD_REPLAY_MAX; i++) {
		memset(id, 0, sizeof(id));
		memcpy(id, &i, sizeof(i));
		assert_int_equal(spd_replay_check(st, id, 2000 + i), SC_OK);
		spd_replay_add(st, id, 2000 + i, &u);
	}
	assert_int_equal(st->n_replay, SPD_REPLAY_MAX);
	assert_int_equal(st->replay_watermark, 0);
	memset(id, 0, sizeof(id));
	assert_int_equal(spd_replay_check(st, id, 2000), SC_ERR_REPLAY); /* remembered */
	/* Full: the smallest profileNotAfter (2000, ID 0) is forgotten under the watermark. */
	memset(id, 0xaa, sizeof(id));
	spd_replay_add(st, id, 9000, &u);
	assert_int_equal(st->n_replay, SPD_REPLAY_MAX);
	assert_int_equal(st->replay_watermark, 2000);
	memset(id, 0, sizeof(id));
	assert_int_equal(spd_replay_check(st, id, 2000),
	    SC_ERR_REPLAY); /* forgotten, still refused */
	memset(id, 0x55, sizeof(id));
	assert_int_equal(spd_replay_check(st, id, 1999),
	    SC_ERR_REPLAY); /* older than anything kept */
	assert_int_equal(spd_replay_check(st, id, 2001), SC_OK);
	/* Undo puts back both the entry and the watermark. */
	spd_replay_undo(st, &u);
	assert_int_equal(st->replay_watermark, 0);
	memset(id, 0, sizeof(id));
	assert_int_equal(spd_replay_check(st, id, 2000), SC_ERR_REPLAY);
	memset(id, 0xaa, sizeof(id));
	assert_int_equal(spd_replay_check(st, id, 9000), SC_OK);
	/* A new profile older than every kept one goes straight under the watermark. */
	memset(id, 0xbb, sizeof(id));
	spd_replay_add(st, id, 1500, &u);
	assert_int_equal(st->replay_watermark, 1500);
	assert_int_equal(spd_replay_check(st, id, 1500), SC_ERR_REPLAY);
	spd_state_clear(st);
	free(st);
}

/* ---- leaf-key PSS, decryption and key agreement (0x13 mode 3, 0x15, 0x16) ---- */

static sc_err sign_pss(uint32_t handle, uint8_t digest, const uint8_t *in, size_t n, uint32_t salt,
    uint8_t **sig, size_t *sig_len)
{
	struct sp_sign_req q = { .handle = handle,
		.mode = SC_SP_SIGN_PSS,
		.digest = digest,
		.input = in,
		.input_len = n,
		.salt_len = salt };
	struct sc_buf b;
	struct answer a;
	sc_err r;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_sign_req_put(&b, &q);
	r = call_buf(SC_SP_SIGN, &b, &a);
	if (r == SC_OK) {
		const uint8_t *p;
		size_t pl;

		assert_int_equal(sp_sign_ans_get(&a.rd, SC_SP_SIGN_PSS, &p, &pl), SC_OK);
		*sig = malloc(pl);
		memcpy(*sig, p, pl);
		*sig_len = pl;
	}
	answer_free(&a);
	return r;
}

static void decrypt_body(struct sc_buf *b, uint32_t handle, uint8_t scheme, uint8_t md,
    uint8_t mgf1, const uint8_t *label, size_t ll, const uint8_t *ct, size_t cl)
{
	struct sp_decrypt_req q = { .handle = handle,
		.scheme = scheme,
		.hash = md,
		.mgf1_hash = mgf1,
		.label = label,
		.label_len = ll,
		.ciphertext = ct,
		.ciphertext_len = cl };

	sc_buf_init_writer(b, SC_SP_MAX_MSG, 0);
	sp_decrypt_req_put(b, &q);
}

/* DECRYPT or DERIVE: one string answer, copied to *out. */
static sc_err call_secret(uint8_t type, struct sc_buf *b, uint8_t **out, size_t *out_len)
{
	struct answer a;
	sc_err r = call_buf(type, b, &a);

	if (r == SC_OK) {
		const uint8_t *p;
		size_t pl;

		assert_int_equal(type == SC_SP_DECRYPT ? sp_decrypt_ans_get(&a.rd, &p, &pl)
		                                       : sp_derive_ans_get(&a.rd, &p, &pl),
		    SC_OK);
		*out = malloc(pl + 1);
		memcpy(*out, p, pl);
		*out_len = pl;
	}
	answer_free(&a);
	return r;
}

static sc_err decrypt(uint32_t handle, uint8_t scheme, uint8_t md, uint8_t mgf1,
    const uint8_t *label, size_t ll, const uint8_t *ct, size_t cl, uint8_t **out, size_t *ol)
{
	struct sc_buf b;

	decrypt_body(&b, handle, scheme, md, mgf1, label, ll, ct, cl);
	return call_secret(SC_SP_DECRYPT, &b, out, ol);
}

static sc_err derive(uint32_t handle, const uint8_t *point, size_t pl, uint8_t **out, size_t *ol)
{
	struct sc_buf b;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_derive_req_put(&b, handle, point, pl);
	return call_secret(SC_SP_DERIVE, &b, out, ol);
}

/* What a peer would send: RSA-OAEP under the leaf certificate's public key. */
static size_t oaep_encrypt(X509 *cert, const EVP_MD *md, const EVP_MD *mgf1, const char *label,
    const uint8_t *msg, size_t n, uint8_t *out, size_t cap)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(X509_get0_pubkey(cert), NULL);
	size_t len = cap;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_encrypt_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(c, md), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(c, mgf1), 1);
	if (label != NULL)
		assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(c, OPENSSL_strdup(label),
		                     (int)strlen(label)),
		    1);
	assert_int_equal(EVP_PKEY_encrypt(c, out, &len, msg, n), 1);
	EVP_PKEY_CTX_free(c);
	return len;
}

/* The uncompressed point of an EC key. */
static size_t ec_point(EVP_PKEY *k, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", out, cap, &n), 1);
	return n;
}

static void test_pss(void **state)
{
	static const uint8_t msg[] = "probabilistic";
	struct pspec s;
	uint32_t h_rsa, h_ec;
	X509 *c_rsa = NULL, *c_ec = NULL;
	uint8_t dg[64], *sig = NULL, body[64];
	unsigned int dl;
	size_t sl;
	EVP_PKEY_CTX *v;
	struct sc_buf b;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	memset(&s, 0, sizeof(s));
	s.alg = SC_ALG_RSA2048;
	assert_int_equal(issue_spec(&s, &h_rsa, &c_rsa), SC_OK);
	s.alg = SC_ALG_P256;
	assert_int_equal(issue_spec(&s, &h_ec, &c_ec), SC_OK);
	assert_int_equal(EVP_Digest(msg, sizeof(msg), dg, &dl, EVP_sha384(), NULL), 1);

	/* Verifies as RSA-PSS with SHA-384, MGF1-SHA-384 and the salt length asked for. */
	assert_int_equal(sign_pss(h_rsa, SC_DIGEST_SHA384, dg, dl, 48, &sig, &sl), SC_OK);
	assert_int_equal(sl, 256);
	v = EVP_PKEY_CTX_new(X509_get0_pubkey(c_rsa), NULL);
	assert_int_equal(EVP_PKEY_verify_init(v), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(v, EVP_sha384()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(v, EVP_sha384()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(v, 48), 1);
	assert_int_equal(EVP_PKEY_verify(v, sig, sl, dg, dl), 1);
	EVP_PKEY_CTX_free(v);
	free(sig);
	/* The largest salt (256 - 48 - 2) and none at all; one more is refused. */
	assert_int_equal(sign_pss(h_rsa, SC_DIGEST_SHA384, dg, dl, 206, &sig, &sl), SC_OK);
	free(sig);
	assert_int_equal(sign_pss(h_rsa, SC_DIGEST_SHA384, dg, dl, 0, &sig, &sl), SC_OK);
	free(sig);
	assert_int_equal(sign_pss(h_rsa, SC_DIGEST_SHA384, dg, dl, 207, &sig, &sl), SC_ERR_USAGE);
	assert_int_equal(sign_pss(h_rsa, SC_DIGEST_SHA384, dg, 32, 32, &sig, &sl), SC_ERR_USAGE);
	assert_int_equal(sign_pss(h_rsa, 9, dg, dl, 32, &sig, &sl), SC_ERR_ALGORITHM);
	assert_int_equal(sign_pss(h_ec, SC_DIGEST_SHA384, dg, dl, 32, &sig, &sl), SC_ERR_ALGORITHM);
	assert_int_equal(sign_pss(77, SC_DIGEST_SHA384, dg, dl, 32, &sig, &sl), SC_ERR_NO_KEY);
	/* The salt length is part of the body: without it MALFORMED, a byte more TRAILING. */
	sc_buf_init_writer(&b, sizeof(body), 0);
	sp_sign_req_put(&b,
	    &(struct sp_sign_req){ .handle = h_rsa,
	        .mode = SC_SP_SIGN_PSS,
	        .digest = SC_DIGEST_SHA256,
	        .input = dg,
	        .input_len = 32,
	        .salt_len = 32 });
	assert_int_equal(sc_buf_done(&b, "pss"), SC_OK);
	check_body(SC_SP_SIGN, b.data, b.len);
	assert_int_equal(call(SC_SP_SIGN, b.data, b.len, NULL), SC_OK);
	sc_buf_free(&b);
	X509_free(c_rsa);
	X509_free(c_ec);
}

static void test_decrypt(void **state)
{
	static const uint8_t secret[] = "a premaster secret of sorts";
	struct pspec s;
	uint32_t h_enc, h_sig, h_data, h_ec;
	X509 *c_enc = NULL, *c_sig = NULL, *c_data = NULL, *c_ec = NULL;
	uint8_t ct[512], big[SC_SP_MAX_CIPHERTEXT + 1], label[SC_SP_MAX_OAEP_LABEL + 1], *pt = NULL;
	size_t cl, pl;
	struct sc_buf b;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	memset(&s, 0, sizeof(s));
	s.alg = SC_ALG_RSA2048;
	s.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
	assert_int_equal(issue_spec(&s, &h_enc, &c_enc), SC_OK);
	s.key_usage = KU_DATA_ENCIPHERMENT;
	assert_int_equal(issue_spec(&s, &h_data, &c_data), SC_OK);
	s.key_usage = 0; /* digitalSignature only */
	assert_int_equal(issue_spec(&s, &h_sig, &c_sig), SC_OK);
	s.alg = SC_ALG_P256;
	s.key_usage = KU_KEY_AGREEMENT;
	assert_int_equal(issue_spec(&s, &h_ec, &c_ec), SC_OK);

	/* SHA-256 with a label; SHA-1 (PKCS#11's default); OAEP and MGF1 hashes that differ. */
	cl = oaep_encrypt(c_enc, EVP_sha256(), EVP_sha256(), "tls", secret, sizeof(secret), ct,
	    sizeof(ct));
	assert_int_equal(cl, 256);
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, SC_DIGEST_SHA256, SC_DIGEST_SHA256,
	                     (const uint8_t *)"tls", 3, ct, cl, &pt, &pl),
	    SC_OK);
	assert_int_equal(pl, sizeof(secret));
	assert_memory_equal(pt, secret, pl);
	free(pt);
	/* The wrong label, a changed byte, the wrong hash: one code for all, no oracle. */
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, SC_DIGEST_SHA256, SC_DIGEST_SHA256,
	                     (const uint8_t *)"tl5", 3, ct, cl, &pt, &pl),
	    SC_ERR_KEY_DECRYPT);
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, SC_DIGEST_SHA512, SC_DIGEST_SHA256,
	                     (const uint8_t *)"tls", 3, ct, cl, &pt, &pl),
	    SC_ERR_KEY_DECRYPT);
	ct[100] ^= 1;
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, SC_DIGEST_SHA256, SC_DIGEST_SHA256,
	                     (const uint8_t *)"tls", 3, ct, cl, &pt, &pl),
	    SC_ERR_KEY_DECRYPT);
	cl = oaep_encrypt(c_data, EVP_sha1(), EVP_sha1(), NULL, secret, 5, ct, sizeof(ct));
	assert_int_equal(decrypt(h_data, SC_SP_DECRYPT_OAEP, SC_SP_OAEP_SHA1, SC_SP_OAEP_SHA1, NULL,
	                     0, ct, cl, &pt, &pl),
	    SC_OK);
	assert_int_equal(pl, 5);
	assert_memory_equal(pt, secret, 5);
	free(pt);
	cl = oaep_encrypt(c_enc, EVP_sha384(), EVP_sha1(), NULL, NULL, 0, ct, sizeof(ct));
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, SC_DIGEST_SHA384, SC_SP_OAEP_SHA1, NULL,
	                     0, ct, cl, &pt, &pl),
	    SC_OK);
	assert_int_equal(pl, 0); /* an empty message is a message */
	free(pt);

	/* Refusals, each its own code, in the order the SP checks. */
	assert_int_equal(decrypt(99, SC_SP_DECRYPT_OAEP, 1, 1, NULL, 0, ct, cl, &pt, &pl),
	    SC_ERR_NO_KEY);
	assert_int_equal(decrypt(h_ec, SC_SP_DECRYPT_OAEP, 1, 1, NULL, 0, ct, cl, &pt, &pl),
	    SC_ERR_ALGORITHM);
	assert_int_equal(decrypt(h_sig, SC_SP_DECRYPT_OAEP, 1, 1, NULL, 0, ct, cl, &pt, &pl),
	    SC_ERR_KEY_USAGE);
	assert_int_equal(decrypt(h_enc, 2, 1, 1, NULL, 0, ct, cl, &pt, &pl), SC_ERR_USAGE);
	assert_int_equal(decrypt(h_enc, 0, 1, 1, NULL, 0, ct, cl, &pt, &pl), SC_ERR_USAGE);
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, 0, 1, NULL, 0, ct, cl, &pt, &pl),
	    SC_ERR_ALGORITHM);
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, 1, 5, NULL, 0, ct, cl, &pt, &pl),
	    SC_ERR_ALGORITHM);
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, 1, 1, NULL, 0, ct, cl - 1, &pt, &pl),
	    SC_ERR_USAGE);
	/* Oversize fields are malformed bodies: the string bounds are the protocol's. */
	memset(big, 0, sizeof(big));
	memset(label, 'l', sizeof(label));
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, 1, 1, NULL, 0, big, sizeof(big), &pt,
	                     &pl),
	    SC_ERR_MALFORMED);
	assert_int_equal(decrypt(h_enc, SC_SP_DECRYPT_OAEP, 1, 1, label, sizeof(label), ct, cl, &pt,
	                     &pl),
	    SC_ERR_MALFORMED);
	/* Every prefix is MALFORMED, a byte more TRAILING. */
	decrypt_body(&b, h_enc, SC_SP_DECRYPT_OAEP, 1, 1, (const uint8_t *)"x", 1, ct, 8);
	assert_int_equal(sc_buf_done(&b, "decrypt"), SC_OK);
	check_body(SC_SP_DECRYPT, b.data, b.len);
	sc_buf_free(&b);
	X509_free(c_enc);
	X509_free(c_sig);
	X509_free(c_data);
	X509_free(c_ec);
}

/* ---- PROOF ---- */

/* The SP's answer was this code with exactly this detail. */
static void expect_err(sc_err r, sc_err want, const char *detail)
{
	if (r != want || strcmp(sc_err_detail(), detail) != 0)
		fail_msg("%s: %s, expected %s: %s", sc_err_name(r), sc_err_detail(),
		    sc_err_name(want), detail);
}

static sc_err proof(const uint8_t *ch, const char *net, const uint8_t *dg, uint64_t *t,
    uint8_t *sig, size_t *sig_len)
{
	struct sc_buf b;
	struct answer a;
	sc_err r;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_proof_req_put(&b, ch, net, dg);
	r = call_buf(SC_SP_PROOF, &b, &a);
	if (r == SC_OK) {
		const uint8_t *s;
		size_t n;

		assert_int_equal(sp_proof_ans_get(&a.rd, t, &s, &n), SC_OK);
		assert_true(n <= SP_MSG_MAX_SIGNATURE);
		memcpy(sig, s, n);
		*sig_len = n;
	}
	answer_free(&a);
	return r;
}

/* A proof from an SP with a CSK of alg: it verifies with the device CA certificate's key, over
 * the SP's own device ID and clock; each refusal has its code and changes nothing. */
static void proof_for(enum sc_alg alg)
{
	uint8_t ch[SC_SP_CHALLENGE_LEN], ch2[SC_SP_CHALLENGE_LEN], dg[SP_MSG_DIGEST_LEN];
	uint8_t sig[SP_MSG_MAX_SIGNATURE];
	size_t sig_len = 0;
	struct sc_proof pf;
	uint64_t t = 0;
	time_t before = time(NULL);
	uint32_t h;
	X509 *cert = NULL;
	struct pspec s;

	personalize(alg, SC_ALG_P256, 8);
	memset(dg, 0x5a, sizeof(dg));
	memset(ch2, 0x11, sizeof(ch2));
	assert_int_equal(challenge(ch), SC_OK);
	/* Refusals first: nothing is marked. */
	expect_err(proof(ch2, NET, dg, &t, sig, &sig_len), SC_ERR_CHALLENGE,
	    "proof: the challenge is unknown, expired or used");
	expect_err(proof(ch, "other-net", dg, &t, sig, &sig_len), SC_ERR_NETWORK,
	    "proof: no anchor for network other-net");
	expect_err(proof(ch, "", dg, &t, sig, &sig_len), SC_ERR_USAGE, "proof: empty network ID");
	assert_int_equal(proof(ch, NET, dg, &t, sig, &sig_len), SC_OK);
	assert_true((time_t)t >= before && (time_t)t <= time(NULL));
	memset(&pf, 0, sizeof(pf));
	memcpy(pf.challenge, ch, sizeof(ch));
	snprintf(pf.device_id, sizeof(pf.device_id), "%s", DEV);
	snprintf(pf.network_id, sizeof(pf.network_id), "%s", NET);
	memcpy(pf.request_digest, dg, sizeof(dg));
	pf.time = t;
	assert_int_equal(sc_proof_verify(&pf, sig, sig_len, X509_get0_pubkey(spd->st.csk_cert)),
	    SC_OK);
	/* Any field changed: it no longer verifies. */
	pf.time++;
	assert_int_equal(sc_proof_verify(&pf, sig, sig_len, X509_get0_pubkey(spd->st.csk_cert)),
	    SC_ERR_BAD_PROOF);
	pf.time--;
	pf.request_digest[0] ^= 1;
	assert_int_equal(sc_proof_verify(&pf, sig, sig_len, X509_get0_pubkey(spd->st.csk_cert)),
	    SC_ERR_BAD_PROOF);
	pf.request_digest[0] ^= 1;
	/* One proof per challenge. */
	expect_err(proof(ch, NET, dg, &t, sig, &sig_len), SC_ERR_CHALLENGE,
	    "proof: the challenge already has its proof");
	/* The challenge still buys its profile, then is gone for proofs too. */
	memset(&s, 0, sizeof(s));
	s.alg = SC_ALG_P256;
	s.challenge = ch;
	s.challenge_len = sizeof(ch);
	assert_int_equal(issue_spec(&s, &h, &cert), SC_OK);
	X509_free(cert);
	expect_err(proof(ch, NET, dg, &t, sig, &sig_len), SC_ERR_CHALLENGE,
	    "proof: the challenge is unknown, expired or used");
}

static void test_proof(void **state)
{
	(void)state;
	proof_for(SC_ALG_P256);
}

static void test_proof_ed25519(void **state)
{
	(void)state;
	proof_for(SC_ALG_ED25519);
}

static void test_proof_rsa(void **state)
{
	(void)state;
	proof_for(SC_ALG_RSA2048);
}

/* CRL with lifetime; on success the DER in *der (the caller's). */
static sc_err crl_req(uint32_t lifetime, uint8_t **der, size_t *der_len)
{
	struct sc_buf b;
	struct answer a;
	sc_err r;

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_crl_req_put(&b, lifetime);
	r = call_buf(SC_SP_CRL, &b, &a);
	if (r == SC_OK) {
		const uint8_t *p;
		size_t n;

		assert_int_equal(sp_crl_ans_get(&a.rd, &p, &n), SC_OK);
		assert_non_null(*der = OPENSSL_memdup(p, n));
		*der_len = n;
	}
	answer_free(&a);
	return r;
}

/*
 * CRL: the device CA's own CRL, for each CSK algorithm: the body decoded strictly, the lifetime
 * bounded, the CRL exactly the profile (sc_crl_device_decode) under the CSK certificate, numbers
 * rising; a device CA certified without cRLSign gets none.
 */
static void crl_for(enum sc_alg alg)
{
	static const uint8_t three[3] = { 0, 0, 0x0e }, five[5] = { 0, 0, 0x0e, 0x10, 0 };
	uint8_t *der = NULL, *der2 = NULL;
	size_t len = 0, len2 = 0;
	X509_CRL *crl = NULL;
	uint64_t n1 = 0, n2 = 0;
	int64_t next = 0;
	time_t now = time(NULL);

	personalize_ex(alg, SC_ALG_P256, 8, 1);
	/* Hostile bodies: short, long, empty; lifetimes outside 1 h..30 d. */
	expect_err(call(SC_SP_CRL, three, sizeof(three), NULL), SC_ERR_MALFORMED,
	    "crl: truncated or field out of range");
	expect_err(call(SC_SP_CRL, five, sizeof(five), NULL), SC_ERR_TRAILING,
	    "crl: 1 trailing bytes");
	expect_err(call(SC_SP_CRL, NULL, 0, NULL), SC_ERR_MALFORMED,
	    "crl: truncated or field out of range");
	expect_err(crl_req(SC_CRL_MIN_LIFETIME - 1, &der, &len), SC_ERR_VALIDITY,
	    "crl: lifetime 3599 s outside 3600..2592000");
	expect_err(crl_req(SC_CRL_MAX_LIFETIME + 1, &der, &len), SC_ERR_VALIDITY,
	    "crl: lifetime 2592001 s outside 3600..2592000");
	expect_err(crl_req(UINT32_MAX, &der, &len), SC_ERR_VALIDITY,
	    "crl: lifetime 4294967295 s outside 3600..2592000");
	assert_int_equal(crl_req(SC_CRL_MIN_LIFETIME, &der, &len), SC_OK);
	assert_true(len <= SC_CRL_MAX_DER);
	assert_int_equal(sc_crl_device_decode(der, len, spd->st.csk_cert, (int64_t)now, "t", &crl),
	    SC_OK);
	assert_int_equal(sc_crl_device_check(crl, spd->st.csk_cert, (int64_t)now, "t", &n1, &next),
	    SC_OK);
	assert_true(next >= (int64_t)now + SC_CRL_MIN_LIFETIME &&
	    next <= (int64_t)time(NULL) + SC_CRL_MIN_LIFETIME);
	/* Past nextUpdate it is stale; under another device CA it is nobody's. */
	expect_err(sc_crl_device_check(crl, spd->st.csk_cert, next, "t", NULL, NULL), SC_ERR_STALE,
	    "t: nextUpdate: passed");
	expect_err(sc_crl_device_check(crl, world.device_ca, (int64_t)now, "t", NULL, NULL),
	    SC_ERR_KEY_USAGE,
	    "t: the device CA certificate has no cRLSign (certified before CRLs "
	    "existed)");
	X509_CRL_free(crl);
	crl = NULL;
	assert_int_equal(crl_req(SC_CRL_MAX_LIFETIME, &der2, &len2), SC_OK);
	assert_int_equal(sc_crl_device_decode(der2, len2, spd->st.csk_cert, (int64_t)now, "t",
	                     &crl),
	    SC_OK);
	assert_int_equal(sc_crl_device_check(crl, spd->st.csk_cert, -1, "t", &n2, NULL), SC_OK);
	assert_true(n2 > n1);
	/* Strict DER: a byte more is trailing data, a changed signature byte does not verify. */
	OPENSSL_free(der);
	assert_non_null(der = OPENSSL_malloc(len2 + 1));
	memcpy(der, der2, len2);
	der[len2] = 0;
	X509_CRL_free(crl);
	crl = NULL;
	expect_err(sc_crl_device_decode(der, len2 + 1, spd->st.csk_cert, -1, "t", &crl),
	    SC_ERR_TRAILING, "t: 1 trailing bytes");
	der[len2 - 2] ^= 1;
	expect_err(sc_crl_device_decode(der, len2, spd->st.csk_cert, -1, "t", &crl),
	    SC_ERR_SIGNATURE, "t: signature: not by the device CA's key");
	expect_err(sc_crl_device_decode(der, SC_CRL_MAX_DER + 1, spd->st.csk_cert, -1, "t", &crl),
	    SC_ERR_OVERSIZE, "t: 4097 bytes, at most 4096");
	assert_null(crl);
	OPENSSL_free(der);
	OPENSSL_free(der2);
}

static void test_crl(void **state)
{
	(void)state;
	crl_for(SC_ALG_P256);
}

static void test_crl_rsa(void **state)
{
	(void)state;
	crl_for(SC_ALG_RSA2048);
}

static void test_crl_ed25519(void **state)
{
	(void)state;
	crl_for(SC_ALG_ED25519);
}

/* A device CA certified before issue 14 (keyCertSign only): the SP signs no CRL for it. */
static void test_crl_old_device(void **state)
{
	uint8_t *der = NULL;
	size_t len = 0;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	expect_err(crl_req(SC_CRL_DEFAULT_LIFETIME, &der, &len), SC_ERR_KEY_USAGE,
	    "crl: the device CA certificate has no cRLSign (certified before CRLs existed)");
	assert_null(der);
}

static void test_derive(void **state)
{
	struct pspec s;
	uint32_t h_ka, h_sig, h_ed, h_rsa, h_384;
	X509 *c_ka = NULL, *c_sig = NULL, *c_ed = NULL, *c_rsa = NULL, *c_384 = NULL;
	EVP_PKEY *peer = NULL, *peer384 = NULL;
	EVP_PKEY_CTX *c;
	uint8_t pt[SC_SP_MAX_EC_POINT + 1], pt384[SC_SP_MAX_EC_POINT], want[48], *got = NULL;
	size_t pl, pl384, wl = sizeof(want), gl;
	struct sc_buf b;

	(void)state;
	personalize(SC_ALG_P256, SC_ALG_P256, 8);
	memset(&s, 0, sizeof(s));
	s.alg = SC_ALG_P256;
	s.key_usage = KU_KEY_AGREEMENT;
	assert_int_equal(issue_spec(&s, &h_ka, &c_ka), SC_OK);
	s.alg = SC_ALG_P384;
	s.key_usage = KU_KEY_AGREEMENT | KU_DIGITAL_SIGNATURE;
	assert_int_equal(issue_spec(&s, &h_384, &c_384), SC_OK);
	s.key_usage = 0;
	s.alg = SC_ALG_P256;
	assert_int_equal(issue_spec(&s, &h_sig, &c_sig), SC_OK);
	s.alg = SC_ALG_ED25519;
	assert_int_equal(issue_spec(&s, &h_ed, &c_ed), SC_OK);
	s.alg = SC_ALG_RSA2048;
	s.key_usage = KU_KEY_ENCIPHERMENT;
	assert_int_equal(issue_spec(&s, &h_rsa, &c_rsa), SC_OK);

	/* The shared secret is what the peer computes with its own key and the leaf's. */
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &peer), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P384, &peer384), SC_OK);
	pl = ec_point(peer, pt, sizeof(pt));
	pl384 = ec_point(peer384, pt384, sizeof(pt384));
	assert_int_equal(pl, 65);
	assert_int_equal(pl384, 97);
	c = EVP_PKEY_CTX_new(peer, NULL);
	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c, X509_get0_pubkey(c_ka)), 1);
	assert_int_equal(EVP_PKEY_derive(c, want, &wl), 1);
	EVP_PKEY_CTX_free(c);
	assert_int_equal(derive(h_ka, pt, pl, &got, &gl), SC_OK);
	assert_int_equal(gl, 32);
	assert_memory_equal(got, want, 32);
	free(got);
	assert_int_equal(derive(h_384, pt384, pl384, &got, &gl), SC_OK);
	assert_int_equal(gl, 48);
	free(got);

	assert_int_equal(derive(99, pt, pl, &got, &gl), SC_ERR_NO_KEY);
	assert_int_equal(derive(h_ed, pt, pl, &got, &gl), SC_ERR_ALGORITHM);
	assert_int_equal(derive(h_rsa, pt, pl, &got, &gl), SC_ERR_ALGORITHM);
	assert_int_equal(derive(h_sig, pt, pl, &got, &gl), SC_ERR_KEY_USAGE);
	/* Points: the other curve's, compressed, off the curve, too long for any. */
	assert_int_equal(derive(h_ka, pt384, pl384, &got, &gl), SC_ERR_MALFORMED);
	assert_int_equal(derive(h_384, pt, pl, &got, &gl), SC_ERR_MALFORMED);
	pt[0] = 0x02 | (pt[64] & 1);
	assert_int_equal(derive(h_ka, pt, 33, &got, &gl), SC_ERR_MALFORMED);
	pt[0] = 0x04;
	pt[64] ^= 1;
	assert_int_equal(derive(h_ka, pt, pl, &got, &gl), SC_ERR_MALFORMED);
	pt[64] ^= 1;
	memset(pt + 1, 0, 64); /* (0, 0) is not on P-256 */
	assert_int_equal(derive(h_ka, pt, pl, &got, &gl), SC_ERR_MALFORMED);
	assert_int_equal(derive(h_ka, pt, sizeof(pt), &got, &gl), SC_ERR_MALFORMED);
	pl = ec_point(peer, pt, sizeof(pt));
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_derive_req_put(&b, h_ka, pt, pl);
	assert_int_equal(sc_buf_done(&b, "derive"), SC_OK);
	check_body(SC_SP_DERIVE, b.data, b.len);
	sc_buf_free(&b);
	/* Across a restart the same key agrees the same secret. */
	restart();
	assert_int_equal(derive(h_ka, pt, pl, &got, &gl), SC_OK);
	assert_memory_equal(got, want, 32);
	free(got);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(peer384);
	X509_free(c_ka);
	X509_free(c_sig);
	X509_free(c_ed);
	X509_free(c_rsa);
	X509_free(c_384);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gating, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proof_ed25519, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proof_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_rsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_ed25519, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_old_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_and_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_trailing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_factory_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_and_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_signer_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supplied_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_paged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit_changes_nothing, setup,
		    teardown),
		cmocka_unit_test(test_replay_cache),
		cmocka_unit_test_setup_teardown(test_pss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decrypt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derive, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);

	X509_free(kek_cert);
	return rc;
}
