# SPDX-License-Identifier: Apache-2.0
# The TPM 2.0 key backend's tests (docs/TPM.md): its own proofs (test_tpm.sh), and the key
# integration tests again as integration/tpm/<name> with SC_BACKEND=tpm (tests/integration/
# lib.sh: each store on its own swtpm). Included after the other features so that each copy
# takes the environment they gave the soft test. The valgrind pass (SC_VALGRIND=1) runs the
# soft tests only: the TPM copies exercise the same SP code plus ESAPI, at swtpm's pace.
# test_pkcs11's Ed25519 key is an RSA-3072 one on the TPM (and the Ed25519 leaf refused).
set(SC_TPM_VARIANTS test_negative test_states test_matrix test_faults_kill test_pkcs11 test_tls
  test_agent test_demo)
foreach(t ${SC_TPM_VARIANTS})
  if(NOT TEST integration/${t})
    continue()
  endif()
  get_test_property(integration/${t} ENVIRONMENT env)
  # CI time: 60 kill rounds instead of 220 (each daemon start also makes a storage key).
  if(t STREQUAL "test_faults_kill")
    list(APPEND env "SC_FAULTS_KILL_ROUNDS=60")
  endif()
  add_test(NAME integration/tpm/${t} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/integration/${t}.sh)
  set_tests_properties(integration/tpm/${t} PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${env};SC_BACKEND=tpm")
endforeach()
# 77: swtpm or tpm2-tools missing (scripts/deps.d/tpm.txt), or the valgrind pass.
if(TEST integration/test_tpm)
  set_tests_properties(integration/test_tpm PROPERTIES SKIP_RETURN_CODE 77)
endif()
# The operator-gated CSK (issue #12): stock tpm2-tools against the gated CSK blob.
foreach(t test_tpm_gated test_tpm_gated_agent)
  if(TEST integration/${t})
    set_tests_properties(integration/${t} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endforeach()
if(TEST integration/test_tpm_gated_agent)
  set_property(TEST integration/test_tpm_gated_agent APPEND PROPERTY ENVIRONMENT
    "SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>" "SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>")
endif()

# bench_sp tpm (docs/PERFORMANCE.md): proves it runs, times nothing.
if(TARGET bench_sp)
  add_test(NAME bench/smoke_sp_tpm COMMAND bench_sp tpm --rounds 1 --per-round 1)
  set_tests_properties(bench/smoke_sp_tpm PROPERTIES TIMEOUT 300
    ENVIRONMENT "SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>")
endif()

# bench_sp issue --gate (issue #12): gating off and on, same run; proves it runs, times nothing.
if(TARGET bench_sp)
  add_test(NAME bench/smoke_sp_issue_gate COMMAND bench_sp issue --gate --rounds 1 --per-round 1)
  set_tests_properties(bench/smoke_sp_issue_gate PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
    ENVIRONMENT "SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>")
endif()

# The key blob decoder needs no TPM (tests/unit/test_tpm_blob.c).
set(SC_UNIT_LIBS_test_tpm_blob spd_core)
