// SPDX-License-Identifier: Apache-2.0
/*
 * profcache.c — signed profiles by digest (profcache.h), kept in a provd_lru (lru.c). Each value
 * carries a reference count under the lru's lock: one for the table while listed, one per user,
 * so that an evicted profile lives until its last user lets go.
 */
#include <stdlib.h>
#include <string.h>
#include "lru.h"
#include "profcache.h"

_Static_assert(SC_PROFILE_DIGEST_LEN == PROVD_LRU_KEY_LEN, "a profile's digest is the lru's key");

struct kept {
	struct sc_profile *p;
	int refs; /* the table's (while listed) and the users'; under the lru's lock */
};

struct provd_profcache {
	struct provd_lru *lru;
};

/* Under the lru's lock, as kept_unref. */
static int kept_ref(void *value)
{
	((struct kept *)value)->refs++;
	return 1;
}

static void kept_unref(void *value)
{
	struct kept *k = value;

	if (--k->refs == 0) {
		sc_profile_free(k->p);
		free(k);
	}
}

sc_err provd_profcache_new(size_t max, struct provd_profcache **out)
{
	sc_err r;
	struct provd_profcache *c = NULL;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile cache");
		goto out;
	}
	/* checks max: "profile cache: %zu entries, expected 1..%d" */
	if ((r = provd_lru_new("profile cache", max, PROVD_PROFCACHE_MAX, kept_ref, kept_unref,
	         &c->lru)) != SC_OK)
		goto out;
	*out = c;
	c = NULL;
	r = SC_OK;
out:
	free(c);
	return r;
}

void provd_profcache_free(struct provd_profcache *c)
{
	if (c == NULL)
		return;
	/* Only at shutdown, when no worker holds an entry any more. */
	provd_lru_free(c->lru);
	free(c);
}

sc_err provd_profcache_put(struct provd_profcache *c, struct sc_profile *p)
{
	struct sc_profile_info info;
	struct kept *k;
	sc_err r;

	if (c == NULL || p == NULL)
		return sc_fail(SC_ERR_USAGE, "profile cache: nothing to keep");
	sc_profile_get_info(p, &info);
	if (!info.signed_ || info.origin != SC_KEY_DEVICE_GENERATED)
		return sc_fail(SC_ERR_USAGE,
		    "profile cache: only signed, device-generated profiles are kept");
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "profile cache");
	k->p = p;
	k->refs = 1; /* the table's */
	/* the same bytes signed twice cannot happen; keep the newer */
	if ((r = provd_lru_insert(c->lru, info.digest, k, PROVD_LRU_REPLACE_OLD)) != SC_OK)
		free(k); /* p is still the caller's */
	return r;
}

sc_err provd_profcache_get(struct provd_profcache *c, const uint8_t *der, size_t len,
    const struct sc_profile **out, struct provd_profref **ref)
{
	uint8_t key[PROVD_LRU_KEY_LEN];
	sc_err r;

	*out = NULL;
	*ref = NULL;
	if (c == NULL)
		return SC_ERR_NOT_FOUND;
	if ((r = provd_lru_digest(c->lru, der, len, key)) != SC_OK)
		return r;
	return provd_profcache_get_digest(c, key, out, ref);
}

sc_err provd_profcache_get_digest(struct provd_profcache *c, const uint8_t *key,
    const struct sc_profile **out, struct provd_profref **ref)
{
	struct kept *k;

	_Static_assert(PROVD_LRU_KEY_LEN == SC_PROFILE_DIGEST_LEN, "the key is the digest");
	*out = NULL;
	*ref = NULL;
	if (c == NULL || key == NULL)
		return SC_ERR_NOT_FOUND;
	/* A hit does not make the entry newer: a profile is asked for once, by its certificate. */
	if ((k = provd_lru_find(c->lru, key, PROVD_LRU_KEEP_ORDER)) == NULL)
		return SC_ERR_NOT_FOUND;
	*out = k->p;
	*ref = (struct provd_profref *)k;
	return SC_OK;
}

void provd_profcache_release(struct provd_profcache *c, struct provd_profref *ref)
{
	if (c == NULL || ref == NULL)
		return;
	/* Evicted while in use: the last user frees it. */
	provd_lru_release(c->lru, ref);
}

void provd_profcache_counts(struct provd_profcache *c, uint64_t *hits, uint64_t *misses,
    size_t *entries)
{
	struct provd_lru_stats st;

	provd_lru_get_stats(c != NULL ? c->lru : NULL, &st);
	*hits = st.hits;
	*misses = st.misses;
	*entries = st.entries;
}
