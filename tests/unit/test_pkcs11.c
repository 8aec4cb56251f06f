// SPDX-License-Identifier: Apache-2.0
/*
 * test_pkcs11.c — libselfcert-pkcs11.so driven through its C_* functions (dlopen, as any
 * application loads it) against a real selfcert-spd started here and personalised over its
 * socket: initialisation and locking (OS and application mutexes), slot and token, sessions and
 * login, objects and the size-query protocol, every sign/decrypt/derive mechanism and the
 * return code of each misuse, threads, and the SP restarting under an open session. The
 * configuration parser (config.c) is compiled in and tested directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>
#include "p11.h"
#include "p11_config.h"
#include "p11_objects.h" /* P11_H_LEAF: the handles the module promises */
#include "pem.h"
#include "testutil.h"
#include "testworld.h"

#define DEV "DEV-UNIT"
#define NET "unit-net"
#define SPD_WAIT_TRIES 400 /* x 25 ms: the daemon's start-up, generously bounded */
#define THREADS 4
#define SIGNS_PER_THREAD 20

static char base[512], store[700], sock[700], certs_dir[700];
static pid_t spd_pid = -1;
static void *lib;
static CK_FUNCTION_LIST_PTR f;

/* The leaves: handles in the SP, certificates. */
enum { K_EC, K_RSA, K_ED, K_KA, K_RSA_SIG, K_P384, N_KEYS };
static uint32_t handle[N_KEYS];
static X509 *leaf[N_KEYS];

/* ---- the daemon ---- */

static int run_wait(char *const argv[])
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void spd_start(void)
{
	const char *spd = getenv("SELFCERT_SPD");
	char log[800];
	int i;

	assert_non_null(spd);
	snprintf(log, sizeof(log), "%s/spd.log", base);
	spd_pid = fork();
	assert_true(spd_pid >= 0);
	if (spd_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, STDERR_FILENO);
		execl(spd, spd, "--store", store, "--socket", sock, "--foreground", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < SPD_WAIT_TRIES; i++) {
		struct sc_sp *sp = NULL;
		struct sc_sp_info info;

		if (sc_sp_connect(sock, &sp) == SC_OK && sc_sp_info(sp, &info) == SC_OK) {
			sc_sp_info_clear(&info);
			sc_sp_close(sp);
			return;
		}
		sc_sp_close(sp);
		assert_int_equal(waitpid(spd_pid, NULL, WNOHANG), 0); /* still alive */
		usleep(25000);
	}
	fail_msg("selfcert-spd did not come up (see %s)", log);
}

static void spd_stop(void)
{
	if (spd_pid > 0) {
		kill(spd_pid, SIGTERM);
		waitpid(spd_pid, NULL, 0);
	}
	spd_pid = -1;
	unlink(sock);
}

/* Personalise the SP over its socket and issue the leaves, all with libselfcert. */
static void make_world(void)
{
	struct sc_test_world_opts wo = { .mfr = "Unit", .network_id = NET, .device_id = DEV };
	struct sc_test_world w;
	X509 *csk_cert = NULL, *kek_cert = NULL;
	X509_REQ *csr = NULL, *kcsr = NULL;
	struct sc_sp *sp = NULL;
	static const struct {
		enum sc_alg alg;
		unsigned ku;
	} spec[N_KEYS] = {
		[K_EC] = { SC_ALG_P256, 0 },
		[K_RSA] = { SC_ALG_RSA2048, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT },
		[K_ED] = { SC_ALG_ED25519, 0 },
		[K_KA] = { SC_ALG_P256, KU_KEY_AGREEMENT },
		[K_RSA_SIG] = { SC_ALG_RSA2048, 0 },
		[K_P384] = { SC_ALG_P384, 0 },
	};
	char path[800];
	int i;

	/* The manufacturer and network: the test world's; the device is the real daemon. */
	assert_int_equal(sc_test_world_make(&wo, &w), SC_OK);
	assert_int_equal(sc_sp_connect(sock, &sp), SC_OK);
	assert_int_equal(sc_sp_keygen(sp, SC_SP_ROLE_CSK, SC_ALG_P256, &csr), SC_OK);
	assert_int_equal(sc_sp_keygen(sp, SC_SP_ROLE_KEK, SC_ALG_P256, &kcsr), SC_OK);
	assert_int_equal(sc_test_world_device_ca(&w, X509_REQ_get0_pubkey(csr), DEV, &csk_cert),
	    SC_OK);
	assert_int_equal(sc_test_world_kek(&w, X509_REQ_get0_pubkey(kcsr), DEV, &kek_cert), SC_OK);
	assert_int_equal(sc_sp_install_cert(sp, SC_SP_ROLE_CSK, csk_cert), SC_OK);
	assert_int_equal(sc_sp_install_cert(sp, SC_SP_ROLE_KEK, kek_cert), SC_OK);
	assert_int_equal(sc_sp_install_anchor(sp, NET, w.net_root), SC_OK);
	assert_int_equal(sc_sp_lock(sp), SC_OK);
	for (i = 0; i < N_KEYS; i++) {
		struct sc_profile_params pp;
		uint8_t *der = NULL;
		size_t len = 0;

		sc_test_profile_params(&w, &pp);
		pp.generate_alg = spec[i].alg;
		pp.key_usage = spec[i].ku;
		assert_int_equal(sc_test_profile_make(&w, &pp, &der, &len), SC_OK);
		assert_int_equal(sc_sp_issue(sp, der, len, &handle[i], &leaf[i]), SC_OK);
		OPENSSL_free(der);
	}
	/* The host's folder: the manufacturer CA (the device CA comes from the SP). */
	snprintf(path, sizeof(path), "%s/chain.pem", certs_dir);
	assert_int_equal(sc_write_cert(path, w.mfr_ca), SC_OK);
	sc_sp_close(sp);
	X509_REQ_free(csr);
	X509_REQ_free(kcsr);
	X509_free(csk_cert);
	X509_free(kek_cert);
	sc_test_world_free(&w);
}

static int group_setup(void **state)
{
	const char *spd = getenv("SELFCERT_SPD"), *mod = getenv("SC_PKCS11_MODULE");
	CK_C_GetFunctionList getf;
	char *init[] = { (char *)spd, "--init", "--store", store, "--device-id", DEV, NULL };

	(void)state;
	if (spd == NULL || mod == NULL) {
		fprintf(stderr,
		    "test_pkcs11: set SELFCERT_SPD and SC_PKCS11_MODULE (ctest does)\n");
		return -1;
	}
	snprintf(base, sizeof(base), "%s", sc_test_tmpdir());
	snprintf(store, sizeof(store), "%s/sp", base);
	snprintf(sock, sizeof(sock), "%s/sp.sock", base);
	snprintf(certs_dir, sizeof(certs_dir), "%s/certs", base);
	if (mkdir(certs_dir, 0700) != 0 || run_wait(init) != 0)
		return -1;
	spd_start();
	make_world();
	if ((lib = dlopen(mod, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "test_pkcs11: %s\n", dlerror());
		return -1;
	}
	*(void **)(&getf) = dlsym(lib, "C_GetFunctionList");
	if (getf == NULL || getf(&f) != CKR_OK)
		return -1;
	/* Only the PKCS#11 entry points are visible. */
	if (dlsym(lib, "sc_sp_connect") != NULL || dlsym(lib, "p11_objects_load") != NULL)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	int i;

	(void)state;
	spd_stop();
	if (lib != NULL)
		dlclose(lib);
	for (i = 0; i < N_KEYS; i++)
		X509_free(leaf[i]);
	sc_test_rmdir(base);
	return 0;
}

/* Each test starts initialised (OS locking) with the SP and the folder configured. */
static int setup(void **state)
{
	CK_C_INITIALIZE_ARGS args = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };

	(void)state;
	setenv("SELFCERT_SP", sock, 1);
	setenv("SELFCERT_CERTS", certs_dir, 1);
	unsetenv("SELFCERT_PKCS11_CONF");
	return f->C_Initialize(&args) == CKR_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	f->C_Finalize(NULL);
	return 0;
}

/* ---- helpers ---- */

static CK_SESSION_HANDLE open_ro(void)
{
	CK_SESSION_HANDLE s = 0;

	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	return s;
}

/* The object of `klass` for leaf k (found by its CKA_ID, the SKI). */
static CK_OBJECT_HANDLE find_obj(CK_SESSION_HANDLE s, int k, CK_OBJECT_CLASS klass)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(leaf[k]);
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_ID, (void *)ASN1_STRING_get0_data(ski), (CK_ULONG)ASN1_STRING_length(ski) },
	};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;

	assert_int_equal(f->C_FindObjectsInit(s, t, 2), CKR_OK);
	assert_int_equal(f->C_FindObjects(s, h, 2, &n), CKR_OK);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(n, 1);
	return h[0];
}

static CK_OBJECT_HANDLE priv(CK_SESSION_HANDLE s, int k)
{
	return find_obj(s, k, CKO_PRIVATE_KEY);
}

/* Verify a PKCS#11 signature over msg with leaf k's public key. */
static int verify(int k, const EVP_MD *md, const uint8_t *msg, size_t n, const uint8_t *sig,
    size_t sl, int pss_salt)
{
	EVP_PKEY *pub = X509_get0_pubkey(leaf[k]);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	uint8_t der[160], *p = der;
	int ok, len = (int)sl;

	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		ECDSA_SIG *es = ECDSA_SIG_new();

		ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)sl / 2, NULL),
		    BN_bin2bn(sig + sl / 2, (int)sl / 2, NULL));
		len = i2d_ECDSA_SIG(es, &p);
		ECDSA_SIG_free(es);
		sig = der;
	}
	ok = EVP_DigestVerifyInit(m, &pc, md, NULL, pub) == 1;
	if (ok && pss_salt >= 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, pss_salt) == 1;
	ok = ok && EVP_DigestVerify(m, sig, (size_t)len, msg, n) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* ---- configuration (config.c, compiled in) ---- */

static sc_err conf(const char *text)
{
	struct p11_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	return p11_config_parse(&cfg, text, strlen(text), "test.conf");
}

static void test_config(void **state)
{
	static const struct {
		const char *text;
		sc_err want;
		const char *detail;
	} cases[] = {
		{ "", SC_OK, NULL },
		{ "# only a comment\n\n   \n", SC_OK, NULL },
		{ "sp = /run/sp.sock\ncerts=/var/certs\n  label =  my token \ndebug = no\n", SC_OK,
		    NULL },
		{ "sp /run/sp.sock\n", SC_ERR_MALFORMED, "test.conf:1: expected key = value" },
		{ "sp = /a\nsp = /b\n", SC_ERR_MALFORMED, "test.conf:2: 'sp' given twice" },
		{ "\nspp = /a\n", SC_ERR_MALFORMED,
		    "test.conf:2: unknown key 'spp' (sp, certs, label, debug)" },
		{ "sp =\n", SC_ERR_MALFORMED, "test.conf:1: 'sp' has no value" },
		{ "certs = relative/dir\n", SC_ERR_USAGE,
		    "test.conf:1: 'certs' must be an absolute path" },
		{ "debug = maybe\n", SC_ERR_MALFORMED, "test.conf:1: debug must be yes or no" },
		{ "label = 123456789012345678901234567890123\n", SC_ERR_OVERSIZE,
		    "test.conf:1: label is 33 bytes, at most 32" },
	};
	struct p11_config cfg;
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sc_err r = conf(cases[i].text);

		if (r != cases[i].want)
			fail_msg("case %zu: %s, expected %s", i, sc_err_name(r),
			    sc_err_name(cases[i].want));
		if (cases[i].detail != NULL)
			assert_string_equal(sc_err_detail(), cases[i].detail);
	}
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(p11_config_parse(&cfg, cases[2].text, strlen(cases[2].text), "x"), SC_OK);
	assert_string_equal(cfg.sp, "/run/sp.sock");
	assert_string_equal(cfg.certs, "/var/certs");
	assert_string_equal(cfg.label, "my token");
	/* A NUL inside, a path over sun_path, a line and a file over their caps. */
	assert_int_equal(p11_config_parse(&cfg, "sp = /a\0b\n", 10, "x"), SC_ERR_MALFORMED);
	big = malloc(P11_CONF_MAX + 2);
	memset(big, 'a', P11_CONF_MAX + 1);
	memcpy(big, "sp = /", 6);
	big[P11_SP_PATH_MAX + 6] = '\0';
	assert_int_equal(conf(big), SC_ERR_OVERSIZE);
	big[P11_SP_PATH_MAX + 6] = 'a';
	big[5000] = '\0';
	assert_int_equal(conf(big), SC_ERR_OVERSIZE);
	big[5000] = 'a';
	big[P11_CONF_MAX + 1] = '\0';
	assert_int_equal(conf(big), SC_ERR_OVERSIZE);
	free(big);
}

/* Parse len bytes of text (not necessarily terminated); the result and, on failure, the detail. */
static sc_err conf_n(const char *text, size_t len, struct p11_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	return p11_config_parse(cfg, text, len, "test.conf");
}

/* Truncated files, values at and over their caps, and values of the wrong kind. */
static void test_config_edges(void **state)
{
	static const struct {
		const char *why, *text;
		sc_err want;
		const char *detail;
	} cases[] = {
		/* Truncation: a file may end anywhere; a cut line is judged as it stands. */
		{ "cut in the key", "sp = /run/sp.sock\nlab", SC_ERR_MALFORMED,
		    "test.conf:2: expected key = value" },
		{ "cut after =", "label =", SC_ERR_MALFORMED, "test.conf:1: 'label' has no value" },
		{ "cut after the key", "debug", SC_ERR_MALFORMED,
		    "test.conf:1: expected key = value" },
		{ "no final newline", "label = x", SC_OK, NULL },
		{ "only blanks after =", "certs = \t \r\n", SC_ERR_MALFORMED,
		    "test.conf:1: 'certs' has no value" },
		/* Wrong kind of value. */
		{ "debug is a word", "debug = true\n", SC_ERR_MALFORMED,
		    "test.conf:1: debug must be yes or no" },
		{ "debug is case-sensitive", "debug = YES\n", SC_ERR_MALFORMED,
		    "test.conf:1: debug must be yes or no" },
		{ "debug 2", "debug = 2\n", SC_ERR_MALFORMED,
		    "test.conf:1: debug must be yes or no" },
		{ "no trailing comments", "debug = yes # on\n", SC_ERR_MALFORMED,
		    "test.conf:1: debug must be yes or no" },
		{ "relative sp", "sp = run/sp.sock\n", SC_ERR_USAGE,
		    "test.conf:1: 'sp' must be an absolute path" },
		{ "empty key", "= /x\n", SC_ERR_MALFORMED,
		    "test.conf:1: unknown key '' (sp, certs, label, debug)" },
		{ "keys are case-sensitive", "SP = /x\n", SC_ERR_MALFORMED,
		    "test.conf:1: unknown key 'SP' (sp, certs, label, debug)" },
		{ "repeated after others", "sp = /a\nlabel = t\n# c\nlabel = u\n", SC_ERR_MALFORMED,
		    "test.conf:4: 'label' given twice" },
		/* A label may hold '=' and '#': only the first '=' splits, only a leading '#' comments. */
		{ "label with = and #", "label = a=b #c\n", SC_OK, NULL },
	};
	struct p11_config cfg;
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sc_err r = conf_n(cases[i].text, strlen(cases[i].text), &cfg);

		if (r != cases[i].want)
			fail_msg("%s: %s, expected %s", cases[i].why, sc_err_name(r),
			    sc_err_name(cases[i].want));
		if (cases[i].detail != NULL && strcmp(sc_err_detail(), cases[i].detail) != 0)
			fail_msg("%s: '%s', expected '%s'", cases[i].why, sc_err_detail(),
			    cases[i].detail);
	}
	assert_int_equal(conf_n("label = a=b #c\n", 15, &cfg), SC_OK);
	assert_string_equal(cfg.label, "a=b #c");
	/* Only the given bytes are read: a length that cuts the text is a truncated file. */
	assert_int_equal(conf_n("sp = /run/sp.sock\n", 7, &cfg), SC_OK);
	assert_string_equal(cfg.sp, "/r");
	assert_int_equal(conf_n("sp = /run/sp.sock\n", 4, &cfg), SC_ERR_MALFORMED);
	assert_string_equal(sc_err_detail(), "test.conf:1: 'sp' has no value");
	/* CRLF files. */
	assert_int_equal(conf_n("sp = /a\r\ndebug = 1\r\n", 20, &cfg), SC_OK);
	assert_string_equal(cfg.sp, "/a");
	assert_int_equal(cfg.debug, 1);

	/* Each cap, at and one past it. */
	big = malloc(P11_CONF_MAX + 1);
	assert_non_null(big);
	memset(big, 's', P11_CONF_MAX + 1);
	memcpy(big, "sp = /", 6);
	assert_int_equal(conf_n(big, 5 + P11_SP_PATH_MAX, &cfg), SC_OK);
	assert_int_equal(strlen(cfg.sp), P11_SP_PATH_MAX);
	assert_int_equal(conf_n(big, 5 + P11_SP_PATH_MAX + 1, &cfg), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "test.conf:1: sp is 108 bytes, at most 107");
	memcpy(big, "label = ", 8);
	assert_int_equal(conf_n(big, 8 + 32, &cfg), SC_OK);
	assert_int_equal(conf_n(big, 8 + 33, &cfg), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "test.conf:1: label is 33 bytes, at most 32");
	/* A line of exactly P11_CONF_LINE_MAX bytes is read; one more is refused. */
	memcpy(big, "certs = /", 9);
	assert_int_equal(conf_n(big, P11_CONF_LINE_MAX, &cfg), SC_OK);
	assert_int_equal(strlen(cfg.certs), P11_CONF_LINE_MAX - 8);
	assert_int_equal(conf_n(big, P11_CONF_LINE_MAX + 1, &cfg), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "test.conf:1: line over 4096 bytes");
	/* The file: P11_CONF_MAX bytes of comments are a file; one more byte is not. */
	memset(big, '\n', P11_CONF_MAX + 1);
	big[0] = '#';
	assert_int_equal(conf_n(big, P11_CONF_MAX, &cfg), SC_OK);
	assert_int_equal(conf_n(big, P11_CONF_MAX + 1, &cfg), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "test.conf: 16385 bytes, at most 16384");
	free(big);
}

/* The environment over the file: the same caps, naming the variable. */
static void test_config_env(void **state)
{
	char *old_sp = getenv("SELFCERT_SP") ? strdup(getenv("SELFCERT_SP")) : NULL;
	char *old_conf = getenv("SELFCERT_PKCS11_CONF") ? strdup(getenv("SELFCERT_PKCS11_CONF"))
	                                                : NULL;
	char path[P11_SP_PATH_MAX + 2];
	struct p11_config cfg;

	(void)state;
	unsetenv("SELFCERT_PKCS11_CONF");
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[P11_SP_PATH_MAX] = '\0';
	setenv("SELFCERT_SP", path, 1);
	assert_int_equal(p11_config_load(&cfg), SC_OK);
	assert_string_equal(cfg.sp, path);
	path[P11_SP_PATH_MAX] = 'p';
	path[P11_SP_PATH_MAX + 1] = '\0';
	setenv("SELFCERT_SP", path, 1);
	assert_int_equal(p11_config_load(&cfg), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "SELFCERT_SP: the path is 108 bytes, at most 107");
	if (old_sp != NULL)
		setenv("SELFCERT_SP", old_sp, 1);
	else
		unsetenv("SELFCERT_SP");
	if (old_conf != NULL)
		setenv("SELFCERT_PKCS11_CONF", old_conf, 1);
	free(old_sp);
	free(old_conf);
}

/* A bad configuration file stops C_Initialize; none at all is a slot without a token. */
static void test_config_initialize(void **state)
{
	char path[800];
	CK_SLOT_ID slot;
	CK_ULONG n = 1;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.conf", base);
	fp = fopen(path, "w");
	fputs("sp = /x\nunknown = 1\n", fp);
	fclose(fp);
	setenv("SELFCERT_PKCS11_CONF", path, 1);
	assert_int_equal(f->C_Initialize(NULL), CKR_GENERAL_ERROR);
	assert_int_equal(f->C_GetInfo(&(CK_INFO){ 0 }), CKR_CRYPTOKI_NOT_INITIALIZED);
	unsetenv("SELFCERT_PKCS11_CONF");
	unsetenv("SELFCERT_SP");
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, &slot, &n), CKR_OK);
	assert_int_equal(n, 0);
	n = 1;
	assert_int_equal(f->C_GetSlotList(CK_FALSE, &slot, &n), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f->C_GetTokenInfo(slot, &ti), CKR_TOKEN_NOT_PRESENT);
	assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
	    CKR_TOKEN_NOT_PRESENT);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	/* The file alone names the SP. */
	fp = fopen(path, "w");
	fprintf(fp, "# the unit test's SP\nsp = %s\nlabel = from-file\n", sock);
	fclose(fp);
	setenv("SELFCERT_PKCS11_CONF", path, 1);
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetTokenInfo(P11_SLOT_ID, &ti), CKR_OK);
	assert_memory_equal(ti.label, "from-file ", 10);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	unsetenv("SELFCERT_PKCS11_CONF");
}

/* ---- initialisation and locking ---- */

static int app_creates, app_destroys, app_locks, app_unlocks;

static CK_RV app_create(void **m)
{
	pthread_mutex_t *p = malloc(sizeof(*p));

	pthread_mutex_init(p, NULL);
	*m = p;
	__atomic_add_fetch(&app_creates, 1, __ATOMIC_SEQ_CST);
	return CKR_OK;
}

static CK_RV app_destroy(void *m)
{
	pthread_mutex_destroy(m);
	free(m);
	__atomic_add_fetch(&app_destroys, 1, __ATOMIC_SEQ_CST);
	return CKR_OK;
}

static CK_RV app_lock(void *m)
{
	pthread_mutex_lock(m);
	__atomic_add_fetch(&app_locks, 1, __ATOMIC_SEQ_CST);
	return CKR_OK;
}

static CK_RV app_unlock(void *m)
{
	__atomic_add_fetch(&app_unlocks, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(m);
	return CKR_OK;
}

static void test_initialize(void **state)
{
	CK_C_INITIALIZE_ARGS args = { NULL, NULL, NULL, NULL, 0, NULL };
	CK_INFO info;
	CK_SESSION_HANDLE s;
	int reserved;

	(void)state;
	setenv("SELFCERT_SP", sock, 1);
	assert_int_equal(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s),
	    CKR_CRYPTOKI_NOT_INITIALIZED);
	args.pReserved = &reserved;
	assert_int_equal(f->C_Initialize(&args), CKR_ARGUMENTS_BAD);
	args.pReserved = NULL;
	args.CreateMutex = app_create; /* some but not all: v2.40 §5.4 */
	assert_int_equal(f->C_Initialize(&args), CKR_ARGUMENTS_BAD);
	/* Case 3: the application's mutexes, no OS locking: they must be the ones used. */
	args.DestroyMutex = app_destroy;
	args.LockMutex = app_lock;
	args.UnlockMutex = app_unlock;
	assert_int_equal(f->C_Initialize(&args), CKR_OK);
	assert_int_equal(f->C_Initialize(&args), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetInfo(&info), CKR_OK);
	assert_int_equal(info.cryptokiVersion.major, 2);
	assert_int_equal(info.cryptokiVersion.minor, 40);
	assert_memory_equal(info.manufacturerID, "selfcert ", 9);
	s = open_ro();
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
	assert_true(app_creates >= 2); /* the module's, and the session's */
	assert_true(app_locks > 0);
	assert_int_equal(app_locks, app_unlocks);
	assert_int_equal(f->C_Finalize(&reserved), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	assert_int_equal(app_creates, app_destroys);
	assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	/* No arguments at all: fine too. */
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* ---- slot, token, mechanisms ---- */

static void test_slot_and_token(void **state)
{
	CK_SLOT_ID slots[2];
	CK_ULONG n = 0, i;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_TYPE mechs[32];
	CK_MECHANISM_INFO mi;
	CK_SESSION_HANDLE s;

	(void)state;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, NULL, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(n, 1);
	n = 2;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(slots[0], P11_SLOT_ID);
	assert_int_equal(f->C_GetSlotInfo(7, &si), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_GetSlotInfo(P11_SLOT_ID, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetSlotInfo(P11_SLOT_ID, &si), CKR_OK);
	assert_true(si.flags & CKF_TOKEN_PRESENT);
	assert_int_equal(f->C_GetTokenInfo(7, &ti), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_GetTokenInfo(P11_SLOT_ID, &ti), CKR_OK);
	assert_memory_equal(ti.label, DEV "   ", sizeof(DEV) + 2);
	assert_memory_equal(ti.serialNumber, DEV, sizeof(DEV) - 1);
	/* No PIN: login is not required; the token is initialised; it has no RNG for the host. */
	assert_false(ti.flags & CKF_LOGIN_REQUIRED);
	assert_true(ti.flags & CKF_TOKEN_INITIALIZED);
	assert_false(ti.flags & CKF_RNG);
	assert_int_equal(ti.ulSessionCount, 0);
	s = open_ro();
	assert_int_equal(f->C_GetTokenInfo(P11_SLOT_ID, &ti), CKR_OK);
	assert_int_equal(ti.ulSessionCount, 1);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);

	n = 0;
	assert_int_equal(f->C_GetMechanismList(9, NULL, &n), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_GetMechanismList(P11_SLOT_ID, NULL, &n), CKR_OK);
	assert_int_equal(n, 15);
	n = 3;
	assert_int_equal(f->C_GetMechanismList(P11_SLOT_ID, mechs, &n), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(n, 15);
	assert_int_equal(f->C_GetMechanismList(P11_SLOT_ID, mechs, &n), CKR_OK);
	for (i = 0; i < n; i++)
		assert_int_equal(f->C_GetMechanismInfo(P11_SLOT_ID, mechs[i], &mi), CKR_OK);
	assert_int_equal(f->C_GetMechanismInfo(P11_SLOT_ID, CKM_ECDSA_SHA384, &mi), CKR_OK);
	assert_int_equal(mi.flags,
	    CKF_HW | CKF_SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS);
	assert_int_equal(mi.ulMinKeySize, 256);
	assert_int_equal(mi.ulMaxKeySize, 384);
	assert_int_equal(f->C_GetMechanismInfo(P11_SLOT_ID, CKM_RSA_PKCS_OAEP, &mi), CKR_OK);
	assert_int_equal(mi.flags, CKF_HW | CKF_DECRYPT);
	assert_int_equal(mi.ulMinKeySize, 2048);
	assert_int_equal(f->C_GetMechanismInfo(P11_SLOT_ID, CKM_ECDH1_DERIVE, &mi), CKR_OK);
	assert_true(mi.flags & CKF_DERIVE);
	assert_int_equal(f->C_GetMechanismInfo(P11_SLOT_ID, CKM_AES_CBC, &mi),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_GetMechanismInfo(P11_SLOT_ID, CKM_ECDSA, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_InitToken(P11_SLOT_ID, NULL, 0, NULL), CKR_TOKEN_WRITE_PROTECTED);
	assert_int_equal(f->C_WaitForSlotEvent(0, slots, NULL), CKR_FUNCTION_NOT_SUPPORTED);
}

/* ---- sessions and login ---- */

static void test_sessions_and_login(void **state)
{
	CK_SESSION_HANDLE s, rw, many[P11_MAX_SESSIONS + 1];
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	size_t i;

	(void)state;
	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, 0, NULL, NULL, &s),
	    CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, NULL),
	    CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_OpenSession(3, CKF_SERIAL_SESSION, NULL, NULL, &s),
	    CKR_SLOT_ID_INVALID);
	s = open_ro();
	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	                     NULL, &rw),
	    CKR_OK);
	assert_int_equal(f->C_GetSessionInfo(s, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetSessionInfo(s, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RO_PUBLIC_SESSION);
	assert_int_equal(si.flags, CKF_SERIAL_SESSION);
	assert_int_equal(si.ulDeviceError, 0);
	assert_int_equal(f->C_GetSessionInfo(rw, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RW_PUBLIC_SESSION);
	assert_int_equal(f->C_GetTokenInfo(P11_SLOT_ID, &ti), CKR_OK);
	assert_int_equal(ti.ulRwSessionCount, 1);

	/* Login: any PIN for the user (there is none); no security officer. */
	assert_int_equal(f->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
	assert_int_equal(f->C_Login(s, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "anything", 8), CKR_OK);
	assert_int_equal(f->C_Login(rw, CKU_USER, NULL, 0), CKR_USER_ALREADY_LOGGED_IN);
	assert_int_equal(f->C_GetSessionInfo(s, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RO_USER_FUNCTIONS);
	assert_int_equal(f->C_GetSessionInfo(rw, &si), CKR_OK);
	assert_int_equal(si.state, CKS_RW_USER_FUNCTIONS);
	assert_int_equal(f->C_Logout(rw), CKR_OK);
	assert_int_equal(f->C_Logout(s), CKR_USER_NOT_LOGGED_IN);
	assert_int_equal(f->C_Login(s, CKU_SO, NULL, 0), CKR_SESSION_READ_ONLY_EXISTS);
	assert_int_equal(f->C_Login(s, CKU_CONTEXT_SPECIFIC, NULL, 0),
	    CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_Login(s, 77, NULL, 0), CKR_USER_TYPE_INVALID);
	assert_int_equal(f->C_InitPIN(s, NULL, 0), CKR_SESSION_READ_ONLY);
	assert_int_equal(f->C_SetPIN(rw, NULL, 0, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(f->C_GetOperationState(s, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(f->C_GetFunctionStatus(s), CKR_FUNCTION_NOT_PARALLEL);
	assert_int_equal(f->C_CloseSession(rw), CKR_OK);
	assert_int_equal(f->C_Login(s, CKU_SO, NULL, 0), CKR_SESSION_READ_ONLY_EXISTS);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
	assert_int_equal(f->C_CloseSession(s), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(f->C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(f->C_CloseSession(0), CKR_SESSION_HANDLE_INVALID);

	/* A bounded number of sessions, each its own SP connection. */
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		many[i] = open_ro();
	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &many[i]),
	    CKR_SESSION_COUNT);
	assert_int_equal(f->C_CloseAllSessions(4), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_CloseAllSessions(P11_SLOT_ID), CKR_OK);
	assert_int_equal(f->C_GetSessionInfo(many[0], &si), CKR_SESSION_HANDLE_INVALID);
	s = open_ro();
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

/* ---- objects and attributes ---- */

static void test_objects(void **state)
{
	CK_SESSION_HANDLE s = open_ro(), s2 = open_ro();
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE by_class = { CKA_CLASS, &cls, sizeof(cls) };
	CK_OBJECT_HANDLE h[64], key, cert;
	CK_ULONG n = 0, total = 0;
	char label[16];
	CK_ATTRIBUTE by_label = { CKA_LABEL, label, 0 };
	uint8_t *der = NULL, buf[4096], small[8];
	size_t der_len;
	CK_BBOOL b;
	CK_KEY_TYPE kt;
	CK_ATTRIBUTE t[3];
	CK_ULONG size;

	(void)state;
	/* Everything: 6 leaves x 3, the device CA, the manufacturer CA from the folder. */
	assert_int_equal(f->C_FindObjects(s, h, 64, &n), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_FindObjectsInit(s, NULL, 1), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_FindObjectsInit(s, NULL, 0), CKR_OK);
	assert_int_equal(f->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
	assert_int_equal(f->C_FindObjects(s, NULL, 1, &n), CKR_ARGUMENTS_BAD);
	/* Paged, one at a time. */
	do {
		assert_int_equal(f->C_FindObjects(s, h, 1, &n), CKR_OK);
		total += n;
	} while (n == 1);
	assert_int_equal(total, 3 * N_KEYS + 2);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(f->C_FindObjectsInit(s, &by_class, 1), CKR_OK);
	assert_int_equal(f->C_FindObjects(s, h, 64, &n), CKR_OK);
	assert_int_equal(n, N_KEYS);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	/* CKA_LABEL is the SP's handle; the same object has the same handle in every session. */
	snprintf(label, sizeof(label), "%u", (unsigned)handle[K_RSA]);
	by_label.ulValueLen = strlen(label);
	assert_int_equal(f->C_FindObjectsInit(s, &by_label, 1), CKR_OK);
	assert_int_equal(f->C_FindObjects(s, h, 64, &n), CKR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);
	key = priv(s, K_RSA);
	assert_int_equal(priv(s2, K_RSA), key);
	by_label.ulValueLen = 2;
	memcpy(label, "zz", 2);
	assert_int_equal(f->C_FindObjectsInit(s, &by_label, 1), CKR_OK);
	assert_int_equal(f->C_FindObjects(s, h, 64, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_FindObjectsFinal(s), CKR_OK);

	/* The size query: NULL gives the size; too small says so; enough gives the DER. */
	cert = find_obj(s, K_EC, CKO_CERTIFICATE);
	assert_int_equal(sc_cert_to_der(leaf[K_EC], &der, &der_len), SC_OK);
	t[0].type = CKA_VALUE;
	t[0].pValue = NULL;
	t[0].ulValueLen = 0;
	assert_int_equal(f->C_GetAttributeValue(s, cert, t, 1), CKR_OK);
	assert_int_equal(t[0].ulValueLen, der_len);
	t[0].pValue = small;
	t[0].ulValueLen = sizeof(small);
	assert_int_equal(f->C_GetAttributeValue(s, cert, t, 1), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	t[0].pValue = buf;
	t[0].ulValueLen = sizeof(buf);
	assert_int_equal(f->C_GetAttributeValue(s, cert, t, 1), CKR_OK);
	assert_int_equal(t[0].ulValueLen, der_len);
	assert_memory_equal(buf, der, der_len);
	OPENSSL_free(der);
	/* Every attribute is processed whatever happens to the others. */
	key = priv(s, K_EC);
	t[0] = (CK_ATTRIBUTE){ CKA_VALUE, buf, sizeof(buf) };   /* sensitive */
	t[1] = (CK_ATTRIBUTE){ CKA_MODULUS, buf + 1024, 1024 }; /* not an EC attribute */
	t[2] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &kt, sizeof(kt) };
	size = f->C_GetAttributeValue(s, key, t, 3);
	assert_true(size == CKR_ATTRIBUTE_SENSITIVE || size == CKR_ATTRIBUTE_TYPE_INVALID);
	assert_int_equal(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(t[2].ulValueLen, sizeof(kt));
	assert_int_equal(kt, CKK_EC);
	t[0] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &b, sizeof(b) };
	assert_int_equal(f->C_GetAttributeValue(s, key, t, 1), CKR_OK);
	assert_int_equal(b, CK_TRUE);
	t[0] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &b, sizeof(b) };
	assert_int_equal(f->C_GetAttributeValue(s, key, t, 1), CKR_OK);
	assert_int_equal(b, CK_FALSE);
	t[0] = (CK_ATTRIBUTE){ CKA_PRIVATE_EXPONENT, buf, sizeof(buf) };
	assert_int_equal(f->C_GetAttributeValue(s, priv(s, K_RSA), t, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(f->C_GetAttributeValue(s, key, NULL, 1), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetAttributeValue(s, 0x77777, t, 1), CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(f->C_GetObjectSize(s, key, &size), CKR_OK);
	assert_true(size > 0);
	assert_int_equal(f->C_GetObjectSize(s, 0x77777, &size), CKR_OBJECT_HANDLE_INVALID);

	/* Read-only content. */
	t[0] = (CK_ATTRIBUTE){ CKA_LABEL, "new", 3 };
	assert_int_equal(f->C_SetAttributeValue(s, key, t, 1), CKR_SESSION_READ_ONLY);
	assert_int_equal(f->C_DestroyObject(s, key), CKR_ACTION_PROHIBITED);
	assert_int_equal(f->C_DestroyObject(s, 0x77777), CKR_OBJECT_HANDLE_INVALID);
	assert_int_equal(f->C_CopyObject(s, key, NULL, 0, &cert), CKR_ACTION_PROHIBITED);
	assert_int_equal(f->C_CreateObject(s, t, 1, &cert), CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(f->C_GenerateKeyPair(s, &(CK_MECHANISM){ CKM_EC_KEY_PAIR_GEN, NULL, 0 },
	                     NULL, 0, NULL, 0, &key, &cert),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_GenerateKey(s, NULL, NULL, 0, &key), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GenerateRandom(s, buf, 16), CKR_RANDOM_NO_RNG);
	assert_int_equal(f->C_SeedRandom(s, buf, 16), CKR_RANDOM_SEED_NOT_SUPPORTED);
	assert_int_equal(f->C_EncryptInit(s, &(CK_MECHANISM){ CKM_RSA_PKCS_OAEP, NULL, 0 }, key),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_Encrypt(s, buf, 1, buf, &size), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_Verify(s, buf, 1, buf, 1), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_DigestInit(s, &(CK_MECHANISM){ CKM_SHA256, NULL, 0 }),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
	assert_int_equal(f->C_CloseSession(s2), CKR_OK);
}

/* ---- signing ---- */

static void test_sign_misuse(void **state)
{
	static const uint8_t msg[] = "a message to sign";
	CK_SESSION_HANDLE s = open_ro();
	CK_OBJECT_HANDLE ec = priv(s, K_EC), ka = priv(s, K_KA),
	                 cert = find_obj(s, K_EC, CKO_CERTIFICATE);
	CK_OBJECT_HANDLE pub = find_obj(s, K_EC, CKO_PUBLIC_KEY);
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	uint8_t sig[512], param[8];
	CK_ULONG sl;

	(void)state;
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl),
	    CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg, 1), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignFinal(s, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignInit(s, NULL, ec), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_AES_CBC, NULL, 0 }, ec),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_ECDH1_DERIVE, NULL, 0 }, ec),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_SignInit(s, &m, 0x12345), CKR_KEY_HANDLE_INVALID);
	assert_int_equal(f->C_SignInit(s, &m, cert), CKR_KEY_HANDLE_INVALID);
	assert_int_equal(f->C_SignInit(s, &m, pub), CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_SHA256_RSA_PKCS, NULL, 0 }, ec),
	    CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(f->C_SignInit(s, &m, ka), CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_ECDSA_SHA256, param, sizeof(param) },
	                     ec),
	    CKR_MECHANISM_PARAM_INVALID);
	/* None of the refusals left an operation behind. */
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OPERATION_ACTIVE);
	/* Length query and a buffer too small leave the operation running. */
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl),
	    CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), NULL, &sl), CKR_OK);
	assert_int_equal(sl, 64);
	sl = 63;
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl),
	    CKR_BUFFER_TOO_SMALL);
	assert_int_equal(sl, 64);
	sl = sizeof(sig);
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl), CKR_OK);
	assert_int_equal(sl, 64);
	assert_true(verify(K_EC, EVP_sha256(), msg, sizeof(msg), sig, sl, -1));
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl),
	    CKR_OPERATION_NOT_INITIALIZED);
	/* Multi-part, in three pieces; C_SignFinal's own length query. */
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg, 3), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg + 3, 0), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg + 3, sizeof(msg) - 3), CKR_OK);
	assert_int_equal(f->C_SignFinal(s, NULL, &sl), CKR_OK);
	assert_int_equal(sl, 64);
	assert_int_equal(f->C_SignFinal(s, sig, &sl), CKR_OK);
	assert_true(verify(K_EC, EVP_sha256(), msg, sizeof(msg), sig, sl, -1));
	/* C_Sign cannot finish what C_SignUpdate started; the operation is over. */
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg, 3), CKR_OK);
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl),
	    CKR_OPERATION_ACTIVE);
	assert_int_equal(f->C_SignFinal(s, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, NULL, 3), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_SignFinal(s, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);
	/* Raw ECDSA takes one digest of a size the SP knows; others are CKR_DATA_LEN_RANGE. */
	m.mechanism = CKM_ECDSA;
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	sl = sizeof(sig);
	CK_BYTE twenty[20] = { 0 }; /* a 20-byte input: not a digest length the SP knows */
	assert_int_equal(f->C_Sign(s, twenty, sizeof(twenty), sig, &sl), CKR_DATA_LEN_RANGE);
	assert_int_equal(f->C_SignInit(s, &m, ec), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, sig, sizeof(sig)), CKR_DATA_LEN_RANGE);
	assert_int_equal(f->C_SignFinal(s, sig, &sl), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_SignRecoverInit(s, &m, ec), CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

/* One signature over msg with mechanism m; returns its length. */
static CK_ULONG sign_with(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM *m,
    const uint8_t *in, size_t n, uint8_t *sig, CK_RV want)
{
	CK_ULONG sl = 1024;

	assert_int_equal(f->C_SignInit(s, m, key), CKR_OK);
	assert_int_equal(f->C_Sign(s, (CK_BYTE_PTR)in, n, sig, &sl), want);
	return sl;
}

static void test_sign_mechanisms(void **state)
{
	static const uint8_t msg[] = "every mechanism";
	static const uint8_t di_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
		0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	CK_SESSION_HANDLE s = open_ro();
	CK_OBJECT_HANDLE rsa = priv(s, K_RSA), ed = priv(s, K_ED), p384 = priv(s, K_P384);
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM m = { CKM_SHA384_RSA_PKCS, NULL, 0 };
	uint8_t sig[1024], dg[64], di[sizeof(di_sha256) + 32], big[SC_SP_MAX_SIGN_INPUT + 1];
	unsigned int dl;
	CK_ULONG sl;

	(void)state;
	assert_true(verify(K_RSA, EVP_sha384(), msg, sizeof(msg), sig,
	    sign_with(s, rsa, &m, msg, sizeof(msg), sig, CKR_OK), -1));
	m.mechanism = CKM_SHA512_RSA_PKCS;
	assert_true(verify(K_RSA, EVP_sha512(), msg, sizeof(msg), sig,
	    sign_with(s, rsa, &m, msg, sizeof(msg), sig, CKR_OK), -1));
	/* CKM_RSA_PKCS over a DigestInfo, as TLS 1.2 stacks sign; anything else is refused. */
	EVP_Digest(msg, sizeof(msg), dg, &dl, EVP_sha256(), NULL);
	memcpy(di, di_sha256, sizeof(di_sha256));
	memcpy(di + sizeof(di_sha256), dg, 32);
	m.mechanism = CKM_RSA_PKCS;
	sl = sign_with(s, rsa, &m, di, sizeof(di), sig, CKR_OK);
	assert_int_equal(sl, 256);
	assert_true(verify(K_RSA, EVP_sha256(), msg, sizeof(msg), sig, sl, -1));
	sign_with(s, rsa, &m, di, sizeof(di) - 1, sig, CKR_DATA_INVALID); /* truncated */
	di[5] = 0x07; /* an OID no hash of ours has */
	sign_with(s, rsa, &m, di, sizeof(di), sig, CKR_DATA_INVALID);
	sign_with(s, rsa, &m, dg, 32, sig, CKR_DATA_INVALID); /* a bare digest */
	/* PSS over a digest, and hashed; parameters checked at init. */
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pss, sizeof(pss) };
	sl = sign_with(s, rsa, &m, dg, 32, sig, CKR_OK);
	assert_true(verify(K_RSA, EVP_sha256(), msg, sizeof(msg), sig, sl, 32));
	sign_with(s, rsa, &m, dg, 48, sig, CKR_DATA_LEN_RANGE);
	m.mechanism = CKM_SHA384_RSA_PKCS_PSS;
	assert_int_equal(f->C_SignInit(s, &m, rsa),
	    CKR_MECHANISM_PARAM_INVALID); /* hash disagrees */
	pss = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA384, CKG_MGF1_SHA384, 0 };
	sl = sign_with(s, rsa, &m, msg, sizeof(msg), sig, CKR_OK);
	assert_true(verify(K_RSA, EVP_sha384(), msg, sizeof(msg), sig, sl, 0));
	pss.mgf = CKG_MGF1_SHA256;
	assert_int_equal(f->C_SignInit(s, &m, rsa),
	    CKR_MECHANISM_PARAM_INVALID); /* MGF1 disagrees */
	pss = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA384, CKG_MGF1_SHA384, 256 - 48 - 1 };
	assert_int_equal(f->C_SignInit(s, &m, rsa),
	    CKR_MECHANISM_PARAM_INVALID); /* salt too long */
	m.ulParameterLen = sizeof(pss) - 1;
	assert_int_equal(f->C_SignInit(s, &m, rsa), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, NULL, 0 };
	assert_int_equal(f->C_SignInit(s, &m, rsa), CKR_MECHANISM_PARAM_INVALID);
	/* A key whose certificate lacks digitalSignature... is not this one; RSA_SIG may sign. */
	m = (CK_MECHANISM){ CKM_SHA256_RSA_PKCS, NULL, 0 };
	assert_true(verify(K_RSA_SIG, EVP_sha256(), msg, sizeof(msg), sig,
	    sign_with(s, priv(s, K_RSA_SIG), &m, msg, sizeof(msg), sig, CKR_OK), -1));
	/* P-384: 96-byte signatures. */
	m.mechanism = CKM_ECDSA_SHA512;
	sl = sign_with(s, p384, &m, msg, sizeof(msg), sig, CKR_OK);
	assert_int_equal(sl, 96);
	assert_true(verify(K_P384, EVP_sha512(), msg, sizeof(msg), sig, sl, -1));
	/* Ed25519: pure, multi-part gathered, bounded by the SP's input limit. */
	m = (CK_MECHANISM){ CKM_EDDSA, NULL, 0 };
	sl = sign_with(s, ed, &m, msg, sizeof(msg), sig, CKR_OK);
	assert_int_equal(sl, 64);
	assert_true(verify(K_ED, NULL, msg, sizeof(msg), sig, sl, -1));
	sl = sign_with(s, ed, &m, msg, 0, sig, CKR_OK);
	assert_true(verify(K_ED, NULL, msg, 0, sig, sl, -1));
	assert_int_equal(f->C_SignInit(s, &m, ed), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg, 5), CKR_OK);
	assert_int_equal(f->C_SignUpdate(s, (CK_BYTE_PTR)msg + 5, sizeof(msg) - 5), CKR_OK);
	sl = sizeof(sig);
	assert_int_equal(f->C_SignFinal(s, sig, &sl), CKR_OK);
	assert_true(verify(K_ED, NULL, msg, sizeof(msg), sig, sl, -1));
	memset(big, 'x', sizeof(big));
	sl = sign_with(s, ed, &m, big, sizeof(big) - 1, sig, CKR_OK);
	assert_true(verify(K_ED, NULL, big, sizeof(big) - 1, sig, sl, -1));
	sign_with(s, ed, &m, big, sizeof(big), sig, CKR_DATA_LEN_RANGE);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_EDDSA, dg, 8 }, ed),
	    CKR_MECHANISM_PARAM_INVALID);
	assert_int_equal(f->C_SignInit(s, &(CK_MECHANISM){ CKM_ECDSA, NULL, 0 }, ed),
	    CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

/* ---- decryption and key agreement ---- */

static size_t oaep_encrypt(int k, const EVP_MD *md, const char *label, const uint8_t *in, size_t n,
    uint8_t *out)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(X509_get0_pubkey(leaf[k]), NULL);
	size_t len = 512;

	assert_int_equal(EVP_PKEY_encrypt_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(c, md), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(c, md), 1);
	if (label != NULL)
		assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(c, OPENSSL_strdup(label),
		                     (int)strlen(label)),
		    1);
	assert_int_equal(EVP_PKEY_encrypt(c, out, &len, in, n), 1);
	EVP_PKEY_CTX_free(c);
	return len;
}

static void test_decrypt(void **state)
{
	static const uint8_t secret[] = "a key in transit";
	CK_SESSION_HANDLE s = open_ro();
	CK_OBJECT_HANDLE rsa = priv(s, K_RSA);
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "lbl",
		3 };
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };
	uint8_t ct[512], pt[512];
	size_t cl = oaep_encrypt(K_RSA, EVP_sha256(), "lbl", secret, sizeof(secret), ct);
	CK_ULONG pl, zero = 0;

	(void)state;
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &pl), CKR_OPERATION_NOT_INITIALIZED);
	assert_int_equal(f->C_DecryptInit(s, &m, priv(s, K_RSA_SIG)),
	    CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_equal(f->C_DecryptInit(s, &m, priv(s, K_EC)), CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(f->C_DecryptInit(s, &(CK_MECHANISM){ CKM_SHA256_RSA_PKCS, NULL, 0 }, rsa),
	    CKR_MECHANISM_INVALID);
	assert_int_equal(f->C_DecryptInit(s, &(CK_MECHANISM){ CKM_RSA_PKCS_OAEP, NULL, 0 }, rsa),
	    CKR_MECHANISM_PARAM_INVALID);
	oaep.hashAlg = CKM_MD5;
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_MECHANISM_PARAM_INVALID);
	oaep.hashAlg = CKM_SHA256;
	oaep.source = 7;
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_MECHANISM_PARAM_INVALID);
	oaep.source = CKZ_DATA_SPECIFIED;
	/* The length query gives the most a block can hold; a small buffer keeps the plaintext. */
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OPERATION_ACTIVE);
	assert_int_equal(f->C_Decrypt(s, ct, cl, NULL, &pl), CKR_OK);
	assert_int_equal(pl, 256 - 2 * 32 - 2);
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &zero), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(zero, sizeof(secret));
	pl = sizeof(pt);
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &pl), CKR_OK);
	assert_int_equal(pl, sizeof(secret));
	assert_memory_equal(pt, secret, pl);
	/* Multi-part: gathered, decrypted at the end. */
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	pl = sizeof(pt);
	assert_int_equal(f->C_DecryptUpdate(s, ct, 100, pt, &pl), CKR_OK);
	assert_int_equal(pl, 0);
	assert_int_equal(f->C_DecryptUpdate(s, ct + 100, cl - 100, pt, &pl), CKR_OK);
	pl = sizeof(pt);
	assert_int_equal(f->C_DecryptFinal(s, pt, &pl), CKR_OK);
	assert_memory_equal(pt, secret, sizeof(secret));
	/* The wrong label, a changed byte, a short block. */
	oaep.pSourceData = "xyz";
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	pl = sizeof(pt);
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &pl), CKR_OPERATION_NOT_INITIALIZED);
	oaep.pSourceData = "lbl";
	ct[9] ^= 0x40;
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &pl), CKR_ENCRYPTED_DATA_INVALID);
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	assert_int_equal(f->C_Decrypt(s, ct, cl - 1, pt, &pl), CKR_ENCRYPTED_DATA_LEN_RANGE);
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	assert_int_equal(f->C_DecryptUpdate(s, ct, cl, pt, &pl), CKR_OK);
	assert_int_equal(f->C_DecryptUpdate(s, ct, 1, pt, &pl), CKR_ENCRYPTED_DATA_LEN_RANGE);
	assert_int_equal(f->C_DecryptFinal(s, pt, &pl), CKR_OPERATION_NOT_INITIALIZED);
	/* SHA-1 OAEP without a label (source 0, as some callers send). */
	oaep = (CK_RSA_PKCS_OAEP_PARAMS){ CKM_SHA_1, CKG_MGF1_SHA1, 0, NULL, 0 };
	cl = oaep_encrypt(K_RSA, EVP_sha1(), NULL, secret, 4, ct);
	assert_int_equal(f->C_DecryptInit(s, &m, rsa), CKR_OK);
	pl = sizeof(pt);
	assert_int_equal(f->C_Decrypt(s, ct, cl, pt, &pl), CKR_OK);
	assert_int_equal(pl, 4);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
}

/* One attribute at a time, each with its own answer (objects.c, secret_attr): derived on m. */
static void derive_one_attribute(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE ka)
{
	CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, two = 2;
	CK_ULONG zero = 0, all = 32, many = 33;
	char nul_label[] = { 'a', '\0', 'b' }, long_label[P11_MAX_LABEL + 1];
	uint8_t long_id[P11_MAX_ID + 1];
	const struct {
		const char *why;
		CK_ATTRIBUTE a;
		CK_RV want;
	} one[] = {
		{ "another class", { CKA_CLASS, &pub, sizeof(pub) }, CKR_TEMPLATE_INCONSISTENT },
		{ "class cut short", { CKA_CLASS, &pub, 1 }, CKR_ATTRIBUTE_VALUE_INVALID },
		{ "another key type", { CKA_KEY_TYPE, &aes, sizeof(aes) },
		    CKR_TEMPLATE_INCONSISTENT },
		{ "key type without a value", { CKA_KEY_TYPE, NULL, sizeof(aes) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "token not a bool", { CKA_TOKEN, &two, sizeof(two) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "private", { CKA_PRIVATE, &yes, sizeof(yes) }, CKR_TEMPLATE_INCONSISTENT },
		{ "modifiable", { CKA_MODIFIABLE, &yes, sizeof(yes) }, CKR_TEMPLATE_INCONSISTENT },
		{ "not private", { CKA_PRIVATE, &no, sizeof(no) }, CKR_OK },
		{ "sensitive not a bool", { CKA_SENSITIVE, &two, sizeof(two) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "extractable as a ulong", { CKA_EXTRACTABLE, &zero, sizeof(zero) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "value length 0", { CKA_VALUE_LEN, &zero, sizeof(zero) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "value length over Z", { CKA_VALUE_LEN, &many, sizeof(many) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "value length all of Z", { CKA_VALUE_LEN, &all, sizeof(all) }, CKR_OK },
		{ "label with a NUL", { CKA_LABEL, nul_label, sizeof(nul_label) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "label too long", { CKA_LABEL, long_label, sizeof(long_label) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "label without a value", { CKA_LABEL, NULL, 1 }, CKR_ATTRIBUTE_VALUE_INVALID },
		{ "longest label", { CKA_LABEL, long_label, P11_MAX_LABEL }, CKR_OK },
		{ "ID too long", { CKA_ID, long_id, sizeof(long_id) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "longest ID", { CKA_ID, long_id, P11_MAX_ID }, CKR_OK },
		{ "usage flag not a bool", { CKA_SIGN, &two, sizeof(two) },
		    CKR_ATTRIBUTE_VALUE_INVALID },
		{ "usage flag", { CKA_DERIVE, &yes, sizeof(yes) }, CKR_OK },
		{ "a value of our own", { CKA_VALUE, long_id, 4 }, CKR_ATTRIBUTE_TYPE_INVALID },
	};
	CK_OBJECT_HANDLE h;
	size_t i;

	memset(long_label, 'x', sizeof(long_label));
	memset(long_id, 0x5a, sizeof(long_id));
	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		CK_ATTRIBUTE a = one[i].a;
		CK_RV rv = f->C_DeriveKey(s, m, ka, &a, 1, &h);

		if (rv != one[i].want)
			fail_msg("%s: 0x%lx, expected 0x%lx", one[i].why, (unsigned long)rv,
			    (unsigned long)one[i].want);
		if (rv == CKR_OK)
			assert_int_equal(f->C_DestroyObject(s, h), CKR_OK);
	}
}

static void test_derive(void **state)
{
	CK_SESSION_HANDLE s = open_ro(), rw;
	CK_OBJECT_HANDLE ka = priv(s, K_KA), secret, secret2;
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *c;
	uint8_t point[70], der[80], want[32], got[64];
	size_t pl = 0, wl = sizeof(want);
	CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, 0, point };
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len16 = 16;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VALUE_LEN, &len16, sizeof(len16) },
	};
	CK_ATTRIBUTE val = { CKA_VALUE, got, sizeof(got) };
	CK_ATTRIBUTE bad[] = { { CKA_TOKEN, &yes, sizeof(yes) } };
	CK_ATTRIBUTE unknown[] = { { CKA_MODULUS, got, 4 } };

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &peer), SC_OK);
	assert_int_equal(EVP_PKEY_get_octet_string_param(peer, "encoded-pub-key", point,
	                     sizeof(point), &pl),
	    1);
	p.ulPublicDataLen = pl;
	c = EVP_PKEY_CTX_new(peer, NULL);
	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c, X509_get0_pubkey(leaf[K_KA])), 1);
	assert_int_equal(EVP_PKEY_derive(c, want, &wl), 1);
	EVP_PKEY_CTX_free(c);

	/* The whole secret, readable: what the peer computed. */
	assert_int_equal(f->C_DeriveKey(s, &m, ka, tmpl, 5, &secret), CKR_OK);
	assert_int_equal(f->C_GetAttributeValue(s, secret, &val, 1), CKR_OK);
	assert_int_equal(val.ulValueLen, 32);
	assert_memory_equal(got, want, 32);
	/* The point in a DER OCTET STRING; CKA_VALUE_LEN takes the leading bytes. */
	der[0] = 0x04;
	der[1] = (uint8_t)pl;
	memcpy(der + 2, point, pl);
	p.pPublicData = der;
	p.ulPublicDataLen = pl + 2;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, tmpl, 6, &secret2), CKR_OK);
	val.ulValueLen = sizeof(got);
	assert_int_equal(f->C_GetAttributeValue(s, secret2, &val, 1), CKR_OK);
	assert_int_equal(val.ulValueLen, 16);
	assert_memory_equal(got, want, 16);
	assert_int_equal(f->C_DestroyObject(s, secret2), CKR_OK);
	assert_int_equal(f->C_DestroyObject(s, secret2), CKR_OBJECT_HANDLE_INVALID);
	/* Sensitive by the template: the value stays put. */
	tmpl[2].pValue = &yes;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, tmpl, 4, &secret2), CKR_OK);
	val.ulValueLen = sizeof(got);
	assert_int_equal(f->C_GetAttributeValue(s, secret2, &val, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(val.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	/* Session objects only; templates strictly read. */
	assert_int_equal(f->C_DeriveKey(s, &m, ka, bad, 1, &secret2), CKR_SESSION_READ_ONLY);
	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	                     NULL, &rw),
	    CKR_OK);
	assert_int_equal(f->C_DeriveKey(rw, &m, priv(rw, K_KA), bad, 1, &secret2),
	    CKR_TEMPLATE_INCONSISTENT);
	assert_int_equal(f->C_CloseSession(rw), CKR_OK);
	assert_int_equal(f->C_DeriveKey(s, &m, ka, unknown, 1, &secret2),
	    CKR_ATTRIBUTE_TYPE_INVALID);
	derive_one_attribute(s, &m, ka);
	len16 = 33;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, tmpl, 6, &secret2), CKR_ATTRIBUTE_VALUE_INVALID);
	/* Parameters: a KDF, shared data, a point off the curve, no point. */
	p.kdf = CKD_SHA256_KDF;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, NULL, 0, &secret2), CKR_MECHANISM_PARAM_INVALID);
	p.kdf = CKD_NULL;
	der[pl + 1] ^= 1;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, NULL, 0, &secret2), CKR_MECHANISM_PARAM_INVALID);
	p.pPublicData = NULL;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, NULL, 0, &secret2), CKR_MECHANISM_PARAM_INVALID);
	p.pPublicData = point;
	p.ulPublicDataLen = 33;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, NULL, 0, &secret2), CKR_MECHANISM_PARAM_INVALID);
	p.ulPublicDataLen = pl;
	m.ulParameterLen = sizeof(p) - 1;
	assert_int_equal(f->C_DeriveKey(s, &m, ka, NULL, 0, &secret2), CKR_MECHANISM_PARAM_INVALID);
	m.ulParameterLen = sizeof(p);
	/* Keys: one that may only sign, and an RSA key. */
	assert_int_equal(f->C_DeriveKey(s, &m, priv(s, K_EC), NULL, 0, &secret2),
	    CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_equal(f->C_DeriveKey(s, &m, priv(s, K_RSA), NULL, 0, &secret2),
	    CKR_KEY_TYPE_INCONSISTENT);
	assert_int_equal(f->C_DeriveKey(s, &m, ka, NULL, 0, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_CloseSession(s), CKR_OK);
	EVP_PKEY_free(peer);
}

/* ---- threads ---- */

static void *signer_thread(void *arg)
{
	static const uint8_t msg[] = "from a thread";
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_SESSION_HANDLE s;
	uint8_t sig[64];
	CK_ULONG sl;
	long ok = 0;
	int i;

	(void)arg;
	if (f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return (void *)0;
	for (i = 0; i < SIGNS_PER_THREAD; i++) {
		CK_TOKEN_INFO ti;

		sl = sizeof(sig);
		if (f->C_SignInit(s, &m, P11_H_LEAF(handle[K_EC], 1)) == CKR_OK &&
		    f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl) == CKR_OK &&
		    verify(K_EC, EVP_sha256(), msg, sizeof(msg), sig, sl, -1) &&
		    f->C_GetTokenInfo(P11_SLOT_ID, &ti) == CKR_OK)
			ok++;
	}
	f->C_CloseSession(s);
	return (void *)ok;
}

static void test_threads(void **state)
{
	pthread_t t[THREADS];
	void *ok;
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, signer_thread, NULL), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &ok), 0);
		assert_int_equal((long)ok, SIGNS_PER_THREAD);
	}
}

/* ---- the SP restarts under an open session ---- */

static void test_sp_restart(void **state)
{
	static const uint8_t msg[] = "before and after";
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_SESSION_HANDLE a, b;
	CK_SESSION_INFO si;
	CK_ULONG n = 1;
	CK_SLOT_ID slot;
	uint8_t sig[64];
	CK_ULONG sl = sizeof(sig);

	(void)state;
	a = open_ro();
	assert_int_equal(f->C_SignInit(a, &m, priv(a, K_EC)), CKR_OK);
	assert_int_equal(f->C_Sign(a, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl), CKR_OK);
	spd_stop();
	/* While it is down: no token, no new session. */
	assert_int_equal(f->C_GetSlotList(CK_TRUE, &slot, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_OpenSession(P11_SLOT_ID, CKF_SERIAL_SESSION, NULL, NULL, &b),
	    CKR_TOKEN_NOT_PRESENT);
	spd_start();
	/* The open session's SP went away: CKR_DEVICE_ERROR, and it stays so. */
	assert_int_equal(f->C_SignInit(a, &m, priv(a, K_EC) /* from the snapshot */), CKR_OK);
	sl = sizeof(sig);
	assert_int_equal(f->C_Sign(a, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl), CKR_DEVICE_ERROR);
	assert_int_equal(f->C_SignInit(a, &m, P11_H_LEAF(handle[K_EC], 1)), CKR_DEVICE_ERROR);
	assert_int_equal(f->C_FindObjectsInit(a, NULL, 0), CKR_DEVICE_ERROR);
	assert_int_equal(f->C_GetSessionInfo(a, &si), CKR_OK);
	/* The selfcert error that broke it: the write (io) or the read (peer) found the SP gone. */
	assert_true(
	    si.ulDeviceError == (CK_ULONG)-SC_ERR_PEER || si.ulDeviceError == (CK_ULONG)-SC_ERR_IO);
	assert_int_equal(f->C_CloseSession(a), CKR_OK);
	/* The next session works. */
	b = open_ro();
	sl = sizeof(sig);
	assert_int_equal(f->C_SignInit(b, &m, priv(b, K_EC)), CKR_OK);
	assert_int_equal(f->C_Sign(b, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl), CKR_OK);
	assert_true(verify(K_EC, EVP_sha256(), msg, sizeof(msg), sig, sl, -1));
	assert_int_equal(f->C_CloseSession(b), CKR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_edges),
		cmocka_unit_test(test_config_env),
		cmocka_unit_test(test_config_initialize),
		cmocka_unit_test(test_initialize),
		cmocka_unit_test_setup_teardown(test_slot_and_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions_and_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_mechanisms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decrypt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sp_restart, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
