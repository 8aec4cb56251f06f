// SPDX-License-Identifier: Apache-2.0
/*
 * apierr.c — the API's code names and the one table sc_err → {code, HTTP status} (apierr.h).
 * test_api checks that every code is reachable, every status is an error status and no sc_err
 * is listed twice.
 */
#include "apierr.h"

static const char *const names[PROVD_E_COUNT] = {
	[PROVD_E_MALFORMED_JSON] = "malformed-json",
	[PROVD_E_JSON_TOO_DEEP] = "json-too-deep",
	[PROVD_E_MISSING_FIELD] = "missing-field",
	[PROVD_E_UNKNOWN_FIELD] = "unknown-field",
	[PROVD_E_WRONG_TYPE] = "wrong-type",
	[PROVD_E_BAD_VALUE] = "bad-value",
	[PROVD_E_BAD_BASE64] = "bad-base64",
	[PROVD_E_BAD_HEX] = "bad-hex",
	[PROVD_E_BAD_DER] = "bad-der",
	[PROVD_E_UNAUTHORIZED] = "unauthorized",
	[PROVD_E_UNKNOWN_DEVICE] = "unknown-device",
	[PROVD_E_REVOKED] = "revoked",
	[PROVD_E_ADMIN_DISABLED] = "admin-disabled",
	[PROVD_E_NOT_FOUND] = "not-found",
	[PROVD_E_METHOD] = "method-not-allowed",
	[PROVD_E_REPLAY] = "replay",
	[PROVD_E_PROFILE_CONSUMED] = "profile-consumed",
	[PROVD_E_BODY_TOO_LARGE] = "body-too-large",
	[PROVD_E_MEDIA_TYPE] = "unsupported-media-type",
	[PROVD_E_CHAIN] = "chain",
	[PROVD_E_NOT_DEVICE_CA] = "not-device-ca",
	[PROVD_E_KEK_MISMATCH] = "kek-mismatch",
	[PROVD_E_ALGORITHM] = "algorithm",
	[PROVD_E_POLICY] = "policy",
	[PROVD_E_PROFILE_UNKNOWN] = "profile-unknown",
	[PROVD_E_DEVICE_MISMATCH] = "device-mismatch",
	[PROVD_E_PROFILE_EXPIRED] = "profile-expired",
	[PROVD_E_BINDING] = "binding",
	[PROVD_E_RATE_LIMITED] = "rate-limited",
	[PROVD_E_INTERNAL] = "internal",
	[PROVD_E_UNAVAILABLE] = "unavailable",
	[PROVD_E_BAD_REQUEST] = "bad-request",
	[PROVD_E_REQUEST_TIMEOUT] = "request-timeout",
	[PROVD_E_ALREADY_REGISTERED] = "already-registered",
	[PROVD_E_BAD_PROOF] = "bad-proof",
	[PROVD_E_PROOF_EXPIRED] = "proof-expired",
	[PROVD_E_PROOF_MISMATCH] = "proof-mismatch",
	[PROVD_E_PROOF_REQUIRED] = "proof-required",
	[PROVD_E_DEVICE_CA_CHANGED] = "device-ca-changed",
	[PROVD_E_CSRF] = "csrf",
};

static const struct provd_apierr table[] = {
	/* The request itself (HTTP and JSON): provd's own codes. */
	{ PROVD_ERR_MALFORMED_JSON, PROVD_E_MALFORMED_JSON, 400, 0 },
	{ PROVD_ERR_JSON_TOO_DEEP, PROVD_E_JSON_TOO_DEEP, 400, 0 },
	{ PROVD_ERR_MISSING_FIELD, PROVD_E_MISSING_FIELD, 400, 0 },
	{ PROVD_ERR_UNKNOWN_FIELD, PROVD_E_UNKNOWN_FIELD, 400, 0 },
	{ PROVD_ERR_WRONG_TYPE, PROVD_E_WRONG_TYPE, 400, 0 },
	{ PROVD_ERR_BAD_VALUE, PROVD_E_BAD_VALUE, 400, 0 },
	{ PROVD_ERR_BAD_BASE64, PROVD_E_BAD_BASE64, 400, 0 },
	{ PROVD_ERR_BAD_HEX, PROVD_E_BAD_HEX, 400, 0 },
	{ PROVD_ERR_BAD_DER, PROVD_E_BAD_DER, 400, 0 },
	{ PROVD_ERR_UNAUTHORIZED, PROVD_E_UNAUTHORIZED, 401, 0 },
	{ PROVD_ERR_ADMIN_DISABLED, PROVD_E_ADMIN_DISABLED, 403, 0 },
	{ PROVD_ERR_NO_ENDPOINT, PROVD_E_NOT_FOUND, 404, 0 },
	{ PROVD_ERR_METHOD, PROVD_E_METHOD, 405, 0 },
	{ PROVD_ERR_BODY_TOO_LARGE, PROVD_E_BODY_TOO_LARGE, 413, 0 },
	{ PROVD_ERR_MEDIA_TYPE, PROVD_E_MEDIA_TYPE, 415, 0 },
	{ PROVD_ERR_BAD_REQUEST, PROVD_E_BAD_REQUEST, 400, 0 },
	{ PROVD_ERR_REQUEST_TIMEOUT, PROVD_E_REQUEST_TIMEOUT, 408, 0 },
	/* The device and the policy. */
	{ SC_ERR_NOT_DEVICE_CA, PROVD_E_NOT_DEVICE_CA, 422, 0 },
	{ PROVD_ERR_KEK_MISMATCH, PROVD_E_KEK_MISMATCH, 422, 0 },
	{ SC_ERR_KEK_MISMATCH, PROVD_E_KEK_MISMATCH, 422, 0 }, /* sc_device_verify's (act8) */
	{ PROVD_ERR_POLICY, PROVD_E_POLICY, 422, 0 },
	{ SC_ERR_CHAIN, PROVD_E_CHAIN, 422, 0 },
	{ SC_ERR_ALGORITHM, PROVD_E_ALGORITHM, 422, 0 },
	{ SC_ERR_BINDING, PROVD_E_BINDING, 422, 0 },
	/* The request proof (h_enroll.c): the request is not shown to be the device's. */
	{ SC_ERR_BAD_PROOF, PROVD_E_BAD_PROOF, 403, 0 },
	{ PROVD_ERR_PROOF_EXPIRED, PROVD_E_PROOF_EXPIRED, 403, 0 },
	{ PROVD_ERR_PROOF_MISMATCH, PROVD_E_PROOF_MISMATCH, 403, 0 },
	{ PROVD_ERR_PROOF_REQUIRED, PROVD_E_PROOF_REQUIRED, 403, 0 },
	{ PROVD_ERR_CSRF, PROVD_E_CSRF, 403, 0 },
	/* The registry's refusals. */
	{ SC_ERR_UNKNOWN_DEVICE, PROVD_E_UNKNOWN_DEVICE, 403, 0 },
	{ SC_ERR_REVOKED, PROVD_E_REVOKED, 403, 0 },
	{ SC_ERR_REPLAY, PROVD_E_REPLAY, 409, 0 },
	{ SC_ERR_PIN_MISMATCH, PROVD_E_DEVICE_CA_CHANGED, 409, 0 },
	{ SC_ERR_PROFILE_CONSUMED, PROVD_E_PROFILE_CONSUMED, 409, 0 },
	{ SC_ERR_PROFILE_UNKNOWN, PROVD_E_PROFILE_UNKNOWN, 422, 0 },
	{ SC_ERR_DEVICE_MISMATCH, PROVD_E_DEVICE_MISMATCH, 422, 0 },
	/* The profile's own lifetime, as the SP judges it (h_enroll.c, PROVD_CLOCK_SKEW_S). */
	{ SC_ERR_PROFILE_EXPIRED, PROVD_E_PROFILE_EXPIRED, 422, 0 },
	{ SC_ERR_RATE_LIMITED, PROVD_E_RATE_LIMITED, 429, PROVD_AE_RETRY_AFTER },
	/* A /v1/devices/{id} route names a device the registry does not have: 404, not 403. */
	{ SC_ERR_NOT_FOUND, PROVD_E_UNKNOWN_DEVICE, 404, 0 },
	/* An operator's activation of a device the registry has (h_operator.c). */
	{ SC_ERR_EXISTS, PROVD_E_ALREADY_REGISTERED, 409, 0 },
	/* Ours. */
	{ SC_ERR_INTERNAL, PROVD_E_INTERNAL, 500, 0 },
	{ SC_ERR_NOMEM, PROVD_E_INTERNAL, 500, 0 },
	{ SC_ERR_IO, PROVD_E_UNAVAILABLE, 503, 0 },
	{ PROVD_ERR_BUSY, PROVD_E_UNAVAILABLE, 503, PROVD_AE_RETRY_AFTER },
};

const char *provd_code_name(int code)
{
	if (code < 0 || code >= PROVD_E_COUNT || names[code] == 0)
		return "internal";
	return names[code];
}

const struct provd_apierr *provd_apierr_find(sc_err e)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == e)
			return &table[i];
	return NULL;
}

const struct provd_apierr *provd_apierr_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

sc_err provd_registry_err(sc_err r)
{
	switch (r) {
	case SC_ERR_UNKNOWN_DEVICE:
	case SC_ERR_REVOKED:
	case SC_ERR_RATE_LIMITED:
	case SC_ERR_REPLAY:
	case SC_ERR_PROFILE_UNKNOWN:
	case SC_ERR_PROFILE_CONSUMED:
	case SC_ERR_DEVICE_MISMATCH:
	case SC_ERR_PIN_MISMATCH: return r;
	case SC_ERR_IO: return sc_fail(SC_ERR_IO, "registry: %s", sc_err_detail());
	default:
		return sc_fail(SC_ERR_INTERNAL, "registry: %s: %s", sc_err_name(r),
		    sc_err_detail());
	}
}
