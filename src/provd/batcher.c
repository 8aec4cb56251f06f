// SPDX-License-Identifier: Apache-2.0
/*
 * batcher.c — waves of concurrent profile requests signed under one Merkle root (batcher.h).
 * The first request of a wave leads: it waits for others, closes the wave, signs it outside the
 * lock (new requests open the next wave meanwhile) and wakes the rest. Waves are signed one at a
 * time, as a group commit is written: while one is signed the next gathers, so waves grow exactly
 * when the signer is the bottleneck (an HSM, an RSA key) and add no wait when it is not.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <selfcert/batch.h>
#include "batcher.h"

struct wave {
	struct sc_profile **bodies; /* borrowed from the requests, which wait for the wave */
	uint8_t **ders;
	size_t *lens;
	size_t n, refs;
	int done;
	sc_err r;
};

struct provd_batcher {
	pthread_mutex_t mu;
	pthread_cond_t wake;    /* the leader's: the open wave is full, or the signer is free */
	pthread_cond_t signed_; /* everyone's: a wave is done */
	int signing;            /* a wave is being signed: the next one gathers meanwhile */
	size_t inflight;        /* requests announced (provd_batcher_enter), not yet arrived */
	struct wave *open;      /* the wave new requests join; NULL: the next opens one */
	EVP_PKEY *key;
	X509 *cert;
	size_t max;
	unsigned wait_ms;
	uint64_t waves, profiles;
};

static void wave_free(struct wave *w)
{
	if (w == NULL)
		return;
	if (w->ders != NULL)
		for (size_t i = 0; i < w->n; i++)
			OPENSSL_free(w->ders[i]);
	free(w->bodies);
	free(w->ders);
	free(w->lens);
	free(w);
}

static struct wave *wave_new(size_t max)
{
	struct wave *w = calloc(1, sizeof(*w));

	if (w == NULL || (w->bodies = calloc(max, sizeof(*w->bodies))) == NULL ||
	    (w->ders = calloc(max, sizeof(*w->ders))) == NULL ||
	    (w->lens = calloc(max, sizeof(*w->lens))) == NULL) {
		wave_free(w);
		return NULL;
	}
	return w;
}

sc_err provd_batcher_new(EVP_PKEY *key, X509 *cert, size_t max, unsigned wait_ms,
    struct provd_batcher **out)
{
	struct provd_batcher *b;
	pthread_condattr_t ca;

	if (out == NULL || key == NULL || cert == NULL || max < PROVD_BATCH_SIZE_MIN ||
	    max > PROVD_BATCH_SIZE_MAX || wait_ms > PROVD_BATCH_WAIT_MS_MAX)
		return sc_fail(SC_ERR_USAGE, "profile batch: size %d..%d, wait 0..%d ms",
		    PROVD_BATCH_SIZE_MIN, PROVD_BATCH_SIZE_MAX, PROVD_BATCH_WAIT_MS_MAX);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	/* The leader's wait is on the monotonic clock: a clock step must not stretch a wave. */
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_mutex_init(&b->mu, NULL) != 0 || pthread_cond_init(&b->wake, &ca) != 0 ||
	    pthread_cond_init(&b->signed_, NULL) != 0) {
		free(b);
		return sc_fail(SC_ERR_INTERNAL, "profile batch: pthread");
	}
	pthread_condattr_destroy(&ca);
	b->key = key;
	b->cert = cert;
	b->max = max;
	b->wait_ms = wait_ms;
	*out = b;
	return SC_OK;
}

void provd_batcher_free(struct provd_batcher *b)
{
	if (b == NULL)
		return;
	wave_free(b->open); /* empty: a wave is closed before anyone waits on it */
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->wake);
	pthread_cond_destroy(&b->signed_);
	free(b);
}

/*
 * The leader: wait while another wave is being signed; then, with wait_ms, until the wave is full
 * or wait_ms has passed (a fixed window); without, while requests that announced themselves are
 * still on their way (at most PROVD_BATCH_INFLIGHT_MS). Close the wave, sign it, wake the rest.
 */
static void lead(struct provd_batcher *b, struct wave *w)
{
	struct timespec until;
	unsigned ms = b->wait_ms > 0 ? b->wait_ms : PROVD_BATCH_INFLIGHT_MS;
	int timed_out = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (w->n < b->max) {
		if (b->signing)
			pthread_cond_wait(&b->wake, &b->mu);
		else if (timed_out || (b->wait_ms == 0 && b->inflight == 0))
			break; /* no window and nobody on the way: a lone request never waits */
		else
			timed_out = pthread_cond_timedwait(&b->wake, &b->mu, &until) == ETIMEDOUT;
	}
	if (b->open == w)
		b->open = NULL;
	b->signing = 1;
	pthread_mutex_unlock(&b->mu);
	/* Outside the lock: the next wave gathers while this one is signed. */
	w->r = sc_batch_sign(w->bodies, w->n, b->key, b->cert, w->ders, w->lens);
	pthread_mutex_lock(&b->mu);
	b->signing = 0;
	w->done = 1;
	if (w->r == SC_OK) {
		b->waves++;
		b->profiles += w->n;
	}
	pthread_cond_broadcast(&b->signed_);
	pthread_cond_broadcast(&b->wake); /* the next wave's leader, if it waits for the signer */
}

sc_err provd_batcher_sign(struct provd_batcher *b, int announced, struct sc_profile *body,
    uint8_t **der, size_t *len, size_t *wave_n)
{
	struct wave *w;
	size_t i;
	sc_err r;

	if (b == NULL || body == NULL || der == NULL || len == NULL)
		return sc_fail(SC_ERR_USAGE, "provd_batcher_sign: missing argument");
	*der = NULL;
	*len = 0;
	pthread_mutex_lock(&b->mu);
	if (b->open == NULL && (b->open = wave_new(b->max)) == NULL) {
		pthread_mutex_unlock(&b->mu);
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	}
	if (announced && b->inflight > 0)
		b->inflight--; /* it has arrived */
	w = b->open;
	i = w->n++;
	w->bodies[i] = body;
	w->refs++;
	if (w->n == b->max)
		b->open = NULL;           /* full: the next request opens the next wave */
	pthread_cond_broadcast(&b->wake); /* a waiting leader counts again */
	if (i == 0)
		lead(b, w);
	while (!w->done)
		pthread_cond_wait(&b->signed_, &b->mu);
	r = w->r;
	if (wave_n != NULL)
		*wave_n = w->n;
	if (r == SC_OK) {
		*der = w->ders[i];
		*len = w->lens[i];
		w->ders[i] = NULL;
	} else if (i != 0) {
		/* The detail is the leader's (thread-local); this request says what failed. */
		r = sc_fail(r, "the profile batch this request was in could not be signed");
	}
	if (--w->refs == 0)
		wave_free(w);
	pthread_mutex_unlock(&b->mu);
	return r;
}

void provd_batcher_enter(struct provd_batcher *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->inflight++;
	pthread_mutex_unlock(&b->mu);
}

void provd_batcher_leave(struct provd_batcher *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	if (b->inflight > 0)
		b->inflight--;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->mu);
}

void provd_batcher_counts(struct provd_batcher *b, uint64_t *waves, uint64_t *profiles)
{
	*waves = *profiles = 0;
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	*waves = b->waves;
	*profiles = b->profiles;
	pthread_mutex_unlock(&b->mu);
}
