// SPDX-License-Identifier: Apache-2.0
/*
 * testsp.c — the in-process SP of testsp.h: spd_core's store and dispatch table with no socket
 * and no daemon, so a test sees every answer's code and detail exactly as the SP sends them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>
#include "store.h"
#include "testsp.h"
#include "testutil.h"

void sc_test_answer_free(struct sc_test_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* The answer message in ans, checked against the protocol and decoded into a. */
static sc_err decode_answer(const struct sc_buf *ans, uint8_t type, sc_err dispatched,
    struct sc_test_answer *a)
{
	struct sc_buf rd;

	if (ans->len < 2 || ans->data[0] != SC_SP_PROTO_VERSION)
		return sc_fail(SC_ERR_PEER, "answer to 0x%02x: no version", type);
	if (ans->data[1] == SC_SP_ERROR) {
		sc_buf_init_reader(&rd, ans->data + 2, ans->len - 2);
		a->code = (sc_err)(int32_t)sc_buf_get_u32(&rd);
		sc_buf_get_cstring(&rd, a->detail, SC_WIRE_MAX_DETAIL);
		if (sc_buf_done(&rd, "error answer") != SC_OK)
			return SC_ERR_PEER;
		/* Every error names what was wrong, and is what dispatch returned. */
		if (a->code >= 0 || a->detail[0] == '\0' || a->code != dispatched)
			return sc_fail(SC_ERR_PEER,
			    "answer to 0x%02x: error %d \"%s\", dispatch said %d", type,
			    (int)a->code, a->detail, (int)dispatched);
		return a->code;
	}
	if (ans->data[1] != (type | SC_SP_ANSWER) || dispatched != SC_OK)
		return sc_fail(SC_ERR_PEER, "answer to 0x%02x: type 0x%02x, dispatch said %d", type,
		    ans->data[1], (int)dispatched);
	a->code = SC_OK;
	a->len = ans->len - 2;
	if ((a->body = malloc(a->len + 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "answer body");
	memcpy(a->body, ans->data + 2, a->len);
	sc_buf_init_reader(&a->rd, a->body, a->len);
	return SC_OK;
}

sc_err sc_test_sp_call(struct sc_test_sp *sp, uint8_t type, const uint8_t *body, size_t len,
    struct sc_test_answer *a)
{
	struct sc_test_answer tmp;
	struct sc_buf msg, ans;
	sc_err dispatched, r;

	a = a != NULL ? a : &tmp;
	memset(a, 0, sizeof(*a));
	sc_wire_begin(&msg, type, 0);
	if (len > 0)
		sc_buf_put_bytes(&msg, body, len);
	if ((r = sc_buf_done(&msg, "request")) != SC_OK) {
		sc_buf_free(&msg);
		return r;
	}
	dispatched = spd_dispatch(sp->spd, msg.data, msg.len, &ans);
	r = decode_answer(&ans, type, dispatched, a);
	sc_buf_free(&ans);
	sc_buf_free(&msg);
	if (a == &tmp)
		sc_test_answer_free(&tmp);
	return r;
}

/* Send the request b (freed here). */
static sc_err call_buf(struct sc_test_sp *sp, uint8_t type, struct sc_buf *b,
    struct sc_test_answer *a)
{
	sc_err r = sc_buf_done(b, "request");

	if (r == SC_OK)
		r = sc_test_sp_call(sp, type, b->data, b->len, a);
	sc_buf_free(b);
	return r;
}

static sc_err sp_open(struct sc_test_sp *sp, const char *dir, const char *device_id,
    const struct spd_backend *be)
{
	sc_err r;

	memset(sp, 0, sizeof(*sp));
	if (dir == NULL) {
		snprintf(sp->base, sizeof(sp->base), "%s", sc_test_tmpdir());
		snprintf(sp->dir, sizeof(sp->dir), "%s/sp", sp->base);
	} else if (strlen(dir) >= sizeof(sp->dir)) {
		return sc_fail(SC_ERR_USAGE, "test SP: folder name too long");
	} else {
		snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	}
	if ((sp->spd = calloc(1, sizeof(*sp->spd))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "test SP");
		goto out;
	}
	spd_start(sp->spd); /* what selfcert-spd's main does: the signer cache */
	if ((r = spd_store_create_with(sp->dir, device_id, be)) != SC_OK ||
	    (r = spd_store_open(sp->dir, &sp->spd->store, &sp->spd->st)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK)
		sc_test_sp_close(sp);
	return r;
}

sc_err sc_test_sp_open(struct sc_test_sp *sp, const char *dir, const char *device_id)
{
	return sp_open(sp, dir, device_id, &spd_backend_soft);
}

sc_err sc_test_sp_open_tpm(struct sc_test_sp *sp, const char *dir, const char *device_id,
    const char *tcti)
{
	sc_err r;

	memset(sp, 0, sizeof(*sp));
	if ((r = spd_tpm_open(tcti)) != SC_OK)
		return r;
	if ((r = sp_open(sp, dir, device_id, &spd_backend_tpm)) != SC_OK)
		spd_tpm_close();
	return r;
}

void sc_test_sp_close(struct sc_test_sp *sp)
{
	int tpm = sp->spd != NULL && sp->spd->st.be == &spd_backend_tpm;

	if (sp->spd != NULL) {
		spd_stop(sp->spd);
		spd_state_clear(&sp->spd->st);
		spd_store_close(sp->spd->store);
		free(sp->spd);
	}
	X509_free(sp->csk_cert);
	X509_free(sp->kek_cert);
	if (sp->base[0] != '\0')
		sc_test_rmdir(sp->base);
	memset(sp, 0, sizeof(*sp));
	if (tpm)
		spd_tpm_close();
}

sc_err sc_test_sp_restart(struct sc_test_sp *sp)
{
	spd_state_clear(&sp->spd->st);
	spd_store_close(sp->spd->store);
	sp->spd->store = NULL;
	sp->spd->n_challenges = 0;
	return spd_store_open(sp->dir, &sp->spd->store, &sp->spd->st);
}

/* KEYGEN for one role; the proof of possession checked; the key certified by w's CA. */
static sc_err certify_role(struct sc_test_sp *sp, const struct sc_test_world *w, uint8_t role,
    enum sc_alg alg, X509 **out)
{
	uint8_t body[2] = { role, (uint8_t)alg };
	struct sc_test_answer a;
	X509_REQ *csr = NULL;
	const uint8_t *der;
	const unsigned char *p;
	size_t n;
	sc_err r;

	if ((r = sc_test_sp_call(sp, SC_SP_KEYGEN, body, sizeof(body), &a)) != SC_OK)
		goto out;
	sc_buf_get_string(&a.rd, &der, &n, SC_WIRE_MAX_CERT);
	if ((r = sc_buf_done(&a.rd, "keygen answer")) != SC_OK)
		goto out;
	p = der;
	if ((csr = d2i_X509_REQ(NULL, &p, (long)n)) == NULL ||
	    X509_REQ_verify(csr, X509_REQ_get0_pubkey(csr)) != 1) {
		r = sc_fail_ossl(SC_ERR_PEER, "keygen: the CSR's proof of possession");
		goto out;
	}
	if (role == SC_SP_ROLE_CSK)
		r = sc_test_world_device_ca(w, X509_REQ_get0_pubkey(csr), sp->spd->st.device_id,
		    out);
	else
		r = sc_test_world_kek(w, X509_REQ_get0_pubkey(csr), sp->spd->st.device_id, out);
out:
	X509_REQ_free(csr);
	sc_test_answer_free(&a);
	return r;
}

static sc_err install_cert(struct sc_test_sp *sp, uint8_t role, X509 *cert)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);
	struct sc_buf b;

	if (n <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "i2d_X509");
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_u8(&b, role);
	sc_buf_put_string(&b, der, (size_t)n);
	OPENSSL_free(der);
	return call_buf(sp, SC_SP_INSTALL_CERT, &b, NULL);
}

static sc_err install_anchor(struct sc_test_sp *sp, const char *network_id, X509 *root)
{
	unsigned char *der = NULL;
	int n = i2d_X509(root, &der);
	struct sc_buf b;

	if (n <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "i2d_X509");
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_cstring(&b, network_id);
	sc_buf_put_string(&b, der, (size_t)n);
	OPENSSL_free(der);
	return call_buf(sp, SC_SP_INSTALL_ANCHOR, &b, NULL);
}

static sc_err set_limits(struct sc_test_sp *sp, uint32_t max_leaf_days, uint32_t max_keys)
{
	struct sc_buf b;

	sc_buf_init_writer(&b, 64, 0);
	sc_buf_put_u32(&b, max_leaf_days);
	sc_buf_put_u32(&b, max_keys);
	return call_buf(sp, SC_SP_SET_LIMITS, &b, NULL);
}

sc_err sc_test_sp_personalize(struct sc_test_sp *sp, const struct sc_test_world *w,
    enum sc_alg csk_alg, enum sc_alg kek_alg, uint32_t max_leaf_days, uint32_t max_keys, int lock)
{
	X509 *csk_cert = NULL, *kek_cert = NULL;
	sc_err r;

	if ((r = certify_role(sp, w, SC_SP_ROLE_CSK, csk_alg, &csk_cert)) != SC_OK ||
	    (r = certify_role(sp, w, SC_SP_ROLE_KEK, kek_alg, &kek_cert)) != SC_OK ||
	    (r = install_cert(sp, SC_SP_ROLE_CSK, csk_cert)) != SC_OK ||
	    (r = install_cert(sp, SC_SP_ROLE_KEK, kek_cert)) != SC_OK ||
	    (r = install_anchor(sp, w->network_id, w->net_root)) != SC_OK ||
	    (r = set_limits(sp, max_leaf_days, max_keys)) != SC_OK)
		goto out;
	if (lock && (r = sc_test_sp_call(sp, SC_SP_LOCK, NULL, 0, NULL)) != SC_OK)
		goto out;
	/* Only a completed flow replaces what an earlier one installed. */
	X509_free(sp->csk_cert);
	X509_free(sp->kek_cert);
	sp->csk_cert = csk_cert;
	sp->kek_cert = kek_cert;
	csk_cert = kek_cert = NULL;
	r = SC_OK;
out:
	X509_free(csk_cert);
	X509_free(kek_cert);
	return r;
}
