// SPDX-License-Identifier: Apache-2.0
/*
 * test_wire.c — the SP protocol's framing over real socketpairs and pipes: length checks
 * (zero, short, over SC_SP_MAX_MSG, refused before any allocation), truncated frames, a peer
 * that closes or stalls mid-frame, writes to a vanished or stalled reader, error answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "buf.h"
#include "sp_wire.h"

/* A stalled peer is detected by this; the frames themselves never wait on it. */
#define SHORT_TIMEOUT_MS 150
#define LONG_TIMEOUT_MS 30000

/*
 * OpenSSL's allocator, counted: the largest single request since the last reset. The wire code
 * allocates message bodies with OPENSSL_malloc, so this shows what a hostile length costs.
 */
static size_t largest_alloc;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n > largest_alloc)
		largest_alloc = n;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	if (n > largest_alloc)
		largest_alloc = n;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void send_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Bytes waiting on fd without blocking (0 if none). */
static size_t pending(int fd)
{
	uint8_t tmp[64];
	ssize_t n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT | MSG_PEEK);

	if (n < 0) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return 0;
	}
	return (size_t)n;
}

static void test_parse_len(void **state)
{
	static const struct {
		uint8_t hdr[4];
		sc_err want;
		size_t len;
	} cases[] = {
		{ { 0, 0, 0, 0 }, SC_ERR_MALFORMED, 0 },
		{ { 0, 0, 0, 1 }, SC_ERR_MALFORMED, 0 },
		{ { 0, 0, 0, 2 }, SC_OK, 2 },
		{ { 0, 0, 1, 0 }, SC_OK, 256 },
		{ { 0, 1, 0, 0 }, SC_OK, SC_SP_MAX_MSG },
		{ { 0, 1, 0, 1 }, SC_ERR_OVERSIZE, 0 },
		{ { 0x80, 0, 0, 2 }, SC_ERR_OVERSIZE, 0 },
		{ { 0xff, 0xff, 0xff, 0xff }, SC_ERR_OVERSIZE, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 12345;

		assert_int_equal(sc_wire_parse_len(cases[i].hdr, &len), cases[i].want);
		assert_int_equal(len, cases[i].len);
	}
	{
		uint8_t hdr[4];
		size_t len;

		sc_wire_put_len(hdr, 0x01020304);
		assert_memory_equal(hdr, "\x01\x02\x03\x04", 4);
		sc_wire_put_len(hdr, SC_SP_MAX_MSG);
		assert_int_equal(sc_wire_parse_len(hdr, &len), SC_OK);
		assert_int_equal(len, SC_SP_MAX_MSG);
	}
}

static void test_frame_round_trip(void **state)
{
	static const uint8_t msg[] = { SC_SP_PROTO_VERSION, SC_SP_INFO, 0xaa, 0xbb };
	int sv[2];
	uint8_t *got = NULL;
	size_t got_len = 0;

	(void)state;
	pair(sv);
	assert_int_equal(sc_wire_write_frame(sv[0], msg, sizeof(msg), LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(sc_wire_write_frame(sv[0], msg, 2, LONG_TIMEOUT_MS), SC_OK);
	/* Exactly the length prefix and the bytes. */
	{
		uint8_t raw[8];
		assert_int_equal(recv(sv[1], raw, sizeof(raw), MSG_WAITALL), 8);
		assert_memory_equal(raw, "\x00\x00\x00\x04\x01\x01\xaa\xbb", 8);
	}
	assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(got_len, 2);
	assert_memory_equal(got, msg, 2);
	OPENSSL_free(got);
	/* Two frames back to back are read one at a time, nothing more. */
	assert_int_equal(sc_wire_write_frame(sv[0], msg, sizeof(msg), LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(sc_wire_write_frame(sv[0], msg, 3, LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(got_len, 4);
	OPENSSL_free(got);
	assert_int_equal(pending(sv[1]), 7);
	assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(got_len, 3);
	OPENSSL_free(got);
	close(sv[0]);
	close(sv[1]);
}

struct writer {
	int fd;
	const uint8_t *msg;
	size_t len;
	sc_err r;
};

static void *writer_thread(void *p)
{
	struct writer *w = p;

	w->r = sc_wire_write_frame(w->fd, w->msg, w->len, LONG_TIMEOUT_MS);
	return NULL;
}

/* The largest frame goes through whole, however the socket splits it. */
static void test_max_frame(void **state)
{
	int sv[2];
	uint8_t *msg = malloc(SC_SP_MAX_MSG), *got = NULL;
	size_t got_len = 0;
	pthread_t t;
	struct writer w;
	int small = 4096;

	(void)state;
	assert_non_null(msg);
	for (size_t i = 0; i < SC_SP_MAX_MSG; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	pair(sv);
	/* Small socket buffers, so the frame must travel in many partial writes and reads. */
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	w = (struct writer){ .fd = sv[0], .msg = msg, .len = SC_SP_MAX_MSG, .r = SC_ERR_INTERNAL };
	assert_int_equal(pthread_create(&t, NULL, writer_thread, &w), 0);
	assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w.r, SC_OK);
	assert_int_equal(got_len, SC_SP_MAX_MSG);
	assert_memory_equal(got, msg, SC_SP_MAX_MSG);
	OPENSSL_free(got);
	free(msg);
	close(sv[0]);
	close(sv[1]);
}

/* Bad lengths are refused from the header alone: no body allocation, no body read. */
static void test_read_bad_length(void **state)
{
	static const struct {
		uint8_t hdr[4];
		sc_err want;
	} cases[] = {
		{ { 0, 0, 0, 0 }, SC_ERR_MALFORMED },
		{ { 0, 0, 0, 1 }, SC_ERR_MALFORMED },
		{ { 0, 1, 0, 1 }, SC_ERR_OVERSIZE },
		{ { 0x7f, 0xff, 0xff, 0xff }, SC_ERR_OVERSIZE },
		{ { 0xff, 0xff, 0xff, 0xff }, SC_ERR_OVERSIZE },
	};
	static const uint8_t body[10] = { 1, 1, 2, 3, 4, 5, 6, 7, 8, 9 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int sv[2];
		uint8_t *got = (uint8_t *)"x";
		size_t got_len = 99;

		pair(sv);
		send_raw(sv[0], cases[i].hdr, 4);
		send_raw(sv[0], body, sizeof(body));
		largest_alloc = 0;
		assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS),
		    cases[i].want);
		assert_true(largest_alloc < 1024);
		assert_null(got);
		assert_int_equal(got_len, 0);
		assert_int_equal(pending(sv[1]), sizeof(body));
		close(sv[0]);
		close(sv[1]);
	}
	/* A good length does allocate its body, of exactly that size: the counter works. */
	{
		int sv[2];
		uint8_t hdr[4];
		uint8_t *got = NULL;
		size_t got_len = 0;

		pair(sv);
		sc_wire_put_len(hdr, 3);
		send_raw(sv[0], hdr, 4);
		send_raw(sv[0], body, 3);
		largest_alloc = 0;
		assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
		assert_int_equal(largest_alloc, 3);
		OPENSSL_free(got);
		close(sv[0]);
		close(sv[1]);
	}
}

/* The peer sends the first n bytes of a frame and closes: peer, at every n. */
static void test_read_truncated(void **state)
{
	uint8_t frame[4 + 6] = { 0, 0, 0, 6, 1, SC_SP_INFO, 'a', 'b', 'c', 'd' };

	(void)state;
	for (size_t n = 0; n < sizeof(frame); n++) {
		int sv[2];
		uint8_t *got = (uint8_t *)"x";
		size_t got_len = 99;

		pair(sv);
		if (n > 0)
			send_raw(sv[0], frame, n);
		close(sv[0]);
		sc_err_clear();
		if (sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS) != SC_ERR_PEER)
			fail_msg("frame cut after %zu bytes: not peer (%s)", n, sc_err_detail());
		assert_string_equal(sc_err_detail(), "the peer closed the connection");
		assert_null(got);
		assert_int_equal(got_len, 0);
		close(sv[1]);
	}
	/* And the whole frame reads. */
	{
		int sv[2];
		uint8_t *got = NULL;
		size_t got_len = 0;

		pair(sv);
		send_raw(sv[0], frame, sizeof(frame));
		close(sv[0]);
		assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
		assert_int_equal(got_len, 6);
		OPENSSL_free(got);
		close(sv[1]);
	}
}

/* A peer that stops mid-frame but keeps the connection open: peer, at the deadline. */
static void test_read_stalled(void **state)
{
	static const uint8_t part[] = { 0, 0, 0, 6, 1, SC_SP_INFO };
	size_t cuts[] = { 0, 2, 4, sizeof(part) };

	(void)state;
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int sv[2];
		uint8_t *got = (uint8_t *)"x";
		size_t got_len = 99;

		pair(sv);
		if (cuts[i] > 0)
			send_raw(sv[0], part, cuts[i]);
		sc_err_clear();
		assert_int_equal(sc_wire_read_frame(sv[1], &got, &got_len, SHORT_TIMEOUT_MS),
		    SC_ERR_PEER);
		assert_string_equal(sc_err_detail(), "no answer within the timeout");
		assert_null(got);
		close(sv[0]);
		close(sv[1]);
	}
}

static void test_write_checks_length_first(void **state)
{
	int sv[2];
	uint8_t *big = calloc(1, SC_SP_MAX_MSG + 1);

	(void)state;
	assert_non_null(big);
	big[0] = SC_SP_PROTO_VERSION;
	pair(sv);
	assert_int_equal(sc_wire_write_frame(sv[0], big, SC_SP_MAX_MSG + 1, LONG_TIMEOUT_MS),
	    SC_ERR_OVERSIZE);
	assert_int_equal(pending(sv[1]), 0); /* nothing at all was written */
	assert_int_equal(sc_wire_write_frame(sv[0], big, 1, LONG_TIMEOUT_MS), SC_ERR_USAGE);
	assert_int_equal(sc_wire_write_frame(sv[0], big, 0, LONG_TIMEOUT_MS), SC_ERR_USAGE);
	assert_int_equal(pending(sv[1]), 0);
	close(sv[0]);
	close(sv[1]);
	free(big);
}

/* A vanished reader is an error (no SIGPIPE: the test would die). */
static void test_write_to_closed_peer(void **state)
{
	static const uint8_t msg[] = { 1, SC_SP_LOCK };
	int sv[2];

	(void)state;
	pair(sv);
	close(sv[1]);
	assert_int_equal(sc_wire_write_frame(sv[0], msg, sizeof(msg), LONG_TIMEOUT_MS),
	    SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "the peer closed the connection");
	close(sv[0]);
}

/* A non-blocking writer whose reader never reads: peer, at the deadline. */
static void test_write_stalled(void **state)
{
	int sv[2], small = 4096;
	uint8_t *big = calloc(1, SC_SP_MAX_MSG);

	(void)state;
	assert_non_null(big);
	pair(sv);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(sc_wire_write_frame(sv[0], big, SC_SP_MAX_MSG, SHORT_TIMEOUT_MS),
	    SC_ERR_PEER);
	assert_string_equal(sc_err_detail(), "the peer does not read (timeout)");
	close(sv[0]);
	close(sv[1]);
	free(big);
}

/* Pipes (and serial lines) carry the same frames without socket calls. */
static void test_pipe(void **state)
{
	static const uint8_t msg[] = { 1, SC_SP_KEYS, 0, 0, 0, 0 };
	int pfd[2];
	uint8_t *got = NULL;
	size_t got_len = 0;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(sc_wire_write_frame(pfd[1], msg, sizeof(msg), LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(sc_wire_read_frame(pfd[0], &got, &got_len, LONG_TIMEOUT_MS), SC_OK);
	assert_int_equal(got_len, sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
	OPENSSL_free(got);
	close(pfd[1]);
	assert_int_equal(sc_wire_read_frame(pfd[0], &got, &got_len, LONG_TIMEOUT_MS), SC_ERR_PEER);
	close(pfd[0]);
}

/* Decode an error answer the way the client does. */
static void read_error_answer(const struct sc_buf *b, int32_t *code, char *detail)
{
	struct sc_buf rd;

	sc_buf_init_reader(&rd, b->data, b->len);
	assert_int_equal(sc_buf_get_u8(&rd), SC_SP_PROTO_VERSION);
	assert_int_equal(sc_buf_get_u8(&rd), SC_SP_ERROR);
	*code = (int32_t)sc_buf_get_u32(&rd);
	sc_buf_get_cstring(&rd, detail, SC_WIRE_MAX_DETAIL);
	assert_int_equal(sc_buf_done(&rd, "error answer"), SC_OK);
}

static void test_error_answer(void **state)
{
	struct sc_buf b;
	int32_t code;
	char detail[SC_WIRE_MAX_DETAIL + 1], big[400];

	(void)state;
	assert_int_equal(sc_wire_error_answer(&b, SC_ERR_REPLAY, "profile 42 used"), SC_OK);
	assert_memory_equal(b.data, "\x01\x7f\xff\xff\xff\xf0\x00\x00\x00\x0f", 10);
	read_error_answer(&b, &code, detail);
	assert_int_equal(code, SC_ERR_REPLAY);
	assert_string_equal(detail, "profile 42 used");
	sc_buf_free(&b);
	/* No detail. */
	assert_int_equal(sc_wire_error_answer(&b, SC_ERR_LOCKED, NULL), SC_OK);
	read_error_answer(&b, &code, detail);
	assert_int_equal(code, SC_ERR_LOCKED);
	assert_string_equal(detail, "");
	sc_buf_free(&b);
	/* A "failure" of SC_OK or a positive number is never sent as such. */
	assert_int_equal(sc_wire_error_answer(&b, SC_OK, "odd"), SC_OK);
	read_error_answer(&b, &code, detail);
	assert_int_equal(code, SC_ERR_INTERNAL);
	sc_buf_free(&b);
	assert_int_equal(sc_wire_error_answer(&b, (sc_err)5, "odd"), SC_OK);
	read_error_answer(&b, &code, detail);
	assert_int_equal(code, SC_ERR_INTERNAL);
	sc_buf_free(&b);
	/* A long detail is cut to what the reader accepts. */
	memset(big, 'd', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sc_wire_error_answer(&b, SC_ERR_MALFORMED, big), SC_OK);
	read_error_answer(&b, &code, detail);
	assert_int_equal(strlen(detail), SC_WIRE_MAX_DETAIL);
	sc_buf_free(&b);
}

static void test_begin_caps_messages(void **state)
{
	struct sc_buf b;
	uint8_t *fill = calloc(1, SC_SP_MAX_MSG);

	(void)state;
	assert_non_null(fill);
	sc_wire_begin(&b, SC_SP_SIGN, 1);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "\x01\x13", 2);
	sc_buf_put_bytes(&b, fill, SC_SP_MAX_MSG - 2);
	assert_int_equal(sc_buf_done(&b, "sign"), SC_OK);
	sc_buf_put_u8(&b, 0);
	assert_int_equal(sc_buf_done(&b, "sign"), SC_ERR_OVERSIZE);
	sc_buf_free(&b);
	free(fill);
}

static void test_msg_names(void **state)
{
	static const struct {
		int type;
		const char *name;
	} names[] = {
		{ SC_SP_INFO, "info" },
		{ SC_SP_KEYGEN, "keygen" },
		{ SC_SP_INSTALL_CERT, "install-cert" },
		{ SC_SP_INSTALL_ANCHOR, "install-anchor" },
		{ SC_SP_SET_LIMITS, "set-limits" },
		{ SC_SP_LOCK, "lock" },
		{ SC_SP_CHALLENGE, "challenge" },
		{ SC_SP_ISSUE, "issue" },
		{ SC_SP_KEYS, "keys" },
		{ SC_SP_SIGN, "sign" },
		{ SC_SP_DELETE, "delete" },
		{ SC_SP_ERROR, "error" },
		{ 0, "unknown" },
		{ 0x07, "unknown" },
		{ SC_SP_INFO | SC_SP_ANSWER, "unknown" },
		{ -1, "unknown" },
		{ 256 + SC_SP_INFO, "unknown" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(sc_wire_msg_name(names[i].type), names[i].name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_len),
		cmocka_unit_test(test_frame_round_trip),
		cmocka_unit_test(test_max_frame),
		cmocka_unit_test(test_read_bad_length),
		cmocka_unit_test(test_read_truncated),
		cmocka_unit_test(test_read_stalled),
		cmocka_unit_test(test_write_checks_length_first),
		cmocka_unit_test(test_write_to_closed_peer),
		cmocka_unit_test(test_write_stalled),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_error_answer),
		cmocka_unit_test(test_begin_caps_messages),
		cmocka_unit_test(test_msg_names),
	};

	/* Before OpenSSL allocates anything, or the hook is refused. */
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
