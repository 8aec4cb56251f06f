// SPDX-License-Identifier: Apache-2.0
/*
 * server.c — selfcert-spd's serving loop (server.h): one thread, ppoll over a listening Unix
 * socket and up to SPD_MAX_CLIENTS non-blocking peers, each with bounded buffers, one request
 * at a time, and timeouts, so that no peer can hold the SP. Framing is sp_wire.h's; every
 * complete request goes to spd_dispatch.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "log.h"
#include "server.h"
#include "sp_wire.h"

/*
 * Connections served at once. Well above the clients a device runs (agent, PKCS#11 users,
 * CLI), so that a few stalled or hostile peers, each cut off by the timeouts below, cannot
 * keep well-behaved ones waiting in the backlog. Each costs at most two SC_SP_MAX_MSG buffers.
 */
#define SPD_MAX_CLIENTS 128
#define SPD_LISTEN_BACKLOG 64
#define SPD_ACCEPT_BURST 16       /* connections accepted per poll round */
#define SPD_MSG_TIMEOUT_MS 10000  /* a started message or a pending answer must move on */
#define SPD_IDLE_TIMEOUT_MS 60000 /* a connection with nothing in flight */

struct client {
	int fd;
	unsigned long uid;
	uint8_t hdr[SC_WIRE_HDR_LEN];
	size_t hdr_got;
	uint8_t *msg; /* the request being read, msg_len bytes once the header is in */
	size_t msg_len, msg_got;
	uint8_t *out; /* the answer being written, with its length prefix */
	size_t out_len, out_off;
	int closing; /* hang up once the answer is out */
	int64_t deadline;
};

static volatile sig_atomic_t stop_requested;

void spd_on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->msg != NULL)
		OPENSSL_clear_free(c->msg, c->msg_len);
	if (c->out != NULL)
		OPENSSL_clear_free(c->out, c->out_len);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Queue an answer message (adds the prefix). Takes nothing; copies the bytes. */
static int client_queue(struct client *c, const uint8_t *msg, size_t len)
{
	if (len < SC_WIRE_MIN_MSG || len > SC_SP_MAX_MSG)
		return -1;
	if ((c->out = OPENSSL_malloc(SC_WIRE_HDR_LEN + len)) == NULL)
		return -1;
	sc_wire_put_len(c->out, len);
	memcpy(c->out + SC_WIRE_HDR_LEN, msg, len);
	c->out_len = SC_WIRE_HDR_LEN + len;
	c->out_off = 0;
	c->deadline = now_ms() + SPD_MSG_TIMEOUT_MS;
	return 0;
}

/* Answer with an error and hang up (framing errors, denied peers). */
static void client_refuse(struct client *c, sc_err code, const char *detail)
{
	struct sc_buf b;

	c->closing = 1;
	if (sc_wire_error_answer(&b, code, detail) != SC_OK || client_queue(c, b.data, b.len) != 0)
		c->out_len = 0;
	sc_buf_free(&b);
}

/* Handle the complete request in c->msg and queue the answer. -1: hang up now. */
static int client_request(struct spd *spd, struct client *c)
{
	struct sc_buf ans;
	int rc;

	spd->peer_uid = c->uid;
	(void)spd_dispatch(spd, c->msg, c->msg_len, &ans);
	OPENSSL_clear_free(c->msg, c->msg_len);
	c->msg = NULL;
	c->msg_len = c->msg_got = 0;
	c->hdr_got = 0;
	rc = client_queue(c, ans.data, ans.len);
	sc_buf_free(&ans);
	return rc;
}

/* Read what is there. Returns -1 when the client must go now. */
static int client_read(struct spd *spd, struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->hdr_got < SC_WIRE_HDR_LEN)
			n = read(c->fd, c->hdr + c->hdr_got, SC_WIRE_HDR_LEN - c->hdr_got);
		else
			n = read(c->fd, c->msg + c->msg_got, c->msg_len - c->msg_got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		if (c->hdr_got == 0 && c->msg == NULL)
			c->deadline = now_ms() + SPD_MSG_TIMEOUT_MS; /* a message has started */
		if (c->hdr_got < SC_WIRE_HDR_LEN) {
			sc_err r;

			c->hdr_got += (size_t)n;
			if (c->hdr_got < SC_WIRE_HDR_LEN)
				continue;
			/* The announced length is checked before a byte is allocated for it. */
			if ((r = sc_wire_parse_len(c->hdr, &c->msg_len)) != SC_OK) {
				sc_log("uid %lu: -: %s: %s", c->uid, sc_err_name(r),
				    sc_err_detail());
				client_refuse(c, r, sc_err_detail());
				return c->out_len > 0 ? 0 : -1;
			}
			if ((c->msg = OPENSSL_malloc(c->msg_len)) == NULL)
				return -1;
			c->msg_got = 0;
			continue;
		}
		c->msg_got += (size_t)n;
		if (c->msg_got == c->msg_len) {
			/* One request at a time: the next is read after this answer is out. */
			return client_request(spd, c);
		}
	}
}

static int client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		c->out_off += (size_t)n;
	}
	OPENSSL_clear_free(c->out, c->out_len);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->closing)
		return -1;
	c->deadline = now_ms() + SPD_IDLE_TIMEOUT_MS;
	return 0;
}

/*
 * Accept one pending connection and check its peer. 1: one was taken (there may be more),
 * 0: none pending or no free slot, so the rest wait in the backlog.
 */
static int client_accept(int lfd, struct client *clients, const unsigned long *allow,
    size_t n_allow)
{
	struct client *c = NULL;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	size_t i;
	int fd;

	for (i = 0; i < SPD_MAX_CLIENTS && c == NULL; i++)
		if (clients[i].fd < 0)
			c = &clients[i];
	if (c == NULL)
		return 0;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->deadline = now_ms() + SPD_IDLE_TIMEOUT_MS;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		client_refuse(c, SC_ERR_DENIED, "peer credentials unavailable");
		goto refused;
	}
	c->uid = (unsigned long)cred.uid;
	for (i = 0; i < n_allow; i++)
		if (allow[i] == c->uid)
			return 1;
	sc_log("uid %lu: -: denied", c->uid);
	client_refuse(c, SC_ERR_DENIED, "this user may not use the secure processor");
refused:
	/* A refused peer is only ever written to; if even the answer failed, it goes now. */
	if (c->out_len == 0)
		client_free(c);
	return 1;
}

sc_err spd_listen_on(const char *path, int *out)
{
	struct sockaddr_un sa;
	struct stat sb;
	mode_t old;
	int fd, rc;

	*out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return sc_fail(SC_ERR_USAGE, "%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return sc_fail(SC_ERR_IO, "socket: %s", strerror(errno));
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			close(fd);
			return sc_fail(SC_ERR_EXISTS, "%s: exists and is not a socket", path);
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
			close(fd);
			return sc_fail(SC_ERR_EXISTS, "%s: another SP is serving it", path);
		}
		unlink(path);
	}
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || chmod(path, 0660) != 0 || listen(fd, SPD_LISTEN_BACKLOG) != 0) {
		sc_err r = sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	*out = fd;
	return SC_OK;
}

int spd_serve(struct spd *spd, int lfd, const unsigned long *allow, size_t n_allow)
{
	struct client clients[SPD_MAX_CLIENTS];
	struct pollfd pfd[SPD_MAX_CLIENTS + 1];
	int map[SPD_MAX_CLIENTS + 1];
	sigset_t block, orig;
	size_t i;

	for (i = 0; i < SPD_MAX_CLIENTS; i++) {
		memset(&clients[i], 0, sizeof(clients[i]));
		clients[i].fd = -1;
	}
	/* Signals are only let in while waiting in ppoll, so a stop is never missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigdelset(&orig, SIGTERM);
	sigdelset(&orig, SIGINT);

	while (!stop_requested) {
		struct timespec ts;
		int64_t now = now_ms(), next = now + 1000;
		nfds_t n = 0;
		size_t used = 0;
		int k;

		for (i = 0; i < SPD_MAX_CLIENTS; i++) {
			struct client *c = &clients[i];

			if (c->fd < 0)
				continue;
			used++;
			if (now >= c->deadline) {
				sc_log("uid %lu: -: timeout, disconnected", c->uid);
				client_free(c);
				used--;
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			pfd[n].fd = c->fd;
			pfd[n].events = c->out_len > 0 ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
			map[n++] = (int)i;
		}
		/* While every slot is taken, new peers wait in the backlog. */
		if (used < SPD_MAX_CLIENTS) {
			pfd[n].fd = lfd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			map[n++] = -1;
		}
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = ((next - now) % 1000) * 1000000;
		k = ppoll(pfd, n, &ts, &orig);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			sc_log("poll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct client *c;
			int rc = 0;

			if (pfd[i].revents == 0)
				continue;
			if (map[i] < 0) {
				int burst;

				for (burst = 0; burst < SPD_ACCEPT_BURST; burst++)
					if (client_accept(lfd, clients, allow, n_allow) == 0)
						break;
				continue;
			}
			c = &clients[map[i]];
			if (pfd[i].revents & POLLOUT)
				rc = client_write(c);
			else if (pfd[i].revents & POLLIN)
				rc = client_read(spd, c);
			else
				rc = -1; /* POLLHUP/POLLERR with nothing to read */
			if (rc == 0 && c->out_len > 0)
				rc = client_write(c); /* answer at once; usually it all fits */
			if (rc != 0)
				client_free(c);
		}
	}
	for (i = 0; i < SPD_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_free(&clients[i]);
	return 0;
}
