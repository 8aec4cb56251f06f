// SPDX-License-Identifier: Apache-2.0
/*
 * apierr.h — the provisioning API's stable error codes and the one table that turns a handler's
 * sc_err into {code, HTTP status}. Every error answer is {"error":"<code>","detail":"<one line>"};
 * clients branch on the code, people read the detail. Codes are never renamed; new ones are
 * appended.
 *
 * Handlers speak sc_err only. The registry's refusals and the library's checks keep their own
 * codes (SC_ERR_REVOKED → revoked, SC_ERR_CHAIN → chain, …). The distinctions only HTTP makes
 * (which JSON field was wrong, which header was missing) are sc_err values of provd's own, in a
 * range far below the library's (PROVD_ERR_*), so that one type carries every failure, as
 * s2n-tls keeps its error ranges in one enum. They never leave this program: sc_err_name() does
 * not know them, the table here does.
 */
#ifndef SC_PROVD_APIERR_H
#define SC_PROVD_APIERR_H

#include <stddef.h>
#include <selfcert/err.h>

/* The codes on the wire, in docs/API.md's order (the metrics count refusals by this index). */
enum provd_code {
	PROVD_E_MALFORMED_JSON,   /* 400 not JSON, not one object, bad UTF-8, duplicate keys */
	PROVD_E_JSON_TOO_DEEP,    /* 400 nested deeper than PROVD_JSON_MAX_DEPTH */
	PROVD_E_MISSING_FIELD,    /* 400 */
	PROVD_E_UNKNOWN_FIELD,    /* 400 */
	PROVD_E_WRONG_TYPE,       /* 400 a field of the wrong JSON type */
	PROVD_E_BAD_VALUE,        /* 400 right type, impossible value (length, range, name) */
	PROVD_E_BAD_BASE64,       /* 400 */
	PROVD_E_BAD_HEX,          /* 400 */
	PROVD_E_BAD_DER,          /* 400 a certificate not strict DER X.509 (or not PEM) */
	PROVD_E_UNAUTHORIZED,     /* 401 operator endpoint without the right bearer token */
	PROVD_E_UNKNOWN_DEVICE,   /* 403 (not activated); 404 on device status */
	PROVD_E_REVOKED,          /* 403 */
	PROVD_E_ADMIN_DISABLED,   /* 403 operator endpoints off (no --admin-token-file) */
	PROVD_E_NOT_FOUND,        /* 404 no such endpoint */
	PROVD_E_METHOD,           /* 405 */
	PROVD_E_REPLAY,           /* 409 the challenge was already used */
	PROVD_E_PROFILE_CONSUMED, /* 409 the profile already has another certificate */
	PROVD_E_BODY_TOO_LARGE,   /* 413 */
	PROVD_E_MEDIA_TYPE,       /* 415 not application/json */
	PROVD_E_CHAIN,            /* 422 does not chain to the manufacturer root */
	PROVD_E_NOT_DEVICE_CA,    /* 422 the chain's first certificate is not a device CA */
	PROVD_E_KEK_MISMATCH,     /* 422 KEK certificate of another device or another issuer */
	PROVD_E_ALGORITHM,        /* 422 algorithm not allowed by the policy */
	PROVD_E_POLICY,           /* 422 keygen off, challenge required, validity impossible */
	PROVD_E_PROFILE_UNKNOWN,  /* 422 certificate for a profile this server never issued */
	PROVD_E_DEVICE_MISMATCH,  /* 422 certificate of another device than the profile's */
	PROVD_E_PROFILE_EXPIRED,  /* 422 certificate returned after its profile's profileNotAfter */
	PROVD_E_BINDING,          /* 422 certificate does not match its profile (key, …) */
	PROVD_E_RATE_LIMITED,     /* 429 (Retry-After) */
	PROVD_E_INTERNAL,         /* 500 */
	PROVD_E_UNAVAILABLE,      /* 503 the registry is busy or failing */
	PROVD_E_BAD_REQUEST,      /* 400 two Content-Length, or one with Transfer-Encoding */
	PROVD_E_REQUEST_TIMEOUT,  /* 408 headers and body not in by --request-deadline */
	PROVD_E_ALREADY_REGISTERED, /* 409 activating a device ID the registry already has */
	/* Request proofs (docs/API.md "proof"): each a 403, the request is not the device's. */
	PROVD_E_BAD_PROOF,      /* 403 the proof's signature does not verify with the device CA */
	PROVD_E_PROOF_EXPIRED,  /* 403 the proof's time is outside the freshness window */
	PROVD_E_PROOF_MISMATCH, /* 403 a field the proof binds differs from the request's */
	PROVD_E_PROOF_REQUIRED, /* 403 no proof, and --unauthenticated-budget 0 */
	/* 409 a known device shows another device CA or KEK than its pin (issue 17) */
	PROVD_E_DEVICE_CA_CHANGED,
	/* The console (issue 18): a change without its session's X-CSRF-Token. */
	PROVD_E_CSRF, /* 403 */
	PROVD_E_COUNT
};

/* "malformed-json" …; "internal" for an unknown value. */
const char *provd_code_name(int code);

/* provd's own sc_err values: the refusals that exist only in the HTTP API. */
#define PROVD_ERR_BASE (-1000)
#define PROVD_ERR_MALFORMED_JSON ((sc_err)(PROVD_ERR_BASE - 1))
#define PROVD_ERR_JSON_TOO_DEEP ((sc_err)(PROVD_ERR_BASE - 2))
#define PROVD_ERR_MISSING_FIELD ((sc_err)(PROVD_ERR_BASE - 3))
#define PROVD_ERR_UNKNOWN_FIELD ((sc_err)(PROVD_ERR_BASE - 4))
#define PROVD_ERR_WRONG_TYPE ((sc_err)(PROVD_ERR_BASE - 5))
#define PROVD_ERR_BAD_VALUE ((sc_err)(PROVD_ERR_BASE - 6))
#define PROVD_ERR_BAD_BASE64 ((sc_err)(PROVD_ERR_BASE - 7))
#define PROVD_ERR_BAD_HEX ((sc_err)(PROVD_ERR_BASE - 8))
#define PROVD_ERR_BAD_DER ((sc_err)(PROVD_ERR_BASE - 9))
#define PROVD_ERR_UNAUTHORIZED ((sc_err)(PROVD_ERR_BASE - 10))
#define PROVD_ERR_ADMIN_DISABLED ((sc_err)(PROVD_ERR_BASE - 11))
#define PROVD_ERR_NO_ENDPOINT ((sc_err)(PROVD_ERR_BASE - 12)) /* not-found */
#define PROVD_ERR_METHOD ((sc_err)(PROVD_ERR_BASE - 13))      /* resp->allow set */
#define PROVD_ERR_BODY_TOO_LARGE ((sc_err)(PROVD_ERR_BASE - 14))
#define PROVD_ERR_MEDIA_TYPE ((sc_err)(PROVD_ERR_BASE - 15))
/* PROVD_ERR_BASE - 16 was not-device-ca: now the library's SC_ERR_NOT_DEVICE_CA. */
#define PROVD_ERR_KEK_MISMATCH ((sc_err)(PROVD_ERR_BASE - 17))
#define PROVD_ERR_POLICY ((sc_err)(PROVD_ERR_BASE - 18))
#define PROVD_ERR_BAD_REQUEST ((sc_err)(PROVD_ERR_BASE - 19))
/* Server key generation has all the jobs it admits (keygen.h): 503 unavailable, Retry-After. */
#define PROVD_ERR_BUSY ((sc_err)(PROVD_ERR_BASE - 20))
/* A request's headers and body did not arrive within --request-deadline: 408. */
#define PROVD_ERR_REQUEST_TIMEOUT ((sc_err)(PROVD_ERR_BASE - 21))

/* Request proofs: stale or from the future, bound to other fields, or required. */
#define PROVD_ERR_PROOF_EXPIRED ((sc_err)(PROVD_ERR_BASE - 22))
#define PROVD_ERR_PROOF_MISMATCH ((sc_err)(PROVD_ERR_BASE - 23))
#define PROVD_ERR_PROOF_REQUIRED ((sc_err)(PROVD_ERR_BASE - 24))

/* The console: a state change without the session's CSRF token (403 csrf). */
#define PROVD_ERR_CSRF ((sc_err)(PROVD_ERR_BASE - 25))

#define PROVD_AE_RETRY_AFTER 0x1 /* the answer carries Retry-After (resp->retry_after, >= 1) */

/* One row of the table: what a failure with this sc_err answers. */
struct provd_apierr {
	sc_err err;
	enum provd_code code;
	int status;
	unsigned flags; /* PROVD_AE_* */
};

/*
 * The row for e. An sc_err the table does not list is a bug or an unexpected library failure:
 * NULL, and the caller answers internal (500) naming the sc_err.
 */
const struct provd_apierr *provd_apierr_find(sc_err e);

/* Every row, for the tests (*n rows). */
const struct provd_apierr *provd_apierr_table(size_t *n);

/*
 * A registry call's failure as the API answers it: its refusals (SC_ERR_REVOKED, …) as they are,
 * a busy or failing database (SC_ERR_IO) as unavailable, anything else internal; the detail says
 * "registry: …". Returns the sc_err to fail with.
 */
sc_err provd_registry_err(sc_err r);

#endif
