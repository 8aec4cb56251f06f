// SPDX-License-Identifier: Apache-2.0
/*
 * leaf_ref.h — the registration shortcut of issue 17 (internal): a leaf that sc_verify_chain
 * accepted with its profile, kept as the template its siblings (the other certificates of the
 * same renewal profile) are judged against byte for byte, with one signature check each.
 *
 * The contract is one-sided: sc_leaf_ref_judge answers 1 only for a certificate that
 * sc_verify_chain, with the options the reference was made with and the time the caller gives,
 * would accept too, and says which period and times it carries; it answers 0 for anything else
 * (different bytes than a sibling can have, a time outside every checked validity, a bad
 * signature), and the caller then runs the full check, which gives every refusal its name.
 * Why the two agree: docs/THREAT-MODEL.md "Session 7 (renew7)".
 *
 * A reference owns copies of everything it reads (the leaf's DER, the chain's validity times,
 * the device CA's key, up-referenced) and is immutable once made: any number of threads may
 * judge against one. Sizes: one certificate's DER (~1 KiB) plus a few hundred bytes.
 */
#ifndef SC_FAST_LEAF_REF_H
#define SC_FAST_LEAF_REF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>

struct sc_leaf_ref;

/* What a judged sibling carries (only meaningful when sc_leaf_ref_judge answered 1). */
struct sc_leaf_fast {
	int renewal;    /* 1: a renewal profile's certificate (index is its period) */
	uint32_t index; /* its period: 0 for an ordinary profile's one certificate */
	time_t not_before, not_after;
	uint64_t counter;        /* the issuance extension's counter */
	uint8_t fpr[32];         /* SHA-256 of its DER */
	char serial[2 * 20 + 1]; /* lower-case hex of the serial's magnitude, as BN_bn2hex */
};

/*
 * A reference from leaf (its DER der/len), which sc_verify_chain(leaf, opts) has just accepted
 * with opts->profile and opts->net_root set (trusted or verified: either way its signature is
 * good, and its signer chain is checked again at each sibling's time) and opts->chain the
 * device's chain (device CA first); opts->at the registration's now. SC_ERR_USAGE when the leaf is of a form the
 * shortcut does not cover (anything but a P-256 key, a [0]..[3] TBS, a shape it cannot
 * template): the caller then keeps using the full check. SC_ERR_NOMEM. fleet12: when
 * opts->sig_cache holds leaf's signature under the device CA's key (sc_sig_cache_has: exactly
 * these bytes, verified there), the reference takes it as verified instead of verifying it again;
 * the cache's word is trusted as the path validation's own.
 */
sc_err sc_leaf_ref_new(X509 *leaf, const uint8_t *der, size_t len,
    const struct sc_verify_opts *opts, struct sc_leaf_ref **out) SC_MUST_USE;

/*
 * renew13: sc_leaf_ref_new for a leaf given as DER only (a renewal profile's first certificate
 * sc_leaf_first_judge accepted), with no X509 of it: what sc_leaf_ref_new reads from the X509
 * (the key's curve, the signature algorithm, the device ID) taken from the DER, for the only
 * forms the first judge accepts (a P-256 key under id-ecPublicKey, ecdsa-with-SHA256 inside and
 * out, the subject's first serialNumber the profile's device). Everything else as
 * sc_leaf_ref_new, the self-check included (the leaf's signature found in opts->sig_cache, where
 * the first judge vouched it, else verified). SC_ERR_USAGE for another form.
 */
sc_err sc_leaf_ref_new_der(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    struct sc_leaf_ref **out) SC_MUST_USE;

/* The profile ID (raw, SC_PROFILE_ID_LEN bytes) a certificate's issuance extension names, read
 * from its DER without parsing it; 0 if it has none in the expected place (no verdict: only
 * for finding a reference). */
int sc_leaf_profile_id(const uint8_t *der, size_t len, uint8_t id[SC_PROFILE_ID_LEN]);

/* ref10: 1 if the certificate's subject's first serialNumber (a PrintableString or UTF8String)
 * is device_id, read from its DER without parsing it; 0 otherwise (no verdict: a gate before
 * work done for that device, the full check decides). */
int sc_leaf_device_is(const uint8_t *der, size_t len, const char *device_id);

/* The profile ID a reference is for (SC_PROFILE_ID_LEN bytes), and its leaf's device ID. */
const uint8_t *sc_leaf_ref_profile_id(const struct sc_leaf_ref *ref);
const char *sc_leaf_ref_device_id(const struct sc_leaf_ref *ref);

/*
 * 1 if der is a sibling of ref that sc_verify_chain would accept at the time the registration
 * path uses (a renewal certificate's: now clamped into its own validity, late15's
 * sc_profile_leaf_judged_at), with *out filled;
 * 0 otherwise (run the full check). Never fails otherwise; no error state is left.
 */
int sc_leaf_ref_judge(const struct sc_leaf_ref *ref, const uint8_t *der, size_t len, time_t now,
    struct sc_leaf_fast *out);

/*
 * robust16: 1 if the trust anchors of the profile ref was made for, its own signer certificates
 * (the ones that signed it, as it carries them) and the network root, are all valid at now: what
 * provd's full path requires of a profile, now, whatever instant the certificate is judged at
 * (cert_verify, late15b; a kept profile's signer is the process's own). 0 otherwise, or when the
 * reference recorded none. A validity X509_cmp_time would judge alike (notBefore <= now <
 * notAfter), from the times sc_leaf_ref_new read (second precision, Z forms only).
 */
int sc_leaf_ref_anchors_valid(const struct sc_leaf_ref *ref, time_t now);

void sc_leaf_ref_free(struct sc_leaf_ref *ref);

/*
 * judge9: 1 if der is a device's first certificate of an ordinary profile (renew13: or of a
 * renewal profile, any of its periods, judged at opts->at clamped into its own validity
 * (sc_profile_leaf_judged_at), as provd's cert_verify; its signature then vouched into opts->sig_cache for
 * sc_leaf_ref_new_der) that sc_verify_chain
 * would accept with opts (the profile kept by the caller: opts->profile_trusted 1; opts->chain
 * the device's chain, device CA first, whose signatures the caller has vouched into
 * opts->sig_cache from the device's pin; one allowed network; opts->at the time judged), with
 * *out filled (renewal, index: its period); 0 otherwise (run the full check). It compares the leaf's TBS with the
 * builder's in DER (judge12: sc_fast_expected_tbs_der for the leaf's key, counter and serial,
 * one memcmp), verifies the leaf's signature, validates the device CA's path strictly at
 * opts->at, and decides path validation's leaf checks (form, name constraints) from what the
 * builder wrote, or, for name constraints it does not decide, on the builder's X509
 * (sc_cert_expected_leaf_at). Why that is the full check's verdict: docs/THREAT-MODEL.md
 * "Session 9 (judge9)" and "Session 12 (judge12)". No error state left.
 */
int sc_leaf_first_judge(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    struct sc_leaf_fast *out);

/*
 * judge12, for tests: which leaf-form check this thread's last sc_leaf_first_judge ran once its
 * TBS, signature and chain had passed: 1 from the DER builder's output (first_der_form), 2 on
 * the builder's X509 (a path with name constraints it does not decide), 0 neither (refused
 * earlier).
 */
int sc_leaf_first_judge_last_form(void);

/*
 * Registry schema 8 (issue 17): the strict chain verdict recorded with each device pin.
 * sc_chain_verdict runs exactly sc_leaf_first_judge's chain check (strict validation of
 * chain[0], the device CA, to mfr_root; the path exactly the chain and the root; the device CA a
 * CA with keyCertSign; pathLen counted with a leaf below; no proxy or policy extension) with
 * X509_V_FLAG_NO_CHECK_TIME, and sc_chain_one_path, so the verdict holds at any time (validity is judged at each
 * request). Returns sc_chain_rules() when the chain passes, 0 otherwise (and for an empty chain,
 * more than 16 certificates, no root): a pin writer records it beside its own, unchanged,
 * validation and refuses nothing on its account. sigs may be NULL. No error state left.
 * sc_chain_rules: the identity of the rules applied: the first 32 bits of SHA-256 over
 * SC_CHAIN_RULES_REV and the running libcrypto's full version, build date, platform and
 * compiler flags (a distribution's backported fix keeps the version number, not the build
 * date), never 0 (0 only if it cannot be computed); a verdict of other rules is no verdict.
 * docs/THREAT-MODEL.md "Session 14 (schema14)".
 */
#define SC_CHAIN_RULES_REV 1u

/*
 * schema14: a pinned device's chain as its pin and profile request knew it, for
 * sc_leaf_first_judge_der: each certificate's DER (device CA first: the bytes the pin's path
 * hash binds), its validity as sc_fast_cert_peek read it, the device CA's key, and the pin's
 * chain_verdict.
 */
#define SC_FIRST_CHAIN_MAX 4
struct sc_first_chain_der {
	const uint8_t *der[SC_FIRST_CHAIN_MAX];
	size_t len[SC_FIRST_CHAIN_MAX];
	int64_t not_before[SC_FIRST_CHAIN_MAX], not_after[SC_FIRST_CHAIN_MAX];
	int n;
	EVP_PKEY *ca_key;
	uint32_t verdict;
};

/*
 * schema14: sc_leaf_first_judge for an ordinary profile with no X509 of the chain (opts->chain
 * not read): when cd->verdict is this build's sc_chain_rules() (else 0), first_chain's check is
 * the recorded verdict plus every certificate's and the root's validity at opts->at (strictly
 * inside, as provd's valid_at), and the expected TBS's issuer is made from the device CA's DER
 * (sc_leaf_issuer_new_der: its known name-constraint forms only). 0 for anything this does not
 * decide (a renewal profile, a name-constraint form or path not covered, the forms and
 * conditions sc_leaf_first_judge refuses): the caller then parses the chain and checks in full.
 * docs/THREAT-MODEL.md "Session 14 (schema14)".
 */
int sc_leaf_first_judge_der(const uint8_t *der, size_t len, const struct sc_verify_opts *opts,
    const struct sc_first_chain_der *cd, struct sc_leaf_fast *out);
struct sc_sig_cache;
uint32_t sc_chain_rules(void);
uint32_t sc_chain_verdict(STACK_OF(X509) *chain, X509 *mfr_root, struct sc_sig_cache *sigs);
/*
 * first9's uniqueness (provd's chain_one_path): each certificate's issuer Name is the next
 * one's subject (the root's after the last), and no two subjects of the chain and the root are
 * equal, so path building from the device CA can only build this path. Part of the verdict.
 */
int sc_chain_one_path(STACK_OF(X509) *chain, X509 *root);

#endif
