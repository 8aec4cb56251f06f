// SPDX-License-Identifier: Apache-2.0
/*
 * objects.c — the token's objects, built from what the SP says (KEYS: every leaf key with its
 * certificate; INFO: the device CA) and the certificates the host keeps in its folder. Every
 * attribute is encoded once, at load; C_GetAttributeValue and C_FindObjects read that list.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include "p11_objects.h"
#include "p11.h"
#include "pem.h"

_Static_assert(sizeof(CK_OBJECT_HANDLE) >= 8, "object handles encode 32-bit SP handles");

#define P11_ATTRS_MAX 64 /* no object of ours has more */
#define P11_CERT_USER 1  /* CKA_CERTIFICATE_CATEGORY: token user */
#define P11_CERT_AUTHORITY 2
#define P11_CERT_OTHER 3

/* Sticky-failure builder: each helper does nothing once one failed. */
struct build {
	struct p11_object *o;
	int failed;
};

void p11_object_free(struct p11_object *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->n_attrs; i++)
		OPENSSL_clear_free(o->attrs[i].value, o->attrs[i].len);
	free(o->attrs);
	OPENSSL_free(o->der);
	free(o);
}

static struct p11_object *object_new(CK_OBJECT_HANDLE h, CK_OBJECT_CLASS klass, int token)
{
	struct p11_object *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->handle = h;
	o->klass = klass;
	o->token = token;
	return o;
}

static void add(struct build *b, CK_ATTRIBUTE_TYPE type, const void *v, size_t len, int sensitive)
{
	struct p11_object *o = b->o;
	struct p11_attr *a;

	if (b->failed)
		return;
	if (o->n_attrs == o->cap_attrs) {
		size_t cap = o->cap_attrs ? o->cap_attrs * 2 : 16;
		struct p11_attr *n;

		if (cap > P11_ATTRS_MAX || (n = realloc(o->attrs, cap * sizeof(*n))) == NULL) {
			b->failed = 1;
			return;
		}
		o->attrs = n;
		o->cap_attrs = cap;
	}
	a = &o->attrs[o->n_attrs];
	a->type = type;
	a->len = len;
	a->sensitive = sensitive;
	/* One byte at least, so that an empty value is still a pointer. */
	if ((a->value = OPENSSL_zalloc(len > 0 ? len : 1)) == NULL) {
		b->failed = 1;
		return;
	}
	if (len > 0)
		memcpy(a->value, v, len);
	o->n_attrs++;
}

static void add_bool(struct build *b, CK_ATTRIBUTE_TYPE type, int v)
{
	CK_BBOOL x = v ? CK_TRUE : CK_FALSE;

	add(b, type, &x, sizeof(x), 0);
}

static void add_ulong(struct build *b, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	add(b, type, &v, sizeof(v), 0);
}

static void add_str(struct build *b, CK_ATTRIBUTE_TYPE type, const char *s)
{
	add(b, type, s, strlen(s), 0);
}

/* Take an i2d_* result: n bytes at *p (OPENSSL_free'd here), or a failure if n <= 0. */
static void add_der(struct build *b, CK_ATTRIBUTE_TYPE type, unsigned char *p, int n)
{
	if (n <= 0 || p == NULL)
		b->failed = 1;
	else
		add(b, type, p, (size_t)n, 0);
	OPENSSL_free(p);
}

/* DER encodings as attribute values (sequenced: i2d must run before its result is read). */
static void add_name(struct build *b, CK_ATTRIBUTE_TYPE type, const X509_NAME *name)
{
	unsigned char *p = NULL;
	int n = i2d_X509_NAME(name, &p);

	add_der(b, type, p, n);
}

static void add_spki(struct build *b, const EVP_PKEY *pub)
{
	unsigned char *p = NULL;
	int n = i2d_PUBKEY(pub, &p);

	add_der(b, CKA_PUBLIC_KEY_INFO, p, n);
}

static void add_serial(struct build *b, const ASN1_INTEGER *serial)
{
	unsigned char *p = NULL;
	int n = i2d_ASN1_INTEGER(serial, &p);

	add_der(b, CKA_SERIAL_NUMBER, p, n);
}

static const struct p11_attr *attr_find(const struct p11_object *o, CK_ATTRIBUTE_TYPE type)
{
	size_t i;

	for (i = 0; i < o->n_attrs; i++)
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	return NULL;
}

/* ---- shared attribute groups ---- */

static void add_storage(struct build *b, const char *label)
{
	add_ulong(b, CKA_CLASS, b->o->klass);
	add_bool(b, CKA_TOKEN, b->o->token);
	/* No PIN guards anything here (docs/PKCS11.md §4): nothing is private to a login. */
	add_bool(b, CKA_PRIVATE, 0);
	add_bool(b, CKA_MODIFIABLE, 0);
	add_bool(b, CKA_COPYABLE, 0);
	add_bool(b, CKA_DESTROYABLE, !b->o->token);
	add_str(b, CKA_LABEL, label);
}

/* CK_DATE from an ASN1_TIME; empty (as PKCS#11 allows) if it will not convert. */
static void add_date(struct build *b, CK_ATTRIBUTE_TYPE type, const ASN1_TIME *t)
{
	struct tm tm;
	char s[40];
	CK_DATE d;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year < 0 ||
	    tm.tm_year + 1900 > 9999 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31) {
		add(b, type, NULL, 0, 0);
		return;
	}
	snprintf(s, sizeof(s), "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	memcpy(d.year, s, 4);
	memcpy(d.month, s + 4, 2);
	memcpy(d.day, s + 6, 2);
	add(b, type, &d, sizeof(d), 0);
}

/*
 * The public half of a key, as the attributes of its type (RSA, EC, EC_EDWARDS), read from the
 * certificate's subjectPublicKey bits rather than through an EVP_PKEY: inside an application
 * that loaded an ENGINE (OpenSSL with libp11) certificate keys are legacy keys whose provider
 * parameters cannot be read, while the DER is the DER everywhere.
 */
static void add_public_values(struct build *b, X509 *cert, enum sc_alg alg, int with_point)
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(cert);
	STACK_OF(ASN1_TYPE) *seq = NULL;
	ASN1_OCTET_STRING *os = NULL;
	const unsigned char *p;
	unsigned char *der = NULL;
	BIGNUM *bn = NULL;
	uint8_t buf[SC_SP_MAX_CIPHERTEXT];
	int nid, len, i;

	if (bits == NULL || ASN1_STRING_length(bits) <= 0) {
		b->failed = 1;
		return;
	}
	if (sc_alg_is_rsa(alg)) {
		/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
		p = ASN1_STRING_get0_data(bits);
		seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, ASN1_STRING_length(bits));
		if (seq == NULL || sk_ASN1_TYPE_num(seq) != 2) {
			b->failed = 1;
			goto out;
		}
		for (i = 0; i < 2; i++) {
			const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);

			BN_free(bn);
			if (ASN1_TYPE_get(t) != V_ASN1_INTEGER ||
			    (bn = ASN1_INTEGER_to_BN(t->value.integer, NULL)) == NULL ||
			    BN_num_bytes(bn) > (int)sizeof(buf)) {
				b->failed = 1;
				goto out;
			}
			len = BN_bn2bin(bn, buf);
			add(b, i == 0 ? CKA_MODULUS : CKA_PUBLIC_EXPONENT, buf, (size_t)len, 0);
			if (i == 0 && with_point)
				add_ulong(b, CKA_MODULUS_BITS, (CK_ULONG)BN_num_bits(bn));
		}
		goto out;
	}
	nid = alg == SC_ALG_P256 ? NID_X9_62_prime256v1
	    : alg == SC_ALG_P384 ? NID_secp384r1
	                         : NID_ED25519;
	/* CKA_EC_PARAMS: the curve's OID, DER (for Ed25519 id-Ed25519, as PKCS#11 3.0 and GnuTLS). */
	len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der);
	add_der(b, CKA_EC_PARAMS, der, len);
	der = NULL;
	if (!with_point)
		goto out;
	/*
	 * CKA_EC_POINT: DER OCTET STRING around the point (PKCS#11 v2.40 §2.3.3); the point is the
	 * subjectPublicKey itself (X9.62 uncompressed for EC, the 32 raw bytes for Ed25519).
	 */
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(os, ASN1_STRING_get0_data(bits), ASN1_STRING_length(bits)) != 1) {
		b->failed = 1;
		goto out;
	}
	len = i2d_ASN1_OCTET_STRING(os, &der);
	add_der(b, CKA_EC_POINT, der, len);
out:
	ASN1_OCTET_STRING_free(os);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	BN_free(bn);
}

/* CKA_ID: the subject key identifier, or SHA-1 of the public key when there is none. */
static size_t cert_id(X509 *cert, uint8_t *out, size_t cap)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	unsigned int n = 0;

	if (ski != NULL && ASN1_STRING_length(ski) > 0 && (size_t)ASN1_STRING_length(ski) <= cap) {
		memcpy(out, ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski));
		return (size_t)ASN1_STRING_length(ski);
	}
	if (cap >= 20 && X509_pubkey_digest(cert, EVP_sha1(), out, &n) == 1)
		return n;
	return 0;
}

static CK_KEY_TYPE key_type_of(enum sc_alg alg)
{
	if (sc_alg_is_rsa(alg))
		return CKK_RSA;
	return alg == SC_ALG_ED25519 ? CKK_EC_EDWARDS : CKK_EC;
}

/* ---- object list ---- */

struct p11_object *p11_objects_find(const struct p11_objects *objs, CK_OBJECT_HANDLE h)
{
	size_t i;

	for (i = 0; i < objs->n; i++)
		if (objs->v[i]->handle == h)
			return objs->v[i];
	/* A "current" alias (kinds 5-7) the application found in an earlier session, after the
	 * agent moved "current" to a successor: it still means its key while the SP has it, so a
	 * consumer that has not reloaded yet keeps signing through the grace period. */
	if (h < P11_H_CERTS && (h & 7) >= P11_KIND_CURRENT + 1 && (h & 7) <= P11_KIND_CURRENT + 3)
		return p11_objects_find(objs, h - P11_KIND_CURRENT);
	return NULL;
}

CK_RV p11_objects_add(struct p11_objects *objs, struct p11_object *o)
{
	struct p11_object **v;

	if (objs->n >= P11_MAX_OBJECTS) {
		p11_object_free(o);
		return CKR_DEVICE_MEMORY;
	}
	if ((v = realloc(objs->v, (objs->n + 1) * sizeof(*v))) == NULL) {
		p11_object_free(o);
		return CKR_HOST_MEMORY;
	}
	objs->v = v;
	objs->v[objs->n++] = o;
	return CKR_OK;
}

void p11_objects_remove(struct p11_objects *objs, CK_OBJECT_HANDLE h)
{
	size_t i;

	for (i = 0; i < objs->n; i++)
		if (objs->v[i]->handle == h) {
			p11_object_free(objs->v[i]);
			memmove(&objs->v[i], &objs->v[i + 1],
			    (objs->n - i - 1) * sizeof(objs->v[0]));
			objs->n--;
			return;
		}
}

void p11_objects_free(struct p11_objects *objs)
{
	size_t i;

	if (objs == NULL)
		return;
	for (i = 0; i < objs->n; i++)
		p11_object_free(objs->v[i]);
	free(objs->v);
	objs->v = NULL;
	objs->n = 0;
}

static sc_err add_object(struct p11_objects *objs, struct build *b)
{
	if (b->failed) {
		unsigned long h = (unsigned long)b->o->handle;

		p11_object_free(b->o);
		b->o = NULL;
		return sc_fail(SC_ERR_NOMEM, "encoding the attributes of object %lu", h);
	}
	if (p11_objects_add(objs, b->o) != CKR_OK) {
		b->o = NULL;
		return sc_fail(SC_ERR_OVERSIZE, "more than %d objects", P11_MAX_OBJECTS);
	}
	b->o = NULL;
	return SC_OK;
}

/* A certificate object. sp_handle: the leaf key it belongs to (0: none). */
static sc_err add_cert(struct p11_objects *objs, X509 *cert, CK_OBJECT_HANDLE h, const char *label,
    CK_ULONG category, uint32_t sp_handle)
{
	struct build b = { NULL, 0 };
	unsigned char *der = NULL;
	uint8_t id[P11_MAX_ID], md[EVP_MAX_MD_SIZE];
	size_t id_len;
	unsigned int md_len = 0;
	int der_len;

	if ((der_len = i2d_X509(cert, &der)) <= 0)
		return sc_fail(SC_ERR_MALFORMED, "certificate %s does not encode", label);
	if ((b.o = object_new(h, CKO_CERTIFICATE, 1)) == NULL) {
		OPENSSL_free(der);
		return sc_fail(SC_ERR_NOMEM, "certificate object");
	}
	b.o->der = der;
	b.o->der_len = (size_t)der_len;
	b.o->sp_handle = sp_handle;
	add_storage(&b, label);
	add_ulong(&b, CKA_CERTIFICATE_TYPE, CKC_X_509);
	add_bool(&b, CKA_TRUSTED, 0);
	add_ulong(&b, CKA_CERTIFICATE_CATEGORY, category);
	/* CKA_CHECK_VALUE: the first three bytes of SHA-1 of the DER (v2.40 §4.6.3). */
	if (EVP_Digest(der, (size_t)der_len, md, &md_len, EVP_sha1(), NULL) != 1)
		b.failed = 1;
	add(&b, CKA_CHECK_VALUE, md, 3, 0);
	add_date(&b, CKA_START_DATE, X509_get0_notBefore(cert));
	add_date(&b, CKA_END_DATE, X509_get0_notAfter(cert));
	add_spki(&b, X509_get0_pubkey(cert));
	add_name(&b, CKA_SUBJECT, X509_get_subject_name(cert));
	id_len = cert_id(cert, id, sizeof(id));
	add(&b, CKA_ID, id, id_len, 0);
	add_name(&b, CKA_ISSUER, X509_get_issuer_name(cert));
	add_serial(&b, X509_get0_serialNumber(cert));
	add(&b, CKA_VALUE, der, (size_t)der_len, 0);
	add(&b, CKA_URL, NULL, 0, 0);
	add(&b, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, NULL, 0, 0);
	add(&b, CKA_HASH_OF_ISSUER_PUBLIC_KEY, NULL, 0, 0);
	add_ulong(&b, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
	add_ulong(&b, CKA_NAME_HASH_ALGORITHM, CKM_SHA_1);
	return add_object(objs, &b);
}

/* The attributes every key object has. */
static void add_key_common(struct build *b, const char *label, const uint8_t *id, size_t id_len,
    X509 *cert, unsigned use, int generated)
{
	CK_MECHANISM_TYPE mechs[16];
	size_t n;

	add_storage(b, label);
	add_ulong(b, CKA_KEY_TYPE, b->o->key_type);
	add(b, CKA_ID, id, id_len, 0);
	add_date(b, CKA_START_DATE, X509_get0_notBefore(cert));
	add_date(b, CKA_END_DATE, X509_get0_notAfter(cert));
	add_bool(b, CKA_DERIVE, (use & P11_USE_DERIVE) != 0);
	/* Generated inside the SP, or supplied by the operator's server (then once outside it). */
	add_bool(b, CKA_LOCAL, generated);
	add_ulong(b, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
	n = p11_mechs_for_key(b->o->key_type, use, mechs, sizeof(mechs) / sizeof(mechs[0]));
	add(b, CKA_ALLOWED_MECHANISMS, mechs, n * sizeof(mechs[0]), 0);
	add_name(b, CKA_SUBJECT, X509_get_subject_name(cert));
	add_spki(b, X509_get0_pubkey(cert));
}

/*
 * One leaf key of the SP: a private key, its public key, its certificate; labelled with the SP's
 * handle (alias 0), or the "current" alias of the same key (alias P11_KIND_CURRENT: kinds 5-7).
 */
static sc_err add_leaf(struct p11_objects *objs, const struct sc_sp_key *k, unsigned alias)
{
	struct build b = { NULL, 0 };
	EVP_PKEY *pub = X509_get0_pubkey(k->cert);
	struct sc_issuance iss;
	uint8_t id[P11_MAX_ID];
	size_t id_len;
	char label[16];
	uint32_t ku;
	unsigned use = 0;
	int generated;
	sc_err r;

	if (pub == NULL || sc_alg_of_key(pub) != k->alg)
		return sc_fail(SC_ERR_PEER, "key %u: the certificate's key is not a %s key",
		    (unsigned)k->handle, sc_alg_name(k->alg) ? sc_alg_name(k->alg) : "known");
	if (alias)
		snprintf(label, sizeof(label), "%s", P11_LABEL_CURRENT);
	else
		snprintf(label, sizeof(label), "%u", (unsigned)k->handle);
	id_len = cert_id(k->cert, id, sizeof(id));
	/* What the certificate allows is all the SP will do; show exactly that. */
	ku = X509_get_key_usage(k->cert);
	if (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))
		use |= P11_USE_SIGN;
	if (sc_alg_is_rsa(k->alg) && (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)))
		use |= P11_USE_DECRYPT;
	if ((k->alg == SC_ALG_P256 || k->alg == SC_ALG_P384) && (ku & KU_KEY_AGREEMENT))
		use |= P11_USE_DERIVE;
	generated = sc_issuance_get(k->cert, &iss) == SC_OK &&
	    iss.origin == SC_KEY_DEVICE_GENERATED;

	/* The private key: in the SP, never extractable. */
	if ((b.o = object_new(P11_H_LEAF(k->handle, alias + 1), CKO_PRIVATE_KEY, 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key object");
	b.o->key_type = key_type_of(k->alg);
	b.o->sp_handle = k->handle;
	b.o->alg = k->alg;
	b.o->use = use;
	b.o->key_bytes = sc_alg_is_rsa(k->alg) ? (size_t)EVP_PKEY_get_size(pub)
	    : k->alg == SC_ALG_P384            ? 48
	                                       : 32;
	add_key_common(&b, label, id, id_len, k->cert, use, generated);
	add_bool(&b, CKA_SENSITIVE, 1);
	add_bool(&b, CKA_EXTRACTABLE, 0);
	add_bool(&b, CKA_ALWAYS_SENSITIVE, generated);
	add_bool(&b, CKA_NEVER_EXTRACTABLE, generated);
	add_bool(&b, CKA_DECRYPT, (use & P11_USE_DECRYPT) != 0);
	add_bool(&b, CKA_SIGN, (use & P11_USE_SIGN) != 0);
	add_bool(&b, CKA_SIGN_RECOVER, 0);
	add_bool(&b, CKA_UNWRAP, 0);
	add_bool(&b, CKA_WRAP_WITH_TRUSTED, 0);
	add_bool(&b, CKA_ALWAYS_AUTHENTICATE, 0);
	add_public_values(&b, k->cert, k->alg, 0);
	/* The private values exist, and stay in the SP: asking for them is CKR_ATTRIBUTE_SENSITIVE. */
	if (sc_alg_is_rsa(k->alg)) {
		add(&b, CKA_PRIVATE_EXPONENT, NULL, 0, 1);
		add(&b, CKA_PRIME_1, NULL, 0, 1);
		add(&b, CKA_PRIME_2, NULL, 0, 1);
		add(&b, CKA_EXPONENT_1, NULL, 0, 1);
		add(&b, CKA_EXPONENT_2, NULL, 0, 1);
		add(&b, CKA_COEFFICIENT, NULL, 0, 1);
	} else {
		add(&b, CKA_VALUE, NULL, 0, 1);
	}
	if ((r = add_object(objs, &b)) != SC_OK)
		return r;

	/* The public key. */
	if ((b.o = object_new(P11_H_LEAF(k->handle, alias + 2), CKO_PUBLIC_KEY, 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "key object");
	b.o->key_type = key_type_of(k->alg);
	b.o->sp_handle = k->handle;
	b.o->alg = k->alg;
	add_key_common(&b, label, id, id_len, k->cert, use, generated);
	add_bool(&b, CKA_ENCRYPT, (use & P11_USE_DECRYPT) != 0);
	add_bool(&b, CKA_VERIFY, (use & P11_USE_SIGN) != 0);
	add_bool(&b, CKA_VERIFY_RECOVER, 0);
	add_bool(&b, CKA_WRAP, 0);
	add_bool(&b, CKA_TRUSTED, 0);
	add_public_values(&b, k->cert, k->alg, 1);
	if ((r = add_object(objs, &b)) != SC_OK)
		return r;

	return add_cert(objs, k->cert, P11_H_LEAF(k->handle, alias + 3), label, P11_CERT_USER,
	    k->handle);
}

/* 1 if a certificate with exactly this DER is already an object. */
static int have_der(const struct p11_objects *objs, const uint8_t *der, size_t len)
{
	size_t i;

	for (i = 0; i < objs->n; i++)
		if (objs->v[i]->der != NULL && objs->v[i]->der_len == len &&
		    memcmp(objs->v[i]->der, der, len) == 0)
			return 1;
	return 0;
}

/* A free handle above P11_H_CERTS, from the certificate's SHA-256 (stable across sessions). */
static CK_OBJECT_HANDLE cert_handle(const struct p11_objects *objs, const uint8_t *der, size_t len)
{
	uint8_t md[32];
	CK_OBJECT_HANDLE h;

	SHA256(der, len, md);
	h = P11_H_CERTS | ((CK_OBJECT_HANDLE)md[0] << 24) | ((CK_OBJECT_HANDLE)md[1] << 16) |
	    ((CK_OBJECT_HANDLE)md[2] << 8) | md[3];
	while (p11_objects_find(objs, h) != NULL)
		h++;
	return h;
}

/* A certificate from outside the SP's answers, unless it is one we have. */
static sc_err add_other_cert(struct p11_objects *objs, X509 *cert, const char *label)
{
	unsigned char *der = NULL;
	uint32_t sp_handle = 0;
	CK_ULONG category;
	size_t i;
	int n;
	sc_err r;

	if ((n = i2d_X509(cert, &der)) <= 0)
		return sc_fail(SC_ERR_MALFORMED, "%s: the certificate does not encode", label);
	if (have_der(objs, der, (size_t)n)) {
		OPENSSL_free(der);
		return SC_OK;
	}
	category = X509_check_ca(cert) >= 1 ? P11_CERT_AUTHORITY : P11_CERT_OTHER;
	/* Another certificate for one of the SP's keys (an earlier or a later one) is the user's. */
	for (i = 0; i < objs->n && category == P11_CERT_OTHER; i++) {
		const struct p11_object *o = objs->v[i];
		X509 *mine = NULL;
		const unsigned char *p = o->der;

		if (o->klass != CKO_CERTIFICATE || o->sp_handle == 0 || o->der == NULL)
			continue;
		if ((mine = d2i_X509(NULL, &p, (long)o->der_len)) != NULL &&
		    EVP_PKEY_eq(X509_get0_pubkey(mine), X509_get0_pubkey(cert)) == 1) {
			category = P11_CERT_USER;
			sp_handle = o->sp_handle;
		}
		X509_free(mine);
	}
	r = add_cert(objs, cert, cert_handle(objs, der, (size_t)n), label, category, sp_handle);
	OPENSSL_free(der);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The host's certificate folder: *.pem files in name order, each one or more PEM certificates.
 * The folder is the host's (untrusted for keys, but it is where chains live): a file that does
 * not load is skipped and logged, never fatal to the token.
 */
static sc_err add_folder(struct p11_objects *objs, const char *dir)
{
	char *names[P11_MAX_FOLDER_FILES];
	size_t n_names = 0, i, taken = 0;
	struct dirent *e;
	DIR *d;
	sc_err r = SC_OK;

	if ((d = opendir(dir)) == NULL) {
		p11_log("certificate folder", sc_fail(SC_ERR_IO, "%s: cannot open it", dir));
		return SC_OK;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".pem") != 0 || e->d_name[0] == '.')
			continue;
		if (n_names == P11_MAX_FOLDER_FILES) {
			p11_log("certificate folder",
			    sc_fail(SC_ERR_OVERSIZE,
			        "%s: more than %d .pem files; the rest are ignored", dir,
			        P11_MAX_FOLDER_FILES));
			break;
		}
		if ((names[n_names] = strdup(e->d_name)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "folder listing");
			break;
		}
		n_names++;
	}
	closedir(d);
	qsort(names, n_names, sizeof(names[0]), cmp_names);
	for (i = 0; i < n_names && r == SC_OK; i++) {
		char path[P11_MAX_PATH + 256], label[P11_MAX_LABEL + 1];
		STACK_OF(X509) *sk = NULL;
		struct stat st;
		int j;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (sc_load_certs(path, &sk) != SC_OK) {
			p11_log("certificate folder", SC_ERR_MALFORMED);
			continue;
		}
		for (j = 0; j < sk_X509_num(sk) && r == SC_OK; j++) {
			size_t stem = strlen(names[i]) - 4;

			if (taken == P11_MAX_FOLDER_CERTS) {
				p11_log("certificate folder",
				    sc_fail(SC_ERR_OVERSIZE,
				        "%s: more than %d certificates; the rest are ignored", dir,
				        P11_MAX_FOLDER_CERTS));
				break;
			}
			if (stem > P11_MAX_LABEL - 4)
				stem = P11_MAX_LABEL - 4;
			if (j == 0)
				snprintf(label, sizeof(label), "%.*s", (int)stem, names[i]);
			else
				snprintf(label, sizeof(label), "%.*s-%d", (int)stem, names[i],
				    j + 1);
			r = add_other_cert(objs, sk_X509_value(sk, j), label);
			taken++;
		}
		sk_X509_pop_free(sk, X509_free);
	}
	for (i = 0; i < n_names; i++)
		free(names[i]);
	return r;
}

/*
 * The key the agent has in use: the one whose certificate is the folder's leaf.pem (the agent
 * replaces that file atomically, after the server acknowledged the new certificate). NULL if
 * there is no folder, no leaf.pem, or it is none of the SP's keys.
 */
static struct sc_sp_key *current_key(const struct p11_config *cfg, struct sc_sp_key *keys, size_t n)
{
	char path[P11_MAX_PATH + 16];
	X509 *leaf = NULL;
	struct sc_sp_key *found = NULL;

	if (cfg->certs[0] == '\0' ||
	    (size_t)snprintf(path, sizeof(path), "%s/leaf.pem", cfg->certs) >= sizeof(path) ||
	    access(path, F_OK) != 0)
		return NULL;
	if (sc_load_cert(path, &leaf) != SC_OK) {
		p11_log("current key", SC_ERR_MALFORMED);
		return NULL;
	}
	for (size_t i = 0; i < n && found == NULL; i++)
		if (X509_cmp(keys[i].cert, leaf) == 0)
			found = &keys[i];
	X509_free(leaf);
	return found;
}

sc_err p11_objects_load(struct sc_sp *sp, const struct sc_sp_info *info,
    const struct p11_config *cfg, struct p11_objects *out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sp_key *keys = NULL, *cur;
	size_t n = 0, i;

	memset(out, 0, sizeof(*out));
	if ((r = sc_sp_keys(sp, &keys, &n)) != SC_OK)
		goto out;
	for (i = 0; i < n; i++)
		if ((r = add_leaf(out, &keys[i], 0)) != SC_OK)
			goto out;
	cur = current_key(cfg, keys, n);
	if (cur != NULL && (r = add_leaf(out, cur, P11_KIND_CURRENT)) != SC_OK)
		goto out;
	if (info->csk_cert != NULL &&
	    (r = add_other_cert(out, info->csk_cert, "device-ca")) != SC_OK)
		goto out;
	if (cfg->certs[0] != '\0' && (r = add_folder(out, cfg->certs)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK)
		p11_objects_free(out);
	sc_sp_keys_free(keys, n);
	return r;
}

/* ---- attributes ---- */

CK_RV p11_object_get_attrs(const struct p11_object *o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	CK_RV rv = CKR_OK;
	CK_ULONG i;

	/* Every attribute is processed, whatever happens to the others (v2.40 §5.7). */
	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE *t = &tmpl[i];
		const struct p11_attr *a = attr_find(o, t->type);

		if (a == NULL) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (a->sensitive) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_SENSITIVE;
		} else if (t->pValue == NULL) {
			t->ulValueLen = a->len;
		} else if (t->ulValueLen < a->len) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			if (a->len > 0)
				memcpy(t->pValue, a->value, a->len);
			t->ulValueLen = a->len;
		}
	}
	return rv;
}

int p11_object_matches(const struct p11_object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	CK_ULONG i;

	for (i = 0; i < n; i++) {
		const struct p11_attr *a = attr_find(o, tmpl[i].type);

		if (a == NULL || a->sensitive || tmpl[i].ulValueLen != a->len)
			return 0;
		if (a->len > 0 &&
		    (tmpl[i].pValue == NULL || memcmp(tmpl[i].pValue, a->value, a->len) != 0))
			return 0;
	}
	return 1;
}

/* ---- derived secrets ---- */

/* Usage flags a caller may set on a derived secret; it is theirs to take out and use. */
static const CK_ATTRIBUTE_TYPE secret_flags[] = {
	CKA_ENCRYPT,
	CKA_DECRYPT,
	CKA_SIGN,
	CKA_VERIFY,
	CKA_WRAP,
	CKA_UNWRAP,
	CKA_DERIVE,
};
#define N_SECRET_FLAGS (sizeof(secret_flags) / sizeof(secret_flags[0]))

/* What a C_DeriveKey template asks of the secret; an absent attribute keeps its default. */
struct secret_tmpl {
	CK_BBOOL flags[N_SECRET_FLAGS]; /* secret_flags[i]; false */
	CK_BBOOL sensitive;             /* false */
	CK_BBOOL extractable;           /* true */
	CK_ULONG len;                   /* CKA_VALUE_LEN: the bytes kept; all of them */
	char label[P11_MAX_LABEL + 1];  /* "" */
	uint8_t id[P11_MAX_ID];
	size_t id_len; /* 0 */
};

static int bool_of(const CK_ATTRIBUTE *t, CK_BBOOL *out)
{
	if (t->pValue == NULL || t->ulValueLen != sizeof(CK_BBOOL))
		return 0;
	*out = *(const CK_BBOOL *)t->pValue;
	return *out == CK_TRUE || *out == CK_FALSE;
}

static int ulong_of(const CK_ATTRIBUTE *t, CK_ULONG *out)
{
	if (t->pValue == NULL || t->ulValueLen != sizeof(CK_ULONG))
		return 0;
	memcpy(out, t->pValue, sizeof(*out));
	return 1;
}

static CK_RV bool_attr(const CK_ATTRIBUTE *t, CK_BBOOL *out)
{
	return bool_of(t, out) ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* A CK_BBOOL the secret can only be false for; `if_true` answers a true one. */
static CK_RV bool_false_only(const CK_ATTRIBUTE *t, CK_RV if_true)
{
	CK_BBOOL v;

	if (!bool_of(t, &v))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return v ? if_true : CKR_OK;
}

/* A CK_ULONG the secret has one value for (CKA_CLASS, CKA_KEY_TYPE). */
static CK_RV ulong_must_be(const CK_ATTRIBUTE *t, CK_ULONG want)
{
	CK_ULONG v;

	if (!ulong_of(t, &v))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return v == want ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

/* CKA_LABEL: text of at most P11_MAX_LABEL bytes, without a NUL in it. */
static CK_RV label_attr(const CK_ATTRIBUTE *t, char *label)
{
	if (t->ulValueLen > P11_MAX_LABEL || (t->ulValueLen > 0 && t->pValue == NULL))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (t->ulValueLen > 0)
		memcpy(label, t->pValue, t->ulValueLen);
	label[t->ulValueLen] = '\0';
	return strlen(label) == t->ulValueLen ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* CKA_ID: at most P11_MAX_ID bytes. */
static CK_RV id_attr(const CK_ATTRIBUTE *t, uint8_t *id, size_t *id_len)
{
	if (t->ulValueLen > P11_MAX_ID || (t->ulValueLen > 0 && t->pValue == NULL))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (t->ulValueLen > 0)
		memcpy(id, t->pValue, t->ulValueLen);
	*id_len = t->ulValueLen;
	return CKR_OK;
}

/* One attribute of the template into *st; value_len bounds CKA_VALUE_LEN. */
static CK_RV secret_attr(const CK_ATTRIBUTE *t, size_t value_len, int rw, struct secret_tmpl *st)
{
	size_t i;

	switch (t->type) {
	case CKA_CLASS: return ulong_must_be(t, CKO_SECRET_KEY);
	case CKA_KEY_TYPE: return ulong_must_be(t, CKK_GENERIC_SECRET);
	case CKA_TOKEN:
		/* Nothing is stored on the token: a derived secret lives in its session. */
		return bool_false_only(t, rw ? CKR_TEMPLATE_INCONSISTENT : CKR_SESSION_READ_ONLY);
	case CKA_PRIVATE:
	case CKA_MODIFIABLE:
		/* Nothing here is behind a login, nothing changes. */
		return bool_false_only(t, CKR_TEMPLATE_INCONSISTENT);
	case CKA_SENSITIVE: return bool_attr(t, &st->sensitive);
	case CKA_EXTRACTABLE: return bool_attr(t, &st->extractable);
	case CKA_VALUE_LEN:
		if (!ulong_of(t, &st->len) || st->len == 0 || st->len > value_len)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	case CKA_LABEL: return label_attr(t, st->label);
	case CKA_ID: return id_attr(t, st->id, &st->id_len);
	default:
		for (i = 0; i < N_SECRET_FLAGS; i++)
			if (t->type == secret_flags[i])
				return bool_attr(t, &st->flags[i]);
		return CKR_ATTRIBUTE_TYPE_INVALID;
	}
}

/* The secret as an object: its first st->len bytes of value, hidden if sensitive. */
static CK_RV secret_build(CK_OBJECT_HANDLE handle, const struct secret_tmpl *st,
    const uint8_t *value, struct p11_object **out)
{
	struct build b = { NULL, 0 };
	size_t i;

	if ((b.o = object_new(handle, CKO_SECRET_KEY, 0)) == NULL)
		return CKR_HOST_MEMORY;
	b.o->key_type = CKK_GENERIC_SECRET;
	add_storage(&b, st->label);
	add_ulong(&b, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
	add(&b, CKA_ID, st->id, st->id_len, 0);
	add(&b, CKA_START_DATE, NULL, 0, 0);
	add(&b, CKA_END_DATE, NULL, 0, 0);
	add_bool(&b, CKA_LOCAL, 0);
	add_ulong(&b, CKA_KEY_GEN_MECHANISM, CKM_ECDH1_DERIVE);
	for (i = 0; i < N_SECRET_FLAGS; i++)
		add_bool(&b, secret_flags[i], st->flags[i]);
	add_bool(&b, CKA_SENSITIVE, st->sensitive);
	add_bool(&b, CKA_EXTRACTABLE, st->extractable);
	add_bool(&b, CKA_ALWAYS_SENSITIVE, 0);
	add_bool(&b, CKA_NEVER_EXTRACTABLE, 0);
	add_ulong(&b, CKA_VALUE_LEN, st->len);
	/* The leading bytes of the shared secret when CKA_VALUE_LEN asks for fewer. */
	add(&b, CKA_VALUE, value, st->len, st->sensitive || !st->extractable);
	if (b.failed) {
		p11_object_free(b.o);
		return CKR_HOST_MEMORY;
	}
	*out = b.o;
	return CKR_OK;
}

CK_RV p11_object_new_secret(CK_OBJECT_HANDLE handle, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
    const uint8_t *value, size_t value_len, int rw, struct p11_object **out)
{
	struct secret_tmpl st;
	CK_ULONG k;
	CK_RV rv;

	*out = NULL;
	if (n > 0 && tmpl == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(&st, 0, sizeof(st));
	st.extractable = CK_TRUE;
	st.len = value_len;
	/* The whole template is checked before anything is made. */
	for (k = 0; k < n; k++)
		if ((rv = secret_attr(&tmpl[k], value_len, rw, &st)) != CKR_OK)
			return rv;
	return secret_build(handle, &st, value, out);
}
