# SPDX-License-Identifier: Apache-2.0
# Start the long tests first. ctest orders a run by the times it measured before
# (Testing/Temporary/CTestCostData.txt); a fresh clone, as in CI, has none and runs in declaration
# order, so a long test declared late leaves one core idle at the end of each pass. These
# weights are rough seconds of the debug pass on this project's 2-core machines; once a build
# folder has its own measurements, ctest uses those instead.
set(SC_TEST_COSTS
  integration/test_matrix 140 integration/test_faults_crash 140 integration/test_agent_pg 75
  integration/test_provd_nodes 66 integration/test_faults_kill 58 integration/test_agent 54
  integration/tpm/test_matrix 52 integration/test_provd_auth_pg 46
  integration/test_provd_keygen_pg 40 integration/test_provd_failover 40 integration/test_load 40
  integration/test_provd_auth 40 integration/tpm/test_agent 38 integration/test_pkg_cli 38
  integration/test_provd_load_pg 38 integration/test_agent_nginx 33 integration/test_gateway 33
  integration/test_tls 30 integration/test_negative 30 integration/tpm/test_tls 27)
while(SC_TEST_COSTS)
  list(POP_FRONT SC_TEST_COSTS _t _cost)
  if(TEST ${_t})
    set_tests_properties(${_t} PROPERTIES COST ${_cost})
  endif()
endwhile()
