// SPDX-License-Identifier: Apache-2.0
/*
 * registry.h — the provisioning server's device registry: the devices, the profiles issued, the
 * certificates returned, the revocations and an append-only audit log, behind one interface
 * whatever the database. The --db location picks the backend (sc_reg_open): a file path is
 * SQLite (reg_sqlite.c: WAL, busy timeout, versioned migrations through PRAGMA user_version), a
 * libpq URI PostgreSQL (reg_pg.c: several provd nodes on one database; row locks and unique
 * constraints decide races, migrations under an advisory lock).
 *
 * Shared by selfcert-provd and the `selfcert net device` commands. Every write that matters runs
 * in one transaction that also appends its audit row, so a crash at any moment leaves the old
 * state or the new one. One struct sc_reg is one connection: use it from one thread at a time
 * (the server keeps one per worker).
 */
#ifndef SC_REGISTRY_H
#define SC_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>
#include <openssl/x509.h>

#define SC_REG_SOURCE_MAX 64         /* a client address as text (IPv6: 45) */
#define SC_REG_SCHEMA_VERSION 10     /* the newest schema this program knows */
#define SC_REG_BUSY_TIMEOUT_MS 10000 /* wait this long for another writer before "busy" */
#define SC_REG_NOTE_MAX 256          /* operator's note / revocation reason, bytes */
#define SC_REG_ACTOR_MAX 80          /* who did it, in the audit log */
#define SC_REG_ID_HEX_LEN (2 * SC_PROFILE_ID_LEN)
#define SC_REG_FPR_HEX_LEN 64    /* SHA-256 of the certificate DER */
#define SC_REG_SERIAL_HEX_MAX 64 /* our leaves have 16-byte serials; room for 32 */
#define SC_REG_CHALLENGE_HEX_MAX (2 * SC_CHALLENGE_MAX)
#define SC_REG_CSV_LINE_MAX 512      /* an activation-feed line longer than this is refused */
#define SC_REG_CSV_MAX_LINES 1000000 /* one import is one transaction: bound it */
#define SC_REG_ADD_MAX 1024          /* IDs in one sc_reg_devices_add; more: the CSV import */

enum sc_reg_dev_status {
	SC_REG_DEV_ACTIVE = 1,  /* activated: may be given profiles */
	SC_REG_DEV_REVOKED = 2, /* for good: refused everything */
};

/* "active" / "revoked" / "unknown". */
const char *sc_reg_dev_status_name(enum sc_reg_dev_status s);

struct sc_reg;

/*
 * Open the registry at location (the --db value) and bring its schema up to
 * SC_REG_SCHEMA_VERSION, one migration per transaction. location is a file path: SQLite, made
 * (0600) if missing and create is set, in WAL mode with the busy timeout and foreign keys on.
 * "postgresql://…" and "postgres://…" name a PostgreSQL server (libpq URI): SC_ERR_USAGE in a
 * build without that backend, for a URI that does not parse, or for one holding a password
 * (libpq's PGPASSFILE or service file hold it); the details never repeat the location. On
 * PostgreSQL an empty database is a missing registry (made only if create), an older schema is
 * migrated under an advisory lock (several nodes may start at once), a newer one is used while
 * its min_compatible admits this program (a rolling upgrade); a role without DDL rights on an
 * older schema gets SC_ERR_VERSION naming `selfcert net db migrate`.
 * SC_ERR_IO if the registry cannot be opened (or is missing and !create) or is not a registry,
 * SC_ERR_VERSION if its schema is newer than this program. *out is the caller's (sc_reg_close).
 * PostgreSQL: a connection lost between operations is made again by the next one; one lost
 * inside an operation fails it with SC_ERR_IO ("connection lost, nothing written", or "outcome
 * unknown" at COMMIT: the API's idempotency makes the client's retry safe).
 */
sc_err sc_reg_open(const char *location, int create, struct sc_reg **out) SC_MUST_USE;
void sc_reg_close(struct sc_reg *reg); /* NULL is fine */

/*
 * The backend a location selects, without opening anything: *name = "sqlite" for a file path;
 * SC_ERR_USAGE (as sc_reg_open) for a kind this build has no backend for. *name is static.
 */
sc_err sc_reg_location_backend(const char *location, const char **name) SC_MUST_USE;

/* The backend of an open registry: "sqlite" or "postgresql". */
const char *sc_reg_backend_name(const struct sc_reg *reg);

/* The schema version of the open registry (SQLite: PRAGMA user_version); -1 if unreadable. */
int sc_reg_schema_version(struct sc_reg *reg);

/* The oldest program schema version the registry still admits (SQLite: its version); -1. */
int sc_reg_schema_min_compatible(struct sc_reg *reg);

/*
 * 1 if this program may serve from the registry now: its schema is SC_REG_SCHEMA_VERSION, or
 * newer with min_compatible <= SC_REG_SCHEMA_VERSION (another node's upgrade has migrated).
 */
int sc_reg_schema_usable(struct sc_reg *reg);

/*
 * PostgreSQL: give role (the runtime role provd and `net device` connect as) what it needs on
 * the registry and no more — no DDL, no UPDATE/DELETE/TRUNCATE of the audit log, revocations or
 * certificates. Run by the owner role (`selfcert net db migrate --grant ROLE`). SC_ERR_USAGE on
 * SQLite (file permissions are its access control).
 */
sc_err sc_reg_grant(struct sc_reg *reg, const char *role) SC_MUST_USE;

struct sc_reg_device {
	char device_id[SC_DEVICE_ID_MAX + 1];
	enum sc_reg_dev_status status;
	char note[SC_REG_NOTE_MAX + 1];
	int64_t created_at, updated_at;
	int64_t n_profiles, n_certs; /* profiles issued, certificates registered */
	int64_t revoked_at;          /* 0 unless revoked */
	char revoke_reason[SC_REG_NOTE_MAX + 1];
	int has_cert; /* the newest registered certificate: */
	char cert_serial[SC_REG_SERIAL_HEX_MAX + 1];
	char cert_fpr[SC_REG_FPR_HEX_LEN + 1];
	char cert_profile_id[SC_REG_ID_HEX_LEN + 1];
	int64_t cert_not_before, cert_not_after, cert_registered_at;
};

/*
 * Device IDs are compared as OpenSSL compares names (X509_NAME_cmp, and the device CA's name
 * constraints): ASCII letters in lower case, leading and trailing spaces dropped, every run of
 * spaces one space (a device ID has no other white space). Two IDs with the same key are one
 * device to every relying party, so the registry holds at most one of them. out gets the key
 * of id (at most as long as id).
 */
void sc_reg_device_id_key(const char *id, char out[SC_DEVICE_ID_MAX + 1]);

/* 1 if a and b are the same device ID under sc_reg_device_id_key. */
int sc_reg_device_ids_same(const char *a, const char *b);

/*
 * The checks of sc_reg_devices_add that need no database: n in 1..SC_REG_ADD_MAX, each ID valid
 * (sc_device_id_valid), none given twice, exactly or under sc_reg_device_id_key. SC_ERR_USAGE
 * naming --device-id. A caller runs them
 * before it opens (and perhaps creates) a registry, so a refused list leaves no file behind.
 */
sc_err sc_reg_device_ids_check(const char *const *ids, size_t n) SC_MUST_USE;

/*
 * Activate devices: all of ids[0..n) in one transaction, or none. Each ID must be
 * sc_device_id_valid (SC_ERR_USAGE "--device-id 'ID': …"), appear once in the list
 * (SC_ERR_USAGE "--device-id ID given twice", or "… is … again" for another spelling of one
 * key) and not be registered yet (SC_ERR_EXISTS "device ID is already registered (STATUS)"),
 * nor under another spelling of its key (SC_ERR_EXISTS "device ID is already registered as
 * OTHER (STATUS) …"); the registered check runs inside the transaction, so a
 * concurrent writer cannot slip one in between. note (may be NULL, at most SC_REG_NOTE_MAX
 * bytes) goes to each. 1 <= n <= SC_REG_ADD_MAX. Nothing is written on any error.
 */
sc_err sc_reg_devices_add(struct sc_reg *reg, const char *const *ids, size_t n, const char *note,
    const char *actor, int64_t now) SC_MUST_USE;

/* One device: sc_reg_devices_add with a list of one. */
sc_err sc_reg_device_add(struct sc_reg *reg, const char *device_id, const char *note,
    const char *actor, int64_t now) SC_MUST_USE;

/*
 * Revoke a device for good (status, a revocations row, audit). *already = 1 (and nothing
 * written) if it was revoked before. SC_ERR_NOT_FOUND if unknown.
 */
sc_err sc_reg_device_revoke(struct sc_reg *reg, const char *device_id, const char *reason,
    const char *actor, int64_t now, int *already) SC_MUST_USE;

/* One device with its counts and newest certificate. SC_ERR_NOT_FOUND if unknown. */
sc_err sc_reg_device_get(struct sc_reg *reg, const char *device_id,
    struct sc_reg_device *out) SC_MUST_USE;

/* Every device (status 0: all), in device ID order; cb returns non-zero to stop. */
sc_err sc_reg_device_list(struct sc_reg *reg, enum sc_reg_dev_status status,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx) SC_MUST_USE;

/*
 * One page of devices for an operator's list (provd's GET /v1/operator/devices): filters, and
 * a keyset cursor so that a page is as cheap deep in the registry as at its start and no device
 * is skipped or repeated when others are added between pages.
 */
#define SC_REG_PAGE_MAX 500 /* devices in one page */
struct sc_reg_query {
	enum sc_reg_dev_status status; /* 0: any */
	const char *id_prefix;         /* NULL: any; else device IDs beginning with these bytes */
	int64_t expiring_before;       /* 0: any; else the newest certificate's notAfter < this */
	const char *after; /* NULL: from the first; else device IDs > this (the cursor) */
	size_t limit;      /* 1..SC_REG_PAGE_MAX */
};

/*
 * The devices matching q in device ID order (byte order), at most q->limit, each to cb (non-zero
 * stops). *more is 1 if a device past the page matches (the next page: after = the last ID
 * given). SC_ERR_USAGE for a limit out of range, or a cursor or prefix over SC_DEVICE_ID_MAX
 * bytes.
 */
sc_err sc_reg_device_page(struct sc_reg *reg, const struct sc_reg_query *q,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx, int *more) SC_MUST_USE;

/*
 * The activation feed from memory (an operator's upload): as sc_reg_import_csv, source naming
 * it in the details ("upload:LINE: …"). A NUL byte in the text is refused as a bad line.
 */
sc_err sc_reg_import_csv_text(struct sc_reg *reg, const char *text, size_t len, const char *source,
    const char *actor, int64_t now, size_t *added, size_t *skipped) SC_MUST_USE;

/*
 * The activation feed: a CSV file, one device per line, `device_id[,note]`; an optional first
 * line `device_id[,note]` (the header); blank lines and lines starting with '#' are skipped;
 * CR LF accepted. Notes may be double-quoted ("" for a quote). All or nothing: one transaction;
 * any bad line (ID invalid, too long, a duplicate within the file — exactly or under
 * sc_reg_device_id_key —, more than two fields, an ID registered under another spelling of its
 * key) refuses the whole file with SC_ERR_MALFORMED naming path:line. Devices already
 * registered with exactly that ID are left as they are (a revoked one stays revoked) and
 * counted in *skipped.
 */
sc_err sc_reg_import_csv(struct sc_reg *reg, const char *path, const char *actor, int64_t now,
    size_t *added, size_t *skipped) SC_MUST_USE;

/* A profile as the registry keeps it. der and chain_pem are owned (sc_reg_profile_rec_clear). */
struct sc_reg_profile_rec {
	char profile_id[SC_REG_ID_HEX_LEN + 1];
	char device_id[SC_DEVICE_ID_MAX + 1];
	char challenge[SC_REG_CHALLENGE_HEX_MAX + 1]; /* "" if none */
	/*
	 * "": an authenticated request (a valid request proof from the device's SP), counted in
	 * its device's budget. Otherwise the client address of an unauthenticated one, counted in
	 * that address's budget and never in the device's (schema 3). Not read back by
	 * sc_reg_profile_get.
	 */
	char source[SC_REG_SOURCE_MAX + 1];
	enum sc_key_origin origin;
	enum sc_alg alg;
	int64_t not_before, not_after, profile_not_after, created_at;
	int64_t consumed_at; /* 0: not consumed */
	uint8_t *der;
	size_t der_len;
	char *chain_pem; /* the device's chain as it sent it */
	/*
	 * NULL, or the pin the device's request proved (issue 17): sc_reg_profile_insert adds it in
	 * the profile's transaction when the device has none under its root, and refuses the
	 * profile with SC_ERR_PIN_MISMATCH when the device's pin names another device CA or KEK.
	 */
	const struct sc_reg_pin *pin;
	/*
	 * flood19: sc_reg_profile_recover only: 1, its refusal (SC_ERR_PIN_MISMATCH) writes no
	 * device-ca-changed row (provd's limiter wrote one for the device in its window). 0: it
	 * does, as every other caller's.
	 */
	int pin_audit_quiet;
	/*
	 * 1: sc_reg_profile_insert may return before the profile's commit reached the disk
	 * (selfcert-provd --profile-commit deferred, issue 17): the registry's next durable commit,
	 * normally the device's certificate registration, carries it to the disk (SQLite's WAL is
	 * written in order and synced whole; PostgreSQL flushes its WAL up to the later commit).
	 * A crash of the process loses nothing; a power loss or OS crash can lose the profiles
	 * (with their pins and audit rows) acknowledged since the last durable commit. 0: durable.
	 */
	int deferred_commit;
};
void sc_reg_profile_rec_clear(struct sc_reg_profile_rec *rec);

/*
 * A device's pin (schema 5, issue 17): the SHA-256 (lower-case hex) of the device CA and KEK
 * certificates verified at its first contact, of the whole path the request showed (chain then
 * KEK, each DER in order) and of the manufacturer root it was verified under, with the device
 * CA's SubjectPublicKeyInfo (DER, <= SC_REG_SPKI_MAX). A pin never changes: the registry refuses
 * UPDATE and DELETE of one. A device verified under another root gets one more pin with the
 * same ca/kek hashes; any other ca/kek is SC_ERR_PIN_MISMATCH.
 */
#define SC_REG_SPKI_MAX 4096
struct sc_reg_pin {
	char ca_sha256[65], kek_sha256[65], path_sha256[65], root_sha256[65];
	uint8_t spki[SC_REG_SPKI_MAX];
	size_t spki_len;
	int64_t pinned_at;
	/*
	 * Schema 8: the strict chain verdict its writer recorded, sc_chain_verdict's answer
	 * (src/lib/fast/leaf_ref.h: the version of the strict rules the chain passed, 0 = none
	 * recorded or not passed; pins of older schemas and writers read 0). Written with a new
	 * pin, read back with it; a reader takes it only when it equals its own sc_chain_rules().
	 */
	uint32_t chain_verdict;
};

/*
 * The pin of device_id: *found 0 (and SC_OK) when it has none; *root_match 1 when it has one
 * under root_sha256 (then out is that one), else out is another root's (its ca/kek hashes are
 * the device's all the same).
 */
sc_err sc_reg_pin_get(struct sc_reg *reg, const char *device_id, const char *root_sha256,
    struct sc_reg_pin *out, int *found, int *root_match) SC_MUST_USE;

/*
 * At most `max` profiles in any `window_s` seconds (max 0: no limit): per device for
 * authenticated requests, per source address for unauthenticated ones (rec->source).
 */
struct sc_reg_rate {
	uint32_t max;
	int64_t window_s;
};

/*
 * Record a signed profile, in one transaction: the device is registered (SC_ERR_UNKNOWN_DEVICE)
 * and active (SC_ERR_REVOKED), issued fewer than rate->max profiles since now - window
 * (SC_ERR_RATE_LIMITED; counting the device's authenticated profiles when rec->source is "",
 * else the profiles of unauthenticated requests from rec->source), the challenge (if any) was never used (SC_ERR_REPLAY); then insert and
 * audit. A refusal writes nothing; SC_ERR_IO if the database fails or stays busy.
 * rec->created_at is set to now. *retry_after: for SC_ERR_RATE_LIMITED, seconds until a slot
 * frees.
 */
sc_err sc_reg_profile_insert(struct sc_reg *reg, struct sc_reg_profile_rec *rec,
    const struct sc_reg_rate *rate, int64_t now, const char *actor,
    int64_t *retry_after) SC_MUST_USE;

/*
 * The checks of sc_reg_profile_insert before any signing (so a refused device costs no
 * signature): device registered and active, rate, challenge unused; the same codes.
 * Read-only; sc_reg_profile_insert checks again inside its transaction.
 */
sc_err sc_reg_profile_precheck(struct sc_reg *reg, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now,
    int64_t *retry_after) SC_MUST_USE;

/*
 * A verdict kept for later (sc_reg_profile_lookup): what sc_reg_profile_precheck would have
 * returned (r), its detail as sc_err_detail() would have read, and its *retry_after.
 */
struct sc_reg_precheck {
	sc_err r;
	int64_t retry_after;
	char detail[256];
};

/*
 * What a profile request needs from the registry before it signs (issue 17, req9): device_id's
 * pin under root_sha256 (out, *found and *root_match exactly as sc_reg_pin_get gives them) and
 * the verdict of sc_reg_profile_precheck(device_id, challenge, source, rate, now) into *pre, read
 * together: one statement on either backend (one read transaction on SQLite, one round trip and
 * one snapshot on PostgreSQL) where the two calls took two or more. The verdict is kept, not
 * returned, so that the caller reports it where a request meets the pre-check (selfcert-provd:
 * after the request proof, whose failure comes first) with its code and detail unchanged
 * (sc_fail(pre->r, "%s", pre->detail)). Read-only advice, as the pre-check is:
 * sc_reg_profile_insert checks everything again inside its transaction. SC_OK when both were
 * read; SC_ERR_USAGE for a root_sha256 that is not 64 characters; SC_ERR_IO. out and *pre are
 * zeroed first.
 */
sc_err sc_reg_profile_lookup(struct sc_reg *reg, const char *device_id, const char *root_sha256,
    const char *challenge, const char *source, const struct sc_reg_rate *rate, int64_t now,
    struct sc_reg_pin *out, int *found, int *root_match, struct sc_reg_precheck *pre) SC_MUST_USE;

/* A profile by its hex ID (lower case). SC_ERR_NOT_FOUND if none. *out owns its buffers. */
sc_err sc_reg_profile_get(struct sc_reg *reg, const char *profile_id,
    struct sc_reg_profile_rec *out) SC_MUST_USE;

/*
 * A device's profiles, newest first (at most limit, 0: all); the records' der and chain_pem
 * are NULL (borrowed for the callback only). cb returns non-zero to stop.
 */
sc_err sc_reg_profile_list(struct sc_reg *reg, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_profile_rec *p), void *ctx) SC_MUST_USE;

struct sc_reg_cert_rec {
	char fpr[SC_REG_FPR_HEX_LEN + 1];
	char serial[SC_REG_SERIAL_HEX_MAX + 1];
	char device_id[SC_DEVICE_ID_MAX + 1];
	char profile_id[SC_REG_ID_HEX_LEN + 1];
	int64_t not_before, not_after, registered_at;
	const uint8_t *der; /* borrowed on record; NULL when listed */
	size_t der_len;
	/*
	 * #17: a renewal profile's certificates share its profile ID, one per period (0..1023).
	 * renewal 0: an ordinary profile (period 0, one certificate). Set by the caller on record
	 * from the profile it verified the certificate against.
	 */
	int renewal;
	uint32_t period;
	/*
	 * crl15: set on record from the statement that reads the profile's row (no statement of
	 * its own): the nextUpdate of the device CA CRL the registry keeps for the device
	 * (sc_reg_crl_put), -1 if it keeps none; 0 not read (a listing; PostgreSQL's record of a
	 * recovered profile, sc_reg_profile_recover; crl15b: a PostgreSQL role that may not read
	 * device_crls, granted before schema 4). What provd tells the agent, so that one
	 * restored from an older backup is sent the device's CRL again.
	 */
	int64_t crl_next_update;
};

/*
 * Record a returned certificate and consume its profile, in one transaction: the profile exists
 * (SC_ERR_PROFILE_UNKNOWN) and is the device's (SC_ERR_DEVICE_MISMATCH), the device is active
 * (SC_ERR_REVOKED); if the profile is already consumed, the very same certificate (by
 * fingerprint) makes this an idempotent success with *already = 1, any other is
 * SC_ERR_PROFILE_CONSUMED. A refusal writes nothing. rec->registered_at is set to now.
 * A renewal profile (rec->renewal, #17) takes one certificate per period: the same one again is
 * *already = 1, another for a period that has one SC_ERR_PROFILE_CONSUMED.
 */
sc_err sc_reg_cert_record(struct sc_reg *reg, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already) SC_MUST_USE;

/* One certificate's outcome in sc_reg_cert_record_many: r and its detail, as one call gives. */
struct sc_reg_cert_outcome {
	sc_err r;
	int already;
	char detail[256];
};

/*
 * #17: n records (1..SC_REG_RECORD_MANY_MAX), each judged and written as sc_reg_cert_record
 * would, in order, out[i] its outcome; durable together in one transaction on both backends
 * (session 8: SQLite inside the group's commit, PostgreSQL pipelined), where a refused one
 * writes nothing and leaves the others and a failure of the database fails them all; a
 * PostgreSQL batch whose guarded writes meet what its reads could not see is redone one
 * transaction per record. SC_OK when every record has its outcome in out; SC_ERR_USAGE for n
 * out of range.
 */
#define SC_REG_RECORD_MANY_MAX 256
sc_err sc_reg_cert_record_many(struct sc_reg *reg, struct sc_reg_cert_rec *recs, size_t n,
    int64_t now, const char *actor, struct sc_reg_cert_outcome *out) SC_MUST_USE;

/*
 * #17 (dur11): a certificate whose profile the registry lost, recorded with that profile. With
 * `--profile-commit deferred` a power loss can lose a profile row provd answered; the device's
 * agent then sends the profile back with its certificate, and provd, having checked that it
 * signed it and that the certificate is bound to it, calls this. In one durable transaction
 * (never deferred): the device is registered (SC_ERR_UNKNOWN_DEVICE) and active
 * (SC_ERR_REVOKED); then, if no row for prof->profile_id exists, prof is inserted (created_at
 * and its consumption now; its challenge's UNIQUE refuses a challenge another profile holds:
 * SC_ERR_REPLAY), audited `profile-recovered`, and cert recorded as sc_reg_cert_record records
 * it (which consumes the profile), *recovered = 1. If the row exists (another request recovered
 * it meanwhile, or it was never lost), nothing of prof is written and cert is recorded exactly
 * as sc_reg_cert_record would record it (*already, and its refusals), *recovered = 0. A refusal
 * writes nothing. prof->pin: NULL, or the device CA the chain sent names (only its ca_sha256 is
 * read): if the device has a pin under any root naming another device CA, SC_ERR_PIN_MISMATCH,
 * read inside the transaction (after the device row's lock on PostgreSQL), so a pin made
 * between the caller's check and the write is seen; no pin is made; after the rollback, one
 * device-ca-changed audit row of its own for the device (fix17, as sc_reg_devices_activate
 * writes), unless prof->pin_audit_quiet (flood19: provd writes it, bounded). prof->deferred_commit is
 * ignored; prof->source must be "" (an
 * authenticated profile: counted in its device's budget). cert->profile_id and device_id must be
 * prof's (SC_ERR_USAGE), and cert not a renewal period (SC_ERR_USAGE: renewal profiles are not
 * recovered).
 */
sc_err sc_reg_profile_recover(struct sc_reg *reg, struct sc_reg_profile_rec *prof,
    struct sc_reg_cert_rec *cert, int64_t now, const char *actor, int *recovered,
    int *already) SC_MUST_USE;

/* A device's certificates, newest first (at most `limit`, 0: all). */
sc_err sc_reg_cert_list(struct sc_reg *reg, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_cert_rec *c), void *ctx) SC_MUST_USE;

/* The DER of a registered certificate by fingerprint. *der is the caller's (OPENSSL_free). */
sc_err sc_reg_cert_der(struct sc_reg *reg, const char *fpr, uint8_t **der, size_t *len) SC_MUST_USE;

struct sc_reg_audit_rec {
	int64_t seq, at;
	const char *actor, *event, *device_id, *detail; /* borrowed for the callback only */
};

/* The audit log (one device's, or all with device_id NULL), oldest first, the last `limit`. */
sc_err sc_reg_audit_list(struct sc_reg *reg, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx) SC_MUST_USE;

/*
 * Append one audit row of its own (an event with no other write: an operator's failed sign-in).
 * event is a short name ("operator-auth-failed"), device_id may be NULL, detail at most
 * SC_REG_NOTE_MAX bytes (SC_ERR_USAGE). SC_ERR_IO if the database fails.
 */
sc_err sc_reg_audit_add(struct sc_reg *reg, int64_t now, const char *actor, const char *event,
    const char *device_id, const char *detail) SC_MUST_USE;

/*
 * The audit log for an exporter, in commit order: the rows after *cur (zeroed to start), at
 * most limit (0: 1000), passed to cb; *cur moves past each. A row is never skipped however
 * concurrent writers' transactions commit (PostgreSQL: only rows of transactions older than
 * every one still running are passed on, ordered by transaction; SQLite has one writer at a
 * time, so its seq order is commit order). Call again until nothing comes.
 */
struct sc_reg_audit_cursor {
	int64_t a, b; /* opaque: PostgreSQL the (transaction, seq) pair, SQLite (0, seq) */
};
sc_err sc_reg_audit_follow(struct sc_reg *reg, struct sc_reg_audit_cursor *cur, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx) SC_MUST_USE;

struct sc_reg_counts {
	int64_t devices_active, devices_revoked;
	int64_t profiles, profiles_consumed, certificates, revocations, audit;
};
sc_err sc_reg_counts(struct sc_reg *reg, struct sc_reg_counts *out) SC_MUST_USE;

/*
 * Consistency (SQLite: PRAGMA quick_check and foreign_key_check; PostgreSQL: every consumed
 * profile has its certificate and no other has one): SC_ERR_STORE_DAMAGED, the detail naming the
 * first problem.
 */
sc_err sc_reg_check(struct sc_reg *reg) SC_MUST_USE;

/*
 * Issue 14 (schema 4): the newest device CA CRL each device sent (docs/FORMATS.md "Device CA
 * CRL"), checked by the caller (sc_crl_device_decode against the device's own CA certificate).
 */
#define SC_REG_CRL_MAX_DER 4096 /* SC_CRL_MAX_DER */
struct sc_reg_crl_rec {
	char device_id[SC_DEVICE_ID_MAX + 1];
	uint64_t number;     /* its cRLNumber, 1..2^63-1 */
	int64_t next_update; /* its nextUpdate, Unix seconds */
	const uint8_t
	    *der;       /* borrowed (on put: the caller's; listed: until the callback returns) */
	size_t der_len; /* 1..SC_REG_CRL_MAX_DER */
};

/*
 * Keep rec as its device's CRL if the device is registered and active and rec's number is above
 * the one kept, one statement; *stored 1 if it was kept, 0 if not (an older or equal number: a
 * late or replayed CRL changes nothing; or a device not active). SC_ERR_USAGE for a bad rec.
 */
sc_err sc_reg_crl_put(struct sc_reg *reg, const struct sc_reg_crl_rec *rec, int64_t now,
    int *stored) SC_MUST_USE;

/*
 * The kept CRLs of active devices whose next_update is after now, by device ID, at most limit
 * (0: all). A revoked device's CRL is never listed, nor an expired one.
 */
sc_err sc_reg_crl_list(struct sc_reg *reg, int64_t now, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_crl_rec *c), void *ctx) SC_MUST_USE;

/* ---- the operator's console (provd's /console/, issue 18) ---- */

/*
 * A console session, kept in the registry so that every provd node behind a load balancer knows
 * it and a sign-out ends it everywhere at once. The registry holds only the SHA-256 of the
 * session's cookie value (a reader of the database cannot take a session over) and the CSRF
 * token the console sends back on every change.
 */
#define SC_REG_SESSION_HEX 64 /* the session ID's SHA-256, and the CSRF token, as hex */
#define SC_REG_OPERATOR_MAX 32
struct sc_reg_session {
	char operator_name[SC_REG_OPERATOR_MAX + 1];
	char csrf[SC_REG_SESSION_HEX + 1];
	int64_t created_at, expires_at;
};

/*
 * Store a session under id_hash (64 lower-case hex), in one transaction that also drops every
 * session expired at now. SC_ERR_USAGE for a malformed hash, name or token; SC_ERR_EXISTS if the
 * hash is taken (a 256-bit random ID: never); SC_ERR_IO.
 */
sc_err sc_reg_session_put(struct sc_reg *reg, const char *id_hash, const struct sc_reg_session *s,
    int64_t now) SC_MUST_USE;

/* The session under id_hash if it is not expired at now; SC_ERR_NOT_FOUND otherwise. */
sc_err sc_reg_session_get(struct sc_reg *reg, const char *id_hash, int64_t now,
    struct sc_reg_session *out) SC_MUST_USE;

/* Forget the session under id_hash (sign-out). SC_OK when there is none. */
sc_err sc_reg_session_end(struct sc_reg *reg, const char *id_hash) SC_MUST_USE;

/*
 * The fleet at a glance (the console's overview): devices by status, active devices that never
 * registered a certificate, active devices whose newest certificate expires in [now, now + 24 h]
 * and [now, now + 7 d] or has expired, and profiles signed and certificates registered per hour
 * over the last `hours` hours (bucket i is the hour starting at start + 3600 i; the last bucket
 * holds now). One read; each count is an index range or a primary-key probe per row.
 */
#define SC_REG_HOURS_MAX 168 /* a week of hourly buckets */
struct sc_reg_fleet {
	int64_t devices_active, devices_revoked, never_enrolled;
	int64_t expiring_24h, expiring_7d, expired;
	int64_t start;
	size_t hours;
	int64_t profiles[SC_REG_HOURS_MAX], certificates[SC_REG_HOURS_MAX];
};

/* SC_ERR_USAGE for hours outside 1..SC_REG_HOURS_MAX; SC_ERR_IO. */
sc_err sc_reg_fleet(struct sc_reg *reg, int64_t now, size_t hours,
    struct sc_reg_fleet *out) SC_MUST_USE;

/*
 * One page of the audit log, newest first, for the console: exact event and device filters,
 * actor by its beginning ("operator alice" finds that operator's rows from every address), a
 * time range [since, until), and a keyset cursor (rows with seq < before), so a page costs the
 * same deep in a year of audit as at its top. *more is 1 if a row past the page matches.
 */
#define SC_REG_AUDIT_PAGE_MAX 1000
#define SC_REG_EVENT_MAX 64
struct sc_reg_audit_query {
	const char *event;     /* NULL: any */
	const char *actor;     /* NULL: any; else actors beginning with these bytes */
	const char *device_id; /* NULL: any */
	int64_t since, until;  /* 0: unbounded */
	int64_t before;        /* 0: from the newest; else seq < before */
	size_t limit;          /* 1..SC_REG_AUDIT_PAGE_MAX */
};

/* SC_ERR_USAGE for a limit out of range or a filter too long; SC_ERR_IO. */
sc_err sc_reg_audit_page(struct sc_reg *reg, const struct sc_reg_audit_query *q,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx, int *more) SC_MUST_USE;

/* ---- the device's pin computed once for provd and the operator; activation with it ---- */

/*
 * The pin a device's certificates make under mfr_root (issue 17): SHA-256 of the DER of
 * chain[0] (the device CA) into ca_sha256, of kek into kek_sha256, of mfr_root into
 * root_sha256, the path hash (SHA-256 over the SHA-256s of chain[0..n) then kek, in that order)
 * into path_sha256, and chain[0]'s SubjectPublicKeyInfo DER into spki; pinned_at 0. The one
 * computation of it: selfcert-provd pins a request's chain and KEK as the device sent them, the
 * activation (`net device add|import` with the device's certificates) the same files, so the
 * device's first request finds its pin byte for byte and takes provd's pinned path. Pure: no
 * verification here (sc_device_verify, selfcert/device.h, comes first). SC_ERR_USAGE for an
 * empty chain or a NULL kek or root, SC_ERR_OVERSIZE for more than SC_REG_PIN_CHAIN_MAX
 * certificates in the chain or an SPKI over SC_REG_SPKI_MAX bytes, SC_ERR_INTERNAL. out is
 * zeroed first.
 */
#define SC_REG_PIN_CHAIN_MAX 4 /* a device's chain as provd accepts it (PROVD_MAX_CHAIN) */
sc_err sc_reg_pin_of(STACK_OF(X509) *chain, X509 *kek, X509 *mfr_root,
    struct sc_reg_pin *out) SC_MUST_USE;

/*
 * sc_reg_pin_of's hashes from the certificates' DER as the device sends them (chain[0..n), kek:
 * borrowed bytes, not parsed here), with no X509 built: selfcert-provd's pinned path (prof8)
 * compares them before it parses anything. Hashes the same bytes sc_reg_pin_of does when the
 * X509s were parsed from this DER; spki is left empty (spki_len 0). out is zeroed first. The
 * same errors as sc_reg_pin_of.
 */
struct sc_reg_der {
	const uint8_t *der;
	size_t len;
};
sc_err sc_reg_pin_hashes(const struct sc_reg_der *chain, int n, const struct sc_reg_der *kek,
    X509 *mfr_root, struct sc_reg_pin *out) SC_MUST_USE;
/*
 * judge12: sc_reg_pin_hashes with the root's hash given, X509_digest(mfr_root, SHA-256) as the
 * caller computed it once (selfcert-provd at load: its root is never modified after), instead of
 * encoding the root again for every pin. The same hashes, checks and errors.
 */
sc_err sc_reg_pin_hashes_rooted(const struct sc_reg_der *chain, int n, const struct sc_reg_der *kek,
    const uint8_t root_sha256[32], struct sc_reg_pin *out) SC_MUST_USE;

/*
 * One device of an activation: its ID, note (NULL: none), the pin of its verified
 * certificates (NULL: activated without them, as ever) and where it came from (line: its CSV
 * line, 0 for `net device add`). Borrowed until the iterator's next call.
 */
struct sc_reg_activation {
	const char *device_id;
	const char *note;
	const struct sc_reg_pin *pin;
	size_t line;
};

/* The next device into *a, *more = 0 at the end; an error refuses the whole activation. */
typedef sc_err (*sc_reg_next_activation)(void *ctx, struct sc_reg_activation *a, int *more);

/*
 * Activate devices with their pins (issue 17, act8), all in one transaction or none.
 * import 0 is sc_reg_devices_add's rules (the IDs checked by sc_reg_device_ids_check first; a
 * registered device, under any spelling of its key, is SC_ERR_EXISTS); import 1 is the CSV
 * import's (source:line in the details: an ID twice is SC_ERR_MALFORMED, a registered device is
 * left as it is and counted in *skipped, one devices-imported audit row), except that a
 * registered device's pin is still checked and, if it has none under that root, added: this is
 * how an operator pins devices activated before. Every device inserted gets its device-added
 * audit row as ever. Each pin: added with a device-pinned audit row (the actor says the CLI
 * did it); kept if the device already has exactly it; SC_ERR_PIN_MISMATCH if the device has a
 * pin with another device CA or KEK (provd's device-ca-changed: never re-pinned), and then,
 * after the rollback, one device-ca-changed audit row of its own for the device, as provd
 * writes for a refused request. *added and *skipped are 0 on any error; SC_ERR_IO.
 */
sc_err sc_reg_devices_activate(struct sc_reg *reg, sc_reg_next_activation next, void *ctx,
    int import, const char *source, const char *actor, int64_t now, size_t *added,
    size_t *skipped) SC_MUST_USE;

/*
 * The activation feed's rows without a registry (so that each device's certificates can be
 * read and verified before the registry's transaction opens): each line's device ID, note and
 * line number to cb, with the checks of sc_reg_import_csv that need no database (format, IDs,
 * note size, SC_REG_CSV_MAX_LINES) and the same details; an ID twice is the registry's to
 * refuse. cb's error stops the walk and is returned. SC_ERR_IO if path cannot be read.
 */
sc_err sc_reg_csv_walk(const char *path,
    sc_err (*cb)(void *ctx, const char *device_id, const char *note, size_t line),
    void *ctx) SC_MUST_USE;

#endif
