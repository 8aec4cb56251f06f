// SPDX-License-Identifier: Apache-2.0
/*
 * profile_internal.h — the C shape of SignedProfile (docs/FORMATS.md) behind the opaque
 * struct sc_profile, and the few calls between the files that share it: profile.c (codec),
 * profile_check.c, keywrap.c and fast/signer_cache.c. Internal; tests use it to craft bad
 * encodings.
 *
 * Field names follow the ASN.1 module. The ASN1 templates are in profile.c.
 */
#ifndef SC_PROFILE_INTERNAL_H
#define SC_PROFILE_INTERNAL_H

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/* SuppliedKey ::= SEQUENCE { publicKey SubjectPublicKeyInfo, encryptedKey ContentInfo } */
typedef struct sc_supplied_key_st {
	X509_PUBKEY *publicKey;
	CMS_ContentInfo *encryptedKey;
} SC_SUPPLIED_KEY;

/* KeySpec ::= CHOICE { generate [0] KeyAlgorithm, supplied [1] SuppliedKey } */
#define SC_KEY_SPEC_GENERATE 0
#define SC_KEY_SPEC_SUPPLIED 1
typedef struct sc_key_spec_st {
	int type; /* SC_KEY_SPEC_GENERATE or SC_KEY_SPEC_SUPPLIED */
	union {
		ASN1_ENUMERATED *generate;
		SC_SUPPLIED_KEY *supplied;
	} value;
} SC_KEY_SPEC;

/* RenewalSpec ::= SEQUENCE { count INTEGER (2..1024), cadence INTEGER (60..31622400) } (#17) */
typedef struct sc_renewal_spec_st {
	ASN1_INTEGER *count;
	ASN1_INTEGER *cadence;
} SC_RENEWAL_SPEC;

/* BatchPosition ::= SEQUENCE { batchId OCTET STRING (SIZE (16)), index INTEGER } (#17, [7]) */
typedef struct sc_batch_position_st {
	ASN1_OCTET_STRING *batchId;
	ASN1_INTEGER *index;
} SC_BATCH_POSITION;

/* TBSBatchRoot ::= SEQUENCE { contentType, batchId, size INTEGER, root OCTET STRING (32) } */
typedef struct sc_tbs_batch_root_st {
	ASN1_OBJECT *contentType;
	ASN1_OCTET_STRING *batchId;
	ASN1_INTEGER *size;
	ASN1_OCTET_STRING *root;
} SC_TBS_BATCH_ROOT;

typedef struct sc_tbs_profile_st {
	ASN1_OBJECT *contentType;
	ASN1_INTEGER *version;
	ASN1_OCTET_STRING *profileId;
	ASN1_UTF8STRING *networkId;
	ASN1_UTF8STRING *deviceId;
	ASN1_UTF8STRING *userId;      /* [0] OPTIONAL */
	ASN1_OCTET_STRING *challenge; /* [1] OPTIONAL */
	ASN1_GENERALIZEDTIME *profileNotAfter;
	X509_VAL *validity;
	SC_KEY_SPEC *key;
	ASN1_ENUMERATED *certDigest;
	ASN1_BIT_STRING *keyUsage;       /* [2] OPTIONAL */
	EXTENDED_KEY_USAGE *extKeyUsage; /* [3] OPTIONAL */
	GENERAL_NAMES *subjectAltName;   /* [4] OPTIONAL */
	SC_RENEWAL_SPEC *renewal;        /* [6] OPTIONAL: a renewal profile (#17) */
	SC_BATCH_POSITION *batch;        /* [7] OPTIONAL: a leaf of a batch (#17, batch.c) */
} SC_TBS_PROFILE;

typedef struct sc_signed_profile_st {
	SC_TBS_PROFILE *tbsProfile;
	X509_ALGOR *signatureAlgorithm;
	ASN1_BIT_STRING *signature;
	STACK_OF(X509) *certificates;
} SC_SIGNED_PROFILE;

struct sc_profile {
	SC_SIGNED_PROFILE *sp; /* never NULL; signature fields empty until signed */
	/*
	 * #17: a batch leaf (batch.c). Its signature and certificates, in sp, are the batch
	 * root's, made over this TBSBatchRoot, whose root the decoder recomputed from the leaf and
	 * its path. NULL for a SignedProfile.
	 */
	SC_TBS_BATCH_ROOT *batch_root;
	int signed_;                 /* 1 after sc_profile_sign or sc_profile_decode */
	struct sc_profile_info info; /* the fields, parsed once; pointers borrow from sp */
};

/* SignedBatchRoot ::= SEQUENCE { tbsBatchRoot, signatureAlgorithm, signature, certificates } */
typedef struct sc_signed_batch_root_st {
	SC_TBS_BATCH_ROOT *tbs;
	X509_ALGOR *signatureAlgorithm;
	ASN1_BIT_STRING *signature;
	STACK_OF(X509) *certificates;
} SC_SIGNED_BATCH_ROOT;

/* BatchedProfile ::= SEQUENCE { tbsProfile, path SEQUENCE OF OCTET STRING, batchRoot } */
typedef struct sc_batched_profile_st {
	SC_TBS_PROFILE *tbsProfile;
	STACK_OF(ASN1_OCTET_STRING) *path;
	SC_SIGNED_BATCH_ROOT *batchRoot;
} SC_BATCHED_PROFILE;

/* ---- profile.c: the codec ---- */

/* The items of the templates: tbsProfile is what is signed, SignedProfile what is sent. */
DECLARE_ASN1_ITEM(SC_TBS_PROFILE)
DECLARE_ASN1_ITEM(SC_SIGNED_PROFILE)
DECLARE_ASN1_ITEM(SC_BATCH_POSITION)
DECLARE_ASN1_ITEM(SC_TBS_BATCH_ROOT) /* batch.c, as the two below */
DECLARE_ASN1_ITEM(SC_SIGNED_BATCH_ROOT)
DECLARE_ASN1_ITEM(SC_BATCHED_PROFILE)

/*
 * Check every field of p->sp->tbsProfile against the module and fill p->info, the signature
 * fields excepted. The decoder's errors (SC_ERR_MALFORMED, _CONTENT_TYPE, _VERSION, _ALGORITHM,
 * _EXTENSION), the detail naming the field.
 */
sc_err sc_profile_parse_tbs(struct sc_profile *p) SC_MUST_USE;

/*
 * The signature half of p->info (digest, certificates, signer, algorithm) from p->sp and der,
 * the DER it encodes to; marks p signed. SC_ERR_INTERNAL if SHA-256 fails.
 */
sc_err sc_profile_set_signed_info(struct sc_profile *p, const uint8_t *der,
    size_t der_len) SC_MUST_USE;

/* ---- keywrap.c: the server's half of the supplied key ---- */

/*
 * CMS-encrypt the PKCS#8 DER of key (a whole key pair, borrowed) to kek_cert, as
 * sc_profile_create's supplied_key: AuthEnvelopedData AES-256-GCM, RSAES-OAEP or ECDH.
 * SC_ERR_USAGE (no private key, unusable kek_cert), SC_ERR_ALGORITHM (KEK not RSA or EC),
 * SC_ERR_INTERNAL. The PKCS#8 plaintext is wiped. *out is the caller's.
 */
sc_err sc_keywrap_encrypt(EVP_PKEY *key, X509 *kek_cert, CMS_ContentInfo **out) SC_MUST_USE;

/* ---- fast/signer_cache.c: the verify half of the signer cache, for profile_check.c ---- */

/*
 * 1 if c (may be NULL) holds certs, the very objects, as a signer chain already accepted under
 * anchor for a window covering now: the chain checks may be skipped (counted as a hit).
 * Always 0 while the shortcuts are off.
 */
int sc_signer_cache_covers(struct sc_signer_cache *c, STACK_OF(X509) *certs, X509 *anchor,
    time_t now);

/*
 * After the chain checks of certs passed in full under anchor (chain: the path OpenSSL
 * built): count a miss and, if certs came from c, remember the anchor and the window of the
 * path. Nothing while the shortcuts are off; c may be NULL. Never fails (a failure only costs
 * the next profile the full checks).
 */
void sc_signer_cache_passed(struct sc_signer_cache *c, STACK_OF(X509) *certs, X509 *anchor,
    STACK_OF(X509) *chain);

#endif
