// SPDX-License-Identifier: Apache-2.0
/*
 * conf.h — the daemons' configuration files (selfcert.conf(5)): `key = value` lines whose keys are
 * the program's long flags, turned into flags placed before the command line's own, so getopt
 * reads the file first and the command line wins (internal).
 */
#ifndef SC_CONF_H
#define SC_CONF_H

#include <getopt.h>
#include <stddef.h>
#include <selfcert/err.h>

#define SC_CONF_FILE_MAX 65536 /* bytes: a larger file is SC_ERR_OVERSIZE */
#define SC_CONF_LINE_MAX 1024  /* bytes in one line, without its newline */
#define SC_CONF_KEYS_MAX 64    /* settings in one file */

/* The flags a file gave: "--key=value" or "--key" strings, owned (sc_conf_args_free). */
struct sc_conf_args {
	char *v[SC_CONF_KEYS_MAX];
	size_t n;
};

/*
 * Parse text (len bytes; name is the file name the errors quote) against opts, a getopt_long
 * table. Each line: blank, `# comment`, or `key = value` (blanks around either are dropped).
 * A key must be a long option of opts other than "config", "help" and "version", at most once; an
 * option without an argument takes `yes` (the flag is given) or `no` (it is not). The text must
 * end with a newline (a missing one means a cut file). SC_ERR_MALFORMED (unknown or repeated key,
 * a line without '=', an empty or bad value, a NUL byte, no final newline) or SC_ERR_OVERSIZE
 * (file, line or count over the limits above), each naming "<name>:<line>"; out is then empty.
 */
sc_err sc_conf_parse(const char *name, const char *text, size_t len, const struct option *opts,
    struct sc_conf_args *out) SC_MUST_USE;

void sc_conf_args_free(struct sc_conf_args *a);

/*
 * If argv holds `--config FILE` (or `--config=FILE`), read FILE (SC_ERR_IO naming it) and replace
 * argc and argv with: argv[0], the file's flags, then the rest of argv without --config. The new
 * vector is allocated once and lives until exit (the strings getopt hands out point into it);
 * the caller keeps the original argv (a SIGHUP restart re-reads the file). Without --config,
 * nothing changes. Errors as sc_conf_parse, or SC_ERR_USAGE for a --config without a file.
 */
sc_err sc_conf_merge(int *argc, char ***argv, const struct option *opts) SC_MUST_USE;

/* Read and parse again the file sc_conf_merge merged (SC_OK if there was none): a reload checks
 * the file's form before it restarts on it. Values are checked by the flags' own parsing. */
sc_err sc_conf_recheck(void) SC_MUST_USE;

#endif
