// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_csv.c — libFuzzer target: the registry's activation feed (sc_reg_import_csv), the input
 * being the whole CSV file, imported into a fresh SQLite registry in a tmpfs folder. Checked:
 * a refusal is malformed or oversize, names the file, and leaves the registry without a single
 * device; an import adds exactly the devices it counts, each valid with a note within bounds,
 * and the same file imported again adds nothing and skips them all.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <selfcert/cert.h>
#include "fuzz.h"
#include "registry.h"

static char db[600], csv[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fz_tmpdir("csv");

	(void)argc;
	(void)argv;
	snprintf(db, sizeof(db), "%s/reg.db", dir);
	snprintf(csv, sizeof(csv), "%s/feed.csv", dir);
	return 0;
}

/* A registry with nothing in it: the file and its WAL removed, then made again. */
static struct sc_reg *fresh_registry(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	struct sc_reg *reg = NULL;
	char path[640];
	sc_err r;

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		(void)unlink(path);
	}
	r = sc_reg_open(db, 1, &reg);
	FZ_ASSERT(r == SC_OK, "a fresh registry does not open: %s: %s", sc_err_name(r),
	    sc_err_detail());
	return reg;
}

static int check_device(void *ctx, const struct sc_reg_device *d)
{
	(*(size_t *)ctx)++;
	FZ_ASSERT(sc_device_id_valid(d->device_id), "an imported ID is not valid: '%s'",
	    d->device_id);
	FZ_ASSERT(strlen(d->note) <= SC_REG_NOTE_MAX, "note of %zu bytes", strlen(d->note));
	FZ_ASSERT(d->status == SC_REG_DEV_ACTIVE, "an imported device is not active");
	return 0;
}

static size_t n_devices(struct sc_reg *reg)
{
	size_t n = 0;
	sc_err r = sc_reg_device_list(reg, 0, check_device, &n);

	FZ_ASSERT(r == SC_OK, "listing: %s: %s", sc_err_name(r), sc_err_detail());
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_reg *reg;
	size_t added = 99, skipped = 99, again_added = 99, again_skipped = 99;
	sc_err r;

	fz_input_begin(data, size);
	FZ_ASSERT(fz_write_file(csv, data, size, 0600) == 0, "writing the input");
	reg = fresh_registry();
	sc_err_clear();
	r = sc_reg_import_csv(reg, csv, "fuzz", (int64_t)FZ_NOW, &added, &skipped);
	if (r != SC_OK) {
		fz_trace("refused: %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(r == SC_ERR_MALFORMED || r == SC_ERR_OVERSIZE, "refused as %s: %s",
		    sc_err_name(r), sc_err_detail());
		FZ_ASSERT(strstr(sc_err_detail(), csv) != NULL,
		    "the refusal does not name the file: %s", sc_err_detail());
		FZ_ASSERT(added == 0 && skipped == 0,
		    "a refused import counted %zu added, %zu skipped", added, skipped);
		FZ_ASSERT(n_devices(reg) == 0, "a refused import left devices behind");
		sc_reg_close(reg);
		return 0;
	}
	fz_trace("imported: %zu added", added);
	FZ_ASSERT(skipped == 0, "%zu skipped in an empty registry", skipped);
	FZ_ASSERT(n_devices(reg) == added, "%zu counted, %zu in the registry", added,
	    n_devices(reg));
	/* The feed again: every device already there, left as it is. */
	r = sc_reg_import_csv(reg, csv, "fuzz", (int64_t)FZ_NOW + 1, &again_added, &again_skipped);
	FZ_ASSERT(r == SC_OK, "the same feed again: %s: %s", sc_err_name(r), sc_err_detail());
	FZ_ASSERT(again_added == 0 && again_skipped == added,
	    "again: %zu added, %zu skipped (first %zu)", again_added, again_skipped, added);
	if (added > 0)
		fz_success();
	sc_reg_close(reg);
	return 0;
}
