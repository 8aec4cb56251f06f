// SPDX-License-Identifier: Apache-2.0
/*
 * backend.h — the registry's seam (not for programs): the table of functions a database
 * backend fills in. registry.c picks the backend from the --db location, checks the arguments
 * that need no database, and forwards here; each backend owns its connection, its SQL and its
 * transactions. A new backend (PostgreSQL, SCALEOUT-HSM.md §A.4) is one more table and one more
 * line in registry.c's list of locations: provd and the CLI do not change.
 */
#ifndef SC_REG_BACKEND_H
#define SC_REG_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include "registry.h"

struct sc_reg_backend;

/*
 * What every backend's connection begins with: struct sqlite_reg { struct sc_reg base; … }.
 * registry.c reads only be; a backend casts the handle back to its own struct.
 */
struct sc_reg {
	const struct sc_reg_backend *be;
};

/* One device of an import, already checked (valid ID, note within SC_REG_NOTE_MAX). */
struct sc_reg_row {
	const char *device_id;
	const char *note; /* NULL: none */
	size_t line;      /* where it came from, for the messages */
	/* Issue 17 (act8): the device's pin to put with it; NULL: none. */
	const struct sc_reg_pin *pin;
};

/*
 * The next row into *row (borrowed until the next call), *more = 0 at the end. Any error
 * refuses the whole import; its detail is kept.
 */
typedef sc_err (*sc_reg_next_row)(void *ctx, struct sc_reg_row *row, int *more);

/*
 * What a profile's checks read about a device (status 0: not registered): its profiles in the
 * rate's window (n, the oldest one's created_at) and whether the request's challenge was used.
 */
struct sc_reg_seen {
	enum sc_reg_dev_status s;
	int64_t n, oldest;
	int used;
};

/*
 * The one judgement of those reads, for every backend, in the order a request meets the
 * refusals (registry.h's sc_reg_profile_insert): SC_ERR_UNKNOWN_DEVICE, SC_ERR_REVOKED,
 * SC_ERR_RATE_LIMITED (with *retry_after, if non-NULL; a device's budget or, source non-empty,
 * that address's), SC_ERR_REPLAY, each with its detail; SC_OK.
 */
sc_err sc_reg_profile_judge(const struct sc_reg_seen *v, const char *device_id, const char *source,
    const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after);

/*
 * A backend. Each function has the contract of the public function of the same name in
 * registry.h (errors, details, what is one transaction), except where noted; every pointer
 * argument is non-NULL unless registry.h says it may be NULL. The arguments registry.c has
 * already checked are noted too: a backend need not check them again.
 */
struct sc_reg_backend {
	const char *name; /* "sqlite": sc_reg_backend_name */
	/* location: as given to --db, already known to be this backend's kind. Sets (*out)->be. */
	sc_err (*open)(const char *location, int create, struct sc_reg **out);
	void (*close)(struct sc_reg *reg); /* reg non-NULL */
	int (*schema_version)(struct sc_reg *reg);
	/* NULL: the same as schema_version (no rolling upgrades: SQLite is one host). */
	int (*schema_min_compatible)(struct sc_reg *reg);
	/* reason checked; *already set to 0 before. */
	sc_err (*device_revoke)(struct sc_reg *reg, const char *device_id, const char *reason,
	    const char *actor, int64_t now, int *already);
	sc_err (*device_get)(struct sc_reg *reg, const char *device_id, struct sc_reg_device *out);
	sc_err (*device_list)(struct sc_reg *reg, enum sc_reg_dev_status status,
	    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx);
	/* source: NULL or "" for an authenticated request, else the client address (registry.h's
	 * sc_reg_profile_rec.source: which budget rate applies to). */
	sc_err (*profile_precheck)(struct sc_reg *reg, const char *device_id, const char *challenge,
	    const char *source, const struct sc_reg_rate *rate, int64_t now, int64_t *retry_after);
	sc_err (*profile_insert)(struct sc_reg *reg, struct sc_reg_profile_rec *rec,
	    const struct sc_reg_rate *rate, int64_t now, const char *actor, int64_t *retry_after);
	sc_err (*profile_get)(struct sc_reg *reg, const char *profile_id,
	    struct sc_reg_profile_rec *out);
	sc_err (*cert_record)(struct sc_reg *reg, struct sc_reg_cert_rec *rec, int64_t now,
	    const char *actor, int *already);
	/* Optional (NULL: registry.c calls cert_record for each): n checked 1..MAX by registry.c. */
	sc_err (*cert_record_many)(struct sc_reg *reg, struct sc_reg_cert_rec *recs, size_t n,
	    int64_t now, const char *actor, struct sc_reg_cert_outcome *out);
	sc_err (*cert_list)(struct sc_reg *reg, const char *device_id, size_t limit,
	    int (*cb)(void *ctx, const struct sc_reg_cert_rec *c), void *ctx);
	sc_err (*cert_der)(struct sc_reg *reg, const char *fpr, uint8_t **der, size_t *len);
	sc_err (*audit_list)(struct sc_reg *reg, const char *device_id, size_t limit,
	    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx);
	sc_err (*audit_follow)(struct sc_reg *reg, struct sc_reg_audit_cursor *cur, size_t limit,
	    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx);
	sc_err (*counts)(struct sc_reg *reg, struct sc_reg_counts *out);
	/* The operator endpoints' (provd h_operator.c). NULL in a backend without them: registry.c
	 * answers SC_ERR_INTERNAL "the NAME backend has no …" rather than calling through NULL. */
	/* q->limit checked (1..SC_REG_PAGE_MAX); *more set to 0 before. */
	sc_err (*device_page)(struct sc_reg *reg, const struct sc_reg_query *q,
	    int (*cb)(void *ctx, const struct sc_reg_device *d), void *ctx, int *more);
	sc_err (*profile_list)(struct sc_reg *reg, const char *device_id, size_t limit,
	    int (*cb)(void *ctx, const struct sc_reg_profile_rec *p), void *ctx);
	/* detail checked; one row, its own transaction. */
	sc_err (*audit_add)(struct sc_reg *reg, int64_t now, const char *actor, const char *event,
	    const char *device_id, const char *detail);
	sc_err (*check)(struct sc_reg *reg);
	/* Issue 14, schema 4: rec checked (device ID valid, number, der length). */
	sc_err (*crl_put)(struct sc_reg *reg, const struct sc_reg_crl_rec *rec, int64_t now,
	    int *stored);
	sc_err (*crl_list)(struct sc_reg *reg, int64_t now, size_t limit,
	    int (*cb)(void *ctx, const struct sc_reg_crl_rec *c), void *ctx);
	/* root_sha256 checked; out zeroed, *found and *root_match 0 before. NULL: no pins. */
	sc_err (*pin_get)(struct sc_reg *reg, const char *device_id, const char *root_sha256,
	    struct sc_reg_pin *out, int *found, int *root_match);
	/*
	 * sc_reg_profile_lookup's reads (issue 17, req9), judged by registry.c
	 * (sc_reg_profile_judge): the pin as pin_get reads it, and into *seen the device's status,
	 * its profiles in the rate's window (none counted when rate is NULL or max 0) and the
	 * challenge's use, all in one statement. root_sha256 checked; out and *seen zeroed,
	 * *found and *root_match 0 before. NULL (a backend without pins): SC_ERR_INTERNAL.
	 */
	sc_err (*profile_lookup)(struct sc_reg *reg, const char *device_id, const char *root_sha256,
	    const char *challenge, const char *source, const struct sc_reg_rate *rate, int64_t now,
	    struct sc_reg_pin *out, int *found, int *root_match, struct sc_reg_seen *seen);
	/* The console's (issue 18); NULL as for the operator endpoints'. Arguments checked. */
	sc_err (*session_put)(struct sc_reg *reg, const char *id_hash,
	    const struct sc_reg_session *s, int64_t now);
	sc_err (*session_get)(struct sc_reg *reg, const char *id_hash, int64_t now,
	    struct sc_reg_session *out);
	sc_err (*session_end)(struct sc_reg *reg, const char *id_hash);
	sc_err (*fleet)(struct sc_reg *reg, int64_t now, size_t hours, struct sc_reg_fleet *out);
	sc_err (*audit_page)(struct sc_reg *reg, const struct sc_reg_audit_query *q,
	    int (*cb)(void *ctx, const struct sc_reg_audit_rec *a), void *ctx, int *more);
	/* NULL: the backend has no roles (SQLite: file permissions are the access control). */
	sc_err (*grant)(struct sc_reg *reg, const char *role);
	/*
	 * Every activation in one transaction, or none (issue 17, act8): sc_reg_devices_activate,
	 * and, with rows that carry no pin, sc_reg_devices_add (import 0: ids valid, distinct,
	 * 1..SC_REG_ADD_MAX, note checked; a registered one is SC_ERR_EXISTS) and the CSV import
	 * (import 1: a registered device is left as it is and counted in *skipped; an ID seen twice
	 * refuses it with SC_ERR_MALFORMED "SOURCE:LINE: device … appears twice in the file"; one
	 * devices-imported audit row). Each inserted device gets its device-added audit row. Rows
	 * zeroed before each next; refused gets the device ID of an SC_ERR_PIN_MISMATCH ("" otherwise)
	 * so that registry.c audits it after the rollback. *added and *skipped are 0 on any error.
	 */
	sc_err (*activate_rows)(struct sc_reg *reg, sc_reg_next_row next, void *ctx, int import,
	    const char *source, const char *actor, int64_t now, size_t *added, size_t *skipped,
	    char refused[SC_DEVICE_ID_MAX + 1]);
	/* #17 (dur11): sc_reg_profile_recover (registry.h), after its argument checks. */
	sc_err (*profile_recover)(struct sc_reg *reg, struct sc_reg_profile_rec *prof,
	    struct sc_reg_cert_rec *cert, int64_t now, const char *actor, int *recovered,
	    int *already);
};

/* The SQLite backend (reg_sqlite.c): a file path. */
extern const struct sc_reg_backend sc_reg_sqlite;

/*
 * Registrations (profile inserts, certificate records) through reg's group commit, and the
 * commits they took (reg_sqlite.c; both 0 when SC_REG_GROUP_COMMIT=0). reg: a SQLite handle.
 */
void sc_reg_sqlite_group_stats(struct sc_reg *reg, unsigned long *ops, unsigned long *commits);
/*
 * The group commit's wake-ups: posts to waiting threads (each woken once per wait: its
 * registrations done, or to lead the next batch) and, of them, leaderships handed on.
 */
void sc_reg_sqlite_group_wakes(struct sc_reg *reg, unsigned long *wakes, unsigned long *handoffs);

/*
 * The group commit leader's WAL checkpoints (wal14, reg_sqlite.c): attempted (after a commit
 * that left 1000 frames or more); complete (the next commit starts the WAL over); cut short
 * because a reader or another process's writer outlasted the bounded wait (tried again later);
 * failed otherwise; the most frames the WAL held when one was attempted; the time the leader
 * spent in them (registrations queue meanwhile), in all and at most. All 0 without a group or
 * with SC_REG_WAL_RESTART=0.
 */
struct sc_reg_wal_stats {
	unsigned long checkpoints, restarts, busy, errors, max_frames;
	unsigned long us_total, us_max;
	/* checkpoints that waited for readers, the us they slept in all; cut short by the same old
	 * snapshot as the one before after the longest wait, or while so (the next waits none) */
	unsigned long waits, wait_us, same;
};
void sc_reg_sqlite_wal_stats(struct sc_reg *reg, struct sc_reg_wal_stats *out);

/*
 * rdw18: the hot reads (profile lookup and pre-check, pin, profile) run on the group's writer
 * when it is idle, else on reg's own connection (reg_sqlite.c, read_conn): how many did each,
 * the registrations (group_run calls) that queued while a read held the writer, and the µs
 * reads held it in all. All 0 without a group; SC_REG_WRITER_READS=0 (read when the group is
 * made) sends every read to its own connection.
 */
struct sc_reg_read_stats {
	unsigned long on_writer, on_own, queued, held_us;
	/* weak19: of on_own, reads that took the idle writer and gave it back because a statement
	 * on it was not reset or a transaction was open (read_conn; none expected) */
	unsigned long fallbacks;
};
void sc_reg_sqlite_read_stats(struct sc_reg *reg, struct sc_reg_read_stats *out);
/*
 * Test-only: writer_hold takes the writer as a batch would if no batch, checkpoint or read
 * holds it (1; 0: held, not taken); writer_release hands on only the hold reg took (1), else
 * does nothing (0).
 */
int sc_reg_sqlite_writer_hold(struct sc_reg *reg);
int sc_reg_sqlite_writer_release(struct sc_reg *reg);
/* Test-only (weak19): with the writer held by reg, a statement left stepped on it (how 1), a
 * transaction left open (2), or neither (0); 1 when done (reg_sqlite.c). */
int sc_reg_sqlite_writer_busy(struct sc_reg *reg, int how);

/* The PostgreSQL backend (reg_pg.c, built when libpq is found): a libpq URI. */
extern const struct sc_reg_backend sc_reg_pg;

/* The rows of an import through reg's backend (import_csv.c's way in). */
sc_err sc_reg_import_rows(struct sc_reg *reg, sc_reg_next_row next, void *ctx, const char *source,
    const char *actor, int64_t now, size_t *added, size_t *skipped) SC_MUST_USE;

#endif
