// SPDX-License-Identifier: Apache-2.0
/*
 * test_batch.c — batch profiles (#17): one signature over a Merkle root of many devices' profile
 * bodies. Round trips for every batch size shape (1, 2, 5, 8), the signature through the
 * network's anchor, hostile BatchedProfiles (a path of the wrong length, a wrong sibling, an
 * index out of range, another batch's ID, a changed root or signature, truncation, trailing
 * bytes, oversize, the wrong type either way), and BATCH_ISSUE (0x1D) against an in-process SP:
 * issued and bound, a replayed batch leaf refused, another device's leaf refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <selfcert/batch.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/oid.h>
#include <selfcert/verify.h>
#include "pem.h"
#include "profile_internal.h"
#include "sp_msg.h"
#include "testsp.h"
#include "testutil.h"
#include "testworld.h"

#define MAXN 8

static struct sc_test_world world;

static int group_setup(void **state)
{
	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &world), SC_OK);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_test_world_free(&world);
	return 0;
}

/* n bodies: body 0 for the world's device, the others for SN-1000+i; signed as one batch. */
static void make_batch(size_t n, uint8_t **ders, size_t *lens)
{
	struct sc_profile *bodies[MAXN];
	struct sc_profile_params pp;
	char dev[MAXN][32];

	for (size_t i = 0; i < n; i++) {
		sc_test_profile_params(&world, &pp);
		if (i > 0) {
			snprintf(dev[i], sizeof(dev[i]), "SN-%zu", 1000 + i);
			pp.device_id = dev[i];
		}
		assert_int_equal(sc_profile_create(&pp, &bodies[i]), SC_OK);
	}
	assert_int_equal(sc_batch_sign(bodies, n, world.signer_key, world.signer, ders, lens),
	    SC_OK);
	for (size_t i = 0; i < n; i++)
		sc_profile_free(bodies[i]);
}

/* #17: after sc_batch_sign each body is the signed leaf its BatchedProfile decodes to (provd
 * keeps it instead of decoding its own answer); signing it again is refused. */
static void test_signed_bodies(void **state)
{
	struct sc_profile *bodies[3], *dec = NULL;
	struct sc_profile_params pp;
	struct sc_profile_info a, b;
	uint8_t *ders[3];
	size_t lens[3];
	char dev[3][32];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		sc_test_profile_params(&world, &pp);
		snprintf(dev[i], sizeof(dev[i]), "SN-%zu", 2000 + i);
		pp.device_id = dev[i];
		assert_int_equal(sc_profile_create(&pp, &bodies[i]), SC_OK);
	}
	assert_int_equal(sc_batch_sign(bodies, 3, world.signer_key, world.signer, ders, lens),
	    SC_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(sc_batch_decode(ders[i], lens[i], &dec), SC_OK);
		sc_profile_get_info(bodies[i], &a);
		sc_profile_get_info(dec, &b);
		assert_true(a.signed_);
		assert_true(a.has_batch);
		assert_int_equal(a.batch_index, i);
		assert_memory_equal(a.digest, b.digest, sizeof(a.digest));
		assert_memory_equal(a.id, b.id, sizeof(a.id));
		assert_string_equal(a.sig_alg, b.sig_alg);
		assert_int_equal(X509_cmp(a.signer, b.signer), 0);
		sc_profile_free(dec);
		dec = NULL;
	}
	for (size_t i = 0; i < 3; i++)
		OPENSSL_free(ders[i]);
	assert_int_equal(sc_batch_sign(bodies, 3, world.signer_key, world.signer, ders, lens),
	    SC_ERR_USAGE);
	for (size_t i = 0; i < 3; i++)
		sc_profile_free(bodies[i]);
}

static void free_batch(size_t n, uint8_t **ders)
{
	for (size_t i = 0; i < n; i++)
		OPENSSL_free(ders[i]);
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = { 1, 2, 5, 8 };
	uint8_t *ders[MAXN];
	size_t lens[MAXN];

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		make_batch(n, ders, lens);
		for (size_t i = 0; i < n; i++) {
			struct sc_profile *p = NULL;
			struct sc_profile_info in;

			assert_int_equal(sc_batch_decode(ders[i], lens[i], &p), SC_OK);
			sc_profile_get_info(p, &in);
			assert_true(in.has_batch);
			assert_int_equal(in.batch_index, i);
			assert_true(in.signed_);
			assert_int_equal(sc_profile_verify_signature(p, world.net_root, time(NULL)),
			    SC_OK);
			sc_profile_free(p);
			/* Not a SignedProfile: the ordinary decoder refuses it. */
			assert_int_not_equal(sc_profile_decode(ders[i], lens[i], &p), SC_OK);
		}
		free_batch(n, ders);
	}
}

/* One TLV at der[off]: its header length and content length (short and long forms). */
static void tlv(const uint8_t *der, size_t off, size_t *hdr, size_t *len)
{
	size_t l = der[off + 1];

	if (l < 0x80) {
		*hdr = 2;
		*len = l;
		return;
	}
	*hdr = 2 + (l & 0x7f);
	*len = 0;
	for (size_t i = 0; i < (l & 0x7f); i++)
		*len = (*len << 8) | der[off + 2 + i];
}

/* DER header for tag and len into out; its length. */
static size_t hdr_put(uint8_t *out, uint8_t tag, size_t len)
{
	out[0] = tag;
	if (len < 0x80) {
		out[1] = (uint8_t)len;
		return 2;
	}
	out[1] = len < 0x100 ? 0x81 : 0x82;
	if (len < 0x100) {
		out[2] = (uint8_t)len;
		return 3;
	}
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return 4;
}

/* The three parts of a BatchedProfile: offsets and full lengths of body, path, root. */
struct parts {
	size_t body, body_len, path, path_len, root, root_len;
};

static void split(const uint8_t *der, struct parts *pt)
{
	size_t h, l;

	tlv(der, 0, &h, &l);
	pt->body = h;
	tlv(der, pt->body, &h, &l);
	pt->body_len = h + l;
	pt->path = pt->body + pt->body_len;
	tlv(der, pt->path, &h, &l);
	pt->path_len = h + l;
	pt->root = pt->path + pt->path_len;
	tlv(der, pt->root, &h, &l);
	pt->root_len = h + l;
}

static void expect(const uint8_t *der, size_t len, sc_err want, const char *detail)
{
	struct sc_profile *p = NULL;

	assert_int_equal(sc_batch_decode(der, len, &p), want);
	assert_null(p);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", sc_err_detail(), detail);
}

static void test_hostile(void **state)
{
	uint8_t *ders[MAXN], *buf, *big;
	size_t lens[MAXN], n = 5, h, l, at, blen;
	struct parts pt;
	struct sc_profile *p = NULL;

	(void)state;
	make_batch(n, ders, lens);
	split(ders[2], &pt);
	buf = malloc(lens[2] + 16);
	assert_non_null(buf);

	/* A wrong sibling: one byte of path[0]'s hash. */
	memcpy(buf, ders[2], lens[2]);
	tlv(buf, pt.path, &h, &l);
	buf[pt.path + h + 2 + 5] ^= 1;
	expect(buf, lens[2], SC_ERR_BATCH_PATH, "does not lead to the signed root");

	/* A path of the wrong length: the last of its three hashes dropped. */
	{
		size_t pc = pt.path_len - (h)-34, off = 0, inner;

		inner = pt.body_len + (hdr_put(buf, 0x30, pc) + pc) + pt.root_len;
		off = hdr_put(buf, 0x30, inner);
		memcpy(buf + off, ders[2] + pt.body, pt.body_len);
		off += pt.body_len;
		off += hdr_put(buf + off, 0x30, pc);
		memcpy(buf + off, ders[2] + pt.path + h, pc);
		off += pc;
		memcpy(buf + off, ders[2] + pt.root, pt.root_len);
		off += pt.root_len;
		expect(buf, off, SC_ERR_BATCH_PATH, "path: 2 hashes, a batch of 5 needs 3");
	}

	/* The leaf's [7]: an index out of range, then another batch's ID. */
	memcpy(buf, ders[2], lens[2]);
	for (at = pt.body; at + 24 < pt.body + pt.body_len; at++)
		if (buf[at] == 0xA7 && buf[at + 2] == 0x30 && buf[at + 4] == 0x04 &&
		    buf[at + 5] == 0x10)
			break;
	assert_true(at + 24 < pt.body + pt.body_len);
	assert_int_equal(buf[at + 22], 0x02);
	assert_int_equal(buf[at + 24], 2); /* index 2 */
	buf[at + 24] = 9;
	expect(buf, lens[2], SC_ERR_MALFORMED,
	    "tbsProfile.batch.index: 9 is not below the batch's size 5");
	buf[at + 24] = 2;
	buf[at + 6] ^= 1;
	expect(buf, lens[2], SC_ERR_BATCH_PATH, "another batch's");
	buf[at + 6] ^= 1;
	/* The leaf claims another index than its path: the path no longer fits. */
	buf[at + 24] = 3;
	expect(buf, lens[2], SC_ERR_BATCH_PATH, "does not lead to the signed root");
	buf[at + 24] = 2;

	/* The signed root changed: the path misses it. The signature changed: decode passes,
	 * the signature check does not. */
	memcpy(buf, ders[2], lens[2]);
	{
		size_t rh, rl, th, tl;

		tlv(buf, pt.root, &rh, &rl);
		tlv(buf, pt.root + rh, &th, &tl); /* tbsBatchRoot; its root is its last 32 bytes */
		buf[pt.root + rh + th + tl - 1] ^= 1;
		expect(buf, lens[2], SC_ERR_BATCH_PATH, NULL);
		buf[pt.root + rh + th + tl - 1] ^= 1;
		/* The signature BIT STRING follows the tbs and the algorithm. */
		size_t ah, al, sh, sl, s_at;
		tlv(buf, pt.root + rh + th + tl, &ah, &al);
		s_at = pt.root + rh + th + tl + ah + al;
		tlv(buf, s_at, &sh, &sl);
		buf[s_at + sh + sl - 1] ^= 1;
		assert_int_equal(sc_batch_decode(buf, lens[2], &p), SC_OK);
		assert_int_equal(sc_profile_verify_signature(p, world.net_root, time(NULL)),
		    SC_ERR_PROFILE_SIGNATURE);
		assert_non_null(strstr(sc_err_detail(), "tbsBatchRoot"));
		sc_profile_free(p);
		p = NULL;
	}

	/* Truncated, trailing, oversize, empty. */
	expect(ders[2], lens[2] - 1, SC_ERR_MALFORMED, NULL);
	expect(ders[2], pt.path, SC_ERR_MALFORMED, NULL);
	memcpy(buf, ders[2], lens[2]);
	buf[lens[2]] = 0;
	expect(buf, lens[2] + 1, SC_ERR_TRAILING, NULL);
	blen = SC_BATCH_MAX_DER + 1;
	big = calloc(1, blen);
	assert_non_null(big);
	memcpy(big, ders[2], lens[2]);
	expect(big, blen, SC_ERR_OVERSIZE, NULL);
	free(big);
	expect(ders[2], 0, SC_ERR_MALFORMED, "empty");

	/* Wrong type: a SignedProfile is no BatchedProfile; a SET is no SEQUENCE. */
	{
		struct sc_profile_params pp;
		uint8_t *sd = NULL;
		size_t sl;

		sc_test_profile_params(&world, &pp);
		assert_int_equal(sc_test_profile_make(&world, &pp, &sd, &sl), SC_OK);
		expect(sd, sl, SC_ERR_MALFORMED, NULL);
		OPENSSL_free(sd);
	}
	memcpy(buf, ders[2], lens[2]);
	buf[0] = 0x31;
	expect(buf, lens[2], SC_ERR_MALFORMED, NULL);

	free(buf);
	free_batch(n, ders);
}

/*
 * batch.c's BatchedProfile templates (profile_internal.h): a leaf decoded, one field changed,
 * encoded again as DER, so each check meets exactly its case.
 */
DEFINE_STACK_OF(ASN1_OCTET_STRING)

enum bp_change {
	BP_CONTENT_TYPE, /* tbsBatchRoot.contentType: id-sc-ct-profile */
	BP_BATCH_ID_15,  /* tbsBatchRoot.batchId: 15 bytes */
	BP_ROOT_31,      /* tbsBatchRoot.root: 31 bytes */
	BP_CERTS_0,      /* SignedBatchRoot.certificates: none */
	BP_CERTS_5,      /* SignedBatchRoot.certificates: five */
	BP_NO_POSITION,  /* the body without its [7] */
	BP_PATH_1_31,    /* path[1]: 31 bytes */
	BP_PATH_17,      /* seventeen path entries */
	BP_LEAF_ID_15,   /* the body's [7].batchId: 15 bytes */
};

static void shorten(ASN1_OCTET_STRING *s)
{
	assert_true(ASN1_OCTET_STRING_set(s, ASN1_STRING_get0_data(s), ASN1_STRING_length(s) - 1));
}

/* der (a valid leaf) with one change, re-encoded as DER (the caller frees *out). */
static size_t bp_changed(const uint8_t *der, size_t len, enum bp_change c, uint8_t **out)
{
	const unsigned char *q = der;
	SC_BATCHED_PROFILE *bp = (SC_BATCHED_PROFILE *)ASN1_item_d2i(NULL, &q, (long)len,
	    ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
	ASN1_OCTET_STRING *s;
	int n;

	assert_non_null(bp);
	switch (c) {
	case BP_CONTENT_TYPE:
		ASN1_OBJECT_free(bp->batchRoot->tbs->contentType);
		assert_non_null(
		    bp->batchRoot->tbs->contentType = OBJ_txt2obj(SC_OID_CT_PROFILE, 1));
		break;
	case BP_BATCH_ID_15: shorten(bp->batchRoot->tbs->batchId); break;
	case BP_ROOT_31: shorten(bp->batchRoot->tbs->root); break;
	case BP_CERTS_0:
		while (sk_X509_num(bp->batchRoot->certificates) > 0)
			X509_free(sk_X509_pop(bp->batchRoot->certificates));
		break;
	case BP_CERTS_5:
		while ((n = sk_X509_num(bp->batchRoot->certificates)) < SC_PROFILE_MAX_CERTS + 1)
			assert_true(sk_X509_push(bp->batchRoot->certificates,
			    X509_dup(sk_X509_value(bp->batchRoot->certificates, n - 1))));
		break;
	case BP_NO_POSITION:
		ASN1_item_free((ASN1_VALUE *)bp->tbsProfile->batch,
		    ASN1_ITEM_rptr(SC_BATCH_POSITION));
		bp->tbsProfile->batch = NULL;
		break;
	case BP_PATH_1_31: shorten(sk_ASN1_OCTET_STRING_value(bp->path, 1)); break;
	case BP_PATH_17:
		while (sk_ASN1_OCTET_STRING_num(bp->path) < SC_BATCH_MAX_PATH + 1) {
			assert_non_null(
			    s = ASN1_OCTET_STRING_dup(sk_ASN1_OCTET_STRING_value(bp->path, 0)));
			assert_true(sk_ASN1_OCTET_STRING_push(bp->path, s));
		}
		break;
	case BP_LEAF_ID_15: shorten(bp->tbsProfile->batch->batchId); break;
	}
	*out = NULL;
	n = ASN1_item_i2d((ASN1_VALUE *)bp, out, ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
	assert_true(n > 0);
	ASN1_item_free((ASN1_VALUE *)bp, ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
	return (size_t)n;
}

/*
 * audit17 item 2: each of the decoder's structure checks (batch.c check_shape, check_path,
 * sc_batch_decode; profile.c's [7].batchId), met by one BatchedProfile that is DER and differs
 * from a valid leaf only there; the exact error and detail. Disabling any one check changes
 * its case's outcome (or, for the short root, the short path entry and the missing [7], reads
 * past a buffer or through NULL).
 */
static void test_hostile_fields(void **state)
{
	static const struct {
		enum bp_change c;
		sc_err want;
		const char *detail;
	} cases[] = {
		{ BP_CONTENT_TYPE, SC_ERR_CONTENT_TYPE,
		    "tbsBatchRoot.contentType: not id-sc-ct-batchRoot" },
		{ BP_BATCH_ID_15, SC_ERR_MALFORMED, "tbsBatchRoot.batchId: 15 bytes, must be 16" },
		{ BP_ROOT_31, SC_ERR_MALFORMED, "tbsBatchRoot.root: 31 bytes, must be 32" },
		{ BP_CERTS_0, SC_ERR_MALFORMED, "SignedBatchRoot.certificates: 0, must be 1..4" },
		{ BP_CERTS_5, SC_ERR_MALFORMED, "SignedBatchRoot.certificates: 5, must be 1..4" },
		{ BP_NO_POSITION, SC_ERR_MALFORMED, "tbsProfile.batch: absent in a batch leaf" },
		{ BP_PATH_1_31, SC_ERR_MALFORMED, "path[1]: 31 bytes, must be 32" },
		{ BP_PATH_17, SC_ERR_BATCH_PATH, "path: 17 hashes, at most 16" },
		{ BP_LEAF_ID_15, SC_ERR_MALFORMED,
		    "tbsProfile.batch.batchId: 15 bytes, must be 16" },
	};
	uint8_t *ders[MAXN], *bad, *ber;
	size_t lens[MAXN], n;
	struct sc_profile *p = NULL;

	(void)state;
	make_batch(5, ders, lens);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = bp_changed(ders[2], lens[2], cases[i].c, &bad);
		assert_int_equal(sc_batch_decode(bad, n, &p), cases[i].want);
		assert_null(p);
		if (strcmp(sc_err_detail(), cases[i].detail) != 0)
			fail_msg("case %zu: detail \"%s\", want \"%s\"", i, sc_err_detail(),
			    cases[i].detail);
		OPENSSL_free(bad);
	}
	/* Not DER: the same leaf with its outer SEQUENCE of indefinite length (BER, which the
	 * template decoder takes). */
	{
		size_t h, l;

		tlv(ders[2], 0, &h, &l);
		assert_non_null(ber = malloc(l + 4));
		ber[0] = 0x30;
		ber[1] = 0x80;
		memcpy(ber + 2, ders[2] + h, l);
		ber[2 + l] = 0;
		ber[3 + l] = 0;
		assert_int_equal(sc_batch_decode(ber, l + 4, &p), SC_ERR_MALFORMED);
		assert_null(p);
		assert_string_equal(sc_err_detail(), "BatchedProfile: not DER");
		free(ber);
	}
	/* The unchanged leaf, through the same mirror, decodes: the mirror changes nothing else. */
	{
		const unsigned char *q = ders[2];
		SC_BATCHED_PROFILE *bp = (SC_BATCHED_PROFILE *)ASN1_item_d2i(NULL, &q,
		    (long)lens[2], ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
		uint8_t *same = NULL;
		int sl;

		assert_non_null(bp);
		sl = ASN1_item_i2d((ASN1_VALUE *)bp, &same, ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
		assert_int_equal(sl, (int)lens[2]);
		assert_memory_equal(same, ders[2], lens[2]);
		assert_int_equal(sc_batch_decode(same, (size_t)sl, &p), SC_OK);
		sc_profile_free(p);
		OPENSSL_free(same);
		ASN1_item_free((ASN1_VALUE *)bp, ASN1_ITEM_rptr(SC_BATCHED_PROFILE));
	}
	free_batch(5, ders);
}

/* A [7] in an ordinary SignedProfile is refused: a batch leaf lives only under its root. */
static void test_leaf_outside(void **state)
{
	uint8_t *ders[1];
	size_t lens[1], h, l;
	struct parts pt;
	uint8_t *sd = NULL, *buf;
	size_t sl, off = 0;
	struct sc_profile *p = NULL;

	(void)state;
	make_batch(1, ders, lens);
	split(ders[0], &pt);
	/* SignedProfile = SEQUENCE { body (with [7]), the root's algorithm, signature, certs }. */
	tlv(ders[0], pt.root, &h, &l);
	{
		size_t th, tl, rest;

		tlv(ders[0], pt.root + h, &th, &tl);
		rest = l - th - tl;
		buf = malloc(lens[0] + 8);
		assert_non_null(buf);
		off = hdr_put(buf, 0x30, pt.body_len + rest);
		memcpy(buf + off, ders[0] + pt.body, pt.body_len);
		off += pt.body_len;
		memcpy(buf + off, ders[0] + pt.root + h + th + tl, rest);
		off += rest;
	}
	assert_int_equal(sc_profile_decode(buf, off, &p), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "tbsProfile.batch"));
	free(buf);
	(void)sd;
	(void)sl;
	free_batch(1, ders);
}

/* BATCH_ISSUE against an SP: its leaf issued and bound; replayed; another device's refused. */
static void test_sp(void **state)
{
	struct sc_test_sp tsp;
	uint8_t *ders[MAXN];
	size_t lens[MAXN];
	struct sc_buf b;
	struct sc_test_answer a;
	const uint8_t *c;
	uint32_t handle;
	size_t n;
	X509 *cert = NULL;
	struct sc_profile *p = NULL;
	struct sc_verify_opts o;
	STACK_OF(X509) *chain;

	(void)state;
	assert_int_equal(sc_test_sp_open(&tsp, NULL, world.device_id), SC_OK);
	assert_int_equal(sc_test_sp_personalize(&tsp, &world, SC_ALG_P256, SC_ALG_P256, 0, 8, 1),
	    SC_OK);
	make_batch(5, ders, lens);

	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_issue_req_put(&b, ders[0], lens[0]);
	assert_int_equal(sc_test_sp_call(&tsp, SC_SP_BATCH_ISSUE, b.data, b.len, &a), SC_OK);
	assert_int_equal(sp_issue_ans_get(&a.rd, &handle, &c, &n), SC_OK);
	assert_int_equal(sc_cert_from_der(c, n, &cert), SC_OK);
	sc_test_answer_free(&a);
	/* The relying party binds the certificate to the BatchedProfile it came from. */
	assert_int_equal(sc_batch_decode(ders[0], lens[0], &p), SC_OK);
	chain = sk_X509_new_null();
	assert_non_null(chain);
	assert_true(sk_X509_push(chain, tsp.csk_cert));
	assert_true(sk_X509_push(chain, world.mfr_ca));
	memset(&o, 0, sizeof(o));
	o.mfr_root = world.mfr_root;
	o.chain = chain;
	o.profile = p;
	o.net_root = world.net_root;
	if (sc_verify_chain(cert, &o, NULL) != SC_OK)
		fail_msg("verify: %s", sc_err_detail());
	sk_X509_free(chain);
	sc_profile_free(p);
	X509_free(cert);

	/* A replayed batch leaf: its profile ID is used. */
	assert_int_equal(sc_test_sp_call(&tsp, SC_SP_BATCH_ISSUE, b.data, b.len, &a),
	    SC_ERR_REPLAY);
	sc_test_answer_free(&a);
	sc_buf_free(&b);
	/* Another device's leaf of the same batch. */
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sp_issue_req_put(&b, ders[3], lens[3]);
	assert_int_equal(sc_test_sp_call(&tsp, SC_SP_BATCH_ISSUE, b.data, b.len, &a),
	    SC_ERR_DEVICE_MISMATCH);
	sc_test_answer_free(&a);
	/* Through ISSUE, a BatchedProfile is no SignedProfile. */
	assert_int_equal(sc_test_sp_call(&tsp, SC_SP_ISSUE, b.data, b.len, &a), SC_ERR_MALFORMED);
	sc_test_answer_free(&a);
	sc_buf_free(&b);
	free_batch(5, ders);

	/* audit17 item 10: a renewal body inside a batch is refused, as PROTOCOL.md says: usage,
	 * "use RENEW" (one certificate per leaf; a renewal profile is RENEW's). */
	{
		struct sc_profile *rb = NULL;
		struct sc_profile_params pp;
		time_t now = time(NULL);

		sc_test_profile_params(&world, &pp);
		pp.not_after = now + 7200;
		pp.renewal_count = 4;
		pp.renewal_cadence = 3600;
		assert_int_equal(sc_profile_create(&pp, &rb), SC_OK);
		assert_int_equal(sc_batch_sign(&rb, 1, world.signer_key, world.signer, ders, lens),
		    SC_OK);
		sc_profile_free(rb);
		sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
		sp_issue_req_put(&b, ders[0], lens[0]);
		assert_int_equal(sc_test_sp_call(&tsp, SC_SP_BATCH_ISSUE, b.data, b.len, &a),
		    SC_ERR_USAGE);
		assert_string_equal(a.detail, "issue: a renewal profile (use RENEW)");
		sc_test_answer_free(&a);
		sc_buf_free(&b);
		free_batch(1, ders);
	}
	sc_test_sp_close(&tsp);
}

/*
 * docs/FORMATS.md: a SignedBatchRoot is never RSASSA-PSS (provd's signer takes no PSS and
 * sc_batch_sign sets none), so the device refuses one: an RSA network's batch root as signed
 * (PKCS#1 v1.5) verifies; the same root signed again with PSS, a valid signature, is refused
 * with SC_ERR_PROFILE_SIGNATURE; an ordinary SignedProfile signed with PSS still verifies.
 */
static void test_pss_root(void **state)
{
	struct sc_test_world rw;
	struct sc_test_world_opts o = { .signer_alg = SC_ALG_RSA2048 };
	struct sc_profile *body = NULL, *p = NULL;
	struct sc_profile_params pp;
	struct sc_profile_info in;
	uint8_t *der = NULL;
	size_t len = 0;
	EVP_MD_CTX *m;
	EVP_PKEY_CTX *pc = NULL;

	(void)state;
	assert_int_equal(sc_test_world_make(&o, &rw), SC_OK);
	sc_test_profile_params(&rw, &pp);
	assert_int_equal(sc_profile_create(&pp, &body), SC_OK);
	assert_int_equal(sc_batch_sign(&body, 1, rw.signer_key, rw.signer, &der, &len), SC_OK);
	sc_profile_free(body);
	assert_int_equal(sc_batch_decode(der, len, &p), SC_OK);
	assert_int_equal(OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm),
	    NID_sha256WithRSAEncryption);
	assert_int_equal(sc_profile_verify_signature(p, rw.net_root, time(NULL)), SC_OK);

	/* The same tbsBatchRoot, signed with RSASSA-PSS by the same signer. */
	m = EVP_MD_CTX_new();
	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit(m, &pc, EVP_sha256(), NULL, rw.signer_key), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) > 0);
	assert_true(ASN1_item_sign_ctx(ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT), p->sp->signatureAlgorithm,
	                NULL, p->sp->signature, p->batch_root, m) > 0);
	EVP_MD_CTX_free(m);
	assert_int_equal(OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm), NID_rsassaPss);
	assert_int_equal(sc_profile_verify_signature(p, rw.net_root, time(NULL)),
	    SC_ERR_PROFILE_SIGNATURE);
	assert_string_equal(sc_err_detail(),
	    "signatureAlgorithm rsassaPss is not allowed for a batch root");
	sc_profile_get_info(p, &in);
	assert_true(in.has_batch);
	sc_profile_free(p);
	OPENSSL_free(der);

	/* An ordinary profile may be PSS (net profile --rsa-pss). */
	assert_int_equal(sc_profile_create(&pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, rw.signer_key, rw.signer, NULL, 1), SC_OK);
	assert_int_equal(OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm), NID_rsassaPss);
	assert_int_equal(sc_profile_verify_signature(p, rw.net_root, time(NULL)), SC_OK);
	sc_profile_free(p);

	/* The signing side: an RSA-PSS-typed key makes no batch root (selfcert net batch). */
	{
		EVP_PKEY *pss = NULL;
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);

		assert_non_null(kc);
		assert_int_equal(EVP_PKEY_keygen_init(kc), 1);
		assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048) > 0);
		assert_int_equal(EVP_PKEY_generate(kc, &pss), 1);
		EVP_PKEY_CTX_free(kc);
		assert_non_null(pss);
		assert_int_equal(sc_profile_create(&pp, &body), SC_OK);
		der = NULL;
		len = 0;
		assert_int_equal(sc_batch_sign(&body, 1, pss, rw.signer, &der, &len), SC_ERR_USAGE);
		assert_string_equal(sc_err_detail(),
		    "sc_batch_sign: an RSA-PSS key signs no batch root (devices refuse one)");
		assert_null(der);
		sc_profile_free(body);
		EVP_PKEY_free(pss);
	}
	sc_test_world_free(&rw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_signed_bodies),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_hostile_fields),
		cmocka_unit_test(test_leaf_outside),
		cmocka_unit_test(test_sp),
		cmocka_unit_test(test_pss_root),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
