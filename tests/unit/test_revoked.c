// SPDX-License-Identifier: Apache-2.0
/*
 * test_revoked.c — the network's signed revocation list (src/revoked/revoked.c): a round trip,
 * then every refusal of the decoder with its error name and detail: truncation, trailing data,
 * oversize, wrong types, wrong version, unsorted devices, a bad signature, another network's
 * signer, a stale list, and the fetcher's rollback rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/revoked.h>
#include "text.h"

#define NOW 1800000000LL

static EVP_PKEY *root_key, *signer_key, *other_key;
static X509 *root, *signer, *other_root;

static int setup(void **state)
{
	EVP_PKEY *k = NULL;

	(void)state;
	if (sc_alg_keygen(SC_ALG_P256, &root_key) != SC_OK ||
	    sc_alg_keygen(SC_ALG_P256, &signer_key) != SC_OK ||
	    sc_alg_keygen(SC_ALG_P256, &other_key) != SC_OK ||
	    sc_cert_net_root(root_key, "netA", 3650, &root) != SC_OK ||
	    sc_cert_profile_signer(signer_key, "netA", 365, root, root_key, &signer) != SC_OK ||
	    sc_cert_net_root(other_key, "netA", 3650, &other_root) != SC_OK)
		return -1;
	EVP_PKEY_free(k);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(signer_key);
	EVP_PKEY_free(other_key);
	X509_free(root);
	X509_free(signer);
	X509_free(other_root);
	return 0;
}

static const char *const ids[] = { "DEV-C", "DEV-A", "DEV-B", "DEV-A" };

/*
 * noinline: inlined, gcc -O3 (12) takes the returned list for a pointer into this frame's local
 * (its address went to sc_revoked_sign) and warns -Wdangling-pointer in the callers.
 */
__attribute__((noinline)) static char *good_list(uint64_t seq)
{
	char *text = NULL;

	assert_int_equal(sc_revoked_sign("netA", seq, NOW - 60, NOW + 3600, ids, 4, signer,
	                     signer_key, &text),
	    SC_OK);
	return text;
}

/* text decoded at NOW must give want, the detail containing `detail` (NULL: any). */
static void expect(const char *text, size_t len, X509 *anchor, int64_t now, sc_err want,
    const char *detail)
{
	struct sc_revoked *l = NULL;
	sc_err r;

	sc_err_clear();
	if (len == SIZE_MAX)
		len = strlen(text);
	r = sc_revoked_decode((const uint8_t *)text, len, "LIST", anchor, now, &l);
	if (r != want)
		fail_msg("%s (%s), expected %s, for: %.200s", sc_err_name(r), sc_err_detail(),
		    sc_err_name(want), text);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail '%s' lacks '%s'", sc_err_detail(), detail);
	if (want != SC_OK)
		assert_null(l);
	sc_revoked_free(l);
}

/* An envelope around a payload text of our own, signed by the real signer. */
static char *envelope(const char *payload, EVP_PKEY *key)
{
	size_t c = sizeof(SC_REVOKED_CONTEXT), plen = strlen(payload), sig_len = 0;
	uint8_t *tbs = malloc(c + plen), sig[256];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *p64, *s64, *pem_text, *out;
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;

	assert_non_null(tbs);
	memcpy(tbs, SC_REVOKED_CONTEXT, c);
	memcpy(tbs + c, payload, plen);
	sig_len = sizeof(sig);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &sig_len, tbs, c + plen), 1);
	assert_true(PEM_write_bio_X509(bio, signer));
	BIO_get_mem_ptr(bio, &mem);
	pem_text = strndup(mem->data, mem->length);
	p64 = sc_base64_encode((const uint8_t *)payload, plen);
	s64 = sc_base64_encode(sig, sig_len);
	out = malloc(strlen(p64) + strlen(s64) + 2 * strlen(pem_text) + 64);
	/* The PEM's newlines as JSON escapes. */
	{
		char *esc = malloc(2 * strlen(pem_text) + 1), *e = esc;
		for (const char *q = pem_text; *q; q++) {
			if (*q == '\n') {
				*e++ = '\\';
				*e++ = 'n';
			} else {
				*e++ = *q;
			}
		}
		*e = '\0';
		sprintf(out, "{\"payload\": \"%s\", \"signature\": \"%s\", \"signer\": \"%s\"}",
		    p64, s64, esc);
		free(esc);
	}
	free(p64);
	free(s64);
	free(pem_text);
	free(tbs);
	BIO_free(bio);
	EVP_MD_CTX_free(md);
	return out;
}

static void expect_payload(const char *payload, sc_err want, const char *detail)
{
	char *text = envelope(payload, signer_key);

	expect(text, strlen(text), root, NOW, want, detail);
	free(text);
}

static void test_round_trip(void **state)
{
	struct sc_revoked *l = NULL, *l2 = NULL;
	char *text = good_list(7), *text2 = good_list(8);

	(void)state;
	assert_int_equal(sc_revoked_decode((const uint8_t *)text, strlen(text), "LIST", root, NOW,
	                     &l),
	    SC_OK);
	assert_string_equal(l->network_id, "netA");
	assert_int_equal(l->sequence, 7);
	assert_int_equal(l->next_update, NOW + 3600);
	assert_int_equal(l->n, 3); /* the duplicate dropped */
	assert_true(
	    sc_revoked_has(l, "DEV-A") && sc_revoked_has(l, "DEV-B") && sc_revoked_has(l, "DEV-C"));
	assert_false(sc_revoked_has(l, "DEV-D"));
	assert_false(sc_revoked_has(l, "DEV-"));
	/* The fetcher's rule: never lower, equal only if the same. */
	assert_int_equal(sc_revoked_decode((const uint8_t *)text2, strlen(text2), "LIST", root, NOW,
	                     &l2),
	    SC_OK);
	assert_int_equal(sc_revoked_successor(NULL, l), SC_OK);
	assert_int_equal(sc_revoked_successor(l, l2), SC_OK);
	assert_int_equal(sc_revoked_successor(l, l), SC_OK);
	sc_err_clear();
	assert_int_equal(sc_revoked_successor(l2, l), SC_ERR_ROLLBACK);
	assert_non_null(strstr(sc_err_detail(), "sequence 7 is lower than the held list's 8"));
	l2->n = 1;
	assert_int_equal(sc_revoked_successor(l, l2), SC_OK);
	l2->sequence = 7;
	assert_int_equal(sc_revoked_successor(l, l2), SC_ERR_ROLLBACK);
	assert_non_null(strstr(sc_err_detail(), "sequence 7 again, with other devices"));
	/* Empty list. */
	sc_revoked_free(l);
	free(text);
	assert_int_equal(sc_revoked_sign("netA", 1, NOW, NOW + 1, NULL, 0, signer, signer_key,
	                     &text),
	    SC_OK);
	expect(text, strlen(text), root, NOW, SC_OK, NULL);
	/* Bad arguments to the signer. */
	free(text);
	assert_int_equal(sc_revoked_sign("netA", 0, NOW, NOW + 1, NULL, 0, signer, signer_key,
	                     &text),
	    SC_ERR_USAGE);
	{
		const char *bad[] = { "DEV A\n" };
		assert_int_equal(sc_revoked_sign("netA", 1, NOW, NOW + 1, bad, 1, signer,
		                     signer_key, &text),
		    SC_ERR_USAGE);
	}
	sc_revoked_free(l2);
	free(text2);
}

static void test_truncation_trailing_oversize(void **state)
{
	char *text = good_list(3), *more;
	size_t len = strlen(text);

	(void)state;
	for (size_t n = 0; n < len; n += (n < 64 ? 1 : 37))
		expect(text, n, root, NOW, SC_ERR_MALFORMED, "LIST: ");
	more = malloc(len + 8);
	snprintf(more, len + 8, "%s {}", text);
	expect(more, strlen(more), root, NOW, SC_ERR_TRAILING, "LIST: ");
	snprintf(more, len + 8, "%sx", text);
	expect(more, strlen(more), root, NOW, SC_ERR_TRAILING, NULL);
	free(more);
	more = malloc(SC_REVOKED_MAX + 2);
	memset(more, ' ', SC_REVOKED_MAX + 1);
	memcpy(more, text, len);
	expect(more, SC_REVOKED_MAX + 1, root, NOW, SC_ERR_OVERSIZE, "LIST: 4194305 bytes");
	/* Just at the cap (blanks after the JSON are fine): accepted. */
	expect(more, SC_REVOKED_MAX, root, NOW, SC_OK, NULL);
	free(more);
	free(text);
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect("[]", 2, root, NOW, SC_ERR_MALFORMED, "LIST: ");
	expect("{\"payload\": 1, \"signature\": \"\", \"signer\": \"\"}", SIZE_MAX, root, NOW,
	    SC_ERR_MALFORMED, "LIST: ");
	expect("{\"payload\": \"e30=\", \"signature\": \"AA==\"}", SIZE_MAX, root, NOW,
	    SC_ERR_MALFORMED, "LIST: ");
	expect("{\"payload\": \"e30\", \"signature\": \"AA==\", \"signer\": \"x\"}", SIZE_MAX, root,
	    NOW, SC_ERR_MALFORMED, "\"payload\" or \"signature\"");
	expect("{\"payload\": \"e30=\", \"signature\": \"AA==\", \"signer\": \"x\"}", SIZE_MAX,
	    root, NOW, SC_ERR_MALFORMED, "\"signer\" is not one PEM certificate");
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": \"1\", \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": []}",
	    SC_ERR_MALFORMED, "LIST: payload: ");
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": \"DEV-A\"}",
	    SC_ERR_MALFORMED, "payload \"devices\"");
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": [], \"x\": 0}",
	    SC_ERR_MALFORMED, "LIST: payload: ");
	expect_payload(
	    "{\"version\": 2, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": []}",
	    SC_ERR_VERSION, "payload \"version\" 2");
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 0, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": []}",
	    SC_ERR_MALFORMED, "out of range");
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": [\"DEV-B\", \"DEV-A\"]}",
	    SC_ERR_MALFORMED, "payload \"devices\"[1]: not a device ID in sorted order");
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": [1]}",
	    SC_ERR_MALFORMED, "payload \"devices\"[0]");
	/* The same payload, well formed: accepted. */
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": [\"DEV-A\", \"DEV-B\"]}",
	    SC_OK, NULL);
	/* Another network's name in a list netA's signer signed. */
	expect_payload(
	    "{\"version\": 1, \"network_id\": \"netB\", \"sequence\": 1, \"this_update\": "
	    "0, \"next_update\": 1800003600, \"devices\": []}",
	    SC_ERR_UNTRUSTED_SIGNER, "is not network netB's");
}

static void test_signature_signer_stale(void **state)
{
	char *text = good_list(5), *sig;
	size_t len = strlen(text);

	(void)state;
	/* One base64 character of the signature changed (still canonical base64). */
	sig = strstr(text, "\"signature\": \"");
	assert_non_null(sig);
	sig += 14 + 10;
	*sig = *sig == 'A' ? 'B' : 'A';
	expect(text, len, root, NOW, SC_ERR_SIGNATURE, "LIST: the signature does not verify");
	free(text);
	/* Signed by a key that is not the signer's. */
	text =
	    envelope("{\"version\": 1, \"network_id\": \"netA\", \"sequence\": 1, \"this_update\": "
	             "0, \"next_update\": 1800003600, \"devices\": []}",
	        other_key);
	expect(text, strlen(text), root, NOW, SC_ERR_SIGNATURE, NULL);
	free(text);
	text = good_list(5);
	/* Another root (same network name): the signer does not chain. */
	expect(text, strlen(text), other_root, NOW, SC_ERR_UNTRUSTED_SIGNER,
	    "\"signer\" does not chain to the network root");
	/* Stale: one second past next_update; at next_update still fine. */
	expect(text, strlen(text), root, NOW + 3601, SC_ERR_STALE,
	    "LIST: past its next update (sequence 5)");
	expect(text, strlen(text), root, NOW + 3600, SC_OK, NULL);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncation_trailing_oversize),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_signature_signer_stale),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
