/*
 * main.c — selfcert-spd: harden the process, open the sealed store, bind the socket, drop to
 * the configured user, enter the seccomp sandbox (sandbox.h), and serve the SP protocol on a
 * Unix socket to several clients at once (one thread, poll, non-blocking sockets, bounded
 * per-client buffers, timeouts). `--init` creates a store for `selfcert sp init`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "sandbox.h"
#include "spd.h"
#include "sp_wire.h"
#include "store.h"

/*
 * Connections served at once. Well above the clients a device runs (agent, PKCS#11 users,
 * CLI), so that a few stalled or hostile peers, each cut off by the timeouts below, cannot
 * keep well-behaved ones waiting in the backlog. Each costs at most two SC_SP_MAX_MSG buffers.
 */
#define SPD_MAX_CLIENTS 128
#define SPD_LISTEN_BACKLOG 64
#define SPD_ACCEPT_BURST 16          /* connections accepted per poll round */
#define SPD_MAX_ALLOW 16
#define SPD_MSG_TIMEOUT_MS 10000     /* a started message or a pending answer must move on */
#define SPD_IDLE_TIMEOUT_MS 60000    /* a connection with nothing in flight */

struct client {
	int fd;
	unsigned long uid;
	uint8_t hdr[SC_WIRE_HDR_LEN];
	size_t hdr_got;
	uint8_t *msg;                /* the request being read, msg_len bytes once the header is in */
	size_t msg_len, msg_got;
	uint8_t *out;                /* the answer being written, with its length prefix */
	size_t out_len, out_off;
	int closing;                 /* hang up once the answer is out */
	int64_t deadline;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
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

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: selfcert-spd --store DIR --socket PATH [--foreground] [--allow-uid UID ...]\n"
	    "                    [--user NAME] [--insecure-no-sandbox]\n"
	    "       selfcert-spd --init --store DIR --device-id ID\n"
	    "       selfcert-spd --list-requests\n"
	    "Serves the secure-processor protocol on PATH (0660) until SIGTERM or SIGINT.\n"
	    "Always runs in the foreground (--foreground is accepted for scripts); logs one line\n"
	    "per request to stderr. Peers must run as one of the --allow-uid users (default: the\n"
	    "serving uid and root).\n"
	    "  --user NAME            started as root: bind the socket and open the store, then run\n"
	    "                         as NAME (its uid, gid, no other groups). DIR must be writable\n"
	    "                         by NAME (chown -R NAME DIR); PATH is given to NAME.\n"
	    "  --insecure-no-sandbox  serve without seccomp and Landlock (for valgrind and debugging\n"
	    "                         only; builds with AddressSanitizer never sandbox)\n"
	    "  --list-requests        print every request type this SP answers, one per line\n");
}

static int fail(sc_err r)
{
	fprintf(stderr, "selfcert-spd: %s: %s\n", sc_err_name(r), sc_err_detail());
	return 1;
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
				fprintf(stderr, "selfcert-spd: uid %lu: -: %s: %s\n", c->uid,
				    sc_err_name(r), sc_err_detail());
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
	fprintf(stderr, "selfcert-spd: uid %lu: -: denied\n", c->uid);
	client_refuse(c, SC_ERR_DENIED, "this user may not use the secure processor");
refused:
	/* A refused peer is only ever written to; if even the answer failed, it goes now. */
	if (c->out_len == 0)
		client_free(c);
	return 1;
}

/* Bind the socket; a stale socket is replaced, a live one or any other file is not. */
static sc_err listen_on(const char *path, int *out)
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

static int serve(struct spd *spd, int lfd, const unsigned long *allow, size_t n_allow)
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
				fprintf(stderr, "selfcert-spd: uid %lu: -: timeout, disconnected\n", c->uid);
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
			fprintf(stderr, "selfcert-spd: poll: %s\n", strerror(errno));
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

/*
 * --list-requests: every message type the dispatch table answers, found by asking it. An
 * empty-bodied request to a scratch SP (empty state, no store, no log) is refused with
 * unknown-request exactly when its type is not in the table; no handler can act, because
 * none has a body to act on and there is no store to commit to.
 */
static int list_requests(void)
{
	struct spd *spd;
	unsigned t;

	if ((spd = calloc(1, sizeof(*spd))) == NULL) {
		fprintf(stderr, "selfcert-spd: nomem: state\n");
		return 1;
	}
	spd_state_init(&spd->st, NULL);
	for (t = 0; t <= 0xff; t++) {
		uint8_t msg[SC_WIRE_MIN_MSG] = { SC_SP_PROTO_VERSION, (uint8_t)t };
		struct sc_buf ans;

		if (spd_dispatch(spd, msg, sizeof(msg), &ans) != SC_ERR_UNKNOWN_REQUEST)
			printf("0x%02x %s\n", t, sc_wire_msg_name((int)t));
		sc_buf_free(&ans);
	}
	spd_state_clear(&spd->st);
	OPENSSL_cleanse(spd, sizeof(*spd));
	free(spd);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* The folder that holds path, opened for Landlock's rule (O_PATH: no access is needed). */
static int open_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Least privilege once the store is open and the socket bound: the configured user, then
 * Landlock and the seccomp allowlist. Fails closed: a sandbox that cannot be entered means no
 * serving, unless the operator asked for none (or the build cannot have one, which is said
 * loudly). *how says what is in force, for the start-up line.
 */
static sc_err confine(const char *store_dir, int store_dirfd, const char *sock_path,
    const struct spd_user *user, int no_sandbox, char *how, size_t how_len)
{
	sc_err r = SC_ERR_INTERNAL;
	const char *why;
	int sock_dirfd, abi = 0;

	/* Opened while still root: the user need not be able to reach it. */
	if ((sock_dirfd = open_parent(sock_path)) < 0)
		return sc_fail(SC_ERR_IO, "%s: its folder: %s", sock_path, strerror(errno));
	if (user != NULL) {
		/* Its own socket: the user (and its group) reach it, the allow list decides. */
		if (chown(sock_path, user->uid, user->gid) != 0) {
			r = sc_fail(SC_ERR_IO, "%s: chown to %s: %s", sock_path, user->name,
			    strerror(errno));
			goto out;
		}
		if ((r = spd_drop_privileges(user)) != SC_OK)
			goto out;
		/* Every commit writes a temp file into DIR and renames it over the store. */
		if (access(store_dir, R_OK | W_OK | X_OK) != 0) {
			r = sc_fail(SC_ERR_IO, "%s: not writable by user %s (chown -R %s %s): %s",
			    store_dir, user->name, user->name, store_dir, strerror(errno));
			goto out;
		}
	}
	if ((why = spd_sandbox_unavailable()) != NULL || no_sandbox) {
		if (why != NULL)
			fprintf(stderr, "selfcert-spd: warning: sandbox off: %s; never deploy this "
			    "build\n", why);
		else
			fprintf(stderr, "selfcert-spd: warning: sandbox off (--insecure-no-sandbox)\n");
		snprintf(how, how_len, "sandbox off");
		r = SC_OK;
		goto out;
	}
	if ((r = spd_sandbox_enter(store_dirfd, sock_dirfd, &abi)) != SC_OK)
		goto out;
	if (abi > 0)
		snprintf(how, how_len, "sandbox: seccomp, landlock ABI %d", abi);
	else
		snprintf(how, how_len, "sandbox: seccomp (no landlock in this kernel)");
	r = SC_OK;
out:
	close(sock_dirfd);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "allow-uid", required_argument, NULL, 'u' },
		{ "init", no_argument, NULL, 'i' },
		{ "device-id", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "insecure-no-sandbox", no_argument, NULL, 'N' },
		{ "list-requests", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_dir = NULL, *sock_path = NULL, *device_id = NULL, *user_name = NULL;
	unsigned long allow[SPD_MAX_ALLOW];
	size_t n_allow = 0, heap_used, heap_size;
	unsigned long serving_uid;
	char how[64];
	struct spd_user user;
	struct spd *spd = NULL;
	struct sigaction sa;
	int init = 0, list = 0, no_sandbox = 0, opt, lfd = -1, dirfd = -1, rc = 1;
	sc_err r;

	/* Before OpenSSL allocates anything: its freed blocks may hold key bytes (sandbox.h). */
	if (spd_wipe_freed_memory() != 1)
		fprintf(stderr, "selfcert-spd: warning: freed memory is not wiped\n");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': store_dir = optarg; break;
		case 'S': sock_path = optarg; break;
		case 'f': break; /* always in the foreground */
		case 'i': init = 1; break;
		case 'd': device_id = optarg; break;
		case 'U': user_name = optarg; break;
		case 'N': no_sandbox = 1; break;
		case 'L': list = 1; break;
		case 'u': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
			    v > UINT32_MAX - 1 || n_allow >= SPD_MAX_ALLOW) {
				fprintf(stderr, "selfcert-spd: usage: --allow-uid %s: not a uid (at most %d)\n",
				    optarg, SPD_MAX_ALLOW);
				return 2;
			}
			allow[n_allow++] = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (list) {
		if (optind != argc || argc != 2) {
			usage(stderr);
			return 2;
		}
		return list_requests();
	}
	if (optind != argc || store_dir == NULL || (init ? device_id == NULL || sock_path != NULL ||
	    user_name != NULL || no_sandbox : sock_path == NULL || device_id != NULL)) {
		usage(stderr);
		return 2;
	}
	spd_harden_process();
	if (init) {
		if ((r = spd_store_create(store_dir, device_id)) != SC_OK) {
			fprintf(stderr, "selfcert-spd: %s: %s\n", sc_err_name(r), sc_err_detail());
			return sc_err_exit_code(r);
		}
		return 0;
	}
	/* Resolved now, while the user database can still be read, so a typo fails at once. */
	if (user_name != NULL && (r = spd_user_lookup(user_name, &user)) != SC_OK) {
		fprintf(stderr, "selfcert-spd: %s: %s\n", sc_err_name(r), sc_err_detail());
		return sc_err_exit_code(r);
	}
	if (n_allow == 0) {
		/* The serving uid: the --user's once root has been dropped. */
		allow[n_allow++] = user_name != NULL ? (unsigned long)user.uid : (unsigned long)getuid();
		allow[n_allow++] = 0;
	}

	/* One daemon per store: two would overwrite each other's commits. */
	dirfd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "selfcert-spd: io: %s: %s\n", store_dir, strerror(errno));
		return 1;
	}
	if (flock(dirfd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "selfcert-spd: exists: %s: another selfcert-spd uses this store\n",
		    store_dir);
		goto out;
	}
	if ((spd = calloc(1, sizeof(*spd))) == NULL) {
		fprintf(stderr, "selfcert-spd: nomem: state\n");
		goto out;
	}
	spd->log = 1;
	if ((r = spd_store_open(store_dir, &spd->store, &spd->st)) != SC_OK) {
		rc = fail(r);
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((r = listen_on(sock_path, &lfd)) != SC_OK) {
		rc = fail(r);
		goto out;
	}
	serving_uid = user_name != NULL ? (unsigned long)user.uid : (unsigned long)getuid();
	if ((r = confine(store_dir, dirfd, sock_path, user_name != NULL ? &user : NULL, no_sandbox,
	    how, sizeof(how))) != SC_OK) {
		rc = fail(r);
		unlink(sock_path);
		goto out;
	}
	spd_secure_heap_usage(&heap_used, &heap_size);
	fprintf(stderr, "selfcert-spd: serving %s (device %s, state %s, %zu keys) on %s as uid %lu"
	    "; %s; secure heap %zu of %zu bytes in use\n", store_dir, spd->st.device_id,
	    sc_sp_state_name(spd->st.state), spd->st.n_slots, sock_path, serving_uid, how,
	    heap_used, heap_size);
	rc = serve(spd, lfd, allow, n_allow);
	unlink(sock_path);
	fprintf(stderr, "selfcert-spd: stopped\n");
out:
	if (lfd >= 0)
		close(lfd);
	if (spd != NULL) {
		spd_state_clear(&spd->st);
		spd_store_close(spd->store);
		OPENSSL_cleanse(spd, sizeof(*spd));
		free(spd);
	}
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
