# SPDX-License-Identifier: Apache-2.0
# pg-run.sh PROGRAM [ARGS…] — run a unit test program against a throw-away PostgreSQL server
# (tests/integration/lib-pg.sh), SC_TEST_PG pointing at it; exit 77 (CTest: skipped) only when
# PostgreSQL is not installed outside CI. CTest's unit/test_registry_pg runs test_registry so.
set -u
. "$(dirname "$0")/../integration/lib-pg.sh"
trap pg_cleanup EXIT
pg_up
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
SC_TEST_PG=$SC_PG_URI "$@"
