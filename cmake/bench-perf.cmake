# SPDX-License-Identifier: Apache-2.0
# Benchmarks 2 (PKCS#11 leg), 3, 4 and 5 of issue 6 (bench_sp is cmake/bench.cmake's).
# Built by every build, run by hand (bench/run.sh), never timed in CI: CI runs each once with
# tiny counts so that they cannot rot (each dies with exit 1 on any wrong answer).
pkg_check_modules(SC_BENCH_P11KIT REQUIRED IMPORTED_TARGET p11-kit-1)
pkg_check_modules(SC_BENCH_CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SC_BENCH_JANSSON REQUIRED IMPORTED_TARGET jansson)


add_library(sc_bench_util STATIC bench/bench_util.c)
target_include_directories(sc_bench_util PUBLIC bench)
# Its devices are personalized in-process with the test world (tests/testlib, sctest_sp).
target_link_libraries(sc_bench_util PUBLIC libselfcert selfcert_internal sctest_sp)

add_executable(bench_mem bench/bench_mem.c)
target_link_libraries(bench_mem PRIVATE sc_bench_util)

# Only p11-kit's header (the PKCS#11 definitions): the module is dlopened, as an application would.
add_executable(bench_p11 bench/bench_p11.c)
target_include_directories(bench_p11 PRIVATE ${SC_BENCH_P11KIT_INCLUDE_DIRS})
target_link_libraries(bench_p11 PRIVATE sc_bench_util ${CMAKE_DL_LIBS})
add_dependencies(bench_p11 selfcert-pkcs11)

# Benchmarks 3 and 5 drive selfcert-provd (and cfssl) over HTTPS with libcurl.
add_library(sc_bench_net STATIC bench/bench_net.c)
target_link_libraries(sc_bench_net PUBLIC sc_bench_util PkgConfig::SC_BENCH_CURL PkgConfig::SC_BENCH_JANSSON
  PkgConfig::SC_SQLITE
  Threads::Threads)
add_executable(bench_ca bench/bench_ca.c)
target_link_libraries(bench_ca PRIVATE sc_bench_net)
add_executable(bench_fleet bench/bench_fleet.c)
target_link_libraries(bench_fleet PRIVATE sc_bench_net)
foreach(t bench_mem bench_p11 bench_ca bench_fleet)
  add_dependencies(${t} selfcert selfcert-spd selfcert-provd)
endforeach()

set(SC_BENCH_ENV
  "SELFCERT=$<TARGET_FILE:selfcert>"
  "SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>"
  "SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>"
  "SC_PKCS11_MODULE=$<TARGET_FILE:selfcert-pkcs11>")
add_test(NAME bench/smoke_p11 COMMAND bench_p11 --rounds 1 --per-round 2 --json)
add_test(NAME bench/smoke_mem COMMAND bench_mem --rounds 1 --slots 4 --json)
add_test(NAME bench/smoke_fleet COMMAND bench_fleet --devices 200 --clients 8 --json)
# #17's fleet figure: renewal profiles and batched registration beside cfssl (none: not compared).
add_test(NAME bench/smoke_fleet_renewal COMMAND bench_fleet --renewal 7 --devices 20 --clients 2 --json)
# The same with a connection per agent round, per batch and per cfssl certificate (16.5);
# bench_fleet dies unless each provd counted exactly the run's connections
# (selfcert_provd_connections_total: the K server 4 x 20 + (2 + 7) x 20 + 2 and its GETs of
# /metrics, the others 2 x 20 + 2 here; 17.3, 21.1).
add_test(NAME bench/smoke_fleet_agent_conns
  COMMAND bench_fleet --renewal 7 --devices 20 --clients 2 --agent-connections --json)
set(SC_BENCH_SMOKE bench/smoke_p11 bench/smoke_mem bench/smoke_fleet bench/smoke_fleet_renewal
  bench/smoke_fleet_agent_conns)
# The cfssl baseline needs Debian's golang-cfssl (scripts/deps.d/bench.txt); without it the
# smoke test reports itself skipped rather than failing a build that lacks the package.
add_test(NAME bench/smoke_ca COMMAND bench_ca --rounds 1 --devices 16 --clients 1,4 --json)
set_tests_properties(bench/smoke_ca PROPERTIES SKIP_RETURN_CODE 77)
list(APPEND SC_BENCH_SMOKE bench/smoke_ca)
# #17 (act8): the devices verified and pinned at activation by the CLI, its CPU printed apart.
add_test(NAME bench/smoke_ca_pinned
  COMMAND bench_ca --rounds 1 --devices 16 --clients 1,4 --json --pin-at-activation)
set_tests_properties(bench/smoke_ca_pinned PROPERTIES SKIP_RETURN_CODE 77)
list(APPEND SC_BENCH_SMOKE bench/smoke_ca_pinned)
# schema14: every pinned first certificate judged from the pin's strict chain verdict, the chain
# unparsed (provd's log: chain=verdict; the 16 devices and bench_ca's 2 warm-up devices).
add_test(NAME bench/smoke_ca_verdict
  COMMAND bench_ca --rounds 1 --devices 16 --clients 1 --pin-at-activation)
set_tests_properties(bench/smoke_ca_verdict PROPERTIES SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "\\(chain=verdict\\): 18\n")
list(APPEND SC_BENCH_SMOKE bench/smoke_ca_verdict)
set_tests_properties(${SC_BENCH_SMOKE} PROPERTIES TIMEOUT 300 ENVIRONMENT "${SC_BENCH_ENV}")
