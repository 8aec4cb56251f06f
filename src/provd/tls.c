// SPDX-License-Identifier: Apache-2.0
/*
 * tls.c — TLS 1.3 session tickets on libmicrohttpd's GnuTLS sessions (tls.h says what and why).
 */
#include "tls.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "log.h"

static gnutls_datum_t master; /* the ticket master key; NULL data: tickets off */

int provd_tls_tickets_start(void)
{
	if (master.data != NULL)
		return 0;
	if (gnutls_session_ticket_key_generate(&master) != GNUTLS_E_SUCCESS) {
		master.data = NULL;
		sc_log("TLS session tickets off: no ticket key");
		return -1;
	}
	return 0;
}

void provd_tls_tickets_stop(void)
{
	if (master.data == NULL)
		return;
	gnutls_memset(master.data, 0, master.size);
	gnutls_free(master.data);
	master.data = NULL;
	master.size = 0;
}

void provd_tls_session_start(gnutls_session_t s)
{
	/* A session that cannot take them handshakes in full, as before. */
	if (master.data != NULL && s != NULL &&
	    gnutls_session_ticket_enable_server(s, &master) == GNUTLS_E_SUCCESS)
		gnutls_db_set_cache_expiration(s, PROVD_TICKET_LIFETIME_S);
}

/* ---- an answer's head and body in one send (tls.h) ---- */

#define OUT_IOV_MAX 16

struct provd_tls_out {
	int fd;
	int hold;                  /* the next record is an answer's head: kept for its body */
	size_t held_len, held_off; /* held bytes [held_off, held_len) not yet sent */
	unsigned char held[PROVD_TLS_HOLD_MAX];
};

static unsigned long stat_joined, stat_alone, stat_short; /* __atomic */

/*
 * GnuTLS's push (its vector form): one or more whole or partial records, in order. Returns the
 * bytes of *these* records taken (held or sent), or -1 with errno (EAGAIN: none of them sent).
 */
static ssize_t out_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct provd_tls_out *o = ptr;
	struct iovec v[OUT_IOV_MAX + 1];
	struct msghdr m;
	size_t total = 0, rest = o->held_len - o->held_off, at = 0;
	ssize_t n;
	int k = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (o->hold && rest == 0 && total > 0 && total <= sizeof(o->held)) {
		for (int i = 0; i < iovcnt; i++) {
			memcpy(o->held + at, iov[i].iov_base, iov[i].iov_len);
			at += iov[i].iov_len;
		}
		o->hold = 0;
		o->held_len = total;
		o->held_off = 0;
		return (ssize_t)total;
	}
	o->hold = 0;
	if (rest > 0) {
		v[k].iov_base = o->held + o->held_off;
		v[k++].iov_len = rest;
	}
	/* More pieces than fit: the first ones (a short send; GnuTLS pushes the rest later). */
	for (int i = 0; i < iovcnt && k < OUT_IOV_MAX + 1; i++) {
		v[k].iov_base = iov[i].iov_base;
		v[k++].iov_len = iov[i].iov_len;
	}
	memset(&m, 0, sizeof(m));
	m.msg_iov = v;
	m.msg_iovlen = (size_t)k;
	do
		n = sendmsg(o->fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (rest > 0) {
		if ((size_t)n < rest) {
			/* Part of the held head: the rest first at the next push; none of these sent. */
			o->held_off += (size_t)n;
			__atomic_add_fetch(&stat_short, 1, __ATOMIC_RELAXED);
			errno = EAGAIN;
			return -1;
		}
		o->held_len = o->held_off = 0;
		__atomic_add_fetch(&stat_joined, 1, __ATOMIC_RELAXED);
		n -= (ssize_t)rest;
		if (n == 0 && total > 0) {
			errno = EAGAIN;
			return -1;
		}
	}
	return n;
}

struct provd_tls_out *provd_tls_out_start(gnutls_session_t s, int fd)
{
	struct provd_tls_out *o;

	if (s == NULL || fd < 0 || (o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	o->fd = fd;
	/* Reads stay GnuTLS's own on the descriptor; only sends go through out_push. */
	gnutls_transport_set_ptr2(s, (gnutls_transport_ptr_t)(intptr_t)fd, o);
	gnutls_transport_set_vec_push_function(s, out_push);
	return o;
}

void provd_tls_out_answer(struct provd_tls_out *o)
{
	if (o != NULL)
		o->hold = 1;
}

int provd_tls_out_flush(struct provd_tls_out *o)
{
	struct iovec v;
	struct msghdr m;
	ssize_t n;

	if (o == NULL)
		return 0;
	o->hold = 0;
	while (o->held_off < o->held_len) {
		v.iov_base = o->held + o->held_off;
		v.iov_len = o->held_len - o->held_off;
		memset(&m, 0, sizeof(m));
		m.msg_iov = &v;
		m.msg_iovlen = 1;
		n = sendmsg(o->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* kept: the next push sends it first */
		o->held_off += (size_t)n;
	}
	if (o->held_len > 0)
		__atomic_add_fetch(&stat_alone, 1, __ATOMIC_RELAXED);
	o->held_len = o->held_off = 0;
	return 0;
}

void provd_tls_out_free(struct provd_tls_out *o)
{
	free(o);
}

void provd_tls_out_stats(unsigned long *joined, unsigned long *alone, unsigned long *shorts)
{
	*joined = __atomic_load_n(&stat_joined, __ATOMIC_RELAXED);
	*alone = __atomic_load_n(&stat_alone, __ATOMIC_RELAXED);
	*shorts = __atomic_load_n(&stat_short, __ATOMIC_RELAXED);
}
