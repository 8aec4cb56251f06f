// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — selfcert-spd: harden the process, open the sealed store, bind the socket, drop to
 * the configured user, enter the seccomp sandbox (sandbox.h), and serve the SP protocol
 * (server.h). `--init` creates a store for `selfcert sp init`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "log.h"
#include <selfcert/version.h>
#include "daemon.h"
#include "file.h"
#include "sandbox.h"
#include "server.h"
#include "spd.h"
#include "sp_wire.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: selfcert-spd --store DIR --socket PATH [--foreground] [--allow-uid UID ...]\n"
	    "                    [--user NAME] [--insecure-no-sandbox] [--revision 1.N]\n"
	    "                    [--tcti TCTI]\n"
	    "       selfcert-spd --init --store DIR --device-id ID [--backend soft|tpm] [--tcti TCTI]\n"
	    "                    [--gate-key PEM]\n"
	    "       selfcert-spd --list-requests\n"
	    "       selfcert-spd --store DIR --tpm-export OUTDIR [--tcti TCTI]\n"
	    "Serves the secure-processor protocol on PATH (0660) until SIGTERM or SIGINT.\n"
	    "Always runs in the foreground (--foreground is accepted for scripts); logs one line\n"
	    "per request to stderr. Peers must run as one of the --allow-uid users (default: the\n"
	    "serving uid and root).\n"
	    "  --user NAME            started as root: bind the socket and open the store, then run\n"
	    "                         as NAME (its uid, gid, no other groups). DIR must be writable\n"
	    "                         by NAME (chown -R NAME DIR); PATH is given to NAME.\n"
	    "  --insecure-no-sandbox  serve without seccomp and Landlock (for valgrind and debugging\n"
	    "                         only; builds with AddressSanitizer never sandbox)\n"
	    "  --list-requests        print every request type this SP answers, one per line\n"
	    "  --backend soft|tpm     (--init) where the keys live: soft (default) or a TPM 2.0;\n"
	    "                         the store records it, the daemon reads it from there\n"
	    "  --tpm-export OUTDIR    write each key's TPM blobs (csk, kek, leaf-N .pub/.priv, as\n"
	    "                         tpm2_load takes them) and exit; the daemon must be stopped\n"
	    "  --tcti TCTI            the TPM: device[:PATH] or swtpm:path=SOCKET (default:\n"
	    "                         $TPM2TOOLS_TCTI, $TSS2_TCTI, device:/dev/tpmrm0); opened\n"
	    "                         before the sandbox, one connection for the daemon's life\n"
	    "  --revision 1.N         answer as an SP of the older protocol revision 1.N (0..5;\n"
	    "                         1.0: no PROOF on; 1.1: no BACKEND on; 1.2: no CRL on;\n"
	    "                         1.3: no GATE_* on; 1.4: no RENEW, BATCH_ISSUE): what a\n"
	    "                         host meets on an older chip, for compatibility tests\n"
	    "  --version              print the version and exit\n"
	    "SIGHUP is ignored (nothing to re-read).\n");
}

static int fail(sc_err r)
{
	sc_log_failure(r);
	return 1;
}

/*
 * --list-requests: every message type the dispatch table answers, found by asking it. An
 * empty-bodied request to a scratch SP (empty state, no store, no log) is refused with
 * unknown-request exactly when its type is not in the table; no handler can act, because
 * none has a body to act on and there is no store to commit to.
 */
static int list_requests(void)
{
	struct spd *spd;
	unsigned t;

	if ((spd = calloc(1, sizeof(*spd))) == NULL) {
		sc_log_err(SC_ERR_NOMEM, "state");
		return 1;
	}
	spd_state_init(&spd->st, NULL);
	for (t = 0; t <= 0xff; t++) {
		uint8_t msg[SC_WIRE_MIN_MSG] = { SC_SP_PROTO_VERSION, (uint8_t)t };
		struct sc_buf ans;

		if (spd_dispatch(spd, msg, sizeof(msg), &ans) != SC_ERR_UNKNOWN_REQUEST)
			printf("0x%02x %s\n", t, sc_wire_msg_name((int)t));
		sc_buf_free(&ans);
	}
	spd_state_clear(&spd->st);
	OPENSSL_cleanse(spd, sizeof(*spd));
	free(spd);
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * BACKEND's TPM fields from DIR/tpm.info, which `sp init` wrote: one line "tpm: manufacturer M,
 * vendor V, firmware F". Read now, before the sandbox shuts the folder's other files. Best
 * effort, like the file itself: a missing or odd line leaves the fields empty ("not recorded").
 */
static void read_tpm_info(const char *dir, struct sc_sp_backend *d)
{
	static const char head[] = "tpm: manufacturer ", vend[] = ", vendor ",
	                  firm[] = ", firmware ";
	char path[PATH_MAX], line[257];
	uint8_t *data = NULL;
	size_t len = 0, i;
	char *m, *v, *f;

	memset(d, 0, sizeof(*d));
	if (sc_file_join(path, sizeof(path), dir, "tpm.info") != SC_OK ||
	    sc_file_read_ex(path, 256, SC_FILE_NOFOLLOW | SC_FILE_MISSING, &data, &len) != SC_OK) {
		sc_err_clear();
		return;
	}
	memcpy(line, data, len);
	line[len] = '\0';
	OPENSSL_free(data);
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			break;
	/* Exactly one printable line, ending in its newline. */
	if (len == 0 || i != len - 1 || line[i] != '\n' ||
	    strncmp(line, head, sizeof(head) - 1) != 0 || (v = strstr(line, vend)) == NULL ||
	    (f = strstr(v, firm)) == NULL) {
		sc_log("%s: not one line \"tpm: manufacturer …\": BACKEND says not recorded", path);
		return;
	}
	line[i] = '\0';
	*v = '\0';
	*f = '\0';
	m = line + sizeof(head) - 1;
	v += sizeof(vend) - 1;
	f += sizeof(firm) - 1;
	if (strlen(m) > SC_SP_BACKEND_TEXT_MAX || strlen(v) > SC_SP_BACKEND_TEXT_MAX ||
	    strlen(f) > SC_SP_BACKEND_TEXT_MAX)
		return;
	snprintf(d->manufacturer, sizeof(d->manufacturer), "%s", m);
	snprintf(d->vendor, sizeof(d->vendor), "%s", v);
	snprintf(d->firmware, sizeof(d->firmware), "%s", f);
}

/* The folder that holds path, opened for Landlock's rule (O_PATH: no access is needed). */
static int open_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Least privilege once the store is open and the socket bound: the configured user, then
 * Landlock and the seccomp allowlist. Fails closed: a sandbox that cannot be entered means no
 * serving, unless the operator asked for none (or the build cannot have one, which is said
 * loudly). *how says what is in force, for the start-up line.
 */
static sc_err confine(const char *store_dir, int store_dirfd, const char *sock_path,
    const struct spd_user *user, int no_sandbox, char *how, size_t how_len)
{
	sc_err r = SC_ERR_INTERNAL;
	const char *why;
	int sock_dirfd, abi = 0;

	/* Opened while still root: the user need not be able to reach it. */
	if ((sock_dirfd = open_parent(sock_path)) < 0)
		return sc_fail(SC_ERR_IO, "%s: its folder: %s", sock_path, strerror(errno));
	if (user != NULL) {
		/* Its own socket: the user (and its group) reach it, the allow list decides. */
		if (chown(sock_path, user->uid, user->gid) != 0) {
			r = sc_fail(SC_ERR_IO, "%s: chown to %s: %s", sock_path, user->name,
			    strerror(errno));
			goto out;
		}
		if ((r = spd_drop_privileges(user)) != SC_OK)
			goto out;
		/* Every commit writes a temp file into DIR and renames it over the store. */
		if (access(store_dir, R_OK | W_OK | X_OK) != 0) {
			r = sc_fail(SC_ERR_IO, "%s: not writable by user %s (chown -R %s %s): %s",
			    store_dir, user->name, user->name, store_dir, strerror(errno));
			goto out;
		}
	}
	if ((why = spd_sandbox_unavailable()) != NULL || no_sandbox) {
		if (why != NULL)
			sc_log("warning: sandbox off: %s; never deploy this build", why);
		else
			sc_log("warning: sandbox off (--insecure-no-sandbox)");
		snprintf(how, how_len, "sandbox off");
		r = SC_OK;
		goto out;
	}
	if ((r = spd_sandbox_enter(store_dirfd, sock_dirfd, &abi)) != SC_OK)
		goto out;
	if (abi > 0)
		snprintf(how, how_len, "sandbox: seccomp, landlock ABI %d", abi);
	else
		snprintf(how, how_len, "sandbox: seccomp (no landlock in this kernel)");
	r = SC_OK;
out:
	close(sock_dirfd);
	return r;
}

/* --tpm-export OUT: every key's TPM blobs, for tpm2_load/tpm2_readpublic (docs/TPM.md). */
static int export_blobs(const struct spd_state *st, const struct spd_backend *be, const char *out)
{
	char name[32];
	sc_err r = SC_OK;
	size_t i;

	if (be != &spd_backend_tpm) {
		sc_log_err(SC_ERR_USAGE, "--tpm-export: the store uses the %s backend", be->name);
		return 2;
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		sc_log_err(SC_ERR_IO, "%s: %s", out, strerror(errno));
		return 1;
	}
	if (st->csk != NULL)
		r = spd_tpm_key_export(st->csk, out, "csk");
	if (r == SC_OK && st->kek != NULL)
		r = spd_tpm_key_export(st->kek, out, "kek");
	for (i = 0; r == SC_OK && i < st->n_slots; i++) {
		snprintf(name, sizeof(name), "leaf-%u", (unsigned)st->slots[i].handle);
		r = spd_tpm_key_export(st->slots[i].key, out, name);
	}
	return r == SC_OK ? 0 : fail(r);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "allow-uid", required_argument, NULL, 'u' },
		{ "init", no_argument, NULL, 'i' },
		{ "device-id", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "insecure-no-sandbox", no_argument, NULL, 'N' },
		{ "list-requests", no_argument, NULL, 'L' },
		{ "revision", required_argument, NULL, 'R' },
		{ "backend", required_argument, NULL, 'B' },
		{ "tcti", required_argument, NULL, 'T' },
		{ "tpm-export", required_argument, NULL, 'X' },
		{ "gate-key", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store_dir = NULL, *sock_path = NULL, *device_id = NULL, *user_name = NULL;
	const char *backend = NULL, *tcti = NULL, *export_dir = NULL, *gate_key = NULL;
	const struct spd_backend *be;
	unsigned long allow[SPD_MAX_ALLOW];
	size_t n_allow = 0, heap_used, heap_size;
	unsigned long serving_uid;
	char how[64];
	struct spd_user user;
	struct spd *spd = NULL;
	struct sigaction sa;
	int init = 0, list = 0, no_sandbox = 0, emulate = 0, opt, lfd = -1, dirfd = -1, rc = 1;
	unsigned emulate_rev = SPD_REVISION;
	sc_err r;

	sc_log_init("selfcert-spd");
	/* Before OpenSSL allocates anything: its freed blocks may hold key bytes (sandbox.h). */
	if (spd_wipe_freed_memory() != 1)
		sc_log("warning: freed memory is not wiped");
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': store_dir = optarg; break;
		case 'S': sock_path = optarg; break;
		case 'f': break; /* always in the foreground */
		case 'i': init = 1; break;
		case 'd': device_id = optarg; break;
		case 'U': user_name = optarg; break;
		case 'N': no_sandbox = 1; break;
		case 'L': list = 1; break;
		case 'R':
			if (strncmp(optarg, "1.", 2) != 0 || optarg[2] < '0' ||
			    optarg[2] > '0' + SPD_REVISION || optarg[3] != '\0')
				sc_log_usage_die("--revision %s: 1.0 to 1.%d", optarg,
				    SPD_REVISION);
			emulate_rev = (unsigned)(optarg[2] - '0');
			emulate = emulate_rev < SPD_REVISION;
			break;
		case 'B': backend = optarg; break;
		case 'T': tcti = optarg; break;
		case 'X': export_dir = optarg; break;
		case 'G': gate_key = optarg; break;
		case 'u': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
			    v > UINT32_MAX - 1 || n_allow >= SPD_MAX_ALLOW)
				sc_log_usage_die("--allow-uid %s: not a uid (at most %d)", optarg,
				    SPD_MAX_ALLOW);
			allow[n_allow++] = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': sc_version_print(stdout, "selfcert-spd"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (list) {
		if (optind != argc || argc != 2) {
			usage(stderr);
			return 2;
		}
		return list_requests();
	}
	if (optind != argc || store_dir == NULL ||
	    (init ? device_id == NULL || sock_path != NULL || user_name != NULL || no_sandbox
	          : (sock_path == NULL) == (export_dir == NULL) || device_id != NULL ||
	                backend != NULL || gate_key != NULL)) {
		usage(stderr);
		return 2;
	}
	spd_harden_process();
	if (init) {
		if (backend != NULL && strcmp(backend, "soft") != 0 && strcmp(backend, "tpm") != 0)
			sc_log_usage_die("--backend %s: soft or tpm", backend);
		be = backend != NULL && strcmp(backend, "tpm") == 0 ? &spd_backend_tpm
		                                                    : &spd_backend_soft;
		if (tcti != NULL && be != &spd_backend_tpm)
			sc_log_usage_die("--tcti: only with --backend tpm");
		if (gate_key != NULL && be != &spd_backend_tpm)
			sc_log_usage_die("--gate-key: only with --backend tpm (operator gating)");
		/* The gate key first: a bad one must not leave a half-made gated store behind. */
		if ((be == &spd_backend_tpm && (r = spd_tpm_open(tcti)) != SC_OK) ||
		    (gate_key != NULL && (r = spd_tpm_gate_init(store_dir, gate_key)) != SC_OK) ||
		    (r = spd_store_create_with(store_dir, device_id, be)) != SC_OK) {
			sc_log_failure(r);
			spd_tpm_close();
			return sc_err_exit_code(r);
		}
		spd_tpm_close();
		return 0;
	}
	/* Resolved now, while the user database can still be read, so a typo fails at once. */
	if (user_name != NULL && (r = spd_user_lookup(user_name, &user)) != SC_OK) {
		sc_log_failure(r);
		return sc_err_exit_code(r);
	}
	if (n_allow == 0) {
		/* The serving uid: the --user's once root has been dropped. */
		allow[n_allow++] = user_name != NULL ? (unsigned long)user.uid
		                                     : (unsigned long)getuid();
		allow[n_allow++] = 0;
	}

	/* One daemon per store: two would overwrite each other's commits. */
	dirfd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		sc_log_err(SC_ERR_IO, "%s: %s", store_dir, strerror(errno));
		return 1;
	}
	if (flock(dirfd, LOCK_EX | LOCK_NB) != 0) {
		sc_log_err(SC_ERR_EXISTS, "%s: another selfcert-spd uses this store", store_dir);
		goto out;
	}
	if ((spd = calloc(1, sizeof(*spd))) == NULL) {
		sc_log_err(SC_ERR_NOMEM, "state");
		goto out;
	}
	spd->log = 1;
	spd->emulate = emulate;
	spd->emulate_rev = emulate_rev;
	if (emulate)
		sc_log("answering as protocol revision 1.%u: the requests of later revisions are "
		       "unknown-request (--revision)",
		    emulate_rev);
	spd_start(spd);
	/* The TPM's one connection is made now, before the sandbox: only a descriptor is kept. */
	be = spd_backend_of(store_dir);
	if (tcti != NULL && be != &spd_backend_tpm) {
		sc_log_err(SC_ERR_USAGE, "--tcti: %s uses the %s backend, not a TPM", store_dir,
		    be->name);
		rc = 2;
		goto out;
	}
	if (be == &spd_backend_tpm &&
	    ((r = spd_tpm_open(tcti)) != SC_OK || (r = spd_tpm_gate_load(store_dir)) != SC_OK)) {
		rc = fail(r);
		goto out;
	}
	if ((r = spd_store_open(store_dir, &spd->store, &spd->st)) != SC_OK) {
		rc = fail(r);
		goto out;
	}
	if (be == &spd_backend_tpm)
		read_tpm_info(store_dir, &spd->backend_desc);
	if (export_dir != NULL) {
		rc = export_blobs(&spd->st, be, export_dir);
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = spd_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* SIGHUP (systemctl reload, a closed terminal) never stops the SP: nothing to re-read. */
	sigaction(SIGHUP, &sa, NULL);

	if ((r = spd_listen_on(sock_path, &lfd)) != SC_OK) {
		rc = fail(r);
		goto out;
	}
	serving_uid = user_name != NULL ? (unsigned long)user.uid : (unsigned long)getuid();
	/* Ready once the socket listens (clients queue in its backlog); before the sandbox, whose
	 * allowlist has no socket() for the notification. A confine failure still exits. */
	sc_daemon_notify("READY=1");
	if ((r = confine(store_dir, dirfd, sock_path, user_name != NULL ? &user : NULL, no_sandbox,
	         how, sizeof(how))) != SC_OK) {
		rc = fail(r);
		unlink(sock_path);
		goto out;
	}
	spd_secure_heap_usage(&heap_used, &heap_size);
	sc_log("serving %s (device %s, state %s, %zu keys, %s backend) on %s as uid %lu; %s; "
	       "secure heap %zu of %zu bytes in use",
	    store_dir, spd->st.device_id, sc_sp_state_name(spd->st.state), spd->st.n_slots,
	    be->name, sock_path, serving_uid, how, heap_used, heap_size);
	rc = spd_serve(spd, lfd, allow, n_allow);
	unlink(sock_path);
	sc_log("stopped");
out:
	if (lfd >= 0)
		close(lfd);
	if (spd != NULL) {
		spd_stop(spd);
		spd_state_clear(&spd->st);
		spd_store_close(spd->store);
		OPENSSL_cleanse(spd, sizeof(*spd));
		free(spd);
	}
	if (dirfd >= 0)
		close(dirfd);
	spd_tpm_close();
	return rc;
}
