// SPDX-License-Identifier: Apache-2.0
/*
 * reg_pg.c — the registry's PostgreSQL backend (libpq), for several provd nodes on one database:
 * READ COMMITTED with explicit row locks and unique constraints deciding every race (a challenge
 * buys one profile, a profile one certificate, a device's profiles counted under its row lock),
 * migrations under an advisory lock, and a connection that reconnects by itself. All of the
 * registry's PostgreSQL-only SQL lives here; registry.c checks the arguments (backend.h).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <selfcert/cert.h>
#include "registry.h"
#include "backend.h"
#include "log.h"

/* 'SCRG', as SQLite's application_id: the key of the migration lock and the meta row's mark. */
#define PG_APPLICATION_ID 1396920903
/* A statement's parameters at most (struct prm does not check): a profile, a pin, their audit rows. */
#define PG_MAX_PARAMS 24

/*
 * Statements this connection has prepared (issue 17): PQexecParams makes the server parse and
 * plan every statement anew, which was most of PostgreSQL's ~5 ms of CPU per enrolled device
 * (some 20 statements). Each distinct SQL text is prepared once per session and then only
 * executed; the texts are the program's own (values always travel as parameters), so their
 * number is bounded; past PG_STMT_MAX the rest run unprepared as before.
 */
#define PG_STMT_MAX 128

/*
 * robust16: a role that may not read device_crls asks again after this many seconds of the
 * registrations' clock (their now), so that a grant run while provd serves is noticed within a
 * minute, at one round trip a minute per session (a role that may read asks no more: a REVOKE
 * shows as SQLSTATE 42501 from the lock statement, cert_batch). PG_CRL_UNSET: checked at open
 * or reconnect, where no registration's now is known: the next registration's starts the wait.
 */
#define PG_CRL_RECHECK_S 60
#define PG_CRL_UNSET INT64_MIN

struct pg_stmt {
	char *sql; /* owned copy; the name is "sc<index>" */
};

struct pg_reg {
	struct sc_reg base; /* first: what registry.c sees */
	PGconn *conn;
	int in_tx; /* inside BEGIN … COMMIT: a lost connection is not retried */
	int fatal; /* the server sent this session a FATAL (it is ending it): see on_notice */
	PQnoticeReceiver notice_next; /* libpq's default receiver (its argument is NULL) */
	char where[160]; /* "postgresql database DB on HOST", for messages (never a password) */
	/*
	 * crl15b: the runtime role may read device_crls (crl_check). A role granted before schema 4
	 * may not (docs/OPERATIONS.md), and PostgreSQL checks every table a statement names: the
	 * profile's lock statement then leaves the join out (CERT_LOCK_NOCRL_SQL). robust16: 1 may
	 * read, 0 may not (asked again PG_CRL_RECHECK_S after crl_checked_at), -1 the check itself
	 * failed (asked again at the next registration); 0 and -1 both leave the join out.
	 */
	int crl_read;
	int64_t crl_checked_at; /* a registration's now at the last check; PG_CRL_UNSET: none yet */
	struct pg_stmt stmts[PG_STMT_MAX];
	size_t n_stmts;
};

/* A new session has none of the old one's prepared statements. */
static void stmts_forget(struct pg_reg *reg)
{
	for (size_t i = 0; i < reg->n_stmts; i++)
		free(reg->stmts[i].sql);
	reg->n_stmts = 0;
}

/* clang-format off */
#define DEV_KEY(x) \
	"lower(trim(replace(replace(replace(replace(replace(replace(" x ", '  ', ' '), " \
	"'  ', ' '), '  ', ' '), '  ', ' '), '  ', ' '), '  ', ' ')))"
/* clang-format on */

/*
 * The schema, one entry per version, numbered as SQLite's (the versions mean the same tables).
 * Entry i takes version i to i + 1 and says the oldest program version that may still use the
 * result (min_compatible): additive migrations keep it, so old nodes stay in service during a
 * rolling upgrade. Released entries never change.
 */
static const struct {
	const char *sql;
	int min_compatible;
} migrations[] = {
	{ "CREATE TABLE registry_meta ("
	  "  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
	  "  application_id integer NOT NULL CHECK (application_id = 1396920903),"
	  "  schema_version integer NOT NULL,"
	  "  min_compatible integer NOT NULL);"
	  "INSERT INTO registry_meta (application_id, schema_version, min_compatible)"
	  "  VALUES (1396920903, 0, 0);"
	  /* One function raises for every refusing trigger: its message is the trigger's argument. */
	  "CREATE FUNCTION selfcert_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
	  "  BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';"
	  "  END $$;"
	  "CREATE TABLE devices ("
	  "  device_id  text COLLATE \"C\" PRIMARY KEY CHECK (length(device_id) BETWEEN 1 AND 64),"
	  "  status     text NOT NULL CHECK (status IN ('active', 'revoked')),"
	  "  note       text NOT NULL DEFAULT '' CHECK (octet_length(note) <= 256),"
	  "  created_at bigint NOT NULL,"
	  "  updated_at bigint NOT NULL);"
	  "CREATE TRIGGER devices_revoked_for_good BEFORE UPDATE OF status ON devices FOR EACH ROW"
	  "  WHEN (OLD.status = 'revoked' AND NEW.status <> 'revoked')"
	  "  EXECUTE FUNCTION selfcert_refuse('a revoked device stays revoked');"
	  "CREATE TABLE profiles ("
	  "  profile_id text COLLATE \"C\" PRIMARY KEY CHECK (profile_id ~ '^[0-9a-f]{32}$'),"
	  "  device_id  text COLLATE \"C\" NOT NULL REFERENCES devices(device_id),"
	  "  challenge  text COLLATE \"C\" CONSTRAINT profiles_challenge_key UNIQUE,"
	  "  origin     text NOT NULL CHECK (origin IN ('device', 'server')),"
	  "  alg        text NOT NULL,"
	  "  not_before bigint NOT NULL,"
	  "  not_after  bigint NOT NULL,"
	  "  profile_not_after bigint NOT NULL,"
	  "  der        bytea NOT NULL CHECK (octet_length(der) BETWEEN 1 AND 65536),"
	  "  chain_pem  text NOT NULL,"
	  "  created_at bigint NOT NULL,"
	  "  consumed_at bigint,"
	  "  UNIQUE (profile_id, device_id));"
	  "CREATE INDEX profiles_by_device ON profiles(device_id, created_at);"
	  "CREATE TABLE certificates ("
	  "  id bigint GENERATED ALWAYS AS IDENTITY UNIQUE," /* the tie-break SQLite's rowid was */
	  "  fingerprint text COLLATE \"C\" PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),"
	  "  serial      text NOT NULL,"
	  "  device_id   text COLLATE \"C\" NOT NULL REFERENCES devices(device_id),"
	  "  profile_id  text COLLATE \"C\" NOT NULL CONSTRAINT certificates_profile_key UNIQUE,"
	  "  not_before  bigint NOT NULL,"
	  "  not_after   bigint NOT NULL,"
	  "  der         bytea NOT NULL,"
	  "  registered_at bigint NOT NULL,"
	  /* A certificate can only be recorded against its own device's profile. */
	  "  FOREIGN KEY (profile_id, device_id) REFERENCES profiles(profile_id, device_id));"
	  "CREATE INDEX certificates_by_device ON certificates(device_id, registered_at DESC, id DESC);"
	  "CREATE TABLE revocations ("
	  "  device_id  text COLLATE \"C\" PRIMARY KEY REFERENCES devices(device_id),"
	  "  reason     text NOT NULL DEFAULT '',"
	  "  revoked_at bigint NOT NULL,"
	  "  actor      text NOT NULL);"
	  /*
	   * seq is unique but neither gap-free nor commit order with several writers; xact is the
	   * writing transaction, the fence an exporter reads behind (sc_reg_audit_follow).
	   */
	  "CREATE TABLE audit ("
	  "  seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	  "  at        bigint NOT NULL,"
	  "  actor     text NOT NULL,"
	  "  event     text NOT NULL,"
	  "  device_id text COLLATE \"C\","
	  "  detail    text NOT NULL DEFAULT '',"
	  "  xact      xid8 NOT NULL DEFAULT pg_current_xact_id());"
	  "CREATE INDEX audit_by_device ON audit(device_id, seq) WHERE device_id IS NOT NULL;"
	  "CREATE INDEX audit_by_xact ON audit(xact, seq);"
	  /* Append-only even for the owner; the runtime role has no UPDATE/DELETE/TRUNCATE at all. */
	  "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW"
	  "  EXECUTE FUNCTION selfcert_refuse('the audit log is append-only');"
	  "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT"
	  "  EXECUTE FUNCTION selfcert_refuse('the audit log is append-only');",
	    1 },
	/*
	 * 2: device IDs OpenSSL takes for one name are one device. A UNIQUE index (no PostgreSQL
	 * registry of version 1 predates the rule), so two nodes adding twins at once cannot both
	 * succeed.
	 */
	{ "CREATE UNIQUE INDEX devices_by_key ON devices ((" DEV_KEY("device_id") "));", 1 },
	/*
	 * 3: the address of an unauthenticated profile request (no request proof), so that such
	 * requests count in their address's budget and never in the device's; NULL: authenticated,
	 * and every profile made before. min_compatible stays 1: a nullable column with no default
	 * (a catalog change, no rewrite) that a version-2 node neither reads nor writes; its inserts
	 * are NULL (authenticated, as they are), and its device count, lacking "source IS NULL",
	 * also counts the device's unauthenticated profiles: stricter, never looser. The runtime
	 * role's table grants cover the new column.
	 */
	{ "ALTER TABLE profiles ADD COLUMN source text COLLATE \"C\""
	  "  CHECK (source IS NULL OR length(source) BETWEEN 1 AND 64);"
	  "CREATE INDEX profiles_by_source ON profiles(source, created_at);",
	    1 },
	/*
	 * 4 (issue 14): the newest device CA CRL of each device (GET /v1/crls). min_compatible
	 * stays 1: a new table that older nodes never touch. The runtime role needs `net db
	 * grant` again for it (docs/OPERATIONS.md).
	 */
	{ "CREATE TABLE device_crls ("
	  "  device_id   text COLLATE \"C\" PRIMARY KEY REFERENCES devices(device_id),"
	  "  crl_number  bigint NOT NULL CHECK (crl_number > 0),"
	  "  next_update bigint NOT NULL,"
	  "  der         bytea NOT NULL CHECK (octet_length(der) BETWEEN 1 AND 4096),"
	  "  updated_at  bigint NOT NULL);",
	    1 },
	/*
	 * 5 (issue 17): each device's pin per manufacturer root (registry.h's sc_reg_pin), as on
	 * SQLite. Additive (min_compatible stays 1: an older node neither reads nor writes it and
	 * verifies every device in full, as it always did). Idempotent so the merge may renumber it.
	 */
	{ "CREATE TABLE IF NOT EXISTS device_pins ("
	  "  device_id   text COLLATE \"C\" NOT NULL REFERENCES devices(device_id),"
	  "  root_sha256 text COLLATE \"C\" NOT NULL CHECK (root_sha256 ~ '^[0-9a-f]{64}$'),"
	  "  ca_sha256   text COLLATE \"C\" NOT NULL CHECK (ca_sha256 ~ '^[0-9a-f]{64}$'),"
	  "  kek_sha256  text COLLATE \"C\" NOT NULL CHECK (kek_sha256 ~ '^[0-9a-f]{64}$'),"
	  "  path_sha256 text COLLATE \"C\" NOT NULL CHECK (path_sha256 ~ '^[0-9a-f]{64}$'),"
	  "  ca_spki     bytea NOT NULL CHECK (octet_length(ca_spki) BETWEEN 1 AND 4096),"
	  "  pinned_at   bigint NOT NULL,"
	  "  PRIMARY KEY (device_id, root_sha256));"
	  "DROP TRIGGER IF EXISTS device_pins_never_change ON device_pins;"
	  "CREATE TRIGGER device_pins_never_change BEFORE UPDATE OR DELETE ON device_pins"
	  "  FOR EACH ROW EXECUTE FUNCTION selfcert_refuse('a device pin never changes');",
	    1 },
	/*
	 * 6 (issue 17): a renewal profile's certificates share its profile ID, one
	 * per period; existing rows are period 0. min_compatible stays: an older node records
	 * ordinary profiles only, whose one certificate is period 0 by the default, and the
	 * (profile_id, period) key still refuses its second certificate for a profile.
	 */
	/* Idempotent: a schema put back to an older version number migrates again cleanly. */
	{ "ALTER TABLE certificates ADD COLUMN IF NOT EXISTS period integer NOT NULL DEFAULT 0"
	  "  CONSTRAINT certificates_period_range CHECK (period BETWEEN 0 AND 1023);"
	  "ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_profile_key;"
	  "ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_profile_period_key;"
	  "ALTER TABLE certificates ADD CONSTRAINT certificates_profile_period_key"
	  "  UNIQUE (profile_id, period);",
	    1 },
	/*
	 * 7: the operator's console (issue 18; IF NOT EXISTS keeps it idempotent). Sessions by the SHA-256 of
	 * the cookie, shared by every node, and the indexes of its views (the log by event and by
	 * time, profiles and certificates by time, certificates by expiry). Additive:
	 * min_compatible stays 1. The runtime role needs `net db migrate --grant` again for the
	 * sessions table (SELECT, INSERT, DELETE).
	 */
	{ "CREATE TABLE IF NOT EXISTS console_sessions ("
	  "  id_hash    text COLLATE \"C\" PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),"
	  "  operator   text NOT NULL CHECK (length(operator) BETWEEN 1 AND 32),"
	  "  csrf       text NOT NULL CHECK (csrf ~ '^[0-9a-f]{64}$'),"
	  "  created_at bigint NOT NULL,"
	  "  expires_at bigint NOT NULL);"
	  "CREATE INDEX IF NOT EXISTS console_sessions_by_expiry ON console_sessions(expires_at);"
	  "CREATE INDEX IF NOT EXISTS audit_by_event ON audit(event, seq);"
	  "CREATE INDEX IF NOT EXISTS audit_by_time ON audit(at);"
	  "CREATE INDEX IF NOT EXISTS profiles_by_time ON profiles(created_at);"
	  "CREATE INDEX IF NOT EXISTS certificates_by_time ON certificates(registered_at);"
	  "CREATE INDEX IF NOT EXISTS certificates_by_expiry ON certificates(not_after);"
	  "CREATE INDEX IF NOT EXISTS devices_by_status ON devices(status);"
	  /*
	   * Each device's newest certificate's notAfter (the last registered), kept by a trigger
	   * whoever writes (an older node too), so the overview reads index ranges, not every
	   * device: a row lock per device, never a row every node writes.
	   */
	  "CREATE TABLE IF NOT EXISTS device_expiry ("
	  "  device_id text COLLATE \"C\" PRIMARY KEY REFERENCES devices(device_id),"
	  "  not_after bigint NOT NULL);"
	  "CREATE INDEX IF NOT EXISTS device_expiry_by_time ON device_expiry(not_after);"
	  "INSERT INTO device_expiry (device_id, not_after)"
	  "  SELECT DISTINCT ON (device_id) device_id, not_after FROM certificates"
	  "  ORDER BY device_id, registered_at DESC, id DESC ON CONFLICT (device_id) DO NOTHING;"
	  /* As the owner (SECURITY DEFINER): a runtime role not granted again still registers
	   * certificates; the search path is the migration's, never the caller's. */
	  "CREATE OR REPLACE FUNCTION selfcert_newest_cert() RETURNS trigger LANGUAGE plpgsql"
	  "  SECURITY DEFINER SET search_path FROM CURRENT AS $$"
	  "  BEGIN INSERT INTO device_expiry (device_id, not_after)"
	  "    VALUES (NEW.device_id, NEW.not_after)"
	  "    ON CONFLICT (device_id) DO UPDATE SET not_after = excluded.not_after;"
	  "  RETURN NULL; END $$;"
	  "CREATE OR REPLACE TRIGGER certificates_newest AFTER INSERT ON certificates FOR EACH ROW"
	  "  EXECUTE FUNCTION selfcert_newest_cert();"
	  /*
	   * Profiles and certificates per hour, kept by triggers in 16 rows an hour (the writing
	   * backend's pid picks one), so that concurrent inserts of every node rarely wait on the
	   * same counter row; the overview sums the 16.
	   */
	  "CREATE TABLE IF NOT EXISTS console_hourly ("
	  "  hour bigint NOT NULL, shard integer NOT NULL,"
	  "  profiles bigint NOT NULL DEFAULT 0, certificates bigint NOT NULL DEFAULT 0,"
	  "  PRIMARY KEY (hour, shard));"
	  "INSERT INTO console_hourly (hour, shard, profiles, certificates)"
	  "  SELECT h, 0, sum(p), sum(c) FROM (SELECT created_at / 3600 AS h, 1 AS p, 0 AS c"
	  "  FROM profiles UNION ALL SELECT registered_at / 3600, 0, 1 FROM certificates) x"
	  "  GROUP BY h ON CONFLICT (hour, shard) DO NOTHING;"
	  "CREATE OR REPLACE FUNCTION selfcert_hourly() RETURNS trigger LANGUAGE plpgsql"
	  "  SECURITY DEFINER SET search_path FROM CURRENT AS $$"
	  "  BEGIN IF TG_TABLE_NAME = 'profiles' THEN"
	  "    INSERT INTO console_hourly (hour, shard, profiles)"
	  "    VALUES (NEW.created_at / 3600, pg_backend_pid() % 16, 1) ON CONFLICT (hour, shard)"
	  "    DO UPDATE SET profiles = console_hourly.profiles + 1;"
	  "  ELSE INSERT INTO console_hourly (hour, shard, certificates)"
	  "    VALUES (NEW.registered_at / 3600, pg_backend_pid() % 16, 1) ON CONFLICT (hour, shard)"
	  "    DO UPDATE SET certificates = console_hourly.certificates + 1;"
	  "  END IF; RETURN NULL; END $$;"
	  "CREATE OR REPLACE TRIGGER profiles_hourly AFTER INSERT ON profiles FOR EACH ROW"
	  "  EXECUTE FUNCTION selfcert_hourly();"
	  "CREATE OR REPLACE TRIGGER certificates_hourly AFTER INSERT ON certificates FOR EACH ROW"
	  "  EXECUTE FUNCTION selfcert_hourly();",
	    1 },
	/*
	 * 8 (issue 17, schema14): each pin's strict chain verdict, as on SQLite (registry.h's
	 * sc_reg_pin chain_verdict; 0: none). Additive: min_compatible stays 1 (an older node reads
	 * its named columns only, and its pins are inserted with the default 0, "no verdict", which
	 * is what they are); the runtime role's table grants cover the column. A constant default
	 * is a catalog change (no rewrite, no scan); the range CHECK is added NOT VALID, so that it
	 * holds for every row written from now on without scanning the table under its lock (the
	 * rows already there all hold the default 0). ALTER TABLE takes device_pins' ACCESS
	 * EXCLUSIVE lock until COMMIT, and every profile request reads that table: the wait for it
	 * is bounded here to 1 s (requests queue behind a waiting ALTER that long at most);
	 * migrate() names a timeout and tries again (lock_retry). Idempotent.
	 */
	{ "SET LOCAL lock_timeout = 1000;"
	  "ALTER TABLE device_pins ADD COLUMN IF NOT EXISTS chain_verdict bigint NOT NULL DEFAULT 0;"
	  "ALTER TABLE device_pins DROP CONSTRAINT IF EXISTS device_pins_chain_verdict_range;"
	  "ALTER TABLE device_pins ADD CONSTRAINT device_pins_chain_verdict_range"
	  "  CHECK (chain_verdict BETWEEN 0 AND 4294967295) NOT VALID;",
	    1 },
	/*
	 * 9 (issue 17, pg17): costs of the enrollment's statements, nothing a query sees. Additive:
	 * min_compatible stays 1 (no column, table or result changes; an older node's statements
	 * plan and return as before). (1) A profile row (its DER and chain_pem) is a little over
	 * the 2 kB at which PostgreSQL toasts: pglz was tried on chain_pem's base64, which does not
	 * compress, and then chain_pem went to the TOAST table anyway. The table's toast target is
	 * raised to a page (the most PostgreSQL takes: block_size - 32, 8160 for 8 kB pages), so a
	 * row of a few kB stays inline (no TOAST row, no TOAST index entry, no compression try),
	 * and chain_pem is STORAGE EXTERNAL (never compressed, moved out when a row is larger
	 * still). Both are catalog changes for rows written from now on (existing rows read as
	 * they are), but SET STORAGE takes the table's ACCESS EXCLUSIVE lock, held to COMMIT: so it
	 * comes after the index build (pg17mend's review), as every other ACCESS EXCLUSIVE change
	 * of the step. (2) profiles_by_source only holds what it is for, the unauthenticated
	 * profiles (source NOT NULL): one index page fewer per authenticated profile's insert, and
	 * a device's count ("source IS NULL") can no longer be planned on it. Built first, under a
	 * SHARE lock (reads go on, profile inserts wait for the build; no statement_timeout for the
	 * build: the session's 30 s would cap it), as profiles_by_source_9 unless an operator built
	 * exactly that index beforehand (CONCURRENTLY, docs/OPERATIONS.md); one of that name that
	 * is INVALID or of another definition is replaced (built under another name, then dropped),
	 * then swapped in. (3) The console's trigger functions without SET search_path (a GUC save
	 * and restore per call, ~12.7k instructions, three calls per enrollment) and still SECURITY
	 * DEFINER: every name in their bodies is schema-qualified (the tables by the migration's
	 * current_schema(), pg_catalog's function and operators as pg_catalog's), so a caller's
	 * search_path (a pg_temp table, an operator of a schema before pg_catalog) resolves nothing
	 * in them (docs/THREAT-MODEL.md). EXECUTE is revoked from PUBLIC (pg17mend: since step 7
	 * any role could attach them to its own table, whose column of its own type with an
	 * implicit cast then ran its function as the owner); a trigger fires without EXECUTE, so
	 * the registry's own triggers go on for every role. And each body refuses any table but
	 * the registry's (TG_RELID against the qualified tables, resolved when the body is planned).
	 * (4) The key CHECKs of the rows every enrollment writes (profile_id on a profile's insert
	 * and again on its consume, a certificate's fingerprint) without the counted repetition
	 * ^[0-9a-f]{32}$, which PostgreSQL's regex engine runs in ~2 us (~60k instructions): the
	 * same rows allowed (ASCII hex, so octets are characters), ~7x cheaper. Added NOT VALID, as
	 * step 8's (no scan under the lock: every row there satisfied the equivalent constraint it
	 * replaces). Idempotent.
	 */
	{ "SET LOCAL lock_timeout = 1000;"
	  "SET LOCAL statement_timeout = 0;"
	  "DO $v$ DECLARE d text; BEGIN"
	  "  SELECT CASE WHEN i.indisvalid THEN pg_catalog.pg_get_indexdef(i.indexrelid) END"
	  "    INTO d FROM pg_catalog.pg_index i WHERE i.indexrelid OPERATOR(pg_catalog.=)"
	  "    pg_catalog.to_regclass(pg_catalog.format('%I.profiles_by_source_9',"
	  "    pg_catalog.current_schema()));"
	  "  IF NOT FOUND THEN"
	  "    CREATE INDEX profiles_by_source_9 ON profiles(source, created_at)"
	  "      WHERE source IS NOT NULL;"
	  "  ELSIF d IS DISTINCT FROM pg_catalog.format('CREATE INDEX profiles_by_source_9 ON"
	  " %I.profiles USING btree (source, created_at) WHERE (source IS NOT NULL)',"
	  "    pg_catalog.current_schema()) THEN"
	  "    CREATE INDEX profiles_by_source_9n ON profiles(source, created_at)"
	  "      WHERE source IS NOT NULL;"
	  "    DROP INDEX profiles_by_source_9;"
	  "    ALTER INDEX profiles_by_source_9n RENAME TO profiles_by_source_9;"
	  "  END IF; END $v$;"
	  "DO $t$ BEGIN EXECUTE pg_catalog.format('ALTER TABLE profiles ALTER COLUMN chain_pem"
	  " SET STORAGE EXTERNAL, SET (toast_tuple_target = %s)',"
	  "  pg_catalog.current_setting('block_size')::integer - 32); END $t$;"
	  "DROP INDEX IF EXISTS profiles_by_source;"
	  "ALTER INDEX profiles_by_source_9 RENAME TO profiles_by_source;"
	  "ALTER TABLE profiles DROP CONSTRAINT IF EXISTS profiles_profile_id_check,"
	  "  ADD CONSTRAINT profiles_profile_id_check"
	  "  CHECK (octet_length(profile_id) = 32 AND profile_id ~ '^[0-9a-f]+$') NOT VALID;"
	  "ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_fingerprint_check,"
	  "  ADD CONSTRAINT certificates_fingerprint_check"
	  "  CHECK (octet_length(fingerprint) = 64 AND fingerprint ~ '^[0-9a-f]+$') NOT VALID;"
	  "DO $m$ BEGIN EXECUTE format($f$"
	  "CREATE OR REPLACE FUNCTION %1$I.selfcert_newest_cert() RETURNS trigger"
	  "  LANGUAGE plpgsql SECURITY DEFINER AS $b$"
	  "  BEGIN IF TG_RELID OPERATOR(pg_catalog.<>) %2$L::pg_catalog.regclass THEN"
	  "    RAISE EXCEPTION 'selfcert_newest_cert: not a registry table'"
	  "    USING ERRCODE = 'insufficient_privilege'; END IF;"
	  "  INSERT INTO %1$I.device_expiry (device_id, not_after)"
	  "    VALUES (NEW.device_id, NEW.not_after)"
	  "    ON CONFLICT (device_id) DO UPDATE SET not_after = excluded.not_after;"
	  "  RETURN NULL; END $b$;"
	  "CREATE OR REPLACE FUNCTION %1$I.selfcert_hourly() RETURNS trigger"
	  "  LANGUAGE plpgsql SECURITY DEFINER AS $b$"
	  "  BEGIN IF TG_RELID OPERATOR(pg_catalog.=) %3$L::pg_catalog.regclass THEN"
	  "    INSERT INTO %1$I.console_hourly AS h (hour, shard, profiles)"
	  "    VALUES (NEW.created_at OPERATOR(pg_catalog./) 3600,"
	  "      pg_catalog.pg_backend_pid() OPERATOR(pg_catalog.%%) 16, 1)"
	  "    ON CONFLICT (hour, shard) DO UPDATE SET profiles = h.profiles OPERATOR(pg_catalog.+) 1;"
	  "  ELSIF TG_RELID OPERATOR(pg_catalog.=) %2$L::pg_catalog.regclass THEN"
	  "    INSERT INTO %1$I.console_hourly AS h (hour, shard, certificates)"
	  "    VALUES (NEW.registered_at OPERATOR(pg_catalog./) 3600,"
	  "      pg_catalog.pg_backend_pid() OPERATOR(pg_catalog.%%) 16, 1)"
	  "    ON CONFLICT (hour, shard)"
	  "    DO UPDATE SET certificates = h.certificates OPERATOR(pg_catalog.+) 1;"
	  "  ELSE RAISE EXCEPTION 'selfcert_hourly: not a registry table'"
	  "    USING ERRCODE = 'insufficient_privilege';"
	  "  END IF; RETURN NULL; END $b$;"
	  "REVOKE ALL ON FUNCTION %1$I.selfcert_newest_cert(), %1$I.selfcert_hourly() FROM PUBLIC;"
	  "$f$, current_schema(), pg_catalog.format('%I.certificates', current_schema()),"
	  "  pg_catalog.format('%I.profiles', current_schema())); END $m$;",
	    1 },
	/*
	 * 10 (issue 17, pg18): per-row work of every enrollment that no read needs. (1) The three
	 * indexes step 7 made for console views that read other tables (console_hourly,
	 * device_expiry): profiles_by_time, certificates_by_time, certificates_by_expiry. No
	 * statement of this program needs them (EXPLAIN of every statement on a populated
	 * registry, docs/PERFORMANCE.md 25.3: generic plans change only in sc_reg_counts'
	 * count(*), which takes another index of the same table; the device's budget count, whose
	 * custom plan could take profiles_by_time for a cutoff past the newest row, takes
	 * profiles_by_device, its own index); each cost every profile's or certificate's insert an
	 * index entry and its WAL. (2) certificates' own foreign key to devices: implied by its key
	 * (profile_id, device_id) to profiles, whose device_id references devices (a certificate's
	 * device is its profile's, which exists; neither a device nor a profile is ever deleted,
	 * and NO ACTION would refuse it through the profile), and each certificate insert ran its
	 * check (a query of devices and a row lock). An unknown device is still refused, 23503,
	 * by certificates_profile_id_device_id_fkey. Additive for older nodes (min_compatible
	 * stays 1: their statements return the same rows; none names an index or the key). Locks:
	 * DROP INDEX and DROP CONSTRAINT take ACCESS EXCLUSIVE locks held to COMMIT but build
	 * nothing (catalog work, the files' unlink); taken first, devices before profiles before
	 * certificates (a wait for the first holds nothing else), each wait bounded as step 8's;
	 * a request's statement that locks its tables in another order can still deadlock with
	 * it, and PostgreSQL fails one of the two (a 503, or the step, which gives way and is
	 * tried again as after its lock timeout). Not
	 * CONCURRENTLY: it cannot run in a transaction block, and every step runs in one with its
	 * version update and audit row under the migration's advisory lock. Idempotent.
	 */
	{ "SET LOCAL lock_timeout = 1000;"
	  "LOCK TABLE devices, profiles, certificates IN ACCESS EXCLUSIVE MODE;"
	  "DROP INDEX IF EXISTS profiles_by_time, certificates_by_time, certificates_by_expiry;"
	  "ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_device_id_fkey;",
	    1 },
};
#define PG_NEWEST ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SC_REG_SCHEMA_VERSION,
    "one PostgreSQL migration per schema version");
/* A step's own lock wait (SET LOCAL lock_timeout in its SQL) and how often it is tried. */
#define PG_STEP_LOCK_MS 1000
#define PG_STEP_TRIES 5

static struct pg_reg *pg(struct sc_reg *base)
{
	return (struct pg_reg *)base;
}

static enum sc_reg_dev_status status_from_text(const char *s)
{
	if (s != NULL && strcmp(s, "active") == 0)
		return SC_REG_DEV_ACTIVE;
	if (s != NULL && strcmp(s, "revoked") == 0)
		return SC_REG_DEV_REVOKED;
	return 0;
}

/* ---- parameters: text, or binary for DER ---- */

struct prm {
	const char *v[PG_MAX_PARAMS];
	int len[PG_MAX_PARAMS], fmt[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][24];
	int n;
};

static void p_text(struct prm *p, const char *s)
{
	p->v[p->n] = s; /* NULL: SQL NULL */
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_i64(struct prm *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p_text(p, p->num[p->n]);
}

static void p_bin(struct prm *p, const uint8_t *b, size_t n)
{
	p->v[p->n] = (const char *)b;
	p->len[p->n] = (int)n;
	p->fmt[p->n++] = 1;
}

/* ---- errors and the connection ---- */

static int conn_lost(struct pg_reg *reg, const PGresult *res)
{
	const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(reg->conn) != CONNECTION_OK)
		return 1;
	/* 08: connection exception; 57P01-03: the server shutting down or starting up. */
	return st != NULL && (strncmp(st, "08", 2) == 0 || strncmp(st, "57P0", 4) == 0);
}

/* The first line of the server's message (libpq's are multi-line). */
static void first_line(const char *msg, char *out, size_t out_len)
{
	size_t n = strcspn(msg != NULL ? msg : "", "\n");

	snprintf(out, out_len, "%.*s", (int)n, msg != NULL ? msg : "");
}

static sc_err pg_fail(struct pg_reg *reg, const PGresult *res, const char *what)
{
	const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[200];

	first_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(reg->conn), msg,
	    sizeof(msg));
	if (conn_lost(reg, res))
		return sc_fail(SC_ERR_IO, "%s: registry %s: connection lost, %s (%s)", what,
		    reg->where, strcmp(what, "commit") == 0 ? "outcome unknown" : "nothing written",
		    msg);
	if (st != NULL && (strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0))
		return sc_fail(SC_ERR_IO, "%s: registry %s busy (a lock held for over %d ms)", what,
		    reg->where, SC_REG_BUSY_TIMEOUT_MS);
	return sc_fail(SC_ERR_IO, "%s: registry %s: %s%s%s", what, reg->where, msg,
	    st != NULL ? " SQLSTATE " : "", st != NULL ? st : "");
}

/* Per-session settings: waits bounded as SQLite's busy timeout, no transaction left open. */
static sc_err session_setup(struct pg_reg *reg)
{
	PGresult *res = PQexec(reg->conn,
	    "SET lock_timeout = 10000; SET statement_timeout = 30000;"
	    "SET idle_in_transaction_session_timeout = 60000");
	sc_err r = PQresultStatus(res) == PGRES_COMMAND_OK ? SC_OK : pg_fail(reg, res, "session");

	PQclear(res);
	return r;
}

/*
 * A connection that went away (server restart, failover) is made again here, between
 * operations: one PQreset, then the session settings again. Inside a transaction it is never
 * done: what was sent is lost with the session, the caller answers 503.
 */
static void crl_check(struct pg_reg *reg, int64_t now, int revoked);

static int reconnect(struct pg_reg *reg)
{
	stmts_forget(reg);
	PQreset(reg->conn);
	reg->fatal = 0;
	if (PQstatus(reg->conn) != CONNECTION_OK)
		return 0;
	/* A pipeline the old session broke off: the new one starts outside pipeline mode. */
	if (PQpipelineStatus(reg->conn) != PQ_PIPELINE_OFF)
		(void)PQexitPipelineMode(reg->conn);
	if (session_setup(reg) != SC_OK)
		return 0;
	crl_check(reg, PG_CRL_UNSET, 0); /* a grant run since: the next session reads the CRLs */
	return 1;
}

/*
 * The name ("sc<index>") of sql's prepared statement in this session, prepared on first use:
 * 1; 0 when the table is full or out of memory (the caller runs sql unprepared, as before);
 * -1 when PQprepare failed, *err its result (the caller's answer: the server parses the text
 * either way, so the execution would have failed alike).
 */
static int stmt_name(struct pg_reg *reg, const char *sql, int nparams, char name[24],
    PGresult **err)
{
	size_t i;

	*err = NULL;
	for (i = 0; i < reg->n_stmts && strcmp(reg->stmts[i].sql, sql) != 0; i++)
		;
	snprintf(name, 24, "sc%zu", i); /* "sc" and a size_t in decimal (20 digits at most), NUL */
	if (i == reg->n_stmts) {
		PGresult *prep;
		char *copy;

		if (i >= PG_STMT_MAX || (copy = strdup(sql)) == NULL)
			return 0;
		prep = PQprepare(reg->conn, name, sql, nparams, NULL);
		if (PQresultStatus(prep) != PGRES_COMMAND_OK) {
			free(copy);
			*err = prep;
			return -1;
		}
		PQclear(prep);
		reg->stmts[reg->n_stmts++].sql = copy;
	}
	return 1;
}

/* sql with p's parameters, through this session's prepared statement for that text. */
static PGresult *exec(struct pg_reg *reg, const char *sql, const struct prm *p)
{
	int n = p != NULL ? p->n : 0, k;
	char name[24];
	PGresult *err;

	if ((k = stmt_name(reg, sql, n, name, &err)) < 0)
		return err;
	if (k == 0)
		return PQexecParams(reg->conn, sql, n, NULL, p != NULL ? p->v : NULL,
		    p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0);
	return PQexecPrepared(reg->conn, name, n, p != NULL ? p->v : NULL,
	    p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0);
}

/*
 * Run sql with p's parameters. *res is the result (caller PQclear) when it has rows or is a
 * command; else SC_ERR_IO naming what. Outside a transaction a lost connection is made again
 * and the statement sent once more: nothing of it ran (a read, or BEGIN).
 */
static sc_err x(struct pg_reg *reg, const char *what, const char *sql, const struct prm *p,
    PGresult **res)
{
	ExecStatusType s;
	sc_err r;

	for (int attempt = 0;; attempt++) {
		*res = exec(reg, sql, p);
		s = PQresultStatus(*res);
		if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
			return SC_OK;
		if (attempt == 0 && !reg->in_tx && conn_lost(reg, *res) && reconnect(reg)) {
			PQclear(*res);
			continue;
		}
		r = pg_fail(reg, *res, what);
		PQclear(*res);
		*res = NULL;
		return r;
	}
}

/* x for a statement whose rows do not matter. */
static sc_err run(struct pg_reg *reg, const char *what, const char *sql, const struct prm *p)
{
	PGresult *res = NULL;
	sc_err r = x(reg, what, sql, p, &res);

	PQclear(res);
	return r;
}

static sc_err begin(struct pg_reg *reg)
{
	sc_err r = run(reg, "begin", "BEGIN", NULL);

	reg->in_tx = r == SC_OK;
	return r;
}

static sc_err commit(struct pg_reg *reg)
{
	sc_err r = run(reg, "commit", "COMMIT", NULL);

	reg->in_tx = 0;
	return r;
}

static void rollback(struct pg_reg *reg)
{
	if (reg->in_tx && PQstatus(reg->conn) == CONNECTION_OK)
		PQclear(PQexec(reg->conn, "ROLLBACK"));
	reg->in_tx = 0;
}

/* ---- pipelines (issue 17): several statements, one round trip ---- */

/* One statement of a pipeline: what it does (for messages), its text, its parameters or NULL. */
struct pl_st {
	const char *what;
	const char *sql;
	const struct prm *p;
};

/* The statements a pipeline may hold: a batch's reads (BEGIN, two per profile) or its writes. */
#define PL_MAX (2 * SC_REG_RECORD_MANY_MAX + 2)

/*
 * After a pipeline's statements were sent (or some of them): their sync, then every result up to
 * it read and dropped, and pipeline mode left. A broken connection is left as it is (reconnect's
 * PQreset starts afresh).
 */
static void pl_drain(PGconn *c, int synced)
{
	PGresult *x;
	int nulls = 0;

	if (!synced && (PQstatus(c) != CONNECTION_OK || !PQpipelineSync(c)))
		return;
	/* A statement's results end with one NULL; two in a row: nothing more will come. */
	while (PQstatus(c) == CONNECTION_OK && nulls < 2) {
		if ((x = PQgetResult(c)) == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(x) == PGRES_PIPELINE_SYNC) {
			PQclear(x);
			break;
		}
		PQclear(x);
	}
	(void)PQexitPipelineMode(c);
}

/*
 * A message from the server outside any command is a notice to libpq, and an idle session's
 * FATAL (pg_terminate_backend, a shutdown) is one: the server sends it and then ends the
 * session, so the session is gone even before the end of its stream has reached us. Noted here,
 * then handed on to the receiver libpq had (which prints it, as before).
 */
static void on_notice(void *arg, const PGresult *res)
{
	struct pg_reg *reg = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		reg->fatal = 1;
	if (reg->notice_next != NULL)
		reg->notice_next(NULL, res);
}

/*
 * 1 if the server ended the session since the last operation: read now, without waiting. Its
 * FATAL message is enough (parsed by PQisBusy, noted by on_notice): the end of the stream comes
 * after the backend has left pg_stat_activity and may not have arrived yet (a pipeline sent into
 * that gap failed, and one that commits is never sent twice: session 12).
 */
static int session_gone(struct pg_reg *reg)
{
	for (int i = 0; i < 2; i++) /* its FATAL message, then the end of the stream */
		if (!PQconsumeInput(reg->conn) || PQstatus(reg->conn) != CONNECTION_OK)
			return 1;
	(void)PQisBusy(reg->conn);
	return reg->fatal;
}

/*
 * st[0..n) sent at once in libpq's pipeline mode: one round trip instead of n, one wake-up of the
 * server's backend instead of n. The server runs them in order, each statement with its own
 * snapshot, exactly as if sent one by one (a read after a row lock sees what the lock waited
 * for); after a failure it skips the rest of the pipeline (PGRES_PIPELINE_ABORTED). res[i] is
 * st[i]'s result (NULL where none came; the caller PQclears each). SC_OK when every statement
 * succeeded; else the first failure's error (naming its what) and, if state is not NULL, its
 * SQLSTATE ("" if none). A BEGIN that ran sets in_tx, a COMMIT or ROLLBACK that ran clears it.
 * Outside a transaction, and with no COMMIT in it, a lost connection is made again and the
 * pipeline sent once more (nothing of it can have been committed).
 */
static sc_err pl_run(struct pg_reg *reg, const struct pl_st *st, size_t n, PGresult **res,
    char state[6])
{
	char names[PL_MAX][24];
	int kind[PL_MAX];
	int retry = !reg->in_tx;
	size_t i, bad;
	sc_err r;

	for (i = 0; i < n; i++)
		if (strcmp(st[i].sql, "COMMIT") == 0)
			retry = 0;
	/*
	 * A pipeline that opens and commits its own transaction (req9: a profile in one round trip)
	 * cannot be sent twice, its outcome unknown: so first read what waits in the socket (a
	 * session the server ended between operations left its FATAL message and EOF there; libpq's
	 * socket is non-blocking, so nothing waits here) and connect again before sending anything.
	 */
	if (!retry && !reg->in_tx && session_gone(reg) && !reconnect(reg))
		return pg_fail(reg, NULL, st[0].what);
	for (int attempt = 0;; attempt++) {
		PGresult *err = NULL;
		int sent = 1, whole = 0; /* whole: every statement and the sync went out */
		size_t got = 0;
		const char *what;

		if (state != NULL)
			state[0] = '\0';
		memset(res, 0, n * sizeof(*res));
		/*
		 * Each text prepared before (once per session): the pipeline only executes. A text
		 * that cannot be prepared (the server's error in err, or none: libpq out of memory)
		 * stops here, before anything is sent.
		 */
		for (i = 0; i < n; i++)
			if ((kind[i] = stmt_name(reg, st[i].sql, st[i].p != NULL ? st[i].p->n : 0,
			         names[i], &err)) < 0)
				break;
		if (i < n) {
			bad = i;
			res[bad] = err;
			goto failed;
		}
		if (!PQenterPipelineMode(reg->conn)) {
			bad = 0;
			goto failed;
		}
		for (i = 0; i < n && sent; i++) {
			const struct prm *p = st[i].p;
			int np = p != NULL ? p->n : 0;

			sent = kind[i] != 0
			    ? PQsendQueryPrepared(reg->conn, names[i], np, p != NULL ? p->v : NULL,
			          p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0)
			    : PQsendQueryParams(reg->conn, st[i].sql, np, NULL,
			          p != NULL ? p->v : NULL, p != NULL ? p->len : NULL,
			          p != NULL ? p->fmt : NULL, 0);
		}
		if (sent && !PQpipelineSync(reg->conn))
			sent = 0;
		whole = sent;
		if (!sent) {
			pl_drain(reg->conn, 0);
			/*
			 * What was sent before the failed send runs: a BEGIN among it leaves the
			 * session in a transaction (holding its row locks), so in_tx must make the
			 * caller's rollback end it (a ROLLBACK with none open is harmless).
			 */
			for (size_t j = 0; j < i && j < n; j++)
				if (strcmp(st[j].sql, "BEGIN") == 0)
					reg->in_tx = 1;
			bad = 0;
			goto failed;
		}
		for (got = 0; got < n; got++) {
			PGresult *end;

			if ((res[got] = PQgetResult(reg->conn)) == NULL)
				break;
			/* One result per statement, then NULL (more would be a protocol surprise). */
			while ((end = PQgetResult(reg->conn)) != NULL &&
			    PQresultStatus(end) != PGRES_PIPELINE_SYNC)
				PQclear(end);
			if (end != NULL) { /* the sync already: the rest never came */
				PQclear(end);
				(void)PQexitPipelineMode(reg->conn);
				got++;
				goto collected;
			}
		}
		pl_drain(reg->conn, 1);
collected:
		for (i = 0; i < got; i++) {
			ExecStatusType s = PQresultStatus(res[i]);
			const char *q = st[i].sql;

			if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
				break;
			if (strcmp(q, "BEGIN") == 0)
				reg->in_tx = 1;
			else if (strcmp(q, "COMMIT") == 0 || strcmp(q, "ROLLBACK") == 0)
				reg->in_tx = 0;
		}
		if (i == n)
			return SC_OK;
		bad = i;
failed:
		/* The first failure names the error; a pipeline cut short by a lost connection has none. */
		if (bad < n && res[bad] != NULL && state != NULL &&
		    PQresultErrorField(res[bad], PG_DIAG_SQLSTATE) != NULL)
			snprintf(state, 6, "%s", PQresultErrorField(res[bad], PG_DIAG_SQLSTATE));
		/*
		 * A lost connection after the whole pipeline went out, its COMMIT not yet answered:
		 * the server may have committed, so pg_fail says "outcome unknown" (its "commit").
		 */
		what = st[bad < n ? bad : 0].what;
		if (whole && conn_lost(reg, bad < n ? res[bad] : NULL))
			for (i = bad < n ? bad : 0; i < n; i++)
				if (strcmp(st[i].sql, "COMMIT") == 0)
					what = "commit";
		r = pg_fail(reg, bad < n ? res[bad] : NULL, what);
		if (attempt == 0 && retry && conn_lost(reg, bad < n ? res[bad] : NULL)) {
			reg->in_tx = 0; /* a BEGIN of this pipeline went with the session */
			if (reconnect(reg)) {
				for (i = 0; i < n; i++)
					PQclear(res[i]);
				sc_err_clear();
				continue;
			}
		}
		return r;
	}
}

static int64_t i64(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void copy_col(const PGresult *res, int row, int col, char *out, size_t out_len)
{
	snprintf(out, out_len, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* One audit row, inside the caller's transaction. */
static sc_err audit(struct pg_reg *reg, int64_t now, const char *actor, const char *event,
    const char *device_id, const char *detail)
{
	struct prm p = { 0 };

	p_i64(&p, now);
	p_text(&p, actor != NULL ? actor : "unknown");
	p_text(&p, event);
	p_text(&p, device_id);
	p_text(&p, detail != NULL ? detail : "");
	return run(reg, "audit",
	    "INSERT INTO audit (at, actor, event, device_id, detail) VALUES ($1,$2,$3,$4,$5)", &p);
}

/* ---- schema ---- */

/* The meta row: *have = 0 if the database has no registry_meta table. */
static sc_err meta_read(struct pg_reg *reg, int *have, int *version, int *min_compat, int *app)
{
	PGresult *res = NULL;
	sc_err r;

	*have = 0;
	*version = *min_compat = *app = 0;
	/*
	 * A scan of the catalog, not to_regclass(): its cached "no such table" outlives another
	 * node's migration committed while we waited for the lock.
	 */
	if ((r = x(reg, "schema",
	         "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
	         " AND tablename = 'registry_meta')",
	         NULL, &res)) != SC_OK)
		return r;
	*have = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!*have)
		return SC_OK;
	if ((r = x(reg, "schema",
	         "SELECT application_id, schema_version, min_compatible FROM registry_meta", NULL,
	         &res)) != SC_OK)
		return r;
	if (PQntuples(res) == 1) {
		*app = (int)i64(res, 0, 0);
		*version = (int)i64(res, 0, 1);
		*min_compat = (int)i64(res, 0, 2);
	}
	PQclear(res);
	return SC_OK;
}

static int pg_schema_version(struct sc_reg *base)
{
	int have, v, mc, app;

	if (meta_read(pg(base), &have, &v, &mc, &app) != SC_OK || !have)
		return -1;
	return v;
}

static int pg_schema_min_compatible(struct sc_reg *base)
{
	int have, v, mc, app;

	if (meta_read(pg(base), &have, &v, &mc, &app) != SC_OK || !have)
		return -1;
	return mc;
}

/* Tables of ours or anyone's in the current schema: an empty database has none. */
static sc_err count_tables(struct pg_reg *reg, int64_t *n)
{
	PGresult *res = NULL;
	sc_err r = x(reg, "schema",
	    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()", NULL, &res);

	if (r == SC_OK)
		*n = i64(res, 0, 0);
	PQclear(res);
	return r;
}

static sc_err not_owner(const struct pg_reg *reg, int v)
{
	return sc_fail(SC_ERR_VERSION,
	    "registry %s: schema version %d is older than this program's %d and this role may "
	    "not migrate it: run `selfcert net db migrate` as the owner role",
	    reg->where, v, PG_NEWEST);
}

/*
 * Before any lock (session 11's rule): a role that does not own the registry (is not a member
 * of registry_meta's owner: the runtime role, as it should be) is told to run the migration as
 * the owner, without queueing an ACCESS EXCLUSIVE request in front of the requests of every
 * node first. A registry not made yet is made by whoever may create tables.
 */
static sc_err owner_check(struct pg_reg *reg, int v)
{
	PGresult *res = NULL;
	sc_err r = x(reg, "schema owner",
	    "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables"
	    " WHERE schemaname = current_schema() AND tablename = 'registry_meta'",
	    NULL, &res);

	if (r == SC_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		r = not_owner(reg, v);
	PQclear(res);
	return r;
}

/*
 * Migration v (DDL, several statements: the simple protocol) inside the caller's transaction.
 * *lock_wait: 1 when the step's own lock timeout expired (SQLSTATE 55P03 under its SET LOCAL
 * lock_timeout) or PostgreSQL chose it as a deadlock's victim (40P01: a request's statement
 * took the same tables' locks in another order; pg18's review): nothing changed, the caller
 * may try again.
 */
static sc_err migration_step(struct pg_reg *reg, int v, int *lock_wait)
{
	PGresult *res = PQexec(reg->conn, migrations[v].sql);
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	sc_err r = SC_OK;

	*lock_wait = 0;
	/* 42501: a role without DDL rights (the runtime role, as it should be). */
	if (PQresultStatus(res) != PGRES_COMMAND_OK && st != NULL && strcmp(st, "42501") == 0) {
		r = not_owner(reg, v);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK && st != NULL &&
	    strcmp(st, "55P03") == 0 &&
	    strstr(migrations[v].sql, "SET LOCAL lock_timeout") != NULL) {
		*lock_wait = 1;
		r = sc_fail(SC_ERR_IO,
		    "registry %s: schema migration to version %d: its table lock was not granted "
		    "within %d ms (lock timeout) in %d tries: the database is busy (a long query, a "
		    "dump?); nothing changed, run it again",
		    reg->where, v + 1, PG_STEP_LOCK_MS, PG_STEP_TRIES);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK && st != NULL &&
	    strcmp(st, "40P01") == 0 &&
	    strstr(migrations[v].sql, "SET LOCAL lock_timeout") != NULL) {
		*lock_wait = 1;
		r = sc_fail(SC_ERR_IO,
		    "registry %s: schema migration to version %d: its table locks deadlocked with "
		    "requests' (deadlock detected) in %d tries: nothing changed, run it again",
		    reg->where, v + 1, PG_STEP_TRIES);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = pg_fail(reg, res, "schema migration");
	}
	PQclear(res);
	return r;
}

/*
 * Bring the schema to PG_NEWEST, one transaction per version, each under the advisory lock
 * (released at commit, or when a killed node's session ends): several nodes starting at once
 * on an empty or older database queue on it, and each re-reads the version after taking it.
 */
static sc_err migrate(struct pg_reg *reg)
{
	int have, v, mc, app, tries = 0, lock_wait = 0;
	int64_t n_tables;
	sc_err r;

	if ((r = meta_read(reg, &have, &v, &mc, &app)) != SC_OK ||
	    (have && app == PG_APPLICATION_ID && v < PG_NEWEST &&
	        (r = owner_check(reg, v)) != SC_OK))
		return r;
	for (;;) {
		struct prm p = { 0 };
		char how[64];

		if ((r = begin(reg)) != SC_OK)
			return r;
		if ((r = run(reg, "migration lock", "SELECT pg_advisory_xact_lock(1396920903)",
		         NULL)) != SC_OK ||
		    (r = meta_read(reg, &have, &v, &mc, &app)) != SC_OK)
			goto out;
		if (!have) {
			if ((r = count_tables(reg, &n_tables)) != SC_OK)
				goto out;
			if (n_tables > 0) {
				r = sc_fail(SC_ERR_IO,
				    "registry %s: the schema holds other tables, not a selfcert "
				    "registry",
				    reg->where);
				goto out;
			}
		} else if (app != PG_APPLICATION_ID) {
			r = sc_fail(SC_ERR_IO, "registry %s: not a selfcert registry", reg->where);
			goto out;
		}
		if (v >= PG_NEWEST) {
			r = SC_OK; /* another node got there first */
			goto out;
		}
		r = migration_step(reg, v, &lock_wait);
		if (r != SC_OK && lock_wait && ++tries < PG_STEP_TRIES) {
			/* The step's lock timed out or deadlocked (nothing changed): let the holder
			 * finish, again. */
			rollback(reg);
			sc_err_clear();
			usleep(200000u * (unsigned)tries);
			continue;
		}
		if (r != SC_OK)
			goto out;
		tries = 0;
		p_i64(&p, v + 1);
		p_i64(&p, migrations[v].min_compatible);
		snprintf(how, sizeof(how),
		    v == 0 ? "created at version 1" : "migrated to version %d", v + 1);
		/* Never lowered (store10's review): a contract step's minimum outlives later steps. */
		if ((r = run(reg, "schema version",
		         "UPDATE registry_meta SET schema_version = $1,"
		         " min_compatible = GREATEST(min_compatible, $2::integer)",
		         &p)) != SC_OK ||
		    (r = audit(reg, (int64_t)time(NULL), "registry", "schema-migrated", NULL,
		         how)) != SC_OK)
			goto out;
		if ((r = commit(reg)) != SC_OK)
			goto out;
	}
out:
	rollback(reg);
	return r;
}

/*
 * Open: connect, check the schema; migrate when older (and create is set, or it is no registry
 * yet and create is set). A newer schema is used while its min_compatible allows this program
 * (a rolling upgrade); else SC_ERR_VERSION.
 */
static sc_err pg_open_conn(const char *location, struct pg_reg **out)
{
	static const char *const keys[] = { "application_name", "connect_timeout", "dbname", NULL };
	const char *vals[] = { "selfcert", "5", location, NULL };
	struct pg_reg *reg;
	char msg[200];

	*out = NULL;
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "registry");
	reg->base.be = &sc_reg_pg;
	/* expand_dbname: the URI's own keywords (application_name too) win over ours before it. */
	reg->conn = PQconnectdbParams(keys, vals, 1);
	if (reg->conn == NULL) {
		free(reg);
		return sc_fail(SC_ERR_NOMEM, "registry connection");
	}
	snprintf(reg->where, sizeof(reg->where), "postgresql database %s on %s",
	    PQdb(reg->conn) != NULL ? PQdb(reg->conn) : "?",
	    PQhost(reg->conn) != NULL ? PQhost(reg->conn) : "?");
	if (PQstatus(reg->conn) != CONNECTION_OK) {
		first_line(PQerrorMessage(reg->conn), msg, sizeof(msg));
		sc_fail(SC_ERR_IO, "registry %s: cannot connect: %s", reg->where, msg);
		PQfinish(reg->conn);
		free(reg);
		return SC_ERR_IO;
	}
	reg->notice_next = PQsetNoticeReceiver(reg->conn, on_notice, reg);
	*out = reg;
	return SC_OK;
}

static void pg_free(struct pg_reg *reg)
{
	if (reg == NULL)
		return;
	stmts_forget(reg);
	PQfinish(reg->conn);
	free(reg);
}

/*
 * The location checks that need no server: a libpq URI that parses, and no password in it (a
 * password in --db shows in ps, shell history and logs: libpq's PGPASSFILE or service file
 * hold it instead). The details never repeat the location.
 */
static sc_err check_location(const char *location)
{
	PQconninfoOption *opts;
	char *err = NULL;
	int has_password = 0;

	if ((opts = PQconninfoParse(location, &err)) == NULL) {
		char msg[160];
		first_line(err, msg, sizeof(msg));
		PQfreemem(err);
		return sc_fail(SC_ERR_USAGE, "--db: not a PostgreSQL connection URI (%s)", msg);
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			has_password = 1;
	PQconninfoFree(opts);
	if (has_password)
		return sc_fail(SC_ERR_USAGE,
		    "--db: a password in the location is refused (it would show in ps and logs); "
		    "put it in a PGPASSFILE or a service file");
	return SC_OK;
}

/*
 * crl15b: whether this session's role may read device_crls (reg->crl_read), asked at open and
 * reconnect, and (robust16) again by crl_recheck and after a 42501 (revoked: a REVOKE is the
 * likely cause). to_regclass is NULL before schema 4 and has_table_privilege of a NULL OID is
 * NULL: not read. robust16: a check that fails (the connection, a timeout, a right to the
 * functions) is no answer: -1, logged with its cause, asked again at the next registration; the
 * lock statement leaves the join out meanwhile (it works either way). Provd then says nothing of
 * the CRL it keeps (crl_next_update 0, registry.h) and the agent trusts what it remembers.
 *
 * Logged when the process's answer changes (a pool of sessions says it once): may not, check
 * failed, and may again after either; never the first "may".
 */
static void crl_check(struct pg_reg *reg, int64_t now, int revoked)
{
	/* The last answer logged: 0 none yet, 1 may read, 2 may not, 3 the check failed. */
	static atomic_int said;
	PGresult *res = PQexec(reg->conn,
	    "SELECT coalesce(has_table_privilege(current_user, to_regclass('device_crls'),"
	    " 'SELECT'), false)");
	int prev;

	reg->crl_checked_at = now;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		char msg[200];

		first_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(reg->conn), msg,
		    sizeof(msg));
		/*
		 * A session the server ended (idle_session_timeout, a failover) is no answer about
		 * the right: the registration's own statement reconnects, and the reconnect asks
		 * again (review of robust16: two warnings for one dropped session before).
		 */
		if (PQstatus(reg->conn) == CONNECTION_BAD) {
			PQclear(res);
			return;
		}
		reg->crl_read = -1;
		if (atomic_exchange(&said, 3) != 3)
			sc_log(
			    "warning: registry %s: checking whether this role may read device_crls "
			    "failed (%s%s%s): registrations go on without saying what device CA CRL "
			    "is kept; checked again at the next registration",
			    reg->where, msg[0] != '\0' ? msg : "no answer",
			    st != NULL ? " SQLSTATE " : "", st != NULL ? st : "");
		PQclear(res);
		return;
	}
	reg->crl_read = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (reg->crl_read) {
		if ((prev = atomic_exchange(&said, 1)) == 2 || prev == 3)
			sc_log(
			    "registry %s: this role may read device_crls again: registrations say "
			    "what device CA CRL is kept",
			    reg->where);
	} else if (atomic_exchange(&said, 2) != 2) {
		if (revoked)
			sc_log(
			    "warning: registry %s: this role may no longer read device_crls "
			    "(permission denied: its grant revoked?): registrations go on without "
			    "saying what device CA CRL is kept; a grant again is noticed within %d s",
			    reg->where, PG_CRL_RECHECK_S);
		else
			sc_log(
			    "warning: registry %s: this role may not read device_crls (granted "
			    "before schema 4?): registrations go on without saying what device CA "
			    "CRL is kept; run `selfcert net db migrate --grant ROLE` as the owner "
			    "(noticed within %d s, no restart needed)",
			    reg->where, PG_CRL_RECHECK_S);
	}
}

/*
 * robust16: before a registration (outside a transaction): a failed check is asked again now;
 * "may not" again once PG_CRL_RECHECK_S of the registrations' clock passed since it was asked
 * (a clock that went back starts the wait again). "May" is not asked: cert_batch hears a REVOKE.
 */
static void crl_recheck(struct pg_reg *reg, int64_t now)
{
	if (reg->in_tx || reg->crl_read == 1)
		return;
	if (reg->crl_read < 0)
		crl_check(reg, now, 0);
	else if (reg->crl_checked_at == PG_CRL_UNSET || now < reg->crl_checked_at)
		reg->crl_checked_at = now;
	else if (now - reg->crl_checked_at >= PG_CRL_RECHECK_S)
		crl_check(reg, now, 0);
}

static sc_err pg_open(const char *location, int create, struct sc_reg **out)
{
	struct pg_reg *reg = NULL;
	int have, v, mc, app;
	sc_err r;

	*out = NULL;
	if ((r = check_location(location)) != SC_OK || (r = pg_open_conn(location, &reg)) != SC_OK)
		return r;
	if ((r = session_setup(reg)) != SC_OK ||
	    (r = meta_read(reg, &have, &v, &mc, &app)) != SC_OK)
		goto out;
	if (have && app != PG_APPLICATION_ID) {
		r = sc_fail(SC_ERR_IO, "registry %s: not a selfcert registry", reg->where);
		goto out;
	}
	if (!have && !create) {
		r = sc_fail(SC_ERR_IO,
		    "registry %s: no registry in this database (`selfcert net db migrate` makes it)",
		    reg->where);
		goto out;
	}
	if (have && v > PG_NEWEST) {
		if (mc > PG_NEWEST) {
			r = sc_fail(SC_ERR_VERSION,
			    "registry %s: schema version %d needs a program of version %d or newer "
			    "(this one knows %d)",
			    reg->where, v, mc, PG_NEWEST);
			goto out;
		}
	} else if (!have || v < PG_NEWEST) {
		if ((r = migrate(reg)) != SC_OK)
			goto out;
	}
	crl_check(reg, PG_CRL_UNSET, 0);
	*out = &reg->base;
	reg = NULL;
	r = SC_OK;
out:
	pg_free(reg);
	return r;
}

static void pg_close(struct sc_reg *base)
{
	pg_free(pg(base));
}

/* ---- devices ---- */

static sc_err device_status(struct pg_reg *reg, const char *device_id, const char *lock,
    enum sc_reg_dev_status *s)
{
	struct prm p = { 0 };
	PGresult *res = NULL;
	char sql[128];
	sc_err r;

	*s = 0;
	snprintf(sql, sizeof(sql), "SELECT status FROM devices WHERE device_id = $1 %s", lock);
	p_text(&p, device_id);
	if ((r = x(reg, "reading a device", sql, &p, &res)) != SC_OK)
		return r;
	if (PQntuples(res) == 1)
		*s = status_from_text(PQgetvalue(res, 0, 0));
	PQclear(res);
	return SC_OK;
}

static sc_err device_twin(struct pg_reg *reg, const char *device_id, char *other, size_t other_len,
    enum sc_reg_dev_status *s)
{
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	*s = 0;
	other[0] = '\0';
	p_text(&p, device_id);
	if ((r = x(reg, "reading a device",
	         "SELECT device_id, status FROM devices WHERE " DEV_KEY("device_id") " = " DEV_KEY(
	             "$1::text") " AND device_id <> $1 "
	                         "ORDER BY device_id LIMIT 1",
	         &p, &res)) != SC_OK)
		return r;
	if (PQntuples(res) == 1) {
		copy_col(res, 0, 0, other, other_len);
		*s = status_from_text(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return SC_OK;
}

/*
 * Insert a device inside the caller's transaction; *inserted = 0 if a row with that ID or its
 * key is there (ON CONFLICT: a failed statement would abort the whole transaction, and a
 * concurrent insert by another node is waited for, then counted as there).
 */
static sc_err device_insert(struct pg_reg *reg, const char *device_id, const char *note,
    const char *actor, int64_t now, const char *how, int *inserted)
{
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_text(&p, device_id);
	p_text(&p, note != NULL ? note : "");
	p_i64(&p, now);
	if ((r = x(reg, "adding a device",
	         "INSERT INTO devices (device_id, status, note, created_at, updated_at) "
	         "VALUES ($1, 'active', $2, $3, $3) ON CONFLICT DO NOTHING RETURNING 1",
	         &p, &res)) != SC_OK)
		return r;
	*inserted = PQntuples(res) == 1;
	PQclear(res);
	if (!*inserted)
		return SC_OK;
	return audit(reg, now, actor, "device-added", device_id, how);
}

/* Why device_id cannot be added: SC_ERR_EXISTS with registry.h's details. */
static sc_err device_exists(struct pg_reg *reg, const char *device_id)
{
	enum sc_reg_dev_status s;
	char twin[SC_DEVICE_ID_MAX + 1];
	sc_err r;

	if ((r = device_status(reg, device_id, "", &s)) != SC_OK)
		return r;
	if (s != 0)
		return sc_fail(SC_ERR_EXISTS, "device %s is already registered (%s)", device_id,
		    sc_reg_dev_status_name(s));
	if ((r = device_twin(reg, device_id, twin, sizeof(twin), &s)) != SC_OK)
		return r;
	if (s != 0)
		return sc_fail(SC_ERR_EXISTS,
		    "device %s is already registered as %s (%s): device IDs are the "
		    "same ignoring case and runs of spaces",
		    device_id, twin, sc_reg_dev_status_name(s));
	return sc_fail(SC_ERR_EXISTS, "device %s is already registered", device_id);
}

static sc_err pg_device_revoke(struct sc_reg *base, const char *device_id, const char *reason,
    const char *actor, int64_t now, int *already)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	enum sc_reg_dev_status s = 0;
	sc_err r;

	*already = 0;
	if ((r = begin(reg)) != SC_OK)
		return r;
	/* The row lock orders the revocation against every node's profile and certificate writes. */
	if ((r = device_status(reg, device_id, "FOR NO KEY UPDATE", &s)) != SC_OK)
		goto out;
	if (s == 0) {
		r = sc_fail(SC_ERR_NOT_FOUND, "device %s is not registered", device_id);
		goto out;
	}
	if (s == SC_REG_DEV_REVOKED) {
		*already = 1;
		r = SC_OK;
		goto out;
	}
	p_i64(&p, now);
	p_text(&p, device_id);
	p_text(&p, reason != NULL ? reason : "");
	p_text(&p, actor);
	/* One statement (a data-modifying CTE): every parameter is used, and one round trip. */
	if ((r = run(reg, "revoking",
	         "WITH u AS (UPDATE devices SET status = 'revoked', updated_at = $1"
	         " WHERE device_id = $2 RETURNING device_id)"
	         " INSERT INTO revocations (device_id, reason, revoked_at, actor)"
	         " SELECT device_id, $3, $1, $4 FROM u",
	         &p)) != SC_OK ||
	    (r = audit(reg, now, actor, "device-revoked", device_id, reason)) != SC_OK)
		goto out;
	r = commit(reg);
out:
	rollback(reg);
	return r;
}

/*
 * A device with its counts, revocation and newest certificate in one statement (one round trip
 * per device, or per listing).
 */
#define DEVICE_SELECT                                                                       \
	"SELECT d.device_id, d.status, d.note, d.created_at, d.updated_at,"                 \
	" (SELECT count(*) FROM profiles p WHERE p.device_id = d.device_id),"               \
	" (SELECT count(*) FROM certificates c WHERE c.device_id = d.device_id),"           \
	" r.revoked_at, r.reason, lc.serial, lc.fingerprint, lc.profile_id, lc.not_before," \
	" lc.not_after, lc.registered_at "                                                  \
	"FROM devices d LEFT JOIN revocations r ON r.device_id = d.device_id "              \
	"LEFT JOIN LATERAL (SELECT serial, fingerprint, profile_id, not_before, not_after," \
	" registered_at FROM certificates c WHERE c.device_id = d.device_id"                \
	" ORDER BY registered_at DESC, id DESC LIMIT 1) lc ON true "

static void device_from_row(const PGresult *res, int i, struct sc_reg_device *d)
{
	memset(d, 0, sizeof(*d));
	copy_col(res, i, 0, d->device_id, sizeof(d->device_id));
	d->status = status_from_text(PQgetvalue(res, i, 1));
	copy_col(res, i, 2, d->note, sizeof(d->note));
	d->created_at = i64(res, i, 3);
	d->updated_at = i64(res, i, 4);
	d->n_profiles = i64(res, i, 5);
	d->n_certs = i64(res, i, 6);
	d->revoked_at = i64(res, i, 7);
	copy_col(res, i, 8, d->revoke_reason, sizeof(d->revoke_reason));
	if (!PQgetisnull(res, i, 10)) {
		d->has_cert = 1;
		copy_col(res, i, 9, d->cert_serial, sizeof(d->cert_serial));
		copy_col(res, i, 10, d->cert_fpr, sizeof(d->cert_fpr));
		copy_col(res, i, 11, d->cert_profile_id, sizeof(d->cert_profile_id));
		d->cert_not_before = i64(res, i, 12);
		d->cert_not_after = i64(res, i, 13);
		d->cert_registered_at = i64(res, i, 14);
	}
}

static sc_err pg_device_get(struct sc_reg *base, const char *device_id, struct sc_reg_device *out)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	memset(out, 0, sizeof(*out));
	p_text(&p, device_id);
	if ((r = x(reg, "reading a device", DEVICE_SELECT "WHERE d.device_id = $1", &p, &res)) !=
	    SC_OK)
		return r;
	if (PQntuples(res) == 1)
		device_from_row(res, 0, out);
	else
		r = sc_fail(SC_ERR_NOT_FOUND, "device %.64s is not registered", device_id);
	PQclear(res);
	return r;
}

static sc_err pg_device_list(struct sc_reg *base, enum sc_reg_dev_status status,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	struct sc_reg_device d;
	sc_err r;

	p_text(&p, status == 0 ? NULL : sc_reg_dev_status_name(status));
	if ((r = x(reg, "listing devices",
	         DEVICE_SELECT "WHERE $1::text IS NULL OR d.status = $1 ORDER BY d.device_id", &p,
	         &res)) != SC_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		device_from_row(res, i, &d);
		if (cb(ctx, &d) != 0)
			break;
	}
	PQclear(res);
	return SC_OK;
}

/* ---- the operator's pages ---- */

/*
 * Keyset paging on the primary key, as SQLite's (reg_sqlite.c sq_device_page, the same bounds
 * worked out here): device_id is COLLATE "C", so its order and the bounds' comparisons are byte
 * order, as SQLite's; each page is a range scan of the primary key however deep. Lower,
 * inclusive: the cursor followed by \x01 (no device ID holds a byte below a space), or the
 * prefix if that is greater, or ''. Upper, exclusive: the prefix with its last byte + 1, or DEL.
 * The prefix compared as bytes (left(), never LIKE). One row past the page: *more. The newest
 * certificate (DEVICE_SELECT's lc) gives expiring_before; no certificate, not listed.
 */
static sc_err pg_device_page(struct sc_reg *base, const struct sc_reg_query *q,
    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx, int *more)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	struct sc_reg_device d;
	char lower[SC_DEVICE_ID_MAX + 2], upper[SC_DEVICE_ID_MAX + 1];
	size_t plen;
	int n;
	sc_err r;

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
	p_text(&p, q->status == 0 ? NULL : sc_reg_dev_status_name(q->status));
	p_text(&p, q->id_prefix != NULL ? q->id_prefix : "");
	p_text(&p, lower);
	if (q->expiring_before != 0)
		p_i64(&p, q->expiring_before);
	else
		p_text(&p, NULL);
	p_i64(&p, (int64_t)q->limit + 1);
	p_text(&p, upper);
	if ((r = x(reg, "listing devices",
	         DEVICE_SELECT "WHERE d.device_id >= $3::text COLLATE \"C\""
	                       " AND d.device_id < $6::text COLLATE \"C\""
	                       " AND left(d.device_id, length($2::text)) = $2::text COLLATE \"C\""
	                       " AND ($1::text IS NULL OR d.status = $1::text)"
	                       " AND ($4::bigint IS NULL OR lc.not_after < $4::bigint)"
	                       " ORDER BY d.device_id LIMIT $5::bigint",
	         &p, &res)) != SC_OK)
		return r;
	n = PQntuples(res);
	if ((size_t)n > q->limit) {
		*more = 1;
		n = (int)q->limit;
	}
	for (int i = 0; i < n; i++) {
		device_from_row(res, i, &d);
		if (cb(ctx, &d) != 0)
			break;
	}
	PQclear(res);
	return SC_OK;
}

/*
 * A device's profiles, newest first, without their DER. Ties within one second go by profile ID
 * (PostgreSQL's profiles have no insertion counter, SQLite orders those by rowid).
 */
static sc_err pg_profile_list(struct sc_reg *base, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_profile_rec *pr), void *ctx)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	struct sc_reg_profile_rec pr;
	sc_err r;

	p_text(&p, device_id);
	if (limit == 0)
		p_text(&p, NULL); /* LIMIT NULL: all */
	else
		p_i64(&p, (int64_t)limit);
	if ((r = x(reg, "listing profiles",
	         "SELECT profile_id, device_id, challenge, origin, alg, not_before, not_after,"
	         " profile_not_after, created_at, consumed_at FROM profiles WHERE device_id = $1"
	         " ORDER BY created_at DESC, profile_id DESC LIMIT $2::bigint",
	         &p, &res)) != SC_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		memset(&pr, 0, sizeof(pr));
		copy_col(res, i, 0, pr.profile_id, sizeof(pr.profile_id));
		copy_col(res, i, 1, pr.device_id, sizeof(pr.device_id));
		copy_col(res, i, 2, pr.challenge, sizeof(pr.challenge));
		pr.origin = strcmp(PQgetvalue(res, i, 3), "server") == 0 ? SC_KEY_SERVER_SUPPLIED
		                                                         : SC_KEY_DEVICE_GENERATED;
		if (sc_alg_from_name(PQgetvalue(res, i, 4), &pr.alg) != SC_OK)
			pr.alg = SC_ALG_NONE;
		pr.not_before = i64(res, i, 5);
		pr.not_after = i64(res, i, 6);
		pr.profile_not_after = i64(res, i, 7);
		pr.created_at = i64(res, i, 8);
		pr.consumed_at = i64(res, i, 9);
		if (cb(ctx, &pr) != 0)
			break;
	}
	PQclear(res);
	return SC_OK;
}

/* One audit row in its own transaction (an operator's failed login, a download). */
static sc_err pg_audit_add(struct sc_reg *base, int64_t now, const char *actor, const char *event,
    const char *device_id, const char *detail)
{
	struct pg_reg *reg = pg(base);
	sc_err r;

	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = audit(reg, now, actor, event, device_id, detail)) != SC_OK)
		goto out;
	r = commit(reg);
out:
	rollback(reg);
	return r;
}

/* ---- the activation feed ---- */

/* ---- profiles ---- */

/*
 * The checks shared by precheck and insert: the device's status (inside the insert's
 * transaction locked "FOR NO KEY UPDATE", so every node's inserts for one device queue on its
 * row, the count below is exact, and a revocation is ordered against them), then its profiles
 * in the window and the challenge. Inside the transaction the count is a statement of its own
 * after the lock: one that waited for the lock keeps its older snapshot for everything but the
 * locked row, and would miss the profile the lock holder just committed. The two travel in one
 * pipeline (pl_run), so the order costs no round trip. The precheck takes no lock (it is
 * advice, the insert decides) and reads all of it in one statement, one snapshot.
 *
 * source non-empty: an unauthenticated request from that address, counted in the address's
 * budget (its profiles for any device), not in the device's. Many devices share an address, so
 * no device row orders them: inside the insert's transaction (lock set) an advisory
 * transaction lock on the address's hash comes first — taken after the device row, always in
 * that order, so no two inserts wait on each other in a cycle — and every node's inserts from
 * one address queue on it, making that count exact too. Two addresses whose hashes collide
 * merely queue together; the two-key lock never meets the migration's one-key lock of the same
 * number (PostgreSQL keeps the two key spaces apart).
 */

/*
 * A device's own profiles (authenticated: source NULL), device_id and created_at read through
 * profiles_by_device only (issue 17, pg14). Written "source IS NULL", the condition also fits
 * profiles_by_source (source, created_at), and the planner takes that index whenever it prices
 * it lower: with no statistics (a new table, before autovacuum's first ANALYZE; in bench_ca
 * the choice came and went as the tables grew) or with statistics in which NULL sources look
 * rare (a network whose profiles are mostly unauthenticated). Then it read every authenticated
 * profile of the window, all devices', filtering on device_id (150 rows and 36-60 pages per
 * call at 300 devices in bench_ca; three such statements per enrollment; growing with the
 * fleet's enrollments per window). source is never '' (its CHECK: NULL or 1..64 characters), so
 * coalesce(source, '') = '' is the same rows, and no index has that expression.
 */
#define DEVICE_BUDGET(dev) "device_id = " dev " AND coalesce(source, '') = ''"

/* The profiles in the window and the challenge's use: $1 the budget's key, $2 the window's
 * start, $3 the challenge or NULL. */
#define RATE_COLS                    \
	"count(*), min(created_at)," \
	" $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM profiles WHERE challenge = $3)"
#define RATE_SQL_DEVICE     \
	"SELECT " RATE_COLS \
	" FROM profiles WHERE " DEVICE_BUDGET("$1") " AND created_at > $2::bigint"
#define RATE_SQL_SOURCE \
	"SELECT " RATE_COLS " FROM profiles WHERE source = $1 AND created_at > $2::bigint"

/* The count and challenge columns at col, col + 1, col + 2 of res's one row. */
static void rate_cols(const PGresult *res, int col, struct sc_reg_seen *v)
{
	v->n = i64(res, 0, col);
	v->oldest = i64(res, 0, col + 1);
	v->used = strcmp(PQgetvalue(res, 0, col + 2), "t") == 0;
}

/* The rate statement's parameters into p (RATE_SQL_*). */
static void rate_params(struct prm *p, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now)
{
	int unauth = source != NULL && *source != '\0';

	p_text(p, unauth ? source : device_id);
	p_i64(p, rate != NULL && rate->max > 0 ? now - rate->window_s : INT64_MAX);
	p_text(p, challenge != NULL && *challenge != '\0' ? challenge : NULL);
}

static sc_err pin_put(struct pg_reg *reg, const char *device_id, const struct sc_reg_pin *pin,
    int64_t now, const char *actor);
static sc_err pin_judge(const char *device_id, const struct sc_reg_pin *have, int found,
    const struct sc_reg_pin *pin);
static void pin_row(const PGresult *res, int col, struct sc_reg_pin *out, int *found,
    int *root_match);

/* The precheck's statement (one snapshot): $1 the budget's key, $2, $3 as RATE_SQL_*, the
 * device $1 (its own budget) or $4 (an address's). */
#define PRECHECK_SQL_DEVICE                                                    \
	"SELECT (SELECT status FROM devices WHERE device_id = $1), " RATE_COLS \
	" FROM profiles WHERE " DEVICE_BUDGET("$1") " AND created_at > $2::bigint"
#define PRECHECK_SQL_SOURCE                                                    \
	"SELECT (SELECT status FROM devices WHERE device_id = $4), " RATE_COLS \
	" FROM profiles WHERE source = $1 AND created_at > $2::bigint"

/* The precheck's parameters and the columns it read (status, then rate_cols's). */
static void precheck_params(struct prm *p, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now)
{
	rate_params(p, device_id, challenge, source, rate, now);
	if (source != NULL && *source != '\0')
		p_text(p, device_id);
}

static void precheck_cols(const PGresult *res, struct sc_reg_seen *v)
{
	v->s = PQgetisnull(res, 0, 0) ? 0 : status_from_text(PQgetvalue(res, 0, 0));
	rate_cols(res, 1, v);
}

/* Outside any transaction, one statement: the device's status beside the rate's columns. */
static sc_err pg_profile_precheck(struct sc_reg *base, const char *device_id, const char *challenge,
    const char *source, const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after)
{
	struct pg_reg *reg = pg(base);
	struct sc_reg_seen v = { 0 };
	struct prm p = { 0 };
	PGresult *res = NULL;
	int unauth = source != NULL && *source != '\0';
	sc_err r;

	if (retry_after != NULL)
		*retry_after = 0;
	precheck_params(&p, device_id, challenge, source, rate, now);
	if ((r = x(reg, "rate and challenge", unauth ? PRECHECK_SQL_SOURCE : PRECHECK_SQL_DEVICE,
	         &p, &res)) != SC_OK)
		return r;
	precheck_cols(res, &v);
	PQclear(res);
	return sc_reg_profile_judge(&v, device_id, source, rate, now, retry_after);
}

/*
 * The precheck's statement with the device's pin beside it (PIN_READ_SQL's columns, the root
 * the last parameter, NULL when there is none): one round trip where the two took two.
 */
#define LOOKUP_PIN(dev, root)                                                                     \
	" LEFT JOIN (SELECT ca_sha256, kek_sha256, path_sha256, root_sha256, ca_spki, pinned_at," \
	" (root_sha256 = " root ")::int, chain_verdict FROM device_pins WHERE device_id = " dev   \
	" ORDER BY 7 DESC, root_sha256 LIMIT 1) p ON true"

static sc_err pg_profile_lookup(struct sc_reg *base, const char *device_id, const char *root_sha256,
    const char *challenge, const char *source, const struct sc_reg_rate *rate, int64_t now,
    struct sc_reg_pin *out, int *found, int *root_match, struct sc_reg_seen *seen)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	int unauth = source != NULL && *source != '\0';
	sc_err r;

	precheck_params(&p, device_id, challenge, source, rate, now);
	p_text(&p, root_sha256);
	if ((r = x(reg, "reading a device and its pin",
	         unauth ? "SELECT * FROM (" PRECHECK_SQL_SOURCE ") r" LOOKUP_PIN("$4", "$5")
	                : "SELECT * FROM (" PRECHECK_SQL_DEVICE ") r" LOOKUP_PIN("$1", "$4"),
	         &p, &res)) != SC_OK)
		return r;
	precheck_cols(res, seen);
	pin_row(res, 4, out, found, root_match);
	PQclear(res);
	return SC_OK;
}

#define PIN_READ_SQL                                                                    \
	"SELECT ca_sha256, kek_sha256, path_sha256, root_sha256, ca_spki, pinned_at,"   \
	" (root_sha256 = $1)::int, chain_verdict FROM device_pins WHERE device_id = $2" \
	" ORDER BY 7 DESC, root_sha256 LIMIT 1"

/*
 * The profile and its audit row (written only when the profile was: the challenge's UNIQUE
 * constraint is the last word, and another device's insert of the same challenge on another
 * node, with no row lock in common, waits here and then does nothing), $1..$14. The row's
 * insert, $1..$12 (profile_row_params), is dur11's recovery's too.
 */
#define PROFILE_ROW_INSERT                                                                 \
	"INSERT INTO profiles (profile_id, device_id, challenge, origin, alg, not_before," \
	" not_after, profile_not_after, der, chain_pem, created_at, source)"               \
	" VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
#define PROFILE_INSERT_SQL                                                                   \
	"WITH p AS (" PROFILE_ROW_INSERT                                                     \
	" ON CONFLICT ON CONSTRAINT profiles_challenge_key DO NOTHING RETURNING device_id)," \
	" a AS (INSERT INTO audit (at, actor, event, device_id, detail)"                     \
	" SELECT $11, $13, 'profile-issued', device_id, $14 FROM p RETURNING 1)"

/*
 * A profile row's twelve columns, $1..$12 of PROFILE_ROW_INSERT (PROFILE_INSERT_SQL's and
 * dur11's recovery's, pg_profile_recover), into p, which must be empty.
 */
static void profile_row_params(struct prm *p, const struct sc_reg_profile_rec *rec, int64_t now)
{
	p_text(p, rec->profile_id);
	p_text(p, rec->device_id);
	p_text(p, rec->challenge[0] != '\0' ? rec->challenge : NULL);
	p_text(p, rec->origin == SC_KEY_SERVER_SUPPLIED ? "server" : "device");
	p_text(p, sc_alg_name(rec->alg) ? sc_alg_name(rec->alg) : "unknown");
	p_i64(p, rec->not_before);
	p_i64(p, rec->not_after);
	p_i64(p, rec->profile_not_after);
	p_bin(p, rec->der, rec->der_len);
	p_text(p, rec->chain_pem != NULL ? rec->chain_pem : "");
	p_i64(p, now);
	p_text(p, rec->source[0] != '\0' ? rec->source : NULL);
}

/*
 * PROFILE_INSERT_SQL's $1..$14 into p: the row's (profile_row_params), then its profile-issued
 * audit row's actor and detail; detail is the caller's buffer.
 */
static void profile_write_params(struct prm *p, const struct sc_reg_profile_rec *rec, int64_t now,
    const char *actor, char *detail, size_t detail_len)
{
	profile_row_params(p, rec, now);
	snprintf(detail, detail_len, "profile %s, %s key %s%s%s", rec->profile_id,
	    rec->origin == SC_KEY_SERVER_SUPPLIED ? "server-generated" : "device-generated",
	    sc_alg_name(rec->alg) ? sc_alg_name(rec->alg) : "?",
	    rec->source[0] != '\0' ? ", unauthenticated request from " : "", rec->source);
	p_text(p, actor != NULL ? actor : "unknown");
	p_text(p, detail);
}

/*
 * The write's guard (req9): the judge's device and rate conditions (sc_reg_profile_judge), in
 * the write's own snapshot, after the device row's lock and the address's, $15 the window's
 * start, $16 the budget (0: none). Where they do not hold it divides by zero (SQLSTATE 22012),
 * which aborts the statement, so that the transaction holds no profile and its COMMIT, queued
 * behind in the same pipeline, cannot commit one. The final SELECT filters on g's column, so no
 * plan can leave the division out (an unused column of an inlined CTE would be: a first version
 * wrote refused profiles so, and test_profiles caught it); it is evaluated at the latest when p
 * wrote a row (if p wrote none there is nothing to stop).
 */
#define PROFILE_GUARD(budget)                                                                           \
	", g AS (SELECT 1 / (CASE WHEN (SELECT status FROM devices WHERE"                               \
	" device_id = $2) = 'active' AND ($16::int = 0 OR (SELECT count(*) FROM profiles WHERE " budget \
	" AND created_at > $15::bigint) < $16::int) THEN 1 ELSE 0 END) AS ok)"                          \
	" SELECT count(*) FROM p, g WHERE g.ok = 1"
#define PROFILE_GUARD_DEVICE PROFILE_GUARD(DEVICE_BUDGET("$2"))
#define PROFILE_GUARD_SOURCE PROFILE_GUARD("source = $12")

/*
 * A profile with no pin to add (a pinned device's, or any request once its device is pinned; a
 * first contact's goes the two-trip way below): ONE round trip (req9). BEGIN, the device's row
 * lock, [the address's lock], the rate and challenge read, the guarded write, COMMIT, in one
 * pipeline. The read is judged here for the refusal's code and detail; the write repeats the
 * judge's device and rate conditions in SQL (PROFILE_GUARD) and fails where they fail, so a
 * refused profile is never committed; the challenge's UNIQUE constraint is the last word as
 * before (nothing written: a replay). Both run after the locks, each in its own snapshot; every
 * profile insert of the device (or the address) holds the same lock, so they see the same rows.
 */
static sc_err profile_insert_one(struct pg_reg *reg, struct sc_reg_profile_rec *rec,
    const struct sc_reg_rate *rate, int64_t now, const char *actor, int64_t *retry_after)
{
	struct prm dev = { 0 }, adr = { 0 }, rt = { 0 }, p = { 0 };
	struct pl_st st[7];
	PGresult *res[7] = { NULL };
	struct sc_reg_seen v = { 0 };
	char detail[192], state[6] = "";
	size_t n = 0, i_rate, i_write;
	int unauth = rec->source[0] != '\0', limited = rate != NULL && rate->max > 0, committed;
	sc_err r, j;

	rec->created_at = now;
	rec->consumed_at = 0;
	if (retry_after != NULL)
		*retry_after = 0;
	st[n++] = (struct pl_st){ "begin", "BEGIN", NULL };
	if (rec->deferred_commit) /* as pg_profile_insert's */
		st[n++] = (struct pl_st){ "deferred commit", "SET LOCAL synchronous_commit = off",
			NULL };
	p_text(&dev, rec->device_id);
	st[n++] = (struct pl_st){ "reading a device",
		"SELECT status FROM devices WHERE device_id = $1 FOR NO KEY UPDATE", &dev };
	if (unauth && limited) {
		p_text(&adr, rec->source);
		st[n++] = (struct pl_st){ "address lock",
			"SELECT pg_advisory_xact_lock(1396920903, hashtext($1))", &adr };
	}
	/* The precheck's statement, now after the locks: the status beside the count. */
	precheck_params(&rt, rec->device_id, rec->challenge, rec->source, rate, now);
	i_rate = n;
	st[n++] = (struct pl_st){ "rate and challenge",
		unauth ? PRECHECK_SQL_SOURCE : PRECHECK_SQL_DEVICE, &rt };
	profile_write_params(&p, rec, now, actor, detail, sizeof(detail));
	p_i64(&p, limited ? now - rate->window_s : INT64_MAX);
	p_i64(&p, limited ? (int64_t)rate->max : 0);
	i_write = n;
	st[n++] = (struct pl_st){ "recording a profile",
		unauth ? PROFILE_INSERT_SQL PROFILE_GUARD_SOURCE
		       : PROFILE_INSERT_SQL PROFILE_GUARD_DEVICE,
		&p };
	st[n++] = (struct pl_st){ "commit", "COMMIT", NULL };
	r = pl_run(reg, st, n, res, state);
	/*
	 * Committed (the write's row came back and the COMMIT went through): the guard judged under
	 * the locks, so its verdict stands, whatever the rate read said (review, session 9).
	 */
	committed = r == SC_OK && PQntuples(res[i_write]) == 1 &&
	    strcmp(PQgetvalue(res[i_write], 0, 0), "1") == 0;
	if (!committed && res[i_rate] != NULL && PQresultStatus(res[i_rate]) == PGRES_TUPLES_OK &&
	    PQntuples(res[i_rate]) == 1) {
		precheck_cols(res[i_rate], &v);
		if ((j = sc_reg_profile_judge(&v, rec->device_id, rec->source, rate, now,
		         retry_after)) != SC_OK) {
			r = j; /* refused: the guard kept the profile out (or nothing was written) */
			goto out;
		}
	}
	if (r != SC_OK) {
		if (strcmp(state, "22012") ==
		    0) /* the guard failed where the judge did not: never */
			r = sc_fail(SC_ERR_IO,
			    "recording a profile: the device changed under its lock");
		goto out;
	}
	if (!committed)
		r = sc_fail(SC_ERR_REPLAY,
		    "challenge already used for a profile (a replayed request)");
out:
	for (size_t i = 0; i < n; i++)
		PQclear(res[i]);
	rollback(reg);
	return r;
}

/*
 * A first contact's (a pin to add; the others: profile_insert_one). Two round trips, each a
 * pipeline: BEGIN, the device's row lock, [the address's lock], the
 * rate and challenge, [the device's pin]; then, judged here, the writes in one statement and
 * COMMIT. The writes depend on each other inside the statement (the audit rows and the pin
 * only where the profile was written), so the COMMIT queued behind them commits all or, for a
 * challenge another node took meanwhile, nothing. Before issue 17's pipelines: 7-8 round trips.
 */
static sc_err pg_profile_insert(struct sc_reg *base, struct sc_reg_profile_rec *rec,
    const struct sc_reg_rate *rate, int64_t now, const char *actor, int64_t *retry_after)
{
	struct pg_reg *reg = pg(base);
	struct prm dev = { 0 }, adr = { 0 }, rt = { 0 }, pn = { 0 }, p = { 0 };
	struct pl_st st[6];
	PGresult *res[6] = { NULL };
	struct sc_reg_seen v = { 0 };
	struct sc_reg_pin have;
	char detail[192], pin_detail[192];
	size_t n = 0, i_dev, i_rate, i_pin = 0;
	int unauth = rec->source[0] != '\0', found = 0, root_match = 0, pin_new = 0;
	sc_err r;

	if (rec->pin == NULL)
		return profile_insert_one(reg, rec, rate, now, actor, retry_after);
	rec->created_at = now;
	rec->consumed_at = 0;
	if (retry_after != NULL)
		*retry_after = 0;
	st[n++] = (struct pl_st){ "begin", "BEGIN", NULL };
	/*
	 * deferred_commit (registry.h): this commit returns without waiting for its WAL flush;
	 * any later synchronous commit (the device's certificate) flushes the WAL past it.
	 */
	if (rec->deferred_commit)
		st[n++] = (struct pl_st){ "deferred commit", "SET LOCAL synchronous_commit = off",
			NULL };
	p_text(&dev, rec->device_id);
	i_dev = n;
	st[n++] = (struct pl_st){ "reading a device",
		"SELECT status FROM devices WHERE device_id = $1 FOR NO KEY UPDATE", &dev };
	if (unauth && rate != NULL && rate->max > 0) {
		p_text(&adr, rec->source);
		st[n++] = (struct pl_st){ "address lock",
			"SELECT pg_advisory_xact_lock(1396920903, hashtext($1))", &adr };
	}
	rate_params(&rt, rec->device_id, rec->challenge, rec->source, rate, now);
	i_rate = n;
	st[n++] = (struct pl_st){ "rate and challenge", unauth ? RATE_SQL_SOURCE : RATE_SQL_DEVICE,
		&rt };
	if (rec->pin != NULL) {
		/* Under the device row's lock: two first contacts of one device queue. */
		p_text(&pn, rec->pin->root_sha256);
		p_text(&pn, rec->device_id);
		i_pin = n;
		st[n++] = (struct pl_st){ "reading a device pin", PIN_READ_SQL, &pn };
	}
	if ((r = pl_run(reg, st, n, res, NULL)) != SC_OK)
		goto out;
	if (PQntuples(res[i_dev]) == 1)
		v.s = status_from_text(PQgetvalue(res[i_dev], 0, 0));
	rate_cols(res[i_rate], 0, &v);
	if ((r = sc_reg_profile_judge(&v, rec->device_id, rec->source, rate, now, retry_after)) !=
	    SC_OK)
		goto out;
	if (rec->pin != NULL) {
		pin_row(res[i_pin], 0, &have, &found, &root_match);
		if ((r = pin_judge(rec->device_id, &have, found, rec->pin)) != SC_OK)
			goto out;
		pin_new = !root_match;
	}
	profile_write_params(&p, rec, now, actor, detail, sizeof(detail));
	if (pin_new) {
		const struct sc_reg_pin *pin = rec->pin;

		p_text(&p, pin->root_sha256);
		p_text(&p, pin->ca_sha256);
		p_text(&p, pin->kek_sha256);
		p_text(&p, pin->path_sha256);
		p_bin(&p, pin->spki, pin->spki_len);
		snprintf(pin_detail, sizeof(pin_detail),
		    "device CA %.16s…, KEK %.16s…, root %.16s…", pin->ca_sha256, pin->kek_sha256,
		    pin->root_sha256);
		p_text(&p, pin_detail);
		p_i64(&p, (int64_t)pin->chain_verdict);
	}
	for (size_t i = 0; i < n; i++)
		PQclear(res[i]);
	memset(res, 0, sizeof(res));
	/*
	 * With a new pin: written only beside the profile (FROM p), its audit row after the
	 * profile's (it waits for a's row: the order sequential statements gave them).
	 */
	st[0] = (struct pl_st){ "recording a profile",
		pin_new ? PROFILE_INSERT_SQL
		    ","
		    " d AS (INSERT INTO device_pins (device_id, root_sha256, ca_sha256,"
		    " kek_sha256, path_sha256, ca_spki, pinned_at, chain_verdict)"
		    " SELECT device_id, $15, $16, $17, $18, $19, $11, $21 FROM p"
		    " RETURNING device_id),"
		    " e AS (INSERT INTO audit (at, actor, event, device_id, detail)"
		    " SELECT $11, $13, 'device-pinned', device_id, $20 FROM d"
		    " WHERE EXISTS (SELECT 1 FROM a))"
		    " SELECT count(*) FROM p"
		        : PROFILE_INSERT_SQL " SELECT count(*) FROM p",
		&p };
	st[1] = (struct pl_st){ "commit", "COMMIT", NULL };
	if ((r = pl_run(reg, st, 2, res, NULL)) != SC_OK)
		goto out;
	if (strcmp(PQgetvalue(res[0], 0, 0), "1") != 0)
		r = sc_fail(SC_ERR_REPLAY,
		    "challenge already used for a profile (a replayed request)");
out:
	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++)
		PQclear(res[i]);
	rollback(reg);
	return r;
}

/* ---- pins (schema 5) ---- */

/*
 * The pin read's row (PIN_READ_SQL's eight columns, from col on), if any, into *out; *found and
 * *root_match as pin_get's. A NULL first column (profile_lookup's LEFT JOIN) is no pin.
 */
static void pin_row(const PGresult *res, int col, struct sc_reg_pin *out, int *found,
    int *root_match)
{
	unsigned char *b = NULL;
	size_t n = 0;
	long long v;

	memset(out, 0, sizeof(*out));
	*found = *root_match = 0;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, col))
		return;
	copy_col(res, 0, col, out->ca_sha256, sizeof(out->ca_sha256));
	copy_col(res, 0, col + 1, out->kek_sha256, sizeof(out->kek_sha256));
	copy_col(res, 0, col + 2, out->path_sha256, sizeof(out->path_sha256));
	copy_col(res, 0, col + 3, out->root_sha256, sizeof(out->root_sha256));
	b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, col + 4), &n);
	if (b != NULL && n > 0 && n <= sizeof(out->spki)) {
		memcpy(out->spki, b, n);
		out->spki_len = n;
	}
	PQfreemem(b);
	out->pinned_at = strtoll(PQgetvalue(res, 0, col + 5), NULL, 10);
	*root_match = strcmp(PQgetvalue(res, 0, col + 6), "1") == 0;
	v = strtoll(PQgetvalue(res, 0, col + 7), NULL, 10); /* the CHECK: 0..2^32-1 */
	out->chain_verdict = v >= 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
	*found = 1;
}

static sc_err pg_pin_get(struct sc_reg *base, const char *device_id, const char *root_sha256,
    struct sc_reg_pin *out, int *found, int *root_match)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_text(&p, root_sha256);
	p_text(&p, device_id);
	if ((r = x(reg, "reading a device pin", PIN_READ_SQL, &p, &res)) != SC_OK)
		return r;
	pin_row(res, 0, out, found, root_match);
	PQclear(res);
	return SC_OK;
}

/* The device's pin (have, if found) against the one a request shows. */
static sc_err pin_judge(const char *device_id, const struct sc_reg_pin *have, int found,
    const struct sc_reg_pin *pin)
{
	if (found &&
	    (strcmp(have->ca_sha256, pin->ca_sha256) != 0 ||
	        strcmp(have->kek_sha256, pin->kek_sha256) != 0))
		return sc_fail(SC_ERR_PIN_MISMATCH,
		    "device %s is pinned to device CA %.16s… and KEK %.16s…; this request shows "
		    "device CA %.16s… and KEK %.16s…",
		    device_id, have->ca_sha256, have->kek_sha256, pin->ca_sha256, pin->kek_sha256);
	return SC_OK;
}

/*
 * Inside the caller's transaction, under the device row's lock (FOR NO KEY UPDATE, as
 * profile_insert takes it, so two first contacts of one device queue): the device's pin is this
 * one, or is added as it. Activation's (act8: a device added with its certificates); a
 * profile's first contact puts its pin in profile_insert's own statement instead.
 */
static sc_err pin_put(struct pg_reg *reg, const char *device_id, const struct sc_reg_pin *pin,
    int64_t now, const char *actor)
{
	struct sc_reg_pin have;
	struct prm p = { 0 };
	int found = 0, root_match = 0;
	char detail[192];
	sc_err r;

	if ((r = pg_pin_get(&reg->base, device_id, pin->root_sha256, &have, &found, &root_match)) !=
	        SC_OK ||
	    (r = pin_judge(device_id, &have, found, pin)) != SC_OK)
		return r;
	if (root_match)
		return SC_OK;
	p_text(&p, device_id);
	p_text(&p, pin->root_sha256);
	p_text(&p, pin->ca_sha256);
	p_text(&p, pin->kek_sha256);
	p_text(&p, pin->path_sha256);
	p_bin(&p, pin->spki, pin->spki_len);
	p_i64(&p, now);
	snprintf(detail, sizeof(detail), "device CA %.16s…, KEK %.16s…, root %.16s…",
	    pin->ca_sha256, pin->kek_sha256, pin->root_sha256);
	p_text(&p, actor != NULL ? actor : "unknown");
	p_text(&p, detail);
	p_i64(&p, (int64_t)pin->chain_verdict);
	/* The pin and its audit row in one statement (issue 17: one round trip fewer). */
	return run(reg, "recording a device pin",
	    "WITH d AS (INSERT INTO device_pins (device_id, root_sha256, ca_sha256, kek_sha256,"
	    " path_sha256, ca_spki, pinned_at, chain_verdict) VALUES ($1,$2,$3,$4,$5,$6,$7,$10)"
	    " RETURNING device_id)"
	    " INSERT INTO audit (at, actor, event, device_id, detail)"
	    " SELECT $7, $8, 'device-pinned', device_id, $9 FROM d",
	    &p);
}

/* A bytea column (text result, hex form) into *out (OPENSSL_malloc'd), 1..max bytes. */
static int bytea_col(const PGresult *res, int row, int col, size_t max, uint8_t **out, size_t *len)
{
	size_t n = 0;
	unsigned char *b;

	*out = NULL;
	*len = 0;
	if (PQgetisnull(res, row, col) ||
	    (b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n)) == NULL)
		return 0;
	if (n > 0 && n <= max && (*out = OPENSSL_malloc(n)) != NULL) {
		memcpy(*out, b, n);
		*len = n;
	}
	PQfreemem(b);
	return *out != NULL;
}

static sc_err pg_profile_get(struct sc_reg *base, const char *profile_id,
    struct sc_reg_profile_rec *out)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	const char *alg;
	sc_err r;

	memset(out, 0, sizeof(*out));
	p_text(&p, profile_id);
	if ((r = x(reg, "reading a profile",
	         "SELECT profile_id, device_id, challenge, origin, alg, not_before, not_after,"
	         " profile_not_after, der, chain_pem, created_at, consumed_at FROM profiles"
	         " WHERE profile_id = $1",
	         &p, &res)) != SC_OK)
		return r;
	if (PQntuples(res) != 1) {
		r = sc_fail(SC_ERR_NOT_FOUND, "no profile %.32s was issued", profile_id);
		goto out;
	}
	copy_col(res, 0, 0, out->profile_id, sizeof(out->profile_id));
	copy_col(res, 0, 1, out->device_id, sizeof(out->device_id));
	copy_col(res, 0, 2, out->challenge, sizeof(out->challenge));
	out->origin = strcmp(PQgetvalue(res, 0, 3), "server") == 0 ? SC_KEY_SERVER_SUPPLIED
	                                                           : SC_KEY_DEVICE_GENERATED;
	alg = PQgetvalue(res, 0, 4);
	if (sc_alg_from_name(alg, &out->alg) != SC_OK)
		out->alg = SC_ALG_NONE;
	out->not_before = i64(res, 0, 5);
	out->not_after = i64(res, 0, 6);
	out->profile_not_after = i64(res, 0, 7);
	if (!bytea_col(res, 0, 8, SC_PROFILE_MAX_DER, &out->der, &out->der_len)) {
		r = sc_fail(SC_ERR_STORE_DAMAGED, "profile %s: stored DER unreadable or too long",
		    out->profile_id);
		goto out;
	}
	if ((out->chain_pem = OPENSSL_strdup(PQgetvalue(res, 0, 9))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "profile chain");
		goto out;
	}
	out->created_at = i64(res, 0, 10);
	out->consumed_at = i64(res, 0, 11);
	r = SC_OK;
out:
	PQclear(res);
	if (r != SC_OK)
		sc_reg_profile_rec_clear(out);
	return r;
}

/* ---- certificates ---- */

/*
 * A certificate's record judged against what its profile's locked row and the certificate of
 * its period show, as one registration alone meets the refusals: found (the profile's row),
 * prof_dev and s (its device and that device's status), consumed (when the profile got its
 * first certificate, 0: never), fpr0 (the fingerprint of the profile's certificate for this
 * period, "" if none). SC_OK with *already set when it is this very certificate again, or SC_OK
 * to write it.
 */
static sc_err cert_judge(const struct sc_reg_cert_rec *rec, int found, const char *prof_dev,
    enum sc_reg_dev_status s, int64_t consumed, const char *fpr0, int *already)
{
	*already = 0;
	if (!found)
		return sc_fail(SC_ERR_PROFILE_UNKNOWN,
		    "the certificate names profile %s, which this server never issued",
		    rec->profile_id);
	if (strcmp(prof_dev, rec->device_id) != 0)
		return sc_fail(SC_ERR_DEVICE_MISMATCH,
		    "profile %s was issued to device %s, the certificate is device %s's",
		    rec->profile_id, prof_dev, rec->device_id);
	if (s != SC_REG_DEV_ACTIVE)
		return sc_fail(SC_ERR_REVOKED, "device %s is revoked", rec->device_id);
	if (consumed == 0)
		return SC_OK;
	/* A renewal profile (#17) is consumed per period: this period's certificate decides. */
	if (strcmp(fpr0, rec->fpr) == 0) {
		*already = 1;
		return SC_OK;
	}
	if (!rec->renewal || fpr0[0] != '\0')
		return sc_fail(SC_ERR_PROFILE_CONSUMED,
		    "profile %s already has a registered certificate%s", rec->profile_id,
		    rec->renewal ? " for this period" : "");
	return SC_OK;
}

static sc_err already_for_another(void)
{
	return sc_fail(SC_ERR_PROFILE_CONSUMED,
	    "this certificate is already registered for another profile");
}

/*
 * The profile row locked (concurrent records of one profile queue: the first registers, the
 * rest see it consumed and get already-registered or profile-consumed, never a raw constraint
 * error), the device row shared (a revocation waits for us, or we see it). $1 the profile.
 * crl15: with the device's kept CRL's nextUpdate (registry.h), in the same round trip.
 */
#define CERT_LOCK_SQL                                                  \
	"SELECT p.device_id, p.consumed_at, d.status, c.next_update"   \
	" FROM profiles p JOIN devices d ON d.device_id = p.device_id" \
	" LEFT JOIN device_crls c ON c.device_id = p.device_id"        \
	" WHERE p.profile_id = $1 FOR NO KEY UPDATE OF p FOR SHARE OF d"
/*
 * crl15b: the same for a role that may not read device_crls (crl_check): its fourth column 0,
 * "not read" (registry.h), so provd says nothing of the CRL rather than every registration
 * failing with "permission denied for table device_crls".
 */
#define CERT_LOCK_NOCRL_SQL                                            \
	"SELECT p.device_id, p.consumed_at, d.status, 0::bigint"       \
	" FROM profiles p JOIN devices d ON d.device_id = p.device_id" \
	" WHERE p.profile_id = $1 FOR NO KEY UPDATE OF p FOR SHARE OF d"
#define CERT_LOCK(reg) ((reg)->crl_read == 1 ? CERT_LOCK_SQL : CERT_LOCK_NOCRL_SQL)

/*
 * A certificate row's insert, $1..$9 (cert_row_params): cert_record_stmts's and, in one
 * statement with its audit row, CERT_WRITE_SQL's (the pipelined batch's).
 */
#define CERT_ROW_INSERT                                                                     \
	"INSERT INTO certificates (fingerprint, serial, device_id, profile_id, not_before," \
	" not_after, der, registered_at, period) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"       \
	" ON CONFLICT (fingerprint) DO NOTHING"

/*
 * CERT_ROW_INSERT's $1..$9 into p, which must be empty; the period as stored (a renewal's, else
 * 0: cert_batch's job period).
 */
static void cert_row_params(struct prm *p, const struct sc_reg_cert_rec *rec, int64_t now)
{
	p_text(p, rec->fpr);
	p_text(p, rec->serial);
	p_text(p, rec->device_id);
	p_text(p, rec->profile_id);
	p_i64(p, rec->not_before);
	p_i64(p, rec->not_after);
	p_bin(p, rec->der, rec->der_len);
	p_i64(p, now);
	p_i64(p, rec->renewal ? (int64_t)rec->period : 0);
}

/* The certificate-registered audit row's detail. */
static void cert_detail(const struct sc_reg_cert_rec *rec, char *out, size_t out_len)
{
	snprintf(out, out_len, "certificate %s (serial %s) for profile %s", rec->fpr, rec->serial,
	    rec->profile_id);
}

/*
 * A certificate's writes, statement by statement, inside the transaction the caller opened and
 * after its judge: the certificate (none inserted: its fingerprint is registered already, for
 * another profile, SC_ERR_PROFILE_CONSUMED), its profile consumed when consume (the profile's
 * first certificate: not one row consumed is SC_ERR_IO), its certificate-registered audit row.
 * The caller commits, or rolls back on an error. cert_record_tx's, and dur11's recovery's
 * (pg_profile_recover) after the profile it recorded.
 */
static sc_err cert_record_stmts(struct pg_reg *reg, const struct sc_reg_cert_rec *rec, int consume,
    int64_t now, const char *actor)
{
	struct prm q = { 0 };
	PGresult *res = NULL;
	char detail[256];
	int done;
	sc_err r;

	cert_row_params(&q, rec, now);
	if ((r = x(reg, "recording a certificate", CERT_ROW_INSERT " RETURNING 1", &q, &res)) !=
	    SC_OK)
		return r;
	done = PQntuples(res) == 1;
	PQclear(res);
	if (!done)
		return already_for_another();
	if (consume) {
		struct prm u = { 0 };

		p_i64(&u, now);
		p_text(&u, rec->profile_id);
		if ((r = x(reg, "consuming the profile",
		         "UPDATE profiles SET consumed_at = $1 WHERE profile_id = $2 AND consumed_at "
		         "IS NULL",
		         &u, &res)) != SC_OK)
			return r;
		done = strcmp(PQcmdTuples(res), "1") == 0;
		PQclear(res);
		if (!done)
			return sc_fail(SC_ERR_IO, "consuming the profile: registry %s: not one row",
			    reg->where);
	}
	cert_detail(rec, detail, sizeof(detail));
	return audit(reg, now, actor, "certificate-registered", rec->device_id, detail);
}

/*
 * pg17: the lock statement of cert_record_tx, with robust16's answer to a REVOKE of device_crls
 * as cert_batch gives it: 42501 from the statement that joins it, the right asked again
 * (crl_check, revoked) and, unless it is still there (42501 was about something else), the
 * transaction begun again and the statement sent without the join. The caller's transaction
 * is open on SC_OK (and *res the rows), rolled back or never begun otherwise.
 */
static sc_err cert_lock_tx(struct pg_reg *reg, const struct prm *p, int64_t now, PGresult **res)
{
	for (int again = 0;; again = 1) {
		int joined = reg->crl_read == 1, retry;
		const char *st;
		sc_err r;

		if ((r = begin(reg)) != SC_OK)
			return r;
		*res = exec(reg, CERT_LOCK(reg), p);
		if (PQresultStatus(*res) == PGRES_TUPLES_OK)
			return SC_OK;
		st = PQresultErrorField(*res, PG_DIAG_SQLSTATE);
		retry = !again && joined && st != NULL && strcmp(st, "42501") == 0;
		r = pg_fail(reg, *res, "reading a profile");
		PQclear(*res);
		*res = NULL;
		rollback(reg);
		if (retry) {
			crl_check(reg, now, 1);
			if (reg->crl_read != 1) {
				sc_err_clear();
				continue;
			}
		}
		return r; /* (still granted: the failure's own error) */
	}
}

/* One registration alone, statement by statement, in its own transaction (the batch's
 * fallback below: its outcomes are the reference the pipelined batch reproduces). */
static sc_err cert_record_tx(struct pg_reg *reg, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already)
{
	struct prm p = { 0 };
	PGresult *res = NULL;
	char prof_dev[SC_DEVICE_ID_MAX + 1] = "", fpr[SC_REG_FPR_HEX_LEN + 1] = "";
	enum sc_reg_dev_status s = 0;
	int64_t consumed = 0;
	int found;
	sc_err r;

	*already = 0;
	rec->registered_at = now;
	p_text(&p, rec->profile_id);
	if ((r = cert_lock_tx(reg, &p, now, &res)) != SC_OK)
		goto out;
	if ((found = PQntuples(res) == 1)) {
		copy_col(res, 0, 0, prof_dev, sizeof(prof_dev));
		consumed = i64(res, 0, 1);
		s = status_from_text(PQgetvalue(res, 0, 2));
		rec->crl_next_update = PQgetisnull(res, 0, 3) ? -1 : i64(res, 0, 3);
	}
	PQclear(res);
	if (found && consumed != 0) {
		/*
		 * Its certificate, read by a statement of its own: one taken after the lock wait
		 * sees what the winner committed (the locking statement's snapshot predates it).
		 */
		struct prm pp = { 0 };

		p_text(&pp, rec->profile_id);
		p_i64(&pp, rec->renewal ? (int64_t)rec->period : 0);
		if ((r = x(reg, "reading a certificate",
		         "SELECT fingerprint FROM certificates WHERE profile_id = $1 AND period = $2",
		         &pp, &res)) != SC_OK)
			goto out;
		if (PQntuples(res) == 1)
			copy_col(res, 0, 0, fpr, sizeof(fpr));
		PQclear(res);
	}
	if ((r = cert_judge(rec, found, prof_dev, s, consumed, fpr, already)) != SC_OK || *already)
		goto out;
	/* A renewal profile's later periods find it consumed already (#17): the UPDATE would
	 * change no row (its WHERE wants consumed_at NULL), so it is not run (renew7). */
	if ((r = cert_record_stmts(reg, rec, consumed == 0, now, actor)) != SC_OK)
		goto out;
	r = commit(reg);
out:
	rollback(reg);
	return r;
}

/*
 * A registration's writes in one statement, $1..$11 (cert_row_params' nine, then the audit
 * row's actor and detail): the certificate, [its profile consumed,] its audit row, each written
 * only where the certificate was (the profile found by its key, the certificate's existence a
 * one-time filter: a join with c would be planned as a scan of every profile). The last line is
 * a guard: the statement fails with SQLSTATE 22012 (division by zero) unless the certificate
 * was inserted (a fingerprint already registered for another profile inserts nothing) and, when
 * the profile is to be consumed, consumed by exactly this statement. A failed statement aborts
 * the transaction and the COMMIT queued behind it, and the batch is done again one registration
 * at a time (cert_record_tx), whose outcomes are exact: the pipeline never commits what a
 * registration alone would have refused.
 */
#define CERT_WRITE_SQL                                                   \
	"WITH c AS (" CERT_ROW_INSERT " RETURNING profile_id),"          \
	" a AS (INSERT INTO audit (at, actor, event, device_id, detail)" \
	" SELECT $8, $10, 'certificate-registered', $3, $11 FROM c)"
#define CERT_WRITE_CONSUME_SQL                                                                     \
	CERT_WRITE_SQL                                                                             \
	", u AS (UPDATE profiles SET consumed_at = $8"                                             \
	" WHERE profile_id = $4 AND consumed_at IS NULL AND EXISTS (SELECT 1 FROM c) RETURNING 1)" \
	" SELECT 1 / ((SELECT count(*) FROM c) * (SELECT count(*) FROM u))"
#define CERT_WRITE_KEEP_SQL CERT_WRITE_SQL " SELECT 1 / (SELECT count(*) FROM c)"

/* One record of a pipelined batch: its profile's index in the batch's distinct profiles, its
 * period as stored, its verdict (write: insert; consume: and mark the profile consumed). */
struct cert_job {
	size_t prof;
	int64_t period;
	int write, consume;
	struct prm w;
	char detail[256];
};

/* Every out[i] the same failure (r and the detail it set); r. */
static sc_err all_failed(struct sc_reg_cert_outcome *out, size_t n, sc_err r)
{
	for (size_t i = 0; i < n; i++) {
		out[i].r = r;
		out[i].already = 0;
		snprintf(out[i].detail, sizeof(out[i].detail), "%s", sc_err_detail());
	}
	return r;
}
/*
 * registry.h's sc_reg_cert_record_many, and cert_record as a batch of one: one transaction, two
 * round trips whatever n (each a pipeline, pl_run). (1) BEGIN and, for each distinct profile in
 * profile-ID order (two batches lock their common profiles in one order: they queue, never
 * deadlock), its row lock, then its certificates of the periods the batch names, read by a
 * statement of its own after the lock (as cert_record_tx reads them). (2) The writes of the
 * records judged acceptable, one statement each, then COMMIT. Each record is judged in batch
 * order as it would be alone after the records before it: what they write (the profile consumed,
 * a period's certificate, a fingerprint) counts as written. A refused record writes nothing and
 * leaves the others; nothing to write, nothing committed. A write that meets what the reads
 * could not show (CERT_WRITE_SQL's guard, or any other data or constraint error) rolls the
 * transaction back, and the records are registered one at a time instead (cert_record_tx).
 * Before issue 17's pipelines: one transaction and 5-7 round trips per certificate.
 *
 * SC_OK with every out[i] set; a failure of the batch as a whole (the connection, a lock
 * timeout) is returned, and set in every out[i] too.
 */
static sc_err cert_batch(struct pg_reg *reg, struct sc_reg_cert_rec *recs, size_t n, int64_t now,
    const char *actor, struct sc_reg_cert_outcome *out)
{
	size_t *ord = NULL, *first = NULL, nprof = 0, ns = 0, nw = 0;
	struct cert_job *job = NULL;
	struct prm *rd = NULL;
	struct pl_st *st = NULL;
	PGresult **res = NULL;
	char *pbuf = NULL, **arr = NULL, state[6] = "";
	sc_err r;

	if ((ord = calloc(n, sizeof(*ord))) == NULL ||
	    (first = calloc(n, sizeof(*first))) == NULL ||
	    (job = calloc(n, sizeof(*job))) == NULL || (rd = calloc(2 * n, sizeof(*rd))) == NULL ||
	    (arr = calloc(n, sizeof(*arr))) == NULL || (pbuf = malloc(n * 16 + 1)) == NULL ||
	    (st = calloc(PL_MAX, sizeof(*st))) == NULL ||
	    (res = calloc(PL_MAX, sizeof(*res))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "registry: out of memory");
		r = all_failed(out, n, r);
		goto out;
	}
	/* By profile ID, then by place in the batch (insertion sort: n <= 256, mostly one ID). */
	for (size_t i = 0; i < n; i++) {
		size_t k = i;

		while (k > 0 && strcmp(recs[ord[k - 1]].profile_id, recs[i].profile_id) > 0) {
			ord[k] = ord[k - 1];
			k--;
		}
		ord[k] = i;
	}
	/* The distinct profiles, each with the array of its records' periods ("{0,3,4}"). */
	{
		char *w = pbuf;

		for (size_t k = 0; k < n; k++) {
			size_t i = ord[k];

			recs[i].registered_at = now;
			job[i].period = recs[i].renewal ? (int64_t)recs[i].period : 0;
			if (k == 0 ||
			    strcmp(recs[ord[k - 1]].profile_id, recs[i].profile_id) != 0) {
				if (nprof > 0)
					*w++ = '}', *w++ = '\0';
				first[nprof] = i;
				arr[nprof++] = w;
				*w++ = '{';
			} else
				*w++ = ',';
			w += snprintf(w, 12, "%lld", (long long)job[i].period);
			job[i].prof = nprof - 1;
		}
		*w++ = '}', *w = '\0';
	}
	crl_recheck(reg, now);
	st[ns++] = (struct pl_st){ "begin", "BEGIN", NULL };
	for (size_t j = 0; j < nprof; j++) {
		p_text(&rd[2 * j], recs[first[j]].profile_id);
		p_text(&rd[2 * j + 1], recs[first[j]].profile_id);
		p_text(&rd[2 * j + 1], arr[j]);
		st[ns++] = (struct pl_st){ "reading a profile", CERT_LOCK(reg), &rd[2 * j] };
		st[ns++] = (struct pl_st){ "reading a certificate",
			"SELECT period, fingerprint FROM certificates"
			" WHERE profile_id = $1 AND period = ANY ($2::int[])",
			&rd[2 * j + 1] };
	}
	/*
	 * robust16: a REVOKE of device_crls while this session reads it fails the lock statement
	 * with 42501 (PostgreSQL checks a prepared statement's rights at each execution). Then the
	 * right is asked again (crl_check, revoked) and, unless it is still there (42501 was about
	 * something else), the reads are sent once more without the join: the registrations go on,
	 * saying nothing of the CRL, with no restart. crl_recheck notices a grant again.
	 */
	for (int again = 0, joined = reg->crl_read == 1;; again = 1) {
		if ((r = pl_run(reg, st, ns, res, state)) == SC_OK)
			break;
		if (!again && joined && strcmp(state, "42501") == 0) {
			for (size_t i = 0; i < ns; i++) {
				PQclear(res[i]);
				res[i] = NULL;
			}
			rollback(reg);
			/* (pl_run's reconnect, if it made one, has asked already.) */
			if (reg->crl_read == 1)
				crl_check(reg, now, 1);
			if (reg->crl_read != 1) {
				sc_err_clear();
				for (size_t j = 0; j < nprof; j++)
					st[1 + 2 * j].sql = CERT_LOCK(reg);
				continue;
			}
			/* Still granted: r and its detail are the failure's own. */
		}
		r = all_failed(out, n, r);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sc_reg_cert_rec *rec = &recs[i];
		const PGresult *lk = res[1 + 2 * job[i].prof], *cs = res[2 + 2 * job[i].prof];
		int found = PQntuples(lk) == 1;
		int64_t consumed = found ? i64(lk, 0, 1) : 0;
		const char *fpr0 = "";

		if (found)
			recs[i].crl_next_update = PQgetisnull(lk, 0, 3) ? -1 : i64(lk, 0, 3);

		/* What the batch's earlier records write counts as written. */
		for (size_t k = 0; k < i; k++)
			if (job[k].write && job[k].prof == job[i].prof) {
				consumed = consumed != 0 ? consumed : now;
				if (job[k].period == job[i].period)
					fpr0 = recs[k].fpr;
			}
		for (int row = 0; fpr0[0] == '\0' && row < PQntuples(cs); row++)
			if (i64(cs, row, 0) == job[i].period)
				fpr0 = PQgetvalue(cs, row, 1);
		r = cert_judge(rec, found, found ? PQgetvalue(lk, 0, 0) : "",
		    found ? status_from_text(PQgetvalue(lk, 0, 2)) : 0, consumed, fpr0,
		    &out[i].already);
		for (size_t k = 0; r == SC_OK && !out[i].already && k < i; k++)
			if (job[k].write && strcmp(recs[k].fpr, rec->fpr) == 0)
				r = already_for_another();
		if ((out[i].r = r) != SC_OK) {
			snprintf(out[i].detail, sizeof(out[i].detail), "%s", sc_err_detail());
			continue;
		}
		if (out[i].already)
			continue;
		job[i].write = 1;
		job[i].consume = consumed == 0;
	}
	for (size_t i = 0; i < ns; i++) {
		PQclear(res[i]);
		res[i] = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sc_reg_cert_rec *rec = &recs[i];
		struct prm *q = &job[i].w;

		if (!job[i].write)
			continue;
		cert_row_params(q, rec, now);
		p_text(q, actor != NULL ? actor : "unknown");
		cert_detail(rec, job[i].detail, sizeof(job[i].detail));
		p_text(q, job[i].detail);
		st[nw++] = (struct pl_st){ "recording a certificate",
			job[i].consume ? CERT_WRITE_CONSUME_SQL : CERT_WRITE_KEEP_SQL, q };
	}
	if (nw == 0) {
		r = SC_OK; /* refusals and repeats only: nothing to commit, the locks let go */
		goto out;
	}
	st[nw++] = (struct pl_st){ "commit", "COMMIT", NULL };
	if ((r = pl_run(reg, st, nw, res, state)) == SC_OK)
		goto out;
	if (state[0] != '2' || (state[1] != '2' && state[1] != '3')) {
		r = all_failed(out, n, r);
		goto out;
	}
	/* The guard (22012) or another data (22) or constraint (23) error: one at a time. */
	rollback(reg);
	sc_err_clear();
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if ((out[i].r = cert_record_tx(reg, &recs[i], now, actor, &out[i].already)) !=
		    SC_OK) {
			out[i].already = 0;
			snprintf(out[i].detail, sizeof(out[i].detail), "%s", sc_err_detail());
		}
	}
	r = SC_OK;
out:
	for (size_t i = 0; res != NULL && i < PL_MAX; i++)
		PQclear(res[i]);
	rollback(reg);
	free(ord);
	free(first);
	free(job);
	free(rd);
	free(arr);
	free(pbuf);
	free(st);
	free(res);
	return r;
}

static sc_err pg_cert_record(struct sc_reg *base, struct sc_reg_cert_rec *rec, int64_t now,
    const char *actor, int *already)
{
	struct sc_reg_cert_outcome o = { 0 };
	sc_err r = cert_batch(pg(base), rec, 1, now, actor, &o);

	*already = o.r == SC_OK ? o.already : 0;
	if (r != SC_OK)
		return r;
	return o.r == SC_OK ? SC_OK : sc_fail(o.r, "%s", o.detail);
}

static sc_err pg_cert_record_many(struct sc_reg *base, struct sc_reg_cert_rec *recs, size_t n,
    int64_t now, const char *actor, struct sc_reg_cert_outcome *out)
{
	(void)cert_batch(pg(base), recs, n, now, actor, out);
	return SC_OK;
}

static sc_err pg_cert_list(struct sc_reg *base, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_cert_rec *c), void *ctx)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	struct sc_reg_cert_rec c;
	sc_err r;

	p_text(&p, device_id);
	if (limit == 0)
		p_text(&p, NULL); /* LIMIT NULL: all */
	else
		p_i64(&p, (int64_t)limit);
	if ((r = x(reg, "listing certificates",
	         "SELECT fingerprint, serial, device_id, profile_id, not_before, not_after,"
	         " registered_at FROM certificates WHERE device_id = $1"
	         " ORDER BY registered_at DESC, id DESC LIMIT $2::bigint",
	         &p, &res)) != SC_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		memset(&c, 0, sizeof(c));
		copy_col(res, i, 0, c.fpr, sizeof(c.fpr));
		copy_col(res, i, 1, c.serial, sizeof(c.serial));
		copy_col(res, i, 2, c.device_id, sizeof(c.device_id));
		copy_col(res, i, 3, c.profile_id, sizeof(c.profile_id));
		c.not_before = i64(res, i, 4);
		c.not_after = i64(res, i, 5);
		c.registered_at = i64(res, i, 6);
		if (cb(ctx, &c) != 0)
			break;
	}
	PQclear(res);
	return SC_OK;
}

static sc_err pg_crl_put(struct sc_reg *base, const struct sc_reg_crl_rec *rec, int64_t now,
    int *stored)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_text(&p, rec->device_id);
	p_i64(&p, (int64_t)rec->number);
	p_i64(&p, rec->next_update);
	p_bin(&p, rec->der, rec->der_len);
	p_i64(&p, now);
	/* Only a higher number replaces: a CRL arriving late (or replayed) changes nothing. */
	if ((r = x(reg, "keeping a device CRL",
	         "INSERT INTO device_crls (device_id, crl_number, next_update, der, updated_at)"
	         " SELECT $1, $2::bigint, $3::bigint, $4, $5::bigint WHERE EXISTS (SELECT 1"
	         "  FROM devices WHERE device_id = $1 AND status = 'active')"
	         " ON CONFLICT (device_id) DO UPDATE SET crl_number = excluded.crl_number,"
	         "  next_update = excluded.next_update, der = excluded.der,"
	         "  updated_at = excluded.updated_at"
	         "  WHERE excluded.crl_number > device_crls.crl_number",
	         &p, &res)) != SC_OK)
		return r;
	*stored = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return SC_OK;
}

static sc_err pg_crl_list(struct sc_reg *base, int64_t now, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_crl_rec *c), void *ctx)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	struct sc_reg_crl_rec c;
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;

	p_i64(&p, now);
	if (limit == 0)
		p_text(&p, NULL); /* LIMIT NULL: all */
	else
		p_i64(&p, (int64_t)limit);
	if ((r = x(reg, "listing device CRLs",
	         "SELECT c.device_id, c.crl_number, c.next_update, c.der FROM device_crls c"
	         " JOIN devices d ON d.device_id = c.device_id"
	         " WHERE d.status = 'active' AND c.next_update > $1::bigint"
	         " ORDER BY c.device_id LIMIT $2::bigint",
	         &p, &res)) != SC_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		memset(&c, 0, sizeof(c));
		copy_col(res, i, 0, c.device_id, sizeof(c.device_id));
		c.number = (uint64_t)i64(res, i, 1);
		c.next_update = i64(res, i, 2);
		if (!bytea_col(res, i, 3, SC_REG_CRL_MAX_DER, &der, &len))
			continue;
		c.der = der;
		c.der_len = len;
		int stop = cb(ctx, &c);
		OPENSSL_free(der);
		der = NULL;
		if (stop != 0)
			break;
	}
	PQclear(res);
	return SC_OK;
}

static sc_err pg_cert_der(struct sc_reg *base, const char *fpr, uint8_t **der, size_t *len)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	*der = NULL;
	*len = 0;
	p_text(&p, fpr);
	if ((r = x(reg, "reading a certificate",
	         "SELECT der FROM certificates WHERE fingerprint = $1", &p, &res)) != SC_OK)
		return r;
	if (PQntuples(res) != 1)
		r = sc_fail(SC_ERR_NOT_FOUND, "no certificate %.64s", fpr);
	else if (!bytea_col(res, 0, 0, 1u << 20, der, len))
		r = sc_fail(SC_ERR_NOMEM, "certificate %s", fpr);
	PQclear(res);
	return r;
}

/* ---- audit, counts, check ---- */

static sc_err audit_rows(const PGresult *res,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	struct sc_reg_audit_rec a;

	for (int i = 0; i < PQntuples(res); i++) {
		a.seq = i64(res, i, 0);
		a.at = i64(res, i, 1);
		a.actor = PQgetvalue(res, i, 2);
		a.event = PQgetvalue(res, i, 3);
		a.device_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
		a.detail = PQgetvalue(res, i, 5);
		if (cb(ctx, &a) != 0)
			break;
	}
	return SC_OK;
}

static sc_err pg_audit_list(struct sc_reg *base, const char *device_id, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_text(&p, device_id);
	if (limit == 0)
		p_text(&p, NULL);
	else
		p_i64(&p, (int64_t)limit);
	if ((r = x(reg, "reading the audit log",
	         "SELECT seq, at, actor, event, device_id, detail FROM ("
	         " SELECT * FROM audit WHERE $1::text IS NULL OR device_id = $1"
	         " ORDER BY seq DESC LIMIT $2::bigint) a ORDER BY seq",
	         &p, &res)) != SC_OK)
		return r;
	r = audit_rows(res, cb, ctx);
	PQclear(res);
	return r;
}

/*
 * The audit log for exporters, behind the fence: only rows whose transaction is older than the
 * oldest one still running (pg_snapshot_xmin), so no row can later appear before the cursor,
 * whatever order concurrent transactions commit in. Ordered by (xact, seq); the cursor is the
 * pair of the last row passed on.
 */
static sc_err pg_audit_follow(struct sc_reg *base, struct sc_reg_audit_cursor *cur, size_t limit,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;
	int n, stop = 0;

	p_i64(&p, cur->a);
	p_i64(&p, cur->b);
	p_i64(&p, limit == 0 ? 1000 : (int64_t)limit);
	if ((r = x(reg, "reading the audit log",
	         "SELECT seq, at, actor, event, device_id, detail, xact::text FROM audit"
	         " WHERE (xact, seq) > ($1::text::xid8, $2::bigint)"
	         "  AND xact < pg_snapshot_xmin(pg_current_snapshot())"
	         " ORDER BY xact, seq LIMIT $3::bigint",
	         &p, &res)) != SC_OK)
		return r;
	n = PQntuples(res);
	for (int i = 0; i < n && !stop; i++) {
		struct sc_reg_audit_rec a;
		a.seq = i64(res, i, 0);
		a.at = i64(res, i, 1);
		a.actor = PQgetvalue(res, i, 2);
		a.event = PQgetvalue(res, i, 3);
		a.device_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
		a.detail = PQgetvalue(res, i, 5);
		stop = cb(ctx, &a) != 0;
		cur->a = i64(res, i, 6);
		cur->b = a.seq;
	}
	PQclear(res);
	return SC_OK;
}

static sc_err pg_counts(struct sc_reg *base, struct sc_reg_counts *out)
{
	struct pg_reg *reg = pg(base);
	PGresult *res = NULL;
	sc_err r;

	memset(out, 0, sizeof(*out));
	if ((r = x(reg, "counts",
	         "SELECT (SELECT count(*) FROM devices WHERE status = 'active'),"
	         " (SELECT count(*) FROM devices WHERE status = 'revoked'),"
	         " (SELECT count(*) FROM profiles),"
	         " (SELECT count(*) FROM profiles WHERE consumed_at IS NOT NULL),"
	         " (SELECT count(*) FROM certificates), (SELECT count(*) FROM revocations),"
	         " (SELECT count(*) FROM audit)",
	         NULL, &res)) != SC_OK)
		return r;
	out->devices_active = i64(res, 0, 0);
	out->devices_revoked = i64(res, 0, 1);
	out->profiles = i64(res, 0, 2);
	out->profiles_consumed = i64(res, 0, 3);
	out->certificates = i64(res, 0, 4);
	out->revocations = i64(res, 0, 5);
	out->audit = i64(res, 0, 6);
	PQclear(res);
	return SC_OK;
}

/*
 * PostgreSQL keeps its own pages consistent; what is checked here is the registry's invariant
 * the constraints cannot state: a profile is consumed exactly when it has a certificate.
 */
static sc_err pg_check(struct sc_reg *base)
{
	struct pg_reg *reg = pg(base);
	PGresult *res = NULL;
	sc_err r;

	if ((r = x(reg, "check",
	         "SELECT p.profile_id, p.consumed_at IS NOT NULL FROM profiles p"
	         " LEFT JOIN certificates c ON c.profile_id = p.profile_id"
	         " WHERE (p.consumed_at IS NULL) <> (c.profile_id IS NULL) LIMIT 1",
	         NULL, &res)) != SC_OK)
		return r;
	if (PQntuples(res) > 0)
		r = sc_fail(SC_ERR_STORE_DAMAGED, "registry %s: profile %s is %s", reg->where,
		    PQgetvalue(res, 0, 0),
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "consumed without a certificate"
		                                            : "not consumed but has a certificate");
	PQclear(res);
	return r;
}

/* `selfcert net db migrate --grant ROLE`: the schema is up (sc_reg_open); role gets its rights. */
static sc_err pg_grant(struct sc_reg *base, const char *role)
{
	struct pg_reg *reg = pg(base);
	PGresult *res = NULL;
	char *id = NULL, *schema = NULL, sql[3072]; /* 11 quoted identifiers of up to 130 bytes */
	sc_err r;

	if ((r = x(reg, "grant", "SELECT current_schema()", NULL, &res)) != SC_OK)
		return r;
	schema = PQescapeIdentifier(reg->conn, PQgetvalue(res, 0, 0),
	    strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
	id = PQescapeIdentifier(reg->conn, role, strlen(role));
	if (id == NULL || schema == NULL) {
		r = sc_fail(SC_ERR_USAGE, "--grant: not a role name");
		goto out;
	}
	/*
	 * What provd and `net device` need, and no more: the audit log, the revocations and the
	 * certificates are append-only to it (no UPDATE, DELETE or TRUNCATE), and no DDL.
	 */
	if ((size_t)snprintf(sql, sizeof(sql),
	        "GRANT USAGE ON SCHEMA %s TO %s;"
	        "GRANT SELECT ON registry_meta TO %s;"
	        "GRANT SELECT, INSERT, UPDATE ON devices, profiles TO %s;"
	        "GRANT SELECT, INSERT ON certificates, revocations, audit, device_pins TO %s;"
	        "GRANT SELECT, INSERT, UPDATE ON device_crls TO %s;"
	        /* The console's sessions (issue 18): made at sign-in, gone at sign-out or expiry. */
	        "GRANT SELECT, INSERT, DELETE ON console_sessions TO %s;"
	        "GRANT SELECT, INSERT, UPDATE ON device_expiry TO %s;"
	        /*
	         * The overview's hourly counts: read only (the triggers write them as the owner).
	         * Missing since schema 7 (found by wal11): the console's overview failed
	         * "permission denied" on the runtime role.
	         */
	        "GRANT SELECT ON console_hourly TO %s;"
	        "REVOKE UPDATE, DELETE, TRUNCATE ON audit, revocations, certificates FROM %s;"
	        "REVOKE DELETE, TRUNCATE ON devices, profiles, registry_meta, device_crls FROM %s",
	        schema, id, id, id, id, id, id, id, id, id, id) >= sizeof(sql)) {
		r = sc_fail(SC_ERR_USAGE, "--grant: a role or schema name too long");
		goto out;
	}
	if ((r = begin(reg)) != SC_OK)
		goto out;
	res = PQexec(reg->conn, sql);
	r = PQresultStatus(res) == PGRES_COMMAND_OK ? SC_OK : pg_fail(reg, res, "grant");
	PQclear(res);
	if (r == SC_OK)
		r = commit(reg);
out:
	rollback(reg);
	PQfreemem(id);
	PQfreemem(schema);
	return r;
}

/* ---- the console (issue 18) ---- */

static sc_err pg_session_put(struct sc_reg *base, const char *id_hash,
    const struct sc_reg_session *s, int64_t now)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 }, e = { 0 };
	PGresult *res = NULL;
	const char *st;
	sc_err r;

	p_text(&p, id_hash);
	p_text(&p, s->operator_name);
	p_text(&p, s->csrf);
	p_i64(&p, s->created_at);
	p_i64(&p, s->expires_at);
	p_i64(&e, now);
	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = run(reg, "expired sessions",
	         "DELETE FROM console_sessions WHERE expires_at <= $1::bigint", &e)) != SC_OK)
		goto out;
	res = PQexecParams(reg->conn,
	    "INSERT INTO console_sessions (id_hash, operator, csrf, created_at, expires_at)"
	    " VALUES ($1, $2, $3, $4::bigint, $5::bigint)",
	    p.n, NULL, p.v, p.len, p.fmt, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (st != NULL && strcmp(st, "23505") == 0)
			r = sc_fail(SC_ERR_EXISTS, "session ID taken");
		else
			r = pg_fail(reg, res, "new session");
		goto out;
	}
	r = commit(reg);
out:
	PQclear(res);
	rollback(reg);
	return r;
}

static sc_err pg_session_get(struct sc_reg *base, const char *id_hash, int64_t now,
    struct sc_reg_session *out)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_text(&p, id_hash);
	p_i64(&p, now);
	if ((r = x(reg, "session",
	         "SELECT operator, csrf, created_at, expires_at FROM console_sessions"
	         " WHERE id_hash = $1 AND expires_at > $2::bigint",
	         &p, &res)) != SC_OK)
		return r;
	if (PQntuples(res) == 1) {
		copy_col(res, 0, 0, out->operator_name, sizeof(out->operator_name));
		copy_col(res, 0, 1, out->csrf, sizeof(out->csrf));
		out->created_at = i64(res, 0, 2);
		out->expires_at = i64(res, 0, 3);
	} else {
		r = sc_fail(SC_ERR_NOT_FOUND, "no such session (signed out or expired)");
	}
	PQclear(res);
	return r;
}

static sc_err pg_session_end(struct sc_reg *base, const char *id_hash)
{
	struct prm p = { 0 };

	p_text(&p, id_hash);
	return run(pg(base), "sign-out", "DELETE FROM console_sessions WHERE id_hash = $1", &p);
}

static sc_err pg_hourly(struct pg_reg *reg, int64_t start, size_t hours, struct sc_reg_fleet *out)
{
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_i64(&p, start / 3600);
	if ((r = x(reg, "hourly counts",
	         "SELECT hour, sum(profiles), sum(certificates) FROM console_hourly"
	         " WHERE hour >= $1::bigint GROUP BY hour",
	         &p, &res)) != SC_OK)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t h = i64(res, i, 0) - start / 3600;

		if (h >= 0 && (size_t)h < hours) {
			out->profiles[h] = i64(res, i, 1);
			out->certificates[h] = i64(res, i, 2);
		}
	}
	PQclear(res);
	return SC_OK;
}

/* The overview from the rows step 4's triggers keep: device_expiry, console_hourly. */
static sc_err pg_fleet(struct sc_reg *base, int64_t now, size_t hours, struct sc_reg_fleet *out)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	sc_err r;

	p_i64(&p, now);
	/*
	 * One pass over each table, every figure a FILTER of it (cheap in PostgreSQL, unlike a
	 * join of every device with device_expiry: a hash of 100,000 rows); the revoked devices
	 * (few, by devices_by_status) taken out.
	 */
	if ((r = x(reg, "fleet counts",
	         "WITH dv AS (SELECT count(*) FILTER (WHERE status = 'active') AS a,"
	         "  count(*) FILTER (WHERE status = 'revoked') AS rv FROM devices),"
	         " e AS (SELECT count(*) AS n, count(*) FILTER (WHERE not_after >= $1::bigint) AS v,"
	         "  count(*) FILTER (WHERE not_after BETWEEN $1::bigint AND $1::bigint + 86400) AS d1,"
	         "  count(*) FILTER (WHERE not_after BETWEEN $1::bigint AND $1::bigint + 604800) AS d7"
	         "  FROM device_expiry),"
	         " r AS (SELECT count(*) AS n, count(*) FILTER (WHERE e.not_after >= $1::bigint) AS v,"
	         "  count(*) FILTER (WHERE e.not_after BETWEEN $1::bigint AND $1::bigint + 86400)"
	         "  AS d1, count(*) FILTER (WHERE e.not_after BETWEEN $1::bigint"
	         "  AND $1::bigint + 604800) AS d7"
	         "  FROM devices d JOIN device_expiry e ON e.device_id = d.device_id"
	         "  WHERE d.status = 'revoked')"
	         " SELECT dv.a, dv.rv, e.n, e.v, e.d1, e.d7, r.n, r.v, r.d1, r.d7 FROM dv, e, r",
	         &p, &res)) != SC_OK)
		return r;
	out->devices_active = i64(res, 0, 0);
	out->devices_revoked = i64(res, 0, 1);
	out->never_enrolled = out->devices_active - (i64(res, 0, 2) - i64(res, 0, 6));
	out->expired = (i64(res, 0, 2) - i64(res, 0, 6)) - (i64(res, 0, 3) - i64(res, 0, 7));
	out->expiring_24h = i64(res, 0, 4) - i64(res, 0, 8);
	out->expiring_7d = i64(res, 0, 5) - i64(res, 0, 9);
	PQclear(res);
	return pg_hourly(reg, out->start, hours, out);
}

/* A page of the audit log, newest first; the filters absent are left out of the statement. */
static sc_err pg_audit_page(struct sc_reg *base, const struct sc_reg_audit_query *q,
    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx, int *more)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	char sql[640], *w = sql;
	size_t left = sizeof(sql);
	int n, k;
	sc_err r;

#define ADD(...)                                    \
	do {                                        \
		k = snprintf(w, left, __VA_ARGS__); \
		w += k;                             \
		left -= (size_t)k;                  \
	} while (0)
	ADD("SELECT seq, at, actor, event, device_id, detail FROM audit WHERE seq < $1::bigint");
	p_i64(&p, q->before != 0 ? q->before : INT64_MAX);
	if (q->event != NULL) {
		p_text(&p, q->event);
		ADD(" AND event = $%d", p.n);
	}
	if (q->device_id != NULL) {
		p_text(&p, q->device_id);
		ADD(" AND device_id = $%d", p.n);
	}
	if (q->actor != NULL) {
		p_text(&p, q->actor);
		ADD(" AND left(actor, length($%d::text)) = $%d", p.n, p.n);
	}
	if (q->since != 0) {
		p_i64(&p, q->since);
		ADD(" AND at >= $%d::bigint", p.n);
	}
	if (q->until != 0) {
		p_i64(&p, q->until);
		ADD(" AND at < $%d::bigint", p.n);
	}
	p_i64(&p, (int64_t)q->limit + 1);
	ADD(" ORDER BY seq DESC LIMIT $%d::bigint", p.n);
#undef ADD
	if ((r = x(reg, "reading the audit log", sql, &p, &res)) != SC_OK)
		return r;
	n = PQntuples(res);
	if ((size_t)n > q->limit) {
		*more = 1;
		n = (int)q->limit;
	}
	for (int i = 0; i < n; i++) {
		struct sc_reg_audit_rec a;

		a.seq = i64(res, i, 0);
		a.at = i64(res, i, 1);
		a.actor = PQgetvalue(res, i, 2);
		a.event = PQgetvalue(res, i, 3);
		a.device_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
		a.detail = PQgetvalue(res, i, 5);
		if (cb(ctx, &a) != 0)
			break;
	}
	PQclear(res);
	return SC_OK;
}

/* ---- activation with the device's certificates (issue 17, act8) ---- */

/*
 * `net device add`'s (import 0) or the CSV import's (import 1) transaction, with each row's pin
 * put as profile_insert puts a first contact's (pin_put, under the device row's lock): the whole activation, its pins
 * and their audit rows commit together or not at all.
 */
static sc_err pg_activate_rows(struct sc_reg *base, sc_reg_next_row next, void *ctx, int import,
    const char *source, const char *actor, int64_t now, size_t *added, size_t *skipped,
    char refused[SC_DEVICE_ID_MAX + 1])
{
	struct pg_reg *reg = pg(base);
	struct sc_reg_row row;
	enum sc_reg_dev_status s;
	char how[64], detail[SC_REG_CSV_LINE_MAX + 96], twin[SC_DEVICE_ID_MAX + 1];
	size_t pinned = 0;
	int more, inserted;
	sc_err r;

	*added = *skipped = 0;
	refused[0] = '\0';
	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = run(reg, "activation",
	         "CREATE TEMP TABLE import_seen (k text COLLATE \"C\" PRIMARY KEY) ON COMMIT DROP",
	         NULL)) != SC_OK)
		goto out;
	for (;;) {
		struct prm p = { 0 };
		PGresult *res = NULL;

		if ((r = next(ctx, &row, &more)) != SC_OK)
			goto out;
		if (!more)
			break;
		p_text(&p, row.device_id);
		if ((r = x(reg, "activation",
		         "INSERT INTO import_seen (k) VALUES (" DEV_KEY(
		             "$1::text") ") ON CONFLICT DO NOTHING RETURNING 1",
		         &p, &res)) != SC_OK)
			goto out;
		inserted = PQntuples(res) == 1;
		PQclear(res);
		if (!inserted) {
			r = import
			    ? sc_fail(SC_ERR_MALFORMED,
			          "%s:%zu: device %s appears twice in the file", source, row.line,
			          row.device_id)
			    : sc_fail(SC_ERR_USAGE, "--device-id %s given twice", row.device_id);
			goto out;
		}
		/*
		 * A registered device's row locked as profile_checks locks it: pins queue on it.
		 * Read again after an insert that lost a race (another writer added the device, or
		 * another spelling of it, since the first read and has committed): then it is a
		 * registered device like any other, its row locked before its pin is read, so the
		 * loser of two pins meets the winner's as device-ca-changed, not as the primary
		 * key's I/O error (req9).
		 */
		for (int again = 0;; again = 1) {
			twin[0] = '\0';
			if ((r = device_status(reg, row.device_id, "FOR NO KEY UPDATE", &s)) !=
			        SC_OK ||
			    (s == 0 &&
			        (r = device_twin(reg, row.device_id, twin, sizeof(twin), &s)) !=
			            SC_OK))
				goto out;
			if (s != 0 && import && twin[0] != '\0') {
				r = sc_fail(SC_ERR_MALFORMED,
				    "%s:%zu: device %s is registered as %s: device IDs are the same "
				    "ignoring case and runs of spaces",
				    source, row.line, row.device_id, twin);
				goto out;
			}
			if (s != 0 && !import) {
				r = device_exists(reg, row.device_id);
				goto out;
			}
			if (s != 0) {
				(*skipped)++; /* registered: left as it is; its pin is checked below */
				break;
			}
			if (again) { /* the insert met a device no read finds: never */
				r = sc_fail(SC_ERR_IO,
				    "%s:%zu: device %s: changed meanwhile, try again", source,
				    row.line, row.device_id);
				goto out;
			}
			if (import)
				snprintf(how, sizeof(how), "imported, line %zu%s", row.line,
				    row.pin != NULL ? ", with its certificates" : "");
			else
				snprintf(how, sizeof(how), "added%s",
				    row.pin != NULL ? " with its certificates" : "");
			if ((r = device_insert(reg, row.device_id, row.note, actor, now, how,
			         &inserted)) != SC_OK)
				goto out;
			if (!inserted && !import) {
				r = device_exists(reg, row.device_id);
				goto out;
			}
			if (inserted) {
				(*added)++;
				break;
			}
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
	r = commit(reg);
out:
	rollback(reg);
	if (r != SC_OK)
		*added = *skipped = 0;
	return r;
}

/* ---- #17 (dur11): a lost profile recorded with its certificate ---- */

/*
 * sc_reg_profile_recover on PostgreSQL, statement by statement in one transaction (a rare
 * path: a profile lost to a power loss of the database). The device's row shared (a revocation
 * waits for us, or we see it); the profile inserted unless its row exists (ON CONFLICT DO
 * NOTHING: a concurrent recovery of the same profile, or its challenge another profile's); its
 * audit row; then the certificate, its profile consumed and its audit row, by cert_record_tx's
 * own statements (cert_record_stmts). The row found (never lost, or recovered meanwhile): the
 * transaction is ended and the certificate recorded by cert_record_tx, which judges it as any
 * registration.
 */
static sc_err pg_profile_recover(struct sc_reg *base, struct sc_reg_profile_rec *rec,
    struct sc_reg_cert_rec *cert, int64_t now, const char *actor, int *recovered, int *already)
{
	struct pg_reg *reg = pg(base);
	struct prm p = { 0 };
	PGresult *res = NULL;
	char detail[256];
	enum sc_reg_dev_status s = 0;
	int found, inserted;
	sc_err r;

	*recovered = 0;
	*already = 0;
	cert->registered_at = now;
	if ((r = begin(reg)) != SC_OK)
		return r;
	if ((r = device_status(reg, rec->device_id, "FOR SHARE", &s)) != SC_OK)
		goto out;
	if (s == 0) { /* no row (the schema's CHECK allows 'active' and 'revoked' only) */
		r = sc_fail(SC_ERR_UNKNOWN_DEVICE, "device %s is not registered (not activated)",
		    rec->device_id);
		goto out;
	}
	if (s != SC_REG_DEV_ACTIVE) {
		r = sc_fail(SC_ERR_REVOKED, "device %s is revoked", rec->device_id);
		goto out;
	}
	/* dur11 review: the pin compared after the device row's lock (a pin made meanwhile). */
	if (rec->pin != NULL) {
		struct prm e = { 0 };

		p_text(&e, rec->device_id);
		p_text(&e, rec->pin->ca_sha256);
		if ((r = x(reg, "reading a device pin",
		         "SELECT 1 FROM device_pins WHERE device_id = $1 AND ca_sha256 <> $2 LIMIT 1"
		         " FOR SHARE",
		         &e, &res)) != SC_OK)
			goto out;
		found = PQntuples(res) == 1;
		PQclear(res);
		res = NULL;
		if (found) {
			r = sc_fail(SC_ERR_PIN_MISMATCH,
			    "field \"chain\": device %s is pinned to another device CA",
			    rec->device_id);
			goto out;
		}
	}
	rec->created_at = now;
	rec->consumed_at = 0;
	rec->source[0] = '\0';
	profile_row_params(&p, rec, now);
	if ((r = x(reg, "recording a recovered profile",
	         PROFILE_ROW_INSERT " ON CONFLICT DO NOTHING RETURNING 1", &p, &res)) != SC_OK)
		goto out;
	inserted = PQntuples(res) == 1;
	PQclear(res);
	res = NULL;
	if (!inserted) {
		/* Its row exists (the ordinary record judges the certificate), or its challenge is
		 * another profile's. */
		struct prm e = { 0 };

		p_text(&e, rec->profile_id);
		if ((r = x(reg, "reading a profile", "SELECT 1 FROM profiles WHERE profile_id = $1",
		         &e, &res)) != SC_OK)
			goto out;
		found = PQntuples(res) == 1;
		PQclear(res);
		res = NULL;
		rollback(reg);
		if (found)
			return cert_record_tx(reg, cert, now, actor, already);
		return sc_fail(SC_ERR_REPLAY,
		    "profile %s: its challenge is another profile's (a replayed profile)",
		    rec->profile_id);
	}
	snprintf(detail, sizeof(detail),
	    "profile %s recovered: sent back with its certificate %s, signed by this network",
	    rec->profile_id, cert->fpr);
	if ((r = audit(reg, now, actor, "profile-recovered", rec->device_id, detail)) != SC_OK)
		goto out;
	/*
	 * The certificate, as cert_record_tx writes it: the profile, just recorded, consumed. Its
	 * profile ID and period 0 are the recovered profile's: sc_reg_profile_recover (registry.c)
	 * refuses a renewal certificate and one whose profile or device is not rec's.
	 */
	if ((r = cert_record_stmts(reg, cert, 1, now, actor)) != SC_OK)
		goto out;
	if ((r = commit(reg)) == SC_OK)
		*recovered = 1;
out:
	PQclear(res);
	rollback(reg);
	return r;
}

const struct sc_reg_backend sc_reg_pg = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.schema_min_compatible = pg_schema_min_compatible,
	.device_revoke = pg_device_revoke,
	.device_get = pg_device_get,
	.device_list = pg_device_list,
	.profile_precheck = pg_profile_precheck,
	.profile_lookup = pg_profile_lookup,
	.profile_insert = pg_profile_insert,
	.profile_get = pg_profile_get,
	.cert_record = pg_cert_record,
	.cert_record_many = pg_cert_record_many,
	.cert_list = pg_cert_list,
	.cert_der = pg_cert_der,
	.audit_list = pg_audit_list,
	.audit_follow = pg_audit_follow,
	.counts = pg_counts,
	.device_page = pg_device_page,
	.profile_list = pg_profile_list,
	.audit_add = pg_audit_add,
	.check = pg_check,
	.crl_put = pg_crl_put,
	.crl_list = pg_crl_list,
	.pin_get = pg_pin_get,
	.grant = pg_grant,
	.session_put = pg_session_put,
	.session_get = pg_session_get,
	.session_end = pg_session_end,
	.fleet = pg_fleet,
	.audit_page = pg_audit_page,
	.activate_rows = pg_activate_rows,
	.profile_recover = pg_profile_recover,
};
