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

/* SHA-256 of the subject's whole DER, then the issuer's SubjectPublicKeyInfo DER. 0 on failure. */
static int sig_key(const struct sc_sig_cache *c, X509 *xs, X509 *xi, uint8_t *key)
{
	unsigned char *a = NULL, *b = NULL;
	int la = i2d_X509(xs, &a), lb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(xi), &b), ok = 0;
	EVP_MD_CTX *m = NULL;

	if (la > 0 && lb > 0 && (m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(m, c->sha256, NULL) && EVP_DigestUpdate(m, a, (size_t)la) &&
	    EVP_DigestUpdate(m, b, (size_t)lb) && EVP_DigestFinal_ex(m, key, NULL))
		ok = 1;
	EVP_MD_CTX_free(m);
	OPENSSL_free(a);
	OPENSSL_free(b);
	return ok;
}

static struct sig_slot *sig_set(const struct sc_sig_cache *c, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	return &c->slots[(h & (c->n_sets - 1)) * SIG_WAYS];
}

/* X509_verify(xs, pkey) > 0, remembered: pkey is xi's key. */
static int sig_verify(struct sc_sig_cache *c, X509 *xs, X509 *xi, EVP_PKEY *pkey)
{
	uint8_t key[SIG_KEY_LEN];
	struct sig_slot *set;
	int have_key = sig_key(c, xs, xi, key), found = 0;

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
	if (found)
		return 1;
	if (X509_verify(xs, pkey) <= 0)
		return 0;
	if (have_key && CRYPTO_THREAD_write_lock(c->lock)) {
		size_t s;
		set = sig_set(c, key);
		s = (size_t)(set - c->slots) / SIG_WAYS;
		memcpy(set[c->victim[s]].key, key, SIG_KEY_LEN);
		set[c->victim[s]].used = 1;
		c->victim[s] = (uint8_t)((c->victim[s] + 1) % SIG_WAYS);
		CRYPTO_THREAD_unlock(c->lock);
	}
	return 1;
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
