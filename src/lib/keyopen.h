// SPDX-License-Identifier: Apache-2.0
/*
 * keyopen.h — the one door through which the programs open a private key of the manufacturer
 * or the operator (root, CA, profile signer) (internal): a PEM file, or a key in a PKCS#11 token
 * named by an RFC 7512 URI. Device keys never pass here: they live in the SP.
 */
#ifndef SC_KEYOPEN_H
#define SC_KEYOPEN_H

#include <openssl/evp.h>
#include <selfcert/err.h>

#define SC_KEY_URI_MAX 1024 /* a pkcs11: URI, bytes; longer is SC_ERR_OVERSIZE */
#define SC_KEY_PIN_MAX 256  /* a PIN file, bytes (a trailing newline is not part of the PIN) */

/*
 * What sc_key_uri_check found in a pkcs11: URI. Only what we act on is kept; the URI itself goes
 * to the provider unchanged. Every field is a NUL-terminated string, "" when absent.
 */
struct sc_key_uri {
	char shown[SC_KEY_URI_MAX + 1]; /* the URI without its query (no PIN source): printable */
	char pin_file[SC_KEY_URI_MAX + 1]; /* pin-source=file:PATH: the absolute PATH */
	char module[SC_KEY_URI_MAX + 1];   /* module-path=PATH: the absolute PATH */
};

/*
 * Check a "pkcs11:" URI strictly, before any token is touched. Path attributes: only RFC 7512's
 * names, each at most once, a value of 1+ URI characters with well-formed %XX escapes; object=
 * or id= required; type=private required (never a public key or certificate by accident).
 * Query: pin-source=file:/ABSOLUTE (no escapes), module-path=/ABSOLUTE (letters, digits, / . _
 * + -); pin-value= is refused (a PIN on a command line is visible to every user through
 * /proc/PID/cmdline), as is any other query attribute. Printable ASCII only, at most
 * SC_KEY_URI_MAX bytes. SC_ERR_USAGE (or SC_ERR_OVERSIZE); the detail names the attribute and
 * shows the URI only up to its query, so a PIN never reaches a message.
 */
sc_err sc_key_uri_check(const char *uri, struct sc_key_uri *out) SC_MUST_USE;

/*
 * Open the private key that spec names. *out is the caller's (EVP_PKEY_free); NULL on failure.
 *
 * A file: a PEM private key (PKCS#8 or traditional), never encrypted, opened with O_NOFOLLOW
 * and at most 64 KiB. SC_ERR_IO / SC_ERR_OVERSIZE / SC_ERR_MALFORMED, the detail names the file.
 *
 * "pkcs11:…": checked by sc_key_uri_check, then opened through OpenSSL's pkcs11 provider with
 * OSSL_STORE. The first call loads the provider once per process, unless the operator's
 * openssl.cnf already did: the PKCS#11 module is the URI's module-path, else
 * $PKCS11_PROVIDER_MODULE, else the provider's default (p11-kit's proxy); the module is never
 * finalized at exit (quirk no-deinit: SoftHSM and others crash in C_Finalize from an atexit
 * handler). One module per process: a second URI naming another module-path is SC_ERR_USAGE,
 * and so is a module-path that differs from a set $PKCS11_PROVIDER_MODULE (the provider would
 * take the environment's without a word).
 * The PIN file must be the owner's alone (SC_FILE_PRIVATE), non-empty and at most
 * SC_KEY_PIN_MAX bytes; the provider reads it itself. Nothing ever prompts. The key is the
 * token's: it never leaves it, and signing goes through the provider.
 * SC_ERR_DENIED: the token refused the PIN. SC_ERR_NOT_FOUND: no private key matches.
 * SC_ERR_USAGE: the URI, or it matches more than one key. SC_ERR_IO: the PIN file, the provider
 * or the module could not be loaded. Details show the URI without its query.
 */
sc_err sc_key_open(const char *spec, EVP_PKEY **out) SC_MUST_USE;

/* 1 if spec names a key in a token (starts with "pkcs11:"), else 0. */
int sc_key_is_uri(const char *spec);

#endif
