// SPDX-License-Identifier: Apache-2.0
/*
 * firstrefs.c — firstrefs.h over the reference table (reftable.h, the oldest put replaced first:
 * an entry is used seconds after its put or never); the caller notes whether a lookup's entry
 * was used.
 */
#include <stdlib.h>
#include <time.h>
#include <openssl/crypto.h>

#include <openssl/evp.h>
#include "firstrefs.h"
#include "policy.h"

struct provd_firstrefs {
	struct provd_reftable *t;
};

void provd_firstref_free(struct provd_firstref *e)
{
	if (e == NULL)
		return;
	provd_ders_clear(&e->chain_der);
	sk_X509_pop_free(e->chain, X509_free);
	EVP_PKEY_free(e->ca_key);
	free(e);
}

static void entry_free(struct provd_refhead *h)
{
	provd_firstref_free((struct provd_firstref *)h); /* head is the first member */
}

sc_err provd_firstrefs_new(size_t max, struct provd_firstrefs **out)
{
	struct provd_firstrefs *c;
	sc_err r;

	*out = NULL;
	if (max < 1)
		return sc_fail(SC_ERR_USAGE, "first-certificate references: 0 entries");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "first-certificate references");
	if ((r = provd_reftable_new(max, PROVD_REFTABLE_OLDEST, entry_free, &c->t)) != SC_OK) {
		free(c);
		return r;
	}
	*out = c;
	return SC_OK;
}

void provd_firstrefs_free(struct provd_firstrefs *c)
{
	if (c == NULL)
		return;
	provd_reftable_free(c->t);
	free(c);
}

struct provd_firstref *provd_firstrefs_get(struct provd_firstrefs *c,
    const uint8_t id[SC_PROFILE_ID_LEN])
{
	return c == NULL
	    ? NULL
	    : (struct provd_firstref *)provd_reftable_get(c->t, id, (int64_t)time(NULL));
}

void provd_firstrefs_note(struct provd_firstrefs *c, int hit)
{
	if (c != NULL)
		provd_reftable_note(c->t, hit);
}

void provd_firstref_release(struct provd_firstrefs *c, struct provd_firstref *e)
{
	if (c != NULL && e != NULL)
		provd_reftable_release(c->t, &e->head);
}

void provd_firstrefs_put(struct provd_firstrefs *c, struct provd_firstref *e)
{
	if (c == NULL) {
		provd_firstref_free(e);
		return;
	}
	/* cert_from_ref uses it up to profileNotAfter + the skew; past that its way is free. */
	e->head.expires = e->profile_not_after + PROVD_CLOCK_SKEW_S;
	provd_reftable_put(c->t, &e->head, (int64_t)time(NULL));
}

void provd_firstrefs_drop(struct provd_firstrefs *c, const uint8_t id[SC_PROFILE_ID_LEN])
{
	if (c != NULL)
		provd_reftable_drop(c->t, id);
}

void provd_firstrefs_counts(struct provd_firstrefs *c, uint64_t *hits, uint64_t *misses,
    size_t *entries)
{
	*hits = *misses = 0;
	*entries = 0;
	if (c != NULL)
		provd_reftable_counts(c->t, hits, misses, entries);
}
