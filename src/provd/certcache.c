/*
 * certcache.c — parsed certificates by SHA-256 of their DER (certcache.h): a hash table of
 * chained buckets over a doubly linked recency list, one mutex. Parsing happens outside the
 * lock, so a slow parse never holds up the other workers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "certcache.h"
#include "util.h"

#define KEY_LEN 32

struct entry {
	uint8_t key[KEY_LEN];
	X509 *x;
	struct entry *newer, *older;   /* recency list */
	struct entry *next;            /* bucket chain */
};

struct provd_certcache {
	pthread_mutex_t mu;
	EVP_MD *sha256;                /* fetched once: an implicit fetch per digest costs more than it */
	struct entry **buckets;
	size_t n_buckets;              /* a power of two, at least 2 * max */
	struct entry *newest, *oldest;
	size_t n, max;
	uint64_t hits, misses;
};

sc_err provd_certcache_new(size_t max, struct provd_certcache **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct provd_certcache *c = NULL;
	int have_mutex = 0;

	*out = NULL;
	if (max < 1 || max > PROVD_CERTCACHE_MAX) {
		r = sc_fail(SC_ERR_USAGE, "certificate cache: %zu entries, expected 1..%d", max, PROVD_CERTCACHE_MAX);
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "certificate cache");
		goto out;
	}
	c->max = max;
	c->n_buckets = 16;
	while (c->n_buckets < 2 * max)
		c->n_buckets *= 2;
	if ((c->buckets = calloc(c->n_buckets, sizeof(*c->buckets))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "certificate cache: buckets for %zu entries", max);
		goto out;
	}
	if ((c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "certificate cache: SHA-256");
		goto out;
	}
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "certificate cache: mutex");
		goto out;
	}
	have_mutex = 1;
	*out = c;
	c = NULL;
	r = SC_OK;
out:
	if (c != NULL) {
		if (have_mutex)
			pthread_mutex_destroy(&c->mu);
		EVP_MD_free(c->sha256);
		free(c->buckets);
		free(c);
	}
	return r;
}

void provd_certcache_free(struct provd_certcache *c)
{
	struct entry *e, *older;

	if (c == NULL)
		return;
	for (e = c->newest; e != NULL; e = older) {
		older = e->older;
		X509_free(e->x);
		free(e);
	}
	pthread_mutex_destroy(&c->mu);
	EVP_MD_free(c->sha256);
	free(c->buckets);
	free(c);
}

static size_t bucket_of(const struct provd_certcache *c, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));    /* SHA-256 bits are as good a hash as any */
	return h & (c->n_buckets - 1);
}

/* Under the lock. */
static struct entry *find(const struct provd_certcache *c, const uint8_t *key)
{
	struct entry *e;

	for (e = c->buckets[bucket_of(c, key)]; e != NULL; e = e->next)
		if (memcmp(e->key, key, KEY_LEN) == 0)
			return e;
	return NULL;
}

static void unlink_recency(struct provd_certcache *c, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void push_newest(struct provd_certcache *c, struct entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

static void evict_oldest(struct provd_certcache *c)
{
	struct entry *e = c->oldest, **pp;

	if (e == NULL)
		return;
	unlink_recency(c, e);
	for (pp = &c->buckets[bucket_of(c, e->key)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	X509_free(e->x);
	free(e);
	c->n--;
}

sc_err provd_certcache_get(struct provd_certcache *c, const uint8_t *der, size_t len, X509 **out)
{
	uint8_t key[KEY_LEN];
	struct entry *e;
	X509 *x = NULL;
	sc_err r;

	*out = NULL;
	if (c == NULL)
		return sc_cert_from_der(der, len, out);
	if (len > SC_FILE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "certificate: %zu bytes", len);
	if (!EVP_Digest(der, len, key, NULL, c->sha256, NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "certificate cache: SHA-256");
	pthread_mutex_lock(&c->mu);
	if ((e = find(c, key)) != NULL && X509_up_ref(e->x)) {
		unlink_recency(c, e);
		push_newest(c, e);
		c->hits++;
		*out = e->x;
		pthread_mutex_unlock(&c->mu);
		return SC_OK;
	}
	c->misses++;
	pthread_mutex_unlock(&c->mu);

	if ((r = sc_cert_from_der(der, len, &x)) != SC_OK)
		return r;
	/* Remember it, unless another worker parsed the same bytes meanwhile. Failing to remember
	 * (out of memory) costs only a later parse. */
	pthread_mutex_lock(&c->mu);
	if (find(c, key) == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		if (X509_up_ref(x)) {
			size_t b = bucket_of(c, key);
			memcpy(e->key, key, KEY_LEN);
			e->x = x;
			e->next = c->buckets[b];
			c->buckets[b] = e;
			push_newest(c, e);
			if (++c->n > c->max)
				evict_oldest(c);
		} else {
			free(e);
		}
	}
	pthread_mutex_unlock(&c->mu);
	*out = x;
	return SC_OK;
}

void provd_certcache_get_stats(struct provd_certcache *c, struct provd_certcache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	out->hits = c->hits;
	out->misses = c->misses;
	out->entries = c->n;
	out->max = c->max;
	pthread_mutex_unlock(&c->mu);
}
