/*
 * enroll.c — one enrollment round of the agent, as a sequence of steps that each end with the
 * state saved: challenge → profile (server) → in flight → issue (SP) → pending → acknowledged
 * (server) → leaf.pem → old key retired → deleted. A crash between any two steps resumes at the
 * next: an in-flight profile is matched to the SP key it produced (by the issuance extension's
 * profile ID), a pending certificate is returned again (the server answers "already registered"
 * if it had recorded it), retired keys are deleted again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <selfcert/cert.h>
#include <selfcert/sp.h>
#include "agent.h"
#include "file.h"
#include "pem.h"
#include "text.h"

static void say(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct agent *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "selfcert-agent: %s: ", a->device_id[0] ? a->device_id : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void agent_crash_point(const struct agent_cfg *cfg, const char *step)
{
	if (cfg->crash_at != NULL && strcmp(cfg->crash_at, step) == 0) {
		fprintf(stderr, "selfcert-agent: test: crashing at %s\n", step);
		_exit(86);
	}
	static int stopped;

	/* Once per process: a retried step goes on. */
	if (!stopped && cfg->stop_at != NULL && strcmp(cfg->stop_at, step) == 0) {
		stopped = 1;
		fprintf(stderr, "selfcert-agent: test: stopped at %s\n", step);
		raise(SIGSTOP);
	}
}

static sc_err save(struct agent *a, const struct agent_state *st)
{
	return agent_state_save(a->state_path, st);
}

/* The SP's key with this handle, or NULL. */
static X509 *sp_key(struct sc_sp_key *keys, size_t n, uint32_t handle)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].handle == handle)
			return keys[i].cert;
	return NULL;
}

/* What the device shows the server: its chain (device CA, manufacturer CA) and KEK certificate. */
static sc_err load_device(struct agent *a, struct sc_sp *sp, STACK_OF(X509) **chain, X509 **kex)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sp_info info;
	char path[4096];
	X509 *x = NULL;

	*chain = NULL;
	*kex = NULL;
	memset(&info, 0, sizeof(info));
	if ((r = sc_sp_info(sp, &info)) != SC_OK)
		return r;
	if (info.state != SC_SP_STATE_LOCKED || info.csk_cert == NULL || info.kek_cert == NULL) {
		r = sc_fail(SC_ERR_STATE, "the SP at %s is %s, not personalized and locked", a->cfg->sp_path,
		    sc_sp_state_name((int)info.state));
		goto out;
	}
	snprintf(a->device_id, sizeof(a->device_id), "%s", info.device_id);
	snprintf(path, sizeof(path), "%s/chain.pem", a->cfg->device_dir);
	if ((r = sc_load_certs(path, chain)) != SC_OK)
		goto out;
	if (sk_X509_num(*chain) > 4 || X509_cmp(sk_X509_value(*chain, 0), info.csk_cert) != 0) {
		r = sc_fail(SC_ERR_USAGE, "%s does not begin with this SP's device CA certificate (device %s)", path,
		    info.device_id);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/device-ca.pem", a->cfg->device_dir);
	if (access(path, F_OK) == 0) {
		if ((r = sc_load_cert(path, &x)) != SC_OK)
			goto out;
		if (X509_cmp(x, info.csk_cert) != 0) {
			r = sc_fail(SC_ERR_USAGE, "%s is not this SP's device CA certificate", path);
			goto out;
		}
		X509_free(x);
		x = NULL;
	}
	/* The KEK certificate: the SP's own (it holds the key), checked against kex.pem if present. */
	snprintf(path, sizeof(path), "%s/kex.pem", a->cfg->device_dir);
	if (access(path, F_OK) == 0) {
		if ((r = sc_load_cert(path, &x)) != SC_OK)
			goto out;
		if (X509_cmp(x, info.kek_cert) != 0) {
			r = sc_fail(SC_ERR_USAGE, "%s is not this SP's key-exchange certificate", path);
			goto out;
		}
	} else if ((x = X509_dup(info.kek_cert)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "KEK certificate");
		goto out;
	}
	*kex = x;
	x = NULL;
	r = SC_OK;
out:
	if (r != SC_OK) {
		sk_X509_pop_free(*chain, X509_free);
		*chain = NULL;
	}
	X509_free(x);
	sc_sp_info_clear(&info);
	return r;
}

static char *pem_of(STACK_OF(X509) *sk, X509 *one)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	char *out = NULL;
	int ok = bio != NULL;

	for (int i = 0; ok && sk != NULL && i < sk_X509_num(sk); i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(sk, i));
	if (ok && one != NULL)
		ok = PEM_write_bio_X509(bio, one);
	if (ok) {
		BIO_get_mem_ptr(bio, &mem);
		if ((out = malloc(mem->length + 1)) != NULL) {
			memcpy(out, mem->data, mem->length);
			out[mem->length] = '\0';
		}
	}
	BIO_free(bio);
	return out;
}

/* leaf.pem (and chain.pem beside it) for a certificate in PEM; each file atomically. */
static sc_err write_leaf(struct agent *a, const char *cert_pem, STACK_OF(X509) *chain)
{
	X509 *certs[4];
	int n = sk_X509_num(chain);
	sc_err r;

	if (n < 1 || n > 4)
		return sc_fail(SC_ERR_USAGE, "the device chain has %d certificates", n);
	for (int i = 0; i < n; i++)
		certs[i] = sk_X509_value(chain, i);
	if ((r = sc_write_certs(a->chain_path, certs, (size_t)n)) != SC_OK)
		return r;
	return sc_file_write_atomic(a->leaf_path, cert_pem, strlen(cert_pem), 0644);
}

/*
 * The server said no. 408, 429 and 5xx are for later (SC_ERR_PEER, exit 3); anything else is a
 * refusal (SC_ERR_DENIED, exit 1) with the server's code as its name.
 */
static sc_err server_said_no(struct agent *a, const struct agent_reply *rep, const char *what)
{
	snprintf(a->refusal, sizeof(a->refusal), "%s", rep->error[0] ? rep->error : "http-error");
	if (rep->status == 408 || rep->status == 429 || rep->status >= 500)
		return sc_fail(SC_ERR_PEER, "%s: the server answered %ld %s: %s", what, rep->status, rep->error,
		    rep->detail);
	return sc_fail(SC_ERR_DENIED, "%s: %s (HTTP %ld)", what, rep->detail, rep->status);
}

static void retire(struct agent *a, struct agent_state *st, uint32_t handle)
{
	for (size_t i = 0; i < st->n_retire; i++)
		if (st->retire[i] == handle)
			return;
	if (st->n_retire < AGENT_MAX_RETIRE)
		st->retire[st->n_retire++] = handle;
	else
		say(a, "too many keys waiting for deletion; key %u stays in the SP", handle);
}

/* Delete retired keys from the SP. A key already gone is fine. */
static sc_err delete_retired(struct agent *a, struct sc_sp *sp, struct agent_state *st)
{
	sc_err r;

	while (st->n_retire > 0) {
		uint32_t h = st->retire[st->n_retire - 1];
		r = sc_sp_delete(sp, h);
		if (r != SC_OK && r != SC_ERR_NO_KEY)
			return sc_fail(r, "deleting old key %u: %s", h, sc_err_detail());
		if (r == SC_OK)
			say(a, "old key %u deleted", h);
		st->n_retire--;
		if ((r = save(a, st)) != SC_OK)
			return r;
	}
	return SC_OK;
}

/*
 * Return the pending certificate to the server. Acknowledged: it becomes current, leaf.pem shows
 * it, the old key is retired. Refused for good: its key is retired and leaf.pem shows the current
 * one again. No answer: leaf.pem shows it anyway if the current one is gone or expired (a device
 * must not sit on an expired certificate while it holds a good one), and it is returned later.
 */
static sc_err ack_pending(struct agent *a, struct agent_state *st, STACK_OF(X509) *chain, int *did)
{
	struct agent_reply rep;
	json_t *body;
	time_t now = time(NULL);
	sc_err r;

	memset(&rep, 0, sizeof(rep));
	if ((body = json_pack("{s:s}", "certificate", st->pending.cert_pem)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "request");
	r = agent_http_post(a->http, "/v1/certificates", body, &rep);
	json_decref(body);
	if (r == SC_OK && (rep.status == 200 || rep.status == 201)) {
		agent_crash_point(a->cfg, "after-ack-received");
		if ((r = write_leaf(a, st->pending.cert_pem, chain)) != SC_OK)
			goto out;
		agent_crash_point(a->cfg, "after-write");
		a->action = st->current.present ? "renewed" : "enrolled";
		if (st->current.present)
			retire(a, st, st->current.handle);
		agent_key_clear(&st->current);
		st->current = st->pending;
		st->current.written = 0;
		memset(&st->pending, 0, sizeof(st->pending));
		if ((r = save(a, st)) != SC_OK)
			goto out;
		say(a, "certificate %s %s by the server; key %u in use until %s, renewal due %lld s from now",
		    st->current.serial, rep.status == 201 ? "registered" : "was already registered", st->current.handle,
		    json_string_value(json_object_get(rep.json, "not_after")) ?
		        json_string_value(json_object_get(rep.json, "not_after")) : "?",
		    (long long)(st->current.renew_at - (int64_t)now));
		*did = 1;
		agent_crash_point(a->cfg, "after-switch");
		r = SC_OK;
		goto out;
	}
	if (r == SC_OK)
		r = server_said_no(a, &rep, "returning the certificate");
	if (r == SC_ERR_DENIED) {
		/* Refused for good: give up this key, show the acknowledged certificate again. */
		say(a, "the server refused certificate %s: %s", st->pending.serial, sc_err_detail());
		retire(a, st, st->pending.handle);
		if (st->pending.written) {
			if (st->current.present)
				(void)write_leaf(a, st->current.cert_pem, chain);
			else
				(void)unlink(a->leaf_path);
		}
		agent_key_clear(&st->pending);
		(void)save(a, st);
		r = SC_ERR_DENIED;
		goto out;
	}
	/* No answer: keep it pending; put it in use now if nothing valid is. */
	if (!st->pending.written && (!st->current.present || st->current.not_after <= (int64_t)now)) {
		sc_err w = write_leaf(a, st->pending.cert_pem, chain);
		if (w == SC_OK) {
			st->pending.written = 1;
			(void)save(a, st);
			say(a, "server unreachable; certificate %s put in use before its acknowledgement",
			    st->pending.serial);
		}
	}
out:
	agent_reply_clear(&rep);
	return r;
}

/* ack_pending, and on a refusal for good the refused key deleted at once (the error kept). */
static sc_err settle(struct agent *a, struct sc_sp *sp, struct agent_state *st, STACK_OF(X509) *chain, int *did)
{
	char detail[256];
	sc_err r = ack_pending(a, st, chain, did);

	if (r == SC_ERR_DENIED) {
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		(void)delete_retired(a, sp, st);
		r = sc_fail(r, "%s", detail);
	}
	return r;
}

/* Strict base64 of the profile from the server (RFC 4648, padded). */
static sc_err unbase64(const char *s, uint8_t **out, size_t *out_len)
{
	size_t len = strlen(s), pad = 0;
	uint8_t *buf;
	int n;

	*out = NULL;
	if (len == 0 || len % 4 != 0 || len > 4 * (SC_PROFILE_MAX_DER / 3 + 1))
		return sc_fail(SC_ERR_PEER, "the server's profile is not base64 of at most %d bytes", SC_PROFILE_MAX_DER);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		    c == '/' || (c == '=' && i >= len - 2);
		if (!ok || (pad > 0 && c != '='))
			return sc_fail(SC_ERR_PEER, "the server's profile is not base64");
		pad += c == '=';
	}
	if ((buf = OPENSSL_malloc(len / 4 * 3)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "profile");
	if ((n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len)) < 0 || (size_t)n < pad) {
		OPENSSL_free(buf);
		return sc_fail(SC_ERR_PEER, "the server's profile is not base64");
	}
	*out = buf;
	*out_len = (size_t)n - pad;
	return SC_OK;
}

/* Ask the server for a profile for this challenge. *der, *id are the caller's. */
static sc_err request_profile(struct agent *a, STACK_OF(X509) *chain, X509 *kex, const uint8_t *challenge,
    uint8_t **der, size_t *der_len, char id[2 * SC_PROFILE_ID_LEN + 1])
{
	char ch_hex[2 * SC_SP_CHALLENGE_LEN + 1], *chain_pem = NULL, *kex_pem = NULL;
	struct agent_reply rep;
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	json_t *body = NULL, *v;
	sc_err r = SC_ERR_INTERNAL;

	*der = NULL;
	memset(&rep, 0, sizeof(rep));
	sc_hex(challenge, SC_SP_CHALLENGE_LEN, ch_hex);
	if ((chain_pem = pem_of(chain, NULL)) == NULL || (kex_pem = pem_of(NULL, kex)) == NULL ||
	    (body = json_pack("{s:s, s:s, s:s}", "chain", chain_pem, "kex", kex_pem, "challenge", ch_hex)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "request");
		goto out;
	}
	if (a->cfg->alg != SC_ALG_NONE)
		json_object_set_new(body, "alg", json_string(sc_alg_name(a->cfg->alg)));
	if (a->cfg->server_keygen)
		json_object_set_new(body, "server_keygen", json_true());
	if ((r = agent_http_post(a->http, "/v1/profiles", body, &rep)) != SC_OK)
		goto out;
	if (rep.status != 201) {
		r = server_said_no(a, &rep, "asking for a profile");
		goto out;
	}
	v = json_object_get(rep.json, "profile");
	if (!json_is_string(v)) {
		r = sc_fail(SC_ERR_PEER, "the server's answer has no \"profile\"");
		goto out;
	}
	if ((r = unbase64(json_string_value(v), der, der_len)) != SC_OK)
		goto out;
	/* Our own look at it: a profile we can decode, whose ID we will remember. */
	if ((r = sc_profile_decode(*der, *der_len, &p)) != SC_OK) {
		r = sc_fail(SC_ERR_PEER, "the server's profile does not decode: %s", sc_err_detail());
		goto out;
	}
	sc_profile_get_info(p, &info);
	if (strcmp(info.device_id, a->device_id) != 0) {
		r = sc_fail(SC_ERR_PEER, "the server sent a profile for device %s", info.device_id);
		goto out;
	}
	sc_hex(info.id, SC_PROFILE_ID_LEN, id);
	r = SC_OK;
out:
	if (r != SC_OK) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	sc_profile_free(p);
	agent_reply_clear(&rep);
	json_decref(body);
	free(chain_pem);
	free(kex_pem);
	return r;
}

sc_err agent_round(struct agent *a, time_t *next_at, int *did)
{
	sc_err r = SC_ERR_INTERNAL;
	struct agent_state st;
	struct sc_sp *sp = NULL;
	struct sc_sp_key *keys = NULL;
	size_t n_keys = 0;
	STACK_OF(X509) *chain = NULL;
	X509 *kex = NULL, *cert = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	time_t now = time(NULL);
	int attempt;

	*did = 0;
	*next_at = now;
	a->refusal[0] = '\0';
	a->action = "unchanged";
	memset(&st, 0, sizeof(st));
	if ((r = agent_state_load(a->state_path, &st)) != SC_OK ||
	    (r = sc_sp_connect(a->cfg->sp_path, &sp)) != SC_OK ||
	    (r = load_device(a, sp, &chain, &kex)) != SC_OK ||
	    (r = sc_sp_keys(sp, &keys, &n_keys)) != SC_OK)
		goto out;

	/* Resume: a profile in flight either became an SP key (adopt it) or did not (forget it). */
	if (st.has_inflight) {
		for (size_t i = 0; i < n_keys && !st.pending.present; i++) {
			struct sc_issuance iss;
			char id[2 * SC_PROFILE_ID_LEN + 1];
			if (sc_issuance_get(keys[i].cert, &iss) != SC_OK)
				continue;
			sc_hex(iss.profile_id, SC_PROFILE_ID_LEN, id);
			if (strcmp(id, st.inflight_id) == 0) {
				if ((r = agent_key_from_cert(&st.pending, keys[i].handle, keys[i].cert)) != SC_OK)
					goto out;
				say(a, "resuming: the SP had issued key %u for profile %s", keys[i].handle, id);
			}
		}
		if (!st.pending.present)
			say(a, "resuming: profile %s was never issued; starting over", st.inflight_id);
		st.has_inflight = 0;
		if ((r = save(a, &st)) != SC_OK)
			goto out;
	}
	if (st.pending.present && sp_key(keys, n_keys, st.pending.handle) == NULL) {
		say(a, "pending key %u is no longer in the SP; forgetting it", st.pending.handle);
		agent_key_clear(&st.pending);
		if ((r = save(a, &st)) != SC_OK)
			goto out;
	}
	if (st.pending.present && (r = settle(a, sp, &st, chain, did)) != SC_OK)
		goto out;
	if ((r = delete_retired(a, sp, &st)) != SC_OK)
		goto out;
	if (st.current.present && sp_key(keys, n_keys, st.current.handle) == NULL) {
		say(a, "key %u in use is no longer in the SP; enrolling again", st.current.handle);
		agent_key_clear(&st.current);
		if ((r = save(a, &st)) != SC_OK)
			goto out;
	}
	if (*did || (st.current.present && !a->force && now < st.current.renew_at)) {
		*next_at = (time_t)st.current.renew_at;
		if (*did)
			a->force = 0;
		r = SC_OK;
		goto out;
	}

	/*
	 * Enroll (or renew). If the SP restarts under us, reconnect: a key it issued for our
	 * profile is adopted; otherwise the same profile is tried again, and a restarted SP, which
	 * forgot its challenges, says so: then start again with a new challenge.
	 */
	for (attempt = 0;; attempt++) {
		uint8_t challenge[SC_SP_CHALLENGE_LEN];
		uint32_t handle = 0;

		if (der == NULL) {
			say(a, "%s", st.current.present ? "renewing" : "enrolling");
			if ((r = sc_sp_challenge(sp, challenge)) != SC_OK)
				goto out;
			agent_crash_point(a->cfg, "after-challenge");
			if ((r = request_profile(a, chain, kex, challenge, &der, &der_len, st.inflight_id)) != SC_OK)
				goto out;
			st.has_inflight = 1;
			if ((r = save(a, &st)) != SC_OK)
				goto out;
			agent_crash_point(a->cfg, "after-profile");
		}
		r = sc_sp_issue(sp, der, der_len, &handle, &cert);
		if (r == SC_OK) {
			agent_crash_point(a->cfg, "after-issue");
			if ((r = agent_key_from_cert(&st.pending, handle, cert)) != SC_OK)
				goto out;
			st.has_inflight = 0;
			if ((r = save(a, &st)) != SC_OK)
				goto out;
			say(a, "the SP issued key %u (certificate %s) for profile %s", handle, st.pending.serial,
			    st.inflight_id);
			agent_crash_point(a->cfg, "after-pending");
			break;
		}
		if (r == SC_ERR_IO || r == SC_ERR_PEER) {
			/* The SP may or may not have issued: look, on a new connection. */
			if (attempt >= AGENT_CHALLENGE_RETRIES) {
				r = sc_fail(r, "the SP did not answer the issue request: %s", sc_err_detail());
				goto out;
			}
			say(a, "the SP connection broke (%s); reconnecting", sc_err_detail());
			sc_sp_close(sp);
			sp = NULL;
			sc_sp_keys_free(keys, n_keys);
			keys = NULL;
			n_keys = 0;
			if ((r = sc_sp_connect(a->cfg->sp_path, &sp)) != SC_OK || (r = sc_sp_keys(sp, &keys, &n_keys)) != SC_OK)
				goto out;
			for (size_t i = 0; i < n_keys && !st.pending.present; i++) {
				struct sc_issuance iss;
				char id[2 * SC_PROFILE_ID_LEN + 1];
				if (sc_issuance_get(keys[i].cert, &iss) != SC_OK)
					continue;
				sc_hex(iss.profile_id, SC_PROFILE_ID_LEN, id);
				if (strcmp(id, st.inflight_id) == 0 &&
				    (r = agent_key_from_cert(&st.pending, keys[i].handle, keys[i].cert)) != SC_OK)
					goto out;
			}
			if (st.pending.present) {
				st.has_inflight = 0;
				if ((r = save(a, &st)) != SC_OK)
					goto out;
				say(a, "the SP had issued key %u before the connection broke", st.pending.handle);
				break;
			}
			continue;
		}
		/* The SP refused: nothing was issued. */
		OPENSSL_free(der);
		der = NULL;
		st.has_inflight = 0;
		(void)save(a, &st);
		if (r == SC_ERR_CHALLENGE && attempt < AGENT_CHALLENGE_RETRIES) {
			say(a, "the SP no longer knows the challenge (restarted?); asking for a new one");
			continue;
		}
		r = sc_fail(r, "the SP refused the profile: %s", sc_err_detail());
		goto out;
	}
	if ((r = settle(a, sp, &st, chain, did)) != SC_OK || (r = delete_retired(a, sp, &st)) != SC_OK)
		goto out;
	a->force = 0;
	*next_at = (time_t)st.current.renew_at;
	r = SC_OK;
out:
	X509_free(cert);
	OPENSSL_free(der);
	X509_free(kex);
	sk_X509_pop_free(chain, X509_free);
	sc_sp_keys_free(keys, n_keys);
	sc_sp_close(sp);
	agent_state_clear(&st);
	ERR_clear_error();
	return r;
}
