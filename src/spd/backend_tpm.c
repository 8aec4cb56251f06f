// SPDX-License-Identifier: Apache-2.0
/*
 * backend_tpm.c — the TPM 2.0 key backend (backend.h, docs/TPM.md): every private key is a TPM
 * object (fixedTPM|fixedParent|sensitiveDataOrigin) under an owner-hierarchy storage key made
 * at each start; the store keeps its blobs, DIR/root.tpm a TPM-sealed secret, and the counter
 * is a TPM NV counter. Certificates are built by libselfcert and signed here, digest on the chip.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "backend.h"
#include "file.h"
#include "profile_key.h"
#include "tpm_int.h"
#include "tpm_key.h"

#define SEAL_MAGIC "SCTP"
#define SEAL_VERSION 1
#define SEAL_FILE_MAX 4096
#define SEALED_LEN (SPD_SECRET_LEN + 4 + 8) /* secret | NV index | NV value at creation */
#define NV_FIRST 0x01534300u                /* owner NV range; 256 stores per TPM */
#define NV_COUNT 256u
#define SESSION_ATTRS TPMA_SESSION_CONTINUESESSION

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR srk;  /* the storage key, a primary made from the owner seed at each start */
	ESYS_TR sess; /* salted with the SRK, AES-128-CFB parameter encryption */
	ESYS_TR nv;   /* the store's counter, once its seal is open */
	uint64_t nv_base;
	char tcti_conf[512];
};

static struct tpm g = { .srk = ESYS_TR_NONE, .sess = ESYS_TR_NONE, .nv = ESYS_TR_NONE };

const char *spd_tpm_default_tcti(void)
{
	const char *e = getenv("TPM2TOOLS_TCTI");

	if (e == NULL || *e == '\0')
		e = getenv("TSS2_TCTI");
	return e != NULL && *e != '\0' ? e : "device:/dev/tpmrm0";
}

sc_err spd_tpm_fail(TSS2_RC rc, const char *what)
{
	return sc_fail(SC_ERR_TPM, "%s: %s", what, Tss2_RC_Decode(rc));
}

/* The session for one command: encrypt the first command and/or response parameter. */
ESYS_TR spd_tpm_session(TPMA_SESSION enc)
{
	(void)Esys_TRSess_SetAttributes(g.esys, g.sess, SESSION_ATTRS | enc, 0xff);
	return g.sess;
}

ESYS_CONTEXT *spd_tpm_esys(void)
{
	return g.esys;
}

ESYS_TR spd_tpm_srk(void)
{
	return g.srk;
}

static sc_err need_tpm(void)
{
	if (g.esys == NULL)
		return sc_fail(SC_ERR_TPM, "no TPM connection (selfcert-spd --tcti, docs/TPM.md)");
	return SC_OK;
}

/*
 * The storage key: an ECC P-256 restricted decrypt key with AES-128-CFB, empty unique, noDA,
 * which is what stock tools make from `tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb
 * -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt'`, so that
 * tpm2_load can load our blobs for inspection (docs/TPM.md).
 */
static const TPM2B_PUBLIC srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
		    TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
			    .mode.aes = TPM2_ALG_CFB },
			.scheme = { .scheme = TPM2_ALG_NULL },
			.curveID = TPM2_ECC_NIST_P256,
			.kdf = { .scheme = TPM2_ALG_NULL },
		},
	},
};

void spd_tpm_close(void)
{
	spd_tpm_gate_close();
	spd_tpm_gate_forget();
	if (g.esys != NULL) {
		if (g.sess != ESYS_TR_NONE)
			(void)Esys_FlushContext(g.esys, g.sess);
		if (g.srk != ESYS_TR_NONE)
			(void)Esys_FlushContext(g.esys, g.srk);
		Esys_Finalize(&g.esys);
	}
	spd_tcti_free(g.tcti);
	memset(&g, 0, sizeof(g));
	g.srk = g.sess = g.nv = ESYS_TR_NONE;
}

sc_err spd_tpm_open(const char *tcti)
{
	const TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB };
	const TPM2B_SENSITIVE_CREATE empty_sens = { 0 };
	const TPM2B_DATA empty_data = { 0 };
	const TPML_PCR_SELECTION no_pcrs = { 0 };
	TSS2_RC rc;
	sc_err r;

	if (g.esys != NULL)
		return SC_OK;
	if (tcti == NULL)
		tcti = spd_tpm_default_tcti();
	snprintf(g.tcti_conf, sizeof(g.tcti_conf), "%s", tcti);
	if ((r = spd_tcti_open(tcti, &g.tcti)) != SC_OK)
		return r;
	/* ESAPI logs to stderr, which would break the one-line error; our errors name the rc. */
	(void)setenv("TSS2_LOG", "all+NONE", 0);
	/* Without a resource manager, what a killed spd loaded is still there: room for 3. */
	/* Unsigned by hand: tss2's TPM2_TRANSIENT_FIRST shifts an int (0x80 << 24, UBSan). */
	spd_tcti_flush_range(g.tcti, (uint32_t)TPM2_HT_TRANSIENT << 24);
	spd_tcti_flush_range(g.tcti, (uint32_t)TPM2_HT_HMAC_SESSION << 24);
	if ((rc = Esys_Initialize(&g.esys, g.tcti, NULL)) != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: initialise");
		goto fail;
	}
	rc = Esys_Startup(g.esys, TPM2_SU_CLEAR);
	if (rc != TSS2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
		r = spd_tpm_fail(rc, "tpm: startup");
		goto fail;
	}
	/*
	 * The storage key is made again at each start, not persisted: the same seed and template
	 * give the same key, no owner-authorized EvictControl or persistent slot is needed, and no
	 * other process can replace it under our handle. Its cost is ms on swtpm, ~0.3 s on a chip.
	 */
	if ((rc = Esys_CreatePrimary(g.esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	         ESYS_TR_NONE, &empty_sens, &srk_template, &empty_data, &no_pcrs, &g.srk, NULL,
	         NULL, NULL, NULL)) != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: creating the storage key (owner hierarchy)");
		goto fail;
	}
	/* Salted with the SRK: auth values, unsealed secrets and ECDH/decrypt outputs ride it. */
	if ((rc = Esys_StartAuthSession(g.esys, g.srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	         ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &g.sess)) !=
	    TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: starting the salted session");
		goto fail;
	}
	return SC_OK;
fail:
	spd_tpm_close();
	return r;
}

/* "manufacturer IBM, vendor SW TPM, firmware 8217.4131": what sp init records (tpm.info). */
static sc_err tpm_describe(char *out, size_t out_len)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	uint32_t manuf = 0, fw1 = 0, fw2 = 0, vend[4] = { 0 };
	char m[5], v[17];
	TPMI_YES_NO more;
	TSS2_RC rc;
	size_t i, j;

	rc = Esys_GetCapability(g.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 16, &more, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return spd_tpm_fail(rc, "tpm: reading its properties");
	for (i = 0; i < cap->data.tpmProperties.count; i++) {
		const TPMS_TAGGED_PROPERTY *p = &cap->data.tpmProperties.tpmProperty[i];
		if (p->property == TPM2_PT_MANUFACTURER)
			manuf = p->value;
		else if (p->property >= TPM2_PT_VENDOR_STRING_1 &&
		    p->property <= TPM2_PT_VENDOR_STRING_4)
			vend[p->property - TPM2_PT_VENDOR_STRING_1] = p->value;
		else if (p->property == TPM2_PT_FIRMWARE_VERSION_1)
			fw1 = p->value;
		else if (p->property == TPM2_PT_FIRMWARE_VERSION_2)
			fw2 = p->value;
	}
	Esys_Free(cap);
	/* Four-character codes; anything unprintable is shown as '.', trailing NULs dropped. */
	for (i = 0; i < 4; i++) {
		char c = (char)(manuf >> (24 - 8 * i));
		m[i] = c >= 0x20 && c < 0x7f ? c : (c == 0 ? ' ' : '.');
	}
	m[4] = '\0';
	for (j = 0; j < 4; j++)
		for (i = 0; i < 4; i++) {
			char c = (char)(vend[j] >> (24 - 8 * i));
			v[4 * j + i] = c >= 0x20 && c < 0x7f ? c : (c == 0 ? ' ' : '.');
		}
	v[16] = '\0';
	for (i = 16; i > 0 && v[i - 1] == ' '; i--)
		v[i - 1] = '\0';
	for (i = 4; i > 0 && m[i - 1] == ' '; i--)
		m[i - 1] = '\0';
	snprintf(out, out_len, "manufacturer %s, vendor %s, firmware %u.%u.%u.%u", m, v, fw1 >> 16,
	    fw1 & 0xffff, fw2 >> 16, fw2 & 0xffff);
	return SC_OK;
}

/* ---- the sealing secret: DIR/root.tpm = "SCTP" | 1 | TPM2B_PUBLIC | TPM2B_PRIVATE ---- */

/* The counter's auth value: only the holder of the unsealed secret can move or read it. */
static void nv_auth_of(const uint8_t secret[SPD_SECRET_LEN], TPM2B_AUTH *auth)
{
	static const char label[] = "selfcert tpm NV counter auth";
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned n = 0;

	memset(auth, 0, sizeof(*auth));
	if (m != NULL && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(m, label, sizeof(label)) == 1 &&
	    EVP_DigestUpdate(m, secret, SPD_SECRET_LEN) == 1 &&
	    EVP_DigestFinal_ex(m, auth->buffer, &n) == 1)
		auth->size = (UINT16)n;
	EVP_MD_CTX_free(m);
}

static sc_err nv_read(uint64_t *v)
{
	TPM2B_MAX_NV_BUFFER *d = NULL;
	TSS2_RC rc;
	size_t i;

	rc = Esys_NV_Read(g.esys, g.nv, g.nv, spd_tpm_session(TPMA_SESSION_ENCRYPT), ESYS_TR_NONE,
	    ESYS_TR_NONE, 8, 0, &d);
	if (rc != TSS2_RC_SUCCESS)
		return spd_tpm_fail(rc, "tpm: reading the NV counter");
	if (d->size != 8) {
		Esys_Free(d);
		return sc_fail(SC_ERR_STORE_DAMAGED, "tpm: the NV counter is not 8 bytes");
	}
	for (*v = 0, i = 0; i < 8; i++)
		*v = (*v << 8) | d->buffer[i];
	Esys_Free(d);
	return SC_OK;
}

static sc_err nv_increment(void)
{
	TSS2_RC rc = Esys_NV_Increment(g.esys, g.nv, g.nv, spd_tpm_session(0), ESYS_TR_NONE,
	    ESYS_TR_NONE);

	return rc == TSS2_RC_SUCCESS ? SC_OK : spd_tpm_fail(rc, "tpm: incrementing the NV counter");
}

/*
 * A new NV counter with auth: AUTHREAD|AUTHWRITE, NO_DA, and never ORDERLY (an orderly counter
 * jumps ahead after a power cut, which the store would read as damage). A counter starts at or
 * above every counter this TPM ever had, so its first value (after the one increment that
 * makes it readable) is the store's zero, sealed with the secret.
 */
static sc_err nv_define(const TPM2B_AUTH *auth, TPM2_HANDLE *index)
{
	TPM2B_NV_PUBLIC pub = { .nvPublic = {
		                    .nameAlg = TPM2_ALG_SHA256,
		                    .attributes = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) |
		                        TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA,
		                    .dataSize = 8,
		                } };
	uint32_t start, i;
	ESYS_TR probe;
	TSS2_RC rc;

	if (RAND_bytes((unsigned char *)&start, sizeof(start)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	for (i = 0; i < NV_COUNT; i++) {
		*index = NV_FIRST + (start + i) % NV_COUNT;
		if (Esys_TR_FromTPMPublic(g.esys, *index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		        &probe) == TSS2_RC_SUCCESS) {
			(void)Esys_TR_Close(g.esys, &probe);
			continue; /* another store's */
		}
		pub.nvPublic.nvIndex = *index;
		rc = Esys_NV_DefineSpace(g.esys, ESYS_TR_RH_OWNER,
		    spd_tpm_session(TPMA_SESSION_DECRYPT), ESYS_TR_NONE, ESYS_TR_NONE, auth, &pub,
		    &g.nv);
		if (rc == TSS2_RC_SUCCESS)
			break;
		if ((rc & 0xfffu) != (TSS2_RC)TPM2_RC_NV_DEFINED)
			return spd_tpm_fail(rc, "tpm: defining the NV counter (owner hierarchy)");
	}
	if (i == NV_COUNT)
		return sc_fail(SC_ERR_STORE_FULL, "tpm: NV indexes 0x%08x.. are all taken",
		    NV_FIRST);
	(void)Esys_TR_SetAuth(g.esys, g.nv, auth);
	return SC_OK;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static sc_err tpm_secret_create(const struct spd_backend *be, const char *dir,
    uint8_t secret[SPD_SECRET_LEN])
{
	TPM2B_PUBLIC tmpl = { .publicArea = {
		                  .type = TPM2_ALG_KEYEDHASH,
		                  .nameAlg = TPM2_ALG_SHA256,
		                  .objectAttributes = TPMA_OBJECT_FIXEDTPM |
		                      TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
		                      TPMA_OBJECT_NODA,
		                  .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
		              } };
	const TPM2B_DATA empty_data = { 0 };
	const TPML_PCR_SELECTION no_pcrs = { 0 };
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_AUTH auth;
	TPM2_HANDLE index = 0;
	uint8_t file[SEAL_FILE_MAX];
	char path[PATH_MAX], info[160];
	size_t off = 0;
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;

	(void)be;
	if ((r = need_tpm()) != SC_OK)
		return r;
	if ((r = sc_file_join(path, sizeof(path), dir, "root.tpm")) != SC_OK)
		return r;
	if (RAND_priv_bytes(secret, SPD_SECRET_LEN) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "RAND_priv_bytes");
		goto out;
	}
	nv_auth_of(secret, &auth);
	if ((r = nv_define(&auth, &index)) != SC_OK)
		goto out;
	if ((r = nv_increment()) != SC_OK || (r = nv_read(&g.nv_base)) != SC_OK)
		goto out;
	memcpy(sens.sensitive.data.buffer, secret, SPD_SECRET_LEN);
	put_be(sens.sensitive.data.buffer + SPD_SECRET_LEN, index, 4);
	put_be(sens.sensitive.data.buffer + SPD_SECRET_LEN + 4, g.nv_base, 8);
	sens.sensitive.data.size = SEALED_LEN;
	rc = Esys_Create(g.esys, g.srk, spd_tpm_session(TPMA_SESSION_DECRYPT), ESYS_TR_NONE,
	    ESYS_TR_NONE, &sens, &tmpl, &empty_data, &no_pcrs, &priv, &pub, NULL, NULL, NULL);
	OPENSSL_cleanse(&sens, sizeof(sens));
	if (rc != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: sealing the store secret");
		goto out;
	}
	memcpy(file, SEAL_MAGIC, 4);
	file[4] = SEAL_VERSION;
	off = 5;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, file, sizeof(file), &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, file, sizeof(file), &off) != TSS2_RC_SUCCESS) {
		r = sc_fail(SC_ERR_INTERNAL, "tpm: encoding root.tpm");
		goto out;
	}
	if ((r = sc_file_write_new(path, file, off, 0400)) != SC_OK)
		goto out;
	/* What the device runs on, for `selfcert device info` (chips have had known flaws). */
	if (tpm_describe(info, sizeof(info)) == SC_OK &&
	    sc_file_join(path, sizeof(path), dir, "tpm.info") == SC_OK) {
		char line[256];
		int n = snprintf(line, sizeof(line), "tpm: %s\n", info);
		/* Best effort: the store works without it; info then shows "unknown". */
		if (n > 0 && (size_t)n < sizeof(line) &&
		    sc_file_write_new(path, line, (size_t)n, 0444) != SC_OK)
			sc_err_clear();
	}
	r = SC_OK;
out:
	if (r != SC_OK)
		OPENSSL_cleanse(secret, SPD_SECRET_LEN);
	OPENSSL_cleanse(&auth, sizeof(auth));
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

static sc_err tpm_secret_unseal(const struct spd_backend *be, const char *dir,
    uint8_t secret[SPD_SECRET_LEN])
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_SENSITIVE_DATA *data = NULL;
	TPM2B_AUTH auth;
	ESYS_TR h = ESYS_TR_NONE;
	uint8_t *file = NULL;
	size_t len = 0, off = 5;
	char path[PATH_MAX];
	uint32_t index;
	sc_err r = SC_ERR_INTERNAL;
	TSS2_RC rc;

	(void)be;
	memset(&auth, 0, sizeof(auth));
	if ((r = need_tpm()) != SC_OK)
		return r;
	if ((r = sc_file_join(path, sizeof(path), dir, "root.tpm")) != SC_OK)
		return r;
	r = sc_file_read_ex(path, SEAL_FILE_MAX, SC_FILE_NOFOLLOW | SC_FILE_MISSING, &file, &len);
	if (r == SC_ERR_NOT_FOUND)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: the TPM seal is missing", path);
	if (r == SC_ERR_OVERSIZE)
		return sc_fail(SC_ERR_STORE_DAMAGED, "%s: too large for a TPM seal", path);
	if (r != SC_OK)
		return r;
	if (len < 5 || memcmp(file, SEAL_MAGIC, 4) != 0 || file[4] != SEAL_VERSION ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(file, len, &off, &pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(file, len, &off, &priv) != TSS2_RC_SUCCESS ||
	    off != len || pub.publicArea.type != TPM2_ALG_KEYEDHASH) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "%s: not a TPM seal of this format", path);
		goto out;
	}
	rc = Esys_Load(g.esys, g.srk, spd_tpm_session(0), ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
	    &h);
	if (rc != TSS2_RC_SUCCESS) {
		/* TPM_RC_INTEGRITY: wrapped under another storage seed, i.e. another TPM or a clear. */
		r = sc_fail(SC_ERR_STORE_DAMAGED,
		    "%s: this TPM cannot open the store's seal (made on another TPM, or this one "
		    "was cleared): %s",
		    path, Tss2_RC_Decode(rc));
		goto out;
	}
	rc = Esys_Unseal(g.esys, h, spd_tpm_session(TPMA_SESSION_ENCRYPT), ESYS_TR_NONE,
	    ESYS_TR_NONE, &data);
	(void)Esys_FlushContext(g.esys, h);
	if (rc != TSS2_RC_SUCCESS) {
		r = spd_tpm_fail(rc, "tpm: unsealing the store secret");
		goto out;
	}
	if (data->size != SEALED_LEN) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "%s: the sealed secret is %u bytes", path,
		    (unsigned)data->size);
		goto out;
	}
	memcpy(secret, data->buffer, SPD_SECRET_LEN);
	index = (uint32_t)get_be(data->buffer + SPD_SECRET_LEN, 4);
	g.nv_base = get_be(data->buffer + SPD_SECRET_LEN + 4, 8);
	if (g.nv != ESYS_TR_NONE)
		(void)Esys_TR_Close(g.esys, &g.nv);
	g.nv = ESYS_TR_NONE;
	if ((rc = Esys_TR_FromTPMPublic(g.esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	         &g.nv)) != TSS2_RC_SUCCESS) {
		g.nv = ESYS_TR_NONE;
		r = sc_fail(SC_ERR_STORE_DAMAGED, "tpm: the store's NV counter 0x%08x is gone: %s",
		    index, Tss2_RC_Decode(rc));
		goto out;
	}
	nv_auth_of(secret, &auth);
	(void)Esys_TR_SetAuth(g.esys, g.nv, &auth);
	r = SC_OK;
out:
	if (r != SC_OK)
		OPENSSL_cleanse(secret, SPD_SECRET_LEN);
	if (data != NULL) {
		OPENSSL_cleanse(data, sizeof(*data));
		Esys_Free(data);
	}
	OPENSSL_cleanse(&auth, sizeof(auth));
	if (file != NULL)
		OPENSSL_clear_free(file, len + 1);
	return r;
}

/* ---- the counter: the NV counter less its value when the store was made ---- */

static sc_err tpm_counter_create(const struct spd_backend *be, const char *dir)
{
	(void)be;
	(void)dir;
	/* Made with the seal (secret_create): its first value is the store's zero. */
	return g.nv == ESYS_TR_NONE ? sc_fail(SC_ERR_TPM, "tpm: no NV counter") : SC_OK;
}

static sc_err tpm_counter_read(const struct spd_backend *be, const char *dir, uint64_t *value)
{
	uint64_t v;
	sc_err r;

	(void)be;
	(void)dir;
	*value = 0;
	if (g.nv == ESYS_TR_NONE)
		return sc_fail(SC_ERR_TPM, "tpm: no NV counter");
	if ((r = nv_read(&v)) != SC_OK)
		return r;
	if (v < g.nv_base)
		return sc_fail(SC_ERR_STORE_DAMAGED, "tpm: the NV counter is below its start");
	*value = v - g.nv_base;
	return SC_OK;
}

static sc_err tpm_counter_increment(const struct spd_backend *be, const char *dir, uint64_t from)
{
	(void)be;
	(void)dir;
	(void)from; /* the store knows the value it committed last (store.h) */
	if (g.nv == ESYS_TR_NONE)
		return sc_fail(SC_ERR_TPM, "tpm: no NV counter");
	return nv_increment();
}

const struct spd_backend spd_backend_tpm = {
	.name = "tpm",
	.key_create = spd_tpm_key_create,
	.key_load = spd_tpm_key_load,
	.key_blob = spd_tpm_key_blob,
	.key_alg = spd_tpm_key_alg,
	.key_public = spd_tpm_key_public,
	.key_free = spd_tpm_key_free,
	.issue_leaf = spd_tpm_issue_leaf,
	.unwrap_supplied = spd_tpm_unwrap_supplied,
	.csr = spd_tpm_csr,
	.sign = spd_tpm_sign,
	.decrypt_oaep = spd_tpm_decrypt_oaep,
	.derive = spd_tpm_derive,
	.secret_create = tpm_secret_create,
	.secret_unseal = tpm_secret_unseal,
	.counter_create = tpm_counter_create,
	.counter_read = tpm_counter_read,
	.counter_increment = tpm_counter_increment,
};
