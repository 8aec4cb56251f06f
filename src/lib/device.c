// SPDX-License-Identifier: Apache-2.0
/*
 * device.c — a device's CA and KEK certificates judged under the manufacturer root
 * (selfcert/device.h): the form of docs/FORMATS.md's device CA, then stock path validation of
 * both, then that one manufacturer CA issued both. The operator's activation checks a shipment
 * with it; selfcert-provd's check_device applies the same checks in the same order.
 */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/device.h>

/* Path validation of cert to the one root with the untrusted intermediates; *path its chain. */
static sc_err verify_path(const struct sc_device_trust *t, X509 *cert, STACK_OF(X509) *untrusted,
    const char *what, STACK_OF(X509) **path)
{
	X509_STORE *own = NULL, *store = t->store;
	X509_STORE_CTX *ctx = NULL;
	sc_err r;

	*path = NULL;
	if (store == NULL &&
	    ((store = own = X509_STORE_new()) == NULL || !X509_STORE_add_cert(own, t->mfr_root)))
		store = NULL;
	if (store == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, cert, untrusted) ||
	    sc_sig_cache_attach(ctx, t->sigs) != SC_OK) {
		r = sc_fail(SC_ERR_INTERNAL, "cannot set up path validation");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		r = sc_fail(SC_ERR_CHAIN,
		    "%s does not chain to the manufacturer root: %s (depth %d)", what,
		    X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	if ((*path = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		r = sc_fail(SC_ERR_INTERNAL, "cannot read the verified chain");
		goto out;
	}
	r = SC_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(own);
	return r;
}

/* The device CA's form: a pathlen-0 CA with keyCertSign, a device ID, name constraints to it. */
static sc_err device_ca_form(X509 *devca, char device_id[SC_DEVICE_ID_MAX + 1])
{
	if (X509_check_ca(devca) <= 0 || !(X509_get_key_usage(devca) & KU_KEY_CERT_SIGN) ||
	    sc_cert_device_id(devca, device_id, SC_DEVICE_ID_MAX + 1) != SC_OK ||
	    !sc_device_id_valid(device_id)) {
		device_id[0] = '\0';
		ERR_clear_error();
		return sc_fail(SC_ERR_NOT_DEVICE_CA,
		    "the first certificate is not a device CA (CA with keyCertSign and a "
		    "serialNumber device ID)");
	}
	/* A manufacturer's CA could issue a device CA without them; the SP's CSK would not care. */
	if (X509_get_pathlen(devca) != 0)
		return sc_fail(SC_ERR_NOT_DEVICE_CA,
		    "the device CA for %s is not limited to pathlen 0", device_id);
	/*
	 * Either form of docs/FORMATS.md (V1 directoryName, V2 dNSName): without one the CSK could
	 * sign for any name, and stock relying parties would believe it.
	 */
	if (sc_cert_device_ca_form_of(devca, device_id) == SC_DEVICE_CA_NONE)
		return sc_fail(SC_ERR_NOT_DEVICE_CA,
		    "the device CA for %s lacks critical name constraints to serialNumber=%s or "
		    "its DNS name",
		    device_id, device_id);
	return SC_OK;
}

sc_err sc_device_verify(const struct sc_device_trust *t, STACK_OF(X509) *chain, X509 *kek,
    char device_id[SC_DEVICE_ID_MAX + 1], enum sc_device_part *bad)
{
	STACK_OF(X509) *untrusted = NULL, *ca_path = NULL, *kek_path = NULL;
	char kek_id[SC_DEVICE_ID_MAX + 1];
	X509 *devca;
	sc_err r;

	device_id[0] = '\0';
	*bad = SC_DEVICE_PART_NONE;
	if (t == NULL || t->mfr_root == NULL || chain == NULL || sk_X509_num(chain) < 1)
		return sc_fail(SC_ERR_USAGE, "sc_device_verify: a root and a chain");
	devca = sk_X509_value(chain, 0);
	*bad = SC_DEVICE_PART_CHAIN;
	if ((r = device_ca_form(devca, device_id)) != SC_OK)
		return r;
	if ((untrusted = sk_X509_dup(chain)) == NULL) {
		*bad = SC_DEVICE_PART_NONE;
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	}
	(void)sk_X509_shift(untrusted);
	if ((r = verify_path(t, devca, untrusted, "the device CA", &ca_path)) != SC_OK)
		goto out;
	if (kek == NULL) { /* the device CA's half only (provd's carried chain, dur11) */
		*bad = SC_DEVICE_PART_NONE;
		r = SC_OK;
		goto out;
	}
	*bad = SC_DEVICE_PART_KEK;
	if (sc_cert_device_id(kek, kek_id, sizeof(kek_id)) != SC_OK ||
	    strcmp(kek_id, device_id) != 0) {
		r = sc_fail(SC_ERR_KEK_MISMATCH,
		    "the KEK certificate is not device %s's (subject serialNumber differs)",
		    device_id);
		goto out;
	}
	if (X509_check_ca(kek) != 0) {
		r = sc_fail(SC_ERR_KEK_MISMATCH,
		    "the KEK certificate is a CA certificate, not a key-exchange certificate");
		goto out;
	}
	if ((r = verify_path(t, kek, untrusted, "the KEK certificate", &kek_path)) != SC_OK)
		goto out;
	/* [0] is the certificate itself, [1] its issuer: the same manufacturer CA for both. */
	if (sk_X509_num(ca_path) < 2 || sk_X509_num(kek_path) < 2 ||
	    X509_cmp(sk_X509_value(ca_path, 1), sk_X509_value(kek_path, 1)) != 0) {
		r = sc_fail(SC_ERR_KEK_MISMATCH,
		    "the KEK certificate was issued by another CA than the device CA");
		goto out;
	}
	*bad = SC_DEVICE_PART_NONE;
	r = SC_OK;
out:
	sk_X509_free(untrusted);
	sk_X509_pop_free(ca_path, X509_free);
	sk_X509_pop_free(kek_path, X509_free);
	ERR_clear_error();
	return r;
}
