// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_profile.c — libFuzzer target: one DER SignedProfile through everything done with a
 * profile before the SP acts on it: strict decode (a decoded profile must re-encode to exactly
 * the input), the stateless checks against the fixed test hierarchy, the signature alone, and
 * the supplied key's unwrap with the fixed KEK. A profile that passes every check is issued
 * with a fixed leaf key, and the certificate must then verify with its profile bound: what the
 * SP would sign, a relying party must accept.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <selfcert/cert.h>
#include <selfcert/verify.h>
#include "fuzz.h"

static const struct fz_fixture *fx;
static struct sc_anchor anchor;
static struct sc_profile_policy policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fx = fz_fixture();
	anchor.network_id = FZ_NETWORK_ID;
	anchor.cert = fx->net_root;
	policy.device_id = FZ_DEVICE_ID;
	policy.anchors = &anchor;
	policy.n_anchors = 1;
	policy.now = FZ_NOW;
	policy.csk_cert = fx->csk_cert;
	policy.max_leaf_seconds = 0;
	policy.csk_alg = SC_ALG_P256;
	return 0;
}

/* A failure must carry a real code and a detail naming what was wrong. */
static void check_failure(sc_err r, const char *what)
{
	FZ_ASSERT(r < 0 && strcmp(sc_err_name(r), "unknown") != 0, "%s: code %d", what, (int)r);
	FZ_ASSERT(sc_err_detail()[0] != '\0', "%s: %s without a detail", what, sc_err_name(r));
}

/* The profile passed sc_profile_check: issue as the SP would and verify as a relying party. */
static void issue_and_verify(const struct sc_profile *p, const struct sc_profile_info *in,
    EVP_PKEY *supplied)
{
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	EVP_PKEY *leaf_key = supplied;
	X509 *cert = NULL;
	sc_err r;

	if (in->origin == SC_KEY_DEVICE_GENERATED) {
		/* RSA keys cannot be fixed cheaply; generating one per input would stall fuzzing. */
		if (in->alg == SC_ALG_P256)
			leaf_key = fx->leaf_p256;
		else if (in->alg == SC_ALG_P384)
			leaf_key = fx->leaf_p384;
		else if (in->alg == SC_ALG_ED25519)
			leaf_key = fx->leaf_ed25519;
	}
	if (leaf_key == NULL)
		return;
	r = sc_cert_issue_leaf(p, leaf_key, fx->csk_cert, fx->csk, 1, &cert);
	FZ_ASSERT(r == SC_OK, "a checked profile does not issue: %s: %s", sc_err_name(r),
	    sc_err_detail());
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = fx->mfr_root;
	opts.chain = fx->chain;
	opts.at = in->not_before; /* inside the leaf's validity and the pinned hierarchy's */
	opts.profile = p;
	opts.net_root = fx->net_root;
	r = sc_verify_chain(cert, &opts, &res);
	FZ_ASSERT(r == SC_OK, "an issued certificate does not verify: %s: %s", sc_err_name(r),
	    sc_err_detail());
	FZ_ASSERT(res.profile_checked == 1, "profile not checked");
	fz_trace("profile: issued and verified");
	X509_free(cert);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info in;
	uint8_t *der = NULL;
	size_t der_len = 0;
	EVP_PKEY *key = NULL;
	sc_err r, check, sig;

	fz_input_begin(data, size);

	sc_err_clear();
	r = sc_profile_decode(data, size, &p);
	if (r != SC_OK) {
		check_failure(r, "sc_profile_decode");
		fz_trace("profile: decode %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(p == NULL, "a failed decode returned a profile");
		ERR_clear_error();
		return 0;
	}
	/* Strict DER: the profile is exactly the bytes it came from. */
	r = sc_profile_encode(p, &der, &der_len);
	FZ_ASSERT(r == SC_OK && der_len == size && memcmp(der, data, size) == 0,
	    "a decoded profile does not re-encode to its input (%zu vs %zu bytes)", der_len, size);
	OPENSSL_free(der);

	sc_profile_get_info(p, &in);
	FZ_ASSERT(in.signed_ && in.signer != NULL, "decoded but not signed");
	check = sc_profile_check(p, &policy);
	if (check != SC_OK)
		check_failure(check, "sc_profile_check");
	sig = sc_profile_verify_signature(p, fx->net_root, FZ_NOW);
	if (sig != SC_OK)
		check_failure(sig, "sc_profile_verify_signature");
	FZ_ASSERT(check != SC_OK || sig == SC_OK, "checked, but the signature alone fails: %s",
	    sc_err_name(sig));

	/* The unwrap runs on every decoded profile: it must hold up on any envelope. */
	r = sc_profile_unwrap_key(p, fx->kek, fx->kek_cert, &key);
	if (in.origin == SC_KEY_DEVICE_GENERATED) {
		FZ_ASSERT(r == SC_ERR_USAGE && key == NULL, "unwrap of a generate profile: %s",
		    sc_err_name(r));
	} else if (r == SC_OK) {
		FZ_ASSERT(key != NULL && EVP_PKEY_eq(key, in.supplied_pub) == 1,
		    "unwrapped a key that is not the profile's public key");
		FZ_ASSERT(sc_alg_of_key(key) != SC_ALG_NONE,
		    "unwrapped a key of no allowed algorithm");
	} else {
		check_failure(r, "sc_profile_unwrap_key");
		FZ_ASSERT(key == NULL, "a failed unwrap returned a key");
	}
	fz_trace("profile: decoded; check %s; signature %s; unwrap %s", sc_err_name(check),
	    sc_err_name(sig), sc_err_name(r));
	if (check == SC_OK)
		fz_success();
	if (check == SC_OK && (in.origin == SC_KEY_DEVICE_GENERATED || key != NULL))
		issue_and_verify(p, &in, key);
	EVP_PKEY_free(key);
	sc_profile_free(p);
	ERR_clear_error();
	return 0;
}
