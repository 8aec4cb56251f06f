// SPDX-License-Identifier: Apache-2.0
/*
 * bench_util.h — what the benchmarks of bench/ share: timing, medians with ranges over rounds,
 * running the real programs, a real personalized SP, and a process's CPU time and memory read
 * from /proc. Benchmark code: it dies on any failure with one line naming what failed, since a
 * benchmark that goes on after an error measures nothing.
 */
#ifndef SC_BENCH_UTIL_H
#define SC_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include "testworld.h"

#define BENCH_MAX_ROUNDS 64
#define BENCH_PATH_MAX 512

extern const char *bench_prog; /* "bench_ca", for messages */

void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

/* The per-round values of one figure. */
struct bench_stat {
	double v[BENCH_MAX_ROUNDS];
	int n;
};
void bench_stat_add(struct bench_stat *s, double v);
double bench_median(const struct bench_stat *s);
double bench_min(const struct bench_stat *s);
double bench_max(const struct bench_stat *s);
/* "median [min-max]" of the values times scale, each printed with fmt (e.g. "%.2f"). */
void bench_fmt(char *out, size_t len, const struct bench_stat *s, double scale, const char *fmt);
/* "name":{"median":…,"min":…,"max":…} (values times scale). */
void bench_json_stat(FILE *f, const char *name, const struct bench_stat *s, double scale);

/* Run bin with the NULL-terminated arguments, stdout to /dev/null; die unless it exits 0. */
void bench_run(const char *bin, ...) __attribute__((sentinel));

/*
 * Start a daemon: argv[0] is the binary; stdout to /dev/null, stderr appended to log (or
 * /dev/null when NULL). Returns its pid.
 */
pid_t bench_spawn(char *const argv[], const char *log);
/* SIGTERM, then wait. */
void bench_stop(pid_t pid);

/* A fresh folder under base ("/dev/shm", "/var/tmp"); its path into out. */
void bench_mkdtemp(const char *base, char *out, size_t len);
/* rm -rf. */
void bench_rmrf(const char *dir);

/* User + system CPU seconds of a process (all its threads), from /proc/PID/stat. */
double bench_cpu_seconds(pid_t pid);
/* A "Vm…:" line of /proc/PID/status in KiB (VmHWM, VmRSS); dies if absent. */
long bench_vm_kib(pid_t pid, const char *field);

/*
 * A real device: a store for device BENCH-1 personalized in-process (tests/testlib: the test
 * world's manufacturer certifies the CSK and KEK the SP generates; its network "bench" is the
 * anchor; max_keys slots, leaves up to 365 days, locked), then served by the real selfcert-spd
 * on dir/sp.sock. dir/dev holds device-ca.pem, kex.pem and chain.pem, as `selfcert mfr
 * personalize` writes them. csk, kex and signer are algorithm names ("p256"); signer is the
 * network's (root and profile signer), the manufacturer's keys are P-256. Needs $SELFCERT_SPD.
 */
struct bench_sp_device {
	char dir[BENCH_PATH_MAX], sock[BENCH_PATH_MAX + 16], store[BENCH_PATH_MAX + 32];
	char certs[BENCH_PATH_MAX + 16];
	pid_t spd;
	pid_t swtpm;                /* bench_sp_device_up_tpm: the device's own swtpm, else 0 */
	struct sc_test_world world; /* the manufacturer and the network */
	X509 *device_ca, *kex;      /* the SP's certificates (owned) */
	X509 *signer;               /* world.signer, world.signer_key (borrowed) */
	EVP_PKEY *signer_key;
};
void bench_sp_device_up(struct bench_sp_device *d, const char *dir, const char *csk,
    const char *kex, const char *signer, int max_keys);
/*
 * The same device with the TPM key backend, on its own swtpm (dir/tpm, unix socket; swtpm must
 * be on PATH): personalized in-process through the TPM, then served by selfcert-spd --tcti.
 */
void bench_sp_device_up_tpm(struct bench_sp_device *d, const char *dir, const char *csk,
    const char *kex, const char *signer, int max_keys);
/* The same, operator-gated (issue #12): the network's profile signer is the device's gate key. */
void bench_sp_device_up_tpm_gated(struct bench_sp_device *d, const char *dir, const char *csk,
    const char *kex, const char *signer, int max_keys);
void bench_sp_device_down(struct bench_sp_device *d);
/*
 * A profile for the device, signed as the provisioning server would (DER; OPENSSL_free): valid an
 * hour, the leaf a week, SHA-256; a key of leaf_alg generated, or supplied (then encrypted to
 * the device's KEK) when supplied is not NULL.
 */
uint8_t *bench_sp_profile_key(struct bench_sp_device *d, enum sc_alg leaf_alg, EVP_PKEY *supplied,
    size_t *len);
/* The same for an algorithm name, generated. */
uint8_t *bench_sp_profile(struct bench_sp_device *d, const char *leaf_alg, size_t *len);

#endif
