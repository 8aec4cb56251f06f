// SPDX-License-Identifier: Apache-2.0
/*
 * bench_net.c — simulated devices, the two servers, and the keep-alive clients that drive them
 * (bench_net.h). Device keys live only in this process's memory, never on disk.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <selfcert/alg.h>
#include <selfcert/batch.h>
#include <selfcert/cert.h>
#include <selfcert/crl.h>
#include <selfcert/profile.h>
#include <selfcert/proof.h>
#include <sqlite3.h>
#include "bench_net.h"
#include "keyopen.h"
#include "pem.h"
#include "fast/spki.h"
#include "text.h"

#define DEV_DAYS 365 /* device CA validity: longer than the policy's 30 d leaves */
#define CHALLENGE_LEN SC_SP_CHALLENGE_LEN
#define ANSWER_MAX (1 << 20) /* an answer larger than this is a wrong answer */
#define START_TRIES 400      /* x 25 ms: a server answers within 10 s */
#define MAKE_THREADS 2

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		bench_die("set $%s", name);
	return v;
}

/* ---- the world ---- */

void bench_world_up(struct bench_world *w, const char *dir)
{
	bench_world_up_alg(w, dir, NULL);
}

void bench_world_up_alg(struct bench_world *w, const char *dir, const char *alg)
{
	const char *sc = need_env("SELFCERT");

	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->mfr_dir, sizeof(w->mfr_dir), "%s/mfr", dir);
	snprintf(w->net_dir, sizeof(w->net_dir), "%s/net", dir);
	snprintf(w->mfr_root, sizeof(w->mfr_root), "%s/root.pem", w->mfr_dir);
	snprintf(w->mfr_ca, sizeof(w->mfr_ca), "%s/ca.pem", w->mfr_dir);
	snprintf(w->mfr_ca_key, sizeof(w->mfr_ca_key), "%s/ca.key", w->mfr_dir);
	snprintf(w->net_root, sizeof(w->net_root), "%s/root.pem", w->net_dir);
	snprintf(w->server_cert, sizeof(w->server_cert), "%s/server.pem", w->net_dir);
	snprintf(w->server_key, sizeof(w->server_key), "%s/server.key", w->net_dir);
	bench_run(sc, "mfr", "init", "--dir", w->mfr_dir, (char *)NULL);
	if (alg != NULL)
		bench_run(sc, "net", "init", "--dir", w->net_dir, "--network-id", BENCH_NETWORK_ID,
		    "--alg", alg, (char *)NULL);
	else
		bench_run(sc, "net", "init", "--dir", w->net_dir, "--network-id", BENCH_NETWORK_ID,
		    (char *)NULL);
	bench_run(sc, "net", "server-cert", "--dir", w->net_dir, "--host", "127.0.0.1",
	    (char *)NULL);
	if (sc_load_cert(w->mfr_ca, &w->ca) != SC_OK ||
	    sc_key_open(w->mfr_ca_key, &w->ca_key) != SC_OK)
		bench_die("manufacturer CA in %s", w->mfr_dir);
}

void bench_world_down(struct bench_world *w)
{
	X509_free(w->ca);
	EVP_PKEY_free(w->ca_key);
	w->ca = NULL;
	w->ca_key = NULL;
}

/* ---- devices ---- */

/* A certificate's PEM from its DER, as PEM_write_bio_X509 writes it. */
static char *pem_of_der(const uint8_t *der, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	char *s;

	if (b == NULL || !PEM_write_bio(b, PEM_STRING_X509, "", der, (long)len))
		bench_die("PEM");
	BIO_get_mem_ptr(b, &m);
	if ((s = strndup(m->data, m->length)) == NULL)
		bench_die("out of memory");
	BIO_free(b);
	return s;
}

/*
 * A device's leaf as its SP issues one (sc_fast_issue_leaf: the SPKI written without OpenSSL
 * 3.0's encoder walk, the TBS encoded once; the same bytes as sc_cert_issue_leaf, which
 * test_cert compares), as selfcert-agent sends it: base64 DER (b64der16). The plain builder
 * cost this program ~2.3 M instructions more per leaf than a device pays, on the servers' cores.
 */
static char *leaf_b64(const struct sc_profile *prof, EVP_PKEY *key, X509 *devca, EVP_PKEY *csk,
    uint64_t counter)
{
	X509 *leaf = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	char *b64;

	if (sc_fast_issue_leaf(prof, key, devca, csk, counter, &leaf, &der, &len) != SC_OK)
		return NULL;
	if ((b64 = sc_base64_encode(der, len)) == NULL)
		bench_die("out of memory");
	OPENSSL_free(der);
	X509_free(leaf);
	return b64;
}

/* A certificate as selfcert-agent sends it (b64der16): the base64 of its DER. */
static char *b64_of(X509 *x)
{
	uint8_t *der = NULL;
	int len = i2d_X509(x, &der);
	char *b64;

	if (len <= 0 || (b64 = sc_base64_encode(der, (size_t)len)) == NULL)
		bench_die("certificate DER");
	OPENSSL_free(der);
	return b64;
}

static void dev_make(const struct bench_world *w, const char *ca_b64, const char *prefix,
    size_t num, struct bench_dev *d)
{
	EVP_PKEY *csk = NULL, *kek = NULL;
	X509 *devca = NULL, *kex = NULL;
	STACK_OF(X509) *stack;
	char *devca_b64, *kex_b64, *s;
	uint8_t *p = NULL;
	json_t *j;
	int len;

	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s-%06zu", prefix, num);
	if (sc_alg_keygen(SC_ALG_P256, &csk) != SC_OK ||
	    sc_alg_keygen(SC_ALG_P256, &kek) != SC_OK ||
	    sc_cert_device_ca(csk, d->id, DEV_DAYS, w->ca, w->ca_key, &devca) != SC_OK ||
	    sc_cert_device_kex(kek, d->id, DEV_DAYS, w->ca, w->ca_key, &kex) != SC_OK)
		bench_die("manufacturing %s", d->id);
	if ((len = i2d_PrivateKey(csk, &p)) <= 0)
		bench_die("CSK DER");
	d->csk = p;
	d->csk_len = (size_t)len;
	p = NULL;
	if ((len = i2d_X509(devca, &p)) <= 0)
		bench_die("device CA DER");
	d->ca = p;
	d->ca_len = (size_t)len;
	devca_b64 = b64_of(devca);
	kex_b64 = b64_of(kex);
	/* What every proof of this device binds: the request less its challenge, fixed from now. */
	if ((stack = sk_X509_new_null()) == NULL || !sk_X509_push(stack, devca) ||
	    !sk_X509_push(stack, w->ca) ||
	    sc_proof_request_digest(stack, kex, "p256", 0, d->digest) != SC_OK)
		bench_die("%s: the request digest", d->id);
	sk_X509_free(stack);
	/* The request as the agent sends it, less its last field: the challenge, fresh each time
	 * (b64der16: the chain an array of base64 DER strings, the KEK certificate base64 DER). */
	j = json_pack("{s:[s,s], s:s, s:s}", "chain", devca_b64, ca_b64, "kex", kex_b64, "alg",
	    "p256");
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL)
		bench_die("JSON");
	if ((d->request = malloc(strlen(s) + 32)) == NULL)
		bench_die("out of memory");
	s[strlen(s) - 1] = '\0';
	snprintf(d->request, strlen(s) + 32, "%s,\"challenge\":\"", s);
	free(s);
	json_decref(j);
	free(devca_b64);
	free(kex_b64);
	d->csk_key = csk; /* kept: bench_dev */
	d->ca_x509 = devca;
	EVP_PKEY_free(kek);
	X509_free(kex);
}

struct make_job {
	const struct bench_world *w;
	const char *ca_b64, *prefix;
	size_t first, from, to;
	struct bench_dev *out;
};

static void *make_thread(void *arg)
{
	struct make_job *j = arg;

	for (size_t i = j->from; i < j->to; i++)
		dev_make(j->w, j->ca_b64, j->prefix, j->first + i, &j->out[i]);
	return NULL;
}

void bench_devs_make(const struct bench_world *w, const char *prefix, size_t first, size_t n,
    struct bench_dev *out)
{
	struct make_job jobs[MAKE_THREADS];
	pthread_t th[MAKE_THREADS];
	char *ca_b64 = b64_of(w->ca);

	for (int t = 0; t < MAKE_THREADS; t++) {
		jobs[t] = (struct make_job){ w, ca_b64, prefix, first, n * (size_t)t / MAKE_THREADS,
			n * (size_t)(t + 1) / MAKE_THREADS, out };
		if (pthread_create(&th[t], NULL, make_thread, &jobs[t]) != 0)
			bench_die("pthread_create");
	}
	for (int t = 0; t < MAKE_THREADS; t++)
		pthread_join(th[t], NULL);
	free(ca_b64);
}

void bench_devs_free(struct bench_dev *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		OPENSSL_clear_free(d[i].csk, d[i].csk_len);
		OPENSSL_free(d[i].ca);
		EVP_PKEY_free(d[i].csk_key);
		X509_free(d[i].ca_x509);
		free(d[i].request);
		free(d[i].pending);
	}
}

/* argv run to its end (stdout to /dev/null); dies unless it exits 0. Its CPU seconds. */
static double run_cpu(char *const argv[])
{
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		bench_die("%s %s %s %s failed", argv[0], argv[1], argv[2], argv[3]);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* A certificate field of the request (a base64 DER string, or an array of them) as PEM text. */
static char *field_pem(json_t *v)
{
	size_t len = 0, i;
	char *all = calloc(1, 1);

	if (all == NULL || v == NULL)
		bench_die("a request without its certificates");
	for (i = 0; json_is_array(v) ? i < json_array_size(v) : i < 1; i++) {
		const char *b64 = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
		uint8_t *der = NULL;
		size_t der_len = 0;
		char *pem;

		if (b64 == NULL ||
		    sc_base64_decode(b64, strlen(b64), strlen(b64), &der, &der_len) != SC_OK)
			bench_die("a request's certificate is not base64");
		pem = pem_of_der(der, der_len);
		OPENSSL_free(der);
		if ((all = realloc(all, len + strlen(pem) + 1)) == NULL)
			bench_die("out of memory");
		memcpy(all + len, pem, strlen(pem) + 1);
		len += strlen(pem);
		free(pem);
	}
	return all;
}

/* DIR/<id>/chain.pem and kex.pem: the device's certificates as its request carries them. */
static void ship_one(const struct bench_dev *d, const char *ship)
{
	char dir[BENCH_PATH_MAX + 64], path[BENCH_PATH_MAX + 96], *text;
	const char *fields[] = { "chain", "kex" }, *files[] = { "chain.pem", "kex.pem" };
	json_t *j;

	/* The request less its challenge's value: closed, it is the JSON the agent would send. */
	if ((text = malloc(strlen(d->request) + 3)) == NULL)
		bench_die("out of memory");
	snprintf(text, strlen(d->request) + 3, "%s\"}", d->request);
	if ((j = json_loads(text, 0, NULL)) == NULL)
		bench_die("%s: its request is not JSON", d->id);
	snprintf(dir, sizeof(dir), "%s/%s", ship, d->id);
	if (mkdir(dir, 0700) != 0)
		bench_die("%s: %s", dir, strerror(errno));
	for (int i = 0; i < 2; i++) {
		char *pem = field_pem(json_object_get(j, fields[i]));
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if ((f = fopen(path, "w")) == NULL || fputs(pem, f) < 0 || fclose(f) != 0)
			bench_die("%s: cannot write it", path);
		free(pem);
	}
	json_decref(j);
	free(text);
}

double bench_devs_activate_certs(const struct bench_dev *d, size_t n, const char *db,
    const char *csv, const char *ship, const char *mfr_root)
{
	char *argv[16];
	int k = 0;
	FILE *f = fopen(csv, "w");

	if (f == NULL)
		bench_die("%s: %s", csv, strerror(errno));
	fprintf(f, "device_id,note\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s,bench\n", d[i].id);
	if (fclose(f) != 0)
		bench_die("%s: %s", csv, strerror(errno));
	argv[k++] = (char *)need_env("SELFCERT");
	argv[k++] = "net";
	argv[k++] = "device";
	argv[k++] = "import";
	argv[k++] = "--db";
	argv[k++] = (char *)db;
	argv[k++] = "--csv";
	argv[k++] = (char *)csv;
	if (ship != NULL) {
		if (mkdir(ship, 0700) != 0)
			bench_die("%s: %s", ship, strerror(errno));
		for (size_t i = 0; i < n; i++)
			ship_one(&d[i], ship);
		argv[k++] = "--certs";
		argv[k++] = (char *)ship;
		argv[k++] = "--mfr-root";
		argv[k++] = (char *)mfr_root;
	}
	argv[k] = NULL;
	return run_cpu(argv);
}

void bench_devs_activate(const struct bench_dev *d, size_t n, const char *db, const char *csv)
{
	(void)bench_devs_activate_certs(d, n, db, csv, NULL, NULL);
}

/*
 * provd's log lines answering `request` (e.g. "POST /v1/profiles 201"): *tagged those naming tag
 * (e.g. " pin=hit", the pinned path; " judge=pin"), *other the rest. With devices pinned at
 * activation the benches require every one tagged, or the figures would not be what they claim
 * (bench_ca --pin-at-activation, bench_fleet --renewal).
 */
void bench_log_tagged(const char *log, const char *request, const char *tag, size_t *tagged,
    size_t *other)
{
	char line[1024];
	FILE *f = fopen(log, "r");

	*tagged = *other = 0;
	if (f == NULL)
		bench_die("%s: cannot read it", log);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, request) == NULL)
			continue;
		if (strstr(line, tag) != NULL)
			(*tagged)++;
		else
			(*other)++;
	}
	fclose(f);
}

/* ---- HTTP ---- */

struct answer {
	char *p;
	size_t len, cap;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t add = size * n;

	if (a->len + add + 1 > ANSWER_MAX)
		return 0;
	if (a->len + add + 1 > a->cap) {
		size_t cap = (a->len + add + 1) * 2;
		char *p = realloc(a->p, cap);
		if (p == NULL)
			return 0;
		a->p = p;
		a->cap = cap;
	}
	memcpy(a->p + a->len, data, add);
	a->len += add;
	a->p[a->len] = '\0';
	return add;
}

int bench_agent_connections;
int bench_tls_resume = 1;
int bench_device_crl;
unsigned bench_device_crl_every = 1;
static unsigned long bench_crl_firsts;
const char *bench_profile_commit;
int bench_carry;

/* How a request meets its connection under bench_agent_connections (bench_net.h). */
enum conn_use {
	C_OPEN = 1,  /* a real client connects anew here */
	C_CLOSE = 2, /* and closes after this request */
};

static _Atomic unsigned long long http_bytes;

unsigned long long bench_http_bytes(void)
{
	return atomic_load(&http_bytes);
}

/* POST body to url on the client's keep-alive handle; the status, the answer in a. */
static long post(CURL *h, const char *url, const char *body, struct answer *a, long *connects,
    int use)
{
	long status = 0, nc = 0;
	CURLcode rc;

	if (!bench_agent_connections)
		use = 0;
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, (use & C_OPEN) ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, (use & C_CLOSE) ? 1L : 0L);
	a->len = 0;
	if (a->p)
		a->p[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	if ((rc = curl_easy_perform(h)) != CURLE_OK)
		bench_die("POST %s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
	*connects += nc;
	{
		/* CURLINFO_REQUEST_SIZE counts the request's header and body (libcurl 7.88: 1126
		 * for a 1000-byte body); CURLINFO_HEADER_SIZE the answer's header; a->len its body. */
		long req = 0, hdr = 0;

		curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req);
		curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &hdr);
		atomic_fetch_add(&http_bytes,
		    (unsigned long long)req + (unsigned long long)hdr + a->len);
	}
	return status;
}

static struct curl_slist *json_headers;

void bench_clients_init(struct bench_clients *c, int n, const struct bench_world *w)
{
	if (n < 1 || n > BENCH_MAX_CLIENTS)
		bench_die("clients: 1..%d", BENCH_MAX_CLIENTS);
	if (json_headers == NULL) {
		/* No "Expect: 100-continue" round trip before each body: real clients skip it too. */
		json_headers = curl_slist_append(NULL, "Content-Type: application/json");
		json_headers = curl_slist_append(json_headers, "Expect:");
	}
	c->n = n;
	for (int i = 0; i < n; i++) {
		if ((c->h[i] = curl_easy_init()) == NULL)
			bench_die("curl_easy_init");
		curl_easy_setopt(c->h[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->h[i], CURLOPT_CAINFO, w->net_root);
		curl_easy_setopt(c->h[i], CURLOPT_HTTPHEADER, json_headers);
		curl_easy_setopt(c->h[i], CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c->h[i], CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(c->h[i], CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(c->h[i], CURLOPT_TIMEOUT, 120L);
		/* TLS resumption (tickets) for both servers alike, or for neither (bench_net.h). */
		curl_easy_setopt(c->h[i], CURLOPT_SSL_SESSIONID_CACHE, bench_tls_resume ? 1L : 0L);
	}
}

void bench_clients_free(struct bench_clients *c)
{
	for (int i = 0; i < c->n; i++)
		curl_easy_cleanup(c->h[i]);
	c->n = 0;
}

long bench_http_get(const struct bench_world *w, const char *url, char **body)
{
	struct answer a = { NULL, 0, 0 };
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (h == NULL)
		bench_die("curl_easy_init");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CAINFO, w->net_root);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	if ((rc = curl_easy_perform(h)) != CURLE_OK)
		bench_die("GET %s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	*body = a.p;
	return status;
}

/* ---- servers ---- */

static int tcp_open(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void wait_port(pid_t pid, int port, const char *log)
{
	for (int i = 0; i < START_TRIES; i++) {
		if (tcp_open(port))
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			bench_die("the server exited at start (see %s)", log);
		usleep(25000);
	}
	bench_die("the server does not listen on port %d (see %s)", port, log);
}

/*
 * A loopback port for a server that cannot take port 0 (cfssl): nobody listens on it now, and it
 * lies below the kernel's ephemeral range, where a port can be the local end of any process's
 * outgoing connection (a connect does not see that; cfssl's bind then fails) or the one the
 * kernel hands to a server on port 0 between our pick and cfssl's bind. The pick used to be
 * exactly such a port (bind to port 0, close, reuse).
 */
static int free_port(void)
{
	unsigned lo = 32768, hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f != NULL) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo <= 12000)
			lo = 32768;
		fclose(f);
	}
	for (int i = 0; i < 100; i++) {
		uint32_t v = 0;
		int port;

		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			bench_die("RAND_bytes");
		port = (int)(10000 + v % (lo - 10000));
		if (!tcp_open(port))
			return port;
	}
	bench_die("no free port below %u", lo);
	return -1;
}

/* 1 once something accepts on port, 0 if the server exited first (its port was taken). */
static int started(pid_t pid, int port, const char *log)
{
	for (int i = 0; i < START_TRIES; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return 0;
		if (tcp_open(port))
			return 1;
		usleep(25000);
	}
	bench_die("the server does not listen on port %d (see %s)", port, log);
	return 0;
}

void bench_provd_start(const struct bench_world *w, const char *db, int threads, int tls,
    struct bench_server *s)
{
	char port_file[BENCH_PATH_MAX + 32], nthreads[16];
	const char *provd = need_env("SELFCERT_PROVD");
	char *argv[32];
	int n = 0, port = 0;

	snprintf(port_file, sizeof(port_file), "%s/provd.port", w->dir);
	snprintf(s->log, sizeof(s->log), "%s/provd.log", w->dir);
	snprintf(nthreads, sizeof(nthreads), "%d", threads);
	unlink(port_file);
	argv[n++] = (char *)provd;
	argv[n++] = "--db";
	argv[n++] = (char *)db;
	argv[n++] = "--net-dir";
	argv[n++] = (char *)w->net_dir;
	argv[n++] = "--mfr-root";
	argv[n++] = (char *)w->mfr_root;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--threads";
	argv[n++] = nthreads;
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	/* Every simulated device proves its requests: one without a proof is a benchmark bug. */
	argv[n++] = "--unauthenticated-budget";
	argv[n++] = "0";
	if (tls) {
		argv[n++] = "--tls-cert";
		argv[n++] = (char *)w->server_cert;
		argv[n++] = "--tls-key";
		argv[n++] = (char *)w->server_key;
	} else {
		argv[n++] = "--insecure-http";
	}
	if (w->signer_key != NULL) {
		argv[n++] = "--signer-key";
		argv[n++] = (char *)w->signer_key;
	}
	if (w->policy != NULL) {
		argv[n++] = "--policy";
		argv[n++] = (char *)w->policy;
	}
	if (w->profile_batch != NULL) {
		argv[n++] = "--profile-batch";
		argv[n++] = (char *)w->profile_batch;
	}
	if (w->profile_batch_wait != NULL) {
		argv[n++] = "--profile-batch-wait";
		argv[n++] = (char *)w->profile_batch_wait;
	}
	if (w->leaf_refs != NULL) {
		argv[n++] = "--leaf-refs";
		argv[n++] = (char *)w->leaf_refs;
	}
	if (bench_profile_commit != NULL) {
		argv[n++] = "--profile-commit";
		argv[n++] = (char *)bench_profile_commit;
	}
	argv[n] = NULL;
	s->pid = bench_spawn(argv, s->log);
	for (int i = 0; i < START_TRIES && port == 0; i++) {
		FILE *f = fopen(port_file, "r");
		if (f != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port == 0) {
			if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
				bench_die("selfcert-provd exited at start (see %s)", s->log);
			usleep(25000);
		}
	}
	if (port == 0)
		bench_die("selfcert-provd wrote no port (see %s)", s->log);
	wait_port(s->pid, port, s->log);
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", tls ? "https" : "http", port);
}

/*
 * cfssl's certificate database, as durable as provd's registry (issue 17: "at equal
 * durability"): SQLite in WAL mode with synchronous=FULL (an fsync per commit), the schema of
 * cfssl's certdb/sqlite/migrations (this cfssl's INSERT names these eight columns), made here
 * because cfssl does not create it. With -db-config, `cfssl serve`'s sign endpoint records every
 * certificate it signs (one INSERT, one transaction). Writes the config file's path to conf.
 *
 * BENCH_CFSSL_PG (session 10: "both durable, on SQLite and on PostgreSQL"): a lib/pq connection
 * string; cfssl then records into that PostgreSQL database (cfssl's certdb/pg schema, made by
 * bench/pg.sh on the same durable server as provd's registry) instead.
 */
const char *bench_cfssl_pg(void)
{
	const char *dsn = getenv("BENCH_CFSSL_PG");

	return dsn != NULL && *dsn != '\0' ? dsn : NULL;
}

const char *bench_cfssl_db_name(void)
{
	return bench_cfssl_pg() != NULL ? "PostgreSQL database (synchronous_commit=on, fsync=on)"
	                                : "SQLite database (WAL, synchronous=FULL)";
}

static void cfssl_db(const struct bench_world *w, char *conf, size_t conf_len)
{
	static const char *const schema =
	    "PRAGMA journal_mode = WAL;"
	    "CREATE TABLE certificates (serial_number blob NOT NULL, authority_key_identifier blob "
	    "NOT NULL, ca_label blob, status blob NOT NULL, reason int, expiry timestamp, "
	    "revoked_at timestamp, pem blob NOT NULL, PRIMARY KEY(serial_number, "
	    "authority_key_identifier));"
	    "CREATE TABLE ocsp_responses (serial_number blob NOT NULL, authority_key_identifier blob "
	    "NOT NULL, body blob NOT NULL, expiry timestamp, PRIMARY KEY(serial_number, "
	    "authority_key_identifier), FOREIGN KEY(serial_number, authority_key_identifier) "
	    "REFERENCES certificates(serial_number, authority_key_identifier));";
	const char *pg = bench_cfssl_pg();
	char db[BENCH_PATH_MAX + 32], *err = NULL;
	sqlite3 *h = NULL;
	FILE *f;

	snprintf(conf, conf_len, "%s/cfssl-db.json", w->dir);
	if ((f = fopen(conf, "w")) == NULL)
		bench_die("%s: cannot write it", conf);
	if (pg != NULL) {
		if (strpbrk(pg, "\"\\\n") != NULL)
			bench_die("BENCH_CFSSL_PG: no quotes, backslashes or newlines");
		fprintf(f, "{\"driver\":\"postgres\",\"data_source\":\"%s\"}\n", pg);
	} else {
		snprintf(db, sizeof(db), "%s/cfssl-certs.db", w->dir);
		if (sqlite3_open(db, &h) != SQLITE_OK ||
		    sqlite3_exec(h, schema, NULL, NULL, &err) != SQLITE_OK)
			bench_die("%s: cannot make cfssl's certificate database: %s", db,
			    err ? err : sqlite3_errmsg(h));
		sqlite3_close(h);
		/* go-sqlite3's DSN: WAL, an fsync per commit, and wait (not fail) on the write lock. */
		fprintf(f,
		    "{\"driver\":\"sqlite3\",\"data_source\":\"file:%s?_journal_mode=WAL&_synchronous=FULL"
		    "&_busy_timeout=30000\"}\n",
		    db);
	}
	if (fclose(f) != 0)
		bench_die("%s: cannot write it", conf);
}

/* Rows in cfssl's certificate database: proof that it recorded what it signed. */
long bench_cfssl_recorded(const struct bench_world *w)
{
	const char *pg = bench_cfssl_pg();
	char db[BENCH_PATH_MAX + 32];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	if (pg != NULL) {
		/* psql's own reading of the same connection string (no shell between). */
		char out[64] = "";
		int fd[2];
		pid_t pid;

		if (pipe(fd) != 0)
			return -1;
		if ((pid = fork()) == 0) {
			dup2(fd[1], STDOUT_FILENO);
			close(fd[0]);
			close(fd[1]);
			execlp("psql", "psql", "-X", "-q", "-A", "-t", "-d", pg, "-c",
			    "SELECT count(*) FROM certificates", (char *)NULL);
			_exit(127);
		}
		close(fd[1]);
		if (pid > 0) {
			ssize_t k = read(fd[0], out, sizeof(out) - 1);
			int st_ = 0;

			out[k > 0 ? k : 0] = '\0';
			if (waitpid(pid, &st_, 0) == pid && WIFEXITED(st_) && WEXITSTATUS(st_) == 0)
				n = atol(out);
		}
		close(fd[0]);
		return n;
	}
	snprintf(db, sizeof(db), "%s/cfssl-certs.db", w->dir);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT count(*) FROM certificates", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

int bench_cfssl_start(const struct bench_world *w, int tls, struct bench_server *s)
{
	static const char *const bins[] = { "/usr/bin/cfssl", "/usr/local/bin/cfssl" };
	const char *cfssl = getenv("CFSSL");
	char portstr[16], dbconf[BENCH_PATH_MAX + 32];
	char *argv[24];
	int n = 0, port = 0;

	for (size_t i = 0;
	     (cfssl == NULL || access(cfssl, X_OK) != 0) && i < sizeof(bins) / sizeof(bins[0]); i++)
		cfssl = bins[i];
	if (access(cfssl, X_OK) != 0)
		return -1;
	snprintf(s->log, sizeof(s->log), "%s/cfssl.log", w->dir);
	cfssl_db(w, dbconf, sizeof(dbconf));
	argv[n++] = (char *)cfssl;
	argv[n++] = "serve";
	argv[n++] = "-ca";
	argv[n++] = (char *)w->mfr_ca;
	argv[n++] = "-ca-key";
	argv[n++] = (char *)w->mfr_ca_key;
	argv[n++] = "-address";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-port";
	argv[n++] = portstr;
	argv[n++] = "-loglevel";
	argv[n++] = "1";
	argv[n++] = "-db-config";
	argv[n++] = dbconf;
	if (tls) {
		argv[n++] = "-tls-cert";
		argv[n++] = (char *)w->server_cert;
		argv[n++] = "-tls-key";
		argv[n++] = (char *)w->server_key;
	}
	argv[n] = NULL;
	/* Another process can still bind the port first: then cfssl exits, and a new port is tried. */
	for (int i = 0;; i++) {
		port = free_port();
		snprintf(portstr, sizeof(portstr), "%d", port);
		s->pid = bench_spawn(argv, s->log);
		if (started(s->pid, port, s->log))
			break;
		if (i == 4)
			bench_die("cfssl exited at start five times (see %s)", s->log);
	}
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", tls ? "https" : "http", port);
	return 0;
}

/* ---- one device, each way ---- */

/*
 * The SP's PROOF, in-process (req_issue.c's spd_h_proof): the to-be-signed bytes of proof.h over
 * this challenge, the device's ID and network, its request digest and the clock, signed with the
 * CSK as the SP signs (SHA-256, or nothing for Ed25519); as the agent sends it, a JSON object.
 * The client's cost: bench_ca's server CPU is the server process's alone.
 */
static char *proof_json(const struct bench_dev *d, EVP_PKEY *csk, const uint8_t *ch)
{
	char ch_hex[2 * SC_SP_CHALLENGE_LEN + 1], dg_hex[2 * SC_PROOF_DIGEST_LEN + 1], *b64, *s;
	struct sc_proof pr;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *tbs = NULL, *sig = NULL;
	size_t tbs_len = 0, sig_len = 0;
	time_t now = time(NULL);
	json_t *j;

	memset(&pr, 0, sizeof(pr));
	memcpy(pr.challenge, ch, SC_SP_CHALLENGE_LEN);
	snprintf(pr.device_id, sizeof(pr.device_id), "%s", d->id);
	snprintf(pr.network_id, sizeof(pr.network_id), "%s", BENCH_NETWORK_ID);
	memcpy(pr.request_digest, d->digest, SC_PROOF_DIGEST_LEN);
	pr.time = (uint64_t)now;
	if (ctx == NULL || now < 0 || sc_proof_tbs(&pr, &tbs, &tbs_len) != SC_OK ||
	    EVP_DigestSignInit(ctx, NULL, sc_sign_md(csk, SC_DIGEST_SHA256), NULL, csk) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, tbs, tbs_len) != 1 ||
	    (sig = OPENSSL_malloc(sig_len)) == NULL ||
	    EVP_DigestSign(ctx, sig, &sig_len, tbs, tbs_len) != 1)
		bench_die("%s: signing the request proof", d->id);
	sc_hex(ch, SC_SP_CHALLENGE_LEN, ch_hex);
	sc_hex(d->digest, SC_PROOF_DIGEST_LEN, dg_hex);
	if ((b64 = sc_base64_encode(sig, sig_len)) == NULL ||
	    (j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "device_id", pr.device_id,
	         "network_id", pr.network_id, "challenge", ch_hex, "request", dg_hex, "time",
	         (json_int_t)pr.time, "signature", b64)) == NULL ||
	    (s = json_dumps(j, JSON_COMPACT)) == NULL)
		bench_die("JSON");
	json_decref(j);
	free(b64);
	OPENSSL_free(sig);
	OPENSSL_free(tbs);
	EVP_MD_CTX_free(ctx);
	return s;
}

static size_t enrol_provd_x(const struct bench_server *s, CURL *h, struct bench_dev *d,
    struct answer *a, long *connects, int renew);

static void enrol_provd(const struct bench_server *s, CURL *h, struct bench_dev *d,
    struct answer *a, long *connects)
{
	(void)enrol_provd_x(s, h, d, a, connects, 0);
}

/* #17: the body of a POST /v1/certificates/batch of a renewal profile's certificates [from, to)
 * (index i with the SP's counter base + i), made as the device's SP makes them. */
static char *renewal_batch(const struct bench_dev *d, struct sc_profile *prof, EVP_PKEY *csk,
    X509 *devca, uint32_t from, uint32_t to, uint64_t base)
{
	json_t *list = json_array(), *jb;
	char *body;

	if (list == NULL)
		bench_die("JSON");
	for (uint32_t i = from; i < to; i++) {
		EVP_PKEY *key = NULL;
		char *leaf = NULL;

		if (sc_profile_set_renewal_index(prof, i) != SC_OK ||
		    sc_alg_keygen(SC_ALG_P256, &key) != SC_OK ||
		    (leaf = leaf_b64(prof, key, devca, csk, base + i)) == NULL)
			bench_die("%s: renewal certificate %u", d->id, i);
		if (json_array_append_new(list, json_string(leaf)) != 0)
			bench_die("JSON");
		free(leaf);
		EVP_PKEY_free(key);
	}
	if ((jb = json_pack("{s:o}", "certificates", list)) == NULL ||
	    (body = json_dumps(jb, JSON_COMPACT)) == NULL)
		bench_die("JSON");
	json_decref(jb);
	return body;
}

/* POST /v1/certificates/batch (body, freed), every certificate registered (or already). */
static void post_batch(const struct bench_server *s, CURL *h, const struct bench_dev *d,
    struct answer *a, long *connects, char *body, int use)
{
	char url[128];
	long st;

	snprintf(url, sizeof(url), "%s/v1/certificates/batch", s->url);
	if ((st = post(h, url, body, a, connects, use)) != 200 || strstr(a->p, "refused") != NULL)
		bench_die("%s: POST /v1/certificates/batch: HTTP %ld: %.300s", d->id, st,
		    a->p ? a->p : "");
	free(body);
}

/* The SP's CRL signature with the device CA's key (the CSK), as sc_crl_signer wants it. */
static sc_err crl_sign(void *ctx, const EVP_MD *md, const uint8_t *tbs, size_t len, uint8_t **sig,
    size_t *sig_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t *s = NULL;
	size_t n = 0;

	if (m == NULL || EVP_DigestSignInit(m, NULL, md, NULL, ctx) != 1 ||
	    EVP_DigestSign(m, NULL, &n, tbs, len) != 1 || (s = OPENSSL_malloc(n)) == NULL ||
	    EVP_DigestSign(m, s, &n, tbs, len) != 1)
		bench_die("signing the device CA CRL");
	EVP_MD_CTX_free(m);
	*sig = s;
	*sig_len = n;
	return SC_OK;
}

/*
 * fleet14 (bench_device_crl): the device CA's own CRL as the SP makes it (req_issue.c's
 * spd_h_crl: sc_crl_device_make, signed with the CSK), PEM, for the "crl" that selfcert-agent
 * sends with every first certificate (enroll.c's ack_pending and device_crl). Its number: the
 * SP's issuance counter here (the SP's clock there), increasing per device all the same.
 */
static char *device_crl_pem(const struct bench_dev *d, uint64_t number)
{
	uint8_t *der = NULL;
	size_t len = 0;
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	char *pem;

	if (b == NULL ||
	    sc_crl_device_make(d->ca_x509, number, (int64_t)time(NULL), SC_CRL_DEFAULT_LIFETIME,
	        crl_sign, d->csk_key, &der, &len) != SC_OK ||
	    !PEM_write_bio(b, "X509 CRL", "", der, (long)len))
		bench_die("%s: the device CA CRL: %s", d->id, sc_err_detail());
	BIO_get_mem_ptr(b, &m);
	if ((pem = strndup(m->data, m->length)) == NULL)
		bench_die("out of memory");
	BIO_free(b);
	OPENSSL_free(der);
	return pem;
}

/*
 * renew: 0 an ordinary profile, 1 a renewal profile (#17), 2 a Merkle batch leaf (#17); the
 * renewal profile's connection shapes (fleet14, bench_net.h): 3 BENCH_PROVD_RENEW_OPEN, 4
 * BENCH_PROVD_RENEW_NEXT, 5 BENCH_PROVD_RENEW_EACH.
 */
static size_t enrol_provd_x(const struct bench_server *s, CURL *h, struct bench_dev *d,
    struct answer *a, long *connects, int renew)
{
	struct sc_profile_info info;
	size_t certs = 1;
	uint8_t ch[CHALLENGE_LEN], *der = NULL;
	char hex[2 * CHALLENGE_LEN + 1], url[128], *body, *cert_body, *proof;
	const char *b64;
	char *b64_copy = NULL;
	size_t len = strlen(d->request) + sizeof(hex) + 4, b64_len, der_len;
	struct sc_profile *prof = NULL;
	EVP_PKEY *csk = NULL, *leaf_key = NULL;
	X509 *devca = NULL;
	json_t *j, *jc;
	char *leaf;
	long st;
	int n, profile_use = C_OPEN;
	uint64_t counter = 1; /* the SP's issuance counter for this window's first certificate */

	/* fleet14 (selfcert-agent --batch N >= K): the previous window's batch goes first, on the
	 * connection this window's profile request then uses. */
	if (renew == 4) {
		if (d->pending == NULL)
			bench_die("%s: no previous window's batch (BENCH_PROVD_RENEW_OPEN first)",
			    d->id);
		post_batch(s, h, d, a, connects, d->pending, C_OPEN);
		d->pending = NULL;
		certs = d->pending_k; /* its K-1 and this window's first */
		counter = (uint64_t)d->pending_k + 1;
		profile_use = 0;
	}
	/* The SP's challenge (here: this device's own random bytes, single use all the same). */
	if (RAND_bytes(ch, sizeof(ch)) != 1)
		bench_die("RAND_bytes");
	sc_hex(ch, sizeof(ch), hex);
	csk = d->csk_key; /* the SP's, loaded: not freed here */
	proof = proof_json(d, csk, ch);
	len += strlen(proof) + sizeof(",\"proof\":") + sizeof(",\"renewal\":true");
	if ((body = malloc(len)) == NULL)
		bench_die("out of memory");
	snprintf(body, len, "%s%s\",\"proof\":%s%s}", d->request, hex, proof,
	    renew == 2       ? ",\"batch\":true"
	        : renew != 0 ? ",\"renewal\":true"
	                     : "");
	free(proof);
	snprintf(url, sizeof(url), "%s/v1/profiles", s->url);
	if ((st = post(h, url, body, a, connects, profile_use)) != 201)
		bench_die("%s: POST /v1/profiles: HTTP %ld: %.300s", d->id, st, a->p ? a->p : "");
	free(body);
	if ((j = json_loadb(a->p, a->len, 0, NULL)) == NULL ||
	    (b64 = json_string_value(json_object_get(j, "profile"))) == NULL)
		bench_die("%s: profile answer without \"profile\": %.200s", d->id, a->p);
	if (renew == 2 && !json_is_true(json_object_get(j, "batched")))
		bench_die("%s: asked for a batch profile, got one signed alone (--profile-batch?)",
		    d->id);
	b64_len = strlen(b64);
	if (b64_len == 0 || b64_len % 4 != 0 || (der = malloc(b64_len / 4 * 3)) == NULL ||
	    (n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)b64_len)) < 0)
		bench_die("%s: \"profile\" is not base64", d->id);
	der_len = (size_t)n - (b64[b64_len - 1] == '=') - (b64[b64_len - 2] == '=');
	if ((b64_copy = strdup(b64)) == NULL)
		bench_die("out of memory");
	json_decref(j);

	/* The SP's issuance, in-process: decode, generate, issue with the CSK. */
	devca = d->ca_x509; /* the SP's, loaded: not freed here */
	if ((renew == 2 ? sc_batch_decode(der, der_len, &prof)
	                : sc_profile_decode(der, der_len, &prof)) != SC_OK ||
	    sc_alg_keygen(SC_ALG_P256, &leaf_key) != SC_OK ||
	    (leaf = leaf_b64(prof, leaf_key, devca, csk, counter)) == NULL)
		bench_die("%s: issuing the leaf", d->id);
	if ((jc = json_pack("{s:s}", "certificate", leaf)) == NULL)
		bench_die("JSON");
	/* crl14: 1 in bench_device_crl_every first certificates, fleet-wide (the windows staggered). */
	if (bench_device_crl &&
	    __atomic_fetch_add(&bench_crl_firsts, 1, __ATOMIC_RELAXED) % bench_device_crl_every ==
	        0) {
		char *crl = device_crl_pem(d, counter);

		if (json_object_set_new(jc, "crl", json_string(crl)) != 0)
			bench_die("JSON");
		free(crl);
	}
	/* #17 (dur11): the profile as answered and the chain of the profile request, as
	 * selfcert-agent sends them (an ordinary profile only). */
	if (bench_carry && renew == 0) {
		size_t rl = strlen(d->request);
		char *req = malloc(rl + 3);
		json_t *rj;

		if (req == NULL)
			bench_die("out of memory");
		memcpy(req, d->request, rl);
		memcpy(req + rl, "\"}", 3);
		if ((rj = json_loads(req, 0, NULL)) == NULL ||
		    json_object_set(jc, "chain", json_object_get(rj, "chain")) != 0 ||
		    json_object_set_new(jc, "profile", json_stringn(b64_copy, b64_len)) != 0)
			bench_die("%s: carrying the profile", d->id);
		json_decref(rj);
		free(req);
	}
	if ((cert_body = json_dumps(jc, JSON_COMPACT)) == NULL)
		bench_die("JSON");
	snprintf(url, sizeof(url), "%s/v1/certificates", s->url);
	if ((st = post(h, url, cert_body, a, connects, C_CLOSE)) != 201 ||
	    strstr(a->p, "\"status\":\"registered\"") == NULL ||
	    (json_object_get(jc, "crl") != NULL && strstr(a->p, "\"crl\":\"kept\"") == NULL))
		bench_die("%s: POST /v1/certificates: HTTP %ld: %.300s", d->id, st,
		    a->p ? a->p : "");
	free(cert_body);
	json_decref(jc);
	free(leaf);
	free(b64_copy);
	sc_profile_get_info(prof, &info);
	if (renew == 1 || renew >= 3) {
		uint32_t k = info.renewal_count;

		if (k < 2)
			bench_die("%s: asked for a renewal profile, got an ordinary one", d->id);
		if (renew == 1) { /* the K-1 in one batch, on a connection of their own */
			post_batch(s, h, d, a, connects,
			    renewal_batch(d, prof, csk, devca, 1, k, counter), C_OPEN | C_CLOSE);
			certs = k;
		} else if (renew == 3) { /* kept for the next window's connection */
			free(d->pending);
			d->pending = renewal_batch(d, prof, csk, devca, 1, k, counter);
			d->pending_k = k;
		} else if (renew == 5) { /* each alone, on a connection of its own */
			for (uint32_t i = 1; i < k; i++)
				post_batch(s, h, d, a, connects,
				    renewal_batch(d, prof, csk, devca, i, i + 1, counter),
				    C_OPEN | C_CLOSE);
			certs = k;
		}
	}
	free(der);
	sc_profile_free(prof);
	EVP_PKEY_free(leaf_key);
	return certs;
}

/*
 * The CSR's SubjectPublicKeyInfo for a P-256 key, from its point: the bytes
 * X509_REQ_set_pubkey writes (id-ecPublicKey, namedCurve prime256v1, the uncompressed point),
 * without OpenSSL 3.0's encoder-then-decoder walk for a provider key (X509_PUBKEY_set), which a
 * device's CSR code (cfssl's clients are Go) would not pay and which cost this program more than
 * the CSR's signature. Checked against X509_REQ_set_pubkey's bytes once, at the first CSR.
 */
static int csr_set_p256_pubkey(X509_REQ *req, EVP_PKEY *key)
{
	static atomic_int checked;
	unsigned char pt[65], *enc;
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
	        sizeof(pt), &len) ||
	    len != sizeof(pt) || (enc = OPENSSL_memdup(pt, len)) == NULL ||
	    !X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(req),
	        OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	        OBJ_nid2obj(NID_X9_62_prime256v1), enc, (int)len))
		return 0;
	if (atomic_exchange(&checked, 1) == 0) {
		X509_REQ *ref = X509_REQ_new();
		unsigned char *a = NULL, *b = NULL;
		int la, lb, same;

		if (ref == NULL || !X509_REQ_set_pubkey(ref, key))
			bench_die("CSR key");
		la = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &a);
		lb = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(ref), &b);
		same = la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0;
		OPENSSL_free(a);
		OPENSSL_free(b);
		X509_REQ_free(ref);
		if (!same)
			bench_die("the CSR's key is not X509_REQ_set_pubkey's bytes");
	}
	return 1;
}

static void enrol_cfssl(const struct bench_server *s, CURL *h, struct bench_dev *d,
    struct answer *a, long *connects)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	json_t *j, *r;
	char url[128], *csr, *body;
	const char *cert;
	long st;

	if (req == NULL || name == NULL || b == NULL || sc_alg_keygen(SC_ALG_P256, &key) != SC_OK ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)d->id, -1,
	        -1, 0) ||
	    !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, name) ||
	    !csr_set_p256_pubkey(req, key) || X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    !PEM_write_bio_X509_REQ(b, req))
		bench_die("%s: CSR", d->id);
	BIO_get_mem_ptr(b, &m);
	if ((csr = strndup(m->data, m->length)) == NULL ||
	    (j = json_pack("{s:s}", "certificate_request", csr)) == NULL ||
	    (body = json_dumps(j, JSON_COMPACT)) == NULL)
		bench_die("JSON");
	snprintf(url, sizeof(url), "%s/api/v1/cfssl/sign", s->url);
	if ((st = post(h, url, body, a, connects, C_OPEN | C_CLOSE)) != 200)
		bench_die("%s: cfssl sign: HTTP %ld: %.300s", d->id, st, a->p ? a->p : "");
	json_decref(j);
	if ((j = json_loadb(a->p, a->len, 0, NULL)) == NULL ||
	    !json_is_true(json_object_get(j, "success")) ||
	    (r = json_object_get(j, "result")) == NULL ||
	    (cert = json_string_value(json_object_get(r, "certificate"))) == NULL ||
	    strncmp(cert, "-----BEGIN CERTIFICATE-----", 27) != 0)
		bench_die("%s: cfssl answer without a certificate: %.300s", d->id, a->p);
	json_decref(j);
	free(body);
	free(csr);
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

/* ---- the clients ---- */

struct drive {
	enum bench_target t;
	const struct bench_server *s;
	struct bench_dev *devs;
	size_t n, progress;
	double deadline, t0;
	atomic_size_t next, done, certs;
	atomic_long connects;
};

struct client {
	struct drive *dr;
	CURL *h;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;
	struct drive *dr = c->dr;
	struct answer a = { NULL, 0, 0 };
	long connects = 0;

	for (;;) {
		size_t i, done;
		if (dr->deadline > 0 && bench_now() > dr->deadline)
			break;
		if ((i = atomic_fetch_add(&dr->next, 1)) >= dr->n)
			break;
		if (dr->t == BENCH_PROVD)
			enrol_provd(dr->s, c->h, &dr->devs[i], &a, &connects);
		else if (dr->t == BENCH_PROVD_BATCH)
			(void)enrol_provd_x(dr->s, c->h, &dr->devs[i], &a, &connects, 2);
		else if (dr->t == BENCH_PROVD_RENEW || dr->t == BENCH_PROVD_RENEW_OPEN ||
		    dr->t == BENCH_PROVD_RENEW_NEXT || dr->t == BENCH_PROVD_RENEW_EACH)
			atomic_fetch_add(&dr->certs,
			    enrol_provd_x(dr->s, c->h, &dr->devs[i], &a, &connects,
			        dr->t == BENCH_PROVD_RENEW            ? 1
			            : dr->t == BENCH_PROVD_RENEW_OPEN ? 3
			            : dr->t == BENCH_PROVD_RENEW_NEXT ? 4
			                                              : 5) -
			        1);
		else
			enrol_cfssl(dr->s, c->h, &dr->devs[i], &a, &connects);
		done = atomic_fetch_add(&dr->done, 1) + 1;
		if (dr->progress > 0 && done % dr->progress == 0)
			fprintf(stderr, "%s: %zu devices in %.1f s (%.0f/s)\n", bench_prog, done,
			    bench_now() - dr->t0, (double)done / (bench_now() - dr->t0));
	}
	atomic_fetch_add(&dr->connects, connects);
	free(a.p);
	return NULL;
}

void bench_drive(enum bench_target t, const struct bench_server *s, struct bench_clients *c,
    struct bench_dev *devs, size_t n, double deadline, size_t progress,
    struct bench_drive_result *out)
{
	struct drive dr;
	struct client cl[BENCH_MAX_CLIENTS];
	pthread_t th[BENCH_MAX_CLIENTS];

	memset(&dr, 0, sizeof(dr));
	dr.t = t;
	dr.s = s;
	dr.devs = devs;
	dr.n = n;
	dr.deadline = deadline;
	dr.progress = progress;
	atomic_init(&dr.next, 0);
	atomic_init(&dr.done, 0);
	atomic_init(&dr.connects, 0);
	atomic_init(&dr.certs, 0);
	dr.t0 = bench_now();
	for (int i = 0; i < c->n; i++) {
		cl[i].dr = &dr;
		cl[i].h = c->h[i];
		if (pthread_create(&th[i], NULL, client_thread, &cl[i]) != 0)
			bench_die("pthread_create");
	}
	for (int i = 0; i < c->n; i++)
		pthread_join(th[i], NULL);
	out->wall = bench_now() - dr.t0;
	out->done = atomic_load(&dr.done);
	out->new_connections = atomic_load(&dr.connects);
	out->certs = out->done + atomic_load(&dr.certs);
}
