# SPDX-License-Identifier: Apache-2.0
# faults.cmake — fault injection (issue 3, "nothing lost, ever"): the SC_FAILPOINTS option that
# compiles the one fail point scheme (src/lib/failpoint.c) and its points into selfcert-spd's
# store commit (src/spd/store.c) and selfcert-agent's enrollment steps (src/agent/enroll.c), the
# test-only tool sc-faults (tests/faults/), and the environment of
# tests/integration/test_faults*.sh (the crash matrix, the kill -9 loop, damage and rollback)
# and test_agent*.sh (the agent stopped or crashed after each step).

# The SC_FAILPOINTS option itself is CMakeLists.txt's: it must be known before the cores are made.
# Without fail points, unit/test_failpoint has nothing to test: 77, reported as skipped.
set(SC_UNIT_SKIP_test_failpoint ON)

# sc-faults: factory requests one at a time, a canonical store dump, the damage sweep, and the
# kill-loop client. It links the SP's own store code to read stores; its fail points stay
# unarmed (they fire only through SPD_FAILPOINT, which the tests give the daemon alone).
add_executable(sc-faults tests/faults/sc_faults.c tests/faults/sweep.c tests/faults/churn.c)
target_include_directories(sc-faults PRIVATE tests/faults)
target_link_libraries(sc-faults PRIVATE spd_core)

if(SC_FAILPOINTS)
  set(SC_FAILPOINTS_STATE ON)
else()
  set(SC_FAILPOINTS_STATE OFF)
endif()
foreach(t test_faults_crash test_faults_kill test_faults_store)
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integration/${t}.sh)
    set_property(TEST integration/${t} APPEND PROPERTY ENVIRONMENT
      "SC_FAULTS=$<TARGET_FILE:sc-faults>"
      "SC_FAILPOINTS=${SC_FAILPOINTS_STATE}"
      "SC_FAULTS_LIB=${CMAKE_SOURCE_DIR}/tests/integration/lib-faults.sh"
      # test_faults_crash checks that a release agent holds no fail point either.
      "SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>")
    # 77: fail points not compiled in (a release build): reported as skipped, not passed.
    set_tests_properties(integration/${t} PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
  endif()
endforeach()
# The agent tests skip their crash and stop steps when the points are not compiled in.
file(GLOB SC_FAULTS_AGENT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/test_agent*.sh)
foreach(script ${SC_FAULTS_AGENT_TESTS})
  get_filename_component(t ${script} NAME_WE)
  set_property(TEST integration/${t} APPEND PROPERTY ENVIRONMENT "SC_FAILPOINTS=${SC_FAILPOINTS_STATE}")
endforeach()
