// SPDX-License-Identifier: Apache-2.0
/*
 * api.h — the provisioning API, independent of the HTTP library: a request (method, path,
 * headers that matter, body bytes) goes in, a response (status, JSON or text body) comes out.
 * selfcert-provd's HTTP layer (main.c) feeds it from libmicrohttpd; the unit tests and the fuzz
 * target call it directly. Every endpoint is in docs/API.md; routes.c's table is the whole
 * surface, handlers.h the handlers behind it.
 *
 * Everything cryptographic is libselfcert's: the profile is built and signed with
 * sc_profile_create/sc_profile_sign, device chains are checked by X.509 path validation to the
 * manufacturer root, returned certificates by sc_verify_chain against the stored profile.
 * Work a device would make the server repeat is remembered: certificates parsed (certcache.h),
 * signatures verified (sc_sig_cache, selfcert/verify.h: a signature's validity never changes) and
 * the profiles signed (profcache.h). Validity periods, constraints, bindings and the registry's
 * state are checked on every request.
 */
#ifndef SC_PROVD_API_H
#define SC_PROVD_API_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "apierr.h"
#include "certcache.h"
#include "keygen.h"
#include "profcache.h"
#include "metrics.h"
#include "operators.h"
#include "policy.h"
#include "registry.h"

#define PROVD_MAX_BODY (64 * 1024) /* request bodies larger than this: 413 */
#define PROVD_BATCH_MAX 32         /* certificates in one POST /v1/certificates/batch (#17) */
#define PROVD_JSON_MAX_DEPTH 4     /* our requests nest 2 deep; refuse anything past 4 */
#define PROVD_MAX_CHAIN 4          /* certificates in a device's chain (device CA, mfr CA, …) */
#define PROVD_ADMIN_TOKEN_MIN 16   /* bytes: a shorter operator token is refused at start */
#define PROVD_ADMIN_TOKEN_MAX 256
/* Signatures remembered (32 bytes each): the CA certificates of the devices in flight, many
 * times over. */
#define PROVD_SIGCACHE_DEFAULT 4096

/* What the server is: read-only after start, shared by every worker. */
struct provd_api {
	X509 *mfr_root;                   /* trust anchor for device chains */
	uint8_t mfr_root_sha256[32];      /* X509_digest(mfr_root, SHA-256), once at load */
	X509_STORE *mfr_store;            /* mfr_root only, built at load; NULL: one per check */
	struct provd_certcache *certs;    /* parsed certificates by DER digest; NULL: none */
	struct sc_sig_cache *sigs;        /* signatures verified (selfcert/verify.h); NULL: none */
	struct provd_profcache *profiles; /* signed profiles awaiting their certificate */
	struct provd_leafrefs *leafrefs;  /* #17 renew7: renewal certificates' references */
	X509 *net_root;                   /* the network root (verifies our own profiles) */
	X509 *signer;                     /* profile signer certificate and key (NETDIR/signer.*) */
	EVP_PKEY *signer_key;
	/* judge11: signer_key's signing context made once (fast/profile_signer.h); NULL: each
	 * profile signed by sc_profile_sign (unit tests that fill the struct themselves). */
	struct sc_profile_signer *profile_signer;
	/* Set by the caller before provd_api_load: --signer-key (a file or a pkcs11: URI); NULL:
	 * NETDIR/signer.key. Not owned. */
	const char *signer_key_spec;
	size_t leafrefs_max;                    /* --leaf-refs (0: PROVD_LEAFREFS_DEFAULT) */
	char network_id[SC_NETWORK_ID_MAX + 1]; /* the signer's subject O */
	struct provd_policy policy;
	/* #17 ref10: pinned profiles' first certificates (firstrefs.h), bounded by leafrefs_max */
	struct provd_firstrefs *firstrefs;
	/* flood19: device-ca-changed audit rows, one per device and chain shown per window (auditlim.h) */
	struct provd_auditlim *auditlim;
	uint8_t admin_token_hash[32]; /* SHA-256 of the operator's bearer token */
	int admin_enabled;            /* 0: /revoke answers admin-disabled */
	/* The operators (operators.h): named tokens, "admin" for the token above, the throttle.
	 * NULL: the token above alone, unthrottled (the unit tests). The caller's to free. */
	struct provd_operators *operators;
	struct provd_metrics *metrics; /* may be NULL */
	/* Server keys (embodiment 2) are made here, off the HTTP workers; NULL: on the request's
	 * own thread (the unit tests). Started by the caller, stopped by provd_api_free. */
	struct provd_keygen *keygen;
	long keygen_wait_ms; /* a request's wait for its key; 0: PROVD_KEYGEN_WAIT_MS */
	/*
	 * 1: /metrics leaves out the registry's gauges. They count the shared registry, the same
	 * on every node: with several nodes one serves them (or a query takes max(), never sum()),
	 * and the others skip their count(*)s per scrape.
	 */
	int no_registry_gauges;
	/*
	 * Issue 14: the manufacturer's CRLs (--mfr-crl, provd_mfr_crls_load), PEM as GET /v1/crls
	 * serves them ahead of the devices' own; NULL/0: none. Owned (free).
	 */
	char *mfr_crls_pem;
	size_t mfr_crls_len, n_mfr_crls;
	/*
	 * #17: Merkle batch profiles for devices that ask ("batch": true; batcher.h); NULL: every
	 * profile signed alone. Made by the caller after provd_api_load, freed by provd_api_free.
	 */
	struct provd_batcher *batcher;
	/*
	 * #17: --profile-commit deferred. A profile's registry commit is not synced to the disk on
	 * its own; the device's certificate registration (a durable commit) carries it there: one
	 * sync per first enrollment instead of two (registry.h, deferred_commit).
	 */
	int profile_commit_deferred;
};

#define PROVD_MFR_CRL_FILES_MAX 16        /* --mfr-crl files */
#define PROVD_MFR_CRL_FILE_MAX (4u << 20) /* each file */
#define PROVD_CRL_PEM_MAX 8192            /* a device's "crl" (PEM of at most SC_CRL_MAX_DER) */
#define PROVD_CRLS_MAX 200000             /* device CRLs in one GET /v1/crls */
#define PROVD_CRLS_MAX_BYTES (256u << 20) /* the whole bundle */

/*
 * Load the --mfr-crl files (n, at most PROVD_MFR_CRL_FILES_MAX) into api: each at most
 * PROVD_MFR_CRL_FILE_MAX bytes holding one or more PEM CRLs, each with a nextUpdate
 * (SC_ERR_MALFORMED), one whose issuer is the manufacturer root signed by it (SC_ERR_SIGNATURE);
 * the detail names the file. Their expiry is the operator's (`selfcert mfr revoke` from a timer).
 */
sc_err provd_mfr_crls_load(struct provd_api *api, const char *const *files, size_t n) SC_MUST_USE;

/*
 * A device's "crl" (PEM text, len bytes): exactly one PEM CRL (SC_ERR_MALFORMED; more text:
 * SC_ERR_TRAILING; over PROVD_CRL_PEM_MAX: SC_ERR_OVERSIZE), a device CA CRL of device_ca
 * (sc_crl_device_decode at now). *der (OPENSSL_free) and *out (X509_CRL_free) are the caller's.
 */
sc_err provd_crl_from_pem(const char *pem, size_t len, X509 *device_ca, int64_t now, uint8_t **der,
    size_t *der_len, X509_CRL **out) SC_MUST_USE;

#define PROVD_QUERY_MAX 8 /* query parameters in one request; more: bad-value */

/* One query parameter as the HTTP layer decoded it (value NULL: "?key" without '='). */
struct provd_query_arg {
	const char *key, *value;
};

struct provd_request {
	const char *method;        /* "GET", "POST", … */
	const char *path;          /* decoded path without the query: "/v1/profiles" */
	const char *content_type;  /* NULL if absent */
	const char *authorization; /* NULL if absent */
	const uint8_t *body;
	size_t body_len;
	const char *peer;                    /* "127.0.0.1", for the audit log */
	const struct provd_query_arg *query; /* n_query of them; borrowed */
	size_t n_query;
	int query_overflow; /* more than PROVD_QUERY_MAX were sent */
	/* The console's (issue 18): the Cookie and X-CSRF-Token headers, NULL if absent. */
	const char *cookie;
	const char *csrf_token;
};

struct provd_response {
	int status;
	const char *content_type; /* static string */
	char *body;               /* owned (free) */
	size_t body_len;
	int code;            /* a provd_code on an error answer, else -1 */
	int64_t retry_after; /* > 0: send Retry-After */
	const char *allow;   /* a 405's Allow header (static string), else NULL */
	enum provd_endpoint endpoint;
	char log[256]; /* the server log's text: IDs and the detail, no secrets */
	/* The console's (issue 18): a Set-Cookie value ("" none), a Content-Disposition ("" none). */
	char set_cookie[160];
	char disposition[80];
};

/*
 * Load NETDIR/signer.pem, the signer key (api->signer_key_spec, else NETDIR/signer.key),
 * root.pem and the manufacturer root into api (the network ID from the signer's subject O; the
 * signer must chain to root.pem). The network root's private key is never needed here. Policy and metrics are
 * the caller's to set. SC_ERR_IO / SC_ERR_MALFORMED / SC_ERR_UNTRUSTED_SIGNER naming the file.
 * What was loaded stays in api on failure too: provd_api_free it either way.
 */
sc_err provd_api_load(struct provd_api *api, const char *net_dir,
    const char *mfr_root_path) SC_MUST_USE;

/* Read the operator's bearer token from a file (0600, 16..256 bytes, trailing newline ignored). */
sc_err provd_api_set_admin_token(struct provd_api *api, const char *path) SC_MUST_USE;

void provd_api_free(struct provd_api *api);

/*
 * Answer one request. Never fails: every problem becomes an error answer with its code and
 * status. reg is the worker's registry connection. resp is overwritten; resp->body is the
 * caller's (provd_response_clear).
 */
void provd_api_handle(const struct provd_api *api, struct sc_reg *reg,
    const struct provd_request *req, struct provd_response *resp);

void provd_response_clear(struct provd_response *resp);

/*
 * An error answer for the HTTP layer's own refusals (a body too large, refused before it is
 * read): fills resp as provd_api_handle would for a handler failing with e (apierr.h).
 */
void provd_api_error(struct provd_response *resp, sc_err e, const char *detail);

#endif
