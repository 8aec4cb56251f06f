// SPDX-License-Identifier: Apache-2.0
/* testutil.h — temporary folders for the tests, benchmarks and tools (sctest). */
#ifndef SC_TESTUTIL_H
#define SC_TESTUTIL_H
#include <stddef.h>
/* mkdtemp under $TMPDIR (or /tmp); the path is static storage, valid until the next call. */
const char *sc_test_tmpdir(void);
/* rm -rf the folder (only below /tmp or $TMPDIR). */
void sc_test_rmdir(const char *path);
/* Write exactly len bytes to path (made or truncated), no checks of our own on the way: the
 * fixture for a reader's tests. Aborts if it cannot (a broken test, not a finding). */
void sc_test_write_file(const char *path, const void *data, size_t len);
#endif
