// SPDX-License-Identifier: Apache-2.0
/*
 * p11-drive.c — a plain PKCS#11 application for the integration tests: dlopens a module and
 * walks the token as any program would (slots, token, mechanisms, every object and every
 * attribute through the size query), then signs with every key that may sign and checks each
 * signature with OpenSSL against the key's certificate. Run under valgrind by test_pkcs11.sh.
 *
 *   sc-p11-drive walk MODULE.so     prints "walked N objects, A attributes, S signatures"
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <p11-kit/pkcs11.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define MAX_OBJECTS 1024

/* Every attribute type a PKCS#11 v2.40 object of ours may have, and a few it must not. */
static const CK_ATTRIBUTE_TYPE attr_types[] = {
	CKA_CLASS,
	CKA_TOKEN,
	CKA_PRIVATE,
	CKA_LABEL,
	CKA_MODIFIABLE,
	CKA_COPYABLE,
	CKA_DESTROYABLE,
	CKA_KEY_TYPE,
	CKA_ID,
	CKA_START_DATE,
	CKA_END_DATE,
	CKA_DERIVE,
	CKA_LOCAL,
	CKA_KEY_GEN_MECHANISM,
	CKA_ALLOWED_MECHANISMS,
	CKA_SUBJECT,
	CKA_SENSITIVE,
	CKA_DECRYPT,
	CKA_SIGN,
	CKA_SIGN_RECOVER,
	CKA_UNWRAP,
	CKA_EXTRACTABLE,
	CKA_ALWAYS_SENSITIVE,
	CKA_NEVER_EXTRACTABLE,
	CKA_WRAP_WITH_TRUSTED,
	CKA_ALWAYS_AUTHENTICATE,
	CKA_PUBLIC_KEY_INFO,
	CKA_ENCRYPT,
	CKA_VERIFY,
	CKA_VERIFY_RECOVER,
	CKA_WRAP,
	CKA_TRUSTED,
	CKA_MODULUS,
	CKA_MODULUS_BITS,
	CKA_PUBLIC_EXPONENT,
	CKA_PRIVATE_EXPONENT,
	CKA_PRIME_1,
	CKA_EC_PARAMS,
	CKA_EC_POINT,
	CKA_VALUE,
	CKA_CERTIFICATE_TYPE,
	CKA_CERTIFICATE_CATEGORY,
	CKA_CHECK_VALUE,
	CKA_ISSUER,
	CKA_SERIAL_NUMBER,
	CKA_URL,
	CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
	CKA_JAVA_MIDP_SECURITY_DOMAIN,
	CKA_NAME_HASH_ALGORITHM,
	CKA_APPLICATION,
	CKA_OBJECT_ID,
};
#define N_TYPES (sizeof(attr_types) / sizeof(attr_types[0]))

static CK_FUNCTION_LIST_PTR f;

static int fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "sc-p11-drive: %s: rv 0x%lx\n", what, (unsigned long)rv);
	return 1;
}

/* One attribute by the size query; *out is malloc'd (NULL when absent or sensitive). */
static CK_RV get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    unsigned char **out, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);

	*out = NULL;
	*len = 0;
	if (rv != CKR_OK)
		return rv;
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*out = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

/* The certificate object with this CKA_ID, as an X509. */
static X509 *cert_for(CK_SESSION_HANDLE s, const unsigned char *id, CK_ULONG id_len)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)id, id_len } };
	CK_OBJECT_HANDLE h;
	CK_ULONG n = 0, len;
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *x = NULL;

	if (f->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
		return NULL;
	if (f->C_FindObjects(s, &h, 1, &n) == CKR_OK && n == 1 &&
	    get_attr(s, h, CKA_VALUE, &der, &len) == CKR_OK) {
		p = der;
		x = d2i_X509(NULL, &p, (long)len);
	}
	f->C_FindObjectsFinal(s);
	free(der);
	return x;
}

/* Sign with the key's natural mechanism and check it with OpenSSL. 1 verified, 0 not. */
static int sign_and_check(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_KEY_TYPE kt, X509 *cert)
{
	static const unsigned char msg[] = "walked by sc-p11-drive";
	CK_MECHANISM m = { kt == CKK_RSA ? CKM_SHA256_RSA_PKCS
		    : kt == CKK_EC       ? CKM_ECDSA_SHA256
		                         : CKM_EDDSA,
		NULL, 0 };
	unsigned char sig[1024], der[256], *p = der;
	CK_ULONG sl = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *es = NULL;
	size_t len;
	int ok = 0, n;

	if (md == NULL || f->C_SignInit(s, &m, key) != CKR_OK ||
	    f->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &sl) != CKR_OK)
		goto out;
	len = sl;
	if (kt == CKK_EC) {
		/* PKCS#11 gives r | s; OpenSSL verifies DER. */
		BIGNUM *r = BN_bin2bn(sig, (int)sl / 2, NULL),
		       *sv = BN_bin2bn(sig + sl / 2, (int)sl / 2, NULL);

		if ((es = ECDSA_SIG_new()) == NULL || r == NULL || sv == NULL ||
		    !ECDSA_SIG_set0(es, r, sv)) {
			BN_free(r);
			BN_free(sv);
			goto out;
		}
		if ((n = i2d_ECDSA_SIG(es, &p)) <= 0)
			goto out;
		memcpy(sig, der, (size_t)n);
		len = (size_t)n;
	}
	ok = EVP_DigestVerifyInit(md, NULL, kt == CKK_EC_EDWARDS ? NULL : EVP_sha256(), NULL,
	         X509_get0_pubkey(cert)) == 1 &&
	    EVP_DigestVerify(md, sig, len, msg, sizeof(msg)) == 1;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return ok;
}

static int walk(const char *path)
{
	CK_C_INITIALIZE_ARGS init = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	CK_C_GetFunctionList getf;
	CK_SLOT_ID slot;
	CK_ULONG n = 1, nmech = 0, i, j;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_TYPE mechs[64];
	CK_MECHANISM_INFO mi;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE objs[MAX_OBJECTS];
	CK_ULONG nobj = 0;
	unsigned long attrs = 0, sigs = 0, signers = 0;
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;
	int rc = 1;

	if (lib == NULL) {
		fprintf(stderr, "sc-p11-drive: %s\n", dlerror());
		return 1;
	}
	/* POSIX's way to take a function from dlsym under -Wpedantic. */
	*(void **)(&getf) = dlsym(lib, "C_GetFunctionList");
	if (getf == NULL || getf(&f) != CKR_OK) {
		dlclose(lib);
		return fail("C_GetFunctionList", CKR_GENERAL_ERROR);
	}
	if ((rv = f->C_Initialize(&init)) != CKR_OK) {
		dlclose(lib);
		return fail("C_Initialize", rv);
	}
	if ((rv = f->C_GetSlotList(CK_TRUE, &slot, &n)) != CKR_OK || n != 1) {
		fail("C_GetSlotList", rv);
		goto fin;
	}
	if ((rv = f->C_GetTokenInfo(slot, &ti)) != CKR_OK) {
		fail("C_GetTokenInfo", rv);
		goto fin;
	}
	nmech = sizeof(mechs) / sizeof(mechs[0]);
	if ((rv = f->C_GetMechanismList(slot, mechs, &nmech)) != CKR_OK) {
		fail("C_GetMechanismList", rv);
		goto fin;
	}
	for (i = 0; i < nmech; i++)
		if ((rv = f->C_GetMechanismInfo(slot, mechs[i], &mi)) != CKR_OK) {
			fail("C_GetMechanismInfo", rv);
			goto fin;
		}
	if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK) {
		fail("C_OpenSession", rv);
		goto fin;
	}
	if ((rv = f->C_FindObjectsInit(s, NULL, 0)) != CKR_OK ||
	    (rv = f->C_FindObjects(s, objs, MAX_OBJECTS, &nobj)) != CKR_OK ||
	    (rv = f->C_FindObjectsFinal(s)) != CKR_OK) {
		fail("C_FindObjects", rv);
		goto close;
	}
	for (i = 0; i < nobj; i++) {
		CK_OBJECT_CLASS cls = 0;
		CK_KEY_TYPE kt = 0;
		CK_BBOOL can_sign = CK_FALSE;
		unsigned char *id = NULL;
		CK_ULONG id_len = 0;

		for (j = 0; j < N_TYPES; j++) {
			unsigned char *v = NULL;
			CK_ULONG len = 0;

			rv = get_attr(s, objs[i], attr_types[j], &v, &len);
			/* The three answers that are not errors for C_GetAttributeValue (v2.40 §5.7). */
			if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
			    rv != CKR_ATTRIBUTE_SENSITIVE) {
				free(v);
				fail("C_GetAttributeValue", rv);
				goto close;
			}
			if (rv == CKR_OK) {
				attrs++;
				if (attr_types[j] == CKA_CLASS && len == sizeof(cls))
					memcpy(&cls, v, len);
				if (attr_types[j] == CKA_KEY_TYPE && len == sizeof(kt))
					memcpy(&kt, v, len);
				if (attr_types[j] == CKA_SIGN && len == 1)
					can_sign = v[0];
				if (attr_types[j] == CKA_ID) {
					id = v;
					id_len = len;
					v = NULL;
				}
			}
			free(v);
		}
		if (cls == CKO_PRIVATE_KEY && can_sign) {
			X509 *cert = cert_for(s, id, id_len);

			signers++;
			if (cert != NULL && sign_and_check(s, objs[i], kt, cert))
				sigs++;
			else
				fprintf(stderr,
				    "sc-p11-drive: object 0x%lx: signature does not verify\n",
				    (unsigned long)objs[i]);
			X509_free(cert);
		}
		free(id);
	}
	printf("walked %lu objects, %lu attributes, %lu of %lu signatures verified\n",
	    (unsigned long)nobj, attrs, sigs, signers);
	rc = sigs == signers ? 0 : 1;
close:
	f->C_CloseSession(s);
fin:
	f->C_Finalize(NULL);
	dlclose(lib);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "walk") == 0)
		return walk(argv[2]);
	fprintf(stderr, "usage: sc-p11-drive walk MODULE.so\n");
	return 2;
}
