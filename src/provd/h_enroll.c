// SPDX-License-Identifier: Apache-2.0
/*
 * h_enroll.c — the device endpoints. POST /v1/profiles checks the device and signs and records a
 * profile; POST /v1/certificates verifies and records the certificate an SP issued under one.
 * Each runs in phases, one function each, in the order docs/API.md states the checks: parse,
 * policy, device, registry pre-check, build and sign, record, answer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/batch.h>
#include <selfcert/cache.h>
#include <selfcert/cert.h>
#include <selfcert/device.h>
#include <selfcert/profile.h>
#include <selfcert/gate.h>
#include <selfcert/proof.h>
#include <selfcert/verify.h>
#include "auditlim.h"
#include "batcher.h"
#include "carry.h"
#include "fast/fast.h"
#include "fast/profile_signer.h"
#include "fast/x509.h"
#include "firstrefs.h"
#include "leafrefs.h"
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "keygen.h"
#include "text.h"
#include "respond.h"
#include "text.h"
#include "file.h"
#include "pem.h"

static int64_t asn1_time(const ASN1_TIME *t)
{
	time_t v = 0;

	if (sc_asn1_time_to_time_t(t, &v) != SC_OK)
		return 0;
	return (int64_t)v;
}

/* ---- the device: its CA and KEK certificates reach the manufacturer root together ---- */

/*
 * The device's certificates judged as the operator's activation judges them (sc_device_verify,
 * selfcert/device.h: one implementation of docs/FORMATS.md's device for both), under the store
 * and signature cache built at load; the refusal's detail prefixed with the field it is about.
 * device_id gets the ID as soon as the device CA names one.
 */
static sc_err check_device(const struct provd_api *api, STACK_OF(X509) *chain, X509 *kex,
    char *device_id, size_t id_len, struct provd_response *resp)
{
	const struct sc_device_trust trust = { api->mfr_root, api->mfr_store, api->sigs };
	char id[SC_DEVICE_ID_MAX + 1];
	enum sc_device_part bad = SC_DEVICE_PART_NONE;
	sc_err r = sc_device_verify(&trust, chain, kex, id, &bad);

	snprintf(device_id, id_len, "%s", id);
	if (r == SC_OK || (r != SC_ERR_NOT_DEVICE_CA && id[0] != '\0'))
		provd_log_add(resp, "device=%s", id);
	if (r == SC_OK || bad == SC_DEVICE_PART_NONE)
		return r;
	return sc_fail(r, "\"%s\": %s", bad == SC_DEVICE_PART_KEK ? "kex" : "chain",
	    sc_err_detail());
}

/* ---- POST /v1/profiles ---- */

/* A profile request through its phases; profile_req_clear frees what it owns. */
struct profile_req {
	/*
	 * #17 (prof8): the certificates' DER as received; the X509s are built from it only when
	 * the request is not a pinned device's (profile_certs): chain and kexs NULL until then.
	 */
	struct provd_ders chain_der, kex_der;
	STACK_OF(X509) *chain;     /* the device CA first, then its issuers */
	STACK_OF(X509) *kexs;      /* the KEK certificate (one) */
	EVP_PKEY *ca_key;          /* the device CA's key when chain is NULL (profile_pin_fast) */
	int64_t dev_nb, dev_na;    /* the device CA's validity, from either */
	const char *challenge_hex; /* NULL: none sent (borrowed from the body) */
	uint8_t challenge[SC_CHALLENGE_MAX];
	size_t challenge_len;
	enum sc_alg alg;
	const char *alg_name; /* the field as sent (NULL: absent), for the request digest */
	int server_keygen;
	int renewal; /* #17: "renewal": true, the device's SP has RENEW (revision 1.5) */
	uint32_t renewal_count, renewal_cadence; /* what the profile got: 0 for an ordinary one */
	int has_proof;                           /* a "proof" object came with the request */
	int authenticated;     /* 1: that proof holds (proof_check): the device's own request */
	struct sc_proof proof; /* what it binds, as sent */
	uint8_t *proof_sig;    /* its signature */
	size_t proof_sig_len;
	char device_id[SC_DEVICE_ID_MAX + 1];
	struct sc_reg_pin pin; /* this request's device CA, KEK, path and root (issue 17) */
	int pinned;            /* 1: the pinned path, path validation skipped */
	int want_pin;          /* no pin under this root yet: pin it if authenticated */
	/*
	 * judge11: a pinned request likely to leave a first-certificate reference
	 * (profile_leave_ref) has its chain parsed once by profile_pin_fast, through the
	 * certificate cache (the manufacturer CA a hit), instead of peeked there and parsed again
	 * for the reference. NULL otherwise. Not pr->chain: the X509-less path's logic is unchanged.
	 */
	STACK_OF(X509) *ref_chain;
	/*
	 * schema14: the pinned path's peeks of the chain (profile_pin_fast), each certificate's
	 * validity, kept for a reference made without parsing the chain (strict_ref).
	 */
	int64_t chain_nb[PROVD_MAX_CHAIN], chain_na[PROVD_MAX_CHAIN];
	/*
	 * req9: the registry's pin of device look_id and the pre-check's verdict for it, read in
	 * one statement (profile_lookup) and used by the pin check and, later, the pre-check.
	 */
	int looked;
	char look_id[SC_DEVICE_ID_MAX + 1];
	struct sc_reg_pin have;
	int have_found, have_match;
	struct sc_reg_precheck pre;
	struct sc_profile *p; /* built and signed */
	uint8_t *der;         /* its DER */
	size_t der_len;
	/* enroll15: SHA-256 of der as its signer computed it (not for a batch's leaf). */
	uint8_t digest[SC_PROFILE_DIGEST_LEN];
	int has_digest;
	struct sc_reg_profile_rec rec; /* the registry's row: der and chain_pem only borrowed */
	/* An operator-gated TPM device's request (issue #12, docs/API.md "gate"): what its SP
	 * reported with the gated challenge, and the TPM authorization made for the profile. */
	int gated;
	struct sc_gate_challenge gate; /* leaf_pub owned */
	uint8_t *auth;
	size_t auth_len;
	/*
	 * #17: "batch": true, the device's SP has BATCH_ISSUE (revision 1.5); batched: the
	 * profile is a leaf of a Merkle batch of that many (batcher.h), 0 for one signed alone.
	 */
	int batch;
	size_t batched;
	int batch_announced; /* provd_batcher_enter called, provd_batcher_sign not yet */
};

static void profile_req_clear(struct profile_req *pr)
{
	EVP_PKEY_free(pr->gate.leaf_pub);
	OPENSSL_free(pr->auth);
	sc_profile_free(pr->p);
	OPENSSL_free(pr->der);
	OPENSSL_free(pr->proof_sig);
	sk_X509_pop_free(pr->chain, X509_free);
	sk_X509_pop_free(pr->ref_chain, X509_free);
	sk_X509_pop_free(pr->kexs, X509_free);
	EVP_PKEY_free(pr->ca_key);
	provd_ders_clear(&pr->chain_der);
	provd_ders_clear(&pr->kex_der);
	memset(pr, 0, sizeof(*pr));
}

/*
 * The request's certificates as X509s (once): what every path but a pinned device's needs.
 * Errors as provd_json_certs's for the chain, then the KEK.
 */
static sc_err profile_certs(const struct provd_api *api, struct profile_req *pr)
{
	X509 *devca;
	sc_err r;

	if (pr->chain != NULL && pr->kexs != NULL)
		return SC_OK;
	sk_X509_pop_free(pr->chain, X509_free);
	pr->chain = NULL;
	if ((r = provd_ders_x509(api->certs, &pr->chain_der, &pr->chain)) != SC_OK ||
	    (r = provd_ders_x509(api->certs, &pr->kex_der, &pr->kexs)) != SC_OK)
		return r;
	devca = sk_X509_value(pr->chain, 0);
	pr->dev_nb = asn1_time(X509_get0_notBefore(devca));
	pr->dev_na = asn1_time(X509_get0_notAfter(devca));
	return SC_OK;
}

/*
 * An error r found before the certificates were parsed, as the request got it when they were
 * parsed first (profile_parse, then the policy): a certificate that does not parse wins.
 */
static sc_err profile_settle(const struct provd_api *api, struct profile_req *pr, sc_err r)
{
	char detail[256];
	sc_err p;

	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	if ((p = provd_ders_settle(api->certs, &pr->chain_der, SC_OK)) != SC_OK ||
	    (p = provd_ders_settle(api->certs, &pr->kex_der, SC_OK)) != SC_OK)
		return p;
	return sc_fail(r, "%s", detail);
}

static const char *const proof_fields[] = { "device_id", "network_id", "challenge", "request",
	"time", "signature", NULL };

/* "proof": {device_id, network_id, challenge (hex), request (hex), time (s), signature (b64)}. */
static sc_err proof_parse_fields(json_t *o, struct profile_req *pr)
{
	const char *dev, *net, *ch, *rq, *sig, *key;
	size_t n = 0, sig_len = 0;
	json_t *v, *t;
	sc_err r;

	json_object_foreach (o, key, v) {
		size_t i;

		for (i = 0; proof_fields[i] != NULL && strcmp(proof_fields[i], key) != 0; i++)
			;
		if (proof_fields[i] == NULL)
			return sc_fail(PROVD_ERR_UNKNOWN_FIELD, "unknown field \"%.40s\"", key);
	}
	if ((r = provd_json_string(o, "device_id", 1, SC_DEVICE_ID_MAX, &dev, NULL)) != SC_OK ||
	    (r = provd_json_string(o, "network_id", 1, SC_NETWORK_ID_MAX, &net, NULL)) != SC_OK ||
	    (r = provd_json_string(o, "challenge", 1, 2 * SC_SP_CHALLENGE_LEN, &ch, NULL)) !=
	        SC_OK ||
	    (r = provd_json_string(o, "request", 1, 2 * SC_PROOF_DIGEST_LEN, &rq, NULL)) != SC_OK ||
	    (r = provd_json_string(o, "signature", 1, 4 * ((SC_PROOF_MAX_SIG + 2) / 3), &sig,
	         &sig_len)) != SC_OK)
		return r;
	if ((t = json_object_get(o, "time")) == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD, "field \"time\" is required");
	if (!json_is_integer(t))
		return sc_fail(PROVD_ERR_WRONG_TYPE, "field \"time\" must be an integer");
	if (json_integer_value(t) < 0 || json_integer_value(t) > ((json_int_t)1 << 40))
		return sc_fail(PROVD_ERR_BAD_VALUE, "field \"time\": out of range");
	pr->proof.time = (uint64_t)json_integer_value(t);
	if (sc_unhex(ch, pr->proof.challenge, sizeof(pr->proof.challenge), &n) != SC_OK ||
	    n != SC_SP_CHALLENGE_LEN)
		return sc_fail(n == 0 ? PROVD_ERR_BAD_HEX : PROVD_ERR_BAD_VALUE,
		    "field \"challenge\": not %d bytes of hex", SC_SP_CHALLENGE_LEN);
	n = 0;
	if (sc_unhex(rq, pr->proof.request_digest, sizeof(pr->proof.request_digest), &n) != SC_OK ||
	    n != SC_PROOF_DIGEST_LEN)
		return sc_fail(n == 0 ? PROVD_ERR_BAD_HEX : PROVD_ERR_BAD_VALUE,
		    "field \"request\": not %d bytes of hex", SC_PROOF_DIGEST_LEN);
	if (sc_base64_decode(sig, sig_len, 4 * ((SC_PROOF_MAX_SIG + 2) / 3), &pr->proof_sig,
	        &pr->proof_sig_len) != SC_OK)
		return sc_fail(PROVD_ERR_BAD_BASE64, "field \"signature\": %s", sc_err_detail());
	snprintf(pr->proof.device_id, sizeof(pr->proof.device_id), "%s", dev);
	snprintf(pr->proof.network_id, sizeof(pr->proof.network_id), "%s", net);
	pr->has_proof = 1;
	return SC_OK;
}

/* The optional "proof" object; its fields' errors name it ("proof: field …"). */
static sc_err proof_parse(json_t *body, struct profile_req *pr)
{
	json_t *o = json_object_get(body, "proof");
	sc_err r;

	if (o == NULL)
		return SC_OK;
	if (!json_is_object(o))
		return sc_fail(PROVD_ERR_WRONG_TYPE, "field \"proof\" must be an object");
	if ((r = proof_parse_fields(o, pr)) != SC_OK)
		return sc_fail(r, "proof: %s", sc_err_detail());
	return SC_OK;
}

/*
 * The request digest from the certificates' DER as received: the same bytes i2d_X509 gives
 * for a strictly parsed certificate (sc_cert_from_der's round trip), so the same digest,
 * without encoding each certificate again.
 */
static sc_err request_digest(const struct profile_req *pr, uint8_t digest[SC_PROOF_DIGEST_LEN])
{
	const uint8_t *der[PROVD_MAX_CHAIN + 1];
	size_t len[PROVD_MAX_CHAIN + 1];
	int n = pr->chain_der.n;

	if (n < 1 || n > PROVD_MAX_CHAIN || pr->kex_der.n != 1)
		return sc_fail(SC_ERR_USAGE, "request digest: no chain or no KEK certificate");
	for (int i = 0; i < n; i++) {
		der[i] = pr->chain_der.item[i].der;
		len[i] = pr->chain_der.item[i].len;
	}
	return sc_proof_request_digest_der(der, len, (size_t)n, pr->kex_der.item[0].der,
	    pr->kex_der.item[0].len, pr->alg_name, pr->server_keygen, digest);
}

/*
 * The request proof against the request and the device CA verified in profile_device: every
 * bound field equal to the request's (proof-mismatch, naming it), the SP's time in the window
 * (proof-expired), the signature by the device CA's key, the CSK (bad-proof). A proof used
 * before is refused by the registry: its challenge was (replay).
 */
static sc_err proof_check(const struct provd_api *api, struct profile_req *pr, int64_t now)
{
	uint8_t digest[SC_PROOF_DIGEST_LEN];
	int64_t t = (int64_t)pr->proof.time;
	sc_err r;

	if (strcmp(pr->proof.network_id, api->network_id) != 0)
		return sc_fail(PROVD_ERR_PROOF_MISMATCH,
		    "proof.network_id \"%s\" is not this server's network %s", pr->proof.network_id,
		    api->network_id);
	if (strcmp(pr->proof.device_id, pr->device_id) != 0)
		return sc_fail(PROVD_ERR_PROOF_MISMATCH,
		    "proof.device_id \"%s\" is not the chain's device %s", pr->proof.device_id,
		    pr->device_id);
	if (pr->challenge_len != SC_SP_CHALLENGE_LEN ||
	    CRYPTO_memcmp(pr->challenge, pr->proof.challenge, SC_SP_CHALLENGE_LEN) != 0)
		return sc_fail(PROVD_ERR_PROOF_MISMATCH,
		    "proof.challenge is not the request's \"challenge\"");
	if ((r = request_digest(pr, digest)) != SC_OK)
		return sc_fail(SC_ERR_INTERNAL, "request digest: %s", sc_err_detail());
	if (CRYPTO_memcmp(digest, pr->proof.request_digest, sizeof(digest)) != 0)
		return sc_fail(PROVD_ERR_PROOF_MISMATCH,
		    "proof.request is not the digest of this request's chain, kex, alg and "
		    "server_keygen");
	if (t < now - PROVD_PROOF_MAX_AGE_S || t > now + PROVD_CLOCK_SKEW_S)
		return sc_fail(PROVD_ERR_PROOF_EXPIRED,
		    "proof.time is %lld s %s the server's clock (fresh: %d s before to %d s after)",
		    (long long)(t < now ? now - t : t - now), t < now ? "before" : "after",
		    PROVD_PROOF_MAX_AGE_S, PROVD_CLOCK_SKEW_S);
	if ((r = sc_proof_verify(&pr->proof, pr->proof_sig, pr->proof_sig_len,
	         pr->chain != NULL ? X509_get0_pubkey(sk_X509_value(pr->chain, 0)) : pr->ca_key)) !=
	    SC_OK)
		return r;
	pr->authenticated = 1;
	return SC_OK;
}

static const char *const gate_fields[] = { "counter", "csk_name", "leaf_public_key", NULL };

/* "gate": {counter (integer >= 1), csk_name (hex, 34 bytes), leaf_public_key (PEM, optional)}. */
static sc_err gate_parse(json_t *o, struct profile_req *pr)
{
	const char *name = NULL, *pem = NULL, *key;
	json_t *v, *c;
	size_t n = 0;
	BIO *b = NULL;
	sc_err r;

	if (!json_is_object(o))
		return sc_fail(PROVD_ERR_WRONG_TYPE, "field \"gate\" must be an object");
	json_object_foreach (o, key, v) {
		size_t i;
		for (i = 0; gate_fields[i] != NULL && strcmp(gate_fields[i], key) != 0; i++)
			;
		if (gate_fields[i] == NULL)
			return sc_fail(PROVD_ERR_UNKNOWN_FIELD, "unknown field \"gate.%s\"", key);
	}
	if ((c = json_object_get(o, "counter")) == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD, "missing field \"gate.counter\"");
	if (!json_is_integer(c) || json_integer_value(c) < 1)
		return sc_fail(PROVD_ERR_WRONG_TYPE,
		    "field \"gate.counter\" must be an integer >= 1");
	if ((r = provd_json_string(o, "csk_name", 1, 2 * SC_GATE_NAME_MAX, &name, NULL)) != SC_OK ||
	    (r = provd_json_string(o, "leaf_public_key", 0, 4096, &pem, NULL)) != SC_OK)
		return r;
	if (sc_unhex(name, pr->gate.csk_name, sizeof(pr->gate.csk_name), &n) != SC_OK || n != 34)
		return sc_fail(PROVD_ERR_BAD_HEX, "field \"gate.csk_name\": not 34 bytes of hex");
	pr->gate.csk_name_len = n;
	pr->gate.counter = (uint64_t)json_integer_value(c);
	if (pem != NULL &&
	    ((b = BIO_new_mem_buf(pem, -1)) == NULL ||
	        (pr->gate.leaf_pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) == NULL)) {
		BIO_free(b);
		ERR_clear_error();
		return sc_fail(PROVD_ERR_BAD_VALUE,
		    "field \"gate.leaf_public_key\": not a PEM public key");
	}
	BIO_free(b);
	pr->gated = 1;
	return SC_OK;
}

/* Every field's type and form first, then its meaning. */
static sc_err profile_parse(const struct provd_ctx *ctx, struct profile_req *pr)
{
	const char *alg_name = NULL;
	json_t *v;
	sc_err r;

	if ((r = provd_json_string(ctx->body, "challenge", 0, SC_REG_CHALLENGE_HEX_MAX,
	         &pr->challenge_hex, NULL)) != SC_OK ||
	    (r = provd_json_string(ctx->body, "alg", 0, 16, &alg_name, NULL)) != SC_OK)
		return r;
	if ((v = json_object_get(ctx->body, "server_keygen")) != NULL) {
		if (!json_is_boolean(v))
			return sc_fail(PROVD_ERR_WRONG_TYPE,
			    "field \"server_keygen\" must be true or false");
		pr->server_keygen = json_is_true(v);
	}
	if ((v = json_object_get(ctx->body, "renewal")) != NULL) {
		if (!json_is_boolean(v))
			return sc_fail(PROVD_ERR_WRONG_TYPE,
			    "field \"renewal\" must be true or false");
		pr->renewal = json_is_true(v);
	}
	if ((v = json_object_get(ctx->body, "batch")) != NULL) {
		if (!json_is_boolean(v))
			return sc_fail(PROVD_ERR_WRONG_TYPE,
			    "field \"batch\" must be true or false");
		pr->batch = json_is_true(v);
	}
	/* Not parsed yet (profile_certs): a pinned device's need not be (profile_pin_fast). */
	if ((r = provd_json_ders(ctx->body, "chain", 1, &pr->chain_der)) != SC_OK ||
	    (r = provd_json_ders(ctx->body, "kex", 0, &pr->kex_der)) != SC_OK)
		return r;
	if ((v = json_object_get(ctx->body, "gate")) != NULL && (r = gate_parse(v, pr)) != SC_OK)
		return r;
	if (pr->challenge_hex != NULL) {
		if (sc_unhex(pr->challenge_hex, pr->challenge, sizeof(pr->challenge),
		        &pr->challenge_len) != SC_OK)
			return sc_fail(PROVD_ERR_BAD_HEX, "field \"challenge\": not hex");
		if (pr->challenge_len < SC_CHALLENGE_MIN)
			return sc_fail(PROVD_ERR_BAD_VALUE,
			    "field \"challenge\": %zu bytes, expected %d..%d", pr->challenge_len,
			    SC_CHALLENGE_MIN, SC_CHALLENGE_MAX);
		/* Lower case: "AB" and "ab" are the same challenge to the replay check. */
		sc_hex(pr->challenge, pr->challenge_len, pr->rec.challenge);
	}
	pr->alg_name = alg_name;
	if ((r = proof_parse(ctx->body, pr)) != SC_OK)
		return r;
	if (alg_name != NULL && sc_alg_from_name(alg_name, &pr->alg) != SC_OK)
		return sc_fail(PROVD_ERR_BAD_VALUE,
		    "field \"alg\": \"%s\" is not rsa2048 rsa3072 rsa4096 p256 "
		    "p384 ed25519",
		    alg_name);
	return SC_OK;
}

static sc_err profile_policy(const struct provd_api *api, const struct profile_req *pr)
{
	const struct provd_policy *pol = &api->policy;

	if (!(pol->alg_mask & (1u << pr->alg)))
		return sc_fail(SC_ERR_ALGORITHM, "algorithm %s is not allowed on network %s",
		    sc_alg_name(pr->alg), api->network_id);
	if (pr->server_keygen && !pol->server_keygen)
		return sc_fail(PROVD_ERR_POLICY, "server key generation is off on network %s",
		    api->network_id);
	if (pr->challenge_hex == NULL && pol->require_challenge)
		return sc_fail(PROVD_ERR_POLICY,
		    "network %s requires an SP challenge (field \"challenge\")", api->network_id);
	if (!pr->has_proof && pol->unauth_rate.max == 0)
		return sc_fail(PROVD_ERR_PROOF_REQUIRED,
		    "network %s serves only requests with the device SP's proof (field \"proof\")",
		    api->network_id);
	return SC_OK;
}

static sc_err profile_device(const struct provd_api *api, struct profile_req *pr,
    struct provd_response *resp)
{
	X509 *kex = sk_X509_value(pr->kexs, 0);
	sc_err r;

	if ((r = check_device(api, pr->chain, kex, pr->device_id, sizeof(pr->device_id), resp)) !=
	    SC_OK)
		return r;
	if (pr->server_keygen && EVP_PKEY_get_base_id(X509_get0_pubkey(kex)) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(X509_get0_pubkey(kex)) != EVP_PKEY_EC)
		return sc_fail(PROVD_ERR_KEK_MISMATCH,
		    "\"kex\": server key generation needs an RSA or EC KEK");
	return SC_OK;
}

/* ---- the device's pin (issue 17): verify once, remember ---- */

/*
 * The budget a request counts in, as provd_h_profiles decides it once the proof is checked: the
 * device's when a proof came (a proof that fails refuses the request, so no budget is met),
 * else its client address's.
 */
static const char *profile_source(const struct provd_ctx *ctx, const struct profile_req *pr)
{
	if (pr->has_proof)
		return "";
	return ctx->req->peer != NULL && ctx->req->peer[0] != '\0' ? ctx->req->peer : "?";
}

/*
 * Device id's pin under this root (pr->have, have_found, have_match) and the registry's
 * pre-check verdict for this request (pr->pre), from one registry statement
 * (sc_reg_profile_lookup, req9), read once per request and device ID: the fast path's read
 * serves the full path's for the same ID, and the pre-check (provd_h_profiles) reports the
 * verdict where it always did, after the proof.
 */
static sc_err profile_lookup(const struct provd_ctx *ctx, struct profile_req *pr, const char *id,
    int64_t now)
{
	const struct provd_api *api = ctx->api;
	sc_err r;

	if (pr->looked && strcmp(pr->look_id, id) == 0)
		return SC_OK;
	pr->looked = 0;
	if ((r = sc_reg_profile_lookup(ctx->reg, id, pr->pin.root_sha256, pr->rec.challenge,
	         profile_source(ctx, pr),
	         pr->has_proof ? &api->policy.rate : &api->policy.unauth_rate, now, &pr->have,
	         &pr->have_found, &pr->have_match, &pr->pre)) != SC_OK)
		return r;
	snprintf(pr->look_id, sizeof(pr->look_id), "%s", id);
	pr->looked = 1;
	return SC_OK;
}

/* 1: the pin read shows exactly this request's device CA, KEK and path under this root. */
static int pin_hit(const struct profile_req *pr)
{
	return pr->have_found && pr->have_match &&
	    strcmp(pr->have.path_sha256, pr->pin.path_sha256) == 0 &&
	    strcmp(pr->have.ca_sha256, pr->pin.ca_sha256) == 0 &&
	    strcmp(pr->have.kek_sha256, pr->pin.kek_sha256) == 0;
}

static int valid_at(X509 *x, time_t t);

/*
 * What a request would pin (hex into pin): the device CA's, KEK's, whole path's and root's
 * hashes, from the DER as received with no X509 needed (prof8), by the registry's one
 * computation, which the operator's activation (act8) pins with too. The device CA's key:
 * pin_spki.
 */
static sc_err pin_of(const struct provd_ders *chain, const struct provd_ders *kek,
    const uint8_t root_sha256[32], struct sc_reg_pin *pin)
{
	struct sc_reg_der der[PROVD_MAX_CHAIN];
	sc_err r;

	_Static_assert(PROVD_MAX_CHAIN <= SC_REG_PIN_CHAIN_MAX, "a chain provd takes is pinnable");
	if (chain->n < 1 || chain->n > PROVD_MAX_CHAIN || kek->n != 1)
		return sc_fail(SC_ERR_INTERNAL, "the request's certificates are not counted");
	for (int i = 0; i < chain->n; i++)
		der[i] = (struct sc_reg_der){ chain->item[i].der, chain->item[i].len };
	r = sc_reg_pin_hashes_rooted(der, chain->n,
	    &(struct sc_reg_der){ kek->item[0].der, kek->item[0].len }, root_sha256, pin);
	return r == SC_OK ? SC_OK : sc_fail(SC_ERR_INTERNAL, "%s", sc_err_detail());
}

/* The device CA's SubjectPublicKeyInfo for the pin (the parsed certificates'). */
static sc_err pin_spki(struct profile_req *pr)
{
	X509 *devca = sk_X509_value(pr->chain, 0);
	uint8_t *p;
	int len;

	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(devca), NULL);
	if (len <= 0 || (size_t)len > sizeof(pr->pin.spki))
		return sc_fail(PROVD_ERR_BAD_VALUE, "\"chain\": the device CA's key is too large");
	p = pr->pin.spki;
	if (i2d_X509_PUBKEY(X509_get_X509_PUBKEY(devca), &p) != len)
		return sc_fail(SC_ERR_INTERNAL, "cannot encode the device CA's key");
	pr->pin.spki_len = (size_t)len;
	return SC_OK;
}

/*
 * The bytes are the pinned ones, verified under this root at first contact: the form checks and
 * signatures of check_device hold for them still. What can change is time: every certificate
 * of the path and the root must be valid now, as path validation would require.
 */
static int pinned_valid(const struct provd_api *api, const struct profile_req *pr, time_t now)
{
	for (int i = 0; i < sk_X509_num(pr->chain); i++)
		if (!valid_at(sk_X509_value(pr->chain, i), now))
			return 0;
	return valid_at(sk_X509_value(pr->kexs, 0), now) && valid_at(api->mfr_root, now);
}

/*
 * judge11: 1 if this pinned request's profile will likely leave a first-certificate reference
 * (profile_leave_ref's conditions known before the profile is made: an ordinary or (renew13)
 * renewal, unbatched, device-generated, ungated profile, references kept). Only a guess of what
 * is cheaper: the reference's own conditions decide.
 */
static int ref_likely(const struct provd_api *api, const struct profile_req *pr)
{
	return api->firstrefs != NULL && !pr->server_keygen && !pr->gated &&
	    !provd_batch_eligible(api->batcher != NULL, pr->batch,
	        pr->renewal ? api->policy.renewal_count : 0, 0, 0);
}

/*
 * schema14: the device's pin (pin_hit's) carries this build's strict chain verdict and the
 * profile will be an ordinary one: its first certificate can be judged from the chain's DER
 * (sc_leaf_first_judge_der), so the chain is peeked, not parsed, for the reference.
 */
static int strict_ref(const struct provd_api *api, const struct profile_req *pr)
{
	return !(pr->renewal && api->policy.renewal_count > 0) && pin_hit(pr) &&
	    pr->have.chain_verdict != 0 && pr->have.chain_verdict == sc_chain_rules();
}

/*
 * profile_pin_fast's reading of the chain when a reference is likely: the chain parsed through
 * the certificate cache (pr->ref_chain; its manufacturer CA a hit), each certificate valid now
 * (valid_at, as the peek's test), the device CA's times and key taken from its X509. Returns 0
 * when not taken (peek instead); 1 when taken, pr->ref_chain NULL if a certificate is not valid
 * now or does not parse (the caller then goes the full way, as for a failed peek).
 */
static int pin_fast_parsed(const struct provd_api *api, struct profile_req *pr, int64_t now)
{
	X509 *ca;

	if (!ref_likely(api, pr) || strict_ref(api, pr))
		return 0;
	if (provd_ders_x509(api->certs, &pr->chain_der, &pr->ref_chain) != SC_OK ||
	    sk_X509_num(pr->ref_chain) != pr->chain_der.n)
		goto no;
	for (int i = 0; i < sk_X509_num(pr->ref_chain); i++)
		if (!valid_at(sk_X509_value(pr->ref_chain, i), (time_t)now))
			goto no;
	ca = sk_X509_value(pr->ref_chain, 0);
	pr->dev_nb = asn1_time(X509_get0_notBefore(ca));
	pr->dev_na = asn1_time(X509_get0_notAfter(ca));
	if ((pr->ca_key = X509_get_pubkey(ca)) == NULL)
		goto no;
	return 1;
no:
	sk_X509_pop_free(pr->ref_chain, X509_free);
	pr->ref_chain = NULL;
	return 1;
}

/*
 * #17 (prof8), a pinned device with no X509 built: a request that proves it is device D's, for
 * a device-generated key and no gate, whose device CA, KEK and path hash (of the DER as
 * received) are exactly D's pin under this root. Those bytes were parsed strictly, verified and
 * pinned for D (the pin's device ID is its device CA's), so parsing them again would give the
 * same certificates, and profile_pin would take its pinned path for them: this reads only what
 * that path and the profile need from the DER (every certificate's validity now, the device
 * CA's and its key for the proof, sc_fast_cert_peek). Anything else (*taken 0) goes the full way,
 * which decides and words every refusal as before: this path never refuses.
 */
static void profile_pin_fast(const struct provd_ctx *ctx, struct profile_req *pr, int64_t now,
    struct provd_response *resp, int *taken)
{
	const struct provd_api *api = ctx->api;
	int valid = 0;
	int64_t nb, na;

	*taken = 0;
	/* Shortcuts off (SC_SHORTCUTS=OFF, fast.h): the plain path, X509s parsed and compared. */
	if (!sc_fast_enabled() || !pr->has_proof || pr->server_keygen || pr->gated ||
	    !sc_device_id_valid(pr->proof.device_id))
		return;
	if (profile_lookup(ctx, pr, pr->proof.device_id, now) != SC_OK) {
		sc_err_clear(); /* the full path asks again, and reports it */
		return;
	}
	if (!pin_hit(pr) || !valid_at(api->mfr_root, (time_t)now))
		return;
	if (pin_fast_parsed(api, pr, now)) {
		if (!pr->ref_chain)
			goto no;
		goto kek;
	}
	for (int i = 1; i < pr->chain_der.n; i++)
		if (sc_fast_cert_peek(pr->chain_der.item[i].der, pr->chain_der.item[i].len,
		        (time_t)now, &valid, &pr->chain_nb[i], &pr->chain_na[i], NULL) != SC_OK ||
		    !valid)
			goto no;
	if (sc_fast_cert_peek(pr->chain_der.item[0].der, pr->chain_der.item[0].len, (time_t)now,
	        &valid, &pr->dev_nb, &pr->dev_na, &pr->ca_key) != SC_OK ||
	    !valid)
		goto no;
	pr->chain_nb[0] = pr->dev_nb;
	pr->chain_na[0] = pr->dev_na;
kek:
	if (sc_fast_cert_peek(pr->kex_der.item[0].der, pr->kex_der.item[0].len, (time_t)now, &valid,
	        &nb, &na, NULL) != SC_OK ||
	    !valid)
		goto no;
	snprintf(pr->device_id, sizeof(pr->device_id), "%s", pr->proof.device_id);
	provd_log_add(resp, "device=%s", pr->device_id);
	pr->pinned = 1;
	*taken = 1;
	return;
no:
	sc_err_clear();
	ERR_clear_error();
	EVP_PKEY_free(pr->ca_key);
	pr->ca_key = NULL;
	sk_X509_pop_free(pr->ref_chain, X509_free);
	pr->ref_chain = NULL;
	pr->dev_nb = pr->dev_na = 0;
}

/*
 * flood19: a device-ca-changed refusal's audit row, at most once per (device ID, device CA
 * shown, KEK shown) per PROVD_AUDITLIM_WINDOW_S (auditlim.h); the window held only if the row
 * was written. A failed write is not the request's error (the refusal is).
 */
static void audit_ca_changed(const struct provd_ctx *ctx, int64_t now, const char *device_id,
    const char *ca_sha256, const char *kek_sha256, const char *detail)
{
	struct provd_auditlim_key k;
	char actor[SC_REG_ACTOR_MAX];
	int64_t mono = provd_auditlim_now();

	provd_auditlim_key(ctx->api->auditlim, device_id, ca_sha256, kek_sha256, &k);
	if (!provd_auditlim_take(ctx->api->auditlim, &k, mono))
		return;
	snprintf(actor, sizeof(actor), "api %s", ctx->req->peer ? ctx->req->peer : "?");
	if (sc_reg_audit_add(ctx->reg, now, actor, "device-ca-changed", device_id, detail) !=
	    SC_OK) {
		provd_auditlim_undo(ctx->api->auditlim, &k, mono);
		sc_err_clear();
	}
}
/*
 * The device, verified once: a device whose request shows exactly its pinned path under this
 * root skips path validation (two X509_verify_cert); any other request is checked in full, and
 * a verified device CA or KEK other than the pinned ones is refused (device-ca-changed) and
 * audited, never re-pinned. A first contact is pinned with its profile (profile_record).
 */
static sc_err profile_pin(const struct provd_ctx *ctx, struct profile_req *pr, int64_t now,
    struct provd_response *resp)
{
	const struct provd_api *api = ctx->api;
	const struct sc_reg_pin *have = &pr->have;
	int found = 0;
	char detail[200];
	sc_err r;

	int taken = 0;

	if ((r = pin_of(&pr->chain_der, &pr->kex_der, api->mfr_root_sha256, &pr->pin)) != SC_OK)
		return r;
	profile_pin_fast(ctx, pr, now, resp, &taken);
	if (taken)
		return SC_OK;
	if ((r = profile_certs(api, pr)) != SC_OK || (r = pin_spki(pr)) != SC_OK)
		return r;
	if (sc_cert_device_id(sk_X509_value(pr->chain, 0), pr->device_id, sizeof(pr->device_id)) ==
	        SC_OK &&
	    sc_device_id_valid(pr->device_id)) {
		if ((r = profile_lookup(ctx, pr, pr->device_id, now)) != SC_OK)
			return provd_registry_err(r);
		found = pr->have_found;
		if (pin_hit(pr) && pinned_valid(api, pr, (time_t)now)) {
			X509 *kex = sk_X509_value(pr->kexs, 0);

			provd_log_add(resp, "device=%s", pr->device_id);
			pr->pinned = 1;
			if (pr->server_keygen &&
			    EVP_PKEY_get_base_id(X509_get0_pubkey(kex)) != EVP_PKEY_RSA &&
			    EVP_PKEY_get_base_id(X509_get0_pubkey(kex)) != EVP_PKEY_EC)
				return sc_fail(PROVD_ERR_KEK_MISMATCH,
				    "\"kex\": server key generation needs an RSA or EC KEK");
			return SC_OK;
		}
	}
	pr->device_id[0] = '\0';
	if ((r = profile_device(api, pr, resp)) != SC_OK)
		return r;
	if (found &&
	    (strcmp(have->ca_sha256, pr->pin.ca_sha256) != 0 ||
	        strcmp(have->kek_sha256, pr->pin.kek_sha256) != 0)) {
		snprintf(detail, sizeof(detail),
		    "refused: device CA %.16s… KEK %.16s… shown, %.16s… %.16s… pinned",
		    pr->pin.ca_sha256, pr->pin.kek_sha256, have->ca_sha256, have->kek_sha256);
		/* flood19: the refusal each time, its row once per chain shown per window. */
		audit_ca_changed(ctx, now, pr->device_id, pr->pin.ca_sha256, pr->pin.kek_sha256,
		    detail);
		return sc_fail(SC_ERR_PIN_MISMATCH,
		    "device %s was pinned to another device CA or KEK at its first contact or activation; a "
		    "changed device CA is refused, not re-pinned (the operator revokes the device "
		    "and activates its replacement under a new ID)",
		    pr->device_id);
	}
	/*
	 * First contact under this root: pinned with the profile, if the request proves the device
	 * CA's key (provd_h_profiles): holding a device's public certificates is not enough to pin.
	 */
	pr->want_pin = !found || !pr->have_match;
	return SC_OK;
}

/* The policy's subjectAltName templates for this device: what pp->san points at. */
struct profile_san {
	char buf[PROVD_POLICY_MAX_SAN][PROVD_SAN_MAX + 1];
	const char *list[PROVD_POLICY_MAX_SAN + 1];
};

/* The profile's parameters from the policy and the device CA (no key yet). */
static sc_err profile_params(const struct provd_api *api, const struct profile_req *pr, int64_t now,
    struct sc_profile_params *pp, const char **eku, struct profile_san *san)
{
	sc_err r;

	const struct provd_policy *pol = &api->policy;
	int64_t dev_nb = pr->dev_nb, dev_na = pr->dev_na; /* profile_certs or profile_pin_fast */

	if (dev_na <= now + PROVD_CLOCK_SKEW_S)
		return sc_fail(PROVD_ERR_POLICY,
		    "device %s's CA certificate expires too soon for a leaf", pr->device_id);
	/* The leaf's validity: from now (less the skew) for the policy's lifetime, in the CSK's. */
	pp->not_before = (time_t)(now - PROVD_CLOCK_SKEW_S > dev_nb ? now - PROVD_CLOCK_SKEW_S
	                                                            : dev_nb);
	pp->not_after = (time_t)(now + pol->validity_s < dev_na ? now + pol->validity_s : dev_na);
	pp->network_id = api->network_id;
	pp->device_id = pr->device_id;
	pp->challenge = pr->challenge_len > 0 ? pr->challenge : NULL;
	pp->challenge_len = pr->challenge_len;
	pp->profile_not_after = (time_t)(now + pol->profile_ttl_s);
	pp->cert_digest = pol->cert_digest;
	pp->key_usage = provd_policy_key_usage_for(pol, pr->alg);
	for (size_t i = 0; i < pol->n_eku; i++)
		eku[i] = pol->eku[i];
	eku[pol->n_eku] = NULL;
	pp->eku = pol->n_eku > 0 ? eku : NULL;
	for (size_t i = 0; i < pol->n_san; i++) {
		if ((r = provd_policy_san(pol, i, api->network_id, pr->device_id, san->buf[i],
		         sizeof(san->buf[i]))) != SC_OK)
			return r;
		san->list[i] = san->buf[i];
	}
	san->list[pol->n_san] = NULL;
	pp->san = pol->n_san > 0 ? san->list : NULL;
	/*
	 * #17: a renewal profile only for a device that announced it (its SP refuses [6]
	 * otherwise) and that generates its keys (a supplied key is one key, not K). It carries
	 * no challenge, and stays usable until its last period has begun, plus the profile TTL.
	 */
	if (pr->renewal && pol->renewal_count > 0 && !pr->server_keygen && !pr->gated) {
		/* Backdated by at most half a cadence: the first certificate is period 0. */
		if ((int64_t)pp->not_before < now - pol->renewal_cadence_s / 2 &&
		    now - pol->renewal_cadence_s / 2 >= dev_nb)
			pp->not_before = (time_t)(now - pol->renewal_cadence_s / 2);
		pp->renewal_count = pol->renewal_count;
		pp->renewal_cadence = (uint32_t)pol->renewal_cadence_s;
		pp->challenge = NULL;
		pp->challenge_len = 0;
		pp->profile_not_after = pp->not_before +
		    (time_t)(pol->renewal_count - 1) * (time_t)pol->renewal_cadence_s +
		    (time_t)pol->profile_ttl_s;
		if (pp->not_after + (time_t)(pol->renewal_count - 1) * pol->renewal_cadence_s >
		    (time_t)dev_na)
			return sc_fail(PROVD_ERR_POLICY,
			    "device %s's CA certificate ends before the renewal window",
			    pr->device_id);
	}
	/* #17: a batch leaf carries no challenge (one signature serves the whole wave). */
	if (provd_batch_eligible(api->batcher != NULL, pr->batch, pp->renewal_count,
	        pr->server_keygen, pr->gated)) {
		pp->challenge = NULL;
		pp->challenge_len = 0;
	}
	return SC_OK;
}

/* Build and sign the profile: pr->p, pr->der, and the registry row's ID and times. */
static sc_err profile_build(const struct provd_api *api, struct profile_req *pr, int64_t now)
{
	const char *eku[SC_PROFILE_MAX_EKU + 1];
	struct profile_san san;
	struct sc_profile_params pp;
	struct sc_profile_info info;
	EVP_PKEY *server_key = NULL;
	sc_err r;

	memset(&pp, 0, sizeof(pp));
	if ((r = profile_params(api, pr, now, &pp, eku, &san)) != SC_OK)
		goto out;
	if (pr->server_keygen) {
		/*
		 * Made on the key generation pool (keygen.h) when the server has one, so that an
		 * RSA-4096 key takes none of the HTTP workers' CPU; a full pool is PROVD_ERR_BUSY
		 * (503, Retry-After). Encrypted to the KEK by sc_profile_create, wiped right after.
		 */
		if (api->keygen != NULL)
			r = provd_keygen_run(api->keygen, pr->alg,
			    api->keygen_wait_ms > 0 ? api->keygen_wait_ms : PROVD_KEYGEN_WAIT_MS,
			    &server_key);
		else
			r = sc_alg_keygen(pr->alg, &server_key);
		if (r == PROVD_ERR_BUSY)
			goto out;
		if (r != SC_OK) {
			r = sc_fail(SC_ERR_INTERNAL, "key generation: %s", sc_err_detail());
			goto out;
		}
		pp.supplied_key = server_key;
		pp.kek_cert = sk_X509_value(pr->kexs, 0);
	} else {
		pp.generate_alg = pr->alg;
	}
	r = sc_profile_create(&pp, &pr->p);
	EVP_PKEY_free(server_key);
	server_key = NULL;
	pp.supplied_key = NULL;
	if (r != SC_OK) {
		r = sc_fail(r == SC_ERR_USAGE ? PROVD_ERR_BAD_VALUE : SC_ERR_INTERNAL,
		    "profile: %s", sc_err_detail());
		goto out;
	}
	if (provd_batch_eligible(api->batcher != NULL, pr->batch, pp.renewal_count,
	        pr->server_keygen, pr->gated)) {
		r = provd_batcher_sign(api->batcher, pr->batch_announced, pr->p, &pr->der,
		    &pr->der_len, &pr->batched);
		pr->batch_announced = 0;
	} else if (api->profile_signer != NULL) {
		/* enroll15: the DER the signer encoded to digest, not encoded a second time. */
		r = sc_profile_signer_sign_der(api->profile_signer, pr->p, &pr->der, &pr->der_len);
	} else if ((r = sc_profile_sign(pr->p, api->signer_key, api->signer, NULL, 0)) == SC_OK) {
		r = sc_profile_encode(pr->p, &pr->der, &pr->der_len);
	}
	if (r != SC_OK) {
		r = sc_fail(SC_ERR_INTERNAL, "signing the profile: %s", sc_err_detail());
		goto out;
	}
	sc_profile_get_info(pr->p, &info);
	sc_hex(info.id, SC_PROFILE_ID_LEN, pr->rec.profile_id);
	/*
	 * enroll15: signed alone (the kept signer or sc_profile_sign), pr->der is the encoding
	 * its signature info digested: info.digest is its SHA-256, the profile cache's key.
	 */
	if (pr->batched == 0 && info.signed_) {
		memcpy(pr->digest, info.digest, sizeof(pr->digest));
		pr->has_digest = 1;
	}
	pr->rec.not_before = (int64_t)pp.not_before;
	pr->rec.not_after = (int64_t)pp.not_after;
	pr->rec.profile_not_after = (int64_t)pp.profile_not_after;
	pr->renewal_count = pp.renewal_count;
	pr->renewal_cadence = pp.renewal_cadence;
	r = SC_OK;
out:
	EVP_PKEY_free(server_key);
	OPENSSL_cleanse(&pp, sizeof(pp));
	return r;
}

/*
 * A gated device: the TPM authorization for exactly the certificate this profile makes
 * (gate.h), signed with the profile signer's key, which the device's CSK policy names.
 */
static sc_err profile_authorize(const struct provd_api *api, struct profile_req *pr)
{
	struct sc_profile_info info;
	EVP_PKEY *leaf;
	sc_err r;

	if (pr->challenge_len != SC_GATE_NONCE_LEN)
		return sc_fail(PROVD_ERR_BAD_VALUE,
		    "field \"gate\" needs the gated challenge (%d bytes) in \"challenge\"",
		    SC_GATE_NONCE_LEN);
	memcpy(pr->gate.nonce, pr->challenge, SC_GATE_NONCE_LEN);
	sc_profile_get_info(pr->p, &info);
	leaf = info.origin == SC_KEY_SERVER_SUPPLIED ? (EVP_PKEY *)info.supplied_pub
	                                             : pr->gate.leaf_pub;
	if (leaf == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD,
		    "missing field \"gate.leaf_public_key\" (a device-generated key)");
	if ((r = sc_gate_authorize(api->signer_key, &pr->gate, pr->p, leaf,
	         sk_X509_value(pr->chain, 0), &pr->auth, &pr->auth_len)) != SC_OK)
		return sc_fail(r == SC_ERR_INTERNAL || r == SC_ERR_NOMEM ? SC_ERR_INTERNAL
		                                                         : PROVD_ERR_BAD_VALUE,
		    "gate: %s", sc_err_detail());
	return SC_OK;
}

/* Record it: the registry checks device, rate and challenge again inside its transaction. */
static sc_err profile_record(const struct provd_ctx *ctx, struct profile_req *pr, int64_t now,
    struct provd_response *resp)
{
	char actor[SC_REG_ACTOR_MAX], *chain_pem = NULL;
	sc_err r;

	/*
	 * The chain's PEM text as the registry keeps it (a profile row's chain_pem):
	 * PEM_write_bio's text from the DER as received (prof8), made without a BIO (req19).
	 */
	if ((r = provd_ders_pem(&pr->chain_der, &chain_pem)) != SC_OK)
		return r;
	snprintf(pr->rec.device_id, sizeof(pr->rec.device_id), "%s", pr->device_id);
	pr->rec.origin = pr->server_keygen ? SC_KEY_SERVER_SUPPLIED : SC_KEY_DEVICE_GENERATED;
	pr->rec.alg = pr->alg;
	pr->rec.der = pr->der;
	pr->rec.der_len = pr->der_len;
	pr->rec.chain_pem = chain_pem;
	pr->rec.deferred_commit = ctx->api->profile_commit_deferred;
	snprintf(actor, sizeof(actor), "api %s", ctx->req->peer ? ctx->req->peer : "?");
	r = sc_reg_profile_insert(ctx->reg, &pr->rec,
	    pr->authenticated ? &ctx->api->policy.rate : &ctx->api->policy.unauth_rate, now, actor,
	    &resp->retry_after);
	pr->rec.der = NULL;
	pr->rec.chain_pem = NULL;
	OPENSSL_free(chain_pem);
	if (r != SC_OK)
		r = provd_registry_err(r);
	return r;
}

static sc_err profile_answer(const struct provd_api *api, struct profile_req *pr,
    struct provd_response *resp)
{
	const char *origin = pr->server_keygen ? "server" : "device";
	char t_nb[32], t_na[32], t_pna[32], *der_b64;
	json_t *j;

	provd_metrics_profile_issued(api->metrics, pr->rec.origin);
	/* Kept decoded for the certificate request (profcache.h); a device-generated one only. */
	if (!pr->server_keygen && api->profiles != NULL &&
	    provd_profcache_put(api->profiles, pr->p) == SC_OK)
		pr->p = NULL;
	if ((der_b64 = sc_base64_encode(pr->der, pr->der_len)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	provd_time_str(pr->rec.not_before, t_nb, sizeof(t_nb));
	provd_time_str(pr->rec.not_after, t_na, sizeof(t_na));
	provd_time_str(pr->rec.profile_not_after, t_pna, sizeof(t_pna));
	/* req19: the profile's base64 is put in the answer's text in the mark's place (respond.h). */
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "profile_id",
	    pr->rec.profile_id, "profile", PROVD_B64_MARK, "device_id", pr->device_id, "network_id",
	    api->network_id, "key_origin", origin, "alg", sc_alg_name(pr->alg), "not_before", t_nb,
	    "not_after", t_na, "profile_not_after", t_pna, "renewal_count",
	    (json_int_t)pr->renewal_count, "renewal_cadence", (json_int_t)pr->renewal_cadence);
	/* #17: says which SP request takes it (BATCH_ISSUE); absent from an ordinary answer. */
	if (j != NULL && pr->batched && json_object_set_new(j, "batched", json_true()) != 0) {
		json_decref(j);
		free(der_b64);
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	}
	/* A gated device's TPM authorization travels beside the profile (docs/API.md "gate"). */
	if (j != NULL && pr->gated) {
		char *a = sc_base64_encode(pr->auth, pr->auth_len);
		if (a == NULL || json_object_set_new(j, "authorization", json_string(a)) != 0) {
			free(a);
			json_decref(j);
			free(der_b64);
			return sc_fail(SC_ERR_NOMEM, "out of memory");
		}
		free(a);
	}
	provd_respond_json_b64(resp, 201, j, "profile", der_b64, strlen(der_b64));
	free(der_b64);
	provd_log_add(resp, "profile=%s origin=%s alg=%s%s", pr->rec.profile_id, origin,
	    sc_alg_name(pr->alg), pr->gated ? " gated" : "");
	if (pr->batched > 0)
		provd_log_add(resp, "batched=%zu", pr->batched);
	return SC_OK;
}

static int chain_one_path(const struct provd_api *api, STACK_OF(X509) *chain);

/*
 * #17 (ref10): a pinned device's ordinary or (renew13) renewal profile, committed
 * (profile_record) and kept (profile_answer), leaves what its first certificate needs
 * (firstrefs.h; a renewal profile's window-first certificate: its later ones are judged against
 * the reference that one leaves, cert_keep_ref): the row's device, profileNotAfter, the
 * profile's digest (enroll15: its DER's SHA-256, the kept profile's key) and the chain as the
 * row holds it, parsed, and with them the fact that this chain is the device's pin under this
 * root (pin_hit, read in this request).
 * Nothing for any other request (the certificate then reads the row and pin, as before).
 * docs/THREAT-MODEL.md "Session 10 (ref10)".
 */
static void profile_leave_ref(const struct provd_api *api, const struct profile_req *pr)
{
	struct provd_firstref *e = NULL;
	size_t id_len = 0;

	if (api->firstrefs == NULL || !sc_fast_enabled() || !pr->authenticated || !pr->pinned ||
	    !pin_hit(pr) || pr->server_keygen || pr->gated || pr->batched > 0 || !pr->has_digest ||
	    pr->p != NULL /* not kept (profile_answer) */ || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	if (sc_unhex(pr->rec.profile_id, e->head.id, sizeof(e->head.id), &id_len) != SC_OK ||
	    id_len != sizeof(e->head.id))
		goto no;
	memcpy(e->profile_id, pr->rec.profile_id, sizeof(e->profile_id));
	snprintf(e->device_id, sizeof(e->device_id), "%s", pr->device_id);
	memcpy(e->digest, pr->digest, sizeof(e->digest));
	e->profile_not_after = pr->rec.profile_not_after;
	for (int i = 0; i < pr->chain_der.n; i++) {
		if ((e->chain_der.item[i].der = OPENSSL_memdup(pr->chain_der.item[i].der,
		         pr->chain_der.item[i].len)) == NULL)
			goto no;
		e->chain_der.item[i].len = pr->chain_der.item[i].len;
		e->chain_der.n = i + 1;
	}
	if (e->chain_der.n < 1)
		goto no;
	/*
	 * schema14: a strict chain verdict with the pin and the chain only peeked: no parse. The
	 * verdict includes first9's one path (sc_chain_verdict), checked here otherwise.
	 */
	_Static_assert(PROVD_MAX_CHAIN <= PROVD_FIRSTREF_CHAIN_MAX &&
	        PROVD_FIRSTREF_CHAIN_MAX == SC_FIRST_CHAIN_MAX,
	    "a pinned chain fits the reference and the DER judge");
	if (pr->ref_chain == NULL && pr->chain == NULL && pr->ca_key != NULL &&
	    pr->renewal_count == 0 && strict_ref(api, pr) &&
	    e->chain_der.n <= PROVD_FIRSTREF_CHAIN_MAX) {
		if (!EVP_PKEY_up_ref(pr->ca_key))
			goto no;
		e->ca_key = pr->ca_key;
		for (int i = 0; i < e->chain_der.n; i++) {
			e->not_before[i] = pr->chain_nb[i];
			e->not_after[i] = pr->chain_na[i];
		}
		e->verdict = pr->have.chain_verdict;
		provd_firstrefs_put(api->firstrefs, e);
		return;
	}
	/* judge11: the chain profile_pin_fast parsed (pr->ref_chain), else parsed now. */
	if (pr->ref_chain != NULL && sk_X509_num(pr->ref_chain) == e->chain_der.n) {
		if ((e->chain = X509_chain_up_ref(pr->ref_chain)) == NULL)
			goto no;
	} else if (provd_ders_x509(api->certs, &e->chain_der, &e->chain) != SC_OK)
		goto no;
	if (!chain_one_path(api, e->chain))
		goto no;
	provd_firstrefs_put(api->firstrefs, e);
	return;
no:
	sc_err_clear();
	ERR_clear_error();
	provd_firstref_free(e);
}

sc_err provd_h_profiles(const struct provd_ctx *ctx, struct provd_response *resp)
{
	const struct provd_api *api = ctx->api;
	int64_t now = (int64_t)time(NULL);
	struct profile_req pr;
	sc_err r;

	memset(&pr, 0, sizeof(pr));
	pr.alg = api->policy.default_alg;
	if ((r = profile_parse(ctx, &pr)) != SC_OK) {
		r = profile_settle(api, &pr, r);
		goto out;
	}
	/* #17: a wave being gathered waits for this request while it is checked (batcher.h). */
	if (provd_batch_eligible(api->batcher != NULL, pr.batch,
	        pr.renewal ? api->policy.renewal_count : 0, pr.server_keygen, pr.gated)) {
		provd_batcher_enter(api->batcher);
		pr.batch_announced = 1;
	}
	if ((r = profile_policy(api, &pr)) != SC_OK) {
		r = profile_settle(api, &pr, r);
		goto out;
	}
	if ((r = profile_pin(ctx, &pr, now, resp)) != SC_OK)
		goto out;
	/*
	 * Only the device's own requests (a valid proof from its SP) count in its budget; the
	 * others count in their client address's, so that holding a device's public certificates
	 * is no longer enough to use up its budget.
	 */
	if (pr.has_proof && (r = proof_check(api, &pr, now)) != SC_OK)
		goto out;
	if (pr.want_pin && pr.authenticated) {
		/*
		 * Schema 8: the first certificate's strict chain check (time-free) recorded with the
		 * new pin, beside check_device's verdict, which alone decides this request.
		 */
		pr.pin.chain_verdict = sc_chain_verdict(pr.chain, api->mfr_root, api->sigs);
		pr.rec.pin = &pr.pin;
	}
	if (!pr.authenticated)
		snprintf(pr.rec.source, sizeof(pr.rec.source), "%s",
		    ctx->req->peer != NULL && ctx->req->peer[0] != '\0' ? ctx->req->peer : "?");
	/*
	 * x509=none: a pinned device's certificates recognised by their DER, not parsed for the
	 * pin; x509=ref: the same, the chain parsed once (through the certificate cache) for the
	 * first certificate's reference (judge11's ref_chain).
	 */
	provd_log_add(resp, "auth=%s pin=%s", pr.authenticated ? "proof" : "none",
	    pr.pinned                       ? (pr.chain != NULL              ? "hit"
	                                              : pr.ref_chain != NULL ? "hit x509=ref"
	                                                                     : "hit x509=none")
	        : pr.rec.pin == NULL        ? "checked"
	        : pr.pin.chain_verdict != 0 ? "new chain=strict"
	                                    : "new chain=unknown");
	/*
	 * A refused device costs no signature: ask the registry before signing (and after). Its
	 * verdict came with the device's pin (profile_lookup) when that read was for this device
	 * and this budget (a proof that came is a proof that held here).
	 */
	if (pr.looked && strcmp(pr.look_id, pr.device_id) == 0 &&
	    pr.authenticated == pr.has_proof) {
		resp->retry_after = pr.pre.retry_after;
		r = pr.pre.r == SC_OK ? SC_OK : sc_fail(pr.pre.r, "%s", pr.pre.detail);
	} else
		r = sc_reg_profile_precheck(ctx->reg, pr.device_id, pr.rec.challenge, pr.rec.source,
		    pr.authenticated ? &api->policy.rate : &api->policy.unauth_rate, now,
		    &resp->retry_after);
	if (r != SC_OK) {
		r = provd_registry_err(r);
		goto out;
	}
	if ((r = profile_build(api, &pr, now)) != SC_OK) {
		if (r == PROVD_ERR_BUSY)
			resp->retry_after = PROVD_KEYGEN_RETRY_AFTER;
		goto out;
	}
	if (pr.gated && (r = profile_authorize(api, &pr)) != SC_OK)
		goto out;
	if ((r = profile_record(ctx, &pr, now, resp)) != SC_OK)
		goto out;
	if ((r = profile_answer(api, &pr, resp)) == SC_OK)
		profile_leave_ref(api, &pr);
out:
	if (pr.batch_announced)
		provd_batcher_leave(api->batcher); /* refused before its signature */
	profile_req_clear(&pr);
	return r;
}

/* ---- POST /v1/certificates ---- */

/* A returned certificate through its phases; cert_req_clear frees what it owns. */
struct cert_req {
	STACK_OF(X509) *leafs; /* the certificate (one) */
	X509 *leaf;            /* borrowed from leafs */
	char device_id[SC_DEVICE_ID_MAX + 1];
	struct sc_reg_profile_rec prec; /* the profile it names, as the registry keeps it */
	const struct sc_profile *use;   /* that profile: kept (profcache.h) or prof */
	struct provd_profref *kept;
	struct sc_profile *prof;     /* decoded from prec when not kept */
	STACK_OF(X509) *chain;       /* the chain the device showed with its profile request */
	struct provd_ders chain_der; /* its DER, as the registry keeps it (cert_pin hashes it) */
	struct sc_reg_cert_rec crec; /* the registry's row: der borrowed from der */
	uint8_t *der;
	int already; /* registered before: the same certificate again */
	/* Issue 14: the device CA's own CRL sent with it ("crl"), checked; NULL: none sent. */
	X509_CRL *crl;
	uint8_t *crl_der;
	size_t crl_der_len;
	int crl_stored; /* 1: kept as the device's newest (GET /v1/crls); 0 older; -1 not kept */
	int64_t crl_next_update; /* crl15: that CRL's nextUpdate, when kept */
	/* judge9: the profile row and chain already read (cert_first) for crec.profile_id; the
	 * pin's answer for prec's device (1 vouched, -1 not; 0 not asked yet). */
	int loaded;
	int pin;
	/* ref10: cert_first's row read found no profile crec.profile_id: cert_profile says so
	 * (after cert_parse's checks) without reading again. */
	int unknown;
	char unknown_detail[200];
	/*
	 * #17 (dur11): the "profile" sent back with the certificate (carry.h), read when the
	 * registry has no row for the leaf's profile; recover: the profile and the chain came from
	 * the request (cert_recover), so cert_record_recovered records both.
	 */
	struct provd_carried carried;
	char recover_ca[65]; /* dur11 review: the carried device CA's SHA-256 (hex) */
	int recover;
	/* late15: the renewal reference that judged it (cert_fast) or that it left
	 * (cert_keep_ref), held: marked recorded once its record commits (cert_consumed). */
	struct provd_leafref *ref;
};

static void cert_req_clear(const struct provd_api *api, struct cert_req *cr)
{
	provd_leafref_release(api->leafrefs, cr->ref);
	provd_carried_clear(&cr->carried);
	OPENSSL_free(cr->der);
	OPENSSL_free(cr->crl_der);
	X509_CRL_free(cr->crl);
	sc_profile_free(cr->prof);
	provd_profcache_release(api->profiles, cr->kept);
	sc_reg_profile_rec_clear(&cr->prec);
	sk_X509_pop_free(cr->chain, X509_free);
	provd_ders_clear(&cr->chain_der);
	sk_X509_pop_free(cr->leafs, X509_free);
	memset(cr, 0, sizeof(*cr));
}

/*
 * 1 if t is inside x's validity period, as path validation judges it (X509_cmp_time's answers;
 * enroll15: sc_fast_cmp_time gives them without writing t as an ASN1_TIME and parsing it back).
 */
static int valid_at(X509 *x, time_t t)
{
	return sc_fast_cmp_time(X509_get0_notBefore(x), t) < 0 &&
	    sc_fast_cmp_time(X509_get0_notAfter(x), t) > 0;
}

/* The certificate, its device ID and the profile its issuance extension names. */
static sc_err cert_parse(const struct provd_ctx *ctx, struct cert_req *cr,
    struct provd_response *resp)
{
	struct sc_issuance iss;
	sc_err r;

	if ((r = provd_json_certs(ctx->api->certs, ctx->body, "certificate", 0, &cr->leafs)) !=
	    SC_OK)
		return r;
	cr->leaf = sk_X509_value(cr->leafs, 0);
	if (sc_cert_device_id(cr->leaf, cr->device_id, sizeof(cr->device_id)) != SC_OK)
		return sc_fail(SC_ERR_BINDING,
		    "the certificate's subject has no serialNumber (device ID)");
	provd_log_add(resp, "device=%s", cr->device_id);
	if ((r = sc_issuance_get(cr->leaf, &iss)) != SC_OK)
		return sc_fail(SC_ERR_BINDING, "id-sc-pe-issuance extension: %s: %s",
		    sc_err_name(r), sc_err_detail());
	sc_hex(iss.profile_id, SC_PROFILE_ID_LEN, cr->crec.profile_id);
	provd_log_add(resp, "profile=%s", cr->crec.profile_id);
	return SC_OK;
}

/*
 * What we issued: the object we built and signed if still kept for exactly the registry's bytes,
 * else the registry's copy decoded as the SP decoded it. Then the chain the device showed us
 * with its profile request.
 */
static sc_err cert_profile_load(const struct provd_api *api, struct sc_reg *reg,
    struct cert_req *cr)
{
	const char *id = cr->crec.profile_id;
	sc_err r;

	if ((r = sc_reg_profile_get(reg, id, &cr->prec)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			return sc_fail(SC_ERR_PROFILE_UNKNOWN,
			    "the certificate names profile %s, which this server "
			    "never issued",
			    id);
		return provd_registry_err(r);
	}
	if (provd_profcache_get(api->profiles, cr->prec.der, cr->prec.der_len, &cr->use,
	        &cr->kept) != SC_OK) {
		sc_err_clear();
		/* #17: the stored profile may be a batch leaf (batcher.h). */
		if ((r = sc_profile_decode(cr->prec.der, cr->prec.der_len, &cr->prof)) != SC_OK &&
		    (r = sc_batch_decode(cr->prec.der, cr->prec.der_len, &cr->prof)) != SC_OK)
			return sc_fail(SC_ERR_INTERNAL, "stored profile %s: %s", id,
			    sc_err_detail());
		cr->use = cr->prof;
	}
	/* provd_certs_from_text's reading, the DER kept (first9: cert_pin hashes it). */
	if (provd_ders_from_text(&cr->chain_der, "stored chain", cr->prec.chain_pem,
	        strlen(cr->prec.chain_pem), PROVD_MAX_CHAIN) != SC_OK ||
	    provd_ders_x509(api->certs, &cr->chain_der, &cr->chain) != SC_OK)
		return sc_fail(SC_ERR_INTERNAL,
		    "the registry's copy of the device chain is unreadable");
	return SC_OK;
}

/* What cert_profile_load read, released (judge9: a row read for another profile ID). */
static void cert_profile_unload(const struct provd_api *api, struct cert_req *cr)
{
	sc_profile_free(cr->prof);
	cr->prof = NULL;
	provd_profcache_release(api->profiles, cr->kept);
	cr->kept = NULL;
	cr->use = NULL;
	sc_reg_profile_rec_clear(&cr->prec);
	memset(&cr->prec, 0, sizeof(cr->prec));
	sk_X509_pop_free(cr->chain, X509_free);
	cr->chain = NULL;
	provd_ders_clear(&cr->chain_der);
	memset(&cr->chain_der, 0, sizeof(cr->chain_der));
	cr->loaded = 0;
	cr->pin = 0;
}

/* The profile the certificate names (read once: cert_first may have read it), for its device. */
static sc_err cert_profile(const struct provd_api *api, struct sc_reg *reg, struct cert_req *cr)
{
	sc_err r;

	if (cr->loaded && strcmp(cr->prec.profile_id, cr->crec.profile_id) != 0)
		cert_profile_unload(api, cr);
	if (!cr->loaded && cr->unknown && strcmp(cr->prec.profile_id, cr->crec.profile_id) == 0)
		return sc_fail(SC_ERR_PROFILE_UNKNOWN, "%s", cr->unknown_detail);
	if (!cr->loaded && (r = cert_profile_load(api, reg, cr)) != SC_OK)
		return r;
	cr->loaded = 1;
	if (strcmp(cr->prec.device_id, cr->device_id) != 0)
		return sc_fail(SC_ERR_DEVICE_MISMATCH, "profile %s was issued to device %s, not %s",
		    cr->crec.profile_id, cr->prec.device_id, cr->device_id);
	return SC_OK;
}

/* One candidate issuer per certificate: the path the pin's validation built is this one. */
static int chain_one_path(const struct provd_api *api, STACK_OF(X509) *chain)
{
	int n = sk_X509_num(chain);

	/* schema14: the library's, which the pin's chain verdict includes (leaf_ref.h). */
	return n >= 1 && n <= PROVD_MAX_CHAIN && sc_chain_one_path(chain, api->mfr_root);
}

/* The chain's signatures vouched into the signature cache (a pinned path: see pin_vouch). */
static void chain_vouch(const struct provd_api *api, const struct provd_ders *der,
    STACK_OF(X509) *chain)
{
	int n = der->n;

	for (int i = 0; i < n; i++)
		sc_sig_cache_vouch(api->sigs, der->item[i].der, der->item[i].len,
		    i + 1 < n ? sk_X509_value(chain, i + 1) : api->mfr_root);
}

/*
 * #17 (first9): a pinned device's first certificate. Its profile row carries the chain the
 * device showed with its profile request; when those certificates are byte for byte the
 * device's pinned path under this root (their hashes with the pin's KEK hash give the pin's
 * path hash, the first is the pinned device CA), the path was validated to this root when the
 * pin was made (sc_device_verify: the operator's activation or provd's first contact). If each
 * certificate's issuer can only be the next one (the root after the last: issuer names equal
 * the next subject, all subjects distinct), that validation verified exactly the signatures
 * this certificate's path validation would verify above the leaf: they are vouched into the
 * signature cache (selfcert/cache.h), and cert_verify runs every check of the full path, in
 * its order, with the same errors, only without computing those signatures again. Nothing is
 * refused here, and no check is skipped: a chain that is not the pin's, a device without a pin
 * under this root, or a registry error leaves the cache as it was (the full computation).
 * docs/THREAT-MODEL.md "Session 9 (first9)". Log: pin=hit.
 */
static int pin_vouch(const struct provd_ctx *ctx, struct cert_req *cr)
{
	const struct provd_api *api = ctx->api;
	struct sc_reg_pin pin;
	uint8_t path[(PROVD_MAX_CHAIN + 1) * 32], md[32];
	char hex[65];
	size_t kek_len = 0;
	int n = sk_X509_num(cr->chain), found = 0, match = 0, hit = 0;

	if (api->sigs == NULL || !sc_fast_enabled() || n < 1 || n > PROVD_MAX_CHAIN ||
	    n != cr->chain_der.n || !sc_device_id_valid(cr->device_id))
		return 0;
	if (!chain_one_path(api, cr->chain))
		goto out;
	sc_hex(api->mfr_root_sha256, sizeof(api->mfr_root_sha256), hex); /* hashed at load */
	if (sc_reg_pin_get(ctx->reg, cr->device_id, hex, &pin, &found, &match) != SC_OK || !found ||
	    !match)
		goto out;
	/*
	 * sc_reg_pin_hashes' path hash, the KEK's part from the pin (the row keeps no KEK).
	 * b64der16: each certificate through the thread's memo (a maker's CA is every device's),
	 * the path with the pre-fetched SHA-256: the same digests (fast.h).
	 */
	for (int i = 0; i < n; i++)
		if (!sc_fast_sha256_memo(cr->chain_der.item[i].der, cr->chain_der.item[i].len,
		        path + 32 * i))
			goto out;
	sc_hex(path, 32, hex);
	if (strcmp(hex, pin.ca_sha256) != 0 ||
	    sc_unhex(pin.kek_sha256, path + 32 * n, 32, &kek_len) != SC_OK || kek_len != 32 ||
	    !EVP_Digest(path, 32 * ((size_t)n + 1), md, NULL, sc_fast_sha256(), NULL))
		goto out;
	sc_hex(md, sizeof(md), hex);
	if (strcmp(hex, pin.path_sha256) != 0)
		goto out;
	chain_vouch(api, &cr->chain_der, cr->chain);
	hit = 1;
out:
	ERR_clear_error();
	sc_err_clear();
	return hit;
}

/* pin_vouch once per request (judge9: cert_first may have asked for this device). Log: pin=hit. */
static void cert_pin(const struct provd_ctx *ctx, struct cert_req *cr, struct provd_response *resp)
{
	if (cr->pin == 0)
		cr->pin = pin_vouch(ctx, cr) ? 1 : -1;
	if (cr->pin > 0)
		provd_log_add(resp, "pin=hit");
}

/*
 * The SP refuses a profile past its profileNotAfter; so does the server, with the allowance it
 * gives every clock (PROVD_CLOCK_SKEW_S: the device's may lag ours, and the answer travels).
 * A consumed profile is not judged again: the same certificate coming back late is the device
 * retrying an answer it missed, and cert_record tells it so (or profile-consumed).
 */
static sc_err cert_in_time(const struct cert_req *cr, time_t now)
{
	char t[32];

	if (cr->prec.consumed_at != 0 ||
	    (int64_t)now <= cr->prec.profile_not_after + PROVD_CLOCK_SKEW_S)
		return SC_OK;
	provd_time_str(cr->prec.profile_not_after, t, sizeof(t));
	return sc_fail(SC_ERR_PROFILE_EXPIRED,
	    "profile %s expired at %s (allowance %d s); ask for a new profile", cr->crec.profile_id,
	    t, PROVD_CLOCK_SKEW_S);
}

static int renewal_of(const struct sc_profile *p)
{
	struct sc_profile_info info;

	sc_profile_get_info(p, &info);
	return info.renewal_count > 0;
}

/*
 * What every check of a certificate against its path starts from (cert_verify, cert_keep_ref,
 * cert_first): networks is the caller's { api->network_id, NULL }, alive while opts is.
 */
static void cert_opts(const struct provd_api *api, const struct cert_req *cr, time_t now,
    const char **networks, struct sc_verify_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->mfr_root = api->mfr_root;
	opts->chain = cr->chain;
	opts->allowed_networks = networks;
	opts->profile = cr->use;
	opts->net_root = api->net_root;
	opts->at = now;
}

static sc_err cert_verify(const struct provd_api *api, const struct cert_req *cr, time_t now)
{
	const char *networks[2] = { api->network_id, NULL };
	struct sc_verify_opts opts;
	sc_err r;

	cert_opts(api, cr, now, networks, &opts);
	/*
	 * #17: the SP may make a renewal certificate up to a cadence before it starts, and the
	 * agent may register it before then: judge its path when it starts. late15: and the agent
	 * may queue it past its end (--batch N): the SP made it inside its window (it refuses
	 * outside), so it is judged at its last second, its chain and the profile's signer as they
	 * were then (sc_profile_leaf_judged_at; docs/THREAT-MODEL.md "Session 15 (late15)").
	 * check_profile then binds its validity to one of the profile's periods.
	 */
	{
		struct sc_profile_info info;
		time_t nb, na;

		memset(&info, 0, sizeof(info));
		if (cr->use != NULL)
			sc_profile_get_info(cr->use, &info);
		if (info.renewal_count > 0 &&
		    sc_asn1_time_to_time_t(X509_get0_notBefore(cr->leaf), &nb) == SC_OK &&
		    sc_asn1_time_to_time_t(X509_get0_notAfter(cr->leaf), &na) == SC_OK)
			opts.at = sc_profile_leaf_judged_at(&info, nb, na, now);
		sc_err_clear();
	}
	/*
	 * A kept profile was built and signed by this process with api->signer: its signature,
	 * and its signer's chain to root.pem, EKU and key usage (proven at start, provd_api_load),
	 * cannot have changed; only time can, so the signer's and the root's validity now is
	 * checked here and the rest is not verified again. Every binding field is still compared,
	 * the profile's digest (of the registry's bytes) with the leaf's profileDigest first. A
	 * profile decoded from the registry (after a restart or an eviction) is checked in full.
	 * late15b: the same rule on both paths — the server's trust anchors (the profile's signer,
	 * root.pem) must be valid now for it to accept anything. A late renewal certificate
	 * (judged at an instant before now) of a profile read back has its signature and signer
	 * chain checked here at now, not at that instant (where sc_verify_chain would check it):
	 * else one registered after the signer or root expired was refused while the profile was
	 * kept and accepted after a restart. docs/THREAT-MODEL.md "Session 15 (late15)".
	 */
	if (cr->kept != NULL) {
		if (!valid_at(api->signer, now) || !valid_at(api->net_root, now))
			return sc_fail(SC_ERR_BINDING,
			    "%s: the profile signer's certificate or root.pem is not valid now",
			    sc_err_name(SC_ERR_UNTRUSTED_SIGNER));
		opts.profile_trusted = 1;
	} else if (cr->use != NULL && opts.at != now) {
		if ((r = sc_profile_verify_signature(cr->use, api->net_root, now)) != SC_OK)
			return sc_fail(SC_ERR_BINDING, "%s: %s", sc_err_name(r), sc_err_detail());
		opts.profile_trusted = 1; /* its signature just checked, at now */
	}
	/* The device CA and manufacturer CA signatures were verified with the profile request. */
	opts.sig_cache = api->sigs;
	if ((r = sc_verify_chain(cr->leaf, &opts, NULL)) != SC_OK)
		return sc_fail(r == SC_ERR_CHAIN ? SC_ERR_CHAIN : SC_ERR_BINDING, "%s: %s",
		    sc_err_name(r), sc_err_detail());
	return SC_OK;
}

/*
 * The optional "crl" (issue 14): the device CA's own CRL, which only this device's SP can sign;
 * checked against the device CA of the chain the device showed with its profile request, before
 * anything is recorded, so a bad one refuses the request and writes nothing. Every refusal is
 * bad-value "crl: <error>: <detail>", which tells an agent to ask again without it.
 */
static sc_err cert_crl(const struct provd_ctx *ctx, struct cert_req *cr, time_t now)
{
	const char *pem = NULL;
	size_t len = 0;
	sc_err r;

	if ((r = provd_json_string(ctx->body, "crl", 0, PROVD_CRL_PEM_MAX, &pem, &len)) != SC_OK ||
	    pem == NULL)
		return r;
	if ((r = provd_crl_from_pem(pem, len, sk_X509_value(cr->chain, 0), (int64_t)now,
	         &cr->crl_der, &cr->crl_der_len, &cr->crl)) != SC_OK)
		return sc_fail(PROVD_ERR_BAD_VALUE, "crl: %s: %s", sc_err_name(r), sc_err_detail());
	return SC_OK;
}

/* Keep the checked CRL as the device's newest, after the certificate is recorded. */
static sc_err cert_crl_keep(const struct provd_ctx *ctx, struct cert_req *cr)
{
	struct sc_reg_crl_rec rec;
	time_t nu = 0;
	ASN1_INTEGER *num = NULL;
	uint64_t v = 0;
	sc_err r;

	if (cr->crl == NULL)
		return SC_OK;
	memset(&rec, 0, sizeof(rec));
	num = X509_CRL_get_ext_d2i(cr->crl, NID_crl_number, NULL, NULL);
	if (num == NULL || ASN1_INTEGER_get_uint64(&v, num) != 1 ||
	    sc_asn1_time_to_time_t(X509_CRL_get0_nextUpdate(cr->crl), &nu) != SC_OK) {
		ASN1_INTEGER_free(num);
		return sc_fail(SC_ERR_INTERNAL, "crl: re-reading a checked CRL");
	}
	ASN1_INTEGER_free(num);
	snprintf(rec.device_id, sizeof(rec.device_id), "%s", cr->device_id);
	rec.number = v;
	rec.next_update = (int64_t)nu;
	rec.der = cr->crl_der;
	rec.der_len = cr->crl_der_len;
	/*
	 * The certificate is recorded already: a registry that will not keep the CRL (a runtime role
	 * without the schema-4 grant, a lost connection) must not turn its acknowledgement into a
	 * failure the agent would retry for ever. Logged, and "crl":"not-kept" in the answer.
	 */
	if ((r = sc_reg_crl_put(ctx->reg, &rec, (int64_t)time(NULL), &cr->crl_stored)) != SC_OK) {
		sc_log("device %s: the device CA CRL was not kept: %s: %s", cr->device_id,
		    sc_err_name(r), sc_err_detail());
		sc_err_clear();
		cr->crl_stored = -1;
	}
	cr->crl_next_update = rec.next_update;
	return SC_OK;
}

/*
 * #17: a renewal profile's certificate is one of its periods; sc_verify_chain has bound the
 * leaf's notBefore to the profile's plus a whole number of cadences below the count.
 */
static void cert_period(struct cert_req *cr)
{
	struct sc_profile_info info;

	sc_profile_get_info(cr->use, &info);
	if (info.renewal_count == 0 || info.renewal_cadence == 0)
		return;
	cr->crec.renewal = 1;
	cr->crec.period = (uint32_t)((cr->crec.not_before - (int64_t)info.not_before) /
	    (int64_t)info.renewal_cadence);
}

/* The registry's row: fingerprint, serial, validity, period (no database work). */
static sc_err cert_fields(struct cert_req *cr)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	size_t der_len = 0;
	BIGNUM *bn = NULL;
	char *serial_hex = NULL;
	sc_err r;

	/* The fingerprint over the DER just encoded: X509_digest would encode it again. */
	if (sc_cert_to_der(cr->leaf, &cr->der, &der_len) != SC_OK ||
	    !EVP_Digest(cr->der, der_len, md, &md_len, EVP_sha256(), NULL) || md_len != 32 ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cr->leaf), NULL)) == NULL ||
	    (serial_hex = BN_bn2hex(bn)) == NULL || strlen(serial_hex) > SC_REG_SERIAL_HEX_MAX) {
		r = sc_fail(SC_ERR_INTERNAL, "encoding the certificate");
		goto out;
	}
	sc_hex(md, md_len, cr->crec.fpr);
	for (char *c = serial_hex; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	snprintf(cr->crec.serial, sizeof(cr->crec.serial), "%s", serial_hex);
	snprintf(cr->crec.device_id, sizeof(cr->crec.device_id), "%s", cr->device_id);
	cr->crec.not_before = asn1_time(X509_get0_notBefore(cr->leaf));
	cr->crec.not_after = asn1_time(X509_get0_notAfter(cr->leaf));
	cr->crec.der = cr->der;
	cr->crec.der_len = der_len;
	cert_period(cr);
	r = SC_OK;
out:
	OPENSSL_free(serial_hex);
	BN_free(bn);
	return r;
}

/* Record it and consume its profile, in one transaction. */
static sc_err cert_record(const struct provd_ctx *ctx, struct cert_req *cr)
{
	char actor[SC_REG_ACTOR_MAX];
	sc_err r;

	snprintf(actor, sizeof(actor), "api %s", ctx->req->peer ? ctx->req->peer : "?");
	if ((r = sc_reg_cert_record(ctx->reg, &cr->crec, (int64_t)time(NULL), actor,
	         &cr->already)) != SC_OK)
		return provd_registry_err(r);
	return SC_OK;
}

/* #17 (dur11): cert_recover's profile and the certificate, in one durable transaction. */
static sc_err cert_record_recovered(const struct provd_ctx *ctx, struct cert_req *cr,
    struct provd_response *resp)
{
	char actor[SC_REG_ACTOR_MAX];
	char detail[200], why[SC_REG_NOTE_MAX];
	struct sc_reg_pin pin;
	int recovered = 0;
	sc_err r;

	/* dur11 review: recover_pin's comparison made again inside the write's transaction. */
	memset(&pin, 0, sizeof(pin));
	snprintf(pin.ca_sha256, sizeof(pin.ca_sha256), "%s", cr->recover_ca);
	cr->prec.pin = &pin;
	/*
	 * flood19 (review, LOW-2): the write's own refusal (rare: a pin made since recover_pin)
	 * audited here, not by the registry, under recover_pin's key: one place, no check before.
	 */
	cr->prec.pin_audit_quiet = 1;
	snprintf(actor, sizeof(actor), "api %s", ctx->req->peer ? ctx->req->peer : "?");
	r = sc_reg_profile_recover(ctx->reg, &cr->prec, &cr->crec, (int64_t)time(NULL), actor,
	    &recovered, &cr->already);
	if (r == SC_ERR_PIN_MISMATCH) {
		snprintf(why, sizeof(why), "%s", sc_err_detail());
		snprintf(detail, sizeof(detail),
		    "refused (certificate with its profile): device CA %.16s… shown, another pinned",
		    cr->recover_ca);
		audit_ca_changed(ctx, (int64_t)time(NULL), cr->device_id, cr->recover_ca, "",
		    detail);
		r = sc_fail(SC_ERR_PIN_MISMATCH, "%s", why);
	}
	cr->prec.pin = NULL;
	cr->prec.pin_audit_quiet = 0;
	if (r != SC_OK)
		return provd_registry_err(r);
	provd_log_add(resp, "%s", recovered ? "recovered" : "row-found");
	if (recovered)
		provd_metrics_profile_recovered(ctx->api->metrics);
	if (recovered)
		sc_log("device %s: profile %s recovered from its certificate registration",
		    cr->device_id, cr->crec.profile_id);
	return SC_OK;
}

/*
 * crl15: the device CA CRL the registry keeps for the device after this registration: the
 * nextUpdate of the one this request sent if it was kept, else the one the record's profile
 * read found (-1 none; 0 not read: say nothing).
 */
static int64_t cert_crl_held(const struct cert_req *cr)
{
	return cr->crl != NULL && cr->crl_stored > 0 ? cr->crl_next_update
	                                             : cr->crec.crl_next_update;
}

static json_t *cert_answer(const struct provd_api *api, const struct cert_req *cr,
    struct provd_response *resp)
{
	char t_nb[32], t_na[32], t_crl[32];
	int64_t held = cert_crl_held(cr);

	if (!cr->already)
		provd_metrics_cert_registered(api->metrics);
	provd_time_str(cr->crec.not_before, t_nb, sizeof(t_nb));
	provd_time_str(cr->crec.not_after, t_na, sizeof(t_na));
	if (held > 0)
		provd_time_str(held, t_crl, sizeof(t_crl));
	provd_log_add(resp, "serial=%s%s%s", cr->crec.serial, cr->already ? " (again)" : "",
	    cr->crl == NULL          ? (held < 0 ? " crl=none" : "")
	        : cr->crl_stored > 0 ? " crl=kept"
	        : cr->crl_stored < 0 ? " crl=not-kept"
	                             : " crl=older");
	/* crl15: "crl":"none" when none was sent and none is kept; "crl_until" when one is. */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s*, s:s*}", "status",
	    cr->already ? "already-registered" : "registered", "device_id", cr->device_id,
	    "profile_id", cr->crec.profile_id, "serial", cr->crec.serial, "fingerprint",
	    cr->crec.fpr, "not_before", t_nb, "not_after", t_na, "crl",
	    cr->crl == NULL          ? (held < 0 ? "none" : NULL)
	        : cr->crl_stored > 0 ? "kept"
	        : cr->crl_stored < 0 ? "not-kept"
	                             : "older",
	    "crl_until", held > 0 ? t_crl : NULL);
}

/*
 * #17 (renew7): the DER of a certificate sent in the plain forms provd_certs_from_text reads
 * the same way — base64 DER (the same strict decoder), or one PEM CERTIFICATE block of lines of
 * at most 64 base64 characters, nothing around it but one final newline. 0 for any other text:
 * the full parse reads (or refuses) it.
 */
static int cert_text_der(const char *s, size_t len, uint8_t **der, size_t *der_len)
{
	static const char head[] = "-----BEGIN CERTIFICATE-----\n";
	static const char tail[] = "-----END CERTIFICATE-----";
	const char *p = s + sizeof(head) - 1, *end = s + len, *nl;
	char *b64 = NULL;
	size_t n = 0, l;
	int ok = 0;

	*der = NULL;
	/* b64der16: base64 first (the agent's form); a text that decodes has no "-----BEGIN". */
	if (sc_base64_decode(s, len, 4 * (size_t)(PROVD_MAX_BODY / 3 + 1), der, der_len) == SC_OK ||
	    memmem(s, len, "-----BEGIN", 10) == NULL) {
		ok = *der != NULL;
		goto out;
	}
	if (len < sizeof(head) - 1 || memcmp(s, head, sizeof(head) - 1) != 0 ||
	    (b64 = malloc(len)) == NULL)
		goto out;
	while (p < end) {
		if ((size_t)(end - p) >= sizeof(tail) - 1 &&
		    memcmp(p, tail, sizeof(tail) - 1) == 0) {
			p += sizeof(tail) - 1;
			ok = (p == end || (p + 1 == end && *p == '\n')) && n > 0 &&
			    sc_base64_decode(b64, n, len, der, der_len) == SC_OK;
			goto out;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (l = (size_t)(nl - p)) < 1 || l > 64)
			goto out;
		for (size_t i = 0; i < l; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '+' && p[i] != '/' &&
			    p[i] != '=')
				goto out;
		memcpy(b64 + n, p, l);
		n += l;
		p = nl + 1;
	}
out:
	free(b64);
	sc_err_clear();
	if (!ok) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	return ok;
}

/*
 * enroll15b: the leaf's DER for the DER judges (cert_fast, cert_first), decoded once by
 * cert_text_der under the conditions either decoded it before: the shortcuts on, "certificate"
 * a string, and the renewal references kept (without a "crl") or the first judge's cache. *der
 * NULL (and the full path decides) otherwise or when the text is not one of its forms.
 */
static void cert_leaf_der(const struct provd_ctx *ctx, uint8_t **der, size_t *len)
{
	const struct provd_api *api = ctx->api;
	json_t *v = json_object_get(ctx->body, "certificate");

	*der = NULL;
	*len = 0;
	if (!sc_fast_enabled() || !json_is_string(v) ||
	    !((api->leafrefs != NULL && json_object_get(ctx->body, "crl") == NULL) ||
	        api->sigs != NULL) ||
	    !cert_text_der(json_string_value(v), json_string_length(v), der, len))
		*der = NULL;
}

/* 1 if the profile signer's certificate and root.pem are valid at now; *memo (-1: not yet
 * known) keeps the answer for a batch's other certificates, judged at the same now. */
static int anchors_valid(const struct provd_api *api, time_t now, int *memo)
{
	int ok;

	if (memo != NULL && *memo >= 0)
		return *memo;
	ok = valid_at(api->signer, now) && valid_at(api->net_root, now);
	if (memo != NULL)
		*memo = ok;
	return ok;
}

/*
 * #17 (renew7): a renewal profile's later certificate, judged against the reference its first
 * one left (fast/leaf_ref.h: one signature and a byte comparison instead of the parse, the
 * registry's profile read, path validation and the builder). Only what the full check would
 * accept is accepted here; anything else (1 is not returned) goes through the full check, which
 * names the refusal. The phases it stands for, in order: cert_parse (the same text forms),
 * cert_profile (the reference's profile is this certificate's: its issuance extension equals
 * the reference's but for the counter; the registry's profile row never changes), cert_in_time
 * (only while the profile is inside its time), cert_verify (the profile's own signer and the
 * root valid now, robust16; the rest is the reference's judge at the same time), cert_fields.
 */
/* The record of a certificate a DER judge accepted (cert_fast, cert_first): cr takes der. */
static void cert_judged(struct cert_req *cr, const struct sc_leaf_fast *f, uint8_t *der, size_t len)
{
	sc_hex(f->fpr, sizeof(f->fpr), cr->crec.fpr);
	snprintf(cr->crec.serial, sizeof(cr->crec.serial), "%s", f->serial);
	snprintf(cr->crec.device_id, sizeof(cr->crec.device_id), "%s", cr->device_id);
	cr->crec.not_before = (int64_t)f->not_before;
	cr->crec.not_after = (int64_t)f->not_after;
	cr->crec.renewal = f->renewal;
	cr->crec.period = f->renewal ? f->index : 0;
	cr->der = der;
	cr->crec.der = der;
	cr->crec.der_len = len;
}

/*
 * enroll15b: *dp is the leaf's DER cert_check decoded once (cert_leaf_der; NULL: none), taken
 * (set to NULL) only when the certificate is accepted here. robust16: the trust anchors checked
 * now are the profile's own (its signer certificates as it carries them, and root.pem:
 * sc_leaf_ref_anchors_valid), as cert_verify checks them (a kept profile's signer is this
 * process's, api->signer; one read back is checked with the signer it carries), not the node's
 * current signer: after a signer rotation the two differ, and a late certificate of a profile
 * signed by the old signer is refused by both paths once that signer has expired.
 */
static int cert_fast(const struct provd_ctx *ctx, struct cert_req *cr, struct provd_response *resp,
    time_t now, uint8_t **dp, size_t len)
{
	const struct provd_api *api = ctx->api;
	uint8_t id[SC_PROFILE_ID_LEN], *der = *dp;
	struct provd_leafref *e = NULL;
	struct sc_leaf_fast f;
	int ok = 0;

	if (api->leafrefs == NULL || !sc_fast_enabled() || der == NULL ||
	    json_object_get(ctx->body, "crl") != NULL)
		return 0;
	if (!sc_leaf_profile_id(der, len, id) ||
	    (e = provd_leafrefs_get(api->leafrefs, id)) == NULL ||
	    !provd_leafref_usable(e, (int64_t)now) || !sc_leaf_ref_anchors_valid(e->ref, now) ||
	    !sc_leaf_ref_judge(e->ref, der, len, now, &f))
		goto out;
	snprintf(cr->device_id, sizeof(cr->device_id), "%s", sc_leaf_ref_device_id(e->ref));
	memcpy(cr->crec.profile_id, e->profile_id, sizeof(e->profile_id));
	provd_log_add(resp, "device=%s", cr->device_id);
	provd_log_add(resp, "profile=%s", cr->crec.profile_id);
	cert_judged(cr, &f, der, len);
	*dp = NULL;
	cr->ref = e; /* held until cr is cleared: cert_consumed marks it */
	e = NULL;
	ok = 1;
out:
	provd_leafref_release(api->leafrefs, e);
	return ok;
}

/* #17 (renew7): a renewal profile's certificate that passed the full check leaves its
 * reference for the profile's later ones (none for a form the shortcut does not cover).
 * renew13: one the first judge accepted (cert_first: no X509 of it) leaves it from its DER. */
static void cert_keep_ref(const struct provd_api *api, struct cert_req *cr, time_t now)
{
	const char *networks[2] = { api->network_id, NULL };
	struct sc_verify_opts opts;
	struct sc_profile_info info;
	struct sc_leaf_ref *ref = NULL;
	uint8_t id[SC_PROFILE_ID_LEN];
	int64_t end;

	if (api->leafrefs == NULL || !sc_fast_enabled() || !renewal_of(cr->use) ||
	    !sc_leaf_profile_id(cr->der, cr->crec.der_len, id))
		return;
	sc_profile_get_info(cr->use, &info);
	end = (int64_t)sc_profile_window_end(&info);
	/* late15: none past the window's end (it would expire as it is put) nor over another. */
	if ((int64_t)now > end + PROVD_CLOCK_SKEW_S || cr->ref != NULL ||
	    provd_leafrefs_has(api->leafrefs, id))
		return;
	cert_opts(api, cr, now, networks, &opts);
	opts.profile_trusted = cr->kept != NULL;
	/* fleet12: cert_verify's path validation left the leaf's signature here; the reference's
	 * check of its own leaf then does not verify it again (sc_leaf_ref_new). */
	opts.sig_cache = api->sigs;
	if ((cr->leaf != NULL
	            ? sc_leaf_ref_new(cr->leaf, cr->der, cr->crec.der_len, &opts, &ref)
	            : sc_leaf_ref_new_der(cr->der, cr->crec.der_len, &opts, &ref)) != SC_OK) {
		sc_err_clear();
		return;
	}
	/*
	 * Put before the record commits (a batch's later certificates are judged against it
	 * before the batch's one transaction): so it is marked recorded only when the registry's
	 * row already said consumed or when a record commits (cert_consumed); until then it serves
	 * only up to profileNotAfter (provd_leafref_usable), as cert_in_time does for a profile
	 * that is not consumed. A record that did not commit leaves it no further use than that.
	 */
	cr->ref = provd_leafrefs_put(api->leafrefs, ref, cr->prec.profile_not_after, end,
	    cr->prec.consumed_at != 0);
}

/*
 * #17 (ref10): the profile's row, chain and pin answer from the reference its profile request
 * left (firstrefs.h) instead of cert_profile_load and pin_vouch: the same row fields (not
 * consumed_at: the write decides consumption, as for an in-time profile on the full path), the
 * same chain, the kept profile found by the same bytes. 0: nothing taken (no entry, past its
 * profileNotAfter, the profile no longer kept); cr is then as before.
 */
static int cert_from_ref(const struct provd_api *api, struct cert_req *cr,
    const struct provd_firstref *e, time_t now, int want_x509)
{
	if ((int64_t)now > e->profile_not_after + PROVD_CLOCK_SKEW_S) {
		/* Expired: the full path decides. */
		provd_firstrefs_drop(api->firstrefs, e->head.id);
		return 0;
	}
	/* enroll15: by the digest its signing computed, as provd_profcache_get of the DER finds. */
	if (provd_profcache_get_digest(api->profiles, e->digest, &cr->use, &cr->kept) != SC_OK) {
		/* Review (session 10): evicted profiles never come back; the entry is dead weight. */
		provd_firstrefs_drop(api->firstrefs, e->head.id);
		sc_err_clear();
		return 0;
	}
	/*
	 * schema14: no chain parsed (a strict verdict's entry): cr->chain stays NULL, unless the
	 * request needs the device CA's X509 (want_x509: a "crl" to judge), parsed here then.
	 */
	if (e->chain == NULL && want_x509) {
		if (provd_ders_x509(api->certs, &e->chain_der, &cr->chain) != SC_OK) {
			sc_err_clear();
			cert_profile_unload(api, cr);
			return 0;
		}
	} else if (e->chain != NULL) { /* provd_ders_x509 above gives owned references; a dup not */
		if ((cr->chain = sk_X509_dup(e->chain)) == NULL) {
			cert_profile_unload(api, cr);
			return 0;
		}
		for (int i = 0; i < sk_X509_num(cr->chain); i++)
			X509_up_ref(sk_X509_value(cr->chain, i));
	}
	memcpy(cr->prec.profile_id, e->profile_id, sizeof(e->profile_id));
	snprintf(cr->prec.device_id, sizeof(cr->prec.device_id), "%s", e->device_id);
	cr->prec.profile_not_after = e->profile_not_after;
	cr->loaded = 1;
	return 1;
}

/*
 * #17 (judge9): a pinned device's first certificate of an ordinary profile (renew13: or a
 * renewal profile's certificate, its window's first: any period) this process signed and keeps,
 * judged in DER (fast/leaf_ref.h sc_leaf_first_judge: the builder's bytes, the
 * leaf's signature, the device CA's path validated strictly, the leaf's name constraints)
 * instead of the leaf's parse, its path validation and check_profile. It only accepts: on a
 * miss the full path runs and keeps what was read here (the profile row and chain for
 * cert_profile, the pin's answer for cert_pin, an unknown profile's verdict), so nothing is read
 * twice and every refusal keeps its name and order. The phases it stands for: cert_parse (the
 * same text forms; the device is the profile's, which the builder writes), cert_profile,
 * cert_in_time, cert_pin, cert_verify (the kept profile's branch), cert_fields. A "crl" is then
 * checked by cert_crl as after cert_verify (*r its verdict): it judges the device CA's CRL, not
 * the leaf. ref10: the row, chain and pin from the profile request's reference when this
 * process has one (cert_from_ref); the pin's vouch only for a leaf whose subject names the
 * profile's device. docs/THREAT-MODEL.md "Session 9 (judge9)", "Session 10 (ref10)".
 * renew13: a renewal profile's certificate leaves its siblings' reference as the full path's
 * does (cert_keep_ref, from the DER); "Session 13 (renew13)".
 * Log: pin=hit judge=pin [ref=hit] [period=<i>].
 */
static int cert_first(const struct provd_ctx *ctx, struct cert_req *cr, struct provd_response *resp,
    time_t now, int *anchors, uint8_t **dp, size_t len, sc_err *r)
{
	const struct provd_api *api = ctx->api;
	const char *networks[2] = { api->network_id, NULL };
	uint8_t id[SC_PROFILE_ID_LEN], *der = *dp;
	struct provd_firstref *e = NULL;
	struct sc_verify_opts opts;
	struct sc_leaf_fast f;
	int ok = 0, from_ref = 0, looked = 0;
	sc_err lr;

	*r = SC_OK;
	if (api->sigs == NULL || !sc_fast_enabled() || der == NULL)
		return 0;
	if (!sc_leaf_profile_id(der, len, id))
		goto out;
	sc_hex(id, sizeof(id), cr->crec.profile_id);
	looked = 1;
	/* schema14: a strict verdict's entry has no device CA X509 to judge a "crl" with. */
	if ((e = provd_firstrefs_get(api->firstrefs, id)) != NULL)
		from_ref = cert_from_ref(api, cr, e, now,
		    json_object_get(ctx->body, "crl") != NULL);
	if (!from_ref && (lr = cert_profile_load(api, ctx->reg, cr)) != SC_OK) {
		/* Review (ref10): an unknown profile is read once; cert_profile reports it. */
		if (lr == SC_ERR_PROFILE_UNKNOWN) {
			snprintf(cr->unknown_detail, sizeof(cr->unknown_detail), "%s",
			    sc_err_detail());
			cert_profile_unload(api, cr);
			memcpy(cr->prec.profile_id, cr->crec.profile_id,
			    sizeof(cr->crec.profile_id));
			cr->unknown = 1;
		} else
			cert_profile_unload(api, cr);
		goto out;
	}
	cr->loaded = 1;
	snprintf(cr->device_id, sizeof(cr->device_id), "%s", cr->prec.device_id);
	if (cr->kept == NULL || cert_in_time(cr, now) != SC_OK || !anchors_valid(api, now, anchors))
		goto out;
	/*
	 * The builder writes the profile's own deviceId into the leaf; the full path compares the
	 * leaf's with the row's (DEVICE_MISMATCH): so the two must be the same here (review). And
	 * the leaf must name that device before anything is vouched for it (ref10's review): a
	 * sender knowing a profile ID no longer has the device's chain vouched by sending junk.
	 */
	{
		struct sc_profile_info info;

		sc_profile_get_info(cr->use, &info);
		if (strcmp(info.device_id, cr->prec.device_id) != 0 ||
		    !sc_leaf_device_is(der, len, cr->prec.device_id))
			goto out;
	}
	if (from_ref && cr->chain == NULL) {
		cr->pin = 1; /* schema14: nothing to vouch: no X509_verify_cert follows */
	} else if (from_ref) {
		chain_vouch(api, &e->chain_der, cr->chain);
		cr->pin = 1;
	} else if ((cr->pin = pin_vouch(ctx, cr) ? 1 : -1) < 0)
		goto out;
	cert_opts(api, cr, now, networks, &opts);
	opts.profile_trusted = 1;
	opts.sig_cache = api->sigs;
	if (from_ref && cr->chain == NULL) {
		/* schema14: judged from the chain's DER and the pin's strict verdict. */
		struct sc_first_chain_der cd;

		memset(&cd, 0, sizeof(cd));
		cd.n = e->chain_der.n <= SC_FIRST_CHAIN_MAX ? e->chain_der.n
		                                            : 0; /* 0: not judged */
		for (int i = 0; i < cd.n; i++) {
			cd.der[i] = e->chain_der.item[i].der;
			cd.len[i] = e->chain_der.item[i].len;
			cd.not_before[i] = e->not_before[i];
			cd.not_after[i] = e->not_after[i];
		}
		cd.ca_key = e->ca_key;
		cd.verdict = e->verdict;
		if (!sc_leaf_first_judge_der(der, len, &opts, &cd, &f))
			goto out;
	} else if (!sc_leaf_first_judge(der, len, &opts, &f))
		goto out;
	provd_log_add(resp, "device=%s", cr->device_id);
	provd_log_add(resp, "profile=%s", cr->crec.profile_id);
	provd_log_add(resp, "pin=hit judge=pin%s%s", from_ref ? " ref=hit" : "",
	    from_ref && cr->chain == NULL ? " chain=verdict" : "");
	if (f.renewal)
		provd_log_add(resp, "period=%u", f.index);
	cert_judged(cr, &f, der, len); /* the first judge's verdict: renewal and period */
	*dp = NULL;
	ok = 1;
out:
	/* Counted where the lookup was made: a hit only when the row and pin were not read. */
	if (looked)
		provd_firstrefs_note(api->firstrefs, ok && from_ref);
	/* What the reference gave is not the row (consumed_at): a miss reads the row, as before. */
	if (!ok && from_ref)
		cert_profile_unload(api, cr);
	provd_firstref_release(api->firstrefs, e);
	ERR_clear_error();
	sc_err_clear();
	if (ok)
		*r = cert_crl(ctx, cr, now);
	/* renew13: as cert_check after the full path's cert_fields (a renewal profile's only). */
	if (ok && *r == SC_OK)
		cert_keep_ref(api, cr, now);
	return ok;
}

/*
 * #17 (dur11): the device chain sent with a carried profile: the request's "chain" (as the
 * profile request's field), parsed, and its PEM for the profile's row. Only with "profile".
 */
static sc_err recover_chain(const struct provd_ctx *ctx, struct cert_req *cr)
{
	sc_err r;

	if (json_object_get(ctx->body, "chain") == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD,
		    "field \"chain\" is required with \"profile\" when the registry has no row for "
		    "profile %s (the device chain sent with its profile request)",
		    cr->crec.profile_id);
	if ((r = provd_json_ders(ctx->body, "chain", 1, &cr->chain_der)) != SC_OK ||
	    (r = provd_ders_x509(ctx->api->certs, &cr->chain_der, &cr->chain)) != SC_OK)
		return provd_ders_settle(ctx->api->certs, &cr->chain_der, r);
	return provd_ders_pem(&cr->chain_der, &cr->prec.chain_pem);
}

/*
 * #17 (dur11 review): the carried chain is the path the leaf is validated through, and a device
 * CA as a profile request's would be. One path (chain_one_path: each certificate's issuer can
 * only be the next, the manufacturer root after the last), so that sc_verify_chain cannot build
 * another path than the one recover_pin and cert_crl judge by chain[0]; the leaf issued by
 * chain[0] (names, key identifiers and its signature); then the device CA's half of
 * sc_device_verify (pathlen 0, critical name constraints to the device, a valid device ID, path
 * validation to the manufacturer root), its device the leaf's. Every refusal names "chain".
 */
static sc_err recover_path(const struct provd_ctx *ctx, struct cert_req *cr)
{
	const struct provd_api *api = ctx->api;
	const struct sc_device_trust trust = { api->mfr_root, api->mfr_store, api->sigs };
	X509 *ca = sk_X509_value(cr->chain, 0);
	char id[SC_DEVICE_ID_MAX + 1];
	enum sc_device_part bad = SC_DEVICE_PART_NONE;
	EVP_PKEY *key = NULL;
	sc_err r;

	if (!chain_one_path(api, cr->chain))
		return sc_fail(SC_ERR_CHAIN,
		    "field \"chain\": not one path (each certificate issued by the next, the last "
		    "by the manufacturer root, no subject twice)");
	if (X509_check_issued(ca, cr->leaf) != X509_V_OK || (key = X509_get0_pubkey(ca)) == NULL ||
	    X509_verify(cr->leaf, key) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_CHAIN,
		    "field \"chain\": the certificate was not issued by the chain's first "
		    "certificate");
	}
	if ((r = sc_device_verify(&trust, cr->chain, NULL, id, &bad)) != SC_OK)
		return sc_fail(r, "field \"chain\": %s", sc_err_detail());
	if (strcmp(id, cr->device_id) != 0)
		return sc_fail(SC_ERR_DEVICE_MISMATCH,
		    "field \"chain\": the device CA is device %s's, the certificate is device %s's",
		    id, cr->device_id);
	return SC_OK;
}

/*
 * #17 (dur11): a device pinned under any root keeps its device CA: a carried chain with another
 * one is refused as a profile request with it would be (device-ca-changed, and audited as
 * there: fix17). A device without a pin (its first-contact pin lost with the profile) is judged
 * by the chain's path validation alone, as its profile request was; no pin is made here (the
 * row keeps no KEK).
 */
static sc_err recover_pin(const struct provd_ctx *ctx, struct cert_req *cr)
{
	struct sc_reg_pin pin;
	uint8_t md[32];
	char root[65], ca[65], detail[200];
	int found = 0, match = 0;
	sc_err r;

	sc_hex(ctx->api->mfr_root_sha256, sizeof(ctx->api->mfr_root_sha256), root);
	if ((r = sc_reg_pin_get(ctx->reg, cr->device_id, root, &pin, &found, &match)) != SC_OK)
		return provd_registry_err(r);
	if (!EVP_Digest(cr->chain_der.item[0].der, cr->chain_der.item[0].len, md, NULL,
	        EVP_sha256(), NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "hashing the device CA");
	sc_hex(md, sizeof(md), ca);
	snprintf(cr->recover_ca, sizeof(cr->recover_ca), "%s", ca); /* for the write's check */
	if (!found)
		return SC_OK;
	if (strcmp(ca, pin.ca_sha256) != 0) {
		/* fix17: audited as profile_pin audits a profile request with another device CA. */
		snprintf(detail, sizeof(detail),
		    "refused (certificate with its profile): device CA %.16s… shown, %.16s… pinned",
		    ca, pin.ca_sha256);
		audit_ca_changed(ctx, (int64_t)time(NULL), cr->device_id, ca, "", detail);
		return sc_fail(SC_ERR_PIN_MISMATCH,
		    "field \"chain\": device %s is pinned to another device CA", cr->device_id);
	}
	return SC_OK;
}

/*
 * #17 (dur11): the registry has no row for the leaf's profile and the request carries one
 * (docs/API.md "Session 11 (dur11)"). Accepted only as this server's own profile for this very
 * certificate: decoded and judged by provd_carried_profile (an ordinary profile of this
 * network, signed with this server's signer key), its ID the leaf's, its device the leaf's;
 * the chain sent with it, the device's pin if it has one; then the phases of the full path on
 * that profile and chain, with nothing vouched for: cert_in_time (profile-expired),
 * cert_verify as for a profile read back from the registry (the profile's signature and its
 * signer's chain to root.pem, path validation to the manufacturer root, every binding field,
 * the digest first), cert_crl, cert_fields. Recorded by cert_record_recovered. Log: recover.
 */
static sc_err cert_recover(const struct provd_ctx *ctx, struct cert_req *cr,
    struct provd_response *resp, time_t now)
{
	const struct provd_api *api = ctx->api;
	struct sc_profile_info info;
	char id[SC_REG_ID_HEX_LEN + 1];
	sc_err r;

	cert_profile_unload(api, cr);
	cr->unknown = 0;
	provd_log_add(resp, "recover");
	if ((r = provd_carried_profile(api, &cr->carried, &cr->prof)) != SC_OK)
		return r;
	sc_profile_get_info(cr->prof, &info);
	sc_hex(info.id, SC_PROFILE_ID_LEN, id);
	if (strcmp(id, cr->crec.profile_id) != 0)
		return sc_fail(SC_ERR_BINDING,
		    "field \"profile\": profile %s, the certificate names profile %s", id,
		    cr->crec.profile_id);
	if (strcmp(info.device_id, cr->device_id) != 0)
		return sc_fail(SC_ERR_DEVICE_MISMATCH,
		    "field \"profile\": profile %s was issued to device %s, the certificate is "
		    "device %s's",
		    id, info.device_id, cr->device_id);
	cr->use = cr->prof;
	if ((r = recover_chain(ctx, cr)) != SC_OK || (r = recover_path(ctx, cr)) != SC_OK ||
	    (r = recover_pin(ctx, cr)) != SC_OK)
		return r;
	snprintf(cr->prec.profile_id, sizeof(cr->prec.profile_id), "%s", id);
	snprintf(cr->prec.device_id, sizeof(cr->prec.device_id), "%s", info.device_id);
	if (info.challenge_len > 0)
		sc_hex(info.challenge, info.challenge_len, cr->prec.challenge);
	cr->prec.origin = info.origin;
	cr->prec.alg = info.alg;
	cr->prec.not_before = (int64_t)info.not_before;
	cr->prec.not_after = (int64_t)info.not_after;
	cr->prec.profile_not_after = (int64_t)info.profile_not_after;
	cr->prec.der = cr->carried.der; /* the row's bytes: the request's, which the leaf binds */
	cr->prec.der_len = cr->carried.len;
	cr->carried.der = NULL;
	cr->carried.len = 0;
	cr->loaded = 1;
	cr->recover = 1;
	if ((r = cert_in_time(cr, now)) != SC_OK || (r = cert_verify(api, cr, now)) != SC_OK ||
	    (r = cert_crl(ctx, cr, now)) != SC_OK || (r = cert_fields(cr)) != SC_OK)
		return r;
	return SC_OK;
}

/* Every phase before the registry's write, in docs/API.md's order; *anchors as in
 * anchors_valid (NULL: one certificate). */
static sc_err cert_check(const struct provd_ctx *ctx, struct cert_req *cr,
    struct provd_response *resp, time_t now, int *anchors)
{
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;
	int ok;

	/* enroll15b: the leaf's DER decoded once for both DER judges (each decoded it before). */
	cert_leaf_der(ctx, &der, &len);
	if (cert_fast(ctx, cr, resp, now, &der, len)) {
		OPENSSL_free(der); /* NULL: taken */
		return SC_OK;
	}
	ok = cert_first(ctx, cr, resp, now, anchors, &der, len, &r);
	OPENSSL_free(der); /* NULL when taken */
	if (ok)
		return r;
	if ((r = cert_parse(ctx, cr, resp)) != SC_OK)
		return r;
	/* #17 (dur11): a profile the registry lost, sent back with its certificate; only under
	 * --profile-commit deferred (under durable a missing row is no power loss). */
	if ((r = cert_profile(ctx->api, ctx->reg, cr)) == SC_ERR_PROFILE_UNKNOWN &&
	    cr->carried.der != NULL && ctx->api->profile_commit_deferred)
		return cert_recover(ctx, cr, resp, now);
	if (r != SC_OK || (r = cert_in_time(cr, now)) != SC_OK)
		return r;
	cert_pin(ctx, cr, resp);
	if ((r = cert_verify(ctx->api, cr, now)) != SC_OK ||
	    (r = cert_crl(ctx, cr, now)) != SC_OK || (r = cert_fields(cr)) != SC_OK)
		return r;
	cert_keep_ref(ctx->api, cr, now);
	return SC_OK;
}

/* ref10: an ordinary profile's certificate is recorded: its profile is consumed, its
 * first-certificate reference (if any) no longer needed. renew13: a renewal profile's too (its
 * later certificates are judged against the reference cert_keep_ref left, or in full). */
static void cert_consumed(const struct provd_api *api, const struct cert_req *cr)
{
	uint8_t id[SC_PROFILE_ID_LEN];
	size_t n = 0;

	/* late15: its renewal reference now serves the rest of the window (provd_leafref_usable). */
	provd_leafref_recorded(cr->ref);
	if (api->firstrefs != NULL && sc_unhex(cr->crec.profile_id, id, sizeof(id), &n) == SC_OK &&
	    n == sizeof(id))
		provd_firstrefs_drop(api->firstrefs, id);
	sc_err_clear();
}

/* The server's trouble, not the certificate's: a batch request fails as a whole for it. */
static int server_trouble(sc_err r)
{
	return r == SC_ERR_IO || r == SC_ERR_NOMEM || r == SC_ERR_INTERNAL;
}

static void outcome_refused(struct provd_cert_outcome *o, sc_err r)
{
	o->r = r;
	snprintf(o->detail, sizeof(o->detail), "%s", sc_err_detail());
}

sc_err provd_cert_register_many(const struct provd_ctx *ctx, json_t *list,
    struct provd_response *resp, struct provd_cert_outcome *out)
{
	size_t n = json_array_size(list), m = 0, *idx = NULL;
	struct provd_ctx sub = *ctx;
	struct cert_req *crs = NULL;
	struct sc_reg_cert_rec *recs = NULL;
	struct sc_reg_cert_outcome *res = NULL;
	char actor[SC_REG_ACTOR_MAX];
	time_t now = time(NULL);
	int anchors = -1;
	sc_err r;

	memset(out, 0, n * sizeof(*out));
	sub.body = NULL;
	if (n < 1 || n > SC_REG_RECORD_MANY_MAX || (crs = calloc(n, sizeof(*crs))) == NULL ||
	    (recs = calloc(n, sizeof(*recs))) == NULL || (res = calloc(n, sizeof(*res))) == NULL ||
	    (idx = calloc(n, sizeof(*idx))) == NULL || (sub.body = json_object()) == NULL) {
		r = sc_fail(n < 1 || n > SC_REG_RECORD_MANY_MAX ? SC_ERR_INTERNAL : SC_ERR_NOMEM,
		    "batch of %zu", n);
		goto out;
	}
	/* Each judged as POST /v1/certificates judges one; the accepted ones recorded together. */
	for (size_t i = 0; i < n; i++) {
		if (json_object_set(sub.body, "certificate", json_array_get(list, i)) != 0) {
			r = sc_fail(SC_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((r = cert_check(&sub, &crs[i], resp, now, &anchors)) != SC_OK) {
			if (server_trouble(r))
				goto out;
			outcome_refused(&out[i], r);
			continue;
		}
		recs[m] = crs[i].crec;
		idx[m++] = i;
	}
	snprintf(actor, sizeof(actor), "api %s", ctx->req->peer ? ctx->req->peer : "?");
	if (m > 0 &&
	    (r = sc_reg_cert_record_many(ctx->reg, recs, m, (int64_t)time(NULL), actor, res)) !=
	        SC_OK) {
		r = provd_registry_err(r);
		goto out;
	}
	for (size_t k = 0; k < m; k++) {
		struct cert_req *cr = &crs[idx[k]];

		cr->crec = recs[k];
		if (res[k].r != SC_OK) {
			(void)sc_fail(res[k].r, "%s", res[k].detail);
			if (server_trouble(r = provd_registry_err(res[k].r)))
				goto out;
			outcome_refused(&out[idx[k]], r);
			continue;
		}
		cr->already = res[k].already;
		out[idx[k]].already = cr->already;
		cert_consumed(ctx->api, cr);
		if ((out[idx[k]].answer = cert_answer(ctx->api, cr, resp)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	r = SC_OK;
out:
	if (r != SC_OK)
		for (size_t i = 0; i < n; i++) {
			json_decref(out[i].answer);
			out[i].answer = NULL;
		}
	for (size_t i = 0; crs != NULL && i < n; i++)
		cert_req_clear(ctx->api, &crs[i]);
	json_decref(sub.body);
	free(crs);
	free(recs);
	free(res);
	free(idx);
	return r;
}

/*
 * #17 (dur11): cr judged again from the start, on its carried profile only: the certificate's
 * parse (cert_parse), then cert_recover. cr keeps nothing else of the first judgement.
 */
static sc_err cert_check_carried(const struct provd_ctx *ctx, struct cert_req *cr,
    struct provd_response *resp, time_t now)
{
	struct provd_carried keep = cr->carried;
	sc_err r;

	memset(&cr->carried, 0, sizeof(cr->carried));
	cert_req_clear(ctx->api, cr);
	cr->carried = keep;
	if ((r = cert_parse(ctx, cr, resp)) != SC_OK)
		return r;
	return cert_recover(ctx, cr, resp, now);
}

/*
 * #17 (dur11): "profile" read as far as every request reads it (carry.h), and "chain", which
 * comes only with it, checked for its form (read only when the profile is recovered).
 */
static sc_err recover_fields(const struct provd_ctx *ctx, struct cert_req *cr,
    struct provd_response *resp)
{
	struct provd_ders d;
	sc_err r;

	if ((r = provd_carried_parse(ctx->body, &cr->carried)) != SC_OK)
		return r;
	if (cr->carried.der != NULL) /* dur11 review: which clients carry it, in the log */
		provd_log_add(resp, "carried");
	if (json_object_get(ctx->body, "chain") == NULL)
		return SC_OK;
	if (cr->carried.der == NULL)
		return sc_fail(PROVD_ERR_BAD_VALUE, "field \"chain\" comes only with \"profile\"");
	r = provd_json_ders(ctx->body, "chain", 1, &d);
	provd_ders_clear(&d);
	return r;
}

sc_err provd_cert_register(const struct provd_ctx *ctx, struct provd_response *resp,
    json_t **answer, int *already)
{
	time_t now = time(NULL);
	struct cert_req cr;
	sc_err r;

	*answer = NULL;
	*already = 0;
	memset(&cr, 0, sizeof(cr));
	if ((r = recover_fields(ctx, &cr, resp)) != SC_OK ||
	    (r = cert_check(ctx, &cr, resp, now, NULL)) != SC_OK)
		goto out;
	r = cr.recover ? cert_record_recovered(ctx, &cr, resp) : cert_record(ctx, &cr);
	/* #17 (dur11): judged from this process's reference (cert_first, ref10) while the
	 * registry has no row: judged again on the carried profile, then recorded with it. */
	if (r == SC_ERR_PROFILE_UNKNOWN && !cr.recover && cr.carried.der != NULL &&
	    ctx->api->profile_commit_deferred &&
	    (r = cert_check_carried(ctx, &cr, resp, now)) == SC_OK)
		r = cert_record_recovered(ctx, &cr, resp);
	if (r != SC_OK)
		goto out;
	cert_consumed(ctx->api, &cr);
	if ((r = cert_crl_keep(ctx, &cr)) != SC_OK)
		goto out;
	if ((*answer = cert_answer(ctx->api, &cr, resp)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "out of memory");
		goto out;
	}
	*already = cr.already;
out:
	cert_req_clear(ctx->api, &cr);
	return r;
}

sc_err provd_h_certificates(const struct provd_ctx *ctx, struct provd_response *resp)
{
	json_t *answer = NULL;
	int already = 0;
	sc_err r;

	if ((r = provd_cert_register(ctx, resp, &answer, &already)) != SC_OK)
		return r;
	provd_respond_json(resp, already ? 200 : 201, answer);
	return SC_OK;
}
