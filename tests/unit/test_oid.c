// SPDX-License-Identifier: Apache-2.0
/*
 * test_oid.c — selfcert's names (oid.c): OID registration, the device-ID charset, and the one
 * KeyUsage name table every program parses and prints through.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <selfcert/err.h>
#include <selfcert/oid.h>

static void test_oids(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(sc_oids_init(), SC_OK);
	assert_int_equal(sc_oids_init(), SC_OK); /* idempotent */
	assert_int_not_equal(sc_nid_ct_profile(), NID_undef);
	assert_int_not_equal(sc_nid_kp_profile_signing(), NID_undef);
	assert_int_not_equal(sc_nid_pe_issuance(), NID_undef);
	assert_int_not_equal(sc_nid_ct_profile(), sc_nid_kp_profile_signing());
	OBJ_obj2txt(buf, sizeof(buf), OBJ_nid2obj(sc_nid_pe_issuance()), 1);
	assert_string_equal(buf, SC_OID_PE_ISSUANCE);
	OBJ_obj2txt(buf, sizeof(buf), OBJ_nid2obj(sc_nid_ct_profile()), 1);
	assert_string_equal(buf, SC_OID_CT_PROFILE);
	assert_int_equal(OBJ_txt2nid(SC_OID_KP_PROFILESIGN), sc_nid_kp_profile_signing());
}

static void test_device_id_valid(void **state)
{
	/* one case per line: the PrintableString alphabet and the 1..64 bound */
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "DEV-A", 1 }, { "abcXYZ0189", 1 },
		{ "a '()+,-./:=?", 1 }, /* every PrintableString punctuation mark */
		{ "", 0 },              /* empty */
		{ "DEV_A", 0 },         /* underscore is not PrintableString */
		{ "dev@x", 0 },         /* nor @ */
		{ "a*b", 0 },           /* nor * */
		{ "a;b", 0 }, { "a\"b", 0 }, { "a\tb", 0 }, /* control characters */
		{ "d\xc3\xa9v", 0 },                        /* non-ASCII */
		{ "0123456789012345678901234567890123456789012345678901234567890123", 1 },  /* 64 */
		{ "01234567890123456789012345678901234567890123456789012345678901234", 0 }, /* 65 */
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(sc_device_id_valid(cases[i].s), cases[i].ok);
	assert_int_equal(sc_device_id_valid(NULL), 0);
}

/* The table in RFC 5280 bit order, as the DER BIT STRING and every listing use it. */
static void test_key_usage_names(void **state)
{
	static const struct {
		const char *name;
		unsigned bit;
	} rfc5280[] = {
		{ "digitalSignature", KU_DIGITAL_SIGNATURE },
		{ "nonRepudiation", KU_NON_REPUDIATION },
		{ "keyEncipherment", KU_KEY_ENCIPHERMENT },
		{ "dataEncipherment", KU_DATA_ENCIPHERMENT },
		{ "keyAgreement", KU_KEY_AGREEMENT },
		{ "keyCertSign", KU_KEY_CERT_SIGN },
		{ "cRLSign", KU_CRL_SIGN },
		{ "encipherOnly", KU_ENCIPHER_ONLY },
		{ "decipherOnly", KU_DECIPHER_ONLY },
	};
	static const char *const unknown[] = {
		"",
		"digitalsignature",
		"DigitalSignature",
		"digitalSignature ",
		"signEverything",
		"crlSign",
		"keyCertSign,cRLSign",
	};
	unsigned bit, all = 0;
	(void)state;

	assert_int_equal(sizeof(rfc5280) / sizeof(rfc5280[0]), SC_KU_NBITS);
	for (int i = 0; i < SC_KU_NBITS; i++) {
		assert_int_equal(sc_key_usage_bit(i), rfc5280[i].bit);
		assert_string_equal(sc_key_usage_name(rfc5280[i].bit), rfc5280[i].name);
		bit = 0;
		assert_int_equal(sc_key_usage_from_name(rfc5280[i].name, &bit), SC_OK);
		assert_int_equal(bit, rfc5280[i].bit);
		all |= bit;
	}
	assert_int_equal(all, SC_KU_ALL);
	assert_int_equal(sc_key_usage_bit(-1), 0);
	assert_int_equal(sc_key_usage_bit(SC_KU_NBITS), 0);

	/* Exact, case-sensitive names only; *bit is 0 after a refusal. */
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		bit = 1;
		assert_int_equal(sc_key_usage_from_name(unknown[i], &bit), SC_ERR_NOT_FOUND);
		assert_int_equal(bit, 0);
	}
	assert_int_equal(sc_key_usage_from_name(NULL, &bit), SC_ERR_NOT_FOUND);
	assert_int_equal(sc_key_usage_from_name("keyAgreement", NULL), SC_ERR_USAGE);

	/* One flag at a time: no name for none, two, or an unknown flag. */
	assert_null(sc_key_usage_name(0));
	assert_null(sc_key_usage_name(KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT));
	assert_null(sc_key_usage_name(0x4000));

	/* The device's five: never a CA usage, never encipherOnly/decipherOnly. */
	assert_int_equal(SC_KU_DEVICE &
	        (KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY),
	    0);
	assert_int_equal(SC_KU_DEVICE & SC_KU_ALL, SC_KU_DEVICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oids),
		cmocka_unit_test(test_device_id_valid),
		cmocka_unit_test(test_key_usage_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
