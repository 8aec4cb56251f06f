// SPDX-License-Identifier: Apache-2.0
/*
 * certcache.h — a bounded, thread-safe memory of parsed certificates, keyed by the SHA-256 of
 * their exact DER. On OpenSSL 3.0 parsing one certificate (the provider decoder it runs for the
 * public key) costs more than verifying its signature; a device shows its manufacturer CA on
 * every request and its device CA twice (with its profile request, and again from the registry
 * when its certificate comes back), so selfcert-provd parses each such certificate once.
 *
 * It remembers parsing only, never a verdict: a certificate from the cache goes through the same
 * path validation (signatures, validity at the time of the check, constraints) as a fresh one.
 * The same DER always parses to the same certificate, so a hit is exactly what a parse would give;
 * one changed byte is another key. Least recently used entries go first once max is reached.
 */
#ifndef SC_PROVD_CERTCACHE_H
#define SC_PROVD_CERTCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

/* Entries: ~5 KiB each (parsed, key decoded); several times the certificates of the devices in
 * flight between their requests. */
#define PROVD_CERTCACHE_DEFAULT 256
#define PROVD_CERTCACHE_MAX 1000000

struct provd_certcache;

struct provd_certcache_stats {
	uint64_t hits, misses;
	size_t entries, max;
};

/* max: 1..PROVD_CERTCACHE_MAX entries. */
sc_err provd_certcache_new(size_t max, struct provd_certcache **out) SC_MUST_USE;
void provd_certcache_free(struct provd_certcache *c);

/*
 * The certificate of these DER bytes: the remembered one if the same bytes were parsed before,
 * else parsed strictly (sc_cert_from_der: DER only, no trailing bytes) and remembered. *out is
 * the caller's (X509_free). c may be NULL: then it only parses. Errors as sc_cert_from_der's;
 * a certificate that does not parse is not remembered.
 */
sc_err provd_certcache_get(struct provd_certcache *c, const uint8_t *der, size_t len,
    X509 **out) SC_MUST_USE;

void provd_certcache_get_stats(struct provd_certcache *c, struct provd_certcache_stats *out);

#endif
