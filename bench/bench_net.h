// SPDX-License-Identifier: Apache-2.0
/*
 * bench_net.h — simulated devices driving a real selfcert-provd (or a real `cfssl serve`) over
 * HTTPS with keep-alive, for benchmarks 3 (bench_ca) and 5 (bench_fleet).
 *
 * A simulated device is what the factory leaves: a CSK and a KEK made in-process, their device CA
 * and KEK certificates from the library's builders under the manufacturer CA of a real
 * `selfcert mfr init`, the device ID activated through `selfcert net device import`. It then
 * enrols as the agent and SP would, but in-process (a benchmark-only shortcut the issue allows):
 * POST /v1/profiles with the SP's request proof (selfcert/proof.h, signed with its CSK, so the
 * server verifies it and counts the device's own budget, not the address's), sc_profile_decode, sc_alg_keygen, sc_cert_issue_leaf with its CSK,
 * POST /v1/certificates. Against cfssl the same device makes a P-256 key and a CSR and POSTs
 * /api/v1/cfssl/sign. Every answer is checked (status, and that it carries what it should); one
 * wrong answer stops the benchmark.
 */
#ifndef SC_BENCH_NET_H
#define SC_BENCH_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/proof.h>
#include "bench_util.h"

#define BENCH_MAX_CLIENTS 256

/* The manufacturer and the network, made by the real `selfcert`. */
struct bench_world {
	char dir[BENCH_PATH_MAX];
	char mfr_dir[BENCH_PATH_MAX + 8], net_dir[BENCH_PATH_MAX + 8];
	char mfr_root[BENCH_PATH_MAX + 32], mfr_ca[BENCH_PATH_MAX + 32],
	    mfr_ca_key[BENCH_PATH_MAX + 32];
	char net_root[BENCH_PATH_MAX + 32], server_cert[BENCH_PATH_MAX + 32],
	    server_key[BENCH_PATH_MAX + 32];
	X509 *ca;
	EVP_PKEY *ca_key;
	const char *signer_key; /* bench_provd_start: --signer-key (a pkcs11: URI); NULL: none */
	const char *policy;     /* bench_provd_start: --policy FILE; NULL: none (#17) */
	/* bench_provd_start: --profile-batch N and --profile-batch-wait MS (#17, Merkle batch
	 * profiles handed out by the server); NULL: none. */
	const char *profile_batch, *profile_batch_wait;
	/* bench_provd_start: --leaf-refs N (fleet14); NULL: provd's default. */
	const char *leaf_refs;
};
#define BENCH_NETWORK_ID "bench" /* the network bench_world_up makes, named in every proof */

/* selfcert mfr init, net init (network BENCH_NETWORK_ID), net server-cert for 127.0.0.1, under dir. */
void bench_world_up(struct bench_world *w, const char *dir);
/* The same with the network's keys (root and profile signer) of alg ("rsa3072"…; NULL: p256). */
void bench_world_up_alg(struct bench_world *w, const char *dir, const char *alg);
void bench_world_down(struct bench_world *w);

/* One simulated device, compactly (a fleet of 100,000 is held in memory). */
struct bench_dev {
	char id[24];
	uint8_t *csk; /* the CSK, DER private key (never written to disk) */
	size_t csk_len;
	uint8_t *ca; /* the device CA certificate, DER */
	size_t ca_len;
	/*
	 * The same two as the device's SP holds them, loaded once (spd reads its store at start,
	 * not per request): a round is charged the device's issuance, not this program's parsing.
	 */
	EVP_PKEY *csk_key;
	X509 *ca_x509;
	char *request; /* {"chain":…,"kex":…,"alg":"p256","challenge":"  (the challenge follows) */
	uint8_t digest[SC_PROOF_DIGEST_LEN]; /* the request digest its proofs bind (proof.h) */
	/* BENCH_PROVD_RENEW_OPEN leaves the window's K-1 local renewals here, the body of the
	 * POST /v1/certificates/batch that BENCH_PROVD_RENEW_NEXT sends (then frees) before the next
	 * window's profile request; pending_k is that window's K (its SP's last counter). */
	char *pending;
	uint32_t pending_k;
};

/* Manufacture n devices "<prefix>-<first+i>" (P-256 CSK and KEK), on two threads. */
void bench_devs_make(const struct bench_world *w, const char *prefix, size_t first, size_t n,
    struct bench_dev *out);
void bench_devs_free(struct bench_dev *d, size_t n);
/* Activate them: a CSV feed imported with the real `selfcert net device import --db db`. */
void bench_devs_activate(const struct bench_dev *d, size_t n, const char *db, const char *csv);
/*
 * The same, and with ship (a folder to make) each device's chain.pem and kex.pem written to
 * ship/<id>/ and imported with `--certs ship --mfr-root mfr_root`: verified by the CLI and pinned
 * at activation (issue 17, act8); ship NULL: a plain import. The CLI's CPU seconds (user+system).
 */
double bench_devs_activate_certs(const struct bench_dev *d, size_t n, const char *db,
    const char *csv, const char *ship, const char *mfr_root);

/* provd's log lines answering request: *tagged those naming tag (" pin=hit"), *other not. */
void bench_log_tagged(const char *log, const char *request, const char *tag, size_t *tagged,
    size_t *other);

/* The servers. Ports are the kernel's choice; *url gets "https://127.0.0.1:PORT" (or http). */
struct bench_server {
	pid_t pid;
	char url[64];
	char log[BENCH_PATH_MAX + 32];
};
void bench_provd_start(const struct bench_world *w, const char *db, int threads, int tls,
    struct bench_server *s);
/* Returns 0, or -1 when cfssl is not installed. */
int bench_cfssl_start(const struct bench_world *w, int tls, struct bench_server *s);
/* BENCH_CFSSL_PG from the environment (bench/pg.sh): cfssl's certificate database on PostgreSQL,
 * a lib/pq connection string; NULL: SQLite in the world's folder. */
const char *bench_cfssl_pg(void);
/* Where cfssl records, for the benches' closing line. */
const char *bench_cfssl_db_name(void);
/* Certificates cfssl recorded in its certificate database (-1: unreadable). */
long bench_cfssl_recorded(const struct bench_world *w);

/* GET url (trusting the network root); the status, the body in *body (free). */
long bench_http_get(const struct bench_world *w, const char *url, char **body);

/*
 * BENCH_PROVD_RENEW (#17): a device that announces RENEW gets a renewal profile (the server runs
 * a renewal policy), makes all K of its certificates in-process, registers the first through
 * POST /v1/certificates and the other K-1 in one POST /v1/certificates/batch. done counts
 * devices; bench_drive_result.certs counts certificates. Under bench_agent_connections the batch
 * goes on a connection of its own (selfcert-agent --batch K-1: it sends the batch on the day of
 * the window's last renewal): two connections a window.
 * fleet14, the other connection shapes of selfcert-agent (PERFORMANCE.md 21.1):
 * BENCH_PROVD_RENEW_OPEN: a window's profile and first certificate on one connection; the
 * window's K-1 local renewals are made and kept in bench_dev.pending, unregistered (certs: 1).
 * BENCH_PROVD_RENEW_NEXT: the device's next window as selfcert-agent --batch N >= K makes it:
 * on one connection the batch of the previous window's K-1 (bench_dev.pending), then the new
 * profile request and its first certificate (certs: K, one connection a window). This window's
 * own K-1 are not made: they would ride the window after.
 * BENCH_PROVD_RENEW_EACH: selfcert-agent's default --batch 1: the profile and the first
 * certificate on one connection, then each of the K-1 local renewals registered alone, a batch
 * of one on a connection of its own (certs: K, K connections a window).
 * BENCH_PROVD_BATCH (#17): the device's SP has BATCH_ISSUE ("batch": true); a server started with
 * --profile-batch answers a batch leaf (checked: "batched" and the leaf decodes as one), which
 * the device issues from and registers as any profile's certificate.
 */
enum bench_target {
	BENCH_PROVD,
	BENCH_CFSSL,
	BENCH_PROVD_RENEW,
	BENCH_PROVD_BATCH,
	BENCH_PROVD_RENEW_OPEN,
	BENCH_PROVD_RENEW_NEXT,
	BENCH_PROVD_RENEW_EACH
};

/* Keep-alive HTTP clients, one handle each, kept across rounds. */
struct bench_clients {
	int n;
	CURL *h[BENCH_MAX_CLIENTS];
};
void bench_clients_init(struct bench_clients *c, int n, const struct bench_world *w);
/*
 * 0 (default): each client keeps its connection for the whole run (both servers). 1: connect as
 * a real client does (issue 17, PERFORMANCE.md 16.5): a selfcert-agent round (profile, then
 * certificate) on one new connection, a batch registration (days later) on its own (or, for
 * BENCH_PROVD_RENEW_NEXT, first on the next window's connection; PERFORMANCE.md 21.1), and each
 * cfssl certificate on its own: a new connection each, on both servers alike.
 */
extern int bench_agent_connections;
/*
 * 1 (default): the clients' curl handles keep TLS sessions, so a new connection resumes with the
 * server's ticket where the server issues them (cfssl's Go server: 7-day tickets; selfcert-provd
 * since session 13: 7-day TLS 1.3 tickets), as a long-running selfcert-agent does (it keeps one
 * handle; curl_easy_reset keeps its session cache). 0: no resumption, for both servers: every
 * connection a full handshake (an agent started anew for each contact). PERFORMANCE.md 20.1.
 */
extern int bench_tls_resume;
/*
 * 0 (default): a first certificate goes alone. 1 (bench_fleet --device-crl, fleet14): with the
 * device CA's own CRL ("crl", docs/API.md), as selfcert-agent sends it with every first
 * certificate (an SP of protocol 1.3 on), which provd checks (its signature) and keeps.
 */
extern int bench_device_crl;
/* crl14: the CRL with 1 in N first certificates (--device-crl-every N, default 1: each), as
 * selfcert-agent since session 14 sends it only when the server's copy would not cover. */
extern unsigned bench_device_crl_every;
/*
 * #17 (dur11): NULL (default): provd's default --profile-commit; else its value ("durable",
 * "deferred"). bench_carry 1: each first certificate is registered with its "profile" and
 * "chain" (docs/API.md "Session 11 (dur11)"), which selfcert-agent sends only on a second try
 * after profile-unknown: the field's upper-bound cost.
 */
extern const char *bench_profile_commit;
extern int bench_carry;
/*
 * enroll15b: the HTTP bytes every POST so far moved, both ways, as curl reports them (the
 * request's header and body, CURLINFO_REQUEST_SIZE; the answer's header and body):
 * what the server's TLS record layer seals and opens. All clients, all servers; thread-safe.
 */
unsigned long long bench_http_bytes(void);
void bench_clients_free(struct bench_clients *c);

struct bench_drive_result {
	size_t done;          /* devices enrolled (or CSRs signed) */
	double wall;          /* seconds from the first request to the last answer */
	long new_connections; /* TCP/TLS connections opened during the run (0 once warm) */
	size_t certs;         /* certificates issued and registered (BENCH_PROVD_RENEW: K each) */
};

/*
 * Enrol devs[0..n) through the server with c->n concurrent clients pulling from one queue.
 * deadline > 0: start no device after bench_now() passes it (done may be < n). progress > 0:
 * a line on stderr every `progress` devices.
 */
void bench_drive(enum bench_target t, const struct bench_server *s, struct bench_clients *c,
    struct bench_dev *devs, size_t n, double deadline, size_t progress,
    struct bench_drive_result *out);

#endif
