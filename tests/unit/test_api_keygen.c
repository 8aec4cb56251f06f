// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_keygen.c — selfcert-provd's server key generation pool (src/provd/keygen.c): keys are
 * made and handed back, a pool holding all the jobs it admits refuses the next one at once with
 * PROVD_ERR_BUSY (503 unavailable with Retry-After), a caller that stops waiting leaves nothing
 * behind, and stopping with jobs queued fails them and returns once every caller has left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <openssl/evp.h>
#include <selfcert/alg.h>
#include "apierr.h"
#include "keygen.h"

struct caller {
	struct provd_keygen *kg;
	enum sc_alg alg;
	long wait_ms;
	sc_err r;
	EVP_PKEY *key;
	pthread_t t;
};

static void *call(void *arg)
{
	struct caller *c = arg;

	c->r = provd_keygen_run(c->kg, c->alg, c->wait_ms, &c->key);
	return NULL;
}

static void start_callers(struct caller *c, size_t n, struct provd_keygen *kg, enum sc_alg alg)
{
	for (size_t i = 0; i < n; i++) {
		c[i].kg = kg;
		c[i].alg = alg;
		c[i].wait_ms = 120000;
		c[i].key = NULL;
		assert_int_equal(pthread_create(&c[i].t, NULL, call, &c[i]), 0);
	}
}

static void join_callers(struct caller *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pthread_join(c[i].t, NULL);
}

/* Wait (up to 120 s: RSA-4096 on a loaded CI machine) until the pool holds n jobs. */
static int wait_pending(struct provd_keygen *kg, unsigned n)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 120000; i++) {
		if (provd_keygen_pending(kg) == n)
			return 1;
		nanosleep(&ms, NULL);
	}
	return 0;
}

static void test_limits(void **state)
{
	struct provd_keygen *kg = (struct provd_keygen *)1;

	(void)state;
	assert_int_equal(provd_keygen_start(0, 4, &kg), SC_ERR_USAGE);
	assert_null(kg);
	assert_int_equal(provd_keygen_start(1, 0, &kg), SC_ERR_USAGE);
	assert_int_equal(provd_keygen_start(PROVD_KEYGEN_THREADS_MAX + 1, 4, &kg), SC_ERR_USAGE);
	provd_keygen_stop(NULL);
	/* The refusal's row: unavailable, 503, with Retry-After. */
	const struct provd_apierr *row = provd_apierr_find(PROVD_ERR_BUSY);
	assert_non_null(row);
	assert_int_equal(row->code, PROVD_E_UNAVAILABLE);
	assert_int_equal(row->status, 503);
	assert_int_equal(row->flags, PROVD_AE_RETRY_AFTER);
	assert_string_equal(provd_code_name((int)row->code), "unavailable");
}

static void test_jobs_complete(void **state)
{
	struct provd_keygen *kg = NULL;
	struct caller c[6];
	EVP_PKEY *key = NULL;

	(void)state;
	assert_int_equal(provd_keygen_start(2, 6, &kg), SC_OK);
	assert_int_equal(provd_keygen_run(kg, SC_ALG_RSA2048, 60000, &key), SC_OK);
	assert_non_null(key);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(key), 2048);
	EVP_PKEY_free(key);
	start_callers(c, 6, kg, SC_ALG_P256);
	join_callers(c, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(c[i].r, SC_OK);
		assert_non_null(c[i].key);
		assert_int_equal(EVP_PKEY_get_base_id(c[i].key), EVP_PKEY_EC);
		EVP_PKEY_free(c[i].key);
	}
	assert_int_equal(provd_keygen_pending(kg), 0);
	provd_keygen_stop(kg);
}

static void test_full_refuses(void **state)
{
	struct provd_keygen *kg = NULL;
	struct caller c[2];
	EVP_PKEY *key = (EVP_PKEY *)1;

	(void)state;
	/* One thread, two jobs at most: one running and one queued, both RSA-4096 (seconds). */
	assert_int_equal(provd_keygen_start(1, 2, &kg), SC_OK);
	start_callers(c, 2, kg, SC_ALG_RSA4096);
	assert_true(wait_pending(kg, 2));
	assert_int_equal(provd_keygen_run(kg, SC_ALG_P256, 60000, &key), PROVD_ERR_BUSY);
	assert_null(key);
	join_callers(c, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(c[i].r, SC_OK);
		assert_int_equal(EVP_PKEY_get_bits(c[i].key), 4096);
		EVP_PKEY_free(c[i].key);
	}
	/* Room again: admitted. */
	assert_int_equal(provd_keygen_run(kg, SC_ALG_P256, 60000, &key), SC_OK);
	EVP_PKEY_free(key);
	provd_keygen_stop(kg);
}

static void test_wait_bounded(void **state)
{
	struct provd_keygen *kg = NULL;
	EVP_PKEY *key = (EVP_PKEY *)1;

	(void)state;
	/* A caller that gives up: busy at once for it, the job's key freed when made. */
	assert_int_equal(provd_keygen_start(1, 2, &kg), SC_OK);
	assert_int_equal(provd_keygen_run(kg, SC_ALG_RSA4096, 1, &key), PROVD_ERR_BUSY);
	assert_null(key);
	assert_true(wait_pending(kg, 0));
	provd_keygen_stop(kg);
}

static void test_stop_with_pending(void **state)
{
	struct provd_keygen *kg = NULL;
	struct caller c[3];
	int ok = 0, busy = 0;

	(void)state;
	assert_int_equal(provd_keygen_start(1, 3, &kg), SC_OK);
	start_callers(c, 3, kg, SC_ALG_RSA4096);
	assert_true(wait_pending(kg, 3));
	/* Queued jobs fail, the running one finishes, every caller has left when it returns. */
	provd_keygen_stop(kg);
	join_callers(c, 3);
	for (size_t i = 0; i < 3; i++) {
		if (c[i].r == SC_OK) {
			ok++;
			assert_non_null(c[i].key);
			EVP_PKEY_free(c[i].key);
		} else {
			assert_int_equal(c[i].r, PROVD_ERR_BUSY);
			assert_null(c[i].key);
			busy++;
		}
	}
	/* The first job may or may not have reached the thread yet; the last one cannot have. */
	assert_true(busy >= 1);
	assert_int_equal(ok + busy, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_jobs_complete),
		cmocka_unit_test(test_full_refuses),
		cmocka_unit_test(test_wait_bounded),
		cmocka_unit_test(test_stop_with_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
