// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/oid.h — the names selfcert gives things: its OIDs and their NIDs, the device-ID
 * charset, and the RFC 5280 KeyUsage names. One table each, shared by the library and by every
 * program that parses or prints them.
 */
#ifndef SELFCERT_OID_H
#define SELFCERT_OID_H

#include <openssl/x509v3.h>
#include <selfcert/err.h>

/*
 * The OIDs of docs/FORMATS.md (dotted), and their NIDs once registered (sc_oids_init).
 * The arc is the spec's UUID 27f0afaa-2c68-408a-b28c-def17d8b46d0 under Microsoft's implicit
 * GUID arc (1.2.840.113556.1.8000.2554, split 4-4-4-4-4-6-6 hex digits) rather than as one
 * 128-bit arc under 2.25: GnuTLS/libtasn1 refuses any arc of 2^64 or more, which made every
 * leaf unparseable by GnuTLS. docs/FORMATS.md says why in full.
 */
#define SC_OID_ARC "1.2.840.113556.1.8000.2554.10224.44970.11368.16522.45708.14610813.9127632"
#define SC_OID_CT_PROFILE SC_OID_ARC ".1"
#define SC_OID_KP_PROFILESIGN SC_OID_ARC ".2"
#define SC_OID_PE_ISSUANCE SC_OID_ARC ".3"
#define SC_OID_CT_BATCH_ROOT SC_OID_ARC ".4" /* TBSBatchRoot.contentType (#17) */

/*
 * Register our OIDs with OpenSSL (idempotent, thread-safe). Called by every libselfcert entry
 * point that needs them; public for programs that print them. SC_ERR_INTERNAL if OpenSSL
 * refuses a registration.
 */
sc_err sc_oids_init(void) SC_MUST_USE;

/* The NIDs of id-sc-ct-profile, id-sc-kp-profileSigning, id-sc-pe-issuance; NID_undef if
 * sc_oids_init fails. */
int sc_nid_ct_profile(void);
int sc_nid_kp_profile_signing(void);
int sc_nid_pe_issuance(void);

/*
 * The device ID: 1..SC_DEVICE_ID_MAX bytes of X.680 PrintableString characters
 * (A-Z a-z 0-9 space ' ( ) + , - . / : = ?), because it travels in the X.520 serialNumber
 * attribute of the device CA's name. sc_device_id_valid: 1 if s (NUL-terminated, may be NULL)
 * is one, else 0.
 */
#define SC_DEVICE_ID_MAX 64
int sc_device_id_valid(const char *s);

/*
 * KeyUsage (RFC 5280 4.2.1.3): bit n of the BIT STRING, OpenSSL's KU_* flag for it, and its
 * name ("digitalSignature" .. "decipherOnly"), in bit order.
 */
#define SC_KU_NBITS 9
#define SC_KU_ALL                                                                                 \
	(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | \
	    KU_KEY_AGREEMENT | KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_ENCIPHER_ONLY |                \
	    KU_DECIPHER_ONLY)
/* What a device certificate may carry for some key: sc_profile_check narrows it per key type
 * (keyEncipherment and dataEncipherment for RSA, keyAgreement for EC). */
#define SC_KU_DEVICE                                                                              \
	(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | \
	    KU_KEY_AGREEMENT)

/* The KU_* flag of KeyUsage bit n; 0 if n is not 0..SC_KU_NBITS-1. */
unsigned sc_key_usage_bit(int n);

/* The name of one KU_* flag ("keyAgreement"); NULL unless bit is exactly one of the nine. */
const char *sc_key_usage_name(unsigned bit);

/*
 * The KU_* flag whose name is exactly name (case-sensitive). SC_ERR_NOT_FOUND (detail names
 * it) for anything else, NULL included; *bit is then 0. Callers narrow the result to the
 * usages they accept.
 */
sc_err sc_key_usage_from_name(const char *name, unsigned *bit) SC_MUST_USE;

#endif
