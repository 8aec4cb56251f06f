// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/verify.h — what a relying party checks of a self-issued certificate.
 *
 * First stock X.509 path validation (X509_verify_cert) from the leaf through the chain to the
 * manufacturer root, name constraints included; then the binding of the id-sc-pe-issuance
 * extension; then, optionally, the profile that authorized the certificate.
 * Revocation only through the network's signed list, when the caller passes one (opts.revoked;
 * selfcert/revoked.h); no CRL or OCSP fetching.
 */
#ifndef SELFCERT_VERIFY_H
#define SELFCERT_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/cache.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>

struct sc_revoked;

struct sc_verify_opts {
	X509 *mfr_root;                      /* required: the only trust anchor for the path */
	STACK_OF(X509) *chain;               /* untrusted certificates above the leaf (device CA,
	                                      manufacturer CA); may contain the root */
	time_t at;                           /* 0: now */
	const char *const *allowed_networks; /* NULL: any; else NULL-terminated list of network IDs
	                                      the issuance extension must name one of */
	const struct sc_profile *profile;    /* NULL: no profile check */
	X509 *net_root;                      /* with profile: the network anchor it must chain to */
	int profile_trusted;            /* with profile: 1 if the caller vouches for the profile's
	                                      signature (it signed the profile itself and read it back
	                                      from its own store, as selfcert-provd does); the
	                                      signature and its signer chain are then not verified
	                                      again and net_root may be NULL. Every binding field is
	                                      still compared, the digest first. 0: verify them. */
	struct sc_sig_cache *sig_cache; /* NULL: none; else the path's signature checks go
	                                      through it (sc_sig_cache_attach, selfcert/cache.h) */
	/* NULL: no revocation check. Else the network's signed list, already decoded and checked
	 * (sc_revoked_decode, selfcert/revoked.h; borrowed): a leaf of another network is
	 * SC_ERR_NETWORK, a device on the list SC_ERR_REVOKED. */
	const struct sc_revoked *revoked;
};

struct sc_verify_result {
	char device_id[SC_DEVICE_ID_MAX + 1];   /* from the device CA (serialNumber) */
	char network_id[SC_NETWORK_ID_MAX + 1]; /* from the issuance extension */
	struct sc_issuance issuance;
	int profile_checked; /* 1 if a profile was given and matched */
};

/*
 * Checks, in order:
 *   path validation to mfr_root at `at`                 SC_ERR_CHAIN (detail: OpenSSL's reason)
 *   the leaf's issuer is a device CA (has a serialNumber) and the leaf's subject serialNumber,
 *   the issuance extension is present and well formed, the leaf is not a CA
 *                                                       SC_ERR_BINDING / SC_ERR_MALFORMED
 *   the subject's O equals the extension's network ID   SC_ERR_BINDING
 *   the network ID is allowed                           SC_ERR_NETWORK
 *   with a revocation list: it is this network's (SC_ERR_NETWORK) and the device (the device
 *   CA's serialNumber) is not on it                     SC_ERR_REVOKED
 *   with a profile: digest and ID equal the extension's, device ID, network ID, validity, key
 *   origin and public key (generated: algorithm; supplied: the exact key), key usage, EKU, SAN
 *   and CN match the certificate                        SC_ERR_BINDING (detail: the field)
 *   and the profile's signature chains to net_root for that network ID (as sc_profile_check,
 *   without device state)     SC_ERR_UNTRUSTED_SIGNER / SC_ERR_SIGNER_EKU / SC_ERR_PROFILE_SIGNATURE
 *   (skipped with profile_trusted: the signer's chain, EKU and validity at `at` are then the
 *   caller's word, not checked here)
 * out may be NULL.
 */
sc_err sc_verify_chain(X509 *leaf, const struct sc_verify_opts *opts,
    struct sc_verify_result *out) SC_MUST_USE;

#endif
