// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_reftable.c — the reference table under leafrefs and firstrefs (src/provd/reftable.c)
 * with several workers at once, as provd's thread pool uses it: workers get, hold and release
 * entries while others put (replacing what a slot held) and drop them. An entry must stay whole
 * while anyone holds it and be freed exactly once, when its last holder lets go: each entry
 * carries a canary that a holder checks (ASan and valgrind see a use after free), and a count of
 * live entries must end at zero after the table is freed. Single-threaded, the replace and drop
 * rules, one at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "reftable.h"

#define CANARY 0x5eedf00dcafe1234ULL

struct ent {
	struct provd_refhead head; /* first, as reftable.h requires */
	uint64_t canary;
	uint8_t tag; /* the ID's byte, kept apart from the ID */
};

static atomic_long live;  /* entries made and not yet freed */
static atomic_long freed; /* free_entry calls */

static void ent_free(struct provd_refhead *h)
{
	struct ent *e = (struct ent *)h;

	assert_true(e->canary == CANARY); /* never freed twice */
	e->canary = 0;
	atomic_fetch_sub(&live, 1);
	atomic_fetch_add(&freed, 1);
	free(e);
}

static struct ent *ent_new(uint8_t b)
{
	struct ent *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	memset(e->head.id, b, sizeof(e->head.id));
	e->canary = CANARY;
	e->tag = b;
	atomic_fetch_add(&live, 1);
	return e;
}

static void id_of(uint8_t b, uint8_t id[SC_PROFILE_ID_LEN])
{
	memset(id, b, SC_PROFILE_ID_LEN);
}

/* One slot: a put replaces; the replaced entry lives on while held. */
static void test_replace_while_held(void **state)
{
	struct provd_reftable *t = NULL;
	struct ent *a;
	uint8_t ida[SC_PROFILE_ID_LEN], idb[SC_PROFILE_ID_LEN];
	uint64_t h, m;
	size_t n;

	(void)state;
	atomic_store(&live, 0);
	atomic_store(&freed, 0);
	assert_int_equal(provd_reftable_new(1, ent_free, &t), SC_OK);
	id_of(1, ida);
	id_of(2, idb);
	provd_reftable_put(t, &ent_new(1)->head);
	assert_non_null(a = (struct ent *)provd_reftable_get(t, ida));
	provd_reftable_put(t, &ent_new(2)->head); /* the one slot: replaces 1 */
	assert_int_equal(atomic_load(&freed), 0); /* 1 is still held */
	assert_true(a->canary == CANARY && a->tag == 1);
	assert_null(provd_reftable_get(t, ida));
	assert_false(provd_reftable_has(t, ida));
	assert_true(provd_reftable_has(t, idb));
	provd_reftable_release(t, &a->head);
	assert_int_equal(atomic_load(&freed), 1);
	provd_reftable_counts(t, &h, &m, &n);
	assert_int_equal(n, 1);
	assert_true(h == 0 && m == 0); /* only the callers' notes count */
	provd_reftable_drop(t, ida);   /* not there: nothing happens */
	assert_int_equal(atomic_load(&freed), 1);
	provd_reftable_drop(t, idb);
	assert_int_equal(atomic_load(&freed), 2);
	provd_reftable_counts(t, &h, &m, &n);
	assert_int_equal(n, 0);
	provd_reftable_free(t);
	assert_int_equal(atomic_load(&live), 0);
}

/* A drop while held: gone from the table at once, freed at the last release. */
static void test_drop_while_held(void **state)
{
	struct provd_reftable *t = NULL;
	struct ent *a, *a2;
	uint8_t id[SC_PROFILE_ID_LEN];

	(void)state;
	atomic_store(&live, 0);
	atomic_store(&freed, 0);
	assert_int_equal(provd_reftable_new(8, ent_free, &t), SC_OK);
	id_of(9, id);
	provd_reftable_put(t, &ent_new(9)->head);
	assert_non_null(a = (struct ent *)provd_reftable_get(t, id));
	assert_non_null(a2 = (struct ent *)provd_reftable_get(t, id));
	assert_ptr_equal(a, a2);
	provd_reftable_drop(t, id);
	assert_null(provd_reftable_get(t, id));
	provd_reftable_release(t, &a->head);
	assert_int_equal(atomic_load(&freed), 0); /* a2 still holds it */
	assert_true(a2->canary == CANARY);
	provd_reftable_release(t, &a2->head);
	assert_int_equal(atomic_load(&freed), 1);
	provd_reftable_free(t);
	assert_int_equal(atomic_load(&live), 0);
}

#define WORKERS 4
#define ROUNDS 20000
#define IDS 12 /* more IDs than slots: puts collide and replace */
#define SLOTS 5

struct worker {
	struct provd_reftable *t;
	unsigned seed;
	long gets, hits, bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t id[SC_PROFILE_ID_LEN];

	for (int i = 0; i < ROUNDS; i++) {
		uint8_t b = (uint8_t)(1 + rand_r(&w->seed) % IDS);
		int op = rand_r(&w->seed) % 8;
		struct ent *e;

		id_of(b, id);
		if (op < 5) { /* get, hold a moment, check, release */
			w->gets++;
			if ((e = (struct ent *)provd_reftable_get(w->t, id)) != NULL) {
				w->hits++;
				for (int k = 0; k < 4; k++)
					if (e->canary != CANARY || e->tag != b ||
					    memcmp(e->head.id, id, sizeof(id)) != 0)
						w->bad++;
				provd_reftable_note(w->t, 1);
				provd_reftable_release(w->t, &e->head);
			} else {
				provd_reftable_note(w->t, 0);
			}
		} else if (op < 7) {
			provd_reftable_put(w->t, &ent_new(b)->head);
		} else {
			provd_reftable_drop(w->t, id);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct provd_reftable *t = NULL;
	struct worker w[WORKERS];
	pthread_t th[WORKERS];
	long gets = 0, hits = 0, bad = 0;
	uint64_t h, m;
	size_t n;

	(void)state;
	atomic_store(&live, 0);
	atomic_store(&freed, 0);
	assert_int_equal(provd_reftable_new(SLOTS, ent_free, &t), SC_OK);
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (struct worker){ .t = t, .seed = 0x1234u + (unsigned)i };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		gets += w[i].gets;
		hits += w[i].hits;
		bad += w[i].bad;
	}
	assert_int_equal(bad, 0);
	assert_true(hits > 0 && hits < gets); /* both outcomes happened */
	provd_reftable_counts(t, &h, &m, &n);
	assert_int_equal((long)h, hits);
	assert_int_equal((long)(h + m), gets);
	assert_true(n <= SLOTS);
	assert_int_equal(atomic_load(&live), (long)n); /* what is left is what the table holds */
	provd_reftable_free(t);
	assert_int_equal(atomic_load(&live), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_while_held),
		cmocka_unit_test(test_drop_while_held),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
