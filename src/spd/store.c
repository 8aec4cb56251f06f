// SPDX-License-Identifier: Apache-2.0
/*
 * store.c — the sealed store (store.h): state codec, AES-256-GCM sealing under an HKDF key
 * from the root key, atomic commit, and the counter protocol that turns an old store put back
 * into SC_ERR_ROLLBACK. Every plaintext and key buffer is wiped before it is freed.
 * Built with SC_FAILPOINTS, every step of a commit is also a fail point (store.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <selfcert/cert.h>
#include "failpoint.h"
#include "file.h"
#include "pem.h"
#include "store.h"
#include "text.h"

#define NONCE_LEN 12
#define HKDF_SALT "selfcert-store-v1"
/* Device-independent: the root key alone makes the store key device-unique. */
#define HKDF_INFO "selfcert sealed store AES-256-GCM key"
#define TMP_HEX_LEN 12 /* "<file>.tmp-" + 12 hex digits: sc_file_replace's temp file */
/*
 * The store is written in pieces: the 25-byte header alone, then at most this much at a time.
 * Bounded writes, and a stop between two of them (a fail point each) leaves a partly written
 * temp file: the case the fault tests must be able to produce.
 */
#define WRITE_CHUNK (64u << 10)

/*
 * The DER of a certificate the state holds as an X509 (the CSK's, the KEK's, the anchors'),
 * remembered from one commit to the next so the store does not encode them again on every
 * commit (issue 17). Keyed by the object, which the memo holds a reference to, so a freed and
 * reused pointer can never match; the SP never changes an installed certificate, it replaces
 * the object. Each serialization keeps only the entries it used.
 */
#define DER_MEMO_N (2 + SC_SP_MAX_ANCHORS)
struct der_memo {
	X509 *x;
	uint8_t *der;
	size_t len;
};

struct spd_store {
	char dir[PATH_MAX];
	char store_path[PATH_MAX];
	char counter_path[PATH_MAX];
	const struct spd_backend *be; /* holds the sealing secret and the counter (backend.h) */
	uint8_t *key;                 /* 32 bytes, secure heap */
	uint64_t counter;             /* the counter file's value == the store's header counter */
	int dir_fd; /* the folder, open from open to close: every commit replaces files through it */
	int counter_fd; /* the counter, kept by the backend for in-place increments, or -1 */
	struct der_memo memo[DER_MEMO_N]; /* the last commit's certificate encodings */
};

/* ---- fail points (SC_FAILPOINTS builds only) ---- */

/*
 * One per step of a commit, in the order a commit passes them. The counter's five mirror the
 * store's: spd_store_step numbers sc_file_replace's steps from FP_STORE_OPEN or FP_COUNTER_OPEN.
 * The names and the table exist only in SC_FAILPOINTS builds (failpoint.h): a release binary
 * holds no fail point code and never reads the variable.
 */
enum fp_id {
	FP_STORE_OPEN,
	FP_STORE_WRITE,
	FP_STORE_FSYNC,
	FP_STORE_RENAME,
	FP_STORE_DIRSYNC,
	FP_COUNTER_OPEN,
	FP_COUNTER_WRITE,
	FP_COUNTER_FSYNC,
	FP_COUNTER_RENAME,
	FP_COUNTER_DIRSYNC,
	FP_COMMIT_DONE,
	FP_COUNT
};

#ifdef SC_FAILPOINTS
static const char *const fp_names[FP_COUNT] = {
	"store-open",
	"store-write",
	"store-fsync",
	"store-rename",
	"store-dirsync",
	"counter-open",
	"counter-write",
	"counter-fsync",
	"counter-rename",
	"counter-dirsync",
	"commit-done",
};

/* failpoint.c keeps the state; the names, messages and exit code are those tests pin. */
static struct sc_failpoints fp = {
	.env = SPD_FAILPOINT_ENV,
	.prog = "selfcert-spd",
	.names = fp_names,
	.n = FP_COUNT,
	.exit_code = SPD_FAILPOINT_EXIT,
	.allow = SC_FP_ALLOW_ERROR,
};
#endif
#define FAILPOINT(id) SC_FAILPOINT(&fp, (id))

/* Read SPD_FAILPOINT_ENV once, when the first store is opened or created (store.h). */
static sc_err fp_load(void)
{
	return SC_FAILPOINT_LOAD(&fp);
}

/* ---- key derivation and sealing ---- */

static sc_err derive_key(const uint8_t root[SPD_SECRET_LEN], uint8_t out[32])
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5];
	char digest[] = "SHA256";
	char salt[] = HKDF_SALT;
	char info[] = HKDF_INFO;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "HKDF unavailable");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)root,
	    SPD_SECRET_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, strlen(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, 32, params) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "HKDF");
		goto out;
	}
	r = SC_OK;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

void spd_be64_put(uint8_t p[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t spd_be64_get(const uint8_t p[8])
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* header | ciphertext | tag into *out (the caller's, OPENSSL_free; not secret). */
static sc_err seal(const uint8_t key[32], uint64_t counter, const uint8_t *pt, size_t pt_len,
    uint8_t **out, size_t *out_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *blob = NULL;
	size_t total;
	int n, fin;

	*out = NULL;
	*out_len = 0;
	if (pt_len > SPD_STORE_MAX - SPD_STORE_HDR_LEN - SPD_STORE_TAG_LEN || pt_len > INT_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "sealed state of %zu bytes", pt_len);
	total = SPD_STORE_HDR_LEN + pt_len + SPD_STORE_TAG_LEN;
	if ((blob = OPENSSL_malloc(total)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "sealed store");
	memcpy(blob, SPD_STORE_MAGIC, 4);
	blob[4] = SPD_STORE_VERSION;
	spd_be64_put(blob + 5, counter);
	/* A random nonce per commit: the key never changes, so nonces must never repeat. */
	if (RAND_bytes(blob + 13, NONCE_LEN) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, blob + 13) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, blob, SPD_STORE_HDR_LEN) != 1 ||
	    EVP_EncryptUpdate(ctx, blob + SPD_STORE_HDR_LEN, &n, pt, (int)pt_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, blob + SPD_STORE_HDR_LEN + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != pt_len ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SPD_STORE_TAG_LEN,
	        blob + SPD_STORE_HDR_LEN + pt_len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "AES-256-GCM seal");
		goto out;
	}
	*out = blob;
	*out_len = total;
	blob = NULL;
	r = SC_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_free(blob);
	return r;
}

/* Check the header and tag; *pt is the caller's (secret: OPENSSL_clear_free). */
static sc_err unseal(const uint8_t key[32], const char *path, const uint8_t *blob, size_t len,
    uint64_t *counter, uint8_t **pt, size_t *pt_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t ct_len;
	int n, fin;

	*pt = NULL;
	*pt_len = 0;
	if (len < SPD_STORE_HDR_LEN + SPD_STORE_TAG_LEN)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: truncated (%zu bytes)", path, len);
	if (memcmp(blob, SPD_STORE_MAGIC, 4) != 0)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: not a sealed store (bad magic)", path);
	if (blob[4] != SPD_STORE_VERSION)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: unknown store version %u", path, blob[4]);
	ct_len = len - SPD_STORE_HDR_LEN - SPD_STORE_TAG_LEN;
	if (ct_len > INT_MAX)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: too large", path);
	if ((buf = OPENSSL_malloc(ct_len + 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, blob + 13) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, blob, SPD_STORE_HDR_LEN) != 1 ||
	    EVP_DecryptUpdate(ctx, buf, &n, blob + SPD_STORE_HDR_LEN, (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SPD_STORE_TAG_LEN,
	        (void *)(blob + SPD_STORE_HDR_LEN + ct_len)) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "AES-256-GCM open");
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, buf + n, &fin) != 1) {
		/* Header (the AAD), ciphertext or tag changed, or another device's root key. */
		r = sc_fail(SC_ERR_STORE_DAMAGED, "%s: authentication failed", path);
		goto out;
	}
	*counter = spd_be64_get(blob + 5);
	*pt = buf;
	*pt_len = ct_len;
	buf = NULL;
	r = SC_OK;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, ct_len + 1);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---- state codec ---- */

/* A key as (alg, stored form): the bytes its backend made when it entered the SP. */
static void put_key(struct sc_buf *b, const struct spd_backend *be, enum sc_alg alg,
    const struct spd_key *key)
{
	const uint8_t *blob = NULL;
	size_t len = 0;

	sc_buf_put_u8(b, (uint8_t)alg);
	if (key != NULL)
		be->key_blob(key, &blob, &len);
	sc_buf_put_string(b, blob, len);
}

static void memo_clear(struct der_memo *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		X509_free(m[i].x);
		OPENSSL_free(m[i].der);
	}
	memset(m, 0, n * sizeof(*m));
}

/*
 * spd_put_cert of x, through the memo when there is one (old: the previous commit's entries,
 * next: this one's, filled here; an entry moves from old to next, or is made).
 */
static sc_err put_cert_memo(struct sc_buf *b, X509 *x, struct der_memo *old, struct der_memo *next,
    size_t *n_next)
{
	struct der_memo *e;
	size_t i;
	sc_err r;

	if (old == NULL || x == NULL || *n_next >= DER_MEMO_N)
		return spd_put_cert(b, x, NULL, 0);
	e = &next[*n_next];
	for (i = 0; i < DER_MEMO_N; i++)
		if (old[i].x == x) {
			*e = old[i];
			memset(&old[i], 0, sizeof(old[i]));
			break;
		}
	if (e->x == NULL) {
		if ((r = sc_cert_to_der(x, &e->der, &e->len)) != SC_OK)
			return r;
		if (X509_up_ref(x) != 1) {
			OPENSSL_free(e->der);
			memset(e, 0, sizeof(*e));
			return sc_fail_ossl(SC_ERR_INTERNAL, "X509_up_ref");
		}
		e->x = x;
	}
	(*n_next)++;
	return spd_put_cert(b, NULL, e->der, e->len);
}

static sc_err serialize(const struct spd_state *st, struct sc_buf *out, struct der_memo *memo)
{
	sc_err r = SC_ERR_INTERNAL;
	struct der_memo next[DER_MEMO_N];
	size_t i, n_next = 0;

	sc_buf_init_writer(out, SPD_STORE_MAX - SPD_STORE_HDR_LEN - SPD_STORE_TAG_LEN, 1);
	sc_buf_put_u8(out, (uint8_t)st->state);
	sc_buf_put_cstring(out, st->device_id);
	sc_buf_put_u32(out, st->max_leaf_days);
	sc_buf_put_u32(out, st->max_keys);
	sc_buf_put_u64(out, st->issuance_counter);
	put_key(out, st->be, st->csk_alg, st->csk);
	put_key(out, st->be, st->kek_alg, st->kek);
	memset(next, 0, sizeof(next));
	if ((r = put_cert_memo(out, st->csk_cert, memo, next, &n_next)) != SC_OK ||
	    (r = put_cert_memo(out, st->kek_cert, memo, next, &n_next)) != SC_OK)
		goto out;
	sc_buf_put_u32(out, (uint32_t)st->n_anchors);
	for (i = 0; i < st->n_anchors; i++) {
		sc_buf_put_cstring(out, st->anchors[i].network_id);
		if ((r = put_cert_memo(out, st->anchors[i].cert, memo, next, &n_next)) != SC_OK)
			goto out;
	}
	sc_buf_put_u32(out, (uint32_t)st->n_replay);
	for (i = 0; i < st->n_replay; i++) {
		sc_buf_put_bytes(out, st->replay[i].id, SC_PROFILE_ID_LEN);
		sc_buf_put_u64(out, st->replay[i].not_after);
	}
	sc_buf_put_u64(out, st->replay_watermark);
	sc_buf_put_u32(out, (uint32_t)st->n_slots);
	for (i = 0; i < st->n_slots; i++) {
		sc_buf_put_u32(out, st->slots[i].handle);
		put_key(out, st->be, st->slots[i].alg, st->slots[i].key);
		if ((r = spd_put_cert(out, st->slots[i].cert, st->slots[i].cert_der,
		         st->slots[i].cert_der_len)) != SC_OK)
			goto out;
	}
	sc_buf_put_u32(out, st->next_handle);
	/*
	 * #17: the renewal table, an optional tail, written only when it holds entries so a store
	 * that never saw a renewal profile stays readable by an SP before revision 1.5.
	 */
	if (st->n_renewal > 0) {
		sc_buf_put_u8(out, SPD_STORE_RENEWAL_TAG);
		sc_buf_put_u32(out, (uint32_t)st->n_renewal);
		for (i = 0; i < st->n_renewal; i++) {
			sc_buf_put_bytes(out, st->renewal[i].id, SC_PROFILE_ID_LEN);
			sc_buf_put_u64(out, st->renewal[i].not_after);
			sc_buf_put_u32(out, st->renewal[i].next);
		}
	}
	if ((r = sc_buf_done(out, "sealed state")) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK)
		sc_buf_free(out);
	if (memo != NULL) {
		/* What this commit did not use goes; what it used (or made) stays for the next. */
		memo_clear(memo, DER_MEMO_N);
		memcpy(memo, next, sizeof(next));
	}
	return r;
}

sc_err spd_state_serialize(const struct spd_state *st, struct sc_buf *out)
{
	return serialize(st, out, NULL);
}

/* Decode an optional (alg, stored form) pair into a key of st's backend. */
static sc_err get_key(struct sc_buf *b, const struct spd_backend *be, enum sc_alg *alg,
    struct spd_key **key, const char *what)
{
	const uint8_t *der;
	size_t len;
	uint8_t a = sc_buf_get_u8(b);

	sc_buf_get_string(b, &der, &len, SPD_STORE_MAX);
	*alg = SC_ALG_NONE;
	*key = NULL;
	if (b->failed)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: truncated", what);
	if (a == SC_ALG_NONE && len == 0)
		return SC_OK;
	if (!sc_alg_valid(a) || len == 0)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: bad algorithm %u", what, a);
	*alg = (enum sc_alg)a;
	return be->key_load(be, *alg, der, len, what, key);
}

/* keep, keep_len (may be NULL): also a copy of the certificate's DER, for spd_put_cert. */
static sc_err get_cert(struct sc_buf *b, X509 **cert, uint8_t **keep, size_t *keep_len,
    int required, const char *what)
{
	const uint8_t *der;
	size_t len;

	*cert = NULL;
	sc_buf_get_string(b, &der, &len, SPD_STORE_MAX);
	if (b->failed)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: truncated", what);
	if (len == 0)
		return required ? sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: missing", what) : SC_OK;
	if (sc_cert_from_der(der, len, cert) != SC_OK)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s: %s", what, sc_err_detail());
	if (keep != NULL) {
		if ((*keep = OPENSSL_memdup(der, len)) == NULL)
			return sc_fail(SC_ERR_NOMEM, "store: %s", what);
		*keep_len = len;
	}
	return SC_OK;
}

/* #17's optional tail: the renewal table (spd.h), bounded and each entry not yet spent. */
static sc_err get_renewal(struct sc_buf *b, struct spd_state *st)
{
	uint32_t n, i;

	if (sc_buf_get_u8(b) != SPD_STORE_RENEWAL_TAG)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: unknown section after the slots");
	n = sc_buf_get_u32(b);
	if (b->failed || n == 0 || n > SPD_RENEWAL_MAX)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %u renewal entries", (unsigned)n);
	for (i = 0; i < n; i++) {
		const uint8_t *id = sc_buf_get_bytes(b, SC_PROFILE_ID_LEN);
		if (id != NULL)
			memcpy(st->renewal[i].id, id, SC_PROFILE_ID_LEN);
		st->renewal[i].not_after = sc_buf_get_u64(b);
		st->renewal[i].next = sc_buf_get_u32(b);
		if (!b->failed && st->renewal[i].next > SC_RENEWAL_COUNT_MAX)
			return sc_fail(SC_ERR_STORE_DAMAGED,
			    "store: renewal entry %u past any count", (unsigned)i);
	}
	if (b->failed)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: renewal table truncated");
	st->n_renewal = n;
	return SC_OK;
}

/* A certificate must certify the key held for its role. */
static sc_err check_pair(const struct spd_backend *be, const struct spd_key *key, X509 *cert,
    const char *what)
{
	if (cert == NULL)
		return SC_OK;
	if (key == NULL || EVP_PKEY_eq(X509_get0_pubkey(cert), be->key_public(key)) != 1)
		return sc_fail(SC_ERR_STORE_DAMAGED, "store: %s certificate does not match its key",
		    what);
	return SC_OK;
}

sc_err spd_state_parse(const uint8_t *p, size_t len, struct spd_state *st)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf b;
	uint32_t n, i, state;

	spd_state_init(st, NULL);
	sc_buf_init_reader(&b, p, len);
	state = sc_buf_get_u8(&b);
	sc_buf_get_cstring(&b, st->device_id, SC_DEVICE_ID_MAX);
	st->max_leaf_days = sc_buf_get_u32(&b);
	st->max_keys = sc_buf_get_u32(&b);
	st->issuance_counter = sc_buf_get_u64(&b);
	if (b.failed) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: header fields truncated");
		goto out;
	}
	if (state > SC_SP_STATE_LOCKED || !sc_device_id_valid(st->device_id) || st->max_keys < 1 ||
	    st->max_keys > SC_SP_MAX_KEYS_LIMIT || st->max_leaf_days > SPD_MAX_LEAF_DAYS) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: state, device ID or limits out of range");
		goto out;
	}
	st->state = (enum sc_sp_state)state;
	if ((r = get_key(&b, st->be, &st->csk_alg, &st->csk, "CSK")) != SC_OK ||
	    (r = get_key(&b, st->be, &st->kek_alg, &st->kek, "KEK")) != SC_OK ||
	    (r = get_cert(&b, &st->csk_cert, NULL, NULL, 0, "CSK certificate")) != SC_OK ||
	    (r = get_cert(&b, &st->kek_cert, NULL, NULL, 0, "KEK certificate")) != SC_OK ||
	    (r = check_pair(st->be, st->csk, st->csk_cert, "CSK")) != SC_OK ||
	    (r = check_pair(st->be, st->kek, st->kek_cert, "KEK")) != SC_OK)
		goto out;

	n = sc_buf_get_u32(&b);
	if (n > SC_SP_MAX_ANCHORS) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: %u anchors", (unsigned)n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct spd_anchor *a = &st->anchors[i];
		sc_buf_get_cstring(&b, a->network_id, SC_NETWORK_ID_MAX);
		if ((r = get_cert(&b, &a->cert, NULL, NULL, 1, "anchor")) != SC_OK)
			goto out;
		st->n_anchors = i + 1;
		if (a->network_id[0] == '\0') {
			r = sc_fail(SC_ERR_STORE_DAMAGED, "store: anchor without network ID");
			goto out;
		}
	}

	n = sc_buf_get_u32(&b);
	if (n > SPD_REPLAY_MAX) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: %u replay entries", (unsigned)n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *id = sc_buf_get_bytes(&b, SC_PROFILE_ID_LEN);
		if (id != NULL)
			memcpy(st->replay[i].id, id, SC_PROFILE_ID_LEN);
		st->replay[i].not_after = sc_buf_get_u64(&b);
	}
	st->n_replay = n;
	st->replay_watermark = sc_buf_get_u64(&b);

	n = sc_buf_get_u32(&b);
	if (b.failed || n > st->max_keys) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: replay cache truncated or %u slots",
		    (unsigned)n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct spd_slot *s = &st->slots[i];
		s->handle = sc_buf_get_u32(&b);
		r = get_key(&b, st->be, &s->alg, &s->key, "leaf key");
		if (r == SC_OK)
			r = get_cert(&b, &s->cert, &s->cert_der, &s->cert_der_len, 1,
			    "leaf certificate");
		st->n_slots = i + 1;
		if (r != SC_OK)
			goto out;
		if (s->key == NULL || s->handle == 0 ||
		    (i > 0 && s->handle <= st->slots[i - 1].handle) ||
		    (r = check_pair(st->be, s->key, s->cert, "leaf")) != SC_OK) {
			r = sc_fail(SC_ERR_STORE_DAMAGED, "store: leaf slot %u inconsistent",
			    (unsigned)i);
			goto out;
		}
	}
	st->next_handle = sc_buf_get_u32(&b);
	if (!b.failed && b.off < b.len && (r = get_renewal(&b, st)) != SC_OK)
		goto out;
	if ((r = sc_buf_done(&b, "store")) != SC_OK) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: plaintext: %s", sc_err_detail());
		goto out;
	}
	if (st->next_handle == 0 ||
	    (st->n_slots > 0 && st->slots[st->n_slots - 1].handle >= st->next_handle)) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: next handle inconsistent");
		goto out;
	}
	/* The lifecycle's invariants: what each state must (not) hold. */
	if ((st->state == SC_SP_STATE_EMPTY && (st->csk || st->kek || st->n_slots)) ||
	    (st->state == SC_SP_STATE_LOCKED &&
	        (!st->csk_cert || !st->kek_cert || st->n_anchors == 0)) ||
	    (st->state != SC_SP_STATE_LOCKED && st->n_slots > 0)) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "store: contents do not fit state %s",
		    sc_sp_state_name(st->state));
		goto out;
	}
	r = SC_OK;
out:
	if (r != SC_OK)
		spd_state_clear(st);
	return r;
}

/* ---- files ---- */

sc_err spd_store_step(void *ctx, enum sc_file_step step)
{
	const enum spd_store_file *f = ctx;
	unsigned base = *f == SPD_STORE_FILE_COUNTER ? FP_COUNTER_OPEN : FP_STORE_OPEN;

	(void)base; /* only read by SC_FAILPOINTS builds */
	(void)step;
	return FAILPOINT(base + (unsigned)step);
}

/*
 * Durably replace DIR/store with blob (file.h: temp file, fsync, rename, folder fsync): the
 * header alone, then WRITE_CHUNK at a time, each step behind its store-* fail point. *renamed
 * says whether the new content reached path: after that, a failure can no longer take it back.
 */
static sc_err replace_store(const char *path, int dir_fd, const uint8_t *blob, size_t len,
    int *renamed)
{
	enum spd_store_file f = SPD_STORE_FILE_STORE;
	struct sc_file_replace o = { .mode = 0600,
		.first = SPD_STORE_HDR_LEN,
		.chunk = WRITE_CHUNK,
		.step = spd_store_step,
		.ctx = &f,
		.use_dir_fd = 1,
		.dir_fd = dir_fd };
	sc_err r = sc_file_replace(path, blob, len, &o);

	*renamed = o.renamed;
	return r;
}

const struct spd_backend *spd_backend_active = &spd_backend_soft;

/*
 * The backend a store folder was made by. It is recorded without a format change, by the
 * sealing file the folder holds (soft: root.key, tpm: root.tpm), so every older store opens as
 * it did; the key blobs inside are the backend's own (backend.h), so no store version changes.
 */
const struct spd_backend *spd_backend_of(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;

	if (snprintf(path, sizeof(path), "%s/root.tpm", dir) < (int)sizeof(path) &&
	    lstat(path, &sb) == 0)
		return &spd_backend_tpm;
	return &spd_backend_soft;
}

static sc_err store_new(const char *dir, struct spd_store **out)
{
	struct spd_store *s;
	sc_err r;

	*out = NULL;
	if ((r = fp_load()) != SC_OK)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "store");
	s->counter_fd = -1;
	if (strlen(dir) >= sizeof(s->dir) - 16) {
		free(s);
		return sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->be = spd_backend_of(dir);
	spd_backend_active = s->be; /* one store per process: its states hold this backend's keys */
	if ((r = sc_file_join(s->store_path, sizeof(s->store_path), dir, "store")) != SC_OK ||
	    (r = sc_file_join(s->counter_path, sizeof(s->counter_path), dir, "counter")) != SC_OK) {
		free(s);
		return r;
	}
	/*
	 * The folder, looked up once: a commit then makes, renames and fsyncs through this fd
	 * instead of resolving the path (and, under Landlock, checking it) on every replace.
	 */
	if ((s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno));
		free(s);
		return r;
	}
	/* The derived key lives in OpenSSL's secure heap when the daemon set one up. */
	if ((s->key = OPENSSL_secure_zalloc(32)) == NULL) {
		close(s->dir_fd);
		free(s);
		return sc_fail(SC_ERR_NOMEM, "store key");
	}
	*out = s;
	return SC_OK;
}

/* The store key: HKDF of the backend's unsealed secret, which is wiped at once. */
static sc_err load_store_key(struct spd_store *s)
{
	uint8_t secret[SPD_SECRET_LEN];
	sc_err r;

	if ((r = s->be->secret_unseal(s->be, s->dir, secret)) == SC_OK)
		r = derive_key(secret, s->key);
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

void spd_store_close(struct spd_store *s)
{
	if (s == NULL)
		return;
	OPENSSL_secure_clear_free(s->key, 32);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->counter_fd >= 0)
		close(s->counter_fd);
	memo_clear(s->memo, DER_MEMO_N);
	free(s);
}

uint64_t spd_store_counter(const struct spd_store *s)
{
	return s->counter;
}

/* Seal st with `counter` and put it in place of DIR/store. *renamed says if it got there. */
static sc_err write_store(struct spd_store *s, const struct spd_state *st, uint64_t counter,
    int *renamed)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf pt;
	uint8_t *blob = NULL;
	size_t blob_len = 0;

	*renamed = 0;
	memset(&pt, 0, sizeof(pt));
	if ((r = serialize(st, &pt, s->memo)) != SC_OK)
		goto out;
	if ((r = seal(s->key, counter, pt.data, pt.len, &blob, &blob_len)) != SC_OK)
		goto out;
	if ((r = replace_store(s->store_path, s->dir_fd, blob, blob_len, renamed)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	sc_buf_free(&pt);
	OPENSSL_free(blob);
	return r;
}

sc_err spd_store_commit(struct spd_store *s, const struct spd_state *st)
{
	sc_err r;
	int renamed = 0;

	if (s->counter == UINT64_MAX)
		return sc_fail(SC_ERR_STORE_FULL, "the monotonic counter is exhausted");
	/*
	 * On any failure s->counter stays put, even if the rename happened and the file on disk
	 * now carries counter + 1 (which open accepts and rolls forward). The next commit then
	 * seals with the same counter + 1 again instead of + 2, which would read as damage.
	 */
	if ((r = write_store(s, st, s->counter + 1, &renamed)) != SC_OK)
		return r;
	r = s->be->counter_increment_kept != NULL
	    ? s->be->counter_increment_kept(s->be, s->dir, s->dir_fd, &s->counter_fd, s->counter)
	    : s->be->counter_increment(s->be, s->dir, s->counter);
	if (r != SC_OK)
		return r;
	/* Durable: a stop here is the daemon dying before it can answer. */
	if ((r = FAILPOINT(FP_COMMIT_DONE)) != SC_OK)
		return r;
	s->counter++;
	return SC_OK;
}

/* Is name "<base>.tmp-" followed by exactly TMP_HEX_LEN lower-case hex digits? */
static int is_temp_of(const char *name, const char *base)
{
	size_t n = strlen(base), i;

	if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp-", 5) != 0)
		return 0;
	name += n + 5;
	for (i = 0; i < TMP_HEX_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return name[TMP_HEX_LEN] == '\0';
}

/*
 * Remove the temp files of commits that a crash interrupted. None was ever renamed into place,
 * so none holds state anyone relies on (the rename is the commit point); left alone, every
 * crash would leave up to one store-sized file behind. Only names sc_file_replace makes are
 * touched, only regular files, and only under the daemon's lock on the folder (main.c).
 * Best effort: a temp file that stays is harmless.
 */
static void remove_stale_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];
	struct stat sb;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!is_temp_of(e->d_name, "store") && !is_temp_of(e->d_name, "counter"))
			continue;
		if (sc_file_join(path, sizeof(path), dir, e->d_name) != SC_OK ||
		    lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		(void)unlink(path);
	}
	closedir(d);
}

sc_err spd_store_open(const char *dir, struct spd_store **out, struct spd_state *st)
{
	sc_err r = SC_ERR_INTERNAL;
	struct spd_store *s = NULL;
	uint8_t *blob = NULL, *pt = NULL;
	size_t blob_len = 0, pt_len = 0;
	uint64_t c = 0, sc = 0;

	*out = NULL;
	spd_state_init(st, NULL);
	if ((r = store_new(dir, &s)) != SC_OK)
		return r;
	if ((r = load_store_key(s)) != SC_OK)
		goto out;
	if ((r = s->be->counter_read(s->be, s->dir, &c)) != SC_OK)
		goto out;
	r = sc_file_read_ex(s->store_path, SPD_STORE_MAX, SC_FILE_NOFOLLOW | SC_FILE_MISSING, &blob,
	    &blob_len);
	if (r == SC_ERR_NOT_FOUND || r == SC_ERR_OVERSIZE) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "%s: %s", s->store_path,
		    r == SC_ERR_NOT_FOUND ? "missing" : "too large");
		goto out;
	}
	if (r != SC_OK)
		goto out;
	/* Authenticate first: only an authentic header counter means anything. */
	if ((r = unseal(s->key, s->store_path, blob, blob_len, &sc, &pt, &pt_len)) != SC_OK)
		goto out;
	if (sc < c) {
		r = sc_fail(SC_ERR_ROLLBACK, "%s: counter %llu, but the device counter is %llu",
		    s->store_path, (unsigned long long)sc, (unsigned long long)c);
		goto out;
	}
	if (sc > c + 1 || (c == UINT64_MAX && sc != c)) {
		r = sc_fail(SC_ERR_STORE_DAMAGED,
		    "%s: counter %llu is ahead of the device counter %llu", s->store_path,
		    (unsigned long long)sc, (unsigned long long)c);
		goto out;
	}
	if ((r = spd_state_parse(pt, pt_len, st)) != SC_OK)
		goto out;
	if (sc == c + 1) {
		/* A crash between the store's rename and the counter's update: finish the commit. */
		if ((r = s->be->counter_increment(s->be, s->dir, c)) != SC_OK) {
			spd_state_clear(st);
			goto out;
		}
	}
	s->counter = sc;
	if (s->be->counter_keep != NULL &&
	    (r = s->be->counter_keep(s->be, s->dir, s->dir_fd, &s->counter_fd)) != SC_OK)
		goto out;
	remove_stale_temps(s->dir);
	*out = s;
	s = NULL;
	r = SC_OK;
out:
	if (pt != NULL)
		OPENSSL_clear_free(pt, pt_len + 1);
	OPENSSL_free(blob);
	spd_store_close(s);
	return r;
}

sc_err spd_store_create(const char *dir, const char *device_id)
{
	return spd_store_create_with(dir, device_id, &spd_backend_soft);
}

sc_err spd_store_create_with(const char *dir, const char *device_id, const struct spd_backend *be)
{
	sc_err r = SC_ERR_INTERNAL;
	struct spd_store *s = NULL;
	struct spd_state *st = NULL;
	uint8_t secret[SPD_SECRET_LEN];
	struct stat sb;
	int renamed;

	if (device_id == NULL || !sc_device_id_valid(device_id))
		return sc_fail(SC_ERR_USAGE, "device ID must be 1..%d PrintableString characters",
		    SC_DEVICE_ID_MAX);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno));
	OPENSSL_cleanse(secret, sizeof(secret));
	if ((r = store_new(dir, &s)) != SC_OK)
		return r;
	s->be = be;
	spd_backend_active = be;
	/* Never overwrite a device: any of the three files means the folder is taken. */
	if (lstat(s->store_path, &sb) == 0 || lstat(s->counter_path, &sb) == 0 ||
	    spd_backend_of(dir) != &spd_backend_soft) {
		r = sc_fail(SC_ERR_EXISTS, "%s: already holds a store", dir);
		goto out;
	}
	if ((r = s->be->secret_create(s->be, s->dir, secret)) != SC_OK)
		goto out;
	if ((r = derive_key(secret, s->key)) != SC_OK)
		goto out;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "state");
		goto out;
	}
	spd_state_init(st, device_id);
	/* The store first, then the counter: a crash in between leaves "counter missing". */
	if ((r = write_store(s, st, 0, &renamed)) != SC_OK)
		goto out;
	if ((r = s->be->counter_create(s->be, s->dir)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (st != NULL) {
		spd_state_clear(st);
		free(st);
	}
	spd_store_close(s);
	return r;
}
