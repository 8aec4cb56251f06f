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
#include "cli.h"

static const char demo_usage[] =
"usage: selfcert demo [--dir DIR] [--keep]\n"
"  Runs the whole system on this machine, end to end, in a temporary folder (or DIR, which\n"
"  must not exist yet): a manufacturer, a network operator, a device's secure processor as\n"
"  its own daemon, personalization and lock, a profile with a challenge, self-issuance in\n"
"  both embodiments (device-generated and server-generated key), verification with stock\n"
"  openssl and with selfcert, a signature by the new key, and a replay refused.\n"
"  --keep  leave the folder (and print where it is)\n";

#define MAX_ARGS 32
#define CAPTURE_MAX 4096

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
		return sc_fail(SC_ERR_INTERNAL, "demo: `selfcert %s %s` exited %d, expected %d", argv[1], argv[2] ? argv[2] : "",
		    rc, want);
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

static pid_t start_spd(const char *store, const char *sock)
{
	char *argv[] = { (char *)cli_spd_path(), "--store", (char *)store, "--socket", (char *)sock, "--foreground", NULL };
	pid_t pid;
	int devnull;

	echo_cmd("selfcert-spd", argv);
	printf("    (started in the background: the secure processor, its own process)\n");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		devnull = open("spd.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (devnull >= 0) {
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	/* Wait (at most 10 s) until the socket accepts connections. */
	for (int i = 0; pid > 0 && i < 200; i++) {
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
		usleep(50 * 1000);
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

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

sc_err cmd_demo(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "dir", 1, 0 }, { "keep", 0, 0 } };
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	char dir[PATH_MAX], cwd[PATH_MAX], challenge[200] = "", h1[32] = "", h2[32] = "";
	pid_t spd = -1;
	int keep, made_dir = 0, have_cwd;

	if ((r = cli_parse(&a, "demo", spec, 2, argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(demo_usage, stdout);
		return SC_OK;
	}
	keep = cli_has(&a, "keep");
	if (cli_has(&a, "dir")) {
		if (snprintf(dir, sizeof(dir), "%s", cli_get(&a, "dir")) >= (int)sizeof(dir))
			return sc_fail(SC_ERR_USAGE, "demo: --dir: path too long");
		if (mkdir(dir, 0700) != 0)
			return sc_fail(errno == EEXIST ? SC_ERR_EXISTS : SC_ERR_IO, "demo: --dir %s: %s", dir, strerror(errno));
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/selfcert-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(dir) == NULL)
			return sc_fail(SC_ERR_IO, "demo: mkdtemp: %s", strerror(errno));
	}
	made_dir = 1;
	have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	if (chdir(dir) != 0) {
		r = sc_fail(SC_ERR_IO, "demo: %s: %s", dir, strerror(errno));
		goto out;
	}
	printf("selfcert demo: a device issues itself certificates inside its secure processor,\n"
	       "under the control of an operator's signed profile. Working in %s\n", dir);

	step("The manufacturer makes its root and device issuing CA");
	if ((r = sc(0, NULL, 0, "mfr", "init", "--dir", "mfr", "--name", "Acme Devices", NULL)) != SC_OK)
		goto out;
	step("The network operator makes its root and profile signer");
	if ((r = sc(0, NULL, 0, "net", "init", "--dir", "net", "--network-id", "example-net", NULL)) != SC_OK)
		goto out;
	step("A device's secure processor is made (its hardware-unique key, counter and sealed store)");
	if ((r = sc(0, NULL, 0, "sp", "init", "--store", "sp", "--device-id", "ACME-0001", NULL)) != SC_OK)
		goto out;
	spd = start_spd("sp", "sp.sock");
	if (spd < 0) {
		r = sc_fail(SC_ERR_IO, "demo: selfcert-spd did not start (see %s/spd.log)", dir);
		goto out;
	}
	step("At the factory: the SP generates its CSK and KEK inside; the manufacturer certifies them, installs the network's anchor, and locks the SP");
	if ((r = sc(0, NULL, 0, "mfr", "personalize", "--dir", "mfr", "--sp", "sp.sock", "--out", "device",
	         "--net-root", "net/root.pem", "--network-id", "example-net", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "device", "info", "--sp", "sp.sock", NULL)) != SC_OK)
		goto out;

	step("Embodiment 1: the device asks its SP for a single-use challenge");
	if ((r = sc(0, challenge, sizeof(challenge), "device", "challenge", "--sp", "sp.sock", NULL)) != SC_OK)
		goto out;
	step("The operator signs a profile for this device: 30 days, user alice, TLS client, with the challenge");
	if ((r = sc(0, NULL, 0, "net", "profile", "--dir", "net", "--device-ca", "device/device-ca.pem",
	         "--challenge", challenge, "--validity", "30d", "--user-id", "alice", "--eku", "clientAuth",
	         "--san", "email:alice@example.net", "--alg", "p256", "--out", "alice.der", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "inspect", "alice.der", NULL)) != SC_OK)
		goto out;
	step("Inside the SP, as one operation: verify the profile, generate a key pair, issue the certificate");
	if ((r = sc(0, h1, sizeof(h1), "device", "issue", "--sp", "sp.sock", "--profile", "alice.der", "--out",
	         "alice.pem", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "inspect", "alice.pem", NULL)) != SC_OK)
		goto out;
	step("Anyone verifies it with stock OpenSSL: leaf -> device CA -> manufacturer CA -> manufacturer root");
	if ((r = openssl("verify", "verify", "-CAfile", "mfr/root.pem", "-untrusted", "device/chain.pem",
	         "alice.pem", NULL)) != SC_OK)
		goto out;
	step("...and with selfcert, which also checks the issuance extension against the signed profile");
	if ((r = sc(0, NULL, 0, "verify", "--mfr-root", "mfr/root.pem", "--chain", "device/chain.pem", "--net-root",
	         "net/root.pem", "--profile", "alice.der", "alice.pem", NULL)) != SC_OK)
		goto out;
	step("The new key signs data inside the SP; stock OpenSSL checks the signature with the certificate's key");
	{
		FILE *f = fopen("message.txt", "w");
		if (f == NULL || fputs("INVITE sip:bob@example.net SIP/2.0\n", f) < 0 || fclose(f) != 0) {
			r = sc_fail(SC_ERR_IO, "demo: message.txt: %s", strerror(errno));
			goto out;
		}
	}
	if ((r = sc(0, NULL, 0, "device", "sign", "--sp", "sp.sock", "--key", h1, "--in", "message.txt", "--out",
	         "message.sig", NULL)) != SC_OK ||
	    (r = openssl("x509 -pubkey", "x509", "-in", "alice.pem", "-noout", "-pubkey", "-out", "alice.pub", NULL)) != SC_OK ||
	    (r = openssl("dgst -verify", "dgst", "-sha256", "-verify", "alice.pub", "-signature", "message.sig",
	         "message.txt", NULL)) != SC_OK)
		goto out;
	step("A replayed profile is refused, and nothing changes");
	if ((r = sc(1, NULL, 0, "device", "issue", "--sp", "sp.sock", "--profile", "alice.der", "--out", "again.pem",
	         NULL)) != SC_OK)
		goto out;

	step("Embodiment 2: the server generates an RSA-2048 key and encrypts it to the device's KEK certificate");
	if ((r = sc(0, NULL, 0, "net", "profile", "--dir", "net", "--device-ca", "device/device-ca.pem",
	         "--server-keygen", "rsa2048", "--kex", "device/kex.pem", "--validity", "7d", "--key-usage",
	         "digitalSignature,keyEncipherment", "--eku", "serverAuth", "--san", "dns:acme-0001.example.net",
	         "--out", "server.der", NULL)) != SC_OK)
		goto out;
	step("Inside the SP: verify, decrypt the key with the KEK, check it matches, issue the certificate");
	if ((r = sc(0, h2, sizeof(h2), "device", "issue", "--sp", "sp.sock", "--profile", "server.der", "--out",
	         "server.pem", NULL)) != SC_OK ||
	    (r = openssl("verify", "verify", "-CAfile", "mfr/root.pem", "-untrusted", "device/chain.pem",
	         "server.pem", NULL)) != SC_OK ||
	    (r = sc(0, NULL, 0, "verify", "--mfr-root", "mfr/root.pem", "--chain", "device/chain.pem", "--net-root",
	         "net/root.pem", "--profile", "server.der", "server.pem", NULL)) != SC_OK)
		goto out;
	step("The keys the SP holds (the host has certificates only)");
	if ((r = sc(0, NULL, 0, "device", "keys", "--sp", "sp.sock", NULL)) != SC_OK)
		goto out;
	step("The SP restarts from its sealed store and the key still signs");
	stop_spd(spd);
	spd = start_spd("sp", "sp.sock");
	if (spd < 0) {
		r = sc_fail(SC_ERR_IO, "demo: selfcert-spd did not restart (see %s/spd.log)", dir);
		goto out;
	}
	if ((r = sc(0, NULL, 0, "device", "sign", "--sp", "sp.sock", "--key", h2, "--in", "message.txt", "--out",
	         "server.sig", NULL)) != SC_OK ||
	    (r = openssl("x509 -pubkey", "x509", "-in", "server.pem", "-noout", "-pubkey", "-out", "server.pub", NULL)) != SC_OK ||
	    (r = openssl("dgst -verify", "dgst", "-sha256", "-verify", "server.pub", "-signature", "server.sig",
	         "message.txt", NULL)) != SC_OK)
		goto out;
	printf("\nDone: one trust hierarchy (the manufacturer's) vouches for both self-issued certificates;\n"
	       "the operator controlled what the device could issue; no private key left the SP.\n");
	r = SC_OK;
out:
	stop_spd(spd);
	if (have_cwd && chdir(cwd) != 0)
		(void)!chdir("/");
	if (made_dir && (keep || r != SC_OK))
		printf("%s kept in %s\n", r == SC_OK ? "everything" : "the demo's files are", dir);
	else if (made_dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
