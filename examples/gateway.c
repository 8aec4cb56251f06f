// SPDX-License-Identifier: Apache-2.0
/*
 * gateway.c — a relying party in one file: a small OpenSSL TLS server on the loopback that
 * requires a client certificate and admits the client only if sc_verify_chain() accepts it
 * (path to the manufacturer root, the issuance extension, an allowed network ID). It logs each
 * decision with its reason and echoes what an admitted client sends.
 *
 *   selfcert-gateway --cert SERVER.pem --key SERVER.key --mfr-root ROOT.pem
 *       [--network-id ID …] [--port N] [--at TIME] [--max-connections N]
 *       [--revoked LIST.json --net-root NETROOT.pem]
 * With --revoked, the network's signed revocation list (selfcert/revoked.h) is read again
 * whenever the file changes (a `net revoked fetch` timer replaces it), and a device on it is
 * refused; a list that does not verify or is stale refuses every client (fail closed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <selfcert/revoked.h>
#include <selfcert/verify.h>
#include "file.h"
#include "pem.h"
#include "text.h"

#define GW_MAX_NETWORKS 8
#define GW_IO_TIMEOUT_S 10 /* a client that stalls is dropped, never waited on forever */
#define GW_ECHO_MAX 16384  /* at most this much is echoed per connection */

struct gateway {
	X509 *mfr_root;
	const char *networks[GW_MAX_NETWORKS + 1]; /* NULL-terminated; none given: any network */
	size_t n_networks;
	time_t at;                /* 0: now */
	const char *revoked_path; /* --revoked, or NULL */
	X509 *net_root;           /* --net-root: the list's anchor */
	struct sc_revoked *revoked;
	sc_err revoked_err; /* the last load's result: not SC_OK refuses everyone */
	char revoked_detail[256];
	struct timespec revoked_mtime;
	off_t revoked_size;
};

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read the list again if its file changed (or it never loaded, or it may have gone stale). */
static void refresh_revoked(struct gateway *gw)
{
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	struct sc_revoked *l = NULL;
	sc_err r;

	if (gw->revoked_path == NULL)
		return;
	if (stat(gw->revoked_path, &st) == 0 && gw->revoked != NULL &&
	    st.st_mtim.tv_sec == gw->revoked_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == gw->revoked_mtime.tv_nsec && st.st_size == gw->revoked_size &&
	    time(NULL) <= gw->revoked->next_update)
		return;
	sc_err_clear();
	if ((r = sc_file_read(gw->revoked_path, SC_REVOKED_MAX, &data, &len)) == SC_OK)
		r = sc_revoked_decode(data, len, gw->revoked_path, gw->net_root,
		    (int64_t)time(NULL), &l);
	OPENSSL_free(data);
	sc_revoked_free(gw->revoked);
	gw->revoked = l;
	gw->revoked_err = r;
	snprintf(gw->revoked_detail, sizeof(gw->revoked_detail), "%s", sc_err_detail());
	gw->revoked_mtime = st.st_mtim;
	gw->revoked_size = st.st_size;
	if (r == SC_OK)
		log_line("revocation list: network %s, sequence %llu, %zu device(s)", l->network_id,
		    (unsigned long long)l->sequence, l->n);
	else
		log_line("revocation list unusable, refusing every client: %s: %s", sc_err_name(r),
		    gw->revoked_detail);
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("selfcert-gateway: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The subject as one RFC 2253 line (for the log). */
static void subject_of(X509 *cert, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (b != NULL &&
	    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

/*
 * Replaces OpenSSL's own chain check for client certificates: the peer's chain goes to
 * sc_verify_chain, which runs stock path validation to the manufacturer root (name
 * constraints included) and then our binding checks. 1 admits, 0 fails the handshake.
 */
static int verify_client(X509_STORE_CTX *ctx, void *arg)
{
	const struct gateway *gw = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(ctx), *chain = NULL;
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	char subject[512] = "(none)";
	sc_err r;
	int i;

	if (leaf == NULL) {
		log_line("refused a client without a certificate");
		return 0;
	}
	subject_of(leaf, subject, sizeof(subject));
	if ((chain = sk_X509_new_null()) == NULL)
		return 0;
	/* What the client sent above its leaf (OpenSSL lists the leaf too). */
	for (i = 0; i < sk_X509_num(sent); i++)
		if (X509_cmp(sk_X509_value(sent, i), leaf) != 0 &&
		    !sk_X509_push(chain, sk_X509_value(sent, i))) {
			sk_X509_free(chain);
			return 0;
		}
	if (gw->revoked_path != NULL && gw->revoked_err != SC_OK) {
		log_line("refused %s: %s: the revocation list: %s", subject,
		    sc_err_name(gw->revoked_err), gw->revoked_detail);
		sk_X509_free(chain);
		X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	memset(&opts, 0, sizeof(opts));
	opts.revoked = gw->revoked;
	opts.mfr_root = gw->mfr_root;
	opts.chain = chain;
	opts.at = gw->at;
	opts.allowed_networks = gw->n_networks > 0 ? gw->networks : NULL;
	sc_err_clear();
	r = sc_verify_chain(leaf, &opts, &res);
	sk_X509_free(chain);
	if (r != SC_OK) {
		log_line("refused %s: %s: %s", subject, sc_err_name(r), sc_err_detail());
		X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	log_line("admitted %s (device %s, network %s)", subject, res.device_id, res.network_id);
	return 1;
}

/* Echo what the client sends until it closes, stalls, or has sent GW_ECHO_MAX bytes. */
static void serve(SSL *ssl)
{
	char buf[1024];
	size_t total = 0;
	int n;

	while (total < GW_ECHO_MAX && (n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (SSL_write(ssl, buf, n) != n)
			break;
	}
	SSL_shutdown(ssl);
}

static int listen_loopback(int port, int *out_port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never anything but the loopback */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	*out_port = ntohs(sa.sin_port);
	return fd;
}

static const char usage[] =
    "usage: selfcert-gateway --cert SERVER.pem --key SERVER.key --mfr-root ROOT.pem\n"
    "           [--network-id ID …] [--port N] [--at TIME] [--max-connections N]\n"
    "           [--revoked LIST.json --net-root NETROOT.pem]\n"
    "  A TLS server on 127.0.0.1 (port 0: any free one; the port is printed) that requires a\n"
    "  client certificate and admits it only if sc_verify_chain() accepts it: path to ROOT, the\n"
    "  issuance extension, a network among --network-id (any if none). --at TIME judges validity\n"
    "  at TIME (RFC 3339) instead of now. Echoes what admitted clients send; logs every decision.\n"
    "  --revoked: the network's signed revocation list, re-read when the file changes; a device\n"
    "  on it is refused, and every client while the list is stale or does not verify.\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "mfr-root", required_argument, NULL, 'r' },
		{ "network-id", required_argument, NULL, 'n' },
		{ "port", required_argument, NULL, 'p' },
		{ "at", required_argument, NULL, 'a' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "revoked", required_argument, NULL, 'R' },
		{ "net-root", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cert = NULL, *key = NULL, *root = NULL, *net_root = NULL;
	struct gateway gw;
	SSL_CTX *ctx = NULL;
	STACK_OF(X509_NAME) *cas = NULL;
	struct timeval tv = { GW_IO_TIMEOUT_S, 0 };
	long port = 0, max_conns = 0, served = 0;
	int c, lfd = -1, rc = 3, actual_port = 0;
	char *end;

	memset(&gw, 0, sizeof(gw));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'r': root = optarg; break;
		case 'n':
			if (gw.n_networks == GW_MAX_NETWORKS) {
				fprintf(stderr,
				    "selfcert-gateway: usage: at most %d --network-id\n",
				    GW_MAX_NETWORKS);
				return 2;
			}
			gw.networks[gw.n_networks++] = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 0 || port > 65535) {
				fprintf(stderr, "selfcert-gateway: usage: --port '%s': 0..65535\n",
				    optarg);
				return 2;
			}
			break;
		case 'a':
			if (sc_parse_time(optarg, &gw.at) != SC_OK) {
				fprintf(stderr, "selfcert-gateway: usage: --at: %s\n",
				    sc_err_detail());
				return 2;
			}
			break;
		case 'm':
			max_conns = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || max_conns < 0 ||
			    max_conns > 1000000) {
				fprintf(stderr, "selfcert-gateway: usage: --max-connections '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'R': gw.revoked_path = optarg; break;
		case 'N': net_root = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (cert == NULL || key == NULL || root == NULL || optind != argc ||
	    (gw.revoked_path != NULL) != (net_root != NULL)) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (sc_load_cert(root, &gw.mfr_root) != SC_OK) {
		fprintf(stderr, "selfcert-gateway: %s: %s\n", sc_err_name(SC_ERR_IO),
		    sc_err_detail());
		return 3;
	}
	if (net_root != NULL && sc_load_cert(net_root, &gw.net_root) != SC_OK) {
		fprintf(stderr, "selfcert-gateway: io: %s\n", sc_err_detail());
		goto out;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		fprintf(stderr, "selfcert-gateway: the server certificate or key does not load\n");
		ERR_print_errors_fp(stderr);
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, verify_client, &gw);
	/* Tell clients which root we trust, so they pick the right certificate. */
	if ((cas = sk_X509_NAME_new_null()) == NULL ||
	    !sk_X509_NAME_push(cas, X509_NAME_dup(X509_get_subject_name(gw.mfr_root))))
		goto out;
	SSL_CTX_set_client_CA_list(ctx, cas);
	if ((lfd = listen_loopback((int)port, &actual_port)) < 0) {
		fprintf(stderr, "selfcert-gateway: io: cannot listen on 127.0.0.1:%ld: %s\n", port,
		    strerror(errno));
		goto out;
	}
	printf("selfcert-gateway: listening on 127.0.0.1:%d\n", actual_port);
	fflush(stdout);
	while (max_conns == 0 || served < max_conns) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		SSL *ssl;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "selfcert-gateway: io: accept: %s\n", strerror(errno));
			goto out;
		}
		served++;
		refresh_revoked(&gw);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if ((ssl = SSL_new(ctx)) != NULL && SSL_set_fd(ssl, fd) == 1) {
			if (SSL_accept(ssl) == 1)
				serve(ssl);
			else
				log_line("handshake failed");
		}
		ERR_clear_error();
		SSL_free(ssl);
		close(fd);
	}
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	SSL_CTX_free(ctx);
	X509_free(gw.mfr_root);
	X509_free(gw.net_root);
	sc_revoked_free(gw.revoked);
	return rc;
}
