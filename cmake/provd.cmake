# SPDX-License-Identifier: Apache-2.0
# The provisioning server (selfcert-provd) and the host agent (selfcert-agent), each its main.c
# plus its core, and their tests (issue 5). The registry they share with `selfcert net device`
# is the selfcert_registry library (CMakeLists.txt). The selfcert command line never links
# libmicrohttpd or libcurl.
pkg_check_modules(SC_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
# GnuTLS, libmicrohttpd's TLS: provd enables session tickets on its sessions (tls.c).
pkg_check_modules(SC_GNUTLS REQUIRED IMPORTED_TARGET gnutls)
pkg_check_modules(SC_CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SC_JANSSON REQUIRED IMPORTED_TARGET jansson)

# provd_core: everything but the HTTP listener and flags (main.c), so the unit tests drive the
# API with real SQLite and real crypto and no sockets.
file(GLOB SC_PROVD_CORE_SOURCES CONFIGURE_DEPENDS src/provd/*.c)
# tls.c (GnuTLS session tickets on MHD's sessions) belongs to the executable alone.
list(FILTER SC_PROVD_CORE_SOURCES EXCLUDE REGEX "/(main|tls)\\.c$")
# The operator's console (issue 18): its files compiled in as byte arrays (console-embed.cmake).
file(GLOB SC_CONSOLE_FILES CONFIGURE_DEPENDS src/provd/console/*.html src/provd/console/*.css
  src/provd/console/*.js src/provd/console/*.svg)
set(SC_CONSOLE_C ${CMAKE_BINARY_DIR}/gen/console_assets.c)
add_custom_command(OUTPUT ${SC_CONSOLE_C}
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}/src/provd/console -DOUT=${SC_CONSOLE_C}
    -P ${CMAKE_SOURCE_DIR}/cmake/scripts/console-embed.cmake
  DEPENDS ${SC_CONSOLE_FILES} ${CMAKE_SOURCE_DIR}/cmake/scripts/console-embed.cmake
  COMMENT "Embedding the console's files")
list(APPEND SC_PROVD_CORE_SOURCES ${SC_CONSOLE_C})
add_library(provd_core STATIC ${SC_PROVD_CORE_SOURCES})
target_include_directories(provd_core PUBLIC src/provd)
target_link_libraries(provd_core PUBLIC libselfcert selfcert_internal selfcert_registry
  PkgConfig::SC_JANSSON Threads::Threads)
add_executable(selfcert-provd src/provd/main.c src/provd/tls.c)
target_link_libraries(selfcert-provd PRIVATE provd_core PkgConfig::SC_MHD PkgConfig::SC_GNUTLS)

file(GLOB SC_AGENT_CORE_SOURCES CONFIGURE_DEPENDS src/agent/*.c)
list(FILTER SC_AGENT_CORE_SOURCES EXCLUDE REGEX "/main\\.c$")
add_library(agent_core STATIC ${SC_AGENT_CORE_SOURCES})
target_include_directories(agent_core PUBLIC src/agent)
target_link_libraries(agent_core PUBLIC libselfcert selfcert_internal PkgConfig::SC_CURL
  PkgConfig::SC_JANSSON)
add_executable(selfcert-agent src/agent/main.c)
target_link_libraries(selfcert-agent PRIVATE agent_core)

# Unit tests of the API (test_api*) link the server's core.
foreach(src ${SC_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  if(name MATCHES "^test_api")
    list(APPEND SC_UNIT_LIBS_${name} provd_core)
  elseif(name MATCHES "^test_agent")
    list(APPEND SC_UNIT_LIBS_${name} agent_core)
  endif()
endforeach()

# Integration tests: the real server, agents and SP daemons on loopback.
file(GLOB SC_PROVD_INTEG_TESTS CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/tests/integration/test_provd*.sh ${CMAKE_SOURCE_DIR}/tests/integration/test_agent*.sh
  ${CMAKE_SOURCE_DIR}/tests/integration/test_nginx_crl.sh)
foreach(script ${SC_PROVD_INTEG_TESTS})
  get_filename_component(name ${script} NAME_WE)
  if(NOT TEST integration/${name})
    continue() # -DSC_TESTS=OFF
  endif()
  set_property(TEST integration/${name} APPEND PROPERTY ENVIRONMENT
    "SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>"
    "SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>")
  set_tests_properties(integration/${name} PROPERTIES TIMEOUT 900)
endforeach()
# The console's browser test skips itself (77) under valgrind (test_provd_console.sh).
if(TEST integration/test_provd_console)
  set_tests_properties(integration/test_provd_console PROPERTIES SKIP_RETURN_CODE 77)
endif()
# ci17: the key-generation pool's test skips itself (77) under valgrind (test_provd_keygen.sh).
if(TEST integration/test_provd_keygen)
  set_tests_properties(integration/test_provd_keygen PROPERTIES SKIP_RETURN_CODE 77)
endif()
# late15b: the real-clock windows need a fail point build's short policy; they skip (77) without
# (and the offline window under valgrind).
foreach(t test_agent_late_window test_agent_offline_window test_agent_full_queue)
  if(TEST integration/${t})
    set_tests_properties(integration/${t} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endforeach()
