// SPDX-License-Identifier: Apache-2.0
/*
 * state.c — the SP's in-memory state and what every handler does with it: set-up and wipe,
 * the signer cache's life, exact bodies, certificates as strings, slot look-up, and the commit
 * that makes a change durable before it is answered.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "backend.h"
#include "fast/fast.h"
#include "req.h"
#include "sp_wire.h"
#include "file.h"
#include "pem.h"
#include "store.h"

void spd_state_init(struct spd_state *st, const char *device_id)
{
	memset(st, 0, sizeof(*st));
	st->be = spd_backend_active;
	st->state = SC_SP_STATE_EMPTY;
	if (device_id != NULL)
		snprintf(st->device_id, sizeof(st->device_id), "%s", device_id);
	st->max_keys = SC_SP_DEFAULT_MAX_KEYS;
	st->next_handle = 1;
}

void spd_state_clear(struct spd_state *st)
{
	/* A zeroed state that was never initialised holds no key, but may be cleared. */
	const struct spd_backend *be = st->be != NULL ? st->be : spd_backend_active;
	size_t i;

	be->key_free(st->csk);
	be->key_free(st->kek);
	X509_free(st->csk_cert);
	X509_free(st->kek_cert);
	for (i = 0; i < st->n_anchors; i++)
		X509_free(st->anchors[i].cert);
	for (i = 0; i < st->n_slots; i++) {
		be->key_free(st->slots[i].key);
		X509_free(st->slots[i].cert);
		OPENSSL_free(st->slots[i].cert_der);
	}
	OPENSSL_cleanse(st, sizeof(*st));
	spd_state_init(st, NULL);
}

void spd_start(struct spd *spd)
{
	/* Without a cache every profile simply takes the full path: never a reason not to serve. */
	spd->signer_cache = NULL;
	if (sc_fast_enabled() &&
	    sc_signer_cache_new(SPD_SIGNER_CACHE_ENTRIES, &spd->signer_cache) != SC_OK)
		spd->signer_cache = NULL;
}

void spd_stop(struct spd *spd)
{
	sc_signer_cache_free(spd->signer_cache);
	spd->signer_cache = NULL;
	X509_free(spd->csk_form_cert);
	spd->csk_form_cert = NULL;
	if (spd->gate_leaf != NULL && spd->st.be != NULL)
		spd->st.be->key_free(spd->gate_leaf);
	spd->gate_leaf = NULL;
}

void spd_signer_cache_flush(struct spd *spd)
{
	sc_signer_cache_flush(spd->signer_cache);
}

void spd_signer_cache_stats(const struct spd *spd, struct sc_signer_cache_stats *out)
{
	sc_signer_cache_stats(spd->signer_cache, out);
}

sc_err spd_put_cert(struct sc_buf *b, X509 *cert, const uint8_t *kept, size_t kept_len)
{
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;

	/* kept alone: a leaf issued as DER without an X509 (backend.h's issue_leaf) */
	if (kept != NULL) {
		sc_buf_put_string(b, kept, kept_len);
		return SC_OK;
	}
	if (cert == NULL) {
		sc_buf_put_string(b, NULL, 0);
		return SC_OK;
	}
	if ((r = sc_cert_to_der(cert, &der, &len)) != SC_OK)
		return r;
	sc_buf_put_string(b, der, len);
	OPENSSL_free(der);
	return SC_OK;
}

struct spd_slot *spd_find_slot(struct spd_state *st, uint32_t handle, size_t *idx)
{
	size_t i;

	for (i = 0; i < st->n_slots; i++)
		if (st->slots[i].handle == handle) {
			if (idx != NULL)
				*idx = i;
			return &st->slots[i];
		}
	return NULL;
}

sc_err spd_commit(struct spd *spd)
{
	if (spd->store == NULL)
		return sc_fail(SC_ERR_INTERNAL, "no store to commit to");
	return spd_store_commit(spd->store, &spd->st);
}
