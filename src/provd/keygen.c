// SPDX-License-Identifier: Apache-2.0
/*
 * keygen.c — the server key generation pool (keygen.h): worker threads take jobs from a FIFO
 * under one mutex; each caller waits on one condition variable for its own job's result. A job
 * belongs to its caller until the caller gives up on it (time-out): then to the thread making it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <openssl/err.h>
#include "apierr.h"
#include "keygen.h"

struct job {
	enum sc_alg alg;
	EVP_PKEY *key; /* the result, the caller's once done */
	sc_err r;
	int queued;    /* still in the FIFO: no thread has it */
	int done;      /* key / r are set */
	int abandoned; /* the caller left: the thread frees it all */
	struct job *next;
};

struct provd_keygen {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job queued, or stopping */
	pthread_cond_t done; /* a job done, or the last caller left a stopping pool */
	struct job *head, *tail;
	unsigned admit;    /* jobs admitted at most: running + queued */
	unsigned admitted; /* running (abandoned ones too) + queued */
	unsigned inside;   /* callers in provd_keygen_run */
	int stopping;
	unsigned n_threads;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct provd_keygen *kg = arg;
	struct job *j;
	EVP_PKEY *key;
	sc_err r;

	pthread_mutex_lock(&kg->lock);
	for (;;) {
		while (!kg->stopping && kg->head == NULL)
			pthread_cond_wait(&kg->work, &kg->lock);
		if (kg->head == NULL)
			break;
		j = kg->head;
		kg->head = j->next;
		if (kg->head == NULL)
			kg->tail = NULL;
		j->queued = 0;
		pthread_mutex_unlock(&kg->lock);

		key = NULL;
		r = sc_alg_keygen(j->alg, &key);
		ERR_clear_error(); /* this thread's queue; the caller reports the sc_err */

		pthread_mutex_lock(&kg->lock);
		kg->admitted--;
		if (j->abandoned) {
			EVP_PKEY_free(key);
			free(j);
		} else {
			j->key = key;
			j->r = r;
			j->done = 1;
			pthread_cond_broadcast(&kg->done);
		}
	}
	pthread_mutex_unlock(&kg->lock);
	return NULL;
}

/* Free what provd_keygen_start made; the threads are joined already. */
static void pool_free(struct provd_keygen *kg)
{
	pthread_cond_destroy(&kg->done);
	pthread_cond_destroy(&kg->work);
	pthread_mutex_destroy(&kg->lock);
	free(kg->threads);
	free(kg);
}

/* Stop the threads started so far and wait for them (start-up failure and stop). */
static void stop_threads(struct provd_keygen *kg, unsigned started)
{
	pthread_mutex_lock(&kg->lock);
	kg->stopping = 1;
	pthread_cond_broadcast(&kg->work);
	pthread_mutex_unlock(&kg->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(kg->threads[i], NULL);
}

sc_err provd_keygen_start(unsigned threads, unsigned admit, struct provd_keygen **out)
{
	struct provd_keygen *kg;
	pthread_condattr_t ca;
	unsigned started = 0;
	sc_err r;

	*out = NULL;
	if (threads < 1 || threads > PROVD_KEYGEN_THREADS_MAX || admit < 1 ||
	    admit > PROVD_KEYGEN_THREADS_MAX + PROVD_KEYGEN_QUEUE_MAX)
		return sc_fail(SC_ERR_USAGE, "key generation: %u threads, %u jobs: out of range",
		    threads, admit);
	if ((kg = calloc(1, sizeof(*kg))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key generation pool");
	if ((kg->threads = calloc(threads, sizeof(*kg->threads))) == NULL) {
		free(kg);
		return sc_fail(SC_ERR_NOMEM, "key generation pool");
	}
	kg->admit = admit;
	kg->n_threads = threads;
	/* Waits are bounded in elapsed time: a monotonic clock, deaf to the wall clock's jumps. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&kg->lock, NULL);
	pthread_cond_init(&kg->work, NULL);
	pthread_cond_init(&kg->done, &ca);
	pthread_condattr_destroy(&ca);
	for (; started < threads; started++)
		if (pthread_create(&kg->threads[started], NULL, worker, kg) != 0) {
			r = sc_fail(SC_ERR_INTERNAL, "key generation: cannot start thread %u of %u",
			    started + 1, threads);
			goto out;
		}
	*out = kg;
	return SC_OK;
out:
	stop_threads(kg, started);
	pool_free(kg);
	return r;
}

/* Unlink a job still in the FIFO (lock held). */
static void unqueue(struct provd_keygen *kg, struct job *j)
{
	struct job **pp = &kg->head, *prev = NULL;

	while (*pp != NULL && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = j->next;
	if (kg->tail == j)
		kg->tail = prev;
	j->queued = 0;
	kg->admitted--;
}

sc_err provd_keygen_run(struct provd_keygen *kg, enum sc_alg alg, long wait_ms, EVP_PKEY **out)
{
	struct timespec until;
	struct job *j;
	int rc = 0;
	sc_err r;

	*out = NULL;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&kg->lock);
	if (kg->stopping || kg->admitted >= kg->admit) {
		pthread_mutex_unlock(&kg->lock);
		return sc_fail(PROVD_ERR_BUSY,
		    "key generation: %u keys in progress, try again later", kg->admit);
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		pthread_mutex_unlock(&kg->lock);
		return sc_fail(SC_ERR_NOMEM, "key generation job");
	}
	j->alg = alg;
	j->queued = 1;
	if (kg->tail != NULL)
		kg->tail->next = j;
	else
		kg->head = j;
	kg->tail = j;
	kg->admitted++;
	kg->inside++;
	pthread_cond_signal(&kg->work);

	while (!j->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&kg->done, &kg->lock, &until);
	if (j->done) {
		r = j->r;
		*out = j->key;
		free(j);
		if (r == PROVD_ERR_BUSY)
			r = sc_fail(r, "key generation: the server is stopping");
		else if (r != SC_OK)
			r = sc_fail(r, "key generation failed");
	} else {
		if (j->queued) {
			unqueue(kg, j);
			free(j);
		} else {
			j->abandoned = 1; /* the thread making it frees it */
		}
		r = sc_fail(PROVD_ERR_BUSY, "key generation: no key within %ld ms, try again later",
		    wait_ms);
	}
	if (--kg->inside == 0 && kg->stopping)
		pthread_cond_broadcast(&kg->done);
	pthread_mutex_unlock(&kg->lock);
	return r;
}

unsigned provd_keygen_pending(struct provd_keygen *kg)
{
	unsigned n;

	pthread_mutex_lock(&kg->lock);
	n = kg->admitted;
	pthread_mutex_unlock(&kg->lock);
	return n;
}

void provd_keygen_stop(struct provd_keygen *kg)
{
	struct job *j;

	if (kg == NULL)
		return;
	pthread_mutex_lock(&kg->lock);
	kg->stopping = 1;
	/* Jobs no thread has taken fail now; their callers see PROVD_ERR_BUSY. */
	while ((j = kg->head) != NULL) {
		kg->head = j->next;
		j->queued = 0;
		kg->admitted--;
		j->r = PROVD_ERR_BUSY;
		j->done = 1;
	}
	kg->tail = NULL;
	pthread_cond_broadcast(&kg->done);
	pthread_mutex_unlock(&kg->lock);
	stop_threads(kg, kg->n_threads);
	pthread_mutex_lock(&kg->lock);
	while (kg->inside > 0)
		pthread_cond_wait(&kg->done, &kg->lock);
	pthread_mutex_unlock(&kg->lock);
	pool_free(kg);
}
