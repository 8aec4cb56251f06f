# SPDX-License-Identifier: Apache-2.0
# hsm.cmake — the test of operator and manufacturer keys in a PKCS#11 token (SoftHSM through
# OpenSSL's pkcs11 provider; src/lib/keyopen.c): it runs the server, the agent and the CLI.
if(TEST integration/test_hsm)
  set_property(TEST integration/test_hsm APPEND PROPERTY ENVIRONMENT
    "SELFCERT_PROVD=$<TARGET_FILE:selfcert-provd>"
    "SELFCERT_AGENT=$<TARGET_FILE:selfcert-agent>")
  set_tests_properties(integration/test_hsm PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77)
endif()
