// SPDX-License-Identifier: Apache-2.0
/*
 * sig_cache.c — the signature cache of selfcert/cache.h: a copy of OpenSSL 3.0's internal_verify
 * that asks a bounded memory of verified signatures before each X509_verify. The plain path is
 * X509_verify_cert's own, taken when no cache is attached or sc_fast_enabled() is 0.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <selfcert/cache.h>

#include "fast/fast.h"
#include "fast/x509.h"

#define SIG_WAYS 4
#define SIG_KEY_LEN 32

struct sig_slot {
	uint8_t key[SIG_KEY_LEN];
	uint8_t used;
};

struct sc_sig_cache {
	CRYPTO_RWLOCK *lock;
	EVP_MD *sha256;         /* fetched once */
	struct sig_slot *slots; /* n_sets * SIG_WAYS */
	uint8_t *victim;        /* per set: the way replaced next */
	size_t n_sets;          /* a power of two */
	uint64_t hits, misses;
};

static CRYPTO_ONCE ex_once = CRYPTO_ONCE_STATIC_INIT;
static int ex_index = -1;

static void ex_index_init(void)
{
	ex_index = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * judge11: an X509's SHA-256 of its DER, noted by the one that parsed it from those bytes
 * (sc_sig_cache_note_der), so that sig_key need not encode it again (i2d_X509: ~60 k
 * instructions a certificate, most of a cached signature check). Freed with the X509; not
 * copied by X509_dup (a copy has none and is encoded).
 */
static CRYPTO_ONCE der_once = CRYPTO_ONCE_STATIC_INIT;
static int der_index = -1;

static void der_hash_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	OPENSSL_free(ptr);
}

static void der_index_init(void)
{
	der_index = X509_get_ex_new_index(0, NULL, NULL, NULL, der_hash_free);
}

static const uint8_t *der_hash_of(X509 *x)
{
	if (!CRYPTO_THREAD_run_once(&der_once, der_index_init) || der_index < 0)
		return NULL;
	return X509_get_ex_data(x, der_index);
}

static int der_sha256(const uint8_t *der, size_t len, uint8_t h[32])
{
	/* SHA-256 fetched once (an implicit fetch per call costs more than hashing a certificate). */
	return EVP_Digest(der, len, h, NULL, sc_fast_sha256(), NULL);
}

void sc_sig_cache_note_der(X509 *x, const uint8_t *der, size_t len)
{
	uint8_t *h;

	if (x == NULL || der == NULL || !sc_fast_enabled() || der_hash_of(x) != NULL ||
	    der_index < 0 || (h = OPENSSL_malloc(32)) == NULL)
		return;
	if (!der_sha256(der, len, h) || !X509_set_ex_data(x, der_index, h))
		OPENSSL_free(h);
	ERR_clear_error();
}

sc_err sc_sig_cache_new(size_t max, struct sc_sig_cache **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sig_cache *c = NULL;

	*out = NULL;
	if (max < SIG_WAYS || max > SC_SIG_CACHE_MAX) {
		r = sc_fail(SC_ERR_USAGE, "signature cache: %zu entries, expected %d..%u", max,
		    SIG_WAYS, SC_SIG_CACHE_MAX);
		goto out;
	}
	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "signature cache");
		goto out;
	}
	c->n_sets = 1;
	while (c->n_sets * 2 * SIG_WAYS <= max)
		c->n_sets *= 2;
	if ((c->slots = OPENSSL_zalloc(c->n_sets * SIG_WAYS * sizeof(*c->slots))) == NULL ||
	    (c->victim = OPENSSL_zalloc(c->n_sets)) == NULL ||
	    (c->lock = CRYPTO_THREAD_lock_new()) == NULL ||
	    (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "signature cache");
		goto out;
	}
	*out = c;
	c = NULL;
	r = SC_OK;
out:
	sc_sig_cache_free(c);
	return r;
}

void sc_sig_cache_free(struct sc_sig_cache *c)
{
	if (c == NULL)
		return;
	CRYPTO_THREAD_lock_free(c->lock);
	EVP_MD_free(c->sha256);
	OPENSSL_free(c->slots);
	OPENSSL_free(c->victim);
	OPENSSL_free(c);
}

void sc_sig_cache_stats(struct sc_sig_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = *misses = 0;
	if (c == NULL || !CRYPTO_THREAD_read_lock(c->lock))
		return;
	*hits = c->hits;
	*misses = c->misses;
	CRYPTO_THREAD_unlock(c->lock);
}

/*
 * The key of (subject, issuer key): SHA-256 of [SHA-256 of the subject's whole DER, then the
 * issuer's SubjectPublicKeyInfo DER] (judge11: the subject's hash first, so that a hash noted at
 * parsing, sc_sig_cache_note_der, serves instead of encoding it again). 0 on failure. der
 * non-NULL: the subject's DER, if it was encoded here, is left there (*der, *der_len;
 * OPENSSL_free; *der NULL when the noted hash served).
 */
/* The cache's key from a subject's DER hash h: SHA-256(h, the issuer's SubjectPublicKeyInfo). */
static int key_of(const struct sc_sig_cache *c, const uint8_t h[32], X509 *xi, uint8_t *key)
{
	unsigned char *b = NULL;
	int lb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(xi), &b), ok = 0;
	EVP_MD_CTX *m = NULL;

	if (lb > 0 && (m = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(m, c->sha256, NULL) &&
	    EVP_DigestUpdate(m, h, 32) && EVP_DigestUpdate(m, b, (size_t)lb) &&
	    EVP_DigestFinal_ex(m, key, NULL))
		ok = 1;
	EVP_MD_CTX_free(m);
	OPENSSL_free(b);
	return ok;
}

/* key_of for a subject's DER as given (the bytes hashed here). */
static int key_of_der(const struct sc_sig_cache *c, const uint8_t *der, size_t len, X509 *xi,
    uint8_t *key)
{
	uint8_t h[32];

	return EVP_Digest(der, len, h, NULL, c->sha256, NULL) && key_of(c, h, xi, key);
}

static int sig_key(const struct sc_sig_cache *c, X509 *xs, X509 *xi, uint8_t *key, uint8_t **der,
    size_t *der_len)
{
	unsigned char *a = NULL, own[32];
	const uint8_t *h = der_hash_of(xs);
	int la = 0, ok;

	if (h == NULL && (la = i2d_X509(xs, &a)) > 0 &&
	    EVP_Digest(a, (size_t)la, own, NULL, c->sha256, NULL))
		h = own;
	ok = h != NULL && key_of(c, h, xi, key);
	if (ok && der != NULL && a != NULL) {
		*der = a;
		*der_len = (size_t)la;
		a = NULL;
	}
	OPENSSL_free(a);
	return ok;
}

static struct sig_slot *sig_set(const struct sc_sig_cache *c, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	return &c->slots[(h & (c->n_sets - 1)) * SIG_WAYS];
}

/* Remember key as a verified signature (the set's next victim makes room). */
static void sig_put(struct sc_sig_cache *c, const uint8_t *key)
{
	struct sig_slot *set;
	size_t s;

	if (!CRYPTO_THREAD_write_lock(c->lock))
		return;
	set = sig_set(c, key);
	s = (size_t)(set - c->slots) / SIG_WAYS;
	memcpy(set[c->victim[s]].key, key, SIG_KEY_LEN);
	set[c->victim[s]].used = 1;
	c->victim[s] = (uint8_t)((c->victim[s] + 1) % SIG_WAYS);
	CRYPTO_THREAD_unlock(c->lock);
}

/* One DER element at *pp: its tag, contents v/vlen, whole length; definite lengths only. */
static int der_elem(const uint8_t **pp, const uint8_t *end, uint8_t *tag, const uint8_t **v,
    size_t *vlen)
{
	const uint8_t *p = *pp;
	size_t len, n;

	if (end - p < 2)
		return 0;
	*tag = p[0];
	len = p[1];
	p += 2;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 3 || (size_t)(end - p) < n)
			return 0;
		for (len = 0; n > 0; n--)
			len = (len << 8) | *p++;
	}
	if ((size_t)(end - p) < len)
		return 0;
	*v = p;
	*vlen = len;
	*pp = p + len;
	return 1;
}

/*
 * #17 (first9): X509_verify(xs, pkey) without EVP_DigestVerifyInit's export of a legacy EC key
 * to the provider (~0.04 ms of a P-256 verification here), for what X509_verify would judge the
 * same way: der is xs's DER (i2d_X509, whose TBS part is the encoding X509_verify digests), its
 * two AlgorithmIdentifiers byte-equal (X509_verify refuses unequal ones) and both exactly
 * ecdsa-with-SHA256 with no parameters, the signature a BIT STRING with no unused bits. Then the
 * primitive OpenSSL's ECDSA provider runs (sc_fast_ecdsa_sha256_verify). *done 0: not such a
 * certificate or key, the caller asks X509_verify.
 */
static void sig_verify_ecdsa(const uint8_t *der, size_t len, EVP_PKEY *pkey, int *done, int *ok)
{
	static const uint8_t ecdsa_sha256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
		0x3d, 0x04, 0x03, 0x02 };
	const uint8_t *p = der, *end = der + len, *cert, *tbs_start, *tbs, *alg_start, *alg, *sig,
	              *inner;
	size_t cert_len, tbs_len, alg_len, sig_len, n;
	uint8_t tag;
	int i;

	*done = *ok = 0;
	if (!der_elem(&p, end, &tag, &cert, &cert_len) || tag != 0x30 || p != end)
		return;
	p = cert;
	end = cert + cert_len;
	tbs_start = p;
	if (!der_elem(&p, end, &tag, &tbs, &tbs_len) || tag != 0x30)
		return;
	n = (size_t)(p - tbs_start); /* the TBS element, header included */
	alg_start = p;
	if (!der_elem(&p, end, &tag, &alg, &alg_len) || tag != 0x30 ||
	    (size_t)(p - alg_start) != sizeof(ecdsa_sha256) ||
	    memcmp(alg_start, ecdsa_sha256, sizeof(ecdsa_sha256)) != 0 ||
	    !der_elem(&p, end, &tag, &sig, &sig_len) || tag != 0x03 || p != end || sig_len < 2 ||
	    sig[0] != 0)
		return;
	/* The TBS's signature field: after the [0] version, the serial. */
	inner = tbs;
	for (i = 0; i < 3; i++) {
		const uint8_t *start = inner, *v;
		size_t vlen;

		if (!der_elem(&inner, tbs + tbs_len, &tag, &v, &vlen))
			return;
		if (i == 0 && tag != 0xa0)
			return; /* a v1 certificate: X509_verify decides */
		if (i == 2 &&
		    ((size_t)(inner - start) != sizeof(ecdsa_sha256) ||
		        memcmp(start, ecdsa_sha256, sizeof(ecdsa_sha256)) != 0))
			return;
	}
	sc_fast_ecdsa_sha256_verify(pkey, tbs_start, n, sig + 1, sig_len - 1, done, ok);
}

/* X509_verify(xs, pkey) > 0, remembered: pkey is xi's key. */
static int sig_verify(struct sc_sig_cache *c, X509 *xs, X509 *xi, EVP_PKEY *pkey)
{
	uint8_t key[SIG_KEY_LEN], *der = NULL;
	size_t der_len = 0;
	struct sig_slot *set;
	int have_key = sig_key(c, xs, xi, key, &der, &der_len), found = 0, done = 0, ok = 0;

	if (have_key && CRYPTO_THREAD_write_lock(c->lock)) {
		set = sig_set(c, key);
		for (int w = 0; w < SIG_WAYS && !found; w++)
			found = set[w].used && memcmp(set[w].key, key, SIG_KEY_LEN) == 0;
		if (found)
			c->hits++;
		else
			c->misses++;
		CRYPTO_THREAD_unlock(c->lock);
	}
	if (!found && have_key) {
		const uint8_t *note = der_hash_of(xs);
		uint8_t h[32];
		int n;

		/*
		 * The noted hash served for the key: the DER for the check itself, now. What is
		 * verified below must be what the key names: a note that is not this encoding's
		 * hash (a caller's mistake), or no encoding to compare it with, gets no entry, so it
		 * can never make a later hit for bytes nobody verified (the encoding's failure too:
		 * session 12's review).
		 */
		if (der == NULL) {
			if ((n = i2d_X509(xs, &der)) <= 0)
				have_key = 0;
			else {
				der_len = (size_t)n;
				if (note == NULL || !der_sha256(der, der_len, h) ||
				    memcmp(h, note, 32) != 0)
					have_key = 0;
			}
		}
		if (der != NULL)
			sig_verify_ecdsa(der, der_len, pkey, &done, &ok);
	}
	OPENSSL_free(der);
	if (found)
		return 1;
	if (!done)
		ok = X509_verify(xs, pkey) > 0;
	if (!ok)
		return 0;
	if (have_key)
		sig_put(c, key);
	return 1;
}

void sc_sig_cache_vouch(struct sc_sig_cache *c, const uint8_t *subject_der, size_t len,
    X509 *issuer)
{
	uint8_t key[SIG_KEY_LEN];

	if (c == NULL || !sc_fast_enabled() || subject_der == NULL || issuer == NULL)
		return;
	/* sig_key's key: the subject's DER's hash, then the issuer's SubjectPublicKeyInfo. */
	if (key_of_der(c, subject_der, len, issuer, key))
		sig_put(c, key);
	ERR_clear_error();
}

int sc_sig_cache_has(struct sc_sig_cache *c, const uint8_t *subject_der, size_t len, X509 *issuer)
{
	uint8_t key[SIG_KEY_LEN];
	struct sig_slot *set;
	int found = 0, have;

	if (c == NULL || !sc_fast_enabled() || subject_der == NULL || issuer == NULL)
		return 0;
	/* sig_key's key, as sc_sig_cache_vouch makes it from the subject's DER. */
	have = key_of_der(c, subject_der, len, issuer, key);
	ERR_clear_error();
	if (have && CRYPTO_THREAD_read_lock(c->lock)) {
		set = sig_set(c, key);
		for (int w = 0; w < SIG_WAYS && !found; w++)
			found = set[w].used && memcmp(set[w].key, key, SIG_KEY_LEN) == 0;
		CRYPTO_THREAD_unlock(c->lock);
	}
	return found;
}

/* Tell the verify callback of an error at depth (OpenSSL's verify_cb_cert). 0: stop. */
static int fail_at(X509_STORE_CTX *ctx, X509 *x, int depth, int err)
{
	X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);

	X509_STORE_CTX_set_error_depth(ctx, depth);
	X509_STORE_CTX_set_current_cert(ctx, x);
	X509_STORE_CTX_set_error(ctx, err);
	return cb != NULL ? cb(0, ctx) : 0;
}

/* OpenSSL's ossl_x509_check_cert_time for depth >= 0. */
static int check_time(X509_STORE_CTX *ctx, X509 *x, int depth)
{
	const X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(param);
	time_t t, *pt = NULL;
	int i;

	if (flags & X509_V_FLAG_USE_CHECK_TIME) {
		t = X509_VERIFY_PARAM_get_time(param);
		pt = &t;
	} else if (flags & X509_V_FLAG_NO_CHECK_TIME) {
		return 1;
	}
	i = X509_cmp_time(X509_get0_notBefore(x), pt);
	if (i == 0 && !fail_at(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD))
		return 0;
	if (i > 0 && !fail_at(ctx, x, depth, X509_V_ERR_CERT_NOT_YET_VALID))
		return 0;
	i = X509_cmp_time(X509_get0_notAfter(x), pt);
	if (i == 0 && !fail_at(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD))
		return 0;
	if (i < 0 && !fail_at(ctx, x, depth, X509_V_ERR_CERT_HAS_EXPIRED))
		return 0;
	return 1;
}

/* OpenSSL's ossl_x509_signing_allowed: may issuer's key usage sign x? */
static int signing_allowed(X509 *issuer, X509 *x)
{
	int has_ku = (X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0;
	uint32_t ku = X509_get_key_usage(issuer);

	if (X509_get_extension_flags(x) & EXFLAG_PROXY)
		return has_ku && !(ku & KU_DIGITAL_SIGNATURE)
		    ? X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE
		    : X509_V_OK;
	return has_ku && !(ku & KU_KEY_CERT_SIGN) ? X509_V_ERR_KEYUSAGE_NO_CERTSIGN : X509_V_OK;
}

/*
 * OpenSSL 3.0's internal_verify (crypto/x509/x509_vfy.c), step for step — signatures from the
 * top of the built chain down, each certificate's validity, the callback told of each depth —
 * with X509_verify asked of the cache first. (One thing it cannot do through the public API:
 * set ctx's current issuer; nothing of ours reads it.)
 */
static int cached_internal_verify(X509_STORE_CTX *ctx)
{
	struct sc_sig_cache *c = X509_STORE_CTX_get_ex_data(ctx, ex_index);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(ctx));
	X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);
	int n = sk_X509_num(chain) - 1;
	X509 *xi, *xs;

	if (c == NULL || cb == NULL || n < 0)
		return 0;
	xi = xs = sk_X509_value(chain, n);
	X509_STORE_CTX_set_error_depth(ctx, n);
	/* The top is normally self-issued (ossl_x509_likely_issued(xi, xi) is the EXFLAG_SS test). */
	if (!(X509_get_extension_flags(xi) & EXFLAG_SS) && !(flags & X509_V_FLAG_PARTIAL_CHAIN)) {
		if (n > 0) {
			n--;
			X509_STORE_CTX_set_error_depth(ctx, n);
			xs = sk_X509_value(chain, n);
		} else if (!fail_at(ctx, xi, 0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)) {
			return 0;
		}
	}
	while (n >= 0) {
		uint32_t xif = X509_get_extension_flags(xi);

		if (xs != xi || ((flags & X509_V_FLAG_CHECK_SS_SIGNATURE) && (xif & EXFLAG_SS))) {
			int issuer_depth = n + (xs == xi ? 0 : 1);
			int ret = xs == xi && !(xif & EXFLAG_CA) ? X509_V_OK
			                                         : signing_allowed(xi, xs);
			EVP_PKEY *pkey;

			if (ret != X509_V_OK && !fail_at(ctx, xi, issuer_depth, ret))
				return 0;
			if ((pkey = X509_get0_pubkey(xi)) == NULL) {
				if (!fail_at(ctx, xi, issuer_depth,
				        X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY))
					return 0;
			} else if (!sig_verify(c, xs, xi, pkey) &&
			    !fail_at(ctx, xs, n, X509_V_ERR_CERT_SIGNATURE_FAILURE)) {
				return 0;
			}
		}
		if (!check_time(ctx, xs, n))
			return 0;
		X509_STORE_CTX_set_current_cert(ctx, xs);
		X509_STORE_CTX_set_error_depth(ctx, n);
		if (!cb(1, ctx))
			return 0;
		if (--n >= 0) {
			xi = xs;
			xs = sk_X509_value(chain, n);
		}
	}
	return 1;
}

sc_err sc_sig_cache_attach(X509_STORE_CTX *ctx, struct sc_sig_cache *c)
{
	/* No cache, or the shortcuts are off: X509_verify_cert keeps OpenSSL's own internal_verify. */
	if (c == NULL || !sc_fast_enabled())
		return SC_OK;
	if (!CRYPTO_THREAD_run_once(&ex_once, ex_index_init) || ex_index < 0 ||
	    !X509_STORE_CTX_set_ex_data(ctx, ex_index, c))
		return sc_fail_ossl(SC_ERR_INTERNAL, "signature cache: X509_STORE_CTX ex_data");
	X509_STORE_CTX_set_verify(ctx, cached_internal_verify);
	return SC_OK;
}
