// SPDX-License-Identifier: Apache-2.0
/*
 * lru.h — the bounded memory under selfcert-provd's caches (certcache.c, profcache.c): values
 * keyed by a SHA-256 digest, least recently used out first once max is reached, hit and miss
 * counts, one mutex over all of it. The caller says how to take and drop a reference to a value.
 */
#ifndef SC_PROVD_LRU_H
#define SC_PROVD_LRU_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

#define PROVD_LRU_KEY_LEN 32 /* SHA-256 */

struct provd_lru;

/* Take one more reference for a finder (under the lock); 0 if that failed. */
typedef int provd_lru_ref_fn(void *value);
/* Drop one reference: the lru's when it lets go of a value, a finder's in provd_lru_release. */
typedef void provd_lru_free_fn(void *value);

enum provd_lru_touch { PROVD_LRU_KEEP_ORDER, PROVD_LRU_MAKE_NEWEST }; /* on a hit */
enum provd_lru_dup { PROVD_LRU_KEEP_OLD, PROVD_LRU_REPLACE_OLD };     /* on a kept key */

struct provd_lru_stats {
	uint64_t hits, misses;
	size_t entries, max;
};

/*
 * max: 1..limit entries, else SC_ERR_USAGE. name (a literal, kept: "certificate cache") begins
 * every error detail. ref_fn and free_fn work on the values.
 */
sc_err provd_lru_new(const char *name, size_t max, size_t limit, provd_lru_ref_fn *ref_fn,
    provd_lru_free_fn *free_fn, struct provd_lru **out) SC_MUST_USE;
/* Drops the lru's reference to every value it keeps. l may be NULL. */
void provd_lru_free(struct provd_lru *l);

/* key = SHA-256(data[0..len)) with the digest fetched once at provd_lru_new. */
sc_err provd_lru_digest(struct provd_lru *l, const uint8_t *data, size_t len,
    uint8_t key[PROVD_LRU_KEY_LEN]) SC_MUST_USE;

/*
 * The value kept under key with one reference taken for the caller (ref_fn), counted as a hit;
 * NULL, counted as a miss, if none is kept or ref_fn failed. touch: whether a hit becomes the
 * newest.
 */
void *provd_lru_find(struct provd_lru *l, const uint8_t key[PROVD_LRU_KEY_LEN],
    enum provd_lru_touch touch);
/* free_fn(value) under the lock: for values whose references the lock guards. */
void provd_lru_release(struct provd_lru *l, void *value);

/*
 * Keep value under key as the newest, letting go of the oldest once more than max are kept.
 * SC_OK: the lru holds the caller's reference to value. If key is kept already, dup says
 * whether the old value goes (REPLACE_OLD) or stays and value is refused (KEEP_OLD:
 * SC_ERR_EXISTS). On any failure value is still the caller's.
 */
sc_err provd_lru_insert(struct provd_lru *l, const uint8_t key[PROVD_LRU_KEY_LEN], void *value,
    enum provd_lru_dup dup) SC_MUST_USE;

void provd_lru_get_stats(struct provd_lru *l, struct provd_lru_stats *out);

#endif
