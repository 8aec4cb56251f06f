# SPDX-License-Identifier: Apache-2.0
# The registry's PostgreSQL backend (issue 13): src/registry/reg_pg.c on libpq, built when
# pkg-config finds libpq (scripts/deps.d/pg.txt installs it; CI always has it). Without it a
# postgresql:// --db is refused as "no PostgreSQL backend", and the PG test variants skip.
pkg_check_modules(SC_LIBPQ IMPORTED_TARGET libpq)
if(SC_LIBPQ_FOUND)
  target_sources(selfcert_registry PRIVATE ${CMAKE_SOURCE_DIR}/src/registry/reg_pg.c)
  target_link_libraries(selfcert_registry PUBLIC PkgConfig::SC_LIBPQ)
  target_compile_definitions(selfcert_registry PUBLIC SC_REG_HAVE_PG=1)
endif()

# Everything below is tests (off with -DSC_TESTS=OFF, as packagers build).
if(NOT SC_TESTS)
  return()
endif()

# The registry's unit tests again on PostgreSQL (every backend-independent case, plus the races,
# roles, migrations and reconnects that only PostgreSQL has), on a server pg-run.sh starts.
add_test(NAME unit/test_registry_pg
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/unit/pg-run.sh $<TARGET_FILE:test_registry>)
set_tests_properties(unit/test_registry_pg PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)

# The key server/agent integration tests (renewal profiles' batches among them), the request-proof
# and operator ones (whose budgets and pages are SQL of each backend) again with the registry on PostgreSQL (SC_DB=pg: the
# testlib starts a throw-away server). The multi-node test (test_provd_nodes.sh) is PostgreSQL's
# own and always runs on it. (test_provd_keygen is not here: its subject, the key-generation pool,
# never touches the registry.)
foreach(name test_agent test_agent_renewal test_provd_load test_provd_auth test_provd_operators test_provd_console
    test_provd_batch_profiles test_provd_activate test_provd_recover
    test_provd_renew_first test_agent_crl_window)
  add_test(NAME integration/${name}_pg
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/${name}.sh)
  set_tests_properties(integration/${name}_pg PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "SC_DB=pg;SELFCERT=$<TARGET_FILE:selfcert>;SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>;SC_EVIL=$<TARGET_FILE:sc-evil>;SC_TESTLIB=${CMAKE_SOURCE_DIR}/tests/integration/lib.sh;SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>;SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>")
endforeach()
# Three nodes on one server: skipped (77) only without PostgreSQL outside CI, or under valgrind.
set_tests_properties(integration/test_provd_nodes integration/test_provd_failover PROPERTIES
  SKIP_RETURN_CODE 77)

# bench_nodes: 1, 2, 3 provd nodes on one registry (bench/pg.sh puts it on PostgreSQL); its smoke
# test runs on SQLite (several nodes on one host may share the file) with tiny counts.
if(TARGET sc_bench_net)
  add_executable(bench_nodes bench/bench_nodes.c)
  target_link_libraries(bench_nodes PRIVATE sc_bench_net)
  add_dependencies(bench_nodes selfcert selfcert-provd)
  add_test(NAME bench/smoke_nodes
    COMMAND bench_nodes --nodes 1,2 --rounds 1 --devices 8 --clients 2)
  set_tests_properties(bench/smoke_nodes PROPERTIES TIMEOUT 300 ENVIRONMENT "${SC_BENCH_ENV}")
endif()

# bench_registry (pg8): the registry's calls of a first enrollment and of a renewal batch without
# provd, the database server's CPU per device; bench/pg.sh runs it on PostgreSQL. Smoke: SQLite.
if(TARGET sc_bench_util)
  add_executable(bench_registry bench/bench_registry.c)
  target_link_libraries(bench_registry PRIVATE sc_bench_util selfcert_registry)
  add_test(NAME bench/smoke_registry
    COMMAND bench_registry --threads 2 --devices 8 --renewal 4 --runs 1)
endif()
