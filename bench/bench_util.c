// SPDX-License-Identifier: Apache-2.0
/*
 * bench_util.c — timing, statistics, processes and /proc readings for the benchmarks
 * (bench_util.h). Everything dies on failure: a benchmark has nobody to hand an error to.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>
#include "bench_util.h"
#include "pem.h"
#include "testsp.h"
#include "backend.h"
#include <openssl/pem.h>

#define BENCH_MAX_ARGS 40
#define BENCH_PROC_LINE 1024
#define BENCH_SPD_WAIT_TRIES 300 /* x 20 ms: the SP's socket appears within 6 s */

const char *bench_prog = "bench";

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (*sc_err_detail())
		fprintf(stderr, " [%s]", sc_err_detail());
	fprintf(stderr, "\n");
	exit(1);
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_stat_add(struct bench_stat *s, double v)
{
	if (s->n >= BENCH_MAX_ROUNDS)
		bench_die("more than %d rounds", BENCH_MAX_ROUNDS);
	s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median(const struct bench_stat *s)
{
	double t[BENCH_MAX_ROUNDS];

	if (s->n == 0)
		return 0;
	memcpy(t, s->v, sizeof(double) * (size_t)s->n);
	qsort(t, (size_t)s->n, sizeof(double), cmp_double);
	return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

double bench_min(const struct bench_stat *s)
{
	double m = s->n ? s->v[0] : 0;

	for (int i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

double bench_max(const struct bench_stat *s)
{
	double m = s->n ? s->v[0] : 0;

	for (int i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void bench_fmt(char *out, size_t len, const struct bench_stat *s, double scale, const char *fmt)
{
	char a[32], b[32], c[32];

	snprintf(a, sizeof(a), fmt, bench_median(s) * scale);
	snprintf(b, sizeof(b), fmt, bench_min(s) * scale);
	snprintf(c, sizeof(c), fmt, bench_max(s) * scale);
	snprintf(out, len, "%s [%s-%s]", a, b, c);
}
#pragma GCC diagnostic pop

void bench_json_stat(FILE *f, const char *name, const struct bench_stat *s, double scale)
{
	fprintf(f, "\"%s\":{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g}", name,
	    bench_median(s) * scale, bench_min(s) * scale, bench_max(s) * scale);
}

void bench_run(const char *bin, ...)
{
	char *argv[BENCH_MAX_ARGS];
	va_list ap;
	int n = 0, status;
	pid_t pid;

	argv[n++] = (char *)bin;
	va_start(ap, bin);
	while (n < BENCH_MAX_ARGS - 1 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execv(bin, argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		bench_die("%s %s %s failed", bin, argv[1] ? argv[1] : "",
		    argv[1] && argv[2] ? argv[2] : "");
}

pid_t bench_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int out = open("/dev/null", O_WRONLY);
		int err = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : out;
		if (out >= 0)
			dup2(out, STDOUT_FILENO);
		if (err >= 0)
			dup2(err, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void bench_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

void bench_mkdtemp(const char *base, char *out, size_t len)
{
	snprintf(out, len, "%s/selfcert-bench-XXXXXX", base);
	if (mkdtemp(out) == NULL)
		bench_die("mkdtemp %s: %s", out, strerror(errno));
}

void bench_rmrf(const char *dir)
{
	bench_run("/bin/rm", "-rf", dir, (char *)NULL);
}

double bench_cpu_seconds(pid_t pid)
{
	char p[64], line[BENCH_PROC_LINE], *s;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if ((f = fopen(p, "r")) == NULL || fgets(line, sizeof(line), f) == NULL)
		bench_die("%s: %s", p, strerror(errno));
	fclose(f);
	/* The command name may hold spaces and parentheses: fields start after the last ')'.
	 * Then: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime. */
	if ((s = strrchr(line, ')')) == NULL ||
	    sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		bench_die("%s: unexpected format", p);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long bench_vm_kib(pid_t pid, const char *field)
{
	char p[64], line[BENCH_PROC_LINE];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	if ((f = fopen(p, "r")) == NULL)
		bench_die("%s: %s", p, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	if (v < 0)
		bench_die("%s: no %s", p, field);
	return v;
}

/* ---- a real device ---- */

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		bench_die("set $%s", name);
	return v;
}

static enum sc_alg alg_named(const char *name)
{
	enum sc_alg alg;

	if (sc_alg_from_name(name, &alg) != SC_OK)
		bench_die("algorithm %s", name);
	return alg;
}

/* The certificates `selfcert mfr personalize` writes, for the PKCS#11 module's folder. */
static void write_certs(struct bench_sp_device *d)
{
	X509 *chain[2] = { d->device_ca, d->world.mfr_ca };
	char p[BENCH_PATH_MAX + 48];

	if (mkdir(d->certs, 0700) != 0)
		bench_die("mkdir %s: %s", d->certs, strerror(errno));
	snprintf(p, sizeof(p), "%s/device-ca.pem", d->certs);
	if (sc_write_cert(p, d->device_ca) != SC_OK)
		bench_die("%s", p);
	snprintf(p, sizeof(p), "%s/kex.pem", d->certs);
	if (sc_write_cert(p, d->kex) != SC_OK)
		bench_die("%s", p);
	snprintf(p, sizeof(p), "%s/chain.pem", d->certs);
	if (sc_write_certs(p, chain, 2) != SC_OK)
		bench_die("%s", p);
}

static void device_up(struct bench_sp_device *d, const char *dir, const char *csk, const char *kex,
    const char *signer, int max_keys, int tpm);

void bench_sp_device_up(struct bench_sp_device *d, const char *dir, const char *csk,
    const char *kex, const char *signer, int max_keys)
{
	device_up(d, dir, csk, kex, signer, max_keys, 0);
}

void bench_sp_device_up_tpm(struct bench_sp_device *d, const char *dir, const char *csk,
    const char *kex, const char *signer, int max_keys)
{
	device_up(d, dir, csk, kex, signer, max_keys, 1);
}

void bench_sp_device_up_tpm_gated(struct bench_sp_device *d, const char *dir, const char *csk,
    const char *kex, const char *signer, int max_keys)
{
	device_up(d, dir, csk, kex, signer, max_keys, 2);
}

/* swtpm on dir/tpm/sock, in the foreground (bench_stop ends it); *tcti its TCTI string. */
static pid_t start_swtpm(const char *dir, char *tcti, size_t tcti_len)
{
	char state[BENCH_PATH_MAX + 16], server[BENCH_PATH_MAX + 48], ctrl[BENCH_PATH_MAX + 48],
	    sock[BENCH_PATH_MAX + 16], tdir[BENCH_PATH_MAX + 8];
	char *argv[] = { "/usr/bin/swtpm", "socket", "--tpm2", "--tpmstate", state, "--server",
		server, "--ctrl", ctrl, "--flags", "not-need-init,startup-clear", NULL };
	struct stat sb;
	pid_t pid;

	snprintf(tdir, sizeof(tdir), "%s/tpm", dir);
	if (mkdir(tdir, 0700) != 0)
		bench_die("mkdir %s: %s", tdir, strerror(errno));
	snprintf(state, sizeof(state), "dir=%s", tdir);
	snprintf(sock, sizeof(sock), "%s/sock", tdir);
	snprintf(server, sizeof(server), "type=unixio,path=%s", sock);
	snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s.ctrl", sock);
	snprintf(tcti, tcti_len, "swtpm:path=%s", sock);
	pid = bench_spawn(argv, NULL);
	for (int i = 0; i < BENCH_SPD_WAIT_TRIES && stat(sock, &sb) != 0; i++)
		usleep(20000);
	if (stat(sock, &sb) != 0)
		bench_die("swtpm on %s did not start", sock);
	return pid;
}

static void device_up(struct bench_sp_device *d, const char *dir, const char *csk, const char *kex,
    const char *signer, int max_keys, int tpm)
{
	const char *spd = need_env("SELFCERT_SPD");
	struct sc_test_world_opts wo = { .alg = SC_ALG_P256,
		.signer_alg = alg_named(signer),
		.mfr = "Bench",
		.network_id = "bench",
		.device_id = "BENCH-1" };
	char sp_dir[BENCH_PATH_MAX + 16];
	char tcti[BENCH_PATH_MAX + 32];
	char *argv[] = { (char *)spd, "--store", sp_dir, "--socket", d->sock, "--foreground",
		tpm ? "--tcti" : NULL, tcti, NULL };
	struct sc_test_sp sp;
	sc_err r;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(sp_dir, sizeof(sp_dir), "%s/sp", dir);
	snprintf(d->certs, sizeof(d->certs), "%s/dev", dir);
	snprintf(d->sock, sizeof(d->sock), "%s/sp.sock", dir);
	snprintf(d->store, sizeof(d->store), "%s/store", sp_dir);
	if (sc_test_world_make(&wo, &d->world) != SC_OK)
		bench_die("test world");
	/* Personalized here, closed, then served by the daemon, which takes the folder's lock. */
	if (tpm)
		d->swtpm = start_swtpm(dir, tcti, sizeof(tcti));
	/* tpm 2: operator-gated (issue #12): the network's signer is the gate key, as in sp init. */
	if (tpm == 2) {
		char gate[BENCH_PATH_MAX + 16];
		BIO *b;
		snprintf(gate, sizeof(gate), "%s/gate.pem", dir);
		if ((b = BIO_new_file(gate, "w")) == NULL ||
		    PEM_write_bio_PUBKEY(b, d->world.signer_key) != 1 || BIO_free(b) != 1 ||
		    spd_tpm_gate_init(sp_dir, gate) != SC_OK || spd_tpm_gate_load(sp_dir) != SC_OK)
			bench_die("gate key for %s: %s", sp_dir, sc_err_detail());
	}
	r = tpm ? sc_test_sp_open_tpm(&sp, sp_dir, wo.device_id, tcti)
	        : sc_test_sp_open(&sp, sp_dir, wo.device_id);
	if (r != SC_OK ||
	    sc_test_sp_personalize(&sp, &d->world, alg_named(csk), alg_named(kex), 365,
	        (uint32_t)max_keys, 1) != SC_OK)
		bench_die("personalize %s", sp_dir);
	d->device_ca = sp.csk_cert;
	d->kex = sp.kek_cert;
	sp.csk_cert = sp.kek_cert = NULL;
	sc_test_sp_close(&sp);
	d->signer = d->world.signer;
	d->signer_key = d->world.signer_key;
	write_certs(d);
	d->spd = bench_spawn(argv, NULL);
	for (int i = 0; i < BENCH_SPD_WAIT_TRIES; i++) {
		struct sc_sp *c = NULL;
		if (sc_sp_connect(d->sock, &c) == SC_OK) {
			sc_sp_close(c);
			return;
		}
		usleep(20000);
	}
	bench_die("selfcert-spd on %s did not answer", d->sock);
}

void bench_sp_device_down(struct bench_sp_device *d)
{
	bench_stop(d->spd);
	d->spd = 0;
	bench_stop(d->swtpm);
	d->swtpm = 0;
	X509_free(d->device_ca);
	X509_free(d->kex);
	sc_test_world_free(&d->world);
	d->device_ca = d->kex = d->signer = NULL;
	d->signer_key = NULL;
}

uint8_t *bench_sp_profile_key(struct bench_sp_device *d, enum sc_alg leaf_alg, EVP_PKEY *supplied,
    size_t *len)
{
	struct sc_profile_params pp;
	uint8_t *der = NULL;

	sc_test_profile_params(&d->world, &pp);
	pp.not_after = pp.not_before + 7 * 86400;
	pp.generate_alg = leaf_alg;
	pp.supplied_key = supplied;
	pp.kek_cert = supplied != NULL ? d->kex : NULL;
	if (sc_test_profile_make(&d->world, &pp, &der, len) != SC_OK)
		bench_die("profile for %s", sc_alg_name(leaf_alg));
	return der;
}

uint8_t *bench_sp_profile(struct bench_sp_device *d, const char *leaf_alg, size_t *len)
{
	return bench_sp_profile_key(d, alg_named(leaf_alg), NULL, len);
}
