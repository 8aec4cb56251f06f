// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_batcher.c — provd's Merkle batch waves (src/provd/batcher.h, #17): concurrent
 * requests share one signed root and each gets its own leaf, a lone request is a wave of one
 * without waiting, a leader stops waiting for a request that leaves, a body the batch refuses
 * fails its whole wave and leaves nothing, and the limits are checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include <selfcert/batch.h>
#include <selfcert/profile.h>
#include "batcher.h"
#include "testutil.h"
#include "testworld.h"

#define WAVE 4

static struct sc_test_world world;

static int group_setup(void **state)
{
	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &world), SC_OK);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_test_world_free(&world);
	return 0;
}

/* One request: its body, what the batcher answered. */
struct req {
	struct provd_batcher *b;
	struct sc_profile *body;
	uint8_t *der;
	size_t len, wave_n;
	int announced; /* provd_batcher_enter was called for it */
	sc_err r;
};

static void *sign_thread(void *arg)
{
	struct req *q = arg;

	q->r = provd_batcher_sign(q->b, q->announced, q->body, &q->der, &q->len, &q->wave_n);
	return NULL;
}

/* An unsigned body for device SN-<3000+i>, with a challenge if asked (a batch refuses it). */
static struct sc_profile *body_for(size_t i, int challenge)
{
	static const uint8_t ch[16] = { 1, 2, 3 };
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	char dev[32];

	sc_test_profile_params(&world, &pp);
	snprintf(dev, sizeof(dev), "SN-%zu", 3000 + i);
	pp.device_id = dev;
	pp.challenge = challenge ? ch : NULL;
	pp.challenge_len = challenge ? sizeof(ch) : 0;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	return p;
}

/* n requests at once, each announced first as provd does (bad: the last carries a challenge). */
static void run_wave(struct provd_batcher *b, struct req *q, size_t n, int bad)
{
	pthread_t th[WAVE];

	for (size_t i = 0; i < n; i++)
		provd_batcher_enter(b);
	for (size_t i = 0; i < n; i++) {
		memset(&q[i], 0, sizeof(q[i]));
		q[i].b = b;
		q[i].announced = 1;
		q[i].body = body_for(i, bad && i == n - 1);
		assert_int_equal(pthread_create(&th[i], NULL, sign_thread, &q[i]), 0);
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void free_wave(struct req *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		OPENSSL_free(q[i].der);
		sc_profile_free(q[i].body);
	}
}

/* Four requests, a wave of four (it closes when the fourth joins, long before the wait). */
static void test_one_wave(void **state)
{
	struct provd_batcher *b = NULL;
	struct req q[WAVE];
	struct sc_profile_info in, body;
	uint64_t waves, profiles;
	unsigned seen = 0;

	(void)state;
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, WAVE, 30000, &b), SC_OK);
	run_wave(b, q, WAVE, 0);
	for (size_t i = 0; i < WAVE; i++) {
		struct sc_profile *p = NULL;

		assert_int_equal(q[i].r, SC_OK);
		assert_int_equal(q[i].wave_n, WAVE);
		assert_non_null(q[i].der);
		assert_int_equal(sc_batch_decode(q[i].der, q[i].len, &p), SC_OK);
		sc_profile_get_info(p, &in);
		sc_profile_get_info(q[i].body, &body);
		assert_true(body.signed_);
		assert_memory_equal(body.digest, in.digest, sizeof(in.digest));
		/* Each its own place in the one tree (one wave: one signature, counted below). */
		assert_true(in.has_batch);
		assert_true(in.batch_index < WAVE);
		assert_false(seen & (1u << in.batch_index));
		seen |= 1u << in.batch_index;
		sc_profile_free(p);
	}
	provd_batcher_counts(b, &waves, &profiles);
	assert_int_equal(waves, 1);
	assert_int_equal(profiles, WAVE);
	free_wave(q, WAVE);
	provd_batcher_free(b);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Without a window a lone request signs at once, a wave of one: nobody else is on the way. */
static void test_alone(void **state)
{
	struct provd_batcher *b = NULL;
	struct req q[1];
	double t;

	(void)state;
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, WAVE, 0, &b), SC_OK);
	t = now_s();
	run_wave(b, q, 1, 0);
	assert_true(now_s() - t < 10);
	assert_int_equal(q[0].r, SC_OK);
	assert_int_equal(q[0].wave_n, 1);
	free_wave(q, 1);
	provd_batcher_free(b);
}

/*
 * Without a window: two announced requests at once share a wave (the first waits for the other,
 * which is on its way); a request announced and then refused (leave) ends the wait.
 */
static void test_leave(void **state)
{
	struct provd_batcher *b = NULL;
	struct req q, two[2];
	pthread_t th;
	double t;

	(void)state;
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, WAVE, 0, &b), SC_OK);
	run_wave(b, two, 2, 0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(two[i].r, SC_OK);
		assert_int_equal(two[i].wave_n, 2);
	}
	free_wave(two, 2);
	provd_batcher_enter(b);
	provd_batcher_enter(b); /* a second request, refused later: it never signs */
	memset(&q, 0, sizeof(q));
	q.b = b;
	q.announced = 1;
	q.body = body_for(0, 0);
	t = now_s();
	assert_int_equal(pthread_create(&th, NULL, sign_thread, &q), 0);
	usleep(20000);
	provd_batcher_leave(b);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(now_s() - t < 10);
	assert_int_equal(q.r, SC_OK);
	assert_int_equal(q.wave_n, 1);
	free_wave(&q, 1);
	provd_batcher_free(b);
}

/* A body the batch refuses (it carries a challenge) fails its whole wave; nothing is left. */
static void test_refused_body(void **state)
{
	struct provd_batcher *b = NULL;
	struct req q[2];
	uint64_t waves, profiles;

	(void)state;
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, 2, 30000, &b), SC_OK);
	run_wave(b, q, 2, 1);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(q[i].r, SC_ERR_USAGE);
		assert_null(q[i].der);
		assert_int_equal(q[i].len, 0);
	}
	provd_batcher_counts(b, &waves, &profiles);
	assert_int_equal(waves, 0);
	free_wave(q, 2);
	provd_batcher_free(b);
}

static void test_limits(void **state)
{
	struct provd_batcher *b = NULL;
	uint8_t *der = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, PROVD_BATCH_SIZE_MIN - 1,
	                     0, &b),
	    SC_ERR_USAGE);
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, PROVD_BATCH_SIZE_MAX + 1,
	                     0, &b),
	    SC_ERR_USAGE);
	assert_int_equal(provd_batcher_new(world.signer_key, world.signer, 2,
	                     PROVD_BATCH_WAIT_MS_MAX + 1, &b),
	    SC_ERR_USAGE);
	assert_int_equal(provd_batcher_new(NULL, world.signer, 2, 0, &b), SC_ERR_USAGE);
	assert_null(b);
	assert_int_equal(provd_batcher_sign(NULL, 0, NULL, &der, &len, NULL), SC_ERR_USAGE);
	provd_batcher_enter(NULL);
	provd_batcher_leave(NULL);
	provd_batcher_free(NULL);
	/* Who gets a leaf: asked, a batcher, an ordinary device-generated profile, not gated. */
	assert_true(provd_batch_eligible(1, 1, 0, 0, 0));
	assert_false(provd_batch_eligible(0, 1, 0, 0, 0));
	assert_false(provd_batch_eligible(1, 0, 0, 0, 0));
	assert_false(provd_batch_eligible(1, 1, 7, 0, 0));
	assert_false(provd_batch_eligible(1, 1, 0, 1, 0));
	assert_false(provd_batch_eligible(1, 1, 0, 0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_wave),
		cmocka_unit_test(test_alone),
		cmocka_unit_test(test_leave),
		cmocka_unit_test(test_refused_body),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
