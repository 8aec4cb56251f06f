// SPDX-License-Identifier: Apache-2.0
/*
 * sweep.c — `sc-faults sweep`: every damage to a real store folder that open must refuse, each
 * with its own error, tried on a scratch copy: every bit 0 and bit 7 of every store byte, every
 * truncation and two extensions, every bit of the counter, every counter length, every bit of
 * the root key, each file missing, and older stores put back. After every refusal the files
 * must be byte-for-byte what was put there: nothing is ever "repaired".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "faults.h"
#include "file.h"
#include "spd.h"
#include "store.h"

#define COUNTER_LEN 8
#define MAX_COUNTER_TRY 16 /* counter lengths tried: 0..16 but 8 */

enum { F_ROOT, F_COUNTER, F_STORE, F_COUNT };

struct sweep {
	char dir[FAULTS_PATH_MAX];
	char path[F_COUNT][FAULTS_PATH_MAX];
	uint8_t *orig[F_COUNT];
	size_t len[F_COUNT];
	uint64_t counter; /* the store's (== the counter file's) */
	unsigned long cases, damaged, rollback, rolled_forward, mismatches;
};

static const char *const file_names[F_COUNT] = { "root.key", "counter", "store" };

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static sc_err restore(struct sweep *w)
{
	sc_err r;
	int i;

	for (i = 0; i < F_COUNT; i++)
		if ((r = faults_put(w->path[i], w->orig[i], w->len[i])) != SC_OK)
			return r;
	return SC_OK;
}

/* Open the scratch folder; SC_OK closes it again at once. */
static sc_err try_open(struct sweep *w)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	sc_err r;

	if (st == NULL)
		return sc_fail(SC_ERR_NOMEM, "state");
	r = spd_store_open(w->dir, &s, st);
	if (r == SC_OK) {
		spd_state_clear(st);
		spd_store_close(s);
	}
	free(st);
	return r;
}

/* Is file f exactly these bytes (or absent when data is NULL)? */
static int file_is(const struct sweep *w, int f, const uint8_t *data, size_t len)
{
	uint8_t *d = NULL;
	size_t n = 0;
	int same;

	if (sc_file_read(w->path[f], SPD_STORE_MAX, &d, &n) != SC_OK)
		return data == NULL;
	same = data != NULL && n == len && (len == 0 || memcmp(d, data, len) == 0);
	sc_free_secret(d, n);
	return same;
}

/*
 * Put file f as data (NULL: remove it), open, and expect `want` with `detail_has` in the
 * detail; afterwards every file must be what was put (want == SC_OK: the counter rolled
 * forward to the store's counter, which the caller passes as rolled). Restores the originals.
 */
static sc_err expect(struct sweep *w, const char *what, int f, const uint8_t *data, size_t len,
    sc_err want, const char *detail_has, const uint8_t *rolled)
{
	char detail[512];
	sc_err got, r;
	int i, ok = 1;

	if (data == NULL)
		(void)unlink(w->path[f]);
	else if ((r = faults_put(w->path[f], data, len)) != SC_OK)
		return r;
	got = try_open(w);
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	w->cases++;
	if (got == SC_ERR_STORE_DAMAGED)
		w->damaged++;
	else if (got == SC_ERR_ROLLBACK)
		w->rollback++;
	else if (got == SC_OK)
		w->rolled_forward++;
	if (got != want) {
		fprintf(stderr, "sweep: %s: got %s (%s), expected %s\n", what, sc_err_name(got),
		    detail, sc_err_name(want));
		ok = 0;
	} else if (want != SC_OK && detail_has != NULL && strstr(detail, detail_has) == NULL) {
		fprintf(stderr, "sweep: %s: %s detail '%s' does not name '%s'\n", what,
		    sc_err_name(got), detail, detail_has);
		ok = 0;
	}
	for (i = 0; i < F_COUNT && ok; i++) {
		const uint8_t *want_data = i == f ? data : w->orig[i];
		size_t want_len = i == f ? len : w->len[i];

		if (want == SC_OK && i == F_COUNTER) {
			want_data = rolled;
			want_len = FAULTS_COUNTER_FILE_LEN;
		}
		if (!file_is(w, i, want_data, want_len)) {
			fprintf(stderr, "sweep: %s: %s was changed by the %s\n", what,
			    file_names[i], want == SC_OK ? "roll forward" : "refusal");
			ok = 0;
		}
	}
	if (!ok)
		w->mismatches++;
	return restore(w);
}

static sc_err sweep_store(struct sweep *w)
{
	size_t len = w->len[F_STORE], i;
	uint8_t *b = OPENSSL_malloc(len + 16);
	char what[96];
	sc_err r = SC_ERR_INTERNAL;
	int bit;

	if (b == NULL)
		return sc_fail(SC_ERR_NOMEM, "store copy");
	memcpy(b, w->orig[F_STORE], len);
	/* Magic, version, counter (all AAD), nonce, ciphertext, tag: no bit may change. */
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit += 7) {
			b[i] ^= (uint8_t)(1u << bit);
			snprintf(what, sizeof(what), "store byte %zu bit %d flipped", i, bit);
			r = expect(w, what, F_STORE, b, len, SC_ERR_STORE_DAMAGED, "store", NULL);
			b[i] ^= (uint8_t)(1u << bit);
			if (r != SC_OK)
				goto out;
		}
	}
	for (i = 0; i < len; i++) {
		snprintf(what, sizeof(what), "store truncated to %zu bytes", i);
		if ((r = expect(w, what, F_STORE, b, i, SC_ERR_STORE_DAMAGED, "store", NULL)) !=
		    SC_OK)
			goto out;
	}
	memset(b + len, 0, 16);
	for (i = 1; i <= 16; i += 15) {
		snprintf(what, sizeof(what), "store extended by %zu bytes", i);
		if ((r = expect(w, what, F_STORE, b, len + i, SC_ERR_STORE_DAMAGED, "store",
		         NULL)) != SC_OK)
			goto out;
	}
	r = expect(w, "store missing", F_STORE, NULL, 0, SC_ERR_STORE_DAMAGED, "store", NULL);
out:
	OPENSSL_free(b);
	return r;
}

/*
 * The two-slot form: each slot damaged alone (the other one decides: the older one is the store's
 * counter - 1, rolled forward; the older one damaged changes nothing), both damaged, slots that
 * are not neighbours, a slot ahead of the store, a slot in the wrong place, one byte short or
 * over. rolled is the file a roll forward to the store's counter writes.
 */
static sc_err sweep_slots(struct sweep *w, const uint8_t *rolled)
{
	static uint8_t f[FAULTS_COUNTER_FILE_LEN + 1];
	uint64_t c = w->counter;
	size_t cur = (c & 1) * FAULTS_COUNTER_STRIDE, old = FAULTS_COUNTER_STRIDE - cur;
	char what[96];
	sc_err r;
	int bit;

	for (bit = 0; bit < 8 * FAULTS_COUNTER_SLOT_LEN; bit++) {
		faults_counter_file(c, f);
		f[cur + (size_t)bit / 8] ^= (uint8_t)(1u << (bit % 8));
		snprintf(what, sizeof(what), "counter slot of %llu, bit %d flipped",
		    (unsigned long long)c, bit);
		/* The slot holding c - 1 decides: rolled forward to c. A store at 0 has no such slot. */
		if ((r = expect(w, what, F_COUNTER, f, FAULTS_COUNTER_FILE_LEN,
		         c > 0 ? SC_OK : SC_ERR_STORE_DAMAGED, "counter", rolled)) != SC_OK)
			return r;
		if (c == 0)
			continue;
		faults_counter_file(c, f);
		f[old + (size_t)bit / 8] ^= (uint8_t)(1u << (bit % 8));
		snprintf(what, sizeof(what), "counter slot of %llu, bit %d flipped",
		    (unsigned long long)(c - 1), bit);
		if ((r = expect(w, what, F_COUNTER, f, FAULTS_COUNTER_FILE_LEN, SC_OK, "counter",
		         f)) != SC_OK)
			return r;
	}
	faults_counter_file(c, f);
	f[cur + 8] ^= 1;
	f[old + 8] ^= 1;
	if ((r = expect(w, "both counter slots damaged", F_COUNTER, f, FAULTS_COUNTER_FILE_LEN,
	         SC_ERR_STORE_DAMAGED, "neither counter slot is valid", NULL)) != SC_OK)
		return r;
	faults_counter_file(c, f);
	faults_counter_slot(c + 2, f + cur);
	if ((r = expect(w, "counter slots not neighbours", F_COUNTER, f, FAULTS_COUNTER_FILE_LEN,
	         SC_ERR_STORE_DAMAGED, "not neighbours", NULL)) != SC_OK)
		return r;
	faults_counter_file(c + 1, f);
	if ((r = expect(w, "counter slots one ahead of the store", F_COUNTER, f,
	         FAULTS_COUNTER_FILE_LEN, SC_ERR_ROLLBACK, "counter", NULL)) != SC_OK)
		return r;
	faults_counter_file(c, f);
	memcpy(f + old, f + cur, FAULTS_COUNTER_SLOT_LEN); /* c in the slot of the other parity */
	memset(f + cur, 0, FAULTS_COUNTER_SLOT_LEN);
	if ((r = expect(w, "the counter's value in the wrong slot", F_COUNTER, f,
	         FAULTS_COUNTER_FILE_LEN, SC_ERR_STORE_DAMAGED, "neither counter slot", NULL)) !=
	    SC_OK)
		return r;
	faults_counter_file(c, f);
	if ((r = expect(w, "a two-slot counter one byte short", F_COUNTER, f,
	         FAULTS_COUNTER_FILE_LEN - 1, SC_ERR_STORE_DAMAGED, "counter", NULL)) != SC_OK)
		return r;
	f[FAULTS_COUNTER_FILE_LEN] = 0;
	return expect(w, "a two-slot counter one byte over", F_COUNTER, f,
	    FAULTS_COUNTER_FILE_LEN + 1, SC_ERR_STORE_DAMAGED, "counter", NULL);
}

/*
 * The counter file is the emulated hardware counter: it is not sealed, so a changed value is
 * judged against the store's authentic one. Higher: rollback. One lower: indistinguishable from
 * a crash between the store's rename and the counter's update, so accepted and rolled forward.
 * Two or more lower: store-damaged.
 */
static sc_err sweep_counter(struct sweep *w)
{
	uint8_t c[MAX_COUNTER_TRY + 1], rolled[FAULTS_COUNTER_FILE_LEN];
	char what[96];
	sc_err r, want;
	size_t n;
	int bit;

	faults_counter_file(w->counter, rolled);
	if ((r = sweep_slots(w, rolled)) != SC_OK)
		return r;
	/* The old 8-byte form (read, and rolled forward into the two-slot one). */
	for (bit = 0; bit < 64; bit++) {
		uint64_t v = w->counter ^ ((uint64_t)1 << bit);

		put_be64(c, v);
		snprintf(what, sizeof(what), "counter bit %d flipped (%llu for store %llu)", bit,
		    (unsigned long long)v, (unsigned long long)w->counter);
		want = v > w->counter     ? SC_ERR_ROLLBACK
		    : v + 1 == w->counter ? SC_OK
		                          : SC_ERR_STORE_DAMAGED;
		if ((r = expect(w, what, F_COUNTER, c, COUNTER_LEN, want, "counter", rolled)) !=
		    SC_OK)
			return r;
	}
	/* The boundaries themselves, whatever bits the counter happens to have. */
	{
		const struct {
			uint64_t v;
			sc_err want;
		} edge[] = {
			{ w->counter + 1, SC_ERR_ROLLBACK },
			{ UINT64_MAX, SC_ERR_ROLLBACK },
			{ w->counter - 1, SC_OK },
			{ w->counter - 2, SC_ERR_STORE_DAMAGED },
			{ 0, SC_ERR_STORE_DAMAGED },
		};
		size_t k;

		for (k = 0; k < sizeof(edge) / sizeof(edge[0]); k++) {
			if (w->counter < 2 && edge[k].want != SC_ERR_ROLLBACK)
				continue; /* too young a store to be behind by one or two */
			put_be64(c, edge[k].v);
			snprintf(what, sizeof(what), "counter %llu for store %llu",
			    (unsigned long long)edge[k].v, (unsigned long long)w->counter);
			if ((r = expect(w, what, F_COUNTER, c, COUNTER_LEN, edge[k].want, "counter",
			         rolled)) != SC_OK)
				return r;
		}
	}
	memset(c, 0, sizeof(c));
	memcpy(c, w->orig[F_COUNTER], COUNTER_LEN);
	for (n = 0; n <= MAX_COUNTER_TRY; n++) {
		if (n == COUNTER_LEN)
			continue;
		snprintf(what, sizeof(what), "counter of %zu bytes", n);
		if ((r = expect(w, what, F_COUNTER, c, n, SC_ERR_STORE_DAMAGED, "counter", NULL)) !=
		    SC_OK)
			return r;
	}
	return expect(w, "counter missing", F_COUNTER, NULL, 0, SC_ERR_STORE_DAMAGED, "counter",
	    NULL);
}

static sc_err sweep_root(struct sweep *w)
{
	uint8_t k[SPD_ROOT_KEY_LEN + 1];
	char what[96];
	sc_err r;
	size_t i;

	if (w->len[F_ROOT] != SPD_ROOT_KEY_LEN)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: not a root key", w->path[F_ROOT]);
	memcpy(k, w->orig[F_ROOT], SPD_ROOT_KEY_LEN);
	k[SPD_ROOT_KEY_LEN] = 0;
	/* Another root key (another device's, or a changed one) cannot authenticate the store. */
	for (i = 0; i < SPD_ROOT_KEY_LEN * 8; i++) {
		k[i / 8] ^= (uint8_t)(1u << (i % 8));
		snprintf(what, sizeof(what), "root key bit %zu flipped", i);
		r = expect(w, what, F_ROOT, k, SPD_ROOT_KEY_LEN, SC_ERR_STORE_DAMAGED, "store",
		    NULL);
		k[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (r != SC_OK)
			return r;
	}
	for (i = 0; i <= SPD_ROOT_KEY_LEN + 1; i++) {
		if (i == SPD_ROOT_KEY_LEN)
			continue;
		snprintf(what, sizeof(what), "root key of %zu bytes", i);
		if ((r = expect(w, what, F_ROOT, k, i, SC_ERR_STORE_DAMAGED, "root key", NULL)) !=
		    SC_OK)
			return r;
	}
	return expect(w, "root key missing", F_ROOT, NULL, 0, SC_ERR_STORE_DAMAGED, "root key",
	    NULL);
}

/* Older authentic stores put back alone: rollback; one of them damaged too: store-damaged. */
static sc_err sweep_older(struct sweep *w, int n, char **paths)
{
	uint8_t *d = NULL;
	size_t len = 0;
	char what[FAULTS_PATH_MAX + 64];
	sc_err r = SC_OK;
	int i;

	for (i = 0; i < n && r == SC_OK; i++) {
		if ((r = sc_file_read(paths[i], SPD_STORE_MAX, &d, &len)) != SC_OK)
			return r;
		if (len < SPD_STORE_HDR_LEN || be64(d + 5) >= w->counter) {
			r = sc_fail(SC_ERR_USAGE, "%s: not an older store (counter %llu)", paths[i],
			    len < SPD_STORE_HDR_LEN ? 0ULL : (unsigned long long)be64(d + 5));
		} else {
			snprintf(what, sizeof(what), "older store %s (counter %llu) put back",
			    paths[i], (unsigned long long)be64(d + 5));
			r = expect(w, what, F_STORE, d, len, SC_ERR_ROLLBACK, "counter", NULL);
			if (r == SC_OK) {
				/* The tag is checked first: a damaged old store is damage, not rollback. */
				d[len - 1] ^= 1;
				snprintf(what, sizeof(what),
				    "older store %s with its last byte flipped", paths[i]);
				r = expect(w, what, F_STORE, d, len, SC_ERR_STORE_DAMAGED, "store",
				    NULL);
			}
		}
		OPENSSL_free(d);
		d = NULL;
	}
	return r;
}

int faults_cmd_sweep(int argc, char **argv)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sweep *w = NULL;
	int i;

	if (argc < 2) {
		fputs("usage: sc-faults sweep STOREDIR [OLDER-STORE ...]\n", stderr);
		return 2;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return faults_fail(sc_fail(SC_ERR_NOMEM, "sweep"));
	if ((r = faults_scratch_copy(argv[1], w->dir)) != SC_OK)
		goto out;
	for (i = 0; i < F_COUNT; i++) {
		if (snprintf(w->path[i], sizeof(w->path[i]), "%s/%s", w->dir, file_names[i]) >=
		    (int)sizeof(w->path[i])) {
			r = sc_fail(SC_ERR_USAGE, "%s: path too long", w->dir);
			goto out;
		}
		if ((r = sc_file_read(w->path[i], SPD_STORE_MAX, &w->orig[i], &w->len[i])) != SC_OK)
			goto out;
	}
	if (faults_counter_value(w->orig[F_COUNTER], w->len[F_COUNTER], &w->counter) != SC_OK ||
	    w->len[F_STORE] < SPD_STORE_HDR_LEN || w->counter != be64(w->orig[F_STORE] + 5)) {
		r = sc_fail(SC_ERR_USAGE, "%s: sweep needs a settled store (counter == store's)",
		    argv[1]);
		goto out;
	}
	if ((r = try_open(w)) != SC_OK) {
		r = sc_fail(r, "%s: the undamaged copy does not open: %s", argv[1],
		    sc_err_detail());
		goto out;
	}
	if ((r = sweep_store(w)) != SC_OK || (r = sweep_counter(w)) != SC_OK ||
	    (r = sweep_root(w)) != SC_OK || (r = sweep_older(w, argc - 2, argv + 2)) != SC_OK)
		goto out;
	if ((r = try_open(w)) != SC_OK) {
		r = sc_fail(r, "the undamaged copy no longer opens after the sweep: %s",
		    sc_err_detail());
		goto out;
	}
	printf("sweep: %lu damaged copies of a %zu-byte store (counter %llu): %lu store-damaged, "
	       "%lu rollback, %lu rolled forward; %lu mismatches\n",
	    w->cases, w->len[F_STORE], (unsigned long long)w->counter, w->damaged, w->rollback,
	    w->rolled_forward, w->mismatches);
	r = SC_OK;
out:
	if (w != NULL) {
		for (i = 0; i < F_COUNT; i++)
			sc_free_secret(w->orig[i], w->len[i]);
		faults_scratch_remove(w->dir);
	}
	i = r != SC_OK ? faults_fail(r) : w->mismatches > 0 ? FAULTS_EXIT_VIOLATION : 0;
	free(w);
	return i;
}
