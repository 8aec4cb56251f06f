// SPDX-License-Identifier: Apache-2.0
/*
 * profile_check.c — what a device checks of a decoded SignedProfile before it acts on it
 * (sc_profile_check, in the order profile.h lists), and the signature check alone for relying
 * parties (sc_profile_verify_signature), and the start-up probe that a signer key and its
 * certificate produce profiles a root accepts (sc_profile_prove_signer). Changes nothing; each
 * refusal has its own code.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/err.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>
#include "fast/profile_signer.h"
#include "profile_internal.h"
#include "profile_key.h"
#include "file.h"
#include "text.h"

/* The signatureAlgorithms of docs/FORMATS.md; nothing else (no SHA-1, no MD5). */
static int sig_alg_allowed(int nid)
{
	switch (nid) {
	case NID_sha256WithRSAEncryption:
	case NID_rsassaPss:
	case NID_ecdsa_with_SHA256:
	case NID_ecdsa_with_SHA384:
	case NID_ED25519: return 1;
	default: return 0;
	}
}

/*
 * The signer and signature checks of sc_profile_check against one anchor. cache (NULL: none)
 * may let byte-identical certificates skip the chain, CA, EKU and keyUsage checks they passed
 * before; the signature itself is always verified.
 */
static sc_err verify_signature(const struct sc_profile *p, X509 *anchor, time_t now,
    struct sc_signer_cache *cache)
{
	sc_err r = SC_ERR_INTERNAL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
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
	if ((signer = sk_X509_value(p->sp->certificates, 0)) == NULL) {
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER, "SignedProfile.certificates: no signer");
		goto out;
	}
	/* A shortcut (fast/signer_cache.c): these very certificates already passed what follows. */
	if (sc_signer_cache_covers(cache, p->sp->certificates, anchor, now))
		goto signature;

	/* The anchor is the only trusted certificate; the profile's own are untrusted helpers. */
	if ((store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(store, anchor) ||
	    (untrusted = sk_X509_new_null()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "X509_STORE");
		goto out;
	}
	for (int i = 1; i < sk_X509_num(p->sp->certificates); i++) {
		if (!sk_X509_push(untrusted, sk_X509_value(p->sp->certificates, i))) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "X509_STORE");
			goto out;
		}
	}
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
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER,
		    "certificates[0]: the signer is a CA certificate");
		goto out;
	}

	/* OpenSSL's purpose checks do not know our OID: read the extension ourselves. */
	eku = X509_get_ext_d2i(signer, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_SIGNER_EKU,
		    crit == -1
		        ? "certificates[0]: no extendedKeyUsage (needs id-sc-kp-profileSigning)"
		        : "certificates[0]: extendedKeyUsage does not decode or appears twice");
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
	sc_signer_cache_passed(cache, p->sp->certificates, anchor, X509_STORE_CTX_get0_chain(ctx));

signature:
	nid = OBJ_obj2nid(p->sp->signatureAlgorithm->algorithm);
	if (!sig_alg_allowed(nid)) {
		r = sc_fail(SC_ERR_PROFILE_SIGNATURE, "signatureAlgorithm %s is not allowed",
		    nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown)");
		goto out;
	}
	/*
	 * A batch root is never signed with RSASSA-PSS (docs/FORMATS.md, SignedBatchRoot): provd
	 * signs one with its profile signer, which takes no PSS (rsa_pss 0), and sc_batch_sign sets
	 * no PSS padding. One the server cannot make is refused here, not verified.
	 */
	if (p->batch_root != NULL && nid == NID_rsassaPss) {
		r = sc_fail(SC_ERR_PROFILE_SIGNATURE,
		    "signatureAlgorithm rsassaPss is not allowed for a batch root");
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
	/* #17: a batch leaf is signed through its root, which its path was checked to reach. */
	if (p->batch_root != NULL
	        ? ASN1_item_verify(ASN1_ITEM_rptr(SC_TBS_BATCH_ROOT), p->sp->signatureAlgorithm,
	              p->sp->signature, p->batch_root, pub) != 1
	        : ASN1_item_verify(ASN1_ITEM_rptr(SC_TBS_PROFILE), p->sp->signatureAlgorithm,
	              p->sp->signature, p->sp->tbsProfile, pub) != 1) {
		r = sc_fail_ossl(SC_ERR_PROFILE_SIGNATURE,
		    p->batch_root != NULL ? "signature over tbsBatchRoot does not verify"
		                          : "signature over tbsProfile does not verify");
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

/* The throw-away profile both provers sign, valid for a minute from now. */
static sc_err probe_profile(const char *network_id, const char *probe_device_id, time_t now,
    struct sc_profile **out)
{
	static const uint8_t probe_challenge[SC_CHALLENGE_MIN] = { 0 };
	struct sc_profile_params pp;

	memset(&pp, 0, sizeof(pp));
	pp.network_id = network_id;
	pp.device_id = probe_device_id;
	pp.challenge = probe_challenge;
	pp.challenge_len = sizeof(probe_challenge);
	pp.profile_not_after = now + 60;
	pp.not_before = now;
	pp.not_after = now + 60;
	pp.generate_alg = SC_ALG_P256;
	return sc_profile_create(&pp, out);
}

sc_err sc_profile_prove_signer(const char *network_id, const char *probe_device_id,
    EVP_PKEY *signer_key, X509 *signer, X509 *anchor)
{
	struct sc_profile *p = NULL;
	time_t now = time(NULL);
	sc_err r;

	if ((r = probe_profile(network_id, probe_device_id, now, &p)) == SC_OK &&
	    (r = sc_profile_sign(p, signer_key, signer, NULL, 0)) == SC_OK)
		r = sc_profile_verify_signature(p, anchor, now);
	sc_profile_free(p);
	return r;
}

sc_err sc_profile_signer_prove(const struct sc_profile_signer *s, const char *network_id,
    const char *probe_device_id, X509 *anchor)
{
	struct sc_profile *p = NULL;
	time_t now = time(NULL);
	sc_err r;

	if ((r = probe_profile(network_id, probe_device_id, now, &p)) == SC_OK &&
	    (r = sc_profile_signer_sign(s, p)) == SC_OK)
		r = sc_profile_verify_signature(p, anchor, now);
	sc_profile_free(p);
	return r;
}

static sc_err check_validity(const struct sc_profile_info *in, const struct sc_profile_policy *pol)
{
	time_t csk_nb, csk_na;
	/* A renewal profile (#17) is judged by its whole window: its last certificate's end. */
	time_t end = sc_profile_window_end(in);

	if (in->not_before >= in->not_after)
		return sc_fail(SC_ERR_VALIDITY, "validity: notBefore is not before notAfter");
	if (in->renewal_count > 0 && in->challenge_len > 0)
		return sc_fail(SC_ERR_CHALLENGE, "renewal: a renewal profile carries no challenge");
	/* Each certificate must start before the previous one ends, or the device has gaps. */
	if (in->renewal_count > 0 && (time_t)in->renewal_cadence > in->not_after - in->not_before)
		return sc_fail(SC_ERR_VALIDITY,
		    "renewal.cadence: %u s is longer than a certificate's %lld s",
		    in->renewal_cadence, (long long)(in->not_after - in->not_before));
	if (end <= pol->now)
		return sc_fail(SC_ERR_VALIDITY, "validity.notAfter has passed");
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(pol->csk_cert), &csk_nb) != SC_OK ||
	    sc_asn1_time_to_time_t(X509_get0_notAfter(pol->csk_cert), &csk_na) != SC_OK)
		return sc_fail(SC_ERR_INTERNAL,
		    "the device CA certificate's validity does not parse");
	if (in->not_before < csk_nb)
		return sc_fail(SC_ERR_VALIDITY,
		    "validity.notBefore is before the device CA certificate's notBefore");
	if (end > csk_na)
		return sc_fail(SC_ERR_VALIDITY,
		    "validity.notAfter is after the device CA certificate's notAfter");
	if (pol->max_leaf_seconds != 0 &&
	    (uint64_t)(in->not_after - in->not_before) > pol->max_leaf_seconds)
		return sc_fail(SC_ERR_VALIDITY, "validity: %lld s long, at most %u",
		    (long long)(in->not_after - in->not_before), pol->max_leaf_seconds);
	return SC_OK;
}

static sc_err check_extensions(const struct sc_profile_info *in,
    const struct sc_profile_policy *pol)
{
	GENERAL_NAMES *owned = NULL;
	const GENERAL_NAMES *use = NULL;
	sc_err r;
	unsigned allowed = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
	int n;

	if (sc_alg_is_rsa(in->alg))
		allowed |= KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT;
	if (in->alg == SC_ALG_P256 || in->alg == SC_ALG_P384)
		allowed |= KU_KEY_AGREEMENT;
	for (int i = 0; i < SC_KU_NBITS; i++) {
		unsigned bit = sc_key_usage_bit(i);
		if ((in->key_usage & bit) && !(allowed & bit))
			return sc_fail(SC_ERR_EXTENSION,
			    "tbsProfile.keyUsage: %s not allowed for a %s key",
			    sc_key_usage_name(bit), sc_alg_name(in->alg));
	}
	if (in->eku != NULL) {
		n = sk_ASN1_OBJECT_num(in->eku);
		if (n > SC_PROFILE_MAX_EKU)
			return sc_fail(SC_ERR_EXTENSION,
			    "tbsProfile.extKeyUsage: %d OIDs, at most %d", n, SC_PROFILE_MAX_EKU);
		/* A device certificate must never look like a profile signer. */
		for (int i = 0; i < n; i++)
			if (OBJ_obj2nid(sk_ASN1_OBJECT_value(in->eku, i)) ==
			    sc_nid_kp_profile_signing())
				return sc_fail(SC_ERR_EXTENSION,
				    "tbsProfile.extKeyUsage: id-sc-kp-profileSigning not allowed");
	}
	if (in->san != NULL && (n = sk_GENERAL_NAME_num(in->san)) > SC_PROFILE_MAX_SAN)
		return sc_fail(SC_ERR_EXTENSION, "tbsProfile.subjectAltName: %d names, at most %d",
		    n, SC_PROFILE_MAX_SAN);
	/* The names the leaf would carry: a dNSName outside a form 2 device CA's is refused. */
	if ((r = pol->csk_form_known ? sc_cert_leaf_san_as(in, pol->csk_form, &owned, &use)
	                             : sc_cert_leaf_san(in, pol->csk_cert, &owned, &use)) != SC_OK)
		return r == SC_ERR_EXTENSION
		    ? sc_fail(SC_ERR_EXTENSION, "tbsProfile.subjectAltName: %s", sc_err_detail())
		    : r;
	GENERAL_NAMES_free(owned);
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
		return sc_fail(SC_ERR_DEVICE_MISMATCH,
		    "tbsProfile.deviceId '%s' is not this device", in->device_id);
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
		return sc_fail(SC_ERR_ALGORITHM,
		    "tbsProfile.key: not RSA-2048/3072/4096, P-256, "
		    "P-384 or Ed25519");
	}
	return check_extensions(in, pol);
}
