// SPDX-License-Identifier: Apache-2.0
/*
 * testworld.h — the one test PKI world (sctest): a manufacturer, one device and one network,
 * every certificate built with raw OpenSSL (X509_new … X509_sign), never with src/lib/cert.c,
 * so the library's own builders and its relying party are tested against an independent
 * construction of docs/FORMATS.md's "Certificate profiles". Keys are made at run time; for
 * worlds whose bytes must never change (the fuzz corpus) see tests/fuzz/fixture.c instead.
 *
 * Every function returns SC_OK or a code with a detail (sc_fail), never aborts; callers in
 * tests assert on the result, benchmarks die on it.
 */
#ifndef SC_TESTWORLD_H
#define SC_TESTWORLD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>

#define SC_TEST_MFR "Acme"
#define SC_TEST_NET "net.example"
#define SC_TEST_DEV "SN-0001"
#define SC_TEST_DAYS 3650

struct sc_test_world_opts {
	enum sc_alg alg;        /* every key of the world; SC_ALG_NONE: P-256. An Ed25519 world's
	                             KEK is P-256 (OpenSSL 3.0 CMS has no X25519 recipients) */
	enum sc_alg signer_alg; /* the network (root and profile signer) alone; NONE: alg */
	const char *mfr;        /* NULL: SC_TEST_MFR */
	const char *network_id; /* NULL: SC_TEST_NET */
	const char *device_id;  /* NULL: SC_TEST_DEV */
	int days;               /* every certificate's lifetime; 0: SC_TEST_DAYS */
};

/*
 * All owned by the world (sc_test_world_free). Certificates, as docs/FORMATS.md:
 *   mfr_root   CN=<mfr> Root, self-signed                      (mfr_root_key)
 *   mfr_ca     O=<mfr>, CN=<mfr> Device Issuing CA, pathlen 1  (mfr_ca_key), by mfr_root
 *   device_ca  serialNumber=<dev>, O=<mfr>, CN=<dev> Device CA, pathlen 0 (critical),
 *              keyCertSign (critical), nameConstraints (critical) permitting only
 *              directoryName serialNumber=<dev>                (csk), by mfr_ca
 *   kek_cert   serialNumber=<dev>, O=<mfr>, CN=<dev> Key Exchange (kek), by mfr_ca
 *   net_root   O=<net>, CN=<net> Network Root, self-signed     (net_root_key)
 *   signer     O=<net>, CN=<net> Profile Signer, EKU id-sc-kp-profileSigning (signer_key),
 *              by net_root
 */
struct sc_test_world {
	enum sc_alg alg, signer_alg;
	char mfr[SC_NETWORK_ID_MAX + 1];
	char network_id[SC_NETWORK_ID_MAX + 1];
	char device_id[SC_DEVICE_ID_MAX + 1];
	int days;
	EVP_PKEY *mfr_root_key, *mfr_ca_key, *csk, *kek, *net_root_key, *signer_key;
	X509 *mfr_root, *mfr_ca, *device_ca, *kek_cert, *net_root, *signer;
	/* sc_test_world_device_ca / _kek: notBefore of the rows they make; 0: now - 60 s. A copy
	 * of the world with it set certifies an SP that can issue for a past window (#17). */
	time_t device_not_before;
};

/*
 * Make a world (o NULL: every default). On failure *w is empty (safe to free) and the code
 * says what failed: SC_ERR_USAGE for an over-long name, SC_ERR_INTERNAL for OpenSSL.
 */
sc_err sc_test_world_make(const struct sc_test_world_opts *o, struct sc_test_world *w) SC_MUST_USE;
void sc_test_world_free(struct sc_test_world *w);

/*
 * Certify pub (borrowed) under the world's manufacturer CA as device_id's device CA or KEK
 * certificate, the same rows as the world's own: what the manufacturer does at personalization
 * with the keys an SP generated. *out is the caller's (X509_free).
 */
sc_err sc_test_world_device_ca(const struct sc_test_world *w, EVP_PKEY *pub, const char *device_id,
    X509 **out) SC_MUST_USE;
/* The same with keyUsage cRLSign too (device CAs certified since issue 14: selfcert/crl.h). */
sc_err sc_test_world_device_ca_crl(const struct sc_test_world *w, EVP_PKEY *pub,
    const char *device_id, X509 **out) SC_MUST_USE;
sc_err sc_test_world_kek(const struct sc_test_world *w, EVP_PKEY *pub, const char *device_id,
    X509 **out) SC_MUST_USE;

/*
 * Another manufacturer CA under the world's root (O=<name>, CN=<name> Device Issuing CA,
 * pathlen 1) with a fresh key of the world's algorithm; *key and *out are the caller's. A
 * world is plain data: a copy of it with mfr_ca and mfr_ca_key replaced certifies devices
 * under this CA (free only the original).
 */
sc_err sc_test_world_mfr_ca(const struct sc_test_world *w, const char *name, EVP_PKEY **key,
    X509 **out) SC_MUST_USE;

/* device_ca and mfr_ca, the untrusted chain above a leaf (sk_X509_free; the certificates stay
 * the world's). NULL on allocation failure. */
STACK_OF(X509) *sc_test_world_chain(const struct sc_test_world *w);

/*
 * One certificate, any row: the builder under every certificate of the world, for a test that
 * needs one the world does not hold (an impostor root, a signer without the EKU, …).
 * Version 3, a 16-byte random positive serial, SKI always, AKI when issuer is given; signed
 * with SHA-256 (SHA-384 by a P-384 key, pure Ed25519).
 */
struct sc_test_cert {
	const char *serial_number, *o, *cn; /* the subject, in this order; NULL: attribute absent.
	                                       serialNumber is a PrintableString, the rest UTF8 */
	EVP_PKEY *pub;                      /* the subject's key (borrowed) */
	X509 *issuer;                       /* NULL: self-issued (issuer name = subject, no AKI) */
	EVP_PKEY *issuer_key;               /* NULL: pub's (self-signed) */
	time_t not_before, not_after;       /* 0: now - 60 s, and notBefore + days */
	int days;
	const char *bc, *ku, *eku; /* basicConstraints, keyUsage, extendedKeyUsage in
	                                       openssl.cnf syntax ("critical,CA:TRUE");
	                                       NULL: absent */
	const char *nc_serial;     /* nameConstraints (critical): permitted directoryName
	                                       serialNumber=this; NULL: absent */
	const char *san;           /* subjectAltName, openssl.cnf syntax ("DNS:a,IP:…");
	                                       NULL: absent */
};
/* *out is the caller's (X509_free). SC_ERR_INTERNAL with OpenSSL's reason (e.g. a bad value). */
sc_err sc_test_cert_make(const struct sc_test_cert *spec, X509 **out) SC_MUST_USE;

/*
 * A minimal leaf (serialNumber=<serial_number>, CN=leaf; CA:FALSE critical; AKI) for a fresh
 * P-256 key, signed by ca/ca_key: just enough for stock path validation, e.g. to see a device
 * CA's name constraints refuse another device's serial number. *out is the caller's.
 */
sc_err sc_test_cert_leaf(X509 *ca, EVP_PKEY *ca_key, const char *serial_number,
    X509 **out) SC_MUST_USE;

/*
 * A profile's parameters for the world's device on the world's network: profile valid an hour,
 * leaf from now for a day, generated P-256 key, SHA-256. The caller changes what it needs.
 */
void sc_test_profile_params(const struct sc_test_world *w, struct sc_profile_params *pp);

/*
 * Create, sign with the world's profile signer and encode a profile, as the provisioning
 * server does. *der is the caller's (OPENSSL_free). Errors: sc_profile_create's,
 * sc_profile_sign's (the detail names the field).
 */
sc_err sc_test_profile_make(const struct sc_test_world *w, const struct sc_profile_params *pp,
    uint8_t **der, size_t *len) SC_MUST_USE;

#endif
