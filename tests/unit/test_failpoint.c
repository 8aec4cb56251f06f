// SPDX-License-Identifier: Apache-2.0
/*
 * test_failpoint.c — the fail point scheme (failpoint.c): the variable's grammar with the exact
 * usage details (the SP's own wording included), read once, nth counted per name, error mode,
 * trace lines, exit mode ending a child with the table's code, stop mode pausing one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "failpoint.h"

#ifdef SC_FAILPOINTS
#define ENV "SC_TEST_FAILPOINT"

static const char *const names[] = { "alpha", "beta", "gamma" };

/* A fresh table (state zero) armed by value (NULL: unset); the result of loading it. */
static sc_err load(struct sc_failpoints *fp, unsigned allow, const char *value)
{
	*fp = (struct sc_failpoints){ .env = ENV,
		.prog = "sc-test",
		.names = names,
		.n = 3,
		.exit_code = 70,
		.allow = allow };
	if (value != NULL)
		assert_int_equal(setenv(ENV, value, 1), 0);
	else
		assert_int_equal(unsetenv(ENV), 0);
	sc_err_clear();
	return sc_failpoint_load(fp);
}

static void expect_usage(unsigned allow, const char *value, const char *detail)
{
	struct sc_failpoints fp;

	if (load(&fp, allow, value) != SC_ERR_USAGE)
		fail_msg("'%s' not refused as usage", value);
	if (strcmp(sc_err_detail(), detail) != 0)
		fail_msg("'%s': detail '%s', expected '%s'", value, sc_err_detail(), detail);
	/* Nothing armed: every point passes. */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(sc_failpoint_hit(&fp, i), SC_OK);
}

static void test_grammar(void **state)
{
	(void)state;
	expect_usage(SC_FP_ALLOW_ERROR, "delta:1",
	    ENV ": unknown fail point 'delta' (alpha … gamma)");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha",
	    ENV " 'alpha': expected NAME:NTH[:exit|:error] or trace");
	expect_usage(SC_FP_ALLOW_STOP, "x", ENV " 'x': expected NAME:NTH[:exit|:stop] or trace");
	expect_usage(SC_FP_ALLOW_ERROR | SC_FP_ALLOW_STOP, "Trace",
	    ENV " 'Trace': expected NAME:NTH[:exit|:error|:stop] or trace");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:0", ENV ": hit '0' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:01", ENV ": hit '01' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:", ENV ": hit '' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:1x", ENV ": hit '1x' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:+1", ENV ": hit '+1' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:1000001",
	    ENV ": hit '1000001' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:99999999999999999999999",
	    ENV ": hit '99999999999999999999999' is not a number in 1..1000000");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:1:stop",
	    ENV ": mode 'stop' is neither exit nor error");
	expect_usage(SC_FP_ALLOW_STOP, "alpha:1:error",
	    ENV ": mode 'error' is neither exit nor stop");
	expect_usage(SC_FP_ALLOW_ERROR | SC_FP_ALLOW_STOP,
	    "alpha:1:", ENV ": mode '' is not exit, error or stop");
	expect_usage(0, "alpha:1:error", ENV ": mode 'error' is not exit");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:1:error:x",
	    ENV ": mode 'error:x' is neither exit nor error");
	expect_usage(SC_FP_ALLOW_ERROR, "alpha:1:EXIT",
	    ENV ": mode 'EXIT' is neither exit nor error");
	{
		char longv[80];
		memset(longv, 'a', sizeof(longv) - 1);
		longv[sizeof(longv) - 1] = '\0';
		expect_usage(SC_FP_ALLOW_ERROR, longv, ENV ": longer than 63 bytes");
	}
	/* 63 bytes is still read (and then judged by name). */
	{
		char v[64];
		memset(v, 'b', 61);
		memcpy(v + 61, ":1", 3);
		assert_int_equal(strlen(v), 63);
		struct sc_failpoints fp;
		assert_int_equal(load(&fp, 0, v), SC_ERR_USAGE);
		assert_non_null(strstr(sc_err_detail(), "unknown fail point 'bbbb"));
	}
}

/* The SP's table keeps store.c's exact wording (test_faults_crash.sh greps it). */
static void test_spd_wording(void **state)
{
	static const char *const spd[] = {
		"store-open",
		"store-write",
		"store-fsync",
		"store-rename",
		"store-dirsync",
		"counter-open",
		"counter-write",
		"counter-fsync",
		"counter-rename",
		"counter-dirsync",
		"commit-done",
	};
	struct sc_failpoints fp = { .env = "SC_TEST_SPD_FAILPOINT",
		.prog = "selfcert-spd",
		.names = spd,
		.n = 11,
		.exit_code = 70,
		.allow = SC_FP_ALLOW_ERROR };

	(void)state;
	assert_int_equal(setenv("SC_TEST_SPD_FAILPOINT", "store-renam:1", 1), 0);
	assert_int_equal(sc_failpoint_load(&fp), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(),
	    "SC_TEST_SPD_FAILPOINT: unknown fail point 'store-renam' (store-open … commit-done)");
	unsetenv("SC_TEST_SPD_FAILPOINT");
}

static void test_unset_and_once(void **state)
{
	struct sc_failpoints fp;

	(void)state;
	assert_int_equal(load(&fp, SC_FP_ALLOW_ERROR, NULL), SC_OK);
	for (int k = 0; k < 5; k++)
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(sc_failpoint_hit(&fp, i), SC_OK);
	assert_int_equal(fp.hits[1], 5);
	/* Empty is unset. */
	assert_int_equal(load(&fp, SC_FP_ALLOW_ERROR, ""), SC_OK);
	assert_int_equal(sc_failpoint_hit(&fp, 0), SC_OK);
	/* Read once: a later change of the variable is not seen. */
	assert_int_equal(load(&fp, SC_FP_ALLOW_ERROR, "alpha:1:error"), SC_OK);
	assert_int_equal(setenv(ENV, "nonsense", 1), 0);
	assert_int_equal(sc_failpoint_load(&fp), SC_OK);
	assert_int_equal(sc_failpoint_hit(&fp, 0), SC_ERR_IO);
	/* An id outside the table is the caller's bug, not a pass. */
	assert_int_equal(sc_failpoint_hit(&fp, 3), SC_ERR_INTERNAL);
	unsetenv(ENV);
}

static void test_error_nth(void **state)
{
	struct sc_failpoints fp;

	(void)state;
	assert_int_equal(load(&fp, SC_FP_ALLOW_ERROR, "beta:3:error"), SC_OK);
	/* Other names never fire, however often passed; beta fires on its third pass only. */
	for (int k = 0; k < 4; k++)
		assert_int_equal(sc_failpoint_hit(&fp, 0), SC_OK);
	assert_int_equal(sc_failpoint_hit(&fp, 1), SC_OK);
	assert_int_equal(sc_failpoint_hit(&fp, 2), SC_OK);
	assert_int_equal(sc_failpoint_hit(&fp, 1), SC_OK);
	sc_err_clear();
	assert_int_equal(sc_failpoint_hit(&fp, 1), SC_ERR_IO);
	assert_string_equal(sc_err_detail(), "fail point beta #3: injected error");
	assert_int_equal(sc_failpoint_hit(&fp, 1), SC_OK);
	assert_int_equal(fp.hits[1], 4);
	assert_int_equal(fp.hits[0], 4);
	unsetenv(ENV);
}

/* Runs n passes of point id with stderr sent to a file; returns what was written (static). */
static const char *stderr_of(struct sc_failpoints *fp, unsigned id, int n)
{
	static char out[512];
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t got;

	assert_non_null(f);
	fflush(stderr);
	assert_true(dup2(fileno(f), 2) >= 0);
	for (int k = 0; k < n; k++)
		assert_int_equal(sc_failpoint_hit(fp, id), SC_OK);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(f);
	got = fread(out, 1, sizeof(out) - 1, f);
	out[got] = '\0';
	fclose(f);
	return out;
}

static void test_trace(void **state)
{
	struct sc_failpoints fp;

	(void)state;
	assert_int_equal(load(&fp, 0, "trace"), SC_OK);
	assert_string_equal(stderr_of(&fp, 2, 2),
	    "sc-test: fail point gamma #1\n"
	    "sc-test: fail point gamma #2\n");
	assert_string_equal(stderr_of(&fp, 0, 1), "sc-test: fail point alpha #1\n");
	unsetenv(ENV);
}

/* Fork; the child loads value and passes gamma three times, then exits 0. */
static pid_t child(unsigned allow, const char *value)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sc_failpoints fp;
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		if (load(&fp, allow, value) != SC_OK)
			_exit(2);
		for (int k = 0; k < 3; k++)
			if (sc_failpoint_hit(&fp, 2) != SC_OK)
				_exit(3);
		_exit(0);
	}
	return pid;
}

static void test_exit_and_stop(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	/* exit (the default and by name): the table's code, at the nth pass. */
	pid = child(0, "gamma:2");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 70);
	pid = child(0, "gamma:3:exit");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 70);
	/* Past the passes the child makes: it runs to the end. */
	pid = child(0, "gamma:4");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* stop: the child stops itself once, goes on when continued, and does not stop again. */
	pid = child(SC_FP_ALLOW_STOP, "gamma:2:stop");
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(WSTOPSIG(status), SIGSTOP);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_spd_wording),
		cmocka_unit_test(test_unset_and_once),
		cmocka_unit_test(test_error_nth),
		cmocka_unit_test(test_trace),
		cmocka_unit_test(test_exit_and_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void)
{
	/* A release-like build: there is nothing to test, and the binary must hold nothing. */
	puts("fail points not compiled in (SC_FAILPOINTS=OFF): skipped");
	return 77;
}
#endif
