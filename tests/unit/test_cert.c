// SPDX-License-Identifier: Apache-2.0
/*
 * test_cert.c — the certificate profiles table (cert.c): every builder for every issuer
 * algorithm, the self-issued leaf, and strict decoding of the id-sc-pe-issuance extension.
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

#include "fast/fast.h"
#include "fast/spki.h"
#include "profile_key.h"
#include "testutil.h"

/* The issuer algorithms of the matrix (RSA at 2048 bits for speed). */
static const enum sc_alg algs[] = { SC_ALG_RSA2048, SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519 };
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

#define DAYS 3650

/* A manufacturer hierarchy with one device, all keys of one algorithm. */
struct pki {
	enum sc_alg alg;
	EVP_PKEY *root_key, *ca_key, *csk;
	X509 *root, *ca, *dev_ca;
};

static EVP_PKEY *keygen(enum sc_alg alg)
{
	EVP_PKEY *k = NULL;
	assert_int_equal(sc_alg_keygen(alg, &k), SC_OK);
	assert_non_null(k);
	return k;
}

static void pki_make(struct pki *p, enum sc_alg alg, const char *dev)
{
	memset(p, 0, sizeof(*p));
	p->alg = alg;
	p->root_key = keygen(alg);
	p->ca_key = keygen(alg);
	p->csk = keygen(alg);
	assert_int_equal(sc_cert_mfr_root(p->root_key, "Acme", DAYS, &p->root), SC_OK);
	assert_int_equal(sc_cert_mfr_ca(p->ca_key, "Acme", DAYS, p->root, p->root_key, &p->ca),
	    SC_OK);
	assert_int_equal(sc_cert_device_ca(p->csk, dev, DAYS, p->ca, p->ca_key, &p->dev_ca), SC_OK);
}

static void pki_free(struct pki *p)
{
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->csk);
	X509_free(p->root);
	X509_free(p->ca);
	X509_free(p->dev_ca);
}

/* X509_verify_cert with the root as the only anchor, strict; returns the X509_V_ code. */
static int path_verify(X509 *leaf, X509 *root, X509 *c1, X509 *c2)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	int err;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_non_null(chain);
	assert_true(X509_STORE_add_cert(store, root));
	if (c1 != NULL)
		assert_true(sk_X509_push(chain, c1));
	if (c2 != NULL)
		assert_true(sk_X509_push(chain, c2));
	assert_true(X509_STORE_CTX_init(ctx, store, leaf, chain));
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
	err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	if (err == X509_V_OK)
		assert_int_equal(X509_STORE_CTX_get_error(ctx), X509_V_OK);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(chain);
	ERR_clear_error();
	return err;
}

static void assert_subject(X509 *x, const char *want)
{
	char buf[512];
	assert_non_null(X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

/* serialNumber is a PrintableString, O and CN UTF8Strings. */
static void assert_name_types(const X509_NAME *n)
{
	int i;
	for (i = 0; i < X509_NAME_entry_count(n); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		int type = ASN1_STRING_type(X509_NAME_ENTRY_get_data(e));
		assert_int_equal(type,
		    nid == NID_serialNumber ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING);
		/* one attribute per RDN */
		assert_int_equal(X509_NAME_ENTRY_set(e), i);
	}
}

/* Presence and criticality of an extension (exactly once); crit < 0: must be absent. */
static void assert_ext(X509 *x, int nid, int crit)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	if (crit < 0) {
		assert_true(i < 0);
		return;
	}
	assert_true(i >= 0);
	assert_int_equal(X509_get_ext_by_NID(x, nid, i), -1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, i)), crit);
}

/* Everything every builder promises: v3, serial, validity, SKI (and AKI linkage), signature. */
static void assert_common(X509 *x, X509 *issuer, EVP_PKEY *issuer_key, int days)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x), *iski;
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int pday, psec, mdnid = -1;
	time_t now = time(NULL);

	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	/* serial: 16 bytes, positive, no leading zero */
	assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
	assert_int_equal(ASN1_STRING_length(sn), 16);
	assert_true(ASN1_STRING_get0_data(sn)[0] >= 1 && ASN1_STRING_get0_data(sn)[0] <= 0x7f);
	/* validity: notBefore = now - 60 s, notAfter = notBefore + days */
	assert_int_equal(ASN1_STRING_type(X509_get0_notBefore(x)), V_ASN1_UTCTIME);
	assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(x)), V_ASN1_UTCTIME);
	assert_true(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), now - 55) < 0);
	assert_true(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), now - 70) > 0);
	assert_true(ASN1_TIME_diff(&pday, &psec, X509_get0_notBefore(x), X509_get0_notAfter(x)));
	assert_int_equal(pday, days);
	assert_int_equal(psec, 0);
	/* SKI = SHA-1 of the public key bits, non-critical */
	assert_non_null(ski);
	assert_true(X509_pubkey_digest(x, EVP_sha1(), md, &mdlen));
	assert_int_equal(ASN1_STRING_length(ski), 20);
	assert_memory_equal(ASN1_STRING_get0_data(ski), md, mdlen);
	assert_ext(x, NID_subject_key_identifier, 0);
	if (issuer == NULL) {
		assert_null(aki);
		assert_ext(x, NID_authority_key_identifier, -1);
		assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)),
		    0);
	} else {
		iski = X509_get0_subject_key_id(issuer);
		assert_non_null(aki);
		assert_non_null(iski);
		assert_int_equal(ASN1_OCTET_STRING_cmp(aki, iski), 0);
		assert_ext(x, NID_authority_key_identifier, 0);
		assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
		                     X509_get_subject_name(issuer)),
		    0);
	}
	assert_int_equal(X509_verify(x, issuer_key), 1);
	/* signed with the issuer key's default digest */
	assert_true(X509_get_signature_info(x, &mdnid, NULL, NULL, NULL));
	switch (sc_alg_of_key(issuer_key)) {
	case SC_ALG_ED25519: assert_int_equal(mdnid, NID_undef); break;
	case SC_ALG_P384: assert_int_equal(mdnid, NID_sha384); break;
	default: assert_int_equal(mdnid, NID_sha256); break;
	}
}

static void assert_bc(X509 *x, int ca, long pathlen)
{
	assert_ext(x, NID_basic_constraints, 1);
	assert_int_equal(X509_check_ca(x) != 0, ca);
	assert_int_equal(X509_get_pathlen(x), pathlen);
}

static void assert_ku(X509 *x, uint32_t ku)
{
	assert_ext(x, NID_key_usage, 1);
	assert_int_equal(X509_get_key_usage(x), ku);
}

static void test_builders(void **state)
{
	size_t i;
	(void)state;

	for (i = 0; i < N_ALGS; i++) {
		struct pki p;
		NAME_CONSTRAINTS *nc;
		GENERAL_SUBTREE *st;
		char buf[256];
		int crit;

		pki_make(&p, algs[i], "DEV-A");

		assert_subject(p.root, "/CN=Acme Root");
		assert_name_types(X509_get_subject_name(p.root));
		assert_common(p.root, NULL, p.root_key, DAYS);
		assert_bc(p.root, 1, -1);
		assert_ku(p.root, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
		assert_ext(p.root, NID_name_constraints, -1);
		assert_ext(p.root, NID_ext_key_usage, -1);

		assert_subject(p.ca, "/O=Acme/CN=Acme Device Issuing CA");
		assert_name_types(X509_get_subject_name(p.ca));
		assert_common(p.ca, p.root, p.root_key, DAYS);
		assert_bc(p.ca, 1, 1);
		assert_ku(p.ca, KU_KEY_CERT_SIGN | KU_CRL_SIGN);

		assert_subject(p.dev_ca, "/serialNumber=DEV-A/O=Acme/CN=DEV-A Device CA");
		assert_name_types(X509_get_subject_name(p.dev_ca));
		assert_common(p.dev_ca, p.ca, p.ca_key, DAYS);
		assert_bc(p.dev_ca, 1, 0);
		assert_ku(p.dev_ca, KU_KEY_CERT_SIGN | KU_CRL_SIGN);
		assert_ext(p.dev_ca, NID_name_constraints, 1);
		nc = X509_get_ext_d2i(p.dev_ca, NID_name_constraints, &crit, NULL);
		assert_non_null(nc);
		assert_int_equal(crit, 1);
		assert_null(nc->excludedSubtrees);
		assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
		st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0);
		assert_null(st->minimum);
		assert_null(st->maximum);
		/* form 2 (a DNS label as device ID): one dNSName, the device's DNS name */
		assert_int_equal(st->base->type, GEN_DNS);
		assert_int_equal(ASN1_STRING_length(st->base->d.dNSName),
		    (int)strlen("dev-a.selfcert.invalid"));
		assert_memory_equal(ASN1_STRING_get0_data(st->base->d.dNSName),
		    "dev-a.selfcert.invalid", strlen("dev-a.selfcert.invalid"));
		NAME_CONSTRAINTS_free(nc);
		assert_int_equal(sc_cert_device_ca_form_of(p.dev_ca, "DEV-A"), SC_DEVICE_CA_V2);
		assert_int_equal(sc_cert_device_ca_form_of(p.dev_ca, "DEV-B"), SC_DEVICE_CA_NONE);
		X509_free(p.dev_ca);
		/* form 1, as before 2026-12: one directoryName serialNumber=DEV-A */
		assert_int_equal(sc_cert_device_ca_form(p.csk, "DEV-A", DAYS, p.ca, p.ca_key,
		                     SC_DEVICE_CA_V1, &p.dev_ca),
		    SC_OK);
		nc = X509_get_ext_d2i(p.dev_ca, NID_name_constraints, &crit, NULL);
		assert_non_null(nc);
		assert_int_equal(crit, 1);
		assert_null(nc->excludedSubtrees);
		assert_int_equal(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
		st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0);
		assert_int_equal(st->base->type, GEN_DIRNAME);
		X509_NAME_oneline(st->base->d.directoryName, buf, sizeof(buf));
		assert_string_equal(buf, "/serialNumber=DEV-A");
		assert_name_types(st->base->d.directoryName);
		NAME_CONSTRAINTS_free(nc);
		assert_int_equal(sc_cert_device_ca_form_of(p.dev_ca, "DEV-A"), SC_DEVICE_CA_V1);

		/* stock path validation accepts root → CA → device CA */
		assert_int_equal(path_verify(p.dev_ca, p.root, p.ca, NULL), X509_V_OK);
		assert_int_equal(path_verify(p.ca, p.root, NULL, NULL), X509_V_OK);
		pki_free(&p);
	}
}

static void test_device_kex(void **state)
{
	size_t i;
	(void)state;

	for (i = 0; i < N_ALGS; i++) {
		struct pki p;
		EVP_PKEY *rsa = keygen(SC_ALG_RSA2048), *ec = keygen(SC_ALG_P256),
		         *ed = keygen(SC_ALG_ED25519);
		X509 *k = NULL;

		pki_make(&p, algs[i], "DEV-A");
		assert_int_equal(sc_cert_device_kex(rsa, "DEV-A", DAYS, p.ca, p.ca_key, &k), SC_OK);
		assert_subject(k, "/serialNumber=DEV-A/O=Acme/CN=DEV-A Key Exchange");
		assert_name_types(X509_get_subject_name(k));
		assert_common(k, p.ca, p.ca_key, DAYS);
		assert_bc(k, 0, -1);
		assert_ku(k, KU_KEY_ENCIPHERMENT);
		assert_int_equal(path_verify(k, p.root, p.ca, NULL), X509_V_OK);
		X509_free(k);
		k = NULL;

		assert_int_equal(sc_cert_device_kex(ec, "DEV-A", DAYS, p.ca, p.ca_key, &k), SC_OK);
		assert_common(k, p.ca, p.ca_key, DAYS);
		assert_bc(k, 0, -1);
		assert_ku(k, KU_KEY_AGREEMENT);
		assert_int_equal(path_verify(k, p.root, p.ca, NULL), X509_V_OK);
		X509_free(k);
		k = NULL;

		assert_int_equal(sc_cert_device_kex(ed, "DEV-A", DAYS, p.ca, p.ca_key, &k),
		    SC_ERR_ALGORITHM);
		assert_null(k);
		EVP_PKEY_free(rsa);
		EVP_PKEY_free(ec);
		EVP_PKEY_free(ed);
		pki_free(&p);
	}
}

static void test_network(void **state)
{
	size_t i;
	(void)state;

	assert_int_equal(sc_oids_init(), SC_OK);
	for (i = 0; i < N_ALGS; i++) {
		EVP_PKEY *rk = keygen(algs[i]), *sk = keygen(algs[i]);
		X509 *root = NULL, *signer = NULL;
		EXTENDED_KEY_USAGE *eku;
		int crit;

		assert_int_equal(sc_cert_net_root(rk, "net-1", DAYS, &root), SC_OK);
		assert_subject(root, "/O=net-1/CN=net-1 Network Root");
		assert_name_types(X509_get_subject_name(root));
		assert_common(root, NULL, rk, DAYS);
		assert_bc(root, 1, -1);
		assert_ku(root, KU_KEY_CERT_SIGN | KU_CRL_SIGN);

		assert_int_equal(sc_cert_profile_signer(sk, "net-1", 30, root, rk, &signer), SC_OK);
		assert_subject(signer, "/O=net-1/CN=net-1 Profile Signer");
		assert_name_types(X509_get_subject_name(signer));
		assert_common(signer, root, rk, 30);
		assert_bc(signer, 0, -1);
		assert_ku(signer, KU_DIGITAL_SIGNATURE);
		assert_ext(signer, NID_ext_key_usage, 0);
		eku = X509_get_ext_d2i(signer, NID_ext_key_usage, &crit, NULL);
		assert_non_null(eku);
		assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
		assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)),
		    sc_nid_kp_profile_signing());
		EXTENDED_KEY_USAGE_free(eku);
		assert_int_equal(path_verify(signer, root, NULL, NULL), X509_V_OK);

		X509_free(root);
		X509_free(signer);
		EVP_PKEY_free(rk);
		EVP_PKEY_free(sk);
	}
}

/* The device's DNS name: lowercase label + suffix; no name for an ID that is not a label. */
static void test_device_dns_name(void **state)
{
	char out[SC_DEVICE_DNS_MAX + 1], small[8], id63[64], id64[65];
	(void)state;

	assert_int_equal(sc_cert_device_dns_name("DEV-A", out, sizeof(out)), SC_OK);
	assert_string_equal(out, "dev-a.selfcert.invalid");
	assert_int_equal(sc_cert_device_dns_name("x9", out, sizeof(out)), SC_OK);
	assert_string_equal(out, "x9.selfcert.invalid");
	memset(id63, 'A', 63);
	id63[63] = '\0';
	assert_int_equal(sc_cert_device_dns_name(id63, out, sizeof(out)), SC_OK); /* longest */
	assert_int_equal(strlen(out), SC_DEVICE_DNS_MAX);
	memset(id64, 'A', 64);
	id64[64] = '\0';
	assert_int_equal(sc_cert_device_dns_name(id64, out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_dns_name("-DEV", out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_dns_name("DEV-", out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_dns_name("DEV A", out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_dns_name("DEV.A", out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_dns_name("", out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_dns_name("DEV-A", small, sizeof(small)), SC_ERR_OVERSIZE);
	assert_int_equal(sc_cert_device_dns_name(NULL, out, sizeof(out)), SC_ERR_USAGE);
	assert_int_equal(sc_cert_device_dns_name("DEV-A", out, 0), SC_ERR_USAGE);
	/* form 2 needs a label; sc_cert_device_ca falls back to form 1 */
	{
		struct pki p;
		X509 *x = NULL;
		pki_make(&p, SC_ALG_P256, "DEV.A");
		assert_int_equal(sc_cert_device_ca_form_of(p.dev_ca, "DEV.A"), SC_DEVICE_CA_V1);
		assert_int_equal(sc_cert_device_ca_form(p.csk, "DEV.A", DAYS, p.ca, p.ca_key,
		                     SC_DEVICE_CA_V2, &x),
		    SC_ERR_USAGE);
		assert_int_equal(sc_cert_device_ca_form(p.csk, "DEV-A", DAYS, p.ca, p.ca_key,
		                     SC_DEVICE_CA_NONE, &x),
		    SC_ERR_USAGE);
		assert_null(x);
		pki_free(&p);
	}
}

/* dev_ca with its nameConstraints replaced by value (openssl.cnf syntax; NULL: none). */
static X509 *with_nc(X509 *dev_ca, const char *value)
{
	X509 *x = X509_dup(dev_ca);
	X509_EXTENSION *ext;
	int i;

	assert_non_null(x);
	while ((i = X509_get_ext_by_NID(x, NID_name_constraints, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	if (value != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_name_constraints, value);
		assert_non_null(ext);
		assert_true(X509_add_ext(x, ext, -1));
		X509_EXTENSION_free(ext);
	}
	return x;
}

/* sc_cert_device_ca_form_of: exactly the two forms; anything near them is NONE. */
static void test_device_ca_form_of(void **state)
{
	static const struct {
		const char *nc;
		enum sc_device_ca_form want;
	} cases[] = {
		{ "critical,permitted;DNS:dev-a.selfcert.invalid", SC_DEVICE_CA_V2 },
		{ "permitted;DNS:dev-a.selfcert.invalid", SC_DEVICE_CA_NONE }, /* not critical */
		{ "critical,permitted;DNS:DEV-A.selfcert.invalid",
		    SC_DEVICE_CA_NONE }, /* not ours */
		{ "critical,permitted;DNS:dev-b.selfcert.invalid", SC_DEVICE_CA_NONE },
		{ "critical,permitted;DNS:selfcert.invalid", SC_DEVICE_CA_NONE },
		{ "critical,permitted;DNS:dev-a.selfcert.invalid.x", SC_DEVICE_CA_NONE },
		{ "critical,permitted;DNS:dev-a.selfcert.invalid,permitted;DNS:dev-b.selfcert.invalid",
		    SC_DEVICE_CA_NONE }, /* two subtrees */
		{ "critical,permitted;DNS:dev-a.selfcert.invalid,excluded;DNS:x.dev-a.selfcert.invalid",
		    SC_DEVICE_CA_NONE }, /* anything excluded */
		{ "critical,excluded;DNS:dev-b.selfcert.invalid", SC_DEVICE_CA_NONE },
		{ "critical,permitted;URI:dev-a.selfcert.invalid", SC_DEVICE_CA_NONE },
		{ "critical,permitted;IP:192.0.2.0/255.255.255.0", SC_DEVICE_CA_NONE },
		{ NULL, SC_DEVICE_CA_NONE },
	};
	struct pki p;
	(void)state;

	pki_make(&p, SC_ALG_P256, "DEV-A");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = with_nc(p.dev_ca, cases[i].nc);
		assert_int_equal(sc_cert_device_ca_form_of(x, "DEV-A"), cases[i].want);
		X509_free(x);
	}
	assert_int_equal(sc_cert_device_ca_form_of(NULL, "DEV-A"), SC_DEVICE_CA_NONE);
	assert_int_equal(sc_cert_device_ca_form_of(p.dev_ca, NULL), SC_DEVICE_CA_NONE);
	/* a device CA whose leaves must carry a DNS name, for a device ID that has none */
	assert_int_equal(sc_cert_device_ca_form_of(p.dev_ca, "DEV A"), SC_DEVICE_CA_NONE);
	pki_free(&p);
}

/* Long names are fine: CN goes past X.520's ub-common-name (64) as docs/FORMATS.md allows. */
static void test_long_names(void **state)
{
	char name[65], dev[65], want[256];
	struct pki p;
	(void)state;

	memset(name, 'm', 64);
	name[64] = '\0';
	memset(dev, 'D', 64);
	dev[64] = '\0';
	memset(&p, 0, sizeof(p));
	p.root_key = keygen(SC_ALG_P256);
	p.ca_key = keygen(SC_ALG_P256);
	p.csk = keygen(SC_ALG_P256);
	assert_int_equal(sc_cert_mfr_root(p.root_key, name, 1, &p.root), SC_OK);
	assert_int_equal(sc_cert_mfr_ca(p.ca_key, name, 1, p.root, p.root_key, &p.ca), SC_OK);
	assert_int_equal(sc_cert_device_ca(p.csk, dev, 1, p.ca, p.ca_key, &p.dev_ca), SC_OK);
	snprintf(want, sizeof(want), "/serialNumber=%s/O=%s/CN=%s Device CA", dev, name, dev);
	assert_subject(p.dev_ca, want);
	assert_int_equal(path_verify(p.dev_ca, p.root, p.ca, NULL), X509_V_OK);
	pki_free(&p);
}

static void test_bad_arguments(void **state)
{
	struct pki p;
	EVP_PKEY *other = keygen(SC_ALG_P256), *ed = keygen(SC_ALG_ED25519);
	EVP_PKEY *rsa1024 = NULL;
	EVP_PKEY_CTX *kctx;
	X509 *x = NULL;
	char long_name[66];
	(void)state;

	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	pki_make(&p, SC_ALG_P256, "DEV-A");

	/* device IDs outside PrintableString or 1..64 */
	assert_int_equal(sc_cert_device_ca(p.csk, "DEV_A", DAYS, p.ca, p.ca_key, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_device_ca(p.csk, "", DAYS, p.ca, p.ca_key, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_device_ca(p.csk, long_name, DAYS, p.ca, p.ca_key, &x),
	    SC_ERR_USAGE);
	assert_int_equal(sc_cert_device_ca(p.csk, NULL, DAYS, p.ca, p.ca_key, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_device_kex(other, "DEV*A", DAYS, p.ca, p.ca_key, &x),
	    SC_ERR_USAGE);
	/* names */
	assert_int_equal(sc_cert_mfr_root(other, "", DAYS, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_mfr_root(other, long_name, DAYS, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_mfr_root(other, "\xc3\x28", DAYS, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_net_root(other, NULL, DAYS, &x), SC_ERR_USAGE);
	/* days */
	assert_int_equal(sc_cert_mfr_root(other, "Acme", 0, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_mfr_root(other, "Acme", -1, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_mfr_root(other, "Acme", 1000000, &x), SC_ERR_USAGE);
	/* issuer key that is not the issuer certificate's */
	assert_int_equal(sc_cert_mfr_ca(other, "Acme", DAYS, p.root, other, &x), SC_ERR_USAGE);
	assert_int_equal(sc_cert_device_ca(other, "DEV-A", DAYS, p.ca, p.root_key, &x),
	    SC_ERR_USAGE);
	/* the device CA needs a manufacturer (O) in its issuer: the root has none */
	assert_int_equal(sc_cert_device_ca(other, "DEV-A", DAYS, p.root, p.root_key, &x),
	    SC_ERR_USAGE);
	/* no RSA below 2048, for subjects or issuers */
	kctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	assert_non_null(kctx);
	assert_int_equal(EVP_PKEY_keygen_init(kctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(kctx, 1024), 1);
	assert_int_equal(EVP_PKEY_keygen(kctx, &rsa1024), 1);
	EVP_PKEY_CTX_free(kctx);
	assert_int_equal(sc_cert_mfr_root(rsa1024, "Acme", DAYS, &x), SC_ERR_ALGORITHM);
	assert_int_equal(sc_cert_mfr_ca(rsa1024, "Acme", DAYS, p.root, p.root_key, &x),
	    SC_ERR_ALGORITHM);
	assert_int_equal(sc_cert_device_kex(rsa1024, "DEV-A", DAYS, p.ca, p.ca_key, &x),
	    SC_ERR_ALGORITHM);
	assert_null(x);
	assert_string_not_equal(sc_err_detail(), "");
	EVP_PKEY_free(ed);
	EVP_PKEY_free(other);
	EVP_PKEY_free(rsa1024);
	pki_free(&p);
}

static void test_cert_device_id(void **state)
{
	struct pki p;
	char out[65], small[5];
	(void)state;

	pki_make(&p, SC_ALG_ED25519, "DEV-A");
	assert_int_equal(sc_cert_device_id(p.dev_ca, out, sizeof(out)), SC_OK);
	assert_string_equal(out, "DEV-A");
	assert_int_equal(sc_cert_device_id(p.dev_ca, small, sizeof(small)), SC_ERR_OVERSIZE);
	assert_int_equal(sc_cert_device_id(p.ca, out, sizeof(out)), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_cert_device_id(p.root, out, sizeof(out)), SC_ERR_NOT_FOUND);
	pki_free(&p);
}

/* ---- the id-sc-pe-issuance extension, decoded from hand-made DER ---- */

/* A good SelfCertIssuance: id 0x11.., digest 0x22.., "net", deviceGenerated, counter 5. */
static size_t good_issuance(uint8_t *b)
{
	size_t n = 0;
	b[n++] = 0x30;
	b[n++] = 0x3f;
	b[n++] = 0x04;
	b[n++] = 0x10;
	memset(b + n, 0x11, 16);
	n += 16;
	b[n++] = 0x04;
	b[n++] = 0x20;
	memset(b + n, 0x22, 32);
	n += 32;
	b[n++] = 0x0c;
	b[n++] = 0x03;
	memcpy(b + n, "net", 3);
	n += 3;
	b[n++] = 0x0a;
	b[n++] = 0x01;
	b[n++] = 0x00;
	b[n++] = 0x02;
	b[n++] = 0x01;
	b[n++] = 0x05;
	return n;
}
#define OFF_NET 54     /* offset of networkId's tag */
#define OFF_ORIGIN 59  /* offset of keyOrigin's tag */
#define OFF_COUNTER 62 /* offset of issuanceCounter's tag */

/* A plain self-signed certificate to hang test extensions on. */
static X509 *plain_cert(EVP_PKEY **key)
{
	X509 *x = NULL;
	*key = keygen(SC_ALG_P256);
	assert_int_equal(sc_cert_mfr_root(*key, "Plain", 1, &x), SC_OK);
	return x;
}

static void add_issuance(X509 *x, const uint8_t *der, size_t len, int crit)
{
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	assert_non_null(v);
	assert_true(ASN1_OCTET_STRING_set(v, der, (int)len));
	e = X509_EXTENSION_create_by_NID(NULL, sc_nid_pe_issuance(), crit, v);
	assert_non_null(e);
	assert_true(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(v);
}

static sc_err issuance_of(const uint8_t *der, size_t len, int crit, struct sc_issuance *out)
{
	EVP_PKEY *k;
	X509 *x = plain_cert(&k);
	sc_err r;

	add_issuance(x, der, len, crit);
	r = sc_issuance_get(x, out);
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

static void test_issuance_good(void **state)
{
	uint8_t b[128], id[16], dg[32];
	size_t n = good_issuance(b);
	struct sc_issuance iss;
	(void)state;

	assert_int_equal(sc_oids_init(), SC_OK);
	memset(id, 0x11, sizeof(id));
	memset(dg, 0x22, sizeof(dg));
	assert_int_equal(issuance_of(b, n, 0, &iss), SC_OK);
	assert_memory_equal(iss.profile_id, id, 16);
	assert_memory_equal(iss.profile_digest, dg, 32);
	assert_string_equal(iss.network_id, "net");
	assert_int_equal(iss.origin, SC_KEY_DEVICE_GENERATED);
	assert_int_equal(iss.counter, 5);

	/* serverSupplied and the largest counter */
	{
		uint8_t c[128];
		size_t m = OFF_COUNTER;
		memcpy(c, b, OFF_COUNTER);
		c[1] = 0x3f + 8;
		c[OFF_ORIGIN + 2] = 0x01;
		c[m++] = 0x02;
		c[m++] = 0x09;
		c[m++] = 0x00;
		memset(c + m, 0xff, 8);
		m += 8;
		assert_int_equal(issuance_of(c, m, 0, &iss), SC_OK);
		assert_int_equal(iss.origin, SC_KEY_SERVER_SUPPLIED);
		assert_true(iss.counter == UINT64_MAX);
	}
}

static void test_issuance_absent_critical_twice(void **state)
{
	uint8_t b[128];
	size_t n = good_issuance(b);
	struct sc_issuance iss;
	EVP_PKEY *k;
	X509 *x;
	(void)state;

	assert_int_equal(sc_oids_init(), SC_OK);
	x = plain_cert(&k);
	assert_int_equal(sc_issuance_get(x, &iss), SC_ERR_NOT_FOUND);
	add_issuance(x, b, n, 0);
	assert_int_equal(sc_issuance_get(x, &iss), SC_OK);
	add_issuance(x, b, n, 0);
	assert_int_equal(sc_issuance_get(x, &iss), SC_ERR_BINDING);
	X509_free(x);
	EVP_PKEY_free(k);

	assert_int_equal(issuance_of(b, n, 1, &iss), SC_ERR_BINDING);
	assert_non_null(strstr(sc_err_detail(), "critical"));
}

/* Data-driven: one mutation of the good DER per case, each must be SC_ERR_MALFORMED. */
static void test_issuance_malformed(void **state)
{
	uint8_t good[128], b[160];
	size_t gn = good_issuance(good);
	struct sc_issuance iss;
	size_t n;
	(void)state;

	assert_int_equal(sc_oids_init(), SC_OK);

	/* truncated: every proper prefix */
	for (n = 0; n < gn; n++)
		assert_int_equal(issuance_of(good, n, 0, &iss), SC_ERR_MALFORMED);

	/* trailing byte after the SEQUENCE */
	memcpy(b, good, gn);
	b[gn] = 0x00;
	assert_int_equal(issuance_of(b, gn + 1, 0, &iss), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "trailing"));

	/* networkId as PrintableString instead of UTF8String */
	memcpy(b, good, gn);
	b[OFF_NET] = 0x13;
	assert_int_equal(issuance_of(b, gn, 0, &iss), SC_ERR_MALFORMED);

	/* keyOrigin as INTEGER instead of ENUMERATED */
	memcpy(b, good, gn);
	b[OFF_ORIGIN] = 0x02;
	assert_int_equal(issuance_of(b, gn, 0, &iss), SC_ERR_MALFORMED);

	/* keyOrigin 2 is unknown */
	memcpy(b, good, gn);
	b[OFF_ORIGIN + 2] = 0x02;
	assert_int_equal(issuance_of(b, gn, 0, &iss), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "keyOrigin"));

	/* negative counter */
	memcpy(b, good, gn);
	b[OFF_COUNTER + 2] = 0xff;
	assert_int_equal(issuance_of(b, gn, 0, &iss), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "issuanceCounter"));

	/* counter 2^64 does not fit */
	memcpy(b, good, OFF_COUNTER);
	n = OFF_COUNTER;
	b[1] = 0x3f + 8;
	b[n++] = 0x02;
	b[n++] = 0x09;
	b[n++] = 0x01;
	memset(b + n, 0x00, 8);
	n += 8;
	assert_int_equal(issuance_of(b, n, 0, &iss), SC_ERR_MALFORMED);

	/* counter with a needless leading zero (not DER) */
	memcpy(b, good, OFF_COUNTER);
	n = OFF_COUNTER;
	b[1] = 0x40;
	b[n++] = 0x02;
	b[n++] = 0x02;
	b[n++] = 0x00;
	b[n++] = 0x05;
	assert_int_equal(issuance_of(b, n, 0, &iss), SC_ERR_MALFORMED);

	/* indefinite-length outer SEQUENCE (BER, decodes with d2i: must be refused) */
	b[0] = 0x30;
	b[1] = 0x80;
	memcpy(b + 2, good + 2, gn - 2);
	b[gn] = 0x00;
	b[gn + 1] = 0x00;
	assert_int_equal(issuance_of(b, gn + 2, 0, &iss), SC_ERR_MALFORMED);

	/* long-form length where short form is required */
	b[0] = 0x30;
	b[1] = 0x81;
	b[2] = 0x3f;
	memcpy(b + 3, good + 2, gn - 2);
	assert_int_equal(issuance_of(b, gn + 1, 0, &iss), SC_ERR_MALFORMED);

	/* profileId of 15 bytes */
	n = 0;
	b[n++] = 0x30;
	b[n++] = 0x3e;
	b[n++] = 0x04;
	b[n++] = 0x0f;
	memset(b + n, 0x11, 15);
	n += 15;
	memcpy(b + n, good + 20, gn - 20);
	n += gn - 20;
	assert_int_equal(issuance_of(b, n, 0, &iss), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "profileId"));

	/* profileDigest of 33 bytes */
	n = 0;
	b[n++] = 0x30;
	b[n++] = 0x40;
	memcpy(b + n, good + 2, 16 + 2);
	n += 18;
	b[n++] = 0x04;
	b[n++] = 0x21;
	memset(b + n, 0x22, 33);
	n += 33;
	memcpy(b + n, good + OFF_NET, gn - OFF_NET);
	n += gn - OFF_NET;
	assert_int_equal(issuance_of(b, n, 0, &iss), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "profileDigest"));

	/* empty networkId; networkId that is not UTF-8 */
	n = 0;
	memcpy(b, good, OFF_NET);
	n = OFF_NET;
	b[1] = 0x3c;
	b[n++] = 0x0c;
	b[n++] = 0x00;
	memcpy(b + n, good + OFF_ORIGIN, gn - OFF_ORIGIN);
	n += gn - OFF_ORIGIN;
	assert_int_equal(issuance_of(b, n, 0, &iss), SC_ERR_MALFORMED);
	memcpy(b, good, gn);
	b[OFF_NET + 2] = 0xc3;
	b[OFF_NET + 3] = 0x28;
	assert_int_equal(issuance_of(b, gn, 0, &iss), SC_ERR_MALFORMED);

	/* a missing field (no counter) */
	memcpy(b, good, OFF_COUNTER);
	b[1] = 0x3c;
	assert_int_equal(issuance_of(b, OFF_COUNTER, 0, &iss), SC_ERR_MALFORMED);

	/* not a SEQUENCE at all */
	b[0] = 0x04;
	b[1] = 0x00;
	assert_int_equal(issuance_of(b, 2, 0, &iss), SC_ERR_MALFORMED);
}

/* ---- the self-issued leaf (needs profile.c) ---- */

struct net {
	EVP_PKEY *root_key, *signer_key;
	X509 *root, *signer;
};

static void net_make(struct net *n)
{
	n->root_key = keygen(SC_ALG_P256);
	n->signer_key = keygen(SC_ALG_P256);
	assert_int_equal(sc_cert_net_root(n->root_key, "net-1", DAYS, &n->root), SC_OK);
	assert_int_equal(sc_cert_profile_signer(n->signer_key, "net-1", DAYS, n->root, n->root_key,
	                     &n->signer),
	    SC_OK);
}

static void net_free(struct net *n)
{
	EVP_PKEY_free(n->root_key);
	EVP_PKEY_free(n->signer_key);
	X509_free(n->root);
	X509_free(n->signer);
}

static struct sc_profile *signed_profile(struct net *n, struct sc_profile_params *pp)
{
	struct sc_profile *p = NULL;
	assert_int_equal(sc_profile_create(pp, &p), SC_OK);
	assert_int_equal(sc_profile_sign(p, n->signer_key, n->signer, NULL, 0), SC_OK);
	return p;
}

static void test_issue_leaf(void **state)
{
	static const char *const eku[] = { "clientAuth", "1.3.6.1.5.5.7.3.1", NULL };
	static const char *const san[] = { "dns:www.DEV-A.selfcert.invalid", "ip:192.0.2.7",
		"dns:dev-a.selfcert.invalid", NULL };
	struct net n;
	time_t now = time(NULL);
	size_t i;
	(void)state;

	net_make(&n);
	for (i = 0; i < N_ALGS; i++) {
		struct pki p;
		struct sc_profile_params pp = {
			.network_id = "net-1",
			.device_id = "DEV-A",
			.user_id = "alice@net-1",
			.profile_not_after = now + 3600,
			.not_before = now - 10,
			.not_after = now + 86400,
			.generate_alg = SC_ALG_P256,
			.cert_digest = SC_DIGEST_SHA384,
			.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT,
			.eku = eku,
			.san = san,
		};
		struct sc_profile *prof;
		struct sc_profile_info info;
		struct sc_issuance iss;
		EVP_PKEY *leaf_key = keygen(SC_ALG_P256);
		X509 *leaf = NULL;
		EXTENDED_KEY_USAGE *e;
		GENERAL_NAMES *g;
		int crit, mdnid;

		pki_make(&p, algs[i], "DEV-A");
		prof = signed_profile(&n, &pp);
		sc_profile_get_info(prof, &info);
		assert_int_equal(sc_cert_issue_leaf(prof, leaf_key, p.dev_ca, p.csk, 42, &leaf),
		    SC_OK);

		assert_subject(leaf, "/serialNumber=DEV-A/O=net-1/CN=alice@net-1");
		assert_name_types(X509_get_subject_name(leaf));
		assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf),
		                     X509_get_subject_name(p.dev_ca)),
		    0);
		assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(leaf), now - 10), 0);
		assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(leaf), now + 86400), 0);
		assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(leaf)), V_ASN1_UTCTIME);
		assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(leaf)), 16);
		assert_bc(leaf, 0, -1);
		assert_ku(leaf, KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
		assert_ext(leaf, NID_ext_key_usage, 0);
		assert_ext(leaf, NID_subject_alt_name, 0);
		assert_ext(leaf, NID_name_constraints, -1);
		assert_ext(leaf, sc_nid_pe_issuance(), 0);
		e = X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, NULL);
		assert_int_equal(sk_ASN1_OBJECT_num(e), 2);
		assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(e, 0)), NID_client_auth);
		assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(e, 1)), NID_server_auth);
		EXTENDED_KEY_USAGE_free(e);
		/* the device's DNS name first (form 2 device CA), the profile's own not repeated */
		g = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
		assert_int_equal(sk_GENERAL_NAME_num(g), 3);
		assert_int_equal(sk_GENERAL_NAME_value(g, 0)->type, GEN_DNS);
		assert_string_equal((const char *)ASN1_STRING_get0_data(
		                        sk_GENERAL_NAME_value(g, 0)->d.dNSName),
		    "dev-a.selfcert.invalid");
		assert_int_equal(sk_GENERAL_NAME_value(g, 1)->type, GEN_DNS);
		assert_int_equal(sk_GENERAL_NAME_value(g, 2)->type, GEN_IPADD);
		GENERAL_NAMES_free(g);
		/* SKI, AKI linkage and the signature, with the profile's certDigest */
		assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf),
		                     X509_get0_subject_key_id(p.dev_ca)),
		    0);
		assert_non_null(X509_get0_subject_key_id(leaf));
		assert_int_equal(X509_verify(leaf, p.csk), 1);
		assert_true(X509_get_signature_info(leaf, &mdnid, NULL, NULL, NULL));
		assert_int_equal(mdnid, algs[i] == SC_ALG_ED25519 ? NID_undef : NID_sha384);
		/* the issuance extension */
		assert_int_equal(sc_issuance_get(leaf, &iss), SC_OK);
		assert_memory_equal(iss.profile_id, info.id, SC_PROFILE_ID_LEN);
		assert_memory_equal(iss.profile_digest, info.digest, SC_PROFILE_DIGEST_LEN);
		assert_string_equal(iss.network_id, "net-1");
		assert_int_equal(iss.origin, SC_KEY_DEVICE_GENERATED);
		assert_int_equal(iss.counter, 42);
		/* stock path validation, name constraints included */
		assert_int_equal(path_verify(leaf, p.root, p.dev_ca, p.ca), X509_V_OK);

		X509_free(leaf);
		EVP_PKEY_free(leaf_key);
		sc_profile_free(prof);
		pki_free(&p);
	}
	net_free(&n);
}

/* Defaults: CN = device ID, keyUsage digitalSignature, no EKU, no SAN. */
static void test_issue_leaf_defaults(void **state)
{
	struct net n;
	struct pki p;
	time_t now = time(NULL);
	struct sc_profile_params pp = {
		.network_id = "net-1",
		.device_id = "DEV-A",
		.profile_not_after = now + 3600,
		.not_before = now,
		.not_after = now + 3600,
		.generate_alg = SC_ALG_ED25519,
	};
	struct sc_profile *prof;
	EVP_PKEY *leaf_key = keygen(SC_ALG_ED25519);
	X509 *leaf = NULL;
	(void)state;

	net_make(&n);
	pki_make(&p, SC_ALG_P384, "DEV-A");
	prof = signed_profile(&n, &pp);
	assert_int_equal(sc_cert_issue_leaf(prof, leaf_key, p.dev_ca, p.csk, 0, &leaf), SC_OK);
	assert_subject(leaf, "/serialNumber=DEV-A/O=net-1/CN=DEV-A");
	assert_ku(leaf, KU_DIGITAL_SIGNATURE);
	assert_ext(leaf, NID_ext_key_usage, -1);
	assert_ext(leaf, NID_subject_alt_name, 0); /* the device's DNS name alone */
	assert_int_equal(path_verify(leaf, p.root, p.dev_ca, p.ca), X509_V_OK);
	X509_free(leaf);
	leaf = NULL;
	/* under a form 1 device CA (before 2026-12) the leaf is as it was: no subjectAltName */
	X509_free(p.dev_ca);
	assert_int_equal(sc_cert_device_ca_form(p.csk, "DEV-A", DAYS, p.ca, p.ca_key,
	                     SC_DEVICE_CA_V1, &p.dev_ca),
	    SC_OK);
	assert_int_equal(sc_cert_issue_leaf(prof, leaf_key, p.dev_ca, p.csk, 0, &leaf), SC_OK);
	assert_ext(leaf, NID_subject_alt_name, -1);
	assert_int_equal(path_verify(leaf, p.root, p.dev_ca, p.ca), X509_V_OK);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	sc_profile_free(prof);
	pki_free(&p);
	net_free(&n);
}

/* ---- the SP's SPKI shortcut (fast/spki.c) beside the plain path ---- */

/* The DER of x's tbsCertificate, encoded from its fields. */
static int tbs_der(X509 *x, uint8_t **der)
{
	int n = i2d_re_X509_tbs(x, der);
	assert_true(n > 0);
	return n;
}

/* The length of the DER TLV at p (short or long form, up to 3 length octets). */
static size_t tlv_len(const uint8_t *p)
{
	size_t n = 0, i, k;

	if (p[1] < 0x80)
		return 2 + p[1];
	k = p[1] & 0x7f;
	assert_true(k >= 1 && k <= 3);
	for (i = 0; i < k; i++)
		n = (n << 8) | p[2 + i];
	return 2 + k + n;
}

/*
 * Issue 17: the SP's DER-only leaf (sc_fast_issue_leaf_der, the CSK's cached parts and the TBS
 * assembled directly) against like, the X509 path's leaf of the same inputs: given like's
 * serial set to the DER's, like's tbsCertificate is the DER's byte for byte; the algId after
 * it is the same; the DER verifies under the CSK and its key usage is *ku.
 */
static void der_only_matches(const uint8_t *der, size_t der_len, unsigned ku, X509 *like,
    EVP_PKEY *csk)
{
	const unsigned char *q = der;
	X509 *back = d2i_X509(NULL, &q, (long)der_len);
	uint8_t *tbs = NULL, *alg = NULL;
	size_t hl;
	int n, al;

	assert_non_null(back);
	assert_ptr_equal(q, der + der_len);
	assert_int_equal(X509_verify(back, csk), 1);
	assert_int_equal(X509_get_key_usage(back), ku);
	assert_int_equal(X509_set_serialNumber(like, X509_get_serialNumber(back)), 1);
	n = tbs_der(like, &tbs);
	hl = der[1] < 0x80 ? 2 : 2 + (size_t)(der[1] & 0x7f);
	assert_int_equal(tlv_len(der), der_len);
	assert_int_equal(tlv_len(der + hl), (size_t)n);
	assert_memory_equal(der + hl, tbs, (size_t)n);
	al = i2d_X509_ALGOR(X509_get0_tbs_sigalg(like), &alg);
	assert_true(al > 0);
	assert_memory_equal(der + hl + n, alg, (size_t)al);
	OPENSSL_free(tbs);
	OPENSSL_free(alg);
	X509_free(back);
}

/*
 * Give x the serial of like and sign it again as like was signed (the CSK, like's digest): two
 * leaves of the same inputs then differ only where their paths do. ECDSA signatures are random,
 * so the caller compares tbsCertificates for those; RSA and Ed25519 ones are deterministic.
 */
static void same_serial_resign(X509 *x, X509 *like, EVP_PKEY *csk)
{
	ASN1_INTEGER *sn = ASN1_INTEGER_dup(X509_get0_serialNumber(like));
	int mdnid = NID_undef;
	const EVP_MD *md;

	assert_non_null(sn);
	assert_int_equal(X509_set_serialNumber(x, sn), 1);
	ASN1_INTEGER_free(sn);
	assert_int_equal(X509_get_signature_info(like, &mdnid, NULL, NULL, NULL), 1);
	md = mdnid == NID_undef ? NULL : EVP_get_digestbynid(mdnid);
	assert_true(X509_sign(x, csk, md) > 0);
}

/*
 * Byte for byte, for every CSK and every leaf algorithm: the SP's issuance with the shortcut
 * (sc_fast_issue_leaf, shortcuts on), the same with the shortcuts off, and the public
 * sc_cert_issue_leaf make the same certificate, given the same serial. The shortcut's SPKI is
 * what i2d_PUBKEY writes; the public function's leaf always has its key decoded.
 */
static void test_issue_leaf_fast_spki(void **state)
{
	static const enum sc_alg leaf_algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519,
		SC_ALG_RSA2048 };
	static const char *const eku[] = { "clientAuth", NULL };
	static const char *const san[] = { "dns:api.dev-a.selfcert.invalid", NULL };
	int was = sc_fast_enabled();
	struct net n;
	time_t now = time(NULL);
	(void)state;

	net_make(&n);
	for (size_t c = 0; c < N_ALGS; c++) {
		struct pki p;
		/* ECDSA signs with fresh randomness: compare what it signs, not the signature. */
		int deterministic = algs[c] != SC_ALG_P256 && algs[c] != SC_ALG_P384;

		pki_make(&p, algs[c], "DEV-A");
		/* Profile shapes (leaf algorithm i % 4, shape i / 4): everything; the minimum (no
		 * user ID, EKU, SAN or key usage: the defaults); key usage, SHA-384 and the far
		 * validity of GeneralizedTime; a renewal profile's certificate. */
		for (size_t i = 0; i < 4 * sizeof(leaf_algs) / sizeof(leaf_algs[0]); i++) {
			size_t shape = i / 4;
			struct sc_profile_params pp = {
				.network_id = "net-1",
				.device_id = "DEV-A",
				.user_id = shape == 0 || shape == 2 ? "alice" : NULL,
				.profile_not_after = now + 3600,
				.not_before = now,
				.not_after =
				    shape == 2 ? (time_t)2556144000 /* 2051 */ : now + 3600,
				.generate_alg = leaf_algs[i % 4],
				.eku = shape == 1 ? NULL : eku,
				.san = shape == 1 ? NULL : san,
				.key_usage = shape == 2 ? KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT
				                        : 0,
				.cert_digest = shape == 2 ? SC_DIGEST_SHA384 : SC_DIGEST_NONE,
				.renewal_count = shape == 3 ? 4 : 0,
				.renewal_cadence = shape == 3 ? 600 : 0,
			};
			struct sc_profile *prof = signed_profile(&n, &pp);
			EVP_PKEY *leaf_key = keygen(leaf_algs[i % 4]);
			X509 *fast = NULL, *off = NULL, *pub = NULL, *back = NULL;
			uint8_t *want = NULL, *got = NULL, *a = NULL, *b = NULL, *d = NULL;
			uint8_t *fast_der = NULL, *off_der = NULL, *re = NULL;
			size_t fast_der_len = 0, off_der_len = 0;
			const unsigned char *q;
			int want_len, got_len, la, lb, ld, lre;

			sc_fast_set(1);
			assert_int_equal(sc_fast_issue_leaf(prof, leaf_key, p.dev_ca, p.csk, 9,
			                     &fast, &fast_der, &fast_der_len),
			    SC_OK);
			assert_int_equal(sc_cert_issue_leaf(prof, leaf_key, p.dev_ca, p.csk, 9,
			                     &pub),
			    SC_OK);
			sc_fast_set(0);
			assert_int_equal(sc_fast_issue_leaf(prof, leaf_key, p.dev_ca, p.csk, 9,
			                     &off, &off_der, &off_der_len),
			    SC_OK);
			sc_fast_set(was);

			/*
			 * The DER handed out is what OpenSSL encodes from the certificate's fields:
			 * the shortcut's (TBS encoded once, the certificate assembled around it, issue
			 * 17) and the plain path's (i2d_X509).
			 */
			lre = i2d_X509(fast, &re);
			assert_int_equal(lre, (int)fast_der_len);
			assert_memory_equal(re, fast_der, fast_der_len);
			OPENSSL_free(re);
			re = NULL;
			lre = i2d_X509(off, &re);
			assert_int_equal(lre, (int)off_der_len);
			assert_memory_equal(re, off_der, off_der_len);
			OPENSSL_free(re);

			/* The shortcut was taken (no decoded key) except for RSA; the others decode. */
			if (leaf_algs[i % 4] == SC_ALG_RSA2048)
				assert_non_null(X509_get0_pubkey(fast));
			else
				assert_null(X509_get0_pubkey(fast));
			ERR_clear_error();
			assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(pub), leaf_key), 1);
			assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(off), leaf_key), 1);

			/* The SPKI is what i2d_PUBKEY writes. */
			want_len = i2d_PUBKEY(leaf_key, &want);
			got_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(fast), &got);
			assert_true(want_len > 0);
			assert_int_equal(got_len, want_len);
			assert_memory_equal(got, want, (size_t)want_len);

			/* The whole certificate, given the same serial. */
			same_serial_resign(off, fast, p.csk);
			same_serial_resign(pub, fast, p.csk);
			if (deterministic) {
				la = i2d_X509(fast, &a);
				lb = i2d_X509(off, &b);
				ld = i2d_X509(pub, &d);
			} else {
				la = tbs_der(fast, &a);
				lb = tbs_der(off, &b);
				ld = tbs_der(pub, &d);
			}
			assert_true(la > 0);
			assert_int_equal(lb, la);
			assert_int_equal(ld, la);
			assert_memory_equal(b, a, (size_t)la);
			assert_memory_equal(d, a, (size_t)la);

			/* Its DER parses back to the key, verifies and validates. */
			q = fast_der;
			assert_non_null(back = d2i_X509(NULL, &q, (long)fast_der_len));
			assert_ptr_equal(q, fast_der + fast_der_len);
			assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(back), leaf_key), 1);
			assert_int_equal(X509_verify(back, p.csk), 1);
			assert_int_equal(path_verify(back, p.root, p.dev_ca, p.ca), X509_V_OK);

			/* The DER-only leaf (issue 17), shortcuts on and off, against the X509's. */
			{
				struct sc_leaf_issuer *li = NULL;
				uint8_t *dd = NULL;
				size_t dd_len = 0;
				unsigned ku = 0;

				assert_int_equal(sc_leaf_issuer_new(p.dev_ca, p.csk, &li), SC_OK);
				assert_int_equal(sc_leaf_issuer_is_for(li, p.dev_ca, p.csk), 1);
				for (int on = 1; on >= 0; on--) {
					sc_fast_set(on);
					assert_int_equal(sc_fast_issue_leaf_der(prof, leaf_key, li,
					                     9, &dd, &dd_len, &ku),
					    SC_OK);
					sc_fast_set(was);
					der_only_matches(dd, dd_len, ku, fast, p.csk);
					OPENSSL_free(dd);
					dd = NULL;
				}
				sc_leaf_issuer_free(li);
			}

			OPENSSL_free(want);
			OPENSSL_free(got);
			OPENSSL_free(fast_der);
			OPENSSL_free(off_der);
			OPENSSL_free(a);
			OPENSSL_free(b);
			OPENSSL_free(d);
			X509_free(fast);
			X509_free(off);
			X509_free(pub);
			X509_free(back);
			EVP_PKEY_free(leaf_key);
			sc_profile_free(prof);
		}
		pki_free(&p);
	}
	net_free(&n);
}

/*
 * Issue 17: the verifier's expected leaf (sc_cert_expected_leaf_at) takes the SPKI shortcut; its
 * tbsCertificate must be the plain path's byte for byte, for every leaf algorithm, and its SPKI
 * what i2d_PUBKEY writes: verify.c compares a registered leaf against it in DER.
 */
static void test_expected_leaf_fast_spki(void **state)
{
	static const enum sc_alg leaf_algs[] = { SC_ALG_P256, SC_ALG_P384, SC_ALG_ED25519,
		SC_ALG_RSA2048 };
	int was = sc_fast_enabled();
	struct net n;
	struct pki p;
	time_t now = time(NULL);
	(void)state;

	net_make(&n);
	pki_make(&p, SC_ALG_P256, "DEV-A");
	for (size_t i = 0; i < sizeof(leaf_algs) / sizeof(leaf_algs[0]); i++) {
		struct sc_profile_params pp = {
			.network_id = "net-1",
			.device_id = "DEV-A",
			.profile_not_after = now + 3600,
			.not_before = now,
			.not_after = now + 3600,
			.generate_alg = leaf_algs[i],
		};
		struct sc_profile *prof = signed_profile(&n, &pp);
		EVP_PKEY *leaf_key = keygen(leaf_algs[i]);
		X509 *fast = NULL, *off = NULL;
		uint8_t *want = NULL, *got = NULL, *a = NULL, *b = NULL;
		int want_len, got_len, la, lb;

		sc_fast_set(1);
		assert_int_equal(sc_cert_expected_leaf_at(prof, leaf_key, p.dev_ca, 3, 0, &fast),
		    SC_OK);
		sc_fast_set(0);
		assert_int_equal(sc_cert_expected_leaf_at(prof, leaf_key, p.dev_ca, 3, 0, &off),
		    SC_OK);
		sc_fast_set(was);
		if (leaf_algs[i] == SC_ALG_RSA2048)
			assert_non_null(X509_get0_pubkey(fast));
		else
			assert_null(X509_get0_pubkey(fast));
		ERR_clear_error();
		want_len = i2d_PUBKEY(leaf_key, &want);
		got_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(fast), &got);
		assert_true(want_len > 0);
		assert_int_equal(got_len, want_len);
		assert_memory_equal(got, want, (size_t)want_len);
		/* The serial is random per call: give both the same, and a signature algorithm
		 * (an unsigned tbsCertificate has none to encode), then compare every byte. */
		assert_int_equal(X509_set_serialNumber(off, X509_get_serialNumber(fast)), 1);
		assert_true(X509_sign(fast, p.csk, EVP_sha256()) > 0);
		assert_true(X509_sign(off, p.csk, EVP_sha256()) > 0);
		la = tbs_der(fast, &a);
		lb = tbs_der(off, &b);
		assert_int_equal(lb, la);
		assert_memory_equal(b, a, (size_t)la);
		OPENSSL_free(want);
		OPENSSL_free(got);
		OPENSSL_free(a);
		OPENSSL_free(b);
		X509_free(fast);
		X509_free(off);
		EVP_PKEY_free(leaf_key);
		sc_profile_free(prof);
	}
	pki_free(&p);
	net_free(&n);
}

static void test_issue_leaf_refusals(void **state)
{
	struct net n;
	struct pki p;
	time_t now = time(NULL);
	struct sc_profile_params pp = {
		.network_id = "net-1",
		.device_id = "DEV-A",
		.profile_not_after = now + 3600,
		.not_before = now,
		.not_after = now + 3600,
		.generate_alg = SC_ALG_P256,
	};
	struct sc_profile *prof, *other, *unsigned_ = NULL;
	EVP_PKEY *p256 = keygen(SC_ALG_P256), *p384 = keygen(SC_ALG_P384);
	X509 *leaf = NULL;
	(void)state;

	net_make(&n);
	pki_make(&p, SC_ALG_P256, "DEV-A");
	prof = signed_profile(&n, &pp);
	/* a key of another algorithm than the profile asks for */
	assert_int_equal(sc_cert_issue_leaf(prof, p384, p.dev_ca, p.csk, 1, &leaf),
	    SC_ERR_KEY_MISMATCH);
	/* a CSK that is not the device CA's key */
	assert_int_equal(sc_cert_issue_leaf(prof, p256, p.dev_ca, p256, 1, &leaf), SC_ERR_USAGE);
	/* a profile for another device */
	pp.device_id = "DEV-B";
	other = signed_profile(&n, &pp);
	assert_int_equal(sc_cert_issue_leaf(other, p256, p.dev_ca, p.csk, 1, &leaf),
	    SC_ERR_DEVICE_MISMATCH);
	/* the same refusals through the SP's DER-only entry and its CSK cache (issue 17) */
	{
		struct sc_leaf_issuer *li = NULL;
		uint8_t *dd = NULL;
		size_t dd_len = 0;
		unsigned ku = 0;

		assert_int_equal(sc_leaf_issuer_new(p.dev_ca, p256, &li), SC_ERR_USAGE);
		assert_non_null(strstr(sc_err_detail(), "issuer key does not match"));
		assert_null(li);
		assert_int_equal(sc_leaf_issuer_new(NULL, p.csk, &li), SC_ERR_USAGE);
		assert_int_equal(sc_fast_issue_leaf_der(prof, p256, NULL, 1, &dd, &dd_len, &ku),
		    SC_ERR_USAGE);
		assert_int_equal(sc_leaf_issuer_new(p.dev_ca, p.csk, &li), SC_OK);
		assert_int_equal(sc_leaf_issuer_is_for(li, p.dev_ca, p256), 0);
		assert_int_equal(sc_fast_issue_leaf_der(other, p256, li, 1, &dd, &dd_len, &ku),
		    SC_ERR_DEVICE_MISMATCH);
		assert_null(dd);
		assert_int_equal(dd_len, 0);
		sc_leaf_issuer_free(li);
	}
	/* a profile dNSName outside the form 2 device CA's subtree: every stack would refuse it */
	{
		static const char *const outside[] = { "dns:dev-a.example", NULL };
		static const char *const sibling[] = { "dns:xdev-a.selfcert.invalid", NULL };
		struct sc_profile *bad;
		pp.device_id = "DEV-A";
		pp.san = outside;
		bad = signed_profile(&n, &pp);
		assert_int_equal(sc_cert_issue_leaf(bad, p256, p.dev_ca, p.csk, 1, &leaf),
		    SC_ERR_EXTENSION);
		assert_non_null(strstr(sc_err_detail(), "\"dev-a.example\" is outside"));
		sc_profile_free(bad);
		pp.san = sibling;
		bad = signed_profile(&n, &pp);
		assert_int_equal(sc_cert_expected_leaf(bad, p256, p.dev_ca, 1, &leaf),
		    SC_ERR_EXTENSION);
		sc_profile_free(bad);
		pp.san = NULL;
		assert_null(leaf);
	}
	/* an unsigned profile has no digest yet */
	pp.device_id = "DEV-A";
	assert_int_equal(sc_profile_create(&pp, &unsigned_), SC_OK);
	assert_int_equal(sc_cert_issue_leaf(unsigned_, p256, p.dev_ca, p.csk, 1, &leaf),
	    SC_ERR_USAGE);
	assert_int_equal(sc_cert_issue_leaf(NULL, p256, p.dev_ca, p.csk, 1, &leaf), SC_ERR_USAGE);
	assert_null(leaf);
	/* no CSK: refused by the signing entries (only the expected leaf is left unsigned) */
	assert_int_equal(sc_cert_issue_leaf(prof, p256, p.dev_ca, NULL, 1, &leaf), SC_ERR_USAGE);
	assert_int_equal(sc_fast_issue_leaf(prof, p256, p.dev_ca, NULL, 1, &leaf, NULL, NULL),
	    SC_ERR_USAGE);
	assert_null(leaf);
	/* the expected leaf: the issued one, field for field, but the serial and the signature */
	{
		X509 *exp = NULL;
		int i;
		assert_int_equal(sc_cert_issue_leaf(prof, p256, p.dev_ca, p.csk, 5, &leaf), SC_OK);
		assert_int_equal(sc_cert_expected_leaf(prof, p256, p.dev_ca, 5, &exp), SC_OK);
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(leaf),
		                     X509_get_subject_name(exp)),
		    0);
		assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf),
		                     X509_get_issuer_name(exp)),
		    0);
		assert_int_equal(ASN1_STRING_cmp(X509_get0_notAfter(leaf), X509_get0_notAfter(exp)),
		    0);
		assert_int_equal(X509_get_ext_count(leaf), X509_get_ext_count(exp));
		for (i = 0; i < X509_get_ext_count(leaf); i++) {
			unsigned char *a = NULL, *b = NULL;
			int la = i2d_X509_EXTENSION(X509_get_ext(leaf, i), &a);
			int lb = i2d_X509_EXTENSION(X509_get_ext(exp, i), &b);
			assert_true(la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0);
			OPENSSL_free(a);
			OPENSSL_free(b);
		}
		X509_free(exp);
		X509_free(leaf);
		leaf = NULL;
	}
	sc_profile_free(prof);
	sc_profile_free(other);
	sc_profile_free(unsigned_);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	pki_free(&p);
	net_free(&n);
}

/* The server-generated embodiment: the leaf certifies exactly the supplied key. */
static void test_issue_leaf_supplied(void **state)
{
	struct net n;
	struct pki p;
	time_t now = time(NULL);
	EVP_PKEY *kek = keygen(SC_ALG_RSA2048), *supplied = keygen(SC_ALG_P256);
	EVP_PKEY *other = keygen(SC_ALG_P256);
	X509 *kek_cert = NULL, *leaf = NULL;
	struct sc_profile_params pp = {
		.network_id = "net-1",
		.device_id = "DEV-A",
		.profile_not_after = now + 3600,
		.not_before = now,
		.not_after = now + 3600,
	};
	struct sc_profile *prof;
	struct sc_issuance iss;
	(void)state;

	net_make(&n);
	pki_make(&p, SC_ALG_P256, "DEV-A");
	assert_int_equal(sc_cert_device_kex(kek, "DEV-A", DAYS, p.ca, p.ca_key, &kek_cert), SC_OK);
	pp.supplied_key = supplied;
	pp.kek_cert = kek_cert;
	prof = signed_profile(&n, &pp);
	assert_int_equal(sc_cert_issue_leaf(prof, other, p.dev_ca, p.csk, 7, &leaf),
	    SC_ERR_KEY_MISMATCH);
	assert_int_equal(sc_cert_issue_leaf(prof, supplied, p.dev_ca, p.csk, 7, &leaf), SC_OK);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), supplied), 1);
	assert_int_equal(sc_issuance_get(leaf, &iss), SC_OK);
	assert_int_equal(iss.origin, SC_KEY_SERVER_SUPPLIED);
	assert_int_equal(iss.counter, 7);
	assert_int_equal(path_verify(leaf, p.root, p.dev_ca, p.ca), X509_V_OK);
	X509_free(leaf);
	X509_free(kek_cert);
	EVP_PKEY_free(kek);
	EVP_PKEY_free(supplied);
	EVP_PKEY_free(other);
	sc_profile_free(prof);
	pki_free(&p);
	net_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_device_kex),
		cmocka_unit_test(test_network),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_device_dns_name),
		cmocka_unit_test(test_device_ca_form_of),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_cert_device_id),
		cmocka_unit_test(test_issuance_good),
		cmocka_unit_test(test_issuance_absent_critical_twice),
		cmocka_unit_test(test_issuance_malformed),
		cmocka_unit_test(test_issue_leaf),
		cmocka_unit_test(test_issue_leaf_defaults),
		cmocka_unit_test(test_issue_leaf_fast_spki),
		cmocka_unit_test(test_expected_leaf_fast_spki),
		cmocka_unit_test(test_issue_leaf_refusals),
		cmocka_unit_test(test_issue_leaf_supplied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
