# SPDX-License-Identifier: Apache-2.0
# Benchmarks (issue 6): built by every build, run by hand (`bench/run.sh`), never timed in CI.
# CI runs each once with tiny counts so that they cannot rot.
add_executable(bench_sp bench/bench_sp.c)
target_link_libraries(bench_sp PRIVATE sc_bench_util)
add_test(NAME bench/smoke_sp_sign COMMAND bench_sp sign --rounds 1 --per-round 1)
add_test(NAME bench/smoke_sp_issue COMMAND bench_sp issue --rounds 1 --per-round 1)
set_tests_properties(bench/smoke_sp_sign bench/smoke_sp_issue PROPERTIES TIMEOUT 300
  ENVIRONMENT "SELFCERT=$<TARGET_FILE:selfcert>;SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>")
