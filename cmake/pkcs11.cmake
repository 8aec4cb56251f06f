# SPDX-License-Identifier: Apache-2.0
# libselfcert-pkcs11.so: the PKCS#11 module (src/pkcs11), its tests, and the relying-party
# example (examples/gateway.c). Stock programs (p11tool, pkcs11-tool, gnutls, OpenSSL through
# libp11) load the module in every build, the asan preset included, so the module and everything
# in it is PIC, hidden and never sanitized: it links selfcert_pic instead of libselfcert. That
# build of the module is the one exception to "each source compiled once": libselfcert's sources
# again in selfcert_pic, and config.c again in p11_config for the tests.
pkg_check_modules(P11KIT REQUIRED IMPORTED_TARGET p11-kit-1)

add_library(selfcert_pic OBJECT ${SC_LIB_SOURCES})
set_target_properties(selfcert_pic PROPERTIES C_VISIBILITY_PRESET hidden SC_UNSANITIZED ON)
target_include_directories(selfcert_pic PUBLIC include src/lib)
target_link_libraries(selfcert_pic PUBLIC OpenSSL::Crypto)
target_compile_definitions(selfcert_pic PRIVATE $<TARGET_PROPERTY:libselfcert,COMPILE_DEFINITIONS>)

file(GLOB SC_PKCS11_SOURCES CONFIGURE_DEPENDS src/pkcs11/*.c)
add_library(selfcert-pkcs11 MODULE ${SC_PKCS11_SOURCES})
set_target_properties(selfcert-pkcs11 PROPERTIES
  OUTPUT_NAME selfcert-pkcs11
  PREFIX lib
  C_VISIBILITY_PRESET hidden
  SC_UNSANITIZED ON
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/src/pkcs11/selfcert-pkcs11.map)
target_link_options(selfcert-pkcs11 PRIVATE -Wl,--no-undefined
  -Wl,--version-script=${CMAKE_SOURCE_DIR}/src/pkcs11/selfcert-pkcs11.map)
# Only p11-kit's headers (the PKCS#11 v2.40 definitions): the module does not link libp11-kit.
target_include_directories(selfcert-pkcs11 PRIVATE src/pkcs11 ${P11KIT_INCLUDE_DIRS})
target_link_libraries(selfcert-pkcs11 PRIVATE selfcert_pic Threads::Threads)

if(SC_TESTS) # the parser's test copy is for tests and fuzzing only
# The configuration parser, built as the tests build everything (sanitized in the asan preset),
# for the module's unit test and its fuzz target; it needs neither PKCS#11 nor OpenSSL types.
add_library(p11_config STATIC src/pkcs11/config.c)
target_include_directories(p11_config PUBLIC src/pkcs11)
target_link_libraries(p11_config PUBLIC libselfcert selfcert_internal)
endif()

# The relying party: an OpenSSL TLS server that admits clients by sc_verify_chain().
find_package(OpenSSL 3.0 REQUIRED COMPONENTS SSL)
add_executable(selfcert-gateway examples/gateway.c)
target_link_libraries(selfcert-gateway PRIVATE libselfcert selfcert_internal OpenSSL::SSL)

if(SC_TESTS)
# A C driver for the module (tests/integration/p11-drive.c): walks every object and attribute
# (under valgrind), signs with CKM_EDDSA, decrypts, derives; stock tools do the rest.
# It runs under valgrind, so it is never built with the sanitizers (they cannot share a process).
add_executable(sc-p11-drive tests/integration/p11-drive.c)
set_target_properties(sc-p11-drive PROPERTIES SC_UNSANITIZED ON)
target_include_directories(sc-p11-drive PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(sc-p11-drive PRIVATE OpenSSL::Crypto ${CMAKE_DL_LIBS})
endif() # SC_TESTS

# The unit test dlopens the module and starts a real selfcert-spd; config.c is tested directly.
set(SC_UNIT_LIBS_test_pkcs11 p11_config ${CMAKE_DL_LIBS} Threads::Threads)
set(SC_UNIT_INCLUDES_test_pkcs11 ${P11KIT_INCLUDE_DIRS})
set(SC_UNIT_DEPS_test_pkcs11 selfcert-pkcs11 selfcert-spd)
set(SC_UNIT_ENV_test_pkcs11
  "SC_PKCS11_MODULE=$<TARGET_FILE:selfcert-pkcs11>;SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>")

# The integration tests with stock software need the module, the gateway and the driver.
foreach(t test_pkcs11 test_tls test_gateway test_interop test_agent_nginx test_mfr_revoke
    test_nginx_crl)
  if(TEST integration/${t})
    set_property(TEST integration/${t} APPEND PROPERTY ENVIRONMENT
      "SC_PKCS11_MODULE=$<TARGET_FILE:selfcert-pkcs11>"
      "SC_GATEWAY=$<TARGET_FILE:selfcert-gateway>"
      "SC_P11_DRIVE=$<TARGET_FILE:sc-p11-drive>"
      "SC_PKCS11_LIB=${CMAKE_SOURCE_DIR}/tests/integration/lib-pkcs11.sh")
    set_tests_properties(integration/${t} PROPERTIES TIMEOUT 900)
  endif()
endforeach()
