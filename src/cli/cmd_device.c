// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_device.c — the host side of the device: `sp init` (makes the SP's store by running
 * selfcert-spd --init, so the root key is created by the SP program alone) and the `device`
 * commands, each one request to the SP over its socket. No private key passes through here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/batch.h>
#include <selfcert/cert.h>
#include <selfcert/proof.h>
#include <selfcert/sp.h>
#include "cli.h"
#include "file.h"
#include "pem.h"
#include "text.h"

static const char sp_init_usage[] =
    "usage: selfcert sp init --store DIR --device-id ID [--backend soft|tpm] [--tcti TCTI]\n"
    "         [--operator-gated --gate-key PEM] [--json]\n"
    "  Creates DIR/root.key (the emulated hardware-unique key, 0400), DIR/counter (the emulated\n"
    "  monotonic counter) and DIR/store (the sealed state, empty until personalization).\n"
    "  --backend tpm: keys live in a TPM 2.0 instead; DIR/root.tpm is a TPM-sealed secret, the\n"
    "  counter a TPM NV counter, DIR/tpm.info the TPM's maker and firmware (docs/TPM.md).\n"
    "  TCTI: device[:PATH] or swtpm:path=SOCKET (default: $TPM2TOOLS_TCTI, $TSS2_TCTI,\n"
    "  device:/dev/tpmrm0).\n"
    "  --operator-gated --gate-key PEM (tpm only): the CSK made at personalization signs only\n"
    "  certificates the network authorized with this key (a PEM public key or certificate:\n"
    "  the profile signer's), checked by the TPM itself (docs/TPM.md, DIR/tpm.gate).\n"
    "  ID: 1..64 characters of A-Z a-z 0-9 space ' ( ) + , - . / : = ?\n"
    "  --json: print one JSON object (device_id, store, backend).\n";

/*
 * Run selfcert-spd with argv, passing its stdout through; its one error line
 * ("selfcert-spd: NAME: DETAIL") is turned back into our code so we print it as ours.
 */
static sc_err run_spd(char *const argv[])
{
	int pfd[2], status = 0;
	char line[512];
	size_t got = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return sc_fail(SC_ERR_IO, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return sc_fail(SC_ERR_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "selfcert-spd: io: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(3);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], line + got, sizeof(line) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(line) - 1)
			break;
	}
	line[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return SC_OK;
	{
		char *nl = strchr(line, '\n'), *name, *detail;
		if (nl)
			*nl = '\0';
		name = strncmp(line, "selfcert-spd: ", 14) == 0 ? line + 14 : NULL;
		detail = name ? strstr(name, ": ") : NULL;
		if (detail != NULL) {
			*detail = '\0';
			return sc_fail(sc_err_from_name(name), "%s", detail + 2);
		}
		return sc_fail(SC_ERR_INTERNAL, "selfcert-spd failed: %s",
		    line[0] ? line : "no message");
	}
}

sc_err cmd_sp_init(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "store", 1, 0 }, { "device-id", 1, 0 },
		{ "backend", 1, 0 }, { "tcti", 1, 0 }, { "json", 0, 0 }, { "operator-gated", 0, 0 },
		{ "gate-key", 1, 0 } };
	struct cli_args a;
	const char *dir, *id, *backend, *tcti, *gate;
	sc_err r;

	if ((r = cli_parse(&a, "sp init", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) !=
	    SC_OK)
		return r;
	if (a.help) {
		fputs(sp_init_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "store", &dir)) != SC_OK ||
	    (r = cli_need(&a, "device-id", &id)) != SC_OK)
		return r;
	if (!sc_device_id_valid(id))
		return sc_fail(SC_ERR_USAGE,
		    "sp init: --device-id '%s': 1..64 characters of A-Z a-z 0-9 space '()+,-./:=?",
		    id);
	backend = cli_get(&a, "backend");
	tcti = cli_get(&a, "tcti");
	if (backend != NULL && strcmp(backend, "soft") != 0 && strcmp(backend, "tpm") != 0)
		return sc_fail(SC_ERR_USAGE, "sp init: --backend %s: soft or tpm", backend);
	if (tcti != NULL && (backend == NULL || strcmp(backend, "tpm") != 0))
		return sc_fail(SC_ERR_USAGE, "sp init: --tcti needs --backend tpm");
	gate = cli_get(&a, "gate-key");
	if (cli_has(&a, "operator-gated") != (gate != NULL))
		return sc_fail(SC_ERR_USAGE,
		    "sp init: --operator-gated and --gate-key go together");
	if (gate != NULL && (backend == NULL || strcmp(backend, "tpm") != 0))
		return sc_fail(SC_ERR_USAGE, "sp init: --operator-gated needs --backend tpm");
	{
		/* Only what was given: selfcert-spd's own default decides otherwise. */
		char *args[13] = { (char *)cli_spd_path(), "--init", "--store", (char *)dir,
			"--device-id", (char *)id };
		int n = 6;
		if (backend != NULL) {
			args[n++] = "--backend";
			args[n++] = (char *)backend;
		}
		if (tcti != NULL) {
			args[n++] = "--tcti";
			args[n++] = (char *)tcti;
		}
		if (gate != NULL) {
			args[n++] = "--gate-key";
			args[n++] = (char *)gate;
		}
		args[n] = NULL;
		if ((r = run_spd(args)) != SC_OK)
			return r;
	}
	if (cli_has(&a, "json"))
		return cli_json_out(json_pack("{s:s, s:s, s:s}", "device_id", id, "store", dir,
		    "backend", backend ? backend : "soft"));
	printf("secure processor store for device %s in %s (%s backend)\n", id, dir,
	    backend ? backend : "soft");
	return SC_OK;
}

/*
 * Common start of every device command: parse, --help, check --sp is given, and connect
 * unless `later` (commands that check more flags first, so usage errors never wait on a socket).
 */
static sc_err device_open_ex(struct cli_args *a, const char *cmd, const struct cli_opt *spec,
    size_t nspec, int argc, char **argv, const char *usage, struct sc_sp **sp, int later)
{
	const char *sock;
	sc_err r;

	*sp = NULL;
	if ((r = cli_parse(a, cmd, spec, nspec, argc, argv, 0)) != SC_OK)
		return r;
	if (a->help) {
		fputs(usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(a, "sp", &sock)) != SC_OK)
		return r;
	return later ? SC_OK : sc_sp_connect(sock, sp);
}

static sc_err device_open(struct cli_args *a, const char *cmd, const struct cli_opt *spec,
    size_t nspec, int argc, char **argv, const char *usage, struct sc_sp **sp)
{
	return device_open_ex(a, cmd, spec, nspec, argc, argv, usage, sp, 0);
}

static const char info_usage[] =
    "usage: selfcert device info --sp SOCKET [--json] [--store DIR]\n"
    "  The SP's state, device ID, issuance counter, key slots, limits, networks and certificates,\n"
    "  and its key backend (soft, or tpm with the TPM's manufacturer, vendor string and firmware\n"
    "  as `sp init` found them; an SP before protocol revision 1.2 cannot say: unknown).\n"
    "  --store DIR: also the key backend its store folder records (soft, or tpm with the TPM's\n"
    "  manufacturer, vendor string and firmware as `sp init` found them; docs/TPM.md).\n";

/* The device CA's subject and end ("" if the SP has none yet), for either printer. */
struct info_view {
	char csk_subject[256], csk_until[32];
	const char *backend; /* NULL without --store */
	char backend_desc[200];
	int gated; /* --store: DIR/tpm.gate exists (an operator-gated TPM store, issue #12) */
	struct sc_sp_backend sp_backend; /* the SP's BACKEND answer; name "" if it has none */
	char sp_backend_desc[300];       /* "manufacturer …, vendor …, firmware …" or "" */
};

/* The SP's own word on its backend (BACKEND, revision 1.2); an older SP leaves it empty. */
static sc_err sp_backend_of(struct sc_sp *sp, struct info_view *v)
{
	const struct sc_sp_backend *b = &v->sp_backend;
	const char *maker;
	sc_err r;

	r = sc_sp_backend(sp, &v->sp_backend);
	if (r == SC_ERR_UNKNOWN_REQUEST) {
		sc_err_clear();
		return SC_OK;
	}
	if (r != SC_OK)
		return r;
	if (strcmp(b->name, "tpm") != 0)
		return SC_OK;
	if (b->manufacturer[0] == '\0') {
		snprintf(v->sp_backend_desc, sizeof(v->sp_backend_desc), "TPM not recorded");
		return SC_OK;
	}
	maker = sc_sp_tpm_vendor_name(b->manufacturer);
	snprintf(v->sp_backend_desc, sizeof(v->sp_backend_desc),
	    "manufacturer %s%s%s%s, vendor %s, firmware %s", b->manufacturer, maker ? " (" : "",
	    maker ? maker : "", maker ? ")" : "", b->vendor, b->firmware);
	return SC_OK;
}

/*
 * The backend DIR records (the SP's INFO answer is unchanged): tpm if DIR/root.tpm exists, and
 * then DIR/tpm.info's one line "tpm: <description>" (bounded, printable only), else soft.
 */
static sc_err store_backend(const char *dir, char *desc, size_t desc_len, const char **name)
{
	char path[PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0, i;
	sc_err r;

	*name = "soft";
	desc[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/root.tpm", dir) >= (int)sizeof(path))
		return sc_fail(SC_ERR_USAGE, "--store %s: path too long", dir);
	if (access(path, F_OK) != 0) {
		snprintf(path, sizeof(path), "%s/store", dir);
		if (access(path, F_OK) != 0)
			return sc_fail(SC_ERR_NOT_FOUND, "--store %s: no SP store there", dir);
		return SC_OK;
	}
	*name = "tpm";
	snprintf(path, sizeof(path), "%s/tpm.info", dir);
	r = sc_file_read_ex(path, 256, SC_FILE_NOFOLLOW | SC_FILE_MISSING, &data, &len);
	if (r == SC_ERR_NOT_FOUND) {
		snprintf(desc, desc_len, "TPM not recorded");
		return SC_OK;
	}
	if (r != SC_OK)
		return r;
	if (len < 6 || memcmp(data, "tpm: ", 5) != 0 || data[len - 1] != '\n') {
		OPENSSL_free(data);
		return sc_fail(SC_ERR_MALFORMED, "%s: not one line \"tpm: …\"", path);
	}
	for (i = 5; i + 1 < len && i - 5 + 1 < desc_len; i++)
		desc[i - 5] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
	desc[i - 5] = '\0';
	OPENSSL_free(data);
	return SC_OK;
}

static void info_json(const struct sc_sp_info *info, const struct info_view *v)
{
	printf("{\"state\":\"%s\",\"device_id\":", sc_sp_state_name((int)info->state));
	cli_json_str(stdout, info->device_id);
	printf(
	    ",\"issuance_counter\":%llu,\"keys\":%u,\"max_keys\":%u,\"max_leaf_days\":%u,\"networks\":[",
	    (unsigned long long)info->issuance_counter, info->n_keys, info->max_keys,
	    info->max_leaf_days);
	for (size_t i = 0; i < info->n_networks; i++) {
		printf(i ? "," : "");
		cli_json_str(stdout, info->networks[i]);
	}
	printf("],\"device_ca\":");
	if (info->csk_cert) {
		printf("{\"subject\":");
		cli_json_str(stdout, v->csk_subject);
		printf(",\"not_after\":\"%s\"}", v->csk_until);
	} else {
		printf("null");
	}
	printf(",\"kex\":%s", info->kek_cert ? "true" : "false");
	/* The SP's answer as "sp_backend" (null before revision 1.2); "backend" stays --store's. */
	if (v->sp_backend.name[0] == '\0') {
		printf(",\"sp_backend\":null");
	} else {
		const char *maker = sc_sp_tpm_vendor_name(v->sp_backend.manufacturer);

		printf(",\"sp_backend\":{\"name\":");
		cli_json_str(stdout, v->sp_backend.name);
		if (strcmp(v->sp_backend.name, "tpm") == 0) {
			printf(",\"manufacturer\":");
			cli_json_str(stdout, v->sp_backend.manufacturer);
			printf(",\"manufacturer_name\":");
			if (maker != NULL)
				cli_json_str(stdout, maker);
			else
				printf("null");
			printf(",\"vendor\":");
			cli_json_str(stdout, v->sp_backend.vendor);
			printf(",\"firmware\":");
			cli_json_str(stdout, v->sp_backend.firmware);
		}
		printf("}");
	}
	if (v->backend != NULL) {
		printf(",\"backend\":\"%s\"", v->backend);
		if (v->backend_desc[0] != '\0') {
			printf(",\"tpm\":");
			cli_json_str(stdout, v->backend_desc);
		}
		printf(",\"operator_gated\":%s", v->gated ? "true" : "false");
	}
	printf("}\n");
}

static void info_text(const struct sc_sp_info *info, const struct info_view *v)
{
	printf("state:            %s\n", sc_sp_state_name((int)info->state));
	printf("device id:        %s\n", info->device_id);
	printf("issuance counter: %llu\n", (unsigned long long)info->issuance_counter);
	printf("leaf keys:        %u of %u\n", info->n_keys, info->max_keys);
	if (info->max_leaf_days)
		printf("max leaf life:    %u days\n", info->max_leaf_days);
	else
		printf("max leaf life:    the device CA's validity\n");
	for (size_t i = 0; i < info->n_networks; i++)
		printf("network:          %s\n", info->networks[i]);
	if (info->csk_cert)
		printf("device CA:        %s (until %s)\n", v->csk_subject, v->csk_until);
	printf("key exchange:     %s\n", info->kek_cert ? "certified" : "none");
	if (v->sp_backend.name[0] == '\0')
		printf("backend:          unknown (SP revision before 1.2)\n");
	else
		printf("backend:          %s%s%s%s\n", v->sp_backend.name,
		    v->sp_backend_desc[0] ? " (" : "", v->sp_backend_desc,
		    v->sp_backend_desc[0] ? ")" : "");
	if (v->backend != NULL)
		printf("key backend:      %s%s%s\n", v->backend, v->backend_desc[0] ? ": " : "",
		    v->backend_desc);
	if (v->gated)
		printf(
		    "operator-gated:   yes (the CSK signs only what DIR/tpm.gate's key authorized)\n");
}

sc_err cmd_device_info(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "json", 0, 0 },
		{ "store", 1, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	struct sc_sp_info info;
	struct info_view v = { .csk_subject = "", .csk_until = "" };
	sc_err r;

	memset(&info, 0, sizeof(info));
	/* The folder first: a bad --store fails without waiting on the socket. */
	if ((r = device_open_ex(&a, "device info", spec, 3, argc, argv, info_usage, &sp, 1)) !=
	        SC_OK ||
	    a.help)
		goto out;
	if (cli_has(&a, "store") &&
	    (r = store_backend(cli_get(&a, "store"), v.backend_desc, sizeof(v.backend_desc),
	         &v.backend)) != SC_OK)
		goto out;
	if (cli_has(&a, "store")) {
		char gp[PATH_MAX];
		snprintf(gp, sizeof(gp), "%s/tpm.gate", cli_get(&a, "store"));
		v.gated = strcmp(v.backend, "tpm") == 0 && access(gp, F_OK) == 0;
	}
	if ((r = sc_sp_connect(cli_get(&a, "sp"), &sp)) != SC_OK)
		goto out;
	if ((r = sc_sp_info(sp, &info)) != SC_OK)
		goto out;
	if ((r = sp_backend_of(sp, &v)) != SC_OK)
		goto out;
	if (info.csk_cert != NULL) {
		cli_subject_line(info.csk_cert, v.csk_subject, sizeof(v.csk_subject));
		cli_not_after(info.csk_cert, v.csk_until, sizeof(v.csk_until));
	}
	if (cli_has(&a, "json"))
		info_json(&info, &v);
	else
		info_text(&info, &v);
	r = SC_OK;
out:
	sc_sp_info_clear(&info);
	sc_sp_close(sp);
	return r;
}

static const char challenge_usage[] =
    "usage: selfcert device challenge --sp SOCKET [--json]\n"
    "  Prints a fresh single-use challenge (hex) for the provisioning server to put in a profile.\n";

sc_err cmd_device_challenge(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	uint8_t ch[SC_SP_CHALLENGE_LEN];
	char hex[2 * SC_SP_CHALLENGE_LEN + 1];
	sc_err r;

	if ((r = device_open(&a, "device challenge", spec, 2, argc, argv, challenge_usage, &sp)) !=
	        SC_OK ||
	    a.help)
		goto out;
	if ((r = sc_sp_challenge(sp, ch)) != SC_OK)
		goto out;
	sc_hex(ch, sizeof(ch), hex);
	printf(cli_has(&a, "json") ? "{\"challenge\":\"%s\"}\n" : "%s\n", hex);
out:
	sc_sp_close(sp);
	return r;
}

static const char proof_usage[] =
    "usage: selfcert device proof --sp SOCKET --challenge HEX --chain CHAIN.pem --kex KEX.pem\n"
    "         [--network-id ID] [--alg NAME] [--server-keygen] [--json]\n"
    "  Has the SP sign, with its device CA key, that a POST /v1/profiles request with this\n"
    "  challenge (from `device challenge`, still outstanding), chain, kex, alg and\n"
    "  server_keygen is its own (docs/API.md \"proof\"). Prints the request's \"proof\" object\n"
    "  as one line of JSON. --network-id: the server's network (default: the SP's only one).\n"
    "  --alg and --server-keygen exactly as the request will carry them (absent: absent).\n"
    "  --json is accepted for uniformity: the output is JSON either way.\n";

sc_err cmd_device_proof(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "challenge", 1, 0 },
		{ "chain", 1, 0 }, { "kex", 1, 0 }, { "network-id", 1, 0 }, { "alg", 1, 0 },
		{ "server-keygen", 0, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	struct sc_sp_info info;
	STACK_OF(X509) *chain = NULL;
	X509 *kex = NULL;
	uint8_t ch[SC_SP_CHALLENGE_LEN], digest[SC_PROOF_DIGEST_LEN], *sig = NULL;
	char ch_hex[2 * SC_SP_CHALLENGE_LEN + 1], dg_hex[2 * SC_PROOF_DIGEST_LEN + 1];
	char net[SC_NETWORK_ID_MAX + 1], *sig_b64 = NULL;
	const char *s, *alg = NULL;
	size_t n = 0, sig_len = 0;
	uint64_t t = 0;
	enum sc_alg alg_v;
	sc_err r;

	memset(&info, 0, sizeof(info));
	if ((r = device_open(&a, "device proof", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         proof_usage, &sp)) != SC_OK ||
	    a.help)
		goto out;
	if ((r = cli_need(&a, "challenge", &s)) != SC_OK)
		goto out;
	if (sc_unhex(s, ch, sizeof(ch), &n) != SC_OK || n != sizeof(ch)) {
		r = sc_fail(SC_ERR_USAGE,
		    "--challenge: expected %d bytes of hex (device challenge)",
		    SC_SP_CHALLENGE_LEN);
		goto out;
	}
	if ((alg = cli_get(&a, "alg")) != NULL && sc_alg_from_name(alg, &alg_v) != SC_OK) {
		r = sc_fail(SC_ERR_USAGE,
		    "--alg '%s': not rsa2048 rsa3072 rsa4096 p256 p384 ed25519", alg);
		goto out;
	}
	if ((r = cli_need(&a, "chain", &s)) != SC_OK || (r = sc_load_certs(s, &chain)) != SC_OK ||
	    (r = cli_need(&a, "kex", &s)) != SC_OK || (r = sc_load_cert(s, &kex)) != SC_OK ||
	    (r = sc_proof_request_digest(chain, kex, alg, cli_has(&a, "server-keygen"), digest)) !=
	        SC_OK)
		goto out;
	/* The device ID the SP signs for, and its networks. */
	if ((r = sc_sp_info(sp, &info)) != SC_OK)
		goto out;
	if ((s = cli_get(&a, "network-id")) != NULL) {
		if (s[0] == '\0' || strlen(s) > SC_NETWORK_ID_MAX) {
			r = sc_fail(SC_ERR_USAGE, "--network-id: 1..%d bytes", SC_NETWORK_ID_MAX);
			goto out;
		}
		snprintf(net, sizeof(net), "%s", s);
	} else if (info.n_networks == 1) {
		snprintf(net, sizeof(net), "%s", info.networks[0]);
	} else {
		r = sc_fail(SC_ERR_USAGE, "the SP has %zu networks: name one (--network-id)",
		    info.n_networks);
		goto out;
	}
	if ((r = sc_sp_proof(sp, ch, net, digest, &t, &sig, &sig_len)) != SC_OK)
		goto out;
	if ((sig_b64 = sc_base64_encode(sig, sig_len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "out of memory");
		goto out;
	}
	sc_hex(ch, sizeof(ch), ch_hex);
	sc_hex(digest, sizeof(digest), dg_hex);
	printf("{\"device_id\":");
	cli_json_str(stdout, info.device_id);
	printf(",\"network_id\":");
	cli_json_str(stdout, net);
	printf(",\"challenge\":\"%s\",\"request\":\"%s\",\"time\":%llu,\"signature\":\"%s\"}\n",
	    ch_hex, dg_hex, (unsigned long long)t, sig_b64);
	r = SC_OK;
out:
	free(sig_b64);
	OPENSSL_free(sig);
	X509_free(kex);
	sk_X509_pop_free(chain, X509_free);
	sc_sp_info_clear(&info);
	sc_sp_close(sp);
	return r;
}

/* 1 if der is a renewal profile (TBSProfile [6], #17); 0 otherwise, the SP judges the rest. */
static int is_renewal(const uint8_t *der, size_t len)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;

	if (sc_profile_decode(der, len, &p) != SC_OK) {
		sc_err_clear();
		return 0;
	}
	sc_profile_get_info(p, &info);
	sc_profile_free(p);
	return info.renewal_count > 0;
}

/*
 * 1 if der is a BatchedProfile (#17, selfcert/batch.h): it decodes as one, or decodes as one
 * whose path does not lead to its root, which the SP is left to refuse (batch-path) as it would
 * any device's. 0 otherwise: an ordinary or renewal profile, or nothing the SP will take.
 */
static int is_batched(const uint8_t *der, size_t len)
{
	struct sc_profile *p = NULL;
	sc_err r = sc_batch_decode(der, len, &p);

	sc_profile_free(p);
	sc_err_clear();
	return r == SC_OK || r == SC_ERR_BATCH_PATH;
}

static const char issue_usage[] =
    "usage: selfcert device issue --sp SOCKET --profile PROFILE.der --out LEAF.pem [--json]\n"
    "         [--authorization AUTH.bin]\n"
    "  The SP verifies the profile, generates (or decrypts) the key pair and issues itself a\n"
    "  certificate signed by its device CA key. Prints the new key's handle; writes LEAF.pem\n"
    "  atomically; LEAF.pem's folder is checked first, so a bad --out never spends the profile\n"
    "  (`device cert --key HANDLE` exports a certificate again).\n"
    "  --authorization: an operator-gated TPM SP's issuance (`net authorize`, docs/TPM.md).\n";

sc_err cmd_device_issue(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "profile", 1, 0 }, { "out", 1, 0 },
		{ "json", 0, 0 }, { "authorization", 1, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	const char *profile_path, *out_path, *auth_path;
	uint8_t *der = NULL, *auth = NULL, *cert_der = NULL;
	size_t der_len = 0, auth_len = 0, cert_len = 0;
	uint32_t handle = 0;
	X509 *cert = NULL;
	sc_err r;

	if ((r = device_open_ex(&a, "device issue", spec, 5, argc, argv, issue_usage, &sp, 1)) !=
	        SC_OK ||
	    a.help)
		goto out;
	if ((r = cli_need(&a, "profile", &profile_path)) != SC_OK ||
	    (r = cli_need(&a, "out", &out_path)) != SC_OK ||
	    (r = cli_out_writable(out_path)) != SC_OK)
		goto out;
	if ((r = sc_file_read(profile_path, SC_BATCH_MAX_DER, &der, &der_len)) != SC_OK ||
	    (r = sc_sp_connect(cli_get(&a, "sp"), &sp)) != SC_OK)
		goto out;
	/*
	 * The certificate is only written out as PEM, so it stays DER (issue 17: no d2i_X509, which
	 * costs more than the SP's ISSUE); only the gated TPM path has no DER call and keeps its X509.
	 */
	if ((auth_path = cli_get(&a, "authorization")) != NULL) {
		/* An operator-gated SP (docs/TPM.md): the authorization travels beside the profile. */
		if ((r = sc_file_read(auth_path, 4096, &auth, &auth_len)) != SC_OK ||
		    (r = sc_sp_gate_issue(sp, der, der_len, auth, auth_len, &handle, &cert)) !=
		        SC_OK ||
		    (r = sc_cert_to_der(cert, &cert_der, &cert_len)) != SC_OK)
			goto out;
		/* #17: a batch leaf goes through BATCH_ISSUE (the SP checks its path and root). */
	} else if (is_batched(der, der_len)) {
		if ((r = sc_sp_batch_issue_der(sp, der, der_len, &handle, &cert_der, &cert_len)) !=
		    SC_OK)
			goto out;
		/* #17: a renewal profile goes through RENEW (the SP counts its certificates). */
	} else if ((r = is_renewal(der, der_len)
	                   ? sc_sp_renew_der(sp, der, der_len, &handle, &cert_der, &cert_len)
	                   : sc_sp_issue_der(sp, der, der_len, &handle, &cert_der, &cert_len)) !=
	    SC_OK)
		goto out;
	if ((r = sc_write_cert_der(out_path, cert_der, cert_len)) != SC_OK) {
		/* The key and certificate are safe in the SP; `device keys` shows them again. */
		r = sc_fail(r, "%s (the key is kept in the SP as handle %u)", sc_err_detail(),
		    handle);
		goto out;
	}
	printf(cli_has(&a, "json") ? "{\"handle\":%u}\n" : "%u\n", handle);
out:
	OPENSSL_free(der);
	OPENSSL_free(auth);
	OPENSSL_free(cert_der);
	X509_free(cert);
	sc_sp_close(sp);
	return r;
}

static const char keys_usage[] = "usage: selfcert device keys --sp SOCKET [--json]\n"
                                 "  One line per leaf key: HANDLE ALG NOT-AFTER SUBJECT\n";

sc_err cmd_device_keys(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	struct sc_sp_key *keys = NULL;
	size_t n = 0;
	sc_err r;

	if ((r = device_open(&a, "device keys", spec, 2, argc, argv, keys_usage, &sp)) != SC_OK ||
	    a.help)
		goto out;
	if ((r = sc_sp_keys(sp, &keys, &n)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		printf("{\"keys\":[");
	for (size_t i = 0; i < n; i++) {
		char subject[256], until[32];
		cli_subject_line(keys[i].cert, subject, sizeof(subject));
		cli_not_after(keys[i].cert, until, sizeof(until));
		if (cli_has(&a, "json")) {
			printf("%s{\"handle\":%u,\"alg\":\"%s\",\"not_after\":\"%s\",\"subject\":",
			    i ? "," : "", keys[i].handle,
			    sc_alg_name(keys[i].alg) ? sc_alg_name(keys[i].alg) : "?", until);
			cli_json_str(stdout, subject);
			printf("}");
		} else {
			printf("%u %s %s %s\n", keys[i].handle,
			    sc_alg_name(keys[i].alg) ? sc_alg_name(keys[i].alg) : "?", until,
			    subject);
		}
	}
	if (cli_has(&a, "json"))
		printf("]}\n");
out:
	sc_sp_keys_free(keys, n);
	sc_sp_close(sp);
	return r;
}

static sc_err parse_handle(const char *s, uint32_t *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0' || v > UINT32_MAX)
		return sc_fail(SC_ERR_USAGE,
		    "--key '%s': expected a key handle (a number; see device keys)", s);
	*out = (uint32_t)v;
	return SC_OK;
}

/* Hash a file of any size in pieces (the file may be larger than a message to the SP). */
static sc_err hash_file(const char *path, const EVP_MD *md, uint8_t *out, unsigned *out_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		r = sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, md, NULL)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "hash: init");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "hash: update");
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, out, out_len)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "hash: final");
		goto out;
	}
	r = SC_OK;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return r;
}

static const char sign_usage[] =
    "usage: selfcert device sign --sp SOCKET --key HANDLE --in FILE --out SIG [--digest sha256|sha384|sha512]\n"
    "  Signs FILE's bytes with the leaf key. SIG is what `openssl dgst -<digest> -sign` writes:\n"
    "  DER ECDSA-Sig-Value, PKCS#1 v1.5 for RSA, 64 raw bytes for Ed25519 (which ignores --digest\n"
    "  and signs files of up to 32 KiB). RSA and ECDSA hash here and send only the digest.\n";

sc_err cmd_device_sign(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "sp", 1, 0 },
		{ "key", 1, 0 },
		{ "in", 1, 0 },
		{ "out", 1, 0 },
		{ "digest", 1, 0 },
	};
	struct cli_args a;
	struct sc_sp *sp = NULL;
	struct sc_sp_key *keys = NULL;
	size_t n = 0;
	const char *key_s, *in_path, *out_path;
	enum sc_digest digest = SC_DIGEST_SHA256;
	enum sc_alg alg = SC_ALG_NONE;
	uint32_t handle = 0; /* set by parse_handle; gcc -O3 cannot see that */
	uint8_t *data = NULL, *sig = NULL, md[EVP_MAX_MD_SIZE];
	size_t data_len = 0, sig_len = 0;
	unsigned md_len = 0;
	sc_err r;

	if ((r = device_open_ex(&a, "device sign", spec, 5, argc, argv, sign_usage, &sp, 1)) !=
	        SC_OK ||
	    a.help)
		goto out;
	if ((r = cli_need(&a, "key", &key_s)) != SC_OK ||
	    (r = cli_need(&a, "in", &in_path)) != SC_OK ||
	    (r = cli_need(&a, "out", &out_path)) != SC_OK ||
	    (r = parse_handle(key_s, &handle)) != SC_OK)
		goto out;
	if (cli_has(&a, "digest") &&
	    (r = sc_digest_from_name(cli_get(&a, "digest"), &digest)) != SC_OK)
		goto out;
	if ((r = sc_sp_connect(cli_get(&a, "sp"), &sp)) != SC_OK)
		goto out;
	/* The key's algorithm decides whether we send the message or its digest. */
	if ((r = sc_sp_keys(sp, &keys, &n)) != SC_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (keys[i].handle == handle)
			alg = keys[i].alg;
	if (alg == SC_ALG_NONE) {
		r = sc_fail(SC_ERR_NO_KEY, "no leaf key with handle %u (see device keys)", handle);
		goto out;
	}
	if (alg == SC_ALG_ED25519) {
		if ((r = sc_file_read(in_path, SC_SP_MAX_SIGN_INPUT, &data, &data_len)) != SC_OK)
			goto out;
		r = sc_sp_sign(sp, handle, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, data, data_len, &sig,
		    &sig_len);
	} else {
		if ((r = hash_file(in_path, sc_digest_md(digest), md, &md_len)) != SC_OK)
			goto out;
		r = sc_sp_sign(sp, handle, SC_SP_SIGN_DIGEST, digest, md, md_len, &sig, &sig_len);
	}
	if (r != SC_OK)
		goto out;
	r = sc_file_write_atomic(out_path, sig, sig_len, 0644);
out:
	OPENSSL_free(data);
	OPENSSL_free(sig);
	sc_sp_keys_free(keys, n);
	sc_sp_close(sp);
	return r;
}

static const char delete_usage[] =
    "usage: selfcert device delete --sp SOCKET --key HANDLE [--json]\n"
    "  Deletes the leaf key and its certificate from the SP, durably. Prints nothing, or with\n"
    "  --json one object {\"deleted\": HANDLE}.\n";

sc_err cmd_device_delete(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "key", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	const char *key_s;
	uint32_t handle = 0; /* set by parse_handle; gcc -O3 cannot see that */
	sc_err r;

	if ((r = device_open_ex(&a, "device delete", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, delete_usage, &sp, 1)) != SC_OK ||
	    a.help)
		goto out;
	if ((r = cli_need(&a, "key", &key_s)) != SC_OK ||
	    (r = parse_handle(key_s, &handle)) != SC_OK ||
	    (r = sc_sp_connect(cli_get(&a, "sp"), &sp)) != SC_OK)
		goto out;
	if ((r = sc_sp_delete(sp, handle)) == SC_OK && cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:I}", "deleted", (json_int_t)handle));
out:
	sc_sp_close(sp);
	return r;
}
