// SPDX-License-Identifier: Apache-2.0
/*
 * x509.c — a certificate decoded without OpenSSL 3.0's per-key provider decoder (x509.h).
 * The plain path is d2i_X509 in pem.c; tests/unit/test_fast_x509.c compares the two.
 */

/*
 * The only file of libselfcert on OpenSSL's legacy key API (EC_KEY_oct2key, d2i_RSA_PUBKEY): a
 * legacy key is what X509_PUBKEY_set encodes with the key type's own method instead of the
 * provider encoder and decoder (0.04 ms against 0.3 ms for P-256). The key is used as any other:
 * OpenSSL exports it to the provider once when it first verifies with it, and caches that.
 */
#undef OPENSSL_NO_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED

#include <pthread.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fast/fast.h"
#include "fast/x509.h"
#include "text.h"

/* Certificate's shape (RFC 5280 4.1) with the key left as its two fields. */
typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} SC_LAZY_SPKI;

typedef struct {
	ASN1_TIME *not_before;
	ASN1_TIME *not_after;
} SC_LAZY_VALIDITY;

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *sig_alg;
	X509_NAME *issuer;
	SC_LAZY_VALIDITY *validity;
	X509_NAME *subject;
	SC_LAZY_SPKI *spki;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *exts;
} SC_LAZY_TBS;

typedef struct {
	SC_LAZY_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} SC_LAZY_CERT;

DECLARE_ASN1_FUNCTIONS(SC_LAZY_SPKI)
DECLARE_ASN1_FUNCTIONS(SC_LAZY_VALIDITY)
DECLARE_ASN1_FUNCTIONS(SC_LAZY_TBS)
DECLARE_ASN1_FUNCTIONS(SC_LAZY_CERT)

ASN1_SEQUENCE(SC_LAZY_SPKI) = {
	ASN1_SIMPLE(SC_LAZY_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(SC_LAZY_SPKI, key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SC_LAZY_SPKI)

ASN1_SEQUENCE(SC_LAZY_VALIDITY) = {
	ASN1_SIMPLE(SC_LAZY_VALIDITY, not_before, ASN1_TIME),
	ASN1_SIMPLE(SC_LAZY_VALIDITY, not_after, ASN1_TIME),
} ASN1_SEQUENCE_END(SC_LAZY_VALIDITY)

ASN1_SEQUENCE(SC_LAZY_TBS) = {
	ASN1_EXP_OPT(SC_LAZY_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SC_LAZY_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(SC_LAZY_TBS, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SC_LAZY_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(SC_LAZY_TBS, validity, SC_LAZY_VALIDITY),
	ASN1_SIMPLE(SC_LAZY_TBS, subject, X509_NAME),
	ASN1_SIMPLE(SC_LAZY_TBS, spki, SC_LAZY_SPKI),
	ASN1_IMP_OPT(SC_LAZY_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(SC_LAZY_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(SC_LAZY_TBS, exts, X509_EXTENSION, 3),
} ASN1_SEQUENCE_END(SC_LAZY_TBS)

ASN1_SEQUENCE(SC_LAZY_CERT) = {
	ASN1_SIMPLE(SC_LAZY_CERT, tbs, SC_LAZY_TBS),
	ASN1_SIMPLE(SC_LAZY_CERT, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SC_LAZY_CERT, sig, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SC_LAZY_CERT)

IMPLEMENT_ASN1_FUNCTIONS(SC_LAZY_SPKI)
IMPLEMENT_ASN1_FUNCTIONS(SC_LAZY_VALIDITY)
IMPLEMENT_ASN1_FUNCTIONS(SC_LAZY_TBS)
IMPLEMENT_ASN1_FUNCTIONS(SC_LAZY_CERT)

/*
 * The two curves' groups, made once: EC_GROUP_new_by_curve_name is most of a legacy EC key's
 * decoding (30 of 35 us for P-256); EC_KEY_set_group copies a group, never changes it, so one
 * shared read-only group serves every thread.
 */
static EC_GROUP *groups[2];
static pthread_once_t groups_once = PTHREAD_ONCE_INIT;

static void groups_make(void)
{
	groups[0] = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	groups[1] = EC_GROUP_new_by_curve_name(NID_secp384r1);
}

/* A legacy EC key on g from an uncompressed point (EC_KEY_oct2key checks it is on the curve). */
static EVP_PKEY *ec_point_key(const EC_GROUP *g, const uint8_t *pt, size_t len)
{
	EVP_PKEY *pk = NULL;
	EC_KEY *ec = NULL;

	if (g == NULL || len < 1 || pt[0] != POINT_CONVERSION_UNCOMPRESSED)
		return NULL;
	if ((ec = EC_KEY_new()) == NULL || !EC_KEY_set_group(ec, g) ||
	    !EC_KEY_oct2key(ec, pt, len, NULL) || (pk = EVP_PKEY_new()) == NULL ||
	    !EVP_PKEY_assign_EC_KEY(pk, ec)) {
		EVP_PKEY_free(pk);
		EC_KEY_free(ec);
		return NULL;
	}
	return pk;
}

static EVP_PKEY *ec_key(const ASN1_OBJECT *curve, const ASN1_BIT_STRING *point)
{
	const EC_GROUP *g = NULL;

	if (pthread_once(&groups_once, groups_make) != 0)
		return NULL;
	switch (OBJ_obj2nid(curve)) {
	case NID_X9_62_prime256v1: g = groups[0]; break;
	case NID_secp384r1: g = groups[1]; break;
	default: return NULL;
	}
	/* All bits used. */
	if ((point->flags & 0x07) != 0)
		return NULL;
	return ec_point_key(g, point->data, (size_t)point->length);
}

EVP_PKEY *sc_fast_p256_key(const uint8_t *bits, size_t len)
{
	EVP_PKEY *pk;

	/* A P-256 point's BIT STRING: no unused bits, 04, X and Y of 32 bytes each: 66 bytes. */
	if (bits == NULL || len != 2 + 2 * 32 || bits[0] != 0 ||
	    pthread_once(&groups_once, groups_make) != 0)
		return NULL;
	if ((pk = ec_point_key(groups[0], bits + 1, len - 1)) == NULL)
		ERR_clear_error();
	return pk;
}

static EVP_PKEY *rsa_key(const SC_LAZY_SPKI *spki)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	EVP_PKEY *pk = NULL;
	RSA *rsa = NULL;
	int n;

	if ((n = i2d_SC_LAZY_SPKI(spki, &der)) <= 0)
		return NULL;
	p = der;
	if ((rsa = d2i_RSA_PUBKEY(NULL, &p, n)) == NULL || p != der + n ||
	    (pk = EVP_PKEY_new()) == NULL || !EVP_PKEY_assign_RSA(pk, rsa)) {
		EVP_PKEY_free(pk);
		pk = NULL;
		RSA_free(rsa);
	}
	OPENSSL_free(der);
	return pk;
}

/*
 * The key of spki as a legacy EVP_PKEY: EC on P-256 or P-384 (named, uncompressed point) or
 * RSA. Whatever this accepts and X509_set_pubkey would write differently (a parameter of
 * another form), the round trip in sc_cert_from_der refuses.
 */
static EVP_PKEY *lazy_key(const SC_LAZY_SPKI *spki)
{
	const ASN1_OBJECT *oid = NULL;
	const void *pval = NULL;
	int ptype = V_ASN1_UNDEF;

	X509_ALGOR_get0(&oid, &ptype, &pval, spki->alg);
	switch (OBJ_obj2nid(oid)) {
	case NID_X9_62_id_ecPublicKey:
		return ptype == V_ASN1_OBJECT ? ec_key(pval, spki->key) : NULL;
	case NID_rsaEncryption: return rsa_key(spki);
	default: return NULL;
	}
}

/* x's tbsCertificate and outer signature fields set from c; 0 on any failure. */
static int assemble(X509 *x, const SC_LAZY_CERT *c, EVP_PKEY *pk)
{
	const SC_LAZY_TBS *t = c->tbs;
	const ASN1_BIT_STRING *sig0 = NULL;
	const X509_ALGOR *alg0 = NULL;
	long version;

	/*
	 * v3 only (an explicit version 2), no unique IDs: everything else takes d2i_X509. The
	 * version's own encoding is checked by the round trip in sc_cert_from_der.
	 */
	if (t->version == NULL || (version = ASN1_INTEGER_get(t->version)) != X509_VERSION_3 ||
	    t->issuer_uid != NULL || t->subject_uid != NULL)
		return 0;
	if (!X509_set_version(x, version) || !X509_set_serialNumber(x, t->serial) ||
	    !X509_set_issuer_name(x, t->issuer) || !X509_set_subject_name(x, t->subject) ||
	    !X509_set1_notBefore(x, t->validity->not_before) ||
	    !X509_set1_notAfter(x, t->validity->not_after) || !X509_set_pubkey(x, pk))
		return 0;
	for (int i = 0; i < sk_X509_EXTENSION_num(t->exts); i++)
		if (!X509_add_ext(x, sk_X509_EXTENSION_value(t->exts, i), -1))
			return 0;
	/*
	 * OpenSSL 3.0 has no setter for the two signature algorithms and the signature value of a
	 * certificate it did not sign: they are X509's own objects behind these const pointers,
	 * written here in place (X509_sign writes the same ones). Copies keep each field's exact
	 * form (ASN1_STRING_copy keeps the BIT STRING's unused-bits flag).
	 */
	X509_get0_signature(&sig0, &alg0, x);
	if (!X509_ALGOR_copy((X509_ALGOR *)X509_get0_tbs_sigalg(x), t->sig_alg) ||
	    !X509_ALGOR_copy((X509_ALGOR *)alg0, c->sig_alg) ||
	    !ASN1_STRING_copy((ASN1_BIT_STRING *)sig0, c->sig))
		return 0;
	return 1;
}

static int x509_on;

void sc_fast_x509_set(int on)
{
	x509_on = on != 0;
}

sc_err sc_fast_cert_from_der(const uint8_t *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	SC_LAZY_CERT *c = NULL;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;

	*out = NULL;
	if (!sc_fast_enabled() || !x509_on || len > 0x7fffffff)
		return SC_OK;
	ERR_set_mark();
	if ((c = d2i_SC_LAZY_CERT(NULL, &p, (long)len)) == NULL || (size_t)(p - der) != len ||
	    (pk = lazy_key(c->tbs->spki)) == NULL || (x = X509_new()) == NULL ||
	    !assemble(x, c, pk)) {
		X509_free(x);
		x = NULL;
	}
	/* Nothing of a refused shape is reported from here: d2i_X509 will say what is wrong. */
	ERR_pop_to_mark();
	EVP_PKEY_free(pk);
	SC_LAZY_CERT_free(c);
	*out = x;
	return SC_OK;
}

/*
 * The peek (x509.h, issue 17): the same Certificate shape as SC_LAZY_CERT, but the names and
 * the extensions kept as undecoded TLVs (ASN1_ANY): nothing of them is needed to read the
 * validity and the key of a certificate already verified, and decoding a Name is most of what
 * parsing one costs once the key's decoder is out of the way.
 */
typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *sig_alg;
	ASN1_TYPE *issuer;
	SC_LAZY_VALIDITY *validity;
	ASN1_TYPE *subject;
	SC_LAZY_SPKI *spki;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	ASN1_TYPE *exts;
} SC_PEEK_TBS;

typedef struct {
	SC_PEEK_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} SC_PEEK_CERT;

DECLARE_ASN1_FUNCTIONS(SC_PEEK_TBS)
DECLARE_ASN1_FUNCTIONS(SC_PEEK_CERT)

ASN1_SEQUENCE(SC_PEEK_TBS) = {
	ASN1_EXP_OPT(SC_PEEK_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SC_PEEK_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(SC_PEEK_TBS, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SC_PEEK_TBS, issuer, ASN1_ANY),
	ASN1_SIMPLE(SC_PEEK_TBS, validity, SC_LAZY_VALIDITY),
	ASN1_SIMPLE(SC_PEEK_TBS, subject, ASN1_ANY),
	ASN1_SIMPLE(SC_PEEK_TBS, spki, SC_LAZY_SPKI),
	ASN1_IMP_OPT(SC_PEEK_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(SC_PEEK_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_OPT(SC_PEEK_TBS, exts, ASN1_ANY, 3),
} ASN1_SEQUENCE_END(SC_PEEK_TBS)

ASN1_SEQUENCE(SC_PEEK_CERT) = {
	ASN1_SIMPLE(SC_PEEK_CERT, tbs, SC_PEEK_TBS),
	ASN1_SIMPLE(SC_PEEK_CERT, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SC_PEEK_CERT, sig, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SC_PEEK_CERT)

IMPLEMENT_ASN1_FUNCTIONS(SC_PEEK_TBS)
IMPLEMENT_ASN1_FUNCTIONS(SC_PEEK_CERT)

#define PEEK_MAX 65536

/* The key of spki: the legacy decoders first (lazy_key), d2i_PUBKEY for any other kind. */
static EVP_PKEY *peek_key(const SC_LAZY_SPKI *spki)
{
	const unsigned char *p;
	unsigned char *der = NULL;
	EVP_PKEY *pk;
	int n;

	if ((pk = lazy_key(spki)) != NULL)
		return pk;
	if ((n = i2d_SC_LAZY_SPKI(spki, &der)) <= 0)
		return NULL;
	p = der;
	if ((pk = d2i_PUBKEY(NULL, &p, n)) != NULL && p != der + n) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	OPENSSL_free(der);
	return pk;
}

/*
 * enroll15: seconds since the epoch of t as ASN1_TIME_to_tm reads it (1), 0 if it does not
 * read. Days from the civil date (proleptic Gregorian, any year OpenSSL reads): timegm's value
 * for the normalized struct tm ASN1_TIME_to_tm gives, without the libc call.
 */
static int time_secs(const ASN1_TIME *t, int64_t *secs)
{
	struct tm tm;
	int64_t y, m, era, yoe, doy, doe;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	y = (int64_t)tm.tm_year + 1900;
	m = (int64_t)tm.tm_mon + 1;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + (int64_t)tm.tm_mday - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*secs = (era * 146097 + doe - 719468) * 86400 + (int64_t)tm.tm_hour * 3600 +
	    (int64_t)tm.tm_min * 60 + (int64_t)tm.tm_sec;
	return 1;
}

/* X509_cmp_time's form check: RFC 5280's UTCTime or GeneralizedTime, digits then 'Z'. */
static int time_form_ok(const ASN1_TIME *t)
{
	const unsigned char *d;
	int n, type;

	if (t == NULL)
		return 0;
	n = ASN1_STRING_length(t);
	type = ASN1_STRING_type(t);
	d = ASN1_STRING_get0_data(t);
	if (!((type == V_ASN1_UTCTIME && n == 13) || (type == V_ASN1_GENERALIZEDTIME && n == 15)))
		return 0;
	for (int i = 0; i < n - 1; i++)
		if (d[i] < '0' || d[i] > '9')
			return 0;
	return d[n - 1] == 'Z';
}

/* now as X509_time_adj can write it: 0000-01-01T00:00:00Z..9999-12-31T23:59:59Z. */
static int now_ok(time_t now)
{
	return (int64_t)now >= INT64_C(-62167219200) && (int64_t)now <= INT64_C(253402300799);
}

/* X509_cmp_time's answer from t's seconds (ok: t read) and its form. */
static int cmp_secs(int form_ok, int ok, int64_t secs, time_t now)
{
	if (!form_ok || !ok || !now_ok(now))
		return 0;
	return secs <= (int64_t)now ? -1 : 1;
}

int sc_fast_cmp_time(const ASN1_TIME *t, time_t now)
{
	int64_t secs = 0;
	int form_ok, ok;

	if (!sc_fast_enabled())
		return X509_cmp_time(t, &now);
	form_ok = time_form_ok(t);
	ok = form_ok && time_secs(t, &secs);
	return cmp_secs(form_ok, ok, secs, now);
}

/*
 * enroll15: the last two certificates this thread peeked without their key, by their bytes:
 * what the peek reads of one (each time's form, whether it reads, its seconds) depends on
 * nothing else, so the same bytes again skip the decode; valid_now is judged again at each
 * call's now. Two, the older replaced: a pinned profile request peeks its manufacturer CA (the
 * same for every device of a maker) and then its KEK (its own). Only with the shortcuts on.
 */
#define PEEK_MEMO_MAX 2048

struct peek_memo {
	size_t len; /* 0: empty */
	uint64_t used;
	int nb_form, nb_ok, na_form, na_ok;
	int64_t nb, na;
	uint8_t der[PEEK_MEMO_MAX];
};

static _Thread_local struct {
	struct peek_memo e[2];
	uint64_t clock;
} peek_memo;

/* The peek's outputs from what it read of the times. */
static void peek_times_out(int nb_form, int nb_ok, int64_t nb, int na_form, int na_ok, int64_t na,
    time_t now, int *valid_now, int64_t *not_before, int64_t *not_after)
{
	*valid_now = cmp_secs(nb_form, nb_ok, nb, now) < 0 && cmp_secs(na_form, na_ok, na, now) > 0;
	*not_before = nb_ok ? nb : 0;
	*not_after = na_ok ? na : 0;
}

sc_err sc_fast_cert_peek(const uint8_t *der, size_t len, time_t now, int *valid_now,
    int64_t *not_before, int64_t *not_after, EVP_PKEY **key)
{
	const unsigned char *p = der;
	SC_PEEK_CERT *c = NULL;
	const SC_LAZY_VALIDITY *v;
	int nb_ok, na_ok, nb_form, na_form, fast = sc_fast_enabled();
	int64_t nb = 0, na = 0;
	sc_err r;

	*valid_now = 0;
	*not_before = *not_after = 0;
	if (key != NULL)
		*key = NULL;
	if (der == NULL || len == 0 || len > PEEK_MAX)
		return sc_fail(SC_ERR_MALFORMED, "certificate: %zu bytes, expected 1..%d", len,
		    PEEK_MAX);
	for (int i = 0; fast && key == NULL && i < 2; i++) {
		struct peek_memo *m = &peek_memo.e[i];

		if (m->len == len && memcmp(m->der, der, len) == 0) {
			m->used = ++peek_memo.clock;
			peek_times_out(m->nb_form, m->nb_ok, m->nb, m->na_form, m->na_ok, m->na,
			    now, valid_now, not_before, not_after);
			return SC_OK;
		}
	}
	if ((c = d2i_SC_PEEK_CERT(NULL, &p, (long)len)) == NULL) {
		r = sc_fail(SC_ERR_MALFORMED, "certificate: not a DER Certificate");
		goto out;
	}
	if ((size_t)(p - der) != len) {
		r = sc_fail(SC_ERR_MALFORMED, "certificate: %zu bytes after it",
		    len - (size_t)(p - der));
		goto out;
	}
	v = c->tbs->validity;
	/*
	 * Exactly pinned_valid's test (h_enroll.c valid_at): X509_cmp_time's 0 is "not valid";
	 * enroll15: each time read once, for the test and its seconds (0 if it does not read).
	 */
	nb_form = time_form_ok(v->not_before);
	na_form = time_form_ok(v->not_after);
	nb_ok = time_secs(v->not_before, &nb);
	na_ok = time_secs(v->not_after, &na);
	peek_times_out(nb_form, nb_ok, nb, na_form, na_ok, na, now, valid_now, not_before,
	    not_after);
	if (!fast)
		*valid_now = X509_cmp_time(v->not_before, &now) < 0 &&
		    X509_cmp_time(v->not_after, &now) > 0;
	if (key != NULL && (*key = peek_key(c->tbs->spki)) == NULL) {
		r = sc_fail(SC_ERR_MALFORMED, "certificate: its public key does not decode");
		goto out;
	}
	if (fast && key == NULL && len <= PEEK_MEMO_MAX) {
		struct peek_memo *m =
		    &peek_memo.e[peek_memo.e[0].used <= peek_memo.e[1].used ? 0 : 1];

		memcpy(m->der, der, len);
		m->len = len;
		m->used = ++peek_memo.clock;
		m->nb_form = nb_form;
		m->nb_ok = nb_ok;
		m->nb = nb;
		m->na_form = na_form;
		m->na_ok = na_ok;
		m->na = na;
	}
	r = SC_OK;
out:
	ERR_clear_error();
	SC_PEEK_CERT_free(c);
	return r;
}

void sc_fast_ecdsa_sha256_verify(EVP_PKEY *pub, const uint8_t *msg, size_t len, const uint8_t *sig,
    size_t sig_len, int *done, int *ok)
{
	unsigned char md[32];
	unsigned md_len = 0;
	EC_KEY *ec;

	*done = *ok = 0;
	/* A provider key (keymgmt set) would be exported the other way round here: not ours. */
	if (!sc_fast_enabled() || pub == NULL || EVP_PKEY_get_id(pub) != EVP_PKEY_EC ||
	    EVP_PKEY_get0_provider(pub) != NULL || sig_len > 0x7fffffff)
		return;
	if ((ec = (EC_KEY *)EVP_PKEY_get0_EC_KEY(pub)) == NULL ||
	    !EVP_Digest(msg, len, md, &md_len, sc_fast_sha256(), NULL) || md_len != sizeof(md)) {
		ERR_clear_error();
		return;
	}
	/* 1: verified; 0: a wrong signature; -1: not a DER ECDSA-Sig-Value (the provider's 0). */
	*ok = ECDSA_verify(0, md, (int)md_len, sig, (int)sig_len, ec) == 1;
	ERR_clear_error();
	*done = 1;
}
