// SPDX-License-Identifier: Apache-2.0
/*
 * test_log.c — the daemons' log lines (log.c): the program prefix, the error name, control bytes
 * escaped so no input forges a line, long lines cut; and the key door (keyopen.c): a file opens,
 * a pkcs11: URI and an empty spec are refused by name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <selfcert/alg.h>
#include "keyopen.h"
#include "log.h"
#include "pem.h"
#include "testutil.h"

/* Runs fn with stderr sent to a file; returns what it wrote (static storage). */
static const char *captured(void (*fn)(void))
{
	static char out[2 * SC_LOG_LINE_MAX];
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(f);
	fflush(stderr);
	assert_true(dup2(fileno(f), 2) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	return out;
}

static void say_plain(void)
{
	sc_log("serving %s on %s", "sp", "sp.sock");
}
static void say_err(void)
{
	sc_log_err(SC_ERR_DENIED, "uid %d", 1000);
}
static void say_failure(void)
{
	(void)sc_fail(SC_ERR_STORE_DAMAGED, "store: tag does not verify");
	sc_log_failure(SC_ERR_STORE_DAMAGED);
}
static void say_forged(void)
{
	sc_log("GET %s", "/v1/devices/X\nselfcert-provd: revoked ALL\r\x7f");
}
static void say_long(void)
{
	static char big[3 * SC_LOG_LINE_MAX];
	memset(big, 'a', sizeof(big) - 1);
	sc_log("%s", big);
}

static void test_lines(void **state)
{
	(void)state;
	sc_log_init("selfcert-test");
	assert_string_equal(captured(say_plain), "selfcert-test: serving sp on sp.sock\n");
	assert_string_equal(captured(say_err), "selfcert-test: denied: uid 1000\n");
	assert_string_equal(captured(say_failure),
	    "selfcert-test: store-damaged: store: tag does not verify\n");
}

static void test_no_forged_line(void **state)
{
	const char *s;

	(void)state;
	sc_log_init("selfcert-provd");
	s = captured(say_forged);
	assert_string_equal(s,
	    "selfcert-provd: GET /v1/devices/X\\x0aselfcert-provd: revoked "
	    "ALL\\x0d\\x7f\n");
	/* One line only. */
	assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
}

static void test_long_line_cut(void **state)
{
	const char *s;

	(void)state;
	sc_log_init("selfcert-spd");
	s = captured(say_long);
	assert_true(strlen(s) < SC_LOG_LINE_MAX + 32);
	assert_memory_equal(s + strlen(s) - 4, "...\n", 4);
}

static void test_key_open(void **state)
{
	const char *dir = sc_test_tmpdir();
	char path[512];
	EVP_PKEY *key = NULL, *back = NULL;

	(void)state;
	assert_int_equal(sc_key_open("", &back), SC_ERR_USAGE);
	assert_null(back);
	assert_int_equal(sc_key_open("pkcs11:token=op;object=signer", &back), SC_ERR_USAGE);
	assert_non_null(strstr(sc_err_detail(), "pkcs11:token=op;object=signer"));
	assert_null(back);
	snprintf(path, sizeof(path), "%s/signer.key", dir);
	assert_int_equal(sc_key_open(path, &back), SC_ERR_IO);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
	assert_int_equal(sc_write_key(path, key), SC_OK);
	assert_int_equal(sc_key_open(path, &back), SC_OK);
	assert_int_equal(EVP_PKEY_eq(key, back), 1);
	EVP_PKEY_free(back);
	EVP_PKEY_free(key);
	sc_test_rmdir(dir);
}

/* Under systemd: JOURNAL_STREAM names our stderr, so each line opens with its priority. */
static void say_journal(void)
{
	struct stat st;
	char js[64];

	assert_int_equal(fstat(2, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	sc_log_init("selfcert-spd");
	sc_log("serving");
	sc_log("warning: sandbox off");
	sc_log_err(SC_ERR_DENIED, "uid %d", 1000);
	sc_log_named("rate-limited", "retrying in %ds", 4);
	/* Another stream (stderr redirected after start): no prefixes. */
	setenv("JOURNAL_STREAM", "1:2", 1);
	sc_log_init("selfcert-spd");
	sc_log("plain again");
	unsetenv("JOURNAL_STREAM");
	sc_log_init("selfcert-spd");
}

static void test_journal_priorities(void **state)
{
	(void)state;
	assert_string_equal(captured(say_journal),
	    "<6>selfcert-spd: serving\n"
	    "<4>selfcert-spd: warning: sandbox off\n"
	    "<3>selfcert-spd: denied: uid 1000\n"
	    "<3>selfcert-spd: rate-limited: retrying in 4s\n"
	    "selfcert-spd: plain again\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_journal_priorities),
		cmocka_unit_test(test_no_forged_line),
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_key_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
