// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_gate.c — operator-gated issuance by hand (issue #12, docs/TPM.md): `device gate-challenge`
 * asks a gated TPM SP for its challenge, counter, CSK Name and pending key (one JSON file);
 * `net authorize` is the operator's side: the TPM authorization for exactly that certificate.
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <selfcert/gate.h>
#include <selfcert/oid.h>
#include <selfcert/sp.h>
#include "cli.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "text.h"

#define GATE_FILE_MAX 8192

static const char gate_challenge_usage[] =
    "usage: selfcert device gate-challenge --sp SOCKET --out GATE.json\n"
    "         (--alg ALG [--key-usage LIST] | --server-keygen)\n"
    "  An operator-gated TPM SP's challenge (docs/TPM.md): the SP opens a TPM policy session\n"
    "  (its nonce is the challenge, printed as hex for `net profile --challenge`) and, with --alg,\n"
    "  makes the leaf key now, for the uses LIST (as `net profile --key-usage`; default\n"
    "  digitalSignature). GATE.json holds what `net authorize` needs: challenge, counter,\n"
    "  csk_name and the leaf's public key. One gated challenge is outstanding at a time.\n";

static sc_err ku_parse(const char *list, uint32_t *out)
{
	char buf[256], *save = NULL, *tok;
	unsigned bit;

	*out = 0;
	if (strlen(list) >= sizeof(buf))
		return sc_fail(SC_ERR_USAGE, "--key-usage: too long");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (sc_key_usage_from_name(tok, &bit) != SC_OK || !(bit & SC_KU_DEVICE))
			return sc_fail(SC_ERR_USAGE, "--key-usage: unknown usage '%s'", tok);
		*out |= bit;
	}
	if (*out == 0)
		return sc_fail(SC_ERR_USAGE, "--key-usage: empty list");
	return SC_OK;
}

sc_err cmd_device_gate_challenge(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "out", 1, 0 }, { "alg", 1, 0 },
		{ "key-usage", 1, 0 }, { "server-keygen", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	struct sc_gate_challenge c;
	enum sc_alg alg = SC_ALG_NONE;
	uint32_t ku = KU_DIGITAL_SIGNATURE;
	char ch[2 * SC_GATE_NONCE_LEN + 1], name[2 * SC_GATE_NAME_MAX + 1];
	const char *out_path, *s;
	char *text = NULL, *pem = NULL;
	BIO *m = NULL;
	json_t *o = NULL;
	long n;
	sc_err r;

	memset(&c, 0, sizeof(c));
	if ((r = cli_parse(&a, "device gate-challenge", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(gate_challenge_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "sp", &s)) != SC_OK ||
	    (r = cli_need(&a, "out", &out_path)) != SC_OK ||
	    (r = cli_out_writable(out_path)) != SC_OK)
		goto out;
	if ((s = cli_get(&a, "alg")) != NULL) {
		if (cli_has(&a, "server-keygen")) {
			r = sc_fail(SC_ERR_USAGE,
			    "device gate-challenge: --alg or --server-keygen");
			goto out;
		}
		if (sc_alg_from_name(s, &alg) != SC_OK) {
			r = sc_fail(SC_ERR_USAGE, "--alg '%s': not rsa2048 rsa3072 p256 p384", s);
			goto out;
		}
	} else if (!cli_has(&a, "server-keygen")) {
		r = sc_fail(SC_ERR_USAGE, "device gate-challenge: --alg ALG or --server-keygen");
		goto out;
	}
	if ((s = cli_get(&a, "key-usage")) != NULL && (r = ku_parse(s, &ku)) != SC_OK)
		goto out;
	if ((r = sc_sp_connect(cli_get(&a, "sp"), &sp)) != SC_OK ||
	    (r = sc_sp_gate_challenge(sp, alg, alg == SC_ALG_NONE ? 0 : ku, &c)) != SC_OK)
		goto out;
	sc_hex(c.nonce, sizeof(c.nonce), ch);
	sc_hex(c.csk_name, c.csk_name_len, name);
	if (c.leaf_pub != NULL) {
		if ((m = BIO_new(BIO_s_mem())) == NULL ||
		    PEM_write_bio_PUBKEY(m, c.leaf_pub) != 1 ||
		    (n = BIO_get_mem_data(m, &pem)) <= 0) {
			r = sc_fail_ossl(SC_ERR_NOMEM, "leaf key");
			goto out;
		}
		o = json_pack("{s:s, s:I, s:s, s:s%}", "challenge", ch, "counter",
		    (json_int_t)c.counter, "csk_name", name, "leaf_public_key", pem, (size_t)n);
	} else
		o = json_pack("{s:s, s:I, s:s}", "challenge", ch, "counter", (json_int_t)c.counter,
		    "csk_name", name);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "gate file");
		goto out;
	}
	if ((r = sc_file_write_atomic(out_path, text, strlen(text), 0644)) != SC_OK)
		goto out;
	printf("%s\n", ch);
out:
	free(text);
	json_decref(o);
	BIO_free(m);
	EVP_PKEY_free(c.leaf_pub);
	sc_sp_close(sp);
	return r;
}

static const char authorize_usage[] =
    "usage: selfcert net authorize --dir NETDIR --profile PROFILE.der --gate GATE.json\n"
    "         --device-ca DEVICE-CA.pem --out AUTH.bin [--gate-key KEY]\n"
    "  The operator's TPM authorization (docs/TPM.md): builds the exact tbsCertificate the\n"
    "  gated SP will sign for PROFILE.der (GATE.json from `device gate-challenge`), and signs\n"
    "  the TPM2_Sign it allows with the gate key (default NETDIR/signer.key: the key given to\n"
    "  `sp init --operator-gated --gate-key`). AUTH.bin goes to `device issue --authorization`.\n"
    "  --tbs-out FILE: also write the tbsCertificate (DER) the authorization covers.\n";

/* GATE.json as sc_gate_challenge: every field checked (*c's leaf_pub is the caller's). */
static sc_err gate_file_read(const char *path, struct sc_gate_challenge *c)
{
	uint8_t *data = NULL;
	size_t len = 0, n = 0;
	const char *ch = NULL, *name = NULL, *pem = NULL;
	json_int_t counter = -1;
	json_error_t e;
	json_t *o = NULL;
	BIO *b = NULL;
	sc_err r;

	memset(c, 0, sizeof(*c));
	if ((r = sc_file_read(path, GATE_FILE_MAX, &data, &len)) != SC_OK)
		return r;
	if ((o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &e)) == NULL ||
	    json_unpack_ex(o, &e, JSON_STRICT, "{s:s, s:I, s:s, s?:s}", "challenge", &ch, "counter",
	        &counter, "csk_name", &name, "leaf_public_key", &pem) != 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: not a gate-challenge file: %s", path, e.text);
		goto out;
	}
	if (sc_unhex(ch, c->nonce, sizeof(c->nonce), &n) != SC_OK || n != sizeof(c->nonce)) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: challenge: not %d bytes of hex", path,
		    SC_GATE_NONCE_LEN);
		goto out;
	}
	if (counter < 1) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: counter: not a positive integer", path);
		goto out;
	}
	c->counter = (uint64_t)counter;
	if (sc_unhex(name, c->csk_name, sizeof(c->csk_name), &c->csk_name_len) != SC_OK) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: csk_name: not hex", path);
		goto out;
	}
	if (pem != NULL &&
	    ((b = BIO_new_mem_buf(pem, -1)) == NULL ||
	        (c->leaf_pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) == NULL)) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: leaf_public_key: not a PEM public key", path);
		goto out;
	}
	r = SC_OK;
out:
	BIO_free(b);
	json_decref(o);
	OPENSSL_free(data);
	return r;
}

sc_err cmd_net_authorize(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "dir", 1, 0 }, { "profile", 1, 0 },
		{ "gate", 1, 0 }, { "device-ca", 1, 0 }, { "out", 1, 0 }, { "gate-key", 1, 0 },
		{ "tbs-out", 1, 0 } };
	struct cli_args a;
	struct sc_gate_challenge c;
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	char key_path[4096];
	const char *dir, *s, *out_path;
	uint8_t *der = NULL, *auth = NULL;
	size_t der_len = 0, auth_len = 0;
	EVP_PKEY *key = NULL, *leaf;
	X509 *csk = NULL;
	sc_err r;

	memset(&c, 0, sizeof(c));
	if ((r = cli_parse(&a, "net authorize", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(authorize_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK ||
	    (r = cli_need(&a, "out", &out_path)) != SC_OK ||
	    (r = cli_out_writable(out_path)) != SC_OK)
		goto out;
	if ((s = cli_get(&a, "gate-key")) == NULL) {
		snprintf(key_path, sizeof(key_path), "%s/signer.key", dir);
		s = key_path;
	}
	if ((r = sc_key_open(s, &key)) != SC_OK || (r = cli_need(&a, "gate", &s)) != SC_OK ||
	    (r = gate_file_read(s, &c)) != SC_OK || (r = cli_need(&a, "device-ca", &s)) != SC_OK ||
	    (r = sc_load_cert(s, &csk)) != SC_OK || (r = cli_need(&a, "profile", &s)) != SC_OK ||
	    (r = sc_file_read(s, SC_PROFILE_MAX_DER, &der, &der_len)) != SC_OK ||
	    (r = sc_profile_decode(der, der_len, &p)) != SC_OK)
		goto out;
	sc_profile_get_info(p, &info);
	leaf = info.origin == SC_KEY_SERVER_SUPPLIED ? (EVP_PKEY *)info.supplied_pub : c.leaf_pub;
	if (leaf == NULL) {
		r = sc_fail(SC_ERR_USAGE,
		    "net authorize: %s has no leaf_public_key for a device-"
		    "generated profile (gate-challenge --alg)",
		    cli_get(&a, "gate"));
		goto out;
	}
	if ((r = sc_gate_authorize(key, &c, p, leaf, csk, &auth, &auth_len)) != SC_OK ||
	    (r = sc_file_write_atomic(out_path, auth, auth_len, 0644)) != SC_OK)
		goto out;
	if ((s = cli_get(&a, "tbs-out")) != NULL) {
		const EVP_MD *md = NULL;
		uint8_t *tbs = NULL;
		size_t tbs_len = 0;
		if ((r = sc_gate_tbs(p, leaf, csk, c.counter, c.nonce, &md, &tbs, &tbs_len,
		         NULL)) == SC_OK)
			r = sc_file_write_atomic(s, tbs, tbs_len, 0644);
		OPENSSL_free(tbs);
		if (r != SC_OK)
			goto out;
	}
	r = SC_OK;
out:
	OPENSSL_free(auth);
	OPENSSL_free(der);
	sc_profile_free(p);
	X509_free(csk);
	EVP_PKEY_free(key);
	EVP_PKEY_free(c.leaf_pub);
	return r;
}
