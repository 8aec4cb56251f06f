// SPDX-License-Identifier: Apache-2.0
/*
 * enroll.c — one enrollment round of the agent, as a sequence of steps that each end with the
 * state saved: challenge → profile (server) → in flight → issue (SP) → pending → acknowledged
 * (server) → leaf.pem → old key retired → deleted. A crash between any two steps resumes at the
 * next: an in-flight profile is matched to the SP key it produced (by the issuance extension's
 * profile ID), a pending certificate is returned again (the server answers "already registered"
 * if it had recorded it), retired keys are deleted again. The round runs in phases: open (state,
 * SP, device), resume, settle (pending, retired, lost keys), and, when due, the enroll loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <selfcert/batch.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/crl.h>
#include <selfcert/proof.h>
#include <selfcert/sp.h>
#include <selfcert/gate.h>
#include "agent.h"
#include "failpoint.h"
#include "file.h"
#include "log.h"
#include "pem.h"
#include "text.h"

/* The profile's base64 in the server's answer: at most this many characters. */
#define PROFILE_B64_MAX (4 * ((SC_PROFILE_MAX_DER + 2) / 3))

#ifdef SC_FAILPOINTS
static const char *const fp_names[AGENT_FP_COUNT] = {
	"after-challenge",
	"after-profile",
	"after-issue",
	"after-pending",
	"after-ack-received",
	"after-write",
	"after-switch",
};

static struct sc_failpoints agent_fp = {
	.env = AGENT_FAILPOINT_ENV,
	.prog = "selfcert-agent",
	.names = fp_names,
	.n = AGENT_FP_COUNT,
	.exit_code = AGENT_FAILPOINT_EXIT,
	.allow = SC_FP_ALLOW_ERROR | SC_FP_ALLOW_STOP,
};
#endif
#define FAILPOINT(id) SC_FAILPOINT(&agent_fp, id)

sc_err agent_failpoints_load(void)
{
	return SC_FAILPOINT_LOAD(&agent_fp);
}

/* What one round holds open: the state, the SP and its keys, the device's certificates. */
struct round {
	struct agent_state st;
	struct sc_sp *sp;
	struct sc_sp_key *keys;
	size_t n_keys;
	STACK_OF(X509) *chain; /* device CA, manufacturer CA */
	X509 *kex;             /* the SP's key-exchange certificate */
	/* An operator-gated TPM SP (issue #12): the profile in flight came with this TPM
	 * authorization from the server, and goes to GATE_ISSUE with it. */
	int gated;
	uint8_t *gate_auth;
	size_t gate_auth_len;
	uint32_t refused_ku; /* the KU_* bits of the profile the SP last refused (0: unknown) */
	/* agentq16: a registration got no answer this round: ask the server nothing more in it
	 * (one connect timeout a round); a batch was too large: send one certificate a request. */
	int unanswered;
	int one_by_one;
	uint8_t *dropped_der; /* the renewal profile drop_renewal dropped this round (owned) */
	size_t dropped_len;
	/* agentweak17: a batch answered profile-unknown for the kept renewal profile's certificate
	 * (the server lost it): dropped, and a new profile is asked for in this round. */
	int renewal_lost;
	/* aw17mend: unregistered.pem was rotated in this flush (agent_unregistered_rotate). */
	int unregistered_rotated;
};

static void say(const struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct agent *a, const char *fmt, ...)
{
	char text[SC_LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sc_log("%s: %s", a->device_id[0] ? a->device_id : "?", text);
}

static sc_err save(struct agent *a, struct agent_state *st)
{
	return agent_state_save(a->state_path, st);
}

/* The SP's key with this handle, or NULL. */
static X509 *sp_key(const struct round *rd, uint32_t handle)
{
	for (size_t i = 0; i < rd->n_keys; i++)
		if (rd->keys[i].handle == handle)
			return rd->keys[i].cert;
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
		goto out;
	if (info.state != SC_SP_STATE_LOCKED || info.csk_cert == NULL || info.kek_cert == NULL) {
		r = sc_fail(SC_ERR_STATE, "the SP at %s is %s, not personalized and locked",
		    a->cfg->sp_path, sc_sp_state_name((int)info.state));
		goto out;
	}
	snprintf(a->device_id, sizeof(a->device_id), "%s", info.device_id);
	snprintf(path, sizeof(path), "%s/chain.pem", a->cfg->device_dir);
	if ((r = sc_load_certs(path, chain)) != SC_OK)
		goto out;
	if (sk_X509_num(*chain) > 4 || X509_cmp(sk_X509_value(*chain, 0), info.csk_cert) != 0) {
		r = sc_fail(SC_ERR_USAGE,
		    "%s does not begin with this SP's device CA certificate "
		    "(device %s)",
		    path, info.device_id);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/device-ca.pem", a->cfg->device_dir);
	if (access(path, F_OK) == 0) {
		if ((r = sc_load_cert(path, &x)) != SC_OK)
			goto out;
		if (X509_cmp(x, info.csk_cert) != 0) {
			r = sc_fail(SC_ERR_USAGE, "%s is not this SP's device CA certificate",
			    path);
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
			r = sc_fail(SC_ERR_USAGE, "%s is not this SP's key-exchange certificate",
			    path);
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

/*
 * b64der16 (issue 17, direction 4): a certificate as the agent sends it, the base64 of its DER
 * (docs/API.md "Binary values"; every provd since the first takes it wherever it takes PEM, and
 * reads it without its PEM machinery). NULL if memory is short.
 */
static json_t *der_json(X509 *x)
{
	uint8_t *der = NULL;
	char *b64 = NULL;
	json_t *j = NULL;
	int len = i2d_X509(x, &der);

	if (len > 0 && (b64 = sc_base64_encode(der, (size_t)len)) != NULL)
		j = json_string(b64);
	free(b64);
	OPENSSL_free(der);
	return j;
}

/* A chain as the agent sends it: a JSON array of der_json strings, in order. */
static json_t *chain_json(STACK_OF(X509) *sk)
{
	json_t *a = json_array();

	for (int i = 0; a != NULL && i < sk_X509_num(sk); i++)
		if (json_array_append_new(a, der_json(sk_X509_value(sk, i))) != 0) {
			json_decref(a);
			a = NULL;
		}
	return a;
}

/* agent.h (agentweak17: reached by unit/test_agent_state). */
static json_t *cert_text_json(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	char *name = NULL, *header = NULL, *b64 = NULL;
	unsigned char *data = NULL;
	long len = 0;
	json_t *j = NULL;

	if (b != NULL && PEM_read_bio(b, &name, &header, &data, &len) == 1 &&
	    strcmp(name, PEM_STRING_X509) == 0 && len > 0 && BIO_eof(b) &&
	    (b64 = sc_base64_encode(data, (size_t)len)) != NULL)
		j = json_string(b64);
	free(b64);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	ERR_clear_error();
	return j != NULL ? j : json_string(pem);
}

void *agent_cert_text_json(const char *pem)
{
	return cert_text_json(pem);
}

/*
 * leaf.pem and, beside it, chain.pem, fullchain.pem (leaf + chain: what nginx's ssl_certificate
 * wants) and key.uri (the PKCS#11 URI of the key, when known); each file atomically, leaf.pem
 * last so that a consumer watching it finds the others already matching.
 */
static sc_err write_leaf(struct agent *a, const char *cert_pem, uint32_t handle,
    STACK_OF(X509) *chain)
{
	X509 *certs[4];
	int n = sk_X509_num(chain);
	char *full = NULL, *chain_pem = NULL, uri[256];
	sc_err r;

	if (n < 1 || n > 4)
		return sc_fail(SC_ERR_USAGE, "the device chain has %d certificates", n);
	for (int i = 0; i < n; i++)
		certs[i] = sk_X509_value(chain, i);
	if ((r = sc_write_certs(a->chain_path, certs, (size_t)n)) != SC_OK)
		return r;
	if ((chain_pem = pem_of(chain, NULL)) == NULL ||
	    (full = malloc(strlen(cert_pem) + strlen(chain_pem) + 1)) == NULL) {
		free(chain_pem);
		return sc_fail(SC_ERR_NOMEM, "fullchain.pem");
	}
	strcpy(full, cert_pem);
	strcat(full, chain_pem);
	r = sc_file_write_atomic(a->fullchain_path, full, strlen(full), 0644);
	free(full);
	free(chain_pem);
	if (r != SC_OK)
		return r;
	agent_key_uri(a->device_id, handle, uri, sizeof(uri));
	strcat(uri, "\n");
	if ((r = sc_file_write_atomic(a->key_uri_path, uri, strlen(uri), 0644)) != SC_OK)
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
		return sc_fail(SC_ERR_PEER, "%s: the server answered %ld %s: %s", what, rep->status,
		    rep->error, rep->detail);
	return sc_fail(SC_ERR_DENIED, "%s: %s (HTTP %ld)", what, rep->detail, rep->status);
}

/* Remember a key to delete: after 0 at once, else not before that time and the hook's success. */
static void retire(struct agent *a, struct agent_state *st, uint32_t handle, int64_t after)
{
	for (size_t i = 0; i < st->n_retire; i++)
		if (st->retire[i] == handle)
			return;
	if (st->n_retire < AGENT_MAX_RETIRE) {
		st->retire_after[st->n_retire] = after;
		st->retire[st->n_retire++] = handle;
	} else
		say(a, "too many keys waiting for deletion; key %u stays in the SP", handle);
}

/*
 * When a grace period that starts now ends. The clock counts whole seconds and `now` may be in
 * its second's last millisecond, so a grace of G s ends at now + G + 1 (it lasts at least G s);
 * no grace ends now.
 */
static int64_t grace_end(const struct agent *a, time_t now)
{
	return (int64_t)now + a->cfg->grace_s + (a->cfg->grace_s > 0);
}

/*
 * Delete the retired keys that are due: those never in use at once, an old key once its grace
 * period is over and the hook succeeded for its successor (a consumer that has not reloaded
 * still signs with it). A key already gone is fine. *next is lowered to when the next one is due.
 */
static sc_err delete_retired(struct agent *a, struct sc_sp *sp, struct agent_state *st,
    time_t *next)
{
	int64_t now = (int64_t)time(NULL);
	size_t i = 0;
	sc_err r;

	while (i < st->n_retire) {
		uint32_t h = st->retire[i];
		int64_t after = st->retire_after[i];

		if (after != 0 && (st->hook_due || after > now)) {
			if (!st->hook_due && next != NULL && (time_t)after < *next)
				*next = (time_t)after;
			i++;
			continue;
		}
		r = sc_sp_delete(sp, h);
		if (r != SC_OK && r != SC_ERR_NO_KEY)
			return sc_fail(r, "deleting old key %u: %s", h, sc_err_detail());
		if (r == SC_OK)
			say(a, "old key %u deleted", h);
		memmove(&st->retire[i], &st->retire[i + 1],
		    (st->n_retire - i - 1) * sizeof(st->retire[0]));
		memmove(&st->retire_after[i], &st->retire_after[i + 1],
		    (st->n_retire - i - 1) * sizeof(st->retire_after[0]));
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
static sc_err acknowledged(struct agent *a, struct agent_state *st, STACK_OF(X509) *chain,
    const struct agent_reply *rep, int *did)
{
	time_t now = time(NULL);
	sc_err r;

	if ((r = FAILPOINT(AGENT_FP_AFTER_ACK_RECEIVED)) != SC_OK ||
	    (r = write_leaf(a, st->pending.cert_pem, st->pending.handle, chain)) != SC_OK ||
	    (r = FAILPOINT(AGENT_FP_AFTER_WRITE)) != SC_OK)
		return r;
	a->action = st->current.present ? "renewed" : "enrolled";
	/* The old key outlives its successor's arrival by the grace period, and the hook's success
	 * by as much (after_switch). */
	if (st->current.present)
		retire(a, st, st->current.handle, grace_end(a, now));
	st->hook_due = 1;
	agent_key_clear(&st->current);
	st->current = st->pending;
	st->current.written = 0;
	memset(&st->pending, 0, sizeof(st->pending));
	if ((r = save(a, st)) != SC_OK)
		return r;
	say(a,
	    "certificate %s %s by the server; key %u in use until %s, renewal due %lld s from now",
	    st->current.serial, rep->status == 201 ? "registered" : "was already registered",
	    st->current.handle, agent_cert_answer_not_after(rep->json),
	    (long long)(st->current.renew_at - (int64_t)now));
	*did = 1;
	return FAILPOINT(AGENT_FP_AFTER_SWITCH);
}

/* Refused for good: give up this key, show the acknowledged certificate again. */
static sc_err refused(struct agent *a, struct agent_state *st, STACK_OF(X509) *chain)
{
	say(a, "the server refused certificate %s: %s", st->pending.serial, sc_err_detail());
	retire(a, st, st->pending.handle, 0);
	/* Best effort: the refusal is what this round reports. */
	if (st->pending.written) {
		if (st->current.present)
			(void)write_leaf(a, st->current.cert_pem, st->current.handle, chain);
		else
			(void)unlink(a->leaf_path);
	}
	agent_key_clear(&st->pending);
	(void)save(a, st);
	return SC_ERR_DENIED;
}

/* No answer: keep it pending; put it in use now if nothing valid is. */
static void unanswered(struct agent *a, struct agent_state *st, STACK_OF(X509) *chain)
{
	if (st->pending.written ||
	    (st->current.present && st->current.not_after > (int64_t)time(NULL)))
		return;
	if (write_leaf(a, st->pending.cert_pem, st->pending.handle, chain) != SC_OK)
		return;
	st->pending.written = 1;
	(void)save(a, st);
	say(a, "server unreachable; certificate %s put in use before its acknowledgement",
	    st->pending.serial);
}

/*
 * The SP's device CA CRL (issue 14) as PEM for the server, which serves it to relying parties
 * that check a CRL at every level (GET /v1/crls). crl14: always the longest lifetime,
 * SC_CRL_MAX_LIFETIME (30 days), so that one CRL serves several registrations (ack_pending
 * sends none while the server's copy covers what it registers). Its lifetime cuts no device
 * off: it revokes nothing; a device that stops renewing is refused once its short leaf
 * expires, and provd drops a revoked device's CRL from GET /v1/crls at once. It must only not
 * lapse while a certificate of the device is in use (crl_cover, refresh_crl).
 * *next_update gets its nextUpdate. NULL when there is none to send — an SP older than
 * revision 1.3, a device CA certified without cRLSign, any failure: the certificate never
 * waits on it (said once per round).
 */
static char *device_crl(struct agent *a, struct sc_sp *sp, int64_t *next_update, sc_err *why)
{
	const uint32_t lifetime = SC_CRL_MAX_LIFETIME;
	uint8_t *der = NULL;
	size_t len = 0;
	BIO *mem = NULL;
	char *p = NULL, *pem = NULL;
	long n;
	sc_err r;

	*next_update = 0;
	*why = SC_ERR_IO;
	if (sp == NULL)
		return NULL;
	if ((r = sc_crl_device_fetch(sp, lifetime, &der, &len, next_update)) != SC_OK) {
		*why = r;
		say(a, "no device CA CRL for the server (%s: %s)%s", sc_err_name(r),
		    sc_err_detail(),
		    r == SC_ERR_UNKNOWN_REQUEST ? ": the SP is older than protocol 1.3" : "");
		sc_err_clear();
		*next_update = 0;
		return NULL;
	}
	if ((mem = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio(mem, "X509 CRL", "", der, (long)len) > 0 &&
	    (n = BIO_get_mem_data(mem, &p)) > 0 && (pem = malloc((size_t)n + 1)) != NULL) {
		memcpy(pem, p, (size_t)n);
		pem[n] = '\0';
	}
	BIO_free(mem);
	OPENSSL_free(der);
	if (pem == NULL) {
		*next_update = 0;
		*why = SC_ERR_NOMEM;
	} else {
		*why = SC_OK;
	}
	return pem;
}

/*
 * crl15: the SP will not make a CRL, as opposed to a trouble after which the next registration
 * asks it again. crl15b: an allow-list (agent.h): crl15's deny-list took a TPM's or a clock's
 * trouble (validity, stale: the SP's clock against the host's) for a refusal to the window's end.
 */
int agent_sp_refuses_crl(sc_err why)
{
	/*
	 * unknown-request: an SP before protocol 1.3; key-usage: a device CA certified without
	 * cRLSign (the SP's check or ours); extension: a device CA without subjectKeyIdentifier;
	 * gate: an operator-gated CSK signs no CRL; state: no device CA certificate.
	 */
	return why == SC_ERR_UNKNOWN_REQUEST || why == SC_ERR_KEY_USAGE ||
	    why == SC_ERR_EXTENSION || why == SC_ERR_GATE || why == SC_ERR_STATE;
}

int64_t agent_crl_refused_end(int for_good, int64_t cover, int64_t now)
{
	if (for_good || cover <= now + AGENT_CRL_RETRY)
		return cover;
	return now + AGENT_CRL_RETRY;
}

/*
 * agent14: what the device CA CRL sent with a certificate of profile `profile_id` must cover:
 * the certificate's own notAfter, or, when it belongs to the kept renewal profile (#17), the
 * window's last period's notAfter: the SP renews locally through it, and the server hears
 * from the agent again only at the window's end (the default --batch).
 */
static int64_t crl_cover(const struct agent_state *st, const char *profile_id, int64_t not_after)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	char id[2 * SC_PROFILE_ID_LEN + 1] = "";
	int64_t end;

	if (st->renewal_der == NULL ||
	    sc_profile_decode(st->renewal_der, st->renewal_len, &p) != SC_OK) {
		sc_err_clear();
		return not_after;
	}
	sc_profile_get_info(p, &info);
	sc_profile_free(p);
	sc_hex(info.id, SC_PROFILE_ID_LEN, id);
	if (info.renewal_count == 0 || strcmp(id, profile_id) != 0)
		return not_after;
	end = (int64_t)sc_profile_window_end(&info);
	return end > not_after ? end : not_after;
}

/* agent14: 1 if the server kept our CRL, or a newer one it had ("crl": "kept" or "older"). */
static int server_kept_crl(const struct agent_reply *rep)
{
	const char *v = json_string_value(json_object_get((json_t *)rep->json, "crl"));

	return v != NULL && (strcmp(v, "kept") == 0 || strcmp(v, "older") == 0);
}

/* crl15b: the nextUpdate of the CRL this request sent if the answer says it kept exactly it. */
static int64_t sent_and_kept(const struct agent_reply *rep, int sent, int64_t next_update)
{
	const char *v = json_string_value(json_object_get((json_t *)rep->json, "crl"));

	return sent && v != NULL && strcmp(v, "kept") == 0 ? next_update : 0;
}

int agent_cert_answer_crl(const void *json, int64_t *until)
{
	const json_t *u = json_object_get((const json_t *)json, "crl_until");
	const char *c = json_string_value(json_object_get((const json_t *)json, "crl"));
	time_t t = 0;

	*until = 0;
	if (u == NULL)
		return c != NULL && strcmp(c, "none") == 0;
	/* One RFC 3339 time, nothing after it (a NUL inside the string included). */
	if (!json_is_string(u) || json_string_length(u) > AGENT_TIME_TEXT_MAX ||
	    strlen(json_string_value(u)) != json_string_length(u) ||
	    sc_parse_time(json_string_value(u), &t) != SC_OK || t <= 0) {
		sc_err_clear();
		return 0;
	}
	*until = (int64_t)t;
	return 1;
}

int64_t agent_crl_heard_until(const void *json, int64_t had, int64_t sent_kept)
{
	int64_t until = 0;

	if (json == NULL || !agent_cert_answer_crl(json, &until))
		return had;
	if (sent_kept > 0 && until < sent_kept)
		return had; /* crl15b: "kept", yet below what was kept: not believed */
	return until;
}

/*
 * crl15: the server's word on its copy replaces what the agent remembered: a registry restored
 * from a backup older than the CRL says "none" (or an older nextUpdate), and the next
 * registration that it does not cover sends the CRL again. sent_kept: agent_crl_heard_until's.
 */
static void crl_heard(struct agent *a, struct agent_state *st, const json_t *answer,
    int64_t sent_kept)
{
	int64_t until = agent_crl_heard_until(answer, st->crl_until, sent_kept);

	if (until == st->crl_until)
		return;
	if (until < st->crl_until)
		say(a,
		    "the server keeps %s of the device CA CRL (the agent had one kept until %lld): "
		    "it is sent again when it does not cover",
		    until > 0 ? "an older copy" : "no copy", (long long)st->crl_until);
	st->crl_until = until;
}

/*
 * Non-zero if the server refused our "crl": CRL_REFUSED_FOR_GOOD when it predates CRLs
 * (unknown-field), CRL_REFUSED_FOR_NOW when it found fault with it (bad-value: possibly the
 * SP's clock against the server's, crl15b).
 */
enum { CRL_REFUSED_FOR_NOW = 1, CRL_REFUSED_FOR_GOOD = 2 };
static int server_refused_crl(const struct agent_reply *rep)
{
	if (rep->status != 400)
		return 0;
	if (strcmp(rep->error, "unknown-field") == 0 && strstr(rep->detail, "\"crl\"") != NULL)
		return CRL_REFUSED_FOR_GOOD;
	if (strcmp(rep->error, "bad-value") == 0 &&
	    (strncmp(rep->detail, "crl:", 4) == 0 || strstr(rep->detail, "\"crl\"") != NULL))
		return CRL_REFUSED_FOR_NOW;
	return 0;
}

/*
 * #17 (dur11): the pending key's profile and the device chain into the registration's body
 * ("profile", "chain": docs/API.md "Session 11 (dur11)"), when the state keeps the profile and
 * it is the pending certificate's (*added 1). SC_ERR_NOMEM only.
 */
static sc_err carry_profile(const struct agent_state *st, STACK_OF(X509) *chain, json_t *body,
    int *added)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	char id[2 * SC_PROFILE_ID_LEN + 1] = "", *b64 = NULL;
	json_t *list = NULL;
	sc_err r = SC_OK;

	*added = 0;
	if (st->pending_profile == NULL || chain == NULL || sk_X509_num(chain) < 1)
		return SC_OK;
	if (sc_profile_decode(st->pending_profile, st->pending_profile_len, &p) != SC_OK) {
		sc_err_clear();
		return SC_OK;
	}
	sc_profile_get_info(p, &info);
	sc_hex(info.id, SC_PROFILE_ID_LEN, id);
	sc_profile_free(p);
	if (strcmp(id, st->pending.profile_id) != 0)
		return SC_OK;
	/* b64der16: the chain as the profile request sent it, base64 DER strings. */
	if ((list = chain_json(chain)) == NULL ||
	    (b64 = sc_base64_encode(st->pending_profile, st->pending_profile_len)) == NULL) {
		r = SC_ERR_NOMEM;
		goto out;
	}
	if (json_object_set_new(body, "profile", json_string(b64)) != 0 ||
	    json_object_set_new(body, "chain", list) != 0)
		r = SC_ERR_NOMEM;
	else
		*added = 1;
	list = NULL;
out:
	free(b64);
	json_decref(list);
	return r;
}

/* 1 if the registry has no row for the certificate's profile (a deferred commit lost). */
static int server_lost_profile(const struct agent_reply *rep)
{
	return rep->status == 422 && strcmp(rep->error, "profile-unknown") == 0;
}

/* 1 if the server predates the carried profile (issue 17, dur11): unknown-field for either. */
static int server_refused_carry(const struct agent_reply *rep)
{
	return rep->status == 400 && strcmp(rep->error, "unknown-field") == 0 &&
	    (strstr(rep->detail, "\"profile\"") != NULL ||
	        strstr(rep->detail, "\"chain\"") != NULL);
}

/*
 * The pending certificate registered: {certificate, crl}, without the CRL again if the server
 * will not take it (issue 14). #17 (dur11 review): only when the server answers
 * profile-unknown (its registry lost the profile: a power loss under --profile-commit
 * deferred) is it sent once more with the profile and chain carried, so that an ordinary
 * registration carries nothing and a server older than them never sees the fields; a server
 * that does not know them (unknown-field) leaves the first answer standing.
 */
static sc_err ack_pending(struct agent *a, struct agent_state *st, STACK_OF(X509) *chain,
    struct sc_sp *sp, int *did)
{
	struct agent_reply rep, again;
	json_t *body;
	int64_t crl_until = 0, cover = crl_cover(st, st->pending.profile_id, st->pending.not_after);
	/* crl14: none while the server's copy covers this certificate (or window) with margin;
	 * crl15: nor while a refusal lasts. */
	int want_crl = st->crl_refused_until <= (int64_t)time(NULL) &&
	    !(st->crl_until > 0 && cover + AGENT_CRL_MARGIN <= st->crl_until);
	sc_err why = SC_OK;
	char *crl = want_crl ? device_crl(a, sp, &crl_until, &why) : NULL;
	int added = 0, crl_made = crl != NULL, crl_sent = crl_made, refusal = 0;
	sc_err r, r2;

	memset(&rep, 0, sizeof(rep));
	if ((body = json_pack("{s:o, s:s*}", "certificate", cert_text_json(st->pending.cert_pem),
	         "crl", crl)) == NULL) {
		free(crl);
		return sc_fail(SC_ERR_NOMEM, "request");
	}
	r = agent_http_post(a->http, "/v1/certificates", body, &rep);
	/* An older server, or a CRL it will not keep: the certificate goes on without it. */
	if (r == SC_OK && crl != NULL && (refusal = server_refused_crl(&rep)) != 0) {
		say(a,
		    "the server did not take the device CA CRL (%s: %s); sending the certificate "
		    "without it",
		    rep.error, rep.detail);
		json_object_del(body, "crl");
		crl_sent = 0;
		agent_reply_clear(&rep);
		memset(&rep, 0, sizeof(rep));
		r = agent_http_post(a->http, "/v1/certificates", body, &rep);
	}
	if (r == SC_OK && server_lost_profile(&rep)) {
		if (carry_profile(st, chain, body, &added) != SC_OK) {
			json_decref(body);
			free(crl);
			agent_reply_clear(&rep);
			return sc_fail(SC_ERR_NOMEM, "request");
		}
		if (added) {
			say(a,
			    "the server has no record of profile %s; sending it with the certificate",
			    st->pending.profile_id);
			memset(&again, 0, sizeof(again));
			r2 = agent_http_post(a->http, "/v1/certificates", body, &again);
			if (r2 == SC_OK && server_refused_carry(&again)) {
				/* An older server: its first answer stands. */
				agent_reply_clear(&again);
			} else {
				agent_reply_clear(&rep);
				rep = again;
				r = r2;
			}
		}
	}
	json_decref(body);
	free(crl);
	/*
	 * agent14, crl14: what the server's copy covers, for the next registrations and
	 * renew_local (saved by acknowledged). crl15: a CRL refused (by the server: unknown-field,
	 * bad-value, "not-kept"; or by the SP) is not offered again before the end of what this
	 * registration covers; an SP's trouble leaves it to the next registration. crl15b: only a
	 * refusal for good (unknown-field, the SP's) waits that long; the others a day at most
	 * (agent_crl_refused_end). Then what the server says it keeps, if it says.
	 */
	if (r == SC_OK && (rep.status == 200 || rep.status == 201)) {
		if (want_crl && crl_sent && server_kept_crl(&rep)) {
			st->crl_until = crl_until;
			st->crl_refused_until = 0;
		} else if (want_crl && (crl_made || agent_sp_refuses_crl(why))) {
			st->crl_until = 0;
			st->crl_refused_until =
			    agent_crl_refused_end(crl_made ? refusal == CRL_REFUSED_FOR_GOOD : 1,
			        cover, (int64_t)time(NULL));
			say(a, "the device CA CRL is not offered again before %lld",
			    (long long)st->crl_refused_until);
		}
		crl_heard(a, st, rep.json, sent_and_kept(&rep, want_crl && crl_sent, crl_until));
		r = acknowledged(a, st, chain, &rep, did);
	} else if (r == SC_OK &&
	    (r = server_said_no(a, &rep, "returning the certificate")) == SC_ERR_DENIED)
		r = refused(a, st, chain);
	else
		unanswered(a, st, chain);
	agent_reply_clear(&rep);
	return r;
}

/* ack_pending, and on a refusal for good the refused key deleted at once (the error kept). */
static sc_err settle(struct agent *a, struct round *rd, int *did)
{
	char detail[256];
	sc_err r = ack_pending(a, &rd->st, rd->chain, rd->sp, did);

	if (r == SC_ERR_DENIED) {
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
		(void)delete_retired(a, rd->sp, &rd->st, NULL);
		r = sc_fail(r, "%s", detail);
	}
	return r;
}

sc_err agent_profile_answer(const void *json, const char *device_id, uint8_t **der, size_t *der_len,
    char id[2 * SC_PROFILE_ID_LEN + 1])
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	json_t *v = json_object_get((const json_t *)json, "profile");
	sc_err r;

	*der = NULL;
	*der_len = 0;
	if (!json_is_string(v))
		return sc_fail(SC_ERR_PEER, "the server's answer has no \"profile\"");
	if ((r = sc_base64_decode(json_string_value(v), json_string_length(v), PROFILE_B64_MAX, der,
	         der_len)) != SC_OK) {
		r = sc_fail(r == SC_ERR_NOMEM ? r : SC_ERR_PEER, "the server's profile: %s",
		    sc_err_detail());
		goto out;
	}
	/* Our own look at it: a profile we can decode, whose ID we will remember (#17: or a
	 * batch leaf, which only an SP with BATCH_ISSUE is sent). */
	if ((r = sc_profile_decode(*der, *der_len, &p)) != SC_OK &&
	    (r = sc_batch_decode(*der, *der_len, &p)) != SC_OK) {
		r = sc_fail(SC_ERR_PEER, "the server's profile does not decode: %s",
		    sc_err_detail());
		goto out;
	}
	sc_profile_get_info(p, &info);
	if (strcmp(info.device_id, device_id) != 0) {
		r = sc_fail(SC_ERR_PEER, "the server sent a profile for device %s", info.device_id);
		goto out;
	}
	sc_hex(info.id, SC_PROFILE_ID_LEN, id);
	r = SC_OK;
out:
	if (r != SC_OK) {
		OPENSSL_free(*der);
		*der = NULL;
		*der_len = 0;
	}
	sc_profile_free(p);
	return r;
}

const char *agent_cert_answer_not_after(const void *json)
{
	const char *s = json_string_value(json_object_get((const json_t *)json, "not_after"));

	return s != NULL ? s : "?";
}

/*
 * The network the proof names: the SP's only one, or (an SP of several networks) the one the
 * server says it serves at /healthz. out has room for SC_NETWORK_ID_MAX + 1.
 */
static sc_err proof_network(struct agent *a, struct round *rd, char *out)
{
	struct sc_sp_info info;
	struct agent_reply rep;
	const char *s;
	sc_err r;

	memset(&info, 0, sizeof(info));
	memset(&rep, 0, sizeof(rep));
	if ((r = sc_sp_info(rd->sp, &info)) != SC_OK)
		goto out;
	if (info.n_networks == 1) {
		snprintf(out, SC_NETWORK_ID_MAX + 1, "%s", info.networks[0]);
		r = SC_OK;
		goto out;
	}
	if ((r = agent_http_post(a->http, "/healthz", NULL, &rep)) != SC_OK)
		goto out;
	s = json_string_value(json_object_get((json_t *)rep.json, "network_id"));
	if (rep.status != 200 || s == NULL || strlen(s) > SC_NETWORK_ID_MAX) {
		r = sc_fail(SC_ERR_PEER, "/healthz: no network_id (HTTP %ld)", rep.status);
		goto out;
	}
	snprintf(out, SC_NETWORK_ID_MAX + 1, "%s", s);
	r = SC_OK;
out:
	agent_reply_clear(&rep);
	sc_sp_info_clear(&info);
	return r;
}

/*
 * The SP's proof that this request is its own (docs/API.md "proof"), as the request's "proof"
 * object; *out NULL (and SC_OK) when the SP predates request proofs (protocol 1.1): the server
 * then serves the request from its small unauthenticated budget.
 */
static sc_err make_proof(struct agent *a, struct round *rd, const uint8_t *challenge, json_t **out)
{
	char net[SC_NETWORK_ID_MAX + 1], ch_hex[2 * SC_SP_CHALLENGE_LEN + 1];
	char dg_hex[2 * SC_PROOF_DIGEST_LEN + 1], *sig_b64 = NULL;
	uint8_t digest[SC_PROOF_DIGEST_LEN], *sig = NULL;
	size_t sig_len = 0;
	uint64_t t = 0;
	sc_err r;

	*out = NULL;
	if ((r = proof_network(a, rd, net)) != SC_OK ||
	    (r = sc_proof_request_digest(rd->chain, rd->kex,
	         a->cfg->alg != SC_ALG_NONE ? sc_alg_name(a->cfg->alg) : NULL,
	         a->cfg->server_keygen, digest)) != SC_OK)
		goto out;
	if ((r = sc_sp_proof(rd->sp, challenge, net, digest, &t, &sig, &sig_len)) ==
	    SC_ERR_UNKNOWN_REQUEST) {
		say(a,
		    "the SP has no request proofs (older than protocol 1.1); asking without one");
		sc_err_clear();
		r = SC_OK;
		goto out;
	}
	/* A gated CSK signs only operator-authorized certificates, never a proof (docs/TPM.md). */
	if (r == SC_ERR_GATE || rd->gated) {
		sc_err_clear();
		r = SC_OK;
		goto out;
	}
	if (r != SC_OK)
		goto out;
	sc_hex(challenge, SC_SP_CHALLENGE_LEN, ch_hex);
	sc_hex(digest, sizeof(digest), dg_hex);
	if ((sig_b64 = sc_base64_encode(sig, sig_len)) == NULL ||
	    (*out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "device_id", a->device_id,
	         "network_id", net, "challenge", ch_hex, "request", dg_hex, "time", (json_int_t)t,
	         "signature", sig_b64)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "request proof");
		goto out;
	}
	r = SC_OK;
out:
	free(sig_b64);
	OPENSSL_free(sig);
	return r;
}

/* The request's "gate" object: what the gated SP reported with its challenge (docs/API.md). */
static sc_err gate_field(json_t *body, const struct sc_gate_challenge *gc)
{
	char name[2 * SC_GATE_NAME_MAX + 1], *pem = NULL;
	BIO *m = NULL;
	json_t *g;
	long n;
	sc_err r = SC_ERR_NOMEM;

	sc_hex(gc->csk_name, gc->csk_name_len, name);
	if ((g = json_pack("{s:I, s:s}", "counter", (json_int_t)gc->counter, "csk_name", name)) ==
	    NULL)
		goto out;
	if (gc->leaf_pub != NULL &&
	    ((m = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(m, gc->leaf_pub) != 1 ||
	        (n = BIO_get_mem_data(m, &pem)) <= 0 ||
	        json_object_set_new(g, "leaf_public_key", json_stringn(pem, (size_t)n)) != 0))
		goto out;
	if (json_object_set(body, "gate", g) != 0)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK)
		r = sc_fail(r, "request: gate");
	json_decref(g);
	BIO_free(m);
	return r;
}

/* The answer's "authorization" (base64, 1..SC_GATE_AUTH_MAX bytes) into rd. */
static sc_err gate_answer(const json_t *json, struct round *rd)
{
	const char *s = json_string_value(json_object_get(json, "authorization"));
	uint8_t *b = NULL;
	size_t n = 0;

	if (s == NULL)
		return sc_fail(SC_ERR_PEER,
		    "the server's profile answer has no \"authorization\" "
		    "for this operator-gated SP");
	if (sc_base64_decode(s, strlen(s), 4 * ((SC_GATE_AUTH_MAX + 2) / 3), &b, &n) != SC_OK ||
	    n == 0 || n > SC_GATE_AUTH_MAX) {
		OPENSSL_free(b);
		return sc_fail(SC_ERR_PEER,
		    "the server's \"authorization\" is not 1..%d bytes of "
		    "base64",
		    SC_GATE_AUTH_MAX);
	}
	OPENSSL_free(rd->gate_auth);
	rd->gate_auth = b;
	rd->gate_auth_len = n;
	return SC_OK;
}

/*
 * #17 (fix17): the optional fields of a profile request an older server may not know, each
 * dropped when its 400 unknown-field names it: "renewal" and "batch" (revision 1.5 SP, #17),
 * "proof" (request proofs). A pre-#17 server names the first unknown field of the body, so
 * "renewal" first. The field named, if the body still carries it; else NULL.
 */
static const struct {
	const char *field, *said;
} optional_fields[] = {
	{ "renewal", "the server does not know renewal profiles; asking without" },
	{ "batch", "the server does not know batch profiles; asking without" },
	{ "proof", "the server does not take request proofs; asking without one" },
};
#define N_OPTIONAL_FIELDS (sizeof(optional_fields) / sizeof(optional_fields[0]))

static size_t server_lacks(const struct agent_reply *rep, const json_t *body)
{
	char quoted[32];

	if (rep->status != 400 || strcmp(rep->error, "unknown-field") != 0)
		return N_OPTIONAL_FIELDS;
	for (size_t i = 0; i < N_OPTIONAL_FIELDS; i++) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", optional_fields[i].field);
		if (strstr(rep->detail, quoted) != NULL &&
		    json_object_get(body, optional_fields[i].field) != NULL)
			return i;
	}
	return N_OPTIONAL_FIELDS;
}

/*
 * Ask the server for a profile for this challenge, with the SP's proof when there is one (and
 * again without it if the server predates proofs). *der, *id are the caller's.
 */
static sc_err request_profile(struct agent *a, struct round *rd, const uint8_t *challenge,
    const struct sc_gate_challenge *gc, uint8_t **der, size_t *der_len,
    char id[2 * SC_PROFILE_ID_LEN + 1])
{
	char ch_hex[2 * SC_SP_CHALLENGE_LEN + 1];
	struct agent_reply rep;
	json_t *body = NULL, *proof = NULL;
	sc_err r;

	*der = NULL;
	memset(&rep, 0, sizeof(rep));
	if ((r = make_proof(a, rd, challenge, &proof)) != SC_OK)
		goto out;
	sc_hex(challenge, SC_SP_CHALLENGE_LEN, ch_hex);
	/* b64der16: base64 DER, the chain an array (docs/API.md: every provd takes them). */
	if ((body = json_pack("{s:o, s:o, s:s}", "chain", chain_json(rd->chain), "kex",
	         der_json(rd->kex), "challenge", ch_hex)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "request");
		goto out;
	}
	if (a->cfg->alg != SC_ALG_NONE)
		json_object_set_new(body, "alg", json_string(sc_alg_name(a->cfg->alg)));
	if (gc != NULL && (r = gate_field(body, gc)) != SC_OK)
		goto out;
	if (a->cfg->server_keygen)
		json_object_set_new(body, "server_keygen", json_true());
	/* #17: our SP renews locally; a server with a renewal policy then sends a renewal profile.
	 * Not on a gated SP: each of its certificates needs the operator's own authorization. */
	else if (a->sp_renews > 0 && gc == NULL) {
		json_object_set_new(body, "renewal", json_true());
		/* Its BATCH_ISSUE too (same revision): a server that batches may send a leaf. */
		json_object_set_new(body, "batch", json_true());
	}
	if (proof != NULL && json_object_set(body, "proof", proof) != 0) {
		r = sc_fail(SC_ERR_NOMEM, "request");
		goto out;
	}
	if ((r = agent_http_post(a->http, "/v1/profiles", body, &rep)) != SC_OK)
		goto out;
	/* fix17: each optional field at most once, so at most N_OPTIONAL_FIELDS requests more. */
	for (size_t tries = 0, f;
	     tries < N_OPTIONAL_FIELDS && (f = server_lacks(&rep, body)) < N_OPTIONAL_FIELDS;
	     tries++) {
		say(a, "%s", optional_fields[f].said);
		agent_reply_clear(&rep);
		json_object_del(body, optional_fields[f].field);
		if ((r = agent_http_post(a->http, "/v1/profiles", body, &rep)) != SC_OK)
			goto out;
	}
	if (gc != NULL && rep.status == 400 && strcmp(rep.error, "unknown-field") == 0 &&
	    strstr(rep.detail, "\"gate\"") != NULL) {
		r = sc_fail(SC_ERR_GATE,
		    "the SP is operator-gated but the server does not authorize "
		    "gated issuance (a server older than issue #12)");
		goto out;
	}
	if (rep.status != 201) {
		r = server_said_no(a, &rep, "asking for a profile");
		goto out;
	}
	if ((r = agent_profile_answer(rep.json, a->device_id, der, der_len, id)) != SC_OK)
		goto out;
	if (gc != NULL && (r = gate_answer(rep.json, rd)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	agent_reply_clear(&rep);
	json_decref(body);
	json_decref(proof);
	return r;
}

/* ---- the round's phases ---- */

/*
 * #17: does the SP have RENEW (revision 1.5)? An empty RENEW is malformed to one that has it and
 * unknown-request to one that has not; it changes nothing either way.
 */
static void probe_renew(struct agent *a, struct round *rd)
{
	uint32_t h = 0;
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r = sc_sp_renew_der(rd->sp, (const uint8_t *)"", 0, &h, &der, &len);

	OPENSSL_free(der);
	a->sp_renews = r != SC_ERR_UNKNOWN_REQUEST && r != SC_ERR_IO && r != SC_ERR_PEER;
	sc_err_clear();
}

/*
 * crl14: the server's device CA CRL (crl_until) holds only for the device CA and the server it
 * was sent to: the SHA-256 (its first 16 bytes) of the device CA certificate's DER, a zero byte
 * and the server URL.
 * Another one (a re-provisioned SP, --server changed, an agent14 state): crl_until 0, so the
 * next registration sends a CRL. Nothing computable (no chain): kept as it is.
 */
static void crl_holder(const struct agent *a, struct round *rd)
{
	uint8_t md[SHA256_DIGEST_LENGTH], *der = NULL;
	char hex[2 * SC_PROFILE_ID_LEN + 1];
	EVP_MD_CTX *ctx = NULL;
	int n;

	if (rd->chain == NULL || sk_X509_num(rd->chain) < 1 ||
	    (n = i2d_X509(sk_X509_value(rd->chain, 0), &der)) <= 0)
		return;
	if ((ctx = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, der, (size_t)n) == 1 && EVP_DigestUpdate(ctx, "", 1) == 1 &&
	    EVP_DigestUpdate(ctx, a->cfg->server, strlen(a->cfg->server)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, NULL) == 1) {
		sc_hex(md, SC_PROFILE_ID_LEN, hex); /* 128 bits are plenty to tell two apart */
		if (strcmp(hex, rd->st.crl_for) != 0) {
			rd->st.crl_until = 0;
			rd->st.crl_refused_until = 0;
			snprintf(rd->st.crl_for, sizeof(rd->st.crl_for), "%s", hex);
		}
	}
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	/* crl15: a refusal that has ended is forgotten (and no longer saved). */
	if (rd->st.crl_refused_until > 0 && rd->st.crl_refused_until <= (int64_t)time(NULL))
		rd->st.crl_refused_until = 0;
}

/* State, SP connection, device certificates, the SP's keys. */
static sc_err round_open(struct agent *a, struct round *rd)
{
	sc_err r;

	if ((r = agent_state_load(a->state_path, &rd->st)) != SC_OK)
		return r;
	if ((r = sc_sp_connect(a->cfg->sp_path, &rd->sp)) == SC_OK)
		r = load_device(a, rd->sp, &rd->chain, &rd->kex);
	/* Said once the device ID is known (agentweak17), and whatever the SP answered. */
	if (rd->st.warning[0] != '\0')
		say(a, "%s", rd->st.warning);
	if (rd->st.salvage[0] != '\0')
		say(a, "%s", rd->st.salvage);
	if (r != SC_OK || (r = sc_sp_keys(rd->sp, &rd->keys, &rd->n_keys)) != SC_OK)
		return r;
	crl_holder(a, rd);
	if (a->sp_renews < 0)
		probe_renew(a, rd);
	return SC_OK;
}

static void round_close(struct round *rd)
{
	OPENSSL_free(rd->dropped_der);
	OPENSSL_free(rd->gate_auth);
	X509_free(rd->kex);
	sk_X509_pop_free(rd->chain, X509_free);
	sc_sp_keys_free(rd->keys, rd->n_keys);
	sc_sp_close(rd->sp);
	agent_state_clear(&rd->st);
	memset(rd, 0, sizeof(*rd));
}

/* 1 if the state already holds this key: in use, or waiting for deletion. */
static int known_handle(const struct agent_state *st, uint32_t h)
{
	if (st->current.present && st->current.handle == h)
		return 1;
	for (size_t i = 0; i < st->n_retire; i++)
		if (st->retire[i] == h)
			return 1;
	return 0;
}

/* Adopt the SP key issued for the profile in flight, if there is one and nothing is pending. */
static sc_err adopt_inflight(struct round *rd)
{
	struct sc_issuance iss;
	char id[2 * SC_PROFILE_ID_LEN + 1];
	sc_err r;

	for (size_t i = 0; i < rd->n_keys && !rd->st.pending.present; i++) {
		/* A renewal profile's keys (#17) share its ID: only a key we do not know is new. */
		if (known_handle(&rd->st, rd->keys[i].handle) ||
		    sc_issuance_get(rd->keys[i].cert, &iss) != SC_OK)
			continue;
		sc_hex(iss.profile_id, SC_PROFILE_ID_LEN, id);
		if (strcmp(id, rd->st.inflight_id) == 0 &&
		    (r = agent_key_from_cert(&rd->st.pending, rd->keys[i].handle,
		         rd->keys[i].cert)) != SC_OK)
			return r;
	}
	return SC_OK;
}

/* Resume: a profile in flight either became an SP key (adopt it) or did not (forget it). */
static sc_err resume(struct agent *a, struct round *rd)
{
	int had_pending = rd->st.pending.present;
	sc_err r;

	if (!rd->st.has_inflight)
		return SC_OK;
	if ((r = adopt_inflight(rd)) != SC_OK)
		return r;
	if (rd->st.pending.present && !had_pending)
		say(a, "resuming: the SP had issued key %u for profile %s", rd->st.pending.handle,
		    rd->st.inflight_id);
	if (!rd->st.pending.present)
		say(a, "resuming: profile %s was never issued; starting over", rd->st.inflight_id);
	rd->st.has_inflight = 0;
	return save(a, &rd->st);
}

/*
 * Settle what earlier rounds left: a pending key the SP lost is forgotten, one it has is
 * returned to the server, retired keys are deleted, and a key in use that the SP lost is
 * forgotten (so the round enrolls again).
 */
static sc_err settle_leftovers(struct agent *a, struct round *rd, int *did)
{
	sc_err r;

	if (rd->st.pending.present && sp_key(rd, rd->st.pending.handle) == NULL) {
		say(a, "pending key %u is no longer in the SP; forgetting it",
		    rd->st.pending.handle);
		agent_key_clear(&rd->st.pending);
		if ((r = save(a, &rd->st)) != SC_OK)
			return r;
	}
	if (rd->st.pending.present && (r = settle(a, rd, did)) != SC_OK)
		return r;
	if ((r = delete_retired(a, rd->sp, &rd->st, NULL)) != SC_OK)
		return r;
	if (rd->st.current.present && sp_key(rd, rd->st.current.handle) == NULL) {
		say(a, "key %u in use is no longer in the SP; enrolling again",
		    rd->st.current.handle);
		agent_key_clear(&rd->st.current);
		if ((r = save(a, &rd->st)) != SC_OK)
			return r;
	}
	return SC_OK;
}

/* A fresh challenge from the SP, a profile for it from the server, remembered as in flight. */
static sc_err fetch_profile(struct agent *a, struct round *rd, uint8_t **der, size_t *der_len)
{
	uint8_t challenge[SC_SP_CHALLENGE_LEN];
	struct sc_gate_challenge gc;
	enum sc_alg galg = a->cfg->server_keygen ? SC_ALG_NONE
	    : a->cfg->alg != SC_ALG_NONE         ? a->cfg->alg
	                                         : SC_ALG_P256;
	sc_err r;

	say(a, "%s", rd->st.current.present ? "renewing" : "enrolling");
	/*
	 * An operator-gated TPM SP answers GATE_CHALLENGE (revision 1.4); any other SP says `gate`
	 * or `unknown-request`, and the round goes on as before. The pending key is a signing key
	 * (digitalSignature): the server's profile must ask for those uses (docs/TPM.md).
	 */
	memset(&gc, 0, sizeof(gc));
	r = sc_sp_gate_challenge(rd->sp, galg,
	    galg == SC_ALG_NONE   ? 0
	        : a->gate_ku != 0 ? a->gate_ku
	                          : KU_DIGITAL_SIGNATURE,
	    &gc);
	if (r == SC_ERR_GATE || r == SC_ERR_UNKNOWN_REQUEST) {
		sc_err_clear();
		rd->gated = 0;
		r = sc_sp_challenge(rd->sp, challenge);
	} else if (r == SC_OK) {
		rd->gated = 1;
		memcpy(challenge, gc.nonce, sizeof(challenge));
	}
	if (r == SC_OK && rd->gated && a->cfg->alg == SC_ALG_NONE && !a->cfg->server_keygen)
		say(a, "the SP is operator-gated; its pending key is %s", sc_alg_name(galg));
	if (r != SC_OK || (r = FAILPOINT(AGENT_FP_AFTER_CHALLENGE)) != SC_OK ||
	    (r = request_profile(a, rd, challenge, rd->gated ? &gc : NULL, der, der_len,
	         rd->st.inflight_id)) != SC_OK) {
		EVP_PKEY_free(gc.leaf_pub);
		return r;
	}
	EVP_PKEY_free(gc.leaf_pub);
	rd->st.has_inflight = 1;
	if ((r = save(a, &rd->st)) != SC_OK)
		return r;
	return FAILPOINT(AGENT_FP_AFTER_PROFILE);
}

/* A profile's KU_* bits (what the certificate will allow), 0 if it does not decode. */
static uint32_t profile_ku(const uint8_t *der, size_t len)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	uint32_t ku = 0;

	if (der != NULL && sc_profile_decode(der, len, &p) == SC_OK) {
		sc_profile_get_info(p, &info);
		ku = info.key_usage;
	} else {
		sc_err_clear();
	}
	sc_profile_free(p);
	return ku;
}

/* The uses to make the next pending key for: the refused profile's, if they differ. */
static sc_err gate_learn_ku(struct agent *a, struct round *rd)
{
	uint32_t now = a->gate_ku != 0 ? a->gate_ku : KU_DIGITAL_SIGNATURE;

	if (rd->refused_ku == 0 || rd->refused_ku == now)
		return SC_ERR_KEY_MISMATCH;
	a->gate_ku = rd->refused_ku;
	sc_err_clear();
	return SC_OK;
}

/* #17: a renewal profile's cadence (0: an ordinary profile, or one that does not decode). */
static uint32_t renewal_cadence(const uint8_t *der, size_t len)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;

	if (sc_profile_decode(der, len, &p) != SC_OK) {
		sc_err_clear();
		return 0;
	}
	sc_profile_get_info(p, &info);
	sc_profile_free(p);
	return info.renewal_count > 0 ? info.renewal_cadence : 0;
}

/* #17: 1 if der is a batch leaf (a BatchedProfile): it goes to the SP's BATCH_ISSUE. */
static int batch_leaf(const uint8_t *der, size_t len)
{
	struct sc_profile *p = NULL;
	int yes = sc_batch_decode(der, len, &p) == SC_OK;

	sc_profile_free(p);
	sc_err_clear();
	return yes;
}

/*
 * #17: a certificate of a renewal profile is due for its successor when the next period begins
 * (the SP makes the next one at most a cadence early, and one made then is valid at once), plus
 * a little jitter so a fleet renewing together does not come back together.
 */
static void renewal_due(struct agent_key *k, uint32_t cadence)
{
	uint8_t j = 0;

	if (cadence == 0)
		return;
	if (RAND_bytes(&j, 1) != 1)
		j = 0;
	k->renew_at = k->not_before + (int64_t)cadence + (int64_t)cadence * j / 256 / 20;
	if (k->renew_at >= k->not_after)
		k->renew_at = k->not_after - 1;
}

static sc_err keep_renewal(struct round *rd, const uint8_t *der, size_t len)
{
	uint8_t *copy = OPENSSL_memdup(der, len);

	if (copy == NULL)
		return sc_fail(SC_ERR_NOMEM, "renewal profile");
	/* crl15: a refused CRL is not offered again within its window; a new window offers it. */
	if (rd->st.renewal_der == NULL || rd->st.renewal_len != len ||
	    memcmp(rd->st.renewal_der, der, len) != 0)
		rd->st.crl_refused_until = 0;
	OPENSSL_free(rd->st.renewal_der);
	rd->st.renewal_der = copy;
	rd->st.renewal_len = len;
	return SC_OK; /* crl14: crl_until stays; ack_pending sends a CRL if it does not cover */
}

static void drop_renewal(struct round *rd)
{
	if (rd->st.renewal_der == NULL)
		return; /* agentweak17: nothing kept (the one dropped this round stays named) */
	/* agentq16: kept for the round, so that a queued certificate set aside after it is named
	 * by its period (set_aside). */
	OPENSSL_free(rd->dropped_der);
	rd->dropped_der = rd->st.renewal_der;
	rd->dropped_len = rd->st.renewal_len;
	rd->st.renewal_der = NULL;
	rd->st.renewal_len = 0;
}

/* The SP issued: the new key is pending. */
static sc_err issued(struct agent *a, struct round *rd, uint32_t handle, X509 *cert,
    uint32_t cadence)
{
	sc_err r;

	if ((r = FAILPOINT(AGENT_FP_AFTER_ISSUE)) != SC_OK ||
	    (r = agent_key_from_cert(&rd->st.pending, handle, cert)) != SC_OK)
		return r;
	renewal_due(&rd->st.pending, cadence);
	rd->st.has_inflight = 0;
	if ((r = save(a, &rd->st)) != SC_OK)
		return r;
	say(a, "the SP issued key %u (certificate %s) for profile %s", handle,
	    rd->st.pending.serial, rd->st.inflight_id);
	return FAILPOINT(AGENT_FP_AFTER_PENDING);
}

/* The SP connection broke during ISSUE: reconnect and adopt the key if it was issued. */
static sc_err reconnect(struct agent *a, struct round *rd)
{
	sc_err r;

	say(a, "the SP connection broke (%s); reconnecting", sc_err_detail());
	sc_sp_close(rd->sp);
	rd->sp = NULL;
	sc_sp_keys_free(rd->keys, rd->n_keys);
	rd->keys = NULL;
	rd->n_keys = 0;
	if ((r = sc_sp_connect(a->cfg->sp_path, &rd->sp)) != SC_OK ||
	    (r = sc_sp_keys(rd->sp, &rd->keys, &rd->n_keys)) != SC_OK ||
	    (r = adopt_inflight(rd)) != SC_OK)
		return r;
	if (!rd->st.pending.present)
		return SC_OK;
	rd->st.has_inflight = 0;
	if ((r = save(a, &rd->st)) != SC_OK)
		return r;
	say(a, "the SP had issued key %u before the connection broke", rd->st.pending.handle);
	return SC_OK;
}

/*
 * Enroll (or renew): on success a new key is pending. If the SP restarts under us, reconnect: a
 * key it issued for our profile is adopted; otherwise the same profile is tried again, and a
 * restarted SP, which forgot its challenges, says so: then start again with a new challenge.
 */
static sc_err enroll(struct agent *a, struct round *rd)
{
	uint8_t *der = NULL;
	size_t der_len = 0;
	X509 *cert = NULL;
	uint32_t handle, cadence;
	char why[SC_LOG_LINE_MAX];
	sc_err r;

	rd->renewal_lost = 0; /* agentweak17: a new profile is being asked for */
	for (int attempt = 0;; attempt++) {
		if (der == NULL && (r = fetch_profile(a, rd, &der, &der_len)) != SC_OK)
			goto out;
		handle = 0;
		/* A gated SP is never sent a renewal profile (fetch_profile asks for none). */
		cadence = rd->gated ? 0 : renewal_cadence(der, der_len);
		if (rd->gated)
			r = sc_sp_gate_issue(rd->sp, der, der_len, rd->gate_auth, rd->gate_auth_len,
			    &handle, &cert);
		else if (cadence == 0 && batch_leaf(der, der_len))
			r = sc_sp_batch_issue(rd->sp, der, der_len, &handle, &cert);
		else if (cadence > 0)
			r = sc_sp_renew(rd->sp, der, der_len, &handle, &cert);
		else
			r = sc_sp_issue(rd->sp, der, der_len, &handle, &cert);
		if (r == SC_OK) {
			/* #17: keep a renewal profile; the SP makes the next certificates from it. */
			if (cadence > 0 && (r = keep_renewal(rd, der, der_len)) != SC_OK)
				goto out;
			/*
			 * #17 (dur11): an ordinary profile goes back with its certificate. Not a
			 * gated (TPM) one, a renewal or a batch leaf: provd recovers ordinary
			 * profiles only (docs/OPERATIONS.md: re-enrollment for the others).
			 */
			OPENSSL_free(rd->st.pending_profile);
			rd->st.pending_profile = NULL;
			rd->st.pending_profile_len = 0;
			if (cadence == 0 && !rd->gated && !batch_leaf(der, der_len) &&
			    (rd->st.pending_profile = OPENSSL_memdup(der, der_len)) != NULL)
				rd->st.pending_profile_len = der_len;
			r = issued(a, rd, handle, cert, cadence);
			goto out;
		}
		if (r == SC_ERR_IO || r == SC_ERR_PEER) {
			/* The SP may or may not have issued: look, on a new connection. */
			if (attempt >= AGENT_CHALLENGE_RETRIES) {
				r = sc_fail(r, "the SP did not answer the issue request: %s",
				    sc_err_detail());
				goto out;
			}
			if ((r = reconnect(a, rd)) != SC_OK)
				goto out;
			if (rd->st.pending.present) {
				r = SC_OK; /* issued before the connection broke: adopted */
				goto out;
			}
			continue;
		}
		/* The SP refused: nothing was issued. */
		snprintf(why, sizeof(why), "%s", sc_err_detail());
		rd->refused_ku = r == SC_ERR_KEY_MISMATCH && rd->gated ? profile_ku(der, der_len)
		                                                       : 0;
		OPENSSL_free(der);
		der = NULL;
		rd->st.has_inflight = 0;
		(void)save(a, &rd->st);
		/* A gated SP made the pending key before the server chose the uses: learn them
		 * from this profile and start again with a key made for them. */
		if (r == SC_ERR_KEY_MISMATCH && rd->gated && attempt < AGENT_CHALLENGE_RETRIES &&
		    gate_learn_ku(a, rd) == SC_OK) {
			say(a,
			    "the server's profile wants other key uses (0x%x); asking again with a "
			    "pending key made for them",
			    (unsigned)a->gate_ku);
			continue;
		}
		if (r == SC_ERR_CHALLENGE && attempt < AGENT_CHALLENGE_RETRIES) {
			say(a,
			    "the SP no longer knows the challenge (restarted?); asking for a new one");
			continue;
		}
		r = sc_fail(r, "the SP refused the profile: %s", why);
		goto out;
	}
out:
	X509_free(cert);
	OPENSSL_free(der);
	return r;
}

/*
 * agentq16: a batch entry's verdict that says nothing about the certificate: the server's own
 * trouble (internal, unavailable, rate-limited, request-timeout) or a verdict we do not know.
 * Such a certificate stays queued; only the refusals listed here are for good (agent.h).
 */
int agent_batch_refusal_final(const char *error)
{
	static const char *const final[] = {
		"bad-der",
		"bad-value",
		"malformed-json",
		"wrong-type",
		"chain",
		"not-device-ca",
		"kek-mismatch",
		"algorithm",
		"policy",
		"binding",
		"unknown-device",
		"revoked",
		"profile-unknown",
		"profile-consumed",
		"profile-expired",
		"device-mismatch",
		"device-ca-changed",
		"replay",
		"body-too-large",
	};

	for (size_t i = 0; error != NULL && i < sizeof(final) / sizeof(final[0]); i++)
		if (strcmp(error, final[i]) == 0)
			return 1;
	return 0;
}

/* fix17: agent.h. A status word the agent does not know is shown cut and in printable bytes. */
enum agent_batch_verdict agent_batch_entry(const void *entry, char *odd, size_t odd_len)
{
	const json_t *e = entry, *v = json_object_get(e, "status");
	const char *st = json_string_value(v);
	char word[41];
	size_t i;

	odd[0] = '\0';
	if (st != NULL && (strcmp(st, "registered") == 0 || strcmp(st, "already-registered") == 0))
		return AGENT_BATCH_GONE;
	if (st != NULL && strcmp(st, "refused") == 0)
		return agent_batch_refusal_final(json_string_value(json_object_get(e, "error")))
		    ? AGENT_BATCH_FINAL
		    : AGENT_BATCH_KEEP;
	if (!json_is_object(e))
		snprintf(odd, odd_len, "the entry is not a JSON object");
	else if (v == NULL)
		snprintf(odd, odd_len, "no \"status\"");
	else if (st == NULL)
		snprintf(odd, odd_len, "\"status\" is not a string");
	else {
		size_t len = json_string_length(v); /* a NUL inside shown as any other control */

		for (i = 0; i + 1 < sizeof(word) && i < len; i++)
			word[i] = st[i] >= 0x20 && st[i] <= 0x7e && st[i] != '"' ? st[i] : '?';
		word[i] = '\0';
		snprintf(odd, odd_len,
		    "\"status\" \"%s\"%s is none of registered, already-registered, refused", word,
		    st[i] != '\0' ? "…" : "");
	}
	return AGENT_BATCH_KEEP;
}

/* A failed append cut back to the file's size before it (best effort: the caller reports). */
static void cut_back(int fd, off_t size)
{
	if (ftruncate(fd, size) != 0)
		return; /* the next append goes after what is left; the log line names the one kept queued */
}

/* pem appended to fd (O_APPEND) and synced; a short or failed write cut back off. 0 with errno. */
static int append_synced(int fd, const char *pem)
{
	size_t len = strlen(pem), done = 0;
	struct stat sb;

	errno = 0;
	if (fstat(fd, &sb) != 0)
		return 0;
	while (done < len) {
		ssize_t w = write(fd, pem + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;

			cut_back(fd, sb.st_size);
			errno = e;
			return 0;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		int e = errno;

		cut_back(fd, sb.st_size);
		errno = e;
		return 0;
	}
	return 1;
}

/*
 * agentweak17: CERTS/unregistered.pem is bounded (it was never trimmed: flash). A set-aside that
 * would take it past AGENT_UNREGISTERED_MAX first moves it to unregistered.pem.1, replacing the
 * generation there (one line says so and what was dropped). aw17mend: at most once a flush
 * (*once: 0 at the flush's start, set here when rotated); a later set-aside in the same flush
 * appends past the bound instead. 1 MiB holds a window of EC certificates refused whole (a lost
 * registry; 1024 of ~900-1,000 bytes of PEM) but not one of RSA-4096 leaves (~1.4-1.5 KiB each):
 * a second rotation in one flush would have moved part of that same window to .1 and dropped
 * the part already there. So each generation holds at least one flush's certificates whole: at
 * most 1 MiB plus one flush (the queue's bound, AGENT_BACKLOG_BYTES_MAX), and two generations.
 * A file that is not a regular one (a symlink: the append then fails, the certificate stays
 * queued) is left alone; a failed rename is said, and the file grows. The line to say in
 * `line` ("" if none); 1 if rotated.
 */
int agent_unregistered_rotate(const char *path, size_t add, int *once, char *line, size_t line_len)
{
	char older[4300];
	struct stat sb, ob;
	int had;

	line[0] = '\0';
	if (*once || lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0 ||
	    (uint64_t)sb.st_size + add <= AGENT_UNREGISTERED_MAX ||
	    snprintf(older, sizeof(older), "%s.1", path) >= (int)sizeof(older))
		return 0;
	had = lstat(older, &ob) == 0;
	if (rename(path, older) != 0) {
		snprintf(line, line_len, "%s: %s; not rotated (%lld bytes)", path, strerror(errno),
		    (long long)sb.st_size);
		return 0;
	}
	*once = 1;
	if (had)
		snprintf(line, line_len,
		    "unregistered.pem reached %lld bytes (%zu more would pass %d): moved to "
		    "unregistered.pem.1, replacing the older one (%lld bytes dropped)",
		    (long long)sb.st_size, add, AGENT_UNREGISTERED_MAX, (long long)ob.st_size);
	else
		snprintf(line, line_len,
		    "unregistered.pem reached %lld bytes (%zu more would pass %d): moved to "
		    "unregistered.pem.1",
		    (long long)sb.st_size, add, AGENT_UNREGISTERED_MAX);
	return 1;
}

/* A queued certificate's PEM text as an X509, or NULL (set_aside, renewal_lost). */
static X509 *pem_x509(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

/*
 * agentq16: a queued certificate the server will never take is set aside: out of the queue (so it
 * no longer holds back the ones behind it), appended to CERTS/unregistered.pem (nothing is lost:
 * an operator can register it by hand), its key and leaf.pem untouched (if it is the one in use,
 * it stays in use). One line names it (serial, period) and why.
 */
static int set_aside(struct agent *a, struct round *rd, size_t i, const char *why)
{
	const char *pem = rd->st.backlog[i];
	char name[160] = "an entry that is not a certificate", path[4200];
	X509 *cert = pem_x509(pem);
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	int fd, rotated = 0, path_ok;

	if (cert != NULL) {
		char serial[65] = "?";
		struct agent_key k;
		uint32_t period = 0;

		memset(&k, 0, sizeof(k));
		if (agent_key_from_cert(&k, 1, cert) == SC_OK)
			snprintf(serial, sizeof(serial), "%s", k.serial);
		period = UINT32_MAX;
		/* Its period, when it is of the renewal profile kept or just dropped (else its
		 * notBefore). */
		if (k.present &&
		    (rd->st.renewal_der != NULL
		            ? sc_profile_decode(rd->st.renewal_der, rd->st.renewal_len, &p)
		            : rd->dropped_der != NULL
		            ? sc_profile_decode(rd->dropped_der, rd->dropped_len, &p)
		            : SC_ERR_NOT_FOUND) == SC_OK) {
			char id[2 * SC_PROFILE_ID_LEN + 1];

			sc_profile_get_info(p, &info);
			sc_hex(info.id, SC_PROFILE_ID_LEN, id);
			if (strcmp(id, k.profile_id) != 0 ||
			    sc_profile_leaf_index(&info, (time_t)k.not_before, &period) != 1)
				period = UINT32_MAX;
		}
		if (period != UINT32_MAX)
			snprintf(name, sizeof(name), "certificate %s (period %u)", serial, period);
		else
			snprintf(name, sizeof(name), "certificate %s (valid from %lld)", serial,
			    (long long)k.not_before);
		agent_key_clear(&k);
	}
	sc_profile_free(p);
	X509_free(cert);
	sc_err_clear();
	ERR_clear_error();
	/*
	 * Kept only once it is in unregistered.pem, synced (review of agentq16: a file that could
	 * not be opened or written took the certificate out of the queue all the same). A failed
	 * append is cut back off, so a later one starts on a whole block; the certificate stays
	 * queued, in its place, and is offered again at the next flush.
	 */
	fd = -1;
	path_ok = sc_file_join(path, sizeof(path), a->cfg->certs_dir, "unregistered.pem") == SC_OK;
	if (path_ok) { /* agentweak17: bounded */
		char line[4600];

		rotated = agent_unregistered_rotate(path, strlen(pem), &rd->unregistered_rotated,
		    line, sizeof(line));
		if (line[0] != '\0')
			say(a, "%s", line);
	}
	errno = 0;
	if (!path_ok ||
	    (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0 ||
	    !append_synced(fd, pem)) {
		int e = errno;

		if (fd >= 0)
			(void)close(fd);
		sc_err_clear();
		say(a, "%s: %s; %s not set aside (%s): it stays queued", path,
		    e != 0 ? strerror(e) : "path too long", name, why);
		return 0;
	}
	(void)close(fd);
	/* The new file's entry, and the rename, made durable (rare: once a rotation). */
	if (rotated && sc_fsync_dir_of(path) != SC_OK)
		say(a, "%s", sc_err_detail());
	sc_err_clear();
	say(a,
	    "set aside %s: %s; not sent again (appended to unregistered.pem; its key and "
	    "leaf.pem untouched)",
	    name, why);
	free(rd->st.backlog[i]);
	memmove(rd->st.backlog + i, rd->st.backlog + i + 1,
	    (rd->st.n_backlog - i - 1) * sizeof(rd->st.backlog[0]));
	rd->st.backlog[--rd->st.n_backlog] = NULL;
	agent_backlog_removed(&rd->st, i);
	return 1;
}

/*
 * #17: register the locally renewed certificates, many in one request (POST
 * /v1/certificates/batch) once --batch of them wait, or all of them when `all`. Registered and
 * already registered ones leave the queue. agentq16: what leaves it otherwise, and what stays:
 *   - an entry refused for good (agent_batch_refusal_final: its DER, chain, binding, profile,
 *     device...) is set aside (set_aside): nothing the server can learn makes it pass;
 *   - an entry refused for the server's own trouble (internal, unavailable, rate-limited) stays
 *     queued, in its place; the rest of the request's entries go on;
 *   - a request of one certificate refused body-too-large (413: the certificate alone is larger
 *     than the server takes) sets it aside; a larger request so refused is sent again one
 *     certificate at a time;
 *   - no answer, or any other answer (5xx, 429, a server without the endpoint...): all stay, and
 *     the round asks the server nothing more (rd->unanswered for no answer: one connect timeout
 *     a round, not three).
 * Only a server with the batch endpoint signs renewal profiles, so a backlog never meets one
 * without it but after a downgrade, where it waits (agent_backlog_full bounds it: a full
 * backlog, flushed whole without an answer, stops local renewal, and the next certificate comes
 * from the server). A request carries the oldest certificates whose body stays within
 * AGENT_BATCH_BODY_MAX (the server refuses bodies over 64 KiB; 32 large certificates, now the
 * default's window, can pass it), at most AGENT_MAX_BATCH of them (provd's most): the rest go in
 * the next request of the same round. The state is saved once, at the end.
 */
/* AGENT_BATCH_BODY_MAX, or less for tests: SC_AGENT_BATCH_BODY_MAX (1024..the most). */
static size_t batch_body_max(void)
{
	const char *e = getenv("SC_AGENT_BATCH_BODY_MAX");
	char *end = NULL;
	unsigned long v = e != NULL ? strtoul(e, &end, 10) : 0;

	return e != NULL && end != e && *end == '\0' && v >= 1024 && v < AGENT_BATCH_BODY_MAX
	    ? (size_t)v
	    : AGENT_BATCH_BODY_MAX;
}

/* The bytes of a batch request carrying pem alone (as agent_http_post sends it); 0: unknown. */
static size_t alone_body_len(const char *pem)
{
	json_t *body = json_pack("{s:[o]}", "certificates", cert_text_json(pem));
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	size_t n = text != NULL ? strlen(text) : 0;

	free(text);
	json_decref(body);
	return n;
}

/*
 * agentweak17: a batch answered profile-unknown for pem. If pem is of the kept renewal profile,
 * the server lost that profile (a registry restored from an older backup, a power loss under
 * --profile-commit deferred): every certificate the SP would make from it is refused the same
 * way, so it is dropped at once (not renewed from again until its window ends) and a new profile
 * is asked for in this round (agent_round); the certificate in use is due at once, so that a
 * failed request is retried at the next round. The queue's other certificates stay (each is
 * judged by its own answer).
 */
static void renewal_lost(struct agent *a, struct round *rd, const char *pem)
{
	X509 *cert = pem_x509(pem);
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	struct sc_issuance iss;
	char id[2 * SC_PROFILE_ID_LEN + 1] = "";

	if (cert != NULL && rd->st.renewal_der != NULL && sc_issuance_get(cert, &iss) == SC_OK &&
	    sc_profile_decode(rd->st.renewal_der, rd->st.renewal_len, &p) == SC_OK) {
		sc_profile_get_info(p, &info);
		if (memcmp(info.id, iss.profile_id, SC_PROFILE_ID_LEN) == 0)
			sc_hex(info.id, SC_PROFILE_ID_LEN, id);
	}
	sc_profile_free(p);
	X509_free(cert);
	sc_err_clear();
	ERR_clear_error();
	if (id[0] == '\0')
		return;
	say(a,
	    "the server no longer knows renewal profile %s: not renewing from it again; asking "
	    "for a new profile",
	    id);
	drop_renewal(rd);
	rd->renewal_lost = 1;
	if (rd->st.current.present && strcmp(rd->st.current.profile_id, id) == 0)
		rd->st.current.renew_at = (int64_t)time(NULL);
}

/* One request of the flush: entries [at, at + n) of the queue. *next: where the next starts. */
static sc_err flush_some(struct agent *a, struct round *rd, size_t at, size_t n, size_t *next,
    int *stop)
{
	struct agent_reply rep;
	json_t *body = NULL, *list, *res;
	size_t i, ok = 0, kept = 0, aside = 0, odd_n = 0;
	char odd_first[200] = "";
	sc_err r;

	memset(&rep, 0, sizeof(rep));
	*next = at;
	if ((list = json_array()) == NULL ||
	    (body = json_pack("{s:o}", "certificates", list)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "request");
	for (i = 0; i < n; i++)
		if (json_array_append_new(list, cert_text_json(rd->st.backlog[at + i])) != 0) {
			json_decref(body);
			return sc_fail(SC_ERR_NOMEM, "request");
		}
	r = agent_http_post(a->http, "/v1/certificates/batch", body, &rep);
	json_decref(body);
	if (r != SC_OK) {
		say(a, "registering %zu renewed certificates: no answer (%s); again later", n,
		    sc_err_detail());
		sc_err_clear();
		rd->unanswered = 1;
		*stop = 1;
		return SC_OK; /* they are in use; the server learns of them later */
	}
	/* provd's own 413 (its JSON error), not a proxy's smaller limit (review of agentq16). */
	if (rep.status == 413 && n == 1 && strcmp(rep.error, "body-too-large") == 0) {
		if (!set_aside(a, rd, at,
		        "the server refuses it as too large (HTTP 413 body-too-large)"))
			*next = at + 1;
		agent_reply_clear(&rep);
		return SC_OK;
	}
	if (rep.status == 413 && n > 1) {
		say(a, "registering %zu renewed certificates: HTTP 413 %s; one at a time", n,
		    rep.error);
		rd->one_by_one = 1;
		agent_reply_clear(&rep);
		return SC_OK;
	}
	if (rep.status != 200 ||
	    !json_is_array(res = json_object_get((json_t *)rep.json, "results")) ||
	    json_array_size(res) != n) {
		say(a, "registering %zu renewed certificates: HTTP %ld %s %s; again later", n,
		    rep.status, rep.error, rep.detail);
		agent_reply_clear(&rep);
		*stop = 1;
		return SC_OK; /* as with no answer: the backlog waits */
	}
	/* Entries leave as they are judged: i walks the answer, at + kept the queue. */
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(res, i);
		const char *err = json_string_value(json_object_get(e, "error"));
		char odd[160];
		enum agent_batch_verdict v = agent_batch_entry(e, odd, sizeof(odd));

		if (v == AGENT_BATCH_FINAL) {
			char why[400];

			/*
			 * crl15's left (a): a registry that lost the renewal profile (restored from an
			 * older backup) may have lost the device CA CRL with it, and a refused entry
			 * says nothing of it: not known to cover, so the next registration (the next
			 * window's first certificate, in this round) sends it, not one window later.
			 */
			if (strcmp(err, "profile-unknown") == 0)
				renewal_lost(a, rd, rd->st.backlog[at + kept]);
			if (strcmp(err, "profile-unknown") == 0 && rd->st.crl_until > 0) {
				say(a,
				    "the server no longer knows the renewal profile (a restored "
				    "registry?): its device CA CRL goes with the next registration");
				rd->st.crl_until = 0;
			}
			snprintf(why, sizeof(why), "the server refused it: %s: %s", err,
			    json_string_value(json_object_get(e, "detail")) != NULL
			        ? json_string_value(json_object_get(e, "detail"))
			        : "");
			if (set_aside(a, rd, at + kept, why))
				aside++;
			else
				kept++;
			continue;
		}
		/* fix17: an answer not understood is no registration: kept, said once a request. */
		if (v == AGENT_BATCH_KEEP && odd[0] != '\0') {
			if (odd_n++ == 0)
				snprintf(odd_first, sizeof(odd_first), "entry %zu: %s", i, odd);
			kept++;
			continue;
		}
		if (v == AGENT_BATCH_KEEP) {
			say(a,
			    "the server could not register a renewed certificate now (%s: %s); "
			    "it stays queued",
			    err != NULL ? err : "?",
			    json_string_value(json_object_get(e, "detail")) != NULL
			        ? json_string_value(json_object_get(e, "detail"))
			        : "");
			kept++;
			continue;
		}
		ok++;
		/* crl15: what the server keeps (every entry says the same). */
		if (json_is_object(e))
			crl_heard(a, &rd->st, e, 0);
		free(rd->st.backlog[at + kept]);
		memmove(rd->st.backlog + at + kept, rd->st.backlog + at + kept + 1,
		    (rd->st.n_backlog - at - kept - 1) * sizeof(rd->st.backlog[0]));
		rd->st.backlog[--rd->st.n_backlog] = NULL;
		agent_backlog_removed(&rd->st, at + kept);
	}
	agent_reply_clear(&rep);
	if (odd_n > 0)
		say(a,
		    "registering %zu renewed certificates: %zu answers not understood (%s); they stay "
		    "queued",
		    n, odd_n, odd_first);
	if (aside > 0 || kept > 0)
		say(a,
		    "registered %zu renewed certificates in one request (%zu accepted, %zu refused "
		    "for good, %zu kept queued)",
		    n, ok, aside, kept);
	else
		say(a, "registered %zu renewed certificates in one request (%zu accepted)", n, ok);
	*next = at + kept;
	return SC_OK;
}

static sc_err flush_backlog(struct agent *a, struct round *rd, int all)
{
	const size_t body_max = batch_body_max();
	size_t at = 0, before = rd->st.n_backlog;
	int stop = 0;
	sc_err r = SC_OK;

	if (rd->unanswered || rd->st.n_backlog == 0 ||
	    (!all && rd->st.n_backlog < (size_t)a->cfg->batch))
		return SC_OK;
	rd->unregistered_rotated = 0;
	while (at < rd->st.n_backlog && !stop) {
		size_t n = 0, bytes = 0, alone, first = strlen(rd->st.backlog[at]);

		/* One the server cannot take even alone (its body limit): set aside unsent. */
		if (first + first / 64 + 64 > AGENT_SERVER_BODY_MAX &&
		    (alone = alone_body_len(rd->st.backlog[at])) > AGENT_SERVER_BODY_MAX) {
			char why[160];

			snprintf(why, sizeof(why),
			    "too large for the server (its request alone is %zu bytes, over the "
			    "%d-byte body limit)",
			    alone, AGENT_SERVER_BODY_MAX);
			if (!set_aside(a, rd, at, why))
				at++; /* kept: the next one */
			continue;
		}

		/*
		 * The kept PEM's size in JSON (its length, an escape a line, quotes): an over-estimate
		 * since the body carries the base64 of its DER (b64der16), never an under-estimate.
		 */
		while (at + n < rd->st.n_backlog && n < AGENT_MAX_BATCH &&
		    (n == 0 || !rd->one_by_one)) { /* provd takes 32 a request */
			size_t len = strlen(rd->st.backlog[at + n]);

			bytes += len + len / 64 + 8;
			if (n > 0 && bytes > body_max)
				break;
			n++;
		}
		if ((r = flush_some(a, rd, at, n, &at, &stop)) != SC_OK)
			break;
	}
	/* Saved once: a crash before it sends the registered ones again (already-registered). */
	if (rd->st.n_backlog != before) {
		sc_err s = save(a, &rd->st);

		if (r == SC_OK)
			r = s;
	}
	return r;
}

/*
 * agent14: a window longer than the CRL's 30 days (or a certificate outliving what the server
 * took): the locally renewed certificate k, the backlog's newest, is registered on its own
 * (POST /v1/certificates, which judges it as a batch entry) with a fresh device CA CRL covering
 * the window's rest, as far as 30 days go. POST /v1/certificates/batch takes no "crl" (an older
 * server would refuse the whole batch). Registered: it leaves the backlog, crl_until moves on.
 * A server (or SP) that will not take (make) the CRL: crl15's crl_refused_until, the window's
 * end: not asked again this window (crl15b: for good only; a bad-value or "not-kept" a day at
 * most, agent_crl_refused_end). No answer, any other answer, an SP's trouble: again at the
 * next local renewal (the certificate stays queued).
 */
static sc_err refresh_crl(struct agent *a, struct round *rd, const struct agent_key *k)
{
	struct agent_reply rep;
	json_t *body = NULL;
	int64_t until = 0, cover = crl_cover(&rd->st, k->profile_id, k->not_after);
	sc_err why = SC_OK;
	char *crl = device_crl(a, rd->sp, &until, &why);
	int refusal;
	sc_err r;

	memset(&rep, 0, sizeof(rep));
	if (crl == NULL && agent_sp_refuses_crl(why)) {
		/* crl15: said by device_crl; not asked again this window */
		rd->st.crl_refused_until = agent_crl_refused_end(1, cover, (int64_t)time(NULL));
		return save(a, &rd->st);
	}
	if (crl == NULL)
		return SC_OK; /* said by device_crl; again at the next renewal */
	if ((body = json_pack("{s:o, s:s}", "certificate", cert_text_json(k->cert_pem), "crl",
	         crl)) == NULL) {
		free(crl);
		return sc_fail(SC_ERR_NOMEM, "request");
	}
	free(crl);
	say(a,
	    "certificate %s outlives the server's device CA CRL (until %lld): sending a new one "
	    "with it",
	    k->serial, (long long)rd->st.crl_until);
	r = agent_http_post(a->http, "/v1/certificates", body, &rep);
	json_decref(body);
	if (r != SC_OK) {
		/* The certificate is in use and queued: nothing is lost, the round goes on. */
		say(a, "sending the device CA CRL: no answer (%s); again at the next renewal",
		    sc_err_detail());
		sc_err_clear();
		rd->unanswered = 1;
		return SC_OK;
	}
	if ((refusal = server_refused_crl(&rep)) != 0) {
		/* crl15: refused, not "unknown": not asked again before the window's end (crl15b:
		 * an unknown-field; a bad-value a day at most). */
		rd->st.crl_until = 0;
		rd->st.crl_refused_until = agent_crl_refused_end(refusal == CRL_REFUSED_FOR_GOOD,
		    cover, (int64_t)time(NULL));
		say(a,
		    "the server did not take the device CA CRL (%s: %s); not offered again before "
		    "%lld",
		    rep.error, rep.detail, (long long)rd->st.crl_refused_until);
	} else if ((rep.status == 200 || rep.status == 201) && rd->st.n_backlog > 0 &&
	    strcmp(rd->st.backlog[rd->st.n_backlog - 1], k->cert_pem) == 0) {
		free(rd->st.backlog[--rd->st.n_backlog]);
		rd->st.backlog[rd->st.n_backlog] = NULL;
		agent_backlog_removed(&rd->st, rd->st.n_backlog);
		if (server_kept_crl(&rep)) {
			rd->st.crl_until = until;
			rd->st.crl_refused_until = 0;
			say(a, "certificate %s registered with a device CA CRL until %lld",
			    k->serial, (long long)until);
		} else {
			/* crl15b: "not-kept" (its registry's trouble): a day at most. */
			rd->st.crl_until = 0;
			rd->st.crl_refused_until = agent_crl_refused_end(0, cover,
			    (int64_t)time(NULL));
			say(a,
			    "certificate %s registered; the server did not keep the device CA CRL: "
			    "not offered again before %lld",
			    k->serial, (long long)rd->st.crl_refused_until);
		}
		crl_heard(a, &rd->st, rep.json, sent_and_kept(&rep, 1, until));
	} else {
		/* As with no answer: the certificate stays queued. */
		say(a, "sending the device CA CRL: HTTP %ld %s %s; again at the next renewal",
		    rep.status, rep.error, rep.detail);
		agent_reply_clear(&rep);
		return SC_OK;
	}
	agent_reply_clear(&rep);
	return save(a, &rd->st);
}

/*
 * #17: renew without the server: the SP makes the renewal profile's next certificate, which is
 * put in use at once (the server authorized it when it signed the profile) and queued for
 * registration. SC_ERR_NOT_FOUND when the profile can give no more (spent, expired, retired,
 * refused): the caller then asks the server for a new one. A crash between RENEW and the save
 * leaves an SP key that resume() adopts through the in-flight mark, as for ISSUE.
 */
static sc_err renew_local(struct agent *a, struct round *rd, int *did)
{
	struct agent_key k;
	uint32_t handle = 0, cadence = renewal_cadence(rd->st.renewal_der, rd->st.renewal_len);
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	X509 *cert = NULL;
	sc_err r;

	memset(&k, 0, sizeof(k));
	/* late15b: a full queue is first offered to the server whole; only if it stays full (no
	 * answer) does local renewal stop, and the next certificate come from the server. */
	if (cadence != 0 && agent_backlog_full(&rd->st) && (r = flush_backlog(a, rd, 1)) != SC_OK)
		return r;
	if (cadence == 0 || agent_backlog_full(&rd->st) || rd->st.renewal_der == NULL ||
	    sc_profile_decode(rd->st.renewal_der, rd->st.renewal_len, &p) != SC_OK) {
		if (cadence != 0 && agent_backlog_full(&rd->st))
			say(a,
			    "%zu renewed certificates wait for registration (the most the state "
			    "keeps); asking the server",
			    rd->st.n_backlog);
		drop_renewal(rd);
		sc_err_clear();
		return SC_ERR_NOT_FOUND;
	}
	sc_profile_get_info(p, &info);
	sc_profile_free(p);
	sc_hex(info.id, SC_PROFILE_ID_LEN, rd->st.inflight_id);
	rd->st.has_inflight = 1;
	if ((r = save(a, &rd->st)) != SC_OK)
		return r;
	r = sc_sp_renew(rd->sp, rd->st.renewal_der, rd->st.renewal_len, &handle, &cert);
	if (r == SC_ERR_IO || r == SC_ERR_PEER)
		return r; /* the round fails; the next one resumes through the in-flight mark */
	rd->st.has_inflight = 0;
	if (r != SC_OK) {
		say(a, "the renewal profile gives no more certificates (%s: %s); asking the server",
		    sc_err_name(r), sc_err_detail());
		drop_renewal(rd);
		(void)save(a, &rd->st);
		return SC_ERR_NOT_FOUND;
	}
	if ((r = agent_key_from_cert(&k, handle, cert)) != SC_OK ||
	    (r = write_leaf(a, k.cert_pem, handle, rd->chain)) != SC_OK)
		goto out;
	renewal_due(&k, cadence);
	if ((rd->st.backlog[rd->st.n_backlog] = strdup(k.cert_pem)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "backlog");
		goto out;
	}
	rd->st.n_backlog++;
	if (rd->st.current.present)
		retire(a, &rd->st, rd->st.current.handle, grace_end(a, time(NULL)));
	agent_key_clear(&rd->st.current);
	rd->st.current = k;
	memset(&k, 0, sizeof(k));
	rd->st.hook_due = 1;
	a->action = "renewed";
	*did = 1;
	if ((r = save(a, &rd->st)) != SC_OK)
		goto out;
	say(a, "renewed locally: key %u (certificate %s) from renewal profile %s; %zu to register",
	    handle, rd->st.current.serial, rd->st.inflight_id, rd->st.n_backlog);
	/*
	 * agent14: the server's device CA CRL would lapse while this certificate is in use. crl15:
	 * or none is known to cover it (0: told "none", another holder, an older state) — unless
	 * the server or the SP refused it this window.
	 */
	r = rd->st.crl_refused_until <= (int64_t)time(NULL) &&
	        rd->st.current.not_after + AGENT_CRL_MARGIN > rd->st.crl_until
	    ? refresh_crl(a, rd, &rd->st.current)
	    : SC_OK;
out:
	agent_key_clear(&k);
	X509_free(cert);
	return r;
}

/*
 * After the switch: the hook for a certificate not yet announced (its failure logged, retried
 * with a doubling back-off and never fatal: the certificate is in use either way), then the
 * retired keys that are due. *next_at is lowered to the hook's retry or the next deletion.
 */
static sc_err after_switch(struct agent *a, struct round *rd, time_t *next_at)
{
	time_t now = time(NULL);
	sc_err r;

	if (rd->st.hook_due && rd->st.current.present) {
		if ((r = agent_hook_run(a, &rd->st)) == SC_OK) {
			/* A reload is asynchronous (nginx's old workers sign on a while after the
			 * signal): the grace period also runs from the hook's success, counted from
			 * its end (a hook may take seconds). */
			int64_t end = grace_end(a, time(NULL));

			for (size_t i = 0; i < rd->st.n_retire; i++)
				if (rd->st.retire_after[i] != 0 && rd->st.retire_after[i] < end)
					rd->st.retire_after[i] = end;
			rd->st.hook_due = 0;
			a->hook_backoff_s = 0;
			if ((r = save(a, &rd->st)) != SC_OK)
				return r;
		} else {
			int64_t d = a->hook_backoff_s > 0 ? a->hook_backoff_s : a->cfg->retry_min_s;

			say(a,
			    "the hook failed (%s); the old key stays until it succeeds; again in %llds",
			    sc_err_detail(), (long long)d);
			a->hook_backoff_s = d * 2 > a->cfg->retry_max_s ? a->cfg->retry_max_s
			                                                : d * 2;
			if (now + (time_t)d < *next_at)
				*next_at = now + (time_t)d;
		}
	} else if (rd->st.hook_due) {
		rd->st.hook_due = 0; /* nothing in use to announce */
	}
	return delete_retired(a, rd->sp, &rd->st, next_at);
}

sc_err agent_round(struct agent *a, time_t *next_at, int *did)
{
	struct round rd;
	time_t now = time(NULL);
	sc_err r;

	*did = 0;
	*next_at = now;
	a->refusal[0] = '\0';
	a->action = "unchanged";
	memset(&rd, 0, sizeof(rd));
	if ((r = round_open(a, &rd)) != SC_OK || (r = resume(a, &rd)) != SC_OK ||
	    (r = settle_leftovers(a, &rd, did)) != SC_OK)
		goto out;
	/* Due: nothing in use, forced, or at its renewal time — unless a certificate was
	 * acknowledged just now. */
	if (!*did && (!rd.st.current.present || a->force || now >= rd.st.current.renew_at)) {
		/* #17: from the renewal profile if it still gives; else from the server, after
		 * registering what the old profile made. */
		r = rd.st.renewal_der != NULL && rd.st.current.present ? renew_local(a, &rd, did)
		                                                       : SC_ERR_NOT_FOUND;
		if (r == SC_ERR_NOT_FOUND) {
			if ((r = flush_backlog(a, &rd, 1)) != SC_OK)
				goto out;
			/* agentq16: the server did not answer the flush: once a round is enough. */
			if (rd.unanswered) {
				r = sc_fail(SC_ERR_IO,
				    "the server did not answer; a new profile is asked for at the next "
				    "round");
				goto out;
			}
			if ((r = enroll(a, &rd)) != SC_OK || (r = settle(a, &rd, did)) != SC_OK)
				goto out;
		} else if (r != SC_OK) {
			goto out;
		}
	}
	if ((r = flush_backlog(a, &rd, 0)) != SC_OK)
		goto out;
	/*
	 * agentweak17: the server lost the renewal profile (renewal_lost): a new profile now, after
	 * registering what else is queued (as when a profile gives no more), not at the end of the
	 * lost profile's window.
	 */
	if (rd.renewal_lost && !rd.unanswered) {
		if ((r = flush_backlog(a, &rd, 1)) != SC_OK)
			goto out;
		/* The drop kept, whatever comes next (a flush that set nothing aside saved nothing). */
		if ((r = save(a, &rd.st)) != SC_OK)
			goto out;
		if (rd.unanswered) {
			r = sc_fail(SC_ERR_IO,
			    "the server did not answer; a new profile is asked for at the next round");
			goto out;
		}
		if ((r = enroll(a, &rd)) != SC_OK || (r = settle(a, &rd, did)) != SC_OK)
			goto out;
	}
	if (*did)
		a->force = 0;
	*next_at = (time_t)rd.st.current.renew_at;
	if ((r = after_switch(a, &rd, next_at)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	round_close(&rd);
	ERR_clear_error();
	return r;
}
