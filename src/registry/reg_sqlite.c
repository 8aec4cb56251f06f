// SPDX-License-Identifier: Apache-2.0
/*
 * reg_sqlite.c — the registry's SQLite backend, and every SQL statement of the registry: schema
 * migrations, devices, profiles, certificates, revocations and the append-only audit log. Each
 * write that matters is one BEGIN IMMEDIATE transaction (so concurrent writers queue on the busy
 * timeout instead of failing on a lock upgrade), and the audit row is written inside it.
 * registry.c checks the arguments and forwards here through the table at the end (backend.h).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <openssl/crypto.h>
#include <selfcert/cert.h>
#include "registry.h"
#include "backend.h"
#include "wal_vfs.h"
#include "log.h"

/* 'SCRG': tells our registry apart from any other SQLite file handed to --db. */
#define PROVD_REG_APPLICATION_ID 0x53435247

/*
 * Prepared statements are kept per connection and reset between uses: a request runs the same
 * few statements every time, and compiling them again cost more than running them.
 */
#define REG_STMT_CACHE 32

struct reg_stmt {
	sqlite3_stmt *st;
	int busy; /* handed out, not yet done() */
};

struct reg_group;

struct sqlite_reg {
	struct sc_reg base; /* first: what registry.c sees */
	sqlite3 *db;
	char path[256];
	struct reg_stmt stmts[REG_STMT_CACHE];
	size_t n_stmts;
	struct reg_group *group; /* the file's group commit (issue 17); NULL: the writer itself */
	int in_batch;            /* the writer inside a batch: begin/commit are a savepoint */
	int sp_open;             /* that savepoint is open */
	int sync_normal; /* synchronous = NORMAL now (a deferred profile's commit); FULL otherwise */
	int wal_frames; /* the group's writer: frames in the WAL after its last commit (wal_hook) */
	int wal_next;   /* the group's writer: checkpoint when wal_frames reaches this (wal14) */
	int wal_level;  /* the group's writer: its next checkpoint's wait (wal_wait_limit) */
	int wal_ckpt;  /* the group's writer: frames copied back by its last cut-short one, or -1 */
	int wal_stuck; /* the group's writer: its last two cut short by one old snapshot */
	int wal_poor;  /* the group's writer: its budget could not pay its next wait */
	int64_t wal_credit, wal_credit_t; /* its waits' budget (us) and when it last accrued */
	int wal_hold; /* its FULL commits' WAL writes held (commit_tx); SC_REG_WAL_HOLD at its open */
};

/*
 * sc_reg_device_id_key in SQL, for the index and the trigger of schema 2: lower() and trim()
 * touch ASCII letters and spaces only, and six passes of replace() fold any run of up to 64
 * spaces to one (64, 32, 16, 8, 4, 2, 1). test_registry holds the two to the same answers.
 */
/* clang-format off */
#define DEV_KEY(x) \
	"lower(trim(replace(replace(replace(replace(replace(replace(" x ", '  ', ' '), " \
	"'  ', ' '), '  ', ' '), '  ', ' '), '  ', ' '), '  ', ' ')))"
/* clang-format on */

/*
 * The schema, one entry per version; entry i takes user_version i to i + 1. Released entries
 * never change: a new version appends an entry.
 */
static const char *const migrations[] = {
	/* 1: the first schema. */
	"PRAGMA application_id = 1396920903;" /* PROVD_REG_APPLICATION_ID */
	"CREATE TABLE devices ("
	"  device_id  TEXT PRIMARY KEY NOT NULL CHECK (length(device_id) BETWEEN 1 AND 64),"
	"  status     TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
	"  note       TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") STRICT;"
	/* Revocation is for good: the registry itself refuses to bring a device back. */
	"CREATE TRIGGER devices_revoked_for_good BEFORE UPDATE OF status ON devices"
	"  WHEN OLD.status = 'revoked' AND NEW.status <> 'revoked'"
	"  BEGIN SELECT RAISE(ABORT, 'a revoked device stays revoked'); END;"
	"CREATE TABLE profiles ("
	"  profile_id        TEXT PRIMARY KEY NOT NULL CHECK (length(profile_id) = 32),"
	"  device_id         TEXT NOT NULL REFERENCES devices(device_id),"
	"  challenge         TEXT UNIQUE," /* NULL when the profile carries none */
	"  origin            TEXT NOT NULL CHECK (origin IN ('device', 'server')),"
	"  alg               TEXT NOT NULL,"
	"  not_before        INTEGER NOT NULL,"
	"  not_after         INTEGER NOT NULL,"
	"  profile_not_after INTEGER NOT NULL,"
	"  der               BLOB NOT NULL,"
	"  chain_pem         TEXT NOT NULL,"
	"  created_at        INTEGER NOT NULL,"
	"  consumed_at       INTEGER"
	") STRICT;"
	"CREATE INDEX profiles_by_device ON profiles(device_id, created_at);"
	"CREATE TABLE certificates ("
	"  fingerprint   TEXT PRIMARY KEY NOT NULL CHECK (length(fingerprint) = 64),"
	"  serial        TEXT NOT NULL,"
	"  device_id     TEXT NOT NULL REFERENCES devices(device_id),"
	"  profile_id    TEXT NOT NULL UNIQUE REFERENCES profiles(profile_id),"
	"  not_before    INTEGER NOT NULL,"
	"  not_after     INTEGER NOT NULL,"
	"  der           BLOB NOT NULL,"
	"  registered_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX certificates_by_device ON certificates(device_id, registered_at);"
	/* Defence in depth: a certificate can only be recorded against its own device's profile. */
	"CREATE TRIGGER certificates_profile_device BEFORE INSERT ON certificates"
	"  WHEN (SELECT device_id FROM profiles WHERE profile_id = NEW.profile_id) IS NOT NEW.device_id"
	"  BEGIN SELECT RAISE(ABORT, 'certificate and profile are for different devices'); END;"
	"CREATE TABLE revocations ("
	"  device_id  TEXT PRIMARY KEY NOT NULL REFERENCES devices(device_id),"
	"  reason     TEXT NOT NULL DEFAULT '',"
	"  revoked_at INTEGER NOT NULL,"
	"  actor      TEXT NOT NULL"
	") STRICT;"
	"CREATE TABLE audit ("
	"  seq       INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at        INTEGER NOT NULL,"
	"  actor     TEXT NOT NULL,"
	"  event     TEXT NOT NULL,"
	"  device_id TEXT,"
	"  detail    TEXT NOT NULL DEFAULT ''"
	") STRICT;"
	/* Append-only: the log refuses to be rewritten, whoever holds the file open. */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/*
	 * 2: device IDs that OpenSSL takes for one name (case, runs of spaces) are one device. Not
	 * a UNIQUE index: a registry of version 1 may hold such twins already, and keeps them; the
	 * trigger refuses every new one, whoever writes.
	 */
	/* clang-format off */
	"CREATE INDEX devices_by_key ON devices(" DEV_KEY("device_id") ");"
	"CREATE TRIGGER devices_one_per_key BEFORE INSERT ON devices"
	"  WHEN EXISTS (SELECT 1 FROM devices"
	"    WHERE " DEV_KEY("device_id") " = " DEV_KEY("NEW.device_id") ")"
	"  BEGIN SELECT RAISE(ABORT, 'a device ID equal but for case and spaces is registered');"
	"  END;",
	/* clang-format on */
	/*
	 * 3: the address of an unauthenticated profile request (no request proof), so that such
	 * requests count in their address's budget and never in the device's. NULL: authenticated,
	 * and every profile made before (they counted in the device's budget then too).
	 */
	"ALTER TABLE profiles ADD COLUMN source TEXT"
	"  CHECK (source IS NULL OR length(source) BETWEEN 1 AND 64);"
	"CREATE INDEX profiles_by_source ON profiles(source, created_at);",
	/*
	 * 4 (issue 14): the newest device CA CRL of each device, served at GET /v1/crls so that
	 * relying parties checking every level of a chain (nginx ssl_crl) find the device CA's.
	 */
	"CREATE TABLE device_crls ("
	"  device_id   TEXT PRIMARY KEY NOT NULL REFERENCES devices(device_id),"
	"  crl_number  INTEGER NOT NULL CHECK (crl_number > 0),"
	"  next_update INTEGER NOT NULL,"
	"  der         BLOB NOT NULL CHECK (length(der) BETWEEN 1 AND 4096),"
	"  updated_at  INTEGER NOT NULL"
	") STRICT;",
	/*
	 * 5 (issue 17): each device's pin, its device CA and KEK as verified at first contact, per
	 * manufacturer root (registry.h's sc_reg_pin). Idempotent (IF NOT EXISTS) so that the
	 * merge may renumber it. A pin never changes and is never removed.
	 */
	"CREATE TABLE IF NOT EXISTS device_pins ("
	"  device_id   TEXT NOT NULL REFERENCES devices(device_id),"
	"  root_sha256 TEXT NOT NULL CHECK (length(root_sha256) = 64),"
	"  ca_sha256   TEXT NOT NULL CHECK (length(ca_sha256) = 64),"
	"  kek_sha256  TEXT NOT NULL CHECK (length(kek_sha256) = 64),"
	"  path_sha256 TEXT NOT NULL CHECK (length(path_sha256) = 64),"
	"  ca_spki     BLOB NOT NULL CHECK (length(ca_spki) BETWEEN 1 AND 4096),"
	"  pinned_at   INTEGER NOT NULL,"
	"  PRIMARY KEY (device_id, root_sha256)"
	") STRICT;"
	"CREATE TRIGGER IF NOT EXISTS device_pins_never_change BEFORE UPDATE ON device_pins"
	"  BEGIN SELECT RAISE(ABORT, 'a device pin never changes'); END;"
	"CREATE TRIGGER IF NOT EXISTS device_pins_never_removed BEFORE DELETE ON device_pins"
	"  BEGIN SELECT RAISE(ABORT, 'a device pin never changes'); END;",
	/*
	 * 6 (issue 17): a renewal profile's certificates share its profile ID, one
	 * per period. SQLite cannot drop a UNIQUE constraint in place, so the table is rebuilt
	 * (nothing references it); every row keeps its rowid order and is period 0.
	 */
	"CREATE TABLE certificates_p ("
	"  fingerprint   TEXT PRIMARY KEY NOT NULL CHECK (length(fingerprint) = 64),"
	"  serial        TEXT NOT NULL,"
	"  device_id     TEXT NOT NULL REFERENCES devices(device_id),"
	"  profile_id    TEXT NOT NULL REFERENCES profiles(profile_id),"
	"  not_before    INTEGER NOT NULL,"
	"  not_after     INTEGER NOT NULL,"
	"  der           BLOB NOT NULL,"
	"  registered_at INTEGER NOT NULL,"
	"  period        INTEGER NOT NULL DEFAULT 0 CHECK (period BETWEEN 0 AND 1023),"
	"  UNIQUE (profile_id, period)"
	") STRICT;"
	"INSERT INTO certificates_p (rowid, fingerprint, serial, device_id, profile_id, not_before,"
	"  not_after, der, registered_at) SELECT rowid, fingerprint, serial, device_id, profile_id,"
	"  not_before, not_after, der, registered_at FROM certificates;"
	"DROP TABLE certificates;"
	"ALTER TABLE certificates_p RENAME TO certificates;"
	"CREATE INDEX certificates_by_device ON certificates(device_id, registered_at);"
	"CREATE TRIGGER certificates_profile_device BEFORE INSERT ON certificates"
	"  WHEN (SELECT device_id FROM profiles WHERE profile_id = NEW.profile_id) IS NOT NEW.device_id"
	"  BEGIN SELECT RAISE(ABORT, 'certificate and profile are for different devices'); END;",
	/*
	 * 7: the operator's console (issue 18; IF NOT EXISTS keeps the step idempotent). Its sessions, by the SHA-256 of the cookie, so that every node knows them
	 * and a sign-out ends one everywhere. The indexes its views need at 100,000 devices and a
	 * year of audit: one device's audit (the device page scanned the whole log before), the
	 * log by event and by time, profiles and certificates by time (the hourly charts),
	 * certificates by expiry (the overview's expiring counts).
	 */
	"CREATE TABLE IF NOT EXISTS console_sessions ("
	"  id_hash    TEXT PRIMARY KEY NOT NULL CHECK (length(id_hash) = 64),"
	"  operator   TEXT NOT NULL CHECK (length(operator) BETWEEN 1 AND 32),"
	"  csrf       TEXT NOT NULL CHECK (length(csrf) = 64),"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX IF NOT EXISTS console_sessions_by_expiry ON console_sessions(expires_at);"
	"CREATE INDEX IF NOT EXISTS audit_by_device ON audit(device_id, seq);"
	"CREATE INDEX IF NOT EXISTS audit_by_event ON audit(event, seq);"
	"CREATE INDEX IF NOT EXISTS audit_by_time ON audit(at);"
	"CREATE INDEX IF NOT EXISTS profiles_by_time ON profiles(created_at);"
	"CREATE INDEX IF NOT EXISTS certificates_by_time ON certificates(registered_at);"
	"CREATE INDEX IF NOT EXISTS devices_by_status ON devices(status);"
	/*
	 * The overview's figures kept as rows are written, so that it reads a few index ranges
	 * instead of every device and every profile of the last days: each device's newest
	 * certificate's notAfter (the last one registered), and profiles and certificates per hour.
	 * Triggers keep them, whoever writes; the first run fills them from what is there.
	 */
	"CREATE TABLE IF NOT EXISTS device_expiry ("
	"  device_id TEXT PRIMARY KEY NOT NULL REFERENCES devices(device_id),"
	"  not_after INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS device_expiry_by_time ON device_expiry(not_after);"
	"INSERT OR REPLACE INTO device_expiry (device_id, not_after)"
	"  SELECT c.device_id, c.not_after FROM certificates c WHERE NOT EXISTS"
	"  (SELECT 1 FROM certificates n WHERE n.device_id = c.device_id AND"
	"   (n.registered_at > c.registered_at OR"
	"    (n.registered_at = c.registered_at AND n.rowid > c.rowid)));"
	"CREATE TRIGGER IF NOT EXISTS certificates_newest AFTER INSERT ON certificates BEGIN"
	"  INSERT INTO device_expiry (device_id, not_after) VALUES (NEW.device_id, NEW.not_after)"
	"  ON CONFLICT (device_id) DO UPDATE SET not_after = excluded.not_after; END;"
	"CREATE TABLE IF NOT EXISTS console_hourly ("
	"  hour         INTEGER PRIMARY KEY,"
	"  profiles     INTEGER NOT NULL DEFAULT 0,"
	"  certificates INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	"INSERT OR REPLACE INTO console_hourly (hour, profiles, certificates)"
	"  SELECT h, sum(p), sum(c) FROM (SELECT created_at / 3600 AS h, 1 AS p, 0 AS c FROM profiles"
	"  UNION ALL SELECT registered_at / 3600, 0, 1 FROM certificates) GROUP BY h;"
	"CREATE TRIGGER IF NOT EXISTS profiles_hourly AFTER INSERT ON profiles BEGIN"
	"  INSERT INTO console_hourly (hour, profiles) VALUES (NEW.created_at / 3600, 1)"
	"  ON CONFLICT (hour) DO UPDATE SET profiles = profiles + 1; END;"
	"CREATE TRIGGER IF NOT EXISTS certificates_hourly AFTER INSERT ON certificates BEGIN"
	"  INSERT INTO console_hourly (hour, certificates) VALUES (NEW.registered_at / 3600, 1)"
	"  ON CONFLICT (hour) DO UPDATE SET certificates = certificates + 1; END;",
	/*
	 * 8 (issue 17, schema14): each pin's strict chain verdict (registry.h's sc_reg_pin
	 * chain_verdict: the version of the strict rules its writer's chain passed, 0 = none). An
	 * added column with a constant default: SQLite changes the table's definition only (no row
	 * is rewritten); older pins read 0. The pin triggers stay: a pin never changes, its
	 * verdict neither. A program of version 7 refuses this file at open (SQLite has no
	 * min_compatible), as for every SQLite step.
	 */
	"ALTER TABLE device_pins"
	"  ADD COLUMN chain_verdict INTEGER NOT NULL DEFAULT 0"
	"  CHECK (chain_verdict BETWEEN 0 AND 4294967295);",
	/*
	 * 9 (issue 17, sqlwal17): the two indexes schema 7 made for the hourly charts, which read
	 * console_hourly instead, dropped: no statement searches them (the counts' count(*) took
	 * them as the smallest index; sq_counts names two others now, the same figures), and each
	 * cost every profile and every certificate commit a page of WAL. DROP INDEX frees their pages without
	 * reading the tables. A program of version 8 refuses this file at open, as for every step.
	 */
	"DROP INDEX IF EXISTS profiles_by_time; DROP INDEX IF EXISTS certificates_by_time;",
	/* 10 (pg18): PostgreSQL's step (its unread indexes); SQLite's were step 9's: nothing. */
	"",
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SC_REG_SCHEMA_VERSION,
    "one SQLite migration per schema version");

/*
 * For a step SQLite cannot make idempotent in SQL (ALTER TABLE ADD COLUMN has no IF NOT
 * EXISTS): a count that is non-zero when the step's work is there already (a file put back
 * to an older version number, as the earlier steps' IF NOT EXISTS allow), so it is skipped.
 */
static const char *const migration_done_if[sizeof(migrations) / sizeof(migrations[0])] = {
	[7] = "SELECT count(*) FROM pragma_table_info('device_pins') WHERE name = 'chain_verdict'",
};

/* The backend's connection from the front's handle (base is its first member). */
static struct sqlite_reg *sq(struct sc_reg *base)
{
	return (struct sqlite_reg *)base;
}

static enum sc_reg_dev_status status_from_text(const unsigned char *s)
{
	if (s != NULL && strcmp((const char *)s, "active") == 0)
		return SC_REG_DEV_ACTIVE;
	if (s != NULL && strcmp((const char *)s, "revoked") == 0)
		return SC_REG_DEV_REVOKED;
	return 0;
}

static sc_err db_fail(struct sqlite_reg *reg, const char *what)
{
	int rc = sqlite3_extended_errcode(reg->db);

	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return sc_fail(SC_ERR_IO, "%s: registry %s busy (another writer held it for %d ms)",
		    what, reg->path, SC_REG_BUSY_TIMEOUT_MS);
	return sc_fail(SC_ERR_IO, "%s: registry %s: %s", what, reg->path, sqlite3_errmsg(reg->db));
}

static sc_err exec(struct sqlite_reg *reg, const char *sql, const char *what)
{
	if (sqlite3_exec(reg->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(reg, what);
	return SC_OK;
}

/* A statement for sql: a kept one not in use (reset, unbound), else compiled (and kept if room). */
static sc_err prepare(struct sqlite_reg *reg, const char *sql, sqlite3_stmt **st)
{
	for (size_t i = 0; i < reg->n_stmts; i++)
		if (!reg->stmts[i].busy && strcmp(sqlite3_sql(reg->stmts[i].st), sql) == 0) {
			reg->stmts[i].busy = 1;
			*st = reg->stmts[i].st;
			return SC_OK;
		}
	if (sqlite3_prepare_v3(reg->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
	    SQLITE_OK) {
		*st = NULL;
		return db_fail(reg, "prepare");
	}
	if (reg->n_stmts < REG_STMT_CACHE) {
		reg->stmts[reg->n_stmts].st = *st;
		reg->stmts[reg->n_stmts++].busy = 1;
	}
	return SC_OK;
}

/*
 * Done with a statement (in place of sqlite3_finalize): a kept one is reset at once, which ends
 * its read of the database exactly as finalizing would, and its bindings cleared; others finalized.
 */
static void done(struct sqlite_reg *reg, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; reg != NULL && i < reg->n_stmts; i++)
		if (reg->stmts[i].st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			reg->stmts[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* The per-device list queries: ?1 the device (NULL: every device where the query allows),
 * ?2 the row limit, where the API's 0 (no limit) is SQLite's LIMIT -1. */
static void bind_device_limit(sqlite3_stmt *st, const char *device_id, size_t limit)
{
	bind_text(st, 1, device_id);
	sqlite3_bind_int64(st, 2, limit == 0 ? -1 : (int64_t)limit);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t out_len)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(out, out_len, "%s", s != NULL ? (const char *)s : "");
}

/* One statement without rows, from the kept ones (every request begins and commits). */
static sc_err run(struct sqlite_reg *reg, const char *sql, const char *what)
{
	sqlite3_stmt *st = NULL;
	sc_err r;

	if ((r = prepare(reg, sql, &st)) != SC_OK)
		return r;
	r = sqlite3_step(st) == SQLITE_DONE ? SC_OK : db_fail(reg, what);
	done(reg, st);
	return r;
}

/*
 * Inside a group commit's batch (reg_group below) one operation's transaction is a savepoint of
 * the batch's: its refusal rolls back its own writes only, and its "commit" is durable when the
 * batch's COMMIT is.
 */
static sc_err begin(struct sqlite_reg *reg)
{
	sc_err r;

	if (!reg->in_batch)
		return run(reg, "BEGIN IMMEDIATE", "begin");
	if ((r = run(reg, "SAVEPOINT op", "begin")) == SC_OK)
		reg->sp_open = 1;
	return r;
}

/*
 * walhold18: COMMIT, and when the connection commits with synchronous=FULL (sync_normal 0: every
 * commit but a deferred profile's) its WAL frames held by the VFS and written in one call at the
 * commit's sync, before SQLite publishes them (wal_vfs.h). Never armed for a NORMAL commit: its
 * frames are published with no sync, so they must be on the file at once.
 */
static sc_err commit_tx(struct sqlite_reg *reg)
{
	int held = reg->wal_hold && !reg->sync_normal && sc_wal_vfs_hold(reg->db);
	sc_err r = run(reg, "COMMIT", "commit");
	int rc;

	/*
	 * After a sync nothing is held: a failure here is a path wal.c does not take. The COMMIT's
	 * outcome stands (a successful one is durable: its frames were written before its sync);
	 * the failure is logged and counted (sc_wal_vfs_stats' release_err), not the call's.
	 */
	if (held && (rc = sc_wal_vfs_release(reg->db)) != SQLITE_OK)
		sc_log("warning: registry %s: releasing the WAL hold after a commit failed: %s",
		    reg->path, sqlite3_errstr(rc));
	return r;
}

static sc_err commit(struct sqlite_reg *reg)
{
	sc_err r;

	if (reg->in_batch) {
		if ((r = run(reg, "RELEASE op", "commit")) == SC_OK)
			reg->sp_open = 0;
		return r;
	}
	if ((r = commit_tx(reg)) != SC_OK)
		(void)sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static void rollback(struct sqlite_reg *reg)
{
	if (reg->in_batch) {
		if (reg->sp_open)
			(void)sqlite3_exec(reg->db, "ROLLBACK TO op; RELEASE op", NULL, NULL, NULL);
		reg->sp_open = 0;
		return;
	}
	if (!sqlite3_get_autocommit(reg->db))
		(void)sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One audit row, inside the caller's transaction. */
static sc_err audit(struct sqlite_reg *reg, int64_t now, const char *actor, const char *event,
    const char *device_id, const char *detail)
{
	sqlite3_stmt *st = NULL;
	sc_err r;

	if ((r = prepare(reg,
	         "INSERT INTO audit (at, actor, event, device_id, detail) VALUES (?, ?, ?, ?, ?)",
	         &st)) != SC_OK)
		return r;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, actor != NULL ? actor : "unknown");
	bind_text(st, 3, event);
	bind_text(st, 4, device_id);
	bind_text(st, 5, detail != NULL ? detail : "");
	r = sqlite3_step(st) == SQLITE_DONE ? SC_OK : db_fail(reg, "audit");
	done(reg, st);
	return r;
}

static sc_err pragma_int(struct sqlite_reg *reg, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	sc_err r;

	if ((r = prepare(reg, sql, &st)) != SC_OK)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		r = SC_OK;
	} else {
		r = db_fail(reg, sql);
	}
	done(reg, st);
	return r;
}

static int sq_schema_version(struct sc_reg *base)
{
	struct sqlite_reg *reg = sq(base);
	int64_t v = -1;

	if (pragma_int(reg, "PRAGMA user_version", &v) != SC_OK)
		return -1;
	return (int)v;
}

static sc_err migrate(struct sqlite_reg *reg)
{
	const int newest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	int64_t v, app_id, n_tables, done_already, secure = -1;
	sc_err r;

	if ((r = pragma_int(reg, "PRAGMA user_version", &v)) != SC_OK ||
	    (r = pragma_int(reg, "PRAGMA application_id", &app_id)) != SC_OK ||
	    (r = pragma_int(reg, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
	         &n_tables)) != SC_OK)
		return r;
	if (v > newest)
		return sc_fail(SC_ERR_VERSION,
		    "registry %s: schema version %lld is newer than this program's %d", reg->path,
		    (long long)v, newest);
	if ((v > 0 && app_id != PROVD_REG_APPLICATION_ID) || (v == 0 && n_tables > 0))
		return sc_fail(SC_ERR_IO, "%s: an SQLite database, but not a selfcert registry",
		    reg->path);
	/*
	 * sq17mend: secure_delete FAST while the steps run. Debian builds SQLite with
	 * SECURE_DELETE on, which makes a step that frees pages (9's DROP INDEX) write each freed
	 * page zeroed to the WAL, under the write lock: 111 KB of WAL where FAST writes 41 KB for
	 * a registry of 3000 enrolled devices at 4 KiB pages, ~25 MB more per million rows. FAST
	 * still zeroes what is deleted inside the pages kept; the freed pages keep the dropped
	 * indexes' entries (times and row numbers) on the free list until reused. Put back after.
	 */
	if (v < newest &&
	    ((r = pragma_int(reg, "PRAGMA secure_delete", &secure)) != SC_OK ||
	        (r = exec(reg, "PRAGMA secure_delete = FAST", "secure_delete")) != SC_OK))
		return r;
	while (v < newest) {
		char sql[64], how[48]; /* "migrated to version " and any int64 */

		if ((r = begin(reg)) != SC_OK)
			goto out;
		/* Another process may have migrated while we waited for the lock. */
		if ((r = pragma_int(reg, "PRAGMA user_version", &v)) != SC_OK)
			goto out;
		if (v >= newest)
			break;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)v + 1);
		snprintf(how, sizeof(how),
		    v == 0 ? "created at version 1" : "migrated to version %lld", (long long)v + 1);
		done_already = 0;
		if (migration_done_if[v] != NULL &&
		    (r = pragma_int(reg, migration_done_if[v], &done_already)) != SC_OK)
			goto out;
		if ((!done_already &&
		        (r = exec(reg, migrations[v], "schema migration")) != SC_OK) ||
		    (r = exec(reg, sql, "schema version")) != SC_OK ||
		    (r = audit(reg, (int64_t)time(NULL), "registry", "schema-migrated", NULL,
		         how)) != SC_OK)
			goto out;
		if ((r = commit(reg)) != SC_OK)
			goto out;
		v++;
	}
	r = SC_OK;
out:
	rollback(reg); /* the transaction that found the work done already, or a failed one */
	if (secure >= 0) {
		char sql[48];
		sc_err r2;

		snprintf(sql, sizeof(sql), "PRAGMA secure_delete = %lld", (long long)secure);
		if ((r2 = exec(reg, sql, "secure_delete")) != SC_OK && r == SC_OK)
			r = r2;
	}
	return r;
}

static struct reg_group *group_get(const char *path);
static void group_put(struct reg_group *g);

static void sqlite_free(struct sqlite_reg *reg)
{
	if (reg == NULL)
		return;
	group_put(reg->group);
	for (size_t i = 0; i < reg->n_stmts; i++)
		sqlite3_finalize(reg->stmts[i].st);
	sqlite3_close_v2(reg->db);
	free(reg);
}

/*
 * sqlwal17 (issue 17): a new registry's page size. A commit writes each page it changed whole
 * to the WAL (and SQLite checksums every byte of it), and a first enrollment's two commits
 * change ~13-15 pages each, one or two per B-tree they touch however small the entry: 1 KiB
 * pages write ~41 KB of WAL per enrollment where 4 KiB pages (SQLite's default, every registry
 * made before) wrote ~112 KB, for ~40 % more frames and page reads (PERFORMANCE.md 24.1: fewer
 * instructions and less CPU in all, measured up to 40,000 devices). A profile row (~2.4 KB with
 * its chain) then spills to two overflow pages. Only a new, empty file takes it: SQLite fixes a
 * file's page size with its first page, so existing registries keep theirs (in WAL mode VACUUM
 * keeps it too; converting takes journal_mode=DELETE, page_size, VACUUM and WAL again with
 * everything stopped, OPERATIONS.md). SC_REG_PAGE_SIZE sets another for new files, a switch
 * for benchmarks: decimal digits only, a power of two from 512 to 65536; any other value
 * refuses the open (SC_ERR_USAGE) before any file is made, as SQLite would ignore it and fix
 * 4 KiB for the file's life (sq17mend). A 1 KiB file's bound: SQLite's 1,073,741,823 pages
 * (Debian 12's 3.40.1), 1 TiB.
 */
#define REG_PAGE_SIZE 1024
#define REG_PAGE_SIZE_ENV "SC_REG_PAGE_SIZE"

/* The page size for a new file: REG_PAGE_SIZE, or SC_REG_PAGE_SIZE if set and valid. */
static sc_err page_size_setting(long *out)
{
	const char *e = getenv(REG_PAGE_SIZE_ENV);
	long v = 0;
	size_t n;

	*out = REG_PAGE_SIZE;
	if (e == NULL)
		return SC_OK;
	/* At most five digits (65536), no sign, space, base prefix or leading zero. */
	n = strspn(e, "0123456789");
	if (n > 0 && n <= 5 && e[n] == '\0' && e[0] != '0')
		v = strtol(e, NULL, 10);
	if (v < 512 || v > 65536 || (v & (v - 1)) != 0)
		return sc_fail(SC_ERR_USAGE,
		    REG_PAGE_SIZE_ENV " \"%.40s\": not a power of two from 512 to 65536 (decimal)",
		    e);
	*out = v;
	return SC_OK;
}

/* A new (empty) file's page size; a no-op on a file that has its first page. */
static sc_err new_page_size(struct sqlite_reg *reg, long ps)
{
	char sql[48];

	snprintf(sql, sizeof(sql), "PRAGMA page_size = %ld", ps);
	return exec(reg, sql, "page size");
}

/*
 * walhold18's switch, read once per connection at its open (weak19: it was read by
 * sc_wal_vfs_hold at every commit, a getenv per commit racing any setenv): SC_REG_WAL_HOLD=0
 * holds nothing for this connection's commits; unset or another value holds (commit_tx).
 */
static int wal_hold_setting(void)
{
	const char *e = getenv("SC_REG_WAL_HOLD");

	return e == NULL || strcmp(e, "0") != 0;
}

/* A connection; grouped: its registrations go through the file's group commit (reg_group). */
static sc_err open_conn(const char *path, int create, int grouped, struct sc_reg **out)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sqlite_reg *reg = NULL;
	struct stat st;
	sqlite3_stmt *stmt = NULL;
	long page_size;

	*out = NULL;
	if ((r = page_size_setting(&page_size)) != SC_OK)
		return r;
	if (strlen(path) >= sizeof(reg->path))
		return sc_fail(SC_ERR_USAGE, "--db: path longer than %zu bytes",
		    sizeof(reg->path) - 1);
	if (stat(path, &st) != 0) {
		int fd;

		if (errno != ENOENT || !create)
			return sc_fail(SC_ERR_IO, "registry %s: %s", path, strerror(errno));
		/* Made here, not by SQLite, to get 0600 (the -wal and -shm files copy its mode). */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return sc_fail(SC_ERR_IO, "registry %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	} else if (!S_ISREG(st.st_mode)) {
		return sc_fail(SC_ERR_IO, "registry %s: not a regular file", path);
	}
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "registry");
	reg->base.be = &sc_reg_sqlite;
	snprintf(reg->path, sizeof(reg->path), "%s", path);
	/* sys12: the "unix" VFS with each WAL frame written in one write (wal_vfs.h). */
	if (sqlite3_open_v2(path, &reg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
	        sc_wal_vfs()) != SQLITE_OK) {
		r = sc_fail(SC_ERR_IO, "registry %s: %s", path,
		    reg->db ? sqlite3_errmsg(reg->db) : "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(reg->db, 1);
	sqlite3_busy_timeout(reg->db, SC_REG_BUSY_TIMEOUT_MS);
	reg->wal_hold = wal_hold_setting();
	/* No schema tricks from a hostile file: no writable_schema, no untrusted functions in views. */
	sqlite3_db_config(reg->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(reg->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if ((r = new_page_size(reg, page_size)) != SC_OK)
		goto out;
	if ((r = prepare(reg, "PRAGMA journal_mode = WAL", &stmt)) != SC_OK) {
		r = sc_fail(SC_ERR_IO, "%s: not a registry (%s)", path, sqlite3_errmsg(reg->db));
		goto out;
	}
	if (sqlite3_step(stmt) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") != 0) {
		r = sc_fail(SC_ERR_IO, "registry %s: cannot switch to WAL mode (%s)", path,
		    sqlite3_errmsg(reg->db));
		goto out;
	}
	done(reg, stmt);
	stmt = NULL;
	/* FULL: a commit the server acknowledged survives power loss, not only a crash. */
	if ((r = exec(reg, "PRAGMA synchronous = FULL", "synchronous")) != SC_OK ||
	    (r = exec(reg, "PRAGMA foreign_keys = ON", "foreign keys")) != SC_OK ||
	    (r = migrate(reg)) != SC_OK)
		goto out;
	if (grouped && (reg->group = group_get(path)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "registry %s: group commit", path);
		goto out;
	}
	*out = &reg->base;
	reg = NULL;
	r = SC_OK;
out:
	done(reg, stmt);
	sqlite_free(reg);
	return r;
}

/*
 * location is a file path (registry.c sent every other kind elsewhere). Group commit is on
 * unless SC_REG_GROUP_COMMIT=0 (a switch for benchmarks: the same build, before and after).
 */
static sc_err sq_open(const char *path, int create, struct sc_reg **out)
{
	const char *g = getenv("SC_REG_GROUP_COMMIT");

	return open_conn(path, create, g == NULL || strcmp(g, "0") != 0, out);
}

static void sq_close(struct sc_reg *base)
{
	sqlite_free(sq(base));
}

/*
 * ---- group commit (issue 17) ----
 *
 * A registration's durable commit is an fsync (synchronous=FULL), and SQLite's writers queue on
 * one lock for it: N concurrent registrations cost N fsyncs one after the other. Here the
 * connections of one process to one file share a writer connection: a registration is queued,
 * and whichever waiting thread finds no batch running becomes the leader, runs every queued
 * registration (at most GROUP_BATCH_MAX) in one BEGIN IMMEDIATE transaction, each inside its own
 * savepoint (a refused one rolls back its own writes only, with its own error), and commits once.
 * Nobody is answered before that COMMIT returned: every acknowledged registration is as durable
 * as before. Registrations that arrive during a batch's fsync form the next batch.
 *
 * Wake-ups (thr13): each waiting thread sleeps on its own semaphore and is woken once, either
 * because its registrations are done (their outcome written before the post) or because it is
 * to lead the next batch: a leader that finds the queue not empty after its commit hands the
 * leadership to the thread whose registration heads the queue, so the queue is never left
 * without a leader and nobody else wakes. Before, the leader broadcast one condition variable:
 * every waiter woke and queued on the group's mutex to look (PERFORMANCE.md 20.4: at 32 clients
 * the threads spent ~4 ms per registration in that convoy, with done requests stuck behind it).
 */
#define GROUP_BATCH_MAX 64

/*
 * A thread in group_run_many: posted exactly once per wait, because its last op is done or
 * because its op heads the queue and it is to lead (it tells the two apart by that op's done).
 */
struct group_waiter {
	sem_t sem;
};

struct group_op {
	sc_err (*fn)(struct sqlite_reg *w, void *arg);
	void *arg;
	sc_err r;
	char detail[256];
	int deferred;  /* its commit need not be synced: sc_reg_profile_rec's deferred_commit */
	size_t weight; /* the registrations it holds, for the statistics (0: one) */
	int done;
	int last;                   /* its thread's last queued op: done wakes the thread */
	struct group_waiter *owner; /* the thread that queued it */
	struct group_op *next;
};

struct reg_group {
	char path[256];
	int refs;
	struct sqlite_reg *w; /* the batches' connection, opened at the first batch */
	pthread_mutex_t mu;
	struct group_op *head, *tail;
	int leader;                    /* a batch is running, or its next leader is woken */
	unsigned long ops, commits;    /* for the tests and benchmarks */
	unsigned long wakes, handoffs; /* posts to waiters; of them, leaderships handed on */
	struct sc_reg_wal_stats wal;   /* the leader's checkpoints (wal14), under mu */
	unsigned char wal_logged[32];  /* the checkpoint errors logged, by primary code (bits) */
	int writer_reads;              /* rdw18: hot reads may run on the idle writer (read_conn) */
	unsigned long reads_w, reads_r;   /* rdw18: those reads on the writer, on their own conn */
	unsigned long read_queued;        /* registrations queued while a read held the writer */
	unsigned long read_us;            /* the µs reads held the writer, in all */
	unsigned long read_fallback;      /* of reads_r: took the idle writer, found it busy */
	sqlite3_stmt *test_st;            /* sc_reg_sqlite_writer_busy's statement (tests) */
	int reading;                      /* a read holds the writer (read_conn to read_done) */
	int64_t read_t0;                  /* since when (mono_us), while reading */
	const struct sqlite_reg *held_by; /* sc_reg_sqlite_writer_hold's holder (tests) */
	int w_use; /* debug: users of g->w now (writer_enter); more than one is a bug */
	struct reg_group *next;
};

static pthread_mutex_t groups_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg_group *groups;

static struct reg_group *group_get(const char *path)
{
	struct reg_group *g;

	pthread_mutex_lock(&groups_mu);
	for (g = groups; g != NULL && strcmp(g->path, path) != 0; g = g->next)
		;
	if (g == NULL && (g = calloc(1, sizeof(*g))) != NULL) {
		snprintf(g->path, sizeof(g->path), "%s", path);
		const char *e = getenv("SC_REG_WRITER_READS");

		pthread_mutex_init(&g->mu, NULL);
		g->writer_reads = e == NULL || strcmp(e, "0") != 0;
		g->next = groups;
		groups = g;
	}
	if (g != NULL)
		g->refs++;
	pthread_mutex_unlock(&groups_mu);
	return g;
}

static void group_put(struct reg_group *g)
{
	struct reg_group **p;

	if (g == NULL)
		return;
	pthread_mutex_lock(&groups_mu);
	if (--g->refs > 0) {
		pthread_mutex_unlock(&groups_mu);
		return;
	}
	for (p = &groups; *p != g; p = &(*p)->next)
		;
	*p = g->next;
	pthread_mutex_unlock(&groups_mu);
	sqlite3_finalize(g->test_st);
	sqlite_free(g->w);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/*
 * ---- the WAL under readers that never pause (wal14) ----
 *
 * SQLite's automatic checkpoint (PASSIVE, after a commit that leaves 1000 frames in the WAL)
 * copies back only the frames no reader still needs, and the WAL starts over from its beginning
 * only once every frame is copied back and no reader uses it. With readers that never pause
 * (concurrent GETs, the console, the CLI reading while devices register) some reader holds an
 * older snapshot at every instant: the WAL was never started over and grew with every commit
 * (session 13's review: 26-126 MB; test_registry_wal: 22-97 MB in 4000-6000 registrations).
 *
 * So the group's writer has no automatic checkpoint; its leader checkpoints between batches
 * instead, after a commit that left WAL_CKPT_FRAMES or more frames (SQLite's own threshold),
 * once the batch's threads are answered and before it hands the leadership on, so registrations
 * that arrive meanwhile queue for the next batch as they do during a commit. The checkpoint is a
 * RESTART: it holds the write lock (no new frames), waits for the readers of older snapshots to
 * finish (a new reader takes the newest snapshot, and once every frame is copied back, none at
 * all), copies every frame back, syncs the database, and waits for the last readers of the WAL
 * to finish: the next commit writes the WAL from its beginning. Its waits are bounded (not the
 * 10 s busy timeout): with no reader about, a checkpoint waits for none, as SQLite's own; one
 * after an attempt cut short sleeps at most WAL_WAIT_MS for readers, doubled after each further
 * one, to 80 ms (a reader descheduled mid-read on a loaded machine holds its snapshot for a time
 * slice or more), and once one had to wait the next waits up to WAL_WAIT_MS at once. A reader
 * that outlasts the wait (a long export) makes it a PASSIVE one, and the leader tries again
 * WAL_RETRY_FRAMES frames later, not at every batch.
 * Waiting must not cost more than it can win (wal14's review: a reader holding a snapshot for
 * 40 ms or more cut registrations 4-9x, an 80 ms wait every 256 frames): two bounds on it. One, a
 * reader that outlasts the attempts is seen: an attempt cut short after the longest wait that
 * could copy back no further than the one before (pnCkpt the same and short of pnLog) met the
 * same old snapshot (an export, a backup, a shell in BEGIN), and the next attempts wait not at
 * all (they copy what they can, as SQLite's own; cheap, with nothing new to copy) until one gets
 * further. (Not after a shorter wait: on a loaded machine a short reader descheduled while it
 * holds its snapshot blocks two attempts in a row, and giving up on it let the WAL grow.) Two,
 * for readers whose snapshots move on but each outlasts short waits (a loop of 40-150 ms reads):
 * the waits are paid from a budget of 1/WAL_WAIT_SHARE (20 %) of the time the writer has been
 * open, banked up to WAL_BANK longest waits; a wait it cannot pay in full is not begun (the
 * attempt waits none and the level stays: a wait cut by the budget would be lost time), so
 * whatever the readers do the waits take at most that share of the time (and the bank). Under
 * such readers the WAL then grows as under SQLite's own checkpoint, between the checkpoints the
 * budget pays for.
 * journal_size_limit cuts the file back to WAL_SIZE_LIMIT when the WAL starts over after such
 * a reader. So with short reads the WAL holds about WAL_CKPT_FRAMES frames and a batch (4.2-4.5
 * MB of 4 KiB pages, ~1 MB of 1 KiB ones, as with no reader at all); each checkpoint cut short
 * adds WAL_RETRY_FRAMES.
 * Durability is untouched: a checkpoint copies committed frames and fsyncs the WAL before it
 * writes the database file and the database file after (synchronous stays FULL; a deferred
 * profile commit is as before, synced by the next FULL commit or checkpoint), and nobody waits
 * for it to be answered. A checkpoint's error (not SQLITE_BUSY: a reader) is counted and logged
 * once per kind (SQLite's primary code) per process. SC_REG_WAL_RESTART=0
 * leaves SQLite's automatic checkpoint in place (a switch for benchmarks, as SC_REG_GROUP_COMMIT).
 */
#define WAL_CKPT_FRAMES 1000
#define WAL_RETRY_FRAMES 256
#define WAL_WAIT_MS 10
#define WAL_WAIT_DOUBLINGS 3
#define WAL_WAIT_SHARE 5         /* the waits' budget: at most 1/5 of the time */
#define WAL_BANK 4               /* banked up to 4 of the longest waits */
#define WAL_SIZE_LIMIT "8388608" /* bytes: twice WAL_CKPT_FRAMES 4 KiB pages (1 KiB since 17: 8x) */

static int64_t mono_us(void);
static int64_t wal_wait_limit(int level);

/* The writer's commit hook: the WAL's frames after it (in place of the automatic checkpoint). */
static int wal_hook_cb(void *ctx, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((struct sqlite_reg *)ctx)->wal_frames = frames;
	return SQLITE_OK;
}

/* The group's writer, once opened: checkpoints by its leader (above) instead of SQLite's own. */
static sc_err wal_writer(struct sqlite_reg *w)
{
	const char *e = getenv("SC_REG_WAL_RESTART");
	sc_err r;

	if (e != NULL && strcmp(e, "0") == 0)
		return SC_OK;
	if ((r = exec(w, "PRAGMA journal_size_limit = " WAL_SIZE_LIMIT, "journal_size_limit")) !=
	    SC_OK)
		return r;
	w->wal_next = WAL_CKPT_FRAMES;
	w->wal_ckpt = -1;
	w->wal_stuck = 0;
	w->wal_credit = wal_wait_limit(WAL_WAIT_DOUBLINGS + 1); /* banked full at first */
	w->wal_credit_t = mono_us();
	sqlite3_wal_hook(w->db, wal_hook_cb, w);
	return SC_OK;
}

/* 1: the leader is to checkpoint after this batch. */
static int wal_due(const struct sqlite_reg *w)
{
	return w != NULL && w->wal_next > 0 && w->wal_frames >= w->wal_next;
}

/*
 * Debug builds: the writer's connection is used by one holder of the leadership at a time (a
 * batch, a checkpoint, a read); a second one at once trips the assert. Release: nothing.
 */
static void writer_enter(struct reg_group *g)
{
#ifndef NDEBUG
	int was = __atomic_fetch_add(&g->w_use, 1, __ATOMIC_ACQ_REL);

	assert(was == 0);
#else
	(void)g;
#endif
}

static void writer_leave(struct reg_group *g)
{
#ifndef NDEBUG
	int was = __atomic_fetch_sub(&g->w_use, 1, __ATOMIC_ACQ_REL);

	assert(was == 1);
#else
	(void)g;
#endif
}

static int64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* A checkpoint's wait: the time slept so far and its bound, in microseconds. */
struct wal_wait {
	int64_t slept, limit;
};

/*
 * A checkpoint's bound on its waits at a level: none at level 0 (as SQLite's own checkpoint),
 * WAL_WAIT_MS at 1, doubled at each level above (to WAL_WAIT_DOUBLINGS doublings).
 */
static int64_t wal_wait_limit(int level)
{
	if (level == 0)
		return 0;
	if (level - 1 > WAL_WAIT_DOUBLINGS)
		level = WAL_WAIT_DOUBLINGS + 1;
	return ((int64_t)WAL_WAIT_MS * 1000) << (level - 1);
}

/*
 * The checkpoint's busy handler: retry every 100 us while the time slept in it stays under the
 * bound. Only the waits count: the checkpoint's own copying and syncing is not a reader's doing.
 */
static int wal_busy(void *ctx, int n)
{
	struct wal_wait *ww = ctx;
	int64_t t;

	(void)n;
	if (ww->slept >= ww->limit)
		return 0;
	t = mono_us();
	usleep(100);
	ww->slept += mono_us() - t;
	return 1;
}

/*
 * Under g->mu, after a batch: the thread to lead the next one, counted; NULL when the queue is
 * empty (then nobody leads). The queue is never without a leader.
 */
static struct group_waiter *group_next(struct reg_group *g, struct group_waiter *me)
{
	struct group_waiter *n;

	if (g->head == NULL) {
		g->leader = 0;
		return NULL;
	}
	n = g->head->owner;
	if (n != me) {
		g->handoffs++;
		g->wakes++;
	}
	return n;
}

/*
 * The writer's next checkpoint's wait: none while stuck (group_checkpoint: one old snapshot
 * outlasted the longest wait); else its level's, if the budget holds it all (1/WAL_WAIT_SHARE of the time since the writer opened,
 * less what its waits slept, banked up to WAL_BANK longest waits, one at first; it may go below
 * 0 by a last sleep's overshoot), else none (wal_poor: the level kept for when it can pay).
 */
static int64_t wal_wait_budget(struct sqlite_reg *w)
{
	int64_t now = mono_us(), top = wal_wait_limit(WAL_WAIT_DOUBLINGS + 1),
	        limit = w->wal_stuck ? 0 : wal_wait_limit(w->wal_level);

	w->wal_credit += (now - w->wal_credit_t) / WAL_WAIT_SHARE;
	w->wal_credit_t = now;
	if (w->wal_credit > WAL_BANK * top)
		w->wal_credit = WAL_BANK * top;
	if (limit > w->wal_credit) {
		w->wal_poor = 1;
		return 0;
	}
	w->wal_poor = 0;
	return limit;
}

/* A checkpoint's error (not a reader's SQLITE_BUSY), logged once per primary code; under g->mu. */
static void wal_error(struct reg_group *g, struct sqlite_reg *w, int rc)
{
	int code = rc & 0xff;

	g->wal.errors++;
	if (g->wal_logged[code / 8] & (1u << (code % 8)))
		return;
	g->wal_logged[code / 8] |= (unsigned char)(1u << (code % 8));
	sc_log("warning: registry %s: checkpoint of the WAL failed (%s; logged once): %s", w->path,
	    sqlite3_errstr(rc), sqlite3_errmsg(w->db));
}

/*
 * The leader me, its batch answered: a RESTART checkpoint of the writer (waits bounded as
 * above), then the leadership handed on as after any batch. Returns the next leader.
 */
static struct group_waiter *group_checkpoint(struct reg_group *g, struct group_waiter *me)
{
	struct sqlite_reg *w = g->w;
	struct group_waiter *next_leader;
	struct wal_wait ww = { 0, wal_wait_budget(w) };
	int64_t t0 = mono_us(), us;
	int rc, frames = w->wal_frames, log = -1, ckpt = -1, same = 0;

	writer_enter(g);
	sqlite3_busy_handler(w->db, wal_busy, &ww);
	rc = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_RESTART, &log, &ckpt);
	sqlite3_busy_timeout(w->db, SC_REG_BUSY_TIMEOUT_MS);
	us = mono_us() - t0;
	w->wal_credit -= ww.slept;
	/* Done: the next commit starts the WAL over. Not: again a little later, not every batch. */
	w->wal_next = rc == SQLITE_OK ? WAL_CKPT_FRAMES : frames + WAL_RETRY_FRAMES;
	/*
	 * The next one's wait: after one done, none if this one had no reader to wait for, else the
	 * first level (readers are about: the next attempt waits for them at once rather than copying
	 * twice, a cut-short attempt and its retry). After one cut short: one level up if it waited
	 * at its level (not after one the budget or an old snapshot kept from it); none at all from
	 * one that copied back no further than the one before after the longest wait, until one gets
	 * further (the same old snapshot: waiting does not help).
	 */
	if (rc == SQLITE_OK) {
		/* The WAL starts over: no checkpoint due before the next commit. */
		w->wal_frames = 0;
		w->wal_level = ww.slept > 0;
		w->wal_ckpt = -1;
		same = 0;
	} else {
		/* Stuck: no further than the one before after the longest wait, or while stuck. */
		same = ckpt >= 0 && ckpt < log && ckpt == w->wal_ckpt &&
		    (w->wal_stuck || ww.limit >= wal_wait_limit(WAL_WAIT_DOUBLINGS + 1));
		if (!w->wal_stuck && !w->wal_poor && w->wal_level <= WAL_WAIT_DOUBLINGS)
			w->wal_level++;
		w->wal_ckpt = ckpt;
	}
	w->wal_stuck = same;
	pthread_mutex_lock(&g->mu);
	g->wal.checkpoints++;
	if (rc == SQLITE_OK)
		g->wal.restarts++;
	else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		g->wal.busy++;
	else
		wal_error(g, w, rc);
	g->wal.same += (unsigned long)same;
	if (ww.slept > 0) {
		g->wal.waits++;
		g->wal.wait_us += (unsigned long)ww.slept;
	}
	if ((unsigned long)frames > g->wal.max_frames)
		g->wal.max_frames = (unsigned long)frames;
	g->wal.us_total += (unsigned long)us;
	if ((unsigned long)us > g->wal.us_max)
		g->wal.us_max = (unsigned long)us;
	writer_leave(g);
	next_leader = group_next(g, me);
	pthread_mutex_unlock(&g->mu);
	if (next_leader != NULL && next_leader != me)
		sem_post(&next_leader->sem);
	return next_leader;
}

/* 1: every op of the batch may skip the sync of its commit (deferred_commit). */
static int batch_deferred(const struct group_op *batch)
{
	for (; batch != NULL; batch = batch->next)
		if (!batch->deferred)
			return 0;
	return 1;
}

/*
 * The connection's synchronous mode for the next commit, set outside any transaction: FULL
 * syncs the WAL at each commit; NORMAL leaves that to the next FULL commit (or checkpoint),
 * which syncs the whole WAL, this commit's frames with it.
 */
static sc_err sync_for(struct sqlite_reg *reg, int deferred)
{
	sc_err r;

	if (deferred == reg->sync_normal)
		return SC_OK;
	if ((r = exec(reg, deferred ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
	         "synchronous")) != SC_OK)
		return r;
	reg->sync_normal = deferred;
	return SC_OK;
}

/* One batch on the writer, by the leader (outside g->mu). Returns 1 when it committed. */
static int group_batch(struct reg_group *g, struct group_op *batch)
{
	struct group_op *op;
	struct sc_reg *w = NULL;
	char detail[256] = "";
	sc_err r = SC_OK;

	/*
	 * reg8: the writer's savepoint journals in memory. Each registration's savepoint copies the
	 * pages it first touches to the sub-journal, which SQLite spills to a temporary file past
	 * 64 KiB: a batch of renewal certificates paid a pwrite per page (9 % of a batch request's
	 * CPU). It only serves ROLLBACK TO inside the open transaction (a crash discards that
	 * transaction from the WAL anyway) and is emptied at each RELEASE, so it holds one
	 * operation's pages at a time (a batch request's); durability is the WAL's and unchanged.
	 */
	if (g->w == NULL && (r = open_conn(g->path, 0, 0, &w)) == SC_OK) {
		g->w = sq(w);
		if ((r = exec(g->w, "PRAGMA temp_store = MEMORY", "temp_store")) != SC_OK ||
		    (r = wal_writer(g->w)) != SC_OK) {
			sqlite_free(g->w);
			g->w = NULL;
		}
	}
	if (r == SC_OK && (r = sync_for(g->w, batch_deferred(batch))) == SC_OK &&
	    (r = run(g->w, "BEGIN IMMEDIATE", "begin")) == SC_OK) {
		for (op = batch; op != NULL && r == SC_OK; op = op->next) {
			g->w->in_batch = 1;
			if ((op->r = op->fn(g->w, op->arg)) != SC_OK)
				snprintf(op->detail, sizeof(op->detail), "%s", sc_err_detail());
			rollback(g->w); /* its savepoint, if its error left it open */
			g->w->in_batch = 0;
			/* An error that ended the whole transaction (SQLite does for some): all fail. */
			if (sqlite3_get_autocommit(g->w->db))
				r = sc_fail(SC_ERR_IO,
				    "registry %s: a batch's transaction was rolled back", g->path);
		}
		if (r == SC_OK)
			r = commit_tx(g->w);
		rollback(g->w);
	}
	if (r == SC_OK)
		return 1;
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	/* Nothing of the batch is recorded: every registration it held fails (refusals keep theirs). */
	for (op = batch; op != NULL; op = op->next)
		if (op->r == SC_OK) {
			op->r = r;
			snprintf(op->detail, sizeof(op->detail), "%s", detail);
		}
	return 0;
}

/*
 * #17: n registrations queued together (one batch request's certificates), so that the next
 * batch commits them with one fsync instead of n; each still in its own savepoint with its own
 * outcome in ops[i].r / .detail. Queued contiguously and taken in order, so when the last is
 * done all are. Without a group (SC_REG_GROUP_COMMIT=0): one by one, each its own transaction.
 * group_run is this with n = 1.
 */
/*
 * One batch by the leader me: the head of the queue (at most GROUP_BATCH_MAX), committed; then
 * its threads woken and the leadership handed to the thread heading the queue, if any.
 * Everything a woken thread reads (done, r, detail) is written before its post. Returns 1 when
 * me heads the queue (leads again).
 */
static int group_lead(struct reg_group *g, struct group_waiter *me)
{
	struct group_waiter *wake[GROUP_BATCH_MAX + 1], *next_leader = NULL;
	struct group_op *batch, *o, *next;
	size_t k, nw = 0;
	int committed, ckpt;

	pthread_mutex_lock(&g->mu);
	batch = g->head;
	for (o = batch, k = 1; o->next != NULL && k < GROUP_BATCH_MAX; o = o->next, k++)
		;
	g->head = o->next;
	if (g->head == NULL)
		g->tail = NULL;
	o->next = NULL;
	pthread_mutex_unlock(&g->mu);
	writer_enter(g);
	committed = group_batch(g, batch);
	ckpt = committed && wal_due(g->w);
	writer_leave(g);
	pthread_mutex_lock(&g->mu);
	g->commits += committed; /* under g->mu, as sc_reg_sqlite_group_stats reads it */
	for (o = batch; o != NULL; o = next) {
		next = o->next; /* read before the post: o may be gone after it */
		if (o->last && o->owner != me)
			wake[nw++] = o->owner;
		o->done = 1;
	}
	g->wakes += nw;
	/* wal14: a checkpoint due keeps the leadership until it is done (group_checkpoint). */
	if (!ckpt)
		next_leader = group_next(g, me);
	pthread_mutex_unlock(&g->mu);
	/* The next leader first: the writer waits for it, the answered threads only send. */
	if (next_leader != NULL && next_leader != me)
		sem_post(&next_leader->sem);
	for (size_t i = 0; i < nw; i++)
		sem_post(&wake[i]->sem);
	if (ckpt)
		next_leader = group_checkpoint(g, me);
	return next_leader == me;
}

/*
 * #17: n registrations queued together (one batch request's certificates), so that the next
 * batch commits them with one fsync instead of n; each still in its own savepoint with its own
 * outcome in ops[i].r / .detail. Queued contiguously and taken in order, so when the last is
 * done all are. Without a group (SC_REG_GROUP_COMMIT=0): one by one, each its own transaction.
 * group_run is this with n = 1. The queue is not empty only while a leader runs (or is woken to):
 * a thread that finds no leader queues alone and leads at once.
 */
static void group_run_many(struct sqlite_reg *reg, struct group_op *ops, size_t n)
{
	struct reg_group *g = reg->group;
	struct group_waiter me;
	int lead;

	if (g == NULL) {
		for (size_t i = 0; i < n; i++) {
			if ((ops[i].r = sync_for(reg, ops[i].deferred)) == SC_OK)
				ops[i].r = ops[i].fn(reg, ops[i].arg);
			if (ops[i].r != SC_OK)
				snprintf(ops[i].detail, sizeof(ops[i].detail), "%s",
				    sc_err_detail());
		}
		/*
		 * FULL again for this connection's other writes (imports, revocations). The pragma
		 * does no I/O outside a transaction; were it to fail, sync_normal still says NORMAL
		 * and the next registration's sync_for sets it again or fails that registration.
		 */
		if (sync_for(reg, 0) != SC_OK)
			sc_err_clear();
		return;
	}
	if (sem_init(&me.sem, 0, 0) != 0) {
		for (size_t i = 0; i < n; i++) {
			ops[i].r = SC_ERR_INTERNAL;
			snprintf(ops[i].detail, sizeof(ops[i].detail),
			    "registry: group commit: sem_init failed");
		}
		return;
	}
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < n; i++) {
		ops[i].next = NULL;
		ops[i].done = 0;
		ops[i].last = i == n - 1;
		ops[i].owner = &me;
		if (g->tail != NULL)
			g->tail->next = &ops[i];
		else
			g->head = &ops[i];
		g->tail = &ops[i];
		g->ops += ops[i].weight > 0 ? ops[i].weight : 1;
	}
	g->read_queued += (unsigned long)g->reading;
	if ((lead = !g->leader) != 0)
		g->leader = 1;
	pthread_mutex_unlock(&g->mu);
	for (;;) {
		if (!lead) {
			/* One post per wait: done (ops[n - 1].done) or lead. Only a signal retries. */
			while (sem_wait(&me.sem) != 0)
				if (errno != EINTR)
					abort(); /* EINVAL: our own semaphore broken; nothing sane to do */
			if (ops[n - 1].done)
				break;
		}
		lead = group_lead(g, &me);
		if (!lead && ops[n - 1].done)
			break;
	}
	sem_destroy(&me.sem);
}

/* fn(writer, arg) as one durable registration: queued, batched, committed with others. */
static sc_err group_run(struct sqlite_reg *reg, sc_err (*fn)(struct sqlite_reg *w, void *arg),
    void *arg, int deferred)
{
	struct group_op op = { .fn = fn, .arg = arg, .deferred = deferred };

	group_run_many(reg, &op, 1);
	if (op.r != SC_OK)
		return sc_fail(op.r, "%s", op.detail);
	return SC_OK;
}

void sc_reg_sqlite_group_stats(struct sc_reg *reg, unsigned long *ops, unsigned long *commits)
{
	struct reg_group *g = sq(reg)->group;

	*ops = *commits = 0;
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	*ops = g->ops;
	*commits = g->commits;
	pthread_mutex_unlock(&g->mu);
}

void sc_reg_sqlite_group_wakes(struct sc_reg *reg, unsigned long *wakes, unsigned long *handoffs)
{
	struct reg_group *g = sq(reg)->group;

	*wakes = *handoffs = 0;
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	*wakes = g->wakes;
	*handoffs = g->handoffs;
	pthread_mutex_unlock(&g->mu);
}

void sc_reg_sqlite_wal_stats(struct sc_reg *reg, struct sc_reg_wal_stats *out)
{
	struct reg_group *g = sq(reg)->group;

	memset(out, 0, sizeof(*out));
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	*out = g->wal;
	pthread_mutex_unlock(&g->mu);
}

/*
 * ---- hot reads on the idle writer (rdw18, issue 17) ----
 *
 * SQLite's pager drops a connection's whole page cache when it begins a read transaction and
 * finds that another connection committed since its last one. Every registration commits on
 * the group's writer, so each MHD worker's own connection re-read its pages (the profile
 * request's lookup: ~21 pread64 at 1 KiB pages, PERFORMANCE.md 24.1) after every commit, while
 * the writer's own cache stays valid across its own commits. So the hot reads of an enrollment
 * (read_conn's callers: the profile request's pin and pre-check read, its pre-check alone, a
 * pin, a profile) run on the writer when it is idle, and on the thread's own connection else.
 *
 * Idle: no leader (no batch running, none about to, no checkpoint: group_lead keeps the
 * leadership through group_checkpoint), so no op is queued either (the queue is never without
 * a leader). The read takes the leadership itself, under g->mu, exactly as a thread that finds
 * no leader takes it to run a batch: while it reads, a registration that arrives queues and
 * waits as it would behind a batch, and no batch or checkpoint runs on the writer; at its end
 * it hands the leadership on as a batch does (group_next), to the thread heading the queue if
 * any. It never waits for the writer: a leader there, it reads on its own connection as before.
 *
 * Same answers: the idle writer has no transaction open (every batch ends in COMMIT or its
 * rollback; checked, sqlite3_get_autocommit), so its statement begins a read transaction of its
 * own at the newest commit in the WAL index, as the thread's connection would: only committed
 * data, other processes' commits included. The reading code is the same; only the connection
 * differs.
 *
 * Lock order: g->mu is held only to look at and set the leadership and the counters, never
 * across a SQLite call; the leadership (a flag, not a mutex) is taken before the writer's
 * connection is used and given back after, as by batches and checkpoints; groups_mu is never
 * taken meanwhile. The reader connection's own use is unchanged. No new pair of locks is held.
 */
/* 1: a statement on the writer has stepped and not been reset (it keeps its snapshot). */
static int stmt_busy(sqlite3 *db)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st != NULL;
	     st = sqlite3_next_stmt(db, st))
		if (sqlite3_stmt_busy(st))
			return 1;
	return 0;
}

/* Under g->mu: the end of a read's hold on the writer, counted; the next leader, if any. */
static struct group_waiter *read_end(struct reg_group *g)
{
	g->reading = 0;
	g->read_us += (unsigned long)(mono_us() - g->read_t0);
	return group_next(g, NULL);
}

static struct sqlite_reg *read_conn(struct sqlite_reg *reg)
{
	struct reg_group *g = reg->group;
	int take;

	if (g == NULL)
		return reg;
	pthread_mutex_lock(&g->mu);
	/* g->w only once no leader is seen: a leader sets it outside g->mu (group_batch). */
	take = g->writer_reads && !g->leader && g->w != NULL;
	if (take) {
		g->leader = 1;
		g->reading = 1;
		g->read_t0 = mono_us();
		g->reads_w++;
	} else {
		g->reads_r++;
	}
	pthread_mutex_unlock(&g->mu);
	if (!take)
		return reg;
	writer_enter(g);
	/*
	 * A transaction left open or a statement not reset (never after a batch): either keeps an
	 * older snapshot than the newest commit; give the writer back, read on the thread's own.
	 */
	if (!sqlite3_get_autocommit(g->w->db) || stmt_busy(g->w->db)) {
		struct group_waiter *next;

		writer_leave(g);
		pthread_mutex_lock(&g->mu);
		g->reads_w--;
		g->reads_r++;
		g->read_fallback++;
		next = read_end(g);
		pthread_mutex_unlock(&g->mu);
		if (next != NULL)
			sem_post(&next->sem);
		return reg;
	}
	return g->w;
}

/* The end of a read on c (from read_conn): the writer's leadership handed on. */
static void read_done(struct sqlite_reg *reg, struct sqlite_reg *c)
{
	struct reg_group *g = reg->group;
	struct group_waiter *next;

	if (c == reg)
		return;
	writer_leave(g);
	pthread_mutex_lock(&g->mu);
	next = read_end(g);
	pthread_mutex_unlock(&g->mu);
	if (next != NULL)
		sem_post(&next->sem);
}

void sc_reg_sqlite_read_stats(struct sc_reg *reg, struct sc_reg_read_stats *out)
{
	struct reg_group *g = sq(reg)->group;

	memset(out, 0, sizeof(*out));
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	out->on_writer = g->reads_w;
	out->on_own = g->reads_r;
	out->queued = g->read_queued;
	out->held_us = g->read_us;
	out->fallbacks = g->read_fallback;
	pthread_mutex_unlock(&g->mu);
}

int sc_reg_sqlite_writer_hold(struct sc_reg *reg)
{
	struct reg_group *g = sq(reg)->group;
	int took;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->mu);
	if ((took = !g->leader) != 0) {
		g->leader = 1;
		g->held_by = sq(reg);
	}
	pthread_mutex_unlock(&g->mu);
	return took;
}

int sc_reg_sqlite_writer_release(struct sc_reg *reg)
{
	struct reg_group *g = sq(reg)->group;
	struct group_waiter *next;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->mu);
	if (g->held_by != sq(reg)) {
		pthread_mutex_unlock(&g->mu);
		return 0;
	}
	g->held_by = NULL;
	next = group_next(g, NULL);
	pthread_mutex_unlock(&g->mu);
	if (next != NULL)
		sem_post(&next->sem);
	return 1;
}

/*
 * Test-only (weak19): with the writer held by reg (writer_hold), leaves it as read_conn must not
 * read on: how 1, a statement stepped once and not reset (it keeps a read snapshot); 2, a
 * transaction left open (BEGIN); 0, neither (the statement finalized, the transaction rolled
 * back). 1 when done; 0 when reg holds no writer or SQLite refused.
 */
int sc_reg_sqlite_writer_busy(struct sc_reg *reg, int how)
{
	struct reg_group *g = sq(reg)->group;
	int held;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->mu);
	held = g->held_by == sq(reg) && g->w != NULL;
	pthread_mutex_unlock(&g->mu);
	if (!held)
		return 0;
	if (how == 0) {
		sqlite3_finalize(g->test_st);
		g->test_st = NULL;
		if (!sqlite3_get_autocommit(g->w->db))
			(void)sqlite3_exec(g->w->db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (how == 2)
		return sqlite3_exec(g->w->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	if (g->test_st != NULL ||
	    sqlite3_prepare_v2(g->w->db, "SELECT device_id FROM devices", -1, &g->test_st, NULL) !=
	        SQLITE_OK)
		return 0;
	return sqlite3_step(g->test_st) == SQLITE_ROW;
}

/* ---- devices ---- */

/* Insert a device inside the caller's transaction. SC_ERR_EXISTS if it is there. */
static sc_err device_insert(struct sqlite_reg *reg, const char *device_id, const char *note,
    const char *actor, int64_t now, const char *how)
{
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "INSERT INTO devices (device_id, status, note, created_at, updated_at) "
	         "VALUES (?, 'active', ?, ?, ?)",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, device_id);
	bind_text(st, 2, note != NULL ? note : "");
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	rc = sqlite3_step(st);
	done(reg, st);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return sc_fail(SC_ERR_EXISTS, "device %s is already registered", device_id);
	if (rc == SQLITE_CONSTRAINT_TRIGGER) /* devices_one_per_key: the callers looked first */
		return sc_fail(SC_ERR_EXISTS,
		    "device %s is already registered under another spelling", device_id);
	if (rc != SQLITE_DONE)
		return db_fail(reg, "adding a device");
	return audit(reg, now, actor, "device-added", device_id, how);
}

/* The one status of a device, or 0 if it is not registered. */
static sc_err device_status(struct sqlite_reg *reg, const char *device_id,
    enum sc_reg_dev_status *s)
{
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	*s = 0;
	if ((r = prepare(reg, "SELECT status FROM devices WHERE device_id = ?", &st)) != SC_OK)
		return r;
	bind_text(st, 1, device_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*s = status_from_text(sqlite3_column_text(st, 0));
	done(reg, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(reg, "reading a device");
	return SC_OK;
}

/*
 * A device registered under another spelling of device_id's key (sc_reg_device_id_key):
 * *s its status and other its ID, or *s = 0 if none.
 */
static sc_err device_twin(struct sqlite_reg *reg, const char *device_id, char *other,
    size_t other_len, enum sc_reg_dev_status *s)
{
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	*s = 0;
	other[0] = '\0';
	if ((r = prepare(reg,
	         "SELECT device_id, status FROM devices WHERE " DEV_KEY("device_id") " = " DEV_KEY(
	             "?1") " AND device_id <> ?1 ORDER BY device_id LIMIT 1",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, device_id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		copy_col(st, 0, other, other_len);
		*s = status_from_text(sqlite3_column_text(st, 1));
	}
	done(reg, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(reg, "reading a device");
	return SC_OK;
}

static sc_err sq_device_revoke(struct sc_reg *base, const char *device_id, const char *reason,
    const char *actor, int64_t now, int *already)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;
	enum sc_reg_dev_status s = 0;

	*already = 0;
	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = device_status(reg, device_id, &s)) != SC_OK)
		goto out;
	if (s == 0) {
		r = sc_fail(SC_ERR_NOT_FOUND, "device %s is not registered", device_id);
		goto out;
	}
	if (s == SC_REG_DEV_REVOKED) {
		*already = 1; /* nothing to write: out rolls the read back */
		r = SC_OK;
		goto out;
	}
	if ((r = prepare(reg,
	         "UPDATE devices SET status = 'revoked', updated_at = ? WHERE device_id = ?",
	         &st)) != SC_OK)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, device_id);
	r = sqlite3_step(st) == SQLITE_DONE ? SC_OK : db_fail(reg, "revoking");
	done(reg, st);
	st = NULL;
	if (r != SC_OK)
		goto out;
	if ((r = prepare(reg,
	         "INSERT INTO revocations (device_id, reason, revoked_at, actor) VALUES (?, ?, ?, ?)",
	         &st)) != SC_OK)
		goto out;
	bind_text(st, 1, device_id);
	bind_text(st, 2, reason != NULL ? reason : "");
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, actor);
	r = sqlite3_step(st) == SQLITE_DONE ? SC_OK : db_fail(reg, "revocation");
	done(reg, st);
	if (r != SC_OK ||
	    (r = audit(reg, now, actor, "device-revoked", device_id, reason)) != SC_OK)
		goto out;
	r = commit(reg);
out:
	rollback(reg); /* a no-op after the commit */
	return r;
}

/* Fill the counts, revocation and newest certificate of d (d->device_id set). */
static sc_err device_details(struct sqlite_reg *reg, struct sc_reg_device *d)
{
	sqlite3_stmt *st = NULL;
	sc_err r;

	if ((r = prepare(reg,
	         "SELECT (SELECT count(*) FROM profiles WHERE device_id = ?1),"
	         " (SELECT count(*) FROM certificates WHERE device_id = ?1),"
	         " (SELECT revoked_at FROM revocations WHERE device_id = ?1),"
	         " (SELECT reason FROM revocations WHERE device_id = ?1)",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, d->device_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(reg, "device counts");
		done(reg, st);
		return r;
	}
	d->n_profiles = sqlite3_column_int64(st, 0);
	d->n_certs = sqlite3_column_int64(st, 1);
	d->revoked_at = sqlite3_column_int64(st, 2);
	copy_col(st, 3, d->revoke_reason, sizeof(d->revoke_reason));
	done(reg, st);
	if ((r = prepare(reg,
	         "SELECT serial, fingerprint, profile_id, not_before, not_after, registered_at "
	         "FROM certificates WHERE device_id = ? ORDER BY registered_at DESC, rowid DESC LIMIT 1",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, d->device_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		d->has_cert = 1;
		copy_col(st, 0, d->cert_serial, sizeof(d->cert_serial));
		copy_col(st, 1, d->cert_fpr, sizeof(d->cert_fpr));
		copy_col(st, 2, d->cert_profile_id, sizeof(d->cert_profile_id));
		d->cert_not_before = sqlite3_column_int64(st, 3);
		d->cert_not_after = sqlite3_column_int64(st, 4);
		d->cert_registered_at = sqlite3_column_int64(st, 5);
	}
	done(reg, st);
	return SC_OK;
}

static void device_from_row(sqlite3_stmt *st, struct sc_reg_device *d)
{
	memset(d, 0, sizeof(*d));
	copy_col(st, 0, d->device_id, sizeof(d->device_id));
	d->status = status_from_text(sqlite3_column_text(st, 1));
	copy_col(st, 2, d->note, sizeof(d->note));
	d->created_at = sqlite3_column_int64(st, 3);
	d->updated_at = sqlite3_column_int64(st, 4);
}

static sc_err sq_device_get(struct sc_reg *base, const char *device_id, struct sc_reg_device *out)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((r = prepare(reg,
	         "SELECT device_id, status, note, created_at, updated_at FROM devices "
	         "WHERE device_id = ?",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, device_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		device_from_row(st, out);
	done(reg, st);
	if (rc == SQLITE_DONE)
		return sc_fail(SC_ERR_NOT_FOUND, "device %.64s is not registered", device_id);
	if (rc != SQLITE_ROW)
		return db_fail(reg, "reading a device");
	return device_details(reg, out);
}

static sc_err sq_device_list(struct sc_reg *base, enum sc_reg_dev_status status,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_device d;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "SELECT device_id, status, note, created_at, updated_at FROM devices "
	         "WHERE ?1 IS NULL OR status = ?1 ORDER BY device_id",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, status == 0 ? NULL : sc_reg_dev_status_name(status));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		device_from_row(st, &d);
		if ((r = device_details(reg, &d)) != SC_OK)
			goto out;
		if (cb(ctx, &d) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "listing devices");
out:
	done(reg, st);
	return r;
}

/* ---- the activation feed (the CSV parser is import_csv.c's) ---- */

/* ---- profiles ---- */

static sc_err pin_put(struct sqlite_reg *reg, const char *device_id, const struct sc_reg_pin *pin,
    int64_t now, const char *actor);

/*
 * What the checks of precheck and insert read, in one statement (issue 17, req9: it was one
 * each for the device, the rate and the challenge, and every statement outside a transaction is
 * a read transaction of its own, which finds the page cache stale after another connection's
 * write): ?1 the device, ?2 the rate window's start (INT64_MAX: none counted), ?3 the challenge
 * or NULL, ?4 the address of an unauthenticated request (RATE_FROM_SOURCE). Inside
 * profile_insert's BEGIN IMMEDIATE nothing can change between them anyway.
 */
#define CHECK_COLS                                                                      \
	"(SELECT status FROM devices WHERE device_id = ?1), count(*), min(created_at)," \
	" ?3 IS NOT NULL AND EXISTS (SELECT 1 FROM profiles WHERE challenge = ?3)"
#define RATE_FROM_DEVICE \
	" FROM profiles WHERE device_id = ?1 AND created_at > ?2 AND source IS NULL"
#define RATE_FROM_SOURCE " FROM profiles WHERE source = ?4 AND created_at > ?2"

/* The parameters ?1..?4 of a CHECK_COLS statement. */
static void check_bind(sqlite3_stmt *st, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now)
{
	bind_text(st, 1, device_id);
	sqlite3_bind_int64(st, 2, rate != NULL && rate->max > 0 ? now - rate->window_s : INT64_MAX);
	bind_text(st, 3, challenge != NULL && *challenge != '\0' ? challenge : NULL);
	if (source != NULL && *source != '\0')
		bind_text(st, 4, source);
}

/* The CHECK_COLS columns of st's row into *v. */
static void check_cols(sqlite3_stmt *st, struct sc_reg_seen *v)
{
	v->s = sqlite3_column_type(st, 0) == SQLITE_NULL
	    ? 0
	    : status_from_text(sqlite3_column_text(st, 0));
	v->n = sqlite3_column_int64(st, 1);
	v->oldest = sqlite3_column_int64(st, 2);
	v->used = sqlite3_column_int(st, 3) != 0;
}

/*
 * A profile row's values 1..11 (profile_id … created_at), as both its writers insert them: a
 * profile request (sq_profile_insert, 12: its source) and a recovered one (recover_fn).
 */
static void bind_profile_row(sqlite3_stmt *st, const struct sc_reg_profile_rec *rec, int64_t now)
{
	bind_text(st, 1, rec->profile_id);
	bind_text(st, 2, rec->device_id);
	bind_text(st, 3, rec->challenge[0] != '\0' ? rec->challenge : NULL);
	bind_text(st, 4, rec->origin == SC_KEY_SERVER_SUPPLIED ? "server" : "device");
	bind_text(st, 5, sc_alg_name(rec->alg) ? sc_alg_name(rec->alg) : "unknown");
	sqlite3_bind_int64(st, 6, rec->not_before);
	sqlite3_bind_int64(st, 7, rec->not_after);
	sqlite3_bind_int64(st, 8, rec->profile_not_after);
	sqlite3_bind_blob(st, 9, rec->der, (int)rec->der_len, SQLITE_TRANSIENT);
	bind_text(st, 10, rec->chain_pem != NULL ? rec->chain_pem : "");
	sqlite3_bind_int64(st, 11, now);
}

/* The checks shared by precheck and insert: each refusal its own sc_err (registry.h). */
static sc_err profile_checks(struct sqlite_reg *reg, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after)
{
	struct sc_reg_seen v = { 0 };
	sqlite3_stmt *st = NULL;
	int unauth = source != NULL && *source != '\0';
	sc_err r;

	if (retry_after != NULL)
		*retry_after = 0;
	if ((r = prepare(reg,
	         unauth ? "SELECT " CHECK_COLS RATE_FROM_SOURCE
	                : "SELECT " CHECK_COLS RATE_FROM_DEVICE,
	         &st)) != SC_OK)
		return r;
	check_bind(st, device_id, challenge, source, rate, now);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = db_fail(reg, "reading a device's profiles");
		done(reg, st);
		return r;
	}
	check_cols(st, &v);
	done(reg, st);
	return sc_reg_profile_judge(&v, device_id, source, rate, now, retry_after);
}

static sc_err sq_profile_precheck(struct sc_reg *base, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after)
{
	struct sqlite_reg *c = read_conn(sq(base));
	sc_err r = profile_checks(c, device_id, challenge, source, rate, now, retry_after);

	read_done(sq(base), c);
	return r;
}

static void pin_cols(sqlite3_stmt *st, int col, struct sc_reg_pin *out, int *found,
    int *root_match);

/*
 * The device's pins (PIN_COLS, ?5 the root) beside the checks' columns: one statement, one read
 * transaction, where the pin read and the pre-check took two to four. A row per pin (one per
 * root the device was verified under, so one or two, in the primary key's order); the one under
 * ?5 is taken, else the first (the least root hash), as sq_pin_get and PostgreSQL take it. (An
 * ORDER BY … LIMIT 1 subquery here would be materialized into a temporary table on every call.)
 */
#define PIN_COLS                                                                           \
	"p.ca_sha256, p.kek_sha256, p.path_sha256, p.root_sha256, p.ca_spki, p.pinned_at," \
	" p.root_sha256 = ?5, p.chain_verdict"
#define LOOKUP_SQL(rate_from)                                               \
	"SELECT r.*, " PIN_COLS " FROM (SELECT " CHECK_COLS rate_from ") r" \
	" LEFT JOIN device_pins p ON p.device_id = ?1"

static sc_err sq_profile_lookup(struct sc_reg *base, const char *device_id, const char *root_sha256,
    const char *challenge, const char *source, const struct sc_reg_rate *rate, int64_t now,
    struct sc_reg_pin *out, int *found, int *root_match, struct sc_reg_seen *seen)
{
	struct sqlite_reg *reg = read_conn(sq(base));
	sqlite3_stmt *st = NULL;
	int unauth = source != NULL && *source != '\0', rc, rows = 0;
	sc_err r;

	if ((r = prepare(reg, unauth ? LOOKUP_SQL(RATE_FROM_SOURCE) : LOOKUP_SQL(RATE_FROM_DEVICE),
	         &st)) != SC_OK) {
		read_done(sq(base), reg);
		return r;
	}
	check_bind(st, device_id, challenge, source, rate, now);
	bind_text(st, 5, root_sha256);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows++ == 0)
			check_cols(st, seen);
		if (sqlite3_column_type(st, 4) != SQLITE_NULL && !*root_match &&
		    (!*found || sqlite3_column_int(st, 10) != 0))
			pin_cols(st, 4, out, found, root_match);
	}
	done(reg, st);
	/* The aggregate's row is always there: none with SQLITE_DONE is no SQLite error to report. */
	if (rc != SQLITE_DONE)
		r = db_fail(reg, "reading a device and its pin");
	else if (rows == 0)
		r = sc_fail(SC_ERR_STORE_DAMAGED,
		    "reading a device and its pin: registry %s: the checks' query gave no row",
		    reg->path);
	else
		r = SC_OK;
	read_done(sq(base), reg);
	return r;
}

static sc_err profile_insert_on(struct sqlite_reg *reg, struct sc_reg_profile_rec *rec,
    const struct sc_reg_rate *rate, int64_t now, const char *actor, int64_t *retry_after)
{
	sqlite3_stmt *st = NULL;
	char detail[192];
	sc_err r;
	int rc;

	rec->created_at = now;
	rec->consumed_at = 0;
	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = profile_checks(reg, rec->device_id, rec->challenge, rec->source, rate, now,
	         retry_after)) != SC_OK)
		goto out;
	if ((r = prepare(reg,
	         "INSERT INTO profiles (profile_id, device_id, challenge, origin, alg, not_before,"
	         " not_after, profile_not_after, der, chain_pem, created_at, source)"
	         " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
	         &st)) != SC_OK)
		goto out;
	bind_profile_row(st, rec, now);
	bind_text(st, 12, rec->source[0] != '\0' ? rec->source : NULL);
	rc = sqlite3_step(st);
	done(reg, st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		/* Cannot happen after profile_checks inside the same transaction; keep it refused anyway. */
		r = sc_fail(SC_ERR_REPLAY,
		    "challenge already used for a profile (a replayed request)");
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(reg, "recording a profile");
		goto out;
	}
	snprintf(detail, sizeof(detail), "profile %s, %s key %s%s%s", rec->profile_id,
	    rec->origin == SC_KEY_SERVER_SUPPLIED ? "server-generated" : "device-generated",
	    sc_alg_name(rec->alg) ? sc_alg_name(rec->alg) : "?",
	    rec->source[0] != '\0' ? ", unauthenticated request from " : "", rec->source);
	if ((r = audit(reg, now, actor, "profile-issued", rec->device_id, detail)) != SC_OK)
		goto out;
	if (rec->pin != NULL && (r = pin_put(reg, rec->device_id, rec->pin, now, actor)) != SC_OK)
		goto out;
	r = commit(reg);
out:
	rollback(reg); /* a no-op after the commit */
	return r;
}

/* ---- pins (schema 5) ---- */

/* A pin's eight columns from col on (sq_pin_get's order) into *out, *found and *root_match. */
static void pin_cols(sqlite3_stmt *st, int col, struct sc_reg_pin *out, int *found, int *root_match)
{
	const void *spki;
	int64_t v;
	int n;

	memset(out, 0, sizeof(*out));
	copy_col(st, col, out->ca_sha256, sizeof(out->ca_sha256));
	copy_col(st, col + 1, out->kek_sha256, sizeof(out->kek_sha256));
	copy_col(st, col + 2, out->path_sha256, sizeof(out->path_sha256));
	copy_col(st, col + 3, out->root_sha256, sizeof(out->root_sha256));
	spki = sqlite3_column_blob(st, col + 4);
	n = sqlite3_column_bytes(st, col + 4);
	if (spki != NULL && n > 0 && (size_t)n <= sizeof(out->spki)) {
		memcpy(out->spki, spki, (size_t)n);
		out->spki_len = (size_t)n;
	}
	out->pinned_at = sqlite3_column_int64(st, col + 5);
	*root_match = sqlite3_column_int(st, col + 6) == 1;
	v = sqlite3_column_int64(st, col + 7); /* the schema's CHECK: 0..2^32-1 */
	out->chain_verdict = v >= 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
	*found = 1;
}

static sc_err sq_pin_get(struct sc_reg *base, const char *device_id, const char *root_sha256,
    struct sc_reg_pin *out, int *found, int *root_match)
{
	struct sqlite_reg *reg = read_conn(sq(base));
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	/*
	 * Every pin of the device (one per root, so one or two): the root's if any, else the first
	 * (the least root hash, the primary key's order: no sort).
	 */
	if ((r = prepare(reg,
	         "SELECT ca_sha256, kek_sha256, path_sha256, root_sha256, ca_spki, pinned_at,"
	         " root_sha256 = ?, chain_verdict FROM device_pins WHERE device_id = ?"
	         " ORDER BY root_sha256",
	         &st)) != SC_OK) {
		read_done(sq(base), reg);
		return r;
	}
	bind_text(st, 1, root_sha256);
	bind_text(st, 2, device_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!*root_match && (!*found || sqlite3_column_int(st, 6) != 0))
			pin_cols(st, 0, out, found, root_match);
	done(reg, st);
	r = rc != SQLITE_DONE ? db_fail(reg, "reading a device pin") : SC_OK;
	read_done(sq(base), reg);
	return r;
}

/* Inside profile_insert's transaction: the device's pin is this one, or is added as it. */
static sc_err pin_put(struct sqlite_reg *reg, const char *device_id, const struct sc_reg_pin *pin,
    int64_t now, const char *actor)
{
	struct sc_reg_pin have;
	sqlite3_stmt *st = NULL;
	int found = 0, root_match = 0, rc;
	char detail[192];
	sc_err r;

	if ((r = sq_pin_get(&reg->base, device_id, pin->root_sha256, &have, &found, &root_match)) !=
	    SC_OK)
		return r;
	if (found &&
	    (strcmp(have.ca_sha256, pin->ca_sha256) != 0 ||
	        strcmp(have.kek_sha256, pin->kek_sha256) != 0))
		return sc_fail(SC_ERR_PIN_MISMATCH,
		    "device %s is pinned to device CA %.16s… and KEK %.16s…; this request shows "
		    "device CA %.16s… and KEK %.16s…",
		    device_id, have.ca_sha256, have.kek_sha256, pin->ca_sha256, pin->kek_sha256);
	if (root_match)
		return SC_OK;
	if ((r = prepare(reg,
	         "INSERT INTO device_pins (device_id, root_sha256, ca_sha256, kek_sha256,"
	         " path_sha256, ca_spki, pinned_at, chain_verdict) VALUES (?,?,?,?,?,?,?,?)",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, device_id);
	bind_text(st, 2, pin->root_sha256);
	bind_text(st, 3, pin->ca_sha256);
	bind_text(st, 4, pin->kek_sha256);
	bind_text(st, 5, pin->path_sha256);
	sqlite3_bind_blob(st, 6, pin->spki, (int)pin->spki_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, (int64_t)pin->chain_verdict);
	rc = sqlite3_step(st);
	done(reg, st);
	if (rc != SQLITE_DONE)
		return db_fail(reg, "recording a device pin");
	snprintf(detail, sizeof(detail), "device CA %.16s…, KEK %.16s…, root %.16s…",
	    pin->ca_sha256, pin->kek_sha256, pin->root_sha256);
	return audit(reg, now, actor, "device-pinned", device_id, detail);
}

/* The first eight columns of both profile queries (get and list) are the same, in the same order;
 * the caller reads what follows them. */
static void profile_from_row(sqlite3_stmt *st, struct sc_reg_profile_rec *p)
{
	const unsigned char *origin, *alg;

	copy_col(st, 0, p->profile_id, sizeof(p->profile_id));
	copy_col(st, 1, p->device_id, sizeof(p->device_id));
	copy_col(st, 2, p->challenge, sizeof(p->challenge));
	origin = sqlite3_column_text(st, 3);
	p->origin = origin != NULL && strcmp((const char *)origin, "server") == 0
	    ? SC_KEY_SERVER_SUPPLIED
	    : SC_KEY_DEVICE_GENERATED;
	alg = sqlite3_column_text(st, 4);
	if (alg == NULL || sc_alg_from_name((const char *)alg, &p->alg) != SC_OK)
		p->alg = SC_ALG_NONE;
	p->not_before = sqlite3_column_int64(st, 5);
	p->not_after = sqlite3_column_int64(st, 6);
	p->profile_not_after = sqlite3_column_int64(st, 7);
}

static sc_err sq_profile_get(struct sc_reg *base, const char *profile_id,
    struct sc_reg_profile_rec *out)
{
	struct sqlite_reg *reg = read_conn(sq(base));
	sqlite3_stmt *st = NULL;
	sc_err r = SC_ERR_INTERNAL;
	const unsigned char *text;
	const void *blob;
	int rc, n;

	memset(out, 0, sizeof(*out));
	if ((r = prepare(reg,
	         "SELECT profile_id, device_id, challenge, origin, alg, not_before, not_after,"
	         " profile_not_after, der, chain_pem, created_at, consumed_at FROM profiles WHERE profile_id = ?",
	         &st)) != SC_OK) {
		read_done(sq(base), reg);
		return r;
	}
	bind_text(st, 1, profile_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = sc_fail(SC_ERR_NOT_FOUND, "no profile %.32s was issued", profile_id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = db_fail(reg, "reading a profile");
		goto out;
	}
	profile_from_row(st, out);
	/* Pointer first, then its size: the order SQLite documents as safe. */
	blob = sqlite3_column_blob(st, 8);
	n = sqlite3_column_bytes(st, 8);
	if (blob == NULL || n <= 0 || n > SC_PROFILE_MAX_DER ||
	    (out->der = OPENSSL_malloc((size_t)n)) == NULL) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "profile %s: stored DER of %d bytes",
		    out->profile_id, n);
		goto out;
	}
	memcpy(out->der, blob, (size_t)n);
	out->der_len = (size_t)n;
	text = sqlite3_column_text(st, 9);
	n = sqlite3_column_bytes(st, 9);
	if ((out->chain_pem = OPENSSL_malloc((size_t)n + 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile chain");
		goto out;
	}
	memcpy(out->chain_pem, text != NULL ? (const char *)text : "", (size_t)n);
	out->chain_pem[n] = '\0';
	out->created_at = sqlite3_column_int64(st, 10);
	out->consumed_at = sqlite3_column_int64(st, 11);
	r = SC_OK;
out:
	done(reg, st);
	read_done(sq(base), reg);
	if (r != SC_OK)
		sc_reg_profile_rec_clear(out);
	return r;
}

/* ---- certificates ---- */

/*
 * A consumed profile's row for rec's period: the same certificate is *already (SC_OK), another
 * one (or any, for an ordinary profile) SC_ERR_PROFILE_CONSUMED; none: SC_OK, a renewal
 * profile's period still free.
 */
static sc_err period_row(struct sqlite_reg *reg, const struct sc_reg_cert_rec *rec, int *already)
{
	char fpr[SC_REG_FPR_HEX_LEN + 1] = "";
	sqlite3_stmt *st = NULL;
	sc_err r;

	if ((r = prepare(reg,
	         "SELECT fingerprint FROM certificates WHERE profile_id = ? AND period = ?",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, rec->profile_id);
	sqlite3_bind_int64(st, 2, rec->renewal ? (int64_t)rec->period : 0);
	if (sqlite3_step(st) == SQLITE_ROW)
		copy_col(st, 0, fpr, sizeof(fpr));
	done(reg, st);
	if (strcmp(fpr, rec->fpr) == 0) {
		/* The same certificate again: its sender missed our answer. Say yes again. */
		*already = 1;
		return SC_OK;
	}
	if (!rec->renewal || fpr[0] != '\0')
		return sc_fail(SC_ERR_PROFILE_CONSUMED,
		    "profile %s already has a registered certificate%s", rec->profile_id,
		    rec->renewal ? " for this period" : "");
	return SC_OK;
}

/*
 * reg8: the profile row the last certificate recorded in this transaction read, as that
 * certificate left it. A renewal batch's certificates name one profile: the next one takes the
 * row from here instead of reading it again. Only inside the one transaction (which holds the
 * write lock, so nothing else changes the row) and only while every write of it stands: the
 * caller drops it with the transaction. profile_id "": none.
 */
struct prof_memo {
	char profile_id[SC_REG_ID_HEX_LEN + 1];
	char device_id[SC_DEVICE_ID_MAX + 1];
	int64_t consumed_at;
	int64_t crl_next_update; /* crl15: as read with the row */
};

/*
 * One certificate's rows inside the caller's transaction (or savepoint): a refusal (unknown
 * profile, another device's, a revoked device, a consumed profile or period) writes nothing,
 * the failed INSERT rolled back by SQLite itself; SC_ERR_IO leaves the caller to roll back.
 * memo may be NULL.
 */
static sc_err cert_record_rows(struct sqlite_reg *reg, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already, struct prof_memo *memo)
{
	sqlite3_stmt *st = NULL;
	char prof_dev[SC_DEVICE_ID_MAX + 1] = "", detail[256];
	enum sc_reg_dev_status s = 0;
	int64_t consumed = 0;
	sc_err r;
	int rc, insert_first;

	*already = 0;
	rec->registered_at = now;
	if (memo != NULL && strcmp(memo->profile_id, rec->profile_id) == 0) {
		/* The row as this transaction left it: an active device's. */
		rc = SQLITE_ROW;
		snprintf(prof_dev, sizeof(prof_dev), "%s", memo->device_id);
		consumed = memo->consumed_at;
		s = SC_REG_DEV_ACTIVE;
		rec->crl_next_update = memo->crl_next_update;
	} else {
		/* crl15: the device's kept CRL's nextUpdate comes with the row (registry.h). */
		if ((r = prepare(reg,
		         "SELECT p.device_id, p.consumed_at, d.status, c.next_update FROM profiles p "
		         "JOIN devices d ON d.device_id = p.device_id "
		         "LEFT JOIN device_crls c ON c.device_id = p.device_id WHERE p.profile_id = ?",
		         &st)) != SC_OK)
			return r;
		bind_text(st, 1, rec->profile_id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			copy_col(st, 0, prof_dev, sizeof(prof_dev));
			consumed = sqlite3_column_int64(st, 1);
			s = status_from_text(sqlite3_column_text(st, 2));
			rec->crl_next_update = sqlite3_column_type(st, 3) == SQLITE_NULL
			    ? -1
			    : sqlite3_column_int64(st, 3);
		}
		done(reg, st);
		st = NULL;
	}
	if (rc == SQLITE_DONE) {
		r = sc_fail(SC_ERR_PROFILE_UNKNOWN,
		    "the certificate names profile %s, which this server never issued",
		    rec->profile_id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = db_fail(reg, "reading a profile");
		goto out;
	}
	if (strcmp(prof_dev, rec->device_id) != 0) {
		r = sc_fail(SC_ERR_DEVICE_MISMATCH,
		    "profile %s was issued to device %s, the certificate is device %s's",
		    rec->profile_id, prof_dev, rec->device_id);
		goto out;
	}
	if (s != SC_REG_DEV_ACTIVE) {
		r = sc_fail(SC_ERR_REVOKED, "device %s is revoked", rec->device_id);
		goto out;
	}
	/*
	 * A renewal profile (#17) is consumed per period. Its later periods (renew7) try the INSERT
	 * first: UNIQUE (profile_id, period) and the fingerprint's key refuse it exactly when this
	 * period's row exists or the certificate is registered, and only then is the row read, so
	 * the common case is one statement, not two.
	 */
	insert_first = consumed != 0 && rec->renewal;
	if (consumed != 0 && !insert_first) {
		if ((r = period_row(reg, rec, already)) != SC_OK || *already)
			goto out; /* nothing to write */
	}
	if ((r = prepare(reg,
	         "INSERT INTO certificates (fingerprint, serial, device_id, profile_id, not_before,"
	         " not_after, der, registered_at, period) VALUES (?,?,?,?,?,?,?,?,?)",
	         &st)) != SC_OK)
		goto out;
	sqlite3_bind_int64(st, 9, rec->renewal ? (int64_t)rec->period : 0);
	bind_text(st, 1, rec->fpr);
	bind_text(st, 2, rec->serial);
	bind_text(st, 3, rec->device_id);
	bind_text(st, 4, rec->profile_id);
	sqlite3_bind_int64(st, 5, rec->not_before);
	sqlite3_bind_int64(st, 6, rec->not_after);
	sqlite3_bind_blob(st, 7, rec->der, (int)rec->der_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, now);
	rc = sqlite3_step(st);
	done(reg, st);
	st = NULL;
	if (insert_first &&
	    (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)) {
		/* The refused INSERT wrote nothing; this period's row says which refusal it is. */
		if ((r = period_row(reg, rec, already)) != SC_OK || *already)
			goto out;
		rc = SQLITE_CONSTRAINT_PRIMARYKEY; /* no row for this period: another profile's */
	}
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		r = sc_fail(SC_ERR_PROFILE_CONSUMED,
		    "this certificate is already registered for another profile");
		goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(reg, "recording a certificate");
		goto out;
	}
	/* A renewal profile's later periods find it consumed already (#17): the UPDATE would
	 * change no row (its WHERE wants consumed_at NULL), so it is not run (renew7). */
	if (consumed == 0) {
		if ((r = prepare(reg,
		         "UPDATE profiles SET consumed_at = ? WHERE profile_id = ? AND consumed_at "
		         "IS NULL",
		         &st)) != SC_OK)
			goto out;
		sqlite3_bind_int64(st, 1, now);
		bind_text(st, 2, rec->profile_id);
		rc = sqlite3_step(st);
		done(reg, st);
		if (rc != SQLITE_DONE || sqlite3_changes(reg->db) != 1) {
			r = db_fail(reg, "consuming the profile");
			goto out;
		}
	}
	snprintf(detail, sizeof(detail), "certificate %s (serial %s) for profile %s", rec->fpr,
	    rec->serial, rec->profile_id);
	if ((r = audit(reg, now, actor, "certificate-registered", rec->device_id, detail)) != SC_OK)
		goto out;
	if (memo != NULL) {
		snprintf(memo->profile_id, sizeof(memo->profile_id), "%s", rec->profile_id);
		snprintf(memo->device_id, sizeof(memo->device_id), "%s", prof_dev);
		memo->consumed_at = consumed != 0 ? consumed : now;
		memo->crl_next_update = rec->crl_next_update;
	}
	r = SC_OK;
out:
	return r;
}

/* One certificate as its own transaction (or a group batch's savepoint). */
static sc_err cert_record_on(struct sqlite_reg *reg, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already)
{
	sc_err r;

	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = cert_record_rows(reg, rec, now, actor, already, NULL)) == SC_OK)
		r = commit(reg);
	rollback(reg); /* a no-op after the commit */
	return r;
}

static sc_err sq_cert_list(struct sc_reg *base, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_cert_rec *c), void *ctx)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_cert_rec c;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "SELECT fingerprint, serial, device_id, profile_id, not_before, not_after,"
	         " registered_at FROM certificates WHERE device_id = ? ORDER BY registered_at DESC, rowid DESC"
	         " LIMIT ?",
	         &st)) != SC_OK)
		return r;
	bind_device_limit(st, device_id, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		copy_col(st, 0, c.fpr, sizeof(c.fpr));
		copy_col(st, 1, c.serial, sizeof(c.serial));
		copy_col(st, 2, c.device_id, sizeof(c.device_id));
		copy_col(st, 3, c.profile_id, sizeof(c.profile_id));
		c.not_before = sqlite3_column_int64(st, 4);
		c.not_after = sqlite3_column_int64(st, 5);
		c.registered_at = sqlite3_column_int64(st, 6);
		if (cb(ctx, &c) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "listing certificates");
	done(reg, st);
	return r;
}

static sc_err sq_cert_der(struct sc_reg *base, const char *fpr, uint8_t **der, size_t *len)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc, n;

	*der = NULL;
	*len = 0;
	if ((r = prepare(reg, "SELECT der FROM certificates WHERE fingerprint = ?", &st)) != SC_OK)
		return r;
	bind_text(st, 1, fpr);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(st, 0);
		n = sqlite3_column_bytes(st, 0);
		if (blob != NULL && n > 0 && (*der = OPENSSL_malloc((size_t)n)) != NULL) {
			memcpy(*der, blob, (size_t)n);
			*len = (size_t)n;
			r = SC_OK;
		} else {
			r = sc_fail(SC_ERR_NOMEM, "certificate %s", fpr);
		}
	} else if (rc == SQLITE_DONE) {
		r = sc_fail(SC_ERR_NOT_FOUND, "no certificate %.64s", fpr);
	} else {
		r = db_fail(reg, "reading a certificate");
	}
	done(reg, st);
	return r;
}

static sc_err sq_crl_put(struct sc_reg *base, const struct sc_reg_crl_rec *rec, int64_t now,
    int *stored)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;

	/* Only a higher number replaces: a CRL arriving late (or replayed) changes nothing. */
	if ((r = prepare(reg,
	         "INSERT INTO device_crls (device_id, crl_number, next_update, der, updated_at)"
	         " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM devices"
	         "  WHERE device_id = ?1 AND status = 'active')"
	         " ON CONFLICT (device_id) DO UPDATE SET crl_number = excluded.crl_number,"
	         "  next_update = excluded.next_update, der = excluded.der,"
	         "  updated_at = excluded.updated_at"
	         "  WHERE excluded.crl_number > device_crls.crl_number",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, rec->device_id);
	sqlite3_bind_int64(st, 2, (int64_t)rec->number);
	sqlite3_bind_int64(st, 3, rec->next_update);
	sqlite3_bind_blob(st, 4, rec->der, (int)rec->der_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) == SQLITE_DONE) {
		*stored = sqlite3_changes(reg->db) > 0;
		r = SC_OK;
	} else {
		r = db_fail(reg, "keeping a device CRL");
	}
	done(reg, st);
	return r;
}

static sc_err sq_crl_list(struct sc_reg *base, int64_t now, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_crl_rec *c), void *ctx)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_crl_rec c;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "SELECT c.device_id, c.crl_number, c.next_update, c.der FROM device_crls c"
	         " JOIN devices d ON d.device_id = c.device_id"
	         " WHERE d.status = 'active' AND c.next_update > ?1 ORDER BY c.device_id LIMIT ?2",
	         &st)) != SC_OK)
		return r;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, limit == 0 ? -1 : (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		copy_col(st, 0, c.device_id, sizeof(c.device_id));
		c.number = (uint64_t)sqlite3_column_int64(st, 1);
		c.next_update = sqlite3_column_int64(st, 2);
		c.der = sqlite3_column_blob(st, 3);
		c.der_len = (size_t)sqlite3_column_bytes(st, 3);
		if (c.der == NULL || c.der_len == 0 || c.der_len > SC_REG_CRL_MAX_DER)
			continue;
		if (cb(ctx, &c) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "listing device CRLs");
	done(reg, st);
	return r;
}

static sc_err sq_audit_list(struct sc_reg *base, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_audit_rec a;
	sc_err r;
	int rc;

	/* The newest `limit`, printed oldest first. */
	/* Two statements, not "?1 IS NULL OR …": that would keep SQLite from the device's index. */
	if ((r = prepare(reg,
	         device_id == NULL
	             ? "SELECT seq, at, actor, event, device_id, detail FROM ("
	               " SELECT * FROM audit ORDER BY seq DESC LIMIT ?2) ORDER BY seq"
	             : "SELECT seq, at, actor, event, device_id, detail FROM ("
	               " SELECT * FROM audit WHERE device_id = ?1 ORDER BY seq DESC LIMIT ?2"
	               ") ORDER BY seq",
	         &st)) != SC_OK)
		return r;
	bind_device_limit(st, device_id, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a.seq = sqlite3_column_int64(st, 0);
		a.at = sqlite3_column_int64(st, 1);
		a.actor = (const char *)sqlite3_column_text(st, 2);
		a.event = (const char *)sqlite3_column_text(st, 3);
		a.device_id = (const char *)sqlite3_column_text(st, 4);
		a.detail = (const char *)sqlite3_column_text(st, 5);
		if (cb(ctx, &a) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "reading the audit log");
	done(reg, st);
	return r;
}

/* ---- the operator's pages ---- */

static sc_err sq_device_page(struct sc_reg *base, const struct sc_reg_query *q,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx, int *more)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_device d;
	char lower[SC_DEVICE_ID_MAX + 2], upper[SC_DEVICE_ID_MAX + 1];
	size_t n = 0, plen;
	sc_err r;
	int rc;

	/*
	 * Keyset paging on the primary key (ORDER BY device_id from a lower bound): each page is a
	 * range of its index, however deep — which holds only while the range is one plain pair of
	 * comparisons: an "?3 IS NULL OR …", or two lower bounds, make SQLite scan from the first
	 * device. So the bounds are worked out here. Lower, inclusive: the cursor followed by \x01
	 * (no device ID lies between the two: none holds a byte below a space), or the prefix if
	 * that is greater, or ''. Upper, exclusive: the prefix with its last byte + 1, or DEL
	 * (0x7f, past every PrintableString character). The prefix is compared as bytes (substr,
	 * never LIKE: no wildcard in a device ID means anything). One row past the page: *more.
	 */
	if ((r = prepare(reg,
	         "SELECT device_id, status, note, created_at, updated_at FROM devices d"
	         " WHERE device_id >= ?3 AND device_id < ?6"
	         " AND substr(device_id, 1, length(?2)) = ?2"
	         " AND (?1 IS NULL OR status = ?1)"
	         " AND (?4 IS NULL OR (SELECT c.not_after FROM certificates c"
	         "  WHERE c.device_id = d.device_id ORDER BY c.registered_at DESC, c.rowid DESC"
	         "  LIMIT 1) < ?4)"
	         " ORDER BY device_id LIMIT ?5",
	         &st)) != SC_OK)
		return r;
	lower[0] = '\0';
	if (q->after != NULL)
		snprintf(lower, sizeof(lower), "%s\x01", q->after);
	if (q->id_prefix != NULL && strcmp(q->id_prefix, lower) > 0)
		snprintf(lower, sizeof(lower), "%s", q->id_prefix);
	snprintf(upper, sizeof(upper), "\x7f");
	if (q->id_prefix != NULL && (plen = strlen(q->id_prefix)) > 0 &&
	    (unsigned char)q->id_prefix[plen - 1] < 0x7e) {
		memcpy(upper, q->id_prefix, plen + 1);
		upper[plen - 1]++;
	}
	bind_text(st, 1, q->status == 0 ? NULL : sc_reg_dev_status_name(q->status));
	bind_text(st, 2, q->id_prefix != NULL ? q->id_prefix : "");
	bind_text(st, 3, lower);
	bind_text(st, 6, upper);
	if (q->expiring_before != 0)
		sqlite3_bind_int64(st, 4, q->expiring_before);
	sqlite3_bind_int64(st, 5, (int64_t)q->limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == q->limit) {
			*more = 1;
			break;
		}
		device_from_row(st, &d);
		if ((r = device_details(reg, &d)) != SC_OK)
			goto out;
		if (cb(ctx, &d) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "listing devices");
out:
	done(reg, st);
	return r;
}

static sc_err sq_profile_list(struct sc_reg *base, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_profile_rec *p), void *ctx)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_profile_rec p;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "SELECT profile_id, device_id, challenge, origin, alg, not_before, not_after,"
	         " profile_not_after, created_at, consumed_at FROM profiles WHERE device_id = ?"
	         " ORDER BY created_at DESC, rowid DESC LIMIT ?",
	         &st)) != SC_OK)
		return r;
	bind_device_limit(st, device_id, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		profile_from_row(st, &p);
		p.created_at = sqlite3_column_int64(st, 8);
		p.consumed_at = sqlite3_column_int64(st, 9);
		if (cb(ctx, &p) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "listing profiles");
	done(reg, st);
	return r;
}

static sc_err sq_audit_add(struct sc_reg *base, int64_t now, const char *actor, const char *event,
    const char *device_id, const char *detail)
{
	struct sqlite_reg *reg = sq(base);
	sc_err r;

	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = audit(reg, now, actor, event, device_id, detail)) != SC_OK)
		goto out;
	r = commit(reg);
out:
	rollback(reg); /* a no-op after the commit */
	return r;
}

/* One writer at a time: seq order is commit order, and the cursor is the last seq. */
static sc_err sq_audit_follow(struct sc_reg *base, struct sc_reg_audit_cursor *cur, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_audit_rec a;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "SELECT seq, at, actor, event, device_id, detail FROM audit WHERE seq > ?1 "
	         "ORDER BY seq LIMIT ?2",
	         &st)) != SC_OK)
		return r;
	sqlite3_bind_int64(st, 1, cur->b);
	sqlite3_bind_int64(st, 2, limit == 0 ? 1000 : (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		a.seq = sqlite3_column_int64(st, 0);
		a.at = sqlite3_column_int64(st, 1);
		a.actor = (const char *)sqlite3_column_text(st, 2);
		a.event = (const char *)sqlite3_column_text(st, 3);
		a.device_id = (const char *)sqlite3_column_text(st, 4);
		a.detail = (const char *)sqlite3_column_text(st, 5);
		cur->a = 0;
		cur->b = a.seq;
		if (cb(ctx, &a) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "reading the audit log");
	done(reg, st);
	return r;
}

static sc_err sq_counts(struct sc_reg *base, struct sc_reg_counts *out)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;

	/*
	 * sq17mend: a bare count(*) reads the index SQLite deems smallest, which since schema 9
	 * is the challenges' (profiles) and the fingerprints' (certificates) unique index, ~23 %
	 * more pages at 1 KiB than the two below (EXPLAIN QUERY PLAN: covering searches of
	 * profiles_by_source, mostly NULL sources, and of certificates_by_device). The same
	 * figures: every profile's source is NULL or not, every certificate has a device_id.
	 */
	memset(out, 0, sizeof(*out));
	if ((r = prepare(reg,
	         "SELECT (SELECT count(*) FROM devices WHERE status = 'active'),"
	         " (SELECT count(*) FROM devices WHERE status = 'revoked'),"
	         " (SELECT count(*) FROM profiles WHERE source IS NULL)"
	         "  + (SELECT count(*) FROM profiles WHERE source IS NOT NULL),"
	         " (SELECT count(*) FROM profiles WHERE consumed_at IS NOT NULL),"
	         " (SELECT count(*) FROM certificates WHERE device_id IS NOT NULL),"
	         " (SELECT count(*) FROM revocations),"
	         " (SELECT count(*) FROM audit)",
	         &st)) != SC_OK)
		return r;
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->devices_active = sqlite3_column_int64(st, 0);
		out->devices_revoked = sqlite3_column_int64(st, 1);
		out->profiles = sqlite3_column_int64(st, 2);
		out->profiles_consumed = sqlite3_column_int64(st, 3);
		out->certificates = sqlite3_column_int64(st, 4);
		out->revocations = sqlite3_column_int64(st, 5);
		out->audit = sqlite3_column_int64(st, 6);
		r = SC_OK;
	} else {
		r = db_fail(reg, "counts");
	}
	done(reg, st);
	return r;
}

static sc_err sq_check(struct sc_reg *base)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	char first[200] = "";
	sc_err r;
	int rc;

	if ((r = prepare(reg, "PRAGMA quick_check", &st)) != SC_OK)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		copy_col(st, 0, first, sizeof(first));
	done(reg, st);
	if (rc != SQLITE_ROW)
		return db_fail(reg, "quick_check");
	if (strcmp(first, "ok") != 0)
		return sc_fail(SC_ERR_STORE_DAMAGED, "registry %s: %s", reg->path, first);
	if ((r = prepare(reg, "PRAGMA foreign_key_check", &st)) != SC_OK)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(first, sizeof(first), "table %s row %lld breaks a foreign key",
		    (const char *)sqlite3_column_text(st, 0),
		    (long long)sqlite3_column_int64(st, 1));
	done(reg, st);
	if (rc == SQLITE_ROW)
		return sc_fail(SC_ERR_STORE_DAMAGED, "registry %s: %s", reg->path, first);
	if (rc != SQLITE_DONE)
		return db_fail(reg, "foreign_key_check");
	return SC_OK;
}

/* ---- the two registrations, through the group commit ---- */

struct profile_insert_args {
	struct sc_reg_profile_rec *rec;
	const struct sc_reg_rate *rate;
	int64_t now;
	const char *actor;
	int64_t *retry_after;
};

static sc_err profile_insert_fn(struct sqlite_reg *w, void *arg)
{
	struct profile_insert_args *a = arg;

	return profile_insert_on(w, a->rec, a->rate, a->now, a->actor, a->retry_after);
}

static sc_err sq_profile_insert(struct sc_reg *base, struct sc_reg_profile_rec *rec,
    const struct sc_reg_rate *rate, int64_t now, const char *actor, int64_t *retry_after)
{
	struct profile_insert_args a = { rec, rate, now, actor, retry_after };

	return group_run(sq(base), profile_insert_fn, &a, rec->deferred_commit);
}

struct cert_record_args {
	struct sc_reg_cert_rec *rec;
	int64_t now;
	const char *actor;
	int *already;
};

static sc_err cert_record_fn(struct sqlite_reg *w, void *arg)
{
	struct cert_record_args *a = arg;

	return cert_record_on(w, a->rec, a->now, a->actor, a->already);
}

struct cert_many_args {
	struct sc_reg_cert_rec *recs;
	size_t n;
	int64_t now;
	const char *actor;
	struct sc_reg_cert_outcome *out;
};

/*
 * reg8: one request's certificates as one operation, in one transaction (or one savepoint of a
 * group batch), the profile row read once (prof_memo). A refusal writes nothing (it comes
 * before any write, or from the INSERT SQLite rolls back itself) and the others go on, as
 * before; a failure of the database rolls back every certificate of the request, which then
 * fails as a whole (provd fails a batch request for any one of its records' server trouble
 * anyway). Before, each certificate had its own savepoint, which copied every page it touched
 * to the savepoint journal again: the same pages, certificate after certificate.
 */
static sc_err cert_many_fn(struct sqlite_reg *w, void *arg)
{
	struct cert_many_args *a = arg;
	struct prof_memo memo;
	sc_err r;

	memset(&memo, 0, sizeof(memo));
	if ((r = begin(w)) != SC_OK)
		return r;
	for (size_t i = 0; i < a->n; i++) {
		r = cert_record_rows(w, &a->recs[i], a->now, a->actor, &a->out[i].already, &memo);
		if (r == SC_ERR_IO || r == SC_ERR_NOMEM || r == SC_ERR_INTERNAL)
			goto out;
		a->out[i].r = r;
		if (r != SC_OK) {
			snprintf(a->out[i].detail, sizeof(a->out[i].detail), "%s", sc_err_detail());
			sc_err_clear();
		}
	}
	r = commit(w);
out:
	rollback(w); /* a no-op after the commit */
	return r;
}

static sc_err sq_cert_record(struct sc_reg *base, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already)
{
	struct cert_record_args a = { rec, now, actor, already };

	*already = 0;
	return group_run(sq(base), cert_record_fn, &a, 0);
}

static sc_err sq_cert_record_many(struct sc_reg *base, struct sc_reg_cert_rec *recs, size_t n,
    int64_t now, const char *actor, struct sc_reg_cert_outcome *out)
{
	struct cert_many_args a = { recs, n, now, actor, out };
	struct group_op op = { .fn = cert_many_fn, .arg = &a, .weight = n };

	memset(out, 0, n * sizeof(*out));
	group_run_many(sq(base), &op, 1);
	for (size_t i = 0; i < n; i++) {
		/* The whole operation failed: nothing of it was written; a record refused before
		 * keeps its refusal, every other one says why the operation failed. */
		if (op.r != SC_OK && out[i].r == SC_OK) {
			out[i].r = op.r;
			snprintf(out[i].detail, sizeof(out[i].detail), "%s", op.detail);
		}
		/* A refused or failed record was not written: nothing "already" about it. */
		if (out[i].r != SC_OK)
			out[i].already = 0;
	}
	return SC_OK;
}

/* ---- the console (issue 18) ---- */

static sc_err sq_session_put(struct sc_reg *base, const char *id_hash,
    const struct sc_reg_session *s, int64_t now)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = prepare(reg, "DELETE FROM console_sessions WHERE expires_at <= ?", &st)) != SC_OK)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	done(reg, st);
	if (rc != SQLITE_DONE) {
		r = db_fail(reg, "expired sessions");
		goto out;
	}
	if ((r = prepare(reg,
	         "INSERT INTO console_sessions (id_hash, operator, csrf, created_at, expires_at)"
	         " VALUES (?, ?, ?, ?, ?)",
	         &st)) != SC_OK)
		goto out;
	bind_text(st, 1, id_hash);
	bind_text(st, 2, s->operator_name);
	bind_text(st, 3, s->csrf);
	sqlite3_bind_int64(st, 4, s->created_at);
	sqlite3_bind_int64(st, 5, s->expires_at);
	rc = sqlite3_step(st);
	done(reg, st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		r = sc_fail(SC_ERR_EXISTS, "session ID taken");
	else if (rc != SQLITE_DONE)
		r = db_fail(reg, "new session");
	else
		r = commit(reg);
out:
	rollback(reg);
	return r;
}

static sc_err sq_session_get(struct sc_reg *base, const char *id_hash, int64_t now,
    struct sc_reg_session *out)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;
	int rc;

	if ((r = prepare(reg,
	         "SELECT operator, csrf, created_at, expires_at FROM console_sessions"
	         " WHERE id_hash = ? AND expires_at > ?",
	         &st)) != SC_OK)
		return r;
	bind_text(st, 1, id_hash);
	sqlite3_bind_int64(st, 2, now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		copy_col(st, 0, out->operator_name, sizeof(out->operator_name));
		copy_col(st, 1, out->csrf, sizeof(out->csrf));
		out->created_at = sqlite3_column_int64(st, 2);
		out->expires_at = sqlite3_column_int64(st, 3);
		r = SC_OK;
	} else if (rc == SQLITE_DONE) {
		r = sc_fail(SC_ERR_NOT_FOUND, "no such session (signed out or expired)");
	} else {
		r = db_fail(reg, "session");
	}
	done(reg, st);
	return r;
}

static sc_err sq_session_end(struct sc_reg *base, const char *id_hash)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	sc_err r;

	if ((r = prepare(reg, "DELETE FROM console_sessions WHERE id_hash = ?", &st)) != SC_OK)
		return r;
	bind_text(st, 1, id_hash);
	r = sqlite3_step(st) == SQLITE_DONE ? SC_OK : db_fail(reg, "sign-out");
	done(reg, st);
	return r;
}

/*
 * The overview, from the rows the schema's triggers keep (step 4): a device's newest
 * certificate is the last one registered, as device_details orders them (by registration time,
 * then insertion) while the clock does not step back.
 */
static sc_err sq_fleet(struct sc_reg *base, int64_t now, size_t hours, struct sc_reg_fleet *out)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	int64_t v[10];
	sc_err r;
	int rc;

	/*
	 * Counts of index ranges, each of which SQLite runs on the index alone (a sum() over the
	 * same rows costs twice their time: it decodes every entry): the devices, device_expiry's
	 * ranges; then the revoked devices (few: walked from devices_by_status, CROSS JOIN keeping
	 * that order) taken out.
	 */
	if ((r = prepare(reg,
	         "SELECT (SELECT count(*) FROM devices) - (SELECT count(*) FROM devices"
	         "  WHERE status = 'revoked'), (SELECT count(*) FROM devices WHERE status = 'revoked'),"
	         " (SELECT count(*) FROM device_expiry),"
	         " (SELECT count(*) FROM device_expiry WHERE not_after >= ?1),"
	         " (SELECT count(*) FROM device_expiry WHERE not_after BETWEEN ?1 AND ?1 + 86400),"
	         " (SELECT count(*) FROM device_expiry WHERE not_after BETWEEN ?1 AND ?1 + 604800),"
	         " count(e.device_id), coalesce(sum(e.not_after >= ?1), 0),"
	         " coalesce(sum(e.not_after BETWEEN ?1 AND ?1 + 86400), 0),"
	         " coalesce(sum(e.not_after BETWEEN ?1 AND ?1 + 604800), 0)"
	         " FROM devices d CROSS JOIN device_expiry e ON e.device_id = d.device_id"
	         " WHERE d.status = 'revoked'",
	         &st)) != SC_OK)
		return r;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < 10; i++)
			v[i] = sqlite3_column_int64(st, i);
		out->devices_active = v[0];
		out->devices_revoked = v[1];
		out->never_enrolled = v[0] - (v[2] - v[6]);
		out->expired = (v[2] - v[6]) - (v[3] - v[7]);
		out->expiring_24h = v[4] - v[8];
		out->expiring_7d = v[5] - v[9];
	} else {
		r = db_fail(reg, "fleet counts");
	}
	done(reg, st);
	if (r != SC_OK)
		return r;
	if ((r = prepare(reg,
	         "SELECT hour, profiles, certificates FROM console_hourly WHERE hour >= ?1",
	         &st)) != SC_OK)
		return r;
	sqlite3_bind_int64(st, 1, out->start / 3600);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t h = sqlite3_column_int64(st, 0) - out->start / 3600;

		if (h >= 0 && (size_t)h < hours) {
			out->profiles[h] = sqlite3_column_int64(st, 1);
			out->certificates[h] = sqlite3_column_int64(st, 2);
		}
	}
	r = rc == SQLITE_DONE ? SC_OK : db_fail(reg, "hourly counts");
	done(reg, st);
	return r;
}

/*
 * A page of the audit log. The statement is built from the filters given (at most 32 shapes,
 * each kept compiled): an "?N IS NULL OR …" would keep SQLite from the index a filter needs
 * (by event, by device), and an absent one costs nothing. Newest first from the cursor.
 */
static sc_err sq_audit_page(struct sc_reg *base, const struct sc_reg_audit_query *q,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx, int *more)
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *st = NULL;
	struct sc_reg_audit_rec a;
	char sql[512];
	size_t n = 0;
	sc_err r;
	int rc;

	/*
	 * A window of at most 31 days with no event or device filter reads its rows from the
	 * time index and sorts them (a month of a busy year: tens of thousands); otherwise the
	 * newest-first walk of the log stops after a page, which a closed window far in the past
	 * would make a walk over every newer row.
	 */
	snprintf(sql, sizeof(sql),
	    "SELECT seq, at, actor, event, device_id, detail FROM audit%s WHERE seq < ?1%s%s%s%s%s"
	    " ORDER BY seq DESC LIMIT ?7",
	    q->since != 0 && q->until != 0 && q->until - q->since <= 31 * 86400 &&
	            q->event == NULL && q->device_id == NULL
	        ? " INDEXED BY audit_by_time"
	        : "",
	    q->event != NULL ? " AND event = ?2" : "",
	    q->device_id != NULL ? " AND device_id = ?3" : "",
	    q->actor != NULL ? " AND substr(actor, 1, length(?4)) = ?4" : "",
	    q->since != 0 ? " AND at >= ?5" : "", q->until != 0 ? " AND at < ?6" : "");
	if ((r = prepare(reg, sql, &st)) != SC_OK)
		return r;
	sqlite3_bind_int64(st, 1, q->before != 0 ? q->before : INT64_MAX);
	if (q->event != NULL)
		bind_text(st, 2, q->event);
	if (q->device_id != NULL)
		bind_text(st, 3, q->device_id);
	if (q->actor != NULL)
		bind_text(st, 4, q->actor);
	if (q->since != 0)
		sqlite3_bind_int64(st, 5, q->since);
	if (q->until != 0)
		sqlite3_bind_int64(st, 6, q->until);
	sqlite3_bind_int64(st, 7, (int64_t)q->limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == q->limit) {
			*more = 1;
			break;
		}
		a.seq = sqlite3_column_int64(st, 0);
		a.at = sqlite3_column_int64(st, 1);
		a.actor = (const char *)sqlite3_column_text(st, 2);
		a.event = (const char *)sqlite3_column_text(st, 3);
		a.device_id = (const char *)sqlite3_column_text(st, 4);
		a.detail = (const char *)sqlite3_column_text(st, 5);
		if (cb(ctx, &a) != 0)
			break;
	}
	r = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SC_OK : db_fail(reg, "reading the audit log");
	done(reg, st);
	return r;
}

/* ---- activation with the device's certificates (issue 17, act8) ---- */

/* Why a registered device (status s, twin its other spelling or "") refuses this row. */
static sc_err activation_conflict(int import, const char *source, const struct sc_reg_row *row,
    enum sc_reg_dev_status s, const char *twin)
{
	if (import)
		return sc_fail(SC_ERR_MALFORMED,
		    "%s:%zu: device %s is registered as %s: device IDs are the same ignoring case "
		    "and runs of spaces",
		    source, row->line, row->device_id, twin);
	if (twin[0] != '\0')
		return sc_fail(SC_ERR_EXISTS,
		    "device %s is already registered as %s (%s): device IDs are the same ignoring "
		    "case and runs of spaces",
		    row->device_id, twin, sc_reg_dev_status_name(s));
	return sc_fail(SC_ERR_EXISTS, "device %s is already registered (%s)", row->device_id,
	    sc_reg_dev_status_name(s));
}

/*
 * `net device add`'s (import 0) or the CSV import's (import 1) transaction, with each row's pin
 * put as profile_insert puts a first contact's (pin_put): the whole activation, its pins and their audit rows commit
 * together or not at all.
 */
static sc_err sq_activate_rows(struct sc_reg *base, sc_reg_next_row next, void *ctx, int import,
    const char *source, const char *actor, int64_t now, size_t *added, size_t *skipped,
    char refused[SC_DEVICE_ID_MAX + 1])
{
	struct sqlite_reg *reg = sq(base);
	sqlite3_stmt *seen = NULL;
	struct sc_reg_row row;
	enum sc_reg_dev_status s;
	char how[64], detail[SC_REG_CSV_LINE_MAX + 96], twin[SC_DEVICE_ID_MAX + 1];
	size_t pinned = 0;
	int more;
	sc_err r;

	*added = *skipped = 0;
	refused[0] = '\0';
	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = exec(reg,
	         "CREATE TEMP TABLE IF NOT EXISTS import_seen (device_id TEXT PRIMARY KEY);"
	         "DELETE FROM import_seen",
	         "activation")) != SC_OK ||
	    (r = prepare(reg, "INSERT INTO import_seen (device_id) VALUES (" DEV_KEY("?") ")",
	         &seen)) != SC_OK)
		goto out;
	for (;;) {
		if ((r = next(ctx, &row, &more)) != SC_OK)
			goto out;
		if (!more)
			break;
		sqlite3_reset(seen);
		bind_text(seen, 1, row.device_id);
		if (sqlite3_step(seen) != SQLITE_DONE) {
			r = import
			    ? sc_fail(SC_ERR_MALFORMED,
			          "%s:%zu: device %s appears twice in the file", source, row.line,
			          row.device_id)
			    : sc_fail(SC_ERR_USAGE, "--device-id %s given twice", row.device_id);
			goto out;
		}
		twin[0] = '\0';
		if ((r = device_status(reg, row.device_id, &s)) != SC_OK)
			goto out;
		if (s == 0 &&
		    (r = device_twin(reg, row.device_id, twin, sizeof(twin), &s)) != SC_OK)
			goto out;
		if (s != 0 && (!import || twin[0] != '\0')) {
			r = activation_conflict(import, source, &row, s, twin);
			goto out;
		}
		if (s != 0) {
			(*skipped)++; /* registered: left as it is; its pin is still checked below */
		} else {
			if (import)
				snprintf(how, sizeof(how), "imported, line %zu%s", row.line,
				    row.pin != NULL ? ", with its certificates" : "");
			else
				snprintf(how, sizeof(how), "added%s",
				    row.pin != NULL ? " with its certificates" : "");
			if ((r = device_insert(reg, row.device_id, row.note, actor, now, how)) !=
			    SC_OK)
				goto out;
			(*added)++;
		}
		if (row.pin == NULL)
			continue;
		if ((r = pin_put(reg, row.device_id, row.pin, now, actor)) == SC_ERR_PIN_MISMATCH)
			snprintf(refused, SC_DEVICE_ID_MAX + 1, "%s", row.device_id);
		if (r != SC_OK)
			goto out;
		pinned++;
	}
	if (import) {
		/* A plain import's row reads as it always has; the pins are counted when any. */
		if (pinned == 0)
			snprintf(detail, sizeof(detail), "%s: %zu added, %zu already registered",
			    source, *added, *skipped);
		else
			snprintf(detail, sizeof(detail),
			    "%s: %zu added, %zu already registered, %zu with certificates", source,
			    *added, *skipped, pinned);
		if ((r = audit(reg, now, actor, "devices-imported", NULL, detail)) != SC_OK)
			goto out;
	}
	done(reg, seen);
	seen = NULL;
	r = commit(reg);
out:
	done(reg, seen);
	if (r != SC_OK) {
		rollback(reg);
		*added = *skipped = 0;
	}
	return r;
}

/* ---- #17 (dur11): a lost profile recorded with its certificate ---- */

struct recover_args {
	struct sc_reg_profile_rec *prof;
	struct sc_reg_cert_rec *cert;
	int64_t now;
	const char *actor;
	int *recovered, *already;
};

/*
 * sc_reg_profile_recover's transaction (or a group batch's savepoint): the device's status,
 * the profile's row, then either the profile's insert, its audit row and the certificate's
 * record (cert_record_rows consumes the profile), or, the row being there, the certificate's
 * record alone. A refusal writes nothing: the savepoint rolls back.
 */
static sc_err recover_fn(struct sqlite_reg *w, void *arg)
{
	struct recover_args *a = arg;
	struct sc_reg_profile_rec *rec = a->prof;
	enum sc_reg_dev_status s = 0;
	sqlite3_stmt *st = NULL;
	char detail[256];
	sc_err r;
	int rc;

	*a->recovered = 0;
	*a->already = 0;
	if ((r = begin(w)) != SC_OK)
		return r;
	if ((r = device_status(w, rec->device_id, &s)) != SC_OK)
		goto out;
	if (s == 0) {
		r = sc_fail(SC_ERR_UNKNOWN_DEVICE, "device %s is not registered (not activated)",
		    rec->device_id);
		goto out;
	}
	if (s != SC_REG_DEV_ACTIVE) {
		r = sc_fail(SC_ERR_REVOKED, "device %s is revoked", rec->device_id);
		goto out;
	}
	/* dur11 review: the pin compared in the writer's transaction (a pin made meanwhile). */
	if (rec->pin != NULL) {
		if ((r = prepare(w,
		         "SELECT 1 FROM device_pins WHERE device_id = ? AND ca_sha256 <> ? LIMIT 1",
		         &st)) != SC_OK)
			goto out;
		bind_text(st, 1, rec->device_id);
		bind_text(st, 2, rec->pin->ca_sha256);
		rc = sqlite3_step(st);
		done(w, st);
		st = NULL;
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			r = db_fail(w, "reading a device pin");
			goto out;
		}
		if (rc == SQLITE_ROW) {
			r = sc_fail(SC_ERR_PIN_MISMATCH,
			    "field \"chain\": device %s is pinned to another device CA",
			    rec->device_id);
			goto out;
		}
	}
	if ((r = prepare(w, "SELECT 1 FROM profiles WHERE profile_id = ?", &st)) != SC_OK)
		goto out;
	bind_text(st, 1, rec->profile_id);
	rc = sqlite3_step(st);
	done(w, st);
	st = NULL;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = db_fail(w, "reading a profile");
		goto out;
	}
	if (rc == SQLITE_DONE) {
		rec->created_at = a->now;
		rec->consumed_at = 0;
		if ((r = prepare(w,
		         "INSERT INTO profiles (profile_id, device_id, challenge, origin, alg,"
		         " not_before, not_after, profile_not_after, der, chain_pem, created_at,"
		         " source) VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL)",
		         &st)) != SC_OK)
			goto out;
		bind_profile_row(st, rec, a->now);
		rc = sqlite3_step(st);
		done(w, st);
		st = NULL;
		if (rc == SQLITE_CONSTRAINT_UNIQUE) {
			r = sc_fail(SC_ERR_REPLAY,
			    "profile %s: its challenge is another profile's (a replayed profile)",
			    rec->profile_id);
			goto out;
		}
		if (rc != SQLITE_DONE) {
			r = db_fail(w, "recording a recovered profile");
			goto out;
		}
		snprintf(detail, sizeof(detail),
		    "profile %s recovered: sent back with its certificate %s, signed by this network",
		    rec->profile_id, a->cert->fpr);
		if ((r = audit(w, a->now, a->actor, "profile-recovered", rec->device_id, detail)) !=
		    SC_OK)
			goto out;
		*a->recovered = 1;
	}
	if ((r = cert_record_rows(w, a->cert, a->now, a->actor, a->already, NULL)) != SC_OK)
		goto out;
	r = commit(w);
out:
	if (r != SC_OK)
		*a->recovered = 0;
	rollback(w); /* a no-op after the commit */
	return r;
}

static sc_err sq_profile_recover(struct sc_reg *base, struct sc_reg_profile_rec *prof,
    struct sc_reg_cert_rec *cert, int64_t now, const char *actor, int *recovered, int *already)
{
	struct recover_args a = { prof, cert, now, actor, recovered, already };

	return group_run(sq(base), recover_fn, &a, 0); /* durable: never deferred */
}

const struct sc_reg_backend sc_reg_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.pin_get = sq_pin_get,
	.device_revoke = sq_device_revoke,
	.device_get = sq_device_get,
	.device_list = sq_device_list,
	.profile_precheck = sq_profile_precheck,
	.profile_lookup = sq_profile_lookup,
	.profile_insert = sq_profile_insert,
	.profile_get = sq_profile_get,
	.cert_record = sq_cert_record,
	.cert_record_many = sq_cert_record_many,
	.cert_list = sq_cert_list,
	.cert_der = sq_cert_der,
	.audit_list = sq_audit_list,
	.audit_follow = sq_audit_follow,
	.counts = sq_counts,
	.check = sq_check,
	.crl_put = sq_crl_put,
	.crl_list = sq_crl_list,
	.device_page = sq_device_page,
	.profile_list = sq_profile_list,
	.audit_add = sq_audit_add,
	.session_put = sq_session_put,
	.session_get = sq_session_get,
	.session_end = sq_session_end,
	.fleet = sq_fleet,
	.audit_page = sq_audit_page,
	.activate_rows = sq_activate_rows,
	.profile_recover = sq_profile_recover,
};
