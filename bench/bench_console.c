// SPDX-License-Identifier: Apache-2.0
/*
 * bench_console.c — the operator console's API (issue 18) at fleet size: every console call's
 * server time with 100,000 devices and a year of audit in the registry.
 *
 *   bench_console [--devices N] [--audit-rows A] [--days D] [--reps R] [--db-dir DIR] [--keep]
 *       [--json]
 *
 * Fills a SQLite registry (the schema of sc_reg_open, then plain SQL: N devices, 2% revoked, 1%
 * never enrolled, every other one renewing daily for the last D days — a profile and a
 * certificate a day —, A audit rows spread over 365 days, every 1000th an operator's
 * revocation), then calls provd_api_handle in-process with a console session, as the HTTP layer
 * does, R times per call: the time is the server's own (routing, the session gate's registry
 * read, the handler, the JSON), without TLS or the network. Each call's median and maximum,
 * and the ratio of the median to the baseline in the same process: one device read by its key
 * (sc_reg_device_get), the cheapest registry call there is.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include "api.h"
#include "bench_util.h"
#include "registry.h"
#include "text.h"

#define COOKIE_ID "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define CSRF "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff"

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		bench_die("fill: %s", err ? err : "?");
}

/* The registry as a busy year leaves it; every row by SQL, in one transaction per table. */
static void fill(const char *path, size_t n, size_t audit, int days, int64_t now)
{
	struct sc_reg *reg = NULL;
	sqlite3 *db = NULL;
	char sql[2048];

	if (sc_reg_open(path, 1, &reg) != SC_OK)
		bench_die("open %s: %s", path, sc_err_detail());
	sc_reg_close(reg);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		bench_die("open %s", path);
	exec_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN");
	snprintf(sql, sizeof(sql),
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %zu)"
	    " INSERT INTO devices (device_id, status, note, created_at, updated_at)"
	    " SELECT printf('dev-%%06d', i), CASE WHEN i %% 50 = 0 THEN 'revoked' ELSE 'active' END,"
	    " 'batch ' || (i %% 97), %lld, %lld FROM n;"
	    "INSERT INTO revocations (device_id, reason, revoked_at, actor)"
	    " SELECT device_id, 'returned', %lld, 'operator alice (10.0.0.1)' FROM devices"
	    " WHERE status = 'revoked';",
	    n, (long long)(now - 400 * 86400LL), (long long)(now - 400 * 86400LL),
	    (long long)(now - 30 * 86400LL));
	exec_sql(db, sql);
	/* Profiles and certificates: day d ago for each device, at the device's own second. */
	snprintf(sql, sizeof(sql),
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %zu),"
	    " d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < %d - 1),"
	    " p AS (SELECT i, k, %lld - k * 86400 - (i * 7919) %% 86400 AS t FROM n, d"
	    "  WHERE i %% 100 <> 7 AND (k = 0 OR i %% 2 = 0))"
	    " INSERT INTO profiles (profile_id, device_id, challenge, origin, alg, not_before,"
	    "  not_after, profile_not_after, der, chain_pem, created_at, consumed_at)"
	    " SELECT printf('%%016x%%016x', i, k), printf('dev-%%06d', i), NULL, 'device', 'p256',"
	    "  t - 60, t + 86400, t + 600, X'3000', '', t, t + 1 FROM p ORDER BY t;",
	    n, days, (long long)now);
	exec_sql(db, sql);
	exec_sql(db,
	    "INSERT INTO certificates (fingerprint, serial, device_id, profile_id,"
	    " not_before, not_after, der, registered_at)"
	    " SELECT profile_id || profile_id, substr(profile_id, 1, 32), device_id,"
	    " profile_id, not_before, not_after, X'3000', consumed_at FROM profiles"
	    " ORDER BY consumed_at;");
	/* A year of audit, oldest first: agents' profiles and certificates, operators' work. */
	snprintf(sql, sizeof(sql),
	    "WITH RECURSIVE a(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM a WHERE k < %zu - 1)"
	    " INSERT INTO audit (at, actor, event, device_id, detail)"
	    " SELECT %lld + k * %lld / %zu,"
	    "  CASE WHEN k %% 1000 = 0 THEN 'operator alice (10.0.0.1)'"
	    "   WHEN k %% 97 = 0 THEN 'operator bob (10.0.0.2)' ELSE 'api 10.1.' || (k %% 250) END,"
	    "  CASE WHEN k %% 1000 = 0 THEN 'device-revoked' WHEN k %% 97 = 0 THEN 'device-added'"
	    "   WHEN k %% 2 = 0 THEN 'profile-issued' ELSE 'certificate-registered' END,"
	    "  printf('dev-%%06d', k %% %zu + 1),"
	    "  'profile ' || printf('%%032x', k) || ', device-generated key p256' FROM a;",
	    audit, (long long)(now - 365 * 86400LL), 365 * 86400LL, audit, n);
	exec_sql(db, sql);
	exec_sql(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
}

struct call {
	const char *name;
	const char *method;
	char path[160];
	struct provd_query_arg q[PROVD_QUERY_MAX];
	size_t nq;
	const char *body;
	struct bench_stat ms, cpu; /* wall time, and the thread's CPU time */
};

/* The calling thread's CPU time in seconds: the server's own work, whatever else the machine
 * runs (the wall time of a loaded 2-core machine waits for the CPU too). */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void arg(struct call *c, const char *k, const char *v)
{
	c->q[c->nq].key = k;
	c->q[c->nq++].value = v;
}

/* One console request as the HTTP layer hands it over; dies unless it answers 200. */
static double one(const struct provd_api *api, struct sc_reg *reg, struct call *c)
{
	struct provd_request req = { 0 };
	struct provd_response resp;
	double t, cpu;

	req.method = c->method;
	req.path = c->path;
	req.peer = "127.0.0.1";
	req.cookie = "__Host-sc_console=" COOKIE_ID;
	req.csrf_token = CSRF;
	req.query = c->q;
	req.n_query = c->nq;
	if (c->body != NULL) {
		req.content_type = "application/json";
		req.body = (const uint8_t *)c->body;
		req.body_len = strlen(c->body);
	}
	t = bench_now();
	cpu = cpu_now();
	provd_api_handle(api, reg, &req, &resp);
	bench_stat_add(&c->cpu, cpu_now() - cpu);
	t = bench_now() - t;
	if (resp.status != 200)
		bench_die("%s: HTTP %d %.200s", c->name, resp.status, resp.body ? resp.body : "");
	provd_response_clear(&resp);
	return t;
}

int main(int argc, char **argv)
{
	size_t n = 100000, audit = 2000000;
	int days = 3, reps = 15, json = 0, keep = 0;
	const char *db_base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char base[BENCH_PATH_MAX], db[BENCH_PATH_MAX + 16], cpuname[64], hash[65], cursor[32],
	    deep[32], mid[32], since[32], until[32], soon[32], revoke_path[16][64];
	struct provd_api api;
	struct sc_reg *reg = NULL;
	struct sc_reg_session s = { 0 };
	struct sc_reg_device d;
	struct bench_stat base_ms = { .n = 0 };
	uint8_t h[32];
	unsigned hl = 0;
	int64_t now = (int64_t)time(NULL);
	double t0, t_fill;
	struct call calls[20];
	size_t nc = 0;

	bench_prog = "bench_console";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			keep = 1;
		else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc)
			n = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--audit-rows") == 0 && i + 1 < argc)
			audit = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc)
			days = atoi(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--db-dir") == 0 && i + 1 < argc)
			db_base = argv[++i];
		else {
			fprintf(stderr,
			    "usage: bench_console [--devices N] [--audit-rows A] "
			    "[--days D] [--reps R] [--db-dir DIR] [--keep] [--json]\n");
			return 2;
		}
	}
	if (n < 100 || n > 999999 || audit < 1000 || days < 1 || days > 30 || reps < 1 ||
	    reps > BENCH_MAX_ROUNDS - 1)
		bench_die("--devices 100..999999, --audit-rows >= 1000, --days 1..30, --reps 1..%d",
		    BENCH_MAX_ROUNDS - 1);
	bench_mkdtemp(db_base, base, sizeof(base));
	snprintf(db, sizeof(db), "%s/reg.db", base);
	t0 = bench_now();
	fill(db, n, audit, days, now);
	t_fill = bench_now() - t0;

	memset(&api, 0, sizeof(api));
	provd_policy_defaults(&api.policy);
	snprintf(api.network_id, sizeof(api.network_id), "bench-net");
	api.admin_enabled = 1; /* the legacy operator "admin": the session's */
	if (provd_metrics_new(&api.metrics) != SC_OK || sc_reg_open(db, 0, &reg) != SC_OK)
		bench_die("set-up: %s", sc_err_detail());
	if (EVP_Digest(COOKIE_ID, strlen(COOKIE_ID), h, &hl, EVP_sha256(), NULL) != 1)
		bench_die("sha256");
	for (int i = 0; i < 32; i++)
		snprintf(hash + 2 * i, 3, "%02x", h[i]);
	snprintf(s.operator_name, sizeof(s.operator_name), "admin");
	snprintf(s.csrf, sizeof(s.csrf), CSRF);
	s.created_at = now;
	s.expires_at = now + 3600;
	if (sc_reg_session_put(reg, hash, &s, now) != SC_OK)
		bench_die("session: %s", sc_err_detail());

	snprintf(mid, sizeof(mid), "dev-%06zu", n / 2 + 1);
	snprintf(deep, sizeof(deep), "dev-%06zu", n - 60);
	snprintf(cursor, sizeof(cursor), "%zu", audit / 2);
	sc_format_time((time_t)(now - 30 * 86400), since, sizeof(since));
	sc_format_time((time_t)(now - 29 * 86400), until, sizeof(until));
	sc_format_time((time_t)(now + 86400), soon, sizeof(soon));
	memset(calls, 0, sizeof(calls));
#define CALL(nm, m, p)                                  \
	(calls[nc].name = (nm), calls[nc].method = (m), \
	    snprintf(calls[nc].path, sizeof(calls[nc].path), "%s", (p)), &calls[nc++])
	CALL("session", "GET", "/console/api/session");
	CALL("overview (72 h)", "GET", "/console/api/overview");
	arg(CALL("overview (7 d)", "GET", "/console/api/overview"), "hours", "168");
	arg(CALL("devices: first page", "GET", "/console/api/devices"), "limit", "50");
	{
		struct call *c = CALL("devices: deep page", "GET", "/console/api/devices");
		arg(c, "after", deep);
		arg(c, "limit", "50");
		c = CALL("devices: prefix", "GET", "/console/api/devices");
		arg(c, "prefix", "dev-0500");
		arg(c, "limit", "50");
		c = CALL("devices: revoked", "GET", "/console/api/devices");
		arg(c, "status", "revoked");
		arg(c, "limit", "50");
		c = CALL("devices: expiring 24 h", "GET", "/console/api/devices");
		arg(c, "expiring_before", soon);
		arg(c, "limit", "50");
	}
	{
		char p[96];

		snprintf(p, sizeof(p), "/console/api/devices/%s", mid);
		arg(CALL("device detail", "GET", p), "audit", "100");
	}
	CALL("audit: newest", "GET", "/console/api/audit");
	arg(CALL("audit: deep page", "GET", "/console/api/audit"), "before", cursor);
	arg(CALL("audit: event (rare)", "GET", "/console/api/audit"), "event", "device-revoked");
	arg(CALL("audit: actor", "GET", "/console/api/audit"), "actor", "operator bob");
	arg(CALL("audit: device", "GET", "/console/api/audit"), "device", mid);
	{
		struct call *c = CALL("audit: one day, a month ago", "GET", "/console/api/audit");
		arg(c, "since", since);
		arg(c, "until", until);
		c = CALL("audit: CSV export (1000 rows)", "GET", "/console/api/audit");
		arg(c, "format", "csv");
		arg(c, "limit", "1000");
	}
	CALL("policy", "GET", "/console/api/policy");
	{
		struct call *c = CALL("revoke", "POST", "");
		c->body = "{\"reason\":\"bench\"}";
	}
#undef CALL

	/* Warm: the first call of each compiles its statements, as a worker's first request. */
	for (size_t i = 0; i + 1 < nc; i++)
		(void)one(&api, reg, &calls[i]);
	for (int r = 0; r < reps; r++) {
		t0 = bench_now();
		if (sc_reg_device_get(reg, mid, &d) != SC_OK)
			bench_die("baseline: %s", sc_err_detail());
		bench_stat_add(&base_ms, bench_now() - t0);
		for (size_t i = 0; i < nc; i++) {
			struct call *c = &calls[i];

			if (c->body != NULL) { /* a different active device each time */
				snprintf(revoke_path[r % 16], sizeof(revoke_path[0]),
				    "/console/api/devices/dev-%06d/revoke", 3 + 2 * r);
				snprintf(c->path, sizeof(c->path), "%s", revoke_path[r % 16]);
			}
			bench_stat_add(&c->ms, one(&api, reg, c));
		}
	}
	if (json) {
		printf("{\"devices\":%zu,\"audit_rows\":%zu,\"days\":%d,\"fill_s\":%.1f,", n, audit,
		    days, t_fill);
		bench_json_stat(stdout, "baseline_ms", &base_ms, 1e3);
		for (size_t i = 0; i < nc; i++) {
			printf(",");
			bench_json_stat(stdout, calls[i].name, &calls[i].ms, 1e3);
			printf(",");
			snprintf(cpuname, sizeof(cpuname), "%s (cpu)", calls[i].name);
			bench_json_stat(stdout, cpuname, &calls[i].cpu, 1e3);
		}
		printf("}\n");
	} else {
		printf(
		    "bench_console: %zu devices, %zu audit rows over a year, %d days of renewals "
		    "(filled in %.1f s); %d calls each, server time (provd_api_handle)\n",
		    n, audit, days, t_fill, reps);
		printf("  %-32s %9.3f ms median\n", "baseline: one device by its key",
		    bench_median(&base_ms) * 1e3);
		printf("  %-32s %10s %10s %10s %10s %9s\n", "call", "wall med", "wall max",
		    "cpu med", "cpu max", "/baseline");
		for (size_t i = 0; i < nc; i++)
			printf("  %-32s %7.3f ms %7.3f ms %7.3f ms %7.3f ms %8.0fx\n",
			    calls[i].name, bench_median(&calls[i].ms) * 1e3,
			    bench_max(&calls[i].ms) * 1e3, bench_median(&calls[i].cpu) * 1e3,
			    bench_max(&calls[i].cpu) * 1e3,
			    bench_median(&calls[i].ms) / bench_median(&base_ms));
	}
	for (size_t i = 0; i < nc; i++)
		if (bench_median(&calls[i].ms) > 0.1)
			fprintf(stderr, "bench_console: %s: %.1f ms median (over 100 ms)\n",
			    calls[i].name, bench_median(&calls[i].ms) * 1e3);
	sc_reg_close(reg);
	provd_metrics_free(api.metrics);
	if (keep)
		fprintf(stderr, "bench_console: the registry kept in %s\n", db);
	else
		bench_rmrf(base);
	return 0;
}
