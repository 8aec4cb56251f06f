// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_registry.c — the operator's registry commands (`net device add|revoke|list|show|import`,
 * `net db migrate|status|check`):
 * they open the provisioning server's registry directly through src/registry (the same library
 * and transactions the server uses), never through the server's HTTP API.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <selfcert/cert.h>
#include "cli.h"
#include "keyopen.h"
#include "pem.h"
#include "registry.h"
#include "shipment.h"
#include "text.h"

/* "cli uid=1000 (alice)": who did it, for the audit log. */
static void actor_name(char *out, size_t out_len)
{
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);

	snprintf(out, out_len, "cli uid=%lu (%.32s)", (unsigned long)uid,
	    pw != NULL ? pw->pw_name : "?");
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
    "usage: selfcert net device add --db REGISTRY --device-id ID [--device-id ID …] [--note TEXT]\n"
    "         [--chain CHAIN.pem --kek KEX.pem | --certs DIR] [--mfr-root ROOT.pem] [--json]\n"
    "  Activates devices in the provisioning server's registry (made if missing): the server gives\n"
    "  profiles to activated, unrevoked devices only. All the IDs or none (one transaction).\n"
    "  With the device's certificates (issue 17), each is verified under the manufacturer root\n"
    "  --mfr-root (the one selfcert-provd --mfr-root names) as the server verifies a first request,\n"
    "  and pinned in the same transaction, so that the device's first request skips that work:\n"
    "  --chain CHAIN.pem --kek KEX.pem  one device's chain (device CA, then manufacturer CA, as the\n"
    "                   device sends it) and KEK certificate; with one --device-id\n"
    "  --certs DIR      DIR/ID/chain.pem and DIR/ID/kex.pem for each --device-id (the layout of\n"
    "                   `selfcert mfr personalize --out DIR/ID`)\n"
    "  A device whose certificates fail a check is refused with the file and the check; one already\n"
    "  pinned to another device CA or KEK is refused (device-ca-changed) and the attempt audited.\n"
    "  --json prints one object {\"activated\": [IDs], \"note\": TEXT|null} (with certificates also\n"
    "  \"pinned\": [IDs]).\n";

/*
 * The devices' certificates verified and pinned into *ship, before the registry is opened: a
 * refused device leaves no registry file behind and holds no lock while it is checked.
 */
static sc_err add_shipment(const struct cli_args *a, const char *const *ids, int n,
    struct cli_shipment *ship)
{
	sc_err r;

	if (cli_has(a, "chain") != cli_has(a, "kek"))
		return sc_fail(SC_ERR_USAGE, "net device add: --chain and --kek go together");
	if (cli_has(a, "chain") && cli_has(a, "certs"))
		return sc_fail(SC_ERR_USAGE,
		    "net device add: --chain and --kek, or --certs DIR, not both");
	if (cli_has(a, "chain") && n != 1)
		return sc_fail(SC_ERR_USAGE,
		    "net device add: --chain and --kek are one device's: one --device-id (--certs "
		    "DIR for several)");
	if (!cli_has(a, "mfr-root"))
		return sc_fail(SC_ERR_USAGE,
		    "net device add: the device's certificates need --mfr-root (the manufacturer "
		    "root selfcert-provd verifies devices under)");
	if ((r = cli_shipment_open(ship, cli_get(a, "mfr-root"))) != SC_OK)
		return sc_fail(r, "net device add: %s", sc_err_detail());
	for (int i = 0; i < n; i++) {
		r = cli_has(a, "chain") ? cli_shipment_add(ship, ids[i], cli_get(a, "note"), 0,
		                              cli_get(a, "chain"), cli_get(a, "kek"), "")
		                        : cli_shipment_add_dir(ship, cli_get(a, "certs"), ids[i],
		                              cli_get(a, "note"), 0, "");
		if (r != SC_OK)
			return sc_fail(r, "net device add: %s", sc_err_detail());
	}
	return SC_OK;
}

static sc_err netdev_add(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "db", 1, 0 },
		{ "device-id", 1, 1 },
		{ "note", 1, 0 },
		{ "json", 0, 0 },
		{ "chain", 1, 0 },
		{ "kek", 1, 0 },
		{ "certs", 1, 0 },
		{ "mfr-root", 1, 0 },
	};
	const size_t nspec = sizeof(spec) / sizeof(spec[0]);
	struct cli_args a;
	struct sc_reg *reg = NULL;
	struct cli_shipment ship;
	const char *db, *ids[CLI_MAX_VALUES];
	char actor[SC_REG_ACTOR_MAX];
	size_t added = 0, skipped = 0;
	int n, certs;
	sc_err r;

	memset(&ship, 0, sizeof(ship));
	if ((r = cli_parse(&a, "net device add", spec, nspec, argc, argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(add_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK)
		return r;
	if ((n = cli_count(&a, "device-id")) == 0)
		return sc_fail(SC_ERR_USAGE, "net device add: missing --device-id");
	if (cli_has(&a, "note") && strlen(cli_get(&a, "note")) > SC_REG_NOTE_MAX)
		return sc_fail(SC_ERR_USAGE, "net device add: --note longer than %d bytes",
		    SC_REG_NOTE_MAX);
	certs = cli_has(&a, "chain") || cli_has(&a, "kek") || cli_has(&a, "certs");
	if (!certs && cli_has(&a, "mfr-root"))
		return sc_fail(SC_ERR_USAGE,
		    "net device add: --mfr-root is for the devices' certificates (--chain and "
		    "--kek, or --certs)");
	for (int i = 0; i < n; i++)
		ids[i] = cli_nth(&a, "device-id", i);
	actor_name(actor, sizeof(actor));
	/* Before the registry is opened (perhaps made): a refused list leaves no file behind. */
	if ((r = sc_reg_device_ids_check(ids, (size_t)n)) != SC_OK)
		return sc_fail(r, "net device add: %s", sc_err_detail());
	if (certs && (r = add_shipment(&a, ids, n, &ship)) != SC_OK)
		goto out;
	if ((r = sc_reg_open(db, 1, &reg)) != SC_OK)
		goto out;
	/* The registry checks every ID and adds them all in one transaction, or none. */
	if (certs)
		r = sc_reg_devices_activate(reg, cli_shipment_next, &ship, 0, "net device add",
		    actor, (int64_t)time(NULL), &added, &skipped);
	else
		r = sc_reg_devices_add(reg, ids, (size_t)n, cli_get(&a, "note"), actor,
		    (int64_t)time(NULL));
	if (r == SC_ERR_USAGE) {
		r = sc_fail(r, "net device add: %s", sc_err_detail()); /* a bad --device-id */
		goto out;
	}
	if (r != SC_OK)
		goto out;
	if (cli_has(&a, "json")) {
		json_t *arr = json_array(), *o;
		for (int i = 0; arr != NULL && i < n; i++)
			json_array_append_new(arr, json_string(ids[i]));
		o = json_pack("{s:o, s:s?}", "activated", arr, "note", cli_get(&a, "note"));
		if (o != NULL && certs)
			json_object_set(o, "pinned", arr);
		r = cli_json_out(o);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (certs)
			printf(
			    "device %s activated, its certificates verified and pinned (device CA "
			    "%.16s…)\n",
			    ids[i], ship.dev[i].ca_sha256);
		else
			printf("device %s activated\n", ids[i]);
	r = SC_OK;
out:
	sc_reg_close(reg);
	cli_shipment_free(&ship);
	return r;
}

/* ---- net device revoke ---- */

static const char revoke_usage[] =
    "usage: selfcert net device revoke --db REGISTRY --device-id ID [--reason TEXT] [--json]\n"
    "  Revokes a device for good: the server refuses it profiles and refuses its certificates.\n"
    "  Revoking a revoked device changes nothing and succeeds.\n"
    "  --json prints one object {\"device_id\", \"revoked\": true, \"already\": BOOL, \"reason\"}.\n";

static sc_err netdev_revoke(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "device-id", 1, 0 },
		{ "reason", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	const char *db, *id;
	char actor[SC_REG_ACTOR_MAX];
	int already = 0;
	sc_err r;

	if ((r = cli_parse(&a, "net device revoke", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(revoke_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK || (r = cli_need(&a, "device-id", &id)) != SC_OK)
		return r;
	if (cli_has(&a, "reason") && strlen(cli_get(&a, "reason")) > SC_REG_NOTE_MAX)
		return sc_fail(SC_ERR_USAGE, "net device revoke: --reason longer than %d bytes",
		    SC_REG_NOTE_MAX);
	actor_name(actor, sizeof(actor));
	if ((r = sc_reg_open(db, 0, &reg)) != SC_OK)
		return r;
	r = sc_reg_device_revoke(reg, id, cli_get(&a, "reason"), actor, (int64_t)time(NULL),
	    &already);
	sc_reg_close(reg);
	if (r != SC_OK)
		return r;
	if (cli_has(&a, "json"))
		return cli_json_out(json_pack("{s:s, s:b, s:b, s:s?}", "device_id", id, "revoked",
		    1, "already", already, "reason", cli_get(&a, "reason")));
	printf(already ? "device %s was already revoked\n" : "device %s revoked\n", id);
	return SC_OK;
}

/* ---- net device list ---- */

static const char list_usage[] =
    "usage: selfcert net device list --db REGISTRY [--status active|revoked] [--json]\n"
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
	printf(",\"activated_at\":\"%s\",\"profiles_issued\":%lld,\"certificates_registered\":%lld",
	    t, (long long)d->n_profiles, (long long)d->n_certs);
	if (d->status == SC_REG_DEV_REVOKED) {
		fmt_time(d->revoked_at, t, sizeof(t));
		printf(",\"revoked_at\":\"%s\",\"revocation_reason\":", t);
		cli_json_str(stdout, d->revoke_reason);
	}
	if (d->has_cert) {
		printf(
		    ",\"certificate\":{\"serial\":\"%s\",\"fingerprint\":\"%s\",\"profile_id\":\"%s\"",
		    d->cert_serial, d->cert_fpr, d->cert_profile_id);
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
		printf("%s %s %lld %s\n", d->device_id, sc_reg_dev_status_name(d->status),
		    (long long)d->n_certs, t);
	}
	lc->n++;
	return 0;
}

static sc_err netdev_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "status", 1, 0 },
		{ "json", 0, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	struct list_ctx lc = { 0, 0 };
	enum sc_reg_dev_status status = 0;
	const char *db;
	sc_err r;

	if ((r = cli_parse(&a, "net device list", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
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
			return sc_fail(SC_ERR_USAGE,
			    "net device list: --status '%s': active or revoked",
			    cli_get(&a, "status"));
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
    "usage: selfcert net device show --db REGISTRY --device-id ID [--json] [--audit N]\n"
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
		printf(
		    "%s{\"serial\":\"%s\",\"fingerprint\":\"%s\",\"profile_id\":\"%s\",\"not_before\":\"%s\","
		    "\"not_after\":\"%s\",\"registered_at\":\"%s\"}",
		    *json_n > 0 ? "," : "", c->serial, c->fpr, c->profile_id, nb, na, rg);
		(*json_n)++;
	} else {
		printf("  certificate %s  %s .. %s  profile %s  registered %s\n", c->serial, nb, na,
		    c->profile_id, rg);
	}
	return 0;
}

static int show_audit(void *ctx, const struct sc_reg_audit_rec *e)
{
	int *json_n = ctx;
	char at[32];

	fmt_time(e->at, at, sizeof(at));
	if (*json_n >= 0) {
		printf("%s{\"seq\":%lld,\"at\":\"%s\",\"actor\":", *json_n > 0 ? "," : "",
		    (long long)e->seq, at);
		cli_json_str(stdout, e->actor);
		printf(",\"event\":");
		cli_json_str(stdout, e->event);
		printf(",\"detail\":");
		cli_json_str(stdout, e->detail);
		printf("}");
		(*json_n)++;
	} else {
		printf("  %s  %-22s %s  (%s)\n", at, e->event ? e->event : "",
		    e->detail ? e->detail : "", e->actor ? e->actor : "");
	}
	return 0;
}

static sc_err netdev_show(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "device-id", 1, 0 },
		{ "json", 0, 0 }, { "audit", 1, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	struct sc_reg_device d;
	const char *db, *id;
	char t[32];
	long n_audit;
	int json, n = 0;
	sc_err r;

	if ((r = cli_parse(&a, "net device show", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(show_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK ||
	    (r = cli_need(&a, "device-id", &id)) != SC_OK ||
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
		r = SC_OK;
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
		printf("revoked:       %s%s%s\n", t, d.revoke_reason[0] ? " — " : "",
		    d.revoke_reason);
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
    "usage: selfcert net device import --db REGISTRY --csv FILE [--certs DIR --mfr-root ROOT.pem]\n"
    "         [--json]\n"
    "  The activation feed: one device per line, device_id[,note] (an optional header line\n"
    "  device_id,note; blank lines and # comments skipped). All lines or none: a bad line refuses\n"
    "  the file, naming FILE:LINE. Devices already registered are left as they are (a revoked one\n"
    "  stays revoked) and counted.\n"
    "  --certs DIR      the manufacturer's shipment beside the feed: DIR/ID/chain.pem (device CA,\n"
    "                   then manufacturer CA) and DIR/ID/kex.pem for every line's device, each\n"
    "                   verified under --mfr-root ROOT.pem (selfcert-provd's) before the import\n"
    "                   and pinned with it (issue 17: the device's first request then skips that\n"
    "                   work). A device already registered gets its pin too if it has none; one\n"
    "                   pinned to another device CA or KEK refuses the file (device-ca-changed).\n"
    "  --json prints one object {\"csv\", \"imported\": N, \"already_registered\": N} (with\n"
    "  --certs also \"pinned\": N).\n";

/* One feed line's device read from the shipment folder and verified (sc_reg_csv_walk). */
struct import_walk {
	struct cli_shipment *ship;
	const char *csv, *dir;
};

static sc_err import_one(void *ctx, const char *device_id, const char *note, size_t line)
{
	struct import_walk *w = ctx;
	char where[4200];

	snprintf(where, sizeof(where), "%.4000s:%zu: ", w->csv, line);
	return cli_shipment_add_dir(w->ship, w->dir, device_id, note, line, where);
}

static sc_err netdev_import(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "db", 1, 0 }, { "csv", 1, 0 }, { "json", 0, 0 },
		{ "certs", 1, 0 }, { "mfr-root", 1, 0 } };
	struct cli_args a;
	struct sc_reg *reg = NULL;
	struct cli_shipment ship;
	struct import_walk walk;
	const char *db, *csv;
	char actor[SC_REG_ACTOR_MAX];
	size_t added = 0, skipped = 0;
	int certs;
	sc_err r;

	memset(&ship, 0, sizeof(ship));
	if ((r = cli_parse(&a, "net device import", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(import_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK || (r = cli_need(&a, "csv", &csv)) != SC_OK)
		return r;
	if ((certs = cli_has(&a, "certs")) != cli_has(&a, "mfr-root"))
		return sc_fail(SC_ERR_USAGE,
		    "net device import: --certs DIR and --mfr-root ROOT.pem go together (the "
		    "shipment, and the manufacturer root selfcert-provd verifies devices under)");
	if (access(csv, R_OK) != 0)
		return sc_fail(SC_ERR_IO, "%s: cannot read it", csv);
	actor_name(actor, sizeof(actor));
	/* Every device verified before the registry's transaction: no lock held meanwhile. */
	if (certs) {
		walk = (struct import_walk){ &ship, csv, cli_get(&a, "certs") };
		if ((r = cli_shipment_open(&ship, cli_get(&a, "mfr-root"))) != SC_OK ||
		    (r = sc_reg_csv_walk(csv, import_one, &walk)) != SC_OK)
			goto out;
	}
	if ((r = sc_reg_open(db, 1, &reg)) != SC_OK)
		goto out;
	if (certs)
		r = sc_reg_devices_activate(reg, cli_shipment_next, &ship, 1, csv, actor,
		    (int64_t)time(NULL), &added, &skipped);
	else
		r = sc_reg_import_csv(reg, csv, actor, (int64_t)time(NULL), &added, &skipped);
	if (r != SC_OK)
		goto out;
	if (cli_has(&a, "json")) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "csv", csv, "imported", (json_int_t)added,
		    "already_registered", (json_int_t)skipped);
		if (o != NULL && certs)
			json_object_set_new(o, "pinned", json_integer((json_int_t)ship.n));
		r = cli_json_out(o);
		goto out;
	}
	printf("imported %zu devices from %s (%zu already registered)\n", added, csv, skipped);
	if (certs)
		printf("%zu devices' certificates verified under %s and pinned\n", ship.n,
		    cli_get(&a, "mfr-root"));
	r = SC_OK;
out:
	sc_reg_close(reg);
	cli_shipment_free(&ship);
	return r;
}

/* ---- net device (dispatch) ---- */

static const char device_usage[] =
    "usage: selfcert net device add|revoke|list|show|import --db REGISTRY …\n"
    "  add      activate devices (--device-id ID …)\n"
    "  revoke   revoke a device for good\n"
    "  list     every device, one line each\n"
    "  show     one device in full, with its certificates and audit events\n"
    "  import   activate the devices of a CSV file (the activation feed)\n"
    "  --db REGISTRY  the registry selfcert-provd uses: a file path (SQLite), or a libpq URI\n"
    "                 (postgresql://HOST/DB, postgresql:///DB?host=/run/postgresql,\n"
    "                 postgresql:///?service=NAME) for PostgreSQL. Never a password in it:\n"
    "                 libpq's PGPASSFILE (~/.pgpass) or service file holds it.\n"
    "  selfcert net device <verb> --help for each verb's flags.\n";

sc_err cmd_net_device(int argc, char **argv)
{
	static const struct {
		const char *verb;
		sc_err (*run)(int, char **);
	} verbs[] = {
		{ "add", netdev_add },
		{ "revoke", netdev_revoke },
		{ "list", netdev_list },
		{ "show", netdev_show },
		{ "import", netdev_import },
	};

	if (argc < 1)
		return sc_fail(SC_ERR_USAGE,
		    "net device: which verb? add|revoke|list|show|import (--help)");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(device_usage, stdout);
		return SC_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[0], verbs[i].verb) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	return sc_fail(SC_ERR_USAGE,
	    "net device: unknown verb '%.32s' (add|revoke|list|show|import)", argv[0]);
}

/* ---- net db (the registry's schema, for operators who migrate as a step of their own) ---- */

static const char db_usage[] =
    "usage: selfcert net db migrate|status|check --db REGISTRY [--grant ROLE] [--json]\n"
    "  migrate  bring the registry's schema to this program's version (made if missing), under\n"
    "           the database's migration lock; run it as the owner role before rolling out a\n"
    "           new version. --grant ROLE (PostgreSQL) then gives the runtime role provd and\n"
    "           `net device` connect as what they need: no DDL, and no UPDATE, DELETE or\n"
    "           TRUNCATE of the audit log, the revocations or the certificates.\n"
    "  status   the backend, schema version, oldest compatible program version, and whether\n"
    "           this program may serve from it (as /healthz says)\n"
    "  check    the registry's consistency (SQLite: page and foreign-key checks; PostgreSQL:\n"
    "           every consumed profile has its certificate and no other has one)\n"
    "  --json   one JSON object: backend, schema, and for status min_compatible, program_schema,\n"
    "           usable; for migrate granted (ROLE or null); for check consistent\n";

sc_err cmd_net_db(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "db", 1, 0 },
		{ "grant", 1, 0 },
		{ "json", 0, 0 },
	};
	struct cli_args a;
	struct sc_reg *reg = NULL;
	const char *verb, *db;
	sc_err r;

	if (argc < 1)
		return sc_fail(SC_ERR_USAGE, "net db: which verb? migrate|status|check (--help)");
	verb = argv[0];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(db_usage, stdout);
		return SC_OK;
	}
	if (strcmp(verb, "migrate") != 0 && strcmp(verb, "status") != 0 &&
	    strcmp(verb, "check") != 0)
		return sc_fail(SC_ERR_USAGE, "net db: unknown verb '%.32s' (migrate|status|check)",
		    verb);
	if ((r = cli_parse(&a, "net db", spec, sizeof(spec) / sizeof(spec[0]), argc - 1, argv + 1,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(db_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "db", &db)) != SC_OK)
		return r;
	if (cli_has(&a, "grant") && strcmp(verb, "migrate") != 0)
		return sc_fail(SC_ERR_USAGE, "net db %s: --grant is for migrate", verb);
	/* Only migrate makes a registry; status and check refuse an empty database. */
	if ((r = sc_reg_open(db, strcmp(verb, "migrate") == 0, &reg)) != SC_OK)
		return r;
	if (strcmp(verb, "migrate") == 0) {
		if (cli_has(&a, "grant") && (r = sc_reg_grant(reg, cli_get(&a, "grant"))) != SC_OK)
			goto out;
		if (cli_has(&a, "json"))
			r = cli_json_out(json_pack("{s:s, s:i, s:s?}", "backend",
			    sc_reg_backend_name(reg), "schema", sc_reg_schema_version(reg),
			    "granted", cli_get(&a, "grant")));
		else
			printf("registry (%s) at schema version %d%s%s\n", sc_reg_backend_name(reg),
			    sc_reg_schema_version(reg),
			    cli_has(&a, "grant") ? ", rights granted to " : "",
			    cli_has(&a, "grant") ? cli_get(&a, "grant") : "");
	} else if (strcmp(verb, "status") == 0 && cli_has(&a, "json")) {
		r = cli_json_out(json_pack("{s:s, s:i, s:i, s:i, s:b}", "backend",
		    sc_reg_backend_name(reg), "schema", sc_reg_schema_version(reg),
		    "min_compatible", sc_reg_schema_min_compatible(reg), "program_schema",
		    SC_REG_SCHEMA_VERSION, "usable", sc_reg_schema_usable(reg)));
	} else if (strcmp(verb, "status") == 0) {
		printf("backend:        %s\n", sc_reg_backend_name(reg));
		printf("schema:         %d\n", sc_reg_schema_version(reg));
		printf("min_compatible: %d\n", sc_reg_schema_min_compatible(reg));
		printf("this program:   %d (%s)\n", SC_REG_SCHEMA_VERSION,
		    sc_reg_schema_usable(reg) ? "usable" : "not usable");
	} else if ((r = sc_reg_check(reg)) == SC_OK) {
		if (cli_has(&a, "json"))
			r = cli_json_out(
			    json_pack("{s:s, s:i, s:b}", "backend", sc_reg_backend_name(reg),
			        "schema", sc_reg_schema_version(reg), "consistent", 1));
		else
			printf("registry (%s): consistent\n", sc_reg_backend_name(reg));
	}
out:
	sc_reg_close(reg);
	return r;
}
