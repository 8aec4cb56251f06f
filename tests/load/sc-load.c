// SPDX-License-Identifier: Apache-2.0
/*
 * sc-load.c — the SP's load generator (test-only, not installed): many concurrent clients of
 * one selfcert-spd, each sending a fixed mix of real requests through include/selfcert/sp.h,
 * optionally beside misbehaving clients; prints throughput, latencies, errors, lost keys and
 * how fast each misbehaving connection was cut off. docs/RELIABILITY.md ("Load") reports its runs.
 *
 *   sc-load --sp SOCKET --net NETDIR --device-ca DEVICE-CA.pem --kex KEX.pem
 *           [--clients 32] (--requests N | --seconds S) [--bad N] [--held FILE]
 *           [--profile-base EPOCH]
 *
 * Each good client repeats ten requests: info, challenge, issue (a profile signed for that
 * challenge), sign, issue (a profile signed before the run: device-generated P-256 or Ed25519,
 * or a server-generated P-256 key encrypted to the KEK, in turn), sign, delete, sign, delete,
 * keys. Every signature is verified with the certificate's key. At the end the SP's key list
 * must be exactly the keys the clients still hold (none lost, none extra), each of which signs.
 *
 * Two limits of the SP shape the schedule, so that a correct SP gives zero errors:
 *  - at most SPD_CHALLENGES (16) challenges are outstanding, the 17th evicts the oldest: a
 *    client holds one of 16 tokens from CHALLENGE to its ISSUE;
 *  - the replay cache remembers 1024 profile IDs, then refuses every profile whose
 *    profileNotAfter is at or below the forgotten ones: profileNotAfter grows with each
 *    client's issue count, and no client runs more than DRIFT issues ahead of the slowest,
 *    so fewer than 1024 newer profiles ever exist when one arrives. Runs against the same SP
 *    must not go back: each prints the last profileNotAfter it used, and the next one starts
 *    above it (--profile-base).
 *
 * Misbehaving clients (--bad N) each cycle through: half a message then silence, one byte a
 * second, garbage, oversized lengths in a flood, a request whose answer is never read, a
 * request abandoned mid-answer, and a connection that never says anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>
#include "keyopen.h"
#include "pem.h"

#define MAX_CLIENTS 64
#define MAX_BAD 64
#define MAX_HELD 4
#define CHALLENGE_TOKENS 16 /* the SP keeps 16 outstanding challenges */
#define DRIFT 8             /* issues a client may run ahead of the slowest */
#define REPLAY_CACHE 1024
#define LEAF_SECONDS 86400
#define PROFILE_BASE_S 600 /* default profileNotAfter base: start + this */
#define MAX_ERRORS_SHOWN 10
#define SCHEDULE_LEN 10

enum op { OP_INFO, OP_CHALLENGE, OP_ISSUE_CH, OP_SIGN, OP_ISSUE, OP_DELETE, OP_KEYS, OP_N };
static const char *const op_names[OP_N] = { "info", "challenge", "issue-challenge", "sign",
	"issue-presigned", "delete", "keys" };
static const enum op schedule[SCHEDULE_LEN] = { OP_INFO, OP_CHALLENGE, OP_ISSUE_CH, OP_SIGN,
	OP_ISSUE, OP_SIGN, OP_DELETE, OP_SIGN, OP_DELETE, OP_KEYS };

enum bad_kind { B_HALF, B_SLOW, B_GARBAGE, B_OVERSIZE, B_NOREAD, B_MIDANSWER, B_IDLE, B_N };
static const char *const bad_names[B_N] = { "half-message", "one-byte-a-second", "garbage",
	"oversize-flood", "answer-never-read", "gone-mid-answer", "idle" };

struct lat {
	double *ms;
	size_t n, cap;
};

struct presigned {
	uint8_t *der;
	size_t len;
};

struct held {
	uint32_t handle;
	X509 *cert;
};

struct client {
	int idx;
	struct sc_sp *sp;
	struct presigned *pool;
	size_t pool_n, pool_used;
	struct held held[MAX_HELD];
	size_t n_held;
	uint64_t issues; /* issue index k: profileNotAfter = base + k * clients + idx */
	uint8_t challenge[SC_SP_CHALLENGE_LEN];
	int have_challenge;
	struct lat lat[OP_N];
	size_t requests, errors, issued, deleted;
	pthread_t th;
};

struct bad {
	int idx;
	struct lat cut[B_N]; /* ms from the misbehaviour to the SP hanging up */
	size_t open_at_end[B_N], survived[B_N], count[B_N];
	pthread_t th;
};

static struct {
	const char *sock;
	int n_clients, n_bad;
	long requests;
	double seconds;
	X509 *signer, *kex, *device_ca;
	EVP_PKEY *signer_key;
	char network_id[SC_NETWORK_ID_MAX + 1], device_id[SC_DEVICE_ID_MAX + 1];
	time_t start;
	time_t base; /* profileNotAfter of issue 0 of client 0 */
	int64_t t0_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t progress[MAX_CLIENTS]; /* issues completed; UINT64_MAX once finished */
	int tokens;
	volatile int good_done;
	size_t errors_shown;
} G;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_msf(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		double *p = realloc(l->ms, cap * sizeof(*p));

		if (p == NULL)
			return;
		l->ms = p;
		l->cap = cap;
	}
	l->ms[l->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(p * (double)(l->n - 1) + 0.5);
	return l->ms[i];
}

static void lat_print(const char *what, const char *name, struct lat *l)
{
	if (l->n == 0)
		return;
	qsort(l->ms, l->n, sizeof(double), cmp_double);
	printf("sc-load: %s %s n=%zu p50=%.2f p90=%.2f p99=%.2f max=%.2f\n", what, name, l->n,
	    pct(l, 0.5), pct(l, 0.9), pct(l, 0.99), l->ms[l->n - 1]);
}

static void lat_merge(struct lat *into, const struct lat *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		lat_add(into, from->ms[i]);
}

static void report_error(struct client *c, enum op op, sc_err r)
{
	c->errors++;
	pthread_mutex_lock(&G.mu);
	if (G.errors_shown++ < MAX_ERRORS_SHOWN)
		fprintf(stderr, "sc-load: client %d: %s: %s: %s\n", c->idx, op_names[op],
		    sc_err_name(r), sc_err_detail());
	pthread_mutex_unlock(&G.mu);
}

/* ---- profiles ---- */

static sc_err subject_attr(X509 *cert, int nid, char *out, size_t out_len)
{
	int i = X509_NAME_get_index_by_NID(X509_get_subject_name(cert), nid, -1);
	ASN1_STRING *s;

	if (i < 0)
		return sc_fail(SC_ERR_MALFORMED, "no subject attribute %s", OBJ_nid2sn(nid));
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(cert), i));
	if ((size_t)ASN1_STRING_length(s) >= out_len)
		return sc_fail(SC_ERR_OVERSIZE, "subject attribute %s", OBJ_nid2sn(nid));
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	out[ASN1_STRING_length(s)] = '\0';
	return SC_OK;
}

/*
 * A signed profile for client c's issue number k. kind 0: device-generated P-256, 1: device-
 * generated Ed25519, 2: a server-generated P-256 key encrypted to the KEK. *der is the caller's.
 */
static sc_err make_profile(int idx, uint64_t k, int kind, const uint8_t *challenge, uint8_t **der,
    size_t *len)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	EVP_PKEY *supplied = NULL;
	sc_err r;

	memset(&pp, 0, sizeof(pp));
	pp.network_id = G.network_id;
	pp.device_id = G.device_id;
	pp.profile_not_after = G.base + (time_t)(k * (uint64_t)G.n_clients) + idx;
	pp.not_before = G.start - 60;
	pp.not_after = G.start + LEAF_SECONDS;
	pp.cert_digest = SC_DIGEST_SHA256;
	pp.generate_alg = kind == 1 ? SC_ALG_ED25519 : SC_ALG_P256;
	if (challenge != NULL) {
		pp.challenge = challenge;
		pp.challenge_len = SC_SP_CHALLENGE_LEN;
	}
	if (kind == 2) {
		if ((r = sc_alg_keygen(SC_ALG_P256, &supplied)) != SC_OK)
			return r;
		pp.supplied_key = supplied;
		pp.kek_cert = G.kex;
	}
	if ((r = sc_profile_create(&pp, &p)) == SC_OK &&
	    (r = sc_profile_sign(p, G.signer_key, G.signer, NULL, 0)) == SC_OK)
		r = sc_profile_encode(p, der, len);
	sc_profile_free(p);
	EVP_PKEY_free(supplied); /* the server forgets the device's key */
	return r;
}

/* ---- good clients ---- */

/* Issue number k may start once every client has finished issue k - DRIFT. */
static void drift_wait(struct client *c)
{
	pthread_mutex_lock(&G.mu);
	for (;;) {
		uint64_t min = UINT64_MAX;
		int i;

		for (i = 0; i < G.n_clients; i++)
			if (G.progress[i] < min)
				min = G.progress[i];
		if (c->issues < DRIFT || min >= c->issues - DRIFT)
			break;
		pthread_cond_wait(&G.cv, &G.mu);
	}
	pthread_mutex_unlock(&G.mu);
}

static void progress_set(struct client *c, uint64_t v)
{
	pthread_mutex_lock(&G.mu);
	G.progress[c->idx] = v;
	pthread_cond_broadcast(&G.cv);
	pthread_mutex_unlock(&G.mu);
}

static void token_take(void)
{
	pthread_mutex_lock(&G.mu);
	while (G.tokens == 0)
		pthread_cond_wait(&G.cv, &G.mu);
	G.tokens--;
	pthread_mutex_unlock(&G.mu);
}

static void token_give(void)
{
	pthread_mutex_lock(&G.mu);
	G.tokens++;
	pthread_cond_broadcast(&G.cv);
	pthread_mutex_unlock(&G.mu);
}

static sc_err verify_sig(X509 *cert, const uint8_t *msg, size_t len, const uint8_t *sig,
    size_t sig_len)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok;

	ok = pub != NULL && m != NULL &&
	    EVP_DigestVerifyInit(m, NULL, sc_sign_md(pub, SC_DIGEST_NONE), NULL, pub) == 1 &&
	    EVP_DigestVerify(m, sig, sig_len, msg, len) == 1;
	EVP_MD_CTX_free(m);
	return ok ? SC_OK : sc_fail(SC_ERR_PROFILE_SIGNATURE, "signature does not verify");
}

static sc_err sign_and_verify(struct sc_sp *sp, const struct held *h)
{
	uint8_t msg[64], *sig = NULL;
	size_t sig_len = 0;
	sc_err r;

	if (RAND_bytes(msg, sizeof(msg)) != 1)
		return sc_fail(SC_ERR_INTERNAL, "RAND_bytes");
	if ((r = sc_sp_sign(sp, h->handle, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, msg, sizeof(msg),
	         &sig, &sig_len)) != SC_OK)
		return r;
	r = verify_sig(h->cert, msg, sizeof(msg), sig, sig_len);
	OPENSSL_free(sig);
	return r;
}

static sc_err do_issue(struct client *c, const uint8_t *der, size_t len)
{
	uint32_t handle = 0;
	X509 *cert = NULL;
	sc_err r;

	if ((r = sc_sp_issue(c->sp, der, len, &handle, &cert)) != SC_OK)
		return r;
	c->issued++;
	if (c->n_held == MAX_HELD) {
		X509_free(cert);
		return sc_fail(SC_ERR_INTERNAL, "client holds too many keys (schedule bug)");
	}
	c->held[c->n_held].handle = handle;
	c->held[c->n_held].cert = cert;
	c->n_held++;
	return SC_OK;
}

/* One request of the schedule. The latency is that of the SP round trip alone. */
static void run_op(struct client *c, enum op op)
{
	uint8_t *der = NULL;
	size_t len = 0;
	double t;
	sc_err r = SC_OK;

	switch (op) {
	case OP_INFO: {
		struct sc_sp_info info;

		t = now_msf();
		r = sc_sp_info(c->sp, &info);
		if (r == SC_OK)
			sc_sp_info_clear(&info);
		break;
	}
	case OP_CHALLENGE:
		drift_wait(c);
		token_take();
		t = now_msf();
		r = sc_sp_challenge(c->sp, c->challenge);
		if (r == SC_OK)
			c->have_challenge = 1;
		else
			token_give();
		break;
	case OP_ISSUE_CH:
		if (!c->have_challenge) {
			t = now_msf();
			r = sc_fail(SC_ERR_CHALLENGE, "no challenge to issue with");
			break;
		}
		r = make_profile(c->idx, c->issues, (int)(c->issues % 2), c->challenge, &der, &len);
		t = now_msf();
		if (r == SC_OK)
			r = do_issue(c, der, len);
		c->have_challenge = 0;
		token_give();
		c->issues++;
		progress_set(c, c->issues);
		break;
	case OP_ISSUE:
		drift_wait(c);
		if (c->pool_used < c->pool_n) {
			struct presigned *ps = &c->pool[c->pool_used++];

			der = ps->der;
			len = ps->len;
			ps->der = NULL;
			r = SC_OK;
		} else {
			r = make_profile(c->idx, c->issues, (int)(c->issues % 3), NULL, &der, &len);
		}
		t = now_msf();
		if (r == SC_OK)
			r = do_issue(c, der, len);
		c->issues++;
		progress_set(c, c->issues);
		break;
	case OP_SIGN:
		t = now_msf();
		if (c->n_held == 0)
			r = sc_fail(SC_ERR_NO_KEY, "no key to sign with (an issue failed)");
		else
			r = sign_and_verify(c->sp, &c->held[c->n_held - 1]);
		break;
	case OP_DELETE:
		t = now_msf();
		if (c->n_held == 0) {
			r = sc_fail(SC_ERR_NO_KEY, "no key to delete (an issue failed)");
			break;
		}
		if ((r = sc_sp_delete(c->sp, c->held[0].handle)) == SC_OK) {
			X509_free(c->held[0].cert);
			memmove(&c->held[0], &c->held[1], (c->n_held - 1) * sizeof(c->held[0]));
			c->n_held--;
			c->deleted++;
		}
		break;
	case OP_KEYS: {
		struct sc_sp_key *keys = NULL;
		size_t n = 0;

		t = now_msf();
		if ((r = sc_sp_keys(c->sp, &keys, &n)) == SC_OK)
			sc_sp_keys_free(keys, n);
		break;
	}
	default: return;
	}
	lat_add(&c->lat[op], now_msf() - t);
	c->requests++;
	OPENSSL_free(der);
	if (r != SC_OK) {
		report_error(c, op, r);
		/* A connection the SP closed is reopened; the next request goes on. */
		if (r == SC_ERR_PEER || r == SC_ERR_IO) {
			sc_sp_close(c->sp);
			c->sp = NULL;
			if (sc_sp_connect(G.sock, &c->sp) != SC_OK)
				c->sp = NULL;
		}
	}
}

static void *good_client(void *arg)
{
	struct client *c = arg;
	long i;
	int64_t end = G.t0_ms + (int64_t)(G.seconds * 1000.0);

	for (i = 0; c->sp != NULL; i++) {
		enum op op = schedule[i % SCHEDULE_LEN];

		if (G.requests > 0 && i >= G.requests)
			break;
		/* Time mode ends on a schedule boundary, so no challenge token is left held. */
		if (G.requests == 0 && i % SCHEDULE_LEN == 0 && now_ms() >= end)
			break;
		run_op(c, op);
	}
	if (c->have_challenge)
		token_give();
	progress_set(c, UINT64_MAX);
	return NULL;
}

/* ---- bad clients ---- */

static int bad_connect(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", G.sock);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Wait until the SP hangs up (EOF or reset), reading and dropping whatever it sends (drain)
 * or reading nothing at all. tick, if any, runs between polls (and a nonzero return means the
 * SP is gone). Returns the ms waited, or -1 if the run ended first.
 */
static double wait_hangup(int fd, double since, int (*tick)(int fd, void *), void *arg, int drain)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { fd, drain ? POLLIN : POLLRDHUP, 0 };
		int k = poll(&p, 1, 200);

		if (k > 0 && !drain && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return now_msf() - since;
		if (k > 0 && drain) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				return now_msf() - since;
		}
		if (G.good_done)
			return -1;
		if (tick != NULL && tick(fd, arg) != 0)
			return now_msf() - since;
	}
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

struct slow {
	uint8_t msg[64];
	size_t off;
	double last;
};

/* One byte a second; a failed write means the SP has hung up. */
static int slow_tick(int fd, void *arg)
{
	struct slow *s = arg;

	if (now_msf() - s->last < 1000.0 || s->off >= sizeof(s->msg))
		return 0;
	s->last = now_msf();
	return write_all(fd, s->msg + s->off++, 1) != 0;
}

#define PIPE_REQUESTS 4000 /* INFO answers: far more than a socket buffer holds */

struct pipe {
	size_t off; /* bytes of the request stream written so far */
};

/* Push more pipelined INFO requests, as many bytes as the socket takes now. Never reads. */
static int pipe_tick(int fd, void *arg)
{
	static const uint8_t info[6] = { 0, 0, 0, 2, SC_SP_PROTO_VERSION, SC_SP_INFO };
	struct pipe *p = arg;

	while (p->off < PIPE_REQUESTS * sizeof(info)) {
		size_t at = p->off % sizeof(info);
		ssize_t w = send(fd, info + at, sizeof(info) - at, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (w <= 0)
			return 1; /* the SP hung up */
		p->off += (size_t)w;
	}
	return 0;
}

static void bad_record(struct bad *b, enum bad_kind k, double ms)
{
	b->count[k]++;
	if (ms < 0)
		b->open_at_end[k]++;
	else
		lat_add(&b->cut[k], ms);
}

static void bad_once(struct bad *b, enum bad_kind k)
{
	uint8_t buf[256];
	int fd = bad_connect(), i;
	double t;

	if (fd < 0) {
		fprintf(stderr, "sc-load: bad client %d: connect: %s\n", b->idx, strerror(errno));
		sleep(1);
		return;
	}
	switch (k) {
	case B_HALF:
		/* 100 bytes announced, 10 sent. */
		memset(buf, 0, sizeof(buf));
		buf[3] = 100;
		buf[4] = SC_SP_PROTO_VERSION;
		buf[5] = SC_SP_INFO;
		t = now_msf();
		if (write_all(fd, buf, 14) == 0)
			bad_record(b, k, wait_hangup(fd, t, NULL, NULL, 1));
		break;
	case B_SLOW: {
		struct slow s;

		memset(&s, 0, sizeof(s));
		s.msg[3] = 60;
		s.msg[4] = SC_SP_PROTO_VERSION;
		s.msg[5] = SC_SP_INFO;
		s.last = t = now_msf();
		if (write_all(fd, s.msg, 1) == 0) {
			s.off = 1;
			bad_record(b, k, wait_hangup(fd, t, slow_tick, &s, 1));
		}
		break;
	}
	case B_GARBAGE:
		/* Random frames of a legal length are answered; random lengths end it. */
		for (i = 0; i < 3; i++) {
			uint8_t ans[512];

			RAND_bytes(buf, sizeof(buf));
			buf[0] = buf[1] = 0;
			buf[2] = 0;
			buf[3] = 60;
			if (write_all(fd, buf, 64) != 0 || read(fd, ans, sizeof(ans)) <= 0)
				break;
		}
		RAND_bytes(buf, sizeof(buf));
		buf[0] |= 0x80; /* a length far over the limit */
		t = now_msf();
		if (write_all(fd, buf, sizeof(buf)) == 0)
			bad_record(b, k, wait_hangup(fd, t, NULL, NULL, 1));
		else
			bad_record(b, k, now_msf() - t);
		break;
	case B_OVERSIZE:
		for (i = 0; i < 20 && !G.good_done; i++) {
			if (i > 0 && (fd = bad_connect()) < 0)
				break;
			memset(buf, 0xff, 4);
			t = now_msf();
			if (write_all(fd, buf, 4) == 0)
				bad_record(b, k, wait_hangup(fd, t, NULL, NULL, 1));
			close(fd);
			fd = -1;
		}
		break;
	case B_NOREAD: {
		/* INFO after INFO, never reading an answer: once the SP's send buffer is full its
		 * answer waits, and the answer timeout must cut the connection. */
		struct pipe pp;

		memset(&pp, 0, sizeof(pp));
		t = now_msf();
		bad_record(b, k, wait_hangup(fd, t, pipe_tick, &pp, 0));
		break;
	}
	case B_MIDANSWER: {
		/* The same pipeline, then gone after a few bytes: the SP writes into a closed socket. */
		struct pipe pp;
		int n;

		memset(&pp, 0, sizeof(pp));
		for (n = 0; n < 50 && pipe_tick(fd, &pp) == 0; n++)
			;
		if (read(fd, buf, 6) > 0)
			b->survived[k]++;
		b->count[k]++;
		break;
	}
	case B_IDLE:
		t = now_msf();
		bad_record(b, k, wait_hangup(fd, t, NULL, NULL, 1));
		break;
	default: break;
	}
	if (fd >= 0)
		close(fd);
}

static void *bad_client(void *arg)
{
	struct bad *b = arg;
	int k = b->idx % B_N;

	while (!G.good_done) {
		bad_once(b, (enum bad_kind)k);
		k = (k + 1) % B_N;
	}
	return NULL;
}

/* ---- the run ---- */

/* Handles the SP holds now. *out is the caller's (free). */
static sc_err list_handles(uint32_t **out, size_t *n_out)
{
	struct sc_sp *sp = NULL;
	struct sc_sp_key *keys = NULL;
	size_t n = 0, i;
	sc_err r;

	*out = NULL;
	*n_out = 0;
	if ((r = sc_sp_connect(G.sock, &sp)) != SC_OK)
		return r;
	r = sc_sp_keys(sp, &keys, &n);
	sc_sp_close(sp);
	if (r != SC_OK)
		return r;
	if ((*out = calloc(n + 1, sizeof(uint32_t))) == NULL) {
		sc_sp_keys_free(keys, n);
		return sc_fail(SC_ERR_NOMEM, "handles");
	}
	for (i = 0; i < n; i++)
		(*out)[i] = keys[i].handle;
	*n_out = n;
	sc_sp_keys_free(keys, n);
	return SC_OK;
}

static int has(const uint32_t *v, size_t n, uint32_t h)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == h)
			return 1;
	return 0;
}

/* Everything the run allocated, so that leak checkers see only real leaks. */
static void free_all(struct client *clients, struct bad *bads, struct lat *all, struct lat *per_op,
    struct lat *cut)
{
	int c, k;
	size_t i;

	for (c = 0; c < G.n_clients; c++) {
		struct client *cl = &clients[c];

		for (k = 0; k < OP_N; k++)
			free(cl->lat[k].ms);
		for (i = 0; i < cl->pool_n; i++)
			OPENSSL_free(cl->pool[i].der);
		free(cl->pool);
		for (i = 0; i < cl->n_held; i++)
			X509_free(cl->held[i].cert);
		sc_sp_close(cl->sp);
	}
	for (c = 0; c < G.n_bad; c++)
		for (k = 0; k < B_N; k++)
			free(bads[c].cut[k].ms);
	free(all->ms);
	for (k = 0; k < OP_N; k++)
		free(per_op[k].ms);
	for (k = 0; k < B_N; k++)
		free(cut[k].ms);
	X509_free(G.signer);
	X509_free(G.kex);
	X509_free(G.device_ca);
	EVP_PKEY_free(G.signer_key);
}

static int usage(void)
{
	fprintf(stderr,
	    "usage: sc-load --sp SOCKET --net NETDIR --device-ca DEVICE-CA.pem --kex KEX.pem\n"
	    "       [--clients N] (--requests N | --seconds S) [--bad N] [--held FILE]\n"
	    "       [--profile-base EPOCH]\n");
	return 2;
}

static sc_err load_setup(const char *net, const char *dca, const char *kex)
{
	char path[4096];
	sc_err r;

	snprintf(path, sizeof(path), "%s/signer.pem", net);
	if ((r = sc_load_cert(path, &G.signer)) != SC_OK)
		return r;
	snprintf(path, sizeof(path), "%s/signer.key", net);
	if ((r = sc_key_open(path, &G.signer_key)) != SC_OK)
		return r;
	if ((r = sc_load_cert(dca, &G.device_ca)) != SC_OK ||
	    (r = sc_load_cert(kex, &G.kex)) != SC_OK)
		return r;
	if ((r = sc_cert_device_id(G.device_ca, G.device_id, sizeof(G.device_id))) != SC_OK)
		return r;
	return subject_attr(G.signer, NID_organizationName, G.network_id, sizeof(G.network_id));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sp", 1, NULL, 's' },
		{ "net", 1, NULL, 'n' },
		{ "device-ca", 1, NULL, 'd' },
		{ "kex", 1, NULL, 'k' },
		{ "clients", 1, NULL, 'c' },
		{ "requests", 1, NULL, 'r' },
		{ "seconds", 1, NULL, 't' },
		{ "bad", 1, NULL, 'b' },
		{ "held", 1, NULL, 'H' },
		{ "profile-base", 1, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	static struct client clients[MAX_CLIENTS];
	static struct bad bads[MAX_BAD];
	const char *net = NULL, *dca = NULL, *kex = NULL, *held_path = NULL;
	struct lat all, per_op[OP_N], cut[B_N];
	uint32_t *before = NULL, *after = NULL;
	size_t n_before = 0, n_after = 0, i, total_req = 0, total_err = 0, issued = 0, deleted = 0;
	size_t held = 0, lost = 0, unusable = 0, extra = 0;
	double secs;
	int opt, c, k;
	sc_err r;

	G.n_clients = 32;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': G.sock = optarg; break;
		case 'n': net = optarg; break;
		case 'd': dca = optarg; break;
		case 'k': kex = optarg; break;
		case 'c': G.n_clients = atoi(optarg); break;
		case 'r': G.requests = atol(optarg); break;
		case 't': G.seconds = atof(optarg); break;
		case 'b': G.n_bad = atoi(optarg); break;
		case 'H': held_path = optarg; break;
		case 'B': G.base = (time_t)atoll(optarg); break;
		default: return usage();
		}
	}
	if (G.sock == NULL || net == NULL || dca == NULL || kex == NULL || optind != argc ||
	    G.n_clients < 1 || G.n_clients > MAX_CLIENTS || G.n_bad < 0 || G.n_bad > MAX_BAD ||
	    (G.requests > 0) == (G.seconds > 0) || G.requests < 0 ||
	    /* the replay-cache argument in the header comment */
	    (uint64_t)G.n_clients * (DRIFT + 2) >= REPLAY_CACHE)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	if ((r = load_setup(net, dca, kex)) != SC_OK) {
		fprintf(stderr, "sc-load: %s: %s\n", sc_err_name(r), sc_err_detail());
		return 3;
	}
	pthread_mutex_init(&G.mu, NULL);
	pthread_cond_init(&G.cv, NULL);
	G.tokens = CHALLENGE_TOKENS;
	G.start = time(NULL);
	if (G.base == 0)
		G.base = G.start + PROFILE_BASE_S;
	if ((r = list_handles(&before, &n_before)) != SC_OK) {
		fprintf(stderr, "sc-load: keys before: %s: %s\n", sc_err_name(r), sc_err_detail());
		return 3;
	}

	/* Pre-sign every challenge-less profile of a counted run, so signing is not measured. */
	for (c = 0; c < G.n_clients; c++) {
		struct client *cl = &clients[c];
		long n_issue = 0, j;

		cl->idx = c;
		if ((r = sc_sp_connect(G.sock, &cl->sp)) != SC_OK) {
			fprintf(stderr, "sc-load: connect: %s: %s\n", sc_err_name(r),
			    sc_err_detail());
			return 3;
		}
		for (j = 0; j < G.requests; j++)
			n_issue += schedule[j % SCHEDULE_LEN] == OP_ISSUE;
		if (n_issue == 0)
			continue;
		if ((cl->pool = calloc((size_t)n_issue, sizeof(*cl->pool))) == NULL)
			return 3;
		/* Issue numbers: 2j for the challenge issue of cycle j, 2j+1 for this one. */
		for (j = 0; j < n_issue; j++)
			if ((r = make_profile(c, (uint64_t)(2 * j + 1), (int)((2 * j + 1) % 3),
			         NULL, &cl->pool[j].der, &cl->pool[j].len)) != SC_OK) {
				fprintf(stderr, "sc-load: presign: %s: %s\n", sc_err_name(r),
				    sc_err_detail());
				return 3;
			}
		cl->pool_n = (size_t)n_issue;
	}

	G.t0_ms = now_ms();
	for (c = 0; c < G.n_clients; c++)
		pthread_create(&clients[c].th, NULL, good_client, &clients[c]);
	for (k = 0; k < G.n_bad; k++) {
		bads[k].idx = k;
		pthread_create(&bads[k].th, NULL, bad_client, &bads[k]);
	}
	for (c = 0; c < G.n_clients; c++)
		pthread_join(clients[c].th, NULL);
	secs = (double)(now_ms() - G.t0_ms) / 1000.0;
	G.good_done = 1;
	for (k = 0; k < G.n_bad; k++)
		pthread_join(bads[k].th, NULL);

	memset(&all, 0, sizeof(all));
	memset(per_op, 0, sizeof(per_op));
	memset(cut, 0, sizeof(cut));
	for (c = 0; c < G.n_clients; c++) {
		for (k = 0; k < OP_N; k++) {
			lat_merge(&all, &clients[c].lat[k]);
			lat_merge(&per_op[k], &clients[c].lat[k]);
		}
		total_req += clients[c].requests;
		total_err += clients[c].errors;
		issued += clients[c].issued;
		deleted += clients[c].deleted;
	}

	/* Lost keys: the SP must list exactly what was there before plus what clients hold. */
	if ((r = list_handles(&after, &n_after)) != SC_OK) {
		fprintf(stderr, "sc-load: keys after: %s: %s\n", sc_err_name(r), sc_err_detail());
		return 3;
	}
	{
		FILE *hf = held_path != NULL ? fopen(held_path, "w") : NULL;
		struct sc_sp *sp = NULL;

		if (sc_sp_connect(G.sock, &sp) != SC_OK)
			sp = NULL;
		for (c = 0; c < G.n_clients; c++)
			for (i = 0; i < clients[c].n_held; i++) {
				struct held *h = &clients[c].held[i];

				held++;
				if (!has(after, n_after, h->handle))
					lost++;
				else if (sp == NULL || sign_and_verify(sp, h) != SC_OK)
					unusable++;
				if (hf != NULL)
					fprintf(hf, "%u\n", (unsigned)h->handle);
			}
		sc_sp_close(sp);
		if (hf != NULL)
			fclose(hf);
		for (i = 0; i < n_after; i++) {
			int mine = has(before, n_before, after[i]);

			for (c = 0; c < G.n_clients && !mine; c++)
				for (k = 0; k < (int)clients[c].n_held && !mine; k++)
					mine = clients[c].held[k].handle == after[i];
			extra += !mine;
		}
	}

	printf("sc-load: clients %d requests %zu seconds %.2f rate %.1f errors %zu\n", G.n_clients,
	    total_req, secs, secs > 0 ? (double)total_req / secs : 0.0, total_err);
	printf("sc-load: keys issued %zu deleted %zu held %zu listed %zu lost %zu extra %zu "
	       "unusable %zu\n",
	    issued, deleted, held, n_after - n_before, lost, extra, unusable);
	{
		uint64_t max_issues = 0;

		for (c = 0; c < G.n_clients; c++)
			if (clients[c].issues > max_issues)
				max_issues = clients[c].issues;
		/* Pre-signed profiles count too, used or not. */
		for (c = 0; c < G.n_clients; c++)
			if (2 * (uint64_t)clients[c].pool_n > max_issues)
				max_issues = 2 * (uint64_t)clients[c].pool_n;
		printf("sc-load: profile-not-after last %lld\n",
		    (long long)(G.base + (time_t)(max_issues * (uint64_t)G.n_clients)));
	}
	lat_print("latency-ms", "all", &all);
	for (k = 0; k < OP_N; k++)
		lat_print("latency-ms", op_names[k], &per_op[k]);
	for (k = 0; k < G.n_bad; k++) {
		int b;

		for (b = 0; b < B_N; b++)
			lat_merge(&cut[b], &bads[k].cut[b]);
	}
	if (G.n_bad > 0)
		for (k = 0; k < B_N; k++) {
			size_t n = 0, open = 0, surv = 0;
			int b;

			for (b = 0; b < G.n_bad; b++) {
				n += bads[b].count[k];
				open += bads[b].open_at_end[k];
				surv += bads[b].survived[k];
			}
			if (cut[k].n > 0) {
				qsort(cut[k].ms, cut[k].n, sizeof(double), cmp_double);
				printf(
				    "sc-load: bad %s n=%zu cut-ms min=%.0f p50=%.0f max=%.0f open-at-end=%zu\n",
				    bad_names[k], n, cut[k].ms[0], pct(&cut[k], 0.5),
				    cut[k].ms[cut[k].n - 1], open);
			} else {
				printf("sc-load: bad %s n=%zu open-at-end=%zu answered=%zu\n",
				    bad_names[k], n, open, surv);
			}
		}
	fflush(stdout);
	free_all(clients, bads, &all, per_op, cut);
	free(before);
	free(after);
	return total_err == 0 && lost == 0 && extra == 0 && unusable == 0 ? 0 : 1;
}
