/*
 * profcache.c — signed profiles by digest (profcache.h): a small hash table over a recency
 * list, one mutex, reference counts so that an evicted profile lives until its last user lets go.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "profcache.h"

struct pentry {
	uint8_t key[SC_PROFILE_DIGEST_LEN];
	struct sc_profile *p;
	int refs;                      /* users holding it */
	int listed;                    /* 1 while in the table */
	struct pentry *newer, *older, *next;
};

struct provd_profcache {
	pthread_mutex_t mu;
	EVP_MD *sha256;
	struct pentry **buckets;
	size_t n_buckets;              /* a power of two, at least 2 * max */
	struct pentry *newest, *oldest;
	size_t n, max;
	uint64_t hits, misses;
};

sc_err provd_profcache_new(size_t max, struct provd_profcache **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct provd_profcache *c = NULL;

	*out = NULL;
	if (max < 1 || max > PROVD_PROFCACHE_MAX) {
		r = sc_fail(SC_ERR_USAGE, "profile cache: %zu entries, expected 1..%d", max, PROVD_PROFCACHE_MAX);
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile cache");
		goto out;
	}
	c->max = max;
	c->n_buckets = 16;
	while (c->n_buckets < 2 * max)
		c->n_buckets *= 2;
	if ((c->buckets = calloc(c->n_buckets, sizeof(*c->buckets))) == NULL ||
	    (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "profile cache");
		goto out;
	}
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "profile cache: mutex");
		goto out;
	}
	*out = c;
	c = NULL;
	r = SC_OK;
out:
	if (c != NULL) {
		EVP_MD_free(c->sha256);
		free(c->buckets);
		free(c);
	}
	return r;
}

static void entry_free(struct pentry *e)
{
	sc_profile_free(e->p);
	free(e);
}

void provd_profcache_free(struct provd_profcache *c)
{
	struct pentry *e, *older;

	if (c == NULL)
		return;
	/* Only at shutdown, when no worker holds an entry any more. */
	for (e = c->newest; e != NULL; e = older) {
		older = e->older;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->mu);
	EVP_MD_free(c->sha256);
	free(c->buckets);
	free(c);
}

static struct pentry **bucket(const struct provd_profcache *c, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	return &c->buckets[h & (c->n_buckets - 1)];
}

/* Under the lock: take e out of the table and the recency list; freed now if nobody holds it. */
static void unlist(struct provd_profcache *c, struct pentry *e)
{
	struct pentry **pp;

	for (pp = bucket(c, e->key); *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->listed = 0;
	c->n--;
	if (e->refs == 0)
		entry_free(e);
}

static void push_newest(struct provd_profcache *c, struct pentry *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

sc_err provd_profcache_put(struct provd_profcache *c, struct sc_profile *p)
{
	struct sc_profile_info info;
	struct pentry *e, *old;

	if (c == NULL || p == NULL)
		return sc_fail(SC_ERR_USAGE, "profile cache: nothing to keep");
	sc_profile_get_info(p, &info);
	if (!info.signed_ || info.origin != SC_KEY_DEVICE_GENERATED)
		return sc_fail(SC_ERR_USAGE, "profile cache: only signed, device-generated profiles are kept");
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "profile cache");
	memcpy(e->key, info.digest, sizeof(e->key));
	e->p = p;
	e->listed = 1;
	pthread_mutex_lock(&c->mu);
	for (old = *bucket(c, e->key); old != NULL; old = old->next)
		if (memcmp(old->key, e->key, sizeof(e->key)) == 0)
			break;
	if (old != NULL)
		unlist(c, old);        /* the same bytes signed twice cannot happen; keep the newer */
	e->next = *bucket(c, e->key);
	*bucket(c, e->key) = e;
	push_newest(c, e);
	if (++c->n > c->max)
		unlist(c, c->oldest);
	pthread_mutex_unlock(&c->mu);
	return SC_OK;
}

sc_err provd_profcache_get(struct provd_profcache *c, const uint8_t *der, size_t len,
    const struct sc_profile **out, struct provd_profref **ref)
{
	uint8_t key[SC_PROFILE_DIGEST_LEN];
	struct pentry *e;

	*out = NULL;
	*ref = NULL;
	if (c == NULL)
		return SC_ERR_NOT_FOUND;
	if (!EVP_Digest(der, len, key, NULL, c->sha256, NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "profile cache: SHA-256");
	pthread_mutex_lock(&c->mu);
	for (e = *bucket(c, key); e != NULL; e = e->next)
		if (memcmp(e->key, key, sizeof(key)) == 0)
			break;
	if (e == NULL) {
		c->misses++;
		pthread_mutex_unlock(&c->mu);
		return SC_ERR_NOT_FOUND;
	}
	c->hits++;
	e->refs++;
	*out = e->p;
	*ref = (struct provd_profref *)e;
	pthread_mutex_unlock(&c->mu);
	return SC_OK;
}

void provd_profcache_release(struct provd_profcache *c, struct provd_profref *ref)
{
	struct pentry *e = (struct pentry *)ref;

	if (c == NULL || e == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	/* Evicted while in use: the last user frees it. */
	if (--e->refs == 0 && !e->listed)
		entry_free(e);
	pthread_mutex_unlock(&c->mu);
}

void provd_profcache_counts(struct provd_profcache *c, uint64_t *hits, uint64_t *misses, size_t *entries)
{
	*hits = *misses = 0;
	*entries = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	*hits = c->hits;
	*misses = c->misses;
	*entries = c->n;
	pthread_mutex_unlock(&c->mu);
}
