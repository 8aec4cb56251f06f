// SPDX-License-Identifier: Apache-2.0
/*
 * verify.c — what a relying party checks of a self-issued certificate: stock X.509 path
 * validation to the manufacturer root (name constraints included), then the binding between the
 * certificate, its id-sc-pe-issuance extension and, optionally, the profile that authorized it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <selfcert/revoked.h>
#include <selfcert/verify.h>

#include "fast/fast.h"
#include "profile_key.h"
#include "text.h"

/* A subject attribute as NUL-terminated UTF-8; exactly one must be present. */
static sc_err subject_attr(X509 *cert, int nid, const char *field, char *out, size_t out_len)
{
	sc_err r = SC_ERR_INTERNAL;
	const X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *u = NULL;
	int i, n;

	out[0] = '\0';
	if ((i = X509_NAME_get_index_by_NID(name, nid, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(name, nid, i) >= 0) {
		r = sc_fail(SC_ERR_BINDING, "leaf subject must have exactly one %s", field);
		goto out;
	}
	if ((n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) <
	        0 ||
	    (size_t)n >= out_len || memchr(u, '\0', (size_t)n) != NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_BINDING,
		    "leaf subject %s is not a valid string of at most %zu bytes", field,
		    out_len - 1);
		goto out;
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	r = SC_OK;
out:
	OPENSSL_free(u);
	return r;
}

/* 1 if the DER of two optional extension values is the same (both absent counts as equal). */
static int same_der(const void *a, const void *b, const ASN1_ITEM *it)
{
	unsigned char *da = NULL, *db = NULL;
	int la, lb, same;

	if (a == NULL || b == NULL)
		return a == b;
	la = ASN1_item_i2d((const ASN1_VALUE *)a, &da, it);
	lb = ASN1_item_i2d((const ASN1_VALUE *)b, &db, it);
	same = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

/* 1 if the two EKU lists hold the same set of OIDs (each once). */
static int same_eku_set(const EXTENDED_KEY_USAGE *a, const EXTENDED_KEY_USAGE *b)
{
	int i, j, n;

	if (a == NULL || b == NULL)
		return a == b;
	n = sk_ASN1_OBJECT_num(a);
	if (n != sk_ASN1_OBJECT_num(b))
		return 0;
	for (i = 0; i < n; i++) {
		int in_a = 0, in_b = 0;
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(a, i);
		for (j = 0; j < n; j++) {
			in_a += OBJ_cmp(o, sk_ASN1_OBJECT_value(a, j)) == 0;
			in_b += OBJ_cmp(o, sk_ASN1_OBJECT_value(b, j)) == 0;
		}
		if (in_a != 1 || in_b != 1)
			return 0;
	}
	return 1;
}

/* 1 if the DER encodings of two values of item it are the same bytes. */
static int same_item(const void *a, const void *b, const ASN1_ITEM *it)
{
	return a != NULL && b != NULL && same_der(a, b, it);
}

/* An extension's name for a detail: its short name, or its dotted OID. */
static void ext_name(const X509_EXTENSION *e, char *buf, size_t len)
{
	const ASN1_OBJECT *o = X509_EXTENSION_get_object((X509_EXTENSION *)e);
	int nid = OBJ_obj2nid(o);

	if (nid != NID_undef && OBJ_nid2sn(nid) != NULL)
		snprintf(buf, len, "%s", OBJ_nid2sn(nid));
	else if (OBJ_obj2txt(buf, (int)len, o, 1) <= 0)
		snprintf(buf, len, "(unnamed)");
}

/* Index of the extension with e's OID in exts, or -1. */
static int ext_find(const STACK_OF(X509_EXTENSION) *exts, const X509_EXTENSION *e)
{
	const ASN1_OBJECT *o = X509_EXTENSION_get_object((X509_EXTENSION *)e);
	int i;

	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (OBJ_cmp(o, X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i))) == 0)
			return i;
	return -1;
}

/* The extensions, position by position: the same list, order, criticality and values. */
static sc_err same_extensions(X509 *leaf, X509 *want)
{
	const STACK_OF(X509_EXTENSION) *le = X509_get0_extensions(leaf);
	const STACK_OF(X509_EXTENSION) *we = X509_get0_extensions(want);
	int i, n = sk_X509_EXTENSION_num(le), m = sk_X509_EXTENSION_num(we);
	char name[80];

	for (i = 0; i < n || i < m; i++) {
		X509_EXTENSION *l = i < n ? sk_X509_EXTENSION_value(le, i) : NULL;
		X509_EXTENSION *w = i < m ? sk_X509_EXTENSION_value(we, i) : NULL;

		if (l != NULL && (w == NULL || ext_find(we, l) < 0)) {
			ext_name(l, name, sizeof(name));
			return sc_fail(SC_ERR_BINDING, "extensions: %s not in the profile", name);
		}
		if (l == NULL || ext_find(le, w) < 0) {
			ext_name(w, name, sizeof(name));
			return sc_fail(SC_ERR_BINDING, "extensions: %s missing", name);
		}
		ext_name(l, name, sizeof(name));
		if (OBJ_cmp(X509_EXTENSION_get_object(l), X509_EXTENSION_get_object(w)) != 0)
			return sc_fail(SC_ERR_BINDING, "extensions: %s out of the profile's order",
			    name);
		if (X509_EXTENSION_get_critical(l) != X509_EXTENSION_get_critical(w))
			return sc_fail(SC_ERR_BINDING, "extensions: %s criticality differs", name);
		if (ASN1_STRING_cmp(X509_EXTENSION_get_data(l), X509_EXTENSION_get_data(w)) != 0)
			return sc_fail(SC_ERR_BINDING, "extensions: %s value differs", name);
	}
	return SC_OK;
}

/* The AlgorithmIdentifier a signature by ca_pub with md carries (as the SP's signing sets it). */
static sc_err want_sigalg(EVP_PKEY *ca_pub, const EVP_MD *md, X509_ALGOR **out)
{
	sc_err r = SC_ERR_INTERNAL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM params[2];
	unsigned char aid[128];
	const unsigned char *p = aid;

	/*
	 * #17 (first9): ECDSA with SHA-2 has one fixed identifier (no parameters), the bytes the EC
	 * signature provider answers with; asking it costs EVP_DigestVerifyInit's export of a legacy
	 * key (~0.05 ms), which the leaf's signature check no longer pays for it (fast/sig_cache.c).
	 */
	if (sc_fast_enabled() && EVP_PKEY_get_id(ca_pub) == EVP_PKEY_EC && md != NULL) {
		static const unsigned char ecdsa_sha2[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
			0x48, 0xce, 0x3d, 0x04, 0x03, 0x00 };
		unsigned char last = EVP_MD_is_a(md, "SHA256") ? 0x02
		    : EVP_MD_is_a(md, "SHA384")                ? 0x03
		    : EVP_MD_is_a(md, "SHA512")                ? 0x04
		                                               : 0;

		if (last != 0) {
			memcpy(aid, ecdsa_sha2, sizeof(ecdsa_sha2));
			aid[sizeof(ecdsa_sha2) - 1] = last;
			if ((*out = d2i_X509_ALGOR(NULL, &p, (long)sizeof(ecdsa_sha2))) == NULL) {
				r = sc_fail_ossl(SC_ERR_NOMEM,
				    "the device CA's signature algorithm");
				goto out;
			}
			r = SC_OK;
			goto out;
		}
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "EVP_MD_CTX_new");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid,
	    sizeof(aid));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, ca_pub) != 1 ||
	    EVP_PKEY_CTX_get_params(pctx, params) != 1 || !OSSL_PARAM_modified(&params[0]) ||
	    (*out = d2i_X509_ALGOR(NULL, &p, (long)params[0].return_size)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "the device CA's signature algorithm");
		goto out;
	}
	r = SC_OK;
out:
	EVP_MD_CTX_free(mctx);
	return r;
}

/*
 * The leaf against the one the profile dictates (sc_cert_expected_leaf: the SP's own builder,
 * for this key, this device CA and the leaf's issuance counter), field by field in DER: all but
 * the serial number and the signature value, which the SP chooses.
 */
static sc_err same_as_expected(X509 *leaf, X509 *device_ca, const struct sc_profile *p,
    uint64_t counter, uint32_t index, const EVP_MD *md)
{
	sc_err r = SC_ERR_INTERNAL;
	X509 *want = NULL;
	X509_ALGOR *alg = NULL;
	const X509_ALGOR *leaf_alg = NULL;
	const ASN1_BIT_STRING *iuid = NULL, *suid = NULL;
	char a[256], b[256];

	if ((r = sc_cert_expected_leaf_at(p, X509_get0_pubkey(leaf), device_ca, counter, index,
	         &want)) != SC_OK) {
		r = sc_fail(SC_ERR_BINDING, "the profile's certificate: %s", sc_err_detail());
		goto out;
	}
	if (X509_get_version(leaf) != X509_get_version(want)) {
		r = sc_fail(SC_ERR_BINDING, "version: not v3");
		goto out;
	}
	if ((r = want_sigalg(X509_get0_pubkey(device_ca), md, &alg)) != SC_OK)
		goto out;
	X509_get0_signature(NULL, &leaf_alg, leaf);
	if (!same_item(X509_get0_tbs_sigalg(leaf), alg, ASN1_ITEM_rptr(X509_ALGOR)) ||
	    !same_item(leaf_alg, alg, ASN1_ITEM_rptr(X509_ALGOR))) {
		r = sc_fail(SC_ERR_BINDING, "signature: not the profile's algorithm");
		goto out;
	}
	if (!same_item(X509_get_issuer_name(leaf), X509_get_issuer_name(want),
	        ASN1_ITEM_rptr(X509_NAME))) {
		r = sc_fail(SC_ERR_BINDING, "issuer: not the device CA's subject");
		goto out;
	}
	if (ASN1_STRING_cmp(X509_get0_notBefore(leaf), X509_get0_notBefore(want)) != 0 ||
	    ASN1_STRING_cmp(X509_get0_notAfter(leaf), X509_get0_notAfter(want)) != 0) {
		r = sc_fail(SC_ERR_BINDING, "validity: not the profile's");
		goto out;
	}
	if (!same_item(X509_get_subject_name(leaf), X509_get_subject_name(want),
	        ASN1_ITEM_rptr(X509_NAME))) {
		X509_NAME_oneline(X509_get_subject_name(leaf), a, sizeof(a));
		X509_NAME_oneline(X509_get_subject_name(want), b, sizeof(b));
		r = sc_fail(SC_ERR_BINDING, "subject: certificate says \"%s\", profile \"%s\"", a,
		    b);
		goto out;
	}
	if (!same_item(X509_get_X509_PUBKEY(leaf), X509_get_X509_PUBKEY(want),
	        ASN1_ITEM_rptr(X509_PUBKEY))) {
		r = sc_fail(SC_ERR_BINDING, "subjectPublicKeyInfo: not as the profile encodes it");
		goto out;
	}
	X509_get0_uids(leaf, &iuid, &suid);
	if (iuid != NULL || suid != NULL) {
		r = sc_fail(SC_ERR_BINDING, "%s: not in the profile",
		    iuid != NULL ? "issuerUniqueID" : "subjectUniqueID");
		goto out;
	}
	if ((r = same_extensions(leaf, want)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	X509_ALGOR_free(alg);
	X509_free(want);
	return r;
}

/*
 * Which certificate of a renewal profile (#17) the leaf is: its notBefore is the profile's plus
 * a whole number of cadences below the count. An ordinary profile's leaf is certificate 0.
 */
static sc_err renewal_index_of(X509 *leaf, const struct sc_profile_info *in, uint32_t *index)
{
	time_t nb;

	*index = 0;
	if (in->renewal_count == 0)
		return SC_OK;
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(leaf), &nb) != SC_OK)
		return sc_fail(SC_ERR_BINDING, "validity.notBefore does not parse");
	if (!sc_profile_leaf_index(in, nb, index))
		return sc_fail(SC_ERR_BINDING,
		    "validity.notBefore is none of the renewal profile's %u periods",
		    in->renewal_count);
	return SC_OK;
}

/* Every field of the profile against the certificate it authorized. */
static sc_err check_profile(X509 *leaf, X509 *device_ca, const struct sc_issuance *iss,
    const char *leaf_dev, const struct sc_verify_opts *opts, time_t at)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile_info info;
	EXTENDED_KEY_USAGE *eku = NULL;
	GENERAL_NAMES *san = NULL, *want_san = NULL;
	const GENERAL_NAMES *dictated = NULL;
	EVP_PKEY *leaf_pub;
	char cn[SC_USER_ID_MAX + 1];
	const char *want_cn;
	const EVP_MD *md;
	uint32_t ku, index = 0;
	time_t want_nb, want_na;
	int crit, mdnid = NID_undef;

	sc_profile_get_info(opts->profile, &info);
	if (!info.signed_) {
		r = sc_fail(SC_ERR_USAGE, "profile is not signed");
		goto out;
	}
	if (opts->net_root == NULL && !opts->profile_trusted) {
		r = sc_fail(SC_ERR_USAGE, "a profile check needs net_root");
		goto out;
	}
	/* Public values, but a constant-time compare costs nothing here. */
	if (CRYPTO_memcmp(info.digest, iss->profile_digest, SC_PROFILE_DIGEST_LEN) != 0) {
		r = sc_fail(SC_ERR_BINDING, "profileDigest: the extension names another profile");
		goto out;
	}
	if (CRYPTO_memcmp(info.id, iss->profile_id, SC_PROFILE_ID_LEN) != 0) {
		r = sc_fail(SC_ERR_BINDING, "profileId: the extension names another profile");
		goto out;
	}
	if (strcmp(info.device_id, leaf_dev) != 0) {
		r = sc_fail(SC_ERR_BINDING,
		    "deviceId: profile is for \"%s\", certificate for \"%s\"", info.device_id,
		    leaf_dev);
		goto out;
	}
	if (strcmp(info.network_id, iss->network_id) != 0) {
		r = sc_fail(SC_ERR_BINDING, "networkId: profile says \"%s\", certificate \"%s\"",
		    info.network_id, iss->network_id);
		goto out;
	}
	if ((r = renewal_index_of(leaf, &info, &index)) != SC_OK)
		goto out;
	sc_profile_leaf_validity(&info, index, &want_nb, &want_na);
	if (ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf), want_nb) != 0) {
		r = sc_fail(SC_ERR_BINDING, "validity.notBefore differs from the profile's");
		goto out;
	}
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf), want_na) != 0) {
		r = sc_fail(SC_ERR_BINDING, "validity.notAfter differs from the profile's");
		goto out;
	}
	if (info.origin != iss->origin) {
		r = sc_fail(SC_ERR_BINDING, "keyOrigin differs from the profile's");
		goto out;
	}
	if ((leaf_pub = X509_get0_pubkey(leaf)) == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "leaf public key does not decode");
		goto out;
	}
	if ((r = sc_profile_key_fits(&info, leaf_pub, SC_ERR_BINDING,
	         "publicKey: not the profile's supplied key",
	         "publicKey: not of the profile's algorithm")) != SC_OK)
		goto out;
	/* X509_get_key_usage answers UINT32_MAX when the extension is absent. */
	ku = X509_get_key_usage(leaf);
	if (ku != (uint32_t)info.key_usage) {
		r = sc_fail(SC_ERR_BINDING, "keyUsage differs from the profile's");
		goto out;
	}
	eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL && crit != -1) {
		r = sc_fail(SC_ERR_BINDING, "extKeyUsage is repeated or does not decode");
		goto out;
	}
	if (!same_eku_set(eku, info.eku)) {
		r = sc_fail(SC_ERR_BINDING, "extKeyUsage differs from the profile's");
		goto out;
	}
	san = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (san == NULL && crit != -1) {
		r = sc_fail(SC_ERR_BINDING, "subjectAltName is repeated or does not decode");
		goto out;
	}
	/* The profile's names, led by the device's DNS name under a form 2 device CA. */
	if ((r = sc_cert_leaf_san(&info, device_ca, &want_san, &dictated)) != SC_OK) {
		r = sc_fail(SC_ERR_BINDING, "subjectAltName: %s", sc_err_detail());
		goto out;
	}
	if (!same_der(san, dictated, ASN1_ITEM_rptr(GENERAL_NAMES))) {
		r = sc_fail(SC_ERR_BINDING, "subjectAltName differs from the profile's");
		goto out;
	}
	want_cn = info.has_user_id ? info.user_id : info.device_id;
	if ((r = subject_attr(leaf, NID_commonName, "CN", cn, sizeof(cn))) != SC_OK)
		goto out;
	if (strcmp(cn, want_cn) != 0) {
		r = sc_fail(SC_ERR_BINDING, "CN: certificate says \"%s\", profile \"%s\"", cn,
		    want_cn);
		goto out;
	}
	/* The CSK signs with the profile's certDigest (pure Ed25519 has none to compare). */
	md = sc_sign_md(X509_get0_pubkey(device_ca), info.cert_digest);
	if (md != NULL &&
	    (!X509_get_signature_info(leaf, &mdnid, NULL, NULL, NULL) ||
	        mdnid != EVP_MD_get_type(md))) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_BINDING,
		    "certDigest: the leaf is not signed with the profile's digest");
		goto out;
	}
	/* Then everything else, exactly: nothing the profile does not dictate may be added. */
	if ((r = same_as_expected(leaf, device_ca, opts->profile, iss->counter, index, md)) !=
	    SC_OK)
		goto out;
	/* A profile the caller signed and stored itself: its digest matched above, which is all
	 * that ties this leaf to it; its signature would only be checked again. */
	if (!opts->profile_trusted &&
	    (r = sc_profile_verify_signature(opts->profile, opts->net_root, at)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	EXTENDED_KEY_USAGE_free(eku);
	GENERAL_NAMES_free(san);
	GENERAL_NAMES_free(want_san);
	return r;
}

sc_err sc_verify_chain(X509 *leaf, const struct sc_verify_opts *opts, struct sc_verify_result *out)
{
	sc_err r = SC_ERR_INTERNAL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	STACK_OF(X509) *path;
	X509 *device_ca;
	struct sc_issuance iss;
	char ca_dev[SC_DEVICE_ID_MAX + 1], leaf_dev[SC_DEVICE_ID_MAX + 1];
	char org[SC_NETWORK_ID_MAX + 1];
	time_t at;
	uint32_t flags;
	int err, profile_checked = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (leaf == NULL || opts == NULL || opts->mfr_root == NULL) {
		r = sc_fail(SC_ERR_USAGE, "sc_verify_chain needs a leaf and the manufacturer root");
		goto out;
	}
	if ((r = sc_oids_init()) != SC_OK)
		goto out;
	at = opts->at != 0 ? opts->at : time(NULL);

	/* 1. Stock path validation: the manufacturer root is the only anchor. */
	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "X509_STORE");
		goto out;
	}
	if (!X509_STORE_add_cert(store, opts->mfr_root) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, opts->chain)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "X509_STORE_CTX_init");
		goto out;
	}
	if ((r = sc_sig_cache_attach(ctx, opts->sig_cache)) != SC_OK)
		goto out;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_time(param, at);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		ERR_clear_error();
		r = sc_fail(SC_ERR_CHAIN, "%s (depth %d)", X509_verify_cert_error_string(err),
		    X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	path = X509_STORE_CTX_get0_chain(ctx);
	if (path == NULL || sk_X509_num(path) < 2) {
		r = sc_fail(SC_ERR_BINDING, "leaf is not issued by a device CA");
		goto out;
	}
	device_ca = sk_X509_value(path, 1);

	/* 2. The binding: a device CA's leaf, for that device, carrying the issuance extension. */
	if (sc_cert_device_id(device_ca, ca_dev, sizeof(ca_dev)) != SC_OK ||
	    X509_check_ca(device_ca) == 0) {
		r = sc_fail(SC_ERR_BINDING, "leaf's issuer is not a device CA (no serialNumber)");
		goto out;
	}
	if ((r = subject_attr(leaf, NID_serialNumber, "serialNumber", leaf_dev,
	         sizeof(leaf_dev))) != SC_OK)
		goto out;
	/* The name constraint compares case-insensitively (RFC 5280 4.2.1.4 / OpenSSL's canonical
	 * form); the device ID is exact. */
	if (strcmp(leaf_dev, ca_dev) != 0) {
		r = sc_fail(SC_ERR_BINDING,
		    "leaf serialNumber \"%s\" is not the device CA's \"%s\"", leaf_dev, ca_dev);
		goto out;
	}
	if ((r = sc_issuance_get(leaf, &iss)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			r = sc_fail(SC_ERR_BINDING, "leaf has no id-sc-pe-issuance extension");
		goto out;
	}
	/*
	 * X509_check_ca alone is not enough: it answers 0 for cA TRUE when keyUsage lacks
	 * keyCertSign. Refuse the flag itself, and keyCertSign without it.
	 */
	flags = X509_get_extension_flags(leaf);
	if ((flags & EXFLAG_CA) != 0 || X509_check_ca(leaf) != 0 ||
	    ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN) != 0)) {
		r = sc_fail(SC_ERR_BINDING, "leaf is a CA (basicConstraints cA or keyCertSign)");
		goto out;
	}
	if ((r = subject_attr(leaf, NID_organizationName, "O", org, sizeof(org))) != SC_OK)
		goto out;
	if (strcmp(org, iss.network_id) != 0) {
		r = sc_fail(SC_ERR_BINDING, "leaf O \"%s\" is not the issuance networkId \"%s\"",
		    org, iss.network_id);
		goto out;
	}
	if (opts->allowed_networks != NULL) {
		const char *const *n;
		for (n = opts->allowed_networks; *n != NULL; n++)
			if (strcmp(*n, iss.network_id) == 0)
				break;
		if (*n == NULL) {
			r = sc_fail(SC_ERR_NETWORK, "network \"%s\" is not allowed",
			    iss.network_id);
			goto out;
		}
	}

	/* The network's revocation list, if the caller holds one: for this network, or refused
	 * (a list for another network says nothing, and silence must not pass for "not revoked"). */
	if (opts->revoked != NULL) {
		if (strcmp(opts->revoked->network_id, iss.network_id) != 0) {
			r = sc_fail(SC_ERR_NETWORK,
			    "the revocation list is network \"%s\"'s, the leaf network \"%s\"'s",
			    opts->revoked->network_id, iss.network_id);
			goto out;
		}
		if (sc_revoked_has(opts->revoked, ca_dev)) {
			r = sc_fail(SC_ERR_REVOKED,
			    "device %s is on network %s's revocation list (sequence %llu)", ca_dev,
			    iss.network_id, (unsigned long long)opts->revoked->sequence);
			goto out;
		}
	}

	/* 3. The profile, if the caller has it. */
	if (opts->profile != NULL) {
		if ((r = check_profile(leaf, device_ca, &iss, leaf_dev, opts, at)) != SC_OK)
			goto out;
		profile_checked = 1;
	}
	if (out != NULL) {
		memcpy(out->device_id, ca_dev, sizeof(out->device_id));
		memcpy(out->network_id, iss.network_id, sizeof(out->network_id));
		out->issuance = iss;
		out->profile_checked = profile_checked;
	}
	r = SC_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}
