// SPDX-License-Identifier: Apache-2.0
/* auditlim.c — auditlim.h: a fixed table under one mutex, FNV-1a of the device ID. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <selfcert/oid.h>

#include "auditlim.h"

struct slot {
	char id[SC_DEVICE_ID_MAX + 1]; /* "" : free */
	int64_t at;                    /* monotonic seconds of the row's write */
};

struct provd_auditlim {
	pthread_mutex_t mu;
	uint64_t suppressed;
	struct slot slots[PROVD_AUDITLIM_SLOTS];
};

sc_err provd_auditlim_new(struct provd_auditlim **out)
{
	struct provd_auditlim *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL)
		return sc_fail(SC_ERR_NOMEM, "the audit limiter");
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return sc_fail(SC_ERR_INTERNAL, "the audit limiter's mutex");
	}
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
		return 0;
	return (int64_t)ts.tv_sec;
}

static struct slot *slot_of(struct provd_auditlim *l, const char *id)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return &l->slots[h % PROVD_AUDITLIM_SLOTS];
}

/* Whether s holds a row of id's inside the window (s locked). */
static int held(const struct slot *s, const char *id, int64_t now)
{
	return strcmp(s->id, id) == 0 && now - s->at < PROVD_AUDITLIM_WINDOW_S && now >= s->at;
}

int provd_auditlim_take(struct provd_auditlim *l, const char *device_id, int64_t now)
{
	struct slot *s;
	int write;

	if (l == NULL)
		return 1;
	pthread_mutex_lock(&l->mu);
	s = slot_of(l, device_id);
	write = !held(s, device_id, now);
	if (write) {
		snprintf(s->id, sizeof(s->id), "%s", device_id);
		s->at = now;
	} else {
		l->suppressed++;
	}
	pthread_mutex_unlock(&l->mu);
	return write;
}

int provd_auditlim_peek(struct provd_auditlim *l, const char *device_id, int64_t now)
{
	int write;

	if (l == NULL)
		return 1;
	pthread_mutex_lock(&l->mu);
	write = !held(slot_of(l, device_id), device_id, now);
	pthread_mutex_unlock(&l->mu);
	return write;
}

void provd_auditlim_count(struct provd_auditlim *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->suppressed++;
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
