/*
 * sp_client.c — the host's side of the SP protocol (include/selfcert/sp.h, docs/PROTOCOL.md).
 * Each wrapper sends one request, receives one answer of the expected type (or SC_SP_ERROR,
 * returned as the SP's code and detail) and decodes it strictly: every byte consumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "buf.h"
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

sc_err sc_sp_raw(struct sc_sp *sp, const uint8_t *msg, size_t msg_len,
    uint8_t **answer, size_t *answer_len)
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
static sc_err roundtrip(struct sc_sp *sp, struct sc_buf *req, uint8_t type,
    uint8_t **ans, size_t *ans_len, struct sc_buf *rd)
{
	sc_err r;
	uint8_t ver, atype;

	*ans = NULL;
	*ans_len = 0;
	if ((r = sc_buf_done(req, sc_wire_msg_name(type))) != SC_OK)
		return r;
	if ((r = sc_sp_raw(sp, req->data, req->len, ans, ans_len)) != SC_OK)
		return r;
	sc_buf_init_reader(rd, *ans, *ans_len);
	ver = sc_buf_get_u8(rd);
	atype = sc_buf_get_u8(rd);
	if (ver != SC_SP_PROTO_VERSION)
		return sc_fail(SC_ERR_PEER, "answer has protocol version %u, expected %u",
		    ver, SC_SP_PROTO_VERSION);
	if (atype == SC_SP_ERROR) {
		char detail[SC_WIRE_MAX_DETAIL + 1];
		int32_t code = (int32_t)sc_buf_get_u32(rd);

		sc_buf_get_cstring(rd, detail, SC_WIRE_MAX_DETAIL);
		if ((r = sc_buf_done(rd, "error answer")) != SC_OK)
			return sc_fail(SC_ERR_PEER, "SP error answer: %s", sc_err_detail());
		/* Only codes we know: the CLI prints the name and exits by the code's class. */
		if (code >= 0 || strcmp(sc_err_name((sc_err)code), "unknown") == 0)
			return sc_fail(SC_ERR_PEER, "SP error answer with code %d", (int)code);
		/* The detail ends up on the user's terminal as one line: no control characters. */
		for (char *c = detail; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return sc_fail((sc_err)code, "%s", detail);
	}
	if (atype != (type | SC_SP_ANSWER))
		return sc_fail(SC_ERR_PEER, "answer type 0x%02x to %s, expected 0x%02x",
		    atype, sc_wire_msg_name(type), type | SC_SP_ANSWER);
	return SC_OK;
}

/* The body was malformed: that is the SP breaking protocol, not our caller's input. */
static sc_err done_answer(struct sc_buf *rd, const char *what)
{
	sc_err r = sc_buf_done(rd, what);

	if (r != SC_OK)
		return sc_fail(SC_ERR_PEER, "%s answer: %s", what, sc_err_detail());
	return SC_OK;
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

/* Append a certificate's DER as a string. */
static sc_err put_cert(struct sc_buf *b, X509 *cert)
{
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;

	if (cert == NULL)
		return sc_fail(SC_ERR_USAGE, "no certificate");
	if ((r = sc_cert_to_der(cert, &der, &len)) != SC_OK)
		return r;
	if (len > SC_WIRE_MAX_CERT) {
		OPENSSL_free(der);
		return sc_fail(SC_ERR_OVERSIZE, "certificate of %zu bytes (at most %d)", len,
		    SC_WIRE_MAX_CERT);
	}
	sc_buf_put_string(b, der, len);
	OPENSSL_free(der);
	return SC_OK;
}

sc_err sc_sp_info(struct sc_sp *sp, struct sc_sp_info *out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, csk_len, kek_len, i;
	const uint8_t *csk_der, *kek_der;
	uint32_t n_networks;

	memset(out, 0, sizeof(*out));
	sc_wire_begin(&req, SC_SP_INFO, 0);
	if ((r = roundtrip(sp, &req, SC_SP_INFO, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	out->state = (enum sc_sp_state)sc_buf_get_u8(&rd);
	sc_buf_get_cstring(&rd, out->device_id, sizeof(out->device_id) - 1);
	out->issuance_counter = sc_buf_get_u64(&rd);
	out->n_keys = sc_buf_get_u32(&rd);
	out->max_keys = sc_buf_get_u32(&rd);
	out->max_leaf_days = sc_buf_get_u32(&rd);
	sc_buf_get_string(&rd, &csk_der, &csk_len, SC_WIRE_MAX_CERT);
	sc_buf_get_string(&rd, &kek_der, &kek_len, SC_WIRE_MAX_CERT);
	n_networks = sc_buf_get_u32(&rd);
	if (n_networks > SC_SP_MAX_ANCHORS) {
		r = sc_fail(SC_ERR_PEER, "info answer: %u networks", (unsigned)n_networks);
		goto out;
	}
	for (i = 0; i < n_networks; i++)
		sc_buf_get_cstring(&rd, out->networks[i], sizeof(out->networks[i]) - 1);
	out->n_networks = n_networks;
	if ((r = done_answer(&rd, "info")) != SC_OK)
		goto out;
	if (out->state > SC_SP_STATE_LOCKED) {
		r = sc_fail(SC_ERR_PEER, "info answer: unknown state %d", (int)out->state);
		goto out;
	}
	if ((r = cert_from_answer(csk_der, csk_len, &out->csk_cert, "info: CSK certificate")) != SC_OK)
		goto out;
	if ((r = cert_from_answer(kek_der, kek_len, &out->kek_cert, "info: KEK certificate")) != SC_OK)
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
	sc_buf_put_u8(&req, (uint8_t)role);
	sc_buf_put_u8(&req, (uint8_t)alg);
	if ((r = roundtrip(sp, &req, SC_SP_KEYGEN, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	sc_buf_get_string(&rd, &der, &der_len, SC_WIRE_MAX_CERT);
	if ((r = done_answer(&rd, "keygen")) != SC_OK)
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

/* Requests whose answer has an empty body. */
static sc_err simple(struct sc_sp *sp, struct sc_buf *req, uint8_t type)
{
	sc_err r;
	struct sc_buf rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;

	if ((r = roundtrip(sp, req, type, &ans, &ans_len, &rd)) == SC_OK)
		r = done_answer(&rd, sc_wire_msg_name(type));
	sc_buf_free(req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_install_cert(struct sc_sp *sp, enum sc_sp_role role, X509 *cert)
{
	struct sc_buf req;
	sc_err r;

	sc_wire_begin(&req, SC_SP_INSTALL_CERT, 0);
	sc_buf_put_u8(&req, (uint8_t)role);
	if ((r = put_cert(&req, cert)) != SC_OK) {
		sc_buf_free(&req);
		return r;
	}
	return simple(sp, &req, SC_SP_INSTALL_CERT);
}

sc_err sc_sp_install_anchor(struct sc_sp *sp, const char *network_id, X509 *root)
{
	struct sc_buf req;
	sc_err r;

	if (network_id == NULL || network_id[0] == '\0' || strlen(network_id) > 64)
		return sc_fail(SC_ERR_USAGE, "network ID must be 1..64 bytes");
	sc_wire_begin(&req, SC_SP_INSTALL_ANCHOR, 0);
	sc_buf_put_cstring(&req, network_id);
	if ((r = put_cert(&req, root)) != SC_OK) {
		sc_buf_free(&req);
		return r;
	}
	return simple(sp, &req, SC_SP_INSTALL_ANCHOR);
}

sc_err sc_sp_set_limits(struct sc_sp *sp, uint32_t max_leaf_days, uint32_t max_keys)
{
	struct sc_buf req;

	sc_wire_begin(&req, SC_SP_SET_LIMITS, 0);
	sc_buf_put_u32(&req, max_leaf_days);
	sc_buf_put_u32(&req, max_keys);
	return simple(sp, &req, SC_SP_SET_LIMITS);
}

sc_err sc_sp_lock(struct sc_sp *sp)
{
	struct sc_buf req;

	sc_wire_begin(&req, SC_SP_LOCK, 0);
	return simple(sp, &req, SC_SP_LOCK);
}

sc_err sc_sp_challenge(struct sc_sp *sp, uint8_t out[SC_SP_CHALLENGE_LEN])
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;
	const uint8_t *c;

	memset(out, 0, SC_SP_CHALLENGE_LEN);
	sc_wire_begin(&req, SC_SP_CHALLENGE, 0);
	if ((r = roundtrip(sp, &req, SC_SP_CHALLENGE, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	c = sc_buf_get_bytes(&rd, SC_SP_CHALLENGE_LEN);
	if ((r = done_answer(&rd, "challenge")) != SC_OK)
		goto out;
	memcpy(out, c, SC_SP_CHALLENGE_LEN);
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_issue(struct sc_sp *sp, const uint8_t *profile, size_t profile_len,
    uint32_t *handle, X509 **cert)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, der_len = 0;
	const uint8_t *der = NULL;
	uint32_t h;

	*handle = 0;
	*cert = NULL;
	sc_wire_begin(&req, SC_SP_ISSUE, 0);
	sc_buf_put_string(&req, profile, profile_len);
	if ((r = roundtrip(sp, &req, SC_SP_ISSUE, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	h = sc_buf_get_u32(&rd);
	sc_buf_get_string(&rd, &der, &der_len, SC_WIRE_MAX_CERT);
	if ((r = done_answer(&rd, "issue")) != SC_OK)
		goto out;
	if (h == 0 || der_len == 0) {
		r = sc_fail(SC_ERR_PEER, "issue answer: no handle or no certificate");
		goto out;
	}
	if ((r = cert_from_answer(der, der_len, cert, "issue: certificate")) != SC_OK)
		goto out;
	*handle = h;
	r = SC_OK;
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
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
	int more = 1;

	*keys = NULL;
	*n = 0;
	sc_buf_init_writer(&req, 0, 0);
	if ((list = calloc(SC_SP_MAX_KEYS_LIMIT, sizeof(*list))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key list");
	while (more) {
		uint32_t i, got;
		uint8_t m;

		sc_buf_free(&req);
		OPENSSL_free(ans);
		ans = NULL;
		sc_wire_begin(&req, SC_SP_KEYS, 0);
		sc_buf_put_u32(&req, after);
		if ((r = roundtrip(sp, &req, SC_SP_KEYS, &ans, &ans_len, &rd)) != SC_OK)
			goto out;
		m = sc_buf_get_u8(&rd);
		got = sc_buf_get_u32(&rd);
		if (m > 1 || got > SC_SP_MAX_KEYS_LIMIT - count || (m == 1 && got == 0)) {
			r = sc_fail(SC_ERR_PEER, "keys answer: bad page (more %u, count %u)", m,
			    (unsigned)got);
			goto out;
		}
		for (i = 0; i < got; i++) {
			struct sc_sp_key *k = &list[count];
			const uint8_t *der = NULL;
			size_t der_len = 0;

			k->handle = sc_buf_get_u32(&rd);
			k->alg = (enum sc_alg)sc_buf_get_u8(&rd);
			sc_buf_get_string(&rd, &der, &der_len, SC_WIRE_MAX_CERT);
			if (rd.failed)
				break;
			if (k->handle <= after || !sc_alg_valid(k->alg) || der_len == 0) {
				r = sc_fail(SC_ERR_PEER, "keys answer: bad entry (handle %u)",
				    (unsigned)k->handle);
				goto out;
			}
			if ((r = cert_from_answer(der, der_len, &k->cert, "keys: certificate")) != SC_OK)
				goto out;
			after = k->handle;
			count++;
		}
		if ((r = done_answer(&rd, "keys")) != SC_OK)
			goto out;
		more = m;
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

/* A SIGN answer: one non-empty signature of at most max bytes, copied to *sig (the caller's). */
static sc_err take_signature(struct sc_buf *rd, size_t max, uint8_t **sig, size_t *sig_len)
{
	const uint8_t *s = NULL;
	size_t s_len = 0;
	sc_err r;

	sc_buf_get_string(rd, &s, &s_len, max);
	if ((r = done_answer(rd, "sign")) != SC_OK)
		return r;
	if (s_len == 0)
		return sc_fail(SC_ERR_PEER, "sign answer: empty signature");
	if ((*sig = OPENSSL_memdup(s, s_len)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "signature");
	*sig_len = s_len;
	return SC_OK;
}

sc_err sc_sp_sign(struct sc_sp *sp, uint32_t handle, enum sc_sp_sign_mode mode,
    enum sc_digest digest, const uint8_t *input, size_t input_len,
    uint8_t **sig, size_t *sig_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;

	*sig = NULL;
	*sig_len = 0;
	/* PSS carries a salt length this signature has no room for. */
	if (mode == SC_SP_SIGN_PSS)
		return sc_fail(SC_ERR_USAGE, "sign: PSS goes through sc_sp_sign_pss");
	if (input_len > SC_SP_MAX_SIGN_INPUT)
		return sc_fail(SC_ERR_OVERSIZE, "input of %zu bytes (at most %d)", input_len,
		    SC_SP_MAX_SIGN_INPUT);
	sc_wire_begin(&req, SC_SP_SIGN, 0);
	sc_buf_put_u32(&req, handle);
	sc_buf_put_u8(&req, (uint8_t)mode);
	sc_buf_put_u8(&req, (uint8_t)digest);
	sc_buf_put_string(&req, input, input_len);
	if ((r = roundtrip(sp, &req, SC_SP_SIGN, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	r = take_signature(&rd, 1024, sig, sig_len);
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

sc_err sc_sp_delete(struct sc_sp *sp, uint32_t handle)
{
	struct sc_buf req;

	sc_wire_begin(&req, SC_SP_DELETE, 0);
	sc_buf_put_u32(&req, handle);
	return simple(sp, &req, SC_SP_DELETE);
}

/* ---- leaf-key use for the PKCS#11 module: PSS, OAEP decryption, ECDH ---- */

sc_err sc_sp_sign_pss(struct sc_sp *sp, uint32_t handle, enum sc_digest digest,
    const uint8_t *input, size_t input_len, uint32_t salt_len,
    uint8_t **sig, size_t *sig_len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0;

	*sig = NULL;
	*sig_len = 0;
	if (input_len > SC_SP_MAX_SIGN_INPUT)
		return sc_fail(SC_ERR_OVERSIZE, "input of %zu bytes (at most %d)", input_len,
		    SC_SP_MAX_SIGN_INPUT);
	sc_wire_begin(&req, SC_SP_SIGN, 0);
	sc_buf_put_u32(&req, handle);
	sc_buf_put_u8(&req, SC_SP_SIGN_PSS);
	sc_buf_put_u8(&req, (uint8_t)digest);
	sc_buf_put_string(&req, input, input_len);
	sc_buf_put_u32(&req, salt_len);
	if ((r = roundtrip(sp, &req, SC_SP_SIGN, &ans, &ans_len, &rd)) != SC_OK)
		goto out;
	r = take_signature(&rd, SC_SP_MAX_CIPHERTEXT, sig, sig_len);
out:
	sc_buf_free(&req);
	OPENSSL_free(ans);
	return r;
}

/*
 * DECRYPT and DERIVE answer with one secret string: copy it out of the answer, then wipe the
 * answer. max bounds what a well-behaved SP can send for the request.
 */
static sc_err secret_roundtrip(struct sc_sp *sp, struct sc_buf *req, uint8_t type,
    const char *what, size_t max, uint8_t **out, size_t *out_len)
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
	sc_buf_get_string(&rd, &p, &n, max);
	if ((r = done_answer(&rd, what)) != SC_OK)
		goto out;
	/* OPENSSL_malloc(0) may be NULL: keep one byte so an empty secret is still a buffer. */
	if ((*out = OPENSSL_malloc(n > 0 ? n : 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s answer", what);
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
    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len,
    uint8_t **out, size_t *out_len)
{
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
	sc_wire_begin(&req, SC_SP_DECRYPT, 0);
	sc_buf_put_u32(&req, handle);
	sc_buf_put_u8(&req, SC_SP_DECRYPT_OAEP);
	sc_buf_put_u8(&req, (uint8_t)oaep_md);
	sc_buf_put_u8(&req, (uint8_t)mgf1_md);
	sc_buf_put_string(&req, label, label_len);
	sc_buf_put_string(&req, in, in_len);
	return secret_roundtrip(sp, &req, SC_SP_DECRYPT, "decrypt", SC_SP_MAX_CIPHERTEXT, out,
	    out_len);
}

sc_err sc_sp_derive_ecdh(struct sc_sp *sp, uint32_t handle, const uint8_t *point,
    size_t point_len, uint8_t **secret, size_t *secret_len)
{
	struct sc_buf req;
	sc_err r;

	*secret = NULL;
	*secret_len = 0;
	if (point == NULL || point_len == 0 || point_len > SC_SP_MAX_EC_POINT)
		return sc_fail(SC_ERR_USAGE, "derive: peer point of %zu bytes (1..%d)", point_len,
		    SC_SP_MAX_EC_POINT);
	sc_wire_begin(&req, SC_SP_DERIVE, 0);
	sc_buf_put_u32(&req, handle);
	sc_buf_put_string(&req, point, point_len);
	r = secret_roundtrip(sp, &req, SC_SP_DERIVE, "derive", (SC_SP_MAX_EC_POINT - 1) / 2, secret,
	    secret_len);
	if (r == SC_OK && *secret_len == 0) {
		OPENSSL_clear_free(*secret, 1);
		*secret = NULL;
		return sc_fail(SC_ERR_PEER, "derive answer: empty secret");
	}
	return r;
}
