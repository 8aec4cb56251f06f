// SPDX-License-Identifier: Apache-2.0
/*
 * fast.c — whether libselfcert takes its measured OpenSSL shortcuts (fast.h). The default is
 * the build's SC_SHORTCUTS option; only tests change it.
 */
#include <string.h>

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

#define SHA_MEMO_MAX 2048

static _Thread_local struct {
	struct {
		size_t len; /* 0: empty */
		uint64_t used;
		uint8_t md[32];
		uint8_t der[SHA_MEMO_MAX];
	} e[2];
	uint64_t clock;
} sha_memo;

int sc_fast_sha256_memo(const uint8_t *der, size_t len, uint8_t md[32])
{
	int fast = fast_on && len > 0 && len <= SHA_MEMO_MAX, i;

	for (i = 0; fast && i < 2; i++)
		if (sha_memo.e[i].len == len && memcmp(sha_memo.e[i].der, der, len) == 0) {
			sha_memo.e[i].used = ++sha_memo.clock;
			memcpy(md, sha_memo.e[i].md, 32);
			return 1;
		}
	if (!EVP_Digest(der, len, md, NULL, sc_fast_sha256(), NULL))
		return 0;
	if (fast) {
		i = sha_memo.e[0].used <= sha_memo.e[1].used ? 0 : 1;
		memcpy(sha_memo.e[i].der, der, len);
		memcpy(sha_memo.e[i].md, md, 32);
		sha_memo.e[i].len = len;
		sha_memo.e[i].used = ++sha_memo.clock;
	}
	return 1;
}
