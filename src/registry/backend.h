/*
 * backend.h — the registry's inside (not for programs): the rows an import hands to the
 * database, in one transaction.
 */
#ifndef SC_REG_BACKEND_H
#define SC_REG_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

struct sc_reg;

/* One device of an import, already checked (valid ID, note within SC_REG_NOTE_MAX). */
struct sc_reg_row {
	const char *device_id;
	const char *note;          /* NULL: none */
	size_t line;               /* where it came from, for the messages */
};

/*
 * The next row into *row (borrowed until the next call), *more = 0 at the end. Any error
 * refuses the whole import; its detail is kept.
 */
typedef sc_err (*sc_reg_next_row)(void *ctx, struct sc_reg_row *row, int *more);

/*
 * Add every row in one transaction, or none: a device already registered is left as it is
 * and counted in *skipped; an ID given twice refuses the file with SC_ERR_MALFORMED
 * "SOURCE:LINE: device ID appears twice in the file". One audit row for the import.
 */
sc_err sc_reg_import_rows(struct sc_reg *reg, sc_reg_next_row next, void *ctx, const char *source,
    const char *actor, int64_t now, size_t *added, size_t *skipped) SC_MUST_USE;

#endif
