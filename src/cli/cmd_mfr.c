// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_mfr.c — the manufacturer's commands: make the root and issuing CA (`mfr init`), and
 * personalize a device (`mfr personalize`): the SP generates its CSK and KEK inside, the
 * manufacturer CA certifies their public keys, anchors and limits are installed, the SP locks.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/sp.h>
#include "cli.h"
#include "keyopen.h"
#include "pem.h"

#define DEFAULT_MFR_NAME "Example Manufacturer"

static const char mfr_init_usage[] =
    "usage: selfcert mfr init --dir DIR [--name NAME] [--alg ALG] [--days N]\n"
    "         [--root-key KEY] [--ca-key KEY] [--json]\n"
    "  Creates DIR/root.pem root.key (the manufacturer root, valid 2*N days) and ca.pem ca.key\n"
    "  (the device issuing CA, valid N days). Keys are 0600 and never overwritten.\n"
    "  --name NAME   manufacturer name (default \"" DEFAULT_MFR_NAME "\")\n"
    "  --alg ALG     rsa2048 rsa3072 rsa4096 p256 p384 ed25519 (default p256), for keys made here\n"
    "  --days N      issuing CA lifetime in days (default 3650)\n"
    "  --root-key KEY, --ca-key KEY  the key exists (a PEM file or a pkcs11: URI, e.g.\n"
    "                'pkcs11:token=T;object=O;type=private?pin-source=file:/PATH'): its\n"
    "                certificate is made for it and no root.key / ca.key is written\n"
    "  --json        print one JSON object (manufacturer, alg, root, ca, *_not_after)\n";

/* Refuse before writing anything if any output exists, so a failed run leaves no half set. */
static sc_err refuse_existing(const char *dir, const char *const *names, size_t n)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < n; i++) {
		sc_err r = cli_path(path, sizeof(path), dir, names[i]);
		if (r != SC_OK)
			return r;
		if (access(path, F_OK) == 0)
			return sc_fail(SC_ERR_EXISTS, "%s: already exists; refusing to overwrite",
			    path);
	}
	return SC_OK;
}

/*
 * Write key then certificate pairs: keys first, since they are the part that cannot be redone.
 * key_name NULL: the key lives elsewhere (a file given, a token) and is not written.
 */
static sc_err write_pair(const char *dir, const char *key_name, EVP_PKEY *key,
    const char *cert_name, X509 *cert)
{
	char path[PATH_MAX];
	sc_err r;

	if (key_name != NULL &&
	    ((r = cli_path(path, sizeof(path), dir, key_name)) != SC_OK ||
	        (r = sc_write_key(path, key)) != SC_OK))
		return r;
	if ((r = cli_path(path, sizeof(path), dir, cert_name)) != SC_OK)
		return r;
	return sc_write_cert(path, cert);
}

sc_err cmd_mfr_init(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "name", 1, 0 },
		{ "alg", 1, 0 },
		{ "days", 1, 0 },
		{ "root-key", 1, 0 },
		{ "ca-key", 1, 0 },
		{ "json", 0, 0 },
	};
	static const char *const outputs[] = { "root.pem", "ca.pem", "root.key", "ca.key" };
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	const char *dir, *name;
	enum sc_alg alg = SC_ALG_P256;
	long days;
	EVP_PKEY *root_key = NULL, *ca_key = NULL;
	X509 *root = NULL, *ca = NULL;

	if ((r = cli_parse(&a, "mfr init", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) !=
	    SC_OK)
		return r;
	if (a.help) {
		fputs(mfr_init_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK ||
	    (r = cli_int(&a, "days", 3650, 1, 36500, &days)) != SC_OK)
		return r;
	name = cli_has(&a, "name") ? cli_get(&a, "name") : DEFAULT_MFR_NAME;
	if (cli_has(&a, "alg") && (r = sc_alg_from_name(cli_get(&a, "alg"), &alg)) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "mfr init: --alg: %s", sc_err_detail());
	if ((r = cli_mkdir(dir, 0)) != SC_OK || (r = refuse_existing(dir, outputs, 2)) != SC_OK ||
	    (!cli_has(&a, "root-key") && (r = refuse_existing(dir, outputs + 2, 1)) != SC_OK) ||
	    (!cli_has(&a, "ca-key") && (r = refuse_existing(dir, outputs + 3, 1)) != SC_OK))
		return r;
	/* A key that exists (a file, a token) is opened; the others are made here. */
	if ((r = cli_has(&a, "root-key") ? sc_key_open(cli_get(&a, "root-key"), &root_key)
	                                 : sc_alg_keygen(alg, &root_key)) != SC_OK ||
	    (r = cli_has(&a, "ca-key") ? sc_key_open(cli_get(&a, "ca-key"), &ca_key)
	                               : sc_alg_keygen(alg, &ca_key)) != SC_OK)
		goto out;
	/* Each certificate decoded afresh before use (cli_cert_reread: keys in a token). */
	if ((r = sc_cert_mfr_root(root_key, name, (int)days * 2, &root)) != SC_OK ||
	    (r = cli_cert_reread(&root)) != SC_OK ||
	    (r = sc_cert_mfr_ca(ca_key, name, (int)days, root, root_key, &ca)) != SC_OK ||
	    (r = cli_cert_reread(&ca)) != SC_OK)
		goto out;
	if ((r = write_pair(dir, cli_has(&a, "root-key") ? NULL : "root.key", root_key, "root.pem",
	         root)) != SC_OK ||
	    (r = write_pair(dir, cli_has(&a, "ca-key") ? NULL : "ca.key", ca_key, "ca.pem", ca)) !=
	        SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "manufacturer", name,
		    "alg", sc_alg_name(alg), "root", cli_json_path(dir, "root.pem"), "ca",
		    cli_json_path(dir, "ca.pem"), "root_not_after", cli_json_not_after(root),
		    "ca_not_after", cli_json_not_after(ca)));
	else {
		printf("manufacturer \"%s\": %s/root.pem, %s/ca.pem (%s)\n", name, dir, dir,
		    sc_alg_name(alg));
		r = SC_OK;
	}
out:
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(ca_key);
	X509_free(root);
	X509_free(ca);
	return r;
}

static const char personalize_usage[] =
    "usage: selfcert mfr personalize --dir MFRDIR --sp SOCKET --out CERTDIR\n"
    "         --net-root NETROOT.pem --network-id ID [--net-root … --network-id … repeated]\n"
    "         [--csk-alg ALG] [--kex-alg ALG] [--days N] [--max-leaf-days N] [--max-keys N] [--no-lock]\n"
    "         [--device-ca-form 1|2] [--ca-key KEY] [--json]\n"
    "  The SP generates its certificate-signing key (CSK) and key-exchange key (KEK) inside;\n"
    "  the manufacturer CA certifies them. Writes CERTDIR/device-ca.pem, kex.pem, chain.pem\n"
    "  (device CA + manufacturer CA). Installs certificates, anchors and limits; locks the SP\n"
    "  for good unless --no-lock.\n"
    "  --csk-alg ALG       default p256      --kex-alg ALG   rsa*/p256/p384, default p256\n"
    "  --days N            device certificates' lifetime (default 3650)\n"
    "  --max-leaf-days N   longest leaf the SP will issue (default 365; 0: only the CSK's limit)\n"
    "  --max-keys N        leaf key slots (default 64, at most 256)\n"
    "  --ca-key KEY        the manufacturer CA's key: a PEM file or a pkcs11: URI (default\n"
    "                      MFRDIR/ca.key); MFRDIR/ca.pem is its certificate\n"
    "  --device-ca-form N  the device CA's name constraints (docs/FORMATS.md): 2 = dNSName\n"
    "                      <id>.selfcert.invalid, accepted by Go and rustls (default when the\n"
    "                      device ID is a DNS label); 1 = directoryName serialNumber=<id>, the\n"
    "                      form before 2026-12 (default for other IDs)\n"
    "  --json              print one JSON object (device_id, csk_alg, kek_alg, networks,\n"
    "                      locked, device_ca, kex, chain, not_after)\n";

/* Generate one role's key in the SP; check the proof of possession; certify the public key. */
static sc_err certify_role(struct sc_sp *sp, enum sc_sp_role role, enum sc_alg alg,
    const char *device_id, long days, long form, X509 *ca, EVP_PKEY *ca_key, X509 **out)
{
	sc_err r = SC_ERR_INTERNAL;
	X509_REQ *csr = NULL;
	EVP_PKEY *pub;
	const char *what = role == SC_SP_ROLE_CSK ? "CSK" : "KEK";

	*out = NULL;
	if ((r = sc_sp_keygen(sp, role, alg, &csr)) != SC_OK)
		return r;
	pub = X509_REQ_get0_pubkey(csr);
	if (pub == NULL || X509_REQ_verify(csr, pub) != 1) {
		r = sc_fail_ossl(SC_ERR_PEER,
		    "the SP's proof of possession for its new key does not verify");
		goto out;
	}
	if (sc_alg_of_key(pub) != alg) {
		r = sc_fail(SC_ERR_PEER, "the SP generated a %s key other than the %s asked for",
		    what, sc_alg_name(alg));
		goto out;
	}
	if (role == SC_SP_ROLE_CSK)
		r = form == 0 ? sc_cert_device_ca(pub, device_id, (int)days, ca, ca_key, out)
		              : sc_cert_device_ca_form(pub, device_id, (int)days, ca, ca_key,
		                    (enum sc_device_ca_form)form, out);
	else
		r = sc_cert_device_kex(pub, device_id, (int)days, ca, ca_key, out);
	if (r != SC_OK)
		goto out;
	r = sc_sp_install_cert(sp, role, *out);
out:
	if (r != SC_OK) {
		X509_free(*out);
		*out = NULL;
	}
	X509_REQ_free(csr);
	return r;
}

/* What `mfr personalize` was asked to do, from its flags. */
struct personalize_opts {
	const char *dir, *sock, *outdir;
	enum sc_alg csk_alg, kek_alg;
	long days, max_leaf_days, max_keys, ca_form; /* ca_form 0: by the device ID */
	int n_anchors, lock;
};

/* The flags' rules, all checked before the SP is contacted. */
static sc_err personalize_args(const struct cli_args *a, struct personalize_opts *o)
{
	sc_err r;

	if ((r = cli_need(a, "dir", &o->dir)) != SC_OK ||
	    (r = cli_need(a, "sp", &o->sock)) != SC_OK ||
	    (r = cli_need(a, "out", &o->outdir)) != SC_OK ||
	    (r = cli_int(a, "days", 3650, 1, 36500, &o->days)) != SC_OK ||
	    (r = cli_int(a, "max-leaf-days", 365, 0, 36500, &o->max_leaf_days)) != SC_OK ||
	    (r = cli_int(a, "max-keys", SC_SP_DEFAULT_MAX_KEYS, 1, SC_SP_MAX_KEYS_LIMIT,
	         &o->max_keys)) != SC_OK ||
	    (r = cli_int(a, "device-ca-form", 0, 1, 2, &o->ca_form)) != SC_OK)
		return r;
	o->n_anchors = cli_count(a, "net-root");
	if (o->n_anchors == 0)
		return sc_fail(SC_ERR_USAGE,
		    "mfr personalize: missing --net-root (with its --network-id)");
	if (o->n_anchors != cli_count(a, "network-id"))
		return sc_fail(SC_ERR_USAGE,
		    "mfr personalize: %d --net-root but %d --network-id; give one ID per root",
		    o->n_anchors, cli_count(a, "network-id"));
	if (o->n_anchors > SC_SP_MAX_ANCHORS)
		return sc_fail(SC_ERR_USAGE, "mfr personalize: at most %d network roots",
		    SC_SP_MAX_ANCHORS);
	o->csk_alg = SC_ALG_P256;
	o->kek_alg = SC_ALG_P256;
	if (cli_has(a, "csk-alg") && sc_alg_from_name(cli_get(a, "csk-alg"), &o->csk_alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "mfr personalize: --csk-alg: %s", sc_err_detail());
	if (cli_has(a, "kex-alg") && sc_alg_from_name(cli_get(a, "kex-alg"), &o->kek_alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "mfr personalize: --kex-alg: %s", sc_err_detail());
	if (o->kek_alg == SC_ALG_ED25519)
		return sc_fail(SC_ERR_USAGE,
		    "mfr personalize: --kex-alg ed25519: a key-exchange key must be RSA or EC "
		    "(OpenSSL 3.0 CMS has no X25519 recipients)");
	o->lock = !cli_has(a, "no-lock");
	return SC_OK;
}

/* Each --net-root, with the --network-id in the same place, installed in the SP as an anchor. */
static sc_err install_anchors(struct sc_sp *sp, const struct cli_args *a, int n)
{
	sc_err r = SC_ERR_INTERNAL;
	X509 *anchor = NULL;

	for (int i = 0; i < n; i++) {
		const char *root_path = cli_nth(a, "net-root", i),
		           *id = cli_nth(a, "network-id", i);
		if ((r = sc_load_cert(root_path, &anchor)) != SC_OK ||
		    (r = sc_sp_install_anchor(sp, id, anchor)) != SC_OK)
			goto out;
		X509_free(anchor);
		anchor = NULL;
	}
	r = SC_OK;
out:
	X509_free(anchor);
	return r;
}

/* CERTDIR/device-ca.pem, kex.pem and chain.pem (the device CA, then the manufacturer CA). */
static sc_err write_device_certs(const char *outdir, X509 *csk_cert, X509 *kek_cert, X509 *ca)
{
	X509 *chain[2] = { csk_cert, ca };
	char path[PATH_MAX];
	sc_err r;

	if ((r = cli_path(path, sizeof(path), outdir, "device-ca.pem")) != SC_OK ||
	    (r = sc_write_cert(path, csk_cert)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), outdir, "kex.pem")) != SC_OK ||
	    (r = sc_write_cert(path, kek_cert)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), outdir, "chain.pem")) != SC_OK)
		return r;
	return sc_write_certs(path, chain, 2);
}

sc_err cmd_mfr_personalize(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "sp", 1, 0 },
		{ "out", 1, 0 },
		{ "net-root", 1, 1 },
		{ "network-id", 1, 1 },
		{ "csk-alg", 1, 0 },
		{ "kex-alg", 1, 0 },
		{ "days", 1, 0 },
		{ "max-leaf-days", 1, 0 },
		{ "max-keys", 1, 0 },
		{ "no-lock", 0, 0 },
		{ "device-ca-form", 1, 0 },
		{ "ca-key", 1, 0 },
		{ "json", 0, 0 },
	};
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	struct personalize_opts o;
	char path[PATH_MAX];
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL, *csk_cert = NULL, *kek_cert = NULL;
	struct sc_sp *sp = NULL;
	struct sc_sp_info info;

	memset(&o, 0, sizeof(o));
	memset(&info, 0, sizeof(info));
	if ((r = cli_parse(&a, "mfr personalize", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(personalize_usage, stdout);
		return SC_OK;
	}
	if ((r = personalize_args(&a, &o)) != SC_OK)
		return r;

	if ((r = cli_path(path, sizeof(path), o.dir, "ca.pem")) != SC_OK ||
	    (r = sc_load_cert(path, &ca)) != SC_OK ||
	    (r = cli_key(&a, "ca-key", o.dir, "ca.key", &ca_key)) != SC_OK)
		goto out;
	/* A CA key that is not ca.pem's would certify devices whose chains never verify. */
	if (X509_check_private_key(ca, ca_key) != 1) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_KEY_MISMATCH, "%s does not belong to %s/ca.pem",
		    cli_has(&a, "ca-key") ? "--ca-key" : "ca.key", o.dir);
		goto out;
	}
	if ((r = cli_mkdir(o.outdir, 0)) != SC_OK)
		goto out;
	if ((r = sc_sp_connect(o.sock, &sp)) != SC_OK || (r = sc_sp_info(sp, &info)) != SC_OK)
		goto out;
	if (info.state != SC_SP_STATE_EMPTY) {
		r = sc_fail(info.state == SC_SP_STATE_LOCKED ? SC_ERR_LOCKED : SC_ERR_STATE,
		    "the SP of device %s is %s; personalization needs a fresh one (selfcert sp init)",
		    info.device_id, sc_sp_state_name((int)info.state));
		goto out;
	}
	if ((r = certify_role(sp, SC_SP_ROLE_CSK, o.csk_alg, info.device_id, o.days, o.ca_form, ca,
	         ca_key, &csk_cert)) != SC_OK ||
	    (r = certify_role(sp, SC_SP_ROLE_KEK, o.kek_alg, info.device_id, o.days, o.ca_form, ca,
	         ca_key, &kek_cert)) != SC_OK ||
	    (r = install_anchors(sp, &a, o.n_anchors)) != SC_OK ||
	    (r = sc_sp_set_limits(sp, (uint32_t)o.max_leaf_days, (uint32_t)o.max_keys)) != SC_OK ||
	    (r = write_device_certs(o.outdir, csk_cert, kek_cert, ca)) != SC_OK)
		goto out;
	/* Lock last: everything the device needs is installed and written out first. */
	if (o.lock && (r = sc_sp_lock(sp)) != SC_OK)
		goto out;
	if (cli_has(&a, "json")) {
		json_t *nets = json_array();
		for (int i = 0; nets != NULL && i < cli_count(&a, "network-id"); i++)
			json_array_append_new(nets, json_string(cli_nth(&a, "network-id", i)));
		r = cli_json_out(json_pack("{s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:o, s:o}",
		    "device_id", info.device_id, "csk_alg", sc_alg_name(o.csk_alg), "kek_alg",
		    sc_alg_name(o.kek_alg), "networks", nets, "locked", o.lock, "device_ca",
		    cli_json_path(o.outdir, "device-ca.pem"), "kex",
		    cli_json_path(o.outdir, "kex.pem"), "chain",
		    cli_json_path(o.outdir, "chain.pem"), "not_after",
		    cli_json_not_after(csk_cert)));
	} else {
		printf(
		    "device %s personalized: CSK %s, KEK %s, %d network%s%s; certificates in %s\n",
		    info.device_id, sc_alg_name(o.csk_alg), sc_alg_name(o.kek_alg), o.n_anchors,
		    o.n_anchors == 1 ? "" : "s", o.lock ? ", locked" : ", NOT locked", o.outdir);
		r = SC_OK;
	}
out:
	sc_sp_info_clear(&info);
	sc_sp_close(sp);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	X509_free(csk_cert);
	X509_free(kek_cert);
	return r;
}
