// SPDX-License-Identifier: Apache-2.0
/*
 * req_factory.c — the factory's requests (docs/PROTOCOL.md): INFO, and the personalization that
 * LOCK ends for good (KEYGEN with its proof-of-possession CSR, INSTALL_CERT, INSTALL_ANCHOR,
 * SET_LIMITS, LOCK). The dispatch table refuses all but INFO once the SP is locked.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include "backend.h"
#include "req.h"
#include "sp_msg.h"
#include "sp_wire.h"
#include "file.h"
#include "pem.h"

sc_err spd_h_info(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	struct sp_info info;
	uint8_t *csk = NULL, *kek = NULL;
	size_t i;

	if ((r = sp_info_req_get(req)) != SC_OK)
		return r;
	memset(&info, 0, sizeof(info));
	info.state = (uint8_t)st->state;
	snprintf(info.device_id, sizeof(info.device_id), "%s", st->device_id);
	info.issuance_counter = st->issuance_counter;
	info.n_keys = (uint32_t)st->n_slots;
	info.max_keys = st->max_keys;
	info.max_leaf_days = st->max_leaf_days;
	if (st->csk_cert != NULL &&
	    (r = sc_cert_to_der(st->csk_cert, &csk, &info.csk_cert_len)) != SC_OK)
		goto out;
	if (st->kek_cert != NULL &&
	    (r = sc_cert_to_der(st->kek_cert, &kek, &info.kek_cert_len)) != SC_OK)
		goto out;
	info.csk_cert = csk;
	info.kek_cert = kek;
	info.n_networks = (uint32_t)st->n_anchors;
	for (i = 0; i < st->n_anchors; i++)
		snprintf(info.networks[i], sizeof(info.networks[i]), "%s",
		    st->anchors[i].network_id);
	sp_info_ans_put(ans, &info);
	r = SC_OK;
out:
	OPENSSL_free(csk);
	OPENSSL_free(kek);
	return r;
}

sc_err spd_h_backend(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct sc_sp_backend d;
	sc_err r;

	if ((r = sp_backend_req_get(req)) != SC_OK)
		return r;
	/* The TPM's fields only with a TPM: a soft store has no chip to describe. */
	if (spd->st.be != NULL && strcmp(spd->st.be->name, "tpm") == 0)
		d = spd->backend_desc;
	else
		memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", spd->st.be != NULL ? spd->st.be->name : "soft");
	sp_backend_ans_put(ans, &d);
	return SC_OK;
}

sc_err spd_h_keygen(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	sc_err r = SC_ERR_INTERNAL;
	struct spd_key *key = NULL, *old_key, **key_slot;
	enum sc_alg *alg_slot, old_alg;
	enum sc_sp_state old_state = st->state;
	uint8_t *der = NULL;
	size_t der_len = 0;
	uint8_t role, alg;
	unsigned ku;

	if ((r = sp_keygen_req_get(req, &role, &alg)) != SC_OK)
		return r;
	if (role != SC_SP_ROLE_CSK && role != SC_SP_ROLE_KEK)
		return sc_fail(SC_ERR_USAGE, "keygen: unknown role %u", role);
	if (!sc_alg_valid(alg))
		return sc_fail(SC_ERR_ALGORITHM, "keygen: unknown algorithm %u", alg);
	/* The KEK decrypts supplied keys (RSA-OAEP or ECDH): Ed25519 cannot. */
	if (role == SC_SP_ROLE_KEK && alg == SC_ALG_ED25519)
		return sc_fail(SC_ERR_ALGORITHM, "keygen: the KEK must be RSA or EC");
	/* Once the factory has certified a key, it must not silently change under the cert. */
	if ((role == SC_SP_ROLE_CSK && st->csk_cert != NULL) ||
	    (role == SC_SP_ROLE_KEK && st->kek_cert != NULL))
		return sc_fail(SC_ERR_EXISTS, "keygen: the %s is already certified",
		    role == SC_SP_ROLE_CSK ? "CSK" : "KEK");
	/* The key is made inside the backend, which also proves it holds it (the CSR). */
	/* The CSK signs; the KEK decrypts or agrees, and signs its own CSR (proof of possession). */
	ku = role == SC_SP_ROLE_CSK ? KU_KEY_CERT_SIGN | KU_DIGITAL_SIGNATURE
	                            : KU_DIGITAL_SIGNATURE |
	        (sc_alg_is_rsa((enum sc_alg)alg) ? KU_KEY_ENCIPHERMENT : KU_KEY_AGREEMENT);
	/*
	 * An operator-gated store (DIR/tpm.gate, docs/TPM.md): the CSK's only authorization is the
	 * policy naming the network's gate key; its CSR is its one factory-branch signature.
	 */
	if (role == SC_SP_ROLE_CSK && be == &spd_backend_tpm && spd_tpm_gate_key() != NULL)
		r = spd_tpm_csk_create_gated((enum sc_alg)alg, &key);
	else
		r = be->key_create(be, (enum sc_alg)alg, ku, &key);
	if (r != SC_OK)
		goto out;
	if ((r = be->csr(key, &der, &der_len)) != SC_OK)
		goto out;
	key_slot = role == SC_SP_ROLE_CSK ? &st->csk : &st->kek;
	alg_slot = role == SC_SP_ROLE_CSK ? &st->csk_alg : &st->kek_alg;
	old_key = *key_slot;
	old_alg = *alg_slot;
	*key_slot = key;
	*alg_slot = (enum sc_alg)alg;
	st->state = SC_SP_STATE_FACTORY;
	if ((r = spd_commit(spd)) != SC_OK) {
		*key_slot = old_key;
		*alg_slot = old_alg;
		st->state = old_state;
		goto out;
	}
	key = old_key; /* the replaced key, if any, goes */
	sp_keygen_ans_put(ans, der, der_len);
	r = SC_OK;
out:
	be->key_free(key);
	OPENSSL_free(der);
	return r;
}

sc_err spd_h_install_cert(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	const uint8_t *der;
	size_t der_len;
	X509 *cert = NULL, **slot, *old;
	struct spd_key *key;
	char dev[SC_DEVICE_ID_MAX + 1];
	uint8_t role;

	if ((r = sp_install_cert_req_get(req, &role, &der, &der_len)) != SC_OK)
		return r;
	if (role != SC_SP_ROLE_CSK && role != SC_SP_ROLE_KEK)
		return sc_fail(SC_ERR_USAGE, "install-cert: unknown role %u", role);
	key = role == SC_SP_ROLE_CSK ? st->csk : st->kek;
	slot = role == SC_SP_ROLE_CSK ? &st->csk_cert : &st->kek_cert;
	if (key == NULL)
		return sc_fail(SC_ERR_STATE, "install-cert: no %s generated yet",
		    role == SC_SP_ROLE_CSK ? "CSK" : "KEK");
	if ((r = sc_cert_from_der(der, der_len, &cert)) != SC_OK)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), st->be->key_public(key)) != 1) {
		r = sc_fail(SC_ERR_KEY_MISMATCH, "install-cert: the certificate is not for the %s",
		    role == SC_SP_ROLE_CSK ? "CSK" : "KEK");
		goto out;
	}
	/* A device speaks only for itself: its certificates must name its own device ID. */
	if (sc_cert_device_id(cert, dev, sizeof(dev)) != SC_OK || strcmp(dev, st->device_id) != 0) {
		r = sc_fail(SC_ERR_DEVICE_MISMATCH, "install-cert: subject serialNumber is not %s",
		    st->device_id);
		goto out;
	}
	if (role == SC_SP_ROLE_CSK && X509_check_ca(cert) < 1) {
		r = sc_fail(SC_ERR_EXTENSION, "install-cert: the CSK certificate is not a CA");
		goto out;
	}
	old = *slot;
	*slot = cert;
	if ((r = spd_commit(spd)) != SC_OK) {
		*slot = old;
		goto out;
	}
	cert = old;
	sp_install_cert_ans_put(ans);
	r = SC_OK;
out:
	X509_free(cert);
	return r;
}

sc_err spd_h_install_anchor(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	char net[SC_NETWORK_ID_MAX + 1];
	const uint8_t *der;
	size_t der_len, i;
	X509 *cert = NULL;

	if ((r = sp_install_anchor_req_get(req, net, &der, &der_len)) != SC_OK)
		return r;
	if (net[0] == '\0')
		return sc_fail(SC_ERR_USAGE, "install-anchor: empty network ID");
	for (i = 0; i < st->n_anchors; i++)
		if (strcmp(st->anchors[i].network_id, net) == 0)
			return sc_fail(SC_ERR_EXISTS,
			    "install-anchor: network %s already has an anchor", net);
	if (st->n_anchors >= SC_SP_MAX_ANCHORS)
		return sc_fail(SC_ERR_OVERSIZE, "install-anchor: already %d anchors",
		    SC_SP_MAX_ANCHORS);
	if ((r = sc_cert_from_der(der, der_len, &cert)) != SC_OK)
		return r;
	if (X509_check_ca(cert) < 1) {
		X509_free(cert);
		return sc_fail(SC_ERR_EXTENSION,
		    "install-anchor: the anchor is not a CA certificate");
	}
	/* The trust anchors change: nothing verified before may be reused. */
	spd_signer_cache_flush(spd);
	snprintf(st->anchors[st->n_anchors].network_id, sizeof(st->anchors[0].network_id), "%s",
	    net);
	st->anchors[st->n_anchors].cert = cert;
	st->n_anchors++;
	if ((r = spd_commit(spd)) != SC_OK) {
		st->n_anchors--;
		memset(&st->anchors[st->n_anchors], 0, sizeof(st->anchors[0]));
		X509_free(cert);
		return r;
	}
	sp_install_anchor_ans_put(ans);
	return SC_OK;
}

sc_err spd_h_set_limits(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	uint32_t days, keys, old_days = st->max_leaf_days, old_keys = st->max_keys;
	sc_err r;

	if ((r = sp_set_limits_req_get(req, &days, &keys)) != SC_OK)
		return r;
	if (days > SPD_MAX_LEAF_DAYS)
		return sc_fail(SC_ERR_USAGE, "set-limits: max_leaf_days %u over %d", (unsigned)days,
		    SPD_MAX_LEAF_DAYS);
	if (keys < 1 || keys > SC_SP_MAX_KEYS_LIMIT)
		return sc_fail(SC_ERR_USAGE, "set-limits: max_keys %u not in 1..%d", (unsigned)keys,
		    SC_SP_MAX_KEYS_LIMIT);
	st->max_leaf_days = days;
	st->max_keys = keys;
	if ((r = spd_commit(spd)) != SC_OK) {
		st->max_leaf_days = old_days;
		st->max_keys = old_keys;
		return r;
	}
	sp_set_limits_ans_put(ans);
	return SC_OK;
}

sc_err spd_h_lock(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r;

	if ((r = sp_lock_req_get(req)) != SC_OK)
		return r;
	if (st->csk_cert == NULL || st->kek_cert == NULL)
		return sc_fail(SC_ERR_STATE, "lock: the %s certificate is not installed",
		    st->csk_cert == NULL ? "CSK" : "KEK");
	if (st->n_anchors == 0)
		return sc_fail(SC_ERR_STATE, "lock: no network anchor installed");
	st->state = SC_SP_STATE_LOCKED;
	if ((r = spd_commit(spd)) != SC_OK) {
		st->state = SC_SP_STATE_FACTORY;
		return r;
	}
	sp_lock_ans_put(ans);
	return SC_OK;
}
