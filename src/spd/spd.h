// SPDX-License-Identifier: Apache-2.0
/*
 * spd.h — the secure processor's in-memory state and its one entry point for requests
 * (selfcert-spd internal). Everything here is private to the SP process: keys live only in
 * struct spd_state, as handles of its key backend (backend.h), and the sealed store (store.h)
 * persists it.
 */
#ifndef SPD_SPD_H
#define SPD_SPD_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>
#include <selfcert/profile.h>
#include <selfcert/cache.h>
#include "buf.h"

#define SPD_REPLAY_MAX 1024        /* remembered profile IDs (then the watermark takes over) */
#define SPD_CHALLENGES_MAX 16      /* outstanding challenges, in memory only */
#define SPD_MAX_LEAF_DAYS 36500    /* 100 years: keeps max_leaf_days * 86400 in a u32 */
#define SPD_SIGNER_CACHE_ENTRIES 8 /* verified network signer chains remembered (LRU) */
#define SPD_REVISION 5     /* this SP speaks protocol revision 1.5 (docs/PROTOCOL.md section 2) */
#define SPD_RENEWAL_MAX 16 /* live renewal profiles (#17); then the oldest is retired */

struct spd_anchor {
	char network_id[SC_NETWORK_ID_MAX + 1];
	X509 *cert;
};

struct spd_replay {
	uint8_t id[SC_PROFILE_ID_LEN];
	uint64_t not_after; /* the profile's profileNotAfter */
};

/*
 * A live renewal profile (#17): how many of its certificates the SP has issued. When the last
 * is issued (or the entry is retired to make room) the ID moves to the replay cache, so a
 * spent renewal profile is refused like any used profile, across restarts and clock rollback.
 */
struct spd_renewal {
	uint8_t id[SC_PROFILE_ID_LEN];
	uint64_t not_after; /* profileNotAfter */
	uint32_t next;      /* certificates issued so far (periods skipped included) */
};

struct spd_key; /* a private key held by the key backend (backend.h) */
struct spd_backend;

struct spd_slot {
	uint32_t handle;
	enum sc_alg alg;
	struct spd_key *key; /* the leaf's private key: never leaves the SP; its stored
	                                  form is made once, when it enters (OpenSSL 3.0's encoder
	                                  lookup dominated every commit) */
	X509 *cert;
	uint8_t *cert_der; /* its DER, kept from ISSUE or the store (NULL: encode it at
	                                  commit); re-encoding every slot's certificate at every
	                                  commit grew with the slots */
	size_t cert_der_len;
	unsigned ku; /* when cert is NULL (issued as DER alone, backend.h): its key usage */
};

/* A slot's key usage, as X509_get_key_usage reads it from its certificate. */
static inline uint32_t spd_slot_ku(struct spd_slot *s)
{
	return s->cert != NULL ? X509_get_key_usage(s->cert) : s->ku;
}

/* Everything the sealed store holds. */
struct spd_state {
	/*
	 * The backend holding this state's keys (not sealed: a version-1 store's keys are the soft
	 * backend's PKCS#8, so spd_state_init and spd_state_parse set spd_backend_soft).
	 */
	const struct spd_backend *be;
	enum sc_sp_state state;
	char device_id[SC_DEVICE_ID_MAX + 1];
	uint32_t max_leaf_days;       /* 0: no limit beyond the CSK certificate */
	uint32_t max_keys;            /* 1..SC_SP_MAX_KEYS_LIMIT */
	uint64_t issuance_counter;    /* last value put in a certificate */
	enum sc_alg csk_alg, kek_alg; /* SC_ALG_NONE until generated */
	struct spd_key *csk, *kek;    /* as spd_slot.key */
	X509 *csk_cert, *kek_cert;
	struct spd_anchor anchors[SC_SP_MAX_ANCHORS];
	size_t n_anchors;
	struct spd_replay replay[SPD_REPLAY_MAX];
	size_t n_replay;
	uint64_t replay_watermark;                   /* every profileNotAfter <= this is refused */
	struct spd_slot slots[SC_SP_MAX_KEYS_LIMIT]; /* n_slots used, sorted by handle */
	size_t n_slots;
	uint32_t next_handle; /* handles are never reused; 0 is never a handle */
	struct spd_renewal renewal[SPD_RENEWAL_MAX]; /* #17; sealed after next_handle */
	size_t n_renewal;
};

struct spd_store;
struct sc_signer_cache;

/* One running SP: state, its store, and the challenges handed out since start. */
struct spd {
	struct spd_state st;
	struct spd_store *store; /* commits go here; borrowed */
	uint8_t challenges[SPD_CHALLENGES_MAX][SC_SP_CHALLENGE_LEN];
	size_t n_challenges; /* oldest first */
	/* 1: challenges[i] has had its request proof (PROOF, one per challenge: the SP never
	 * signs more proofs than it hands out challenges). Moves with challenges[]. */
	uint8_t proved[SPD_CHALLENGES_MAX];
	/*
	 * ISSUE's verified-signer cache (profile.h): in memory only, never sealed, at most
	 * SPD_SIGNER_CACHE_ENTRIES, flushed by INSTALL_ANCHOR. NULL: every profile takes the full
	 * path (shortcuts off, or no memory for it at start). spd_start/spd_stop own it.
	 */
	struct sc_signer_cache *signer_cache;
	/*
	 * Issue 17: the CSK certificate's name-constraints form for the device ID
	 * (sc_cert_device_ca_form_of), worked out at the first ISSUE under that certificate and
	 * handed to sc_profile_check (policy.csk_form) so that no ISSUE decodes them again.
	 * csk_form_cert holds a reference, so the pointer cannot be freed and reused while it
	 * keys this. spd_stop frees it.
	 */
	X509 *csk_form_cert;
	char csk_form_dev[SC_DEVICE_ID_MAX + 1];
	int csk_form;
	/*
	 * 1: answer as an SP of the older protocol revision 1.<emulate_rev> (--revision): the
	 * requests a later revision added are unknown-request, what a host meets on an older chip,
	 * for compatibility tests. 0: every request (SPD_REVISION).
	 */
	int emulate;
	unsigned emulate_rev;
	/*
	 * The last cRLNumber CRL signed (memory only): the next is max(now, this + 1), so numbers
	 * rise within a run, and across restarts as long as the clock does not go back.
	 */
	uint64_t crl_last;
	/*
	 * BACKEND's TPM fields (manufacturer, vendor, firmware; the name is st.be's), read from
	 * DIR/tpm.info at start, before the sandbox; empty for soft or when not recorded.
	 */
	struct sc_sp_backend backend_desc;
	/*
	 * Operator gating (TPM, issue #12): the leaf key GATE_CHALLENGE made for the next
	 * GATE_ISSUE of a device-generated profile (NULL: none), with the alg and KU_* uses it was
	 * made for. In memory only, like the challenge (the policy session) it belongs to.
	 */
	struct spd_key *gate_leaf;
	enum sc_alg gate_alg;
	uint32_t gate_ku;
	int log;                /* 1: one line per request on stderr */
	unsigned long peer_uid; /* for the log line only */
};

/* A fresh empty state for device_id (the caller checked it). In state.c. */
void spd_state_init(struct spd_state *st, const char *device_id);
/* Free and wipe every key (through st->be) and certificate; empty afterwards. In state.c. */
void spd_state_clear(struct spd_state *st);

/*
 * A certificate as a wire or store string (state.c; for the handlers and the store codec
 * alike): kept (kept_len bytes), the DER already at hand, if given; else encoded now; an empty
 * string for NULL. Fails only on an encoding failure.
 */
sc_err spd_put_cert(struct sc_buf *b, X509 *cert, const uint8_t *kept, size_t kept_len) SC_MUST_USE;

/*
 * The SP's in-memory side around its state (state.c): start makes the signer cache (none when
 * sc_fast_enabled() is 0; a cache that cannot be made is none, not a failure); stop frees it.
 * Neither touches st or the store. stop on a zeroed or stopped spd does nothing.
 */
void spd_start(struct spd *spd);
void spd_stop(struct spd *spd);
/* Tests: empty the signer cache / read its counters (all zero without a cache). */
void spd_signer_cache_flush(struct spd *spd);
void spd_signer_cache_stats(const struct spd *spd, struct sc_signer_cache_stats *out);

/*
 * Private-key DER (keyder.c). spd_key_der: a key's PKCS#8 through OpenSSL (EVP_PKEY2PKCS8 and
 * i2d), made once when the key enters the SP and sealed from these bytes at every commit.
 * spd_leaf_key_der: the same bytes, written directly for P-256, P-384 and Ed25519 keys when
 * sc_fast_enabled() (OpenSSL 3.0's encoder dominated ISSUE); otherwise, and for other keys,
 * spd_key_der. *der is in OpenSSL's secure heap; free it with spd_key_der_free (which wipes).
 * spd_key_from_der: parse exactly one PKCS#8 of algorithm alg; SC_ERR_STORE_DAMAGED naming
 * `what` otherwise (its only caller reads the sealed store).
 */
sc_err spd_key_der(EVP_PKEY *key, uint8_t **der, size_t *len) SC_MUST_USE;
sc_err spd_leaf_key_der(EVP_PKEY *key, uint8_t **der, size_t *len) SC_MUST_USE;
/*
 * The same, and the uncompressed public point it wrote into the PKCS#8 copied to pt (pt_cap
 * bytes) with *pt_len its length; *pt_len 0 when no point was written directly (Ed25519, RSA,
 * the plain path) or it does not fit. For fast/spki.h's sc_fast_spki_known_set.
 */
sc_err spd_leaf_key_der_point(EVP_PKEY *key, uint8_t **der, size_t *len, uint8_t *pt, size_t pt_cap,
    size_t *pt_len) SC_MUST_USE;
void spd_key_der_free(uint8_t *der, size_t len);
sc_err spd_key_from_der(const uint8_t *der, size_t len, enum sc_alg alg, EVP_PKEY **out,
    const char *what) SC_MUST_USE;
/* A secure-heap copy of der (free with spd_key_der_free). */
sc_err spd_key_der_copy(const uint8_t *der, size_t len, uint8_t **out) SC_MUST_USE;

/*
 * Handle one request message (version, type, body; no length prefix) and write exactly one
 * answer message into *answer, which this function initialises (the caller frees it with
 * sc_buf_free; it may hold secrets only in transit, never keys). Never fails: every failure
 * becomes an SC_SP_ERROR answer. Returns the result of the request (SC_OK or the code sent),
 * for logging.
 */
sc_err spd_dispatch(struct spd *spd, const uint8_t *msg, size_t len, struct sc_buf *answer);

/*
 * The replay cache (replay.c). check: SC_ERR_REPLAY if the ID is
 * remembered or not_after <= the watermark. add: remember it; when full, forget the entry with
 * the smallest profileNotAfter (the new one included) and raise the watermark to it, so a
 * forgotten profile is still refused. undo: take back one add (a failed commit).
 */
struct spd_replay_undo {
	enum { SPD_RU_NONE, SPD_RU_APPENDED, SPD_RU_REPLACED } kind;
	size_t idx;
	struct spd_replay old;
	uint64_t old_watermark;
};
sc_err spd_replay_check(const struct spd_state *st, const uint8_t id[SC_PROFILE_ID_LEN],
    uint64_t not_after) SC_MUST_USE;
void spd_replay_add(struct spd_state *st, const uint8_t id[SC_PROFILE_ID_LEN], uint64_t not_after,
    struct spd_replay_undo *u);
void spd_replay_undo(struct spd_state *st, const struct spd_replay_undo *u);

#endif
