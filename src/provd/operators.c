// SPDX-License-Identifier: Apache-2.0
/*
 * operators.c — the server's live set of operators (operators.h): the file re-read when its
 * stat changes, the legacy token as "admin", and the failed-attempt throttle per address.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include "log.h"
#include "operators.h"
#include "api.h"

/* One address's failures in its current window. */
struct fails {
	char peer[64]; /* "" : a free slot */
	int64_t since; /* the window's start */
	int count;
};

struct provd_operators {
	pthread_mutex_t lock;
	char *path; /* NULL: no file */
	struct sc_operators set;
	int broken;     /* the file as it is now is unusable: no file operator is accepted */
	struct stat st; /* the file as last read (or last failed to read) */
	int have_st;
	uint8_t admin_hash[SC_OP_HASH_LEN];
	int admin;
	struct fails *fails; /* PROVD_AUTH_ADDRS */
};

/* 1 if the file's stat differs from the last one seen (a rename, a rewrite, a chmod). */
static int changed(const struct provd_operators *ops, const struct stat *st)
{
	return !ops->have_st || st->st_ino != ops->st.st_ino || st->st_dev != ops->st.st_dev ||
	    st->st_size != ops->st.st_size || st->st_mtim.tv_sec != ops->st.st_mtim.tv_sec ||
	    st->st_mtim.tv_nsec != ops->st.st_mtim.tv_nsec ||
	    st->st_ctim.tv_sec != ops->st.st_ctim.tv_sec ||
	    st->st_ctim.tv_nsec != ops->st.st_ctim.tv_nsec || st->st_mode != ops->st.st_mode;
}

/* Read the file into ops (lock held). On failure the set is emptied and marked broken. */
static sc_err load_locked(struct provd_operators *ops)
{
	struct sc_operators next = { NULL, 0 };
	struct stat st;
	sc_err r;

	/* The stat before the read: a change racing the read is seen again on the next request. */
	if (stat(ops->path, &st) == 0) {
		ops->st = st;
		ops->have_st = 1;
	} else {
		ops->have_st = 0;
	}
	if ((r = sc_operators_load(ops->path, 0, &next, NULL, NULL)) == SC_OK && ops->admin &&
	    sc_operators_find(&next, PROVD_LEGACY_OPERATOR) != NULL) {
		sc_operators_clear(&next);
		r = sc_fail(SC_ERR_USAGE,
		    "%s: names an operator \"" PROVD_LEGACY_OPERATOR
		    "\", the --admin-token-file token's name",
		    ops->path);
	}
	sc_operators_clear(&ops->set);
	if (r != SC_OK) {
		ops->broken = 1;
		return r;
	}
	ops->set = next;
	ops->broken = 0;
	return SC_OK;
}

sc_err provd_operators_new(const char *path, const uint8_t *admin_hash,
    struct provd_operators **out)
{
	struct provd_operators *ops;
	sc_err r;

	*out = NULL;
	if ((ops = calloc(1, sizeof(*ops))) == NULL ||
	    (ops->fails = calloc(PROVD_AUTH_ADDRS, sizeof(*ops->fails))) == NULL) {
		free(ops);
		return sc_fail(SC_ERR_NOMEM, "operators");
	}
	pthread_mutex_init(&ops->lock, NULL);
	if (admin_hash != NULL) {
		memcpy(ops->admin_hash, admin_hash, SC_OP_HASH_LEN);
		ops->admin = 1;
	}
	if (path != NULL && (ops->path = strdup(path)) == NULL) {
		provd_operators_free(ops);
		return sc_fail(SC_ERR_NOMEM, "operators");
	}
	if (ops->path != NULL && (r = load_locked(ops)) != SC_OK) {
		provd_operators_free(ops);
		return r;
	}
	*out = ops;
	return SC_OK;
}

void provd_operators_free(struct provd_operators *ops)
{
	if (ops == NULL)
		return;
	sc_operators_clear(&ops->set);
	OPENSSL_cleanse(ops->admin_hash, sizeof(ops->admin_hash));
	free(ops->fails);
	free(ops->path);
	pthread_mutex_destroy(&ops->lock);
	free(ops);
}

sc_err provd_operators_reload(struct provd_operators *ops)
{
	sc_err r = SC_OK;

	if (ops == NULL || ops->path == NULL)
		return SC_OK;
	pthread_mutex_lock(&ops->lock);
	if ((r = load_locked(ops)) != SC_OK)
		sc_log_failure(r);
	else
		sc_log("operators: %s: %zu operators", ops->path, ops->set.n);
	pthread_mutex_unlock(&ops->lock);
	return r;
}

int provd_operators_enabled(const struct provd_operators *ops)
{
	return ops != NULL && (ops->admin || ops->path != NULL);
}

/* The throttle's slot of peer (lock held): its own, else a free or stale one, else the oldest. */
static struct fails *slot_of(struct provd_operators *ops, const char *peer, int64_t now, int add)
{
	struct fails *oldest = NULL;

	for (size_t i = 0; i < PROVD_AUTH_ADDRS; i++)
		if (ops->fails[i].peer[0] != '\0' && strcmp(ops->fails[i].peer, peer) == 0)
			return &ops->fails[i];
	if (!add)
		return NULL;
	for (size_t i = 0; i < PROVD_AUTH_ADDRS; i++) {
		struct fails *f = &ops->fails[i];

		if (f->peer[0] == '\0' || now - f->since >= PROVD_AUTH_WINDOW_S)
			return f;
		if (oldest == NULL || f->since < oldest->since)
			oldest = f;
	}
	return oldest;
}

enum provd_auth provd_operators_auth(struct provd_operators *ops, const char *a, const char *peer,
    int64_t now, char name[SC_OP_NAME_MAX + 1], int64_t *retry_after, int *first_throttle)
{
	const struct sc_operator *op = NULL;
	uint8_t h[SC_OP_HASH_LEN];
	enum provd_auth res;
	struct fails *f;
	struct stat st;
	sc_err lr;
	size_t n;

	name[0] = '\0';
	*retry_after = 0;
	*first_throttle = 0;
	if (peer == NULL)
		peer = "?";
	pthread_mutex_lock(&ops->lock);
	f = slot_of(ops, peer, now, 0);
	if (f != NULL && now - f->since >= PROVD_AUTH_WINDOW_S) {
		f->count = 0;
		f->since = now;
	}
	if (f != NULL && f->count >= PROVD_AUTH_FAILS_MAX) {
		*retry_after = f->since + PROVD_AUTH_WINDOW_S - now;
		if (*retry_after < 1)
			*retry_after = 1;
		res = PROVD_AUTH_THROTTLED;
		goto out;
	}
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0 || (n = strlen(a + 7)) == 0 ||
	    n > PROVD_ADMIN_TOKEN_MAX) {
		res = PROVD_AUTH_MISSING;
		goto out;
	}
	/* Rotation without a restart: a changed file is read before its operators are trusted. */
	if (ops->path != NULL) {
		int seen = stat(ops->path, &st) == 0;

		/* A file gone is read (and logged) once, until it is back. */
		if (((seen && changed(ops, &st)) || (!seen && !ops->broken)) &&
		    (lr = load_locked(ops)) != SC_OK)
			sc_log_failure(lr);
	}
	if (sc_operator_token_hash(a + 7, n, h) != SC_OK) {
		res = PROVD_AUTH_FAILED;
		goto out;
	}
	if (!ops->broken)
		op = sc_operators_match(&ops->set, h);
	if (op == NULL && ops->admin && CRYPTO_memcmp(h, ops->admin_hash, SC_OP_HASH_LEN) == 0) {
		snprintf(name, SC_OP_NAME_MAX + 1, "%s", PROVD_LEGACY_OPERATOR);
		res = PROVD_AUTH_OK;
	} else if (op != NULL) {
		snprintf(name, SC_OP_NAME_MAX + 1, "%s", op->name);
		res = PROVD_AUTH_OK;
	} else if (ops->broken) {
		/* Not the client's fault: not counted against it. */
		res = PROVD_AUTH_BROKEN;
	} else {
		res = PROVD_AUTH_FAILED;
	}
	if (res == PROVD_AUTH_OK && f != NULL)
		memset(f, 0, sizeof(*f));
	if (res == PROVD_AUTH_FAILED && (f = slot_of(ops, peer, now, 1)) != NULL) {
		if (strcmp(f->peer, peer) != 0 || now - f->since >= PROVD_AUTH_WINDOW_S) {
			snprintf(f->peer, sizeof(f->peer), "%s", peer);
			f->since = now;
			f->count = 0;
		}
		if (++f->count >= PROVD_AUTH_FAILS_MAX) {
			*first_throttle = f->count == PROVD_AUTH_FAILS_MAX;
			*retry_after = f->since + PROVD_AUTH_WINDOW_S - now;
			if (*retry_after < 1)
				*retry_after = 1;
		}
	}
out:
	pthread_mutex_unlock(&ops->lock);
	OPENSSL_cleanse(h, sizeof(h));
	return res;
}

int provd_operators_known(struct provd_operators *ops, const char *name)
{
	struct stat st;
	int known, seen;
	sc_err lr;

	if (ops == NULL || name == NULL)
		return 0;
	pthread_mutex_lock(&ops->lock);
	if (ops->path != NULL) {
		seen = stat(ops->path, &st) == 0;
		if (((seen && changed(ops, &st)) || (!seen && !ops->broken)) &&
		    (lr = load_locked(ops)) != SC_OK)
			sc_log_failure(lr);
	}
	known = (ops->admin && strcmp(name, PROVD_LEGACY_OPERATOR) == 0) ||
	    (!ops->broken && sc_operators_find(&ops->set, name) != NULL);
	pthread_mutex_unlock(&ops->lock);
	return known;
}
