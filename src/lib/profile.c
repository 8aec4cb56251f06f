/*
 * profile.c — SignedProfile (docs/FORMATS.md): build, sign, strict DER decode, the SP's
 * stateless checks, and the unwrapping of a server-supplied key encrypted to the KEK.
 * Also the home of our OIDs (sc_oids_init, sc_nid_*).
 */
#include <limits.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include "profile_internal.h"
#include "text.h"

#define PROFILE_VERSION 1
#define SAN_VALUE_MAX 255          /* dNSName, rfc822Name, URI: a sane bound, not the RFC's */
#define UNWRAP_PLAINTEXT_MAX 16384 /* a PKCS#8 RSA-4096 key is about 2.4 KB */

/* ---- ASN.1 templates: exactly the module of docs/FORMATS.md (EXPLICIT TAGS) ---- */

ASN1_SEQUENCE(SC_SUPPLIED_KEY) = {
	ASN1_SIMPLE(SC_SUPPLIED_KEY, publicKey, X509_PUBKEY),
	ASN1_SIMPLE(SC_SUPPLIED_KEY, encryptedKey, CMS_ContentInfo),
} static_ASN1_SEQUENCE_END(SC_SUPPLIED_KEY)

ASN1_CHOICE(SC_KEY_SPEC) = {
	ASN1_EXP(SC_KEY_SPEC, value.generate, ASN1_ENUMERATED, 0),
	ASN1_EXP(SC_KEY_SPEC, value.supplied, SC_SUPPLIED_KEY, 1),
} static_ASN1_CHOICE_END(SC_KEY_SPEC)

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
} static_ASN1_SEQUENCE_END(SC_TBS_PROFILE)

ASN1_SEQUENCE(SC_SIGNED_PROFILE) = {
	ASN1_SIMPLE(SC_SIGNED_PROFILE, tbsProfile, SC_TBS_PROFILE),
	ASN1_SIMPLE(SC_SIGNED_PROFILE, signatureAlgorithm, X509_ALGOR),
	ASN1_SIMPLE(SC_SIGNED_PROFILE, signature, ASN1_BIT_STRING),
	ASN1_SEQUENCE_OF(SC_SIGNED_PROFILE, certificates, X509),
} static_ASN1_SEQUENCE_END(SC_SIGNED_PROFILE)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SC_SUPPLIED_KEY)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SC_SIGNED_PROFILE)

/* ---- OIDs ---- */

static CRYPTO_ONCE oid_once = CRYPTO_ONCE_STATIC_INIT;
static int oid_ok;
static int nid_ct_profile = NID_undef, nid_kp_profile_signing = NID_undef,
    nid_pe_issuance = NID_undef;

/* Reuse an existing registration (a config file may have named the OID first). */
static int oid_register(const char *oid, const char *sn, const char *ln)
{
	int nid = OBJ_txt2nid(oid);

	if (nid == NID_undef)
		nid = OBJ_create(oid, sn, ln);
	return nid;
}

static void oids_register(void)
{
	nid_ct_profile = oid_register(SC_OID_CT_PROFILE, "id-sc-ct-profile",
	    "selfcert profile content type");
	nid_kp_profile_signing = oid_register(SC_OID_KP_PROFILESIGN, "id-sc-kp-profileSigning",
	    "selfcert profile signing");
	nid_pe_issuance = oid_register(SC_OID_PE_ISSUANCE, "id-sc-pe-issuance",
	    "selfcert issuance");
	oid_ok = nid_ct_profile != NID_undef && nid_kp_profile_signing != NID_undef &&
	    nid_pe_issuance != NID_undef;
}

sc_err sc_oids_init(void)
{
	if (!CRYPTO_THREAD_run_once(&oid_once, oids_register) || !oid_ok)
		return sc_fail_ossl(SC_ERR_INTERNAL, "registering the selfcert OIDs");
	return SC_OK;
}

int sc_nid_ct_profile(void)
{
	return sc_oids_init() == SC_OK ? nid_ct_profile : NID_undef;
}

int sc_nid_kp_profile_signing(void)
{
	return sc_oids_init() == SC_OK ? nid_kp_profile_signing : NID_undef;
}

int sc_nid_pe_issuance(void)
{
	return sc_oids_init() == SC_OK ? nid_pe_issuance : NID_undef;
}

/* ---- small helpers ---- */

/* KeyUsage bit n of RFC 5280 and OpenSSL's KU_* flag for it. */
static const struct {
	unsigned ku;
	const char *name;
} ku_bits[] = {
	{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
	{ KU_NON_REPUDIATION, "nonRepudiation" },
	{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
	{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ KU_KEY_AGREEMENT, "keyAgreement" },
	{ KU_KEY_CERT_SIGN, "keyCertSign" },
	{ KU_CRL_SIGN, "cRLSign" },
	{ KU_ENCIPHER_ONLY, "encipherOnly" },
	{ KU_DECIPHER_ONLY, "decipherOnly" },
};
#define KU_NBITS ((int)(sizeof(ku_bits) / sizeof(ku_bits[0])))

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
		return sc_fail(SC_ERR_MALFORMED, "%s: %d bytes, must be %d..%d", field, len, min, max);
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
			return sc_fail(SC_ERR_MALFORMED, "%s: not a DER UTCTime YYMMDDHHMMSSZ", field);
	} else if (ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME) {
		if (len != 15 || d[14] != 'Z' || !ASN1_GENERALIZEDTIME_check(t))
			return sc_fail(SC_ERR_MALFORMED, "%s: not a DER GeneralizedTime YYYYMMDDHHMMSSZ",
			    field);
		if (!generalized_only) {
			int year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
			    (d[3] - '0');
			if (year >= 1950 && year <= 2049)
				return sc_fail(SC_ERR_MALFORMED,
				    "%s: GeneralizedTime for year %d, RFC 5280 wants UTCTime", field, year);
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
		if (i >= KU_NBITS)
			return sc_fail(SC_ERR_EXTENSION, "tbsProfile.keyUsage: unknown bit %d", i);
		ku |= ku_bits[i].ku;
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
	for (int i = 0; i < KU_NBITS; i++) {
		if ((ku & ku_bits[i].ku) && !ASN1_BIT_STRING_set_bit(bs, i, 1)) {
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

	if (fresh == NULL)
		goto out;
	alen = i2d_ASN1_BIT_STRING(bs, &a);
	blen = i2d_ASN1_BIT_STRING(fresh, &b);
	if (alen <= 0 || blen <= 0)
		goto out;
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
		    "iPAddress only)", i, gen_name(gn->type));
	}
}

/*
 * Check every field of the TBSProfile against the module and fill p->info (the signature
 * fields excepted). The one validator for decoded and freshly built profiles alike.
 */
static sc_err parse_tbs(struct sc_profile *p)
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
			return sc_fail(SC_ERR_MALFORMED, "tbsProfile.challenge: %d bytes, must be %d..%d",
			    n, SC_CHALLENGE_MIN, SC_CHALLENGE_MAX);
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
		if (!ASN1_ENUMERATED_get_int64(&v, t->key->value.generate) || !sc_alg_valid((int)v) ||
		    v != (int)v) {
			ERR_clear_error();
			return sc_fail(SC_ERR_ALGORITHM, "tbsProfile.key.generate: unknown KeyAlgorithm "
			    "(1..%d)", SC_ALG_MAX);
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
		in->alg = sc_alg_of_key(in->supplied_pub); /* SC_ALG_NONE: sc_profile_check refuses */
		break;
	default:
		return sc_fail(SC_ERR_MALFORMED, "tbsProfile.key: no KeySpec alternative");
	}

	if (!ASN1_ENUMERATED_get_int64(&v, t->certDigest) || v < SC_DIGEST_SHA256 ||
	    v > SC_DIGEST_SHA512) {
		ERR_clear_error();
		return sc_fail(SC_ERR_ALGORITHM, "tbsProfile.certDigest: unknown CertDigest (1..3)");
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
			return sc_fail(SC_ERR_MALFORMED, "tbsProfile.extKeyUsage: empty (SIZE 1..MAX)");
		if (n > SC_PROFILE_MAX_EKU)
			return sc_fail(SC_ERR_EXTENSION, "tbsProfile.extKeyUsage: %d OIDs, at most %d",
			    n, SC_PROFILE_MAX_EKU);
		in->eku = t->extKeyUsage;
	}
	if (t->subjectAltName != NULL) {
		n = sk_GENERAL_NAME_num(t->subjectAltName);
		if (n < 1)
			return sc_fail(SC_ERR_MALFORMED, "tbsProfile.subjectAltName: empty (SIZE 1..MAX)");
		if (n > SC_PROFILE_MAX_SAN)
			return sc_fail(SC_ERR_EXTENSION, "tbsProfile.subjectAltName: %d names, at most %d",
			    n, SC_PROFILE_MAX_SAN);
		for (int i = 0; i < n; i++)
			if ((r = san_entry_ok(sk_GENERAL_NAME_value(t->subjectAltName, i), i)) != SC_OK)
				return r;
		in->san = t->subjectAltName;
	}
	return SC_OK;
}

/* The signature half of p->info, from p->sp and the DER it encodes to. */
static sc_err set_signed_info(struct sc_profile *p, const uint8_t *der, size_t der_len)
{
	struct sc_profile_info *in = &p->info;

	if (!EVP_Digest(der, der_len, in->digest, NULL, EVP_sha256(), NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256 of the profile");
	in->certs = p->sp->certificates;
	in->signer = sk_X509_value(p->sp->certificates, 0);
	in->sig_alg = OBJ_nid2sn(OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm));
	in->signed_ = 1;
	p->signed_ = 1;
	return SC_OK;
}

/* ---- building ---- */

/*
 * CMS-encrypt the PKCS#8 DER of key to kek_cert: AuthEnvelopedData with AES-256-GCM;
 * KeyTransRecipientInfo with RSAES-OAEP (SHA-256, MGF1-SHA-256) for an RSA KEK, or
 * KeyAgreeRecipientInfo with ECDH (X9.63 KDF with SHA-256) for an EC KEK.
 */
static sc_err wrap_key(EVP_PKEY *key, X509 *kek_cert, CMS_ContentInfo **out)
{
	sc_err r = SC_ERR_INTERNAL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	int der_len = 0, kek_type;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *kek_pub = X509_get0_pubkey(kek_cert);

	if (kek_pub == NULL) {
		r = sc_fail_ossl(SC_ERR_USAGE, "kek_cert: no usable public key");
		goto out;
	}
	kek_type = EVP_PKEY_get_base_id(kek_pub);
	if (kek_type != EVP_PKEY_RSA && kek_type != EVP_PKEY_EC) {
		/* OpenSSL 3.0 CMS has no X25519 recipients. */
		r = sc_fail(SC_ERR_ALGORITHM, "kek_cert: the key-exchange key must be RSA or EC");
		goto out;
	}
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL) {
		r = sc_fail_ossl(SC_ERR_USAGE, "supplied_key: no private key to encrypt");
		goto out;
	}
	if ((der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 ||
	    (in = BIO_new_mem_buf(der, der_len)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "supplied_key: PKCS#8 encoding");
		goto out;
	}
	/* CMS_PARTIAL: add the recipient ourselves, to set its padding before encrypting. */
	if ((cms = CMS_encrypt(NULL, in, EVP_aes_256_gcm(), CMS_PARTIAL | CMS_BINARY)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "CMS AuthEnvelopedData");
		goto out;
	}
	ri = CMS_add1_recipient_cert(cms, kek_cert, kek_type == EVP_PKEY_RSA ? CMS_KEY_PARAM : 0);
	if (ri == NULL || (pctx = CMS_RecipientInfo_get0_pkey_ctx(ri)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "CMS recipient for kek_cert");
		goto out;
	}
	if (kek_type == EVP_PKEY_RSA) {
		/* Never PKCS#1 v1.5 key transport: the SP refuses it (Bleichenbacher). */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "RSAES-OAEP parameters");
			goto out;
		}
	} else if (EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
		/* OpenSSL would default to the SHA-1 KDF (dhSinglePass-stdDH-sha1kdf-scheme). */
		r = sc_fail_ossl(SC_ERR_INTERNAL, "ECDH KDF digest");
		goto out;
	}
	if (!CMS_final(cms, in, NULL, CMS_BINARY)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "CMS encryption of the supplied key");
		goto out;
	}
	*out = cms;
	cms = NULL;
	r = SC_OK;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)der_len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

static sc_err set_utf8(ASN1_UTF8STRING *s, const char *v, const char *field, size_t min, size_t max)
{
	size_t len = v != NULL ? strlen(v) : 0;

	if (v == NULL || len < min || len > max)
		return sc_fail(SC_ERR_USAGE, "%s: %zu bytes, must be %zu..%zu", field, len, min, max);
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

	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL)
		goto out;
	for (i = 0; list[i] != NULL; i++) {
		if (i >= SC_PROFILE_MAX_EKU) {
			r = sc_fail(SC_ERR_USAGE, "eku: more than %d OIDs", SC_PROFILE_MAX_EKU);
			goto out;
		}
		if ((obj = OBJ_txt2obj(list[i], 0)) == NULL) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_USAGE, "eku[%d]: '%s' is not an OID or known name", i, list[i]);
			goto out;
		}
		if (!sk_ASN1_OBJECT_push(eku, obj))
			goto out;
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
		{ "dns:", GEN_DNS }, { "email:", GEN_EMAIL }, { "uri:", GEN_URI }, { "ip:", GEN_IPADD },
	};
	sc_err r = SC_ERR_INTERNAL;
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	int i;

	if ((names = sk_GENERAL_NAME_new_null()) == NULL)
		goto out;
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
			r = sc_fail(SC_ERR_USAGE, "san[%d]: '%s' is not dns:, email:, uri: or ip:", i,
			    list[i]);
			goto out;
		}
		if (type != GEN_IPADD && !ia5_value_ok((const unsigned char *)value, strlen(value))) {
			r = sc_fail(SC_ERR_USAGE, "san[%d]: must be 1..%d visible ASCII characters", i,
			    SAN_VALUE_MAX);
			goto out;
		}
		if ((gn = a2i_GENERAL_NAME(NULL, NULL, NULL, type, value, 0)) == NULL) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_USAGE, "san[%d]: '%s' is not valid", i, list[i]);
			goto out;
		}
		if (!sk_GENERAL_NAME_push(names, gn))
			goto out;
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

sc_err sc_profile_create(const struct sc_profile_params *pp, struct sc_profile **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile *p = NULL;
	SC_TBS_PROFILE *t;
	SC_SUPPLIED_KEY *sk = NULL;
	uint8_t id[SC_PROFILE_ID_LEN];
	unsigned known_ku = 0;
	enum sc_digest digest;

	if (out == NULL || pp == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_create: missing argument");
	*out = NULL;
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	r = SC_ERR_INTERNAL;
	if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL || (p->sp = SC_SIGNED_PROFILE_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile");
		goto out;
	}
	t = p->sp->tbsProfile;

	ASN1_OBJECT_free(t->contentType);
	t->contentType = OBJ_dup(OBJ_nid2obj(sc_nid_ct_profile()));
	if (t->contentType == NULL || !ASN1_INTEGER_set(t->version, PROFILE_VERSION))
		goto out;
	if (RAND_bytes(id, sizeof(id)) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "random profileId");
		goto out;
	}
	if (!ASN1_OCTET_STRING_set(t->profileId, id, sizeof(id)))
		goto out;

	if ((r = set_utf8(t->networkId, pp->network_id, "network_id", 1, SC_NETWORK_ID_MAX)) != SC_OK ||
	    (r = set_utf8(t->deviceId, pp->device_id, "device_id", 1, SC_DEVICE_ID_MAX)) != SC_OK)
		goto out;
	if (!sc_device_id_valid(pp->device_id)) {
		r = sc_fail(SC_ERR_USAGE, "device_id: only PrintableString characters "
		    "(A-Z a-z 0-9 space '()+,-./:=?)");
		goto out;
	}
	if (pp->user_id != NULL) {
		if ((t->userId = ASN1_UTF8STRING_new()) == NULL)
			goto out;
		if ((r = set_utf8(t->userId, pp->user_id, "user_id", 1, SC_USER_ID_MAX)) != SC_OK)
			goto out;
	}
	if (pp->challenge != NULL) {
		if (pp->challenge_len < SC_CHALLENGE_MIN || pp->challenge_len > SC_CHALLENGE_MAX) {
			r = sc_fail(SC_ERR_USAGE, "challenge: %zu bytes, must be %d..%d",
			    pp->challenge_len, SC_CHALLENGE_MIN, SC_CHALLENGE_MAX);
			goto out;
		}
		if ((t->challenge = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(t->challenge, pp->challenge, (int)pp->challenge_len)) {
			r = SC_ERR_INTERNAL;
			goto out;
		}
	}

	/* Times are syntax here; whether they make sense is the device's call (sc_profile_check). */
	if (ASN1_GENERALIZEDTIME_set(t->profileNotAfter, pp->profile_not_after) == NULL) {
		r = sc_fail(SC_ERR_USAGE, "profile_not_after: not representable");
		goto out;
	}
	/* ASN1_TIME_set picks UTCTime through 2049 and GeneralizedTime after, as RFC 5280 wants. */
	if (ASN1_TIME_set(t->validity->notBefore, pp->not_before) == NULL ||
	    ASN1_TIME_set(t->validity->notAfter, pp->not_after) == NULL) {
		r = sc_fail(SC_ERR_USAGE, "not_before/not_after: not representable");
		goto out;
	}

	if (pp->supplied_key != NULL) {
		if (pp->kek_cert == NULL) {
			r = sc_fail(SC_ERR_USAGE, "supplied_key needs kek_cert");
			goto out;
		}
		if ((sk = SC_SUPPLIED_KEY_new()) == NULL)
			goto out;
		if (!X509_PUBKEY_set(&sk->publicKey, pp->supplied_key)) {
			r = sc_fail_ossl(SC_ERR_USAGE, "supplied_key: no SubjectPublicKeyInfo");
			goto out;
		}
		CMS_ContentInfo_free(sk->encryptedKey);
		sk->encryptedKey = NULL;
		if ((r = wrap_key(pp->supplied_key, pp->kek_cert, &sk->encryptedKey)) != SC_OK)
			goto out;
		r = SC_ERR_INTERNAL;
		t->key->type = SC_KEY_SPEC_SUPPLIED;
		t->key->value.supplied = sk;
		sk = NULL;
	} else {
		if (!sc_alg_valid((int)pp->generate_alg)) {
			r = sc_fail(SC_ERR_ALGORITHM, "generate_alg: %d is not one of the six",
			    (int)pp->generate_alg);
			goto out;
		}
		if ((t->key->value.generate = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(t->key->value.generate, (long)pp->generate_alg))
			goto out;
		t->key->type = SC_KEY_SPEC_GENERATE;
	}

	digest = pp->cert_digest == SC_DIGEST_NONE ? SC_DIGEST_SHA256 : pp->cert_digest;
	if (digest < SC_DIGEST_SHA256 || digest > SC_DIGEST_SHA512) {
		r = sc_fail(SC_ERR_ALGORITHM, "cert_digest: %d is not sha256/384/512", (int)digest);
		goto out;
	}
	if (!ASN1_ENUMERATED_set(t->certDigest, (long)digest))
		goto out;

	for (int i = 0; i < KU_NBITS; i++)
		known_ku |= ku_bits[i].ku;
	if (pp->key_usage & ~known_ku) {
		r = sc_fail(SC_ERR_USAGE, "key_usage: unknown bits 0x%x", pp->key_usage & ~known_ku);
		goto out;
	}
	if (pp->key_usage != 0 && (t->keyUsage = key_usage_bits(pp->key_usage)) == NULL)
		goto out;
	if (pp->eku != NULL && pp->eku[0] != NULL &&
	    (r = build_eku(pp->eku, &t->extKeyUsage)) != SC_OK)
		goto out;
	if (pp->san != NULL && pp->san[0] != NULL &&
	    (r = build_san(pp->san, &t->subjectAltName)) != SC_OK)
		goto out;

	/* The decoder's own checks: what we build is exactly what a device accepts as syntax. */
	if ((r = parse_tbs(p)) != SC_OK)
		goto out;
	*out = p;
	p = NULL;
	r = SC_OK;
out:
	SC_SUPPLIED_KEY_free(sk);
	sc_profile_free(p);
	return r;
}

/* ---- signing, encoding, decoding ---- */

sc_err sc_profile_sign(struct sc_profile *p, EVP_PKEY *signer_key, X509 *signer_cert,
    STACK_OF(X509) *intermediates, int rsa_pss)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *sig = NULL;
	STACK_OF(X509) *certs = NULL;
	uint8_t *der = NULL;
	int n_inter = intermediates != NULL ? sk_X509_num(intermediates) : 0, type, der_len;

	if (p == NULL || signer_key == NULL || signer_cert == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_sign: missing argument");
	if (n_inter > SC_PROFILE_MAX_CERTS - 1)
		return sc_fail(SC_ERR_USAGE, "intermediates: %d, at most %d", n_inter,
		    SC_PROFILE_MAX_CERTS - 1);
	if (X509_check_private_key(signer_cert, signer_key) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_USAGE, "signer_key does not match signer_cert");
	}
	type = EVP_PKEY_get_base_id(signer_key);
	switch (type) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(signer_key) < 2048)
			return sc_fail(SC_ERR_ALGORITHM, "signer_key: RSA-%d, at least 2048",
			    EVP_PKEY_get_bits(signer_key));
		md = EVP_sha256();
		break;
	case EVP_PKEY_EC:
		if (sc_alg_of_key(signer_key) == SC_ALG_P256)
			md = EVP_sha256();
		else if (sc_alg_of_key(signer_key) == SC_ALG_P384)
			md = EVP_sha384();
		else
			return sc_fail(SC_ERR_ALGORITHM, "signer_key: EC curve is not P-256 or P-384");
		break;
	case EVP_PKEY_ED25519:
		md = NULL; /* pure EdDSA hashes for itself */
		break;
	default:
		return sc_fail(SC_ERR_ALGORITHM, "signer_key: not RSA, P-256, P-384 or Ed25519");
	}
	if (rsa_pss && type != EVP_PKEY_RSA)
		return sc_fail(SC_ERR_USAGE, "rsa_pss: the signer key is not RSA");

	if ((mctx = EVP_MD_CTX_new()) == NULL || (alg = X509_ALGOR_new()) == NULL ||
	    (sig = ASN1_BIT_STRING_new()) == NULL || (certs = sk_X509_new_null()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "signing");
		goto out;
	}
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, signer_key) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "EVP_DigestSignInit");
		goto out;
	}
	if (rsa_pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
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
	if (!X509_up_ref(signer_cert))
		goto out;
	if (!sk_X509_push(certs, signer_cert)) {
		X509_free(signer_cert);
		goto out;
	}
	for (int i = 0; i < n_inter; i++) {
		X509 *c = sk_X509_value(intermediates, i);
		if (!X509_up_ref(c))
			goto out;
		if (!sk_X509_push(certs, c)) {
			X509_free(c);
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
	if ((r = set_signed_info(p, der, (size_t)der_len)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
	X509_ALGOR_free(alg);
	ASN1_BIT_STRING_free(sig);
	sk_X509_pop_free(certs, X509_free);
	return r;
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
	if ((len = ASN1_item_i2d((ASN1_VALUE *)p->sp, &buf, ASN1_ITEM_rptr(SC_SIGNED_PROFILE))) <= 0)
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
	r = SC_ERR_INTERNAL;
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
	if ((r = parse_tbs(p)) != SC_OK)
		goto out;
	n = sk_X509_num(p->sp->certificates);
	if (n < 1 || n > SC_PROFILE_MAX_CERTS) {
		r = sc_fail(SC_ERR_MALFORMED, "SignedProfile.certificates: %d, must be 1..%d", n,
		    SC_PROFILE_MAX_CERTS);
		goto out;
	}
	if ((r = set_signed_info(p, der, der_len)) != SC_OK)
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

/* ---- the signer cache (profile.h) ---- */

struct signer_entry {
	uint8_t certs_hash[SHA256_DIGEST_LENGTH]; /* of the DER certificates field */
	STACK_OF(X509) *certs;         /* decoded from exactly those bytes; up-referenced */
	int verified;                  /* 1: chained to anchor_hash, not a CA, EKU and KU good */
	uint8_t anchor_hash[SHA256_DIGEST_LENGTH];
	time_t not_before, not_after;  /* the path is valid for not_before <= now < not_after */
	uint64_t used;                 /* LRU clock */
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
		return sc_fail(SC_ERR_USAGE, "signer cache: %zu entries, must be 1..%d", max_entries,
		    SC_SIGNER_CACHE_MAX);
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
static struct sc_profile *decode_with(const uint8_t *der, size_t der_len,
    const uint8_t *start[4], const uint8_t *end[4], STACK_OF(X509) *certs)
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
	if (parse_tbs(p) != SC_OK || set_signed_info(p, der, der_len) != SC_OK)
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

	if (c == NULL || out == NULL || der == NULL || der_len == 0 || der_len > SC_PROFILE_MAX_DER ||
	    !split_profile(der, der_len, start, end) ||
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

/* ---- checking ---- */

/* The signatureAlgorithms of docs/FORMATS.md; nothing else (no SHA-1, no MD5). */
static int sig_alg_allowed(int nid)
{
	switch (nid) {
	case NID_sha256WithRSAEncryption:
	case NID_rsassaPss:
	case NID_ecdsa_with_SHA256:
	case NID_ecdsa_with_SHA384:
	case NID_ED25519:
		return 1;
	default:
		return 0;
	}
}

static sc_err verify_signature(const struct sc_profile *p, X509 *anchor, time_t now,
    struct sc_signer_cache *cache)
{
	sc_err r = SC_ERR_INTERNAL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	struct signer_entry *entry = NULL;
	X509 *signer;
	EVP_PKEY *pub;
	int crit = -1, found = 0, nid, err;
	uint32_t ku;

	if (p == NULL || anchor == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_verify_signature: missing argument");
	if (!p->signed_)
		return sc_fail(SC_ERR_USAGE, "profile is not signed");
	if ((r = sc_oids_init()) != SC_OK)
		return r;
	r = SC_ERR_INTERNAL;
	if ((signer = sk_X509_value(p->sp->certificates, 0)) == NULL) {
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER, "SignedProfile.certificates: no signer");
		goto out;
	}
	if (cache != NULL && (entry = cache_find_certs(cache, p->sp->certificates)) != NULL &&
	    cache_covers(entry, anchor, now)) {
		cache->stats.verify_hits++;
		goto signature;
	}

	/* The anchor is the only trusted certificate; the profile's own are untrusted helpers. */
	if ((store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, anchor) ||
	    (untrusted = sk_X509_new_null()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "X509_STORE");
		goto out;
	}
	for (int i = 1; i < sk_X509_num(p->sp->certificates); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(p->sp->certificates, i)))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, signer, untrusted)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "X509_STORE_CTX_init");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		ERR_clear_error();
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER,
		    "certificates[0]: does not chain to the network anchor: %s",
		    X509_verify_cert_error_string(err));
		goto out;
	}
	if (X509_check_ca(signer) != 0) {
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER, "certificates[0]: the signer is a CA certificate");
		goto out;
	}

	/* OpenSSL's purpose checks do not know our OID: read the extension ourselves. */
	eku = X509_get_ext_d2i(signer, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_SIGNER_EKU, crit == -1 ?
		    "certificates[0]: no extendedKeyUsage (needs id-sc-kp-profileSigning)" :
		    "certificates[0]: extendedKeyUsage does not decode or appears twice");
		goto out;
	}
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == sc_nid_kp_profile_signing())
			found = 1;
	if (!found) {
		r = sc_fail(SC_ERR_SIGNER_EKU,
		    "certificates[0]: extendedKeyUsage lacks id-sc-kp-profileSigning");
		goto out;
	}
	ku = X509_get_key_usage(signer);
	if (ku != UINT32_MAX && !(ku & KU_DIGITAL_SIGNATURE)) {
		r = sc_fail(SC_ERR_SIGNER_EKU, "certificates[0]: keyUsage lacks digitalSignature");
		goto out;
	}
	if (cache != NULL) {
		cache->stats.verify_misses++;
		if (entry != NULL)
			cache_verified(entry, anchor, X509_STORE_CTX_get0_chain(ctx));
	}

signature:
	nid = OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm);
	if (!sig_alg_allowed(nid)) {
		r = sc_fail(SC_ERR_PROFILE_SIGNATURE, "signatureAlgorithm %s is not allowed",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
		goto out;
	}
	if ((pub = X509_get0_pubkey(signer)) == NULL) {
		r = sc_fail_ossl(SC_ERR_PROFILE_SIGNATURE, "certificates[0]: unusable public key");
		goto out;
	}
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pub) < 2048) {
		r = sc_fail(SC_ERR_PROFILE_SIGNATURE, "certificates[0]: RSA-%d key, at least 2048",
		    EVP_PKEY_get_bits(pub));
		goto out;
	}
	if (ASN1_item_verify(ASN1_ITEM_rptr(SC_TBS_PROFILE), p->sp->signatureAlgorithm,
	    p->sp->signature, p->sp->tbsProfile, pub) != 1) {
		r = sc_fail_ossl(SC_ERR_PROFILE_SIGNATURE, "signature over tbsProfile does not verify");
		goto out;
	}
	r = SC_OK;
out:
	EXTENDED_KEY_USAGE_free(eku);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted); /* borrowed from the profile */
	X509_STORE_free(store);
	return r;
}

sc_err sc_profile_verify_signature(const struct sc_profile *p, X509 *anchor, time_t now)
{
	return verify_signature(p, anchor, now, NULL);
}

static sc_err check_validity(const struct sc_profile_info *in, const struct sc_profile_policy *pol)
{
	time_t csk_nb, csk_na;

	if (in->not_before >= in->not_after)
		return sc_fail(SC_ERR_VALIDITY, "validity: notBefore is not before notAfter");
	if (in->not_after <= pol->now)
		return sc_fail(SC_ERR_VALIDITY, "validity.notAfter has passed");
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(pol->csk_cert), &csk_nb) != SC_OK ||
	    sc_asn1_time_to_time_t(X509_get0_notAfter(pol->csk_cert), &csk_na) != SC_OK)
		return sc_fail(SC_ERR_INTERNAL, "the device CA certificate's validity does not parse");
	if (in->not_before < csk_nb)
		return sc_fail(SC_ERR_VALIDITY,
		    "validity.notBefore is before the device CA certificate's notBefore");
	if (in->not_after > csk_na)
		return sc_fail(SC_ERR_VALIDITY,
		    "validity.notAfter is after the device CA certificate's notAfter");
	if (pol->max_leaf_seconds != 0 &&
	    (uint64_t)(in->not_after - in->not_before) > pol->max_leaf_seconds)
		return sc_fail(SC_ERR_VALIDITY, "validity: %lld s long, at most %u",
		    (long long)(in->not_after - in->not_before), pol->max_leaf_seconds);
	return SC_OK;
}

static sc_err check_extensions(const struct sc_profile_info *in)
{
	unsigned allowed = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
	int n;

	if (sc_alg_is_rsa(in->alg))
		allowed |= KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT;
	if (in->alg == SC_ALG_P256 || in->alg == SC_ALG_P384)
		allowed |= KU_KEY_AGREEMENT;
	for (int i = 0; i < KU_NBITS; i++)
		if ((in->key_usage & ku_bits[i].ku) && !(allowed & ku_bits[i].ku))
			return sc_fail(SC_ERR_EXTENSION, "tbsProfile.keyUsage: %s not allowed for a %s key",
			    ku_bits[i].name, sc_alg_name(in->alg));
	if (in->eku != NULL) {
		n = sk_ASN1_OBJECT_num(in->eku);
		if (n > SC_PROFILE_MAX_EKU)
			return sc_fail(SC_ERR_EXTENSION, "tbsProfile.extKeyUsage: %d OIDs, at most %d",
			    n, SC_PROFILE_MAX_EKU);
		/* A device certificate must never look like a profile signer. */
		for (int i = 0; i < n; i++)
			if (OBJ_obj2nid(sk_ASN1_OBJECT_value(in->eku, i)) == sc_nid_kp_profile_signing())
				return sc_fail(SC_ERR_EXTENSION,
				    "tbsProfile.extKeyUsage: id-sc-kp-profileSigning not allowed");
	}
	if (in->san != NULL && (n = sk_GENERAL_NAME_num(in->san)) > SC_PROFILE_MAX_SAN)
		return sc_fail(SC_ERR_EXTENSION, "tbsProfile.subjectAltName: %d names, at most %d", n,
		    SC_PROFILE_MAX_SAN);
	return SC_OK;
}

sc_err sc_profile_check(const struct sc_profile *p, const struct sc_profile_policy *pol)
{
	const struct sc_profile_info *in;
	const struct sc_anchor *anchor = NULL;
	sc_err r;

	if (p == NULL || pol == NULL || pol->device_id == NULL || pol->csk_cert == NULL ||
	    (pol->anchors == NULL && pol->n_anchors != 0))
		return sc_fail(SC_ERR_USAGE, "sc_profile_check: missing argument");
	if (!p->signed_)
		return sc_fail(SC_ERR_USAGE, "profile is not signed");
	in = &p->info;

	for (size_t i = 0; i < pol->n_anchors && anchor == NULL; i++)
		if (pol->anchors[i].network_id != NULL && pol->anchors[i].cert != NULL &&
		    strcmp(pol->anchors[i].network_id, in->network_id) == 0)
			anchor = &pol->anchors[i];
	if (anchor == NULL)
		return sc_fail(SC_ERR_NETWORK, "tbsProfile.networkId '%s': no anchor installed",
		    in->network_id);
	if ((r = verify_signature(p, anchor->cert, pol->now, pol->signer_cache)) != SC_OK)
		return r;
	if (strcmp(in->device_id, pol->device_id) != 0)
		return sc_fail(SC_ERR_DEVICE_MISMATCH, "tbsProfile.deviceId '%s' is not this device",
		    in->device_id);
	if (in->profile_not_after < pol->now)
		return sc_fail(SC_ERR_PROFILE_EXPIRED, "tbsProfile.profileNotAfter has passed");
	if ((r = check_validity(in, pol)) != SC_OK)
		return r;
	/*
	 * The key. policy->csk_alg needs no test: CertDigest is ignored for an Ed25519 CSK and
	 * RSA and ECDSA CSKs sign with any of the three digests.
	 */
	if (!sc_alg_valid((int)in->alg)) {
		const EVP_PKEY *k = in->supplied_pub;
		if (k != NULL && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
			return sc_fail(SC_ERR_ALGORITHM,
			    "tbsProfile.key.supplied.publicKey: RSA-%d, only 2048/3072/4096",
			    EVP_PKEY_get_bits(k));
		return sc_fail(SC_ERR_ALGORITHM, "tbsProfile.key: not RSA-2048/3072/4096, P-256, "
		    "P-384 or Ed25519");
	}
	return check_extensions(in);
}

/* ---- the server-supplied key ---- */

/*
 * The key wrap under an ECDH recipient: AES key wrap without padding (RFC 3394) only; we
 * produce id-aes256-wrap. OpenSSL 3.0's AES key wrap with padding (RFC 5649) writes past its
 * output buffer when an unwrap fails (found by tests/fuzz, target unwrap), so no other wrap
 * reaches OpenSSL.
 */
static sc_err kari_wrap_ok(CMS_RecipientInfo *ri)
{
	X509_ALGOR *alg = NULL, *wrap = NULL;
	ASN1_OCTET_STRING *ukm = NULL;
	const unsigned char *q;
	int nid = NID_undef;

	if (!CMS_RecipientInfo_kari_get0_alg(ri, &alg, &ukm) || alg == NULL ||
	    alg->parameter == NULL || alg->parameter->type != V_ASN1_SEQUENCE)
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: KeyAgreeRecipientInfo names no key wrap algorithm");
	q = alg->parameter->value.sequence->data;
	if ((wrap = d2i_X509_ALGOR(NULL, &q, alg->parameter->value.sequence->length)) != NULL)
		nid = OBJ_obj2nid(wrap->algorithm);
	X509_ALGOR_free(wrap);
	ERR_clear_error();
	if (nid != NID_id_aes128_wrap && nid != NID_id_aes192_wrap && nid != NID_id_aes256_wrap)
		return sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: key wrap %s not allowed "
		    "(AES key wrap without padding only)", nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
	return SC_OK;
}

/* What we accept of a CMS envelope before trying the KEK on it. */
static sc_err envelope_ok(CMS_ContentInfo *cms, int *type_nid)
{
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_RecipientInfo *ri;
	X509_ALGOR *alg = NULL;

	*type_nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (*type_nid != NID_id_smime_ct_authEnvelopedData && *type_nid != NID_pkcs7_enveloped)
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: not AuthEnvelopedData or EnvelopedData");
	ris = CMS_get0_RecipientInfos(cms);
	if (sk_CMS_RecipientInfo_num(ris) != 1)
		return sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: %d recipients, must be 1",
		    sk_CMS_RecipientInfo_num(ris));
	ri = sk_CMS_RecipientInfo_value(ris, 0);
	switch (CMS_RecipientInfo_type(ri)) {
	case CMS_RECIPINFO_TRANS:
		/* No PKCS#1 v1.5 key transport: it is an RSA decryption oracle. */
		if (!CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) || alg == NULL ||
		    OBJ_obj2nid(alg->algorithm) != NID_rsaesOaep)
			return sc_fail(SC_ERR_KEY_DECRYPT,
			    "encryptedKey: KeyTransRecipientInfo must use RSAES-OAEP");
		return SC_OK;
	case CMS_RECIPINFO_AGREE:
		return kari_wrap_ok(ri);
	default:
		return sc_fail(SC_ERR_KEY_DECRYPT,
		    "encryptedKey: recipient is neither KeyTrans (RSA) nor KeyAgree (ECDH)");
	}
}

sc_err sc_profile_unwrap_key(const struct sc_profile *p, EVP_PKEY *kek_key, X509 *kek_cert,
    EVP_PKEY **out)
{
	sc_err r = SC_ERR_INTERNAL;
	unsigned char *cms_der = NULL, buf[1024];
	const unsigned char *q;
	int cms_len, type_nid, cipher_nid, n;
	CMS_ContentInfo *cms = NULL;
	BIO *cont = NULL, *plain = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	BUF_MEM *pm = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;

	if (out == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_unwrap_key: missing argument");
	*out = NULL;
	if (p == NULL || kek_key == NULL || kek_cert == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_profile_unwrap_key: missing argument");
	if (p->sp->tbsProfile->key->type != SC_KEY_SPEC_SUPPLIED || p->info.supplied_pub == NULL)
		return sc_fail(SC_ERR_USAGE, "the profile asks the device to generate its key");

	/*
	 * Re-decode the envelope on its own: d2i_CMS_ContentInfo wires up the library context
	 * of every RecipientInfo, which an envelope decoded inside our template lacks.
	 */
	cms_len = i2d_CMS_ContentInfo(p->sp->tbsProfile->key->value.supplied->encryptedKey, &cms_der);
	q = cms_der;
	if (cms_len <= 0 || (cms = d2i_CMS_ContentInfo(NULL, &q, cms_len)) == NULL) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: CMS does not decode");
		goto out;
	}
	if ((r = envelope_ok(cms, &type_nid)) != SC_OK)
		goto out;
	r = SC_ERR_INTERNAL;
	if (!CMS_decrypt_set1_pkey_and_peer(cms, kek_key, kek_cert, NULL)) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: not for this key-exchange key");
		goto out;
	}
	/* Decrypt by hand (as CMS_decrypt does) to see the content cipher before trusting it. */
	if ((cont = CMS_dataInit(cms, NULL)) == NULL || BIO_method_type(cont) != BIO_TYPE_CIPHER ||
	    BIO_get_cipher_ctx(cont, &cctx) <= 0 || cctx == NULL) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: does not decrypt");
		goto out;
	}
	cipher_nid = EVP_CIPHER_CTX_get_nid(cctx);
	if (!(type_nid == NID_id_smime_ct_authEnvelopedData && cipher_nid == NID_aes_256_gcm) &&
	    !(type_nid == NID_pkcs7_enveloped && cipher_nid == NID_aes_256_cbc)) {
		r = sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: content encryption %s not allowed "
		    "(AES-256-GCM or AES-256-CBC only)", OBJ_nid2sn(cipher_nid));
		goto out;
	}
	/* Secure-heap memory BIO: cleared when freed. */
	if ((plain = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	for (;;) {
		n = BIO_read(cont, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (BIO_write(plain, buf, n) != n)
			goto out;
		BIO_get_mem_ptr(plain, &pm);
		if (pm->length > UNWRAP_PLAINTEXT_MAX) {
			r = sc_fail(SC_ERR_KEY_DECRYPT, "encryptedKey: plaintext over %d bytes",
			    UNWRAP_PLAINTEXT_MAX);
			goto out;
		}
	}
	/* For GCM this is where the tag is checked; for CBC the padding. */
	if (n < 0 || BIO_get_cipher_status(cont) <= 0) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: does not decrypt with this key");
		goto out;
	}
	BIO_get_mem_ptr(plain, &pm);
	q = (const unsigned char *)pm->data;
	if (pm->length == 0 || pm->length > UNWRAP_PLAINTEXT_MAX ||
	    (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)pm->length)) == NULL ||
	    q != (const unsigned char *)pm->data + pm->length ||
	    (key = EVP_PKCS82PKEY(p8)) == NULL) {
		r = sc_fail_ossl(SC_ERR_KEY_DECRYPT, "encryptedKey: plaintext is not one PKCS#8 key");
		goto out;
	}
	if (EVP_PKEY_eq(key, p->info.supplied_pub) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_KEY_MISMATCH,
		    "encryptedKey: the key is not tbsProfile.key.supplied.publicKey");
		goto out;
	}
	if (sc_alg_of_key(key) == SC_ALG_NONE) {
		r = sc_fail(SC_ERR_ALGORITHM, "encryptedKey: not RSA-2048/3072/4096, P-256, P-384 "
		    "or Ed25519");
		goto out;
	}
	*out = key;
	key = NULL;
	r = SC_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(plain);
	BIO_free_all(cont);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(cms_der);
	return r;
}
