// SPDX-License-Identifier: Apache-2.0
/*
 * err.c — the one table of error names and messages, and the per-thread detail line.
 * Names are a stable interface (the CLI prints them; the SP sends the numbers).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <selfcert/err.h>

struct err_entry {
	sc_err code;
	const char *name;
	const char *message;
	int exit_code;
};

/* Ordered by code (0, -1, -2, …) so that lookup is an index. */
static const struct err_entry err_table[] = {
	{ SC_OK, "ok", "done", 0 },
	{ SC_ERR_INTERNAL, "internal", "internal error", 3 },
	{ SC_ERR_NOMEM, "nomem", "out of memory", 3 },
	{ SC_ERR_IO, "io", "input/output error", 3 },
	{ SC_ERR_USAGE, "usage", "bad argument", 2 },
	{ SC_ERR_MALFORMED, "malformed", "malformed input", 1 },
	{ SC_ERR_TRAILING, "trailing-data", "trailing bytes after the structure", 1 },
	{ SC_ERR_OVERSIZE, "oversize", "input over its size limit", 1 },
	{ SC_ERR_CONTENT_TYPE, "content-type", "not a selfcert profile", 1 },
	{ SC_ERR_VERSION, "version", "unknown version", 1 },
	{ SC_ERR_NETWORK, "network-unknown", "no trust anchor for this network ID", 1 },
	{ SC_ERR_UNTRUSTED_SIGNER, "untrusted-signer",
	    "profile signer does not chain to the network anchor", 1 },
	{ SC_ERR_SIGNER_EKU, "signer-eku", "profile signer is not authorized to sign profiles", 1 },
	{ SC_ERR_PROFILE_SIGNATURE, "profile-signature", "profile signature does not verify", 1 },
	{ SC_ERR_DEVICE_MISMATCH, "device-mismatch", "profile is for another device", 1 },
	{ SC_ERR_PROFILE_EXPIRED, "profile-expired", "profile has expired", 1 },
	{ SC_ERR_REPLAY, "replay", "profile was already used", 1 },
	{ SC_ERR_CHALLENGE, "challenge", "challenge missing, unknown or used", 1 },
	{ SC_ERR_VALIDITY, "validity", "requested validity not acceptable", 1 },
	{ SC_ERR_ALGORITHM, "algorithm", "algorithm not allowed", 1 },
	{ SC_ERR_KEY_DECRYPT, "key-decrypt",
	    "supplied key does not decrypt with the key-exchange key", 1 },
	{ SC_ERR_KEY_MISMATCH, "key-mismatch", "supplied key does not match its public key", 1 },
	{ SC_ERR_EXTENSION, "extension", "requested extension not allowed", 1 },
	{ SC_ERR_STATE, "state", "request not permitted in this state", 1 },
	{ SC_ERR_LOCKED, "locked", "secure processor is locked", 1 },
	{ SC_ERR_STORE_FULL, "store-full", "no free key slot", 1 },
	{ SC_ERR_NO_KEY, "no-key", "no such key", 1 },
	{ SC_ERR_KEY_USAGE, "key-usage", "key's certificate does not allow this use", 1 },
	{ SC_ERR_ROLLBACK, "rollback", "store is older than the monotonic counter", 1 },
	{ SC_ERR_STORE_DAMAGED, "store-damaged", "sealed store fails authentication", 1 },
	{ SC_ERR_PEER, "peer", "peer did not answer or broke protocol", 3 },
	{ SC_ERR_DENIED, "denied", "peer not allowed", 1 },
	{ SC_ERR_CHAIN, "chain", "certificate path validation failed", 1 },
	{ SC_ERR_BINDING, "binding", "certificate does not match its issuance record", 1 },
	{ SC_ERR_EXISTS, "exists", "refusing to overwrite", 3 },
	{ SC_ERR_NOT_FOUND, "not-found", "not found", 1 },
	{ SC_ERR_UNKNOWN_REQUEST, "unknown-request", "unknown request type", 1 },
	{ SC_ERR_UNKNOWN_DEVICE, "unknown-device", "device not registered", 1 },
	{ SC_ERR_REVOKED, "revoked", "device revoked", 1 },
	{ SC_ERR_RATE_LIMITED, "rate-limited", "too many profiles for the device", 1 },
	{ SC_ERR_PROFILE_UNKNOWN, "profile-unknown", "no such profile was issued", 1 },
	{ SC_ERR_PROFILE_CONSUMED, "profile-consumed", "profile already has a certificate", 1 },
	{ SC_ERR_NOT_DEVICE_CA, "not-device-ca", "certificate is not a device CA", 1 },
	{ SC_ERR_BAD_PROOF, "bad-proof", "request proof does not verify", 1 },
	{ SC_ERR_TPM, "tpm", "the TPM failed a command", 1 },
	{ SC_ERR_STALE, "stale", "signed list past its next update", 1 },
	{ SC_ERR_SIGNATURE, "signature", "signature does not verify", 1 },
	{ SC_ERR_GATE, "gate", "the operator's authorization is missing or refused", 1 },
	{ SC_ERR_PIN_MISMATCH, "device-ca-changed", "device CA or KEK differs from the pinned one",
	    1 },
	{ SC_ERR_RENEWAL_SPENT, "renewal-spent", "renewal profile has issued all its certificates",
	    1 },
	{ SC_ERR_RENEWAL_EARLY, "renewal-early", "renewal not due yet", 1 },
	{ SC_ERR_BATCH_PATH, "batch-path", "Merkle inclusion path does not lead to the root", 1 },
	{ SC_ERR_KEK_MISMATCH, "kek-mismatch", "KEK certificate is not the device CA's companion",
	    1 },
};

static const struct err_entry *lookup(sc_err e)
{
	long i = -(long)e;
	if (i < 0 || (size_t)i >= sizeof(err_table) / sizeof(err_table[0]))
		return NULL;
	return &err_table[i];
}

const char *sc_err_name(sc_err e)
{
	const struct err_entry *t = lookup(e);
	return t ? t->name : "unknown";
}

sc_err sc_err_from_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (strcmp(err_table[i].name, name) == 0)
			return err_table[i].code;
	return SC_ERR_INTERNAL;
}

const char *sc_err_message(sc_err e)
{
	const struct err_entry *t = lookup(e);
	return t ? t->message : "unknown error";
}

int sc_err_exit_code(sc_err e)
{
	const struct err_entry *t = lookup(e);
	return t ? t->exit_code : 3;
}

static _Thread_local char detail[256];

sc_err sc_fail(sc_err e, const char *fmt, ...)
{
	char line[sizeof(detail)];
	va_list ap;

	/*
	 * Format into a local copy first: callers prefix the previous detail
	 * (sc_fail(r, "%s: %s", path, sc_err_detail())), and vsnprintf into the very buffer an
	 * argument points to is undefined (glibc overwrites the argument while copying it).
	 */
	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';
	va_end(ap);
	memcpy(detail, line, sizeof(detail));
	return e;
}

const char *sc_err_detail(void)
{
	return detail;
}

void sc_err_clear(void)
{
	detail[0] = '\0';
}

sc_err sc_fail_ossl(sc_err e, const char *what)
{
	unsigned long code = ERR_peek_last_error();
	char reason[160] = "";

	if (code != 0)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	if (reason[0] != '\0')
		return sc_fail(e, "%s (%s)", what, reason);
	return sc_fail(e, "%s", what);
}
