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

/* The VFS's name for sqlite3_open_v2. */
#define SC_WAL_VFS_NAME "selfcert-unix-wal"

/*
 * Registers the VFS once per process (thread-safe). Returns SC_WAL_VFS_NAME, or NULL when it
 * cannot (no "unix" VFS, out of memory) or should not (an SQLite other than 3.40.x, whose wal.c
 * it was checked against): the caller then opens with SQLite's default VFS.
 * SC_REG_WAL_COALESCE=0 in the environment makes it return NULL (a switch for benchmarks).
 */
const char *sc_wal_vfs(void);

/* Process-wide counts since start: frames written in one write, headers written alone. */
struct sc_wal_vfs_stats {
	uint64_t joined;
	uint64_t alone;
};
void sc_wal_vfs_stats(struct sc_wal_vfs_stats *out);

#endif
