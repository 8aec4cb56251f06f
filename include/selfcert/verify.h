/*
 * selfcert/verify.h — what a relying party checks of a self-issued certificate.
 *
 * First stock X.509 path validation (X509_verify_cert) from the leaf through the chain to the
 * manufacturer root, name constraints included; then the binding of the id-sc-pe-issuance
 * extension; then, optionally, the profile that authorized the certificate.
 * Does not check revocation.
 */
#ifndef SELFCERT_VERIFY_H
#define SELFCERT_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>

/*
 * A bounded, thread-safe memory of certificate signatures already verified: the SHA-256 of the
 * certificate's whole DER with its issuer's SubjectPublicKeyInfo DER. A signature is valid or not
 * whatever the time, so only the signature check is remembered; everything else path validation
 * does (validity at the time of the check, key usage, name constraints, path length, policy) is
 * done every time. Only successes are remembered; one changed byte of either is another key.
 * For a server that sees the same manufacturer CA under every device, and a device CA on both
 * of its requests (selfcert-provd). Full: old entries are replaced (4-way sets, round robin).
 */
struct sc_sig_cache;

#define SC_SIG_CACHE_MAX (1u << 22)     /* entries */

/* max: 4..SC_SIG_CACHE_MAX entries (SC_ERR_USAGE otherwise; SC_ERR_NOMEM). */
sc_err sc_sig_cache_new(size_t max, struct sc_sig_cache **out) SC_MUST_USE;
void sc_sig_cache_free(struct sc_sig_cache *c);
void sc_sig_cache_stats(struct sc_sig_cache *c, uint64_t *hits, uint64_t *misses);

/*
 * Make X509_verify_cert(ctx) use c for its signature checks (X509_STORE_CTX_set_verify with a
 * function that does what OpenSSL 3.0's own does, in the same order with the same errors and
 * depths, but asks c before each X509_verify). Call after X509_STORE_CTX_init; c must outlive
 * ctx's use. Not for DANE contexts (X509_STORE_CTX_set0_dane). c NULL: ctx unchanged.
 * SC_ERR_INTERNAL if ctx cannot carry c (its ex_data).
 */
sc_err sc_sig_cache_attach(X509_STORE_CTX *ctx, struct sc_sig_cache *c) SC_MUST_USE;

struct sc_verify_opts {
	X509 *mfr_root;                    /* required: the only trust anchor for the path */
	STACK_OF(X509) *chain;             /* untrusted certificates above the leaf (device CA,
	                                      manufacturer CA); may contain the root */
	time_t at;                         /* 0: now */
	const char *const *allowed_networks; /* NULL: any; else NULL-terminated list of network IDs
	                                      the issuance extension must name one of */
	const struct sc_profile *profile;  /* NULL: no profile check */
	X509 *net_root;                    /* with profile: the network anchor it must chain to */
	int profile_trusted;               /* with profile: 1 if the caller vouches for the profile's
	                                      signature (it signed the profile itself and read it back
	                                      from its own store, as selfcert-provd does); the
	                                      signature and its signer chain are then not verified
	                                      again and net_root may be NULL. Every binding field is
	                                      still compared, the digest first. 0: verify them. */
	struct sc_sig_cache *sig_cache;    /* NULL: none; else the path's signature checks go
	                                      through it (sc_sig_cache_attach) */
};

struct sc_verify_result {
	char device_id[SC_DEVICE_ID_MAX + 1];   /* from the device CA (serialNumber) */
	char network_id[SC_NETWORK_ID_MAX + 1]; /* from the issuance extension */
	struct sc_issuance issuance;
	int profile_checked;                    /* 1 if a profile was given and matched */
};

/*
 * Checks, in order:
 *   path validation to mfr_root at `at`                 SC_ERR_CHAIN (detail: OpenSSL's reason)
 *   the leaf's issuer is a device CA (has a serialNumber) and the leaf's subject serialNumber,
 *   the issuance extension is present and well formed, the leaf is not a CA
 *                                                       SC_ERR_BINDING / SC_ERR_MALFORMED
 *   the subject's O equals the extension's network ID   SC_ERR_BINDING
 *   the network ID is allowed                           SC_ERR_NETWORK
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
