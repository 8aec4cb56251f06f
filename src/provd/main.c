// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — selfcert-provd: flags, the registry connection pool and the HTTP(S) layer on
 * libmicrohttpd. HTTP here means only bounding and collecting a request (body size, content
 * length, connection count overall and per address, the idle timeout and the request deadline)
 * and sending the API's answer; everything else is the API (api.h, routes.c).
 * Serves until SIGTERM or SIGINT (SIGHUP: provd_reload); one log line per request on stderr, every line through log.h
 * (so a URL or a detail from a client is escaped, never a line of its own).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <selfcert/version.h>
#include "api.h"
#include "batcher.h"
#include "daemon.h"
#include "file.h"
#include "keyopen.h"
#include "leafrefs.h"
#include "conf.h"
#include "log.h"
#include "tls.h"
#include "pem.h"
#include "proxy.h"
#include "respond.h"
#include "text.h"

/*
 * Worker threads when --threads is not given. A worker waits in its request's registry commit
 * (the group commit's fsync) holding the connections MHD gave it: on a local SQLite file those
 * waits, not the CPU, bounded 32 keep-alive clients (PERFORMANCE.md §14), and each worker costs
 * one in-process connection. MHD's pool binds a connection to the worker that accepted it, and
 * the workers accept unevenly (at 16 workers and 32 kept clients one worker held 9 or 12 of
 * them, each request on it queued behind the others' commits; PERFORMANCE.md 20.4): 32 leaves
 * most connections a worker of their own, and a group commit holds more. On a
 * database server each worker is a server connection out of a budget all nodes share
 * (OPERATIONS.md), so a libpq URI keeps the old default.
 */
#define PROVD_DEFAULT_THREADS 32
#define PROVD_DEFAULT_THREADS_SERVER_DB 4
#define PROVD_MAX_THREADS 64
#define PROVD_DEFAULT_CONNECTIONS 256
#define PROVD_DEFAULT_TIMEOUT_S 30
/* One address may hold this many of the connections (a NAT of many devices needs more). */
#define PROVD_DEFAULT_PER_IP 32
/*
 * A request's headers and body must be in this long after it began (1.6 KB/s for 64 KiB). On a
 * kept-alive connection the clock starts when the previous answer ends, so the default is longer
 * than the idle --timeout: an idle connection is closed cleanly by the idle timeout first, never
 * cut under a client (curl, the agent) that reuses it after a pause.
 */
#define PROVD_DEFAULT_DEADLINE_S 40
/* Past the deadline, how long an answered 408 has to leave before the connection is cut. */
#define PROVD_DEADLINE_GRACE_MS 1000
#define PROVD_WATCHDOG_TICK_MS 200
#define PROVD_CONN_MEMORY (32 * 1024) /* per connection: request line and headers */
/* Read and drop this much of an oversize body, then hang up. */
#define PROVD_DISCARD_MAX (16 * PROVD_MAX_BODY)
#define PROVD_TLS_FILE_MAX (64 * 1024)
/*
 * TLS 1.3 and 1.2. %NO_TICKETS_TLS12 (session 12's review): a TLS 1.2 ticket is the session's
 * master secret under the ticket key, and a resumed 1.2 session makes no new key exchange, so
 * whoever later read the ticket key from memory could decrypt every recorded 1.2 connection
 * that got one. TLS 1.3 tickets keep an X25519 exchange on resumption (psk_dhe_ke; NORMAL has no
 * plain-PSK exchange, so provd never resumes without one). -RSA (session 13's review): NORMAL
 * keeps TLS 1.2's static RSA key exchange, which a server with an RSA certificate (net
 * server-cert --alg rsa2048) would agree to: no forward secrecy. ECDHE-RSA stays.
 */
#define PROVD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:%NO_TICKETS_TLS12"

static const char usage_text[] =
    "usage: selfcert-provd --db LOCATION --net-dir NETDIR --mfr-root ROOT.pem --listen ADDR:PORT\n"
    "         (--tls-cert PEM --tls-key PEM | --insecure-http)\n"
    "         [--policy FILE] [--validity DUR] [--profile-ttl DUR] [--rate-limit N/DUR]\n"
    "         [--allow-server-keygen] [--admin-token-file FILE] [--operators FILE]\n"
    "         [--threads N]\n"
    "         [--max-connections N] [--max-per-ip N] [--timeout SECONDS]\n"
    "         [--request-deadline SECONDS] [--port-file FILE]\n"
    "         [--keygen-threads N] [--keygen-queue N] [--unauthenticated-budget N]\n"
    "         [--signer-key KEY] [--trusted-proxy CIDR …] [--no-registry-gauges]\n"
    "         [--mfr-crl FILE …] [--profile-batch N [--profile-batch-wait MS]]\n"
    "         [--profile-commit durable|deferred] [--leaf-refs N]\n"
    "The provisioning server (docs/API.md). Signs profiles with NETDIR/signer.key for devices in "
    "the\n"
    "registry at LOCATION (a file, made if missing; `selfcert net device` fills it), whose\n"
    "device CA chains to ROOT.pem; verifies and records the certificates they return.\n"
    "  --listen ADDR:PORT     127.0.0.1:8443, [::1]:8443; port 0 picks a free one (see "
    "--port-file)\n"
    "  --tls-cert/--tls-key   the server's certificate and key (selfcert net server-cert makes "
    "them)\n"
    "  --insecure-http        plain HTTP, only on a loopback address (tests)\n"
    "  --policy FILE          JSON policy (docs/API.md); flags below override it\n"
    "  --validity DUR         leaf lifetime (default 24h)\n"
    "  --profile-ttl DUR      how long a profile stays usable (default 10m)\n"
    "  --rate-limit N/DUR     profiles per device per window (default 10/1h; 0/1h: none),\n"
    "                         counting only requests with the device SP's proof\n"
    "  --unauthenticated-budget N  profiles per client address per hour for requests\n"
    "                         without a proof, which never count for the device (default 10;\n"
    "                         0: refuse them, proof-required)\n"
    "  --allow-server-keygen  allow the server-generated-key embodiment (default off)\n"
    "  --admin-token-file F   a bearer token for the operator endpoints, as operator \"admin\"\n"
    "  --operators FILE       named operators' token hashes (selfcert net operator add); re-read\n"
    "                         when it changes. Operator endpoints are off without either\n"
    "  --threads N            worker threads, each with its own registry connection (default\n"
    "                         32 on a SQLite file, 4 on PostgreSQL: each a server connection)\n"
    "  --keygen-threads N     threads making server keys, off the workers (default 1)\n"
    "  --keygen-queue N       server keys waiting for one of them; more: 503 (default 4)\n"
    "  --max-connections N    concurrent connections (default 256)\n"
    "  --max-per-ip N         concurrent connections per client address (default 32; 0: none)\n"
    "  --timeout SECONDS      idle connection timeout (default 30)\n"
    "  --request-deadline S   a request's headers and body must arrive within S seconds of its\n"
    "                         start, however steadily they trickle (default 40; 0: none)\n"
    "  --port-file FILE       write the bound port there once listening\n"
    "  --trusted-proxy CIDR   a reverse proxy (10.0.0.0/8, 2001:db8::1): from these peers only,\n"
    "                         the client is X-Forwarded-For's rightmost untrusted address (audit\n"
    "                         actor, logs); repeatable. --max-per-ip then counts requests in\n"
    "                         flight per client address (the forwarded one), not TCP peers.\n";
/* The rest of the usage: ISO C bounds one string literal (4095 bytes) under -Werror. */
static const char usage_text2[] =
    "  --db LOCATION          a file (SQLite) or a libpq URI (postgresql://HOST/DB,\n"
    "                         postgresql:///DB?host=/run/postgresql): several nodes may share\n"
    "                         one PostgreSQL registry. Never a password in it (PGPASSFILE).\n"
    "  --no-registry-gauges   /metrics without the registry's gauges (devices, profiles,\n"
    "                         certificates): with several nodes, let one node serve them\n"
    "  --signer-key KEY       the profile signer's key: a PEM file or a pkcs11: URI (RFC 7512,\n"
    "                         PIN only from ?pin-source=file:PATH); default NETDIR/signer.key.\n"
    "                         NETDIR needs root.pem and signer.pem; never the root's key\n"
    "  --mfr-crl FILE         the manufacturer's CRLs (PEM; `selfcert mfr revoke` writes\n"
    "                         ca.crl and root.crl), served first in GET /v1/crls; repeatable\n"
    "  --profile-batch N      sign the profiles of up to N concurrent requests that ask for a\n"
    "                         batch (\"batch\": true, an SP with BATCH_ISSUE) under one Merkle\n"
    "                         root (#17; 2..4096; default: each signed alone)\n"
    "  --profile-batch-wait MS  a fixed window: a wave's first request waits up to MS for\n"
    "                         others, holding up its worker thread (default 0: only for the\n"
    "                         requests already being checked, and while the wave before is signed)\n"
    "  --profile-commit deferred  a profile's registry commit is not synced on its own: the\n"
    "                         device's certificate registration syncs it (one sync per first\n"
    "                         enrollment, not two); a power loss can lose profiles answered\n"
    "                         since the last sync (default durable; docs/API.md)\n"
    "  --leaf-refs N          renewal profiles whose later certificates are judged against their\n"
    "                         first in memory (#17; 16..1000000, default 8192, rounded up to a\n"
    "                         multiple of 16; ~2.5 KiB each while kept): a fleet's daily\n"
    "                         renewals cost one signature check each while their profile is\n"
    "                         kept, a full check when it is not\n"
    "  --config FILE          key = value settings, keys the long flags (selfcert.conf(5));\n"
    "                         flags on the command line win\n"
    "  --version              print the version and exit\n"
    "SIGHUP re-reads the configuration, policy, admin token, TLS and --mfr-crl files: all load, or nothing changes.\n";

/* "selfcert-provd: <name>: <detail>" (the message when there is no detail); the exit code. */
static int fail(sc_err r)
{
	if (*sc_err_detail() != '\0')
		sc_log_failure(r);
	else
		sc_log_err(r, "%s", sc_err_message(r));
	ERR_clear_error();
	return sc_err_exit_code(r);
}

/* ---- the registry pool: one connection per worker, borrowed for one request ---- */

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct sc_reg *conns[PROVD_MAX_THREADS];
	int busy[PROVD_MAX_THREADS];
	int n;
};

static struct sc_reg *pool_take(struct pool *p, int *slot)
{
	struct sc_reg *reg = NULL;

	pthread_mutex_lock(&p->lock);
	while (reg == NULL) {
		for (int i = 0; i < p->n; i++)
			if (!p->busy[i]) {
				p->busy[i] = 1;
				*slot = i;
				reg = p->conns[i];
				break;
			}
		if (reg == NULL)
			pthread_cond_wait(&p->freed, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return reg;
}

static void pool_give(struct pool *p, int slot)
{
	pthread_mutex_lock(&p->lock);
	p->busy[slot] = 0;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

/* ---- the server ---- */

/*
 * One connection, for the request deadline: when its current request began (the accept, or the
 * end of the previous answer on a kept-alive connection) and whether it is still being read.
 * Linked in the server's list from MHD's "started" to its "closed" notification, under conns_lock,
 * which the watchdog holds while it cuts one (so the socket it shuts down is still this one's).
 */
struct conn_track {
	struct conn_track *prev, *next;
	struct timespec start;
	int fd;
	int reading;           /* 0 once the request is in and being answered */
	int handshake_counted; /* its TLS handshake is in the metrics (its own thread's, no lock) */
	struct provd_tls_out *out; /* its answers' head and body in one send (tls.h); NULL: none */
	char peer[64];
};

struct server {
	struct provd_api api;
	struct pool pool;
	long deadline_s; /* --request-deadline; 0: none */
	pthread_mutex_t conns_lock;
	pthread_cond_t stop_cond;
	struct conn_track *conns;
	int stopping;
	int watchdog_running;
	pthread_t watchdog;
	const struct provd_proxies *proxies; /* --trusted-proxy (may be empty) */
	/*
	 * With --trusted-proxy, --max-per-ip counts requests in flight per client address here
	 * (the forwarded one behind a proxy), not connections per TCP peer in libmicrohttpd, which
	 * would count the proxy. 0: no limit.
	 */
	long per_client;
	pthread_mutex_t clients_lock;
	struct client_slot *clients; /* CLIENT_SLOTS of them, or NULL */
	char reg_desc[320];          /* the registry, for the start log */
};

#define CLIENT_SLOTS 4096 /* addresses tracked at once; past that a client is not limited */
#define CLIENT_PROBES 16

struct client_slot {
	char addr[PROVD_ADDR_STR_MAX];
	unsigned long n; /* requests in flight; 0: free */
};

/* One request in progress: its body so far. */
struct request_state {
	uint8_t *body;
	size_t len, cap;
	size_t discarded; /* bytes dropped past PROVD_MAX_BODY */
	int too_large;
	int answered; /* an early answer (413 on Content-Length) was queued */
	struct timespec t0;
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- the request deadline ---- */

static void peer_name(struct MHD_Connection *c, char *out, size_t out_len);

static struct conn_track *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

/* The connection's request is in (reading 0) or done and a next one may begin (reading 1). */
static void conn_mark(struct server *srv, struct MHD_Connection *c, int reading)
{
	struct conn_track *t = conn_of(c);

	if (t == NULL)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	t->reading = reading;
	if (reading)
		clock_gettime(CLOCK_MONOTONIC, &t->start);
	pthread_mutex_unlock(&srv->conns_lock);
}

/* 1 if the request on c has been coming in for longer than the deadline. */
static int conn_overdue(struct server *srv, struct MHD_Connection *c)
{
	struct conn_track *t = conn_of(c);
	int late;

	if (t == NULL || srv->deadline_s == 0)
		return 0;
	pthread_mutex_lock(&srv->conns_lock);
	late = since(&t->start) >= (double)srv->deadline_s;
	pthread_mutex_unlock(&srv->conns_lock);
	return late;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct server *srv = cls;
	struct conn_track *t = *socket_context;
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t tls = NULL;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		provd_metrics_connection(srv->api.metrics);
		/* Its GnuTLS session exists before the handshake starts, here (tls.h). */
		if ((ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION)) != NULL) {
			tls = (gnutls_session_t)ci->tls_session;
			provd_tls_session_start(tls);
		}
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		/* Without its record a connection has only the idle timeout: never refuse for that. */
		if (ci == NULL || (t = calloc(1, sizeof(*t))) == NULL)
			return;
		t->fd = ci->connect_fd;
		t->out = provd_tls_out_start(tls, t->fd);
		peer_name(c, t->peer, sizeof(t->peer));
		t->reading = 1;
		clock_gettime(CLOCK_MONOTONIC, &t->start);
		pthread_mutex_lock(&srv->conns_lock);
		t->next = srv->conns;
		if (srv->conns != NULL)
			srv->conns->prev = t;
		srv->conns = t;
		pthread_mutex_unlock(&srv->conns_lock);
		*socket_context = t;
		return;
	}
	if (t == NULL)
		return;
	/* MHD closes the socket after this notification: the watchdog cannot touch a reused fd. */
	pthread_mutex_lock(&srv->conns_lock);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		srv->conns = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	pthread_mutex_unlock(&srv->conns_lock);
	/* MHD has deinitialised the session already: nothing pushes through it any more. */
	provd_tls_out_free(t->out);
	free(t);
	*socket_context = NULL;
}

/*
 * MHD's timeout is an idle one: a client trickling a byte a second keeps a connection forever,
 * and MHD calls us only once the headers are in. So a thread looks at every connection a few
 * times a second and cuts (shutdown: MHD then sees the end and closes it) each whose request is
 * still coming in past the deadline and its grace. A request whose headers or body end within
 * the grace gets the JSON 408 from on_request instead (MHD takes no answer mid-body).
 */
static void *watchdog(void *arg)
{
	struct server *srv = arg;
	double limit = (double)srv->deadline_s + PROVD_DEADLINE_GRACE_MS / 1e3;
	struct timespec wake;

	pthread_mutex_lock(&srv->conns_lock);
	while (!srv->stopping) {
		for (struct conn_track *t = srv->conns; t != NULL; t = t->next)
			if (t->reading && t->fd >= 0 && since(&t->start) >= limit) {
				/* The line first: whoever sees the hang-up finds it logged. */
				sc_log("%s: connection cut: request not in within %lds", t->peer,
				    srv->deadline_s);
				shutdown(t->fd, SHUT_RDWR);
				t->fd = -1; /* once */
			}
		clock_gettime(CLOCK_REALTIME, &wake);
		wake.tv_nsec += PROVD_WATCHDOG_TICK_MS * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->stop_cond, &srv->conns_lock, &wake);
	}
	pthread_mutex_unlock(&srv->conns_lock);
	return NULL;
}

static void peer_name(struct MHD_Connection *c, char *out, size_t out_len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	snprintf(out, out_len, "?");
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		    (socklen_t)out_len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, (socklen_t)out_len);
}

/*
 * Send resp (its body is copied by MHD) with the headers the API asked for. An answer MHD sends
 * with its body (not to HEAD, not a status without a body) goes out as one send (tls.h).
 */
static enum MHD_Result send_response(struct MHD_Connection *c, const char *method,
    const struct provd_response *resp)
{
	struct MHD_Response *r;
	struct conn_track *t;
	enum MHD_Result ret;
	char num[32];

	r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/*
	 * The console's page (issue 18) and every other answer: scripts and styles only from
	 * this server's own files (no inline script, no eval), no framing, no referrer.
	 */
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
	    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (resp->set_cookie[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, resp->set_cookie);
	if (resp->disposition[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, resp->disposition);
	if (resp->retry_after > 0) {
		snprintf(num, sizeof(num), "%lld", (long long)resp->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (resp->status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
		    resp->allow != NULL ? resp->allow : "GET");
	if (resp->status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	/* A client too slow for the deadline does not get to keep the connection (RFC 9110, 15.5.9). */
	if (resp->status == 408)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES && resp->body_len > 0 && resp->status >= 200 && resp->status != 204 &&
	    resp->status != 304 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0 &&
	    (t = conn_of(c)) != NULL)
		provd_tls_out_answer(t->out);
	return ret;
}

/* One line per request; the URL and the API's log text are the client's: log.h escapes them. */
static void log_request(const char *peer, const char *method, const char *url,
    const struct provd_response *resp, double secs)
{
	sc_log("%s %.8s %.80s %d %.1fms%s%s", peer, method, url, resp->status, secs * 1e3,
	    resp->log[0] ? " " : "", resp->log);
}

/* Answer with an error from the HTTP layer itself (before the API sees the request). */
static enum MHD_Result early_error(struct server *srv, struct MHD_Connection *c,
    struct request_state *st, const char *method, const char *url, sc_err e, const char *detail)
{
	struct provd_response resp;
	enum MHD_Result ret;
	char peer[64];

	memset(&resp, 0, sizeof(resp));
	resp.code = -1;
	resp.endpoint = PROVD_EP_OTHER;
	provd_api_error(&resp, e, detail);
	ret = send_response(c, method, &resp);
	peer_name(c, peer, sizeof(peer));
	provd_metrics_refusal(srv->api.metrics, resp.code);
	provd_metrics_request(srv->api.metrics, PROVD_EP_OTHER, resp.status, since(&st->t0));
	log_request(peer, method, url, &resp, since(&st->t0));
	provd_response_clear(&resp);
	st->answered = 1;
	return ret;
}

/* How many Content-Length and Transfer-Encoding headers a request has (framing_headers). */
struct framing {
	int content_length, transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->transfer_encoding++;
	return MHD_YES;
}

/*
 * NULL if the body's framing is one plain answer, else why not. Two Content-Length headers (even
 * equal ones) or one with Transfer-Encoding are how a request is smuggled past a proxy that reads
 * the other one; MHD would take the first, so refuse them all (RFC 9112, 6.3).
 */
static const char *framing_refusal(struct MHD_Connection *c)
{
	struct framing f = { 0, 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
	if (f.content_length > 1)
		return "more than one Content-Length header";
	if (f.content_length > 0 && f.transfer_encoding > 0)
		return "both Content-Length and Transfer-Encoding";
	return NULL;
}

/*
 * The request came in (its headers, or the end of its body) past --request-deadline: a JSON 408.
 * libmicrohttpd 0.9.75 takes no answer in the middle of a body; that is the watchdog's to cut.
 */
static enum MHD_Result overdue(struct server *srv, struct MHD_Connection *c,
    struct request_state *st, const char *method, const char *url)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "headers and body not in within %lds", srv->deadline_s);
	return early_error(srv, c, st, method, url, PROVD_ERR_REQUEST_TIMEOUT, detail);
}

/*
 * At a connection's first request, its TLS handshake is done: count it, full or resumed (a TLS 1.3
 * session ticket, tls.h), once per connection. A connection that never sends a request (a failed
 * handshake, a probe) is not counted here; selfcert_provd_connections_total counts every one.
 */
static void count_handshake(struct server *srv, struct MHD_Connection *c)
{
	struct conn_track *t = conn_of(c);
	const union MHD_ConnectionInfo *ci;

	if (t == NULL || t->handshake_counted)
		return;
	t->handshake_counted = 1;
	if ((ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION)) != NULL &&
	    ci->tls_session != NULL)
		provd_metrics_handshake(srv->api.metrics,
		    gnutls_session_is_resumed((gnutls_session_t)ci->tls_session) != 0);
}

/* Headers are in: set up, and refuse an announced oversize body before reading it. */
static enum MHD_Result on_headers(struct server *srv, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct request_state *st;
	char *end = NULL, detail[96];
	const char *why;
	unsigned long long n;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return MHD_NO;
	clock_gettime(CLOCK_MONOTONIC, &st->t0);
	*con_cls = st;
	count_handshake(srv, c);
	if (conn_overdue(srv, c))
		return overdue(srv, c, st, method, url);
	if ((why = framing_refusal(c)) != NULL)
		return early_error(srv, c, st, method, url, PROVD_ERR_BAD_REQUEST, why);
	if (cl == NULL)
		return MHD_YES;
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno == 0 && end != cl && *end == '\0' && n <= PROVD_MAX_BODY)
		return MHD_YES;
	snprintf(detail, sizeof(detail), "request body of %.20s bytes; at most %d", cl,
	    PROVD_MAX_BODY);
	return early_error(srv, c, st, method, url, PROVD_ERR_BODY_TOO_LARGE, detail);
}

/* Take n more body bytes (the cap enforced; past it, dropped until the end or a hang-up). */
static enum MHD_Result take_body(struct request_state *st, const char *data, size_t n)
{
	if (st->too_large || n > PROVD_MAX_BODY - st->len) {
		/* A chunked body outgrew the cap: drop it, answer 413 at its end or hang up. */
		st->too_large = 1;
		st->discarded += n;
		return st->discarded > PROVD_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (st->len + n > st->cap) {
		size_t ncap = st->cap ? st->cap : 4096;
		uint8_t *nb;
		while (ncap < st->len + n)
			ncap *= 2;
		if (ncap > PROVD_MAX_BODY)
			ncap = PROVD_MAX_BODY;
		if ((nb = realloc(st->body, ncap)) == NULL)
			return MHD_NO;
		st->body = nb;
		st->cap = ncap;
	}
	memcpy(st->body + st->len, data, n);
	st->len += n;
	return MHD_YES;
}

/* The request's query parameters (MHD decodes them) into the API's bounded list. */
struct query_list {
	struct provd_query_arg args[PROVD_QUERY_MAX];
	size_t n;
	int overflow;
};

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct query_list *q = cls;

	(void)kind;
	if (q->n == PROVD_QUERY_MAX) {
		q->overflow = 1;
		return MHD_NO;
	}
	q->args[q->n].key = key;
	q->args[q->n++].value = value;
	return MHD_YES;
}

/* Every X-Forwarded-For header of a request, joined with commas (RFC 9110 §5.3). */
struct xff_acc {
	char buf[PROVD_XFF_MAX + 2];
	size_t len;
	int over;
};

static enum MHD_Result xff_one(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct xff_acc *x = cls;
	size_t n = value != NULL ? strlen(value) : 0;

	(void)kind;
	if (key == NULL || strcasecmp(key, "X-Forwarded-For") != 0 || n == 0)
		return MHD_YES;
	if (x->len + n + 1 > PROVD_XFF_MAX) {
		x->over = 1;
		return MHD_NO;
	}
	if (x->len > 0)
		x->buf[x->len++] = ',';
	memcpy(x->buf + x->len, value, n + 1);
	x->len += n;
	return MHD_YES;
}

/*
 * peer (the TCP peer) replaced by the client's address when the peer is a trusted proxy and
 * says so in X-Forwarded-For (proxy.h); an oversize header is not believed.
 */
static void client_name(const struct server *srv, struct MHD_Connection *c, char *peer,
    size_t peer_len)
{
	struct xff_acc x = { .len = 0, .over = 0 };
	char client[PROVD_ADDR_STR_MAX];

	if (srv->proxies == NULL || srv->proxies->n == 0 ||
	    !provd_proxies_trusts(srv->proxies, peer))
		return;
	x.buf[0] = '\0';
	MHD_get_connection_values(c, MHD_HEADER_KIND, xff_one, &x);
	if (x.over || x.len == 0)
		return;
	if (provd_proxies_client(srv->proxies, peer, x.buf, client, sizeof(client)))
		snprintf(peer, peer_len, "%s", client);
}

/*
 * One more request in flight from addr: 1 if within --max-per-ip (counted, client_leave later),
 * 0 if over. A full table admits (the limit is a courtesy against one client hogging the
 * workers, not a security boundary; the proxy's own limits come first).
 */
static int client_enter(struct server *srv, const char *addr, struct client_slot **held)
{
	uint32_t h = 2166136261u;
	int ok = 1;

	*held = NULL;
	if (srv->clients == NULL || srv->per_client <= 0)
		return 1;
	for (const char *p = addr; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	pthread_mutex_lock(&srv->clients_lock);
	for (int i = 0; i < CLIENT_PROBES; i++) {
		struct client_slot *c = &srv->clients[(h + (uint32_t)i) % CLIENT_SLOTS];
		if (c->n > 0 && strcmp(c->addr, addr) != 0)
			continue;
		if (c->n == 0)
			snprintf(c->addr, sizeof(c->addr), "%s", addr);
		if (c->n >= (unsigned long)srv->per_client) {
			ok = 0;
		} else {
			c->n++;
			*held = c;
		}
		break;
	}
	pthread_mutex_unlock(&srv->clients_lock);
	return ok;
}

static void client_leave(struct server *srv, struct client_slot *held)
{
	if (held == NULL)
		return;
	pthread_mutex_lock(&srv->clients_lock);
	held->n--;
	pthread_mutex_unlock(&srv->clients_lock);
}

/* The whole request is in: hand it to the API with a registry connection, send its answer. */
static enum MHD_Result answer(struct server *srv, struct MHD_Connection *c,
    struct request_state *st, const char *url, const char *method)
{
	struct provd_request req;
	struct provd_response resp;
	struct query_list query = { .n = 0 };
	struct client_slot *held = NULL;
	struct sc_reg *reg;
	enum MHD_Result ret;
	char peer[64];
	int slot;

	peer_name(c, peer, sizeof(peer));
	client_name(srv, c, peer, sizeof(peer));
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	req.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	req.cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
	req.csrf_token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
	req.body = st->body != NULL ? st->body : (const uint8_t *)"";
	req.body_len = st->len;
	req.peer = peer;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query_arg, &query);
	req.query = query.args;
	req.n_query = query.n;
	req.query_overflow = query.overflow;
	conn_mark(srv, c, 0);
	if (!client_enter(srv, peer, &held)) {
		memset(&resp, 0, sizeof(resp));
		resp.code = -1;
		sc_fail(PROVD_ERR_BUSY, "%s has %ld requests in flight (--max-per-ip)", peer,
		    srv->per_client);
		provd_respond_failure(&resp, PROVD_ERR_BUSY);
	} else {
		reg = pool_take(&srv->pool, &slot);
		provd_api_handle(&srv->api, reg, &req, &resp);
		pool_give(&srv->pool, slot);
		client_leave(srv, held);
	}
	ret = send_response(c, method, &resp);
	provd_metrics_request(srv->api.metrics, resp.endpoint, resp.status, since(&st->t0));
	log_request(peer, method, url, &resp, since(&st->t0));
	provd_response_clear(&resp);
	st->answered = 1;
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
    void **con_cls)
{
	struct server *srv = cls;
	struct request_state *st = *con_cls;

	(void)version;
	if (st == NULL)
		return on_headers(srv, c, url, method, con_cls);
	if (st->answered) {
		/* Already answered: drop whatever body still arrives. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		return take_body(st, upload_data, n);
	}
	if (conn_overdue(srv, c))
		return overdue(srv, c, st, method, url);
	if (st->too_large) {
		char detail[96];
		snprintf(detail, sizeof(detail), "request body over %d bytes", PROVD_MAX_BODY);
		return early_error(srv, c, st, method, url, PROVD_ERR_BODY_TOO_LARGE, detail);
	}
	return answer(srv, c, st, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct request_state *st = *con_cls;

	struct conn_track *t = conn_of(c);

	(void)toe;
	/* Its answer is out: a head still held (no body came after it) goes now (tls.h). */
	if (t != NULL)
		provd_tls_out_flush(t->out);
	/* A kept-alive connection's next request starts its own clock. */
	conn_mark(srv, c, 1);
	if (st == NULL)
		return;
	free(st->body);
	free(st);
	*con_cls = NULL;
}

/* MHD's own messages (fmt is MHD's, never a client's). */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	sc_log("http: %s", line);
}

/* ---- flags ---- */

static long parse_long(const char *flag, const char *s, long min, long max)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		sc_log_usage_die("--%s '%s': expected a whole number from %ld to %ld", flag, s, min,
		    max);
	return v;
}

/* "127.0.0.1:8443" or "[::1]:8443" into a socket address. 1 if it is a loopback address. */
static void parse_listen(const char *s, struct sockaddr_storage *ss, int *loopback)
{
	char host[64];
	const char *colon = strrchr(s, ':'), *port;
	struct addrinfo hints, *ai = NULL;
	size_t hlen;

	if (colon == NULL)
		sc_log_usage_die("--listen '%s': expected ADDR:PORT", s);
	port = colon + 1;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		sc_log_usage_die("--listen: bad address");
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	(void)parse_long("listen port", port, 0, 65535);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL || ai->ai_addrlen > sizeof(*ss))
		sc_log_usage_die(
		    "--listen '%s': expected a numeric IPv4 or [IPv6] address and a port", host);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		*loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	else
		*loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Read the TLS certificate and key as PEM text for GnuTLS (via MHD), after checking they pair. */
static sc_err load_tls(const char *cert_path, const char *key_path, char **cert_pem, char **key_pem,
    size_t *key_len)
{
	sc_err r;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	uint8_t *c = NULL, *k = NULL;
	size_t clen = 0, klen = 0;

	/* The key is the owner's alone (SC_FILE_PRIVATE), judged on the bytes MHD will get. */
	if ((r = sc_file_read_ex(key_path, PROVD_TLS_FILE_MAX, SC_FILE_PRIVATE, &k, &klen)) !=
	        SC_OK ||
	    (r = sc_load_cert(cert_path, &cert)) != SC_OK ||
	    (r = sc_key_open(key_path, &key)) != SC_OK)
		goto out;
	if (X509_check_private_key(cert, key) != 1) {
		r = sc_fail(SC_ERR_KEY_MISMATCH, "%s does not belong to %s", key_path, cert_path);
		goto out;
	}
	if ((r = sc_file_read(cert_path, PROVD_TLS_FILE_MAX, &c, &clen)) != SC_OK)
		goto out;
	/* NUL-terminated copies for MHD, which takes C strings. */
	if ((*cert_pem = OPENSSL_malloc(clen + 1)) == NULL ||
	    (*key_pem = OPENSSL_malloc(klen + 1)) == NULL) {
		OPENSSL_free(*cert_pem);
		*cert_pem = NULL;
		r = sc_fail(SC_ERR_NOMEM, "TLS files");
		goto out;
	}
	memcpy(*cert_pem, c, clen);
	(*cert_pem)[clen] = '\0';
	memcpy(*key_pem, k, klen);
	(*key_pem)[klen] = '\0';
	*key_len = klen + 1;
	r = SC_OK;
out:
	OPENSSL_free(c);
	if (k != NULL)
		sc_free_secret(k, klen);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return r;
}

/* ---- start-up ---- */

/* The command line, checked (a bad one exits 2 through sc_log_usage_die). */
struct options {
	const char *db, *net_dir, *mfr_root, *listen, *tls_cert, *tls_key;
	const char *policy_file, *validity, *ttl, *rate, *admin, *operators, *port_file;
	const char *signer_key; /* --signer-key, or NULL: NETDIR/signer.key */
	int insecure, keygen, loopback;
	long threads, max_conn, per_ip, timeout, deadline;
	long keygen_threads, keygen_queue;
	long unauth_budget;                            /* -1: the policy's default */
	struct sockaddr_storage addr;                  /* --listen */
	struct provd_proxies proxies;                  /* --trusted-proxy */
	int no_registry_gauges;                        /* --no-registry-gauges */
	const char *mfr_crls[PROVD_MFR_CRL_FILES_MAX]; /* --mfr-crl, in order */
	size_t n_mfr_crls;
	long profile_batch, profile_batch_wait; /* --profile-batch (0: off), its wait in ms */
	int profile_commit_deferred;            /* --profile-commit deferred */
	long leaf_refs;                         /* --leaf-refs (0: the default) */
};

/* The TLS certificate and key as the PEM text MHD takes (load_tls). */
struct tls_pem {
	char *cert, *key;
	size_t key_len;
};

static void parse_flags(int argc, char **argv, struct options *o)
{
	enum {
		O_DB = 1,
		O_NETDIR,
		O_MFRROOT,
		O_LISTEN,
		O_TLSCERT,
		O_TLSKEY,
		O_INSECURE,
		O_POLICY,
		O_VALIDITY,
		O_TTL,
		O_RATE,
		O_KEYGEN,
		O_ADMIN,
		O_THREADS,
		O_MAXCONN,
		O_PERIP,
		O_TIMEOUT,
		O_DEADLINE,
		O_PORTFILE,
		O_HELP,
		O_KGTHREADS,
		O_KGQUEUE,
		O_OPERATORS,
		O_UNAUTH,
		O_SIGNERKEY,
		O_PROXY,
		O_NOGAUGES,
		O_MFRCRL,
		O_PBATCH,
		O_PBATCHWAIT,
		O_PCOMMIT,
		O_LEAFREFS,
	};
	static const struct option opts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "net-dir", required_argument, NULL, O_NETDIR },
		{ "mfr-root", required_argument, NULL, O_MFRROOT },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "tls-cert", required_argument, NULL, O_TLSCERT },
		{ "tls-key", required_argument, NULL, O_TLSKEY },
		{ "insecure-http", no_argument, NULL, O_INSECURE },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "validity", required_argument, NULL, O_VALIDITY },
		{ "profile-ttl", required_argument, NULL, O_TTL },
		{ "rate-limit", required_argument, NULL, O_RATE },
		{ "allow-server-keygen", no_argument, NULL, O_KEYGEN },
		{ "admin-token-file", required_argument, NULL, O_ADMIN },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "max-connections", required_argument, NULL, O_MAXCONN },
		{ "max-per-ip", required_argument, NULL, O_PERIP },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "request-deadline", required_argument, NULL, O_DEADLINE },
		{ "port-file", required_argument, NULL, O_PORTFILE },
		{ "help", no_argument, NULL, O_HELP },
		{ "keygen-threads", required_argument, NULL, O_KGTHREADS },
		{ "keygen-queue", required_argument, NULL, O_KGQUEUE },
		{ "operators", required_argument, NULL, O_OPERATORS },
		{ "unauthenticated-budget", required_argument, NULL, O_UNAUTH },
		{ "version", no_argument, NULL, 'V' },
		{ "config", required_argument, NULL, 'C' },
		{ "signer-key", required_argument, NULL, O_SIGNERKEY },
		{ "trusted-proxy", required_argument, NULL, O_PROXY },
		{ "no-registry-gauges", no_argument, NULL, O_NOGAUGES },
		{ "mfr-crl", required_argument, NULL, O_MFRCRL },
		{ "profile-batch", required_argument, NULL, O_PBATCH },
		{ "profile-batch-wait", required_argument, NULL, O_PBATCHWAIT },
		{ "profile-commit", required_argument, NULL, O_PCOMMIT },
		{ "leaf-refs", required_argument, NULL, O_LEAFREFS },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->threads = 0; /* not given: PROVD_DEFAULT_THREADS(_SERVER_DB), after --db is known */
	o->max_conn = PROVD_DEFAULT_CONNECTIONS;
	o->timeout = PROVD_DEFAULT_TIMEOUT_S;
	o->keygen_threads = PROVD_KEYGEN_THREADS_DEFAULT;
	o->keygen_queue = PROVD_KEYGEN_QUEUE_DEFAULT;
	o->per_ip = PROVD_DEFAULT_PER_IP;
	o->deadline = PROVD_DEFAULT_DEADLINE_S;
	o->unauth_budget = -1;
	o->profile_batch_wait = PROVD_BATCH_WAIT_MS_DEFAULT;
	opterr = 0;
	/* --config FILE: its settings go first, so the command line's flags win (conf.h). */
	sc_err cr = sc_conf_merge(&argc, &argv, opts);
	if (cr != SC_OK) {
		sc_log_failure(cr);
		exit(2);
	}
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_DB: o->db = optarg; break;
		case O_NETDIR: o->net_dir = optarg; break;
		case O_MFRROOT: o->mfr_root = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_TLSCERT: o->tls_cert = optarg; break;
		case O_TLSKEY: o->tls_key = optarg; break;
		case O_INSECURE: o->insecure = 1; break;
		case O_POLICY: o->policy_file = optarg; break;
		case O_VALIDITY: o->validity = optarg; break;
		case O_TTL: o->ttl = optarg; break;
		case O_RATE: o->rate = optarg; break;
		case O_KEYGEN: o->keygen = 1; break;
		case O_ADMIN: o->admin = optarg; break;
		case O_OPERATORS: o->operators = optarg; break;
		case O_THREADS:
			o->threads = parse_long("threads", optarg, 1, PROVD_MAX_THREADS);
			break;
		case O_MAXCONN:
			o->max_conn = parse_long("max-connections", optarg, 1, 65536);
			break;
		case O_PERIP: o->per_ip = parse_long("max-per-ip", optarg, 0, 65536); break;
		case O_TIMEOUT: o->timeout = parse_long("timeout", optarg, 1, 3600); break;
		case O_DEADLINE:
			o->deadline = parse_long("request-deadline", optarg, 0, 3600);
			break;
		case O_PORTFILE: o->port_file = optarg; break;
		case O_KGTHREADS:
			o->keygen_threads = parse_long("keygen-threads", optarg, 1,
			    PROVD_KEYGEN_THREADS_MAX);
			break;
		case O_KGQUEUE:
			o->keygen_queue = parse_long("keygen-queue", optarg, 0,
			    PROVD_KEYGEN_QUEUE_MAX);
			break;
		case O_UNAUTH:
			o->unauth_budget = parse_long("unauthenticated-budget", optarg, 0, 1000000);
			break;
		case O_SIGNERKEY: o->signer_key = optarg; break;
		case O_PROXY:
			if (provd_proxies_add(&o->proxies, optarg) != SC_OK)
				sc_log_usage_die("%s", sc_err_detail());
			break;
		case O_NOGAUGES: o->no_registry_gauges = 1; break;
		case O_MFRCRL:
			if (o->n_mfr_crls == PROVD_MFR_CRL_FILES_MAX)
				sc_log_usage_die("--mfr-crl: at most %d files",
				    PROVD_MFR_CRL_FILES_MAX);
			o->mfr_crls[o->n_mfr_crls++] = optarg;
			break;
		case O_PBATCH:
			o->profile_batch = parse_long("profile-batch", optarg, PROVD_BATCH_SIZE_MIN,
			    PROVD_BATCH_SIZE_MAX);
			break;
		case O_LEAFREFS:
			o->leaf_refs = parse_long("leaf-refs", optarg, PROVD_LEAFREFS_MIN,
			    PROVD_LEAFREFS_MAX);
			break;
		case O_PBATCHWAIT:
			o->profile_batch_wait = parse_long("profile-batch-wait", optarg, 0,
			    PROVD_BATCH_WAIT_MS_MAX);
			break;
		case O_PCOMMIT:
			if (strcmp(optarg, "durable") != 0 && strcmp(optarg, "deferred") != 0)
				sc_log_usage_die(
				    "--profile-commit: \"durable\" or \"deferred\", not '%s'",
				    optarg);
			o->profile_commit_deferred = strcmp(optarg, "deferred") == 0;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			fputs(usage_text2, stdout);
			exit(0);
		case 'C': sc_log_usage_die("--config: at most once");
		case 'V': sc_version_print(stdout, "selfcert-provd"); exit(0);
		default: sc_log_usage_die("unknown flag or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		sc_log_usage_die("unexpected argument '%s'", argv[optind]);
	if (o->db == NULL || o->net_dir == NULL || o->mfr_root == NULL || o->listen == NULL)
		sc_log_usage_die("--db, --net-dir, --mfr-root and --listen are required (--help)");
	if (o->threads == 0)
		o->threads = strstr(o->db, "://") != NULL ? PROVD_DEFAULT_THREADS_SERVER_DB
		                                          : PROVD_DEFAULT_THREADS;
	parse_listen(o->listen, &o->addr, &o->loopback);
	if (o->insecure && (o->tls_cert || o->tls_key))
		sc_log_usage_die("--insecure-http excludes --tls-cert/--tls-key");
	if (!o->insecure && (o->tls_cert == NULL || o->tls_key == NULL))
		sc_log_usage_die(
		    "--tls-cert and --tls-key are required (or --insecure-http on loopback)");
	if (o->insecure && !o->loopback)
		sc_log_usage_die("--insecure-http only on a loopback address (127.0.0.0/8, [::1])");
}

/* Policy: the defaults, then the file (its failure returned), then the flags (bad: exit 2). */
static sc_err load_policy(const struct options *o, struct provd_policy *pol)
{
	sc_err r;

	provd_policy_defaults(pol);
	if (o->policy_file != NULL && (r = provd_policy_load(o->policy_file, pol)) != SC_OK)
		return r;
	if (o->validity != NULL && (sc_parse_duration(o->validity, &pol->validity_s) != SC_OK))
		sc_log_usage_die("--validity '%s': expected 90s 15m 12h 30d 1y", o->validity);
	if (o->ttl != NULL && (sc_parse_duration(o->ttl, &pol->profile_ttl_s) != SC_OK))
		sc_log_usage_die("--profile-ttl '%s': expected 90s 15m 12h 30d 1y", o->ttl);
	if (o->rate != NULL && provd_policy_parse_rate(o->rate, pol) != SC_OK)
		sc_log_usage_die("%s", sc_err_detail());
	if (o->keygen)
		pol->server_keygen = 1;
	if (o->unauth_budget >= 0)
		pol->unauth_rate.max = (uint32_t)o->unauth_budget;
	if (provd_policy_check(pol) != SC_OK)
		sc_log_usage_die("%s", sc_err_detail());
	return SC_OK;
}

/*
 * Everything the server needs before it listens: the API (signer, roots, token, metrics), the
 * TLS files, one registry connection per worker, the registry checked. Freed by main.
 */
static sc_err load_server(const struct options *o, struct server *srv, struct tls_pem *tls)
{
	sc_err r;

	srv->api.signer_key_spec = o->signer_key;
	srv->api.leafrefs_max = (size_t)o->leaf_refs;
	if ((r = provd_api_load(&srv->api, o->net_dir, o->mfr_root)) != SC_OK ||
	    (o->admin != NULL && (r = provd_api_set_admin_token(&srv->api, o->admin)) != SC_OK) ||
	    (r = provd_operators_new(o->operators,
	         srv->api.admin_enabled ? srv->api.admin_token_hash : NULL, &srv->api.operators)) !=
	        SC_OK ||
	    (r = provd_metrics_new(&srv->api.metrics)) != SC_OK ||
	    (r = provd_mfr_crls_load(&srv->api, o->mfr_crls, o->n_mfr_crls)) != SC_OK)
		return r;
	if (o->profile_batch > 0 &&
	    (r = provd_batcher_new(srv->api.signer_key, srv->api.signer, (size_t)o->profile_batch,
	         (unsigned)o->profile_batch_wait, &srv->api.batcher)) != SC_OK)
		return r;
	if (!o->insecure &&
	    (r = load_tls(o->tls_cert, o->tls_key, &tls->cert, &tls->key, &tls->key_len)) != SC_OK)
		return r;
	if (!o->insecure && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return sc_fail(SC_ERR_IO,
		    "this libmicrohttpd has no TLS support; use a build with GnuTLS");
	pthread_mutex_init(&srv->pool.lock, NULL);
	pthread_cond_init(&srv->pool.freed, NULL);
	for (long i = 0; i < o->threads; i++) {
		if ((r = sc_reg_open(o->db, 1, &srv->pool.conns[i])) != SC_OK)
			return r;
		srv->pool.n++;
	}
	/*
	 * Which registry, for the start log (so that an operator can tell nodes apart; a --db never
	 * holds a password: registry.c refuses one). Read now, before any worker shares the
	 * connection; logged once the server listens (a refusal at start stays one line).
	 */
	snprintf(srv->reg_desc, sizeof(srv->reg_desc),
	    "registry %.200s (%s, schema %d, min_compatible %d; this program %d)", o->db,
	    sc_reg_backend_name(srv->pool.conns[0]), sc_reg_schema_version(srv->pool.conns[0]),
	    sc_reg_schema_min_compatible(srv->pool.conns[0]), SC_REG_SCHEMA_VERSION);
	/* A crash (even SIGKILL mid-transaction) leaves SQLite's WAL to roll back; check it did.
	 * PostgreSQL recovers by itself, and its check is a full scan of a shared database that
	 * every node start would repeat: operators run `selfcert net db check` instead. */
	if (strcmp(sc_reg_backend_name(srv->pool.conns[0]), "sqlite") != 0)
		return SC_OK;
	return sc_reg_check(srv->pool.conns[0]);
}

/*
 * The server key generation pool (keygen.h), when the policy allows server keys. A request
 * waiting for its key still holds its MHD worker thread (a blocking wait, no
 * MHD_suspend_connection: the handler and its registry connection stay one synchronous call).
 * So the pool admits at most --threads - 1 jobs at once, running or queued, whatever
 * --keygen-threads + --keygen-queue allow: at least one worker is always free for /healthz and
 * every other request, and the rest are refused at once with 503 and Retry-After. With
 * --threads 1 there is no such worker: one key at a time, and the server waits for it. What is
 * left: a connection that a worker accepted just before it began to wait is served after that
 * wait (at most PROVD_KEYGEN_WAIT_MS); suspending the connection instead would lift that.
 */
static sc_err start_keygen(const struct options *o, struct provd_api *api)
{
	long admit = o->keygen_threads + o->keygen_queue;

	if (!api->policy.server_keygen)
		return SC_OK;
	if (admit > o->threads - 1)
		admit = o->threads > 1 ? o->threads - 1 : 1;
	return provd_keygen_start((unsigned)o->keygen_threads, (unsigned)admit, &api->keygen);
}

/*
 * The listening socket, bound exclusively: SO_REUSEADDR only (a restart may bind while old
 * connections sit in TIME_WAIT), never SO_REUSEPORT, so that a second server on a port in use
 * fails here instead of silently taking half the connections (and signing for a registry whose
 * revocations the first one never sees).
 */
static sc_err listen_socket(const struct options *o, int *out)
{
	socklen_t len = o->addr.ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
	                                              : (socklen_t)sizeof(struct sockaddr_in);
	int fd, one = 1;

	*out = -1;
	if ((fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return sc_fail(SC_ERR_IO, "cannot listen on %s: %s", o->listen, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (o->addr.ss_family == AF_INET6 &&
	        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)&o->addr, len) != 0 || listen(fd, SOMAXCONN) != 0) {
		int e = errno;

		close(fd);
		if (e == EADDRINUSE)
			return sc_fail(SC_ERR_IO, "cannot listen on %s: address already in use",
			    o->listen);
		return sc_fail(SC_ERR_IO, "cannot listen on %s: %s", o->listen, strerror(e));
	}
	*out = fd;
	return SC_OK;
}

/*
 * Listen and serve (MHD's threads), then say so: the log line and the port file.
 * MHD's workers wait in poll(2), not epoll: with libmicrohttpd 0.9.75 and GnuTLS, a new HTTPS
 * connection cost the server 3-6 ms of CPU under epoll against 0.4-0.8 ms under poll, the same
 * handshake (the same count of GnuTLS's calls) running several times slower (PERFORMANCE.md
 * 17.3); a request on a kept connection costs the same in both. poll has no FD_SETSIZE bound, and
 * each worker polls only its own connections (--max-connections over --threads).
 */
static sc_err start_serving(const struct options *o, struct server *srv, const struct tls_pem *tls,
    struct MHD_Daemon **out)
{
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)PROVD_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, port;
	const union MHD_DaemonInfo *info;
	char num[16], desc[512];
	sc_err r;
	int fd;

	if ((r = listen_socket(o, &fd)) != SC_OK)
		return r;
	if (o->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!o->insecure) {
		flags |= MHD_USE_TLS;
		/* Tickets are an optimisation: without them, every handshake is a full one. */
		(void)provd_tls_tickets_start();
	}
	*out = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, srv, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    /* One worker is MHD's own polling thread, not a pool of one. */
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 1 ? o->threads : 0),
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)(o->proxies.n > 0 ? 0 : o->per_ip), MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)o->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)PROVD_CONN_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, srv, MHD_OPTION_ARRAY, o->insecure ? no_opts : tls_opts, MHD_OPTION_END);
	if (*out == NULL) {
		/* MHD owns the socket only once it has started. */
		close(fd);
		return sc_fail(SC_ERR_IO, "cannot serve on %s (TLS setup failed?)", o->listen);
	}
	srv->deadline_s = o->deadline;
	srv->proxies = &o->proxies;
	if (o->proxies.n > 0 && o->per_ip > 0) {
		if ((srv->clients = calloc(CLIENT_SLOTS, sizeof(*srv->clients))) == NULL)
			return sc_fail(SC_ERR_NOMEM, "--max-per-ip table");
		srv->per_client = o->per_ip;
	}
	srv->api.no_registry_gauges = o->no_registry_gauges;
	srv->api.profile_commit_deferred = o->profile_commit_deferred;
	if (o->deadline > 0) {
		if (pthread_create(&srv->watchdog, NULL, watchdog, srv) != 0)
			return sc_fail(SC_ERR_NOMEM, "cannot start the request deadline's thread");
		srv->watchdog_running = 1;
	}
	info = MHD_get_daemon_info(*out, MHD_DAEMON_INFO_BIND_PORT);
	port = info != NULL ? info->port : 0;
	provd_policy_describe(&srv->api.policy, desc, sizeof(desc));
	sc_log("%s", srv->reg_desc);
	sc_log("network %s: serving %s on port %u (%ld threads); %s", srv->api.network_id,
	    o->insecure ? "plain HTTP" : "HTTPS", port, o->threads, desc);
	/* gaps15: the table is whole sets of PROVD_REFTABLE_WAYS; never fewer than asked. */
	if (o->leaf_refs != 0 && provd_reftable_size((size_t)o->leaf_refs) != (size_t)o->leaf_refs)
		sc_log("--leaf-refs %ld: %zu renewal references (rounded up to whole sets of %d)",
		    o->leaf_refs, provd_reftable_size((size_t)o->leaf_refs), PROVD_REFTABLE_WAYS);
	if (o->profile_commit_deferred)
		sc_log("profile commits deferred: each synced by the device's certificate "
		       "registration (--profile-commit deferred)");
	if (o->port_file == NULL)
		return SC_OK;
	snprintf(num, sizeof(num), "%u\n", port);
	return sc_file_write_atomic(o->port_file, num, strlen(num), 0644);
}

/*
 * SIGHUP: load again everything a reload changes (the policy file, the admin token, the TLS
 * certificate and key) and check it, into temporaries that are then dropped. SC_OK: all of it
 * loads, and main restarts the server in place (sc_daemon_reexec: same pid, same flags) so every
 * worker sees the new configuration at once with no lock on the request path; a failure is
 * returned and the server keeps serving what it has. Files added later (operators) check here.
 */
static sc_err provd_reload(const struct options *o)
{
	struct provd_policy pol;
	struct provd_api tmp;
	struct tls_pem tls = { NULL, NULL, 0 };
	sc_err r;

	memset(&tmp, 0, sizeof(tmp));
	if ((r = sc_conf_recheck()) == SC_OK)
		r = load_policy(o, &pol);
	if (r == SC_OK && o->admin != NULL)
		r = provd_api_set_admin_token(&tmp, o->admin);
	if (r == SC_OK && !o->insecure)
		r = load_tls(o->tls_cert, o->tls_key, &tls.cert, &tls.key, &tls.key_len);
	if (r == SC_OK && o->n_mfr_crls > 0 &&
	    (r = sc_load_cert(o->mfr_root, &tmp.mfr_root)) == SC_OK)
		r = provd_mfr_crls_load(&tmp, o->mfr_crls, o->n_mfr_crls);
	X509_free(tmp.mfr_root);
	free(tmp.mfr_crls_pem);
	OPENSSL_cleanse(&tmp, sizeof(tmp));
	OPENSSL_free(tls.cert);
	sc_free_secret(tls.key, tls.key_len);
	return r;
}

int main(int argc, char **argv)
{
	struct options o;
	struct server srv;
	struct tls_pem tls = { NULL, NULL, 0 };
	struct MHD_Daemon *d = NULL;
	sigset_t sigs;
	sc_err r;
	int rc, sig = 0, reexec = 0;

	sc_log_init("selfcert-provd");
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.conns_lock, NULL);
	pthread_mutex_init(&srv.clients_lock, NULL);
	pthread_cond_init(&srv.stop_cond, NULL);
	parse_flags(argc, argv, &o);
	if ((r = load_policy(&o, &srv.api.policy)) != SC_OK)
		return fail(r);
	/* jansson seeds its hash function on first use; do it here, before there are threads. */
	json_object_seed(0);
	/* Signals: blocked here, so every thread MHD starts inherits the mask; main waits. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = load_server(&o, &srv, &tls)) != SC_OK ||
	    (r = start_keygen(&o, &srv.api)) != SC_OK ||
	    (r = start_serving(&o, &srv, &tls, &d)) != SC_OK) {
		rc = fail(r);
		goto out;
	}
	sc_daemon_notify("READY=1");
	while (!reexec && (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))) {
		if (sig != SIGHUP)
			continue;
		sig = 0;
		if ((r = provd_reload(&o)) == SC_OK) {
			sc_log("SIGHUP: the policy, token and TLS files load; restarting in place");
			reexec = 1;
		} else {
			sc_log_err(r,
			    "SIGHUP: reload refused, still serving the old configuration: %s",
			    sc_err_detail());
		}
	}
	if (!reexec) {
		sc_daemon_notify("STOPPING=1");
		sc_log("stopping");
	}
	rc = 0;
out:
	if (srv.watchdog_running) {
		pthread_mutex_lock(&srv.conns_lock);
		srv.stopping = 1;
		pthread_cond_signal(&srv.stop_cond);
		pthread_mutex_unlock(&srv.conns_lock);
		pthread_join(srv.watchdog, NULL);
	}
	if (d != NULL)
		MHD_stop_daemon(d);
	for (int i = 0; i < srv.pool.n; i++)
		sc_reg_close(srv.pool.conns[i]);
	provd_metrics_free(srv.api.metrics);
	provd_operators_free(srv.api.operators);
	provd_api_free(&srv.api);
	free(srv.clients);
	OPENSSL_free(tls.cert);
	sc_free_secret(tls.key, tls.key_len);
	provd_tls_tickets_stop();
	if (reexec) {
		sc_daemon_notify("RELOADING=1");
		sc_daemon_reexec(argv); /* returns only on failure */
		rc = 1;
	}
	return rc;
}
