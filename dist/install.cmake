# SPDX-License-Identifier: Apache-2.0
# install.cmake — `cmake --install` lays out the FHS tree (GNUInstallDirs; Debian's multiarch
# libdir under /usr): the programs, the PKCS#11 module in <libdir>/pkcs11 with its p11-kit
# registration (so p11tool and gnutls find it with no --provider), libselfcert with its public
# headers and selfcert.pc, man pages (scdoc, when installed), systemd units and bash completion.
include(GNUInstallDirs)

# version.c's generated header must exist before the module's PIC copy of libselfcert compiles it.
if(TARGET selfcert_pic)
  add_dependencies(selfcert_pic sc_version_git)
endif()

# The four programs, and the relying-party example `selfcert demo` runs beside them. All in bindir:
# `selfcert demo` finds its siblings next to itself, and an operator runs each by hand first.
install(TARGETS selfcert selfcert-spd selfcert-provd selfcert-agent selfcert-gateway
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The module where Debian's p11-kit looks (`pkg-config p11-kit-1 --variable p11_module_path`
# is <libdir>/pkcs11), and a module file naming it by full path in p11-kit's system folder.
set(SC_PKCS11_DIR ${CMAKE_INSTALL_LIBDIR}/pkcs11)
set(SC_PKCS11_MODULE_PATH ${CMAKE_INSTALL_FULL_LIBDIR}/pkcs11/libselfcert-pkcs11.so)
install(TARGETS selfcert-pkcs11 LIBRARY DESTINATION ${SC_PKCS11_DIR})
configure_file(${CMAKE_SOURCE_DIR}/dist/selfcert.module.in ${CMAKE_BINARY_DIR}/dist/selfcert.module
  @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/dist/selfcert.module
  DESTINATION ${CMAKE_INSTALL_DATADIR}/p11-kit/modules)
# `selfcert demo` run from bindir finds the installed module here (the build tree has it beside).
target_compile_definitions(cli_core PRIVATE
  SC_PKCS11_MODULE_INSTALLED="${SC_PKCS11_MODULE_PATH}")

# libselfcert (static) with its public headers and pkg-config file: `pkg-config --cflags --libs
# selfcert` for a relying party that calls sc_verify_chain.
install(TARGETS libselfcert ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/selfcert DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
configure_file(${CMAKE_SOURCE_DIR}/dist/selfcert.pc.in ${CMAKE_BINARY_DIR}/dist/selfcert.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/dist/selfcert.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# systemd units (dist/systemd/*.in, paths filled in) and the system user they run as. Units go
# where systemd.pc says for a /usr prefix (Debian 12: /lib/systemd/system), else under the prefix.
set(SC_SYSTEMD_UNITDIR "" CACHE PATH "Where to install the systemd units (default: systemd.pc's)")
if(SC_SYSTEMD_UNITDIR STREQUAL "")
  pkg_get_variable(SC_SYSTEMD_PC_UNITDIR systemd systemdsystemunitdir)
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND SC_SYSTEMD_PC_UNITDIR)
    set(SC_SYSTEMD_UNITDIR ${SC_SYSTEMD_PC_UNITDIR})
  else()
    set(SC_SYSTEMD_UNITDIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
  endif()
endif()
set(SC_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(SC_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
file(GLOB SC_UNIT_TEMPLATES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/dist/systemd/*.in)
foreach(t ${SC_UNIT_TEMPLATES})
  get_filename_component(unit ${t} NAME)
  string(REGEX REPLACE "\\.in$" "" unit ${unit})
  configure_file(${t} ${CMAKE_BINARY_DIR}/dist/systemd/${unit} @ONLY)
  if(unit MATCHES "\\.service$")
    install(FILES ${CMAKE_BINARY_DIR}/dist/systemd/${unit} DESTINATION ${SC_SYSTEMD_UNITDIR})
  elseif(unit MATCHES "sysusers")
    install(FILES ${CMAKE_BINARY_DIR}/dist/systemd/${unit}
      DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d RENAME selfcert.conf)
  endif()
endforeach()

# Configuration examples (commented out: every key at its default) in /etc/selfcert.
file(GLOB SC_CONF_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/dist/conf/*.conf)
install(FILES ${SC_CONF_FILES} DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/selfcert)

# Bash completion, where bash-completion loads it on demand.
install(FILES ${CMAKE_SOURCE_DIR}/dist/bash-completion/selfcert
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# Man pages: dist/man/<name>.<section>.scd, built with scdoc when it is installed (Debian: scdoc).
find_program(SC_SCDOC scdoc)
file(GLOB SC_MAN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/dist/man/*.scd)
if(SC_SCDOC)
  set(SC_MAN_PAGES "")
  foreach(src ${SC_MAN_SOURCES})
    get_filename_component(page ${src} NAME)
    string(REGEX REPLACE "\\.scd$" "" page ${page})
    string(REGEX REPLACE "^.*\\." "" section ${page})
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND sh -c "${SC_SCDOC} < ${src} > ${CMAKE_BINARY_DIR}/man/${page}"
      DEPENDS ${src} VERBATIM)
    list(APPEND SC_MAN_PAGES ${CMAKE_BINARY_DIR}/man/${page})
    install(FILES ${CMAKE_BINARY_DIR}/man/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(sc_man ALL DEPENDS ${SC_MAN_PAGES})
else()
  message(STATUS "scdoc not found: man pages are not built (apt install scdoc)")
endif()

# CI: every flag a program's --help prints is in its man page (scripts/man-check.sh).
if(SC_TESTS)
  add_test(NAME man/flags COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/man-check.sh
    $<TARGET_FILE_DIR:selfcert>)
endif()
