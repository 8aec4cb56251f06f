// SPDX-License-Identifier: Apache-2.0
/*
 * test_conf.c — the configuration files (conf.c): good lines become flags in order; every refusal
 * (truncation, unknown or repeated key, oversize file/line/count, bad value, NUL, no '=') by its
 * error and the file:line it names; the merge puts the file before the command line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "testutil.h"

static const struct option opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "threads", required_argument, NULL, 't' },
	{ "insecure-http", no_argument, NULL, 'i' },
	{ "config", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static sc_err parse(const char *text, struct sc_conf_args *a)
{
	return sc_conf_parse("p.conf", text, strlen(text), opts, a);
}

static void refused(const char *text, sc_err want, const char *detail)
{
	struct sc_conf_args a = { .n = 0 };

	assert_int_equal(parse(text, &a), want);
	assert_string_equal(sc_err_detail(), detail);
	assert_int_equal(a.n, 0);
}

static void test_good(void **state)
{
	struct sc_conf_args a = { .n = 0 };
	(void)state;

	assert_int_equal(parse("# provd\n\n  listen = 127.0.0.1:8443  \nthreads=8\r\n"
	                       "insecure-http = yes\n\t# done\n",
	                     &a),
	    SC_OK);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.v[0], "--listen=127.0.0.1:8443");
	assert_string_equal(a.v[1], "--threads=8");
	assert_string_equal(a.v[2], "--insecure-http");
	sc_conf_args_free(&a);
	assert_int_equal(parse("insecure-http = no\n", &a), SC_OK);
	assert_int_equal(a.n, 0);
	assert_int_equal(parse("", &a), SC_OK);
	assert_int_equal(a.n, 0);
}

static void test_refusals(void **state)
{
	char big[SC_CONF_FILE_MAX + 2], line[SC_CONF_LINE_MAX + 16];
	(void)state;

	refused("listen = 1.2.3.4:1", SC_ERR_MALFORMED,
	    "p.conf: no newline at the end (a cut file?)");
	refused("# a\nlisten\n", SC_ERR_MALFORMED, "p.conf:2: expected key = value");
	refused("lsten = x\n", SC_ERR_MALFORMED,
	    "p.conf:1: unknown key 'lsten' (the long flags of --help)");
	refused("config = other.conf\n", SC_ERR_MALFORMED,
	    "p.conf:1: unknown key 'config' (the long flags of --help)");
	refused("help = yes\n", SC_ERR_MALFORMED,
	    "p.conf:1: unknown key 'help' (the long flags of --help)");
	refused("threads = 4\nthreads = 5\n", SC_ERR_MALFORMED, "p.conf:2: threads: set twice");
	refused("threads =\n", SC_ERR_MALFORMED, "p.conf:1: threads: empty value");
	refused("insecure-http = maybe\n", SC_ERR_MALFORMED,
	    "p.conf:1: insecure-http: expected yes or no");

	/* A NUL inside the counted length (strlen would stop at it: call directly). */
	struct sc_conf_args a = { .n = 0 };
	assert_int_equal(sc_conf_parse("p.conf", "listen = a\0b\n", 13, opts, &a),
	    SC_ERR_MALFORMED);
	assert_string_equal(sc_err_detail(), "p.conf: a NUL byte (not a text file)");

	memset(big, '#', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(sc_conf_parse("p.conf", big, sizeof(big), opts, &a), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "p.conf: 65538 bytes, at most 65536");

	memset(line, 'x', sizeof(line));
	memcpy(line, "listen = ", 9);
	line[sizeof(line) - 1] = '\n';
	assert_int_equal(sc_conf_parse("p.conf", line, sizeof(line), opts, &a), SC_ERR_OVERSIZE);
	assert_string_equal(sc_err_detail(), "p.conf:1: line of 1039 bytes, at most 1024");
	assert_int_equal(a.n, 0);
}

static void test_merge(void **state)
{
	char path[4096], *orig[] = { "prog", "--threads", "2", NULL, NULL, NULL };
	char **argv = orig;
	int argc = 3;
	(void)state;

	/* No --config: unchanged. */
	assert_int_equal(sc_conf_merge(&argc, &argv, opts), SC_OK);
	assert_ptr_equal(argv, orig);

	snprintf(path, sizeof(path), "%s/p.conf", sc_test_tmpdir());
	const char *good = "threads = 8\nlisten = 127.0.0.1:1\n", *bad = "threads = 8\nlsten = x\n";
	sc_test_write_file(path, good, strlen(good));
	orig[3] = "--config";
	orig[4] = path;
	argc = 5;
	assert_int_equal(sc_conf_merge(&argc, &argv, opts), SC_OK);
	assert_int_equal(argc, 5);
	assert_string_equal(argv[0], "prog");
	assert_string_equal(argv[1], "--threads=8"); /* the file first … */
	assert_string_equal(argv[2], "--listen=127.0.0.1:1");
	assert_string_equal(argv[3], "--threads"); /* … so getopt sees the command line last */
	assert_string_equal(argv[4], "2");
	assert_null(argv[5]);
	assert_int_equal(sc_conf_recheck(), SC_OK);

	/* The file broken afterwards: the recheck (SIGHUP) names it. */
	sc_test_write_file(path, bad, strlen(bad));
	assert_int_equal(sc_conf_recheck(), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "p.conf:2: unknown key 'lsten'"));

	char *missing[] = { "prog", "--config=/nonexistent/selfcert.conf", NULL };
	argv = missing;
	argc = 2;
	assert_int_equal(sc_conf_merge(&argc, &argv, opts), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "/nonexistent/selfcert.conf"));
	char *dangling[] = { "prog", "--config", NULL };
	argv = dangling;
	argc = 2;
	assert_int_equal(sc_conf_merge(&argc, &argv, opts), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "--config: missing the file");
	sc_test_rmdir(sc_test_tmpdir());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
