// SPDX-License-Identifier: Apache-2.0
/*
 * firstrefs.c — the table of firstrefs.h: slots by a hash of the profile ID, one mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "firstrefs.h"

struct provd_firstrefs {
	pthread_mutex_t lock;
	struct provd_firstref **slot;
	size_t n, entries;
	uint64_t hits, misses;
};

sc_err provd_firstrefs_new(size_t max, struct provd_firstrefs **out)
{
	struct provd_firstrefs *c;

	*out = NULL;
	if (max < 1)
		return sc_fail(SC_ERR_USAGE, "first-certificate references: 0 entries");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->slot = calloc(max, sizeof(*c->slot))) == NULL) {
		free(c);
		return sc_fail(SC_ERR_NOMEM, "first-certificate references");
	}
	c->n = max;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return SC_OK;
}

void provd_firstref_free(struct provd_firstref *e)
{
	if (e == NULL)
		return;
	OPENSSL_free(e->der);
	provd_ders_clear(&e->chain_der);
	sk_X509_pop_free(e->chain, X509_free);
	free(e);
}

void provd_firstrefs_free(struct provd_firstrefs *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		provd_firstref_free(c->slot[i]); /* no worker is left to hold one */
	pthread_mutex_destroy(&c->lock);
	free(c->slot);
	free(c);
}

/* FNV-1a of the ID (leafrefs.c's). */
static size_t slot_of(const struct provd_firstrefs *c, const uint8_t *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < SC_PROFILE_ID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return (size_t)(h % c->n);
}

struct provd_firstref *provd_firstrefs_get(struct provd_firstrefs *c,
    const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_firstref *e;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->lock);
	e = c->slot[slot_of(c, id)];
	if (e != NULL && memcmp(e->id, id, SC_PROFILE_ID_LEN) == 0)
		e->uses++;
	else
		e = NULL;
	pthread_mutex_unlock(&c->lock);
	return e;
}

void provd_firstrefs_note(struct provd_firstrefs *c, int hit)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
}

void provd_firstref_release(struct provd_firstrefs *c, struct provd_firstref *e)
{
	int last;

	if (c == NULL || e == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	last = --e->uses == 0;
	pthread_mutex_unlock(&c->lock);
	if (last)
		provd_firstref_free(e);
}

void provd_firstrefs_put(struct provd_firstrefs *c, struct provd_firstref *e)
{
	struct provd_firstref *old = NULL;
	size_t s;

	if (c == NULL) {
		provd_firstref_free(e);
		return;
	}
	e->uses = 1; /* the table's */
	s = slot_of(c, e->id);
	pthread_mutex_lock(&c->lock);
	if (c->slot[s] == NULL)
		c->entries++;
	else if (--c->slot[s]->uses == 0)
		old = c->slot[s];
	c->slot[s] = e;
	pthread_mutex_unlock(&c->lock);
	provd_firstref_free(old);
}

void provd_firstrefs_drop(struct provd_firstrefs *c, const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_firstref *e, *old = NULL;
	size_t s;

	if (c == NULL)
		return;
	s = slot_of(c, id);
	pthread_mutex_lock(&c->lock);
	e = c->slot[s];
	if (e != NULL && memcmp(e->id, id, SC_PROFILE_ID_LEN) == 0) {
		c->slot[s] = NULL;
		c->entries--;
		if (--e->uses == 0)
			old = e;
	}
	pthread_mutex_unlock(&c->lock);
	provd_firstref_free(old);
}

void provd_firstrefs_counts(struct provd_firstrefs *c, uint64_t *hits, uint64_t *misses,
    size_t *entries)
{
	*hits = *misses = 0;
	*entries = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	*entries = c->entries;
	pthread_mutex_unlock(&c->lock);
}
