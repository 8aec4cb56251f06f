// SPDX-License-Identifier: Apache-2.0
/*
 * sp_client.c — the host's side of the SP protocol (include/selfcert/sp.h, docs/PROTOCOL.md).
 * Each wrapper sends one request, receives one answer of the expected type (or SC_SP_ERROR,
 * returned as the SP's code and detail) and decodes it strictly: every byte consumed. The bytes
 * are sp_msg.c's; what is left here is checking the caller's inputs, paging and ownership.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <selfcert/gate.h>
#include "buf.h"
#include "sp_msg.h"
#include "pem.h"
#include "sp_wire.h"

/* Issuance may generate an RSA-4096 key, and the SP serves clients one request at a time. */
#define SP_CLIENT_TIMEOUT_MS 120000

struct sc_sp {
	int fd;
};

const char *sc_sp_state_name(int state)
{
	switch (state) {
	case SC_SP_STATE_EMPTY: return "empty";
	case SC_SP_STATE_FACTORY: return "factory";
	case SC_SP_STATE_LOCKED: return "locked";
	default: return "unknown";
	}
}

sc_err sc_sp_connect(const char *socket_path, struct sc_sp **out)
{
	struct sockaddr_un sa;
	struct sc_sp *sp;
	int fd, fl;

	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (socket_path == NULL || strlen(socket_path) >= sizeof(sa.sun_path))
		return sc_fail(SC_ERR_USAGE, "socket path too long (at most %zu bytes)",
		    sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, socket_path, strlen(socket_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "socket: %s", strerror(errno));
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EINTR)
			continue;
		sc_err r = sc_fail(SC_ERR_IO, "%s: %s", socket_path, strerror(errno));
		close(fd);
		return r;
	}
	/* Non-blocking, so every read and write is bounded by the frame deadline. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		sc_err r = sc_fail(SC_ERR_IO, "%s: fcntl: %s", socket_path, strerror(errno));
		close(fd);
		return r;
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		close(fd);
		return sc_fail(SC_ERR_NOMEM, "connection");
	}
	sp->fd = fd;
	*out = sp;
	return SC_OK;
}

void sc_sp_close(struct sc_sp *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp);
}

sc_err sc_sp_raw(struct sc_sp *sp, const uint8_t *msg, size_t msg_len, uint8_t **answer,
    size_t *answer_len)
{
	sc_err r, w;

	*answer = NULL;
	*answer_len = 0;
	if (sp == NULL || sp->fd < 0)
		return sc_fail(SC_ERR_USAGE, "not connected");
	w = sc_wire_write_frame(sp->fd, msg, msg_len, SP_CLIENT_TIMEOUT_MS);
	if (w != SC_OK && w != SC_ERR_PEER)
		return w;
	/*
	 * Even if the SP closed on us mid-write it may have said why first (a denied peer gets
	 * its answer at once): read what it sent before reporting the broken write.
	 */
	r = sc_wire_read_frame(sp->fd, answer, answer_len, SP_CLIENT_TIMEOUT_MS);
	if (r != SC_OK && w != SC_OK)
		return sc_fail(SC_ERR_PEER, "the SP closed the connection");
	/* A bad frame length is the SP breaking protocol, not an input of ours being refused. */
	if (r == SC_ERR_OVERSIZE || r == SC_ERR_MALFORMED)
		r = sc_fail(SC_ERR_PEER, "the SP's answer: %s", sc_err_detail());
	if (r != SC_OK) {
		/* The stream is out of step after a failed read; never reuse it. */
		close(sp->fd);
		sp->fd = -1;
	}
	return r;
}

/*
 * One round trip: send req (a finished writer), receive the answer, check version and type.
 * On success *ans is the answer and rd reads its body; on an SP_ERROR answer returns the SP's
 * code with its detail. *ans is the caller's (OPENSSL_clear_free(*ans, *ans_len)).
 */
static sc_err roundtrip(struct sc_sp *sp, struct sc_buf *req, uint8_t type, uint8_t **ans,
    size_t *ans_len, struct sc_buf *rd)
{
	sc_err r;

	*ans = NULL;
	*ans_len = 0;
	if ((r = sc_buf_done(req, sc_wire_msg_name(type))) != SC_OK)
		return r;
	if ((r = sc_sp_raw(sp, req->data, req->len, ans, ans_len)) != SC_OK)
		return r;
	sc_buf_init_reader(rd, *ans, *ans_len);
	return sp_ans_hdr_get(rd, type);
}

static sc_err cert_from_answer(const uint8_t *der, size_t len, X509 **out, const char *what)
{
	*out = NULL;
	if (len == 0)
		return SC_OK;
	if (sc_cert_from_der(der, len, out) != SC_OK)
		return sc_fail(SC_ERR_PEER, "%s: %s", what, sc_err_detail());
	return SC_OK;
}

/* A certificate's DER for a request, checked against the protocol's limit before sending. */
static sc_err cert_der(X509 *cert, uint8_t **der, size_t *len)
{
	sc_err r;

	*der = NULL;
	*len = 0;
	if (cert == NULL)
		return sc_fail(SC_ERR_USAGE, "no certificate");
	if ((r = sc_cert_to_der(cert, der, len)) != SC_OK)
		return r;
	if (*len > SC_WIRE_MAX_CERT) {
		r = sc_fail(SC_ERR_OVERSIZE, "certificate of %zu bytes (at most %d)", *len,
		    SC_WIRE_MAX_CERT);
		OPENSSL_free(*der);
		*der = NULL;
		*len = 0;
		return r;
	}
	return SC_OK;
}

sc_err sc_sp_info(struct sc_sp *sp, struct sc_sp_info *out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	struct sp_info info;
	uint8_t *ans = NULL;
	size_t ans_len = 0, i;

	memset(out, 0, sizeof(*out));
	sc_wire_begin(&req, SC_SP_INFO, 0);
	sp_info_req_put(&req);
	if ((r = roundtrip(sp, &req, SC_SP_INFO, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_info_ans_get(&rd, &info)) != SC_OK)
		goto out;
	out->state = (enum sc_sp_state)info.state;
	memcpy(out->device_id, info.device_id, sizeof(out->device_id));
	out->issuance_counter = info.issuance_counter;
	out->n_keys = info.n_keys;
	out->max_keys = info.max_keys;
	out->max_leaf_days = info.max_leaf_days;
	for (i = 0; i < info.n_networks; i++)
		memcpy(out->networks[i], info.networks[i], sizeof(out->networks[i]));
	out->n_networks = info.n_networks;
	if ((r = cert_from_answer(info.csk_cert, info.csk_cert_len, &out->csk_cert,
	         "info: CSK certificate")) != SC_OK)
		goto out;
	if ((r = cert_from_answer(info.kek_cert, info.kek_cert_len, &out->kek_cert,
	         "info: KEK certificate")) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK)
		sc_sp_info_clear(out);
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

void sc_sp_info_clear(struct sc_sp_info *info)
{
	if (info == NULL)
		return;
	X509_free(info->csk_cert);
	X509_free(info->kek_cert);
	memset(info, 0, sizeof(*info));
}

sc_err sc_sp_keygen(struct sc_sp *sp, enum sc_sp_role role, enum sc_alg alg, X509_REQ **csr)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, der_len = 0;
	const uint8_t *der = NULL;
	const unsigned char *p;
	unsigned char *re = NULL;
	X509_REQ *x = NULL;
	int n;

	*csr = NULL;
	sc_wire_begin(&req, SC_SP_KEYGEN, 0);
	sp_keygen_req_put(&req, (uint8_t)role, (uint8_t)alg);
	if ((r = roundtrip(sp, &req, SC_SP_KEYGEN, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_keygen_ans_get(&rd, &der, &der_len)) != SC_OK)
		goto out;
	p = der;
	x = d2i_X509_REQ(NULL, &p, (long)der_len);
	n = x != NULL ? i2d_X509_REQ(x, &re) : -1;
	/* The same strictness as for certificates: exactly the bytes, DER only. */
	if (x == NULL || (size_t)(p - der) != der_len || n < 0 || (size_t)n != der_len ||
	    memcmp(re, der, der_len) != 0) {
		r = sc_fail(SC_ERR_PEER, "keygen answer: the request is not DER PKCS#10");
		goto out;
	}
	*csr = x;
	x = NULL;
	r = SC_OK;
out:
	X509_REQ_free(x);
	OPENSSL_free(re);
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

/* Requests whose answer has an empty body: get is that answer's decoder. Frees req. */
static sc_err simple(struct sc_sp *sp, struct sc_buf *req, uint8_t type,
    sc_err (*get)(struct sc_buf *))
{
	sc_err r;
	struct sc_buf rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;

	if ((r = roundtrip(sp, req, type, &ans, &ans_len, &rd)) == SC_OK)
		r = get(&rd);
	sc_buf_free(req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_install_cert(struct sc_sp *sp, enum sc_sp_role role, X509 *cert)
{
	struct sc_buf req;
	uint8_t *der;
	size_t len;
	sc_err r;

	if ((r = cert_der(cert, &der, &len)) != SC_OK)
		return r;
	sc_wire_begin(&req, SC_SP_INSTALL_CERT, 0);
	sp_install_cert_req_put(&req, (uint8_t)role, der, len);
	OPENSSL_free(der);
	return simple(sp, &req, SC_SP_INSTALL_CERT, sp_install_cert_ans_get);
}

sc_err sc_sp_install_anchor(struct sc_sp *sp, const char *network_id, X509 *root)
{
	struct sc_buf req;
	uint8_t *der;
	size_t len;
	sc_err r;

	if (network_id == NULL || network_id[0] == '\0' || strlen(network_id) > SP_MSG_ID_MAX)
		return sc_fail(SC_ERR_USAGE, "network ID must be 1..64 bytes");
	if ((r = cert_der(root, &der, &len)) != SC_OK)
		return r;
	sc_wire_begin(&req, SC_SP_INSTALL_ANCHOR, 0);
	sp_install_anchor_req_put(&req, network_id, der, len);
	OPENSSL_free(der);
	return simple(sp, &req, SC_SP_INSTALL_ANCHOR, sp_install_anchor_ans_get);
}

sc_err sc_sp_set_limits(struct sc_sp *sp, uint32_t max_leaf_days, uint32_t max_keys)
{
	struct sc_buf req;

	sc_wire_begin(&req, SC_SP_SET_LIMITS, 0);
	sp_set_limits_req_put(&req, max_leaf_days, max_keys);
	return simple(sp, &req, SC_SP_SET_LIMITS, sp_set_limits_ans_get);
}

sc_err sc_sp_lock(struct sc_sp *sp)
{
	struct sc_buf req;

	sc_wire_begin(&req, SC_SP_LOCK, 0);
	sp_lock_req_put(&req);
	return simple(sp, &req, SC_SP_LOCK, sp_lock_ans_get);
}

sc_err sc_sp_challenge(struct sc_sp *sp, uint8_t out[SC_SP_CHALLENGE_LEN])
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;

	memset(out, 0, SC_SP_CHALLENGE_LEN);
	sc_wire_begin(&req, SC_SP_CHALLENGE, 0);
	sp_challenge_req_put(&req);
	if ((r = roundtrip(sp, &req, SC_SP_CHALLENGE, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_challenge_ans_get(&rd, out)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_backend(struct sc_sp *sp, struct sc_sp_backend *out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;

	memset(out, 0, sizeof(*out));
	sc_wire_begin(&req, SC_SP_BACKEND, 0);
	sp_backend_req_put(&req);
	if ((r = roundtrip(sp, &req, SC_SP_BACKEND, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_backend_ans_get(&rd, out)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

const char *sc_sp_tpm_vendor_name(const char *id)
{
	/* TCG Vendor ID Registry: the makers of chips and firmware TPMs met in the field. */
	static const char *const names[][2] = {
		{ "AMD", "AMD" },
		{ "ATML", "Atmel" },
		{ "BRCM", "Broadcom" },
		{ "GOOG", "Google" },
		{ "HPE", "HPE" },
		{ "IBM", "IBM" },
		{ "IFX", "Infineon" },
		{ "INTC", "Intel" },
		{ "LEN", "Lenovo" },
		{ "MSFT", "Microsoft" },
		{ "NSM", "National Semiconductor" },
		{ "NTC", "Nuvoton" },
		{ "NTZ", "Nationz" },
		{ "QCOM", "Qualcomm" },
		{ "ROCC", "Fuzhou Rockchip" },
		{ "SMSC", "SMSC" },
		{ "SMSN", "Samsung" },
		{ "SNS", "Sinosun" },
		{ "STM", "STMicroelectronics" },
		{ "TXN", "Texas Instruments" },
		{ "WEC", "Winbond" },
	};
	size_t i;

	for (i = 0; id != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(id, names[i][0]) == 0)
			return names[i][1];
	return NULL;
}

sc_err sc_sp_proof(struct sc_sp *sp, const uint8_t challenge[SC_SP_CHALLENGE_LEN],
    const char *network_id, const uint8_t request_digest[32], uint64_t *time, uint8_t **sig,
    size_t *sig_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	const uint8_t *s = NULL;
	uint8_t *ans = NULL;
	size_t ans_len = 0, n = 0;

	*time = 0;
	*sig = NULL;
	*sig_len = 0;
	sc_buf_init_writer(&req, 0, 0); /* so that every exit may free it */
	if (network_id == NULL || network_id[0] == '\0' || strlen(network_id) > SP_MSG_ID_MAX) {
		r = sc_fail(SC_ERR_USAGE, "proof: network ID of 1..%d bytes", SP_MSG_ID_MAX);
		goto out;
	}
	sc_wire_begin(&req, SC_SP_PROOF, 0);
	sp_proof_req_put(&req, challenge, network_id, request_digest);
	if ((r = roundtrip(sp, &req, SC_SP_PROOF, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_proof_ans_get(&rd, time, &s, &n)) != SC_OK)
		goto out;
	if ((*sig = OPENSSL_memdup(s, n)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "proof answer");
		goto out;
	}
	*sig_len = n;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_crl(struct sc_sp *sp, uint32_t lifetime, uint8_t **der, size_t *der_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	const uint8_t *d = NULL;
	uint8_t *ans = NULL;
	size_t ans_len = 0, n = 0;

	*der = NULL;
	*der_len = 0;
	sc_wire_begin(&req, SC_SP_CRL, 0);
	sp_crl_req_put(&req, lifetime);
	if ((r = roundtrip(sp, &req, SC_SP_CRL, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_crl_ans_get(&rd, &d, &n)) != SC_OK)
		goto out;
	if ((*der = OPENSSL_memdup(d, n)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "crl answer");
		goto out;
	}
	*der_len = n;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

/*
 * The certificate's DER as the SP sent it, checked only for its outer form: one DER SEQUENCE
 * (definite length, no trailing byte) within SC_WIRE_MAX_CERT. Parsing it is the caller's
 * choice: OpenSSL 3.0's d2i_X509 costs more than the SP's whole ISSUE (docs/PERFORMANCE.md §1).
 */
static sc_err der_seq_check(const uint8_t *der, size_t len)
{
	size_t hdr = 2, body;

	if (len < 2 || der[0] != 0x30)
		return sc_fail(SC_ERR_PEER, "issue: certificate: not a DER SEQUENCE");
	if (der[1] < 0x80) {
		body = der[1];
	} else if (der[1] == 0x81 && len >= 3 && der[2] >= 0x80) {
		body = der[2];
		hdr = 3;
	} else if (der[1] == 0x82 && len >= 4 && der[2] != 0) {
		body = (size_t)der[2] << 8 | der[3];
		hdr = 4;
	} else {
		return sc_fail(SC_ERR_PEER, "issue: certificate: bad DER length");
	}
	if (hdr + body != len)
		return sc_fail(SC_ERR_PEER, "issue: certificate: %zu bytes, its DER says %zu", len,
		    hdr + body);
	return SC_OK;
}

/* ISSUE, RENEW and BATCH_ISSUE (#17) share their body and answer; only the type differs. */
static sc_err issue_der_as(struct sc_sp *sp, uint8_t type, const uint8_t *profile,
    size_t profile_len, uint32_t *handle, uint8_t **cert_der, size_t *cert_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, der_len = 0;
	const uint8_t *der = NULL;
	uint32_t h;

	*handle = 0;
	*cert_der = NULL;
	*cert_len = 0;
	sc_wire_begin(&req, type, 0);
	sp_issue_req_put(&req, profile, profile_len);
	if ((r = roundtrip(sp, &req, type, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_issue_ans_get(&rd, &h, &der, &der_len)) != SC_OK)
		goto out;
	if ((r = der_seq_check(der, der_len)) != SC_OK)
		goto out;
	if ((*cert_der = OPENSSL_memdup(der, der_len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "out of memory");
		goto out;
	}
	*cert_len = der_len;
	*handle = h;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_issue_der(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, uint8_t **cert_der, size_t *cert_len)
{
	return issue_der_as(sp, SC_SP_ISSUE, profile, profile_len, handle, cert_der, cert_len);
}

/* issue_der_as, then the X509 for callers that want one. */
static sc_err issue_as(struct sc_sp *sp, uint8_t type, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, X509 **cert)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	uint32_t h = 0;
	sc_err r;

	*handle = 0;
	*cert = NULL;
	if ((r = issue_der_as(sp, type, profile, profile_len, &h, &der, &der_len)) != SC_OK)
		return r;
	r = cert_from_answer(der, der_len, cert,
	    type == SC_SP_RENEW             ? "renew: certificate"
	        : type == SC_SP_BATCH_ISSUE ? "batch-issue: certificate"
	                                    : "issue: certificate");
	OPENSSL_free(der);
	if (r == SC_OK)
		*handle = h;
	return r;
}

sc_err sc_sp_renew(struct sc_sp *sp, const uint8_t *profile, size_t profile_len, uint32_t *handle,
    X509 **cert)
{
	return issue_as(sp, SC_SP_RENEW, profile, profile_len, handle, cert);
}

sc_err sc_sp_batch_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, X509 **cert)
{
	return issue_as(sp, SC_SP_BATCH_ISSUE, profile, profile_len, handle, cert);
}

sc_err sc_sp_renew_der(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, uint8_t **cert_der, size_t *cert_len)
{
	return issue_der_as(sp, SC_SP_RENEW, profile, profile_len, handle, cert_der, cert_len);
}

sc_err sc_sp_batch_issue_der(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, uint8_t **cert_der, size_t *cert_len)
{
	return issue_der_as(sp, SC_SP_BATCH_ISSUE, profile, profile_len, handle, cert_der,
	    cert_len);
}

sc_err sc_sp_gate_challenge(struct sc_sp *sp, enum sc_alg alg, uint32_t ku,
    struct sc_gate_challenge *out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, spki_len = 0;
	const uint8_t *nonce = NULL, *name = NULL, *spki = NULL, *q;
	EVP_PKEY *leaf = NULL;

	memset(out, 0, sizeof(*out));
	sc_wire_begin(&req, SC_SP_GATE_CHALLENGE, 0);
	sp_gate_challenge_req_put(&req, (uint8_t)alg, ku);
	if ((r = roundtrip(sp, &req, SC_SP_GATE_CHALLENGE, &ans, &ans_len, &rd)) != SC_OK ||
	    (r = sp_gate_challenge_ans_get(&rd, &nonce, &out->counter, &name, &spki, &spki_len)) !=
	        SC_OK)
		goto out;
	if ((alg == SC_ALG_NONE) != (spki_len == 0)) {
		r = sc_fail(SC_ERR_PEER, "gate-challenge answer: leaf_spki %s",
		    spki_len == 0 ? "missing" : "for no key");
		goto out;
	}
	if (spki_len > 0) {
		q = spki;
		if ((leaf = d2i_PUBKEY(NULL, &q, (long)spki_len)) == NULL || q != spki + spki_len ||
		    sc_alg_of_key(leaf) != alg) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_PEER, "gate-challenge answer: leaf_spki is not a %s key",
			    sc_alg_name(alg));
			goto out;
		}
	}
	memcpy(out->nonce, nonce, SC_GATE_NONCE_LEN);
	memcpy(out->csk_name, name, SP_MSG_GATE_NAME_LEN);
	out->csk_name_len = SP_MSG_GATE_NAME_LEN;
	out->leaf_pub = leaf;
	leaf = NULL;
	r = SC_OK;
out:
	EVP_PKEY_free(leaf);
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_gate_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    const uint8_t *auth, size_t auth_len, uint32_t *handle, X509 **cert)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, der_len = 0;
	const uint8_t *der = NULL;
	uint32_t h;

	*handle = 0;
	*cert = NULL;
	sc_wire_begin(&req, SC_SP_GATE_ISSUE, 0);
	sp_gate_issue_req_put(&req, profile, profile_len, auth, auth_len);
	if ((r = roundtrip(sp, &req, SC_SP_GATE_ISSUE, &ans, &ans_len, &rd)) != SC_OK ||
	    (r = sp_issue_ans_get(&rd, &h, &der, &der_len)) != SC_OK ||
	    (r = cert_from_answer(der, der_len, cert, "gate-issue: certificate")) != SC_OK)
		goto out;
	*handle = h;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len, uint32_t *handle,
    X509 **cert)
{
	return issue_as(sp, SC_SP_ISSUE, profile, profile_len, handle, cert);
}

void sc_sp_keys_free(struct sc_sp_key *keys, size_t n)
{
	size_t i;

	if (keys == NULL)
		return;
	for (i = 0; i < n; i++)
		X509_free(keys[i].cert);
	free(keys);
}

/*
 * KEYS is paged (256 certificates do not fit in one message): ask for the keys after the last
 * handle seen until the SP says there are no more. Handles must grow strictly and the total
 * stay within SC_SP_MAX_KEYS_LIMIT, so a misbehaving SP cannot make us loop or grow forever.
 */
sc_err sc_sp_keys(struct sc_sp *sp, struct sc_sp_key **keys, size_t *n)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sp_key *list = NULL;
	size_t count = 0;
	uint32_t after = 0;
	uint8_t *ans = NULL;
	size_t ans_len = 0;
	struct sc_buf req, rd;
	uint8_t more = 1;

	*keys = NULL;
	*n = 0;
	sc_buf_init_writer(&req, 0, 0);
	if ((list = calloc(SC_SP_MAX_KEYS_LIMIT, sizeof(*list))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key list");
	while (more) {
		uint32_t i, got;

		sc_buf_free(&req);
		OPENSSL_free(ans);
		ans = NULL;
		sc_wire_begin(&req, SC_SP_KEYS, 0);
		sp_keys_req_put(&req, after);
		if ((r = roundtrip(sp, &req, SC_SP_KEYS, &ans, &ans_len, &rd)) != SC_OK)
			goto out;
		if ((r = sp_keys_ans_get_head(&rd, (uint32_t)(SC_SP_MAX_KEYS_LIMIT - count), &more,
		         &got)) != SC_OK)
			goto out;
		for (i = 0; i < got; i++) {
			struct sc_sp_key *k = &list[count];
			const uint8_t *der = NULL;
			size_t der_len = 0;
			uint8_t alg;

			r = sp_keys_ans_get_key(&rd, &k->handle, &alg, &der, &der_len);
			if (r != SC_OK)
				goto out;
			k->alg = (enum sc_alg)alg;
			if (k->handle <= after || !sc_alg_valid(k->alg) || der_len == 0) {
				r = sc_fail(SC_ERR_PEER, "keys answer: bad entry (handle %u)",
				    (unsigned)k->handle);
				goto out;
			}
			if ((r = cert_from_answer(der, der_len, &k->cert, "keys: certificate")) !=
			    SC_OK)
				goto out;
			after = k->handle;
			count++;
		}
		if ((r = sp_keys_ans_done(&rd)) != SC_OK)
			goto out;
	}
	*keys = list;
	*n = count;
	list = NULL;
	r = SC_OK;
out:
	sc_sp_keys_free(list, count);
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

/* One SIGN round trip; the signature is copied to *sig (the caller's). Frees req. */
static sc_err sign_roundtrip(struct sc_sp *sp, struct sc_buf *req, uint8_t mode, uint8_t **sig,
    size_t *sig_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, s_len = 0;
	const uint8_t *s = NULL;

	if ((r = roundtrip(sp, req, SC_SP_SIGN, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = sp_sign_ans_get(&rd, mode, &s, &s_len)) != SC_OK)
		goto out;
	if ((*sig = OPENSSL_memdup(s, s_len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "signature");
		goto out;
	}
	*sig_len = s_len;
	r = SC_OK;
out:
	sc_buf_free(req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_sign(struct sc_sp *sp, uint32_t handle, enum sc_sp_sign_mode mode,
    enum sc_digest digest, const uint8_t *input, size_t input_len, uint8_t **sig, size_t *sig_len)
{
	struct sp_sign_req s = { .handle = handle,
		.mode = (uint8_t)mode,
		.digest = (uint8_t)digest,
		.input = input,
		.input_len = input_len };
	struct sc_buf req;

	*sig = NULL;
	*sig_len = 0;
	/* PSS carries a salt length this signature has no room for. */
	if (mode == SC_SP_SIGN_PSS)
		return sc_fail(SC_ERR_USAGE, "sign: PSS goes through sc_sp_sign_pss");
	if (input_len > SC_SP_MAX_SIGN_INPUT)
		return sc_fail(SC_ERR_OVERSIZE, "input of %zu bytes (at most %d)", input_len,
		    SC_SP_MAX_SIGN_INPUT);
	sc_wire_begin(&req, SC_SP_SIGN, 0);
	sp_sign_req_put(&req, &s);
	return sign_roundtrip(sp, &req, s.mode, sig, sig_len);
}

sc_err sc_sp_delete(struct sc_sp *sp, uint32_t handle)
{
	struct sc_buf req;

	sc_wire_begin(&req, SC_SP_DELETE, 0);
	sp_delete_req_put(&req, handle);
	return simple(sp, &req, SC_SP_DELETE, sp_delete_ans_get);
}

/* ---- leaf-key use for the PKCS#11 module: PSS, OAEP decryption, ECDH ---- */

sc_err sc_sp_sign_pss(struct sc_sp *sp, uint32_t handle, enum sc_digest digest,
    const uint8_t *input, size_t input_len, uint32_t salt_len, uint8_t **sig, size_t *sig_len)
{
	struct sp_sign_req s = { .handle = handle,
		.mode = SC_SP_SIGN_PSS,
		.digest = (uint8_t)digest,
		.input = input,
		.input_len = input_len,
		.salt_len = salt_len };
	struct sc_buf req;

	*sig = NULL;
	*sig_len = 0;
	if (input_len > SC_SP_MAX_SIGN_INPUT)
		return sc_fail(SC_ERR_OVERSIZE, "input of %zu bytes (at most %d)", input_len,
		    SC_SP_MAX_SIGN_INPUT);
	sc_wire_begin(&req, SC_SP_SIGN, 0);
	sp_sign_req_put(&req, &s);
	return sign_roundtrip(sp, &req, s.mode, sig, sig_len);
}

/*
 * DECRYPT and DERIVE answer with one secret string (get, the answer's decoder): copy it out of
 * the answer, then wipe the answer. Frees req.
 */
static sc_err secret_roundtrip(struct sc_sp *sp, struct sc_buf *req, uint8_t type,
    sc_err (*get)(struct sc_buf *, const uint8_t **, size_t *), uint8_t **out, size_t *out_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, n = 0;
	const uint8_t *p = NULL;

	*out = NULL;
	*out_len = 0;
	if ((r = roundtrip(sp, req, type, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	if ((r = get(&rd, &p, &n)) != SC_OK)
		goto out;
	/* OPENSSL_malloc(0) may be NULL: keep one byte so an empty secret is still a buffer. */
	if ((*out = OPENSSL_malloc(n > 0 ? n : 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s answer", sc_wire_msg_name(type));
		goto out;
	}
	if (n > 0)
		memcpy(*out, p, n);
	*out_len = n;
	r = SC_OK;
out:
	sc_buf_free(req);
	OPENSSL_clear_free(ans, ans_len);
	return r;
}

sc_err sc_sp_decrypt_oaep(struct sc_sp *sp, uint32_t handle, int oaep_md, int mgf1_md,
    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t **out,
    size_t *out_len)
{
	struct sp_decrypt_req d;
	struct sc_buf req;

	*out = NULL;
	*out_len = 0;
	if (label_len > SC_SP_MAX_OAEP_LABEL || (label == NULL && label_len > 0))
		return sc_fail(SC_ERR_USAGE, "decrypt: label of %zu bytes (at most %d)", label_len,
		    SC_SP_MAX_OAEP_LABEL);
	if (in == NULL || in_len == 0 || in_len > SC_SP_MAX_CIPHERTEXT)
		return sc_fail(SC_ERR_USAGE, "decrypt: ciphertext of %zu bytes (1..%d)", in_len,
		    SC_SP_MAX_CIPHERTEXT);
	if (oaep_md < 0 || oaep_md > 255 || mgf1_md < 0 || mgf1_md > 255)
		return sc_fail(SC_ERR_ALGORITHM, "decrypt: hash code out of range");
	d = (struct sp_decrypt_req){ .handle = handle,
		.scheme = SC_SP_DECRYPT_OAEP,
		.hash = (uint8_t)oaep_md,
		.mgf1_hash = (uint8_t)mgf1_md,
		.label = label,
		.label_len = label_len,
		.ciphertext = in,
		.ciphertext_len = in_len };
	sc_wire_begin(&req, SC_SP_DECRYPT, 0);
	sp_decrypt_req_put(&req, &d);
	return secret_roundtrip(sp, &req, SC_SP_DECRYPT, sp_decrypt_ans_get, out, out_len);
}

sc_err sc_sp_derive_ecdh(struct sc_sp *sp, uint32_t handle, const uint8_t *point, size_t point_len,
    uint8_t **secret, size_t *secret_len)
{
	struct sc_buf req;

	*secret = NULL;
	*secret_len = 0;
	if (point == NULL || point_len == 0 || point_len > SC_SP_MAX_EC_POINT)
		return sc_fail(SC_ERR_USAGE, "derive: peer point of %zu bytes (1..%d)", point_len,
		    SC_SP_MAX_EC_POINT);
	sc_wire_begin(&req, SC_SP_DERIVE, 0);
	sp_derive_req_put(&req, handle, point, point_len);
	return secret_roundtrip(sp, &req, SC_SP_DERIVE, sp_derive_ans_get, secret, secret_len);
}
