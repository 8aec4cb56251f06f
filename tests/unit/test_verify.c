// SPDX-License-Identifier: Apache-2.0
/*
 * test_verify.c — sc_verify_chain (verify.c): stock path validation with the device CA's name
 * constraints, the issuance-extension binding, and every profile field a relying party checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include <selfcert/cache.h>
#include <selfcert/verify.h>

#include "fast/fast.h"
#include "fast/x509.h"
#include "testworld.h"

static const enum sc_alg algs[] = { SC_ALG_RSA2048, SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519 };
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))
#define DAYS 3650

static EVP_PKEY *keygen(enum sc_alg alg)
{
	EVP_PKEY *k = NULL;
	assert_int_equal(sc_alg_keygen(alg, &k), SC_OK);
	return k;
}

/*
 * Manufacturer hierarchy for device DEV-A, one network (net-1) with its profile signer: the
 * test world of tests/testlib (raw OpenSSL, so the relying party is not checked against
 * certificates of its own library's making), under this file's names.
 */
struct world {
	struct sc_test_world tw; /* owns everything below but chain */
	enum sc_alg alg;
	EVP_PKEY *root_key, *ca_key, *csk, *net_key, *signer_key;
	X509 *root, *ca, *dev_ca, *net_root, *signer;
	STACK_OF(X509) *chain; /* device CA, manufacturer CA */
};

/*
 * Every verification in this file runs four times: without a signature cache, then twice with
 * one shared by the whole file (a miss that fills it, then a hit), then with it but the
 * shortcuts off (sc_fast_set(0): OpenSSL's own path validation, the cache neither asked nor
 * filled): the code and the whole detail (OpenSSL's reason and depth) must be the same each time.
 * So each refusal below is also a test that the cache's path validation refuses exactly as
 * OpenSSL's own does.
 */
static struct sc_sig_cache *shared_cache;

#define SIG_CACHE_MIN 4 /* sc_sig_cache_new's smallest: one set of 4 ways */

static sc_err verify_both(X509 *leaf, const struct sc_verify_opts *opts,
    struct sc_verify_result *out)
{
	struct sc_verify_opts with;
	char detail[512];
	sc_err r = sc_verify_chain(leaf, opts, out), r2;
	uint64_t hits, misses, hits2, misses2;
	int was = sc_fast_enabled();

	if (opts == NULL || opts->sig_cache != NULL || shared_cache == NULL)
		return r;
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	with = *opts;
	with.sig_cache = shared_cache;
	sc_fast_set(1);
	for (int k = 0; k < 2; k++) {
		if ((r2 = sc_verify_chain(leaf, &with, out)) != r ||
		    strcmp(sc_err_detail(), detail) != 0)
			fail_msg(
			    "with the signature cache (pass %d): %s \"%s\", without: %s \"%s\"",
			    k + 1, sc_err_name(r2), sc_err_detail(), sc_err_name(r), detail);
	}
	sc_sig_cache_stats(shared_cache, &hits, &misses);
	sc_fast_set(0);
	r2 = sc_verify_chain(leaf, &with, out);
	sc_fast_set(was);
	if (r2 != r || strcmp(sc_err_detail(), detail) != 0)
		fail_msg("with the cache, shortcuts off: %s \"%s\", without: %s \"%s\"",
		    sc_err_name(r2), sc_err_detail(), sc_err_name(r), detail);
	sc_sig_cache_stats(shared_cache, &hits2, &misses2);
	assert_int_equal(hits2, hits);
	assert_int_equal(misses2, misses);
	return r;
}

static void world_make(struct world *w, enum sc_alg alg)
{
	const struct sc_test_world_opts o = { .alg = alg,
		.signer_alg = SC_ALG_P256,
		.mfr = "Acme",
		.network_id = "net-1",
		.device_id = "DEV-A",
		.days = DAYS };

	memset(w, 0, sizeof(*w));
	assert_int_equal(sc_test_world_make(&o, &w->tw), SC_OK);
	w->alg = alg;
	w->root_key = w->tw.mfr_root_key;
	w->ca_key = w->tw.mfr_ca_key;
	w->csk = w->tw.csk;
	w->net_key = w->tw.net_root_key;
	w->signer_key = w->tw.signer_key;
	w->root = w->tw.mfr_root;
	w->ca = w->tw.mfr_ca;
	w->dev_ca = w->tw.device_ca;
	w->net_root = w->tw.net_root;
	w->signer = w->tw.signer;
	w->chain = sc_test_world_chain(&w->tw);
	assert_non_null(w->chain);
}

static void world_free(struct world *w)
{
	sk_X509_free(w->chain);
	sc_test_world_free(&w->tw);
}

static int path_verify(X509 *leaf, struct world *w)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err;

	assert_true(X509_STORE_add_cert(store, w->root));
	assert_true(X509_STORE_CTX_init(ctx, store, leaf, w->chain));
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return err;
}

/* Hand-made DER SelfCertIssuance (short network ID, counter < 128). */
static size_t make_issuance(uint8_t *b, const uint8_t *id, const uint8_t *dg, const char *net,
    int origin, int counter)
{
	size_t n = 0, nl = strlen(net);
	b[n++] = 0x30;
	b[n++] = (uint8_t)(18 + 34 + 2 + nl + 3 + 3);
	b[n++] = 0x04;
	b[n++] = 16;
	memcpy(b + n, id, 16);
	n += 16;
	b[n++] = 0x04;
	b[n++] = 32;
	memcpy(b + n, dg, 32);
	n += 32;
	b[n++] = 0x0c;
	b[n++] = (uint8_t)nl;
	memcpy(b + n, net, nl);
	n += nl;
	b[n++] = 0x0a;
	b[n++] = 0x01;
	b[n++] = (uint8_t)origin;
	b[n++] = 0x02;
	b[n++] = 0x01;
	b[n++] = (uint8_t)counter;
	return n;
}

static void set_issuance(X509 *x, const uint8_t *der, size_t len, int crit)
{
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;
	int i;

	while ((i = X509_get_ext_by_NID(x, sc_nid_pe_issuance(), -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	assert_true(ASN1_OCTET_STRING_set(v, der, (int)len));
	e = X509_EXTENSION_create_by_NID(NULL, sc_nid_pe_issuance(), crit, v);
	assert_non_null(e);
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(v);
}

/*
 * A leaf made with plain OpenSSL, outside any SP: subject "sn/o/cn" (NULL parts left out, in the
 * order given by `o_first`), signed by the CSK, CA:FALSE, SKI/AKI, an issuance extension for net-1.
 */
static X509 *rogue_leaf(struct world *w, const char *sn, const char *o, const char *cn, int o_first)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	EVP_PKEY *k = keygen(SC_ALG_P256);
	X509V3_CTX v3;
	X509_EXTENSION *e;
	uint8_t id[16] = { 1 }, dg[32] = { 2 }, der[128];
	size_t n;
	unsigned char serial[16] = { 0x42, 1, 2, 3 };

	if (o_first && o != NULL)
		assert_true(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
		    (const unsigned char *)o, -1, -1, 0));
	if (sn != NULL)
		assert_true(X509_NAME_add_entry_by_NID(name, NID_serialNumber,
		    V_ASN1_PRINTABLESTRING, (const unsigned char *)sn, -1, -1, 0));
	if (!o_first && o != NULL)
		assert_true(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
		    (const unsigned char *)o, -1, -1, 0));
	if (cn != NULL)
		assert_true(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
		    (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_STRING_set(X509_get_serialNumber(x), serial, sizeof(serial)));
	assert_true(X509_set_subject_name(x, name));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(w->dev_ca)));
	assert_true(X509_set_pubkey(x, k));
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, NULL));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), 1, 0, NULL));
	X509V3_set_ctx(&v3, w->dev_ca, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:FALSE");
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,digitalSignature");
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	n = make_issuance(der, id, dg, "net-1", 0, 1);
	set_issuance(x, der, n, 0);
	assert_true(X509_sign(x, w->csk, sc_sign_md(w->csk, SC_DIGEST_SHA256)) > 0);
	X509_NAME_free(name);
	EVP_PKEY_free(k);
	return x;
}

/* THE name-constraints test: a device CA can only ever speak for its own device. */
static void test_name_constraints(void **state)
{
	size_t i;
	(void)state;

	assert_int_equal(sc_oids_init(), SC_OK);
	for (i = 0; i < N_ALGS; i++) {
		struct world w;
		struct sc_verify_opts opts;
		struct sc_verify_result res;
		X509 *x;

		world_make(&w, algs[i]);
		memset(&opts, 0, sizeof(opts));
		opts.mfr_root = w.root;
		opts.chain = w.chain;

		/* another device's serialNumber: refused by stock path validation */
		x = rogue_leaf(&w, "DEV-B", "net-1", "DEV-B", 0);
		assert_int_equal(path_verify(x, &w), X509_V_ERR_PERMITTED_VIOLATION);
		assert_int_equal(verify_both(x, &opts, &res), SC_ERR_CHAIN);
		assert_non_null(strstr(sc_err_detail(), "permitted subtree violation"));
		assert_non_null(strstr(sc_err_detail(), "depth 0"));
		X509_free(x);

		/* its own serialNumber: passes path validation and the binding */
		x = rogue_leaf(&w, "DEV-A", "net-1", "DEV-A", 0);
		assert_int_equal(path_verify(x, &w), X509_V_OK);
		assert_int_equal(verify_both(x, &opts, &res), SC_OK);
		assert_string_equal(res.device_id, "DEV-A");
		assert_string_equal(res.network_id, "net-1");
		assert_int_equal(res.profile_checked, 0);
		X509_free(x);

		/* the constraint is a whole-RDN prefix: DEV-AB is not DEV-A */
		x = rogue_leaf(&w, "DEV-AB", "net-1", "DEV-A", 0);
		assert_int_equal(path_verify(x, &w), X509_V_ERR_PERMITTED_VIOLATION);
		assert_int_equal(verify_both(x, &opts, &res), SC_ERR_CHAIN);
		X509_free(x);

		/* serialNumber not first */
		x = rogue_leaf(&w, "DEV-A", "net-1", "DEV-A", 1);
		assert_int_equal(path_verify(x, &w), X509_V_ERR_PERMITTED_VIOLATION);
		assert_int_equal(verify_both(x, &opts, &res), SC_ERR_CHAIN);
		X509_free(x);

		/* no serialNumber at all */
		x = rogue_leaf(&w, NULL, "net-1", "DEV-A", 0);
		assert_int_equal(path_verify(x, &w), X509_V_ERR_PERMITTED_VIOLATION);
		assert_int_equal(verify_both(x, &opts, &res), SC_ERR_CHAIN);
		X509_free(x);

		/*
		 * OpenSSL compares directoryName constraints on the canonical (case-folded) form, so
		 * "dev-a" passes path validation; sc_verify_chain's exact device-ID check refuses it.
		 */
		x = rogue_leaf(&w, "dev-a", "net-1", "dev-a", 0);
		assert_int_equal(path_verify(x, &w), X509_V_OK);
		assert_int_equal(verify_both(x, &opts, &res), SC_ERR_BINDING);
		assert_non_null(strstr(sc_err_detail(), "serialNumber"));
		X509_free(x);

		world_free(&w);
	}
}

static struct sc_profile *make_profile(struct world *w, struct sc_profile_params *pp)
{
	struct sc_profile *p = NULL;
	assert_int_equal(sc_profile_create(pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, w->signer_key, w->signer, NULL, 0), SC_OK);
	return p;
}

static const char *const test_eku[] = { "clientAuth", NULL };
static const char *const test_san[] = { "dns:dev-a.example", NULL };

static void default_params(struct sc_profile_params *pp, time_t now)
{
	memset(pp, 0, sizeof(*pp));
	pp->network_id = "net-1";
	pp->device_id = "DEV-A";
	pp->user_id = "alice";
	pp->profile_not_after = now + 3600;
	pp->not_before = now - 60;
	pp->not_after = now + 86400;
	pp->generate_alg = SC_ALG_P256;
	pp->cert_digest = SC_DIGEST_SHA384;
	pp->key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT;
	pp->eku = test_eku;
	pp->san = test_san;
}

static void test_verify_good(void **state)
{
	size_t i;
	time_t now = time(NULL);
	(void)state;

	for (i = 0; i < N_ALGS; i++) {
		struct world w;
		struct sc_profile_params pp;
		struct sc_profile *prof;
		struct sc_profile_info info;
		struct sc_verify_opts opts;
		struct sc_verify_result res;
		EVP_PKEY *lk = keygen(SC_ALG_P256);
		X509 *leaf = NULL;
		STACK_OF(X509) *with_root;
		static const char *const nets_ok[] = { "net-0", "net-1", NULL };
		static const char *const nets_no[] = { "net-2", NULL };

		world_make(&w, algs[i]);
		default_params(&pp, now);
		prof = make_profile(&w, &pp);
		sc_profile_get_info(prof, &info);
		assert_int_equal(sc_cert_issue_leaf(prof, lk, w.dev_ca, w.csk, 9, &leaf), SC_OK);

		memset(&opts, 0, sizeof(opts));
		opts.mfr_root = w.root;
		opts.chain = w.chain;
		opts.profile = prof;
		opts.net_root = w.net_root;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);
		assert_string_equal(res.device_id, "DEV-A");
		assert_string_equal(res.network_id, "net-1");
		assert_int_equal(res.profile_checked, 1);
		assert_int_equal(res.issuance.counter, 9);
		assert_memory_equal(res.issuance.profile_id, info.id, SC_PROFILE_ID_LEN);
		assert_int_equal(verify_both(leaf, &opts, NULL), SC_OK);

		/* without the profile */
		opts.profile = NULL;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);
		assert_int_equal(res.profile_checked, 0);

		/* allowed networks */
		opts.allowed_networks = nets_ok;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);
		opts.allowed_networks = nets_no;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_NETWORK);
		opts.allowed_networks = NULL;

		/* the chain may carry the root too */
		with_root = sk_X509_dup(w.chain);
		assert_true(sk_X509_push(with_root, w.root));
		opts.chain = with_root;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);
		sk_X509_free(with_root);
		opts.chain = w.chain;

		/* at a given time: inside, after notAfter, before notBefore */
		opts.profile = prof;
		opts.at = now + 3000;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);
		opts.at = now + 86400 + 10;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_CHAIN);
		assert_non_null(strstr(sc_err_detail(), "expired"));
		opts.at = now - 3600;
		assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_CHAIN);
		opts.at = 0;

		X509_free(leaf);
		EVP_PKEY_free(lk);
		sc_profile_free(prof);
		world_free(&w);
	}
}

static void test_verify_chain_failures(void **state)
{
	struct world w, other;
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	STACK_OF(X509) *only_ca;
	X509 *leaf;
	(void)state;

	assert_int_equal(sc_oids_init(), SC_OK);
	world_make(&w, SC_ALG_P256);
	world_make(&other, SC_ALG_P256);
	leaf = rogue_leaf(&w, "DEV-A", "net-1", "DEV-A", 0);
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = w.root;
	opts.chain = w.chain;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);

	/* another manufacturer's root */
	opts.mfr_root = other.root;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_CHAIN);
	/* another manufacturer's chain */
	opts.mfr_root = w.root;
	opts.chain = other.chain;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_CHAIN);
	/* the device CA missing */
	only_ca = sk_X509_new_null();
	assert_true(sk_X509_push(only_ca, w.ca));
	opts.chain = only_ca;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_CHAIN);
	opts.chain = NULL;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_CHAIN);
	sk_X509_free(only_ca);
	/* a device CA presented as the leaf is no device CA's leaf */
	opts.chain = w.chain;
	assert_int_equal(verify_both(w.dev_ca, &opts, &res), SC_ERR_BINDING);
	/* usage */
	opts.mfr_root = NULL;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_ERR_USAGE);
	assert_int_equal(verify_both(leaf, NULL, &res), SC_ERR_USAGE);
	assert_int_equal(verify_both(NULL, &opts, &res), SC_ERR_USAGE);

	X509_free(leaf);
	world_free(&w);
	world_free(&other);
}

/* ---- binding mismatches: the real leaf, changed in one field and re-signed with the CSK ---- */

struct mut {
	const char *name;
	X509 *leaf; /* the mutated copy */
};

static X509 *copy_of(X509 *leaf)
{
	X509 *x = X509_dup(leaf);
	assert_non_null(x);
	return x;
}

/* Re-sign and re-parse, so that the result carries no cached state from before the change. */
static X509 *finish(X509 *x, EVP_PKEY *csk, enum sc_digest d)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y;
	int n;

	assert_true(X509_sign(x, csk, sc_sign_md(csk, d)) > 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	p = der;
	y = d2i_X509(NULL, &p, n);
	assert_non_null(y);
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

static void replace_ext(X509 *x, int nid, void *value, int crit)
{
	int i;
	while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	if (value != NULL)
		assert_int_equal(X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_DEFAULT), 1);
}

static void set_cn(X509 *x, const char *cn)
{
	X509_NAME *n = X509_NAME_dup(X509_get_subject_name(x));
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, i));
	assert_true(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0));
	assert_true(X509_set_subject_name(x, n));
	X509_NAME_free(n);
}

static void expect(X509 *leaf, struct sc_verify_opts *opts, sc_err want, const char *field)
{
	struct sc_verify_result res;
	struct sc_verify_opts trusted;
	sc_err r = verify_both(leaf, opts, &res);
	if (r != want || (field != NULL && strstr(sc_err_detail(), field) == NULL))
		fail_msg("want %s (%s), got %s: %s", sc_err_name(want), field ? field : "",
		    sc_err_name(r), sc_err_detail());
	/*
	 * profile_trusted skips only the profile's signature and signer chain: every other outcome,
	 * each binding refusal with its field, must be the same with it.
	 */
	if (opts->profile == NULL || opts->profile_trusted || want == SC_ERR_UNTRUSTED_SIGNER ||
	    want == SC_ERR_SIGNER_EKU || want == SC_ERR_PROFILE_SIGNATURE || want == SC_ERR_USAGE)
		return;
	trusted = *opts;
	trusted.profile_trusted = 1;
	r = verify_both(leaf, &trusted, &res);
	if (r != want || (field != NULL && strstr(sc_err_detail(), field) == NULL))
		fail_msg("profile_trusted: want %s (%s), got %s: %s", sc_err_name(want),
		    field ? field : "", sc_err_name(r), sc_err_detail());
	if (r == SC_OK)
		assert_int_equal(res.profile_checked, 1);
}

static void test_verify_binding(void **state)
{
	size_t i;
	time_t now = time(NULL);
	(void)state;

	for (i = 0; i < N_ALGS; i++) {
		struct world w;
		struct sc_profile_params pp;
		struct sc_profile *prof, *prof_b, *prof_net2;
		struct sc_profile_info info, info_b, info_n2;
		struct sc_verify_opts opts;
		EVP_PKEY *lk = keygen(SC_ALG_P256), *p384 = keygen(SC_ALG_P384);
		X509 *leaf = NULL, *x;
		ASN1_BIT_STRING *ku;
		GENERAL_NAMES *gn;
		GENERAL_NAME *g;
		ASN1_IA5STRING *ia5;
		EXTENDED_KEY_USAGE *eku;
		BASIC_CONSTRAINTS *bc;
		uint8_t der[160], bad[16];
		size_t n;

		world_make(&w, algs[i]);
		default_params(&pp, now);
		prof = make_profile(&w, &pp);
		sc_profile_get_info(prof, &info);
		pp.device_id = "DEV-B";
		prof_b = make_profile(&w, &pp);
		sc_profile_get_info(prof_b, &info_b);
		pp.device_id = "DEV-A";
		pp.network_id = "net-2";
		prof_net2 = make_profile(&w, &pp);
		sc_profile_get_info(prof_net2, &info_n2);
		assert_int_equal(sc_cert_issue_leaf(prof, lk, w.dev_ca, w.csk, 3, &leaf), SC_OK);

		memset(&opts, 0, sizeof(opts));
		opts.mfr_root = w.root;
		opts.chain = w.chain;
		opts.profile = prof;
		opts.net_root = w.net_root;
		expect(leaf, &opts, SC_OK, NULL);
		/* re-signing alone changes nothing the checks look at */
		x = finish(copy_of(leaf), w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_OK, NULL);
		X509_free(x);

		/* validity, one second off either way */
		x = copy_of(leaf);
		assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), info.not_after + 1));
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "validity.notAfter");
		X509_free(x);
		x = copy_of(leaf);
		assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), info.not_before - 1));
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "validity.notBefore");
		X509_free(x);

		/* a key of another algorithm than the profile asked the device to generate */
		x = copy_of(leaf);
		assert_true(X509_set_pubkey(x, p384));
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "publicKey");
		X509_free(x);

		/* keyUsage: digitalSignature only */
		x = copy_of(leaf);
		ku = ASN1_BIT_STRING_new();
		assert_true(ASN1_BIT_STRING_set_bit(ku, 0, 1));
		replace_ext(x, NID_key_usage, ku, 1);
		ASN1_BIT_STRING_free(ku);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "keyUsage");
		X509_free(x);

		/* EKU dropped; EKU with one more purpose */
		x = copy_of(leaf);
		replace_ext(x, NID_ext_key_usage, NULL, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "extKeyUsage");
		X509_free(x);
		x = copy_of(leaf);
		eku = sk_ASN1_OBJECT_new_null();
		assert_true(sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)));
		assert_true(sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)));
		replace_ext(x, NID_ext_key_usage, eku, 0);
		sk_ASN1_OBJECT_free(eku);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "extKeyUsage");
		X509_free(x);

		/* SAN naming another host */
		x = copy_of(leaf);
		gn = GENERAL_NAMES_new();
		ia5 = ASN1_IA5STRING_new();
		assert_true(ASN1_STRING_set(ia5, "evil.example", -1));
		g = GENERAL_NAME_new();
		GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
		assert_true(sk_GENERAL_NAME_push(gn, g));
		replace_ext(x, NID_subject_alt_name, gn, 0);
		GENERAL_NAMES_free(gn);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "subjectAltName");
		X509_free(x);

		/* CN */
		x = copy_of(leaf);
		set_cn(x, "mallory");
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "CN");
		X509_free(x);

		/* the issuance extension naming another profile (ID, digest), origin */
		memset(bad, 0x5a, sizeof(bad));
		x = copy_of(leaf);
		n = make_issuance(der, bad, info.digest, "net-1", 0, 3);
		set_issuance(x, der, n, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "profileId");
		X509_free(x);
		x = copy_of(leaf);
		n = make_issuance(der, info.id, info_b.digest, "net-1", 0, 3);
		set_issuance(x, der, n, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "profileDigest");
		X509_free(x);
		x = copy_of(leaf);
		n = make_issuance(der, info.id, info.digest, "net-1", 1, 3);
		set_issuance(x, der, n, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "keyOrigin");
		X509_free(x);

		/* a profile for another device, that the extension names */
		x = copy_of(leaf);
		n = make_issuance(der, info_b.id, info_b.digest, "net-1", 0, 3);
		set_issuance(x, der, n, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		opts.profile = prof_b;
		expect(x, &opts, SC_ERR_BINDING, "deviceId");
		opts.profile = prof;
		X509_free(x);

		/* a profile for another network, that the extension names */
		x = copy_of(leaf);
		n = make_issuance(der, info_n2.id, info_n2.digest, "net-1", 0, 3);
		set_issuance(x, der, n, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		opts.profile = prof_net2;
		expect(x, &opts, SC_ERR_BINDING, "networkId");
		opts.profile = prof;
		X509_free(x);

		/* extension network differs from the subject's O (no profile needed) */
		x = copy_of(leaf);
		n = make_issuance(der, info.id, info.digest, "net-2", 0, 3);
		set_issuance(x, der, n, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		opts.profile = NULL;
		expect(x, &opts, SC_ERR_BINDING, "O");
		opts.profile = prof;
		X509_free(x);

		/* extension absent, critical, malformed */
		x = copy_of(leaf);
		X509_EXTENSION_free(
		    X509_delete_ext(x, X509_get_ext_by_NID(x, sc_nid_pe_issuance(), -1)));
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "id-sc-pe-issuance");
		X509_free(x);
		x = copy_of(leaf);
		n = make_issuance(der, info.id, info.digest, "net-1", 0, 3);
		set_issuance(x, der, n, 1);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		/* a critical unknown extension already stops OpenSSL's path validation */
		expect(x, &opts, SC_ERR_CHAIN, "critical");
		X509_free(x);
		x = copy_of(leaf);
		set_issuance(x, der, n - 1, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_MALFORMED, NULL);
		X509_free(x);

		/* the leaf claims to be a CA */
		x = copy_of(leaf);
		bc = BASIC_CONSTRAINTS_new();
		bc->ca = 0xff;
		replace_ext(x, NID_basic_constraints, bc, 1);
		BASIC_CONSTRAINTS_free(bc);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "CA");
		X509_free(x);

		/* signed with another digest than the profile's certDigest */
		if (algs[i] != SC_ALG_ED25519) {
			x = finish(copy_of(leaf), w.csk, SC_DIGEST_SHA256);
			expect(x, &opts, SC_ERR_BINDING, "certDigest");
			X509_free(x);
		}

		X509_free(leaf);
		EVP_PKEY_free(lk);
		EVP_PKEY_free(p384);
		sc_profile_free(prof);
		sc_profile_free(prof_b);
		sc_profile_free(prof_net2);
		world_free(&w);
	}
}

/* The world's profile signer but without id-sc-kp-profileSigning, for key. */
/* ---- exactness: nothing the profile does not dictate, each field and extension kind ---- */

/* The extension at idx made critical (or not), in place. */
static void set_ext_crit(X509 *x, int nid, int crit)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	assert_true(i >= 0);
	assert_true(X509_EXTENSION_set_critical(X509_get_ext(x, i), crit));
}

/* The subject (or issuer) rebuilt as the given attributes, each a UTF8String unless printable. */
static X509_NAME *name_of(const char *const *attrs, int printable_cn)
{
	X509_NAME *n = X509_NAME_new();
	size_t i;
	assert_non_null(n);
	for (i = 0; attrs[i] != NULL; i += 2) {
		int type = strcmp(attrs[i], "serialNumber") == 0 ||
		        (printable_cn && strcmp(attrs[i], "CN") == 0)
		    ? V_ASN1_PRINTABLESTRING
		    : V_ASN1_UTF8STRING;
		assert_true(X509_NAME_add_entry_by_txt(n, attrs[i], type,
		    (const unsigned char *)attrs[i + 1], -1, -1, 0));
	}
	return n;
}

static void test_verify_exact(void **state)
{
	size_t i;
	time_t now = time(NULL);
	(void)state;

	for (i = 0; i < N_ALGS; i++) {
		struct world w;
		struct sc_profile_params pp;
		struct sc_profile *prof;
		struct sc_verify_opts opts;
		EVP_PKEY *lk = keygen(SC_ALG_P256);
		X509 *leaf = NULL, *x;
		X509_NAME *n;
		X509_EXTENSION *e;
		CERTIFICATEPOLICIES *cp;
		POLICYINFO *pi;
		ASN1_TIME *t;
		static const char *const ou[] = { "serialNumber", "DEV-A", "O", "net-1", "CN",
			"alice", "OU", "operators", NULL };
		static const char *const swapped[] = { "serialNumber", "DEV-A", "CN", "alice", "O",
			"net-1", NULL };
		static const char *const ca_printable[] = { "serialNumber", "DEV-A", "O", "Acme",
			"CN", "DEV-A Device CA", NULL };

		world_make(&w, algs[i]);
		default_params(&pp, now);
		prof = make_profile(&w, &pp);
		assert_int_equal(sc_cert_issue_leaf(prof, lk, w.dev_ca, w.csk, 3, &leaf), SC_OK);
		memset(&opts, 0, sizeof(opts));
		opts.mfr_root = w.root;
		opts.chain = w.chain;
		opts.profile = prof;
		opts.net_root = w.net_root;
		expect(leaf, &opts, SC_OK, NULL);

		/* issue 16: a subject attribute more (OU=operators) */
		x = copy_of(leaf);
		n = name_of(ou, 0);
		assert_true(X509_set_subject_name(x, n));
		X509_NAME_free(n);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING,
		    "subject: certificate says \"/serialNumber=DEV-A/O=net-1/CN=alice/OU=operators\", "
		    "profile \"/serialNumber=DEV-A/O=net-1/CN=alice\"");
		X509_free(x);

		/* the same attributes in another order */
		x = copy_of(leaf);
		n = name_of(swapped, 0);
		assert_true(X509_set_subject_name(x, n));
		X509_NAME_free(n);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING,
		    "subject: certificate says \"/serialNumber=DEV-A/CN=alice/O=net-1\", "
		    "profile \"/serialNumber=DEV-A/O=net-1/CN=alice\"");
		X509_free(x);

		/* the same CN text as a PrintableString */
		x = copy_of(leaf);
		n = name_of(ou, 1);
		X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, 3));
		assert_true(X509_set_subject_name(x, n));
		X509_NAME_free(n);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING,
		    "subject: certificate says \"/serialNumber=DEV-A/O=net-1/CN=alice\", "
		    "profile \"/serialNumber=DEV-A/O=net-1/CN=alice\"");
		X509_free(x);

		/* issue 16: an extension more (certificatePolicies, anyPolicy) */
		x = copy_of(leaf);
		cp = CERTIFICATEPOLICIES_new();
		pi = POLICYINFO_new();
		ASN1_OBJECT_free(pi->policyid);
		pi->policyid = OBJ_nid2obj(NID_any_policy);
		assert_true(sk_POLICYINFO_push(cp, pi));
		assert_int_equal(X509_add1_ext_i2d(x, NID_certificate_policies, cp, 0,
		                     X509V3_ADD_DEFAULT),
		    1);
		CERTIFICATEPOLICIES_free(cp);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING,
		    "extensions: certificatePolicies not in the profile");
		X509_free(x);

		/* an extension less (subjectKeyIdentifier) */
		x = copy_of(leaf);
		X509_EXTENSION_free(
		    X509_delete_ext(x, X509_get_ext_by_NID(x, NID_subject_key_identifier, -1)));
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "extensions: subjectKeyIdentifier missing");
		X509_free(x);

		/* the same extensions in another order: SKI moved last */
		x = copy_of(leaf);
		e = X509_delete_ext(x, X509_get_ext_by_NID(x, NID_subject_key_identifier, -1));
		assert_true(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING,
		    "extensions: authorityKeyIdentifier out of the profile's order");
		X509_free(x);

		/* criticality: keyUsage not critical, extKeyUsage and subjectAltName critical */
		x = copy_of(leaf);
		set_ext_crit(x, NID_key_usage, 0);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "extensions: keyUsage criticality differs");
		X509_free(x);
		x = copy_of(leaf);
		set_ext_crit(x, NID_ext_key_usage, 1);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING,
		    "extensions: extendedKeyUsage criticality differs");
		X509_free(x);
		x = copy_of(leaf);
		set_ext_crit(x, NID_subject_alt_name, 1);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "extensions: subjectAltName criticality differs");
		X509_free(x);

		/* the issuer's name with the same text, PrintableString: chains, is not the CA's */
		x = copy_of(leaf);
		n = name_of(ca_printable, 1);
		assert_true(X509_set_issuer_name(x, n));
		X509_NAME_free(n);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "issuer: not the device CA's subject");
		X509_free(x);

		/* the same notAfter as a GeneralizedTime */
		x = copy_of(leaf);
		t = ASN1_GENERALIZEDTIME_set(NULL, pp.not_after);
		assert_non_null(t);
		assert_true(X509_set1_notAfter(x, t));
		ASN1_TIME_free(t);
		x = finish(x, w.csk, SC_DIGEST_SHA384);
		expect(x, &opts, SC_ERR_BINDING, "validity: not the profile's");
		X509_free(x);

		/* the profile's digest, another algorithm: RSA-PSS for an RSA CSK */
		if (algs[i] == SC_ALG_RSA2048) {
			EVP_MD_CTX *mctx = EVP_MD_CTX_new();
			EVP_PKEY_CTX *pctx = NULL;
			unsigned char *der = NULL;
			const unsigned char *p;
			int len;
			x = copy_of(leaf);
			assert_int_equal(EVP_DigestSignInit(mctx, &pctx, EVP_sha384(), NULL, w.csk),
			    1);
			assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
			assert_true(X509_sign_ctx(x, mctx) > 0);
			EVP_MD_CTX_free(mctx);
			len = i2d_X509(x, &der);
			X509_free(x);
			p = der;
			x = d2i_X509(NULL, &p, len);
			OPENSSL_free(der);
			assert_non_null(x);
			expect(x, &opts, SC_ERR_BINDING, "signature: not the profile's algorithm");
			X509_free(x);
		}

		X509_free(leaf);
		EVP_PKEY_free(lk);
		sc_profile_free(prof);
		world_free(&w);
	}
}

static X509 *signer_without_eku(struct world *w, EVP_PKEY *key)
{
	const struct sc_test_cert spec = { .o = "net-1",
		.cn = "net-1 Profile Signer",
		.pub = key,
		.issuer = w->net_root,
		.issuer_key = w->net_key,
		.days = DAYS,
		.bc = "critical,CA:FALSE",
		.ku = "critical,digitalSignature" };
	X509 *x = NULL;

	assert_int_equal(sc_test_cert_make(&spec, &x), SC_OK);
	return x;
}

/* The server-generated embodiment: the exact supplied key, not just its algorithm. */
static void test_verify_supplied(void **state)
{
	struct world w;
	struct sc_profile_params pp;
	struct sc_profile *prof;
	struct sc_verify_opts opts;
	time_t now = time(NULL);
	EVP_PKEY *kek = keygen(SC_ALG_P256), *supplied = keygen(SC_ALG_P256),
	         *other = keygen(SC_ALG_P256);
	X509 *kek_cert = NULL, *leaf = NULL, *x;
	(void)state;

	world_make(&w, SC_ALG_P256);
	assert_int_equal(sc_test_world_kek(&w.tw, kek, "DEV-A", &kek_cert), SC_OK);
	default_params(&pp, now);
	pp.supplied_key = supplied;
	pp.kek_cert = kek_cert;
	prof = make_profile(&w, &pp);
	assert_int_equal(sc_cert_issue_leaf(prof, supplied, w.dev_ca, w.csk, 1, &leaf), SC_OK);
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = w.root;
	opts.chain = w.chain;
	opts.profile = prof;
	opts.net_root = w.net_root;
	expect(leaf, &opts, SC_OK, NULL);
	x = copy_of(leaf);
	assert_true(X509_set_pubkey(x, other));
	x = finish(x, w.csk, SC_DIGEST_SHA384);
	expect(x, &opts, SC_ERR_BINDING, "publicKey");
	X509_free(x);
	X509_free(leaf);
	X509_free(kek_cert);
	EVP_PKEY_free(kek);
	EVP_PKEY_free(supplied);
	EVP_PKEY_free(other);
	sc_profile_free(prof);
	world_free(&w);
}

/* The profile's own signature: wrong anchor, signer without the EKU, no net root given. */
static void test_verify_profile_signer(void **state)
{
	struct world w;
	struct sc_profile_params pp;
	struct sc_profile *prof, *prof_noeku;
	struct sc_verify_opts opts;
	time_t now = time(NULL);
	EVP_PKEY *lk = keygen(SC_ALG_P256), *other_root_key = keygen(SC_ALG_P256);
	EVP_PKEY *noeku_key = keygen(SC_ALG_P256);
	X509 *leaf = NULL, *leaf2 = NULL, *other_root = NULL, *noeku = NULL;
	(void)state;

	world_make(&w, SC_ALG_ED25519);
	default_params(&pp, now);
	prof = make_profile(&w, &pp);
	assert_int_equal(sc_cert_issue_leaf(prof, lk, w.dev_ca, w.csk, 1, &leaf), SC_OK);
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = w.root;
	opts.chain = w.chain;
	opts.profile = prof;

	opts.net_root = NULL;
	expect(leaf, &opts, SC_ERR_USAGE, NULL);
	{
		/* Another root that also says net-1. */
		const struct sc_test_cert r = { .o = "net-1",
			.cn = "net-1 Network Root",
			.pub = other_root_key,
			.days = DAYS,
			.bc = "critical,CA:TRUE",
			.ku = "critical,keyCertSign,cRLSign" };
		assert_int_equal(sc_test_cert_make(&r, &other_root), SC_OK);
	}
	opts.net_root = other_root;
	expect(leaf, &opts, SC_ERR_UNTRUSTED_SIGNER, NULL);
	opts.net_root = w.net_root;
	expect(leaf, &opts, SC_OK, NULL);

	/* a non-CA certificate of the network root without id-sc-kp-profileSigning */
	noeku = signer_without_eku(&w, noeku_key);
	assert_int_equal(sc_profile_create(&pp, &prof_noeku), SC_OK);
	assert_int_equal(sc_profile_sign(prof_noeku, noeku_key, noeku, NULL, 0), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(prof_noeku, lk, w.dev_ca, w.csk, 2, &leaf2), SC_OK);
	opts.profile = prof_noeku;
	expect(leaf2, &opts, SC_ERR_SIGNER_EKU, NULL);

	X509_free(leaf);
	X509_free(leaf2);
	X509_free(other_root);
	X509_free(noeku);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(other_root_key);
	EVP_PKEY_free(noeku_key);
	sc_profile_free(prof);
	sc_profile_free(prof_noeku);
	world_free(&w);
}

/*
 * profile_trusted: the caller vouches for the profile's signature (selfcert-provd, its own
 * stored profile). No net_root needed, the signer is not looked at; the digest binding, the
 * other fields and the whole certificate path still are.
 */
static void test_verify_profile_trusted(void **state)
{
	struct world w;
	struct sc_profile_params pp;
	struct sc_profile *prof, *prof_other, *prof_noeku;
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	time_t now = time(NULL);
	EVP_PKEY *lk = keygen(SC_ALG_P256), *noeku_key = keygen(SC_ALG_P256);
	X509 *leaf = NULL, *leaf2 = NULL, *noeku = NULL, *x;
	(void)state;

	world_make(&w, SC_ALG_P256);
	default_params(&pp, now);
	prof = make_profile(&w, &pp);
	assert_int_equal(sc_cert_issue_leaf(prof, lk, w.dev_ca, w.csk, 1, &leaf), SC_OK);
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = w.root;
	opts.chain = w.chain;
	opts.profile = prof;
	opts.profile_trusted = 1;

	/* no network anchor needed */
	opts.net_root = NULL;
	assert_int_equal(verify_both(leaf, &opts, &res), SC_OK);
	assert_int_equal(res.profile_checked, 1);
	assert_string_equal(res.device_id, "DEV-A");

	/* the signer is the caller's word: a signer without id-sc-kp-profileSigning passes only
	 * when trusted */
	noeku = signer_without_eku(&w, noeku_key);
	assert_int_equal(sc_profile_create(&pp, &prof_noeku), SC_OK);
	assert_int_equal(sc_profile_sign(prof_noeku, noeku_key, noeku, NULL, 0), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(prof_noeku, lk, w.dev_ca, w.csk, 2, &leaf2), SC_OK);
	opts.profile = prof_noeku;
	expect(leaf2, &opts, SC_OK, NULL);
	opts.profile_trusted = 0;
	opts.net_root = w.net_root;
	expect(leaf2, &opts, SC_ERR_SIGNER_EKU, NULL);
	opts.profile_trusted = 1;
	opts.net_root = NULL;

	/* another profile (same fields but one second of validity): the digest no longer matches */
	pp.not_after = now + 86401;
	prof_other = make_profile(&w, &pp);
	opts.profile = prof_other;
	expect(leaf, &opts, SC_ERR_BINDING, "profileDigest");
	opts.profile = prof;

	/* a binding field the digest does not cover: the leaf's own validity, re-signed */
	x = copy_of(leaf);
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), now + 86400 - 1));
	x = finish(x, w.csk, SC_DIGEST_SHA384);
	expect(x, &opts, SC_ERR_BINDING, "validity.notAfter");
	X509_free(x);

	/* the path is checked as ever: outside the leaf's window, refused */
	opts.at = now + 86400 + 10;
	expect(leaf, &opts, SC_ERR_CHAIN, "expired");
	opts.at = now - 3600;
	expect(leaf, &opts, SC_ERR_CHAIN, NULL);
	opts.at = 0;
	/* and to the right root only */
	opts.mfr_root = w.net_root;
	expect(leaf, &opts, SC_ERR_CHAIN, NULL);

	X509_free(leaf);
	X509_free(leaf2);
	X509_free(noeku);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(noeku_key);
	sc_profile_free(prof);
	sc_profile_free(prof_other);
	sc_profile_free(prof_noeku);
	world_free(&w);
}

/* The signature cache itself: limits, misses then hits, a changed byte, the bound. */
static void test_sig_cache(void **state)
{
	struct world w, w2;
	struct sc_verify_opts opts;
	struct sc_sig_cache *c = NULL;
	EVP_PKEY *lk = keygen(SC_ALG_P256);
	X509 *leaf, *leaf2, *bad;
	unsigned char *der = NULL;
	const unsigned char *p;
	uint64_t hits, misses, m0;
	int n, was = sc_fast_enabled();
	(void)state;

	sc_fast_set(1); /* the shortcut itself, whatever the build's SC_SHORTCUTS */
	assert_int_equal(sc_sig_cache_new(SIG_CACHE_MIN - 1, &c), SC_ERR_USAGE);
	assert_null(c);
	assert_int_equal(sc_sig_cache_new((size_t)SC_SIG_CACHE_MAX + 1, &c), SC_ERR_USAGE);
	assert_null(c);
	assert_int_equal(sc_sig_cache_attach(NULL, NULL), SC_OK); /* no cache: nothing to do */
	/* 4 entries: one set of 4 ways */
	assert_int_equal(sc_sig_cache_new(SIG_CACHE_MIN, &c), SC_OK);

	world_make(&w, SC_ALG_P256);
	world_make(&w2, SC_ALG_P256);
	leaf = rogue_leaf(&w, "DEV-A", "net-1", "DEV-A", 0);
	leaf2 = rogue_leaf(&w2, "DEV-A", "net-1", "DEV-A", 0);
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = w.root;
	opts.chain = w.chain;
	opts.sig_cache = c;

	/* three signatures below the root: leaf, device CA, manufacturer CA */
	assert_int_equal(sc_verify_chain(leaf, &opts, NULL), SC_OK);
	sc_sig_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 0);
	assert_int_equal(misses, 3);
	assert_int_equal(sc_verify_chain(leaf, &opts, NULL), SC_OK);
	sc_sig_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 3);
	assert_int_equal(misses, 3);

	/* the shortcuts off: attaching is a no-op, the cache is neither asked nor filled */
	{
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();

		assert_non_null(ctx);
		sc_fast_set(0);
		assert_int_equal(sc_sig_cache_attach(ctx, c), SC_OK);
		assert_int_equal(sc_verify_chain(leaf, &opts, NULL), SC_OK);
		assert_int_equal(sc_verify_chain(leaf2, &opts, NULL), SC_ERR_CHAIN);
		sc_fast_set(1);
		X509_STORE_CTX_free(ctx);
		sc_sig_cache_stats(c, &hits, &misses);
		assert_int_equal(hits, 3);
		assert_int_equal(misses, 3);
	}

	/* remembered signatures, yet the validity is checked at each time asked */
	opts.at = time(NULL) + (DAYS + 2) * 86400L;
	assert_int_equal(sc_verify_chain(leaf, &opts, NULL), SC_ERR_CHAIN);
	assert_non_null(strstr(sc_err_detail(), "expired"));
	opts.at = 0;

	/* one changed byte of the leaf's signature: a miss, refused, and not remembered */
	n = i2d_X509(leaf, &der);
	assert_true(n > 0);
	der[n - 1] ^= 0x01;
	p = der;
	bad = d2i_X509(NULL, &p, n);
	assert_non_null(bad);
	for (int k = 0; k < 2; k++) {
		sc_sig_cache_stats(c, &hits, &m0);
		assert_int_equal(sc_verify_chain(bad, &opts, NULL), SC_ERR_CHAIN);
		assert_non_null(strstr(sc_err_detail(), "signature failure"));
		sc_sig_cache_stats(c, &hits, &misses);
		assert_int_equal(misses, m0 + 1); /* the leaf's signature, asked again each time */
	}

	/* bounded: another world's three signatures push out some of the first's */
	opts.mfr_root = w2.root;
	opts.chain = w2.chain;
	assert_int_equal(sc_verify_chain(leaf2, &opts, NULL), SC_OK);
	opts.mfr_root = w.root;
	opts.chain = w.chain;
	sc_sig_cache_stats(c, &hits, &m0);
	assert_int_equal(sc_verify_chain(leaf, &opts, NULL), SC_OK);
	sc_sig_cache_stats(c, &hits, &misses);
	assert_true(misses >= m0 + 2);

	OPENSSL_free(der);
	X509_free(bad);
	X509_free(leaf);
	X509_free(leaf2);
	EVP_PKEY_free(lk);
	world_free(&w);
	world_free(&w2);
	sc_sig_cache_free(c);
	sc_fast_set(was);
}

/* x re-read by fast/x509.c (a legacy EC key, as selfcert-provd's certificates have); der kept. */
static X509 *fast_copy(X509 *x, unsigned char **der, int *len)
{
	X509 *out = NULL;

	*der = NULL;
	*len = i2d_X509(x, der);
	assert_true(*len > 0);
	assert_int_equal(sc_fast_cert_from_der(*der, (size_t)*len, &out), SC_OK);
	assert_non_null(out);
	return out;
}

/*
 * Issue 17 (first9): the cache's ECDSA shortcut (a legacy EC key verified without its export
 * to the provider) gives X509_verify's verdict, good or bad, with the same detail; a form it
 * does not take (outer and inner algorithms differing) is left to X509_verify. And
 * sc_sig_cache_vouch: a vouched signature is a hit, never verified (the caller's word), and
 * nothing with the shortcuts off.
 */
static void test_sig_cache_ecdsa_vouch(void **state)
{
	struct world w;
	struct sc_verify_opts opts;
	struct sc_sig_cache *c = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509 *leaf, *fleaf, *fca, *fmfr, *bad, *alg;
	unsigned char *dl = NULL, *dca = NULL, *dmfr = NULL, *dbad = NULL;
	int nl, nca, nmfr, was = sc_fast_enabled();
	unsigned char *d_unused[4] = { NULL, NULL, NULL, NULL };
	int n_unused[4];
	uint64_t hits, misses;
	char detail[256];
	(void)state;

	sc_fast_set(1);
	sc_fast_x509_set(1);
	world_make(&w, SC_ALG_P256);
	leaf = rogue_leaf(&w, "DEV-A", "net-1", "DEV-A", 0);
	fleaf = fast_copy(leaf, &dl, &nl);
	fca = fast_copy(sk_X509_value(w.chain, 0), &dca, &nca);
	fmfr = fast_copy(sk_X509_value(w.chain, 1), &dmfr, &nmfr);
	assert_true(
	    EVP_PKEY_get0_provider(X509_get0_pubkey(fca)) == NULL); /* legacy: the shortcut */
	assert_non_null(chain);
	assert_true(sk_X509_push(chain, fca) && sk_X509_push(chain, fmfr));
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = w.root;
	opts.chain = chain;

	/* good: the same verdict with the shortcut as without a cache */
	assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
	assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
	opts.sig_cache = c;
	assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
	sc_sig_cache_stats(c, &hits, &misses);
	assert_int_equal(misses, 3);

	/* the leaf's signature one bit off: refused, the same detail, not remembered */
	dbad = OPENSSL_memdup(dl, (size_t)nl);
	assert_non_null(dbad);
	dbad[nl - 1] ^= 0x01;
	assert_int_equal(sc_fast_cert_from_der(dbad, (size_t)nl, &bad), SC_OK);
	assert_non_null(bad);
	opts.sig_cache = NULL;
	assert_int_equal(sc_verify_chain(bad, &opts, NULL), SC_ERR_CHAIN);
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	assert_non_null(strstr(detail, "certificate signature failure (depth 0)"));
	opts.sig_cache = c;
	for (int k = 0; k < 2; k++) {
		assert_int_equal(sc_verify_chain(bad, &opts, NULL), SC_ERR_CHAIN);
		assert_string_equal(sc_err_detail(), detail);
	}

	/* the outer algorithm SHA-384, the TBS's SHA-256 (X509_verify refuses unequal ones): not
	 * the shortcut's form, X509_verify's verdict */
	{
		static const uint8_t sha256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
			0x04, 0x03, 0x02 };
		unsigned char *d = OPENSSL_memdup(dl, (size_t)nl), *at = NULL;

		assert_non_null(d);
		for (unsigned char *q = d; q + sizeof(sha256_oid) <= d + nl; q++)
			if (memcmp(q, sha256_oid, sizeof(sha256_oid)) == 0)
				at = q; /* the last: the outer signatureAlgorithm */
		assert_non_null(at);
		at[sizeof(sha256_oid) - 1] = 0x03;
		assert_int_equal(sc_fast_cert_from_der(d, (size_t)nl, &alg), SC_OK);
		assert_non_null(alg);
		opts.sig_cache = NULL;
		assert_int_equal(sc_verify_chain(alg, &opts, NULL), SC_ERR_CHAIN);
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		opts.sig_cache = c;
		assert_int_equal(sc_verify_chain(alg, &opts, NULL), SC_ERR_CHAIN);
		assert_string_equal(sc_err_detail(), detail);
		OPENSSL_free(d);
	}
	/* the signature's BIT STRING with an unused bit (X509_verify refuses it): not the
	 * shortcut's form either, X509_verify's verdict */
	{
		unsigned char *d = OPENSSL_memdup(dl, (size_t)nl);
		X509 *ub = NULL;
		int at = -1;

		assert_non_null(d);
		for (int i = nl - 3; i > 0 && at < 0; i--)
			if (d[i] == 0x03 && d[i + 1] == nl - i - 2 && d[i + 2] == 0x00)
				at = i;
		assert_true(at > 0);
		d[at + 2] = 0x01;
		assert_int_equal(sc_fast_cert_from_der(d, (size_t)nl, &ub), SC_OK);
		assert_non_null(ub);
		opts.sig_cache = NULL;
		assert_int_equal(sc_verify_chain(ub, &opts, NULL), SC_ERR_CHAIN);
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		opts.sig_cache = c;
		assert_int_equal(sc_verify_chain(ub, &opts, NULL), SC_ERR_CHAIN);
		assert_string_equal(sc_err_detail(), detail);
		X509_free(ub);
		OPENSSL_free(d);
	}
	/*
	 * The TBS's algorithm SHA-384, the outer one SHA-256, and the signature made over that TBS
	 * with SHA-256, so that the signature itself verifies (review, session 9): path validation
	 * refuses the mismatch (strict) before any signature is asked, with the cache as without
	 * it. (The shortcut's own check of the TBS's algorithm is defence in depth: with it
	 * removed this case still passes, because this refusal comes first.)
	 */
	{
		static const uint8_t sha256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
			0x04, 0x03, 0x02 };
		static const uint8_t outer_alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
			0x3d, 0x04, 0x03, 0x02 };
		unsigned char *d = OPENSSL_memdup(dl, (size_t)nl), *at = NULL, *sig = NULL, *out,
		              *o;
		const unsigned char *q = d, *tbs;
		long clen, tlen;
		int tag, cls;
		size_t siglen = 0, tbslen, content;
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		X509 *mix = NULL;

		assert_non_null(d);
		assert_non_null(m);
		for (unsigned char *r = d; r + sizeof(sha256_oid) <= d + nl; r++)
			if (memcmp(r, sha256_oid, sizeof(sha256_oid)) == 0) {
				at = r; /* the first: the TBS's signature field */
				break;
			}
		assert_non_null(at);
		at[sizeof(sha256_oid) - 1] = 0x03;
		assert_int_equal(ASN1_get_object(&q, &clen, &tag, &cls, nl) & 0x80, 0);
		tbs = q;
		assert_int_equal(ASN1_get_object(&q, &tlen, &tag, &cls, clen) & 0x80, 0);
		tbslen = (size_t)(q - tbs) + (size_t)tlen;
		assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, w.csk), 1);
		assert_int_equal(EVP_DigestSign(m, NULL, &siglen, tbs, tbslen), 1);
		sig = OPENSSL_malloc(siglen);
		assert_non_null(sig);
		assert_int_equal(EVP_DigestSign(m, sig, &siglen, tbs, tbslen), 1);
		content = tbslen + sizeof(outer_alg) + 3 + siglen;
		assert_true(content >= 256 && content < 65536 && siglen + 1 < 128);
		o = out = OPENSSL_malloc(content + 4);
		assert_non_null(out);
		*o++ = 0x30;
		*o++ = 0x82;
		*o++ = (unsigned char)(content >> 8);
		*o++ = (unsigned char)content;
		memcpy(o, tbs, tbslen);
		o += tbslen;
		memcpy(o, outer_alg, sizeof(outer_alg));
		o += sizeof(outer_alg);
		*o++ = 0x03;
		*o++ = (unsigned char)(siglen + 1);
		*o++ = 0x00;
		memcpy(o, sig, siglen);
		assert_int_equal(sc_fast_cert_from_der(out, content + 4, &mix), SC_OK);
		assert_non_null(mix);
		opts.sig_cache = NULL;
		assert_int_equal(sc_verify_chain(mix, &opts, NULL), SC_ERR_CHAIN);
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		assert_non_null(strstr(detail,
		    "cert info signature and signature algorithm mismatch (depth 0)"));
		opts.sig_cache = c;
		for (int k = 0; k < 2; k++) {
			assert_int_equal(sc_verify_chain(mix, &opts, NULL), SC_ERR_CHAIN);
			assert_string_equal(sc_err_detail(), detail);
		}
		X509_free(mix);
		OPENSSL_free(out);
		OPENSSL_free(sig);
		EVP_MD_CTX_free(m);
		OPENSSL_free(d);
	}
	sc_sig_cache_free(c);

	/* vouched: the device CA's and the manufacturer CA's signatures are hits, never computed */
	assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
	opts.sig_cache = c;
	sc_sig_cache_vouch(c, dca, (size_t)nca, fmfr);
	sc_sig_cache_vouch(c, dmfr, (size_t)nmfr, w.root);
	assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
	sc_sig_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 1); /* the leaf's own */
	/* the chain vouched for, the rest of path validation as without a cache: a leaf outside
	 * the device CA's name constraints, one of another device CA with the same name and
	 * another key, and a time past the chain's validity are refused with the same detail */
	{
		struct world w2;
		X509 *nc = rogue_leaf(&w, "DEV-B", "net-1", "DEV-B", 0), *other, *fnc, *fother;
		unsigned char *d1 = NULL, *d2 = NULL;
		int n1, n2;
		struct {
			X509 *leaf;
			time_t at;
			const char *why;
		} cases[3];

		world_make(&w2, SC_ALG_P256);
		other = rogue_leaf(&w2, "DEV-A", "net-1", "DEV-A", 0);
		fnc = fast_copy(nc, &d1, &n1);
		fother = fast_copy(other, &d2, &n2);
		cases[0].leaf = fnc;
		cases[0].at = 0;
		cases[0].why = "permitted subtree violation (depth 0)";
		cases[1].leaf = fother;
		cases[1].at = 0;
		cases[1].why = "(depth 0)";
		cases[2].leaf = fleaf;
		cases[2].at = time(NULL) + (DAYS + 2) * 86400L;
		cases[2].why = "expired";
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			opts.at = cases[k].at;
			opts.sig_cache = NULL;
			assert_int_equal(sc_verify_chain(cases[k].leaf, &opts, NULL), SC_ERR_CHAIN);
			snprintf(detail, sizeof(detail), "%s", sc_err_detail());
			assert_non_null(strstr(detail, cases[k].why));
			opts.sig_cache = c;
			assert_int_equal(sc_verify_chain(cases[k].leaf, &opts, NULL), SC_ERR_CHAIN);
			assert_string_equal(sc_err_detail(), detail);
		}
		opts.at = 0;
		OPENSSL_free(d1);
		OPENSSL_free(d2);
		X509_free(fnc);
		X509_free(fother);
		X509_free(nc);
		X509_free(other);
		world_free(&w2);
	}
	/* the caller's word is taken: a vouched bad signature passes (hence: only proven ones) */
	sc_sig_cache_vouch(c, dbad, (size_t)nl, fca);
	assert_int_equal(sc_verify_chain(bad, &opts, NULL), SC_OK);
	sc_sig_cache_free(c);

	/*
	 * judge11: a DER hash noted on the certificates (sc_sig_cache_note_der) gives the same key
	 * as their encoding: vouched from the DER, they are hits; computed fresh, misses then hits;
	 * a bad signature with its true hash noted is refused as before. A wrong hash noted is
	 * another key: never a hit for the vouched bytes (the caller's word is on the true DER).
	 */
	{
		X509 *xca = fast_copy(sk_X509_value(w.chain, 0), &d_unused[0], &n_unused[0]),
		     *xmfr = fast_copy(sk_X509_value(w.chain, 1), &d_unused[1], &n_unused[1]),
		     *xbad = NULL;
		STACK_OF(X509) *nchain = sk_X509_new_null();

		assert_int_equal(sc_fast_cert_from_der(dbad, (size_t)nl, &xbad), SC_OK);
		assert_non_null(xbad);
		sc_sig_cache_note_der(xca, dca, (size_t)nca);
		sc_sig_cache_note_der(xmfr, dmfr, (size_t)nmfr);
		sc_sig_cache_note_der(xbad, dbad, (size_t)nl);
		assert_true(
		    nchain != NULL && sk_X509_push(nchain, xca) && sk_X509_push(nchain, xmfr));
		opts.chain = nchain;
		assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
		opts.sig_cache = c;
		sc_sig_cache_vouch(c, dca, (size_t)nca, fmfr);
		sc_sig_cache_vouch(c, dmfr, (size_t)nmfr, w.root);
		assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
		sc_sig_cache_stats(c, &hits, &misses);
		assert_int_equal(hits, 2);
		assert_int_equal(misses, 1);
		assert_int_equal(sc_verify_chain(xbad, &opts, NULL), SC_ERR_CHAIN);
		assert_non_null(strstr(sc_err_detail(), "certificate signature failure (depth 0)"));
		sc_sig_cache_free(c);
		/* Not vouched: computed (three misses), then remembered under the same keys. */
		assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
		opts.sig_cache = c;
		assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
		assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
		sc_sig_cache_stats(c, &hits, &misses);
		assert_int_equal(misses, 3);
		assert_int_equal(hits, 3);
		sc_sig_cache_free(c);
		/*
		 * A wrong hash noted (kept: the first noted wins; here the manufacturer CA's DER's)
		 * makes another key: no hit, and no entry under it either (the bytes verified are not
		 * the note's), so a second check is a miss again.
		 */
		sk_X509_pop_free(nchain, X509_free);
		nchain = sk_X509_new_null();
		xca = fast_copy(sk_X509_value(w.chain, 0), &d_unused[2], &n_unused[2]);
		sc_sig_cache_note_der(xca, dmfr, (size_t)nmfr);
		sc_sig_cache_note_der(xca, dca, (size_t)nca);
		xmfr = fast_copy(sk_X509_value(w.chain, 1), &d_unused[3], &n_unused[3]);
		assert_true(
		    nchain != NULL && sk_X509_push(nchain, xca) && sk_X509_push(nchain, xmfr));
		opts.chain = nchain;
		assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
		opts.sig_cache = c;
		sc_sig_cache_vouch(c, dca, (size_t)nca, fmfr);
		assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
		sc_sig_cache_stats(c, &hits, &misses);
		assert_int_equal(hits, 0);
		assert_int_equal(sc_verify_chain(fleaf, &opts, NULL), SC_OK);
		sc_sig_cache_stats(c, &hits, &misses);
		/* the leaf's and the manufacturer CA's checks were remembered, the CA's was not */
		assert_int_equal(hits, 2);
		assert_int_equal(misses, 4);
		sc_sig_cache_free(c);
		opts.chain = chain;
		sk_X509_pop_free(nchain, X509_free);
		X509_free(xbad);
		for (int k = 0; k < 4; k++)
			OPENSSL_free(d_unused[k]);
	}

	/* the shortcuts off: a vouch is nothing, and the bad signature refused */
	assert_int_equal(sc_sig_cache_new(64, &c), SC_OK);
	opts.sig_cache = c;
	sc_fast_set(0);
	sc_sig_cache_vouch(c, dbad, (size_t)nl, fca);
	sc_sig_cache_vouch(NULL, dbad, (size_t)nl, fca);
	sc_fast_set(1);
	assert_int_equal(sc_verify_chain(bad, &opts, NULL), SC_ERR_CHAIN);
	sc_sig_cache_stats(c, &hits, &misses);
	assert_int_equal(hits, 0);

	sc_sig_cache_free(c);
	OPENSSL_free(dl);
	OPENSSL_free(dca);
	OPENSSL_free(dmfr);
	OPENSSL_free(dbad);
	X509_free(bad);
	X509_free(alg);
	X509_free(fleaf);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	world_free(&w);
	sc_fast_x509_set(0);
	sc_fast_set(was);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_constraints),
		cmocka_unit_test(test_verify_chain_failures),
		cmocka_unit_test(test_verify_good),
		cmocka_unit_test(test_verify_binding),
		cmocka_unit_test(test_verify_exact),
		cmocka_unit_test(test_verify_supplied),
		cmocka_unit_test(test_verify_profile_signer),
		cmocka_unit_test(test_verify_profile_trusted),
		cmocka_unit_test(test_sig_cache),
		cmocka_unit_test(test_sig_cache_ecdsa_vouch),
	};
	int failed;

	if (sc_sig_cache_new(64, &shared_cache) != SC_OK)
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	sc_sig_cache_free(shared_cache);
	return failed;
}
