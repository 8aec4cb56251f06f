// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_mfr_revoke.c — `selfcert mfr revoke`: the manufacturer cuts a stolen device off entirely.
 * Its issuing CA (DIR/ca.key) signs a CRL revoking the device CA certificates given, added to
 * those DIR/ca.crl already revokes (crlNumber + 1); the root signs DIR/root.crl (empty) so that a
 * relying party checking every level (nginx's ssl_crl, `openssl verify -crl_check_all`) finds one.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include "cli.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"

#define CRL_FILE_MAX (4 << 20) /* ca.crl larger than this is not ours */
#define CRL_MAX_ENTRIES 100000 /* revoked device CAs one CRL holds */

static const char mfr_revoke_usage[] =
    "usage: selfcert mfr revoke --dir DIR [--device-ca FILE]... [--days N] [--out FILE]\n"
    "         [--json]\n"
    "  Revokes device CA certificates (the device's own CA, certified at personalization) in the\n"
    "  manufacturer CA's CRL, DIR/ca.crl (PEM; entries already there are kept, crlNumber goes up),\n"
    "  and re-signs DIR/root.crl (the root's, empty). Without --device-ca: both re-signed, e.g.\n"
    "  from a timer before nextUpdate. Stock OpenSSL checks them:\n"
    "    openssl verify -crl_check -CRLfile DIR/ca.crl -CAfile DIR/root.pem -untrusted DIR/ca.pem dev-ca.pem\n"
    "  --device-ca FILE  a device CA certificate (PEM), issued by DIR/ca.pem; repeatable\n"
    "  --days N          nextUpdate N days from now (default 7)\n"
    "  --out FILE        also write the manufacturer CA's CRL here\n"
    "  --json            print one JSON object (ca_crl, root_crl, revoked, next_update, out)\n";

/* DIR/ca.crl as it is, if there is one: PEM, signed by ca. *out NULL if missing. */
static sc_err load_crl(const char *path, X509 *ca, X509_CRL **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	sc_err r;

	*out = NULL;
	r = sc_file_read_ex(path, CRL_FILE_MAX, SC_FILE_MISSING, &data, &len);
	if (r == SC_ERR_NOT_FOUND)
		return SC_OK;
	if (r != SC_OK)
		return r;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL ||
	    (*out = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) == NULL) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: not a PEM CRL", path);
		goto out;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(*out), X509_get_subject_name(ca)) != 0 ||
	    X509_CRL_verify(*out, X509_get0_pubkey(ca)) != 1) {
		r = sc_fail(SC_ERR_CHAIN, "%s: not signed by the manufacturer CA", path);
		goto out;
	}
	r = SC_OK;
out:
	if (r != SC_OK) {
		X509_CRL_free(*out);
		*out = NULL;
	}
	BIO_free(bio);
	OPENSSL_free(data);
	return r;
}

/* 1 if serial is already among crl's entries. */
static int crl_has(X509_CRL *crl, const ASN1_INTEGER *serial)
{
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);

	for (int i = 0; i < sk_X509_REVOKED_num(rev); i++)
		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, i)),
		        serial) == 0)
			return 1;
	return 0;
}

static sc_err add_revoked(X509_CRL *crl, ASN1_INTEGER *serial, ASN1_TIME *when)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
	int ok = rev != NULL && reason != NULL && X509_REVOKED_set_serialNumber(rev, serial) &&
	    X509_REVOKED_set_revocationDate(rev, when) &&
	    ASN1_ENUMERATED_set(reason, CRL_REASON_KEY_COMPROMISE) &&
	    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) == 1 &&
	    X509_CRL_add0_revoked(crl, rev);

	ASN1_ENUMERATED_free(reason);
	if (!ok) {
		X509_REVOKED_free(rev);
		return sc_fail(SC_ERR_NOMEM, "CRL entry");
	}
	return SC_OK;
}

/*
 * A CRL by issuer (cert, key): old's entries (if any) plus `add`, crlNumber one above old's,
 * thisUpdate now, nextUpdate in days, authorityKeyIdentifier. *out is the caller's.
 */
static sc_err make_crl(X509 *issuer, EVP_PKEY *key, X509_CRL *old, X509 *const *add, size_t n_add,
    long days, X509_CRL **out)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_new(), *next = ASN1_TIME_new();
	ASN1_INTEGER *num = NULL, *old_num = NULL;
	BIGNUM *bn = NULL;
	X509V3_CTX v3;
	X509_EXTENSION *aki = NULL;
	sc_err r = SC_OK;

	*out = NULL;
	if (crl == NULL || now == NULL || next == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    X509_gmtime_adj(now, 0) == NULL || X509_time_adj_ex(next, (int)days, 0, NULL) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next)) {
		r = sc_fail(SC_ERR_NOMEM, "CRL");
		goto out;
	}
	for (int i = 0; old != NULL && i < sk_X509_REVOKED_num(X509_CRL_get_REVOKED(old)); i++) {
		X509_REVOKED *e = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(old), i);
		X509_REVOKED *d = X509_REVOKED_dup(e);

		if (d == NULL || !X509_CRL_add0_revoked(crl, d)) {
			X509_REVOKED_free(d);
			r = sc_fail(SC_ERR_NOMEM, "CRL entry");
			goto out;
		}
	}
	for (size_t i = 0; i < n_add; i++) {
		if (crl_has(crl, X509_get0_serialNumber(add[i])))
			continue;
		if (sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) >= CRL_MAX_ENTRIES) {
			r = sc_fail(SC_ERR_OVERSIZE, "more than %d revoked device CAs",
			    CRL_MAX_ENTRIES);
			goto out;
		}
		if ((r = add_revoked(crl, X509_get_serialNumber(add[i]), now)) != SC_OK)
			goto out;
	}
	/* crlNumber: one above the old CRL's, so a relying party can tell the newer one. */
	old_num = old != NULL ? X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL) : NULL;
	if ((bn = old_num != NULL ? ASN1_INTEGER_to_BN(old_num, NULL) : BN_new()) == NULL ||
	    !BN_add_word(bn, 1) || (num = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1) {
		r = sc_fail(SC_ERR_NOMEM, "CRL number");
		goto out;
	}
	X509V3_set_ctx(&v3, issuer, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier, "keyid:always")) ==
	        NULL ||
	    !X509_CRL_add_ext(crl, aki, -1)) {
		r = sc_fail(SC_ERR_INTERNAL, "CRL authorityKeyIdentifier");
		goto out;
	}
	X509_CRL_sort(crl);
	if (X509_CRL_sign(crl, key,
	        EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()) <= 0) {
		r = sc_fail(SC_ERR_INTERNAL, "signing the CRL");
		goto out;
	}
	*out = crl;
	crl = NULL;
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_INTEGER_free(old_num);
	BN_free(bn);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return r;
}

static sc_err write_crl(const char *path, X509_CRL *crl)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	sc_err r;

	if (bio == NULL || !PEM_write_bio_X509_CRL(bio, crl)) {
		BIO_free(bio);
		return sc_fail(SC_ERR_NOMEM, "encoding the CRL");
	}
	BIO_get_mem_ptr(bio, &mem);
	r = sc_file_write_atomic(path, mem->data, mem->length, 0644);
	BIO_free(bio);
	return r;
}

sc_err cmd_mfr_revoke(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "device-ca", 1, 1 },
		{ "days", 1, 0 },
		{ "out", 1, 0 },
		{ "json", 0, 0 },
	};
	char path[PATH_MAX];
	struct cli_args a;
	const char *dir;
	long days;
	X509 *ca = NULL, *root = NULL, *devs[CLI_MAX_VALUES] = { NULL };
	EVP_PKEY *ca_key = NULL, *root_key = NULL;
	X509_CRL *old = NULL, *crl = NULL, *root_crl = NULL, *old_root = NULL;
	int n = 0;
	sc_err r;

	if ((r = cli_parse(&a, "mfr revoke", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(mfr_revoke_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK ||
	    (r = cli_int(&a, "days", 7, 1, 3650, &days)) != SC_OK)
		return r;
	if ((r = cli_path(path, sizeof(path), dir, "ca.pem")) != SC_OK ||
	    (r = sc_load_cert(path, &ca)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "ca.key")) != SC_OK ||
	    (r = sc_key_open(path, &ca_key)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "root.pem")) != SC_OK ||
	    (r = sc_load_cert(path, &root)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "root.key")) != SC_OK ||
	    (r = sc_key_open(path, &root_key)) != SC_OK)
		goto out;
	for (n = 0; n < cli_count(&a, "device-ca"); n++) {
		const char *f = cli_nth(&a, "device-ca", n);

		if ((r = sc_load_cert(f, &devs[n])) != SC_OK)
			goto out;
		/* Only what this CA issued: a serial means nothing under another issuer. */
		if (X509_check_issued(ca, devs[n]) != X509_V_OK ||
		    X509_verify(devs[n], X509_get0_pubkey(ca)) != 1) {
			X509_free(devs[n]);
			devs[n] = NULL;
			r = sc_fail(SC_ERR_CHAIN, "--device-ca %s: not issued by %s/ca.pem", f,
			    dir);
			goto out;
		}
	}
	if ((r = cli_path(path, sizeof(path), dir, "ca.crl")) != SC_OK ||
	    (r = load_crl(path, ca, &old)) != SC_OK ||
	    (r = make_crl(ca, ca_key, old, devs, (size_t)n, days, &crl)) != SC_OK ||
	    (r = write_crl(path, crl)) != SC_OK)
		goto out;
	if (cli_has(&a, "out") && (r = write_crl(cli_get(&a, "out"), crl)) != SC_OK)
		goto out;
	if ((r = cli_path(path, sizeof(path), dir, "root.crl")) != SC_OK ||
	    (r = load_crl(path, root, &old_root)) != SC_OK ||
	    (r = make_crl(root, root_key, old_root, NULL, 0, days, &root_crl)) != SC_OK ||
	    (r = write_crl(path, root_crl)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:o, s:o, s:i, s:o, s:s?}", "ca_crl",
		    cli_json_path(dir, "ca.crl"), "root_crl", cli_json_path(dir, "root.crl"),
		    "revoked", sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), "next_update",
		    cli_json_time(X509_CRL_get0_nextUpdate(crl)), "out", cli_get(&a, "out")));
	else {
		printf("%s/ca.crl: %d device CA(s) revoked, next update in %ld days; %s/root.crl\n",
		    dir, sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), days, dir);
		r = SC_OK;
	}
out:
	for (int i = 0; i < n; i++)
		X509_free(devs[i]);
	X509_CRL_free(old);
	X509_CRL_free(crl);
	X509_CRL_free(old_root);
	X509_CRL_free(root_crl);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(root_key);
	X509_free(ca);
	X509_free(root);
	return r;
}
