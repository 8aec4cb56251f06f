// SPDX-License-Identifier: Apache-2.0
/*
 * reftable.c — the table of reftable.h: slots by a hash of the profile ID, one mutex.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reftable.h"

struct provd_reftable {
	pthread_mutex_t lock;
	struct provd_refhead **slot;
	size_t n, entries;
	uint64_t hits, misses;
	void (*free_entry)(struct provd_refhead *);
};

sc_err provd_reftable_new(size_t max, void (*free_entry)(struct provd_refhead *),
    struct provd_reftable **out)
{
	struct provd_reftable *t;

	*out = NULL;
	if (max < 1 || free_entry == NULL)
		return sc_fail(SC_ERR_USAGE, "reference table: %zu entries", max);
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->slot = calloc(max, sizeof(*t->slot))) == NULL) {
		free(t);
		return sc_fail(SC_ERR_NOMEM, "reference table");
	}
	t->n = max;
	t->free_entry = free_entry;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return SC_OK;
}

void provd_reftable_free(struct provd_reftable *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (t->slot[i] != NULL)
			t->free_entry(t->slot[i]); /* no worker is left to hold one */
	pthread_mutex_destroy(&t->lock);
	free(t->slot);
	free(t);
}

/* FNV-1a of the ID: profile IDs are the server's random bytes, but not trusted to be. */
static size_t slot_of(const struct provd_reftable *t, const uint8_t *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < SC_PROFILE_ID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return (size_t)(h % t->n);
}

/* The slot's entry if it is this ID's; the lock held. */
static struct provd_refhead *find(struct provd_reftable *t, const uint8_t *id)
{
	struct provd_refhead *e = t->slot[slot_of(t, id)];

	return e != NULL && memcmp(e->id, id, SC_PROFILE_ID_LEN) == 0 ? e : NULL;
}

struct provd_refhead *provd_reftable_get(struct provd_reftable *t,
    const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_refhead *e;

	if (t == NULL)
		return NULL;
	pthread_mutex_lock(&t->lock);
	if ((e = find(t, id)) != NULL)
		e->uses++;
	pthread_mutex_unlock(&t->lock);
	return e;
}

int provd_reftable_has(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN])
{
	int has;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	has = find(t, id) != NULL;
	pthread_mutex_unlock(&t->lock);
	return has;
}

void provd_reftable_release(struct provd_reftable *t, struct provd_refhead *e)
{
	int last;

	if (t == NULL || e == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	last = --e->uses == 0;
	pthread_mutex_unlock(&t->lock);
	if (last)
		t->free_entry(e);
}

void provd_reftable_put(struct provd_reftable *t, struct provd_refhead *e)
{
	struct provd_refhead *old = NULL;
	size_t s = slot_of(t, e->id);

	e->uses = 1; /* the table's */
	pthread_mutex_lock(&t->lock);
	if (t->slot[s] == NULL)
		t->entries++;
	else if (--t->slot[s]->uses == 0)
		old = t->slot[s];
	t->slot[s] = e;
	pthread_mutex_unlock(&t->lock);
	if (old != NULL)
		t->free_entry(old);
}

void provd_reftable_drop(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_refhead *e, *old = NULL;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	if ((e = find(t, id)) != NULL) {
		t->slot[slot_of(t, id)] = NULL;
		t->entries--;
		if (--e->uses == 0)
			old = e;
	}
	pthread_mutex_unlock(&t->lock);
	if (old != NULL)
		t->free_entry(old);
}

void provd_reftable_note(struct provd_reftable *t, int hit)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	if (hit)
		t->hits++;
	else
		t->misses++;
	pthread_mutex_unlock(&t->lock);
}

void provd_reftable_counts(struct provd_reftable *t, uint64_t *hits, uint64_t *misses,
    size_t *entries)
{
	*hits = *misses = 0;
	*entries = 0;
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	*hits = t->hits;
	*misses = t->misses;
	*entries = t->entries;
	pthread_mutex_unlock(&t->lock);
}
