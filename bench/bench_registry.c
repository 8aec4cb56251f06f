// SPDX-License-Identifier: Apache-2.0
/*
 * bench_registry.c — the registry's share of a device's requests without provd (issue 17, pg8):
 * T threads, each on its own registry connection as provd's workers are, make the registry calls
 * of a first enrollment (precheck, pin lookup, profile insert with the device's pin, profile
 * read, certificate record) or of a renewal (the same, then the profile's other K-1 certificates
 * in one sc_reg_cert_record_many), and the database server's CPU per device and per certificate
 * is read from /proc (--db-pid: its postmaster and backends). No TLS, no cryptography, no clients
 * on the same cores: what a change of reg_pg.c's statements buys shows here undiluted.
 *
 *   bench/pg.sh build/release/bench_registry [--threads T] [--devices N] [--renewal K] [--runs R]
 *   bench_registry --db-dir DIR …   (SQLite: the database is in this process, its CPU counted)
 *
 * On SQLite a last line adds up, over the runs, where the hot reads ran (rdw18: on the group's
 * idle writer, on the thread's own connection, of those how many found the writer busy and gave
 * it back), the registrations queued behind a read and the µs reads held the writer, the group's
 * registrations and commits, and the WAL holds (walhold18: runs written, writes gathered, failed
 * releases, kept errors dropped at a rollback) — how often each path is taken (weak19).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "../src/registry/backend.h" /* not src/spd/backend.h, also on the path */
#include "bench_util.h"
#include "registry.h"
#include "wal_vfs.h"

#define MAX_THREADS 64
#define MAX_K 33 /* the renewal count bench_fleet allows: K-1 <= 32 in one batch */

static const char *location;
static pid_t db_pid;
static int per_thread, k_certs = 1, run_no;
static const char *backend = "?"; /* the registry's backend, as sc_reg_backend_name says */
static struct sc_reg *regs[MAX_THREADS];

/* CPU seconds of the database server (postmaster and its children), or of this process. */
static double db_cpu(void)
{
	struct rusage ru;
	struct dirent *e;
	double t = 0;
	DIR *d;

	if (db_pid <= 0) {
		getrusage(RUSAGE_SELF, &ru);
		return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	}
	if ((d = opendir("/proc")) == NULL)
		bench_die("/proc");
	while ((e = readdir(d)) != NULL) {
		char path[64], buf[1024], *c;
		unsigned long ut, st;
		int pid = atoi(e->d_name), ppid;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (pid <= 0 || (f = fopen(path, "r")) == NULL)
			continue;
		/* Fields after the command's closing parenthesis: state, ppid, …, utime, stime. */
		if (fgets(buf, sizeof(buf), f) != NULL && (c = strrchr(buf, ')')) != NULL &&
		    sscanf(c + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid, &ut,
		        &st) == 3 &&
		    (pid == db_pid || ppid == db_pid))
			t += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		fclose(f);
	}
	closedir(d);
	return t;
}

static void dev_id(char *out, size_t len, long w, int i)
{
	snprintf(out, len, "R%d-T%ld-%d", run_no, w, i);
}

/* One thread's devices, each as provd's two requests call the registry. */
static void *worker(void *arg)
{
	static const struct sc_reg_rate rate = { 100, 3600 };
	static uint8_t der[600];
	char chain[2000]; /* a device CA and KEK in PEM, as provd keeps them */
	long w = (long)arg;
	struct sc_reg *reg = regs[w];
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t x = 2463534242u + (uint32_t)w;

	/* Base64 lines as a PEM's (they compress as little): the row as large as provd's. */
	for (size_t j = 0; j + 1 < sizeof(chain); j++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		chain[j] = j % 65 == 64 ? '\n' : b64[x % 64];
	}
	chain[sizeof(chain) - 1] = '\0';

	for (int i = 0; i < per_thread; i++) {
		struct sc_reg_profile_rec rec, got;
		struct sc_reg_pin pin, have;
		struct sc_reg_cert_rec c[MAX_K];
		struct sc_reg_cert_outcome out[MAX_K];
		int64_t retry, now = (int64_t)time(NULL);
		int found = 0, root_match = 0, already;

		memset(&rec, 0, sizeof(rec));
		dev_id(rec.device_id, sizeof(rec.device_id), w, i);
		snprintf(rec.profile_id, sizeof(rec.profile_id), "%08x%08lx%016x", run_no, w, i);
		snprintf(rec.challenge, sizeof(rec.challenge), "%s", rec.profile_id);
		rec.origin = SC_KEY_DEVICE_GENERATED;
		rec.alg = SC_ALG_P256;
		rec.not_before = now;
		rec.not_after = now + 86400;
		rec.profile_not_after = now + 600;
		rec.der = der;
		rec.der_len = 400;
		rec.chain_pem = chain;
		memset(&pin, 0, sizeof(pin));
		memset(pin.ca_sha256, 'a', 64);
		memset(pin.kek_sha256, 'b', 64);
		memset(pin.path_sha256, 'c', 64);
		memset(pin.root_sha256, 'd', 64);
		pin.spki_len = 91;
		rec.pin = &pin;
		if (sc_reg_profile_precheck(reg, rec.device_id, rec.challenge, NULL, &rate, now,
		        &retry) != SC_OK ||
		    sc_reg_pin_get(reg, rec.device_id, pin.root_sha256, &have, &found,
		        &root_match) != SC_OK ||
		    sc_reg_profile_insert(reg, &rec, &rate, now, "bench", &retry) != SC_OK ||
		    sc_reg_profile_get(reg, rec.profile_id, &got) != SC_OK)
			bench_die("profile of %s: %s", rec.device_id, sc_err_detail());
		sc_reg_profile_rec_clear(&got);
		for (int k = 0; k < k_certs; k++) {
			memset(&c[k], 0, sizeof(c[k]));
			snprintf(c[k].fpr, sizeof(c[k].fpr), "%016x%016lx%016x%016x", run_no, w, i,
			    k);
			snprintf(c[k].serial, sizeof(c[k].serial), "%02x", k + 1);
			snprintf(c[k].device_id, sizeof(c[k].device_id), "%s", rec.device_id);
			snprintf(c[k].profile_id, sizeof(c[k].profile_id), "%s", rec.profile_id);
			c[k].not_before = now;
			c[k].not_after = now + 3600;
			c[k].der = der;
			c[k].der_len = 450;
			c[k].renewal = k_certs > 1;
			c[k].period = (uint32_t)k;
		}
		if (sc_reg_cert_record(reg, &c[0], now, "bench", &already) != SC_OK)
			bench_die("certificate of %s: %s", rec.device_id, sc_err_detail());
		if (k_certs > 1 &&
		    sc_reg_cert_record_many(reg, c + 1, (size_t)k_certs - 1, now, "bench", out) !=
		        SC_OK)
			bench_die("batch of %s: %s", rec.device_id, sc_err_detail());
		for (int k = 0; k < k_certs - 1; k++)
			if (out[k].r != SC_OK)
				bench_die("batch of %s, #%d: %s", rec.device_id, k, out[k].detail);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 4, devices = 400, runs = 3;
	char dir[BENCH_PATH_MAX], db[BENCH_PATH_MAX + 32];
	struct bench_stat per_dev = { 0 }, per_cert = { 0 }, rate = { 0 };
	pthread_t th[MAX_THREADS];
	const char *db_dir = NULL;
	struct sc_reg_read_stats rd = { 0 };
	struct sc_wal_vfs_stats h0, h1;
	unsigned long g_ops = 0, g_commits = 0;
	unsigned long long h_runs = 0, h_gathered = 0, h_release_err = 0, h_dropped = 0;
	int sqlite = 0;

	bench_prog = "bench_registry";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			devices = atoi(argv[++i]);
		else if (strcmp(argv[i], "--renewal") == 0 && i + 1 < argc)
			k_certs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			location = argv[++i];
		else if (strcmp(argv[i], "--db-pid") == 0 && i + 1 < argc)
			db_pid = (pid_t)atoi(argv[++i]);
		else if (strcmp(argv[i], "--db-dir") == 0 && i + 1 < argc)
			db_dir = argv[++i];
		else {
			fprintf(stderr,
			    "usage: bench_registry [--threads T] [--devices N] "
			    "[--renewal K] [--runs R] [--db LOCATION [--db-pid PID] | "
			    "--db-dir DIR]\n");
			return 2;
		}
	}
	if (threads < 1 || threads > MAX_THREADS || devices < threads || devices > 100000 ||
	    k_certs < 1 || k_certs > MAX_K || runs < 1 || runs > 20)
		bench_die("--threads 1..%d, --devices T..100000, --renewal 2..%d, --runs 1..20",
		    MAX_THREADS, MAX_K);
	per_thread = devices / threads;
	if (location == NULL) {
		bench_mkdtemp(db_dir != NULL ? db_dir : "/var/tmp", dir, sizeof(dir));
		snprintf(db, sizeof(db), "%s/registry.db", dir);
		location = db;
	}
	for (run_no = 0; run_no < runs; run_no++) {
		struct sc_reg *reg;
		double c0, t0, cpu, wall;
		int n = per_thread * threads;

		/* The run's devices activated first, outside the measurement. */
		if (sc_reg_open(location, 1, &reg) != SC_OK)
			bench_die("%s", sc_err_detail());
		backend = sc_reg_backend_name(reg); /* the backend table's: outlives the handle */
		for (long w = 0; w < threads; w++)
			for (int i = 0; i < per_thread; i++) {
				char id[SC_DEVICE_ID_MAX + 1];

				dev_id(id, sizeof(id), w, i);
				if (sc_reg_device_add(reg, id, NULL, "bench",
				        (int64_t)time(NULL)) != SC_OK)
					bench_die("%s", sc_err_detail());
			}
		sc_reg_close(reg);
		/* Connections made (and the activation's gone) before the CPU is read. */
		for (long w = 0; w < threads; w++)
			if (sc_reg_open(location, 0, &regs[w]) != SC_OK)
				bench_die("%s", sc_err_detail());
		usleep(200000);
		sqlite = strcmp(backend, "sqlite") == 0;
		sc_wal_vfs_stats(&h0);
		c0 = db_cpu();
		t0 = bench_now();
		for (long w = 0; w < threads; w++)
			if (pthread_create(&th[w], NULL, worker, (void *)w) != 0)
				bench_die("pthread_create");
		for (int w = 0; w < threads; w++)
			pthread_join(th[w], NULL);
		wall = bench_now() - t0;
		cpu = db_cpu() -
		    c0;       /* before the connections close: a backend's CPU goes with it */
		if (sqlite) { /* the group's counts go with its last connection */
			struct sc_reg_read_stats r;
			unsigned long o, c;

			sc_wal_vfs_stats(
			    &h1); /* the run's own, as h0 was read after its activation */
			h_runs += h1.runs - h0.runs;
			h_gathered += h1.gathered - h0.gathered;
			h_release_err += h1.release_err - h0.release_err;
			h_dropped += h1.err_dropped - h0.err_dropped;
			sc_reg_sqlite_read_stats(regs[0], &r);
			sc_reg_sqlite_group_stats(regs[0], &o, &c);
			rd.on_writer += r.on_writer;
			rd.on_own += r.on_own;
			rd.fallbacks += r.fallbacks;
			rd.queued += r.queued;
			rd.held_us += r.held_us;
			g_ops += o;
			g_commits += c;
		}
		for (int w = 0; w < threads; w++)
			sc_reg_close(regs[w]);
		bench_stat_add(&per_dev, cpu / n);
		bench_stat_add(&per_cert, cpu / ((double)n * k_certs));
		bench_stat_add(&rate, n / wall);
	}
	printf(
	    "bench_registry: %s, %d threads, %d devices x %d runs, %d certificate%s per device%s\n",
	    backend, threads, per_thread * threads, runs, k_certs, k_certs > 1 ? "s" : "",
	    k_certs > 1 ? " (1 alone, the rest in one batch)" : "");
	printf("  database CPU ms/device %.3f [%.3f-%.3f], ms/certificate %.3f [%.3f-%.3f], "
	       "devices/s %.0f [%.0f-%.0f]%s\n",
	    bench_median(&per_dev) * 1e3, bench_min(&per_dev) * 1e3, bench_max(&per_dev) * 1e3,
	    bench_median(&per_cert) * 1e3, bench_min(&per_cert) * 1e3, bench_max(&per_cert) * 1e3,
	    bench_median(&rate), bench_min(&rate), bench_max(&rate),
	    db_pid > 0 ? "" : " (no --db-pid: this process's CPU, SQLite inside it)");
	if (sqlite && g_commits == 0)
		printf("  sqlite paths, all runs: no group commit (SC_REG_GROUP_COMMIT=0: the hot "
		       "reads and registrations are not counted); WAL holds %llu runs of %llu "
		       "writes, %llu failed releases, %llu kept errors dropped\n",
		    h_runs, h_gathered, h_release_err, h_dropped);
	else if (sqlite)
		printf(
		    "  sqlite paths, all runs: hot reads %lu on the idle writer, %lu on their own "
		    "connection (%lu gave a busy writer back), %lu registrations queued behind a "
		    "read, reads held the writer %lu us; group %lu registrations in %lu commits; "
		    "WAL holds %llu runs of %llu writes, %llu failed releases, %llu kept errors "
		    "dropped\n",
		    rd.on_writer, rd.on_own, rd.fallbacks, rd.queued, rd.held_us, g_ops, g_commits,
		    h_runs, h_gathered, h_release_err, h_dropped);
	if (location == db)
		bench_rmrf(dir);
	return 0;
}
