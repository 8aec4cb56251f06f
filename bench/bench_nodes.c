// SPDX-License-Identifier: Apache-2.0
/*
 * bench_nodes.c — several selfcert-provd nodes on one registry (issue 13): for K in --nodes,
 * K servers on the same --db, the devices of each round split between them, each node driven by
 * its own keep-alive clients from its own thread. Figures: devices per second (wall) and devices
 * per server CPU-second, where server CPU is every node's (utime + stime) plus, with --db-pid,
 * the database server's (postmaster and backends). Medians of R rounds with ranges.
 *
 *   SELFCERT=… SELFCERT_PROVD=… bench/pg.sh bench_nodes [--nodes 1,2,3] [--rounds R]
 *       [--devices D] [--clients C] [--provd-threads T]
 *
 * On one small host the nodes share its cores: the figure says what the registry and the
 * protocol cost with K nodes, not how K hosts would scale.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench_net.h"

#define MAX_NODES 4

static pid_t db_pid;

/* As bench_ca's: the database server's CPU seconds (postmaster and its children). */
static double db_cpu_seconds(void)
{
	char p[300], line[1024], *s;
	double sum = 0;
	struct dirent *e;
	DIR *d;

	if (db_pid <= 0 || (d = opendir("/proc")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atol(e->d_name);
		unsigned long long ut = 0, st = 0;
		int ppid = 0;
		FILE *f;
		if (pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		if ((f = fopen(p, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL && (s = strrchr(line, ')')) != NULL &&
		    sscanf(s + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid,
		        &ut, &st) == 3 &&
		    (pid == db_pid || ppid == db_pid))
			sum += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
		fclose(f);
	}
	closedir(d);
	return sum;
}

struct job {
	struct bench_server *s;
	struct bench_clients *c;
	struct bench_dev *devs;
	size_t n;
	struct bench_drive_result res;
};

static void *drive(void *arg)
{
	struct job *j = arg;

	bench_drive(BENCH_PROVD, j->s, j->c, j->devs, j->n, 0, 0, &j->res);
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = 3, clients = 8, threads = 4, nodes[MAX_NODES] = { 1, 2, 3 }, n_nodes = 3;
	size_t per_round = 200, total = 0, next = 0;
	const char *db = NULL,
	           *base_dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
	                                                             : "/var/tmp";
	char base[BENCH_PATH_MAX], dbfile[BENCH_PATH_MAX + 32], csv[BENCH_PATH_MAX + 32];
	struct bench_world w;
	struct bench_dev *devs;

	bench_prog = "bench_nodes";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			per_round = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
			clients = atoi(argv[++i]);
		else if (strcmp(argv[i], "--provd-threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else if (strcmp(argv[i], "--db-pid") == 0 && i + 1 < argc)
			db_pid = (pid_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc) {
			char *tok, *save = NULL;
			n_nodes = 0;
			for (tok = strtok_r(argv[++i], ",", &save); tok != NULL;
			     tok = strtok_r(NULL, ",", &save)) {
				if (n_nodes == MAX_NODES)
					bench_die("--nodes: at most %d levels", MAX_NODES);
				nodes[n_nodes++] = atoi(tok);
			}
		} else {
			fprintf(stderr,
			    "usage: bench_nodes [--nodes 1,2,3] [--rounds R] [--devices D] [--clients C] "
			    "[--provd-threads T] [--db LOCATION [--db-pid PID]]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > BENCH_MAX_ROUNDS || per_round < 1 || per_round > 100000 ||
	    clients < 1 || clients > BENCH_MAX_CLIENTS || threads < 1 || threads > 64)
		bench_die("--rounds 1..%d, --devices 1..100000, --clients 1..%d, --provd-threads "
		          "1..64",
		    BENCH_MAX_ROUNDS, BENCH_MAX_CLIENTS);
	for (int l = 0; l < n_nodes; l++) {
		if (nodes[l] < 1 || nodes[l] > MAX_NODES || clients < nodes[l])
			bench_die("--nodes: 1..%d each, and no more than --clients", MAX_NODES);
		total += (size_t)rounds * per_round + (size_t)clients * 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bench_mkdtemp(base_dir, base, sizeof(base));
	bench_world_up(&w, base);
	if ((devs = calloc(total, sizeof(*devs))) == NULL)
		bench_die("out of memory");
	bench_devs_make(&w, "ND", 0, total, devs);
	snprintf(dbfile, sizeof(dbfile), "%s/registry.db", base);
	if (db == NULL)
		db = dbfile;
	snprintf(csv, sizeof(csv), "%s/feed.csv", base);
	bench_devs_activate(devs, total, db, csv);
	printf(
	    "bench_nodes: provd nodes on one %s registry, %d clients in all, median [min-max] of %d "
	    "rounds x %zu devices\n%6s %18s %24s %24s\n",
	    strncmp(db, "postgres", 8) == 0 ? "PostgreSQL" : "SQLite", clients, rounds, per_round,
	    "nodes", "dev/s", "server CPU ms/dev", "of which database");
	for (int l = 0; l < n_nodes; l++) {
		int k = nodes[l];
		struct bench_server s[MAX_NODES];
		struct bench_clients c[MAX_NODES];
		struct job jobs[MAX_NODES];
		pthread_t th[MAX_NODES];
		struct bench_stat dps = { .n = 0 }, cpu = { .n = 0 }, dbs = { .n = 0 };
		char a[64], b[64], d[64];

		for (int i = 0; i < k; i++) {
			bench_provd_start(&w, db, threads, 1, &s[i]);
			bench_clients_init(&c[i], clients / k, &w);
		}
		for (int r = -1; r < rounds; r++) {
			/* Round -1 warms every keep-alive connection up; not counted. */
			size_t n = r < 0 ? (size_t)clients * 2 : per_round;
			double cpu0 = 0, db0 = db_cpu_seconds(), t0 = bench_now(), used = 0;
			for (int i = 0; i < k; i++)
				cpu0 += bench_cpu_seconds(s[i].pid);
			for (int i = 0; i < k; i++) {
				jobs[i] = (struct job){ &s[i], &c[i],
					devs + next + n * (size_t)i / (size_t)k,
					n * (size_t)(i + 1) / (size_t)k - n * (size_t)i / (size_t)k,
					{ 0 } };
				if (pthread_create(&th[i], NULL, drive, &jobs[i]) != 0)
					bench_die("pthread_create");
			}
			for (int i = 0; i < k; i++) {
				pthread_join(th[i], NULL);
				if (jobs[i].res.done != jobs[i].n)
					bench_die("node %d: %zu of %zu devices enrolled", i,
					    jobs[i].res.done, jobs[i].n);
			}
			next += n;
			if (r < 0)
				continue;
			for (int i = 0; i < k; i++)
				used += bench_cpu_seconds(s[i].pid);
			used -= cpu0;
			bench_stat_add(&dps, (double)n / (bench_now() - t0));
			bench_stat_add(&dbs, (db_cpu_seconds() - db0) / (double)n);
			bench_stat_add(&cpu, used / (double)n + dbs.v[dbs.n - 1]);
		}
		bench_fmt(a, sizeof(a), &dps, 1, "%.0f");
		bench_fmt(b, sizeof(b), &cpu, 1e3, "%.3f");
		bench_fmt(d, sizeof(d), &dbs, 1e3, "%.3f");
		printf("%6d %18s %24s %24s\n", k, a, b, d);
		for (int i = 0; i < k; i++) {
			bench_clients_free(&c[i]);
			bench_stop(s[i].pid);
		}
	}
	bench_devs_free(devs, total);
	free(devs);
	bench_world_down(&w);
	bench_rmrf(base);
	curl_global_cleanup();
	return 0;
}
