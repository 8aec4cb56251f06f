/*
 * bench_sp.c — how fast the secure processor is against the cost of its own cryptography.
 *
 *   bench_sp issue [--rounds N] [--per-round K] [--json]   benchmark 1: issuance vs its limit
 *   bench_sp sign  [--rounds N] [--per-round K] [--json]   benchmark 2: key use vs in-process
 *
 * Each sets up real devices with the real `selfcert` and `selfcert-spd` (paths from $SELFCERT
 * and $SELFCERT_SPD), then times requests over the SP's socket and, in the same process and
 * run, the same primitives done with OpenSSL directly. Every figure is the median of N rounds
 * (each round the mean of K operations), with the range; ratios are of medians.
 * "Without the durable commit" puts the store on tmpfs (/dev/shm), where fsync costs nothing.
 * Benchmark 1's primitive sum: signer-chain and profile-signature verification, key generation
 * (or CMS unwrap), the certificate signature alone (EVP_DigestSign with the CSK over the
 * tbsCertificate DER of a leaf the SP issued in the run: building the X509 is the SP's own work,
 * not a primitive), and sealing. The SP is timed through sc_sp_issue (which parses the returned
 * certificate into an X509, an OpenSSL 3.0 decode) and, as "raw", through sc_sp_raw (the
 * answer's bytes only). --case N runs only issue_cases[N] (for profiling).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>
#include "buf.h"
#include "keyopen.h"
#include "pem.h"
#include "sp_wire.h"

#define MAX_ROUNDS 64

static int rounds = 7, per_round = 20, json, only_case = -1;
static const char *selfcert_bin, *spd_bin;

/* ---- timing ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct stat_set {
	double v[MAX_ROUNDS];
	int n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(struct stat_set *s)
{
	double t[MAX_ROUNDS];
	memcpy(t, s->v, sizeof(double) * (size_t)s->n);
	qsort(t, (size_t)s->n, sizeof(double), cmp_double);
	return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static double smin(const struct stat_set *s)
{
	double m = s->v[0];
	for (int i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

static double smax(const struct stat_set *s)
{
	double m = s->v[0];
	for (int i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bench_sp: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " [%s]\n", sc_err_detail());
	exit(1);
}

/* ---- a real device, set up with the real programs ---- */

static void run(const char *bin, ...)
{
	char *argv[40];
	va_list ap;
	int n = 0, status;
	pid_t pid;

	argv[n++] = (char *)bin;
	va_start(ap, bin);
	while (n < 39 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, STDOUT_FILENO);
		execv(bin, argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s %s %s failed", bin, argv[1], argv[2] ? argv[2] : "");
}

struct device {
	char dir[512], sock[1024], store[1024];
	pid_t spd;
	X509 *device_ca, *kex, *signer;
	EVP_PKEY *signer_key;
};

static void path(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void device_up(struct device *d, const char *base, const char *tag, const char *csk,
    const char *kex, const char *signer)
{
	char mfr[600], net[600], sp[600], out[600], root[700], p[700];

	snprintf(d->dir, sizeof(d->dir), "%s/%s", base, tag);
	if (mkdir(d->dir, 0700) != 0)
		die("mkdir %s: %s", d->dir, strerror(errno));
	path(mfr, sizeof(mfr), d->dir, "mfr");
	path(net, sizeof(net), d->dir, "net");
	path(sp, sizeof(sp), d->dir, "sp");
	path(out, sizeof(out), d->dir, "dev");
	path(d->sock, sizeof(d->sock), d->dir, "sp.sock");
	path(d->store, sizeof(d->store), sp, "store");
	path(root, sizeof(root), net, "root.pem");
	run(selfcert_bin, "mfr", "init", "--dir", mfr, NULL);
	run(selfcert_bin, "net", "init", "--dir", net, "--network-id", "bench", "--alg", signer, NULL);
	run(selfcert_bin, "sp", "init", "--store", sp, "--device-id", "BENCH-1", NULL);
	d->spd = fork();
	if (d->spd == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, STDERR_FILENO);
		execl(spd_bin, spd_bin, "--store", sp, "--socket", d->sock, "--foreground", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct sc_sp *c = NULL;
		if (sc_sp_connect(d->sock, &c) == SC_OK) {
			sc_sp_close(c);
			break;
		}
		usleep(20000);
	}
	run(selfcert_bin, "mfr", "personalize", "--dir", mfr, "--sp", d->sock, "--out", out, "--csk-alg", csk,
	    "--kex-alg", kex, "--net-root", root, "--network-id", "bench", "--max-keys", "256", NULL);
	path(p, sizeof(p), out, "device-ca.pem");
	if (sc_load_cert(p, &d->device_ca) != SC_OK)
		die("%s", p);
	path(p, sizeof(p), out, "kex.pem");
	if (sc_load_cert(p, &d->kex) != SC_OK)
		die("%s", p);
	path(p, sizeof(p), net, "signer.pem");
	if (sc_load_cert(p, &d->signer) != SC_OK)
		die("%s", p);
	path(p, sizeof(p), net, "signer.key");
	if (sc_key_open(p, &d->signer_key) != SC_OK)
		die("%s", p);
}

static void device_down(struct device *d)
{
	if (d->spd > 0) {
		kill(d->spd, SIGTERM);
		waitpid(d->spd, NULL, 0);
	}
	X509_free(d->device_ca);
	X509_free(d->kex);
	X509_free(d->signer);
	EVP_PKEY_free(d->signer_key);
}

/* A signed profile for the device, as the provisioning server would make it. */
static uint8_t *make_profile(struct device *d, enum sc_alg leaf, EVP_PKEY *supplied, size_t *len)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	uint8_t *der = NULL;
	time_t now = time(NULL);

	memset(&pp, 0, sizeof(pp));
	pp.network_id = "bench";
	pp.device_id = "BENCH-1";
	pp.profile_not_after = now + 3600;
	pp.not_before = now;
	pp.not_after = now + 7 * 86400;
	pp.generate_alg = leaf;
	pp.supplied_key = supplied;
	pp.kek_cert = d->kex;
	pp.cert_digest = SC_DIGEST_SHA256;
	if (sc_profile_create(&pp, &p) != SC_OK || sc_profile_sign(p, d->signer_key, d->signer, NULL, 0) != SC_OK ||
	    sc_profile_encode(p, &der, len) != SC_OK)
		die("profile");
	sc_profile_free(p);
	return der;
}

/* ---- the primitives, with OpenSSL directly ---- */

struct primitives {
	double verify_chain, verify_sig, key, cert_sign, seal;
};

/*
 * One issuance's worth of primitives, each timed on its own (median of the rounds, each the
 * mean of K operations, as for the SP): signer chain verification,
 * profile signature verification, key generation (or CMS unwrap + PKCS#8 parse), certificate
 * signing with a key of the CSK's algorithm, and sealing a store of the current size.
 */
static void time_primitives(struct device *d, enum sc_alg csk_alg, enum sc_alg leaf_alg, int supplied,
    const uint8_t *profile, size_t profile_len, size_t store_len, X509 *leaf_cert, struct primitives *out)
{
	X509_STORE *store = X509_STORE_new();
	X509 *root = NULL;
	char rp[800];
	EVP_PKEY *csk = NULL, *kek = NULL, *sup = NULL;
	X509 *kek_cert = NULL, *kek_ca = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL;
	uint8_t *pk8 = NULL, key[32], nonce[12], tag[16], *plain, *ct;
	int pk8_len = 0, outl;
	double t;
	struct stat_set st_verify_chain = { .n = 0 }, st_verify_sig = { .n = 0 }, st_key = { .n = 0 },
	    st_cert_sign = { .n = 0 }, st_seal = { .n = 0 };

	path(rp, sizeof(rp), d->dir, "net/root.pem");
	if (sc_load_cert(rp, &root) != SC_OK)
		die("%s", rp);
	X509_STORE_add_cert(store, root);
	if (sc_alg_keygen(csk_alg, &csk) != SC_OK)
		die("csk");

	for (int r = 0; r < rounds; r++) {
		t = now_s();
		for (int i = 0; i < per_round; i++) {
			X509_STORE_CTX *ctx = X509_STORE_CTX_new();
			X509_STORE_CTX_init(ctx, store, d->signer, NULL);
			if (X509_verify_cert(ctx) != 1)
				die("chain");
			X509_STORE_CTX_free(ctx);
		}
		st_verify_chain.v[st_verify_chain.n++] = (now_s() - t) / per_round;
	}
	out->verify_chain = median(&st_verify_chain);

	{
		/* Sign the profile's bytes here once, then time the verification alone. */
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		uint8_t sig[1024];
		size_t siglen = sizeof(sig);
		const EVP_MD *md = sc_sign_md(d->signer_key, SC_DIGEST_NONE);
		EVP_DigestSignInit(m, NULL, md, NULL, d->signer_key);
		if (EVP_DigestSign(m, sig, &siglen, profile, profile_len) != 1)
			die("sign");
		EVP_MD_CTX_free(m);
		for (int r = 0; r < rounds; r++) {
			t = now_s();
			for (int i = 0; i < per_round; i++) {
				m = EVP_MD_CTX_new();
				EVP_DigestVerifyInit(m, NULL, md, NULL, X509_get0_pubkey(d->signer));
				if (EVP_DigestVerify(m, sig, siglen, profile, profile_len) != 1)
					die("verify");
				EVP_MD_CTX_free(m);
			}
			st_verify_sig.v[st_verify_sig.n++] = (now_s() - t) / per_round;
		}
		out->verify_sig = median(&st_verify_sig);
	}

	if (!supplied) {
		for (int r = 0; r < rounds; r++) {
			t = now_s();
			for (int i = 0; i < per_round; i++) {
				EVP_PKEY *k = NULL;
				if (sc_alg_keygen(leaf_alg, &k) != SC_OK)
					die("keygen");
				EVP_PKEY_free(k);
			}
			st_key.v[st_key.n++] = (now_s() - t) / per_round;
		}
		out->key = median(&st_key);
	} else {
		/* A KEK of the device's type, certified here, and one envelope to open repeatedly. */
		EVP_PKEY *ca_key = NULL;
		X509 *ca = NULL;
		PKCS8_PRIV_KEY_INFO *p8;
		if (sc_alg_keygen(sc_alg_of_key(X509_get0_pubkey(d->kex)), &kek) != SC_OK ||
		    sc_alg_keygen(SC_ALG_P256, &ca_key) != SC_OK || sc_cert_mfr_root(ca_key, "Bench", 30, &ca) != SC_OK ||
		    sc_cert_mfr_ca(ca_key, "Bench", 30, ca, ca_key, &kek_ca) != SC_OK ||
		    sc_cert_device_kex(kek, "BENCH-1", 30, kek_ca, ca_key, &kek_cert) != SC_OK ||
		    sc_alg_keygen(leaf_alg, &sup) != SC_OK)
			die("kek");
		p8 = EVP_PKEY2PKCS8(sup);
		pk8_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &pk8);
		PKCS8_PRIV_KEY_INFO_free(p8);
		in = BIO_new_mem_buf(pk8, pk8_len);
		{
			STACK_OF(X509) *rcpt = sk_X509_new_null();
			sk_X509_push(rcpt, kek_cert);
			cms = CMS_encrypt(rcpt, in, EVP_aes_256_gcm(), CMS_BINARY);
			sk_X509_free(rcpt);
		}
		if (cms == NULL)
			die("cms");
		for (int r = 0; r < rounds; r++) {
			t = now_s();
			for (int i = 0; i < per_round; i++) {
				BIO *o = BIO_new(BIO_s_mem());
				const unsigned char *pp;
				BUF_MEM *mem;
				EVP_PKEY *k;
				if (CMS_decrypt(cms, kek, kek_cert, NULL, o, 0) != 1)
					die("unwrap");
				BIO_get_mem_ptr(o, &mem);
				pp = (const unsigned char *)mem->data;
				k = d2i_AutoPrivateKey(NULL, &pp, (long)mem->length);
				if (k == NULL || EVP_PKEY_eq(k, sup) != 1)
					die("unwrap key");
				EVP_PKEY_free(k);
				BIO_free(o);
			}
			st_key.v[st_key.n++] = (now_s() - t) / per_round;
		}
		out->key = median(&st_key);
		EVP_PKEY_free(ca_key);
		X509_free(ca);
	}

	/*
	 * Certificate signing: EVP_DigestSign with the CSK over the tbsCertificate DER of a leaf
	 * the SP issued in this run. Only the signature: building the X509 (and OpenSSL 3.0's
	 * SubjectPublicKeyInfo encoding) is the SP's own work, not a primitive.
	 */
	{
		uint8_t *tbs = NULL, sig[1024];
		int tbs_len = i2d_re_X509_tbs(leaf_cert, &tbs);
		const EVP_MD *md = sc_sign_md(csk, SC_DIGEST_SHA256);
		if (tbs_len <= 0)
			die("tbs");
		for (int r = 0; r < rounds; r++) {
			t = now_s();
			for (int i = 0; i < per_round; i++) {
				EVP_MD_CTX *m = EVP_MD_CTX_new();
				size_t siglen = sizeof(sig);
				if (EVP_DigestSignInit(m, NULL, md, NULL, csk) != 1 ||
				    EVP_DigestSign(m, sig, &siglen, tbs, (size_t)tbs_len) != 1)
					die("tbs sign");
				EVP_MD_CTX_free(m);
			}
			st_cert_sign.v[st_cert_sign.n++] = (now_s() - t) / per_round;
		}
		out->cert_sign = median(&st_cert_sign);
		OPENSSL_free(tbs);
	}

	/* Sealing: HKDF for the key, AES-256-GCM over a buffer the size of the store. */
	plain = malloc(store_len + 1);
	ct = malloc(store_len + 16);
	memset(plain, 0x5a, store_len + 1);
	for (int r = 0; r < rounds; r++) {
		t = now_s();
		for (int i = 0; i < per_round; i++) {
			EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
			EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
			OSSL_PARAM params[4];
			EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
			params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
			params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, plain, 32);
			params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, "selfcert-store-v1", 17);
			params[3] = OSSL_PARAM_construct_end();
			if (EVP_KDF_derive(kctx, key, sizeof(key), params) != 1)
				die("hkdf");
			RAND_bytes(nonce, sizeof(nonce));
			if (!EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) ||
			    !EVP_EncryptUpdate(c, ct, &outl, plain, (int)store_len) || !EVP_EncryptFinal_ex(c, ct + outl, &outl) ||
			    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag))
				die("gcm");
			EVP_CIPHER_CTX_free(c);
			EVP_KDF_CTX_free(kctx);
			EVP_KDF_free(kdf);
		}
		st_seal.v[st_seal.n++] = (now_s() - t) / per_round;
	}
	out->seal = median(&st_seal);

	free(plain);
	free(ct);
	OPENSSL_free(pk8);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(csk);
	EVP_PKEY_free(kek);
	EVP_PKEY_free(sup);
	X509_free(kek_cert);
	X509_free(kek_ca);
	X509_free(root);
	X509_STORE_free(store);
}

/* ---- benchmark 1 ---- */

struct issue_case {
	const char *name, *csk, *leaf, *signer;
	int supplied;
};

static const struct issue_case issue_cases[] = {
	{ "P-256/P-256/P-256", "p256", "p256", "p256", 0 },
	{ "RSA-3072/P-256/P-256", "rsa3072", "p256", "p256", 0 },
	{ "Ed25519/Ed25519/P-256", "ed25519", "ed25519", "p256", 0 },
	{ "RSA-2048/RSA-2048/RSA-2048 supplied", "rsa2048", "rsa2048", "rsa2048", 1 },
};

/*
 * One ISSUE as raw bytes (sc_sp_raw): the SP's round trip without the client's parse of the
 * certificate into an X509, which sc_sp_issue does. The answer is checked and its handle taken.
 */
static void issue_raw(struct sc_sp *sp, const uint8_t *profile, size_t len, uint32_t *handle)
{
	struct sc_buf req, rd;
	uint8_t *ans = NULL;
	size_t ans_len = 0, cert_len = 0;
	const uint8_t *cert;

	sc_wire_begin(&req, SC_SP_ISSUE, 0);
	sc_buf_put_string(&req, profile, len);
	if (sc_buf_done(&req, "issue") != SC_OK || sc_sp_raw(sp, req.data, req.len, &ans, &ans_len) != SC_OK)
		die("raw issue");
	sc_buf_init_reader(&rd, ans, ans_len);
	if (sc_buf_get_u8(&rd) != SC_SP_PROTO_VERSION || sc_buf_get_u8(&rd) != (SC_SP_ISSUE | 0x80))
		die("raw issue: not an ISSUE answer");
	*handle = sc_buf_get_u32(&rd);
	sc_buf_get_string(&rd, &cert, &cert_len, SC_WIRE_MAX_CERT);
	if (sc_buf_done(&rd, "issue answer") != SC_OK || *handle == 0 || cert_len == 0)
		die("raw issue answer");
	sc_buf_free(&req);
	OPENSSL_free(ans);
}

/*
 * Median seconds per issuance over the socket, K per round, keys deleted between rounds:
 * through sc_sp_issue into s and, when s_raw is given, in the same rounds (interleaved, so that
 * both see the same load) through issue_raw into s_raw (no X509 parse in the client).
 */
static void time_issue(struct device *d, enum sc_alg leaf, int supplied, struct stat_set *s,
    struct stat_set *s_raw, size_t *store_len, X509 **last)
{
	uint8_t *profiles[256];
	size_t lens[256];
	uint32_t handles[256];
	struct sc_sp *sp = NULL;
	struct stat st;

	if (sc_sp_connect(d->sock, &sp) != SC_OK)
		die("connect");
	s->n = 0;
	if (s_raw != NULL)
		s_raw->n = 0;
	for (int r = 0; r < rounds; r++) {
		for (int raw = 0; raw < (s_raw != NULL ? 2 : 1); raw++) {
			double t;
			for (int i = 0; i < per_round; i++) {
				EVP_PKEY *k = NULL;
				if (supplied && sc_alg_keygen(leaf, &k) != SC_OK)
					die("supplied key");
				profiles[i] = make_profile(d, leaf, k, &lens[i]);
				EVP_PKEY_free(k);
			}
			t = now_s();
			for (int i = 0; i < per_round; i++) {
				X509 *cert = NULL;
				if (raw) {
					issue_raw(sp, profiles[i], lens[i], &handles[i]);
					continue;
				}
				if (sc_sp_issue(sp, profiles[i], lens[i], &handles[i], &cert) != SC_OK)
					die("issue");
				if (last != NULL) {
					X509_free(*last);
					*last = cert;
				} else {
					X509_free(cert);
				}
			}
			if (raw)
				s_raw->v[s_raw->n++] = (now_s() - t) / per_round;
			else
				s->v[s->n++] = (now_s() - t) / per_round;
			if (stat(d->store, &st) == 0)
				*store_len = (size_t)st.st_size;
			for (int i = 0; i < per_round; i++) {
				OPENSSL_free(profiles[i]);
				if (sc_sp_delete(sp, handles[i]) != SC_OK)
					die("delete");
			}
		}
	}
	sc_sp_close(sp);
}

static int bench_issue(const char *disk_base)
{
	char shm[256], disk[256];
	int printed = 0;

	snprintf(shm, sizeof(shm), "/dev/shm/selfcert-bench-XXXXXX");
	snprintf(disk, sizeof(disk), "%s/selfcert-bench-XXXXXX", disk_base);
	if (mkdtemp(shm) == NULL || mkdtemp(disk) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (json)
		printf("{\"benchmark\":\"issue\",\"rounds\":%d,\"per_round\":%d,\"cases\":[", rounds, per_round);
	else
		printf("Benchmark 1: issuance over the SP socket vs the sum of its primitives (ms, median [min-max] of %d rounds x %d)\n"
		       "%-36s %22s %22s %22s %9s %9s %9s %9s %9s %9s %7s %7s %8s\n", rounds, per_round, "CSK/leaf/signer",
		    "SP no commit (tmpfs)", "SP durable (disk)", "SP raw, no commit", "chain", "sig", "key", "certsign", "seal", "sum",
		    "ratio", "raw", "issue/s");
	for (size_t c = 0; c < sizeof(issue_cases) / sizeof(issue_cases[0]); c++) {
		const struct issue_case *ic = &issue_cases[c];
		struct device dt, dd;
		struct stat_set st_shm, st_disk, st_raw;
		struct primitives pr;
		enum sc_alg csk, leaf;
		size_t store_len = 4096, plen = 0;
		uint8_t *sample;
		X509 *leaf_cert = NULL;
		char tag[32];
		double sum, m_shm, m_disk, m_raw;

		if (only_case >= 0 && (size_t)only_case != c)
			continue;
		memset(&dt, 0, sizeof(dt));
		memset(&dd, 0, sizeof(dd));
		if (sc_alg_from_name(ic->csk, &csk) != SC_OK || sc_alg_from_name(ic->leaf, &leaf) != SC_OK)
			die("alg");
		snprintf(tag, sizeof(tag), "case%zu", c);
		device_up(&dt, shm, tag, ic->csk, ic->supplied ? ic->leaf : "p256", ic->signer);
		device_up(&dd, disk, tag, ic->csk, ic->supplied ? ic->leaf : "p256", ic->signer);
		time_issue(&dt, leaf, ic->supplied, &st_shm, &st_raw, &store_len, &leaf_cert);
		time_issue(&dd, leaf, ic->supplied, &st_disk, NULL, &store_len, NULL);
		sample = make_profile(&dt, leaf, NULL, &plen);
		time_primitives(&dt, csk, leaf, ic->supplied, sample, plen, store_len, leaf_cert, &pr);
		OPENSSL_free(sample);
		X509_free(leaf_cert);
		sum = pr.verify_chain + pr.verify_sig + pr.key + pr.cert_sign + pr.seal;
		m_shm = median(&st_shm);
		m_disk = median(&st_disk);
		m_raw = median(&st_raw);
		if (json) {
			printf("%s{\"case\":\"%s\",\"sp_nocommit_ms\":{\"median\":%.4f,\"min\":%.4f,\"max\":%.4f},"
			       "\"sp_durable_ms\":{\"median\":%.4f,\"min\":%.4f,\"max\":%.4f},"
			       "\"sp_raw_nocommit_ms\":{\"median\":%.4f,\"min\":%.4f,\"max\":%.4f},"
			       "\"primitives_ms\":{\"chain\":%.4f,\"signature\":%.4f,\"key\":%.4f,\"cert_sign\":%.4f,\"seal\":%.4f,\"sum\":%.4f},"
			       "\"ratio_nocommit\":%.3f,\"ratio_raw_nocommit\":%.3f,\"ratio_durable\":%.3f,\"issuances_per_s_nocommit\":%.1f,\"issuances_per_s_durable\":%.1f}",
			    printed++ ? "," : "", ic->name, m_shm * 1e3, smin(&st_shm) * 1e3, smax(&st_shm) * 1e3, m_disk * 1e3,
			    smin(&st_disk) * 1e3, smax(&st_disk) * 1e3, m_raw * 1e3, smin(&st_raw) * 1e3, smax(&st_raw) * 1e3,
			    pr.verify_chain * 1e3, pr.verify_sig * 1e3, pr.key * 1e3,
			    pr.cert_sign * 1e3, pr.seal * 1e3, sum * 1e3, m_shm / sum, m_raw / sum, m_disk / sum, 1 / m_shm,
			    1 / m_disk);
		} else {
			char a[40], b[40], c2[40];
			snprintf(a, sizeof(a), "%.2f [%.2f-%.2f]", m_shm * 1e3, smin(&st_shm) * 1e3, smax(&st_shm) * 1e3);
			snprintf(b, sizeof(b), "%.2f [%.2f-%.2f]", m_disk * 1e3, smin(&st_disk) * 1e3, smax(&st_disk) * 1e3);
			snprintf(c2, sizeof(c2), "%.2f [%.2f-%.2f]", m_raw * 1e3, smin(&st_raw) * 1e3, smax(&st_raw) * 1e3);
			printf("%-36s %22s %22s %22s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %6.2fx %6.2fx %8.0f\n", ic->name, a, b, c2,
			    pr.verify_chain * 1e3, pr.verify_sig * 1e3, pr.key * 1e3, pr.cert_sign * 1e3, pr.seal * 1e3, sum * 1e3,
			    m_shm / sum, m_raw / sum, 1 / m_shm);
		}
		device_down(&dt);
		device_down(&dd);
	}
	if (json)
		printf("]}\n");
	else
		printf("ratio = SP issue latency (sc_sp_issue, which parses the certificate into an X509) without the durable\n"
		       "commit / primitive sum; raw = the same through sc_sp_raw (no client-side parse); issue/s for one client,\n"
		       "no commit.\n");
	run("/bin/rm", "-rf", shm, disk, NULL);
	return 0;
}

/* ---- benchmark 2 ---- */

static int bench_sign(const char *disk_base)
{
	static const char *const leaves[] = { "p256", "ed25519", "rsa2048" };
	char shm[256];
	struct device d;
	uint8_t msg[32];

	(void)disk_base;
	snprintf(shm, sizeof(shm), "/dev/shm/selfcert-bench-XXXXXX");
	if (mkdtemp(shm) == NULL)
		die("mkdtemp: %s", strerror(errno));
	memset(&d, 0, sizeof(d));
	device_up(&d, shm, "sign", "p256", "p256", "p256");
	RAND_bytes(msg, sizeof(msg));
	if (json)
		printf("{\"benchmark\":\"sign\",\"rounds\":%d,\"per_round\":%d,\"cases\":[", rounds, per_round * 10);
	else
		printf("Benchmark 2: signing with a leaf key through the SP socket vs EVP_DigestSign in-process\n"
		       "(us per signature of a 32-byte message, median [min-max] of %d rounds x %d)\n%-10s %26s %26s %8s\n",
		    rounds, per_round * 10, "key", "SP socket", "in-process", "ratio");
	for (size_t c = 0; c < sizeof(leaves) / sizeof(leaves[0]); c++) {
		enum sc_alg alg;
		EVP_PKEY *local = NULL;
		struct sc_sp *sp = NULL;
		uint32_t handle;
		X509 *cert = NULL;
		uint8_t *profile, md[32];
		size_t plen;
		struct stat_set s_sp = { .n = 0 }, s_local = { .n = 0 };
		int k = per_round * 10;

		if (sc_alg_from_name(leaves[c], &alg) != SC_OK || sc_alg_keygen(alg, &local) != SC_OK)
			die("alg");
		profile = make_profile(&d, alg, NULL, &plen);
		if (sc_sp_connect(d.sock, &sp) != SC_OK || sc_sp_issue(sp, profile, plen, &handle, &cert) != SC_OK)
			die("issue");
		for (int r = 0; r < rounds; r++) {
			double t = now_s();
			for (int i = 0; i < k; i++) {
				uint8_t *sig = NULL;
				size_t siglen = 0;
				sc_err e;
				/* As `selfcert device sign` does: hash here, send the digest (Ed25519: the message). */
				if (alg == SC_ALG_ED25519) {
					e = sc_sp_sign(sp, handle, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, msg, sizeof(msg), &sig, &siglen);
				} else {
					unsigned mdlen = 0;
					EVP_Digest(msg, sizeof(msg), md, &mdlen, EVP_sha256(), NULL);
					e = sc_sp_sign(sp, handle, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA256, md, mdlen, &sig, &siglen);
				}
				if (e != SC_OK)
					die("sp sign");
				OPENSSL_free(sig);
			}
			s_sp.v[s_sp.n++] = (now_s() - t) / k;
			t = now_s();
			for (int i = 0; i < k; i++) {
				EVP_MD_CTX *m = EVP_MD_CTX_new();
				uint8_t sig[600];
				size_t siglen = sizeof(sig);
				if (EVP_DigestSignInit(m, NULL, sc_sign_md(local, SC_DIGEST_SHA256), NULL, local) != 1 ||
				    EVP_DigestSign(m, sig, &siglen, msg, sizeof(msg)) != 1)
					die("local sign");
				EVP_MD_CTX_free(m);
			}
			s_local.v[s_local.n++] = (now_s() - t) / k;
		}
		if (json)
			printf("%s{\"key\":\"%s\",\"sp_us\":{\"median\":%.2f,\"min\":%.2f,\"max\":%.2f},"
			       "\"inprocess_us\":{\"median\":%.2f,\"min\":%.2f,\"max\":%.2f},\"ratio\":%.3f}",
			    c ? "," : "", leaves[c], median(&s_sp) * 1e6, smin(&s_sp) * 1e6, smax(&s_sp) * 1e6,
			    median(&s_local) * 1e6, smin(&s_local) * 1e6, smax(&s_local) * 1e6, median(&s_sp) / median(&s_local));
		else {
			char a[40], b[40];
			snprintf(a, sizeof(a), "%.1f [%.1f-%.1f]", median(&s_sp) * 1e6, smin(&s_sp) * 1e6, smax(&s_sp) * 1e6);
			snprintf(b, sizeof(b), "%.1f [%.1f-%.1f]", median(&s_local) * 1e6, smin(&s_local) * 1e6,
			    smax(&s_local) * 1e6);
			printf("%-10s %26s %26s %7.2fx\n", leaves[c], a, b, median(&s_sp) / median(&s_local));
		}
		OPENSSL_free(profile);
		X509_free(cert);
		EVP_PKEY_free(local);
		sc_sp_close(sp);
	}
	if (json)
		printf("]}\n");
	device_down(&d);
	run("/bin/rm", "-rf", shm, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	const char *tmp = getenv("TMPDIR");

	selfcert_bin = getenv("SELFCERT");
	spd_bin = getenv("SELFCERT_SPD");
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--per-round") == 0 && i + 1 < argc)
			per_round = atoi(argv[++i]);
		else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc)
			only_case = atoi(argv[++i]);
		else {
			fprintf(stderr, "bench_sp: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || per_round < 1 || per_round > 120 || selfcert_bin == NULL ||
	    spd_bin == NULL || (strcmp(what, "issue") != 0 && strcmp(what, "sign") != 0)) {
		fprintf(stderr, "usage: SELFCERT=… SELFCERT_SPD=… bench_sp issue|sign [--rounds 1..%d] [--per-round 1..120] "
		    "[--case 0..3] [--json]\n", MAX_ROUNDS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(what, "issue") == 0)
		return bench_issue(tmp && *tmp ? tmp : "/var/tmp");
	return bench_sign(tmp && *tmp ? tmp : "/var/tmp");
}
