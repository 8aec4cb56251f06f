// SPDX-License-Identifier: Apache-2.0
/*
 * profile.c — SignedProfile (docs/FORMATS.md): the ASN.1 module, the strict DER codec, create
 * and sign. The checks a device makes are in profile_check.c, the KEK wrap of a supplied key in
 * keywrap.c, the verified-signer cache in fast/signer_cache.c.
 */
#include <limits.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>
#include "fast/fast.h"
#include "fast/profile_signer.h"
#include "profile_internal.h"
#include "text.h"

#define PROFILE_VERSION 1
#define SAN_VALUE_MAX 255 /* dNSName, rfc822Name, URI: a sane bound, not the RFC's */

/*
 * ---- ASN.1 templates: exactly the module of docs/FORMATS.md (EXPLICIT TAGS) ----
 * SC_TBS_PROFILE and SC_SIGNED_PROFILE are items of the library (profile_internal.h): the
 * checks verify over the one, the signer cache decodes around the other.
 */

ASN1_SEQUENCE(SC_SUPPLIED_KEY) = {
	ASN1_SIMPLE(SC_SUPPLIED_KEY, publicKey, X509_PUBKEY),
	ASN1_SIMPLE(SC_SUPPLIED_KEY, encryptedKey, CMS_ContentInfo),
} static_ASN1_SEQUENCE_END(SC_SUPPLIED_KEY)

ASN1_CHOICE(SC_KEY_SPEC) = {
	ASN1_EXP(SC_KEY_SPEC, value.generate, ASN1_ENUMERATED, 0),
	ASN1_EXP(SC_KEY_SPEC, value.supplied, SC_SUPPLIED_KEY, 1),
} static_ASN1_CHOICE_END(SC_KEY_SPEC)

ASN1_SEQUENCE(SC_RENEWAL_SPEC) = {
	ASN1_SIMPLE(SC_RENEWAL_SPEC, count, ASN1_INTEGER),
	ASN1_SIMPLE(SC_RENEWAL_SPEC, cadence, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(SC_RENEWAL_SPEC)

ASN1_SEQUENCE(SC_BATCH_POSITION) = {
	ASN1_SIMPLE(SC_BATCH_POSITION, batchId, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SC_BATCH_POSITION, index, ASN1_INTEGER),
} ASN1_SEQUENCE_END(SC_BATCH_POSITION)

ASN1_SEQUENCE(SC_TBS_PROFILE) = {
	ASN1_SIMPLE(SC_TBS_PROFILE, contentType, ASN1_OBJECT),
	ASN1_SIMPLE(SC_TBS_PROFILE, version, ASN1_INTEGER),
	ASN1_SIMPLE(SC_TBS_PROFILE, profileId, ASN1_OCTET_STRING),
	ASN1_SIMPLE(SC_TBS_PROFILE, networkId, ASN1_UTF8STRING),
	ASN1_SIMPLE(SC_TBS_PROFILE, deviceId, ASN1_UTF8STRING),
	ASN1_EXP_OPT(SC_TBS_PROFILE, userId, ASN1_UTF8STRING, 0),
	ASN1_EXP_OPT(SC_TBS_PROFILE, challenge, ASN1_OCTET_STRING, 1),
	ASN1_SIMPLE(SC_TBS_PROFILE, profileNotAfter, ASN1_GENERALIZEDTIME),
	ASN1_SIMPLE(SC_TBS_PROFILE, validity, X509_VAL),
	ASN1_SIMPLE(SC_TBS_PROFILE, key, SC_KEY_SPEC),
	ASN1_SIMPLE(SC_TBS_PROFILE, certDigest, ASN1_ENUMERATED),
	ASN1_EXP_OPT(SC_TBS_PROFILE, keyUsage, ASN1_BIT_STRING, 2),
	ASN1_EXP_OPT(SC_TBS_PROFILE, extKeyUsage, EXTENDED_KEY_USAGE, 3),
	ASN1_EXP_OPT(SC_TBS_PROFILE, subjectAltName, GENERAL_NAMES, 4),
	/* [5] is issue #12's; [6] is #17's renewal. A device before #17 refuses [6] as malformed,
	 * which is why a server sends it only to a device that announced revision 1.5. */
	ASN1_EXP_OPT(SC_TBS_PROFILE, renewal, SC_RENEWAL_SPEC, 6),
	/* [7]: the leaf's place in a batch (batch.c); only inside a BatchedProfile. */
	ASN1_EXP_OPT(SC_TBS_PROFILE, batch, SC_BATCH_POSITION, 7),
} ASN1_SEQUENCE_END(SC_TBS_PROFILE)

ASN1_SEQUENCE(SC_SIGNED_PROFILE) = {
	ASN1_SIMPLE(SC_SIGNED_PROFILE, tbsProfile, SC_TBS_PROFILE),
	ASN1_SIMPLE(SC_SIGNED_PROFILE, signatureAlgorithm, X509_ALGOR),
	ASN1_SIMPLE(SC_SIGNED_PROFILE, signature, ASN1_BIT_STRING),
	ASN1_SEQUENCE_OF(SC_SIGNED_PROFILE, certificates, X509),
} ASN1_SEQUENCE_END(SC_SIGNED_PROFILE)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SC_SUPPLIED_KEY)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SC_SIGNED_PROFILE)


/* ---- small helpers ---- */

static const char *const gen_names[] = {
	[GEN_OTHERNAME] = "otherName", [GEN_EMAIL] = "rfc822Name", [GEN_DNS] = "dNSName",
	[GEN_X400] = "x400Address", [GEN_DIRNAME] = "directoryName", [GEN_EDIPARTY] = "ediPartyName",
	[GEN_URI] = "uniformResourceIdentifier", [GEN_IPADD] = "iPAddress", [GEN_RID] = "registeredID",
};

static const char *gen_name(int type)
{
	if (type < 0 || type >= (int)(sizeof(gen_names) / sizeof(gen_names[0])))
		return "unknown";
	return gen_names[type];
}

/* Valid UTF-8 (no overlong forms, no surrogates) without NUL: the strings become C strings. */
static int utf8_ok(const unsigned char *s, size_t len)
{
	while (len > 0) {
		unsigned long c;
		int n = UTF8_getc(s, len > INT_MAX ? INT_MAX : (int)len, &c);

		if (n <= 0 || c == 0)
			return 0;
		s += n;
		len -= (size_t)n;
	}
	return 1;
}

/* dNSName, rfc822Name, URI: visible ASCII only; none of them may contain a space. */
static int ia5_value_ok(const unsigned char *s, size_t len)
{
	if (len < 1 || len > SAN_VALUE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* A decoded UTF8String of min..max bytes into out (max + 1 bytes). */
static sc_err take_utf8(const ASN1_STRING *s, const char *field, int min, int max, char *out)
{
	int len = ASN1_STRING_length(s);
	const unsigned char *d = ASN1_STRING_get0_data(s);

	if (len < min || len > max)
		return sc_fail(SC_ERR_MALFORMED, "%s: %d bytes, must be %d..%d", field, len, min,
		    max);
	if (!utf8_ok(d, (size_t)len))
		return sc_fail(SC_ERR_MALFORMED, "%s: not valid UTF-8 or contains NUL", field);
	memcpy(out, d, (size_t)len);
	out[len] = '\0';
	return SC_OK;
}

/*
 * A DER time as RFC 5280 wants it: "YYMMDDHHMMSSZ" UTCTime for 1950..2049, else
 * "YYYYMMDDHHMMSSZ" GeneralizedTime; profileNotAfter is always GeneralizedTime.
 */
static sc_err take_time(const ASN1_TIME *t, int generalized_only, const char *field, time_t *out)
{
	const unsigned char *d = ASN1_STRING_get0_data(t);
	int len = ASN1_STRING_length(t);

	if (ASN1_STRING_type(t) == V_ASN1_UTCTIME && !generalized_only) {
		if (len != 13 || d[12] != 'Z' || !ASN1_UTCTIME_check(t))
			return sc_fail(SC_ERR_MALFORMED, "%s: not a DER UTCTime YYMMDDHHMMSSZ",
			    field);
	} else if (ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME) {
		if (len != 15 || d[14] != 'Z' || !ASN1_GENERALIZEDTIME_check(t))
			return sc_fail(SC_ERR_MALFORMED,
			    "%s: not a DER GeneralizedTime YYYYMMDDHHMMSSZ", field);
		if (!generalized_only) {
			int year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
			    (d[3] - '0');
			if (year >= 1950 && year <= 2049)
				return sc_fail(SC_ERR_MALFORMED,
				    "%s: GeneralizedTime for year %d, RFC 5280 wants UTCTime",
				    field, year);
		}
	} else {
		return sc_fail(SC_ERR_MALFORMED, "%s: wrong time type", field);
	}
	if (sc_asn1_time_to_time_t(t, out) != SC_OK)
		return sc_fail(SC_ERR_MALFORMED, "%s: not a valid time", field);
	return SC_OK;
}

/* KU_* flags of a KeyUsage BIT STRING; SC_ERR_EXTENSION for unknown or no bits. */
static sc_err take_key_usage(const ASN1_BIT_STRING *bs, unsigned *out)
{
	unsigned ku = 0;
	int nbits = ASN1_STRING_length(bs) * 8;

	for (int i = 0; i < nbits; i++) {
		if (!ASN1_BIT_STRING_get_bit(bs, i))
			continue;
		if (i >= SC_KU_NBITS)
			return sc_fail(SC_ERR_EXTENSION, "tbsProfile.keyUsage: unknown bit %d", i);
		ku |= sc_key_usage_bit(i);
	}
	if (ku == 0)
		return sc_fail(SC_ERR_EXTENSION, "tbsProfile.keyUsage: no bit set");
	*out = ku;
	return SC_OK;
}

/* A KeyUsage BIT STRING in DER form (trailing zero bits removed, as X.690 11.2.2 says). */
static ASN1_BIT_STRING *key_usage_bits(unsigned ku)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();

	if (bs == NULL)
		return NULL;
	for (int i = 0; i < SC_KU_NBITS; i++) {
		if ((ku & sc_key_usage_bit(i)) && !ASN1_BIT_STRING_set_bit(bs, i, 1)) {
			ASN1_BIT_STRING_free(bs);
			return NULL;
		}
	}
	return bs;
}

/*
 * The DER rule for named bit lists lives in the unused-bits count, which OpenSSL keeps as
 * decoded: so compare with a freshly built string.
 */
static sc_err key_usage_is_der(const ASN1_BIT_STRING *bs, unsigned ku)
{
	ASN1_BIT_STRING *fresh = key_usage_bits(ku);
	unsigned char *a = NULL, *b = NULL;
	int alen, blen;
	sc_err r = SC_ERR_INTERNAL;

	if (fresh == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "tbsProfile.keyUsage: a fresh BIT STRING");
		goto out;
	}
	alen = i2d_ASN1_BIT_STRING(bs, &a);
	blen = i2d_ASN1_BIT_STRING(fresh, &b);
	if (alen <= 0 || blen <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "tbsProfile.keyUsage: encoding");
		goto out;
	}
	if (alen != blen || memcmp(a, b, (size_t)alen) != 0) {
		r = sc_fail(SC_ERR_MALFORMED, "tbsProfile.keyUsage: not DER (trailing zero bits)");
		goto out;
	}
	r = SC_OK;
out:
	OPENSSL_free(a);
	OPENSSL_free(b);
	ASN1_BIT_STRING_free(fresh);
	return r;
}

static sc_err san_entry_ok(const GENERAL_NAME *gn, int i)
{
	switch (gn->type) {
	case GEN_DNS:
	case GEN_EMAIL:
	case GEN_URI:
		if (!ia5_value_ok(ASN1_STRING_get0_data(gn->d.ia5),
		        (size_t)ASN1_STRING_length(gn->d.ia5)))
			return sc_fail(SC_ERR_EXTENSION,
			    "tbsProfile.subjectAltName[%d]: %s must be 1..%d visible ASCII characters",
			    i, gen_name(gn->type), SAN_VALUE_MAX);
		return SC_OK;
	case GEN_IPADD:
		if (ASN1_STRING_length(gn->d.ip) != 4 && ASN1_STRING_length(gn->d.ip) != 16)
			return sc_fail(SC_ERR_EXTENSION,
			    "tbsProfile.subjectAltName[%d]: iPAddress of %d bytes, must be 4 or 16",
			    i, ASN1_STRING_length(gn->d.ip));
		return SC_OK;
	default:
		return sc_fail(SC_ERR_EXTENSION,
		    "tbsProfile.subjectAltName[%d]: %s not allowed (dNSName, rfc822Name, URI, "
		    "iPAddress only)",
		    i, gen_name(gn->type));
	}
}

/* One INTEGER of RenewalSpec in [min, max], or SC_ERR_MALFORMED naming it. */
static sc_err take_bounded(const ASN1_INTEGER *a, const char *field, int64_t min, int64_t max,
    uint32_t *out)
{
	int64_t v;

	if (!ASN1_INTEGER_get_int64(&v, a)) {
		ERR_clear_error();
		return sc_fail(SC_ERR_MALFORMED, "%s: out of range %lld..%lld", field,
		    (long long)min, (long long)max);
	}
	if (v < min || v > max)
		return sc_fail(SC_ERR_MALFORMED, "%s: %lld, must be %lld..%lld", field,
		    (long long)v, (long long)min, (long long)max);
	*out = (uint32_t)v;
	return SC_OK;
}

/* [6] renewal: absent leaves count 0 (an ordinary profile, one certificate). */
static sc_err take_renewal(const SC_RENEWAL_SPEC *rs, struct sc_profile_info *in)
{
	sc_err r;

	if (rs == NULL)
		return SC_OK;
	if ((r = take_bounded(rs->count, "tbsProfile.renewal.count", SC_RENEWAL_COUNT_MIN,
	         SC_RENEWAL_COUNT_MAX, &in->renewal_count)) != SC_OK ||
	    (r = take_bounded(rs->cadence, "tbsProfile.renewal.cadence", SC_RENEWAL_CADENCE_MIN,
	         SC_RENEWAL_CADENCE_MAX, &in->renewal_cadence)) != SC_OK) {
		in->renewal_count = 0;
		return r;
	}
	return SC_OK;
}

/*
 * Check every field of the TBSProfile against the module and fill p->info (the signature
 * fields excepted). The one validator for decoded and freshly built profiles alike.
 */
sc_err sc_profile_parse_tbs(struct sc_profile *p)
{
	const SC_TBS_PROFILE *t = p->sp->tbsProfile;
	struct sc_profile_info *in = &p->info;
	int64_t v;
	sc_err r;
	int n;

	memset(in, 0, sizeof(*in));
	if (OBJ_cmp(t->contentType, OBJ_nid2obj(sc_nid_ct_profile())) != 0)
		return sc_fail(SC_ERR_CONTENT_TYPE, "tbsProfile.contentType: not id-sc-ct-profile");
	if (!ASN1_INTEGER_get_int64(&v, t->version)) {
		ERR_clear_error();
		return sc_fail(SC_ERR_VERSION, "tbsProfile.version: out of range, only 1 is known");
	}
	if (v != PROFILE_VERSION)
		return sc_fail(SC_ERR_VERSION, "tbsProfile.version: %lld, only %d is known",
		    (long long)v, PROFILE_VERSION);

	if (ASN1_STRING_length(t->profileId) != SC_PROFILE_ID_LEN)
		return sc_fail(SC_ERR_MALFORMED, "tbsProfile.profileId: %d bytes, must be %d",
		    ASN1_STRING_length(t->profileId), SC_PROFILE_ID_LEN);
	memcpy(in->id, ASN1_STRING_get0_data(t->profileId), SC_PROFILE_ID_LEN);

	if ((r = take_utf8(t->networkId, "tbsProfile.networkId", 1, SC_NETWORK_ID_MAX,
	         in->network_id)) != SC_OK)
		return r;
	if ((r = take_utf8(t->deviceId, "tbsProfile.deviceId", 1, SC_DEVICE_ID_MAX,
	         in->device_id)) != SC_OK)
		return r;
	if (!sc_device_id_valid(in->device_id))
		return sc_fail(SC_ERR_MALFORMED,
		    "tbsProfile.deviceId: not PrintableString characters (A-Z a-z 0-9 space '()+,-./:=?)");
	if (t->userId != NULL) {
		if ((r = take_utf8(t->userId, "tbsProfile.userId", 1, SC_USER_ID_MAX,
		         in->user_id)) != SC_OK)
			return r;
		in->has_user_id = 1;
	}
	if (t->challenge != NULL) {
		n = ASN1_STRING_length(t->challenge);
		if (n < SC_CHALLENGE_MIN || n > SC_CHALLENGE_MAX)
			return sc_fail(SC_ERR_MALFORMED,
			    "tbsProfile.challenge: %d bytes, must be %d..%d", n, SC_CHALLENGE_MIN,
			    SC_CHALLENGE_MAX);
		memcpy(in->challenge, ASN1_STRING_get0_data(t->challenge), (size_t)n);
		in->challenge_len = (size_t)n;
	}

	if ((r = take_time(t->profileNotAfter, 1, "tbsProfile.profileNotAfter",
	         &in->profile_not_after)) != SC_OK)
		return r;
	if ((r = take_time(t->validity->notBefore, 0, "tbsProfile.validity.notBefore",
	         &in->not_before)) != SC_OK)
		return r;
	if ((r = take_time(t->validity->notAfter, 0, "tbsProfile.validity.notAfter",
	         &in->not_after)) != SC_OK)
		return r;

	switch (t->key->type) {
	case SC_KEY_SPEC_GENERATE:
		if (!ASN1_ENUMERATED_get_int64(&v, t->key->value.generate) ||
		    !sc_alg_valid((int)v) || v != (int)v) {
			ERR_clear_error();
			return sc_fail(SC_ERR_ALGORITHM,
			    "tbsProfile.key.generate: unknown KeyAlgorithm "
			    "(1..%d)",
			    SC_ALG_MAX);
		}
		in->origin = SC_KEY_DEVICE_GENERATED;
		in->alg = (enum sc_alg)v;
		break;
	case SC_KEY_SPEC_SUPPLIED:
		in->supplied_pub = X509_PUBKEY_get0(t->key->value.supplied->publicKey);
		if (in->supplied_pub == NULL) {
			ERR_clear_error();
			return sc_fail(SC_ERR_ALGORITHM,
			    "tbsProfile.key.supplied.publicKey: not a key OpenSSL can use");
		}
		in->origin = SC_KEY_SERVER_SUPPLIED;
		in->alg = sc_alg_of_key(
		    in->supplied_pub); /* SC_ALG_NONE: sc_profile_check refuses */
		break;
	default: return sc_fail(SC_ERR_MALFORMED, "tbsProfile.key: no KeySpec alternative");
	}

	if (!ASN1_ENUMERATED_get_int64(&v, t->certDigest) || v < SC_DIGEST_SHA256 ||
	    v > SC_DIGEST_SHA512) {
		ERR_clear_error();
		return sc_fail(SC_ERR_ALGORITHM,
		    "tbsProfile.certDigest: unknown CertDigest (1..3)");
	}
	in->cert_digest = (enum sc_digest)v;

	in->key_usage = KU_DIGITAL_SIGNATURE;
	if (t->keyUsage != NULL) {
		if ((r = take_key_usage(t->keyUsage, &in->key_usage)) != SC_OK ||
		    (r = key_usage_is_der(t->keyUsage, in->key_usage)) != SC_OK)
			return r;
		in->has_key_usage = 1;
	}

	if (t->extKeyUsage != NULL) {
		n = sk_ASN1_OBJECT_num(t->extKeyUsage);
		if (n < 1)
			return sc_fail(SC_ERR_MALFORMED,
			    "tbsProfile.extKeyUsage: empty (SIZE 1..MAX)");
		if (n > SC_PROFILE_MAX_EKU)
			return sc_fail(SC_ERR_EXTENSION,
			    "tbsProfile.extKeyUsage: %d OIDs, at most %d", n, SC_PROFILE_MAX_EKU);
		in->eku = t->extKeyUsage;
	}
	if (t->subjectAltName != NULL) {
		n = sk_GENERAL_NAME_num(t->subjectAltName);
		if (n < 1)
			return sc_fail(SC_ERR_MALFORMED,
			    "tbsProfile.subjectAltName: empty (SIZE 1..MAX)");
		if (n > SC_PROFILE_MAX_SAN)
			return sc_fail(SC_ERR_EXTENSION,
			    "tbsProfile.subjectAltName: %d names, at most %d", n,
			    SC_PROFILE_MAX_SAN);
		for (int i = 0; i < n; i++)
			if ((r = san_entry_ok(sk_GENERAL_NAME_value(t->subjectAltName, i), i)) !=
			    SC_OK)
				return r;
		in->san = t->subjectAltName;
	}
	if ((r = take_renewal(t->renewal, in)) != SC_OK)
		return r;
	if (t->batch != NULL) {
		if (ASN1_STRING_length(t->batch->batchId) != SC_PROFILE_ID_LEN)
			return sc_fail(SC_ERR_MALFORMED,
			    "tbsProfile.batch.batchId: %d bytes, must be %d",
			    ASN1_STRING_length(t->batch->batchId), SC_PROFILE_ID_LEN);
		if ((r = take_bounded(t->batch->index, "tbsProfile.batch.index", 0,
		         SC_BATCH_MAX_SIZE - 1, &in->batch_index)) != SC_OK)
			return r;
		in->has_batch = 1;
	}
	return SC_OK;
}

/* The signature half of p->info, from p->sp and the DER it encodes to. */
sc_err sc_profile_set_signed_info(struct sc_profile *p, const uint8_t *der, size_t der_len)
{
	struct sc_profile_info *in = &p->info;

	if (!EVP_Digest(der, der_len, in->digest, NULL, sc_fast_sha256(), NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256 of the profile");
	in->certs = p->sp->certificates;
	in->signer = sk_X509_value(p->sp->certificates, 0);
	in->sig_alg = OBJ_nid2sn(OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm));
	in->signed_ = 1;
	p->signed_ = 1;
	return SC_OK;
}

/* ---- building ---- */

static sc_err set_utf8(ASN1_UTF8STRING *s, const char *v, const char *field, size_t min, size_t max)
{
	size_t len = v != NULL ? strlen(v) : 0;

	if (v == NULL || len < min || len > max)
		return sc_fail(SC_ERR_USAGE, "%s: %zu bytes, must be %zu..%zu", field, len, min,
		    max);
	if (!utf8_ok((const unsigned char *)v, len))
		return sc_fail(SC_ERR_USAGE, "%s: not valid UTF-8", field);
	if (!ASN1_STRING_set(s, v, (int)len))
		return sc_fail_ossl(SC_ERR_NOMEM, field);
	return SC_OK;
}

static sc_err build_eku(const char *const *list, EXTENDED_KEY_USAGE **out)
{
	sc_err r = SC_ERR_INTERNAL;
	EXTENDED_KEY_USAGE *eku = NULL;
	ASN1_OBJECT *obj = NULL;
	int i;

	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "eku");
		goto out;
	}
	for (i = 0; list[i] != NULL; i++) {
		if (i >= SC_PROFILE_MAX_EKU) {
			r = sc_fail(SC_ERR_USAGE, "eku: more than %d OIDs", SC_PROFILE_MAX_EKU);
			goto out;
		}
		if ((obj = OBJ_txt2obj(list[i], 0)) == NULL) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_USAGE, "eku[%d]: '%s' is not an OID or known name", i,
			    list[i]);
			goto out;
		}
		if (!sk_ASN1_OBJECT_push(eku, obj)) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "eku");
			goto out;
		}
		obj = NULL;
	}
	*out = eku;
	eku = NULL;
	r = SC_OK;
out:
	ASN1_OBJECT_free(obj);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return r;
}

static sc_err build_san(const char *const *list, GENERAL_NAMES **out)
{
	static const struct {
		const char *prefix;
		int type;
	} kinds[] = {
		{ "dns:", GEN_DNS },
		{ "email:", GEN_EMAIL },
		{ "uri:", GEN_URI },
		{ "ip:", GEN_IPADD },
	};
	sc_err r = SC_ERR_INTERNAL;
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	int i;

	if ((names = sk_GENERAL_NAME_new_null()) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "san");
		goto out;
	}
	for (i = 0; list[i] != NULL; i++) {
		const char *value = NULL;
		int type = -1;

		if (i >= SC_PROFILE_MAX_SAN) {
			r = sc_fail(SC_ERR_USAGE, "san: more than %d names", SC_PROFILE_MAX_SAN);
			goto out;
		}
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			if (strncmp(list[i], kinds[k].prefix, strlen(kinds[k].prefix)) == 0) {
				value = list[i] + strlen(kinds[k].prefix);
				type = kinds[k].type;
			}
		}
		if (value == NULL) {
			r = sc_fail(SC_ERR_USAGE,
			    "san[%d]: '%s' is not dns:, email:, uri: or ip:", i, list[i]);
			goto out;
		}
		if (type != GEN_IPADD &&
		    !ia5_value_ok((const unsigned char *)value, strlen(value))) {
			r = sc_fail(SC_ERR_USAGE, "san[%d]: must be 1..%d visible ASCII characters",
			    i, SAN_VALUE_MAX);
			goto out;
		}
		if ((gn = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0)) == NULL) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_USAGE, "san[%d]: '%s' is not valid", i, list[i]);
			goto out;
		}
		if (!sk_GENERAL_NAME_push(names, gn)) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "san");
			goto out;
		}
		gn = NULL;
	}
	*out = names;
	names = NULL;
	r = SC_OK;
out:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return r;
}

/*
 * sc_profile_create's phases, in the order the fields appear in the module. Each fills fields
 * of t (the profile's own template, freed with it), so none of them owns anything on failure
 * except set_key_supplied, which holds the key spec until it is attached.
 */

/* contentType, version and a fresh random profileId. */
static sc_err set_header(SC_TBS_PROFILE *t)
{
	uint8_t id[SC_PROFILE_ID_LEN];

	ASN1_OBJECT_free(t->contentType);
	t->contentType = OBJ_dup(OBJ_nid2obj(sc_nid_ct_profile()));
	if (t->contentType == NULL || !ASN1_INTEGER_set(t->version, PROFILE_VERSION))
		return sc_fail_ossl(SC_ERR_INTERNAL, "profile: contentType, version");
	if (RAND_bytes(id, sizeof(id)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "random profileId");
	if (!ASN1_OCTET_STRING_set(t->profileId, id, sizeof(id)))
		return sc_fail_ossl(SC_ERR_INTERNAL, "profile: profileId");
	return SC_OK;
}

/* [6]: only when asked for; the decoder's bounds apply (sc_profile_parse_tbs below). */
static sc_err set_renewal(SC_TBS_PROFILE *t, const struct sc_profile_params *pp)
{
	if (pp->renewal_count == 0)
		return SC_OK;
	if (pp->challenge != NULL)
		return sc_fail(SC_ERR_USAGE,
		    "renewal: a renewal profile is used K times, so it carries no challenge");
	if ((t->renewal = (SC_RENEWAL_SPEC *)ASN1_item_new(ASN1_ITEM_rptr(SC_RENEWAL_SPEC))) ==
	        NULL ||
	    !ASN1_INTEGER_set_int64(t->renewal->count, (int64_t)pp->renewal_count) ||
	    !ASN1_INTEGER_set_int64(t->renewal->cadence, (int64_t)pp->renewal_cadence))
		return sc_fail(SC_ERR_NOMEM, "profile: renewal");
	return SC_OK;
}

/* Whom the certificate is for: network, device, optional user, optional challenge. */
static sc_err set_identity(SC_TBS_PROFILE *t, const struct sc_profile_params *pp)
{
	sc_err r;

	if ((r = set_utf8(t->networkId, pp->network_id, "network_id", 1, SC_NETWORK_ID_MAX)) !=
	        SC_OK ||
	    (r = set_utf8(t->deviceId, pp->device_id, "device_id", 1, SC_DEVICE_ID_MAX)) != SC_OK)
		return r;
	if (!sc_device_id_valid(pp->device_id))
		return sc_fail(SC_ERR_USAGE,
		    "device_id: only PrintableString characters "
		    "(A-Z a-z 0-9 space '()+,-./:=?)");
	if (pp->user_id != NULL) {
		if ((t->userId = ASN1_UTF8STRING_new()) == NULL)
			return sc_fail(SC_ERR_NOMEM, "profile: userId");
		if ((r = set_utf8(t->userId, pp->user_id, "user_id", 1, SC_USER_ID_MAX)) != SC_OK)
			return r;
	}
	if (pp->challenge == NULL)
		return SC_OK;
	if (pp->challenge_len < SC_CHALLENGE_MIN || pp->challenge_len > SC_CHALLENGE_MAX)
		return sc_fail(SC_ERR_USAGE, "challenge: %zu bytes, must be %d..%d",
		    pp->challenge_len, SC_CHALLENGE_MIN, SC_CHALLENGE_MAX);
	if ((t->challenge = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(t->challenge, pp->challenge, (int)pp->challenge_len))
		return sc_fail_ossl(SC_ERR_INTERNAL, "profile: challenge");
	return SC_OK;
}

/* Times are syntax here; whether they make sense is the device's call (sc_profile_check). */
static sc_err set_times(SC_TBS_PROFILE *t, const struct sc_profile_params *pp)
{
	if (ASN1_GENERALIZEDTIME_set(t->profileNotAfter, pp->profile_not_after) == NULL)
		return sc_fail(SC_ERR_USAGE, "profile_not_after: not representable");
	/* ASN1_TIME_set picks UTCTime through 2049 and GeneralizedTime after, as RFC 5280 wants. */
	if (ASN1_TIME_set(t->validity->notBefore, pp->not_before) == NULL ||
	    ASN1_TIME_set(t->validity->notAfter, pp->not_after) == NULL)
		return sc_fail(SC_ERR_USAGE, "not_before/not_after: not representable");
	return SC_OK;
}

/* Embodiment 2: the server's key, its public half in clear and the whole encrypted to the KEK. */
static sc_err set_key_supplied(SC_TBS_PROFILE *t, const struct sc_profile_params *pp)
{
	sc_err r = SC_ERR_INTERNAL;
	SC_SUPPLIED_KEY *sk = NULL;

	if (pp->kek_cert == NULL) {
		r = sc_fail(SC_ERR_USAGE, "supplied_key needs kek_cert");
		goto out;
	}
	if ((sk = SC_SUPPLIED_KEY_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile: key.supplied");
		goto out;
	}
	if (!X509_PUBKEY_set(&sk->publicKey, pp->supplied_key)) {
		r = sc_fail_ossl(SC_ERR_USAGE, "supplied_key: no SubjectPublicKeyInfo");
		goto out;
	}
	CMS_ContentInfo_free(sk->encryptedKey);
	sk->encryptedKey = NULL;
	if ((r = sc_keywrap_encrypt(pp->supplied_key, pp->kek_cert, &sk->encryptedKey)) != SC_OK)
		goto out;
	t->key->type = SC_KEY_SPEC_SUPPLIED;
	t->key->value.supplied = sk;
	sk = NULL;
	r = SC_OK;
out:
	SC_SUPPLIED_KEY_free(sk);
	return r;
}

/* Embodiment 1: the SP generates the key; the profile names only the algorithm. */
static sc_err set_key_generate(SC_TBS_PROFILE *t, const struct sc_profile_params *pp)
{
	if (!sc_alg_valid((int)pp->generate_alg))
		return sc_fail(SC_ERR_ALGORITHM, "generate_alg: %d is not one of the six",
		    (int)pp->generate_alg);
	if ((t->key->value.generate = ASN1_ENUMERATED_new()) == NULL ||
	    !ASN1_ENUMERATED_set(t->key->value.generate, (long)pp->generate_alg))
		return sc_fail(SC_ERR_NOMEM, "profile: key.generate");
	t->key->type = SC_KEY_SPEC_GENERATE;
	return SC_OK;
}

/* What the certificate carries besides the key: its digest, key usage, EKU and alt names. */
static sc_err set_usage(SC_TBS_PROFILE *t, const struct sc_profile_params *pp)
{
	enum sc_digest digest;
	sc_err r;

	digest = pp->cert_digest == SC_DIGEST_NONE ? SC_DIGEST_SHA256 : pp->cert_digest;
	if (digest < SC_DIGEST_SHA256 || digest > SC_DIGEST_SHA512)
		return sc_fail(SC_ERR_ALGORITHM, "cert_digest: %d is not sha256/384/512",
		    (int)digest);
	if (!ASN1_ENUMERATED_set(t->certDigest, (long)digest))
		return sc_fail(SC_ERR_NOMEM, "profile: certDigest");
	if (pp->key_usage & ~SC_KU_ALL)
		return sc_fail(SC_ERR_USAGE, "key_usage: unknown bits 0x%x",
		    pp->key_usage & ~SC_KU_ALL);
	if (pp->key_usage != 0 && (t->keyUsage = key_usage_bits(pp->key_usage)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "profile: keyUsage");
	if (pp->eku != NULL && pp->eku[0] != NULL &&
	    (r = build_eku(pp->eku, &t->extKeyUsage)) != SC_OK)
		return r;
	if (pp->san != NULL && pp->san[0] != NULL &&
	    (r = build_san(pp->san, &t->subjectAltName)) != SC_OK)
		return r;
	return set_renewal(t, pp);
}

sc_err sc_profile_create(const struct sc_profile_params *pp, struct sc_profile **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile *p = NULL;
	SC_TBS_PROFILE *t;

	if (out == NULL || pp == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_create: missing argument");
	*out = NULL;
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL || (p->sp = SC_SIGNED_PROFILE_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile");
		goto out;
	}
	t = p->sp->tbsProfile;
	if ((r = set_header(t)) != SC_OK || (r = set_identity(t, pp)) != SC_OK ||
	    (r = set_times(t, pp)) != SC_OK)
		goto out;
	if (pp->supplied_key != NULL)
		r = set_key_supplied(t, pp);
	else
		r = set_key_generate(t, pp);
	if (r != SC_OK || (r = set_usage(t, pp)) != SC_OK)
		goto out;
	/* The decoder's own checks: what we build is exactly what a device accepts as syntax. */
	if ((r = sc_profile_parse_tbs(p)) != SC_OK)
		goto out;
	*out = p;
	p = NULL;
	r = SC_OK;
out:
	sc_profile_free(p);
	return r;
}

/* ---- signing, encoding, decoding ---- */

/* The signer's checks (sc_profile_sign's) and the digest it signs with (*md; NULL: pure). */
static sc_err signer_checks(EVP_PKEY *signer_key, X509 *signer_cert, int rsa_pss, const EVP_MD **md)
{
	int type = EVP_PKEY_get_base_id(signer_key);

	if (X509_check_private_key(signer_cert, signer_key) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_USAGE, "signer_key does not match signer_cert");
	}
	switch (type) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(signer_key) < 2048)
			return sc_fail(SC_ERR_ALGORITHM, "signer_key: RSA-%d, at least 2048",
			    EVP_PKEY_get_bits(signer_key));
		*md = EVP_sha256();
		break;
	case EVP_PKEY_EC:
		if (sc_alg_of_key(signer_key) == SC_ALG_P256)
			*md = EVP_sha256();
		else if (sc_alg_of_key(signer_key) == SC_ALG_P384)
			*md = EVP_sha384();
		else
			return sc_fail(SC_ERR_ALGORITHM,
			    "signer_key: EC curve is not P-256 or P-384");
		break;
	case EVP_PKEY_ED25519:
		*md = NULL; /* pure EdDSA hashes for itself */
		break;
	default: return sc_fail(SC_ERR_ALGORITHM, "signer_key: not RSA, P-256, P-384 or Ed25519");
	}
	if (rsa_pss && type != EVP_PKEY_RSA)
		return sc_fail(SC_ERR_USAGE, "rsa_pss: the signer key is not RSA");
	return SC_OK;
}

/*
 * sc_profile_sign, or (proto non-NULL: sc_profile_signer_sign) the same signature from a copy
 * of proto, a context EVP_DigestSignInit made once for this key and the checks below made then.
 */
static sc_err profile_sign(struct sc_profile *p, EVP_PKEY *signer_key, X509 *signer_cert,
    STACK_OF(X509) *intermediates, int rsa_pss, const EVP_MD_CTX *proto, uint8_t **der_out,
    size_t *der_out_len)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *sig = NULL;
	STACK_OF(X509) *certs = NULL;
	uint8_t *der = NULL;
	int n_inter = intermediates != NULL ? sk_X509_num(intermediates) : 0, der_len;

	if (p == NULL || signer_key == NULL || signer_cert == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_sign: missing argument");
	if (n_inter > SC_PROFILE_MAX_CERTS - 1)
		return sc_fail(SC_ERR_USAGE, "intermediates: %d, at most %d", n_inter,
		    SC_PROFILE_MAX_CERTS - 1);
	/* sc_profile_signer_new made the signer's checks once for a kept context. */
	if (proto == NULL && (r = signer_checks(signer_key, signer_cert, rsa_pss, &md)) != SC_OK)
		return r;
	if ((mctx = EVP_MD_CTX_new()) == NULL || (alg = X509_ALGOR_new()) == NULL ||
	    (sig = ASN1_BIT_STRING_new()) == NULL || (certs = sk_X509_new_null()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "signing");
		goto out;
	}
	/* The kept context's copy carries its key, digest and padding (PSS's too). */
	if (proto != NULL && EVP_MD_CTX_copy_ex(mctx, proto) != 1) {
		/*
		 * A provider that copied the context at start but not now: this profile the plain
		 * way, as sc_profile_sign (its checks too), rather than no profile at all.
		 */
		ERR_clear_error();
		EVP_MD_CTX_reset(mctx);
		proto = NULL;
		if ((r = signer_checks(signer_key, signer_cert, rsa_pss, &md)) != SC_OK)
			goto out;
	}
	if (proto == NULL && EVP_DigestSignInit(mctx, &pctx, md, NULL, signer_key) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "EVP_DigestSignInit");
		goto out;
	}
	if (rsa_pss && proto == NULL &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) <= 0 ||
	        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "RSASSA-PSS parameters");
		goto out;
	}
	if (ASN1_item_sign_ctx(ASN1_ITEM_rptr(SC_TBS_PROFILE), alg, NULL, sig, p->sp->tbsProfile,
	        mctx) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "signing the tbsProfile");
		goto out;
	}
	if (!X509_up_ref(signer_cert)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "certificates[0]");
		goto out;
	}
	if (!sk_X509_push(certs, signer_cert)) {
		X509_free(signer_cert);
		r = sc_fail_ossl(SC_ERR_INTERNAL, "certificates[0]");
		goto out;
	}
	for (int i = 0; i < n_inter; i++) {
		X509 *c = sk_X509_value(intermediates, i);
		if (!X509_up_ref(c)) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "intermediates");
			goto out;
		}
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
			r = sc_fail_ossl(SC_ERR_INTERNAL, "intermediates");
			goto out;
		}
	}

	/* Swap in the new signature; from here the profile is unsigned until the digest is known. */
	p->signed_ = 0;
	p->info.signed_ = 0;
	X509_ALGOR_free(p->sp->signatureAlgorithm);
	ASN1_BIT_STRING_free(p->sp->signature);
	sk_X509_pop_free(p->sp->certificates, X509_free);
	p->sp->signatureAlgorithm = alg;
	p->sp->signature = sig;
	p->sp->certificates = certs;
	alg = NULL;
	sig = NULL;
	certs = NULL;
	p->info.certs = NULL;
	p->info.signer = NULL;
	if ((der_len = ASN1_item_i2d((ASN1_VALUE *)p->sp, &der,
	         ASN1_ITEM_rptr(SC_SIGNED_PROFILE))) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "encoding the signed profile");
		goto out;
	}
	if (der_len > SC_PROFILE_MAX_DER) {
		/* No device would take it: say so here rather than at the far end. */
		r = sc_fail(SC_ERR_OVERSIZE, "SignedProfile: %d bytes, at most %d", der_len,
		    SC_PROFILE_MAX_DER);
		goto out;
	}
	if ((r = sc_profile_set_signed_info(p, der, (size_t)der_len)) != SC_OK)
		goto out;
	/* enroll15: the SignedProfile's DER, as sc_profile_encode would write it now, handed over. */
	if (der_out != NULL) {
		*der_out = der;
		*der_out_len = (size_t)der_len;
		der = NULL;
	}
	r = SC_OK;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	X509_ALGOR_free(alg);
	ASN1_BIT_STRING_free(sig);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

sc_err sc_profile_sign(struct sc_profile *p, EVP_PKEY *signer_key, X509 *signer_cert,
    STACK_OF(X509) *intermediates, int rsa_pss)
{
	return profile_sign(p, signer_key, signer_cert, intermediates, rsa_pss, NULL, NULL, NULL);
}

/* ---- judge11: a signer's context kept (fast/profile_signer.h) ---- */

struct sc_profile_signer {
	EVP_PKEY *key;
	X509 *cert;
	int rsa_pss;
	EVP_MD_CTX *proto; /* EVP_DigestSignInit'ed once; NULL: the key's provider cannot copy it */
};

void sc_profile_signer_free(struct sc_profile_signer *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->proto);
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	OPENSSL_free(s);
}

sc_err sc_profile_signer_new(EVP_PKEY *key, X509 *cert, int rsa_pss, struct sc_profile_signer **out)
{
	struct sc_profile_signer *s = NULL;
	EVP_MD_CTX *m = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	sc_err r;

	if (out == NULL || key == NULL || cert == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_signer_new: missing argument");
	*out = NULL;
	if ((s = OPENSSL_zalloc(sizeof(*s))) == NULL || !EVP_PKEY_up_ref(key)) {
		OPENSSL_free(s);
		return sc_fail(SC_ERR_NOMEM, "profile signer");
	}
	s->key = key;
	if (!X509_up_ref(cert)) {
		sc_profile_signer_free(s);
		return sc_fail(SC_ERR_NOMEM, "profile signer");
	}
	s->cert = cert;
	s->rsa_pss = rsa_pss;
	if ((r = signer_checks(key, cert, rsa_pss, &md)) != SC_OK)
		goto fail;
	if ((m = EVP_MD_CTX_new()) != NULL && EVP_DigestSignInit(m, &pctx, md, NULL, key) == 1 &&
	    (!rsa_pss ||
	        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
	            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0))) {
		EVP_MD_CTX *copy = EVP_MD_CTX_new();

		/* Kept only if it can be copied (a provider without dupctx: the plain path). */
		if (copy != NULL && EVP_MD_CTX_copy_ex(copy, m) == 1) {
			s->proto = m;
			m = NULL;
		}
		EVP_MD_CTX_free(copy);
	}
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	*out = s;
	return SC_OK;
fail:
	sc_profile_signer_free(s);
	return r;
}

sc_err sc_profile_signer_sign(const struct sc_profile_signer *s, struct sc_profile *p)
{
	if (s == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_signer_sign: missing argument");
	return profile_sign(p, s->key, s->cert, NULL, s->rsa_pss,
	    sc_fast_enabled() ? s->proto : NULL, NULL, NULL);
}

sc_err sc_profile_signer_sign_der(const struct sc_profile_signer *s, struct sc_profile *p,
    uint8_t **der, size_t *der_len)
{
	if (s == NULL || der == NULL || der_len == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_signer_sign_der: missing argument");
	*der = NULL;
	*der_len = 0;
	return profile_sign(p, s->key, s->cert, NULL, s->rsa_pss,
	    sc_fast_enabled() ? s->proto : NULL, der, der_len);
}

sc_err sc_profile_encode(const struct sc_profile *p, uint8_t **der, size_t *der_len)
{
	unsigned char *buf = NULL;
	int len;

	if (p == NULL || der == NULL || der_len == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_encode: missing argument");
	*der = NULL;
	*der_len = 0;
	if (!p->signed_)
		return sc_fail(SC_ERR_USAGE, "profile is not signed");
	if ((len = ASN1_item_i2d((ASN1_VALUE *)p->sp, &buf, ASN1_ITEM_rptr(SC_SIGNED_PROFILE))) <=
	    0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "encoding the signed profile");
	*der = buf;
	*der_len = (size_t)len;
	return SC_OK;
}

sc_err sc_profile_decode(const uint8_t *der, size_t der_len, struct sc_profile **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile *p = NULL;
	const unsigned char *q = der;
	unsigned char *re = NULL;
	int re_len, n;

	if (out == NULL || (der == NULL && der_len != 0))
		return sc_fail(SC_ERR_USAGE, "sc_profile_decode: missing argument");
	*out = NULL;
	/* The cap first: nothing larger is even parsed. */
	if (der_len > SC_PROFILE_MAX_DER)
		return sc_fail(SC_ERR_OVERSIZE, "SignedProfile: %zu bytes, at most %d", der_len,
		    SC_PROFILE_MAX_DER);
	if (der_len == 0)
		return sc_fail(SC_ERR_MALFORMED, "SignedProfile: empty");
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile");
		goto out;
	}
	p->sp = (SC_SIGNED_PROFILE *)ASN1_item_d2i(NULL, &q, (long)der_len,
	    ASN1_ITEM_rptr(SC_SIGNED_PROFILE));
	if (p->sp == NULL) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, "SignedProfile does not decode");
		goto out;
	}
	/* d2i stops silently before trailing bytes. */
	if ((size_t)(q - der) != der_len) {
		r = sc_fail(SC_ERR_TRAILING, "SignedProfile: %zu bytes after the structure",
		    der_len - (size_t)(q - der));
		goto out;
	}
	/* d2i accepts BER (indefinite lengths, long-form lengths, ...): DER must re-encode. */
	re_len = ASN1_item_i2d((ASN1_VALUE *)p->sp, &re, ASN1_ITEM_rptr(SC_SIGNED_PROFILE));
	if (re_len <= 0) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, "SignedProfile does not re-encode");
		goto out;
	}
	if ((size_t)re_len != der_len || memcmp(re, der, der_len) != 0) {
		r = sc_fail(SC_ERR_MALFORMED, "SignedProfile: not DER");
		goto out;
	}
	if ((r = sc_profile_parse_tbs(p)) != SC_OK)
		goto out;
	if (p->info.has_batch) {
		r = sc_fail(SC_ERR_MALFORMED,
		    "tbsProfile.batch: a batch leaf comes only inside a BatchedProfile");
		goto out;
	}
	n = sk_X509_num(p->sp->certificates);
	if (n < 1 || n > SC_PROFILE_MAX_CERTS) {
		r = sc_fail(SC_ERR_MALFORMED, "SignedProfile.certificates: %d, must be 1..%d", n,
		    SC_PROFILE_MAX_CERTS);
		goto out;
	}
	if ((r = sc_profile_set_signed_info(p, der, der_len)) != SC_OK)
		goto out;
	*out = p;
	p = NULL;
	r = SC_OK;
out:
	OPENSSL_free(re);
	sc_profile_free(p);
	return r;
}

void sc_profile_free(struct sc_profile *p)
{
	if (p == NULL)
		return;
	SC_SIGNED_PROFILE_free(p->sp);
	ASN1_item_free((ASN1_VALUE *)p->batch_root, ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT));
	OPENSSL_free(p);
}

void sc_profile_get_info(const struct sc_profile *p, struct sc_profile_info *out)
{
	if (out == NULL)
		return;
	if (p == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = p->info;
}

/* ---- renewal profiles (#17) ---- */

sc_err sc_profile_set_renewal_index(struct sc_profile *p, uint32_t index)
{
	if (p == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_set_renewal_index: missing argument");
	if (p->info.renewal_count == 0 && index > 0)
		return sc_fail(SC_ERR_USAGE, "renewal: index %u of an ordinary profile", index);
	if (p->info.renewal_count > 0 && index >= p->info.renewal_count)
		return sc_fail(SC_ERR_RENEWAL_SPENT, "renewal: certificate %u of a profile of %u",
		    index, p->info.renewal_count);
	p->info.renewal_index = index;
	return SC_OK;
}

void sc_profile_leaf_validity(const struct sc_profile_info *in, uint32_t index, time_t *not_before,
    time_t *not_after)
{
	/* index < 1024 and cadence < 2^25: the shift is below 2^35 s, no overflow of time_t. */
	time_t shift = in->renewal_count > 0 ? (time_t)index * (time_t)in->renewal_cadence : 0;

	*not_before = in->not_before + shift;
	*not_after = in->not_after + shift;
}

int sc_profile_leaf_index(const struct sc_profile_info *in, time_t not_before, uint32_t *index)
{
	time_t d = not_before - in->not_before;

	*index = 0;
	if (in->renewal_count == 0)
		return 1;
	if (in->renewal_cadence == 0 || d < 0 || d % (time_t)in->renewal_cadence != 0 ||
	    d / (time_t)in->renewal_cadence >= (time_t)in->renewal_count)
		return 0;
	*index = (uint32_t)(d / (time_t)in->renewal_cadence);
	return 1;
}

time_t sc_profile_window_end(const struct sc_profile_info *in)
{
	time_t nb, na;

	sc_profile_leaf_validity(in, in->renewal_count > 0 ? in->renewal_count - 1 : 0, &nb, &na);
	return na;
}

time_t sc_profile_leaf_judged_at(const struct sc_profile_info *in, time_t not_before,
    time_t not_after, time_t now)
{
	if (in->renewal_count == 0)
		return now;
	if (now < not_before)
		return not_before;
	/* Its last valid second (path validation: expired at notAfter itself). */
	if (now >= not_after && not_after > not_before)
		return not_after - 1;
	return now;
}

sc_err sc_profile_renewal_next(const struct sc_profile_info *in, uint32_t next, time_t now,
    uint32_t *index)
{
	time_t period = 0, earliest;
	uint32_t i = next;

	if (in->renewal_count == 0 || in->renewal_cadence == 0)
		return sc_fail(SC_ERR_USAGE, "renewal: not a renewal profile");
	if (now > in->not_before)
		period = (now - in->not_before) / (time_t)in->renewal_cadence;
	/* A device that was away skips the periods it missed: they count as issued. */
	if ((time_t)i < period)
		i = period > (time_t)in->renewal_count ? in->renewal_count : (uint32_t)period;
	if (i >= in->renewal_count)
		return sc_fail(SC_ERR_RENEWAL_SPENT,
		    "renewal: all %u certificates of this profile are issued", in->renewal_count);
	/* Certificate i may be made from one cadence before it starts: the overlap to renew in. */
	earliest = in->not_before + (time_t)(i > 0 ? i - 1 : 0) * (time_t)in->renewal_cadence;
	if (i > 0 && now < earliest)
		return sc_fail(SC_ERR_RENEWAL_EARLY,
		    "renewal: certificate %u of %u is due from %lld, now is %lld", i + 1,
		    in->renewal_count, (long long)earliest, (long long)now);
	*index = i;
	return SC_OK;
}
