// SPDX-License-Identifier: Apache-2.0
/*
 * test_client.c — the host's SP client (sp_client.c) against crafted answers: a fake SP thread
 * on a real Unix socket reads each request and sends exactly the bytes a case gives. Checked:
 * the requests' encoding, strict decoding of every answer (wrong type or version, truncation at
 * every byte, trailing bytes, bad fields), error answers mapped to their code with the SP's
 * detail, and a connection that breaks mid-frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>
#include "buf.h"
#include "pem.h"
#include "sp_wire.h"
#include "testutil.h"
#include "testworld.h"

#define MAX_ANSWERS 4
#define PEER_TIMEOUT_MS 30000 /* a safety net: the client always writes at once */

static char dir[512], sock_path[600];
static int listen_fd = -1;
static struct sc_test_world world;
static EVP_PKEY *key; /* world.csk */
static X509 *cert;    /* world.device_ca */
static uint8_t *cert_der;
static size_t cert_len;

/* What the fake SP does on one connection: per request, read it and send answers[i] raw. */
struct script {
	const uint8_t *answers[MAX_ANSWERS]; /* whole frames or any bytes at all */
	size_t lens[MAX_ANSWERS];
	size_t n;
	uint8_t *requests[MAX_ANSWERS]; /* what the client sent, for the test to check */
	size_t req_lens[MAX_ANSWERS];
	size_t n_requests;
};

static void *peer_thread(void *p)
{
	struct script *s = p;
	int fd = accept(listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (sc_wire_read_frame(fd, &s->requests[i], &s->req_lens[i], PEER_TIMEOUT_MS) !=
		    SC_OK)
			break;
		s->n_requests++;
		if (s->lens[i] > 0 &&
		    send(fd, s->answers[i], s->lens[i], MSG_NOSIGNAL) != (ssize_t)s->lens[i])
			break;
	}
	/* Then hang up: the client sees EOF for anything it still expects. */
	close(fd);
	return NULL;
}

static void script_free(struct script *s)
{
	for (size_t i = 0; i < MAX_ANSWERS; i++)
		OPENSSL_free(s->requests[i]);
	memset(s, 0, sizeof(*s));
}

/* A frame (length prefix + msg) built from a writer; the caller frees it. */
static uint8_t *frame_of(struct sc_buf *b, size_t *len)
{
	uint8_t *f;

	assert_int_equal(sc_buf_done(b, "crafted answer"), SC_OK);
	f = malloc(b->len + SC_WIRE_HDR_LEN);
	assert_non_null(f);
	sc_wire_put_len(f, b->len);
	memcpy(f + SC_WIRE_HDR_LEN, b->data, b->len);
	*len = b->len + SC_WIRE_HDR_LEN;
	sc_buf_free(b);
	return f;
}

/* A frame holding the first n bytes of msg. */
static uint8_t *frame_prefix(const uint8_t *msg, size_t n, size_t *len)
{
	uint8_t *f = malloc(n + SC_WIRE_HDR_LEN);

	assert_non_null(f);
	sc_wire_put_len(f, n);
	memcpy(f + SC_WIRE_HDR_LEN, msg, n);
	*len = n + SC_WIRE_HDR_LEN;
	return f;
}

/* Run the fake SP with one answer and connect a client to it. */
static void start(struct script *s, pthread_t *t, struct sc_sp **sp)
{
	assert_int_equal(pthread_create(t, NULL, peer_thread, s), 0);
	assert_int_equal(sc_sp_connect(sock_path, sp), SC_OK);
}

static void finish(pthread_t t, struct sc_sp *sp)
{
	sc_sp_close(sp);
	assert_int_equal(pthread_join(t, NULL), 0);
}

typedef sc_err (*call_fn)(struct sc_sp *sp);

/* One connection: the fake SP answers `answer` (n bytes) to whatever `call` sends. */
static sc_err run_one(const uint8_t *answer, size_t n, call_fn call, struct script *s)
{
	pthread_t t;
	struct sc_sp *sp = NULL;
	sc_err r;

	memset(s, 0, sizeof(*s));
	s->answers[0] = answer;
	s->lens[0] = n;
	s->n = 1;
	start(s, &t, &sp);
	sc_err_clear();
	r = call(sp);
	finish(t, sp);
	return r;
}

/* ---- calls under test, each with its outputs checked for "nothing left behind" ---- */

static struct sc_sp_info info_out;
static sc_err call_info(struct sc_sp *sp)
{
	sc_err r = sc_sp_info(sp, &info_out);

	if (r != SC_OK) {
		assert_null(info_out.csk_cert);
		assert_int_equal(info_out.n_networks, 0);
	}
	return r;
}

static uint8_t challenge_out[SC_SP_CHALLENGE_LEN];
static sc_err call_challenge(struct sc_sp *sp)
{
	return sc_sp_challenge(sp, challenge_out);
}

static sc_err call_lock(struct sc_sp *sp)
{
	return sc_sp_lock(sp);
}

static uint32_t issue_handle;
static X509 *issue_cert;
static sc_err call_issue(struct sc_sp *sp)
{
	static const uint8_t profile[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	sc_err r = sc_sp_issue(sp, profile, sizeof(profile), &issue_handle, &issue_cert);

	if (r != SC_OK) {
		assert_int_equal(issue_handle, 0);
		assert_null(issue_cert);
	}
	return r;
}

static uint8_t *sig_out;
static size_t sig_len_out;
static sc_err call_sign(struct sc_sp *sp)
{
	static const uint8_t msg[] = "hello";
	sc_err r = sc_sp_sign(sp, 7, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256, msg, 5, &sig_out,
	    &sig_len_out);

	if (r != SC_OK) {
		assert_null(sig_out);
		assert_int_equal(sig_len_out, 0);
	}
	return r;
}

static X509_REQ *csr_out;
static sc_err call_keygen(struct sc_sp *sp)
{
	sc_err r = sc_sp_keygen(sp, SC_SP_ROLE_CSK, SC_ALG_P256, &csr_out);

	if (r != SC_OK)
		assert_null(csr_out);
	return r;
}

static struct sc_sp_key *keys_out;
static size_t n_keys_out;
static sc_err call_keys(struct sc_sp *sp)
{
	sc_err r = sc_sp_keys(sp, &keys_out, &n_keys_out);

	if (r != SC_OK) {
		assert_null(keys_out);
		assert_int_equal(n_keys_out, 0);
	}
	return r;
}

/* ---- answers ---- */

static void begin_answer(struct sc_buf *b, uint8_t type)
{
	sc_buf_init_writer(b, SC_SP_MAX_MSG + 100, 0); /* room for deliberately bad answers */
	sc_buf_put_u8(b, SC_SP_PROTO_VERSION);
	sc_buf_put_u8(b, type);
}

static void put_info_body(struct sc_buf *b, uint8_t st, uint32_t n_networks)
{
	sc_buf_put_u8(b, st);
	sc_buf_put_cstring(b, "SN-0001");
	sc_buf_put_u64(b, 0x0102030405060708ULL);
	sc_buf_put_u32(b, 3);
	sc_buf_put_u32(b, 64);
	sc_buf_put_u32(b, 365);
	sc_buf_put_string(b, cert_der, cert_len); /* CSK certificate */
	sc_buf_put_string(b, NULL, 0);            /* no KEK certificate yet */
	sc_buf_put_u32(b, n_networks);
	for (uint32_t i = 0; i < n_networks && i < 10; i++)
		sc_buf_put_cstring(b, i == 0 ? "net-a" : "net-b");
}

static int group_setup(void **state)
{
	struct sockaddr_un sa;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	snprintf(sock_path, sizeof(sock_path), "%s/sp.sock", dir);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(listen_fd, 4) != 0)
		return -1;
	/* A real certificate for the answers that carry one: the test world's device CA. */
	if (sc_test_world_make(NULL, &world) != SC_OK)
		return -1;
	key = world.csk;
	cert = world.device_ca;
	return sc_cert_to_der(cert, &cert_der, &cert_len) == SC_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	close(listen_fd);
	sc_test_world_free(&world);
	OPENSSL_free(cert_der);
	sc_test_rmdir(dir);
	return 0;
}

/* ---- tests ---- */

static void test_info_decodes(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;

	(void)state;
	begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
	put_info_body(&b, SC_SP_STATE_FACTORY, 2);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_info, &s), SC_OK);
	/* The request was exactly [version][INFO]. */
	assert_int_equal(s.n_requests, 1);
	assert_int_equal(s.req_lens[0], 2);
	assert_memory_equal(s.requests[0], "\x01\x01", 2);
	assert_int_equal(info_out.state, SC_SP_STATE_FACTORY);
	assert_string_equal(info_out.device_id, "SN-0001");
	assert_true(info_out.issuance_counter == 0x0102030405060708ULL);
	assert_int_equal(info_out.n_keys, 3);
	assert_int_equal(info_out.max_keys, 64);
	assert_int_equal(info_out.max_leaf_days, 365);
	assert_non_null(info_out.csk_cert);
	assert_int_equal(X509_cmp(info_out.csk_cert, cert), 0);
	assert_null(info_out.kek_cert);
	assert_int_equal(info_out.n_networks, 2);
	assert_string_equal(info_out.networks[0], "net-a");
	assert_string_equal(info_out.networks[1], "net-b");
	sc_sp_info_clear(&info_out);
	script_free(&s);
	free(f);
}

/* Every proper prefix of a good INFO answer (framed as a whole message) is the SP's fault. */
static void test_info_truncated_at_every_byte(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *good, *f;
	size_t good_len, n;

	(void)state;
	begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
	put_info_body(&b, SC_SP_STATE_LOCKED, 1);
	assert_int_equal(sc_buf_done(&b, "info"), SC_OK);
	good_len = b.len;
	good = malloc(good_len);
	assert_non_null(good);
	memcpy(good, b.data, good_len);
	sc_buf_free(&b);
	/* Prefixes of 0 and 1 bytes are framing errors; from 2 on, decoding errors. */
	for (size_t cut = 0; cut < good_len; cut++) {
		sc_err r;

		f = frame_prefix(good, cut, &n);
		r = run_one(f, n, call_info, &s);
		if (r != SC_ERR_PEER)
			fail_msg("info answer cut to %zu of %zu bytes: %s (%s)", cut, good_len,
			    sc_err_name(r), sc_err_detail());
		script_free(&s);
		free(f);
	}
	/* One trailing byte: peer, and the detail says why. */
	f = malloc(good_len + 1);
	assert_non_null(f);
	memcpy(f, good, good_len);
	f[good_len] = 0;
	{
		uint8_t *fr = frame_prefix(f, good_len + 1, &n);
		assert_int_equal(run_one(fr, n, call_info, &s), SC_ERR_PEER);
		assert_string_equal(sc_err_detail(), "info answer: info: 1 trailing bytes");
		script_free(&s);
		free(fr);
	}
	free(f);
	free(good);
}

static void test_info_bad_fields(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;

	(void)state;
	/* An unknown state. */
	begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
	put_info_body(&b, 3, 0);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_info, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "info answer: unknown state 3");
	script_free(&s);
	free(f);
	/* More networks than an SP can hold (and than out->networks has room for). */
	begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
	put_info_body(&b, SC_SP_STATE_LOCKED, SC_SP_MAX_ANCHORS + 1);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_info, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "info answer: 9 networks");
	script_free(&s);
	free(f);
	/* A device ID with a NUL in it. */
	begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
	sc_buf_put_u8(&b, SC_SP_STATE_LOCKED);
	sc_buf_put_string(&b, "SN\0X", 4);
	sc_buf_put_u64(&b, 0);
	sc_buf_put_u32(&b, 0);
	sc_buf_put_u32(&b, 64);
	sc_buf_put_u32(&b, 0);
	sc_buf_put_string(&b, NULL, 0);
	sc_buf_put_string(&b, NULL, 0);
	sc_buf_put_u32(&b, 0);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_info, &s), SC_ERR_PEER);
	script_free(&s);
	free(f);
	/* A certificate with a trailing byte inside its string. */
	{
		uint8_t *plus = malloc(cert_len + 1);

		assert_non_null(plus);
		memcpy(plus, cert_der, cert_len);
		plus[cert_len] = 0;
		begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
		sc_buf_put_u8(&b, SC_SP_STATE_LOCKED);
		sc_buf_put_cstring(&b, "SN-0001");
		sc_buf_put_u64(&b, 0);
		sc_buf_put_u32(&b, 0);
		sc_buf_put_u32(&b, 64);
		sc_buf_put_u32(&b, 0);
		sc_buf_put_string(&b, plus, cert_len + 1);
		sc_buf_put_string(&b, NULL, 0);
		sc_buf_put_u32(&b, 0);
		f = frame_of(&b, &n);
		assert_int_equal(run_one(f, n, call_info, &s), SC_ERR_PEER);
		assert_string_equal(sc_err_detail(),
		    "info: CSK certificate: certificate: 1 trailing bytes");
		script_free(&s);
		free(f);
		free(plus);
	}
	/* A certificate over the wire limit is refused from its length. */
	{
		uint8_t *big = calloc(1, SC_WIRE_MAX_CERT + 1);

		assert_non_null(big);
		begin_answer(&b, SC_SP_INFO | SC_SP_ANSWER);
		sc_buf_put_u8(&b, SC_SP_STATE_LOCKED);
		sc_buf_put_cstring(&b, "SN-0001");
		sc_buf_put_u64(&b, 0);
		sc_buf_put_u32(&b, 0);
		sc_buf_put_u32(&b, 64);
		sc_buf_put_u32(&b, 0);
		sc_buf_put_string(&b, big, SC_WIRE_MAX_CERT + 1);
		sc_buf_put_string(&b, NULL, 0);
		sc_buf_put_u32(&b, 0);
		f = frame_of(&b, &n);
		assert_int_equal(run_one(f, n, call_info, &s), SC_ERR_PEER);
		assert_string_equal(sc_err_detail(),
		    "info answer: info: truncated or field out of range");
		script_free(&s);
		free(f);
		free(big);
	}
}

static void test_wrong_type_and_version(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;

	(void)state;
	/* The answer to another request (a KEYS answer to INFO). */
	begin_answer(&b, SC_SP_KEYS | SC_SP_ANSWER);
	put_info_body(&b, SC_SP_STATE_LOCKED, 0);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_info, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "answer type 0x92 to info, expected 0x81");
	script_free(&s);
	free(f);
	/* The request type itself echoed back, without the answer bit. */
	begin_answer(&b, SC_SP_CHALLENGE);
	sc_buf_put_bytes(&b, cert_der, SC_SP_CHALLENGE_LEN);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_challenge, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "answer type 0x10 to challenge, expected 0x90");
	script_free(&s);
	free(f);
	/* Another protocol version. */
	sc_buf_init_writer(&b, 100, 0);
	sc_buf_put_u8(&b, 2);
	sc_buf_put_u8(&b, SC_SP_LOCK | SC_SP_ANSWER);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "answer has protocol version 2, expected 1");
	script_free(&s);
	free(f);
}

static sc_err error_answer_run(int32_t code, const void *detail, size_t detail_len, size_t extra,
    call_fn call)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;
	sc_err r;

	begin_answer(&b, SC_SP_ERROR);
	sc_buf_put_u32(&b, (uint32_t)code);
	sc_buf_put_string(&b, detail, detail_len);
	for (size_t i = 0; i < extra; i++)
		sc_buf_put_u8(&b, 0);
	f = frame_of(&b, &n);
	r = run_one(f, n, call, &s);
	script_free(&s);
	free(f);
	return r;
}

static void test_error_answers(void **state)
{
	char big[SC_WIRE_MAX_DETAIL + 2], want[64];

	(void)state;
	/* An SP error comes back as its code, with the SP's detail, for any request. */
	assert_int_equal(error_answer_run(SC_ERR_LOCKED, "factory request after lock", 26, 0,
	                     call_lock),
	    SC_ERR_LOCKED);
	assert_string_equal(sc_err_detail(), "factory request after lock");
	assert_int_equal(error_answer_run(SC_ERR_REPLAY, "profile ID 7 used", 17, 0, call_issue),
	    SC_ERR_REPLAY);
	assert_string_equal(sc_err_detail(), "profile ID 7 used");
	assert_int_equal(error_answer_run(SC_ERR_STORE_FULL, "", 0, 0, call_info),
	    SC_ERR_STORE_FULL);
	assert_string_equal(sc_err_detail(), "");
	assert_int_equal(error_answer_run(SC_ERR_UNKNOWN_REQUEST, "x", 1, 0, call_keys),
	    SC_ERR_UNKNOWN_REQUEST);
	/* The longest detail is fine; one byte more is the SP breaking protocol. */
	memset(big, 'e', sizeof(big));
	assert_int_equal(error_answer_run(SC_ERR_KEY_USAGE, big, SC_WIRE_MAX_DETAIL, 0, call_sign),
	    SC_ERR_KEY_USAGE);
	assert_int_equal(strlen(sc_err_detail()), SC_WIRE_MAX_DETAIL);
	assert_int_equal(error_answer_run(SC_ERR_KEY_USAGE, big, SC_WIRE_MAX_DETAIL + 1, 0,
	                     call_sign),
	    SC_ERR_PEER);
	/* Trailing bytes after an error answer. */
	assert_int_equal(error_answer_run(SC_ERR_LOCKED, "d", 1, 1, call_lock), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "SP error answer: error answer: 1 trailing bytes");
	/* A detail with a NUL inside. */
	assert_int_equal(error_answer_run(SC_ERR_LOCKED, "a\0b", 3, 0, call_lock), SC_ERR_PEER);
	/* Codes that are no error: 0 (would read as success), positive, or not one of ours. */
	assert_int_equal(error_answer_run(SC_OK, "fine?", 5, 0, call_lock), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "SP error answer with code 0");
	assert_int_equal(error_answer_run(5, "x", 1, 0, call_lock), SC_ERR_PEER);
	assert_int_equal(error_answer_run(SC_ERR_LAST - 1, "x", 1, 0, call_lock), SC_ERR_PEER);
	snprintf(want, sizeof(want), "SP error answer with code %d", SC_ERR_LAST - 1);
	assert_string_equal(sc_err_detail(), want);
	assert_int_equal(error_answer_run(INT32_MIN, "x", 1, 0, call_lock), SC_ERR_PEER);
	/* Control characters from the SP never reach the terminal. */
	assert_int_equal(error_answer_run(SC_ERR_DENIED, "a\nb\033[2Jc\x7f", 9, 0, call_lock),
	    SC_ERR_DENIED);
	assert_string_equal(sc_err_detail(), "a?b?[2Jc?");
	/* A truncated error answer (code cut short). */
	{
		static const uint8_t cut[] = { 1, SC_SP_ERROR, 0xff, 0xff };
		struct script s;
		uint8_t *f;
		size_t n;

		f = frame_prefix(cut, sizeof(cut), &n);
		assert_int_equal(run_one(f, n, call_lock, &s), SC_ERR_PEER);
		script_free(&s);
		free(f);
	}
}

static void test_challenge(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f, want[SC_SP_CHALLENGE_LEN + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(0xc0 + i);
	begin_answer(&b, SC_SP_CHALLENGE | SC_SP_ANSWER);
	sc_buf_put_bytes(&b, want, SC_SP_CHALLENGE_LEN);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_challenge, &s), SC_OK);
	assert_memory_equal(challenge_out, want, SC_SP_CHALLENGE_LEN);
	assert_memory_equal(s.requests[0], "\x01\x10", 2);
	assert_int_equal(s.req_lens[0], 2);
	script_free(&s);
	free(f);
	/* One short: peer, and nothing of it copied out. */
	begin_answer(&b, SC_SP_CHALLENGE | SC_SP_ANSWER);
	sc_buf_put_bytes(&b, want, SC_SP_CHALLENGE_LEN - 1);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_challenge, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(),
	    "challenge answer: challenge: truncated or field out of range");
	for (size_t i = 0; i < SC_SP_CHALLENGE_LEN; i++)
		assert_int_equal(challenge_out[i], 0);
	script_free(&s);
	free(f);
	/* One long. */
	begin_answer(&b, SC_SP_CHALLENGE | SC_SP_ANSWER);
	sc_buf_put_bytes(&b, want, SC_SP_CHALLENGE_LEN + 1);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_challenge, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "challenge answer: challenge: 1 trailing bytes");
	script_free(&s);
	free(f);
}

static void test_empty_answers(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;

	(void)state;
	begin_answer(&b, SC_SP_LOCK | SC_SP_ANSWER);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_lock, &s), SC_OK);
	assert_int_equal(s.req_lens[0], 2);
	assert_memory_equal(s.requests[0], "\x01\x06", 2);
	script_free(&s);
	free(f);
	begin_answer(&b, SC_SP_LOCK | SC_SP_ANSWER);
	sc_buf_put_u8(&b, 0);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "lock answer: lock: 1 trailing bytes");
	script_free(&s);
	free(f);
}

static void test_issue(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;

	(void)state;
	begin_answer(&b, SC_SP_ISSUE | SC_SP_ANSWER);
	sc_buf_put_u32(&b, 42);
	sc_buf_put_string(&b, cert_der, cert_len);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_issue, &s), SC_OK);
	assert_int_equal(issue_handle, 42);
	assert_int_equal(X509_cmp(issue_cert, cert), 0);
	X509_free(issue_cert);
	issue_cert = NULL;
	/* The request: [1][ISSUE][string profile]. */
	assert_int_equal(s.req_lens[0], 2 + 4 + 5);
	assert_memory_equal(s.requests[0], "\x01\x11\x00\x00\x00\x05\x30\x03\x02\x01\x01", 11);
	script_free(&s);
	free(f);
	/* Handle 0, no certificate, a certificate that is not DER: all the SP's fault. */
	begin_answer(&b, SC_SP_ISSUE | SC_SP_ANSWER);
	sc_buf_put_u32(&b, 0);
	sc_buf_put_string(&b, cert_der, cert_len);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_issue, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "issue answer: no handle or no certificate");
	script_free(&s);
	free(f);
	begin_answer(&b, SC_SP_ISSUE | SC_SP_ANSWER);
	sc_buf_put_u32(&b, 1);
	sc_buf_put_string(&b, NULL, 0);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_issue, &s), SC_ERR_PEER);
	script_free(&s);
	free(f);
	begin_answer(&b, SC_SP_ISSUE | SC_SP_ANSWER);
	sc_buf_put_u32(&b, 1);
	sc_buf_put_string(&b, cert_der, cert_len - 1);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_issue, &s), SC_ERR_PEER);
	{
		/* Issue 17: the outer DER is checked before any parse (sc_sp_issue_der's check). */
		char want[96];
		snprintf(want, sizeof(want), "issue: certificate: %zu bytes, its DER says %zu",
		    cert_len - 1, cert_len);
		assert_string_equal(sc_err_detail(), want);
	}
	script_free(&s);
	free(f);
	/* A well-formed SEQUENCE that is no certificate: sc_sp_issue's parse refuses it. */
	begin_answer(&b, SC_SP_ISSUE | SC_SP_ANSWER);
	sc_buf_put_u32(&b, 1);
	sc_buf_put_string(&b, (const uint8_t *)"\x30\x03\x02\x01\x01", 5);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_issue, &s), SC_ERR_PEER);
	assert_non_null(strstr(sc_err_detail(), "issue: certificate: certificate: not DER X.509"));
	script_free(&s);
	free(f);
}

static uint8_t *der_out;
static size_t der_len_out;
static sc_err call_issue_der(struct sc_sp *sp)
{
	static const uint8_t profile[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	sc_err r;

	der_out = NULL;
	der_len_out = 7;
	r = sc_sp_issue_der(sp, profile, sizeof(profile), &issue_handle, &der_out, &der_len_out);
	if (r != SC_OK) {
		assert_int_equal(issue_handle, 0);
		assert_null(der_out);
		assert_int_equal(der_len_out, 0);
	}
	return r;
}

/* One ISSUE answer carrying cert (len bytes) through sc_sp_issue_der; its result. */
static sc_err issue_der_with(const uint8_t *cert_bytes, size_t len)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f;
	size_t n;
	sc_err r;

	begin_answer(&b, SC_SP_ISSUE | SC_SP_ANSWER);
	sc_buf_put_u32(&b, 9);
	sc_buf_put_string(&b, cert_bytes, len);
	f = frame_of(&b, &n);
	r = run_one(f, n, call_issue_der, &s);
	script_free(&s);
	free(f);
	return r;
}

/*
 * Issue 17: sc_sp_issue_der hands back the SP's bytes unparsed, but only one whole DER
 * SEQUENCE within the protocol's limit: truncated, trailing data, another type, a bad length
 * form and an oversize string are the SP's fault (peer), with nothing returned.
 */
static void test_issue_der(void **state)
{
	uint8_t *buf = malloc(SC_WIRE_MAX_CERT + 2);
	char want[96];

	(void)state;
	assert_non_null(buf);
	assert_int_equal(issue_der_with(cert_der, cert_len), SC_OK);
	assert_int_equal(issue_handle, 9);
	assert_int_equal(der_len_out, cert_len);
	assert_memory_equal(der_out, cert_der, cert_len);
	OPENSSL_free(der_out);
	/* Truncated. */
	assert_int_equal(issue_der_with(cert_der, cert_len - 1), SC_ERR_PEER);
	snprintf(want, sizeof(want), "issue: certificate: %zu bytes, its DER says %zu",
	    cert_len - 1, cert_len);
	assert_string_equal(sc_err_detail(), want);
	/* Trailing data. */
	memcpy(buf, cert_der, cert_len);
	buf[cert_len] = 0;
	assert_int_equal(issue_der_with(buf, cert_len + 1), SC_ERR_PEER);
	snprintf(want, sizeof(want), "issue: certificate: %zu bytes, its DER says %zu",
	    cert_len + 1, cert_len);
	assert_string_equal(sc_err_detail(), want);
	/* Another type (a SET), and a one-byte answer. */
	buf[0] = 0x31;
	assert_int_equal(issue_der_with(buf, cert_len), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "issue: certificate: not a DER SEQUENCE");
	assert_int_equal(issue_der_with(cert_der, 1), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "issue: certificate: not a DER SEQUENCE");
	/* Indefinite length, a long form with a leading zero, a needless long form. */
	assert_int_equal(issue_der_with((const uint8_t *)"\x30\x80\x00\x00", 4), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "issue: certificate: bad DER length");
	assert_int_equal(issue_der_with((const uint8_t *)"\x30\x82\x00\x01\x05", 5), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "issue: certificate: bad DER length");
	assert_int_equal(issue_der_with((const uint8_t *)"\x30\x81\x01\x05", 4), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "issue: certificate: bad DER length");
	/* Oversize: more than the protocol carries. */
	memset(buf, 0, SC_WIRE_MAX_CERT + 1);
	buf[0] = 0x30;
	assert_int_equal(issue_der_with(buf, SC_WIRE_MAX_CERT + 1), SC_ERR_PEER);
	free(buf);
}

static void test_sign(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f, sig[1025];
	size_t n;

	(void)state;
	memset(sig, 0x5c, sizeof(sig));
	begin_answer(&b, SC_SP_SIGN | SC_SP_ANSWER);
	sc_buf_put_string(&b, sig, 64);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_sign, &s), SC_OK);
	assert_int_equal(sig_len_out, 64);
	assert_memory_equal(sig_out, sig, 64);
	OPENSSL_free(sig_out);
	sig_out = NULL;
	/* [1][SIGN][u32 handle 7][u8 mode][u8 digest][string "hello"]. */
	assert_int_equal(s.req_lens[0], 2 + 4 + 1 + 1 + 4 + 5);
	assert_memory_equal(s.requests[0], "\x01\x13\x00\x00\x00\x07\x01\x01\x00\x00\x00\x05hello",
	    17);
	script_free(&s);
	free(f);
	/* An empty signature, and one over 1024 bytes. */
	begin_answer(&b, SC_SP_SIGN | SC_SP_ANSWER);
	sc_buf_put_string(&b, NULL, 0);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_sign, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "sign answer: empty signature");
	script_free(&s);
	free(f);
	begin_answer(&b, SC_SP_SIGN | SC_SP_ANSWER);
	sc_buf_put_string(&b, sig, sizeof(sig));
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_sign, &s), SC_ERR_PEER);
	script_free(&s);
	free(f);
}

static void test_keygen(void **state)
{
	struct sc_buf b;
	struct script s;
	uint8_t *f, *der = NULL;
	size_t n;
	int der_len;
	X509_REQ *req = X509_REQ_new();

	(void)state;
	/* A real PKCS#10 request. */
	assert_non_null(req);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	der_len = i2d_X509_REQ(req, &der);
	assert_true(der_len > 0);
	begin_answer(&b, SC_SP_KEYGEN | SC_SP_ANSWER);
	sc_buf_put_string(&b, der, (size_t)der_len);
	f = frame_of(&b, &n);
	assert_int_equal(run_one(f, n, call_keygen, &s), SC_OK);
	assert_non_null(csr_out);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(csr_out), key), 1);
	X509_REQ_free(csr_out);
	csr_out = NULL;
	assert_memory_equal(s.requests[0], "\x01\x02\x01\x04", 4);
	script_free(&s);
	free(f);
	/* The request with a trailing byte inside its string, or cut short. */
	{
		uint8_t *plus = malloc((size_t)der_len + 1);

		assert_non_null(plus);
		memcpy(plus, der, (size_t)der_len);
		plus[der_len] = 0;
		begin_answer(&b, SC_SP_KEYGEN | SC_SP_ANSWER);
		sc_buf_put_string(&b, plus, (size_t)der_len + 1);
		f = frame_of(&b, &n);
		assert_int_equal(run_one(f, n, call_keygen, &s), SC_ERR_PEER);
		assert_string_equal(sc_err_detail(),
		    "keygen answer: the request is not DER PKCS#10");
		script_free(&s);
		free(f);
		begin_answer(&b, SC_SP_KEYGEN | SC_SP_ANSWER);
		sc_buf_put_string(&b, der, (size_t)der_len - 1);
		f = frame_of(&b, &n);
		assert_int_equal(run_one(f, n, call_keygen, &s), SC_ERR_PEER);
		script_free(&s);
		free(f);
		/* A certificate where a request belongs. */
		begin_answer(&b, SC_SP_KEYGEN | SC_SP_ANSWER);
		sc_buf_put_string(&b, cert_der, cert_len);
		f = frame_of(&b, &n);
		assert_int_equal(run_one(f, n, call_keygen, &s), SC_ERR_PEER);
		script_free(&s);
		free(f);
		free(plus);
	}
	OPENSSL_free(der);
	X509_REQ_free(req);
}

/* A KEYS page announcing `count` entries and carrying the first n_entries of handles/algs. */
static uint8_t *keys_page_n(uint8_t more, uint32_t count, const uint32_t *handles,
    const uint8_t *algs, uint32_t n_entries, size_t *n)
{
	struct sc_buf b;

	begin_answer(&b, SC_SP_KEYS | SC_SP_ANSWER);
	sc_buf_put_u8(&b, more);
	sc_buf_put_u32(&b, count);
	for (uint32_t i = 0; i < n_entries; i++) {
		sc_buf_put_u32(&b, handles[i]);
		sc_buf_put_u8(&b, algs[i]);
		sc_buf_put_string(&b, cert_der, cert_len);
	}
	return frame_of(&b, n);
}

/* A well-formed page: as many entries as announced. */
static uint8_t *keys_page(uint8_t more, uint32_t count, const uint32_t *handles,
    const uint8_t *algs, size_t *n)
{
	return keys_page_n(more, count, handles, algs, handles != NULL ? count : 0, n);
}

static sc_err run_keys(uint8_t *pages[], size_t lens[], size_t n_pages, struct script *s)
{
	pthread_t t;
	struct sc_sp *sp = NULL;
	sc_err r;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n_pages; i++) {
		s->answers[i] = pages[i];
		s->lens[i] = lens[i];
	}
	s->n = n_pages;
	start(s, &t, &sp);
	sc_err_clear();
	r = call_keys(sp);
	finish(t, sp);
	return r;
}

static void test_keys_paging(void **state)
{
	static const uint32_t h1[] = { 2, 5 }, h2[] = { 9 };
	static const uint8_t a1[] = { SC_ALG_P256, SC_ALG_ED25519 }, a2[] = { SC_ALG_RSA2048 };
	uint8_t *pages[2];
	size_t lens[2];
	struct script s;

	(void)state;
	pages[0] = keys_page(1, 2, h1, a1, &lens[0]);
	pages[1] = keys_page(0, 1, h2, a2, &lens[1]);
	assert_int_equal(run_keys(pages, lens, 2, &s), SC_OK);
	assert_int_equal(n_keys_out, 3);
	assert_int_equal(keys_out[0].handle, 2);
	assert_int_equal(keys_out[0].alg, SC_ALG_P256);
	assert_int_equal(keys_out[1].handle, 5);
	assert_int_equal(keys_out[1].alg, SC_ALG_ED25519);
	assert_int_equal(keys_out[2].handle, 9);
	assert_int_equal(X509_cmp(keys_out[2].cert, cert), 0);
	/* The second request asks after the last handle of the first page. */
	assert_int_equal(s.n_requests, 2);
	assert_memory_equal(s.requests[0], "\x01\x12\x00\x00\x00\x00", 6);
	assert_memory_equal(s.requests[1], "\x01\x12\x00\x00\x00\x05", 6);
	sc_sp_keys_free(keys_out, n_keys_out);
	keys_out = NULL;
	script_free(&s);
	free(pages[0]);
	free(pages[1]);
	/* No keys at all. */
	pages[0] = keys_page(0, 0, NULL, NULL, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_OK);
	assert_int_equal(n_keys_out, 0);
	sc_sp_keys_free(keys_out, n_keys_out);
	keys_out = NULL;
	script_free(&s);
	free(pages[0]);
}

static void test_keys_bad_pages(void **state)
{
	static const uint32_t up[] = { 3, 4 }, same[] = { 3, 3 }, down[] = { 4, 3 }, zero[] = { 0 };
	static const uint8_t ok2[] = { SC_ALG_P256, SC_ALG_P256 }, bad_alg[] = { 7 },
	                     none_alg[] = { SC_ALG_NONE };
	uint8_t *pages[2];
	size_t lens[2];
	struct script s;

	(void)state;
	/* Handles must grow strictly within a page ... */
	pages[0] = keys_page(0, 2, same, ok2, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "keys answer: bad entry (handle 3)");
	script_free(&s);
	free(pages[0]);
	pages[0] = keys_page(0, 2, down, ok2, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	script_free(&s);
	free(pages[0]);
	/* ... and across pages (a second page repeating handle 4 would loop forever). */
	pages[0] = keys_page(1, 2, up, ok2, &lens[0]);
	pages[1] = keys_page(0, 2, up, ok2, &lens[1]);
	assert_int_equal(run_keys(pages, lens, 2, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "keys answer: bad entry (handle 3)");
	script_free(&s);
	free(pages[0]);
	free(pages[1]);
	/* Handle 0, an unknown algorithm, NONE. */
	pages[0] = keys_page(0, 1, zero, ok2, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	script_free(&s);
	free(pages[0]);
	pages[0] = keys_page(0, 1, up, bad_alg, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	script_free(&s);
	free(pages[0]);
	pages[0] = keys_page(0, 1, up, none_alg, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	script_free(&s);
	free(pages[0]);
	/* "More" with an empty page; a "more" flag that is not 0 or 1; a count over the limit. */
	pages[0] = keys_page(1, 0, NULL, NULL, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "keys answer: bad page (more 1, count 0)");
	script_free(&s);
	free(pages[0]);
	pages[0] = keys_page(2, 2, up, ok2, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	script_free(&s);
	free(pages[0]);
	pages[0] = keys_page_n(0, SC_SP_MAX_KEYS_LIMIT + 1, NULL, NULL, 0, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "keys answer: bad page (more 0, count 257)");
	script_free(&s);
	free(pages[0]);
	/* A count larger than the entries that follow: truncated. */
	pages[0] = keys_page_n(0, 3, up, ok2, 2, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "keys answer: keys: truncated or field out of range");
	script_free(&s);
	free(pages[0]);
	/* The SP hangs up before the second page (seen on the write or on the read). */
	pages[0] = keys_page(1, 2, up, ok2, &lens[0]);
	assert_int_equal(run_keys(pages, lens, 1, &s), SC_ERR_PEER);
	assert_non_null(strstr(sc_err_detail(), "closed the connection"));
	script_free(&s);
	free(pages[0]);
}

/* Broken frames from the SP: closed without an answer, mid-frame, bad lengths. */
static void test_broken_frames(void **state)
{
	static const uint8_t half_hdr[] = { 0, 0 };
	static const uint8_t half_body[] = { 0, 0, 0, 10, 1, SC_SP_LOCK | SC_SP_ANSWER, 0 };
	static const uint8_t zero_len[] = { 0, 0, 0, 0 };
	static const uint8_t one_len[] = { 0, 0, 0, 1, 1 };
	static const uint8_t huge_len[] = { 0xff, 0xff, 0xff, 0xff, 1, 0x86 };
	static const uint8_t over_len[] = { 0, 1, 0, 1, 1, 0x86 };
	struct script s;

	(void)state;
	assert_int_equal(run_one(NULL, 0, call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "the peer closed the connection");
	script_free(&s);
	assert_int_equal(run_one(half_hdr, sizeof(half_hdr), call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "the peer closed the connection");
	script_free(&s);
	assert_int_equal(run_one(half_body, sizeof(half_body), call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "the peer closed the connection");
	script_free(&s);
	assert_int_equal(run_one(zero_len, sizeof(zero_len), call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(),
	    "the SP's answer: message length 0: no version and type");
	script_free(&s);
	assert_int_equal(run_one(one_len, sizeof(one_len), call_lock, &s), SC_ERR_PEER);
	script_free(&s);
	assert_int_equal(run_one(huge_len, sizeof(huge_len), call_lock, &s), SC_ERR_PEER);
	assert_string_equal(sc_err_detail(),
	    "the SP's answer: message length 4294967295 over the limit of 65536");
	script_free(&s);
	assert_int_equal(run_one(over_len, sizeof(over_len), call_lock, &s), SC_ERR_PEER);
	script_free(&s);
}

/* After a broken answer the stream is out of step: the connection is never reused. */
static void test_no_reuse_after_break(void **state)
{
	static const uint8_t zero_len[] = { 0, 0, 0, 0 };
	struct script s;
	pthread_t t;
	struct sc_sp *sp = NULL;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.answers[0] = zero_len;
	s.lens[0] = sizeof(zero_len);
	s.n = 1;
	start(&s, &t, &sp);
	assert_int_equal(sc_sp_lock(sp), SC_ERR_PEER);
	assert_int_equal(sc_sp_lock(sp), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "not connected");
	finish(t, sp);
	script_free(&s);
	/* Whereas after a well-formed refusal the connection goes on. */
	{
		struct sc_buf b;
		uint8_t *e, *ok;
		size_t e_len, ok_len;

		begin_answer(&b, SC_SP_ERROR);
		sc_buf_put_u32(&b, (uint32_t)SC_ERR_STATE);
		sc_buf_put_cstring(&b, "not now");
		e = frame_of(&b, &e_len);
		begin_answer(&b, SC_SP_LOCK | SC_SP_ANSWER);
		ok = frame_of(&b, &ok_len);
		memset(&s, 0, sizeof(s));
		s.answers[0] = e;
		s.lens[0] = e_len;
		s.answers[1] = ok;
		s.lens[1] = ok_len;
		s.n = 2;
		start(&s, &t, &sp);
		assert_int_equal(sc_sp_lock(sp), SC_ERR_STATE);
		assert_string_equal(sc_err_detail(), "not now");
		assert_int_equal(sc_sp_lock(sp), SC_OK);
		finish(t, sp);
		script_free(&s);
		free(e);
		free(ok);
	}
}

static void test_connect_errors(void **state)
{
	struct sc_sp *sp = (struct sc_sp *)&sp;
	char missing[600], long_path[200];
	uint8_t *ans;
	size_t ans_len;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.sock", dir);
	assert_int_equal(sc_sp_connect(missing, &sp), SC_ERR_IO);
	assert_null(sp);
	assert_non_null(strstr(sc_err_detail(), missing));
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(sc_sp_connect(long_path, &sp), SC_ERR_USAGE);
	assert_int_equal(sc_sp_connect(NULL, &sp), SC_ERR_USAGE);
	assert_int_equal(sc_sp_raw(NULL, (const uint8_t *)"\x01\x01", 2, &ans, &ans_len),
	    SC_ERR_USAGE);
	/* Requests the client refuses before sending anything. */
	{
		uint8_t *sig = NULL;
		size_t sig_len = 0;
		static uint8_t big[SC_SP_MAX_SIGN_INPUT + 1];

		assert_int_equal(sc_sp_install_anchor(NULL, "", cert), SC_ERR_USAGE);
		assert_int_equal(sc_sp_sign(NULL, 1, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256, big,
		                     sizeof(big), &sig, &sig_len),
		    SC_ERR_OVERSIZE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_decodes),
		cmocka_unit_test(test_info_truncated_at_every_byte),
		cmocka_unit_test(test_info_bad_fields),
		cmocka_unit_test(test_wrong_type_and_version),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_empty_answers),
		cmocka_unit_test(test_issue),
		cmocka_unit_test(test_issue_der),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_keys_paging),
		cmocka_unit_test(test_keys_bad_pages),
		cmocka_unit_test(test_broken_frames),
		cmocka_unit_test(test_no_reuse_after_break),
		cmocka_unit_test(test_connect_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
