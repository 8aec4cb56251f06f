// SPDX-License-Identifier: Apache-2.0
/*
 * fast.h — the switch over libselfcert's measured OpenSSL shortcuts (internal).
 *
 * Every shortcut in src/lib/fast/ sits beside the plain-OpenSSL path it replaces, and the two
 * must agree byte for byte. The SC_SHORTCUTS build option (default ON) sets whether the
 * shortcuts are taken; the unit tests flip it at run time to compare both paths.
 */
#ifndef SC_FAST_H
#define SC_FAST_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the shortcuts are taken (the build's SC_SHORTCUTS, unless a test changed it). */
int sc_fast_enabled(void);

/* Tests only: take the shortcuts (1) or the plain-OpenSSL paths (0). Not thread-safe. */
void sc_fast_set(int on);

/*
 * SHA-256 fetched from the default provider once per process (thread-safe): EVP_sha256() makes
 * every EVP_Digest look it up again (~2 k instructions a call). The same digest; EVP_sha256() if
 * the fetch failed. Never freed.
 */
struct evp_md_st;
const struct evp_md_st *sc_fast_sha256(void);

/*
 * enroll15b: SHA-256 of bytes many calls hash again (a maker's CA in every device's pin): the
 * last two inputs of at most 2 KiB this thread hashed here are remembered by their whole bytes
 * (length and every byte compared), so the same bytes again copy their digest. A digest is a
 * function of its input alone: the answer is EVP_Digest's. 1 on success, 0 if EVP_Digest
 * failed (nothing remembered then). With sc_fast_enabled() 0: EVP_Digest every time.
 */
int sc_fast_sha256_memo(const uint8_t *der, size_t len, uint8_t md[32]);

#endif
