// SPDX-License-Identifier: Apache-2.0
/*
 * replay.c — a stand-in for libFuzzer's driver in the normal (gcc) build: runs a target's
 * LLVMFuzzerTestOneInput once on every file of the folders (or files) named, so that the
 * committed corpus is replayed under ASan+UBSan by ctest (fuzz/replay_<target>). A crash, a
 * sanitizer report or a failed invariant ends the process; a folder with no inputs is an error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"

#define REPLAY_MAX_INPUT (1u << 20) /* no corpus file is near this; a bigger one is a mistake */

static int run_file(const char *path)
{
	struct stat sb;
	uint8_t *data;
	size_t got = 0;
	FILE *f;

	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: not a regular file of at most %u bytes\n", path,
		    REPLAY_MAX_INPUT);
		return -1;
	}
	/* An exact-size heap copy: ASan sees any read past the input's end. */
	if ((data = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1)) == NULL ||
	    (f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		free(data);
		return -1;
	}
	got = fread(data, 1, (size_t)sb.st_size, f);
	fclose(f);
	if (got != (size_t)sb.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, got);
	free(data);
	return 0;
}

static int skip_name(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	int i, runs = 0, dirs = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR|FILE...\n", argv[0]);
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		struct dirent **names;
		struct stat sb;
		char path[4096];
		int n, j;

		if (stat(argv[i], &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			if (run_file(argv[i]) != 0)
				return 1;
			runs++;
			continue;
		}
		dirs++;
		/* Sorted, so a failure names the same input on every machine. */
		if ((n = scandir(argv[i], &names, skip_name, alphasort)) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		for (j = 0; j < n; j++) {
			int rc = 0;

			if ((size_t)snprintf(path, sizeof(path), "%s/%s", argv[i],
			        names[j]->d_name) >= sizeof(path))
				rc = -1;
			else
				rc = run_file(path);
			free(names[j]);
			if (rc != 0) {
				fprintf(stderr, "replay: failed at %s\n", path);
				while (++j < n)
					free(names[j]);
				free(names);
				return 1;
			}
			runs++;
		}
		free(names);
	}
	if (runs == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	/* A corpus folder must exercise the whole target; a single file (a crash) need not. */
	if (dirs > 0 && fz_successes() == 0) {
		fprintf(stderr,
		    "replay: none of the %d inputs went all the way through the target: "
		    "the corpus is stale (regenerate it: tests/fuzz/make-corpus.sh)\n",
		    runs);
		return 1;
	}
	printf("replay: %d inputs, %lu all the way through, no finding\n", runs, fz_successes());
	return 0;
}
