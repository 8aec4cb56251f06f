// SPDX-License-Identifier: Apache-2.0
/*
 * file.c — bounded reads, exclusive writes and the one atomic replace (file.h). Replace runs
 * its steps through an optional hook so the SP's store can put a fail point before each.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "file.h"
#include "text.h"

#define TMP_RAND_LEN 6 /* "<path>.tmp-" + 12 hex digits */

sc_err sc_file_read_ex(const char *path, size_t max, unsigned flags, uint8_t **data, size_t *len)
{
	sc_err r;
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0, size = 0;
	int fd;

	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	fd = open(path,
	    O_RDONLY | O_CLOEXEC | O_NONBLOCK | ((flags & SC_FILE_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd < 0 && errno == ENOENT && (flags & SC_FILE_MISSING))
		return sc_fail(SC_ERR_NOT_FOUND, "%s: missing", path);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = sc_fail(SC_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	/* Judged on the descriptor that is read: no window between the check and the bytes. */
	if ((flags & SC_FILE_PRIVATE) && (st.st_mode & 077) != 0) {
		r = sc_fail(SC_ERR_IO, "%s: open to group or others (mode %04o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = sc_fail(SC_ERR_OVERSIZE, "%s: %lld bytes, at most %zu", path,
		    (long long)st.st_size, max);
		goto out;
	}
	size = (size_t)st.st_size;
	/* One spare byte, so a file that grew since fstat is noticed rather than cut. */
	if ((buf = OPENSSL_malloc(size + 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > size) {
			r = sc_fail(SC_ERR_IO, "%s: changed while being read", path);
			goto out;
		}
	}
	*data = buf;
	*len = got;
	buf = NULL;
	r = SC_OK;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, size + 1);
	close(fd);
	return r;
}

sc_err sc_file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	return sc_file_read_ex(path, max, 0, data, len);
}

void sc_free_secret(void *p, size_t len)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, len);
		OPENSSL_free(p);
	}
}

static sc_err write_all(int fd, const uint8_t *p, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return SC_OK;
}

sc_err sc_file_join(char *out, size_t out_len, const char *dir, const char *name)
{
	int n = snprintf(out, out_len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= out_len)
		return sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
	return SC_OK;
}

sc_err sc_fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", path);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno));
	rc = fsync(fd);
	close(fd);
	if (rc != 0)
		return sc_fail(SC_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
	return SC_OK;
}

sc_err sc_file_write_new(const char *path, const void *data, size_t len, int mode)
{
	sc_err r;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 && errno == EEXIST)
		return sc_fail(SC_ERR_EXISTS, "%s: already exists", path);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	if ((r = write_all(fd, data, len, path)) != SC_OK)
		goto out;
	if (fsync(fd) != 0) {
		r = sc_fail(SC_ERR_IO, "%s: fsync: %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = sc_fail(SC_ERR_IO, "%s: close: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((r = sc_fsync_dir_of(path)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	if (fd >= 0)
		close(fd);
	if (r != SC_OK)
		unlink(path);
	return r;
}

/* The hook before a step, if there is one. */
static sc_err step(const struct sc_file_replace *o, enum sc_file_step s)
{
	return o->step != NULL ? o->step(o->ctx, s) : SC_OK;
}

/* The temp file's name beside path. */
static sc_err temp_name(const char *path, char *tmp, size_t tmp_len)
{
	uint8_t rnd[TMP_RAND_LEN];
	char hex[2 * TMP_RAND_LEN + 1];
	int n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	sc_hex(rnd, sizeof(rnd), hex);
	n = snprintf(tmp, tmp_len, "%s.tmp-%s", path, hex);
	if (n < 0 || (size_t)n >= tmp_len)
		return sc_fail(SC_ERR_USAGE, "%s: path too long", path);
	return SC_OK;
}

/* The last component of path: what openat and renameat take beside the folder's fd. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

sc_err sc_file_replace(const char *path, const void *data, size_t len, struct sc_file_replace *opt)
{
	struct sc_file_replace defaults = { 0 };
	struct sc_file_replace *o = opt != NULL ? opt : &defaults;
	const uint8_t *p = data;
	char tmp[PATH_MAX];
	const char *tmp_at, *path_at;
	size_t off, piece;
	sc_err r;
	int fd, at = o->use_dir_fd ? o->dir_fd : AT_FDCWD;

	o->renamed = 0;
	if (o->use_dir_fd && o->dir_fd < 0)
		return sc_fail(SC_ERR_USAGE, "%s: no folder descriptor", path);
	if ((r = temp_name(path, tmp, sizeof(tmp))) != SC_OK)
		return r;
	/* With the folder's fd, names are relative to it; else the paths as given. */
	tmp_at = o->use_dir_fd ? base_name(tmp) : tmp;
	path_at = o->use_dir_fd ? base_name(path) : path;
	if ((r = step(o, SC_FILE_STEP_OPEN)) != SC_OK)
		return r;
	fd = openat(at, tmp_at, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    o->mode != 0 ? o->mode : 0600);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", tmp, strerror(errno));
	for (off = 0; off < len; off += piece) {
		piece = off == 0 && o->first > 0 && o->first < len ? o->first : len - off;
		if (o->chunk > 0 && piece > o->chunk)
			piece = o->chunk;
		if ((r = step(o, SC_FILE_STEP_WRITE)) != SC_OK ||
		    (r = write_all(fd, p + off, piece, tmp)) != SC_OK)
			goto out;
	}
	if ((r = step(o, SC_FILE_STEP_FSYNC)) != SC_OK)
		goto out;
	if (fsync(fd) != 0) {
		r = sc_fail(SC_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = sc_fail(SC_ERR_IO, "%s: close: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if ((r = step(o, SC_FILE_STEP_RENAME)) != SC_OK)
		goto out;
	/* Without the fd, rename(2) as before: other programs' syscall filters expect it. */
	if ((o->use_dir_fd ? renameat(at, tmp_at, at, path_at) : rename(tmp, path)) != 0) {
		r = sc_fail(SC_ERR_IO, "%s: rename: %s", path, strerror(errno));
		goto out;
	}
	o->renamed = 1;
	if ((r = step(o, SC_FILE_STEP_DIRSYNC)) != SC_OK)
		goto out;
	if (!o->use_dir_fd && (r = sc_fsync_dir_of(path)) != SC_OK)
		goto out;
	if (o->use_dir_fd && fsync(o->dir_fd) != 0) {
		r = sc_fail(SC_ERR_IO, "%s: fsync of its folder: %s", path, strerror(errno));
		goto out;
	}
	r = SC_OK;
out:
	if (fd >= 0)
		close(fd);
	/* A temp file that was not renamed holds nothing anyone relies on. */
	if (r != SC_OK && !o->renamed)
		(void)(o->use_dir_fd ? unlinkat(at, tmp_at, 0) : unlink(tmp));
	return r;
}

sc_err sc_file_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	struct sc_file_replace o = { .mode = mode };

	return sc_file_replace(path, data, len, &o);
}
