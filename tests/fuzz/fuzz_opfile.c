// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_opfile.c — libFuzzer target: selfcert-provd's operators file (--operators, opfile.h),
 * the input being the whole file. Checked: a refusal is malformed or oversize, names the source
 * and leaves no operator; a parsed file keeps its bounds (valid, distinct names and hashes, at
 * most SC_OP_MAX), each operator's line as the CLI writes it parses back to the same operator,
 * and every hash in the file finds exactly its own operator.
 */
#include <string.h>
#include "fuzz.h"
#include "opfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_operators ops, again;
	char line[SC_OP_LINE_MAX + 2];
	size_t n;
	sc_err r;

	fz_input_begin(data, size);
	sc_err_clear();
	r = sc_operators_parse("ops", data, size, &ops);
	if (r != SC_OK) {
		fz_trace("refused: %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(r == SC_ERR_MALFORMED || r == SC_ERR_OVERSIZE, "refused as %s: %s",
		    sc_err_name(r), sc_err_detail());
		FZ_ASSERT(strncmp(sc_err_detail(), "ops", 3) == 0,
		    "the refusal does not name the file: %s", sc_err_detail());
		FZ_ASSERT(ops.ops == NULL && ops.n == 0, "a refused file left %zu operators",
		    ops.n);
		return 0;
	}
	FZ_ASSERT(ops.n <= SC_OP_MAX, "%zu operators", ops.n);
	for (size_t i = 0; i < ops.n; i++) {
		FZ_ASSERT(sc_operator_name_valid(ops.ops[i].name), "name '%s'", ops.ops[i].name);
		FZ_ASSERT(sc_operators_match(&ops, ops.ops[i].hash) == &ops.ops[i],
		    "the hash of %s finds another operator", ops.ops[i].name);
		FZ_ASSERT(sc_operators_find(&ops, ops.ops[i].name) == &ops.ops[i],
		    "the name %s twice", ops.ops[i].name);
		n = sc_operator_line(&ops.ops[i], line, sizeof(line));
		FZ_ASSERT(n > 0, "no line for %s", ops.ops[i].name);
		r = sc_operators_parse("line", (const uint8_t *)line, n, &again);
		FZ_ASSERT(r == SC_OK && again.n == 1 &&
		        strcmp(again.ops[0].name, ops.ops[i].name) == 0 &&
		        memcmp(again.ops[0].hash, ops.ops[i].hash, SC_OP_HASH_LEN) == 0,
		    "the line of %s does not parse back", ops.ops[i].name);
		sc_operators_clear(&again);
	}
	if (ops.n > 0)
		fz_success();
	sc_operators_clear(&ops);
	return 0;
}
