/*
 * main.c — `selfcert`, the command line for every role: a table of command words to handlers.
 * Errors are printed once, here, as `selfcert: <error-name>: <detail>` (spec/CLI.md).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
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
	{ "net", "init", cmd_net_init, "create a network root and profile signer" },
	{ "net", "profile", cmd_net_profile, "sign a profile for one device" },
	{ "net", "device", cmd_net_device,
	    "the provisioning registry: device add|revoke|list|show|import" },
	{ "net", "db", cmd_net_db,
	    "the registry's schema: db migrate|status|check (PostgreSQL roles)" },
	{ "net", "server-cert", cmd_net_server_cert, "the provisioning server's TLS certificate" },
	{ "sp", "init", cmd_sp_init,
	    "create a secure processor's store (root key, counter, store)" },
	{ "device", "info", cmd_device_info, "show the SP's state" },
	{ "device", "challenge", cmd_device_challenge, "get a single-use challenge from the SP" },
	{ "device", "issue", cmd_device_issue,
	    "have the SP issue itself a certificate for a profile" },
	{ "device", "keys", cmd_device_keys, "list the SP's leaf keys" },
	{ "device", "sign", cmd_device_sign, "sign a file with a leaf key" },
	{ "device", "delete", cmd_device_delete, "delete a leaf key" },
	{ NULL, "verify", cmd_verify, "verify a self-issued certificate (and its profile)" },
	{ NULL, "inspect", cmd_inspect, "decode a profile, certificate or chain" },
	{ NULL, "demo", cmd_demo, "the whole system on this machine, end to end" },
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: selfcert <command> [flags]   (selfcert <command> --help for its flags)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char word[40];
		snprintf(word, sizeof(word), "%s%s%s", commands[i].group ? commands[i].group : "",
		    commands[i].group ? " " : "", commands[i].name);
		fprintf(f, "  %-22s %s\n", word, commands[i].summary);
	}
	fprintf(f, "\nexit codes: 0 done, 1 refused, 2 usage, 3 system\n");
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
