/*
 * sc-evil.c — a test-only tool that crafts profiles the real `selfcert net profile` never
 * makes, for the negative integration tests. Not installed, not part of any release.
 *
 *   sc-evil swap-public-key IN.der NETDIR OUT.der
 *       A server-generated profile whose SubjectPublicKeyInfo is replaced by a fresh key of the
 *       same algorithm and re-signed with NETDIR's signer: the encrypted private key no longer
 *       matches its public key (the SP must answer key-mismatch).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>
#include "profile_internal.h"
#include "util.h"

static int die(const char *what)
{
	fprintf(stderr, "sc-evil: %s: %s: %s\n", what, sc_err_name(SC_ERR_INTERNAL), sc_err_detail());
	return 1;
}

int main(int argc, char **argv)
{
	uint8_t *der = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	struct sc_profile *p = NULL;
	EVP_PKEY *fresh = NULL, *signer_key = NULL;
	X509 *signer = NULL;
	char path[4096];
	SC_SUPPLIED_KEY *sk;

	if (argc != 5 || strcmp(argv[1], "swap-public-key") != 0) {
		fprintf(stderr, "usage: sc-evil swap-public-key IN.der NETDIR OUT.der\n");
		return 2;
	}
	if (sc_file_read(argv[2], SC_PROFILE_MAX_DER, &der, &len) != SC_OK ||
	    sc_profile_decode(der, len, &p) != SC_OK)
		return die(argv[2]);
	if (p->sp->tbsProfile->key->type != SC_KEY_SPEC_SUPPLIED)
		return die("not a server-generated profile");
	sk = p->sp->tbsProfile->key->value.supplied;
	if (sc_alg_keygen(sc_alg_of_key(X509_PUBKEY_get0(sk->publicKey)), &fresh) != SC_OK ||
	    !X509_PUBKEY_set(&sk->publicKey, fresh))
		return die("new key");
	snprintf(path, sizeof(path), "%s/signer.pem", argv[3]);
	if (sc_load_cert(path, &signer) != SC_OK)
		return die(path);
	snprintf(path, sizeof(path), "%s/signer.key", argv[3]);
	if (sc_load_key(path, &signer_key) != SC_OK)
		return die(path);
	if (sc_profile_sign(p, signer_key, signer, NULL, 0) != SC_OK ||
	    sc_profile_encode(p, &out, &out_len) != SC_OK ||
	    sc_file_write_atomic(argv[4], out, out_len, 0644) != SC_OK)
		return die("re-sign");
	OPENSSL_free(der);
	OPENSSL_free(out);
	sc_profile_free(p);
	EVP_PKEY_free(fresh);
	EVP_PKEY_free(signer_key);
	X509_free(signer);
	return 0;
}
