// SPDX-License-Identifier: Apache-2.0
/*
 * leafrefs.c — leafrefs.h over the reference table (reftable.h, its window policy): an entry
 * holds one sc_leaf_ref; every lookup is counted, a hit when it found one.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leafrefs.h"
#include "policy.h"
#include "text.h"

struct provd_leafrefs {
	struct provd_reftable *t;
};

static void entry_free(struct provd_refhead *h)
{
	struct provd_leafref *e = (struct provd_leafref *)h; /* head is the first member */

	sc_leaf_ref_free(e->ref);
	free(e);
}

sc_err provd_leafrefs_new(size_t max, struct provd_leafrefs **out)
{
	struct provd_leafrefs *c;
	sc_err r;

	*out = NULL;
	if (max < 1 || max > PROVD_LEAFREFS_MAX)
		return sc_fail(SC_ERR_USAGE, "leaf references: %zu entries, expected 1..%d", max,
		    PROVD_LEAFREFS_MAX);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "leaf references");
	if ((r = provd_reftable_new(max, PROVD_REFTABLE_WINDOW, entry_free, &c->t)) != SC_OK) {
		free(c);
		return r;
	}
	*out = c;
	return SC_OK;
}

void provd_leafrefs_free(struct provd_leafrefs *c)
{
	if (c == NULL)
		return;
	provd_reftable_free(c->t);
	free(c);
}

struct provd_leafref *provd_leafrefs_get(struct provd_leafrefs *c,
    const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_refhead *h;

	if (c == NULL)
		return NULL;
	h = provd_reftable_get(c->t, id, (int64_t)time(NULL));
	provd_reftable_note(c->t, h != NULL);
	return (struct provd_leafref *)h;
}

int provd_leafrefs_has(struct provd_leafrefs *c, const uint8_t id[SC_PROFILE_ID_LEN])
{
	return c != NULL && provd_reftable_has(c->t, id);
}

void provd_leafref_release(struct provd_leafrefs *c, struct provd_leafref *e)
{
	if (c != NULL && e != NULL)
		provd_reftable_release(c->t, &e->head);
}

struct provd_leafref *provd_leafrefs_put(struct provd_leafrefs *c, struct sc_leaf_ref *ref,
    int64_t profile_not_after, int64_t window_end, int recorded)
{
	struct provd_leafref *e;

	if (c == NULL || (e = calloc(1, sizeof(*e))) == NULL) {
		sc_leaf_ref_free(ref);
		return NULL;
	}
	e->ref = ref;
	e->profile_not_after = profile_not_after;
	e->window_end = window_end;
	e->recorded = recorded != 0;
	/*
	 * late15: cert_fast uses it until the window's end + the skew (once a certificate of it is
	 * recorded: provd_leafref_usable); past that its way is free. A window's later
	 * certificates come up to its end (--batch N >= K: all of them then).
	 */
	e->head.expires = (window_end > profile_not_after ? window_end : profile_not_after) +
	    PROVD_CLOCK_SKEW_S;
	memcpy(e->head.id, sc_leaf_ref_profile_id(ref), SC_PROFILE_ID_LEN);
	sc_hex(e->head.id, SC_PROFILE_ID_LEN, e->profile_id);
	provd_reftable_put_held(c->t, &e->head, (int64_t)time(NULL));
	return e;
}

int provd_leafref_usable(const struct provd_leafref *e, int64_t now)
{
	if (now <= e->profile_not_after + PROVD_CLOCK_SKEW_S)
		return 1;
	return now <= e->head.expires && __atomic_load_n(&e->recorded, __ATOMIC_ACQUIRE) != 0;
}

void provd_leafref_recorded(struct provd_leafref *e)
{
	if (e != NULL && __atomic_load_n(&e->recorded, __ATOMIC_RELAXED) == 0)
		__atomic_store_n(&e->recorded, 1, __ATOMIC_RELEASE);
}

void provd_leafrefs_counts(struct provd_leafrefs *c, uint64_t *hits, uint64_t *misses)
{
	size_t entries;

	*hits = *misses = 0;
	if (c != NULL)
		provd_reftable_counts(c->t, hits, misses, &entries);
}

uint64_t provd_leafrefs_evictions(struct provd_leafrefs *c)
{
	return c == NULL ? 0 : provd_reftable_evictions(c->t);
}

uint64_t provd_leafrefs_retired(struct provd_leafrefs *c)
{
	return c == NULL ? 0 : provd_reftable_retired(c->t);
}
