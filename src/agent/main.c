// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — selfcert-agent in three phases: flags, loading (paths, the server client, the lock on
 * the certificate folder, signals), and running: one round (enroll.c), then sleep until the
 * renewal is due, or back off exponentially (with jitter, up to a cap) after a failure. --once
 * runs one round and exits with spec/CLI.md's codes. Every line on stderr goes through log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <selfcert/version.h>
#include "agent.h"
#include "daemon.h"
#include "conf.h"
#include "log.h"
#include "text.h"

#define AGENT_RECHECK_S 3600 /* a sleeping daemon looks at the SP and its state this often */
#define AGENT_RETRY_MIN_S 2
#define AGENT_RETRY_MAX_S 300
#define AGENT_GRACE_S 600 /* --grace: ample for a service's reload (hook.c) */

static const char usage_text[] =
    "usage: selfcert-agent --sp SOCKET --certs DIR --server URL --ca NETROOT.pem\n"
    "         [--once] [--alg ALG] [--server-keygen] [--device-dir DIR] [--force-renew]\n"
    "         [--retry-min DUR] [--retry-max DUR]\n"
    "         [--exec CMD] [--reload-pid FILE --reload-signal SIG] [--grace DUR] [--batch N]\n"
    "Enrolls this device with the provisioning server and keeps its certificate renewed: a challenge\n"
    "from the SP, a profile from the server, the SP issues, the certificate goes back to the server,\n"
    "then DIR/leaf.pem and DIR/chain.pem show it (DIR/state.json remembers the SP key handles).\n"
    "Renews at two thirds of the lifetime (less a random tenth); never deletes the key in use before\n"
    "its successor is acknowledged by the server and written; resumes after a crash at any step.\n"
    "  --server URL      https://HOST:PORT (http:// only to a loopback address)\n"
    "  --ca FILE         the network root: the only trust anchor for the server's TLS certificate\n"
    "  --device-dir DIR  where chain.pem (device CA + manufacturer CA), and optionally kex.pem and\n"
    "                    device-ca.pem, are (default: --certs DIR); checked against the SP's own\n"
    "  --alg ALG         the key algorithm to ask for (default: the server's)\n"
    "  --server-keygen   ask the server to generate the key (encrypted to the SP's KEK)\n"
    "  --once            one round, then exit: 0 done (or nothing due), 1 refused, 2 usage, 3 system\n"
    "  --force-renew     renew now even if the certificate is not due\n"
    "  --retry-min DUR   first back-off after a failure (default 2s), doubling up to\n"
    "  --retry-max DUR   the cap (default 5m)\n"
    "  --exec CMD        run CMD (sh -c) after each enrollment and renewal; its environment names\n"
    "                    the new files: SELFCERT_LEAF, _CHAIN, _FULLCHAIN, _KEY_URI, _KEY_HANDLE,\n"
    "                    _PKCS11_URI, _DEVICE_ID, _SERIAL, _ACTION; a failure is logged and retried\n"
    "  --reload-pid FILE --reload-signal SIG   signal the process in FILE instead (or too)\n"
    "  --grace DUR       keep the old key this long after the switch, and until the hook\n"
    "                    succeeded, for a consumer that still signs with it (default 10m; 0: none)\n"
    "  --batch N         with a renewal profile (SP revision 1.5, a server renewal policy) the SP\n"
    "                    renews locally; register its certificates N per request (1..32,\n"
    "                    default 32). The rest goes at the window's end, first on the next\n"
    "                    profile request's connection: N >= the profile's count makes one\n"
    "                    connection a window; N = 1 registers each at once, a connection each\n"
    "                    (the server judges each at its own period, expired or not)\n"
    "Beside leaf.pem: chain.pem, fullchain.pem (leaf + chain) and key.uri (the key's PKCS#11 URI).\n"
    "  --config FILE     key = value settings, keys the long flags (selfcert.conf(5));\n"
    "                    flags on the command line win\n"
    "  --version         print the version and exit\n"
    "Runs in the foreground and logs to stderr; SIGTERM or SIGINT stops it cleanly; SIGHUP\n"
    "restarts it in place after the current round (re-reading its flags and files).\n";

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1; /* only between rounds: a round is never cut short by it */
	else
		stop_requested = 1;
}

/* A failed round: the server's refusal code when it gave one, else the error's name. */
static void log_error(const struct agent *a, sc_err r, const char *suffix)
{
	const char *name = (r == SC_ERR_DENIED || r == SC_ERR_PEER) && a->refusal[0]
	    ? a->refusal
	    : sc_err_name(r);

	sc_log_named(name, "%s%s", *sc_err_detail() ? sc_err_detail() : sc_err_message(r), suffix);
}

/* Sleep until t or a signal, without a window where a signal could be missed. */
static void sleep_until(time_t t)
{
	sigset_t block, orig;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	for (;;) {
		time_t now = time(NULL);
		struct timespec ts;

		sigprocmask(SIG_BLOCK, &block, &orig);
		if (stop_requested || reload_requested || now >= t) {
			sigprocmask(SIG_SETMASK, &orig, NULL);
			return;
		}
		ts.tv_sec = t - now;
		ts.tv_nsec = 0;
		(void)ppoll(NULL, 0, &ts, &orig);
		sigprocmask(SIG_SETMASK, &orig, NULL);
	}
}

static int64_t jitter(int64_t s)
{
	uint32_t v = 0;

	/* Half to all of the delay, so that agents that failed together retry apart. */
	if (s < 2 || RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		return s;
	return s / 2 + (int64_t)(v % (uint32_t)(s / 2 + 1));
}

/* One line on stdout for scripts (data, not a log line): what is in use now. */
static void report(const struct agent *a)
{
	struct agent_state st;
	char na[32], ra[32];

	if (agent_state_load(a->state_path, &st) != SC_OK) {
		agent_state_clear(&st);
		return;
	}
	/* aw17mend: this load commits a salvage too (damage since the round's own load): said as
	 * the round says it, not silently. */
	if (st.salvage[0] != '\0')
		sc_log("%s: %s", a->device_id[0] ? a->device_id : "?", st.salvage);
	if (!st.current.present) {
		agent_state_clear(&st);
		return;
	}
	sc_format_time((time_t)st.current.not_after, na, sizeof(na));
	sc_format_time((time_t)st.current.renew_at, ra, sizeof(ra));
	printf("%s %s key=%u serial=%s not_after=%s renew_at=%s\n", a->device_id,
	    a->action ? a->action : "unchanged", st.current.handle, st.current.serial, na, ra);
	fflush(stdout);
	agent_state_clear(&st);
}

/* ---- flags ---- */

static int64_t duration_flag(const char *flag, const char *arg, const char *example)
{
	int64_t v = 0;

	if (sc_parse_duration(arg, &v) != SC_OK || v < 1)
		sc_log_usage_die("%s '%s': a duration such as %s", flag, arg, example);
	return v;
}

/* The flags into cfg; a usage error ends the process (exit 2), --help too (exit 0). */
static void parse_flags(int argc, char **argv, struct agent_cfg *cfg)
{
	enum {
		O_SP = 1,
		O_CERTS,
		O_SERVER,
		O_CA,
		O_ONCE,
		O_ALG,
		O_KEYGEN,
		O_DEVDIR,
		O_FORCE,
		O_RMIN,
		O_RMAX,
		O_EXEC,
		O_RPID,
		O_RSIG,
		O_GRACE,
		O_BATCH,
		O_HELP
	};
	static const struct option opts[] = {
		{ "sp", required_argument, NULL, O_SP },
		{ "certs", required_argument, NULL, O_CERTS },
		{ "server", required_argument, NULL, O_SERVER },
		{ "ca", required_argument, NULL, O_CA },
		{ "once", no_argument, NULL, O_ONCE },
		{ "alg", required_argument, NULL, O_ALG },
		{ "server-keygen", no_argument, NULL, O_KEYGEN },
		{ "device-dir", required_argument, NULL, O_DEVDIR },
		{ "force-renew", no_argument, NULL, O_FORCE },
		{ "retry-min", required_argument, NULL, O_RMIN },
		{ "retry-max", required_argument, NULL, O_RMAX },
		{ "exec", required_argument, NULL, O_EXEC },
		{ "reload-pid", required_argument, NULL, O_RPID },
		{ "reload-signal", required_argument, NULL, O_RSIG },
		{ "grace", required_argument, NULL, O_GRACE },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, 'V' },
		{ "config", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->retry_min_s = AGENT_RETRY_MIN_S;
	cfg->retry_max_s = AGENT_RETRY_MAX_S;
	cfg->grace_s = AGENT_GRACE_S;
	/* late15: a window's local renewals at its end (the server judges each at its own
	 * period, so one that expired in the queue is registered all the same). */
	cfg->batch = AGENT_MAX_BATCH;
	opterr = 0;
	/* --config FILE: its settings go first, so the command line's flags win (conf.h). */
	sc_err cr = sc_conf_merge(&argc, &argv, opts);
	if (cr != SC_OK) {
		sc_log_failure(cr);
		exit(2);
	}
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SP: cfg->sp_path = optarg; break;
		case O_CERTS: cfg->certs_dir = optarg; break;
		case O_SERVER: cfg->server = optarg; break;
		case O_CA: cfg->ca_path = optarg; break;
		case O_ONCE: cfg->once = 1; break;
		case O_ALG:
			if (sc_alg_from_name(optarg, &cfg->alg) != SC_OK)
				sc_log_usage_die(
				    "--alg '%s': rsa2048 rsa3072 rsa4096 p256 p384 ed25519",
				    optarg);
			break;
		case O_KEYGEN: cfg->server_keygen = 1; break;
		case O_DEVDIR: cfg->device_dir = optarg; break;
		case O_FORCE: cfg->force_renew = 1; break;
		case O_RMIN: cfg->retry_min_s = duration_flag("--retry-min", optarg, "2s"); break;
		case O_RMAX: cfg->retry_max_s = duration_flag("--retry-max", optarg, "5m"); break;
		case O_EXEC: cfg->exec_cmd = optarg; break;
		case O_RPID: cfg->reload_pid_path = optarg; break;
		case O_RSIG:
			if ((cfg->reload_sig = agent_signal_from_name(optarg)) < 0)
				sc_log_usage_die(
				    "--reload-signal '%s': HUP USR1 USR2 TERM INT QUIT "
				    "WINCH CONT",
				    optarg);
			break;
		case O_GRACE:
			/* "0" is allowed here: no grace at all. */
			if (strcmp(optarg, "0") == 0)
				cfg->grace_s = 0;
			else
				cfg->grace_s = duration_flag("--grace", optarg, "10m");
			break;
		case O_BATCH: {
			char *end = NULL;
			long n = strtol(optarg, &end, 10);

			if (end == optarg || *end != '\0' || n < 1 || n > AGENT_MAX_BATCH)
				sc_log_usage_die("--batch '%s': 1..%d", optarg, AGENT_MAX_BATCH);
			cfg->batch = (int)n;
			break;
		}
		case O_HELP: fputs(usage_text, stdout); exit(0);
		case 'C': sc_log_usage_die("--config: at most once");
		case 'V': sc_version_print(stdout, "selfcert-agent"); exit(0);
		default: sc_log_usage_die("unknown flag or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		sc_log_usage_die("unexpected argument '%s'", argv[optind]);
	if (cfg->sp_path == NULL || cfg->certs_dir == NULL || cfg->server == NULL ||
	    cfg->ca_path == NULL)
		sc_log_usage_die("--sp, --certs, --server and --ca are required (--help)");
	if (cfg->retry_max_s < cfg->retry_min_s)
		sc_log_usage_die("--retry-max is shorter than --retry-min");
	if ((cfg->reload_pid_path != NULL) != (cfg->reload_sig > 0))
		sc_log_usage_die("--reload-pid and --reload-signal go together");
	if (cfg->device_dir == NULL)
		cfg->device_dir = cfg->certs_dir;
	if (access(cfg->ca_path, R_OK) != 0)
		sc_log_usage_die("--ca %s: %s", cfg->ca_path, strerror(errno));
}

/* ---- loading ---- */

/* dir/name into out, or a usage error. */
static void path_in(char *out, size_t out_len, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, out_len, "%s/%s", dir, name) >= out_len)
		sc_log_usage_die("--certs: path too long");
}

/*
 * The agent for cfg: its paths, the server client (a URL we refuse is a usage error, exit 2),
 * the certificate folder (created if missing) and its lock, held in *lock_fd: one agent per
 * folder, or two would race on state.json and on the SP's keys. SC_ERR_IO (exit 3).
 */
static sc_err load(struct agent *a, const struct agent_cfg *cfg, int *lock_fd)
{
	char lock_path[4096];
	struct stat stt;
	struct sigaction sa;
	sc_err r;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->stop = &stop_requested;
	a->force = cfg->force_renew;
	a->sp_renews = -1; /* asked once, at the first round (#17) */
	path_in(a->state_path, sizeof(a->state_path), cfg->certs_dir, "state.json");
	path_in(a->leaf_path, sizeof(a->leaf_path), cfg->certs_dir, "leaf.pem");
	path_in(a->chain_path, sizeof(a->chain_path), cfg->certs_dir, "chain.pem");
	path_in(a->fullchain_path, sizeof(a->fullchain_path), cfg->certs_dir, "fullchain.pem");
	path_in(a->key_uri_path, sizeof(a->key_uri_path), cfg->certs_dir, "key.uri");
	path_in(lock_path, sizeof(lock_path), cfg->certs_dir, ".agent.lock");
	if ((r = agent_failpoints_load()) != SC_OK)
		sc_log_usage_die("%s", sc_err_detail());
	if ((r = agent_http_new(cfg->server, cfg->ca_path, &stop_requested, &a->http)) != SC_OK)
		sc_log_usage_die("%s", sc_err_detail());
	if (mkdir(cfg->certs_dir, 0755) != 0 &&
	    (errno != EEXIST || stat(cfg->certs_dir, &stt) != 0 || !S_ISDIR(stt.st_mode)))
		return sc_fail(SC_ERR_IO, "%s: %s", cfg->certs_dir,
		    strerror(errno == EEXIST ? ENOTDIR : errno));
	if ((*lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    flock(*lock_fd, LOCK_EX | LOCK_NB) != 0)
		return sc_fail(SC_ERR_IO, "%s: %s", lock_path,
		    errno == EWOULDBLOCK ? "another selfcert-agent is running on this folder"
		                         : strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return SC_OK;
}

/* ---- running ---- */

/* --once: one round; the exit code of its outcome. */
static int run_once(struct agent *a)
{
	time_t next_at = 0;
	int did = 0;
	sc_err r;

	sc_err_clear();
	if ((r = agent_round(a, &next_at, &did)) != SC_OK) {
		log_error(a, r, "");
		return sc_err_exit_code(r);
	}
	report(a);
	return 0;
}

/* The daemon: rounds until SIGTERM or SIGINT, sleeping until due or backing off; exit 0. */
static int run_daemon(struct agent *a)
{
	int64_t backoff = a->cfg->retry_min_s;
	time_t next_at = 0;
	int did = 0;
	sc_err r;

	sc_daemon_notify("READY=1");
	while (!stop_requested && !reload_requested) {
		time_t now, wake;

		sc_err_clear();
		r = agent_round(a, &next_at, &did);
		now = time(NULL);
		if (r == SC_OK) {
			if (did)
				report(a);
			backoff = a->cfg->retry_min_s;
			wake = next_at < now + AGENT_RECHECK_S ? next_at : now + AGENT_RECHECK_S;
			/* Due already (a renewal the server's short lifetime makes immediate): a second. */
			if (wake <= now)
				wake = now + 1;
		} else {
			char suffix[64];
			int64_t d = jitter(backoff);

			snprintf(suffix, sizeof(suffix), "; retrying in %llds", (long long)d);
			if (!stop_requested)
				log_error(a, r, suffix);
			wake = now + (time_t)d;
			backoff = backoff * 2 > a->cfg->retry_max_s ? a->cfg->retry_max_s
			                                            : backoff * 2;
		}
		sleep_until(wake);
	}
	if (reload_requested && !stop_requested) {
		sc_log("%s: SIGHUP: restarting to re-read the configuration",
		    a->device_id[0] ? a->device_id : "?");
		return -1; /* main releases the lock, then re-executes */
	}
	sc_log("%s: stopping", a->device_id[0] ? a->device_id : "?");
	return 0;
}

int main(int argc, char **argv)
{
	struct agent_cfg cfg;
	struct agent a;
	int lock_fd = -1, rc = 3;
	sc_err r;

	sc_log_init("selfcert-agent");
	parse_flags(argc, argv, &cfg);
	if ((r = load(&a, &cfg, &lock_fd)) != SC_OK) {
		sc_log_failure(r);
	} else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		sc_log_err(SC_ERR_INTERNAL, "curl_global_init failed");
	} else {
		rc = cfg.once ? run_once(&a) : run_daemon(&a);
		curl_global_cleanup();
	}
	agent_http_free(a.http);
	if (lock_fd >= 0)
		close(lock_fd);
	ERR_clear_error();
	if (rc == -1) {
		sc_daemon_notify("RELOADING=1");
		sc_daemon_reexec(argv);
		rc = 1;
	}
	return rc;
}
