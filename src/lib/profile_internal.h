/*
 * profile_internal.h — the C shape of SignedProfile (docs/FORMATS.md) behind the opaque
 * struct sc_profile. Internal: for profile.c and for tests that must craft bad encodings.
 *
 * Field names follow the ASN.1 module. The ASN1 templates themselves stay static in profile.c.
 */
#ifndef SC_PROFILE_INTERNAL_H
#define SC_PROFILE_INTERNAL_H

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
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

typedef struct sc_tbs_profile_st {
	ASN1_OBJECT *contentType;
	ASN1_INTEGER *version;
	ASN1_OCTET_STRING *profileId;
	ASN1_UTF8STRING *networkId;
	ASN1_UTF8STRING *deviceId;
	ASN1_UTF8STRING *userId;              /* [0] OPTIONAL */
	ASN1_OCTET_STRING *challenge;         /* [1] OPTIONAL */
	ASN1_GENERALIZEDTIME *profileNotAfter;
	X509_VAL *validity;
	SC_KEY_SPEC *key;
	ASN1_ENUMERATED *certDigest;
	ASN1_BIT_STRING *keyUsage;            /* [2] OPTIONAL */
	EXTENDED_KEY_USAGE *extKeyUsage;      /* [3] OPTIONAL */
	GENERAL_NAMES *subjectAltName;        /* [4] OPTIONAL */
} SC_TBS_PROFILE;

typedef struct sc_signed_profile_st {
	SC_TBS_PROFILE *tbsProfile;
	X509_ALGOR *signatureAlgorithm;
	ASN1_BIT_STRING *signature;
	STACK_OF(X509) *certificates;
} SC_SIGNED_PROFILE;

struct sc_profile {
	SC_SIGNED_PROFILE *sp;        /* never NULL; signature fields empty until signed */
	int signed_;                  /* 1 after sc_profile_sign or sc_profile_decode */
	struct sc_profile_info info;  /* the fields, parsed once; pointers borrow from sp */
};

#endif
