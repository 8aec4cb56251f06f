# SPDX-License-Identifier: Apache-2.0
# gitver.cmake — writes OUT (sc_version_git.h) with SC_VERSION_GIT, `git describe --always --dirty`
# of SRC, or "" outside a git checkout (a release tarball, a Debian source package); rewrites
# the file only when the text changes, so an unchanged tree rebuilds nothing.
set(desc "")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS ${SRC}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SRC} describe --always --dirty --tags
    OUTPUT_VARIABLE desc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    set(desc "")
  endif()
endif()
set(text "#define SC_VERSION_GIT \"${desc}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
