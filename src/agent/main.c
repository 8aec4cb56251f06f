/*
 * main.c — selfcert-agent: flags, the lock on the certificate folder, and the loop: one round
 * (enroll.c), then sleep until the renewal is due, or back off exponentially (with jitter, up
 * to a cap) after a failure. --once runs one round and exits with spec/CLI.md's codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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
#include "agent.h"
#include "text.h"

#define AGENT_RECHECK_S 3600       /* a sleeping daemon looks at the SP and its state this often */
#define AGENT_RETRY_MIN_S 2
#define AGENT_RETRY_MAX_S 300

static const char usage_text[] =
"usage: selfcert-agent --sp SOCKET --certs DIR --server URL --ca NETROOT.pem\n"
"         [--once] [--alg ALG] [--server-keygen] [--device-dir DIR] [--force-renew]\n"
"         [--retry-min DUR] [--retry-max DUR]\n"
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
"Runs in the foreground and logs to stderr; SIGTERM or SIGINT stops it cleanly.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "selfcert-agent: usage: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static void print_error(const struct agent *a, sc_err r, const char *suffix)
{
	const char *name = r == SC_ERR_DENIED && a->refusal[0] ? a->refusal :
	    (r == SC_ERR_PEER && a->refusal[0] ? a->refusal : sc_err_name(r));

	fprintf(stderr, "selfcert-agent: %s: %s%s\n", name, *sc_err_detail() ? sc_err_detail() : sc_err_message(r),
	    suffix);
}

/* Sleep until t or a signal, without a window where a signal could be missed. */
static void sleep_until(time_t t)
{
	sigset_t block, orig;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	for (;;) {
		time_t now = time(NULL);
		struct timespec ts;

		sigprocmask(SIG_BLOCK, &block, &orig);
		if (stop_requested || now >= t) {
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

/* One line on stdout for scripts: what is in use now. */
static void report(const struct agent *a, int did)
{
	struct agent_state st;
	char na[32], ra[32];

	if (agent_state_load(a->state_path, &st) != SC_OK || !st.current.present) {
		agent_state_clear(&st);
		return;
	}
	sc_format_time((time_t)st.current.not_after, na, sizeof(na));
	sc_format_time((time_t)st.current.renew_at, ra, sizeof(ra));
	(void)did;
	printf("%s %s key=%u serial=%s not_after=%s renew_at=%s\n", a->device_id, a->action ? a->action : "unchanged",
	    st.current.handle, st.current.serial, na, ra);
	fflush(stdout);
	agent_state_clear(&st);
}

int main(int argc, char **argv)
{
	enum { O_SP = 1, O_CERTS, O_SERVER, O_CA, O_ONCE, O_ALG, O_KEYGEN, O_DEVDIR, O_FORCE, O_RMIN, O_RMAX,
		O_CRASH, O_STOP, O_HELP };
	static const struct option opts[] = {
		{ "sp", required_argument, NULL, O_SP }, { "certs", required_argument, NULL, O_CERTS },
		{ "server", required_argument, NULL, O_SERVER }, { "ca", required_argument, NULL, O_CA },
		{ "once", no_argument, NULL, O_ONCE }, { "alg", required_argument, NULL, O_ALG },
		{ "server-keygen", no_argument, NULL, O_KEYGEN }, { "device-dir", required_argument, NULL, O_DEVDIR },
		{ "force-renew", no_argument, NULL, O_FORCE }, { "retry-min", required_argument, NULL, O_RMIN },
		{ "retry-max", required_argument, NULL, O_RMAX }, { "test-crash-at", required_argument, NULL, O_CRASH },
		{ "test-stop-at", required_argument, NULL, O_STOP },
		{ "help", no_argument, NULL, O_HELP }, { NULL, 0, NULL, 0 },
	};
	struct agent_cfg cfg;
	struct agent a;
	struct sigaction sa;
	struct stat stt;
	char lock_path[4096];
	int c, lock_fd = -1, rc = 3, did = 0;
	int64_t backoff;
	time_t next_at = 0;
	sc_err r;

	memset(&cfg, 0, sizeof(cfg));
	memset(&a, 0, sizeof(a));
	cfg.retry_min_s = AGENT_RETRY_MIN_S;
	cfg.retry_max_s = AGENT_RETRY_MAX_S;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_SP: cfg.sp_path = optarg; break;
		case O_CERTS: cfg.certs_dir = optarg; break;
		case O_SERVER: cfg.server = optarg; break;
		case O_CA: cfg.ca_path = optarg; break;
		case O_ONCE: cfg.once = 1; break;
		case O_ALG:
			if (sc_alg_from_name(optarg, &cfg.alg) != SC_OK)
				die_usage("--alg '%s': rsa2048 rsa3072 rsa4096 p256 p384 ed25519", optarg);
			break;
		case O_KEYGEN: cfg.server_keygen = 1; break;
		case O_DEVDIR: cfg.device_dir = optarg; break;
		case O_FORCE: cfg.force_renew = 1; break;
		case O_RMIN:
			if (sc_parse_duration(optarg, &cfg.retry_min_s) != SC_OK || cfg.retry_min_s < 1)
				die_usage("--retry-min '%s': a duration such as 2s", optarg);
			break;
		case O_RMAX:
			if (sc_parse_duration(optarg, &cfg.retry_max_s) != SC_OK || cfg.retry_max_s < 1)
				die_usage("--retry-max '%s': a duration such as 5m", optarg);
			break;
		/* Tests only (tests/integration/test_agent.sh): crash or stop at a named step. */
		case O_CRASH: cfg.crash_at = optarg; break;
		case O_STOP: cfg.stop_at = optarg; break;
		case O_HELP: fputs(usage_text, stdout); return 0;
		default: die_usage("unknown flag or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (cfg.sp_path == NULL || cfg.certs_dir == NULL || cfg.server == NULL || cfg.ca_path == NULL)
		die_usage("--sp, --certs, --server and --ca are required (--help)");
	if (cfg.retry_max_s < cfg.retry_min_s)
		die_usage("--retry-max is shorter than --retry-min");
	if (cfg.device_dir == NULL)
		cfg.device_dir = cfg.certs_dir;
	if (access(cfg.ca_path, R_OK) != 0)
		die_usage("--ca %s: %s", cfg.ca_path, strerror(errno));
	a.cfg = &cfg;
	a.stop = &stop_requested;
	a.force = cfg.force_renew;
	if ((size_t)snprintf(a.state_path, sizeof(a.state_path), "%s/state.json", cfg.certs_dir) >= sizeof(a.state_path) ||
	    (size_t)snprintf(a.leaf_path, sizeof(a.leaf_path), "%s/leaf.pem", cfg.certs_dir) >= sizeof(a.leaf_path) ||
	    (size_t)snprintf(a.chain_path, sizeof(a.chain_path), "%s/chain.pem", cfg.certs_dir) >= sizeof(a.chain_path) ||
	    (size_t)snprintf(lock_path, sizeof(lock_path), "%s/.agent.lock", cfg.certs_dir) >= sizeof(lock_path))
		die_usage("--certs: path too long");
	if ((r = agent_http_new(cfg.server, cfg.ca_path, &stop_requested, &a.http)) != SC_OK)
		die_usage("%s", sc_err_detail());

	if (mkdir(cfg.certs_dir, 0755) != 0 && (errno != EEXIST || stat(cfg.certs_dir, &stt) != 0 || !S_ISDIR(stt.st_mode))) {
		fprintf(stderr, "selfcert-agent: io: %s: %s\n", cfg.certs_dir, strerror(errno == EEXIST ? ENOTDIR : errno));
		goto out;
	}
	/* One agent per folder: two would race on state.json and on the SP's keys. */
	if ((lock_fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "selfcert-agent: io: %s: %s\n", lock_path,
		    errno == EWOULDBLOCK ? "another selfcert-agent is running on this folder" : strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "selfcert-agent: internal: curl_global_init failed\n");
		goto out;
	}

	if (cfg.once) {
		sc_err_clear();
		r = agent_round(&a, &next_at, &did);
		if (r != SC_OK) {
			print_error(&a, r, "");
			rc = sc_err_exit_code(r);
		} else {
			report(&a, did);
			rc = 0;
		}
		goto out_curl;
	}
	backoff = cfg.retry_min_s;
	while (!stop_requested) {
		time_t now, wake;

		sc_err_clear();
		r = agent_round(&a, &next_at, &did);
		now = time(NULL);
		if (r == SC_OK) {
			if (did)
				report(&a, did);
			backoff = cfg.retry_min_s;
			wake = next_at < now + AGENT_RECHECK_S ? next_at : now + AGENT_RECHECK_S;
			/* Due already (a renewal that the server's short lifetime makes immediate): pause a second. */
			if (wake <= now)
				wake = now + 1;
		} else {
			char suffix[64];
			int64_t d = jitter(backoff);
			snprintf(suffix, sizeof(suffix), "; retrying in %llds", (long long)d);
			if (!stop_requested)
				print_error(&a, r, suffix);
			wake = now + (time_t)d;
			backoff = backoff * 2 > cfg.retry_max_s ? cfg.retry_max_s : backoff * 2;
		}
		sleep_until(wake);
	}
	fprintf(stderr, "selfcert-agent: %s: stopping\n", a.device_id[0] ? a.device_id : "?");
	rc = 0;
out_curl:
	curl_global_cleanup();
out:
	agent_http_free(a.http);
	if (lock_fd >= 0)
		close(lock_fd);
	ERR_clear_error();
	return rc;
}
