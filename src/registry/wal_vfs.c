// SPDX-License-Identifier: Apache-2.0
/*
 * wal_vfs.c — the registry's SQLite VFS: the default "unix" VFS, except that a WAL frame's
 * 24-byte header and the page SQLite writes right after it go out as one write (wal_vfs.h).
 *
 * Why it is sound: the bytes and their offsets are the same, only the number of write calls
 * changes, and a held header is on the file before anything can read or rely on it. SQLite
 * 3.40's wal.c writes a 24-byte piece of a WAL file in two places only:
 *  - a new frame (walWriteOneFrame): its header, then at once its page at the next offset,
 *    under the WAL write lock; that page write takes the held header with it. A write split at
 *    a sync point (walWriteToLog, padding a commit to a sector) is synced right after its first
 *    part, which writes a held header; its rest starts at the sync point, a multiple of the
 *    sector size, and may be exactly 24 bytes (a page's tail) with nothing after it: a 24-byte
 *    write at a sector multiple is never held (test_sector_tail_not_held).
 *  - a header rewritten alone (walRewriteChecksums: a transaction that spilled a page to the WAL
 *    and changed it again has its frames' checksums rewritten at commit, each frame read whole,
 *    then its header written back with no page after it). A 24-byte write at the offset the
 *    file's last call read from, a read longer than a header, is such a rewrite and is never held.
 *    Session 12's review found it held: under synchronous=NORMAL (no sync at commit) the commit
 *    frame's header stayed in memory after the commit was published, so a crash lost the
 *    acknowledged commit, and its late write could land on another connection's frames after a
 *    WAL restart (test_rewrite_not_held, test_no_late_header).
 * Every other call on the file (read, sync, truncate, size, lock, file control, shared memory,
 * fetch, close, a write anywhere else) writes a held header first, its error returned by that
 * call. A process killed while a header is held loses an unpublished, unacknowledged frame,
 * which it would have lost anyway: recovery drops a frame whose checksum or salt does not match,
 * and the frame was not part of any commit yet. Read against SQLite 3.40.1's wal.c (Debian 12):
 * recovery and checkpoints only read the WAL; its 32-byte header, a page rewritten in place and
 * the size limit's truncate are not 24-byte writes. Another SQLite (a wal.c that writes a header
 * alone elsewhere) would need this list read again: SC_REG_WAL_COALESCE=0 turns the joining off.
 *
 * walhold18: a durable commit's writes held whole. The registry arms a connection's WAL
 * (sc_wal_vfs_hold) right before a COMMIT it runs with synchronous=FULL; every write to that
 * WAL is then appended to one extent in memory (the run; a held header is subsumed: armed, no
 * header is held alone) and the run goes out in one write at the WAL's first sync, which it
 * precedes; the sync disarms. Why it is sound, read against 3.40.1's sqlite3WalFrames (walFrames):
 * with sync flags a commit's frames (walWriteOneFrame), a page rewritten in place, the
 * rewritten checksums (walRewriteChecksums: each read flushes the run first) and the sector
 * padding are all written before its sync, and only after the sync does walIndexAppend /
 * walIndexWriteHdr publish them in the wal-index: no reader, in this process or another, can
 * look at a frame the run holds, and a process that dies holding a run had not had its commit
 * acknowledged (its frames, never written, are as absent as a torn commit's, which recovery
 * drops). The first sync is the commit's own, or the new WAL's header's (a commit that begins
 * the WAL: the rest of that commit's frames are then written one by one as unarmed). Whatever
 * wal.c writes after a sync (the rest of a padding frame split at the sync point, the size
 * limit's truncate) is made at once. A read, size, truncate, lock, file control, close, a write
 * that does not continue the run, and HOLD_MAX bytes held write the run first; so does any
 * shared-memory call of the connection's database file while armed (the wal-index and its
 * locks: where frames are published and the WAL's write lock is released; a guard, none comes
 * between a FULL commit's frames and its sync). A NORMAL commit is never armed: its frames are
 * published with no sync. A failed run is the error of the call that wrote it (the sync's:
 * the commit fails), or, written in a shared-memory call, kept for the WAL's next write or sync
 * (the shm call is made regardless; flush_shm) and dropped when the write transaction ends
 * without one (weak19: the WAL's write lock released, cw_shm_lock); a short write is continued
 * by "unix"'s xWrite. The registry's SC_REG_WAL_HOLD=0 (read once per connection) arms none.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "wal_vfs.h"

/* A WAL frame's header (SQLite's WAL_FRAME_HDRSIZE, fixed by the file format). */
#define FRAME_HDR 24
/* The largest page joined to its header (registries are made with 1 KiB pages, 4 KiB before
 * session 17); larger: two writes. */
#define MAX_JOIN 16384
/*
 * An armed WAL's run: its first allocation, and the most held before it is written (a larger
 * batch's frames go out in several calls; memory stays bounded whatever the transaction).
 * HOLD_MAX is the largest write the "unix" VFS makes whole: its seekAndWriteFd masks a write's
 * length to 17 bits (SQLite never writes more than a 64 KiB page at once), so a longer one would
 * be cut (4 MiB became 0 bytes: SQLITE_FULL, test_hold_bound). A first enrollment's commit
 * is ~20 KB of 1 KiB-page frames (~60 KB at 4 KiB).
 */
#define HOLD_FIRST 65536
#define HOLD_MAX 0x1ffffu

struct cw_file {
	sqlite3_file base;  /* pMethods = &cw_io */
	sqlite3_file *real; /* the "unix" VFS's file, in the same allocation, after this struct */
	int wal;            /* opened as a WAL file: its 24-byte writes are held */
	int held;           /* hdr holds a write not yet made */
	sqlite3_int64 held_off;
	unsigned char hdr[FRAME_HDR];
	sqlite3_int64 rd_off; /* the last read's offset and length (-1: none since a write) */
	int rd_amt;
	/* walhold18: a WAL file armed by sc_wal_vfs_hold holds every write in run (one extent). */
	int armed;
	unsigned char *run;
	size_t run_len, run_cap;
	sqlite3_int64 run_off;
	/* the database file for its WAL, the WAL for its file: set by the first sc_wal_vfs_hold,
	 * kept until either closes (weak19: the write lock's release reaches the WAL's err) */
	struct cw_file *link;
	int err; /* a write that failed inside a shared-memory call: the next write or sync's */
};

#define REAL_OFF ((sizeof(struct cw_file) + 15) & ~(size_t)15)

static uint64_t stat_joined, stat_alone, stat_runs, stat_gathered, stat_barrier_err,
    stat_release_err, stat_err_dropped; /* __atomic */
static int fail_release; /* __atomic: sc_wal_vfs_fail_release's code for the next release */

/* An armed WAL's run written in one call (the "unix" VFS's xWrite: one pwrite, short ones
 * continued by it); its error is the caller's. Emptied either way: a failed run is not retried. */
static int flush_run(struct cw_file *p)
{
	size_t n = p->run_len;
	int rc;

	if (n == 0)
		return SQLITE_OK;
	p->run_len = 0;
	if ((rc = p->real->pMethods->xWrite(p->real, p->run, (int)n, p->run_off)) == SQLITE_OK)
		__atomic_add_fetch(&stat_runs, 1, __ATOMIC_RELAXED);
	return rc;
}

/* Whatever the file holds, written: a held header (not armed) or a run (armed). */
static int flush(struct cw_file *p)
{
	int rc;

	if (p->run_len > 0)
		return flush_run(p);
	if (!p->held)
		return SQLITE_OK;
	p->held = 0;
	if ((rc = p->real->pMethods->xWrite(p->real, p->hdr, FRAME_HDR, p->held_off)) == SQLITE_OK)
		__atomic_add_fetch(&stat_alone, 1, __ATOMIC_RELAXED);
	return rc;
}

static int cw_close(sqlite3_file *f)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p), rc2 = p->real->pMethods->xClose(p->real);

	if (p->link != NULL)
		p->link->link = NULL;
	p->link = NULL;
	p->armed = 0;
	free(p->run);
	p->run = NULL;
	p->run_cap = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int cw_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	p->rd_off = off;
	p->rd_amt = amt;
	return rc != SQLITE_OK ? rc : p->real->pMethods->xRead(p->real, buf, amt, off);
}

/* The header and the page right after it in one write; 0 when the page is too large to join. */
static int join_write(struct cw_file *p, const void *buf, int amt, int *rc)
{
	/* On the stack: a heap buffer per file moved a thread arena's top (an mprotect each). */
	unsigned char frame[FRAME_HDR + MAX_JOIN];

	if (amt > MAX_JOIN)
		return 0;
	memcpy(frame, p->hdr, FRAME_HDR);
	memcpy(frame + FRAME_HDR, buf, (size_t)amt);
	p->held = 0;
	if ((*rc = p->real->pMethods->xWrite(p->real, frame, FRAME_HDR + amt, p->held_off)) ==
	    SQLITE_OK)
		__atomic_add_fetch(&stat_joined, 1, __ATOMIC_RELAXED);
	return 1;
}

/* The sector size as sqlite3SectorSize bounds what the VFS reports (512 below 32, at most 64 KiB). */
static sqlite3_int64 sector_size(struct cw_file *p)
{
	int ss = p->real->pMethods->xSectorSize(p->real);

	return ss < 32 ? 512 : ss > 65536 ? 65536 : ss;
}

/*
 * An armed WAL's write: appended to the run when it starts where the run ends (a run begins at
 * any offset), else the run is written first and this write begins the next one (a write
 * elsewhere, or over bytes the run holds: the order of the bytes on the file is the calls').
 * A run is written at HOLD_MAX; a write that cannot be held (larger than HOLD_MAX, no memory
 * for the run) is made at once after the run.
 */
static int hold_write(struct cw_file *p, const void *buf, int amt, sqlite3_int64 off)
{
	size_t n = (size_t)amt;
	int rc;

	if (p->run_len > 0 &&
	    (off != p->run_off + (sqlite3_int64)p->run_len || p->run_len + n > HOLD_MAX) &&
	    (rc = flush_run(p)) != SQLITE_OK)
		return rc;
	if (p->run_len + n > p->run_cap && n <= HOLD_MAX) {
		size_t cap = p->run_cap > 0 ? p->run_cap : HOLD_FIRST;
		unsigned char *nb;

		while (cap < p->run_len + n)
			cap *= 2;
		if (cap > HOLD_MAX)
			cap = HOLD_MAX;
		if ((nb = realloc(p->run, cap)) != NULL) {
			p->run = nb;
			p->run_cap = cap;
		}
	}
	if (p->run_len + n > p->run_cap) {
		if ((rc = flush_run(p)) != SQLITE_OK)
			return rc;
		return p->real->pMethods->xWrite(p->real, buf, amt, off);
	}
	if (p->run_len == 0)
		p->run_off = off;
	memcpy(p->run + p->run_len, buf, n);
	p->run_len += n;
	__atomic_add_fetch(&stat_gathered, 1, __ATOMIC_RELAXED);
	return SQLITE_OK;
}

static int cw_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct cw_file *p = (struct cw_file *)f;
	/* walRewriteChecksums: a frame read whole, then its header alone written back. */
	int rewrite = p->rd_off == off && p->rd_amt > FRAME_HDR;
	int rc;

	p->rd_off = -1;
	if (p->err != SQLITE_OK) {
		rc = p->err;
		p->err = SQLITE_OK;
		return rc;
	}
	if (p->armed)
		return hold_write(p, buf, amt, off);
	if (p->held) {
		if (off == p->held_off + FRAME_HDR && join_write(p, buf, amt, &rc))
			return rc;
		if ((rc = flush(p)) != SQLITE_OK)
			return rc;
	}
	/*
	 * Padding to a sector (no POWERSAFE_OVERWRITE, synchronous=FULL): walWriteToLog splits the
	 * page that crosses the sync point, syncs, and writes its rest at the sync point as the
	 * commit's last write: 24 bytes when the point is 24 bytes before the frame's end. So a
	 * 24-byte write at a multiple of the sector size (as sqlite3SectorSize bounds it) is made at
	 * once (session 12's second review; about one frame header in 512 with 4 KiB pages).
	 */
	if (p->wal && amt == FRAME_HDR && !rewrite && off % sector_size(p) != 0) {
		memcpy(p->hdr, buf, FRAME_HDR);
		p->held_off = off;
		p->held = 1;
		return SQLITE_OK;
	}
	return p->real->pMethods->xWrite(p->real, buf, amt, off);
}

static int cw_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xTruncate(p->real, size);
}

/*
 * An armed WAL's first sync ends the hold: the run is written, then synced. Whatever wal.c
 * writes after a sync (the rest of a sector's padding, the size limit's truncate) is made at
 * once as before. The run's error is the sync's, before any sync (the commit fails); so is a
 * run's write that failed inside a shared-memory call (err), and what is held then is dropped
 * (a failed commit's bytes written later could land on another connection's frames).
 */
static int cw_sync(sqlite3_file *f, int flags)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = p->err;

	p->armed = 0;
	p->err = SQLITE_OK;
	if (rc != SQLITE_OK) {
		p->run_len = 0;
		p->held = 0;
		return rc;
	}
	rc = flush(p);
	return rc != SQLITE_OK ? rc : p->real->pMethods->xSync(p->real, flags);
}

static int cw_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xFileSize(p->real, size);
}

static int cw_lock(sqlite3_file *f, int level)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xLock(p->real, level);
}

static int cw_unlock(sqlite3_file *f, int level)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xUnlock(p->real, level);
}

static int cw_check_reserved(sqlite3_file *f, int *out)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int arm(struct cw_file *w, int on);

static int cw_file_control(sqlite3_file *f, int op, void *arg)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc;

	if (op == SC_WAL_FCNTL_HOLD)
		return p->wal ? arm(p, *(int *)arg) : SQLITE_NOTFOUND;
	if (op == SC_WAL_FCNTL_RUN_CAP) {
		if (!p->wal)
			return SQLITE_NOTFOUND;
		*(sqlite3_int64 *)arg = (sqlite3_int64)p->run_cap;
		return SQLITE_OK;
	}
	rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xFileControl(p->real, op, arg);
}

/* Queries that neither touch the file's bytes nor can report an error: no flush. */
static int cw_sector_size(sqlite3_file *f)
{
	struct cw_file *p = (struct cw_file *)f;

	return p->real->pMethods->xSectorSize(p->real);
}

static int cw_device_chars(sqlite3_file *f)
{
	struct cw_file *p = (struct cw_file *)f;

	return p->real->pMethods->xDeviceCharacteristics(p->real);
}

/* A write that failed where its error cannot be returned: kept for the file's next write or
 * sync (cw_write, cw_sync), the first one kept. */
static int keep_err(struct cw_file *p, int rc)
{
	if (rc != SQLITE_OK && p->err == SQLITE_OK)
		p->err = rc;
	return rc != SQLITE_OK;
}

/*
 * Shared memory: the database file's (never a WAL file's), after its own flush and, while its
 * connection's WAL is armed, the WAL's run: the wal-index and its locks are where frames are
 * published and the WAL's write lock released, so nothing held outlives either (walhold18;
 * under synchronous=FULL none of them comes between a commit's frames and its sync). The shm
 * call itself is always made: SQLite ignores some of their codes ((void)walUnlockShared, a
 * lookup's in release builds), so a failed flush returned there could drop held frames while
 * the commit went on, or leave a lock held that SQLite thinks released (the walhold18 review).
 * The failed write is kept on its file instead (keep_err): the WAL's next write or its sync
 * returns it, so the commit fails and is not acknowledged. 1 when a flush failed.
 */
static int flush_shm(struct cw_file *p)
{
	int bad = keep_err(p, flush(p));

	if (p->link != NULL && p->link->run_len > 0)
		bad |= keep_err(p->link, flush_run(p->link));
	return bad;
}

static int cw_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **out)
{
	struct cw_file *p = (struct cw_file *)f;

	(void)flush_shm(p);
	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, out);
}

/* wal.c's WAL_WRITE_LOCK: the wal-index lock a write transaction holds (3.40, wal.c). */
#define SHM_WRITE_LOCK 0

/*
 * weak19: the WAL's write lock released ends the write transaction, committed or rolled back.
 * A kept error still there then had no write or sync after it to take it (a kept error means a
 * held frame, so a page was changed and a commit of it writes frames and takes the error; so the
 * transaction was rolled back): it belonged to
 * that transaction, whose frames are given up with it, and is dropped (counted, err_dropped), so
 * the connection's next transaction does not fail for it (session 18 left it to fail the next
 * WAL write once, whatever transaction made it). The unlock is made first, whatever is kept.
 */
static int cw_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc;

	(void)flush_shm(p);
	rc = p->real->pMethods->xShmLock(p->real, offset, n, flags);
	if (offset == SHM_WRITE_LOCK && (flags & SQLITE_SHM_UNLOCK) != 0 && p->link != NULL &&
	    p->link->err != SQLITE_OK) {
		p->link->err = SQLITE_OK;
		__atomic_add_fetch(&stat_err_dropped, 1, __ATOMIC_RELAXED);
	}
	return rc;
}

static void cw_shm_barrier(sqlite3_file *f)
{
	struct cw_file *p = (struct cw_file *)f;

	/* Before wal-index header is published (walIndexWriteHdr): under synchronous=FULL the sync
	 * has written the run already (a guard only); a failure is counted (and kept). */
	if (flush_shm(p))
		__atomic_add_fetch(&stat_barrier_err, 1, __ATOMIC_RELAXED);
	p->real->pMethods->xShmBarrier(p->real);
}

static int cw_shm_unmap(sqlite3_file *f, int del)
{
	struct cw_file *p = (struct cw_file *)f;

	(void)flush_shm(p);
	return p->real->pMethods->xShmUnmap(p->real, del);
}

static int cw_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	*out = NULL;
	return rc != SQLITE_OK ? rc : p->real->pMethods->xFetch(p->real, off, amt, out);
}

static int cw_unfetch(sqlite3_file *f, sqlite3_int64 off, void *ptr)
{
	struct cw_file *p = (struct cw_file *)f;
	int rc = flush(p);

	return rc != SQLITE_OK ? rc : p->real->pMethods->xUnfetch(p->real, off, ptr);
}

static const sqlite3_io_methods cw_io = {
	.iVersion = 3,
	.xClose = cw_close,
	.xRead = cw_read,
	.xWrite = cw_write,
	.xTruncate = cw_truncate,
	.xSync = cw_sync,
	.xFileSize = cw_size,
	.xLock = cw_lock,
	.xUnlock = cw_unlock,
	.xCheckReservedLock = cw_check_reserved,
	.xFileControl = cw_file_control,
	.xSectorSize = cw_sector_size,
	.xDeviceCharacteristics = cw_device_chars,
	.xShmMap = cw_shm_map,
	.xShmLock = cw_shm_lock,
	.xShmBarrier = cw_shm_barrier,
	.xShmUnmap = cw_shm_unmap,
	.xFetch = cw_fetch,
	.xUnfetch = cw_unfetch,
};

static sqlite3_vfs *root_of(sqlite3_vfs *vfs)
{
	return (sqlite3_vfs *)vfs->pAppData;
}

static int cw_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct cw_file *p = (struct cw_file *)f;
	sqlite3_vfs *root = root_of(vfs);
	int rc;

	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)((char *)p + REAL_OFF);
	p->wal = (flags & SQLITE_OPEN_WAL) != 0;
	p->rd_off = -1;
	rc = root->xOpen(root, name, p->real, flags, out);
	/* SQLite closes a file whose pMethods is set even when xOpen failed (sqlite3.h). */
	p->base.pMethods = p->real->pMethods != NULL ? &cw_io : NULL;
	/* Methods below version 3 lack what cw_io forwards (unix's are 3 since SQLite 3.7.17). */
	if (p->real->pMethods != NULL && p->real->pMethods->iVersion < 3) {
		p->real->pMethods->xClose(p->real);
		p->base.pMethods = NULL;
		return SQLITE_CANTOPEN;
	}
	return rc;
}

static int cw_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	return root_of(vfs)->xDelete(root_of(vfs), name, sync_dir);
}

static int cw_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return root_of(vfs)->xAccess(root_of(vfs), name, flags, out);
}

static int cw_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return root_of(vfs)->xFullPathname(root_of(vfs), name, n, out);
}

static void *cw_dlopen(sqlite3_vfs *vfs, const char *name)
{
	return root_of(vfs)->xDlOpen(root_of(vfs), name);
}

static void cw_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	root_of(vfs)->xDlError(root_of(vfs), n, out);
}

static void (*cw_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	return root_of(vfs)->xDlSym(root_of(vfs), h, sym);
}

static void cw_dlclose(sqlite3_vfs *vfs, void *h)
{
	root_of(vfs)->xDlClose(root_of(vfs), h);
}

static int cw_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	return root_of(vfs)->xRandomness(root_of(vfs), n, out);
}

static int cw_sleep(sqlite3_vfs *vfs, int us)
{
	return root_of(vfs)->xSleep(root_of(vfs), us);
}

static int cw_current_time(sqlite3_vfs *vfs, double *out)
{
	return root_of(vfs)->xCurrentTime(root_of(vfs), out);
}

static int cw_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	return root_of(vfs)->xGetLastError(root_of(vfs), n, out);
}

static int cw_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	return root_of(vfs)->xCurrentTimeInt64(root_of(vfs), out);
}

static sqlite3_vfs cw_vfs;
static const char *cw_name; /* SC_WAL_VFS_NAME once registered */
static pthread_once_t cw_once = PTHREAD_ONCE_INIT;

static void cw_register(void)
{
	sqlite3_vfs *root;

	/*
	 * Only on the SQLite whose wal.c was read for it (3.40, Debian 12's, see the top): another
	 * release may write a WAL header alone somewhere else, so it gets the plain "unix" VFS.
	 */
	if (sqlite3_libversion_number() / 1000 != 3040 || sqlite3_initialize() != SQLITE_OK ||
	    (root = sqlite3_vfs_find("unix")) == NULL || root->iVersion < 2 ||
	    root->xCurrentTimeInt64 == NULL)
		return;
	cw_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)(REAL_OFF + (size_t)root->szOsFile),
		.mxPathname = root->mxPathname,
		.zName = SC_WAL_VFS_NAME,
		.pAppData = root,
		.xOpen = cw_open,
		.xDelete = cw_delete,
		.xAccess = cw_access,
		.xFullPathname = cw_full_pathname,
		.xDlOpen = cw_dlopen,
		.xDlError = cw_dlerror,
		.xDlSym = cw_dlsym,
		.xDlClose = cw_dlclose,
		.xRandomness = cw_randomness,
		.xSleep = cw_sleep,
		.xCurrentTime = cw_current_time,
		.xGetLastError = cw_last_error,
		.xCurrentTimeInt64 = cw_current_time64,
	};
	if (sqlite3_vfs_register(&cw_vfs, 0) == SQLITE_OK)
		cw_name = SC_WAL_VFS_NAME;
}

const char *sc_wal_vfs(void)
{
	const char *e = getenv("SC_REG_WAL_COALESCE");

	if (e != NULL && strcmp(e, "0") == 0)
		return NULL;
	pthread_once(&cw_once, cw_register);
	return cw_name;
}

void sc_wal_vfs_stats(struct sc_wal_vfs_stats *out)
{
	out->joined = __atomic_load_n(&stat_joined, __ATOMIC_RELAXED);
	out->alone = __atomic_load_n(&stat_alone, __ATOMIC_RELAXED);
	out->runs = __atomic_load_n(&stat_runs, __ATOMIC_RELAXED);
	out->gathered = __atomic_load_n(&stat_gathered, __ATOMIC_RELAXED);
	out->barrier_err = __atomic_load_n(&stat_barrier_err, __ATOMIC_RELAXED);
	out->release_err = __atomic_load_n(&stat_release_err, __ATOMIC_RELAXED);
	out->err_dropped = __atomic_load_n(&stat_err_dropped, __ATOMIC_RELAXED);
}

void sc_wal_vfs_fail_release(int rc)
{
	__atomic_store_n(&fail_release, rc, __ATOMIC_RELAXED);
}

/* The connection's main database file and its WAL, both opened through this VFS; 0 if not. */
static int files_of(sqlite3 *db, struct cw_file **dbf, struct cw_file **wal)
{
	sqlite3_file *d = NULL, *w = NULL;

	if (cw_name == NULL ||
	    sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &d) != SQLITE_OK ||
	    sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &w) != SQLITE_OK ||
	    d == NULL || w == NULL || d->pMethods != &cw_io || w->pMethods != &cw_io ||
	    !((struct cw_file *)w)->wal)
		return 0;
	*dbf = (struct cw_file *)d;
	*wal = (struct cw_file *)w;
	return 1;
}

/*
 * Arms (on) or disarms a WAL file: see wal_vfs.h. A held header goes out first, unarmed. A kept
 * error (err) stays for the next write or sync, or until the write transaction ends
 * (cw_shm_lock). The link to the database file stays (sc_wal_vfs_hold sets it; a close ends it):
 * disarmed, the WAL holds no run for flush_shm to write. Disarmed, a run buffer that grew past
 * its first size (a large commit's, up to HOLD_MAX) is shrunk back to HOLD_FIRST: a connection
 * keeps 64 KiB between commits, not what its largest commit needed (SC_WAL_FCNTL_RUN_CAP).
 */
static int arm(struct cw_file *w, int on)
{
	int rc;

	w->armed = 0;
	rc = flush(w);
	w->armed = on && rc == SQLITE_OK;
	if (!on && w->run_cap > HOLD_FIRST && w->run_len == 0) {
		unsigned char *nb = realloc(w->run, HOLD_FIRST);

		if (nb != NULL) {
			w->run = nb;
			w->run_cap = HOLD_FIRST;
		}
	}
	return rc;
}

/* The switch SC_REG_WAL_HOLD=0 is the caller's (reg_sqlite.c reads it once per connection). */
int sc_wal_vfs_hold(sqlite3 *db)
{
	struct cw_file *d, *w;

	if (!files_of(db, &d, &w) || arm(w, 1) != SQLITE_OK)
		return 0;
	if (d->link != w) {
		if (d->link != NULL)
			d->link->link = NULL;
		if (w->link != NULL)
			w->link->link = NULL;
		d->link = w;
		w->link = d;
	}
	return 1;
}

int sc_wal_vfs_release(sqlite3 *db)
{
	struct cw_file *d, *w;
	int rc = files_of(db, &d, &w) ? arm(w, 0) : SQLITE_OK;
	int injected = __atomic_load_n(&fail_release, __ATOMIC_RELAXED) != 0
	    ? __atomic_exchange_n(&fail_release, 0, __ATOMIC_RELAXED)
	    : 0;

	if (rc == SQLITE_OK && injected != 0)
		rc = injected;
	if (rc != SQLITE_OK)
		__atomic_add_fetch(&stat_release_err, 1, __ATOMIC_RELAXED);
	return rc;
}
