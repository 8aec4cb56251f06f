# SPDX-License-Identifier: Apache-2.0
# sandbox.cmake — the test tools of the hostile-host and load tests (tests/load/): a raw protocol
# client and key scanner, a socket-recording proxy, and the load generator. The sandbox itself
# (src/spd/sandbox.c) is part of spd_core, which carries libseccomp.

# sc-sptool: raw requests, every message type, key scanning, secure-heap and sandbox probes.
add_executable(sc-sptool tests/load/sc-sptool.c)
target_link_libraries(sc-sptool PRIVATE spd_core)

# sc-sockrec: a proxy between a client and the SP that records every byte both ways.
add_executable(sc-sockrec tests/load/sc-sockrec.c)

# sc-load: 32 clients x N mixed requests, and misbehaving clients beside them.
add_executable(sc-load tests/load/sc-load.c)
target_link_libraries(sc-load PRIVATE libselfcert selfcert_internal Threads::Threads)

# The hostile-host and load tests (tests/integration/test_{sandbox,states,noleak,load}.sh) are
# registered by the main CMakeLists.txt; they also need the tools above, and may skip (77)
# where they cannot run (a sanitizer build cannot sandbox; valgrind cannot carry load).
foreach(n sandbox states noleak load)
  if(TEST integration/test_${n})
    set_property(TEST integration/test_${n} APPEND PROPERTY ENVIRONMENT
      "SC_SPTOOL=$<TARGET_FILE:sc-sptool>" "SC_SOCKREC=$<TARGET_FILE:sc-sockrec>"
      "SC_LOAD=$<TARGET_FILE:sc-load>")
    set_tests_properties(integration/test_${n} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endforeach()
