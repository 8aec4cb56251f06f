// SPDX-License-Identifier: Apache-2.0
/*
 * batch.c — batch profiles (#17, selfcert/batch.h): the BatchedProfile codec, the Merkle tree
 * the server builds over many devices' bodies, and the path check a device makes. The one
 * signature is checked by profile_check.c over tbsBatchRoot (profile_internal.h).
 */
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <selfcert/batch.h>
#include <selfcert/oid.h>
#include "profile_internal.h"

ASN1_SEQUENCE(SC_TBS_BATCH_ROOT) = {
	ASN1_SIMPLE(SC_TBS_BATCH_ROOT, contentType, ASN1_OBJECT),
	ASN1_SIMPLE(SC_TBS_BATCH_ROOT, batchId, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SC_TBS_BATCH_ROOT, size, ASN1_INTEGER),
	ASN1_SIMPLE(SC_TBS_BATCH_ROOT, root, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(SC_TBS_BATCH_ROOT)

ASN1_SEQUENCE(SC_SIGNED_BATCH_ROOT) = {
	ASN1_SIMPLE(SC_SIGNED_BATCH_ROOT, tbs, SC_TBS_BATCH_ROOT),
	ASN1_SIMPLE(SC_SIGNED_BATCH_ROOT, signatureAlgorithm, X509_ALGOR),
	ASN1_SIMPLE(SC_SIGNED_BATCH_ROOT, signature, ASN1_BIT_STRING),
	ASN1_SEQUENCE_OF(SC_SIGNED_BATCH_ROOT, certificates, X509),
} ASN1_SEQUENCE_END(SC_SIGNED_BATCH_ROOT)

ASN1_SEQUENCE(SC_BATCHED_PROFILE) = {
	ASN1_SIMPLE(SC_BATCHED_PROFILE, tbsProfile, SC_TBS_PROFILE),
	ASN1_SEQUENCE_OF(SC_BATCHED_PROFILE, path, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SC_BATCHED_PROFILE, batchRoot, SC_SIGNED_BATCH_ROOT),
} ASN1_SEQUENCE_END(SC_BATCHED_PROFILE)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SC_BATCHED_PROFILE)

DEFINE_STACK_OF(ASN1_OCTET_STRING)

#define H SC_BATCH_HASH_LEN

/* Domain-separated hashes: a leaf can never be taken for a node, nor padding for either. */
static int leaf_hash(const SC_TBS_PROFILE *t, uint8_t out[H])
{
	unsigned char *der = NULL;
	int len = ASN1_item_i2d((ASN1_VALUE *)t, &der, ASN1_ITEM_rptr(SC_TBS_PROFILE));
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = len > 0 && c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(c, "\x00", 1) && EVP_DigestUpdate(c, der, (size_t)len) &&
	    EVP_DigestFinal_ex(c, out, NULL);

	EVP_MD_CTX_free(c);
	OPENSSL_free(der);
	return ok;
}

static int node_hash(const uint8_t l[H], const uint8_t r[H], uint8_t out[H])
{
	uint8_t buf[1 + 2 * H];

	buf[0] = 0x01;
	memcpy(buf + 1, l, H);
	memcpy(buf + 1 + H, r, H);
	return EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL);
}

static int pad_hash(uint8_t out[H])
{
	return EVP_Digest("\x02", 1, out, NULL, EVP_sha256(), NULL);
}

/* ceil(log2(n)): the path length of a batch of n (0 for one device). */
static unsigned depth_of(uint64_t n)
{
	unsigned d = 0;

	while (((uint64_t)1 << d) < n)
		d++;
	return d;
}

/* ---- the server's side ---- */

/* Every level of the tree, leaves first: level[d][i]; each level padded to even. */
struct tree {
	uint8_t *level[SC_BATCH_MAX_PATH + 1];
	size_t width[SC_BATCH_MAX_PATH + 1];
	unsigned depth;
};

static void tree_free(struct tree *t)
{
	for (unsigned d = 0; d <= SC_BATCH_MAX_PATH; d++)
		OPENSSL_free(t->level[d]);
	memset(t, 0, sizeof(*t));
}

static sc_err tree_build(struct sc_profile **bodies, size_t n, struct tree *t)
{
	memset(t, 0, sizeof(*t));
	t->depth = depth_of(n);
	for (unsigned d = 0; d <= t->depth; d++) {
		t->width[d] = ((size_t)1 << (t->depth - d));
		if ((t->level[d] = OPENSSL_malloc(t->width[d] * H)) == NULL)
			return sc_fail(SC_ERR_NOMEM, "batch tree");
	}
	for (size_t i = 0; i < t->width[0]; i++)
		if (!(i < n ? leaf_hash(bodies[i]->sp->tbsProfile, t->level[0] + i * H)
		            : pad_hash(t->level[0] + i * H)))
			return sc_fail_ossl(SC_ERR_INTERNAL, "batch leaf hash");
	for (unsigned d = 1; d <= t->depth; d++)
		for (size_t i = 0; i < t->width[d]; i++)
			if (!node_hash(t->level[d - 1] + 2 * i * H,
			        t->level[d - 1] + (2 * i + 1) * H, t->level[d] + i * H))
				return sc_fail_ossl(SC_ERR_INTERNAL, "batch node hash");
	return SC_OK;
}

/* [7] on each body: the batch ID and its index, then its fields parsed again. */
static sc_err place(struct sc_profile *p, const uint8_t id[SC_PROFILE_ID_LEN], size_t i)
{
	SC_TBS_PROFILE *t = p->sp->tbsProfile;

	if (p->signed_ || t->challenge != NULL)
		return sc_fail(SC_ERR_USAGE,
		    "batch: body %zu is signed or carries a challenge (one signature serves all)",
		    i);
	if (t->batch == NULL &&
	    (t->batch = (SC_BATCH_POSITION *)ASN1_item_new(ASN1_ITEM_rptr(SC_BATCH_POSITION))) ==
	        NULL)
		return sc_fail(SC_ERR_NOMEM, "batch");
	if (!ASN1_OCTET_STRING_set(t->batch->batchId, id, SC_PROFILE_ID_LEN) ||
	    !ASN1_INTEGER_set_uint64(t->batch->index, (uint64_t)i))
		return sc_fail(SC_ERR_NOMEM, "batch");
	return sc_profile_parse_tbs(p);
}

static const EVP_MD *md_for(EVP_PKEY *k)
{
	if (EVP_PKEY_is_a(k, "ED25519"))
		return NULL;
	if (EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(k) == 384)
		return EVP_sha384();
	return EVP_sha256();
}

/*
 * Body p becomes what sc_batch_decode makes of its BatchedProfile der: the root's signature
 * fields and certificates (copies) and its TBSBatchRoot, the digest of der. A server can then
 * keep the very object it signed (provd's profcache) instead of decoding its own answer again,
 * which on OpenSSL 3.0 parses the signer's certificate.
 */
static sc_err leaf_signed(struct sc_profile *p, const SC_SIGNED_BATCH_ROOT *root,
    const uint8_t *der, size_t der_len)
{
	X509_ALGOR *alg = X509_ALGOR_dup(root->signatureAlgorithm);
	ASN1_BIT_STRING *sig = ASN1_STRING_dup(root->signature);
	STACK_OF(X509) *certs = X509_chain_up_ref(root->certificates);
	SC_TBS_BATCH_ROOT *tbs =
	    (SC_TBS_BATCH_ROOT *)ASN1_item_dup(ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT), root->tbs);

	if (alg == NULL || sig == NULL || certs == NULL || tbs == NULL) {
		X509_ALGOR_free(alg);
		ASN1_BIT_STRING_free(sig);
		sk_X509_pop_free(certs, X509_free);
		ASN1_item_free((ASN1_VALUE *)tbs, ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT));
		return sc_fail_ossl(SC_ERR_NOMEM, "batch leaf");
	}
	X509_ALGOR_free(p->sp->signatureAlgorithm);
	ASN1_BIT_STRING_free(p->sp->signature);
	sk_X509_pop_free(p->sp->certificates, X509_free);
	ASN1_item_free((ASN1_VALUE *)p->batch_root, ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT));
	p->sp->signatureAlgorithm = alg;
	p->sp->signature = sig;
	p->sp->certificates = certs;
	p->batch_root = tbs;
	return sc_profile_set_signed_info(p, der, der_len);
}

sc_err sc_batch_sign(struct sc_profile **bodies, size_t n, EVP_PKEY *signer_key, X509 *signer_cert,
    uint8_t **ders, size_t *lens)
{
	sc_err r = SC_ERR_INTERNAL;
	SC_BATCHED_PROFILE *bp = NULL;
	SC_SIGNED_BATCH_ROOT *root = NULL;
	EVP_MD_CTX *mctx = NULL;
	struct tree t;
	uint8_t id[SC_PROFILE_ID_LEN];
	size_t i;

	memset(&t, 0, sizeof(t));
	if (bodies == NULL || ders == NULL || lens == NULL || signer_key == NULL ||
	    signer_cert == NULL || n < 1 || n > SC_BATCH_MAX_SIZE)
		return sc_fail(SC_ERR_USAGE, "sc_batch_sign: 1..%d bodies, a signer",
		    SC_BATCH_MAX_SIZE);
	/* A batch root is never RSASSA-PSS (docs/FORMATS.md): devices refuse one. */
	if (EVP_PKEY_is_a(signer_key, "RSA-PSS"))
		return sc_fail(SC_ERR_USAGE,
		    "sc_batch_sign: an RSA-PSS key signs no batch root (devices refuse one)");
	for (i = 0; i < n; i++)
		ders[i] = NULL;
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	if (RAND_bytes(id, sizeof(id)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	for (i = 0; i < n; i++)
		if ((r = place(bodies[i], id, i)) != SC_OK)
			goto out;
	if ((r = tree_build(bodies, n, &t)) != SC_OK)
		goto out;
	/* The one signature. */
	if ((root = (SC_SIGNED_BATCH_ROOT *)ASN1_item_new(ASN1_ITEM_rptr(SC_SIGNED_BATCH_ROOT))) ==
	        NULL ||
	    (mctx = EVP_MD_CTX_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "batch root");
		goto out;
	}
	ASN1_OBJECT_free(root->tbs->contentType);
	if ((root->tbs->contentType = OBJ_txt2obj(SC_OID_CT_BATCH_ROOT, 1)) == NULL ||
	    !ASN1_OCTET_STRING_set(root->tbs->batchId, id, sizeof(id)) ||
	    !ASN1_INTEGER_set_uint64(root->tbs->size, (uint64_t)n) ||
	    !ASN1_OCTET_STRING_set(root->tbs->root, t.level[t.depth], H) ||
	    !X509_up_ref(signer_cert) || !sk_X509_push(root->certificates, signer_cert)) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "batch root");
		goto out;
	}
	if (EVP_DigestSignInit(mctx, NULL, md_for(signer_key), NULL, signer_key) != 1 ||
	    ASN1_item_sign_ctx(ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT), root->signatureAlgorithm, NULL,
	        root->signature, root->tbs, mctx) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "signing the batch root");
		goto out;
	}
	/* Each device's BatchedProfile: its body, its siblings bottom up, the shared root. */
	for (i = 0; i < n; i++) {
		int len;
		unsigned char *der = NULL;

		if ((bp = SC_BATCHED_PROFILE_new()) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "batch");
			goto out;
		}
		ASN1_item_free((ASN1_VALUE *)bp->tbsProfile, ASN1_ITEM_rptr(SC_TBS_PROFILE));
		ASN1_item_free((ASN1_VALUE *)bp->batchRoot, ASN1_ITEM_rptr(SC_SIGNED_BATCH_ROOT));
		bp->tbsProfile = bodies[i]->sp->tbsProfile; /* borrowed: taken back below */
		bp->batchRoot = root;
		for (unsigned d = 0; d < t.depth; d++) {
			ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
			size_t sib = ((i >> d) ^ 1) * H;

			if (s == NULL || !ASN1_OCTET_STRING_set(s, t.level[d] + sib, H) ||
			    !sk_ASN1_OCTET_STRING_push(bp->path, s)) {
				ASN1_OCTET_STRING_free(s);
				r = sc_fail(SC_ERR_NOMEM, "batch path");
				goto out;
			}
		}
		len = ASN1_item_i2d((ASN1_VALUE *)bp, &der, ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
		bp->tbsProfile = NULL;
		bp->batchRoot = NULL;
		SC_BATCHED_PROFILE_free(bp);
		bp = NULL;
		if (len <= 0) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "encoding a batched profile");
			goto out;
		}
		ders[i] = der;
		lens[i] = (size_t)len;
	}
	for (i = 0; i < n; i++)
		if ((r = leaf_signed(bodies[i], root, ders[i], lens[i])) != SC_OK)
			goto out;
	r = SC_OK;
out:
	if (bp != NULL) {
		bp->tbsProfile = NULL;
		bp->batchRoot = NULL;
		SC_BATCHED_PROFILE_free(bp);
	}
	if (r != SC_OK)
		for (i = 0; i < n; i++) {
			OPENSSL_free(ders[i]);
			ders[i] = NULL;
		}
	ASN1_item_free((ASN1_VALUE *)root, ASN1_ITEM_rptr(SC_SIGNED_BATCH_ROOT));
	EVP_MD_CTX_free(mctx);
	tree_free(&t);
	return r;
}

/* ---- the device's side ---- */

/* The root's fields and the leaf's place, against each other. */
static sc_err check_shape(const SC_BATCHED_PROFILE *bp, const struct sc_profile_info *in,
    uint64_t *size)
{
	const SC_TBS_BATCH_ROOT *rt = bp->batchRoot->tbs;
	ASN1_OBJECT *ct = OBJ_txt2obj(SC_OID_CT_BATCH_ROOT, 1);
	int same = ct != NULL && OBJ_cmp(ct, rt->contentType) == 0;
	int n;

	ASN1_OBJECT_free(ct);
	if (!same)
		return sc_fail(SC_ERR_CONTENT_TYPE,
		    "tbsBatchRoot.contentType: not id-sc-ct-batchRoot");
	if (ASN1_STRING_length(rt->batchId) != SC_PROFILE_ID_LEN)
		return sc_fail(SC_ERR_MALFORMED, "tbsBatchRoot.batchId: %d bytes, must be %d",
		    ASN1_STRING_length(rt->batchId), SC_PROFILE_ID_LEN);
	if (!ASN1_INTEGER_get_uint64(size, rt->size) || *size < 1 || *size > SC_BATCH_MAX_SIZE) {
		ERR_clear_error();
		return sc_fail(SC_ERR_MALFORMED, "tbsBatchRoot.size: must be 1..%d",
		    SC_BATCH_MAX_SIZE);
	}
	if (ASN1_STRING_length(rt->root) != H)
		return sc_fail(SC_ERR_MALFORMED, "tbsBatchRoot.root: %d bytes, must be %d",
		    ASN1_STRING_length(rt->root), H);
	n = sk_X509_num(bp->batchRoot->certificates);
	if (n < 1 || n > SC_PROFILE_MAX_CERTS)
		return sc_fail(SC_ERR_MALFORMED, "SignedBatchRoot.certificates: %d, must be 1..%d",
		    n, SC_PROFILE_MAX_CERTS);
	if (!in->has_batch)
		return sc_fail(SC_ERR_MALFORMED, "tbsProfile.batch: absent in a batch leaf");
	if (ASN1_OCTET_STRING_cmp(bp->tbsProfile->batch->batchId, rt->batchId) != 0)
		return sc_fail(SC_ERR_BATCH_PATH, "tbsProfile.batch.batchId: another batch's");
	if ((uint64_t)in->batch_index >= *size)
		return sc_fail(SC_ERR_MALFORMED,
		    "tbsProfile.batch.index: %u is not below the batch's size %llu",
		    in->batch_index, (unsigned long long)*size);
	return SC_OK;
}

/* From the leaf up its path: the root, or SC_ERR_BATCH_PATH. */
static sc_err check_path(const SC_BATCHED_PROFILE *bp, uint32_t index, uint64_t size)
{
	unsigned want = depth_of(size);
	int n = sk_ASN1_OCTET_STRING_num(bp->path);
	uint8_t h[H];

	if (n < 0 || (unsigned)n != want)
		return sc_fail(SC_ERR_BATCH_PATH, "path: %d hashes, a batch of %llu needs %u", n,
		    (unsigned long long)size, want);
	if (!leaf_hash(bp->tbsProfile, h))
		return sc_fail_ossl(SC_ERR_INTERNAL, "batch leaf hash");
	for (int d = 0; d < n; d++) {
		const ASN1_OCTET_STRING *s = sk_ASN1_OCTET_STRING_value(bp->path, d);
		const uint8_t *sib = ASN1_STRING_get0_data(s);

		if (ASN1_STRING_length(s) != H)
			return sc_fail(SC_ERR_MALFORMED, "path[%d]: %d bytes, must be %d", d,
			    ASN1_STRING_length(s), H);
		if (!((index >> d) & 1 ? node_hash(sib, h, h) : node_hash(h, sib, h)))
			return sc_fail_ossl(SC_ERR_INTERNAL, "batch node hash");
	}
	if (CRYPTO_memcmp(h, ASN1_STRING_get0_data(bp->batchRoot->tbs->root), H) != 0)
		return sc_fail(SC_ERR_BATCH_PATH, "path: does not lead to the signed root");
	return SC_OK;
}

sc_err sc_batch_decode(const uint8_t *der, size_t der_len, struct sc_profile **out)
{
	sc_err r = SC_ERR_INTERNAL;
	SC_BATCHED_PROFILE *bp = NULL;
	struct sc_profile *p = NULL;
	const unsigned char *q = der;
	unsigned char *re = NULL;
	uint64_t size = 0;
	int re_len;

	if (out == NULL || (der == NULL && der_len != 0))
		return sc_fail(SC_ERR_USAGE, "sc_batch_decode: missing argument");
	*out = NULL;
	if (der_len > SC_BATCH_MAX_DER)
		return sc_fail(SC_ERR_OVERSIZE, "BatchedProfile: %zu bytes, at most %d", der_len,
		    SC_BATCH_MAX_DER);
	if (der_len == 0)
		return sc_fail(SC_ERR_MALFORMED, "BatchedProfile: empty");
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	bp = (SC_BATCHED_PROFILE *)ASN1_item_d2i(NULL, &q, (long)der_len,
	    ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
	if (bp == NULL) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, "BatchedProfile does not decode");
		goto out;
	}
	if ((size_t)(q - der) != der_len) {
		r = sc_fail(SC_ERR_TRAILING, "BatchedProfile: %zu bytes after the structure",
		    der_len - (size_t)(q - der));
		goto out;
	}
	re_len = ASN1_item_i2d((ASN1_VALUE *)bp, &re, ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
	if (re_len <= 0 || (size_t)re_len != der_len || memcmp(re, der, der_len) != 0) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "BatchedProfile: not DER");
		goto out;
	}
	if (sk_ASN1_OCTET_STRING_num(bp->path) > SC_BATCH_MAX_PATH) {
		r = sc_fail(SC_ERR_BATCH_PATH, "path: %d hashes, at most %d",
		    sk_ASN1_OCTET_STRING_num(bp->path), SC_BATCH_MAX_PATH);
		goto out;
	}
	/* The body as a profile: its fields parsed as any profile's. */
	if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL ||
	    (p->sp = (SC_SIGNED_PROFILE *)ASN1_item_new(ASN1_ITEM_rptr(SC_SIGNED_PROFILE))) ==
	        NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile");
		goto out;
	}
	ASN1_item_free((ASN1_VALUE *)p->sp->tbsProfile, ASN1_ITEM_rptr(SC_TBS_PROFILE));
	p->sp->tbsProfile = bp->tbsProfile;
	bp->tbsProfile = NULL;
	if ((r = sc_profile_parse_tbs(p)) != SC_OK)
		goto out;
	bp->tbsProfile = p->sp->tbsProfile; /* lent back for the checks below */
	r = check_shape(bp, &p->info, &size);
	if (r == SC_OK)
		r = check_path(bp, p->info.batch_index, size);
	bp->tbsProfile = NULL;
	if (r != SC_OK)
		goto out;
	/* The root's signature and certificates stand in for the profile's own. */
	X509_ALGOR_free(p->sp->signatureAlgorithm);
	ASN1_BIT_STRING_free(p->sp->signature);
	sk_X509_pop_free(p->sp->certificates, X509_free);
	p->sp->signatureAlgorithm = bp->batchRoot->signatureAlgorithm;
	p->sp->signature = bp->batchRoot->signature;
	p->sp->certificates = bp->batchRoot->certificates;
	p->batch_root = bp->batchRoot->tbs;
	bp->batchRoot->signatureAlgorithm = NULL;
	bp->batchRoot->signature = NULL;
	bp->batchRoot->certificates = NULL;
	bp->batchRoot->tbs = NULL;
	if ((r = sc_profile_set_signed_info(p, der, der_len)) != SC_OK)
		goto out;
	*out = p;
	p = NULL;
	r = SC_OK;
out:
	OPENSSL_free(re);
	SC_BATCHED_PROFILE_free(bp);
	sc_profile_free(p);
	return r;
}
