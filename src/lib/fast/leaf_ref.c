// SPDX-License-Identifier: Apache-2.0
/*
 * leaf_ref.c — the registration shortcut of leaf_ref.h (issue 17): a renewal profile's
 * certificates judged against a sibling that passed sc_verify_chain, in DER, plus one signature.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <selfcert/alg.h>
#include <selfcert/cache.h>
#include <selfcert/oid.h>

#include "fast/fast.h"
#include "fast/leaf_ref.h"
#include "fast/spki.h"
#include "fast/x509.h"
#include "profile_key.h"
#include "text.h"

#define REF_EXTS_MAX 16
#define REF_CHAIN_MAX 16
#define SERIAL_MAX 20 /* RFC 5280 4.1.2.2: at most 20 octets */
#define SKID_LEN 20   /* SHA-1, as add_ski (cert.c) writes it */

/* One DER element: the whole TLV at p (len bytes), its contents at v (vlen bytes). */
struct tlv {
	const uint8_t *p, *v;
	size_t len, vlen;
	uint8_t tag;
};

/* A byte span inside the reference's own copy of its leaf. */
struct span {
	size_t off, len;
};

struct sc_leaf_ref {
	uint8_t *der; /* the reference leaf */
	size_t der_len;
	struct span version, sigalg, issuer, subject, outer_sigalg;
	struct span spki, spki_alg; /* the SPKI, its AlgorithmIdentifier TLV */
	size_t spki_len, point_len;
	int same_key; /* 1: every sibling has the reference's key (a supplied key) */
	struct span ext[REF_EXTS_MAX];
	size_t n_ext;
	int skid_at, iss_at;                 /* indexes into ext[]; -1: absent */
	struct span skid_prefix, iss_prefix; /* SKID ext minus its digest; issuance value's first
	                                        four fields (all but the counter) */
	uint8_t ext_tag;
	EC_GROUP *group;  /* the leaf keys' curve */
	EVP_PKEY *ca_pub; /* the device CA's key (up-referenced) */
	EVP_MD *md;       /* the signature's digest, fetched; NULL for a pure signature (Ed25519) */
	EVP_MD *sha256, *sha1; /* fetched once: the fingerprint's and the SKID's (reg8) */
	/*
	 * reg8: for an ECDSA device CA, a verify context made once with its key and digest; each
	 * sibling's check duplicates it (EVP_PKEY_CTX_dup only reads it, so threads may share it)
	 * and verifies the TBS's digest, instead of EVP_DigestVerifyInit's per-call provider fetch
	 * and key export. NULL: EVP_DigestVerifyInit per sibling, as before.
	 */
	EVP_PKEY_CTX *vctx;
	/*
	 * fleet12: 1 when the device CA's key is a legacy EC key and the signature
	 * ecdsa-with-SHA256: each sibling is verified with sc_fast_ecdsa_sha256_verify (the
	 * primitive OpenSSL's ECDSA provider runs, as the signature cache does), so no verify
	 * context (EVP_PKEY_verify_init's export of the key to the provider) is made per reference.
	 */
	int ec_sha256;
	int group_shared; /* 1: group is the process's P-256 group (p256_group), not freed */
	struct sc_profile_info info; /* scalars only are read (validity, renewal) */
	char device_id[SC_DEVICE_ID_MAX + 1];
	time_t chain_nb[REF_CHAIN_MAX], chain_na[REF_CHAIN_MAX];
	size_t n_chain;
	/*
	 * robust16: where the profile's own trust anchors (its signer certificates and the network
	 * root) are all valid, [anchor_nb, anchor_na); have_anchor 0: none recorded (no shortcut).
	 */
	time_t anchor_nb, anchor_na;
	int have_anchor;
};

/* ---- DER reading: definite, minimal lengths, one-byte tags ---- */

static int der_next(const uint8_t **pp, const uint8_t *end, struct tlv *t)
{
	const uint8_t *p = *pp;
	size_t len, n, i;

	if (end - p < 2 || (p[0] & 0x1f) == 0x1f)
		return 0;
	t->tag = p[0];
	len = p[1];
	p += 2;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 3 || (size_t)(end - p) < n || p[0] == 0)
			return 0;
		for (len = 0, i = 0; i < n; i++)
			len = (len << 8) | p[i];
		if (len < 0x80 || (n == 2 && len < 0x100) || (n == 3 && len < 0x10000))
			return 0;
		p += n;
	}
	if ((size_t)(end - p) < len)
		return 0;
	t->p = *pp;
	t->v = p;
	t->vlen = len;
	t->len = (size_t)(p + len - *pp);
	*pp = p + len;
	return 1;
}

/* The contents of a constructed element as n elements exactly; 0 if more, fewer or not DER. */
static int der_split(const struct tlv *in, struct tlv *out, size_t n)
{
	const uint8_t *p = in->v, *end = in->v + in->vlen;

	for (size_t i = 0; i < n; i++)
		if (!der_next(&p, end, &out[i]))
			return 0;
	return p == end;
}

static struct span span_of(const struct sc_leaf_ref *ref, const struct tlv *t)
{
	return (struct span){ (size_t)(t->p - ref->der), t->len };
}

static int same(const struct sc_leaf_ref *ref, struct span s, const uint8_t *p, size_t len)
{
	return s.len == len && memcmp(ref->der + s.off, p, len) == 0;
}

/* The certificate's three parts and its TBS's eight (v3, no unique IDs). */
static int split_cert(const uint8_t *der, size_t len, struct tlv *tbs, struct tlv *f,
    struct tlv *sigalg, struct tlv *sig)
{
	const uint8_t *p = der;
	struct tlv cert, parts[3];

	if (!der_next(&p, der + len, &cert) || p != der + len || cert.tag != 0x30 ||
	    !der_split(&cert, parts, 3) || parts[0].tag != 0x30 || !der_split(&parts[0], f, 8))
		return 0;
	*tbs = parts[0];
	*sigalg = parts[1];
	*sig = parts[2];
	return f[0].tag == 0xa0 && f[1].tag == 0x02 && f[4].tag == 0x30 && f[6].tag == 0x30 &&
	    f[7].tag == 0xa3 && sig->tag == 0x03 && sig->vlen >= 2 && sig->v[0] == 0;
}

/* The extensions of the TBS's [3] element, at most REF_EXTS_MAX of them. */
static int split_exts(const struct tlv *f7, struct tlv *ext, size_t *n)
{
	const uint8_t *p, *end;
	struct tlv seq;

	if (!der_split(f7, &seq, 1) || seq.tag != 0x30)
		return 0;
	p = seq.v;
	end = seq.v + seq.vlen;
	for (*n = 0; p < end; (*n)++)
		if (*n == REF_EXTS_MAX || !der_next(&p, end, &ext[*n]) || ext[*n].tag != 0x30)
			return 0;
	return *n > 0;
}

/*
 * An extension's OID element and its value's OCTET STRING (non-critical: no BOOLEAN): 1. 0 for
 * any other form, a critical one included; *oid is still its OID when the first element is one
 * (ref_exts names a critical SKID or issuance by it), else empty, never left unset.
 */
static int split_ext(const struct tlv *e, struct tlv *oid, struct tlv *val)
{
	struct tlv two[2], first;
	const uint8_t *p = e->v;

	memset(oid, 0, sizeof(*oid));
	if (der_next(&p, e->v + e->vlen, &first) && first.tag == 0x06)
		*oid = first;
	if (!der_split(e, two, 2) || two[0].tag != 0x06 || two[1].tag != 0x04)
		return 0;
	*oid = two[0];
	*val = two[1];
	return 1;
}

static int oid_is(const struct tlv *oid, int nid)
{
	const ASN1_OBJECT *o = OBJ_nid2obj(nid);

	return o != NULL && OBJ_length(o) == oid->vlen &&
	    memcmp(OBJ_get0_data(o), oid->v, oid->vlen) == 0;
}

/* The issuance value (SEQUENCE of five, docs/FORMATS.md): its first four fields' bytes, and
 * the counter as i2d writes a uint64 (a non-negative, minimal INTEGER). */
static int split_issuance(const struct tlv *val, struct tlv *prefix_end, uint64_t *counter)
{
	struct tlv seq, f[5];
	const uint8_t *p = val->v;

	if (!der_next(&p, val->v + val->vlen, &seq) || p != val->v + val->vlen || seq.tag != 0x30 ||
	    !der_split(&seq, f, 5) || f[4].tag != 0x02 || f[4].vlen < 1 || f[4].vlen > 9 ||
	    (f[4].v[0] & 0x80) != 0 ||
	    (f[4].vlen > 1 && f[4].v[0] == 0 && (f[4].v[1] & 0x80) == 0) ||
	    (f[4].vlen == 9 && f[4].v[0] != 0))
		return 0;
	*counter = 0;
	for (size_t i = 0; i < f[4].vlen; i++)
		*counter = (*counter << 8) | f[4].v[i];
	/* The first four, as one span: from the first field to the counter. */
	prefix_end->p = f[0].p;
	prefix_end->len = (size_t)(f[4].p - f[0].p);
	return 1;
}

/* A positive, minimal INTEGER of 1..20 octets, as the serial; its hex as BN_bn2hex (lower). */
static int serial_hex(const struct tlv *s, char *out)
{
	const uint8_t *v = s->v;
	size_t n = s->vlen;

	if (n < 1 || n > SERIAL_MAX + 1 || (v[0] & 0x80) != 0 ||
	    (n > 1 && v[0] == 0 && (v[1] & 0x80) == 0))
		return 0;
	if (v[0] == 0) {
		v++;
		n--;
	}
	if (n == 0 || n > SERIAL_MAX)
		return 0; /* zero is not a serial RFC 5280 allows: the full check judges it */
	sc_hex(v, n, out);
	return 1;
}

/* The DER of a time as ASN1_TIME_set writes it (build_cert's validity). */
static int time_der(time_t t, uint8_t *out, size_t *len)
{
	ASN1_TIME *a = ASN1_TIME_set(NULL, t);
	unsigned char *p = out;
	int n = a != NULL ? i2d_ASN1_TIME(a, NULL) : -1;

	if (n > 0 && (size_t)n <= *len)
		n = i2d_ASN1_TIME(a, &p);
	else
		n = -1;
	ASN1_TIME_free(a);
	if (n <= 0)
		return 0;
	*len = (size_t)n;
	return 1;
}

/* A whole-second UTCTime or GeneralizedTime (as path validation compares), as time_t. */
static int plain_time(const ASN1_TIME *t, time_t *out)
{
	int n = ASN1_STRING_length(t);
	const unsigned char *d = ASN1_STRING_get0_data(t);

	if (!((ASN1_STRING_type(t) == V_ASN1_UTCTIME && n == 13) ||
	        (ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME && n == 15)) ||
	    d[n - 1] != 'Z' || sc_asn1_time_to_time_t(t, out) != SC_OK) {
		sc_err_clear();
		return 0;
	}
	return 1;
}

const uint8_t *sc_leaf_ref_profile_id(const struct sc_leaf_ref *ref)
{
	return ref->info.id;
}

const char *sc_leaf_ref_device_id(const struct sc_leaf_ref *ref)
{
	return ref->device_id;
}

int sc_leaf_profile_id(const uint8_t *der, size_t len, uint8_t id[SC_PROFILE_ID_LEN])
{
	struct tlv tbs, f[8], sigalg, sig, ext[REF_EXTS_MAX], oid, val, seq, first;
	size_t n;
	const uint8_t *p;

	if (sc_oids_init() != SC_OK) {
		sc_err_clear();
		return 0;
	}
	if (!split_cert(der, len, &tbs, f, &sigalg, &sig) || !split_exts(&f[7], ext, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!split_ext(&ext[i], &oid, &val) || !oid_is(&oid, sc_nid_pe_issuance()))
			continue;
		p = val.v;
		if (!der_next(&p, val.v + val.vlen, &seq) || seq.tag != 0x30)
			return 0;
		p = seq.v;
		if (!der_next(&p, seq.v + seq.vlen, &first) || first.tag != 0x04 ||
		    first.vlen != SC_PROFILE_ID_LEN)
			return 0;
		memcpy(id, first.v, SC_PROFILE_ID_LEN);
		return 1;
	}
	return 0;
}

int sc_leaf_device_is(const uint8_t *der, size_t len, const char *device_id)
{
	static const uint8_t sn_oid[] = { 0x06, 0x03, 0x55, 0x04, 0x05 }; /* serialNumber */
	struct tlv tbs, f[8], sigalg, sig, rdn, atv, parts[2];
	const uint8_t *p, *end, *q;

	if (device_id == NULL || !split_cert(der, len, &tbs, f, &sigalg, &sig) || f[5].tag != 0x30)
		return 0;
	p = f[5].v;
	end = f[5].v + f[5].vlen;
	while (p < end) {
		if (!der_next(&p, end, &rdn) || rdn.tag != 0x31)
			return 0;
		q = rdn.v;
		while (q < rdn.v + rdn.vlen) {
			if (!der_next(&q, rdn.v + rdn.vlen, &atv) || atv.tag != 0x30 ||
			    !der_split(&atv, parts, 2))
				return 0;
			if (parts[0].len == sizeof(sn_oid) &&
			    memcmp(parts[0].p, sn_oid, sizeof(sn_oid)) == 0)
				/* the first serialNumber, as sc_cert_device_id reads it */
				return (parts[1].tag == 0x13 || parts[1].tag == 0x0c) &&
				    parts[1].vlen == strlen(device_id) &&
				    memcmp(parts[1].v, device_id, parts[1].vlen) == 0;
		}
	}
	return 0;
}

void sc_leaf_ref_free(struct sc_leaf_ref *ref)
{
	if (ref == NULL)
		return;
	OPENSSL_free(ref->der);
	if (!ref->group_shared)
		EC_GROUP_free(ref->group);
	EVP_PKEY_CTX_free(ref->vctx);
	EVP_MD_free(ref->md);
	EVP_MD_free(ref->sha256);
	EVP_MD_free(ref->sha1);
	EVP_PKEY_free(ref->ca_pub);
	OPENSSL_free(ref);
}

static int ref_time_of(struct sc_leaf_ref *ref, X509 *c)
{
	if (c == NULL)
		return 1;
	if (ref->n_chain == REF_CHAIN_MAX ||
	    !plain_time(X509_get0_notBefore(c), &ref->chain_nb[ref->n_chain]) ||
	    !plain_time(X509_get0_notAfter(c), &ref->chain_na[ref->n_chain]))
		return 0;
	ref->n_chain++;
	return 1;
}

/* robust16: the validity entries [from, n_chain) are the profile's trust anchors: their common
 * span narrows [anchor_nb, anchor_na). */
static void ref_anchor(struct sc_leaf_ref *ref, size_t from)
{
	for (size_t i = from; i < ref->n_chain; i++) {
		if (!ref->have_anchor || ref->chain_nb[i] > ref->anchor_nb)
			ref->anchor_nb = ref->chain_nb[i];
		if (!ref->have_anchor || ref->chain_na[i] < ref->anchor_na)
			ref->anchor_na = ref->chain_na[i];
		ref->have_anchor = 1;
	}
}

/*
 * The validity of every certificate a check at another time reads: the device's chain as shown
 * and the manufacturer root (path validation), the profile's signer certificates and the
 * network root (the profile's signature, verified at that time when the profile is not kept).
 */
static int ref_chain(struct sc_leaf_ref *ref, const struct sc_verify_opts *opts,
    const STACK_OF(X509) *profile_certs)
{
	int n = sk_X509_num(opts->chain), m = sk_X509_num(profile_certs);
	size_t net_at, prof_at;

	if (n < 1 || !ref_time_of(ref, opts->mfr_root))
		return 0;
	net_at = ref->n_chain;
	if (!ref_time_of(ref, opts->net_root))
		return 0;
	ref_anchor(ref, net_at);
	for (int i = 0; i < n; i++)
		if (!ref_time_of(ref, sk_X509_value(opts->chain, i)))
			return 0;
	prof_at = ref->n_chain;
	for (int i = 0; i < m; i++)
		if (!ref_time_of(ref, sk_X509_value(profile_certs, i)))
			return 0;
	ref_anchor(ref, prof_at);
	return 1;
}

/* fleet12: P-256's group, made once (EC_GROUP_new_by_curve_name per reference was ~0.14 M
 * instructions); only read afterwards (EC_POINT_new, EC_POINT_oct2point, is_on_curve take it
 * const), so every reference and thread may share it. */
static CRYPTO_ONCE p256_once = CRYPTO_ONCE_STATIC_INIT;
static EC_GROUP *p256_group;

static void p256_init(void)
{
	p256_group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

static int ref_group(struct sc_leaf_ref *ref, int nid)
{
	if (nid == NID_X9_62_prime256v1 && CRYPTO_THREAD_run_once(&p256_once, p256_init) &&
	    p256_group != NULL) {
		ref->group = p256_group;
		ref->group_shared = 1;
		return 1;
	}
	return (ref->group = EC_GROUP_new_by_curve_name(nid)) != NULL;
}

/* The leaf's EC key's curve (NID) and its signature algorithm (NID), read from its X509. */
static int ref_leaf_nids(X509 *leaf, int *group_nid, int *sig_nid)
{
	EVP_PKEY *pub = X509_get0_pubkey(leaf);
	char group[64];

	if (pub == NULL || EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	        NULL) ||
	    (*group_nid = OBJ_sn2nid(group)) == NID_undef)
		return 0;
	*sig_nid = X509_get_signature_nid(leaf);
	return 1;
}

/* The reference's key and signature: a P-256-style named curve (group_nid, an EC leaf key's),
 * an uncompressed point; the device CA's key and the digest of the signature algorithm
 * (sig_nid) both TBS and outer name. */
static int ref_keys(struct sc_leaf_ref *ref, int group_nid, int sig_nid,
    const struct sc_verify_opts *opts, const struct tlv *spki)
{
	X509 *ca = sk_X509_value(opts->chain, 0);
	struct tlv two[2];
	int md_nid = NID_undef, pk_nid = NID_undef;

	if (ca == NULL || !ref_group(ref, group_nid))
		return 0;
	if (!der_split(spki, two, 2) || two[0].tag != 0x30 || two[1].tag != 0x03 ||
	    two[1].vlen < 2 || two[1].v[0] != 0 || two[1].v[1] != POINT_CONVERSION_UNCOMPRESSED)
		return 0;
	ref->spki = span_of(ref, spki);
	ref->spki_alg = span_of(ref, &two[0]);
	ref->spki_len = spki->len;
	ref->point_len = two[1].vlen - 1;
	if (!OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) ||
	    (ref->ca_pub = X509_get_pubkey(ca)) == NULL ||
	    EVP_PKEY_get_base_id(ref->ca_pub) != pk_nid)
		return 0;
	if (md_nid != NID_undef && (ref->md = EVP_MD_fetch(NULL, OBJ_nid2sn(md_nid), NULL)) == NULL)
		return 0;
	if ((ref->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (ref->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL)
		return 0;
	/* fleet12: a legacy EC key under ecdsa-with-SHA256 needs no context (judge_signature). */
	ref->ec_sha256 = pk_nid == EVP_PKEY_EC && md_nid == NID_sha256 &&
	    EVP_PKEY_get0_provider(ref->ca_pub) == NULL;
	/* The shared verify context: ECDSA over a digest only (pk_nid EC, md set). */
	if (!ref->ec_sha256 && pk_nid == EVP_PKEY_EC && ref->md != NULL &&
	    ((ref->vctx = EVP_PKEY_CTX_new_from_pkey(NULL, ref->ca_pub, NULL)) == NULL ||
	        EVP_PKEY_verify_init(ref->vctx) != 1 ||
	        EVP_PKEY_CTX_set_signature_md(ref->vctx, ref->md) != 1))
		return 0;
	return 1;
}

/* The extensions: which is the SKID (its digest the key's) and which the issuance. */
static int ref_exts(struct sc_leaf_ref *ref, const struct tlv *f7)
{
	struct tlv ext[REF_EXTS_MAX], oid, val, inner, prefix;
	uint64_t counter;
	const uint8_t *p;

	ref->skid_at = ref->iss_at = -1;
	ref->ext_tag = f7->tag;
	if (!split_exts(f7, ext, &ref->n_ext))
		return 0;
	for (size_t i = 0; i < ref->n_ext; i++) {
		ref->ext[i] = span_of(ref, &ext[i]);
		if (!split_ext(&ext[i], &oid, &val)) {
			if (oid_is(&oid, NID_subject_key_identifier) ||
			    oid_is(&oid, sc_nid_pe_issuance()))
				return 0; /* critical: not the builder's */
			continue;
		}
		if (oid_is(&oid, NID_subject_key_identifier)) {
			p = val.v;
			if (ref->skid_at >= 0 || !der_next(&p, val.v + val.vlen, &inner) ||
			    inner.tag != 0x04 || inner.vlen != SKID_LEN || p != val.v + val.vlen)
				return 0;
			ref->skid_at = (int)i;
			ref->skid_prefix = (struct span){ ref->ext[i].off, ext[i].len - SKID_LEN };
		} else if (oid_is(&oid, sc_nid_pe_issuance())) {
			if (ref->iss_at >= 0 || !split_issuance(&val, &prefix, &counter))
				return 0;
			ref->iss_at = (int)i;
			ref->iss_prefix = span_of(ref, &prefix);
		}
	}
	return ref->iss_at >= 0;
}

static int ref_judge(const struct sc_leaf_ref *ref, const uint8_t *der, size_t len, time_t now,
    struct sc_leaf_fast *out, int sig_known);

/*
 * sc_leaf_ref_new's body. leaf NULL (renew13, sc_leaf_ref_new_der): the leaf's device ID, key
 * curve and signature algorithm given (dev, group_nid, sig_nid: what its X509 would answer).
 */
static sc_err ref_new(X509 *leaf, const char *dev_known, int group_nid, int sig_nid,
    const uint8_t *der, size_t len, const struct sc_verify_opts *opts, struct sc_leaf_ref **out)
{
	struct sc_leaf_ref *ref = NULL;
	struct tlv tbs, f[8], sigalg, sig;
	struct sc_leaf_fast self;
	sc_err r = SC_ERR_INTERNAL;
	char dev[SC_DEVICE_ID_MAX + 1];
	int sig_known;

	*out = NULL;
	if ((leaf == NULL && dev_known == NULL) || der == NULL || opts == NULL ||
	    opts->profile == NULL || opts->chain == NULL || opts->mfr_root == NULL ||
	    opts->net_root == NULL) {
		r = sc_fail(SC_ERR_USAGE, "sc_leaf_ref_new: a leaf accepted with its profile");
		goto out;
	}
	if ((r = sc_oids_init()) != SC_OK)
		goto out;
	if ((ref = OPENSSL_zalloc(sizeof(*ref))) == NULL ||
	    (ref->der = OPENSSL_memdup(der, len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "leaf reference");
		goto out;
	}
	ref->der_len = len;
	sc_profile_get_info(opts->profile, &ref->info);
	if (!ref_chain(ref, opts, ref->info.certs)) {
		r = sc_fail(SC_ERR_USAGE, "leaf reference: a validity the shortcut does not cover");
		goto out;
	}
	/* Only the scalars are read later: the pointers belong to the profile. */
	ref->info.eku = NULL;
	ref->info.san = NULL;
	ref->info.supplied_pub = NULL;
	ref->info.signer = NULL;
	ref->info.certs = NULL;
	ref->info.sig_alg = NULL;
	ref->same_key = ref->info.origin == SC_KEY_SERVER_SUPPLIED;
	if (leaf != NULL ? sc_cert_device_id(leaf, dev, sizeof(dev)) != SC_OK
	                 : snprintf(dev, sizeof(dev), "%s", dev_known) >= (int)sizeof(dev)) {
		r = sc_fail(SC_ERR_USAGE, "leaf reference: no device ID");
		goto out;
	}
	memcpy(ref->device_id, dev, sizeof(dev));
	if (!split_cert(ref->der, len, &tbs, f, &sigalg, &sig) ||
	    (leaf != NULL && !ref_leaf_nids(leaf, &group_nid, &sig_nid)) ||
	    !ref_keys(ref, group_nid, sig_nid, opts, &f[6]) || !ref_exts(ref, &f[7])) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_USAGE, "leaf reference: a form the shortcut does not cover");
		goto out;
	}
	ref->version = span_of(ref, &f[0]);
	ref->sigalg = span_of(ref, &f[2]);
	ref->issuer = span_of(ref, &f[3]);
	ref->subject = span_of(ref, &f[5]);
	ref->outer_sigalg = span_of(ref, &sigalg);
	/* The template must reproduce its own leaf (validity encoding, SKID, signature): else its
	 * assumptions do not hold for this profile and the full check stays in charge. fleet12:
	 * the signature is not verified a second time when opts->sig_cache holds it as verified
	 * under the device CA's key (the path validation that just accepted this leaf put it
	 * there): the same fact judge_signature would establish, on these exact bytes. */
	sig_known = sc_sig_cache_has(opts->sig_cache, der, len, sk_X509_value(opts->chain, 0));
	if (!ref_judge(ref, der, len, opts->at != 0 ? opts->at : time(NULL), &self, sig_known)) {
		r = sc_fail(SC_ERR_USAGE, "leaf reference: does not reproduce its own leaf");
		goto out;
	}
	*out = ref;
	ref = NULL;
	r = SC_OK;
out:
	sc_leaf_ref_free(ref);
	return r;
}

sc_err sc_leaf_ref_new(X509 *leaf, const uint8_t *der, size_t len,
    const struct sc_verify_opts *opts, struct sc_leaf_ref **out)
{
	if (leaf == NULL) {
		*out = NULL;
		return sc_fail(SC_ERR_USAGE, "sc_leaf_ref_new: a leaf accepted with its profile");
	}
	return ref_new(leaf, NULL, NID_undef, NID_undef, der, len, opts, out);
}

/* The SPKI: the reference's algorithm, an uncompressed point of its length on its curve. */
static int judge_spki(const struct sc_leaf_ref *ref, const struct tlv *spki, const uint8_t **pt,
    size_t *pt_len)
{
	struct tlv two[2];
	EC_POINT *point;
	int ok;

	if (spki->len != ref->spki_len || !der_split(spki, two, 2) ||
	    !same(ref, ref->spki_alg, two[0].p, two[0].len) || two[1].tag != 0x03 ||
	    two[1].vlen != ref->point_len + 1 || two[1].v[0] != 0)
		return 0;
	*pt = two[1].v + 1;
	*pt_len = ref->point_len;
	if (ref->same_key) /* a supplied key: the same bytes, nothing else */
		return same(ref, ref->spki, spki->p, spki->len);
	if ((*pt)[0] != POINT_CONVERSION_UNCOMPRESSED || (point = EC_POINT_new(ref->group)) == NULL)
		return 0;
	ok = EC_POINT_oct2point(ref->group, point, *pt, *pt_len, NULL) == 1 &&
	    EC_POINT_is_on_curve(ref->group, point, NULL) == 1 &&
	    !EC_POINT_is_at_infinity(ref->group, point);
	EC_POINT_free(point);
	return ok;
}

/* The extensions: the reference's, except the SKID's digest (of this key) and the counter. */
static int judge_exts(const struct sc_leaf_ref *ref, const struct tlv *f7, const uint8_t *pt,
    size_t pt_len, uint64_t *counter)
{
	struct tlv ext[REF_EXTS_MAX], oid, val, prefix;
	uint8_t md[SKID_LEN];
	size_t n;

	if (f7->tag != ref->ext_tag || !split_exts(f7, ext, &n) || n != ref->n_ext)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((int)i == ref->skid_at) {
			if (ext[i].len != ref->ext[i].len ||
			    memcmp(ext[i].p, ref->der + ref->skid_prefix.off,
			        ref->skid_prefix.len) != 0 ||
			    !EVP_Digest(pt, pt_len, md, NULL, ref->sha1, NULL) ||
			    memcmp(ext[i].p + ref->skid_prefix.len, md, SKID_LEN) != 0)
				return 0;
		} else if ((int)i == ref->iss_at) {
			if (!split_ext(&ext[i], &oid, &val) ||
			    !oid_is(&oid, sc_nid_pe_issuance()) ||
			    !split_issuance(&val, &prefix, counter) ||
			    !same(ref, ref->iss_prefix, prefix.p, prefix.len))
				return 0;
		} else if (!same(ref, ref->ext[i], ext[i].p, ext[i].len))
			return 0;
	}
	return 1;
}

/* The validity: a period of the profile, encoded as the builder encodes it; *at the time the
 * registration path validates at. */
static int judge_validity(const struct sc_leaf_ref *ref, const struct tlv *v, time_t now,
    struct sc_leaf_fast *out, time_t *at)
{
	struct tlv two[2];
	uint8_t a[32], b[32];
	size_t la = sizeof(a), lb = sizeof(b);
	const unsigned char *p;
	ASN1_TIME *t = NULL;
	time_t nb = 0, d;
	const struct sc_profile_info *in = &ref->info;

	if (!der_split(v, two, 2))
		return 0;
	p = two[0].p;
	if ((t = d2i_ASN1_TIME(NULL, &p, (long)two[0].len)) == NULL || !plain_time(t, &nb)) {
		ASN1_TIME_free(t);
		ERR_clear_error();
		return 0;
	}
	ASN1_TIME_free(t);
	out->index = 0;
	out->renewal = in->renewal_count > 0;
	if (in->renewal_count > 0) {
		d = nb - in->not_before;
		if (d < 0 || in->renewal_cadence == 0 || d % (time_t)in->renewal_cadence != 0 ||
		    d / (time_t)in->renewal_cadence >= (time_t)in->renewal_count)
			return 0;
		out->index = (uint32_t)(d / (time_t)in->renewal_cadence);
	}
	sc_profile_leaf_validity(in, out->index, &out->not_before, &out->not_after);
	if (!time_der(out->not_before, a, &la) || !time_der(out->not_after, b, &lb) ||
	    two[0].len != la || memcmp(two[0].p, a, la) != 0 || two[1].len != lb ||
	    memcmp(two[1].p, b, lb) != 0)
		return 0;
	/* cert_verify (h_enroll.c): a renewal certificate registered early is judged when it
	 * starts, one registered late (late15) at its last second. */
	*at = sc_profile_leaf_judged_at(in, out->not_before, out->not_after, now);
	if (!(out->not_before <= *at && *at < out->not_after))
		return 0;
	for (size_t i = 0; i < ref->n_chain; i++)
		if (!(ref->chain_nb[i] <= *at && *at < ref->chain_na[i]))
			return 0;
	return 1;
}

static int judge_signature(const struct sc_leaf_ref *ref, const struct tlv *tbs,
    const struct tlv *sig)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_PKEY_CTX *c;
	EVP_MD_CTX *m;
	int ok, done = 0;

	if (ref->ec_sha256) {
		/* The same verification as EVP_DigestVerify with the provider: SHA-256 of the TBS,
		 * then ECDSA_verify (strict DER signature) on the CA's key. */
		sc_fast_ecdsa_sha256_verify(ref->ca_pub, tbs->p, tbs->len, sig->v + 1,
		    sig->vlen - 1, &done, &ok);
		if (done)
			return ok;
	}
	if (ref->vctx != NULL) {
		/* The same verification as EVP_DigestVerify: the TBS's digest, then ECDSA over it. */
		ok = EVP_Digest(tbs->p, tbs->len, md, &md_len, ref->md, NULL) == 1 &&
		    (c = EVP_PKEY_CTX_dup(ref->vctx)) != NULL;
		if (ok) {
			ok = EVP_PKEY_verify(c, sig->v + 1, sig->vlen - 1, md, md_len) == 1;
			EVP_PKEY_CTX_free(c);
		}
		return ok;
	}
	m = EVP_MD_CTX_new();
	ok = m != NULL && EVP_DigestVerifyInit(m, NULL, ref->md, NULL, ref->ca_pub) == 1 &&
	    EVP_DigestVerify(m, sig->v + 1, sig->vlen - 1, tbs->p, tbs->len) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

/* sig_known 1: the caller holds this DER's signature as verified under the device CA's key
 * (sc_leaf_ref_new's own leaf, found in the signature cache), so it is not verified again. */
static int ref_judge(const struct sc_leaf_ref *ref, const uint8_t *der, size_t len, time_t now,
    struct sc_leaf_fast *out, int sig_known)
{
	struct tlv tbs, f[8], sigalg, sig;
	const uint8_t *pt = NULL;
	size_t pt_len = 0;
	time_t at;
	int ok;

	memset(out, 0, sizeof(*out));
	ok = ref != NULL && der != NULL && split_cert(der, len, &tbs, f, &sigalg, &sig) &&
	    same(ref, ref->version, f[0].p, f[0].len) && serial_hex(&f[1], out->serial) &&
	    same(ref, ref->sigalg, f[2].p, f[2].len) && same(ref, ref->issuer, f[3].p, f[3].len) &&
	    same(ref, ref->subject, f[5].p, f[5].len) &&
	    same(ref, ref->outer_sigalg, sigalg.p, sigalg.len) &&
	    judge_validity(ref, &f[4], now, out, &at) && judge_spki(ref, &f[6], &pt, &pt_len) &&
	    judge_exts(ref, &f[7], pt, pt_len, &out->counter) &&
	    (sig_known || judge_signature(ref, &tbs, &sig)) &&
	    EVP_Digest(der, len, out->fpr, NULL, ref->sha256, NULL);
	ERR_clear_error();
	if (!ok)
		memset(out, 0, sizeof(*out));
	return ok;
}

int sc_leaf_ref_judge(const struct sc_leaf_ref *ref, const uint8_t *der, size_t len, time_t now,
    struct sc_leaf_fast *out)
{
	return ref_judge(ref, der, len, now, out, 0);
}

/* Declared in leaf_ref.h (robust16). */
int sc_leaf_ref_anchors_valid(const struct sc_leaf_ref *ref, time_t now)
{
	return ref != NULL && ref->have_anchor && ref->anchor_nb <= now && now < ref->anchor_na;
}

/* ---- judge9: a device's first certificate against the builder's output ---- */

/* ecdsa-with-SHA256 without parameters; id-ecPublicKey on prime256v1 (the only forms judged). */
static const uint8_t ecdsa_sha256_alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x04, 0x03, 0x02 };
static const uint8_t ec_p256_alg[] = { 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
	0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

static int tlv_is(const struct tlv *t, const uint8_t *b, size_t n)
{
	return t->len == n && memcmp(t->p, b, n) == 0;
}

/* The issuance extension's counter (non-critical, the builder's form); 0 if none. */
static int first_counter(const struct tlv *f7, uint64_t *counter)
{
	struct tlv ext[REF_EXTS_MAX], oid, val, prefix;
	size_t n = 0;
	int found = 0;

	if (!split_exts(f7, ext, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!split_ext(&ext[i], &oid, &val)) {
			if (oid_is(&oid, sc_nid_pe_issuance()))
				return 0;
			continue;
		}
		if (oid_is(&oid, sc_nid_pe_issuance())) {
			if (found || !split_issuance(&val, &prefix, counter))
				return 0;
			found = 1;
		}
	}
	return found;
}

/*
 * The chain above the leaf as path validation with the leaf would judge it: strict validation
 * of the device CA (chain[0]) to the root, at `at` or (at 0) with no time checked, the path it
 * builds exactly the chain and the root, the device CA a CA that may sign certificates, and
 * every pathLen counted with the leaf below (X509_verify_cert checks pathLen only above index 1:
 * with the device CA as the target the manufacturer CA's is not checked), no proxy or policy
 * extension. *path: the validated path (the caller's, sk_X509_pop_free), if path is not NULL.
 * first_chain's (at the judged time) and, schema 8, sc_chain_verdict's (time-free, at every pin
 * writer): one code, so that a recorded verdict is this function's answer on the same bytes.
 */
static int chain_strict(STACK_OF(X509) *chain, X509 *root, struct sc_sig_cache *sigs, time_t at,
    STACK_OF(X509) **path)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *up = NULL, *got = NULL;
	int n = sk_X509_num(chain), ok = 0, plen = 0;
	X509 *ca;

	if (path != NULL)
		*path = NULL;
	if (n < 1 || root == NULL || (ca = sk_X509_value(chain, 0)) == NULL ||
	    (up = sk_X509_new_null()) == NULL)
		goto out;
	for (int i = 1; i < n; i++)
		if (!sk_X509_push(up, sk_X509_value(chain, i)))
			goto out;
	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_add_cert(store, root) || !X509_STORE_CTX_init(ctx, store, ca, up) ||
	    sc_sig_cache_attach(ctx, sigs) != SC_OK)
		goto out;
	if (at != 0) {
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
		    X509_V_FLAG_X509_STRICT);
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	} else {
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
		    X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME);
	}
	if (X509_verify_cert(ctx) != 1 || (got = X509_STORE_CTX_get1_chain(ctx)) == NULL ||
	    sk_X509_num(got) != n + 1 || X509_cmp(sk_X509_value(got, n), root) != 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(got, i), sk_X509_value(chain, i)) != 0)
			goto out;
	if (X509_check_ca(ca) != 1 || (X509_get_key_usage(ca) & KU_KEY_CERT_SIGN) == 0)
		goto out;
	for (int k = 0; k <= n; k++) {
		X509 *x = sk_X509_value(got, k);
		long pl = X509_get_pathlen(x);

		/* Policy constraints, mappings or inhibitAnyPolicy could judge a policy-less leaf
		 * otherwise than its CA: such a chain is not judged here. */
		if ((X509_get_extension_flags(x) & EXFLAG_PROXY) != 0 ||
		    (k >= 1 && pl != -1 && plen > pl) ||
		    X509_get_ext_by_NID(x, NID_policy_constraints, -1) >= 0 ||
		    X509_get_ext_by_NID(x, NID_policy_mappings, -1) >= 0 ||
		    X509_get_ext_by_NID(x, NID_inhibit_any_policy, -1) >= 0)
			goto out;
		if ((X509_get_extension_flags(x) & EXFLAG_SI) == 0)
			plen++;
	}
	ok = 1;
	if (path != NULL) {
		*path = got;
		got = NULL;
	}
out:
	sk_X509_pop_free(got, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(up);
	return ok;
}

/* The judge's chain check: chain_strict at the time judged (never 0: time(NULL) at least). */
static int first_chain(const struct sc_verify_opts *opts, time_t at, STACK_OF(X509) **path)
{
	return at != 0 && chain_strict(opts->chain, opts->mfr_root, opts->sig_cache, at, path);
}

/*
 * schema 8: the rules a verdict was reached under. Their author's revision of chain_strict and
 * the running libcrypto build (its strict block has changed across releases, patch releases
 * and distributions' backports included), so that a verdict recorded by another build reads as
 * none. 0 (no verdict can be recorded) only if the digest cannot be made.
 */
uint32_t sc_chain_rules(void)
{
	static _Atomic uint32_t rules; /* computed once; racing threads compute the same value */
	uint32_t v = atomic_load(&rules);
	uint8_t md[32];
	char id[1024];
	int n;

	if (v != 0)
		return v;
	/*
	 * schema14's review: the version number alone does not name the build (distributions
	 * backport fixes to X509_verify_cert under one version number: Debian's 3.0.19-1~deb12u1
	 * and u2 both say 3.0.19), so the build's own strings go in too: any rebuild of libcrypto
	 * makes every recorded verdict read as none.
	 */
	n = snprintf(id, sizeof(id), "selfcert chain rules %u|%s|%s|%s|%s", SC_CHAIN_RULES_REV,
	    OpenSSL_version(OPENSSL_FULL_VERSION_STRING), OpenSSL_version(OPENSSL_BUILT_ON),
	    OpenSSL_version(OPENSSL_PLATFORM), OpenSSL_version(OPENSSL_CFLAGS));
	if (n < 0 || (size_t)n >= sizeof(id) ||
	    EVP_Digest(id, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	v = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
	if (v == 0)
		v = 1; /* 0 is "no verdict" */
	atomic_store(&rules, v);
	return v;
}

int sc_chain_one_path(STACK_OF(X509) *chain, X509 *root)
{
	int n = sk_X509_num(chain);

	if (n < 1 || root == NULL)
		return 0;
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);
		X509 *up = i + 1 < n ? sk_X509_value(chain, i + 1) : root;

		if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(up)) != 0)
			return 0;
		for (int j = i + 1; j <= n; j++) {
			X509 *y = j < n ? sk_X509_value(chain, j) : root;

			if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(y)) == 0)
				return 0;
		}
	}
	return 1;
}

uint32_t sc_chain_verdict(STACK_OF(X509) *chain, X509 *mfr_root, struct sc_sig_cache *sigs)
{
	uint32_t rules = sc_chain_rules();
	int ok;

	if (rules == 0 || chain == NULL || sk_X509_num(chain) < 1 ||
	    sk_X509_num(chain) > REF_CHAIN_MAX || mfr_root == NULL)
		return 0;
	/* first9's one path too: what provd requires before it relies on a pin for the judge. */
	ok = sc_chain_one_path(chain, mfr_root) && chain_strict(chain, mfr_root, sigs, 0, NULL);
	ERR_clear_error();
	return ok ? rules : 0;
}

/*
 * The leaf's own checks of path validation, on the builder's certificate (its names and
 * extensions are the leaf's, byte for byte): not a CA, no unhandled critical extension, the
 * strict form (non-empty names, a subjectAltName not empty, an AKID with a key ID only, v3), and
 * the name constraints of every certificate of the path, the common name included.
 */
static int first_leaf_form(X509 *want, STACK_OF(X509) *path)
{
	uint32_t fl = X509_get_extension_flags(want);
	GENERAL_NAMES *san;
	int crit = -1, ok;

	if ((fl & (EXFLAG_CA | EXFLAG_CRITICAL | EXFLAG_PROXY | EXFLAG_INVALID)) != 0 ||
	    X509_check_ca(want) != 0 || (X509_get_key_usage(want) & KU_KEY_CERT_SIGN) != 0 ||
	    X509_get_pathlen(want) != -1 || X509_get_version(want) != X509_VERSION_3 ||
	    X509_NAME_entry_count(X509_get_issuer_name(want)) == 0 ||
	    X509_NAME_entry_count(X509_get_subject_name(want)) == 0 ||
	    X509_get0_authority_key_id(want) == NULL || X509_get0_authority_issuer(want) != NULL ||
	    X509_get0_authority_serial(want) != NULL)
		return 0;
	san = X509_get_ext_d2i(want, NID_subject_alt_name, &crit, NULL);
	ok = san != NULL ? sk_GENERAL_NAME_num(san) > 0 : crit == -1;
	GENERAL_NAMES_free(san);
	for (int k = 0; ok && k < sk_X509_num(path); k++) {
		NAME_CONSTRAINTS *nc = X509_get_ext_d2i(sk_X509_value(path, k),
		    NID_name_constraints, &crit, NULL);

		if (nc == NULL) {
			ok = crit == -1;
			continue;
		}
		ok = NAME_CONSTRAINTS_check(want, nc) == X509_V_OK &&
		    NAME_CONSTRAINTS_check_CN(want, nc) == X509_V_OK;
		NAME_CONSTRAINTS_free(nc);
	}
	return ok;
}

/* The builder's TBS for this leaf's key and counter, field by field against the leaf's but
 * the serial (the SP's choice; its form checked by the caller). */
static int first_same(X509 *want, const struct tlv *f)
{
	unsigned char *wder = NULL;
	struct tlv wtbs, wf[8];
	const uint8_t *p;
	int n, ok = 0;

	/* The builder leaves an unsigned certificate's signature algorithm unset: the one the leaf
	 * must carry (checked by the caller), so that the TBS encodes; then compared like the rest. */
	if (X509_ALGOR_set0((X509_ALGOR *)X509_get0_tbs_sigalg(want),
	        OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL) != 1 ||
	    (n = i2d_re_X509_tbs(want, &wder)) <= 0)
		goto out;
	p = wder;
	if (!der_next(&p, wder + n, &wtbs) || p != wder + n || !der_split(&wtbs, wf, 8))
		goto out;
	ok = 1;
	for (int i = 0; ok && i < 8; i++)
		if (i != 1)
			ok = f[i].len == wf[i].len && memcmp(f[i].p, wf[i].p, f[i].len) == 0;
out:
	OPENSSL_free(wder);
	return ok;
}

/* judge12: which form check the last sc_leaf_first_judge of this thread ran (tests). */
static _Thread_local int last_form;

int sc_leaf_first_judge_last_form(void)
{
	return last_form;
}

/*
 * judge12: the leaf's whole TBS against the builder's in DER (sc_fast_expected_tbs_der), under
 * an issuer made from the device CA alone, with the leaf's own serial and the one signature
 * algorithm judged: one memcmp, no X509 of the expected leaf. The builder's SPKI takes the
 * leaf's point as its encoding of pub (sc_fast_spki_known_set): pub was decoded from exactly
 * those 65 bytes by sc_fast_p256_key, which takes an uncompressed point only, and OpenSSL's
 * decoder refuses coordinates >= p, so the point's encoding is unique and these are the bytes
 * pub would be encoded to. 1: equal (*shape: what the builder wrote); 0: anything else,
 * the builder's refusal included (the X509 builder would refuse with the same checks).
 */
static int first_der_same(const struct sc_profile *p, const struct sc_leaf_issuer *li,
    EVP_PKEY *pub, const struct tlv *tbs, const struct tlv *f, const struct tlv *bits,
    uint64_t counter, uint32_t index, struct sc_leaf_tbs_shape *shape)
{
	uint8_t *want = NULL;
	size_t want_len = 0;
	int ok = 0;

	if (bits->vlen < 2 || li == NULL)
		return 0;
	sc_fast_spki_known_set(pub, bits->v + 1, bits->vlen - 1);
	if (sc_fast_expected_tbs_der_at(p, pub, li, counter, index, f[1].v, f[1].vlen,
	        ecdsa_sha256_alg, sizeof(ecdsa_sha256_alg), &want, &want_len, shape) == SC_OK)
		ok = want_len == tbs->len && memcmp(want, tbs->p, want_len) == 0;
	sc_fast_spki_known_clear();
	OPENSSL_free(want);
	return ok;
}

/*
 * judge12: path validation's leaf checks for a TBS equal to the builder's DER (first_der_same),
 * from what the builder wrote, where first_leaf_form reads them from the builder's X509.
 * 1: they pass; 0: they fail (the full check refuses); -1: a path this does not decide (name
 * constraints other than the device CA's own known form): the caller checks the X509.
 *
 * By construction of every TBS the builder (leaf_tbs, cert.c) writes: version 3; basicConstraints
 * critical with cA FALSE and no pathLen; keyUsage critical; extKeyUsage, subjectAltName, SKID,
 * AKID and the issuance extension non-critical, each once, so no unhandled critical extension,
 * no duplicate, no proxyCertInfo; the AKID is the device CA's SKID alone (add_aki; a CA without
 * one builds nothing); the issuer is the CA's subject, which has the serialNumber the issuer was
 * made from; the subject has the serialNumber attribute. What the profile chooses is checked
 * here: a keyUsage without keyCertSign and not empty, a subjectAltName absent or not empty.
 *
 * Name constraints: none above the device CA (else -1). The device CA's own, if any, must be
 * one of the two forms sc_cert_device_ca_form_of recognises for this device ID (a critical
 * extension of exactly one permitted subtree, nothing excluded, no minimum or maximum; else -1):
 *  V1 directoryName serialNumber=<id>, its value a PrintableString or UTF8String (shape->form
 *     is NONE otherwise, device_ca_form in cert.c): the subject's first RDN is serialNumber=<id>
 *     (the same text, so the same canonical form: a prefix of the subject's); the CN is no dNSName constraint's
 *     business (there is none); a subjectAltName directoryName is not reasoned about (-1).
 *  V2 dNSName <id>.selfcert.invalid: every subjectAltName dNSName is within it (leaf_san_as
 *     refuses others, builder error: first_der_same 0); no other name type is constrained; the
 *     CN is read as a DNS name only if it has a '.' (OpenSSL's cn2dnsid): such a CN is -1.
 */
static int first_der_form(const struct sc_leaf_tbs_shape *shape, int nc_above, int nc_self)
{
	if (shape->ku == 0 || (shape->ku & KU_KEY_CERT_SIGN) != 0 || shape->san_n == 0)
		return 0;
	if (nc_above)
		return -1;
	if (!nc_self)
		return 1;
	if (shape->form == SC_DEVICE_CA_V1)
		return shape->san_dirname ? -1 : 1;
	if (shape->form == SC_DEVICE_CA_V2)
		return shape->cn_dotted ? -1 : 1;
	return -1;
}

/*
 * renew13: which certificate of a renewal profile the leaf claims to be, from its notBefore (its
 * validity's first time, as verify.c's renewal_index_of reads it: sc_profile_leaf_index). 1 with
 * *index (0 for an ordinary profile); 0 for any other time or encoding (the full check refuses
 * it or decides). Only a guess of which period's TBS to build: the TBS comparison with that
 * period's builder output decides.
 */
static int first_index(const struct sc_profile_info *in, const struct tlv *validity,
    uint32_t *index)
{
	struct tlv two[2];
	const unsigned char *p;
	ASN1_TIME *t = NULL;
	time_t nb = 0;
	int ok;

	*index = 0;
	if (in->renewal_count == 0)
		return 1;
	if (validity->tag != 0x30 || !der_split(validity, two, 2))
		return 0;
	p = two[0].p;
	ok = (t = d2i_ASN1_TIME(NULL, &p, (long)two[0].len)) != NULL &&
	    p == two[0].p + two[0].len && plain_time(t, &nb);
	ASN1_TIME_free(t);
	ERR_clear_error();
	return ok && sc_profile_leaf_index(in, nb, index);
}

/* 1 if the extension ext (a TLV of the [3] list) is nid's; its parts: OID, [critical], value. */
static int ext_parts(const struct tlv *e, struct tlv *oid, int *critical, struct tlv *val)
{
	struct tlv three[3];

	*critical = 0;
	if (der_split(e, three, 2)) {
		*oid = three[0];
		*val = three[1];
	} else if (der_split(e, three, 3) && three[1].tag == 0x01 && three[1].vlen == 1 &&
	    three[1].v[0] == 0xff) {
		/* DER's TRUE only (a FALSE is the DEFAULT, never encoded). */
		*oid = three[0];
		*val = three[2];
		*critical = 1;
	} else {
		return 0;
	}
	return oid->tag == 0x06 && val->tag == 0x04;
}

/*
 * schema14: what a strict-verdict chain's device CA gives the expected TBS, from its DER: the
 * issuer (sc_leaf_issuer_new_der: its subject's TLV, its SKID's value, its name constraints
 * when of a known form) and *nc_self (it has a nameConstraints extension). NULL for anything
 * else (a duplicate SKID or nameConstraints, a non-critical nameConstraints, a form not
 * covered, a certificate not of the v3 shape): the caller takes the X509 path.
 */
static struct sc_leaf_issuer *issuer_from_der(const uint8_t *der, size_t len, int *nc_self)
{
	struct tlv tbs, f[8], sigalg, sig, ext[REF_EXTS_MAX], oid, val, skid = { 0 }, nc = { 0 };
	struct sc_leaf_issuer *li = NULL;
	size_t n = 0;
	int crit, have_skid = 0, have_nc = 0;

	*nc_self = 0;
	if (!split_cert(der, len, &tbs, f, &sigalg, &sig) || f[5].tag != 0x30 ||
	    !split_exts(&f[7], ext, &n))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!ext_parts(&ext[i], &oid, &crit, &val))
			return NULL;
		if (oid_is(&oid, NID_subject_key_identifier)) {
			if (have_skid++)
				return NULL;
			skid = val;
		} else if (oid_is(&oid, NID_name_constraints)) {
			if (have_nc++ || !crit)
				return NULL;
			nc = val;
		}
	}
	if (!have_skid ||
	    sc_leaf_issuer_new_der(f[5].p, f[5].len, skid.v, skid.vlen, have_nc ? nc.v : NULL,
	        have_nc ? nc.vlen : 0, &li) != SC_OK)
		return NULL;
	*nc_self = have_nc;
	return li;
}

/* schema14: 1 if any extension of the certificate der is a nameConstraints, 0 if none, -1 if
 * its extensions are not of the shape read here. */
static int der_has_nc(const uint8_t *der, size_t len)
{
	struct tlv tbs, f[8], sigalg, sig, ext[REF_EXTS_MAX], oid, val;
	size_t n = 0;
	int crit;

	if (!split_cert(der, len, &tbs, f, &sigalg, &sig) || !split_exts(&f[7], ext, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!ext_parts(&ext[i], &oid, &crit, &val))
			return -1;
		if (oid_is(&oid, NID_name_constraints))
			return 1;
	}
	return 0;
}

/* provd's valid_at: strictly inside the validity (a subset of what X509_verify_cert takes). */
static int inside(int64_t nb, int64_t na, time_t at)
{
	return nb < (int64_t)at && (int64_t)at < na;
}

/*
 * The first judge, from the device CA as an X509 (cd NULL: opts->chain, first_chain at the time
 * judged) or (schema14) from the chain's DER with a recorded strict verdict (cd).
 */
static int first_judge(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    const struct sc_first_chain_der *cd, struct sc_leaf_fast *out)
{
	struct tlv tbs, f[8], sigalg, sig, spki[2];
	struct sc_profile_info info;
	struct sc_leaf_tbs_shape shape;
	struct sc_leaf_issuer *li = NULL;
	STACK_OF(X509) *path = NULL;
	EVP_PKEY *pub = NULL, *ca_pub;
	X509 *want = NULL, *ca = NULL;
	const EVP_MD *md;
	time_t at, want_nb, want_na;
	uint32_t index = 0;
	int done = 0, ok = 0, form, nc_self = 0, nc_above = 0;

	memset(out, 0, sizeof(*out));
	last_form = 0;
	if (!sc_fast_enabled() || der == NULL || opts == NULL || opts->profile == NULL ||
	    !opts->profile_trusted || opts->mfr_root == NULL || opts->allowed_networks == NULL ||
	    opts->allowed_networks[0] == NULL || opts->allowed_networks[1] != NULL ||
	    sc_oids_init() != SC_OK)
		goto out;
	if (cd == NULL) {
		if (opts->chain == NULL || sk_X509_num(opts->chain) < 1 ||
		    sk_X509_num(opts->chain) > REF_CHAIN_MAX)
			goto out;
		ca = sk_X509_value(opts->chain, 0);
		ca_pub = X509_get0_pubkey(ca);
	} else {
		/* The verdict of this build's rules only (another build's is none). */
		if (cd->n < 1 || cd->n > SC_FIRST_CHAIN_MAX || cd->ca_key == NULL ||
		    cd->verdict == 0 || cd->verdict != sc_chain_rules())
			goto out;
		ca_pub = cd->ca_key;
	}
	at = opts->at != 0 ? opts->at : time(NULL);
	sc_profile_get_info(opts->profile, &info);
	/* An ordinary or (renew13) renewal profile, this network's, signed with ECDSA-SHA-256 by
	 * the device CA. schema14: from the DER, an ordinary profile only (a renewal leaf's
	 * signature is vouched for its siblings' reference under the device CA's X509). */
	if (!info.signed_ || strcmp(info.network_id, opts->allowed_networks[0]) != 0 ||
	    (md = sc_sign_md(ca_pub, info.cert_digest)) == NULL ||
	    EVP_MD_get_type(md) != NID_sha256 || EVP_PKEY_get_base_id(ca_pub) != EVP_PKEY_EC ||
	    (cd != NULL && info.renewal_count > 0))
		goto out;
	if (!split_cert(der, len, &tbs, f, &sigalg, &sig) || !serial_hex(&f[1], out->serial) ||
	    !tlv_is(&f[2], ecdsa_sha256_alg, sizeof(ecdsa_sha256_alg)) ||
	    !tlv_is(&sigalg, ecdsa_sha256_alg, sizeof(ecdsa_sha256_alg)) ||
	    !der_split(&f[6], spki, 2) || !tlv_is(&spki[0], ec_p256_alg, sizeof(ec_p256_alg)) ||
	    !first_counter(&f[7], &out->counter))
		goto out;
	/*
	 * The leaf's key (a legacy EC key: an uncompressed point on the curve) from its SPKI's BIT
	 * STRING, already split (judge11: not the whole leaf decoded again, sc_fast_cert_peek; its
	 * times are compared as bytes with the builder's below). A BIT STRING of another form than
	 * the builder's encoding of this key fails first_same.
	 */
	if (spki[1].tag != 0x03 || (pub = sc_fast_p256_key(spki[1].v, spki[1].vlen)) == NULL)
		goto out;
	/*
	 * renew13: a renewal profile's leaf is the period its notBefore names (first_index); the
	 * full path (cert_verify) validates a renewal certificate registered before its period
	 * starts at its notBefore, and (late15) one registered after it ended at its last second:
	 * for a TBS equal to the builder's, want_nb and want_na - 1.
	 */
	if (!first_index(&info, &f[4], &index))
		goto out;
	sc_profile_leaf_validity(&info, index, &want_nb, &want_na);
	at = sc_profile_leaf_judged_at(&info, want_nb, want_na, at);
	if (!(want_nb <= at && at < want_na))
		goto out;
	if (cd == NULL) {
		if (sc_leaf_issuer_new_public(ca, &li) != SC_OK)
			goto out;
	} else if ((li = issuer_from_der(cd->der[0], cd->len[0], &nc_self)) == NULL)
		goto out;
	if (!first_der_same(opts->profile, li, pub, &tbs, f, &spki[1], out->counter, index, &shape))
		goto out;
	sc_fast_ecdsa_sha256_verify(ca_pub, tbs.p, tbs.len, sig.v + 1, sig.vlen - 1, &done, &ok);
	if (!done || !ok) {
		ok = 0;
		goto out;
	}
	ok = 0; /* the signature's verdict; the judge's from here */
	if (cd == NULL) {
		if (!first_chain(opts, at, &path))
			goto out;
		for (int k = 1; k < sk_X509_num(path); k++)
			if (X509_get_ext_by_NID(sk_X509_value(path, k), NID_name_constraints, -1) >=
			    0)
				nc_above = 1;
		nc_self = X509_get_ext_by_NID(ca, NID_name_constraints, -1) >= 0;
	} else {
		/*
		 * schema14: first_chain's verdict, but time, recorded with the pin (sc_chain_verdict
		 * on these bytes under this root: the pin's path and root hashes bind them); time
		 * here, as first_chain's X509_verify_cert judges it at `at`: every certificate of the
		 * chain and the root.
		 */
		for (int k = 0; k < cd->n; k++)
			if (!inside(cd->not_before[k], cd->not_after[k], at))
				goto out;
		/* enroll15b: X509_cmp_time's answers (sc_fast_cmp_time: test_cmp_time). */
		if (sc_fast_cmp_time(X509_get0_notBefore(opts->mfr_root), at) >= 0 ||
		    sc_fast_cmp_time(X509_get0_notAfter(opts->mfr_root), at) <= 0)
			goto out;
		nc_above = X509_get_ext_by_NID(opts->mfr_root, NID_name_constraints, -1) >= 0;
		for (int k = 1; k < cd->n && !nc_above; k++)
			if ((nc_above = der_has_nc(cd->der[k], cd->len[k])) < 0)
				goto out;
	}
	last_form = 1;
	if ((form = first_der_form(&shape, nc_above, nc_self)) < 0 && cd != NULL) {
		goto out; /* schema14: the X509 path decides (the caller's miss) */
	} else if (form < 0) {
		/* A path first_der_form does not decide: judge9's checks on the builder's X509. */
		last_form = 2;
		form = sc_cert_expected_leaf_at(opts->profile, pub, ca, out->counter, index,
		           &want) == SC_OK &&
		    first_same(want, f) && first_leaf_form(want, path);
	}
	ok = form == 1 && EVP_Digest(der, len, out->fpr, NULL, sc_fast_sha256(), NULL);
	/* renew13: a renewal leaf's verified signature for its siblings' reference
	 * (sc_leaf_ref_new_der finds it as sc_leaf_ref_new finds path validation's). */
	if (ok && info.renewal_count > 0 && ca != NULL)
		sc_sig_cache_vouch(opts->sig_cache, der, len, ca);
	out->renewal = info.renewal_count > 0;
	out->index = index;
	out->not_before = want_nb;
	out->not_after = want_na;
out:
	sk_X509_pop_free(path, X509_free);
	X509_free(want);
	EVP_PKEY_free(pub);
	sc_leaf_issuer_free(li);
	ERR_clear_error();
	sc_err_clear();
	if (!ok)
		memset(out, 0, sizeof(*out));
	return ok;
}

int sc_leaf_first_judge(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    struct sc_leaf_fast *out)
{
	return first_judge(der, len, opts, NULL, out);
}

int sc_leaf_first_judge_der(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    const struct sc_first_chain_der *cd, struct sc_leaf_fast *out)
{
	if (cd == NULL) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return first_judge(der, len, opts, cd, out);
}

/* ---- renew13: a renewal profile's reference from its first certificate's DER ---- */

sc_err sc_leaf_ref_new_der(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    struct sc_leaf_ref **out)
{
	struct tlv tbs, f[8], sigalg, sig, spki[2];
	struct sc_profile_info info;

	*out = NULL;
	if (der == NULL || opts == NULL || opts->profile == NULL)
		return sc_fail(SC_ERR_USAGE,
		    "sc_leaf_ref_new_der: a leaf accepted with its profile");
	sc_profile_get_info(opts->profile, &info);
	/* What the leaf's X509 would answer for ref_new: the forms sc_leaf_first_judge judges
	 * (id-ecPublicKey on prime256v1, ecdsa-with-SHA256), the subject's first serialNumber. */
	if (!split_cert(der, len, &tbs, f, &sigalg, &sig) || !der_split(&f[6], spki, 2) ||
	    !tlv_is(&spki[0], ec_p256_alg, sizeof(ec_p256_alg)) ||
	    !tlv_is(&f[2], ecdsa_sha256_alg, sizeof(ecdsa_sha256_alg)) ||
	    !tlv_is(&sigalg, ecdsa_sha256_alg, sizeof(ecdsa_sha256_alg)) ||
	    !sc_leaf_device_is(der, len, info.device_id))
		return sc_fail(SC_ERR_USAGE, "leaf reference: a form the shortcut does not cover");
	return ref_new(NULL, info.device_id, NID_X9_62_prime256v1, NID_ecdsa_with_SHA256, der, len,
	    opts, out);
}
