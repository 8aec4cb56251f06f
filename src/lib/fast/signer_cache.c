// SPDX-License-Identifier: Apache-2.0
/*
 * signer_cache.c — the verified-signer cache (selfcert/cache.h): a shortcut past decoding and
 * chain-checking profile signer certificates the SP has seen before. Its plain path is
 * sc_profile_decode and profile_check.c's full checks, which it must match code for code; it is
 * not consulted while the shortcuts are off (fast.h).
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <selfcert/cache.h>
#include <selfcert/err.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>
#include "fast.h"
#include "profile_internal.h"
#include "file.h"
#include "text.h"

struct signer_entry {
	uint8_t certs_hash[SHA256_DIGEST_LENGTH]; /* of the DER certificates field */
	STACK_OF(X509) *certs; /* decoded from exactly those bytes; up-referenced */
	int verified;          /* 1: chained to anchor_hash, not a CA, EKU and KU good */
	uint8_t anchor_hash[SHA256_DIGEST_LENGTH];
	time_t not_before, not_after; /* the path is valid for not_before <= now < not_after */
	uint64_t used;                /* LRU clock */
};

struct sc_signer_cache {
	struct signer_entry e[SC_SIGNER_CACHE_MAX];
	size_t n, max;
	uint64_t clock;
	struct sc_signer_cache_stats stats;
};

sc_err sc_signer_cache_new(size_t max_entries, struct sc_signer_cache **out)
{
	struct sc_signer_cache *c;

	if (out == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_signer_cache_new: out is NULL");
	*out = NULL;
	if (max_entries < 1 || max_entries > SC_SIGNER_CACHE_MAX)
		return sc_fail(SC_ERR_USAGE, "signer cache: %zu entries, must be 1..%d",
		    max_entries, SC_SIGNER_CACHE_MAX);
	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "signer cache");
	c->max = max_entries;
	*out = c;
	return SC_OK;
}

static void entry_clear(struct signer_entry *e)
{
	sk_X509_pop_free(e->certs, X509_free);
	memset(e, 0, sizeof(*e));
}

void sc_signer_cache_flush(struct sc_signer_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_clear(&c->e[i]);
	c->n = 0;
}

void sc_signer_cache_free(struct sc_signer_cache *c)
{
	sc_signer_cache_flush(c);
	OPENSSL_free(c);
}

void sc_signer_cache_stats(const struct sc_signer_cache *c, struct sc_signer_cache_stats *out)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	*out = c->stats;
	out->entries = c->n;
}

static struct signer_entry *cache_find_hash(struct sc_signer_cache *c, const uint8_t *h)
{
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->e[i].certs_hash, h, SHA256_DIGEST_LENGTH) == 0) {
			c->e[i].used = ++c->clock;
			return &c->e[i];
		}
	return NULL;
}

/*
 * The entry whose certificates are these very objects (a profile decoded through the cache
 * holds references to them, so they cannot have been freed and their address reused).
 */
static struct signer_entry *cache_find_certs(struct sc_signer_cache *c, STACK_OF(X509) *certs)
{
	int n = sk_X509_num(certs);

	for (size_t i = 0; i < c->n; i++) {
		int same = sk_X509_num(c->e[i].certs) == n;
		for (int j = 0; same && j < n; j++)
			same = sk_X509_value(c->e[i].certs, j) == sk_X509_value(certs, j);
		if (same)
			return &c->e[i];
	}
	return NULL;
}

/* Remember certs (up-referenced) under h, evicting the least recently used entry if full. */
static void cache_add(struct sc_signer_cache *c, const uint8_t *h, STACK_OF(X509) *certs)
{
	struct signer_entry *e;
	STACK_OF(X509) *dup;

	/* A failure here only costs the next profile a full decode. */
	if ((dup = X509_chain_up_ref(certs)) == NULL) {
		ERR_clear_error();
		return;
	}
	if (c->n < c->max) {
		e = &c->e[c->n++];
	} else {
		e = &c->e[0];
		for (size_t i = 1; i < c->n; i++)
			if (c->e[i].used < e->used)
				e = &c->e[i];
		entry_clear(e);
	}
	memcpy(e->certs_hash, h, SHA256_DIGEST_LENGTH);
	e->certs = dup;
	e->used = ++c->clock;
}

/* ---- the decode half: reuse certificates already parsed ---- */

/*
 * The four TLVs of a DER SignedProfile (tbsProfile, signatureAlgorithm, signature,
 * certificates), each as [start, end). 0 if the outer structure is not that shape in definite
 * lengths; the caller then leaves all judgement to sc_profile_decode.
 */
static int split_profile(const uint8_t *der, size_t len, const uint8_t *start[4],
    const uint8_t *end[4])
{
	const unsigned char *q = der, *stop;
	long l;
	int tag, cls, ret;

	ret = ASN1_get_object(&q, &l, &tag, &cls, (long)len);
	if ((ret & 0x80) || (ret & 1) || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL ||
	    (size_t)(q - der) + (size_t)l != len) {
		ERR_clear_error();
		return 0;
	}
	stop = q + l;
	for (int i = 0; i < 4; i++) {
		start[i] = q;
		ret = ASN1_get_object(&q, &l, &tag, &cls, (long)(stop - q));
		if ((ret & 0x80) || (ret & 1) || l > stop - q) {
			ERR_clear_error();
			return 0;
		}
		q += l;
		end[i] = q;
	}
	return q == stop;
}

/*
 * The hit path: the certificates field is byte-identical to one decoded before, so take those
 * certificates and decode the rest. NULL on any failure (the caller decodes in full).
 */
static struct sc_profile *decode_with(const uint8_t *der, size_t der_len, const uint8_t *start[4],
    const uint8_t *end[4], STACK_OF(X509) *certs)
{
	struct sc_profile *p = NULL;
	SC_SIGNED_PROFILE *sp = NULL;
	const unsigned char *q;
	unsigned char *re = NULL;
	int re_len;

	if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL || (sp = OPENSSL_zalloc(sizeof(*sp))) == NULL)
		goto fail;
	p->sp = sp;
	q = start[0];
	sp->tbsProfile = (SC_TBS_PROFILE *)ASN1_item_d2i(NULL, &q, end[0] - start[0],
	    ASN1_ITEM_rptr(SC_TBS_PROFILE));
	if (sp->tbsProfile == NULL || q != end[0])
		goto fail;
	q = start[1];
	if ((sp->signatureAlgorithm = d2i_X509_ALGOR(NULL, &q, end[1] - start[1])) == NULL ||
	    q != end[1])
		goto fail;
	q = start[2];
	if ((sp->signature = d2i_ASN1_BIT_STRING(NULL, &q, end[2] - start[2])) == NULL ||
	    q != end[2])
		goto fail;
	if ((sp->certificates = X509_chain_up_ref(certs)) == NULL)
		goto fail;
	/* DER, as sc_profile_decode demands: the whole must re-encode to the input. */
	re_len = ASN1_item_i2d((ASN1_VALUE *)sp, &re, ASN1_ITEM_rptr(SC_SIGNED_PROFILE));
	if (re_len <= 0 || (size_t)re_len != der_len || memcmp(re, der, der_len) != 0)
		goto fail;
	if (sc_profile_parse_tbs(p) != SC_OK ||
	    sc_profile_set_signed_info(p, der, der_len) != SC_OK)
		goto fail;
	OPENSSL_free(re);
	return p;
fail:
	ERR_clear_error();
	OPENSSL_free(re);
	sc_profile_free(p);
	return NULL;
}

sc_err sc_profile_decode_cached(const uint8_t *der, size_t der_len, struct sc_signer_cache *c,
    struct sc_profile **out)
{
	const uint8_t *start[4], *end[4];
	uint8_t h[SHA256_DIGEST_LENGTH];
	struct signer_entry *e;
	sc_err r;

	/* Shortcuts off, no cache, or anything unusual: the plain decoder, and its judgement. */
	if (!sc_fast_enabled() || c == NULL || out == NULL || der == NULL || der_len == 0 ||
	    der_len > SC_PROFILE_MAX_DER || !split_profile(der, der_len, start, end) ||
	    !EVP_Digest(start[3], (size_t)(end[3] - start[3]), h, NULL, EVP_sha256(), NULL))
		return sc_profile_decode(der, der_len, out);
	*out = NULL;
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	if ((e = cache_find_hash(c, h)) != NULL &&
	    (*out = decode_with(der, der_len, start, end, e->certs)) != NULL) {
		c->stats.decode_hits++;
		return SC_OK;
	}
	if ((r = sc_profile_decode(der, der_len, out)) != SC_OK)
		return r;
	c->stats.decode_misses++;
	if (e == NULL)
		cache_add(c, h, (*out)->sp->certificates);
	return SC_OK;
}

/* ---- the verify half: skip chain checks already passed (for profile_check.c) ---- */

/* SHA-256 of a certificate's DER. */
static int cert_sha256(X509 *x, uint8_t *h)
{
	unsigned int len = 0;
	return X509_digest(x, EVP_sha256(), h, &len) == 1 && len == SHA256_DIGEST_LENGTH;
}

/* After a full check passed: remember the anchor and the window in which the path holds. */
static void cache_verified(struct signer_entry *e, X509 *anchor, STACK_OF(X509) *chain)
{
	time_t nb = 0, na = 0, t;

	e->verified = 0;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		if (sc_asn1_time_to_time_t(X509_get0_notBefore(x), &t) != SC_OK)
			return;
		nb = i == 0 || t > nb ? t : nb;
		if (sc_asn1_time_to_time_t(X509_get0_notAfter(x), &t) != SC_OK)
			return;
		na = i == 0 || t < na ? t : na;
	}
	if (sk_X509_num(chain) < 1 || !cert_sha256(anchor, e->anchor_hash)) {
		ERR_clear_error();
		return;
	}
	e->not_before = nb;
	e->not_after = na;
	e->verified = 1;
}

/* 1 if e says the signer chain was accepted for this anchor at a time covering now. */
static int cache_covers(const struct signer_entry *e, X509 *anchor, time_t now)
{
	uint8_t h[SHA256_DIGEST_LENGTH];

	if (!e->verified || now < e->not_before || now >= e->not_after)
		return 0;
	if (!cert_sha256(anchor, h)) {
		ERR_clear_error();
		return 0;
	}
	return memcmp(h, e->anchor_hash, sizeof(h)) == 0;
}

int sc_signer_cache_covers(struct sc_signer_cache *c, STACK_OF(X509) *certs, X509 *anchor,
    time_t now)
{
	struct signer_entry *e;

	if (!sc_fast_enabled() || c == NULL)
		return 0;
	if ((e = cache_find_certs(c, certs)) == NULL || !cache_covers(e, anchor, now))
		return 0;
	c->stats.verify_hits++;
	return 1;
}

void sc_signer_cache_passed(struct sc_signer_cache *c, STACK_OF(X509) *certs, X509 *anchor,
    STACK_OF(X509) *chain)
{
	struct signer_entry *e;

	if (!sc_fast_enabled() || c == NULL)
		return;
	c->stats.verify_misses++;
	if ((e = cache_find_certs(c, certs)) != NULL)
		cache_verified(e, anchor, chain);
}
