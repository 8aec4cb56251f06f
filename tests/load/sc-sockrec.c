// SPDX-License-Identifier: Apache-2.0
/*
 * sc-sockrec.c — a test-only recording proxy (not installed): it sits between SP clients and
 * selfcert-spd and appends every byte of every connection to LOG.c2s (client to SP) and
 * LOG.s2c (SP to client), so a test can scan all that crossed the socket.
 *
 *   sc-sockrec LISTEN UPSTREAM LOG
 *
 * Connections are relayed one at a time, in order, so each log is the plain concatenation of
 * the streams and no secret can be split by another connection's bytes. Runs until SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHUNK 65536

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Relay one connection until either side closes; every byte also goes to its log. */
static void relay(int cfd, int ufd, int log_c2s, int log_s2c)
{
	static char buf[CHUNK];
	struct pollfd p[2];

	p[0].fd = cfd;
	p[1].fd = ufd;
	p[0].events = p[1].events = POLLIN;
	while (!stop) {
		int i;

		if (poll(p, 2, 1000) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].revents == 0)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			if (write_all(i == 0 ? log_c2s : log_s2c, buf, (size_t)n) != 0 ||
			    write_all(i == 0 ? ufd : cfd, buf, (size_t)n) != 0)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un la, ua;
	struct sigaction sa;
	char path[4096];
	int lfd, log_c2s, log_s2c;

	if (argc != 4 || unix_addr(argv[1], &la) != 0 || unix_addr(argv[2], &ua) != 0) {
		fprintf(stderr, "usage: sc-sockrec LISTEN UPSTREAM LOG\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s.c2s", argv[3]);
	log_c2s = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	snprintf(path, sizeof(path), "%s.s2c", argv[3]);
	log_s2c = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(argv[1]);
	if (log_c2s < 0 || log_s2c < 0 || lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&la, sizeof(la)) != 0 || listen(lfd, 16) != 0) {
		fprintf(stderr, "sc-sockrec: %s: %s\n", argv[1], strerror(errno));
		return 3;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!stop) {
		int cfd = accept(lfd, NULL, NULL), ufd;

		if (cfd < 0)
			continue;
		ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (ufd >= 0 && connect(ufd, (struct sockaddr *)&ua, sizeof(ua)) == 0)
			relay(cfd, ufd, log_c2s, log_s2c);
		else
			fprintf(stderr, "sc-sockrec: %s: %s\n", argv[2], strerror(errno));
		if (ufd >= 0)
			close(ufd);
		close(cfd);
	}
	unlink(argv[1]);
	close(lfd);
	fsync(log_c2s);
	fsync(log_s2c);
	return 0;
}
