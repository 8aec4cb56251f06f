// SPDX-License-Identifier: Apache-2.0
/*
 * leafrefs.c — the table of leafrefs.h: slots by a hash of the profile ID, one mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "leafrefs.h"
#include "text.h"

struct provd_leafrefs {
	pthread_mutex_t lock;
	struct provd_leafref **slot;
	size_t n;
	uint64_t hits, misses;
};

sc_err provd_leafrefs_new(size_t max, struct provd_leafrefs **out)
{
	struct provd_leafrefs *c;

	*out = NULL;
	if (max < 1 || max > PROVD_LEAFREFS_MAX)
		return sc_fail(SC_ERR_USAGE, "leaf references: %zu entries, expected 1..%d", max,
		    PROVD_LEAFREFS_MAX);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->slot = calloc(max, sizeof(*c->slot))) == NULL) {
		free(c);
		return sc_fail(SC_ERR_NOMEM, "leaf references");
	}
	c->n = max;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return SC_OK;
}

static void entry_free(struct provd_leafref *e)
{
	sc_leaf_ref_free(e->ref);
	free(e);
}

void provd_leafrefs_free(struct provd_leafrefs *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->slot[i] != NULL)
			entry_free(c->slot[i]); /* no worker is left to hold one */
	pthread_mutex_destroy(&c->lock);
	free(c->slot);
	free(c);
}

/* FNV-1a of the ID: profile IDs are the server's random bytes, but not trusted to be. */
static size_t slot_of(const struct provd_leafrefs *c, const uint8_t *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < SC_PROFILE_ID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return (size_t)(h % c->n);
}

struct provd_leafref *provd_leafrefs_get(struct provd_leafrefs *c,
    const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_leafref *e;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->lock);
	e = c->slot[slot_of(c, id)];
	if (e != NULL && memcmp(sc_leaf_ref_profile_id(e->ref), id, SC_PROFILE_ID_LEN) == 0) {
		e->uses++;
		c->hits++;
	} else {
		e = NULL;
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

int provd_leafrefs_has(struct provd_leafrefs *c, const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_leafref *e;
	int has;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->lock);
	e = c->slot[slot_of(c, id)];
	has = e != NULL && memcmp(sc_leaf_ref_profile_id(e->ref), id, SC_PROFILE_ID_LEN) == 0;
	pthread_mutex_unlock(&c->lock);
	return has;
}

void provd_leafref_release(struct provd_leafrefs *c, struct provd_leafref *e)
{
	int last;

	if (c == NULL || e == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	last = --e->uses == 0;
	pthread_mutex_unlock(&c->lock);
	if (last)
		entry_free(e);
}

void provd_leafrefs_put(struct provd_leafrefs *c, struct sc_leaf_ref *ref,
    int64_t profile_not_after)
{
	struct provd_leafref *e, *old = NULL;
	size_t s;

	if (c == NULL || (e = calloc(1, sizeof(*e))) == NULL) {
		sc_leaf_ref_free(ref);
		return;
	}
	e->ref = ref;
	e->profile_not_after = profile_not_after;
	sc_hex(sc_leaf_ref_profile_id(ref), SC_PROFILE_ID_LEN, e->profile_id);
	e->uses = 1; /* the table's */
	s = slot_of(c, sc_leaf_ref_profile_id(ref));
	pthread_mutex_lock(&c->lock);
	if (c->slot[s] != NULL && --c->slot[s]->uses == 0)
		old = c->slot[s];
	c->slot[s] = e;
	pthread_mutex_unlock(&c->lock);
	if (old != NULL)
		entry_free(old);
}

void provd_leafrefs_counts(struct provd_leafrefs *c, uint64_t *hits, uint64_t *misses)
{
	*hits = *misses = 0;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	*hits = c->hits;
	*misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}
