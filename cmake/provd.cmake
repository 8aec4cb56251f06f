# The provisioning server (selfcert-provd), the host agent (selfcert-agent), the registry they
# share with `selfcert net device`, and their tests (issue 5).
# The selfcert command line links SQLite for the registry only; it never links libmicrohttpd or
# libcurl.
pkg_check_modules(SC_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(SC_CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SC_JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(SC_SQLITE REQUIRED IMPORTED_TARGET sqlite3)
find_package(Threads REQUIRED)

set(SC_PROVD_REGISTRY_SOURCES ${CMAKE_SOURCE_DIR}/src/provd/registry.c)
set(SC_PROVD_CORE_SOURCES
  ${CMAKE_SOURCE_DIR}/src/provd/api.c
  ${CMAKE_SOURCE_DIR}/src/provd/apierr.c
  ${CMAKE_SOURCE_DIR}/src/provd/certcache.c
  ${CMAKE_SOURCE_DIR}/src/provd/lru.c
  ${CMAKE_SOURCE_DIR}/src/provd/profcache.c
  ${CMAKE_SOURCE_DIR}/src/provd/metrics.c
  ${CMAKE_SOURCE_DIR}/src/provd/policy.c
  ${SC_PROVD_REGISTRY_SOURCES})

add_executable(selfcert-provd ${CMAKE_SOURCE_DIR}/src/provd/main.c ${SC_PROVD_CORE_SOURCES})
target_include_directories(selfcert-provd PRIVATE src/lib src/provd)
target_link_libraries(selfcert-provd PRIVATE libselfcert PkgConfig::SC_MHD PkgConfig::SC_JANSSON
  PkgConfig::SC_SQLITE Threads::Threads)

file(GLOB SC_AGENT_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/agent/*.c)
add_executable(selfcert-agent ${SC_AGENT_SOURCES})
target_include_directories(selfcert-agent PRIVATE src/lib src/agent)
target_link_libraries(selfcert-agent PRIVATE libselfcert PkgConfig::SC_CURL PkgConfig::SC_JANSSON)

# `selfcert net device …` works on the registry file directly.
target_sources(selfcert PRIVATE ${SC_PROVD_REGISTRY_SOURCES})
target_include_directories(selfcert PRIVATE src/provd)
target_link_libraries(selfcert PRIVATE PkgConfig::SC_SQLITE)

# Unit tests: the registry alone; the API with everything but HTTP (real SQLite, real crypto).
foreach(src ${SC_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  if(name MATCHES "^test_registry")
    target_sources(${name} PRIVATE ${SC_PROVD_REGISTRY_SOURCES})
    target_include_directories(${name} PRIVATE src/provd)
    target_link_libraries(${name} PRIVATE PkgConfig::SC_SQLITE)
  elseif(name MATCHES "^test_api")
    target_sources(${name} PRIVATE ${SC_PROVD_CORE_SOURCES})
    target_include_directories(${name} PRIVATE src/provd)
    target_link_libraries(${name} PRIVATE PkgConfig::SC_JANSSON PkgConfig::SC_SQLITE Threads::Threads)
  endif()
endforeach()

# Integration tests: the real server, agents and SP daemons on loopback.
file(GLOB SC_PROVD_INTEG_TESTS CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/tests/integration/test_provd*.sh ${CMAKE_SOURCE_DIR}/tests/integration/test_agent*.sh)
foreach(script ${SC_PROVD_INTEG_TESTS})
  get_filename_component(name ${script} NAME_WE)
  set_property(TEST integration/${name} APPEND PROPERTY ENVIRONMENT
    "SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>"
    "SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>")
  set_tests_properties(integration/${name} PROPERTIES TIMEOUT 900)
endforeach()
