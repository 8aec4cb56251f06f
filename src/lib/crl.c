// SPDX-License-Identifier: Apache-2.0
/*
 * crl.c — the device CA CRL (selfcert/crl.h): built field by field with an ASN.1 template so
 * that any signer (the SP's soft or TPM backend) signs the exact TBSCertList bytes, then checked
 * by the same rules provd applies to one a device sends (sc_crl_device_check).
 */
#include <string.h>
#include <time.h>
#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/crl.h>
#include <selfcert/sp.h>
#include "text.h"

/*
 * TBSCertList (RFC 5280 5.1) without revokedCertificates: OpenSSL 3.0 hides X509_CRL_INFO and
 * has no setter for the inner signature algorithm, so a CRL signed outside EVP (a TPM) needs
 * its own template. Field order and tags are RFC 5280's; the empty list is omitted, as DER says.
 */
typedef struct {
	ASN1_INTEGER *version;
	X509_ALGOR *sig_alg;
	X509_NAME *issuer;
	ASN1_TIME *this_update;
	ASN1_TIME *next_update;
	STACK_OF(X509_EXTENSION) *exts;
} SC_TBS_CRL;

ASN1_SEQUENCE(SC_TBS_CRL) = {
	ASN1_SIMPLE(SC_TBS_CRL, version, ASN1_INTEGER),
	ASN1_SIMPLE(SC_TBS_CRL, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SC_TBS_CRL, issuer, X509_NAME),
	ASN1_SIMPLE(SC_TBS_CRL, this_update, ASN1_TIME),
	ASN1_SIMPLE(SC_TBS_CRL, next_update, ASN1_TIME),
	ASN1_EXP_SEQUENCE_OF(SC_TBS_CRL, exts, X509_EXTENSION, 0),
} ASN1_SEQUENCE_END(SC_TBS_CRL)

typedef struct {
	SC_TBS_CRL *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} SC_CRL;

ASN1_SEQUENCE(SC_CRL) = {
	ASN1_SIMPLE(SC_CRL, tbs, SC_TBS_CRL),
	ASN1_SIMPLE(SC_CRL, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SC_CRL, sig, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SC_CRL)

IMPLEMENT_ASN1_FUNCTIONS(SC_TBS_CRL)
IMPLEMENT_ASN1_FUNCTIONS(SC_CRL)

/* The signature AlgorithmIdentifier for key with md (NULL for Ed25519), as X509_sign writes it. */
static sc_err set_sig_alg(EVP_PKEY *key, const EVP_MD *md, X509_ALGOR *a)
{
	int base = EVP_PKEY_get_base_id(key), nid = NID_undef;
	int pk = base == EVP_PKEY_RSA ? NID_rsaEncryption
	    : base == EVP_PKEY_EC     ? NID_X9_62_id_ecPublicKey
	                              : base;

	/* Ed25519 is its own signature algorithm, with no digest (RFC 8410). */
	if (base == EVP_PKEY_ED25519)
		nid = NID_ED25519;
	else if (md == NULL || OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md), pk) != 1)
		nid = NID_undef;
	if (nid == NID_undef ||
	    X509_ALGOR_set0(a, OBJ_nid2obj(nid), base == EVP_PKEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF,
	        NULL) != 1)
		return sc_fail_ossl(SC_ERR_ALGORITHM, "crl: no signature algorithm for the CSK");
	return SC_OK;
}

static sc_err add_ext(SC_TBS_CRL *t, int nid, void *value)
{
	X509_EXTENSION *e = X509V3_EXT_i2d(nid, 0, value);

	if (e == NULL || t->exts == NULL || !sk_X509_EXTENSION_push(t->exts, e)) {
		X509_EXTENSION_free(e);
		return sc_fail_ossl(SC_ERR_NOMEM, "crl: extension");
	}
	return SC_OK;
}

sc_err sc_crl_device_make(X509 *ca, uint64_t number, int64_t now, uint32_t lifetime,
    sc_crl_signer sign, void *ctx, uint8_t **der, size_t *der_len)
{
	EVP_PKEY *pub = ca != NULL ? X509_get0_pubkey(ca) : NULL;
	const ASN1_OCTET_STRING *ski = ca != NULL ? X509_get0_subject_key_id(ca) : NULL;
	const EVP_MD *md = NULL;
	SC_CRL *c = NULL;
	AUTHORITY_KEYID *akid = NULL;
	ASN1_INTEGER *num = NULL;
	X509_CRL *crl = NULL;
	unsigned char *tbs = NULL, *out = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int n;
	sc_err r = SC_ERR_INTERNAL;

	*der = NULL;
	*der_len = 0;
	if (pub == NULL || sign == NULL)
		return sc_fail(SC_ERR_USAGE, "crl: no device CA certificate");
	if (ski == NULL)
		return sc_fail(SC_ERR_EXTENSION, "crl: the device CA has no subjectKeyIdentifier");
	if (lifetime < SC_CRL_MIN_LIFETIME || lifetime > SC_CRL_MAX_LIFETIME)
		return sc_fail(SC_ERR_VALIDITY, "crl: lifetime %u s outside %u..%u", lifetime,
		    SC_CRL_MIN_LIFETIME, SC_CRL_MAX_LIFETIME);
	if (!(X509_get_key_usage(ca) & KU_CRL_SIGN))
		return sc_fail(SC_ERR_KEY_USAGE,
		    "crl: the device CA certificate has no cRLSign (certified before CRLs existed)");
	if (number == 0 || number > INT64_MAX)
		return sc_fail(SC_ERR_USAGE, "crl: cRLNumber %llu", (unsigned long long)number);
	if (now < SC_CRL_BACKDATE)
		return sc_fail(SC_ERR_INTERNAL, "crl: the clock is before 1970");
	md = sc_sign_md(pub, SC_DIGEST_NONE);
	/* The template makes the (mandatory here) extension list empty; make it if it did not. */
	if ((c = SC_CRL_new()) == NULL ||
	    (c->tbs->exts == NULL && (c->tbs->exts = sk_X509_EXTENSION_new_null()) == NULL) ||
	    (akid = AUTHORITY_KEYID_new()) == NULL ||
	    (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
	    (num = ASN1_INTEGER_new()) == NULL || ASN1_INTEGER_set_uint64(num, number) != 1 ||
	    ASN1_INTEGER_set(c->tbs->version, 1) != 1 ||
	    X509_NAME_set(&c->tbs->issuer, X509_get_subject_name(ca)) != 1 ||
	    ASN1_TIME_set(c->tbs->this_update, (time_t)(now - SC_CRL_BACKDATE)) == NULL ||
	    ASN1_TIME_set(c->tbs->next_update, (time_t)(now + lifetime)) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "crl");
		goto out;
	}
	if ((r = set_sig_alg(pub, md, c->tbs->sig_alg)) != SC_OK ||
	    (r = set_sig_alg(pub, md, c->sig_alg)) != SC_OK ||
	    (r = add_ext(c->tbs, NID_authority_key_identifier, akid)) != SC_OK ||
	    (r = add_ext(c->tbs, NID_crl_number, num)) != SC_OK)
		goto out;
	if ((n = i2d_SC_TBS_CRL(c->tbs, &tbs)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "crl: encoding TBSCertList");
		goto out;
	}
	if ((r = sign(ctx, md, tbs, (size_t)n, &sig, &sig_len)) != SC_OK)
		goto out;
	if (sig_len == 0 || sig_len > INT32_MAX ||
	    ASN1_BIT_STRING_set(c->sig, sig, (int)sig_len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "crl: signature");
		goto out;
	}
	c->sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	c->sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if ((n = i2d_SC_CRL(c, &out)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "crl: encoding");
		goto out;
	}
	/* What any relying party will parse: OpenSSL's own CRL decoder, then our checks. */
	if ((r = sc_crl_device_decode(out, (size_t)n, ca, now, "crl", &crl)) != SC_OK)
		goto out;
	*der = out;
	*der_len = (size_t)n;
	out = NULL;
	r = SC_OK;
out:
	SC_CRL_free(c);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	OPENSSL_free(tbs);
	OPENSSL_free(out);
	OPENSSL_free(sig);
	return r;
}

sc_err sc_crl_device_check(X509_CRL *crl, X509 *ca, int64_t now, const char *what, uint64_t *number,
    int64_t *next_update)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	const STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
	AUTHORITY_KEYID *akid = NULL;
	ASN1_INTEGER *num = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	time_t tu = 0, nu = 0;
	uint64_t v = 0;
	int crit = 0, i;
	sc_err r = SC_ERR_INTERNAL;

	/* OpenSSL (so nginx, HAProxy, openssl verify) refuses a CRL whose issuer lacks cRLSign:
	 * device CAs certified before issue 14 carry keyCertSign only. */
	if (!(X509_get_key_usage(ca) & KU_CRL_SIGN)) {
		r = sc_fail(SC_ERR_KEY_USAGE,
		    "%s: the device CA certificate has no cRLSign (certified before CRLs existed)",
		    what);
		goto out;
	}
	if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: version: not a v2 CRL", what);
		goto out;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: issuer: not the device CA's subject", what);
		goto out;
	}
	if (rev != NULL && sk_X509_REVOKED_num(rev) > 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: revokedCertificates: a device CA CRL has none",
		    what);
		goto out;
	}
	if (X509_CRL_get_ext_count(crl) != 2) {
		r = sc_fail(SC_ERR_EXTENSION, "%s: extensions: %d, expected AKI and cRLNumber",
		    what, X509_CRL_get_ext_count(crl));
		goto out;
	}
	for (i = 0; i < 2; i++)
		if (X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i))) {
			r = sc_fail(SC_ERR_EXTENSION, "%s: extensions: a critical extension", what);
			goto out;
		}
	akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
	if (akid == NULL || akid->keyid == NULL || ski == NULL ||
	    ASN1_OCTET_STRING_cmp(akid->keyid, ski) != 0 || akid->issuer != NULL ||
	    akid->serial != NULL) {
		r = sc_fail(SC_ERR_EXTENSION,
		    "%s: authorityKeyIdentifier: not the device CA's key identifier", what);
		goto out;
	}
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	if (num == NULL || ASN1_INTEGER_get_uint64(&v, num) != 1 || v == 0 || v > INT64_MAX) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_EXTENSION, "%s: cRLNumber: missing or out of range", what);
		goto out;
	}
	if (pub == NULL || X509_CRL_verify(crl, pub) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_SIGNATURE, "%s: signature: not by the device CA's key", what);
		goto out;
	}
	if (X509_CRL_get0_nextUpdate(crl) == NULL) {
		r = sc_fail(SC_ERR_VALIDITY, "%s: nextUpdate: missing", what);
		goto out;
	}
	if ((r = sc_asn1_time_to_time_t(X509_CRL_get0_lastUpdate(crl), &tu)) != SC_OK ||
	    (r = sc_asn1_time_to_time_t(X509_CRL_get0_nextUpdate(crl), &nu)) != SC_OK) {
		r = sc_fail(SC_ERR_VALIDITY, "%s: thisUpdate/nextUpdate: not a valid time", what);
		goto out;
	}
	if (nu <= tu ||
	    (int64_t)nu - (int64_t)tu > (int64_t)SC_CRL_MAX_LIFETIME + SC_CRL_BACKDATE) {
		r = sc_fail(SC_ERR_VALIDITY, "%s: nextUpdate: not within %u s of thisUpdate", what,
		    SC_CRL_MAX_LIFETIME + SC_CRL_BACKDATE);
		goto out;
	}
	if (now >= 0 && (int64_t)tu > now + SC_CRL_BACKDATE) {
		r = sc_fail(SC_ERR_VALIDITY, "%s: thisUpdate: in the future", what);
		goto out;
	}
	if (now >= 0 && now >= (int64_t)nu) {
		r = sc_fail(SC_ERR_STALE, "%s: nextUpdate: passed", what);
		goto out;
	}
	if (number != NULL)
		*number = v;
	if (next_update != NULL)
		*next_update = (int64_t)nu;
	r = SC_OK;
out:
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(num);
	return r;
}

sc_err sc_crl_device_decode(const uint8_t *der, size_t len, X509 *ca, int64_t now, const char *what,
    X509_CRL **out)
{
	const unsigned char *q = der;
	unsigned char *re = NULL;
	X509_CRL *crl = NULL;
	int n;
	sc_err r = SC_ERR_INTERNAL;

	*out = NULL;
	if (len > SC_CRL_MAX_DER) {
		r = sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes, at most %d", what, len,
		    SC_CRL_MAX_DER);
		goto out;
	}
	if (len == 0 || (crl = d2i_X509_CRL(NULL, &q, (long)len)) == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "%s: not a DER CRL", what);
		goto out;
	}
	if (q != der + len) {
		r = sc_fail(SC_ERR_TRAILING, "%s: %zu trailing bytes", what,
		    (size_t)(der + len - q));
		goto out;
	}
	if ((n = i2d_X509_CRL(crl, &re)) <= 0 || (size_t)n != len || memcmp(re, der, len) != 0) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "%s: not DER (does not re-encode to the same bytes)",
		    what);
		goto out;
	}
	if ((r = sc_crl_device_check(crl, ca, now, what, NULL, NULL)) != SC_OK)
		goto out;
	*out = crl;
	crl = NULL;
	r = SC_OK;
out:
	X509_CRL_free(crl);
	OPENSSL_free(re);
	return r;
}

sc_err sc_crl_device_fetch(struct sc_sp *sp, uint32_t lifetime, uint8_t **der, size_t *der_len,
    int64_t *next_update)
{
	struct sc_sp_info info;
	X509_CRL *crl = NULL;
	uint8_t *d = NULL;
	size_t n = 0;
	sc_err r = SC_ERR_INTERNAL;

	memset(&info, 0, sizeof(info));
	*der = NULL;
	*der_len = 0;
	if ((r = sc_sp_info(sp, &info)) != SC_OK)
		goto out;
	if (info.csk_cert == NULL) {
		r = sc_fail(SC_ERR_STATE, "crl: the SP has no device CA certificate");
		goto out;
	}
	if ((r = sc_sp_crl(sp, lifetime, &d, &n)) != SC_OK)
		goto out;
	if ((r = sc_crl_device_decode(d, n, info.csk_cert, (int64_t)time(NULL), "the SP's CRL",
	         &crl)) != SC_OK)
		goto out;
	if (next_update != NULL) {
		time_t nu = 0;
		if ((r = sc_asn1_time_to_time_t(X509_CRL_get0_nextUpdate(crl), &nu)) != SC_OK)
			goto out;
		*next_update = (int64_t)nu;
	}
	*der = d;
	*der_len = n;
	d = NULL;
	r = SC_OK;
out:
	X509_CRL_free(crl);
	OPENSSL_free(d);
	sc_sp_info_clear(&info);
	return r;
}
