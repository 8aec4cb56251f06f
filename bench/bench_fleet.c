// SPDX-License-Identifier: Apache-2.0
/*
 * bench_fleet.c — benchmark 5 (and the provisioning server's half of benchmark 4): a fleet of
 * simulated devices enrolled through one selfcert-provd with its SQLite registry on disk.
 *
 *   SELFCERT=… SELFCERT_PROVD=… bench_fleet [--devices N] [--clients C] [--provd-threads T]
 *       [--max-minutes M] [--http] [--db-dir DIR] [--json]
 *
 * Manufactures N devices in-process (bench_net.h), activates them all with one
 * `selfcert net device import`, starts the server, and lets C keep-alive clients enrol them
 * (profile, in-process issuance, certificate). One run, not rounds: it is the fleet's story, not
 * a micro-measurement. Reports the wall time, the server's CPU per device (/proc/PID/stat), the
 * registry's size on disk after the server stops (database + WAL), the server's peak RSS
 * (VmHWM) idle with the N devices registered and at the end with all N enrolled, and the
 * server's own count of registered certificates (GET /metrics), which must equal the devices
 * enrolled. With --max-minutes, devices not started by then are left out, the figures are for
 * those enrolled, and the full fleet's wall time is an extrapolation, labelled as such.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bench_net.h"

#define PROGRESS_STEPS 10

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

int main(int argc, char **argv)
{
	size_t n = 100000;
	int clients = 32, provd_threads = 4, tls = 1, json = 0;
	double max_minutes = 0, t, t_make, t_act, cpu0, cpu, deadline;
	const char *db_base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char base[BENCH_PATH_MAX], db[BENCH_PATH_MAX + 32], csv[BENCH_PATH_MAX + 32],
	    p[BENCH_PATH_MAX + 64];
	char url[128], *metrics = NULL, *m;
	long hwm_idle, hwm, rss, registered = -1;
	long long db_bytes;
	struct bench_world w;
	struct bench_server provd;
	struct bench_clients cl;
	struct bench_drive_result res;
	struct bench_dev *devs;

	bench_prog = "bench_fleet";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--http") == 0)
			tls = 0;
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			n = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
			clients = atoi(argv[++i]);
		else if (strcmp(argv[i], "--provd-threads") == 0 && i + 1 < argc)
			provd_threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--max-minutes") == 0 && i + 1 < argc)
			max_minutes = atof(argv[++i]);
		else if (strcmp(argv[i], "--db-dir") == 0 && i + 1 < argc)
			db_base = argv[++i];
		else {
			fprintf(stderr,
			    "usage: SELFCERT=… SELFCERT_PROVD=… bench_fleet [--devices N] [--clients C] "
			    "[--provd-threads T] [--max-minutes M] [--http] [--db-dir DIR] [--json]\n");
			return 2;
		}
	}
	if (n < 1 || n > 1000000 || clients < 1 || clients > BENCH_MAX_CLIENTS ||
	    provd_threads < 1 || provd_threads > 64 || max_minutes < 0)
		bench_die("--devices 1..1000000, --clients 1..%d, --provd-threads 1..64",
		    BENCH_MAX_CLIENTS);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	bench_mkdtemp(db_base, base, sizeof(base));
	bench_world_up(&w, base);
	if ((devs = calloc(n, sizeof(*devs))) == NULL)
		bench_die("out of memory");
	t = bench_now();
	bench_devs_make(&w, "FLEET", 0, n, devs);
	t_make = bench_now() - t;
	snprintf(db, sizeof(db), "%s/registry.db", base);
	snprintf(csv, sizeof(csv), "%s/feed.csv", base);
	t = bench_now();
	bench_devs_activate(devs, n, db, csv);
	t_act = bench_now() - t;
	fprintf(stderr, "bench_fleet: %zu devices manufactured in %.1f s, activated in %.1f s\n", n,
	    t_make, t_act);

	bench_provd_start(&w, db, provd_threads, tls, &provd);
	hwm_idle = bench_vm_kib(provd.pid, "VmHWM");
	bench_clients_init(&cl, clients, &w);
	cpu0 = bench_cpu_seconds(provd.pid);
	deadline = max_minutes > 0 ? bench_now() + max_minutes * 60 : 0;
	bench_drive(BENCH_PROVD, &provd, &cl, devs, n, deadline, n >= 1000 ? n / PROGRESS_STEPS : 0,
	    &res);
	cpu = bench_cpu_seconds(provd.pid) - cpu0;
	hwm = bench_vm_kib(provd.pid, "VmHWM");
	rss = bench_vm_kib(provd.pid, "VmRSS");
	bench_clients_free(&cl);
	snprintf(url, sizeof(url), "%s/metrics", provd.url);
	if (bench_http_get(&w, url, &metrics) != 200 || metrics == NULL)
		bench_die("GET /metrics");
	if ((m = strstr(metrics, "\nselfcert_provd_registry_certificates ")) != NULL)
		registered = strtol(m + strlen("\nselfcert_provd_registry_certificates "), NULL,
		    10);
	free(metrics);
	if (registered != (long)res.done)
		bench_die("the server counts %ld registered certificates, %zu devices enrolled",
		    registered, res.done);
	if (res.done == 0)
		bench_die("no device enrolled before the deadline");
	bench_stop(provd.pid);
	db_bytes = file_size(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	db_bytes += file_size(p);

	if (json) {
		printf(
		    "{\"benchmark\":\"fleet\",\"runs\":1,\"transport\":\"%s\",\"devices_requested\":%zu,"
		    "\"devices_enrolled\":%zu,\"complete\":%s,\"clients\":%d,\"provd_threads\":%d,\"manufacture_s\":%.1f,"
		    "\"activate_s\":%.1f,\"wall_s\":%.1f,\"devices_per_s\":%.1f,\"server_cpu_s\":%.2f,"
		    "\"server_cpu_ms_per_device\":%.4f,\"registry_certificates\":%ld,\"db_bytes\":%lld,"
		    "\"db_bytes_per_device\":%.0f,\"provd_hwm_kib_idle\":%ld,\"provd_hwm_kib\":%ld,\"provd_rss_kib\":%ld",
		    tls ? "https-keepalive" : "http-keepalive", n, res.done,
		    res.done == n ? "true" : "false", clients, provd_threads, t_make, t_act,
		    res.wall, (double)res.done / res.wall, cpu, cpu / (double)res.done * 1e3,
		    registered, db_bytes, (double)db_bytes / (double)res.done, hwm_idle, hwm, rss);
		if (res.done < n)
			printf(",\"extrapolated_wall_s\":%.0f",
			    res.wall * (double)n / (double)res.done);
		printf("}\n");
	} else {
		printf(
		    "Benchmark 5: a fleet enrolled through one selfcert-provd (SQLite on disk), one run\n"
		    "devices activated          %zu (manufactured in-process in %.1f s, imported in %.1f s)\n"
		    "devices enrolled           %zu%s\n"
		    "clients / server threads   %d keep-alive %s / %d\n"
		    "wall time                  %.1f s (%.1f devices/s)\n"
		    "server CPU                 %.1f s, %.3f ms per device\n"
		    "registry on disk           %.1f MiB (%.0f bytes per device), %ld certificates registered\n"
		    "server peak RSS (VmHWM)    %.1f MiB idle with %zu devices registered, %.1f MiB at the end (RSS %.1f MiB)\n",
		    n, t_make, t_act, res.done, res.done == n ? "" : " (stopped at --max-minutes)",
		    clients, tls ? "HTTPS" : "HTTP", provd_threads, res.wall,
		    (double)res.done / res.wall, cpu, cpu / (double)res.done * 1e3,
		    (double)db_bytes / 1048576.0, (double)db_bytes / (double)res.done, registered,
		    hwm_idle / 1024.0, n, hwm / 1024.0, rss / 1024.0);
		if (res.done < n)
			printf(
			    "EXTRAPOLATED (not measured): %zu devices would take %.0f s at this rate\n",
			    n, res.wall * (double)n / (double)res.done);
	}
	bench_devs_free(devs, n);
	free(devs);
	bench_world_down(&w);
	bench_rmrf(base);
	curl_global_cleanup();
	return 0;
}
