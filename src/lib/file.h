// SPDX-License-Identifier: Apache-2.0
/*
 * file.h — bounded reads and crash-safe writes for libselfcert's programs (internal). Every
 * reader takes a size cap; every replacing writer goes through a temp file in the same folder
 * (fsync, rename, fsync of the folder) so a crash leaves the old file or the new one, never a mix.
 */
#ifndef SC_FILE_H
#define SC_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

#define SC_FILE_MAX (1 << 20) /* the largest file any command reads: 1 MiB */

/* sc_file_read_ex flags. */
#define SC_FILE_NOFOLLOW 0x1 /* a symbolic link at path is refused (SC_ERR_IO) */
#define SC_FILE_MISSING 0x2  /* a missing file is SC_ERR_NOT_FOUND "<path>: missing" */
#define SC_FILE_PRIVATE \
	0x4 /* a secret: open to group or others is SC_ERR_IO, as OpenSSH
                                refuses such host keys ("<path>: open to group or others …") */

/*
 * Read a whole regular file of at most max bytes. NOFOLLOW is checked on the very descriptor
 * that is read (no window between a check and the open); a FIFO or device is refused without
 * blocking. *data is the caller's: OPENSSL_free, or sc_free_secret(*data, *len) for a secret;
 * the buffer is *len + 1 bytes. SC_ERR_IO (missing unless SC_FILE_MISSING, not regular, a read
 * error, the file grew while being read), SC_ERR_OVERSIZE, SC_ERR_NOT_FOUND, SC_ERR_NOMEM; the
 * detail names the path. On failure *data is NULL and *len 0.
 */
sc_err sc_file_read_ex(const char *path, size_t max, unsigned flags, uint8_t **data,
    size_t *len) SC_MUST_USE;

/* sc_file_read_ex without flags: links are followed (certificates may be links). */
sc_err sc_file_read(const char *path, size_t max, uint8_t **data, size_t *len) SC_MUST_USE;

/* Wipe and free a buffer from sc_file_read that held a secret (NULL is fine). */
void sc_free_secret(void *p, size_t len);

/* Create path exclusively (O_EXCL|O_NOFOLLOW, mode), write, fsync it and its folder.
 * SC_ERR_EXISTS if anything (a dangling link too) is there; on any other failure the file is
 * removed. SC_ERR_IO. */
sc_err sc_file_write_new(const char *path, const void *data, size_t len, int mode) SC_MUST_USE;

/* The steps of an atomic replace, in the order they run. */
enum sc_file_step {
	SC_FILE_STEP_OPEN,    /* create the temp file */
	SC_FILE_STEP_WRITE,   /* one write(2) of a piece; passed once per piece */
	SC_FILE_STEP_FSYNC,   /* fsync the temp file */
	SC_FILE_STEP_RENAME,  /* rename it over path */
	SC_FILE_STEP_DIRSYNC, /* fsync the folder, so the rename survives a power cut */
};

/*
 * How sc_file_replace writes; zero fields are the defaults. The hook is called just BEFORE each
 * step: a result other than SC_OK fails that step, and sc_file_replace returns it (the place for
 * fail points, failpoint.h). A hook that ends the process leaves what a crash there would.
 */
struct sc_file_replace {
	int mode;     /* of the new file; 0: 0600 */
	size_t first; /* write the first `first` bytes as a piece of their own */
	size_t chunk; /* at most this many bytes per write; 0: no limit */
	sc_err (*step)(void *ctx, enum sc_file_step step);
	void *ctx;
	/*
	 * 1: dir_fd is the open folder of path (the caller's, kept open across replaces), so the
	 * temp file is made, renamed and the folder fsynced through it (openat, renameat, fsync)
	 * instead of looking the folder up by name and reopening it on every replace. path still
	 * names the file, for the messages and its last component.
	 */
	int use_dir_fd;
	int dir_fd;
	int renamed; /* out: the new content reached path (no undoing it then) */
};

/*
 * Atomically replace path with data: "<path>.tmp-<12 hex>" created O_EXCL|O_NOFOLLOW, written,
 * fsynced, closed, renamed over path (a link at path is replaced, not written through), and the
 * folder fsynced (through opt->dir_fd when use_dir_fd). A temp file that was not renamed is
 * removed. opt may be NULL (mode 0600).
 * SC_ERR_IO, SC_ERR_USAGE (path too long), or the hook's error.
 */
sc_err sc_file_replace(const char *path, const void *data, size_t len,
    struct sc_file_replace *opt) SC_MUST_USE;

/* sc_file_replace with mode and no hook. */
sc_err sc_file_write_atomic(const char *path, const void *data, size_t len, int mode) SC_MUST_USE;

/* fsync the folder that holds path (after a rename). SC_ERR_IO, SC_ERR_USAGE. */
sc_err sc_fsync_dir_of(const char *path) SC_MUST_USE;

/* out = "dir/name" in out_len bytes; SC_ERR_USAGE "DIR: path too long" if it does not fit. */
sc_err sc_file_join(char *out, size_t out_len, const char *dir, const char *name) SC_MUST_USE;

#endif
