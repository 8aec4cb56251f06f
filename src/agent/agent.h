// SPDX-License-Identifier: Apache-2.0
/*
 * agent.h — selfcert-agent, the host's enrollment and renewal agent: its configuration, the
 * state it keeps in CERTS/state.json (so that it resumes after a crash at any point), the HTTP
 * client for the provisioning API, and one enrollment round.
 */
#ifndef SC_AGENT_H
#define SC_AGENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>

/* state.json larger than this is damage: a full queue (AGENT_BACKLOG_BYTES_MAX, one more of the
 * largest certificates, the JSON's escapes) and the rest of the state fit (test_agent_state). */
#define AGENT_STATE_MAX (4 * 1024 * 1024)
#define AGENT_RESPONSE_MAX (256 * 1024) /* a server answer larger than this is refused */
#define AGENT_HTTP_TIMEOUT_S 60
#define AGENT_CONNECT_TIMEOUT_S 10
#define AGENT_MAX_RETIRE 16       /* old key handles waiting for deletion */
#define AGENT_CHALLENGE_RETRIES 3 /* reconnects and fresh challenges after an SP restart */
/*
 * #17: locally renewed certificates awaiting registration. late15b: a device offline for days
 * keeps renewing locally as long as its profile gives (at most SC_RENEWAL_COUNT_MAX periods),
 * bounded only by the state's size: the queue is full at AGENT_MAX_BACKLOG certificates or
 * past AGENT_BACKLOG_BYTES_MAX bytes of PEM (agent_backlog_full), and a full queue, once a
 * flush of all of it got no answer, stops local renewal (the next certificate comes from the
 * server). Was 32 (= the default --batch), which stopped it after one unanswered flush.
 */
#define AGENT_MAX_BACKLOG SC_RENEWAL_COUNT_MAX
#define AGENT_BACKLOG_BYTES_MAX (3 * 1024 * 1024)
#define AGENT_MAX_BATCH 32 /* --batch N: 1..32 (the default) */
/* A batch request's body at most (provd refuses bodies over 64 KiB): flush_backlog splits. */
#define AGENT_BATCH_BODY_MAX (48 * 1024)
/* agentq16: provd's body limit (API.md). A queued certificate whose request alone is larger can
 * never be registered: it is set aside unsent (provd answers 413 before reading such a body,
 * which curl sees as a broken pipe, no answer). */
#define AGENT_SERVER_BODY_MAX (64 * 1024)
/* agentweak17: CERTS/unregistered.pem past this moves to unregistered.pem.1 (enroll.c). */
#define AGENT_UNREGISTERED_MAX (1024 * 1024)
/* agentweak17: damaged queue files kept aside (backlog.<n>.pem.damaged-<k>, k = 1..this). */
#define AGENT_DAMAGED_MAX 8
#define AGENT_CRL_MARGIN 3600 /* the device CA CRL outlives the certificates it covers by this */

struct agent_cfg {
	const char *sp_path;
	const char *certs_dir;
	const char *device_dir;
	const char *server; /* base URL without a trailing slash */
	const char *ca_path;
	int once;
	int force_renew;
	int server_keygen;
	enum sc_alg alg; /* SC_ALG_NONE: the server's default */
	int64_t retry_min_s, retry_max_s;
	/* After each enrollment and renewal (hook.c): --exec's command, --reload-pid's file and
	 * --reload-signal's signal; NULL/0 when not given. */
	const char *exec_cmd;
	const char *reload_pid_path;
	int reload_sig;
	int64_t grace_s; /* --grace: the old key outlives its successor's arrival this long */
	/* #17 --batch N: register locally renewed certificates N at a time (1..AGENT_MAX_BATCH,
	 * the default: N >= K queues a window to its end; late15: the server judges each at its
	 * own period, so one queued past its notAfter is registered all the same). */
	int batch;
};

/* One key the agent knows: issued by the SP, its certificate as PEM. */
struct agent_key {
	int present;
	uint32_t handle;
	char profile_id[2 * SC_PROFILE_ID_LEN + 1];
	char serial[65];
	int64_t not_before, not_after, renew_at;
	char *cert_pem; /* owned */
	int written;    /* pending only: already in leaf.pem (server unreachable) */
};

struct agent_state {
	struct agent_key current; /* acknowledged by the server; what leaf.pem shows */
	struct agent_key pending; /* issued by the SP, not yet acknowledged */
	int has_inflight;         /* a profile was received; the SP may or may not have issued */
	char inflight_id[2 * SC_PROFILE_ID_LEN + 1];
	uint32_t retire[AGENT_MAX_RETIRE]; /* old handles to delete from the SP */
	/* When each may go (Unix time): 0 at once (never in use, or an older state file); else not
	 * before then, and not before the hook succeeded for the key that replaced it. */
	int64_t retire_after[AGENT_MAX_RETIRE];
	size_t n_retire;
	int hook_due; /* a new certificate is in use and the hook has not yet succeeded for it */
	/*
	 * #17: the renewal profile the SP renews from locally (DER, owned; NULL: none), and the
	 * certificates it made that the server has not yet acknowledged (PEM, owned), oldest first.
	 */
	uint8_t *renewal_der;
	size_t renewal_len;
	char *backlog[AGENT_MAX_BACKLOG];
	size_t n_backlog;
	/*
	 * agentq16: the queue on disk, CERTS/backlog.<q_file>.pem, as state.json last committed it
	 * ("backlog_file": its name, q_count certificates in its first q_bytes bytes), and how many
	 * of backlog[] are still those first committed ones in order (q_intact: appends keep it,
	 * agent_backlog_removed lowers it), so agent_state_save appends instead of rewriting.
	 */
	int q_file;
	size_t q_count, q_bytes, q_intact;
	/*
	 * #17 (dur11): the ordinary profile the pending key was issued under (DER, owned; NULL:
	 * none kept, e.g. a state from an older agent), sent back with the pending certificate so
	 * that a server whose registry lost the profile (a power loss under --profile-commit
	 * deferred) records it again. Sent only while its ID is the pending key's.
	 */
	uint8_t *pending_profile;
	size_t pending_profile_len;
	/*
	 * #17 (agent14, crl14): the nextUpdate (Unix time) of the device CA CRL the server last
	 * answered "kept" or "older" for; 0: none (an older server or SP, a "not-kept" answer, or
	 * an older agent's state). It outlives renewal profiles and ordinary enrollments: a
	 * registration whose certificate (or window, crl_cover) it covers with AGENT_CRL_MARGIN to
	 * spare sends no CRL, and a local renewal whose certificate would outlive it sends a fresh
	 * one. Held only for crl_for: a SHA-256 (16 bytes, hex) of the device CA certificate and
	 * the server URL it was sent to; another device CA or server resets it. Advisory: an invalid
	 * value is dropped with a warning.
	 */
	int64_t crl_until;
	char crl_for[2 * SC_PROFILE_ID_LEN + 1];
	/*
	 * crl15: crl_until is also what the server says it keeps (its answers' "crl_until", or
	 * "crl":"none": 0), so a registry restored from an older backup is sent the CRL again at
	 * the next registration. crl_refused_until: the server (or the SP) refused our CRL, which
	 * is not offered again before then (the end of what that registration covered: its
	 * certificate, or its renewal window); 0: not refused. 0 in crl_until is thus only
	 * "not known to cover": a local renewal whose certificate it does not cover sends one.
	 * Kept in state.json as a negative "crl_until" (-crl_refused_until, which an agent of
	 * before crl15 drops with a warning and sends its CRL again), crl_until then unsaid.
	 * crl15b: only a refusal for good lasts that long (agent_crl_refused_end).
	 */
	int64_t crl_refused_until;
	/*
	 * dur11 review: what agent_state_parse dropped of an advisory field (an invalid
	 * "pending_profile", or one without a pending key), one line for the agent to say; "" if
	 * nothing was.
	 */
	char warning[200];
	/*
	 * agentweak17: a damaged queue file salvaged by agent_state_load (state.c queue_load): one
	 * line naming the file, what was wrong, where it was kept aside and how many certificates
	 * were salvaged, for the agent to say; "" if the queue loaded whole.
	 */
	char salvage[1400];
};

/* state.c */
void agent_state_clear(struct agent_state *st);
/* 1 when the backlog takes no more: AGENT_MAX_BACKLOG certificates, or more than
 * AGENT_BACKLOG_BYTES_MAX bytes of PEM (one more certificate then still fits AGENT_STATE_MAX). */
int agent_backlog_full(const struct agent_state *st);
/*
 * state.json's text (at most AGENT_STATE_MAX bytes, else SC_ERR_OVERSIZE) into *st (initialised
 * here; agent_state_clear it). Strict: version 1, exactly the known fields with their types,
 * handles in 1..2^32-1, profile IDs of 64 lower-case hex digits, at most AGENT_MAX_RETIRE
 * retired keys. SC_ERR_MALFORMED, the detail naming `what` (the path) or the field. On failure
 * *st is empty.
 */
sc_err agent_state_parse(const uint8_t *data, size_t len, const char *what,
    struct agent_state *st) SC_MUST_USE;
/*
 * Missing file: an empty state. Otherwise agent_state_parse of the file, or SC_ERR_IO.
 * agentweak17: a damaged queue file (missing, shorter than "bytes", not those "count" PEM
 * certificates) is no error: it is kept aside (backlog.<n>.pem.damaged-<k>), its whole
 * certificates are salvaged in order and committed at once (agent_state_save), and st->salvage
 * says so; a failed commit is that save's error. A queue file that cannot be read (a symbolic
 * link, not a regular file, permissions, a read error) is SC_ERR_IO, as before. aw17mend: a
 * damaged file that cannot be kept aside is not salvaged (SC_ERR_MALFORMED naming it); the other
 * queue file, if it holds anything, is kept aside before the commit (else SC_ERR_IO).
 */
sc_err agent_state_load(const char *path, struct agent_state *st) SC_MUST_USE;
/* The state as state.json's text (*text: free), which agent_state_parse reads back equal. */
sc_err agent_state_format(const struct agent_state *st, char **text) SC_MUST_USE;
/*
 * Atomic (temp file, fsync, rename, fsync dir). agentq16: a queue (st->n_backlog > 0) is written
 * to CERTS/backlog.0.pem or backlog.1.pem first (appended when only appended to; see state.c),
 * and state.json names it ("backlog_file"); st's q_* fields then describe what was committed.
 * agent_state_load reads either layout (an older agent's inline "backlog" too). steps: 3 for
 * all; 1 stops after the queue file, 2 after state.json (a crash's leftovers, for tests).
 */
sc_err agent_state_save(const char *path, struct agent_state *st) SC_MUST_USE;
sc_err agent_state_save_steps(const char *path, struct agent_state *st, int steps) SC_MUST_USE;
/*
 * enroll.c, agentweak17: before a set-aside of `add` bytes to CERTS/unregistered.pem (path), the
 * file moved to unregistered.pem.1 when it would pass AGENT_UNREGISTERED_MAX; aw17mend: at most
 * once a flush (*once 0 at its start, 1 once rotated; then it appends past the bound). `line`:
 * what to say ("" if nothing). 1 if rotated.
 */
int agent_unregistered_rotate(const char *path, size_t add, int *once, char *line, size_t line_len);
/* aw17mend: the read(2) agent_state_load reads a queue file with; a test sets it to one that
 * fails (EIO cannot be made on demand in a unit test without root), and back to read. */
extern ssize_t (*agent_state_read_fn)(int, void *, size_t);
/* agentq16: backlog[i] was just taken out of the queue (the ones after it moved down). */
void agent_backlog_removed(struct agent_state *st, size_t i);
/*
 * agentq16: 1 if a batch entry's "error" is a refusal for good: the certificate itself (bad-der,
 * bad-value, chain, binding, algorithm, policy, not-device-ca, kek-mismatch, body-too-large) or
 * what it belongs to (unknown-device, revoked, profile-unknown, profile-consumed,
 * profile-expired, device-mismatch, device-ca-changed, replay, malformed-json, wrong-type);
 * 0 for the server's own trouble (internal, unavailable, rate-limited, request-timeout),
 * anything else or NULL: such an entry stays queued.
 */
int agent_batch_refusal_final(const char *error);
/*
 * fix17: one entry (json_t *) of a batch registration's answer, judged by its "status" alone:
 * AGENT_BATCH_GONE only for "registered" or "already-registered" (it leaves the queue);
 * AGENT_BATCH_FINAL for "refused" with an error agent_batch_refusal_final names (set aside);
 * AGENT_BATCH_KEEP for anything else: a refusal for the server's trouble (odd ""), or an entry
 * the agent does not understand (not an object, no "status", one not a string, a word it does
 * not know), odd then saying which, in printable bytes: such an entry stays queued.
 */
enum agent_batch_verdict { AGENT_BATCH_GONE, AGENT_BATCH_FINAL, AGENT_BATCH_KEEP };
enum agent_batch_verdict agent_batch_entry(const void *e, char *odd, size_t odd_len);
void agent_key_clear(struct agent_key *k);
/* Fill k's serial/validity/profile ID from its certificate (and renew_at: 2/3 of the lifetime
 * less a random jitter of up to a tenth). */
sc_err agent_key_from_cert(struct agent_key *k, uint32_t handle, X509 *cert) SC_MUST_USE;

/* hook.c */
struct agent;
/*
 * Tell the consumers that the current certificate changed: --exec's command (through /bin/sh -c,
 * at most AGENT_HOOK_TIMEOUT_S, the environment below) and/or --reload-pid's signal. SC_OK when
 * nothing is configured. A failure (SC_ERR_IO: exit status, signal, timeout, no such process)
 * names what failed; the caller logs it and tries again later.
 *   SELFCERT_ACTION (enrolled|renewed) SELFCERT_DEVICE_ID SELFCERT_LEAF SELFCERT_CHAIN
 *   SELFCERT_FULLCHAIN SELFCERT_KEY_URI (the file) SELFCERT_KEY_HANDLE SELFCERT_PKCS11_URI
 *   (its content) SELFCERT_SERIAL SELFCERT_NOT_AFTER (Unix time)
 */
#define AGENT_HOOK_TIMEOUT_S 60
sc_err agent_hook_run(const struct agent *a, const struct agent_state *st) SC_MUST_USE;
/* A signal's name ("HUP", "SIGHUP", "USR1", …) or number into *sig; -1 if not one we allow. */
int agent_signal_from_name(const char *name);
/* The PKCS#11 URI of SP key `handle` on token `token` (docs/PKCS11.md), percent-encoded. */
void agent_key_uri(const char *token, uint32_t handle, char *out, size_t out_len);

/* http.c */
struct agent_http;
/*
 * A client for base URL (https://…, or http:// to a loopback host only) trusting only the CA
 * file. SC_ERR_USAGE for a URL we refuse.
 */
sc_err agent_http_new(const char *base, const char *ca_path, volatile sig_atomic_t *stop,
    struct agent_http **out) SC_MUST_USE;
void agent_http_free(struct agent_http *h);

/* The outcome of one API call. */
struct agent_reply {
	long status;    /* HTTP status, 0 if no answer */
	void *json;     /* json_t * of the answer (an object), or NULL */
	char error[48]; /* the API's error code, "" if none */
	char detail[256];
};
void agent_reply_clear(struct agent_reply *rep);

/*
 * POST a JSON object (json_t *, borrowed) to path ("/v1/profiles"); body NULL: GET path
 * ("/healthz"). SC_OK whenever an answer
 * came back (look at rep->status); SC_ERR_IO / SC_ERR_PEER if none did or it was not JSON.
 */
sc_err agent_http_post(struct agent_http *h, const char *path, void *body,
    struct agent_reply *rep) SC_MUST_USE;

/*
 * An answer's body (len bytes, any content) with HTTP status into *rep (initialised here;
 * agent_reply_clear it): a JSON object without duplicate keys, else SC_ERR_PEER naming url.
 * For status >= 400, its "error" and "detail" are copied, cut to fit and made printable (they
 * reach the log).
 */
sc_err agent_reply_parse(long status, const char *body, size_t len, const char *url,
    struct agent_reply *rep) SC_MUST_USE;

/* enroll.c */
struct agent {
	const struct agent_cfg *cfg;
	struct agent_http *http;
	volatile sig_atomic_t *stop;
	char device_id[SC_DEVICE_ID_MAX + 1];
	char state_path[4096], leaf_path[4096], chain_path[4096];
	char fullchain_path[4096], key_uri_path[4096];
	int64_t hook_backoff_s; /* the next retry of a failed hook, doubling like a failed round */
	/* An operator-gated SP's pending key uses (KU_* bits; 0: digitalSignature), learned from
	 * the server's profile when the first guess did not fit (issue #12). Memory only. */
	uint32_t gate_ku;
	char refusal[48];   /* the server's error code of the last refusal, "" if none */
	int force;          /* renew in the next round even if not due (--force-renew) */
	const char *action; /* what the last round did: "enrolled", "renewed", "unchanged" */
	int sp_renews;      /* #17: the SP answers RENEW (revision 1.5): -1 not asked yet */
};

/*
 * One round: resume whatever a crash interrupted, return a pending certificate, delete retired
 * keys, and enroll or renew when due (or forced). *next_at is when the next round is due.
 * *did is 1 if a new certificate was acknowledged in this round. Refusals are SC_ERR_DENIED
 * (exit 1, name in a->refusal); unreachable server or SP SC_ERR_IO/SC_ERR_PEER (exit 3).
 */
sc_err agent_round(struct agent *a, time_t *next_at, int *did) SC_MUST_USE;

/*
 * The server's answer to POST /v1/profiles (a 201's JSON object, json_t *): its "profile",
 * strict base64 (text.h) of a DER profile of at most SC_PROFILE_MAX_DER bytes, that decodes and
 * is for device_id. *der (OPENSSL_free) and id (the profile ID in hex) on success; SC_ERR_PEER
 * naming what is wrong otherwise (the server is at fault), SC_ERR_NOMEM.
 */
sc_err agent_profile_answer(const void *json, const char *device_id, uint8_t **der, size_t *der_len,
    char id[2 * SC_PROFILE_ID_LEN + 1]) SC_MUST_USE;

/*
 * A kept certificate's PEM text (state.json's, a queue entry) as the agent sends it (json_t *,
 * the caller's; NULL if memory is short): a JSON string of the base64 of its one CERTIFICATE
 * block's DER (b64der16); the text itself when it is not exactly one such block that decodes
 * (another label, bad base64, an empty block, a second block or any text after it: the server
 * then judges the text, which it reads as PEM).
 */
void *agent_cert_text_json(const char *pem);

/* The "not_after" of the server's answer to POST /v1/certificates (json_t *), or "?". */
const char *agent_cert_answer_not_after(const void *json);

/*
 * crl15: what device CA CRL the server says it keeps after a registration, from its answer to
 * POST /v1/certificates or a batch entry (json_t *): 1 and *until = its nextUpdate ("crl_until":
 * one RFC 3339 time of at most AGENT_TIME_TEXT_MAX characters, nothing after it, after 1970), or
 * 1 and *until = 0 ("crl":"none" without "crl_until"); 0 if it says neither or "crl_until" is
 * not such a time (a server before crl15, or one we cannot read: the agent then trusts what it
 * remembers). Never fails.
 */
#define AGENT_TIME_TEXT_MAX 40
int agent_cert_answer_crl(const void *json, int64_t *until);

/*
 * crl15b: crl_until after an answer (json_t *) that says what the server keeps
 * (agent_cert_answer_crl), the agent having remembered `had`; sent_kept: the nextUpdate of the
 * CRL this very request sent when the answer says "crl":"kept" (the server kept exactly it),
 * else 0. A "crl_until" below sent_kept contradicts the same answer's "kept" (a server's
 * mistake, or its clock): ignored, else every local renewal would send the CRL again. An answer
 * that says nothing leaves `had`.
 */
int64_t agent_crl_heard_until(const void *json, int64_t had, int64_t sent_kept);

/*
 * crl15b: 1 if the SP's answer to a CRL request (sc_crl_device_fetch's error) means it will
 * not make one as it stands: an SP before protocol 1.3 (unknown-request), a device CA without
 * cRLSign (key-usage) or without a subjectKeyIdentifier (extension), an operator-gated CSK
 * (gate), no device CA certificate (state). Anything else (a connection's or the TPM's trouble,
 * an internal error, validity or stale: the SP's clock against the host's, a bad signature or
 * encoding) is 0: asked again at the next registration.
 */
int agent_sp_refuses_crl(sc_err why);

/*
 * crl15b: until when a refused CRL is not offered again: cover (the end of what that
 * registration covered: its certificate, or its renewal window) when the refusal is for good
 * (for_good: the server does not know the field, unknown-field; the SP will not make one,
 * agent_sp_refuses_crl); else (the server did not keep it, "not-kept": its registry lost the
 * connection or lacks a grant; bad-value: possibly a clock) the earlier of cover and now +
 * AGENT_CRL_RETRY, so it is tried again within a day.
 */
#define AGENT_CRL_RETRY 86400
int64_t agent_crl_refused_end(int for_good, int64_t cover, int64_t now);

/*
 * The agent's fail points (failpoint.h), just after each step of a round, so a test can crash
 * the agent there (exit AGENT_FAILPOINT_EXIT), fail the next step, or stop it (SIGSTOP) while it
 * restarts the server or the SP:
 *   AGENT_FAILPOINT_ENV=<step>:<nth>[:exit|:error|:stop]   (or trace)
 * Only in SC_FAILPOINTS builds; agent_failpoints_load is SC_OK at once in the others.
 */
#define AGENT_FAILPOINT_ENV "SELFCERT_AGENT_FAILPOINT"
#define AGENT_FAILPOINT_EXIT 86
enum agent_fp {
	AGENT_FP_AFTER_CHALLENGE,
	AGENT_FP_AFTER_PROFILE,
	AGENT_FP_AFTER_ISSUE,
	AGENT_FP_AFTER_PENDING,
	AGENT_FP_AFTER_ACK_RECEIVED,
	AGENT_FP_AFTER_WRITE,
	AGENT_FP_AFTER_SWITCH,
	AGENT_FP_COUNT
};
/* Read AGENT_FAILPOINT_ENV (once). SC_ERR_USAGE for a bad value. */
sc_err agent_failpoints_load(void) SC_MUST_USE;

#endif
