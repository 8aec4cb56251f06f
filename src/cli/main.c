// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — `selfcert`, the command line for every role: a table of command words to handlers.
 * Errors are printed once, here, as `selfcert: <error-name>: <detail>` (spec/CLI.md).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <selfcert/version.h>
#include "cli.h"

struct command {
	const char *group; /* NULL for top-level words */
	const char *name;
	sc_err (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "mfr", "init", cmd_mfr_init, "create the manufacturer root and issuing CA" },
	{ "mfr", "personalize", cmd_mfr_personalize,
	    "have an SP generate its CSK and KEK, certify them, lock it" },
	{ "mfr", "revoke", cmd_mfr_revoke, "revoke device CAs: the manufacturer CA's CRL" },
	{ "net", "init", cmd_net_init, "create a network root and profile signer" },
	{ "net", "profile", cmd_net_profile, "sign a profile for one device" },
	{ "net", "batch", cmd_net_batch, "sign one batch profile for many devices (#17)" },
	{ "net", "authorize", cmd_net_authorize,
	    "authorize one certificate on an operator-gated TPM device" },
	{ "net", "device", cmd_net_device,
	    "the provisioning registry: device add|revoke|list|show|import" },
	{ "net", "operator", cmd_net_operator,
	    "selfcert-provd's operators: operator add|remove|list" },
	{ "net", "revoked", cmd_net_revoked,
	    "the signed list of revoked devices: revoked sign|check|fetch" },
	{ "net", "db", cmd_net_db,
	    "the registry's schema: db migrate|status|check (PostgreSQL roles)" },
	{ "net", "server-cert", cmd_net_server_cert, "the provisioning server's TLS certificate" },
	{ "sp", "init", cmd_sp_init,
	    "create a secure processor's store (root key, counter, store)" },
	{ "device", "info", cmd_device_info, "show the SP's state" },
	{ "device", "challenge", cmd_device_challenge, "get a single-use challenge from the SP" },
	{ "device", "gate-challenge", cmd_device_gate_challenge,
	    "an operator-gated TPM SP's challenge, counter and pending key" },
	{ "device", "proof", cmd_device_proof,
	    "have the SP sign a request proof for a profile request" },
	{ "device", "issue", cmd_device_issue,
	    "have the SP issue itself a certificate for a profile" },
	{ "device", "keys", cmd_device_keys, "list the SP's leaf keys" },
	{ "device", "sign", cmd_device_sign, "sign a file with a leaf key" },
	{ "device", "delete", cmd_device_delete, "delete a leaf key" },
	{ "device", "cert", cmd_device_cert, "export a leaf key's certificate again" },
	{ "device", "crl", cmd_device_crl, "have the SP sign its device CA's own CRL" },
	{ NULL, "verify", cmd_verify, "verify a self-issued certificate (and its profile)" },
	{ NULL, "inspect", cmd_inspect, "decode a profile, certificate or chain" },
	{ NULL, "demo", cmd_demo, "the whole system on this machine, end to end" },
};

/* The commands of `group` (NULL: all of them), one line each. */
static void usage_group(FILE *f, const char *group)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char word[40];
		if (group != NULL &&
		    (commands[i].group == NULL || strcmp(commands[i].group, group) != 0))
			continue;
		snprintf(word, sizeof(word), "%s%s%s", commands[i].group ? commands[i].group : "",
		    commands[i].group ? " " : "", commands[i].name);
		fprintf(f, "  %-22s %s\n", word, commands[i].summary);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: selfcert <command> [flags]   (selfcert <command> --help for its flags)\n\n");
	usage_group(f, NULL);
	fprintf(f, "\n  --version              print the version and exit\n");
	fprintf(f, "\nexit codes: 0 done, 1 refused, 2 usage, 3 system\n");
}

/* `selfcert net`, `selfcert net --help`: the group's commands (2 without --help, as usage). */
static int group_help(int argc, char **argv)
{
	const char *g = argv[1];
	int known = 0;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && !known; i++)
		known = commands[i].group != NULL && strcmp(commands[i].group, g) == 0;
	if (!known || (argc >= 3 && strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0))
		return -1;
	FILE *f = argc >= 3 ? stdout : stderr;
	fprintf(f, "usage: selfcert %s <command> [flags]   (selfcert %s <command> --help)\n\n", g,
	    g);
	usage_group(f, g);
	return argc >= 3 ? 0 : 2;
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	int skip = 0;
	sc_err r;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		sc_version_print(stdout, "selfcert");
		return 0;
	}
	int g = group_help(argc, argv);
	if (g >= 0)
		return g;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && cmd == NULL; i++) {
		const struct command *c = &commands[i];
		if (c->group == NULL && strcmp(argv[1], c->name) == 0) {
			cmd = c;
			skip = 2;
		} else if (c->group != NULL && strcmp(argv[1], c->group) == 0 && argc >= 3 &&
		    strcmp(argv[2], c->name) == 0) {
			cmd = c;
			skip = 3;
		}
	}
	if (cmd == NULL) {
		fprintf(stderr,
		    "selfcert: usage: unknown command '%s%s%s' (selfcert --help lists them)\n",
		    argv[1], argc >= 3 && argv[2][0] != '-' ? " " : "",
		    argc >= 3 && argv[2][0] != '-' ? argv[2] : "");
		return 2;
	}
	sc_err_clear();
	r = cmd->run(argc - skip, argv + skip);
	if (r != SC_OK) {
		const char *d = sc_err_detail();
		fprintf(stderr, "selfcert: %s: %s\n", sc_err_name(r), *d ? d : sc_err_message(r));
		ERR_clear_error();
	}
	return sc_err_exit_code(r);
}
