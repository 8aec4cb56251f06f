/*
 * cmd_netdev.c — the operator's registry commands (`net device add|revoke|list|show|import`),
 * which work on the provisioning server's SQLite file directly (src/provd/registry.c), and
 * `net server-cert`, the provisioning server's TLS certificate under the network root.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include "cli.h"
#include "keyopen.h"
#include "pem.h"
#include "registry.h"
#include "text.h"

#define NETDEV_MAX_HOSTS 16
#define NETDEV_HOST_MAX 253             /* a DNS name's longest text form */
#define SERVER_CERT_SERIAL_LEN 16
#define SERVER_CERT_SKEW_S 60

/* "cli uid=1000 (alice)": who did it, for the audit log. */
static void actor_name(char *out, size_t out_len)
{
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);

	snprintf(out, out_len, "cli uid=%lu (%.32s)", (unsigned long)uid, pw != NULL ? pw->pw_name : "?");
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	if (t == 0)
		snprintf(out, n, "-");
	else
		sc_format_time((time_t)t, out, n);
}

/* ---- net device add ---- */

static const char add_usage[] =
"usage: selfcert net device add --db FILE --device-id ID [--device-id ID …] [--note TEXT]\n"
"  Activates devices in the provisioning server's registry (made if missing): the server gives\n"
"  profiles to activated, unrevoked devices only. All the IDs or none.\n";

static sc_err netdev_add(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "device-id", 1, 1 }, { "note", 1, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	const char *db;
	char actor[SC_REG_ACTOR_MAX];
	int64_t now = (int64_t)time(NULL);
	sc_err r;
	int n;

	if ((r = cli_parse(&a, "net device add", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(add_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK)
		return r;
	if ((n = cli_count(&a, "device-id")) == 0)
		return sc_fail(SC_ERR_USAGE, "net device add: missing --device-id");
	for (int i = 0; i < n; i++)
		if (!sc_device_id_valid(cli_nth(&a, "device-id", i)))
			return sc_fail(SC_ERR_USAGE, "net device add: --device-id '%.64s': 1..64 PrintableString characters",
			    cli_nth(&a, "device-id", i));
	if (cli_has(&a, "note") && strlen(cli_get(&a, "note")) > SC_REG_NOTE_MAX)
		return sc_fail(SC_ERR_USAGE, "net device add: --note longer than %d bytes", SC_REG_NOTE_MAX);
	actor_name(actor, sizeof(actor));
	if ((r = sc_reg_open(db, 1, &reg)) != SC_OK)
		return r;
	/* One ID at a time would leave half a list behind on a duplicate: check them all first. */
	for (int i = 0; i < n; i++) {
		struct sc_reg_device d;
		const char *id = cli_nth(&a, "device-id", i);
		for (int j = 0; j < i; j++)
			if (strcmp(cli_nth(&a, "device-id", j), id) == 0) {
				r = sc_fail(SC_ERR_USAGE, "net device add: --device-id %s given twice", id);
				goto out;
			}
		if ((r = sc_reg_device_get(reg, id, &d)) == SC_OK) {
			r = sc_fail(SC_ERR_EXISTS, "device %s is already registered (%s)", id, sc_reg_dev_status_name(d.status));
			goto out;
		}
		if (r != SC_ERR_NOT_FOUND)
			goto out;
	}
	for (int i = 0; i < n; i++) {
		if ((r = sc_reg_device_add(reg, cli_nth(&a, "device-id", i), cli_get(&a, "note"), actor, now)) != SC_OK)
			goto out;
		printf("device %s activated\n", cli_nth(&a, "device-id", i));
	}
	r = SC_OK;
out:
	sc_reg_close(reg);
	return r;
}

/* ---- net device revoke ---- */

static const char revoke_usage[] =
"usage: selfcert net device revoke --db FILE --device-id ID [--reason TEXT]\n"
"  Revokes a device for good: the server refuses it profiles and refuses its certificates.\n"
"  Revoking a revoked device changes nothing and succeeds.\n";

static sc_err netdev_revoke(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "device-id", 1, 0 }, { "reason", 1, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	const char *db, *id;
	char actor[SC_REG_ACTOR_MAX];
	int already = 0;
	sc_err r;

	if ((r = cli_parse(&a, "net device revoke", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(revoke_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK || (r = cli_need(&a, "device-id", &id)) != SC_OK)
		return r;
	if (cli_has(&a, "reason") && strlen(cli_get(&a, "reason")) > SC_REG_NOTE_MAX)
		return sc_fail(SC_ERR_USAGE, "net device revoke: --reason longer than %d bytes", SC_REG_NOTE_MAX);
	actor_name(actor, sizeof(actor));
	if ((r = sc_reg_open(db, 0, &reg)) != SC_OK)
		return r;
	r = sc_reg_device_revoke(reg, id, cli_get(&a, "reason"), actor, (int64_t)time(NULL), &already);
	sc_reg_close(reg);
	if (r != SC_OK)
		return r;
	printf(already ? "device %s was already revoked\n" : "device %s revoked\n", id);
	return SC_OK;
}

/* ---- net device list ---- */

static const char list_usage[] =
"usage: selfcert net device list --db FILE [--status active|revoked] [--json]\n"
"  One line per device: DEVICE-ID STATUS CERTIFICATES NOT-AFTER (of the newest certificate, or -).\n"
"  --json prints one object {\"devices\": [...]}.\n";

struct list_ctx {
	int json;
	size_t n;
};

/* The device's fields as JSON members, without the braces (list and show add to them). */
static void json_device_fields(const struct sc_reg_device *d)
{
	char t[32];

	printf("\"device_id\":");
	cli_json_str(stdout, d->device_id);
	printf(",\"status\":\"%s\",\"note\":", sc_reg_dev_status_name(d->status));
	cli_json_str(stdout, d->note);
	fmt_time(d->created_at, t, sizeof(t));
	printf(",\"activated_at\":\"%s\",\"profiles_issued\":%lld,\"certificates_registered\":%lld", t,
	    (long long)d->n_profiles, (long long)d->n_certs);
	if (d->status == SC_REG_DEV_REVOKED) {
		fmt_time(d->revoked_at, t, sizeof(t));
		printf(",\"revoked_at\":\"%s\",\"revocation_reason\":", t);
		cli_json_str(stdout, d->revoke_reason);
	}
	if (d->has_cert) {
		printf(",\"certificate\":{\"serial\":\"%s\",\"fingerprint\":\"%s\",\"profile_id\":\"%s\"", d->cert_serial,
		    d->cert_fpr, d->cert_profile_id);
		fmt_time(d->cert_not_before, t, sizeof(t));
		printf(",\"not_before\":\"%s\"", t);
		fmt_time(d->cert_not_after, t, sizeof(t));
		printf(",\"not_after\":\"%s\"}", t);
	} else {
		printf(",\"certificate\":null");
	}
}

static int list_one(void *ctx, const struct sc_reg_device *d)
{
	struct list_ctx *lc = ctx;
	char t[32];

	if (lc->json) {
		printf("%s{", lc->n > 0 ? "," : "");
		json_device_fields(d);
		printf("}");
	} else {
		fmt_time(d->has_cert ? d->cert_not_after : 0, t, sizeof(t));
		printf("%s %s %lld %s\n", d->device_id, sc_reg_dev_status_name(d->status), (long long)d->n_certs, t);
	}
	lc->n++;
	return 0;
}

static sc_err netdev_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "status", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	struct list_ctx lc = { 0, 0 };
	enum sc_reg_dev_status status = 0;
	const char *db;
	sc_err r;

	if ((r = cli_parse(&a, "net device list", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(list_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK)
		return r;
	if (cli_has(&a, "status")) {
		if (strcmp(cli_get(&a, "status"), "active") == 0)
			status = SC_REG_DEV_ACTIVE;
		else if (strcmp(cli_get(&a, "status"), "revoked") == 0)
			status = SC_REG_DEV_REVOKED;
		else
			return sc_fail(SC_ERR_USAGE, "net device list: --status '%s': active or revoked", cli_get(&a, "status"));
	}
	lc.json = cli_has(&a, "json");
	if ((r = sc_reg_open(db, 0, &reg)) != SC_OK)
		return r;
	if (lc.json)
		printf("{\"devices\":[");
	r = sc_reg_device_list(reg, status, list_one, &lc);
	if (lc.json)
		printf("]}\n");
	sc_reg_close(reg);
	return r;
}

/* ---- net device show ---- */

static const char show_usage[] =
"usage: selfcert net device show --db FILE --device-id ID [--json] [--audit N]\n"
"  The device's status, counts, certificates (newest first) and its last N audit events\n"
"  (default 20).\n";

static int show_cert(void *ctx, const struct sc_reg_cert_rec *c)
{
	int *json_n = ctx;
	char nb[32], na[32], rg[32];

	fmt_time(c->not_before, nb, sizeof(nb));
	fmt_time(c->not_after, na, sizeof(na));
	fmt_time(c->registered_at, rg, sizeof(rg));
	if (*json_n >= 0) {
		printf("%s{\"serial\":\"%s\",\"fingerprint\":\"%s\",\"profile_id\":\"%s\",\"not_before\":\"%s\","
		    "\"not_after\":\"%s\",\"registered_at\":\"%s\"}", *json_n > 0 ? "," : "", c->serial, c->fpr,
		    c->profile_id, nb, na, rg);
		(*json_n)++;
	} else {
		printf("  certificate %s  %s .. %s  profile %s  registered %s\n", c->serial, nb, na, c->profile_id, rg);
	}
	return 0;
}

static int show_audit(void *ctx, const struct sc_reg_audit_rec *e)
{
	int *json_n = ctx;
	char at[32];

	fmt_time(e->at, at, sizeof(at));
	if (*json_n >= 0) {
		printf("%s{\"seq\":%lld,\"at\":\"%s\",\"actor\":", *json_n > 0 ? "," : "", (long long)e->seq, at);
		cli_json_str(stdout, e->actor);
		printf(",\"event\":");
		cli_json_str(stdout, e->event);
		printf(",\"detail\":");
		cli_json_str(stdout, e->detail);
		printf("}");
		(*json_n)++;
	} else {
		printf("  %s  %-22s %s  (%s)\n", at, e->event ? e->event : "", e->detail ? e->detail : "",
		    e->actor ? e->actor : "");
	}
	return 0;
}

static sc_err netdev_show(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "device-id", 1, 0 }, { "json", 0, 0 }, { "audit", 1, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	struct sc_reg_device d;
	const char *db, *id;
	char t[32];
	long n_audit;
	int json, n = 0;
	sc_err r;

	if ((r = cli_parse(&a, "net device show", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(show_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK || (r = cli_need(&a, "device-id", &id)) != SC_OK ||
	    (r = cli_int(&a, "audit", 20, 0, 100000, &n_audit)) != SC_OK)
		return r;
	json = cli_has(&a, "json");
	if ((r = sc_reg_open(db, 0, &reg)) != SC_OK)
		return r;
	if ((r = sc_reg_device_get(reg, id, &d)) != SC_OK)
		goto out;
	if (json) {
		printf("{");
		json_device_fields(&d);
		printf(",\"certificates\":[");
		n = 0;
		if ((r = sc_reg_cert_list(reg, id, 0, show_cert, &n)) != SC_OK)
			goto out;
		printf("],\"audit\":[");
		n = 0;
		if ((r = sc_reg_audit_list(reg, id, (size_t)n_audit, show_audit, &n)) != SC_OK)
			goto out;
		printf("]}\n");
		goto out;
	}
	printf("device:        %s\n", d.device_id);
	printf("status:        %s\n", sc_reg_dev_status_name(d.status));
	if (d.note[0] != '\0')
		printf("note:          %s\n", d.note);
	fmt_time(d.created_at, t, sizeof(t));
	printf("activated:     %s\n", t);
	if (d.status == SC_REG_DEV_REVOKED) {
		fmt_time(d.revoked_at, t, sizeof(t));
		printf("revoked:       %s%s%s\n", t, d.revoke_reason[0] ? " — " : "", d.revoke_reason);
	}
	printf("profiles:      %lld issued\n", (long long)d.n_profiles);
	printf("certificates:  %lld registered\n", (long long)d.n_certs);
	n = -1;
	if ((r = sc_reg_cert_list(reg, id, 0, show_cert, &n)) != SC_OK)
		goto out;
	if (n_audit > 0) {
		printf("audit (last %ld):\n", n_audit);
		if ((r = sc_reg_audit_list(reg, id, (size_t)n_audit, show_audit, &n)) != SC_OK)
			goto out;
	}
	r = SC_OK;
out:
	sc_reg_close(reg);
	return r;
}

/* ---- net device import ---- */

static const char import_usage[] =
"usage: selfcert net device import --db FILE --csv FILE\n"
"  The activation feed: one device per line, device_id[,note] (an optional header line\n"
"  device_id,note; blank lines and # comments skipped). All lines or none: a bad line refuses\n"
"  the file, naming FILE:LINE. Devices already registered are left as they are (a revoked one\n"
"  stays revoked) and counted.\n";

static sc_err netdev_import(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "csv", 1, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	const char *db, *csv;
	char actor[SC_REG_ACTOR_MAX];
	size_t added = 0, skipped = 0;
	sc_err r;

	if ((r = cli_parse(&a, "net device import", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(import_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK || (r = cli_need(&a, "csv", &csv)) != SC_OK)
		return r;
	if (access(csv, R_OK) != 0)
		return sc_fail(SC_ERR_IO, "%s: cannot read it", csv);
	actor_name(actor, sizeof(actor));
	if ((r = sc_reg_open(db, 1, &reg)) != SC_OK)
		return r;
	r = sc_reg_import_csv(reg, csv, actor, (int64_t)time(NULL), &added, &skipped);
	sc_reg_close(reg);
	if (r != SC_OK)
		return r;
	printf("imported %zu devices from %s (%zu already registered)\n", added, csv, skipped);
	return SC_OK;
}

/* ---- net device (dispatch) ---- */

static const char device_usage[] =
"usage: selfcert net device add|revoke|list|show|import --db FILE …\n"
"  add      activate devices (--device-id ID …)\n"
"  revoke   revoke a device for good\n"
"  list     every device, one line each\n"
"  show     one device in full, with its certificates and audit events\n"
"  import   activate the devices of a CSV file (the activation feed)\n"
"  selfcert net device <verb> --help for each verb's flags.\n";

sc_err cmd_net_device(int argc, char **argv)
{
	static const struct {
		const char *verb;
		sc_err (*run)(int, char **);
	} verbs[] = {
		{ "add", netdev_add }, { "revoke", netdev_revoke }, { "list", netdev_list },
		{ "show", netdev_show }, { "import", netdev_import },
	};

	if (argc < 1)
		return sc_fail(SC_ERR_USAGE, "net device: which verb? add|revoke|list|show|import (--help)");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(device_usage, stdout);
		return SC_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[0], verbs[i].verb) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	return sc_fail(SC_ERR_USAGE, "net device: unknown verb '%.32s' (add|revoke|list|show|import)", argv[0]);
}

/* ---- net server-cert ---- */

static const char server_cert_usage[] =
"usage: selfcert net server-cert --dir NETDIR --host NAME [--host NAME …] [--alg ALG] [--days N]\n"
"  The provisioning server's TLS certificate, issued by the network root (NETDIR/root.key):\n"
"  NETDIR/server.pem and server.key (0600, never overwritten). Subject O=<network ID>,\n"
"  CN=<first host>; subjectAltName dNSName or iPAddress for each --host; EKU serverAuth.\n"
"  Agents trust it through --ca NETDIR/root.pem.\n"
"  --alg ALG   the server key: rsa2048 rsa3072 rsa4096 p256 p384 ed25519 (default p256)\n"
"  --days N    lifetime in days (default 365; never past the network root's notAfter)\n";

/* A DNS name we put in a certificate: LDH labels of 1..63, dots between, no wildcard. */
static int dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > NETDEV_HOST_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if ((c == '-' && label == 0) || ++label > 63)
			return 0;
	}
	return s[n - 1] != '-';
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

sc_err cmd_net_server_cert(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "dir", 1, 0 }, { "host", 1, 1 }, { "alg", 1, 0 }, { "days", 1, 0 } };
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	const char *dir;
	char path[PATH_MAX], network_id[SC_NETWORK_ID_MAX + 1], san[NETDEV_MAX_HOSTS * (NETDEV_HOST_MAX + 8)];
	enum sc_alg alg = SC_ALG_P256;
	long days;
	int n_hosts;
	size_t san_len = 0;
	X509 *root = NULL, *cert = NULL;
	EVP_PKEY *root_key = NULL, *key = NULL;
	X509_NAME *subj = NULL;
	BIGNUM *bn = NULL;
	uint8_t serial[SERVER_CERT_SERIAL_LEN];
	time_t now = time(NULL), root_na = 0, na;
	const EVP_MD *md;
	char when[32];

	if ((r = cli_parse(&a, "net server-cert", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(server_cert_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK || (r = cli_int(&a, "days", 365, 1, 3650, &days)) != SC_OK)
		return r;
	if ((n_hosts = cli_count(&a, "host")) == 0)
		return sc_fail(SC_ERR_USAGE, "net server-cert: missing --host");
	if (cli_has(&a, "alg") && sc_alg_from_name(cli_get(&a, "alg"), &alg) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net server-cert: --alg: %s", sc_err_detail());
	san[0] = '\0';
	for (int i = 0; i < n_hosts; i++) {
		const char *h = cli_nth(&a, "host", i);
		uint8_t ip[16];
		int is_ip = inet_pton(AF_INET, h, ip) == 1 || inet_pton(AF_INET6, h, ip) == 1;
		int w;

		if (!is_ip && !dns_name_valid(h))
			return sc_fail(SC_ERR_USAGE, "net server-cert: --host '%.64s': a DNS name (letters, digits, '-', "
			    "dots) or an IP address", h);
		w = snprintf(san + san_len, sizeof(san) - san_len, "%s%s:%s", i ? "," : "", is_ip ? "IP" : "DNS", h);
		if (w < 0 || (size_t)w >= sizeof(san) - san_len)
			return sc_fail(SC_ERR_USAGE, "net server-cert: too many --host names");
		san_len += (size_t)w;
	}
	for (int i = 0; i < 2; i++) {
		if ((r = cli_path(path, sizeof(path), dir, i ? "server.key" : "server.pem")) != SC_OK)
			return r;
		if (access(path, F_OK) == 0)
			return sc_fail(SC_ERR_EXISTS, "%s: already exists; refusing to overwrite", path);
	}
	if ((r = cli_path(path, sizeof(path), dir, "root.pem")) != SC_OK || (r = sc_load_cert(path, &root)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "root.key")) != SC_OK || (r = sc_key_open(path, &root_key)) != SC_OK)
		goto out;
	if (X509_check_private_key(root, root_key) != 1) {
		r = sc_fail(SC_ERR_KEY_MISMATCH, "%s/root.key does not belong to root.pem", dir);
		goto out;
	}
	if ((r = cli_subject_attr(root, NID_organizationName, network_id, sizeof(network_id))) != SC_OK) {
		r = sc_fail(r, "%s/root.pem: no network ID (subject O)", dir);
		goto out;
	}
	if ((r = sc_asn1_time_to_time_t(X509_get0_notAfter(root), &root_na)) != SC_OK)
		goto out;
	na = now + (time_t)days * 86400;
	if (na > root_na)
		na = root_na;
	if (na <= now) {
		r = sc_fail(SC_ERR_VALIDITY, "%s/root.pem has expired", dir);
		goto out;
	}
	if ((r = sc_alg_keygen(alg, &key)) != SC_OK)
		goto out;
	r = SC_ERR_INTERNAL;
	if ((cert = X509_new()) == NULL || (subj = X509_NAME_new()) == NULL || !X509_set_version(cert, X509_VERSION_3))
		goto ossl;
	/* 16 random bytes, top bit clear: a positive serial of fixed size. */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto ossl;
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL)
		goto ossl;
	if (!X509_NAME_add_entry_by_NID(subj, NID_organizationName, MBSTRING_UTF8, (const unsigned char *)network_id,
	    -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cli_nth(&a, "host", 0), -1, -1, 0) ||
	    !X509_set_subject_name(cert, subj) || !X509_set_issuer_name(cert, X509_get_subject_name(root)) ||
	    !X509_set_pubkey(cert, key) ||
	    ASN1_TIME_set(X509_getm_notBefore(cert), now - SERVER_CERT_SKEW_S) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), na) == NULL)
		goto ossl;
	if ((r = add_ext(cert, root, NID_basic_constraints, "critical,CA:FALSE")) != SC_OK ||
	    (r = add_ext(cert, root, NID_key_usage, sc_alg_is_rsa(alg) ? "critical,digitalSignature,keyEncipherment" :
	        "critical,digitalSignature")) != SC_OK ||
	    (r = add_ext(cert, root, NID_ext_key_usage, "serverAuth")) != SC_OK ||
	    (r = add_ext(cert, root, NID_subject_alt_name, san)) != SC_OK ||
	    (r = add_ext(cert, root, NID_subject_key_identifier, "hash")) != SC_OK ||
	    (r = add_ext(cert, root, NID_authority_key_identifier, "keyid:always")) != SC_OK)
		goto out;
	r = SC_ERR_INTERNAL;
	md = sc_sign_md(root_key, sc_alg_default_digest(sc_alg_of_key(root_key)));
	if (X509_sign(cert, root_key, md) <= 0)
		goto ossl;
	if ((r = cli_path(path, sizeof(path), dir, "server.key")) != SC_OK || (r = sc_write_key(path, key)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "server.pem")) != SC_OK || (r = sc_write_cert(path, cert)) != SC_OK)
		goto out;
	sc_format_time(na, when, sizeof(when));
	printf("server certificate for %s (network %s, %s, until %s): %s/server.pem, %s/server.key\n", san, network_id,
	    sc_alg_name(alg), when, dir, dir);
	r = SC_OK;
	goto out;
ossl:
	r = sc_fail_ossl(SC_ERR_INTERNAL, "building the server certificate");
out:
	BN_free(bn);
	X509_NAME_free(subj);
	X509_free(cert);
	X509_free(root);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(key);
	return r;
}
