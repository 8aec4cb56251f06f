// SPDX-License-Identifier: Apache-2.0
/*
 * test_store.c — the sealed store: round trips, rollback, every flipped byte, truncation, the
 * counter protocol (missing, behind by one = roll forward, ahead = damage), creation rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "file.h"
#include "spd.h"
#include "store.h"
#include "testutil.h"
#include "testworld.h"

#define DEV "SN-0001"

static char dir[512];
static char store_path[600], counter_path[600], root_path[600];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/sp", sc_test_tmpdir());
	snprintf(store_path, sizeof(store_path), "%s/store", dir);
	snprintf(counter_path, sizeof(counter_path), "%s/counter", dir);
	snprintf(root_path, sizeof(root_path), "%s/root.key", dir);
	return 0;
}

static int teardown(void **state)
{
	char *slash;

	(void)state;
	slash = strrchr(dir, '/');
	*slash = '\0';
	sc_test_rmdir(dir);
	return 0;
}

static void read_all(const char *path, uint8_t **data, size_t *len)
{
	assert_int_equal(sc_file_read(path, SC_FILE_MAX, data, len), SC_OK);
}

/*
 * DIR/counter's two-slot form, written here from store.h's description: slot v % 2 at
 * (v % 2) * 4096 holds v (u64 BE) and the first 8 bytes of SHA-256("selfcert-spd counter slot"
 * | v); 4112 bytes in all, zeros elsewhere.
 */
#define SLOT_STRIDE 4096
#define COUNTER_FILE 4112

static void slot_of(uint64_t v, uint8_t slot[16])
{
	static const char domain[] = "selfcert-spd counter slot";
	uint8_t in[sizeof(domain) - 1 + 8], md[EVP_MAX_MD_SIZE];
	int i;

	memcpy(in, domain, sizeof(domain) - 1);
	for (i = 0; i < 8; i++)
		slot[i] = in[sizeof(domain) - 1 + i] = (uint8_t)(v >> (56 - 8 * i));
	assert_true(EVP_Digest(in, sizeof(in), md, NULL, EVP_sha256(), NULL));
	memcpy(slot + 8, md, 8);
}

/* The file a commit leaves at v: v in its slot, v - 1 in the other (zeros at v == 0). */
static void counter_form(uint64_t v, uint8_t f[COUNTER_FILE])
{
	memset(f, 0, COUNTER_FILE);
	slot_of(v, f + (v & 1) * SLOT_STRIDE);
	if (v > 0)
		slot_of(v - 1, f + ((v - 1) & 1) * SLOT_STRIDE);
}

/* The counter file's value; it must be exactly the two-slot form of that value. */
static uint64_t counter_value(void)
{
	uint8_t *d, want[COUNTER_FILE];
	size_t n, i;
	uint64_t v = 0, w = 0;

	read_all(counter_path, &d, &n);
	assert_int_equal(n, COUNTER_FILE);
	for (i = 0; i < 8; i++) {
		v = (v << 8) | d[i];
		w = (w << 8) | d[SLOT_STRIDE + i];
	}
	if ((w & 1) && w > v)
		v = w;
	counter_form(v, want);
	assert_memory_equal(d, want, COUNTER_FILE);
	OPENSSL_free(d);
	return v;
}

static ino_t counter_inode(void)
{
	struct stat sb;

	assert_int_equal(stat(counter_path, &sb), 0);
	return sb.st_ino;
}

/* The old 8-byte form (an older version's store folder). */
static void write_counter(uint64_t v)
{
	uint8_t c[8];
	int i;

	for (i = 7; i >= 0; i--) {
		c[i] = (uint8_t)v;
		v >>= 8;
	}
	sc_test_write_file(counter_path, c, sizeof(c));
}

/* Open and expect code; on success check and close. */
static sc_err try_open(void)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	sc_err r;

	assert_non_null(st);
	r = spd_store_open(dir, &s, st);
	if (r == SC_OK) {
		assert_non_null(s);
		spd_state_clear(st);
		spd_store_close(s);
	} else {
		assert_null(s);
	}
	free(st);
	return r;
}

/*
 * A certificate for pub (the store checks only that certificate and key pair): self-signed for
 * a key the test holds; for a backend's key, whose private half never leaves the backend, signed
 * by a throwaway key instead (cert_for).
 */
static X509 *signed_by(EVP_PKEY *pub, EVP_PKEY *key, const char *cn)
{
	const struct sc_test_cert spec = { .cn = cn, .pub = pub, .issuer_key = key, .days = 1 };
	X509 *x = NULL;

	assert_int_equal(sc_test_cert_make(&spec, &x), SC_OK);
	return x;
}

static EVP_PKEY *keygen(enum sc_alg alg)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(sc_alg_keygen(alg, &k), SC_OK);
	return k;
}

/* A key made by the soft backend, as KEYGEN and ISSUE make them. */
static struct spd_key *bkey(enum sc_alg alg)
{
	struct spd_key *k = NULL;

	assert_int_equal(spd_backend_soft.key_create(&spd_backend_soft, alg, 0, &k), SC_OK);
	return k;
}
#define PKEY(k) spd_backend_soft.key_public(k)

static X509 *cert_for(const struct spd_key *k, const char *cn)
{
	EVP_PKEY *signer = keygen(SC_ALG_P256);
	X509 *x = signed_by(PKEY(k), signer, cn);

	EVP_PKEY_free(signer);
	return x;
}

/* A locked state with one of everything (anchors, replay entries, leaf slots). */
static void fill_state(struct spd_state *st)
{
	size_t i;

	st->state = SC_SP_STATE_LOCKED;
	st->max_leaf_days = 30;
	st->max_keys = 8;
	st->issuance_counter = 7;
	st->csk_alg = SC_ALG_P256;
	st->csk = bkey(SC_ALG_P256);
	st->csk_cert = cert_for(st->csk, "csk");
	st->kek_alg = SC_ALG_P384;
	st->kek = bkey(SC_ALG_P384);
	st->kek_cert = cert_for(st->kek, "kek");
	for (i = 0; i < 2; i++) {
		EVP_PKEY *k = keygen(SC_ALG_ED25519);
		snprintf(st->anchors[i].network_id, sizeof(st->anchors[i].network_id), "net-%zu",
		    i);
		st->anchors[i].cert = signed_by(k, k, "root");
		EVP_PKEY_free(k);
	}
	st->n_anchors = 2;
	for (i = 0; i < 3; i++) {
		memset(st->replay[i].id, (int)i + 1, SC_PROFILE_ID_LEN);
		st->replay[i].not_after = 1000 + i;
	}
	st->n_replay = 3;
	st->replay_watermark = 500;
	st->slots[0].handle = 3;
	st->slots[0].alg = SC_ALG_ED25519;
	st->slots[0].key = bkey(SC_ALG_ED25519);
	st->slots[0].cert = cert_for(st->slots[0].key, "leaf 3");
	st->slots[1].handle = 5;
	st->slots[1].alg = SC_ALG_P256;
	st->slots[1].key = bkey(SC_ALG_P256);
	st->slots[1].cert = cert_for(st->slots[1].key, "leaf 5");
	st->n_slots = 2;
	st->next_handle = 6;
}

static void assert_same_state(const struct spd_state *a, const struct spd_state *b)
{
	size_t i;

	assert_int_equal(a->state, b->state);
	assert_string_equal(a->device_id, b->device_id);
	assert_int_equal(a->max_leaf_days, b->max_leaf_days);
	assert_int_equal(a->max_keys, b->max_keys);
	assert_int_equal(a->issuance_counter, b->issuance_counter);
	assert_int_equal(a->csk_alg, b->csk_alg);
	assert_int_equal(a->kek_alg, b->kek_alg);
	assert_int_equal(EVP_PKEY_eq(PKEY(a->csk), PKEY(b->csk)), 1);
	assert_int_equal(EVP_PKEY_eq(PKEY(a->kek), PKEY(b->kek)), 1);
	assert_int_equal(X509_cmp(a->csk_cert, b->csk_cert), 0);
	assert_int_equal(X509_cmp(a->kek_cert, b->kek_cert), 0);
	assert_int_equal(a->n_anchors, b->n_anchors);
	for (i = 0; i < a->n_anchors; i++) {
		assert_string_equal(a->anchors[i].network_id, b->anchors[i].network_id);
		assert_int_equal(X509_cmp(a->anchors[i].cert, b->anchors[i].cert), 0);
	}
	assert_int_equal(a->n_replay, b->n_replay);
	assert_memory_equal(a->replay, b->replay, a->n_replay * sizeof(a->replay[0]));
	assert_int_equal(a->replay_watermark, b->replay_watermark);
	assert_int_equal(a->n_slots, b->n_slots);
	for (i = 0; i < a->n_slots; i++) {
		assert_int_equal(a->slots[i].handle, b->slots[i].handle);
		assert_int_equal(a->slots[i].alg, b->slots[i].alg);
		assert_int_equal(EVP_PKEY_eq(PKEY(a->slots[i].key), PKEY(b->slots[i].key)), 1);
		assert_int_equal(X509_cmp(a->slots[i].cert, b->slots[i].cert), 0);
	}
	assert_int_equal(a->next_handle, b->next_handle);
}

static void test_create_and_open(void **state)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	struct stat sb;

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	assert_int_equal(stat(root_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0400);
	assert_int_equal(stat(store_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(counter_value(), 0);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	assert_int_equal(st->state, SC_SP_STATE_EMPTY);
	assert_string_equal(st->device_id, DEV);
	assert_int_equal(st->max_keys, SC_SP_DEFAULT_MAX_KEYS);
	assert_int_equal(st->next_handle, 1);
	assert_int_equal(spd_store_counter(s), 0);
	spd_state_clear(st);
	spd_store_close(s);
	free(st);
	/* Never over an existing device, and never with a bad device ID. */
	assert_int_equal(spd_store_create(dir, DEV), SC_ERR_EXISTS);
	assert_int_equal(spd_store_create(dir, "bad*id"), SC_ERR_USAGE);
	assert_int_equal(spd_store_create(dir, ""), SC_ERR_USAGE);
}

static void test_round_trip(void **state)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	char dev[SC_DEVICE_ID_MAX + 1];

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	snprintf(dev, sizeof(dev), "%s", st->device_id);
	fill_state(st);
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(spd_store_counter(s), 1);
	assert_int_equal(counter_value(), 1);
	spd_store_close(s);
	s = NULL;
	assert_int_equal(spd_store_open(dir, &s, back), SC_OK);
	assert_string_equal(back->device_id, dev);
	assert_same_state(st, back);
	/* Each leaf keeps its certificate's DER from the store, and the state serializes to the same
	 * bytes from kept DER (back) as from encoding every certificate (st, built in memory). */
	{
		struct sc_buf a, b;
		for (size_t i = 0; i < back->n_slots; i++) {
			uint8_t *der = NULL;
			int n = i2d_X509(back->slots[i].cert, &der);
			assert_non_null(back->slots[i].cert_der);
			assert_null(st->slots[i].cert_der);
			assert_int_equal(back->slots[i].cert_der_len, n);
			assert_memory_equal(back->slots[i].cert_der, der, (size_t)n);
			OPENSSL_free(der);
		}
		assert_int_equal(spd_state_serialize(st, &a), SC_OK);
		assert_int_equal(spd_state_serialize(back, &b), SC_OK);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		sc_buf_free(&a);
		sc_buf_free(&b);
	}
	/* And once more, so a second commit after a reopen also round-trips. */
	assert_int_equal(spd_store_commit(s, back), SC_OK);
	assert_int_equal(counter_value(), 2);
	spd_store_close(s);
	spd_state_clear(back);
	s = NULL;
	assert_int_equal(spd_store_open(dir, &s, back), SC_OK);
	assert_same_state(st, back);
	spd_store_close(s);
	spd_state_clear(st);
	spd_state_clear(back);
	free(st);
	free(back);
}

static void test_rollback(void **state)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	uint8_t *old, *cur;
	size_t old_len, cur_len;

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	assert_int_equal(spd_store_commit(s, st), SC_OK); /* counter 1 */
	read_all(store_path, &old, &old_len);
	st->max_keys = 3;
	assert_int_equal(spd_store_commit(s, st), SC_OK); /* counter 2 */
	spd_store_close(s);
	read_all(store_path, &cur, &cur_len);
	/* An authentic but older store put back alone is refused, not loaded. */
	sc_test_write_file(store_path, old, old_len);
	assert_int_equal(try_open(), SC_ERR_ROLLBACK);
	assert_non_null(strstr(sc_err_detail(), "counter"));
	/* Refusing changed nothing: the current store still opens. */
	sc_test_write_file(store_path, cur, cur_len);
	assert_int_equal(try_open(), SC_OK);
	spd_state_clear(st);
	free(st);
	OPENSSL_free(old);
	OPENSSL_free(cur);
}

static void test_every_flipped_byte(void **state)
{
	uint8_t *orig;
	size_t len, i;

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	read_all(store_path, &orig, &len);
	assert_true(len > SPD_STORE_HDR_LEN + SPD_STORE_TAG_LEN);
	/* Magic, version, counter (AAD), nonce, ciphertext and tag: no byte may change. */
	for (i = 0; i < len; i++) {
		orig[i] ^= 0x01;
		sc_test_write_file(store_path, orig, len);
		assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
		orig[i] ^= 0x01;
		orig[i] ^= 0x80;
		sc_test_write_file(store_path, orig, len);
		assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
		orig[i] ^= 0x80;
	}
	sc_test_write_file(store_path, orig, len);
	assert_int_equal(try_open(), SC_OK);
	OPENSSL_free(orig);
}

static void test_truncated_and_extended(void **state)
{
	uint8_t *orig;
	size_t len, i;
	size_t cuts[] = { 0, 1, 3, 4, 5, 12, 13, 24, 25, 26, 40 };

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	read_all(store_path, &orig, &len);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		sc_test_write_file(store_path, orig, cuts[i]);
		assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	}
	for (i = 1; i <= SPD_STORE_TAG_LEN + 1; i++) {
		sc_test_write_file(store_path, orig, len - i);
		assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	}
	/* A byte appended after the tag shifts the tag: damaged too. */
	{
		uint8_t *ext = malloc(len + 1);
		memcpy(ext, orig, len);
		ext[len] = 0;
		sc_test_write_file(store_path, ext, len + 1);
		assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
		free(ext);
	}
	/* Missing store file. */
	unlink(store_path);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	sc_test_write_file(store_path, orig, len);
	assert_int_equal(try_open(), SC_OK);
	OPENSSL_free(orig);
}

static void test_counter_protocol(void **state)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	uint8_t bad[9] = { 0 };

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(spd_store_commit(s, st), SC_OK); /* store 3, counter 3 */
	spd_store_close(s);
	spd_state_clear(st);

	/* Missing counter: damaged, never treated as a fresh device. */
	unlink(counter_path);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	assert_non_null(strstr(sc_err_detail(), "counter"));
	/* Counter of the wrong size. */
	sc_test_write_file(counter_path, bad, 7);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	sc_test_write_file(counter_path, bad, 9);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);

	/* Store ahead by two or more: not a crash we can explain, so damaged. */
	write_counter(1);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	write_counter(0);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	/* Store behind: rollback. */
	write_counter(4);
	assert_int_equal(try_open(), SC_ERR_ROLLBACK);
	write_counter(UINT64_MAX);
	assert_int_equal(try_open(), SC_ERR_ROLLBACK);

	/* Store ahead by one: the crash hit between rename and counter; roll forward. */
	write_counter(2);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	assert_int_equal(spd_store_counter(s), 3);
	assert_int_equal(counter_value(), 3);
	/* And the next commit continues from there. */
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 4);
	spd_store_close(s);
	spd_state_clear(st);
	assert_int_equal(try_open(), SC_OK);
	free(st);
}

/*
 * The two-slot counter: written in place (the same inode) by every commit once kept; an older
 * 8-byte counter read as it is, left alone by open, replaced in the two-slot form by the first
 * commit, then written in place; a torn slot write rolls forward from the other slot; slots that
 * are both invalid or not neighbours are damage.
 */
static void test_counter_slots(void **state)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st));
	uint8_t f[COUNTER_FILE], *d;
	size_t n;
	ino_t ino;

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	assert_int_equal(counter_value(), 0);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	ino = counter_inode();
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 1);
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 2);
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 3);
	assert_true(counter_inode() == ino); /* in place: never replaced */
	spd_store_close(s);
	spd_state_clear(st);

	/* An older version's 8-byte counter at the store's value: read, and open writes nothing. */
	write_counter(3);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	assert_int_equal(spd_store_counter(s), 3);
	read_all(counter_path, &d, &n);
	assert_int_equal(n, 8);
	OPENSSL_free(d);
	ino = counter_inode();
	/* The first commit replaces it in the two-slot form; the next ones write in place. */
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 4);
	assert_true(counter_inode() != ino);
	ino = counter_inode();
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 5);
	assert_true(counter_inode() == ino);
	spd_store_close(s);
	spd_state_clear(st);
	assert_int_equal(try_open(), SC_OK);

	/* A power cut tore the write of 5 into slot 1: slot 0 holds 4, the store 5: rolled forward. */
	counter_form(5, f);
	f[SLOT_STRIDE + 3] ^= 0x10;
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	assert_int_equal(spd_store_counter(s), 5);
	assert_int_equal(counter_value(), 5);
	/* The roll forward replaced the file; this store keeps the new one and writes it in place. */
	ino = counter_inode();
	assert_int_equal(spd_store_commit(s, st), SC_OK);
	assert_int_equal(counter_value(), 6);
	assert_true(counter_inode() == ino);
	spd_store_close(s);
	spd_state_clear(st);

	/* The slot of 5 torn: 6 still decides, nothing written. */
	counter_form(6, f);
	f[SLOT_STRIDE + 12] ^= 0x01;
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(try_open(), SC_OK);
	read_all(counter_path, &d, &n);
	assert_int_equal(n, sizeof(f));
	assert_memory_equal(d, f, sizeof(f));
	OPENSSL_free(d);
	/* Both slots invalid. */
	f[5] ^= 0x01;
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	assert_non_null(strstr(sc_err_detail(), "neither counter slot is valid"));
	/* Valid slots that are not neighbours (6 and 3). */
	counter_form(6, f);
	slot_of(3, f + SLOT_STRIDE);
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	assert_non_null(strstr(sc_err_detail(), "not neighbours"));
	/* 6 in slot 1 (the wrong parity), slot 0 zero: no valid slot. */
	memset(f, 0, sizeof(f));
	slot_of(6, f + SLOT_STRIDE);
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	/* A byte short, a byte over. */
	counter_form(6, f);
	sc_test_write_file(counter_path, f, sizeof(f) - 1);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	assert_non_null(strstr(sc_err_detail(), "expected 8 or 4112"));
	{
		uint8_t g[COUNTER_FILE + 1];

		memcpy(g, f, sizeof(f));
		g[COUNTER_FILE] = 0;
		sc_test_write_file(counter_path, g, sizeof(g));
		assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	}
	/* Ahead of the store (7 and 6 for a store at 6): rollback. */
	counter_form(7, f);
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(try_open(), SC_ERR_ROLLBACK);
	counter_form(6, f);
	sc_test_write_file(counter_path, f, sizeof(f));
	assert_int_equal(try_open(), SC_OK);
	/*
	 * The kept counter replaced under a running store (a copy renamed over it: a restore, an
	 * edit), then truncated to the old form: each next commit notices and replaces the file
	 * instead of writing into one nobody reads; the store opens again at its value.
	 */
	{
		char tmp[PATH_MAX];

		assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
		assert_int_equal(spd_store_commit(s, st), SC_OK); /* 7, kept */
		read_all(counter_path, &d, &n);
		snprintf(tmp, sizeof(tmp), "%s.copy", counter_path);
		sc_test_write_file(tmp, d, n);
		OPENSSL_free(d);
		assert_int_equal(rename(tmp, counter_path), 0);
		ino = counter_inode();
		assert_int_equal(spd_store_commit(s, st), SC_OK); /* 8 */
		assert_int_equal(counter_value(), 8);
		assert_true(counter_inode() != ino); /* replaced, not written into the orphan */
		assert_int_equal(spd_store_commit(s, st), SC_OK); /* 9, in the new file, kept */
		assert_int_equal(counter_value(), 9);
		assert_int_equal(truncate(counter_path, 8), 0);
		assert_int_equal(spd_store_commit(s, st), SC_OK); /* 10 */
		read_all(counter_path, &d, &n);
		assert_int_equal(n, COUNTER_FILE);
		OPENSSL_free(d);
		assert_int_equal(counter_value(), 10);
		spd_store_close(s);
		spd_state_clear(st);
		assert_int_equal(try_open(), SC_OK);
	}
	free(st);
}

/*
 * The store remembers the DER of the CSK, KEK and anchor certificates from one commit to the
 * next: what it writes must be what a fresh encoding writes, also after a certificate object is
 * replaced (the new one is written, never the remembered one), an anchor removed, the order of
 * anchors changed.
 */
static void test_cert_memo(void **state)
{
	struct spd_store *s = NULL;
	struct spd_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	struct spd_anchor a;
	X509 *x;
	int round;

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	assert_int_equal(spd_store_open(dir, &s, st), SC_OK);
	fill_state(st);
	for (round = 0; round < 5; round++) {
		switch (round) {
		case 1: /* a new CSK certificate object (another certificate for the same key) */
			x = cert_for(st->csk, "csk again");
			X509_free(st->csk_cert);
			st->csk_cert = x;
			break;
		case 2: /* the anchors swapped */
			a = st->anchors[0];
			st->anchors[0] = st->anchors[1];
			st->anchors[1] = a;
			break;
		case 3: /* one anchor gone, the KEK certificate replaced */
			X509_free(st->anchors[1].cert);
			st->anchors[1].cert = NULL;
			st->n_anchors = 1;
			x = cert_for(st->kek, "kek again");
			X509_free(st->kek_cert);
			st->kek_cert = x;
			break;
		default: /* unchanged: written from the memo */ break;
		}
		assert_int_equal(spd_store_commit(s, st), SC_OK);
		spd_store_close(s);
		s = NULL;
		assert_int_equal(spd_store_open(dir, &s, back), SC_OK);
		assert_same_state(st, back);
		assert_int_equal(X509_cmp(st->csk_cert, back->csk_cert), 0);
		assert_int_equal(X509_cmp(st->kek_cert, back->kek_cert), 0);
		assert_int_equal(X509_cmp(st->anchors[0].cert, back->anchors[0].cert), 0);
		spd_state_clear(back);
		/* The next commits come from this store object: its memo is filled by the first. */
		assert_int_equal(spd_store_commit(s, st), SC_OK);
		assert_int_equal(spd_store_commit(s, st), SC_OK);
		spd_store_close(s);
		s = NULL;
		assert_int_equal(spd_store_open(dir, &s, back), SC_OK);
		assert_same_state(st, back);
		assert_int_equal(X509_cmp(st->csk_cert, back->csk_cert), 0);
		assert_int_equal(X509_cmp(st->kek_cert, back->kek_cert), 0);
		spd_state_clear(back);
	}
	spd_store_close(s);
	spd_state_clear(st);
	free(st);
	free(back);
}

static void test_root_key(void **state)
{
	uint8_t other[SPD_ROOT_KEY_LEN];

	(void)state;
	assert_int_equal(spd_store_create(dir, DEV), SC_OK);
	/* Another device's root key (or a changed one) cannot open this store. */
	memset(other, 0x5a, sizeof(other));
	assert_int_equal(chmod(root_path, 0600), 0);
	sc_test_write_file(root_path, other, sizeof(other));
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	sc_test_write_file(root_path, other, sizeof(other) - 1);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	unlink(root_path);
	assert_int_equal(try_open(), SC_ERR_STORE_DAMAGED);
	/* A symlink in place of the root key is not followed. */
	assert_int_equal(symlink("/dev/zero", root_path), 0);
	assert_int_equal(try_open(), SC_ERR_IO);
}

/* #17: the renewal table, the optional tail after the slots. */
static void test_renewal_tail(void **state)
{
	struct spd_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	struct sc_buf b, none;
	uint8_t *c;
	size_t tail, i;

	(void)state;
	assert_non_null(st);
	assert_non_null(back);
	spd_state_init(st, DEV);
	fill_state(st);
	/* Without entries the plaintext is what an SP before #17 wrote: no tail at all. */
	assert_int_equal(spd_state_serialize(st, &none), SC_OK);
	memset(st->renewal[0].id, 0xa1, SC_PROFILE_ID_LEN);
	st->renewal[0].not_after = 1900000000;
	st->renewal[0].next = 3;
	memset(st->renewal[1].id, 0xb2, SC_PROFILE_ID_LEN);
	st->renewal[1].not_after = 1900000100;
	st->renewal[1].next = SC_RENEWAL_COUNT_MAX;
	st->n_renewal = 2;
	assert_int_equal(spd_state_serialize(st, &b), SC_OK);
	tail = none.len;
	assert_int_equal(b.len, tail + 1 + 4 + 2 * (SC_PROFILE_ID_LEN + 8 + 4));
	assert_memory_equal(b.data, none.data, tail);
	assert_int_equal(spd_state_parse(b.data, b.len, back), SC_OK);
	assert_int_equal(back->n_renewal, 2);
	assert_memory_equal(back->renewal, st->renewal, 2 * sizeof(st->renewal[0]));
	spd_state_clear(back);
	c = malloc(b.len);
	assert_non_null(c);
	/* Another tag; n of 0 and of SPD_RENEWAL_MAX + 1; a count past any profile's. */
	memcpy(c, b.data, b.len);
	c[tail] = 'S';
	assert_int_equal(spd_state_parse(c, b.len, back), SC_ERR_STORE_DAMAGED);
	memcpy(c, b.data, b.len);
	c[tail + 4] = 0;
	assert_int_equal(spd_state_parse(c, b.len, back), SC_ERR_STORE_DAMAGED);
	c[tail + 4] = SPD_RENEWAL_MAX + 1;
	assert_int_equal(spd_state_parse(c, b.len, back), SC_ERR_STORE_DAMAGED);
	memcpy(c, b.data, b.len);
	c[b.len - 2] = 0x04; /* next of the last entry: 1024 -> 1028 */
	c[b.len - 1] = 0x04;
	assert_int_equal(spd_state_parse(c, b.len, back), SC_ERR_STORE_DAMAGED);
	/* Every truncation inside the tail. */
	for (i = tail + 1; i < b.len; i++)
		assert_int_equal(spd_state_parse(b.data, i, back), SC_ERR_STORE_DAMAGED);
	free(c);
	sc_buf_free(&b);
	sc_buf_free(&none);
	spd_state_clear(st);
	free(st);
	free(back);
}

static void test_plaintext_strict(void **state)
{
	struct spd_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	struct sc_buf b;
	uint8_t *ext;
	size_t i;

	(void)state;
	spd_state_init(st, DEV);
	fill_state(st);
	assert_int_equal(spd_state_serialize(st, &b), SC_OK);
	assert_int_equal(spd_state_parse(b.data, b.len, back), SC_OK);
	assert_same_state(st, back);
	spd_state_clear(back);
	/* Trailing bytes in the plaintext. */
	ext = malloc(b.len + 1);
	memcpy(ext, b.data, b.len);
	ext[b.len] = 0;
	assert_int_equal(spd_state_parse(ext, b.len + 1, back), SC_ERR_STORE_DAMAGED);
	free(ext);
	/* Every truncation of the plaintext. */
	for (i = 0; i < b.len; i += 7)
		assert_int_equal(spd_state_parse(b.data, i, back), SC_ERR_STORE_DAMAGED);
	assert_int_equal(spd_state_parse(b.data, b.len - 1, back), SC_ERR_STORE_DAMAGED);
	sc_buf_free(&b);

	/* Invariants: a locked state must hold its certificates; slots only when locked. */
	st->state = SC_SP_STATE_FACTORY;
	assert_int_equal(spd_state_serialize(st, &b), SC_OK);
	assert_int_equal(spd_state_parse(b.data, b.len, back), SC_ERR_STORE_DAMAGED);
	sc_buf_free(&b);
	st->state = SC_SP_STATE_LOCKED;
	/* Slots out of order. */
	st->slots[1].handle = 2;
	assert_int_equal(spd_state_serialize(st, &b), SC_OK);
	assert_int_equal(spd_state_parse(b.data, b.len, back), SC_ERR_STORE_DAMAGED);
	sc_buf_free(&b);
	st->slots[1].handle = 5;
	/* A certificate that is not for its key. */
	{
		X509 *t = st->csk_cert;
		st->csk_cert = st->kek_cert;
		assert_int_equal(spd_state_serialize(st, &b), SC_OK);
		assert_int_equal(spd_state_parse(b.data, b.len, back), SC_ERR_STORE_DAMAGED);
		sc_buf_free(&b);
		st->csk_cert = t;
	}
	spd_state_clear(st);
	free(st);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_memo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_strict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renewal_tail, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
