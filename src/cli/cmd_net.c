/*
 * cmd_net.c — the network operator's commands: make the network root and profile signer
 * (`net init`), and sign a profile for one device (`net profile`), including the server-
 * generated embodiment where the new private key is encrypted to the device's KEK.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "cli.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "text.h"

static const char net_init_usage[] =
"usage: selfcert net init --dir DIR --network-id ID [--alg ALG] [--days N]\n"
"  Creates DIR/root.pem root.key (the network root, valid 2*N days) and signer.pem signer.key\n"
"  (the profile signer, EKU id-sc-kp-profileSigning, valid N days). Keys 0600, never overwritten.\n"
"  --alg ALG   rsa2048 rsa3072 rsa4096 p256 p384 ed25519 (default p256)\n"
"  --days N    signer lifetime in days (default 3650)\n";

sc_err cmd_net_init(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 }, { "network-id", 1, 0 }, { "alg", 1, 0 }, { "days", 1, 0 },
	};
	static const char *const outputs[] = { "root.pem", "root.key", "signer.pem", "signer.key" };
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	const char *dir, *id;
	char path[PATH_MAX];
	enum sc_alg alg = SC_ALG_P256;
	long days;
	EVP_PKEY *root_key = NULL, *signer_key = NULL;
	X509 *root = NULL, *signer = NULL;

	if ((r = cli_parse(&a, "net init", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(net_init_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK || (r = cli_need(&a, "network-id", &id)) != SC_OK ||
	    (r = cli_int(&a, "days", 3650, 1, 36500, &days)) != SC_OK)
		return r;
	if (strlen(id) > SC_NETWORK_ID_MAX)
		return sc_fail(SC_ERR_USAGE, "net init: --network-id: %zu bytes, at most %d", strlen(id),
		    SC_NETWORK_ID_MAX);
	if (cli_has(&a, "alg") && sc_alg_from_name(cli_get(&a, "alg"), &alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net init: --alg: %s", sc_err_detail());
	if ((r = cli_mkdir(dir, 0)) != SC_OK)
		return r;
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
		if ((r = cli_path(path, sizeof(path), dir, outputs[i])) != SC_OK)
			return r;
		if (access(path, F_OK) == 0)
			return sc_fail(SC_ERR_EXISTS, "%s: already exists; refusing to overwrite", path);
	}
	if ((r = sc_alg_keygen(alg, &root_key)) != SC_OK ||
	    (r = sc_cert_net_root(root_key, id, (int)days * 2, &root)) != SC_OK ||
	    (r = sc_alg_keygen(alg, &signer_key)) != SC_OK ||
	    (r = sc_cert_profile_signer(signer_key, id, (int)days, root, root_key, &signer)) != SC_OK)
		goto out;
	if ((r = cli_path(path, sizeof(path), dir, "root.key")) != SC_OK || (r = sc_write_key(path, root_key)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "root.pem")) != SC_OK || (r = sc_write_cert(path, root)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "signer.key")) != SC_OK || (r = sc_write_key(path, signer_key)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "signer.pem")) != SC_OK || (r = sc_write_cert(path, signer)) != SC_OK)
		goto out;
	printf("network \"%s\": %s/root.pem, %s/signer.pem (%s)\n", id, dir, dir, sc_alg_name(alg));
	r = SC_OK;
out:
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(signer_key);
	X509_free(root);
	X509_free(signer);
	return r;
}

static const char net_profile_usage[] =
"usage: selfcert net profile --dir NETDIR --device-ca DEVICE-CA.pem --out PROFILE.der\n"
"         (--validity DUR | --not-before TIME --not-after TIME)\n"
"         [--alg ALG | --server-keygen ALG --kex KEX.pem [--server-key KEY.pem]]\n"
"         [--challenge HEX] [--user-id ID] [--profile-ttl DUR | --profile-not-after TIME]\n"
"         [--key-usage LIST] [--eku LIST] [--san TYPE:VALUE …] [--digest sha256|sha384|sha512]\n"
"         [--device-id ID] [--rsa-pss]\n"
"  Signs a profile with NETDIR/signer.key. The device ID is read from the device CA certificate\n"
"  (and checked against KEX.pem); --device-id overrides it. Defaults: --alg p256,\n"
"  --profile-ttl 1h, --key-usage digitalSignature, --digest sha256.\n"
"  --server-keygen ALG  the server generates the key and encrypts it to the device's KEK\n"
"                       (KEX.pem); the private key is forgotten after encryption\n"
"  --server-key KEY.pem with --server-keygen: supply that key instead of generating one\n"
"  --key-usage LIST     comma list of digitalSignature nonRepudiation keyEncipherment\n"
"                       dataEncipherment keyAgreement (keyCertSign, cRLSign: the SP refuses)\n"
"  --eku LIST           comma list: serverAuth clientAuth codeSigning emailProtection … or OIDs\n"
"  --san TYPE:VALUE     dns:NAME email:ADDR uri:URI ip:ADDR, repeatable\n"
"  --rsa-pss            sign with RSASSA-PSS when the signer key is RSA\n";

static const struct {
	const char *name;
	unsigned bit;
} key_usages[] = {
	{ "digitalSignature", KU_DIGITAL_SIGNATURE }, { "nonRepudiation", KU_NON_REPUDIATION },
	{ "keyEncipherment", KU_KEY_ENCIPHERMENT }, { "dataEncipherment", KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", KU_KEY_AGREEMENT }, { "keyCertSign", KU_KEY_CERT_SIGN }, { "cRLSign", KU_CRL_SIGN },
};

static sc_err parse_key_usage(const char *list, unsigned *out)
{
	char buf[256], *save = NULL, *tok;

	*out = 0;
	if (strlen(list) >= sizeof(buf))
		return sc_fail(SC_ERR_USAGE, "net profile: --key-usage: too long");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof(key_usages) / sizeof(key_usages[0]); i++)
			if (strcmp(tok, key_usages[i].name) == 0)
				break;
		if (i == sizeof(key_usages) / sizeof(key_usages[0]))
			return sc_fail(SC_ERR_USAGE, "net profile: --key-usage: unknown usage '%s'", tok);
		*out |= key_usages[i].bit;
	}
	if (*out == 0)
		return sc_fail(SC_ERR_USAGE, "net profile: --key-usage: empty list");
	return SC_OK;
}

/* Split a comma list into at most max pointers into buf (NULL-terminated). */
static sc_err split_list(const char *flag, const char *list, char *buf, size_t buf_len,
    const char **out, size_t max)
{
	char *save = NULL, *tok;
	size_t n = 0;

	if (strlen(list) >= buf_len)
		return sc_fail(SC_ERR_USAGE, "net profile: --%s: too long", flag);
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (n >= max)
			return sc_fail(SC_ERR_USAGE, "net profile: --%s: at most %zu entries", flag, max);
		out[n++] = tok;
	}
	out[n] = NULL;
	return SC_OK;
}

sc_err cmd_net_profile(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 }, { "device-ca", 1, 0 }, { "out", 1, 0 }, { "validity", 1, 0 },
		{ "not-before", 1, 0 }, { "not-after", 1, 0 }, { "alg", 1, 0 }, { "server-keygen", 1, 0 },
		{ "kex", 1, 0 }, { "server-key", 1, 0 }, { "challenge", 1, 0 }, { "user-id", 1, 0 },
		{ "profile-ttl", 1, 0 }, { "profile-not-after", 1, 0 }, { "key-usage", 1, 0 },
		{ "eku", 1, 0 }, { "san", 1, 1 }, { "digest", 1, 0 }, { "device-id", 1, 0 }, { "rsa-pss", 0, 0 },
	};
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	struct sc_profile_params pp;
	const char *dir, *device_ca_path, *out_path;
	char path[PATH_MAX], network_id[SC_NETWORK_ID_MAX + 1], device_id[SC_DEVICE_ID_MAX + 1];
	char kex_id[SC_DEVICE_ID_MAX + 1], eku_buf[512];
	const char *eku[SC_PROFILE_MAX_EKU + 1], *san[CLI_MAX_VALUES + 1];
	uint8_t challenge[SC_CHALLENGE_MAX];
	time_t now = time(NULL);
	int64_t secs;
	X509 *device_ca = NULL, *signer = NULL, *kex = NULL;
	EVP_PKEY *signer_key = NULL, *server_key = NULL;
	struct sc_profile *p = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;

	memset(&pp, 0, sizeof(pp));
	if ((r = cli_parse(&a, "net profile", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(net_profile_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK || (r = cli_need(&a, "device-ca", &device_ca_path)) != SC_OK ||
	    (r = cli_need(&a, "out", &out_path)) != SC_OK)
		return r;

	/* Validity: a duration from now, or two explicit times. */
	if (cli_has(&a, "validity") == (cli_has(&a, "not-before") || cli_has(&a, "not-after")))
		return sc_fail(SC_ERR_USAGE, "net profile: give --validity DUR or --not-before TIME --not-after TIME");
	if (cli_has(&a, "validity")) {
		if ((r = sc_parse_duration(cli_get(&a, "validity"), &secs)) != SC_OK)
			return sc_fail(r, "net profile: --validity: %s", sc_err_detail());
		pp.not_before = now;
		pp.not_after = now + secs;
	} else {
		if (!cli_has(&a, "not-before") || !cli_has(&a, "not-after"))
			return sc_fail(SC_ERR_USAGE, "net profile: --not-before and --not-after go together");
		if ((r = sc_parse_time(cli_get(&a, "not-before"), &pp.not_before)) != SC_OK ||
		    (r = sc_parse_time(cli_get(&a, "not-after"), &pp.not_after)) != SC_OK)
			return sc_fail(r, "net profile: %s", sc_err_detail());
	}
	if (cli_has(&a, "profile-not-after")) {
		if (cli_has(&a, "profile-ttl"))
			return sc_fail(SC_ERR_USAGE, "net profile: --profile-ttl and --profile-not-after exclude each other");
		if ((r = sc_parse_time(cli_get(&a, "profile-not-after"), &pp.profile_not_after)) != SC_OK)
			return sc_fail(r, "net profile: --profile-not-after: %s", sc_err_detail());
	} else {
		secs = 3600;
		if (cli_has(&a, "profile-ttl") && (r = sc_parse_duration(cli_get(&a, "profile-ttl"), &secs)) != SC_OK)
			return sc_fail(r, "net profile: --profile-ttl: %s", sc_err_detail());
		pp.profile_not_after = now + secs;
	}

	/* Key: generated in the SP (default p256), or generated here and encrypted to the KEK. */
	pp.generate_alg = SC_ALG_P256;
	if (cli_has(&a, "alg") && cli_has(&a, "server-keygen"))
		return sc_fail(SC_ERR_USAGE, "net profile: --alg and --server-keygen exclude each other");
	if (cli_has(&a, "alg") && sc_alg_from_name(cli_get(&a, "alg"), &pp.generate_alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net profile: --alg: %s", sc_err_detail());
	if (cli_has(&a, "server-key") && !cli_has(&a, "server-keygen"))
		return sc_fail(SC_ERR_USAGE, "net profile: --server-key goes with --server-keygen");
	if (cli_has(&a, "server-keygen")) {
		enum sc_alg alg;
		const char *kex_path;
		if (sc_alg_from_name(cli_get(&a, "server-keygen"), &alg) != SC_OK)
			return sc_fail(SC_ERR_USAGE, "net profile: --server-keygen: %s", sc_err_detail());
		if ((r = cli_need(&a, "kex", &kex_path)) != SC_OK)
			return sc_fail(r, "net profile: --server-keygen needs --kex KEX.pem (the device's key-exchange certificate)");
		if ((r = sc_load_cert(kex_path, &kex)) != SC_OK)
			goto out;
		if (cli_has(&a, "server-key"))
			r = sc_key_open(cli_get(&a, "server-key"), &server_key);
		else
			r = sc_alg_keygen(alg, &server_key);
		if (r != SC_OK)
			goto out;
		pp.supplied_key = server_key;
		pp.kek_cert = kex;
	} else if (cli_has(&a, "kex")) {
		if ((r = sc_load_cert(cli_get(&a, "kex"), &kex)) != SC_OK)
			goto out;
	}

	pp.cert_digest = SC_DIGEST_SHA256;
	if (cli_has(&a, "digest") && (r = sc_digest_from_name(cli_get(&a, "digest"), &pp.cert_digest)) != SC_OK)
		return sc_fail(r, "net profile: --digest: %s", sc_err_detail());
	if (cli_has(&a, "key-usage") && (r = parse_key_usage(cli_get(&a, "key-usage"), &pp.key_usage)) != SC_OK)
		return r;
	if (cli_has(&a, "eku")) {
		if ((r = split_list("eku", cli_get(&a, "eku"), eku_buf, sizeof(eku_buf), eku, SC_PROFILE_MAX_EKU)) != SC_OK)
			return r;
		pp.eku = eku;
	}
	if (cli_has(&a, "san")) {
		int n = cli_count(&a, "san");
		for (int i = 0; i < n; i++)
			san[i] = cli_nth(&a, "san", i);
		san[n] = NULL;
		pp.san = san;
	}
	if (cli_has(&a, "challenge")) {
		if ((r = sc_unhex(cli_get(&a, "challenge"), challenge, sizeof(challenge), &pp.challenge_len)) != SC_OK)
			return sc_fail(r, "net profile: --challenge: %s", sc_err_detail());
		pp.challenge = challenge;
	}
	pp.user_id = cli_get(&a, "user-id");

	/* Who: the device (from its CA certificate) and the network (from our signer). */
	if ((r = sc_load_cert(device_ca_path, &device_ca)) != SC_OK)
		goto out;
	if ((r = sc_cert_device_id(device_ca, device_id, sizeof(device_id))) != SC_OK) {
		r = sc_fail(r, "%s: %s", device_ca_path, sc_err_detail());
		goto out;
	}
	if (kex != NULL) {
		if ((r = sc_cert_device_id(kex, kex_id, sizeof(kex_id))) != SC_OK) {
			r = sc_fail(r, "%s: %s", cli_get(&a, "kex"), sc_err_detail());
			goto out;
		}
		if (strcmp(kex_id, device_id) != 0) {
			r = sc_fail(SC_ERR_DEVICE_MISMATCH, "--kex is for device %s, --device-ca for device %s",
			    kex_id, device_id);
			goto out;
		}
	}
	if (cli_has(&a, "device-id")) {
		if (strlen(cli_get(&a, "device-id")) >= sizeof(device_id)) {
			r = sc_fail(SC_ERR_USAGE, "net profile: --device-id: longer than %d bytes", SC_DEVICE_ID_MAX);
			goto out;
		}
		strcpy(device_id, cli_get(&a, "device-id"));
	}
	if ((r = cli_path(path, sizeof(path), dir, "signer.pem")) != SC_OK || (r = sc_load_cert(path, &signer)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "signer.key")) != SC_OK || (r = sc_key_open(path, &signer_key)) != SC_OK)
		goto out;
	if ((r = cli_subject_attr(signer, NID_organizationName, network_id, sizeof(network_id))) != SC_OK) {
		r = sc_fail(r, "%s/signer.pem: no network ID (subject O): %s", dir, sc_err_detail());
		goto out;
	}
	pp.network_id = network_id;
	pp.device_id = device_id;

	if ((r = sc_profile_create(&pp, &p)) != SC_OK ||
	    (r = sc_profile_sign(p, signer_key, signer, NULL, cli_has(&a, "rsa-pss"))) != SC_OK ||
	    (r = sc_profile_encode(p, &der, &der_len)) != SC_OK)
		goto out;
	if ((r = sc_file_write_atomic(out_path, der, der_len, 0644)) != SC_OK)
		goto out;
	{
		struct sc_profile_info info;
		char id_hex[2 * SC_PROFILE_ID_LEN + 1];
		sc_profile_get_info(p, &info);
		sc_hex(info.id, sizeof(info.id), id_hex);
		printf("profile %s for device %s on network %s: %s key, %zu bytes -> %s\n", id_hex, device_id,
		    network_id, server_key ? "server-generated" : "device-generated", der_len, out_path);
	}
	r = SC_OK;
out:
	OPENSSL_free(der);
	sc_profile_free(p);
	X509_free(device_ca);
	X509_free(signer);
	X509_free(kex);
	EVP_PKEY_free(signer_key);
	EVP_PKEY_free(server_key); /* the server forgets the device's key here */
	return r;
}
