# SPDX-License-Identifier: Apache-2.0
# The network's signed revocation list (issue 14 item 5, src/revoked/, include/selfcert/revoked.h):
# a library of its own because it speaks JSON (jansson), which libselfcert — linked into the SP
# daemon and the PKCS#11 module — does not. The command line (`net revoked`, `verify --revoked`)
# and the provisioning server (GET /v1/revoked) link it.
pkg_check_modules(SC_REVOKED_JANSSON REQUIRED IMPORTED_TARGET jansson)
file(GLOB SC_REVOKED_SOURCES CONFIGURE_DEPENDS src/revoked/*.c)
add_library(selfcert_revoked STATIC ${SC_REVOKED_SOURCES})
target_link_libraries(selfcert_revoked PUBLIC libselfcert PkgConfig::SC_REVOKED_JANSSON
  PRIVATE selfcert_internal)
target_link_libraries(cli_core PUBLIC selfcert_revoked)
set(SC_UNIT_LIBS_test_revoked selfcert_revoked)
target_link_libraries(provd_core PUBLIC selfcert_revoked)
# `net revoked fetch` (a relying party's timer) is the command line's one HTTP client.
pkg_check_modules(SC_REVOKED_CURL REQUIRED IMPORTED_TARGET libcurl)
target_link_libraries(cli_core PUBLIC PkgConfig::SC_REVOKED_CURL)
target_link_libraries(selfcert-gateway PRIVATE selfcert_revoked)
