// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_dispatch.c — libFuzzer target: one SP request message (version, type, body; what
 * selfcert-spd hands to spd_dispatch after framing) against an in-memory SP that went through
 * the factory flow with the fixture's keys and is locked, holding two leaf keys, with a real
 * sealed store in a temporary folder. Checked for every input: exactly one well-formed answer
 * of the right type; a refusal changes nothing; a request that commits leaves on disk exactly
 * the state in memory. After a commit the SP is put back to its starting state, so every input
 * meets the same SP.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <selfcert/cert.h>
#include <selfcert/sp.h>
#include "fuzz.h"
#include "pem.h"
#include "sp_wire.h"
#include "spd.h"
#include "store.h"

static const struct fz_fixture *fx;
static struct spd *spd;
static char store_dir[512];
static struct sc_buf snapshot; /* the starting state, serialized (secret) */
static uint64_t counter0;      /* the store counter when the snapshot was taken */

static __attribute__((noreturn)) void die(const char *what, sc_err r)
{
	fprintf(stderr, "fuzz_dispatch init: %s: %s: %s\n", what, sc_err_name(r), sc_err_detail());
	abort();
}

/* One request through the dispatch table during set-up; it must succeed. */
static void request(uint8_t type, struct sc_buf *body, const char *what)
{
	struct sc_buf msg, ans;
	sc_err r;

	sc_wire_begin(&msg, type, 0);
	if (body != NULL) {
		sc_buf_put_bytes(&msg, body->data, body->len);
		sc_buf_free(body);
	}
	if ((r = sc_buf_done(&msg, what)) != SC_OK)
		die(what, r);
	if ((r = spd_dispatch(spd, msg.data, msg.len, &ans)) != SC_OK)
		die(what, r);
	sc_buf_free(&msg);
	sc_buf_free(&ans);
}

static void put_cert(struct sc_buf *b, X509 *cert)
{
	uint8_t *der;
	size_t len;

	if (sc_cert_to_der(cert, &der, &len) != SC_OK)
		die("certificate DER", SC_ERR_INTERNAL);
	sc_buf_put_string(b, der, len);
	OPENSSL_free(der);
}

/* A valid profile asking this SP for a generated key of alg. */
static void issue(enum sc_alg alg)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	struct sc_buf b;
	uint8_t *der;
	size_t len;

	memset(&pp, 0, sizeof(pp));
	pp.network_id = FZ_NETWORK_ID;
	pp.device_id = FZ_DEVICE_ID;
	pp.profile_not_after = FZ_PROFILE_NOT_AFTER;
	pp.not_before = FZ_LEAF_NOT_BEFORE;
	pp.not_after = FZ_LEAF_NOT_AFTER;
	pp.generate_alg = alg;
	if (sc_profile_create(&pp, &p) != SC_OK ||
	    sc_profile_sign(p, fx->signer_key, fx->signer, NULL, 0) != SC_OK ||
	    sc_profile_encode(p, &der, &len) != SC_OK)
		die("a profile for the starting keys", SC_ERR_INTERNAL);
	sc_profile_free(p);
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_string(&b, der, len);
	OPENSSL_free(der);
	request(SC_SP_ISSUE, &b, "issue");
}

/* A fixture key into the SP's backend, as the store hands it one: its PKCS#8. */
static sc_err take_key(EVP_PKEY *k, struct spd_key **dst)
{
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;

	if ((r = spd_key_der(k, &der, &len)) != SC_OK)
		return r;
	r = spd->st.be->key_load(spd->st.be, sc_alg_of_key(k), der, len, "fixture", dst);
	spd_key_der_free(der, len);
	return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sc_buf b;
	sc_err r;

	(void)argc;
	(void)argv;
	fx = fz_fixture();
	snprintf(store_dir, sizeof(store_dir), "%s/sp", fz_tmpdir("dispatch"));
	if ((r = spd_store_create(store_dir, FZ_DEVICE_ID)) != SC_OK)
		die("store create", r);
	if ((spd = calloc(1, sizeof(*spd))) == NULL)
		die("state", SC_ERR_NOMEM);
	spd_start(spd); /* the signer cache, as selfcert-spd has it */
	if ((r = spd_store_open(store_dir, &spd->store, &spd->st)) != SC_OK)
		die("store open", r);

	/*
	 * KEYGEN would make random keys; the fixture's fixed ones are put in its place so that the
	 * corpus' supplied keys are encrypted to this SP's KEK. The rest is the real factory flow.
	 */
	if ((r = take_key(fx->csk, &spd->st.csk)) != SC_OK ||
	    (r = take_key(fx->kek, &spd->st.kek)) != SC_OK)
		die("key import", r);
	spd->st.csk_alg = SC_ALG_P256;
	spd->st.kek_alg = SC_ALG_P256;
	spd->st.state = SC_SP_STATE_FACTORY;
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_u8(&b, SC_SP_ROLE_CSK);
	put_cert(&b, fx->csk_cert);
	request(SC_SP_INSTALL_CERT, &b, "install CSK certificate");
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_u8(&b, SC_SP_ROLE_KEK);
	put_cert(&b, fx->kek_cert);
	request(SC_SP_INSTALL_CERT, &b, "install KEK certificate");
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_cstring(&b, FZ_NETWORK_ID);
	put_cert(&b, fx->net_root);
	request(SC_SP_INSTALL_ANCHOR, &b, "install anchor");
	sc_buf_init_writer(&b, 64, 0);
	sc_buf_put_u32(&b,
	    0); /* no lifetime limit beyond the device CA's: corpus leaves are long */
	sc_buf_put_u32(&b, 8);
	request(SC_SP_SET_LIMITS, &b, "set limits");
	request(SC_SP_LOCK, NULL, "lock");
	issue(SC_ALG_P256);    /* handle 1 */
	issue(SC_ALG_ED25519); /* handle 2 */

	if ((r = spd_state_serialize(&spd->st, &snapshot)) != SC_OK)
		die("snapshot", r);
	counter0 = spd_store_counter(spd->store);
	return 0;
}

/* The state as the store would write it; the caller frees it. */
static void serialize(const struct spd_state *st, struct sc_buf *out)
{
	sc_err r = spd_state_serialize(st, out);

	FZ_ASSERT(r == SC_OK, "state does not serialize: %s: %s", sc_err_name(r), sc_err_detail());
}

static int same_as(const struct sc_buf *a, const struct spd_state *st)
{
	struct sc_buf b;
	int same;

	serialize(st, &b);
	same = a->len == b.len && memcmp(a->data, b.data, a->len) == 0;
	sc_buf_free(&b);
	return same;
}

/* Exactly one answer, well formed: [1][type|0x80][body] or [1][0x7f][i32 code][detail]. */
static void check_answer(const uint8_t *req, size_t req_len, sc_err r, const struct sc_buf *ans)
{
	struct sc_buf rd;
	char detail[SC_WIRE_MAX_DETAIL + 1];
	int32_t code;

	FZ_ASSERT(ans->len >= SC_WIRE_MIN_MSG && ans->len <= SC_SP_MAX_MSG, "answer of %zu bytes",
	    ans->len);
	FZ_ASSERT(ans->data[0] == SC_SP_PROTO_VERSION, "answer version %u", ans->data[0]);
	if (r == SC_OK) {
		FZ_ASSERT(req_len >= 2 && ans->data[1] == (req[1] | SC_SP_ANSWER),
		    "answer type 0x%02x", ans->data[1]);
		return;
	}
	FZ_ASSERT(ans->data[1] == SC_SP_ERROR, "a refusal answered with type 0x%02x", ans->data[1]);
	sc_buf_init_reader(&rd, ans->data + 2, ans->len - 2);
	code = (int32_t)sc_buf_get_u32(&rd);
	sc_buf_get_cstring(&rd, detail, SC_WIRE_MAX_DETAIL);
	FZ_ASSERT(sc_buf_done(&rd, "error answer") == SC_OK, "error answer does not decode");
	FZ_ASSERT(code == (int32_t)r && strcmp(sc_err_name(r), "unknown") != 0,
	    "error answer code %d for %d", code, (int)r);
	FZ_ASSERT(detail[0] != '\0', "%s without a detail", sc_err_name(r));
}

/* What was committed must open as exactly the state in memory. */
static void check_committed(void)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	struct sc_buf mem;
	sc_err r;

	FZ_ASSERT(st != NULL, "out of memory");
	r = spd_store_open(store_dir, &s, st);
	FZ_ASSERT(r == SC_OK, "the committed store does not open: %s: %s", sc_err_name(r),
	    sc_err_detail());
	FZ_ASSERT(spd_store_counter(s) == spd_store_counter(spd->store), "counter %llu on disk",
	    (unsigned long long)spd_store_counter(s));
	serialize(&spd->st, &mem);
	FZ_ASSERT(same_as(&mem, st), "the committed state differs from the state in memory");
	sc_buf_free(&mem);
	spd_state_clear(st);
	free(st);
	spd_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_buf ans;
	sc_err r;

	fz_input_begin(data, size);

	/* selfcert-spd's framing never hands dispatch a longer message. */
	if (size > SC_SP_MAX_MSG)
		return 0;
	/* Challenges live in memory only: every input starts with none outstanding. */
	spd->n_challenges = 0;
	memset(spd->challenges, 0, sizeof(spd->challenges));

	r = spd_dispatch(spd, data, size, &ans);
	check_answer(data, size, r, &ans);
	fz_trace("dispatch: %s: %s%s%s", size >= 2 ? sc_wire_msg_name(data[1]) : "-",
	    sc_err_name(r), r == SC_OK ? "" : ": ", r == SC_OK ? "" : sc_err_detail());
	sc_buf_free(&ans);

	if (r == SC_OK && size >= 2 && data[1] == SC_SP_ISSUE)
		fz_success();
	if (spd_store_counter(spd->store) != counter0) {
		FZ_ASSERT(r == SC_OK, "a refused request committed: %s", sc_err_name(r));
		check_committed();
		/* Back to the starting state for the next input. */
		spd_state_clear(&spd->st);
		r = spd_state_parse(snapshot.data, snapshot.len, &spd->st);
		FZ_ASSERT(r == SC_OK, "the snapshot does not parse: %s", sc_err_detail());
		counter0 = spd_store_counter(spd->store);
	} else if (r != SC_OK && size >= 2 && (data[1] == SC_SP_ISSUE || data[1] == SC_SP_DELETE)) {
		/* The requests that change state must take back everything when refused. */
		FZ_ASSERT(same_as(&snapshot, &spd->st), "refused %s changed the state: %s",
		    sc_wire_msg_name(data[1]), sc_err_name(r));
	}
	ERR_clear_error();
	return 0;
}
