# sandbox.cmake — selfcert-spd's seccomp sandbox (src/spd/sandbox.c, libseccomp) and the
# test tools of the hostile-host and load tests (tests/load/): a raw protocol client and key
# scanner, a socket-recording proxy, and the load generator.
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)

target_link_libraries(selfcert-spd PRIVATE PkgConfig::SECCOMP)

# src/spd/sandbox.c is in SC_SPD_LIB_SOURCES, so any target built from the SP's sources (unit
# tests now, fuzzers or benchmarks in other feature files, in any order) needs libseccomp too.
# Deferred to the end of the directory, when every such target exists.
function(sc_sandbox_link_seccomp)
  get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "EXECUTABLE|LIBRARY" OR t STREQUAL "selfcert-spd")
      continue()
    endif()
    get_target_property(srcs ${t} SOURCES)
    foreach(s ${srcs})
      if(s MATCHES "src/spd/sandbox\\.c$")
        target_link_libraries(${t} PRIVATE PkgConfig::SECCOMP)
        break()
      endif()
    endforeach()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL sc_sandbox_link_seccomp)

find_package(Threads REQUIRED)

# sc-sptool: raw requests, every message type, key scanning, secure-heap and sandbox probes.
add_executable(sc-sptool tests/load/sc-sptool.c src/spd/sandbox.c)
target_include_directories(sc-sptool PRIVATE src/lib src/spd)
target_link_libraries(sc-sptool PRIVATE libselfcert PkgConfig::SECCOMP)

# sc-sockrec: a proxy between a client and the SP that records every byte both ways.
add_executable(sc-sockrec tests/load/sc-sockrec.c)

# sc-load: 32 clients x N mixed requests, and misbehaving clients beside them.
add_executable(sc-load tests/load/sc-load.c)
target_include_directories(sc-load PRIVATE src/lib)
target_link_libraries(sc-load PRIVATE libselfcert Threads::Threads)

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
