// SPDX-License-Identifier: Apache-2.0
/*
 * backend_soft.c — the software key backend (backend.h), selfcert's behaviour before the seam:
 * keys are OpenSSL EVP_PKEYs with their PKCS#8 (keyder.c) in the secure heap, the store's
 * sealing secret is DIR/root.key and the monotonic counter DIR/counter (store.h's file formats).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <selfcert/profile.h>
#include "fast/fast.h"
#include "fast/spki.h"
#include "backend.h"
#include "spd.h"
#include "store.h"
#include "file.h"

#define COUNTER_LEN 8

struct spd_key {
	enum sc_alg alg;
	EVP_PKEY *pkey; /* private: handed out only as key_public (public use) */
	uint8_t *der;   /* its PKCS#8, secure heap, sealed from these bytes */
	size_t der_len;
	/* A CSK's leaf constants (fast/spki.h), made at its first ISSUE; NULL for other keys. */
	struct sc_leaf_issuer *li;
	/* The uncompressed point written into der (EC keys made here), for the SPKI; len 0: none. */
	uint8_t point[SC_SP_MAX_EC_POINT];
	size_t point_len;
};

/* ---- keys ---- */

static void soft_key_free(struct spd_key *k)
{
	if (k == NULL)
		return;
	sc_leaf_issuer_free(k->li);
	EVP_PKEY_free(k->pkey);
	spd_key_der_free(k->der, k->der_len);
	OPENSSL_clear_free(k, sizeof(*k));
}

/*
 * Wrap pkey (taken, whatever happens) with its PKCS#8, encoded once now: the store seals it.
 * alg: the key's, when the caller made it (SC_ALG_NONE: read from the key).
 */
static sc_err soft_key_wrap(EVP_PKEY *pkey, enum sc_alg alg, struct spd_key **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct spd_key *k = NULL;

	if ((k = OPENSSL_zalloc(sizeof(*k))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "key");
		goto out;
	}
	k->pkey = pkey;
	pkey = NULL;
	k->alg = alg != SC_ALG_NONE ? alg : sc_alg_of_key(k->pkey);
	if ((r = spd_leaf_key_der_point(k->pkey, &k->der, &k->der_len, k->point, sizeof(k->point),
	         &k->point_len)) != SC_OK)
		goto out;
	*out = k;
	k = NULL;
	r = SC_OK;
out:
	soft_key_free(k);
	EVP_PKEY_free(pkey);
	return r;
}

/*
 * Issue 17: one generation context per curve, kept for the daemon's life. EVP_PKEY_Q_keygen
 * (sc_alg_keygen) builds the curve's EC_GROUP from its parameters for every key, half of a
 * P-256 key's cost here (perf: EC_GROUP_new_from_params 51 % of EVP_PKEY_generate); a kept
 * context builds the group at its first key and copies it into each later one. This is
 * OpenSSL's own reuse of a generation context: every EVP_PKEY_generate draws a new private
 * scalar from the DRBG, the group and every encoding are the same. The daemon serves one
 * request at a time, so the contexts need no lock. RSA and Ed25519 (no group to build), and
 * everything with the shortcuts off (fast.h), take sc_alg_keygen.
 */
static EVP_PKEY_CTX *gen_ctx[2]; /* P-256, P-384 */

static sc_err soft_keygen(enum sc_alg alg, EVP_PKEY **out)
{
	EVP_PKEY_CTX **c, *n;
	const char *group;

	*out = NULL;
	switch (alg) {
	case SC_ALG_P256:
		c = &gen_ctx[0];
		group = "P-256";
		break;
	case SC_ALG_P384:
		c = &gen_ctx[1];
		group = "P-384";
		break;
	default: return sc_alg_keygen(alg, out);
	}
	if (!sc_fast_enabled())
		return sc_alg_keygen(alg, out);
	if (*c == NULL) {
		if ((n = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
		    EVP_PKEY_keygen_init(n) != 1 || EVP_PKEY_CTX_set_group_name(n, group) != 1) {
			EVP_PKEY_CTX_free(n);
			return sc_fail_ossl(SC_ERR_INTERNAL, "key generation context");
		}
		*c = n;
	}
	if (EVP_PKEY_generate(*c, out) != 1) {
		*out = NULL;
		return sc_fail_ossl(SC_ERR_INTERNAL, "key generation failed");
	}
	return SC_OK;
}

static sc_err soft_key_create(const struct spd_backend *be, enum sc_alg alg, unsigned ku,
    struct spd_key **out)
{
	EVP_PKEY *pkey = NULL;
	sc_err r;

	(void)be;
	(void)ku; /* the certificate's keyUsage, checked by the handlers, is soft's only limit */
	*out = NULL;
	if ((r = soft_keygen(alg, &pkey)) != SC_OK)
		return r;
	return soft_key_wrap(pkey, alg, out);
}

static sc_err soft_key_load(const struct spd_backend *be, enum sc_alg alg, const uint8_t *blob,
    size_t len, const char *what, struct spd_key **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct spd_key *k = NULL;

	(void)be;
	*out = NULL;
	if ((k = OPENSSL_zalloc(sizeof(*k))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "key");
		goto out;
	}
	k->alg = alg;
	if ((r = spd_key_from_der(blob, len, alg, &k->pkey, what)) != SC_OK)
		goto out;
	/* Keep the bytes just authenticated: the next commit seals them as they are. */
	if ((r = spd_key_der_copy(blob, len, &k->der)) != SC_OK)
		goto out;
	k->der_len = len;
	*out = k;
	k = NULL;
	r = SC_OK;
out:
	soft_key_free(k);
	return r;
}

static void soft_key_blob(const struct spd_key *k, const uint8_t **blob, size_t *len)
{
	*blob = k->der;
	*len = k->der_len;
}

static enum sc_alg soft_key_alg(const struct spd_key *k)
{
	return k->alg;
}

static EVP_PKEY *soft_key_pkey(const struct spd_key *k)
{
	return k->pkey;
}

/* ---- private operations ---- */

static sc_err soft_issue_leaf(const struct spd_key *csk, const struct sc_profile *p,
    EVP_PKEY *leaf_pub, X509 *csk_cert, uint64_t serial, X509 **cert, uint8_t **der,
    size_t *der_len, unsigned *ku)
{
	/* The cache is the key's, filled on first use: the key itself does not change. */
	struct spd_key *k = (struct spd_key *)csk;
	sc_err r;

	*cert = NULL;
	if (!sc_leaf_issuer_is_for(k->li, csk_cert, k->pkey)) {
		sc_leaf_issuer_free(k->li);
		k->li = NULL;
		if ((r = sc_leaf_issuer_new(csk_cert, k->pkey, &k->li)) != SC_OK)
			return r;
	}
	/*
	 * The SP keeps the leaf key and uses its certificate only as DER (KEYS, the store) and for
	 * its key usage, so no X509 of the leaf is built: the DER is assembled around the CSK's
	 * cached issuer name and AKI, and its SPKI skips OpenSSL 3.0's encoder (fast/spki.h).
	 */
	return sc_fast_issue_leaf_der(p, leaf_pub, k->li, serial, der, der_len, ku);
}

/* soft_issue_leaf with the leaf's point from its PKCS#8 handed to the SPKI (fast/spki.h). */
static sc_err soft_issue_leaf_key(const struct spd_key *csk, const struct sc_profile *p,
    const struct spd_key *leaf, X509 *csk_cert, uint64_t serial, X509 **cert, uint8_t **der,
    size_t *der_len, unsigned *ku)
{
	sc_err r;

	if (leaf->point_len > 0)
		sc_fast_spki_known_set(leaf->pkey, leaf->point, leaf->point_len);
	r = soft_issue_leaf(csk, p, leaf->pkey, csk_cert, serial, cert, der, der_len, ku);
	sc_fast_spki_known_clear();
	return r;
}

static sc_err soft_unwrap_supplied(const struct spd_backend *be, const struct spd_key *kek,
    const struct sc_profile *p, X509 *kek_cert, struct spd_key **out)
{
	EVP_PKEY *supplied = NULL;
	sc_err r;

	(void)be;
	*out = NULL;
	if ((r = sc_profile_unwrap_key(p, kek->pkey, kek_cert, &supplied)) != SC_OK)
		return r;
	return soft_key_wrap(supplied, SC_ALG_NONE, out);
}

static sc_err soft_csr(const struct spd_key *k, uint8_t **der, size_t *der_len)
{
	sc_err r = SC_ERR_INTERNAL;
	X509_REQ *csr = NULL;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	*der_len = 0;
	if ((csr = X509_REQ_new()) == NULL || (mctx = EVP_MD_CTX_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "certificate request");
		goto out;
	}
	if (X509_REQ_set_version(csr, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(csr, k->pkey) != 1 ||
	    EVP_DigestSignInit(mctx, NULL, sc_sign_md(k->pkey, SC_DIGEST_NONE), NULL, k->pkey) !=
	        1 ||
	    X509_REQ_sign_ctx(csr, mctx) <= 0 || (n = i2d_X509_REQ(csr, &p)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "signing the certificate request");
		goto out;
	}
	*der = p;
	*der_len = (size_t)n;
	r = SC_OK;
out:
	EVP_MD_CTX_free(mctx);
	X509_REQ_free(csr);
	return r;
}

static sc_err sign_message(EVP_PKEY *key, const EVP_MD *md, const uint8_t *in, size_t in_len,
    uint8_t **sig, size_t *sig_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_MD_CTX *mctx = NULL;

	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(mctx, NULL, sig_len, in, in_len) != 1 ||
	    (*sig = OPENSSL_malloc(*sig_len)) == NULL ||
	    EVP_DigestSign(mctx, *sig, sig_len, in, in_len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "sign: signing failed");
		goto out;
	}
	r = SC_OK;
out:
	EVP_MD_CTX_free(mctx);
	return r;
}

/* DIGEST (PKCS#1 v1.5 or ECDSA) or PSS over a digest the caller computed. */
static sc_err sign_hash(EVP_PKEY *key, enum sc_alg alg, int pss, const EVP_MD *md,
    uint32_t salt_len, const uint8_t *in, size_t in_len, uint8_t **sig, size_t *sig_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY_CTX *pctx = NULL;
	int padding = pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;

	if ((pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    (sc_alg_is_rsa(alg) && EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1) ||
	    EVP_PKEY_CTX_set_signature_md(pctx, md) != 1 ||
	    (pss &&
	        (EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)salt_len) != 1)) ||
	    EVP_PKEY_sign(pctx, NULL, sig_len, in, in_len) != 1 ||
	    (*sig = OPENSSL_malloc(*sig_len)) == NULL ||
	    EVP_PKEY_sign(pctx, *sig, sig_len, in, in_len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL,
		    pss ? "sign: PSS signing failed" : "sign: signing failed");
		goto out;
	}
	r = SC_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	return r;
}

static sc_err soft_sign(const struct spd_key *k, enum spd_sign_mode mode, const EVP_MD *md,
    uint32_t salt_len, const uint8_t *in, size_t in_len, uint8_t **sig, size_t *sig_len)
{
	*sig = NULL;
	*sig_len = 0;
	if (mode == SPD_SIGN_MESSAGE)
		return sign_message(k->pkey, md, in, in_len, sig, sig_len);
	return sign_hash(k->pkey, k->alg, mode == SPD_SIGN_PSS, md, salt_len, in, in_len, sig,
	    sig_len);
}

static sc_err soft_decrypt_oaep(const struct spd_key *k, const EVP_MD *md, const EVP_MD *mgf1,
    const uint8_t *label, size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t *out_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t *label_copy = NULL;

	/* The label is handed over to OpenSSL, which frees it with the context. */
	if (label_len > 0 && (label_copy = OPENSSL_memdup(label, label_len)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "decrypt: label");
	if ((pctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL || EVP_PKEY_decrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) != 1 ||
	    (label_copy != NULL &&
	        EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label_copy, (int)label_len) != 1)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "decrypt: setting up RSA-OAEP");
		goto out;
	}
	label_copy = NULL;
	/* One answer for every way a block can fail to decrypt: no padding oracle here. */
	if (EVP_PKEY_decrypt(pctx, out, out_len, in, in_len) != 1) {
		ERR_clear_error();
		*out_len = 0;
		r = sc_fail(SC_ERR_KEY_DECRYPT, "decrypt: the ciphertext does not decrypt");
		goto out;
	}
	r = SC_OK;
out:
	OPENSSL_free(label_copy);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

static sc_err soft_derive(const struct spd_key *k, EVP_PKEY *peer, uint8_t **secret, size_t *len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY_CTX *dctx = NULL;
	size_t cap = 0;

	*secret = NULL;
	*len = 0;
	if ((dctx = EVP_PKEY_CTX_new(k->pkey, NULL)) == NULL || EVP_PKEY_derive_init(dctx) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "derive: setting up ECDH");
		goto out;
	}
	if (EVP_PKEY_derive_set_peer_ex(dctx, peer, 1) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "derive: the peer point is not a valid %s public key",
		    k->alg == SC_ALG_P256 ? "P-256" : "P-384");
		goto out;
	}
	if (EVP_PKEY_derive(dctx, NULL, &cap) != 1 || (*secret = OPENSSL_malloc(cap)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "derive: ECDH failed");
		goto out;
	}
	*len = cap;
	if (EVP_PKEY_derive(dctx, *secret, len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "derive: ECDH failed");
		goto out;
	}
	r = SC_OK;
out:
	if (r != SC_OK) {
		OPENSSL_clear_free(*secret, cap);
		*secret = NULL;
		*len = 0;
	}
	EVP_PKEY_CTX_free(dctx);
	return r;
}

/* ---- the sealing secret and the counter: files in the store folder ---- */

static sc_err soft_secret_create(const struct spd_backend *be, const char *dir,
    uint8_t secret[SPD_SECRET_LEN])
{
	char path[PATH_MAX];
	sc_err r;

	(void)be;
	if ((r = sc_file_join(path, sizeof(path), dir, "root.key")) != SC_OK)
		return r;
	if (RAND_priv_bytes(secret, SPD_SECRET_LEN) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_priv_bytes");
	if ((r = sc_file_write_new(path, secret, SPD_SECRET_LEN, 0400)) != SC_OK)
		OPENSSL_cleanse(secret, SPD_SECRET_LEN);
	return r;
}

static sc_err soft_secret_unseal(const struct spd_backend *be, const char *dir,
    uint8_t secret[SPD_SECRET_LEN])
{
	char path[PATH_MAX];
	uint8_t *root = NULL;
	size_t len = 0;
	sc_err r;

	(void)be;
	if ((r = sc_file_join(path, sizeof(path), dir, "root.key")) != SC_OK)
		return r;
	r = sc_file_read_ex(path, 64, SC_FILE_NOFOLLOW | SC_FILE_MISSING, &root, &len);
	if (r == SC_ERR_NOT_FOUND)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: the root key is missing", path);
	if (r == SC_ERR_OVERSIZE || (r == SC_OK && len != SPD_SECRET_LEN))
		r = sc_fail(SC_ERR_STORE_DAMAGED, "%s: not a %d-byte root key", path,
		    SPD_SECRET_LEN);
	if (r == SC_OK)
		memcpy(secret, root, SPD_SECRET_LEN);
	if (root != NULL)
		OPENSSL_clear_free(root, len + 1);
	return r;
}

/*
 * DIR/counter, two forms (store.h). The old one: 8 bytes, big-endian u64, replaced whole on
 * every increment. The current one: two 16-byte slots, slot 0 at offset 0 and slot 1 at
 * COUNTER_SLOT_STRIDE (each in a 4 KiB block of its own, so a torn write of one cannot touch
 * the other), zeros between; a slot is value (u64 BE) | the first 8 bytes of SHA-256(
 * COUNTER_SLOT_DOMAIN | value), and value v lives in slot v % 2. The counter is the larger
 * valid slot; two valid slots differ by exactly 1. An increment from c writes c + 1 over slot
 * (c + 1) % 2, which held c - 1, in place, and fsyncs: the slot holding c is never touched, so
 * a write that a power cut tears leaves c readable (the store then reads c + 1 and open rolls
 * the counter forward: the same window as a replace interrupted before its rename).
 */
#define COUNTER_SLOT_LEN 16
#define COUNTER_SLOT_STRIDE 4096
#define COUNTER_FILE_LEN (COUNTER_SLOT_STRIDE + COUNTER_SLOT_LEN)
#define COUNTER_SLOT_DOMAIN "selfcert-spd counter slot"

static sc_err counter_slot(uint64_t v, uint8_t slot[COUNTER_SLOT_LEN])
{
	uint8_t in[sizeof(COUNTER_SLOT_DOMAIN) - 1 + 8], md[EVP_MAX_MD_SIZE];

	memcpy(in, COUNTER_SLOT_DOMAIN, sizeof(COUNTER_SLOT_DOMAIN) - 1);
	spd_be64_put(in + sizeof(COUNTER_SLOT_DOMAIN) - 1, v);
	if (!EVP_Digest(in, sizeof(in), md, NULL, EVP_sha256(), NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256");
	spd_be64_put(slot, v);
	memcpy(slot + 8, md, 8);
	return SC_OK;
}

/* Slot i of a two-slot counter file: 1 and *v if it is valid. */
static int counter_slot_valid(const uint8_t *file, unsigned i, uint64_t *v)
{
	const uint8_t *p = file + (size_t)i * COUNTER_SLOT_STRIDE;
	uint8_t want[COUNTER_SLOT_LEN];

	*v = spd_be64_get(p);
	if ((*v & 1) != i || counter_slot(*v, want) != SC_OK)
		return 0;
	return CRYPTO_memcmp(want, p, COUNTER_SLOT_LEN) == 0;
}

/* The value of a counter file's bytes, either form; SC_ERR_STORE_DAMAGED names path. */
static sc_err counter_parse(const char *path, const uint8_t *data, size_t len, uint64_t *v)
{
	uint64_t a = 0, b = 0;
	int va, vb;

	*v = 0;
	if (len == COUNTER_LEN) {
		*v = spd_be64_get(data);
		return SC_OK;
	}
	if (len != COUNTER_FILE_LEN)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: %zu bytes, expected %d or %d", path, len,
		    COUNTER_LEN, COUNTER_FILE_LEN);
	va = counter_slot_valid(data, 0, &a);
	vb = counter_slot_valid(data, 1, &b);
	if (!va && !vb)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: neither counter slot is valid", path);
	if (va && vb && (a > b ? a - b : b - a) != 1)
		return sc_fail(SC_ERR_STORE_DAMAGED,
		    "%s: the counter slots hold %llu and %llu, not neighbours", path,
		    (unsigned long long)a, (unsigned long long)b);
	*v = !vb || (va && a > b) ? a : b;
	return SC_OK;
}

/*
 * Durably replace DIR/counter with value v in the two-slot form (v - 1 in the other slot when
 * v > 0), behind the counter-* fail points (store.h); through dir_fd (the store's open folder)
 * when it is not -1.
 */
static sc_err write_counter(const char *dir, int dir_fd, uint64_t v)
{
	enum spd_store_file f = SPD_STORE_FILE_COUNTER;
	struct sc_file_replace o = { .mode = 0600,
		.step = spd_store_step,
		.ctx = &f,
		.use_dir_fd = dir_fd >= 0,
		.dir_fd = dir_fd };
	char path[PATH_MAX];
	uint8_t c[COUNTER_FILE_LEN];
	sc_err r;

	if ((r = sc_file_join(path, sizeof(path), dir, "counter")) != SC_OK)
		return r;
	memset(c, 0, sizeof(c));
	if ((r = counter_slot(v, c + (v & 1) * COUNTER_SLOT_STRIDE)) != SC_OK ||
	    (v > 0 && (r = counter_slot(v - 1, c + ((v - 1) & 1) * COUNTER_SLOT_STRIDE)) != SC_OK))
		return r;
	return sc_file_replace(path, c, sizeof(c), &o);
}

static sc_err soft_counter_create(const struct spd_backend *be, const char *dir)
{
	(void)be;
	return write_counter(dir, -1, 0);
}

/* No read first: the store knows the value it committed last (store.h's counter protocol). */
static sc_err soft_counter_increment(const struct spd_backend *be, const char *dir, uint64_t from)
{
	(void)be;
	if (from == UINT64_MAX)
		return sc_fail(SC_ERR_STORE_FULL, "the monotonic counter is exhausted");
	return write_counter(dir, -1, from + 1);
}

/* Keep DIR/counter open if it has the two-slot form (its size; its slots were read at open). */
static sc_err soft_counter_keep(const struct spd_backend *be, const char *dir, int dir_fd, int *fd)
{
	struct stat sb;
	int k;

	(void)be;
	(void)dir;
	*fd = -1;
	if ((k = openat(dir_fd, "counter", O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return SC_OK; /* not kept: the next increment replaces it */
	if (fstat(k, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size != COUNTER_FILE_LEN) {
		close(k);
		return SC_OK;
	}
	*fd = k;
	return SC_OK;
}

/*
 * From `from` to from + 1: the slot (from + 1) % 2 written in place and fsynced, each step behind
 * its fail point (counter-write, counter-fsync). Not kept (*fd -1): replaced, then kept.
 */
static sc_err soft_counter_increment_kept(const struct spd_backend *be, const char *dir, int dir_fd,
    int *fd, uint64_t from)
{
	enum spd_store_file f = SPD_STORE_FILE_COUNTER;
	uint8_t slot[COUNTER_SLOT_LEN];
	uint64_t v;
	ssize_t n;
	sc_err r;

	if (from == UINT64_MAX)
		return sc_fail(SC_ERR_STORE_FULL, "the monotonic counter is exhausted");
	v = from + 1;
	/*
	 * The kept file must still be DIR/counter in the two-slot form: a file put in its place
	 * meanwhile (a restore, an operator's edit, a copy renamed over it) or truncated would take
	 * the write into a file nobody reads, or into a wrong form, and the next open would find the
	 * counter behind its store. Then it is replaced as a whole, as before keeping, and kept anew.
	 */
	if (*fd >= 0) {
		struct stat kept, named;
		char path[PATH_MAX];
		int at = dir_fd;

		if (at < 0 && sc_file_join(path, sizeof(path), dir, "counter") != SC_OK)
			at = -2; /* cannot name it: not kept */
		if (at == -2 || fstat(*fd, &kept) != 0 ||
		    fstatat(at >= 0 ? at : AT_FDCWD, at >= 0 ? "counter" : path, &named,
		        AT_SYMLINK_NOFOLLOW) != 0 ||
		    kept.st_ino != named.st_ino || kept.st_dev != named.st_dev ||
		    kept.st_nlink == 0 || kept.st_size != COUNTER_FILE_LEN) {
			close(*fd);
			*fd = -1;
		}
	}
	if (*fd < 0) {
		if ((r = write_counter(dir, dir_fd, v)) != SC_OK)
			return r;
		return soft_counter_keep(be, dir, dir_fd, fd);
	}
	if ((r = counter_slot(v, slot)) != SC_OK)
		return r;
	if ((r = spd_store_step(&f, SC_FILE_STEP_WRITE)) != SC_OK)
		return r;
	/* lseek and write, not pwrite: the calls the sandbox already allows (sandbox.c). */
	if (lseek(*fd, (off_t)((v & 1) * COUNTER_SLOT_STRIDE), SEEK_SET) < 0)
		return sc_fail(SC_ERR_IO, "%s/counter: seek: %s", dir, strerror(errno));
	n = write(*fd, slot, sizeof(slot));
	if (n != (ssize_t)sizeof(slot))
		return sc_fail(SC_ERR_IO, "%s/counter: write: %s", dir,
		    n < 0 ? strerror(errno) : "short write");
	if ((r = spd_store_step(&f, SC_FILE_STEP_FSYNC)) != SC_OK)
		return r;
	if (fsync(*fd) != 0)
		return sc_fail(SC_ERR_IO, "%s/counter: fsync: %s", dir, strerror(errno));
	return SC_OK;
}

static sc_err soft_counter_read(const struct spd_backend *be, const char *dir, uint64_t *v)
{
	char path[PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0;
	sc_err r;

	(void)be;
	*v = 0;
	if ((r = sc_file_join(path, sizeof(path), dir, "counter")) != SC_OK)
		return r;
	r = sc_file_read_ex(path, COUNTER_FILE_LEN, SC_FILE_NOFOLLOW | SC_FILE_MISSING, &data,
	    &len);
	if (r == SC_ERR_NOT_FOUND)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: the monotonic counter is missing", path);
	if (r != SC_OK)
		return r == SC_ERR_OVERSIZE
		    ? sc_fail(SC_ERR_STORE_DAMAGED, "%s: not a counter", path)
		    : r;
	r = counter_parse(path, data, len, v);
	OPENSSL_free(data);
	return r;
}

const struct spd_backend spd_backend_soft = {
	.name = "soft",
	.key_create = soft_key_create,
	.key_load = soft_key_load,
	.key_blob = soft_key_blob,
	.key_alg = soft_key_alg,
	.key_public = soft_key_pkey,
	.key_free = soft_key_free,
	.issue_leaf = soft_issue_leaf,
	.issue_leaf_key = soft_issue_leaf_key,
	.unwrap_supplied = soft_unwrap_supplied,
	.csr = soft_csr,
	.sign = soft_sign,
	.decrypt_oaep = soft_decrypt_oaep,
	.derive = soft_derive,
	.secret_create = soft_secret_create,
	.secret_unseal = soft_secret_unseal,
	.counter_create = soft_counter_create,
	.counter_read = soft_counter_read,
	.counter_increment = soft_counter_increment,
	.counter_keep = soft_counter_keep,
	.counter_increment_kept = soft_counter_increment_kept,
};
