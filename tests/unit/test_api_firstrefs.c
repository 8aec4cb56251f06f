// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_firstrefs.c — selfcert-provd's first-certificate references (src/provd/firstrefs.c,
 * ref10): a put entry is found by its profile ID only, the table never holds more than its
 * bound (a colliding put replaces, an entry replaced or dropped while in use lives until
 * released), a dropped entry is gone, and hits and misses (as the caller notes them) and entries
 * are counted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "firstrefs.h"

static struct provd_firstref *entry(uint8_t b)
{
	struct provd_firstref *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	memset(e->head.id, b, sizeof(e->head.id));
	snprintf(e->device_id, sizeof(e->device_id), "DEV-%u", b);
	e->profile_not_after = 1000 + b;
	return e;
}

static void test_limits(void **state)
{
	struct provd_firstrefs *c = (void *)1;
	uint64_t h, m;
	size_t n;

	(void)state;
	assert_int_equal(provd_firstrefs_new(0, &c), SC_ERR_USAGE);
	assert_null(c);
	/* NULL is an empty table for every call. */
	assert_null(provd_firstrefs_get(NULL, (uint8_t[SC_PROFILE_ID_LEN]){ 0 }));
	provd_firstrefs_put(NULL, entry(1)); /* freed */
	provd_firstrefs_drop(NULL, (uint8_t[SC_PROFILE_ID_LEN]){ 0 });
	provd_firstref_release(NULL, NULL);
	provd_firstrefs_counts(NULL, &h, &m, &n);
	assert_true(h == 0 && m == 0 && n == 0);
}

static void test_get_drop(void **state)
{
	struct provd_firstrefs *c = NULL;
	struct provd_firstref *e;
	uint8_t id[SC_PROFILE_ID_LEN];
	uint64_t h, m;
	size_t n;

	(void)state;
	assert_int_equal(provd_firstrefs_new(64, &c), SC_OK);
	provd_firstrefs_put(c, entry(7));
	memset(id, 7, sizeof(id));
	assert_non_null(e = provd_firstrefs_get(c, id));
	assert_string_equal(e->device_id, "DEV-7");
	assert_int_equal(e->profile_not_after, 1007);
	provd_firstref_release(c, e);
	id[SC_PROFILE_ID_LEN - 1] ^= 1; /* another profile ID */
	assert_null(provd_firstrefs_get(c, id));
	provd_firstrefs_drop(c, id); /* not there: nothing happens */
	/* Lookups are not counted (review, session 10): the caller says whether it used one. */
	provd_firstrefs_counts(c, &h, &m, &n);
	assert_true(h == 0 && m == 0 && n == 1);
	provd_firstrefs_note(c, 1);
	provd_firstrefs_note(c, 0);
	provd_firstrefs_note(NULL, 1);
	provd_firstrefs_counts(c, &h, &m, &n);
	assert_true(h == 1 && m == 1 && n == 1);
	/* Dropped while in use (its certificate recorded by another worker): alive until released. */
	id[SC_PROFILE_ID_LEN - 1] ^= 1;
	assert_non_null(e = provd_firstrefs_get(c, id));
	provd_firstrefs_drop(c, id);
	assert_null(provd_firstrefs_get(c, id));
	assert_string_equal(e->device_id, "DEV-7"); /* valgrind: not freed yet */
	provd_firstref_release(c, e);
	provd_firstrefs_counts(c, &h, &m, &n);
	assert_true(h == 1 && m == 1 && n == 0);
	provd_firstrefs_free(c);
}

static void test_bound(void **state)
{
	struct provd_firstrefs *c = NULL;
	struct provd_firstref *held;
	uint8_t id[SC_PROFILE_ID_LEN];
	uint64_t h, m;
	size_t n, found = 0;

	(void)state;
	/* One slot: every put replaces the one entry; the one held is kept alive till released. */
	assert_int_equal(provd_firstrefs_new(1, &c), SC_OK);
	provd_firstrefs_put(c, entry(1));
	memset(id, 1, sizeof(id));
	assert_non_null(held = provd_firstrefs_get(c, id));
	for (unsigned b = 2; b < 200; b++)
		provd_firstrefs_put(c, entry((uint8_t)b));
	provd_firstrefs_counts(c, &h, &m, &n);
	assert_int_equal(n, 1);
	assert_null(provd_firstrefs_get(c, id));
	assert_string_equal(held->device_id, "DEV-1");
	provd_firstref_release(c, held);
	memset(id, 199, sizeof(id));
	assert_non_null(held = provd_firstrefs_get(c, id));
	provd_firstref_release(c, held);
	provd_firstrefs_free(c);
	/* 16 slots, 200 profiles: at most 16 found, the count says at most 16. */
	assert_int_equal(provd_firstrefs_new(16, &c), SC_OK);
	for (unsigned b = 0; b < 200; b++)
		provd_firstrefs_put(c, entry((uint8_t)b));
	for (unsigned b = 0; b < 200; b++) {
		memset(id, (int)b, sizeof(id));
		if ((held = provd_firstrefs_get(c, id)) != NULL)
			found++;
		provd_firstrefs_note(c, held != NULL);
		provd_firstref_release(c, held);
	}
	provd_firstrefs_counts(c, &h, &m, &n);
	assert_true(found >= 1 && found <= 16);
	assert_int_equal(n, found);
	assert_int_equal(h, found);
	assert_int_equal(m, 200 - found);
	provd_firstrefs_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_get_drop),
		cmocka_unit_test(test_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
