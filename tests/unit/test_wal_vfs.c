// SPDX-License-Identifier: Apache-2.0
/*
 * test_wal_vfs.c — the registry's VFS (src/registry/wal_vfs.c): a WAL file's 24-byte frame
 * header joined to the page written right after it. The bytes on disk are those of SQLite's
 * "unix" VFS for the same calls in every order (joined, a write elsewhere, a read, a sync, a
 * size, a truncate, a lock, a close after a held header); other files hold nothing; a database
 * written through it is read by plain connections; and a writer killed (SIGKILL) mid-load loses
 * no commit it had acknowledged, the file passing integrity_check when reopened. Every case runs
 * twice: at 4 KiB pages (registries made before session 17) and at 1 KiB (new ones, sqlwal17).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include <errno.h>
#include <dlfcn.h>
#include <pthread.h>

#include "registry.h"
#include "wal_vfs.h"
#include "testutil.h"

static char dir[512];
/* The group's page size: the frames' in script(), new databases' (open_db), 4096 or 1024. */
static int pg = 4096;

static int group_4k(void **state)
{
	(void)state;
	pg = 4096;
	return 0;
}

static int group_1k(void **state)
{
	(void)state;
	pg = 1024;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sc_test_rmdir(dir);
	return 0;
}

/*
 * The VFS is registered only on SQLite 3.40.x (wal_vfs.c), and not with SC_REG_WAL_COALESCE=0
 * in the environment: then there is nothing to test.
 */
static void skip_unless_registered(void)
{
	if (sc_wal_vfs() == NULL)
		skip();
}

/* The whole file, into buf (at most cap bytes); its size. */
static size_t slurp(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* One xOpen of vfs on path, as SQLite opens a WAL file (or another kind, by flags). */
static sqlite3_file *open_file(sqlite3_vfs *vfs, const char *path, int kind)
{
	sqlite3_file *f = calloc(1, (size_t)vfs->szOsFile);
	int out = 0;

	assert_non_null(f);
	assert_int_equal(vfs->xOpen(vfs, path, f, kind | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                     &out),
	    SQLITE_OK);
	return f;
}

static void close_file(sqlite3_file *f)
{
	assert_int_equal(f->pMethods->xClose(f), SQLITE_OK);
	free(f);
}

/* Every way a held header is ended, the same calls on both VFSes; the files compared. */
static sqlite3_int64 script(sqlite3_file *f, const unsigned char *page)
{
	const struct sqlite3_io_methods *m = f->pMethods;
	unsigned char hdr[24], got[64];
	sqlite3_int64 off = 32, size = 0;
	int reserved = 0;

	memset(hdr, 0xA5, sizeof(hdr));
	memset(got, 0, sizeof(got));
	assert_int_equal(m->xWrite(f, page, 32, 0), SQLITE_OK); /* the WAL header: not held */
	for (int i = 0; i < 3; i++, off += 24 + pg) {           /* joined frames */
		hdr[0] = (unsigned char)i;
		assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
		assert_int_equal(m->xWrite(f, page + i, pg, off + 24), SQLITE_OK);
	}
	/* A read of the held header's bytes sees them. */
	hdr[0] = 0x10;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xRead(f, got, 24, off), SQLITE_OK);
	assert_memory_equal(got, hdr, 24);
	assert_int_equal(m->xWrite(f, page, pg, off + 24), SQLITE_OK);
	off += 24 + pg;
	/* A write elsewhere: the header first. */
	hdr[0] = 0x11;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xWrite(f, page + 7, 100, off + 24 + pg + 50), SQLITE_OK);
	assert_int_equal(m->xWrite(f, page + 8, pg, off + 24), SQLITE_OK);
	off += 24 + pg;
	/* Sync, size, lock, file control: each after a held header. */
	hdr[0] = 0x12;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
	off += 24;
	hdr[0] = 0x13;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xFileSize(f, &size), SQLITE_OK);
	assert_true(size >= off + 24); /* the held header counted (a write beyond it above) */
	off += 24;
	hdr[0] = 0x14;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xCheckReservedLock(f, &reserved), SQLITE_OK);
	off += 24;
	hdr[0] = 0x15;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xLock(f, SQLITE_LOCK_SHARED), SQLITE_OK);
	assert_int_equal(m->xUnlock(f, SQLITE_LOCK_NONE), SQLITE_OK);
	off += 24;
	/* A header whose next write is not right after it (a gap): two writes. */
	hdr[0] = 0x16;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xWrite(f, page + 9, pg, off + 25), SQLITE_OK);
	off += 25 + pg;
	/* Truncate after a held header beyond the new end: the header is written, then cut. */
	hdr[0] = 0x17;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xTruncate(f, off + 12), SQLITE_OK);
	off += 12;
	/* A page larger than the join's limit: two writes. */
	hdr[0] = 0x18;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xWrite(f, page, 32768, off + 24), SQLITE_OK);
	off += 24 + 32768;
	/* Close with a header held: written at close. */
	hdr[0] = 0x19;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	return size;
}

static void test_bytes_as_unix(void **state)
{
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix"), *ours;
	static unsigned char page[65536], a[131072], b[131072];
	char pa[600], pb[600], pdb[600];
	struct sc_wal_vfs_stats s0, s1;
	size_t na, nb;
	sqlite3_int64 size_a;

	(void)state;
	skip_unless_registered();
	assert_string_equal(sc_wal_vfs(), SC_WAL_VFS_NAME);
	ours = sqlite3_vfs_find(SC_WAL_VFS_NAME);
	assert_non_null(ours);
	assert_non_null(unix_vfs);
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * 31 + 7);
	snprintf(pa, sizeof(pa), "%s/a-wal", dir);
	snprintf(pb, sizeof(pb), "%s/b-wal", dir);
	/* unix's xOpen of a WAL file takes its mode from the database's ("a" for "a-wal"). */
	snprintf(pdb, sizeof(pdb), "%s/a", dir);
	sc_test_write_file(pdb, "", 0);
	snprintf(pdb, sizeof(pdb), "%s/b", dir);
	sc_test_write_file(pdb, "", 0);
	sc_wal_vfs_stats(&s0);
	{
		sqlite3_file *f = open_file(ours, pa, SQLITE_OPEN_WAL);

		size_a = script(f, page);
		close_file(f);
	}
	sc_wal_vfs_stats(&s1);
	/* 3 frames + the read's page (its header written by the read) = joined 3; alone: read,
	 * write elsewhere, sync, size, reserved lock, lock, gap, truncate, large page, close. */
	assert_int_equal(s1.joined - s0.joined, 3);
	assert_int_equal(s1.alone - s0.alone, 10);
	{
		sqlite3_file *f = open_file(unix_vfs, pb, SQLITE_OPEN_WAL);

		assert_int_equal(script(f, page), size_a);
		close_file(f);
	}
	na = slurp(pa, a, sizeof(a));
	nb = slurp(pb, b, sizeof(b));
	assert_true(na > (size_t)(32768 + 4 * pg)); /* the large page and four frames at least */
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
}

/* Files other than a WAL (the database, a journal) hold nothing: a 24-byte write is made now. */
static void test_other_files_not_held(void **state)
{
	sqlite3_vfs *ours;
	unsigned char hdr[24], got[24];
	char path[600];
	struct sc_wal_vfs_stats s0, s1;
	sqlite3_file *f;
	int fd;

	(void)state;
	skip_unless_registered();
	assert_non_null(sc_wal_vfs());
	ours = sqlite3_vfs_find(SC_WAL_VFS_NAME);
	snprintf(path, sizeof(path), "%s/main.db", dir);
	memset(hdr, 0x5A, sizeof(hdr));
	sc_wal_vfs_stats(&s0);
	f = open_file(ours, path, SQLITE_OPEN_MAIN_DB);
	assert_int_equal(f->pMethods->xWrite(f, hdr, 24, 100), SQLITE_OK);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, sizeof(got), 100), 24);
	close(fd);
	assert_memory_equal(got, hdr, 24);
	close_file(f);
	sc_wal_vfs_stats(&s1);
	assert_int_equal(s1.joined - s0.joined, 0);
	assert_int_equal(s1.alone - s0.alone, 0);
}

/* SC_REG_WAL_COALESCE=0: SQLite's default VFS (the benchmarks' switch). */
static void test_switch(void **state)
{
	(void)state;
	skip_unless_registered();
	setenv("SC_REG_WAL_COALESCE", "0", 1);
	assert_null(sc_wal_vfs());
	unsetenv("SC_REG_WAL_COALESCE");
	assert_string_equal(sc_wal_vfs(), SC_WAL_VFS_NAME);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : sqlite3_errstr(rc));
}

static sqlite3 *open_db(const char *path, const char *vfs)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	                     vfs),
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	{
		char sql[48]; /* a new file's; a no-op on one that has its first page */

		snprintf(sql, sizeof(sql), "PRAGMA page_size = %d", pg);
		exec_ok(db, sql);
	}
	exec_ok(db, "PRAGMA journal_mode = WAL");
	exec_ok(db, "PRAGMA synchronous = FULL");
	return db;
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void assert_integrity(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* A database written through the VFS: its frames joined, read by a plain "unix" connection. */
static void test_database_shared(void **state)
{
	char path[600];
	struct sc_wal_vfs_stats s0, s1;
	sqlite3 *w, *r;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/shared.db", dir);
	w = open_db(path, sc_wal_vfs());
	r = open_db(path, NULL);
	exec_ok(w, "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
	assert_int_equal(one_int(r, "PRAGMA page_size"), pg); /* the group's */
	sc_wal_vfs_stats(&s0);
	for (int i = 0; i < 50; i++) {
		char sql[128];

		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d, randomblob(1500))", i);
		exec_ok(w, sql);
		assert_int_equal(one_int(r, "SELECT count(*) FROM t"), i + 1);
	}
	sc_wal_vfs_stats(&s1);
	/* Every frame of every commit joined; no header written alone. */
	assert_true(s1.joined - s0.joined >= 50);
	assert_int_equal(s1.alone - s0.alone, 0);
	exec_ok(r, "INSERT INTO t VALUES (1000, x'00')"); /* the other way round */
	assert_int_equal(one_int(w, "SELECT count(*) FROM t"), 51);
	exec_ok(w, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_integrity(r);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
}

/*
 * The writer, in a child: commits one row per transaction (synchronous=FULL) through the VFS
 * and reports each acknowledged commit's number on the pipe, until killed.
 */
static void writer(const char *path, int fd)
{
	sqlite3 *db = NULL;

	/* No cmocka assertions in the child: a failure there would run the parent's tests on. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, sc_wal_vfs()) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
		_exit(2);
	for (int i = 1;; i++) {
		char sql[160];

		snprintf(sql, sizeof(sql),
		    "INSERT INTO t VALUES (%d, randomblob(3000 + %d %% 5000))", i, i * 7919);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
			_exit(3);
		if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(4);
	}
}

static void test_killed_writer_loses_nothing(void **state)
{
	char path[600];
	sqlite3 *db;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/killed.db", dir);
	db = open_db(path, NULL);
	exec_ok(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	for (int round = 0; round < 6; round++) {
		int p[2], acked = 0, n, status;
		pid_t pid;

		db = open_db(path, NULL);
		exec_ok(db, "DELETE FROM t");
		assert_int_equal(sqlite3_close(db), SQLITE_OK);
		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			writer(path, p[1]);
		}
		close(p[1]);
		/* Killed at a different point each round, somewhere inside a later commit's writes. */
		while (acked < 20 + round * 13 && read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			acked = n;
		usleep((useconds_t)(round * 700));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			acked = n;
		close(p[0]);
		/* Reopened (WAL recovery) through the VFS: every acknowledged row, the file sound. */
		db = open_db(path, sc_wal_vfs());
		assert_integrity(db);
		assert_true(acked >= 20 + round * 13);
		assert_true(one_int(db, "SELECT count(*) FROM t") >= acked);
		{
			char sql[128];

			snprintf(sql, sizeof(sql),
			    "SELECT count(*) FROM t WHERE k BETWEEN 1 AND %d", acked);
			assert_int_equal(one_int(db, sql), acked);
		}
		assert_int_equal(sqlite3_close(db), SQLITE_OK);
	}
}

/* The child's statements: any failure ends it with code 9 (no cmocka assertions there). */
static void child_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		_exit(9);
}

/*
 * A transaction that spills pages to the WAL (a 10-page cache) and then changes a spilled page
 * again: at commit SQLite rewrites its frames' checksums (walRewriteChecksums: each frame read,
 * its 24-byte header written back alone). Under synchronous=NORMAL nothing syncs at commit.
 */
static void spill_and_rewrite(sqlite3 *db)
{
	child_exec(db, "PRAGMA synchronous = NORMAL");
	child_exec(db, "PRAGMA cache_size = 10");
	child_exec(db, "BEGIN");
	child_exec(db,
	    "WITH RECURSIVE c(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM c WHERE i < 300)"
	    " INSERT INTO t SELECT i, randomblob(1000) FROM c");
	child_exec(db, "UPDATE t SET v = x'0102' WHERE k = 1");
	child_exec(db, "INSERT INTO t VALUES (100000, randomblob(1000))");
	child_exec(db, "COMMIT");
}

static void wait_child(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void fresh_db(const char *path)
{
	sqlite3 *db = open_db(path, NULL);

	exec_ok(db,
	    "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, x'00');"
	    "CREATE TABLE u (k INTEGER PRIMARY KEY, v BLOB)");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/*
 * Session 12's review: the rewritten commit frame's header was held, and with no sync at commit
 * nothing wrote it before the commit was published; the process then ended (as a crash would,
 * without closing) and the reopened file had lost the acknowledged commit (1 row, not 301).
 */
static void test_rewrite_not_held(void **state)
{
	char path[600];
	sqlite3 *db;
	pid_t pid;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/rewrite.db", dir);
	fresh_db(path);
	if ((pid = fork()) == 0) {
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, sc_wal_vfs()) != SQLITE_OK)
			_exit(8);
		spill_and_rewrite(db);
		_exit(0);
	}
	assert_true(pid > 0);
	wait_child(pid);
	db = open_db(path, NULL);
	assert_int_equal(one_int(db, "SELECT count(*) FROM t"), 301);
	assert_int_equal(one_int(db, "SELECT count(*) FROM t WHERE k = 100000"), 1);
	assert_int_equal(one_int(db, "SELECT length(v) FROM t WHERE k = 1"), 2);
	assert_integrity(db);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/*
 * The same review, the other effect: A's held header, written at A's next call after B had
 * restarted the WAL and committed with synchronous=FULL, landed on B's frames with the old salt;
 * after the crash B's 400 rows were gone. Now nothing of A's is written late.
 */
static void test_no_late_header(void **state)
{
	char path[600];
	sqlite3 *a, *b;
	pid_t pid;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/late.db", dir);
	fresh_db(path);
	if ((pid = fork()) == 0) {
		sqlite3_stmt *st = NULL;

		if (sqlite3_open_v2(path, &a, SQLITE_OPEN_READWRITE, sc_wal_vfs()) != SQLITE_OK ||
		    sqlite3_open_v2(path, &b, SQLITE_OPEN_READWRITE, sc_wal_vfs()) != SQLITE_OK)
			_exit(8);
		child_exec(b, "PRAGMA synchronous = FULL");
		spill_and_rewrite(a);
		child_exec(b, "PRAGMA wal_checkpoint(RESTART)");
		child_exec(b,
		    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
		    " WHERE i < 400) INSERT INTO u SELECT i, randomblob(1000) FROM c");
		/* A's next call on its WAL file. */
		if (sqlite3_prepare_v2(a, "SELECT count(*) FROM t WHERE k = 1", -1, &st, NULL) !=
		        SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW)
			_exit(7);
		sqlite3_finalize(st);
		_exit(0);
	}
	assert_true(pid > 0);
	wait_child(pid);
	a = open_db(path, NULL);
	assert_int_equal(one_int(a, "SELECT count(*) FROM t"), 301);
	assert_int_equal(one_int(a, "SELECT count(*) FROM u"), 400);
	assert_integrity(a);
	assert_int_equal(sqlite3_close(a), SQLITE_OK);
}

/*
 * A writer through this VFS on DIR/name without POWERSAFE_OVERWRITE (psow=0), pages smaller than
 * the 4 KiB sector (2048 in the 4 KiB group, 1024 in the 1 KiB one), WAL, synchronous=FULL, no
 * automatic checkpoint, table t: every commit is padded to the sector. path: the file's path.
 */
static sqlite3 *open_padded(const char *name, char *path, size_t path_len)
{
	char uri[700], sql0[48];
	sqlite3 *w = NULL;

	snprintf(path, path_len, "%s/%s", dir, name);
	snprintf(uri, sizeof(uri), "file:%s?psow=0", path);
	assert_int_equal(sqlite3_open_v2(uri, &w,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
	                     sc_wal_vfs()),
	    SQLITE_OK);
	snprintf(sql0, sizeof(sql0), "PRAGMA page_size = %d;", pg == 4096 ? 2048 : pg);
	exec_ok(w, sql0);
	exec_ok(w,
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x TEXT)");
	return w;
}

/*
 * Session 12's second review: with 2 KiB pages and no POWERSAFE_OVERWRITE (psow=0), a
 * synchronous=FULL commit is padded to the 4 KiB sector; the padding frame's page crossing the
 * sync point is split, and its rest, written at the sync point, can be exactly 24 bytes, the
 * commit's last write. Held, another connection read the committed page without its tail
 * (SQLITE_IOERR_SHORT_READ at commit 20). Each commit is read by a plain "unix" connection.
 */
static void test_sector_tail_not_held(void **state)
{
	char path[600];
	sqlite3 *w = NULL, *r = NULL;

	(void)state;
	skip_unless_registered();
	w = open_padded("pad.db", path, sizeof(path));
	r = open_db(path, NULL);
	assert_int_equal(one_int(r, "PRAGMA page_size"), pg == 4096 ? 2048 : pg);
	for (int i = 1; i <= 400; i++) {
		char sql[160];
		sqlite3_stmt *st = NULL;

		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (printf('%%0100d', %d))", i);
		exec_ok(w, sql);
		assert_int_equal(sqlite3_prepare_v2(r,
		                     "SELECT count(*) FROM t WHERE x = printf('%0100d', ?)", -1,
		                     &st, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_bind_int(st, 1, i), SQLITE_OK);
		if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1)
			fail_msg("commit %d not read whole: %s", i, sqlite3_errmsg(r));
		sqlite3_finalize(st);
	}
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
}

/*
 * ---- walhold18: a durable commit's WAL writes held and made in one call ----
 *
 * The "unix" VFS's own seam (xSetSystemCall) counts every pwrite SQLite makes, with its offset
 * and length, and fails, shortens or kills at the next one on request.
 */
static sqlite3_syscall_ptr real_pwrite, real_pwrite64;
static int n_pw;
static sqlite3_int64 pw_off[256];
static size_t pw_len[256];
static int pw_fail;  /* errno for the next pwrite, which then fails */
static int pw_short; /* the next pwrite writes half its bytes */
static int pw_kill;  /* SIGKILL at the next pwrite, before it writes (a child's) */

/* The order of SQLite's pwrites and fdatasyncs (the executable's fdatasync interposes libc's
 * for libsqlite3: "unix" has no xSetSystemCall seam for it). */
static int io_seq, last_pw_seq, last_sync_seq;
int fdatasync(int fd);
int fdatasync(int fd)
{
	static int (*real)(int);

	if (real == NULL) {
		void *sym = dlsym(RTLD_NEXT, "fdatasync");

		memcpy(&real, &sym, sizeof(real));
	}
	last_sync_seq = ++io_seq;
	return real(fd);
}

static ssize_t pw_common(int is64, int fd, const void *b, size_t n, off_t off)
{
	last_pw_seq = ++io_seq;
	if (pw_kill)
		raise(SIGKILL);
	if (n_pw < 256) {
		pw_off[n_pw] = off;
		pw_len[n_pw] = n;
	}
	n_pw++;
	if (pw_fail) {
		errno = pw_fail;
		pw_fail = 0;
		return -1;
	}
	if (pw_short) {
		pw_short = 0;
		n /= 2;
	}
	return is64 ? ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite64)(fd, b, n, off)
	            : ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite)(fd, b, n, off);
}

static ssize_t hook_pwrite(int fd, const void *b, size_t n, off_t off)
{
	return pw_common(0, fd, b, n, off);
}

static ssize_t hook_pwrite64(int fd, const void *b, size_t n, off_t off)
{
	return pw_common(1, fd, b, n, off);
}

static void hook_on(void)
{
	sqlite3_vfs *u = sqlite3_vfs_find("unix");

	/* Whichever of the two this SQLite was built with (Debian's: pwrite64); both if both.
	 * The defaults first (a failed test may have left the hook in). */
	(void)u->xSetSystemCall(u, "pwrite", NULL);
	(void)u->xSetSystemCall(u, "pwrite64", NULL);
	real_pwrite = u->xGetSystemCall(u, "pwrite");
	real_pwrite64 = u->xGetSystemCall(u, "pwrite64");
	assert_true(real_pwrite != NULL || real_pwrite64 != NULL);
	if (real_pwrite != NULL)
		assert_int_equal(u->xSetSystemCall(u, "pwrite", (sqlite3_syscall_ptr)hook_pwrite),
		    SQLITE_OK);
	if (real_pwrite64 != NULL)
		assert_int_equal(u->xSetSystemCall(u, "pwrite64",
		                     (sqlite3_syscall_ptr)hook_pwrite64),
		    SQLITE_OK);
	n_pw = 0;
	pw_fail = pw_short = pw_kill = 0;
}

static void hook_off(void)
{
	sqlite3_vfs *u = sqlite3_vfs_find("unix");

	if (real_pwrite != NULL)
		assert_int_equal(u->xSetSystemCall(u, "pwrite", NULL), SQLITE_OK);
	if (real_pwrite64 != NULL)
		assert_int_equal(u->xSetSystemCall(u, "pwrite64", NULL), SQLITE_OK);
}

static sqlite3_int64 file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* A writer through the VFS: FULL, no automatic checkpoint (the WAL only grows), a table t. */
static sqlite3 *hold_db(const char *path)
{
	sqlite3 *w = open_db(path, sc_wal_vfs());

	exec_ok(w,
	    "PRAGMA wal_autocheckpoint = 0;"
	    "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB)");
	return w;
}

/* An armed COMMIT of the open transaction: SQLite's code (the extended one). */
static int held_commit(sqlite3 *w)
{
	int rc;

	assert_int_equal(sc_wal_vfs_hold(w), 1);
	rc = sqlite3_exec(w, "COMMIT", NULL, NULL, NULL);
	rc = rc == SQLITE_OK ? SQLITE_OK : sqlite3_extended_errcode(w);
	assert_int_equal(sc_wal_vfs_release(w), SQLITE_OK);
	if (!sqlite3_get_autocommit(w))
		exec_ok(w, "ROLLBACK");
	return rc;
}

/*
 * A FULL commit armed: its frames (every header and page) in exactly one pwrite at the WAL's
 * old end, as long as the frames; read by a plain connection after each. Unarmed, the same
 * commit is one write per frame (sys12's join).
 */
static void test_hold_one_write(void **state)
{
	char path[600], wal[620];
	struct sc_wal_vfs_stats s0, s1;
	sqlite3 *w, *r;
	size_t frame = (size_t)pg + 24;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/one.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	w = hold_db(path);
	r = open_db(path, NULL);
	exec_ok(w, "INSERT INTO t VALUES (0, x'00')"); /* the WAL begun: its header synced */
	hook_on();
	for (int i = 1; i <= 20; i++) {
		char sql[160];
		sqlite3_int64 before = file_size(wal), grown;

		snprintf(sql, sizeof(sql),
		    "BEGIN; INSERT INTO t VALUES (%d, randomblob(1500 + %d * 97));"
		    "UPDATE t SET v = randomblob(%d) WHERE k = 0",
		    i, i, i * 10);
		exec_ok(w, sql);
		n_pw = 0;
		sc_wal_vfs_stats(&s0);
		last_pw_seq = last_sync_seq = 0;
		assert_int_equal(held_commit(w), SQLITE_OK);
		/* The run written before the commit's fdatasync, nothing after it. */
		assert_true(last_pw_seq > 0 && last_pw_seq < last_sync_seq);
		sc_wal_vfs_stats(&s1);
		grown = file_size(wal) - before;
		assert_int_equal(n_pw, 1);
		assert_int_equal(pw_off[0], before);
		assert_int_equal(pw_len[0], grown);
		assert_int_equal(grown % (sqlite3_int64)frame, 0);
		assert_true(grown >= (sqlite3_int64)frame);
		assert_int_equal(s1.runs - s0.runs, 1);
		assert_int_equal(s1.gathered - s0.gathered,
		    2 * (uint64_t)(grown / (sqlite3_int64)frame));
		assert_int_equal(s1.joined - s0.joined, 0);
		assert_int_equal(one_int(r, "SELECT count(*) FROM t"), i + 1);
		snprintf(sql, sizeof(sql), "SELECT length(v) FROM t WHERE k = %d", i);
		assert_int_equal(one_int(r, sql), 1500 + i * 97);
	}
	/* Not armed (a deferred commit's way, or any other): a write per frame, joined. */
	{
		sqlite3_int64 before = file_size(wal), grown;

		exec_ok(w, "BEGIN; INSERT INTO t VALUES (100, randomblob(3000))");
		n_pw = 0;
		sc_wal_vfs_stats(&s0);
		exec_ok(w, "COMMIT");
		sc_wal_vfs_stats(&s1);
		grown = file_size(wal) - before;
		assert_int_equal(n_pw, grown / (sqlite3_int64)frame);
		assert_int_equal(s1.joined - s0.joined, (uint64_t)n_pw);
		assert_int_equal(s1.runs - s0.runs, 0);
	}
	/* synchronous=NORMAL, not armed: the same, and the commit is read at once. */
	exec_ok(w,
	    "PRAGMA synchronous = NORMAL; BEGIN; INSERT INTO t VALUES (101, randomblob(3000))");
	n_pw = 0;
	exec_ok(w, "COMMIT");
	assert_true(n_pw >= 3);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t WHERE k = 101"), 1);
	hook_off();
	assert_integrity(r);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
}

/*
 * The rules on one WAL file armed through its file control, the same calls on "unix" (whose
 * file control refuses the op: it writes everything at once) and the bytes compared; the
 * writes counted at each step on ours.
 */
static int script_hold(sqlite3_file *f, const unsigned char *page, int ours)
{
	const struct sqlite3_io_methods *m = f->pMethods;
	unsigned char hdr[24], got[64];
	sqlite3_int64 off = 32, size = 0;
	int on = 1, off_ = 0, base, fr = 24 + pg;

#define ARM(v)                                                                      \
	do {                                                                        \
		int rc_ = m->xFileControl(f, SC_WAL_FCNTL_HOLD, (v) ? &on : &off_); \
		assert_int_equal(rc_, ours ? SQLITE_OK : SQLITE_NOTFOUND);          \
	} while (0)
#define COUNT(n)                                            \
	do {                                                \
		if (ours)                                   \
			assert_int_equal(n_pw - base, (n)); \
	} while (0)

	memset(hdr, 0xA5, sizeof(hdr));
	base = n_pw;
	ARM(1);
	assert_int_equal(m->xWrite(f, page, 32, 0), SQLITE_OK);
	for (int i = 0; i < 3; i++, off += fr) {
		hdr[0] = (unsigned char)i;
		assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
		assert_int_equal(m->xWrite(f, page + i, pg, off + 24), SQLITE_OK);
	}
	COUNT(0); /* all held */
	/* A read: the run first, one write; the bytes read are the held ones. */
	assert_int_equal(m->xRead(f, got, 24, 32 + fr), SQLITE_OK);
	COUNT(1);
	hdr[0] = 1;
	assert_memory_equal(got, hdr, 24);
	/* The size: the run first. */
	hdr[0] = 0x20;
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xWrite(f, page + 4, pg, off + 24), SQLITE_OK);
	off += fr;
	assert_int_equal(m->xFileSize(f, &size), SQLITE_OK);
	assert_int_equal(size, off);
	COUNT(2);
	/* A write not at the run's end (a gap): the run, and the write begins the next one. */
	assert_int_equal(m->xWrite(f, hdr, 24, off), SQLITE_OK);
	assert_int_equal(m->xWrite(f, page + 5, pg, off + 25), SQLITE_OK);
	COUNT(3);
	/* Over bytes the run holds (a page rewritten in place): the run, then it. */
	assert_int_equal(m->xWrite(f, page + 6, pg, off + 25), SQLITE_OK);
	COUNT(4);
	off += 25 + pg;
	/* Truncate: the run first. */
	assert_int_equal(m->xWrite(f, page + 7, 100, off), SQLITE_OK);
	assert_int_equal(m->xTruncate(f, off + 50), SQLITE_OK);
	COUNT(5); /* the 100 bytes continued the run (the rewritten page's) */
	off += 50;
	/* The first sync: the run, the sync, and every write after it made at once (disarmed). */
	assert_int_equal(m->xWrite(f, page + 8, pg, off), SQLITE_OK);
	off += pg;
	COUNT(5);
	assert_int_equal(m->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
	COUNT(6);
	assert_int_equal(m->xWrite(f, page + 9, 100, off), SQLITE_OK);
	COUNT(7);
	off += 100;
	/* Armed again, then disarmed: the run written at the disarm. */
	ARM(1);
	assert_int_equal(m->xWrite(f, page + 10, pg, off), SQLITE_OK);
	off += pg;
	COUNT(7);
	ARM(0);
	COUNT(8);
	/* Armed and closed: written at the close. */
	ARM(1);
	assert_int_equal(m->xWrite(f, page + 11, pg, off), SQLITE_OK);
	COUNT(8);
#undef ARM
#undef COUNT
	return n_pw - base;
}

static void test_hold_rules(void **state)
{
	sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix"), *ours;
	static unsigned char page[65536], a[131072], b[131072];
	char pa[600], pb[600], pdb[600];
	size_t na, nb;
	int n;

	(void)state;
	skip_unless_registered();
	ours = sqlite3_vfs_find(SC_WAL_VFS_NAME);
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * 13 + 5);
	snprintf(pa, sizeof(pa), "%s/a-wal", dir);
	snprintf(pb, sizeof(pb), "%s/b-wal", dir);
	snprintf(pdb, sizeof(pdb), "%s/a", dir);
	sc_test_write_file(pdb, "", 0);
	snprintf(pdb, sizeof(pdb), "%s/b", dir);
	sc_test_write_file(pdb, "", 0);
	hook_on();
	{
		sqlite3_file *f = open_file(ours, pa, SQLITE_OPEN_WAL);

		n = script_hold(f, page, 1);
		close_file(f);
		assert_int_equal(n_pw, n + 1); /* the close's */
	}
	{
		sqlite3_file *f = open_file(unix_vfs, pb, SQLITE_OPEN_WAL);

		(void)script_hold(f, page, 0);
		close_file(f);
	}
	hook_off();
	na = slurp(pa, a, sizeof(a));
	nb = slurp(pb, b, sizeof(b));
	assert_true(na > (size_t)(8 * pg));
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	/* Not a WAL: the op is refused and nothing is held. */
	{
		sqlite3_file *f = open_file(ours, pdb, SQLITE_OPEN_MAIN_DB);
		int on = 1;

		assert_int_equal(f->pMethods->xFileControl(f, SC_WAL_FCNTL_HOLD, &on),
		    SQLITE_NOTFOUND);
		close_file(f);
	}
}

/*
 * A reader connection in this process and a reader process, both reading without pause while
 * the writer commits armed, each commit 1-4 rows plus a total: every read sees a whole commit
 * (the total equals the rows, every row its length), no short read, no error.
 */
static void test_hold_readers(void **state)
{
	char path[600];
	sqlite3 *w, *r;
	int p[2];
	pid_t pid;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/readers.db", dir);
	w = hold_db(path);
	exec_ok(w,
	    "CREATE TABLE n (id INTEGER PRIMARY KEY, total INTEGER);"
	    "INSERT INTO n VALUES (1, 0)");
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		sqlite3 *c = NULL;
		sqlite3_stmt *st = NULL;
		char x;
		long reads = 0;

		close(p[1]);
		(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
		if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
			_exit(8);
		sqlite3_busy_timeout(c, 5000);
		if (sqlite3_prepare_v2(c,
		        "SELECT (SELECT total FROM n) - (SELECT count(*) FROM t),"
		        " (SELECT count(*) FROM t WHERE length(v) <> k * 10 + 7)",
		        -1, &st, NULL) != SQLITE_OK)
			_exit(7);
		while (read(p[0], &x, 1) < 0 && errno == EAGAIN) {
			if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 0 ||
			    sqlite3_column_int(st, 1) != 0)
				_exit(6);
			sqlite3_reset(st);
			reads++;
		}
		sqlite3_finalize(st);
		_exit(reads > 0 ? 0 : 5);
	}
	assert_true(pid > 0);
	close(p[0]);
	r = open_db(path, NULL);
	for (int i = 1, k = 1; i <= 150; i++) {
		char sql[1024];
		int rows = 1 + i % 4;

		exec_ok(w, "BEGIN");
		for (int j = 0; j < rows; j++, k++) {
			snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d, randomblob(%d))", k,
			    k * 10 + 7);
			exec_ok(w, sql);
		}
		exec_ok(w, "UPDATE n SET total = (SELECT count(*) FROM t)");
		assert_int_equal(held_commit(w), SQLITE_OK);
		assert_int_equal(one_int(r,
		                     "SELECT (SELECT total FROM n) - (SELECT count(*) FROM t)"),
		    0);
		assert_int_equal(one_int(r, "SELECT count(*) FROM t"), k - 1);
		assert_int_equal(one_int(r, "SELECT count(*) FROM t WHERE length(v) <> k * 10 + 7"),
		    0);
	}
	close(p[1]);
	wait_child(pid);
	assert_integrity(r);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
}

/*
 * The armed writer, in a child: each commit acknowledged on the pipe after it returned; with
 * kill_at > 0, killed (SIGKILL, by itself) at that commit's one write, its frames all held.
 */
static void armed_writer(const char *path, int fd, int kill_at)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, sc_wal_vfs()) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL, NULL,
	        NULL) != SQLITE_OK)
		_exit(2);
	if (kill_at > 0)
		hook_on();
	for (int i = 1;; i++) {
		char sql[200];

		snprintf(sql, sizeof(sql),
		    "BEGIN; INSERT INTO t VALUES (%d, randomblob(3000 + %d %% 5000))", i, i * 7919);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sc_wal_vfs_hold(db) != 1)
			_exit(3);
		pw_kill = i == kill_at;
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK ||
		    sc_wal_vfs_release(db) != SQLITE_OK)
			_exit(3);
		if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(4);
	}
}

/* Killed with a commit's frames held (at its write) and at random points: nothing acked lost. */
static void test_hold_killed_writer(void **state)
{
	char path[600];
	sqlite3 *db;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/hkilled.db", dir);
	db = open_db(path, NULL);
	exec_ok(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	for (int round = 0; round < 8; round++) {
		int p[2], acked = 0, n, status, kill_at = round < 2 ? 17 + round * 30 : 0;
		pid_t pid;

		db = open_db(path, NULL);
		exec_ok(db, "DELETE FROM t");
		assert_int_equal(sqlite3_close(db), SQLITE_OK);
		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			armed_writer(path, p[1], kill_at);
		}
		close(p[1]);
		if (kill_at == 0) {
			while (acked < 20 + round * 13 &&
			    read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
				acked = n;
			usleep((useconds_t)(round * 500));
			assert_int_equal(kill(pid, SIGKILL), 0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		while (read(p[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
			acked = n;
		close(p[0]);
		db = open_db(path, sc_wal_vfs());
		assert_integrity(db);
		if (kill_at > 0) {
			/* Every commit before it, and not the one whose frames were held. */
			assert_int_equal(acked, kill_at - 1);
			assert_int_equal(one_int(db, "SELECT count(*) FROM t"), kill_at - 1);
		} else {
			char sql[128];

			assert_true(acked >= 20 + round * 13);
			snprintf(sql, sizeof(sql),
			    "SELECT count(*) FROM t WHERE k BETWEEN 1 AND %d", acked);
			assert_int_equal(one_int(db, sql), acked);
		}
		assert_int_equal(sqlite3_close(db), SQLITE_OK);
	}
}

/*
 * The run's write fails: the commit fails with that write's error (EIO: SQLITE_IOERR_WRITE;
 * ENOSPC: SQLITE_FULL), nothing of it is read, and the next commit works. A short write is
 * continued by "unix" (two calls) and the commit is whole.
 */
static void test_hold_write_fails(void **state)
{
	char path[600];
	sqlite3 *w, *r;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/fail.db", dir);
	w = hold_db(path);
	r = open_db(path, NULL);
	exec_ok(w, "INSERT INTO t VALUES (0, x'00')");
	hook_on();
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (1, randomblob(5000))");
	n_pw = 0;
	pw_fail = EIO;
	assert_int_equal(held_commit(w), SQLITE_IOERR_WRITE);
	assert_int_equal(n_pw, 1);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 1);
	assert_int_equal(one_int(w, "SELECT count(*) FROM t"), 1);
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (2, randomblob(5000))");
	pw_fail = ENOSPC;
	assert_int_equal(held_commit(w), SQLITE_FULL);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 1);
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (3, randomblob(5000))");
	n_pw = 0;
	pw_short = 1;
	assert_int_equal(held_commit(w), SQLITE_OK);
	assert_int_equal(n_pw, 2);
	assert_int_equal(pw_off[1], pw_off[0] + (sqlite3_int64)pw_len[0] / 2);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 2);
	assert_int_equal(one_int(r, "SELECT length(v) FROM t WHERE k = 3"), 5000);
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (4, randomblob(5000))");
	assert_int_equal(held_commit(w), SQLITE_OK);
	hook_off();
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 3);
	assert_integrity(r);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
}

/*
 * A run's write that fails inside a shared-memory call (the walhold18 review): the shm call is
 * made all the same (an unlock releases its lock), and the error is kept for the WAL's next
 * write: the COMMIT fails (SQLITE_IOERR_WRITE, not acknowledged), another connection can then
 * checkpoint and write, the next commit works, and the database is whole. The run is a spill's
 * (cache_size 2: an open transaction's pages written to the armed WAL before its COMMIT); the
 * shm calls are made on the database file directly, as wal.c would, while it is held.
 */
static void test_hold_shm_flush_fails(void **state)
{
	char path[600];
	sqlite3 *w, *r;
	sqlite3_file *d = NULL;
	void volatile *map = NULL;
	struct sc_wal_vfs_stats s0, s1;
	int rc;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/shmfail.db", dir);
	w = hold_db(path);
	r = open_db(path, NULL);
	exec_ok(w, "PRAGMA cache_size = 2; INSERT INTO t VALUES (0, x'00')");
	assert_int_equal(sqlite3_file_control(w, "main", SQLITE_FCNTL_FILE_POINTER, &d), SQLITE_OK);
	hook_on();
	for (int op = 0; op < 3; op++) {
		/* 0: xShmLock's unlock of the checkpoint lock (1), 1: xShmMap, 2: xShmBarrier. */
		if (op == 0)
			assert_int_equal(d->pMethods->xShmLock(d, 1, 1,
			                     SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE),
			    SQLITE_OK);
		assert_int_equal(sc_wal_vfs_hold(w), 1);
		exec_ok(w, "BEGIN; INSERT INTO t VALUES (1, randomblob(30000))");
		n_pw = 0;
		sc_wal_vfs_stats(&s0);
		pw_fail = EIO;
		if (op == 0)
			assert_int_equal(d->pMethods->xShmLock(d, 1, 1,
			                     SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE),
			    SQLITE_OK);
		else if (op == 1)
			assert_int_equal(d->pMethods->xShmMap(d, 0, 32768, 0, &map), SQLITE_OK);
		else
			d->pMethods->xShmBarrier(d);
		sc_wal_vfs_stats(&s1);
		assert_int_equal(n_pw, 1); /* the spill's run, failed */
		assert_int_equal(pw_fail, 0);
		assert_int_equal(s1.barrier_err - s0.barrier_err, op == 2 ? 1 : 0);
		rc = sqlite3_exec(w, "COMMIT", NULL, NULL, NULL);
		assert_int_equal(rc == SQLITE_OK ? SQLITE_OK : sqlite3_extended_errcode(w),
		    SQLITE_IOERR_WRITE);
		assert_int_equal(sc_wal_vfs_release(w), SQLITE_OK);
		if (!sqlite3_get_autocommit(w))
			exec_ok(w, "ROLLBACK");
		assert_int_equal(one_int(w, "SELECT count(*) FROM t"), 1);
		assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 1);
		/* The checkpoint lock released: another connection checkpoints, then writes. */
		assert_int_equal(sqlite3_wal_checkpoint_v2(r, "main", SQLITE_CHECKPOINT_PASSIVE,
		                     NULL, NULL),
		    SQLITE_OK);
		exec_ok(r, "INSERT INTO t VALUES (100, x'01'); DELETE FROM t WHERE k = 100");
		assert_integrity(r);
	}
	/* The next commit works and is whole. */
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (2, randomblob(30000))");
	assert_int_equal(held_commit(w), SQLITE_OK);
	hook_off();
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 2);
	assert_int_equal(one_int(r, "SELECT length(v) FROM t WHERE k = 2"), 30000);
	assert_integrity(r);
	assert_integrity(w);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
}

/*
 * weak19: a run that failed inside a shared-memory call, in a transaction that then rolls back
 * with no write or sync of the WAL after the failure to take the kept error. Before weak19 the
 * error stayed on the WAL file and failed the connection's next, unrelated commit once
 * (SQLITE_IOERR_WRITE with no pwrite at all, or, with 1 KiB pages, the next spilling INSERT:
 * "disk I/O error"). Now the end of the write transaction (the WAL write lock released) drops it
 * (err_dropped): the next commit on the same connection is whole in one write, one on another
 * connection too, the rolled-back row is absent, and a fresh connection reads the WAL and finds
 * the file whole. Ways: 0, the failure at an xShmMap, then ROLLBACK armed; 1, the same,
 * disarmed before the ROLLBACK; 2, the failure at the ROLLBACK's own first write of the run
 * (returned to that call, nothing kept or dropped). And 3: a kept error still fails its own
 * transaction's COMMIT when the WAL was disarmed before it (the link to the WAL outlives the hold).
 */
static void test_hold_failed_flush_rolled_back(void **state)
{
	char path[600], sql[160];
	sqlite3 *w, *r, *fresh;
	sqlite3_file *d = NULL;
	void volatile *map = NULL;
	struct sc_wal_vfs_stats s0, s1;
	int k = 10;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/rbfail.db", dir);
	w = hold_db(path);
	r = open_db(path, NULL);
	exec_ok(w, "PRAGMA cache_size = 2; INSERT INTO t VALUES (0, x'00')");
	assert_int_equal(sqlite3_file_control(w, "main", SQLITE_FCNTL_FILE_POINTER, &d), SQLITE_OK);
	hook_on();
	for (int way = 0; way < 3; way++, k += 10) {
		assert_int_equal(sc_wal_vfs_hold(w), 1);
		snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO t VALUES (%d, randomblob(30000))",
		    k);
		exec_ok(w, sql); /* spills into the held run (cache_size 2) */
		n_pw = 0;
		pw_fail = EIO;
		if (way < 2) {
			assert_int_equal(d->pMethods->xShmMap(d, 0, 32768, 0, &map), SQLITE_OK);
			assert_int_equal(n_pw, 1); /* the spill's run, failed */
			if (way == 1)
				assert_int_equal(sc_wal_vfs_release(w), SQLITE_OK);
			n_pw = 0;
		}
		sc_wal_vfs_stats(&s0);
		exec_ok(w, "ROLLBACK");
		sc_wal_vfs_stats(&s1);
		assert_int_equal(n_pw, way == 2 ? 1 : 0);
		assert_int_equal(pw_fail, 0);
		assert_int_equal(s1.err_dropped - s0.err_dropped, way < 2 ? 1 : 0);
		if (way != 1)
			assert_int_equal(sc_wal_vfs_release(w), SQLITE_OK);
		/* The connection's next commit, armed: one write, acknowledged. */
		snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO t VALUES (%d, randomblob(3000))",
		    k + 1);
		exec_ok(w, sql);
		n_pw = 0;
		assert_int_equal(held_commit(w), SQLITE_OK);
		assert_int_equal(n_pw, 1);
		/* Another connection's. */
		snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d, randomblob(3000))", k + 2);
		exec_ok(r, sql);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE k = %d", k);
		assert_int_equal(one_int(r, sql), 0);
		assert_int_equal(one_int(w, sql), 0);
		snprintf(sql, sizeof(sql), "SELECT sum(length(v)) FROM t WHERE k IN (%d, %d)",
		    k + 1, k + 2);
		assert_int_equal(one_int(r, sql), 6000);
		assert_int_equal(one_int(w, sql), 6000);
		assert_integrity(r);
	}
	/* 3: kept, disarmed, then COMMIT: the commit fails, nothing of it is there, nothing dropped. */
	assert_int_equal(sc_wal_vfs_hold(w), 1);
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (40, randomblob(30000))");
	pw_fail = EIO;
	assert_int_equal(d->pMethods->xShmMap(d, 0, 32768, 0, &map), SQLITE_OK);
	assert_int_equal(sc_wal_vfs_release(w), SQLITE_OK);
	sc_wal_vfs_stats(&s0);
	assert_int_not_equal(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_extended_errcode(w), SQLITE_IOERR_WRITE);
	if (!sqlite3_get_autocommit(w))
		exec_ok(w, "ROLLBACK");
	sc_wal_vfs_stats(&s1);
	assert_int_equal(s1.err_dropped - s0.err_dropped, 0);
	hook_off();
	assert_int_equal(one_int(r, "SELECT count(*) FROM t WHERE k = 40"), 0);
	/* A fresh connection reads the WAL (recovery if it must): 1 + 2 a way, the file whole. */
	fresh = open_db(path, NULL);
	assert_int_equal(one_int(fresh, "SELECT count(*) FROM t"), 7);
	assert_integrity(fresh);
	assert_int_equal(sqlite3_close(fresh), SQLITE_OK);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
	/* Reopened after both closed (the WAL checkpointed away at the last close): the same. */
	fresh = open_db(path, NULL);
	assert_int_equal(one_int(fresh, "SELECT count(*) FROM t"), 7);
	assert_integrity(fresh);
	assert_int_equal(sqlite3_close(fresh), SQLITE_OK);
}

/*
 * weak19: the run buffer after a large commit. Before any held write a WAL has none (0); a small
 * commit's run allocates 64 KiB; a commit larger than that grows it to the bound (0x1ffff) while
 * armed, and its release shrinks it back to 64 KiB; the next small commit keeps 64 KiB. A
 * database file answers SQLITE_NOTFOUND to the query.
 */
static void test_hold_shrinks(void **state)
{
	char path[600];
	sqlite3 *w;
	sqlite3_file *wal = NULL, *d = NULL;
	sqlite3_int64 cap = -1;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/shrink.db", dir);
	w = hold_db(path);
	exec_ok(w, "PRAGMA cache_size = -100000; INSERT INTO t VALUES (0, x'00')");
	assert_int_equal(sqlite3_file_control(w, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal),
	    SQLITE_OK);
	assert_int_equal(sqlite3_file_control(w, "main", SQLITE_FCNTL_FILE_POINTER, &d), SQLITE_OK);
	assert_int_equal(d->pMethods->xFileControl(d, SC_WAL_FCNTL_RUN_CAP, &cap), SQLITE_NOTFOUND);
	assert_int_equal(wal->pMethods->xFileControl(wal, SC_WAL_FCNTL_RUN_CAP, &cap), SQLITE_OK);
	assert_int_equal(cap, 0);
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (1, randomblob(100))");
	assert_int_equal(held_commit(w), SQLITE_OK);
	assert_int_equal(wal->pMethods->xFileControl(wal, SC_WAL_FCNTL_RUN_CAP, &cap), SQLITE_OK);
	assert_int_equal(cap, 65536);
	exec_ok(w,
	    "BEGIN; WITH RECURSIVE c(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM c"
	    " WHERE i < 300) INSERT INTO t SELECT i, randomblob(1000) FROM c");
	assert_int_equal(sc_wal_vfs_hold(w), 1);
	exec_ok(w, "COMMIT");
	assert_int_equal(wal->pMethods->xFileControl(wal, SC_WAL_FCNTL_RUN_CAP, &cap), SQLITE_OK);
	assert_int_equal(cap, 0x1ffff);
	assert_int_equal(sc_wal_vfs_release(w), SQLITE_OK);
	assert_int_equal(wal->pMethods->xFileControl(wal, SC_WAL_FCNTL_RUN_CAP, &cap), SQLITE_OK);
	assert_int_equal(cap, 65536);
	exec_ok(w, "BEGIN; INSERT INTO t VALUES (1000, randomblob(100))");
	assert_int_equal(held_commit(w), SQLITE_OK);
	assert_int_equal(wal->pMethods->xFileControl(wal, SC_WAL_FCNTL_RUN_CAP, &cap), SQLITE_OK);
	assert_int_equal(cap, 65536);
	assert_int_equal(one_int(w, "SELECT count(*) FROM t"), 302);
	assert_integrity(w);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
}

/*
 * A commit larger than the bound (HOLD_MAX, 0x1ffff bytes: "unix" writes no more in one call):
 * written in calls of at most the bound, each but the last filled to within a frame of it, end
 * to end from the WAL's old end.
 */
static void test_hold_bound(void **state)
{
	char path[600], wal[620];
	sqlite3 *w, *r;
	sqlite3_int64 before, sum = 0;
	const size_t bound = 0x1ffff;

	(void)state;
	skip_unless_registered();
	snprintf(path, sizeof(path), "%s/bound.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	w = hold_db(path);
	r = open_db(path, NULL);
	exec_ok(w, "PRAGMA cache_size = -100000; INSERT INTO t VALUES (0, x'00')");
	before = file_size(wal);
	hook_on();
	exec_ok(w,
	    "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
	    " WHERE i < 2000) INSERT INTO t SELECT i, randomblob(1000) FROM c");
	n_pw = 0;
	assert_int_equal(held_commit(w), SQLITE_OK);
	hook_off();
	assert_true(file_size(wal) - before > 8 * (sqlite3_int64)bound);
	assert_true(n_pw > 8 && n_pw < 256);
	for (int i = 0; i < n_pw; i++) {
		assert_int_equal(pw_off[i], before + sum);
		assert_true(pw_len[i] <= bound);
		if (i < n_pw - 1)
			assert_true(pw_len[i] > bound - (size_t)(pg + 24));
		sum += (sqlite3_int64)pw_len[i];
	}
	assert_int_equal(sum, file_size(wal) - before);
	assert_int_equal(one_int(r, "SELECT count(*) FROM t"), 2001);
	assert_integrity(r);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
}

/* A sector-padded FULL commit (psow=0) armed: the sync inside the padding ends the hold. */
static void test_hold_sector_padding(void **state)
{
	char path[600];
	sqlite3 *w = NULL, *r = NULL;

	(void)state;
	skip_unless_registered();
	w = open_padded("hpad.db", path, sizeof(path));
	r = open_db(path, NULL);
	for (int i = 1; i <= 200; i++) {
		char sql[160];

		snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO t VALUES (printf('%%0100d', %d))",
		    i);
		exec_ok(w, sql);
		assert_int_equal(held_commit(w), SQLITE_OK);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE x = printf('%%0100d', %d)",
		    i);
		assert_int_equal(one_int(r, sql), 1);
	}
	assert_integrity(r);
	assert_int_equal(sqlite3_close(r), SQLITE_OK);
	assert_int_equal(sqlite3_close(w), SQLITE_OK);
}

static void make_profile(struct sc_reg_profile_rec *rec, const char *device, int n)
{
	static uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->profile_id, sizeof(rec->profile_id), "%032x", n);
	snprintf(rec->device_id, sizeof(rec->device_id), "%s", device);
	rec->origin = SC_KEY_DEVICE_GENERATED;
	rec->alg = SC_ALG_P256;
	rec->not_before = 100;
	rec->not_after = 200;
	rec->profile_not_after = 150;
	rec->der = der;
	rec->der_len = sizeof(der);
	rec->chain_pem = (char *)"-----BEGIN CERTIFICATE-----\n";
}

/*
 * The registry arms only its synchronous=FULL commits: a device added and a durable profile
 * are one run each; a deferred profile (--profile-commit deferred, NORMAL) is none, its frames
 * written through. Grouped and not (SC_REG_GROUP_COMMIT=0); SC_REG_WAL_HOLD=0 arms none.
 * weak19: the switch is read once per connection, at its open (the handle's at sc_reg_open, the
 * group's writer at the first profile): v 3, holding at both opens and "0" set after: every
 * durable commit still one run; v 4, "0" at both opens and unset after: still none, nothing
 * gathered.
 */
static void test_registry_arms(void **state)
{
	char path[600];
	struct sc_reg_profile_rec rec;
	struct sc_wal_vfs_stats s0, s1;
	int64_t retry;

	(void)state;
	skip_unless_registered();
	for (int v = 0; v < 5; v++) {
		struct sc_reg *reg = NULL;
		int hold = v != 2 && v != 4;

		snprintf(path, sizeof(path), "%s/reg%d.db", dir, v);
		if (v == 1)
			setenv("SC_REG_GROUP_COMMIT", "0", 1);
		if (v == 2 || v == 4)
			setenv("SC_REG_WAL_HOLD", "0", 1);
		assert_int_equal(sc_reg_open(path, 1, &reg), SC_OK);
		sc_wal_vfs_stats(&s0);
		assert_int_equal(sc_reg_device_add(reg, "D-1", NULL, "t", 1000), SC_OK);
		sc_wal_vfs_stats(&s1);
		assert_int_equal(s1.runs - s0.runs, hold ? 1 : 0);
		if (!hold)
			assert_int_equal(s1.gathered - s0.gathered, 0);
		make_profile(&rec, "D-1", 1);
		rec.deferred_commit = 1;
		s0 = s1;
		assert_int_equal(sc_reg_profile_insert(reg, &rec, NULL, 2000, "t", &retry), SC_OK);
		sc_wal_vfs_stats(&s1);
		assert_int_equal(s1.runs - s0.runs, 0);
		assert_int_equal(s1.gathered - s0.gathered, 0);
		assert_true(s1.joined - s0.joined >= 2);
		/* Both connections open now: the switch changed after their opens changes nothing. */
		if (v == 3)
			setenv("SC_REG_WAL_HOLD", "0", 1);
		if (v == 4)
			unsetenv("SC_REG_WAL_HOLD");
		make_profile(&rec, "D-1", 2);
		s0 = s1;
		assert_int_equal(sc_reg_profile_insert(reg, &rec, NULL, 2000, "t", &retry), SC_OK);
		sc_wal_vfs_stats(&s1);
		assert_int_equal(s1.runs - s0.runs, hold ? 1 : 0);
		if (!hold)
			assert_int_equal(s1.gathered - s0.gathered, 0);
		s0 = s1;
		assert_int_equal(sc_reg_device_add(reg, "D-2", NULL, "t", 1000), SC_OK);
		sc_wal_vfs_stats(&s1);
		unsetenv("SC_REG_GROUP_COMMIT");
		unsetenv("SC_REG_WAL_HOLD");
		assert_int_equal(s1.runs - s0.runs, hold ? 1 : 0);
		assert_int_equal(sc_reg_check(reg), SC_OK);
		sc_reg_close(reg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes_as_unix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_files_not_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_database_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_writer_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_not_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_late_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sector_tail_not_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_readers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_killed_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_write_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_shm_flush_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_failed_flush_rolled_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_shrinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_sector_padding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_arms, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("4 KiB pages", tests, group_4k, NULL);

	return failed + cmocka_run_group_tests_name("1 KiB pages", tests, group_1k, NULL);
}
