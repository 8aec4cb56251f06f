// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/err.h — the one error type of libselfcert and its programs.
 *
 * Every fallible function returns an sc_err: 0 (SC_OK) or a negative code. Each code has a
 * stable lower-case name (printed by the command line as `selfcert: <name>: <detail>`, carried
 * over the SP socket as its number) and a message. The numbers and names never change once
 * released; new codes are appended.
 *
 * Alongside the code, a failing function may record a one-line detail naming the field, file or
 * value that was wrong (sc_fail). The detail is per thread and is overwritten by the next
 * sc_fail on that thread; read it right after the failing call.
 */
#ifndef SELFCERT_ERR_H
#define SELFCERT_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

#define SC_MUST_USE __attribute__((warn_unused_result))

typedef enum sc_err {
	SC_OK = 0,
	SC_ERR_INTERNAL = -1,          /* "internal": a bug or an unexpected library failure */
	SC_ERR_NOMEM = -2,             /* "nomem" */
	SC_ERR_IO = -3,                /* "io": a file or socket could not be read or written */
	SC_ERR_USAGE = -4,             /* "usage": a bad argument from the caller */
	SC_ERR_MALFORMED = -5,         /* "malformed": not valid DER / not a valid message */
	SC_ERR_TRAILING = -6,          /* "trailing-data": bytes after the structure */
	SC_ERR_OVERSIZE = -7,          /* "oversize": over a size limit */
	SC_ERR_CONTENT_TYPE = -8,      /* "content-type": not id-sc-ct-profile */
	SC_ERR_VERSION = -9,           /* "version": unknown version */
	SC_ERR_NETWORK = -10,          /* "network-unknown": no anchor for the network ID */
	SC_ERR_UNTRUSTED_SIGNER = -11, /* "untrusted-signer": signer does not chain to the anchor */
	SC_ERR_SIGNER_EKU = -12,       /* "signer-eku": signer lacks id-sc-kp-profileSigning */
	SC_ERR_PROFILE_SIGNATURE = -13, /* "profile-signature": the signature does not verify */
	SC_ERR_DEVICE_MISMATCH = -14,   /* "device-mismatch": profile is for another device */
	SC_ERR_PROFILE_EXPIRED = -15,   /* "profile-expired": profileNotAfter has passed */
	SC_ERR_REPLAY = -16,            /* "replay": profile ID already used */
	SC_ERR_CHALLENGE = -17,   /* "challenge": missing, unknown or already used challenge */
	SC_ERR_VALIDITY = -18,    /* "validity": requested validity not acceptable */
	SC_ERR_ALGORITHM = -19,   /* "algorithm": algorithm not allowed or unknown */
	SC_ERR_KEY_DECRYPT = -20, /* "key-decrypt": supplied key does not decrypt with the KEK */
	SC_ERR_KEY_MISMATCH =
	    -21,                 /* "key-mismatch": decrypted key is not the profile's public key */
	SC_ERR_EXTENSION = -22,  /* "extension": requested extension outside the allowed set */
	SC_ERR_STATE = -23,      /* "state": request not permitted in the SP's current state */
	SC_ERR_LOCKED = -24,     /* "locked": factory request after lock */
	SC_ERR_STORE_FULL = -25, /* "store-full": no free leaf-key slot */
	SC_ERR_NO_KEY = -26,     /* "no-key": no such key handle */
	SC_ERR_KEY_USAGE = -27,  /* "key-usage": the key's certificate does not allow this use */
	SC_ERR_ROLLBACK = -28,   /* "rollback": the store is older than the monotonic counter */
	SC_ERR_STORE_DAMAGED = -29, /* "store-damaged": the sealed store fails authentication */
	SC_ERR_PEER = -30,          /* "peer": the other side did not answer or broke protocol */
	SC_ERR_DENIED = -31,        /* "denied": the peer's credentials are not allowed */
	SC_ERR_CHAIN = -32,         /* "chain": X.509 path validation failed */
	SC_ERR_BINDING = -33,   /* "binding": certificate and issuance extension/profile disagree */
	SC_ERR_EXISTS = -34,    /* "exists": refusing to overwrite */
	SC_ERR_NOT_FOUND = -35, /* "not-found": a named thing is absent */
	SC_ERR_UNKNOWN_REQUEST = -36, /* "unknown-request": unknown SP message type */
	/* The registry's refusals (src/registry; provd answers each with its API code). */
	SC_ERR_UNKNOWN_DEVICE = -37,   /* "unknown-device": the device is not in the registry */
	SC_ERR_REVOKED = -38,          /* "revoked": the device is revoked */
	SC_ERR_RATE_LIMITED = -39,     /* "rate-limited": too many profiles for the device */
	SC_ERR_PROFILE_UNKNOWN = -40,  /* "profile-unknown": no such profile was issued */
	SC_ERR_PROFILE_CONSUMED = -41, /* "profile-consumed": the profile has another certificate */
	SC_ERR_NOT_DEVICE_CA = -42, /* "not-device-ca": not a device CA as docs/FORMATS.md defines
	                               one (CA, pathlen 0, keyCertSign, serialNumber, name
	                               constraints to it) */
	SC_ERR_BAD_PROOF = -43,     /* "bad-proof": a request proof's signature does not verify with
	                           the device CA's key (selfcert/proof.h) */
	SC_ERR_TPM = -44,           /* "tpm": the TPM (or the connection to it) failed a command */
	SC_ERR_STALE = -45,         /* "stale": a signed list past its next update */
	SC_ERR_SIGNATURE = -46,     /* "signature": a signed list's signature does not verify */
	SC_ERR_GATE = -47,          /* "gate": an operator-gated SP's issuance lacks the operator's
	                               authorization, or the TPM refused it (docs/TPM.md, #12) */
	SC_ERR_PIN_MISMATCH = -48, /* "device-ca-changed": a known device shows another device CA or
	                               KEK than the ones pinned at its first contact (issue 17) */
	SC_ERR_RENEWAL_SPENT =
	    -49, /* "renewal-spent": a renewal profile's K certificates are issued */
	SC_ERR_RENEWAL_EARLY = -50, /* "renewal-early": the next renewal is not due yet (cadence) */
	SC_ERR_BATCH_PATH =
	    -51, /* "batch-path": a Merkle inclusion path does not lead to the root */
	SC_ERR_KEK_MISMATCH = -52, /* "kek-mismatch": a device's KEK certificate is another
	                              device's, a CA, or from another issuer (selfcert/device.h) */
} sc_err;

/* The most negative code. A new code goes after SC_ERR_BATCH_PATH and moves this with it, so
 * "any code past ours" is SC_ERR_LAST - 1 wherever a test or a peer needs one. */
#define SC_ERR_LAST SC_ERR_KEK_MISMATCH

/* The stable lower-case name ("profile-signature"). Never NULL; "unknown" for unknown codes. */
const char *sc_err_name(sc_err e);

/* The code whose name is `name`, or SC_ERR_INTERNAL if none is. */
sc_err sc_err_from_name(const char *name);

/* A short English message for the code. Never NULL. */
const char *sc_err_message(sc_err e);

/* The command line's exit code for e: 0 done, 1 refused, 2 usage, 3 system. */
int sc_err_exit_code(sc_err e);

/*
 * Record a detail for this thread and return e, so that a check reads
 *     return sc_fail(SC_ERR_VALIDITY, "validity.notAfter is before notBefore");
 * The detail is truncated to 255 bytes. Never fails.
 */
sc_err sc_fail(sc_err e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The detail of this thread's last sc_fail, or "" if none. Valid until the next sc_fail. */
const char *sc_err_detail(void);

/* Forget this thread's detail (at the start of an operation). */
void sc_err_clear(void);

/*
 * Drain OpenSSL's error queue into the detail (appending its first reason) and return e.
 * For the boundary where an OpenSSL call failed without a more specific meaning.
 */
sc_err sc_fail_ossl(sc_err e, const char *what);

#ifdef __cplusplus
}
#endif
#endif
