#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/pg.sh BENCH [ARGS…] — run a benchmark with provd's registry on a throw-away PostgreSQL
# (tests/integration/lib-pg.sh), durable like the SQLite registry (fsync and synchronous_commit
# on: SC_PG_DURABLE=1): BENCH gets --db URI --db-pid POSTMASTER, so bench_ca counts the
# database's CPU too. Example: SELFCERT=… SELFCERT_PROVD=… bench/pg.sh build/release/bench_ca
set -u
. "$(dirname "$0")/../tests/integration/lib-pg.sh"
export SC_PG_DURABLE=${SC_PG_DURABLE:-1}
trap pg_cleanup EXIT
pg_up || exit $?
bench=$1; shift
"$bench" "$@" --db "$SC_PG_URI" --db-pid "$(head -n 1 "$SC_PG_DIR/data/postmaster.pid")"
