/*
 * apierr.h — the provisioning API's stable error codes: one table of names and HTTP statuses.
 * Every error answer is {"error":"<code>","detail":"<one line>"}; clients branch on the code,
 * people read the detail. Codes are never renamed; new ones are appended.
 */
#ifndef SC_PROVD_APIERR_H
#define SC_PROVD_APIERR_H

enum provd_code {
	PROVD_E_MALFORMED_JSON,     /* 400 not JSON, not one object, bad UTF-8, duplicate keys */
	PROVD_E_JSON_TOO_DEEP,      /* 400 nested deeper than PROVD_JSON_MAX_DEPTH */
	PROVD_E_MISSING_FIELD,      /* 400 */
	PROVD_E_UNKNOWN_FIELD,      /* 400 */
	PROVD_E_WRONG_TYPE,         /* 400 a field of the wrong JSON type */
	PROVD_E_BAD_VALUE,          /* 400 right type, impossible value (length, range, name) */
	PROVD_E_BAD_BASE64,         /* 400 */
	PROVD_E_BAD_HEX,            /* 400 */
	PROVD_E_BAD_DER,            /* 400 a certificate that is not strict DER X.509 (or not PEM) */
	PROVD_E_UNAUTHORIZED,       /* 401 operator endpoint without the right bearer token */
	PROVD_E_UNKNOWN_DEVICE,     /* 403 on a profile request (not activated); 404 on device status */
	PROVD_E_REVOKED,            /* 403 */
	PROVD_E_ADMIN_DISABLED,     /* 403 operator endpoints off (no --admin-token-file) */
	PROVD_E_NOT_FOUND,          /* 404 no such endpoint */
	PROVD_E_METHOD,             /* 405 */
	PROVD_E_REPLAY,             /* 409 the challenge was already used */
	PROVD_E_PROFILE_CONSUMED,   /* 409 the profile already has another certificate */
	PROVD_E_BODY_TOO_LARGE,     /* 413 */
	PROVD_E_MEDIA_TYPE,         /* 415 not application/json */
	PROVD_E_CHAIN,              /* 422 does not chain to the manufacturer root */
	PROVD_E_NOT_DEVICE_CA,      /* 422 the chain's first certificate is not a device CA */
	PROVD_E_KEK_MISMATCH,       /* 422 KEK certificate of another device or another issuer */
	PROVD_E_ALGORITHM,          /* 422 algorithm not allowed by the policy */
	PROVD_E_POLICY,             /* 422 server keygen off, challenge required, validity impossible */
	PROVD_E_PROFILE_UNKNOWN,    /* 422 certificate for a profile this server never issued */
	PROVD_E_DEVICE_MISMATCH,    /* 422 certificate of another device than the profile's */
	PROVD_E_BINDING,            /* 422 certificate does not match its profile (key, validity, …) */
	PROVD_E_RATE_LIMITED,       /* 429 (Retry-After) */
	PROVD_E_INTERNAL,           /* 500 */
	PROVD_E_UNAVAILABLE,        /* 503 the registry is busy or failing */
	PROVD_E_COUNT
};

/* "malformed-json" …; "internal" for an unknown value. */
const char *provd_code_name(int code);
/* The HTTP status that goes with the code (PROVD_E_UNKNOWN_DEVICE: 403). */
int provd_code_status(int code);

#endif
