/*
 * keyopen.c — opening the manufacturer's and the operator's private keys (keyopen.h). One door,
 * so that a key in a token (a pkcs11: URI) is added here and nowhere else.
 */
#include <string.h>
#include <openssl/pem.h>
#include "file.h"
#include "keyopen.h"

#define PKCS11_URI_SCHEME "pkcs11:"
#define SC_KEY_FILE_MAX (64 * 1024) /* a PEM private key: RSA-4096 is about 3.3 KiB */

/*
 * Our key files are never encrypted; without this OpenSSL's default callback would prompt on
 * the terminal for an encrypted one.
 */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* A PEM private-key file; never through a link (refused on the very fd that is read). */
static sc_err load_key_file(const char *path, EVP_PKEY **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	sc_err r;

	if ((r = sc_file_read_ex(path, SC_KEY_FILE_MAX, SC_FILE_NOFOLLOW, &data, &len)) != SC_OK)
		return r;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	if ((*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, path);
		goto out;
	}
	r = SC_OK;
out:
	BIO_free(bio);
	sc_free_secret(data, len);
	return r;
}

sc_err sc_key_open(const char *spec, EVP_PKEY **out)
{
	*out = NULL;
	if (spec == NULL || spec[0] == '\0')
		return sc_fail(SC_ERR_USAGE, "key: no file or URI given");
	if (strncmp(spec, PKCS11_URI_SCHEME, strlen(PKCS11_URI_SCHEME)) == 0)
		return sc_fail(SC_ERR_USAGE,
		    "%s: keys in a PKCS#11 token are not supported by this "
		    "build",
		    spec);
	return load_key_file(spec, out);
}
