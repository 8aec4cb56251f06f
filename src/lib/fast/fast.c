// SPDX-License-Identifier: Apache-2.0
/*
 * fast.c — whether libselfcert takes its measured OpenSSL shortcuts (fast.h). The default is
 * the build's SC_SHORTCUTS option; only tests change it.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "fast.h"

#ifndef SC_SHORTCUTS
#define SC_SHORTCUTS 1
#endif

static int fast_on = SC_SHORTCUTS;

int sc_fast_enabled(void)
{
	return fast_on;
}

void sc_fast_set(int on)
{
	fast_on = on != 0;
}

static CRYPTO_ONCE sha256_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *sha256_md;

static void sha256_init(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		ERR_clear_error(); /* the caller's EVP_sha256() then */
}

const EVP_MD *sc_fast_sha256(void)
{
	if (CRYPTO_THREAD_run_once(&sha256_once, sha256_init) && sha256_md != NULL)
		return sha256_md;
	return EVP_sha256();
}
