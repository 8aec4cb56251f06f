// SPDX-License-Identifier: Apache-2.0
/*
 * sp_wire.c — SP protocol framing shared by the client and selfcert-spd: length prefix checks,
 * whole-frame reads and writes on a blocking or non-blocking fd with a deadline, error answers.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "sp_wire.h"

sc_err sc_wire_parse_len(const uint8_t hdr[SC_WIRE_HDR_LEN], size_t *len)
{
	uint32_t n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
	    hdr[3];

	*len = 0;
	if (n > SC_SP_MAX_MSG)
		return sc_fail(SC_ERR_OVERSIZE, "message length %u over the limit of %u",
		    (unsigned)n, (unsigned)SC_SP_MAX_MSG);
	if (n < SC_WIRE_MIN_MSG)
		return sc_fail(SC_ERR_MALFORMED, "message length %u: no version and type",
		    (unsigned)n);
	*len = n;
	return SC_OK;
}

void sc_wire_put_len(uint8_t hdr[SC_WIRE_HDR_LEN], size_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `events` or the deadline passes. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0)
			return 1;
	}
}

static sc_err write_all(int fd, const uint8_t *p, size_t len, int64_t deadline)
{
	int is_sock = 1;

	while (len > 0) {
		ssize_t n = is_sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);

		if (n < 0 && errno == ENOTSOCK) {
			/* A serial line or pipe: the same framing without socket flags. */
			is_sock = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(fd, POLLOUT, deadline);
			if (w == 0)
				return sc_fail(SC_ERR_PEER, "the peer does not read (timeout)");
			if (w < 0)
				return sc_fail(SC_ERR_IO, "poll: %s", strerror(errno));
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return sc_fail(SC_ERR_PEER, "the peer closed the connection");
		if (n < 0)
			return sc_fail(SC_ERR_IO, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return SC_OK;
}

static sc_err read_all(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t n;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w == 0)
			return sc_fail(SC_ERR_PEER, "no answer within the timeout");
		if (w < 0)
			return sc_fail(SC_ERR_IO, "poll: %s", strerror(errno));
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0 && errno == ECONNRESET)
			return sc_fail(SC_ERR_PEER, "the peer closed the connection");
		if (n < 0)
			return sc_fail(SC_ERR_IO, "read: %s", strerror(errno));
		if (n == 0)
			return sc_fail(SC_ERR_PEER, "the peer closed the connection");
		p += n;
		len -= (size_t)n;
	}
	return SC_OK;
}

sc_err sc_wire_write_frame(int fd, const uint8_t *msg, size_t msg_len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t hdr[SC_WIRE_HDR_LEN];
	sc_err r;

	/* Checked on send too, so we never make the peer cut us off for our own bug. */
	if (msg_len > SC_SP_MAX_MSG)
		return sc_fail(SC_ERR_OVERSIZE, "message of %zu bytes over the limit of %u",
		    msg_len, (unsigned)SC_SP_MAX_MSG);
	if (msg_len < SC_WIRE_MIN_MSG)
		return sc_fail(SC_ERR_USAGE, "message of %zu bytes: no version and type", msg_len);
	sc_wire_put_len(hdr, msg_len);
	if ((r = write_all(fd, hdr, sizeof(hdr), deadline)) != SC_OK)
		return r;
	return write_all(fd, msg, msg_len, deadline);
}

sc_err sc_wire_read_frame(int fd, uint8_t **msg, size_t *msg_len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t hdr[SC_WIRE_HDR_LEN];
	uint8_t *buf = NULL;
	size_t len;
	sc_err r;

	*msg = NULL;
	*msg_len = 0;
	if ((r = read_all(fd, hdr, sizeof(hdr), deadline)) != SC_OK)
		return r;
	if ((r = sc_wire_parse_len(hdr, &len)) != SC_OK)
		return r;
	if ((buf = OPENSSL_malloc(len)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "message of %zu bytes", len);
	if ((r = read_all(fd, buf, len, deadline)) != SC_OK) {
		OPENSSL_clear_free(buf, len);
		return r;
	}
	*msg = buf;
	*msg_len = len;
	return SC_OK;
}

void sc_wire_begin(struct sc_buf *b, uint8_t type, int secret)
{
	sc_buf_init_writer(b, SC_SP_MAX_MSG, secret);
	sp_hdr_put(b, type);
}

sc_err sc_wire_error_answer(struct sc_buf *b, sc_err code, const char *detail)
{
	sc_wire_begin(b, SC_SP_ERROR, 0);
	sp_error_ans_put(b, code, detail);
	return sc_buf_done(b, "error answer");
}

const char *sc_wire_msg_name(int type)
{
	return sp_msg_name(type);
}
