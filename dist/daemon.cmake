# SPDX-License-Identifier: Apache-2.0
# daemon.cmake — selfcert_daemon (src/daemon): sd_notify and the SIGHUP in-place restart, linked
# into the three daemons. libsystemd is optional: without it (a non-systemd system) the daemons
# still run, and only readiness notification is missing (Type=notify units need it).
pkg_check_modules(SC_SYSTEMD IMPORTED_TARGET libsystemd)
add_library(selfcert_daemon STATIC src/daemon/daemon.c)
target_include_directories(selfcert_daemon PUBLIC src/daemon)
target_link_libraries(selfcert_daemon PUBLIC libselfcert PRIVATE selfcert_internal)
if(SC_SYSTEMD_FOUND)
  target_compile_definitions(selfcert_daemon PRIVATE SC_HAVE_SYSTEMD=1)
  target_link_libraries(selfcert_daemon PRIVATE PkgConfig::SC_SYSTEMD)
else()
  message(STATUS "libsystemd not found: the daemons will not send sd_notify (libsystemd-dev)")
endif()
foreach(t selfcert-spd selfcert-provd selfcert-agent)
  target_link_libraries(${t} PRIVATE selfcert_daemon)
endforeach()

# test_units.sh runs each built unit's ExecStart line (build/dist/systemd) with these programs;
# test_pkg_cli.sh checks the daemons' --config refusals.
foreach(t test_units test_pkg_cli)
  if(TEST integration/${t})
    set_property(TEST integration/${t} APPEND PROPERTY ENVIRONMENT
      "SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>" "SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>"
      "SC_UNIT_DIR=${CMAKE_BINARY_DIR}/dist/systemd")
  endif()
endforeach()
# ci17: test_units skips itself (77) under valgrind (test_units.sh).
if(TEST integration/test_units)
  set_tests_properties(integration/test_units PROPERTIES SKIP_RETURN_CODE 77)
endif()
