// SPDX-License-Identifier: Apache-2.0
/*
 * req_keys.c — the leaf keys' use once issued (docs/PROTOCOL.md): KEYS lists them, SIGN,
 * DECRYPT and DERIVE use one as its certificate's keyUsage allows, DELETE forgets one for good.
 * The handlers decode and check; every private operation is the key backend's (backend.h).
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include "backend.h"
#include "req.h"
#include "sp_msg.h"
#include "sp_wire.h"
#include "file.h"
#include "pem.h"

/*
 * KEYS is paged: the answer holds the keys with handles after `after`, as many as fit in one
 * message, and says whether more follow.
 */
sc_err spd_h_keys(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf page;
	uint32_t after, n = 0;
	size_t i, used = ans->len + SP_KEYS_ANS_HEAD;
	uint8_t more = 0;

	if ((r = sp_keys_req_get(req, &after)) != SC_OK)
		return r;
	sc_buf_init_writer(&page, SC_SP_MAX_MSG, 0);
	for (i = 0; i < st->n_slots; i++) {
		struct spd_slot *s = &st->slots[i];
		uint8_t *der = NULL;
		size_t len = 0;

		if (s->handle <= after)
			continue;
		if (s->cert_der != NULL) { /* kept from ISSUE or the store */
			if ((der = OPENSSL_memdup(s->cert_der, s->cert_der_len)) == NULL) {
				r = sc_fail(SC_ERR_NOMEM, "keys page");
				goto out;
			}
			len = s->cert_der_len;
		} else if ((r = sc_cert_to_der(s->cert, &der, &len)) != SC_OK) {
			goto out;
		}
		if (used + page.len + SP_KEYS_ANS_KEY(len) > SC_SP_MAX_MSG) {
			OPENSSL_free(der);
			more = 1;
			break;
		}
		sp_keys_ans_put_key(&page, s->handle, (uint8_t)s->alg, der, len);
		OPENSSL_free(der);
		n++;
	}
	if ((r = sc_buf_done(&page, "keys page")) != SC_OK)
		goto out;
	sp_keys_ans_put_head(ans, more, n);
	sc_buf_put_bytes(ans, page.data, page.len);
	r = SC_OK;
out:
	sc_buf_free(&page);
	return r;
}

/* One SIGN in flight: the decoded body, the slot's key and the digest it signs with. */
struct sign_op {
	const struct spd_backend *be;
	const struct spd_slot *s;
	EVP_PKEY *pub;    /* the key's public half (sizes only) */
	const EVP_MD *md; /* NULL: Ed25519 */
};

/* MESSAGE: the key's own scheme over the whole input (Ed25519, or hash-then-sign). */
static sc_err sign_message(const struct sign_op *o, const struct sp_sign_req *q, uint8_t **sig,
    size_t *sig_len)
{
	return o->be->sign(o->s->key, SPD_SIGN_MESSAGE, o->md, 0, q->input, q->input_len, sig,
	    sig_len);
}

/* DIGEST: one digest of md, signed as is (PKCS#1 v1.5 for RSA, ECDSA for EC; not Ed25519). */
static sc_err sign_digest(const struct sign_op *o, const struct sp_sign_req *q, uint8_t **sig,
    size_t *sig_len)
{
	if (o->s->alg == SC_ALG_ED25519 || o->md == NULL)
		return sc_fail(SC_ERR_ALGORITHM, "sign: Ed25519 signs messages, not digests");
	if (q->input_len != (size_t)EVP_MD_get_size(o->md))
		return sc_fail(SC_ERR_USAGE, "sign: %zu-byte input is not a %s digest",
		    q->input_len, EVP_MD_get0_name(o->md));
	return o->be->sign(o->s->key, SPD_SIGN_DIGEST, o->md, 0, q->input, q->input_len, sig,
	    sig_len);
}

/* PSS: RSA only, one digest of md, a salt within RFC 8017's bound for this key. */
static sc_err sign_pss(const struct sign_op *o, const struct sp_sign_req *q, uint8_t **sig,
    size_t *sig_len)
{
	int max_salt;

	if (!sc_alg_is_rsa(o->s->alg))
		return sc_fail(SC_ERR_ALGORITHM, "sign: PSS needs an RSA key, key %u is %s",
		    (unsigned)q->handle, sc_alg_name(o->s->alg));
	if (q->input_len != (size_t)EVP_MD_get_size(o->md))
		return sc_fail(SC_ERR_USAGE, "sign: %zu-byte input is not a %s digest",
		    q->input_len, EVP_MD_get0_name(o->md));
	/* RFC 8017 9.1.1: emLen >= hLen + sLen + 2 (our moduli are whole bytes). */
	max_salt = EVP_PKEY_get_size(o->pub) - EVP_MD_get_size(o->md) - 2;
	if (q->salt_len > (uint32_t)max_salt)
		return sc_fail(SC_ERR_USAGE,
		    "sign: PSS salt length %u over %d for this key and digest",
		    (unsigned)q->salt_len, max_salt);
	return o->be->sign(o->s->key, SPD_SIGN_PSS, o->md, q->salt_len, q->input, q->input_len, sig,
	    sig_len);
}

sc_err spd_h_sign(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct sp_sign_req q;
	struct sign_op o;
	struct spd_slot *s;
	size_t sig_len = 0;
	uint8_t *sig = NULL;
	uint32_t ku;
	sc_err r;

	if ((r = sp_sign_req_get(req, &q)) != SC_OK)
		return r;

	if ((s = spd_find_slot(&spd->st, q.handle, NULL)) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "sign: no key with handle %u", (unsigned)q.handle);
	/* Only what the key's certificate allows (no keyUsage at all means any, per X.509). */
	ku = spd_slot_ku(s);
	if (!(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return sc_fail(SC_ERR_KEY_USAGE,
		    "sign: key %u's certificate does not allow signing", (unsigned)q.handle);
	if (q.digest > SC_DIGEST_SHA512)
		return sc_fail(SC_ERR_ALGORITHM, "sign: unknown digest %u", q.digest);
	o.be = spd->st.be;
	o.s = s;
	o.pub = o.be->key_public(s->key);
	o.md = sc_sign_md(o.pub, (enum sc_digest)q.digest);
	if (q.mode == SC_SP_SIGN_MESSAGE)
		r = sign_message(&o, &q, &sig, &sig_len);
	else if (q.mode == SC_SP_SIGN_DIGEST)
		r = sign_digest(&o, &q, &sig, &sig_len);
	else if (q.mode == SC_SP_SIGN_PSS)
		r = sign_pss(&o, &q, &sig, &sig_len);
	else
		r = sc_fail(SC_ERR_USAGE, "sign: unknown mode %u", q.mode);
	if (r == SC_OK)
		sp_sign_ans_put(ans, sig, sig_len);
	OPENSSL_free(sig);
	return r;
}

sc_err spd_h_delete(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	struct spd_slot gone;
	uint32_t handle;
	size_t idx = 0;
	sc_err r;

	if ((r = sp_delete_req_get(req, &handle)) != SC_OK)
		return r;
	if (spd_find_slot(st, handle, &idx) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "delete: no key with handle %u", (unsigned)handle);
	gone = st->slots[idx];
	memmove(&st->slots[idx], &st->slots[idx + 1], (st->n_slots - idx - 1) * sizeof(gone));
	st->n_slots--;
	memset(&st->slots[st->n_slots], 0, sizeof(gone));
	if ((r = spd_commit(spd)) != SC_OK) {
		memmove(&st->slots[idx + 1], &st->slots[idx], (st->n_slots - idx) * sizeof(gone));
		st->slots[idx] = gone;
		st->n_slots++;
		return r;
	}
	st->be->key_free(gone.key);
	X509_free(gone.cert);
	OPENSSL_free(gone.cert_der);
	sp_delete_ans_put(ans);
	return SC_OK;
}

/* ---- leaf-key decryption and key agreement (for the PKCS#11 module) ---- */

/* DECRYPT's hash codes: the digests of section 4, and SHA-1 (sound in OAEP, common in PKCS#11). */
static const EVP_MD *oaep_md(uint8_t code)
{
	if (code == SC_SP_OAEP_SHA1)
		return EVP_sha1();
	if (code >= SC_DIGEST_SHA256 && code <= SC_DIGEST_SHA512)
		return sc_digest_md((enum sc_digest)code);
	return NULL;
}

sc_err spd_h_decrypt(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct sp_decrypt_req q;
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	sc_err r = SC_ERR_INTERNAL;
	const EVP_MD *md, *mgf1;
	const uint8_t *label, *in;
	size_t label_len, in_len, out_len = 0;
	uint8_t *out = NULL;
	struct spd_slot *s;
	uint32_t handle, ku;
	uint8_t scheme, md_code, mgf1_code;
	int block;

	if ((r = sp_decrypt_req_get(req, &q)) != SC_OK)
		return r;
	handle = q.handle;
	scheme = q.scheme;
	md_code = q.hash;
	mgf1_code = q.mgf1_hash;
	label = q.label;
	label_len = q.label_len;
	in = q.ciphertext;
	in_len = q.ciphertext_len;

	if ((s = spd_find_slot(st, handle, NULL)) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "decrypt: no key with handle %u", (unsigned)handle);
	if (!sc_alg_is_rsa(s->alg))
		return sc_fail(SC_ERR_ALGORITHM, "decrypt: key %u is %s, only RSA keys decrypt",
		    (unsigned)handle, sc_alg_name(s->alg));
	ku = spd_slot_ku(s);
	if (!(ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)))
		return sc_fail(SC_ERR_KEY_USAGE,
		    "decrypt: key %u's certificate allows neither "
		    "keyEncipherment nor dataEncipherment",
		    (unsigned)handle);
	if (scheme != SC_SP_DECRYPT_OAEP)
		return sc_fail(SC_ERR_USAGE, "decrypt: unknown scheme %u", scheme);
	if ((md = oaep_md(md_code)) == NULL || (mgf1 = oaep_md(mgf1_code)) == NULL)
		return sc_fail(SC_ERR_ALGORITHM, "decrypt: unknown %s hash %u",
		    md == NULL ? "OAEP" : "MGF1", md == NULL ? md_code : mgf1_code);
	block = EVP_PKEY_get_size(be->key_public(s->key));
	if (in_len != (size_t)block)
		return sc_fail(SC_ERR_USAGE,
		    "decrypt: %zu-byte ciphertext, key %u takes %d-byte blocks", in_len,
		    (unsigned)handle, block);
	if ((out = OPENSSL_malloc(in_len)) == NULL)
		return sc_fail_ossl(SC_ERR_INTERNAL, "decrypt: setting up RSA-OAEP");
	out_len = in_len;
	r = be->decrypt_oaep(s->key, md, mgf1, label, label_len, in, in_len, out, &out_len);
	if (r == SC_ERR_KEY_DECRYPT) {
		r = sc_fail(SC_ERR_KEY_DECRYPT,
		    "decrypt: the ciphertext does not decrypt with key %u", (unsigned)handle);
		goto out;
	}
	if (r != SC_OK)
		goto out;
	/* The plaintext is a secret in transit: the encoder marks the answer to be wiped. */
	sp_decrypt_ans_put(ans, out, out_len);
	r = SC_OK;
out:
	OPENSSL_clear_free(out, in_len);
	return r;
}

/* The peer's public key from an uncompressed point on curve `group`; NULL if it is not one. */
static EVP_PKEY *ec_peer_key(const char *group, const uint8_t *point, size_t len)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *peer = NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len);
	params[2] = OSSL_PARAM_construct_end();
	/* Decoding the point checks that it lies on the curve. */
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(peer);
		peer = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return peer;
}

sc_err spd_h_derive(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY *peer = NULL;
	const uint8_t *point;
	size_t point_len, field, secret_len = 0;
	uint8_t *secret = NULL;
	struct spd_slot *s;
	uint32_t handle, ku;
	const char *group;

	if ((r = sp_derive_req_get(req, &handle, &point, &point_len)) != SC_OK)
		return r;
	if ((s = spd_find_slot(st, handle, NULL)) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "derive: no key with handle %u", (unsigned)handle);
	if (s->alg != SC_ALG_P256 && s->alg != SC_ALG_P384)
		return sc_fail(SC_ERR_ALGORITHM, "derive: key %u is %s, only EC keys agree keys",
		    (unsigned)handle, sc_alg_name(s->alg));
	ku = spd_slot_ku(s);
	if (!(ku & KU_KEY_AGREEMENT))
		return sc_fail(SC_ERR_KEY_USAGE,
		    "derive: key %u's certificate does not allow "
		    "keyAgreement",
		    (unsigned)handle);
	field = s->alg == SC_ALG_P256 ? 32 : 48;
	group = s->alg == SC_ALG_P256 ? "P-256" : "P-384";
	/* Uncompressed only: one encoding, nothing for the SP to decompress. */
	if (point_len != 1 + 2 * field || point[0] != 0x04 ||
	    (peer = ec_peer_key(group, point, point_len)) == NULL)
		return sc_fail(SC_ERR_MALFORMED,
		    "derive: the peer point is not an uncompressed %s "
		    "point (%zu bytes, 0x04 first)",
		    group, 1 + 2 * field);
	if ((r = be->derive(s->key, peer, &secret, &secret_len)) != SC_OK)
		goto out;
	sp_derive_ans_put(ans, secret, secret_len); /* marks the answer secret */
	r = SC_OK;
out:
	OPENSSL_clear_free(secret, secret_len);
	EVP_PKEY_free(peer);
	return r;
}
