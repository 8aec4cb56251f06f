# SPDX-License-Identifier: Apache-2.0
# version.cmake — the one place the version lives: project(VERSION) in CMakeLists.txt, plus
# `git describe` when the tree is a git checkout, refreshed on every build (gitver.cmake) so a
# binary built after a commit never shows the previous one. src/lib/version.c prints both.
set(SC_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${SC_GEN_DIR})
add_custom_target(sc_version_git
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DOUT=${SC_GEN_DIR}/sc_version_git.h
    -P ${CMAKE_SOURCE_DIR}/dist/gitver.cmake
  BYPRODUCTS ${SC_GEN_DIR}/sc_version_git.h
  COMMENT "" VERBATIM)
# A source property reaches every target that compiles version.c (libselfcert, selfcert_pic).
set_source_files_properties(src/lib/version.c PROPERTIES
  COMPILE_DEFINITIONS "SC_VERSION=\"${PROJECT_VERSION}\""
  INCLUDE_DIRECTORIES ${SC_GEN_DIR})
add_dependencies(libselfcert sc_version_git)
