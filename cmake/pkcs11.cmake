# libselfcert-pkcs11.so: the PKCS#11 module (src/pkcs11), its tests, and the relying-party
# example (examples/gateway.c). The module compiles its own copy of libselfcert's sources with
# hidden visibility and no sanitizers, so that any stock program (p11tool, pkcs11-tool, gnutls,
# OpenSSL through libp11) can load it in every build, including the asan preset.
pkg_check_modules(P11KIT REQUIRED IMPORTED_TARGET p11-kit-1)
find_package(Threads REQUIRED)

file(GLOB SC_PKCS11_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/pkcs11/*.c)
add_library(selfcert-pkcs11 MODULE ${SC_PKCS11_SOURCES} ${SC_LIB_SOURCES})
set_target_properties(selfcert-pkcs11 PROPERTIES
  OUTPUT_NAME selfcert-pkcs11
  PREFIX lib
  C_VISIBILITY_PRESET hidden
  POSITION_INDEPENDENT_CODE ON
  # Replace the directory's options (sanitizers, -pie) with what a shared module needs.
  COMPILE_OPTIONS "-Wall;-Wextra;-Wpedantic;-Wshadow;-Wformat=2;-Wvla;$<$<BOOL:${SC_WERROR}>:-Werror>;-fstack-protector-strong;$<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>"
  LINK_OPTIONS "-Wl,-z,relro,-z,now;-Wl,--no-undefined;-Wl,--version-script=${CMAKE_SOURCE_DIR}/src/pkcs11/selfcert-pkcs11.map"
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/src/pkcs11/selfcert-pkcs11.map)
target_include_directories(selfcert-pkcs11 PRIVATE ${CMAKE_SOURCE_DIR}/include
  ${CMAKE_SOURCE_DIR}/src/lib ${CMAKE_SOURCE_DIR}/src/pkcs11)
# Only p11-kit's headers (the PKCS#11 v2.40 definitions): the module does not link libp11-kit.
target_include_directories(selfcert-pkcs11 PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(selfcert-pkcs11 PRIVATE OpenSSL::Crypto Threads::Threads)

# The relying party: an OpenSSL TLS server that admits clients by sc_verify_chain().
find_package(OpenSSL 3.0 REQUIRED COMPONENTS SSL)
add_executable(selfcert-gateway ${CMAKE_SOURCE_DIR}/examples/gateway.c)
target_include_directories(selfcert-gateway PRIVATE ${CMAKE_SOURCE_DIR}/src/lib)
target_link_libraries(selfcert-gateway PRIVATE libselfcert OpenSSL::SSL)

# A C driver for the module (tests/integration/p11-drive.c): walks every object and attribute
# (under valgrind), signs with CKM_EDDSA, decrypts, derives; stock tools do the rest.
# It runs under valgrind, so it is never built with the sanitizers (they cannot share a process).
add_executable(sc-p11-drive ${CMAKE_SOURCE_DIR}/tests/integration/p11-drive.c)
set_target_properties(sc-p11-drive PROPERTIES
  COMPILE_OPTIONS "-Wall;-Wextra;-Wpedantic;-Wshadow;-Wformat=2;-Wvla;$<$<BOOL:${SC_WERROR}>:-Werror>"
  LINK_OPTIONS "")
target_include_directories(sc-p11-drive PRIVATE ${P11KIT_INCLUDE_DIRS})
target_link_libraries(sc-p11-drive PRIVATE OpenSSL::Crypto ${CMAKE_DL_LIBS})

# The unit test dlopens the module and starts a real selfcert-spd.
if(TARGET test_pkcs11)
  # config.c is tested directly (its parser); the rest through the module's C_* functions.
  target_sources(test_pkcs11 PRIVATE ${CMAKE_SOURCE_DIR}/src/pkcs11/config.c)
  target_include_directories(test_pkcs11 PRIVATE ${P11KIT_INCLUDE_DIRS} ${CMAKE_SOURCE_DIR}/src/pkcs11)
  target_link_libraries(test_pkcs11 PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
  add_dependencies(test_pkcs11 selfcert-pkcs11 selfcert-spd)
  set_tests_properties(unit/test_pkcs11 PROPERTIES
    ENVIRONMENT "SC_PKCS11_MODULE=$<TARGET_FILE:selfcert-pkcs11>;SELFCERT_SPD=$<TARGET_FILE:selfcert-spd>")
endif()

# The integration tests with stock software need the module, the gateway and the driver.
foreach(t test_pkcs11 test_tls test_gateway)
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integration/${t}.sh)
    set_property(TEST integration/${t} APPEND PROPERTY ENVIRONMENT
      "SC_PKCS11_MODULE=$<TARGET_FILE:selfcert-pkcs11>"
      "SC_GATEWAY=$<TARGET_FILE:selfcert-gateway>"
      "SC_P11_DRIVE=$<TARGET_FILE:sc-p11-drive>"
      "SC_PKCS11_LIB=${CMAKE_SOURCE_DIR}/tests/integration/lib-pkcs11.sh")
    set_tests_properties(integration/${t} PROPERTIES TIMEOUT 900)
  endif()
endforeach()
