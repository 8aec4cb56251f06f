// SPDX-License-Identifier: Apache-2.0
/*
 * cli.h — the command line's shared pieces: a strict flag parser (unknown flags, missing
 * values and malformed numbers are usage errors naming the flag), and the command table.
 * Each command returns an sc_err; main prints `selfcert: <name>: <detail>` and exits with
 * sc_err_exit_code.
 */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

#define CLI_MAX_OPTS 32
#define CLI_MAX_VALUES 16
#define CLI_MAX_POS 4

struct cli_opt {
	const char *name; /* without the leading "--" */
	int takes_value;  /* 0: a switch */
	int multi;        /* may be repeated (up to CLI_MAX_VALUES) */
};

struct cli_args {
	const char *cmd; /* "net profile", for messages */
	const struct cli_opt *spec;
	size_t nspec;
	const char *vals[CLI_MAX_OPTS][CLI_MAX_VALUES];
	int count[CLI_MAX_OPTS];
	const char *pos[CLI_MAX_POS];
	int npos;
	int help;
};

/* Parse argv (after the command words). max_pos positional arguments are allowed. */
sc_err cli_parse(struct cli_args *a, const char *cmd, const struct cli_opt *spec, size_t nspec,
    int argc, char **argv, int max_pos) SC_MUST_USE;
const char *cli_get(const struct cli_args *a, const char *name); /* last value or NULL */
int cli_has(const struct cli_args *a, const char *name);
int cli_count(const struct cli_args *a, const char *name);
const char *cli_nth(const struct cli_args *a, const char *name, int i);
sc_err cli_need(const struct cli_args *a, const char *name, const char **out) SC_MUST_USE;
sc_err cli_int(const struct cli_args *a, const char *name, long def, long min, long max,
    long *out) SC_MUST_USE;

/* Path helpers: dir + "/" + name into out (PATH_MAX). SC_ERR_USAGE if too long. */
sc_err cli_path(char *out, size_t out_len, const char *dir, const char *name) SC_MUST_USE;
/* mkdir -p of one level (0755, or 0700 if private); existing folder is fine. */
sc_err cli_mkdir(const char *dir, int private_) SC_MUST_USE;
/*
 * An operator's or manufacturer's private key: the value of --flag (a PEM file or a pkcs11: URI,
 * keyopen.h), else dir/file. *out is the caller's (EVP_PKEY_free). sc_key_open's errors.
 */
sc_err cli_key(const struct cli_args *a, const char *flag, const char *dir, const char *file,
    EVP_PKEY **out) SC_MUST_USE;
/*
 * Replace *cert by a copy decoded from its own DER. A certificate built in this process over a
 * key that lives in a token can carry provider state that makes OpenSSL's path validation fail
 * without an error; the same bytes decoded afresh verify (research SCALEOUT-HSM.md §B.1).
 * SC_ERR_NOMEM / SC_ERR_INTERNAL; *cert unchanged on failure.
 */
sc_err cli_cert_reread(X509 **cert) SC_MUST_USE;
/* The selfcert-spd program: $SELFCERT_SPD, else beside this program, else on PATH. */
const char *cli_spd_path(void);
/* This program's own path (/proc/self/exe). */
const char *cli_self_path(void);

/* Commands (argc/argv after the command words). */
sc_err cmd_mfr_init(int argc, char **argv);
sc_err cmd_mfr_personalize(int argc, char **argv);
sc_err cmd_mfr_revoke(int argc, char **argv);  /* cmd_mfr_revoke.c */
sc_err cmd_net_revoked(int argc, char **argv); /* cmd_revoked.c */
struct sc_revoked;
/* A revocation list file checked against the network root at path (stale accepted if any_age). */
sc_err cli_revoked_load(const char *file, const char *net_root_path, int any_age,
    struct sc_revoked **out) SC_MUST_USE;
sc_err cmd_net_init(int argc, char **argv);
sc_err cmd_net_profile(int argc, char **argv);
sc_err cmd_net_batch(int argc, char **argv);
sc_err cmd_net_device(int argc, char **argv);      /* cmd_registry.c: add|revoke|list|… */
sc_err cmd_net_operator(int argc, char **argv);    /* cmd_operator.c: add|remove|list */
sc_err cmd_net_db(int argc, char **argv);          /* cmd_registry.c: migrate|status|check */
sc_err cmd_net_server_cert(int argc, char **argv); /* cmd_net.c */
sc_err cmd_sp_init(int argc, char **argv);
sc_err cmd_device_info(int argc, char **argv);
sc_err cmd_device_challenge(int argc, char **argv);
sc_err cmd_device_proof(int argc, char **argv);
sc_err cmd_device_issue(int argc, char **argv);
sc_err cmd_device_gate_challenge(int argc, char **argv); /* cmd_gate.c (issue #12) */
sc_err cmd_net_authorize(int argc, char **argv);         /* cmd_gate.c (issue #12) */
sc_err cmd_device_keys(int argc, char **argv);
sc_err cmd_device_sign(int argc, char **argv);
sc_err cmd_device_delete(int argc, char **argv);
sc_err cmd_device_cert(int argc, char **argv);
sc_err cmd_device_crl(int argc, char **argv); /* cmd_device_crl.c */

/* Whether path can be written (a file made and removed in its folder; not a folder itself):
 * SC_ERR_IO naming it. Checked before a step that cannot be undone (device issue). */
sc_err cli_out_writable(const char *path) SC_MUST_USE;
sc_err cmd_verify(int argc, char **argv);
sc_err cmd_inspect(int argc, char **argv);
sc_err cmd_demo(int argc, char **argv);

/* The text of the first attribute nid (NID_organizationName, …) of cert's subject, into out.
 * SC_ERR_NOT_FOUND if absent. */
sc_err cli_subject_attr(X509 *cert, int nid, char *out, size_t out_len) SC_MUST_USE;
/* One-line subject, RFC 2253 style ("serialNumber=D1,O=Net,CN=D1"), into out. */
void cli_subject_line(X509 *cert, char *out, size_t out_len);
/* notAfter of cert as RFC 3339 into out (at least 21 bytes). */
void cli_not_after(X509 *cert, char *out, size_t out_len);

/* JSON string output (escaped) for --json. */
void cli_json_str(FILE *f, const char *s);
/*
 * A command's --json result: o printed as one compact line on stdout, then released (the
 * reference is taken, also on failure). o NULL (a json_pack that could not build it) or a dump
 * that fails: SC_ERR_NOMEM.
 */
sc_err cli_json_out(json_t *o) SC_MUST_USE;
/* dir + "/" + name as a new JSON string (NULL if out of memory), for the files a command wrote. */
json_t *cli_json_path(const char *dir, const char *name);
/* notAfter of cert as an RFC 3339 JSON string (NULL if out of memory). */
json_t *cli_json_not_after(X509 *cert);
/* An ASN1_TIME (a CRL's nextUpdate, …) as an RFC 3339 JSON string; JSON null if t is NULL. */
json_t *cli_json_time(const ASN1_TIME *t);

#endif
