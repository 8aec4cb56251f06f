// SPDX-License-Identifier: Apache-2.0
/*
 * bench_p11.c — benchmark 2, PKCS#11 leg: signing with a leaf key through libselfcert-pkcs11.so
 * (dlopen, C_GetFunctionList, C_SignInit/C_Sign) against EVP_DigestSign in-process, with the
 * SP socket itself (sc_sp_sign, as bench_sp sign does) beside them, all in the same run.
 *
 *   SELFCERT=… SELFCERT_SPD=… SC_PKCS11_MODULE=…/libselfcert-pkcs11.so \
 *       bench_p11 [--rounds N] [--per-round K] [--json]
 *
 * Mechanisms as an application would pick them: CKM_ECDSA over a SHA-256 digest the caller
 * computes (the hashing is inside the timed loop, as it is in-process), CKM_EDDSA over the
 * message, CKM_SHA256_RSA_PKCS over the message (the module hashes). The first signature of
 * each key is verified with the certificate's public key, so a fast wrong answer cannot pass.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>
#include "bench_util.h"

#define P11_TARGET 2.5 /* issue 6: through PKCS#11 <= 2.5x in-process (P-256) */
#define SP_TARGET 2.0  /* through the SP socket <= 2x */
#define MSG_LEN 32
#define MAX_SIG 1024

struct key_case {
	const char *name;
	enum sc_alg alg;
	CK_MECHANISM_TYPE mech;
	uint32_t handle;
	X509 *cert;
	EVP_PKEY *local;
	CK_OBJECT_HANDLE obj;
};

static CK_FUNCTION_LIST_PTR f;
static CK_SESSION_HANDLE session;
static uint8_t msg[MSG_LEN];

/* One signature through the module, as the application would ask for it. */
static void p11_sign(struct key_case *k, uint8_t *sig, CK_ULONG *sig_len)
{
	CK_MECHANISM m = { k->mech, NULL, 0 };
	uint8_t md[32];
	const uint8_t *in = msg;
	CK_ULONG in_len = MSG_LEN;
	CK_RV rv;

	if (k->mech == CKM_ECDSA) {
		unsigned mdlen = 0;
		if (EVP_Digest(msg, MSG_LEN, md, &mdlen, EVP_sha256(), NULL) != 1)
			bench_die("sha256");
		in = md;
		in_len = mdlen;
	}
	*sig_len = MAX_SIG;
	if ((rv = f->C_SignInit(session, &m, k->obj)) != CKR_OK ||
	    (rv = f->C_Sign(session, (CK_BYTE_PTR)in, in_len, sig, sig_len)) != CKR_OK)
		bench_die("C_Sign with %s: CKR 0x%lx", k->name, (unsigned long)rv);
}

/* The first signature must verify against the certificate (ECDSA: raw r||s to DER first). */
static void check_signature(struct key_case *k, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t *der = NULL;
	int der_len = (int)sig_len, ok;

	if (k->alg == SC_ALG_P256) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, (int)sig_len / 2, NULL),
		       *s = BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL);
		if (es == NULL || r == NULL || s == NULL || sig_len != 64 ||
		    !ECDSA_SIG_set0(es, r, s))
			bench_die("ECDSA signature of %zu bytes", sig_len);
		der_len = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		sig = der;
	}
	ok = m != NULL &&
	    EVP_DigestVerifyInit(m, NULL, k->alg == SC_ALG_ED25519 ? NULL : EVP_sha256(), NULL,
	        X509_get0_pubkey(k->cert)) == 1 &&
	    EVP_DigestVerify(m, sig, (size_t)der_len, msg, MSG_LEN) == 1;
	EVP_MD_CTX_free(m);
	OPENSSL_free(der);
	if (!ok)
		bench_die("the PKCS#11 %s signature does not verify with the certificate's key",
		    k->name);
}

static CK_OBJECT_HANDLE find_key(uint32_t handle)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	char label[16];
	CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, label, 0 } };
	CK_OBJECT_HANDLE h = 0;
	CK_ULONG n = 0;

	snprintf(label, sizeof(label), "%u", handle);
	tmpl[1].ulValueLen = strlen(label);
	if (f->C_FindObjectsInit(session, tmpl, 2) != CKR_OK ||
	    f->C_FindObjects(session, &h, 1, &n) != CKR_OK ||
	    f->C_FindObjectsFinal(session) != CKR_OK || n != 1)
		bench_die("no PKCS#11 private key labelled %s", label);
	return h;
}

int main(int argc, char **argv)
{
	struct key_case cases[] = {
		{ "p256", SC_ALG_P256, CKM_ECDSA, 0, NULL, NULL, 0 },
		{ "ed25519", SC_ALG_ED25519, CKM_EDDSA, 0, NULL, NULL, 0 },
		{ "rsa2048", SC_ALG_RSA2048, CKM_SHA256_RSA_PKCS, 0, NULL, NULL, 0 },
	};
	const size_t n_cases = sizeof(cases) / sizeof(cases[0]);
	int rounds = 7, per_round = 200, json = 0;
	const char *module = getenv("SC_PKCS11_MODULE");
	char base[BENCH_PATH_MAX];
	CK_C_INITIALIZE_ARGS init = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	CK_C_GetFunctionList getf;
	CK_SLOT_ID slot;
	CK_ULONG n_slots = 1;
	struct bench_sp_device d;
	struct sc_sp *sp = NULL;
	CK_RV rv;
	void *lib;

	bench_prog = "bench_p11";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--per-round") == 0 && i + 1 < argc)
			per_round = atoi(argv[++i]);
		else {
			fprintf(stderr,
			    "usage: SELFCERT_SPD=… SC_PKCS11_MODULE=… bench_p11 [--rounds 1..%d] "
			    "[--per-round K] [--json]\n",
			    BENCH_MAX_ROUNDS);
			return 2;
		}
	}
	if (rounds < 1 || rounds > BENCH_MAX_ROUNDS || per_round < 1 || per_round > 100000)
		bench_die("--rounds 1..%d, --per-round 1..100000", BENCH_MAX_ROUNDS);
	if (module == NULL || *module == '\0')
		bench_die("set $SC_PKCS11_MODULE to libselfcert-pkcs11.so");

	/* A device with one leaf key of each algorithm, issued before the module looks (it loads
	 * the objects when a session opens). */
	bench_mkdtemp("/dev/shm", base, sizeof(base));
	bench_sp_device_up(&d, base, "p256", "p256", "p256", 8);
	if (sc_sp_connect(d.sock, &sp) != SC_OK)
		bench_die("connect %s", d.sock);
	RAND_bytes(msg, sizeof(msg));
	for (size_t c = 0; c < n_cases; c++) {
		size_t len;
		uint8_t *der = bench_sp_profile(&d, cases[c].name, &len);
		if (sc_sp_issue(sp, der, len, &cases[c].handle, &cases[c].cert) != SC_OK ||
		    sc_alg_keygen(cases[c].alg, &cases[c].local) != SC_OK)
			bench_die("issue %s", cases[c].name);
		OPENSSL_free(der);
	}

	if (setenv("SELFCERT_SP", d.sock, 1) != 0 || setenv("SELFCERT_CERTS", d.certs, 1) != 0)
		bench_die("setenv");
	if ((lib = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL)
		bench_die("dlopen %s: %s", module, dlerror());
	*(void **)(&getf) = dlsym(lib, "C_GetFunctionList");
	if (getf == NULL || getf(&f) != CKR_OK)
		bench_die("C_GetFunctionList");
	if ((rv = f->C_Initialize(&init)) != CKR_OK ||
	    (rv = f->C_GetSlotList(CK_TRUE, &slot, &n_slots)) != CKR_OK || n_slots != 1 ||
	    (rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &session)) != CKR_OK)
		bench_die("module set-up: CKR 0x%lx (%lu slots with a token)", (unsigned long)rv,
		    (unsigned long)n_slots);

	if (json)
		printf("{\"benchmark\":\"sign-pkcs11\",\"rounds\":%d,\"per_round\":%d,\"cases\":[",
		    rounds, per_round);
	else
		printf(
		    "Benchmark 2 (PKCS#11): signing a 32-byte message with a leaf key, us per signature\n"
		    "(median [min-max] of %d rounds x %d; ratios of medians to in-process EVP_DigestSign)\n"
		    "%-8s %-20s %24s %24s %24s %8s %8s\n",
		    rounds, per_round, "key", "mechanism", "PKCS#11 module", "SP socket",
		    "in-process", "p11/inp", "sp/inp");
	for (size_t c = 0; c < n_cases; c++) {
		struct key_case *k = &cases[c];
		struct bench_stat s_p11 = { .n = 0 }, s_sp = { .n = 0 }, s_local = { .n = 0 };
		uint8_t sig[MAX_SIG];
		CK_ULONG sig_len;
		double rp, rs;

		k->obj = find_key(k->handle);
		p11_sign(k, sig, &sig_len);
		check_signature(k, sig, sig_len);
		for (int r = 0; r < rounds; r++) {
			double t = bench_now();
			for (int i = 0; i < per_round; i++)
				p11_sign(k, sig, &sig_len);
			bench_stat_add(&s_p11, (bench_now() - t) / per_round);

			/* As `selfcert device sign` does: hash here, send the digest (Ed25519: the message). */
			t = bench_now();
			for (int i = 0; i < per_round; i++) {
				uint8_t *s = NULL, md[32];
				size_t slen = 0;
				unsigned mdlen = 0;
				sc_err e;
				if (k->alg == SC_ALG_ED25519) {
					e = sc_sp_sign(sp, k->handle, SC_SP_SIGN_MESSAGE,
					    SC_DIGEST_NONE, msg, MSG_LEN, &s, &slen);
				} else {
					EVP_Digest(msg, MSG_LEN, md, &mdlen, EVP_sha256(), NULL);
					e = sc_sp_sign(sp, k->handle, SC_SP_SIGN_DIGEST,
					    SC_DIGEST_SHA256, md, mdlen, &s, &slen);
				}
				if (e != SC_OK)
					bench_die("sp sign %s", k->name);
				OPENSSL_free(s);
			}
			bench_stat_add(&s_sp, (bench_now() - t) / per_round);

			t = bench_now();
			for (int i = 0; i < per_round; i++) {
				EVP_MD_CTX *m = EVP_MD_CTX_new();
				size_t slen = sizeof(sig);
				if (m == NULL ||
				    EVP_DigestSignInit(m, NULL,
				        sc_sign_md(k->local, SC_DIGEST_SHA256), NULL,
				        k->local) != 1 ||
				    EVP_DigestSign(m, sig, &slen, msg, MSG_LEN) != 1)
					bench_die("in-process sign %s", k->name);
				EVP_MD_CTX_free(m);
			}
			bench_stat_add(&s_local, (bench_now() - t) / per_round);
		}
		rp = bench_median(&s_p11) / bench_median(&s_local);
		rs = bench_median(&s_sp) / bench_median(&s_local);
		if (json) {
			printf("%s{\"key\":\"%s\",\"mechanism\":\"%s\",", c ? "," : "", k->name,
			    k->mech == CKM_ECDSA       ? "CKM_ECDSA"
			        : k->mech == CKM_EDDSA ? "CKM_EDDSA"
			                               : "CKM_SHA256_RSA_PKCS");
			bench_json_stat(stdout, "pkcs11_us", &s_p11, 1e6);
			printf(",");
			bench_json_stat(stdout, "sp_us", &s_sp, 1e6);
			printf(",");
			bench_json_stat(stdout, "inprocess_us", &s_local, 1e6);
			printf(",\"ratio_pkcs11\":%.3f,\"ratio_sp\":%.3f,\"ratio_pkcs11_sp\":%.3f}",
			    rp, rs, rp / rs);
		} else {
			char a[64], b[64], e[64];
			bench_fmt(a, sizeof(a), &s_p11, 1e6, "%.1f");
			bench_fmt(b, sizeof(b), &s_sp, 1e6, "%.1f");
			bench_fmt(e, sizeof(e), &s_local, 1e6, "%.1f");
			printf("%-8s %-20s %24s %24s %24s %7.2fx %7.2fx\n", k->name,
			    k->mech == CKM_ECDSA       ? "CKM_ECDSA(sha256)"
			        : k->mech == CKM_EDDSA ? "CKM_EDDSA"
			                               : "CKM_SHA256_RSA_PKCS",
			    a, b, e, rp, rs);
		}
	}
	if (json)
		printf("],\"targets\":{\"pkcs11_p256\":%.1f,\"sp_p256\":%.1f}}\n", P11_TARGET,
		    SP_TARGET);
	else
		printf("targets (P-256): PKCS#11 <= %.1fx, SP socket <= %.1fx in-process\n",
		    P11_TARGET, SP_TARGET);

	f->C_CloseSession(session);
	f->C_Finalize(NULL);
	dlclose(lib);
	for (size_t c = 0; c < n_cases; c++) {
		X509_free(cases[c].cert);
		EVP_PKEY_free(cases[c].local);
	}
	sc_sp_close(sp);
	bench_sp_device_down(&d);
	bench_rmrf(base);
	return 0;
}
