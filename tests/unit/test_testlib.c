// SPDX-License-Identifier: Apache-2.0
/*
 * test_testlib.c — the shared test scaffolding checked before anything relies on it: every
 * certificate of the test world (tests/testlib) verifies with stock X509_verify_cert up its own
 * chain and not up the other, per algorithm; the device CA carries exactly the constraints of
 * docs/FORMATS.md; the library's leaf under the world's device CA passes sc_verify_chain; and
 * the in-process SP personalizes and issues.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "testsp.h"
#include "testworld.h"

/* X509_verify_cert of cert with anchor trusted and the untrusted certificates of chain (may be
 * NULL), strictly (RFC 5280); the verification error (X509_V_OK on success). */
static int stock_verify(X509 *cert, X509 *anchor, STACK_OF(X509) *chain)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, anchor), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, chain), 1);
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return err;
}

static void check_world(enum sc_alg alg)
{
	struct sc_test_world_opts o = { .alg = alg };
	struct sc_test_world w;
	STACK_OF(X509) *mfr = sk_X509_new_null();

	assert_int_equal(sc_test_world_make(&o, &w), SC_OK);
	assert_int_equal(sc_alg_of_key(w.csk), alg);
	assert_int_equal(sc_alg_of_key(w.kek), alg == SC_ALG_ED25519 ? SC_ALG_P256 : alg);
	assert_int_equal(sk_X509_push(mfr, w.mfr_ca), 1);
	/* Each up its own chain… */
	assert_int_equal(stock_verify(w.mfr_root, w.mfr_root, NULL), X509_V_OK);
	assert_int_equal(stock_verify(w.mfr_ca, w.mfr_root, NULL), X509_V_OK);
	assert_int_equal(stock_verify(w.device_ca, w.mfr_root, mfr), X509_V_OK);
	assert_int_equal(stock_verify(w.kek_cert, w.mfr_root, mfr), X509_V_OK);
	assert_int_equal(stock_verify(w.net_root, w.net_root, NULL), X509_V_OK);
	assert_int_equal(stock_verify(w.signer, w.net_root, NULL), X509_V_OK);
	/* …and not up the other one, nor without its intermediate. */
	assert_int_not_equal(stock_verify(w.signer, w.mfr_root, mfr), X509_V_OK);
	assert_int_not_equal(stock_verify(w.device_ca, w.net_root, mfr), X509_V_OK);
	assert_int_not_equal(stock_verify(w.device_ca, w.mfr_root, NULL), X509_V_OK);
	sk_X509_free(mfr);
	sc_test_world_free(&w);
}

static void test_world_p256(void **state)
{
	(void)state;
	check_world(SC_ALG_P256);
}

static void test_world_p384(void **state)
{
	(void)state;
	check_world(SC_ALG_P384);
}

static void test_world_ed25519(void **state)
{
	(void)state;
	check_world(SC_ALG_ED25519);
}

static void test_world_rsa(void **state)
{
	(void)state;
	check_world(SC_ALG_RSA2048);
}

/* The one attribute of a one-attribute name, as text. */
static void expect_dirname_serial(X509_NAME *dn, const char *serial)
{
	const X509_NAME_ENTRY *e;
	const ASN1_STRING *v;

	assert_int_equal(X509_NAME_entry_count(dn), 1);
	e = X509_NAME_get_entry(dn, 0);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), NID_serialNumber);
	v = X509_NAME_ENTRY_get_data(e);
	assert_int_equal(ASN1_STRING_type(v), V_ASN1_PRINTABLESTRING);
	assert_int_equal(ASN1_STRING_length(v), strlen(serial));
	assert_memory_equal(ASN1_STRING_get0_data(v), serial, strlen(serial));
}

static int ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	assert_int_equal(X509_get_ext_by_NID(x, nid, i), -1); /* once */
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* docs/FORMATS.md's device CA row, extension by extension, and nothing else. */
static void test_device_ca_constraints(void **state)
{
	struct sc_test_world w;
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	NAME_CONSTRAINTS *nc;
	GENERAL_SUBTREE *st;
	X509_NAME *subj;
	char dev[SC_DEVICE_ID_MAX + 1];

	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &w), SC_OK);
	subj = X509_get_subject_name(w.device_ca);
	assert_int_equal(X509_NAME_entry_count(subj), 3);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subj, 0))),
	    NID_serialNumber);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subj, 1))),
	    NID_organizationName);
	assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subj, 2))),
	    NID_commonName);
	assert_int_equal(sc_cert_device_id(w.device_ca, dev, sizeof(dev)), SC_OK);
	assert_string_equal(dev, SC_TEST_DEV);

	assert_int_equal(X509_get_ext_count(w.device_ca), 5); /* BC, KU, NC, SKI, AKI */
	assert_true(ext_critical(w.device_ca, NID_basic_constraints));
	bc = X509_get_ext_d2i(w.device_ca, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);

	assert_true(ext_critical(w.device_ca, NID_key_usage));
	assert_int_equal(X509_get_key_usage(w.device_ca), KU_KEY_CERT_SIGN);
	ku = X509_get_ext_d2i(w.device_ca, NID_key_usage, NULL, NULL);
	assert_non_null(ku);
	ASN1_BIT_STRING_free(ku);

	assert_true(ext_critical(w.device_ca, NID_name_constraints));
	nc = X509_get_ext_d2i(w.device_ca, NID_name_constraints, NULL, NULL);
	assert_non_null(nc);
	assert_null(nc->excludedSubtrees);
	assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
	st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0);
	assert_null(st->minimum);
	assert_null(st->maximum);
	assert_int_equal(st->base->type, GEN_DIRNAME);
	expect_dirname_serial(st->base->d.directoryName, SC_TEST_DEV);
	NAME_CONSTRAINTS_free(nc);

	assert_false(ext_critical(w.device_ca, NID_subject_key_identifier));
	assert_false(ext_critical(w.device_ca, NID_authority_key_identifier));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(w.device_ca),
	                     X509_get0_subject_key_id(w.mfr_ca)),
	    0);
	sc_test_world_free(&w);
}

/* The profile signer: EKU exactly id-sc-kp-profileSigning, digitalSignature, not a CA. */
static void test_signer_eku(void **state)
{
	struct sc_test_world w;
	EXTENDED_KEY_USAGE *eku;

	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &w), SC_OK);
	eku = X509_get_ext_d2i(w.signer, NID_ext_key_usage, NULL, NULL);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), sc_nid_kp_profile_signing());
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	assert_int_equal(X509_get_key_usage(w.signer), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_check_ca(w.signer), 0);
	sc_test_world_free(&w);
}

/* The name constraints at work: a leaf for the device passes, one for another device fails. */
static void test_name_constraints_bite(void **state)
{
	struct sc_test_world w;
	STACK_OF(X509) *chain;
	X509 *own = NULL, *other = NULL;

	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &w), SC_OK);
	chain = sc_test_world_chain(&w);
	assert_non_null(chain);
	assert_int_equal(sc_test_cert_leaf(w.device_ca, w.csk, SC_TEST_DEV, &own), SC_OK);
	assert_int_equal(sc_test_cert_leaf(w.device_ca, w.csk, "SN-0002", &other), SC_OK);
	assert_int_equal(stock_verify(own, w.mfr_root, chain), X509_V_OK);
	assert_int_equal(stock_verify(other, w.mfr_root, chain), X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(own);
	X509_free(other);
	sk_X509_free(chain);
	sc_test_world_free(&w);
}

/* The relying party accepts the library's leaf under the world's device CA, per algorithm. */
static void check_library_leaf(enum sc_alg alg)
{
	struct sc_test_world_opts o = { .alg = alg };
	struct sc_test_world w;
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	struct sc_verify_opts vo;
	struct sc_verify_result res;
	EVP_PKEY *leaf_key = NULL;
	X509 *leaf = NULL;
	uint8_t *der = NULL;
	size_t len = 0;

	assert_int_equal(sc_test_world_make(&o, &w), SC_OK);
	sc_test_profile_params(&w, &pp);
	assert_int_equal(sc_test_profile_make(&w, &pp, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	assert_int_equal(sc_alg_keygen(pp.generate_alg, &leaf_key), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(p, leaf_key, w.device_ca, w.csk, 7, &leaf), SC_OK);

	memset(&vo, 0, sizeof(vo));
	vo.mfr_root = w.mfr_root;
	vo.chain = sc_test_world_chain(&w);
	vo.profile = p;
	vo.net_root = w.net_root;
	assert_int_equal(sc_verify_chain(leaf, &vo, &res), SC_OK);
	assert_string_equal(res.device_id, SC_TEST_DEV);
	assert_string_equal(res.network_id, SC_TEST_NET);
	assert_int_equal(res.issuance.counter, 7);
	assert_true(res.profile_checked);
	/* And the world is the only anchor that counts: the network root is not a manufacturer. */
	vo.mfr_root = w.net_root;
	assert_int_equal(sc_verify_chain(leaf, &vo, &res), SC_ERR_CHAIN);

	sk_X509_free(vo.chain);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	sc_profile_free(p);
	OPENSSL_free(der);
	sc_test_world_free(&w);
}

static void test_library_leaf_p256(void **state)
{
	(void)state;
	check_library_leaf(SC_ALG_P256);
}

static void test_library_leaf_ed25519(void **state)
{
	(void)state;
	check_library_leaf(SC_ALG_ED25519);
}

static void test_library_leaf_rsa(void **state)
{
	(void)state;
	check_library_leaf(SC_ALG_RSA2048);
}

/* The in-process SP: personalized by the world's manufacturer, it issues a leaf that verifies. */
static void test_sp_personalize_issue(void **state)
{
	struct sc_test_world w;
	struct sc_test_sp sp;
	struct sc_test_answer a;
	struct sc_profile_params pp;
	struct sc_verify_opts vo;
	struct sc_buf b;
	uint8_t *der = NULL;
	const uint8_t *cert_der;
	size_t len = 0, cert_len = 0;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();

	(void)state;
	assert_int_equal(sc_test_world_make(NULL, &w), SC_OK);
	assert_int_equal(sc_test_sp_open(&sp, NULL, SC_TEST_DEV), SC_OK);
	assert_int_equal(sc_test_sp_personalize(&sp, &w, SC_ALG_P256, SC_ALG_P256, 30, 4, 1),
	    SC_OK);
	assert_int_equal(sp.spd->st.state, SC_SP_STATE_LOCKED);
	/* Locked means locked: a second personalization is refused at its first request. */
	assert_int_equal(sc_test_sp_personalize(&sp, &w, SC_ALG_P256, SC_ALG_P256, 30, 4, 1),
	    SC_ERR_LOCKED);
	assert_int_equal(sc_test_sp_restart(&sp), SC_OK);
	assert_int_equal(sp.spd->st.state, SC_SP_STATE_LOCKED);

	sc_test_profile_params(&w, &pp);
	assert_int_equal(sc_test_profile_make(&w, &pp, &der, &len), SC_OK);
	sc_buf_init_writer(&b, SC_SP_MAX_MSG, 0);
	sc_buf_put_string(&b, der, len);
	assert_int_equal(sc_buf_done(&b, "issue"), SC_OK);
	assert_int_equal(sc_test_sp_call(&sp, SC_SP_ISSUE, b.data, b.len, &a), SC_OK);
	assert_int_not_equal(sc_buf_get_u32(&a.rd), 0);
	sc_buf_get_string(&a.rd, &cert_der, &cert_len, SC_WIRE_MAX_CERT);
	assert_int_equal(sc_buf_done(&a.rd, "issue answer"), SC_OK);
	leaf = d2i_X509(NULL, &cert_der, (long)cert_len);
	assert_non_null(leaf);
	/* The same profile again: the SP's own refusal, with its detail, comes back intact. */
	assert_int_equal(sc_test_sp_call(&sp, SC_SP_ISSUE, b.data, b.len, NULL), SC_ERR_REPLAY);

	assert_int_equal(sk_X509_push(chain, sp.csk_cert), 1);
	assert_int_equal(sk_X509_push(chain, w.mfr_ca), 2);
	memset(&vo, 0, sizeof(vo));
	vo.mfr_root = w.mfr_root;
	vo.chain = chain;
	assert_int_equal(sc_verify_chain(leaf, &vo, NULL), SC_OK);

	sk_X509_free(chain);
	X509_free(leaf);
	sc_test_answer_free(&a);
	sc_buf_free(&b);
	OPENSSL_free(der);
	sc_test_sp_close(&sp);
	sc_test_world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_world_p256),
		cmocka_unit_test(test_world_p384),
		cmocka_unit_test(test_world_ed25519),
		cmocka_unit_test(test_world_rsa),
		cmocka_unit_test(test_device_ca_constraints),
		cmocka_unit_test(test_signer_eku),
		cmocka_unit_test(test_name_constraints_bite),
		cmocka_unit_test(test_library_leaf_p256),
		cmocka_unit_test(test_library_leaf_ed25519),
		cmocka_unit_test(test_library_leaf_rsa),
		cmocka_unit_test(test_sp_personalize_issue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
