// SPDX-License-Identifier: Apache-2.0
/*
 * test_err.c — the error table (unique lower-case names, round trips, exit codes of
 * spec/CLI.md) and the per-thread detail line (formatting, truncation, self-reference, threads).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <selfcert/err.h>

#define FIRST_CODE SC_OK
#define LAST_CODE SC_ERR_LAST

/*
 * The exit code each error must give, by spec/CLI.md: 2 usage, 3 system (I/O, memory, a peer
 * that does not answer, our own bugs), 1 every refusal. Written out here rather than derived,
 * so a change to the table shows up as a test failure.
 */
static int expected_exit(sc_err e)
{
	switch (e) {
	case SC_OK: return 0;
	case SC_ERR_USAGE: return 2;
	case SC_ERR_INTERNAL:
	case SC_ERR_NOMEM:
	case SC_ERR_IO:
	case SC_ERR_PEER:
	case SC_ERR_EXISTS: /* the file system refuses: a system condition, not a policy check */
		return 3;
	default: return 1;
	}
}

static void test_names_unique_and_lower_case(void **state)
{
	(void)state;
	for (int a = FIRST_CODE; a >= LAST_CODE; a--) {
		const char *na = sc_err_name((sc_err)a);

		assert_non_null(na);
		assert_string_not_equal(na, "unknown");
		assert_true(strlen(na) > 0);
		for (const char *p = na; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
		assert_true(na[0] != '-' && na[strlen(na) - 1] != '-');
		for (int b = a - 1; b >= LAST_CODE; b--)
			assert_string_not_equal(na, sc_err_name((sc_err)b));
		assert_non_null(sc_err_message((sc_err)a));
		assert_string_not_equal(sc_err_message((sc_err)a), "unknown error");
	}
	/* The names the command-line contract quotes. */
	assert_string_equal(sc_err_name(SC_ERR_PROFILE_SIGNATURE), "profile-signature");
	assert_string_equal(sc_err_name(SC_ERR_DEVICE_MISMATCH), "device-mismatch");
	assert_string_equal(sc_err_name(SC_ERR_REPLAY), "replay");
	assert_string_equal(sc_err_name(SC_ERR_CHALLENGE), "challenge");
	assert_string_equal(sc_err_name(SC_ERR_PROFILE_EXPIRED), "profile-expired");
	assert_string_equal(sc_err_name(SC_ERR_VALIDITY), "validity");
	assert_string_equal(sc_err_name(SC_ERR_ALGORITHM), "algorithm");
	assert_string_equal(sc_err_name(SC_ERR_UNTRUSTED_SIGNER), "untrusted-signer");
	assert_string_equal(sc_err_name(SC_ERR_MALFORMED), "malformed");
	assert_string_equal(sc_err_name(SC_ERR_STORE_FULL), "store-full");
	assert_string_equal(sc_err_name(SC_ERR_LOCKED), "locked");
	assert_string_equal(sc_err_name(SC_ERR_TRAILING), "trailing-data");
	assert_string_equal(sc_err_name(SC_ERR_NETWORK), "network-unknown");
	/* The registry's refusals: the same names as provd's API codes (docs/API.md). */
	assert_string_equal(sc_err_name(SC_ERR_UNKNOWN_DEVICE), "unknown-device");
	assert_string_equal(sc_err_name(SC_ERR_REVOKED), "revoked");
	assert_string_equal(sc_err_name(SC_ERR_RATE_LIMITED), "rate-limited");
	assert_string_equal(sc_err_name(SC_ERR_PROFILE_UNKNOWN), "profile-unknown");
	assert_string_equal(sc_err_name(SC_ERR_PROFILE_CONSUMED), "profile-consumed");
	assert_string_equal(sc_err_name(SC_ERR_NOT_DEVICE_CA), "not-device-ca");
	assert_int_equal(sc_err_exit_code(SC_ERR_NOT_DEVICE_CA), 1);
}

static void test_unknown_codes(void **state)
{
	static const int bad[] = { 1, 7, LAST_CODE - 1, -1000, (int)INT32_MIN, (int)INT32_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_string_equal(sc_err_name((sc_err)bad[i]), "unknown");
		assert_string_equal(sc_err_message((sc_err)bad[i]), "unknown error");
		assert_int_equal(sc_err_exit_code((sc_err)bad[i]), 3);
	}
}

static void test_from_name_round_trip(void **state)
{
	(void)state;
	for (int a = FIRST_CODE; a >= LAST_CODE; a--)
		assert_int_equal(sc_err_from_name(sc_err_name((sc_err)a)), a);
	assert_int_equal(sc_err_from_name("no-such-error"), SC_ERR_INTERNAL);
	assert_int_equal(sc_err_from_name(""), SC_ERR_INTERNAL);
	assert_int_equal(sc_err_from_name("unknown"), SC_ERR_INTERNAL);
	assert_int_equal(sc_err_from_name("Replay"), SC_ERR_INTERNAL); /* exact, case-sensitive */
	assert_int_equal(sc_err_from_name("replay "), SC_ERR_INTERNAL);
	assert_int_equal(sc_err_from_name(NULL), SC_ERR_INTERNAL);
}

static void test_exit_codes(void **state)
{
	(void)state;
	for (int a = FIRST_CODE; a >= LAST_CODE; a--) {
		int got = sc_err_exit_code((sc_err)a);

		if (got != expected_exit((sc_err)a))
			fail_msg("%s: exit code %d, expected %d", sc_err_name((sc_err)a), got,
			    expected_exit((sc_err)a));
	}
	assert_int_equal(sc_err_exit_code(SC_OK), 0);
	assert_int_equal(sc_err_exit_code(SC_ERR_REPLAY), 1);
	assert_int_equal(sc_err_exit_code(SC_ERR_USAGE), 2);
	assert_int_equal(sc_err_exit_code(SC_ERR_IO), 3);
	assert_int_equal(sc_err_exit_code(SC_ERR_PEER), 3);
}

static void test_fail_formats_and_returns_code(void **state)
{
	(void)state;
	sc_err_clear();
	assert_string_equal(sc_err_detail(), "");
	assert_int_equal(sc_fail(SC_ERR_VALIDITY, "validity.%s is %d days", "notAfter", 42),
	    SC_ERR_VALIDITY);
	assert_string_equal(sc_err_detail(), "validity.notAfter is 42 days");
	/* The next failure replaces the detail; clear empties it. */
	assert_int_equal(sc_fail(SC_ERR_IO, "x"), SC_ERR_IO);
	assert_string_equal(sc_err_detail(), "x");
	assert_int_equal(sc_fail(SC_ERR_IO, "%s", ""), SC_ERR_IO);
	assert_string_equal(sc_err_detail(), "");
	sc_fail(SC_ERR_IO, "again");
	sc_err_clear();
	assert_string_equal(sc_err_detail(), "");
}

static void test_fail_truncates_at_255(void **state)
{
	char big[1000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sc_fail(SC_ERR_MALFORMED, "%s", big);
	assert_int_equal(strlen(sc_err_detail()), 255);
	assert_memory_equal(sc_err_detail(), big, 255);

	big[255] = '\0'; /* exactly 255 fit */
	sc_fail(SC_ERR_MALFORMED, "%s", big);
	assert_string_equal(sc_err_detail(), big);
	big[255] = 'a';
	big[256] = '\0'; /* 256 lose the last byte */
	sc_fail(SC_ERR_MALFORMED, "%s", big);
	assert_int_equal(strlen(sc_err_detail()), 255);
}

/*
 * Callers wrap the previous detail (sc_fail(r, "%s: %s", path, sc_err_detail())); the new
 * line must hold the old one intact, not a copy of itself.
 */
static void test_fail_may_quote_its_own_detail(void **state)
{
	char big[400];

	(void)state;
	sc_fail(SC_ERR_MALFORMED, "certificate: 3 trailing bytes");
	sc_fail(SC_ERR_PEER, "%s answer: %s", "keys", sc_err_detail());
	assert_string_equal(sc_err_detail(), "keys answer: certificate: 3 trailing bytes");

	sc_fail(SC_ERR_IO, "short");
	sc_fail(SC_ERR_IO, "%s: %s", "/a/path/longer/than/the/previous/detail", sc_err_detail());
	assert_string_equal(sc_err_detail(), "/a/path/longer/than/the/previous/detail: short");

	/* A full-length detail quoted behind a prefix is cut at 255 bytes, prefix kept. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sc_fail(SC_ERR_IO, "%s", big);
	sc_fail(SC_ERR_IO, "p: %s", sc_err_detail());
	assert_int_equal(strlen(sc_err_detail()), 255);
	assert_memory_equal(sc_err_detail(), "p: zzz", 6);
}

static void test_fail_ossl(void **state)
{
	(void)state;
	/* With OpenSSL's queue empty: just the text. */
	ERR_clear_error();
	assert_int_equal(sc_fail_ossl(SC_ERR_INTERNAL, "signing"), SC_ERR_INTERNAL);
	assert_string_equal(sc_err_detail(), "signing");

	/* A real OpenSSL failure: its reason is appended and the queue is drained. */
	assert_null(EVP_get_digestbyname("no-such-digest-xyz"));
	assert_null(EVP_PKEY_Q_keygen(NULL, NULL, "NO-SUCH-ALGORITHM"));
	assert_int_not_equal(ERR_peek_error(), 0);
	assert_int_equal(sc_fail_ossl(SC_ERR_ALGORITHM, "keygen"), SC_ERR_ALGORITHM);
	assert_true(strncmp(sc_err_detail(), "keygen (", 8) == 0);
	assert_true(sc_err_detail()[strlen(sc_err_detail()) - 1] == ')');
	assert_int_equal(ERR_peek_error(), 0);
}

/* Each thread sees only its own detail, even while the other writes. */
struct thread_arg {
	int id;
	int ok;
	pthread_barrier_t *bar;
};

#define THREAD_ROUNDS 2000

static void *detail_thread(void *p)
{
	struct thread_arg *a = p;
	char want[64];

	a->ok = 1;
	sc_err_clear();
	pthread_barrier_wait(a->bar);
	if (sc_err_detail()[0] != '\0')
		a->ok = 0;
	for (int i = 0; i < THREAD_ROUNDS; i++) {
		snprintf(want, sizeof(want), "thread %d round %d", a->id, i);
		sc_fail(SC_ERR_IO, "thread %d round %d", a->id, i);
		if (strcmp(sc_err_detail(), want) != 0)
			a->ok = 0;
	}
	pthread_barrier_wait(a->bar);
	return NULL;
}

static void test_detail_per_thread(void **state)
{
	pthread_barrier_t bar;
	pthread_t t[2];
	struct thread_arg args[2] = { { .id = 1 }, { .id = 2 } };

	(void)state;
	sc_fail(SC_ERR_USAGE, "main thread's detail");
	assert_int_equal(pthread_barrier_init(&bar, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		args[i].bar = &bar;
		assert_int_equal(pthread_create(&t[i], NULL, detail_thread, &args[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&bar);
	assert_true(args[0].ok);
	assert_true(args[1].ok);
	assert_string_equal(sc_err_detail(), "main thread's detail");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_unique_and_lower_case),
		cmocka_unit_test(test_unknown_codes),
		cmocka_unit_test(test_from_name_round_trip),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_fail_formats_and_returns_code),
		cmocka_unit_test(test_fail_truncates_at_255),
		cmocka_unit_test(test_fail_may_quote_its_own_detail),
		cmocka_unit_test(test_fail_ossl),
		cmocka_unit_test(test_detail_per_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
