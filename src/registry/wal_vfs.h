// SPDX-License-Identifier: Apache-2.0
/*
 * wal_vfs.h — the registry's SQLite VFS: "unix" with each WAL frame written in one write.
 *
 * SQLite writes a WAL frame as two writes, its 24-byte header and then its page at the next
 * offset: two pwrite64 calls per frame, each touching the page-cache pages the 4120-byte frame
 * straddles. This VFS (registered once, not as the default, over the default "unix" VFS) holds a
 * WAL file's 24-byte write until the next call on that file: a write at the offset right after
 * it goes out together with it as one write of the same bytes; any other call (read, sync,
 * truncate, size, lock, close, a write elsewhere) writes the held header alone first. Every
 * other file, and every other method, is the "unix" VFS's unchanged.
 */
#ifndef SC_WAL_VFS_H
#define SC_WAL_VFS_H

#include <stdint.h>

struct sqlite3;

/* The VFS's name for sqlite3_open_v2. */
#define SC_WAL_VFS_NAME "selfcert-unix-wal"

/*
 * Registers the VFS once per process (thread-safe). Returns SC_WAL_VFS_NAME, or NULL when it
 * cannot (no "unix" VFS, out of memory) or should not (an SQLite other than 3.40.x, whose wal.c
 * it was checked against): the caller then opens with SQLite's default VFS.
 * SC_REG_WAL_COALESCE=0 in the environment makes it return NULL (a switch for benchmarks).
 */
const char *sc_wal_vfs(void);

/*
 * walhold18: a durable commit's WAL writes in one call. sc_wal_vfs_hold(db), called by the
 * registry right before a COMMIT it runs with synchronous=FULL (never NORMAL: nothing would
 * write the frames before SQLite publishes them), arms db's WAL file: every write to it is held
 * in one extent until the WAL's first sync, which writes it in one call and then syncs (the
 * write's error is the sync's). A read, size, truncate, close, a write that does not continue
 * the extent, HOLD_MAX bytes held (wal_vfs.c), and any shared-memory call of db's database file
 * write it first. sc_wal_vfs_release(db), after the COMMIT, writes anything still held (nothing
 * after a sync) and disarms; it returns that write's SQLite code. hold returns 1 when armed; 0
 * when db is not on this VFS or its WAL is not open: then the commit's writes are made as
 * without it. The benchmark switch SC_REG_WAL_HOLD=0 is the registry's: reg_sqlite.c reads it
 * once per connection, at its open, and then never calls hold (weak19; session 18 read the
 * environment here at every commit). A write of the run that failed inside a shared-memory call
 * is the transaction's: its next WAL write or sync fails with it, and if it ends without one (a
 * rollback) the error is dropped when it releases the WAL's write lock (weak19).
 */
int sc_wal_vfs_hold(struct sqlite3 *db);
/* The same on one WAL file opened through this VFS (tests): its xFileControl with this op and an
 * int (1 arms, 0 writes what is held and disarms; that write's code returned). */
#define SC_WAL_FCNTL_HOLD 0x53430001
/* Tests: a WAL file's run buffer's size in bytes now (0 before its first held write; 65536 after
 * a release, whatever the commit held), into a sqlite3_int64; SQLITE_NOTFOUND on other files. */
#define SC_WAL_FCNTL_RUN_CAP 0x53430002
int sc_wal_vfs_release(struct sqlite3 *db);
/* Tests only: the next sc_wal_vfs_release in the process, after disarming as usual, returns rc
 * (counted in release_err) as a failed write of what it held would (none is held after a
 * commit's sync on 3.40, so no real release fails; 0 cancels). */
void sc_wal_vfs_fail_release(int rc);

/* Process-wide counts since start: frames written in one write, headers written alone; armed
 * WALs' extents written in one call, the writes gathered into them, flushes at a shared-memory
 * barrier that failed (no caller to return them to; none expected; the error is kept for the
 * WAL's next write or sync all the same), releases that failed. */
struct sc_wal_vfs_stats {
	uint64_t joined;
	uint64_t alone;
	uint64_t runs;
	uint64_t gathered;
	uint64_t barrier_err;
	uint64_t release_err; /* sc_wal_vfs_release failed (after a sync nothing is held: none) */
	uint64_t err_dropped; /* a kept error its transaction ended without (a rollback): dropped */
};
void sc_wal_vfs_stats(struct sc_wal_vfs_stats *out);

#endif
