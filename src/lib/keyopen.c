/*
 * keyopen.c — opening the manufacturer's and the operator's private keys (keyopen.h). One door,
 * so that a key in a token (a pkcs11: URI) is added here and nowhere else.
 */
#include <string.h>
#include "keyopen.h"
#include "util.h"

#define PKCS11_URI_SCHEME "pkcs11:"

sc_err sc_key_open(const char *spec, EVP_PKEY **out)
{
	*out = NULL;
	if (spec == NULL || spec[0] == '\0')
		return sc_fail(SC_ERR_USAGE, "key: no file or URI given");
	if (strncmp(spec, PKCS11_URI_SCHEME, strlen(PKCS11_URI_SCHEME)) == 0)
		return sc_fail(SC_ERR_USAGE, "%s: keys in a PKCS#11 token are not supported by this "
		    "build", spec);
	return sc_load_key(spec, out);
}
