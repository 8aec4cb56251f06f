// SPDX-License-Identifier: Apache-2.0
/*
 * registry.c — the registry's front: picks the backend from the --db location, checks what
 * needs no database (device IDs, note sizes), and forwards to the backend's table
 * (backend.h). No SQL here; reg_sqlite.c and reg_pg.c hold all of it.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/cert.h>
#include "registry.h"
#include "backend.h"
#include "text.h"
#include "fast/fast.h"

static sc_err missing(const struct sc_reg *reg, const char *what);

/*
 * The locations that are not file paths. A kind whose backend this build lacks is refused,
 * not taken for a file name: "postgresql://host/db" must never become a SQLite file.
 */
static const struct {
	const char *prefix;
	const char *what;                /* for the refusal */
	const struct sc_reg_backend *be; /* NULL: not in this build */
} locations[] = {
#ifdef SC_REG_HAVE_PG
	{ "postgresql://", "PostgreSQL", &sc_reg_pg },
	{ "postgres://", "PostgreSQL", &sc_reg_pg },
#else
	{ "postgresql://", "PostgreSQL", NULL },
	{ "postgres://", "PostgreSQL", NULL },
#endif
};

/* The backend a location selects: a listed kind (refused if not built in), else a file path. */
static sc_err pick(const char *location, const struct sc_reg_backend **be)
{
	*be = &sc_reg_sqlite;
	for (size_t i = 0; i < sizeof(locations) / sizeof(locations[0]); i++) {
		if (strncmp(location, locations[i].prefix, strlen(locations[i].prefix)) != 0)
			continue;
		/* Only the scheme in the detail: the rest may hold a user name or a password. */
		if ((*be = locations[i].be) == NULL)
			return sc_fail(SC_ERR_USAGE,
			    "--db %s…: this build has no %s backend "
			    "(a file path selects SQLite)",
			    locations[i].prefix, locations[i].what);
		break;
	}
	return SC_OK;
}

sc_err sc_reg_location_backend(const char *location, const char **name)
{
	const struct sc_reg_backend *be;
	sc_err r;

	*name = NULL;
	if ((r = pick(location, &be)) != SC_OK)
		return r;
	*name = be->name;
	return SC_OK;
}

sc_err sc_reg_open(const char *location, int create, struct sc_reg **out)
{
	const struct sc_reg_backend *be;
	sc_err r;

	*out = NULL;
	if ((r = pick(location, &be)) != SC_OK)
		return r;
	return be->open(location, create, out);
}

void sc_reg_close(struct sc_reg *reg)
{
	if (reg != NULL)
		reg->be->close(reg);
}

const char *sc_reg_backend_name(const struct sc_reg *reg)
{
	return reg->be->name;
}

int sc_reg_schema_version(struct sc_reg *reg)
{
	return reg->be->schema_version(reg);
}

int sc_reg_schema_min_compatible(struct sc_reg *reg)
{
	if (reg->be->schema_min_compatible == NULL)
		return reg->be->schema_version(reg);
	return reg->be->schema_min_compatible(reg);
}

int sc_reg_schema_usable(struct sc_reg *reg)
{
	int v = sc_reg_schema_version(reg), mc;

	if (v == SC_REG_SCHEMA_VERSION)
		return 1;
	/* Newer: a rolling upgrade has migrated; usable while it still admits this program. */
	if (v > SC_REG_SCHEMA_VERSION)
		return (mc = sc_reg_schema_min_compatible(reg)) >= 0 && mc <= SC_REG_SCHEMA_VERSION;
	return 0;
}

sc_err sc_reg_grant(struct sc_reg *reg, const char *role)
{
	if (reg->be->grant == NULL)
		return sc_fail(SC_ERR_USAGE,
		    "--grant: the %s registry has no database roles (its file's permissions "
		    "are the access control)",
		    reg->be->name);
	if (role == NULL || *role == '\0' || strlen(role) > 63)
		return sc_fail(SC_ERR_USAGE, "--grant: a role name of 1..63 bytes");
	return reg->be->grant(reg, role);
}

const char *sc_reg_dev_status_name(enum sc_reg_dev_status s)
{
	switch (s) {
	case SC_REG_DEV_ACTIVE: return "active";
	case SC_REG_DEV_REVOKED: return "revoked";
	}
	return "unknown";
}

/* ---- devices ---- */

static sc_err check_note(const char *what, const char *s)
{
	if (s != NULL && strlen(s) > SC_REG_NOTE_MAX)
		return sc_fail(SC_ERR_USAGE, "%s: %zu bytes, at most %d", what, strlen(s),
		    SC_REG_NOTE_MAX);
	return SC_OK;
}

void sc_reg_device_id_key(const char *id, char out[SC_DEVICE_ID_MAX + 1])
{
	size_t n = 0;
	int space = 0;

	/* OpenSSL's asn1_string_canon: trim, fold white space runs, lower-case ASCII. */
	for (const char *p = id; *p != '\0' && n < SC_DEVICE_ID_MAX; p++) {
		if (*p == ' ') {
			space = n > 0;
			continue;
		}
		if (space && n < SC_DEVICE_ID_MAX)
			out[n++] = ' ';
		space = 0;
		if (n < SC_DEVICE_ID_MAX)
			out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	}
	out[n] = '\0';
}

int sc_reg_device_ids_same(const char *a, const char *b)
{
	char ka[SC_DEVICE_ID_MAX + 1], kb[SC_DEVICE_ID_MAX + 1];

	sc_reg_device_id_key(a, ka);
	sc_reg_device_id_key(b, kb);
	return strcmp(ka, kb) == 0;
}

/*
 * The IDs' checks that need no database: each valid, none twice. Every ID is checked for
 * validity before any for repetition, as `net device add` always did. The details name
 * --device-id: they are what the operator typed.
 */
sc_err sc_reg_device_ids_check(const char *const *ids, size_t n)
{
	if (n == 0)
		return sc_fail(SC_ERR_USAGE, "no device ID to add");
	if (n > SC_REG_ADD_MAX)
		return sc_fail(SC_ERR_USAGE,
		    "%zu device IDs at once, at most %d (the CSV import takes more)", n,
		    SC_REG_ADD_MAX);
	for (size_t i = 0; i < n; i++)
		if (!sc_device_id_valid(ids[i]))
			return sc_fail(SC_ERR_USAGE,
			    "--device-id '%.64s': 1..64 PrintableString characters", ids[i]);
	for (size_t i = 1; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(ids[j], ids[i]) == 0)
				return sc_fail(SC_ERR_USAGE, "--device-id %s given twice", ids[i]);
			else if (sc_reg_device_ids_same(ids[j], ids[i]))
				return sc_fail(SC_ERR_USAGE,
				    "--device-id '%s' is '%s' again (device IDs are the same "
				    "ignoring case and runs of spaces)",
				    ids[i], ids[j]);
	return SC_OK;
}

/*
 * Activation without certificates goes through the backend's one activation transaction
 * (activate_rows) with rows that carry no pin: `net device add`'s and the CSV import's rules are
 * written once per backend, with and without the devices' certificates.
 */
struct id_rows {
	const char *const *ids;
	size_t n, i;
	const char *note;
};

static sc_err id_row(void *ctx, struct sc_reg_row *row, int *more)
{
	struct id_rows *ir = ctx;

	memset(row, 0, sizeof(*row));
	if ((*more = ir->i < ir->n) != 0) {
		row->device_id = ir->ids[ir->i++];
		row->note = ir->note;
	}
	return SC_OK;
}

sc_err sc_reg_devices_add(struct sc_reg *reg, const char *const *ids, size_t n, const char *note,
    const char *actor, int64_t now)
{
	struct id_rows ir = { 0 };
	char refused[SC_DEVICE_ID_MAX + 1];
	size_t added, skipped;
	sc_err r;

	if ((r = sc_reg_device_ids_check(ids, n)) != SC_OK ||
	    (r = check_note("note", note)) != SC_OK)
		return r;
	ir.ids = ids;
	ir.n = n;
	ir.note = note;
	return reg->be->activate_rows(reg, id_row, &ir, 0, "", actor, now, &added, &skipped,
	    refused);
}

sc_err sc_reg_device_add(struct sc_reg *reg, const char *device_id, const char *note,
    const char *actor, int64_t now)
{
	return sc_reg_devices_add(reg, &device_id, 1, note, actor, now);
}

sc_err sc_reg_device_revoke(struct sc_reg *reg, const char *device_id, const char *reason,
    const char *actor, int64_t now, int *already)
{
	sc_err r;

	*already = 0;
	if ((r = check_note("reason", reason)) != SC_OK)
		return r;
	return reg->be->device_revoke(reg, device_id, reason, actor, now, already);
}

sc_err sc_reg_device_get(struct sc_reg *reg, const char *device_id, struct sc_reg_device *out)
{
	return reg->be->device_get(reg, device_id, out);
}

sc_err sc_reg_device_list(struct sc_reg *reg, enum sc_reg_dev_status status,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx)
{
	return reg->be->device_list(reg, status, cb, ctx);
}

/* The caller's rows with no pin, whatever its iterator left in that field. */
struct plain_rows {
	sc_reg_next_row next;
	void *ctx;
};

static sc_err plain_row(void *ctx, struct sc_reg_row *row, int *more)
{
	struct plain_rows *pr = ctx;
	sc_err r;

	memset(row, 0, sizeof(*row));
	r = pr->next(pr->ctx, row, more);
	row->pin = NULL;
	return r;
}

sc_err sc_reg_import_rows(struct sc_reg *reg, sc_reg_next_row next, void *ctx, const char *source,
    const char *actor, int64_t now, size_t *added, size_t *skipped)
{
	struct plain_rows pr = { next, ctx };
	char refused[SC_DEVICE_ID_MAX + 1];

	return reg->be->activate_rows(reg, plain_row, &pr, 1, source, actor, now, added, skipped,
	    refused);
}

/* ---- profiles ---- */

void sc_reg_profile_rec_clear(struct sc_reg_profile_rec *rec)
{
	if (rec == NULL)
		return;
	OPENSSL_free(rec->der);
	OPENSSL_free(rec->chain_pem);
	memset(rec, 0, sizeof(*rec));
}

sc_err sc_reg_profile_precheck(struct sc_reg *reg, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after)
{
	return reg->be->profile_precheck(reg, device_id, challenge, source, rate, now, retry_after);
}

sc_err sc_reg_profile_judge(const struct sc_reg_seen *v, const char *device_id, const char *source,
    const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after)
{
	int unauth = source != NULL && *source != '\0';

	if (retry_after != NULL)
		*retry_after = 0;
	if (v->s == 0)
		return sc_fail(SC_ERR_UNKNOWN_DEVICE, "device %s is not registered (not activated)",
		    device_id);
	if (v->s == SC_REG_DEV_REVOKED)
		return sc_fail(SC_ERR_REVOKED, "device %s is revoked", device_id);
	if (rate != NULL && rate->max > 0 && v->n >= (int64_t)rate->max) {
		if (retry_after != NULL)
			*retry_after = v->oldest + rate->window_s - now + 1;
		if (unauth)
			return sc_fail(SC_ERR_RATE_LIMITED,
			    "unauthenticated requests from %s had %lld profiles in the last %lld s "
			    "(at most %u); send a request proof",
			    source, (long long)v->n, (long long)rate->window_s, rate->max);
		return sc_fail(SC_ERR_RATE_LIMITED,
		    "device %s had %lld profiles in the last %lld s (at most %u)", device_id,
		    (long long)v->n, (long long)rate->window_s, rate->max);
	}
	if (v->used)
		return sc_fail(SC_ERR_REPLAY,
		    "challenge already used for a profile (a replayed request)");
	return SC_OK;
}

sc_err sc_reg_profile_lookup(struct sc_reg *reg, const char *device_id, const char *root_sha256,
    const char *challenge, const char *source, const struct sc_reg_rate *rate, int64_t now,
    struct sc_reg_pin *out, int *found, int *root_match, struct sc_reg_precheck *pre)
{
	struct sc_reg_seen seen = { 0 };
	sc_err r;

	memset(pre, 0, sizeof(*pre));
	memset(out, 0, sizeof(*out));
	*found = 0;
	*root_match = 0;
	if (strlen(root_sha256) != 64)
		return sc_fail(SC_ERR_USAGE, "pin: root_sha256 is not 64 hex digits");
	if (reg->be->profile_lookup == NULL)
		return missing(reg, "profile lookups");
	if ((r = reg->be->profile_lookup(reg, device_id, root_sha256, challenge, source, rate, now,
	         out, found, root_match, &seen)) != SC_OK)
		return r;
	pre->r = sc_reg_profile_judge(&seen, device_id, source, rate, now, &pre->retry_after);
	if (pre->r != SC_OK) {
		snprintf(pre->detail, sizeof(pre->detail), "%s", sc_err_detail());
		sc_err_clear();
	}
	return SC_OK;
}

sc_err sc_reg_profile_insert(struct sc_reg *reg, struct sc_reg_profile_rec *rec,
    const struct sc_reg_rate *rate, int64_t now, const char *actor, int64_t *retry_after)
{
	return reg->be->profile_insert(reg, rec, rate, now, actor, retry_after);
}

sc_err sc_reg_pin_get(struct sc_reg *reg, const char *device_id, const char *root_sha256,
    struct sc_reg_pin *out, int *found, int *root_match)
{
	memset(out, 0, sizeof(*out));
	*found = 0;
	*root_match = 0;
	if (strlen(root_sha256) != 64)
		return sc_fail(SC_ERR_USAGE, "pin: root_sha256 is not 64 hex digits");
	if (reg->be->pin_get == NULL)
		return missing(reg, "device pins");
	return reg->be->pin_get(reg, device_id, root_sha256, out, found, root_match);
}

sc_err sc_reg_profile_get(struct sc_reg *reg, const char *profile_id,
    struct sc_reg_profile_rec *out)
{
	return reg->be->profile_get(reg, profile_id, out);
}

/* ---- certificates, audit, health ---- */

sc_err sc_reg_cert_record(struct sc_reg *reg, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already)
{
	return reg->be->cert_record(reg, rec, now, actor, already);
}

sc_err sc_reg_profile_recover(struct sc_reg *reg, struct sc_reg_profile_rec *prof,
    struct sc_reg_cert_rec *cert, int64_t now, const char *actor, int *recovered, int *already)
{
	char detail[SC_REG_NOTE_MAX], why[200];
	sc_err r;

	*recovered = 0;
	*already = 0;
	if (strcmp(prof->profile_id, cert->profile_id) != 0 ||
	    strcmp(prof->device_id, cert->device_id) != 0 || cert->renewal ||
	    prof->source[0] != '\0' || prof->der == NULL || prof->der_len == 0)
		return sc_fail(SC_ERR_USAGE,
		    "sc_reg_profile_recover: the certificate is not an ordinary certificate of "
		    "that profile");
	r = reg->be->profile_recover(reg, prof, cert, now, actor, recovered, already);
	if (r != SC_ERR_PIN_MISMATCH || prof->pin == NULL || prof->pin_audit_quiet)
		return r;
	/*
	 * fix17: refused and rolled back (a pin made since provd's recover_pin read none other):
	 * audited in a write of its own, as activation's refusal is (sc_reg_devices_activate).
	 */
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	snprintf(why, sizeof(why),
	    "refused (certificate with its profile): device CA %.16s… shown, another pinned",
	    prof->pin->ca_sha256);
	if (reg->be->audit_add(reg, now, actor, "device-ca-changed", prof->device_id, why) != SC_OK)
		sc_err_clear();
	return sc_fail(SC_ERR_PIN_MISMATCH, "%s", detail);
}

sc_err sc_reg_cert_record_many(struct sc_reg *reg, struct sc_reg_cert_rec *recs, size_t n,
    int64_t now, const char *actor, struct sc_reg_cert_outcome *out)
{
	if (n < 1 || n > SC_REG_RECORD_MANY_MAX)
		return sc_fail(SC_ERR_USAGE, "sc_reg_cert_record_many: %zu records, 1..%d", n,
		    SC_REG_RECORD_MANY_MAX);
	memset(out, 0, n * sizeof(*out));
	if (reg->be->cert_record_many != NULL)
		return reg->be->cert_record_many(reg, recs, n, now, actor, out);
	for (size_t i = 0; i < n; i++)
		if ((out[i].r = reg->be->cert_record(reg, &recs[i], now, actor, &out[i].already)) !=
		    SC_OK)
			snprintf(out[i].detail, sizeof(out[i].detail), "%s", sc_err_detail());
	return SC_OK;
}

sc_err sc_reg_cert_list(struct sc_reg *reg, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_cert_rec *c), void *ctx)
{
	return reg->be->cert_list(reg, device_id, limit, cb, ctx);
}

sc_err sc_reg_cert_der(struct sc_reg *reg, const char *fpr, uint8_t **der, size_t *len)
{
	return reg->be->cert_der(reg, fpr, der, len);
}

sc_err sc_reg_crl_put(struct sc_reg *reg, const struct sc_reg_crl_rec *rec, int64_t now,
    int *stored)
{
	*stored = 0;
	if (!sc_device_id_valid(rec->device_id) || rec->number == 0 || rec->number > INT64_MAX ||
	    rec->der == NULL || rec->der_len == 0 || rec->der_len > SC_REG_CRL_MAX_DER)
		return sc_fail(SC_ERR_USAGE, "device CRL: bad device ID, number or size");
	return reg->be->crl_put(reg, rec, now, stored);
}

sc_err sc_reg_crl_list(struct sc_reg *reg, int64_t now, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_crl_rec *c), void *ctx)
{
	return reg->be->crl_list(reg, now, limit, cb, ctx);
}

sc_err sc_reg_audit_list(struct sc_reg *reg, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	return reg->be->audit_list(reg, device_id, limit, cb, ctx);
}

sc_err sc_reg_audit_follow(struct sc_reg *reg, struct sc_reg_audit_cursor *cur, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	return reg->be->audit_follow(reg, cur, limit, cb, ctx);
}

sc_err sc_reg_counts(struct sc_reg *reg, struct sc_reg_counts *out)
{
	return reg->be->counts(reg, out);
}

sc_err sc_reg_check(struct sc_reg *reg)
{
	return reg->be->check(reg);
}

/* ---- the operator's pages (provd's operator endpoints) ---- */

/*
 * A backend written before these entries (a table that leaves them NULL) answers "internal"
 * for them instead of crashing: the operator endpoints fail, nothing else does.
 */
static sc_err missing(const struct sc_reg *reg, const char *what)
{
	return sc_fail(SC_ERR_INTERNAL, "the %s backend has no %s", reg->be->name, what);
}

sc_err sc_reg_device_page(struct sc_reg *reg, const struct sc_reg_query *q,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx, int *more)
{
	*more = 0;
	if (q->limit < 1 || q->limit > SC_REG_PAGE_MAX)
		return sc_fail(SC_ERR_USAGE, "limit %zu: 1..%d devices in a page", q->limit,
		    SC_REG_PAGE_MAX);
	/* Bounds a backend may rely on (reg_sqlite.c builds its range from them). */
	if ((q->after != NULL && strlen(q->after) > SC_DEVICE_ID_MAX) ||
	    (q->id_prefix != NULL && strlen(q->id_prefix) > SC_DEVICE_ID_MAX))
		return sc_fail(SC_ERR_USAGE, "a cursor or prefix longer than a device ID");
	if (reg->be->device_page == NULL)
		return missing(reg, "device pages");
	return reg->be->device_page(reg, q, cb, ctx, more);
}

sc_err sc_reg_profile_list(struct sc_reg *reg, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_profile_rec *p), void *ctx)
{
	if (reg->be->profile_list == NULL)
		return missing(reg, "profile lists");
	return reg->be->profile_list(reg, device_id, limit, cb, ctx);
}

sc_err sc_reg_audit_add(struct sc_reg *reg, int64_t now, const char *actor, const char *event,
    const char *device_id, const char *detail)
{
	sc_err r;

	if ((r = check_note("audit detail", detail)) != SC_OK)
		return r;
	if (reg->be->audit_add == NULL)
		return missing(reg, "audit rows of their own");
	return reg->be->audit_add(reg, now, actor, event, device_id, detail);
}

/* ---- the console's (issue 18) ---- */

/* 1 if s is exactly SC_REG_SESSION_HEX lower-case hex digits. */
static int is_hex64(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == SC_REG_SESSION_HEX;
}

sc_err sc_reg_session_put(struct sc_reg *reg, const char *id_hash, const struct sc_reg_session *s,
    int64_t now)
{
	size_t n = strnlen(s->operator_name, sizeof(s->operator_name));

	if (!is_hex64(id_hash) || !is_hex64(s->csrf))
		return sc_fail(SC_ERR_USAGE,
		    "session: the ID hash and CSRF token are 64 hex digits");
	if (n == 0 || n > SC_REG_OPERATOR_MAX)
		return sc_fail(SC_ERR_USAGE, "session: operator name 1..%d bytes",
		    SC_REG_OPERATOR_MAX);
	if (s->expires_at <= now)
		return sc_fail(SC_ERR_USAGE, "session: expires before it starts");
	if (reg->be->session_put == NULL)
		return missing(reg, "console sessions");
	return reg->be->session_put(reg, id_hash, s, now);
}

sc_err sc_reg_session_get(struct sc_reg *reg, const char *id_hash, int64_t now,
    struct sc_reg_session *out)
{
	memset(out, 0, sizeof(*out));
	if (!is_hex64(id_hash))
		return sc_fail(SC_ERR_NOT_FOUND, "no such session");
	if (reg->be->session_get == NULL)
		return missing(reg, "console sessions");
	return reg->be->session_get(reg, id_hash, now, out);
}

sc_err sc_reg_session_end(struct sc_reg *reg, const char *id_hash)
{
	if (!is_hex64(id_hash))
		return SC_OK;
	if (reg->be->session_end == NULL)
		return missing(reg, "console sessions");
	return reg->be->session_end(reg, id_hash);
}

sc_err sc_reg_fleet(struct sc_reg *reg, int64_t now, size_t hours, struct sc_reg_fleet *out)
{
	memset(out, 0, sizeof(*out));
	if (hours < 1 || hours > SC_REG_HOURS_MAX)
		return sc_fail(SC_ERR_USAGE, "hours %zu: 1..%d", hours, SC_REG_HOURS_MAX);
	out->hours = hours;
	out->start = (now / 3600 - (int64_t)hours + 1) * 3600;
	if (reg->be->fleet == NULL)
		return missing(reg, "fleet counts");
	return reg->be->fleet(reg, now, hours, out);
}

sc_err sc_reg_audit_page(struct sc_reg *reg, const struct sc_reg_audit_query *q,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx, int *more)
{
	*more = 0;
	if (q->limit < 1 || q->limit > SC_REG_AUDIT_PAGE_MAX)
		return sc_fail(SC_ERR_USAGE, "limit %zu: 1..%d audit rows in a page", q->limit,
		    SC_REG_AUDIT_PAGE_MAX);
	if ((q->event != NULL && strlen(q->event) > SC_REG_EVENT_MAX) ||
	    (q->actor != NULL && strlen(q->actor) >= SC_REG_ACTOR_MAX) ||
	    (q->device_id != NULL && strlen(q->device_id) > SC_DEVICE_ID_MAX))
		return sc_fail(SC_ERR_USAGE, "an audit filter longer than its field");
	if (reg->be->audit_page == NULL)
		return missing(reg, "audit pages");
	return reg->be->audit_page(reg, q, cb, ctx, more);
}

/* ---- the device's pin, and activation with it (issue 17, act8) ---- */

sc_err sc_reg_pin_hashes(const struct sc_reg_der *chain, int n, const struct sc_reg_der *kek,
    X509 *mfr_root, struct sc_reg_pin *out)
{
	uint8_t md[32];
	unsigned mdlen = 0;

	memset(out, 0, sizeof(*out));
	if (chain == NULL || n < 1 || kek == NULL || mfr_root == NULL)
		return sc_fail(SC_ERR_USAGE, "a device pin needs a chain, a KEK and a root");
	if (!X509_digest(mfr_root, EVP_sha256(), md, &mdlen) || mdlen != 32) {
		ERR_clear_error();
		return sc_fail(SC_ERR_INTERNAL, "cannot hash a certificate");
	}
	return sc_reg_pin_hashes_rooted(chain, n, kek, md, out);
}

sc_err sc_reg_pin_hashes_rooted(const struct sc_reg_der *chain, int n, const struct sc_reg_der *kek,
    const uint8_t root_sha256[32], struct sc_reg_pin *out)
{
	uint8_t md[32], path[(SC_REG_PIN_CHAIN_MAX + 1) * 32];

	memset(out, 0, sizeof(*out));
	if (chain == NULL || n < 1 || kek == NULL || root_sha256 == NULL)
		return sc_fail(SC_ERR_USAGE, "a device pin needs a chain, a KEK and a root");
	if (n > SC_REG_PIN_CHAIN_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%d certificates in the device's chain, at most %d",
		    n, SC_REG_PIN_CHAIN_MAX);
	/*
	 * Each certificate's SHA-256 is its part of the path hash; only chain[0]'s is kept apart.
	 * enroll15b: the device CA's issuers (a maker's CA, the same bytes in every device's pin)
	 * through the memo of the last bytes hashed (sc_fast_sha256_memo: the same digest).
	 */
	for (int i = 0; i <= n; i++) {
		const struct sc_reg_der *d = i < n ? &chain[i] : kek;

		if (i > 0 && i < n ? !sc_fast_sha256_memo(d->der, d->len, path + 32 * i)
		                   : !EVP_Digest(d->der, d->len, path + 32 * i, NULL,
		                         sc_fast_sha256(), NULL)) {
			ERR_clear_error();
			return sc_fail(SC_ERR_INTERNAL, "cannot hash a certificate");
		}
	}
	sc_hex(path, 32, out->ca_sha256);
	sc_hex(path + 32 * n, 32, out->kek_sha256);
	sc_hex(root_sha256, 32, out->root_sha256);
	if (!EVP_Digest(path, 32 * ((size_t)n + 1), md, NULL, sc_fast_sha256(), NULL)) {
		ERR_clear_error();
		return sc_fail(SC_ERR_INTERNAL, "cannot hash the device path");
	}
	sc_hex(md, 32, out->path_sha256);
	return SC_OK;
}

sc_err sc_reg_pin_of(STACK_OF(X509) *chain, X509 *kek, X509 *mfr_root, struct sc_reg_pin *out)
{
	struct sc_reg_der der[SC_REG_PIN_CHAIN_MAX + 1];
	uint8_t *enc[SC_REG_PIN_CHAIN_MAX + 1] = { 0 }, *p;
	int n, len;
	sc_err r = SC_OK;

	memset(out, 0, sizeof(*out));
	if (chain == NULL || (n = sk_X509_num(chain)) < 1 || kek == NULL || mfr_root == NULL)
		return sc_fail(SC_ERR_USAGE, "a device pin needs a chain, a KEK and a root");
	if (n > SC_REG_PIN_CHAIN_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%d certificates in the device's chain, at most %d",
		    n, SC_REG_PIN_CHAIN_MAX);
	/* The DER each X509 encodes to (its cached encoding when it was parsed): the same bytes. */
	for (int i = 0; i <= n; i++) {
		len = i2d_X509(i < n ? sk_X509_value(chain, i) : kek, &enc[i]);
		if (len <= 0) {
			ERR_clear_error();
			r = sc_fail(SC_ERR_INTERNAL, "cannot encode a certificate");
			goto out;
		}
		der[i].der = enc[i];
		der[i].len = (size_t)len;
	}
	if ((r = sc_reg_pin_hashes(der, n, &der[n], mfr_root, out)) != SC_OK)
		goto out;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(sk_X509_value(chain, 0)), NULL);
	if (len <= 0 || (size_t)len > sizeof(out->spki)) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_OVERSIZE, "the device CA's key is too large");
		goto out;
	}
	p = out->spki;
	if (i2d_X509_PUBKEY(X509_get_X509_PUBKEY(sk_X509_value(chain, 0)), &p) != len) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_INTERNAL, "cannot encode the device CA's key");
		goto out;
	}
	out->spki_len = (size_t)len;
out:
	for (int i = 0; i <= SC_REG_PIN_CHAIN_MAX; i++)
		OPENSSL_free(enc[i]);
	if (r != SC_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

/* The caller's iterator seen as the backend's rows, each checked on its way through. */
struct activation_rows {
	sc_reg_next_activation next;
	void *ctx;
	int import;
	const char *source;
};

static sc_err activation_row(void *ctx, struct sc_reg_row *row, int *more)
{
	struct activation_rows *ar = ctx;
	struct sc_reg_activation a;
	sc_err r;

	memset(&a, 0, sizeof(a));
	memset(row, 0, sizeof(*row));
	if ((r = ar->next(ar->ctx, &a, more)) != SC_OK || !*more)
		return r;
	if (!sc_device_id_valid(a.device_id))
		return sc_fail(ar->import ? SC_ERR_MALFORMED : SC_ERR_USAGE,
		    "%s:%zu: device ID '%.64s' is not 1..64 PrintableString characters", ar->source,
		    a.line, a.device_id != NULL ? a.device_id : "");
	if ((r = check_note("note", a.note)) != SC_OK)
		return r;
	row->device_id = a.device_id;
	row->note = a.note;
	row->line = a.line;
	row->pin = a.pin;
	return SC_OK;
}

/*
 * s cut to at most max bytes without splitting a UTF-8 character (the details carry "…"; a
 * PostgreSQL text column refuses half of one).
 */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

sc_err sc_reg_devices_activate(struct sc_reg *reg, sc_reg_next_activation next, void *ctx,
    int import, const char *source, const char *actor, int64_t now, size_t *added, size_t *skipped)
{
	struct activation_rows ar = { next, ctx, import != 0, source != NULL ? source : "" };
	char refused[SC_DEVICE_ID_MAX + 1] = "", why[2 * SC_REG_NOTE_MAX + 64],
	                                detail[SC_REG_NOTE_MAX];
	sc_err r;

	*added = *skipped = 0;
	r = reg->be->activate_rows(reg, activation_row, &ar, ar.import, ar.source, actor, now,
	    added, skipped, refused);
	if (r != SC_ERR_PIN_MISMATCH || refused[0] == '\0')
		return r;
	/*
	 * Refused and rolled back: the attempt is still on record, as provd records a request
	 * that showed another device CA (its own transaction; the refusal is the answer either
	 * way, so a failure to audit is not reported over it).
	 */
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	snprintf(why, sizeof(why), "refused at activation (%s): %s", ar.source, detail);
	utf8_cut(why, SC_REG_NOTE_MAX);
	if (reg->be->audit_add(reg, now, actor, "device-ca-changed", refused, why) != SC_OK)
		sc_err_clear();
	return sc_fail(SC_ERR_PIN_MISMATCH, "%s", detail);
}
