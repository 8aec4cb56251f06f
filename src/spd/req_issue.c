// SPDX-License-Identifier: Apache-2.0
/*
 * req_issue.c — issuance (docs/PROTOCOL.md): CHALLENGE hands out single-use nonces (kept in
 * memory only), ISSUE turns one verified SignedProfile into a key and its certificate. Read it
 * top to bottom: decode, check, replay, challenge, key, certificate, apply and commit, answer.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/batch.h>
#include <selfcert/cert.h>
#include <selfcert/crl.h>
#include <selfcert/profile.h>
#include "backend.h"
#include "fast/fast.h"
#include "req.h"
#include "sp_msg.h"
#include "sp_wire.h"
#include "file.h"
#include "pem.h"

sc_err spd_h_challenge(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	uint8_t c[SC_SP_CHALLENGE_LEN];
	sc_err r;

	if ((r = sp_challenge_req_get(req)) != SC_OK)
		return r;
	if (RAND_bytes(c, sizeof(c)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	/* Bounded: the oldest outstanding challenge gives way to the newest. */
	if (spd->n_challenges == SPD_CHALLENGES_MAX) {
		memmove(spd->challenges[0], spd->challenges[1],
		    (SPD_CHALLENGES_MAX - 1) * sizeof(spd->challenges[0]));
		memmove(&spd->proved[0], &spd->proved[1], SPD_CHALLENGES_MAX - 1);
		spd->n_challenges--;
	}
	spd->proved[spd->n_challenges] = 0;
	memcpy(spd->challenges[spd->n_challenges++], c, sizeof(c));
	sp_challenge_ans_put(ans, c);
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
	memmove(&spd->proved[i], &spd->proved[i + 1], spd->n_challenges - (size_t)i - 1);
	spd->n_challenges--;
	spd->proved[spd->n_challenges] = 0;
	OPENSSL_cleanse(spd->challenges[spd->n_challenges], SC_SP_CHALLENGE_LEN);
}

/*
 * PROOF: the CSK signs that a profile request comes from this SP (docs/PROTOCOL.md 0x17). Bound
 * to an outstanding challenge (one proof each, so proofs are as scarce as challenges), to a
 * network this SP has an anchor for, to the host's request digest and to the SP's clock. The
 * signed bytes begin with a context that no DER SEQUENCE can begin with, so a proof is never a
 * certificate's or a CSR's signature. Changes nothing but the challenge's proved mark.
 */
sc_err spd_h_proof(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	const uint8_t *ch = NULL, *digest = NULL;
	char net[SP_MSG_ID_MAX + 1];
	struct sc_buf tbs;
	uint8_t *sig = NULL;
	size_t sig_len = 0, k;
	time_t now = time(NULL);
	sc_err r;
	int i;

	sc_buf_init_writer(&tbs, 1024, 0);
	if ((r = sp_proof_req_get(req, &ch, net, &digest)) != SC_OK)
		goto out;
	if (net[0] == '\0') {
		r = sc_fail(SC_ERR_USAGE, "proof: empty network ID");
		goto out;
	}
	for (k = 0; k < st->n_anchors && strcmp(st->anchors[k].network_id, net) != 0; k++)
		;
	if (k == st->n_anchors) {
		r = sc_fail(SC_ERR_NETWORK, "proof: no anchor for network %s", net);
		goto out;
	}
	if ((i = find_challenge(spd, ch, SC_SP_CHALLENGE_LEN)) < 0) {
		r = sc_fail(SC_ERR_CHALLENGE, "proof: the challenge is unknown, expired or used");
		goto out;
	}
	if (spd->proved[i]) {
		r = sc_fail(SC_ERR_CHALLENGE, "proof: the challenge already has its proof");
		goto out;
	}
	if (now < 0) {
		r = sc_fail(SC_ERR_INTERNAL, "proof: the clock is before 1970");
		goto out;
	}
	sp_proof_tbs_put(&tbs, ch, st->device_id, net, digest, (uint64_t)now);
	if ((r = sc_buf_done(&tbs, "proof")) != SC_OK)
		goto out;
	if ((r = be->sign(st->csk, SPD_SIGN_MESSAGE,
	         sc_sign_md(be->key_public(st->csk), SC_DIGEST_SHA256), 0, tbs.data, tbs.len, &sig,
	         &sig_len)) != SC_OK)
		goto out;
	if (sig_len == 0 || sig_len > SP_MSG_MAX_SIGNATURE) {
		r = sc_fail(SC_ERR_INTERNAL, "proof: a %zu-byte signature", sig_len);
		goto out;
	}
	spd->proved[i] = 1;
	sp_proof_ans_put(ans, (uint64_t)now, sig, sig_len);
	r = SC_OK;
out:
	OPENSSL_free(sig);
	sc_buf_free(&tbs);
	return r;
}

/* 1: the CSK is an operator-gated TPM key (issue #12): it signs only through GATE_ISSUE. */
static int spd_gated(const struct spd *spd)
{
	return spd->st.be == &spd_backend_tpm && spd_tpm_key_gated(spd->st.csk);
}

/* sc_crl_signer over the key backend: the CSK signs the TBSCertList the library built. */
static sc_err crl_sign(void *ctx, const EVP_MD *md, const uint8_t *tbs, size_t len, uint8_t **sig,
    size_t *sig_len)
{
	const struct spd_state *st = ctx;

	return st->be->sign(st->csk, SPD_SIGN_MESSAGE, md, 0, tbs, len, sig, sig_len);
}

/*
 * CRL: the device CA's own CRL. The host chooses only the lifetime (bounded); issuer, AKI,
 * number, times and the empty list are the SP's, so the CSK signs nothing a host could shape
 * into a certificate, a CSR or a proof (a TBSCertList's fourth field is a Time, not a Name).
 * Nothing is committed: crlNumber comes from the clock (see struct spd's crl_last).
 */
sc_err spd_h_crl(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	uint8_t *der = NULL;
	size_t der_len = 0;
	uint32_t lifetime = 0;
	uint64_t number;
	time_t now = time(NULL);
	sc_err r;

	if ((r = sp_crl_req_get(req, &lifetime)) != SC_OK)
		goto out;
	/* A gated CSK signs only what the operator authorized (GATE_ISSUE); a CRL is not that. */
	if (spd_gated(spd)) {
		r = sc_fail(SC_ERR_GATE,
		    "crl: the CSK is operator-gated: it signs only certificates "
		    "the operator authorized");
		goto out;
	}
	if (lifetime < SC_CRL_MIN_LIFETIME || lifetime > SC_CRL_MAX_LIFETIME) {
		r = sc_fail(SC_ERR_VALIDITY, "crl: lifetime %u s outside %u..%u", lifetime,
		    SC_CRL_MIN_LIFETIME, SC_CRL_MAX_LIFETIME);
		goto out;
	}
	if (now <= 0) {
		r = sc_fail(SC_ERR_INTERNAL, "crl: the clock is before 1970");
		goto out;
	}
	number = (uint64_t)now > spd->crl_last ? (uint64_t)now : spd->crl_last + 1;
	if ((r = sc_crl_device_make(st->csk_cert, number, (int64_t)now, lifetime, crl_sign, st,
	         &der, &der_len)) != SC_OK)
		goto out;
	if (der_len > SP_MSG_MAX_CRL) {
		r = sc_fail(SC_ERR_INTERNAL, "crl: %zu bytes", der_len);
		goto out;
	}
	spd->crl_last = number;
	sp_crl_ans_put(ans, der, der_len);
	r = SC_OK;
out:
	OPENSSL_free(der);
	return r;
}

/* One ISSUE in flight: what each phase hands to the next. */
struct issue {
	struct sc_profile *p;
	struct sc_profile_info info;
	uint64_t not_after;   /* the profile's profileNotAfter, for the replay cache */
	int ch;               /* the outstanding challenge it answers, or -1 */
	struct spd_slot slot; /* the new key and certificate until the slots own them */
	int renew;            /* RENEW (#17): a renewal profile, counted in st->renewal */
	int batch;            /* BATCH_ISSUE (#17): a BatchedProfile (selfcert/batch.h) */
	int ren;              /* its entry in st->renewal, or -1 on first use */
	uint32_t index;       /* the certificate of the profile being issued */
};

/*
 * The CSK certificate's name-constraints form for this device (struct spd's csk_form), worked
 * out again only when the certificate object or the device ID changed. 0 if it cannot be kept
 * (the check then works it out itself).
 */
static int csk_form_kept(struct spd *spd)
{
	const struct spd_state *st = &spd->st;

	if (st->csk_cert == NULL)
		return 0;
	if (spd->csk_form_cert == st->csk_cert && strcmp(spd->csk_form_dev, st->device_id) == 0)
		return 1;
	X509_free(spd->csk_form_cert);
	spd->csk_form_cert = NULL;
	if (!X509_up_ref(st->csk_cert))
		return 0;
	spd->csk_form_cert = st->csk_cert;
	snprintf(spd->csk_form_dev, sizeof(spd->csk_form_dev), "%s", st->device_id);
	spd->csk_form = (int)sc_cert_device_ca_form_of(st->csk_cert, st->device_id);
	return 1;
}

/* Decode and check the profile against the SP's anchors, CSK and limits (profile.h). */
static sc_err issue_check_profile(struct spd *spd, const uint8_t *der, size_t der_len,
    struct issue *is)
{
	struct spd_state *st = &spd->st;
	struct sc_profile_policy policy;
	struct sc_anchor anchors[SC_SP_MAX_ANCHORS];
	sc_err r;
	size_t i;

	if ((r = is->batch
	            ? sc_batch_decode(der, der_len, &is->p)
	            : sc_profile_decode_cached(der, der_len, spd->signer_cache, &is->p)) != SC_OK)
		return r;
	sc_profile_get_info(is->p, &is->info);
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
	policy.signer_cache = spd->signer_cache;
	if (sc_fast_enabled() && csk_form_kept(spd)) {
		policy.csk_form_known = 1;
		policy.csk_form = spd->csk_form;
	}
	return sc_profile_check(is->p, &policy);
}

/* The live renewal entry of a profile ID, or -1. */
static int find_renewal(const struct spd_state *st, const uint8_t *id)
{
	size_t i;

	for (i = 0; i < st->n_renewal; i++)
		if (memcmp(st->renewal[i].id, id, SC_PROFILE_ID_LEN) == 0)
			return (int)i;
	return -1;
}

/*
 * RENEW (#17): a live entry gives how many certificates were issued; a profile not in the table
 * must pass the replay cache (a spent or retired renewal profile lives there). Then the
 * cadence and the count (sc_profile_renewal_next) choose the certificate, or refuse.
 */
static sc_err renew_admit(struct spd *spd, struct issue *is)
{
	struct spd_state *st = &spd->st;
	uint32_t next = 0;
	sc_err r;

	if ((is->ren = find_renewal(st, is->info.id)) >= 0)
		next = st->renewal[is->ren].next;
	else if (spd_replay_check(st, is->info.id, is->not_after) != SC_OK)
		/* A spent or retired renewal profile sits in the replay cache (or below its mark). */
		return sc_fail(SC_ERR_RENEWAL_SPENT,
		    "renewal: this profile has issued its certificates or was retired (%s)",
		    sc_err_detail());
	if ((r = sc_profile_renewal_next(&is->info, next, time(NULL), &is->index)) != SC_OK ||
	    (r = sc_profile_set_renewal_index(is->p, is->index)) != SC_OK)
		return r;
	if (st->n_slots >= st->max_keys || st->next_handle == UINT32_MAX)
		return sc_fail(SC_ERR_STORE_FULL, "renew: all %u key slots are in use",
		    (unsigned)st->max_keys);
	return SC_OK;
}

/*
 * Count the issued certificate. The last one, or an entry retired to make room for a new
 * profile (the one with the earliest profileNotAfter), moves to the replay cache: a retired
 * profile can issue no more, which the agent sees as renewal-spent and answers with a new one.
 */
static void renew_count(struct spd_state *st, struct issue *is, struct spd_replay_undo *undo)
{
	size_t i, m = 0;
	int e = is->ren;

	undo->kind = SPD_RU_NONE;
	undo->old_watermark = st->replay_watermark;
	if (e < 0 && is->index + 1 < is->info.renewal_count) {
		if (st->n_renewal == SPD_RENEWAL_MAX) {
			for (i = 1; i < st->n_renewal; i++)
				if (st->renewal[i].not_after < st->renewal[m].not_after)
					m = i;
			spd_replay_add(st, st->renewal[m].id, st->renewal[m].not_after, undo);
			st->renewal[m] = st->renewal[--st->n_renewal];
		}
		e = (int)st->n_renewal++;
		memcpy(st->renewal[e].id, is->info.id, SC_PROFILE_ID_LEN);
		st->renewal[e].not_after = is->not_after;
	}
	if (is->index + 1 >= is->info.renewal_count) {
		spd_replay_add(st, is->info.id, is->not_after, undo);
		if (e >= 0)
			st->renewal[e] = st->renewal[--st->n_renewal];
		return;
	}
	st->renewal[e].next = is->index + 1;
}

/*
 * Once only: not replayed, its challenge outstanding, and a free slot for the key. gated: the
 * challenge must be the outstanding gated one (the TPM policy session's nonce) instead.
 */
static sc_err issue_admit(struct spd *spd, struct issue *is, int gated)
{
	struct spd_state *st = &spd->st;
	sc_err r;

	is->not_after = is->info.profile_not_after > 0 ? (uint64_t)is->info.profile_not_after : 0;
	if (is->renew != (is->info.renewal_count > 0))
		return sc_fail(SC_ERR_USAGE,
		    is->renew ? "renew: not a renewal profile (use ISSUE)"
		              : "issue: a renewal profile (use RENEW)");
	if (is->renew)
		return renew_admit(spd, is);
	if ((r = spd_replay_check(st, is->info.id, is->not_after)) != SC_OK)
		return r;
	if (gated) {
		if (!spd_tpm_gate_pending(is->info.challenge, is->info.challenge_len))
			return sc_fail(SC_ERR_CHALLENGE,
			    "profile: the challenge is not the "
			    "outstanding gated challenge");
	} else if (is->info.challenge_len > 0 &&
	    (is->ch = find_challenge(spd, is->info.challenge, is->info.challenge_len)) < 0)
		return sc_fail(SC_ERR_CHALLENGE,
		    "profile: the challenge is unknown, expired or used");
	if (st->n_slots >= st->max_keys || st->next_handle == UINT32_MAX)
		return sc_fail(SC_ERR_STORE_FULL, "issue: all %u key slots are in use",
		    (unsigned)st->max_keys);
	return SC_OK;
}

/* The key (generated inside the backend, or unwrapped with the KEK), and its certificate. */
static sc_err issue_make(struct spd *spd, struct issue *is)
{
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	struct spd_slot *s = &is->slot;
	sc_err r;

	if (is->info.origin == SC_KEY_DEVICE_GENERATED)
		r = be->key_create(be, is->info.alg, is->info.key_usage, &s->key);
	else
		/* Embodiment 2: the KEK opens the envelope inside the backend, which keeps the key. */
		r = be->unwrap_supplied(be, st->kek, is->p, st->kek_cert, &s->key);
	if (r != SC_OK)
		return r;
	s->alg = be->key_alg(s->key);
	r = be->issue_leaf_key != NULL
	    ? be->issue_leaf_key(st->csk, is->p, s->key, st->csk_cert, st->issuance_counter + 1,
	          &s->cert, &s->cert_der, &s->cert_der_len, &s->ku)
	    : be->issue_leaf(st->csk, is->p, be->key_public(s->key), st->csk_cert,
	          st->issuance_counter + 1, &s->cert, &s->cert_der, &s->cert_der_len, &s->ku);
	if (r != SC_OK)
		return r;
	if (s->cert_der == NULL &&
	    (r = sc_cert_to_der(s->cert, &s->cert_der, &s->cert_der_len)) != SC_OK)
		return r;
	/* Checked before the commit: a key must never be stored for a cert we cannot send. */
	if (s->cert_der_len > SC_WIRE_MAX_CERT)
		return sc_fail(SC_ERR_OVERSIZE, "issue: certificate of %zu bytes", s->cert_der_len);
	return SC_OK;
}

/* Apply, commit, and take it all back if the commit fails. On success the slots own it all. */
static sc_err issue_apply(struct spd *spd, struct issue *is)
{
	struct spd_state *st = &spd->st;
	struct spd_replay_undo undo;
	struct spd_renewal ren_saved[SPD_RENEWAL_MAX];
	size_t n_ren_saved = st->n_renewal;
	sc_err r;

	memcpy(ren_saved, st->renewal, sizeof(ren_saved));
	is->slot.handle = st->next_handle;
	st->slots[st->n_slots++] = is->slot;
	st->next_handle++;
	st->issuance_counter++;
	if (is->renew)
		renew_count(st, is, &undo);
	else
		spd_replay_add(st, is->info.id, is->not_after, &undo);
	if ((r = spd_commit(spd)) != SC_OK) {
		/* A retirement and the last certificate never both happen: one undo suffices. */
		spd_replay_undo(st, &undo);
		memcpy(st->renewal, ren_saved, sizeof(ren_saved));
		st->n_renewal = n_ren_saved;
		st->issuance_counter--;
		st->next_handle--;
		st->n_slots--;
		memset(&st->slots[st->n_slots], 0, sizeof(st->slots[0]));
		return r;
	}
	consume_challenge(spd, is->ch);
	return SC_OK;
}

static sc_err issue_or_renew(struct spd *spd, struct sc_buf *req, struct sc_buf *ans, int renew,
    int batch)
{
	struct issue is;
	const uint8_t *der;
	size_t der_len;
	sc_err r;

	if ((r = sp_issue_req_get(req, &der, &der_len)) != SC_OK)
		return r;
	/* Said before any work: the TPM would refuse the CSK's signature anyway. */
	if (spd_gated(spd))
		return sc_fail(SC_ERR_GATE,
		    "issue: this SP is operator-gated: GATE_ISSUE with the "
		    "operator's authorization");
	memset(&is, 0, sizeof(is));
	is.ch = -1;
	is.ren = -1;
	is.renew = renew;
	is.batch = batch;
	if ((r = issue_check_profile(spd, der, der_len, &is)) != SC_OK ||
	    (r = issue_admit(spd, &is, 0)) != SC_OK || (r = issue_make(spd, &is)) != SC_OK ||
	    (r = issue_apply(spd, &is)) != SC_OK)
		goto out;
	/* Durable before it leaves: only now does the certificate go out (the slot's DER). */
	sp_issue_ans_put(ans, is.slot.handle, is.slot.cert_der, is.slot.cert_der_len);
	memset(&is.slot, 0, sizeof(is.slot)); /* the slots' now */
	r = SC_OK;
out:
	OPENSSL_free(is.slot.cert_der);
	X509_free(is.slot.cert);
	spd->st.be->key_free(is.slot.key);
	sc_profile_free(is.p);
	return r;
}

/*
 * GATE_CHALLENGE (revision 1.4): the outstanding gated challenge is a TPM policy session, its
 * nonceTPM the challenge, so single use is the chip's rule, not only ours. The pending leaf key
 * is made now (its public half goes to the server, which must build the exact tbsCertificate);
 * it stays unusable until GATE_ISSUE certifies it, and a newer challenge discards it.
 */
sc_err spd_h_gate_challenge(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	uint8_t nonce[SC_SP_CHALLENGE_LEN], name[SP_MSG_GATE_NAME_LEN], alg;
	unsigned char *spki = NULL;
	struct spd_key *key = NULL;
	uint32_t ku;
	int n = 0;
	sc_err r;

	if ((r = sp_gate_challenge_req_get(req, &alg, &ku)) != SC_OK)
		return r;
	if (!spd_gated(spd))
		return sc_fail(SC_ERR_GATE, "gate-challenge: this SP is not operator-gated");
	if (alg != SC_ALG_NONE && !sc_alg_valid(alg))
		return sc_fail(SC_ERR_ALGORITHM, "gate-challenge: unknown algorithm %u", alg);
	if (ku > 0xffffu)
		return sc_fail(SC_ERR_USAGE, "gate-challenge: ku 0x%x is not KU_* bits",
		    (unsigned)ku);
	be->key_free(spd->gate_leaf);
	spd->gate_leaf = NULL;
	if (alg != SC_ALG_NONE && (r = be->key_create(be, (enum sc_alg)alg, ku, &key)) != SC_OK)
		return r;
	if (key != NULL && (n = i2d_PUBKEY(be->key_public(key), &spki)) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "gate-challenge: encoding the leaf key");
		goto out;
	}
	if ((r = spd_tpm_gate_open(st->csk, nonce, name)) != SC_OK)
		goto out;
	spd->gate_leaf = key;
	spd->gate_alg = (enum sc_alg)alg;
	spd->gate_ku = ku;
	key = NULL;
	sp_gate_challenge_ans_put(ans, nonce, st->issuance_counter + 1, name, spki, (size_t)n);
	r = SC_OK;
out:
	be->key_free(key);
	OPENSSL_free(spki);
	return r;
}

/* The TPM object uses KU_* bits become (tpm_key.c uses_of): 1 sign, 2 decrypt. */
static unsigned tpm_uses(uint32_t ku)
{
	unsigned u = 0;

	if (ku == 0 ||
	    (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
		u |= 1;
	if (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | KU_KEY_AGREEMENT))
		u |= 2;
	return u;
}

/* GATE_ISSUE's key: the pending one (as the profile asks) or the supplied one; then the cert. */
static sc_err gate_make(struct spd *spd, struct issue *is, const uint8_t *auth, size_t auth_len)
{
	struct spd_state *st = &spd->st;
	const struct spd_backend *be = st->be;
	struct spd_slot *s = &is->slot;
	uint32_t ku = is->info.key_usage;
	sc_err r;

	if (is->info.origin == SC_KEY_DEVICE_GENERATED) {
		if (spd->gate_leaf == NULL)
			return sc_fail(SC_ERR_CHALLENGE,
			    "gate-issue: no pending key: the gated challenge was for a supplied key");
		/* What the chip enforces is sign and/or decrypt (backend.h key_create): those
		 * must agree; the certificate's finer bits are the profile's. */
		if (spd->gate_alg != is->info.alg || tpm_uses(spd->gate_ku) != tpm_uses(ku))
			return sc_fail(SC_ERR_KEY_MISMATCH,
			    "gate-issue: the pending key was made for "
			    "another algorithm or other uses");
		s->key = spd->gate_leaf;
		spd->gate_leaf = NULL;
	} else if ((r = be->unwrap_supplied(be, st->kek, is->p, st->kek_cert, &s->key)) != SC_OK)
		return r;
	s->alg = be->key_alg(s->key);
	if ((r = spd_tpm_gate_issue_leaf(st->csk, is->p, be->key_public(s->key), st->csk_cert,
	         st->issuance_counter + 1, auth, auth_len, &s->cert)) != SC_OK)
		return r;
	if ((r = sc_cert_to_der(s->cert, &s->cert_der, &s->cert_der_len)) != SC_OK)
		return r;
	if (s->cert_der_len > SC_WIRE_MAX_CERT)
		return sc_fail(SC_ERR_OVERSIZE, "issue: certificate of %zu bytes", s->cert_der_len);
	return SC_OK;
}

/* GATE_ISSUE (revision 1.4): ISSUE's order, with the TPM checking the operator's authorization. */
sc_err spd_h_gate_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	struct issue is;
	const uint8_t *der, *auth;
	size_t der_len, auth_len;
	sc_err r;

	if ((r = sp_gate_issue_req_get(req, &der, &der_len, &auth, &auth_len)) != SC_OK)
		return r;
	if (!spd_gated(spd))
		return sc_fail(SC_ERR_GATE, "gate-issue: this SP is not operator-gated");
	memset(&is, 0, sizeof(is));
	is.ch = -1;
	if ((r = issue_check_profile(spd, der, der_len, &is)) != SC_OK ||
	    (r = issue_admit(spd, &is, 1)) != SC_OK ||
	    (r = gate_make(spd, &is, auth, auth_len)) != SC_OK ||
	    (r = issue_apply(spd, &is)) != SC_OK)
		goto out;
	sp_issue_ans_put(ans, is.slot.handle, is.slot.cert_der, is.slot.cert_der_len);
	memset(&is.slot, 0, sizeof(is.slot));
	r = SC_OK;
out:
	OPENSSL_free(is.slot.cert_der);
	X509_free(is.slot.cert);
	spd->st.be->key_free(is.slot.key);
	sc_profile_free(is.p);
	return r;
}

sc_err spd_h_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	return issue_or_renew(spd, req, ans, 0, 0);
}

sc_err spd_h_renew(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	return issue_or_renew(spd, req, ans, 1, 0);
}

/*
 * BATCH_ISSUE (#17): ISSUE for a BatchedProfile, whose body is checked through its Merkle path
 * and the root's one signature, then exactly as an ordinary profile (its own profile ID in the
 * replay cache: a replayed batch leaf is a replay).
 */
sc_err spd_h_batch_issue(struct spd *spd, struct sc_buf *req, struct sc_buf *ans)
{
	return issue_or_renew(spd, req, ans, 0, 1);
}
