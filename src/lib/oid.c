// SPDX-License-Identifier: Apache-2.0
/*
 * oid.c — selfcert's names (oid.h): the OIDs registered with OpenSSL, the device-ID charset and
 * the one KeyUsage name table. Depends on nothing else of libselfcert but err.c.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <selfcert/err.h>
#include <selfcert/oid.h>

/* ---- OIDs ---- */

static CRYPTO_ONCE oid_once = CRYPTO_ONCE_STATIC_INIT;
static int oid_ok;
static int nid_ct_profile = NID_undef, nid_kp_profile_signing = NID_undef,
           nid_pe_issuance = NID_undef;

/* Reuse an existing registration (a config file may have named the OID first). */
static int oid_register(const char *oid, const char *sn, const char *ln)
{
	int nid = OBJ_txt2nid(oid);

	if (nid == NID_undef)
		nid = OBJ_create(oid, sn, ln);
	return nid;
}

static void oids_register(void)
{
	nid_ct_profile = oid_register(SC_OID_CT_PROFILE, "id-sc-ct-profile",
	    "selfcert profile content type");
	nid_kp_profile_signing = oid_register(SC_OID_KP_PROFILESIGN, "id-sc-kp-profileSigning",
	    "selfcert profile signing");
	nid_pe_issuance = oid_register(SC_OID_PE_ISSUANCE, "id-sc-pe-issuance",
	    "selfcert issuance");
	oid_ok = nid_ct_profile != NID_undef && nid_kp_profile_signing != NID_undef &&
	    nid_pe_issuance != NID_undef;
}

sc_err sc_oids_init(void)
{
	if (!CRYPTO_THREAD_run_once(&oid_once, oids_register) || !oid_ok)
		return sc_fail_ossl(SC_ERR_INTERNAL, "registering the selfcert OIDs");
	return SC_OK;
}

int sc_nid_ct_profile(void)
{
	return sc_oids_init() == SC_OK ? nid_ct_profile : NID_undef;
}

int sc_nid_kp_profile_signing(void)
{
	return sc_oids_init() == SC_OK ? nid_kp_profile_signing : NID_undef;
}

int sc_nid_pe_issuance(void)
{
	return sc_oids_init() == SC_OK ? nid_pe_issuance : NID_undef;
}

/* ---- the device ID ---- */

int sc_device_id_valid(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 1 || n > SC_DEVICE_ID_MAX)
		return 0;
	/* X.680 PrintableString: the device ID travels in the X.520 serialNumber attribute. */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (strchr(" '()+,-./:=?", c) == NULL || c == '\0')
			return 0;
	}
	return 1;
}

/* ---- KeyUsage names ---- */

/* Indexed by the RFC 5280 bit number: the order of the BIT STRING and of every listing. */
static const struct {
	unsigned ku;
	const char *name;
} ku_bits[SC_KU_NBITS] = {
	{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
	{ KU_NON_REPUDIATION, "nonRepudiation" },
	{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
	{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ KU_KEY_AGREEMENT, "keyAgreement" },
	{ KU_KEY_CERT_SIGN, "keyCertSign" },
	{ KU_CRL_SIGN, "cRLSign" },
	{ KU_ENCIPHER_ONLY, "encipherOnly" },
	{ KU_DECIPHER_ONLY, "decipherOnly" },
};

unsigned sc_key_usage_bit(int n)
{
	if (n < 0 || n >= SC_KU_NBITS)
		return 0;
	return ku_bits[n].ku;
}

const char *sc_key_usage_name(unsigned bit)
{
	for (int i = 0; i < SC_KU_NBITS; i++)
		if (ku_bits[i].ku == bit)
			return ku_bits[i].name;
	return NULL;
}

sc_err sc_key_usage_from_name(const char *name, unsigned *bit)
{
	if (bit == NULL)
		return sc_fail(SC_ERR_USAGE, "sc_key_usage_from_name: bit is NULL");
	*bit = 0;
	for (int i = 0; name != NULL && i < SC_KU_NBITS; i++) {
		if (strcmp(name, ku_bits[i].name) == 0) {
			*bit = ku_bits[i].ku;
			return SC_OK;
		}
	}
	return sc_fail(SC_ERR_NOT_FOUND, "key usage '%s': not an RFC 5280 KeyUsage name",
	    name != NULL ? name : "(null)");
}
