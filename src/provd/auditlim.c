// SPDX-License-Identifier: Apache-2.0
/* auditlim.c — auditlim.h: keyed SHA-256 into buckets of entries, under one mutex. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <selfcert/oid.h>

#include "auditlim.h"

struct entry {
	uint8_t h[32]; /* the key's digest */
	int64_t at;    /* monotonic seconds of its row's write */
	int used;
};

struct provd_auditlim {
	pthread_mutex_t mu;
	uint8_t secret[32]; /* per process: buckets not chosen from outside */
	uint32_t nbuckets;  /* PROVD_AUDITLIM_BUCKETS; 1 under the test seam */
	uint64_t suppressed, full;
	struct entry e[PROVD_AUDITLIM_BUCKETS][PROVD_AUDITLIM_WAYS];
};

sc_err provd_auditlim_new(struct provd_auditlim **out)
{
	struct provd_auditlim *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return sc_fail(SC_ERR_NOMEM, "the audit limiter");
	if (RAND_bytes(l->secret, sizeof(l->secret)) != 1) {
		free(l);
		return sc_fail_ossl(SC_ERR_INTERNAL, "the audit limiter's key");
	}
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return sc_fail(SC_ERR_INTERNAL, "the audit limiter's mutex");
	}
	l->nbuckets = PROVD_AUDITLIM_BUCKETS;
	*out = l;
	return SC_OK;
}

void provd_auditlim_free(struct provd_auditlim *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int64_t provd_auditlim_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec;
}

void provd_auditlim_key(const struct provd_auditlim *l, const char *device_id,
    const char *ca_sha256, const char *kek_sha256, struct provd_auditlim_key *k)
{
	/* secret, then each field with its NUL (no two field lists give the same bytes) */
	uint8_t buf[32 + SC_DEVICE_ID_MAX + 1 + 64 + 1 + 64 + 1];
	const char *f[3] = { device_id, ca_sha256, kek_sha256 };
	size_t n = 32;

	memset(k, 0, sizeof(*k));
	if (l == NULL)
		return;
	memcpy(buf, l->secret, 32);
	for (int i = 0; i < 3; i++) {
		size_t len = strnlen(f[i], 65);

		if (len > (i == 0 ? (size_t)SC_DEVICE_ID_MAX : 64))
			return; /* not a device ID or a hex SHA-256: written, not keyed */
		memcpy(buf + n, f[i], len + 1);
		n += len + 1;
	}
	k->ok = EVP_Digest(buf, n, k->h, NULL, EVP_sha256(), NULL) == 1;
}

static int live(const struct entry *e, int64_t now)
{
	return e->used && now >= e->at && now - e->at < PROVD_AUDITLIM_WINDOW_S;
}

static struct entry *bucket_of(struct provd_auditlim *l, const struct provd_auditlim_key *k)
{
	uint32_t b = (uint32_t)k->h[0] | (uint32_t)k->h[1] << 8 | (uint32_t)k->h[2] << 16 |
	    (uint32_t)k->h[3] << 24;

	return l->e[b % l->nbuckets];
}

int provd_auditlim_take(struct provd_auditlim *l, const struct provd_auditlim_key *k, int64_t now)
{
	struct entry *b, *slot = NULL;
	int write = 1;

	if (l == NULL || !k->ok || now < 0)
		return 1;
	pthread_mutex_lock(&l->mu);
	b = bucket_of(l, k);
	for (int i = 0; i < PROVD_AUDITLIM_WAYS; i++)
		if (b[i].used && memcmp(b[i].h, k->h, sizeof(k->h)) == 0) {
			slot = &b[i];
			break;
		}
	if (slot != NULL && live(slot, now)) {
		write = 0;
		l->suppressed++;
	} else if (slot == NULL) {
		/* a free entry, else the oldest expired one; never a live one */
		for (int i = 0; i < PROVD_AUDITLIM_WAYS; i++) {
			if (!b[i].used) {
				slot = &b[i];
				break;
			}
			if (!live(&b[i], now) && (slot == NULL || b[i].at < slot->at))
				slot = &b[i];
		}
	}
	if (write && slot != NULL) {
		memcpy(slot->h, k->h, sizeof(k->h));
		slot->at = now;
		slot->used = 1;
	} else if (write) {
		l->full++; /* every entry live: the row written, nothing evicted */
	}
	pthread_mutex_unlock(&l->mu);
	return write;
}

void provd_auditlim_undo(struct provd_auditlim *l, const struct provd_auditlim_key *k, int64_t now)
{
	struct entry *b;

	if (l == NULL || !k->ok || now < 0)
		return;
	pthread_mutex_lock(&l->mu);
	b = bucket_of(l, k);
	for (int i = 0; i < PROVD_AUDITLIM_WAYS; i++)
		if (b[i].used && b[i].at == now && memcmp(b[i].h, k->h, sizeof(k->h)) == 0)
			b[i].used = 0;
	pthread_mutex_unlock(&l->mu);
}

uint64_t provd_auditlim_suppressed(struct provd_auditlim *l)
{
	uint64_t n;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	n = l->suppressed;
	pthread_mutex_unlock(&l->mu);
	return n;
}

uint64_t provd_auditlim_full(struct provd_auditlim *l)
{
	uint64_t n;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	n = l->full;
	pthread_mutex_unlock(&l->mu);
	return n;
}

void provd_auditlim_test_one_bucket(struct provd_auditlim *l)
{
	pthread_mutex_lock(&l->mu);
	l->nbuckets = 1;
	pthread_mutex_unlock(&l->mu);
}
