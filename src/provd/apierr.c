/*
 * apierr.c — the table behind apierr.h, in enum order (checked by test_api).
 */
#include "apierr.h"

static const struct {
	const char *name;
	int status;
} codes[PROVD_E_COUNT] = {
	[PROVD_E_MALFORMED_JSON] = { "malformed-json", 400 },
	[PROVD_E_JSON_TOO_DEEP] = { "json-too-deep", 400 },
	[PROVD_E_MISSING_FIELD] = { "missing-field", 400 },
	[PROVD_E_UNKNOWN_FIELD] = { "unknown-field", 400 },
	[PROVD_E_WRONG_TYPE] = { "wrong-type", 400 },
	[PROVD_E_BAD_VALUE] = { "bad-value", 400 },
	[PROVD_E_BAD_BASE64] = { "bad-base64", 400 },
	[PROVD_E_BAD_HEX] = { "bad-hex", 400 },
	[PROVD_E_BAD_DER] = { "bad-der", 400 },
	[PROVD_E_UNAUTHORIZED] = { "unauthorized", 401 },
	[PROVD_E_UNKNOWN_DEVICE] = { "unknown-device", 403 },
	[PROVD_E_REVOKED] = { "revoked", 403 },
	[PROVD_E_ADMIN_DISABLED] = { "admin-disabled", 403 },
	[PROVD_E_NOT_FOUND] = { "not-found", 404 },
	[PROVD_E_METHOD] = { "method-not-allowed", 405 },
	[PROVD_E_REPLAY] = { "replay", 409 },
	[PROVD_E_PROFILE_CONSUMED] = { "profile-consumed", 409 },
	[PROVD_E_BODY_TOO_LARGE] = { "body-too-large", 413 },
	[PROVD_E_MEDIA_TYPE] = { "unsupported-media-type", 415 },
	[PROVD_E_CHAIN] = { "chain", 422 },
	[PROVD_E_NOT_DEVICE_CA] = { "not-device-ca", 422 },
	[PROVD_E_KEK_MISMATCH] = { "kek-mismatch", 422 },
	[PROVD_E_ALGORITHM] = { "algorithm", 422 },
	[PROVD_E_POLICY] = { "policy", 422 },
	[PROVD_E_PROFILE_UNKNOWN] = { "profile-unknown", 422 },
	[PROVD_E_DEVICE_MISMATCH] = { "device-mismatch", 422 },
	[PROVD_E_BINDING] = { "binding", 422 },
	[PROVD_E_RATE_LIMITED] = { "rate-limited", 429 },
	[PROVD_E_INTERNAL] = { "internal", 500 },
	[PROVD_E_UNAVAILABLE] = { "unavailable", 503 },
};

const char *provd_code_name(int code)
{
	if (code < 0 || code >= PROVD_E_COUNT || codes[code].name == 0)
		return "internal";
	return codes[code].name;
}

int provd_code_status(int code)
{
	if (code < 0 || code >= PROVD_E_COUNT || codes[code].status == 0)
		return 500;
	return codes[code].status;
}
