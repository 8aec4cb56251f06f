// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_certcache.c — selfcert-provd's memories (src/provd/certcache.c, profcache.c).
 * Certificates: a hit is the same certificate, one changed byte is a miss (and that certificate
 * is refused as ever), the size stays bounded with the least recently used going first, nothing
 * that fails to parse is remembered, a remembered certificate outside its validity is refused,
 * and concurrent workers see consistent counts. Profiles: only signed device-generated ones are
 * kept, a hit gives what decoding the same bytes gives, one changed byte misses, bounded, and an
 * entry evicted while in use lives until released. The LRU under both (lru.c): bounded, oldest
 * out first, hit/miss counts, each value's free function called exactly once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "certcache.h"
#include "lru.h"
#include "profcache.h"
#include "testworld.h"

#define N_CERTS 12
#define N_THREADS 4
#define GETS_PER_THREAD 200
#define N_VALS 8

static EVP_PKEY *key;
static uint8_t *der[N_CERTS];
static size_t der_len[N_CERTS];

/* N_CERTS distinct self-signed roots of one key (names differ), as DER. */
static int setup(void **state)
{
	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &key), SC_OK);
	for (int i = 0; i < N_CERTS; i++) {
		char name[32];
		X509 *x = NULL;
		unsigned char *p = NULL;
		int n;

		snprintf(name, sizeof(name), "Cache Test %d", i);
		assert_int_equal(sc_cert_mfr_root(key, name, 30, &x), SC_OK);
		assert_true((n = i2d_X509(x, &p)) > 0);
		der[i] = p;
		der_len[i] = (size_t)n;
		X509_free(x);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_CERTS; i++)
		OPENSSL_free(der[i]);
	EVP_PKEY_free(key);
	return 0;
}

static void expect_stats(struct provd_certcache *c, uint64_t hits, uint64_t misses, size_t entries)
{
	struct provd_certcache_stats st;

	provd_certcache_get_stats(c, &st);
	assert_int_equal(st.hits, hits);
	assert_int_equal(st.misses, misses);
	assert_int_equal(st.entries, entries);
}

static void test_limits(void **state)
{
	struct provd_certcache *c = NULL;
	(void)state;

	assert_int_equal(provd_certcache_new(0, &c), SC_ERR_USAGE);
	assert_null(c);
	assert_int_equal(provd_certcache_new(PROVD_CERTCACHE_MAX + 1, &c), SC_ERR_USAGE);
	assert_null(c);
	assert_int_equal(provd_certcache_new(1, &c), SC_OK);
	provd_certcache_free(c);
	provd_certcache_free(NULL);
}

static void test_hit_is_same(void **state)
{
	struct provd_certcache *c = NULL;
	X509 *a = NULL, *b = NULL, *fresh = NULL;
	(void)state;

	assert_int_equal(provd_certcache_new(8, &c), SC_OK);
	assert_int_equal(provd_certcache_get(c, der[0], der_len[0], &a), SC_OK);
	expect_stats(c, 0, 1, 1);
	assert_int_equal(provd_certcache_get(c, der[0], der_len[0], &b), SC_OK);
	expect_stats(c, 1, 1, 1);
	assert_ptr_equal(a, b);
	/* the caller's reference outlives the cache */
	X509_free(b);
	provd_certcache_free(c);
	assert_int_equal(provd_certcache_get(NULL, der[0], der_len[0], &fresh), SC_OK);
	assert_int_equal(X509_cmp(a, fresh), 0);
	assert_int_equal(X509_verify(a, key), 1);
	X509_free(a);
	X509_free(fresh);
}

static void test_changed_byte_misses(void **state)
{
	struct provd_certcache *c = NULL;
	X509 *good = NULL, *bad = NULL;
	uint8_t *copy = malloc(der_len[0]);
	(void)state;

	assert_non_null(copy);
	memcpy(copy, der[0], der_len[0]);
	/* the last byte is inside the signature's BIT STRING: still DER, another signature */
	copy[der_len[0] - 1] ^= 0x01;
	assert_int_equal(provd_certcache_new(8, &c), SC_OK);
	assert_int_equal(provd_certcache_get(c, der[0], der_len[0], &good), SC_OK);
	assert_int_equal(provd_certcache_get(c, copy, der_len[0], &bad), SC_OK);
	expect_stats(c, 0, 2, 2);
	assert_ptr_not_equal(good, bad);
	assert_int_equal(X509_verify(good, key), 1);
	assert_int_not_equal(X509_verify(bad, key), 1);
	X509_free(bad);
	/* asked again: still the refused one, still refused */
	assert_int_equal(provd_certcache_get(c, copy, der_len[0], &bad), SC_OK);
	expect_stats(c, 1, 2, 2);
	assert_int_not_equal(X509_verify(bad, key), 1);
	X509_free(bad);
	X509_free(good);
	provd_certcache_free(c);
	free(copy);
}

static void test_failures_not_remembered(void **state)
{
	struct provd_certcache *c = NULL;
	X509 *x = NULL;
	uint8_t *longer = malloc(der_len[1] + 1), *big = calloc(1, (1 << 20) + 1);
	(void)state;

	assert_non_null(longer);
	assert_non_null(big);
	assert_int_equal(provd_certcache_new(8, &c), SC_OK);
	/* truncated */
	assert_int_equal(provd_certcache_get(c, der[1], der_len[1] - 1, &x), SC_ERR_MALFORMED);
	assert_null(x);
	/* trailing data */
	memcpy(longer, der[1], der_len[1]);
	longer[der_len[1]] = 0;
	assert_int_equal(provd_certcache_get(c, longer, der_len[1] + 1, &x), SC_ERR_TRAILING);
	assert_null(x);
	/* oversize: refused before hashing or parsing */
	assert_int_equal(provd_certcache_get(c, big, (1 << 20) + 1, &x), SC_ERR_OVERSIZE);
	/* wrong type: a public key is not a certificate */
	{
		unsigned char *p = NULL;
		int n = i2d_PUBKEY(key, &p);
		assert_true(n > 0);
		assert_int_equal(provd_certcache_get(c, p, (size_t)n, &x), SC_ERR_MALFORMED);
		OPENSSL_free(p);
	}
	assert_null(x);
	expect_stats(c, 0, 3, 0);
	/* the same failure twice is parsed (and refused) twice */
	assert_int_equal(provd_certcache_get(c, der[1], der_len[1] - 1, &x), SC_ERR_MALFORMED);
	expect_stats(c, 0, 4, 0);
	provd_certcache_free(c);
	free(longer);
	free(big);
}

static void test_bounded_lru(void **state)
{
	struct provd_certcache *c = NULL;
	X509 *x = NULL;
	struct provd_certcache_stats st;
	(void)state;

	assert_int_equal(provd_certcache_new(4, &c), SC_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(provd_certcache_get(c, der[i], der_len[i], &x), SC_OK);
		X509_free(x);
	}
	expect_stats(c, 0, 4, 4);
	/* touch 0: now 1 is the least recently used */
	assert_int_equal(provd_certcache_get(c, der[0], der_len[0], &x), SC_OK);
	X509_free(x);
	expect_stats(c, 1, 4, 4);
	assert_int_equal(provd_certcache_get(c, der[4], der_len[4], &x), SC_OK);
	X509_free(x);
	expect_stats(c, 1, 5, 4);
	assert_int_equal(provd_certcache_get(c, der[0], der_len[0], &x), SC_OK); /* kept */
	X509_free(x);
	expect_stats(c, 2, 5, 4);
	assert_int_equal(provd_certcache_get(c, der[1], der_len[1], &x), SC_OK); /* evicted */
	X509_free(x);
	expect_stats(c, 2, 6, 4);
	/* many more than fit: never more than max */
	for (int i = 0; i < N_CERTS; i++) {
		assert_int_equal(provd_certcache_get(c, der[i], der_len[i], &x), SC_OK);
		X509_free(x);
		provd_certcache_get_stats(c, &st);
		assert_true(st.entries <= 4);
	}
	assert_int_equal(st.max, 4);
	provd_certcache_free(c);
}

/* A remembered certificate is validated like a parsed one: at a time past notAfter, refused. */
static void test_window_still_checked(void **state)
{
	struct provd_certcache *c = NULL;
	X509 *x = NULL, *again = NULL;
	X509_STORE *store = X509_STORE_new();
	(void)state;

	assert_non_null(store);
	assert_int_equal(provd_certcache_new(8, &c), SC_OK);
	assert_int_equal(provd_certcache_get(c, der[2], der_len[2], &x), SC_OK);
	assert_true(X509_STORE_add_cert(store, x));
	assert_int_equal(provd_certcache_get(c, der[2], der_len[2], &again), SC_OK);
	expect_stats(c, 1, 1, 1);
	for (int k = 0; k < 3; k++) {
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		time_t at = k == 0 ? time(NULL)
		    : k == 1       ? time(NULL) + 31L * 86400
		                   : time(NULL) - 86400;
		int want = k == 0 ? X509_V_OK
		    : k == 1      ? X509_V_ERR_CERT_HAS_EXPIRED
		                  : X509_V_ERR_CERT_NOT_YET_VALID;

		assert_non_null(ctx);
		assert_true(X509_STORE_CTX_init(ctx, store, again, NULL));
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
		assert_int_equal(X509_verify_cert(ctx), want == X509_V_OK ? 1 : 0);
		assert_int_equal(X509_STORE_CTX_get_error(ctx), want);
		X509_STORE_CTX_free(ctx);
	}
	X509_free(x);
	X509_free(again);
	X509_STORE_free(store);
	provd_certcache_free(c);
}

struct worker {
	struct provd_certcache *c;
	unsigned seed;
	int failures;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < GETS_PER_THREAD; i++) {
		int k = (int)(rand_r(&w->seed) % N_CERTS);
		X509 *x = NULL;
		if (provd_certcache_get(w->c, der[k], der_len[k], &x) != SC_OK || x == NULL ||
		    X509_verify(x, key) != 1)
			w->failures++;
		X509_free(x);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct provd_certcache *c = NULL;
	pthread_t t[N_THREADS];
	struct worker w[N_THREADS];
	struct provd_certcache_stats st;
	(void)state;

	assert_int_equal(provd_certcache_new(5, &c), SC_OK);
	for (int i = 0; i < N_THREADS; i++) {
		w[i].c = c;
		w[i].seed = (unsigned)i + 1;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	provd_certcache_get_stats(c, &st);
	assert_int_equal(st.hits + st.misses, (uint64_t)N_THREADS * GETS_PER_THREAD);
	assert_true(st.entries <= 5);
	provd_certcache_free(c);
}

/* ---- profiles ---- */

static struct sc_profile *signed_profile(EVP_PKEY *sk, X509 *signer, const char *device, time_t now,
    int sign)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;

	memset(&pp, 0, sizeof(pp));
	pp.network_id = "net-1";
	pp.device_id = device;
	pp.profile_not_after = now + 3600;
	pp.not_before = now - 60;
	pp.not_after = now + 86400;
	pp.generate_alg = SC_ALG_P256;
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	if (sign)
		assert_int_equal(sc_profile_sign(p, sk, signer, NULL, 0), SC_OK);
	return p;
}

static void test_profiles(void **state)
{
	struct provd_profcache *c = NULL;
	struct sc_test_world_opts wo = { .network_id = "net-1" };
	struct sc_test_world net;
	EVP_PKEY *sk;
	X509 *signer;
	struct sc_profile *a, *b, *d, *unsigned_p, *decoded = NULL;
	const struct sc_profile *got = NULL;
	struct provd_profref *ref = NULL, *held = NULL;
	struct sc_profile_info ia, id;
	uint8_t *der_a = NULL, *der_b = NULL, *der_d = NULL, dg[SC_PROFILE_DIGEST_LEN];
	size_t len_a, len_b, len_d;
	uint64_t hits, misses;
	size_t entries;
	time_t now = time(NULL);
	(void)state;

	assert_int_equal(sc_test_world_make(&wo, &net), SC_OK); /* the network's profile signer */
	sk = net.signer_key;
	signer = net.signer;
	assert_int_equal(provd_profcache_new(0, &c), SC_ERR_USAGE);
	assert_int_equal(provd_profcache_new(2, &c), SC_OK);

	/* not signed: refused, still the caller's */
	unsigned_p = signed_profile(sk, signer, "DEV-U", now, 0);
	assert_int_equal(provd_profcache_put(c, unsigned_p), SC_ERR_USAGE);
	sc_profile_free(unsigned_p);

	a = signed_profile(sk, signer, "DEV-A", now, 1);
	b = signed_profile(sk, signer, "DEV-B", now, 1);
	d = signed_profile(sk, signer, "DEV-D", now, 1);
	assert_int_equal(sc_profile_encode(a, &der_a, &len_a), SC_OK);
	assert_int_equal(sc_profile_encode(b, &der_b, &len_b), SC_OK);
	assert_int_equal(sc_profile_encode(d, &der_d, &len_d), SC_OK);
	assert_int_equal(provd_profcache_put(c, a), SC_OK);

	/* a hit is the kept object, and it says what decoding the same bytes says */
	assert_int_equal(provd_profcache_get(c, der_a, len_a, &got, &ref), SC_OK);
	assert_ptr_equal(got, a);
	assert_int_equal(sc_profile_decode(der_a, len_a, &decoded), SC_OK);
	sc_profile_get_info(got, &ia);
	sc_profile_get_info(decoded, &id);
	assert_memory_equal(ia.digest, id.digest, SC_PROFILE_DIGEST_LEN);
	assert_memory_equal(ia.id, id.id, SC_PROFILE_ID_LEN);
	assert_string_equal(ia.device_id, id.device_id);
	assert_string_equal(ia.network_id, id.network_id);
	assert_int_equal(ia.not_before, id.not_before);
	assert_int_equal(ia.not_after, id.not_after);
	assert_int_equal(ia.origin, id.origin);
	assert_int_equal(ia.alg, id.alg);
	assert_int_equal(ia.key_usage, id.key_usage);
	assert_int_equal(ia.cert_digest, id.cert_digest);
	assert_int_equal(ia.signed_, 1);
	sc_profile_free(decoded);
	provd_profcache_release(c, ref);

	/*
	 * enroll15: by its digest (what its signing computed): the same entry as by its DER; a
	 * digest with one bit changed, or NULL, finds nothing.
	 */
	sc_profile_get_info(a, &ia);
	assert_int_equal(provd_profcache_get_digest(c, ia.digest, &got, &ref), SC_OK);
	assert_ptr_equal(got, a);
	provd_profcache_release(c, ref);
	memcpy(dg, ia.digest, sizeof(dg));
	dg[31] ^= 0x01;
	assert_int_equal(provd_profcache_get_digest(c, dg, &got, &ref), SC_ERR_NOT_FOUND);
	assert_null(got);
	assert_null(ref);
	assert_int_equal(provd_profcache_get_digest(c, NULL, &got, &ref), SC_ERR_NOT_FOUND);
	assert_int_equal(provd_profcache_get_digest(NULL, ia.digest, &got, &ref), SC_ERR_NOT_FOUND);

	/* one changed byte (the signature's last): not found */
	der_a[len_a - 1] ^= 0x01;
	assert_int_equal(provd_profcache_get(c, der_a, len_a, &got, &ref), SC_ERR_NOT_FOUND);
	assert_null(got);
	assert_null(ref);
	der_a[len_a - 1] ^= 0x01;

	/* bounded (2): a held, then b and d in; a is evicted but lives until released */
	assert_int_equal(provd_profcache_get(c, der_a, len_a, &got, &held), SC_OK);
	assert_int_equal(provd_profcache_put(c, b), SC_OK);
	assert_int_equal(provd_profcache_put(c, d), SC_OK);
	provd_profcache_counts(c, &hits, &misses, &entries);
	assert_int_equal(entries, 2);
	assert_int_equal(provd_profcache_get(c, der_a, len_a, &got, &ref), SC_ERR_NOT_FOUND);
	sc_profile_get_info(a, &ia); /* still readable: held */
	assert_string_equal(ia.device_id, "DEV-A");
	provd_profcache_release(c, held); /* freed now (ASan/valgrind would tell) */
	assert_int_equal(provd_profcache_get(c, der_b, len_b, &got, &ref), SC_OK);
	assert_ptr_equal(got, b);
	provd_profcache_release(c, ref);
	assert_int_equal(provd_profcache_get(c, der_d, len_d, &got, &ref), SC_OK);
	provd_profcache_release(c, ref);
	provd_profcache_counts(c, &hits, &misses, &entries);
	assert_int_equal(hits, 5);   /* enroll15: one by digest */
	assert_int_equal(misses, 3); /* and one digest changed */
	/* NULL cache: never found */
	assert_int_equal(provd_profcache_get(NULL, der_b, len_b, &got, &ref), SC_ERR_NOT_FOUND);
	provd_profcache_release(NULL, NULL);

	provd_profcache_free(c); /* frees b and d */
	OPENSSL_free(der_a);
	OPENSSL_free(der_b);
	OPENSSL_free(der_d);
	sc_test_world_free(&net);
}

/* Workers use kept profiles while the main thread keeps putting new ones (evicting): every hit
 * stays readable until released, and the counts add up. */
#define N_PROFS 10
#define PROF_CACHE_MAX 3

struct pworker {
	struct provd_profcache *c;
	uint8_t **der;
	size_t *len;
	unsigned seed;
	int failures;
};

static void *pworker_run(void *arg)
{
	struct pworker *w = arg;

	for (int i = 0; i < GETS_PER_THREAD; i++) {
		int k = (int)(rand_r(&w->seed) % N_PROFS);
		const struct sc_profile *got = NULL;
		struct provd_profref *ref = NULL;
		struct sc_profile_info info;
		char want[16];
		sc_err r = provd_profcache_get(w->c, w->der[k], w->len[k], &got, &ref);

		if (r == SC_OK) {
			snprintf(want, sizeof(want), "DEV-%d", k);
			sc_profile_get_info(got, &info);
			if (strcmp(info.device_id, want) != 0)
				w->failures++;
			provd_profcache_release(w->c, ref);
		} else if (r != SC_ERR_NOT_FOUND) {
			w->failures++;
		}
	}
	return NULL;
}

static void test_profiles_threads(void **state)
{
	struct provd_profcache *c = NULL;
	struct sc_test_world_opts wo = { .network_id = "net-1" };
	struct sc_test_world net;
	EVP_PKEY *sk;
	X509 *signer;
	struct sc_profile *p[N_PROFS];
	uint8_t *pder[N_PROFS];
	size_t plen[N_PROFS];
	pthread_t t[N_THREADS];
	struct pworker w[N_THREADS];
	uint64_t hits, misses;
	size_t entries;
	time_t now = time(NULL);
	(void)state;

	assert_int_equal(sc_test_world_make(&wo, &net), SC_OK); /* the network's profile signer */
	sk = net.signer_key;
	signer = net.signer;
	for (int i = 0; i < N_PROFS; i++) {
		char dev[16];
		snprintf(dev, sizeof(dev), "DEV-%d", i);
		p[i] = signed_profile(sk, signer, dev, now, 1);
		assert_int_equal(sc_profile_encode(p[i], &pder[i], &plen[i]), SC_OK);
	}
	assert_int_equal(provd_profcache_new(PROF_CACHE_MAX, &c), SC_OK);
	for (int i = 0; i < PROF_CACHE_MAX; i++) /* some to hit from the start */
		assert_int_equal(provd_profcache_put(c, p[i]), SC_OK);
	for (int i = 0; i < N_THREADS; i++) {
		w[i].c = c;
		w[i].der = pder;
		w[i].len = plen;
		w[i].seed = (unsigned)i + 7;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, pworker_run, &w[i]), 0);
	}
	for (int i = PROF_CACHE_MAX; i < N_PROFS; i++)
		assert_int_equal(provd_profcache_put(c, p[i]), SC_OK);
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	provd_profcache_counts(c, &hits, &misses, &entries);
	assert_true(hits > 0);
	assert_int_equal(hits + misses, (uint64_t)N_THREADS * GETS_PER_THREAD);
	assert_int_equal(entries, PROF_CACHE_MAX);
	provd_profcache_free(c); /* the last PROF_CACHE_MAX; the others were freed on eviction */
	for (int i = 0; i < N_PROFS; i++)
		OPENSSL_free(pder[i]);
	sc_test_world_free(&net);
}

/* ---- the LRU itself ---- */

struct tval {
	int refs;   /* taken by finds */
	int frees;  /* free_fn calls */
	int refuse; /* ref_fn fails */
};

static struct tval vals[N_VALS];

static int tval_ref(void *v)
{
	struct tval *t = v;

	if (t->refuse)
		return 0;
	t->refs++;
	return 1;
}

static void tval_free(void *v)
{
	((struct tval *)v)->frees++;
}

static void key_of(int i, uint8_t lkey[PROVD_LRU_KEY_LEN])
{
	memset(lkey, 0, PROVD_LRU_KEY_LEN);
	lkey[0] = (uint8_t)i; /* the bucket bits */
	lkey[PROVD_LRU_KEY_LEN - 1] = (uint8_t)(0xa0 + i);
}

static void *find_i(struct provd_lru *l, int i, enum provd_lru_touch touch)
{
	uint8_t lkey[PROVD_LRU_KEY_LEN];

	key_of(i, lkey);
	return provd_lru_find(l, lkey, touch);
}

static sc_err insert_i(struct provd_lru *l, int i, enum provd_lru_dup dup)
{
	uint8_t lkey[PROVD_LRU_KEY_LEN];

	key_of(i, lkey);
	return provd_lru_insert(l, lkey, &vals[i], dup);
}

static void expect_lru(struct provd_lru *l, uint64_t hits, uint64_t misses, size_t entries)
{
	struct provd_lru_stats st;

	provd_lru_get_stats(l, &st);
	assert_int_equal(st.hits, hits);
	assert_int_equal(st.misses, misses);
	assert_int_equal(st.entries, entries);
	assert_int_equal(st.max, 3);
}

static void test_lru_limits(void **state)
{
	struct provd_lru *l = NULL;
	struct provd_certcache *cc = NULL;
	struct provd_profcache *pc = NULL;
	struct provd_lru_stats st;
	(void)state;

	assert_int_equal(provd_lru_new("test lru", 0, 5, tval_ref, tval_free, &l), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "test lru: 0 entries, expected 1..5");
	assert_null(l);
	assert_int_equal(provd_lru_new("test lru", 6, 5, tval_ref, tval_free, &l), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "test lru: 6 entries, expected 1..5");
	assert_int_equal(provd_lru_new("test lru", 1, 5, NULL, tval_free, &l), SC_ERR_INTERNAL);
	assert_null(l);
	assert_int_equal(provd_lru_new("test lru", 5, 5, tval_ref, tval_free, &l), SC_OK);
	provd_lru_free(l);
	provd_lru_free(NULL);
	provd_lru_get_stats(NULL, &st);
	assert_int_equal(st.entries, 0);

	/* the caches' texts, unchanged */
	assert_int_equal(provd_certcache_new(PROVD_CERTCACHE_MAX + 1, &cc), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(),
	    "certificate cache: 1000001 entries, expected 1..1000000");
	assert_null(cc);
	assert_int_equal(provd_profcache_new(0, &pc), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "profile cache: 0 entries, expected 1..100000");
	assert_null(pc);
	assert_int_equal(provd_profcache_new(PROVD_PROFCACHE_MAX + 1, &pc), SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "profile cache: 100001 entries, expected 1..100000");
}

static void test_lru_order(void **state)
{
	static const int want_frees[N_VALS] = { 1, 1, 1, 1, 1, 2, 0, 0 };
	struct provd_lru *l = NULL;
	uint8_t lkey[PROVD_LRU_KEY_LEN];
	(void)state;

	memset(vals, 0, sizeof(vals));
	assert_int_equal(provd_lru_new("test lru", 3, 5, tval_ref, tval_free, &l), SC_OK);
	assert_null(find_i(l, 0, PROVD_LRU_MAKE_NEWEST));
	expect_lru(l, 0, 1, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(insert_i(l, i, PROVD_LRU_KEEP_OLD), SC_OK);
	expect_lru(l, 0, 1, 3);

	/* a hit takes a reference; MAKE_NEWEST saves 0 from the next eviction: 1 goes */
	assert_ptr_equal(find_i(l, 0, PROVD_LRU_MAKE_NEWEST), &vals[0]);
	assert_int_equal(vals[0].refs, 1);
	assert_int_equal(insert_i(l, 3, PROVD_LRU_KEEP_OLD), SC_OK);
	expect_lru(l, 1, 1, 3);
	assert_int_equal(vals[1].frees, 1);
	assert_null(find_i(l, 1, PROVD_LRU_MAKE_NEWEST));
	/* order now (oldest first) 2, 0, 3; KEEP_ORDER leaves 2 oldest */
	assert_ptr_equal(find_i(l, 2, PROVD_LRU_KEEP_ORDER), &vals[2]);
	assert_int_equal(insert_i(l, 4, PROVD_LRU_KEEP_OLD), SC_OK);
	assert_int_equal(vals[2].frees, 1);
	assert_null(find_i(l, 2, PROVD_LRU_KEEP_ORDER));
	expect_lru(l, 2, 3, 3);

	/* ref_fn failing: a miss, nothing moves */
	vals[0].refuse = 1;
	assert_null(find_i(l, 0, PROVD_LRU_MAKE_NEWEST));
	vals[0].refuse = 0;
	expect_lru(l, 2, 4, 3);

	/* a kept lkey: KEEP_OLD refuses (the value stays the caller's), REPLACE_OLD drops the old */
	assert_int_equal(insert_i(l, 3, PROVD_LRU_KEEP_OLD), SC_ERR_EXISTS);
	assert_int_equal(vals[3].frees, 0);
	key_of(3, lkey);
	assert_int_equal(provd_lru_insert(l, lkey, &vals[5], PROVD_LRU_REPLACE_OLD), SC_OK);
	assert_int_equal(vals[3].frees, 1);
	assert_ptr_equal(find_i(l, 3, PROVD_LRU_KEEP_ORDER), &vals[5]);
	expect_lru(l, 3, 4, 3);

	/* release is free_fn under the lock */
	provd_lru_release(l, &vals[5]);
	assert_int_equal(vals[5].frees, 1);

	/* free lets go of the rest, once each: 0, 4 and 5 (5's second reference: the lru's) */
	provd_lru_free(l);
	for (int i = 0; i < N_VALS; i++)
		assert_int_equal(vals[i].frees, want_frees[i]);
}

/* Many keys through a small LRU: never more than max kept, each value freed exactly once. */
static void test_lru_churn(void **state)
{
	struct provd_lru *l = NULL;
	struct tval many[200];
	uint8_t lkey[PROVD_LRU_KEY_LEN];
	struct provd_lru_stats st;
	(void)state;

	memset(many, 0, sizeof(many));
	assert_int_equal(provd_lru_new("test lru", 7, 100, tval_ref, tval_free, &l), SC_OK);
	for (int i = 0; i < 200; i++) {
		memset(lkey, 0, sizeof(lkey));
		memcpy(lkey, &i, sizeof(i));
		lkey[PROVD_LRU_KEY_LEN - 1] = 0x5a;
		assert_int_equal(provd_lru_insert(l, lkey, &many[i], PROVD_LRU_KEEP_OLD), SC_OK);
		provd_lru_get_stats(l, &st);
		assert_true(st.entries <= 7);
		if (i >= 7) /* the oldest, and only it, is gone */
			assert_int_equal(many[i - 7].frees, 1);
		/* the newest 7 are all kept */
		for (int j = i - 6 < 0 ? 0 : i - 6; j <= i; j++) {
			memset(lkey, 0, sizeof(lkey));
			memcpy(lkey, &j, sizeof(j));
			lkey[PROVD_LRU_KEY_LEN - 1] = 0x5a;
			assert_ptr_equal(provd_lru_find(l, lkey, PROVD_LRU_KEEP_ORDER), &many[j]);
		}
	}
	provd_lru_free(l);
	for (int i = 0; i < 200; i++)
		assert_int_equal(many[i].frees, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hit_is_same),
		cmocka_unit_test(test_changed_byte_misses),
		cmocka_unit_test(test_failures_not_remembered),
		cmocka_unit_test(test_bounded_lru),
		cmocka_unit_test(test_window_still_checked),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_profiles_threads),
		cmocka_unit_test(test_lru_limits),
		cmocka_unit_test(test_lru_order),
		cmocka_unit_test(test_lru_churn),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
