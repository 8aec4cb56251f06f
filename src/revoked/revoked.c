// SPDX-License-Identifier: Apache-2.0
/*
 * revoked.c — the network's signed revocation list (revoked.h, docs/FORMATS.md): a JSON envelope
 * {"payload", "signature", "signer"} whose payload (JSON, base64) names the revoked devices, signed
 * by the profile signer over SC_REVOKED_CONTEXT, NUL, payload. Strict both ways.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/revoked.h>
#include "text.h"

#define REVOKED_VERSION 1
#define SEQ_MAX ((uint64_t)1 << 53) /* exact in every JSON reader */
#define SIGNER_PEM_MAX (16 * 1024)
#define SIG_MAX 1024

static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* What is signed: the context string, its NUL, the payload. */
static uint8_t *signed_bytes(const uint8_t *payload, size_t len, size_t *out_len)
{
	size_t c = sizeof(SC_REVOKED_CONTEXT);
	uint8_t *b = malloc(c + len);

	if (b == NULL)
		return NULL;
	memcpy(b, SC_REVOKED_CONTEXT, c);
	memcpy(b + c, payload, len);
	*out_len = c + len;
	return b;
}

static const EVP_MD *md_for(EVP_PKEY *k)
{
	return EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
}

sc_err sc_revoked_sign(const char *network_id, uint64_t sequence, int64_t this_update,
    int64_t next_update, const char *const *ids, size_t n, X509 *signer, EVP_PKEY *key, char **out)
{
	json_t *devs = NULL, *payload = NULL, *env = NULL;
	char *ptext = NULL, *p64 = NULL, *s64 = NULL, *pem = NULL;
	uint8_t *tbs = NULL, *sig = NULL;
	size_t tbs_len = 0, sig_len = 0;
	char(*sorted)[SC_DEVICE_ID_MAX + 1] = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	sc_err r;

	*out = NULL;
	if (network_id == NULL || strlen(network_id) == 0 ||
	    strlen(network_id) > SC_NETWORK_ID_MAX || sequence < 1 || sequence > SEQ_MAX ||
	    next_update <= this_update || n > SC_REVOKED_MAX_DEVICES || signer == NULL ||
	    key == NULL) {
		r = sc_fail(SC_ERR_USAGE, "sc_revoked_sign: a bad argument");
		goto out;
	}
	if ((sorted = calloc(n + 1, sizeof(sorted[0]))) == NULL || (devs = json_array()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!sc_device_id_valid(ids[i])) {
			r = sc_fail(SC_ERR_USAGE, "revocation list: '%.80s' is not a device ID",
			    ids[i]);
			goto out;
		}
		snprintf(sorted[i], sizeof(sorted[i]), "%s", ids[i]);
	}
	qsort(sorted, n, sizeof(sorted[0]), cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		if (json_array_append_new(devs, json_string(sorted[i])) != 0) {
			r = sc_fail(SC_ERR_NOMEM, "revocation list");
			goto out;
		}
	}
	payload = json_pack("{s:i, s:s, s:I, s:I, s:I, s:O}", "version", REVOKED_VERSION,
	    "network_id", network_id, "sequence", (json_int_t)sequence, "this_update",
	    (json_int_t)this_update, "next_update", (json_int_t)next_update, "devices", devs);
	if (payload == NULL ||
	    (ptext = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    (tbs = signed_bytes((const uint8_t *)ptext, strlen(ptext), &tbs_len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, md_for(key), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &sig_len, tbs, tbs_len) != 1 ||
	    (sig = OPENSSL_malloc(sig_len)) == NULL ||
	    EVP_DigestSign(md, sig, &sig_len, tbs, tbs_len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "signing the revocation list");
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(bio, signer)) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((pem = strndup(mem->data, mem->length)) == NULL ||
	    (p64 = sc_base64_encode((const uint8_t *)ptext, strlen(ptext))) == NULL ||
	    (s64 = sc_base64_encode(sig, sig_len)) == NULL ||
	    (env = json_pack("{s:s, s:s, s:s}", "payload", p64, "signature", s64, "signer", pem)) ==
	        NULL ||
	    (*out = json_dumps(env, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	r = SC_OK;
out:
	json_decref(env);
	json_decref(payload);
	json_decref(devs);
	free(ptext);
	free(p64);
	free(s64);
	free(pem);
	free(tbs);
	free(sorted);
	OPENSSL_free(sig);
	EVP_MD_CTX_free(md);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

/* The signer: chains to the network root, not a CA, EKU profileSigning, for network_id. */
static sc_err check_signer(X509 *signer, X509 *root, const char *network_id, int64_t now,
    const char *what)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	EXTENDED_KEY_USAGE *eku = NULL;
	char o[SC_NETWORK_ID_MAX + 2];
	int found = 0;
	sc_err r;

	if ((r = sc_oids_init()) != SC_OK)
		goto out;
	if (store == NULL || ctx == NULL || !X509_STORE_add_cert(store, root) ||
	    !X509_STORE_CTX_init(ctx, store, signer, NULL)) {
		r = sc_fail(SC_ERR_NOMEM, "X509_STORE");
		goto out;
	}
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
	    now < 0 ? time(NULL) : (time_t)now);
	if (X509_verify_cert(ctx) != 1) {
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER,
		    "%s: \"signer\" does not chain to the network root: %s", what,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (X509_check_ca(signer) != 0) {
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER, "%s: \"signer\" is a CA certificate", what);
		goto out;
	}
	if ((eku = X509_get_ext_d2i(signer, NID_ext_key_usage, NULL, NULL)) != NULL)
		for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
			if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) ==
			    sc_nid_kp_profile_signing())
				found = 1;
	if (!found) {
		r = sc_fail(SC_ERR_SIGNER_EKU, "%s: \"signer\" lacks id-sc-kp-profileSigning",
		    what);
		goto out;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(signer), NID_organizationName, o,
	        sizeof(o)) < 0 ||
	    strcmp(o, network_id) != 0) {
		r = sc_fail(SC_ERR_UNTRUSTED_SIGNER, "%s: \"signer\" is not network %s's", what,
		    network_id);
		goto out;
	}
	r = SC_OK;
out:
	EXTENDED_KEY_USAGE_free(eku);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return r;
}

/* The payload's JSON (len bytes) into *l: exactly its fields, their types and ranges. */
static sc_err decode_payload(const uint8_t *p, size_t len, const char *what, struct sc_revoked *l)
{
	json_t *j = NULL, *devs = NULL, *e;
	json_error_t jerr;
	json_int_t version = 0, seq = 0, tu = 0, nu = 0;
	const char *net = NULL;
	size_t i;
	sc_err r;

	if ((j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: \"payload\" is not JSON (%s)", what, jerr.text);
		goto out;
	}
	if (json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I, s:s, s:I, s:I, s:I, s:o}", "version",
	        &version, "network_id", &net, "sequence", &seq, "this_update", &tu, "next_update",
	        &nu, "devices", &devs) != 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: payload: %s", what, jerr.text);
		goto out;
	}
	if (version != REVOKED_VERSION) {
		r = sc_fail(SC_ERR_VERSION, "%s: payload \"version\" %lld, expected %d", what,
		    (long long)version, REVOKED_VERSION);
		goto out;
	}
	if (strlen(net) == 0 || strlen(net) > SC_NETWORK_ID_MAX || seq < 1 ||
	    (uint64_t)seq > SEQ_MAX || tu < 0 || nu <= tu) {
		r = sc_fail(SC_ERR_MALFORMED,
		    "%s: payload \"network_id\", \"sequence\" or the update times are out of range",
		    what);
		goto out;
	}
	if (!json_is_array(devs) || json_array_size(devs) > SC_REVOKED_MAX_DEVICES) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: payload \"devices\": an array of at most %d",
		    what, SC_REVOKED_MAX_DEVICES);
		goto out;
	}
	if ((l->devices = calloc(json_array_size(devs) + 1, sizeof(l->devices[0]))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	json_array_foreach (devs, i, e) {
		/* Sorted and distinct, as the signer writes them: one list, one text. */
		if (!json_is_string(e) || !sc_device_id_valid(json_string_value(e)) ||
		    strlen(json_string_value(e)) != json_string_length(e) ||
		    (i > 0 && strcmp(json_string_value(e), l->devices[i - 1]) <= 0)) {
			r = sc_fail(SC_ERR_MALFORMED,
			    "%s: payload \"devices\"[%zu]: not a device ID in sorted order", what,
			    i);
			goto out;
		}
		snprintf(l->devices[i], sizeof(l->devices[i]), "%s", json_string_value(e));
	}
	l->n = json_array_size(devs);
	snprintf(l->network_id, sizeof(l->network_id), "%s", net);
	l->sequence = (uint64_t)seq;
	l->this_update = tu;
	l->next_update = nu;
	r = SC_OK;
out:
	json_decref(j);
	return r;
}

sc_err sc_revoked_decode(const uint8_t *data, size_t len, const char *what, X509 *net_root,
    int64_t now, struct sc_revoked **out)
{
	struct sc_revoked *l = NULL;
	json_t *env = NULL;
	json_error_t jerr;
	const char *p64 = NULL, *s64 = NULL, *pem = NULL;
	uint8_t *payload = NULL, *sig = NULL, *tbs = NULL;
	size_t payload_len = 0, sig_len = 0, tbs_len = 0;
	X509 *signer = NULL;
	BIO *bio = NULL;
	EVP_MD_CTX *md = NULL;
	sc_err r;

	*out = NULL;
	if (len > SC_REVOKED_MAX) {
		r = sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes, at most %u", what, len,
		    SC_REVOKED_MAX);
		goto out;
	}
	if ((env = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		/* jansson stops at the first value: what follows it is trailing data. */
		r = sc_fail(strstr(jerr.text, "end of file expected") != NULL ? SC_ERR_TRAILING
		                                                              : SC_ERR_MALFORMED,
		    "%s: %s", what, jerr.text);
		goto out;
	}
	if (json_unpack_ex(env, &jerr, JSON_STRICT, "{s:s, s:s, s:s}", "payload", &p64, "signature",
	        &s64, "signer", &pem) != 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: %s", what, jerr.text);
		goto out;
	}
	if ((r = sc_base64_decode(p64, strlen(p64), SC_REVOKED_MAX, &payload, &payload_len)) !=
	        SC_OK ||
	    (r = sc_base64_decode(s64, strlen(s64), SIG_MAX, &sig, &sig_len)) != SC_OK) {
		r = sc_fail(r, "%s: \"payload\" or \"signature\": %s", what, sc_err_detail());
		goto out;
	}
	if (strlen(pem) > SIGNER_PEM_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)strlen(pem))) == NULL ||
	    (signer = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: \"signer\" is not one PEM certificate", what);
		goto out;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	if ((r = decode_payload(payload, payload_len, what, l)) != SC_OK ||
	    (r = check_signer(signer, net_root, l->network_id, now, what)) != SC_OK)
		goto out;
	if ((tbs = signed_bytes(payload, payload_len, &tbs_len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revocation list");
		goto out;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, md_for(X509_get0_pubkey(signer)), NULL,
	        X509_get0_pubkey(signer)) != 1 ||
	    EVP_DigestVerify(md, sig, sig_len, tbs, tbs_len) != 1) {
		r = sc_fail(SC_ERR_SIGNATURE, "%s: the signature does not verify", what);
		goto out;
	}
	if (now >= 0 && now > l->next_update) {
		r = sc_fail(SC_ERR_STALE, "%s: past its next update (sequence %llu)", what,
		    (unsigned long long)l->sequence);
		goto out;
	}
	*out = l;
	l = NULL;
	r = SC_OK;
out:
	sc_revoked_free(l);
	json_decref(env);
	OPENSSL_free(payload);
	OPENSSL_free(sig);
	free(tbs);
	X509_free(signer);
	BIO_free(bio);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return r;
}
