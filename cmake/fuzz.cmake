# Fuzzing (tests/fuzz, issue 3). Five targets: profile, dispatch, store, verify, unwrap.
#  - Every build: fuzz_replay_<target>, the target's code plus a small driver (replay.c), with
#    the library and SP sources compiled in again under ASan+UBSan whatever the build type, so
#    ctest replays the committed corpus (fuzz/replay_<target>) under the sanitizers; in
#    unsanitized builds also fuzz_plain_<target> under valgrind (fuzz/memcheck_<target>).
#  - The `fuzz` preset (clang, SC_FUZZ=ON) also builds fuzz_<target>, the libFuzzer binaries:
#    `build/fuzz/fuzz_profile tests/fuzz/corpus/profile` (see tests/fuzz/README.md).
option(SC_FUZZ "Build the libFuzzer targets (needs clang)" OFF)

set(SC_FUZZ_TARGETS profile dispatch store verify unwrap)
set(SC_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
set(SC_FUZZ_SAN -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

# The SP's request handling and store, without its process set-up: the seccomp sandbox
# (sandbox.c) is main.c's business, needs libseccomp, and nothing a target calls reaches it.
set(SC_FUZZ_SPD_SOURCES ${SC_SPD_LIB_SOURCES})
list(FILTER SC_FUZZ_SPD_SOURCES EXCLUDE REGEX "/sandbox\\.c$")

# The code under test, compiled once per flavour into an object library that takes libselfcert's
# include directories, definitions and link libraries, so a new dependency there follows here.
function(sc_fuzz_core name)
  add_library(${name} OBJECT ${SC_LIB_SOURCES} ${SC_FUZZ_SPD_SOURCES} ${SC_FUZZ_DIR}/fixture.c)
  target_include_directories(${name} PUBLIC
    $<TARGET_PROPERTY:libselfcert,INCLUDE_DIRECTORIES> ${CMAKE_SOURCE_DIR}/src/lib
    ${CMAKE_SOURCE_DIR}/src/spd ${SC_FUZZ_DIR})
  target_compile_definitions(${name} PUBLIC $<TARGET_PROPERTY:libselfcert,COMPILE_DEFINITIONS>)
  target_link_libraries(${name} PUBLIC $<TARGET_PROPERTY:libselfcert,LINK_LIBRARIES>)
  target_compile_options(${name} PUBLIC ${ARGN})
  target_link_options(${name} PUBLIC ${ARGN})
endfunction()

sc_fuzz_core(sc_fuzz_core_asan ${SC_FUZZ_SAN})
add_custom_target(sc_fuzz_all)

foreach(t ${SC_FUZZ_TARGETS})
  add_executable(fuzz_replay_${t} ${SC_FUZZ_DIR}/fuzz_${t}.c ${SC_FUZZ_DIR}/replay.c)
  target_link_libraries(fuzz_replay_${t} PRIVATE sc_fuzz_core_asan)
  add_dependencies(sc_fuzz_all fuzz_replay_${t})
  add_test(NAME fuzz/replay_${t} COMMAND fuzz_replay_${t} ${SC_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz/replay_${t} PROPERTIES TIMEOUT 300
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endforeach()

# The same replays without sanitizers, under valgrind memcheck (fuzz/memcheck_<target>):
# OpenSSL is not built with ASan, so a memory error inside libcrypto (the unwrap finding in
# tests/fuzz/README.md) shows only here. Not in sanitizer builds: valgrind cannot run ASan code.
find_program(SC_VALGRIND_EXE valgrind)
if(NOT SC_SANITIZE AND NOT SC_FUZZ AND SC_VALGRIND_EXE)
  add_library(sc_fuzz_core_plain OBJECT ${SC_FUZZ_SPD_SOURCES} ${SC_FUZZ_DIR}/fixture.c)
  target_include_directories(sc_fuzz_core_plain PUBLIC ${CMAKE_SOURCE_DIR}/src/lib
    ${CMAKE_SOURCE_DIR}/src/spd ${SC_FUZZ_DIR})
  target_link_libraries(sc_fuzz_core_plain PUBLIC libselfcert)
  foreach(t ${SC_FUZZ_TARGETS})
    add_executable(fuzz_plain_${t} ${SC_FUZZ_DIR}/fuzz_${t}.c ${SC_FUZZ_DIR}/replay.c)
    target_link_libraries(fuzz_plain_${t} PRIVATE sc_fuzz_core_plain)
    add_test(NAME fuzz/memcheck_${t} COMMAND ${SC_VALGRIND_EXE} -q --error-exitcode=99
      --leak-check=full --errors-for-leak-kinds=definite $<TARGET_FILE:fuzz_plain_${t}>
      ${SC_FUZZ_DIR}/corpus/${t})
    set_tests_properties(fuzz/memcheck_${t} PROPERTIES TIMEOUT 600)
  endforeach()
endif()

# Writes the seed corpus (tests/fuzz/make-corpus.sh); built only when asked for.
add_executable(fuzz_make_corpus EXCLUDE_FROM_ALL ${SC_FUZZ_DIR}/make_corpus.c)
target_link_libraries(fuzz_make_corpus PRIVATE sc_fuzz_core_asan)

if(SC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SC_FUZZ needs clang (libFuzzer): configure with the `fuzz` preset")
  endif()
  # Coverage instrumentation for the code under test; the fuzzer's main only in the binaries.
  sc_fuzz_core(sc_fuzz_core_lf -fsanitize=fuzzer-no-link,address,undefined
    -fno-omit-frame-pointer -fno-sanitize-recover=all)
  foreach(t ${SC_FUZZ_TARGETS})
    add_executable(fuzz_${t} ${SC_FUZZ_DIR}/fuzz_${t}.c)
    target_link_libraries(fuzz_${t} PRIVATE sc_fuzz_core_lf)
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
    add_dependencies(sc_fuzz_all fuzz_${t})
  endforeach()
endif()

# fuzz_p11config: the PKCS#11 module's configuration parser (src/pkcs11/config.c). config.c is
# the module's, not libselfcert's or the SP's, so each binary compiles it beside its driver and
# takes the flavour's flags (sanitizers, coverage) from the core it links.
set(SC_FUZZ_P11CONFIG_SOURCES ${SC_FUZZ_DIR}/fuzz_p11config.c
  ${CMAKE_SOURCE_DIR}/src/pkcs11/config.c)
add_executable(fuzz_replay_p11config ${SC_FUZZ_P11CONFIG_SOURCES} ${SC_FUZZ_DIR}/replay.c)
target_include_directories(fuzz_replay_p11config PRIVATE ${CMAKE_SOURCE_DIR}/src/pkcs11)
target_link_libraries(fuzz_replay_p11config PRIVATE sc_fuzz_core_asan)
add_dependencies(sc_fuzz_all fuzz_replay_p11config)
add_test(NAME fuzz/replay_p11config COMMAND fuzz_replay_p11config ${SC_FUZZ_DIR}/corpus/p11config)
set_tests_properties(fuzz/replay_p11config PROPERTIES TIMEOUT 300 ENVIRONMENT
  "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
if(TARGET sc_fuzz_core_plain)
  add_executable(fuzz_plain_p11config ${SC_FUZZ_P11CONFIG_SOURCES} ${SC_FUZZ_DIR}/replay.c)
  target_include_directories(fuzz_plain_p11config PRIVATE ${CMAKE_SOURCE_DIR}/src/pkcs11)
  target_link_libraries(fuzz_plain_p11config PRIVATE sc_fuzz_core_plain)
  add_test(NAME fuzz/memcheck_p11config COMMAND ${SC_VALGRIND_EXE} -q --error-exitcode=99
    --leak-check=full --errors-for-leak-kinds=definite $<TARGET_FILE:fuzz_plain_p11config>
    ${SC_FUZZ_DIR}/corpus/p11config)
  set_tests_properties(fuzz/memcheck_p11config PROPERTIES TIMEOUT 600)
endif()
if(SC_FUZZ)
  add_executable(fuzz_p11config ${SC_FUZZ_P11CONFIG_SOURCES})
  target_include_directories(fuzz_p11config PRIVATE ${CMAKE_SOURCE_DIR}/src/pkcs11)
  target_link_libraries(fuzz_p11config PRIVATE sc_fuzz_core_lf)
  target_compile_options(fuzz_p11config PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_p11config PRIVATE -fsanitize=fuzzer)
  add_dependencies(sc_fuzz_all fuzz_p11config)
endif()
