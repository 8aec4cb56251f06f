// SPDX-License-Identifier: Apache-2.0
/*
 * testworld.c — the test PKI world of testworld.h, built with raw OpenSSL from the table of
 * docs/FORMATS.md "Certificate profiles". Deliberately shares no code with src/lib/cert.c: a
 * bug there must not be copied into the certificates the library is tested against.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>
#include "testworld.h"

#define SERIAL_LEN 16   /* as every selfcert certificate: 16 random bytes, positive */
#define SKEW_SECONDS 60 /* notBefore a minute back, as the library's, for clock skew */

/* SHA-384 for P-384 (its strength), none for Ed25519 (pure), SHA-256 otherwise. */
static const EVP_MD *digest_for(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519"))
		return NULL;
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 384)
		return EVP_sha384();
	return EVP_sha256();
}

static sc_err add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if (value == NULL)
		return SC_OK;
	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return sc_fail_ossl(SC_ERR_INTERNAL, OBJ_nid2sn(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? SC_OK : sc_fail_ossl(SC_ERR_INTERNAL, OBJ_nid2sn(nid));
}

/* nameConstraints (critical): permitted subtree directoryName serialNumber=<serial>. */
static sc_err add_name_constraints(X509 *x, const char *serial)
{
	NAME_CONSTRAINTS *nc = NULL;
	GENERAL_SUBTREE *st = NULL;
	GENERAL_NAME *gn = NULL;
	X509_NAME *dn = NULL;
	sc_err r;

	if (serial == NULL)
		return SC_OK;
	if ((nc = NAME_CONSTRAINTS_new()) == NULL || (st = GENERAL_SUBTREE_new()) == NULL ||
	    (gn = GENERAL_NAME_new()) == NULL || (dn = X509_NAME_new()) == NULL ||
	    (nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()) == NULL) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "nameConstraints");
		goto out;
	}
	if (!X509_NAME_add_entry_by_NID(dn, NID_serialNumber, V_ASN1_PRINTABLESTRING,
	        (const unsigned char *)serial, -1, -1, 0)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "nameConstraints serialNumber");
		goto out;
	}
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dn);
	dn = NULL;
	GENERAL_NAME_free(st->base);
	st->base = gn;
	gn = NULL;
	if (!sk_GENERAL_SUBTREE_push(nc->permittedSubtrees, st)) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "nameConstraints");
		goto out;
	}
	st = NULL;
	if (X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "nameConstraints");
		goto out;
	}
	r = SC_OK;
out:
	X509_NAME_free(dn);
	GENERAL_NAME_free(gn);
	GENERAL_SUBTREE_free(st);
	NAME_CONSTRAINTS_free(nc);
	return r;
}

static sc_err set_subject(X509 *x, const struct sc_test_cert *s)
{
	const int nid[] = { NID_serialNumber, NID_organizationName, NID_commonName };
	const char *val[] = { s->serial_number, s->o, s->cn };
	X509_NAME *name = X509_NAME_new();
	sc_err r;

	if (name == NULL)
		return sc_fail_ossl(SC_ERR_NOMEM, "subject");
	for (size_t i = 0; i < sizeof(nid) / sizeof(nid[0]); i++) {
		/* The device ID is a PrintableString (FORMATS.md); every other name UTF8String. */
		int type = nid[i] == NID_serialNumber ? V_ASN1_PRINTABLESTRING : MBSTRING_UTF8;
		if (val[i] != NULL &&
		    !X509_NAME_add_entry_by_NID(name, nid[i], type, (const unsigned char *)val[i],
		        -1, -1, 0)) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "subject");
			goto out;
		}
	}
	if (!X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : name)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "names");
		goto out;
	}
	r = SC_OK;
out:
	X509_NAME_free(name);
	return r;
}

static sc_err set_validity(X509 *x, const struct sc_test_cert *s)
{
	int ok;

	if (s->not_before != 0)
		ok = ASN1_TIME_set(X509_getm_notBefore(x), s->not_before) != NULL;
	else
		ok = X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_SECONDS) != NULL;
	if (ok && s->not_after != 0)
		ok = ASN1_TIME_set(X509_getm_notAfter(x), s->not_after) != NULL;
	else if (ok)
		ok = X509_time_adj_ex(X509_getm_notAfter(x), s->days, -SKEW_SECONDS, NULL) != NULL;
	return ok ? SC_OK : sc_fail_ossl(SC_ERR_INTERNAL, "validity");
}

static sc_err set_serial(X509 *x)
{
	uint8_t b[SERIAL_LEN];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "serial");
	b[0] = (uint8_t)((b[0] & 0x7f) | 0x01); /* positive, and never shorter than 16 bytes */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return sc_fail_ossl(SC_ERR_NOMEM, "serial");
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? SC_OK : sc_fail_ossl(SC_ERR_INTERNAL, "serial");
}

sc_err sc_test_cert_make(const struct sc_test_cert *s, X509 **out)
{
	EVP_PKEY *signer = s->issuer_key != NULL ? s->issuer_key : s->pub;
	X509 *x = X509_new();
	X509V3_CTX ctx;
	sc_err r;

	*out = NULL;
	if (x == NULL)
		return sc_fail_ossl(SC_ERR_NOMEM, "X509_new");
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_pubkey(x, s->pub)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "version, key");
		goto out;
	}
	if ((r = set_validity(x, s)) != SC_OK || (r = set_serial(x)) != SC_OK ||
	    (r = set_subject(x, s)) != SC_OK)
		goto out;
	X509V3_set_ctx(&ctx, s->issuer ? s->issuer : x, x, NULL, NULL, 0);
	if ((r = add_conf_ext(x, &ctx, NID_basic_constraints, s->bc)) != SC_OK ||
	    (r = add_conf_ext(x, &ctx, NID_key_usage, s->ku)) != SC_OK ||
	    (r = add_conf_ext(x, &ctx, NID_ext_key_usage, s->eku)) != SC_OK ||
	    (r = add_conf_ext(x, &ctx, NID_subject_alt_name, s->san)) != SC_OK ||
	    (r = add_name_constraints(x, s->nc_serial)) != SC_OK ||
	    (r = add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash")) != SC_OK ||
	    (r = add_conf_ext(x, &ctx, NID_authority_key_identifier,
	         s->issuer ? "keyid:always" : NULL)) != SC_OK)
		goto out;
	if (X509_sign(x, signer, digest_for(signer)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "X509_sign");
		goto out;
	}
	*out = x;
	x = NULL;
	r = SC_OK;
out:
	X509_free(x);
	return r;
}

/* "<prefix><suffix>" into buf, for the CN of each row. */
static const char *cat(char *buf, size_t len, const char *a, const char *b)
{
	snprintf(buf, len, "%s%s", a, b);
	return buf;
}

static sc_err device_row(const struct sc_test_world *w, EVP_PKEY *pub, const char *device_id,
    int ca, X509 **out)
{
	char cn[SC_DEVICE_ID_MAX + 32];
	struct sc_test_cert s = {
		.serial_number = device_id,
		.o = w->mfr,
		.cn = cat(cn, sizeof(cn), device_id, ca ? " Device CA" : " Key Exchange"),
		.pub = pub,
		.issuer = w->mfr_ca,
		.issuer_key = w->mfr_ca_key,
		.not_before = w->device_not_before,
		.days = w->days,
	};

	if (ca) {
		s.bc = "critical,CA:TRUE,pathlen:0";
		/* ca 2: a device CA certified since issue 14, which signs its own CRL. */
		s.ku = ca == 2 ? "critical,keyCertSign,cRLSign" : "critical,keyCertSign";
		s.nc_serial = device_id;
	} else {
		s.bc = "critical,CA:FALSE";
		s.ku = EVP_PKEY_is_a(pub, "RSA") ? "critical,keyEncipherment"
		                                 : "critical,keyAgreement";
	}
	return sc_test_cert_make(&s, out);
}

sc_err sc_test_world_device_ca(const struct sc_test_world *w, EVP_PKEY *pub, const char *device_id,
    X509 **out)
{
	return device_row(w, pub, device_id, 1, out);
}

sc_err sc_test_world_device_ca_crl(const struct sc_test_world *w, EVP_PKEY *pub,
    const char *device_id, X509 **out)
{
	return device_row(w, pub, device_id, 2, out);
}

sc_err sc_test_world_kek(const struct sc_test_world *w, EVP_PKEY *pub, const char *device_id,
    X509 **out)
{
	return device_row(w, pub, device_id, 0, out);
}

static sc_err copy_name(char *dst, size_t len, const char *src, const char *dflt, const char *what)
{
	src = src ? src : dflt;
	if (strlen(src) >= len)
		return sc_fail(SC_ERR_USAGE, "test world: %s longer than %zu bytes", what, len - 1);
	memcpy(dst, src, strlen(src) + 1);
	return SC_OK;
}

static sc_err make_keys(struct sc_test_world *w)
{
	/* The KEK must be able to receive a CMS envelope: never Ed25519. */
	enum sc_alg kek_alg = w->alg == SC_ALG_ED25519 ? SC_ALG_P256 : w->alg;
	sc_err r;

	if ((r = sc_alg_keygen(w->alg, &w->mfr_root_key)) != SC_OK ||
	    (r = sc_alg_keygen(w->alg, &w->mfr_ca_key)) != SC_OK ||
	    (r = sc_alg_keygen(w->alg, &w->csk)) != SC_OK ||
	    (r = sc_alg_keygen(kek_alg, &w->kek)) != SC_OK ||
	    (r = sc_alg_keygen(w->signer_alg, &w->net_root_key)) != SC_OK ||
	    (r = sc_alg_keygen(w->signer_alg, &w->signer_key)) != SC_OK)
		return r;
	return SC_OK;
}

/* O=<name>, CN=<name> Device Issuing CA, pathlen 1, under the world's manufacturer root. */
static sc_err mfr_ca_row(const struct sc_test_world *w, const char *name, EVP_PKEY *pub, X509 **out)
{
	char cn[SC_NETWORK_ID_MAX + 32];
	const struct sc_test_cert s = {
		.o = name,
		.cn = cat(cn, sizeof(cn), name, " Device Issuing CA"),
		.pub = pub,
		.issuer = w->mfr_root,
		.issuer_key = w->mfr_root_key,
		.days = w->days,
		.bc = "critical,CA:TRUE,pathlen:1",
		.ku = "critical,keyCertSign,cRLSign",
	};

	return sc_test_cert_make(&s, out);
}

sc_err sc_test_world_mfr_ca(const struct sc_test_world *w, const char *name, EVP_PKEY **key,
    X509 **out)
{
	sc_err r;

	*out = NULL;
	if ((r = sc_alg_keygen(w->alg, key)) != SC_OK)
		return r;
	if ((r = mfr_ca_row(w, name, *key, out)) != SC_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return r;
}

static sc_err make_certs(struct sc_test_world *w)
{
	char cn[3][SC_NETWORK_ID_MAX + 32];
	const struct sc_test_cert mfr_root = {
		.cn = cat(cn[0], sizeof(cn[0]), w->mfr, " Root"),
		.pub = w->mfr_root_key,
		.issuer_key = w->mfr_root_key,
		.days = w->days,
		.bc = "critical,CA:TRUE",
		.ku = "critical,keyCertSign,cRLSign",
	};
	const struct sc_test_cert net_root = {
		.o = w->network_id,
		.cn = cat(cn[1], sizeof(cn[1]), w->network_id, " Network Root"),
		.pub = w->net_root_key,
		.issuer_key = w->net_root_key,
		.days = w->days,
		.bc = "critical,CA:TRUE",
		.ku = "critical,keyCertSign,cRLSign",
	};
	struct sc_test_cert signer = {
		.o = w->network_id,
		.cn = cat(cn[2], sizeof(cn[2]), w->network_id, " Profile Signer"),
		.pub = w->signer_key,
		.issuer_key = w->net_root_key,
		.days = w->days,
		.bc = "critical,CA:FALSE",
		.ku = "critical,digitalSignature",
		.eku = SC_OID_KP_PROFILESIGN,
	};
	sc_err r;

	if ((r = sc_test_cert_make(&mfr_root, &w->mfr_root)) != SC_OK ||
	    (r = sc_test_cert_make(&net_root, &w->net_root)) != SC_OK)
		return r;
	signer.issuer = w->net_root;
	if ((r = mfr_ca_row(w, w->mfr, w->mfr_ca_key, &w->mfr_ca)) != SC_OK ||
	    (r = sc_test_cert_make(&signer, &w->signer)) != SC_OK ||
	    (r = sc_test_world_device_ca(w, w->csk, w->device_id, &w->device_ca)) != SC_OK ||
	    (r = sc_test_world_kek(w, w->kek, w->device_id, &w->kek_cert)) != SC_OK)
		return r;
	return SC_OK;
}

sc_err sc_test_world_make(const struct sc_test_world_opts *o, struct sc_test_world *w)
{
	static const struct sc_test_world_opts dflt;
	sc_err r;

	memset(w, 0, sizeof(*w));
	o = o ? o : &dflt;
	w->alg = o->alg != SC_ALG_NONE ? o->alg : SC_ALG_P256;
	w->signer_alg = o->signer_alg != SC_ALG_NONE ? o->signer_alg : w->alg;
	w->days = o->days > 0 ? o->days : SC_TEST_DAYS;
	if ((r = copy_name(w->mfr, sizeof(w->mfr), o->mfr, SC_TEST_MFR, "mfr")) != SC_OK ||
	    (r = copy_name(w->network_id, sizeof(w->network_id), o->network_id, SC_TEST_NET,
	         "network_id")) != SC_OK ||
	    (r = copy_name(w->device_id, sizeof(w->device_id), o->device_id, SC_TEST_DEV,
	         "device_id")) != SC_OK ||
	    (r = sc_oids_init()) != SC_OK || (r = make_keys(w)) != SC_OK ||
	    (r = make_certs(w)) != SC_OK) {
		sc_test_world_free(w);
		return r;
	}
	return SC_OK;
}

void sc_test_world_free(struct sc_test_world *w)
{
	EVP_PKEY *keys[] = { w->mfr_root_key, w->mfr_ca_key, w->csk, w->kek, w->net_root_key,
		w->signer_key };
	X509 *certs[] = { w->mfr_root, w->mfr_ca, w->device_ca, w->kek_cert, w->net_root,
		w->signer };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	memset(w, 0, sizeof(*w));
}

STACK_OF(X509) *sc_test_world_chain(const struct sc_test_world *w)
{
	STACK_OF(X509) *chain = sk_X509_new_null();

	if (chain == NULL || !sk_X509_push(chain, w->device_ca) ||
	    !sk_X509_push(chain, w->mfr_ca)) {
		sk_X509_free(chain);
		return NULL;
	}
	return chain;
}

sc_err sc_test_cert_leaf(X509 *ca, EVP_PKEY *ca_key, const char *serial_number, X509 **out)
{
	EVP_PKEY *key = NULL;
	struct sc_test_cert leaf = {
		.serial_number = serial_number,
		.cn = "leaf",
		.issuer = ca,
		.issuer_key = ca_key,
		.days = 1,
		.bc = "critical,CA:FALSE",
	};
	sc_err r;

	*out = NULL;
	if ((r = sc_alg_keygen(SC_ALG_P256, &key)) != SC_OK)
		return r;
	leaf.pub = key;
	r = sc_test_cert_make(&leaf, out);
	EVP_PKEY_free(key);
	return r;
}

void sc_test_profile_params(const struct sc_test_world *w, struct sc_profile_params *pp)
{
	time_t now = time(NULL);

	memset(pp, 0, sizeof(*pp));
	pp->network_id = w->network_id;
	pp->device_id = w->device_id;
	pp->profile_not_after = now + 3600;
	pp->not_before = now;
	pp->not_after = now + 86400;
	pp->generate_alg = SC_ALG_P256;
	pp->cert_digest = SC_DIGEST_SHA256;
}

sc_err sc_test_profile_make(const struct sc_test_world *w, const struct sc_profile_params *pp,
    uint8_t **der, size_t *len)
{
	struct sc_profile *p = NULL;
	sc_err r;

	*der = NULL;
	if ((r = sc_profile_create(pp, &p)) != SC_OK)
		return r;
	if ((r = sc_profile_sign(p, w->signer_key, w->signer, NULL, 0)) != SC_OK ||
	    (r = sc_profile_encode(p, der, len)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	sc_profile_free(p);
	return r;
}
