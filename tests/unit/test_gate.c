// SPDX-License-Identifier: Apache-2.0
/*
 * test_gate.c — operator-gated issuance's shared bytes (gate.c, issue #12) on their own: the
 * serial both sides derive, the gate key's signed bytes, TPM2_Sign's cpHash against a hand-made
 * layout (TPM 2.0 Part 3, 20.2), and the refusals of a bad Name or digest, by name. The
 * tbsCertificate builder is proven byte for byte against the TPM SP in integration/test_tpm_gated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <openssl/evp.h>
#include <selfcert/gate.h>

static void expect(sc_err r, sc_err want, const char *detail)
{
	if (r != want)
		fail_msg("got %s (%s), expected %s", sc_err_name(r), sc_err_detail(),
		    sc_err_name(want));
	assert_string_equal(sc_err_detail(), detail);
}

static void test_serial(void **state)
{
	uint8_t n1[SC_GATE_NONCE_LEN], n2[SC_GATE_NONCE_LEN], s1[16], s2[16], again[16];
	int i;

	(void)state;
	for (i = 0; i < SC_GATE_NONCE_LEN; i++) {
		n1[i] = (uint8_t)i;
		n2[i] = (uint8_t)(i + 1);
	}
	sc_gate_serial(n1, s1);
	sc_gate_serial(n1, again);
	sc_gate_serial(n2, s2);
	assert_memory_equal(s1, again, 16);
	assert_memory_not_equal(s1, s2, 16);
	/* Positive and DER-minimal at 16 bytes, for any nonce (FORMATS' serial rule). */
	for (i = 0; i < 2000; i++) {
		n1[0] = (uint8_t)i;
		n1[1] = (uint8_t)(i >> 8);
		sc_gate_serial(n1, s1);
		assert_int_equal(s1[0] & 0x80, 0);
		assert_int_not_equal(s1[0], 0);
	}
}

static void test_signed_bytes(void **state)
{
	uint8_t n[SC_GATE_NONCE_LEN], cp[32], out[SC_GATE_SIGNED_LEN];

	(void)state;
	memset(n, 0xaa, sizeof(n));
	memset(cp, 0xbb, sizeof(cp));
	sc_gate_signed_bytes(n, cp, out);
	assert_int_equal(SC_GATE_SIGNED_LEN, 32 + 4 + 32 + 17);
	assert_memory_equal(out, n, 32);
	assert_memory_equal(out + 32, "\0\0\0\0", 4); /* expiration 0 */
	assert_memory_equal(out + 36, cp, 32);
	assert_memory_equal(out + 68, "selfcert-issue-v1", 17);
}

static void test_cphash(void **state)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	uint8_t name[34], dg[32], cp[32], want[32];
	uint8_t b[4 + 34 + 2 + 32 + 4 + 8];
	unsigned n = 0;
	size_t o = 0;

	(void)state;
	assert_non_null(ec);
	name[0] = 0x00;
	name[1] = 0x0b;
	memset(name + 2, 0x11, 32);
	memset(dg, 0x22, sizeof(dg));
	/* CC_Sign ‖ Name ‖ TPM2B_DIGEST ‖ {ECDSA, SHA256} ‖ {HASHCHECK, RH_NULL, empty} */
	memcpy(b + o, "\x00\x00\x01\x5d", 4), o += 4;
	memcpy(b + o, name, 34), o += 34;
	memcpy(b + o, "\x00\x20", 2), o += 2;
	memcpy(b + o, dg, 32), o += 32;
	memcpy(b + o, "\x00\x18\x00\x0b", 4), o += 4;
	memcpy(b + o, "\x80\x24\x40\x00\x00\x07\x00\x00", 8), o += 8;
	assert_int_equal(o, sizeof(b));
	assert_int_equal(EVP_Digest(b, o, want, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(sc_gate_cphash(name, 34, ec, EVP_sha256(), dg, 32, cp), SC_OK);
	assert_memory_equal(cp, want, 32);

	expect(sc_gate_cphash(name, 33, ec, EVP_sha256(), dg, 32, cp), SC_ERR_MALFORMED,
	    "gate: csk_name is not a 34-byte SHA-256 TPM Name");
	name[1] = 0x0c;
	expect(sc_gate_cphash(name, 34, ec, EVP_sha256(), dg, 32, cp), SC_ERR_MALFORMED,
	    "gate: csk_name is not a 34-byte SHA-256 TPM Name");
	name[1] = 0x0b;
	expect(sc_gate_cphash(name, 34, ec, EVP_sha384(), dg, 32, cp), SC_ERR_ALGORITHM,
	    "gate: the TPM signs SHA-256/384/512 digests only");
	expect(sc_gate_cphash(name, 34, ec, EVP_sha1(), dg, 20, cp), SC_ERR_ALGORITHM,
	    "gate: the TPM signs SHA-256/384/512 digests only");
	EVP_PKEY_free(ec);
}

static void test_authorize_args(void **state)
{
	struct sc_gate_challenge c;
	uint8_t *a = NULL;
	size_t n = 0;
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	(void)state;
	memset(&c, 0, sizeof(c));
	expect(sc_gate_authorize(NULL, &c, NULL, NULL, NULL, &a, &n), SC_ERR_USAGE,
	    "sc_gate_authorize: missing argument");
	expect(sc_gate_authorize(ed, &c, NULL, NULL, NULL, &a, &n), SC_ERR_ALGORITHM,
	    "gate: the gate key is RSA or EC (what a TPM verifies)");
	assert_null(a);
	EVP_PKEY_free(ed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_signed_bytes),
		cmocka_unit_test(test_cphash),
		cmocka_unit_test(test_authorize_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
