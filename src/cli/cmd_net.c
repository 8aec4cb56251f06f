// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_net.c — the network operator's commands: make the network root and profile signer
 * (`net init`), sign a profile for one device (`net profile`), including the server-generated
 * embodiment where the new private key is encrypted to the device's KEK, and issue the
 * provisioning server's TLS certificate under the network root (`net server-cert`).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <dirent.h>
#include <sys/stat.h>
#include <selfcert/alg.h>
#include <selfcert/batch.h>
#include <selfcert/cert.h>
#include <selfcert/oid.h>
#include <selfcert/profile.h>
#include "cli.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "text.h"

static const char net_init_usage[] =
    "usage: selfcert net init --dir DIR --network-id ID [--alg ALG] [--days N]\n"
    "         [--root-key KEY | --offline-root RDIR] [--signer-key KEY] [--json]\n"
    "  Creates DIR/root.pem root.key (the network root, valid 2*N days) and signer.pem signer.key\n"
    "  (the profile signer, EKU id-sc-kp-profileSigning, valid N days). Keys 0600, never overwritten.\n"
    "  --alg ALG           rsa2048 rsa3072 rsa4096 p256 p384 ed25519 (default p256), for keys made here\n"
    "  --days N            signer lifetime in days (default 3650)\n"
    "  --root-key KEY      the root's key exists: a PEM file or a pkcs11: URI; no root.key is written\n"
    "  --offline-root RDIR write the new root key to RDIR/root.key (made 0700), not to DIR: the\n"
    "                      server needs only DIR (root.pem, signer.pem, signer.key)\n"
    "  --signer-key KEY    the signer's key exists (file or pkcs11: URI); no signer.key is written\n"
    "  A pkcs11: URI (RFC 7512) names a key in a token: 'pkcs11:token=T;object=O;type=private\n"
    "  ?pin-source=file:/PATH' (the PIN only from a file; pin-value is refused).\n"
    "  --json              print one JSON object (network_id, root, signer, root_alg, signer_alg,\n"
    "                      root_key: null if kept where it was, root_not_after, signer_not_after)\n";

/* What `net init` writes where; a NULL key path: the key exists already (a file or a token). */
struct net_init_out {
	char root_key[PATH_MAX], signer_key[PATH_MAX], root[PATH_MAX], signer[PATH_MAX];
	int write_root_key, write_signer_key;
};

/* The outputs' paths, none of which may exist yet (a failed run leaves no half set). */
static sc_err net_init_paths(const struct cli_args *a, const char *dir, struct net_init_out *o)
{
	const char *rdir = cli_has(a, "offline-root") ? cli_get(a, "offline-root") : dir;
	sc_err r;

	if (cli_has(a, "offline-root") && cli_has(a, "root-key"))
		return sc_fail(SC_ERR_USAGE,
		    "net init: --offline-root and --root-key exclude each other "
		    "(--offline-root is where a new root key goes)");
	o->write_root_key = !cli_has(a, "root-key");
	o->write_signer_key = !cli_has(a, "signer-key");
	if ((r = cli_mkdir(dir, 0)) != SC_OK ||
	    (cli_has(a, "offline-root") && (r = cli_mkdir(rdir, 1)) != SC_OK) ||
	    (r = cli_path(o->root_key, sizeof(o->root_key), rdir, "root.key")) != SC_OK ||
	    (r = cli_path(o->signer_key, sizeof(o->signer_key), dir, "signer.key")) != SC_OK ||
	    (r = cli_path(o->root, sizeof(o->root), dir, "root.pem")) != SC_OK ||
	    (r = cli_path(o->signer, sizeof(o->signer), dir, "signer.pem")) != SC_OK)
		return r;
	{
		const char *const check[] = { o->root, o->signer,
			o->write_root_key ? o->root_key : NULL,
			o->write_signer_key ? o->signer_key : NULL };
		for (size_t i = 0; i < sizeof(check) / sizeof(check[0]); i++)
			if (check[i] != NULL && access(check[i], F_OK) == 0)
				return sc_fail(SC_ERR_EXISTS,
				    "%s: already exists; refusing to overwrite", check[i]);
	}
	return SC_OK;
}

/*
 * Prove the pair before writing anything: a probe profile signed by the signer key must verify
 * against the root, as every device will check it. With keys in a token this is also where a
 * key that does not sign (wrong object, a public key) shows.
 */
static sc_err net_init_prove(const char *id, X509 *root, X509 *signer, EVP_PKEY *signer_key)
{
	sc_err r;

	if ((r = sc_profile_prove_signer(id, "net-init-check", signer_key, signer, root)) != SC_OK)
		r = sc_fail(r, "net init: a profile signed with the signer key does not verify: %s",
		    sc_err_detail());
	return r;
}

sc_err cmd_net_init(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "network-id", 1, 0 },
		{ "alg", 1, 0 },
		{ "days", 1, 0 },
		{ "root-key", 1, 0 },
		{ "signer-key", 1, 0 },
		{ "offline-root", 1, 0 },
		{ "json", 0, 0 },
	};
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	struct net_init_out o;
	const char *dir, *id;
	enum sc_alg alg = SC_ALG_P256;
	long days;
	EVP_PKEY *root_key = NULL, *signer_key = NULL;
	X509 *root = NULL, *signer = NULL;

	if ((r = cli_parse(&a, "net init", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) !=
	    SC_OK)
		return r;
	if (a.help) {
		fputs(net_init_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK ||
	    (r = cli_need(&a, "network-id", &id)) != SC_OK ||
	    (r = cli_int(&a, "days", 3650, 1, 36500, &days)) != SC_OK)
		return r;
	if (strlen(id) > SC_NETWORK_ID_MAX)
		return sc_fail(SC_ERR_USAGE, "net init: --network-id: %zu bytes, at most %d",
		    strlen(id), SC_NETWORK_ID_MAX);
	if (cli_has(&a, "alg") && sc_alg_from_name(cli_get(&a, "alg"), &alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net init: --alg: %s", sc_err_detail());
	if ((r = net_init_paths(&a, dir, &o)) != SC_OK)
		return r;
	/* Keys that exist (a file, a token) are opened; the others made here. */
	if ((r = o.write_root_key ? sc_alg_keygen(alg, &root_key)
	                          : sc_key_open(cli_get(&a, "root-key"), &root_key)) != SC_OK ||
	    (r = o.write_signer_key ? sc_alg_keygen(alg, &signer_key)
	                            : sc_key_open(cli_get(&a, "signer-key"), &signer_key)) != SC_OK)
		goto out;
	/* Each certificate decoded afresh before use: see cli_cert_reread. */
	if ((r = sc_cert_net_root(root_key, id, (int)days * 2, &root)) != SC_OK ||
	    (r = cli_cert_reread(&root)) != SC_OK ||
	    (r = sc_cert_profile_signer(signer_key, id, (int)days, root, root_key, &signer)) !=
	        SC_OK ||
	    (r = cli_cert_reread(&signer)) != SC_OK ||
	    (r = net_init_prove(id, root, signer, signer_key)) != SC_OK)
		goto out;
	if ((o.write_root_key && (r = sc_write_key(o.root_key, root_key)) != SC_OK) ||
	    (r = sc_write_cert(o.root, root)) != SC_OK ||
	    (o.write_signer_key && (r = sc_write_key(o.signer_key, signer_key)) != SC_OK) ||
	    (r = sc_write_cert(o.signer, signer)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:o}",
		    "network_id", id, "root", o.root, "signer", o.signer, "root_alg",
		    sc_alg_name(sc_alg_of_key(root_key)), "signer_alg",
		    sc_alg_name(sc_alg_of_key(signer_key)), "root_key",
		    o.write_root_key ? o.root_key : NULL, "root_not_after",
		    cli_json_not_after(root), "signer_not_after", cli_json_not_after(signer)));
	else {
		printf("network \"%s\": %s/root.pem, %s/signer.pem (root %s, signer %s); root key "
		       "%s\n",
		    id, dir, dir, sc_alg_name(sc_alg_of_key(root_key)),
		    sc_alg_name(sc_alg_of_key(signer_key)),
		    o.write_root_key ? o.root_key : "kept where it was");
		r = SC_OK;
	}
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
    "         [--device-id ID] [--rsa-pss] [--renewal K/DUR] [--json]\n"
    "  Signs a profile with NETDIR/signer.key (or --signer-key KEY: a file or a pkcs11: URI).\n"
    "  The device ID is read from the device CA certificate\n"
    "  (and checked against KEX.pem); --device-id overrides it. Defaults: --alg p256,\n"
    "  --profile-ttl 1h, --key-usage digitalSignature, --digest sha256.\n"
    "  --server-keygen ALG  the server generates the key and encrypts it to the device's KEK\n"
    "                       (KEX.pem); the private key is forgotten after encryption\n"
    "  --server-key KEY.pem with --server-keygen: supply that key instead of generating one\n"
    "  --key-usage LIST     comma list of digitalSignature nonRepudiation keyEncipherment\n"
    "                       dataEncipherment keyAgreement (keyCertSign, cRLSign: the SP refuses)\n"
    "  --eku LIST           comma list: serverAuth clientAuth codeSigning emailProtection … or OIDs\n"
    "  --san TYPE:VALUE     dns:NAME email:ADDR uri:URI ip:ADDR, repeatable\n"
    "  --rsa-pss            sign with RSASSA-PSS when the signer key is RSA\n"
    "  --renewal K/DUR      a renewal profile: K certificates, one every DUR (SP revision 1.5;\n"
    "                       `device issue` sends it with RENEW)\n";

/* The names --key-usage takes (oid.h): the device's five, and the two CA usages the SP refuses. */
#define NET_KEY_USAGES (SC_KU_DEVICE | KU_KEY_CERT_SIGN | KU_CRL_SIGN)

static sc_err parse_key_usage(const char *list, unsigned *out)
{
	char buf[256], *save = NULL, *tok;

	*out = 0;
	if (strlen(list) >= sizeof(buf))
		return sc_fail(SC_ERR_USAGE, "net profile: --key-usage: too long");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		unsigned bit;
		if (sc_key_usage_from_name(tok, &bit) != SC_OK || !(bit & NET_KEY_USAGES))
			return sc_fail(SC_ERR_USAGE, "net profile: --key-usage: unknown usage '%s'",
			    tok);
		*out |= bit;
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
			return sc_fail(SC_ERR_USAGE, "net profile: --%s: at most %zu entries", flag,
			    max);
		out[n++] = tok;
	}
	out[n] = NULL;
	return SC_OK;
}

/* What `net profile` was asked for: its flags, parsed and checked. Nothing here is owned. */
struct profile_req {
	struct cli_args a;
	const char *dir, *device_ca_path, *out_path;
	const char *kex_path; /* --kex, or NULL */
	int server_keygen;    /* the server makes the key (or takes --server-key) */
	enum sc_alg server_alg;
	struct sc_profile_params pp; /* all but the keys, certificates and names (profile_sign) */
	const char *eku[SC_PROFILE_MAX_EKU + 1], *san[CLI_MAX_VALUES + 1];
	char eku_buf[512];
	uint8_t challenge[SC_CHALLENGE_MAX];
};

/* What was loaded for it. Every pointer is owned here and freed by profile_inputs_free. */
struct profile_inputs {
	X509 *device_ca, *kex, *signer;
	EVP_PKEY *signer_key;
	EVP_PKEY *server_key; /* server-generated: the device's future private key */
	char device_id[SC_DEVICE_ID_MAX + 1], network_id[SC_NETWORK_ID_MAX + 1];
};

static void profile_inputs_free(struct profile_inputs *in)
{
	X509_free(in->device_ca);
	X509_free(in->kex);
	X509_free(in->signer);
	EVP_PKEY_free(in->signer_key);
	/* The server forgets the device's key here: OpenSSL clears key material as it frees. */
	EVP_PKEY_free(in->server_key);
	memset(in, 0, sizeof(*in));
}

/* Validity: a duration from now, or two explicit times; then the profile's own lifetime. */
static sc_err profile_validity_flags(const struct cli_args *a, time_t now,
    struct sc_profile_params *pp)
{
	int64_t secs;
	sc_err r;

	if (cli_has(a, "validity") == (cli_has(a, "not-before") || cli_has(a, "not-after")))
		return sc_fail(SC_ERR_USAGE,
		    "net profile: give --validity DUR or --not-before TIME --not-after TIME");
	if (cli_has(a, "validity")) {
		if ((r = sc_parse_duration(cli_get(a, "validity"), &secs)) != SC_OK)
			return sc_fail(r, "net profile: --validity: %s", sc_err_detail());
		pp->not_before = now;
		pp->not_after = now + secs;
	} else {
		if (!cli_has(a, "not-before") || !cli_has(a, "not-after"))
			return sc_fail(SC_ERR_USAGE,
			    "net profile: --not-before and --not-after go together");
		if ((r = sc_parse_time(cli_get(a, "not-before"), &pp->not_before)) != SC_OK ||
		    (r = sc_parse_time(cli_get(a, "not-after"), &pp->not_after)) != SC_OK)
			return sc_fail(r, "net profile: %s", sc_err_detail());
	}
	if (cli_has(a, "profile-not-after")) {
		if (cli_has(a, "profile-ttl"))
			return sc_fail(SC_ERR_USAGE,
			    "net profile: --profile-ttl and "
			    "--profile-not-after exclude each other");
		if ((r = sc_parse_time(cli_get(a, "profile-not-after"), &pp->profile_not_after)) !=
		    SC_OK)
			return sc_fail(r, "net profile: --profile-not-after: %s", sc_err_detail());
		return SC_OK;
	}
	secs = 3600;
	if (cli_has(a, "profile-ttl") &&
	    (r = sc_parse_duration(cli_get(a, "profile-ttl"), &secs)) != SC_OK)
		return sc_fail(r, "net profile: --profile-ttl: %s", sc_err_detail());
	pp->profile_not_after = now + secs;
	return SC_OK;
}

/* Key: generated in the SP (default p256), or generated here and encrypted to the KEK. */
static sc_err profile_key_flags(struct profile_req *req)
{
	const struct cli_args *a = &req->a;
	sc_err r;

	req->pp.generate_alg = SC_ALG_P256;
	if (cli_has(a, "alg") && cli_has(a, "server-keygen"))
		return sc_fail(SC_ERR_USAGE,
		    "net profile: --alg and --server-keygen exclude each other");
	if (cli_has(a, "alg") &&
	    sc_alg_from_name(cli_get(a, "alg"), &req->pp.generate_alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net profile: --alg: %s", sc_err_detail());
	if (cli_has(a, "server-key") && !cli_has(a, "server-keygen"))
		return sc_fail(SC_ERR_USAGE, "net profile: --server-key goes with --server-keygen");
	req->kex_path = cli_get(a, "kex");
	if (!cli_has(a, "server-keygen"))
		return SC_OK;
	req->server_keygen = 1;
	if (sc_alg_from_name(cli_get(a, "server-keygen"), &req->server_alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net profile: --server-keygen: %s", sc_err_detail());
	if ((r = cli_need(a, "kex", &req->kex_path)) != SC_OK)
		return sc_fail(r,
		    "net profile: --server-keygen needs --kex KEX.pem (the device's "
		    "key-exchange certificate)");
	return SC_OK;
}

/* What the certificate will say: digest, key usage, EKU, SANs, challenge, user ID. */
static sc_err profile_content_flags(struct profile_req *req)
{
	const struct cli_args *a = &req->a;
	struct sc_profile_params *pp = &req->pp;
	sc_err r;

	pp->cert_digest = SC_DIGEST_SHA256;
	if (cli_has(a, "digest") &&
	    (r = sc_digest_from_name(cli_get(a, "digest"), &pp->cert_digest)) != SC_OK)
		return sc_fail(r, "net profile: --digest: %s", sc_err_detail());
	if (cli_has(a, "key-usage") &&
	    (r = parse_key_usage(cli_get(a, "key-usage"), &pp->key_usage)) != SC_OK)
		return r;
	if (cli_has(a, "eku")) {
		if ((r = split_list("eku", cli_get(a, "eku"), req->eku_buf, sizeof(req->eku_buf),
		         req->eku, SC_PROFILE_MAX_EKU)) != SC_OK)
			return r;
		pp->eku = req->eku;
	}
	if (cli_has(a, "san")) {
		int n = cli_count(a, "san");
		for (int i = 0; i < n; i++)
			req->san[i] = cli_nth(a, "san", i);
		req->san[n] = NULL;
		pp->san = req->san;
	}
	if (cli_has(a, "challenge")) {
		if ((r = sc_unhex(cli_get(a, "challenge"), req->challenge, sizeof(req->challenge),
		         &pp->challenge_len)) != SC_OK)
			return sc_fail(r, "net profile: --challenge: %s", sc_err_detail());
		pp->challenge = req->challenge;
	}
	pp->user_id = cli_get(a, "user-id");
	return SC_OK;
}

/* Every flag, checked before any file is read or key made. */
/*
 * #17 --renewal K/DUR: a renewal profile of K certificates, one per DUR (for an SP of revision
 * 1.5: older ones refuse it). The profile's own lifetime (--profile-ttl) counts from the last
 * period's start, so that the SP can still issue the last certificate.
 */
static sc_err profile_renewal_flag(const char *v, struct sc_profile_params *pp)
{
	char *end = NULL;
	unsigned long k;
	int64_t cad;

	errno = 0;
	k = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '/' || k < SC_RENEWAL_COUNT_MIN ||
	    k > SC_RENEWAL_COUNT_MAX || sc_parse_duration(end + 1, &cad) != SC_OK ||
	    cad < SC_RENEWAL_CADENCE_MIN || cad > SC_RENEWAL_CADENCE_MAX)
		return sc_fail(SC_ERR_USAGE,
		    "net profile: --renewal '%s': expected K/DUR, K %d..%d, DUR from 1s to 366d "
		    "(e.g. 7/1d)",
		    v, SC_RENEWAL_COUNT_MIN, SC_RENEWAL_COUNT_MAX);
	if (pp->challenge != NULL)
		return sc_fail(SC_ERR_USAGE,
		    "net profile: --renewal and --challenge exclude each other");
	pp->renewal_count = (uint32_t)k;
	pp->renewal_cadence = (uint32_t)cad;
	pp->profile_not_after += (time_t)(k - 1) * (time_t)cad;
	return SC_OK;
}

static sc_err profile_flags(struct profile_req *req, int argc, char **argv, time_t now)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "device-ca", 1, 0 },
		{ "out", 1, 0 },
		{ "validity", 1, 0 },
		{ "not-before", 1, 0 },
		{ "not-after", 1, 0 },
		{ "alg", 1, 0 },
		{ "server-keygen", 1, 0 },
		{ "kex", 1, 0 },
		{ "server-key", 1, 0 },
		{ "challenge", 1, 0 },
		{ "user-id", 1, 0 },
		{ "profile-ttl", 1, 0 },
		{ "profile-not-after", 1, 0 },
		{ "key-usage", 1, 0 },
		{ "eku", 1, 0 },
		{ "san", 1, 1 },
		{ "digest", 1, 0 },
		{ "device-id", 1, 0 },
		{ "rsa-pss", 0, 0 },
		{ "json", 0, 0 },
		{ "signer-key", 1, 0 },
		{ "renewal", 1, 0 },
	};
	const size_t nspec = sizeof(spec) / sizeof(spec[0]);
	struct cli_args *a = &req->a;
	sc_err r;

	memset(req, 0, sizeof(*req));
	if ((r = cli_parse(a, "net profile", spec, nspec, argc, argv, 0)) != SC_OK || a->help)
		return r;
	if ((r = cli_need(a, "dir", &req->dir)) != SC_OK ||
	    (r = cli_need(a, "device-ca", &req->device_ca_path)) != SC_OK ||
	    (r = cli_need(a, "out", &req->out_path)) != SC_OK ||
	    (r = profile_validity_flags(a, now, &req->pp)) != SC_OK ||
	    (r = profile_key_flags(req)) != SC_OK || (r = profile_content_flags(req)) != SC_OK)
		return r;
	if (cli_has(a, "device-id") && strlen(cli_get(a, "device-id")) > SC_DEVICE_ID_MAX)
		return sc_fail(SC_ERR_USAGE, "net profile: --device-id: longer than %d bytes",
		    SC_DEVICE_ID_MAX);
	return cli_has(a, "renewal") ? profile_renewal_flag(cli_get(a, "renewal"), &req->pp)
	                             : SC_OK;
}

/* Who: the device (from its CA certificate, checked against the KEK certificate) or --device-id. */
static sc_err profile_load_device(const struct profile_req *req, struct profile_inputs *in)
{
	char kex_id[SC_DEVICE_ID_MAX + 1];
	sc_err r;

	if ((r = sc_load_cert(req->device_ca_path, &in->device_ca)) != SC_OK ||
	    (req->kex_path != NULL && (r = sc_load_cert(req->kex_path, &in->kex)) != SC_OK))
		return r;
	if ((r = sc_cert_device_id(in->device_ca, in->device_id, sizeof(in->device_id))) != SC_OK)
		return sc_fail(r, "%s: %s", req->device_ca_path, sc_err_detail());
	if (in->kex != NULL) {
		if ((r = sc_cert_device_id(in->kex, kex_id, sizeof(kex_id))) != SC_OK)
			return sc_fail(r, "%s: %s", req->kex_path, sc_err_detail());
		if (strcmp(kex_id, in->device_id) != 0)
			return sc_fail(SC_ERR_DEVICE_MISMATCH,
			    "--kex is for device %s, --device-ca for device %s", kex_id,
			    in->device_id);
	}
	if (cli_has(&req->a, "device-id"))
		snprintf(in->device_id, sizeof(in->device_id), "%s", cli_get(&req->a, "device-id"));
	return SC_OK;
}

/* Our side: the profile signer with its key, and the network ID it speaks for. */
static sc_err profile_load_signer(const struct profile_req *req, struct profile_inputs *in)
{
	char path[PATH_MAX];
	sc_err r;

	if ((r = cli_path(path, sizeof(path), req->dir, "signer.pem")) != SC_OK ||
	    (r = sc_load_cert(path, &in->signer)) != SC_OK ||
	    (r = cli_key(&req->a, "signer-key", req->dir, "signer.key", &in->signer_key)) != SC_OK)
		return r;
	if ((r = cli_subject_attr(in->signer, NID_organizationName, in->network_id,
	         sizeof(in->network_id))) != SC_OK)
		return sc_fail(r, "%s/signer.pem: no network ID (subject O): %s", req->dir,
		    sc_err_detail());
	return SC_OK;
}

/* Everything the profile needs from files, then the server-generated key (if asked), last. */
static sc_err profile_load(const struct profile_req *req, struct profile_inputs *in)
{
	sc_err r;

	if ((r = profile_load_device(req, in)) != SC_OK ||
	    (r = profile_load_signer(req, in)) != SC_OK || !req->server_keygen)
		return r;
	if (cli_has(&req->a, "server-key")) {
		/* The device's own future key: it must leave here, encrypted; a token's never does. */
		if (sc_key_is_uri(cli_get(&req->a, "server-key")))
			return sc_fail(SC_ERR_USAGE,
			    "net profile: --server-key: a PEM file; a key in a token cannot be "
			    "sent to a device");
		return sc_key_open(cli_get(&req->a, "server-key"), &in->server_key);
	}
	return sc_alg_keygen(req->server_alg, &in->server_key);
}

/* Build and sign the profile; *p and *der are the caller's (also on failure: it frees both). */
static sc_err profile_sign(const struct profile_req *req, const struct profile_inputs *in,
    struct sc_profile **p, uint8_t **der, size_t *der_len)
{
	struct sc_profile_params pp = req->pp;
	sc_err r;

	pp.network_id = in->network_id;
	pp.device_id = in->device_id;
	pp.supplied_key = in->server_key;
	pp.kek_cert = req->server_keygen ? in->kex : NULL;
	if ((r = sc_profile_create(&pp, p)) != SC_OK ||
	    (r = sc_profile_sign(*p, in->signer_key, in->signer, NULL,
	         cli_has(&req->a, "rsa-pss"))) != SC_OK ||
	    (r = sc_profile_encode(*p, der, der_len)) != SC_OK)
		return r;
	return SC_OK;
}

sc_err cmd_net_profile(int argc, char **argv)
{
	struct profile_req req;
	struct profile_inputs in;
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	char id_hex[2 * SC_PROFILE_ID_LEN + 1];
	uint8_t *der = NULL;
	size_t der_len = 0;
	sc_err r;

	memset(&in, 0, sizeof(in));
	if ((r = profile_flags(&req, argc, argv, time(NULL))) != SC_OK)
		return r;
	if (req.a.help) {
		fputs(net_profile_usage, stdout);
		return SC_OK;
	}
	if ((r = profile_load(&req, &in)) != SC_OK ||
	    (r = profile_sign(&req, &in, &p, &der, &der_len)) != SC_OK ||
	    (r = sc_file_write_atomic(req.out_path, der, der_len, 0644)) != SC_OK)
		goto out;
	sc_profile_get_info(p, &info);
	sc_hex(info.id, sizeof(info.id), id_hex);
	if (cli_has(&req.a, "json")) {
		printf("{\"profile_id\":\"%s\",\"device_id\":", id_hex);
		cli_json_str(stdout, in.device_id);
		printf(",\"network_id\":");
		cli_json_str(stdout, in.network_id);
		printf(",\"key_origin\":\"%s\",\"bytes\":%zu,\"out\":",
		    in.server_key != NULL ? "server-generated" : "device-generated", der_len);
		cli_json_str(stdout, req.out_path);
		printf("}\n");
	} else {
		printf("profile %s for device %s on network %s: %s key, %zu bytes -> %s\n", id_hex,
		    in.device_id, in.network_id,
		    in.server_key != NULL ? "server-generated" : "device-generated", der_len,
		    req.out_path);
	}
	r = SC_OK;
out:
	OPENSSL_free(der);
	sc_profile_free(p);
	profile_inputs_free(&in);
	return r;
}

/* ---- net batch (#17: one signature for many devices) ---- */

#define NET_BATCH_MAX 4096 /* devices per batch: far below SC_BATCH_MAX_SIZE, one command's worth */

static const char net_batch_usage[] =
    "usage: selfcert net batch --dir NETDIR (--device-ca DEVICE-CA.pem … | --device-ca-dir DIR)\n"
    "         --out-dir DIR (--validity DUR | --not-before TIME --not-after TIME) [--alg ALG]\n"
    "         [--profile-ttl DUR | --profile-not-after TIME] [--key-usage LIST] [--eku LIST]\n"
    "         [--digest sha256|sha384|sha512] [--signer-key KEY] [--json]\n"
    "  One profile body per device (its ID from its device CA certificate), one Merkle root over\n"
    "  them signed once with NETDIR/signer.key (or --signer-key): DIR/<device ID>.der is each\n"
    "  device's BatchedProfile (body, inclusion path, the signed root), which `device issue`\n"
    "  sends with BATCH_ISSUE (SP revision 1.5). At most 4096 devices; --device-ca repeats up\n"
    "  to 16 times, --device-ca-dir takes every *.pem in DIR. The flags mean what they mean for\n"
    "  `net profile`; per-device ones (--challenge, --server-keygen, --san) do not apply.\n";

/* The device CA files: the --device-ca values, or DIR's *.pem sorted; at most NET_BATCH_MAX. */
static sc_err batch_inputs(const struct cli_args *a, char ***paths, size_t *n)
{
	struct dirent **ents = NULL;
	const char *dir = cli_get(a, "device-ca-dir");
	int ne = 0;
	sc_err r = SC_OK;

	*paths = NULL;
	*n = 0;
	if (cli_has(a, "device-ca") == (dir != NULL))
		return sc_fail(SC_ERR_USAGE,
		    "net batch: give --device-ca FILE (repeatable) or --device-ca-dir DIR");
	if (dir == NULL) {
		int c = cli_count(a, "device-ca");
		if ((*paths = OPENSSL_zalloc((size_t)c * sizeof(char *))) == NULL)
			return sc_fail(SC_ERR_NOMEM, "net batch");
		for (int i = 0; i < c; i++)
			if (((*paths)[i] = OPENSSL_strdup(cli_nth(a, "device-ca", i))) == NULL)
				return sc_fail(SC_ERR_NOMEM, "net batch");
			else
				(*n)++;
		return SC_OK;
	}
	if ((ne = scandir(dir, &ents, NULL, alphasort)) < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno));
	if ((*paths = OPENSSL_zalloc((size_t)(ne + 1) * sizeof(char *))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "net batch");
		goto out;
	}
	for (int i = 0; i < ne; i++) {
		size_t l = strlen(ents[i]->d_name);
		char path[PATH_MAX];
		if (l < 5 || strcmp(ents[i]->d_name + l - 4, ".pem") != 0)
			continue;
		if (*n >= NET_BATCH_MAX) {
			r = sc_fail(SC_ERR_USAGE, "net batch: %s: more than %d device CA files",
			    dir, NET_BATCH_MAX);
			goto out;
		}
		if ((r = cli_path(path, sizeof(path), dir, ents[i]->d_name)) != SC_OK)
			goto out;
		if (((*paths)[*n] = OPENSSL_strdup(path)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "net batch");
			goto out;
		}
		(*n)++;
	}
	if (*n == 0)
		r = sc_fail(SC_ERR_USAGE, "net batch: %s: no *.pem device CA file", dir);
out:
	for (int i = 0; i < ne; i++)
		free(ents[i]);
	free(ents);
	return r;
}

/* A device ID becomes a file name: nothing that leaves DIR or hides the file. */
static int batch_id_is_file_name(const char *id)
{
	return id[0] != '\0' && id[0] != '.' && strchr(id, '/') == NULL;
}

/* Each device's unsigned body, checked: its CA certificate, its ID, no ID twice. */
static sc_err batch_bodies(const struct profile_req *req, const struct profile_inputs *signer,
    char **paths, size_t n, struct sc_profile **bodies, char (*ids)[SC_DEVICE_ID_MAX + 1])
{
	struct sc_profile_params pp;
	sc_err r;

	for (size_t i = 0; i < n; i++) {
		X509 *ca = NULL;
		if ((r = sc_load_cert(paths[i], &ca)) != SC_OK)
			return r;
		r = sc_cert_device_id(ca, ids[i], sizeof(ids[i]));
		X509_free(ca);
		if (r != SC_OK)
			return sc_fail(r, "%s: %s", paths[i], sc_err_detail());
		if (!batch_id_is_file_name(ids[i]))
			return sc_fail(SC_ERR_USAGE, "%s: device ID '%s' cannot name a file",
			    paths[i], ids[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				return sc_fail(SC_ERR_USAGE,
				    "%s: device %s already in the batch (%s)", paths[i], ids[i],
				    paths[j]);
		pp = req->pp;
		pp.network_id = signer->network_id;
		pp.device_id = ids[i];
		if ((r = sc_profile_create(&pp, &bodies[i])) != SC_OK)
			return sc_fail(r, "%s: %s", paths[i], sc_err_detail());
	}
	return SC_OK;
}

static sc_err batch_flags(struct profile_req *req, int argc, char **argv, time_t now)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "device-ca", 1, 1 },
		{ "device-ca-dir", 1, 0 },
		{ "out-dir", 1, 0 },
		{ "validity", 1, 0 },
		{ "not-before", 1, 0 },
		{ "not-after", 1, 0 },
		{ "alg", 1, 0 },
		{ "profile-ttl", 1, 0 },
		{ "profile-not-after", 1, 0 },
		{ "key-usage", 1, 0 },
		{ "eku", 1, 0 },
		{ "digest", 1, 0 },
		{ "signer-key", 1, 0 },
		{ "json", 0, 0 },
	};
	struct cli_args *a = &req->a;
	sc_err r;

	memset(req, 0, sizeof(*req));
	if ((r = cli_parse(a, "net batch", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) !=
	        SC_OK ||
	    a->help)
		return r;
	if ((r = cli_need(a, "dir", &req->dir)) != SC_OK ||
	    (r = cli_need(a, "out-dir", &req->out_path)) != SC_OK ||
	    (r = profile_validity_flags(a, now, &req->pp)) != SC_OK ||
	    (r = profile_key_flags(req)) != SC_OK || (r = profile_content_flags(req)) != SC_OK)
		return r;
	return SC_OK;
}

static void batch_print(const struct profile_req *req, const struct profile_inputs *signer,
    char (*ids)[SC_DEVICE_ID_MAX + 1], const size_t *lens, size_t n)
{
	char path[PATH_MAX];
	int json = cli_has(&req->a, "json");

	if (json) {
		printf("{\"network_id\":");
		cli_json_str(stdout, signer->network_id);
		printf(",\"size\":%zu,\"devices\":[", n);
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.der", req->out_path, ids[i]);
		if (!json) {
			printf("batch profile %zu of %zu for device %s: %zu bytes -> %s\n", i + 1,
			    n, ids[i], lens[i], path);
			continue;
		}
		printf("%s{\"device_id\":", i > 0 ? "," : "");
		cli_json_str(stdout, ids[i]);
		printf(",\"index\":%zu,\"bytes\":%zu,\"out\":", i, lens[i]);
		cli_json_str(stdout, path);
		printf("}");
	}
	if (json)
		printf("]}\n");
}

sc_err cmd_net_batch(int argc, char **argv)
{
	struct profile_req req;
	struct profile_inputs in;
	struct sc_profile **bodies = NULL;
	char(*ids)[SC_DEVICE_ID_MAX + 1] = NULL;
	char **paths = NULL, path[PATH_MAX];
	uint8_t **ders = NULL;
	size_t n = 0, *lens = NULL;
	sc_err r;

	memset(&in, 0, sizeof(in));
	if ((r = batch_flags(&req, argc, argv, time(NULL))) != SC_OK)
		return r;
	if (req.a.help) {
		fputs(net_batch_usage, stdout);
		return SC_OK;
	}
	if ((r = batch_inputs(&req.a, &paths, &n)) != SC_OK)
		goto out;
	if ((bodies = OPENSSL_zalloc(n * sizeof(*bodies))) == NULL ||
	    (ids = OPENSSL_zalloc(n * sizeof(*ids))) == NULL ||
	    (ders = OPENSSL_zalloc(n * sizeof(*ders))) == NULL ||
	    (lens = OPENSSL_zalloc(n * sizeof(*lens))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "net batch");
		goto out;
	}
	if ((r = profile_load_signer(&req, &in)) != SC_OK ||
	    (r = batch_bodies(&req, &in, paths, n, bodies, ids)) != SC_OK ||
	    (r = sc_batch_sign(bodies, n, in.signer_key, in.signer, ders, lens)) != SC_OK)
		goto out;
	if (mkdir(req.out_path, 0755) != 0 && errno != EEXIST) {
		r = sc_fail(SC_ERR_IO, "%s: %s", req.out_path, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char name[SC_DEVICE_ID_MAX + 8];
		snprintf(name, sizeof(name), "%s.der", ids[i]);
		if ((r = cli_path(path, sizeof(path), req.out_path, name)) != SC_OK ||
		    (r = sc_file_write_atomic(path, ders[i], lens[i], 0644)) != SC_OK)
			goto out;
	}
	batch_print(&req, &in, ids, lens, n);
	r = SC_OK;
out:
	for (size_t i = 0; i < n; i++) {
		if (bodies != NULL)
			sc_profile_free(bodies[i]);
		if (ders != NULL)
			OPENSSL_free(ders[i]);
		if (paths != NULL)
			OPENSSL_free(paths[i]);
	}
	OPENSSL_free(bodies);
	OPENSSL_free(ders);
	OPENSSL_free(lens);
	OPENSSL_free(ids);
	OPENSSL_free(paths);
	profile_inputs_free(&in);
	return r;
}

/* ---- net server-cert ---- */

#define SERVER_CERT_MAX_HOSTS 16
#define SERVER_CERT_HOST_MAX 253 /* a DNS name's longest text form */
#define SERVER_CERT_SERIAL_LEN 16
#define SERVER_CERT_SKEW_S 60

static const char server_cert_usage[] =
    "usage: selfcert net server-cert --dir NETDIR --host NAME [--host NAME …] [--alg ALG] [--days N]\n"
    "         [--root-key KEY] [--json]\n"
    "  The provisioning server's TLS certificate, issued by the network root (NETDIR/root.key, or\n"
    "  --root-key KEY: a file, e.g. the --offline-root one, or a pkcs11: URI):\n"
    "  NETDIR/server.pem and server.key (0600, never overwritten). Subject O=<network ID>,\n"
    "  CN=<first host>; subjectAltName dNSName or iPAddress for each --host; EKU serverAuth.\n"
    "  Agents trust it through --ca NETDIR/root.pem.\n"
    "  --alg ALG   the server key: rsa2048 rsa3072 rsa4096 p256 p384 ed25519 (default p256)\n"
    "  --days N    lifetime in days (default 365; never past the network root's notAfter)\n"
    "  --json      print one JSON object (hosts, network_id, alg, not_after, cert, key)\n";

/* What `net server-cert` was asked for, checked before any file is read. */
struct server_cert_req {
	const char *dir;
	const char *cn;       /* the first --host */
	const char *root_key; /* --root-key, or NULL: NETDIR/root.key */
	enum sc_alg alg;
	long days;
	char san[SERVER_CERT_MAX_HOSTS * (SERVER_CERT_HOST_MAX + 8)]; /* "DNS:a,IP:127.0.0.1" */
};

/* The issuer side: the network root, its key and what the new certificate takes from them. */
struct server_cert_issuer {
	X509 *root;
	EVP_PKEY *root_key;
	char network_id[SC_NETWORK_ID_MAX + 1];
	time_t not_after; /* now + days, cut at the root's notAfter */
};

/* A DNS name we put in a certificate: LDH labels of 1..63, dots between, no wildcard. */
static int dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > SERVER_CERT_HOST_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '-'))
			return 0;
		if ((c == '-' && label == 0) || ++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
}

/* Each --host as a subjectAltName entry (IP: or DNS:), comma-joined into req->san. */
static sc_err server_cert_hosts(const struct cli_args *a, struct server_cert_req *req)
{
	int n_hosts = cli_count(a, "host");
	size_t len = 0;

	if (n_hosts == 0)
		return sc_fail(SC_ERR_USAGE, "net server-cert: missing --host");
	req->cn = cli_nth(a, "host", 0);
	req->san[0] = '\0';
	for (int i = 0; i < n_hosts; i++) {
		const char *h = cli_nth(a, "host", i);
		uint8_t ip[16];
		int is_ip = inet_pton(AF_INET, h, ip) == 1 || inet_pton(AF_INET6, h, ip) == 1;
		int w;

		if (!is_ip && !dns_name_valid(h))
			return sc_fail(SC_ERR_USAGE,
			    "net server-cert: --host '%.64s': a DNS name "
			    "(letters, digits, '-', dots) or an IP address",
			    h);
		w = snprintf(req->san + len, sizeof(req->san) - len, "%s%s:%s", i ? "," : "",
		    is_ip ? "IP" : "DNS", h);
		if (w < 0 || (size_t)w >= sizeof(req->san) - len)
			return sc_fail(SC_ERR_USAGE, "net server-cert: too many --host names");
		len += (size_t)w;
	}
	return SC_OK;
}

/* The flags, and the outputs must not exist yet. No resource is taken here. */
static sc_err server_cert_flags(struct cli_args *a, int argc, char **argv,
    struct server_cert_req *req)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "host", 1, 1 },
		{ "alg", 1, 0 },
		{ "days", 1, 0 },
		{ "root-key", 1, 0 },
		{ "json", 0, 0 },
	};
	const size_t nspec = sizeof(spec) / sizeof(spec[0]);
	static const char *const outputs[] = { "server.pem", "server.key" };
	char path[PATH_MAX];
	sc_err r;

	req->alg = SC_ALG_P256;
	req->root_key = NULL;
	if ((r = cli_parse(a, "net server-cert", spec, nspec, argc, argv, 0)) != SC_OK || a->help)
		return r;
	req->root_key = cli_get(a, "root-key");
	if ((r = cli_need(a, "dir", &req->dir)) != SC_OK ||
	    (r = cli_int(a, "days", 365, 1, 3650, &req->days)) != SC_OK ||
	    (r = server_cert_hosts(a, req)) != SC_OK)
		return r;
	if (cli_has(a, "alg") && sc_alg_from_name(cli_get(a, "alg"), &req->alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net server-cert: --alg: %s", sc_err_detail());
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
		if ((r = cli_path(path, sizeof(path), req->dir, outputs[i])) != SC_OK)
			return r;
		if (access(path, F_OK) == 0)
			return sc_fail(SC_ERR_EXISTS, "%s: already exists; refusing to overwrite",
			    path);
	}
	return SC_OK;
}

/* Load NETDIR/root.pem and root.key into iss (the caller frees them on every path). */
static sc_err server_cert_load_issuer(const struct server_cert_req *req, time_t now,
    struct server_cert_issuer *iss)
{
	char path[PATH_MAX];
	time_t root_na = 0;
	sc_err r;

	if ((r = cli_path(path, sizeof(path), req->dir, "root.pem")) != SC_OK ||
	    (r = sc_load_cert(path, &iss->root)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), req->dir, "root.key")) != SC_OK ||
	    (r = sc_key_open(req->root_key != NULL ? req->root_key : path, &iss->root_key)) !=
	        SC_OK)
		return r;
	if (X509_check_private_key(iss->root, iss->root_key) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_KEY_MISMATCH, "%s does not belong to %s/root.pem",
		    req->root_key != NULL ? "--root-key" : "root.key", req->dir);
	}
	if ((r = cli_subject_attr(iss->root, NID_organizationName, iss->network_id,
	         sizeof(iss->network_id))) != SC_OK)
		return sc_fail(r, "%s/root.pem: no network ID (subject O)", req->dir);
	if ((r = sc_asn1_time_to_time_t(X509_get0_notAfter(iss->root), &root_na)) != SC_OK)
		return r;
	iss->not_after = now + (time_t)req->days * 86400;
	if (iss->not_after > root_na)
		iss->not_after = root_na;
	if (iss->not_after <= now)
		return sc_fail(SC_ERR_VALIDITY, "%s/root.pem has expired", req->dir);
	return SC_OK;
}

static sc_err ossl_fail(void)
{
	return sc_fail_ossl(SC_ERR_INTERNAL, "building the server certificate");
}

/* 16 random bytes, top bit clear and not all zero: a positive serial of fixed size. */
static sc_err set_random_serial(X509 *cert)
{
	uint8_t serial[SERVER_CERT_SERIAL_LEN];
	BIGNUM *bn = NULL;
	sc_err r;

	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return ossl_fail();
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		r = ossl_fail();
	else
		r = SC_OK;
	BN_free(bn);
	return r;
}

/* Subject O=<network ID>, CN=<first host>; issuer the root's subject. */
static sc_err set_names(X509 *cert, const struct server_cert_issuer *iss, const char *cn)
{
	X509_NAME *subj;
	sc_err r = SC_OK;

	if ((subj = X509_NAME_new()) == NULL)
		return ossl_fail();
	if (!X509_NAME_add_entry_by_NID(subj, NID_organizationName, MBSTRING_UTF8,
	        (const unsigned char *)iss->network_id, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
	        (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(cert, subj) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(iss->root)))
		r = ossl_fail();
	X509_NAME_free(subj);
	return r;
}

/* Add an extension from its OpenSSL config text (our values are validated, no commas inside). */
static sc_err add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return sc_fail_ossl(SC_ERR_INTERNAL, OBJ_nid2sn(nid));
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? SC_OK : sc_fail_ossl(SC_ERR_INTERNAL, OBJ_nid2sn(nid));
}

/* A TLS server leaf: not a CA, signing (and RSA key transport), serverAuth, the hosts. */
static sc_err add_server_exts(X509 *cert, X509 *root, enum sc_alg alg, const char *san)
{
	const char *ku = sc_alg_is_rsa(alg) ? "critical,digitalSignature,keyEncipherment"
	                                    : "critical,digitalSignature";
	sc_err r;

	if ((r = add_ext(cert, root, NID_basic_constraints, "critical,CA:FALSE")) != SC_OK ||
	    (r = add_ext(cert, root, NID_key_usage, ku)) != SC_OK ||
	    (r = add_ext(cert, root, NID_ext_key_usage, "serverAuth")) != SC_OK ||
	    (r = add_ext(cert, root, NID_subject_alt_name, san)) != SC_OK ||
	    (r = add_ext(cert, root, NID_subject_key_identifier, "hash")) != SC_OK ||
	    (r = add_ext(cert, root, NID_authority_key_identifier, "keyid:always")) != SC_OK)
		return r;
	return SC_OK;
}

/* The server's certificate for key, signed by the root. *out is the caller's (X509_free). */
static sc_err server_cert_issue(const struct server_cert_req *req,
    const struct server_cert_issuer *iss, EVP_PKEY *key, time_t now, X509 **out)
{
	X509 *cert;
	const EVP_MD *md;
	sc_err r;

	*out = NULL;
	if ((cert = X509_new()) == NULL)
		return ossl_fail();
	if (!X509_set_version(cert, X509_VERSION_3) || !X509_set_pubkey(cert, key) ||
	    ASN1_TIME_set(X509_getm_notBefore(cert), now - SERVER_CERT_SKEW_S) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), iss->not_after) == NULL) {
		r = ossl_fail();
		goto out;
	}
	if ((r = set_random_serial(cert)) != SC_OK ||
	    (r = set_names(cert, iss, req->cn)) != SC_OK ||
	    (r = add_server_exts(cert, iss->root, req->alg, req->san)) != SC_OK)
		goto out;
	md = sc_sign_md(iss->root_key, sc_alg_default_digest(sc_alg_of_key(iss->root_key)));
	if (X509_sign(cert, iss->root_key, md) <= 0) {
		r = ossl_fail();
		goto out;
	}
	*out = cert;
	cert = NULL;
	r = SC_OK;
out:
	X509_free(cert);
	return r;
}

sc_err cmd_net_server_cert(int argc, char **argv)
{
	struct cli_args a;
	struct server_cert_req req;
	struct server_cert_issuer iss = { NULL, NULL, "", 0 };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char path[PATH_MAX], when[32];
	time_t now = time(NULL);
	sc_err r;

	if ((r = server_cert_flags(&a, argc, argv, &req)) != SC_OK)
		return r;
	if (a.help) {
		fputs(server_cert_usage, stdout);
		return SC_OK;
	}
	if ((r = server_cert_load_issuer(&req, now, &iss)) != SC_OK ||
	    (r = sc_alg_keygen(req.alg, &key)) != SC_OK ||
	    (r = server_cert_issue(&req, &iss, key, now, &cert)) != SC_OK)
		goto out;
	if ((r = cli_path(path, sizeof(path), req.dir, "server.key")) != SC_OK ||
	    (r = sc_write_key(path, key)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), req.dir, "server.pem")) != SC_OK ||
	    (r = sc_write_cert(path, cert)) != SC_OK)
		goto out;
	sc_format_time(iss.not_after, when, sizeof(when));
	if (cli_has(&a, "json")) {
		json_t *hosts = json_array();
		for (int i = 0; hosts != NULL && i < cli_count(&a, "host"); i++)
			json_array_append_new(hosts, json_string(cli_nth(&a, "host", i)));
		r = cli_json_out(json_pack("{s:o, s:s, s:s, s:s, s:o, s:o}", "hosts", hosts,
		    "network_id", iss.network_id, "alg", sc_alg_name(req.alg), "not_after", when,
		    "cert", cli_json_path(req.dir, "server.pem"), "key",
		    cli_json_path(req.dir, "server.key")));
	} else {
		printf("server certificate for %s (network %s, %s, until %s): %s/server.pem, "
		       "%s/server.key\n",
		    req.san, iss.network_id, sc_alg_name(req.alg), when, req.dir, req.dir);
		r = SC_OK;
	}
out:
	X509_free(cert);
	EVP_PKEY_free(key); /* OpenSSL clears private key material as it frees it */
	X509_free(iss.root);
	EVP_PKEY_free(iss.root_key);
	return r;
}
