/*
 * verify.c — what a relying party checks of a self-issued certificate: stock X.509 path
 * validation to the manufacturer root (name constraints included), then the binding between the
 * certificate, its id-sc-pe-issuance extension and, optionally, the profile that authorized it.
 */
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <selfcert/verify.h>

/* ---- the signature cache ---- */

#define SIG_WAYS 4
#define SIG_KEY_LEN 32

struct sig_slot {
	uint8_t key[SIG_KEY_LEN];
	uint8_t used;
};

struct sc_sig_cache {
	CRYPTO_RWLOCK *lock;
	EVP_MD *sha256;                 /* fetched once */
	struct sig_slot *slots;         /* n_sets * SIG_WAYS */
	uint8_t *victim;                /* per set: the way replaced next */
	size_t n_sets;                  /* a power of two */
	uint64_t hits, misses;
};

static CRYPTO_ONCE ex_once = CRYPTO_ONCE_STATIC_INIT;
static int ex_index = -1;

static void ex_index_init(void)
{
	ex_index = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

sc_err sc_sig_cache_new(size_t max, struct sc_sig_cache **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sig_cache *c = NULL;

	*out = NULL;
	if (max < SIG_WAYS || max > SC_SIG_CACHE_MAX) {
		r = sc_fail(SC_ERR_USAGE, "signature cache: %zu entries, expected %d..%u", max, SIG_WAYS,
		    SC_SIG_CACHE_MAX);
		goto out;
	}
	if ((c = OPENSSL_zalloc(sizeof(*c))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "signature cache");
		goto out;
	}
	c->n_sets = 1;
	while (c->n_sets * 2 * SIG_WAYS <= max)
		c->n_sets *= 2;
	if ((c->slots = OPENSSL_zalloc(c->n_sets * SIG_WAYS * sizeof(*c->slots))) == NULL ||
	    (c->victim = OPENSSL_zalloc(c->n_sets)) == NULL || (c->lock = CRYPTO_THREAD_lock_new()) == NULL ||
	    (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "signature cache");
		goto out;
	}
	*out = c;
	c = NULL;
	r = SC_OK;
out:
	sc_sig_cache_free(c);
	return r;
}

void sc_sig_cache_free(struct sc_sig_cache *c)
{
	if (c == NULL)
		return;
	CRYPTO_THREAD_lock_free(c->lock);
	EVP_MD_free(c->sha256);
	OPENSSL_free(c->slots);
	OPENSSL_free(c->victim);
	OPENSSL_free(c);
}

void sc_sig_cache_stats(struct sc_sig_cache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = *misses = 0;
	if (c == NULL || !CRYPTO_THREAD_read_lock(c->lock))
		return;
	*hits = c->hits;
	*misses = c->misses;
	CRYPTO_THREAD_unlock(c->lock);
}

/* SHA-256 of the subject's whole DER, then the issuer's SubjectPublicKeyInfo DER. 0 on failure. */
static int sig_key(const struct sc_sig_cache *c, X509 *xs, X509 *xi, uint8_t *key)
{
	unsigned char *a = NULL, *b = NULL;
	int la = i2d_X509(xs, &a), lb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(xi), &b), ok = 0;
	EVP_MD_CTX *m = NULL;

	if (la > 0 && lb > 0 && (m = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(m, c->sha256, NULL) &&
	    EVP_DigestUpdate(m, a, (size_t)la) && EVP_DigestUpdate(m, b, (size_t)lb) &&
	    EVP_DigestFinal_ex(m, key, NULL))
		ok = 1;
	EVP_MD_CTX_free(m);
	OPENSSL_free(a);
	OPENSSL_free(b);
	return ok;
}

static struct sig_slot *sig_set(const struct sc_sig_cache *c, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	return &c->slots[(h & (c->n_sets - 1)) * SIG_WAYS];
}

/* X509_verify(xs, pkey) > 0, remembered: pkey is xi's key. */
static int sig_verify(struct sc_sig_cache *c, X509 *xs, X509 *xi, EVP_PKEY *pkey)
{
	uint8_t key[SIG_KEY_LEN];
	struct sig_slot *set;
	int have_key = sig_key(c, xs, xi, key), found = 0;

	if (have_key && CRYPTO_THREAD_write_lock(c->lock)) {
		set = sig_set(c, key);
		for (int w = 0; w < SIG_WAYS && !found; w++)
			found = set[w].used && memcmp(set[w].key, key, SIG_KEY_LEN) == 0;
		if (found)
			c->hits++;
		else
			c->misses++;
		CRYPTO_THREAD_unlock(c->lock);
	}
	if (found)
		return 1;
	if (X509_verify(xs, pkey) <= 0)
		return 0;
	if (have_key && CRYPTO_THREAD_write_lock(c->lock)) {
		size_t s;
		set = sig_set(c, key);
		s = (size_t)(set - c->slots) / SIG_WAYS;
		memcpy(set[c->victim[s]].key, key, SIG_KEY_LEN);
		set[c->victim[s]].used = 1;
		c->victim[s] = (uint8_t)((c->victim[s] + 1) % SIG_WAYS);
		CRYPTO_THREAD_unlock(c->lock);
	}
	return 1;
}

/* Tell the verify callback of an error at depth (OpenSSL's verify_cb_cert). 0: stop. */
static int fail_at(X509_STORE_CTX *ctx, X509 *x, int depth, int err)
{
	X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);

	X509_STORE_CTX_set_error_depth(ctx, depth);
	X509_STORE_CTX_set_current_cert(ctx, x);
	X509_STORE_CTX_set_error(ctx, err);
	return cb != NULL ? cb(0, ctx) : 0;
}

/* OpenSSL's ossl_x509_check_cert_time for depth >= 0. */
static int check_time(X509_STORE_CTX *ctx, X509 *x, int depth)
{
	const X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(param);
	time_t t, *pt = NULL;
	int i;

	if (flags & X509_V_FLAG_USE_CHECK_TIME) {
		t = X509_VERIFY_PARAM_get_time(param);
		pt = &t;
	} else if (flags & X509_V_FLAG_NO_CHECK_TIME) {
		return 1;
	}
	i = X509_cmp_time(X509_get0_notBefore(x), pt);
	if (i == 0 && !fail_at(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD))
		return 0;
	if (i > 0 && !fail_at(ctx, x, depth, X509_V_ERR_CERT_NOT_YET_VALID))
		return 0;
	i = X509_cmp_time(X509_get0_notAfter(x), pt);
	if (i == 0 && !fail_at(ctx, x, depth, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD))
		return 0;
	if (i < 0 && !fail_at(ctx, x, depth, X509_V_ERR_CERT_HAS_EXPIRED))
		return 0;
	return 1;
}

/* OpenSSL's ossl_x509_signing_allowed: may issuer's key usage sign x? */
static int signing_allowed(X509 *issuer, X509 *x)
{
	int has_ku = (X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0;
	uint32_t ku = X509_get_key_usage(issuer);

	if (X509_get_extension_flags(x) & EXFLAG_PROXY)
		return has_ku && !(ku & KU_DIGITAL_SIGNATURE) ? X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE : X509_V_OK;
	return has_ku && !(ku & KU_KEY_CERT_SIGN) ? X509_V_ERR_KEYUSAGE_NO_CERTSIGN : X509_V_OK;
}

/*
 * OpenSSL 3.0's internal_verify (crypto/x509/x509_vfy.c), step for step — signatures from the
 * top of the built chain down, each certificate's validity, the callback told of each depth —
 * with X509_verify asked of the cache first. (One thing it cannot do through the public API:
 * set ctx's current issuer; nothing of ours reads it.)
 */
static int cached_internal_verify(X509_STORE_CTX *ctx)
{
	struct sc_sig_cache *c = X509_STORE_CTX_get_ex_data(ctx, ex_index);
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(ctx));
	X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);
	int n = sk_X509_num(chain) - 1;
	X509 *xi, *xs;

	if (c == NULL || cb == NULL || n < 0)
		return 0;
	xi = xs = sk_X509_value(chain, n);
	X509_STORE_CTX_set_error_depth(ctx, n);
	/* The top is normally self-issued (ossl_x509_likely_issued(xi, xi) is the EXFLAG_SS test). */
	if (!(X509_get_extension_flags(xi) & EXFLAG_SS) && !(flags & X509_V_FLAG_PARTIAL_CHAIN)) {
		if (n > 0) {
			n--;
			X509_STORE_CTX_set_error_depth(ctx, n);
			xs = sk_X509_value(chain, n);
		} else if (!fail_at(ctx, xi, 0, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE)) {
			return 0;
		}
	}
	while (n >= 0) {
		uint32_t xif = X509_get_extension_flags(xi);

		if (xs != xi || ((flags & X509_V_FLAG_CHECK_SS_SIGNATURE) && (xif & EXFLAG_SS))) {
			int issuer_depth = n + (xs == xi ? 0 : 1);
			int ret = xs == xi && !(xif & EXFLAG_CA) ? X509_V_OK : signing_allowed(xi, xs);
			EVP_PKEY *pkey;

			if (ret != X509_V_OK && !fail_at(ctx, xi, issuer_depth, ret))
				return 0;
			if ((pkey = X509_get0_pubkey(xi)) == NULL) {
				if (!fail_at(ctx, xi, issuer_depth, X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY))
					return 0;
			} else if (!sig_verify(c, xs, xi, pkey) &&
			    !fail_at(ctx, xs, n, X509_V_ERR_CERT_SIGNATURE_FAILURE)) {
				return 0;
			}
		}
		if (!check_time(ctx, xs, n))
			return 0;
		X509_STORE_CTX_set_current_cert(ctx, xs);
		X509_STORE_CTX_set_error_depth(ctx, n);
		if (!cb(1, ctx))
			return 0;
		if (--n >= 0) {
			xi = xs;
			xs = sk_X509_value(chain, n);
		}
	}
	return 1;
}

sc_err sc_sig_cache_attach(X509_STORE_CTX *ctx, struct sc_sig_cache *c)
{
	if (c == NULL)
		return SC_OK;
	if (!CRYPTO_THREAD_run_once(&ex_once, ex_index_init) || ex_index < 0 ||
	    !X509_STORE_CTX_set_ex_data(ctx, ex_index, c))
		return sc_fail_ossl(SC_ERR_INTERNAL, "signature cache: X509_STORE_CTX ex_data");
	X509_STORE_CTX_set_verify(ctx, cached_internal_verify);
	return SC_OK;
}

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
	if ((n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) < 0 ||
	    (size_t)n >= out_len || memchr(u, '\0', (size_t)n) != NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_BINDING, "leaf subject %s is not a valid string of at most %zu bytes",
		    field, out_len - 1);
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

/* Every field of the profile against the certificate it authorized. */
static sc_err check_profile(X509 *leaf, X509 *device_ca, const struct sc_issuance *iss,
    const char *leaf_dev, const struct sc_verify_opts *opts, time_t at)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile_info info;
	EXTENDED_KEY_USAGE *eku = NULL;
	GENERAL_NAMES *san = NULL;
	EVP_PKEY *leaf_pub;
	char cn[SC_USER_ID_MAX + 1];
	const char *want_cn;
	const EVP_MD *md;
	uint32_t ku;
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
	r = SC_ERR_BINDING;
	/* Public values, but a constant-time compare costs nothing here. */
	if (CRYPTO_memcmp(info.digest, iss->profile_digest, SC_PROFILE_DIGEST_LEN) != 0) {
		r = sc_fail(r, "profileDigest: the extension names another profile");
		goto out;
	}
	if (CRYPTO_memcmp(info.id, iss->profile_id, SC_PROFILE_ID_LEN) != 0) {
		r = sc_fail(r, "profileId: the extension names another profile");
		goto out;
	}
	if (strcmp(info.device_id, leaf_dev) != 0) {
		r = sc_fail(r, "deviceId: profile is for \"%s\", certificate for \"%s\"",
		    info.device_id, leaf_dev);
		goto out;
	}
	if (strcmp(info.network_id, iss->network_id) != 0) {
		r = sc_fail(r, "networkId: profile says \"%s\", certificate \"%s\"", info.network_id,
		    iss->network_id);
		goto out;
	}
	if (ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf), info.not_before) != 0) {
		r = sc_fail(r, "validity.notBefore differs from the profile's");
		goto out;
	}
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf), info.not_after) != 0) {
		r = sc_fail(r, "validity.notAfter differs from the profile's");
		goto out;
	}
	if (info.origin != iss->origin) {
		r = sc_fail(r, "keyOrigin differs from the profile's");
		goto out;
	}
	if ((leaf_pub = X509_get0_pubkey(leaf)) == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "leaf public key does not decode");
		goto out;
	}
	if (info.origin == SC_KEY_SERVER_SUPPLIED) {
		if (info.supplied_pub == NULL || EVP_PKEY_eq(leaf_pub, info.supplied_pub) != 1) {
			ERR_clear_error();
			r = sc_fail(r, "publicKey: not the profile's supplied key");
			goto out;
		}
	} else if (sc_alg_of_key(leaf_pub) != info.alg) {
		r = sc_fail(r, "publicKey: not of the profile's algorithm %s",
		    sc_alg_name(info.alg) != NULL ? sc_alg_name(info.alg) : "(none)");
		goto out;
	}
	/* X509_get_key_usage answers UINT32_MAX when the extension is absent. */
	ku = X509_get_key_usage(leaf);
	if (ku != (uint32_t)info.key_usage) {
		r = sc_fail(r, "keyUsage differs from the profile's");
		goto out;
	}
	eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL && crit != -1) {
		r = sc_fail(r, "extKeyUsage is repeated or does not decode");
		goto out;
	}
	if (!same_eku_set(eku, info.eku)) {
		r = sc_fail(r, "extKeyUsage differs from the profile's");
		goto out;
	}
	san = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (san == NULL && crit != -1) {
		r = sc_fail(r, "subjectAltName is repeated or does not decode");
		goto out;
	}
	if (!same_der(san, info.san, ASN1_ITEM_rptr(GENERAL_NAMES))) {
		r = sc_fail(r, "subjectAltName differs from the profile's");
		goto out;
	}
	want_cn = info.has_user_id ? info.user_id : info.device_id;
	if ((r = subject_attr(leaf, NID_commonName, "CN", cn, sizeof(cn))) != SC_OK)
		goto out;
	r = SC_ERR_BINDING;
	if (strcmp(cn, want_cn) != 0) {
		r = sc_fail(r, "CN: certificate says \"%s\", profile \"%s\"", cn, want_cn);
		goto out;
	}
	/* The CSK signs with the profile's certDigest (pure Ed25519 has none to compare). */
	md = sc_sign_md(X509_get0_pubkey(device_ca), info.cert_digest);
	if (md != NULL && (!X509_get_signature_info(leaf, &mdnid, NULL, NULL, NULL) ||
	    mdnid != EVP_MD_get_type(md))) {
		ERR_clear_error();
		r = sc_fail(r, "certDigest: the leaf is not signed with the profile's digest");
		goto out;
	}
	/* A profile the caller signed and stored itself: its digest matched above, which is all
	 * that ties this leaf to it; its signature would only be checked again. */
	if (!opts->profile_trusted && (r = sc_profile_verify_signature(opts->profile, opts->net_root, at)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	EXTENDED_KEY_USAGE_free(eku);
	GENERAL_NAMES_free(san);
	return r;
}

sc_err sc_verify_chain(X509 *leaf, const struct sc_verify_opts *opts,
    struct sc_verify_result *out)
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
	r = SC_ERR_INTERNAL;
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
	r = SC_ERR_INTERNAL;
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
	r = sc_cert_device_id(device_ca, ca_dev, sizeof(ca_dev));
	if (r != SC_OK || X509_check_ca(device_ca) == 0) {
		r = sc_fail(SC_ERR_BINDING, "leaf's issuer is not a device CA (no serialNumber)");
		goto out;
	}
	if ((r = subject_attr(leaf, NID_serialNumber, "serialNumber", leaf_dev,
	    sizeof(leaf_dev))) != SC_OK)
		goto out;
	r = SC_ERR_BINDING;
	/* The name constraint compares case-insensitively (RFC 5280 4.2.1.4 / OpenSSL's canonical
	 * form); the device ID is exact. */
	if (strcmp(leaf_dev, ca_dev) != 0) {
		r = sc_fail(r, "leaf serialNumber \"%s\" is not the device CA's \"%s\"", leaf_dev,
		    ca_dev);
		goto out;
	}
	if ((r = sc_issuance_get(leaf, &iss)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			r = sc_fail(SC_ERR_BINDING, "leaf has no id-sc-pe-issuance extension");
		goto out;
	}
	r = SC_ERR_BINDING;
	/*
	 * X509_check_ca alone is not enough: it answers 0 for cA TRUE when keyUsage lacks
	 * keyCertSign. Refuse the flag itself, and keyCertSign without it.
	 */
	flags = X509_get_extension_flags(leaf);
	if ((flags & EXFLAG_CA) != 0 || X509_check_ca(leaf) != 0 ||
	    ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN) != 0)) {
		r = sc_fail(r, "leaf is a CA (basicConstraints cA or keyCertSign)");
		goto out;
	}
	if ((r = subject_attr(leaf, NID_organizationName, "O", org, sizeof(org))) != SC_OK)
		goto out;
	r = SC_ERR_BINDING;
	if (strcmp(org, iss.network_id) != 0) {
		r = sc_fail(r, "leaf O \"%s\" is not the issuance networkId \"%s\"", org,
		    iss.network_id);
		goto out;
	}
	if (opts->allowed_networks != NULL) {
		const char *const *n;
		for (n = opts->allowed_networks; *n != NULL; n++)
			if (strcmp(*n, iss.network_id) == 0)
				break;
		if (*n == NULL) {
			r = sc_fail(SC_ERR_NETWORK, "network \"%s\" is not allowed", iss.network_id);
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
