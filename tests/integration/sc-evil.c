// SPDX-License-Identifier: Apache-2.0
/*
 * sc-evil.c — a test-only tool that crafts profiles the real `selfcert net profile` never
 * makes, for the negative integration tests. Not installed, not part of any release.
 *
 *   sc-evil swap-public-key IN.der NETDIR OUT.der
 *       A server-generated profile whose SubjectPublicKeyInfo is replaced by a fresh key of the
 *       same algorithm and re-signed with NETDIR's signer: the encrypted private key no longer
 *       matches its public key (the SP must answer key-mismatch).
 *
 *   sc-evil nc-leaves MFRDIR OUTDIR DEVICE-ID OTHER-ID [FORM]
 *       Outside any SP, with a test key: a device CA for DEVICE-ID made by the library's own
 *       device-CA profile (sc_cert_device_ca, or sc_cert_device_ca_form with FORM 1 or 2), and
 *       three leaves it signs: own.pem (serialNumber=DEVICE-ID), other.pem
 *       (serialNumber=OTHER-ID), each with its device's DNS name as subjectAltName when it has
 *       one, and other-subject.pem (serialNumber=OTHER-ID with DEVICE-ID's DNS name). Writes
 *       device-ca.pem, chain.pem (device CA + manufacturer CA) and the leaves. Stock path
 *       validation must accept own.pem and refuse other.pem.
 *
 *   sc-evil extra-ou MFRDIR NETDIR OUTDIR DEVICE-ID NETWORK-ID
 *       Outside any SP, with a test CSK: a device CA for DEVICE-ID (as nc-leaves), a profile
 *       for it signed with NETDIR's signer (profile.der), the leaf the library issues under it
 *       (good.pem), and the same leaf with OU=operators added to its subject and re-signed with
 *       the CSK and the profile's digest (ou.pem): every field a relying party compared before
 *       issue 16 still matches, yet it is not the certificate the profile dictates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "profile_internal.h"
#include "testworld.h"

static int die(const char *what)
{
	fprintf(stderr, "sc-evil: %s: %s: %s\n", what, sc_err_name(SC_ERR_INTERNAL),
	    sc_err_detail());
	return 1;
}

/* A minimal leaf (as sc_test_cert_leaf) naming serial, with san ("" for none). */
static sc_err nc_leaf(X509 *ca, EVP_PKEY *ca_key, const char *serial, const char *san, X509 **out)
{
	EVP_PKEY *key = NULL;
	struct sc_test_cert leaf = {
		.serial_number = serial,
		.cn = "leaf",
		.issuer = ca,
		.issuer_key = ca_key,
		.days = 1,
		.bc = "critical,CA:FALSE",
		.san = san[0] != '\0' ? san : NULL,
	};
	sc_err r;

	if ((r = sc_alg_keygen(SC_ALG_P256, &key)) != SC_OK)
		return r;
	leaf.pub = key;
	r = sc_test_cert_make(&leaf, out);
	EVP_PKEY_free(key);
	return r;
}

static int nc_leaves(char **argv)
{
	char path[4096];
	X509 *mca = NULL, *dca = NULL, *own = NULL, *other = NULL, *forged = NULL;
	EVP_PKEY *mca_key = NULL, *csk = NULL;
	int form = argv[6] != NULL ? atoi(argv[6]) : 0;
	char own_san[SC_DEVICE_DNS_MAX + 8] = "", other_san[SC_DEVICE_DNS_MAX + 8] = "";

	snprintf(path, sizeof(path), "%s/ca.pem", argv[2]);
	if (sc_load_cert(path, &mca) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/ca.key", argv[2]);
	if (sc_key_open(path, &mca_key) != SC_OK)
		return die(path);
	if (sc_alg_keygen(SC_ALG_P256, &csk) != SC_OK ||
	    (form == 0 ? sc_cert_device_ca(csk, argv[4], 30, mca, mca_key, &dca)
	               : sc_cert_device_ca_form(csk, argv[4], 30, mca, mca_key,
	                     (enum sc_device_ca_form)form, &dca)) != SC_OK)
		return die("device CA");
	/* The leaves are the test world's minimal ones (tests/testlib): only the CA is on trial. */
	memcpy(own_san, "DNS:", 4);
	memcpy(other_san, "DNS:", 4);
	if (sc_cert_device_dns_name(argv[4], own_san + 4, sizeof(own_san) - 4) != SC_OK)
		own_san[0] = '\0';
	if (sc_cert_device_dns_name(argv[5], other_san + 4, sizeof(other_san) - 4) != SC_OK)
		other_san[0] = '\0';
	if (nc_leaf(dca, csk, argv[4], own_san, &own) != SC_OK ||
	    nc_leaf(dca, csk, argv[5], other_san, &other) != SC_OK ||
	    nc_leaf(dca, csk, argv[5], own_san, &forged) != SC_OK)
		return die("leaves");
	{
		X509 *chain[2] = { dca, mca };
		snprintf(path, sizeof(path), "%s/device-ca.pem", argv[3]);
		if (sc_write_cert(path, dca) != SC_OK)
			return die(path);
		snprintf(path, sizeof(path), "%s/chain.pem", argv[3]);
		if (sc_write_certs(path, chain, 2) != SC_OK)
			return die(path);
	}
	snprintf(path, sizeof(path), "%s/own.pem", argv[3]);
	if (sc_write_cert(path, own) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/other.pem", argv[3]);
	if (sc_write_cert(path, other) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/other-subject.pem", argv[3]);
	if (sc_write_cert(path, forged) != SC_OK)
		return die(path);
	X509_free(forged);
	X509_free(mca);
	X509_free(dca);
	X509_free(own);
	X509_free(other);
	EVP_PKEY_free(mca_key);
	EVP_PKEY_free(csk);
	return 0;
}

static int extra_ou(char **argv)
{
	char path[4096];
	X509 *mca = NULL, *dca = NULL, *good = NULL, *ou = NULL, *signer = NULL;
	EVP_PKEY *mca_key = NULL, *csk = NULL, *lk = NULL, *signer_key = NULL;
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	uint8_t ch[32] = { 1 }, *der = NULL;
	size_t len = 0;
	X509_NAME *n;
	time_t now = time(NULL);

	snprintf(path, sizeof(path), "%s/ca.pem", argv[2]);
	if (sc_load_cert(path, &mca) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/ca.key", argv[2]);
	if (sc_key_open(path, &mca_key) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/signer.pem", argv[3]);
	if (sc_load_cert(path, &signer) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/signer.key", argv[3]);
	if (sc_key_open(path, &signer_key) != SC_OK)
		return die(path);
	if (sc_alg_keygen(SC_ALG_P256, &csk) != SC_OK || sc_alg_keygen(SC_ALG_P256, &lk) != SC_OK ||
	    sc_cert_device_ca(csk, argv[5], 30, mca, mca_key, &dca) != SC_OK)
		return die("device CA");
	memset(&pp, 0, sizeof(pp));
	pp.network_id = argv[6];
	pp.device_id = argv[5];
	pp.challenge = ch;
	pp.challenge_len = sizeof(ch);
	pp.profile_not_after = now + 3600;
	pp.not_before = now - 60;
	pp.not_after = now + 86400;
	pp.generate_alg = SC_ALG_P256;
	if (sc_profile_create(&pp, &p) != SC_OK ||
	    sc_profile_sign(p, signer_key, signer, NULL, 0) != SC_OK ||
	    sc_profile_encode(p, &der, &len) != SC_OK)
		return die("profile");
	if (sc_cert_issue_leaf(p, lk, dca, csk, 1, &good) != SC_OK ||
	    (ou = X509_dup(good)) == NULL ||
	    (n = X509_NAME_dup(X509_get_subject_name(good))) == NULL)
		return die("leaf");
	if (!X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)"operators",
	        -1, -1, 0) ||
	    !X509_set_subject_name(ou, n) ||
	    X509_sign(ou, csk, sc_sign_md(csk, p->info.cert_digest)) <= 0)
		return die("OU=operators");
	X509_NAME_free(n);
	{
		X509 *chain[2] = { dca, mca };
		snprintf(path, sizeof(path), "%s/chain.pem", argv[4]);
		if (sc_write_certs(path, chain, 2) != SC_OK)
			return die(path);
	}
	snprintf(path, sizeof(path), "%s/profile.der", argv[4]);
	if (sc_file_write_atomic(path, der, len, 0644) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/good.pem", argv[4]);
	if (sc_write_cert(path, good) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/ou.pem", argv[4]);
	if (sc_write_cert(path, ou) != SC_OK)
		return die(path);
	OPENSSL_free(der);
	sc_profile_free(p);
	X509_free(mca);
	X509_free(dca);
	X509_free(good);
	X509_free(ou);
	X509_free(signer);
	EVP_PKEY_free(mca_key);
	EVP_PKEY_free(csk);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(signer_key);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t *der = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	struct sc_profile *p = NULL;
	EVP_PKEY *fresh = NULL, *signer_key = NULL;
	X509 *signer = NULL;
	char path[4096];
	SC_SUPPLIED_KEY *sk;

	if ((argc == 6 || argc == 7) && strcmp(argv[1], "nc-leaves") == 0)
		return nc_leaves(argv);
	if (argc == 7 && strcmp(argv[1], "extra-ou") == 0)
		return extra_ou(argv);
	if (argc != 5 || strcmp(argv[1], "swap-public-key") != 0) {
		fprintf(stderr,
		    "usage: sc-evil swap-public-key IN.der NETDIR OUT.der\n"
		    "       sc-evil nc-leaves MFRDIR OUTDIR DEVICE-ID OTHER-ID [FORM]\n"
		    "       sc-evil extra-ou MFRDIR NETDIR OUTDIR DEVICE-ID NETWORK-ID\n");
		return 2;
	}
	if (sc_file_read(argv[2], SC_PROFILE_MAX_DER, &der, &len) != SC_OK ||
	    sc_profile_decode(der, len, &p) != SC_OK)
		return die(argv[2]);
	if (p->sp->tbsProfile->key->type != SC_KEY_SPEC_SUPPLIED)
		return die("not a server-generated profile");
	sk = p->sp->tbsProfile->key->value.supplied;
	if (sc_alg_keygen(sc_alg_of_key(X509_PUBKEY_get0(sk->publicKey)), &fresh) != SC_OK ||
	    !X509_PUBKEY_set(&sk->publicKey, fresh))
		return die("new key");
	snprintf(path, sizeof(path), "%s/signer.pem", argv[3]);
	if (sc_load_cert(path, &signer) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/signer.key", argv[3]);
	if (sc_key_open(path, &signer_key) != SC_OK)
		return die(path);
	if (sc_profile_sign(p, signer_key, signer, NULL, 0) != SC_OK ||
	    sc_profile_encode(p, &out, &out_len) != SC_OK ||
	    sc_file_write_atomic(argv[4], out, out_len, 0644) != SC_OK)
		return die("re-sign");
	OPENSSL_free(der);
	OPENSSL_free(out);
	sc_profile_free(p);
	EVP_PKEY_free(fresh);
	EVP_PKEY_free(signer_key);
	X509_free(signer);
	return 0;
}
