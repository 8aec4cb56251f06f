// SPDX-License-Identifier: Apache-2.0
/*
 * test_file.c — bounded file reads (links, FIFOs, devices, caps, missing files), exclusive and
 * atomic writes (links, modes, temp files), and the replace's step hook: every step in order,
 * a hook failure at any step leaves the old file and no temp file. Errors name the path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "file.h"
#include "testutil.h"

static char dir[512];

static int group_setup(void **state)
{
	(void)state;
	umask(022);
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_test_rmdir(dir);
	return 0;
}

/* dir/name into out. */
static const char *path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
	return out;
}

/* How many entries of dir start with prefix. */
static int count_entries(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* ---- sc_file_read ---- */

static void test_file_read_cap(void **state)
{
	char p[600];
	uint8_t buf[1000], *data = NULL;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	sc_test_write_file(path_of(p, sizeof(p), "exact"), buf, 1000);
	/* Exactly max: read whole. */
	assert_int_equal(sc_file_read(p, 1000, &data, &len), SC_OK);
	assert_int_equal(len, 1000);
	assert_memory_equal(data, buf, 1000);
	OPENSSL_free(data);
	/* max + 1: refused, nothing returned, the path named. */
	sc_err_clear();
	assert_int_equal(sc_file_read(p, 999, &data, &len), SC_ERR_OVERSIZE);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_non_null(strstr(sc_err_detail(), p));
	/* Empty files are fine. */
	sc_test_write_file(path_of(p, sizeof(p), "empty"), buf, 0);
	assert_int_equal(sc_file_read(p, 10, &data, &len), SC_OK);
	assert_int_equal(len, 0);
	OPENSSL_free(data);
	/* A cap of 0 still reads an empty file, and refuses one byte. */
	assert_int_equal(sc_file_read(p, 0, &data, &len), SC_OK);
	OPENSSL_free(data);
	sc_test_write_file(path_of(p, sizeof(p), "one"), buf, 1);
	assert_int_equal(sc_file_read(p, 0, &data, &len), SC_ERR_OVERSIZE);
}

static void test_file_read_not_regular(void **state)
{
	char p[600];
	uint8_t *data = (uint8_t *)"x";
	size_t len = 7;

	(void)state;
	/* Missing: io, naming the path and why. */
	sc_err_clear();
	assert_int_equal(sc_file_read(path_of(p, sizeof(p), "missing"), 100, &data, &len),
	    SC_ERR_IO);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_non_null(strstr(sc_err_detail(), p));
	assert_non_null(strstr(sc_err_detail(), "No such file"));
	/* A directory. */
	sc_err_clear();
	assert_int_equal(sc_file_read(dir, 100, &data, &len), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), dir));
	/* A device. */
	assert_int_equal(sc_file_read("/dev/zero", 100, &data, &len), SC_ERR_IO);
	assert_string_equal(sc_err_detail(), "/dev/zero: not a regular file");
	/* A FIFO with no writer: refused at once, not a hang in open(). */
	assert_int_equal(mkfifo(path_of(p, sizeof(p), "fifo"), 0600), 0);
	assert_int_equal(sc_file_read(p, 100, &data, &len), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "not a regular file"));
	assert_int_equal(unlink(p), 0);
	/* A link to a regular file is followed (certificates may be links). */
	{
		char target[600];
		sc_test_write_file(path_of(target, sizeof(target), "link-target"), "abc", 3);
		assert_int_equal(symlink(target, path_of(p, sizeof(p), "link")), 0);
		assert_int_equal(sc_file_read(p, 100, &data, &len), SC_OK);
		assert_int_equal(len, 3);
		OPENSSL_free(data);
	}
}

/* ---- sc_file_write_new / sc_file_write_atomic ---- */

static void test_file_write_new(void **state)
{
	char p[600], target[600];
	struct stat st;
	uint8_t *data;
	size_t len;

	(void)state;
	assert_int_equal(sc_file_write_new(path_of(p, sizeof(p), "new"), "hello", 5, 0600), SC_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Never overwritten: exists, the old bytes stay. */
	sc_err_clear();
	assert_int_equal(sc_file_write_new(p, "other", 5, 0600), SC_ERR_EXISTS);
	assert_non_null(strstr(sc_err_detail(), p));
	assert_int_equal(sc_file_read(p, 100, &data, &len), SC_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 5);
	OPENSSL_free(data);

	/* A dangling link is not followed: the target is never created. */
	path_of(target, sizeof(target), "victim");
	assert_int_equal(symlink(target, path_of(p, sizeof(p), "dangling")), 0);
	assert_int_equal(sc_file_write_new(p, "x", 1, 0600), SC_ERR_EXISTS);
	assert_int_equal(lstat(target, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* Nor is a link to an existing file written through. */
	sc_test_write_file(target, "precious", 8);
	assert_int_equal(symlink(target, path_of(p, sizeof(p), "to-victim")), 0);
	assert_int_not_equal(sc_file_write_new(p, "x", 1, 0600), SC_OK);
	assert_int_equal(sc_file_read(target, 100, &data, &len), SC_OK);
	assert_memory_equal(data, "precious", 8);
	OPENSSL_free(data);

	/* A missing folder: io. */
	assert_int_equal(sc_file_write_new(path_of(p, sizeof(p), "no-such-dir/f"), "x", 1, 0600),
	    SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "no-such-dir/f"));
}

static void test_file_write_atomic(void **state)
{
	char p[600], target[600];
	struct stat st;
	uint8_t *data;
	size_t len;

	(void)state;
	path_of(p, sizeof(p), "atomic");
	assert_int_equal(sc_file_write_atomic(p, "first", 5, 0644), SC_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* Replaced whole, shorter content leaves no tail of the old. */
	assert_int_equal(sc_file_write_atomic(p, "2nd", 3, 0644), SC_OK);
	assert_int_equal(sc_file_read(p, 100, &data, &len), SC_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "2nd", 3);
	OPENSSL_free(data);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sc_file_write_atomic(p, "again", 5, 0600), SC_OK);
	/* The mode is that of the last write (a new inode each time). */
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* No temp files left behind. */
	assert_int_equal(count_entries("atomic"), 1);

	/* A link at the path is replaced, not written through. */
	sc_test_write_file(path_of(target, sizeof(target), "atomic-target"), "keep", 4);
	assert_int_equal(symlink(target, path_of(p, sizeof(p), "atomic-link")), 0);
	assert_int_equal(sc_file_write_atomic(p, "new", 3, 0644), SC_OK);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(sc_file_read(target, 100, &data, &len), SC_OK);
	assert_memory_equal(data, "keep", 4);
	OPENSSL_free(data);

	/* A missing folder: io, and no temp file anywhere. */
	assert_int_equal(sc_file_write_atomic(path_of(p, sizeof(p), "nodir/x"), "x", 1, 0644),
	    SC_ERR_IO);
	assert_int_equal(count_entries("atomic"), 3); /* atomic, atomic-target, atomic-link */
	/* A path that names a folder cannot be replaced; the temp file is removed. */
	assert_int_equal(mkdir(path_of(p, sizeof(p), "atomicdir"), 0700), 0);
	assert_int_equal(sc_file_write_atomic(p, "x", 1, 0644), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "rename"));
	assert_int_equal(count_entries("atomic"), 4);
}

/* ---- sc_file_read_ex flags ---- */

static void test_file_read_flags(void **state)
{
	char p[600], link[600];
	uint8_t *data = (uint8_t *)"x";
	size_t len = 7;

	(void)state;
	sc_test_write_file(path_of(p, sizeof(p), "flags"), "secret", 6);
	assert_int_equal(symlink(p, path_of(link, sizeof(link), "flags-link")), 0);
	/* NOFOLLOW: the file itself reads, a link to it does not. */
	assert_int_equal(sc_file_read_ex(p, 100, SC_FILE_NOFOLLOW, &data, &len), SC_OK);
	assert_int_equal(len, 6);
	sc_free_secret(data, len);
	sc_err_clear();
	assert_int_equal(sc_file_read_ex(link, 100, SC_FILE_NOFOLLOW, &data, &len), SC_ERR_IO);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_non_null(strstr(sc_err_detail(), link));
	/* MISSING: absent is its own code; without the flag it is io. */
	assert_int_equal(sc_file_read_ex(path_of(p, sizeof(p), "absent"), 100, SC_FILE_MISSING,
	                     &data, &len),
	    SC_ERR_NOT_FOUND);
	assert_string_equal(sc_err_detail(), strcat(p, ": missing"));
	assert_int_equal(sc_file_read_ex(path_of(p, sizeof(p), "absent"), 100, 0, &data, &len),
	    SC_ERR_IO);
	/* MISSING changes nothing for a file that is there but not regular. */
	assert_int_equal(sc_file_read_ex(dir, 100, SC_FILE_MISSING, &data, &len), SC_ERR_IO);
	/* PRIVATE: a secret open to group or others is refused by name and mode; 0600 reads. */
	sc_test_write_file(path_of(p, sizeof(p), "secret"), "token", 5);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(sc_file_read_ex(p, 100, SC_FILE_PRIVATE, &data, &len), SC_ERR_IO);
	assert_null(data);
	assert_non_null(strstr(sc_err_detail(), p));
	assert_non_null(
	    strstr(sc_err_detail(), ": open to group or others (mode 0640); chmod 600 it"));
	assert_int_equal(chmod(p, 0604), 0);
	assert_int_equal(sc_file_read_ex(p, 100, SC_FILE_PRIVATE, &data, &len), SC_ERR_IO);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(sc_file_read_ex(p, 100, SC_FILE_PRIVATE, &data, &len), SC_OK);
	assert_int_equal(len, 5);
	sc_free_secret(data, len);
}

/* ---- sc_file_replace: the step hook ---- */

struct hook_log {
	enum sc_file_step seen[32];
	int n;
	int fail_at; /* fail the fail_at-th call (from 1), 0: never */
};

static sc_err hook(void *ctx, enum sc_file_step s)
{
	struct hook_log *h = ctx;

	assert_true(h->n < 32);
	h->seen[h->n++] = s;
	if (h->n == h->fail_at)
		return sc_fail(SC_ERR_IO, "hook at step %d", (int)s);
	return SC_OK;
}

static void test_file_replace_steps(void **state)
{
	static const enum sc_file_step want[] = {
		SC_FILE_STEP_OPEN,
		SC_FILE_STEP_WRITE,
		SC_FILE_STEP_WRITE,
		SC_FILE_STEP_WRITE,
		SC_FILE_STEP_WRITE,
		SC_FILE_STEP_FSYNC,
		SC_FILE_STEP_RENAME,
		SC_FILE_STEP_DIRSYNC,
	};
	const int n_want = (int)(sizeof(want) / sizeof(want[0]));
	char p[600], body[25];
	struct hook_log h;
	struct sc_file_replace o;
	struct stat st;
	uint8_t *data;
	size_t len;

	(void)state;
	memset(body, 'b', sizeof(body));
	path_of(p, sizeof(p), "replaced");
	/* 25 bytes as 5 + 8 + 8 + 4: the first piece alone, then chunks of 8. */
	memset(&h, 0, sizeof(h));
	o = (struct sc_file_replace){ .mode = 0640,
		.first = 5,
		.chunk = 8,
		.step = hook,
		.ctx = &h };
	assert_int_equal(sc_file_replace(p, body, sizeof(body), &o), SC_OK);
	assert_int_equal(h.n, n_want);
	assert_memory_equal(h.seen, want, sizeof(want));
	assert_int_equal(o.renamed, 1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* A failure at each step: before the rename the old file stays and no temp file is left;
	 * at the folder sync the new content is already in place, and renamed says so. */
	for (int k = 1; k <= n_want; k++) {
		assert_int_equal(sc_file_write_atomic(p, "old", 3, 0644), SC_OK);
		memset(&h, 0, sizeof(h));
		h.fail_at = k;
		o = (struct sc_file_replace){ .first = 5, .chunk = 8, .step = hook, .ctx = &h };
		sc_err_clear();
		assert_int_equal(sc_file_replace(p, body, sizeof(body), &o), SC_ERR_IO);
		assert_int_equal(h.n, k);
		assert_non_null(strstr(sc_err_detail(), "hook at step"));
		assert_int_equal(count_entries("replaced"), 1);
		assert_int_equal(sc_file_read(p, 100, &data, &len), SC_OK);
		if (want[k - 1] == SC_FILE_STEP_DIRSYNC) {
			assert_int_equal(o.renamed, 1);
			assert_int_equal(len, sizeof(body));
		} else {
			assert_int_equal(o.renamed, 0);
			assert_int_equal(len, 3);
			assert_memory_equal(data, "old", 3);
		}
		OPENSSL_free(data);
	}
	/* No options: 0600, one write. */
	assert_int_equal(sc_file_replace(path_of(p, sizeof(p), "replaced-plain"), "x", 1, NULL),
	    SC_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Empty content: no write step at all. */
	memset(&h, 0, sizeof(h));
	o = (struct sc_file_replace){ .step = hook, .ctx = &h };
	assert_int_equal(sc_file_replace(p, "", 0, &o), SC_OK);
	assert_int_equal(h.n, 4);
	assert_int_equal(h.seen[1], SC_FILE_STEP_FSYNC);
}

/*
 * Issue 17: the replace through the folder's open fd (the SP's store). Same result as by path;
 * the fd is what is followed (a moved folder gets the file), a failed step leaves no temp file,
 * and a missing fd is SC_ERR_USAGE naming the path.
 */
static void test_file_replace_dir_fd(void **state)
{
	char sub[600], moved[620], p[760], q[720];
	struct sc_file_replace o;
	struct stat st;
	uint8_t *data = NULL;
	size_t len = 0;
	int dfd;

	(void)state;
	path_of(sub, sizeof(sub), "fd-folder");
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_true((dfd = open(sub, O_RDONLY | O_DIRECTORY)) >= 0);
	snprintf(p, sizeof(p), "%s/store", sub);
	o = (struct sc_file_replace){ .mode = 0640, .use_dir_fd = 1, .dir_fd = dfd };
	assert_int_equal(sc_file_replace(p, "one", 3, &o), SC_OK);
	assert_int_equal(o.renamed, 1);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(sc_file_read(p, 16, &data, &len), SC_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "one", 3);
	OPENSSL_free(data);
	/* The folder moved: the fd still names it, so the file lands there. */
	snprintf(moved, sizeof(moved), "%s.moved", sub);
	assert_int_equal(rename(sub, moved), 0);
	assert_int_equal(sc_file_replace(p, "two", 3, &o), SC_OK);
	snprintf(q, sizeof(q), "%s/store", moved);
	assert_int_equal(sc_file_read(q, 16, &data, &len), SC_OK);
	assert_memory_equal(data, "two", 3);
	OPENSSL_free(data);
	/* A rename that fails (a folder in the way) leaves no temp file behind. */
	assert_int_equal(unlink(q), 0);
	assert_int_equal(mkdir(q, 0700), 0);
	snprintf(p, sizeof(p), "%s/x", q);
	assert_int_equal(sc_file_write_new(p, "x", 1, 0600), SC_OK);
	snprintf(p, sizeof(p), "%s/store", sub);
	assert_int_equal(sc_file_replace(p, "three", 5, &o), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "store: rename"));
	assert_int_equal(o.renamed, 0);
	{
		DIR *d = opendir(moved);
		struct dirent *e;
		int n = 0;
		assert_non_null(d);
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
		assert_int_equal(n, 1); /* the blocking folder alone */
	}
	/* No fd given. */
	o = (struct sc_file_replace){ .use_dir_fd = 1, .dir_fd = -1 };
	assert_int_equal(sc_file_replace(p, "x", 1, &o), SC_ERR_USAGE);
	assert_non_null(strstr(sc_err_detail(), "no folder descriptor"));
	close(dfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_read_cap),
		cmocka_unit_test(test_file_read_not_regular),
		cmocka_unit_test(test_file_read_flags),
		cmocka_unit_test(test_file_write_new),
		cmocka_unit_test(test_file_write_atomic),
		cmocka_unit_test(test_file_replace_steps),
		cmocka_unit_test(test_file_replace_dir_fd),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
