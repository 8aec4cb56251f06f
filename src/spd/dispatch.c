/*
 * dispatch.c — the SP's one dispatch table and its request handlers (docs/PROTOCOL.md).
 * Every request is checked for version, type and state before its handler runs; every body is
 * decoded strictly; a handler that fails changes nothing, and one that changes state commits
 * the sealed store before it answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "pem.h"
#include "sp_wire.h"
#include "spd.h"
#include "store.h"

#define S_EMPTY   (1u << SC_SP_STATE_EMPTY)
#define S_FACTORY (1u << SC_SP_STATE_FACTORY)
#define S_LOCKED  (1u << SC_SP_STATE_LOCKED)
#define S_ANY     (S_EMPTY | S_FACTORY | S_LOCKED)

#define F_FACTORY 0x1   /* a personalization request: refused with "locked" after lock */

#define LEAF_DER_MAX 256             /* spd_leaf_key_der: a P-384 PKCS#8 is 185 bytes */
#define ED25519_SEED_LEN 32
#define P256_SCALAR_LEN 32           /* the group order's length in bytes */
#define P384_SCALAR_LEN 48

/*
 * The verified-signer cache (profile.h): one per SP process, in memory only, never sealed, and
 * flushed whenever an anchor is installed. Process-wide rather than in struct spd so that it
 * needs no teardown in main.c; its entries are keyed by the anchor's and the certificates' DER,
 * so two SPs in one test process cannot borrow each other's results.
 */
static struct sc_signer_cache *signer_cache;

static struct sc_signer_cache *issue_cache(void)
{
	/* Without a cache every profile simply takes the full path. */
	if (signer_cache == NULL &&
	    sc_signer_cache_new(SPD_SIGNER_CACHE_ENTRIES, &signer_cache) != SC_OK)
		signer_cache = NULL;
	return signer_cache;
}

void spd_signer_cache_flush(void)
{
	sc_signer_cache_flush(signer_cache);
}

void spd_signer_cache_stats(struct sc_signer_cache_stats *out)
{
	sc_signer_cache_stats(signer_cache, out);
}

/*
 * A handler reads its body from req (positioned after version and type), writes its answer
 * body into ans (already holding version and answer type) and returns SC_OK, or fails with
 * sc_fail and leaves the state as it found it.
 */
typedef sc_err (*spd_handler)(struct spd *spd, struct sc_buf *req, struct sc_buf *ans);

static sc_err h_info(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_keygen(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_install_cert(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_install_anchor(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_set_limits(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_lock(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_challenge(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_issue(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_keys(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_sign(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_delete(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_decrypt(struct spd *, struct sc_buf *, struct sc_buf *);
static sc_err h_derive(struct spd *, struct sc_buf *, struct sc_buf *);

/* The SP's whole surface: nothing outside this table can be asked of it. */
static const struct spd_dispatch_entry {
	uint8_t type;
	unsigned states;     /* S_* bits in which the request is permitted */
	unsigned flags;
	spd_handler handler;
} spd_dispatch_table[] = {
	{ SC_SP_INFO,           S_ANY,               0,         h_info },
	{ SC_SP_KEYGEN,         S_EMPTY | S_FACTORY, F_FACTORY, h_keygen },
	{ SC_SP_INSTALL_CERT,   S_FACTORY,           F_FACTORY, h_install_cert },
	{ SC_SP_INSTALL_ANCHOR, S_EMPTY | S_FACTORY, F_FACTORY, h_install_anchor },
	{ SC_SP_SET_LIMITS,     S_EMPTY | S_FACTORY, F_FACTORY, h_set_limits },
	{ SC_SP_LOCK,           S_FACTORY,           F_FACTORY, h_lock },
	{ SC_SP_CHALLENGE,      S_LOCKED,            0,         h_challenge },
	{ SC_SP_ISSUE,          S_LOCKED,            0,         h_issue },
	{ SC_SP_KEYS,           S_LOCKED,            0,         h_keys },
	{ SC_SP_SIGN,           S_LOCKED,            0,         h_sign },
	{ SC_SP_DELETE,         S_LOCKED,            0,         h_delete },
	{ SC_SP_DECRYPT,        S_LOCKED,            0,         h_decrypt },
	{ SC_SP_DERIVE,         S_LOCKED,            0,         h_derive },
};

sc_err spd_dispatch(struct spd *spd, const uint8_t *msg, size_t len, struct sc_buf *answer)
{
	const struct spd_dispatch_entry *e = NULL;
	struct sc_buf req;
	sc_err r = SC_ERR_INTERNAL;
	uint8_t version, type;
	size_t i;

	sc_err_clear();
	sc_buf_init_reader(&req, msg, len);
	version = sc_buf_get_u8(&req);
	type = sc_buf_get_u8(&req);
	sc_buf_init_writer(answer, 0, 0);
	if (req.failed) {
		r = sc_fail(SC_ERR_MALFORMED, "message of %zu bytes: no version and type", len);
		goto out;
	}
	if (version != SC_SP_PROTO_VERSION) {
		r = sc_fail(SC_ERR_MALFORMED, "protocol version %u, this SP speaks %u", version,
		    SC_SP_PROTO_VERSION);
		goto out;
	}
	for (i = 0; i < sizeof(spd_dispatch_table) / sizeof(spd_dispatch_table[0]); i++)
		if (spd_dispatch_table[i].type == type)
			e = &spd_dispatch_table[i];
	if (e == NULL) {
		r = sc_fail(SC_ERR_UNKNOWN_REQUEST, "message type 0x%02x", type);
		goto out;
	}
	if (!(e->states & (1u << spd->st.state))) {
		if ((e->flags & F_FACTORY) && spd->st.state == SC_SP_STATE_LOCKED)
			r = sc_fail(SC_ERR_LOCKED, "%s: the SP is locked", sc_wire_msg_name(type));
		else
			r = sc_fail(SC_ERR_STATE, "%s: not permitted in state %s",
			    sc_wire_msg_name(type), sc_sp_state_name(spd->st.state));
		goto out;
	}
	sc_wire_begin(answer, (uint8_t)(type | SC_SP_ANSWER), 0);
	if ((r = e->handler(spd, &req, answer)) != SC_OK)
		goto out;
	if ((r = sc_buf_done(answer, "answer")) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK) {
		char detail[SC_WIRE_MAX_DETAIL + 1];

		/* Copy first: building the answer may itself call sc_fail. */
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		sc_buf_free(answer);
		/* Only out of memory can stop this; an empty answer makes the caller hang up. */
		if (sc_wire_error_answer(answer, r, detail) != SC_OK)
			sc_buf_free(answer);
		sc_fail(r, "%s", detail);
	}
	if (spd->log)
		fprintf(stderr, "selfcert-spd: uid %lu: %s: %s%s%s\n", spd->peer_uid,
		    e != NULL ? sc_wire_msg_name(type) : "-", r == SC_OK ? "ok" : sc_err_name(r),
		    r == SC_OK ? "" : ": ", r == SC_OK ? "" : sc_err_detail());
	return r;
}

/* ---- helpers ---- */

/* The body must be consumed exactly; sc_buf_done names what was wrong. */
static sc_err body_done(struct sc_buf *req, uint8_t type)
{
	return sc_buf_done(req, sc_wire_msg_name(type));
}

static sc_err put_cert(struct sc_buf *b, X509 *cert)
{
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;

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

static struct spd_slot *find_slot(struct spd_state *st, uint32_t handle, size_t *idx)
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

static sc_err commit(struct spd *spd)
{
	if (spd->store == NULL)
		return sc_fail(SC_ERR_INTERNAL, "no store to commit to");
	return spd_store_commit(spd->store, &spd->st);
}

/* ---- factory requests ---- */

static sc_err h_info(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r;
	size_t i;

	if ((r = body_done(req, SC_SP_INFO)) != SC_OK)
		return r;
	sc_buf_put_u8(ans, (uint8_t)st->state);
	sc_buf_put_cstring(ans, st->device_id);
	sc_buf_put_u64(ans, st->issuance_counter);
	sc_buf_put_u32(ans, (uint32_t)st->n_slots);
	sc_buf_put_u32(ans, st->max_keys);
	sc_buf_put_u32(ans, st->max_leaf_days);
	if ((r = put_cert(ans, st->csk_cert)) != SC_OK || (r = put_cert(ans, st->kek_cert)) != SC_OK)
		return r;
	sc_buf_put_u32(ans, (uint32_t)st->n_anchors);
	for (i = 0; i < st->n_anchors; i++)
		sc_buf_put_cstring(ans, st->anchors[i].network_id);
	return SC_OK;
}

/* A PKCS#10 request with an empty subject, signed by key: proof that the SP holds it. */
static sc_err make_csr(EVP_PKEY *key, uint8_t **der, size_t *der_len)
{
	sc_err r = SC_ERR_INTERNAL;
	X509_REQ *csr = NULL;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	*der_len = 0;
	if ((csr = X509_REQ_new()) == NULL || (mctx = EVP_MD_CTX_new()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "certificate request");
		goto out;
	}
	if (X509_REQ_set_version(csr, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(csr, key) != 1 ||
	    EVP_DigestSignInit(mctx, NULL, sc_sign_md(key, SC_DIGEST_NONE), NULL, key) != 1 ||
	    X509_REQ_sign_ctx(csr, mctx) <= 0 ||
	    (n = i2d_X509_REQ(csr, &p)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "signing the certificate request");
		goto out;
	}
	*der = p;
	*der_len = (size_t)n;
	r = SC_OK;
out:
	EVP_MD_CTX_free(mctx);
	X509_REQ_free(csr);
	return r;
}

static sc_err h_keygen(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY *key = NULL, *old_key;
	enum sc_alg *alg_slot, old_alg;
	enum sc_sp_state old_state = st->state;
	EVP_PKEY **key_slot;
	uint8_t *der = NULL, *key_der = NULL, *old_der, **der_slot;
	size_t der_len = 0, key_der_len = 0, old_der_len, *der_len_slot;
	uint8_t role, alg;

	role = sc_buf_get_u8(req);
	alg = sc_buf_get_u8(req);
	if ((r = body_done(req, SC_SP_KEYGEN)) != SC_OK)
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
	if ((r = sc_alg_keygen((enum sc_alg)alg, &key)) != SC_OK)
		goto out;
	if ((r = make_csr(key, &der, &der_len)) != SC_OK)
		goto out;
	if ((r = spd_key_der(key, &key_der, &key_der_len)) != SC_OK)
		goto out;
	key_slot = role == SC_SP_ROLE_CSK ? &st->csk : &st->kek;
	alg_slot = role == SC_SP_ROLE_CSK ? &st->csk_alg : &st->kek_alg;
	der_slot = role == SC_SP_ROLE_CSK ? &st->csk_der : &st->kek_der;
	der_len_slot = role == SC_SP_ROLE_CSK ? &st->csk_der_len : &st->kek_der_len;
	old_key = *key_slot;
	old_alg = *alg_slot;
	old_der = *der_slot;
	old_der_len = *der_len_slot;
	*key_slot = key;
	*alg_slot = (enum sc_alg)alg;
	*der_slot = key_der;
	*der_len_slot = key_der_len;
	st->state = SC_SP_STATE_FACTORY;
	if ((r = commit(spd)) != SC_OK) {
		*key_slot = old_key;
		*alg_slot = old_alg;
		*der_slot = old_der;
		*der_len_slot = old_der_len;
		st->state = old_state;
		goto out;
	}
	key = old_key; /* the replaced key, if any, goes */
	key_der = old_der;
	key_der_len = old_der_len;
	sc_buf_put_string(ans, der, der_len);
	r = SC_OK;
out:
	EVP_PKEY_free(key);
	spd_key_der_free(key_der, key_der_len);
	OPENSSL_free(der);
	return r;
}

static sc_err h_install_cert(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	const uint8_t *der;
	size_t der_len;
	X509 *cert = NULL, **slot, *old;
	EVP_PKEY *key;
	char dev[SC_DEVICE_ID_MAX + 1];
	uint8_t role;

	(void)ans;
	role = sc_buf_get_u8(req);
	sc_buf_get_string(req, &der, &der_len, SC_WIRE_MAX_CERT);
	if ((r = body_done(req, SC_SP_INSTALL_CERT)) != SC_OK)
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
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
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
	if ((r = commit(spd)) != SC_OK) {
		*slot = old;
		goto out;
	}
	cert = old;
	r = SC_OK;
out:
	X509_free(cert);
	return r;
}

static sc_err h_install_anchor(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	char net[SC_NETWORK_ID_MAX + 1];
	const uint8_t *der;
	size_t der_len, i;
	X509 *cert = NULL;

	(void)ans;
	sc_buf_get_cstring(req, net, SC_NETWORK_ID_MAX);
	sc_buf_get_string(req, &der, &der_len, SC_WIRE_MAX_CERT);
	if ((r = body_done(req, SC_SP_INSTALL_ANCHOR)) != SC_OK)
		return r;
	if (net[0] == '\0')
		return sc_fail(SC_ERR_USAGE, "install-anchor: empty network ID");
	for (i = 0; i < st->n_anchors; i++)
		if (strcmp(st->anchors[i].network_id, net) == 0)
			return sc_fail(SC_ERR_EXISTS, "install-anchor: network %s already has an anchor",
			    net);
	if (st->n_anchors >= SC_SP_MAX_ANCHORS)
		return sc_fail(SC_ERR_OVERSIZE, "install-anchor: already %d anchors",
		    SC_SP_MAX_ANCHORS);
	if ((r = sc_cert_from_der(der, der_len, &cert)) != SC_OK)
		return r;
	if (X509_check_ca(cert) < 1) {
		X509_free(cert);
		return sc_fail(SC_ERR_EXTENSION, "install-anchor: the anchor is not a CA certificate");
	}
	/* The trust anchors change: nothing verified before may be reused. */
	spd_signer_cache_flush();
	snprintf(st->anchors[st->n_anchors].network_id, sizeof(st->anchors[0].network_id), "%s", net);
	st->anchors[st->n_anchors].cert = cert;
	st->n_anchors++;
	if ((r = commit(spd)) != SC_OK) {
		st->n_anchors--;
		memset(&st->anchors[st->n_anchors], 0, sizeof(st->anchors[0]));
		X509_free(cert);
		return r;
	}
	return SC_OK;
}

static sc_err h_set_limits(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	uint32_t days, keys, old_days = st->max_leaf_days, old_keys = st->max_keys;
	sc_err r;

	(void)ans;
	days = sc_buf_get_u32(req);
	keys = sc_buf_get_u32(req);
	if ((r = body_done(req, SC_SP_SET_LIMITS)) != SC_OK)
		return r;
	if (days > SPD_MAX_LEAF_DAYS)
		return sc_fail(SC_ERR_USAGE, "set-limits: max_leaf_days %u over %d", (unsigned)days,
		    SPD_MAX_LEAF_DAYS);
	if (keys < 1 || keys > SC_SP_MAX_KEYS_LIMIT)
		return sc_fail(SC_ERR_USAGE, "set-limits: max_keys %u not in 1..%d", (unsigned)keys,
		    SC_SP_MAX_KEYS_LIMIT);
	st->max_leaf_days = days;
	st->max_keys = keys;
	if ((r = commit(spd)) != SC_OK) {
		st->max_leaf_days = old_days;
		st->max_keys = old_keys;
	}
	return r;
}

static sc_err h_lock(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r;

	(void)ans;
	if ((r = body_done(req, SC_SP_LOCK)) != SC_OK)
		return r;
	if (st->csk_cert == NULL || st->kek_cert == NULL)
		return sc_fail(SC_ERR_STATE, "lock: the %s certificate is not installed",
		    st->csk_cert == NULL ? "CSK" : "KEK");
	if (st->n_anchors == 0)
		return sc_fail(SC_ERR_STATE, "lock: no network anchor installed");
	st->state = SC_SP_STATE_LOCKED;
	if ((r = commit(spd)) != SC_OK)
		st->state = SC_SP_STATE_FACTORY;
	return r;
}

/* ---- network requests ---- */

static sc_err h_challenge(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	uint8_t c[SC_SP_CHALLENGE_LEN];
	sc_err r;

	if ((r = body_done(req, SC_SP_CHALLENGE)) != SC_OK)
		return r;
	if (RAND_bytes(c, sizeof(c)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	/* Bounded: the oldest outstanding challenge gives way to the newest. */
	if (spd->n_challenges == SPD_CHALLENGES_MAX) {
		memmove(spd->challenges[0], spd->challenges[1],
		    (SPD_CHALLENGES_MAX - 1) * sizeof(spd->challenges[0]));
		spd->n_challenges--;
	}
	memcpy(spd->challenges[spd->n_challenges++], c, sizeof(c));
	sc_buf_put_bytes(ans, c, sizeof(c));
	return SC_OK;
}

/* Index of the outstanding challenge equal to c, or -1. */
static int find_challenge(const struct spd *spd, const uint8_t *c, size_t len)
{
	size_t i;

	if (len != SC_SP_CHALLENGE_LEN)
		return -1;
	for (i = 0; i < spd->n_challenges; i++)
		if (CRYPTO_memcmp(spd->challenges[i], c, len) == 0)
			return (int)i;
	return -1;
}

static void consume_challenge(struct spd *spd, int i)
{
	if (i < 0 || (size_t)i >= spd->n_challenges)
		return;
	memmove(spd->challenges[i], spd->challenges[i + 1],
	    (spd->n_challenges - (size_t)i - 1) * sizeof(spd->challenges[0]));
	spd->n_challenges--;
	OPENSSL_cleanse(spd->challenges[spd->n_challenges], SC_SP_CHALLENGE_LEN);
}

sc_err spd_replay_check(const struct spd_state *st, const uint8_t id[SC_PROFILE_ID_LEN],
    uint64_t not_after)
{
	size_t i;

	if (not_after <= st->replay_watermark)
		return sc_fail(SC_ERR_REPLAY, "profile: profileNotAfter is not after the replay "
		    "watermark (an older profile ID may have been forgotten)");
	for (i = 0; i < st->n_replay; i++)
		if (memcmp(st->replay[i].id, id, SC_PROFILE_ID_LEN) == 0)
			return sc_fail(SC_ERR_REPLAY, "profile: this profile ID was already used");
	return SC_OK;
}

/*
 * Remember a profile. When the cache is full the entry with the smallest profileNotAfter (the
 * new one included) is forgotten and the watermark raised to it: every profile at or below the
 * watermark is refused, so forgetting an ID never lets its profile in again.
 */
void spd_replay_add(struct spd_state *st, const uint8_t id[SC_PROFILE_ID_LEN],
    uint64_t not_after, struct spd_replay_undo *u)
{
	size_t i, m = 0;

	u->old_watermark = st->replay_watermark;
	if (st->n_replay < SPD_REPLAY_MAX) {
		u->kind = SPD_RU_APPENDED;
		memcpy(st->replay[st->n_replay].id, id, SC_PROFILE_ID_LEN);
		st->replay[st->n_replay].not_after = not_after;
		st->n_replay++;
		return;
	}
	for (i = 1; i < st->n_replay; i++)
		if (st->replay[i].not_after < st->replay[m].not_after)
			m = i;
	if (not_after <= st->replay[m].not_after) {
		u->kind = SPD_RU_NONE;
		if (not_after > st->replay_watermark)
			st->replay_watermark = not_after;
		return;
	}
	u->kind = SPD_RU_REPLACED;
	u->idx = m;
	u->old = st->replay[m];
	if (st->replay[m].not_after > st->replay_watermark)
		st->replay_watermark = st->replay[m].not_after;
	memcpy(st->replay[m].id, id, SC_PROFILE_ID_LEN);
	st->replay[m].not_after = not_after;
}

void spd_replay_undo(struct spd_state *st, const struct spd_replay_undo *u)
{
	if (u->kind == SPD_RU_APPENDED)
		st->n_replay--;
	else if (u->kind == SPD_RU_REPLACED)
		st->replay[u->idx] = u->old;
	st->replay_watermark = u->old_watermark;
}

/* ---- a leaf key's PKCS#8, without OpenSSL 3.0's encoder ---- */

static size_t der_hdr_len(size_t n)
{
	return n < 0x80 ? 2 : n < 0x100 ? 3 : 4;
}

/* Tag and definite DER length at *p (n < 65536, checked by the callers' fixed sizes). */
static void der_hdr(uint8_t **p, uint8_t tag, size_t n)
{
	*(*p)++ = tag;
	if (n >= 0x100) {
		*(*p)++ = 0x82;
		*(*p)++ = (uint8_t)(n >> 8);
	} else if (n >= 0x80) {
		*(*p)++ = 0x81;
	}
	*(*p)++ = (uint8_t)n;
}

static void der_bytes(uint8_t **p, uint8_t tag, const uint8_t *v, size_t n)
{
	der_hdr(p, tag, n);
	memcpy(*p, v, n);
	*p += n;
}

/*
 * The PKCS#8 PrivateKeyInfo that spd_key_der would make (EVP_PKEY2PKCS8), written directly for
 * P-256, P-384 and Ed25519 keys: the encoder lookup behind EVP_PKEY2PKCS8 cost about as much
 * as the leaf's key generation and signature together. Exactly OpenSSL 3.0's bytes (a unit test
 * compares them): version 0, AlgorithmIdentifier id-ecPublicKey + named curve (or id-Ed25519),
 * and for EC an ECPrivateKey v1 with the scalar padded to the order's length, no parameters
 * and the uncompressed public point; for Ed25519 the 32-byte seed in an OCTET STRING.
 * Other keys: spd_key_der. *der is in the secure heap (spd_key_der_free).
 */
sc_err spd_leaf_key_der(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	sc_err r = SC_ERR_INTERNAL;
	uint8_t point[SC_SP_MAX_EC_POINT], *buf = NULL, *p;
	const ASN1_OBJECT *alg_oid, *curve_oid = NULL;
	char group[64];
	BIGNUM *priv = NULL;
	size_t point_len = 0, n = 0, alg_len, bits_len = 0, a1_len, ecpk_len = 0, oct_len, body;
	size_t priv_len, total = 0;
	int nid = NID_undef, ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;

	*der = NULL;
	*len = 0;
	if (!ed) {
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
		    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		    sizeof(group), NULL) ||
		    ((nid = OBJ_sn2nid(group)) != NID_X9_62_prime256v1 && nid != NID_secp384r1) ||
		    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
		    sizeof(point), &point_len) || point_len < 1 ||
		    point[0] != POINT_CONVERSION_UNCOMPRESSED ||
		    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv)) {
			ERR_clear_error();
			BN_clear_free(priv);
			return spd_key_der(key, der, len);
		}
		n = nid == NID_X9_62_prime256v1 ? P256_SCALAR_LEN : P384_SCALAR_LEN;
		if (BN_num_bytes(priv) > (int)n) {
			r = sc_fail(SC_ERR_INTERNAL, "EC private key longer than its group order");
			goto out;
		}
	}
	alg_oid = OBJ_nid2obj(ed ? NID_ED25519 : NID_X9_62_id_ecPublicKey);
	alg_len = der_hdr_len(OBJ_length(alg_oid)) + OBJ_length(alg_oid);
	if (!ed) {
		curve_oid = OBJ_nid2obj(nid);
		alg_len += der_hdr_len(OBJ_length(curve_oid)) + OBJ_length(curve_oid);
		bits_len = der_hdr_len(point_len + 1) + point_len + 1;
		a1_len = der_hdr_len(bits_len) + bits_len;
		ecpk_len = 3 + der_hdr_len(n) + n + a1_len;
		priv_len = der_hdr_len(ecpk_len) + ecpk_len;
	} else {
		priv_len = 2 + ED25519_SEED_LEN; /* OCTET STRING { seed } */
	}
	oct_len = der_hdr_len(priv_len) + priv_len;
	body = 3 + der_hdr_len(alg_len) + alg_len + oct_len;
	total = der_hdr_len(body) + body;
	if (total > LEAF_DER_MAX) {
		r = sc_fail(SC_ERR_INTERNAL, "PKCS#8 of %zu bytes", total);
		goto out;
	}
	if ((buf = OPENSSL_secure_malloc(total)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "secure heap: %zu bytes for a key", total);
		goto out;
	}
	p = buf;
	der_hdr(&p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, body);
	*p++ = V_ASN1_INTEGER;
	*p++ = 1;
	*p++ = 0;
	der_hdr(&p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, alg_len);
	der_bytes(&p, V_ASN1_OBJECT, OBJ_get0_data(alg_oid), OBJ_length(alg_oid));
	if (!ed)
		der_bytes(&p, V_ASN1_OBJECT, OBJ_get0_data(curve_oid), OBJ_length(curve_oid));
	der_hdr(&p, V_ASN1_OCTET_STRING, priv_len);
	if (ed) {
		size_t seed = ED25519_SEED_LEN;
		der_hdr(&p, V_ASN1_OCTET_STRING, seed);
		if (!EVP_PKEY_get_raw_private_key(key, p, &seed) || seed != ED25519_SEED_LEN) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "Ed25519 private key");
			goto out;
		}
		p += seed;
	} else {
		der_hdr(&p, V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED, ecpk_len);
		*p++ = V_ASN1_INTEGER;
		*p++ = 1;
		*p++ = 1;
		der_hdr(&p, V_ASN1_OCTET_STRING, n);
		if (BN_bn2binpad(priv, p, (int)n) != (int)n) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "EC private key");
			goto out;
		}
		p += n;
		der_hdr(&p, V_ASN1_CONTEXT_SPECIFIC | V_ASN1_CONSTRUCTED | 1, bits_len);
		der_hdr(&p, V_ASN1_BIT_STRING, point_len + 1);
		*p++ = 0; /* no unused bits */
		memcpy(p, point, point_len);
		p += point_len;
	}
	if ((size_t)(p - buf) != total) {
		r = sc_fail(SC_ERR_INTERNAL, "PKCS#8: %zu bytes written, %zu planned",
		    (size_t)(p - buf), total);
		goto out;
	}
	*der = buf;
	*len = total;
	buf = NULL;
	r = SC_OK;
out:
	if (buf != NULL)
		OPENSSL_secure_clear_free(buf, total);
	BN_clear_free(priv);
	return r;
}

static sc_err h_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	struct sc_profile_policy policy;
	struct sc_anchor anchors[SC_SP_MAX_ANCHORS];
	struct spd_replay_undo undo;
	const uint8_t *der;
	size_t der_len, i;
	EVP_PKEY *key = NULL;
	uint8_t *key_der = NULL;
	size_t key_der_len = 0;
	X509 *cert = NULL;
	uint8_t *cert_der = NULL;
	size_t cert_der_len = 0;
	uint64_t not_after;
	int ch = -1;
	uint32_t handle;

	sc_buf_get_string(req, &der, &der_len, SC_SP_MAX_MSG);
	if ((r = body_done(req, SC_SP_ISSUE)) != SC_OK)
		return r;
	if ((r = sc_profile_decode_cached(der, der_len, issue_cache(), &p)) != SC_OK)
		goto out;
	sc_profile_get_info(p, &info);

	for (i = 0; i < st->n_anchors; i++) {
		anchors[i].network_id = st->anchors[i].network_id;
		anchors[i].cert = st->anchors[i].cert;
	}
	memset(&policy, 0, sizeof(policy));
	policy.device_id = st->device_id;
	policy.anchors = anchors;
	policy.n_anchors = st->n_anchors;
	policy.now = time(NULL);
	policy.csk_cert = st->csk_cert;
	policy.max_leaf_seconds = st->max_leaf_days * 86400u; /* <= 36500 days: fits */
	policy.csk_alg = st->csk_alg;
	policy.signer_cache = signer_cache;
	if ((r = sc_profile_check(p, &policy)) != SC_OK)
		goto out;

	not_after = info.profile_not_after > 0 ? (uint64_t)info.profile_not_after : 0;
	if ((r = spd_replay_check(st, info.id, not_after)) != SC_OK)
		goto out;
	if (info.challenge_len > 0 &&
	    (ch = find_challenge(spd, info.challenge, info.challenge_len)) < 0) {
		r = sc_fail(SC_ERR_CHALLENGE, "profile: the challenge is unknown, expired or used");
		goto out;
	}
	if (st->n_slots >= st->max_keys || st->next_handle == UINT32_MAX) {
		r = sc_fail(SC_ERR_STORE_FULL, "issue: all %u key slots are in use",
		    (unsigned)st->max_keys);
		goto out;
	}

	if (info.origin == SC_KEY_DEVICE_GENERATED)
		r = sc_alg_keygen(info.alg, &key);
	else
		r = sc_profile_unwrap_key(p, st->kek, st->kek_cert, &key);
	if (r != SC_OK)
		goto out;
	/*
	 * The slot keeps the key and uses its certificate only as DER (KEYS, the store, key-usage
	 * checks), so the leaf's SPKI can skip OpenSSL 3.0's encoder (cert.h).
	 */
	if ((r = sc_cert_issue_leaf_raw_spki(p, key, st->csk_cert, st->csk,
	    st->issuance_counter + 1, &cert)) != SC_OK)
		goto out;
	if ((r = sc_cert_to_der(cert, &cert_der, &cert_der_len)) != SC_OK)
		goto out;
	/* Checked before the commit: a key must never be stored for a cert we cannot send. */
	if (cert_der_len > SC_WIRE_MAX_CERT) {
		r = sc_fail(SC_ERR_OVERSIZE, "issue: certificate of %zu bytes", cert_der_len);
		goto out;
	}

	if ((r = spd_leaf_key_der(key, &key_der, &key_der_len)) != SC_OK)
		goto out;

	/* Apply, commit, and take it all back if the commit fails. */
	handle = st->next_handle;
	st->slots[st->n_slots].handle = handle;
	st->slots[st->n_slots].alg = sc_alg_of_key(key);
	st->slots[st->n_slots].key = key;
	st->slots[st->n_slots].key_der = key_der;
	st->slots[st->n_slots].key_der_len = key_der_len;
	st->slots[st->n_slots].cert = cert;
	st->slots[st->n_slots].cert_der = cert_der;
	st->slots[st->n_slots].cert_der_len = cert_der_len;
	st->n_slots++;
	st->next_handle++;
	st->issuance_counter++;
	spd_replay_add(st, info.id, not_after, &undo);
	if ((r = commit(spd)) != SC_OK) {
		spd_replay_undo(st, &undo);
		st->issuance_counter--;
		st->next_handle--;
		st->n_slots--;
		memset(&st->slots[st->n_slots], 0, sizeof(st->slots[0]));
		goto out;
	}
	key = NULL;
	key_der = NULL;
	cert = NULL;
	consume_challenge(spd, ch);
	/* Durable before it leaves: only now does the certificate go out. */
	sc_buf_put_u32(ans, handle);
	sc_buf_put_string(ans, cert_der, cert_der_len);
	cert_der = NULL;        /* the slot's now */
	r = SC_OK;
out:
	OPENSSL_free(cert_der);
	X509_free(cert);
	EVP_PKEY_free(key);
	spd_key_der_free(key_der, key_der_len);
	sc_profile_free(p);
	return r;
}

/*
 * KEYS is paged: the answer holds the keys with handles after `after`, as many as fit in one
 * message, and says whether more follow.
 */
static sc_err h_keys(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	struct sc_buf page;
	uint32_t after, n = 0;
	size_t i, used = ans->len + 1 + 4;
	uint8_t more = 0;

	after = sc_buf_get_u32(req);
	if ((r = body_done(req, SC_SP_KEYS)) != SC_OK)
		return r;
	sc_buf_init_writer(&page, SC_SP_MAX_MSG, 0);
	for (i = 0; i < st->n_slots; i++) {
		struct spd_slot *s = &st->slots[i];
		uint8_t *der = NULL;
		size_t len = 0;

		if (s->handle <= after)
			continue;
		if ((r = sc_cert_to_der(s->cert, &der, &len)) != SC_OK)
			goto out;
		if (used + page.len + 4 + 1 + 4 + len > SC_SP_MAX_MSG) {
			OPENSSL_free(der);
			more = 1;
			break;
		}
		sc_buf_put_u32(&page, s->handle);
		sc_buf_put_u8(&page, (uint8_t)s->alg);
		sc_buf_put_string(&page, der, len);
		OPENSSL_free(der);
		n++;
	}
	if ((r = sc_buf_done(&page, "keys page")) != SC_OK)
		goto out;
	sc_buf_put_u8(ans, more);
	sc_buf_put_u32(ans, n);
	sc_buf_put_bytes(ans, page.data, page.len);
	r = SC_OK;
out:
	sc_buf_free(&page);
	return r;
}

static sc_err h_sign(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	struct spd_slot *s;
	const uint8_t *in;
	size_t in_len, sig_len = 0;
	uint8_t *sig = NULL;
	uint32_t handle, ku, salt_len = 0;
	uint8_t mode, digest;

	handle = sc_buf_get_u32(req);
	mode = sc_buf_get_u8(req);
	digest = sc_buf_get_u8(req);
	sc_buf_get_string(req, &in, &in_len, SC_SP_MAX_SIGN_INPUT);
	/* Only PSS has a salt length, after the input. */
	if (mode == SC_SP_SIGN_PSS)
		salt_len = sc_buf_get_u32(req);
	if ((r = body_done(req, SC_SP_SIGN)) != SC_OK)
		return r;
	if ((s = find_slot(st, handle, NULL)) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "sign: no key with handle %u", (unsigned)handle);
	/* Only what the key's certificate allows (no keyUsage at all means any, per X.509). */
	ku = X509_get_key_usage(s->cert);
	if (!(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return sc_fail(SC_ERR_KEY_USAGE, "sign: key %u's certificate does not allow signing",
		    (unsigned)handle);
	if (digest > SC_DIGEST_SHA512)
		return sc_fail(SC_ERR_ALGORITHM, "sign: unknown digest %u", digest);
	md = sc_sign_md(s->key, (enum sc_digest)digest);
	if (mode == SC_SP_SIGN_MESSAGE) {
		if ((mctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(mctx, NULL, md, NULL, s->key) != 1 ||
		    EVP_DigestSign(mctx, NULL, &sig_len, in, in_len) != 1 ||
		    (sig = OPENSSL_malloc(sig_len)) == NULL ||
		    EVP_DigestSign(mctx, sig, &sig_len, in, in_len) != 1) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "sign: signing failed");
			goto out;
		}
	} else if (mode == SC_SP_SIGN_DIGEST) {
		if (s->alg == SC_ALG_ED25519 || md == NULL) {
			r = sc_fail(SC_ERR_ALGORITHM, "sign: Ed25519 signs messages, not digests");
			goto out;
		}
		if (in_len != (size_t)EVP_MD_get_size(md)) {
			r = sc_fail(SC_ERR_USAGE, "sign: %zu-byte input is not a %s digest", in_len,
			    EVP_MD_get0_name(md));
			goto out;
		}
		if ((pctx = EVP_PKEY_CTX_new(s->key, NULL)) == NULL ||
		    EVP_PKEY_sign_init(pctx) != 1 ||
		    (sc_alg_is_rsa(s->alg) &&
		     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) ||
		    EVP_PKEY_CTX_set_signature_md(pctx, md) != 1 ||
		    EVP_PKEY_sign(pctx, NULL, &sig_len, in, in_len) != 1 ||
		    (sig = OPENSSL_malloc(sig_len)) == NULL ||
		    EVP_PKEY_sign(pctx, sig, &sig_len, in, in_len) != 1) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "sign: signing failed");
			goto out;
		}
	} else if (mode == SC_SP_SIGN_PSS) {
		int max_salt;

		if (!sc_alg_is_rsa(s->alg)) {
			r = sc_fail(SC_ERR_ALGORITHM, "sign: PSS needs an RSA key, key %u is %s",
			    (unsigned)handle, sc_alg_name(s->alg));
			goto out;
		}
		if (in_len != (size_t)EVP_MD_get_size(md)) {
			r = sc_fail(SC_ERR_USAGE, "sign: %zu-byte input is not a %s digest", in_len,
			    EVP_MD_get0_name(md));
			goto out;
		}
		/* RFC 8017 9.1.1: emLen >= hLen + sLen + 2 (our moduli are whole bytes). */
		max_salt = EVP_PKEY_get_size(s->key) - EVP_MD_get_size(md) - 2;
		if (salt_len > (uint32_t)max_salt) {
			r = sc_fail(SC_ERR_USAGE, "sign: PSS salt length %u over %d for this key and digest",
			    (unsigned)salt_len, max_salt);
			goto out;
		}
		if ((pctx = EVP_PKEY_CTX_new(s->key, NULL)) == NULL ||
		    EVP_PKEY_sign_init(pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(pctx, md) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)salt_len) != 1 ||
		    EVP_PKEY_sign(pctx, NULL, &sig_len, in, in_len) != 1 ||
		    (sig = OPENSSL_malloc(sig_len)) == NULL ||
		    EVP_PKEY_sign(pctx, sig, &sig_len, in, in_len) != 1) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, "sign: PSS signing failed");
			goto out;
		}
	} else {
		r = sc_fail(SC_ERR_USAGE, "sign: unknown mode %u", mode);
		goto out;
	}
	sc_buf_put_string(ans, sig, sig_len);
	r = SC_OK;
out:
	OPENSSL_free(sig);
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_CTX_free(mctx);
	return r;
}

static sc_err h_delete(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	struct spd_slot gone;
	uint32_t handle;
	size_t idx = 0;
	sc_err r;

	(void)ans;
	handle = sc_buf_get_u32(req);
	if ((r = body_done(req, SC_SP_DELETE)) != SC_OK)
		return r;
	if (find_slot(st, handle, &idx) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "delete: no key with handle %u", (unsigned)handle);
	gone = st->slots[idx];
	memmove(&st->slots[idx], &st->slots[idx + 1], (st->n_slots - idx - 1) * sizeof(gone));
	st->n_slots--;
	memset(&st->slots[st->n_slots], 0, sizeof(gone));
	if ((r = commit(spd)) != SC_OK) {
		memmove(&st->slots[idx + 1], &st->slots[idx], (st->n_slots - idx) * sizeof(gone));
		st->slots[idx] = gone;
		st->n_slots++;
		return r;
	}
	EVP_PKEY_free(gone.key);
	spd_key_der_free(gone.key_der, gone.key_der_len);
	X509_free(gone.cert);
	OPENSSL_free(gone.cert_der);
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

static sc_err h_decrypt(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md, *mgf1;
	const uint8_t *label, *in;
	size_t label_len, in_len, out_len = 0, out_cap = 0;
	uint8_t *label_copy = NULL, *out = NULL;
	struct spd_slot *s;
	uint32_t handle, ku;
	uint8_t scheme, md_code, mgf1_code;

	handle = sc_buf_get_u32(req);
	scheme = sc_buf_get_u8(req);
	md_code = sc_buf_get_u8(req);
	mgf1_code = sc_buf_get_u8(req);
	sc_buf_get_string(req, &label, &label_len, SC_SP_MAX_OAEP_LABEL);
	sc_buf_get_string(req, &in, &in_len, SC_SP_MAX_CIPHERTEXT);
	if ((r = sc_buf_done(req, "decrypt")) != SC_OK)
		return r;
	if ((s = find_slot(st, handle, NULL)) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "decrypt: no key with handle %u", (unsigned)handle);
	if (!sc_alg_is_rsa(s->alg))
		return sc_fail(SC_ERR_ALGORITHM, "decrypt: key %u is %s, only RSA keys decrypt",
		    (unsigned)handle, sc_alg_name(s->alg));
	ku = X509_get_key_usage(s->cert);
	if (!(ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)))
		return sc_fail(SC_ERR_KEY_USAGE, "decrypt: key %u's certificate allows neither "
		    "keyEncipherment nor dataEncipherment", (unsigned)handle);
	if (scheme != SC_SP_DECRYPT_OAEP)
		return sc_fail(SC_ERR_USAGE, "decrypt: unknown scheme %u", scheme);
	if ((md = oaep_md(md_code)) == NULL || (mgf1 = oaep_md(mgf1_code)) == NULL)
		return sc_fail(SC_ERR_ALGORITHM, "decrypt: unknown %s hash %u",
		    md == NULL ? "OAEP" : "MGF1", md == NULL ? md_code : mgf1_code);
	if (in_len != (size_t)EVP_PKEY_get_size(s->key))
		return sc_fail(SC_ERR_USAGE, "decrypt: %zu-byte ciphertext, key %u takes %d-byte blocks",
		    in_len, (unsigned)handle, EVP_PKEY_get_size(s->key));
	/* The label is handed over to OpenSSL, which frees it with the context. */
	if (label_len > 0 && (label_copy = OPENSSL_memdup(label, label_len)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "decrypt: label");
	out_cap = in_len;
	if ((pctx = EVP_PKEY_CTX_new(s->key, NULL)) == NULL ||
	    (out = OPENSSL_malloc(out_cap)) == NULL ||
	    EVP_PKEY_decrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) != 1 ||
	    (label_copy != NULL &&
	     EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, label_copy, (int)label_len) != 1)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "decrypt: setting up RSA-OAEP");
		goto out;
	}
	label_copy = NULL;
	out_len = out_cap;
	/* One answer for every way a block can fail to decrypt: no padding oracle here. */
	if (EVP_PKEY_decrypt(pctx, out, &out_len, in, in_len) != 1) {
		ERR_clear_error();
		out_len = 0;
		r = sc_fail(SC_ERR_KEY_DECRYPT, "decrypt: the ciphertext does not decrypt with key %u",
		    (unsigned)handle);
		goto out;
	}
	/* The plaintext is a secret in transit: the answer is wiped when it is freed. */
	ans->secret = 1;
	sc_buf_put_string(ans, out, out_len);
	r = SC_OK;
out:
	OPENSSL_free(label_copy);
	OPENSSL_clear_free(out, out_cap);
	EVP_PKEY_CTX_free(pctx);
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

static sc_err h_derive(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	sc_err r = SC_ERR_INTERNAL;
	EVP_PKEY_CTX *dctx = NULL;
	EVP_PKEY *peer = NULL;
	const uint8_t *point;
	size_t point_len, field, secret_len = 0, secret_cap = 0;
	uint8_t *secret = NULL;
	struct spd_slot *s;
	uint32_t handle, ku;
	const char *group;

	handle = sc_buf_get_u32(req);
	sc_buf_get_string(req, &point, &point_len, SC_SP_MAX_EC_POINT);
	if ((r = sc_buf_done(req, "derive")) != SC_OK)
		return r;
	if ((s = find_slot(st, handle, NULL)) == NULL)
		return sc_fail(SC_ERR_NO_KEY, "derive: no key with handle %u", (unsigned)handle);
	if (s->alg != SC_ALG_P256 && s->alg != SC_ALG_P384)
		return sc_fail(SC_ERR_ALGORITHM, "derive: key %u is %s, only EC keys agree keys",
		    (unsigned)handle, sc_alg_name(s->alg));
	ku = X509_get_key_usage(s->cert);
	if (!(ku & KU_KEY_AGREEMENT))
		return sc_fail(SC_ERR_KEY_USAGE, "derive: key %u's certificate does not allow "
		    "keyAgreement", (unsigned)handle);
	field = s->alg == SC_ALG_P256 ? 32 : 48;
	group = s->alg == SC_ALG_P256 ? "P-256" : "P-384";
	/* Uncompressed only: one encoding, nothing for the SP to decompress. */
	if (point_len != 1 + 2 * field || point[0] != 0x04 ||
	    (peer = ec_peer_key(group, point, point_len)) == NULL)
		return sc_fail(SC_ERR_MALFORMED, "derive: the peer point is not an uncompressed %s "
		    "point (%zu bytes, 0x04 first)", group, 1 + 2 * field);
	if ((dctx = EVP_PKEY_CTX_new(s->key, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dctx) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "derive: setting up ECDH");
		goto out;
	}
	if (EVP_PKEY_derive_set_peer_ex(dctx, peer, 1) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "derive: the peer point is not a valid %s public key",
		    group);
		goto out;
	}
	if (EVP_PKEY_derive(dctx, NULL, &secret_cap) != 1 ||
	    (secret = OPENSSL_malloc(secret_cap)) == NULL) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "derive: ECDH failed");
		goto out;
	}
	secret_len = secret_cap;
	if (EVP_PKEY_derive(dctx, secret, &secret_len) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "derive: ECDH failed");
		goto out;
	}
	ans->secret = 1;
	sc_buf_put_string(ans, secret, secret_len);
	r = SC_OK;
out:
	OPENSSL_clear_free(secret, secret_cap);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(peer);
	return r;
}
