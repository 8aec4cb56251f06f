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
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>

#define AGENT_STATE_MAX (64 * 1024)       /* state.json larger than this is damage */
#define AGENT_RESPONSE_MAX (256 * 1024)   /* a server answer larger than this is refused */
#define AGENT_HTTP_TIMEOUT_S 60
#define AGENT_CONNECT_TIMEOUT_S 10
#define AGENT_MAX_RETIRE 16               /* old key handles waiting for deletion */
#define AGENT_CHALLENGE_RETRIES 3         /* reconnects and fresh challenges after an SP restart */

struct agent_cfg {
	const char *sp_path;
	const char *certs_dir;
	const char *device_dir;
	const char *server;          /* base URL without a trailing slash */
	const char *ca_path;
	int once;
	int force_renew;
	int server_keygen;
	enum sc_alg alg;             /* SC_ALG_NONE: the server's default */
	int64_t retry_min_s, retry_max_s;
	const char *crash_at;        /* test hook: _exit at this named step */
	const char *stop_at;         /* test hook: SIGSTOP ourselves at this named step */
};

/* One key the agent knows: issued by the SP, its certificate as PEM. */
struct agent_key {
	int present;
	uint32_t handle;
	char profile_id[2 * SC_PROFILE_ID_LEN + 1];
	char serial[65];
	int64_t not_before, not_after, renew_at;
	char *cert_pem;              /* owned */
	int written;                 /* pending only: already in leaf.pem (server unreachable) */
};

struct agent_state {
	struct agent_key current;    /* acknowledged by the server; what leaf.pem shows */
	struct agent_key pending;    /* issued by the SP, not yet acknowledged */
	int has_inflight;            /* a profile was received; the SP may or may not have issued */
	char inflight_id[2 * SC_PROFILE_ID_LEN + 1];
	uint32_t retire[AGENT_MAX_RETIRE];  /* old handles to delete from the SP */
	size_t n_retire;
};

/* state.c */
void agent_state_clear(struct agent_state *st);
/* Missing file: an empty state. A damaged one: SC_ERR_MALFORMED naming the field. */
sc_err agent_state_load(const char *path, struct agent_state *st) SC_MUST_USE;
/* Atomic (temp file, fsync, rename, fsync dir). */
sc_err agent_state_save(const char *path, const struct agent_state *st) SC_MUST_USE;
void agent_key_clear(struct agent_key *k);
/* Fill k's serial/validity/profile ID from its certificate (and renew_at: 2/3 of the lifetime
 * less a random jitter of up to a tenth). */
sc_err agent_key_from_cert(struct agent_key *k, uint32_t handle, X509 *cert) SC_MUST_USE;

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
	long status;                 /* HTTP status, 0 if no answer */
	void *json;                  /* json_t * of the answer (an object), or NULL */
	char error[48];              /* the API's error code, "" if none */
	char detail[256];
};
void agent_reply_clear(struct agent_reply *rep);

/*
 * POST a JSON object (json_t *, borrowed) to path ("/v1/profiles"). SC_OK whenever an answer
 * came back (look at rep->status); SC_ERR_IO / SC_ERR_PEER if none did or it was not JSON.
 */
sc_err agent_http_post(struct agent_http *h, const char *path, void *body, struct agent_reply *rep) SC_MUST_USE;

/* enroll.c */
struct agent {
	const struct agent_cfg *cfg;
	struct agent_http *http;
	volatile sig_atomic_t *stop;
	char device_id[SC_DEVICE_ID_MAX + 1];
	char state_path[4096], leaf_path[4096], chain_path[4096];
	char refusal[48];            /* the server's error code of the last refusal, "" if none */
	int force;                   /* renew in the next round even if not due (--force-renew) */
	const char *action;          /* what the last round did: "enrolled", "renewed", "unchanged" */
};

/*
 * One round: resume whatever a crash interrupted, return a pending certificate, delete retired
 * keys, and enroll or renew when due (or forced). *next_at is when the next round is due.
 * *did is 1 if a new certificate was acknowledged in this round. Refusals are SC_ERR_DENIED
 * (exit 1, name in a->refusal); unreachable server or SP SC_ERR_IO/SC_ERR_PEER (exit 3).
 */
sc_err agent_round(struct agent *a, time_t *next_at, int *did) SC_MUST_USE;

/*
 * The test hooks (--test-crash-at, --test-stop-at): if cfg->crash_at names step, die here as a
 * crash would (no clean-up, exit 86); if cfg->stop_at does, stop (SIGSTOP) until continued, so a
 * test can restart the server or the SP at exactly this point.
 */
void agent_crash_point(const struct agent_cfg *cfg, const char *step);

#endif
