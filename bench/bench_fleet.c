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
 * With --renewal K: the fleet figure of issue 17 (fleet_renewal), the servers' CPU read from
 * their process CPU clocks (ns) and cfssl driven over at least CFSSL_CERTS_MIN certificates;
 * each provd's count of the connections it accepted must equal the clients' (and, with
 * --agent-connections, a connection per device round and per batch: check_connections).
 * With --agent-connections the renewal profile is measured in selfcert-agent's three connection
 * shapes (its --batch N; PERFORMANCE.md 21.1), each against the same cfssl figure: the batch on
 * its own connection (--batch K-1, two connections a window), the batch first on the next
 * window's connection (--batch N >= K, one; the agent's default since session 15), each renewal
 * registered alone (--batch 1: K). The batched shapes run a window in milliseconds; on a real
 * clock their certificates come after they expired and after the profile's profileNotAfter,
 * and provd judges them the same way (late15, PERFORMANCE.md 22.1: each at its own period,
 * against the reference kept to the window's end). --leaf-refs N starts provd with that many renewal references (a small table
 * makes a batch that arrives after other windows miss its profile's reference).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <selfcert/batch.h>
#include "bench_net.h"

#define PROGRESS_STEPS 10
/* --db LOCATION (pg8): the P-256 network's registry, e.g. bench/pg.sh's PostgreSQL URI; NULL:
 * a SQLite file in the run's folder. The RSA network keeps its own SQLite file. */
static const char *db_location;
/* --unpinned: the devices unknown to provd at their first profile (session 7's figure). */
static int unpinned;
/* --leaf-refs N (fleet14): provd's --leaf-refs for every server of the run; NULL: its default. */
static const char *leaf_refs;
#define FLEET_DEVICES 1e6      /* the fleet figure's fleet */
#define FLEET_TARGET (1.0 / 3) /* #17: server CPU per certificate <= 1/3 of cfssl's */
/* cfssl signs this many certificates (its devices driven again) or as many as the renewal path
 * registered if fewer: its CPU per certificate then rests on ~1 s of its CPU, not 0.25 s. */
#define CFSSL_CERTS_MIN 1000

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* ---- #17 --renewal: the fleet figure ---- */

/*
 * The resolution of cpu_of's readings, in seconds: 1 ns from the server's process CPU clock
 * (clock_getcpuclockid: every thread's on-CPU time, exited ones included), or a clock tick of
 * /proc/PID/stat where that clock is not to be had (then a 200-certificate cfssl run is read in
 * 4 % steps: session 7's trouble). Set by cpu_of.
 */
static double cpu_res = 0;

/* Server pid's CPU seconds so far, as precisely as this kernel tells another process. */
static double cpu_of(pid_t pid)
{
	struct timespec ts, res;
	clockid_t c;

	if (clock_getcpuclockid(pid, &c) == 0 && clock_gettime(c, &ts) == 0 &&
	    clock_getres(c, &res) == 0) {
		double r = (double)res.tv_sec + (double)res.tv_nsec / 1e9;

		if (r > cpu_res)
			cpu_res = r;
		return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	cpu_res = 1.0 / (double)sysconf(_SC_CLK_TCK);
	return bench_cpu_seconds(pid);
}

/*
 * Server CPU seconds per unit of `rounds` drives over devs[0..n): devices (or certificates)
 * through server pid; *total the CPU seconds in all. The clock's reading is checked against
 * /proc/PID/stat's ticks (the same accounting, truncated to ticks): a reading that strays by
 * more than two ticks and 1 % is not this process's CPU, and the bench stops.
 */
/* Connections the clients opened to the server being driven (curl's CURLINFO_NUM_CONNECTS),
 * summed over its drives since it started; check_connections compares provd's count. */
static long opened;
/* GETs of /metrics between the drives (leafref_counts): connections provd counts too. */
static long probes;

static double drive_cpu_rounds(enum bench_target t, const struct bench_server *srv,
    struct bench_clients *cl, struct bench_dev *devs, size_t n, int per_cert, int rounds,
    size_t *units, double *total)
{
	struct bench_drive_result res;
	double cpu0 = cpu_of(srv->pid), tick0 = bench_cpu_seconds(srv->pid), cpu, ticks;
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);

	*units = 0;
	for (int i = 0; i < rounds; i++) {
		bench_drive(t, srv, cl, devs, n, 0, 0, &res);
		if (res.done != n)
			bench_die("%zu of %zu devices done", res.done, n);
		*units += per_cert ? res.certs : res.done;
		opened += res.new_connections;
	}
	cpu = cpu_of(srv->pid) - cpu0;
	ticks = bench_cpu_seconds(srv->pid) - tick0;
	if (cpu - ticks > 2 * tick + 0.01 * ticks || ticks - cpu > 2 * tick + 0.01 * ticks)
		bench_die("server CPU: %.6f s by its CPU clock, %.2f s by /proc/%d/stat", cpu,
		    ticks, (int)srv->pid);
	if (total != NULL)
		*total = cpu;
	return cpu / (double)*units;
}

static double drive_cpu(enum bench_target t, const struct bench_server *srv,
    struct bench_clients *cl, struct bench_dev *devs, size_t n, int per_cert, size_t *units)
{
	return drive_cpu_rounds(t, srv, cl, devs, n, per_cert, 1, units, NULL);
}

/*
 * provd's own count of the connections it accepted (selfcert_provd_connections_total, read just
 * before the server stops) must be exactly the run's: the clients' own count, plus two
 * (bench_provd_start's TCP probe and this GET of /metrics) and the GETs of leafref_counts. With
 * --agent-connections the clients' count must also be the run's shape: a connection per device
 * round (profile and certificate), one more per renewal device (its batch registration, days
 * later), and for the other shapes theirs (fleet_renewal). Returns provd's count.
 */
static long check_connections(const struct bench_world *w, const struct bench_server *s, long shape)
{
	static const char key[] = "\nselfcert_provd_connections_total ";
	char url[128], *metrics = NULL, *m;
	long counted = -1;

	snprintf(url, sizeof(url), "%s/metrics", s->url);
	if (bench_http_get(w, url, &metrics) != 200 || metrics == NULL)
		bench_die("GET /metrics");
	if ((m = strstr(metrics, key)) != NULL)
		counted = strtol(m + strlen(key), NULL, 10);
	free(metrics);
	if (counted != opened + 2 + probes)
		bench_die("provd counted %ld connections; the clients opened %ld, and the start-up "
		          "probe and the %ld GETs of /metrics make %ld",
		    counted, opened, probes + 1, opened + 2 + probes);
	if (bench_agent_connections && opened != shape)
		bench_die("the clients opened %ld connections; a connection per device round and "
		          "per batch makes %ld",
		    opened, shape);
	return counted;
}

/* provd's renewal references' hits and misses so far (selfcert_provd_leaf_refs_*_total), by a
 * GET of /metrics between drives (counted in probes). */
static void leafref_counts(const struct bench_world *w, const struct bench_server *s, long *hits,
    long *misses)
{
	static const char hk[] = "\nselfcert_provd_leaf_refs_hits_total ",
	                  mk[] = "\nselfcert_provd_leaf_refs_misses_total ";
	char url[128], *metrics = NULL, *m;

	snprintf(url, sizeof(url), "%s/metrics", s->url);
	if (bench_http_get(w, url, &metrics) != 200 || metrics == NULL)
		bench_die("GET /metrics");
	probes++;
	*hits = (m = strstr(metrics, hk)) != NULL ? strtol(m + strlen(hk), NULL, 10) : -1;
	*misses = (m = strstr(metrics, mk)) != NULL ? strtol(m + strlen(mk), NULL, 10) : -1;
	free(metrics);
	if (*hits < 0 || *misses < 0)
		bench_die("GET /metrics: no selfcert_provd_leaf_refs counters");
}

/*
 * fleet14: one renewal connection shape's figures (PERFORMANCE.md 21.1): provd's CPU per
 * certificate, the connections a window makes, and the renewal references the shape's drive
 * found (hits) or looked for in vain (misses: a window's first certificate, or a batch whose
 * reference was evicted).
 */
struct shape_fig {
	double cpu;
	size_t certs;
	double cpu_s;
	long conns; /* per window */
	long hits, misses;
};

/* The network's profile signer, as the server loads it. */
static void load_signer(const struct bench_world *w, EVP_PKEY **key, X509 **cert)
{
	char p[BENCH_PATH_MAX + 64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/signer.key", w->net_dir);
	if ((f = fopen(p, "r")) == NULL ||
	    (*key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		bench_die("%s", p);
	fclose(f);
	snprintf(p, sizeof(p), "%s/signer.pem", w->net_dir);
	if ((f = fopen(p, "r")) == NULL || (*cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		bench_die("%s", p);
	fclose(f);
}

/* n unsigned bodies for n devices (what the server builds before it signs). */
static void make_bodies(struct sc_profile **b, size_t n)
{
	struct sc_profile_params pp;
	char dev[32];
	time_t now = time(NULL);

	for (size_t i = 0; i < n; i++) {
		memset(&pp, 0, sizeof(pp));
		snprintf(dev, sizeof(dev), "FLEET-%zu", i);
		pp.network_id = BENCH_NETWORK_ID;
		pp.device_id = dev;
		pp.profile_not_after = now + 600;
		pp.not_before = now;
		pp.not_after = now + 86400;
		pp.generate_alg = SC_ALG_P256;
		if (sc_profile_create(&pp, &b[i]) != SC_OK)
			bench_die("sc_profile_create");
	}
}

/* Signing cost per device: one signature each, or one per batch of n (Merkle, #17). */
static double sign_per_device(EVP_PKEY *key, X509 *cert, size_t n, int batch)
{
	struct sc_profile **b = calloc(n, sizeof(*b));
	uint8_t **ders = calloc(n, sizeof(*ders));
	size_t *lens = calloc(n, sizeof(*lens));
	double t;

	if (b == NULL || ders == NULL || lens == NULL)
		bench_die("out of memory");
	make_bodies(b, n);
	t = bench_now();
	if (batch) {
		if (sc_batch_sign(b, n, key, cert, ders, lens) != SC_OK)
			bench_die("sc_batch_sign: %s", sc_err_detail());
	} else {
		for (size_t i = 0; i < n; i++)
			if (sc_profile_sign(b[i], key, cert, NULL, 0) != SC_OK ||
			    sc_profile_encode(b[i], &ders[i], &lens[i]) != SC_OK)
				bench_die("sc_profile_sign");
	}
	t = (bench_now() - t) / (double)n;
	for (size_t i = 0; i < n; i++) {
		OPENSSL_free(ders[i]);
		sc_profile_free(b[i]);
	}
	free(b);
	free(ders);
	free(lens);
	return t;
}

static double thread_cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The primitives of the floors, in thread CPU time (as the servers' CPU is counted): one
 * signature and one verification with key. */
static void primitives(EVP_PKEY *key, double *sign, double *verify)
{
	uint8_t msg[64] = { 0 }, sig[512];
	size_t sl = 0;
	const int k = 200;
	double t = thread_cpu_now();

	for (int i = 0; i < k; i++) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		sl = sizeof(sig);
		if (m == NULL || EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, key) != 1 ||
		    EVP_DigestSign(m, sig, &sl, msg, sizeof(msg)) != 1)
			bench_die("EVP_DigestSign");
		EVP_MD_CTX_free(m);
	}
	*sign = (thread_cpu_now() - t) / k;
	t = thread_cpu_now();
	for (int i = 0; i < k; i++) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		if (m == NULL || EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key) != 1 ||
		    EVP_DigestVerify(m, sig, sl, msg, sizeof(msg)) != 1)
			bench_die("EVP_DigestVerify");
		EVP_MD_CTX_free(m);
	}
	*verify = (thread_cpu_now() - t) / k;
}

static double cpu_hours(double per_cert_s)
{
	return FLEET_DEVICES * per_cert_s / 3600.0;
}

/* Waves the server signed and the leaves in them, from its log's "batched=N" (batcher.h). */
static void waves_of(const char *log, long skip_lines, double *waves, long *leaves, long *lines)
{
	FILE *f = fopen(log, "r");
	char line[2048], *m;
	long no = 0;

	*waves = 0;
	*leaves = 0;
	if (f == NULL)
		bench_die("%s", log);
	while (fgets(line, sizeof(line), f) != NULL)
		if (no++ >= skip_lines && (m = strstr(line, " batched=")) != NULL) {
			long size = strtol(m + 9, NULL, 10);
			if (size < 1)
				bench_die("%s: bad batched=", log);
			*waves += 1.0 / (double)size;
			(*leaves)++;
		}
	fclose(f);
	*lines = no;
}

static void write_policy(const char *pol, int k)
{
	FILE *f = fopen(pol, "w");

	if (f == NULL)
		bench_die("%s", pol);
	/* Daily certificates of 36 h (a half-day overlap to renew in), a profile every k days. */
	fprintf(f, "{\"validity\": \"36h\", \"renewal\": {\"count\": %d, \"cadence\": \"1d\"}}\n",
	    k);
	fclose(f);
}

/* One path's figures. */
struct path_fig {
	double cpu;   /* server CPU s per certificate */
	double floor; /* its physical floor, s per certificate */
};

static void target_line(const char *what, const struct path_fig *p, double cfssl, double cfloor)
{
	printf("target #17 fleet CPU/cert, %s, provd/cfssl <= %.2fx: %.3fx %s (limit: provd's "
	       "floor %.3f ms = %.2fx cfssl's CPU; cfssl's own floor %.3f ms)\n",
	    what, FLEET_TARGET, p->cpu / cfssl, p->cpu <= cfssl * FLEET_TARGET ? "met" : "MISSED",
	    p->floor * 1e3, p->floor / cfssl, cfloor * 1e3);
}

/*
 * The fleet figure (#17). P-256 network, one registry: n devices each on the ordinary path, the
 * Merkle batch path (provd --profile-batch), renewal profiles of K and of 2 (the two K give
 * registration's share: c(K) = reg + prof/K), and n CSRs through durable cfssl. Then an RSA-3072
 * network, ordinary and batched, where one signature is dear.
 */
static int fleet_renewal(size_t n, int clients, int provd_threads, int tls, int json,
    const char *db_base, int k, const char *batch_wait)
{
	char base[BENCH_PATH_MAX], rbase[BENCH_PATH_MAX + 8], db[BENCH_PATH_MAX + 32],
	    rdb[BENCH_PATH_MAX + 32], csv[BENCH_PATH_MAX + 32], pol[BENCH_PATH_MAX + 32],
	    ship[BENCH_PATH_MAX + 32], batch_max[16];
	size_t pin_hit = 0, pin_other = 0;
	double act_cpu;
	struct bench_world w, wr;
	struct bench_server provd, cfssl;
	struct bench_clients cl;
	struct bench_dev *devs, *rdevs;
	static const size_t batch_sizes[] = { 16, 256, 4096 };
	double c_ord, c_bat, c_ren, c_ren2, c_cfssl = 0, c_sign, c_batch[3], p_sign, p_verify;
	double r_ord, r_bat, r_sign, r_batch[3], rp_sign, rp_verify, waves, rwaves, reg, prof;
	double floor_ord, floor_bat, floor_ren, floor_cfssl, floor_rord, floor_rbat;
	long leaves, rleaves, lines, recorded = -1;
	EVP_PKEY *rkey = NULL, *skey = NULL;
	X509 *rcert = NULL, *scert = NULL;
	size_t units, units_ren, units_cfssl = 0;
	double cpu_ren = 0, cpu_cfssl = 0, ratio_res = 0;
	int have_cfssl, cfssl_rounds = 1;
	long conns[3]; /* provd's connections: the K server, the K = 2 server, the RSA server */
	/* fleet14 (--agent-connections): the K server's renewal shapes, measured on the same server
	 * after c_ren: [0] the batch on its own connection (c_ren's), [1] with the next window's
	 * profile, [2] each renewal alone. */
	struct shape_fig sh[3];
	int shapes = bench_agent_connections;
	size_t n_act = shapes ? 6 * n : 4 * n; /* devices activated; cfssl's at 6n, never */
	long h0, m0, h1, m1;

	bench_mkdtemp(db_base, base, sizeof(base));
	bench_world_up(&w, base);
	memset(sh, 0, sizeof(sh));
	probes = 0;
	if ((devs = calloc(7 * n, sizeof(*devs))) == NULL ||
	    (rdevs = calloc(2 * n, sizeof(*rdevs))) == NULL)
		bench_die("out of memory");
	/* [0, n) ordinary, [n, 2n) Merkle, [2n, 3n) renewal, [3n, 4n) K = 2, with
	 * --agent-connections [4n, 5n) the next window's shape and [5n, 6n) batches of one;
	 * [6n, 7n) cfssl's (never activated). */
	bench_devs_make(&w, "FLEET", 0, n_act, devs);
	bench_devs_make(&w, "FLEET", 6 * n, n, devs + 6 * n);
	snprintf(db, sizeof(db), "%s/registry.db", base);
	if (db_location != NULL && strlen(db_location) < sizeof(db))
		snprintf(db, sizeof(db), "%s", db_location);
	snprintf(csv, sizeof(csv), "%s/feed.csv", base);
	snprintf(ship, sizeof(ship), "%s/shipment", base);
	/*
	 * A fleet that renews daily is known to the server: each device was pinned long before this
	 * window (at activation here, act8; at its first contact otherwise, once in its life), so
	 * its profile requests take the pinned path, as the floors below assume. --unpinned: every
	 * device's first request in this run verifies its chain in full (the figure before session 8).
	 */
	act_cpu = bench_devs_activate_certs(devs, n_act, db, csv, unpinned ? NULL : ship,
	    w.mfr_root);
	snprintf(pol, sizeof(pol), "%s/policy.json", base);
	write_policy(pol, k);
	/* Waves of at most the workers: a request waits inside its worker (batcher.h). */
	snprintf(batch_max, sizeof(batch_max), "%d", provd_threads > 1 ? provd_threads : 2);
	w.policy = pol;
	w.profile_batch = batch_max;
	w.profile_batch_wait = batch_wait;
	w.leaf_refs = leaf_refs;
	bench_provd_start(&w, db, provd_threads, tls, &provd);
	opened = 0;
	bench_clients_init(&cl, clients, &w);
	/*
	 * selfcert-agent --batch N >= K (fleet14): each device's first window (its profile and
	 * first certificate, one connection; not counted in the figure) before every other path,
	 * so that by its next window, measured below, the server has served 3n other devices' in
	 * between, as a node serves other devices in the K days between a device's two contacts:
	 * the parsed device CA certificates (an LRU of 256) hold none of these devices any more,
	 * and the renewal references (--leaf-refs) hold what the table kept through the other
	 * windows' puts.
	 */
	if (shapes)
		(void)drive_cpu(BENCH_PROVD_RENEW_OPEN, &provd, &cl, devs + 4 * n, n, 1, &units);
	c_ord = drive_cpu(BENCH_PROVD, &provd, &cl, devs, n, 0, &units);
	waves_of(provd.log, 0, &waves, &leaves, &lines);
	c_bat = drive_cpu(BENCH_PROVD_BATCH, &provd, &cl, devs + n, n, 0, &units);
	waves_of(provd.log, lines, &waves, &leaves, &lines);
	if (leaves != (long)n)
		bench_die("the server logged %ld batch leaves for %zu devices", leaves, n);
	if (shapes)
		leafref_counts(&w, &provd, &h0, &m0);
	c_ren = drive_cpu_rounds(BENCH_PROVD_RENEW, &provd, &cl, devs + 2 * n, n, 1, 1, &units_ren,
	    &cpu_ren);
	sh[0] = (struct shape_fig){ c_ren, units_ren, cpu_ren, 2, 0, 0 };
	if (shapes) {
		leafref_counts(&w, &provd, &h1, &m1);
		sh[0].hits = h1 - h0;
		sh[0].misses = m1 - m0;
		/*
		 * selfcert-agent --batch N >= K: each device's next window (its first ran before the
		 * ordinary path): the first window's K-1 in a batch, the new profile and its first
		 * certificate, on one connection. The server's work is a steady window's: K
		 * certificates, one profile, one connection.
		 */
		h0 = h1;
		m0 = m1;
		sh[1].cpu = drive_cpu_rounds(BENCH_PROVD_RENEW_NEXT, &provd, &cl, devs + 4 * n, n,
		    1, 1, &sh[1].certs, &sh[1].cpu_s);
		sh[1].conns = 1;
		leafref_counts(&w, &provd, &h1, &m1);
		sh[1].hits = h1 - h0;
		sh[1].misses = m1 - m0;
		/* selfcert-agent --batch 1: each local renewal registered at once. */
		sh[2].cpu = drive_cpu_rounds(BENCH_PROVD_RENEW_EACH, &provd, &cl, devs + 5 * n, n,
		    1, 1, &sh[2].certs, &sh[2].cpu_s);
		sh[2].conns = k;
		leafref_counts(&w, &provd, &h0, &m0);
		sh[2].hits = h0 - h1;
		sh[2].misses = m0 - m1;
	}
	bench_clients_free(&cl);
	/* Per device: its ordinary round, its Merkle round, its renewal round and batch; with
	 * --agent-connections the next window's shape's two windows (one connection each) and
	 * the batches of one's K. */
	conns[0] = check_connections(&w, &provd,
	    4 * (long)n + (shapes ? (2 + (long)k) * (long)n : 0));
	bench_stop(provd.pid);
	bench_log_tagged(provd.log, "POST /v1/profiles 201", " pin=hit", &pin_hit, &pin_other);
	if (!unpinned && pin_other != 0)
		bench_die("%zu of provd's profile requests did not take the pinned path (see %s)",
		    pin_other, provd.log);
	/* The same with K = 2: registration's share from the two (c(K) = reg + prof/K). */
	write_policy(pol, 2);
	bench_provd_start(&w, db, provd_threads, tls, &provd);
	opened = 0;
	bench_clients_init(&cl, clients, &w);
	probes = 0;
	c_ren2 = drive_cpu(BENCH_PROVD_RENEW, &provd, &cl, devs + 3 * n, n, 1, &units);
	bench_clients_free(&cl);
	conns[1] = check_connections(&w, &provd, 2 * (long)n);
	bench_stop(provd.pid);
	prof = (c_ren2 - c_ren) / (0.5 - 1.0 / k);
	reg = c_ren - prof / k;
	have_cfssl = bench_cfssl_start(&w, tls, &cfssl) == 0;
	if (have_cfssl) {
		bench_clients_init(&cl, clients, &w);
		size_t want = units_ren < CFSSL_CERTS_MIN ? units_ren : CFSSL_CERTS_MIN;

		cfssl_rounds = (int)((want + n - 1) / n);
		c_cfssl = drive_cpu_rounds(BENCH_CFSSL, &cfssl, &cl, devs + 6 * n, n, 0,
		    cfssl_rounds, &units_cfssl, &cpu_cfssl);
		/* The ratio's resolution: one step of the CPU reading on either side. */
		ratio_res = cpu_res / cpu_ren + cpu_res / cpu_cfssl;
		bench_clients_free(&cl);
		bench_stop(cfssl.pid);
		/* Equal durability, checked: cfssl recorded every certificate it signed. */
		if ((recorded = bench_cfssl_recorded(&w)) != (long)units_cfssl)
			bench_die(
			    "cfssl's certificate database holds %ld certificates, it signed %zu",
			    recorded, units_cfssl);
	}
	load_signer(&w, &skey, &scert);
	primitives(skey, &p_sign, &p_verify);
	/* Floors per certificate, the device's chain pinned (a fleet renewing daily): a profile
	 * costs the proof's verification and its signature, a certificate the leaf's verification.
	 * cfssl: the CSR's verification and one signature. */
	floor_ord = 2 * p_verify + p_sign;
	floor_bat = 2 * p_verify + p_sign * waves / (double)n;
	floor_ren = p_verify + (p_verify + p_sign) / k;
	if (bench_device_crl) { /* and the device CA CRL's signature with each first certificate */
		floor_ord += p_verify / bench_device_crl_every;
		floor_bat += p_verify / bench_device_crl_every;
		floor_ren += p_verify / k / bench_device_crl_every;
	}
	floor_cfssl = p_verify + p_sign;
	/* Direction 3 in-process: the server's signing cost per device, alone and batched. */
	c_sign = sign_per_device(skey, scert, 256, 0);
	for (size_t i = 0; i < 3; i++)
		c_batch[i] = sign_per_device(skey, scert, batch_sizes[i], 1);

	/* Where a batch pays: an RSA-3072 network (one signature ~10 ms), ordinary and batched. */
	snprintf(rbase, sizeof(rbase), "%s/rsa", base);
	if (mkdir(rbase, 0700) != 0)
		bench_die("%s", rbase);
	bench_world_up_alg(&wr, rbase, "rsa3072");
	bench_devs_make(&wr, "RSAF", 0, 2 * n, rdevs);
	snprintf(rdb, sizeof(rdb), "%s/registry.db", rbase);
	snprintf(csv, sizeof(csv), "%s/feed.csv", rbase);
	bench_devs_activate(rdevs, 2 * n, rdb, csv);
	wr.profile_batch = batch_max;
	wr.profile_batch_wait = batch_wait;
	wr.leaf_refs = leaf_refs;
	bench_provd_start(&wr, rdb, provd_threads, tls, &provd);
	opened = 0;
	probes = 0;
	bench_clients_init(&cl, clients, &wr);
	r_ord = drive_cpu(BENCH_PROVD, &provd, &cl, rdevs, n, 0, &units);
	waves_of(provd.log, 0, &rwaves, &rleaves, &lines);
	r_bat = drive_cpu(BENCH_PROVD_BATCH, &provd, &cl, rdevs + n, n, 0, &units);
	waves_of(provd.log, lines, &rwaves, &rleaves, &lines);
	if (rleaves != (long)n)
		bench_die("the RSA server logged %ld batch leaves for %zu devices", rleaves, n);
	bench_clients_free(&cl);
	conns[2] = check_connections(&wr, &provd, 2 * (long)n);
	bench_stop(provd.pid);
	load_signer(&wr, &rkey, &rcert);
	primitives(rkey, &rp_sign, &rp_verify);
	floor_rord = 2 * p_verify + rp_sign; /* the device's proof and leaf stay P-256 */
	floor_rbat = 2 * p_verify + rp_sign * rwaves / (double)n;
	if (bench_device_crl) { /* the device CA CRL, sent to this server too */
		floor_rord += p_verify / bench_device_crl_every;
		floor_rbat += p_verify / bench_device_crl_every;
	}
	r_sign = sign_per_device(rkey, rcert, 64, 0);
	for (size_t i = 0; i < 3; i++)
		r_batch[i] = sign_per_device(rkey, rcert, batch_sizes[i], 1);

	if (json) {
		printf(
		    "{\"benchmark\":\"fleet_renewal\",\"pinned\":%s,\"agent_connections\":%s,"
		    "\"tls_resume\":%s,"
		    "\"devices_per_path\":%zu,"
		    "\"clients\":%d,"
		    "\"provd_threads\":%d,\"renewal_count\":%d,\"profile_batch_max\":%s,"
		    "\"profile_batch_wait_ms\":%s,\"cfssl_durable\":true,\"cfssl_recorded\":%ld,"
		    "\"provd_cpu_ms_per_cert_ordinary\":%.4f,\"provd_cpu_ms_per_cert_merkle\":%.4f,"
		    "\"merkle_mean_wave\":%.2f,\"provd_cpu_ms_per_cert_renewal\":%.4f,"
		    "\"provd_cpu_ms_per_cert_renewal_k2\":%.4f,\"certs_renewal\":%zu,"
		    "\"registration_ms_per_cert_estimate\":%.4f,\"profile_ms_estimate\":%.4f,"
		    "\"cfssl_cpu_ms_per_cert\":%.4f,\"floor_ms_per_cert\":{\"ordinary\":%.4f,"
		    "\"merkle\":%.4f,\"renewal\":%.4f,\"cfssl\":%.4f},"
		    "\"rsa3072\":{\"ordinary\":%.4f,\"merkle\":%.4f,\"merkle_mean_wave\":%.2f,"
		    "\"floor_ordinary\":%.4f,\"floor_merkle\":%.4f},"
		    "\"sign_ms_per_device\":%.4f,\"batch_sign_ms_per_device\":{\"16\":%.4f,"
		    "\"256\":%.4f,\"4096\":%.4f},\"rsa3072_sign_ms_per_device\":%.4f,"
		    "\"rsa3072_batch_sign_ms_per_device\":{\"16\":%.4f,\"256\":%.4f,\"4096\":%.4f},"
		    "\"cpu_hours_per_day_1M\":{\"cfssl\":%.3f,\"ordinary\":%.3f,\"merkle\":%.3f,"
		    "\"renewal\":%.3f,\"floor_renewal\":%.3f},"
		    "\"renewal_vs_cfssl\":%.4f,\"renewal_vs_cfssl_resolution\":%.3g,"
		    "\"cpu_clock_resolution_s\":%.3g,\"cfssl_certs\":%zu,\"cpu_s_renewal\":%.6f,"
		    "\"cpu_s_cfssl\":%.6f,\"provd_connections\":{\"renewal_server\":%ld,"
		    "\"k2_server\":%ld,\"rsa3072_server\":%ld},\"target\":%.3f,\"target_met\":%s,"
		    "\"leaf_refs\":%s,\"device_crl\":%s,\"renewal_shapes\":",
		    unpinned ? "false" : "true", bench_agent_connections ? "true" : "false",
		    bench_tls_resume ? "true" : "false", n, clients, provd_threads, k, batch_max,
		    batch_wait ? batch_wait : "0", recorded, c_ord * 1e3, c_bat * 1e3,
		    (double)n / waves, c_ren * 1e3, c_ren2 * 1e3, units_ren, reg * 1e3, prof * 1e3,
		    c_cfssl * 1e3, floor_ord * 1e3, floor_bat * 1e3, floor_ren * 1e3,
		    floor_cfssl * 1e3, r_ord * 1e3, r_bat * 1e3, (double)n / rwaves,
		    floor_rord * 1e3, floor_rbat * 1e3, c_sign * 1e3, c_batch[0] * 1e3,
		    c_batch[1] * 1e3, c_batch[2] * 1e3, r_sign * 1e3, r_batch[0] * 1e3,
		    r_batch[1] * 1e3, r_batch[2] * 1e3, cpu_hours(c_cfssl), cpu_hours(c_ord),
		    cpu_hours(c_bat), cpu_hours(c_ren), cpu_hours(floor_ren),
		    have_cfssl ? c_ren / c_cfssl : 0, have_cfssl ? ratio_res * c_ren / c_cfssl : 0,
		    cpu_res, units_cfssl, cpu_ren, cpu_cfssl, conns[0], conns[1], conns[2],
		    FLEET_TARGET, have_cfssl && c_ren <= c_cfssl * FLEET_TARGET ? "true" : "false",
		    leaf_refs != NULL ? leaf_refs : "null", bench_device_crl ? "true" : "false");
		if (!shapes) {
			printf("null}\n");
		} else {
			static const char *const names[3] = { "batch_own_connection",
				"batch_with_next_profile", "batch_of_one" },
			                         *const flag[3] = { "K-1", ">=K", "1" };

			printf("{");
			for (int i = 0; i < 3; i++)
				printf(
				    "%s\"%s\":{\"agent_batch\":\"%s\",\"connections_per_window\":%ld,"
				    "\"provd_cpu_ms_per_cert\":%.4f,\"certs\":%zu,\"cpu_s\":%.6f,"
				    "\"vs_cfssl\":%.4f,\"target_met\":%s,\"leaf_refs_hits\":%ld,"
				    "\"leaf_refs_misses\":%ld}",
				    i ? "," : "", names[i], flag[i], sh[i].conns, sh[i].cpu * 1e3,
				    sh[i].certs, sh[i].cpu_s, have_cfssl ? sh[i].cpu / c_cfssl : 0,
				    have_cfssl && sh[i].cpu <= c_cfssl * FLEET_TARGET ? "true"
				                                                      : "false",
				    sh[i].hits, sh[i].misses);
			printf("}}\n");
		}
	} else {
		char crl_label[96] = "";

		if (bench_device_crl && bench_device_crl_every == 1)
			snprintf(crl_label, sizeof(crl_label), "%s",
			    ", each first certificate with its device CA's CRL (the agent before crl14)");
		else if (bench_device_crl)
			snprintf(crl_label, sizeof(crl_label),
			    ", 1 in %u first certificates with its device CA's CRL (as the agent)",
			    bench_device_crl_every);
		printf(
		    "Fleet figure (#17): 1 million devices on 24-hour certificates, renewed daily\n"
		    "measured: %zu devices per path, %d %s %s clients, %d server threads, "
		    "P-256, %s (both servers durable), TLS resumption %s%s\n",
		    n, clients,
		    bench_agent_connections ? "agent-like (a connection per round, batch, cfssl "
		                              "certificate)"
		                            : "keep-alive",
		    tls ? "HTTPS" : "HTTP", provd_threads,
		    db_location != NULL ? "provd's registry at --db" : "SQLite on disk",
		    bench_tls_resume ? "on (both servers)" : "off (both servers)", crl_label);
		printf("%-52s %10s %10s %16s\n", "server, path", "CPU ms/cert", "floor ms",
		    "CPU-h/day (1M)");
		if (have_cfssl)
			printf("%-52s %10.3f %10.3f %16.2f\n",
			    "cfssl serve (CSR signed, certdb on SQLite)", c_cfssl * 1e3,
			    floor_cfssl * 1e3, cpu_hours(c_cfssl));
		printf("%-52s %10.3f %10.3f %16.2f\n", "selfcert-provd, ordinary (profile + cert)",
		    c_ord * 1e3, floor_ord * 1e3, cpu_hours(c_ord));
		printf("%-52s %10.3f %10.3f %16.2f\n",
		    "selfcert-provd, Merkle batch profiles (real)", c_bat * 1e3, floor_bat * 1e3,
		    cpu_hours(c_bat));
		printf("%-52s %10.3f %10.3f %16.2f\n",
		    "selfcert-provd, renewal profile + batch reg.", c_ren * 1e3, floor_ren * 1e3,
		    cpu_hours(c_ren));
		printf("Merkle: %zu leaves in %.0f waves (mean %.1f; at most %s, wait %s ms)\n", n,
		    waves, (double)n / waves, batch_max, batch_wait ? batch_wait : "0");
		printf("renewal profile: K = %d certificates (36 h, one a day), %zu certificates "
		       "registered in batches of %d; with K = 2: %.3f ms/cert\n",
		    k, units_ren, k - 1, c_ren2 * 1e3);
		printf(
		    "  so (c(K) = registration + profile/K): registration %.3f ms per certificate "
		    "(%.0f%% of the renewal path), a profile request %.3f ms\n",
		    reg * 1e3, 100.0 * reg / c_ren, prof * 1e3);
		printf("provd's connections (its selfcert_provd_connections_total, as the clients "
		       "opened them): %ld, %ld (K = 2), %ld (RSA-3072)\n",
		    conns[0], conns[1], conns[2]);
		if (unpinned)
			printf("devices: unknown to provd before this run (--unpinned): each first "
			       "profile request verified its chain in full\n");
		else
			printf(
			    "devices: pinned at activation, %zu of %zu profile requests on the pinned "
			    "path (a fleet renewing daily is known); the operator's CLI spent %.3f ms "
			    "per device on it, not the server\n",
			    pin_hit, pin_hit + pin_other, act_cpu * 1e3 / (double)(4 * n));
		if (have_cfssl) {
			int km = k < 30 ? 30 : 100; /* a longer window than the one measured */
			/* floor_ren at K = km and K -> infinity (the leaf's verification alone). */
			double fk = p_verify + (p_verify + p_sign) / km, fi = p_verify;

			if (bench_device_crl)
				fk += p_verify / km / bench_device_crl_every;
			printf(
			    "  model, not measured (informational, not judged against the target): "
			    "K = %d would be %.3f ms/cert (%.2fx cfssl's; floor %.3f ms = %.2fx), "
			    "K -> infinity (registration alone) %.3f ms (%.2fx; floor, the leaf's "
			    "verification, %.3f ms = %.2fx)\n",
			    km, (reg + prof / km) * 1e3, (reg + prof / km) / c_cfssl, fk * 1e3,
			    fk / c_cfssl, reg * 1e3, reg / c_cfssl, fi * 1e3, fi / c_cfssl);
		}
		printf("RSA-3072 network (signature %.2f ms): ordinary %.3f ms/cert, Merkle %.3f "
		       "ms/cert (mean wave %.1f); floors %.3f / %.3f ms\n",
		    rp_sign * 1e3, r_ord * 1e3, r_bat * 1e3, (double)n / rwaves, floor_rord * 1e3,
		    floor_rbat * 1e3);
		printf("in-process signing per device: P-256 %.3f ms alone, batch of 16/256/4096 "
		       "%.3f/%.3f/%.3f ms; RSA-3072 %.3f ms alone, %.3f/%.3f/%.3f ms\n",
		    c_sign * 1e3, c_batch[0] * 1e3, c_batch[1] * 1e3, c_batch[2] * 1e3,
		    r_sign * 1e3, r_batch[0] * 1e3, r_batch[1] * 1e3, r_batch[2] * 1e3);
		if (have_cfssl) {
			printf("cfssl recorded all %ld certificates in its %s\n", recorded,
			    bench_cfssl_db_name());
			printf(
			    "server CPU read in steps of %.0f ns (process CPU clocks): "
			    "renewal %zu certificates in %.4f s, cfssl %zu (%d rounds of %zu) in "
			    "%.4f s; renewal/cfssl %.4fx, resolution +-%.1e x (%.1e %%)\n",
			    cpu_res * 1e9, units_ren, cpu_ren, units_cfssl, cfssl_rounds, n,
			    cpu_cfssl, c_ren / c_cfssl, ratio_res * c_ren / c_cfssl,
			    100 * ratio_res);
			if (shapes) {
				char what[128];
				static const char *const how[3] = {
					"batch on its own connection (agent --batch K-1)",
					"batch with the next window's profile (--batch >= K, default)",
					"each renewal registered alone (agent --batch 1)"
				};

				printf(
				    "renewal K = %d by selfcert-agent's connection shape (--batch N), "
				    "each on this provd, against the same cfssl figure:\n",
				    k);
				for (int i = 0; i < 3; i++) {
					printf(
					    "  %-62s %ld connection%s a window: %.3f ms/cert (%zu "
					    "certificates, %.4f s), renewal references %ld found, "
					    "%ld missed\n",
					    how[i], sh[i].conns, sh[i].conns == 1 ? "" : "s",
					    sh[i].cpu * 1e3, sh[i].certs, sh[i].cpu_s, sh[i].hits,
					    sh[i].misses);
				}
				printf(
				    "  (provd --leaf-refs %s; the next window's shape: each device's "
				    "first window ran before the other paths, its CPU not counted)\n"
				    "  (on a real clock a batch's certificates come expired, past "
				    "profileNotAfter: provd judges each at its own period against the "
				    "reference kept to the window's end, as here: PERFORMANCE.md 22.1)\n",
				    leaf_refs != NULL ? leaf_refs : "default");
				for (int i = 0; i < 3; i++) {
					snprintf(what, sizeof(what), "renewal K, %s", how[i]);
					target_line(what,
					    &(struct path_fig){ sh[i].cpu, floor_ren }, c_cfssl,
					    floor_cfssl);
				}
			} else {
				target_line("renewal K", &(struct path_fig){ c_ren, floor_ren },
				    c_cfssl, floor_cfssl);
			}
			target_line("Merkle batch", &(struct path_fig){ c_bat, floor_bat }, c_cfssl,
			    floor_cfssl);
			target_line("ordinary", &(struct path_fig){ c_ord, floor_ord }, c_cfssl,
			    floor_cfssl);
		} else {
			printf("target: cfssl not installed here: not compared\n");
		}
	}
	EVP_PKEY_free(skey);
	X509_free(scert);
	EVP_PKEY_free(rkey);
	X509_free(rcert);
	bench_devs_free(devs, n_act);
	bench_devs_free(devs + 6 * n, n);
	bench_devs_free(rdevs, 2 * n);
	free(devs);
	free(rdevs);
	bench_world_down(&w);
	bench_world_down(&wr);
	bench_rmrf(base);
	return 0;
}

int main(int argc, char **argv)
{
	int renewal = 0;
	const char *batch_wait = NULL; /* --profile-batch-wait MS for the Merkle paths */
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
		else if (strcmp(argv[i], "--renewal") == 0 && i + 1 < argc)
			renewal = atoi(argv[++i]);
		else if (strcmp(argv[i], "--profile-batch-wait") == 0 && i + 1 < argc)
			batch_wait = argv[++i];
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db_location = argv[++i];
		else if (strcmp(argv[i], "--unpinned") == 0)
			unpinned = 1;
		else if (strcmp(argv[i], "--leaf-refs") == 0 && i + 1 < argc)
			leaf_refs = argv[++i];
		else if (strcmp(argv[i], "--device-crl") == 0)
			bench_device_crl = 1;
		else if (strcmp(argv[i], "--device-crl-every") == 0 && i + 1 < argc &&
		    atoi(argv[i + 1]) >= 1)
			bench_device_crl = 1, bench_device_crl_every = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--agent-connections") == 0)
			bench_agent_connections = 1;
		else if (strcmp(argv[i], "--tls-resume") == 0 && i + 1 < argc &&
		    (strcmp(argv[i + 1], "on") == 0 || strcmp(argv[i + 1], "off") == 0))
			bench_tls_resume = strcmp(argv[++i], "on") == 0;
		else if (strcmp(argv[i], "--db-pid") == 0 && i + 1 < argc)
			i++; /* bench/pg.sh passes it; bench_fleet counts provd's CPU only */
		else {
			fprintf(stderr,
			    "usage: SELFCERT=… SELFCERT_PROVD=… bench_fleet [--devices N] [--clients C] "
			    "[--provd-threads T] [--max-minutes M] [--http] [--db-dir DIR] [--json]\n"
			    "       bench_fleet --renewal K [--devices N] [--clients C] "
			    "[--profile-batch-wait MS] [--db LOCATION] [--unpinned] [--agent-connections] "
			    "[--tls-resume on|off] [--leaf-refs N] [--device-crl] [--device-crl-every N] "
			    "…: the fleet figure (#17)\n");
			return 2;
		}
	}
	if (n < 1 || n > 1000000 || clients < 1 || clients > BENCH_MAX_CLIENTS ||
	    provd_threads < 1 || provd_threads > 64 || max_minutes < 0)
		bench_die("--devices 1..1000000, --clients 1..%d, --provd-threads 1..64",
		    BENCH_MAX_CLIENTS);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (renewal != 0) {
		int rc;

		if (renewal < 2 || renewal > 33 || n > 100000)
			bench_die(
			    "--renewal K: 2..33 (K-1 certificates in one batch), --devices <= 100000");
		rc = fleet_renewal(n, clients, provd_threads, tls, json, db_base, renewal,
		    batch_wait);
		curl_global_cleanup();
		return rc;
	}

	bench_mkdtemp(db_base, base, sizeof(base));
	bench_world_up(&w, base);
	if ((devs = calloc(n, sizeof(*devs))) == NULL)
		bench_die("out of memory");
	t = bench_now();
	bench_devs_make(&w, "FLEET", 0, n, devs);
	t_make = bench_now() - t;
	snprintf(db, sizeof(db), "%s/registry.db", base);
	if (db_location != NULL && strlen(db_location) < sizeof(db))
		snprintf(db, sizeof(db), "%s", db_location);
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
