// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_store.c — libFuzzer target: the sealed store loader (spd_store_open) on a store folder
 * with the fixed root key and counter FZ_STORE_COUNTER. The first input byte says what the
 * rest is:
 *   bit 0 = 0   the whole `store` file, as found on disk (header, ciphertext, tag);
 *   bit 0 = 1   a plaintext state (its keys as markers, fuzz.h), sealed here in the
 *               documented format with header counter FZ_STORE_COUNTER + {0, +1, -1, +2} by
 *               bits 1-2 (normal, crash roll-forward, rollback, damage), so the fuzzer reaches
 *               the state decoder behind the tag.
 * Checked: a refusal is store-damaged or rollback with a detail (never "repaired"); a store
 * that opens re-serializes to a state that parses back identically, commits, and reopens as
 * exactly the same state with the next counter.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "spd.h"
#include "store.h"

static char dir[512], store_path[600], counter_path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t root[SPD_ROOT_KEY_LEN];
	char path[600];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s", fz_tmpdir("store"));
	snprintf(store_path, sizeof(store_path), "%s/store", dir);
	snprintf(counter_path, sizeof(counter_path), "%s/counter", dir);
	snprintf(path, sizeof(path), "%s/root.key", dir);
	fz_store_root_key(root);
	if (fz_write_file(path, root, sizeof(root), 0600) != 0) {
		perror(path);
		abort();
	}
	OPENSSL_cleanse(root, sizeof(root));
	return 0;
}

static void write_counter(uint64_t v)
{
	uint8_t c[8];
	int i;

	for (i = 0; i < 8; i++)
		c[i] = (uint8_t)(v >> (56 - 8 * i));
	FZ_ASSERT(fz_write_file(counter_path, c, sizeof(c), 0600) == 0, "writing the counter");
}

static void serialize(const struct spd_state *st, struct sc_buf *out)
{
	sc_err r = spd_state_serialize(st, out);

	FZ_ASSERT(r == SC_OK, "an opened state does not serialize: %s: %s", sc_err_name(r),
	    sc_err_detail());
}

static int same(const struct sc_buf *a, const struct sc_buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* The store opened: its state must survive serialize/parse and a commit/reopen unchanged. */
static void check_opened(struct spd_store *s, struct spd_state *st)
{
	struct spd_state *again = calloc(1, sizeof(*again));
	struct spd_store *s2 = NULL;
	struct sc_buf one, two;
	uint64_t c = spd_store_counter(s);
	sc_err r;

	FZ_ASSERT(again != NULL, "out of memory");
	FZ_ASSERT(c == FZ_STORE_COUNTER || c == FZ_STORE_COUNTER + 1, "opened with counter %llu",
	    (unsigned long long)c);
	serialize(st, &one);
	r = spd_state_parse(one.data, one.len, again);
	FZ_ASSERT(r == SC_OK, "a serialized state does not parse: %s: %s", sc_err_name(r),
	    sc_err_detail());
	serialize(again, &two);
	FZ_ASSERT(same(&one, &two), "serialize/parse is not stable");
	sc_buf_free(&two);
	spd_state_clear(again);

	r = spd_store_commit(s, st);
	FZ_ASSERT(r == SC_OK, "commit: %s: %s", sc_err_name(r), sc_err_detail());
	r = spd_store_open(dir, &s2, again);
	FZ_ASSERT(r == SC_OK, "the committed store does not open: %s: %s", sc_err_name(r),
	    sc_err_detail());
	FZ_ASSERT(spd_store_counter(s2) == c + 1, "reopened with counter %llu, expected %llu",
	    (unsigned long long)spd_store_counter(s2), (unsigned long long)c + 1);
	serialize(again, &two);
	FZ_ASSERT(same(&one, &two), "the reopened state differs from the committed one");
	sc_buf_free(&one);
	sc_buf_free(&two);
	spd_state_clear(again);
	free(again);
	spd_store_close(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t delta[4] = { 0, 1, -1, 2 };
	struct spd_state *st;
	struct spd_store *s = NULL;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	uint8_t root[SPD_ROOT_KEY_LEN];
	sc_err r;

	fz_input_begin(data, size);

	if (size < 1)
		return 0;
	write_counter(FZ_STORE_COUNTER);
	if (data[0] & FZ_STORE_MODE_PLAINTEXT) {
		uint8_t *pt = NULL;
		size_t pt_len = 0;

		FZ_ASSERT(fz_expand_keys(data + 1, size - 1, &pt, &pt_len) == 0, "key markers");
		fz_store_root_key(root);
		FZ_ASSERT(fz_seal(root, (uint64_t)(FZ_STORE_COUNTER + delta[(data[0] >> 1) & 3]),
		              pt, pt_len, &sealed, &sealed_len) == 0,
		    "sealing");
		OPENSSL_cleanse(root, sizeof(root));
		OPENSSL_clear_free(pt, pt_len);
		FZ_ASSERT(fz_write_file(store_path, sealed, sealed_len, 0600) == 0,
		    "writing the store");
		free(sealed);
	} else {
		FZ_ASSERT(fz_write_file(store_path, data + 1, size - 1, 0600) == 0,
		    "writing the store");
	}

	st = calloc(1, sizeof(*st));
	FZ_ASSERT(st != NULL, "out of memory");
	sc_err_clear();
	r = spd_store_open(dir, &s, st);
	fz_trace("store: mode %u: %s%s%s", data[0] & 7u, sc_err_name(r), r == SC_OK ? "" : ": ",
	    r == SC_OK ? "" : sc_err_detail());
	if (r == SC_OK) {
		fz_success();
		check_opened(s, st);
		spd_store_close(s);
	} else {
		FZ_ASSERT(r == SC_ERR_STORE_DAMAGED || r == SC_ERR_ROLLBACK,
		    "a bad store refused with %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(sc_err_detail()[0] != '\0', "%s without a detail", sc_err_name(r));
		FZ_ASSERT(s == NULL, "a refused store was opened");
	}
	spd_state_clear(st);
	free(st);
	ERR_clear_error();
	return 0;
}
