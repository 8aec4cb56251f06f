// SPDX-License-Identifier: Apache-2.0
/*
 * lru.c — digest-keyed values in a bounded LRU (lru.h): a hash table of chained buckets over a
 * doubly linked recency list, one mutex over every field. Values are reference-counted by the
 * caller's functions, so a finder may keep using a value the lru has let go of meanwhile.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "lru.h"

#define MIN_BUCKETS 16
#define SHA256_WHAT_MAX 96 /* "<name>: SHA-256"; names are short literals */

struct entry {
	uint8_t key[PROVD_LRU_KEY_LEN];
	void *value;                 /* the lru's reference */
	struct entry *newer, *older; /* recency list */
	struct entry *next;          /* bucket chain */
};

struct provd_lru {
	pthread_mutex_t mu;
	const char *name; /* error details */
	EVP_MD *sha256;   /* fetched once: an implicit fetch per digest costs more than it */
	provd_lru_ref_fn *ref_fn;
	provd_lru_free_fn *free_fn;
	struct entry **buckets;
	size_t n_buckets; /* a power of two, at least 2 * max */
	struct entry *newest, *oldest;
	size_t n, max;
	uint64_t hits, misses;
};

static sc_err fail_sha256(const struct provd_lru *l)
{
	char what[SHA256_WHAT_MAX];

	snprintf(what, sizeof(what), "%s: SHA-256", l->name);
	return sc_fail_ossl(SC_ERR_INTERNAL, what);
}

sc_err provd_lru_new(const char *name, size_t max, size_t limit, provd_lru_ref_fn *ref_fn,
    provd_lru_free_fn *free_fn, struct provd_lru **out)
{
	sc_err r;
	struct provd_lru *l = NULL;
	int have_mutex = 0;

	*out = NULL;
	if (max < 1 || max > limit) {
		r = sc_fail(SC_ERR_USAGE, "%s: %zu entries, expected 1..%zu", name, max, limit);
		goto out;
	}
	/* limit keeps 2 * max and the doubling below far from overflow */
	if (limit > SIZE_MAX / 4 || ref_fn == NULL || free_fn == NULL) {
		r = sc_fail(SC_ERR_INTERNAL, "%s: bad limit or value functions", name);
		goto out;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", name);
		goto out;
	}
	l->name = name;
	l->ref_fn = ref_fn;
	l->free_fn = free_fn;
	l->max = max;
	l->n_buckets = MIN_BUCKETS;
	while (l->n_buckets < 2 * max)
		l->n_buckets *= 2;
	if ((l->buckets = calloc(l->n_buckets, sizeof(*l->buckets))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s: buckets for %zu entries", name, max);
		goto out;
	}
	if ((l->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = fail_sha256(l);
		goto out;
	}
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "%s: mutex", name);
		goto out;
	}
	have_mutex = 1;
	*out = l;
	l = NULL;
	r = SC_OK;
out:
	if (l != NULL) {
		if (have_mutex)
			pthread_mutex_destroy(&l->mu);
		EVP_MD_free(l->sha256);
		free(l->buckets);
		free(l);
	}
	return r;
}

void provd_lru_free(struct provd_lru *l)
{
	struct entry *e, *older;

	if (l == NULL)
		return;
	/* Only at shutdown, when no other thread uses l any more. */
	for (e = l->newest; e != NULL; e = older) {
		older = e->older;
		l->free_fn(e->value);
		free(e);
	}
	pthread_mutex_destroy(&l->mu);
	EVP_MD_free(l->sha256);
	free(l->buckets);
	free(l);
}

sc_err provd_lru_digest(struct provd_lru *l, const uint8_t *data, size_t len,
    uint8_t key[PROVD_LRU_KEY_LEN])
{
	if (!EVP_Digest(data, len, key, NULL, l->sha256, NULL))
		return fail_sha256(l);
	return SC_OK;
}

/* Under the lock, as every function below. */
static struct entry **bucket(const struct provd_lru *l, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h)); /* SHA-256 bits are as good a hash as any */
	return &l->buckets[h & (l->n_buckets - 1)];
}

static struct entry *lookup(const struct provd_lru *l, const uint8_t *key)
{
	struct entry *e;

	for (e = *bucket(l, key); e != NULL; e = e->next)
		if (memcmp(e->key, key, PROVD_LRU_KEY_LEN) == 0)
			return e;
	return NULL;
}

static void unlink_recency(struct provd_lru *l, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		l->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		l->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void push_newest(struct provd_lru *l, struct entry *e)
{
	e->older = l->newest;
	e->newer = NULL;
	if (l->newest != NULL)
		l->newest->newer = e;
	l->newest = e;
	if (l->oldest == NULL)
		l->oldest = e;
}

/* Out of the table and the list, the lru's reference dropped. */
static void drop(struct provd_lru *l, struct entry *e)
{
	struct entry **pp;

	unlink_recency(l, e);
	for (pp = bucket(l, e->key); *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	l->free_fn(e->value);
	free(e);
	l->n--;
}

void *provd_lru_find(struct provd_lru *l, const uint8_t key[PROVD_LRU_KEY_LEN],
    enum provd_lru_touch touch)
{
	struct entry *e;
	void *v = NULL;

	pthread_mutex_lock(&l->mu);
	if ((e = lookup(l, key)) != NULL && l->ref_fn(e->value)) {
		if (touch == PROVD_LRU_MAKE_NEWEST) {
			unlink_recency(l, e);
			push_newest(l, e);
		}
		l->hits++;
		v = e->value;
	} else {
		l->misses++;
	}
	pthread_mutex_unlock(&l->mu);
	return v;
}

void provd_lru_release(struct provd_lru *l, void *value)
{
	pthread_mutex_lock(&l->mu);
	l->free_fn(value);
	pthread_mutex_unlock(&l->mu);
}

sc_err provd_lru_insert(struct provd_lru *l, const uint8_t key[PROVD_LRU_KEY_LEN], void *value,
    enum provd_lru_dup dup)
{
	struct entry *e, *old;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", l->name);
	memcpy(e->key, key, PROVD_LRU_KEY_LEN);
	e->value = value;
	pthread_mutex_lock(&l->mu);
	if ((old = lookup(l, key)) != NULL) {
		if (dup == PROVD_LRU_KEEP_OLD) {
			pthread_mutex_unlock(&l->mu);
			free(e);
			return sc_fail(SC_ERR_EXISTS, "%s: already kept", l->name);
		}
		drop(l, old);
	}
	e->next = *bucket(l, key);
	*bucket(l, key) = e;
	push_newest(l, e);
	if (++l->n > l->max)
		drop(l, l->oldest); /* never e: max >= 1 */
	pthread_mutex_unlock(&l->mu);
	return SC_OK;
}

void provd_lru_get_stats(struct provd_lru *l, struct provd_lru_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	out->hits = l->hits;
	out->misses = l->misses;
	out->entries = l->n;
	out->max = l->max;
	pthread_mutex_unlock(&l->mu);
}
