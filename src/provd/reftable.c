// SPDX-License-Identifier: Apache-2.0
/*
 * reftable.c — the table of reftable.h: sets of ways by a hash of the profile ID, one mutex.
 * Each way keeps what a lookup and the policy read (the hash, the entry's expiry, its put order
 * and time, whether and when a get found it since) beside its pointer, so a lookup or a put
 * reads one set's array and dereferences only the entry whose hash matches.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reftable.h"

struct way {
	uint64_t hash;
	int64_t expires, put_at, found_at; /* found_at: the last get's now */
	uint64_t stamp; /* its set's puts before it << 1 | found by a get since its put */
	struct provd_refhead *e;
};

struct provd_reftable {
	pthread_mutex_t lock;
	struct way *way;
	uint64_t *set_puts; /* puts into each set */
	size_t sets, ways, entries;
	enum provd_reftable_policy policy;
	uint64_t hits, misses;
	uint64_t evictions, retired; /* live entries replaced: in use or waiting; spent or stale */
	void (*free_entry)(struct provd_refhead *);
};

size_t provd_reftable_size(size_t max)
{
	if (max <= PROVD_REFTABLE_WAYS)
		return max;
	if (max > SIZE_MAX - PROVD_REFTABLE_WAYS)
		return max - max % PROVD_REFTABLE_WAYS;
	return (max + PROVD_REFTABLE_WAYS - 1) / PROVD_REFTABLE_WAYS * PROVD_REFTABLE_WAYS;
}

sc_err provd_reftable_new(size_t max, enum provd_reftable_policy policy,
    void (*free_entry)(struct provd_refhead *), struct provd_reftable **out)
{
	struct provd_reftable *t;
	size_t ways = max < PROVD_REFTABLE_WAYS ? max : PROVD_REFTABLE_WAYS, sets;

	*out = NULL;
	if (max < 1 || free_entry == NULL ||
	    (policy != PROVD_REFTABLE_OLDEST && policy != PROVD_REFTABLE_WINDOW))
		return sc_fail(SC_ERR_USAGE, "reference table: %zu entries", max);
	/* gaps15: whole sets, never fewer entries than max (provd_reftable_size). */
	sets = provd_reftable_size(max) / ways;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->way = calloc(sets * ways, sizeof(*t->way))) == NULL ||
	    (t->set_puts = calloc(sets, sizeof(*t->set_puts))) == NULL) {
		if (t != NULL)
			free(t->way);
		free(t);
		return sc_fail(SC_ERR_NOMEM, "reference table");
	}
	t->sets = sets;
	t->ways = ways;
	t->policy = policy;
	t->free_entry = free_entry;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return SC_OK;
}

void provd_reftable_free(struct provd_reftable *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->sets * t->ways; i++)
		if (t->way[i].e != NULL)
			t->free_entry(t->way[i].e); /* no worker is left to hold one */
	pthread_mutex_destroy(&t->lock);
	free(t->set_puts);
	free(t->way);
	free(t);
}

/* FNV-1a of the ID: profile IDs are the server's random bytes, but not trusted to be. */
static uint64_t hash_of(const uint8_t *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < SC_PROFILE_ID_LEN; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return h;
}

/* This hash's set. FNV's low bits mix poorly with a power-of-two modulus; the high bits are
 * folded in. */
static size_t set_index(const struct provd_reftable *t, uint64_t h)
{
	return (size_t)((h ^ (h >> 29)) % t->sets);
}

/* The first way of this hash's set. */
static struct way *set_of(const struct provd_reftable *t, uint64_t h)
{
	return &t->way[set_index(t, h) * t->ways];
}

/* This ID's way, or NULL; the lock held. */
static struct way *find(const struct provd_reftable *t, const uint8_t *id, uint64_t h)
{
	struct way *s = set_of(t, h);

	for (size_t i = 0; i < t->ways; i++)
		if (s[i].e != NULL && s[i].hash == h &&
		    memcmp(s[i].e->id, id, SC_PROFILE_ID_LEN) == 0)
			return &s[i];
	return NULL;
}

struct provd_refhead *provd_reftable_get(struct provd_reftable *t,
    const uint8_t id[SC_PROFILE_ID_LEN], int64_t now)
{
	struct provd_refhead *e = NULL;
	uint64_t h;
	struct way *w;

	if (t == NULL)
		return NULL;
	h = hash_of(id);
	pthread_mutex_lock(&t->lock);
	if ((w = find(t, id, h)) != NULL) {
		w->stamp |= 1;
		w->found_at = now;
		(e = w->e)->uses++;
	}
	pthread_mutex_unlock(&t->lock);
	return e;
}

int provd_reftable_has(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN])
{
	uint64_t h;
	int has;

	if (t == NULL)
		return 0;
	h = hash_of(id);
	pthread_mutex_lock(&t->lock);
	has = find(t, id, h) != NULL;
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

static uint64_t order(const struct way *w)
{
	return w->stamp >> 1;
}

/* Found since its put, last in the second half of its life: a batch at its window's end came,
 * or a batch a day is in its last days. */
static int spent(const struct way *w)
{
	return (w->stamp & 1) != 0 && w->found_at - w->put_at >= (w->expires - w->put_at) / 2;
}

/* Not found since its put and more than three times the set's ways put into its set since: no
 * batch came for it while the set turned over three times (a device gone, or served elsewhere).
 * A reference waiting for its window's end sees about the set's ways in puts at a table sized to
 * the renewing devices (PERFORMANCE.md 21.6). */
static int stale(const struct provd_reftable *t, const struct way *w, uint64_t set_puts)
{
	return (w->stamp & 1) == 0 && set_puts - order(w) > 3 * (uint64_t)t->ways;
}

/* The window policy's class of a live way, the first the first victims: 0 spent, 1 stale, 2 not
 * found since its put (waiting for a batch), 3 found and not spent (in use). */
static int wclass(const struct provd_reftable *t, const struct way *w, uint64_t set_puts)
{
	return spent(w) ? 0 : stale(t, w, set_puts) ? 1 : (w->stamp & 1) == 0 ? 2 : 3;
}

/* Whether a is a better victim than b, both live and, for the window policy, of one class
 * (reftable.h). */
static int worse(const struct provd_reftable *t, const struct way *a, const struct way *b,
    int class)
{
	if (t->policy == PROVD_REFTABLE_OLDEST || class == 1) /* put first */
		return order(a) < order(b);
	if (class == 2) /* the one that ends last; ties: put last */
		return a->expires != b->expires ? a->expires > b->expires : order(a) > order(b);
	/* the fewest days left; ties: put first */
	return a->expires != b->expires ? a->expires < b->expires : order(a) < order(b);
}

/* The way a put of hash h takes (its entry, if any, to be let go); the lock held. */
static struct way *victim(struct provd_reftable *t, const uint8_t *id, uint64_t h, int64_t now)
{
	struct way *s = set_of(t, h), *v = NULL;
	uint64_t puts = t->set_puts[set_index(t, h)];
	int class = 0;

	if ((v = find(t, id, h)) != NULL)
		return v; /* this ID's own: replaced, as before */
	for (size_t i = 0; i < t->ways; i++)
		if (s[i].e == NULL)
			return &s[i];
	for (size_t i = 0; i < t->ways; i++)
		if (s[i].expires < now)
			return &s[i];
	if (t->policy == PROVD_REFTABLE_WINDOW) {
		size_t n[4] = { 0, 0, 0, 0 };

		for (size_t i = 0; i < t->ways; i++)
			n[wclass(t, &s[i], puts)]++;
		/* Spent first, then stale; then waiting ones while they hold more than half the set
		 * (or nothing is in use); then those in use. */
		class = n[0] > 0 ? 0 : n[1] > 0 ? 1 : n[2] > t->ways / 2 || n[3] == 0 ? 2 : 3;
	}
	for (size_t i = 0; i < t->ways; i++)
		if ((t->policy != PROVD_REFTABLE_WINDOW || wclass(t, &s[i], puts) == class) &&
		    (v == NULL || worse(t, &s[i], v, class)))
			v = &s[i];
	/*
	 * gaps15: a spent reference given up is the policy's turnover, not a loss. late15b: a
	 * stale one is a loss: never found, its window not ended (a live victim), it is still of
	 * use to a batch at its window's end (--batch 32, the agent's default, sends the whole
	 * window then). In a table sized as OPERATIONS says a set takes about two thirds of its
	 * ways in puts a window, so a reference is stale only past ~4.5 of its windows (expired
	 * by then: a free way, not counted), in a table some three times too small, or with a
	 * window far longer than its set's others': each the table's size, an eviction.
	 */
	if (t->policy == PROVD_REFTABLE_WINDOW && class == 0)
		t->retired++;
	else
		t->evictions++;
	return v;
}

static void put_uses(struct provd_reftable *t, struct provd_refhead *e, int64_t now, int uses)
{
	struct provd_refhead *old = NULL;
	uint64_t h = hash_of(e->id);
	struct way *w;

	e->uses = uses; /* the table's, and the caller's when held */
	pthread_mutex_lock(&t->lock);
	w = victim(t, e->id, h, now);
	if (w->e == NULL)
		t->entries++;
	else if (--w->e->uses == 0)
		old = w->e;
	*w = (struct way){ .hash = h,
		.expires = e->expires,
		.put_at = now,
		.stamp = ++t->set_puts[set_index(t, h)] << 1,
		.e = e };
	pthread_mutex_unlock(&t->lock);
	if (old != NULL)
		t->free_entry(old);
}

void provd_reftable_put(struct provd_reftable *t, struct provd_refhead *e, int64_t now)
{
	put_uses(t, e, now, 1);
}

void provd_reftable_put_held(struct provd_reftable *t, struct provd_refhead *e, int64_t now)
{
	put_uses(t, e, now, 2);
}

void provd_reftable_drop(struct provd_reftable *t, const uint8_t id[SC_PROFILE_ID_LEN])
{
	struct provd_refhead *old = NULL;
	uint64_t h;
	struct way *w;

	if (t == NULL)
		return;
	h = hash_of(id);
	pthread_mutex_lock(&t->lock);
	if ((w = find(t, id, h)) != NULL) {
		if (--w->e->uses == 0)
			old = w->e;
		*w = (struct way){ 0 };
		t->entries--;
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

uint64_t provd_reftable_evictions(struct provd_reftable *t)
{
	uint64_t n;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->evictions;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t provd_reftable_retired(struct provd_reftable *t)
{
	uint64_t n;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->retired;
	pthread_mutex_unlock(&t->lock);
	return n;
}
