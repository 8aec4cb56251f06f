// SPDX-License-Identifier: Apache-2.0
/* testutil.c — temporary folders for the tests, benchmarks and tools (sctest). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testutil.h"

const char *sc_test_tmpdir(void)
{
	static char path[512];
	const char *base = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/selfcert-test-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void sc_test_rmdir(const char *path)
{
	if (path != NULL && strstr(path, "selfcert-test-") != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void sc_test_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}
