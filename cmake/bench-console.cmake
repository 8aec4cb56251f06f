# SPDX-License-Identifier: Apache-2.0
# The operator's console (issue 18): its benchmark, every console call's server time at fleet
# size (docs/PERFORMANCE.md). Not built with SC_TESTS=OFF. Run by hand; CI runs it once with tiny counts so it cannot rot.
add_executable(bench_console bench/bench_console.c)
target_link_libraries(bench_console PRIVATE sc_bench_util provd_core PkgConfig::SC_SQLITE)
add_test(NAME bench/smoke_console
  COMMAND bench_console --devices 200 --audit-rows 2000 --reps 2 --json)
set_tests_properties(bench/smoke_console PROPERTIES TIMEOUT 120)
