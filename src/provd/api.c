// SPDX-License-Identifier: Apache-2.0
/*
 * api.c — the provisioning API's start-up: load the network's signer and roots and the
 * manufacturer root, prove the signer works, read the operator's token; and free it all.
 * Requests are routes.c's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "api.h"
#include "batcher.h"
#include "auditlim.h"
#include "firstrefs.h"
#include "leafrefs.h"
#include "keyopen.h"
#include "certcache.h"
#include "fast/profile_signer.h"
#include "fast/x509.h"
#include "file.h"
#include "pem.h"
#include "profcache.h"
#include "text.h"

/* ---- start-up ---- */

static sc_err subject_o(X509 *cert, char *out, size_t out_len)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *u = NULL;
	int i = X509_NAME_get_index_by_NID(name, NID_organizationName, -1), n;

	if (i < 0 ||
	    (n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) <=
	        0 ||
	    (size_t)n >= out_len || memchr(u, '\0', (size_t)n) != NULL) {
		OPENSSL_free(u);
		return sc_fail(SC_ERR_MALFORMED, "no network ID (subject O of 1..%zu bytes)",
		    out_len - 1);
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(u);
	return SC_OK;
}

/*
 * Prove the setup once at start: a throw-away profile signed with the signer must verify
 * against the network root, as every device will check it.
 */
static sc_err prove_signer(const struct provd_api *api, const char *net_dir)
{
	sc_err r;

	if ((r = sc_profile_prove_signer(api->network_id, "start-up-check", api->signer_key,
	         api->signer, api->net_root)) != SC_OK)
		r = sc_fail(r, "%s: the profile signer does not work with root.pem: %s", net_dir,
		    sc_err_detail());
	ERR_clear_error();
	return r;
}

/* Everything loaded is api's (provd_api_free), on failure too. */
sc_err provd_api_load(struct provd_api *api, const char *net_dir, const char *mfr_root_path)
{
	char path[4096];
	sc_err r;

	if ((r = sc_load_cert(mfr_root_path, &api->mfr_root)) != SC_OK)
		return r;
	/* judge12: the root's hash for the pins, once (X509_digest encodes the root each time). */
	if (!X509_digest(api->mfr_root, EVP_sha256(), api->mfr_root_sha256, NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "hashing the manufacturer root");
	/* Built once: every device check validates to the same anchor. */
	if ((api->mfr_store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(api->mfr_store, api->mfr_root))
		return sc_fail_ossl(SC_ERR_NOMEM, "the manufacturer root's trust store");
	if ((r = provd_certcache_new(PROVD_CERTCACHE_DEFAULT, &api->certs)) != SC_OK ||
	    (r = sc_sig_cache_new(PROVD_SIGCACHE_DEFAULT, &api->sigs)) != SC_OK ||
	    (r = provd_profcache_new(PROVD_PROFCACHE_DEFAULT, &api->profiles)) != SC_OK ||
	    (r = provd_leafrefs_new(api->leafrefs_max != 0 ? api->leafrefs_max
	                                                   : PROVD_LEAFREFS_DEFAULT,
	         &api->leafrefs)) != SC_OK ||
	    /* A reference is usable only while its profile is kept: the profile cache's bound. */
	    (r = provd_firstrefs_new(PROVD_PROFCACHE_DEFAULT, &api->firstrefs)) != SC_OK ||
	    (r = provd_auditlim_new(&api->auditlim)) != SC_OK)
		return r;
#define NETFILE(name) \
	(snprintf(path, sizeof(path), "%s/%s", net_dir, name) < (int)sizeof(path) ? path : "")
	if ((r = sc_load_cert(NETFILE("root.pem"), &api->net_root)) != SC_OK ||
	    (r = sc_load_cert(NETFILE("signer.pem"), &api->signer)) != SC_OK ||
	    (r = sc_key_open(api->signer_key_spec != NULL ? api->signer_key_spec
	                                                  : NETFILE("signer.key"),
	         &api->signer_key)) != SC_OK)
		return r;
	if ((r = subject_o(api->signer, api->network_id, sizeof(api->network_id))) != SC_OK)
		return sc_fail(r, "%s: %s", NETFILE("signer.pem"), sc_err_detail());
#undef NETFILE
	if (X509_check_private_key(api->signer, api->signer_key) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_KEY_MISMATCH, "%s does not belong to %s/signer.pem",
		    api->signer_key_spec != NULL ? "--signer-key" : "signer.key", net_dir);
	}
	if ((r = prove_signer(api, net_dir)) != SC_OK ||
	    (r = sc_profile_signer_new(api->signer_key, api->signer, 0, &api->profile_signer)) !=
	        SC_OK)
		return r;
	/* The kept context signs every profile: proved too, so that one that does not fails here. */
	if ((r = sc_profile_signer_prove(api->profile_signer, api->network_id, "start-up-check",
	         api->net_root)) != SC_OK) {
		r = sc_fail(r,
		    "%s: the profile signer's kept context does not work with root.pem: %s",
		    net_dir, sc_err_detail());
		ERR_clear_error();
		return r;
	}
	/*
	 * From here on, the certificates of requests and of the registry are read without OpenSSL
	 * 3.0's per-key decoder (fast/x509.h, issue 17). Not the server's own, loaded above: their
	 * keys meet keys of other providers (a PKCS#11 signer key), which a legacy key cannot be
	 * compared with.
	 */
	sc_fast_x509_set(1);
	return SC_OK;
}

sc_err provd_api_set_admin_token(struct provd_api *api, const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0, read_len;
	sc_err r;

	/* The operator's secret: the owner's alone (SC_FILE_PRIVATE). */
	if ((r = sc_file_read_ex(path, PROVD_ADMIN_TOKEN_MAX + 2, SC_FILE_PRIVATE, &data, &len)) !=
	    SC_OK)
		return r;
	read_len = len;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len < PROVD_ADMIN_TOKEN_MIN || len > PROVD_ADMIN_TOKEN_MAX) {
		r = sc_fail(SC_ERR_USAGE, "%s: token of %zu bytes; expected %d..%d", path, len,
		    PROVD_ADMIN_TOKEN_MIN, PROVD_ADMIN_TOKEN_MAX);
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		if (data[i] <= 0x20 || data[i] > 0x7e) {
			r = sc_fail(SC_ERR_USAGE,
			    "%s: the token must be printable ASCII without spaces", path);
			goto out;
		}
	if (!EVP_Digest(data, len, api->admin_token_hash, NULL, EVP_sha256(), NULL)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256");
		goto out;
	}
	api->admin_enabled = 1;
	r = SC_OK;
out:
	sc_free_secret(data, read_len);
	return r;
}

void provd_api_free(struct provd_api *api)
{
	X509_STORE_free(api->mfr_store);
	free(api->mfr_crls_pem);
	api->mfr_crls_pem = NULL;
	api->mfr_crls_len = api->n_mfr_crls = 0;
	provd_certcache_free(api->certs);
	sc_sig_cache_free(api->sigs);
	provd_profcache_free(api->profiles);
	provd_leafrefs_free(api->leafrefs);
	api->leafrefs = NULL;
	provd_firstrefs_free(api->firstrefs);
	api->firstrefs = NULL;
	provd_auditlim_free(api->auditlim);
	api->auditlim = NULL;
	provd_batcher_free(api->batcher);
	api->batcher = NULL;
	provd_keygen_stop(api->keygen); /* the HTTP workers are stopped: no caller is left */
	api->keygen = NULL;
	X509_free(api->mfr_root);
	X509_free(api->net_root);
	sc_profile_signer_free(api->profile_signer);
	api->profile_signer = NULL;
	X509_free(api->signer);
	EVP_PKEY_free(api->signer_key);
	OPENSSL_cleanse(api->admin_token_hash, sizeof(api->admin_token_hash));
	api->mfr_store = NULL;
	api->certs = NULL;
	api->sigs = NULL;
	api->profiles = NULL;
	api->mfr_root = api->net_root = api->signer = NULL;
	api->signer_key = NULL;
	api->admin_enabled = 0;
}
