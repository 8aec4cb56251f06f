// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_demo.c — `selfcert demo`: the whole flow on this machine, in a temporary folder, run as
 * a person would run it: every step is a real `selfcert` (or stock `openssl`) process whose
 * command line is printed first, against a real selfcert-spd daemon on a Unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>
#include <openssl/bn.h>
#include <selfcert/cert.h>
#include "cli.h"
#include "pem.h"

static const char demo_usage[] =
    "usage: selfcert demo [--dir DIR] [--keep] [--backend soft|tpm]\n"
    "  Runs the whole system on this machine, end to end, in a temporary folder (or DIR, which\n"
    "  must not exist yet). Part 1, the patent on the command line: a manufacturer, a network\n"
    "  operator, a device's secure processor as its own daemon, personalization and lock, a\n"
    "  profile with a challenge, self-issuance in both embodiments, verification with stock\n"
    "  openssl and with selfcert, a signature by the new key, a replay refused. Part 2, the\n"
    "  system: the provisioning server on a loopback port, three devices each with its own SP\n"
    "  daemon and agent (one with a server-generated key), mutual TLS with a self-issued\n"
    "  certificate through the PKCS#11 module, a renewal, a revoked device refused, and a table.\n"
    "  --keep  leave the folder (and print where it is)\n"
    "  --backend tpm  every device's SP keeps its keys in a TPM 2.0: its own swtpm each, in\n"
    "               the folder (needs swtpm; docs/TPM.md). Default soft: no TPM needed.\n";

#define MAX_ARGS 32
#define CAPTURE_MAX 4096
/*
 * How long a daemon the demo starts may take to come up: 60 s in 50 ms polls. Each wait ends
 * as soon as the daemon is ready (0.1 s here); the bound is for slow runs, such as the test
 * suite's pass with every process under valgrind.
 */
#define START_POLL_US (50 * 1000)
#define START_POLLS 1200

static int step_no;

static void step(const char *title)
{
	printf("\n== %d. %s\n", ++step_no, title);
	fflush(stdout);
}

/* Print argv as a shell line, quoting words with spaces. argv[0] shown as `shown`. */
static void echo_cmd(const char *shown, char *const argv[])
{
	printf("$ %s", shown);
	for (int i = 1; argv[i] != NULL; i++)
		printf(strpbrk(argv[i], " \"'") ? " \"%s\"" : " %s", argv[i]);
	printf("\n");
	fflush(stdout);
}

/*
 * Run a program and wait. Its stdout is shown indented (and kept in `capture` if given), its
 * stderr passed through. Returns its exit status (or -1 if it could not run).
 */
static int run(const char *shown, char *const argv[], char *capture, size_t cap_len)
{
	int pfd[2], status = 0;
	char buf[CAPTURE_MAX];
	size_t got = 0;
	pid_t pid;

	if (shown != NULL) /* NULL: the caller printed a friendlier line itself */
		echo_cmd(shown, argv);
	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break; /* our own commands print far less; stop reading rather than grow */
	}
	buf[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL) {
			printf("    %s\n", line);
			break;
		}
		printf("    %.*s\n", (int)(nl - line), line);
	}
	fflush(stdout);
	if (capture != NULL && cap_len > 0) {
		/* The first line only: a challenge or a key handle. */
		size_t n = strcspn(buf, "\n");
		if (n >= cap_len)
			n = cap_len - 1;
		memcpy(capture, buf, n);
		capture[n] = '\0';
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run `selfcert ARGS…`; demand exit code `want`. */
static sc_err sc(int want, char *capture, size_t cap_len, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int n = 0, rc;

	argv[n++] = (char *)cli_self_path();
	va_start(ap, cap_len);
	while (n < MAX_ARGS - 1 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run("selfcert", argv, capture, cap_len);
	if (rc != want)
		return sc_fail(SC_ERR_INTERNAL, "demo: `selfcert %s %s` exited %d, expected %d",
		    argv[1], argv[2] ? argv[2] : "", rc, want);
	return SC_OK;
}

static sc_err openssl(const char *what, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int n = 0, rc;

	argv[n++] = "openssl";
	va_start(ap, what);
	while (n < MAX_ARGS - 1 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run("openssl", argv, NULL, 0);
	if (rc != 0)
		return sc_fail(SC_ERR_CHAIN, "demo: openssl %s failed (exit %d)", what, rc);
	return SC_OK;
}

/* A program of ours beside this one ($ENV overrides), e.g. selfcert-provd. */
static const char *sibling(const char *env, const char *name)
{
	static char paths[6][PATH_MAX];
	static int next;
	const char *e = getenv(env);
	char *p, *slash;

	if (e != NULL && *e != '\0')
		return e;
	p = paths[next++ % 6];
	snprintf(p, PATH_MAX, "%s", cli_self_path());
	slash = strrchr(p, '/');
	if (slash != NULL && (size_t)(slash - p) + 1 + strlen(name) < PATH_MAX) {
		strcpy(slash + 1, name);
		if (access(p, F_OK) == 0)
			return p;
	}
	return name;
}

/* Start argv in the background with stdout to out_path and stderr to err_path. */
static pid_t start_bg(const char *shown, char *const argv[], const char *out_path,
    const char *err_path)
{
	pid_t pid;

	echo_cmd(shown, argv);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (o >= 0)
			dup2(o, STDOUT_FILENO);
		if (e >= 0)
			dup2(e, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Read a small file's first line into out; 0 if it has one. */
static int first_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok = f != NULL && fgets(out, (int)len, f) != NULL;

	if (f != NULL)
		fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok && out[0] ? 0 : -1;
}

/* Wait (at most START_POLLS polls) until path holds a line matching prefix; copy what follows it. */
static int wait_line(const char *path, const char *prefix, char *out, size_t len, pid_t pid)
{
	for (int i = 0; i < START_POLLS; i++) {
		char line[512];
		FILE *f = fopen(path, "r");
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, prefix, strlen(prefix)) == 0) {
				const char *rest = line + strlen(prefix);
				size_t n = strcspn(rest, "\n");
				if (n >= len)
					n = len - 1;
				memcpy(out, rest, n);
				out[n] = '\0';
				fclose(f);
				return 0;
			}
		}
		if (f != NULL)
			fclose(f);
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(START_POLL_US);
	}
	return -1;
}

static void stop_pid(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

/* Print a file's lines indented (a daemon's log, after the fact). */
static void show_file(const char *path, const char *only_prefix)
{
	char line[512];
	FILE *f = fopen(path, "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (only_prefix == NULL || strncmp(line, only_prefix, strlen(only_prefix)) == 0)
			printf("    %s", line);
	if (f != NULL)
		fclose(f);
	fflush(stdout);
}

static sc_err prog(int want, const char *shown, char *capture, size_t cap_len, const char *bin,
    ...);

/* demo --backend tpm: each store folder S has its own swtpm in S.swtpm (docs/TPM.md). */
static int demo_tpm;
#define MAX_SWTPM 8
static char swtpm_dirs[MAX_SWTPM][48];
static size_t n_swtpm;

static void tcti_of(const char *store, char *out, size_t len)
{
	snprintf(out, len, "swtpm:path=%s.swtpm/sock", store);
}

/* The store's private swtpm on a unix socket in the demo folder (no abrmd, no D-Bus). */
static sc_err start_swtpm(const char *store)
{
	char dir[48], abs[PATH_MAX], state[PATH_MAX + 8], server[PATH_MAX + 24],
	    ctrl[PATH_MAX + 32], pid[PATH_MAX + 24], sock[64];
	struct stat sb;

	if (n_swtpm == MAX_SWTPM)
		return sc_fail(SC_ERR_INTERNAL, "demo: too many TPMs");
	snprintf(dir, sizeof(dir), "%s.swtpm", store);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	if (mkdir(dir, 0700) != 0 || realpath(dir, abs) == NULL)
		return sc_fail(SC_ERR_IO, "demo: %s: %s", dir, strerror(errno));
	/* Absolute: swtpm --daemon changes to / before it opens its state. */
	snprintf(state, sizeof(state), "dir=%s", abs);
	snprintf(server, sizeof(server), "type=unixio,path=%s/sock", abs);
	snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s/sock.ctrl", abs);
	snprintf(pid, sizeof(pid), "file=%s/swtpm.pid", abs);
	snprintf(swtpm_dirs[n_swtpm++], sizeof(swtpm_dirs[0]), "%s", dir);
	if (prog(0, "swtpm", NULL, 0, "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server",
	        server, "--ctrl", ctrl, "--flags", "not-need-init,startup-clear", "--pid", pid,
	        "--daemon", NULL) != SC_OK)
		return sc_fail(SC_ERR_TPM, "demo: swtpm did not start (is it installed?)");
	for (int i = 0; i < START_POLLS && stat(sock, &sb) != 0; i++)
		usleep(START_POLL_US / 5);
	return SC_OK;
}

static void stop_swtpms(void)
{
	for (size_t i = 0; i < n_swtpm; i++) {
		char path[sizeof(swtpm_dirs[0]) + 16], buf[32] = "";
		FILE *f;
		long pid;

		if (snprintf(path, sizeof(path), "%s/swtpm.pid", swtpm_dirs[i]) >=
		        (int)sizeof(path) ||
		    (f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL && (pid = strtol(buf, NULL, 10)) > 1)
			kill((pid_t)pid, SIGTERM);
		fclose(f);
	}
	n_swtpm = 0;
}

/* `selfcert sp init` for store, on the demo's backend. */
static sc_err sp_init(const char *store, const char *id)
{
	char tcti[80];
	sc_err r;

	if (!demo_tpm)
		return sc(0, NULL, 0, "sp", "init", "--store", store, "--device-id", id, NULL);
	if ((r = start_swtpm(store)) != SC_OK)
		return r;
	tcti_of(store, tcti, sizeof(tcti));
	return sc(0, NULL, 0, "sp", "init", "--store", store, "--device-id", id, "--backend", "tpm",
	    "--tcti", tcti, NULL);
}

static pid_t start_spd(const char *store, const char *sock)
{
	char tcti[80];
	char *argv[] = { (char *)cli_spd_path(), "--store", (char *)store, "--socket", (char *)sock,
		"--foreground", demo_tpm ? "--tcti" : NULL, tcti, NULL };
	pid_t pid;
	int devnull;

	tcti_of(store, tcti, sizeof(tcti));
	echo_cmd("selfcert-spd", argv);
	printf("    (started in the background: the secure processor, its own process)\n");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char log[PATH_MAX];
		snprintf(log, sizeof(log), "%s.log", store);
		devnull = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (devnull >= 0) {
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	/* Wait (at most START_POLLS polls) until the socket accepts connections. */
	for (int i = 0; pid > 0 && i < START_POLLS; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return pid;
		}
		if (fd >= 0)
			close(fd);
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(START_POLL_US);
	}
	return -1;
}

static void stop_spd(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

/* Run `bin ARGS…` shown as `shown`; demand exit code `want`. */
static sc_err prog(int want, const char *shown, char *capture, size_t cap_len, const char *bin, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int n = 0, rc;

	argv[n++] = (char *)bin;
	va_start(ap, bin);
	while (n < MAX_ARGS - 1 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = run(shown, argv, capture, cap_len);
	if (rc != want)
		return sc_fail(SC_ERR_INTERNAL, "demo: `%s` exited %d, expected %d", shown, rc,
		    want);
	return SC_OK;
}

#define N_DEVICES 3

struct demo_device {
	const char *id, *alg, *how; /* how: the agent's key flags */
	int server_keygen;
	char sock[64], store[32], certs[32], agent_dir[32];
	pid_t spd;
	char tls[48]; /* what the TLS exchange showed, for the table */
	char status[48];
};

/* The table: what each device ended with, read back from the files its agent wrote. */
static void summary(struct demo_device *d, size_t n)
{
	printf("\n%-10s %-8s %-17s %-34s %-21s %-22s %s\n", "device", "key", "key origin",
	    "certificate serial", "valid until", "TLS", "status");
	for (size_t i = 0; i < n; i++) {
		char path[96], serial[80] = "-", until[32] = "-", origin[24] = "-";
		const char *alg = "-";
		X509 *leaf = NULL;
		snprintf(path, sizeof(path), "%s/leaf.pem", d[i].agent_dir);
		if (sc_load_cert(path, &leaf) == SC_OK) {
			struct sc_issuance iss;
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;
			snprintf(serial, sizeof(serial), "%s", hex ? hex : "?");
			OPENSSL_free(hex);
			BN_free(bn);
			cli_not_after(leaf, until, sizeof(until));
			alg = sc_alg_name(sc_alg_of_key(X509_get0_pubkey(leaf)))
			    ? sc_alg_name(sc_alg_of_key(X509_get0_pubkey(leaf)))
			    : "?";
			if (sc_issuance_get(leaf, &iss) == SC_OK)
				snprintf(origin, sizeof(origin), "%s",
				    iss.origin == SC_KEY_SERVER_SUPPLIED ? "server-generated"
				                                         : "generated in SP");
			X509_free(leaf);
		}
		printf("%-10s %-8s %-17s %-34s %-21s %-22s %s\n", d[i].id, alg, origin, serial,
		    until, d[i].tls, d[i].status);
	}
	fflush(stdout);
}

/*
 * Part 2's state: the devices, our sibling programs, the server's URL and the daemons it
 * started. part_two stops every pid here, whichever phase failed.
 */
struct part2 {
	struct demo_device dev[N_DEVICES];
	const char *provd, *agent, *gateway, *module;
	char url[64];
	pid_t provd_pid, gw_pid;
};

/* One run of device d's agent against the server; its exit code (-1: did not run). */
static int run_agent(const struct part2 *p, const struct demo_device *d, const char *alg,
    const char *flag)
{
	char *argv[] = { (char *)p->agent, "--sp", (char *)d->sock, "--certs", (char *)d->agent_dir,
		"--device-dir", (char *)d->certs, "--server", (char *)p->url, "--ca",
		"net/root.pem", "--alg", (char *)alg, "--grace", "0", "--once", (char *)flag,
		NULL };

	return run("selfcert-agent", argv, NULL, 0);
}

/* The operator's provisioning server: its TLS certificate, the daemon, and a health check. */
static sc_err p2_server(struct part2 *p)
{
	char port[16] = "", health[160];
	char *argv[] = { (char *)p->provd, "--db", "registry.db", "--net-dir", "net", "--mfr-root",
		"mfr/root.pem", "--listen", "127.0.0.1:0", "--tls-cert", "net/server.pem",
		"--tls-key", "net/server.key", "--allow-server-keygen", "--port-file", "provd.port",
		NULL };
	sc_err r;

	step(
	    "The operator's provisioning server: a TLS certificate under the network root, a registry, HTTPS on loopback");
	if ((r = sc(0, NULL, 0, "net", "server-cert", "--dir", "net", "--host", "127.0.0.1",
	         "--host", "localhost", NULL)) != SC_OK)
		return r;
	p->provd_pid = start_bg("selfcert-provd", argv, "provd.out", "provd.log");
	for (int k = 0; k < START_POLLS && first_line("provd.port", port, sizeof(port)) != 0; k++) {
		if (waitpid(p->provd_pid, NULL, WNOHANG) == p->provd_pid)
			break;
		usleep(START_POLL_US);
	}
	if (port[0] == '\0')
		return sc_fail(SC_ERR_IO, "demo: selfcert-provd did not start (see provd.log)");
	snprintf(p->url, sizeof(p->url), "https://127.0.0.1:%s", port);
	printf("    (serving %s)\n", p->url);
	snprintf(health, sizeof(health), "%s/healthz", p->url);
	return prog(0, "curl", NULL, 0, "curl", "-sS", "--cacert", "net/root.pem", "-w", "\n",
	    "--retry", "5", "--retry-connrefused", "--retry-delay", "0", health, NULL);
}

/* Each device's SP made, started, personalized and locked; then the activation feed. */
static sc_err p2_factory(struct part2 *p)
{
	struct demo_device *dev = p->dev;
	FILE *f;
	sc_err r;

	step(
	    "Three devices leave the factory: each secure processor made, started, personalized and locked");
	for (size_t i = 0; i < N_DEVICES; i++) {
		if ((r = sp_init(dev[i].store, dev[i].id)) != SC_OK)
			return r;
		if ((dev[i].spd = start_spd(dev[i].store, dev[i].sock)) < 0)
			return sc_fail(SC_ERR_IO, "demo: selfcert-spd for %s did not start",
			    dev[i].id);
		if ((r = sc(0, NULL, 0, "mfr", "personalize", "--dir", "mfr", "--sp", dev[i].sock,
		         "--out", dev[i].certs, "--net-root", "net/root.pem", "--network-id",
		         "example-net", NULL)) != SC_OK)
			return r;
	}

	step("The operator activates them: the activation feed goes into the registry");
	if ((f = fopen("activation.csv", "w")) == NULL)
		return sc_fail(SC_ERR_IO, "demo: activation.csv: %s", strerror(errno));
	fprintf(f, "device_id,note\n");
	for (size_t i = 0; i < N_DEVICES; i++)
		fprintf(f, "%s,demo batch 7\n", dev[i].id);
	fclose(f);
	return sc(0, NULL, 0, "net", "device", "import", "--db", "registry.db", "--csv",
	    "activation.csv", NULL);
}

static sc_err p2_enroll(struct part2 *p)
{
	struct demo_device *dev = p->dev;

	step(
	    "Each device's agent enrolls: SP challenge -> signed profile from the server -> issuance inside the SP -> certificate registered");
	for (size_t i = 0; i < N_DEVICES; i++) {
		if (run_agent(p, &dev[i], dev[i].alg,
		        dev[i].server_keygen ? "--server-keygen" : NULL) != 0)
			return sc_fail(SC_ERR_INTERNAL, "demo: the agent of %s did not enroll",
			    dev[i].id);
		snprintf(dev[i].status, sizeof(dev[i].status), "enrolled");
	}
	return sc(0, NULL, 0, "net", "device", "list", "--db", "registry.db", NULL);
}

/*
 * gnutls-cli, with the key reached through our PKCS#11 module, says REGISTER to the gateway
 * on gw_port. The line shown leaves out the plumbing (the chain file, timeout, stderr, grep)
 * and how long its stdin stays open: until the echo is back (at most 15 s), not a fixed second,
 * which was all the handshake had (the SP's signature under valgrind, a loaded CI machine).
 */
static sc_err p2_tls_client(struct part2 *p, const char *gw_port, const char *handle)
{
	const struct demo_device *d = &p->dev[0];
	char chain[96], script[2048], shown[1024], line[160];
	char *argv[] = { "sh", "-c", script, NULL };
	int n;

	snprintf(chain, sizeof(chain), "%s/leaf-chain.pem", d->agent_dir);
	n = snprintf(script, sizeof(script),
	    "cat %s/leaf.pem %s/chain.pem > %s && : > tls.out && "
	    "(echo 'REGISTER sip:example.net, from ACME-0101'; i=0; "
	    "while [ $i -lt 300 ] && ! grep -q REGISTER tls.out; do sleep 0.05; i=$((i + 1)); done) | "
	    "SELFCERT_SP=%s SELFCERT_CERTS=%s timeout 20 gnutls-cli --logfile=/dev/null --provider %s "
	    "-p %s 127.0.0.1 --x509cafile net/root.pem --x509certfile %s "
	    "--x509keyfile 'pkcs11:token=%s;object=%s;type=private' >tls.out 2>gnutls.err; "
	    "grep -a REGISTER tls.out",
	    d->agent_dir, d->agent_dir, chain, d->sock, d->agent_dir, p->module, gw_port, chain,
	    d->id, handle);
	if (n < 0 || (size_t)n >= sizeof(script)) {
		stop_pid(p->gw_pid);
		p->gw_pid = -1;
		return sc_fail(SC_ERR_INTERNAL, "demo: the TLS client's command is too long");
	}
	snprintf(shown, sizeof(shown),
	    "(echo 'REGISTER sip:example.net, from ACME-0101'; sleep 1) | SELFCERT_SP=%s SELFCERT_CERTS=%s gnutls-cli "
	    "--provider libselfcert-pkcs11.so -p %s 127.0.0.1 --x509cafile net/root.pem --x509certfile %s "
	    "--x509keyfile 'pkcs11:token=%s;object=%s;type=private'",
	    d->sock, d->agent_dir, gw_port, chain, d->id, handle);
	printf("$ %s\n", shown);
	fflush(stdout);
	if (run(NULL, argv, line, sizeof(line)) != 0 && line[0] == '\0') {
		stop_pid(p->gw_pid);
		p->gw_pid = -1;
		show_file("gateway.log", NULL);
		return sc_fail(SC_ERR_INTERNAL,
		    "demo: the TLS exchange failed (see gnutls.err, gateway.log)");
	}
	return SC_OK;
}

/* The relying party (selfcert-gateway) admits ACME-0101 over mutual TLS. */
static sc_err p2_tls(struct part2 *p)
{
	struct demo_device *d = &p->dev[0];
	char gw_port[16] = "", handle[32] = "";
	char *argv[] = { (char *)p->gateway, "--cert", "net/server.pem", "--key", "net/server.key",
		"--mfr-root", "mfr/root.pem", "--network-id", "example-net", "--port", "0",
		"--max-connections", "1", NULL };
	sc_err r;

	step(
	    "Using the new certificate in data transfers: GnuTLS reaches the key in the SP through the PKCS#11 module, for mutual TLS with a relying party");
	if ((r = sc(0, handle, sizeof(handle), "device", "keys", "--sp", d->sock, NULL)) != SC_OK)
		return r;
	handle[strcspn(handle, " ")] = '\0';
	p->gw_pid = start_bg("selfcert-gateway", argv, "gateway.out", "gateway.log");
	printf(
	    "    (the relying party: admits a client only if sc_verify_chain accepts its chain to the\n"
	    "     manufacturer root and its issuance extension names network example-net)\n");
	if (wait_line("gateway.out", "selfcert-gateway: listening on 127.0.0.1:", gw_port,
	        sizeof(gw_port), p->gw_pid) != 0)
		return sc_fail(SC_ERR_IO, "demo: the gateway did not start (see gateway.log)");
	if ((r = p2_tls_client(p, gw_port, handle)) != SC_OK)
		return r;
	stop_pid(p->gw_pid);
	p->gw_pid = -1;
	printf("  the gateway's log:\n");
	show_file("gateway.log", "selfcert-gateway: admitted");
	snprintf(d->tls, sizeof(d->tls), "admitted (mutual TLS)");
	return SC_OK;
}

static sc_err p2_renew(struct part2 *p)
{
	struct demo_device *d = &p->dev[0];
	sc_err r;

	step(
	    "Renewal: ACME-0101's agent renews (forced now; by itself at two thirds of the lifetime); the old key is deleted once the new certificate is registered (--grace 0 here; by default it stays 10 minutes, for a service still signing with it to reload)");
	if (run_agent(p, d, "p256", "--force-renew") != 0)
		return sc_fail(SC_ERR_INTERNAL, "demo: the renewal failed");
	if ((r = sc(0, NULL, 0, "device", "keys", "--sp", d->sock, NULL)) != SC_OK)
		return r;
	snprintf(d->status, sizeof(d->status), "renewed");
	return SC_OK;
}

static sc_err p2_revoke(struct part2 *p)
{
	struct demo_device *d = &p->dev[2];
	int rc;
	sc_err r;

	step(
	    "Revocation: ACME-0103 is reported stolen; the operator revokes it and its next request is refused");
	if ((r = sc(0, NULL, 0, "net", "device", "revoke", "--db", "registry.db", "--device-id",
	         d->id, "--reason", "reported stolen", NULL)) != SC_OK)
		return r;
	if ((rc = run_agent(p, d, demo_tpm ? "p384" : "ed25519", "--force-renew")) != 1)
		return sc_fail(SC_ERR_INTERNAL,
		    "demo: the revoked device's agent exited %d, expected 1 (refused)", rc);
	snprintf(d->status, sizeof(d->status), "revoked: refused");
	return SC_OK;
}

/*
 * Part 2: the system. The operator's provisioning server, three devices each with its own SP
 * daemon and agent, mutual TLS through the PKCS#11 module, a renewal and a revocation.
 */
static sc_err part_two(void)
{
	struct part2 p = {
		.dev = {
			{ .id = "ACME-0101", .alg = "p256" },
			{ .id = "ACME-0102", .alg = "rsa2048", .server_keygen = 1 },
			/* A TPM holds no Ed25519 key (docs/TPM.md). */
			{ .id = "ACME-0103", .alg = demo_tpm ? "p384" : "ed25519" },
		},
		.provd_pid = -1,
		.gw_pid = -1,
	};
	sc_err r = SC_ERR_INTERNAL;

	p.provd = sibling("SELFCERT_PROVD", "selfcert-provd");
	p.agent = sibling("SELFCERT_AGENT", "selfcert-agent");
	p.gateway = sibling("SELFCERT_GATEWAY", "selfcert-gateway");
	p.module = sibling("SELFCERT_PKCS11_MODULE", "libselfcert-pkcs11.so");
#ifdef SC_PKCS11_MODULE_INSTALLED
	/* Installed (cmake --install, the Debian package): the module is in <libdir>/pkcs11. */
	if (strcmp(p.module, "libselfcert-pkcs11.so") == 0 &&
	    access(SC_PKCS11_MODULE_INSTALLED, F_OK) == 0)
		p.module = SC_PKCS11_MODULE_INSTALLED;
#endif
	for (size_t i = 0; i < N_DEVICES; i++) {
		struct demo_device *d = &p.dev[i];
		snprintf(d->store, sizeof(d->store), "sp-%zu", i + 1);
		snprintf(d->sock, sizeof(d->sock), "sp-%zu.sock", i + 1);
		snprintf(d->certs, sizeof(d->certs), "device-%zu", i + 1);
		snprintf(d->agent_dir, sizeof(d->agent_dir), "agent-%zu", i + 1);
		snprintf(d->tls, sizeof(d->tls), "-");
		snprintf(d->status, sizeof(d->status), "-");
		d->spd = -1;
	}
	printf(
	    "\n######## Part 2: the system — a provisioning server, three devices and their agents\n");
	if ((r = p2_server(&p)) != SC_OK || (r = p2_factory(&p)) != SC_OK ||
	    (r = p2_enroll(&p)) != SC_OK || (r = p2_tls(&p)) != SC_OK ||
	    (r = p2_renew(&p)) != SC_OK || (r = p2_revoke(&p)) != SC_OK)
		goto out;
	summary(p.dev, N_DEVICES);
	r = SC_OK;
out:
	stop_pid(p.gw_pid);
	for (size_t i = 0; i < N_DEVICES; i++)
		stop_spd(p.dev[i].spd);
	stop_pid(p.provd_pid);
	return r;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* `selfcert device sign` with key, then stock openssl checks the signature with cert's key. */
static sc_err sign_and_check(const char *key, const char *cert, const char *pub, const char *sig)
{
	sc_err r;

	if ((r = sc(0, NULL, 0, "device", "sign", "--sp", "sp.sock", "--key", key, "--in",
	         "message.txt", "--out", sig, NULL)) != SC_OK ||
	    (r = openssl("x509 -pubkey", "x509", "-in", cert, "-noout", "-pubkey", "-out", pub,
	         NULL)) != SC_OK)
		return r;
	return openssl("dgst -verify", "dgst", "-sha256", "-verify", pub, "-signature", sig,
	    "message.txt", NULL);
}

/* The manufacturer, the operator, and one device's SP made, started and personalized. */
static sc_err p1_factory(pid_t *spd, const char *dir)
{
	sc_err r;

	step("The manufacturer makes its root and device issuing CA");
	if ((r = sc(0, NULL, 0, "mfr", "init", "--dir", "mfr", "--name", "Acme Devices", NULL)) !=
	    SC_OK)
		return r;
	step("The network operator makes its root and profile signer");
	if ((r = sc(0, NULL, 0, "net", "init", "--dir", "net", "--network-id", "example-net",
	         NULL)) != SC_OK)
		return r;
	step(
	    "A device's secure processor is made (its hardware-unique key, counter and sealed store)");
	if ((r = sp_init("sp", "ACME-0001")) != SC_OK)
		return r;
	if ((*spd = start_spd("sp", "sp.sock")) < 0)
		return sc_fail(SC_ERR_IO, "demo: selfcert-spd did not start (see %s/spd.log)", dir);
	step(
	    "At the factory: the SP generates its CSK and KEK inside; the manufacturer certifies them, installs the network's anchor, and locks the SP");
	if ((r = sc(0, NULL, 0, "mfr", "personalize", "--dir", "mfr", "--sp", "sp.sock", "--out",
	         "device", "--net-root", "net/root.pem", "--network-id", "example-net", NULL)) !=
	    SC_OK)
		return r;
	return sc(0, NULL, 0, "device", "info", "--sp", "sp.sock", "--store", "sp", NULL);
}

/* Embodiment 1: challenge, profile, issuance in the SP, verification, a signature, a replay. */
static sc_err p1_generate(void)
{
	char challenge[200] = "", h1[32] = "";
	FILE *f;
	sc_err r;

	step("Embodiment 1: the device asks its SP for a single-use challenge");
	if ((r = sc(0, challenge, sizeof(challenge), "device", "challenge", "--sp", "sp.sock",
	         NULL)) != SC_OK)
		return r;
	step(
	    "The operator signs a profile for this device: 30 days, user alice, TLS client, with the challenge");
	if ((r = sc(0, NULL, 0, "net", "profile", "--dir", "net", "--device-ca",
	         "device/device-ca.pem", "--challenge", challenge, "--validity", "30d", "--user-id",
	         "alice", "--eku", "clientAuth", "--san", "email:alice@example.net", "--alg",
	         "p256", "--out", "alice.der", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "inspect", "alice.der", NULL)) != SC_OK)
		return r;
	step(
	    "Inside the SP, as one operation: verify the profile, generate a key pair, issue the certificate");
	if ((r = sc(0, h1, sizeof(h1), "device", "issue", "--sp", "sp.sock", "--profile",
	         "alice.der", "--out", "alice.pem", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "inspect", "alice.pem", NULL)) != SC_OK)
		return r;
	step(
	    "Anyone verifies it with stock OpenSSL: leaf -> device CA -> manufacturer CA -> manufacturer root");
	if ((r = openssl("verify", "verify", "-CAfile", "mfr/root.pem", "-untrusted",
	         "device/chain.pem", "alice.pem", NULL)) != SC_OK)
		return r;
	step(
	    "...and with selfcert, which also checks the issuance extension against the signed profile");
	if ((r = sc(0, NULL, 0, "verify", "--mfr-root", "mfr/root.pem", "--chain",
	         "device/chain.pem", "--net-root", "net/root.pem", "--profile", "alice.der",
	         "alice.pem", NULL)) != SC_OK)
		return r;
	step(
	    "The new key signs data inside the SP; stock OpenSSL checks the signature with the certificate's key");
	f = fopen("message.txt", "w");
	if (f == NULL || fputs("INVITE sip:bob@example.net SIP/2.0\n", f) < 0 || fclose(f) != 0)
		return sc_fail(SC_ERR_IO, "demo: message.txt: %s", strerror(errno));
	if ((r = sign_and_check(h1, "alice.pem", "alice.pub", "message.sig")) != SC_OK)
		return r;
	step("A replayed profile is refused, and nothing changes");
	return sc(1, NULL, 0, "device", "issue", "--sp", "sp.sock", "--profile", "alice.der",
	    "--out", "again.pem", NULL);
}

/* Embodiment 2: a server-generated key, then the SP restarts and the key still signs. */
static sc_err p1_supplied(pid_t *spd, const char *dir)
{
	char h2[32] = "";
	sc_err r;

	step(
	    "Embodiment 2: the server generates an RSA-2048 key and encrypts it to the device's KEK certificate");
	if ((r = sc(0, NULL, 0, "net", "profile", "--dir", "net", "--device-ca",
	         "device/device-ca.pem", "--server-keygen", "rsa2048", "--kex", "device/kex.pem",
	         "--validity", "7d", "--key-usage", "digitalSignature,keyEncipherment", "--eku",
	         "serverAuth", "--san", "dns:www.acme-0001.selfcert.invalid", "--out", "server.der",
	         NULL)) != SC_OK)
		return r;
	step(
	    "Inside the SP: verify, decrypt the key with the KEK, check it matches, issue the certificate");
	if ((r = sc(0, h2, sizeof(h2), "device", "issue", "--sp", "sp.sock", "--profile",
	         "server.der", "--out", "server.pem", NULL)) != SC_OK ||
	    (r = openssl("verify", "verify", "-CAfile", "mfr/root.pem", "-untrusted",
	         "device/chain.pem", "server.pem", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "verify", "--mfr-root", "mfr/root.pem", "--chain",
	         "device/chain.pem", "--net-root", "net/root.pem", "--profile", "server.der",
	         "server.pem", NULL)) != SC_OK)
		return r;
	step("The keys the SP holds (the host has certificates only)");
	if ((r = sc(0, NULL, 0, "device", "keys", "--sp", "sp.sock", NULL)) != SC_OK)
		return r;
	step("The SP restarts from its sealed store and the key still signs");
	stop_spd(*spd);
	if ((*spd = start_spd("sp", "sp.sock")) < 0)
		return sc_fail(SC_ERR_IO, "demo: selfcert-spd did not restart (see %s/spd.log)",
		    dir);
	return sign_and_check(h2, "server.pem", "server.pub", "server.sig");
}

/* Part 1: the patent on the command line, against one SP daemon, stopped before part 2. */
static sc_err part_one(const char *dir)
{
	pid_t spd = -1;
	sc_err r = SC_ERR_INTERNAL;

	printf("\n######## Part 1: the patent on the command line\n");
	if ((r = p1_factory(&spd, dir)) != SC_OK || (r = p1_generate()) != SC_OK ||
	    (r = p1_supplied(&spd, dir)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	stop_spd(spd);
	return r;
}

/* The demo's folder: DIR (which must not exist yet) or a fresh one under $TMPDIR. */
static sc_err make_dir(const struct cli_args *a, char *dir, size_t len)
{
	const char *tmp;

	if (cli_has(a, "dir")) {
		if (snprintf(dir, len, "%s", cli_get(a, "dir")) >= (int)len)
			return sc_fail(SC_ERR_USAGE, "demo: --dir: path too long");
		if (mkdir(dir, 0700) != 0)
			return sc_fail(errno == EEXIST ? SC_ERR_EXISTS : SC_ERR_IO,
			    "demo: --dir %s: %s", dir, strerror(errno));
		return SC_OK;
	}
	tmp = getenv("TMPDIR");
	snprintf(dir, len, "%s/selfcert-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		return sc_fail(SC_ERR_IO, "demo: mkdtemp: %s", strerror(errno));
	return SC_OK;
}

sc_err cmd_demo(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "dir", 1, 0 }, { "keep", 0, 0 },
		{ "backend", 1, 0 } };
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	char dir[PATH_MAX], cwd[PATH_MAX];
	int have_cwd;

	if ((r = cli_parse(&a, "demo", spec, 3, argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(demo_usage, stdout);
		return SC_OK;
	}
	if (cli_has(&a, "backend") && strcmp(cli_get(&a, "backend"), "soft") != 0 &&
	    strcmp(cli_get(&a, "backend"), "tpm") != 0)
		return sc_fail(SC_ERR_USAGE, "demo: --backend %s: soft or tpm",
		    cli_get(&a, "backend"));
	demo_tpm = cli_has(&a, "backend") && strcmp(cli_get(&a, "backend"), "tpm") == 0;
	if ((r = make_dir(&a, dir, sizeof(dir))) != SC_OK)
		return r;
	/* From here the folder exists: every path ends at out, which removes or reports it. */
	have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	if (chdir(dir) != 0) {
		r = sc_fail(SC_ERR_IO, "demo: %s: %s", dir, strerror(errno));
		goto out;
	}
	printf("selfcert demo: a device issues itself certificates inside its secure processor,\n"
	       "under the control of an operator's signed profile. Working in %s\n",
	    dir);
	if ((r = part_one(dir)) != SC_OK || (r = part_two()) != SC_OK)
		goto out;
	printf(
	    "\nDone: one trust hierarchy (the manufacturer's) vouches for every self-issued certificate;\n"
	    "the operator controlled what each device could issue; no private key left an SP.\n");
	r = SC_OK;
out:
	stop_swtpms();
	if (have_cwd && chdir(cwd) != 0)
		(void)!chdir("/");
	if (cli_has(&a, "keep") || r != SC_OK)
		printf("%s kept in %s\n", r == SC_OK ? "everything" : "the demo's files are", dir);
	else
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
