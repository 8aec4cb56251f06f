// SPDX-License-Identifier: Apache-2.0
/*
 * test_provd_tls.c — provd's push function on a GnuTLS session (src/provd/tls.c, #17 session
 * 16): an answer's head record held and sent with its body's in one send. Real GnuTLS sessions
 * (TLS 1.3, a pre-shared key) over a socket pair: the client reads exactly what the server
 * wrote, in order, whether the head is joined to its body, sent alone at the request's end, or
 * caught by a full socket (a short send keeps the rest of the head for the next push, which
 * reports EAGAIN until the head is out; GnuTLS then sends the body's record again).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

#include "tls.h"

#define PRIO "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK"

static const unsigned char psk_bytes[16] = "sys16-test-psk-0";

struct pair {
	int sv[2]; /* [0] the server's, [1] the client's */
	gnutls_session_t srv, cli;
	gnutls_psk_server_credentials_t sc;
	gnutls_psk_client_credentials_t cc;
	struct provd_tls_out *out;
};

static int psk_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	(void)s;
	(void)user;
	key->data = gnutls_malloc(sizeof(psk_bytes));
	if (key->data == NULL)
		return -1;
	memcpy(key->data, psk_bytes, sizeof(psk_bytes));
	key->size = sizeof(psk_bytes);
	return 0;
}

static void *client_handshake(void *arg)
{
	struct pair *p = arg;
	int rc;

	do
		rc = gnutls_handshake(p->cli);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	return (void *)(intptr_t)rc;
}

/* A handshaken pair; the server's session pushes through provd's function (out). */
static void pair_open(struct pair *p)
{
	const gnutls_datum_t key = { (unsigned char *)psk_bytes, sizeof(psk_bytes) };
	pthread_t th;
	void *crc;
	int rc;

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv), 0);
	assert_int_equal(gnutls_psk_allocate_server_credentials(&p->sc), 0);
	gnutls_psk_set_server_credentials_function(p->sc, psk_cb);
	assert_int_equal(gnutls_psk_allocate_client_credentials(&p->cc), 0);
	assert_int_equal(gnutls_psk_set_client_credentials(p->cc, "dev", &key, GNUTLS_PSK_KEY_RAW),
	    0);
	assert_int_equal(gnutls_init(&p->srv, GNUTLS_SERVER | GNUTLS_NO_SIGNAL), 0);
	assert_int_equal(gnutls_init(&p->cli, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL), 0);
	assert_int_equal(gnutls_priority_set_direct(p->srv, PRIO, NULL), 0);
	assert_int_equal(gnutls_priority_set_direct(p->cli, PRIO, NULL), 0);
	assert_int_equal(gnutls_credentials_set(p->srv, GNUTLS_CRD_PSK, p->sc), 0);
	assert_int_equal(gnutls_credentials_set(p->cli, GNUTLS_CRD_PSK, p->cc), 0);
	gnutls_transport_set_int(p->srv, p->sv[0]);
	gnutls_transport_set_int(p->cli, p->sv[1]);
	/* As provd does at MHD's NOTIFY_STARTED: before the handshake. */
	p->out = provd_tls_out_start(p->srv, p->sv[0]);
	assert_non_null(p->out);
	assert_int_equal(pthread_create(&th, NULL, client_handshake, p), 0);
	do
		rc = gnutls_handshake(p->srv);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	assert_int_equal(rc, 0);
	assert_int_equal(pthread_join(th, &crc), 0);
	assert_int_equal((int)(intptr_t)crc, 0);
	assert_int_equal(gnutls_protocol_get_version(p->srv), GNUTLS_TLS1_3);
}

static void pair_close(struct pair *p)
{
	gnutls_deinit(p->srv);
	gnutls_deinit(p->cli);
	provd_tls_out_free(p->out);
	gnutls_psk_free_server_credentials(p->sc);
	gnutls_psk_free_client_credentials(p->cc);
	close(p->sv[0]);
	close(p->sv[1]);
}

/* Everything the server sent until now (the client's socket non-blocking): its length. */
static size_t client_read(struct pair *p, unsigned char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	fcntl(p->sv[1], F_SETFL, fcntl(p->sv[1], F_GETFL) | O_NONBLOCK);
	for (;;) {
		r = gnutls_record_recv(p->cli, buf + n, cap - n);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (gnutls_record_check_pending(p->cli) > 0)
				continue;
			break;
		}
		fail_msg("client read: %s", gnutls_strerror((int)r));
	}
	return n;
}

/* The bytes waiting unread on the client's socket (0 when none). */
static size_t raw_pending(struct pair *p)
{
	unsigned char b[65536];
	ssize_t r = recv(p->sv[1], b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);

	return r > 0 ? (size_t)r : 0;
}

static void send_all(gnutls_session_t s, const char *data, size_t n)
{
	ssize_t r = gnutls_record_send(s, data, n);

	assert_int_equal(r, (ssize_t)n);
}

/* An answer marked: its head is held (nothing on the socket) and goes out with its body. */
static void test_head_joined_to_body(void **state)
{
	static const char head[] = "HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n";
	static const char body[] = "{\"a\":\"b\"}\n";
	unsigned char got[4096];
	unsigned long j0, a0, s0, j1, a1, s1;
	struct pair p;
	size_t n;

	(void)state;
	pair_open(&p);
	provd_tls_out_stats(&j0, &a0, &s0);
	for (int round = 0; round < 3; round++) {
		provd_tls_out_answer(p.out);
		send_all(p.srv, head, strlen(head));
		assert_int_equal(raw_pending(&p), 0); /* held */
		send_all(p.srv, body, strlen(body));
		assert_int_equal(provd_tls_out_flush(p.out), 0); /* nothing left */
		n = client_read(&p, got, sizeof(got));
		assert_int_equal(n, strlen(head) + strlen(body));
		assert_memory_equal(got, head, strlen(head));
		assert_memory_equal(got + strlen(head), body, strlen(body));
	}
	provd_tls_out_stats(&j1, &a1, &s1);
	assert_int_equal(j1 - j0, 3);
	assert_int_equal(a1 - a0, 0);
	/* Not marked: each record goes out at once. */
	send_all(p.srv, head, strlen(head));
	assert_true(raw_pending(&p) > strlen(head));
	assert_int_equal(client_read(&p, got, sizeof(got)), strlen(head));
	pair_close(&p);
}

/* A marked answer whose body never comes (a HEAD's, say): sent whole at the request's end. */
static void test_head_alone_flushed(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
	static const char next[] = "HTTP/1.1 204 No Content\r\n\r\n";
	unsigned char got[4096];
	unsigned long j0, a0, s0, j1, a1, s1;
	struct pair p;

	(void)state;
	pair_open(&p);
	provd_tls_out_stats(&j0, &a0, &s0);
	provd_tls_out_answer(p.out);
	send_all(p.srv, head, strlen(head));
	assert_int_equal(raw_pending(&p), 0);
	assert_int_equal(provd_tls_out_flush(p.out), 0);
	assert_int_equal(client_read(&p, got, sizeof(got)), strlen(head));
	assert_memory_equal(got, head, strlen(head));
	/* The mark is spent: the next record is not held. */
	send_all(p.srv, next, strlen(next));
	assert_int_equal(client_read(&p, got, sizeof(got)), strlen(next));
	assert_memory_equal(got, next, strlen(next));
	provd_tls_out_stats(&j1, &a1, &s1);
	assert_int_equal(j1 - j0, 0);
	assert_int_equal(a1 - a0, 1);
	/* A mark with nothing held: the flush has nothing to do, and clears the mark. */
	provd_tls_out_answer(p.out);
	assert_int_equal(provd_tls_out_flush(p.out), 0);
	send_all(p.srv, next, strlen(next));
	assert_true(raw_pending(&p) > 0);
	assert_int_equal(client_read(&p, got, sizeof(got)), strlen(next));
	pair_close(&p);
}

/*
 * Short sends, made by this program's sendmsg (below) on the server's descriptor: none at all
 * (EAGAIN), part of the held head, the head's rest and part of the body's record, then the rest.
 * GnuTLS sees EAGAIN until some of the body's own record is taken and calls again with the same
 * record, as MHD does; the client gets head and body whole and in order.
 */
static int cap_fd = -1;
static long cap = -1; /* bytes the next sendmsg on cap_fd may take; -1: any; 0: EAGAIN */

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct msghdr m2 = *m;
	struct iovec v[64];
	size_t left;
	int k = 0;

	if (fd != cap_fd || cap < 0)
		return syscall(SYS_sendmsg, fd, m, flags);
	if (cap == 0) {
		errno = EAGAIN;
		return -1;
	}
	left = (size_t)cap;
	for (size_t i = 0; i < m->msg_iovlen && left > 0 && k < 64; i++) {
		v[k] = m->msg_iov[i];
		if (v[k].iov_len > left)
			v[k].iov_len = left;
		left -= v[k++].iov_len;
	}
	m2.msg_iov = v;
	m2.msg_iovlen = (size_t)k;
	return syscall(SYS_sendmsg, fd, &m2, flags);
}

static void test_short_sends(void **state)
{
	char head[1500], body[3000];
	unsigned char got[8192];
	unsigned long j0, a0, s0, j1, a1, s1;
	struct pair p;
	ssize_t r;

	(void)state;
	for (size_t i = 0; i < sizeof(head); i++)
		head[i] = (char)('A' + i % 26);
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + (i * 7) % 26);
	pair_open(&p);
	provd_tls_out_stats(&j0, &a0, &s0);
	cap_fd = p.sv[0];
	provd_tls_out_answer(p.out);
	send_all(p.srv, head, sizeof(head)); /* held: no send */
	cap = 0;
	assert_int_equal(gnutls_record_send(p.srv, body, sizeof(body)), GNUTLS_E_AGAIN);
	assert_int_equal(raw_pending(&p), 0);
	cap = 500; /* part of the held head (1500 bytes and the record's own 22) */
	assert_int_equal(gnutls_record_send(p.srv, NULL, 0), GNUTLS_E_AGAIN);
	assert_int_equal(raw_pending(&p), 500);
	cap = (long)(sizeof(head) + 22 - 500 + 10); /* the head's rest, 10 bytes of the body's */
	assert_int_equal(gnutls_record_send(p.srv, NULL, 0), GNUTLS_E_AGAIN);
	assert_int_equal(raw_pending(&p), sizeof(head) + 22 + 10);
	cap = -1;
	r = gnutls_record_send(p.srv, NULL, 0);
	assert_int_equal(r, sizeof(body));
	cap_fd = -1;
	assert_int_equal(provd_tls_out_flush(p.out), 0);
	assert_int_equal(client_read(&p, got, sizeof(got)), sizeof(head) + sizeof(body));
	assert_memory_equal(got, head, sizeof(head));
	assert_memory_equal(got + sizeof(head), body, sizeof(body));
	provd_tls_out_stats(&j1, &a1, &s1);
	assert_int_equal(j1 - j0, 1);
	assert_int_equal(a1 - a0, 0);
	assert_int_equal(s1 - s0, 1);
	pair_close(&p);
}

/* A flush that meets a full socket keeps the head: the next push sends it first, in order. */
static void test_flush_kept(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
	static const char next[] = "ok";
	unsigned char got[4096];
	unsigned long j0, a0, s0, j1, a1, s1;
	struct pair p;

	(void)state;
	pair_open(&p);
	provd_tls_out_stats(&j0, &a0, &s0);
	provd_tls_out_answer(p.out);
	send_all(p.srv, head, strlen(head));
	cap_fd = p.sv[0];
	cap = 0;
	assert_int_equal(provd_tls_out_flush(p.out), -1);
	assert_int_equal(raw_pending(&p), 0);
	cap = -1;
	cap_fd = -1;
	send_all(p.srv, next, strlen(next));
	assert_int_equal(client_read(&p, got, sizeof(got)), strlen(head) + strlen(next));
	assert_memory_equal(got, head, strlen(head));
	assert_memory_equal(got + strlen(head), next, strlen(next));
	provd_tls_out_stats(&j1, &a1, &s1);
	assert_int_equal(j1 - j0, 1);
	assert_int_equal(a1 - a0, 0);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_joined_to_body),
		cmocka_unit_test(test_head_alone_flushed),
		cmocka_unit_test(test_short_sends),
		cmocka_unit_test(test_flush_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
